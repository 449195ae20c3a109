#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Every seed is made here from scratch (no file of a data set or a model): small valid inputs
of each format and a few near-misses. The files are committed, and beside them the
regression-* inputs that once made a target fail (kept by hand). Rerun this script after
changing it; it needs only Python's standard library, and cjpeg (libjpeg-turbo-progs) for the
JPEG seeds. The output is the same on every run."""
import json
import os
import struct
import subprocess
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def pixels(w, h, channels, maxval=255):
    """A deterministic test pattern, row-major, `channels` samples per pixel."""
    return [[(x * 53 + y * 97 + c * 71) % (maxval + 1) for x in range(w) for c in range(channels)]
            for y in range(h)]


# ---- images ----

def pnm_seeds():
    w, h = 5, 3
    rgb, grey = pixels(w, h, 3), pixels(w, h, 1)
    write("fuzz_image", "p6.ppm", b"P6\n# ours\n5 3\n255\n" + bytes(v for row in rgb for v in row))
    write("fuzz_image", "p5.pgm", b"P5 5 3 255\n" + bytes(v for row in grey for v in row))
    deep = pixels(w, h, 3, 65535)
    write("fuzz_image", "p6-16bit.ppm",
          b"P6\n5 3\n65535\n" + b"".join(struct.pack(">H", v) for row in deep for v in row))
    write("fuzz_image", "p3.ppm", "P3\n5 3\n255\n" + "\n".join(" ".join(map(str, row)) for row in rgb) + "\n")
    write("fuzz_image", "p2.pgm", "P2\n5 3\n15\n" + "\n".join(" ".join(str(v % 16) for v in row) for row in grey))


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(w, h, colour_type, depth, rows, extra=b"", interlace=0):
    """rows: per row, the raw sample bytes (already packed for the depth)."""
    if interlace:
        raw = adam7(w, h, colour_type, depth, rows)
    else:
        raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra +
            png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def adam7(w, h, colour_type, depth, rows):
    """Interlaced scanlines for 8-bit samples (the seeds only interlace those)."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type] * depth // 8
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = b""
    for x0, y0, dx, dy in passes:
        for y in range(y0, h, dy):
            line = b"".join(rows[y][x * channels:(x + 1) * channels] for x in range(x0, w, dx))
            if line:
                out += b"\x00" + line
    return out


def png_seeds():
    w, h = 6, 4
    rgb = [bytes(r) for r in pixels(w, h, 3)]
    rgba = [bytes(r) for r in pixels(w, h, 4)]
    grey = [bytes(r) for r in pixels(w, h, 1)]
    write("fuzz_image", "rgb8.png", png(w, h, 2, 8, rgb))
    write("fuzz_image", "rgba8.png", png(w, h, 6, 8, rgba))
    write("fuzz_image", "grey8.png", png(w, h, 0, 8, grey))
    write("fuzz_image", "grey-alpha8.png", png(w, h, 4, 8, [bytes(r) for r in pixels(w, h, 2)]))
    write("fuzz_image", "grey16.png",
          png(w, h, 0, 16, [b"".join(struct.pack(">H", v) for v in r) for r in pixels(w, h, 1, 65535)]))
    palette = bytes(v for i in range(4) for v in (i * 60, 255 - i * 60, 128))
    packed = [bytes([(r[0] % 4) << 6 | (r[1] % 4) << 4 | (r[2] % 4) << 2 | (r[3] % 4),
                     (r[4] % 4) << 6 | (r[5] % 4) << 4]) for r in pixels(w, h, 1)]
    write("fuzz_image", "palette2bit-trns.png",
          png(w, h, 3, 2, packed, png_chunk(b"PLTE", palette) + png_chunk(b"tRNS", b"\x00\x80")))
    write("fuzz_image", "rgb8-interlaced.png", png(w, h, 2, 8, rgb, interlace=1))


def lzw_encode(indices, min_code_size):
    """GIF's variable-length LZW, with a clear code first and the end code last."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    table = {bytes([i]): i for i in range(clear)}
    next_code, size = end + 1, min_code_size + 1
    bits, nbits, out = 0, 0, bytearray()

    def emit(code):
        nonlocal bits, nbits
        bits |= code << nbits
        nbits += size
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8

    emit(clear)
    prefix = b""
    for i in indices:
        s = prefix + bytes([i])
        if s in table:
            prefix = s
            continue
        emit(table[prefix])
        if next_code < 4096:
            table[s] = next_code
            next_code += 1
            if next_code > (1 << size) and size < 12:
                size += 1
        prefix = bytes([i])
    if prefix:
        emit(table[prefix])
    emit(end)
    if nbits:
        out.append(bits & 0xFF)
    return bytes(out)


def gif(w, h, frames, version=b"GIF89a", transparent=None, interlaced=False):
    palette = bytes(v for i in range(4) for v in (i * 80, 200 - i * 50, 40 + i * 30))
    out = version + struct.pack("<HHBBB", w, h, 0xF1, 0, 0) + palette
    for k, indices in enumerate(frames):
        if transparent is not None:
            out += b"\x21\xF9\x04" + bytes([1, 10, 0, transparent, 0])
        flags = 0x40 if interlaced else 0
        out += b"\x2C" + struct.pack("<HHHHB", 0, 0, w, h, flags)
        data = lzw_encode(indices, 2)
        out += b"\x02" + b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255]
                                  for i in range(0, len(data), 255)) + b"\x00"
    return out + b"\x3B"


def gif_seeds():
    w, h = 7, 5
    a = [(x + y) % 4 for y in range(h) for x in range(w)]
    b = [(x * y) % 4 for y in range(h) for x in range(w)]
    write("fuzz_image", "87a.gif", gif(w, h, [a], b"GIF87a"))
    write("fuzz_image", "89a-transparent-two-frames.gif", gif(w, h, [a, b], transparent=2))
    write("fuzz_image", "89a-interlaced.gif", gif(w, h, [b], interlaced=True))


def exif_app1(orientation, big_endian):
    """An APP1 Exif segment whose IFD0 holds only the orientation."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    tiff += struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(e + "I", 0)
    body = b"Exif\x00\x00" + tiff
    return b"\xFF\xE1" + struct.pack(">H", len(body) + 2) + body


def jpeg_seeds():
    w, h = 9, 6
    rgb = pixels(w, h, 3)
    with tempfile.TemporaryDirectory() as tmp:
        ppm = os.path.join(tmp, "in.ppm")
        with open(ppm, "wb") as f:
            f.write(b"P6\n9 6\n255\n" + bytes(v for row in rgb for v in row))

        def cjpeg(*args):
            return subprocess.run(["cjpeg", "-quality", "80", *args, ppm], check=True,
                                  capture_output=True).stdout

        base = cjpeg()
        write("fuzz_image", "baseline.jpg", base)
        write("fuzz_image", "progressive.jpg", cjpeg("-progressive"))
        write("fuzz_image", "grey.jpg", cjpeg("-grayscale"))
        write("fuzz_image", "restart.jpg", cjpeg("-restart", "1", "-sample", "1x1"))
        # EXIF orientation (every value, both byte orders) right after SOI
        for orientation in range(1, 9):
            for big in (False, True):
                name = "exif-orientation%d-%s.jpg" % (orientation, "mm" if big else "ii")
                write("fuzz_image", name, base[:2] + exif_app1(orientation, big) + base[2:])


# ---- tfjs manifests and shards (manifest, NUL, the bytes of a.bin, also written as b.bin) ----

def tfjs_seeds():
    def seed(name, manifest, shard):
        write("fuzz_tfjs", name, json.dumps(manifest).encode() + b"\x00" + shard)

    f32 = struct.pack("<6f", 0.5, -1.25, 3.0, 0.0, 1e-3, -7.5)
    seed("float32", [{"paths": ["a.bin"], "weights": [{"name": "conv/kernel", "shape": [1, 2, 3], "dtype": "float32"}]}], f32)
    seed("int32", [{"paths": ["a.bin"], "weights": [{"name": "idx", "shape": [3], "dtype": "int32"}]}],
         struct.pack("<3i", -2, 0, 70000))
    seed("uint8-quantised", [{"paths": ["a.bin"], "weights": [
        {"name": "q8", "shape": [2, 2], "dtype": "float32",
         "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.0078125}},
        {"name": "q8i", "shape": [2], "dtype": "int32",
         "quantization": {"dtype": "uint8", "min": 0.5, "scale": 1.5}}]}], bytes([0, 128, 255, 7, 1, 2]))
    seed("uint16-and-float16", [{"paths": ["a.bin"], "weights": [
        {"name": "q16", "shape": [2], "dtype": "float32",
         "quantization": {"dtype": "uint16", "min": -2.0, "scale": 6.1e-05}},
        {"name": "half", "shape": [2, 1], "dtype": "float32", "quantization": {"dtype": "float16"}}]}],
         struct.pack("<HHHH", 0, 65535, 0x3C00, 0xC000))
    seed("two-groups-two-shards", [
        {"paths": ["a.bin", "b.bin"], "weights": [{"name": "w1", "shape": [4], "dtype": "float32"}]},
        {"paths": ["a.bin"], "weights": [{"name": "w2", "shape": [1, 1, 2], "dtype": "float32"}]}],
         struct.pack("<2f", 1.0, 2.0))
    seed("scalar-shape", [{"paths": ["a.bin"], "weights": [{"name": "s", "shape": [], "dtype": "float32"}]}],
         struct.pack("<f", 4.0))
    seed("short-shard", [{"paths": ["a.bin"], "weights": [{"name": "x", "shape": [8], "dtype": "float32"}]}],
         struct.pack("<2f", 1.0, 2.0))


# ---- JSON documents ----

def json_seeds():
    docs = {
        "manifest": '[{"paths": ["a.bin"], "weights": [{"name": "x", "shape": [2, 3], "dtype": "float32",'
                    ' "quantization": {"dtype": "uint8", "min": -0.5, "scale": 0.004}}]}]',
        "fixture": '{"image": "a.jpg", "faces": [{"box": [1.5, 2, 30e1, 4E-2], "score": 0.99}],'
                   ' "ok": true, "none": null, "neg": -0.0}',
        "escapes": '["\\" \\\\ \\/ \\b \\f \\n \\r \\t", "\\u00e9\\u20AC", "\\ud83d\\ude00", "caf\u00e9"]',
        "duplicates": '{"x": 1, "x": 2, "y": {"x": [[], {}]}}',
        "numbers": '[0, -1, 123456789012345678901234567890, 1e308, 2.2250738585072014e-308, 1e-400, 0.1]',
        "bom-scalar": '\ufeff"only a string"',
        "deep": "[" * 40 + "]" * 40,
    }
    for name, text in docs.items():
        write("fuzz_json", name, text)


# ---- Haar cascades (OpenCV's XML layout, made by hand) ----

HAAR = """<?xml version="1.0"?>
<!-- a cascade made for fuzzing -->
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>{h}</height>
  <width>{w}</width>
  <stageParams><maxWeakCount>2</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>{n_stages}</stageNum>
  <stages>
{stages}
  </stages>
  <features>
{features}
  </features>
</cascade>
</opencv_storage>
"""


def haar_seeds():
    stump = """    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>{thr}</stageThreshold>
      <weakClassifiers>
        <_>
          <internalNodes>
            0 -1 {f} {t}</internalNodes>
          <leafValues>
            -0.8 0.9</leafValues></_></weakClassifiers></_>"""
    tree = """    <_>
      <maxWeakCount>1</maxWeakCount>
      <stageThreshold>-0.5</stageThreshold>
      <weakClassifiers>
        <_>
          <internalNodes>
            1 -1 0 0.01 0 -2 1 -0.02</internalNodes>
          <leafValues>
            0.3 -0.7 0.6</leafValues></_></weakClassifiers></_>"""
    features = """    <_>
      <rects>
        <_>
          0 0 {w} {half} -1.</_>
        <_>
          0 {half} {w} {half} 2.</_></rects></_>
    <_>
      <rects>
        <_>
          2 2 4 4 -1.</_>
        <_>
          2 2 2 2 2.</_>
        <_>
          4 4 2 2 2.</_></rects>
      <tilted>0</tilted></_>"""
    w = h = 12
    f = features.format(w=w, half=h // 2)
    write("fuzz_haar", "one-stage.xml", HAAR.format(w=w, h=h, n_stages=1, stages=stump.format(thr=-1.5, f=0, t=0.5),
                                                   features=f))
    write("fuzz_haar", "three-stages-tree.xml",
          HAAR.format(w=w, h=h, n_stages=3,
                      stages=stump.format(thr=-1.0, f=0, t=-0.1) + "\n" + tree + "\n" + stump.format(thr=0.0, f=1, t=0.2),
                      features=f))
    write("fuzz_haar", "lbp.xml", HAAR.format(w=w, h=h, n_stages=1, stages=stump.format(thr=-1.5, f=0, t=0.5),
                                             features=f).replace("HAAR", "LBP"))


# ---- .frmodel files (layout in src/nn/import/frmodel.h) ----

def frmodel(model_id, input_hwc, preprocessing, tensors):
    def string(s):
        return struct.pack("<I", len(s)) + s.encode()
    out = b"FRMODEL1" + struct.pack("<I", 1) + string(model_id) + struct.pack("<3I", *input_hwc)
    out += string(preprocessing) + struct.pack("<I", len(tensors))
    for name, shape, values in tensors:
        record = string(name) + struct.pack("<I", len(shape)) + struct.pack("<%dI" % len(shape), *shape)
        record += struct.pack("<%df" % len(values), *values)
        out += record + struct.pack("<I", zlib.crc32(record))
    return out + struct.pack("<I", zlib.crc32(out))


def frmodel_seeds():
    write("fuzz_frmodel", "two-tensors.frmodel",
          frmodel("nn4small2", (96, 96, 3), "openface", [("conv1/kernel", [1, 1, 3, 2], [0.1 * i for i in range(6)]),
                                                         ("conv1/bias", [2], [0.5, -0.5])]))
    write("fuzz_frmodel", "no-tensors.frmodel", frmodel("head", (1, 1, 128), "none", []))
    write("fuzz_frmodel", "4d.frmodel",
          frmodel("x", (2, 2, 1), "p", [("t", [1, 1, 1, 2], [1.0, 2.0]), ("u", [3], [0.0, -0.0, 1e30])]))


# ---- Keras CSV (first byte: the number of values expected) ----

def keras_csv_seeds():
    write("fuzz_keras_csv", "six-values", bytes([6]) + b"0.1,-2.5e-3,3\n4,5.,-6\n")
    write("fuzz_keras_csv", "spaces-crlf", bytes([4]) + b" 1 2\r\n3 4\r\n")
    write("fuzz_keras_csv", "none", bytes([0]) + b"")
    write("fuzz_keras_csv", "one-per-line", bytes([3]) + b"1e-45\n-3.4e38\n0\n")


# ---- calibration files (format of fr_calibration_export) ----

def calibration_seeds():
    head = "facerec-calibration 1\n# made for fuzzing\nmodel m\ndim 128\nsource here\ngenuine_pairs 10\nimpostor_pairs 400\n"
    tables = "genuine 3\n0.001 0.2\n0.5 0.6\n0.999 1.1\nimpostor 2\n1e-05 0.9\n0.5 1.4\nend\n"
    write("fuzz_calibration", "valid.txt", head + tables)
    write("fuzz_calibration", "no-end.txt", head + tables.replace("end\n", ""))
    write("fuzz_calibration", "decreasing.txt", head + tables.replace("0.5 0.6", "0.5 0.1"))
    write("fuzz_calibration", "crlf.txt", (head + tables).replace("\n", "\r\n"))


# ---- gallery edits (see tests/fuzz/fuzz_gallery.c) ----

META, PEOPLE, TEMPLATES, CALIBRATION = 0, 1, 2, 3
SET, DELETE, COPY = 0, 1, 2
INTEGER, REAL, TEXT, BLOB, NULL = 0, 1, 2, 3, 4
# meta rows in key order: calibration_genuine_pairs, calibration_impostor_pairs,
# calibration_source, calibration_time, created, dim, format, model, model_version, schema
META_DIM, META_FORMAT, META_MODEL = 5, 6, 7
TEMPLATE_COLUMNS = ["id", "person_id", "embedding", "model", "model_version", "source", "sha256",
                    "x", "y", "w", "h", "quality", "added"]


def edit_set(table, row, column, kind, value=None):
    out = bytes([SET, table, row, column, kind])
    if kind == INTEGER:
        out += struct.pack("<q", value)
    elif kind == REAL:
        out += struct.pack("<d", value)
    elif kind in (TEXT, BLOB):
        out += bytes([len(value)]) + value
    return out


def gallery_seeds():
    col = TEMPLATE_COLUMNS.index
    nan_embedding = struct.pack("<8f", float("nan"), 0, 0, 0, 0, 0, 0, 0)
    seeds = {
        "unchanged": b"",
        "short-embedding": edit_set(TEMPLATES, 0, col("embedding"), BLOB, b"\x00\x00\x80\x3f"),
        "nan-embedding": edit_set(TEMPLATES, 1, col("embedding"), BLOB, nan_embedding),
        "embedding-as-text": edit_set(TEMPLATES, 2, col("embedding"), TEXT, b"0123456789abcdef0123456789abcdef"),
        "orphan-template": edit_set(TEMPLATES, 3, col("person_id"), INTEGER, 999),
        "dim-zero": edit_set(META, META_DIM, 1, TEXT, b"0"),
        "dim-huge": edit_set(META, META_DIM, 1, TEXT, b"2147483648"),
        "dim-negative": edit_set(META, META_DIM, 1, INTEGER, -8),
        "format-other": edit_set(META, META_FORMAT, 1, TEXT, b"facerec-gallery 99"),
        "model-with-slash": edit_set(META, META_MODEL, 1, TEXT, b"../../x"),
        "person-deleted": bytes([DELETE, PEOPLE, 1]),
        "copies": bytes([COPY, TEMPLATES, 0, COPY, PEOPLE, 2, COPY, CALIBRATION, 1]),
        "name-invalid-utf8": edit_set(PEOPLE, 0, 1, TEXT, b"\xff\xfe\x00x"),
        "calibration-p-out-of-range": edit_set(CALIBRATION, 0, 1, REAL, 2.0) +
        edit_set(CALIBRATION, 1, 2, REAL, float("nan")),
        "calibration-kind": edit_set(CALIBRATION, 2, 0, TEXT, b"other"),
        "calibration-emptied": b"".join(bytes([DELETE, CALIBRATION, 0]) for _ in range(40)),
        "box-infinite": edit_set(TEMPLATES, 0, col("x"), REAL, float("inf")) +
        edit_set(TEMPLATES, 0, col("quality"), TEXT, b"high"),
    }
    for name, data in seeds.items():
        write("fuzz_gallery", name, data)


# ---- trained head files and training caches (.frmodel files read by head.c and dataset.c) ----

def head_seeds():
    d, k = 4, 2
    kernel = [1.0 if i % (d + 1) == 0 else 0.25 for i in range(d * d)]
    write("fuzz_head", "linear.frmodel",
          frmodel("head", (1, 1, d), "mobilefacenet", [("head/kernel", [d, d], kernel), ("head/bias", [d], [0.0] * d)]))
    write("fuzz_head", "hidden.frmodel",
          frmodel("head", (1, 1, d), "dlib-resnet",
                  [("head/kernel", [d, d], kernel), ("head/bias", [d], [0.1] * d),
                   ("head/hidden/kernel", [d, k], [0.5, -0.5] * d), ("head/hidden/bias", [k], [0.0, 1.0]),
                   ("head/output/kernel", [k, d], [0.3] * (k * d)), ("head/output/bias", [d], [0.0] * d)]))
    write("fuzz_head", "missing-bias.frmodel",
          frmodel("head", (1, 1, d), "mobilefacenet", [("head/kernel", [d, d], kernel)]))


def train_cache_seeds():
    n, copies, dim = 3, 2, 4
    embeddings = [((i * 37) % 11 - 5) / 10 for i in range(n * copies * dim)]
    meta = [0.0, 1.0, 1.0] + [0.0, 2.0, 5.0] + [2.0]  # labels, photo indices, people
    write("fuzz_train_cache", "three-photos.frmodel",
          frmodel("train-cache", (1, copies, dim), "0000abcd",
                  [("embeddings", [n, copies, dim], embeddings), ("labels_sources_people", [2 * n + 1], meta)]))
    write("fuzz_train_cache", "other-key.frmodel",
          frmodel("train-cache", (1, copies, dim), "00001234",
                  [("embeddings", [n, copies, dim], embeddings), ("labels_sources_people", [2 * n + 1], meta)]))


# ---- evaluation files: landmarks references (facerec eval relight/landmarks), LFW pairs ----

def landmark_seeds():
    def line(name, shift):
        return name + "".join("\t%.2f\t%.2f" % (40 + k * 1.5 + shift, 60 + (k % 17) * 2.25) for k in range(68)) + "\n"
    write("fuzz_landmarks", "two-lines.tsv", line("s1/1.png", 0) + line("Aaron_Peirsol/Aaron_Peirsol_0001.png", 3.5))
    write("fuzz_landmarks", "outside.tsv", line("../s1/1.png", 0))
    write("fuzz_landmarks", "short.tsv", line("s1/1.png", 0)[:400] + "\n")
    write("fuzz_landmarks", "crlf.tsv", line("s1/1.png", 0).replace("\n", "\r\n"))


def pairs_seeds():
    view1 = "2\nAbel_Pacheco\t1\t4\nAkhmed_Zakayev\t1\t3\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\n" \
            "Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1\n"
    view2 = "2\t1\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\n" \
            "Akhmed_Zakayev\t1\t3\nAbel_Pacheco\t2\tDean_Barker\t1\n\n"
    write("fuzz_pairs", "view1.txt", view1)
    write("fuzz_pairs", "view2.txt", view2)
    write("fuzz_pairs", "view1-train-then-test", view1 + "\0" + view1.replace("Abel_Pacheco\t1\t4", "Abel_Pacheco\t2\t3"))
    write("fuzz_pairs", "short.txt", view1.rsplit("\n", 2)[0] + "\n")


# ---- prepared files: lists of changes to the valid file the target makes (fuzz_prepared.c) ----

def prepared_change(offset, xor):
    return struct.pack("<IB", offset, xor)


def prepared_seeds():
    length = lambda cut: struct.pack("<I", cut)[:3]  # the file's length: base + 64 - cut
    header_end = 192 + 8 * 1136  # the array table: after the fixed fields and the sources
    write("fuzz_prepared", "unchanged", length(64) + b"\x00")
    write("fuzz_prepared", "truncated", length(64 + 100) + b"\x00")
    write("fuzz_prepared", "longer", length(0) + b"\x01")
    write("fuzz_prepared", "huge-offset", length(64) + prepared_change(header_end + 7, 0x80) + b"\x01")
    write("fuzz_prepared", "count", length(64) + prepared_change(header_end + 8, 0x01) + b"\x01")
    write("fuzz_prepared", "magic", length(64) + prepared_change(0, 0x20) + b"\x01")
    write("fuzz_prepared", "payload-flip", length(64) + prepared_change(9700, 0x04) + b"\x00")


if __name__ == "__main__":
    pnm_seeds()
    png_seeds()
    gif_seeds()
    jpeg_seeds()
    tfjs_seeds()
    json_seeds()
    haar_seeds()
    frmodel_seeds()
    keras_csv_seeds()
    calibration_seeds()
    gallery_seeds()
    head_seeds()
    train_cache_seeds()
    landmark_seeds()
    pairs_seeds()
    prepared_seeds()
