#!/usr/bin/python3
"""haar_reference.py: OpenCV's own Haar cascade detector (Debian's python3-opencv) on the
photos of the shared dlib-faces-detection folder and a fixed sample of LFW, written as the
fixture tests/data/original/haar_reference.json that tests/test_haar.c compares our C
detector against (same number of faces per image, IoU >= 0.8 for at least 90% of them).

It runs the original demo's detection: cv2.imread, cvtColor(BGR2GRAY),
CascadeClassifier(haarcascade_frontalface_default.xml).detectMultiScale(gray, 1.3, 5).
Use Debian's interpreter (a pyenv `python3` may lack cv2):

    /usr/bin/python3 tests/reference/haar_reference.py [--data ../shared/data]
        [--cascade models/opencv/haarcascade_frontalface_default.xml]
        [--out tests/data/original/haar_reference.json]

The LFW sample is every 150th person folder (sorted by name), first image of each.
"""
import argparse
import json
import os
import sys

import cv2

SCALE_FACTOR, MIN_NEIGHBORS = 1.3, 5
LFW_STRIDE = 150


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.join(root, '..', 'shared', 'data'))
    ap.add_argument('--cascade', default=os.path.join(root, 'models', 'opencv',
                                                      'haarcascade_frontalface_default.xml'))
    ap.add_argument('--out', default=os.path.join(root, 'tests', 'data', 'original', 'haar_reference.json'))
    args = ap.parse_args()
    cascade = cv2.CascadeClassifier(args.cascade)
    if cascade.empty():
        sys.exit('haar_reference: cannot load %s (scripts/setup.sh copies it from opencv-data)' % args.cascade)
    images = sorted('dlib-faces-detection/' + f for f in os.listdir(os.path.join(args.data, 'dlib-faces-detection'))
                    if f.endswith('.jpg'))
    people = sorted(os.listdir(os.path.join(args.data, 'lfw-deepfunneled')))
    people = [p for p in people if os.path.isdir(os.path.join(args.data, 'lfw-deepfunneled', p))]
    for person in people[::LFW_STRIDE]:
        first = sorted(os.listdir(os.path.join(args.data, 'lfw-deepfunneled', person)))[0]
        images.append('lfw-deepfunneled/%s/%s' % (person, first))
    out = {'about': 'OpenCV %s detectMultiScale(gray, %g, %d), tests/reference/haar_reference.py'
                    % (cv2.__version__, SCALE_FACTOR, MIN_NEIGHBORS),
           'cascade': os.path.basename(args.cascade), 'scale_factor': SCALE_FACTOR,
           'min_neighbors': MIN_NEIGHBORS, 'images': []}
    total = 0
    for rel in images:
        img = cv2.imread(os.path.join(args.data, rel), 1)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        faces = cascade.detectMultiScale(gray, SCALE_FACTOR, MIN_NEIGHBORS)
        boxes = sorted([int(v) for v in f] for f in faces)
        total += len(boxes)
        out['images'].append({'image': rel, 'width': img.shape[1], 'height': img.shape[0], 'boxes': boxes})
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print('%d images, %d faces; wrote %s' % (len(images), total, args.out))


if __name__ == '__main__':
    main()
