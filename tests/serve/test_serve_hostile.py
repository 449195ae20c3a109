"""test_serve_hostile.py: hostile input through HTTP. Every answer is a 4xx (or the
connection is dropped when the client breaks off), never a crash, and the server keeps
serving: truncated and oversized uploads, gigantic declared sizes, wrong content types,
malformed JSON, base64, multipart and images, huge image dimensions, slow clients, a full
queue (503 with Retry-After)."""
import json
import socket
import struct
import sys
import threading
import time
import zlib

from harness import Checks, Server, b64, demo_photo, multipart, parse_args

args = parse_args(sys.argv)
t = Checks()
photo = demo_photo(args, 1)


def raw_exchange(port, data, read=True, timeout=10):
    """Send raw bytes; the status code of the answer (None if the connection closed without one)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return None
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError:
        return None
    finally:
        s.close()
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


def png_header(width, height):
    """A PNG signature and IHDR declaring width x height (and nothing else)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk) & 0xffffffff))


def png_image(width, height):
    """A black RGB PNG (it compresses to a few kB)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    rows = b"".join(b"\0" + b"\0" * (3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def is_4xx(status):
    return status is not None and 400 <= status < 500


srv = Server(args, "hostile", ["--max-upload", "1M", "--max-pixels", "3000000", "--timeout", "3"])
try:
    key = srv.admin_key.encode()
    port = srv.port

    def head(method, path, extra=b""):
        return (b"%s %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\n" % (method, path, key)) + extra

    # sizes
    st = raw_exchange(port, head(b"POST", b"/api/detect", b"Content-Type: image/jpeg\r\n"
                                 b"Content-Length: 999999999999\r\n\r\n"))
    t.check(st == 413, "gigantic declared Content-Length: 413 before any body (%s)" % st)
    st = raw_exchange(port, head(b"POST", b"/api/detect", b"Content-Type: image/jpeg\r\n"
                                 b"Content-Length: 99999999999999999999999999\r\n\r\n"))
    t.check(is_4xx(st), "overflowing Content-Length: 4xx (%s)" % st)
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    st = raw_exchange(port, head(b"POST", b"/api/detect", b"Content-Type: image/jpeg\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n") + body)
    t.check(st == 413, "chunked body beyond --max-upload: 413 (%s)" % st)
    st, _, body = srv.request("POST", "/api/detect", b"\0" * (1024 * 1024 + 10), {"Content-Type": "image/jpeg"})
    t.check(st == 413 and "limit" in body["error"], "body beyond --max-upload: 413 JSON error")
    st, _, body = srv.request("POST", "/api/detect", png_header(100000, 100000), {"Content-Type": "image/png"})
    t.check(st == 413, "PNG declaring 100000 x 100000 pixels: 413 (%s)" % st)
    st, _, body = srv.request("POST", "/api/detect", png_image(2000, 2000), {"Content-Type": "image/png"})
    t.check(st == 413 and "pixels" in json.dumps(body), "an image beyond --max-pixels: 413 (%s)" % st)

    # types and encodings
    st, _, body = srv.request("POST", "/api/detect", b"hello", {"Content-Type": "text/plain"})
    t.check(st == 415 and "Content-Type" in body["error"], "wrong Content-Type: 415")
    st, _, body = srv.request("POST", "/api/detect", b"\x00\x01garbage" * 100, {"Content-Type": "image/jpeg"})
    t.check(st == 400, "bytes that are no image: 400 (%s)" % st)
    st, _, body = srv.request("POST", "/api/detect", photo[: len(photo) // 3], {"Content-Type": "image/jpeg"})
    t.check(is_4xx(st) or st == 200, "a truncated JPEG: decoded as far as it goes or 4xx (%s)" % st)
    st, _, body = srv.request("POST", "/api/detect", b"{\"image\": ", {"Content-Type": "application/json"})
    t.check(st == 400 and "JSON" in body["error"], "malformed JSON: 400 with a message")
    st, _, body = srv.request("POST", "/api/detect", json.dumps({"image": "@@@not base64@@@"}), {"Content-Type": "application/json"})
    t.check(st == 400 and "base64" in body["error"], "bad base64: 400")
    st, _, body = srv.request("POST", "/api/detect", json.dumps({"image": 42}), {"Content-Type": "application/json"})
    t.check(st == 400, "image of the wrong JSON type: 400")
    st, _, body = srv.request("POST", "/api/detect", "[" * 100000 + "]" * 100000, {"Content-Type": "application/json"})
    t.check(st == 400, "deeply nested JSON: 400 (%s)" % st)
    st, _, body = srv.request("POST", "/api/detect", b"--x\r\nbroken", {"Content-Type": "multipart/form-data"})
    t.check(st == 400, "multipart without a boundary: 400 (%s)" % st)
    st, _, body = srv.request("POST", "/api/detect", b"--b\r\nContent-Disposition: form-data; name=\"image\"; "
                              b"filename=\"a.jpg\"\r\n\r\n" + photo[:5000], {"Content-Type": "multipart/form-data; boundary=b"})
    t.check(is_4xx(st), "truncated multipart: 4xx (%s)" % st)
    form, ctype = multipart([], {"name%d" % i: "v" for i in range(40)})
    st, _, body = srv.request("POST", "/api/detect", form, {"Content-Type": ctype})
    t.check(st == 400, "too many form fields: 400 (%s)" % st)
    form, ctype = multipart([("other", "a.jpg", photo)], {})
    st, _, body = srv.request("POST", "/api/verify", form, {"Content-Type": ctype})
    t.check(st == 400 and "image_a" in body["error"], "a form without the named field: 400")
    st, _, body = srv.post_json("/api/people", {"name": "x\ny", "images": [b64(photo)]})
    t.check(st == 400, "a name with a control character: 400 (%s)" % st)
    st, _, body = srv.post_json("/api/people", {"name": "z", "images": "nope"})
    t.check(st == 400, "images not an array: 400")

    # protocol
    st = raw_exchange(port, b"GARBAGE\r\n\r\n")
    t.check(st is None or is_4xx(st), "a request line without a version: hung up on or 4xx (%s)" % st)
    t.check(is_4xx(raw_exchange(port, b"BREW /api/people HTTP/1.1\r\nHost: x\r\n\r\n")), "an unknown method: 4xx")
    t.check(is_4xx(raw_exchange(port, b"GET /api/people HTTP/1.1\r\n\r\n")), "HTTP/1.1 without Host: 4xx")
    t.check(is_4xx(raw_exchange(port, head(b"GET", b"/api/people", b"X-Big: " + b"a" * 200000 + b"\r\n\r\n"))),
            "a 200 kB header: 4xx")
    st, _, _ = srv.request("GET", "/../../../etc/passwd", key=None)
    t.check(st == 404, "a path outside the routes: 404 (%s)" % st)
    st, _, _ = srv.request("GET", "/api/people/%2e%2e%2f%2e%2e/photos", key="recognize")
    t.check(st == 404, "an encoded path as a person's name: 404 (%s)" % st)

    # clients that break off or crawl
    raw_exchange(port, head(b"POST", b"/api/detect", b"Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n")
                 + photo[:1000], read=False)
    t.check(srv.alive(), "an upload broken off: the server goes on")
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"POST /api/detect HTTP/1.1\r\nHost: x\r\n")
    t.check(srv.alive(), "another client is served while one crawls")
    time.sleep(4.5)
    try:
        slow.sendall(b"x-api-key: k\r\n")
        closed = slow.recv(100) == b""
    except OSError:
        closed = True
    slow.close()
    t.check(closed, "an idle slow client is dropped after --timeout")
finally:
    srv.stop()
t.check("stopped" in "".join(srv.log), "after all that, a clean stop on SIGTERM")

# a full queue: one worker, one waiting place; the rest get 503 with Retry-After
srv = Server(args, "busy", ["--workers", "1", "--queue", "1"])
try:
    results = []

    def identify():
        results.append(srv.request("POST", "/api/detect", photo, {"Content-Type": "image/jpeg"}))

    threads = [threading.Thread(target=identify) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    codes = sorted(r[0] for r in results)
    busy = [r for r in results if r[0] == 503]
    t.check(codes.count(200) >= 2 and busy and all(r[1].get("Retry-After") for r in busy),
            "8 at once on 1 worker + 1 queue place: some 200, the rest 503 with Retry-After (%s)" % codes)
    t.check(srv.alive(), "and it serves again once idle")
finally:
    srv.stop()
t.done()
