/* fuzz_frmodel.c: libFuzzer target for facerec's own model file (.frmodel, nn/import/frmodel.h).
 * Each input is a file image, written to a file and read with frmodel_read_info and
 * frmodel_read. Every record carries a CRC-32, so random mutations would almost all stop at
 * the first checksum; when the input's last byte is odd the target first recomputes the
 * checksums where the layout lets it find them (each tensor's, then the file's), so that the
 * fuzzer's mutations reach the structure behind them.
 * fuzz.sh options: -runs=10000 -max_len=4096
 */
#include "fuzz_files.h"
#include "nn/import/frmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
static void fix_checksums(uint8_t *data, size_t size) {
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size && (data[size - 1] & 1)) fix_checksums(copy, size);
    char path[512];
    fuzz_write_file("fuzz.frmodel", copy, size, path, sizeof path);
    free(copy);
    frmodel_info info;
    frmodel_read_info(path, &info);
    nn_weights *w;
    if (frmodel_read(path, &info, &w) == FR_OK) nn_weights_free(w);
    return 0;
}
