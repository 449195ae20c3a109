/* sha256.c: SHA-256 through OpenSSL's libcrypto. */
#include "common/common.h"

#include <openssl/evp.h>
#include <string.h>

void fr_sha256(const void *data, size_t size, uint8_t digest[32]) {
    unsigned int length = 32;
    /* EVP_Digest fails only when out of memory for its context; the digest is then zeros,
     * which no pin and no enrolled file has */
    if (!EVP_Digest(data, size, digest, &length, EVP_sha256(), NULL)) memset(digest, 0, 32);
}
