/* sha256.h: SHA-256 of a buffer (not installed): the gallery recognises a photo enrolled before
 * by it, and the evaluation cache keys each image file by it. */
#ifndef FR_COMMON_SHA256_H
#define FR_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256_digest(const void *data, size_t size, uint8_t digest[32]);

#endif
