"""facerec: Python bindings to libfacerec (face detection, embeddings, galleries).

    import facerec
    engine = facerec.Engine()                       # loaded once, shared by threads
    faces = engine.embed(facerec.load_image("photo.jpg"))
    with facerec.Gallery("people.db") as g:
        g.enroll("ada", ["ada.jpg"]); print(g.identify("group.jpg"))

Images are numpy arrays, height x width x 3, RGB, uint8 (grey height x width and RGBA are
accepted too). Boxes are (x, y, w, h) in pixels, as in the C library; the face_recognition
compatible module is facerec.compat.face_recognition.
"""
import ctypes
import hashlib
import os
import threading
from dataclasses import dataclass, field

import numpy as np

from . import _lib
from ._lib import lib

__all__ = ["Engine", "Gallery", "Face", "Match", "Person", "Verification", "FacerecError",
           "load_image", "save_image", "version", "kernel_level", "distance"]


class FacerecError(Exception):
    """A failure reported by libfacerec: `status` (the fr_status number), `status_name`
    ("io", "model", ...) and `message` (the library's, naming the file or object)."""

    def __init__(self, status, message):
        self.status = int(status)
        self.status_name = _lib.STATUS_NAMES[self.status] \
            if 0 <= self.status < len(_lib.STATUS_NAMES) else str(self.status)
        self.message = message
        super().__init__(f"{message} [{self.status_name}]")


def _check(status):
    if status != _lib.OK:
        raise FacerecError(status, lib.fr_last_error().decode("utf-8", "replace"))


def _encode(text, what):
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    if "\0" in text:
        raise ValueError(f"{what} contains a NUL character")
    return text.encode("utf-8")


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return lib.fr_version().decode()


def kernel_level():
    """The CPU kernel level the library runs at in this process: "avx512", "avx2" or
    "generic" (the environment variable FACEREC_ISA, read at first use, can lower it)."""
    return lib.fr_kernel_level().decode()


def _as_rgb(image):
    """image as a C-contiguous height x width x 3 uint8 array (grey and RGBA converted)."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"images are uint8 arrays, this one is {arr.dtype} "
                        "(load_image and face_recognition's load_image_file give uint8)")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif not (arr.ndim == 3 and arr.shape[2] == 3):
        raise ValueError(f"an image is height x width x 3 (RGB), height x width (grey) or "
                         f"height x width x 4 (RGBA); this one has shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"empty image (shape {arr.shape})")
    return np.ascontiguousarray(arr)


class _CImage:
    """An fr_image over a numpy array's pixels (no copy); keeps the array alive."""

    def __init__(self, image):
        self.array = _as_rgb(image)
        h, w = self.array.shape[:2]
        self.struct = _lib.Image(w, h, self.array.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
        self.ref = ctypes.byref(self.struct)


def _from_c_image(ptr):
    """Copy an fr_image the library allocated into a numpy array and free it."""
    try:
        img = ptr.contents
        n = img.width * img.height * 3
        arr = np.ctypeslib.as_array(img.rgb, shape=(n,)).copy()
        return arr.reshape(img.height, img.width, 3)
    finally:
        lib.fr_image_free(ptr)


def load_image(source):
    """Decode an image file (JPEG with its EXIF orientation applied, PNG, PPM/PGM, GIF) into
    a height x width x 3 RGB uint8 array. source: a path, bytes, or a binary file object."""
    out = ctypes.POINTER(_lib.Image)()
    if isinstance(source, (str, os.PathLike)):
        _check(lib.fr_image_load(_encode(os.fspath(source), "path"), ctypes.byref(out)))
    else:
        if hasattr(source, "read"):
            name = str(getattr(source, "name", "<file object>"))
            data = source.read()
        else:
            name, data = "<bytes>", source
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("load_image takes a path, bytes or a binary file object")
        data = bytes(data)
        _check(lib.fr_image_decode(data, len(data), _encode(name, "name"), ctypes.byref(out)))
    return _from_c_image(out)


def save_image(image, path, quality=0):
    """Encode image by the extension of path: .jpg/.jpeg (quality 1..100, 0: 90), .png, .ppm."""
    img = _CImage(image)
    _check(lib.fr_image_save(img.ref, _encode(os.fspath(path), "path"), int(quality)))


@dataclass
class Face:
    """One face: its box (x, y, w, h) in pixels, the detector's score, its landmarks (n x 2:
    5 or 68 points, or none) and, once embedded, its embedding."""
    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: np.ndarray
    embedding: np.ndarray = None

    @property
    def box(self):
        return (self.x, self.y, self.w, self.h)

    @classmethod
    def _from_c(cls, f):
        n = f.n_landmarks
        pts = np.ctypeslib.as_array(f.landmarks)[:n].astype(np.float64)
        emb = np.ctypeslib.as_array(f.embedding)[:f.dim].copy() if f.dim > 0 else None
        return cls(float(f.x), float(f.y), float(f.w), float(f.h), float(f.score), pts, emb)

    def _to_c(self, out):
        out.x, out.y, out.w, out.h, out.score = self.x, self.y, self.w, self.h, self.score
        pts = np.asarray(self.landmarks if self.landmarks is not None else np.zeros((0, 2)),
                         dtype=np.float32).reshape(-1, 2)
        if len(pts) not in (0, 5, 68):
            raise ValueError(f"a face has 0, 5 or 68 landmarks, not {len(pts)}")
        out.n_landmarks = len(pts)
        np.ctypeslib.as_array(out.landmarks)[:len(pts)] = pts
        out.dim = 0


def _faces_from(ptr, n):
    try:
        return [Face._from_c(ptr[i]) for i in range(n.value)]
    finally:
        lib.fr_faces_free(ptr)


class Engine:
    """The networks of one configuration, loaded once. One engine serves many threads at
    once (the library releases the GIL while it works).

    model:    "fusion" (default), "mobilefacenet", "dlib-resnet", "nn4small2" or a model file
    detector: "mtcnn" (default), "ssd", "blazeface", "blazeface-full", "tiny" or "haar"
    raw:      True keeps the network's own scale (dlib-resnet: dlib's descriptors, where 0.6
              is dlib's threshold) instead of unit vectors; a single model only
    embed:    False loads the detector and landmarks only
    The other keywords are fr_config's (include/facerec.h): landmarks ("68", "68tiny"),
    align ("similarity", "dlib-chip", "faceapi"), align_scale, min_score, flip,
    retry_padded, box_pad, models_dir, cache_dir (the folder of prepared files; "" for none)."""

    _shared = {}
    _shared_lock = threading.Lock()

    def __init__(self, model=None, detector=None, *, landmarks=None, align=None,
                 align_scale=None, min_score=None, flip=None, raw=False, retry_padded=None,
                 box_pad=None, models_dir=None, cache_dir=None, embed=True):
        cfg = _lib.Config()
        lib.fr_config_init(ctypes.byref(cfg))
        self._keep = []  # the bytes fr_config points to, alive while the engine opens
        for name, value in (("model", model), ("detector", detector), ("landmarks", landmarks),
                            ("align", align), ("models_dir", models_dir),
                            ("cache_dir", cache_dir)):
            if value is not None:
                value = os.fspath(value) if name in ("models_dir", "cache_dir") else value
                encoded = _encode(value, name)
                self._keep.append(encoded)
                setattr(cfg, name, encoded)
        if align_scale is not None:
            cfg.align_scale = float(align_scale)
        if min_score is not None:
            cfg.min_score = float(min_score)
        if flip is not None:
            cfg.flip = int(bool(flip))
        if retry_padded is not None:
            cfg.retry_padded = int(bool(retry_padded))
        if box_pad is not None:
            cfg.box_pad = int(box_pad)
        cfg.raw_embedding = int(bool(raw))
        cfg.load_embedder = int(bool(embed))
        self._eng = ctypes.c_void_p()
        _check(lib.fr_engine_open(ctypes.byref(cfg), ctypes.byref(self._eng)))
        self.model = lib.fr_engine_model(self._eng).decode() if embed else None
        self.dim = lib.fr_engine_dim(self._eng) if embed else 0
        if raw and embed and not self.model.endswith(":raw"):
            self.close()
            raise FacerecError(_lib.E_UNSUPPORTED, f"{lib.path}: this libfacerec has no raw "
                               "embeddings (fr_config.raw_embedding); build a newer one")

    @classmethod
    def shared(cls, **config):
        """The process's one engine of this configuration, opened on first use."""
        key = tuple(sorted(config.items()))
        with cls._shared_lock:
            eng = cls._shared.get(key)
            if eng is None:
                eng = cls._shared[key] = cls(**config)
            return eng

    def close(self):
        if self._eng:
            lib.fr_engine_close(self._eng)
            self._eng = ctypes.c_void_p()

    def __del__(self):
        if getattr(self, "_eng", None):
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._eng:
            raise ValueError("the engine is closed")
        return self._eng

    def detect(self, image):
        """Every face in image (boxes, scores, landmarks), most confident first."""
        img = _CImage(image)
        ptr, n = ctypes.POINTER(_lib.Face)(), ctypes.c_int()
        _check(lib.fr_detect(self._handle(), img.ref, ctypes.byref(ptr), ctypes.byref(n)))
        return _faces_from(ptr, n)

    def embed(self, image, faces=None):
        """The faces of image with their embeddings: every face found, or the faces given
        (from detect(), or Face objects with a box and no landmarks: the 68-point net then
        places them)."""
        img = _CImage(image)
        if faces is None:
            ptr, n = ctypes.POINTER(_lib.Face)(), ctypes.c_int()
            _check(lib.fr_process(self._handle(), img.ref, ctypes.byref(ptr), ctypes.byref(n)))
            return _faces_from(ptr, n)
        faces = list(faces)
        if not faces:
            return []
        arr = (_lib.Face * len(faces))()
        for f, c in zip(faces, arr):
            f._to_c(c)
        _check(lib.fr_embed(self._handle(), img.ref, arr, len(faces)))
        return [Face._from_c(c) for c in arr]

    def embed_image(self, image):
        """The whole image embedded as one face (no detection, no alignment)."""
        img = _CImage(image)
        f = _lib.Face()
        _check(lib.fr_embed_image(self._handle(), img.ref, ctypes.byref(f)))
        return np.ctypeslib.as_array(f.embedding)[:f.dim].copy()

    def default_threshold(self):
        """The model's documented default distance threshold (FacerecError if none)."""
        th = _lib.Threshold()
        _check(lib.fr_model_default_threshold(_encode(self.model, "model"), ctypes.byref(th)))
        return float(th.distance)


def distance(a, b):
    """Euclidean distance between two embeddings."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"embeddings of shapes {a.shape} and {b.shape} cannot be compared")
    p = ctypes.POINTER(ctypes.c_float)
    return float(lib.fr_distance(a.ctypes.data_as(p), b.ctypes.data_as(p), a.shape[0]))


@dataclass
class Match:
    """A face of a probe image: its nearest person (None: unknown) and distance."""
    name: object
    distance: float
    threshold: float
    face: Face = field(repr=False)


@dataclass
class Person:
    name: str
    n_templates: int
    added: int


@dataclass
class Verification:
    same: bool
    distance: float
    threshold: float


def _largest(faces, what):
    if not faces:
        raise FacerecError(_lib.E_NO_FACE, f"{what}: no face found")
    return max(faces, key=lambda f: f.w * f.h)


class Gallery:
    """Enrolled people in one SQLite file (include/facerec.h's gallery). A handle is used by
    one thread at a time, so every call here holds the gallery's lock; embedding (the slow
    part) runs outside it, on the engine, in parallel.

    path:   the database file (None: $FACEREC_DB, else facerec.db in the current folder)
    create: make the file if it is missing (else FacerecError "not_found")
    engine: the Engine that embeds images given to enroll/identify/verify (default: the
            process's shared default engine)"""

    def __init__(self, path=None, *, create=True, engine=None):
        self._g = ctypes.c_void_p()
        self._lock = threading.Lock()
        encoded = None if path is None else _encode(os.fspath(path), "path")
        _check(lib.fr_gallery_open(encoded, int(bool(create)), ctypes.byref(self._g)))
        self._engine = engine

    @property
    def engine(self):
        if self._engine is None:
            self._engine = Engine.shared()
        return self._engine

    def close(self):
        with self._lock:
            if self._g:
                lib.fr_gallery_close(self._g)
                self._g = ctypes.c_void_p()

    def __del__(self):
        if getattr(self, "_g", None):
            lib.fr_gallery_close(self._g)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._g:
            raise ValueError("the gallery is closed")
        return self._g

    def _bind_model(self):
        """Bind an empty gallery to the engine's model; a gallery of another model is
        FacerecError "mismatch"."""
        eng = self.engine
        _check(lib.fr_gallery_use_model(self._handle(), _encode(eng.model, "model"),
                                        lib.fr_version(), eng.dim))

    def _check_model(self):
        """Whether the gallery holds templates to search; one made by another model than the
        engine's is FacerecError "mismatch" (searching binds nothing)."""
        info = _lib.GalleryInfo()
        _check(lib.fr_gallery_get_info(self._handle(), ctypes.byref(info)))
        if not info.model:
            return False
        self._bind_model()
        return info.n_templates > 0

    def info(self):
        info = _lib.GalleryInfo()
        with self._lock:
            _check(lib.fr_gallery_get_info(self._handle(), ctypes.byref(info)))
        return {"model": info.model.decode(), "dim": info.dim, "people": info.n_people,
                "templates": info.n_templates, "calibrated": bool(info.calibrated)}

    def enroll(self, name, images):
        """Enroll the largest face of each image (paths, or arrays) as `name`, all in one
        transaction. A file already enrolled is an error (FacerecError "arg"). Returns the
        number of templates added."""
        if isinstance(images, (str, os.PathLike, np.ndarray)):
            images = [images]
        images = list(images)
        if not images:
            raise ValueError("enroll: no images given")
        encoded_name = _encode(name, "name")
        if not name.strip():
            raise ValueError("enroll: empty name")
        templates = (_lib.Template * len(images))()
        keep = []
        for item, t in zip(images, templates):
            if isinstance(item, (str, os.PathLike)):
                source = os.fspath(item)
                pixels = load_image(source)
                _check(lib.fr_file_sha256(_encode(source, "path"), t.sha256))
            else:
                pixels = _as_rgb(item)
                digest = hashlib.sha256(pixels.tobytes() + repr(pixels.shape).encode()).digest()
                source = "<array sha256:" + digest.hex()[:16] + ">"
                ctypes.memmove(t.sha256, digest, 32)
            face = _largest(self.engine.embed(pixels), source)
            emb = np.ascontiguousarray(face.embedding, dtype=np.float32)
            src = _encode(source, "source")
            keep += [emb, src]
            t.embedding = emb.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            t.source = src
            t.x, t.y, t.w, t.h, t.quality = face.x, face.y, face.w, face.h, face.score
        with self._lock:
            self._bind_model()
            _check(lib.fr_gallery_enroll(self._handle(), encoded_name, templates, len(images)))
        return len(images)

    def people(self):
        ptr, n = ctypes.POINTER(_lib.Person)(), ctypes.c_int()
        with self._lock:
            _check(lib.fr_gallery_people(self._handle(), ctypes.byref(ptr), ctypes.byref(n)))
        try:
            return [Person(ptr[i].name.decode(), ptr[i].n_templates, ptr[i].added)
                    for i in range(n.value)]
        finally:
            lib.fr_people_free(ptr, n)

    def remove(self, name):
        with self._lock:
            _check(lib.fr_gallery_remove(self._handle(), _encode(name, "name")))

    def _search(self, embeddings, k):
        probes = np.ascontiguousarray(np.stack(embeddings), dtype=np.float32)
        matches = (_lib.Match * (len(embeddings) * k))()
        n_found = ctypes.c_int()
        _check(lib.fr_gallery_search(self._handle(),
                                     probes.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                     len(embeddings), k, matches, ctypes.byref(n_found)))
        return [[(matches[i * k + j].name.decode(), float(matches[i * k + j].distance))
                 for j in range(n_found.value)] for i in range(len(embeddings))]

    def identify(self, image, *, fpir=0.01, threshold=None):
        """Each face of image (a path or an array) with its nearest enrolled person, or None
        (unknown) when farther than the threshold: the gallery's for a false-positive
        identification rate `fpir` over its people, unless `threshold` is given."""
        pixels = load_image(image) if isinstance(image, (str, os.PathLike)) else image
        faces = self.engine.embed(pixels)
        if not faces:
            return []
        with self._lock:
            if not self._check_model():  # nobody enrolled: every face is a stranger
                return [Match(None, float("inf"), float("nan") if threshold is None
                              else float(threshold), f) for f in faces]
            if threshold is None:
                th = _lib.Threshold()
                _check(lib.fr_gallery_identify_threshold(self._handle(), float(fpir),
                                                         ctypes.byref(th)))
                threshold = float(th.distance)
            found = self._search([f.embedding for f in faces], 1)
        out = []
        for face, best in zip(faces, found):
            name, dist = best[0] if best else (None, float("inf"))
            out.append(Match(name if dist <= threshold else None, dist, float(threshold), face))
        return out

    def verify(self, image, name, *, far=0.001, threshold=None):
        """Whether the largest face of image is the enrolled person `name`: their nearest
        template's distance against the gallery's threshold for false-accept rate `far`."""
        pixels = load_image(image) if isinstance(image, (str, os.PathLike)) else image
        face = _largest(self.engine.embed(pixels), "verify")
        with self._lock:
            self._check_model()
            people = [p.name for p in self._people_locked()]
            if name not in people:
                raise FacerecError(_lib.E_NOT_FOUND, f"verify: no enrolled person '{name}'")
            if threshold is None:
                th = _lib.Threshold()
                _check(lib.fr_gallery_threshold(self._handle(), float(far), ctypes.byref(th)))
                threshold = float(th.distance)
            ranked = self._search([face.embedding], len(people))[0]
        dist = next(d for n, d in ranked if n == name)
        return Verification(dist <= threshold, dist, float(threshold))

    def _people_locked(self):
        ptr, n = ctypes.POINTER(_lib.Person)(), ctypes.c_int()
        _check(lib.fr_gallery_people(self._handle(), ctypes.byref(ptr), ctypes.byref(n)))
        try:
            return [Person(ptr[i].name.decode(), ptr[i].n_templates, ptr[i].added)
                    for i in range(n.value)]
        finally:
            lib.fr_people_free(ptr, n)
