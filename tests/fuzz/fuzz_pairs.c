/* fuzz_pairs.c: libFuzzer target for the LFW pairs file reader of `facerec eval`
 * (tools/eval/pairs.c: View 1 and View 2 files). An input is one pairs file, or two separated
 * by a NUL byte, read one after the other into the same protocol (as View 1's train and test
 * files are). An accepted protocol must be consistent: the image list sorted without repeats,
 * every pair's images in it and distinct paths inside the data folder, every fold in range.
 * fuzz.sh options: -runs=10000 -max_len=4096
 */
#include "fuzz_files.h"
#include "eval/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DATA_DIR "lfw"

static void check(const eval_protocol *p) {
    if (p->n_folds < 1 || p->n_folds > EVAL_MAX_FOLDS || p->n_pairs < 2) abort();
    for (int i = 0; i < p->n_images; i++) {
        if (strncmp(p->images[i], DATA_DIR "/", sizeof DATA_DIR) || strstr(p->images[i], "/../"))
            abort();
        if (i > 0 && strcmp(p->images[i - 1], p->images[i]) >= 0) abort();
    }
    for (int i = 0; i < p->n_pairs; i++) {
        const eval_pair *q = &p->pairs[i];
        if (q->a < 0 || q->a >= p->n_images || q->b < 0 || q->b >= p->n_images) abort();
        if (q->fold < 0 || q->fold >= p->n_folds || (q->same != 0 && q->same != 1)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t first = nul ? (size_t)(nul - data) : size;
    char path[512];
    eval_protocol protocol = {0};
    int view;
    fuzz_write_file("pairs.txt", data, first, path, sizeof path);
    fr_status st = eval_protocol_read_pairs(path, DATA_DIR, &protocol, &view);
    if (st == FR_OK) {
        if (view != 1 && view != 2) abort();
        check(&protocol);
    }
    if (st == FR_OK && nul) {
        fuzz_write_file("pairs2.txt", nul + 1, size - first - 1, path, sizeof path);
        if (eval_protocol_read_pairs(path, DATA_DIR, &protocol, &view) == FR_OK) check(&protocol);
    }
    eval_protocol_free(&protocol);
    return 0;
}
