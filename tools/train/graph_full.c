/* graph_full.c: a network read from a TFLite graph (MobileFaceNet) trained whole: the
 * graph's nodes as nn/graph.h shows them, a forward pass over them with the nn ops that keeps
 * what the backward pass needs, the backward pass, and the model file (the base file's
 * constants that training changed, which the graph loader takes in place of the file's).
 *
 * The ops MobileFaceNet's graph runs after fusion, and their backward passes:
 *   CONV_2D (+PReLU)               y = act(conv(x) + b)  train_conv2d_backward, or for a 1x1
 *                                  stride-1 layer train_dense_backward (one GEMM each way)
 *   DEPTHWISE_CONV_2D (+PReLU)     the same, train_depthwise_conv2d_backward
 *   ADD                            the residual: the gradient goes to both inputs
 *   RESHAPE                        the same values: the gradient passes through
 * Any other operator is refused when training starts (FR_E_UNSUPPORTED naming it).
 *
 * Parameters (one array for Adam): per node, its weights as the graph runs them (HWIO for a
 * convolution, HWC for a depthwise one), its bias, its PReLU slopes (as applied, i.e. the
 * file's constant times the node's slope factor).
 *
 * A batch is embedded first without keeping anything (the triplets are mined on all of
 * it); the backward pass then runs in chunks, in parallel, each chunk running its forward
 * again with its activations kept: memory stays that of a few images per thread. */
#include "train/train_internal.h"

#include "nets/tflite_nets.h"
#include "nn/graph.h"
#include "nn/import/frmodel.h"
#include "nn/weights.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Images per chunk of a forward or backward pass: a fixed split, so that the gradient does
 * not depend on the number of threads. */
#define CHUNK 4

typedef struct gf_node {
    nn_graph_node_view v;
    int H, W, C;     /* the input's height, width and channels (per image) */
    int OH, OW, OC;  /* the output's */
    size_t w_off, b_off, s_off, w_count, b_count, s_count; /* in the parameters (count 0: none) */
    int has_pre;     /* an activation: the values before it are kept */
} gf_node;

struct train_graph {
    nn_graph *graph;
    int n_nodes, n_tensors;
    gf_node *nodes;
    int input, output;      /* tensors */
    int size, dim;          /* input size (square), output length */
    size_t *per_image;      /* (n_tensors) floats of each run-time tensor per image, 0: none */
    size_t *pre_per_image;  /* (n_nodes) floats of the values before each node's activation */
    size_t trace_floats;    /* floats of one image's kept values */
    size_t max_floats;      /* the largest tensor of one image */
};

/* The memory a chunk runs in: its kept values (tensors, then the values before
 * activations), their gradients and scratch. A pass keeps as many as run at once. */
typedef struct gf_chunk {
    float **act, **pre, **grad; /* (n_tensors), (n_nodes), (n_tensors) */
    float *block, *gblock, *tmp;
    nn_arena *arena;            /* im2col scratch */
    int busy;
} gf_chunk;

void train_graph_free(train_graph *t) {
    if (!t) return;
    nn_graph_free(t->graph);
    free(t->nodes);
    free(t->per_image);
    free(t->pre_per_image);
    free(t);
}

/* Shapes per image through the graph, from the input (size,size,3); params (may be NULL)
 * gets each node's parameters as the graph runs them. Returns the parameter count. */
static fr_status plan(train_graph *t, float *params, size_t *n_params) {
    int (*dims)[3] = calloc((size_t)t->n_tensors, sizeof *dims);
    if (!dims) return fr_error(FR_E_NOMEM, "out of memory for training");
    dims[t->input][0] = t->size;
    dims[t->input][1] = t->size;
    dims[t->input][2] = 3;
    t->per_image[t->input] = (size_t)t->size * t->size * 3;
    size_t off = 0;
    fr_status st = FR_OK;
    const char *src = nn_graph_source(t->graph);
    for (int i = 0; i < t->n_nodes && st == FR_OK; i++) {
        gf_node *n = &t->nodes[i];
        const nn_graph_node_view *v = &n->v;
        int in = v->inputs[0];
        n->H = dims[in][0];
        n->W = dims[in][1];
        n->C = dims[in][2];
        int pad_before;
        switch (v->op) {
        case NN_GRAPH_OP_CONV:
        case NN_GRAPH_OP_DEPTHWISE:
            if (n->C != v->cv.cin) {
                st = fr_error(FR_E_MODEL, "%s: operator %d (%s) takes %d channels, not %d", src, i,
                              v->name, v->cv.cin, n->C);
                break;
            }
            nn_out_size(n->H, v->cv.kh, v->cv.stride_h, v->cv.pad, 0, &n->OH, &pad_before);
            nn_out_size(n->W, v->cv.kw, v->cv.stride_w, v->cv.pad, 1, &n->OW, &pad_before);
            n->OC = v->cv.cout;
            n->w_count = (size_t)v->cv.kh * v->cv.kw * v->cv.cout *
                         (v->op == NN_GRAPH_OP_CONV ? (size_t)v->cv.cin : 1);
            n->b_count = v->cv.bias ? (size_t)v->cv.cout : 0;
            break;
        case NN_GRAPH_OP_ADD: {
            int b = v->inputs[1];
            if (v->n_inputs != 2 || memcmp(dims[in], dims[b], sizeof dims[in]))
                st = fr_error(FR_E_UNSUPPORTED, "%s: operator %d (ADD): training takes the sum of "
                              "two tensors of one shape only", src, i);
            n->OH = n->H, n->OW = n->W, n->OC = n->C;
            break;
        }
        case NN_GRAPH_OP_RESHAPE: /* to (N, values), as MobileFaceNet's output */
            n->OH = n->OW = 1;
            n->OC = n->H * n->W * n->C;
            break;
        case NN_GRAPH_OP_OTHER:
            st = fr_error(FR_E_UNSUPPORTED, "%s: operator %d (%s): training has no backward pass "
                          "for it", src, i, v->name);
            break;
        }
        nn_act_kind act = v->cv.act.kind;
        if (st == FR_OK && v->op != NN_GRAPH_OP_RESHAPE && act != NN_ACT_NONE &&
            act != NN_ACT_RELU && act != NN_ACT_PRELU)
            st = fr_error(FR_E_UNSUPPORTED, "%s: operator %d (%s): training takes no activation "
                          "but ReLU and PReLU", src, i, v->name);
        if (st != FR_OK) break;
        n->has_pre = v->op != NN_GRAPH_OP_RESHAPE && act != NN_ACT_NONE;
        n->s_count = act == NN_ACT_PRELU ? (size_t)n->OC : 0;
        n->w_off = off;
        n->b_off = n->w_off + n->w_count;
        n->s_off = n->b_off + n->b_count;
        off = n->s_off + n->s_count;
        if (params) {
            if (n->w_count) memcpy(params + n->w_off, v->cv.weight, n->w_count * sizeof(float));
            if (n->b_count) memcpy(params + n->b_off, v->cv.bias, n->b_count * sizeof(float));
            if (n->s_count) memcpy(params + n->s_off, v->cv.act.slope, n->s_count * sizeof(float));
        }
        dims[v->output][0] = n->OH;
        dims[v->output][1] = n->OW;
        dims[v->output][2] = n->OC;
        size_t count = (size_t)n->OH * n->OW * n->OC;
        /* a reshape's output is its input's memory */
        t->per_image[v->output] = v->op == NN_GRAPH_OP_RESHAPE ? 0 : count;
        t->pre_per_image[i] = n->has_pre ? count : 0;
        t->max_floats = FR_MAX(t->max_floats, count);
    }
    if (st == FR_OK) {
        t->dim = dims[t->output][0] * dims[t->output][1] * dims[t->output][2];
        t->trace_floats = 0;
        for (int k = 0; k < t->n_tensors; k++) t->trace_floats += t->per_image[k];
        for (int i = 0; i < t->n_nodes; i++) t->trace_floats += t->pre_per_image[i];
        t->max_floats = FR_MAX(t->max_floats, t->per_image[t->input]);
        *n_params = off;
    }
    free(dims);
    return st;
}

fr_status train_graph_load(const char *path, train_graph **out, float **params,
                           size_t *n_params) {
    *out = NULL;
    *params = NULL;
    train_graph *t = calloc(1, sizeof *t);
    if (!t) return fr_error(FR_E_NOMEM, "out of memory for training");
    fr_status st = mobilefacenet_graph_load(path, &t->graph);
    if (st == FR_OK) {
        t->n_nodes = nn_graph_n_ops(t->graph);
        t->input = nn_graph_input_tensor(t->graph, 0);
        t->output = nn_graph_output_tensor(t->graph, nn_graph_find_output(t->graph, "embeddings"));
        t->size = MOBILEFACENET_INPUT_SIZE;
        for (int i = 0; i < t->n_nodes; i++) {
            nn_graph_node_view v;
            nn_graph_node_view_of(t->graph, i, &v);
            t->n_tensors = FR_MAX(t->n_tensors, v.output + 1);
            for (int k = 0; k < v.n_inputs; k++) t->n_tensors = FR_MAX(t->n_tensors, v.inputs[k] + 1);
        }
        t->nodes = calloc((size_t)t->n_nodes, sizeof *t->nodes);
        t->per_image = calloc((size_t)t->n_tensors, sizeof *t->per_image);
        t->pre_per_image = calloc((size_t)t->n_nodes, sizeof *t->pre_per_image);
        if (!t->nodes || !t->per_image || !t->pre_per_image)
            st = fr_error(FR_E_NOMEM, "out of memory for training");
    }
    for (int i = 0; st == FR_OK && i < t->n_nodes; i++)
        nn_graph_node_view_of(t->graph, i, &t->nodes[i].v);
    if (st == FR_OK) st = plan(t, NULL, n_params);
    if (st == FR_OK && !(*params = malloc(*n_params * sizeof **params)))
        st = fr_error(FR_E_NOMEM, "out of memory for %zu parameters", *n_params);
    if (st == FR_OK) st = plan(t, *params, n_params);
    if (st == FR_OK && t->dim != MOBILEFACENET_DIM)
        st = fr_error(FR_E_MODEL, "%s: the output has %d values, not %d", path, t->dim,
                      MOBILEFACENET_DIM);
    if (st != FR_OK) {
        free(*params);
        *params = NULL;
        train_graph_free(t);
        return st;
    }
    *out = t;
    return FR_OK;
}

int train_graph_dim(const train_graph *t) { return t->dim; }

void train_graph_param_range(const train_graph *t, int i, char part, size_t *off, size_t *n) {
    const gf_node *node = &t->nodes[i];
    *off = part == 'w' ? node->w_off : part == 'b' ? node->b_off : node->s_off;
    *n = part == 'w' ? node->w_count : part == 'b' ? node->b_count : part == 's' ? node->s_count : 0;
}
int train_graph_input_size(const train_graph *t) { return t->size; }

/* ---- chunks ---- */

static void chunk_free(gf_chunk *c) {
    free(c->act);
    free(c->pre);
    free(c->grad);
    free(c->block);
    free(c->gblock);
    free(c->tmp);
    nn_arena_free(c->arena);
    memset(c, 0, sizeof *c);
}

static fr_status chunk_new(const train_graph *t, gf_chunk *c) {
    int busy = c->busy; /* taken by the caller */
    memset(c, 0, sizeof *c);
    c->busy = busy;
    c->act = calloc((size_t)t->n_tensors, sizeof *c->act);
    c->pre = calloc((size_t)t->n_nodes, sizeof *c->pre);
    c->grad = calloc((size_t)t->n_tensors, sizeof *c->grad);
    c->block = malloc((size_t)CHUNK * t->trace_floats * sizeof(float));
    c->arena = nn_arena_new(0);
    c->gblock = malloc((size_t)CHUNK * t->trace_floats * sizeof(float));
    c->tmp = malloc((size_t)CHUNK * t->max_floats * sizeof(float));
    if (!c->act || !c->pre || !c->grad || !c->block || !c->arena || !c->gblock || !c->tmp) {
        chunk_free(c);
        return fr_error(FR_E_NOMEM, "out of memory for a training pass");
    }
    /* the tensors' places in the block (a reshape's output is its input) */
    float *p = c->block, *g = c->gblock;
    for (int k = 0; k < t->n_tensors; k++) {
        if (!t->per_image[k]) continue;
        c->act[k] = p;
        p += (size_t)CHUNK * t->per_image[k];
        if (g) {
            c->grad[k] = g;
            g += (size_t)CHUNK * t->per_image[k];
        }
    }
    for (int i = 0; i < t->n_nodes; i++) {
        const gf_node *n = &t->nodes[i];
        if (n->v.op == NN_GRAPH_OP_RESHAPE) {
            c->act[n->v.output] = c->act[n->v.inputs[0]];
            c->grad[n->v.output] = c->grad[n->v.inputs[0]];
        }
        if (!n->has_pre) continue;
        c->pre[i] = p;
        p += (size_t)CHUNK * t->pre_per_image[i];
    }
    return FR_OK;
}

/* The layer of node n with the parameters of `params`. */
static nn_conv layer(const gf_node *n, const float *params) {
    nn_conv cv = n->v.cv;
    if (n->w_count) cv.weight = params + n->w_off;
    cv.bias = n->b_count ? params + n->b_off : NULL;
    if (n->s_count) cv.act.slope = params + n->s_off;
    return cv;
}

/* Forward over the m images of c->act[input], keeping every value; one thread. */
static void chunk_forward(const train_graph *t, const float *params, gf_chunk *c, int m) {
    for (int i = 0; i < t->n_nodes; i++) {
        const gf_node *n = &t->nodes[i];
        if (n->v.op == NN_GRAPH_OP_RESHAPE) continue;
        nn_conv cv = layer(n, params);
        nn_act act = cv.act;
        cv.act = (nn_act){.kind = NN_ACT_NONE};
        float *y = c->act[n->v.output], *z = n->has_pre ? c->pre[i] : y;
        const float *x = c->act[n->v.inputs[0]];
        size_t P = (size_t)m * n->OH * n->OW;
        int OH, OW;
        if (n->v.op == NN_GRAPH_OP_CONV)
            nn_conv2d(1, &cv, x, m, n->H, n->W, z, &OH, &OW, c->arena);
        else if (n->v.op == NN_GRAPH_OP_DEPTHWISE)
            nn_depthwise_conv2d(1, &cv, x, m, n->H, n->W, z, &OH, &OW);
        else
            nn_add(1, x, c->act[n->v.inputs[1]], z, P * n->OC);
        if (n->has_pre) {
            memcpy(y, z, P * n->OC * sizeof *y);
            nn_activate(1, y, P, n->OC, act);
        }
    }
}

/* The backward pass of the m images last run forward in c, from dy (m,dim), the gradient
 * w.r.t. the graph's output, into pg (n_params, zeroed first). */
static void chunk_backward(const train_graph *t, const float *params, gf_chunk *c, int m,
                           const float *dy, float *pg, size_t n_params) {
    memset(pg, 0, n_params * sizeof *pg);
    memset(c->gblock, 0, (size_t)CHUNK * t->trace_floats * sizeof(float));
    memcpy(c->grad[t->output], dy, (size_t)m * t->dim * sizeof *dy);
    for (int i = t->n_nodes - 1; i >= 0; i--) {
        const gf_node *n = &t->nodes[i];
        if (n->v.op == NN_GRAPH_OP_RESHAPE) continue; /* the same memory */
        nn_conv cv = layer(n, params);
        float *g = c->grad[n->v.output];
        size_t P = (size_t)m * n->OH * n->OW;
        if (n->has_pre) /* g becomes the gradient before the activation */
            train_activation_backward(c->pre[i], P, n->OC, cv.act, g, g,
                                      n->s_count ? pg + n->s_off : NULL);
        int in = n->v.inputs[0];
        float *din = in == t->input ? NULL : c->tmp;
        size_t in_count = (size_t)m * n->H * n->W * n->C;
        float *dw = n->w_count ? pg + n->w_off : NULL, *db = n->b_count ? pg + n->b_off : NULL;
        if (n->v.op == NN_GRAPH_OP_ADD) {
            train_add_backward(g, in_count, c->grad[in], c->grad[n->v.inputs[1]]);
            continue;
        }
        if (n->v.op == NN_GRAPH_OP_CONV && cv.kh == 1 && cv.kw == 1 && cv.stride_h == 1 &&
            cv.stride_w == 1)
            train_dense_backward(c->act[in], (int)P, cv.cin, cv.weight, cv.cout, g, din, dw, db);
        else if (n->v.op == NN_GRAPH_OP_CONV)
            train_conv2d_backward(&cv, c->act[in], m, n->H, n->W, g, din, dw, db);
        else
            train_depthwise_conv2d_backward(&cv, c->act[in], m, n->H, n->W, g, din, dw, db);
        if (din) train_add_backward(din, in_count, c->grad[in], NULL);
    }
}

/* ---- passes over a batch ---- */

struct train_graph_pass {
    const train_graph *t;
    int rows, B, n_chunks;
    size_t n_params;
    float *x;     /* (rows,size,size,3) the last forward's input */
    float *z, *y; /* (rows,dim) the output and its unit vector */
    float *dz;
    float *param_grads; /* (n_chunks, n_params) */
    gf_chunk *chunks;   /* (n_chunks), their memory taken when first needed */
    pthread_mutex_t lock;
};

fr_status train_graph_pass_new(const train_graph *t, size_t n_params, int rows,
                               train_graph_pass **out) {
    *out = NULL;
    train_graph_pass *p = calloc(1, sizeof *p);
    if (!p) return fr_error(FR_E_NOMEM, "out of memory for a training pass");
    p->t = t;
    p->rows = rows;
    p->n_params = n_params;
    p->n_chunks = (rows + CHUNK - 1) / CHUNK;
    p->x = malloc((size_t)rows * t->size * t->size * 3 * sizeof(float));
    p->z = malloc((size_t)rows * t->dim * sizeof(float));
    p->y = malloc((size_t)rows * t->dim * sizeof(float));
    p->dz = malloc((size_t)rows * t->dim * sizeof(float));
    p->chunks = calloc((size_t)p->n_chunks, sizeof *p->chunks);
    p->param_grads = malloc((size_t)p->n_chunks * n_params * sizeof(float));
    pthread_mutex_init(&p->lock, NULL);
    fr_status st = p->x && p->z && p->y && p->dz && p->chunks && p->param_grads
                       ? FR_OK
                       : fr_error(FR_E_NOMEM, "out of memory for a training pass of %d", rows);
    if (st != FR_OK) {
        train_graph_pass_free(p);
        return st;
    }
    *out = p;
    return FR_OK;
}

void train_graph_pass_free(train_graph_pass *p) {
    if (!p) return;
    for (int k = 0; p->chunks && k < p->n_chunks; k++) chunk_free(&p->chunks[k]);
    free(p->chunks);
    free(p->param_grads);
    pthread_mutex_destroy(&p->lock);
    free(p->x);
    free(p->z);
    free(p->y);
    free(p->dz);
    free(p);
}

typedef struct pass_job {
    train_graph_pass *p;
    const float *params;
    int backward;
    fr_status *status; /* per chunk */
} pass_job;

static void pass_chunk(void *ctx, int k) {
    pass_job *j = ctx;
    train_graph_pass *p = j->p;
    const train_graph *t = p->t;
    int first = k * CHUNK, m = FR_MIN(CHUNK, p->B - first);
    /* a free chunk memory, preferring one already allocated */
    gf_chunk *c = NULL;
    pthread_mutex_lock(&p->lock);
    for (int w = 0; w < p->n_chunks && !c; w++)
        if (!p->chunks[w].busy && p->chunks[w].block) c = &p->chunks[w];
    for (int w = 0; w < p->n_chunks && !c; w++)
        if (!p->chunks[w].busy) c = &p->chunks[w];
    c->busy = 1;
    pthread_mutex_unlock(&p->lock);
    if (!c->block && (j->status[k] = chunk_new(t, c)) != FR_OK) {
        c->busy = 0;
        return;
    }
    size_t in_floats = (size_t)t->size * t->size * 3;
    memcpy(c->act[t->input], p->x + (size_t)first * in_floats, (size_t)m * in_floats * sizeof(float));
    chunk_forward(t, j->params, c, m);
    if (j->backward)
        chunk_backward(t, j->params, c, m, p->dz + (size_t)first * t->dim,
                       p->param_grads + (size_t)k * p->n_params, p->n_params);
    else
        memcpy(p->z + (size_t)first * t->dim, c->act[t->output],
               (size_t)m * t->dim * sizeof(float));
    pthread_mutex_lock(&p->lock);
    c->busy = 0;
    pthread_mutex_unlock(&p->lock);
    j->status[k] = FR_OK;
}

static fr_status run_chunks(train_graph_pass *p, const float *params, int threads, int backward) {
    int chunks = (p->B + CHUNK - 1) / CHUNK;
    fr_status status[chunks > 0 ? chunks : 1];
    pass_job j = {p, params, backward, status};
    nn_parallel_for(threads, chunks, pass_chunk, &j);
    for (int k = 0; k < chunks; k++)
        if (status[k] != FR_OK) return fr_error(FR_E_NOMEM, "out of memory for a training pass");
    return FR_OK;
}

fr_status train_graph_forward(const train_graph *t, const float *params, int threads,
                              const float *x, int B, train_graph_pass *p, float *y) {
    if (B < 1 || B > p->rows)
        return fr_error(FR_E_ARG, "train_graph_forward: batch of %d for a pass of %d", B, p->rows);
    p->B = B;
    size_t in_floats = (size_t)t->size * t->size * 3, n = (size_t)B * t->dim;
    if (x != p->x) memcpy(p->x, x, (size_t)B * in_floats * sizeof *x);
    fr_status st = run_chunks(p, params, threads, 0);
    if (st != FR_OK) return st;
    memcpy(p->y, p->z, n * sizeof *p->y);
    nn_l2_normalize(p->y, B, t->dim);
    if (y) memcpy(y, p->y, n * sizeof *y);
    return FR_OK;
}

fr_status train_graph_backward(const train_graph *t, const float *params, int threads,
                               train_graph_pass *p, const float *dy, float *grad) {
    if (p->B < 1) return fr_error(FR_E_ARG, "train_graph_backward: no forward pass before");
    train_l2_normalize_backward(p->z, p->y, dy, p->B, t->dim, p->dz);
    fr_status st = run_chunks(p, params, threads, 1);
    int chunks = (p->B + CHUNK - 1) / CHUNK;
    for (int k = 0; st == FR_OK && k < chunks; k++) {
        const float *g = p->param_grads + (size_t)k * p->n_params;
        for (size_t i = 0; i < p->n_params; i++) grad[i] += g[i];
    }
    return st;
}

/* The network's input for crops: (x - 127.5) / 128, as mobilefacenet.c feeds it. */
fr_status train_graph_input(const train_graph *t, const fr_image *const *crops, int B, float *x) {
    size_t in_floats = (size_t)t->size * t->size * 3;
    for (int i = 0; i < B; i++) {
        const fr_image *crop = crops[i];
        fr_image *resized = NULL;
        if (crop->width != t->size || crop->height != t->size) {
            fr_status st = fr_image_resize(crop, t->size, t->size, &resized);
            if (st != FR_OK) return st;
            crop = resized;
        }
        for (size_t k = 0; k < in_floats; k++)
            x[(size_t)i * in_floats + k] = ((float)crop->rgb[k] - 127.5f) / 128.0f;
        fr_image_free(resized);
    }
    return FR_OK;
}

fr_status train_graph_forward_crops(const train_graph *t, const float *params, int threads,
                                    const fr_image *const *crops, int B, train_graph_pass *p,
                                    float *y) {
    if (B < 1 || B > p->rows)
        return fr_error(FR_E_ARG, "train_graph_forward_crops: %d crops for a pass of %d", B,
                        p->rows);
    fr_status st = train_graph_input(t, crops, B, p->x);
    return st == FR_OK ? train_graph_forward(t, params, threads, p->x, B, p, y) : st;
}

/* ---- the file ---- */

fr_status train_graph_save(const train_graph *t, const float *params, const char *id,
                           const char *path) {
    frmodel_info info = {.input_h = t->size, .input_w = t->size, .input_c = 3};
    snprintf(info.model_id, sizeof info.model_id, "%s", id);
    snprintf(info.preprocessing, sizeof info.preprocessing, "%s", TRAIN_GRAPH_BASE);
    int n_entries = 0;
    nn_tensor_entry *e = calloc((size_t)t->n_nodes * 3 + 1, sizeof *e);
    size_t total = 0;
    for (int i = 0; i < t->n_nodes; i++)
        total += t->nodes[i].w_count + t->nodes[i].b_count + t->nodes[i].s_count;
    float *data = malloc((total ? total : 1) * sizeof *data), *d = data;
    if (!e || !data) {
        free(e);
        free(data);
        return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    }
    fr_status st = FR_OK;
    for (int i = 0; i < t->n_nodes && st == FR_OK; i++) {
        const gf_node *n = &t->nodes[i];
        const nn_conv *cv = &n->v.cv;
        const int tensors[3] = {n->v.weight_tensor, n->v.bias_tensor, n->v.slope_tensor};
        const size_t counts[3] = {n->w_count, n->b_count, n->s_count};
        for (int k = 0; k < 3; k++) {
            if (!counts[k]) continue;
            const float *p = params + (k == 0 ? n->w_off : k == 1 ? n->b_off : n->s_off);
            if (tensors[k] < 0) {
                st = fr_error(FR_E_MODEL, "%s: operator %d (%s) has parameters from no constant",
                              nn_graph_source(t->graph), i, n->v.name);
                break;
            }
            nn_tensor_entry *x = &e[n_entries++];
            if (k == 2 && n->v.slope_factor == 0.0f) {
                st = fr_error(FR_E_MODEL, "%s: operator %d (%s): slopes of no known pattern",
                              nn_graph_source(t->graph), i, n->v.name);
                break;
            }
            x->name = (char *)nn_graph_tensor_name(t->graph, tensors[k]);
            nn_graph_tensor_file_shape(t->graph, tensors[k], &x->ndim, x->shape);
            x->count = counts[k];
            x->data = d;
            if (k == 0 && n->v.op == NN_GRAPH_OP_CONV) {
                /* run as (KH,KW,Cin,Cout), stored as (Cout,KH,KW,Cin) */
                size_t per_out = (size_t)cv->kh * cv->kw * cv->cin;
                for (int oc = 0; oc < cv->cout; oc++)
                    for (size_t q = 0; q < per_out; q++)
                        d[(size_t)oc * per_out + q] = p[q * cv->cout + oc];
            } else if (k == 2) {
                for (size_t q = 0; q < counts[k]; q++) d[q] = p[q] / n->v.slope_factor;
            } else {
                memcpy(d, p, counts[k] * sizeof *d);
            }
            d += counts[k];
        }
    }
    if (st == FR_OK) st = frmodel_write(path, &info, e, n_entries);
    free(e);
    free(data);
    return st;
}

/* ---- the training loop's model (trainer.c) ---- */

typedef struct graph_fit {
    train_full *f;
    const train_crops *train, *val;
    train_graph_pass *pass;
    const fr_image **batch; /* (rows) */
    int rows;
} graph_fit;

static fr_status graph_fit_forward(void *self, int threads, const int *items, int B, float *y) {
    graph_fit *gf = self;
    for (int i = 0; i < B; i++) gf->batch[i] = gf->train->crops[items[i]];
    return train_graph_forward_crops(gf->f->graph, gf->f->params, threads, gf->batch, B,
                                     gf->pass, y);
}

static fr_status graph_fit_backward(void *self, int threads, const float *dy, int B,
                                    float *grad) {
    graph_fit *gf = self;
    (void)B; /* the last forward's */
    return train_graph_backward(gf->f->graph, gf->f->params, threads, gf->pass, dy, grad);
}

/* The validation photos (their copy 0) through the network, measured as trainer.c measures
 * a set of embeddings. */
static fr_status graph_fit_validate(void *self, int threads, double *accuracy, double *eer) {
    graph_fit *gf = self;
    const train_crops *v = gf->val;
    int dim = gf->f->dim;
    train_set set = {.n_photos = v->n_photos, .copies = 1, .dim = dim,
                     .n_people = v->n_people, .labels = v->labels};
    set.embeddings = malloc((size_t)v->n_photos * dim * sizeof(float));
    fr_status st = set.embeddings ? FR_OK : fr_error(FR_E_NOMEM, "out of memory for validation");
    for (int first = 0; st == FR_OK && first < v->n_photos; first += gf->rows) {
        int m = FR_MIN(gf->rows, v->n_photos - first);
        for (int i = 0; i < m; i++) gf->batch[i] = v->crops[(size_t)(first + i) * v->copies];
        st = train_graph_forward_crops(gf->f->graph, gf->f->params, threads, gf->batch, m,
                                       gf->pass, set.embeddings + (size_t)first * dim);
    }
    if (st == FR_OK) st = train_verification(NULL, threads, &set, accuracy, eer);
    free(set.embeddings);
    return st;
}

fr_status train_graph_fit(train_full *f, const train_crops *train, const train_crops *val,
                          const train_config *cfg, train_epoch_fn fn, void *user,
                          train_epoch_stats *history, int *best_epoch) {
    int B = FR_MAX(cfg->people_per_batch, 1) * FR_MAX(cfg->photos_per_person, 1);
    graph_fit gf = {f, train, val, NULL, malloc((size_t)B * sizeof(fr_image *)), B};
    fr_status st = gf.batch ? train_graph_pass_new(f->graph, f->n_params, B, &gf.pass)
                            : fr_error(FR_E_NOMEM, "out of memory for training");
    train_model m = {f->params, f->n_params, f->dim, train->n_photos, train->copies,
                     train->n_people, train->labels, &gf, graph_fit_forward, graph_fit_backward,
                     val ? graph_fit_validate : NULL};
    if (st == FR_OK) st = train_fit(&m, cfg, fn, user, history, best_epoch);
    train_graph_pass_free(gf.pass);
    free(gf.batch);
    train_full_update_id(f);
    return st;
}
