/* conv.c: output sizes and padding, 2-D convolution (im2col + GEMM), depthwise
 * convolution (direct loops), and batch-norm folding. */
#include "common/common.h"
#include "nn/kernels.h"

#include <cblas.h>
#include <math.h>
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

/* The geometry of one convolution call, shared by the gather, the fallback and depthwise. */
typedef struct conv_geom {
    const nn_conv *cv;
    const float *in;
    float *out;
    int N, H, W, OH, OW;
    int pad_top, pad_left;
    nn_split split; /* depthwise: output rows (n, oy) per task */
} conv_geom;

static conv_geom conv_setup(const nn_conv *cv, const float *in, int N, int H, int W,
                            float *out, int *OH, int *OW) {
    conv_geom g = {.cv = cv, .in = in, .out = out, .N = N, .H = H, .W = W};
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
    const conv_geom *g = ctx;
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

/* Without scratch memory: each output pixel accumulates one GEMV per kernel row over the
 * taps inside the image (whose weights are adjacent rows of the (K,Cout) matrix). */
static void conv_row_without_scratch(void *ctx, int r) {
    const conv_geom *g = ctx;
    const nn_conv *cv = g->cv;
    int n = r / g->OH, oy = r % g->OH, ky0, ky1;
    nn_valid_taps(oy, cv->stride_h, g->pad_top, cv->kh, g->H, &ky0, &ky1);
    float *out_row = g->out + (size_t)r * g->OW * cv->cout;
    for (int ox = 0; ox < g->OW; ox++) {
        float *o = out_row + (size_t)ox * cv->cout;
        int kx0, kx1;
        nn_valid_taps(ox, cv->stride_w, g->pad_left, cv->kw, g->W, &kx0, &kx1);
        memset(o, 0, (size_t)cv->cout * sizeof(float));
        if (kx1 == kx0) continue;
        int ix0 = ox * cv->stride_w - g->pad_left + kx0;
        for (int ky = ky0; ky < ky1; ky++) {
            int iy = oy * cv->stride_h - g->pad_top + ky;
            const float *x = g->in + (((size_t)n * g->H + iy) * g->W + ix0) * cv->cin;
            const float *w = cv->weight + ((size_t)ky * cv->kw + kx0) * cv->cin * cv->cout;
            cblas_sgemv(CblasRowMajor, CblasTrans, (kx1 - kx0) * cv->cin, cv->cout, 1.0f, w,
                        cv->cout, x, 1, 1.0f, o, 1);
        }
    }
    nn_bias_act(out_row, (size_t)g->OW, cv->cout, (size_t)cv->cout, cv->bias, cv->act);
}

void nn_conv2d(const nn_conv *cv, const float *in, int N, int H, int W, float *out, int *OH,
               int *OW, nn_arena *scratch) {
    conv_geom geom = conv_setup(cv, in, N, H, W, out, OH, OW);
    int pointwise = cv->kh == 1 && cv->kw == 1 && cv->stride_h == 1 && cv->stride_w == 1 &&
                    geom.OH == H && geom.OW == W && geom.pad_top == 0 && geom.pad_left == 0;
    nn_gemm g = {.M = (size_t)N * geom.OH * geom.OW, .K = cv->kh * cv->kw * cv->cin,
                 .N = cv->cout, .A = pointwise ? in : NULL, .gather = im2col_rows,
                 .gather_ctx = &geom, .B = cv->weight, .bias = cv->bias, .act = cv->act,
                 .C = out};
    if (!nn_gemm_run(&g, scratch))
        nn_parallel_for(N * geom.OH, conv_row_without_scratch, &geom);
}

/* Output channels [c0, c0 + n) of one output pixel: the taps are summed in acc, which stays
 * in registers when n is the constant DEPTHWISE_BLOCK (the calls below are inlined). */
#define DEPTHWISE_BLOCK 16

static inline void depthwise_channels(const conv_geom *g, const float *image, int oy, int ox,
                                      int ky0, int ky1, int kx0, int kx1, int c0, int n,
                                      float *o) {
    const nn_conv *cv = g->cv;
    int C = cv->cin;
    float acc[DEPTHWISE_BLOCK];
    for (int c = 0; c < n; c++) acc[c] = cv->bias ? cv->bias[c0 + c] : 0.0f;
    for (int ky = ky0; ky < ky1; ky++) {
        int iy = oy * cv->stride_h - g->pad_top + ky;
        for (int kx = kx0; kx < kx1; kx++) {
            int ix = ox * cv->stride_w - g->pad_left + kx;
            const float *x = image + ((size_t)iy * g->W + ix) * C + c0;
            const float *w = cv->weight + ((size_t)ky * cv->kw + kx) * C + c0;
            for (int c = 0; c < n; c++) acc[c] += x[c] * w[c];
        }
    }
    for (int c = 0; c < n; c++) o[c0 + c] = acc[c];
}

static void depthwise_row(const conv_geom *g, int r) {
    const nn_conv *cv = g->cv;
    int C = cv->cin, n = r / g->OH, oy = r % g->OH, ky0, ky1;
    nn_valid_taps(oy, cv->stride_h, g->pad_top, cv->kh, g->H, &ky0, &ky1);
    const float *image = g->in + (size_t)n * g->H * g->W * C;
    float *out_row = g->out + (size_t)r * g->OW * C;
    for (int ox = 0; ox < g->OW; ox++) {
        int kx0, kx1, c0 = 0;
        nn_valid_taps(ox, cv->stride_w, g->pad_left, cv->kw, g->W, &kx0, &kx1);
        float *o = out_row + (size_t)ox * C;
        for (; c0 + DEPTHWISE_BLOCK <= C; c0 += DEPTHWISE_BLOCK)
            depthwise_channels(g, image, oy, ox, ky0, ky1, kx0, kx1, c0, DEPTHWISE_BLOCK, o);
        if (c0 < C) depthwise_channels(g, image, oy, ox, ky0, ky1, kx0, kx1, c0, C - c0, o);
    }
    nn_bias_act(out_row, (size_t)g->OW, C, (size_t)C, NULL, cv->act);
}

static void depthwise_task(void *ctx, int i) {
    const conv_geom *g = ctx;
    int r0 = i * (int)g->split.per_task, r1 = FR_MIN(r0 + (int)g->split.per_task, g->N * g->OH);
    for (int r = r0; r < r1; r++) depthwise_row(g, r);
}

void nn_depthwise_conv2d(const nn_conv *cv, const float *in, int N, int H, int W, float *out,
                         int *OH, int *OW) {
    conv_geom geom = conv_setup(cv, in, N, H, W, out, OH, OW);
    size_t rows = (size_t)N * geom.OH;
    geom.split = nn_split_work(rows, 2 * (size_t)geom.OW * cv->cin * cv->kh * cv->kw);
    nn_parallel_for(geom.split.n_tasks, depthwise_task, &geom);
}

void nn_fold_batchnorm(float *weight, size_t n_per_out, float *bias, int C, const float *gamma,
                       const float *beta, const float *mean, const float *var, float eps) {
    for (int c = 0; c < C; c++) {
        float scale = 1.0f / sqrtf(var[c] + eps) * (gamma ? gamma[c] : 1.0f);
        for (size_t i = 0; i < n_per_out; i++) weight[i * C + c] *= scale;
        bias[c] = (bias[c] - mean[c]) * scale + (beta ? beta[c] : 0.0f);
    }
}
