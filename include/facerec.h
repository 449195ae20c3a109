/* facerec.h: the public API of libfacerec, a face recognition library in C.
 *
 * Data flow (each stage below has a section in this header):
 *
 *   file / frame -> fr_image -> detect (boxes, scores) -> landmarks -> align -> embed
 *                -> gallery (enrolled people) -> decision (name or unknown)
 *
 * Conventions
 *   - Every function that can fail returns fr_status. On failure, fr_last_error() gives a
 *     message naming the file or object and the reason; the message is kept per thread.
 *   - The library never prints and never exits. Logging goes to a callback you install.
 *   - Handles (fr_engine, fr_gallery) are opaque. An fr_engine is immutable after
 *     fr_engine_open(): one engine may serve many threads at once.
 *   - Images are plain 8-bit RGB, row-major, 3 bytes per pixel, no padding between rows.
 *   - Coordinates are in pixels of the image given, x to the right, y down.
 *   - Embeddings are unit vectors (FaceNet's convention; dlib-resnet's descriptors, which
 *     its authors leave unnormalised, are normalised too: measured better on LFW), and
 *     distances between them are Euclidean, from 0 to 2.
 *
 * Typical use:
 *
 *   fr_config cfg; fr_config_init(&cfg);
 *   fr_engine *eng; fr_image *img; fr_face *faces; int n;
 *   if (fr_engine_open(&cfg, &eng) != FR_OK) { puts(fr_last_error()); ... }
 *   if (fr_image_load("photo.jpg", &img) != FR_OK) ...
 *   if (fr_process(eng, img, &faces, &n) != FR_OK) ...
 *   ... faces[i].x, .y, .w, .h, .score, .landmarks, .embedding ...
 *   fr_faces_free(faces); fr_image_free(img); fr_engine_close(eng);
 */
#ifndef FACEREC_H
#define FACEREC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Status codes, errors, logging, version
 * ------------------------------------------------------------------------------------- */

typedef enum fr_status {
    FR_OK = 0,
    FR_E_ARG,         /* an argument is invalid */
    FR_E_IO,          /* a file or device could not be opened, read or written */
    FR_E_FORMAT,      /* data is malformed, truncated or of an unknown format */
    FR_E_LIMIT,       /* data exceeds a size limit (e.g. image dimensions) */
    FR_E_NOMEM,       /* out of memory */
    FR_E_MODEL,       /* a model file is missing, of the wrong kind, or corrupt */
    FR_E_UNSUPPORTED, /* a valid request this build cannot do */
    FR_E_DB,          /* the gallery database is locked, corrupt or unusable */
    FR_E_NOT_FOUND,   /* a named object (person, model, ...) does not exist */
    FR_E_MISMATCH,    /* objects that must agree do not (e.g. gallery made by another model) */
    FR_E_NO_FACE,     /* an operation that needs a face found none */
    FR_E_INTERRUPTED  /* stopped by a signal or a vanished device */
} fr_status;

/* The message of the last failure in this thread ("" if none). Valid until the next call
 * into the library from this thread. */
const char *fr_last_error(void);

/* A short constant name for a status ("ok", "io", "format", ...). */
const char *fr_status_name(fr_status status);

/* The library version, "MAJOR.MINOR.PATCH". */
const char *fr_version(void);

typedef enum fr_log_level { FR_LOG_DEBUG = 0, FR_LOG_INFO, FR_LOG_WARN } fr_log_level;
typedef void (*fr_log_fn)(fr_log_level level, const char *message, void *user);

/* Install a process-wide log callback (NULL: discard, the default). Call before use. */
void fr_set_log(fr_log_fn fn, fr_log_level min_level, void *user);

/* Worker threads used by the networks: $FACEREC_THREADS if set, else every core.
 * n <= 0 restores that default. Call between inferences, not during one. */
void fr_set_threads(int n);
int fr_threads(void);

/* ---------------------------------------------------------------------------------------
 * Images: decode, encode, crop, resize, warp, mirror, draw
 * ------------------------------------------------------------------------------------- */

/* Decoders refuse images with more pixels than this before allocating anything. */
#define FR_IMAGE_MAX_PIXELS (50u * 1000u * 1000u)
/* ... and files larger than this. */
#define FR_IMAGE_MAX_FILE_BYTES (256u * 1024u * 1024u)

typedef struct fr_image {
    int width, height;
    uint8_t *rgb; /* width * height * 3 bytes */
} fr_image;

/* A new image, filled with black. */
fr_status fr_image_new(int width, int height, fr_image **out);
void fr_image_free(fr_image *img);

/* Decode JPEG (EXIF orientation applied), PNG, PPM/PGM (P2, P3, P5, P6) or GIF (first frame),
 * recognised by content, not by name. Grey and RGBA become RGB (alpha is dropped).
 * `name` is only used in error messages. */
fr_status fr_image_load(const char *path, fr_image **out);
fr_status fr_image_decode(const void *data, size_t size, const char *name, fr_image **out);

/* Encode by the extension of `path`: .jpg/.jpeg (quality 1..100, 0 = 90), .png, .ppm. */
fr_status fr_image_save(const fr_image *img, const char *path, int quality);
/* Encode to memory; free *out with free(). */
fr_status fr_image_encode_jpeg(const fr_image *img, int quality, uint8_t **out, size_t *size);
fr_status fr_image_encode_png(const fr_image *img, uint8_t **out, size_t *size);

/* A copy of a rectangle; parts outside the image are black. */
fr_status fr_image_crop(const fr_image *img, int x, int y, int w, int h, fr_image **out);
/* Bilinear resize (pixel centres aligned, as most resizers do). */
fr_status fr_image_resize(const fr_image *img, int w, int h, fr_image **out);
/* Affine warp with bilinear sampling: output pixel (x, y) samples the source at
 * (m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]); outside the source is black. */
fr_status fr_image_warp_affine(const fr_image *img, const float m[6], int w, int h,
                               fr_image **out);
/* Left-right mirror image. */
fr_status fr_image_mirror(const fr_image *img, fr_image **out);

/* Drawing for annotated output (clipped to the image). */
void fr_image_draw_rect(fr_image *img, int x, int y, int w, int h, uint8_t r, uint8_t g,
                        uint8_t b, int thickness);
/* A straight line `thickness` pixels wide from (x0, y0) to (x1, y1) (clipped). */
void fr_image_draw_line(fr_image *img, float x0, float y0, float x1, float y1, uint8_t r,
                        uint8_t g, uint8_t b, int thickness);
/* Text in a built-in 8x8 pixel font, each pixel drawn as scale x scale; top-left at (x, y). */
void fr_image_draw_text(fr_image *img, int x, int y, const char *text, uint8_t r, uint8_t g,
                        uint8_t b, int scale);

/* ---------------------------------------------------------------------------------------
 * The face record and the engine (detect -> landmarks -> align -> embed)
 * ------------------------------------------------------------------------------------- */

#define FR_MAX_LANDMARKS 68
#define FR_MAX_EMBEDDING 512

/* One face through the whole pipeline. */
typedef struct fr_face {
    float x, y, w, h;  /* bounding box */
    float score;       /* detector confidence, 0..1 */
    int n_landmarks;   /* 0, 5 or 68 */
    float landmarks[FR_MAX_LANDMARKS][2];
    int dim;           /* embedding length; 0 until embedded */
    float embedding[FR_MAX_EMBEDDING];
} fr_face;

/* The default pipeline: the most accurate of the configurations measured on LFW at low
 * false-accept rates and in 1:N search (BENCHMARKS.md): MTCNN's 5 points, then MobileFaceNet
 * and dlib's ResNet fused, each in its own alignment. */
#define FR_DEFAULT_DETECTOR "mtcnn"
#define FR_DEFAULT_MODEL "fusion"

typedef struct fr_config {
    const char *models_dir; /* NULL: $FACEREC_MODELS, then the install prefix, then the source tree */
    const char *detector;   /* "mtcnn" (default), "ssd", "blazeface", "blazeface-full", "tiny"
                             * or "haar" */
    const char *landmarks;  /* "68" (default) or "68tiny" */
    const char *model;      /* embedding model: "fusion" (default: mobilefacenet and
                             * dlib-resnet, each in its own alignment, distances combined with
                             * weights 0.12 / 0.88; "fusion:W" gives mobilefacenet the weight W),
                             * "mobilefacenet" (the fastest), "dlib-resnet", "nn4small2", or a
                             * model file (import-keras-csv, train) */
    const char *align;      /* NULL: the model's default ("dlib-chip" for dlib-resnet,
                             * "similarity" for mobilefacenet); also "faceapi" (face-api.js's
                             * crop, for parity with it); not for a fusion */
    float align_scale;      /* the face's size in a similarity-warped crop relative to the
                             * model's template, about the crop's centre: 1.1 crops 10% closer,
                             * 0.9 leaves more margin; 0 (default): 1; not for a fusion */
    float min_score;        /* detection score threshold; 0: the detector's default */
    int load_embedder;      /* 0: detection and landmarks only (faster to open) */
    int flip;               /* 1 (default): embed each aligned face and its mirror image, and
                             * average (more accurate); 0: the face alone, twice as fast */
    int retry_padded;       /* 1 (default): when no face is found, look again with a border
                             * around the image, for photos that are one tight face */
    int box_pad;            /* pixels added around each detected box (the original demo used
                             * 50 with the Haar detector); 0 (default): none */
} fr_config;

void fr_config_init(fr_config *cfg);

typedef struct fr_engine fr_engine;

/* Load the networks the configuration names. A missing model file is an error naming the
 * file and the setup command that fetches it. */
fr_status fr_engine_open(const fr_config *cfg, fr_engine **out);
void fr_engine_close(fr_engine *eng);

/* The embedding model's identifier (e.g. "dlib-resnet") and its embedding length. */
const char *fr_engine_model(const fr_engine *eng);
int fr_engine_dim(const fr_engine *eng);

/* Find every face with its landmarks. *faces is allocated (free with fr_faces_free);
 * zero faces is not an error (*n_faces = 0). */
fr_status fr_detect(fr_engine *eng, const fr_image *img, fr_face **faces, int *n_faces);
/* Align and embed faces already detected in `img` (all in one batch). */
fr_status fr_embed(fr_engine *eng, const fr_image *img, fr_face *faces, int n_faces);
/* fr_detect then fr_embed. */
fr_status fr_process(fr_engine *eng, const fr_image *img, fr_face **faces, int *n_faces);
/* Embed the whole image as one face, without detection or alignment (parity with models' own
 * demos); with flip, averaged with its mirror image like any face. */
fr_status fr_embed_image(fr_engine *eng, const fr_image *img, fr_face *face);
void fr_faces_free(fr_face *faces);

/* Euclidean distance between two embeddings of length dim. */
float fr_distance(const float *a, const float *b, int dim);

/* ---------------------------------------------------------------------------------------
 * Gallery: enrolled people and their templates (SQLite), search, thresholds
 * ------------------------------------------------------------------------------------- */

/* A gallery is one SQLite file (WAL mode: readers keep working while one process writes).
 * It holds people, each with one or more templates (an embedding and where it came from),
 * the embedding model they were made with, and the distance distributions measured by
 * calibration. A handle is used by one thread at a time. A locked, corrupt or foreign
 * database file is FR_E_DB with a message naming the file. */
typedef struct fr_gallery fr_gallery;

/* The default database file: $FACEREC_DB if set, else "facerec.db" in the current folder. */
const char *fr_gallery_default_path(void);

/* Open the gallery at `path` (NULL: fr_gallery_default_path()). With create = 0 a missing
 * file is FR_E_NOT_FOUND; with create = 1 it is made. */
fr_status fr_gallery_open(const char *path, int create, fr_gallery **out);
void fr_gallery_close(fr_gallery *g);
const char *fr_gallery_path(const fr_gallery *g);

/* Bind the gallery to the embedding model that feeds it. An empty gallery records the model;
 * one made by another model (name or dim) is FR_E_MISMATCH naming both. `model_version`
 * identifies the implementation that computed the embeddings (recorded with each template). */
fr_status fr_gallery_use_model(fr_gallery *g, const char *model, const char *model_version,
                               int dim);

/* One template to enroll. */
typedef struct fr_template {
    const float *embedding; /* the gallery's dim floats */
    const char *source;     /* the file it came from */
    uint8_t sha256[32];     /* of that file's bytes */
    float x, y, w, h;       /* the face box in the source */
    float quality;          /* e.g. the detector score */
} fr_template;

/* SHA-256 of a file's bytes. */
fr_status fr_file_sha256(const char *path, uint8_t digest[32]);

/* Whether a template from a file with this SHA-256 is enrolled; if so its person's name is
 * written to name (truncated to name_size). */
fr_status fr_gallery_find_source(fr_gallery *g, const uint8_t sha256[32], int *found,
                                 char *name, size_t name_size);

/* Add n >= 1 templates to the person `name`, created if new, in one transaction: after a
 * crash either all of them are stored or none. A source already enrolled is FR_E_ARG. */
fr_status fr_gallery_enroll(fr_gallery *g, const char *name, const fr_template *templates,
                            int n);

typedef struct fr_person {
    char *name;
    int n_templates;
    int64_t added; /* Unix time of the first template */
} fr_person;

/* Every person, by name. Free with fr_people_free(). */
fr_status fr_gallery_people(fr_gallery *g, fr_person **people, int *n_people);
void fr_people_free(fr_person *people, int n_people);
/* FR_E_NOT_FOUND if there is no such person; renaming onto an existing name is FR_E_ARG. */
fr_status fr_gallery_remove(fr_gallery *g, const char *name);
fr_status fr_gallery_rename(fr_gallery *g, const char *old_name, const char *new_name);

typedef struct fr_gallery_info {
    char model[64];          /* "" while no model is bound */
    char model_version[32];
    int dim;
    int n_people;
    int64_t n_templates;
    int calibrated;          /* 1 if a calibration for this model is stored */
    int64_t n_genuine_pairs, n_impostor_pairs;
    char calibration_source[256];
    int64_t calibrated_at;   /* Unix time */
} fr_gallery_info;

fr_status fr_gallery_get_info(fr_gallery *g, fr_gallery_info *info);

/* The nearest people to a probe: a person's distance is that of their nearest template. */
typedef struct fr_match {
    const char *name; /* valid until the next call on the gallery */
    float distance;
} fr_match;

/* Exact nearest-neighbour search of n_probes embeddings (row-major, the gallery's dim) over
 * every template. matches[i * k + j] is the j-th nearest person of probe i, nearest first;
 * *n_found = min(k, number of people) entries per probe are filled. The templates are read
 * once into memory and re-read when the database has changed. */
fr_status fr_gallery_search(fr_gallery *g, const float *probes, int n_probes, int k,
                            fr_match *matches, int *n_found);

/* A decision threshold and where it came from. */
typedef enum fr_threshold_origin {
    FR_THRESHOLD_MODEL_DEFAULT, /* no calibration: the model's documented default */
    FR_THRESHOLD_CALIBRATED,    /* read off the stored impostor distances */
    FR_THRESHOLD_SHIPPED        /* no calibration of its own: the model's calibration shipped
                                 * with facerec (share/facerec/calibration/<model>.txt) */
} fr_threshold_origin;

typedef struct fr_threshold {
    float distance;             /* same person when distance <= this */
    fr_threshold_origin origin;
    double far;                 /* per-comparison false-accept rate aimed at */
    double frr;                 /* false-reject rate the calibration predicts (NaN if none) */
    char note[320];             /* where the value came from, in words */
} fr_threshold;

/* The documented default distance threshold of an embedding model (FR_E_NOT_FOUND if none). */
fr_status fr_model_default_threshold(const char *model, fr_threshold *out);

/* The threshold for one comparison at false-accept rate `far` (verification). A gallery
 * without a calibration of its own uses the one shipped for its model (and embedding length),
 * else the model's default. A malformed shipped file is FR_E_FORMAT naming it. */
fr_status fr_gallery_threshold(fr_gallery *g, double far, fr_threshold *out);

/* The same without a gallery: the calibration shipped for `model` (fr_engine_model()) and
 * embedding length `dim` (fr_engine_dim()), else the model's default. */
fr_status fr_model_threshold(const char *model, int dim, double far, fr_threshold *out);

/* Open-set identification: a target false-positive identification rate `fpir` (a stranger
 * named as someone) over the gallery's N people becomes far = fpir / N. */
fr_status fr_gallery_identify_threshold(fr_gallery *g, double fpir, fr_threshold *out);

typedef struct fr_calibration_stats {
    int64_t n_genuine_pairs, n_impostor_pairs;
    float eer;          /* equal error rate */
    float eer_distance; /* the threshold where it occurs */
} fr_calibration_stats;

/* Calibrate the gallery's model from labeled embeddings (row-major, n x dim; labels[i] is the
 * person of row i): measures every same-person and every different-person pair and stores
 * both distance distributions as quantiles, replacing any earlier calibration. `source`
 * describes the data (e.g. its folder). */
fr_status fr_gallery_calibrate(fr_gallery *g, const float *embeddings, const int *labels, int n,
                               const char *source, fr_calibration_stats *stats);

/* The same measurement without a gallery, written to the text file `path` (a versioned
 * header line, the model, dim, source, pair counts and both quantile tables): the form in
 * which calibrations are shipped. embeddings are n x dim, made by `model`. */
fr_status fr_calibration_export(const char *model, int dim, const float *embeddings,
                                const int *labels, int n, const char *source, const char *path,
                                fr_calibration_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* FACEREC_H */
