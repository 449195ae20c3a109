/* synthetic_gallery.c: the temporary gallery of synthetic unit-norm templates that the search
 * rows of facerec-bench use, grown to each size in turn and deleted at the end (bench.h). */
#include "bench.h"

#include "common/common.h"
#include "gallery/gallery.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fixed pseudo-random stream (xorshift64*), so every run searches the same templates. */
static double next_uniform(bench *b) {
    b->random_state ^= b->random_state >> 12;
    b->random_state ^= b->random_state << 25;
    b->random_state ^= b->random_state >> 27;
    return ((b->random_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* n random directions of GALLERY_DIM floats: normal coordinates (Box-Muller), unit norm. */
static void random_unit_vectors(bench *b, float *out, int n) {
    for (int i = 0; i < n; i++) {
        float *v = out + (size_t)i * GALLERY_DIM;
        double sq = 0;
        for (int k = 0; k < GALLERY_DIM; k += 2) {
            double r = sqrt(-2.0 * log(1.0 - next_uniform(b))), a = 2 * acos(-1.0) * next_uniform(b);
            v[k] = (float)(r * cos(a));
            v[k + 1] = (float)(r * sin(a));
            sq += (double)v[k] * v[k] + (double)v[k + 1] * v[k + 1];
        }
        for (int k = 0; k < GALLERY_DIM; k++) v[k] = (float)(v[k] / sqrt(sq));
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
    random_unit_vectors(b, b->probes, GALLERY_PROBES);
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
        random_unit_vectors(b, embeddings, TEMPLATES_PER_PERSON);
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
