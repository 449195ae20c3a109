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
 *     distances between them are Euclidean, from 0 to 2 (fr_config.raw_embedding keeps a
 *     network's own scale instead).
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

/* Marks the library's exported functions: it is built with -fvisibility=hidden, so these are
 * the only symbols libfacerec.so exports (a test compares the two lists). */
#if defined(__GNUC__)
#define FR_API __attribute__((visibility("default")))
#else
#define FR_API
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
FR_API const char *fr_last_error(void);

/* A short constant name for a status ("ok", "io", "format", ...). */
FR_API const char *fr_status_name(fr_status status);

/* The library version, "MAJOR.MINOR.PATCH". */
FR_API const char *fr_version(void);

/* The CPU kernel level the networks and the gallery search run at in this process: "avx512",
 * "avx2" or "generic", the highest this CPU and its OS support. The environment variable
 * FACEREC_ISA (generic, avx2 or avx512) lowers it, never raises it (a level the CPU lacks,
 * or another value, is ignored). Chosen once, on first use; results do not depend on it
 * beyond float rounding. */
FR_API const char *fr_kernel_level(void);

typedef enum fr_log_level { FR_LOG_DEBUG = 0, FR_LOG_INFO, FR_LOG_WARN } fr_log_level;
typedef void (*fr_log_fn)(fr_log_level level, const char *message, void *user);

/* Install a process-wide log callback (NULL: discard, the default). Call before use. */
FR_API void fr_set_log(fr_log_fn fn, fr_log_level min_level, void *user);

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
FR_API fr_status fr_image_new(int width, int height, fr_image **out);
FR_API void fr_image_free(fr_image *img);

/* Decode JPEG (EXIF orientation applied), PNG, PPM/PGM (P2, P3, P5, P6) or GIF (first frame),
 * recognised by content, not by name. Grey and RGBA become RGB (alpha is dropped).
 * `name` is only used in error messages. */
FR_API fr_status fr_image_load(const char *path, fr_image **out);
FR_API fr_status fr_image_decode(const void *data, size_t size, const char *name,
                                 fr_image **out);

/* Encode by the extension of `path`: .jpg/.jpeg (quality 1..100, 0 = 90), .png, .ppm. */
FR_API fr_status fr_image_save(const fr_image *img, const char *path, int quality);
/* Encode to memory; free *out with free(). */
FR_API fr_status fr_image_encode_jpeg(const fr_image *img, int quality, uint8_t **out,
                                      size_t *size);
FR_API fr_status fr_image_encode_png(const fr_image *img, uint8_t **out, size_t *size);

/* A copy of a rectangle; parts outside the image are black. */
FR_API fr_status fr_image_crop(const fr_image *img, int x, int y, int w, int h, fr_image **out);
/* Bilinear resize (pixel centres aligned, as most resizers do). */
FR_API fr_status fr_image_resize(const fr_image *img, int w, int h, fr_image **out);
/* Affine warp with bilinear sampling: output pixel (x, y) samples the source at
 * (m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]); outside the source is black. */
FR_API fr_status fr_image_warp_affine(const fr_image *img, const float m[6], int w, int h,
                                      fr_image **out);
/* Left-right mirror image. */
FR_API fr_status fr_image_mirror(const fr_image *img, fr_image **out);

/* Drawing for annotated output (clipped to the image). */
FR_API void fr_image_draw_rect(fr_image *img, int x, int y, int w, int h, uint8_t r, uint8_t g,
                               uint8_t b, int thickness);
/* A straight line `thickness` pixels wide from (x0, y0) to (x1, y1) (clipped). */
FR_API void fr_image_draw_line(fr_image *img, float x0, float y0, float x1, float y1, uint8_t r,
                               uint8_t g, uint8_t b, int thickness);
/* Text in a built-in 8x8 pixel font, each pixel drawn as scale x scale; top-left at (x, y). */
FR_API void fr_image_draw_text(fr_image *img, int x, int y, const char *text, uint8_t r,
                               uint8_t g, uint8_t b, int scale);

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
    const char *models_dir; /* NULL: $FACEREC_MODELS, else the models installed with the
                             * library (<prefix>/share/facerec/models, found from where
                             * libfacerec is), or in a build tree the source tree's models/ */
    const char *detector;   /* "mtcnn" (default), "ssd", "blazeface", "blazeface-full", "tiny"
                             * or "haar" */
    const char *landmarks;  /* "68" (default) or "68tiny" */
    const char *model;      /* embedding model: "fusion" (default: mobilefacenet and
                             * dlib-resnet, each in its own alignment, distances combined with
                             * weights 0.3 / 0.7; "fusion:W" gives mobilefacenet the weight W),
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
    int raw_embedding;      /* 1: the network's descriptor as it gives it, not made unit length
                             * (dlib-resnet's in dlib's own scale, as dlib and face_recognition
                             * return them, where 0.6 is dlib's threshold; with flip, the mean
                             * of the face's and its mirror image's); the engine's model id
                             * gets the suffix ":raw", so galleries keep them apart from unit
                             * vectors. A single model only (not a fusion nor a trained head).
                             * 0 (default): unit vectors */
    int liveness;           /* 1: also load the liveness network, for fr_liveness(); 0
                             * (default): not loaded */
    int threads;            /* threads each call of the engine runs its networks on (the
                             * caller's and workers of one process-wide pool); 0 (default):
                             * $FACEREC_THREADS if set, else every core. Results are the same
                             * bits whatever the count. Engines with different counts may
                             * run at once. */
    const char *photometric; /* photometric normalisation of each aligned crop before it is
                             * embedded: NULL or "none" (default), "histeq" (histogram
                             * equalisation of the luminance), "tan-triggs" (Tan and Triggs's
                             * illumination normalisation) */
    const char *cache_dir;  /* the folder of prepared files: the networks' weights as they
                             * run them (folded, transformed), written after a network's first
                             * load and mapped at the next ones, which then read no model file
                             * (a stale or damaged file is made again). NULL (default):
                             * $FACEREC_CACHE if set, else $XDG_CACHE_HOME/facerec, else
                             * $HOME/.cache/facerec; "" (here or in $FACEREC_CACHE): no prepared
                             * files. A folder that cannot be made or written only costs the
                             * time */
} fr_config;

FR_API void fr_config_init(fr_config *cfg);

typedef struct fr_engine fr_engine;

/* Load the networks the configuration names. A missing model file is an error naming the
 * file and the setup command that fetches it. */
FR_API fr_status fr_engine_open(const fr_config *cfg, fr_engine **out);
FR_API void fr_engine_close(fr_engine *eng);

/* The embedding model's identifier (e.g. "dlib-resnet"; "" for an engine opened without one)
 * and its embedding length. */
FR_API const char *fr_engine_model(const fr_engine *eng);
FR_API int fr_engine_dim(const fr_engine *eng);
/* The thread count the engine's calls use (fr_config.threads, 0 resolved). */
FR_API int fr_engine_threads(const fr_engine *eng);

/* Find every face with its landmarks. *faces is allocated (free with fr_faces_free);
 * zero faces is not an error (*n_faces = 0). */
FR_API fr_status fr_detect(fr_engine *eng, const fr_image *img, fr_face **faces, int *n_faces);
/* Align and embed faces already detected in `img` (all in one batch). */
FR_API fr_status fr_embed(fr_engine *eng, const fr_image *img, fr_face *faces, int n_faces);
/* The whole image as one face, for a photo that is one tight face (a face crop, an ID photo)
 * where no detector fires: the 68-point landmark net runs on the whole image as the face's
 * box, and the face is kept only if its points have a face's geometry (their fit to the mean
 * face shape, their tilt and their size in the image); otherwise FR_E_NO_FACE. *face gets the
 * image's box, score 1 - the fit's residual, and the 68 landmarks, from which fr_embed aligns
 * it as any detected face. */
FR_API fr_status fr_whole_face(fr_engine *eng, const fr_image *img, fr_face *face);
/* fr_detect then fr_embed. */
FR_API fr_status fr_process(fr_engine *eng, const fr_image *img, fr_face **faces, int *n_faces);
/* Embed the whole image as one face, without detection or alignment (parity with models' own
 * demos); with flip, averaged with its mirror image like any face. */
FR_API fr_status fr_embed_image(fr_engine *eng, const fr_image *img, fr_face *face);
FR_API void fr_faces_free(fr_face *faces);

/* Liveness (passive anti-spoofing: a printed photo or a screen held up to the camera is an
 * attack). For each face found in `img`, scores[i] is the probability that it is live, 0..1,
 * from the network fr_liveness.onnx (npm faceplugin-face-recognition-js@0.0.1) run on a
 * crop around the face's box (FR_LIVENESS_THRESHOLD holds for boxes of the "mtcnn" detector,
 * the default; other detectors' boxes crop differently and score live faces lower). It costs
 * one network run per face, so it is only computed when asked; the engine must be opened
 * with fr_config.liveness = 1 (else FR_E_ARG). */
FR_API fr_status fr_liveness(fr_engine *eng, const fr_image *img, const fr_face *faces,
                             int n_faces, float *scores);

/* A face is live when its score is at least this: the threshold the model's evaluation chose
 * on the live faces of one data set (issue 21: on another set it rejected 5.7% of live faces
 * and accepted 2.9% to 8.6% of attacks per attack type). Not tuned on any data shipped here. */
#define FR_LIVENESS_THRESHOLD 0.93f

/* Euclidean distance between two embeddings of length dim. */
FR_API float fr_distance(const float *a, const float *b, int dim);

/* ---------------------------------------------------------------------------------------
 * Gallery: enrolled people and their templates (SQLite or PostgreSQL), search, thresholds
 * ------------------------------------------------------------------------------------- */

/* A gallery holds people, each with one or more templates (an embedding and where it came
 * from), the embedding model they were made with, the distance distributions measured by
 * calibration, API keys, template images and a change log. It lives in one of two databases,
 * with the same behaviour and errors on both:
 *   - an SQLite file (the default; WAL mode: readers keep working while one process writes);
 *   - a PostgreSQL database, named by a URI "postgresql://user[:password]@host[:port]/dbname"
 *     (or "postgres://...", with libpq's query parameters such as ?sslmode=require), shared
 *     by any number of processes and machines. Messages name it without its password.
 * facerec makes the tables itself and upgrades an older schema when opening; a schema newer
 * than this library reads is FR_E_DB. A locked, corrupt, foreign or unreachable database is
 * FR_E_DB with a message naming the file, or the host and database. Every change of the
 * people or templates is one transaction (all or nothing) that also appends to the change log.
 *
 * The database and the copy in memory: fr_gallery_search works from a
 * copy of every template held in memory, read once (in bulk) by the first search or
 * fr_gallery_refresh. A handle's own changes are seen by its next search. Changes made
 * through other handles (other processes, other servers) reach the copy:
 *   - SQLite: by the next search, which checks the change log first (a local read);
 *   - PostgreSQL: by fr_gallery_refresh only; a search never waits for the database, so a
 *     slow, locked or unreachable database never blocks identification.
 * Every other call reads or writes the database. On PostgreSQL, a call that finds the
 * connection lost fails with FR_E_DB ("database unavailable ...") and the next call
 * reconnects by itself. A handle is used by one thread at a time. */
typedef struct fr_gallery fr_gallery;

/* The default gallery: $FACEREC_DB if set (a file or a PostgreSQL URI), else "facerec.db"
 * in the current folder. */
FR_API const char *fr_gallery_default_path(void);

/* Open the gallery at `path`, a file or a PostgreSQL URI (NULL: fr_gallery_default_path()).
 * With create = 0 a missing file, or a database without a gallery, is FR_E_NOT_FOUND; with
 * create = 1 it is made. A URI in a build without PostgreSQL is FR_E_UNSUPPORTED. */
FR_API fr_status fr_gallery_open(const char *path, int create, fr_gallery **out);
FR_API void fr_gallery_close(fr_gallery *g);
/* The file, or the URI without its password. */
FR_API const char *fr_gallery_path(const fr_gallery *g);
/* "sqlite" or "postgresql". */
FR_API const char *fr_gallery_backend(const fr_gallery *g);

/* Bring the in-memory copy up to date with the change log (touches the database): applies
 * the changes made since the copy was read, by any handle, and reports how many in
 * *n_applied (may be NULL; 0 when there were none). A handle that was disconnected catches
 * up on every change it missed. Loads the copy if there is none yet (*n_applied = 0). */
FR_API fr_status fr_gallery_refresh(fr_gallery *g, int64_t *n_applied);

/* Block until another handle may have changed the gallery, or timeout_ms passed (then
 * returns FR_OK too): call fr_gallery_refresh after it. PostgreSQL: a notification sent when
 * the change committed (LISTEN/NOTIFY), arriving within milliseconds; SQLite: the change log
 * is looked at every 100 ms. FR_E_DB if the database cannot be reached. */
FR_API fr_status fr_gallery_wait_changes(fr_gallery *g, int timeout_ms);

/* Copy everything of gallery `from` into the empty gallery `to` (people, templates with their
 * embeddings, sources and SHA-256, template images, calibration, API keys; the model binding)
 * in one transaction, without computing any embedding again: SQLite to PostgreSQL and back.
 * Ids are given anew. A `to` that holds people already is FR_E_ARG; one bound to another
 * model is FR_E_MISMATCH. *n_templates (may be NULL) is how many templates were copied. */
FR_API fr_status fr_gallery_copy(fr_gallery *from, fr_gallery *to, int64_t *n_templates);

/* The change-log sequence number the in-memory copy includes (*loaded, -1 if none is loaded;
 * may be NULL) and the newest one in the database (*latest; touches the database). */
FR_API fr_status fr_gallery_change_seq(fr_gallery *g, int64_t *loaded, int64_t *latest);

/* Bind the gallery to the embedding model that feeds it. An empty gallery records the model;
 * one made by another model (name or dim) is FR_E_MISMATCH naming both. `model_version`
 * identifies the implementation that computed the embeddings (recorded with each template). */
FR_API fr_status fr_gallery_use_model(fr_gallery *g, const char *model,
                                      const char *model_version, int dim);

/* One template to enroll. */
typedef struct fr_template {
    const float *embedding; /* the gallery's dim floats */
    const char *source;     /* the file it came from */
    uint8_t sha256[32];     /* of that file's bytes */
    float x, y, w, h;       /* the face box in the source */
    float quality;          /* e.g. the detector score */
} fr_template;

/* SHA-256 of a file's bytes. */
FR_API fr_status fr_file_sha256(const char *path, uint8_t digest[32]);

/* Whether a template from a file with this SHA-256 is enrolled; if so its person's name is
 * written to name (truncated to name_size). */
FR_API fr_status fr_gallery_find_source(fr_gallery *g, const uint8_t sha256[32], int *found,
                                        char *name, size_t name_size);

/* Add n >= 1 templates to the person `name`, created if new, in one transaction: after a
 * crash either all of them are stored or none. A source already enrolled is FR_E_ARG. */
FR_API fr_status fr_gallery_enroll(fr_gallery *g, const char *name,
                                   const fr_template *templates, int n);

typedef struct fr_person {
    char *name;
    int n_templates;
    int64_t added; /* Unix time of the first template (of the person, while they have none) */
} fr_person;

/* Every person, by name. Free with fr_people_free(). */
FR_API fr_status fr_gallery_people(fr_gallery *g, fr_person **people, int *n_people);
FR_API void fr_people_free(fr_person *people, int n_people);
/* FR_E_NOT_FOUND if there is no such person; renaming onto an existing name is FR_E_ARG. */
FR_API fr_status fr_gallery_remove(fr_gallery *g, const char *name);
FR_API fr_status fr_gallery_rename(fr_gallery *g, const char *old_name, const char *new_name);
/* A person without templates yet (FR_E_ARG if the name is taken). A person stays enrolled,
 * with no templates, after their last template is removed; fr_gallery_people lists them. */
FR_API fr_status fr_gallery_add_person(fr_gallery *g, const char *name);

/* One stored template, without its embedding. */
typedef struct fr_template_info {
    int64_t id;        /* stable while the template exists */
    char *name;        /* its person */
    char *source;      /* the file (or upload) it came from */
    uint8_t sha256[32];
    float x, y, w, h;  /* the face box in the source */
    float quality;
    int64_t added;     /* Unix time */
} fr_template_info;

/* The templates of person `name` (NULL: of everyone), by person then id. FR_E_NOT_FOUND if
 * there is no such person. Free with fr_template_infos_free(). */
FR_API fr_status fr_gallery_templates(fr_gallery *g, const char *name, fr_template_info **templates,
                               int *n_templates);
FR_API void fr_template_infos_free(fr_template_info *templates, int n_templates);
/* Remove one template by id (FR_E_NOT_FOUND if none); its person's name is written to
 * name (truncated to name_size) when name is not NULL. */
FR_API fr_status fr_gallery_remove_template(fr_gallery *g, int64_t id, char *name, size_t name_size);

/* A small picture of a template's face (e.g. a JPEG thumbnail), kept with it and removed
 * with it. Setting replaces any earlier one; FR_E_NOT_FOUND if there is no such template. */
FR_API fr_status fr_gallery_set_template_image(fr_gallery *g, int64_t id, const void *data, size_t size);
/* The picture of template id (free *data with free()); FR_E_NOT_FOUND if it has none. */
FR_API fr_status fr_gallery_template_image(fr_gallery *g, int64_t id, void **data, size_t *size);

/* SHA-256 (FIPS 180-4) of a buffer, through OpenSSL's libcrypto. */
FR_API void fr_sha256(const void *data, size_t size, uint8_t digest[32]);

/* API keys of a service over the gallery (facerec serve), stored as the SHA-256 of the key,
 * never the key itself, each with a role: "recognize" (identify, verify, detect) or "admin"
 * (also enroll, rename, remove). */
typedef struct fr_api_key {
    int64_t id;
    char label[64];
    char role[16];
    int64_t created; /* Unix time */
} fr_api_key;

/* Store a key's hash with a role and a label (what it is for); *id receives its id. A role
 * other than "recognize" or "admin" is FR_E_ARG. */
FR_API fr_status fr_gallery_key_add(fr_gallery *g, const uint8_t key_sha256[32], const char *role,
                             const char *label, int64_t *id);
/* Every key, by id. Free with free(). */
FR_API fr_status fr_gallery_keys(fr_gallery *g, fr_api_key **keys, int *n_keys);
/* FR_E_NOT_FOUND if there is no key with this id. */
FR_API fr_status fr_gallery_key_revoke(fr_gallery *g, int64_t id);
/* The role of the key whose SHA-256 is given: *found = 0 if none; role receives the role. */
FR_API fr_status fr_gallery_key_lookup(fr_gallery *g, const uint8_t key_sha256[32], int *found,
                                char *role, size_t role_size);

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

FR_API fr_status fr_gallery_get_info(fr_gallery *g, fr_gallery_info *info);
/* Check the whole database file (SQLite's quick_check over every page, then every template as
 * search reads it: its person, its length, finite values): FR_E_DB naming the file and the
 * first problem found. Reads all of it: for `facerec info`, not for every command. */
FR_API fr_status fr_gallery_check(fr_gallery *g);

/* The nearest people to a probe: a person's distance is that of their nearest template. */
typedef struct fr_match {
    const char *name; /* valid until the next call on the gallery */
    float distance;
} fr_match;

/* Exact nearest-neighbour search of n_probes embeddings (row-major, the gallery's dim) over
 * every template. matches[i * k + j] is the j-th nearest person of probe i, nearest first;
 * *n_found = min(k, number of people) entries per probe are filled. The templates are read
 * once into memory; see "The database and the copy in memory" above for when they are read
 * again. */
FR_API fr_status fr_gallery_search(fr_gallery *g, const float *probes, int n_probes, int k,
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
FR_API fr_status fr_model_default_threshold(const char *model, fr_threshold *out);

/* The threshold for one comparison at false-accept rate `far` (verification). A gallery
 * without a calibration of its own uses the one shipped for its model (and embedding length),
 * else the model's default. A malformed shipped file is FR_E_FORMAT naming it. */
FR_API fr_status fr_gallery_threshold(fr_gallery *g, double far, fr_threshold *out);

/* The same without a gallery: the calibration shipped for `model` (fr_engine_model()) and
 * embedding length `dim` (fr_engine_dim()), else the model's default. */
FR_API fr_status fr_model_threshold(const char *model, int dim, double far, fr_threshold *out);

/* Open-set identification: a target false-positive identification rate `fpir` (a stranger
 * named as someone) over the gallery's N people becomes far = fpir / N. */
FR_API fr_status fr_gallery_identify_threshold(fr_gallery *g, double fpir, fr_threshold *out);

typedef struct fr_calibration_stats {
    int64_t n_genuine_pairs, n_impostor_pairs;
    float eer;          /* equal error rate */
    float eer_distance; /* the threshold where it occurs */
} fr_calibration_stats;

/* Calibrate the gallery's model from labeled embeddings (row-major, n x dim; labels[i] is the
 * person of row i): measures every same-person and every different-person pair and stores
 * both distance distributions as quantiles, replacing any earlier calibration. `source`
 * describes the data (e.g. its folder). */
FR_API fr_status fr_gallery_calibrate(fr_gallery *g, const float *embeddings, const int *labels,
                                      int n, const char *source, fr_calibration_stats *stats);

/* The same measurement without a gallery, written to the text file `path` (a versioned
 * header line, the model, dim, source, pair counts and both quantile tables): the form in
 * which calibrations are shipped. embeddings are n x dim, made by `model`. */
FR_API fr_status fr_calibration_export(const char *model, int dim, const float *embeddings,
                                       const int *labels, int n, const char *source,
                                       const char *path, fr_calibration_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* FACEREC_H */
