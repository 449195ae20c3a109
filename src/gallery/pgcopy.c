/* pgcopy.c: PostgreSQL's binary COPY format ("PGCOPY\n\377\r\n\0", int32 flags, int32 header
 * extension length and the extension, then tuples: int16 field count and, per field, an
 * int32 length (-1: NULL) and the bytes; an int16 -1 ends it; all big-endian), parsed as it
 * arrives. The stream comes from the network: every length is checked. */
#include "gallery/pgcopy.h"

#include <stdlib.h>
#include <string.h>

#define FIELDS 3
#define MAX_EXTENSION (1u << 20)

static uint64_t get_be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Parse the complete tuples data[0..len) holds; *used is how many bytes they took. */
static fr_status parse(pgcopy_reader *r, const unsigned char *data, size_t len, size_t *used) {
    static const unsigned char signature[11] = "PGCOPY\n\377\r\n";
    size_t at = 0;
    *used = 0;
    if (!r->header_done) {
        if (len < 19) return FR_OK;
        if (memcmp(data, signature, 11) != 0)
            return fr_error(FR_E_DB, "%s: the database sent no binary COPY data", r->name);
        uint64_t extension = get_be(data + 15, 4);
        if (extension > MAX_EXTENSION) return fr_error(FR_E_DB, "%s: malformed COPY header", r->name);
        if (len < 19 + extension) return FR_OK;
        at = 19 + (size_t)extension;
        r->header_done = 1;
    }
    while (len - at >= 2) {
        if (r->ended) return fr_error(FR_E_DB, "%s: data after the end of the COPY", r->name);
        int fields = (int16_t)get_be(data + at, 2);
        if (fields == -1) {
            r->ended = 1;
            at += 2;
            continue;
        }
        if (fields != FIELDS) return fr_error(FR_E_DB, "%s: malformed COPY tuple", r->name);
        size_t p = at + 2;
        const unsigned char *value[FIELDS];
        size_t size[FIELDS];
        int complete = 1;
        for (int f = 0; f < FIELDS && complete; f++) {
            if (len - p < 4) {
                complete = 0;
                break;
            }
            int32_t n = (int32_t)get_be(data + p, 4);
            if (n < 0) return fr_error(FR_E_DB, "%s: a NULL in the templates", r->name);
            p += 4;
            if (len - p < (size_t)n) {
                complete = 0;
                break;
            }
            value[f] = data + p;
            size[f] = (size_t)n;
            p += (size_t)n;
        }
        if (!complete) break;
        if (size[0] != 8 || size[1] != 8) return fr_error(FR_E_DB, "%s: malformed COPY tuple", r->name);
        fr_status st = r->fn(r->ctx, (int64_t)get_be(value[0], 8), (int64_t)get_be(value[1], 8),
                             value[2], size[2]);
        if (st != FR_OK) return st;
        at = p;
    }
    *used = at;
    return FR_OK;
}

fr_status pgcopy_feed(pgcopy_reader *r, const unsigned char *data, size_t len) {
    size_t used;
    if (!r->carry_len) { /* most tuples arrive whole: no copy */
        fr_status st = parse(r, data, len, &used);
        if (st != FR_OK) return st;
        data += used;
        len -= used;
        if (!len) return FR_OK;
    }
    if (r->carry_len + len > r->carry_cap) {
        size_t cap = (r->carry_len + len) * 2;
        unsigned char *grown = realloc(r->carry, cap);
        if (!grown) return fr_error(FR_E_NOMEM, "%s: out of memory loading templates", r->name);
        r->carry = grown;
        r->carry_cap = cap;
    }
    memcpy(r->carry + r->carry_len, data, len);
    r->carry_len += len;
    fr_status st = parse(r, r->carry, r->carry_len, &used);
    if (st != FR_OK) return st;
    memmove(r->carry, r->carry + used, r->carry_len - used);
    r->carry_len -= used;
    return FR_OK;
}

fr_status pgcopy_finish(const pgcopy_reader *r) {
    return r->ended && !r->carry_len
               ? FR_OK
               : fr_error(FR_E_DB, "%s: the templates' COPY data ended early", r->name);
}

void pgcopy_free(pgcopy_reader *r) {
    free(r->carry);
    r->carry = NULL;
    r->carry_len = r->carry_cap = 0;
}
