/* gallery.h: internals shared by the gallery's files (store, search, thresholds). */
#ifndef FR_GALLERY_H
#define FR_GALLERY_H

#include "common/common.h"

struct gallery_driver;

struct fr_gallery {
    const struct gallery_driver *driver;
    void *conn;     /* the driver's connection */
    char *location; /* what was opened: a file, or a connection URI (may hold a password) */
    char *path;     /* the name messages give: the file, or the URI without its password */
    /* the bound model, read from the database ("" and 0 while none) */
    char model[64];
    char model_version[32];
    int dim;
    /* every template in memory for search (index.c; NULL until the first search loads it) */
    struct gallery_index *index;
    int64_t loaded_seq; /* the last change-log sequence number the index includes */
    /* the people the index has known, by id (sorted), with their names as the index has
     * them: a change log entry names a person by id, the index by name */
    int64_t *person_ids;
    char **person_names;
    int n_person_ids, person_ids_cap;
    int threads; /* for search and indexing (0: nn_default_threads()); results do not depend on it */
};

/* Whether a gallery location names a PostgreSQL database (postgresql:// or postgres://). */
int gallery_is_postgres_uri(const char *location);
/* Run SQL without parameters or results. */
fr_status gallery_exec(fr_gallery *g, const char *sql, const char *what);
/* A write transaction (SQLite: BEGIN IMMEDIATE, waiting for other writers up to the busy
 * timeout); gallery_read_begin a consistent read snapshot. gallery_end commits if status is
 * FR_OK and rolls back otherwise, returning the outcome. */
fr_status gallery_begin(fr_gallery *g, const char *what);
fr_status gallery_read_begin(fr_gallery *g, const char *what);
fr_status gallery_end(fr_gallery *g, fr_status status, const char *what);
/* Record a change of the people or templates in the change log, inside the caller's write
 * transaction: kind "enroll", "remove", "rename", "remove_template" or "add_person", of
 * person person_id (and template template_id, else 0), or "copy" (person 0: a whole gallery
 * copied in, read everything again). Ids, not names: a removed person's
 * name must not outlive them in the log. *seq (if not NULL) gets the change's sequence
 * number and *previous that of the change before it (0 if none): the caller's in-place
 * update of the index catches it up to *seq when *previous is where it was. */
fr_status gallery_log_change(fr_gallery *g, const char *kind, int64_t person_id,
                             int64_t template_id, int64_t *seq, int64_t *previous);
/* After this handle committed change `seq` (logged after `previous`) and updated the index in
 * place: the index now includes it, unless other connections' changes came between (those,
 * and this one again, are then applied by the next refresh). */
void gallery_own_change_done(fr_gallery *g, int64_t seq, int64_t previous);
/* The people the index knows by id (changes.c): person `id` is now called `name` (0 if out
 * of memory: the caller drops the index), or is gone. */
int gallery_person_set(fr_gallery *g, int64_t id, const char *name);
void gallery_person_forget(fr_gallery *g, int64_t id);
void gallery_people_clear(fr_gallery *g);
/* Apply the change log since the index's position (changes.c): *n_applied (if not NULL)
 * counts the changes applied. Loads the index if it is not loaded. */
fr_status gallery_catch_up(fr_gallery *g, int64_t *n_applied);
/* Check one stored template as read (its length, finite values) into row (g->dim floats). */
fr_status gallery_check_template(fr_gallery *g, int64_t template_id, const char *person,
                                 const void *embedding, size_t bytes, float *row);
/* The change log keeps the newest this many changes (a handle further behind reads everything
 * again). */
#define GALLERY_CHANGES_KEPT 100000
/* The newest change-log sequence number (0 while the log is empty). */
fr_status gallery_last_change(fr_gallery *g, int64_t *seq);
/* A text value of the meta table into out ("" if absent). */
fr_status gallery_meta_get(fr_gallery *g, const char *key, char *out, size_t out_size);
fr_status gallery_meta_set(fr_gallery *g, const char *key, const char *value);
/* Load the templates for search (each checked: its person, its length, finite values)
 * unless the index is loaded (and, where the driver has search look at the change log, up to
 * date: changes made elsewhere are applied to it) (search.c). */
fr_status gallery_ensure_loaded(fr_gallery *g);
/* Read every template again into a new index, from one snapshot (search.c). */
fr_status gallery_load(fr_gallery *g);
/* Drop the in-memory index: the next search loads it again. */
void gallery_unload(fr_gallery *g);

/* ---- the in-memory index (index.c) ----------------------------------------------------------
 * Changes of the gallery update the loaded index in place, so that a search after them needs
 * no reload. Whoever changes the stored gallery calls these AFTER the change is committed:
 * store.c for its own changes, changes.c for those other connections made (read from the
 * change log), or gallery_unload to have everything read again. Each one does
 * nothing when no index is loaded, and a person unknown to the index is ignored. They never
 * fail: if memory runs out they drop the index (gallery_unload), and the next search loads it
 * from the database. People are named as in the database (names are unique); rows are
 * n * g->dim finite floats (checked by the caller), template_ids the stored templates' ids. */
typedef struct gallery_index gallery_index;
/* Person `person` (created in the index if new) gained templates template_ids[0..n). */
void gallery_index_add(fr_gallery *g, const char *person, const int64_t *template_ids,
                       const float *rows, int n);
/* Person `person` and all their templates were removed. */
void gallery_index_remove_person(fr_gallery *g, const char *person);
/* Person `old_name` is now called `new_name` (a name not in use). */
void gallery_index_rename_person(fr_gallery *g, const char *old_name, const char *new_name);
/* Template `template_id` was removed (its person leaves the search with their last one). */
void gallery_index_remove_template(fr_gallery *g, int64_t template_id);

/* Loading (search.c): start an empty index with room for n_rows, give it every template
 * (consecutive calls for one person may pass the same name pointer), then finish: the plan of
 * the codes is made from all of them. */
fr_status gallery_index_start_load(fr_gallery *g, int64_t n_rows);
fr_status gallery_index_load_rows(fr_gallery *g, const char *person, const int64_t *template_ids,
                                  const float *rows, int n);
fr_status gallery_index_finish_load(fr_gallery *g);
/* The exact k nearest people of each probe over the loaded index (fr_gallery_search's
 * contract); *examined (if not NULL) counts the rows whose float32 distance was computed. */
fr_status gallery_index_search(fr_gallery *g, const float *probes, int n_probes, int k,
                               fr_match *matches, int *n_found, int64_t *examined);
/* For the bench and tests: the templates in the index, the memory each takes (float32 row,
 * codes and their per-row figures, ids), the dimensions the scan's first pass codes, and the
 * bytes it reads per template. */
int64_t gallery_index_templates(const fr_gallery *g);
size_t gallery_index_bytes_per_template(const fr_gallery *g);
int gallery_index_prefix(const fr_gallery *g);
size_t gallery_index_first_pass_bytes(const fr_gallery *g); /* streamed per template and probe */
/* For tests: both passes' lower bounds of every row against its float32 distance to probe:
 * *violations counts the bounds above the distance (0 if the proof holds), *tightest is the
 * smallest (distance - second bound) / distance (how close the bound came). */
fr_status gallery_index_check_bounds(fr_gallery *g, const float *probe, int64_t *violations,
                                     double *tightest);

/* A calibration (threshold.c): both distance distributions as quantiles, with the pair
 * counts they came from. */
#define GALLERY_MAX_QUANTILES 300
typedef struct gallery_quantiles {
    double p[GALLERY_MAX_QUANTILES]; /* increasing probabilities in (0, 1) */
    float d[GALLERY_MAX_QUANTILES];  /* the distance below which a share p of the pairs lies */
    int n;
} gallery_quantiles;

typedef struct gallery_calibration {
    char model[64];
    int dim;
    char source[256];
    int64_t n_genuine_pairs, n_impostor_pairs;
    gallery_quantiles genuine, impostor;
} gallery_calibration;

/* Read a calibration file written by fr_calibration_export(): FR_E_FORMAT naming the file and
 * line if it is malformed or truncated. */
fr_status gallery_read_calibration_file(const char *path, gallery_calibration *out);

#endif
