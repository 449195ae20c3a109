/* copy.c: a whole gallery from one database into another (SQLite and PostgreSQL in either
 * direction) without computing any embedding again: the model binding, people, templates
 * with all they record, their images, the calibration and the API keys. */
#include "gallery/db.h"
#include "gallery/gallery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Templates read per query: a bounded amount of memory however large the gallery. */
#define CHUNK 10000

/* An old id -> new id table, filled in increasing order of old ids. */
typedef struct id_map {
    int64_t *old_ids, *new_ids;
    size_t n, cap;
} id_map;

static int map_add(id_map *m, int64_t old_id, int64_t new_id) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 1024;
        int64_t *a = realloc(m->old_ids, cap * sizeof *a);
        if (a) m->old_ids = a;
        int64_t *b = realloc(m->new_ids, cap * sizeof *b);
        if (b) m->new_ids = b;
        if (!a || !b) return 0;
        m->cap = cap;
    }
    m->old_ids[m->n] = old_id;
    m->new_ids[m->n++] = new_id;
    return 1;
}

static int64_t map_find(const id_map *m, int64_t old_id) {
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->old_ids[mid] == old_id) return m->new_ids[mid];
        if (m->old_ids[mid] < old_id) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

static void map_free(id_map *m) {
    free(m->old_ids);
    free(m->new_ids);
}

/* INSERT ... RETURNING id: the new row's id into *id. */
static fr_status insert_returning(fr_gallery *g, const char *sql, const db_value *params, int n,
                                  int64_t *id, const char *what) {
    db_rows *r;
    db_outcome outcome;
    fr_status st = db_query(g, sql, params, n, &r, &outcome, what);
    if (st != FR_OK) return st;
    int has_row = 0;
    if (outcome.constraint) st = fr_error(FR_E_DB, "%s: a duplicate while %s", g->path, what);
    else st = db_step(g, r, &has_row);
    if (st == FR_OK && has_row) *id = db_column_int(g, r, 0);
    for (int more = has_row; st == FR_OK && more;) st = db_step(g, r, &more);
    db_rows_free(g, r);
    return st;
}

static fr_status copy_people(fr_gallery *from, fr_gallery *to, id_map *people) {
    db_rows *r;
    fr_status st = db_query(from, "SELECT id, name, added FROM people ORDER BY id", NULL, 0, &r,
                            NULL, "reading people");
    int has_row = 0;
    while (st == FR_OK && (st = db_step(from, r, &has_row)) == FR_OK && has_row) {
        db_value params[2] = {db_text(db_column_text(from, r, 1)), db_int(db_column_int(from, r, 2))};
        int64_t id = 0;
        st = insert_returning(to, "INSERT INTO people(name, added) VALUES($1, $2) RETURNING id",
                              params, 2, &id, "copying people");
        if (st == FR_OK && !map_add(people, db_column_int(from, r, 0), id))
            st = fr_error(FR_E_NOMEM, "out of memory copying a gallery");
    }
    db_rows_free(from, r);
    return st;
}

static fr_status copy_templates(fr_gallery *from, fr_gallery *to, const id_map *people,
                                id_map *templates) {
    fr_status st = FR_OK;
    size_t row_bytes = (size_t)from->dim * sizeof(float);
    for (int64_t last = 0, got = CHUNK; st == FR_OK && got == CHUNK;) {
        db_rows *r;
        db_value params[2] = {db_int(last), db_int(CHUNK)};
        st = db_query(from,
                      "SELECT id, person_id, embedding, model, model_version, source, sha256,"
                      " x, y, w, h, quality, added FROM templates WHERE id > $1 ORDER BY id LIMIT $2",
                      params, 2, &r, NULL, "reading templates");
        int has_row = 0;
        got = 0;
        while (st == FR_OK && (st = db_step(from, r, &has_row)) == FR_OK && has_row) {
            int64_t id = db_column_int(from, r, 0), person = map_find(people, db_column_int(from, r, 1));
            size_t bytes, sha_bytes;
            const void *embedding = db_column_blob(from, r, 2, &bytes);
            const void *sha = db_column_blob(from, r, 6, &sha_bytes);
            if (!person || bytes != row_bytes || sha_bytes != 32) {
                st = fr_error(FR_E_DB, "%s: corrupt gallery: template %lld (its person, embedding "
                              "length or SHA-256)", from->path, (long long)id);
                break;
            }
            db_value values[12] = {db_int(person), db_blob(embedding, bytes),
                                   db_text(db_column_text(from, r, 3)), db_text(db_column_text(from, r, 4)),
                                   db_text(db_column_text(from, r, 5)), db_blob(sha, 32),
                                   db_real(db_column_real(from, r, 7)), db_real(db_column_real(from, r, 8)),
                                   db_real(db_column_real(from, r, 9)), db_real(db_column_real(from, r, 10)),
                                   db_real(db_column_real(from, r, 11)), db_int(db_column_int(from, r, 12))};
            int64_t new_id = 0;
            st = insert_returning(to,
                                  "INSERT INTO templates(person_id, embedding, model, model_version,"
                                  " source, sha256, x, y, w, h, quality, added)"
                                  " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                                  values, 12, &new_id, "copying templates");
            if (st == FR_OK && !map_add(templates, id, new_id))
                st = fr_error(FR_E_NOMEM, "out of memory copying a gallery");
            last = id;
            got++;
        }
        db_rows_free(from, r);
    }
    return st;
}

static fr_status copy_images(fr_gallery *from, fr_gallery *to, const id_map *templates) {
    db_rows *r;
    fr_status st = db_query(from, "SELECT template_id, data FROM template_images ORDER BY template_id",
                            NULL, 0, &r, NULL, "reading template images");
    int has_row = 0;
    while (st == FR_OK && (st = db_step(from, r, &has_row)) == FR_OK && has_row) {
        size_t size;
        const void *data = db_column_blob(from, r, 1, &size);
        int64_t id = map_find(templates, db_column_int(from, r, 0));
        if (!id) continue; /* an image of no template: nothing to show it for */
        db_value params[2] = {db_int(id), db_blob(data, size)};
        st = db_exec(to, "INSERT INTO template_images(template_id, data) VALUES($1, $2)", params, 2,
                     NULL, "copying template images");
    }
    db_rows_free(from, r);
    return st;
}

static fr_status copy_rest(fr_gallery *from, fr_gallery *to) {
    db_rows *r;
    fr_status st = db_query(from, "SELECT kind, p, distance FROM calibration", NULL, 0, &r, NULL,
                            "reading the calibration");
    int has_row = 0;
    while (st == FR_OK && (st = db_step(from, r, &has_row)) == FR_OK && has_row) {
        db_value params[3] = {db_text(db_column_text(from, r, 0)), db_real(db_column_real(from, r, 1)),
                              db_real(db_column_real(from, r, 2))};
        st = db_exec(to, "INSERT INTO calibration(kind, p, distance) VALUES($1, $2, $3)", params, 3,
                     NULL, "copying the calibration");
    }
    db_rows_free(from, r);
    r = NULL;
    if (st == FR_OK)
        st = db_query(from, "SELECT key, value FROM meta WHERE key LIKE 'calibration%'", NULL, 0,
                      &r, NULL, "reading the calibration");
    while (st == FR_OK && (st = db_step(from, r, &has_row)) == FR_OK && has_row)
        st = gallery_meta_set(to, db_column_text(from, r, 0), db_column_text(from, r, 1));
    db_rows_free(from, r);
    r = NULL;
    if (st == FR_OK)
        st = db_query(from, "SELECT sha256, role, label, created FROM api_keys ORDER BY id", NULL, 0,
                      &r, NULL, "reading API keys");
    while (st == FR_OK && (st = db_step(from, r, &has_row)) == FR_OK && has_row) {
        size_t size;
        const void *sha = db_column_blob(from, r, 0, &size);
        db_value params[4] = {db_blob(sha, size), db_text(db_column_text(from, r, 1)),
                              db_text(db_column_text(from, r, 2)), db_int(db_column_int(from, r, 3))};
        st = db_exec(to, "INSERT INTO api_keys(sha256, role, label, created) VALUES($1, $2, $3, $4)",
                     params, 4, NULL, "copying API keys");
    }
    db_rows_free(from, r);
    return st;
}

fr_status fr_gallery_copy(fr_gallery *from, fr_gallery *to, int64_t *n_templates) {
    if (n_templates) *n_templates = 0;
    if (!from || !to || from == to) return fr_error(FR_E_ARG, "fr_gallery_copy: two galleries needed");
    fr_status st = FR_OK;
    if (from->model[0]) st = fr_gallery_use_model(to, from->model, from->model_version, from->dim);
    if (st != FR_OK) return st;
    st = gallery_read_begin(from, "copying the gallery");
    if (st != FR_OK) return st;
    st = gallery_begin(to, "copying into the gallery");
    if (st != FR_OK) return gallery_end(from, st, "copying the gallery");
    int64_t n_people = 0;
    st = db_query_int(to, "SELECT count(*) FROM people", NULL, 0, &n_people, "counting people");
    if (st == FR_OK && n_people)
        st = fr_error(FR_E_ARG, "%s: holds people already: copy into an empty gallery", to->path);
    id_map people = {0}, templates = {0};
    if (st == FR_OK) st = copy_people(from, to, &people);
    if (st == FR_OK) st = copy_templates(from, to, &people, &templates);
    if (st == FR_OK) st = copy_images(from, to, &templates);
    if (st == FR_OK) st = copy_rest(from, to);
    /* one change for all of it: other handles read the whole gallery again */
    if (st == FR_OK && people.n) st = gallery_log_change(to, "copy", 0, 0, NULL, NULL);
    st = gallery_end(to, st, "copying into the gallery");
    gallery_end(from, FR_OK, "copying the gallery");
    if (st == FR_OK && n_templates) *n_templates = (int64_t)templates.n;
    map_free(&people);
    map_free(&templates);
    gallery_unload(to);
    return st;
}
