/* json_read.c: jansson's decoder with the project's flags and error convention. */
#include "common/json_read.h"

#include "common/common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

fr_status parse_json_text(const char *text, size_t len, const char *name, json_t **out) {
    *out = NULL;
    if (!name) name = "json";
    if (!text && len) return fr_error(FR_E_ARG, "%s: no text to parse", name);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    json_error_t err;
    json_t *root = json_loadb(text ? text : "", len, JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &err);
    if (!root) {
        enum json_error_code code = json_error_code(&err);
        fr_status st = code == json_error_out_of_memory    ? FR_E_NOMEM
                       : code == json_error_stack_overflow ? FR_E_LIMIT
                                                           : FR_E_FORMAT;
        return fr_error(st, "%s: line %d, column %d: %s", name, err.line, err.column, err.text);
    }
    *out = root;
    return FR_OK;
}

fr_status read_json_file(const char *path, json_t **out) {
    *out = NULL;
    uint8_t *data;
    size_t size;
    fr_status st = fr_read_file(path, JSON_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    st = parse_json_text((const char *)data, size, path, out);
    free(data);
    return st;
}
