/* head.c: training the projection head (face/head.h runs it): its initial parameters, its
 * backward pass and its model file. */
#include "train/train_internal.h"

#include "nn/import/frmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fr_status train_head_new(const char *base, int dim, int hidden, train_rng *rng,
                         embed_head **out) {
    fr_status st = embed_head_alloc(base, dim, hidden, out);
    if (st != FR_OK) return st;
    embed_head *h = *out;
    for (int i = 0; i < dim; i++) h->w[(size_t)i * dim + i] = 1.0f;
    /* He-uniform for the ReLU layer; the layer after it starts at zero, so the head starts
     * as the identity and the hidden branch grows from there */
    float limit = sqrtf(6.0f / (float)dim);
    for (size_t i = 0; i < (size_t)dim * hidden; i++)
        h->w1[i] = train_rng_uniform(rng, -limit, limit);
    embed_head_update_id(h);
    return FR_OK;
}

fr_status train_head_save(const embed_head *h, const char *path) {
    frmodel_info info = {.input_h = 1, .input_w = 1, .input_c = h->dim};
    snprintf(info.model_id, sizeof info.model_id, "%s", EMBED_HEAD_MODEL_ID);
    snprintf(info.preprocessing, sizeof info.preprocessing, "%s", h->base);
    int d = h->dim, k = h->hidden;
    nn_tensor_entry t[6] = {
        {"head/kernel", 2, {d, d}, (size_t)d * d, h->w},
        {"head/bias", 1, {d}, (size_t)d, h->b},
        {"head/hidden/kernel", 2, {d, k}, (size_t)d * k, h->w1},
        {"head/hidden/bias", 1, {k}, (size_t)k, h->b1},
        {"head/output/kernel", 2, {k, d}, (size_t)k * d, h->w2},
        {"head/output/bias", 1, {d}, (size_t)d, h->b2},
    };
    return frmodel_write(path, &info, t, k ? 6 : 2);
}

fr_status train_head_pass_new(const embed_head *h, int rows, train_head_pass **out) {
    *out = NULL;
    train_head_pass *p = calloc(1, sizeof *p);
    size_t d = (size_t)rows * h->dim, k = (size_t)rows * h->hidden;
    fr_status st = p ? embed_head_pass_new(h, rows, &p->forward)
                     : fr_error(FR_E_NOMEM, "head: out of memory for a batch of %d", rows);
    if (st != FR_OK) {
        free(p);
        return st;
    }
    p->dz = malloc(d * sizeof(float));
    p->dhidden = malloc((k ? k : 1) * sizeof(float));
    if (!p->dz || !p->dhidden) {
        train_head_pass_free(p);
        return fr_error(FR_E_NOMEM, "head: out of memory for a batch of %d", rows);
    }
    *out = p;
    return FR_OK;
}

void train_head_pass_free(train_head_pass *p) {
    if (!p) return;
    embed_head_pass_free(p->forward);
    free(p->dz);
    free(p->dhidden);
    free(p);
}

void train_head_backward(const embed_head *h, train_head_pass *pass, int B, const float *dy,
                         float *grad) {
    int d = h->dim, k = h->hidden;
    const embed_head_pass *fwd = pass->forward;
    float *gw = grad + (h->w - h->params), *gb = grad + (h->b - h->params);
    train_l2_normalize_backward(fwd->z, fwd->y, dy, B, d, pass->dz);
    /* the input is frozen: no gradient flows past the layers' weights */
    train_dense_backward(fwd->x, B, d, h->w, d, pass->dz, NULL, gw, gb);
    if (k) {
        float *gw1 = grad + (h->w1 - h->params), *gb1 = grad + (h->b1 - h->params);
        float *gw2 = grad + (h->w2 - h->params), *gb2 = grad + (h->b2 - h->params);
        train_dense_backward(fwd->hidden, B, k, h->w2, d, pass->dz, pass->dhidden, gw2, gb2);
        train_activation_backward(fwd->hidden_pre, (size_t)B, k, (nn_act){.kind = NN_ACT_RELU},
                                  pass->dhidden, pass->dhidden, NULL);
        train_dense_backward(fwd->x, B, d, h->w1, k, pass->dhidden, NULL, gw1, gb1);
    }
}

const char *train_head_id(const embed_head *h) { return h->id; }

void train_head_free(embed_head *h) { embed_head_free(h); }
