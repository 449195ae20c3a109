/* pgcopy.h: the reader of PostgreSQL's binary COPY stream of the templates (person_id int8,
 * id int8, embedding bytea), apart from libpq so that it can be fuzzed (tests/fuzz/fuzz_pgcopy.c). */
#ifndef FR_GALLERY_PGCOPY_H
#define FR_GALLERY_PGCOPY_H

#include "gallery/db.h"

typedef struct pgcopy_reader {
    const char *name; /* the gallery, for messages */
    db_template_fn fn;
    void *ctx;
    unsigned char *carry; /* bytes of an incomplete tuple */
    size_t carry_len, carry_cap;
    int header_done, ended;
} pgcopy_reader;

/* The next piece of the stream, in any size (a tuple may straddle pieces): fn is called for
 * each complete tuple. FR_E_DB if the stream is malformed. */
fr_status pgcopy_feed(pgcopy_reader *r, const unsigned char *data, size_t len);
/* At the end of the stream: FR_E_DB unless it ended with its trailer. */
fr_status pgcopy_finish(const pgcopy_reader *r);
/* The reader's memory (after the end, or an error). */
void pgcopy_free(pgcopy_reader *r);

#endif
