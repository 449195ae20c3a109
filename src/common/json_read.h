/* json_read.h: reading JSON documents (model manifests, test fixtures) with jansson, the
 * project's one JSON library, under the library's error convention. Read the result with
 * jansson's own accessors (json_object_get, json_array_get, json_number_value, ...), which
 * give NULL / 0 on a missing member or a value of another type; release it with json_decref.
 *
 * Every document is read the same way:
 *   - every number is decoded as a double (JSON_DECODE_INT_AS_REAL), with strtod's correct
 *     rounding, so an integer past 2^63 is read like any other number rather than refused;
 *   - duplicate keys are allowed and the last one wins (as JavaScript's JSON.parse does);
 *   - "\u0000" is refused (strings are handed out NUL-terminated), and so is invalid UTF-8;
 *   - a leading UTF-8 byte order mark is skipped;
 *   - the whole text must be one value, of any type (trailing data is refused);
 *   - nesting is bounded by jansson (2048 levels; deeper is FR_E_LIMIT). */
#ifndef FR_JSON_READ_H
#define FR_JSON_READ_H

#include "facerec.h"

#include <jansson.h>
#include <stddef.h>

/* Parse text[0..len). `name` (a file name or a description) starts the error message, which
 * then gives the line and column of the problem. */
fr_status parse_json_text(const char *text, size_t len, const char *name, json_t **out);
/* Read and parse a file (at most JSON_MAX_FILE_BYTES). */
fr_status read_json_file(const char *path, json_t **out);

#define JSON_MAX_FILE_BYTES ((size_t)64 << 20)

#endif
