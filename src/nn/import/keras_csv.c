/* keras_csv.c: per-layer CSV weight files (layout in keras_csv.h). */
#include "nn/import/keras_csv.h"

#include "common/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KERAS_CSV_MAX_BYTES ((size_t)256 << 20)

static int is_separator(char ch) {
    return ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

fr_status nn_keras_csv_read(const char *path, size_t count, float *values) {
    uint8_t *raw;
    size_t size;
    fr_status st = fr_read_file(path, KERAS_CSV_MAX_BYTES, &raw, &size);
    if (st != FR_OK) return st;
    /* a terminated copy, so that strtod stops at the end of the file */
    char *text = realloc(raw, size + 1);
    if (!text) {
        free(raw);
        return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    }
    text[size] = '\0';
    size_t n = 0, line = 1;
    const char *p = text;
    int after_comma = 1; /* a value is expected: at the start or after a comma */
    while (st == FR_OK) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') line += *p++ == '\n';
        if (!*p) break;
        if (*p == ',') {
            if (after_comma)
                st = fr_error(FR_E_FORMAT, "%s: line %zu: empty field (value %zu)", path, line,
                              n + 1);
            after_comma = 1;
            p++;
            continue;
        }
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || (*end && !is_separator(*end)) || !isfinite(v) || fabs(v) > 3.0e38) {
            int len = 0;
            while (p[len] && !is_separator(p[len]) && len < 20) len++;
            st = fr_error(FR_E_FORMAT, "%s: line %zu: value %zu is not a finite number: '%.*s'",
                          path, line, n + 1, len, p);
            break;
        }
        if (n == count) {
            st = fr_error(FR_E_FORMAT, "%s: has more than the %zu values expected", path, count);
            break;
        }
        values[n++] = (float)v;
        p = end;
        after_comma = 0;
    }
    if (st == FR_OK && n != count)
        st = fr_error(FR_E_FORMAT, "%s: has %zu values, expected %zu", path, n, count);
    free(text);
    return st;
}

/* ---- building the weight set ---- */

typedef struct tensor_list {
    nn_weights *w;
    int cap;
} tensor_list;

/* A new zeroed tensor `layer`/`suffix` of the given shape, appended to the set. */
static fr_status add_tensor(tensor_list *list, const char *layer, const char *suffix, int ndim,
                            const int *shape, float **data) {
    nn_weights *w = list->w;
    if (w->count == list->cap) {
        int cap = list->cap ? list->cap * 2 : 64;
        nn_tensor_entry *grown = realloc(w->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return fr_error(FR_E_NOMEM, "%s: out of memory", w->source);
        w->tensors = grown;
        list->cap = cap;
    }
    nn_tensor_entry *t = &w->tensors[w->count];
    memset(t, 0, sizeof *t);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0 || !fr_mul_size(count, (size_t)shape[d], &count))
            return fr_error(FR_E_ARG, "%s: layer '%s' has an invalid shape", w->source, layer);
        t->shape[d] = shape[d];
    }
    size_t name_len = strlen(layer) + strlen(suffix) + 2;
    t->name = malloc(name_len);
    t->data = calloc(count, sizeof *t->data);
    w->count++; /* counted now, so that a failure below is freed with the set */
    if (!t->name || !t->data) return fr_error(FR_E_NOMEM, "%s: out of memory", w->source);
    snprintf(t->name, name_len, "%s/%s", layer, suffix);
    t->ndim = ndim;
    t->count = count;
    *data = t->data;
    return FR_OK;
}

/* dir/<stem>_<suffix>.csv, exactly count values, into values. */
static fr_status read_layer_file(const char *dir, const char *stem, const char *suffix,
                                 size_t count, float *values) {
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/%s_%s.csv", dir, stem, suffix);
    if (len < 0 || (size_t)len >= sizeof path)
        return fr_error(FR_E_ARG, "%s: path too long", dir);
    return nn_keras_csv_read(path, count, values);
}

static fr_status load_layer(tensor_list *list, const char *dir, const keras_csv_layer *l) {
    const char *stem = l->file ? l->file : l->name;
    fr_status st;
    float *kernel, *bias;
    if (l->kind == KERAS_BATCHNORM) {
        static const char *const suffixes[4] = {"w", "b", "m", "v"};
        static const char *const names[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
        for (int i = 0; i < 4; i++) {
            float *v;
            if ((st = add_tensor(list, l->name, names[i], 1, &l->out, &v)) != FR_OK ||
                (st = read_layer_file(dir, stem, suffixes[i], (size_t)l->out, v)) != FR_OK)
                return st;
        }
        return FR_OK;
    }
    int is_conv = l->kind == KERAS_CONV;
    int kh = is_conv ? l->kh : 1, kw = is_conv ? l->kw : 1;
    size_t count = (size_t)l->out * (size_t)l->in * (size_t)kh * (size_t)kw;
    float *stored = malloc((count ? count : 1) * sizeof *stored);
    if (!stored) return fr_error(FR_E_NOMEM, "%s: out of memory for layer '%s'", dir, l->name);
    st = read_layer_file(dir, stem, "w", count, stored);
    if (st == FR_OK)
        st = is_conv ? add_tensor(list, l->name, "kernel", 4, (const int[]){kh, kw, l->in, l->out},
                                  &kernel)
                     : add_tensor(list, l->name, "kernel", 2, (const int[]){l->in, l->out},
                                  &kernel);
    if (st == FR_OK) {
        // stored is (Out,In,KH,KW), kernel is (KH,KW,In,Out): fr_utils' transpose (2, 3, 1, 0)
        for (int o = 0; o < l->out; o++)
            for (int i = 0; i < l->in; i++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++)
                        kernel[(((size_t)y * kw + x) * l->in + i) * l->out + o] =
                            stored[(((size_t)o * l->in + i) * kh + y) * kw + x];
    }
    free(stored);
    if (st == FR_OK) st = add_tensor(list, l->name, "bias", 1, &l->out, &bias);
    if (st == FR_OK) st = read_layer_file(dir, stem, "b", (size_t)l->out, bias);
    return st;
}

fr_status nn_keras_csv_load(const char *dir, const keras_csv_layer *layers, int n_layers,
                            nn_weights **out) {
    if (!dir || !out || n_layers < 0 || (n_layers > 0 && !layers))
        return fr_error(FR_E_ARG, "nn_keras_csv_load: invalid argument");
    *out = NULL;
    tensor_list list = {calloc(1, sizeof(nn_weights)), 0};
    if (!list.w) return fr_error(FR_E_NOMEM, "%s: out of memory", dir);
    list.w->source = malloc(strlen(dir) + 1);
    if (!list.w->source) {
        nn_weights_free(list.w);
        return fr_error(FR_E_NOMEM, "%s: out of memory", dir);
    }
    strcpy(list.w->source, dir);
    fr_status st = FR_OK;
    for (int i = 0; i < n_layers && st == FR_OK; i++) st = load_layer(&list, dir, &layers[i]);
    if (st != FR_OK) {
        nn_weights_free(list.w);
        return st;
    }
    *out = list.w;
    return FR_OK;
}
