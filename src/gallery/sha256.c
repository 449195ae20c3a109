/* sha256.c: the SHA-256 of a photo, to recognise a photo enrolled before. */
#include "gallery/gallery.h"

#include <stdlib.h>

fr_status fr_file_sha256(const char *path, uint8_t digest[32]) {
    if (!path || !digest) return fr_error(FR_E_ARG, "fr_file_sha256: NULL argument");
    uint8_t *data;
    size_t size;
    fr_status st = fr_read_file(path, FR_IMAGE_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    fr_sha256(data, size, digest);
    free(data);
    return FR_OK;
}
