/* search.c: exact nearest-neighbour search over every template. The templates are read once
 * into one contiguous matrix, grouped by person; probes are compared in tiles through one BLAS
 * product per tile (||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b), and each person keeps the
 * distance of their nearest template. */
#include "gallery/db.h"
#include "gallery/gallery.h"
#include "nn/distance.h"
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Probes compared per tile, and the tile size in floats (a few MB, cache-friendly). */
#define PROBE_BLOCK 256
#define TILE_FLOATS ((size_t)1 << 20)

void gallery_unload(fr_gallery *g) {
    free(g->tile);
    g->tile = NULL;
    for (int p = 0; g->names && p < g->n_people; p++) free(g->names[p]);
    free(g->names);
    free(g->matrix);
    free(g->sq_norms);
    free(g->person_start);
    g->names = NULL;
    g->matrix = g->sq_norms = NULL;
    g->person_start = NULL;
    g->n_people = 0;
    g->n_templates = 0;
    g->loaded = 0;
}

/* People in id order with their template counts: names, person_start, and their ids. */
static fr_status load_people(fr_gallery *g, int64_t **ids) {
    db_rows *r;
    fr_status st = db_query(g,
                            "SELECT p.id, p.name, count(*) FROM people p"
                            " JOIN templates t ON t.person_id = p.id GROUP BY p.id ORDER BY p.id",
                            NULL, 0, &r, NULL, "loading people");
    if (st != FR_OK) return st;
    int cap = 0, has_row = 0;
    *ids = NULL;
    g->person_start = malloc(sizeof(int64_t));
    if (!g->person_start) st = fr_error(FR_E_NOMEM, "%s: out of memory loading people", g->path);
    else g->person_start[0] = 0;
    while (st == FR_OK && (st = db_step(g, r, &has_row)) == FR_OK && has_row) {
        int n = g->n_people;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **names = realloc(g->names, (size_t)cap * sizeof *names);
            if (names) g->names = names;
            int64_t *starts = realloc(g->person_start, ((size_t)cap + 1) * sizeof *starts);
            if (starts) g->person_start = starts;
            int64_t *grown_ids = realloc(*ids, (size_t)cap * sizeof **ids);
            if (grown_ids) *ids = grown_ids;
            if (!names || !starts || !grown_ids) {
                st = fr_error(FR_E_NOMEM, "%s: out of memory loading people", g->path);
                break;
            }
        }
        (*ids)[n] = db_column_int(g, r, 0);
        g->names[n] = strdup(db_column_text(g, r, 1));
        if (!g->names[n]) {
            st = fr_error(FR_E_NOMEM, "%s: out of memory loading people", g->path);
            break;
        }
        g->person_start[n + 1] = g->person_start[n] + db_column_int(g, r, 2);
        g->n_people = n + 1;
    }
    db_rows_free(g, r);
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

/* Memory for the template matrix: a million templates fill 512 MB, which go on huge pages. */
static float *alloc_matrix(size_t bytes) {
    if (bytes < ((size_t)2 << 20)) return malloc(bytes ? bytes : 1);
    return nn_alloc_huge(&bytes);
}

/* Where the bulk read puts each template: its person's next row of the matrix. */
typedef struct template_sink {
    fr_gallery *g;
    const int64_t *ids;
    int64_t *next;
    int last;
    int64_t last_id, seen;
} template_sink;

static fr_status put_template(void *ctx, int64_t id, int64_t template_id, const void *embedding,
                              size_t bytes) {
    template_sink *s = ctx;
    fr_gallery *g = s->g;
    /* templates are mostly stored person after person: remember the last lookup */
    int p = s->last >= 0 && id == s->last_id ? s->last : find_person(s->ids, g->n_people, id);
    size_t row_bytes = (size_t)g->dim * sizeof(float);
    if (p < 0)
        return fr_error(FR_E_DB, "%s: corrupt gallery: template %lld belongs to person %lld, "
                        "who is not in the gallery", g->path, (long long)template_id, (long long)id);
    if (s->next[p] >= g->person_start[p + 1])
        return fr_error(FR_E_DB, "%s: the templates changed while loading", g->path);
    if (bytes != row_bytes)
        return fr_error(FR_E_DB, "%s: corrupt gallery: template %lld of '%s' has an embedding "
                        "of %zu bytes, expected %zu", g->path, (long long)template_id,
                        g->names[p], bytes, row_bytes);
    float *row = g->matrix + s->next[p] * g->dim;
    memcpy(row, embedding, row_bytes);
    /* one NaN would put this person at distance 0 from every face */
    int k = 0;
    while (k < g->dim && isfinite(row[k])) k++;
    if (k < g->dim)
        return fr_error(FR_E_DB, "%s: corrupt gallery: template %lld of '%s' holds a non-finite "
                        "value (%g at %d): remove '%s' and enroll them again", g->path,
                        (long long)template_id, g->names[p], (double)row[k], k, g->names[p]);
    s->next[p]++;
    s->last = p;
    s->last_id = id;
    s->seen++;
    return FR_OK;
}

/* Read every embedding in one bulk read straight into its person's rows of the matrix. */
static fr_status load_templates(fr_gallery *g, const int64_t *ids) {
    int64_t n = g->person_start[g->n_people];
    size_t bytes;
    if (!fr_mul_size((size_t)n, (size_t)g->dim * sizeof(float), &bytes))
        return fr_error(FR_E_LIMIT, "%s: too many templates to load", g->path);
    g->matrix = alloc_matrix(bytes);
    g->sq_norms = malloc(n ? (size_t)n * sizeof(float) : 1);
    int64_t *next = malloc(((size_t)g->n_people + 1) * sizeof *next);
    if (!g->matrix || !g->sq_norms || !next) {
        free(next);
        return fr_error(FR_E_NOMEM, "%s: out of memory loading %lld templates", g->path, (long long)n);
    }
    memcpy(next, g->person_start, (size_t)g->n_people * sizeof *next);
    template_sink sink = {.g = g, .ids = ids, .next = next, .last = -1};
    fr_status st = g->driver->scan_templates(g, put_template, &sink);
    if (st == FR_OK && sink.seen != n)
        st = fr_error(FR_E_DB, "%s: the templates changed while loading", g->path);
    free(next);
    if (st == FR_OK) nn_sq_norms(g->matrix, n, g->dim, g->sq_norms);
    return st;
}

fr_status gallery_ensure_loaded(fr_gallery *g) {
    fr_status st;
    if (g->loaded) {
        /* a database in another process's hands is only asked where that is a cheap local
         * read (SQLite); elsewhere fr_gallery_refresh brings the copy up to date */
        if (!g->driver->refresh_on_search) return FR_OK;
        int64_t seq;
        st = gallery_last_change(g, &seq);
        if (st != FR_OK || seq == g->loaded_seq) return st;
    }
    gallery_unload(g);
    /* one read transaction: the people, the templates and the change log's position come
     * from the same snapshot */
    st = gallery_read_begin(g, "loading the gallery");
    if (st != FR_OK) return st;
    int64_t *ids = NULL, seq = 0;
    st = gallery_last_change(g, &seq);
    if (st == FR_OK) st = load_people(g, &ids);
    if (st == FR_OK) st = load_templates(g, ids);
    free(ids);
    st = gallery_end(g, st, "loading the gallery");
    if (st != FR_OK) {
        gallery_unload(g);
        return st;
    }
    g->n_templates = g->person_start[g->n_people];
    g->loaded = 1;
    g->loaded_seq = seq;
    return FR_OK;
}

/* A bounded max-heap of (squared distance, person): the k nearest people seen so far. */
typedef struct nearest {
    float *d;
    int *person;
    int n, k;
} nearest;

/* Move entry i down to its place below larger parents. */
static void sift_down(nearest *h, int i) {
    float d = h->d[i];
    int person = h->person[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->d[c + 1] > h->d[c]) c++;
        if (h->d[c] <= d) break;
        h->d[i] = h->d[c];
        h->person[i] = h->person[c];
        i = c;
    }
    h->d[i] = d;
    h->person[i] = person;
}

static void nearest_push(nearest *h, float d, int person) {
    if (h->n == h->k) { /* full: replace the farthest if this one is nearer */
        if (d >= h->d[0]) return;
        h->d[0] = d;
        h->person[0] = person;
        sift_down(h, 0);
        return;
    }
    int i = h->n++;
    while (i > 0 && h->d[(i - 1) / 2] < d) {
        h->d[i] = h->d[(i - 1) / 2];
        h->person[i] = h->person[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->d[i] = d;
    h->person[i] = person;
}

/* Empty the heap into out[0..n) nearest first. */
static void nearest_drain(nearest *h, const fr_gallery *g, fr_match *out) {
    while (h->n > 0) {
        out[h->n - 1].name = g->names[h->person[0]];
        out[h->n - 1].distance = sqrtf(h->d[0]);
        h->n--;
        h->d[0] = h->d[h->n];
        h->person[0] = h->person[h->n];
        sift_down(h, 0);
    }
}

/* Search probes[0..np) (np <= PROBE_BLOCK) and fill their k-nearest heaps. `tile` holds
 * TILE_FLOATS floats, best[np] is scratch. */
static void search_block(const fr_gallery *g, const float *probes, const float *probe_sq, int np,
                         float *tile, float *best, nearest *heaps) {
    int64_t n = g->n_templates;
    int64_t tb = (int64_t)(TILE_FLOATS / (size_t)np);
    for (int i = 0; i < np; i++) best[i] = INFINITY;
    int person = 0;
    for (int64_t j0 = 0; j0 < n; j0 += tb) {
        int nb = (int)FR_MIN(tb, n - j0);
        nn_sq_distances(probes, probe_sq, np, g->matrix + j0 * g->dim, g->sq_norms + j0, nb,
                             g->dim, tile);
        /* the people whose rows meet [j0, j0 + nb); the first may have begun in an earlier tile */
        while (person < g->n_people && g->person_start[person] < j0 + nb) {
            int64_t s = FR_MAX(g->person_start[person], j0) - j0;
            int64_t e = FR_MIN(g->person_start[person + 1], j0 + nb) - j0;
            for (int i = 0; i < np; i++) {
                const float *row = tile + (size_t)i * nb;
                float m = best[i];
                for (int64_t j = s; j < e; j++) m = row[j] < m ? row[j] : m;
                best[i] = m;
            }
            if (g->person_start[person + 1] > j0 + nb) break; /* continues in the next tile */
            for (int i = 0; i < np; i++) {
                nearest_push(&heaps[i], best[i], person);
                best[i] = INFINITY;
            }
            person++;
        }
    }
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
    int kk = FR_MIN(k, g->n_people);
    if (kk == 0 || n_probes == 0) return FR_OK;

    int block = FR_MIN(n_probes, PROBE_BLOCK);
    if (!g->tile) g->tile = malloc(TILE_FLOATS * sizeof(float));
    float *tile = g->tile;
    float *probe_sq = malloc((size_t)block * sizeof(float));
    float *best = malloc((size_t)block * sizeof(float));
    nearest *heaps = calloc((size_t)block, sizeof *heaps);
    float *heap_d = malloc((size_t)block * (size_t)kk * sizeof(float));
    int *heap_person = malloc((size_t)block * (size_t)kk * sizeof(int));
    if (!tile || !probe_sq || !best || !heaps || !heap_d || !heap_person) {
        st = fr_error(FR_E_NOMEM, "%s: out of memory searching", g->path);
    } else {
        for (int i0 = 0; i0 < n_probes; i0 += block) {
            int np = FR_MIN(block, n_probes - i0);
            const float *p = probes + (size_t)i0 * g->dim;
            nn_sq_norms(p, np, g->dim, probe_sq);
            for (int i = 0; i < np; i++)
                heaps[i] = (nearest){heap_d + (size_t)i * kk, heap_person + (size_t)i * kk, 0, kk};
            search_block(g, p, probe_sq, np, tile, best, heaps);
            for (int i = 0; i < np; i++) nearest_drain(&heaps[i], g, matches + (size_t)(i0 + i) * k);
        }
        *n_found = kk;
    }
    free(probe_sq);
    free(best);
    free(heaps);
    free(heap_d);
    free(heap_person);
    return st;
}
