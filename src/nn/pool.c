/* pool.c: max and average pooling with TensorFlow semantics: cells of the window that fall
 * in the padding are ignored (the average divides by the number of cells inside). */
#include "common/common.h"
#include "nn/kernels.h"

#include <string.h>

typedef struct pool_geom {
    const float *in;
    float *out;
    int N, H, W, C, kh, kw, stride_h, stride_w;
    int OH, OW, pad_top, pad_left;
    int is_max;
    nn_split split; /* output rows (n, oy) per task */
} pool_geom;

static void max_channels(float *restrict o, const float *restrict x, int C) {
    for (int c = 0; c < C; c++) o[c] = x[c] > o[c] ? x[c] : o[c];
}

static void sum_channels(float *restrict o, const float *restrict x, int C) {
    for (int c = 0; c < C; c++) o[c] += x[c];
}

static void pool_row(const pool_geom *g, int r) {
    int n = r / g->OH, oy = r % g->OH, C = g->C, ky0, ky1;
    nn_valid_taps(oy, g->stride_h, g->pad_top, g->kh, g->H, &ky0, &ky1);
    for (int ox = 0; ox < g->OW; ox++) {
        float *o = g->out + ((size_t)r * g->OW + ox) * C;
        int kx0, kx1;
        nn_valid_taps(ox, g->stride_w, g->pad_left, g->kw, g->W, &kx0, &kx1);
        int count = (ky1 - ky0) * (kx1 - kx0);
        if (count == 0) { /* a window entirely in explicit padding */
            memset(o, 0, (size_t)C * sizeof(float));
            continue;
        }
        int iy0 = oy * g->stride_h - g->pad_top, ix0 = ox * g->stride_w - g->pad_left;
        const float *first = g->in + (((size_t)n * g->H + iy0 + ky0) * g->W + ix0 + kx0) * C;
        memcpy(o, first, (size_t)C * sizeof(float));
        for (int ky = ky0; ky < ky1; ky++) {
            for (int kx = kx0; kx < kx1; kx++) {
                if (ky == ky0 && kx == kx0) continue;
                const float *x = g->in + (((size_t)n * g->H + iy0 + ky) * g->W + ix0 + kx) * C;
                if (g->is_max) max_channels(o, x, C);
                else sum_channels(o, x, C);
            }
        }
        if (!g->is_max)
            for (int c = 0; c < C; c++) o[c] /= (float)count;
    }
}

static void pool_task(void *ctx, int i) {
    const pool_geom *g = ctx;
    size_t r0 = (size_t)i * g->split.per_task;
    size_t r1 = FR_MIN(r0 + g->split.per_task, (size_t)g->N * g->OH);
    for (size_t r = r0; r < r1; r++) pool_row(g, (int)r);
}

static void pool2d(int threads, const float *in, int N, int H, int W, int C, int kh, int kw,
                   int stride_h, int stride_w, nn_padding pad, int is_max, float *out, int *OH,
                   int *OW) {
    pool_geom g = {.in = in, .out = out, .N = N, .H = H, .W = W, .C = C, .kh = kh, .kw = kw,
                   .stride_h = stride_h, .stride_w = stride_w, .is_max = is_max};
    nn_out_size(H, kh, stride_h, pad, 0, &g.OH, &g.pad_top);
    nn_out_size(W, kw, stride_w, pad, 1, &g.OW, &g.pad_left);
    *OH = g.OH;
    *OW = g.OW;
    g.split = nn_split_work((size_t)N * g.OH, (size_t)g.OW * C * kh * kw);
    nn_parallel_for(threads, g.split.n_tasks, pool_task, &g);
}

void nn_maxpool2d(int threads, const float *in, int N, int H, int W, int C, int kh, int kw,
                  int stride_h, int stride_w, nn_padding pad, float *out, int *OH, int *OW) {
    pool2d(threads, in, N, H, W, C, kh, kw, stride_h, stride_w, pad, 1, out, OH, OW);
}

void nn_avgpool2d(int threads, const float *in, int N, int H, int W, int C, int kh, int kw,
                  int stride_h, int stride_w, nn_padding pad, float *out, int *OH, int *OW) {
    pool2d(threads, in, N, H, W, C, kh, kw, stride_h, stride_w, pad, 0, out, OH, OW);
}
