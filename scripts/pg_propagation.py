#!/usr/bin/env python3
"""pg_propagation.py: how long an enrollment through one facerec server takes to be seen by
identification through another that shares its PostgreSQL gallery (scripts/pg_bench.sh).

    pg_propagation.py PORT_A PORT_B ADMIN_KEY PHOTO [COUNT]

COUNT times (default 100): enroll PHOTO (its bytes made unique by a trailing counter, which
JPEG decoders ignore, so each is a new photo of the same face) as a new person through A; from
A's answer, identify PHOTO through B, again and again, until the new person is among the
candidates. Prints each delay, then the median and maximum, and the resolution: the time one
identification through B takes (the delay is known to within it)."""
import http.client
import json
import statistics
import sys
import time
import uuid


def request(port, method, path, body, ctype, key):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, body=body, headers={"Content-Type": ctype, "x-api-key": key})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data)


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    port_a, port_b, key, photo_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) == 6 else 100
    photo = open(photo_path, "rb").read()
    run = uuid.uuid4().hex[:8]
    delays, polls = [], []
    for i in range(count):
        name = "propagation-%s-%03d" % (run, i)
        boundary = uuid.uuid4().hex
        body = (("--%s\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
                 "Content-Type: image/jpeg\r\n\r\n" % boundary).encode() + photo
                + ("\0%s-%d" % (run, i)).encode() + ("\r\n--%s--\r\n" % boundary).encode())
        st, answer = request(port_a, "POST", "/api/people/%s/photos" % name, body,
                             "multipart/form-data; boundary=" + boundary, key)
        if st != 201:
            sys.exit("enrolling %s through A: %d %s" % (name, st, answer))
        enrolled = time.monotonic()
        while True:
            t0 = time.monotonic()
            st, answer = request(port_b, "POST", "/api/identify?candidates=100", photo, "image/jpeg", key)
            polls.append(time.monotonic() - t0)
            if st != 200:
                sys.exit("identifying through B: %d %s" % (st, answer))
            names = {c["name"] for f in answer["faces"] for c in f["candidates"]}
            if name in names:
                break
            if time.monotonic() - enrolled > 60:
                sys.exit("%s: not seen through B after 60 s" % name)
        delays.append(time.monotonic() - enrolled)
        print("enrollment %d: seen through B after %.3f s" % (i + 1, delays[-1]), flush=True)
    print("RESULT count=%d median_s=%.3f max_s=%.3f resolution_s=%.3f"
          % (count, statistics.median(delays), max(delays), statistics.median(polls)))


main()
