/* sha256.c: SHA-256 through OpenSSL's libcrypto, of a buffer and of a file (a photo, to
 * recognise one enrolled before). */
#include "common/common.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void fr_sha256(const void *data, size_t size, uint8_t digest[32]) {
    unsigned int length = 32;
    /* EVP_Digest fails only when out of memory for its context; the digest is then zeros,
     * which no pin and no enrolled file has */
    if (!EVP_Digest(data, size, digest, &length, EVP_sha256(), NULL)) memset(digest, 0, 32);
}

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
