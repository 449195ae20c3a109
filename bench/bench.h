/* bench.h: facerec-bench, the speed of the networks (face-api's four, MobileFaceNet, MTCNN,
 * BlazeFace, nn4.small2, the Haar cascade) and of gallery search with 1 and 2 threads, next to
 * the PyTorch peer (peer_torch.py) and the performance targets.
 *
 *   workloads.c          what is timed (one row of the table each), the inputs, the timing
 *   synthetic_gallery.c  the temporary gallery of synthetic templates that search rows use
 *   peer.c               the PyTorch peer's figures, and --check against its descriptors
 *   process.c            running the peer
 *   report.c             the table, or one JSON object (jansson)
 *   main.c               the options and the order of the work
 *
 * Unlike the facerec command, the bench calls the networks directly (src/nets, internal
 * headers) so that each is timed on its own. Inputs are real faces: the faces SSD finds in
 * face-api's demo photo sample1.jpg, cut out as square crops for the embedding nets, and a
 * 640x480 frame made from the same photo for the detectors and the landmark net. */
#ifndef FR_BENCH_H
#define FR_BENCH_H

#include "face/haar.h"
#include "nets/faceapi_nets.h"
#include "nets/original_nets.h"
#include "nets/tflite_nets.h"

#include <stdint.h>

enum { BENCH_FRAME_W = 640, BENCH_FRAME_H = 480, CROP_SIZE = 150, DESCRIPTOR_DIM = 128,
       BATCH = 16, WARMUP_RUNS = 2, MAX_FACES = 100 };
/* the synthetic gallery: templates of the default model's GALLERY_DIM floats (its first
 * GALLERY_DIM_FIRST from MobileFaceNet weighted GALLERY_WEIGHT_FIRST, the rest from
 * dlib-resnet), TEMPLATES_PER_PERSON per person, searched for the nearest person (k = 1) by
 * one probe or by GALLERY_PROBES at once */
enum { GALLERY_DIM = 320, GALLERY_DIM_FIRST = 192, TEMPLATES_PER_PERSON = 10,
       GALLERY_PROBES = 1000, GALLERY_SMALL = 10000, GALLERY_MEDIUM = 100000,
       GALLERY_LARGE = 1000000 };
#define GALLERY_WEIGHT_FIRST 0.3
#define DETECT_MIN_SCORE 0.5f
#define SSD_IOU 0.5f
#define TINY_IOU 0.4f
#define TINY_INPUT_SIZE 416
#define CHECK_TOLERANCE 1e-3
#define PEER_SCRIPT FACEREC_BENCH_DIR "/peer_torch.py"

#define PEER_SCRIPT FACEREC_BENCH_DIR "/peer_torch.py"

/* the thread counts every figure is measured with */
extern const int thread_counts[2];

/* ---- machine.c ---- */

/* What the figures ran on: the kernels' CPU level (nn/cpu.h), the core's peak multiply-add
 * rate on one thread at that level, the memory read bandwidth with each thread count
 * (memory.c's read_bandwidth_gbs, the one measure of it). */
typedef struct machine {
    char isa[16], best_isa[16];
    char note[128]; /* why FACEREC_ISA was not followed, or "" */
    char model[128];
    double peak_gflops;
    double read_gbs[2]; /* at thread_counts[t], GB/s */
} machine;

void machine_measure(machine *m);

/* GFLOP of convolution per face in dlib-resnet at 150x150 (its layers' 2*K*N*M) */
#define DESCRIPTOR_GFLOP 0.549

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
    fr_engine *engines[2];          /* the default pipeline (fr_config_init's settings) on
                                     * 1 and 2 threads (thread_counts) */
    /* the synthetic gallery (a temporary folder holding one SQLite file) */
    char gallery_dir[4000], gallery_path[4096];
    fr_gallery *gallery;
    int64_t gallery_size, max_gallery_size;
    uint64_t random_state;
    float *probes;                  /* (GALLERY_PROBES, GALLERY_DIM), unit norm */
    uint64_t templates_seed;        /* the random state the templates are made from */
    fr_match *matches;              /* (GALLERY_PROBES) */
    double gallery_build_s;         /* time spent enrolling the synthetic templates */
    /* the identify rows (identify.c): a 640x480 photo of one face, as a file too, and a
     * gallery holding that person; the facerec command and the models folder it is given */
    fr_image *face_photo;
    char identify_dir[4000], identify_photo[4096], identify_db[4096];
    fr_gallery *identify_gallery;
    char facerec_path[4096], models_path[4096];
    const char *only;               /* --only: the comma-separated row keys to run (NULL: all) */
    machine machine;                /* what the figures ran on */
    /* search_check at the largest gallery, and the index's figures there */
    int check_probes, check_exact;
    int64_t checked_size;
    size_t bytes_per_template, first_pass_bytes;
    int prefix_dims;
    int search_only;                /* --search: the gallery rows alone */
} bench;

/* One timed run; *n_faces is the number of faces it processed (for per-face figures). */
typedef fr_status (*workload_fn)(bench *b, int threads, int *n_faces);

/* One row of the table. Keys are also the JSON keys; peer_key names the peer's figure. */
enum { ROW_DESCRIPTOR_1, ROW_DESCRIPTOR_16, ROW_SSD, ROW_LANDMARKS, ROW_TINY,
       ROW_MOBILEFACENET_1, ROW_MOBILEFACENET_16, ROW_NN4SMALL2_1, ROW_NN4SMALL2_16, ROW_MTCNN,
       ROW_BLAZEFACE_SHORT, ROW_BLAZEFACE_FULL, ROW_HAAR, ROW_PIPELINE, ROW_IDENTIFY_WARM,
       ROW_IDENTIFY_COLD, ROW_IDENTIFY_FIRST, ROW_SEARCH_10K, ROW_SEARCH_100K,
       ROW_SEARCH_1000_100K, ROW_LOAD_100K, ROW_SEARCH_1M, ROW_LOAD_1M, N_ROWS };

typedef struct row_info {
    const char *key;
    const char *label;
    workload_fn run;
    int per_face;          /* divide by the faces processed per run */
    const char *peer_key;  /* NULL: the peer has no counterpart */
    double max_ms[2];      /* target with thread_counts[t] threads: at most this many ms
                            * (0: none; the issues set some for 2 threads only) */
    double min_ratio;      /* target on both: peer ms / our ms at least this (0: none) */
    int64_t gallery_size;  /* the synthetic gallery this row searches (0: none) */
    int max_repeat;        /* slow rows: at most this many timed runs, 1 warm-up (0: no cap) */
    const char *target_note; /* said after the target */
} row_info;

extern const row_info rows[N_ROWS];

typedef struct timing {
    int valid;
    double median_ms, iqr_ms;
    int repeat, warmup; /* the runs it came from */
} timing;

typedef struct peer {
    int available;
    char reason[512];   /* why not, when unavailable */
    char python[4096];
    char torch_version[64];
    timing t[2][N_ROWS];
} peer;

/* --check compares these networks' outputs with the peer's on the same crops */
enum { CHECK_DESCRIPTOR, CHECK_MOBILEFACENET, N_CHECKS };
extern const char *const check_names[N_CHECKS];

typedef struct check_result {
    int done;
    double max_abs_diff, max_distance; /* between unit-norm outputs */
} check_result;

/* ---- workloads.c ---- */

/* Load the networks from the models folder and make the inputs from the demo photo. */
fr_status bench_open(bench *b, const char *models_dir);
void bench_close(bench *b);
/* Why a row is not measured (NULL: it is). */
const char *row_skip_reason(const bench *b, const row_info *row);
/* The row's median and interquartile range over `repeat` runs after warm-up. */
fr_status bench_measure(bench *b, const row_info *row, int threads, int repeat, timing *out);
double now_ms(void);

/* ---- identify.c ---- */

/* The one-face photo cut from `photo` around `face`, saved, and the gallery of its person. */
fr_status identify_setup(bench *b, const char *models_dir, const fr_image *photo,
                         const fr_face *face);
void identify_cleanup(bench *b);
fr_status run_identify_warm(bench *b, int threads, int *n_faces);
fr_status run_identify_cold(bench *b, int threads, int *n_faces);
fr_status run_identify_first(bench *b, int threads, int *n_faces);

/* ---- synthetic_gallery.c ---- */

/* Enroll synthetic people (TEMPLATES_PER_PERSON templates each) until the gallery holds n,
 * creating it (in a new temporary folder) and the probes first. */
fr_status synthetic_gallery_grow(bench *b, int64_t n);
/* Close the gallery and delete its folder. */
void synthetic_gallery_delete(bench *b);
/* Search all the probes (k = 1, `threads` threads) and compare each answer with a brute-force
 * float32 search over the same templates made again: b->check_exact of b->check_probes. */
fr_status search_check(bench *b, int threads);

/* ---- memory.c ---- */

/* This machine's memory read bandwidth (GB/s) with `threads` threads: the best of a few
 * passes over a buffer far larger than the caches (0 when the memory cannot be had). */
double read_bandwidth_gbs(int threads);

/* ---- peer.c ---- */

/* The peer's figures for the face-api models in model_dir and MobileFaceNet's file, or
 * p->reason why there are none. */
void peer_run(peer *p, const char *model_dir, const char *mobilefacenet_path, int repeat);
/* Our dlib-resnet descriptors and MobileFaceNet embeddings of the crops against the peer's. */
fr_status peer_check(bench *b, const peer *p, const char *model_dir,
                     const char *mobilefacenet_path, check_result out[N_CHECKS]);

/* ---- report.c ---- */

void report_table(const bench *b, const timing ours[2][N_ROWS], const peer *p, int repeat,
                  const check_result check[N_CHECKS]);
fr_status report_json(const bench *b, const timing ours[2][N_ROWS], const peer *p, int repeat,
                      const check_result check[N_CHECKS]);

#endif
