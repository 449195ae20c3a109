/* eval.h: accuracy evaluation of the pipeline (not installed; used by `facerec eval`).
 *
 *   protocol   which image pairs are compared, and in which fold      pairs.c
 *   embed      one embedding per image, in parallel, cached on disk     extract.c
 *   metrics    verification (k-fold accuracy, ROC, AUC, EER, TAR@FAR)  metrics.c
 *              and open-set identification (rank-1, FNIR at FPIR)
 *   plot       the ROC curve as an image                                roc_plot.c
 *   relight    the relit test set: faces under a synthetic directional  relight.c
 *              light, split by person
 *
 * Scores are Euclidean distances between embeddings: a pair is called "same person" when its
 * distance is <= the threshold. */
#ifndef FR_EVAL_H
#define FR_EVAL_H

#include "facerec.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EVAL_MAX_FOLDS 32

/* ---- protocol --------------------------------------------------------------------------- */

/* Two images (indices into the protocol's image list), whether they show the same person,
 * and the fold the pair belongs to. */
typedef struct eval_pair {
    int a, b;
    int same;
    int fold;
} eval_pair;

/* A verification protocol. With test_fold < 0 every fold is tested in turn with the threshold
 * chosen on the others (LFW View 2); with test_fold = k only fold k is tested, with the
 * threshold chosen on all the others (LFW View 1: fold 0 train, fold 1 test). */
typedef struct eval_protocol {
    char **images; /* unique image paths, sorted */
    int n_images;
    eval_pair *pairs;
    int n_pairs;
    int n_folds;
    int test_fold;
} eval_protocol;

/* Read an LFW pairs file, recognised by its first line:
 *   "K<TAB>N"  View 2: K folds, each N matched lines "name<TAB>i<TAB>j" then N mismatched
 *              lines "name1<TAB>i<TAB>name2<TAB>j"
 *   "N"        View 1: N matched then N mismatched lines (one fold)
 * Image i of person name is dir/name/name_iiii.jpg. The pairs are appended to *protocol with
 * folds numbered from protocol->n_folds on, which grows by the file's fold count, so a View 1
 * train file then its test file give folds 0 and 1. *view is set to 1 or 2. Errors name the
 * file and line. */
fr_status eval_protocol_read_pairs(const char *path, const char *dir, eval_protocol *protocol,
                                   int *view);

/* Every same-person pair of a labeled image list and as many different-person pairs drawn at
 * random (distinct, fixed seed; all of them if there are fewer), the pairs of each kind dealt
 * into *n_folds folds at random; *n_folds is lowered to the count of the scarcer kind when
 * that is smaller (every fold then holds both kinds). Free *pairs with free(). */
fr_status eval_folder_pairs(const int *labels, int n_images, int *n_folds, uint64_t seed,
                            eval_pair **pairs, int *n_pairs);

void eval_protocol_free(eval_protocol *protocol);

/* splitmix64: the evaluations' small seeded generator (the same draws every run). */
uint64_t eval_random_next(uint64_t *state);

/* ---- embeddings ------------------------------------------------------------------------- */

typedef struct eval_embeddings {
    int n, dim;
    char align[64];    /* the alignment used, by name ("default" if unknown), with "*S" after
                        * it for a scale S other than 1 */
    float *vectors;    /* (n, dim) */
    uint8_t *no_face;  /* (n): 1 where no face was detected and the centre crop was embedded */
    int n_no_face;
    uint8_t *whole;    /* (n): 1 where no face was detected and the whole image, landmarked,
                        * was the face (EVAL_FACE_WHOLE) */
    int n_whole;
    int n_cached;      /* read from the cache */
    int n_computed;    /* computed by this run */
    int n_faces_cached; /* of those, how many reused the face (box and landmarks) found by an
                         * earlier run with the same detector and landmark net */
} eval_embeddings;

/* The face of a photo's subject, as every evaluation (and training) chooses it: the detected
 * face nearest the image centre (LFW photos are centred on their subject; fr_detect already
 * looks again inside a border when a face fills the frame); with none detected, the whole
 * image as one face if its 68 landmarks look like a face's (fr_whole_face), else *centred = 1
 * and a centre square half the image's shorter side, without landmarks. */
fr_status eval_subject_face(fr_engine *eng, const fr_image *img, fr_face *face, int *centred);

/* Where the face eval_subject_face_found came from. */
enum eval_face_source {
    EVAL_FACE_DETECTED = 0, /* a detector found it */
    EVAL_FACE_WHOLE = 1,    /* none did; the image is taken as one face, its 68 landmarks
                             * passed fr_whole_face's check */
    EVAL_FACE_CENTRE = 2    /* neither: the centre square, without landmarks */
};

/* eval_subject_face, saying where the face came from (enum eval_face_source): with no face
 * detected, the whole image is taken as one face (fr_whole_face), and only when its
 * landmarks are not a face's is the centre square used. eval_subject_face's *centred is
 * source == EVAL_FACE_CENTRE. */
fr_status eval_subject_face_found(fr_engine *eng, const fr_image *img, fr_face *face, int *source);

/* Called (from the pool's threads, one call at a time) after each image. */
typedef void (*eval_progress_fn)(int done, int total, void *user);

/* One embedding per image with the engine configured by cfg, as many images at once as it
 * has threads (cfg->threads), on its pool: each image's networks run on one thread.
 * The face used is the detected face nearest the image centre; with none detected, a centre
 * square half the image's shorter side is landmarked, aligned and embedded instead. Results
 * are cached in the SQLite file cache_path (NULL: no cache) by the SHA-256 of each file's
 * bytes and the configuration (model, detector, landmarks, alignment, flip, min score,
 * library version); so are the faces found, by detector, landmark net, min score and library
 * version, so that another model, alignment or flip on the same detector only re-embeds. A
 * fusion's members are embedded and cached one by one, as if each were evaluated alone. */
fr_status eval_embed_images(const fr_config *cfg, const char *const *paths, int n,
                            const char *cache_path, eval_progress_fn progress, void *progress_user,
                            eval_embeddings *out);
void eval_embeddings_free(eval_embeddings *e);

/* The default cache file: $XDG_CACHE_HOME/facerec/embeddings.db, else
 * $HOME/.cache/facerec/embeddings.db. */
fr_status eval_default_cache_path(char *out, size_t out_size);

/* ---- landmarks ---------------------------------------------------------------------------- */

/* The alignment's quality on a relit set's condition: for each image of the reference file
 * (lines "person/file" then 68 points x y, as eval_relight_generate writes them), the face
 * eval_subject_face_found gives on dir/person/file, its five alignment points (align.h: eye
 * centres, nose tip, mouth corners; the detector's own or from 68 landmarks) against the
 * reference's: the mean distance over the reference's distance between the eye centres. */
typedef struct eval_landmark_errors {
    int n_images;
    int n_source[3];       /* by enum eval_face_source */
    double mean_error;     /* over the images with landmarks (detected or whole) */
    double median_error;
    int n_over_10pct;      /* of those, error above 0.1 (a misaligned face) */
    /* the whole image as the face (fr_whole_face's landmarks) on every image, detected or
     * not, to measure its check: the fit's residual (quantiles), how many pass the check, and
     * the five points' error */
    double whole_residual_median, whole_residual_p95, whole_residual_p99, whole_residual_max;
    int n_whole_accepted;
    double whole_mean_error, whole_median_error;
} eval_landmark_errors;

/* One line of a reference file: an image of the set (a path inside its folder) and its 68
 * points (x, y) in the image's pixels. */
typedef struct eval_landmark_reference {
    char file[512];
    float points[68][2];
} eval_landmark_reference;

/* Read a reference file: per line the image's path, then 136 numbers (68 times x, y), all
 * separated by tabs. A path that leaves the set's folder (absolute, or with ".."), a number
 * that is not finite or beyond 1e6 in magnitude, or a line of another shape is an FR_E_FORMAT
 * error naming the file and line; so is a file without lines. Free *refs with free(). */
fr_status eval_landmarks_read_references(const char *path, eval_landmark_reference **refs,
                                         int *n);

/* per_image (NULL: none) gets a line per image: file, source (enum eval_face_source), error
 * (-1 without landmarks), the whole image's fit residual, drift, error and verdict (1
 * accepted). */
fr_status eval_landmarks(const fr_config *cfg, const char *dir, const char *reference,
                         FILE *per_image, eval_landmark_errors *out);

/* ---- metrics ---------------------------------------------------------------------------- */

/* The far_targets at which the true-accept rate is reported. */
#define EVAL_N_FAR_TARGETS 2
extern const double eval_far_targets[EVAL_N_FAR_TARGETS];

typedef struct eval_verification {
    int n_folds_tested;
    double fold_accuracy[EVAL_MAX_FOLDS];  /* of the tested folds, in fold order */
    double fold_threshold[EVAL_MAX_FOLDS]; /* chosen on the other folds */
    double accuracy_mean;
    double accuracy_std;    /* sample standard deviation over the tested folds (0 if one) */
    double threshold_mean;
    /* over the pairs of the tested folds, one threshold for all: */
    int n_genuine, n_impostor;
    double auc;             /* P(a genuine distance < an impostor distance), ties half */
    double auc_se;          /* its standard error (bootstrap over the pairs) */
    double eer;             /* equal error rate (interpolated where FAR meets FRR) */
    double eer_threshold;
    double tar_at_far[EVAL_N_FAR_TARGETS];       /* at FAR <= eval_far_targets[i] */
    double threshold_at_far[EVAL_N_FAR_TARGETS];
} eval_verification;

/* The threshold that maximises accuracy over n pairs, and that accuracy. The first maximum
 * from the low side is taken, placed midway between the neighbouring distances. */
fr_status eval_best_threshold(const float *distances, const int *same, int n,
                              double *threshold, double *accuracy);

/* Verification figures of the pairs' distances under the protocol's folds (see
 * eval_protocol). fold[i] in 0 .. n_folds - 1; test_fold < 0: cross-validation, where folds
 * without pairs are not tested. */
fr_status eval_verify(const float *distances, const int *same, const int *fold, int n,
                      int n_folds, int test_fold, eval_verification *out);

/* One point of a ROC curve: accepting every pair with distance <= threshold. */
typedef struct eval_roc_point {
    double far, tar, threshold;
} eval_roc_point;

/* The ROC curve: one point per distinct distance, FAR rising. Free *points with free(). */
fr_status eval_roc(const float *distances, const int *same, int n, eval_roc_point **points,
                   int *n_points);

typedef struct eval_identification {
    int n_enrolled, n_mated, n_nonmated;
    double rank1;        /* share of mated probes whose nearest enrolled face is their own */
    double fpir_target;
    double threshold;    /* the largest score threshold with FPIR <= fpir_target */
    double fpir;         /* non-mated probes whose nearest distance is <= threshold */
    double fnir;         /* mated probes not named correctly at rank 1 within threshold */
} eval_identification;

/* Open-set 1:N identification: gallery (n_gallery, dim) with labels, probes (n_probes, dim)
 * with the label of their person, or -1 for people not enrolled. A probe's score is the
 * distance to its nearest template less cohort_weight times that template's cohort score
 * (its mean distance to its 10 nearest other templates; 0: the plain distance), a gallery-side
 * score normalisation measured in BENCHMARKS.md. Searched on up to `threads` threads (0: the
 * default); the result does not depend on it. */
fr_status eval_identify(int threads, const float *gallery, const int *gallery_labels,
                        int n_gallery, const float *probes, const int *probe_labels, int n_probes,
                        int dim, double fpir_target, double cohort_weight,
                        eval_identification *out);

/* ---- plot ------------------------------------------------------------------------------- */

/* Draw the ROC curve (TAR against FAR on a log axis, with grid and labels) into a new
 * image; title is printed above the plot. */
fr_status eval_roc_plot(const eval_roc_point *points, int n_points, int n_impostor,
                        const char *title, fr_image **out);

/* ---- relit test set ---------------------------------------------------------------------- */

/* One synthetic light: a distant lamp theta degrees from the camera's axis, from direction phi
 * in the image plane (degrees; 0 from the right, 90 from below, 270 from above, as image y
 * grows downwards), with a share `ambient` of light reaching every point, the linear radiance
 * multiplied by `exposure` (below 1: underexposed), encoded with exponent 1 / gamma (2.2 is
 * sRGB-like; lower is darker in the shadows), and Gaussian sensor noise of `noise` levels. */
typedef struct eval_light {
    float theta, phi, ambient, exposure, gamma, noise;
} eval_light;

/* The lighting conditions of the set: the unlit crop, then the bands of the light's angle
 * from the camera's axis, [lo, hi) degrees. */
#define EVAL_RELIGHT_BANDS 4
extern const float eval_relight_band[EVAL_RELIGHT_BANDS][2];
extern const char *const eval_relight_condition[EVAL_RELIGHT_BANDS + 1]; /* "unlit", "a00-20" .. */

/* Draw a light of angle band b from *state: theta uniform in the band, phi from the sides
 * and above (160 to 380 degrees), ambient 0.03-0.12, exposure 0.3-0.65, gamma 1.2-1.9, noise
 * 1-4 levels. */
void eval_light_draw(uint64_t *state, int band, eval_light *light);

/* Relight a face crop: its pixels (linearised) are the albedo of a face-shaped surface fitted
 * to its 68 landmarks (in crop pixels): an ellipsoid over the jaw's width and from the chin to
 * a forehead above the brows, a nose ridge and eye sockets, the background flat. Each pixel is
 * albedo * (ambient + (1 - ambient) * max(0, normal . light)), the direct term zero where the
 * surface between the pixel and the lamp casts a shadow (a march through the depth map), then
 * exposure, gamma and noise (drawn from noise_seed). *out is a new image of crop's size. */
fr_status eval_relight_face(const fr_image *crop, const float landmarks[68][2],
                            const eval_light *light, uint64_t noise_seed, fr_image **out);

/* Split n names into two halves by a seeded shuffle: half[i] is 0 or 1, the first half
 * holding n / 2 of them. The same names and seed give the same halves whatever their order. */
fr_status eval_relight_split(const char *const *names, int n, uint64_t seed, int *half);

typedef struct eval_relight_options {
    const char *orl_dir;  /* ORL (s1 .. s40 of .pgm), or NULL */
    const char *lfw_dir;  /* LFW (a folder per person), or NULL */
    const char *out_dir;  /* created; must not exist or be empty */
    const char *models_dir;
    uint64_t seed;
    int lfw_people;       /* LFW people taken (drawn among those with lfw_per_person images) */
    int lfw_per_person;   /* their first images taken */
    int threads;
} eval_relight_options;

typedef struct eval_relight_summary {
    int people[2], images[2]; /* per half (0: tune, 1: test) */
    int skipped;              /* source photos where no face was found to crop */
} eval_relight_summary;

/* Build the relit set in o->out_dir (see relight.c and `facerec eval relight --help` for the
 * layout): each source photo's face (the evaluation's subject face, 68 landmarks) cropped
 * tight to 170x190, then relit once per band with a light drawn from the seed, the person's
 * name and the photo's index (so a photo's lights do not depend on what else is generated);
 * the people split into halves "tune" and "test". */
fr_status eval_relight_generate(const eval_relight_options *o, eval_relight_summary *summary);

#endif
