/* search.c: exact nearest-neighbour search over every template. The templates are read once
 * through the driver's bulk read into the in-memory index (index.c), which answers the
 * searches and follows this handle's own changes in place; changes made through other
 * connections come from the change log (changes.c). */
#include "gallery/db.h"
#include "gallery/gallery.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The people with templates, in id order, into the handle's id map; *n_templates their
 * template count. */
static fr_status load_people(fr_gallery *g, int64_t *n_templates) {
    db_rows *r;
    fr_status st = db_query(g,
                            "SELECT p.id, p.name, count(*) FROM people p"
                            " JOIN templates t ON t.person_id = p.id GROUP BY p.id ORDER BY p.id",
                            NULL, 0, &r, NULL, "loading people");
    if (st != FR_OK) return st;
    int has_row = 0;
    *n_templates = 0;
    while ((st = db_step(g, r, &has_row)) == FR_OK && has_row) {
        /* in id order: each one appends to the map */
        if (!gallery_person_set(g, db_column_int(g, r, 0), db_column_text(g, r, 1))) {
            st = fr_error(FR_E_NOMEM, "%s: out of memory loading people", g->path);
            break;
        }
        *n_templates += db_column_int(g, r, 2);
    }
    db_rows_free(g, r);
    return st;
}

/* The index of person `id` in the map (-1 if absent). */
static int find_person(const fr_gallery *g, int64_t id) {
    int lo = 0, hi = g->n_person_ids - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (g->person_ids[mid] == id) return mid;
        if (g->person_ids[mid] < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

fr_status gallery_check_template(fr_gallery *g, int64_t template_id, const char *person,
                                 const void *embedding, size_t bytes, float *row) {
    size_t row_bytes = (size_t)g->dim * sizeof(float);
    if (bytes != row_bytes)
        return fr_error(FR_E_DB, "%s: corrupt gallery: template %lld of '%s' has an embedding "
                        "of %zu bytes, expected %zu", g->path, (long long)template_id, person,
                        bytes, row_bytes);
    memcpy(row, embedding, row_bytes);
    /* one NaN would put this person at distance 0 from every face */
    int k = 0;
    while (k < g->dim && isfinite(row[k])) k++;
    if (k < g->dim)
        return fr_error(FR_E_DB, "%s: corrupt gallery: template %lld of '%s' holds a non-finite "
                        "value (%g at %d): remove '%s' and enroll them again", g->path,
                        (long long)template_id, person, (double)row[k], k, person);
    return FR_OK;
}

/* Where the bulk read puts each template: the index, under its person's name. */
typedef struct template_sink {
    fr_gallery *g;
    float *row;
    int last;
    int64_t last_id, seen, expected;
} template_sink;

static fr_status put_template(void *ctx, int64_t id, int64_t template_id, const void *embedding,
                              size_t bytes) {
    template_sink *s = ctx;
    fr_gallery *g = s->g;
    /* templates are mostly stored person after person: remember the last lookup */
    int p = s->last >= 0 && id == s->last_id ? s->last : find_person(g, id);
    if (p < 0)
        return fr_error(FR_E_DB, "%s: corrupt gallery: template %lld belongs to person %lld, "
                        "who is not in the gallery", g->path, (long long)template_id, (long long)id);
    if (++s->seen > s->expected)
        return fr_error(FR_E_DB, "%s: the templates changed while loading", g->path);
    fr_status st = gallery_check_template(g, template_id, g->person_names[p], embedding, bytes, s->row);
    /* consecutive rows of one person pass the same name pointer (the loader's shortcut) */
    if (st == FR_OK) st = gallery_index_load_rows(g, g->person_names[p], &template_id, s->row, 1);
    s->last = p;
    s->last_id = id;
    return st;
}

fr_status gallery_load(fr_gallery *g) {
    gallery_unload(g);
    gallery_people_clear(g);
    /* one read transaction: the people, the templates and the change log's position come
     * from the same snapshot */
    fr_status st = gallery_read_begin(g, "loading the gallery");
    if (st != FR_OK) return st;
    int64_t seq = 0, n_templates = 0;
    template_sink sink = {.g = g, .last = -1};
    st = gallery_last_change(g, &seq);
    if (st == FR_OK) st = load_people(g, &n_templates);
    if (st == FR_OK) st = gallery_index_start_load(g, n_templates);
    if (st == FR_OK) {
        sink.expected = n_templates;
        sink.row = malloc((size_t)g->dim * sizeof(float));
        if (!sink.row) st = fr_error(FR_E_NOMEM, "%s: out of memory loading templates", g->path);
    }
    if (st == FR_OK) st = g->driver->scan_templates(g, put_template, &sink);
    if (st == FR_OK && sink.seen != n_templates)
        st = fr_error(FR_E_DB, "%s: the templates changed while loading", g->path);
    free(sink.row);
    st = gallery_end(g, st, "loading the gallery");
    if (st == FR_OK) st = gallery_index_finish_load(g);
    if (st != FR_OK) {
        gallery_unload(g);
        return st;
    }
    g->loaded_seq = seq;
    return FR_OK;
}

fr_status gallery_ensure_loaded(fr_gallery *g) {
    if (!g->index) return gallery_load(g);
    /* a database in another process's hands is only asked where that is a cheap local read
     * (SQLite); elsewhere fr_gallery_refresh brings the index up to date */
    return g->driver->refresh_on_search ? gallery_catch_up(g, NULL) : FR_OK;
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
