"""test_serve_postgres_shared.py: two facerec-serve processes share one PostgreSQL gallery. An
enrollment through one is identified through the other; a rename and a removal through the
other change what the first answers; both of our API and CompreFace's see the same people.
Starts and stops its own PostgreSQL (skipped when PostgreSQL 15 is not installed)."""
import sys
import time

from harness import Checks, PostgresCluster, Server, face_crops, multipart, parse_args

args = parse_args(sys.argv)
t = Checks()
crops = face_crops(args, 5)  # five people
pg = PostgresCluster()
servers = []


def identity(srv, photo):
    st, _, body = srv.request("POST", "/api/identify", photo, {"Content-Type": "image/jpeg"}, key="recognize")
    if st != 200 or not body["faces"]:
        return st, None
    return st, body["faces"][0]["identity"]


def becomes(srv, photo, want, seconds=10):
    """Identify photo through srv until it names want (None: nobody); the seconds it took,
    or None if it never did. Propagation speed is measured by scripts/pg_bench.sh; here the
    bound is only generous."""
    t0 = time.time()
    while time.time() - t0 < seconds:
        st, name = identity(srv, photo)
        if st == 200 and name == want:
            return time.time() - t0
        time.sleep(0.05)
    return None


try:
    a = Server(args, "pg_a", db=pg.uri)
    servers.append(a)
    b = Server(args, "pg_b", db=pg.uri)
    servers.append(b)
    t.check(a.port != b.port, "two servers on ports %d and %d" % (a.port, b.port))
    st, _, health = a.request("GET", "/health", key=None)
    t.check(health.get("database", {}).get("backend") == "postgresql" and
            health["database"]["state"] == "up", "health names the back end and its state: %s" % health.get("database"))

    # enroll through A, identify through B
    body, ctype = multipart([("image", "alice.jpg", crops[0])], {})
    st, _, _ = a.request("POST", "/api/people/alice/photos", body, {"Content-Type": ctype})
    t.check(st == 201, "enroll alice through A: %d" % st)
    took = becomes(b, crops[0], "alice")
    t.check(took is not None, "B names alice (after %s s)" % (None if took is None else round(took, 2)))
    st, _, people = b.request("GET", "/api/people", key="recognize")
    t.check(st == 200 and [p["name"] for p in people["people"]] == ["alice"], "B lists alice")

    # enroll through B with CompreFace's API, identify through A with CompreFace's API
    body, ctype = multipart([("file", "bob.jpg", crops[1])], {})
    st, _, added = b.request("POST", "/api/v1/recognition/faces?subject=bob", body, {"Content-Type": ctype})
    t.check(st == 200 or st == 201, "enroll bob through B (CompreFace API): %d %s" % (st, added))
    deadline, named = time.time() + 10, None
    while time.time() < deadline and named != "bob":
        body, ctype = multipart([("file", "probe.jpg", crops[1])], {})
        st, _, rec = a.request("POST", "/api/v1/recognition/recognize", body, {"Content-Type": ctype}, key="recognize")
        subjects = rec.get("result", [{}])[0].get("subjects", []) if st == 200 else []
        named = subjects[0]["subject"] if subjects else None
        if named != "bob":
            time.sleep(0.05)
    t.check(named == "bob", "A names bob through CompreFace's recognize (%s)" % named)

    # rename through B: A names the new name, never the old one
    st, _, _ = b.post_json("/api/people/alice", {"name": "alicia"}, method="PUT")
    t.check(st == 200, "rename alice to alicia through B: %d" % st)
    t.check(becomes(a, crops[0], "alicia") is not None, "A names alicia after the rename")

    # remove through B: A stops naming that person
    st, _, _ = b.request("DELETE", "/api/people/alicia")
    t.check(st == 200, "remove alicia through B: %d" % st)
    t.check(becomes(a, crops[0], None) is not None, "A names nobody for alicia's photo after the removal")
    st, _, people = a.request("GET", "/api/people", key="recognize")
    t.check([p["name"] for p in people["people"]] == ["bob"], "A lists only bob: %s" % people)
    st, name = identity(a, crops[1])
    t.check(name == "bob", "A still names bob (%s)" % name)

    # the server that made a change answers with it at once (read-your-writes)
    body, ctype = multipart([("image", "carol.jpg", crops[2])], {})
    st, _, _ = a.request("POST", "/api/people/carol/photos", body, {"Content-Type": ctype})
    st2, name = identity(a, crops[2])
    t.check(st == 201 and name == "carol", "A names carol right after enrolling her (%d, %s)" % (st, name))

    # a key revoked through any server's database stops working on every server within the
    # 5 s after which each looks the keys it has cached up again
    import subprocess
    out = subprocess.run([args["serve"], "keys", "add", "--role", "recognize", "--label", "short-lived",
                          "--db", pg.uri], capture_output=True, text=True, check=True)
    key = out.stdout.strip()
    st, _, _ = a.request("GET", "/api/people", key=key)
    t.check(st == 200, "a new key works on A at once: %d" % st)
    listing = subprocess.run([args["serve"], "keys", "list", "--db", pg.uri], capture_output=True,
                             text=True, check=True).stdout
    key_id = [line.split()[0] for line in listing.splitlines() if "short-lived" in line][0]
    subprocess.run([args["serve"], "keys", "revoke", key_id, "--db", pg.uri], capture_output=True, check=True)
    deadline = time.time() + 15
    while time.time() < deadline and st != 401:
        st, _, _ = a.request("GET", "/api/people", key=key)
        time.sleep(0.2)
    t.check(st == 401, "the revoked key is refused by A within seconds: %d" % st)

    for s in servers:
        s.stop()
    servers = []
    t.check(True, "both servers stop on SIGTERM with status 0")
finally:
    for s in servers:
        s.proc.kill()
    pg.destroy()
t.done()
