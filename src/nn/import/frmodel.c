/* frmodel.c: reading and writing facerec model files (layout in frmodel.h). */
#include "nn/import/frmodel.h"

#include "common/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRMODEL_MAX_BYTES ((size_t)1 << 31)
/* magic, version, two strings at their longest, input spec and tensor count */
#define FRMODEL_MAX_HEADER (8 + 4 + 2 * (4 + FRMODEL_MAX_ID) + 3 * 4 + 4)

uint32_t frmodel_crc32(uint32_t crc, const uint8_t *data, size_t n) {
    uint32_t table[256]; /* built per call: cheap next to the bytes it checks, and no globals */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static void store_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- writing: the file is assembled in memory, then written in one go ---- */

typedef struct out_buffer {
    uint8_t *data;
    size_t size, cap;
} out_buffer;

static int put_bytes(out_buffer *b, const void *bytes, size_t n) {
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->size, bytes, n);
    b->size += n;
    return 1;
}

static int put_u32(out_buffer *b, uint32_t v) {
    uint8_t le[4];
    store_le32(le, v);
    return put_bytes(b, le, 4);
}

static int put_string(out_buffer *b, const char *s) {
    return put_u32(b, (uint32_t)strlen(s)) && put_bytes(b, s, strlen(s));
}

static int put_tensor(out_buffer *b, const nn_tensor_entry *t) {
    size_t start = b->size;
    if (!put_string(b, t->name) || !put_u32(b, (uint32_t)t->ndim)) return 0;
    for (int d = 0; d < t->ndim; d++)
        if (!put_u32(b, (uint32_t)t->shape[d])) return 0;
    for (size_t i = 0; i < t->count; i++) {
        uint32_t bits;
        memcpy(&bits, &t->data[i], 4);
        if (!put_u32(b, bits)) return 0;
    }
    return put_u32(b, frmodel_crc32(0, b->data + start, b->size - start));
}

static fr_status check_tensor(const char *path, const nn_tensor_entry *t) {
    if (!t->name || !*t->name || strlen(t->name) > FRMODEL_MAX_NAME)
        return fr_error(FR_E_ARG, "%s: a tensor name is empty or over %d bytes", path,
                        FRMODEL_MAX_NAME);
    if (t->ndim < 1 || t->ndim > NN_MAX_DIMS || !t->data)
        return fr_error(FR_E_ARG, "%s: tensor '%s' has no data or %d dimensions", path, t->name,
                        t->ndim);
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] <= 0 || !fr_mul_size(count, (size_t)t->shape[d], &count))
            return fr_error(FR_E_ARG, "%s: tensor '%s' has an invalid shape", path, t->name);
    if (count != t->count)
        return fr_error(FR_E_ARG, "%s: tensor '%s' holds %zu values, its shape %zu", path,
                        t->name, t->count, count);
    return FR_OK;
}

fr_status frmodel_write(const char *path, const frmodel_info *info,
                        const nn_tensor_entry *tensors, int n_tensors) {
    if (!path || !info || n_tensors < 0 || (n_tensors > 0 && !tensors))
        return fr_error(FR_E_ARG, "frmodel_write: invalid argument");
    if (!*info->model_id || strlen(info->model_id) > FRMODEL_MAX_ID ||
        strlen(info->preprocessing) > FRMODEL_MAX_ID || info->input_h <= 0 ||
        info->input_w <= 0 || info->input_c <= 0)
        return fr_error(FR_E_ARG, "%s: invalid model id, preprocessing id or input size", path);
    for (int i = 0; i < n_tensors; i++) {
        fr_status st = check_tensor(path, &tensors[i]);
        if (st != FR_OK) return st;
    }
    out_buffer b = {0};
    int ok = put_bytes(&b, FRMODEL_MAGIC, 8) && put_u32(&b, FRMODEL_VERSION) &&
             put_string(&b, info->model_id) && put_u32(&b, (uint32_t)info->input_h) &&
             put_u32(&b, (uint32_t)info->input_w) && put_u32(&b, (uint32_t)info->input_c) &&
             put_string(&b, info->preprocessing) && put_u32(&b, (uint32_t)n_tensors);
    for (int i = 0; ok && i < n_tensors; i++) ok = put_tensor(&b, &tensors[i]);
    if (ok) ok = put_u32(&b, frmodel_crc32(0, b.data, b.size));
    if (!ok) {
        free(b.data);
        return fr_error(FR_E_NOMEM, "%s: out of memory assembling the model file", path);
    }
    /* write beside the target and rename, so that a failed write never leaves half a model */
    size_t tmp_len = strlen(path) + 5;
    char *tmp = malloc(tmp_len);
    if (!tmp) {
        free(b.data);
        return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tmp_len, "%s.tmp", path);
    fr_status st = FR_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = fr_error(FR_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        int written = fwrite(b.data, 1, b.size, f) == b.size;
        if (fclose(f) != 0 || !written) {
            st = fr_error(FR_E_IO, "%s: write error", tmp);
            remove(tmp);
        } else if (rename(tmp, path) != 0) {
            st = fr_error(FR_E_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
            remove(tmp);
        }
    }
    free(tmp);
    free(b.data);
    return st;
}

/* ---- reading ---- */

typedef struct in_cursor {
    const uint8_t *data;
    size_t size, pos;
} in_cursor;

static int get_u32(in_cursor *c, uint32_t *v) {
    if (c->size - c->pos < 4) return 0;
    *v = load_le32(c->data + c->pos);
    c->pos += 4;
    return 1;
}

/* A string of at most max bytes into out (size max + 1). */
static int get_string(in_cursor *c, char *out, size_t max) {
    uint32_t len;
    if (!get_u32(c, &len) || len > max || c->size - c->pos < len) return 0;
    memcpy(out, c->data + c->pos, len);
    out[len] = '\0';
    c->pos += len;
    return memchr(out, '\0', len) == NULL;
}

static fr_status parse_header(const char *path, in_cursor *c, frmodel_info *info,
                              uint32_t *n_tensors) {
    if (c->size < 8 || memcmp(c->data, FRMODEL_MAGIC, 8) != 0)
        return fr_error(FR_E_MODEL, "%s: not a facerec model file (no %s magic)", path,
                        FRMODEL_MAGIC);
    c->pos = 8;
    uint32_t version, h, w, ch;
    if (!get_u32(c, &version))
        return fr_error(FR_E_MODEL, "%s: truncated model file (header)", path);
    if (version != FRMODEL_VERSION)
        return fr_error(FR_E_MODEL, "%s: model file version %u, this build reads version %u",
                        path, version, FRMODEL_VERSION);
    memset(info, 0, sizeof *info);
    if (!get_string(c, info->model_id, FRMODEL_MAX_ID) || !get_u32(c, &h) || !get_u32(c, &w) ||
        !get_u32(c, &ch) || !get_string(c, info->preprocessing, FRMODEL_MAX_ID) ||
        !get_u32(c, n_tensors))
        return fr_error(FR_E_MODEL, "%s: truncated or corrupt model file header", path);
    if (!*info->model_id || h == 0 || w == 0 || ch == 0 || h > 65536 || w > 65536 || ch > 65536)
        return fr_error(FR_E_MODEL, "%s: corrupt model file header (model id or input size)",
                        path);
    info->input_h = (int)h, info->input_w = (int)w, info->input_c = (int)ch;
    return FR_OK;
}

fr_status frmodel_read_info(const char *path, frmodel_info *info) {
    if (!path || !info) return fr_error(FR_E_ARG, "frmodel_read_info: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return fr_error(FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t head[FRMODEL_MAX_HEADER];
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    in_cursor c = {head, got, 0};
    uint32_t n_tensors;
    return parse_header(path, &c, info, &n_tensors);
}

int frmodel_is_file(const char *path) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return 0;
    char magic[8];
    int is_model = fread(magic, 1, 8, f) == 8 && memcmp(magic, FRMODEL_MAGIC, 8) == 0;
    fclose(f);
    return is_model;
}

/* One tensor record at the cursor into t (name and data allocated). */
static fr_status parse_tensor(const char *path, in_cursor *c, uint32_t index,
                              nn_tensor_entry *t) {
    size_t start = c->pos;
    char name[FRMODEL_MAX_NAME + 1];
    uint32_t ndim;
    if (!get_string(c, name, FRMODEL_MAX_NAME) || !*name || !get_u32(c, &ndim))
        return fr_error(FR_E_MODEL, "%s: truncated or corrupt model file (tensor %u)", path,
                        index);
    if (ndim < 1 || ndim > NN_MAX_DIMS)
        return fr_error(FR_E_MODEL, "%s: tensor '%s' has %u dimensions", path, name, ndim);
    size_t count = 1;
    int shape[NN_MAX_DIMS];
    for (uint32_t d = 0; d < ndim; d++) {
        uint32_t dim;
        if (!get_u32(c, &dim))
            return fr_error(FR_E_MODEL, "%s: truncated model file (tensor '%s')", path, name);
        if (dim == 0 || dim > (1u << 30) || !fr_mul_size(count, dim, &count))
            return fr_error(FR_E_MODEL, "%s: tensor '%s' has an invalid shape", path, name);
        shape[d] = (int)dim;
    }
    size_t bytes;
    if (!fr_mul_size(count, 4, &bytes) || c->size - c->pos < bytes ||
        c->size - c->pos - bytes < 4)
        return fr_error(FR_E_MODEL, "%s: truncated model file (tensor '%s')", path, name);
    uint32_t stored_crc = load_le32(c->data + c->pos + bytes);
    if (frmodel_crc32(0, c->data + start, c->pos + bytes - start) != stored_crc)
        return fr_error(FR_E_MODEL, "%s: tensor '%s' is corrupt (checksum mismatch)", path, name);
    t->name = malloc(strlen(name) + 1);
    t->data = malloc(bytes);
    if (!t->name || !t->data)
        return fr_error(FR_E_NOMEM, "%s: out of memory for tensor '%s'", path, name);
    strcpy(t->name, name);
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = load_le32(c->data + c->pos + 4 * i);
        memcpy(&t->data[i], &bits, 4);
    }
    t->ndim = (int)ndim;
    memcpy(t->shape, shape, sizeof(int) * ndim);
    t->count = count;
    c->pos += bytes + 4;
    return FR_OK;
}

fr_status frmodel_read(const char *path, frmodel_info *info, nn_weights **out) {
    if (!path || !info || !out) return fr_error(FR_E_ARG, "frmodel_read: NULL argument");
    *out = NULL;
    uint8_t *data;
    size_t size;
    fr_status st = fr_read_file(path, FRMODEL_MAX_BYTES, &data, &size);
    if (st != FR_OK) return st;
    in_cursor c = {data, size, 0};
    uint32_t n_tensors = 0;
    st = parse_header(path, &c, info, &n_tensors);
    /* the whole-file checksum first: it tells truncation and corruption apart from a bad
     * layout before any tensor is trusted */
    if (st == FR_OK && (size < c.pos + 4 ||
                        frmodel_crc32(0, data, size - 4) != load_le32(data + size - 4)))
        st = fr_error(FR_E_MODEL, "%s: truncated or corrupt model file (file checksum mismatch)",
                      path);
    if (st == FR_OK && n_tensors > (size - c.pos) / 16)
        st = fr_error(FR_E_MODEL, "%s: corrupt model file (%u tensors declared)", path, n_tensors);
    c.size = size - 4; /* the tensors end where the file checksum begins */
    nn_weights *w = st == FR_OK ? calloc(1, sizeof *w) : NULL;
    if (st == FR_OK && w) {
        w->source = malloc(strlen(path) + 1);
        w->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *w->tensors);
        if (w->source) strcpy(w->source, path);
    }
    if (st == FR_OK && (!w || !w->source || !w->tensors))
        st = fr_error(FR_E_NOMEM, "%s: out of memory", path);
    for (uint32_t i = 0; st == FR_OK && i < n_tensors; i++) {
        st = parse_tensor(path, &c, i, &w->tensors[i]);
        w->count = (int)i + 1; /* so that nn_weights_free releases a half-made entry */
        for (uint32_t j = 0; st == FR_OK && j < i; j++)
            if (!strcmp(w->tensors[j].name, w->tensors[i].name))
                st = fr_error(FR_E_MODEL, "%s: tensor '%s' appears twice", path,
                              w->tensors[i].name);
        /* the checksum proves the file is as written, not that what was written is sound */
        const nn_tensor_entry *t = &w->tensors[i];
        for (size_t k = 0; st == FR_OK && k < t->count; k++)
            if (!isfinite(t->data[k]))
                st = fr_error(FR_E_MODEL, "%s: tensor '%s' holds a non-finite value (%g at %zu)",
                              path, t->name, (double)t->data[k], k);
    }
    if (st == FR_OK && c.pos != c.size)
        st = fr_error(FR_E_MODEL, "%s: corrupt model file (%zu stray bytes after the tensors)",
                      path, c.size - c.pos);
    if (st == FR_OK) st = nn_weights_add_file(w, path);
    free(data);
    if (st != FR_OK) {
        nn_weights_free(w);
        return st;
    }
    *out = w;
    return FR_OK;
}
