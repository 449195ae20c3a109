/* base64.c: RFC 4648 base64 (either alphabet, padding optional, nothing else allowed), for
 * images sent in JSON. No dependency but libc, so tests/fuzz/fuzz_serve_base64.c builds it. */
#include "base64.h"

#include <stdlib.h>

/* The value of a base64 digit (either alphabet), -1 for anything else. */
static int base64_digit(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_size) {
    while (len > 0 && text[len - 1] == '=') len--;
    if (len % 4 == 1) return 0;
    uint8_t *bytes = malloc(len / 4 * 3 + 3);
    if (!bytes) return 0;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = base64_digit((unsigned char)text[i]);
        if (v < 0) {
            free(bytes);
            return 0;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out = bytes;
    *out_size = n;
    return 1;
}
