#!/usr/bin/python3
"""Images without a face, to measure fr_whole_face's check (BENCHMARKS.md, "Hard light").

For each LFW person of a relit set's half (its people.txt), the four 85x95 corners of their
first photo (background, shoulders, hair), doubled to 170x190 like the set's tight crops; and
40 seeded noise images (uniform noise, noisy gradients). Writes them as PPM into OUT with a
reference file (landmarks.txt form, all points 0) for `facerec eval landmarks`:

    scripts/nonface_crops.py build/relight/tune/people.txt build/nonface
    facerec eval landmarks --dir build/nonface --reference build/nonface/landmarks.txt
"""
import os
import subprocess
import sys

import numpy as np


def main():
    people, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    names = []
    for line in open(people):
        name, src = line.rstrip("\n").split("\t")
        if not name.startswith("lfw-"):
            continue
        first = sorted(f for f in os.listdir(src) if f.endswith(".jpg"))[0]
        ppm = subprocess.run(["djpeg", "-pnm", os.path.join(src, first)], check=True,
                             capture_output=True).stdout
        magic, size, _, pixels = ppm.split(b"\n", 3)
        w, h = map(int, size.split())
        img = np.frombuffer(pixels, np.uint8).reshape(h, w, 3)
        for k, (y, x) in enumerate([(0, 0), (0, w - 85), (h - 95, 0), (h - 95, w - 85)]):
            names.append((f"{name}_{k}.ppm", np.repeat(np.repeat(img[y:y + 95, x:x + 85], 2, 0), 2, 1)))
    rng = np.random.default_rng(0)
    for k in range(40):
        if k % 2 == 0:
            img = (rng.random((190, 170, 3)) * 255).astype(np.uint8)
        else:
            ramp = np.linspace(0, 255, 170)[None, :, None] + rng.normal(0, 20, (190, 170, 3))
            img = np.clip(ramp, 0, 255).astype(np.uint8)
        names.append((f"noise_{k}.ppm", img))
    with open(os.path.join(out, "landmarks.txt"), "w") as ref:
        for file, img in names:
            with open(os.path.join(out, file), "wb") as f:
                f.write(b"P6\n170 190\n255\n" + np.ascontiguousarray(img).tobytes())
            ref.write(file + "\t0" * 136 + "\n")
    print(f"{len(names)} images in {out}")


main()
