/* test_backend.h: the database the gallery tests run against. The same test program runs
 * twice under ctest: on SQLite files, and on PostgreSQL when $FACEREC_TEST_POSTGRES holds a
 * connection URI (tests/with_postgres.sh starts a throwaway server and sets it). */
#ifndef FR_TEST_BACKEND_H
#define FR_TEST_BACKEND_H

#include "test.h"

#include <sqlite3.h>
#include <stdlib.h>
#ifdef FR_TEST_POSTGRES
#include <libpq-fe.h>
#endif

/* The PostgreSQL URI under test, or NULL on SQLite. */
static inline const char *test_postgres(void) {
    const char *uri = getenv("FACEREC_TEST_POSTGRES");
    return uri && *uri ? uri : NULL;
}

/* Run SQL on the gallery at `location` (a file or the URI) apart from facerec, as another
 * program would; 0 on success. */
static inline int test_sql(const char *location, const char *sql) {
#ifdef FR_TEST_POSTGRES
    if (test_postgres()) {
        PGconn *c = PQconnectdb(location);
        int ok = PQstatus(c) == CONNECTION_OK;
        PGresult *r = ok ? PQexec(c, sql) : NULL;
        ok = ok && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
        if (!ok) fprintf(stderr, "  test_sql: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return ok ? 0 : -1;
    }
#endif
    sqlite3 *db;
    int rc = sqlite3_open(location, &db);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* bytes as an SQL literal of the gallery's database: X'..' (SQLite) or '\x..'::bytea. */
static inline void test_blob_literal(const void *bytes, size_t n, char *out, size_t size) {
    const unsigned char *b = bytes;
    size_t at = (size_t)snprintf(out, size, test_postgres() ? "'\\x" : "X'");
    for (size_t i = 0; i < n && at + 3 < size; i++) at += (size_t)snprintf(out + at, size - at, "%02x", b[i]);
    snprintf(out + at, size - at, test_postgres() ? "'::bytea" : "'");
}

/* Whether an error message names the gallery at `location` (PostgreSQL: its server, and
 * never the password, which the test URI holds as ":facerec@"). */
static inline int test_names_gallery(const char *message, const char *location) {
    if (!test_postgres()) return strstr(message, location) != NULL;
    return strstr(message, "127.0.0.1") && !strstr(message, ":facerec@");
}

/* A fresh, empty gallery location for the case `name`: a new file on SQLite; on PostgreSQL
 * the test database with every table dropped. */
static inline const char *test_gallery(const char *name) {
    const char *uri = test_postgres();
    if (!uri) return test_fresh_db(name);
#ifdef FR_TEST_POSTGRES
    if (test_sql(uri, "SET client_min_messages = warning; DROP SCHEMA public CASCADE;"
                      " CREATE SCHEMA public") != 0)
        fprintf(stderr, "  could not empty the test database\n");
#endif
    return uri;
}

#endif
