"""harness.py: start and stop a `facerec-serve` for a test, on a free loopback port, with a
fresh gallery and an admin and a recognize key; HTTP helpers (standard library only)."""
import base64
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
_db_keys = {}  # database URI -> (admin key, recognize key)


def parse_args(argv):
    """--serve BIN --cli BIN --models DIR --tmp DIR [--web DIR] [--data DIR (the shared data)]"""
    args = {}
    for i in range(1, len(argv) - 1, 2):
        args[argv[i].lstrip("-")] = argv[i + 1]
    for need in ("serve", "cli", "models", "tmp"):
        if need not in args:
            sys.exit("usage: %s --serve BIN --cli BIN --models DIR --tmp DIR" % argv[0])
    return args


class Server:
    def __init__(self, args, name, extra=(), restart_of=None, db=None):
        """A server on a fresh gallery, or on the gallery (and keys) of restart_of, or on the
        database db (a PostgreSQL URI, keys added the first time)."""
        self.args = args
        self.tls = "--tls-cert" in extra
        self.dir = os.path.join(args["tmp"], name)
        if restart_of:
            self.dir, self.db = restart_of.dir, restart_of.db
            self.admin_key, self.recognize_key = restart_of.admin_key, restart_of.recognize_key
        elif db:
            self.db = db
            if db not in _db_keys:
                _db_keys[db] = (self.add_key("admin"), self.add_key("recognize"))
            self.admin_key, self.recognize_key = _db_keys[db]
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
            os.makedirs(self.dir)
            self.db = os.path.join(self.dir, "gallery.db")
            self.admin_key = self.add_key("admin")
            self.recognize_key = self.add_key("recognize")
        cmd = [args["serve"], "--db", self.db, "--listen", "127.0.0.1:0", "--models", args["models"],
               "--model", "mobilefacenet", "--no-flip"] + list(extra)
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            if " on http" in line:
                self.port = int(line.split(" on http", 1)[1].split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("facerec-serve did not start:\n" + "".join(self.log))
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def add_key(self, role):
        out = subprocess.run([self.args["serve"], "keys", "add", "--role", role, "--db", self.db],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("facerec-serve keys add: exit %d: %s" % (out.returncode, out.stderr))
        return out.stdout.strip()

    def request(self, method, path, body=None, headers=None, key="admin", timeout=60):
        headers = dict(headers or {})
        if key == "admin":
            headers["x-api-key"] = self.admin_key
        elif key == "recognize":
            headers["x-api-key"] = self.recognize_key
        elif key:
            headers["x-api-key"] = key
        if self.tls:  # a self-signed test certificate
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data
        return resp.status, dict(resp.getheaders()), parsed

    def post_files(self, path, files, fields=None, key="admin"):
        body, ctype = multipart(files, fields or {})
        return self.request("POST", path, body, {"Content-Type": ctype}, key)

    def post_json(self, path, obj, key="admin", method="POST"):
        return self.request(method, path, json.dumps(obj), {"Content-Type": "application/json"}, key)

    def alive(self):
        status, _, body = self.request("GET", "/health", key=None)
        return status == 200 and body.get("status") == "ok"

    def stop(self):
        """SIGTERM: the server finishes and exits 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise RuntimeError("facerec-serve did not stop on SIGTERM")
        self.reader.join(timeout=5)
        if rc != 0:
            raise RuntimeError("facerec-serve exited with %d:\n%s" % (rc, "".join(self.log[-20:])))


class PostgresCluster:
    """A throwaway PostgreSQL cluster (tests/postgres_cluster.sh) in a short temporary folder
    (its unix socket's path must be short). Exits 77, which ctest reports as skipped, when
    PostgreSQL 15 is not installed."""

    SCRIPT = os.path.join(HERE, "..", "postgres_cluster.sh")

    def __init__(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="facerec-pg-")
        os.chmod(self.dir, 0o755)  # as root the cluster belongs to another user
        self.uri = self._run("start")

    def _run(self, action):
        out = subprocess.run([self.SCRIPT, action, self.dir], capture_output=True, text=True)
        if out.returncode == 77:
            print("SKIP: " + out.stderr.strip())
            shutil.rmtree(self.dir, ignore_errors=True)
            sys.exit(77)
        if out.returncode != 0:
            raise RuntimeError("postgres_cluster.sh %s: %s" % (action, out.stderr))
        return out.stdout.strip()

    def start(self):
        self._run("start")

    def stop(self):
        self._run("stop")

    def destroy(self):
        self._run("destroy")


def multipart(files, fields):
    """files: [(field, filename, bytes)]; fields: {name: text}."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                      % (boundary, name, value)).encode())
    for field, filename, data in files:
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                      "Content-Type: image/jpeg\r\n\r\n" % (boundary, field, filename)).encode()
                     + data + b"\r\n")
    parts.append(("--%s--\r\n" % boundary).encode())
    return b"".join(parts), "multipart/form-data; boundary=" + boundary


def b64(data):
    return base64.b64encode(data).decode()


def demo_photo(args, i):
    with open(os.path.join(args["models"], "face-api", "demo", "sample%d.jpg" % i), "rb") as f:
        return f.read()


def face_crops(args, i):
    """The faces of demo photo i cut out by `facerec detect --crops`, as bytes, in order."""
    out = os.path.join(args["tmp"], "crops%d" % i)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    photo = os.path.join(args["models"], "face-api", "demo", "sample%d.jpg" % i)
    subprocess.run([args["cli"], "detect", "--crops", out, photo], check=True,
                   capture_output=True)
    names = sorted(os.listdir(out), key=lambda n: int(n.rsplit("_", 1)[1].split(".")[0]))
    crops = []
    for n in names:
        with open(os.path.join(out, n), "rb") as f:
            crops.append(f.read())
    return crops


class Checks:
    def __init__(self):
        self.failures = 0

    def check(self, cond, what):
        if cond:
            print("  ok   " + what)
        else:
            print("  FAIL " + what)
            self.failures += 1
        return cond

    def done(self):
        print("%d failure(s)" % self.failures)
        sys.exit(1 if self.failures else 0)
