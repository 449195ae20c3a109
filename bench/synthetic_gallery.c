/* synthetic_gallery.c: the temporary gallery of synthetic unit-norm templates that the search
 * rows of facerec-bench use, grown to each size in turn and deleted at the end, and the check
 * of the searches' answers against a brute-force float32 search (bench.h). */
#include "bench.h"

#include "common/common.h"
#include "gallery/gallery.h"
#include "nn/kernels.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fixed pseudo-random stream (xorshift64*), so every run searches the same templates. */
static double next_uniform(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return ((*state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* A random direction of n floats scaled to norm `norm`: normal coordinates (Box-Muller). */
static void random_direction(uint64_t *state, float *v, int n, double norm) {
    double sq = 0;
    for (int k = 0; k < n; k += 2) {
        double r = sqrt(-2.0 * log(1.0 - next_uniform(state)));
        double a = 2 * acos(-1.0) * next_uniform(state);
        v[k] = (float)(r * cos(a));
        v[k + 1] = (float)(r * sin(a));
        sq += (double)v[k] * v[k] + (double)v[k + 1] * v[k + 1];
    }
    for (int k = 0; k < n; k++) v[k] = (float)(v[k] * norm / sqrt(sq));
}

/* n templates laid out as the default model's (fusion, src/face/embed.c): a random unit
 * MobileFaceNet embedding times sqrt(0.3), then a random unit dlib-resnet one times
 * sqrt(0.7), unit norm in all. */
static void random_templates(uint64_t *state, float *out, int n) {
    for (int i = 0; i < n; i++) {
        float *v = out + (size_t)i * GALLERY_DIM;
        random_direction(state, v, GALLERY_DIM_FIRST, sqrt(GALLERY_WEIGHT_FIRST));
        random_direction(state, v + GALLERY_DIM_FIRST, GALLERY_DIM - GALLERY_DIM_FIRST,
                         sqrt(1 - GALLERY_WEIGHT_FIRST));
    }
}

/* An empty gallery in a new temporary folder, and the probes. */
static fr_status synthetic_gallery_create(bench *b) {
    const char *tmp = getenv("TMPDIR");
    snprintf(b->gallery_dir, sizeof b->gallery_dir, "%s/facerec-bench-gallery-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->gallery_dir)) {
        fr_status st = fr_error(FR_E_IO, "%s: cannot create: %s", b->gallery_dir, strerror(errno));
        b->gallery_dir[0] = '\0';
        return st;
    }
    snprintf(b->gallery_path, sizeof b->gallery_path, "%s/gallery.db", b->gallery_dir);
    fr_status st = fr_gallery_open(b->gallery_path, 1, &b->gallery);
    if (st == FR_OK) st = fr_gallery_use_model(b->gallery, "bench-synthetic", "1", GALLERY_DIM);
    /* a throw-away file: no need to wait for the disk at each commit */
    if (st == FR_OK) st = gallery_exec(b->gallery, "PRAGMA synchronous=OFF", "bench settings");
    if (st != FR_OK) return st;
    b->random_state = 0x9E3779B97F4A7C15ULL;
    b->probes = malloc((size_t)GALLERY_PROBES * GALLERY_DIM * sizeof *b->probes);
    b->matches = malloc(GALLERY_PROBES * sizeof *b->matches);
    if (!b->probes || !b->matches) return fr_error(FR_E_NOMEM, "bench: out of memory");
    random_templates(&b->random_state, b->probes, GALLERY_PROBES);
    b->templates_seed = b->random_state; /* the templates follow: search_check makes them again */
    return FR_OK;
}

fr_status synthetic_gallery_grow(bench *b, int64_t n) {
    if (!b->gallery) {
        fr_status st = synthetic_gallery_create(b);
        if (st != FR_OK) return st;
    }
    float embeddings[TEMPLATES_PER_PERSON * GALLERY_DIM];
    char sources[TEMPLATES_PER_PERSON][32];
    fr_template templates[TEMPLATES_PER_PERSON];
    fr_status st = FR_OK;
    while (b->gallery_size < n && st == FR_OK) {
        random_templates(&b->random_state, embeddings, TEMPLATES_PER_PERSON);
        for (int i = 0; i < TEMPLATES_PER_PERSON; i++) {
            int64_t id = b->gallery_size + i;
            snprintf(sources[i], sizeof sources[i], "synthetic-%lld", (long long)id);
            templates[i] = (fr_template){.embedding = embeddings + i * GALLERY_DIM,
                                         .source = sources[i], .w = 1, .h = 1, .quality = 1};
            memcpy(templates[i].sha256, &id, sizeof id); /* unique is all the store asks */
        }
        char name[32];
        snprintf(name, sizeof name, "person-%lld",
                 (long long)(b->gallery_size / TEMPLATES_PER_PERSON));
        st = fr_gallery_enroll(b->gallery, name, templates, TEMPLATES_PER_PERSON);
        if (st == FR_OK) b->gallery_size += TEMPLATES_PER_PERSON;
    }
    return st;
}

void synthetic_gallery_delete(bench *b) {
    fr_gallery_close(b->gallery);
    free(b->probes);
    free(b->matches);
    if (!b->gallery_dir[0]) return;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%s", b->gallery_path, suffixes[i]);
        unlink(path);
    }
    rmdir(b->gallery_dir);
}

/* ---- the check of the answers ------------------------------------------------------------ */

/* Brute force over one block of templates: each probe's nearest template so far. */
typedef struct brute_block {
    const float *probes, *rows;
    int n_rows;
    int64_t first_row;
    float *best_d;      /* (GALLERY_PROBES) squared distance */
    int64_t *best_row;  /* (GALLERY_PROBES) */
    char *tied;         /* (GALLERY_PROBES) another person has a template at best_d too */
    const nn_kernel_table *kern;
} brute_block;

enum { CHECK_BLOCK = 1024, CHECK_TASK_PROBES = 50 };

static void brute_task(void *ctx, int t) {
    brute_block *bb = ctx;
    for (int i = t * CHECK_TASK_PROBES; i < FR_MIN(GALLERY_PROBES, (t + 1) * CHECK_TASK_PROBES); i++) {
        const float *q = bb->probes + (size_t)i * GALLERY_DIM;
        for (int j = 0; j < bb->n_rows; j++) {
            float d = bb->kern->sq_distance(q, bb->rows + (size_t)j * GALLERY_DIM, GALLERY_DIM);
            int64_t row = bb->first_row + j;
            if (d < bb->best_d[i]) {
                bb->best_d[i] = d;
                bb->best_row[i] = row;
                bb->tied[i] = 0;
            } else if (d == bb->best_d[i] &&
                       row / TEMPLATES_PER_PERSON != bb->best_row[i] / TEMPLATES_PER_PERSON) {
                bb->tied[i] = 1;
            }
        }
    }
}

fr_status search_check(bench *b, int threads) {
    int n_found;
    fr_status st = fr_gallery_search(b->gallery, b->probes, GALLERY_PROBES, 1, b->matches, &n_found);
    if (st != FR_OK) return st;
    float *rows = malloc((size_t)CHECK_BLOCK * GALLERY_DIM * sizeof *rows);
    float *best_d = malloc(GALLERY_PROBES * sizeof *best_d);
    int64_t *best_row = malloc(GALLERY_PROBES * sizeof *best_row);
    char *tied = malloc(GALLERY_PROBES);
    if (!rows || !best_d || !best_row || !tied) st = fr_error(FR_E_NOMEM, "bench: out of memory");
    for (int i = 0; st == FR_OK && i < GALLERY_PROBES; i++) best_d[i] = INFINITY;
    /* the same templates again, block by block, from the same pseudo-random stream */
    uint64_t state = b->templates_seed;
    brute_block bb = {b->probes, rows, 0, 0, best_d, best_row, tied, nn_kernels()};
    for (int64_t j0 = 0; st == FR_OK && j0 < b->gallery_size; j0 += CHECK_BLOCK) {
        bb.n_rows = (int)FR_MIN(CHECK_BLOCK, b->gallery_size - j0);
        bb.first_row = j0;
        random_templates(&state, rows, bb.n_rows);
        nn_parallel_for(threads, (GALLERY_PROBES + CHECK_TASK_PROBES - 1) / CHECK_TASK_PROBES,
                        brute_task, &bb);
    }
    /* exact: the same distance to the bit, and the same person unless tied */
    b->check_probes = GALLERY_PROBES;
    b->check_exact = 0;
    for (int i = 0; st == FR_OK && i < GALLERY_PROBES; i++) {
        char name[32];
        snprintf(name, sizeof name, "person-%lld", (long long)(best_row[i] / TEMPLATES_PER_PERSON));
        b->check_exact += b->matches[i].distance == sqrtf(best_d[i]) &&
                          (tied[i] || !strcmp(b->matches[i].name, name));
    }
    free(rows);
    free(best_d);
    free(best_row);
    free(tied);
    return st;
}
