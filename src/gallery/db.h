/* db.h: the gallery's database drivers. The store logic (store.c, keys.c, images.c,
 * threshold.c, search.c) is written once over this small interface; a driver (db_sqlite.c,
 * db_postgres.c) holds only what differs between the databases: connecting, the schema's DDL,
 * parameter binding and row reading, the error messages, the bulk read of the templates and
 * change notification.
 *
 * SQL given to db_query uses $1, $2, ... for its parameters (PostgreSQL's spelling; the SQLite
 * driver rewrites them as ?1, ?2, ...), and only what both databases understand (upserts with
 * ON CONFLICT, RETURNING). */
#ifndef FR_GALLERY_DB_H
#define FR_GALLERY_DB_H

#include "common/common.h"

#include <stddef.h>
#include <stdint.h>

/* meta 'format' and 'schema': what this facerec reads and writes */
#define GALLERY_FORMAT "facerec-gallery"
#define GALLERY_SCHEMA_VERSION 2

typedef enum db_type { DB_NULL, DB_INT, DB_REAL, DB_TEXT, DB_BLOB } db_type;

/* One query parameter (DB_NULL is a NULL text). Values are not copied: they must outlive the
 * query call. */
typedef struct db_value {
    db_type type;
    int64_t i;
    double r;
    const void *data; /* DB_TEXT: NUL-terminated; DB_BLOB: size bytes */
    size_t size;
} db_value;

static inline db_value db_int(int64_t i) { return (db_value){.type = DB_INT, .i = i}; }
static inline db_value db_real(double r) { return (db_value){.type = DB_REAL, .r = r}; }
static inline db_value db_text(const char *s) {
    return (db_value){.type = s ? DB_TEXT : DB_NULL, .data = s};
}
static inline db_value db_blob(const void *p, size_t n) {
    return (db_value){.type = DB_BLOB, .data = p, .size = n};
}

/* The rows of a query, read one at a time with db_step. */
typedef struct db_rows db_rows;

/* What a statement did besides its rows. */
typedef struct db_outcome {
    int64_t changes; /* rows inserted, updated or deleted */
    int constraint;  /* a UNIQUE, CHECK or foreign key constraint refused it (no error raised) */
} db_outcome;

/* Called for each template by the bulk read, in no particular order. */
typedef fr_status (*db_template_fn)(void *ctx, int64_t person_id, int64_t template_id,
                                    const void *embedding, size_t bytes);

typedef struct gallery_driver {
    const char *name; /* "sqlite", "postgresql" */
    /* Connect to g->location (and make the file with create); the schema is checked after. */
    fr_status (*open)(fr_gallery *g, int create);
    void (*close)(fr_gallery *g);
    /* Run sql with its parameters. rows NULL: the statement runs to the end. outcome NULL: a
     * constraint violation is an FR_E_DB error; else it is reported in outcome->constraint. */
    fr_status (*query)(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                       db_rows **rows, db_outcome *outcome, const char *what);
    /* The next row into the current one (*has_row = 0 at the end). */
    fr_status (*step)(db_rows *r, int *has_row);
    int64_t (*column_int)(db_rows *r, int column);
    double (*column_real)(db_rows *r, int column);
    const char *(*column_text)(db_rows *r, int column); /* "" for NULL */
    const void *(*column_blob)(db_rows *r, int column, size_t *size);
    void (*rows_free)(db_rows *r);
    /* Transactions: write = 1 takes the write lock at once (SQLite) ; write = 0 is a
     * consistent read snapshot. end commits if status is FR_OK and rolls back otherwise. */
    fr_status (*begin)(fr_gallery *g, int write, const char *what);
    fr_status (*end)(fr_gallery *g, fr_status status, const char *what);
    /* Make the schema in an empty database if create (in its own transaction, safe against
     * another process doing the same), and check there is a meta table; *exists = 0 when
     * the database is empty and create is 0. */
    fr_status (*prepare_schema)(fr_gallery *g, int create, int *exists);
    /* Bring a schema of an older version to the next one, inside the caller's write
     * transaction (the DDL differs between the databases; store.c walks the versions). */
    fr_status (*migrate)(fr_gallery *g, int from_version);
    /* Every template's person, id and embedding, as fast as the database can give them. */
    fr_status (*scan_templates)(fr_gallery *g, db_template_fn fn, void *ctx);
    /* SQL run before a change-log row is written, so that sequence numbers become visible in
     * their order (NULL: the write lock is already exclusive), and after it (NULL: none). */
    const char *lock_changes_sql;
    const char *notify_sql;
    /* Block until another connection may have changed the gallery or timeout_ms passed. */
    fr_status (*wait_changes)(fr_gallery *g, int timeout_ms);
    /* Whether search checks the change log itself before searching (a local, cheap read). */
    int refresh_on_search;
    /* After a removal or rename: make erased data unrecoverable from the files (or nothing). */
    void (*after_erase)(fr_gallery *g);
    /* The database's own integrity check. */
    fr_status (*check)(fr_gallery *g);
} gallery_driver;

extern const gallery_driver gallery_sqlite_driver;
#ifdef FACEREC_POSTGRES
extern const gallery_driver gallery_postgres_driver;
#endif

/* Shorthands over g->driver. */
fr_status db_query(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                   db_rows **rows, db_outcome *outcome, const char *what);
/* Run a statement without rows. */
fr_status db_exec(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                  db_outcome *outcome, const char *what);
fr_status db_step(fr_gallery *g, db_rows *r, int *has_row);
int64_t db_column_int(fr_gallery *g, db_rows *r, int column);
double db_column_real(fr_gallery *g, db_rows *r, int column);
const char *db_column_text(fr_gallery *g, db_rows *r, int column);
const void *db_column_blob(fr_gallery *g, db_rows *r, int column, size_t *size);
void db_rows_free(fr_gallery *g, db_rows *r);
/* One integer from a query's first row (FR_E_DB if it has none). */
fr_status db_query_int(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                       int64_t *out, const char *what);

#endif
