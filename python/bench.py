#!/usr/bin/env python3
"""The Python binding's cost per call: the same photos through the C library (a bare ctypes
call on an fr_image the library decoded: no conversion), facerec.Engine (a numpy array in,
Face objects out), facerec.compat.face_recognition, and the `facerec` command.

    /usr/bin/python3 python/bench.py [--repeat N] [--facerec BUILD/facerec] [--markdown]

Photos: face-api's six demo photos (1920x1280, 1-5 faces each). Each figure is the median of
the milliseconds per photo over N rounds (default 5, after one warm-up). The command's
figure is per photo too, its start-up (loading the networks) taken out: the time for the
photos given 3 times minus the time for them given once, over 12; it also decodes each JPEG
and prints JSON, which the library calls here do not. The binding's overhead is the median
of the differences between a Python call and the C call next to it on the same photo. Everything runs with the
library's default threads ($FACEREC_THREADS, else every core).
"""
import argparse
import ctypes
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))
import facerec  # noqa: E402
import facerec.compat.face_recognition as face_recognition  # noqa: E402
from facerec import _lib  # noqa: E402

REPO = here.parent
PHOTOS = [REPO / "models" / "face-api" / "demo" / f"sample{i}.jpg" for i in range(1, 7)]


def paired_ms(c_fn, py_fn, inputs, repeat):
    """Medians over repeat rounds x inputs of the C call's ms, the Python call's ms, and
    their difference taken call by call (the two alternate, so that a machine busy with
    other work slows both alike)."""
    for x in inputs:  # warm-up
        c_fn(x), py_fn(x)
    c, py, diff = [], [], []
    for r in range(repeat):
        for x in inputs:
            times = {}
            for name, fn in ((("c", c_fn), ("py", py_fn)) if r % 2 == 0 else
                             (("py", py_fn), ("c", c_fn))):
                t = time.perf_counter()
                fn(x)
                times[name] = (time.perf_counter() - t) * 1000
            c.append(times["c"])
            py.append(times["py"])
            diff.append(times["py"] - times["c"])
    return statistics.median(c), statistics.median(py), statistics.median(diff)


def bare(engine, call):
    """fr_detect or fr_process on an fr_image pointer: the C library's time."""
    fn = getattr(_lib.lib, call)

    def run(img):
        faces, n = ctypes.POINTER(_lib.Face)(), ctypes.c_int()
        facerec._check(fn(engine._eng, img, ctypes.byref(faces), ctypes.byref(n)))
        _lib.lib.fr_faces_free(faces)
    return run


def cli_ms(facerec_bin, command, repeat):
    def timed(paths):
        t = time.perf_counter()
        subprocess.run([facerec_bin, command, "--json"] + [str(p) for p in paths],
                       check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t
    once = min(timed(PHOTOS) for _ in range(2))
    many = min(timed(PHOTOS * repeat) for _ in range(2))
    return (many - once) * 1000 / (len(PHOTOS) * (repeat - 1))


def wrapper_alone(arrays, engine, repeat):
    """The Python work around one call on a photo, timed without the call: the array made
    an fr_image, and the library's faces (here the first photo's) made Face objects."""
    faces = (_lib.Face * 8)()
    found = engine.embed(arrays[0])
    for f, c in zip(found, faces):
        f._to_c(c)
    n = len(found)

    def work(arr):
        facerec._CImage(arr)
        return [facerec.Face._from_c(faces[i]) for i in range(n)]
    rounds = []
    for _ in range(repeat * 20):
        t = time.perf_counter()
        for arr in arrays:
            work(arr)
        rounds.append((time.perf_counter() - t) * 1000 / len(arrays))
    return [f"the binding's own work per photo ({n} faces), timed alone", "-",
            f"{statistics.median(rounds):.3f}", f"{statistics.median(rounds):.3f}", "-"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--facerec", default=str(REPO / "build" / "facerec"),
                        help="the facerec command (default: build/facerec)")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    args = parser.parse_args()
    if args.repeat < 2:
        parser.error("--repeat must be at least 2")
    missing = [str(p) for p in PHOTOS if not p.exists()]
    if missing:
        sys.exit(f"bench.py: missing demo photos (scripts/setup.sh): {', '.join(missing)}")

    c_images = []
    for p in PHOTOS:
        ptr = ctypes.POINTER(_lib.Image)()
        facerec._check(_lib.lib.fr_image_load(str(p).encode(), ctypes.byref(ptr)))
        c_images.append(ptr)
    arrays = [facerec.load_image(p) for p in PHOTOS]
    engine = facerec.Engine()
    compat = face_recognition._engine()  # dlib-resnet, raw, without flip
    have_cli = os.access(args.facerec, os.X_OK)

    # a 16x16 black image: no face, so the library returns at once and what remains is
    # the fixed cost of a call
    tiny_array = np.zeros((16, 16, 3), np.uint8)
    tiny = facerec._CImage(tiny_array)
    cases = [
        ("detect, 16x16 image without a face (the fixed cost of a call)", engine, "fr_detect",
         engine.detect, [tiny.ref], [tiny_array], None, args.repeat * 100),
        ("detect (mtcnn): fr_detect / Engine.detect", engine, "fr_detect", engine.detect,
         c_images, arrays, "detect", args.repeat),
        ("detect + embed (fusion, flip): fr_process / Engine.embed", engine, "fr_process",
         engine.embed, c_images, arrays, "embed", args.repeat),
        ("compat face_locations (mtcnn)", compat, "fr_detect", face_recognition.face_locations,
         c_images, arrays, None, args.repeat),
        ("compat face_encodings (dlib-resnet raw, no flip)", compat, "fr_process",
         face_recognition.face_encodings, c_images, arrays, None, args.repeat),
    ]
    rows = [wrapper_alone(arrays, engine, args.repeat)]
    for label, eng, call, py_fn, c_inputs, py_inputs, cli, repeat in cases:
        pairs = list(zip(c_inputs, py_inputs))
        c_fn = bare(eng, call)
        c, py, diff = paired_ms(lambda x: c_fn(x[0]), lambda x: py_fn(x[1]), pairs, repeat)
        rows.append([label, f"{c:.3f}", f"{py:.3f}", f"{diff:.3f}",
                     f"{cli_ms(args.facerec, cli, 3):.1f}" if cli and have_cli else "-"])
    for img in c_images:
        _lib.lib.fr_image_free(img)

    header = ["call (per photo)", "C library ms", "Python ms", "binding overhead ms",
              "facerec command ms"]
    lines = rows
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(header)]
        for line in [header] + lines:
            print("  ".join(v.ljust(w) for v, w in zip(line, widths)))
    if not have_cli:
        print(f"(no facerec command at {args.facerec}: its column is left out)")


if __name__ == "__main__":
    main()
