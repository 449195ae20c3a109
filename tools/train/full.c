/* full.c: the whole dlib-resnet network trained (see train.h): its parameters, the forward
 * pass (the network's own, nets/dlib_resnet.h, keeping the activations), the backward pass
 * through every layer, and its model file.
 *
 * Backward, per residual block (see nets/dlib_resnet.c for the forward):
 *   out = relu(conv2(relu(conv1(in))) + skip)    skip = in, or for a down block the 2x2
 *                                                average pool of in, its channels padded
 *   g = dL/dout through the ReLU; conv2's output gradient is g (a down block's convs give
 *   one row and column fewer where face-api pads them: the top left part of g); conv1's
 *   output gradient through its ReLU; dL/din = conv1's input gradient + the skip's
 *   (g itself, or g's first Cin channels back through the average pool). */
#include "train/train_internal.h"

#include "nets/dlib_resnet.h"
#include "nets/tflite_nets.h"
#include "nn/import/frmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The backward pass runs in chunks of this many images, in parallel (a fixed split, so the
 * gradient does not depend on the number of threads). */
#define CHUNK 8

static fr_status full_alloc(train_full **out) {
    *out = NULL;
    train_full *f = calloc(1, sizeof *f);
    size_t n = dlib_resnet_param_count();
    if (f) f->params = calloc(n, sizeof *f->params);
    if (!f || !f->params) {
        free(f);
        return fr_error(FR_E_NOMEM, "out of memory for the %s network", TRAIN_FULL_BASE);
    }
    snprintf(f->base, sizeof f->base, "%s", TRAIN_FULL_BASE);
    f->dim = DLIB_RESNET_DIM;
    f->n_params = n;
    *out = f;
    return FR_OK;
}

void train_full_update_id(train_full *f) {
    uint32_t crc = frmodel_crc32(0, (const uint8_t *)f->params, f->n_params * sizeof(float));
    snprintf(f->id, sizeof f->id, "%s+full-%08x", f->base, (unsigned)crc);
}

fr_status train_full_new(train_full **out) {
    fr_status st = full_alloc(out);
    if (st == FR_OK) train_full_update_id(*out);
    return st;
}

/* MobileFaceNet's TFLite file, or a model file fine-tuned from it */
static int is_graph_file(const char *path) {
    frmodel_info info;
    size_t n = strlen(path);
    if (n > 7 && !strcmp(path + n - 7, ".tflite")) return 1;
    return frmodel_read_info(path, &info) == FR_OK &&
           !strncmp(info.model_id, MOBILEFACENET_TUNED_PREFIX, strlen(MOBILEFACENET_TUNED_PREFIX));
}

fr_status train_full_load(const char *path, train_full **out) {
    if (is_graph_file(path)) {
        *out = NULL;
        train_full *f = calloc(1, sizeof *f);
        if (!f) return fr_error(FR_E_NOMEM, "out of memory for the %s network", TRAIN_GRAPH_BASE);
        fr_status st = train_graph_load(path, &f->graph, &f->params, &f->n_params);
        if (st != FR_OK) {
            free(f);
            return st;
        }
        snprintf(f->base, sizeof f->base, "%s", TRAIN_GRAPH_BASE);
        f->dim = train_graph_dim(f->graph);
        train_full_update_id(f);
        *out = f;
        return FR_OK;
    }
    /* read from the model file (no prepared file): training changes its own copy of the
     * parameters below, never the loaded network's */
    dlib_resnet *net;
    fr_status st = dlib_resnet_load(path, NULL, &net);
    if (st != FR_OK) return st;
    st = full_alloc(out);
    if (st == FR_OK) {
        memcpy((*out)->params, dlib_resnet_param_data(net), (*out)->n_params * sizeof(float));
        train_full_update_id(*out);
    }
    dlib_resnet_free(net);
    return st;
}

void train_full_free(train_full *f) {
    if (!f) return;
    train_graph_free(f->graph);
    free(f->params);
    free(f);
}

fr_status train_full_save(const train_full *f, const char *path) {
    if (f->graph) return train_graph_save(f->graph, f->params, f->id, path);
    return dlib_resnet_save(f->params, f->id, path);
}

struct train_full_pass {
    int rows, size;
    float *x;         /* (rows,size,size,3) the input of train_full_forward_crops */
    float *z, *dz;    /* (rows,128) the network's output and its gradient */
    float *y;         /* (rows,128) z normalised */
    nn_arena *arena;  /* the forward's activations */
    dlib_resnet_trace trace;
    int B;            /* the last forward's batch, 0 before */
    size_t max_act;   /* floats of the largest activation of one image */
    int n_chunks;
    float *scratch;   /* per chunk: 4 buffers of CHUNK * max_act */
    float *grads;     /* per chunk: a parameter gradient */
    size_t n_params;
};

fr_status train_full_pass_new(int rows, int size, train_full_pass **out) {
    *out = NULL;
    if (rows < 1 || size < DLIB_RESNET_MIN_INPUT)
        return fr_error(FR_E_ARG, "train_full_pass_new: %d inputs of %dx%d (at least %d)", rows,
                        size, size, DLIB_RESNET_MIN_INPUT);
    train_full_pass *p = calloc(1, sizeof *p);
    if (!p) return fr_error(FR_E_NOMEM, "out of memory for a training pass");
    p->rows = rows;
    p->size = size;
    /* the input conv's output is the largest activation (later ones shrink 4x in area and
     * at most double in channels) */
    int ch, pad_before;
    nn_out_size(size, 7, 2, (nn_padding){.mode = NN_PAD_VALID}, 0, &ch, &pad_before);
    p->max_act = (size_t)ch * ch * 32;
    p->n_chunks = (rows + CHUNK - 1) / CHUNK;
    p->n_params = dlib_resnet_param_count();
    size_t out_floats = (size_t)rows * DLIB_RESNET_DIM;
    p->x = malloc((size_t)rows * size * size * 3 * sizeof(float));
    p->z = malloc(out_floats * sizeof(float));
    p->dz = malloc(out_floats * sizeof(float));
    p->y = malloc(out_floats * sizeof(float));
    p->scratch = malloc((size_t)p->n_chunks * 4 * CHUNK * p->max_act * sizeof(float));
    p->grads = malloc((size_t)p->n_chunks * p->n_params * sizeof(float));
    /* about what the forward keeps per image at 150x150, plus the input conv's scratch */
    p->arena = nn_arena_new((size_t)rows * 1000000 * sizeof(float));
    if (!p->x || !p->z || !p->dz || !p->y || !p->scratch || !p->grads || !p->arena) {
        train_full_pass_free(p);
        return fr_error(FR_E_NOMEM, "out of memory for a training pass of %d images", rows);
    }
    *out = p;
    return FR_OK;
}

void train_full_pass_free(train_full_pass *p) {
    if (!p) return;
    free(p->x);
    free(p->z);
    free(p->dz);
    free(p->y);
    free(p->scratch);
    free(p->grads);
    nn_arena_free(p->arena);
    free(p);
}

fr_status train_full_forward(const train_full *f, int threads, const float *x, int B,
                             train_full_pass *pass, float *y) {
    if (B < 1 || B > pass->rows)
        return fr_error(FR_E_ARG, "train_full_forward: batch of %d for a pass of %d", B,
                        pass->rows);
    dlib_resnet_params view;
    dlib_resnet_params_view(f->params, &view);
    nn_arena_reset(pass->arena, 0);
    pass->B = 0;
    fr_status st =
        dlib_resnet_forward(&view, threads, x, B, pass->size, pass->arena, &pass->trace, pass->z);
    if (st != FR_OK) return st;
    size_t n = (size_t)B * DLIB_RESNET_DIM;
    memcpy(pass->y, pass->z, n * sizeof(float));
    nn_l2_normalize(pass->y, B, DLIB_RESNET_DIM);
    if (y) memcpy(y, pass->y, n * sizeof(float));
    pass->B = B;
    return FR_OK;
}

fr_status train_full_forward_crops(const train_full *f, int threads, const fr_image *const *crops,
                                   int B, train_full_pass *pass, float *y) {
    if (pass->size != DLIB_RESNET_INPUT || B < 1 || B > pass->rows)
        return fr_error(FR_E_ARG, "train_full_forward_crops: %d crops for a pass of %d at %d",
                        B, pass->rows, pass->size);
    dlib_resnet_input(crops, threads, B, pass->x);
    return train_full_forward(f, threads, pass->x, B, pass, y);
}

/* A view's pointer, writable: the views of a gradient array point into memory we own. */
static float *writable(const float *p) { return (float *)p; }

/* d (N,OH,OW,C) -> out (N,CH,CW,C), its top left part: the backward pass of padding a
 * (N,CH,CW,C) tensor with zeros at the bottom and right. */
static void crop_gradient(const float *d, int N, int OH, int OW, int C, float *out, int CH,
                          int CW) {
    for (int n = 0; n < N; n++)
        for (int y = 0; y < CH; y++)
            memcpy(out + (((size_t)n * CH + y) * CW) * C, d + (((size_t)n * OH + y) * OW) * C,
                   (size_t)CW * C * sizeof *out);
}

/* The buffer of b (4) that is none of the ones given (NULL entries ignored). */
static float *spare(float *const *b, const float *u, const float *v, const float *w) {
    for (int i = 0; i < 4; i++)
        if (b[i] != u && b[i] != v && b[i] != w) return b[i];
    return NULL; /* not reached: four buffers, at most three taken */
}

typedef struct backward_job {
    const dlib_resnet_params *p;
    const dlib_resnet_trace *t;
    const float *dz; /* (B,128) */
    train_full_pass *pass;
} backward_job;

/* The backward pass of images [i0, i0 + n) into the chunk's gradient (zeroed first). */
static void backward_chunk(void *ctx, int chunk) {
    const backward_job *j = ctx;
    const dlib_resnet_params *p = j->p;
    const dlib_resnet_trace *t = j->t;
    train_full_pass *pass = j->pass;
    int i0 = chunk * CHUNK, n = FR_MIN(CHUNK, t->N - i0);
    float *grad = pass->grads + (size_t)chunk * pass->n_params;
    float *b[4];
    for (int k = 0; k < 4; k++)
        b[k] = pass->scratch + ((size_t)chunk * 4 + k) * CHUNK * pass->max_act;
    memset(grad, 0, pass->n_params * sizeof *grad);
    dlib_resnet_params g; /* the gradient's views, laid out as the parameters */
    dlib_resnet_params_view(grad, &g);
    const nn_padding valid = {.mode = NN_PAD_VALID};
    const nn_act relu = {.kind = NN_ACT_RELU};
    const int F = DLIB_RESNET_FEATURES;

    /* the final matrix, then the spatial mean (an average pool over the whole map) */
    const dlib_resnet_block_trace *last = &t->blocks[DLIB_RESNET_BLOCKS - 1];
    train_dense_backward(t->features + (size_t)i0 * F, n, F, p->fc, DLIB_RESNET_DIM,
                         j->dz + (size_t)i0 * DLIB_RESNET_DIM, b[0], writable(g.fc), NULL);
    train_avgpool2d_backward(n, last->OH, last->OW, F, last->OH, last->OW, 1, 1, valid, b[0],
                             b[1]);
    float *d = b[1]; /* the gradient w.r.t. the current block's output */
    for (int i = DLIB_RESNET_BLOCKS - 1; i >= 0; i--) {
        const dlib_resnet_block_trace *bt = &t->blocks[i];
        const nn_conv *conv1 = &p->convs[1 + 2 * i], *conv2 = &p->convs[2 + 2 * i];
        int cin = conv1->cin, cout = conv1->cout;
        size_t P_in = (size_t)n * bt->H * bt->W, P_mid = (size_t)n * bt->CH * bt->CW;
        size_t P_out = (size_t)n * bt->OH * bt->OW;
        const float *in = bt->in + (size_t)i0 * bt->H * bt->W * cin;
        const float *mid = bt->mid + (size_t)i0 * bt->CH * bt->CW * cout;
        const float *out = bt->out + (size_t)i0 * bt->OH * bt->OW * cout;

        train_activation_backward(out, P_out, cout, relu, d, d, NULL);
        float *dconv = d;
        if (bt->CH != bt->OH || bt->CW != bt->OW) {
            dconv = spare(b, d, NULL, NULL);
            crop_gradient(d, n, bt->OH, bt->OW, cout, dconv, bt->CH, bt->CW);
        }
        float *dmid = spare(b, d, dconv, NULL);
        train_conv2d_backward(conv2, mid, n, bt->CH, bt->CW, dconv, dmid,
                              writable(g.convs[2 + 2 * i].weight),
                              writable(g.convs[2 + 2 * i].bias));
        train_activation_backward(mid, P_mid, cout, relu, dmid, dmid, NULL);
        float *din = spare(b, d, dconv, dmid);
        train_conv2d_backward(conv1, in, n, bt->H, bt->W, dmid, din,
                              writable(g.convs[1 + 2 * i].weight),
                              writable(g.convs[1 + 2 * i].bias));
        if (p->down[i]) {
            /* the pool's gradient is d's first cin channels (the others were zeros) */
            float *dpooled = spare(b, d, din, NULL), *dskip;
            train_concat_channels_backward(d, (const int[]){cin, cout - cin}, 2, P_out,
                                           (float *const[]){dpooled, NULL});
            dskip = spare(b, d, din, dpooled);
            train_avgpool2d_backward(n, bt->H, bt->W, cin, 2, 2, 2, 2, valid, dpooled, dskip);
            train_add_backward(dskip, P_in * cin, din, NULL);
        } else {
            train_add_backward(d, P_in * cin, din, NULL);
        }
        d = din;
    }
    /* the max pool, the input conv's ReLU and the input conv (no input gradient) */
    float *dconv = spare(b, d, NULL, NULL);
    const float *conv = t->conv + (size_t)i0 * t->CH * t->CW * 32;
    train_maxpool2d_backward(conv, n, t->CH, t->CW, 32, 3, 3, 2, 2, valid, d, dconv);
    train_activation_backward(conv, (size_t)n * t->CH * t->CW, 32, relu, dconv, dconv, NULL);
    train_conv2d_backward(&p->convs[0], t->input + (size_t)i0 * t->size * t->size * 3, n,
                          t->size, t->size, dconv, NULL, writable(g.convs[0].weight),
                          writable(g.convs[0].bias));
}

fr_status train_full_backward(const train_full *f, int threads, train_full_pass *pass,
                              const float *dy, float *grad) {
    int B = pass->B;
    if (B < 1) return fr_error(FR_E_ARG, "train_full_backward: no forward pass before");
    train_l2_normalize_backward(pass->z, pass->y, dy, B, DLIB_RESNET_DIM, pass->dz);
    dlib_resnet_params view;
    dlib_resnet_params_view(f->params, &view);
    backward_job j = {&view, &pass->trace, pass->dz, pass};
    int chunks = (B + CHUNK - 1) / CHUNK;
    nn_parallel_for(threads, chunks, backward_chunk, &j);
    for (int c = 0; c < chunks; c++) {
        const float *g = pass->grads + (size_t)c * pass->n_params;
        for (size_t i = 0; i < f->n_params; i++) grad[i] += g[i];
    }
    return FR_OK;
}

fr_status train_full_embed(const train_full *f, int threads, const fr_image *const *crops, int n,
                           float *y) {
    if (n <= 0) return FR_OK;
    nn_arena *a = nn_arena_new(dlib_resnet_arena_bytes(n));
    if (!a) return fr_error(FR_E_NOMEM, "out of memory embedding %d faces", n);
    dlib_resnet_params view;
    dlib_resnet_params_view(f->params, &view);
    fr_status st = dlib_resnet_run(&view, threads, crops, n, a, y);
    if (st == FR_OK) nn_l2_normalize(y, n, DLIB_RESNET_DIM);
    nn_arena_free(a);
    return st;
}

/* ---- the training loop's model (trainer.c) ---- */

typedef struct full_fit {
    train_full *f;
    const train_crops *train, *val;
    train_full_pass *pass;
    const fr_image **batch; /* (B) */
} full_fit;

static fr_status full_forward(void *self, int threads, const int *items, int B, float *y) {
    full_fit *ff = self;
    for (int i = 0; i < B; i++) ff->batch[i] = ff->train->crops[items[i]];
    return train_full_forward_crops(ff->f, threads, ff->batch, B, ff->pass, y);
}

static fr_status full_backward(void *self, int threads, const float *dy, int B, float *grad) {
    full_fit *ff = self;
    (void)B; /* the last forward's */
    return train_full_backward(ff->f, threads, ff->pass, dy, grad);
}

/* The validation photos (their copy 0) through the network, measured as trainer.c measures
 * a set of embeddings. */
static fr_status full_validate(void *self, int threads, double *accuracy, double *eer) {
    full_fit *ff = self;
    const train_crops *v = ff->val;
    train_set set = {.n_photos = v->n_photos, .copies = 1, .dim = DLIB_RESNET_DIM,
                     .n_people = v->n_people, .labels = v->labels};
    const fr_image **crops = malloc((size_t)v->n_photos * sizeof *crops);
    set.embeddings = malloc((size_t)v->n_photos * DLIB_RESNET_DIM * sizeof(float));
    fr_status st = crops && set.embeddings ? FR_OK
                                           : fr_error(FR_E_NOMEM, "out of memory for validation");
    for (int i = 0; st == FR_OK && i < v->n_photos; i++) crops[i] = v->crops[(size_t)i * v->copies];
    if (st == FR_OK) st = train_full_embed(ff->f, threads, crops, v->n_photos, set.embeddings);
    if (st == FR_OK) st = train_verification(NULL, threads, &set, accuracy, eer);
    free(crops);
    free(set.embeddings);
    return st;
}

fr_status train_full_fit(train_full *f, const train_crops *train, const train_crops *val,
                         const train_config *cfg, train_epoch_fn fn, void *user,
                         train_epoch_stats *history, int *best_epoch) {
    if (f->graph) return train_graph_fit(f, train, val, cfg, fn, user, history, best_epoch);
    int B = FR_MAX(cfg->people_per_batch, 1) * FR_MAX(cfg->photos_per_person, 1);
    full_fit ff = {f, train, val, NULL, malloc((size_t)B * sizeof(fr_image *))};
    fr_status st = ff.batch ? train_full_pass_new(B, DLIB_RESNET_INPUT, &ff.pass)
                            : fr_error(FR_E_NOMEM, "out of memory for training");
    train_model m = {f->params, f->n_params, f->dim, train->n_photos, train->copies,
                     train->n_people, train->labels, &ff, full_forward, full_backward,
                     val ? full_validate : NULL};
    if (st == FR_OK) st = train_fit(&m, cfg, fn, user, history, best_epoch);
    train_full_pass_free(ff.pass);
    free(ff.batch);
    train_full_update_id(f);
    return st;
}
