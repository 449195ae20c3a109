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

void nn_conv2d(int threads, const nn_conv *cv, const float *in, int N, int H, int W, float *out,
               int *OH, int *OW, nn_arena *scratch) {
    conv_geom geom = conv_setup(cv, in, N, H, W, out, OH, OW);
    int pointwise = cv->kh == 1 && cv->kw == 1 && cv->stride_h == 1 && cv->stride_w == 1 &&
                    geom.OH == H && geom.OW == W && geom.pad_top == 0 && geom.pad_left == 0;
    nn_gemm g = {.M = (size_t)N * geom.OH * geom.OW, .K = cv->kh * cv->kw * cv->cin,
                 .N = cv->cout, .A = pointwise ? in : NULL, .gather = im2col_rows,
                 .gather_ctx = &geom, .B = cv->weight, .bias = cv->bias, .act = cv->act,
                 .C = out};
    if (!nn_gemm_run(threads, &g, scratch))
        nn_parallel_for(threads, N * geom.OH, conv_row_without_scratch, &geom);
}

/* The depthwise convolution keeps up to 4 output pixels x 8 channels of sums in vector
 * registers while it runs over the taps: each weight vector loaded serves all the pixels.
 * The sums start from the bias and add the taps in (ky, kx) order without fused
 * multiply-adds, so every path (vector, scalar, edge) gives the same bits. */
typedef float f8 __attribute__((vector_size(32))); /* GCC/Clang vector extension */
/* 8 floats at any float address: *(const f8_at *)p loads them, *(f8_at *)p stores them */
typedef float f8_at __attribute__((vector_size(32), aligned(4), may_alias));

/* Output pixels ox .. ox + n_px - 1 of row oy (n_px <= 4), channels [c0, c0 + 8), over the
 * taps ky in [ky0, ky1) and kx in [kx0, kx1), inside the image for each of these pixels.
 * Always inlined with constant n_px (and kx1 - kx0 for 3x3 kernels), so that the loops
 * unroll and the sums stay in registers. */
static inline __attribute__((always_inline)) void
depthwise_vector(const conv_geom *g, const float *image, int oy, int ox, int n_px, int ky0,
                 int ky1, int kx0, int kx1, int c0, float *out_row) {
    const nn_conv *cv = g->cv;
    size_t C = (size_t)cv->cin, step = (size_t)cv->stride_w * C;
    f8 acc[4], start = {0};
    if (cv->bias) start = *(const f8_at *)(cv->bias + c0);
#pragma GCC unroll 4
    for (int p = 0; p < n_px; p++) acc[p] = start;
    for (int ky = ky0; ky < ky1; ky++) {
        int iy = oy * cv->stride_h - g->pad_top + ky, ix = ox * cv->stride_w - g->pad_left;
        const float *x = image + ((size_t)iy * g->W + ix + kx0) * C + c0;
        const float *w = cv->weight + ((size_t)ky * cv->kw + kx0) * C + c0;
#pragma GCC unroll 3
        for (int kx = kx0; kx < kx1; kx++, x += C, w += C) {
            f8 wv = *(const f8_at *)w;
#pragma GCC unroll 4
            for (int p = 0; p < n_px; p++) acc[p] += *(const f8_at *)(x + p * step) * wv;
        }
    }
#pragma GCC unroll 4
    for (int p = 0; p < n_px; p++) *(f8_at *)(out_row + (ox + p) * C + c0) = acc[p];
}

/* depthwise_vector over every block of 8 channels, for a given n_px and taps. */
static inline __attribute__((always_inline)) void
depthwise_blocks(const conv_geom *g, const float *image, int oy, int ox, int n_px, int ky0,
                 int ky1, int kx0, int kx1, float *out_row) {
    for (int c0 = 0; c0 + 8 <= g->cv->cin; c0 += 8)
        depthwise_vector(g, image, oy, ox, n_px, ky0, ky1, kx0, kx1, c0, out_row);
}

/* Pixels ox .. ox + n_px - 1 whose windows are whole horizontally: 3x3 kernels (all of
 * ours) get their own copy of the loops with the tap count fixed. */
static void depthwise_group(const conv_geom *g, const float *image, int oy, int ox, int n_px,
                            int ky0, int ky1, float *out_row) {
    int kw = g->cv->kw;
    switch (kw == 3 ? n_px : -n_px) {
    case 4: depthwise_blocks(g, image, oy, ox, 4, ky0, ky1, 0, 3, out_row); break;
    case 2: depthwise_blocks(g, image, oy, ox, 2, ky0, ky1, 0, 3, out_row); break;
    case 1: depthwise_blocks(g, image, oy, ox, 1, ky0, ky1, 0, 3, out_row); break;
    case -4: depthwise_blocks(g, image, oy, ox, 4, ky0, ky1, 0, kw, out_row); break;
    case -2: depthwise_blocks(g, image, oy, ox, 2, ky0, ky1, 0, kw, out_row); break;
    default: depthwise_blocks(g, image, oy, ox, 1, ky0, ky1, 0, kw, out_row); break;
    }
}

/* The same sums one channel at a time: channels [c0, C) of output pixel ox. */
static void depthwise_scalar(const conv_geom *g, const float *image, int oy, int ox, int ky0,
                             int ky1, int kx0, int kx1, int c0, float *out_row) {
    const nn_conv *cv = g->cv;
    size_t C = (size_t)cv->cin;
    for (size_t c = (size_t)c0; c < C; c++) {
        float acc = cv->bias ? cv->bias[c] : 0.0f;
        for (int ky = ky0; ky < ky1; ky++) {
            int iy = oy * cv->stride_h - g->pad_top + ky;
            for (int kx = kx0; kx < kx1; kx++) {
                int ix = ox * cv->stride_w - g->pad_left + kx;
                acc += image[((size_t)iy * g->W + ix) * C + c] *
                       cv->weight[((size_t)ky * cv->kw + kx) * C + c];
            }
        }
        out_row[(size_t)ox * C + c] = acc;
    }
}

static void depthwise_row(const conv_geom *g, int r) {
    const nn_conv *cv = g->cv;
    int C = cv->cin, n = r / g->OH, oy = r % g->OH, ky0, ky1;
    nn_valid_taps(oy, cv->stride_h, g->pad_top, cv->kh, g->H, &ky0, &ky1);
    const float *image = g->in + (size_t)n * g->H * g->W * C;
    float *out_row = g->out + (size_t)r * g->OW * C;
    int c_vec = C / 8 * 8; /* channels done 8 at a time; the rest one at a time */
    int ox = 0;
    while (ox < g->OW) {
        int kx0, kx1;
        nn_valid_taps(ox, cv->stride_w, g->pad_left, cv->kw, g->W, &kx0, &kx1);
        int n_px = 1;
        if (kx0 == 0 && kx1 == cv->kw) { /* a group of pixels whose windows are whole */
            while (n_px < 4 && ox + n_px < g->OW) {
                nn_valid_taps(ox + n_px, cv->stride_w, g->pad_left, cv->kw, g->W, &kx0, &kx1);
                if (kx1 != cv->kw) break;
                n_px++;
            }
            if (n_px == 3) n_px = 2;
            depthwise_group(g, image, oy, ox, n_px, ky0, ky1, out_row);
            kx0 = 0, kx1 = cv->kw;
        } else {
            depthwise_blocks(g, image, oy, ox, 1, ky0, ky1, kx0, kx1, out_row);
        }
        for (int p = 0; p < n_px && c_vec < C; p++)
            depthwise_scalar(g, image, oy, ox + p, ky0, ky1, kx0, kx1, c_vec, out_row);
        ox += n_px;
    }
    nn_bias_act(out_row, (size_t)g->OW, C, (size_t)C, NULL, cv->act);
}

static void depthwise_task(void *ctx, int i) {
    const conv_geom *g = ctx;
    int r0 = i * (int)g->split.per_task, r1 = FR_MIN(r0 + (int)g->split.per_task, g->N * g->OH);
    for (int r = r0; r < r1; r++) depthwise_row(g, r);
}

void nn_depthwise_conv2d(int threads, const nn_conv *cv, const float *in, int N, int H, int W,
                         float *out, int *OH, int *OW) {
    conv_geom geom = conv_setup(cv, in, N, H, W, out, OH, OW);
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
