#!/usr/bin/python3
"""photometric.py: reference output of the photometric normalisations of an aligned crop
(fr_config.photometric: histeq, tan-triggs), written from their published definitions in
numpy float64, as the fixture tests/data/photometric/reference.json that
tests/test_photometric.c compares src/face/photometric.c against.

    /usr/bin/python3 tests/reference/photometric.py [--out tests/data/photometric/reference.json]

The input is a small synthetic colour crop (48 x 56, made here, stored in the fixture): a
textured face-like albedo under a lamp from the left, a black shadow at the right edge and a
little seeded noise, so that both methods meet dark, saturated and black pixels.

histeq: histogram equalisation of the luminance Y = 0.299 R + 0.587 G + 0.114 B (ITU-R
BT.601), binned to the 256 integer levels, in its general form that stretches the darkest
level present to 0: level v maps to 255 (cdf(v) - cdf(v_min)) / (N - cdf(v_min)), where cdf
counts the pixels at or below v. The new Y is kept unrounded, since it only scales the pixel:
each pixel keeps its colour, R, G and B multiplied by its new Y over its Y (pixels of level 0
take the new Y as grey), then rounded and clipped to 255.

tan-triggs: X. Tan and B. Triggs, "Enhanced local texture feature sets for face recognition
under difficult lighting conditions", IEEE TIP 19(6), 2010, section III-A, with the paper's
parameters, on the luminance Y:
  1. gamma: I = (Y + 1)^0.2 (the +1 keeps black pixels off the infinite slope of I^0.2 at 0;
     contrast equalisation makes the result independent of the scale of Y, not of this offset)
  2. difference of Gaussians: I = G(sigma 1) * I - G(sigma 2) * I, each Gaussian a normalised
     (2 ceil(3 sigma) + 1)^2 kernel, the image extended by repeating its edge pixels (as the
     authors' MATLAB code filters with imfilter's 'replicate')
  3. contrast equalisation: I = I / mean(|I|^a)^(1/a), then I = I / mean(min(t, |I|)^a)^(1/a),
     then I = t tanh(I / t), with a = 0.1 and t = 10
  4. the result, in (-t, t), mapped linearly to 0..255 (round(127.5 + 127.5 I / t)), written
     to R, G and B alike.
Here each Gaussian is a 2-D convolution with the full 2-D kernel (the C code filters rows then
columns).

Rounding: both outputs are 8-bit, rounded half away from zero. A pixel whose exact luminance
lies on a level boundary (299 R + 587 G + 114 B = 500 mod 1000) could be binned apart by
float32 and float64 arithmetic; the input has none (checked below)."""
import argparse
import json
import os

import numpy as np

W, H = 48, 56
GAMMA, SIGMA0, SIGMA1, ALPHA, TAU = 0.2, 1.0, 2.0, 0.1, 10.0


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def make_crop():
    """The input crop, (H, W, 3) uint8, deterministic."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    albedo = 0.45 + 0.25 * np.sin(x / 2.7) * np.cos(y / 3.9) + 0.15 * np.exp(
        -((x - 24) ** 2 + (y - 30) ** 2) / 150.0)
    tint = np.array([1.0, 0.82, 0.7])
    lamp = 0.12 + 0.88 * np.clip(1.0 - x / (W - 1.0), 0, 1) ** 1.5
    state = np.uint64(12345)
    noise = np.empty(H * W * 3)
    for i in range(noise.size):  # a small LCG, the same numbers everywhere
        state = np.uint64((int(state) * 6364136223846793005 + 1442695040888963407) % 2 ** 64)
        noise[i] = (int(state) >> 40) / 2 ** 24 - 0.5
    linear = albedo[..., None] * tint * lamp[..., None] * 1.15
    rgb = 255 * np.clip(linear, 0, 1) ** (1 / 2.2) + 3.0 * noise.reshape(H, W, 3)
    rgb[:, W - 5:, :] = 0  # a black shadow
    rgb[3:6, 10:14, :] = 255  # a saturated highlight
    crop = np.clip(round_half_away(rgb), 0, 255).astype(np.int64)
    # no luminance on a level boundary: move such a pixel's blue by one
    for _ in range(4):
        boundary = (299 * crop[..., 0] + 587 * crop[..., 1] + 114 * crop[..., 2]) % 1000 == 500
        crop[..., 2] = np.where(boundary, np.where(crop[..., 2] < 255, crop[..., 2] + 1, 254), crop[..., 2])
    assert not ((299 * crop[..., 0] + 587 * crop[..., 1] + 114 * crop[..., 2]) % 1000 == 500).any()
    return crop.astype(np.uint8)


def luminance(rgb):
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def histeq(crop):
    y = luminance(crop)
    level = round_half_away(y).astype(np.int64)
    hist = np.bincount(level.ravel(), minlength=256)
    cdf = np.cumsum(hist)
    n, v_min = level.size, np.flatnonzero(hist)[0]
    new_y = 255.0 * (cdf - cdf[v_min]) / (n - cdf[v_min])
    target = new_y[level]
    out = np.empty(crop.shape)
    dark = y <= 0.5  # level 0
    gain = np.where(dark, 0.0, target / np.where(dark, 1.0, y))
    out[...] = crop.astype(np.float64) * gain[..., None]
    out[dark] = target[dark][:, None]
    return np.clip(round_half_away(out), 0, 255).astype(np.uint8)


def gaussian_blur(img, sigma):
    radius = int(np.ceil(3 * sigma))
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (2 * sigma * sigma))
    kernel /= kernel.sum()
    padded = np.pad(img, radius, mode='edge')
    out = np.zeros_like(img)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out += kernel[dy, dx] * padded[dy:dy + img.shape[0], dx:dx + img.shape[1]]
    return out


def tan_triggs(crop):
    img = (luminance(crop) + 1.0) ** GAMMA
    img = gaussian_blur(img, SIGMA0) - gaussian_blur(img, SIGMA1)
    img = img / np.mean(np.abs(img) ** ALPHA) ** (1 / ALPHA)
    img = img / np.mean(np.minimum(TAU, np.abs(img)) ** ALPHA) ** (1 / ALPHA)
    img = TAU * np.tanh(img / TAU)
    return round_half_away(127.5 + 127.5 * img / TAU).astype(np.uint8)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(root, 'tests', 'data', 'photometric', 'reference.json'))
    args = ap.parse_args()
    crop = make_crop()
    out = {'about': 'tests/reference/photometric.py (numpy %s, float64): histogram equalisation of the '
                    'BT.601 luminance and Tan and Triggs (gamma 0.2, DoG sigma 1 and 2, alpha 0.1, '
                    'tau 10) of the input crop' % np.__version__,
           'width': W, 'height': H,
           'input': crop.ravel().tolist(),
           'histeq': histeq(crop).ravel().tolist(),
           'tan_triggs': tan_triggs(crop).ravel().tolist()}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(out, f, separators=(',', ':'))
        f.write('\n')


if __name__ == '__main__':
    main()
