/* db_postgres.c: the gallery in a PostgreSQL database, through libpq, shared by any number of
 * processes: binary parameters and results, the templates read at start by one binary COPY,
 * changes announced by NOTIFY on commit, and a lost connection re-made by the next call. */
#include "gallery/db.h"
#include "gallery/gallery.h"
#include "gallery/pgcopy.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* type OIDs (catalog/pg_type.h is not part of libpq-dev) */
#define BOOL_OID 16
#define BYTEA_OID 17
#define INT8_OID 20
#define INT2_OID 21
#define INT4_OID 23
#define TEXT_OID 25
#define FLOAT4_OID 700
#define FLOAT8_OID 701

#define CHANNEL "facerec_changes"
/* any number: the advisory lock that serialises two processes making the same schema */
#define SCHEMA_LOCK "7320519"
#define MAX_PARAMS 16

typedef struct pg_conn {
    PGconn *pq;
    int in_transaction;
    int notified; /* a change notification arrived during a query, not yet waited for */
} pg_conn;

struct db_rows {
    fr_gallery *g;
    PGresult *res;
    int row, n_rows;
};

static pg_conn *conn(const fr_gallery *g) { return (pg_conn *)g->conn; }

/* The first line of libpq's message. */
static const char *one_line(const char *message, char *out, size_t size) {
    snprintf(out, size, "%s", message && *message ? message : "no message");
    out[strcspn(out, "\n")] = '\0';
    return out;
}

/* A failed statement's message (its primary text, without "ERROR:" and the SQL). */
static fr_status statement_error(const fr_gallery *g, const PGresult *res, const char *what) {
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char message[512];
    return fr_error(FR_E_DB, "%s: %s while %s", g->path,
                    one_line(primary ? primary : PQresultErrorMessage(res), message, sizeof message),
                    what);
}

static fr_status unavailable(const fr_gallery *g, const char *what) {
    char message[512];
    return fr_error(FR_E_DB, "%s: database unavailable while %s: %s", g->path, what,
                    one_line(conn(g) && conn(g)->pq ? PQerrorMessage(conn(g)->pq) : NULL, message,
                             sizeof message));
}

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

/* After (re)connecting: no notices on stderr, and listen for changes. */
static fr_status configure(fr_gallery *g) {
    PGconn *pq = conn(g)->pq;
    PQsetNoticeProcessor(pq, ignore_notice, NULL);
    PGresult *res = PQexec(pq, "LISTEN " CHANNEL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok ? FR_OK : unavailable(g, "listening for changes");
}

/* The URI as messages show it: postgresql://user@host:port/dbname, never the password. */
static fr_status display_name(fr_gallery *g) {
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(g->location, &error);
    if (!options) {
        char message[256];
        fr_status st = fr_error(FR_E_ARG, "not a valid PostgreSQL URI (%s)",
                                one_line(error, message, sizeof message));
        PQfreemem(error);
        return st;
    }
    const char *user = "", *host = "", *port = "", *dbname = "";
    for (PQconninfoOption *o = options; o->keyword; o++) {
        if (!o->val) continue;
        if (!strcmp(o->keyword, "user")) user = o->val;
        else if (!strcmp(o->keyword, "host")) host = o->val;
        else if (!strcmp(o->keyword, "port")) port = o->val;
        else if (!strcmp(o->keyword, "dbname")) dbname = o->val;
    }
    size_t size = strlen(user) + strlen(host) + strlen(port) + strlen(dbname) + 32;
    g->path = malloc(size);
    if (g->path)
        snprintf(g->path, size, "postgresql://%s%s%s%s%s/%s", user, *user ? "@" : "",
                 *host ? host : "localhost", *port ? ":" : "", port, dbname);
    PQconninfoFree(options);
    return g->path ? FR_OK : fr_error(FR_E_NOMEM, "out of memory opening a gallery");
}

static fr_status pg_open(fr_gallery *g, int create) {
    (void)create; /* the database itself must exist; the schema is made by prepare_schema */
    fr_status st = display_name(g);
    if (st != FR_OK) return st;
    pg_conn *c = calloc(1, sizeof *c);
    if (!c) return fr_error(FR_E_NOMEM, "%s: out of memory opening the gallery", g->path);
    g->conn = c;
    c->pq = PQconnectdb(g->location);
    if (!c->pq) return fr_error(FR_E_NOMEM, "%s: out of memory connecting", g->path);
    if (PQstatus(c->pq) != CONNECTION_OK) return unavailable(g, "connecting");
    return configure(g);
}

static void pg_close(fr_gallery *g) {
    if (!conn(g)) return;
    PQfinish(conn(g)->pq);
    free(conn(g));
    g->conn = NULL;
}

/* Outside a transaction, a lost connection is made again (once per call). */
static fr_status ensure_connected(fr_gallery *g, const char *what) {
    pg_conn *c = conn(g);
    if (PQstatus(c->pq) == CONNECTION_OK) return FR_OK;
    if (c->in_transaction) return unavailable(g, what);
    PQreset(c->pq);
    if (PQstatus(c->pq) != CONNECTION_OK) return unavailable(g, what);
    return configure(g);
}

static void put_be64(uint64_t v, char out[8]) {
    for (int i = 7; i >= 0; i--, v >>= 8) out[i] = (char)(v & 0xff);
}

static uint64_t get_be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* Drop the notifications received so far; whether there were any. */
static int drain_notifications(PGconn *pq) {
    int any = 0;
    PGnotify *note;
    while ((note = PQnotifies(pq))) {
        any = 1;
        PQfreemem(note);
    }
    return any;
}

/* Whether sql only reads, so that running it again after a lost connection is safe. */
static int is_retryable(const char *sql) {
    return !strncmp(sql, "SELECT", 6) || !strncmp(sql, "BEGIN", 5);
}

static fr_status pg_query(fr_gallery *g, const char *sql, const db_value *params, int n_params,
                          db_rows **rows, db_outcome *outcome, const char *what) {
    if (rows) *rows = NULL;
    if (outcome) memset(outcome, 0, sizeof *outcome);
    if (n_params > MAX_PARAMS) return fr_error(FR_E_ARG, "%s: too many query parameters", g->path);
    fr_status st = ensure_connected(g, what);
    if (st != FR_OK) return st;
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS], formats[MAX_PARAMS];
    unsigned int types[MAX_PARAMS];
    char numbers[MAX_PARAMS][8];
    for (int i = 0; i < n_params; i++) {
        const db_value *v = &params[i];
        lengths[i] = 0;
        formats[i] = 1;
        switch (v->type) {
        case DB_NULL:
            values[i] = NULL;
            types[i] = 0; /* the server infers it from where it is used */
            break;
        case DB_INT:
            put_be64((uint64_t)v->i, numbers[i]);
            values[i] = numbers[i];
            lengths[i] = 8;
            types[i] = INT8_OID;
            break;
        case DB_REAL: {
            uint64_t bits;
            memcpy(&bits, &v->r, 8);
            put_be64(bits, numbers[i]);
            values[i] = numbers[i];
            lengths[i] = 8;
            types[i] = FLOAT8_OID;
            break;
        }
        case DB_TEXT:
            values[i] = v->data;
            formats[i] = 0;
            types[i] = TEXT_OID;
            break;
        case DB_BLOB:
            if (v->size > (size_t)1 << 30) return fr_error(FR_E_LIMIT, "%s: value too large", g->path);
            values[i] = v->size ? v->data : "";
            lengths[i] = (int)v->size;
            types[i] = BYTEA_OID;
            break;
        }
    }
    PGconn *pq = conn(g)->pq;
    int retry = !conn(g)->in_transaction && is_retryable(sql);
    /* without parameters or rows: PQexec, which runs several statements (the schema) */
    int simple = n_params == 0 && !rows;
    PGresult *res = simple ? PQexec(pq, sql)
                           : PQexecParams(pq, sql, n_params, types, values, lengths, formats, 1);
    if (retry && PQstatus(pq) != CONNECTION_OK) {
        /* the server went away and maybe came back since the last call: once more */
        PQclear(res);
        res = NULL;
        st = ensure_connected(g, what);
        if (st != FR_OK) return st;
        res = simple ? PQexec(pq, sql)
                     : PQexecParams(pq, sql, n_params, types, values, lengths, formats, 1);
    }
    /* notifications read with the answer: freed now (a handle that never waits must not
     * pile them up), remembered for fr_gallery_wait_changes */
    if (drain_notifications(conn(g)->pq)) conn(g)->notified = 1;
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (PQstatus(pq) != CONNECTION_OK || !res) st = unavailable(g, what);
        else if (state && !strncmp(state, "23", 2) && outcome) outcome->constraint = 1;
        else if (state && !strcmp(state, "53100"))
            st = fr_error(FR_E_IO, "%s: the database server's disk is full while %s", g->path, what);
        else
            st = statement_error(g, res, what);
        PQclear(res);
        return st;
    }
    if (outcome) outcome->changes = atoll(PQcmdTuples(res));
    if (!rows) {
        PQclear(res);
        return FR_OK;
    }
    db_rows *r = calloc(1, sizeof *r);
    if (!r) {
        PQclear(res);
        return fr_error(FR_E_NOMEM, "%s: out of memory while %s", g->path, what);
    }
    r->g = g;
    r->res = res;
    r->row = -1;
    r->n_rows = PQntuples(res);
    *rows = r;
    return FR_OK;
}

static fr_status pg_step(db_rows *r, int *has_row) {
    if (r->row < r->n_rows) r->row++;
    *has_row = r->row < r->n_rows;
    return FR_OK;
}

static int64_t pg_column_int(db_rows *r, int column) {
    if (r->row >= r->n_rows || PQgetisnull(r->res, r->row, column)) return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r->res, r->row, column);
    int n = PQgetlength(r->res, r->row, column);
    switch (PQftype(r->res, column)) {
    case INT8_OID: return n == 8 ? (int64_t)get_be(p, 8) : 0;
    case INT4_OID: return n == 4 ? (int32_t)get_be(p, 4) : 0;
    case INT2_OID: return n == 2 ? (int16_t)get_be(p, 2) : 0;
    case BOOL_OID: return n == 1 ? p[0] : 0;
    default: return 0;
    }
}

static double pg_column_real(db_rows *r, int column) {
    if (r->row >= r->n_rows || PQgetisnull(r->res, r->row, column)) return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r->res, r->row, column);
    int n = PQgetlength(r->res, r->row, column);
    unsigned int type = PQftype(r->res, column);
    if (type == FLOAT8_OID && n == 8) {
        uint64_t bits = get_be(p, 8);
        double d;
        memcpy(&d, &bits, 8);
        return d;
    }
    if (type == FLOAT4_OID && n == 4) {
        uint32_t bits = (uint32_t)get_be(p, 4);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    return (double)pg_column_int(r, column);
}

static const char *pg_column_text(db_rows *r, int column) {
    if (r->row >= r->n_rows || PQgetisnull(r->res, r->row, column)) return "";
    return PQgetvalue(r->res, r->row, column); /* libpq ends every value with a NUL */
}

static const void *pg_column_blob(db_rows *r, int column, size_t *size) {
    *size = 0;
    if (r->row >= r->n_rows || PQgetisnull(r->res, r->row, column)) return NULL;
    *size = (size_t)PQgetlength(r->res, r->row, column);
    return PQgetvalue(r->res, r->row, column);
}

static void pg_rows_free(db_rows *r) {
    if (!r) return;
    PQclear(r->res);
    free(r);
}

static fr_status pg_begin(fr_gallery *g, int write, const char *what) {
    /* reads: one snapshot for every statement of the transaction */
    fr_status st = db_exec(g, write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                           NULL, 0, NULL, what);
    if (st == FR_OK) conn(g)->in_transaction = 1;
    return st;
}

static fr_status pg_end(fr_gallery *g, fr_status status, const char *what) {
    pg_conn *c = conn(g);
    if (status != FR_OK) {
        if (PQstatus(c->pq) == CONNECTION_OK) PQclear(PQexec(c->pq, "ROLLBACK"));
        c->in_transaction = 0;
        return status;
    }
    PGresult *res = PQexec(c->pq, "COMMIT");
    c->in_transaction = 0;
    ExecStatusType result = PQresultStatus(res);
    if (result == PGRES_COMMAND_OK) status = FR_OK;
    else if (PQstatus(c->pq) != CONNECTION_OK || !res) status = unavailable(g, what);
    else
        status = statement_error(g, res, what);
    PQclear(res);
    return status;
}

/* Schema version 2 (PostgreSQL galleries begin there). Embeddings are float32 in
 * little-endian order, as in SQLite; STORAGE EXTERNAL: never try to compress them. */
static const char *schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE people(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE, added BIGINT NOT NULL);"
    "CREATE TABLE templates(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,"
    "  embedding BYTEA NOT NULL, model TEXT NOT NULL, model_version TEXT NOT NULL,"
    "  source TEXT NOT NULL, sha256 BYTEA NOT NULL UNIQUE,"
    "  x DOUBLE PRECISION NOT NULL, y DOUBLE PRECISION NOT NULL,"
    "  w DOUBLE PRECISION NOT NULL, h DOUBLE PRECISION NOT NULL,"
    "  quality DOUBLE PRECISION NOT NULL, added BIGINT NOT NULL);"
    "ALTER TABLE templates ALTER COLUMN embedding SET STORAGE EXTERNAL;"
    "CREATE INDEX templates_person ON templates(person_id);"
    "CREATE TABLE calibration(kind TEXT NOT NULL CHECK(kind IN ('genuine', 'impostor')),"
    "  p DOUBLE PRECISION NOT NULL, distance DOUBLE PRECISION NOT NULL, PRIMARY KEY(kind, p));"
    "CREATE TABLE api_keys(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  sha256 BYTEA NOT NULL UNIQUE, role TEXT NOT NULL"
    "  CHECK(role IN ('recognize', 'admin')), label TEXT NOT NULL, created BIGINT NOT NULL);"
    "CREATE TABLE template_images(template_id BIGINT PRIMARY KEY"
    "  REFERENCES templates(id) ON DELETE CASCADE, data BYTEA NOT NULL);"
    "CREATE TABLE changes(seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  kind TEXT NOT NULL, person_id BIGINT NOT NULL, template_id BIGINT, at BIGINT NOT NULL);"
    "INSERT INTO meta(key, value) VALUES('format', '" GALLERY_FORMAT "'), ('schema', '2'),"
    "  ('created', extract(epoch FROM now())::bigint::text);";

static fr_status pg_prepare_schema(fr_gallery *g, int create, int *exists) {
    int64_t has_meta = 0;
    const char *query = "SELECT CASE WHEN to_regclass('meta') IS NULL THEN 0 ELSE 1 END::int8";
    fr_status st = db_query_int(g, query, NULL, 0, &has_meta, "reading the schema");
    if (st != FR_OK || has_meta) {
        *exists = 1;
        return st;
    }
    *exists = create;
    if (!create) return FR_OK;
    st = gallery_begin(g, "creating the gallery");
    if (st != FR_OK) return st;
    /* another process may be creating it at the same moment */
    st = gallery_exec(g, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", "creating the gallery");
    if (st == FR_OK) st = db_query_int(g, query, NULL, 0, &has_meta, "reading the schema");
    if (st == FR_OK && !has_meta) st = gallery_exec(g, schema_sql, "creating the gallery");
    return gallery_end(g, st, "creating the gallery");
}

static fr_status pg_migrate(fr_gallery *g, int from_version) {
    return fr_error(FR_E_DB, "%s: corrupt gallery: schema version %d", g->path, from_version);
}

static fr_status pg_scan_templates(fr_gallery *g, db_template_fn fn, void *ctx) {
    const char *what = "loading templates";
    fr_status st = ensure_connected(g, what);
    if (st != FR_OK) return st;
    PGconn *pq = conn(g)->pq;
    PGresult *res = PQexec(pq, "COPY (SELECT person_id, id, embedding FROM templates)"
                               " TO STDOUT (FORMAT binary)");
    int ok = PQresultStatus(res) == PGRES_COPY_OUT;
    if (!ok)
        st = PQstatus(pq) != CONNECTION_OK
                 ? unavailable(g, what)
                 : statement_error(g, res, what);
    PQclear(res);
    if (!ok) return st;
    pgcopy_reader reader = {.name = g->path, .fn = fn, .ctx = ctx};
    char *buffer;
    int n;
    /* after an error, read on to the end of the COPY so the connection stays usable */
    while ((n = PQgetCopyData(pq, &buffer, 0)) > 0) {
        if (st == FR_OK) st = pgcopy_feed(&reader, (const unsigned char *)buffer, (size_t)n);
        PQfreemem(buffer);
    }
    if (n == -2 && st == FR_OK) st = unavailable(g, what);
    while ((res = PQgetResult(pq))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && st == FR_OK)
            st = PQstatus(pq) != CONNECTION_OK
                     ? unavailable(g, what)
                     : statement_error(g, res, what);
        PQclear(res);
    }
    if (st == FR_OK) st = pgcopy_finish(&reader);
    pgcopy_free(&reader);
    return st;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static fr_status pg_wait_changes(fr_gallery *g, int timeout_ms) {
    const char *what = "waiting for changes";
    pg_conn *c = conn(g);
    if (PQstatus(c->pq) != CONNECTION_OK) {
        /* reconnected: changes may have been missed meanwhile, so the caller should refresh */
        fr_status st = ensure_connected(g, what);
        return st;
    }
    if (c->notified) {
        c->notified = 0;
        return FR_OK;
    }
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (!PQconsumeInput(c->pq)) return unavailable(g, what);
        if (drain_notifications(c->pq)) return FR_OK;
        int64_t left = deadline - now_ms();
        if (left <= 0) return FR_OK;
        struct pollfd pfd = {.fd = PQsocket(c->pq), .events = POLLIN};
        if (pfd.fd < 0) return unavailable(g, what);
        poll(&pfd, 1, (int)left);
    }
}

static fr_status pg_check(fr_gallery *g) {
    int64_t one;
    return db_query_int(g, "SELECT 1::int8", NULL, 0, &one, "checking the database");
}

const gallery_driver gallery_postgres_driver = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .query = pg_query,
    .step = pg_step,
    .column_int = pg_column_int,
    .column_real = pg_column_real,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .rows_free = pg_rows_free,
    .begin = pg_begin,
    .end = pg_end,
    .prepare_schema = pg_prepare_schema,
    .migrate = pg_migrate,
    .scan_templates = pg_scan_templates,
    /* sequence numbers are drawn and committed one writer at a time, so a reader that has
     * seen number n has seen every number before it */
    .lock_changes_sql = "LOCK TABLE changes IN SHARE ROW EXCLUSIVE MODE",
    .notify_sql = "NOTIFY " CHANNEL,
    .wait_changes = pg_wait_changes,
    .refresh_on_search = 0,
    .after_erase = NULL,
    .check = pg_check,
};
