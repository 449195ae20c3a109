/* fuzz_calibration.c: libFuzzer target for the calibration text files (those shipped in
 * data/calibration, written by fr_calibration_export, read by src/gallery/threshold.c).
 * Each input is written to a file and read; an accepted file must satisfy what the reader
 * promises (quantile tables with increasing probabilities in (0, 1) and non-decreasing
 * distances).
 * Seeds: the hand-made files of make_seeds.py and the shipped ones (corpus/fuzz_calibration.sh).
 * fuzz.sh options: -runs=10000 -max_len=16384
 */
#include "fuzz_files.h"
#include "gallery/gallery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_table(const gallery_quantiles *q) {
    if (q->n < 2 || q->n > GALLERY_MAX_QUANTILES) abort();
    for (int i = 0; i < q->n; i++) {
        if (!(q->p[i] > 0 && q->p[i] < 1) || !(q->d[i] >= 0)) abort();
        if (i > 0 && (q->p[i] <= q->p[i - 1] || q->d[i] < q->d[i - 1])) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fuzz_write_file("fuzz-calibration.txt", data, size, path, sizeof path);
    gallery_calibration cal;
    if (gallery_read_calibration_file(path, &cal) != FR_OK) return 0;
    if (cal.dim < 1 || !memchr(cal.model, 0, sizeof cal.model) ||
        !memchr(cal.source, 0, sizeof cal.source))
        abort();
    check_table(&cal.genuine);
    check_table(&cal.impostor);
    return 0;
}
