#!/usr/bin/python3
"""nn4small2_reference.py: an independent numpy implementation of the original FaceNet
nn4.small2 Keras model (inception_blocks_v2.faceRecoModel and fr_utils.load_weights of the
deeplearning.ai assignment, as published in Skuldur/facenet-face-recognition), used to make
tests/data/original/nn4small2_reference.json, which tests/test_nn4small2.c compares our C
network against (1e-4 per element).

Run with Debian's interpreter, which has python3-numpy and python3-opencv (a pyenv `python3`
may lack them):

    /usr/bin/python3 tests/reference/nn4small2_reference.py \
        [--shared ../shared/data/nn4small2-weights-partial] [--models models] \
        [--out tests/data/original/nn4small2_reference.json]

Weights: the public CSV folder lacks five files (see the README of the shared data). The
script completes a copy of it in a temporary folder with generated values, and also makes a
folder where every file is generated; both sets of embeddings go in the fixture. The
generator (the C test has the same one) gives each file its own stream: splitmix64 seeded
with the 64-bit FNV-1a hash of the file name without ".csv", u = (z >> 11) / 2^53, and

    conv and dense weights (_w)   (2u - 1) * sqrt(3 / fan_in), fan_in = in * kh * kw
    conv and dense biases (_b)    (2u - 1) * 0.05
    batch norm _w (gamma)         0.8 + 0.4 u
    batch norm _b, _m             (2u - 1) * 0.1
    batch norm _v                 0.5 + u

written with "%.9g", comma-separated on one line like the real files.

Inputs: two synthetic 96x96 RGB patterns (formulas in the fixture), fed as the network input
x / 255, and the face-api package's demo/sample1.jpg embedded as the original's
img_to_encoding did (cv2.imread, cv2.resize to 96x96, BGR to RGB, channels first, / 255).
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile

import cv2
import numpy as np

MASK64 = (1 << 64) - 1

# ---- the layer list, from fr_utils.WEIGHTS / conv_shape ----

CONV_SHAPE = {  # Torch order (out, in, kh, kw)
    'conv1': (64, 3, 7, 7), 'conv2': (64, 64, 1, 1), 'conv3': (192, 64, 3, 3),
    'inception_3a_1x1_conv': (64, 192, 1, 1), 'inception_3a_pool_conv': (32, 192, 1, 1),
    'inception_3a_5x5_conv1': (16, 192, 1, 1), 'inception_3a_5x5_conv2': (32, 16, 5, 5),
    'inception_3a_3x3_conv1': (96, 192, 1, 1), 'inception_3a_3x3_conv2': (128, 96, 3, 3),
    'inception_3b_3x3_conv1': (96, 256, 1, 1), 'inception_3b_3x3_conv2': (128, 96, 3, 3),
    'inception_3b_5x5_conv1': (32, 256, 1, 1), 'inception_3b_5x5_conv2': (64, 32, 5, 5),
    'inception_3b_pool_conv': (64, 256, 1, 1), 'inception_3b_1x1_conv': (64, 256, 1, 1),
    'inception_3c_3x3_conv1': (128, 320, 1, 1), 'inception_3c_3x3_conv2': (256, 128, 3, 3),
    'inception_3c_5x5_conv1': (32, 320, 1, 1), 'inception_3c_5x5_conv2': (64, 32, 5, 5),
    'inception_4a_3x3_conv1': (96, 640, 1, 1), 'inception_4a_3x3_conv2': (192, 96, 3, 3),
    'inception_4a_5x5_conv1': (32, 640, 1, 1), 'inception_4a_5x5_conv2': (64, 32, 5, 5),
    'inception_4a_pool_conv': (128, 640, 1, 1), 'inception_4a_1x1_conv': (256, 640, 1, 1),
    'inception_4e_3x3_conv1': (160, 640, 1, 1), 'inception_4e_3x3_conv2': (256, 160, 3, 3),
    'inception_4e_5x5_conv1': (64, 640, 1, 1), 'inception_4e_5x5_conv2': (128, 64, 5, 5),
    'inception_5a_3x3_conv1': (96, 1024, 1, 1), 'inception_5a_3x3_conv2': (384, 96, 3, 3),
    'inception_5a_pool_conv': (96, 1024, 1, 1), 'inception_5a_1x1_conv': (256, 1024, 1, 1),
    'inception_5b_3x3_conv1': (96, 736, 1, 1), 'inception_5b_3x3_conv2': (384, 96, 3, 3),
    'inception_5b_pool_conv': (96, 736, 1, 1), 'inception_5b_1x1_conv': (256, 736, 1, 1),
}


def bn_name(conv):
    if conv in ('conv1', 'conv2', 'conv3'):
        return 'bn' + conv[-1]
    return conv.replace('_conv', '_bn')


def needed_files():
    """(file stem, value count, fan_in or None, kind) of every file load_weights reads."""
    files = []
    for conv, (o, i, kh, kw) in CONV_SHAPE.items():
        files.append((conv + '_w', o * i * kh * kw, i * kh * kw, 'weight'))
        files.append((conv + '_b', o, None, 'bias'))
        for s in 'wbmv':
            files.append((bn_name(conv) + '_' + s, o, None, 'bn_' + s))
    files.append(('dense_w', 128 * 736, 736, 'weight'))
    files.append(('dense_b', 128, None, 'bias'))
    return files


# ---- the generator ----

def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & MASK64
    return h


def generated_values(stem, count, fan_in, kind):
    state = fnv1a64(stem)
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        u = (z >> 11) * (1.0 / 9007199254740992.0)
        if kind == 'weight':
            v = (2 * u - 1) * math.sqrt(3.0 / fan_in)
        elif kind == 'bias':
            v = (2 * u - 1) * 0.05
        elif kind == 'bn_w':
            v = 0.8 + 0.4 * u
        elif kind in ('bn_b', 'bn_m'):
            v = (2 * u - 1) * 0.1
        else:
            v = 0.5 + u
        out.append('%.9g' % v)
    return ','.join(out) + '\n'


def complete_folder(shared, dest):
    """Fill dest with the shared files that exist and generated ones for the rest; returns
    the names generated."""
    generated = []
    for stem, count, fan_in, kind in needed_files():
        src = os.path.join(shared, stem + '.csv') if shared else None
        if src and os.path.exists(src):
            shutil.copyfile(src, os.path.join(dest, stem + '.csv'))
        else:
            with open(os.path.join(dest, stem + '.csv'), 'w') as f:
                f.write(generated_values(stem, count, fan_in, kind))
            generated.append(stem)
    return generated


# ---- loading, as fr_utils.load_weights does ----

def load_weights(folder):
    weights = {}
    read = lambda stem: np.genfromtxt(os.path.join(folder, stem + '.csv'), delimiter=',', dtype=None)
    for conv, shape in CONV_SHAPE.items():
        w = np.transpose(np.reshape(read(conv + '_w'), shape), (2, 3, 1, 0))  # to (kh, kw, in, out)
        weights[conv] = [w.astype(np.float32).astype(np.float64),
                         read(conv + '_b').astype(np.float32).astype(np.float64)]
        bn = bn_name(conv)
        weights[bn] = [read(bn + '_' + s).astype(np.float32).astype(np.float64) for s in 'wbmv']
    dense_w = np.transpose(np.reshape(read('dense_w'), (128, 736)), (1, 0))
    weights['dense_layer'] = [dense_w.astype(np.float32).astype(np.float64),
                              read('dense_b').astype(np.float32).astype(np.float64)]
    return weights


# ---- the Keras layers, channels first, one image (C, H, W), float64 ----

def zero_pad(x, top, bottom, left, right):
    return np.pad(x, ((0, 0), (top, bottom), (left, right)))


def conv2d(x, wb, stride=1):
    w, b = wb  # (kh, kw, in, out)
    kh, kw, _, cout = w.shape
    _, H, W = x.shape
    oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    y = np.zeros((cout, oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            patch = x[:, ky:ky + stride * (oh - 1) + 1:stride, kx:kx + stride * (ow - 1) + 1:stride]
            y += np.einsum('chw,co->ohw', patch, w[ky, kx])
    return y + b[:, None, None]


def batch_norm(x, params, eps):
    g, b, m, v = params
    return (x - m[:, None, None]) / np.sqrt(v[:, None, None] + eps) * g[:, None, None] + b[:, None, None]


def relu(x):
    return np.maximum(x, 0)


def pool(x, k, stride, op):
    _, H, W = x.shape
    oh, ow = (H - k) // stride + 1, (W - k) // stride + 1
    windows = [x[:, ky:ky + stride * (oh - 1) + 1:stride, kx:kx + stride * (ow - 1) + 1:stride]
               for ky in range(k) for kx in range(k)]
    return np.max(windows, axis=0) if op == 'max' else np.mean(windows, axis=0)


def conv_bn(W, x, layer, cv1_out, cv2_out=None, cv2_k=3, cv2_stride=1, padding=None):
    """fr_utils.conv2d_bn."""
    num = '' if cv2_out is None else '1'
    t = relu(batch_norm(conv2d(x, W[layer + '_conv' + num]), W[layer + '_bn' + num], 1e-5))
    if padding is None:
        return t
    t = zero_pad(t, padding[0], padding[0], padding[1], padding[1])
    if cv2_out is None:
        return t
    return relu(batch_norm(conv2d(t, W[layer + '_conv2'], cv2_stride), W[layer + '_bn2'], 1e-5))


def face_reco_model(W, x):
    x = zero_pad(x, 3, 3, 3, 3)
    x = relu(batch_norm(conv2d(x, W['conv1'], 2), W['bn1'], 1e-3))  # bn1: Keras's default epsilon
    x = pool(zero_pad(x, 1, 1, 1, 1), 3, 2, 'max')
    x = relu(batch_norm(conv2d(x, W['conv2']), W['bn2'], 1e-5))
    x = zero_pad(x, 1, 1, 1, 1)
    x = relu(batch_norm(conv2d(x, W['conv3']), W['bn3'], 1e-5))
    x = pool(zero_pad(x, 1, 1, 1, 1), 3, 2, 'max')
    # 3a
    a = conv_bn(W, x, 'inception_3a_3x3', 96, 128, 3, 1, (1, 1))
    b = conv_bn(W, x, 'inception_3a_5x5', 16, 32, 5, 1, (2, 2))
    c = zero_pad(conv_bn(W, pool(x, 3, 2, 'max'), 'inception_3a_pool', 32), 3, 4, 3, 4)
    d = conv_bn(W, x, 'inception_3a_1x1', 64)
    x = np.concatenate([a, b, c, d])
    # 3b
    a = conv_bn(W, x, 'inception_3b_3x3', 96, 128, 3, 1, (1, 1))
    b = conv_bn(W, x, 'inception_3b_5x5', 32, 64, 5, 1, (2, 2))
    c = zero_pad(conv_bn(W, pool(x, 3, 3, 'avg'), 'inception_3b_pool', 64), 4, 4, 4, 4)
    d = conv_bn(W, x, 'inception_3b_1x1', 64)
    x = np.concatenate([a, b, c, d])
    # 3c
    a = conv_bn(W, x, 'inception_3c_3x3', 128, 256, 3, 2, (1, 1))
    b = conv_bn(W, x, 'inception_3c_5x5', 32, 64, 5, 2, (2, 2))
    c = zero_pad(pool(x, 3, 2, 'max'), 0, 1, 0, 1)
    x = np.concatenate([a, b, c])
    # 4a
    a = conv_bn(W, x, 'inception_4a_3x3', 96, 192, 3, 1, (1, 1))
    b = conv_bn(W, x, 'inception_4a_5x5', 32, 64, 5, 1, (2, 2))
    c = conv_bn(W, pool(x, 3, 3, 'avg'), 'inception_4a_pool', 128, padding=(2, 2))
    d = conv_bn(W, x, 'inception_4a_1x1', 256)
    x = np.concatenate([a, b, c, d])
    # 4e
    a = conv_bn(W, x, 'inception_4e_3x3', 160, 256, 3, 2, (1, 1))
    b = conv_bn(W, x, 'inception_4e_5x5', 64, 128, 5, 2, (2, 2))
    c = zero_pad(pool(x, 3, 2, 'max'), 0, 1, 0, 1)
    x = np.concatenate([a, b, c])
    # 5a
    a = conv_bn(W, x, 'inception_5a_3x3', 96, 384, 3, 1, (1, 1))
    c = conv_bn(W, pool(x, 3, 3, 'avg'), 'inception_5a_pool', 96, padding=(1, 1))
    d = conv_bn(W, x, 'inception_5a_1x1', 256)
    x = np.concatenate([a, c, d])
    # 5b
    a = conv_bn(W, x, 'inception_5b_3x3', 96, 384, 3, 1, (1, 1))
    c = zero_pad(conv_bn(W, pool(x, 3, 2, 'max'), 'inception_5b_pool', 96), 1, 1, 1, 1)
    d = conv_bn(W, x, 'inception_5b_1x1', 256)
    x = np.concatenate([a, c, d])
    x = pool(x, 3, 1, 'avg').reshape(-1)  # Flatten of (736, 1, 1)
    x = x @ W['dense_layer'][0] + W['dense_layer'][1]
    return x / math.sqrt(max(float(np.sum(x * x)), 1e-12))


# ---- inputs ----

PATTERNS = {
    'pattern1': '(7*x + 13*y + 101*c + (x*y) % 17) % 256',
    'pattern2': '(x*x + 3*y*c + 31*c + 5*y + (x ^ y)) % 256',
}


def pattern_input(formula):
    img = np.zeros((3, 96, 96))
    for y in range(96):
        for x in range(96):
            for c in range(3):
                img[c, y, x] = eval(formula, {}, {'x': x, 'y': y, 'c': c})
    return img / 255.0


def img_path_to_input(path):
    """fr_utils.img_to_encoding's preprocessing."""
    img = cv2.imread(path, 1)
    img = cv2.resize(img, (96, 96))
    img = img[..., ::-1]
    return np.around(np.transpose(img, (2, 0, 1)) / 255.0, decimals=12)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', default=os.path.join(root, '..', 'shared', 'data',
                                                     'nn4small2-weights-partial'))
    ap.add_argument('--models', default=os.environ.get('FACEREC_MODELS', os.path.join(root, 'models')))
    ap.add_argument('--out', default=os.path.join(root, 'tests', 'data', 'original',
                                                  'nn4small2_reference.json'))
    args = ap.parse_args()
    if not os.path.isdir(args.shared):
        sys.exit('nn4small2_reference: %s: no such folder (the shared partial weights)' % args.shared)
    sample_rel = 'face-api/demo/sample1.jpg'
    sample = os.path.join(args.models, sample_rel)
    inputs = {name: pattern_input(f) for name, f in PATTERNS.items()}
    inputs['sample1'] = img_path_to_input(sample)
    result = {
        'about': 'nn4.small2 embeddings from tests/reference/nn4small2_reference.py',
        'patterns': PATTERNS,
        'sample1': sample_rel,
        'sets': {},
    }
    for set_name, shared in (('shared', args.shared), ('generated', None)):
        with tempfile.TemporaryDirectory() as tmp:
            generated = complete_folder(shared, tmp)
            W = load_weights(tmp)
        result['sets'][set_name] = {
            'generated_files': generated,
            'embeddings': {k: [float(v) for v in face_reco_model(W, x)] for k, x in inputs.items()},
        }
        print('%s: %d files generated' % (set_name, len(generated)))
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=1)
        f.write('\n')
    print('wrote', args.out)


if __name__ == '__main__':
    main()
