/* fuzz_image.c: libFuzzer target for the image decoders. Each input is an image file's bytes
 * given to fr_image_decode, which tells JPEG (with its EXIF orientation), PNG, GIF and
 * PPM/PGM apart by content. A decoded image must have the size it claims; refusals are
 * expected, crashes, sanitizer reports and leaks are bugs.
 * fuzz.sh options: -runs=30000 -max_len=16384
 */
#include "facerec.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fr_image *img;
    if (fr_image_decode(data, size, "fuzz-image", &img) != FR_OK) return 0;
    if (img->width < 1 || img->height < 1 ||
        (uint64_t)img->width * (uint64_t)img->height > FR_IMAGE_MAX_PIXELS)
        abort();
    /* touch the last pixel: the buffer must hold width * height * 3 bytes */
    volatile uint8_t last = img->rgb[(size_t)img->width * (size_t)img->height * 3 - 1];
    (void)last;
    fr_image_free(img);
    return 0;
}
