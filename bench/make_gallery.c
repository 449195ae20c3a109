/* make_gallery.c (the synthetic_gallery program): a gallery of N people with one random unit-vector template each, bound
 * to a model, for load benchmarks of facerec serve (scripts/serve_bench.sh). Real probes then
 * search a gallery of that size; the synthetic people are strangers to them.
 *
 *   synthetic_gallery DB MODEL DIM N */
#include "facerec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A standard normal value (Box-Muller) from a 64-bit LCG state. */
static double normal(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = ((*s >> 11) + 1.0) / 9007199254740993.0;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double v = (*s >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s DB MODEL DIM N\n", argv[0]);
        return 2;
    }
    int dim = atoi(argv[3]), n = atoi(argv[4]);
    if (dim < 1 || dim > FR_MAX_EMBEDDING || n < 1) {
        fprintf(stderr, "synthetic_gallery: DIM 1..%d and N >= 1\n", FR_MAX_EMBEDDING);
        return 2;
    }
    fr_gallery *g;
    fr_status st = fr_gallery_open(argv[1], 1, &g);
    if (st == FR_OK) st = fr_gallery_use_model(g, argv[2], fr_version(), dim);
    float *e = malloc((size_t)dim * sizeof *e);
    uint64_t seed = 12345;
    for (int p = 0; st == FR_OK && p < n; p++) {
        double norm = 0;
        for (int k = 0; k < dim; k++) {
            e[k] = (float)normal(&seed);
            norm += (double)e[k] * e[k];
        }
        for (int k = 0; k < dim; k++) e[k] /= (float)sqrt(norm);
        char name[32], source[48];
        snprintf(name, sizeof name, "synthetic%06d", p);
        snprintf(source, sizeof source, "synthetic:%d", p);
        fr_template t = {0};
        t.embedding = e;
        t.source = source;
        fr_sha256(source, strlen(source), t.sha256);
        t.w = t.h = 100;
        t.quality = 1;
        st = fr_gallery_enroll(g, name, &t, 1);
    }
    free(e);
    if (st != FR_OK) fprintf(stderr, "synthetic_gallery: %s\n", fr_last_error());
    fr_gallery_close(g);
    return st == FR_OK ? 0 : 1;
}
