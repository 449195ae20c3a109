#!/usr/bin/env python3
"""Whether face_recognition's tolerance=0.6 means the same with facerec.compat's encodings:
accuracy of compare_faces(tolerance=0.6) on LFW View 1's test pairs (pairsDevTest.txt: 500
same-person and 500 different-person pairs), next to the threshold that would be best on
these pairs. dlib reports 99.38% on LFW for its network at 0.6 (View 2, its own alignment).

    FACEREC_DATA=/path/to/shared/data /usr/bin/python3 python/lfw_tolerance.py [--limit N]

Each photo's face is the one nearest the photo's centre (LFW photos are centred on their
person); a photo without a face counts as a wrong answer.
"""
import argparse
import os
import pathlib
import sys

import numpy as np

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))
import facerec.compat.face_recognition as face_recognition  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=500,
                        help="pairs of each kind (default 500: all of pairsDevTest.txt)")
    parser.add_argument("--model", default="small", choices=("small", "large"),
                        help="face_encodings' model (default small)")
    args = parser.parse_args()
    data = pathlib.Path(os.environ.get("FACEREC_DATA", here.parent.parent / "shared" / "data"))
    lfw = data / "lfw-deepfunneled"
    pairs_file = lfw / "pairsDevTest.txt"
    if not pairs_file.exists():
        sys.exit(f"lfw_tolerance.py: {pairs_file} not found (set FACEREC_DATA)")
    lines = pairs_file.read_text().splitlines()
    n = int(lines[0])
    same = [l.split("\t") for l in lines[1:1 + n]][:args.limit]
    diff = [l.split("\t") for l in lines[1 + n:1 + 2 * n]][:args.limit]
    path = lambda p, i: lfw / p / f"{p}_{int(i):04d}.jpg"  # noqa: E731
    pairs = [(path(p, i), path(p, j), True) for p, i, j in same] + \
            [(path(p, i), path(q, j), False) for p, i, q, j in diff]
    cache = {}

    def encoding(file):
        if file not in cache:
            img = face_recognition.load_image_file(file)
            locations = face_recognition.face_locations(img)
            if not locations:
                cache[file] = None
            else:
                h, w = img.shape[:2]
                centre = lambda l: ((l[0] + l[2]) / 2 - h / 2) ** 2 + ((l[1] + l[3]) / 2 - w / 2) ** 2  # noqa: E731
                best = min(locations, key=centre)
                if args.model == "small":  # on the detector's own points
                    encodings = face_recognition.face_encodings(img)
                    cache[file] = encodings[locations.index(best)]
                else:
                    (cache[file],) = face_recognition.face_encodings(img, [best], model=args.model)
        return cache[file]

    distances, truth, no_face = [], [], 0
    for a, b, is_same in pairs:
        ea, eb = encoding(a), encoding(b)
        if ea is None or eb is None:
            no_face += 1
            distances.append(np.inf if is_same else -np.inf)  # always wrong
        else:
            distances.append(float(face_recognition.face_distance([ea], eb)[0]))
        truth.append(is_same)
    d, t = np.array(distances), np.array(truth)
    accuracy = lambda th: float(np.mean((d <= th) == t)) * 100  # noqa: E731
    candidates = np.unique(d[np.isfinite(d)])
    best = max(candidates, key=accuracy)
    norms = [np.linalg.norm(e) for e in cache.values() if e is not None]
    print(f"pairs: {len(same)} same, {len(diff)} different; photos without a face: "
          f"{sum(e is None for e in cache.values())} ({no_face} pairs)")
    print(f"encoding length: mean {np.mean(norms):.3f} (min {np.min(norms):.3f}, "
          f"max {np.max(norms):.3f})")
    print(f"accuracy at tolerance 0.6: {accuracy(0.6):.2f}%")
    print(f"best threshold on these pairs: {best:.3f} ({accuracy(best):.2f}%)")
    same_d = d[t & np.isfinite(d)]
    diff_d = d[~t & np.isfinite(d)]
    print(f"same-person distances: median {np.median(same_d):.3f}; different people: median "
          f"{np.median(diff_d):.3f}")


if __name__ == "__main__":
    main()
