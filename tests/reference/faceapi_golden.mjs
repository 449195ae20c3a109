// faceapi_golden.mjs: runs the reference face-api.js (the npm package unpacked by
// scripts/setup.sh into <models>/face-api) on the demo images and writes the golden fixtures
// tests/data/faceapi/*.json that the C networks are compared against.
//
//   node tests/reference/faceapi_golden.mjs [--models DIR] [--out DIR] [image.jpg ...]
//
// --models (or env FACEREC_MODELS) is the folder holding face-api/ (default: models/ at
// the repository root); --out defaults to tests/data/faceapi. Without image arguments it
// processes face-api/demo/sample1.jpg..sample3.jpg and the synthetic-input fixture.
// Pixels come from `djpeg` (libjpeg-turbo, default settings), the same decoder as the C
// library, so both sides see identical RGB bytes. Everything runs on tfjs' 'cpu' backend.
// See README.md (fields) and FACEAPI_NOTES.md (preprocessing semantics).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

function parseArgs(argv) {
  const args = { models: process.env.FACEREC_MODELS || path.join(repo, 'models'),
                 out: path.join(repo, 'tests', 'data', 'faceapi'), images: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--models') args.models = argv[++i];
    else if (argv[i] === '--out') args.out = argv[++i];
    else if (argv[i].startsWith('--')) throw new Error(`unknown option ${argv[i]}`);
    else args.images.push(argv[i]);
  }
  if (!args.models || !args.out) throw new Error('--models and --out need a value');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const faceapiDir = path.join(args.models, 'face-api');
if (!fs.existsSync(path.join(faceapiDir, 'dist', 'face-api.esm.js'))) {
  throw new Error(`${faceapiDir}: no dist/face-api.esm.js (run scripts/setup.sh or pass --models)`);
}

// The ESM bundle carries its own tfjs. On Node that tfjs would pick its 'node' platform,
// whose util/TextEncoder import was stubbed out by the bundler and throws at load time.
// Declaring a worker scope for the duration of the import makes it take the 'browser'
// platform instead (plain fetch/TextEncoder globals, which Node 20 has); face-api itself
// still detects Node. No kernel depends on the platform: the maths is the 'cpu' backend's.
globalThis.WorkerGlobalScope = function WorkerGlobalScope() {};
const faceapi = await import(pathToFileURL(path.join(faceapiDir, 'dist', 'face-api.esm.js')).href);
delete globalThis.WorkerGlobalScope;
const { tf } = faceapi;
if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend did not initialise');
await tf.ready();

// ---- weights ----------------------------------------------------------------------------
// A weight map straight from the tfjs manifest: every group's shard files concatenated, then
// decoded (and uint8-dequantised: value = min + scale * q) by tf.io.decodeWeights.
function loadWeightMap(name) {
  const modelDir = path.join(faceapiDir, 'model');
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, `${name}-weights_manifest.json`), 'utf8'));
  const map = {};
  for (const group of manifest) {
    const bytes = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(modelDir, p))));
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    Object.assign(map, tf.io.decodeWeights(buffer, group.weights));
  }
  return map;
}

faceapi.nets.ssdMobilenetv1.loadFromWeightMap(loadWeightMap('ssd_mobilenetv1_model'));
faceapi.nets.tinyFaceDetector.loadFromWeightMap(loadWeightMap('tiny_face_detector_model'));
faceapi.nets.faceLandmark68Net.loadFromWeightMap(loadWeightMap('face_landmark_68_model'));
faceapi.nets.faceLandmark68TinyNet.loadFromWeightMap(loadWeightMap('face_landmark_68_tiny_model'));
faceapi.nets.faceRecognitionNet.loadFromWeightMap(loadWeightMap('face_recognition_model'));

// ---- pixels -----------------------------------------------------------------------------
// Binary PPM (P6, maxval 255) from `djpeg -rgb -ppm`: header tokens separated by whitespace,
// '#' comments to end of line, exactly one whitespace byte before the raster.
function parsePpm(buf, name) {
  let pos = 0;
  const token = () => {
    for (;;) {
      while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos]))) pos++;
      if (buf[pos] !== 0x23) break;
      while (pos < buf.length && buf[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    return buf.toString('latin1', start, pos);
  };
  const magic = token();
  const width = Number(token());
  const height = Number(token());
  const maxval = Number(token());
  pos++;
  if (magic !== 'P6' || maxval !== 255 || !(width > 0) || !(height > 0)) {
    throw new Error(`${name}: djpeg gave an unexpected PPM header (${magic} ${width}x${height} max ${maxval})`);
  }
  const size = width * height * 3;
  if (buf.length - pos < size) throw new Error(`${name}: PPM raster truncated`);
  return { width, height, rgb: new Uint8Array(buf.buffer, buf.byteOffset + pos, size) };
}

function decodeJpeg(file) {
  const res = spawnSync('djpeg', ['-rgb', '-ppm', file], { maxBuffer: 1 << 30 });
  if (res.error) throw new Error(`djpeg: ${res.error.message} (apt-get install libjpeg-turbo-progs)`);
  if (res.status !== 0) throw new Error(`djpeg ${file}: ${res.stderr.toString().trim()}`);
  return parsePpm(res.stdout, file);
}

// ---- helpers ----------------------------------------------------------------------------
const boxArray = (b) => [b.x, b.y, b.width, b.height];
const points = (landmarks) => landmarks.positions.map((p) => [p.x, p.y]);

function assertSame(a, b, what) {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`internal check failed: ${what} differ`);
}

// The SSD candidates before NMS with the highest scores: index into the 5118 anchors, the
// sigmoid score and the decoded box [ymin, xmin, ymax, xmax] in the padded 512x512 frame's
// relative coordinates (before clipping to [0,1] and un-padding).
async function ssdRawTop(input, count) {
  const netInput = await faceapi.toNetInput(input);
  const { boxes, scores } = faceapi.nets.ssdMobilenetv1.forwardInput(netInput);
  const scoreData = Array.from(scores[0].dataSync());
  const boxData = boxes[0].arraySync();
  tf.dispose([boxes, scores]);
  const order = scoreData.map((s, i) => i).sort((a, b) => scoreData[b] - scoreData[a] || a - b);
  return { num_anchors: scoreData.length,
           top: order.slice(0, count).map((i) => ({ index: i, score: scoreData[i], box: boxData[i] })) };
}

// Raw landmark-net output for one face crop: 136 values (x0, y0, x1, y1, ...) relative to
// the 112x112 padded net input, before face-api's un-padding post-processing.
async function landmarkRaw(net, faceTensor) {
  const netInput = await faceapi.toNetInput(faceTensor);
  const out = net.runNet(netInput);
  const values = Array.from(out.dataSync());
  out.dispose();
  return values;
}

// What a network actually receives, before its normalisation: the float batch tensor that
// face-api's NetInput.toBatchTensor(size, centred) makes from `input` (pad to square, then
// bilinear resize). Stored as its sum and 8 probe pixels [y, x, r, g, b] at
// y = (97*k + 13) % size, x = (61*k + 29) % size for k = 0..7.
async function netInputProbe(input, size, centred) {
  const netInput = await faceapi.toNetInput(input);
  const batch = netInput.toBatchTensor(size, centred);
  const data = batch.dataSync();
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  const samples = [];
  for (let k = 0; k < 8; k++) {
    const y = (97 * k + 13) % size;
    const x = (61 * k + 29) % size;
    const at = (y * size + x) * 3;
    samples.push([y, x, data[at], data[at + 1], data[at + 2]]);
  }
  batch.dispose();
  return { size, sum, samples };
}

async function ssdFixture(imageRel, image) {
  const input = tf.tensor3d(Int32Array.from(image.rgb), [image.height, image.width, 3], 'int32');
  const ssdOptions = new faceapi.SsdMobilenetv1Options();
  const tinyOptions = new faceapi.TinyFaceDetectorOptions();

  const ssd = await faceapi.detectAllFaces(input, ssdOptions);
  const tiny = await faceapi.detectAllFaces(input, tinyOptions);
  const full = await faceapi.detectAllFaces(input, ssdOptions).withFaceLandmarks().withFaceDescriptors();
  const withTiny = await faceapi.detectAllFaces(input, ssdOptions).withFaceLandmarks(true);
  if (full.length !== ssd.length || withTiny.length !== ssd.length) {
    throw new Error(`${imageRel}: face counts differ between the composed tasks`);
  }

  // Re-derive the crops face-api takes internally, and check they reproduce its results.
  const landmarkCrops = ssd.map((d) => d.box.clipAtImageBorders(image.width, image.height));
  const descriptorBoxes = full.map((r) => r.landmarks.align(null, { useDlibAlignment: true }));
  const descriptorCrops = descriptorBoxes.map((b) => b.clipAtImageBorders(image.width, image.height));
  const landmarkFaces = await faceapi.extractFaceTensors(input, ssd);
  const descriptorFaces = await faceapi.extractFaceTensors(input, descriptorBoxes);
  const landmarks68Raw = [];
  const landmarks68TinyRaw = [];
  const landmarkInputs = [];
  const descriptorInputs = [];
  for (let i = 0; i < ssd.length; i++) {
    const direct = await faceapi.nets.faceLandmark68Net.detectLandmarks(landmarkFaces[i]);
    assertSame(points(direct), points(full[i].unshiftedLandmarks), 'full landmarks');
    const descriptor = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(descriptorFaces[i]);
    assertSame(Array.from(descriptor), Array.from(full[i].descriptor), 'descriptors');
    assertSame(descriptorFaces[i].shape, [descriptorCrops[i].height, descriptorCrops[i].width, 3], 'descriptor crop');
    landmarks68Raw.push(await landmarkRaw(faceapi.nets.faceLandmark68Net, landmarkFaces[i]));
    landmarks68TinyRaw.push(await landmarkRaw(faceapi.nets.faceLandmark68TinyNet, landmarkFaces[i]));
    landmarkInputs.push(await netInputProbe(landmarkFaces[i], 112, true));
    descriptorInputs.push(await netInputProbe(descriptorFaces[i], 150, true));
  }
  tf.dispose([...landmarkFaces, ...descriptorFaces]);

  const fixture = {
    image: imageRel,
    width: image.width,
    height: image.height,
    ssd: { min_score: ssdOptions.minConfidence, max_results: ssdOptions.maxResults,
           faces: ssd.map((d) => ({ box: boxArray(d.box), score: d.score })) },
    tiny: { input_size: tinyOptions.inputSize, min_score: tinyOptions.scoreThreshold,
            faces: tiny.map((d) => ({ box: boxArray(d.box), score: d.score })) },
    landmarks68: full.map((r) => points(r.landmarks)),
    landmarks68_tiny: withTiny.map((r) => points(r.landmarks)),
    aligned_boxes: descriptorBoxes.map(boxArray),
    descriptors: full.map((r) => Array.from(r.descriptor)),
    // Intermediates that isolate one stage each (see README.md).
    ssd_raw: await ssdRawTop(input, 20),
    landmark_crops: landmarkCrops.map(boxArray),
    landmarks68_raw: landmarks68Raw,
    landmarks68_tiny_raw: landmarks68TinyRaw,
    descriptor_crops: descriptorCrops.map(boxArray),
    aligned_rects_minbbox: full.map((r) => boxArray(r.alignedRect.box)),
    ssd_net_input: await netInputProbe(input, 512, false),
    tiny_net_input: await netInputProbe(input, tinyOptions.inputSize, false),
    landmark_net_inputs: landmarkInputs,
    descriptor_net_inputs: descriptorInputs,
    image_rgb_checksum: rgbChecksum(image.rgb),
  };
  input.dispose();
  return fixture;
}

// A cheap fingerprint of the decoded pixels so a C test can confirm it decodes the same
// bytes: the sum over all bytes of (byte * (index % 251 + 1)), modulo 2^32.
function rgbChecksum(rgb) {
  let sum = 0;
  for (let i = 0; i < rgb.length; i++) sum = (sum + rgb[i] * ((i % 251) + 1)) % 4294967296;
  return sum;
}

// ---- synthetic input --------------------------------------------------------------------
// A fixed pattern, so each network can be checked on its own without any JPEG decoding or
// cropping: pixel (y, x, c) = (7*x + 13*y + 101*c + ((x*y) % 17)) % 256.
function syntheticImage(width, height) {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = (7 * x + 13 * y + 101 * c + ((x * y) % 17)) % 256;
    }
  }
  return { width, height, rgb };
}

async function syntheticFixture() {
  const tensorOf = (img) => tf.tensor3d(Int32Array.from(img.rgb), [img.height, img.width, 3], 'int32');
  const face = syntheticImage(150, 150);
  const faceTensor = tensorOf(face);
  const descriptor = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(faceTensor);
  const lmInput = syntheticImage(112, 112);
  const lmTensor = tensorOf(lmInput);
  const ssdInput = syntheticImage(512, 512);
  const ssdTensor = tensorOf(ssdInput);
  const tinyInput = syntheticImage(416, 416);
  const tinyTensor = tensorOf(tinyInput);
  const tinyOut = faceapi.nets.tinyFaceDetector.forwardInput(await faceapi.toNetInput(tinyTensor), 416);
  const tinyValues = Array.from(tinyOut.dataSync());
  const fixture = {
    pattern: 'pixel(y, x, c) = (7*x + 13*y + 101*c + ((x*y) % 17)) % 256',
    descriptor_input: [face.width, face.height],
    descriptor: Array.from(descriptor),
    landmarks_input: [lmInput.width, lmInput.height],
    landmarks68_raw: await landmarkRaw(faceapi.nets.faceLandmark68Net, lmTensor),
    landmarks68_tiny_raw: await landmarkRaw(faceapi.nets.faceLandmark68TinyNet, lmTensor),
    ssd_input: [ssdInput.width, ssdInput.height],
    ssd_raw: await ssdRawTop(ssdTensor, 20),
    tiny_input: [tinyInput.width, tinyInput.height],
    tiny_raw_shape: tinyOut.shape,
    tiny_raw: tinyValues,
  };
  tf.dispose([faceTensor, lmTensor, ssdTensor, tinyTensor, tinyOut]);
  return fixture;
}

// ---- main -------------------------------------------------------------------------------
fs.mkdirSync(args.out, { recursive: true });
const images = args.images.length ? args.images.map((p) => path.resolve(p))
  : [1, 2, 3].map((k) => path.join(faceapiDir, 'demo', `sample${k}.jpg`));
for (const file of images) {
  const rel = path.relative(args.models, file).split(path.sep).join('/');
  const fixture = await ssdFixture(rel, decodeJpeg(file));
  const outFile = path.join(args.out, `${path.basename(file, path.extname(file))}.json`);
  fs.writeFileSync(outFile, `${JSON.stringify(fixture)}\n`);
  console.log(`${outFile}: ${fixture.ssd.faces.length} ssd faces, ${fixture.tiny.faces.length} tiny faces`);
}
if (!args.images.length) {
  const outFile = path.join(args.out, 'synthetic.json');
  fs.writeFileSync(outFile, `${JSON.stringify(await syntheticFixture())}\n`);
  console.log(`${outFile}: written`);
}
