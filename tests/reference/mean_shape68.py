#!/usr/bin/env python3
"""The mean shape of the 68-point landmarks that fr_whole_face's check fits (src/face/landmark_fit.c).

Reads one or more landmarks.txt files of a relit set's half (`facerec eval relight`: a file
name, then 68 points x y, the 68-point net's landmarks on detected, unlit faces), normalises
each shape (centroid at 0, root-mean-square radius 1), aligns them by generalised Procrustes
(rotation only), and prints the mean as C rows, upright (eye centres level, left eye at left).
Only the tune half is read, so that the check is chosen on people the test half does not hold:

    python3 tests/reference/mean_shape68.py build/relight/tune/landmarks.txt
"""
import sys

import numpy as np


def normalise(s):
    s = s - s.mean(axis=0)
    return s / np.sqrt((s ** 2).sum(axis=1).mean())


def rotate_onto(s, target):
    # the rotation (no reflection, no scale) taking s closest to target in least squares
    a = (s * target).sum()
    b = (s[:, 0] * target[:, 1] - s[:, 1] * target[:, 0]).sum()
    t = np.arctan2(b, a)
    r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return s @ r.T


def main():
    shapes = []
    for path in sys.argv[1:]:
        for line in open(path):
            f = line.split("\t")
            shapes.append(normalise(np.array(f[1:], dtype=np.float64).reshape(68, 2)))
    mean = shapes[0]
    for _ in range(10):
        mean = normalise(np.mean([rotate_onto(s, mean) for s in shapes], axis=0))
    # upright: the line from the left eye's centre to the right eye's horizontal
    eye_l, eye_r = mean[36:42].mean(axis=0), mean[42:48].mean(axis=0)
    d = eye_r - eye_l
    t = -np.arctan2(d[1], d[0])
    r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    mean = mean @ r.T
    print(f"/* mean of {len(shapes)} shapes */")
    for i in range(0, 68, 4):
        print("    " + " ".join(f"{{{x:.4f}f, {y:.4f}f}}," for x, y in mean[i:i + 4]))


main()
