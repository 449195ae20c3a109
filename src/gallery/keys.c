/* keys.c: API keys of a service over the gallery, stored as SHA-256 hashes with a role. The
 * table is made on first use, so galleries made before it keep working. */
#include "gallery/gallery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static fr_status ensure_keys_table(fr_gallery *g) {
    return gallery_exec(g,
                        "CREATE TABLE IF NOT EXISTS api_keys(id INTEGER PRIMARY KEY,"
                        "  sha256 BLOB NOT NULL UNIQUE, role TEXT NOT NULL"
                        "  CHECK(role IN ('recognize', 'admin')), label TEXT NOT NULL,"
                        "  created INTEGER NOT NULL)",
                        "making the API key table");
}

fr_status fr_gallery_key_add(fr_gallery *g, const uint8_t key_sha256[32], const char *role,
                             const char *label, int64_t *id) {
    if (!g || !key_sha256 || !role) return fr_error(FR_E_ARG, "fr_gallery_key_add: NULL argument");
    if (strcmp(role, "recognize") != 0 && strcmp(role, "admin") != 0)
        return fr_error(FR_E_ARG, "'%s': a key's role is recognize or admin", role);
    if (!label) label = "";
    if (strlen(label) >= sizeof ((fr_api_key *)0)->label)
        return fr_error(FR_E_ARG, "a key's label is at most %d bytes",
                        (int)sizeof ((fr_api_key *)0)->label - 1);
    fr_status st = ensure_keys_table(g);
    if (st != FR_OK) return st;
    sqlite3_stmt *stmt;
    st = gallery_prepare(g, "INSERT INTO api_keys(sha256, role, label, created) VALUES(?, ?, ?, ?)",
                         &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_blob(stmt, 1, key_sha256, 32, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, (int64_t)time(NULL));
    int rc = sqlite3_step(stmt);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) st = fr_error(FR_E_ARG, "%s: this key is stored already", g->path);
    else if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, "storing an API key");
    else if (id) *id = sqlite3_last_insert_rowid(g->db);
    sqlite3_finalize(stmt);
    return st;
}

fr_status fr_gallery_keys(fr_gallery *g, fr_api_key **keys, int *n_keys) {
    if (!g || !keys || !n_keys) return fr_error(FR_E_ARG, "fr_gallery_keys: NULL argument");
    *keys = NULL;
    *n_keys = 0;
    fr_status st = ensure_keys_table(g);
    sqlite3_stmt *stmt = NULL;
    if (st == FR_OK)
        st = gallery_prepare(g, "SELECT id, role, label, created FROM api_keys ORDER BY id", &stmt);
    if (st != FR_OK) return st;
    fr_api_key *list = NULL;
    int n = 0, cap = 0, rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            fr_api_key *grown = realloc(list, (size_t)cap * sizeof *list);
            if (!grown) {
                st = fr_error(FR_E_NOMEM, "%s: out of memory listing API keys", g->path);
                break;
            }
            list = grown;
        }
        fr_api_key *k = &list[n++];
        k->id = sqlite3_column_int64(stmt, 0);
        snprintf(k->role, sizeof k->role, "%s", (const char *)sqlite3_column_text(stmt, 1));
        snprintf(k->label, sizeof k->label, "%s", (const char *)sqlite3_column_text(stmt, 2));
        k->created = sqlite3_column_int64(stmt, 3);
    }
    if (st == FR_OK && rc != SQLITE_DONE) st = gallery_db_error(g, rc, "listing API keys");
    sqlite3_finalize(stmt);
    if (st != FR_OK) {
        free(list);
        return st;
    }
    *keys = list;
    *n_keys = n;
    return FR_OK;
}

fr_status fr_gallery_key_revoke(fr_gallery *g, int64_t id) {
    if (!g) return fr_error(FR_E_ARG, "fr_gallery_key_revoke: NULL gallery");
    fr_status st = ensure_keys_table(g);
    sqlite3_stmt *stmt;
    if (st == FR_OK) st = gallery_prepare(g, "DELETE FROM api_keys WHERE id = ?", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, "revoking an API key");
    else if (sqlite3_changes(g->db) == 0)
        st = fr_error(FR_E_NOT_FOUND, "%s: no API key with id %lld", g->path, (long long)id);
    sqlite3_finalize(stmt);
    return st;
}

fr_status fr_gallery_key_lookup(fr_gallery *g, const uint8_t key_sha256[32], int *found,
                                char *role, size_t role_size) {
    if (!g || !key_sha256 || !found) return fr_error(FR_E_ARG, "fr_gallery_key_lookup: NULL argument");
    *found = 0;
    fr_status st = ensure_keys_table(g);
    sqlite3_stmt *stmt;
    if (st == FR_OK) st = gallery_prepare(g, "SELECT role FROM api_keys WHERE sha256 = ?", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_blob(stmt, 1, key_sha256, 32, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *found = 1;
        if (role && role_size) snprintf(role, role_size, "%s", (const char *)sqlite3_column_text(stmt, 0));
    } else if (rc != SQLITE_DONE) {
        st = gallery_db_error(g, rc, "looking up an API key");
    }
    sqlite3_finalize(stmt);
    return st;
}
