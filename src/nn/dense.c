/* dense.c: the tiled GEMM driver shared by nn_conv2d and nn_dense, and nn_dense.
 *
 * The output (M,N) is cut into tiles of rows and columns; each tile is one gemm_block of the
 * CPU level's kernels (nn/kernels.h), with the bias and activation fused into its epilogue.
 * The tiles are fixed by the shape, so the result does not depend on the number of threads.
 * When A is given (1x1 convs, dense layers), a few large tiles. When the rows of A are gathered (im2col), each thread builds one tile of rows at
 * a time in its own buffer, which bounds the scratch memory. */
#include "common/common.h"
#include "nn/kernels.h"

#include <math.h>
#include <stdatomic.h>

/* Rows per tile of a gathered A: as many as fill TILE_A_FLOATS of A (96 KB, which stays in
 * L2 beside OpenBLAS's packed panels), at least 64 (to amortise packing B in each sgemm
 * call) and at most 512. Measured on the 3x3 convs of the ResNet and MobileNet shapes, this is 15-20%
 * faster than 256+ row tiles for K=288, N=32, and as fast elsewhere. */
#define TILE_A_FLOATS 24576
#define MIN_PARALLEL_FLOPS (1u << 20) /* below this, one tile on the calling thread */

/* n rounded up to a multiple of 16 (the kernels block rows and columns by 16) */
static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

typedef struct gemm_job {
    const nn_gemm *g;
    size_t tile_rows;
    int tile_cols;
    int row_tiles, col_tiles;
    atomic_int next_tile;
    float *buffers; /* gather: one tile of rows (tile_rows,K) per task */
} gemm_job;

static void gemm_tile(const gemm_job *j, int t, float *rows) {
    const nn_gemm *g = j->g;
    size_t m0 = (size_t)(t / j->col_tiles) * j->tile_rows;
    size_t m1 = FR_MIN(m0 + j->tile_rows, g->M);
    int n0 = (t % j->col_tiles) * j->tile_cols;
    int n1 = FR_MIN(n0 + j->tile_cols, g->N);
    const float *A = g->A ? g->A + m0 * g->K : rows;
    if (!g->A) g->gather(g->gather_ctx, m0, m1, rows);
    float *C = g->C + m0 * g->N + n0;
    nn_gemm_block b = {.m = (int)(m1 - m0), .n = n1 - n0, .k = g->K, .A = A, .lda = (size_t)g->K,
                       .B = g->B + n0, .ldb = (size_t)g->N, .C = C, .ldc = (size_t)g->N,
                       .bias = g->bias ? g->bias + n0 : NULL, .act = g->act};
    if (b.act.slope) b.act.slope += n0;
    nn_kernels()->gemm_block(&b);
}

/* Task i claims tiles until none is left, using buffer i. With a gather, a column tile
 * of the same rows gathers them again: column tiles only occur when rows are few. */
static void gemm_task(void *ctx, int i) {
    gemm_job *j = ctx;
    float *rows = j->buffers ? j->buffers + (size_t)i * j->tile_rows * j->g->K : NULL;
    int n_tiles = j->row_tiles * j->col_tiles;
    for (;;) {
        int t = atomic_fetch_add(&j->next_tile, 1);
        if (t >= n_tiles) return;
        gemm_tile(j, t, rows);
    }
}

/* Tiles of a GEMM whose A is given: each sgemm call packs its tile's rows of A and columns
 * of B, so the GRID_TILES tiles are shaped to pack as little as possible in all, M * K *
 * (column tiles) + K * N * (row tiles): rows / columns in the ratio of M to N. At most
 * MAX_TILE_ROWS rows, so that the epilogue finds the tile still in cache. */
#define GRID_TILES 8
#define MAX_TILE_ROWS 2048

static void grid_tiles(const nn_gemm *g, size_t *tile_rows, int *tile_cols) {
    double r = sqrt(GRID_TILES * (double)g->M / g->N);
    size_t row_tiles = (size_t)FR_CLAMP(r + 0.5, 1.0, (double)GRID_TILES);
    size_t col_tiles = (GRID_TILES + row_tiles - 1) / row_tiles;
    *tile_rows = FR_MIN(round16((g->M + row_tiles - 1) / row_tiles), (size_t)MAX_TILE_ROWS);
    *tile_cols = (int)FR_MIN(round16((g->N + col_tiles - 1) / col_tiles), (size_t)g->N);
}

int nn_gemm_run(int threads, const nn_gemm *g, nn_arena *scratch) {
    if (g->M == 0 || g->N == 0) return 1;
    gemm_job j = {.g = g};
    atomic_init(&j.next_tile, 0);
    double flops = 2.0 * g->K * g->N * (double)g->M;
    j.tile_cols = g->N;
    if (flops < MIN_PARALLEL_FLOPS) {
        j.tile_rows = g->M;
    } else if (g->A) {
        grid_tiles(g, &j.tile_rows, &j.tile_cols);
    } else {
        size_t rows = TILE_A_FLOATS / (size_t)g->K / 16 * 16; /* the kernels block rows by 16 */
        j.tile_rows = FR_CLAMP(rows, 64, 512);
        if (g->M <= 3 * j.tile_rows && g->N >= 64) { /* under 4 row tiles: column tiles too */
            int col_tiles = FR_MIN(4, g->N / 32);
            j.tile_cols = (int)round16((size_t)(g->N + col_tiles - 1) / col_tiles);
        }
    }
    if (j.tile_rows > g->M) j.tile_rows = g->M;
    j.row_tiles = (int)((g->M + j.tile_rows - 1) / j.tile_rows);
    j.col_tiles = (g->N + j.tile_cols - 1) / j.tile_cols;
    int n_tiles = j.row_tiles * j.col_tiles;
    int n_tasks = FR_MIN(FR_MAX(threads, 1), n_tiles);

    size_t mark = 0;
    if (!g->A) {
        size_t per_task, total;
        if (!scratch || !fr_mul_size(j.tile_rows, (size_t)g->K, &per_task)) return 0;
        mark = nn_arena_mark(scratch);
        /* Fewer buffers (so fewer tasks) when memory is short. */
        while (n_tasks > 0 && (!fr_mul_size(per_task, (size_t)n_tasks, &total) ||
                               !(j.buffers = nn_arena_alloc(scratch, total))))
            n_tasks--;
        if (n_tasks == 0) return 0;
    }
    nn_parallel_for(threads, n_tasks, gemm_task, &j);
    if (j.buffers) nn_arena_reset(scratch, mark);
    return 1;
}

void nn_dense(int threads, const float *in, int N, int Cin, const float *w, const float *b,
              int Cout, float *out) {
    nn_gemm g = {.M = (size_t)N, .K = Cin, .N = Cout, .A = in, .B = w, .bias = b,
                 .act = {NN_ACT_NONE, 0.0f, NULL}, .C = out};
    nn_gemm_run(threads, &g, NULL);
}
