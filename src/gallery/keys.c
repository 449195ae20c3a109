/* keys.c: API keys of a service over the gallery, stored as SHA-256 hashes with a role. */
#include "gallery/db.h"
#include "gallery/gallery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

fr_status fr_gallery_key_add(fr_gallery *g, const uint8_t key_sha256[32], const char *role,
                             const char *label, int64_t *id) {
    if (!g || !key_sha256 || !role) return fr_error(FR_E_ARG, "fr_gallery_key_add: NULL argument");
    if (strcmp(role, "recognize") != 0 && strcmp(role, "admin") != 0)
        return fr_error(FR_E_ARG, "'%s': a key's role is recognize or admin", role);
    if (!label) label = "";
    if (strlen(label) >= sizeof ((fr_api_key *)0)->label)
        return fr_error(FR_E_ARG, "a key's label is at most %d bytes",
                        (int)sizeof ((fr_api_key *)0)->label - 1);
    db_value params[4] = {db_blob(key_sha256, 32), db_text(role), db_text(label),
                          db_int((int64_t)time(NULL))};
    db_rows *r;
    db_outcome outcome;
    fr_status st = db_query(g,
                            "INSERT INTO api_keys(sha256, role, label, created)"
                            " VALUES($1, $2, $3, $4) RETURNING id",
                            params, 4, &r, &outcome, "storing an API key");
    if (st != FR_OK) return st;
    if (outcome.constraint) return fr_error(FR_E_ARG, "%s: this key is stored already", g->path);
    int has_row = 0;
    st = db_step(g, r, &has_row);
    if (st == FR_OK && has_row && id) *id = db_column_int(g, r, 0);
    /* to the end of the statement (SQLite inserts as it steps) */
    for (int more = has_row; st == FR_OK && more;) st = db_step(g, r, &more);
    db_rows_free(g, r);
    return st;
}

fr_status fr_gallery_keys(fr_gallery *g, fr_api_key **keys, int *n_keys) {
    if (!g || !keys || !n_keys) return fr_error(FR_E_ARG, "fr_gallery_keys: NULL argument");
    *keys = NULL;
    *n_keys = 0;
    db_rows *r;
    fr_status st = db_query(g, "SELECT id, role, label, created FROM api_keys ORDER BY id", NULL, 0,
                            &r, NULL, "listing API keys");
    if (st != FR_OK) return st;
    fr_api_key *list = NULL;
    int n = 0, cap = 0, has_row = 0;
    while ((st = db_step(g, r, &has_row)) == FR_OK && has_row) {
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
        k->id = db_column_int(g, r, 0);
        snprintf(k->role, sizeof k->role, "%s", db_column_text(g, r, 1));
        snprintf(k->label, sizeof k->label, "%s", db_column_text(g, r, 2));
        k->created = db_column_int(g, r, 3);
    }
    db_rows_free(g, r);
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
    db_value param = db_int(id);
    db_outcome outcome;
    fr_status st = db_exec(g, "DELETE FROM api_keys WHERE id = $1", &param, 1, &outcome,
                           "revoking an API key");
    if (st == FR_OK && outcome.changes == 0)
        st = fr_error(FR_E_NOT_FOUND, "%s: no API key with id %lld", g->path, (long long)id);
    return st;
}

fr_status fr_gallery_key_lookup(fr_gallery *g, const uint8_t key_sha256[32], int *found,
                                char *role, size_t role_size) {
    if (!g || !key_sha256 || !found) return fr_error(FR_E_ARG, "fr_gallery_key_lookup: NULL argument");
    *found = 0;
    db_rows *r;
    db_value param = db_blob(key_sha256, 32);
    fr_status st = db_query(g, "SELECT role FROM api_keys WHERE sha256 = $1", &param, 1, &r, NULL,
                            "looking up an API key");
    if (st == FR_OK) st = db_step(g, r, found);
    if (st == FR_OK && *found && role && role_size)
        snprintf(role, role_size, "%s", db_column_text(g, r, 0));
    db_rows_free(g, r);
    return st;
}
