"""face_recognition 1.3's API over libfacerec.

    import facerec.compat.face_recognition as face_recognition

Same functions, arguments, return types and conventions: images are numpy arrays (RGB,
uint8), boxes are (top, right, bottom, left) tuples of ints clipped to the image, landmarks
are dicts of named lists of (x, y) int tuples, encodings are 128-d float64 arrays in dlib's
own scale (dlib-resnet, the network face_recognition runs, not made unit length), so that
encodings stored from face_recognition stay comparable and tolerance=0.6 means what it means
there. Where a call cannot be matched exactly, python/README.md says what it maps to.

Beyond face_recognition: model= of face_locations also takes a facerec detector name
("mtcnn", "ssd", ...), model= of face_encodings also takes a facerec embedding model
("fusion", "mobilefacenet", "dlib-resnet": unit vectors; compare them with
facerec_tolerance(model), not 0.6).
"""
import os

import numpy as np

import facerec
from facerec import _lib

__all__ = ["load_image_file", "face_locations", "batch_face_locations", "face_landmarks",
           "face_encodings", "compare_faces", "face_distance", "facerec_tolerance"]

# face_recognition's detectors ("hog", "cnn") both map to MTCNN, facerec's default: on LFW
# it misses fewer faces than the CNN detector facerec also has (SSD, BENCHMARKS.md), and its
# smallest face (40 px) is what dlib's HOG detector finds after its default one upsampling.
_DETECTORS = {"hog": "mtcnn", "cnn": "mtcnn"}
_FACEREC_DETECTORS = ("mtcnn", "ssd", "blazeface", "blazeface-full", "tiny", "haar")
_FACEREC_MODELS = ("fusion", "mobilefacenet", "dlib-resnet", "nn4small2")


def _engine(detector="mtcnn", model="dlib-resnet", jitter=False):
    """The process's shared engine: dlib-resnet's raw descriptors on dlib's chip by default."""
    if model in ("small", "large"):
        return facerec.Engine.shared(detector=detector, model="dlib-resnet", raw=True,
                                     flip=jitter)
    return facerec.Engine.shared(detector=detector, model=model, flip=True)


def load_image_file(file, mode="RGB"):
    """An image file (a path or a file object) as a numpy array: mode "RGB" gives
    height x width x 3, mode "L" height x width (grey, PIL's luma weights); None (PIL: the
    file's own mode) gives RGB. JPEG EXIF orientation is applied."""
    rgb = facerec.load_image(file)
    if mode in ("RGB", None):
        return rgb
    if mode == "L":
        # PIL's convert("L"): L = R * 299/1000 + G * 587/1000 + B * 114/1000 (fixed point)
        r, g, b = (rgb[:, :, k].astype(np.uint32) for k in range(3))
        return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
    raise ValueError(f"load_image_file: mode {mode!r} is not supported (use 'RGB' or 'L')")


def _detector(model):
    if model in _DETECTORS:
        return _DETECTORS[model]
    if model in _FACEREC_DETECTORS:
        return model
    raise ValueError(f"unknown face detection model {model!r} (face_recognition's 'hog' or "
                     f"'cnn', or one of facerec's: {', '.join(_FACEREC_DETECTORS)})")


def _upsampled(img, times):
    """img enlarged for `times` upsamplings and the factor. MTCNN's smallest face (40 px)
    is already dlib HOG's after one upsampling, so 0 and 1 leave the image as it is and each
    further one doubles it."""
    if not isinstance(times, (int, np.integer)) or times < 0:
        raise ValueError(f"number_of_times_to_upsample must be an int >= 0, not {times!r}")
    factor = 2 ** max(0, int(times) - 1)
    if factor == 1:
        return img, 1
    return _resize(img, img.shape[1] * factor, img.shape[0] * factor), factor


def _resize(img, w, h):
    src = facerec._CImage(img)
    out = _lib.ctypes.POINTER(_lib.Image)()
    facerec._check(_lib.lib.fr_image_resize(src.ref, int(w), int(h), _lib.ctypes.byref(out)))
    return facerec._from_c_image(out)


def _css(face, shape, factor=1):
    """A facerec box as face_recognition's (top, right, bottom, left), clipped as it does."""
    top, left = round(face.y / factor), round(face.x / factor)
    bottom, right = round((face.y + face.h) / factor), round((face.x + face.w) / factor)
    return max(top, 0), min(right, shape[1]), min(bottom, shape[0]), max(left, 0)


def _as_image(img):
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise TypeError(f"images are uint8 arrays (load_image_file gives them), not {arr.dtype}")
    return arr


def _detect(img, number_of_times_to_upsample, model):
    img = _as_image(img)
    engine = _engine(_detector(model))
    big, factor = _upsampled(img, number_of_times_to_upsample)
    return [(f, factor) for f in engine.detect(big)], img


def face_locations(img, number_of_times_to_upsample=1, model="hog"):
    """The bounding boxes of the faces in img as (top, right, bottom, left) tuples."""
    found, img = _detect(img, number_of_times_to_upsample, model)
    return [_css(f, img.shape, factor) for f, factor in found]


def batch_face_locations(images, number_of_times_to_upsample=1, batch_size=128):
    """face_locations of each image (face_recognition runs its CNN detector in batches on
    the GPU; here each image goes through the detector in turn, batch_size only checked)."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, not {batch_size!r}")
    return [face_locations(img, number_of_times_to_upsample, "cnn") for img in images]


def _boxes(img, locations):
    """facerec faces (box only) from face_recognition's (top, right, bottom, left)."""
    faces = []
    for loc in locations:
        try:
            top, right, bottom, left = (float(v) for v in loc)
        except (TypeError, ValueError):
            raise ValueError(f"a face location is (top, right, bottom, left), not {loc!r}")
        if not (bottom > top and right > left):
            raise ValueError(f"face location {tuple(loc)} is empty (bottom <= top or "
                             f"right <= left)")
        faces.append(facerec.Face(left, top, right - left, bottom - top, 1.0,
                                  np.zeros((0, 2))))
    return faces


def _faces68(img, locations, engine):
    """Faces with the 68-point net's landmarks: on the given boxes, or on those detected.
    (The public C API places 68 points on given boxes as part of fr_embed.)"""
    if locations is None:
        locations = [_css(f, img.shape) for f in engine.detect(img)]
    faces = _boxes(img, locations)
    return engine.embed(img, faces) if faces else []


def _point(p):
    return (int(round(float(p[0]))), int(round(float(p[1]))))


def face_landmarks(face_image, face_locations=None, model="large"):
    """The landmarks of each face as a dict of named point lists: model "large" gives
    chin, left_eyebrow, right_eyebrow, nose_bridge, nose_tip, left_eye, right_eye, top_lip,
    bottom_lip (dlib's 68-point scheme); "small" gives nose_tip, left_eye, right_eye (dlib's
    5-point scheme: the eyes' corners and the bottom of the nose)."""
    if model not in ("large", "small"):
        raise ValueError("Invalid landmarks model type. Supported models are ['small', 'large'].")
    img = _as_image(face_image)
    faces = _faces68(img, face_locations, _engine())
    out = []
    for f in faces:
        p = [_point(q) for q in f.landmarks]
        if model == "large":
            out.append({
                "chin": p[0:17], "left_eyebrow": p[17:22], "right_eyebrow": p[22:27],
                "nose_bridge": p[27:31], "nose_tip": p[31:36], "left_eye": p[36:42],
                "right_eye": p[42:48],
                "top_lip": p[48:55] + [p[64], p[63], p[62], p[61], p[60]],
                "bottom_lip": p[54:60] + [p[48], p[60], p[67], p[66], p[65], p[64]],
            })
        else:
            # dlib's 5 points are, in 68-point terms, 45, 42 (image-right eye), 36, 39
            # (image-left eye) and 33 (bottom of the nose)
            out.append({"nose_tip": [p[33]], "left_eye": [p[36], p[39]],
                        "right_eye": [p[45], p[42]]})
    return out


def face_encodings(face_image, known_face_locations=None, num_jitters=1, model="small"):
    """A 128-d encoding (float64, dlib's scale) of each face. model "small" aligns with the
    detector's 5 points (MTCNN's), "large" with the 68-point net's; given locations are
    always placed by the 68-point net. num_jitters > 1 averages the face with its mirror
    image (facerec's flip) in place of dlib's random jitters. model may also be a facerec
    embedding model ("fusion", "mobilefacenet", "dlib-resnet": unit vectors)."""
    if model not in ("small", "large") + _FACEREC_MODELS:
        raise ValueError(f"unknown model {model!r} ('small' or 'large' as in face_recognition, "
                         f"or one of facerec's: {', '.join(_FACEREC_MODELS)})")
    if not isinstance(num_jitters, (int, np.integer)) or num_jitters < 1:
        raise ValueError(f"num_jitters must be an int >= 1, not {num_jitters!r}")
    img = _as_image(face_image)
    engine = _engine(model=model, jitter=num_jitters > 1)
    if known_face_locations is None and model != "large":
        faces = engine.embed(img)
    else:
        faces = _faces68(img, known_face_locations, engine)
    return [f.embedding.astype(np.float64) for f in faces]


def face_distance(face_encodings, face_to_compare):
    """The Euclidean distance from face_to_compare to each of face_encodings."""
    if len(face_encodings) == 0:
        return np.empty((0))
    return np.linalg.norm(np.asarray(face_encodings) - face_to_compare, axis=1)


def compare_faces(known_face_encodings, face_encoding_to_check, tolerance=0.6):
    """For each known encoding, whether it is within tolerance of face_encoding_to_check."""
    return list(face_distance(known_face_encodings, face_encoding_to_check) <= tolerance)


def facerec_tolerance(model):
    """The tolerance for encodings of a facerec model (face_encodings(model=...)): the
    model's documented default threshold; 0.6 for face_recognition's own models."""
    if model in ("small", "large"):
        return 0.6
    th = _lib.Threshold()
    facerec._check(_lib.lib.fr_model_default_threshold(model.encode(), _lib.ctypes.byref(th)))
    return float(th.distance)
