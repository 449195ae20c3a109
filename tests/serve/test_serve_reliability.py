"""test_serve_reliability.py: enrollment racing identification from several clients loses no
enrollment and gives no error but documented ones; kill -9 of the server during enrollment
loses nothing it had answered 201 for, and leaves no half-stored request."""
import os
import signal
import sys
import threading
import time

from harness import Checks, Server, face_crops, parse_args

args = parse_args(sys.argv)
t = Checks()
crops = face_crops(args, 1)
group = open(os.path.join(args["models"], "face-api", "demo", "sample1.jpg"), "rb").read()


def variant(i, n=0):
    """Photo i of person n: a crop with bytes after the JPEG's end, so its SHA-256 differs."""
    return crops[(n + i) % len(crops)] + b"\0" * (1 + i + 7 * n)


def enroll(srv, name, photos):
    from harness import multipart
    body, ctype = multipart([("image", "p%d.jpg" % i, p) for i, p in enumerate(photos)], {})
    return srv.request("POST", "/api/people/%s/photos" % name, body, {"Content-Type": ctype})


quick = os.environ.get("FACEREC_TEST_QUICK") == "1"
n_people = 6 if quick else 12
srv = Server(args, "race", ["--workers", "2", "--queue", "64"])
try:
    statuses, answered = [], {}
    lock = threading.Lock()

    def enroller(k):
        for p in range(k, n_people, 3):
            name = "person%02d" % p
            st, _, body = enroll(srv, name, [variant(0, p), variant(1, p)])
            with lock:
                statuses.append(st)
                if st == 201:
                    answered[name] = len(body["added"])

    def identifier():
        for _ in range(n_people // 2):
            st, _, _ = srv.request("POST", "/api/identify", group, {"Content-Type": "image/jpeg"}, key="recognize")
            with lock:
                statuses.append(st)

    threads = [threading.Thread(target=enroller, args=(k,)) for k in range(3)]
    threads += [threading.Thread(target=identifier) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t.check(set(statuses) <= {200, 201}, "racing clients: only 200 and 201 (%s)" % sorted(set(statuses)))
    st, _, body = srv.request("GET", "/api/people", key="recognize")
    stored = {p["name"]: p["photos"] for p in body["people"]}
    t.check(stored == answered and len(stored) == n_people,
            "every enrollment answered 201 is stored, whole (%d people)" % len(stored))
    st, _, body = srv.request("POST", "/api/identify", crops[0], {"Content-Type": "image/jpeg"}, key="recognize")
    t.check(st == 200 and body["faces"][0]["identity"] is not None, "and found by identify at once")
finally:
    srv.stop()

# kill -9 while clients enroll: what was answered 201 is there after a restart
srv = Server(args, "kill", ["--workers", "2"])
answered, stop = {}, threading.Event()
lock = threading.Lock()


def flood(k):
    n = 0
    while not stop.is_set():
        name = "k%d_%03d" % (k, n)
        try:
            st, _, body = enroll(srv, name, [variant(0, 100 * k + n), variant(1, 100 * k + n)])
        except OSError:
            return
        if st == 201:
            with lock:
                answered[name] = len(body["added"])
        n += 1


threads = [threading.Thread(target=flood, args=(k,)) for k in range(3)]
for th in threads:
    th.start()
deadline = time.time() + 30
while len(answered) < 4 and time.time() < deadline:
    time.sleep(0.05)
srv.proc.send_signal(signal.SIGKILL)
srv.proc.wait()
stop.set()
for th in threads:
    th.join()
with lock:
    before = dict(answered)
t.check(len(before) >= 4, "enrollments answered before the kill: %d" % len(before))
srv2 = Server(args, "kill", restart_of=srv)  # the same gallery, a new process
try:
    st, _, body = srv2.request("GET", "/api/people", key="recognize")
    stored = {p["name"]: p["photos"] for p in body["people"]}
    t.check(all(stored.get(n) == c for n, c in before.items()),
            "after kill -9: every enrollment answered 201 is stored (%d of %d)"
            % (sum(stored.get(n) == c for n, c in before.items()), len(before)))
    t.check(all(c == 2 for c in stored.values()), "and no request is half-stored (%d people, 2 photos each)" % len(stored))
finally:
    srv2.stop()
t.done()
