/* liveness.c: the CLI's liveness helpers (--liveness, --require-live). */
#include "cli.h"

#include <stdlib.h>

int cli_liveness(fr_engine *eng, const fr_image *img, const fr_face *faces, int n,
                 float **scores) {
    *scores = malloc((size_t)(n > 0 ? n : 1) * sizeof **scores);
    if (!*scores) return cli_fail(cli_error(FR_E_NOMEM, "out of memory for the liveness scores"));
    fr_status st = fr_liveness(eng, img, faces, n, *scores);
    if (st != FR_OK) {
        free(*scores);
        *scores = NULL;
        return cli_fail(st);
    }
    return CLI_OK;
}

void cli_print_liveness(float score) {
    printf("  liveness %.3f %s", score, score >= FR_LIVENESS_THRESHOLD ? "live" : "attack");
}
