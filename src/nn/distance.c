/* distance.c: squared distances between many vectors (nn/distance.h).
 *
 * Many probes: ||a||^2 + ||b||^2 - 2 a.b, the products a.b by the CPU level's GEMM
 * (gemm_block, nn/kernels.h). It multiplies A (m,k) by B (k,n), both row-major, while the
 * templates b come as rows (nb,dim); so they are taken TILE_COLS at a time, each tile copied
 * transposed, and times -2 (exact, so the sums are -2 a.b to the bit), into its task's
 * buffer, which every row of a then passes over. The copy is cheap: dim * TILE_COLS floats
 * moved for na * dim * TILE_COLS multiply-adds, and the tile stays in the cache meanwhile.
 * One probe is no matrix product: the templates are streamed once through the level's
 * sq_distance kernel, which gives ||a - b||^2 directly. The tiles and chunks depend on the
 * shapes only, so the result does not depend on the number of threads. */
#include "nn/distance.h"

#include "common/common.h"
#include "nn/kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#define TILE_COLS 64  /* templates per tile: two column panels of the AVX-512 micro-kernel */
#define ROW_CHUNK 96  /* rows of a per product: 96 x 256 floats (the GEMM's k block) in L2 */
#define MIN_PARALLEL_FLOPS (1u << 20) /* below this, one task on the calling thread */

void nn_sq_norms(const float *rows, int64_t n, int dim, float *out) {
    for (int64_t i = 0; i < n; i++) {
        const float *r = rows + i * dim;
        float s = 0;
        for (int k = 0; k < dim; k++) s += r[k] * r[k];
        out[i] = s;
    }
}

/* rounding can make identical vectors slightly negative; NaN (a non-finite value that
 * slipped through) is no match, never distance 0 */
static inline float clamp_distance(float d) { return d > 0 ? d : d <= 0 ? 0 : INFINITY; }

typedef struct distance_job {
    const float *a, *a_sq, *b, *b_sq;
    int na, nb, dim;
    float *out;
    int n_tiles;
    atomic_int next_tile;
    float *buffers; /* (dim, TILE_COLS) per task */
} distance_job;

static void distance_tile(const distance_job *j, int t, float *bt) {
    const int dim = j->dim, j0 = t * TILE_COLS, cols = FR_MIN(TILE_COLS, j->nb - j0);
    /* written in order, read down the tile's columns: its rows' cache lines stay in L1
     * (3x faster than the other way round, which scatters the writes over dim lines) */
    const float *tile = j->b + (size_t)j0 * dim;
    for (int k = 0; k < dim; k++)
        for (int c = 0; c < cols; c++) bt[(size_t)k * cols + c] = -2.0f * tile[(size_t)c * dim + k];
    const nn_kernel_table *kernels = nn_kernels();
    for (int i0 = 0; i0 < j->na; i0 += ROW_CHUNK) {
        int rows = FR_MIN(ROW_CHUNK, j->na - i0);
        float *C = j->out + (size_t)i0 * j->nb + j0;
        nn_gemm_block blk = {.m = rows, .n = cols, .k = dim, .A = j->a + (size_t)i0 * dim,
                             .lda = (size_t)dim, .B = bt, .ldb = (size_t)cols, .C = C,
                             .ldc = (size_t)j->nb};
        kernels->gemm_block(&blk);
        for (int i = 0; i < rows; i++) {
            float *c_row = C + (size_t)i * j->nb;
            for (int c = 0; c < cols; c++)
                c_row[c] = clamp_distance(c_row[c] + j->a_sq[i0 + i] + j->b_sq[j0 + c]);
        }
    }
}

/* Task i claims tiles until none is left, using buffer i. */
static void distance_task(void *ctx, int i) {
    distance_job *j = ctx;
    float *bt = j->buffers + (size_t)i * j->dim * TILE_COLS;
    for (;;) {
        int t = atomic_fetch_add(&j->next_tile, 1);
        if (t >= j->n_tiles) return;
        distance_tile(j, t, bt);
    }
}

typedef struct probe_job {
    const float *probe, *b;
    int nb, dim;
    nn_split split;
    float *out;
} probe_job;

static void probe_task(void *ctx, int i) {
    const probe_job *p = ctx;
    const nn_kernel_table *kernels = nn_kernels();
    size_t j0 = (size_t)i * p->split.per_task, j1 = FR_MIN(j0 + p->split.per_task, (size_t)p->nb);
    for (size_t j = j0; j < j1; j++)
        p->out[j] = clamp_distance(kernels->sq_distance(p->probe, p->b + j * p->dim, p->dim));
}

fr_status nn_sq_distances(int threads, const float *a, const float *a_sq, int na,
                          const float *b, const float *b_sq, int nb, int dim, float *out) {
    if (na <= 0 || nb <= 0) return FR_OK;
    if (na == 1) {
        probe_job p = {.probe = a, .b = b, .nb = nb, .dim = dim, .out = out,
                       .split = nn_split_work((size_t)nb, 3 * (size_t)dim)};
        nn_parallel_for(threads, p.split.n_tasks, probe_task, &p);
        return FR_OK;
    }
    distance_job j = {.a = a, .a_sq = a_sq, .b = b, .b_sq = b_sq, .na = na, .nb = nb,
                      .dim = dim, .out = out, .n_tiles = (nb + TILE_COLS - 1) / TILE_COLS};
    atomic_init(&j.next_tile, 0);
    int n_tasks = FR_MIN(FR_MAX(threads, 1), j.n_tiles);
    if (2.0 * na * nb * dim < MIN_PARALLEL_FLOPS) n_tasks = 1;
    j.buffers = malloc((size_t)n_tasks * TILE_COLS * (size_t)FR_MAX(dim, 1) * sizeof(float));
    if (!j.buffers)
        return fr_error(FR_E_NOMEM, "out of memory for the distances of %d x %d vectors", na, nb);
    nn_parallel_for(n_tasks, n_tasks, distance_task, &j);
    free(j.buffers);
    return FR_OK;
}
