"""ctypes declarations of include/facerec.h and the lookup of libfacerec.

Only functions and types declared in the public header are used. The library is found, in
this order, at $FACEREC_LIBRARY (a path), as the installed library (the dynamic linker's
search, e.g. after `cmake --install`), or in the source tree's build folder (build/ beside
python/, when the package runs from a clone).
"""
import ctypes
import ctypes.util
import os
import pathlib

MAX_LANDMARKS = 68
MAX_EMBEDDING = 512

# fr_status, in the header's order
STATUS_NAMES = ("ok", "arg", "io", "format", "limit", "nomem", "model", "unsupported", "db",
                "not_found", "mismatch", "no_face", "interrupted")
OK, E_ARG, E_IO, E_FORMAT, E_LIMIT, E_NOMEM, E_MODEL, E_UNSUPPORTED, E_DB, E_NOT_FOUND, \
    E_MISMATCH, E_NO_FACE, E_INTERRUPTED = range(len(STATUS_NAMES))


class Image(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int),
                ("rgb", ctypes.POINTER(ctypes.c_uint8))]


class Face(ctypes.Structure):
    _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_float), ("w", ctypes.c_float),
                ("h", ctypes.c_float), ("score", ctypes.c_float), ("n_landmarks", ctypes.c_int),
                ("landmarks", (ctypes.c_float * 2) * MAX_LANDMARKS), ("dim", ctypes.c_int),
                ("embedding", ctypes.c_float * MAX_EMBEDDING)]


class Config(ctypes.Structure):
    _fields_ = [("models_dir", ctypes.c_char_p), ("detector", ctypes.c_char_p),
                ("landmarks", ctypes.c_char_p), ("model", ctypes.c_char_p),
                ("align", ctypes.c_char_p), ("align_scale", ctypes.c_float),
                ("min_score", ctypes.c_float), ("load_embedder", ctypes.c_int),
                ("flip", ctypes.c_int), ("retry_padded", ctypes.c_int), ("box_pad", ctypes.c_int),
                ("raw_embedding", ctypes.c_int), ("liveness", ctypes.c_int),
                ("threads", ctypes.c_int), ("photometric", ctypes.c_char_p),
                ("cache_dir", ctypes.c_char_p)]


class Template(ctypes.Structure):
    _fields_ = [("embedding", ctypes.POINTER(ctypes.c_float)), ("source", ctypes.c_char_p),
                ("sha256", ctypes.c_uint8 * 32), ("x", ctypes.c_float), ("y", ctypes.c_float),
                ("w", ctypes.c_float), ("h", ctypes.c_float), ("quality", ctypes.c_float)]


class Person(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("n_templates", ctypes.c_int),
                ("added", ctypes.c_int64)]


class GalleryInfo(ctypes.Structure):
    _fields_ = [("model", ctypes.c_char * 64), ("model_version", ctypes.c_char * 32),
                ("dim", ctypes.c_int), ("n_people", ctypes.c_int),
                ("n_templates", ctypes.c_int64), ("calibrated", ctypes.c_int),
                ("n_genuine_pairs", ctypes.c_int64), ("n_impostor_pairs", ctypes.c_int64),
                ("calibration_source", ctypes.c_char * 256), ("calibrated_at", ctypes.c_int64)]


class Match(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("distance", ctypes.c_float)]


class Threshold(ctypes.Structure):
    _fields_ = [("distance", ctypes.c_float), ("origin", ctypes.c_int), ("far", ctypes.c_double),
                ("frr", ctypes.c_double), ("note", ctypes.c_char * 320)]


THRESHOLD_ORIGINS = ("model default", "calibrated", "shipped")

_P = ctypes.POINTER
_c = ctypes
# name: (restype, argtypes); functions returning fr_status have restype c_int
_SIGNATURES = {
    "fr_last_error": (_c.c_char_p, []),
    "fr_status_name": (_c.c_char_p, [_c.c_int]),
    "fr_version": (_c.c_char_p, []),
    "fr_kernel_level": (_c.c_char_p, []),
    "fr_image_load": (_c.c_int, [_c.c_char_p, _P(_P(Image))]),
    "fr_image_decode": (_c.c_int, [_c.c_void_p, _c.c_size_t, _c.c_char_p, _P(_P(Image))]),
    "fr_image_free": (None, [_P(Image)]),
    "fr_image_save": (_c.c_int, [_P(Image), _c.c_char_p, _c.c_int]),
    "fr_image_resize": (_c.c_int, [_P(Image), _c.c_int, _c.c_int, _P(_P(Image))]),
    "fr_config_init": (None, [_P(Config)]),
    "fr_engine_open": (_c.c_int, [_P(Config), _c.c_void_p]),
    "fr_engine_close": (None, [_c.c_void_p]),
    "fr_engine_model": (_c.c_char_p, [_c.c_void_p]),
    "fr_engine_dim": (_c.c_int, [_c.c_void_p]),
    "fr_detect": (_c.c_int, [_c.c_void_p, _P(Image), _P(_P(Face)), _P(_c.c_int)]),
    "fr_embed": (_c.c_int, [_c.c_void_p, _P(Image), _P(Face), _c.c_int]),
    "fr_process": (_c.c_int, [_c.c_void_p, _P(Image), _P(_P(Face)), _P(_c.c_int)]),
    "fr_embed_image": (_c.c_int, [_c.c_void_p, _P(Image), _P(Face)]),
    "fr_faces_free": (None, [_P(Face)]),
    "fr_distance": (_c.c_float, [_P(_c.c_float), _P(_c.c_float), _c.c_int]),
    "fr_gallery_open": (_c.c_int, [_c.c_char_p, _c.c_int, _c.c_void_p]),
    "fr_gallery_close": (None, [_c.c_void_p]),
    "fr_gallery_use_model": (_c.c_int, [_c.c_void_p, _c.c_char_p, _c.c_char_p, _c.c_int]),
    "fr_file_sha256": (_c.c_int, [_c.c_char_p, _c.c_uint8 * 32]),
    "fr_gallery_enroll": (_c.c_int, [_c.c_void_p, _c.c_char_p, _P(Template), _c.c_int]),
    "fr_gallery_people": (_c.c_int, [_c.c_void_p, _P(_P(Person)), _P(_c.c_int)]),
    "fr_people_free": (None, [_P(Person), _c.c_int]),
    "fr_gallery_remove": (_c.c_int, [_c.c_void_p, _c.c_char_p]),
    "fr_gallery_get_info": (_c.c_int, [_c.c_void_p, _P(GalleryInfo)]),
    "fr_gallery_search": (_c.c_int, [_c.c_void_p, _P(_c.c_float), _c.c_int, _c.c_int,
                                     _P(Match), _P(_c.c_int)]),
    "fr_gallery_threshold": (_c.c_int, [_c.c_void_p, _c.c_double, _P(Threshold)]),
    "fr_gallery_identify_threshold": (_c.c_int, [_c.c_void_p, _c.c_double, _P(Threshold)]),
    "fr_model_default_threshold": (_c.c_int, [_c.c_char_p, _P(Threshold)]),
}


def _candidates():
    """Where libfacerec is looked for, in order: (description, path or name)."""
    env = os.environ.get("FACEREC_LIBRARY")
    if env:
        return [("$FACEREC_LIBRARY", env)]
    found = []
    installed = ctypes.util.find_library("facerec")
    if installed:
        found.append(("the installed library", installed))
    for prefix in ("/usr/local/lib", "/usr/lib"):  # cmake --install's usual prefixes
        found.append(("the installed library", os.path.join(prefix, "libfacerec.so.0")))
    tree = pathlib.Path(__file__).resolve().parents[2] / "build" / "libfacerec.so"
    found.append(("the build tree", str(tree)))
    return found


def _load():
    tried = []
    for origin, path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} ({origin}): no such file")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({origin}): {e}")
            continue
        missing = [name for name in _SIGNATURES if not hasattr(lib, name)]
        if missing:
            tried.append(f"{path} ({origin}): lacks {', '.join(missing)} (an older libfacerec?)")
            continue
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        lib.path = path
        return lib
    raise OSError("libfacerec not found; build it (cmake -S . -B build && cmake --build build), "
                  "install it (cmake --install build), or set FACEREC_LIBRARY to its path. "
                  "Tried: " + "; ".join(tried))


lib = _load()
