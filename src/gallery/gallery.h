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
    /* every template in memory for search, grouped by person: person p owns rows
     * person_start[p] .. person_start[p+1]-1 of matrix (n_templates, dim) */
    int loaded;
    int64_t loaded_seq; /* the last change-log sequence number the loaded copy includes */
    float *matrix;
    float *sq_norms; /* (n_templates) */
    int64_t n_templates;
    int n_people;
    char **names;
    int64_t *person_start; /* (n_people + 1) */
    float *tile;           /* search scratch, kept between searches */
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
 * person person_id (and template template_id, else 0). Ids, not names: a removed person's
 * name must not outlive them in the log. */
fr_status gallery_log_change(fr_gallery *g, const char *kind, int64_t person_id,
                             int64_t template_id);
/* The newest change-log sequence number (0 while the log is empty). */
fr_status gallery_last_change(fr_gallery *g, int64_t *seq);
/* A text value of the meta table into out ("" if absent). */
fr_status gallery_meta_get(fr_gallery *g, const char *key, char *out, size_t out_size);
fr_status gallery_meta_set(fr_gallery *g, const char *key, const char *value);
/* Load the templates for search (each checked: its person, its length, finite values)
 * unless the copy in memory is still that of the database. */
fr_status gallery_ensure_loaded(fr_gallery *g);
/* Drop the in-memory templates (after this handle changed the database). */
void gallery_unload(fr_gallery *g);

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
