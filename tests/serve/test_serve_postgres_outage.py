"""test_serve_postgres_outage.py: PostgreSQL stops and starts again under a running server.
During the outage identification still answers from the server's memory, requests that need
the database fail with a clear 503 (our API and CompreFace's) and store nothing; health and
metrics say the database is down. When PostgreSQL is back the server serves again without a
restart, has lost no enrollment, and sees changes made by another server. Starts and stops its
own PostgreSQL (skipped when PostgreSQL 15 is not installed)."""
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
    return st, (body["faces"][0]["identity"] if st == 200 and body["faces"] else None)


def enroll(srv, name, photo):
    body, ctype = multipart([("image", name + ".jpg", photo)], {})
    return srv.request("POST", "/api/people/%s/photos" % name, body, {"Content-Type": ctype})


def database_state(srv):
    st, _, health = srv.request("GET", "/health", key=None)
    return health["status"], health["database"]["state"]


def wait_state(srv, state, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if database_state(srv)[1] == state:
            return True
        time.sleep(0.1)
    return False


try:
    a = Server(args, "pg_outage", db=pg.uri)
    servers.append(a)
    for i, name in enumerate(["bob", "carol"]):
        st, _, _ = enroll(a, name, crops[i])
        t.check(st == 201, "enroll %s before the outage: %d" % (name, st))
    st, name = identity(a, crops[0])
    t.check(st == 200 and name == "bob", "identify bob before the outage (%s)" % name)
    unseen_key = a.add_key("recognize")  # a key the server has not met yet

    pg.stop()
    # requests that need the database: a clear 503, nothing stored
    st, headers, body = enroll(a, "dave", crops[2])
    t.check(st == 503 and isinstance(body, dict) and "error" in body and body.get("status") == 503,
            "enroll during the outage: 503 with a JSON error (%d %s)" % (st, body))
    t.check(headers.get("Retry-After") is not None, "... and Retry-After")
    body_cf, ctype = multipart([("file", "dave.jpg", crops[2])], {})
    st, _, body = a.request("POST", "/api/v1/recognition/faces?subject=dave", body_cf, {"Content-Type": ctype})
    t.check(st == 503 and isinstance(body, dict) and "message" in body and "code" in body,
            "CompreFace's enroll during the outage: 503 in CompreFace's shape (%d %s)" % (st, body))
    st, _, body = a.request("GET", "/api/people", key="recognize")
    t.check(st == 503 and "error" in body, "list people during the outage: 503 (%d)" % st)
    # identification needs no database
    st, name = identity(a, crops[0])
    t.check(st == 200 and name == "bob", "identify during the outage: bob from memory (%d %s)" % (st, name))
    body_cf, ctype = multipart([("file", "probe.jpg", crops[0])], {})
    st, _, rec = a.request("POST", "/api/v1/recognition/recognize", body_cf, {"Content-Type": ctype}, key="recognize")
    subjects = rec["result"][0]["subjects"] if st == 200 and rec.get("result") else []
    t.check(st == 200 and subjects and subjects[0]["subject"] == "bob",
            "CompreFace's recognize during the outage: bob from memory (%d %s)" % (st, subjects))
    st, _, body = a.request("POST", "/api/identify", crops[0], {"Content-Type": "image/jpeg"}, key=unseen_key)
    t.check(st == 503 and "error" in body, "a key never seen before cannot be checked during the outage: 503 (%d)" % st)
    t.check(wait_state(a, "down"), "health: the database is down")
    t.check(database_state(a)[0] == "degraded", "health: status degraded")
    st, _, metrics = a.request("GET", "/metrics", key=None)
    metrics = metrics.decode() if isinstance(metrics, bytes) else str(metrics)
    t.check("facerec_database_up 0" in metrics, "metrics: facerec_database_up 0")

    pg.start()
    t.check(wait_state(a, "up"), "health: the database is up again, no restart")
    t.check(database_state(a)[0] == "ok", "health: status ok")
    st, _, body = enroll(a, "dave", crops[2])
    t.check(st == 201, "enroll dave after the outage: %d" % st)
    st, _, people = a.request("GET", "/api/people", key="recognize")
    got = {p["name"]: p["photos"] for p in people["people"]} if st == 200 else None
    t.check(got == {"bob": 1, "carol": 1, "dave": 1},
            "nothing lost and nothing half-stored: %s" % got)
    for i, name in enumerate(["bob", "carol", "dave"]):
        st, found = identity(a, crops[i])
        t.check(found == name, "identify %s after the outage (%s)" % (name, found))

    # a change made while this server's connections are cut: it catches up by itself
    b = Server(args, "pg_outage_b", db=pg.uri)
    servers.append(b)
    import subprocess
    cut = subprocess.run(["psql", pg.uri, "-tAc", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                          " WHERE datname = 'facerec' AND pid <> pg_backend_pid()"],
                         capture_output=True, text=True)
    t.check(cut.returncode == 0, "every server's connection cut (%s)" % (cut.stdout.strip() or cut.stderr.strip()))
    st, _, _ = enroll(b, "erin", crops[3])
    t.check(st == 201, "enroll erin through another server meanwhile: %d" % st)
    deadline, found = time.time() + 10, None
    while time.time() < deadline and found != "erin":
        st, found = identity(a, crops[3])
        time.sleep(0.05)
    t.check(found == "erin", "the first server names erin (%s)" % found)

    for s in servers:
        s.stop()
    servers = []
    t.check(True, "the servers stop on SIGTERM with status 0")
finally:
    for s in servers:
        s.proc.kill()
    pg.destroy()
t.done()
