/* index.c: the gallery's in-memory search index, exact and fast (docs/ARCHITECTURE.md).
 *
 * Every template is kept twice: as stored (float32, the only values a distance is ever
 * reported from), and as 8-bit codes that a scan reads first. The codes follow a plan made
 * from the templates: their dimensions reordered by decreasing variance, the first `prefix`
 * of them (at least PREFIX_VARIANCE of the total variance) coded in one array that every
 * search streams, the rest in a second array read only for the rows the first one cannot rule
 * out. Each row's codes carry its scale and the norm of its coding error, so the scan gets a
 * proven lower bound of each row's distance (below); a row is examined in float32 only when
 * that bound does not exceed the k-th nearest person's distance found so far. The answer is
 * therefore exactly the float32 search's, whatever the codes lose.
 *
 * The bound, for probe q and row x (in the plan's order; P the prefix, S the rest):
 *   ||q - x||^2 = ||q_P - x_P||^2 + ||q_S - x_S||^2, and for each part (x^ = s c, the coded
 *   row; e = ||x - x^||, stored): ||q - x|| >= ||q - x^|| - e (triangle inequality).
 *   ||q - x^||^2 = ||q||^2 + ||x^||^2 - 2 q.x^, where q.x^ is computed in integers from the
 *   probe's own codes (q = t d + r, d its codes): q.x^ = t s (d.c) + r.x^, |r.x^| <= ||r|| ||x^||.
 *   First pass: the prefix's bound plus (||q_S|| - ||x_S||)^2 <= ||q_S - x_S||^2.
 *   Second pass: the prefix's bound plus the same bound from the rest's codes.
 * Both are lowered by a margin of (dim + 64) 2^-22 (||q||^2 + ||x||^2), far above the float32
 * rounding of these few operations and of the float32 distance itself (at most about
 * (dim / 16 + 6) 2^-24 of it, the distance summed in 16 partial sums).
 *
 * Rows are in no particular order: row_person names each one's person slot. Adding rows
 * appends them (their codes made with the current plan); removing one moves the last row into
 * its place. The plan is made again when the rows have doubled since it was made. */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "gallery/gallery.h"
#include "nn/kernels.h"
#include "nn/nn.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Measured on the bench's synthetic gallery in the default fusion's layout (192 dimensions
 * sharing 0.3 of the variance, 128 sharing 0.7): at 0.8 the bounds leave so many rows to the
 * second pass and the float32 re-rank that 1000 probes against 100k templates take 3x as long
 * as at 0.95, which codes every dimension there (bench rows search_*; 0.9: 1.5x). */
#define PREFIX_VARIANCE 0.95
#define CODE_ALIGN 64     /* code lengths are multiples of this (the widest kernel's step) */
#define CODE_MAX 127      /* codes are in [-127, 127], stored + 128 as unsigned bytes */
#define CODE_OFFSET 128
#define SCAN_BLOCK 256    /* rows whose first-pass bounds are computed at once */
#define PROBE_GROUP 8     /* probes searched together by one task (their rows read once) */
#define REPLAN_MIN_ROWS 1024
#define HASH_EMPTY (-1)
#define HASH_DELETED (-2)

struct gallery_index {
    int dim;
    int64_t n, cap;
    float *rows;           /* (cap, dim) as stored */
    int32_t *row_person;   /* (cap) person slot */
    int64_t *row_template; /* (cap) template id */
    /* the plan */
    int *order;            /* (dim) coded position i holds dimension order[i] */
    int prefix, prefix_bytes, suffix_bytes; /* dimensions, bytes per row of each code array */
    int64_t planned_rows;  /* rows when the plan was made; -1: loading, no codes yet */
    uint8_t *prefix_codes, *suffix_codes;   /* (cap, prefix_bytes), (cap, suffix_bytes) */
    /* per row: code scale, ||x^||, ||x - x^|| of the prefix and of the rest, ||x_S|| */
    float *p_scale, *p_norm, *p_err, *s_scale, *s_norm, *s_err, *s_exact_norm;
    /* people: slots 0 .. n_slots-1, a NULL name is a free slot (in free_slots) */
    char **names;
    int64_t *person_rows;
    int n_slots, slots_cap, n_people;
    int *free_slots, n_free;
    int *hash; /* open addressing (linear probing) of slots by name, hash_cap a power of 2 */
    int hash_cap, hash_used;
    const char *last_name; /* the loader's last name, and its slot */
    int last_slot;
};

/* ---- memory ----------------------------------------------------------------------------- */

/* Resize array *p to cap elements of elem bytes (large ones on huge pages where the system
 * gives them: a million templates take over a gigabyte, and fewer page faults load faster). */
static int grow(void **p, size_t elem, int64_t cap) {
    size_t bytes;
    if (!fr_mul_size((size_t)cap, elem, &bytes)) return 0;
    void *q = realloc(*p, bytes ? bytes : 1);
    if (!q) return 0;
    *p = q;
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)q + huge - 1) & ~(huge - 1), end = ((uintptr_t)q + bytes) & ~(huge - 1);
    if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE); /* only advice */
#endif
    return 1;
}

/* Room for `need` rows. */
static int reserve_rows(gallery_index *ix, int64_t need) {
    if (need <= ix->cap) return 1;
    int64_t cap = FR_MAX(FR_MAX(need, 2 * ix->cap), 1024);
    if (!grow((void **)&ix->rows, (size_t)ix->dim * sizeof(float), cap) ||
        !grow((void **)&ix->row_person, sizeof(int32_t), cap) ||
        !grow((void **)&ix->row_template, sizeof(int64_t), cap) ||
        !grow((void **)&ix->prefix_codes, (size_t)ix->prefix_bytes, cap) ||
        !grow((void **)&ix->suffix_codes, (size_t)ix->suffix_bytes, cap))
        return 0;
    float **meta[] = {&ix->p_scale, &ix->p_norm, &ix->p_err, &ix->s_scale,
                      &ix->s_norm,  &ix->s_err,  &ix->s_exact_norm};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        if (!grow((void **)meta[i], sizeof(float), cap)) return 0;
    ix->cap = cap;
    return 1;
}

static void index_free(gallery_index *ix) {
    if (!ix) return;
    for (int p = 0; p < ix->n_slots; p++) free(ix->names[p]);
    void *arrays[] = {ix->rows, ix->row_person, ix->row_template, ix->order, ix->prefix_codes,
                      ix->suffix_codes, ix->p_scale, ix->p_norm, ix->p_err, ix->s_scale,
                      ix->s_norm, ix->s_err, ix->s_exact_norm, ix->names, ix->person_rows,
                      ix->free_slots, ix->hash};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    free(ix);
}

void gallery_unload(fr_gallery *g) {
    index_free(g->index);
    g->index = NULL;
}

/* ---- people ------------------------------------------------------------------------------ */

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The hash position of `name`, or of the free place it would go to. */
static int hash_find(const gallery_index *ix, const char *name, int *slot) {
    uint32_t mask = (uint32_t)ix->hash_cap - 1;
    int free_at = -1;
    for (uint32_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        int s = ix->hash[i];
        if (s == HASH_EMPTY) {
            *slot = -1;
            return free_at >= 0 ? free_at : (int)i;
        }
        if (s == HASH_DELETED) {
            if (free_at < 0) free_at = (int)i;
        } else if (!strcmp(ix->names[s], name)) {
            *slot = s;
            return (int)i;
        }
    }
}

/* Rebuild the table at twice the people (kept at most half full, deleted marks included). */
static int hash_rebuild(gallery_index *ix) {
    int cap = 64;
    while (cap < 4 * (ix->n_people + 1)) cap *= 2;
    int *table = malloc((size_t)cap * sizeof *table);
    if (!table) return 0;
    for (int i = 0; i < cap; i++) table[i] = HASH_EMPTY;
    free(ix->hash);
    ix->hash = table;
    ix->hash_cap = cap;
    ix->hash_used = 0;
    for (int p = 0; p < ix->n_slots; p++) {
        if (!ix->names[p]) continue;
        int unused, at = hash_find(ix, ix->names[p], &unused);
        ix->hash[at] = p;
        ix->hash_used++;
    }
    return 1;
}

static int person_slot(gallery_index *ix, const char *name) {
    int slot;
    hash_find(ix, name, &slot);
    return slot;
}

/* The slot of `name`, created if new (-1: out of memory). */
static int person_slot_make(gallery_index *ix, const char *name) {
    int slot, at = hash_find(ix, name, &slot);
    if (slot >= 0) return slot;
    char *copy = strdup(name);
    if (!copy) return -1;
    if (ix->n_free > 0) {
        slot = ix->free_slots[--ix->n_free];
    } else {
        if (ix->n_slots == ix->slots_cap) {
            int cap = ix->slots_cap ? 2 * ix->slots_cap : 256;
            if (!grow((void **)&ix->names, sizeof(char *), cap) ||
                !grow((void **)&ix->person_rows, sizeof(int64_t), cap) ||
                !grow((void **)&ix->free_slots, sizeof(int), cap)) {
                free(copy);
                return -1;
            }
            ix->slots_cap = cap;
        }
        slot = ix->n_slots++;
    }
    ix->names[slot] = copy;
    ix->person_rows[slot] = 0;
    ix->n_people++;
    if (ix->hash[at] == HASH_EMPTY) ix->hash_used++;
    ix->hash[at] = slot;
    if (2 * ix->hash_used > ix->hash_cap && !hash_rebuild(ix)) return -1;
    return slot;
}

static void person_free(gallery_index *ix, int slot) {
    int unused, at = hash_find(ix, ix->names[slot], &unused);
    ix->hash[at] = HASH_DELETED;
    free(ix->names[slot]);
    ix->names[slot] = NULL;
    ix->free_slots[ix->n_free++] = slot;
    ix->n_people--;
}

/* ---- codes ------------------------------------------------------------------------------- */

/* Code v[order[0..n)] into out[0..bytes) (padding codes 0), with the scale s, ||s c|| and
 * ||v - s c||. */
static void encode(const float *v, const int *order, int n, int bytes, uint8_t *out,
                   float *scale, float *coded_norm, float *error) {
    float x[FR_MAX_EMBEDDING];
    float max_abs = 0;
    for (int i = 0; i < n; i++) {
        x[i] = v[order[i]];
        float a = fabsf(x[i]);
        max_abs = a > max_abs ? a : max_abs;
    }
    float s = max_abs / CODE_MAX, inv = 1 / s;
    /* all zeros, or so close to 0 that the step or its inverse leaves the float range: the
     * codes are 0 and the error term carries the whole row */
    if (!(s > 0) || !isfinite(inv)) s = 1, inv = 1;
    double coded = 0, err = 0;
    for (int i = 0; i < n; i++) {
        /* any rounding will do (the bounds use the codes as they are): half away from 0 */
        float y = x[i] * inv;
        int c = (int)(y + (y >= 0 ? 0.5f : -0.5f));
        c = FR_CLAMP(c, -CODE_MAX, CODE_MAX);
        out[i] = (uint8_t)(c + CODE_OFFSET);
        double coded_value = (double)s * c;
        coded += coded_value * coded_value;
        err += (x[i] - coded_value) * (x[i] - coded_value);
    }
    memset(out + n, CODE_OFFSET, (size_t)(bytes - n));
    *scale = s;
    *coded_norm = (float)sqrt(coded);
    /* rounded up: the bounds subtract it */
    *error = nextafterf((float)sqrt(err), INFINITY);
}

static void encode_row(gallery_index *ix, int64_t j) {
    const float *x = ix->rows + j * ix->dim;
    int suffix = ix->dim - ix->prefix;
    encode(x, ix->order, ix->prefix, ix->prefix_bytes, ix->prefix_codes + j * ix->prefix_bytes,
           &ix->p_scale[j], &ix->p_norm[j], &ix->p_err[j]);
    encode(x, ix->order + ix->prefix, suffix, ix->suffix_bytes,
           ix->suffix_codes + j * ix->suffix_bytes, &ix->s_scale[j], &ix->s_norm[j], &ix->s_err[j]);
    double exact = 0;
    for (int i = ix->prefix; i < ix->dim; i++) exact += (double)x[ix->order[i]] * x[ix->order[i]];
    ix->s_exact_norm[j] = (float)sqrt(exact);
}

typedef struct encode_job {
    gallery_index *ix;
    int64_t per_task;
} encode_job;

static void encode_task(void *ctx, int t) {
    encode_job *job = ctx;
    int64_t j0 = t * job->per_task, j1 = FR_MIN(job->ix->n, j0 + job->per_task);
    for (int64_t j = j0; j < j1; j++) encode_row(job->ix, j);
}

/* order[0..dim) = the dimensions by decreasing variance, the lower first on equal ones
 * (an insertion sort: dim is at most FR_MAX_EMBEDDING). */
static void order_by_variance(int *order, const double *var, int dim) {
    for (int i = 0; i < dim; i++) {
        int k = i;
        while (k > 0 && var[order[k - 1]] < var[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
}

/* Make the plan from the rows and code them all. */
static int plan(gallery_index *ix, int threads) {
    int dim = ix->dim;
    double *mean = calloc((size_t)dim, sizeof *mean), *var = calloc((size_t)dim, sizeof *var);
    if (!mean || !var) {
        free(mean);
        free(var);
        return 0;
    }
    for (int64_t j = 0; j < ix->n; j++)
        for (int i = 0; i < dim; i++) mean[i] += ix->rows[j * dim + i];
    double total = 0;
    for (int i = 0; i < dim; i++) mean[i] /= ix->n > 0 ? (double)ix->n : 1;
    for (int64_t j = 0; j < ix->n; j++)
        for (int i = 0; i < dim; i++) {
            double d = ix->rows[j * dim + i] - mean[i];
            var[i] += d * d;
        }
    for (int i = 0; i < dim; i++) total += var[i];
    order_by_variance(ix->order, var, dim);
    int prefix = 0;
    double covered = 0;
    while (prefix < dim && (total <= 0 || covered < PREFIX_VARIANCE * total))
        covered += var[ix->order[prefix++]];
    free(mean);
    free(var);
    prefix = FR_MIN(dim, (prefix + CODE_ALIGN - 1) / CODE_ALIGN * CODE_ALIGN);
    int prefix_bytes = (prefix + CODE_ALIGN - 1) / CODE_ALIGN * CODE_ALIGN;
    int suffix_bytes = (dim - prefix + CODE_ALIGN - 1) / CODE_ALIGN * CODE_ALIGN;
    if (ix->cap > 0 && (!grow((void **)&ix->prefix_codes, (size_t)prefix_bytes, ix->cap) ||
                        !grow((void **)&ix->suffix_codes, (size_t)suffix_bytes, ix->cap)))
        return 0;
    ix->prefix = prefix;
    ix->prefix_bytes = prefix_bytes;
    ix->suffix_bytes = suffix_bytes;
    ix->planned_rows = ix->n;
    encode_job job = {ix, 4096};
    nn_parallel_for(threads, (int)((ix->n + job.per_task - 1) / job.per_task), encode_task, &job);
    return 1;
}

/* ---- changes ----------------------------------------------------------------------------- */

/* Append n rows of person `name` (codes made unless loading). */
static int append(gallery_index *ix, const char *name, const int64_t *template_ids,
                  const float *rows, int n) {
    int slot = name == ix->last_name ? ix->last_slot : person_slot_make(ix, name);
    if (slot < 0 || !reserve_rows(ix, ix->n + n)) return 0;
    ix->last_name = name;
    ix->last_slot = slot;
    memcpy(ix->rows + ix->n * ix->dim, rows, (size_t)n * ix->dim * sizeof(float));
    for (int i = 0; i < n; i++) {
        ix->row_person[ix->n + i] = slot;
        ix->row_template[ix->n + i] = template_ids[i];
        if (ix->planned_rows >= 0) encode_row(ix, ix->n + i);
    }
    ix->n += n;
    ix->person_rows[slot] += n;
    return 1;
}

/* Move the last row into row j (the rows are one fewer). */
static void remove_row(gallery_index *ix, int64_t j) {
    int64_t last = --ix->n;
    ix->person_rows[ix->row_person[j]]--;
    if (j == last) return;
    memcpy(ix->rows + j * ix->dim, ix->rows + last * ix->dim, (size_t)ix->dim * sizeof(float));
    memcpy(ix->prefix_codes + j * ix->prefix_bytes, ix->prefix_codes + last * ix->prefix_bytes,
           (size_t)ix->prefix_bytes);
    memcpy(ix->suffix_codes + j * ix->suffix_bytes, ix->suffix_codes + last * ix->suffix_bytes,
           (size_t)ix->suffix_bytes);
    ix->row_person[j] = ix->row_person[last];
    ix->row_template[j] = ix->row_template[last];
    float *meta[] = {ix->p_scale, ix->p_norm, ix->p_err, ix->s_scale,
                     ix->s_norm,  ix->s_err,  ix->s_exact_norm};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) meta[i][j] = meta[i][last];
}

static gallery_index *index_new(int dim) {
    gallery_index *ix = calloc(1, sizeof *ix);
    if (!ix) return NULL;
    ix->dim = dim;
    ix->order = malloc((size_t)dim * sizeof *ix->order);
    if (!ix->order || !hash_rebuild(ix)) {
        index_free(ix);
        return NULL;
    }
    ix->planned_rows = -1;
    ix->last_slot = -1;
    return ix;
}

fr_status gallery_index_start_load(fr_gallery *g, int64_t n_rows) {
    gallery_unload(g);
    g->index = index_new(g->dim);
    if (!g->index || !reserve_rows(g->index, n_rows))
        return fr_error(FR_E_NOMEM, "%s: out of memory loading %lld templates", g->path,
                        (long long)n_rows);
    return FR_OK;
}

fr_status gallery_index_load_rows(fr_gallery *g, const char *person, const int64_t *template_ids,
                                  const float *rows, int n) {
    if (!append(g->index, person, template_ids, rows, n))
        return fr_error(FR_E_NOMEM, "%s: out of memory loading the templates", g->path);
    return FR_OK;
}

fr_status gallery_index_finish_load(fr_gallery *g) {
    g->index->last_name = NULL;
    if (!plan(g->index, nn_resolve_threads(g->threads)))
        return fr_error(FR_E_NOMEM, "%s: out of memory indexing the templates", g->path);
    return FR_OK;
}

void gallery_index_add(fr_gallery *g, const char *person, const int64_t *template_ids,
                       const float *rows, int n) {
    gallery_index *ix = g->index;
    if (!ix) return;
    ix->last_name = NULL;
    int ok = append(ix, person, template_ids, rows, n);
    if (ok && ix->n > 2 * ix->planned_rows + REPLAN_MIN_ROWS)
        ok = plan(ix, nn_resolve_threads(g->threads));
    if (!ok) gallery_unload(g); /* the next search loads it again */
}

void gallery_index_remove_person(fr_gallery *g, const char *person) {
    gallery_index *ix = g->index;
    if (!ix) return;
    int slot = person_slot(ix, person);
    if (slot < 0) return;
    for (int64_t j = ix->n - 1; j >= 0 && ix->person_rows[slot] > 0; j--)
        if (ix->row_person[j] == slot) remove_row(ix, j);
    person_free(ix, slot);
}

void gallery_index_rename_person(fr_gallery *g, const char *old_name, const char *new_name) {
    gallery_index *ix = g->index;
    if (!ix) return;
    int slot = person_slot(ix, old_name);
    if (slot < 0) return;
    char *copy = strdup(new_name);
    if (!copy) {
        gallery_unload(g);
        return;
    }
    int unused, at = hash_find(ix, old_name, &unused);
    ix->hash[at] = HASH_DELETED;
    free(ix->names[slot]);
    ix->names[slot] = copy;
    at = hash_find(ix, copy, &unused);
    if (ix->hash[at] == HASH_EMPTY) ix->hash_used++;
    ix->hash[at] = slot;
    if (2 * ix->hash_used > ix->hash_cap && !hash_rebuild(ix)) gallery_unload(g);
}

void gallery_index_remove_template(fr_gallery *g, int64_t template_id) {
    gallery_index *ix = g->index;
    if (!ix) return;
    for (int64_t j = 0; j < ix->n; j++) {
        if (ix->row_template[j] != template_id) continue;
        int slot = ix->row_person[j];
        remove_row(ix, j);
        if (ix->person_rows[slot] == 0) person_free(ix, slot); /* no template left to search */
        return;
    }
}

int64_t gallery_index_templates(const fr_gallery *g) { return g->index ? g->index->n : 0; }

size_t gallery_index_bytes_per_template(const fr_gallery *g) {
    const gallery_index *ix = g->index;
    if (!ix) return 0;
    return (size_t)ix->dim * sizeof(float) + sizeof(int32_t) + sizeof(int64_t) +
           (size_t)ix->prefix_bytes + (size_t)ix->suffix_bytes + 7 * sizeof(float);
}

int gallery_index_prefix(const fr_gallery *g) { return g->index ? g->index->prefix : 0; }

size_t gallery_index_first_pass_bytes(const fr_gallery *g) {
    /* the prefix codes, and p_scale, p_norm, p_err, s_exact_norm */
    return g->index ? (size_t)g->index->prefix_bytes + 4 * sizeof(float) : 0;
}

/* ---- search ------------------------------------------------------------------------------ */

/* A probe as the bounds use it: its codes in the plan's order and their residuals. */
typedef struct probe_codes {
    const float *q;
    int8_t *prefix, *suffix;      /* codes */
    float p_scale, s_scale;       /* code scales */
    float p_residual, s_residual; /* ||q - t d|| of each part */
    float p_sq, s_sq, s_norm;     /* ||q_P||^2, ||q_S||^2, ||q_S|| */
    int32_t p_offset, s_offset;   /* CODE_OFFSET * sum of the codes: the unsigned rows' excess */
    float sq;                     /* ||q||^2 */
    float margin_rate;
} probe_codes;

static void code_part(const float *q, const int *order, int n, int bytes, int8_t *codes,
                      float *scale, float *residual, float *sq, int32_t *offset) {
    float max_abs = 0;
    for (int i = 0; i < n; i++) max_abs = FR_MAX(max_abs, fabsf(q[order[i]]));
    float t = max_abs > 0 ? max_abs / CODE_MAX : 1, inv = 1 / t;
    double r = 0, s = 0;
    int32_t sum = 0;
    for (int i = 0; i < n; i++) {
        float x = q[order[i]], y = x * inv;
        int c = (int)(y + (y >= 0 ? 0.5f : -0.5f));
        c = FR_CLAMP(c, -CODE_MAX, CODE_MAX);
        codes[i] = (int8_t)c;
        sum += c;
        double rest = x - (double)t * c;
        r += rest * rest;
        s += (double)x * x;
    }
    memset(codes + n, 0, (size_t)(bytes - n));
    *scale = t;
    *residual = nextafterf((float)sqrt(r), INFINITY); /* rounded up: the bounds subtract it */
    *sq = (float)s;
    *offset = CODE_OFFSET * sum;
}

static void probe_prepare(const gallery_index *ix, const float *q, int8_t *codes, probe_codes *pc) {
    pc->q = q;
    pc->prefix = codes;
    pc->suffix = codes + ix->prefix_bytes;
    code_part(q, ix->order, ix->prefix, ix->prefix_bytes, pc->prefix, &pc->p_scale,
              &pc->p_residual, &pc->p_sq, &pc->p_offset);
    code_part(q, ix->order + ix->prefix, ix->dim - ix->prefix, ix->suffix_bytes, pc->suffix,
              &pc->s_scale, &pc->s_residual, &pc->s_sq, &pc->s_offset);
    pc->s_norm = sqrtf(pc->s_sq);
    pc->sq = pc->p_sq + pc->s_sq;
    pc->margin_rate = (float)(ix->dim + 64) * 0x1p-22f;
}

/* The lower bound of ||q - x|| of one part from its codes' dot product (see the top). */
static inline float part_bound(float q_sq, float x_coded_norm, float x_err, float scales,
                               int32_t dot, float residual) {
    float a = q_sq + x_coded_norm * x_coded_norm - 2 * scales * (float)dot;
    float low = a - 2 * residual * x_coded_norm;
    float root = sqrtf(low > 0 ? low : 0) - x_err;
    return root > 0 ? root * root : 0;
}

/* The k nearest people so far: a max-heap of (distance, slot), the larger slot the farther on
 * equal distances; pos[slot] is a person's place in it (-1: not in it). */
typedef struct top_k {
    float *d;
    int32_t *person;
    int n, k;
    int32_t *pos;
} top_k;

static inline int farther(float da, int32_t pa, float db, int32_t pb) {
    return da > db || (da == db && pa > pb);
}

static void heap_set(top_k *h, int i, float d, int32_t p) {
    h->d[i] = d;
    h->person[i] = p;
    h->pos[p] = i;
}

static void sift_down(top_k *h, int i) {
    float d = h->d[i];
    int32_t p = h->person[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && farther(h->d[c + 1], h->person[c + 1], h->d[c], h->person[c])) c++;
        if (!farther(h->d[c], h->person[c], d, p)) break;
        heap_set(h, i, h->d[c], h->person[c]);
        i = c;
    }
    heap_set(h, i, d, p);
}

/* Person p is at distance d or nearer. */
static void heap_offer(top_k *h, float d, int32_t p) {
    int i = h->pos[p];
    if (i >= 0) { /* already in: keep the nearer distance (moving down a max-heap) */
        if (d < h->d[i]) {
            h->d[i] = d;
            sift_down(h, i);
        }
        return;
    }
    if (h->n == h->k) {
        if (!farther(h->d[0], h->person[0], d, p)) return;
        h->pos[h->person[0]] = -1;
        heap_set(h, 0, d, p);
        sift_down(h, 0);
        return;
    }
    i = h->n++;
    while (i > 0 && farther(d, p, h->d[(i - 1) / 2], h->person[(i - 1) / 2])) {
        heap_set(h, i, h->d[(i - 1) / 2], h->person[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(h, i, d, p);
}

static inline float heap_bound(const top_k *h) { return h->n == h->k ? h->d[0] : INFINITY; }

/* The best bound any task has found for the same probe (a float's bits: non-negative floats
 * order as their bits do). Any task's k-th distance bounds the final k-th from above. */
static float shared_get(atomic_uint *shared) {
    unsigned bits = atomic_load_explicit(shared, memory_order_relaxed);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void shared_lower(atomic_uint *shared, float f) {
    unsigned bits, old = atomic_load_explicit(shared, memory_order_relaxed);
    memcpy(&bits, &f, sizeof bits);
    while (bits < old &&
           !atomic_compare_exchange_weak_explicit(shared, &old, bits, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

/* The first pass's bound of row j from its prefix codes' dot product; its prefix part and
 * margin, which the second pass reuses, into *prefix_part and *margin. */
static inline float first_bound(const gallery_index *ix, const probe_codes *pc, int64_t j,
                                int32_t dot, float *prefix_part, float *margin) {
    float pn = ix->p_norm[j], pe = ix->p_err[j], sn = ix->s_exact_norm[j];
    *prefix_part = part_bound(pc->p_sq, pn, pe, pc->p_scale * ix->p_scale[j], dot - pc->p_offset,
                              pc->p_residual);
    *margin = pc->margin_rate * (pc->sq + (pn + pe) * (pn + pe) + sn * sn);
    return *prefix_part + (pc->s_norm - sn) * (pc->s_norm - sn) - *margin;
}

/* The second pass's bound of row j: the prefix part and the bound from the rest's codes. */
static float second_bound(const gallery_index *ix, const nn_kernel_table *kern,
                          const probe_codes *pc, int64_t j, float prefix_part, float margin) {
    if (ix->dim == ix->prefix) return prefix_part - margin;
    int32_t dot;
    const int8_t *suffix = pc->suffix;
    kern->dot_u8s8(&suffix, 1, ix->suffix_codes + j * ix->suffix_bytes, 0, ix->suffix_bytes, 1,
                   &dot);
    return prefix_part - margin + part_bound(pc->s_sq, ix->s_norm[j], ix->s_err[j],
                                             pc->s_scale * ix->s_scale[j], dot - pc->s_offset,
                                             pc->s_residual);
}

/* One probe being searched: its codes, its k nearest so far, and the bound shared with the
 * other tasks searching it. */
typedef struct lane {
    probe_codes pc;
    top_k heap;
    atomic_uint *shared;
} lane;

/* Scan rows [r0, r1) for n_lanes (at most PROBE_GROUP) probes at once: each block of rows is
 * read from memory once, and its codes' dot products with every probe computed in one kernel
 * call, which reads each row once for several probes. */
static void scan(const gallery_index *ix, const nn_kernel_table *kern, lane *lanes, int n_lanes,
                 int64_t r0, int64_t r1, int64_t *examined) {
    int32_t dots[PROBE_GROUP * SCAN_BLOCK]; /* (n_lanes, nb) */
    float bound[SCAN_BLOCK], prefix_part[SCAN_BLOCK], margin[SCAN_BLOCK];
    const int8_t *codes[PROBE_GROUP];
    for (int l = 0; l < n_lanes; l++) codes[l] = lanes[l].pc.prefix;
    for (int64_t b0 = r0; b0 < r1; b0 += SCAN_BLOCK) {
        int nb = (int)FR_MIN(SCAN_BLOCK, r1 - b0);
        kern->dot_u8s8(codes, n_lanes, ix->prefix_codes + b0 * ix->prefix_bytes, ix->prefix_bytes,
                       ix->prefix_bytes, nb, dots);
        for (int l = 0; l < n_lanes; l++) {
            const probe_codes *pc = &lanes[l].pc;
            top_k *h = &lanes[l].heap;
            /* vectorised (CMakeLists.txt: this file's flags) */
            for (int i = 0; i < nb; i++)
                bound[i] = first_bound(ix, pc, b0 + i, dots[l * nb + i], &prefix_part[i],
                                       &margin[i]);
            float tau = FR_MIN(heap_bound(h), shared_get(lanes[l].shared));
            for (int i = 0; i < nb; i++) {
                int64_t j = b0 + i;
                if (bound[i] > tau ||
                    second_bound(ix, kern, pc, j, prefix_part[i], margin[i]) > tau)
                    continue;
                (*examined)++;
                heap_offer(h, kern->sq_distance(pc->q, ix->rows + j * ix->dim, ix->dim),
                           ix->row_person[j]);
                float now = heap_bound(h);
                if (now < tau) {
                    tau = now;
                    shared_lower(lanes[l].shared, now);
                }
            }
        }
    }
}

fr_status gallery_index_check_bounds(fr_gallery *g, const float *probe, int64_t *violations,
                                     double *tightest) {
    const gallery_index *ix = g->index;
    const nn_kernel_table *kern = nn_kernels();
    int8_t *codes = malloc((size_t)(ix->prefix_bytes + ix->suffix_bytes));
    if (!codes) return fr_error(FR_E_NOMEM, "%s: out of memory", g->path);
    probe_codes pc;
    probe_prepare(ix, probe, codes, &pc);
    *violations = 0;
    *tightest = INFINITY;
    for (int64_t j = 0; j < ix->n; j++) {
        int32_t dot;
        float prefix_part, margin;
        const int8_t *prefix = pc.prefix;
        kern->dot_u8s8(&prefix, 1, ix->prefix_codes + j * ix->prefix_bytes, 0, ix->prefix_bytes,
                       1, &dot);
        float first = first_bound(ix, &pc, j, dot, &prefix_part, &margin);
        float second = second_bound(ix, kern, &pc, j, prefix_part, margin);
        float d = kern->sq_distance(probe, ix->rows + j * ix->dim, ix->dim);
        *violations += (first > d) + (second > d);
        if (d > 0) *tightest = FR_MIN(*tightest, (d - second) / d);
    }
    free(codes);
    return FR_OK;
}

typedef struct scored {
    float d;
    int32_t person;
} scored;

static int compare_person_then_distance(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->person != y->person) return (x->person > y->person) - (x->person < y->person);
    return (x->d > y->d) - (x->d < y->d);
}

static int compare_distance_then_person(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->d != y->d) return (x->d > y->d) - (x->d < y->d);
    return (x->person > y->person) - (x->person < y->person);
}

/* The kk nearest people of all[0..n) (several entries of one person allowed: their nearest
 * counts), nearest first and on equal distances the lower slot first, into out. */
static void finish(const gallery_index *ix, scored *all, int n, int kk, fr_match *out) {
    qsort(all, (size_t)n, sizeof *all, compare_person_then_distance);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || all[m - 1].person != all[i].person) all[m++] = all[i];
    qsort(all, (size_t)m, sizeof *all, compare_distance_then_person);
    for (int i = 0; i < kk && i < m; i++) {
        out[i].name = ix->names[all[i].person];
        out[i].distance = sqrtf(all[i].d);
    }
}

static void heap_clear(top_k *h) {
    for (int i = 0; i < h->n; i++) h->pos[h->person[i]] = -1;
    h->n = 0;
}


/* One task's state: its lanes and their scratch. */
typedef struct search_task {
    lane lanes[PROBE_GROUP];
    int8_t *codes[PROBE_GROUP];   /* each probe's codes */
    atomic_uint own[PROBE_GROUP]; /* the lanes' bounds when no other task shares the probe */
    scored *entries;              /* (k) a heap's entries, to sort */
    int64_t examined;
} search_task;

typedef struct search_job {
    const gallery_index *ix;
    const nn_kernel_table *kern;
    const float *probes;
    int n_probes, k, kk, n_tasks, lanes_per_task;
    int split_rows; /* one probe, its rows split over the tasks; else the probes are split */
    search_task *tasks;
    atomic_uint shared; /* for split_rows */
    fr_match *matches;
} search_job;

#define INFINITY_BITS 0x7f800000u

static void search_task_run(void *ctx, int t) {
    search_job *job = ctx;
    const gallery_index *ix = job->ix;
    search_task *task = &job->tasks[t];
    if (job->split_rows) {
        int64_t per = (ix->n + job->n_tasks - 1) / job->n_tasks;
        probe_prepare(ix, job->probes, task->codes[0], &task->lanes[0].pc);
        task->lanes[0].shared = &job->shared;
        scan(ix, job->kern, task->lanes, 1, t * per, FR_MIN(ix->n, (t + 1) * per),
             &task->examined);
        return;
    }
    int per = (job->n_probes + job->n_tasks - 1) / job->n_tasks;
    int end = FR_MIN(job->n_probes, (t + 1) * per);
    for (int i0 = t * per; i0 < end; i0 += job->lanes_per_task) {
        int n_lanes = FR_MIN(job->lanes_per_task, end - i0);
        for (int l = 0; l < n_lanes; l++) {
            probe_prepare(ix, job->probes + (size_t)(i0 + l) * ix->dim, task->codes[l],
                          &task->lanes[l].pc);
            atomic_init(&task->own[l], INFINITY_BITS);
            task->lanes[l].shared = &task->own[l];
        }
        scan(ix, job->kern, task->lanes, n_lanes, 0, ix->n, &task->examined);
        for (int l = 0; l < n_lanes; l++) {
            top_k *h = &task->lanes[l].heap;
            for (int e = 0; e < h->n; e++) task->entries[e] = (scored){h->d[e], h->person[e]};
            finish(ix, task->entries, h->n, job->kk, job->matches + (size_t)(i0 + l) * job->k);
            heap_clear(h);
        }
    }
}

static int task_alloc(search_task *task, const gallery_index *ix, int n_lanes, int kk) {
    size_t slots = (size_t)FR_MAX(ix->n_slots, 1);
    task->entries = malloc((size_t)kk * sizeof(scored));
    int ok = task->entries != NULL;
    for (int l = 0; l < n_lanes; l++) {
        top_k *h = &task->lanes[l].heap;
        *h = (top_k){malloc((size_t)kk * sizeof(float)), malloc((size_t)kk * sizeof(int32_t)), 0,
                     kk, malloc(slots * sizeof(int32_t))};
        task->codes[l] = malloc((size_t)(ix->prefix_bytes + ix->suffix_bytes));
        ok &= h->d && h->person && h->pos && task->codes[l];
        if (h->pos) memset(h->pos, 0xff, slots * sizeof(int32_t)); /* -1: in no heap */
    }
    return ok;
}

static void task_free(search_task *task, int n_lanes) {
    for (int l = 0; l < n_lanes; l++) {
        free(task->lanes[l].heap.d);
        free(task->lanes[l].heap.person);
        free(task->lanes[l].heap.pos);
        free(task->codes[l]);
    }
    free(task->entries);
}

fr_status gallery_index_search(fr_gallery *g, const float *probes, int n_probes, int k,
                               fr_match *matches, int *n_found, int64_t *examined) {
    const gallery_index *ix = g->index;
    int kk = FR_MIN(k, ix->n_people);
    *n_found = 0;
    if (examined) *examined = 0;
    if (kk == 0 || n_probes == 0) return FR_OK;
    int threads = nn_resolve_threads(g->threads);
    search_job job = {.ix = ix, .kern = nn_kernels(), .probes = probes,
                      .n_probes = n_probes, .k = k, .kk = kk, .matches = matches};
    job.split_rows = n_probes == 1;
    job.n_tasks = job.split_rows ? (int)FR_MAX(1, FR_MIN((int64_t)threads, ix->n / SCAN_BLOCK))
                                 : FR_MIN(threads, n_probes);
    job.lanes_per_task = job.split_rows ? 1 : FR_MIN(PROBE_GROUP, n_probes);
    atomic_init(&job.shared, INFINITY_BITS);
    job.tasks = calloc((size_t)job.n_tasks, sizeof *job.tasks);
    scored *all = malloc((size_t)job.n_tasks * (size_t)kk * sizeof *all);
    int ok = job.tasks && all;
    for (int t = 0; t < job.n_tasks && ok; t++) ok = task_alloc(&job.tasks[t], ix, job.lanes_per_task, kk);
    if (ok) {
        nn_parallel_for(threads, job.n_tasks, search_task_run, &job);
        int n = 0;
        for (int t = 0; t < job.n_tasks; t++) {
            const top_k *h = &job.tasks[t].lanes[0].heap;
            if (examined) *examined += job.tasks[t].examined;
            for (int e = 0; job.split_rows && e < h->n; e++)
                all[n++] = (scored){h->d[e], h->person[e]};
        }
        if (job.split_rows) finish(ix, all, n, kk, matches);
        *n_found = kk;
    }
    for (int t = 0; job.tasks && t < job.n_tasks; t++) task_free(&job.tasks[t], job.lanes_per_task);
    free(job.tasks);
    free(all);
    return ok ? FR_OK : fr_error(FR_E_NOMEM, "%s: out of memory searching", g->path);
}
