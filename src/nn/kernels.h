/* kernels.h: helpers shared by the op implementations in src/nn (not part of the nn API). */
#ifndef FR_NN_KERNELS_H
#define FR_NN_KERNELS_H

#include "nn/cpu.h"
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

/* At -O2, GCC only vectorises loops whose trip count is a multiple of the vector width. The
 * inner loops of the ops run over channel counts of any size, so let the cost model decide
 * as it does at -O3 (for the functions defined after this header). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

/* How `items` units of work (e.g. output rows) are grouped into tasks for nn_parallel_for.
 * The grouping depends on the shape only, never on the thread count, so results are the
 * same bits whatever the number of threads. */
typedef struct nn_split {
    size_t per_task; /* items per task (the last task may have fewer) */
    int n_tasks;
} nn_split;

/* `cost` is the approximate number of flops (or bytes touched) of one item. */
static inline nn_split nn_split_work(size_t items, size_t cost) {
    const size_t min_task_cost = 64 * 1024; /* below this, waking a thread costs more */
    const size_t max_tasks = 4096;
    nn_split s;
    if (cost == 0) cost = 1;
    s.per_task = cost >= min_task_cost ? 1 : (min_task_cost + cost - 1) / cost;
    if (items / s.per_task >= max_tasks) s.per_task = (items + max_tasks - 1) / max_tasks;
    s.n_tasks = items == 0 ? 0 : (int)((items + s.per_task - 1) / s.per_task);
    return s;
}

/* The kernel taps [*k0, *k1) of a window starting at o*stride - pad_before that fall inside
 * [0, size) along one axis (k taps in all). */
static inline void nn_valid_taps(int o, int stride, int pad_before, int k, int size, int *k0,
                                 int *k1) {
    int start = o * stride - pad_before;
    int lo = start < 0 ? -start : 0, hi = size - start;
    if (hi > k) hi = k;
    if (lo > k) lo = k;
    if (hi < lo) hi = lo;
    *k0 = lo;
    *k1 = hi;
}

/* x is (rows, cols) with row stride ld: x = act(x + bias). bias is (cols) or NULL; a PReLU
 * slope in act covers the same cols. The fused epilogue of the convolutions and GEMMs. */
void nn_bias_act(float *x, size_t rows, int cols, size_t ld, const float *bias, nn_act act);

/* ---- kernels dispatched by CPU level (nn/cpu.h) ------------------------------------------ */

/* The geometry of one convolution call (conv.c), as the kernels see it. */
typedef struct nn_conv_geom {
    const nn_conv *cv;
    const float *in;
    float *out;
    int N, H, W, OH, OW;
    int pad_top, pad_left;
    nn_split split; /* depthwise: output rows (n, oy) per task; Winograd: tile groups */
} nn_conv_geom;

/* One block of a matrix product on the calling thread:
 *   C (m,n) = act(A (m,k) * B (k,n) [+ C when accumulate] + bias (n))
 * with row strides lda, ldb, ldc; bias NULL for none. Register-blocked micro-kernels (12x32
 * on AVX-512, 6x16 on AVX2, 4x8 generic) read A and B in place, cut k into blocks that keep
 * the panel of B in L1, and apply bias and act to the sums while they are in registers. The
 * sums run over k in order, so a block gives the same bits wherever it is computed. */
typedef struct nn_gemm_block {
    int m, n, k;
    const float *A;
    size_t lda;
    const float *B;
    size_t ldb;
    float *C;
    size_t ldc;
    int accumulate;
    const float *bias; /* (n) or NULL */
    nn_act act;        /* its slope (PReLU) covers the n columns */
} nn_gemm_block;

/* Winograd F(2,3) for 3x3 stride-1 convolutions (conv.c): tile t is the 4x4 input window
 * of the output pixels (2*ty .. 2*ty+1, 2*tx .. 2*tx+1) of image n; tiles are numbered
 * (n, ty, tx) row-major, tx over ceil(OW/2), ty over ceil(OH/2). */
typedef struct nn_winograd_group {
    const nn_conv_geom *g;
    int tiles_x, tiles_y;
    size_t t0, t1; /* the group's tiles [t0, t1) */
    float *V;      /* (16, t1 - t0, Cin): the transformed input, B^T d B per tile */
    float *M;      /* (16, t1 - t0, Cout): its products with the transformed weights */
    const float *zeros; /* max(Cin, Cout) zeros: the taps in the padding, a missing bias */
} nn_winograd_group;

/* One table of kernels per CPU level, the same source compiled with each level's flags
 * (src/nn/isa/kernels.inc). Every entry is set in every table (test_nn_ops checks). */
typedef struct nn_kernel_table {
    void (*gemm_block)(const nn_gemm_block *b);
    /* im2col for output pixels [m0, m1) (m = (n*OH + oy)*OW + ox): row m - m0 of `rows`
     * is the (KH,KW,Cin) window of pixel m, zeros where it lies in the padding */
    void (*im2col_rows)(const nn_conv_geom *g, size_t m0, size_t m1, float *rows);
    /* depthwise convolution of output rows [r0, r1) (r = n*OH + oy), bias and act applied */
    void (*depthwise_rows)(const nn_conv_geom *g, int r0, int r1);
    /* w->V from the input; the group's output pixels from w->M (bias and act applied) */
    void (*winograd_input)(const nn_winograd_group *w);
    void (*winograd_output)(const nn_winograd_group *w);
    /* The core's peak: `iterations` rounds of independent multiply-adds on registers only, at
     * this level's vector width; returns the floating-point operations done. */
    double (*fma_loop)(long iterations);
    /* The gallery's scan (gallery/index.c). Every level returns the same bits:
     * ||a - b||^2 of two float vectors of length dim, summed in one fixed order: 16 partial
     * sums (element k goes to sum k mod 16, by fused multiply-add), then added pairwise
     * (s_l + s_{l+8}, then + 4, + 2, + 1). */
    float (*sq_distance)(const float *a, const float *b, int dim);
    /* out[p * n_rows + j] = sum_k rows[j * stride + k] * probes[p][k] for k < n_bytes (a
     * multiple of 64), j < n_rows, p < n_probes: unsigned 8-bit codes times signed 8-bit ones,
     * exact in 32 bits (VNNI's vpdpbusd where the CPU has AVX512_VNNI). Several probes at once
     * read each row once for all of them. */
    void (*dot_u8s8)(const int8_t *const *probes, int n_probes, const uint8_t *rows,
                     int64_t stride, int n_bytes, int n_rows, int32_t *out);
} nn_kernel_table;
#define NN_KERNEL_ENTRIES 8
/* A new kernel is one more entry here, in kernels.inc's table, and in the count above. */
_Static_assert(sizeof(nn_kernel_table) == NN_KERNEL_ENTRIES * sizeof(void (*)(void)),
               "nn_kernel_table: update NN_KERNEL_ENTRIES and every level's table");

extern const nn_kernel_table nn_kernels_generic;
#if defined(__x86_64__)
extern const nn_kernel_table nn_kernels_avx2, nn_kernels_avx512;
#endif
/* The table of level isa (at most nn_cpu_info()->best), and of the level chosen. */
const nn_kernel_table *nn_kernels_for(nn_isa isa);
const nn_kernel_table *nn_kernels(void);

/* C (M,N) = act(A (M,K) * B (K,N) + bias (N)), split into tiles of rows (and of columns when
 * there are few rows) across the thread pool. The rows of A either are given, or are built
 * tile by tile by `gather` (e.g. im2col) into scratch from `scratch`. */
typedef void (*nn_gather_fn)(const void *ctx, size_t m0, size_t m1, float *rows);

typedef struct nn_gemm {
    size_t M;
    int K, N;
    const float *A; /* (M,K), or NULL when gather builds the rows */
    nn_gather_fn gather;
    const void *gather_ctx;
    const float *B;    /* (K,N) */
    const float *bias; /* (N) or NULL */
    nn_act act;
    float *C; /* (M,N) */
} nn_gemm;

/* Returns 0 (having computed nothing) when gather needs scratch and none could be had. */
int nn_gemm_run(int threads, const nn_gemm *g, nn_arena *scratch);

#endif
