/* store.c: the gallery database: opening (schema, WAL, errors), the model it is bound to,
 * enrollment in one transaction per batch, and listing, renaming and removing people and
 * their templates. */
#include "gallery/gallery.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GALLERY_FORMAT "facerec-gallery"
#define GALLERY_SCHEMA "1"
/* How long a writer waits for another one before the database counts as locked. */
#define BUSY_TIMEOUT_MS 5000
#define MAX_NAME_BYTES 255

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
    "  ('schema', '" GALLERY_SCHEMA "'), ('created', CAST(strftime('%s', 'now') AS TEXT));";

fr_status gallery_db_error(const fr_gallery *g, int rc, const char *what) {
    const char *detail = g->db ? sqlite3_errmsg(g->db) : sqlite3_errstr(rc);
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

fr_status gallery_exec(fr_gallery *g, const char *sql, const char *what) {
    int rc = sqlite3_exec(g->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FR_OK : gallery_db_error(g, rc, what);
}

fr_status gallery_prepare(fr_gallery *g, const char *sql, sqlite3_stmt **stmt) {
    int rc = sqlite3_prepare_v2(g->db, sql, -1, stmt, NULL);
    return rc == SQLITE_OK ? FR_OK : gallery_db_error(g, rc, "preparing a query");
}

fr_status gallery_begin(fr_gallery *g, const char *what) {
    return gallery_exec(g, "BEGIN IMMEDIATE", what);
}

fr_status gallery_end(fr_gallery *g, fr_status status, const char *what) {
    if (status != FR_OK) {
        sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
        return status;
    }
    int rc = sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK) return FR_OK;
    status = gallery_db_error(g, rc, what);
    sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
    return status;
}

fr_status gallery_meta_get(fr_gallery *g, const char *key, char *out, size_t out_size) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "SELECT value FROM meta WHERE key = ?", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    out[0] = '\0';
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *value = (const char *)sqlite3_column_text(stmt, 0); /* NULL for a NULL */
        snprintf(out, out_size, "%s", value ? value : "");
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, "reading the gallery's settings");
    sqlite3_finalize(stmt);
    return st;
}

fr_status gallery_meta_set(fr_gallery *g, const char *key, const char *value) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, "writing the gallery's settings");
    sqlite3_finalize(stmt);
    return st;
}

/* A single integer from a query with no parameters. */
static fr_status query_int(fr_gallery *g, const char *sql, const char *what, int64_t *out) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, sql, &stmt);
    if (st != FR_OK) return st;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(stmt, 0);
    else st = gallery_db_error(g, rc, what);
    sqlite3_finalize(stmt);
    return st;
}

/* Read the bound model (if any) from meta into the handle. */
static fr_status read_model(fr_gallery *g) {
    char dim[32];
    fr_status st = gallery_meta_get(g, "model", g->model, sizeof g->model);
    if (st == FR_OK) st = gallery_meta_get(g, "model_version", g->model_version, sizeof g->model_version);
    if (st == FR_OK) st = gallery_meta_get(g, "dim", dim, sizeof dim);
    if (st != FR_OK) return st;
    if (!g->model[0]) {
        g->dim = 0;
        return FR_OK;
    }
    /* the whole text must be the number: atoi would read "4294967304" as 8 (a longer text
     * than the buffer is cut short, and then not a number in range either) */
    char *end;
    errno = 0;
    long value = strtol(dim, &end, 10);
    if (errno || end == dim || *end || value < 1 || value > FR_MAX_EMBEDDING || strlen(dim) > 16)
        return fr_error(FR_E_DB, "%s: corrupt gallery: embedding length '%s'", g->path, dim);
    g->dim = (int)value;
    return FR_OK;
}

/* Make the tables of a new, empty database (if create), or check that an existing one is a
 * gallery. */
static fr_status prepare_schema(fr_gallery *g, int create) {
    int64_t n_objects;
    fr_status st = query_int(g, "SELECT count(*) FROM sqlite_master", "reading the schema", &n_objects);
    if (st != FR_OK) return st;
    if (n_objects == 0 && !create) /* e.g. an empty file: reading commands leave it alone */
        return fr_error(FR_E_DB, "%s: an empty file, not a gallery (enroll someone to make one)",
                        g->path);
    if (n_objects == 0) {
        /* WAL: readers keep working while a writer enrolls; the mode is stored in the file */
        st = gallery_exec(g, "PRAGMA journal_mode=WAL", "switching to write-ahead logging");
        if (st == FR_OK) st = gallery_begin(g, "creating the gallery");
        if (st != FR_OK) return st;
        /* another process may have created it meanwhile */
        st = query_int(g, "SELECT count(*) FROM sqlite_master", "reading the schema", &n_objects);
        if (st == FR_OK && n_objects == 0) st = gallery_exec(g, schema_sql, "creating the gallery");
        st = gallery_end(g, st, "creating the gallery");
        if (st != FR_OK) return st;
    }
    int64_t has_meta;
    st = query_int(g, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                   "reading the schema", &has_meta);
    if (st != FR_OK) return st;
    char format[32] = "", schema[16] = "";
    if (has_meta) st = gallery_meta_get(g, "format", format, sizeof format);
    if (st == FR_OK && has_meta) st = gallery_meta_get(g, "schema", schema, sizeof schema);
    if (st != FR_OK) return st;
    if (strcmp(format, GALLERY_FORMAT) != 0)
        return fr_error(FR_E_DB, "%s: an SQLite database, but not a facerec gallery", g->path);
    if (strcmp(schema, GALLERY_SCHEMA) != 0)
        return fr_error(FR_E_DB, "%s: gallery schema version %s, this facerec reads version %s",
                        g->path, schema, GALLERY_SCHEMA);
    return read_model(g);
}

const char *fr_gallery_default_path(void) {
    const char *env = getenv("FACEREC_DB");
    return env && *env ? env : "facerec.db";
}

/* Create the database file, readable and writable by its owner only, unless it exists.
 * SQLite gives its -wal and -shm files the database file's permissions. */
static fr_status create_private(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return fr_error(FR_E_IO, "%s: cannot create the gallery: %s", path, strerror(errno));
    close(fd);
    return FR_OK;
}

fr_status fr_gallery_open(const char *path, int create, fr_gallery **out) {
    if (!out) return fr_error(FR_E_ARG, "fr_gallery_open: NULL output");
    *out = NULL;
    if (!path) path = fr_gallery_default_path();
    struct stat sb;
    if (!create && stat(path, &sb) != 0)
        return fr_error(FR_E_NOT_FOUND, "%s: no gallery database there (enroll someone first)", path);
    fr_gallery *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        return fr_error(FR_E_NOMEM, "%s: out of memory opening the gallery", path);
    }
    fr_status st = create ? create_private(g->path) : FR_OK;
    int rc = st == FR_OK ? sqlite3_open_v2(path, &g->db, SQLITE_OPEN_READWRITE, NULL) : SQLITE_OK;
    if (rc != SQLITE_OK) st = gallery_db_error(g, rc, "opening the database");
    if (st == FR_OK) {
        sqlite3_busy_timeout(g->db, BUSY_TIMEOUT_MS);
        /* FULL: a committed enrollment survives a power cut too, not only a crash;
         * secure_delete: removed templates are overwritten with zeros, whatever the default
         * of the system's SQLite build */
        st = gallery_exec(g, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"
                          " PRAGMA secure_delete=ON", "configuring the connection");
    }
    if (st == FR_OK) st = prepare_schema(g, create);
    if (st != FR_OK) {
        fr_gallery_close(g);
        return st;
    }
    *out = g;
    return FR_OK;
}

void fr_gallery_close(fr_gallery *g) {
    if (!g) return;
    gallery_unload(g);
    sqlite3_close(g->db);
    free(g->path);
    free(g);
}

const char *fr_gallery_path(const fr_gallery *g) { return g ? g->path : ""; }

/* Library versions whose embeddings of a model differ from those of every earlier version:
 * templates made before then cannot be compared with new probes. */
static const struct {
    const char *model, *since;
} embedding_changes[] = {
    {"dlib-resnet", "0.2.0"}, /* normalised to unit length */
    {"fusion", "0.3.0"},      /* members weighted 0.12 / 0.88, not 0.3 / 0.7 */
};

/* a < b for "MAJOR.MINOR.PATCH" versions */
static int version_before(const char *a, const char *b) {
    int va[3] = {0}, vb[3] = {0};
    sscanf(a, "%d.%d.%d", &va[0], &va[1], &va[2]);
    sscanf(b, "%d.%d.%d", &vb[0], &vb[1], &vb[2]);
    for (int i = 0; i < 3; i++)
        if (va[i] != vb[i]) return va[i] < vb[i];
    return 0;
}

fr_status fr_gallery_use_model(fr_gallery *g, const char *model, const char *model_version,
                               int dim) {
    if (!g || !model || !*model || !model_version)
        return fr_error(FR_E_ARG, "fr_gallery_use_model: missing gallery or model name");
    if (strlen(model) >= sizeof g->model || strlen(model_version) >= sizeof g->model_version)
        return fr_error(FR_E_ARG, "%s: model name or version too long", model);
    if (dim < 1 || dim > FR_MAX_EMBEDDING)
        return fr_error(FR_E_ARG, "%s: embedding length %d out of range", model, dim);
    if (!g->model[0]) {
        fr_status st = gallery_begin(g, "recording the model");
        /* another process may have bound it since we opened */
        if (st == FR_OK) st = read_model(g);
        if (st == FR_OK && !g->model[0]) {
            char dim_text[16];
            snprintf(dim_text, sizeof dim_text, "%d", dim);
            st = gallery_meta_set(g, "model", model);
            if (st == FR_OK) st = gallery_meta_set(g, "model_version", model_version);
            if (st == FR_OK) st = gallery_meta_set(g, "dim", dim_text);
        }
        st = gallery_end(g, st, "recording the model");
        if (st == FR_OK) st = read_model(g);
        if (st != FR_OK) return st;
    }
    if (strcmp(g->model, model) != 0 || g->dim != dim)
        return fr_error(FR_E_MISMATCH,
                        "%s: this gallery holds embeddings of model '%s' (length %d), not of '%s' "
                        "(length %d): use model '%s' with it, or another gallery",
                        g->path, g->model, g->dim, model, dim, g->model);
    for (size_t i = 0; i < sizeof embedding_changes / sizeof embedding_changes[0]; i++)
        if (!strcmp(embedding_changes[i].model, g->model) &&
            version_before(g->model_version, embedding_changes[i].since) &&
            !version_before(model_version, embedding_changes[i].since))
            return fr_error(FR_E_MISMATCH,
                            "%s: its %s templates were made by version %s, whose embeddings "
                            "version %s changed: enroll the people again in a new gallery",
                            g->path, g->model, g->model_version, embedding_changes[i].since);
    if (strcmp(g->model_version, model_version) != 0)
        fr_log(FR_LOG_INFO, "%s: made by %s version %s, now used with version %s", g->path,
               g->model, g->model_version, model_version);
    return FR_OK;
}

/* Names the output of identify and watch gives to faces of no one enrolled: no person may
 * bear them (compared ignoring ASCII case). */
static const char *const reserved_names[] = {"unknown", "no_faces", "spoof"};

/* The code point of the UTF-8 sequence at s (of at most n bytes), its length in *len; -1 if it
 * is not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included). */
static long utf8_decode(const unsigned char *s, size_t n, size_t *len) {
    static const long min_value[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t need = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
                : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!need || need > n) return -1;
    long c = need == 1 ? s[0] : s[0] & (0x7F >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min_value[need] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    *len = need;
    return c;
}

/* Characters that would change how the rest of a line displays: C0 and C1 controls, and the
 * bidirectional marks, embeddings, overrides and isolates (U+202E turns text around). */
static int is_control_or_bidi(long c) {
    return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

static fr_status check_name(const char *name) {
    if (!name || !*name) return fr_error(FR_E_ARG, "a person's name must not be empty");
    size_t len = strlen(name);
    if (len > MAX_NAME_BYTES)
        return fr_error(FR_E_ARG, "a name is at most %d bytes (this one has %zu)", MAX_NAME_BYTES,
                        len);
    /* the name itself is not echoed in these messages: it may be what garbles a terminal */
    for (size_t i = 0, n; i < len; i += n) {
        long c = utf8_decode((const unsigned char *)name + i, len - i, &n);
        if (c < 0)
            return fr_error(FR_E_ARG, "a name must be valid UTF-8 (byte %zu of the name is not)",
                            i + 1);
        if (is_control_or_bidi(c))
            return fr_error(FR_E_ARG, "a name must not hold control or text-direction characters "
                            "(U+%04lX at byte %zu)", (unsigned long)c, i + 1);
    }
    for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
        if (!strcasecmp(name, reserved_names[i]))
            return fr_error(FR_E_ARG, "'%s' is reserved: identify prints it for faces of no one "
                            "enrolled", name);
    return FR_OK;
}

fr_status fr_gallery_find_source(fr_gallery *g, const uint8_t sha256[32], int *found,
                                 char *name, size_t name_size) {
    if (!g || !sha256 || !found) return fr_error(FR_E_ARG, "fr_gallery_find_source: NULL argument");
    *found = 0;
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g,
                                   "SELECT p.name FROM templates t JOIN people p ON p.id = t.person_id"
                                   " WHERE t.sha256 = ?",
                                   &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_blob(stmt, 1, sha256, 32, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *found = 1;
        if (name && name_size) snprintf(name, name_size, "%s", (const char *)sqlite3_column_text(stmt, 0));
    } else if (rc != SQLITE_DONE) {
        st = gallery_db_error(g, rc, "looking up a source file");
    }
    sqlite3_finalize(stmt);
    return st;
}

/* The id of person `name`, created if new (inside the caller's transaction). */
static fr_status person_id(fr_gallery *g, const char *name, int64_t now, int64_t *id) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g,
                                   "INSERT INTO people(name, added) VALUES(?, ?)"
                                   " ON CONFLICT(name) DO UPDATE SET name = name RETURNING id",
                                   &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(stmt, 0);
        rc = sqlite3_step(stmt);
    }
    if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, "adding a person");
    sqlite3_finalize(stmt);
    return st;
}

/* Store the templates of person `person`, their ids into ids[0..n). */
static fr_status insert_templates(fr_gallery *g, int64_t person, const fr_template *templates,
                                  int n, int64_t now, int64_t *ids) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g,
                                   "INSERT INTO templates(person_id, embedding, model, model_version,"
                                   " source, sha256, x, y, w, h, quality, added)"
                                   " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                   &stmt);
    if (st != FR_OK) return st;
    for (int i = 0; i < n && st == FR_OK; i++) {
        const fr_template *t = &templates[i];
        sqlite3_bind_int64(stmt, 1, person);
        sqlite3_bind_blob(stmt, 2, t->embedding, (int)(g->dim * sizeof(float)), SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, g->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, g->model_version, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 5, t->source, -1, SQLITE_STATIC);
        sqlite3_bind_blob(stmt, 6, t->sha256, 32, SQLITE_STATIC);
        sqlite3_bind_double(stmt, 7, t->x);
        sqlite3_bind_double(stmt, 8, t->y);
        sqlite3_bind_double(stmt, 9, t->w);
        sqlite3_bind_double(stmt, 10, t->h);
        sqlite3_bind_double(stmt, 11, t->quality);
        sqlite3_bind_int64(stmt, 12, now);
        int rc = sqlite3_step(stmt);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            st = fr_error(FR_E_ARG, "%s: %s is already enrolled (same SHA-256)", g->path, t->source);
        else if (rc != SQLITE_DONE)
            st = gallery_db_error(g, rc, "storing a template");
        ids[i] = sqlite3_last_insert_rowid(g->db);
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return st;
}

fr_status fr_gallery_enroll(fr_gallery *g, const char *name, const fr_template *templates,
                            int n) {
    if (!g || !templates || n < 1) return fr_error(FR_E_ARG, "fr_gallery_enroll: no templates given");
    if (!g->model[0])
        return fr_error(FR_E_ARG, "%s: no embedding model bound (fr_gallery_use_model)", g->path);
    fr_status st = check_name(name);
    if (st != FR_OK) return st;
    for (int i = 0; i < n; i++) {
        if (!templates[i].embedding || !templates[i].source)
            return fr_error(FR_E_ARG, "%s: template %d has no embedding or source", name, i);
        for (int k = 0; k < g->dim; k++)
            if (!isfinite(templates[i].embedding[k]))
                return fr_error(FR_E_ARG, "%s: %s: the embedding holds a non-finite value", name,
                                templates[i].source);
    }
    int64_t now = (int64_t)time(NULL), id = 0;
    int64_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) return fr_error(FR_E_NOMEM, "%s: out of memory enrolling", g->path);
    st = gallery_begin(g, "enrolling");
    if (st == FR_OK) {
        st = person_id(g, name, now, &id);
        if (st == FR_OK) st = insert_templates(g, id, templates, n, now, ids);
        st = gallery_end(g, st, "enrolling");
    }
    for (int i = 0; i < n && st == FR_OK; i++)
        gallery_index_add(g, name, &ids[i], templates[i].embedding, 1);
    free(ids);
    return st;
}

fr_status fr_gallery_people(fr_gallery *g, fr_person **people, int *n_people) {
    if (!g || !people || !n_people) return fr_error(FR_E_ARG, "fr_gallery_people: NULL argument");
    *people = NULL;
    *n_people = 0;
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g,
                                   "SELECT p.name, count(t.id), coalesce(min(t.added), p.added)"
                                   " FROM people p LEFT JOIN templates t ON t.person_id = p.id"
                                   " GROUP BY p.id ORDER BY p.name",
                                   &stmt);
    if (st != FR_OK) return st;
    fr_person *list = NULL;
    int n = 0, cap = 0, rc;
    while (st == FR_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            fr_person *grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                st = fr_error(FR_E_NOMEM, "%s: out of memory listing people", g->path);
                break;
            }
            list = grown;
        }
        list[n].name = strdup((const char *)sqlite3_column_text(stmt, 0));
        list[n].n_templates = sqlite3_column_int(stmt, 1);
        list[n].added = sqlite3_column_int64(stmt, 2);
        if (!list[n].name) st = fr_error(FR_E_NOMEM, "%s: out of memory listing people", g->path);
        else n++;
    }
    if (st == FR_OK && rc != SQLITE_DONE) st = gallery_db_error(g, rc, "listing people");
    sqlite3_finalize(stmt);
    if (st != FR_OK) {
        fr_people_free(list, n);
        return st;
    }
    *people = list;
    *n_people = n;
    return FR_OK;
}

void fr_people_free(fr_person *people, int n_people) {
    for (int i = 0; people && i < n_people; i++) free(people[i].name);
    free(people);
}

/* Run a one-row UPDATE/DELETE bound to the given names; FR_E_NOT_FOUND if no row changed. */
static fr_status change_person(fr_gallery *g, const char *sql, const char *a, const char *b,
                               const char *what, const char *missing) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, sql, &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_text(stmt, 1, a, -1, SQLITE_STATIC);
    if (b) sqlite3_bind_text(stmt, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, what);
    else if (sqlite3_changes(g->db) == 0)
        st = fr_error(FR_E_NOT_FOUND, "%s: no person named '%s'", g->path, missing);
    sqlite3_finalize(stmt);
    return st;
}

/* After a removal or a rename: secure_delete zeroed the freed space in the database pages,
 * but the write-ahead log still holds the old pages until a checkpoint copies them back.
 * Checkpoint now and empty the log, so the erased data is gone from both files (a reader in
 * another process can delay this to its own checkpoint; it is not an error). */
static void erase_from_log(fr_gallery *g) {
    sqlite3_wal_checkpoint_v2(g->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

fr_status fr_gallery_remove(fr_gallery *g, const char *name) {
    if (!g || !name) return fr_error(FR_E_ARG, "fr_gallery_remove: NULL argument");
    fr_status st = gallery_begin(g, "removing a person");
    if (st != FR_OK) return st;
    st = change_person(g, "DELETE FROM people WHERE name = ?", name, NULL, "removing a person", name);
    st = gallery_end(g, st, "removing a person");
    if (st == FR_OK) erase_from_log(g);
    if (st == FR_OK) gallery_index_remove_person(g, name);
    return st;
}

fr_status fr_gallery_rename(fr_gallery *g, const char *old_name, const char *new_name) {
    if (!g || !old_name) return fr_error(FR_E_ARG, "fr_gallery_rename: NULL argument");
    fr_status st = check_name(new_name);
    if (st != FR_OK) return st;
    st = gallery_begin(g, "renaming a person");
    if (st != FR_OK) return st;
    sqlite3_stmt *stmt;
    st = gallery_prepare(g, "SELECT 1 FROM people WHERE name = ?", &stmt);
    if (st == FR_OK) {
        sqlite3_bind_text(stmt, 1, new_name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
            st = fr_error(FR_E_ARG, "%s: '%s' is already enrolled: remove one of them first",
                          g->path, new_name);
        else if (rc != SQLITE_DONE)
            st = gallery_db_error(g, rc, "renaming a person");
        sqlite3_finalize(stmt);
    }
    if (st == FR_OK)
        st = change_person(g, "UPDATE people SET name = ?2 WHERE name = ?1", old_name, new_name,
                           "renaming a person", old_name);
    st = gallery_end(g, st, "renaming a person");
    if (st == FR_OK) erase_from_log(g);
    if (st == FR_OK) gallery_index_rename_person(g, old_name, new_name);
    return st;
}

fr_status fr_gallery_add_person(fr_gallery *g, const char *name) {
    if (!g) return fr_error(FR_E_ARG, "fr_gallery_add_person: NULL gallery");
    fr_status st = check_name(name);
    if (st != FR_OK) return st;
    st = gallery_begin(g, "adding a person");
    if (st != FR_OK) return st;
    sqlite3_stmt *stmt;
    st = gallery_prepare(g, "INSERT INTO people(name, added) VALUES(?, ?)", &stmt);
    if (st == FR_OK) {
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, (int64_t)time(NULL));
        int rc = sqlite3_step(stmt);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            st = fr_error(FR_E_ARG, "%s: '%s' is already enrolled", g->path, name);
        else if (rc != SQLITE_DONE)
            st = gallery_db_error(g, rc, "adding a person");
        sqlite3_finalize(stmt);
    }
    return gallery_end(g, st, "adding a person");
}

/* Whether person `name` exists (FR_E_NOT_FOUND if not). */
static fr_status check_person_exists(fr_gallery *g, const char *name) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "SELECT 1 FROM people WHERE name = ?", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) st = fr_error(FR_E_NOT_FOUND, "%s: no person named '%s'", g->path, name);
    else if (rc != SQLITE_ROW) st = gallery_db_error(g, rc, "looking up a person");
    sqlite3_finalize(stmt);
    return st;
}

fr_status fr_gallery_templates(fr_gallery *g, const char *name, fr_template_info **templates,
                               int *n_templates) {
    if (!g || !templates || !n_templates)
        return fr_error(FR_E_ARG, "fr_gallery_templates: NULL argument");
    *templates = NULL;
    *n_templates = 0;
    /* one snapshot: the person and their templates */
    fr_status st = gallery_exec(g, "BEGIN", "listing templates");
    if (st != FR_OK) return st;
    if (name) st = check_person_exists(g, name);
    sqlite3_stmt *stmt = NULL;
    if (st == FR_OK)
        st = gallery_prepare(g,
                             "SELECT t.id, p.name, t.source, t.sha256, t.x, t.y, t.w, t.h,"
                             " t.quality, t.added FROM templates t JOIN people p"
                             " ON p.id = t.person_id WHERE ?1 IS NULL OR p.name = ?1"
                             " ORDER BY p.name, t.id",
                             &stmt);
    fr_template_info *list = NULL;
    int n = 0, cap = 0, rc = SQLITE_DONE;
    if (st == FR_OK && name) sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    while (st == FR_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            fr_template_info *grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                st = fr_error(FR_E_NOMEM, "%s: out of memory listing templates", g->path);
                break;
            }
            list = grown;
        }
        fr_template_info *t = &list[n];
        memset(t, 0, sizeof *t);
        t->id = sqlite3_column_int64(stmt, 0);
        t->name = strdup((const char *)sqlite3_column_text(stmt, 1));
        t->source = strdup((const char *)sqlite3_column_text(stmt, 2));
        n++;
        if (sqlite3_column_bytes(stmt, 3) == 32) memcpy(t->sha256, sqlite3_column_blob(stmt, 3), 32);
        t->x = (float)sqlite3_column_double(stmt, 4);
        t->y = (float)sqlite3_column_double(stmt, 5);
        t->w = (float)sqlite3_column_double(stmt, 6);
        t->h = (float)sqlite3_column_double(stmt, 7);
        t->quality = (float)sqlite3_column_double(stmt, 8);
        t->added = sqlite3_column_int64(stmt, 9);
        if (!t->name || !t->source)
            st = fr_error(FR_E_NOMEM, "%s: out of memory listing templates", g->path);
    }
    if (st == FR_OK && rc != SQLITE_DONE) st = gallery_db_error(g, rc, "listing templates");
    sqlite3_finalize(stmt);
    sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL);
    if (st != FR_OK) {
        fr_template_infos_free(list, n);
        return st;
    }
    *templates = list;
    *n_templates = n;
    return FR_OK;
}

void fr_template_infos_free(fr_template_info *templates, int n_templates) {
    for (int i = 0; templates && i < n_templates; i++) {
        free(templates[i].name);
        free(templates[i].source);
    }
    free(templates);
}

fr_status fr_gallery_remove_template(fr_gallery *g, int64_t id, char *name, size_t name_size) {
    if (!g) return fr_error(FR_E_ARG, "fr_gallery_remove_template: NULL gallery");
    fr_status st = gallery_begin(g, "removing a template");
    if (st != FR_OK) return st;
    sqlite3_stmt *stmt;
    st = gallery_prepare(g,
                         "DELETE FROM templates WHERE id = ?"
                         " RETURNING (SELECT name FROM people WHERE id = person_id)",
                         &stmt);
    if (st == FR_OK) {
        sqlite3_bind_int64(stmt, 1, id);
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            if (name && name_size) snprintf(name, name_size, "%s", (const char *)sqlite3_column_text(stmt, 0));
            rc = sqlite3_step(stmt);
            if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, "removing a template");
        } else if (rc == SQLITE_DONE) {
            st = fr_error(FR_E_NOT_FOUND, "%s: no template with id %lld", g->path, (long long)id);
        } else {
            st = gallery_db_error(g, rc, "removing a template");
        }
        sqlite3_finalize(stmt);
    }
    st = gallery_end(g, st, "removing a template");
    if (st == FR_OK) gallery_index_remove_template(g, id);
    return st;
}

fr_status fr_gallery_get_info(fr_gallery *g, fr_gallery_info *info) {
    if (!g || !info) return fr_error(FR_E_ARG, "fr_gallery_get_info: NULL argument");
    memset(info, 0, sizeof *info);
    /* one snapshot for all the numbers */
    fr_status st = gallery_exec(g, "BEGIN", "reading the gallery");
    if (st != FR_OK) return st;
    int64_t n_people = 0, n_calibration = 0;
    char genuine[24] = "", impostor[24] = "", when[24] = "";
    st = read_model(g);
    if (st == FR_OK)
        st = query_int(g, "SELECT count(*) FROM people", "counting people", &n_people);
    if (st == FR_OK)
        st = query_int(g, "SELECT count(*) FROM templates", "counting templates", &info->n_templates);
    if (st == FR_OK)
        st = query_int(g, "SELECT count(*) FROM calibration WHERE kind = 'impostor'",
                       "reading the calibration", &n_calibration);
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_genuine_pairs", genuine, sizeof genuine);
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_impostor_pairs", impostor, sizeof impostor);
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_time", when, sizeof when);
    if (st == FR_OK)
        st = gallery_meta_get(g, "calibration_source", info->calibration_source,
                              sizeof info->calibration_source);
    sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL);
    if (st != FR_OK) return st;
    snprintf(info->model, sizeof info->model, "%s", g->model);
    snprintf(info->model_version, sizeof info->model_version, "%s", g->model_version);
    info->dim = g->dim;
    info->n_people = (int)n_people;
    info->calibrated = n_calibration > 0;
    info->n_genuine_pairs = atoll(genuine);
    info->n_impostor_pairs = atoll(impostor);
    info->calibrated_at = atoll(when);
    return FR_OK;
}

fr_status fr_gallery_check(fr_gallery *g) {
    if (!g) return fr_error(FR_E_ARG, "fr_gallery_check: NULL argument");
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "PRAGMA quick_check(1)", &stmt);
    if (st != FR_OK) return st;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *verdict = (const char *)sqlite3_column_text(stmt, 0);
        if (!verdict || strcmp(verdict, "ok") != 0)
            st = fr_error(FR_E_DB, "%s: the database is damaged (%s)", g->path,
                          verdict ? verdict : "no verdict");
    } else {
        st = gallery_db_error(g, rc, "checking the database");
    }
    sqlite3_finalize(stmt);
    /* then what SQLite cannot know: every template loads as search would read it */
    if (st == FR_OK && g->model[0]) st = gallery_ensure_loaded(g);
    return st;
}
