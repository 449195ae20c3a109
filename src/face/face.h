/* face.h: the stages between an image and an embedding, each behind a small table of
 * implementations found by name: a new network is one file plus one registry line.
 *
 *   detectors   image -> boxes + scores (+ the detector's own points)      detect.c
 *   landmarks   image + boxes -> 68 points                                  pipeline.c
 *   alignment   image + face -> the crop an embedder expects                align.c
 *   embedders   crops -> embedding vectors                                  embed.c
 */
#ifndef FR_FACE_H
#define FR_FACE_H

#include "facerec.h"

typedef struct fr_detector {
    const char *name;
    const char *model_file; /* relative to the models folder */
    float default_min_score;
    fr_status (*load)(const char *path, void **net);
    /* faces: boxes and scores (and points if the detector has them), best first */
    fr_status (*detect)(const void *net, int threads, const fr_image *img, float min_score,
                        fr_face **faces, int *n_faces);
    void (*free)(void *net);
    /* 1: the detector's own 5 points (eyes, nose, mouth corners) suffice for the similarity
     * alignments, so the 68-point net runs only for alignments that need 68 points */
    int points_align;
} fr_detector;

/* NULL if no detector has that name. */
const fr_detector *fr_detector_find(const char *name);
/* Comma-separated names, for help and error messages. */
const char *fr_detector_names(void);

typedef struct fr_embedder {
    const char *name;       /* the model id stored in galleries */
    const char *model_file; /* relative to the models folder */
    int dim;
    const char *default_align;
    /* prepared_folder: where the network may keep a prepared file (nn/prepared.h), NULL:
     * nowhere; networks that have none ignore it */
    fr_status (*load)(const char *path, const char *prepared_folder, void **net);
    /* crops[i] are aligned face images; out is (n, dim) */
    fr_status (*embed)(const void *net, int threads, const fr_image *const *crops, int n,
                       float *out);
    void (*free)(void *net);
} fr_embedder;

const fr_embedder *fr_embedder_find(const char *name);
const char *fr_embedder_names(void);

/* A fusion of embedders, found by name like an embedder: each member embeds the face in its
 * own alignment, and the fused embedding is the members' unit embeddings, each scaled by the
 * square root of its weight (the weights sum to 1), one after the other. Its squared
 * distances are then the weighted means of the members' squared distances. */
#define FR_MAX_FUSED 2
typedef struct fr_fusion {
    const char *name;
    const char *members[FR_MAX_FUSED];
    float weights[FR_MAX_FUSED];
} fr_fusion;

/* name is a fusion's name, or "<name>:W" to give its first member the weight W (0 < W < 1)
 * and the second 1 - W. */
const fr_fusion *fr_fusion_find(const char *name);
/* Check that cfg may open fusion (found by fr_fusion_find for model) and give its members'
 * weights: FR_E_ARG for a configuration that chooses an alignment or its scale (each member
 * has its own), or for a weight after ':' that is not between 0 and 1. */
fr_status fr_fusion_resolve(const fr_fusion *fusion, const fr_config *cfg, const char *model,
                            float weights[FR_MAX_FUSED]);

/* The engine's stages one at a time (pipeline.c), for code that works on aligned crops
 * (e.g. training, which augments them): the crop of a face with its 68 landmarks that the
 * engine's embedder expects, and the embeddings of crops (n, fr_engine_dim), through the
 * trained head when the engine has one. */
fr_status fr_engine_align(const fr_engine *eng, const fr_image *img, const fr_face *face,
                          fr_image **crop);
fr_status fr_engine_embed_crops(const fr_engine *eng, const fr_image *const *crops, int n,
                                float *out);

/* Whether 68 points the landmark net gave on a box are a face's (landmark_fit.c):
 *   residual  the root-mean-square distance left after the best rotation, scale and shift onto
 *             the mean face shape, both of unit root-mean-square radius (0: a perfect face's
 *             shape; 1: nothing alike);
 *   angle     the points' tilt from upright (degrees);
 *   radius    their root-mean-square radius about their centre (pixels);
 *   drift     how far the points move, over their radius, when the net is run again on two
 *             boxes a tenth of the image apart (engine_whole_landmarks): the net's points
 *             follow a face's features, but on an image without a face they follow the box
 *             (the net then draws its average face into whatever box it is given, whose shape
 *             alone fits the mean shape well). */
typedef struct landmark_fit_result {
    float residual, angle, radius, drift;
} landmark_fit_result;
void landmark_fit(const float points[68][2], landmark_fit_result *fit);

/* What fr_whole_face accepts as a face (chosen on the relit set's tune half, BENCHMARKS.md):
 * a drift at most LANDMARK_FIT_MAX_DRIFT, a residual at most LANDMARK_FIT_MAX_RESIDUAL, a
 * tilt within LANDMARK_FIT_MAX_ANGLE degrees, a radius between LANDMARK_FIT_MIN_RADIUS and
 * LANDMARK_FIT_MAX_RADIUS of the image's shorter side (a face filling the frame). */
#define LANDMARK_FIT_MAX_DRIFT 0.2f
#define LANDMARK_FIT_MAX_RESIDUAL 0.3f
#define LANDMARK_FIT_MAX_ANGLE 40.0f
#define LANDMARK_FIT_MIN_RADIUS 0.15f
#define LANDMARK_FIT_MAX_RADIUS 0.6f

/* The whole image as a face's box, its 68 landmarks and their fit (with the drift), without
 * fr_whole_face's check (for measuring it). */
fr_status engine_whole_landmarks(const fr_engine *eng, const fr_image *img, fr_face *face,
                                 landmark_fit_result *fit);

/* The 68-point net on face's box (whatever the face had before): face->landmarks and
 * n_landmarks = 68. */
fr_status engine_landmarks68(const fr_engine *eng, const fr_image *img, fr_face *face);

#endif
