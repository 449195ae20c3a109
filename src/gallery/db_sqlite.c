/* db_sqlite.c: the gallery in one SQLite file (WAL mode: readers keep working while one
 * process writes). */
#include "gallery/db.h"
#include "gallery/gallery.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a writer waits for another one before the database counts as locked. */
#define BUSY_TIMEOUT_MS 5000
/* How often wait_changes looks at the change log. */
#define POLL_MS 100

struct db_rows {
    fr_gallery *g;
    sqlite3_stmt *stmt;
    int pending; /* the first row was stepped to by query and not handed out yet */
    int done;
};

static sqlite3 *conn(const fr_gallery *g) { return (sqlite3 *)g->conn; }

/* A failed SQLite call as an fr_status naming the file and what was being done; locked and
 * corrupt files get their own clear message. */
static fr_status sqlite_error(const fr_gallery *g, int rc, const char *what) {
    const char *detail = conn(g) ? sqlite3_errmsg(conn(g)) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return fr_error(FR_E_DB,
                        "%s: the database is locked by another process (waited %d s) while %s",
                        g->path, BUSY_TIMEOUT_MS / 1000, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return fr_error(FR_E_DB, "%s: not a gallery database, or corrupt (%s) while %s", g->path,
                        detail, what);
    case SQLITE_NOMEM: return fr_error(FR_E_NOMEM, "%s: out of memory while %s", g->path, what);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return fr_error(FR_E_IO, "%s: %s while %s", g->path, detail, what);
    default: return fr_error(FR_E_DB, "%s: %s while %s", g->path, detail, what);
    }
}

/* Create the database file, readable and writable by its owner only, unless it exists.
 * SQLite gives its -wal and -shm files the database file's permissions. */
static fr_status create_private(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fr_error(FR_E_IO, "%s: cannot create the gallery: %s", path, strerror(errno));
    close(fd);
    return FR_OK;
}

static fr_status sqlite_open(fr_gallery *g, int create) {
    fr_status st = create ? create_private(g->location) : FR_OK;
    if (st != FR_OK) return st;
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(g->location, &db, SQLITE_OPEN_READWRITE, NULL);
    g->conn = db;
    if (rc != SQLITE_OK) return sqlite_error(g, rc, "opening the database");
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* FULL: a committed enrollment survives a power cut too, not only a crash;
     * secure_delete: removed templates are overwritten with zeros, whatever the default
     * of the system's SQLite build */
    rc = sqlite3_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON",
                      NULL, NULL, NULL);
    return rc == SQLITE_OK ? FR_OK : sqlite_error(g, rc, "configuring the connection");
}

static void sqlite_close(fr_gallery *g) {
    sqlite3_close(conn(g));
    g->conn = NULL;
}

/* The SQL with $N parameters spelled ?N (outside quoted text and names). */
static char *sqlite_spelling(const char *sql) {
    char *out = strdup(sql);
    if (!out) return NULL;
    char quote = 0;
    for (char *c = out; *c; c++) {
        if (quote) {
            if (*c == quote) quote = 0;
        } else if (*c == '\'' || *c == '"') {
            quote = *c;
        } else if (*c == '$' && c[1] >= '1' && c[1] <= '9') {
            *c = '?';
        }
    }
    return out;
}

static fr_status sqlite_query(fr_gallery *g, const char *sql, const db_value *params,
                              int n_params, db_rows **rows, db_outcome *outcome, const char *what) {
    if (rows) *rows = NULL;
    if (outcome) memset(outcome, 0, sizeof *outcome);
    if (n_params == 0 && !rows) { /* sqlite3_exec: runs several statements (the schema) */
        int rc = sqlite3_exec(conn(g), sql, NULL, NULL, NULL);
        if ((rc & 0xff) == SQLITE_CONSTRAINT && outcome) outcome->constraint = 1;
        else if (rc != SQLITE_OK) return sqlite_error(g, rc, what);
        if (outcome) outcome->changes = sqlite3_changes64(conn(g));
        return FR_OK;
    }
    char *text = sqlite_spelling(sql);
    if (!text) return fr_error(FR_E_NOMEM, "%s: out of memory while %s", g->path, what);
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(conn(g), text, -1, &stmt, NULL);
    free(text);
    if (rc != SQLITE_OK) return sqlite_error(g, rc, what);
    for (int i = 0; i < n_params && rc == SQLITE_OK; i++) {
        const db_value *v = &params[i];
        switch (v->type) {
        case DB_NULL: rc = sqlite3_bind_null(stmt, i + 1); break;
        case DB_INT: rc = sqlite3_bind_int64(stmt, i + 1, v->i); break;
        case DB_REAL: rc = sqlite3_bind_double(stmt, i + 1, v->r); break;
        case DB_TEXT: rc = sqlite3_bind_text(stmt, i + 1, v->data, -1, SQLITE_STATIC); break;
        case DB_BLOB:
            rc = sqlite3_bind_blob64(stmt, i + 1, v->size ? v->data : "", v->size, SQLITE_STATIC);
            break;
        }
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    while (!rows && rc == SQLITE_ROW) rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fr_status st = FR_OK;
        if ((rc & 0xff) == SQLITE_CONSTRAINT && outcome) outcome->constraint = 1;
        else st = sqlite_error(g, rc, what);
        sqlite3_finalize(stmt);
        return st;
    }
    if (outcome) outcome->changes = sqlite3_changes64(conn(g));
    if (!rows) {
        sqlite3_finalize(stmt);
        return FR_OK;
    }
    db_rows *r = calloc(1, sizeof *r);
    if (!r) {
        sqlite3_finalize(stmt);
        return fr_error(FR_E_NOMEM, "%s: out of memory while %s", g->path, what);
    }
    r->g = g;
    r->stmt = stmt;
    r->pending = rc == SQLITE_ROW;
    r->done = rc == SQLITE_DONE;
    *rows = r;
    return FR_OK;
}

static fr_status sqlite_step(db_rows *r, int *has_row) {
    *has_row = 0;
    if (r->pending) {
        r->pending = 0;
        *has_row = 1;
        return FR_OK;
    }
    if (r->done) return FR_OK;
    int rc = sqlite3_step(r->stmt);
    if (rc == SQLITE_ROW) {
        *has_row = 1;
        return FR_OK;
    }
    r->done = 1;
    return rc == SQLITE_DONE ? FR_OK : sqlite_error(r->g, rc, "reading rows");
}

static int64_t sqlite_column_int(db_rows *r, int column) {
    return sqlite3_column_int64(r->stmt, column);
}

static double sqlite_column_real(db_rows *r, int column) {
    return sqlite3_column_double(r->stmt, column);
}

static const char *sqlite_column_text(db_rows *r, int column) {
    const char *text = (const char *)sqlite3_column_text(r->stmt, column);
    return text ? text : "";
}

static const void *sqlite_column_blob(db_rows *r, int column, size_t *size) {
    const void *data = sqlite3_column_blob(r->stmt, column);
    *size = (size_t)sqlite3_column_bytes(r->stmt, column);
    return data;
}

static void sqlite_rows_free(db_rows *r) {
    if (!r) return;
    sqlite3_finalize(r->stmt);
    free(r);
}

static fr_status sqlite_begin(fr_gallery *g, int write, const char *what) {
    int rc = sqlite3_exec(conn(g), write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
    return rc == SQLITE_OK ? FR_OK : sqlite_error(g, rc, what);
}

static fr_status sqlite_end(fr_gallery *g, fr_status status, const char *what) {
    if (status != FR_OK) {
        sqlite3_exec(conn(g), "ROLLBACK", NULL, NULL, NULL);
        return status;
    }
    int rc = sqlite3_exec(conn(g), "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK) return FR_OK;
    status = sqlite_error(g, rc, what);
    sqlite3_exec(conn(g), "ROLLBACK", NULL, NULL, NULL);
    return status;
}

/* Schema version 1; gallery_migrate (store.c) brings it to the current version. */
static const char *schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  added INTEGER NOT NULL);"
    /* embedding: dim float32 values in the machine's (little-endian) order */
    "CREATE TABLE templates(id INTEGER PRIMARY KEY,"
    "  person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
    "  embedding BLOB NOT NULL, model TEXT NOT NULL, model_version TEXT NOT NULL,"
    "  source TEXT NOT NULL, sha256 BLOB NOT NULL UNIQUE,"
    "  x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,"
    "  quality REAL NOT NULL, added INTEGER NOT NULL);"
    "CREATE INDEX templates_person ON templates(person_id);"
    /* quantiles of the distances of same-person (genuine) and different-person (impostor)
     * pairs measured by calibration, for the bound model */
    "CREATE TABLE calibration(kind TEXT NOT NULL CHECK(kind IN ('genuine', 'impostor')),"
    "  p REAL NOT NULL, distance REAL NOT NULL, PRIMARY KEY(kind, p)) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES('format', '" GALLERY_FORMAT "'),"
    "  ('schema', '1'), ('created', CAST(strftime('%s', 'now') AS TEXT));";

/* Version 2: the API key and template image tables (made on first use by version 1, hence
 * IF NOT EXISTS), and the change log (AUTOINCREMENT: a sequence number is never reused, even
 * after old entries are deleted). */
static const char *schema_2_sql =
    "CREATE TABLE IF NOT EXISTS api_keys(id INTEGER PRIMARY KEY,"
    "  sha256 BLOB NOT NULL UNIQUE, role TEXT NOT NULL"
    "  CHECK(role IN ('recognize', 'admin')), label TEXT NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS template_images(template_id INTEGER PRIMARY KEY"
    "  REFERENCES templates(id) ON DELETE CASCADE, data BLOB NOT NULL);"
    "CREATE TABLE changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    "  person_id INTEGER NOT NULL, template_id INTEGER, at INTEGER NOT NULL);"
    "UPDATE meta SET value = '2' WHERE key = 'schema';";

static fr_status sqlite_prepare_schema(fr_gallery *g, int create, int *exists) {
    int64_t n_objects;
    *exists = 1;
    fr_status st = db_query_int(g, "SELECT count(*) FROM sqlite_master", NULL, 0, &n_objects,
                                "reading the schema");
    if (st != FR_OK) return st;
    if (n_objects == 0 && !create) { /* e.g. an empty file: reading commands leave it alone */
        *exists = 0;
        return FR_OK;
    }
    if (n_objects == 0) {
        /* WAL: readers keep working while a writer enrolls; the mode is stored in the file */
        st = gallery_exec(g, "PRAGMA journal_mode=WAL", "switching to write-ahead logging");
        if (st == FR_OK) st = gallery_begin(g, "creating the gallery");
        if (st != FR_OK) return st;
        /* another process may have created it meanwhile */
        st = db_query_int(g, "SELECT count(*) FROM sqlite_master", NULL, 0, &n_objects,
                          "reading the schema");
        if (st == FR_OK && n_objects == 0) st = gallery_exec(g, schema_sql, "creating the gallery");
        st = gallery_end(g, st, "creating the gallery");
        if (st != FR_OK) return st;
    }
    int64_t has_meta;
    st = db_query_int(g, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                      NULL, 0, &has_meta, "reading the schema");
    if (st == FR_OK && !has_meta)
        st = fr_error(FR_E_DB, "%s: an SQLite database, but not a facerec gallery", g->path);
    return st;
}

static fr_status sqlite_migrate(fr_gallery *g, int from_version) {
    if (from_version == 1) return gallery_exec(g, schema_2_sql, "upgrading the gallery's schema");
    return fr_error(FR_E_DB, "%s: corrupt gallery: schema version %d", g->path, from_version);
}

static fr_status sqlite_scan_templates(fr_gallery *g, db_template_fn fn, void *ctx) {
    db_rows *r;
    fr_status st = db_query(g, "SELECT person_id, embedding, id FROM templates", NULL, 0, &r,
                            NULL, "loading templates");
    int has_row = 1;
    while (st == FR_OK && (st = sqlite_step(r, &has_row)) == FR_OK && has_row) {
        sqlite3_stmt *stmt = r->stmt;
        st = fn(ctx, sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 2),
                sqlite3_column_blob(stmt, 1), (size_t)sqlite3_column_bytes(stmt, 1));
    }
    sqlite_rows_free(r);
    return st;
}

/* No notification between processes on a file: look at the change log now and then. */
static fr_status sqlite_wait_changes(fr_gallery *g, int timeout_ms) {
    int64_t seq;
    for (int waited = 0;; waited += POLL_MS) {
        fr_status st = gallery_last_change(g, &seq);
        if (st != FR_OK || seq != g->loaded_seq || waited >= timeout_ms) return st;
        int step = timeout_ms - waited < POLL_MS ? timeout_ms - waited : POLL_MS;
        poll(NULL, 0, step);
    }
}

/* secure_delete zeroed the freed space in the database pages, but the write-ahead log still
 * holds the old pages until a checkpoint copies them back. Checkpoint now and empty the log,
 * so the erased data is gone from both files (a reader in another process can delay this to
 * its own checkpoint; it is not an error). */
static void sqlite_after_erase(fr_gallery *g) {
    sqlite3_wal_checkpoint_v2(conn(g), NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

static fr_status sqlite_check(fr_gallery *g) {
    db_rows *r;
    fr_status st = db_query(g, "PRAGMA quick_check(1)", NULL, 0, &r, NULL, "checking the database");
    int has_row = 0;
    if (st == FR_OK) st = sqlite_step(r, &has_row);
    if (st == FR_OK) {
        const char *verdict = has_row ? sqlite_column_text(r, 0) : "no verdict";
        if (strcmp(verdict, "ok") != 0)
            st = fr_error(FR_E_DB, "%s: the database is damaged (%s)", g->path, verdict);
    }
    sqlite_rows_free(r);
    return st;
}

const gallery_driver gallery_sqlite_driver = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .query = sqlite_query,
    .step = sqlite_step,
    .column_int = sqlite_column_int,
    .column_real = sqlite_column_real,
    .column_text = sqlite_column_text,
    .column_blob = sqlite_column_blob,
    .rows_free = sqlite_rows_free,
    .begin = sqlite_begin,
    .end = sqlite_end,
    .prepare_schema = sqlite_prepare_schema,
    .migrate = sqlite_migrate,
    .scan_templates = sqlite_scan_templates,
    .lock_changes_sql = NULL,
    .notify_sql = NULL,
    .wait_changes = sqlite_wait_changes,
    .refresh_on_search = 1,
    .after_erase = sqlite_after_erase,
    .check = sqlite_check,
};
