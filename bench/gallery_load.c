/* gallery_load.c (the gallery_load program): how fast a gallery's templates are read into
 * memory at start (connect, load, ready), on SQLite or PostgreSQL (scripts/gallery_load_bench.sh).
 *
 *   gallery_load DB */
#include "facerec.h"

#include <stdio.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DB\n", argv[0]);
        return 2;
    }
    double t0 = seconds();
    fr_gallery *g;
    fr_status st = fr_gallery_open(argv[1], 0, &g);
    double t_open = seconds() - t0;
    if (st == FR_OK) st = fr_gallery_refresh(g, NULL); /* the first refresh loads everything */
    double t_ready = seconds() - t0;
    fr_gallery_info info;
    if (st == FR_OK) st = fr_gallery_get_info(g, &info);
    if (st != FR_OK) {
        fprintf(stderr, "gallery_load: %s\n", fr_last_error());
        fr_gallery_close(g);
        return 1;
    }
    printf("%s (%s): %lld templates of %d floats; connect %.3f s, ready %.2f s: %.2fM templates/s\n",
           fr_gallery_path(g), fr_gallery_backend(g), (long long)info.n_templates, info.dim, t_open,
           t_ready, (double)info.n_templates / (t_ready - t_open) / 1e6);
    fr_gallery_close(g);
    return 0;
}
