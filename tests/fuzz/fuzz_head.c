/* fuzz_head.c: libFuzzer target for a trained projection head's file (src/face/head.c, made
 * by `facerec train`, given as --model FILE). An input is a .frmodel file image whose
 * checksums the target recomputes (fuzz_frmodel covers the container itself), so that the
 * mutations reach what the head reads from it: model id, sizes, base model and tensors. An
 * accepted head is run on two base embeddings, and what it gives must be unit vectors.
 * fuzz.sh options: -runs=10000 -max_len=8192
 */
#include "fuzz_files.h"
#include "fuzz_frmodel_checksums.h"
#include "face/head.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    if (!fuzz_write_frmodel("head.frmodel", data, size, path, sizeof path)) return 0;
    embed_head *h;
    if (!embed_head_is_file(path) || embed_head_load(path, &h) != FR_OK) return 0;
    if (h->dim < 1 || h->dim > FR_MAX_EMBEDDING || h->hidden < 0 ||
        !memchr(h->base, 0, sizeof h->base))
        abort();
    int n = 2, d = h->dim;
    float *x = malloc((size_t)n * d * sizeof *x);
    if (!x) abort();
    for (int i = 0; i < n * d; i++) x[i] = (float)((i * 7) % 5) - 2.0f;
    if (embed_head_apply(h, 1, x, n) == FR_OK)
        for (int r = 0; r < n; r++) {
            double norm = 0;
            for (int c = 0; c < d; c++) {
                if (!isfinite(x[r * d + c])) abort();
                norm += (double)x[r * d + c] * x[r * d + c];
            }
            if (norm != 0 && fabs(norm - 1) > 1e-3) abort();
        }
    free(x);
    embed_head_free(h);
    return 0;
}
