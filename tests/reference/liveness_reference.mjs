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
// djpeg ignores the EXIF orientation, which fr_image_load applies: so do we, the same way
// (src/image/decode_jpeg.c), so that boxes found by the C detector fit these pixels.

function exifOrientation(jpeg) {
  let pos = 2;
  while (pos + 4 <= jpeg.length && jpeg[pos] === 0xff) {
    const marker = jpeg[pos + 1], len = (jpeg[pos + 2] << 8) | jpeg[pos + 3];
    if (marker === 0xda) break; // start of scan: no more metadata
    const seg = jpeg.subarray(pos + 4, pos + 2 + len);
    if (marker === 0xe1 && seg.length >= 14 && seg.toString('latin1', 0, 6) === 'Exif\0\0') {
      const tiff = seg.subarray(6);
      const le = tiff.toString('latin1', 0, 2) === 'II';
      const u16 = (o) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
      const u32 = (o) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
      const ifd = u32(4);
      if (ifd + 2 > tiff.length) return 1;
      for (let i = 0, n = u16(ifd); i < n && ifd + 2 + i * 12 + 12 <= tiff.length; i++) {
        const e = ifd + 2 + i * 12;
        if (u16(e) !== 0x0112) continue;
        const type = u16(e + 2), v = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : 0;
        return v >= 1 && v <= 8 ? v : 1;
      }
      return 1;
    }
    pos += 2 + len;
  }
  return 1;
}

function applyOrientation(img, orientation) {
  const { width: w, height: h } = img;
  const m = { 2: [-1, 0, w - 1, 0, 1, 0], 3: [-1, 0, w - 1, 0, -1, h - 1], 4: [1, 0, 0, 0, -1, h - 1],
              5: [0, 1, 0, 1, 0, 0], 6: [0, 1, 0, -1, 0, h - 1], 7: [0, -1, w - 1, -1, 0, h - 1],
              8: [0, -1, w - 1, 1, 0, 0] }[orientation];
  if (!m) return img;
  const [ax, bx, cx, ay, by, cy] = m;
  const ow = orientation >= 5 ? h : w, oh = orientation >= 5 ? w : h;
  const rgb = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      const sx = ax * x + bx * y + cx, sy = ay * x + by * y + cy;
      for (let c = 0; c < 3; c++) rgb[(y * ow + x) * 3 + c] = img.rgb[(sy * w + sx) * 3 + c];
    }
  return { width: ow, height: oh, rgb };
}

function decodeJpeg(file) {
  return applyOrientation(decodeJpegRaw(file), exifOrientation(fs.readFileSync(file)));
}

function decodeJpegRaw(file) {
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

// ---- ops.onnx: a small model of every operator the C evaluator runs ---------------------
// Protocol Buffers written by hand (field numbers of onnx/onnx.proto), so that the C test
// checks the operators the liveness net does not use (Gemm, Flatten, Softmax, a reshape of
// a map larger than 1x1, Unsqueeze by attribute) against ONNX Runtime too. The file is also
// the seed of the fuzz target fuzz_onnx.

function varint(v) {
  const out = [];
  let x = BigInt.asUintN(64, BigInt(v));
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return out;
}
const key = (field, wire) => varint((field << 3) | wire);
const pbInt = (field, v) => [...key(field, 0), ...varint(v)];
const pbBytes = (field, bytes) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const pbStr = (field, s) => pbBytes(field, [...Buffer.from(s, 'utf8')]);
const pbFloat = (field, v) => [...key(field, 5), ...new Uint8Array(new Float32Array([v]).buffer)];

function tensorProto(name, dims, values, type = 1) {
  const raw = type === 1 ? new Uint8Array(new Float32Array(values).buffer)
                         : new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer);
  return [...dims.flatMap((d) => pbInt(1, d)), ...pbInt(2, type), ...pbStr(8, name), ...pbBytes(9, [...raw])];
}
const attrInt = (name, v) => pbBytes(5, [...pbStr(1, name), ...pbInt(20, 2), ...pbInt(3, v)]);
const attrFloat = (name, v) => pbBytes(5, [...pbStr(1, name), ...pbInt(20, 1), ...pbFloat(2, v)]);
const attrInts = (name, vs) => pbBytes(5, [...pbStr(1, name), ...pbInt(20, 7), ...vs.flatMap((v) => pbInt(8, v))]);
const attrTensor = (name, t) => pbBytes(5, [...pbStr(1, name), ...pbInt(20, 4), ...pbBytes(5, t)]);
function nodeProto(op, inputs, outputs, attrs = []) {
  return pbBytes(1, [...inputs.flatMap((n) => pbStr(1, n)), ...outputs.flatMap((n) => pbStr(2, n)),
                     ...pbStr(3, `${op}_${outputs[0]}`), ...pbStr(4, op), ...attrs.flat()]);
}
function valueInfo(field, name, dims) {
  const shape = dims.flatMap((d) => pbBytes(1, pbInt(1, d)));
  const tensorType = [...pbInt(1, 1), ...pbBytes(2, shape)];
  return pbBytes(field, [...pbStr(1, name), ...pbBytes(2, pbBytes(1, tensorType))]);
}
// Deterministic weights in [-scale/2, scale/2).
const weights = (n, k, scale) => Array.from({ length: n }, (_, i) => (((i * 7919 + k * 104729) % 1000) / 1000 - 0.5) * scale);

const OPS_INPUT = [1, 4, 6, 6];
function opsModel() {
  const init = [
    tensorProto('W1', [8, 4, 3, 3], weights(288, 1, 0.6)), tensorProto('B1', [8], weights(8, 2, 0.2)),
    tensorProto('S1', [8, 1, 1], weights(8, 3, 0.5)),
    tensorProto('Wd', [8, 1, 3, 3], weights(72, 4, 0.8)), tensorProto('Bd', [8], weights(8, 5, 0.2)),
    tensorProto('gamma', [8], weights(8, 6, 0.5).map((x) => x + 1)), tensorProto('beta', [8], weights(8, 7, 0.4)),
    tensorProto('mean', [8], weights(8, 8, 0.3)), tensorProto('var', [8], weights(8, 9, 0.5).map((x) => x + 0.5)),
    tensorProto('Wm', [72, 10], weights(720, 10, 0.4)),
    tensorProto('Wg', [10, 72], weights(720, 11, 0.4)), tensorProto('Cg', [10], weights(10, 12, 0.3)),
    tensorProto('minus1', [1], [-1], 7),
  ].map((t) => pbBytes(5, t));
  const nodes = [
    nodeProto('Conv', ['X', 'W1', 'B1'], ['c1'], [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 2]), attrInts('pads', [1, 0, 1, 1]), attrInts('dilations', [1, 1]), attrInt('group', 1)]),
    nodeProto('PRelu', ['c1', 'S1'], ['p1']),
    nodeProto('Conv', ['p1', 'Wd', 'Bd'], ['d1'], [attrInts('pads', [1, 1, 1, 1]), attrInt('group', 8)]),
    nodeProto('BatchNormalization', ['d1', 'gamma', 'beta', 'mean', 'var'], ['b1'], [attrFloat('epsilon', 1e-3)]),
    nodeProto('Relu', ['b1'], ['r1']),
    nodeProto('GlobalAveragePool', ['r1'], ['g1']),
    nodeProto('Sigmoid', ['g1'], ['s1']),
    nodeProto('Mul', ['r1', 's1'], ['m1']),
    nodeProto('Add', ['m1', 'p1'], ['a1']),
    nodeProto('Shape', ['a1'], ['sh']),
    nodeProto('Constant', [], ['zero'], [attrTensor('value', tensorProto('', [], [0], 7))]),
    nodeProto('Gather', ['sh', 'zero'], ['n'], [attrInt('axis', 0)]),
    nodeProto('Unsqueeze', ['n'], ['n1'], [attrInts('axes', [0])]),
    nodeProto('Concat', ['n1', 'minus1'], ['target'], [attrInt('axis', 0)]),
    nodeProto('Reshape', ['a1', 'target'], ['rs']),
    nodeProto('MatMul', ['rs', 'Wm'], ['mm']),
    nodeProto('Flatten', ['a1'], ['fl'], [attrInt('axis', 1)]),
    nodeProto('Gemm', ['fl', 'Wg', 'Cg'], ['gm'], [attrInt('transB', 1), attrFloat('alpha', 0.5), attrFloat('beta', 2)]),
    nodeProto('Add', ['mm', 'gm'], ['sum']),
    nodeProto('Softmax', ['sum'], ['Y'], [attrInt('axis', 1)]),
  ];
  const graph = [...nodes.flat(), ...pbStr(2, 'ops'), ...init.flat(),
                 ...valueInfo(11, 'X', OPS_INPUT), ...valueInfo(12, 'Y', [1, 10])];
  const opset = pbBytes(8, [...pbStr(1, ''), ...pbInt(2, 11)]);
  return new Uint8Array([...pbInt(1, 6), ...pbStr(2, 'facerec'), ...opset, ...pbBytes(7, graph)]);
}

// Input of ops.onnx: value i (NCHW) = ((i * 2654435761 + 40503) mod 2^32) mod 256 / 64 - 2.
function opsInput() {
  const n = OPS_INPUT.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((Math.imul(i, 2654435761) + 40503) >>> 0) % 256) / 64 - 2;
  return out;
}

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
  const opsFile = path.join(path.dirname(args.out), 'ops.onnx');
  fs.writeFileSync(opsFile, opsModel());
  const opsSession = await ort.InferenceSession.create(opsFile, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, interOpNumThreads: 1 });
  const opsOut = await opsSession.run({ X: new ort.Tensor('float32', opsInput(), OPS_INPUT) });
  fixture.ops = { model: 'ops.onnx', input: OPS_INPUT, output: Array.from(opsOut.Y.data) };
  fs.writeFileSync(args.out, JSON.stringify(fixture) + '\n');
  console.log(`wrote ${args.out}: ${fixture.synthetic.length} synthetic inputs, ${fixture.crops.length} crops`);
}

main().catch((e) => { console.error(`liveness_reference: ${e.message}`); process.exit(1); });
