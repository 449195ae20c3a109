/* fuzz_train_cache.c: libFuzzer target for the embedding cache of `facerec train --cache FILE`
 * (tools/train/dataset.c, train_set_load). An input is a .frmodel file image whose checksums
 * the target recomputes (fuzz_frmodel covers the container itself), so that the mutations
 * reach what the cache reader takes from it; the seeds carry the key the target asks for. A
 * set that is accepted must be one training can use: sizes of at least 1, every label a
 * person of the set, every photo's index a count, every embedding finite.
 * fuzz.sh options: -runs=10000 -max_len=8192
 */
#include "fuzz_files.h"
#include "fuzz_frmodel_checksums.h"
#include "train/train.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY 0x0000abcdu /* the seeds' preprocessing id is "0000abcd" */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    if (!fuzz_write_frmodel("train-cache.frmodel", data, size, path, sizeof path)) return 0;
    train_set s;
    if (train_set_load(path, FUZZ_KEY, &s) != FR_OK) return 0;
    if (s.n_photos < 1 || s.copies < 1 || s.dim < 1 || s.n_people < 1) abort();
    for (int i = 0; i < s.n_photos; i++)
        if (s.labels[i] < 0 || s.labels[i] >= s.n_people || s.source[i] < 0) abort();
    for (size_t i = 0; i < (size_t)s.n_photos * s.copies * s.dim; i++)
        if (!isfinite(s.embeddings[i])) abort();
    train_set_free(&s);
    return 0;
}
