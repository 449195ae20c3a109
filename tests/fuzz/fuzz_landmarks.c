/* fuzz_landmarks.c: libFuzzer target for the landmarks reference file of `facerec eval
 * landmarks` (tools/eval/landmarks.c; written by `facerec eval relight`): per line an image's
 * path inside the set, then 68 points. Each input is written to a file and read; an accepted
 * file must hold what the reader promises (paths inside the set's folder, finite points of at
 * most 1e6).
 * fuzz.sh options: -runs=5000 -max_len=8192
 */
#include "fuzz_files.h"
#include "eval/eval.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fuzz_write_file("landmarks.tsv", data, size, path, sizeof path);
    eval_landmark_reference *refs;
    int n;
    if (eval_landmarks_read_references(path, &refs, &n) != FR_OK) return 0;
    if (n < 1) abort();
    for (int i = 0; i < n; i++) {
        const eval_landmark_reference *r = &refs[i];
        if (!memchr(r->file, 0, sizeof r->file) || !r->file[0] || r->file[0] == '/' ||
            strstr(r->file, ".."))
            abort();
        for (int k = 0; k < 68; k++)
            for (int c = 0; c < 2; c++)
                if (!isfinite(r->points[k][c]) || fabsf(r->points[k][c]) > 1e6f) abort();
    }
    free(refs);
    return 0;
}
