// liveness_reference.mjs: runs the liveness network fr_liveness.onnx (npm
// faceplugin-face-recognition-js@0.0.1, unpacked by scripts/setup.sh) in ONNX Runtime itself
// (onnxruntime-node, pinned in package.json) and writes tests/data/liveness/reference.json,
// the fixture test_liveness compares our ONNX evaluator and liveness stage against.
//
//   (cd tests/reference && npm ci --ignore-scripts)    # once: ONNX Runtime's CPU build
//   node tests/reference/liveness_reference.mjs [--models DIR] [--out FILE]
//   node tests/reference/liveness_reference.mjs --image a.jpg --box x,y,w,h [--box ...]
//
// The second form prints the scores of faces in any JPEG (B,G,R and R,G,B fed) without
// writing anything. See README_LIVENESS.md for the fields and the preprocessing.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const MODEL = 'faceplugin-face-recognition-js/model/fr_liveness.onnx';
const SIZE = 128;
const SCALE = 2.7;

function parseArgs(argv) {
  const args = { models: process.env.FACEREC_MODELS || path.join(repo, 'models'),
                 out: path.join(repo, 'tests', 'data', 'liveness', 'reference.json'),
                 image: null, boxes: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === '--models') { args.models = v; i++; }
    else if (a === '--out') { args.out = v; i++; }
    else if (a === '--image') { args.image = v; i++; }
    else if (a === '--box') { args.boxes.push(v.split(',').map(Number)); i++; }
    else throw new Error(`unknown argument ${a}`);
  }
  for (const b of args.boxes)
    if (b.length !== 4 || b.some((x) => !Number.isFinite(x))) throw new Error('--box needs x,y,w,h');
  return args;
}

// ---- pixels: djpeg, the decoder (and settings) of the C library ------------------------

function decodeJpeg(file) {
  const res = spawnSync('djpeg', ['-rgb', '-ppm', file], { maxBuffer: 1 << 30 });
  if (res.error) throw new Error(`djpeg: ${res.error.message} (apt-get install libjpeg-turbo-progs)`);
  if (res.status !== 0) throw new Error(`djpeg ${file}: ${res.stderr.toString().trim()}`);
  const buf = res.stdout;
  const head = buf.toString('latin1', 0, 64).match(/^P6\s+(\d+)\s+(\d+)\s+255\s/);
  if (!head) throw new Error(`${file}: unexpected PPM header from djpeg`);
  const width = Number(head[1]), height = Number(head[2]);
  return { width, height, rgb: new Uint8Array(buf.buffer, buf.byteOffset + head[0].length, width * height * 3) };
}

// ---- the crop of the package's lib/fr_liveness.js (alignLivenessImage) ------------------
// The box's corners are truncated to integers (parseInt), the box is scaled by
// min(2.7, the largest scale that fits the image less one pixel) about its centre, shifted
// back inside the image, and the rectangle's corners truncated again.
function cropRect(width, height, box) {
  const x1 = Math.trunc(box[0]), y1 = Math.trunc(box[1]);
  const x2 = Math.trunc(box[0] + box[2]), y2 = Math.trunc(box[1] + box[3]);
  const bw = Math.max(Math.abs(x2 - x1), 1), bh = Math.max(Math.abs(y2 - y1), 1);
  const scale = Math.min((height - 1) / bh, Math.min((width - 1) / bw, SCALE));
  const nw = bw * scale, nh = bh * scale;
  const cx = bw / 2 + x1, cy = bh / 2 + y1;
  let l = cx - nw / 2, t = cy - nh / 2, r = cx + nw / 2, b = cy + nh / 2;
  if (l < 0) { r -= l; l = 0; }
  if (t < 0) { b -= t; t = 0; }
  if (r > width - 1) { l -= r - width + 1; r = width - 1; }
  if (b > height - 1) { t -= b - height + 1; b = height - 1; }
  const x = Math.max(Math.trunc(l), 0), y = Math.max(Math.trunc(t), 0);
  const w = Math.min(Math.trunc(r - l), width - 1), h = Math.min(Math.trunc(b - t), height - 1);
  return [x, y, w, h];
}

// Bilinear resize of the rectangle to SIZE x SIZE without keeping the aspect ratio, half-pixel
// centres, in float32 (Math.fround at each step, as the C code computes), values 0..255
// unscaled. The package uses OpenCV's cv.resize (INTER_LINEAR: the same sampling, rounded
// to bytes); we keep the float values. Returns NCHW with the channels in `order`.
function netInput(img, rect, order) {
  const [rx, ry, rw, rh] = rect;
  const f = Math.fround;
  const sy = f(rh / SIZE), sx = f(rw / SIZE);
  const sample = (i, scale, size) => {
    const src = f(f(f(i + 0.5) * scale) - 0.5);
    const below = Math.floor(src);
    return [Math.max(below, 0), Math.min(Math.ceil(src), size - 1), f(src - below)];
  };
  const out = new Float32Array(3 * SIZE * SIZE);
  const px = (x, y, c) => img.rgb[((ry + y) * img.width + (rx + x)) * 3 + c];
  for (let oy = 0; oy < SIZE; oy++) {
    const [y0, y1, ty] = sample(oy, sy, rh);
    for (let ox = 0; ox < SIZE; ox++) {
      const [x0, x1, tx] = sample(ox, sx, rw);
      for (let k = 0; k < 3; k++) {
        const c = order[k];
        const top = f(px(x0, y0, c) + f(f(px(x1, y0, c) - px(x0, y0, c)) * tx));
        const bottom = f(px(x0, y1, c) + f(f(px(x1, y1, c) - px(x0, y1, c)) * tx));
        out[(k * SIZE + oy) * SIZE + ox] = f(top + f(f(bottom - top) * ty));
      }
    }
  }
  return out;
}

// A fingerprint of a net input (NCHW): sum over i of x[i] * (i % 251 + 1), in double.
function checksum(x) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * ((i % 251) + 1);
  return s;
}

// The synthetic input `seed`: value i (NCHW order) = ((i * 2654435761 + seed * 40503) mod 2^32)
// mod 256, integers 0..255 that the C test makes the same way.
function syntheticInput(seed) {
  const out = new Float32Array(3 * SIZE * SIZE);
  for (let i = 0; i < out.length; i++) out[i] = ((Math.imul(i, 2654435761) + Math.imul(seed, 40503)) >>> 0) % 256;
  return out;
}

function softmax(v) {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

async function run(session, input) {
  const feeds = { input: new ort.Tensor('float32', input, [1, 3, SIZE, SIZE]) };
  const res = await session.run(feeds);
  const logits = Array.from(res.output.data);
  return { logits, softmax: softmax(logits) };
}

const BGR = [2, 1, 0], RGB = [0, 1, 2];

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const modelFile = path.join(args.models, MODEL);
  if (!fs.existsSync(modelFile)) throw new Error(`${modelFile}: missing (run scripts/setup.sh)`);
  // One thread and no graph rewrites: the file's graph run op by op, repeatably.
  const session = await ort.InferenceSession.create(modelFile, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 1, interOpNumThreads: 1 });

  if (args.image) {
    const img = decodeJpeg(args.image);
    for (const box of args.boxes) {
      const rect = cropRect(img.width, img.height, box);
      const bgr = await run(session, netInput(img, rect, BGR));
      const rgb = await run(session, netInput(img, rect, RGB));
      console.log(JSON.stringify({ image: args.image, box, rect, live_bgr: bgr.softmax[0], live_rgb: rgb.softmax[0] }));
    }
    return;
  }

  const fixture = { model: MODEL, onnxruntime: ort.env.versions?.common ?? 'onnxruntime-node',
                    input: [1, 3, SIZE, SIZE], synthetic: [], crops: [] };
  for (const seed of [1, 2, 3]) {
    const r = await run(session, syntheticInput(seed));
    fixture.synthetic.push({ seed, logits: r.logits, softmax: r.softmax });
  }
  for (const k of [1, 2, 3]) {
    const golden = JSON.parse(fs.readFileSync(path.join(repo, 'tests', 'data', 'faceapi', `sample${k}.json`), 'utf8'));
    const img = decodeJpeg(path.join(args.models, golden.image));
    for (const face of golden.ssd.faces) {
      const rect = cropRect(img.width, img.height, face.box);
      const inBgr = netInput(img, rect, BGR), inRgb = netInput(img, rect, RGB);
      const bgr = await run(session, inBgr), rgb = await run(session, inRgb);
      fixture.crops.push({ image: golden.image, box: face.box, rect, input_checksum_bgr: checksum(inBgr),
                           bgr: bgr, rgb: rgb });
    }
  }
  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify(fixture) + '\n');
  console.log(`wrote ${args.out}: ${fixture.synthetic.length} synthetic inputs, ${fixture.crops.length} crops`);
}

main().catch((e) => { console.error(`liveness_reference: ${e.message}`); process.exit(1); });
