/* fuzz_pgcopy.c: libFuzzer target for the reader of PostgreSQL's binary COPY stream, which
 * the gallery's load reads from the network (src/gallery/pgcopy.c). The input's first byte
 * sets the size of the pieces the rest is fed in (a tuple may straddle them, as it may
 * straddle libpq's messages); every template handed out is read whole, and a stream the
 * reader accepts must have ended with its trailer.
 * fuzz.sh options: -runs=20000 -max_len=4096
 */
#include "gallery/pgcopy.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fr_status take(void *ctx, int64_t person_id, int64_t template_id, const void *embedding,
                      size_t bytes) {
    (void)person_id;
    (void)template_id;
    unsigned *sum = ctx;
    const unsigned char *b = embedding;
    for (size_t i = 0; i < bytes; i++) *sum += b[i]; /* ASan: every byte is inside the input */
    return FR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t piece = (size_t)data[0] + 1;
    unsigned sum = 0;
    pgcopy_reader r = {.name = "fuzz", .fn = take, .ctx = &sum};
    fr_status st = FR_OK;
    for (size_t at = 1; at < size && st == FR_OK; at += piece) {
        size_t n = size - at < piece ? size - at : piece;
        /* each piece in its own allocation, so a read past it is caught */
        unsigned char *copy = malloc(n);
        if (!copy) abort();
        memcpy(copy, data + at, n);
        st = pgcopy_feed(&r, copy, n);
        free(copy);
    }
    if (st == FR_OK && pgcopy_finish(&r) == FR_OK && !r.ended) abort();
    pgcopy_free(&r);
    return 0;
}
