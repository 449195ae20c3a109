/* conv.c: output sizes and padding, 2-D convolution (Winograd F(2,3) for 3x3 stride 1 where
 * it is faster, else im2col + GEMM, no im2col for 1x1 stride 1), depthwise convolution
 * (direct loops), and batch-norm folding. The inner loops are the CPU level's kernels
 * (nn_kernels(), src/nn/isa/). */
#include "common/common.h"
#include "nn/kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

void nn_out_size(int in, int k, int stride, nn_padding pad, int axis_is_w, int *out,
                 int *pad_before) {
    switch (pad.mode) {
    case NN_PAD_SAME: {
        int o = (in + stride - 1) / stride;
        int total = (o - 1) * stride + k - in;
        *out = o;
        *pad_before = total > 0 ? total / 2 : 0; /* the odd pixel goes after */
        return;
    }
    case NN_PAD_EXPLICIT: {
        int before = axis_is_w ? pad.left : pad.top, after = axis_is_w ? pad.right : pad.bottom;
        int span = in + before + after - k;
        *out = span < 0 ? 0 : span / stride + 1;
        *pad_before = before;
        return;
    }
    case NN_PAD_VALID: break;
    }
    *out = in < k ? 0 : (in - k) / stride + 1;
    *pad_before = 0;
}

static nn_conv_geom conv_setup(const nn_conv *cv, const float *in, int N, int H, int W,
                            float *out, int *OH, int *OW) {
    nn_conv_geom g = {.cv = cv, .in = in, .out = out, .N = N, .H = H, .W = W};
    nn_out_size(H, cv->kh, cv->stride_h, cv->pad, 0, &g.OH, &g.pad_top);
    nn_out_size(W, cv->kw, cv->stride_w, cv->pad, 1, &g.OW, &g.pad_left);
    *OH = g.OH;
    *OW = g.OW;
    return g;
}

/* im2col for output pixels [m0, m1) (m = (n*OH + oy)*OW + ox): row m - m0 of `rows` is
 * the (KH,KW,Cin) window of pixel m, zeros where it lies in the padding. The taps of one
 * kernel row that fall inside the image are adjacent in memory: one memcpy. */
static void im2col_rows(const void *ctx, size_t m0, size_t m1, float *rows) {
    const nn_conv_geom *g = ctx;
    const nn_conv *cv = g->cv;
    size_t cin = (size_t)cv->cin, K = (size_t)cv->kh * cv->kw * cin;
    for (size_t m = m0; m < m1; m++) {
        int ox = (int)(m % g->OW), oy = (int)(m / g->OW % g->OH), n = (int)(m / g->OW / g->OH);
        float *dst = rows + (m - m0) * K;
        int ky0, ky1, kx0, kx1;
        nn_valid_taps(oy, cv->stride_h, g->pad_top, cv->kh, g->H, &ky0, &ky1);
        nn_valid_taps(ox, cv->stride_w, g->pad_left, cv->kw, g->W, &kx0, &kx1);
        int ix0 = ox * cv->stride_w - g->pad_left + kx0;
        for (int ky = 0; ky < cv->kh; ky++, dst += cv->kw * cin) {
            if (ky < ky0 || ky >= ky1) {
                memset(dst, 0, cv->kw * cin * sizeof(float));
                continue;
            }
            int iy = oy * cv->stride_h - g->pad_top + ky;
            const float *src = g->in + (((size_t)n * g->H + iy) * g->W + ix0) * cin;
            memset(dst, 0, kx0 * cin * sizeof(float));
            memcpy(dst + kx0 * cin, src, (kx1 - kx0) * cin * sizeof(float));
            memset(dst + kx1 * cin, 0, (cv->kw - kx1) * cin * sizeof(float));
        }
    }
}

/* Without scratch memory: each output pixel accumulates one matrix-vector product per kernel
 * row over the taps inside the image (whose weights are adjacent rows of the (K,Cout) matrix),
 * the last one with the bias and act. */
static void conv_row_without_scratch(void *ctx, int r) {
    const nn_conv_geom *g = ctx;
    const nn_conv *cv = g->cv;
    const nn_kernel_table *k = nn_kernels();
    int n = r / g->OH, oy = r % g->OH, ky0, ky1;
    nn_valid_taps(oy, cv->stride_h, g->pad_top, cv->kh, g->H, &ky0, &ky1);
    float *out_row = g->out + (size_t)r * g->OW * cv->cout;
    for (int ox = 0; ox < g->OW; ox++) {
        int kx0, kx1;
        nn_valid_taps(ox, cv->stride_w, g->pad_left, cv->kw, g->W, &kx0, &kx1);
        int ix0 = ox * cv->stride_w - g->pad_left + kx0, n_rows = kx1 > kx0 ? ky1 - ky0 : 0;
        nn_gemm_block b = {.m = 1, .n = cv->cout, .C = out_row + (size_t)ox * cv->cout,
                           .ldc = (size_t)cv->cout, .ldb = (size_t)cv->cout,
                           .bias = cv->bias, .act = cv->act};
        if (n_rows == 0) k->gemm_block(&b); /* no tap inside: act(bias) */
        for (int r = 0; r < n_rows; r++) {
            int ky = ky0 + r, iy = oy * cv->stride_h - g->pad_top + ky, last = r == n_rows - 1;
            b.k = (kx1 - kx0) * cv->cin;
            b.A = g->in + (((size_t)n * g->H + iy) * g->W + ix0) * cv->cin;
            b.lda = (size_t)b.k;
            b.B = cv->weight + ((size_t)ky * cv->kw + kx0) * cv->cin * cv->cout;
            b.accumulate = r > 0;
            b.bias = last ? cv->bias : NULL;
            b.act = last ? cv->act : (nn_act){NN_ACT_NONE, 0.0f, NULL};
            k->gemm_block(&b);
        }
    }
}

/* ---- Winograd F(2,3) ---- */

size_t nn_winograd_weight_floats(const nn_conv *cv) {
    if (cv->kh != 3 || cv->kw != 3 || cv->stride_h != 1 || cv->stride_w != 1) return 0;
    return (size_t)16 * cv->cin * cv->cout;
}

/* U = G g G^T with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], for every (ci, co). */
void nn_winograd_weights(const nn_conv *cv, float *out) {
    size_t cin = (size_t)cv->cin, cout = (size_t)cv->cout, plane = cin * cout;
    for (size_t ci = 0; ci < cin; ci++)
        for (size_t co = 0; co < cout; co++) {
            float g[9], gg[12];
            for (int t = 0; t < 9; t++) g[t] = cv->weight[t * plane + ci * cout + co];
            for (int j = 0; j < 3; j++) { /* G g: rows */
                gg[j] = g[j];
                gg[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                gg[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                gg[9 + j] = g[6 + j];
            }
            for (int i = 0; i < 4; i++) { /* (G g) G^T: columns */
                const float *r = gg + 3 * i;
                float u[4] = {r[0], 0.5f * (r[0] + r[1] + r[2]), 0.5f * (r[0] - r[1] + r[2]), r[2]};
                for (int j = 0; j < 4; j++) out[(size_t)(4 * i + j) * plane + ci * cout + co] = u[j];
            }
        }
}

/* Tiles per group: the group's transformed input and products, 16 * T * (Cin + Cout) floats,
 * about 1 MB (L2), and at least 24 rows for the GEMMs' register blocks. */
#define WINOGRAD_GROUP_FLOATS (256 * 1024)

typedef struct winograd_job {
    const nn_conv_geom *g;
    int tiles_x, tiles_y;
    size_t tiles, per_group;
    int n_groups;
    atomic_int next_group;
    float *buffers; /* per task: V, M, zeros */
    size_t buffer_floats;
} winograd_job;

static void winograd_task(void *ctx, int i) {
    winograd_job *j = ctx;
    const nn_conv *cv = j->g->cv;
    const nn_kernel_table *k = nn_kernels();
    float *buf = j->buffers + (size_t)i * j->buffer_floats;
    size_t cin = (size_t)cv->cin, cout = (size_t)cv->cout;
    for (;;) {
        int grp = atomic_fetch_add(&j->next_group, 1);
        if (grp >= j->n_groups) return;
        nn_winograd_group w = {.g = j->g, .tiles_x = j->tiles_x, .tiles_y = j->tiles_y,
                               .t0 = (size_t)grp * j->per_group};
        w.t1 = FR_MIN(w.t0 + j->per_group, j->tiles);
        size_t T = w.t1 - w.t0;
        w.V = buf;
        w.M = buf + 16 * j->per_group * cin;
        w.zeros = w.M + 16 * j->per_group * cout;
        k->winograd_input(&w);
        for (int p = 0; p < 16; p++) {
            nn_gemm_block b = {.m = (int)T, .n = (int)cout, .k = (int)cin,
                               .A = w.V + p * T * cin, .lda = cin,
                               .B = cv->winograd + p * cin * cout, .ldb = cout,
                               .C = w.M + p * T * cout, .ldc = cout};
            k->gemm_block(&b);
        }
        k->winograd_output(&w);
    }
}

/* Returns 0 (having computed nothing) when scratch is short. */
static int conv_winograd(int threads, const nn_conv_geom *g, nn_arena *scratch) {
    const nn_conv *cv = g->cv;
    winograd_job j = {.g = g, .tiles_x = (g->OW + 1) / 2, .tiles_y = (g->OH + 1) / 2};
    j.tiles = (size_t)g->N * j.tiles_x * j.tiles_y;
    size_t per = WINOGRAD_GROUP_FLOATS / (16 * ((size_t)cv->cin + cv->cout));
    j.per_group = FR_MIN(FR_MAX(per, 24), j.tiles);
    j.n_groups = (int)((j.tiles + j.per_group - 1) / j.per_group);
    atomic_init(&j.next_group, 0);
    j.buffer_floats = 16 * j.per_group * ((size_t)cv->cin + cv->cout) +
                      (size_t)FR_MAX(cv->cin, cv->cout) + 16; /* 16: keeps buffers 64-byte aligned */
    j.buffer_floats = (j.buffer_floats + 15) / 16 * 16;
    int n_tasks = FR_MIN(FR_MAX(threads, 1), j.n_groups);
    if (!scratch) return 0;
    size_t mark = nn_arena_mark(scratch), total;
    while (n_tasks > 0 && (!fr_mul_size(j.buffer_floats, (size_t)n_tasks, &total) ||
                           !(j.buffers = nn_arena_alloc(scratch, total))))
        n_tasks--;
    if (n_tasks == 0) return 0;
    for (int i = 0; i < n_tasks; i++) {
        float *zeros = j.buffers + (size_t)i * j.buffer_floats + 16 * j.per_group * ((size_t)cv->cin + cv->cout);
        memset(zeros, 0, (size_t)FR_MAX(cv->cin, cv->cout) * sizeof(float));
    }
    nn_parallel_for(threads, n_tasks, winograd_task, &j);
    nn_arena_reset(scratch, mark);
    return 1;
}

/* Winograd F(2,3) does 16 products per 2x2 output pixels where the direct path does 36, but
 * reads its transformed weights (16/9 of the weights) once per group of tiles: it wins where
 * the tiles are many for the channels (measured per dlib-resnet layer, bench/conv_layers). */
static int winograd_pays(const nn_conv_geom *g) {
    const nn_conv *cv = g->cv;
    if (!cv->winograd || !nn_winograd_weight_floats(cv)) return 0;
    size_t tiles = (size_t)g->N * ((g->OW + 1) / 2) * ((g->OH + 1) / 2);
    return tiles >= 24;
}

void nn_conv2d(int threads, const nn_conv *cv, const float *in, int N, int H, int W, float *out,
               int *OH, int *OW, nn_arena *scratch) {
    nn_conv_geom geom = conv_setup(cv, in, N, H, W, out, OH, OW);
    if (winograd_pays(&geom) && conv_winograd(threads, &geom, scratch)) return;
    int pointwise = cv->kh == 1 && cv->kw == 1 && cv->stride_h == 1 && cv->stride_w == 1 &&
                    geom.OH == H && geom.OW == W && geom.pad_top == 0 && geom.pad_left == 0;
    nn_gemm g = {.M = (size_t)N * geom.OH * geom.OW, .K = cv->kh * cv->kw * cv->cin,
                 .N = cv->cout, .A = pointwise ? in : NULL, .gather = im2col_rows,
                 .gather_ctx = &geom, .B = cv->weight, .bias = cv->bias, .act = cv->act,
                 .C = out};
    if (!nn_gemm_run(threads, &g, scratch))
        nn_parallel_for(threads, N * geom.OH, conv_row_without_scratch, &geom);
}

static void depthwise_task(void *ctx, int i) {
    const nn_conv_geom *g = ctx;
    int r0 = i * (int)g->split.per_task, r1 = FR_MIN(r0 + (int)g->split.per_task, g->N * g->OH);
    nn_kernels()->depthwise_rows(g, r0, r1);
}

void nn_depthwise_conv2d(int threads, const nn_conv *cv, const float *in, int N, int H, int W,
                         float *out, int *OH, int *OW) {
    nn_conv_geom geom = conv_setup(cv, in, N, H, W, out, OH, OW);
    size_t rows = (size_t)N * geom.OH;
    geom.split = nn_split_work(rows, 2 * (size_t)geom.OW * cv->cin * cv->kh * cv->kw);
    nn_parallel_for(threads, geom.split.n_tasks, depthwise_task, &geom);
}

void nn_fold_batchnorm(float *weight, size_t n_per_out, float *bias, int C, const float *gamma,
                       const float *beta, const float *mean, const float *var, float eps) {
    for (int c = 0; c < C; c++) {
        float scale = 1.0f / sqrtf(var[c] + eps) * (gamma ? gamma[c] : 1.0f);
        for (size_t i = 0; i < n_per_out; i++) weight[i * C + c] *= scale;
        bias[c] = (bias[c] - mean[c]) * scale + (beta ? beta[c] : 0.0f);
    }
}
