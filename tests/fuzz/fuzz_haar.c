/* fuzz_haar.c: libFuzzer target for the Haar cascade reader (expat's parse and our reading of
 * OpenCV's cascade layout). A cascade that is accepted is also run over a small grey image,
 * so that a hostile but accepted cascade (feature rectangles, tree links, window size) is
 * checked by the sanitizers during detection too.
 * fuzz.sh options: -runs=20000 -max_len=16384
 */
#include "face/haar.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    haar_cascade *c;
    if (haar_parse((const char *)data, size, "fuzz.xml", &c) != FR_OK) return 0;
    enum { W = 64, H = 48 };
    static uint8_t gray[W * H];
    for (int i = 0; i < W * H; i++) gray[i] = (uint8_t)((i * 37 + (i / W) * 11) ^ (i >> 3));
    haar_options opt = {HAAR_DEFAULT_SCALE_FACTOR, 1, 0, 0}; /* grouping runs too */
    haar_box *boxes = NULL;
    int n = 0;
    if (haar_detect_gray(c, 1, gray, W, H, &opt, &boxes, &n) == FR_OK) free(boxes);
    haar_free(c);
    return 0;
}
