/* kernels.h: helpers shared by the op implementations in src/nn (not part of the nn API). */
#ifndef FR_NN_KERNELS_H
#define FR_NN_KERNELS_H

#include "nn/nn.h"

#include <stddef.h>

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
