/* fuzz_frmodel_checksums.h: for the fuzz targets whose input is a .frmodel file image
 * (nn/import/frmodel.h). Every record carries a CRC-32, so random mutations would almost all
 * stop at the first checksum; recomputing them lets the mutations reach the structure behind
 * them, and the readers built on the container (a trained head, a training cache) see its
 * contents. */
#ifndef FR_FUZZ_FRMODEL_CHECKSUMS_H
#define FR_FUZZ_FRMODEL_CHECKSUMS_H

#include "fuzz_files.h"
#include "nn/import/frmodel.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cursor {
    uint8_t *data;
    size_t size, pos;
} cursor;

static int take_u32(cursor *c, uint32_t *v) {
    if (c->size - c->pos < 4) return 0;
    const uint8_t *p = c->data + c->pos;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    c->pos += 4;
    return 1;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int skip_string(cursor *c) {
    uint32_t n;
    if (!take_u32(c, &n) || c->size - c->pos < n) return 0;
    c->pos += n;
    return 1;
}

/* Recomputes each tensor's CRC-32 (as far as the layout is readable) and the file's. */
static void fuzz_frmodel_fix_checksums(uint8_t *data, size_t size) {
    if (size < 4) return;
    cursor c = {data, size - 4, 8 + 4}; /* magic and version */
    uint32_t v, n_tensors;
    int ok = c.size >= c.pos && skip_string(&c) && take_u32(&c, &v) && take_u32(&c, &v) &&
             take_u32(&c, &v) && skip_string(&c) && take_u32(&c, &n_tensors);
    for (uint32_t t = 0; ok && t < n_tensors; t++) {
        size_t start = c.pos;
        uint32_t ndim;
        ok = skip_string(&c) && take_u32(&c, &ndim) && ndim >= 1 && ndim <= NN_MAX_DIMS;
        uint64_t count = 1;
        for (uint32_t d = 0; ok && d < ndim; d++) {
            ok = take_u32(&c, &v);
            count *= v;
            ok = ok && count <= c.size;
        }
        ok = ok && c.size - c.pos >= 4 * count + 4;
        if (!ok) break;
        c.pos += 4 * count;
        put_u32(data + c.pos, frmodel_crc32(0, data + start, c.pos - start));
        c.pos += 4;
    }
    put_u32(data + size - 4, frmodel_crc32(0, data, size - 4));
}

/* The input with its checksums made right, written to the target's file `name` (its path in
 * path); 0 when out of memory. */
static inline int fuzz_write_frmodel(const char *name, const uint8_t *data, size_t size,
                                     char *path, size_t path_size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    fuzz_frmodel_fix_checksums(copy, size);
    fuzz_write_file(name, copy, size, path, path_size);
    free(copy);
    return 1;
}

#endif
