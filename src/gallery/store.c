/* store.c: the gallery, over either database driver (db.h): opening (choosing the driver,
 * schema versions and upgrades), the model it is bound to, the change log, enrollment in one
 * transaction per batch, and listing, renaming and removing people and their templates. */
#include "gallery/gallery.h"
#include "gallery/db.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_NAME_BYTES 255

fr_status db_query(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                   db_rows **rows, db_outcome *outcome, const char *what) {
    return g->driver->query(g, sql, params, n_params, rows, outcome, what);
}

fr_status db_exec(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                  db_outcome *outcome, const char *what) {
    return g->driver->query(g, sql, params, n_params, NULL, outcome, what);
}

fr_status db_step(fr_gallery *g, db_rows *r, int *has_row) { return g->driver->step(r, has_row); }
int64_t db_column_int(fr_gallery *g, db_rows *r, int column) { return g->driver->column_int(r, column); }
double db_column_real(fr_gallery *g, db_rows *r, int column) { return g->driver->column_real(r, column); }
const char *db_column_text(fr_gallery *g, db_rows *r, int column) {
    return g->driver->column_text(r, column);
}
const void *db_column_blob(fr_gallery *g, db_rows *r, int column, size_t *size) {
    return g->driver->column_blob(r, column, size);
}
void db_rows_free(fr_gallery *g, db_rows *r) {
    if (r) g->driver->rows_free(r);
}

fr_status db_query_int(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                       int64_t *out, const char *what) {
    db_rows *r;
    fr_status st = db_query(g, sql, params, n_params, &r, NULL, what);
    int has_row = 0;
    if (st == FR_OK) st = db_step(g, r, &has_row);
    if (st == FR_OK && !has_row) st = fr_error(FR_E_DB, "%s: no result while %s", g->path, what);
    if (st == FR_OK) *out = db_column_int(g, r, 0);
    db_rows_free(g, r);
    return st;
}

fr_status gallery_exec(fr_gallery *g, const char *sql, const char *what) {
    return db_exec(g, sql, NULL, 0, NULL, what);
}

fr_status gallery_begin(fr_gallery *g, const char *what) { return g->driver->begin(g, 1, what); }
fr_status gallery_read_begin(fr_gallery *g, const char *what) { return g->driver->begin(g, 0, what); }
fr_status gallery_end(fr_gallery *g, fr_status status, const char *what) {
    return g->driver->end(g, status, what);
}

fr_status gallery_meta_get(fr_gallery *g, const char *key, char *out, size_t out_size) {
    db_rows *r;
    db_value param = db_text(key);
    fr_status st = db_query(g, "SELECT value FROM meta WHERE key = $1", &param, 1, &r, NULL,
                            "reading the gallery's settings");
    int has_row = 0;
    out[0] = '\0';
    if (st == FR_OK) st = db_step(g, r, &has_row);
    if (st == FR_OK && has_row) snprintf(out, out_size, "%s", db_column_text(g, r, 0));
    db_rows_free(g, r);
    return st;
}

fr_status gallery_meta_set(fr_gallery *g, const char *key, const char *value) {
    db_value params[2] = {db_text(key), db_text(value)};
    return db_exec(g,
                   "INSERT INTO meta(key, value) VALUES($1, $2)"
                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   params, 2, NULL, "writing the gallery's settings");
}

fr_status gallery_log_change(fr_gallery *g, const char *kind, int64_t person_id,
                             int64_t template_id, int64_t *seq_out, int64_t *previous) {
    fr_status st = FR_OK;
    if (g->driver->lock_changes_sql)
        st = gallery_exec(g, g->driver->lock_changes_sql, "recording the change");
    int64_t seq = 0;
    /* the change before this one: with the log locked for writing (see lock_changes_sql),
     * every earlier one is committed and visible */
    if (st == FR_OK && previous) st = gallery_last_change(g, previous);
    db_value params[4] = {db_text(kind), db_int(person_id),
                          template_id ? db_int(template_id) : db_text(NULL), db_int((int64_t)time(NULL))};
    if (st == FR_OK)
        st = db_query_int(g,
                          "INSERT INTO changes(kind, person_id, template_id, at)"
                          " VALUES($1, $2, $3, $4) RETURNING seq",
                          params, 4, &seq, "recording the change");
    if (seq_out) *seq_out = seq;
    db_value old = db_int(seq - GALLERY_CHANGES_KEPT);
    if (st == FR_OK && seq > GALLERY_CHANGES_KEPT)
        st = db_exec(g, "DELETE FROM changes WHERE seq <= $1", &old, 1, NULL, "recording the change");
    if (st == FR_OK && g->driver->notify_sql)
        st = gallery_exec(g, g->driver->notify_sql, "announcing the change");
    return st;
}

fr_status gallery_last_change(fr_gallery *g, int64_t *seq) {
    return db_query_int(g, "SELECT coalesce(max(seq), 0) FROM changes", NULL, 0, seq,
                        "reading the change log");
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

/* The gallery's schema version from meta (checking it is a facerec gallery). */
static fr_status schema_version(fr_gallery *g, int *version) {
    char format[32] = "", schema[16] = "";
    fr_status st = gallery_meta_get(g, "format", format, sizeof format);
    if (st == FR_OK) st = gallery_meta_get(g, "schema", schema, sizeof schema);
    if (st != FR_OK) return st;
    if (strcmp(format, GALLERY_FORMAT) != 0)
        return fr_error(FR_E_DB, "%s: a %s database, but not a facerec gallery", g->path,
                        g->driver->name);
    char *end;
    long value = strtol(schema, &end, 10);
    if (end == schema || *end || value < 1 || value > 1000000)
        return fr_error(FR_E_DB, "%s: corrupt gallery: schema version '%s'", g->path, schema);
    *version = (int)value;
    return FR_OK;
}

/* Make the tables of a new, empty database (if create), or check that an existing one is a
 * gallery this facerec reads, upgrading an older schema. */
static fr_status prepare_schema(fr_gallery *g, int create) {
    int exists = 0, version = 0;
    fr_status st = g->driver->prepare_schema(g, create, &exists);
    if (st != FR_OK) return st;
    if (!exists && g->driver == &gallery_sqlite_driver) /* reading commands leave it alone */
        return fr_error(FR_E_DB, "%s: an empty file, not a gallery (enroll someone to make one)",
                        g->path);
    if (!exists)
        return fr_error(FR_E_NOT_FOUND, "%s: no gallery in this database (enroll someone first)",
                        g->path);
    st = schema_version(g, &version);
    if (st == FR_OK && version > GALLERY_SCHEMA_VERSION)
        return fr_error(FR_E_DB, "%s: gallery schema version %d, this facerec reads versions up "
                        "to %d: use a newer facerec", g->path, version, GALLERY_SCHEMA_VERSION);
    if (st == FR_OK && version < GALLERY_SCHEMA_VERSION) {
        st = gallery_begin(g, "upgrading the gallery's schema");
        if (st != FR_OK) return st;
        /* another process may have upgraded it meanwhile */
        st = schema_version(g, &version);
        while (st == FR_OK && version < GALLERY_SCHEMA_VERSION) {
            st = g->driver->migrate(g, version);
            if (st == FR_OK) st = schema_version(g, &version);
        }
        st = gallery_end(g, st, "upgrading the gallery's schema");
    }
    if (st != FR_OK) return st;
    return read_model(g);
}

const char *fr_gallery_default_path(void) {
    const char *env = getenv("FACEREC_DB");
    return env && *env ? env : "facerec.db";
}

int gallery_is_postgres_uri(const char *location) {
    return !strncmp(location, "postgresql://", 13) || !strncmp(location, "postgres://", 11);
}

fr_status fr_gallery_open(const char *path, int create, fr_gallery **out) {
    if (!out) return fr_error(FR_E_ARG, "fr_gallery_open: NULL output");
    *out = NULL;
    if (!path) path = fr_gallery_default_path();
    const gallery_driver *driver = &gallery_sqlite_driver;
    if (gallery_is_postgres_uri(path)) {
#ifdef FACEREC_POSTGRES
        driver = &gallery_postgres_driver;
#else
        return fr_error(FR_E_UNSUPPORTED, "a PostgreSQL gallery, but this facerec was built "
                        "without PostgreSQL (libpq)");
#endif
    } else {
        struct stat sb;
        if (!create && stat(path, &sb) != 0)
            return fr_error(FR_E_NOT_FOUND, "%s: no gallery database there (enroll someone first)", path);
    }
    fr_gallery *g = calloc(1, sizeof *g);
    if (!g || !(g->location = strdup(path))) {
        free(g);
        return fr_error(FR_E_NOMEM, "out of memory opening a gallery");
    }
    g->driver = driver;
    g->path = driver == &gallery_sqlite_driver ? strdup(path) : NULL; /* a URI: by the driver */
    fr_status st = driver == &gallery_sqlite_driver && !g->path
                       ? fr_error(FR_E_NOMEM, "%s: out of memory opening the gallery", path)
                       : driver->open(g, create);
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
    gallery_people_clear(g);
    g->driver->close(g);
    free(g->location);
    free(g->path);
    free(g);
}

const char *fr_gallery_backend(const fr_gallery *g) { return g ? g->driver->name : ""; }

const char *fr_gallery_path(const fr_gallery *g) { return g ? g->path : ""; }

/* Library versions whose embeddings of a model differ from those of every earlier version:
 * templates made before then cannot be compared with new probes. */
static const struct {
    const char *model, *since;
} embedding_changes[] = {
    {"dlib-resnet", "0.2.0"}, /* normalised to unit length */
    {"fusion", "0.3.0"},      /* members weighted 0.12 / 0.88, not 0.3 / 0.7 */
    {"fusion", "0.5.0"},      /* back to 0.3 / 0.7, chosen for open-set search too */
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
    db_rows *r;
    db_value param = db_blob(sha256, 32);
    fr_status st = db_query(g,
                            "SELECT p.name FROM templates t JOIN people p ON p.id = t.person_id"
                            " WHERE t.sha256 = $1",
                            &param, 1, &r, NULL, "looking up a source file");
    int has_row = 0;
    if (st == FR_OK) st = db_step(g, r, &has_row);
    if (st == FR_OK && has_row) {
        *found = 1;
        if (name && name_size) snprintf(name, name_size, "%s", db_column_text(g, r, 0));
    }
    db_rows_free(g, r);
    return st;
}

/* The id of person `name`, created if new (inside the caller's transaction). */
static fr_status person_id(fr_gallery *g, const char *name, int64_t now, int64_t *id) {
    db_value params[2] = {db_text(name), db_int(now)};
    return db_query_int(g,
                        "INSERT INTO people(name, added) VALUES($1, $2)"
                        " ON CONFLICT(name) DO UPDATE SET name = excluded.name RETURNING id",
                        params, 2, id, "adding a person");
}

/* The index's map of people by id learns person `id`'s name (the index is dropped if memory
 * runs out: the next search loads it again). */
static void index_knows_person(fr_gallery *g, int64_t id, const char *name) {
    if (g->index && !gallery_person_set(g, id, name)) gallery_unload(g);
}

/* Store the templates of person `person`, their ids into ids[0..n). */
static fr_status insert_templates(fr_gallery *g, int64_t person, const fr_template *templates,
                                  int n, int64_t now, int64_t *ids) {
    fr_status st = FR_OK;
    for (int i = 0; i < n && st == FR_OK; i++) {
        const fr_template *t = &templates[i];
        db_value params[12] = {db_int(person), db_blob(t->embedding, (size_t)g->dim * sizeof(float)),
                               db_text(g->model), db_text(g->model_version), db_text(t->source),
                               db_blob(t->sha256, 32), db_real(t->x), db_real(t->y), db_real(t->w),
                               db_real(t->h), db_real(t->quality), db_int(now)};
        db_outcome outcome;
        db_rows *r = NULL;
        st = db_query(g,
                      "INSERT INTO templates(person_id, embedding, model, model_version,"
                      " source, sha256, x, y, w, h, quality, added)"
                      " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                      params, 12, &r, &outcome, "storing a template");
        if (st == FR_OK && outcome.constraint)
            st = fr_error(FR_E_ARG, "%s: %s is already enrolled (same SHA-256)", g->path, t->source);
        int has_row = 0;
        if (st == FR_OK) st = db_step(g, r, &has_row);
        if (st == FR_OK && !has_row) st = fr_error(FR_E_DB, "%s: no result while storing a template", g->path);
        if (st == FR_OK) ids[i] = db_column_int(g, r, 0);
        /* to the end of the statement */
        for (int more = has_row; st == FR_OK && more;) st = db_step(g, r, &more);
        db_rows_free(g, r);
    }
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
    int64_t seq = 0, previous = 0;
    if (st == FR_OK) {
        st = person_id(g, name, now, &id);
        if (st == FR_OK) st = insert_templates(g, id, templates, n, now, ids);
        if (st == FR_OK) st = gallery_log_change(g, "enroll", id, 0, &seq, &previous);
        st = gallery_end(g, st, "enrolling");
    }
    if (st == FR_OK) {
        index_knows_person(g, id, name);
        for (int i = 0; i < n; i++) gallery_index_add(g, name, &ids[i], templates[i].embedding, 1);
        gallery_own_change_done(g, seq, previous);
    }
    free(ids);
    return st;
}

fr_status fr_gallery_people(fr_gallery *g, fr_person **people, int *n_people) {
    if (!g || !people || !n_people) return fr_error(FR_E_ARG, "fr_gallery_people: NULL argument");
    *people = NULL;
    *n_people = 0;
    db_rows *r;
    fr_status st = db_query(g,
                            "SELECT p.name, count(t.id), coalesce(min(t.added), p.added)"
                            " FROM people p LEFT JOIN templates t ON t.person_id = p.id"
                            " GROUP BY p.id ORDER BY p.name",
                            NULL, 0, &r, NULL, "listing people");
    if (st != FR_OK) return st;
    fr_person *list = NULL;
    int n = 0, cap = 0, has_row = 0;
    while (st == FR_OK && (st = db_step(g, r, &has_row)) == FR_OK && has_row) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            fr_person *grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                st = fr_error(FR_E_NOMEM, "%s: out of memory listing people", g->path);
                break;
            }
            list = grown;
        }
        list[n].name = strdup(db_column_text(g, r, 0));
        list[n].n_templates = (int)db_column_int(g, r, 1);
        list[n].added = db_column_int(g, r, 2);
        if (!list[n].name) st = fr_error(FR_E_NOMEM, "%s: out of memory listing people", g->path);
        else n++;
    }
    db_rows_free(g, r);
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

/* Run a one-row UPDATE/DELETE bound to the given names that returns the person's id;
 * FR_E_NOT_FOUND if no row changed. */
static fr_status change_person(fr_gallery *g, const char *sql, const char *a, const char *b,
                               const char *what, const char *missing, int64_t *id) {
    db_value params[2] = {db_text(a), db_text(b)};
    db_outcome outcome;
    db_rows *r;
    fr_status st = db_query(g, sql, params, b ? 2 : 1, &r, &outcome, what);
    if (st != FR_OK) return st;
    if (outcome.constraint)
        return fr_error(FR_E_ARG, "%s: '%s' is already enrolled: remove one of them first", g->path,
                        b ? b : a);
    int has_row = 0;
    st = db_step(g, r, &has_row);
    if (st == FR_OK && has_row) *id = db_column_int(g, r, 0);
    /* to the end of the statement (SQLite changes rows as it steps) */
    for (int more = has_row; st == FR_OK && more;) st = db_step(g, r, &more);
    db_rows_free(g, r);
    if (st == FR_OK && !has_row)
        st = fr_error(FR_E_NOT_FOUND, "%s: no person named '%s'", g->path, missing);
    return st;
}

fr_status fr_gallery_remove(fr_gallery *g, const char *name) {
    if (!g || !name) return fr_error(FR_E_ARG, "fr_gallery_remove: NULL argument");
    fr_status st = gallery_begin(g, "removing a person");
    if (st != FR_OK) return st;
    int64_t id = 0;
    st = change_person(g, "DELETE FROM people WHERE name = $1 RETURNING id", name, NULL,
                       "removing a person", name, &id);
    int64_t seq = 0, previous = 0;
    if (st == FR_OK) st = gallery_log_change(g, "remove", id, 0, &seq, &previous);
    st = gallery_end(g, st, "removing a person");
    if (st == FR_OK && g->driver->after_erase) g->driver->after_erase(g);
    if (st == FR_OK) {
        gallery_index_remove_person(g, name);
        gallery_person_forget(g, id);
        gallery_own_change_done(g, seq, previous);
    }
    return st;
}

/* Whether person `name` exists. */
static fr_status person_exists(fr_gallery *g, const char *name, int *exists) {
    db_rows *r;
    db_value param = db_text(name);
    fr_status st = db_query(g, "SELECT 1 FROM people WHERE name = $1", &param, 1, &r, NULL,
                            "looking up a person");
    *exists = 0;
    if (st == FR_OK) st = db_step(g, r, exists);
    db_rows_free(g, r);
    return st;
}

fr_status fr_gallery_rename(fr_gallery *g, const char *old_name, const char *new_name) {
    if (!g || !old_name) return fr_error(FR_E_ARG, "fr_gallery_rename: NULL argument");
    fr_status st = check_name(new_name);
    if (st != FR_OK) return st;
    st = gallery_begin(g, "renaming a person");
    if (st != FR_OK) return st;
    int taken = 0;
    st = person_exists(g, new_name, &taken);
    if (st == FR_OK && taken)
        st = fr_error(FR_E_ARG, "%s: '%s' is already enrolled: remove one of them first", g->path,
                      new_name);
    int64_t id = 0;
    if (st == FR_OK)
        st = change_person(g, "UPDATE people SET name = $2 WHERE name = $1 RETURNING id", old_name,
                           new_name, "renaming a person", old_name, &id);
    int64_t seq = 0, previous = 0;
    if (st == FR_OK) st = gallery_log_change(g, "rename", id, 0, &seq, &previous);
    st = gallery_end(g, st, "renaming a person");
    if (st == FR_OK && g->driver->after_erase) g->driver->after_erase(g);
    if (st == FR_OK) {
        gallery_index_rename_person(g, old_name, new_name);
        index_knows_person(g, id, new_name);
        gallery_own_change_done(g, seq, previous);
    }
    return st;
}

fr_status fr_gallery_add_person(fr_gallery *g, const char *name) {
    if (!g) return fr_error(FR_E_ARG, "fr_gallery_add_person: NULL gallery");
    fr_status st = check_name(name);
    if (st != FR_OK) return st;
    st = gallery_begin(g, "adding a person");
    if (st != FR_OK) return st;
    db_value params[2] = {db_text(name), db_int((int64_t)time(NULL))};
    db_outcome outcome;
    db_rows *r;
    int64_t id = 0;
    st = db_query(g, "INSERT INTO people(name, added) VALUES($1, $2) RETURNING id", params, 2, &r,
                  &outcome, "adding a person");
    int has_row = 0;
    if (st == FR_OK && outcome.constraint)
        st = fr_error(FR_E_ARG, "%s: '%s' is already enrolled", g->path, name);
    else if (st == FR_OK)
        st = db_step(g, r, &has_row);
    if (st == FR_OK && has_row) id = db_column_int(g, r, 0);
    for (int more = has_row; st == FR_OK && more;) st = db_step(g, r, &more);
    db_rows_free(g, r);
    if (st == FR_OK) st = gallery_log_change(g, "add_person", id, 0, NULL, NULL);
    return gallery_end(g, st, "adding a person");
}

fr_status fr_gallery_templates(fr_gallery *g, const char *name, fr_template_info **templates,
                               int *n_templates) {
    if (!g || !templates || !n_templates)
        return fr_error(FR_E_ARG, "fr_gallery_templates: NULL argument");
    *templates = NULL;
    *n_templates = 0;
    /* one snapshot: the person and their templates */
    fr_status st = gallery_read_begin(g, "listing templates");
    if (st != FR_OK) return st;
    int exists = 1;
    if (name) st = person_exists(g, name, &exists);
    if (st == FR_OK && !exists) st = fr_error(FR_E_NOT_FOUND, "%s: no person named '%s'", g->path, name);
    db_rows *r = NULL;
    db_value param = db_text(name);
    if (st == FR_OK)
        st = db_query(g,
                      "SELECT t.id, p.name, t.source, t.sha256, t.x, t.y, t.w, t.h,"
                      " t.quality, t.added FROM templates t JOIN people p"
                      " ON p.id = t.person_id WHERE CAST($1 AS TEXT) IS NULL OR p.name = $1"
                      " ORDER BY p.name, t.id",
                      &param, 1, &r, NULL, "listing templates");
    fr_template_info *list = NULL;
    int n = 0, cap = 0, has_row = 0;
    while (st == FR_OK && (st = db_step(g, r, &has_row)) == FR_OK && has_row) {
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
        t->id = db_column_int(g, r, 0);
        t->name = strdup(db_column_text(g, r, 1));
        t->source = strdup(db_column_text(g, r, 2));
        n++;
        size_t sha_bytes;
        const void *sha = db_column_blob(g, r, 3, &sha_bytes);
        if (sha_bytes == 32) memcpy(t->sha256, sha, 32);
        t->x = (float)db_column_real(g, r, 4);
        t->y = (float)db_column_real(g, r, 5);
        t->w = (float)db_column_real(g, r, 6);
        t->h = (float)db_column_real(g, r, 7);
        t->quality = (float)db_column_real(g, r, 8);
        t->added = db_column_int(g, r, 9);
        if (!t->name || !t->source)
            st = fr_error(FR_E_NOMEM, "%s: out of memory listing templates", g->path);
    }
    db_rows_free(g, r);
    st = gallery_end(g, st, "listing templates");
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
    db_rows *r;
    db_value param = db_int(id);
    char person[MAX_NAME_BYTES + 1] = "";
    st = db_query(g,
                  "DELETE FROM templates WHERE id = $1 RETURNING"
                  " (SELECT name FROM people WHERE people.id = templates.person_id), person_id",
                  &param, 1, &r, NULL, "removing a template");
    int has_row = 0;
    if (st == FR_OK) st = db_step(g, r, &has_row);
    int64_t person_id = 0;
    if (st == FR_OK && has_row) {
        snprintf(person, sizeof person, "%s", db_column_text(g, r, 0));
        person_id = db_column_int(g, r, 1);
    }
    /* to the end of the statement (SQLite deletes as it steps) */
    for (int more = has_row; st == FR_OK && more;) st = db_step(g, r, &more);
    db_rows_free(g, r);
    if (st == FR_OK && !has_row)
        st = fr_error(FR_E_NOT_FOUND, "%s: no template with id %lld", g->path, (long long)id);
    int64_t seq = 0, previous = 0;
    if (st == FR_OK) st = gallery_log_change(g, "remove_template", person_id, id, &seq, &previous);
    st = gallery_end(g, st, "removing a template");
    if (st == FR_OK && name && name_size) snprintf(name, name_size, "%s", person);
    if (st == FR_OK) {
        gallery_index_remove_template(g, id);
        gallery_own_change_done(g, seq, previous);
    }
    return st;
}

fr_status fr_gallery_get_info(fr_gallery *g, fr_gallery_info *info) {
    if (!g || !info) return fr_error(FR_E_ARG, "fr_gallery_get_info: NULL argument");
    memset(info, 0, sizeof *info);
    /* one snapshot for all the numbers */
    fr_status st = gallery_read_begin(g, "reading the gallery");
    if (st != FR_OK) return st;
    int64_t n_people = 0, n_calibration = 0;
    char genuine[24] = "", impostor[24] = "", when[24] = "";
    st = read_model(g);
    if (st == FR_OK)
        st = db_query_int(g, "SELECT count(*) FROM people", NULL, 0, &n_people, "counting people");
    if (st == FR_OK)
        st = db_query_int(g, "SELECT count(*) FROM templates", NULL, 0, &info->n_templates,
                          "counting templates");
    if (st == FR_OK)
        st = db_query_int(g, "SELECT count(*) FROM calibration WHERE kind = 'impostor'", NULL, 0,
                          &n_calibration, "reading the calibration");
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_genuine_pairs", genuine, sizeof genuine);
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_impostor_pairs", impostor, sizeof impostor);
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_time", when, sizeof when);
    if (st == FR_OK)
        st = gallery_meta_get(g, "calibration_source", info->calibration_source,
                              sizeof info->calibration_source);
    st = gallery_end(g, st, "reading the gallery");
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
    fr_status st = g->driver->check ? g->driver->check(g) : FR_OK;
    /* then what the database cannot know: every template loads as search would read it */
    if (st == FR_OK && g->model[0]) {
        gallery_unload(g);
        st = gallery_ensure_loaded(g);
    }
    return st;
}
