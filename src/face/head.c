/* head.c: a trained projection head's parameters, model file and forward pass (see head.h). */
#include "face/head.h"

#include "common/common.h"
#include "nn/import/frmodel.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fr_status embed_head_alloc(const char *base, int dim, int hidden, embed_head **out) {
    *out = NULL;
    if (dim <= 0 || dim > FR_MAX_EMBEDDING || hidden < 0 || hidden > 4096)
        return fr_error(FR_E_ARG, "head: invalid sizes (embedding length %d, hidden %d)", dim,
                        hidden);
    if (strlen(base) >= sizeof((embed_head *)0)->base)
        return fr_error(FR_E_ARG, "head: base model name '%s' too long", base);
    embed_head *h = calloc(1, sizeof *h);
    size_t d = (size_t)dim, k = (size_t)hidden;
    size_t n = d * d + d + (hidden ? d * k + k + k * d + d : 0);
    if (h) h->params = calloc(n, sizeof *h->params);
    if (!h || !h->params) {
        free(h);
        return fr_error(FR_E_NOMEM, "head: out of memory");
    }
    strcpy(h->base, base);
    h->dim = dim;
    h->hidden = hidden;
    h->n_params = n;
    h->w = h->params;
    h->b = h->w + d * d;
    if (hidden) {
        h->w1 = h->b + d;
        h->b1 = h->w1 + d * k;
        h->w2 = h->b1 + k;
        h->b2 = h->w2 + k * d;
    }
    *out = h;
    return FR_OK;
}

void embed_head_update_id(embed_head *h) {
    uint32_t crc = frmodel_crc32(0, (const uint8_t *)h->params, h->n_params * sizeof(float));
    snprintf(h->id, sizeof h->id, "%s+head-%08x", h->base, (unsigned)crc);
}

void embed_head_free(embed_head *h) {
    if (!h) return;
    free(h->params);
    free(h);
}

int embed_head_is_file(const char *path) {
    frmodel_info info;
    return frmodel_read_info(path, &info) == FR_OK && !strcmp(info.model_id, EMBED_HEAD_MODEL_ID);
}

fr_status embed_head_load(const char *path, embed_head **out) {
    *out = NULL;
    frmodel_info info;
    nn_weights *w;
    fr_status st = frmodel_read(path, &info, &w);
    if (st != FR_OK) return st;
    if (strcmp(info.model_id, EMBED_HEAD_MODEL_ID) != 0 || info.input_h != 1 ||
        info.input_w != 1) {
        nn_weights_free(w);
        return fr_error(FR_E_MODEL, "%s: not an embedding head (model id '%s')", path,
                        info.model_id);
    }
    const nn_tensor_entry *hidden = nn_weights_find(w, "head/hidden/bias");
    int d = info.input_c, k = hidden && hidden->ndim == 1 ? hidden->shape[0] : 0;
    embed_head *h = NULL;
    st = embed_head_alloc(info.preprocessing, d, k, &h);
    if (st != FR_OK) st = fr_error_prefix(st, "%s", path);
    const struct {
        const char *name;
        int ndim, shape[2];
        float *dst;
    } parts[6] = {
        {"head/kernel", 2, {d, d}, h ? h->w : NULL},
        {"head/bias", 1, {d, 0}, h ? h->b : NULL},
        {"head/hidden/kernel", 2, {d, k}, h ? h->w1 : NULL},
        {"head/hidden/bias", 1, {k, 0}, h ? h->b1 : NULL},
        {"head/output/kernel", 2, {k, d}, h ? h->w2 : NULL},
        {"head/output/bias", 1, {d, 0}, h ? h->b2 : NULL},
    };
    int n_parts = k ? 6 : 2;
    if (st == FR_OK && w->count != n_parts)
        st = fr_error(FR_E_MODEL, "%s: an embedding head has %d tensors, this file %d", path,
                      n_parts, w->count);
    for (int i = 0; st == FR_OK && i < n_parts; i++) {
        float *data;
        st = nn_weights_get(w, parts[i].name, parts[i].ndim, parts[i].shape, &data);
        if (st == FR_OK)
            memcpy(parts[i].dst, data, (size_t)parts[i].shape[0] *
                                           (parts[i].ndim == 2 ? (size_t)parts[i].shape[1] : 1) *
                                           sizeof(float));
    }
    nn_weights_free(w);
    if (st != FR_OK) {
        embed_head_free(h);
        return st;
    }
    embed_head_update_id(h);
    *out = h;
    return FR_OK;
}

fr_status embed_head_pass_new(const embed_head *h, int rows, embed_head_pass **out) {
    *out = NULL;
    embed_head_pass *p = calloc(1, sizeof *p);
    size_t d = (size_t)rows * h->dim, k = (size_t)rows * h->hidden;
    if (p) {
        p->rows = rows;
        p->x = malloc(d * sizeof(float));
        p->z = malloc(d * sizeof(float));
        p->y = malloc(d * sizeof(float));
        p->hidden_pre = malloc((k ? k : 1) * sizeof(float));
        p->hidden = malloc((k ? k : 1) * sizeof(float));
    }
    if (!p || !p->x || !p->z || !p->y || !p->hidden_pre || !p->hidden) {
        embed_head_pass_free(p);
        return fr_error(FR_E_NOMEM, "head: out of memory for a batch of %d", rows);
    }
    *out = p;
    return FR_OK;
}

void embed_head_pass_free(embed_head_pass *p) {
    if (!p) return;
    free(p->x);
    free(p->hidden_pre);
    free(p->hidden);
    free(p->z);
    free(p->y);
    free(p);
}

void embed_head_forward(const embed_head *h, int threads, const float *in, int B,
                        embed_head_pass *pass) {
    int d = h->dim, k = h->hidden;
    size_t n = (size_t)B * d;
    memcpy(pass->x, in, n * sizeof(float));
    nn_l2_normalize(pass->x, B, d);
    nn_dense(threads, pass->x, B, d, h->w, h->b, d, pass->z);
    if (k) {
        nn_dense(threads, pass->x, B, d, h->w1, h->b1, k, pass->hidden_pre);
        memcpy(pass->hidden, pass->hidden_pre, (size_t)B * k * sizeof(float));
        nn_activate(threads, pass->hidden, (size_t)B, k, (nn_act){.kind = NN_ACT_RELU});
        nn_dense(threads, pass->hidden, B, k, h->w2, h->b2, d, pass->y); /* y as scratch */
        nn_add(threads, pass->z, pass->y, pass->z, n);
    }
    memcpy(pass->y, pass->z, n * sizeof(float));
    nn_l2_normalize(pass->y, B, d);
}

fr_status embed_head_apply(const embed_head *h, int threads, float *x, int n) {
    if (n <= 0) return FR_OK;
    embed_head_pass *pass;
    fr_status st = embed_head_pass_new(h, n, &pass);
    if (st != FR_OK) return st;
    embed_head_forward(h, threads, x, n, pass);
    /* weights that are finite can still overflow float32 on an input (found by fuzz_head) */
    size_t count = (size_t)n * h->dim;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(pass->y[i])) {
            embed_head_pass_free(pass);
            return fr_error(FR_E_MODEL, "the head %s gave a non-finite embedding (face %zu)",
                            h->id, i / (size_t)h->dim);
        }
    memcpy(x, pass->y, count * sizeof(float));
    embed_head_pass_free(pass);
    return FR_OK;
}
