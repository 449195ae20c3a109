/* fuzz_json.c: libFuzzer target for the JSON reading path every reader shares
 * (common/json_read.h: jansson with the project's flags and error convention). The parsed
 * document is walked whole with the accessors the readers use, so a malformed tree (a NULL
 * where a value must be, a string without its terminator) would show.
 * fuzz.sh options: -runs=100000 -max_len=4096
 */
#include "common/json_read.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sums string lengths and numbers so the walk cannot be optimised away. */
static double walk(const json_t *v, int depth) {
    if (!v || depth > 4096) abort();
    double sum = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member) {
            if (json_object_get(v, key) != member) abort(); /* the last duplicate is kept */
            sum += (double)strlen(key) + walk(member, depth + 1);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            sum += walk(json_array_get(v, i), depth + 1);
    } else if (json_is_string(v)) {
        if (strlen(json_string_value(v)) != json_string_length(v)) abort(); /* no NUL inside */
        sum += (double)json_string_length(v);
    } else if (json_is_number(v)) {
        if (!json_is_real(v)) abort(); /* every number is decoded as a double */
        sum += json_number_value(v);
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *doc;
    if (parse_json_text((const char *)data, size, "fuzz.json", &doc) != FR_OK) return 0;
    volatile double sum = walk(doc, 0);
    (void)sum;
    json_decref(doc);
    return 0;
}
