/* weights.c: looking up named tensors in a weight set, with shape checks. */
#include "nn/weights.h"

#include "common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes a shape as "[3,3,32,1]" (scalars as "[]") into out (size outsz). */
static void format_shape(int ndim, const int *shape, char *out, size_t outsz) {
    size_t len = 0;
    out[len++] = '[';
    for (int i = 0; i < ndim && len + 16 < outsz; i++)
        len += (size_t)snprintf(out + len, outsz - len, "%s%d", i ? "," : "", shape[i]);
    snprintf(out + len, outsz - len, "]");
}

const nn_tensor_entry *nn_weights_find(const nn_weights *w, const char *name) {
    if (!w || !name) return NULL;
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return &w->tensors[i];
    return NULL;
}

fr_status nn_weights_get(const nn_weights *w, const char *name, int ndim, const int *shape,
                         float **data) {
    *data = NULL;
    const nn_tensor_entry *t = nn_weights_find(w, name);
    if (!t) return fr_error(FR_E_MODEL, "%s: tensor '%s' not found", w->source, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char expected[128], found[128];
        format_shape(ndim, shape, expected, sizeof expected);
        format_shape(t->ndim, t->shape, found, sizeof found);
        return fr_error(FR_E_MODEL, "%s: tensor '%s' has shape %s, expected %s", w->source, name,
                        found, expected);
    }
    *data = t->data;
    return FR_OK;
}

void nn_weights_free(nn_weights *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) {
        free(w->tensors[i].name);
        if (!w->blocks) free(w->tensors[i].data);
    }
    for (size_t i = 0; i < w->n_blocks; i++) free(w->blocks[i]);
    free(w->blocks);
    free(w->tensors);
    free(w->source);
    for (int i = 0; i < w->n_files; i++) free(w->files[i]);
    free(w->files);
    free(w);
}

fr_status nn_weights_add_file(nn_weights *w, const char *path) {
    char **grown = realloc(w->files, (size_t)(w->n_files + 1) * sizeof *grown);
    if (grown) w->files = grown;
    char *copy = grown ? strdup(path) : NULL;
    if (!copy) return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    w->files[w->n_files++] = copy;
    return FR_OK;
}

float nn_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1Fu,
             mantissa = h & 0x3FFu, bits;
    if (exponent == 0) { /* zero or subnormal: mantissa * 2^-24, exact in float */
        float magnitude = ldexpf((float)mantissa, -24);
        return sign ? -magnitude : magnitude;
    }
    bits = exponent == 0x1F ? sign | 0x7F800000u | mantissa << 13
                            : sign | (exponent + 112) << 23 | mantissa << 13;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
