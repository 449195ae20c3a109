/* fuzz_serve_base64.c: libFuzzer target for facerec serve's base64 decoder (images in JSON
 * requests). Any crash or sanitizer report is a bug; what decodes must re-encode to the
 * input's digits (after padding is dropped). */
#include "../../serve/base64.c"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *out;
    size_t n;
    if (!base64_decode((const char *)data, size, &out, &n)) return 0;
    size_t digits = size;
    while (digits > 0 && data[digits - 1] == '=') digits--;
    if (n != digits * 3 / 4) __builtin_trap();
    free(out);
    return 0;
}
