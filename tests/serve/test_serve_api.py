"""test_serve_api.py: our HTTP API end to end against a real facerec-serve: numeric options
checked whole, keys and roles, the three ways to send an image, enroll / identify / verify /
detect / embed, people and their photos, gallery info, health, metrics, liveness on detect and
identify (the photos of silentface-samples in the shared data folder, skipped when absent),
and a clean stop on SIGTERM."""
import os
import subprocess
import sys

from harness import Checks, Server, b64, demo_photo, face_crops, parse_args

args = parse_args(sys.argv)
t = Checks()

# --- numeric options checked whole: a usage error naming the option and the value, exit 2,
# before anything is opened
for option, value in (("--workers", "0"), ("--workers", "4x"), ("--queue", "1e3"), ("--max-upload", "20X"),
                      ("--max-upload", "inf"), ("--max-pixels", "-5"), ("--timeout", "99999999999999999999"),
                      ("--fpir", "nan"), ("--far", "0"), ("--min-score", "1.5"), ("--min-score", "0.5x"),
                      ("--listen", "127.0.0.1:")):
    run = subprocess.run([args["serve"], "--db", os.path.join(args["tmp"], "never-made.db"), option, value],
                         capture_output=True, text=True, timeout=60)
    t.check(run.returncode == 2 and "%s: '%s'" % (option, value) in run.stderr
            and not os.path.exists(os.path.join(args["tmp"], "never-made.db")),
            "%s %s: exit 2 naming it (got %d: %s)" % (option, value, run.returncode, run.stderr.strip()))
group = demo_photo(args, 1)
crops = face_crops(args, 1)  # the three faces of sample1, left to right
srv = Server(args, "api")
try:
    # --- keys and roles
    st, _, body = srv.request("POST", "/api/detect", group, {"Content-Type": "image/jpeg"}, key=None)
    t.check(st == 401 and "API key" in body["error"], "no key: 401 with a message")
    st, _, _ = srv.request("GET", "/api/people", key="not-a-key")
    t.check(st == 401, "unknown key: 401")
    st, _, body = srv.post_files("/api/people/alice/photos", [("image", "a.jpg", crops[0])], key="recognize")
    t.check(st == 403 and "admin" in body["error"], "recognize key may not enroll: 403")
    st, _, _ = srv.request("GET", "/api/no-such-route")
    t.check(st == 404, "unknown route: 404")
    st, _, _ = srv.request("DELETE", "/api/identify")
    t.check(st == 405, "wrong method: 405")

    # --- detect: raw body, multipart, base64 JSON give the same faces
    st, _, raw = srv.request("POST", "/api/detect", group, {"Content-Type": "image/jpeg"}, key="recognize")
    t.check(st == 200 and len(raw["faces"]) == 3, "detect (raw body): 3 faces in sample1")
    st, _, form = srv.post_files("/api/detect", [("image", "s.jpg", group)], key="recognize")
    st2, _, js = srv.post_json("/api/detect", {"image": b64(group)}, key="recognize")
    t.check(st == 200 and st2 == 200 and form["faces"] == raw["faces"] and js["faces"] == raw["faces"],
            "detect: multipart and base64 JSON answer the same as the raw body")
    f = raw["faces"][0]
    t.check(len(f["box"]) == 4 and 0 < f["score"] <= 1 and len(f["landmarks"]) == 5,
            "a face has box, score and landmarks (the CLI's --json fields)")
    st, _, emb = srv.post_json("/api/embed", {"image": "data:image/jpeg;base64," + b64(crops[0])}, key="recognize")
    t.check(st == 200 and len(emb["faces"]) >= 1 and len(emb["faces"][0]["embedding"]) == 192,
            "embed (data URL): mobilefacenet's 192 floats")
    norm = sum(v * v for v in emb["faces"][0]["embedding"]) ** 0.5
    t.check(abs(norm - 1) < 1e-3, "the embedding is a unit vector")

    # --- people: enroll with photos (multipart, JSON), list, photos, rename, remove
    st, _, body = srv.post_files("/api/people/alice/photos", [("image", "a.jpg", crops[0])])
    t.check(st == 201 and len(body["added"]) == 1 and body["added"][0]["id"] > 0, "enroll alice (multipart): 201")
    st, _, body = srv.post_json("/api/people", {"name": "bob", "images": [b64(crops[1])]})
    t.check(st == 201 and body["name"] == "bob" and len(body["added"]) == 1, "enroll bob (JSON images): 201")
    st, _, body = srv.post_files("/api/people/carol/photos", [("image", "a.jpg", crops[0])])
    t.check(st == 409 and "alice" in body["rejected"][0]["error"], "the same photo again: 409 naming its owner")
    st, _, body = srv.post_json("/api/people", {"name": "dave"})
    t.check(st == 201, "a person without photos: 201")
    st, _, body = srv.post_json("/api/people", {"name": "dave"})
    t.check(st == 409, "the same name again: 409")
    st, _, body = srv.request("GET", "/api/people", key="recognize")
    names = [p["name"] for p in body["people"]]
    t.check(st == 200 and names == ["alice", "bob", "dave"], "people listed by name: %s" % names)

    # --- identify the group photo: the two enrolled faces named where they are
    st, _, body = srv.post_files("/api/identify", [("image", "g.jpg", group)], key="recognize")
    ids = [face["identity"] for face in body["faces"]]
    t.check(st == 200 and ids[:2] == ["alice", "bob"] and ids[2] is None,
            "identify sample1: alice, bob, unknown (got %s)" % ids)
    t.check(body["faces"][0]["distance"] < 0.6 and body["faces"][0]["candidates"][0]["name"] == "alice"
            and "threshold_source" in body, "distance, candidates and the threshold's source")
    st, _, body = srv.post_json("/api/verify", {"image_a": b64(crops[1]), "image_b": b64(group)}, key="recognize")
    t.check(st == 200 and body["same"] and body["faces"] == [1, 3], "verify bob's crop vs the group's largest face (bob): same")
    st, _, body = srv.post_json("/api/verify", {"image_a": b64(crops[0]), "image_b": b64(crops[1])}, key="recognize")
    t.check(st == 200 and not body["same"] and body["distance"] > body["threshold"], "verify alice vs bob: not same")

    # --- photos of a person, rename, remove one photo, remove a person
    st, _, body = srv.request("GET", "/api/people/alice/photos", key="recognize")
    t.check(st == 200 and len(body["photos"]) == 1 and len(body["photos"][0]["sha256"]) == 64,
            "alice's photos: one, with its SHA-256")
    photo_id = body["photos"][0]["id"]
    st, headers, jpeg = srv.request("GET", "/api/people/alice/photos/%d/image" % photo_id, key="recognize")
    t.check(st == 200 and headers.get("Content-Type") == "image/jpeg" and jpeg[:2] == b"\xff\xd8",
            "the photo's face thumbnail: a JPEG")
    st, _, _ = srv.request("GET", "/api/people/bob/photos/%d/image" % photo_id, key="recognize")
    t.check(st == 404, "another person's photo id: 404")
    st, _, _ = srv.post_json("/api/people/alice", {"name": "bob"}, method="PUT")
    t.check(st == 409, "rename onto an existing name: 409")
    st, _, body = srv.post_json("/api/people/alice", {"name": "alice2"}, method="PUT")
    t.check(st == 200 and body["name"] == "alice2", "rename alice -> alice2")
    st, _, _ = srv.request("DELETE", "/api/people/alice2/photos/%d" % (photo_id + 1000))
    t.check(st == 404, "removing a photo that is not theirs: 404")
    st, _, _ = srv.request("DELETE", "/api/people/alice2/photos/%d" % photo_id)
    t.check(st == 200, "remove alice2's photo")
    st, _, body = srv.post_files("/api/identify", [("image", "g.jpg", group)], key="recognize")
    t.check([f["identity"] for f in body["faces"]][:2] == [None, "bob"],
            "identify after the removal: the index is current")
    st, _, _ = srv.request("DELETE", "/api/people/dave")
    st2, _, _ = srv.request("DELETE", "/api/people/dave")
    t.check(st == 200 and st2 == 404, "remove dave: 200, then 404")

    # --- gallery info, health, metrics
    st, _, body = srv.request("GET", "/api/gallery", key="recognize")
    t.check(st == 200 and body["model"] == "mobilefacenet" and body["people"] == 2 and body["templates"] == 1
            and 0 < body["identify_threshold"]["similarity"] < 1, "gallery info: model, counts, thresholds")
    t.check(srv.alive(), "GET /health")
    st, headers, text = srv.request("GET", "/metrics", key=None)
    text = text.decode()
    t.check(st == 200 and 'facerec_requests_total{route="/api/identify",status="200"} 2' in text
            and "facerec_gallery_people 2" in text and "facerec_request_duration_seconds_bucket" in text
            and "facerec_faces_processed_total" in text, "metrics in Prometheus text")

    # --- liveness: one live face (T1), two photo attacks (F1, F2); the attack photo's person
    # enrolled, as if the attacker held up a photo of someone in the gallery
    samples = os.path.join(args.get("data") or os.environ.get("FACEREC_DATA", ""), "silentface-samples")
    if not os.path.isfile(os.path.join(samples, "image_T1.jpg")):
        print("  skip liveness: %s is absent" % samples)
    else:
        LIVENESS_THRESHOLD = 0.93  # FR_LIVENESS_THRESHOLD
        photos = {}
        for name in ("T1", "F1", "F2"):
            with open(os.path.join(samples, "image_%s.jpg" % name), "rb") as f:
                photos[name] = f.read()
        for name, expected in (("T1", True), ("F1", False), ("F2", False)):
            st, _, body = srv.post_files("/api/detect?liveness=true", [("image", name + ".jpg", photos[name])],
                                         key="recognize")
            faces = body["faces"] if st == 200 else []
            t.check(len(faces) == 1 and 0 <= faces[0]["liveness"] <= 1
                    and faces[0]["live"] == (faces[0]["liveness"] >= LIVENESS_THRESHOLD)
                    and faces[0]["live"] == expected,
                    "detect ?liveness=true on %s: live %s (got %s)" % (name, expected, faces))
        st, _, body = srv.post_json("/api/detect", {"image": b64(photos["F2"]), "liveness": True}, key="recognize")
        t.check(st == 200 and body["faces"][0]["live"] is False, "detect with \"liveness\": true in JSON")
        st, _, body = srv.post_files("/api/detect", [("image", "T1.jpg", photos["T1"])], key="recognize")
        t.check(st == 200 and "liveness" not in body["faces"][0] and "live" not in body["faces"][0],
                "detect without liveness: no such fields")
        st, _, body = srv.post_files("/api/detect?liveness=yes", [("image", "T1.jpg", photos["T1"])], key="recognize")
        t.check(st == 400 and "liveness=yes" in body["error"], "?liveness=yes: 400 naming it")
        st, _, body = srv.post_json("/api/identify", {"image": b64(photos["T1"]), "require_live": 1}, key="recognize")
        t.check(st == 400 and "require_live" in body["error"], "\"require_live\": 1 in JSON: 400 naming it")

        st, _, _ = srv.post_files("/api/people/Live/photos", [("image", "T1.jpg", photos["T1"])])
        st2, _, _ = srv.post_files("/api/people/Attacked/photos", [("image", "F1.jpg", photos["F1"])])
        t.check(st == 201 and st2 == 201, "enroll the live photo's and an attack photo's person")
        st, _, body = srv.post_files("/api/identify", [("image", "F1.jpg", photos["F1"])], key="recognize")
        face = body["faces"][0]
        t.check(st == 200 and face["identity"] == "Attacked" and "liveness" not in face,
                "identify an attack photo without liveness: named")
        st, _, body = srv.post_files("/api/identify?liveness=true", [("image", "F1.jpg", photos["F1"])],
                                     key="recognize")
        face = body["faces"][0]
        t.check(st == 200 and face["identity"] == "Attacked" and face["live"] is False and "spoof" not in face,
                "identify ?liveness=true: the attack scored, the name kept")
        st, _, body = srv.post_files("/api/identify?require_live=true", [("image", "F1.jpg", photos["F1"])],
                                     key="recognize")
        face = body["faces"][0]
        t.check(st == 200 and face["identity"] is None and face["spoof"] is True and face["candidates"] == []
                and face["distance"] is None and face["live"] is False
                and face["liveness"] < LIVENESS_THRESHOLD,
                "identify ?require_live=true on an attack: spoof, identity null, no candidates (got %s)" % face)
        st, _, body = srv.post_json("/api/identify", {"image": b64(photos["T1"]), "require_live": True},
                                    key="recognize")
        face = body["faces"][0]
        t.check(st == 200 and face["identity"] == "Live" and face["live"] is True and "spoof" not in face
                and face["candidates"][0]["name"] == "Live",
                "identify with \"require_live\": true on the live face: named (got %s)" % face)
finally:
    srv.stop()
log = "".join(srv.log)
t.check("POST /api/identify 200" in log and "faces=3" in log, "one log line per request")
t.check("stopped" in log, "SIGTERM: a clean stop")

# TLS through libmicrohttpd's GnuTLS: a self-signed certificate made here
cert, key = (os.path.join(args["tmp"], n) for n in ("cert.pem", "key.pem"))
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", key, "-out", cert],
               check=True, capture_output=True)
srv = Server(args, "tls", ["--tls-cert", cert, "--tls-key", key])
try:
    t.check("https://" in "".join(srv.log), "--tls-cert: the server says https")
    st, _, body = srv.request("POST", "/api/detect", group, {"Content-Type": "image/jpeg"}, key="recognize")
    t.check(st == 200 and len(body["faces"]) == 3, "detect over HTTPS")
finally:
    srv.stop()
t.done()
