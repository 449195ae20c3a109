/* search.c: exact nearest-neighbour search over every template. The templates are read once
 * from the database into the in-memory index (index.c), which answers the searches and
 * follows this handle's own changes in place; a change by another connection (PRAGMA
 * data_version) has them read again. */
#include "gallery/gallery.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fr_status data_version(fr_gallery *g, sqlite3_int64 *version) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "PRAGMA data_version", &stmt);
    if (st != FR_OK) return st;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) *version = sqlite3_column_int64(stmt, 0);
    else st = gallery_db_error(g, rc, "checking for changes");
    sqlite3_finalize(stmt);
    return st;
}

/* The people with templates, in id order: their ids and names, and the template count. */
typedef struct people_list {
    int64_t *ids;
    char **names;
    int n;
    int64_t n_templates;
} people_list;

static void people_free(people_list *p) {
    for (int i = 0; i < p->n; i++) free(p->names[i]);
    free(p->names);
    free(p->ids);
}

static fr_status load_people(fr_gallery *g, people_list *out) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g,
                                   "SELECT p.id, p.name, count(*) FROM people p"
                                   " JOIN templates t ON t.person_id = p.id GROUP BY p.id ORDER BY p.id",
                                   &stmt);
    if (st != FR_OK) return st;
    int cap = 0, rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (out->n == cap) {
            cap = cap ? 2 * cap : 256;
            char **names = realloc(out->names, (size_t)cap * sizeof *names);
            if (names) out->names = names;
            int64_t *ids = realloc(out->ids, (size_t)cap * sizeof *ids);
            if (ids) out->ids = ids;
            if (!names || !ids) {
                st = fr_error(FR_E_NOMEM, "%s: out of memory loading people", g->path);
                break;
            }
        }
        out->ids[out->n] = sqlite3_column_int64(stmt, 0);
        out->names[out->n] = strdup((const char *)sqlite3_column_text(stmt, 1));
        if (!out->names[out->n]) {
            st = fr_error(FR_E_NOMEM, "%s: out of memory loading people", g->path);
            break;
        }
        out->n_templates += sqlite3_column_int64(stmt, 2);
        out->n++;
    }
    if (st == FR_OK && rc != SQLITE_DONE) st = gallery_db_error(g, rc, "loading people");
    sqlite3_finalize(stmt);
    return st;
}

/* The index of person `id` in the sorted ids (-1 if absent). */
static int find_person(const int64_t *ids, int n, int64_t id) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (ids[mid] == id) return mid;
        if (ids[mid] < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Read every embedding in one table scan into the index, each checked. */
static fr_status load_templates(fr_gallery *g, const people_list *people) {
    fr_status st = gallery_index_start_load(g, people->n_templates);
    if (st != FR_OK) return st;
    sqlite3_stmt *stmt;
    st = gallery_prepare(g, "SELECT person_id, embedding, id FROM templates", &stmt);
    int rc = SQLITE_DONE, last = -1;
    int64_t last_id = 0, seen = 0;
    int row_bytes = g->dim * (int)sizeof(float);
    float *row = malloc((size_t)row_bytes);
    if (st == FR_OK && !row) st = fr_error(FR_E_NOMEM, "%s: out of memory loading templates", g->path);
    while (st == FR_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(stmt, 0), template_id = sqlite3_column_int64(stmt, 2);
        /* templates are mostly stored person after person: remember the last lookup */
        int p = last >= 0 && id == last_id ? last : find_person(people->ids, people->n, id);
        int bytes = sqlite3_column_bytes(stmt, 1);
        if (p < 0) {
            st = fr_error(FR_E_DB, "%s: corrupt gallery: template %lld belongs to person %lld, "
                          "who is not in the gallery", g->path, (long long)template_id, (long long)id);
            break;
        }
        if (bytes != row_bytes) {
            st = fr_error(FR_E_DB, "%s: corrupt gallery: template %lld of '%s' has an embedding "
                          "of %d bytes, expected %d", g->path, (long long)template_id,
                          people->names[p], bytes, row_bytes);
            break;
        }
        memcpy(row, sqlite3_column_blob(stmt, 1), (size_t)row_bytes);
        /* one NaN would put this person at distance 0 from every face */
        int k = 0;
        while (k < g->dim && isfinite(row[k])) k++;
        if (k < g->dim) {
            st = fr_error(FR_E_DB, "%s: corrupt gallery: template %lld of '%s' holds a non-finite "
                          "value (%g at %d): remove '%s' and enroll them again", g->path,
                          (long long)template_id, people->names[p], (double)row[k], k,
                          people->names[p]);
            break;
        }
        if (++seen > people->n_templates) {
            st = fr_error(FR_E_DB, "%s: the templates changed while loading", g->path);
            break;
        }
        st = gallery_index_load_rows(g, people->names[p], &template_id, row, 1);
        last = p;
        last_id = id;
    }
    if (st == FR_OK && rc != SQLITE_DONE) st = gallery_db_error(g, rc, "loading templates");
    if (st == FR_OK && seen != people->n_templates)
        st = fr_error(FR_E_DB, "%s: the templates changed while loading", g->path);
    sqlite3_finalize(stmt);
    free(row);
    if (st == FR_OK) st = gallery_index_finish_load(g);
    return st;
}

fr_status gallery_ensure_loaded(fr_gallery *g) {
    sqlite3_int64 version = 0;
    fr_status st = data_version(g, &version);
    if (st != FR_OK) return st;
    if (g->index && version == g->loaded_data_version) return FR_OK;
    gallery_unload(g);
    /* one read transaction: the people and the templates come from the same snapshot */
    st = gallery_exec(g, "BEGIN", "loading the gallery");
    if (st != FR_OK) return st;
    people_list people = {0};
    st = load_people(g, &people);
    if (st == FR_OK) st = load_templates(g, &people);
    people_free(&people);
    sqlite3_exec(g->db, "COMMIT", NULL, NULL, NULL);
    if (st != FR_OK) {
        gallery_unload(g);
        return st;
    }
    g->loaded_data_version = version;
    return FR_OK;
}

fr_status fr_gallery_search(fr_gallery *g, const float *probes, int n_probes, int k,
                            fr_match *matches, int *n_found) {
    if (!g || !probes || !matches || !n_found || n_probes < 0 || k < 1)
        return fr_error(FR_E_ARG, "fr_gallery_search: invalid arguments");
    *n_found = 0;
    if (!g->model[0]) return fr_error(FR_E_ARG, "%s: the gallery is empty", g->path);
    for (int64_t i = 0; i < (int64_t)n_probes * g->dim; i++)
        if (!isfinite(probes[i]))
            return fr_error(FR_E_ARG, "%s: probe %lld holds a non-finite value", g->path,
                            (long long)(i / g->dim));
    fr_status st = gallery_ensure_loaded(g);
    if (st != FR_OK) return st;
    return gallery_index_search(g, probes, n_probes, k, matches, n_found, NULL);
}
