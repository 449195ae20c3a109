#!/usr/bin/env python3
"""How close facerec.compat.face_recognition's encodings are to dlib's descriptors.

face-api.js runs dlib's ResNet (the network face_recognition runs) with the same weights;
tests/data/faceapi/<sample>.json hold its raw descriptors of the faces of the demo photos.
face-api.js feeds the network its own crop, an upright square placed by the landmarks, where
dlib (and facerec's dlib-chip) warps the face upright first. For each face this prints:
  roll          the head's tilt (degrees, from face-api.js's eye landmarks)
  len_faceapi   the length of face-api.js's descriptor; len_ours that of the compat module's
  same_crop     distance from face-api.js's descriptor to facerec's raw dlib-resnet one on
                face-api.js's crop and boxes (the same computation: floating-point noise)
  small         ... to face_encodings(img) (MTCNN's boxes and 5 points, dlib's chip)
  large         ... to face_encodings(img, face-api.js's boxes, model="large") (the 68-point
                net, as face-api.js places it, then dlib's chip)
  jitter        ... to face_encodings(img, num_jitters=2) (with the mirror image)
  other_person  ... to the nearest descriptor of another face of the photos, for scale
face_recognition's tolerance is 0.6.

    /usr/bin/python3 python/faceapi_closeness.py
"""
import json
import math
import pathlib
import sys

import numpy as np

here = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(here))
import facerec  # noqa: E402
import facerec.compat.face_recognition as face_recognition  # noqa: E402

REPO = here.parent
SAMPLES = ("sample1", "sample2", "sample3")
UPRIGHT_DEGREES = 10


def iou(a, b):
    """Intersection over union of two (top, right, bottom, left) boxes."""
    h = min(a[2], b[2]) - max(a[0], b[0])
    w = min(a[1], b[1]) - max(a[3], b[3])
    inter = max(0, h) * max(0, w)
    area = lambda r: (r[2] - r[0]) * (r[1] - r[3])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def measure():
    faceapi_crop = facerec.Engine(model="dlib-resnet", detector="ssd", align="faceapi",
                                  flip=False, raw=True)
    rows = []
    for name in SAMPLES:
        fixture = json.loads((REPO / "tests/data/faceapi" / f"{name}.json").read_text())
        img = face_recognition.load_image_file(REPO / "models" / fixture["image"])
        golden = np.array(fixture["descriptors"])
        boxes = [f["box"] for f in fixture["ssd"]["faces"]]
        css = [(b[1], b[0] + b[2], b[1] + b[3], b[0]) for b in boxes]
        same_crop = [f.embedding for f in faceapi_crop.embed(img)]
        large = face_recognition.face_encodings(img, [tuple(round(v) for v in c) for c in css],
                                                model="large")
        detected = face_recognition.face_locations(img)
        small = face_recognition.face_encodings(img, None)
        jitter = face_recognition.face_encodings(img, None, num_jitters=2)
        for i, g in enumerate(golden):
            pts = np.array(fixture["landmarks68"][i])
            eye_l, eye_r = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
            row = {"face": f"{name}#{i}",
                   "roll": math.degrees(math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0])),
                   "len_faceapi": np.linalg.norm(g),
                   "same_crop": np.linalg.norm(same_crop[i] - g),
                   "large": np.linalg.norm(large[i] - g), "descriptor": g}
            # the face MTCNN found in the same place, if any
            overlaps = [iou(c, css[i]) for c in detected]
            j = int(np.argmax(overlaps)) if overlaps else -1
            if j >= 0 and overlaps[j] > 0.4:
                row["small"] = np.linalg.norm(small[j] - g)
                row["jitter"] = np.linalg.norm(jitter[j] - g)
                row["len_ours"] = np.linalg.norm(small[j])
            rows.append(row)
    everyone = np.array([r["descriptor"] for r in rows])
    for r in rows:
        d = np.linalg.norm(everyone - r["descriptor"], axis=1)
        r["other_person"] = float(np.min(d[d > 1e-9]))
    return rows


def main():
    rows = measure()
    cols = ["face", "roll", "len_faceapi", "len_ours", "same_crop", "small", "large", "jitter",
            "other_person"]
    print(" ".join(f"{c:>12}" for c in cols))
    for r in rows:
        print(" ".join(f"{r[c]:>12}" if c == "face" else
                       f"{r[c]:>12.1e}" if c == "same_crop" else
                       f"{r[c]:>12.4f}" if c in r else f"{'(missed)':>12}" for c in cols))
    for label, keep in (("all faces", lambda r: True),
                        (f"upright faces (|roll| < {UPRIGHT_DEGREES})",
                         lambda r: abs(r["roll"]) < UPRIGHT_DEGREES)):
        chosen = [r for r in rows if keep(r)]
        print(f"{label}: {len(chosen)}")
        for c in cols[2:]:
            v = np.array([r[c] for r in chosen if c in r])
            if len(v):
                print(f"  {c:>12}: mean {v.mean():.4g}  min {v.min():.4g}  max {v.max():.4g}"
                      f"  ({len(v)} faces)")


if __name__ == "__main__":
    main()
