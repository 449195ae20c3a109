/* cmd_bench.c: facerec bench: speed of the networks (face-api's four, MobileFaceNet, MTCNN,
 * BlazeFace, nn4.small2, the Haar cascade) and of gallery search with 1 and 2 threads, next to
 * the PyTorch peer (bench/peer_torch.py) and the performance targets.
 *
 * Unlike the other commands, this one calls the networks directly (src/nets) so that each is
 * timed on its own. Inputs are real faces: the faces SSD finds in face-api's demo photo
 * sample1.jpg, cut out as square crops for the embedding nets, and a 640x480 frame made from
 * the same photo for the detectors and the landmark net. The gallery is a temporary SQLite
 * file of synthetic unit-norm templates, grown to each size in turn and deleted at the end. */
#include "cli.h"
#include "common/common.h"
#include "common/json_read.h"
#include "face/face.h"
#include "face/haar.h"
#include "gallery/gallery.h"
#include "nets/faceapi_nets.h"
#include "nets/original_nets.h"
#include "nets/tflite_nets.h"
#include "nn/nn.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *usage =
    "usage: facerec bench [options]\n"
    "Time the networks and gallery search (median of N runs after warm-up) with 1 and 2\n"
    "threads, next to the PyTorch peer bench/peer_torch.py and the performance targets.\n"
    "The gallery is a temporary SQLite file of synthetic templates, deleted afterwards.\n\n"
    "  --models DIR   models folder (default: $FACEREC_MODELS, install prefix, source tree)\n"
    "  --repeat N     timed runs per figure (default 15; at most 3 for the slowest gallery\n"
    "                 figures)\n"
    "  --gallery-size N  largest synthetic gallery: 10000, 100000 or 1000000 (default;\n"
    "                 building the 1M-template file takes ~20 s and ~0.7 GB of disk)\n"
    "  --no-peer      do not run the PyTorch peer\n"
    "  --check        also compare our face descriptors with the peer's on the same crops\n"
    "                 (exit status 1 when they differ by more than 1e-3 in distance)\n"
    "  --json         print one JSON object instead of the table\n\n"
    "The peer needs a Python with torch and numpy: $FACEREC_PYTHON, else the first python3\n"
    "on PATH that has them (Debian: apt-get install python3-torch python3-numpy).\n";

enum { BENCH_FRAME_W = 640, BENCH_FRAME_H = 480, CROP_SIZE = 150, DESCRIPTOR_DIM = 128,
       BATCH = 16, WARMUP_RUNS = 2, MAX_FACES = 100 };
/* the synthetic gallery: templates of GALLERY_DIM floats, TEMPLATES_PER_PERSON per person,
 * searched for the nearest person (k = 1) by one probe or by GALLERY_PROBES at once */
enum { GALLERY_DIM = 128, TEMPLATES_PER_PERSON = 10, GALLERY_PROBES = 1000,
       GALLERY_SMALL = 10000, GALLERY_MEDIUM = 100000, GALLERY_LARGE = 1000000 };
#define DETECT_MIN_SCORE 0.5f
#define SSD_IOU 0.5f
#define TINY_IOU 0.4f
#define TINY_INPUT_SIZE 416
#define CHECK_TOLERANCE 1e-3
#define PEER_SCRIPT FACEREC_BENCH_DIR "/peer_torch.py"

static const int thread_counts[2] = {1, 2};

/* ---- what is measured ------------------------------------------------------------------- */

typedef struct bench {
    ssd_mobilenet *ssd;
    tiny_face_detector *tiny;
    landmark68 *landmarks;
    dlib_resnet *resnet;
    fr_image *frame;                /* 640x480 */
    fr_face *frame_faces;           /* SSD's faces in the frame, for the landmark net */
    int n_frame_faces;
    fr_image *crops[BATCH];         /* 150x150 face crops: n_crops distinct, then repeated */
    int n_crops;
    float descriptors[BATCH * DESCRIPTOR_DIM];
    mobilefacenet *mobilefacenet;
    fr_image *crops112[BATCH];      /* the crops at MobileFaceNet's 112x112, repeated likewise */
    float mobilefacenet_out[BATCH * MOBILEFACENET_DIM];
    nn4small2 *nn4small2;           /* NULL when models/nn4small2.frmodel is not there */
    fr_image *crops96[BATCH];       /* the crops at nn4.small2's 96x96 */
    float nn4small2_out[BATCH * NN4SMALL2_DIM];
    mtcnn *mtcnn;
    blazeface *blazeface_short, *blazeface_full;
    haar_cascade *haar;
    /* the synthetic gallery (a temporary folder holding one SQLite file) */
    char gallery_dir[4000], gallery_path[4096];
    fr_gallery *gallery;
    int64_t gallery_size, max_gallery_size;
    uint64_t random_state;
    float *probes;                  /* (GALLERY_PROBES, GALLERY_DIM), unit norm */
    fr_match *matches;              /* (GALLERY_PROBES) */
    double gallery_build_s;         /* time spent enrolling the synthetic templates */
} bench;

/* One timed run; *n_faces is the number of faces it processed (for per-face figures). */
typedef fr_status (*workload_fn)(bench *b, int *n_faces);

static fr_status run_descriptor_batch1(bench *b, int *n_faces) {
    *n_faces = 1;
    return dlib_resnet_embed(b->resnet, (const fr_image *const *)b->crops, 1, b->descriptors);
}

static fr_status run_descriptor_batch16(bench *b, int *n_faces) {
    *n_faces = BATCH;
    return dlib_resnet_embed(b->resnet, (const fr_image *const *)b->crops, BATCH, b->descriptors);
}

static fr_status run_ssd(bench *b, int *n_faces) {
    fr_face *faces = NULL;
    fr_status st = ssd_mobilenet_detect(b->ssd, b->frame, DETECT_MIN_SCORE, SSD_IOU, MAX_FACES,
                                        &faces, n_faces);
    free(faces);
    return st;
}

static fr_status run_landmarks(bench *b, int *n_faces) {
    *n_faces = b->n_frame_faces;
    return landmark68_run(b->landmarks, b->frame, b->frame_faces, b->n_frame_faces);
}

static fr_status run_tiny(bench *b, int *n_faces) {
    fr_face *faces = NULL;
    fr_status st = tiny_face_detector_detect(b->tiny, b->frame, TINY_INPUT_SIZE, DETECT_MIN_SCORE,
                                             TINY_IOU, &faces, n_faces);
    free(faces);
    return st;
}

static fr_status run_mobilefacenet(bench *b, int n, int *n_faces) {
    *n_faces = n;
    return mobilefacenet_embed(b->mobilefacenet, (const fr_image *const *)b->crops112, n,
                               b->mobilefacenet_out);
}
static fr_status run_mobilefacenet_batch1(bench *b, int *n_faces) {
    return run_mobilefacenet(b, 1, n_faces);
}
static fr_status run_mobilefacenet_batch16(bench *b, int *n_faces) {
    return run_mobilefacenet(b, BATCH, n_faces);
}

static fr_status run_nn4small2(bench *b, int n, int *n_faces) {
    *n_faces = n;
    return nn4small2_embed(b->nn4small2, (const fr_image *const *)b->crops96, n, b->nn4small2_out);
}
static fr_status run_nn4small2_batch1(bench *b, int *n_faces) { return run_nn4small2(b, 1, n_faces); }
static fr_status run_nn4small2_batch16(bench *b, int *n_faces) {
    return run_nn4small2(b, BATCH, n_faces);
}

static fr_status run_mtcnn(bench *b, int *n_faces) {
    fr_face *faces = NULL;
    fr_status st = mtcnn_detect(b->mtcnn, b->frame, MTCNN_DEFAULT_MIN_FACE, MTCNN_DEFAULT_MIN_SCORE,
                                &faces, n_faces);
    free(faces);
    return st;
}

static fr_status run_blazeface(const blazeface *net, bench *b, int *n_faces) {
    fr_face *faces = NULL;
    fr_status st = blazeface_detect(net, b->frame, BLAZEFACE_DEFAULT_MIN_SCORE, &faces, n_faces);
    free(faces);
    return st;
}
static fr_status run_blazeface_short(bench *b, int *n_faces) {
    return run_blazeface(b->blazeface_short, b, n_faces);
}
static fr_status run_blazeface_full(bench *b, int *n_faces) {
    return run_blazeface(b->blazeface_full, b, n_faces);
}

static fr_status run_haar(bench *b, int *n_faces) {
    /* the detector registry's settings: the original demo's detectMultiScale(gray, 1.3, 5) */
    const haar_options opt = {.scale_factor = HAAR_DEFAULT_SCALE_FACTOR,
                              .min_neighbors = HAAR_DEFAULT_MIN_NEIGHBORS};
    haar_box *boxes = NULL;
    fr_status st = haar_detect(b->haar, b->frame, &opt, &boxes, n_faces);
    free(boxes);
    return st;
}

static fr_status run_search(bench *b, int n_probes) {
    int n_found;
    return fr_gallery_search(b->gallery, b->probes, n_probes, 1, b->matches, &n_found);
}
static fr_status run_search_1(bench *b, int *n_faces) {
    *n_faces = 1;
    return run_search(b, 1);
}
static fr_status run_search_1000(bench *b, int *n_faces) {
    *n_faces = GALLERY_PROBES;
    return run_search(b, GALLERY_PROBES);
}
/* Reading every template from SQLite: the in-memory copy is dropped, and the next search
 * (one probe) reads them all again. */
static fr_status run_gallery_load(bench *b, int *n_faces) {
    gallery_unload(b->gallery);
    return run_search_1(b, n_faces);
}

/* One row of the table. Keys are also the JSON keys; peer_key names the peer's figure. */
enum { ROW_DESCRIPTOR_1, ROW_DESCRIPTOR_16, ROW_SSD, ROW_LANDMARKS, ROW_TINY,
       ROW_MOBILEFACENET_1, ROW_MOBILEFACENET_16, ROW_NN4SMALL2_1, ROW_NN4SMALL2_16, ROW_MTCNN,
       ROW_BLAZEFACE_SHORT, ROW_BLAZEFACE_FULL, ROW_HAAR, ROW_SEARCH_10K, ROW_SEARCH_100K,
       ROW_SEARCH_1000_100K, ROW_LOAD_100K, ROW_SEARCH_1M, ROW_LOAD_1M, N_ROWS };

typedef struct row_info {
    const char *key;
    const char *label;
    workload_fn run;
    int per_face;          /* divide by the faces processed per run */
    const char *peer_key;  /* NULL: the peer has no counterpart */
    double max_ms;         /* target: at most this many ms (0: none) */
    double min_ratio;      /* target: peer ms / our ms at least this (0: none) */
    int64_t gallery_size;  /* the synthetic gallery this row searches (0: none) */
    int max_repeat;        /* slow rows: at most this many timed runs, 1 warm-up (0: no cap) */
    const char *target_note; /* said after the target */
} row_info;

static const row_info rows[N_ROWS] = {
    [ROW_DESCRIPTOR_1] = {"descriptor_batch1_ms", "descriptor, batch 1", run_descriptor_batch1, 1,
                          "descriptor_batch1_ms", 0, 1.5},
    [ROW_DESCRIPTOR_16] = {"descriptor_batch16_ms_per_face", "descriptor, batch 16, per face",
                           run_descriptor_batch16, 1, "descriptor_batch16_ms_per_face", 8.0, 0},
    [ROW_SSD] = {"ssd_640x480_ms", "SSD detect 640x480 (peer: 512 fwd)", run_ssd, 0,
                 "ssd_512_ms", 40.0, 0},
    [ROW_LANDMARKS] = {"landmarks68_ms_per_face", "landmarks 68, per face", run_landmarks, 1,
                       NULL, 0, 0},
    [ROW_TINY] = {"tiny_640x480_ms", "tiny detector 640x480", run_tiny, 0, NULL, 0, 0},
    [ROW_MOBILEFACENET_1] = {"mobilefacenet_batch1_ms", "MobileFaceNet, batch 1",
                             run_mobilefacenet_batch1, 1, NULL, 0, 0},
    [ROW_MOBILEFACENET_16] = {"mobilefacenet_batch16_ms_per_face",
                              "MobileFaceNet, batch 16, per face", run_mobilefacenet_batch16, 1,
                              NULL, 4.0, 0},
    [ROW_NN4SMALL2_1] = {"nn4small2_batch1_ms", "nn4.small2, batch 1", run_nn4small2_batch1, 1,
                         NULL, 0, 0},
    [ROW_NN4SMALL2_16] = {"nn4small2_batch16_ms_per_face", "nn4.small2, batch 16, per face",
                          run_nn4small2_batch16, 1, NULL, 0, 0},
    [ROW_MTCNN] = {"mtcnn_640x480_ms", "MTCNN detect 640x480", run_mtcnn, 0, NULL, 40.0, 0},
    [ROW_BLAZEFACE_SHORT] = {"blazeface_short_640x480_ms", "BlazeFace short 640x480",
                             run_blazeface_short, 0, NULL, 3.0, 0},
    [ROW_BLAZEFACE_FULL] = {"blazeface_full_640x480_ms", "BlazeFace full 640x480",
                            run_blazeface_full, 0, NULL, 0, 0},
    [ROW_HAAR] = {"haar_640x480_ms", "Haar cascade 640x480", run_haar, 0, NULL, 0, 0},
    [ROW_SEARCH_10K] = {"search_1_probe_10k_ms", "search 1 probe, 10k templates", run_search_1,
                        0, NULL, 0, 0, GALLERY_SMALL},
    [ROW_SEARCH_100K] = {"search_1_probe_100k_ms", "search 1 probe, 100k templates",
                         run_search_1, 0, NULL, 0, 0, GALLERY_MEDIUM},
    [ROW_SEARCH_1000_100K] = {"search_1000_probes_100k_ms", "search 1000 probes, 100k templ.",
                              run_search_1000, 0, NULL, 1000.0, 0, GALLERY_MEDIUM, 3},
    [ROW_LOAD_100K] = {"gallery_load_100k_ms", "load 100k templates from SQLite",
                       run_gallery_load, 0, NULL, 100.0, 0, GALLERY_MEDIUM, 3, "(>= 1M/s)"},
    [ROW_SEARCH_1M] = {"search_1_probe_1m_ms", "search 1 probe, 1M templates", run_search_1, 0,
                       NULL, 30.0, 0, GALLERY_LARGE},
    [ROW_LOAD_1M] = {"gallery_load_1m_ms", "load 1M templates from SQLite", run_gallery_load, 0,
                     NULL, 1000.0, 0, GALLERY_LARGE, 3, "(>= 1M/s)"},
};

typedef struct timing {
    int valid;
    double median_ms, iqr_ms;
    int repeat, warmup; /* the runs it came from */
} timing;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted[0..n) by linear interpolation between order statistics (as numpy and
 * Python's statistics.quantiles(method="inclusive") compute it). */
static double quantile(const double *sorted, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)pos;
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

static fr_status measure(bench *b, const row_info *row, int repeat, timing *out) {
    int warmup = WARMUP_RUNS;
    if (row->max_repeat > 0 && repeat > row->max_repeat) {
        repeat = row->max_repeat;
        warmup = 1;
    }
    double *times = malloc((size_t)repeat * sizeof *times);
    if (!times) return fr_error(FR_E_NOMEM, "bench: out of memory");
    fr_status st = FR_OK;
    int n_faces = 1;
    for (int i = 0; i < warmup + repeat && st == FR_OK; i++) {
        double start = now_ms();
        st = row->run(b, &n_faces);
        if (i >= warmup) times[i - warmup] = now_ms() - start;
    }
    if (st == FR_OK) {
        qsort(times, (size_t)repeat, sizeof *times, compare_doubles);
        double per = row->per_face && n_faces > 0 ? n_faces : 1;
        out->valid = 1;
        out->repeat = repeat;
        out->warmup = warmup;
        out->median_ms = quantile(times, repeat, 0.5) / per;
        out->iqr_ms = (quantile(times, repeat, 0.75) - quantile(times, repeat, 0.25)) / per;
    } else {
        fr_error_prefix(st, "bench: %s", row->label);
    }
    free(times);
    return st;
}

/* ---- setting up the inputs --------------------------------------------------------------- */

static fr_status model_path(const char *models_dir, const char *name, char *out, size_t outsz) {
    char rel[256];
    snprintf(rel, sizeof rel, "face-api/model/%s-weights_manifest.json", name);
    return fr_model_path(models_dir, rel, out, outsz);
}

static fr_status load_networks(bench *b, const char *models_dir) {
    char path[4096];
    fr_status st;
    if ((st = model_path(models_dir, "ssd_mobilenetv1_model", path, sizeof path)) != FR_OK ||
        (st = ssd_mobilenet_load(path, &b->ssd)) != FR_OK)
        return st;
    if ((st = model_path(models_dir, "tiny_face_detector_model", path, sizeof path)) != FR_OK ||
        (st = tiny_face_detector_load(path, &b->tiny)) != FR_OK)
        return st;
    if ((st = model_path(models_dir, "face_landmark_68_model", path, sizeof path)) != FR_OK ||
        (st = landmark68_load(path, 0, &b->landmarks)) != FR_OK)
        return st;
    if ((st = model_path(models_dir, "face_recognition_model", path, sizeof path)) != FR_OK ||
        (st = dlib_resnet_load(path, &b->resnet)) != FR_OK)
        return st;
    /* the files the embedder and detector registries name */
    if ((st = fr_model_path(models_dir, fr_embedder_find("mobilefacenet")->model_file, path,
                            sizeof path)) != FR_OK ||
        (st = mobilefacenet_load(path, &b->mobilefacenet)) != FR_OK)
        return st;
    if ((st = fr_model_path(models_dir, fr_detector_find("mtcnn")->model_file, path,
                            sizeof path)) != FR_OK ||
        (st = mtcnn_load(path, &b->mtcnn)) != FR_OK)
        return st;
    if ((st = fr_model_path(models_dir, fr_detector_find("blazeface")->model_file, path,
                            sizeof path)) != FR_OK ||
        (st = blazeface_load(path, &b->blazeface_short)) != FR_OK)
        return st;
    if ((st = fr_model_path(models_dir, fr_detector_find("blazeface-full")->model_file, path,
                            sizeof path)) != FR_OK ||
        (st = blazeface_load(path, &b->blazeface_full)) != FR_OK)
        return st;
    if ((st = fr_model_path(models_dir, HAAR_DEFAULT_CASCADE, path, sizeof path)) != FR_OK ||
        (st = haar_load(path, &b->haar)) != FR_OK)
        return st;
    /* nn4.small2 is made by the user from the original's weights: optional */
    if (fr_model_path(models_dir, "nn4small2.frmodel", path, sizeof path) == FR_OK &&
        (st = nn4small2_load(path, &b->nn4small2)) != FR_OK)
        return st;
    return FR_OK;
}

/* Why a row is not measured (NULL: it is). */
static const char *row_skip_reason(const bench *b, const row_info *row) {
    if ((row->run == run_nn4small2_batch1 || row->run == run_nn4small2_batch16) && !b->nn4small2)
        return "no models/nn4small2.frmodel: make it with `facerec import-keras-csv WEIGHTS_DIR "
               "--out models/nn4small2.frmodel` (the original's per-layer CSV weights)";
    if (row->gallery_size > b->max_gallery_size) return "not run (raise --gallery-size)";
    return NULL;
}

/* The largest centred 4:3 part of the photo, scaled to 640x480. */
static fr_status make_frame(const fr_image *photo, fr_image **out) {
    int w = photo->width, h = photo->height;
    if ((long)w * BENCH_FRAME_H > (long)h * BENCH_FRAME_W)
        w = (int)((long)h * BENCH_FRAME_W / BENCH_FRAME_H);
    else
        h = (int)((long)w * BENCH_FRAME_H / BENCH_FRAME_W);
    fr_image *part;
    fr_status st = fr_image_crop(photo, (photo->width - w) / 2, (photo->height - h) / 2, w, h, &part);
    if (st != FR_OK) return st;
    st = fr_image_resize(part, BENCH_FRAME_W, BENCH_FRAME_H, out);
    fr_image_free(part);
    return st;
}

/* The square around each face SSD finds in the photo, scaled to 150x150. */
static fr_status make_crops(bench *b, const fr_image *photo, const char *photo_path) {
    fr_face *faces = NULL;
    int n;
    fr_status st = ssd_mobilenet_detect(b->ssd, photo, DETECT_MIN_SCORE, SSD_IOU, BATCH, &faces, &n);
    if (st != FR_OK) return st;
    if (n == 0) return fr_error(FR_E_NO_FACE, "%s: no face found to benchmark with", photo_path);
    for (int i = 0; i < n && st == FR_OK; i++) {
        float side = FR_MAX(faces[i].w, faces[i].h);
        fr_image *square;
        st = fr_image_crop(photo, (int)lroundf(faces[i].x + (faces[i].w - side) / 2),
                           (int)lroundf(faces[i].y + (faces[i].h - side) / 2), (int)lroundf(side),
                           (int)lroundf(side), &square);
        if (st != FR_OK) break;
        st = fr_image_resize(square, CROP_SIZE, CROP_SIZE, &b->crops[i]);
        fr_image_free(square);
        if (st == FR_OK) b->n_crops++;
    }
    free(faces);
    for (int i = 0; i < b->n_crops && st == FR_OK; i++) {
        st = fr_image_resize(b->crops[i], MOBILEFACENET_INPUT_SIZE, MOBILEFACENET_INPUT_SIZE,
                             &b->crops112[i]);
        if (st == FR_OK)
            st = fr_image_resize(b->crops[i], NN4SMALL2_INPUT, NN4SMALL2_INPUT, &b->crops96[i]);
    }
    for (int i = b->n_crops; st == FR_OK && i < BATCH; i++) {
        b->crops[i] = b->crops[i % b->n_crops];
        b->crops112[i] = b->crops112[i % b->n_crops];
        b->crops96[i] = b->crops96[i % b->n_crops];
    }
    return st;
}

/* ---- the synthetic gallery ------------------------------------------------------------------ */

/* A fixed pseudo-random stream (xorshift64*), so every run searches the same templates. */
static double next_uniform(bench *b) {
    b->random_state ^= b->random_state >> 12;
    b->random_state ^= b->random_state << 25;
    b->random_state ^= b->random_state >> 27;
    return ((b->random_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* n random directions of GALLERY_DIM floats: normal coordinates (Box-Muller), unit norm. */
static void random_unit_vectors(bench *b, float *out, int n) {
    for (int i = 0; i < n; i++) {
        float *v = out + (size_t)i * GALLERY_DIM;
        double sq = 0;
        for (int k = 0; k < GALLERY_DIM; k += 2) {
            double r = sqrt(-2.0 * log(1.0 - next_uniform(b))), a = 2 * acos(-1.0) * next_uniform(b);
            v[k] = (float)(r * cos(a));
            v[k + 1] = (float)(r * sin(a));
            sq += (double)v[k] * v[k] + (double)v[k + 1] * v[k + 1];
        }
        for (int k = 0; k < GALLERY_DIM; k++) v[k] = (float)(v[k] / sqrt(sq));
    }
}

/* An empty gallery in a new temporary folder, and the probes. */
static fr_status gallery_create(bench *b) {
    const char *tmp = getenv("TMPDIR");
    snprintf(b->gallery_dir, sizeof b->gallery_dir, "%s/facerec-bench-gallery-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->gallery_dir)) {
        fr_status st = fr_error(FR_E_IO, "%s: cannot create: %s", b->gallery_dir, strerror(errno));
        b->gallery_dir[0] = '\0';
        return st;
    }
    snprintf(b->gallery_path, sizeof b->gallery_path, "%s/gallery.db", b->gallery_dir);
    fr_status st = fr_gallery_open(b->gallery_path, 1, &b->gallery);
    if (st == FR_OK) st = fr_gallery_use_model(b->gallery, "bench-synthetic", "1", GALLERY_DIM);
    /* a throw-away file: no need to wait for the disk at each commit */
    if (st == FR_OK) st = gallery_exec(b->gallery, "PRAGMA synchronous=OFF", "bench settings");
    if (st != FR_OK) return st;
    b->random_state = 0x9E3779B97F4A7C15ULL;
    b->probes = malloc((size_t)GALLERY_PROBES * GALLERY_DIM * sizeof *b->probes);
    b->matches = malloc(GALLERY_PROBES * sizeof *b->matches);
    if (!b->probes || !b->matches) return fr_error(FR_E_NOMEM, "bench: out of memory");
    random_unit_vectors(b, b->probes, GALLERY_PROBES);
    return FR_OK;
}

/* Enroll synthetic people (TEMPLATES_PER_PERSON templates each) until the gallery holds n. */
static fr_status gallery_grow(bench *b, int64_t n) {
    if (!b->gallery) {
        fr_status st = gallery_create(b);
        if (st != FR_OK) return st;
    }
    float embeddings[TEMPLATES_PER_PERSON * GALLERY_DIM];
    char sources[TEMPLATES_PER_PERSON][32];
    fr_template templates[TEMPLATES_PER_PERSON];
    fr_status st = FR_OK;
    while (b->gallery_size < n && st == FR_OK) {
        random_unit_vectors(b, embeddings, TEMPLATES_PER_PERSON);
        for (int i = 0; i < TEMPLATES_PER_PERSON; i++) {
            int64_t id = b->gallery_size + i;
            snprintf(sources[i], sizeof sources[i], "synthetic-%lld", (long long)id);
            templates[i] = (fr_template){.embedding = embeddings + i * GALLERY_DIM,
                                         .source = sources[i], .w = 1, .h = 1, .quality = 1};
            memcpy(templates[i].sha256, &id, sizeof id); /* unique is all the store asks */
        }
        char name[32];
        snprintf(name, sizeof name, "person-%lld",
                 (long long)(b->gallery_size / TEMPLATES_PER_PERSON));
        st = fr_gallery_enroll(b->gallery, name, templates, TEMPLATES_PER_PERSON);
        if (st == FR_OK) b->gallery_size += TEMPLATES_PER_PERSON;
    }
    return st;
}

static void gallery_delete(bench *b) {
    fr_gallery_close(b->gallery);
    free(b->probes);
    free(b->matches);
    if (!b->gallery_dir[0]) return;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%s", b->gallery_path, suffixes[i]);
        unlink(path);
    }
    rmdir(b->gallery_dir);
}

static fr_status bench_open(bench *b, const char *models_dir) {
    fr_status st = load_networks(b, models_dir);
    if (st != FR_OK) return st;
    char path[4096];
    if ((st = fr_model_path(models_dir, "face-api/demo/sample1.jpg", path, sizeof path)) != FR_OK)
        return st;
    fr_image *photo;
    if ((st = fr_image_load(path, &photo)) != FR_OK) return st;
    st = make_crops(b, photo, path);
    if (st == FR_OK) st = make_frame(photo, &b->frame);
    fr_image_free(photo);
    if (st != FR_OK) return st;
    st = ssd_mobilenet_detect(b->ssd, b->frame, DETECT_MIN_SCORE, SSD_IOU, MAX_FACES,
                              &b->frame_faces, &b->n_frame_faces);
    if (st == FR_OK && b->n_frame_faces == 0)
        st = fr_error(FR_E_NO_FACE, "%s: no face found in the 640x480 frame made from it", path);
    return st;
}

static void bench_close(bench *b) {
    gallery_delete(b);
    for (int i = 0; i < b->n_crops; i++) {
        fr_image_free(b->crops[i]);
        fr_image_free(b->crops112[i]);
        fr_image_free(b->crops96[i]);
    }
    haar_free(b->haar);
    blazeface_free(b->blazeface_full);
    blazeface_free(b->blazeface_short);
    mtcnn_free(b->mtcnn);
    nn4small2_free(b->nn4small2);
    mobilefacenet_free(b->mobilefacenet);
    free(b->frame_faces);
    fr_image_free(b->frame);
    dlib_resnet_free(b->resnet);
    landmark68_free(b->landmarks);
    tiny_face_detector_free(b->tiny);
    ssd_mobilenet_free(b->ssd);
}

/* ---- the PyTorch peer --------------------------------------------------------------------- */

typedef struct peer {
    int available;
    char reason[512];   /* why not, when unavailable */
    char python[4096];
    char torch_version[64];
    timing t[2][N_ROWS];
} peer;

/* Run argv[0] (looked up on PATH) with argv; stderr is discarded when quiet. With `output`,
 * stdout is captured into a malloc'd NUL-terminated buffer, else discarded. Returns the exit
 * status, or -1 if the program could not be run. */
static int run_program(char *const argv[], int quiet, char **output) {
    int fds[2];
    if (output) *output = NULL;
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* only async-signal-safe calls here: the thread pool exists in the parent */
        int devnull = open("/dev/null", O_WRONLY);
        if (output) dup2(fds[1], STDOUT_FILENO);
        else if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
        if (quiet && devnull >= 0) dup2(devnull, STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int failed = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t new_cap = cap ? cap * 2 : 16384;
            char *grown = realloc(buf, new_cap);
            if (!grown) {
                failed = 1;
                break;
            }
            buf = grown;
            cap = new_cap;
        }
        ssize_t got = read(fds[0], buf + len, 4096);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            free(buf);
            return -1;
        }
    if (failed || !WIFEXITED(status)) {
        free(buf);
        return -1;
    }
    if (output) {
        buf[len] = '\0';
        *output = buf;
    } else {
        free(buf);
    }
    return WEXITSTATUS(status);
}

static int python_has_torch(const char *python) {
    char *const argv[] = {(char *)python, "-c", "import torch, numpy", NULL};
    return run_program(argv, 1, NULL) == 0;
}

/* $FACEREC_PYTHON, else the first python3 on PATH that can import torch and numpy. */
static int find_python(peer *p) {
    const char *chosen = getenv("FACEREC_PYTHON");
    if (chosen && *chosen) {
        snprintf(p->python, sizeof p->python, "%s", chosen);
        if (python_has_torch(p->python)) return 1;
        snprintf(p->reason, sizeof p->reason, "$FACEREC_PYTHON (%s) cannot import torch and numpy",
                 chosen);
        return 0;
    }
    const char *path = getenv("PATH");
    for (const char *dir = path; dir && *dir;) {
        size_t n = strcspn(dir, ":");
        if (n > 0 && n < sizeof p->python - 16) {
            snprintf(p->python, sizeof p->python, "%.*s/python3", (int)n, dir);
            if (access(p->python, X_OK) == 0 && python_has_torch(p->python)) return 1;
        }
        dir += n + (dir[n] == ':');
    }
    snprintf(p->reason, sizeof p->reason,
             "no python3 on PATH can import torch and numpy (apt-get install python3-torch "
             "python3-numpy, or set FACEREC_PYTHON)");
    return 0;
}

static void read_peer_timing(const json_t *figures, const char *key, timing *out) {
    const json_t *fig = json_object_get(figures, key);
    const json_t *median = json_object_get(fig, "median_ms");
    if (!json_is_number(median)) return;
    out->valid = 1;
    out->median_ms = json_number_value(median);
    out->iqr_ms = json_number_value(json_object_get(fig, "iqr_ms"));
}

static void run_peer(peer *p, const char *model_dir, int repeat) {
    if (access(PEER_SCRIPT, R_OK) != 0) {
        snprintf(p->reason, sizeof p->reason, "%s: %s", PEER_SCRIPT, strerror(errno));
        return;
    }
    if (!find_python(p)) return;
    char repeat_arg[16];
    snprintf(repeat_arg, sizeof repeat_arg, "%d", repeat);
    char *const argv[] = {p->python, PEER_SCRIPT, "--model-dir",
                          (char *)model_dir, "--repeat", repeat_arg, NULL};
    char *text;
    int rc = run_program(argv, 0, &text);
    if (rc != 0) {
        snprintf(p->reason, sizeof p->reason, "%.400s peer_torch.py failed (exit status %d)",
                 p->python, rc);
        free(text);
        return;
    }
    json_t *doc;
    fr_status st = parse_json_text(text, strlen(text), "peer_torch.py output", &doc);
    free(text);
    if (st != FR_OK) {
        snprintf(p->reason, sizeof p->reason, "%s", fr_last_error());
        return;
    }
    snprintf(p->torch_version, sizeof p->torch_version, "%s",
             json_string_value(json_object_get(doc, "torch")) ? json_string_value(json_object_get(doc, "torch")) : "?");
    const json_t *threads = json_object_get(doc, "threads");
    for (int t = 0; t < 2; t++) {
        char name[8];
        snprintf(name, sizeof name, "%d", thread_counts[t]);
        for (int r = 0; r < N_ROWS; r++)
            if (rows[r].peer_key) read_peer_timing(json_object_get(threads, name), rows[r].peer_key, &p->t[t][r]);
    }
    json_decref(doc);
    p->available = 1;
}

/* ---- --check: our descriptors against the peer's on the same crops --------------------- */

typedef struct check_result {
    int done;
    double max_abs_diff, max_distance;
} check_result;

static fr_status write_crops(const bench *b, int fd, const char *path) {
    FILE *f = fdopen(fd, "wb");
    if (!f) return fr_error(FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n_values = (size_t)CROP_SIZE * CROP_SIZE * 3;
    float *values = malloc(n_values * sizeof *values);
    int ok = values != NULL;
    for (int i = 0; ok && i < b->n_crops; i++) {
        for (size_t k = 0; k < n_values; k++) values[k] = b->crops[i]->rgb[k];
        ok = fwrite(values, sizeof *values, n_values, f) == n_values;
    }
    free(values);
    if (fclose(f) != 0 || !ok) return fr_error(FR_E_IO, "%s: cannot write the face crops", path);
    return FR_OK;
}

static fr_status check_against_peer(bench *b, const peer *p, check_result *out) {
    const char *tmp = getenv("TMPDIR");
    char in_path[4096], out_path[4096];
    snprintf(in_path, sizeof in_path, "%s/facerec-bench-crops-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    snprintf(out_path, sizeof out_path, "%s/facerec-bench-peer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int in_fd = mkstemp(in_path);
    if (in_fd < 0) return fr_error(FR_E_IO, "%s: cannot create: %s", in_path, strerror(errno));
    int out_fd = mkstemp(out_path);
    if (out_fd < 0) {
        close(in_fd);
        unlink(in_path);
        return fr_error(FR_E_IO, "%s: cannot create: %s", out_path, strerror(errno));
    }
    close(out_fd);
    fr_status st = write_crops(b, in_fd, in_path);
    uint8_t *data = NULL;
    size_t size = 0;
    if (st == FR_OK) {
        char *const argv[] = {(char *)p->python, PEER_SCRIPT, "--check",
                              in_path, out_path, NULL};
        int rc = run_program(argv, 0, NULL);
        if (rc != 0) st = fr_error(FR_E_IO, "%s peer_torch.py --check failed (exit status %d)", p->python, rc);
    }
    size_t expected = (size_t)b->n_crops * DESCRIPTOR_DIM * sizeof(float);
    if (st == FR_OK) st = fr_read_file(out_path, expected, &data, &size);
    if (st == FR_OK && size != expected)
        st = fr_error(FR_E_FORMAT, "%s: peer wrote %zu bytes, expected %zu", out_path, size, expected);
    if (st == FR_OK) st = dlib_resnet_embed(b->resnet, (const fr_image *const *)b->crops, b->n_crops,
                                            b->descriptors);
    if (st == FR_OK) {
        float theirs[BATCH * DESCRIPTOR_DIM];
        memcpy(theirs, data, expected);
        nn_l2_normalize(b->descriptors, b->n_crops, DESCRIPTOR_DIM);
        nn_l2_normalize(theirs, b->n_crops, DESCRIPTOR_DIM);
        for (int i = 0; i < b->n_crops; i++) {
            const float *ours = b->descriptors + i * DESCRIPTOR_DIM;
            const float *peer_desc = theirs + i * DESCRIPTOR_DIM;
            for (int k = 0; k < DESCRIPTOR_DIM; k++)
                out->max_abs_diff = fmax(out->max_abs_diff, fabs(ours[k] - peer_desc[k]));
            out->max_distance = fmax(out->max_distance, fr_distance(ours, peer_desc, DESCRIPTOR_DIM));
        }
        out->done = 1;
    }
    free(data);
    unlink(in_path);
    unlink(out_path);
    return st;
}

/* ---- output --------------------------------------------------------------------------------- */

/* The load rate from SQLite in templates/s, from the largest gallery loaded (0: none). */
static double load_rate(const timing ours_at_threads[N_ROWS]) {
    static const int load_rows[] = {ROW_LOAD_1M, ROW_LOAD_100K};
    for (size_t i = 0; i < sizeof load_rows / sizeof load_rows[0]; i++) {
        const timing *t = &ours_at_threads[load_rows[i]];
        if (t->valid) return rows[load_rows[i]].gallery_size / (t->median_ms / 1e3);
    }
    return 0;
}

/* Whether a figure meets its row's target: 1 yes, 0 no, -1 no target or cannot tell. */
static int target_met(const row_info *row, const timing *ours, const timing *theirs) {
    if (!ours->valid) return -1;
    if (row->max_ms > 0) return ours->median_ms <= row->max_ms;
    if (row->min_ratio > 0 && theirs->valid) return theirs->median_ms / ours->median_ms >= row->min_ratio;
    return -1;
}

static void target_text(const row_info *row, char *out, size_t outsz) {
    if (row->max_ms > 0)
        snprintf(out, outsz, "<= %g ms%s%s", row->max_ms, row->target_note ? " " : "",
                 row->target_note ? row->target_note : "");
    else if (row->min_ratio > 0) snprintf(out, outsz, ">= %gx PyTorch", row->min_ratio);
    else out[0] = '\0';
}

static void print_table(const bench *b, const timing ours[2][N_ROWS], const peer *p, int repeat,
                        const check_result *check) {
    printf("facerec bench: median of %d run%s after %d warm-up runs, [interquartile range]\n",
           repeat, repeat == 1 ? "" : "s", WARMUP_RUNS);
    printf("inputs: %d face crop%s from sample1.jpg at %dx%d; a %dx%d frame with %d face%s\n",
           b->n_crops, b->n_crops == 1 ? "" : "s", CROP_SIZE, CROP_SIZE, BENCH_FRAME_W,
           BENCH_FRAME_H, b->n_frame_faces, b->n_frame_faces == 1 ? "" : "s");
    if (p->available) printf("peer: PyTorch %s (%s)\n\n", p->torch_version, p->python);
    else printf("peer: unavailable: %s\n\n", p->reason);
    if (b->gallery_size > 0)
        printf("gallery: %lld synthetic unit-norm %d-d templates (%d per person) in a temporary "
               "SQLite file, built in %.1f s; k = 1\n",
               (long long)b->gallery_size, GALLERY_DIM, TEMPLATES_PER_PERSON, b->gallery_build_s);
    printf("%-36s %3s %18s %18s %8s   %s\n", "", "thr", "facerec ms", "PyTorch ms", "ratio",
           "target");
    for (int r = 0; r < N_ROWS; r++) {
        const char *skipped = row_skip_reason(b, &rows[r]);
        if (skipped) {
            printf("%-36s     %s\n", rows[r].label, skipped);
            continue;
        }
        for (int t = 0; t < 2; t++) {
            const timing *o = &ours[t][r], *q = &p->t[t][r];
            char mine[32], theirs[32] = "-", ratio[16] = "-", target[48], verdict[64] = "";
            snprintf(mine, sizeof mine, "%.2f [%.2f]", o->median_ms, o->iqr_ms);
            if (q->valid) {
                snprintf(theirs, sizeof theirs, "%.2f [%.2f]", q->median_ms, q->iqr_ms);
                snprintf(ratio, sizeof ratio, "%.2fx", q->median_ms / o->median_ms);
            }
            target_text(&rows[r], target, sizeof target);
            int met = target_met(&rows[r], o, q);
            if (target[0]) snprintf(verdict, sizeof verdict, "%s %s", target,
                                    met < 0 ? "(no peer)" : met ? "ok" : "MISSED");
            if (t == 1 && o->repeat != repeat)
                snprintf(verdict + strlen(verdict), sizeof verdict - strlen(verdict),
                         "%s(%d runs)", verdict[0] ? " " : "", o->repeat);
            printf("%-36s %3d %18s %18s %8s%s%s\n", t == 0 ? rows[r].label : "", thread_counts[t],
                   mine, theirs, ratio, verdict[0] ? "   " : "", verdict);
        }
    }
    printf("\nratio = PyTorch ms / facerec ms (above 1: facerec is faster)\n");
    if (load_rate(ours[0]) > 0)
        printf("gallery load rate from SQLite: %.2fM templates/s (1 thread), %.2fM/s (2 threads)\n",
               load_rate(ours[0]) / 1e6, load_rate(ours[1]) / 1e6);
    if (check->done)
        printf("check: descriptors of %d crops vs PyTorch: max |diff| %.3g, max distance %.3g (%s)\n",
               b->n_crops, check->max_abs_diff, check->max_distance,
               check->max_distance <= CHECK_TOLERANCE ? "agree" : "DIFFER");
}

static void print_timing_json(const timing *t) {
    if (t->valid && t->repeat > 0) /* ours: with the runs it came from */
        printf("{\"median_ms\": %.4f, \"iqr_ms\": %.4f, \"runs\": %d, \"warmup\": %d}",
               t->median_ms, t->iqr_ms, t->repeat, t->warmup);
    else if (t->valid)
        printf("{\"median_ms\": %.4f, \"iqr_ms\": %.4f}", t->median_ms, t->iqr_ms);
    else fputs("null", stdout);
}

static void print_json(const bench *b, const timing ours[2][N_ROWS], const peer *p, int repeat,
                       const check_result *check) {
    printf("{\"repeat\": %d, \"warmup\": %d, \"crops\": %d, \"frame\": [%d, %d], \"frame_faces\": %d",
           repeat, WARMUP_RUNS, b->n_crops, BENCH_FRAME_W, BENCH_FRAME_H, b->n_frame_faces);
    printf(", \"gallery\": {\"templates\": %lld, \"dim\": %d, \"templates_per_person\": %d, "
           "\"build_s\": %.3f}",
           (long long)b->gallery_size, GALLERY_DIM, TEMPLATES_PER_PERSON, b->gallery_build_s);
    if (load_rate(ours[0]) > 0)
        printf(", \"gallery_load_templates_per_s\": {\"1\": %.0f, \"2\": %.0f}",
               load_rate(ours[0]), load_rate(ours[1]));
    fputs(", \"skipped\": {", stdout);
    for (int r = 0, first = 1; r < N_ROWS; r++) {
        const char *skipped = row_skip_reason(b, &rows[r]);
        if (!skipped) continue;
        printf("%s\"%s\": ", first ? "" : ", ", rows[r].key);
        cli_json_string(stdout, skipped);
        first = 0;
    }
    fputc('}', stdout);
    fputs(", \"facerec\": {", stdout);
    for (int t = 0; t < 2; t++) {
        printf("%s\"%d\": {", t ? ", " : "", thread_counts[t]);
        for (int r = 0; r < N_ROWS; r++) {
            printf("%s\"%s\": ", r ? ", " : "", rows[r].key);
            print_timing_json(&ours[t][r]);
        }
        fputc('}', stdout);
    }
    fputs("}, \"peer\": {\"available\": ", stdout);
    if (p->available) {
        fputs("true, \"name\": \"pytorch\", \"version\": ", stdout);
        cli_json_string(stdout, p->torch_version);
        fputs(", \"python\": ", stdout);
        cli_json_string(stdout, p->python);
        for (int t = 0; t < 2; t++) {
            printf(", \"%d\": {", thread_counts[t]);
            int first = 1;
            for (int r = 0; r < N_ROWS; r++) {
                if (!rows[r].peer_key) continue;
                printf("%s\"%s\": ", first ? "" : ", ", rows[r].peer_key);
                print_timing_json(&p->t[t][r]);
                first = 0;
            }
            fputc('}', stdout);
        }
        fputs("}, \"ratio_peer_over_facerec\": {", stdout);
        for (int t = 0; t < 2; t++) {
            printf("%s\"%d\": {", t ? ", " : "", thread_counts[t]);
            int first = 1;
            for (int r = 0; r < N_ROWS; r++) {
                if (!p->t[t][r].valid || !ours[t][r].valid) continue;
                printf("%s\"%s\": %.4f", first ? "" : ", ", rows[r].key,
                       p->t[t][r].median_ms / ours[t][r].median_ms);
                first = 0;
            }
            fputc('}', stdout);
        }
        fputc('}', stdout);
    } else {
        fputs("false, \"reason\": ", stdout);
        cli_json_string(stdout, p->reason);
        fputc('}', stdout);
    }
    fputs(", \"targets\": [", stdout);
    int first = 1;
    for (int r = 0; r < N_ROWS; r++) {
        char target[32];
        target_text(&rows[r], target, sizeof target);
        if (!target[0]) continue;
        for (int t = 0; t < 2; t++) {
            int met = target_met(&rows[r], &ours[t][r], &p->t[t][r]);
            printf("%s{\"figure\": \"%s\", \"threads\": %d, \"target\": ", first ? "" : ", ",
                   rows[r].key, thread_counts[t]);
            cli_json_string(stdout, target);
            printf(", \"met\": %s}", met < 0 ? "null" : met ? "true" : "false");
            first = 0;
        }
    }
    fputc(']', stdout);
    if (check->done)
        printf(", \"check\": {\"crops\": %d, \"max_abs_diff\": %.6g, \"max_distance\": %.6g, "
               "\"agree\": %s}",
               b->n_crops, check->max_abs_diff, check->max_distance,
               check->max_distance <= CHECK_TOLERANCE ? "true" : "false");
    fputs("}\n", stdout);
}

/* ---- the command ---------------------------------------------------------------------------- */

int cmd_bench(int argc, char **argv) {
    static const struct option options[] = {
        {"models", required_argument, 0, 'm'}, {"repeat", required_argument, 0, 'r'},
        {"no-peer", no_argument, 0, 'n'},      {"check", no_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},         {"help", no_argument, 0, 'h'},
        {"gallery-size", required_argument, 0, 'g'}, {0, 0, 0, 0}};
    const char *models_dir = NULL;
    int repeat = 15, use_peer = 1, check = 0, json = 0;
    int64_t gallery_size = GALLERY_LARGE;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'm': models_dir = optarg; break;
        case 'r': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || end == optarg || n < 1 || n > 100000)
                return cli_usage_error("bench", "--repeat needs a whole number from 1 to 100000");
            repeat = (int)n;
            break;
        }
        case 'g': {
            char *end;
            long long n = strtoll(optarg, &end, 10);
            if (*end || end == optarg ||
                (n != GALLERY_SMALL && n != GALLERY_MEDIUM && n != GALLERY_LARGE))
                return cli_usage_error("bench", "--gallery-size must be 10000, 100000 or 1000000");
            gallery_size = n;
            break;
        }
        case 'n': use_peer = 0; break;
        case 'c': check = 1; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_usage_error("bench", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
    if (check && !use_peer) return cli_usage_error("bench", "--check needs the peer (drop --no-peer)");

    bench b = {.max_gallery_size = gallery_size};
    fr_status st = bench_open(&b, models_dir);
    timing ours[2][N_ROWS] = {{{0}}};
    /* row by row, as the gallery grows from one size to the next */
    for (int r = 0; r < N_ROWS && st == FR_OK; r++) {
        if (row_skip_reason(&b, &rows[r])) continue;
        if (rows[r].gallery_size > b.gallery_size) {
            fr_set_threads(0);
            double start = now_ms();
            st = gallery_grow(&b, rows[r].gallery_size);
            b.gallery_build_s += (now_ms() - start) / 1e3;
            if (st != FR_OK) fr_error_prefix(st, "bench: building the synthetic gallery");
        }
        for (int t = 0; t < 2 && st == FR_OK; t++) {
            fr_set_threads(thread_counts[t]);
            st = measure(&b, &rows[r], repeat, &ours[t][r]);
        }
    }
    fr_set_threads(0);
    peer p = {0};
    check_result checked = {0};
    if (st == FR_OK && use_peer) {
        char model_dir[4096];
        st = fr_model_path(models_dir, "face-api/model", model_dir, sizeof model_dir);
        if (st == FR_OK) run_peer(&p, model_dir, repeat);
        if (st == FR_OK && check && !p.available)
            st = fr_error(FR_E_UNSUPPORTED, "bench --check: the PyTorch peer is unavailable: %s", p.reason);
        if (st == FR_OK && check) st = check_against_peer(&b, &p, &checked);
    } else if (st == FR_OK) {
        snprintf(p.reason, sizeof p.reason, "not run (--no-peer)");
    }
    if (st == FR_OK) {
        if (json) print_json(&b, ours, &p, repeat, &checked);
        else print_table(&b, ours, &p, repeat, &checked);
    }
    bench_close(&b);
    if (st != FR_OK) return cli_fail(st);
    return checked.done && checked.max_distance > CHECK_TOLERANCE ? 1 : 0;
}
