/* train.h: fine-tuning face embeddings with the triplet loss, as FaceNet trains them, on a CPU
 * (not installed; used by `facerec train`).
 *
 *   backward   the backward passes of the nn ops (gradients of a loss through each op)  backward.c
 *   triplet    online triplet selection in a batch of P people x K photos, the loss     triplet.c
 *   adam       the Adam optimiser (with optional decoupled weight decay)                adam.c
 *   head       a learned projection on a frozen base embedding (face/head.h): its start,  head.c
 *              backward pass and file
 *   full       the whole dlib-resnet network trained: forward, backward, file             full.c
 *   augment    random flips, shifts, scalings and brightness changes of faces           augment.c
 *   dataset    a folder per person -> aligned crops, or base embeddings, of each photo   dataset.c
 *              and its copies
 *   trainer    the training loop: epochs of P x K batches, validation accuracy            trainer.c
 *   curve      the loss / accuracy curve as an image                                     curve.c
 *
 * This header is what the front ends use; train_internal.h adds the backward passes and the
 * head's training pass over the runtime's internals, for tools/train itself and the tests.
 *
 * Backward functions follow the forward op's layout (see src/nn/nn.h): given the forward's
 * inputs and the gradient of the loss with respect to its output (dout), they write the
 * gradient with respect to the input (din, overwritten; NULL: not wanted) and ADD the
 * gradients of the parameters into their buffers (so that a batch accumulates), except where
 * a comment says otherwise. */
#ifndef FR_TRAIN_H
#define FR_TRAIN_H

#include "facerec.h"

#include <stddef.h>
#include <stdint.h>

/* the projection head (face/head.h, internal to the library; see train_internal.h) */
typedef struct embed_head embed_head;

/* ---- random numbers ------------------------------------------------------------------- */

/* A seeded generator (splitmix64), so that a run is the same for the same --seed. */
typedef struct train_rng {
    uint64_t state;
} train_rng;

uint64_t train_rng_next(train_rng *r);
/* uniform in [0, n) (n >= 1) */
int train_rng_below(train_rng *r, int n);
/* uniform in [lo, hi) */
float train_rng_uniform(train_rng *r, float lo, float hi);

/* ---- triplets ----------------------------------------------------------------------------- */

typedef struct train_triplet {
    int anchor, positive, negative; /* rows of the batch */
} train_triplet;

/* The squared Euclidean distance between rows. */
float train_squared_distance(const float *a, const float *b, int dim);

/* Which negatives online selection draws from, for an anchor-positive pair (a, p):
 *   TRAIN_MINING_ACTIVE     every negative n with a positive loss, d(a,n) < d(a,p) + alpha:
 *                           the hard ones (closer than the positive) and the semi-hard ones
 *   TRAIN_MINING_SEMI_HARD  FaceNet's semi-hard ones only, d(a,p) < d(a,n) < d(a,p) + alpha
 * Semi-hard selection suits a base that already separates most people (FaceNet trains from
 * scratch on millions of photos and avoids the hard negatives that collapse a young model);
 * on photos the base model confuses (hard light, poor alignment), most of its errors are
 * hard negatives, which semi-hard selection never trains on: the loss stays flat. */
typedef enum train_mining { TRAIN_MINING_ACTIVE, TRAIN_MINING_SEMI_HARD } train_mining;

/* Online selection in a batch of embeddings emb (B,dim) with person labels (B): every
 * anchor-positive pair (a, p), a != p, of the same person, each with a negative n of
 * another person drawn at random among the candidates of `mining` (squared distances).
 * Pairs without one are left out. triplets must hold the number of ordered same-person
 * pairs; *n_triplets are written, *n_pairs counts every pair. */
void train_mine_triplets(const float *emb, const int *labels, int B, int dim, float alpha,
                         train_mining mining, train_rng *rng, train_triplet *triplets,
                         int *n_triplets, int *n_pairs);

/* The triplet loss: the sum over triplets of max(|f(a) - f(p)|^2 - |f(a) - f(n)|^2 + alpha, 0).
 * demb (B,dim), if not NULL, is overwritten with its gradient. *n_active (may be NULL) counts
 * the triplets with a positive loss. */
double train_triplet_loss(const float *emb, int B, int dim, const train_triplet *triplets,
                          int n_triplets, float alpha, float *demb, int *n_active);

/* ---- Adam ------------------------------------------------------------------------------- */

typedef struct train_adam_config {
    float lr, beta1, beta2, eps;
    float weight_decay; /* decoupled (AdamW): p -= lr * weight_decay * p; 0: none */
} train_adam_config;

/* Kingma & Ba's defaults (lr 1e-3, betas 0.9 and 0.999, eps 1e-8), no weight decay. */
void train_adam_defaults(train_adam_config *cfg);

/* One step t >= 1 on n parameters p with gradient g; m and v (n) are the moment estimates,
 * zero before the first step. */
void train_adam_step(const train_adam_config *cfg, long t, float *p, const float *g, float *m,
                     float *v, size_t n);

/* ---- the head: a projection trained on top of a frozen base embedding ------------------ *
 *
 * The head, its file and its forward pass are the library's (face/head.h), since inference
 * runs it; training adds its start and its backward pass. W starts as the identity, b, W2
 * and b2 as zeros (W1 small random), so an untrained head gives the base model's
 * (normalised) embedding. */

/* An untrained head (see above) for a base model of embedding length dim. */
fr_status train_head_new(const char *base, int dim, int hidden, train_rng *rng,
                         embed_head **out);
fr_status train_head_save(const embed_head *h, const char *path);

/* The head's id, "<base>+head-<CRC-32 of the parameters>", which galleries record. */
const char *train_head_id(const embed_head *h);
void train_head_free(embed_head *h);

/* ---- the whole network: dlib-resnet fine-tuned end to end ------------------------------ *
 *
 *   x = the aligned crop as the network's input (nets/dlib_resnet.h)       (B,150,150,3)
 *   z = dlib-resnet(x) with the parameters being trained                    (B,128)
 *   y = z / |z|                                                             (B,128)
 *
 * Every convolution's weights and bias (batch norm folded in, as the network runs) and the
 * final matrix are trained: one array in the network's layout (nets/dlib_resnet.h).
 *
 * File: the network's own model file (nets/dlib_resnet.h) with model id
 * "dlib-resnet+full-<CRC-32 of the parameters>", which every command reads with --model FILE
 * (its descriptors are y, L2-normalised) and galleries record as the model. */

#define TRAIN_FULL_BASE "dlib-resnet" /* the default base model trained whole */
/* the other: MobileFaceNet, trained through its TFLite graph's backward pass */
#define TRAIN_GRAPH_BASE "mobilefacenet"

/* The base that cfg->model names for training, checked (base.c): for a head (full = 0) one
 * embedder by name; for the whole network (full = 1) TRAIN_FULL_BASE or a model file of it,
 * whose weights file is written to weights. FR_E_ARG naming the model and the reason (a
 * fusion, a head, another network), FR_E_MODEL for a missing file. */
fr_status train_resolve_base(const fr_config *cfg, int full, char *weights, size_t size);
/* The engine's configuration in words (model, detector, landmarks, alignment by name, ...),
 * as train_set_key takes it. */
fr_status train_settings(const fr_engine *eng, const fr_config *cfg, char *out, size_t size);
/* A head's default base: training works on one network, and this is the best single one. */
#define TRAIN_HEAD_BASE "mobilefacenet"
/* Adam's learning rate for the whole network unless told (train_config_defaults' is the
 * head's): larger steps move the pretrained network away from what generalises */
#define TRAIN_FULL_DEFAULT_LR 1e-5f
/* and its epochs: each runs the network forward and backward over every photo */
#define TRAIN_FULL_DEFAULT_EPOCHS 5

/* a network read from a TFLite graph, trained whole (graph_full.c; train_internal.h) */
typedef struct train_graph train_graph;

typedef struct train_full {
    char base[64]; /* TRAIN_FULL_BASE or TRAIN_GRAPH_BASE */
    char id[96];   /* "<base>+full-<CRC-32 of the parameters>" */
    int dim;
    size_t n_params;
    float *params;
    train_graph *graph; /* MobileFaceNet's graph (NULL: dlib-resnet) */
} train_full;

/* The network with all parameters zero (to be filled by the caller, e.g. in tests). */
fr_status train_full_new(train_full **out);
/* The network read from path: dlib-resnet's (face-api's weights manifest or a model file of
 * it, as dlib_resnet_load reads them), or MobileFaceNet's (its TFLite file, or a model file
 * fine-tuned from it). */
fr_status train_full_load(const char *path, train_full **out);
void train_full_free(train_full *f);
/* Recompute f->id after the parameters changed. */
void train_full_update_id(train_full *f);
fr_status train_full_save(const train_full *f, const char *path);

/* The activations of one forward pass over up to `rows` inputs of size x size (150 for
 * aligned crops; smaller sizes, down to DLIB_RESNET_MIN_INPUT, run the same network), kept
 * for the backward pass, and its scratch. */
typedef struct train_full_pass train_full_pass;
fr_status train_full_pass_new(int rows, int size, train_full_pass **out);
void train_full_pass_free(train_full_pass *p);

/* x is (B,size,size,3) network input (B <= rows); y (B,128) the unit embeddings. */
fr_status train_full_forward(const train_full *f, int threads, const float *x, int B,
                             train_full_pass *pass, float *y);
/* The same for aligned crops (each made the network's input as inference makes it). */
fr_status train_full_forward_crops(const train_full *f, int threads, const fr_image *const *crops,
                                   int B, train_full_pass *pass, float *y);
/* dy is (B,128), the loss's gradient w.r.t. the last forward's y; grad (f->n_params)
 * accumulates. The batch is split in fixed chunks that run in parallel, each with its own
 * gradient, added in order: the result does not depend on the number of threads. */
fr_status train_full_backward(const train_full *f, int threads, train_full_pass *pass,
                              const float *dy, float *grad);
/* Inference: the unit embeddings y (n,128) of aligned crops, as the saved model gives them. */
fr_status train_full_embed(const train_full *f, int threads, const fr_image *const *crops, int n,
                           float *y);

/* ---- augmentation ----------------------------------------------------------------------- */

typedef struct train_augment_config {
    int copies;       /* augmented copies of each photo, besides the photo itself */
    float shift;      /* largest shift of the face in its crop, a share of the face box */
    float scale;      /* largest relative change of the face's size in its crop */
    float brightness; /* largest relative change of the brightness */
} train_augment_config;

/* 2 copies; shifts up to 5%, scalings up to 5%, brightness changes up to 20%. */
void train_augment_defaults(train_augment_config *cfg);

/* One random change of a face: each copy is mirrored with probability 1/2, shifted,
 * scaled and made brighter or darker uniformly within the configured limits. */
typedef struct train_augmentation {
    int mirror;
    float dx, dy;     /* shift, a share of the face box's width and height */
    float scale;      /* the face's size in the crop is multiplied by this */
    float brightness; /* pixel values are multiplied by this */
} train_augmentation;

void train_augment_draw(const train_augment_config *cfg, train_rng *rng, train_augmentation *a);

/* The aligned crop of face (with 68 landmarks) in img as eng's embedder expects it, with the
 * augmentation applied: the shift and scale move the landmarks and box that the alignment
 * reads (so the face moves in its crop as under a less exact alignment, with real pixels
 * around it), then the crop is mirrored and its brightness changed. */
fr_status train_augmented_crop(const fr_engine *eng, const fr_image *img, const fr_face *face,
                               const train_augmentation *a, fr_image **crop);

/* ---- the data: a folder per person -> base embeddings --------------------------------- */

/* The base embeddings of labeled photos: row (i * copies + c) of embeddings is photo i's
 * copy c, copy 0 being the photo itself and the others its augmented copies. */
typedef struct train_set {
    int n_photos;    /* photos with a face (the others are left out) */
    int copies, dim;
    int n_people;    /* labels are 0 .. n_people - 1 */
    int *labels;     /* (n_photos) */
    int *source;     /* (n_photos): the index of each photo in the list given */
    float *embeddings;
} train_set;

/* Called after each photo: face_found is 0 when the photo was left out (it could not be read
 * or aligned); the reason is then in fr_last_error(). */
typedef void (*train_photo_fn)(int done, int total, const char *path, int face_found,
                               void *user);

/* Find the subject's face in each photo (paths[i], of person labels[i] in 0 .. n_people - 1)
 * with eng as `facerec eval` does (see dataset.c), align it, augment it (aug NULL: no copies)
 * with random draws seeded by seed and the photo's index, and embed every copy (in batches).
 * Running out of memory is an error; a photo that cannot be read is left out and reported
 * through fn. */
fr_status train_set_embed(const fr_engine *eng, const char *const *paths, const int *labels,
                          int n, int n_people, const train_augment_config *aug, uint64_t seed,
                          train_photo_fn fn, void *user, train_set *out);
void train_set_free(train_set *s);

/* Split a set by person: every `every`-th person (labels every - 1, 2 every - 1, ...) goes
 * to val, the others to train (labels and sources kept). FR_E_ARG unless both parts have
 * two people with two photos or more. */
fr_status train_set_split(const train_set *all, int every, train_set *train, train_set *val);

/* The aligned crops of labeled photos, for training the whole network: crops[i * copies + c]
 * is photo i's copy c (copy 0 the photo itself). */
typedef struct train_crops {
    int n_photos, copies, n_people;
    int *labels; /* (n_photos) */
    int *source; /* (n_photos): the index of each photo in the list given */
    fr_image **crops;
} train_crops;

/* As train_set_embed, but keeping each copy's aligned crop (in eng's alignment) instead of
 * embedding it: the same faces, augmentations and left-out photos. */
fr_status train_crops_align(const fr_engine *eng, const char *const *paths, const int *labels,
                            int n, int n_people, const train_augment_config *aug, uint64_t seed,
                            train_photo_fn fn, void *user, train_crops *out);
void train_crops_free(train_crops *c);
/* train_set_split for crops: the crops move from all (left empty) into the two parts. */
fr_status train_crops_split(train_crops *all, int every, train_crops *train, train_crops *val);

/* The embeddings depend on the photos, the engine and the augmentation only, so they can be
 * kept in a cache file between runs (e.g. to try other training settings). The key is a
 * digest of the library version, `settings` (the engine's configuration in words: model,
 * detector, landmarks, ...), every photo's path, size, modification time and label, the
 * augmentation and the seed. */
uint32_t train_set_key(const char *settings, const char *const *paths, const int *labels,
                       int n, const train_augment_config *aug, uint64_t seed);
/* The file is a facerec model file (nn/import/frmodel.h) of model id "train-cache". */
fr_status train_set_save(const train_set *s, uint32_t key, const char *path);
/* FR_E_NOT_FOUND (with a message) when there is no such file or it was made for another key. */
fr_status train_set_load(const char *path, uint32_t key, train_set *out);

/* ---- training --------------------------------------------------------------------------- */

typedef struct train_config {
    int epochs;
    int people_per_batch, photos_per_person; /* P x K */
    float alpha;                             /* the triplet loss's margin */
    train_mining mining;
    train_adam_config adam;
    uint64_t seed;
    int threads; /* for the networks' ops (0: $FACEREC_THREADS, else every core) */
} train_config;

/* The head's defaults: 20 epochs of 10 x 6 batches, alpha 0.2 (FaceNet's), every active
 * triplet mined, Adam with lr 1e-3, seed 1 (see trainer.c for how they were chosen). */
void train_config_defaults(train_config *cfg);

typedef struct train_epoch_stats {
    int epoch;            /* 0: before training (validation only) */
    double loss;          /* mean over the anchor-positive pairs of each batch (NaN at 0) */
    double active_share;  /* share of anchor-positive pairs with a semi-hard negative */
    int n_triplets;       /* triplets trained on in the epoch */
    double val_accuracy;  /* verification accuracy on the validation set (NaN: none) */
    double val_eer;       /* its equal error rate */
} train_epoch_stats;

typedef void (*train_epoch_fn)(const train_epoch_stats *s, void *user);

/* Train head h on train's embeddings: each epoch has about n_photos / (P K) batches of P
 * people (of those with two photos or more) and up to K photos each, each photo as a random
 * one of its copies; triplets mined online in each batch, their loss's gradient through the
 * head, one Adam step per batch. With val (may be NULL), its verification accuracy (every
 * same-person pair and as many different-person pairs, 10-fold) before training and after
 * each epoch, and h ends as it was after the epoch of best validation accuracy (the first
 * such; 0 keeps the untrained head), written to *best_epoch (may be NULL). history
 * (cfg->epochs + 1 entries) receives each epoch's figures, fn (may be NULL) too as they
 * come. h->id is updated at the end. */
fr_status train_head_fit(embed_head *h, const train_set *train, const train_set *val,
                         const train_config *cfg, train_epoch_fn fn, void *user,
                         train_epoch_stats *history, int *best_epoch);

/* The same loop for the whole network, on the crops of train (and val, may be NULL), one
 * forward and backward pass of the network per batch. f->id is updated at the end. */
fr_status train_full_fit(train_full *f, const train_crops *train, const train_crops *val,
                         const train_config *cfg, train_epoch_fn fn, void *user,
                         train_epoch_stats *history, int *best_epoch);

/* The loop behind both: a model with unit embeddings of the items of a labeled training set
 * (photo i's copy c is item i * copies + c), its parameters one array for Adam. */
typedef struct train_model {
    float *params;
    size_t n_params;
    int dim;
    int n_photos, copies, n_people;
    const int *labels; /* (n_photos) */
    void *self;
    /* y (B,dim): the unit embeddings of items[0..B), keeping what backward needs */
    fr_status (*forward)(void *self, int threads, const int *items, int B, float *y);
    /* grad (n_params) accumulates the gradient for dy (B,dim) w.r.t. the last forward's y */
    fr_status (*backward)(void *self, int threads, const float *dy, int B, float *grad);
    /* the validation accuracy with the current parameters (NULL: no validation) */
    fr_status (*validate)(void *self, int threads, double *accuracy, double *eer);
} train_model;

fr_status train_fit(const train_model *m, const train_config *cfg, train_epoch_fn fn,
                    void *user, train_epoch_stats *history, int *best_epoch);

/* The verification accuracy of a labeled set's embeddings through head h (NULL: as they
 * are), as train_head_fit measures it on the validation set. */
fr_status train_verification(const embed_head *h, int threads, const train_set *set,
                             double *accuracy, double *eer);

/* The loss and validation accuracy per epoch drawn as a chart (title above it). */
fr_status train_curve_plot(const train_epoch_stats *history, int n, const char *title,
                           fr_image **out);

#endif
