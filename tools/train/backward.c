/* backward.c: the backward passes of the nn ops, as plain loops over the forward's layout
 * (the shapes are those of src/nn/nn.h), but for the dense layer's two matrix products.
 * Written for correctness first: each is checked against finite differences of its forward
 * op in tests/test_train.c. */
#include "train/train_internal.h"

#include "nn/kernels.h"

#include <math.h>
#include <string.h>

/* The dense layer's two products run through the CPU level's GEMM (gemm_block, nn/kernels.h),
 * which multiplies row-major A (m,k) by B (k,n); the operand that comes transposed (w for
 * din, in for dw) is copied a block at a time into a buffer on the stack. That copy is cheap:
 * each float moved takes part in N (for w) or Cout (for in) multiply-adds. They run on the
 * calling thread: training runs its images in parallel chunks (full.c, graph_full.c). */
#define TRANSPOSE_FLOATS 8192 /* 32 KB */
#define K_BLOCK 256           /* the GEMM's own k block */

void train_dense_backward(const float *in, int N, int Cin, const float *w, int Cout,
                          const float *dout, float *din, float *dw, float *db) {
    if (N <= 0) return;
    const nn_kernel_table *kernels = nn_kernels();
    float t[TRANSPOSE_FLOATS];
    if (din) { /* din (N,Cin) = dout (N,Cout) * w^T, a block of din's columns at a time */
        int kb = FR_CLAMP(Cout, 1, K_BLOCK), nb = TRANSPOSE_FLOATS / kb;
        for (int j0 = 0; j0 < Cin; j0 += nb) {
            int n = FR_MIN(nb, Cin - j0), c0 = 0;
            do { /* once at least: Cout = 0 gives zeros */
                int k = FR_MIN(kb, Cout - c0);
                for (int j = 0; j < n; j++)
                    for (int p = 0; p < k; p++) t[p * n + j] = w[(size_t)(j0 + j) * Cout + c0 + p];
                nn_gemm_block b = {.m = N, .n = n, .k = k, .A = dout + c0, .lda = (size_t)Cout,
                                   .B = t, .ldb = (size_t)n, .C = din + j0, .ldc = (size_t)Cin,
                                   .accumulate = c0 > 0};
                kernels->gemm_block(&b);
                c0 += kb;
            } while (c0 < Cout);
        }
    }
    if (dw && Cout > 0) { /* dw (Cin,Cout) += in^T * dout, a block of the N rows at a time */
        int kb = FR_MIN(N, K_BLOCK), mb = TRANSPOSE_FLOATS / kb;
        for (int n0 = 0; n0 < N; n0 += kb) {
            int k = FR_MIN(kb, N - n0);
            for (int i0 = 0; i0 < Cin; i0 += mb) {
                int m = FR_MIN(mb, Cin - i0);
                for (int p = 0; p < k; p++)
                    for (int i = 0; i < m; i++) t[i * k + p] = in[(size_t)(n0 + p) * Cin + i0 + i];
                nn_gemm_block b = {.m = m, .n = Cout, .k = k, .A = t, .lda = (size_t)k,
                                   .B = dout + (size_t)n0 * Cout, .ldb = (size_t)Cout,
                                   .C = dw + (size_t)i0 * Cout, .ldc = (size_t)Cout,
                                   .accumulate = 1};
                kernels->gemm_block(&b);
            }
        }
    }
    if (db)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < Cout; c++) db[c] += dout[(size_t)n * Cout + c];
}

void train_activation_backward(const float *x, size_t P, int C, nn_act act, const float *dout,
                               float *dx, float *dslope) {
    for (size_t p = 0; p < P; p++) {
        for (int c = 0; c < C; c++) {
            size_t i = p * (size_t)C + c;
            float v = x[i], g = dout[i];
            switch (act.kind) {
            case NN_ACT_NONE: break;
            case NN_ACT_RELU: g = v > 0.0f ? g : 0.0f; break;
            case NN_ACT_RELU6: g = v > 0.0f && v < 6.0f ? g : 0.0f; break;
            case NN_ACT_LEAKY: g = v > 0.0f ? g : act.alpha * g; break;
            case NN_ACT_PRELU:
                if (v < 0.0f && dslope) dslope[c] += g * v;
                g = v > 0.0f ? g : act.slope[c] * g;
                break;
            }
            dx[i] = g;
        }
    }
}

void train_l2_normalize_backward(const float *x, const float *y, const float *dy, int N, int C,
                                 float *dx) {
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C, *yr = y + (size_t)n * C, *gr = dy + (size_t)n * C;
        float *dr = dx + (size_t)n * C;
        double sum = 0.0, dot = 0.0;
        for (int c = 0; c < C; c++) {
            sum += (double)xr[c] * xr[c];
            dot += (double)yr[c] * gr[c];
        }
        if (sum == 0.0) { /* the forward leaves zero rows alone */
            memset(dr, 0, (size_t)C * sizeof *dr);
            continue;
        }
        float inv = (float)(1.0 / sqrt(sum)), d = (float)dot;
        for (int c = 0; c < C; c++) dr[c] = (gr[c] - yr[c] * d) * inv;
    }
}

/* The geometry shared by the convolution and pooling backward passes. */
typedef struct window_geom {
    int OH, OW, pad_top, pad_left;
} window_geom;

static window_geom window_setup(int H, int W, int kh, int kw, int stride_h, int stride_w,
                                nn_padding pad) {
    window_geom g;
    nn_out_size(H, kh, stride_h, pad, 0, &g.OH, &g.pad_top);
    nn_out_size(W, kw, stride_w, pad, 1, &g.OW, &g.pad_left);
    return g;
}

void train_conv2d_backward(const nn_conv *cv, const float *in, int N, int H, int W,
                           const float *dout, float *din, float *dweight, float *dbias) {
    window_geom g = window_setup(H, W, cv->kh, cv->kw, cv->stride_h, cv->stride_w, cv->pad);
    int cin = cv->cin, cout = cv->cout;
    if (din) memset(din, 0, (size_t)N * H * W * cin * sizeof *din);
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < g.OH; oy++) {
            int ky0, ky1;
            nn_valid_taps(oy, cv->stride_h, g.pad_top, cv->kh, H, &ky0, &ky1);
            for (int ox = 0; ox < g.OW; ox++) {
                int kx0, kx1;
                nn_valid_taps(ox, cv->stride_w, g.pad_left, cv->kw, W, &kx0, &kx1);
                const float *go = dout + (((size_t)n * g.OH + oy) * g.OW + ox) * cout;
                if (dbias)
                    for (int co = 0; co < cout; co++) dbias[co] += go[co];
                for (int ky = ky0; ky < ky1; ky++) {
                    int iy = oy * cv->stride_h - g.pad_top + ky;
                    for (int kx = kx0; kx < kx1; kx++) {
                        int ix = ox * cv->stride_w - g.pad_left + kx;
                        size_t pixel = ((size_t)n * H + iy) * W + ix;
                        const float *x = in + pixel * cin;
                        size_t tap = ((size_t)ky * cv->kw + kx) * cin * cout;
                        for (int ci = 0; ci < cin; ci++) {
                            const float *wrow = cv->weight + tap + (size_t)ci * cout;
                            if (dweight) {
                                float *drow = dweight + tap + (size_t)ci * cout;
                                for (int co = 0; co < cout; co++) drow[co] += x[ci] * go[co];
                            }
                            if (din) {
                                float s = 0.0f;
                                for (int co = 0; co < cout; co++) s += wrow[co] * go[co];
                                din[pixel * cin + ci] += s;
                            }
                        }
                    }
                }
            }
        }
    }
}

void train_depthwise_conv2d_backward(const nn_conv *cv, const float *in, int N, int H, int W,
                                     const float *dout, float *din, float *dweight,
                                     float *dbias) {
    window_geom g = window_setup(H, W, cv->kh, cv->kw, cv->stride_h, cv->stride_w, cv->pad);
    int C = cv->cout;
    if (din) memset(din, 0, (size_t)N * H * W * C * sizeof *din);
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < g.OH; oy++) {
            int ky0, ky1;
            nn_valid_taps(oy, cv->stride_h, g.pad_top, cv->kh, H, &ky0, &ky1);
            for (int ox = 0; ox < g.OW; ox++) {
                int kx0, kx1;
                nn_valid_taps(ox, cv->stride_w, g.pad_left, cv->kw, W, &kx0, &kx1);
                const float *go = dout + (((size_t)n * g.OH + oy) * g.OW + ox) * C;
                if (dbias)
                    for (int c = 0; c < C; c++) dbias[c] += go[c];
                for (int ky = ky0; ky < ky1; ky++) {
                    int iy = oy * cv->stride_h - g.pad_top + ky;
                    for (int kx = kx0; kx < kx1; kx++) {
                        int ix = ox * cv->stride_w - g.pad_left + kx;
                        size_t pixel = ((size_t)n * H + iy) * W + ix;
                        size_t tap = ((size_t)ky * cv->kw + kx) * C;
                        for (int c = 0; c < C; c++) {
                            if (dweight) dweight[tap + c] += in[pixel * C + c] * go[c];
                            if (din) din[pixel * C + c] += cv->weight[tap + c] * go[c];
                        }
                    }
                }
            }
        }
    }
}

void train_maxpool2d_backward(const float *in, int N, int H, int W, int C, int kh, int kw,
                              int stride_h, int stride_w, nn_padding pad, const float *dout,
                              float *din) {
    window_geom g = window_setup(H, W, kh, kw, stride_h, stride_w, pad);
    memset(din, 0, (size_t)N * H * W * C * sizeof *din);
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < g.OH; oy++) {
            int ky0, ky1;
            nn_valid_taps(oy, stride_h, g.pad_top, kh, H, &ky0, &ky1);
            for (int ox = 0; ox < g.OW; ox++) {
                int kx0, kx1;
                nn_valid_taps(ox, stride_w, g.pad_left, kw, W, &kx0, &kx1);
                if (ky0 == ky1 || kx0 == kx1) continue; /* entirely in padding: output is 0 */
                const float *go = dout + (((size_t)n * g.OH + oy) * g.OW + ox) * C;
                int iy0 = oy * stride_h - g.pad_top, ix0 = ox * stride_w - g.pad_left;
                for (int c = 0; c < C; c++) {
                    size_t best = 0;
                    float best_value = 0.0f;
                    for (int ky = ky0; ky < ky1; ky++) {
                        for (int kx = kx0; kx < kx1; kx++) {
                            size_t i = (((size_t)n * H + iy0 + ky) * W + ix0 + kx) * C + c;
                            if ((ky == ky0 && kx == kx0) || in[i] > best_value) {
                                best = i;
                                best_value = in[i];
                            }
                        }
                    }
                    din[best] += go[c];
                }
            }
        }
    }
}

void train_avgpool2d_backward(int N, int H, int W, int C, int kh, int kw, int stride_h,
                              int stride_w, nn_padding pad, const float *dout, float *din) {
    window_geom g = window_setup(H, W, kh, kw, stride_h, stride_w, pad);
    memset(din, 0, (size_t)N * H * W * C * sizeof *din);
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < g.OH; oy++) {
            int ky0, ky1;
            nn_valid_taps(oy, stride_h, g.pad_top, kh, H, &ky0, &ky1);
            for (int ox = 0; ox < g.OW; ox++) {
                int kx0, kx1;
                nn_valid_taps(ox, stride_w, g.pad_left, kw, W, &kx0, &kx1);
                int count = (ky1 - ky0) * (kx1 - kx0);
                if (count == 0) continue;
                const float *go = dout + (((size_t)n * g.OH + oy) * g.OW + ox) * C;
                int iy0 = oy * stride_h - g.pad_top, ix0 = ox * stride_w - g.pad_left;
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        float *d = din + (((size_t)n * H + iy0 + ky) * W + ix0 + kx) * C;
                        for (int c = 0; c < C; c++) d[c] += go[c] / (float)count;
                    }
                }
            }
        }
    }
}

void train_add_backward(const float *dout, size_t n, float *da, float *db) {
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}

void train_concat_channels_backward(const float *dout, const int *Cs, int n_in, size_t P,
                                    float *const *dins) {
    int Cout = 0;
    for (int i = 0; i < n_in; i++) Cout += Cs[i];
    for (size_t p = 0; p < P; p++) {
        const float *row = dout + p * (size_t)Cout;
        for (int i = 0; i < n_in; row += Cs[i], i++)
            if (dins[i]) memcpy(dins[i] + p * (size_t)Cs[i], row, (size_t)Cs[i] * sizeof *row);
    }
}

void train_scale_shift_backward(const float *x, size_t P, int C, const float *scale,
                                const float *dout, float *dx, float *dscale, float *dshift) {
    for (size_t p = 0; p < P; p++) {
        for (int c = 0; c < C; c++) {
            size_t i = p * (size_t)C + c;
            float g = dout[i];
            if (dscale) dscale[c] += g * x[i];
            if (dshift) dshift[c] += g;
            if (dx) dx[i] = scale ? g * scale[c] : g;
        }
    }
}
