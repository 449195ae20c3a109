/* json.h: a small strict JSON reader (RFC 8259) for model manifests and test fixtures.
 * Depth and size are bounded; malformed input is an error with the offset of the problem. */
#ifndef FR_JSON_H
#define FR_JSON_H

#include "facerec.h"

#include <stddef.h>

typedef enum json_type {
    JSON_NULL = 0, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} json_type;

typedef struct json_value json_value;

/* Parse text[0..len). `name` (a file name) is used in error messages. */
fr_status json_parse(const char *text, size_t len, const char *name, json_value **out);
/* Read and parse a file. */
fr_status json_parse_file(const char *path, json_value **out);
void json_free(json_value *v);

json_type json_kind(const json_value *v);
/* Member of an object (NULL if v is not an object or has no such key). */
const json_value *json_get(const json_value *v, const char *key);
/* Number of elements of an array or members of an object (0 otherwise). */
size_t json_len(const json_value *v);
/* Element i of an array, or the value of member i of an object (NULL if out of range). */
const json_value *json_at(const json_value *v, size_t i);
/* Key of member i of an object (NULL if out of range). */
const char *json_key_at(const json_value *v, size_t i);
/* Scalars; each returns 0 / NULL if v is NULL or of another type. */
double json_number(const json_value *v);
int json_bool(const json_value *v);
const char *json_string(const json_value *v); /* NUL-terminated, UTF-8 */

#endif
