/* tfjs.c: TensorFlow.js weight maps.
 *
 * The manifest is a JSON array of groups {"paths": [shard files], "weights": [specs]}. The
 * shards of a group, concatenated in order, hold the group's weights back to back, each
 * `count * element size` bytes, little-endian. A spec is {"name", "shape", "dtype"} with
 * dtype float32 or int32, and optionally "quantization": {"dtype": "uint8"|"uint16", "min",
 * "scale"} (stored q, value q * scale + min, rounded for int32 as tfjs does) or
 * {"dtype": "float16"} (IEEE half precision). Every tensor becomes float32. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "nn/import/tfjs.h"

#include "common/common.h"
#include "common/json_read.h"
#include "nn/nn.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TFJS_MAX_SHARD_BYTES ((size_t)1 << 30)
#define TFJS_MAX_MANIFEST_BYTES ((size_t)16 << 20)
/* a group's floats from this size on are allocated in huge pages */
#define TFJS_HUGE_BLOCK_BYTES ((size_t)1 << 20)

typedef enum stored_type {
    STORED_FLOAT32,
    STORED_INT32,
    STORED_UINT8,
    STORED_UINT16,
    STORED_FLOAT16
} stored_type;

static const size_t stored_size[] = {4, 4, 1, 2, 2};

/* One weight of the manifest, checked. `name` points into the parsed manifest. */
typedef struct weight_spec {
    const char *name;
    int ndim;
    int shape[NN_MAX_DIMS];
    size_t count;
    stored_type stored;
    int is_int32;      /* dequantised values are rounded to integers */
    double scale, min; /* uint8 / uint16 quantisation */
    size_t bytes;
} weight_spec;

/* ---- decoding ---- */

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t load_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static float float_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* JavaScript's Math.round: the nearest integer, halves rounded up. */
static double round_half_up(double x) {
    double r = floor(x);
    return x - r >= 0.5 ? r + 1 : r;
}

static float dequantize(const weight_spec *s, unsigned q) {
    double v = (double)q * s->scale + s->min;
    return (float)(s->is_int32 ? round_half_up(v) : v);
}

/* Converts s->count stored values at `src` to float32. */
static void decode_tensor(const weight_spec *s, const uint8_t *src, float *dst) {
    for (size_t i = 0; i < s->count; i++) {
        switch (s->stored) {
        case STORED_FLOAT32: dst[i] = float_from_bits(load_le32(src + 4 * i)); break;
        case STORED_INT32: dst[i] = (float)(int32_t)load_le32(src + 4 * i); break;
        case STORED_UINT8: dst[i] = dequantize(s, src[i]); break;
        case STORED_UINT16: dst[i] = dequantize(s, load_le16(src + 2 * i)); break;
        case STORED_FLOAT16: dst[i] = nn_half_to_float(load_le16(src + 2 * i)); break;
        }
    }
}

/* ---- the manifest ---- */

static fr_status parse_shape(const char *manifest, const char *name, const json_t *shape,
                             weight_spec *s) {
    if (!json_is_array(shape))
        return fr_error(FR_E_MODEL, "%s: tensor '%s': \"shape\" is missing or not an array",
                        manifest, name);
    if (json_array_size(shape) > NN_MAX_DIMS)
        return fr_error(FR_E_UNSUPPORTED,
                        "%s: tensor '%s' has %zu dimensions, at most %d are supported", manifest,
                        name, json_array_size(shape), NN_MAX_DIMS);
    s->ndim = (int)json_array_size(shape);
    s->count = 1;
    for (int d = 0; d < s->ndim; d++) {
        const json_t *dim = json_array_get(shape, (size_t)d);
        double v = json_number_value(dim);
        if (!json_is_number(dim) || !(v >= 0 && v <= INT_MAX) || v != floor(v))
            return fr_error(
                FR_E_MODEL,
                "%s: tensor '%s': dimension %d of \"shape\" is not a non-negative integer",
                manifest, name, d);
        s->shape[d] = (int)v;
        if (!fr_mul_size(s->count, (size_t)s->shape[d], &s->count))
            return fr_error(FR_E_MODEL, "%s: tensor '%s': shape too large", manifest, name);
    }
    return FR_OK;
}

static fr_status parse_quantization(const char *manifest, const json_t *q, weight_spec *s) {
    const char *qtype = json_string_value(json_object_get(q, "dtype"));
    if (!json_is_object(q) || !qtype)
        return fr_error(FR_E_MODEL, "%s: tensor '%s': \"quantization\" needs a \"dtype\" string",
                        manifest, s->name);
    if (strcmp(qtype, "float16") == 0) {
        if (s->is_int32)
            return fr_error(FR_E_UNSUPPORTED,
                            "%s: tensor '%s': float16 quantization of an int32 tensor", manifest,
                            s->name);
        s->stored = STORED_FLOAT16;
        return FR_OK;
    }
    if (strcmp(qtype, "uint8") == 0)
        s->stored = STORED_UINT8;
    else if (strcmp(qtype, "uint16") == 0)
        s->stored = STORED_UINT16;
    else
        return fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s': unsupported quantization dtype \"%s\"",
                        manifest, s->name, qtype);
    const json_t *scale = json_object_get(q, "scale"), *min = json_object_get(q, "min");
    s->scale = json_number_value(scale);
    s->min = json_number_value(min);
    if (!json_is_number(scale) || !json_is_number(min))
        return fr_error(FR_E_MODEL,
                        "%s: tensor '%s': %s quantization needs numbers \"scale\" and \"min\"",
                        manifest, s->name, qtype);
    return FR_OK;
}

static fr_status parse_weight_spec(const char *manifest, size_t group, size_t index,
                                   const json_t *spec, weight_spec *s) {
    memset(s, 0, sizeof *s);
    s->name = json_string_value(json_object_get(spec, "name"));
    if (!s->name || !*s->name)
        return fr_error(FR_E_MODEL, "%s: group %zu, weight %zu: missing \"name\"", manifest, group,
                        index);
    fr_status st = parse_shape(manifest, s->name, json_object_get(spec, "shape"), s);
    if (st != FR_OK) return st;
    const char *dtype = json_string_value(json_object_get(spec, "dtype"));
    if (!dtype)
        return fr_error(FR_E_MODEL, "%s: tensor '%s': missing \"dtype\"", manifest, s->name);
    if (strcmp(dtype, "float32") == 0)
        s->stored = STORED_FLOAT32;
    else if (strcmp(dtype, "int32") == 0)
        s->stored = STORED_INT32, s->is_int32 = 1;
    else
        return fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s': unsupported dtype \"%s\"", manifest,
                        s->name, dtype);
    const json_t *q = json_object_get(spec, "quantization");
    if (q && (st = parse_quantization(manifest, q, s)) != FR_OK) return st;
    if (!fr_mul_size(s->count, stored_size[s->stored], &s->bytes))
        return fr_error(FR_E_MODEL, "%s: tensor '%s': shape too large", manifest, s->name);
    return FR_OK;
}

/* ---- the shards ---- */

/* The folder part of a path ("" for a bare file name, else ending with '/'). */
static size_t folder_length(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* A shard is named relative to its manifest's folder and stays inside it: no absolute path,
 * no ".." component (a manifest must not make the loader read /etc/passwd). */
static fr_status check_shard_name(const char *manifest, const char *file, const char *tensor) {
    int escapes = file[0] == '/';
    for (const char *c = file; *c && !escapes;) {
        size_t len = strcspn(c, "/");
        escapes = len == 2 && c[0] == '.' && c[1] == '.';
        c += len + (c[len] == '/');
    }
    if (escapes)
        return fr_error(FR_E_MODEL, "%s: the shard path \"%s\" of tensor '%s' leads outside the "
                        "manifest's folder", manifest, file, tensor);
    return FR_OK;
}

/* The same once symbolic links are resolved: the shard's real path lies in the real folder. */
static fr_status check_shard_inside(const char *manifest, const char *shard, const char *tensor) {
    size_t folder_len = folder_length(manifest);
    char *folder = strndup(manifest, folder_len ? folder_len : 0);
    char *real_folder = folder ? realpath(folder_len ? folder : ".", NULL) : NULL;
    char *real_shard = realpath(shard, NULL);
    fr_status st = FR_OK;
    if (!folder) {
        st = fr_error(FR_E_NOMEM, "%s: out of memory", manifest);
    } else if (real_folder && real_shard) {
        size_t n = strlen(real_folder);
        if (strncmp(real_shard, real_folder, n) != 0 || (real_shard[n] != '/' && n > 1))
            st = fr_error(FR_E_MODEL, "%s: the shard %s of tensor '%s' is a link to %s, outside "
                          "the manifest's folder", manifest, shard, tensor, real_shard);
    } /* a path that does not resolve is reported by the read that follows */
    free(folder);
    free(real_folder);
    free(real_shard);
    return st;
}

/* A group's data: its one shard's mapping as it is, or its shards joined (malloc'd). */
typedef struct group_data {
    const uint8_t *bytes;
    size_t size;
    const uint8_t *mapping; /* the one shard, mapped (NULL once joined) */
    uint8_t *joined;        /* the shards joined */
} group_data;

static void group_data_free(group_data *d) {
    if (d->mapping) fr_unmap_model_file(d->mapping, d->size);
    free(d->joined);
    *d = (group_data){0};
}

/* Appends one mapped shard to d (which releases it). */
static fr_status add_shard(const char *manifest, const char *first_tensor, group_data *d,
                           const uint8_t *shard, size_t shard_size) {
    if (!d->mapping && !d->joined) {
        *d = (group_data){.bytes = shard, .size = shard_size, .mapping = shard};
        return FR_OK;
    }
    fr_status st = FR_OK;
    uint8_t *grown = NULL; /* one spare byte: realloc of 0 bytes may free */
    if (shard_size >= SIZE_MAX - d->size)
        st = fr_error(FR_E_LIMIT,
                      "%s: the shards of tensor '%s' and the tensors after it are too large",
                      manifest, first_tensor);
    else if (!(grown = realloc(d->joined, d->size + shard_size + 1)))
        st = fr_error(FR_E_NOMEM, "%s: out of memory joining the shards", manifest);
    if (grown) {
        if (d->mapping) { /* the first shard, until now used in place */
            memcpy(grown, d->mapping, d->size);
            fr_unmap_model_file(d->mapping, d->size);
            d->mapping = NULL;
        }
        memcpy(grown + d->size, shard, shard_size);
        d->joined = grown;
        d->bytes = grown;
        d->size += shard_size;
    }
    fr_unmap_model_file(shard, shard_size);
    return st;
}

/* Maps the shard files of a group into *d, joined when there are several. On failure the
 * message names the shard, the manifest and the first tensor of the group. *shard_path
 * receives the path of the last shard (malloc'd, also on failure), for messages about the
 * group's data as a whole. Each shard read is recorded in w's files. */
static fr_status read_shards(const char *manifest, const json_t *paths,
                             const char *first_tensor, group_data *d, char **shard_path,
                             nn_weights *w) {
    *d = (group_data){0};
    *shard_path = NULL;
    size_t folder = folder_length(manifest);
    fr_status st = FR_OK;
    for (size_t i = 0; i < json_array_size(paths) && st == FR_OK; i++) {
        const char *file = json_string_value(json_array_get(paths, i));
        if (!file || !*file) {
            st = fr_error(FR_E_MODEL,
                          "%s: \"paths\" of the group of tensor '%s' must hold file names",
                          manifest, first_tensor);
            break;
        }
        if ((st = check_shard_name(manifest, file, first_tensor)) != FR_OK) break;
        size_t path_len = folder + strlen(file) + 1;
        char *path = malloc(path_len);
        if (!path) {
            st = fr_error(FR_E_NOMEM, "%s: out of memory", manifest);
            break;
        }
        memcpy(path, manifest, folder);
        memcpy(path + folder, file, path_len - folder);
        free(*shard_path);
        *shard_path = path;

        if ((st = check_shard_inside(manifest, path, first_tensor)) != FR_OK) break;
        const uint8_t *shard;
        size_t shard_size;
        st = fr_map_model_file(path, TFJS_MAX_SHARD_BYTES, &shard, &shard_size);
        if (st != FR_OK) {
            st = fr_error_prefix(st == FR_E_NOMEM ? st : FR_E_MODEL,
                                 "%s: shard of tensor '%s' and the tensors after it", manifest,
                                 first_tensor);
            break;
        }
        st = add_shard(manifest, first_tensor, d, shard, shard_size);
        if (st == FR_OK) st = nn_weights_add_file(w, path);
    }
    if (st != FR_OK) group_data_free(d);
    return st;
}

/* Memory for n floats: in 2 MB pages when large (see nn_alloc_huge), so that a network's
 * weights fault in a few pages rather than hundreds; free with free(). */
static float *group_block(size_t n) {
    size_t bytes = FR_MAX(n, (size_t)1) * sizeof(float);
    return bytes >= TFJS_HUGE_BLOCK_BYTES ? nn_alloc_huge(&bytes) : malloc(bytes);
}

/* Checks the specs of one group against its shards and decodes them into w->tensors. */
static fr_status load_group(const char *manifest, size_t group, const json_t *g,
                            nn_weights *w) {
    const json_t *paths = json_object_get(g, "paths"), *specs = json_object_get(g, "weights");
    if (!json_is_object(g) || !json_is_array(paths) || !json_is_array(specs))
        return fr_error(FR_E_MODEL, "%s: group %zu needs arrays \"paths\" and \"weights\"",
                        manifest, group);
    size_t n = json_array_size(specs);
    if (n == 0) return FR_OK; /* nothing to read */
    weight_spec *s = calloc(n, sizeof *s);
    if (!s) return fr_error(FR_E_NOMEM, "%s: out of memory", manifest);
    fr_status st = FR_OK;
    size_t needed = 0;
    for (size_t i = 0; i < n && st == FR_OK; i++) {
        st = parse_weight_spec(manifest, group, i, json_array_get(specs, i), &s[i]);
        if (st == FR_OK && (needed += s[i].bytes) < s[i].bytes)
            st = fr_error(FR_E_MODEL, "%s: tensor '%s': group too large", manifest, s[i].name);
    }
    group_data data = {0};
    char *shard = NULL;
    if (st == FR_OK) st = read_shards(manifest, paths, s[0].name, &data, &shard, w);
    size_t size = data.size;
    if (st == FR_OK && size != needed) {
        const char *file = shard ? shard : manifest;
        if (size < needed) {
            size_t offset = 0, i = 0;
            while (offset + s[i].bytes <= size) offset += s[i++].bytes;
            st = fr_error(FR_E_MODEL,
                          "%s: truncated: tensor '%s' needs bytes %zu to %zu of the group's data, "
                          "which has %zu (manifest %s)",
                          file, s[i].name, offset, offset + s[i].bytes, size, manifest);
        } else {
            st = fr_error(FR_E_MODEL,
                          "%s: the group's data has %zu bytes, but its tensors up to '%s' take %zu "
                          "(manifest %s)",
                          file, size, s[n - 1].name, needed, manifest);
        }
    }
    /* the group's floats in one block, w->blocks[group]: no stored value is smaller than a
     * byte, so the sizes checked above bound it */
    float *block = NULL;
    size_t floats = 0;
    for (size_t i = 0; i < n; i++) floats += s[i].count;
    if (st == FR_OK && !(block = w->blocks[group] = group_block(floats)))
        st = fr_error(FR_E_NOMEM, "%s: out of memory for the tensors from '%s' on", manifest,
                      s[0].name);
    size_t offset = 0, at = 0;
    for (size_t i = 0; i < n && st == FR_OK; i++) {
        nn_tensor_entry *t = &w->tensors[w->count];
        t->name = strdup(s[i].name);
        t->data = block + at;
        at += s[i].count;
        w->count++; /* the entry is owned by w from here on, complete or not */
        if (!t->name) {
            st = fr_error(FR_E_NOMEM, "%s: out of memory for tensor '%s'", manifest, s[i].name);
            break;
        }
        t->ndim = s[i].ndim;
        memcpy(t->shape, s[i].shape, sizeof t->shape);
        t->count = s[i].count;
        if (s[i].count) decode_tensor(&s[i], data.bytes + offset, t->data);
        offset += s[i].bytes;
        /* a float16 infinity, or a quantisation whose scale or min overflows */
        for (size_t k = 0; k < t->count; k++)
            if (!isfinite(t->data[k])) {
                st = fr_error(FR_E_MODEL, "%s: tensor '%s' holds a non-finite value (%g at %zu)",
                              shard ? shard : manifest, s[i].name, (double)t->data[k], k);
                break;
            }
    }
    free(shard);
    group_data_free(&data);
    free(s);
    return st;
}

static int compare_entry_names(const void *a, const void *b) {
    return strcmp((*(const nn_tensor_entry *const *)a)->name,
                  (*(const nn_tensor_entry *const *)b)->name);
}

static fr_status check_unique_names(const char *manifest, const nn_weights *w) {
    if (w->count < 2) return FR_OK;
    const nn_tensor_entry **sorted = malloc((size_t)w->count * sizeof *sorted);
    if (!sorted) return fr_error(FR_E_NOMEM, "%s: out of memory", manifest);
    for (int i = 0; i < w->count; i++) sorted[i] = &w->tensors[i];
    qsort(sorted, (size_t)w->count, sizeof *sorted, compare_entry_names);
    fr_status st = FR_OK;
    for (int i = 1; i < w->count && st == FR_OK; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
            st = fr_error(FR_E_MODEL, "%s: tensor '%s' appears twice", manifest, sorted[i]->name);
    free(sorted);
    return st;
}

fr_status nn_tfjs_load(const char *manifest_path, nn_weights **out) {
    *out = NULL;
    json_t *manifest = NULL;
    const uint8_t *text;
    size_t text_size;
    fr_status st = fr_map_model_file(manifest_path, TFJS_MAX_MANIFEST_BYTES, &text, &text_size);
    if (st != FR_OK)
        return st == FR_E_NOMEM ? st : fr_error_prefix(FR_E_MODEL, "tfjs weights manifest");
    st = parse_json_text((const char *)text, text_size, manifest_path, &manifest);
    fr_unmap_model_file(text, text_size);
    if (st != FR_OK)
        return st == FR_E_NOMEM ? st : fr_error_prefix(FR_E_MODEL, "tfjs weights manifest");
    if (!json_is_array(manifest)) {
        json_decref(manifest);
        return fr_error(FR_E_MODEL, "%s: not a tfjs weights manifest (expected an array of groups)",
                        manifest_path);
    }
    size_t total = 0;
    for (size_t g = 0; g < json_array_size(manifest); g++)
        total += json_array_size(json_object_get(json_array_get(manifest, g), "weights"));
    if (total > INT_MAX) {
        json_decref(manifest);
        return fr_error(FR_E_LIMIT, "%s: too many tensors (%zu)", manifest_path, total);
    }
    nn_weights *w = calloc(1, sizeof *w);
    if (w) w->source = strdup(manifest_path);
    if (w) w->tensors = calloc(total ? total : 1, sizeof *w->tensors);
    size_t n_groups = json_array_size(manifest);
    if (w && w->tensors && (w->blocks = calloc(n_groups ? n_groups : 1, sizeof *w->blocks)))
        w->n_blocks = n_groups;
    if (!w || !w->source || !w->tensors || !w->blocks)
        st = fr_error(FR_E_NOMEM, "%s: out of memory", manifest_path);
    else
        st = nn_weights_add_file(w, manifest_path);
    for (size_t g = 0; g < json_array_size(manifest) && st == FR_OK; g++)
        st = load_group(manifest_path, g, json_array_get(manifest, g), w);
    if (st == FR_OK) st = check_unique_names(manifest_path, w);
    json_decref(manifest);
    if (st != FR_OK) {
        nn_weights_free(w);
        return st;
    }
    *out = w;
    return FR_OK;
}
