/* changes.c: keeping a handle's index current with changes made through other handles (other
 * processes, other servers): the change log, written in the same transaction as each change,
 * read from the position the index was loaded at and applied to the index in place. */
#include "gallery/db.h"
#include "gallery/gallery.h"

#include <stdlib.h>
#include <string.h>

/* More people or templates to change than this, and the whole gallery is read instead (one
 * bulk read beats that many queries, and each change in place scans the index's rows). */
#define IN_PLACE_MAX 1000

/* ---- the people the index knows, by id ---------------------------------------------------- */

/* The position of `id` in the sorted ids, or where it would go (*found says which). */
static int person_at(const fr_gallery *g, int64_t id, int *found) {
    int lo = 0, hi = g->n_person_ids;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (g->person_ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    *found = lo < g->n_person_ids && g->person_ids[lo] == id;
    return lo;
}

static const char *person_name(const fr_gallery *g, int64_t id) {
    int found, at = person_at(g, id, &found);
    return found ? g->person_names[at] : NULL;
}

int gallery_person_set(fr_gallery *g, int64_t id, const char *name) {
    char *copy = strdup(name);
    if (!copy) return 0;
    int found, at = person_at(g, id, &found);
    if (found) {
        free(g->person_names[at]);
        g->person_names[at] = copy;
        return 1;
    }
    if (g->n_person_ids == g->person_ids_cap) {
        int cap = g->person_ids_cap ? 2 * g->person_ids_cap : 256;
        int64_t *ids = realloc(g->person_ids, (size_t)cap * sizeof *ids);
        if (ids) g->person_ids = ids;
        char **names = realloc(g->person_names, (size_t)cap * sizeof *names);
        if (names) g->person_names = names;
        if (!ids || !names) {
            free(copy);
            return 0;
        }
        g->person_ids_cap = cap;
    }
    int after = g->n_person_ids - at;
    memmove(g->person_ids + at + 1, g->person_ids + at, (size_t)after * sizeof *g->person_ids);
    memmove(g->person_names + at + 1, g->person_names + at, (size_t)after * sizeof *g->person_names);
    g->person_ids[at] = id;
    g->person_names[at] = copy;
    g->n_person_ids++;
    return 1;
}

void gallery_person_forget(fr_gallery *g, int64_t id) {
    int found, at = person_at(g, id, &found);
    if (!found) return;
    free(g->person_names[at]);
    int after = g->n_person_ids - at - 1;
    memmove(g->person_ids + at, g->person_ids + at + 1, (size_t)after * sizeof *g->person_ids);
    memmove(g->person_names + at, g->person_names + at + 1, (size_t)after * sizeof *g->person_names);
    g->n_person_ids--;
}

void gallery_people_clear(fr_gallery *g) {
    for (int i = 0; i < g->n_person_ids; i++) free(g->person_names[i]);
    free(g->person_ids);
    free(g->person_names);
    g->person_ids = NULL;
    g->person_names = NULL;
    g->n_person_ids = g->person_ids_cap = 0;
}

void gallery_own_change_done(fr_gallery *g, int64_t seq, int64_t previous) {
    if (g->index && previous == g->loaded_seq) g->loaded_seq = seq;
}

/* ---- catching up ------------------------------------------------------------------------- */

/* What the log says of one person since the index's position. */
typedef struct person_change {
    int64_t id;
    /* "enroll", "rename", "add_person", "remove": read their name and templates again (a
     * removed person's id may be given to a new one: SQLite reuses the highest) */
    int reread;
    /* as read again: their name (NULL if gone meanwhile) and templates */
    char *name;
    int64_t *template_ids;
    float *rows;
    int n_rows;
} person_change;

typedef struct removed_template {
    int64_t person, template_id;
} removed_template;

typedef struct change_set {
    person_change *people; /* sorted by id once read */
    int n_people, cap;
    removed_template *removed_templates;
    int n_removed_templates, removed_cap;
    int64_t n_changes;
    int everything; /* "copy": the whole gallery is new */
} change_set;

static void change_set_free(change_set *c) {
    for (int i = 0; i < c->n_people; i++) {
        free(c->people[i].name);
        free(c->people[i].template_ids);
        free(c->people[i].rows);
    }
    free(c->people);
    free(c->removed_templates);
}

/* Person id's entry: the last one if it is theirs, else a new one (merged by merge_people). */
static person_change *person_change_of(fr_gallery *g, change_set *c, int64_t id) {
    if (c->n_people > 0 && c->people[c->n_people - 1].id == id) return &c->people[c->n_people - 1];
    if (c->n_people == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        person_change *p = realloc(c->people, (size_t)cap * sizeof *p);
        if (!p) {
            fr_error(FR_E_NOMEM, "%s: out of memory reading the change log", g->path);
            return NULL;
        }
        c->people = p;
        c->cap = cap;
    }
    person_change *p = &c->people[c->n_people++];
    *p = (person_change){.id = id};
    return p;
}

/* The changes after seq `since` (in the caller's read snapshot), by person. */
static fr_status read_changes(fr_gallery *g, int64_t since, change_set *c) {
    db_rows *r;
    db_value param = db_int(since);
    fr_status st = db_query(g,
                            "SELECT kind, person_id, coalesce(template_id, 0) FROM changes"
                            " WHERE seq > $1 ORDER BY seq",
                            &param, 1, &r, NULL, "reading the change log");
    if (st != FR_OK) return st;
    int has_row = 0;
    while ((st = db_step(g, r, &has_row)) == FR_OK && has_row) {
        const char *kind = db_column_text(g, r, 0);
        int64_t template_id = db_column_int(g, r, 2);
        c->n_changes++;
        if (!strcmp(kind, "copy")) {
            c->everything = 1;
            continue;
        }
        person_change *p = person_change_of(g, c, db_column_int(g, r, 1));
        if (!p) {
            st = FR_E_NOMEM;
            break;
        }
        if (!strcmp(kind, "remove_template")) {
            if (c->n_removed_templates == c->removed_cap) {
                int cap = c->removed_cap ? 2 * c->removed_cap : 64;
                removed_template *t = realloc(c->removed_templates, (size_t)cap * sizeof *t);
                if (!t) {
                    st = fr_error(FR_E_NOMEM, "%s: out of memory reading the change log", g->path);
                    break;
                }
                c->removed_templates = t;
                c->removed_cap = cap;
            }
            c->removed_templates[c->n_removed_templates++] = (removed_template){p->id, template_id};
        } else if (!strcmp(kind, "enroll") || !strcmp(kind, "rename") || !strcmp(kind, "add_person") ||
                   !strcmp(kind, "remove")) {
            p->reread = 1;
        } else {
            st = fr_error(FR_E_DB, "%s: corrupt gallery: change log entry of unknown kind '%s'",
                          g->path, kind);
            break;
        }
    }
    db_rows_free(g, r);
    return st;
}

static int compare_person_change(const void *a, const void *b) {
    int64_t x = ((const person_change *)a)->id, y = ((const person_change *)b)->id;
    return (x > y) - (x < y);
}

/* Sort the people by id and make one entry of each person's entries. */
static void merge_people(change_set *c) {
    if (c->n_people < 2) return;
    qsort(c->people, (size_t)c->n_people, sizeof *c->people, compare_person_change);
    int n = 0;
    for (int i = 0; i < c->n_people; i++) {
        if (n > 0 && c->people[n - 1].id == c->people[i].id) {
            c->people[n - 1].reread |= c->people[i].reread;
        } else {
            c->people[n++] = c->people[i];
        }
    }
    c->n_people = n;
}

static const person_change *find_change(const change_set *c, int64_t id) {
    person_change key = {.id = id};
    return bsearch(&key, c->people, (size_t)c->n_people, sizeof *c->people, compare_person_change);
}

/* Read person p's name and templates as they are now (each template checked). */
static fr_status read_person(fr_gallery *g, person_change *p) {
    db_rows *r;
    db_value param = db_int(p->id);
    fr_status st = db_query(g, "SELECT name FROM people WHERE id = $1", &param, 1, &r, NULL,
                            "reading a changed person");
    if (st != FR_OK) return st;
    int has_row = 0;
    st = db_step(g, r, &has_row);
    if (st == FR_OK && has_row && !(p->name = strdup(db_column_text(g, r, 0))))
        st = fr_error(FR_E_NOMEM, "%s: out of memory reading a changed person", g->path);
    db_rows_free(g, r);
    if (st != FR_OK || !p->name) return st; /* gone meanwhile */
    st = db_query(g, "SELECT id, embedding FROM templates WHERE person_id = $1 ORDER BY id",
                  &param, 1, &r, NULL, "reading a changed person's templates");
    if (st != FR_OK) return st;
    int cap = 0;
    while ((st = db_step(g, r, &has_row)) == FR_OK && has_row) {
        if (p->n_rows == cap) {
            cap = cap ? 2 * cap : 8;
            int64_t *ids = realloc(p->template_ids, (size_t)cap * sizeof *ids);
            if (ids) p->template_ids = ids;
            float *rows = realloc(p->rows, (size_t)cap * (size_t)g->dim * sizeof *rows);
            if (rows) p->rows = rows;
            if (!ids || !rows) {
                st = fr_error(FR_E_NOMEM, "%s: out of memory reading a changed person", g->path);
                break;
            }
        }
        size_t bytes;
        const void *embedding = db_column_blob(g, r, 1, &bytes);
        p->template_ids[p->n_rows] = db_column_int(g, r, 0);
        st = gallery_check_template(g, p->template_ids[p->n_rows], p->name, embedding, bytes,
                                    p->rows + (size_t)p->n_rows * g->dim);
        if (st != FR_OK) break;
        p->n_rows++;
    }
    db_rows_free(g, r);
    return st;
}

/* Apply what was read: every changed person's old rows out first (a name given up by one may
 * be taken by another), then the removed templates, then the changed people's rows as they
 * are now. The index calls never fail (out of memory they drop the index). */
static fr_status apply_changes(fr_gallery *g, const change_set *c) {
    for (int i = 0; i < c->n_people; i++) {
        const person_change *p = &c->people[i];
        if (!p->reread) continue;
        const char *old = person_name(g, p->id);
        if (old) gallery_index_remove_person(g, old);
        gallery_person_forget(g, p->id);
    }
    for (int i = 0; i < c->n_removed_templates; i++) {
        const person_change *p = find_change(c, c->removed_templates[i].person);
        if (!p->reread) /* else their rows are out already */
            gallery_index_remove_template(g, c->removed_templates[i].template_id);
    }
    for (int i = 0; i < c->n_people; i++) {
        const person_change *p = &c->people[i];
        if (!p->name) continue;
        if (!gallery_person_set(g, p->id, p->name)) gallery_unload(g);
        if (p->n_rows) gallery_index_add(g, p->name, p->template_ids, p->rows, p->n_rows);
    }
    /* out of memory on the way: read everything again */
    return g->index ? FR_OK : gallery_load(g);
}

fr_status gallery_catch_up(fr_gallery *g, int64_t *n_applied) {
    if (n_applied) *n_applied = 0;
    if (!g->index) return gallery_load(g);
    int64_t latest = 0;
    fr_status st = gallery_last_change(g, &latest);
    if (st != FR_OK || latest == g->loaded_seq) return st;
    /* one snapshot: the log's position and what is read for it agree */
    st = gallery_read_begin(g, "applying changes");
    if (st != FR_OK) return st;
    change_set c = {0};
    st = gallery_last_change(g, &latest);
    /* a log trimmed past the index's position (or made anew) cannot say what changed */
    int reload = latest < g->loaded_seq || latest - g->loaded_seq > GALLERY_CHANGES_KEPT;
    if (st == FR_OK && !reload) st = read_changes(g, g->loaded_seq, &c);
    merge_people(&c);
    int64_t n_in_place = c.n_removed_templates;
    for (int i = 0; i < c.n_people; i++) n_in_place += c.people[i].reread;
    if (n_in_place > IN_PLACE_MAX || c.everything) reload = 1;
    for (int i = 0; st == FR_OK && !reload && i < c.n_people; i++)
        if (c.people[i].reread) st = read_person(g, &c.people[i]);
    st = gallery_end(g, st, "applying changes");
    int64_t n_changes = c.n_changes, since = g->loaded_seq;
    if (st == FR_OK && reload) {
        st = gallery_load(g);
        n_changes = g->loaded_seq > since ? g->loaded_seq - since : 0;
    } else if (st == FR_OK) {
        st = apply_changes(g, &c);
        if (st == FR_OK && g->loaded_seq < latest) g->loaded_seq = latest;
    }
    change_set_free(&c);
    if (st == FR_OK && n_applied) *n_applied = n_changes;
    return st;
}

fr_status fr_gallery_refresh(fr_gallery *g, int64_t *n_applied) {
    if (n_applied) *n_applied = 0;
    if (!g) return fr_error(FR_E_ARG, "fr_gallery_refresh: NULL gallery");
    return gallery_catch_up(g, n_applied);
}

fr_status fr_gallery_wait_changes(fr_gallery *g, int timeout_ms) {
    if (!g || timeout_ms < 0) return fr_error(FR_E_ARG, "fr_gallery_wait_changes: invalid arguments");
    return g->driver->wait_changes(g, timeout_ms);
}

fr_status fr_gallery_change_seq(fr_gallery *g, int64_t *loaded, int64_t *latest) {
    if (!g || !latest) return fr_error(FR_E_ARG, "fr_gallery_change_seq: NULL argument");
    if (loaded) *loaded = g->index ? g->loaded_seq : -1;
    return gallery_last_change(g, latest);
}
