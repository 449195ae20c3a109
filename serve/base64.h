/* base64.h: base64 decoding of request fields (base64.c). */
#ifndef FR_SERVE_BASE64_H
#define FR_SERVE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Decode len characters; *out (free it) receives *out_size bytes. 0 if malformed or out of
 * memory. */
int base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_size);

#endif
