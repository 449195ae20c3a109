/* test_nn_ops.c: every nn op against a naive reference loop written here, over many shapes;
 * the arena; the thread pool (coverage, nesting, thread-count independence, concurrent
 * callers). */
#include "facerec.h"
#include "nn/cpu.h"
#include "nn/distance.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "test.h"

#include <pthread.h>
#include <stdint.h>

/* ---- helpers ---- */

static uint32_t rng_state = 12345u;

static float rand_float(void) { /* in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}

static float *rand_array(size_t n) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = rand_float();
    return x;
}

/* Index of the first element of got that differs from want by more than 1e-4 relative
 * (absolute near zero), or -1. */
static long first_mismatch(const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])))) return (long)i;
    return -1;
}

#define CHECK_ARRAYS(got, want, n, ...)                                                    \
    do {                                                                                   \
        long bad_ = first_mismatch((got), (want), (n));                                    \
        if (bad_ >= 0) {                                                                   \
            fprintf(stderr, "  at index %ld: got %g, want %g; case: ", bad_,               \
                    (double)(got)[bad_], (double)(want)[bad_]);                            \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
        }                                                                                  \
        CHECK(bad_ < 0);                                                                   \
    } while (0)

/* TensorFlow's rule, written independently of nn_out_size: returns the output size. */
static int ref_geometry(int in, int k, int stride, nn_padding pad, int axis_is_w, int *before) {
    if (pad.mode == NN_PAD_SAME) {
        int out = (in + stride - 1) / stride;
        int total = (out - 1) * stride + k - in;
        if (total < 0) total = 0;
        *before = total / 2;
        return out;
    }
    int b = 0, a = 0;
    if (pad.mode == NN_PAD_EXPLICIT) {
        b = axis_is_w ? pad.left : pad.top;
        a = axis_is_w ? pad.right : pad.bottom;
    }
    *before = b;
    int span = in + b + a;
    return span < k ? 0 : (span - k) / stride + 1;
}

static float ref_act(float v, nn_act act, int c) {
    switch (act.kind) {
    case NN_ACT_NONE: return v;
    case NN_ACT_RELU: return v < 0 ? 0 : v;
    case NN_ACT_RELU6: return v < 0 ? 0 : v > 6 ? 6 : v;
    case NN_ACT_LEAKY: return v < 0 ? act.alpha * v : v;
    case NN_ACT_PRELU: return v < 0 ? act.slope[c] * v : v;
    }
    return v;
}

/* depthwise: weight is (KH,KW,C) and out channel c only reads in channel c */
static void ref_conv(const nn_conv *cv, int depthwise, const float *in, int N, int H, int W,
                     float *out, int *OH, int *OW) {
    int pt, pl;
    *OH = ref_geometry(H, cv->kh, cv->stride_h, cv->pad, 0, &pt);
    *OW = ref_geometry(W, cv->kw, cv->stride_w, cv->pad, 1, &pl);
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < *OH; oy++)
            for (int ox = 0; ox < *OW; ox++)
                for (int co = 0; co < cv->cout; co++) {
                    double sum = cv->bias ? cv->bias[co] : 0.0;
                    for (int ky = 0; ky < cv->kh; ky++)
                        for (int kx = 0; kx < cv->kw; kx++) {
                            int iy = oy * cv->stride_h - pt + ky, ix = ox * cv->stride_w - pl + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            const float *x = in + (((size_t)n * H + iy) * W + ix) * cv->cin;
                            if (depthwise) {
                                sum += (double)x[co] * cv->weight[(ky * cv->kw + kx) * cv->cin + co];
                                continue;
                            }
                            for (int ci = 0; ci < cv->cin; ci++)
                                sum += (double)x[ci] *
                                       cv->weight[((ky * cv->kw + kx) * cv->cin + ci) * cv->cout + co];
                        }
                    out[(((size_t)n * *OH + oy) * *OW + ox) * cv->cout + co] =
                        ref_act((float)sum, cv->act, co);
                }
}

static nn_padding pad_same(void) { return (nn_padding){NN_PAD_SAME, 0, 0, 0, 0}; }
static nn_padding pad_valid(void) { return (nn_padding){NN_PAD_VALID, 0, 0, 0, 0}; }
static nn_padding pad_explicit(int t, int l, int b, int r) {
    return (nn_padding){NN_PAD_EXPLICIT, t, l, b, r};
}

/* ---- output size ---- */

TEST(out_size_follows_tensorflow) {
    int out, before;
    nn_out_size(5, 3, 2, pad_same(), 0, &out, &before); /* total padding 2 */
    CHECK(out == 3 && before == 1);
    nn_out_size(6, 3, 2, pad_same(), 0, &out, &before); /* total 1: the extra goes after */
    CHECK(out == 3 && before == 0);
    nn_out_size(150, 7, 2, pad_same(), 1, &out, &before); /* total 5 */
    CHECK(out == 75 && before == 2);
    nn_out_size(7, 3, 2, pad_valid(), 0, &out, &before);
    CHECK(out == 3 && before == 0);
    nn_out_size(2, 3, 1, pad_valid(), 0, &out, &before);
    CHECK(out == 0);
    nn_out_size(8, 3, 2, pad_explicit(1, 2, 0, 1), 0, &out, &before); /* rows: 1 + 8 + 0 */
    CHECK(out == 4 && before == 1);
    nn_out_size(8, 3, 2, pad_explicit(1, 2, 0, 1), 1, &out, &before); /* cols: 2 + 8 + 1 */
    CHECK(out == 5 && before == 2);
}

/* ---- convolutions ---- */

typedef struct conv_case {
    int N, H, W, cin, cout, k, stride;
    nn_padding pad;
    nn_act_kind act;
    int with_bias;
} conv_case;

static void make_conv(const conv_case *cc, int depthwise, nn_conv *cv, float **w, float **b,
                      float **slope) {
    int C = depthwise ? cc->cin : cc->cout;
    *w = rand_array((size_t)cc->k * cc->k * cc->cin * (depthwise ? 1 : cc->cout));
    *b = cc->with_bias ? rand_array((size_t)C) : NULL;
    *slope = rand_array((size_t)C);
    nn_act act = {cc->act, 0.2f, cc->act == NN_ACT_PRELU ? *slope : NULL};
    *cv = (nn_conv){cc->k, cc->k, cc->cin, depthwise ? cc->cin : cc->cout, cc->stride, cc->stride,
                    cc->pad, *w, *b, act, NULL};
}

/* How conv_case_matches runs a case. */
enum { CONV_GEMM = 0, CONV_DEPTHWISE = 1, CONV_WINOGRAD = 2 };

/* Runs one case through nn_conv2d (scratch as given; with Winograd weights for
 * CONV_WINOGRAD) or nn_depthwise_conv2d and compares with the reference; returns 0 on
 * mismatch. */
static int conv_case_matches(const conv_case *cc, int mode, nn_arena *scratch) {
    nn_conv cv;
    float *w, *b, *slope, *winograd = NULL;
    int depthwise = mode == CONV_DEPTHWISE;
    make_conv(cc, depthwise, &cv, &w, &b, &slope);
    if (mode == CONV_WINOGRAD) {
        winograd = malloc(nn_winograd_weight_floats(&cv) * sizeof(float));
        nn_winograd_weights(&cv, winograd);
        cv.winograd = winograd;
    }
    size_t in_n = (size_t)cc->N * cc->H * cc->W * cc->cin;
    float *in = rand_array(in_n);
    size_t out_cap = (size_t)cc->N * (cc->H + 8) * (cc->W + 8) * cv.cout;
    float *got = calloc(out_cap, sizeof(float)), *want = calloc(out_cap, sizeof(float));
    int OH, OW, rOH, rOW;
    if (depthwise)
        nn_depthwise_conv2d(TEST_THREADS, &cv, in, cc->N, cc->H, cc->W, got, &OH, &OW);
    else
        nn_conv2d(TEST_THREADS, &cv, in, cc->N, cc->H, cc->W, got, &OH, &OW, scratch);
    ref_conv(&cv, depthwise, in, cc->N, cc->H, cc->W, want, &rOH, &rOW);
    int ok = OH == rOH && OW == rOW;
    long bad = ok ? first_mismatch(got, want, (size_t)cc->N * OH * OW * cv.cout) : -1;
    if (!ok || bad >= 0)
        fprintf(stderr,
                "  %s (%d,%d,%d,%d)->%d k%d s%d pad %d act %d: out %dx%d (want %dx%d), "
                "index %ld\n",
                depthwise ? "depthwise" : "conv2d", cc->N, cc->H, cc->W, cc->cin, cv.cout, cc->k,
                cc->stride, (int)cc->pad.mode, (int)cc->act, OH, OW, rOH, rOW, bad);
    free(in);
    free(got);
    free(want);
    free(w);
    free(b);
    free(slope);
    free(winograd);
    return ok && bad < 0;
}

/* Many small shapes: kernels 1/3/5/7, strides 1/2, SAME on odd and even sizes, VALID,
 * explicit padding, batches, channel counts that are not multiples of 8, every activation. */
static int n_conv_cases(conv_case *cases, int max) {
    const int ks[] = {1, 3, 5, 7};
    const int sizes[][2] = {{9, 8}, {10, 7}, {6, 6}};
    nn_padding pads[] = {pad_same(), pad_valid(), pad_explicit(1, 2, 0, 3)};
    int n = 0;
    for (int ki = 0; ki < 4; ki++)
        for (int stride = 1; stride <= 2; stride++)
            for (int pi = 0; pi < 3; pi++)
                for (int si = 0; si < 3 && n < max; si++) {
                    int variant = n % 5;
                    cases[n++] = (conv_case){
                        .N = 1 + si % 2 * 2, .H = sizes[si][0], .W = sizes[si][1],
                        .cin = variant % 2 ? 3 : 13, .cout = variant % 3 ? 19 : 5, .k = ks[ki],
                        .stride = stride, .pad = pads[pi], .act = (nn_act_kind)variant,
                        .with_bias = variant != 0};
                }
    return n;
}

TEST(conv2d_matches_reference_on_many_shapes) {
    conv_case cases[100];
    int n = n_conv_cases(cases, 100);
    nn_arena *scratch = nn_arena_new(0);
    CHECK(scratch != NULL);
    int failed = 0;
    for (int i = 0; i < n; i++) failed += !conv_case_matches(&cases[i], 0, scratch);
    nn_arena_free(scratch);
    CHECK(failed == 0);
}

/* Larger shapes: several row tiles; few rows but many columns (column tiles); the 1x1
 * stride 1 path without im2col; 1x1 stride 2; a first layer with 3 input channels. */
TEST(conv2d_matches_reference_on_tiled_shapes) {
    conv_case cases[] = {
        {2, 20, 21, 24, 40, 3, 1, pad_same(), NN_ACT_RELU, 1},
        {1, 5, 5, 64, 136, 3, 1, pad_same(), NN_ACT_PRELU, 1},
        {3, 17, 15, 40, 72, 1, 1, pad_same(), NN_ACT_RELU6, 1},
        {2, 17, 15, 40, 24, 1, 2, pad_valid(), NN_ACT_NONE, 1},
        {2, 31, 30, 3, 32, 7, 2, pad_same(), NN_ACT_LEAKY, 1},
        {1, 12, 12, 9, 33, 3, 2, pad_explicit(0, 1, 1, 0), NN_ACT_RELU, 0},
    };
    nn_arena *scratch = nn_arena_new(1024);
    CHECK(scratch != NULL);
    size_t mark = nn_arena_mark(scratch);
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        failed += !conv_case_matches(&cases[i], 0, scratch);
        CHECK(nn_arena_mark(scratch) == mark); /* scratch released */
    }
    nn_arena_free(scratch);
    CHECK(failed == 0);
}

TEST(conv2d_without_scratch_matches_reference) {
    conv_case cases[] = {
        {2, 9, 8, 13, 19, 3, 1, pad_same(), NN_ACT_RELU, 1},
        {1, 10, 7, 5, 6, 5, 2, pad_explicit(1, 2, 0, 3), NN_ACT_PRELU, 1},
        {1, 8, 8, 4, 4, 1, 2, pad_valid(), NN_ACT_NONE, 0},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        failed += !conv_case_matches(&cases[i], 0, NULL);
    CHECK(failed == 0);
}

/* Winograd F(2,3): 3x3 stride 1 with every padding, odd and even sizes (partial tiles),
 * batches, PReLU, several tile groups, channel counts off the vector width. */
TEST(winograd_matches_reference) {
    conv_case cases[] = {
        {2, 9, 8, 13, 19, 3, 1, pad_same(), NN_ACT_RELU, 1},
        {3, 10, 7, 5, 6, 3, 1, pad_valid(), NN_ACT_PRELU, 1},
        {2, 12, 11, 16, 32, 3, 1, pad_explicit(1, 2, 0, 1), NN_ACT_NONE, 0},
        {4, 36, 36, 32, 32, 3, 1, pad_same(), NN_ACT_RELU, 1},
        {2, 9, 9, 128, 128, 3, 1, pad_same(), NN_ACT_LEAKY, 1},
        {3, 5, 5, 64, 136, 3, 1, pad_same(), NN_ACT_RELU6, 1},
    };
    nn_arena *scratch = nn_arena_new(0);
    CHECK(scratch != NULL);
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        failed += !conv_case_matches(&cases[i], CONV_WINOGRAD, scratch);
    nn_arena_free(scratch);
    CHECK(failed == 0);
}

/* The level chosen follows FACEREC_ISA downwards only; every level the CPU has fills its
 * whole table, and its matrix product matches the reference on edge-heavy shapes. */
TEST(cpu_dispatch_levels) {
    const nn_cpu *cpu = nn_cpu_info();
    const char *env = getenv("FACEREC_ISA");
    nn_isa want = cpu->best;
    for (int i = 0; env && i < NN_ISA_COUNT; i++)
        if (strcmp(env, nn_isa_name((nn_isa)i)) == 0 && i <= (int)cpu->best) want = (nn_isa)i;
    CHECK(cpu->chosen == want);
    CHECK(nn_cpu_isa() == want);
    CHECK(nn_kernels() == nn_kernels_for(want));
    CHECK(!strcmp(fr_kernel_level(), nn_isa_name(want))); /* the public name of the level */
    if (env && !strcmp(env, "generic")) CHECK(!strcmp(fr_kernel_level(), "generic"));
    const int shapes[][3] = {{1, 1, 1}, {13, 37, 29}, {25, 64, 300}, {7, 136, 0}, {40, 33, 520}};
    for (int l = 0; l <= (int)cpu->best; l++) {
        const nn_kernel_table *t = nn_kernels_for((nn_isa)l);
        void (*const *entry)(void) = (void (*const *)(void))t;
        for (int e = 0; e < NN_KERNEL_ENTRIES; e++) CHECK(entry[e] != NULL);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            float *A = rand_array((size_t)m * k), *B = rand_array((size_t)k * n);
            float *bias = rand_array((size_t)n), *slope = rand_array((size_t)n);
            float *C = rand_array((size_t)m * n), *want_c = malloc((size_t)m * n * sizeof(float));
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = C[(size_t)i * n + j] + bias[j];
                    for (int p = 0; p < k; p++) acc += (double)A[(size_t)i * k + p] * B[(size_t)p * n + j];
                    want_c[(size_t)i * n + j] = ref_act((float)acc, (nn_act){NN_ACT_PRELU, 0, slope}, j);
                }
            nn_gemm_block b = {m, n, k, A, (size_t)k, B, (size_t)n, C, (size_t)n, 1, bias,
                               {NN_ACT_PRELU, 0.0f, slope}};
            t->gemm_block(&b);
            CHECK_ARRAYS(C, want_c, (size_t)m * n, "level %s, gemm %dx%dx%d", nn_isa_name((nn_isa)l), m, n, k);
            free(A), free(B), free(bias), free(slope), free(C), free(want_c);
        }
    }
}

TEST(depthwise_matches_reference_on_many_shapes) {
    conv_case cases[100];
    int n = n_conv_cases(cases, 100), failed = 0;
    for (int i = 0; i < n; i++) {
        cases[i].cin = 5 + 16 * (i % 3); /* 5, 21, 37 */
        failed += !conv_case_matches(&cases[i], 1, NULL);
    }
    conv_case big = {2, 33, 40, 64, 64, 3, 1, pad_same(), NN_ACT_RELU6, 1};
    failed += !conv_case_matches(&big, 1, NULL);
    CHECK(failed == 0);
}

TEST(fold_batchnorm_equals_conv_then_batchnorm) {
    const int H = 7, W = 6, cin = 5, cout = 11, k = 3;
    float *w = rand_array((size_t)k * k * cin * cout), *in = rand_array((size_t)H * W * cin);
    float *gamma = rand_array(cout), *beta = rand_array(cout), *mean = rand_array(cout);
    float *var = rand_array(cout), *bias = rand_array(cout);
    for (int c = 0; c < cout; c++) var[c] = fabsf(var[c]) + 0.1f;
    float *want = malloc((size_t)H * W * cout * sizeof(float));
    float *got = malloc((size_t)H * W * cout * sizeof(float));
    nn_conv cv = {k, k, cin, cout, 1, 1, pad_same(), w, bias, {NN_ACT_NONE, 0, NULL}, NULL};
    int OH, OW;
    ref_conv(&cv, 0, in, 1, H, W, want, &OH, &OW);
    for (int p = 0; p < OH * OW; p++)
        for (int c = 0; c < cout; c++) {
            float *v = &want[p * cout + c];
            *v = (*v - mean[c]) / sqrtf(var[c] + 1e-3f) * gamma[c] + beta[c];
        }
    nn_fold_batchnorm(w, (size_t)k * k * cin, bias, cout, gamma, beta, mean, var, 1e-3f);
    nn_arena *scratch = nn_arena_new(0);
    nn_conv2d(TEST_THREADS, &cv, in, 1, H, W, got, &OH, &OW, scratch);
    nn_arena_free(scratch);
    CHECK_ARRAYS(got, want, (size_t)OH * OW * cout, "folded conv");

    /* depthwise layout (KH,KW,C), gamma and beta absent */
    float dw[2 * 3] = {1, 2, 3, 4, 5, 6}, dbias[3] = {0, 0, 0};
    float m[3] = {1, 2, 3}, v[3] = {3, 8, 15};
    nn_fold_batchnorm(dw, 2, dbias, 3, NULL, NULL, m, v, 1.0f);
    float want_dw[6] = {0.5f, 2.0f / 3, 0.75f, 2.0f, 5.0f / 3, 1.5f};
    float want_bias[3] = {-0.5f, -2.0f / 3, -0.75f};
    CHECK_ARRAYS(dw, want_dw, 6, "depthwise weights");
    CHECK_ARRAYS(dbias, want_bias, 3, "depthwise bias");
    free(w), free(in), free(gamma), free(beta), free(mean), free(var), free(bias);
    free(want), free(got);
}

/* ---- pooling ---- */

static void ref_pool(const float *in, int N, int H, int W, int C, int k, int stride,
                     nn_padding pad, int is_max, float *out, int *OH, int *OW) {
    int pt, pl;
    *OH = ref_geometry(H, k, stride, pad, 0, &pt);
    *OW = ref_geometry(W, k, stride, pad, 1, &pl);
    for (int n = 0; n < N; n++)
        for (int oy = 0; oy < *OH; oy++)
            for (int ox = 0; ox < *OW; ox++)
                for (int c = 0; c < C; c++) {
                    float best = -INFINITY;
                    double sum = 0;
                    int count = 0;
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            float v = in[(((size_t)n * H + iy) * W + ix) * C + c];
                            best = v > best ? v : best;
                            sum += v;
                            count++;
                        }
                    out[(((size_t)n * *OH + oy) * *OW + ox) * C + c] =
                        is_max ? best : (float)(sum / count);
                }
}

TEST(pooling_matches_reference) {
    const int sizes[][2] = {{9, 8}, {7, 11}, {4, 4}};
    nn_padding pads[] = {pad_same(), pad_valid()};
    int failed = 0;
    for (int k = 2; k <= 3; k++)
        for (int stride = 1; stride <= 2; stride++)
            for (int pi = 0; pi < 2; pi++)
                for (int si = 0; si < 3; si++)
                    for (int is_max = 0; is_max <= 1; is_max++) {
                        int N = 1 + si % 2, H = sizes[si][0], W = sizes[si][1], C = 3 + 10 * si;
                        float *in = rand_array((size_t)N * H * W * C);
                        float *got = malloc((size_t)N * H * W * C * sizeof(float));
                        float *want = malloc((size_t)N * H * W * C * sizeof(float));
                        int OH, OW, rOH, rOW;
                        if (is_max)
                            nn_maxpool2d(TEST_THREADS, in, N, H, W, C, k, k, stride, stride,
                                         pads[pi], got, &OH, &OW);
                        else
                            nn_avgpool2d(TEST_THREADS, in, N, H, W, C, k, k, stride, stride,
                                         pads[pi], got, &OH, &OW);
                        ref_pool(in, N, H, W, C, k, stride, pads[pi], is_max, want, &rOH, &rOW);
                        int ok = OH == rOH && OW == rOW &&
                                 first_mismatch(got, want, (size_t)N * OH * OW * C) < 0;
                        if (!ok)
                            fprintf(stderr, "  %s k%d s%d pad %d size %dx%d\n",
                                    is_max ? "max" : "avg", k, stride, pi, H, W);
                        failed += !ok;
                        free(in), free(got), free(want);
                    }
    CHECK(failed == 0);
}

/* ---- resize ---- */

/* TensorFlow's ResizeBilinear, in float as it computes */
static void ref_resize(const float *in, int N, int H, int W, int C, int OH, int OW,
                       int align_corners, int half_pixel, float *out) {
    float sy = align_corners && OH > 1 ? (H - 1) / (float)(OH - 1) : H / (float)OH;
    float sx = align_corners && OW > 1 ? (W - 1) / (float)(OW - 1) : W / (float)OW;
    for (int n = 0; n < N; n++)
        for (int y = 0; y < OH; y++) {
            float fy = half_pixel ? (y + 0.5f) * sy - 0.5f : y * sy;
            int y0 = (int)floorf(fy) < 0 ? 0 : (int)floorf(fy);
            int y1 = (int)ceilf(fy) > H - 1 ? H - 1 : (int)ceilf(fy);
            float ly = fy - floorf(fy);
            for (int x = 0; x < OW; x++) {
                float fx = half_pixel ? (x + 0.5f) * sx - 0.5f : x * sx;
                int x0 = (int)floorf(fx) < 0 ? 0 : (int)floorf(fx);
                int x1 = (int)ceilf(fx) > W - 1 ? W - 1 : (int)ceilf(fx);
                float lx = fx - floorf(fx);
                for (int c = 0; c < C; c++) {
#define AT(yy, xx) in[(((size_t)n * H + (yy)) * W + (xx)) * C + c]
                    float top = AT(y0, x0) + (AT(y0, x1) - AT(y0, x0)) * lx;
                    float bottom = AT(y1, x0) + (AT(y1, x1) - AT(y1, x0)) * lx;
#undef AT
                    out[(((size_t)n * OH + y) * OW + x) * C + c] = top + (bottom - top) * ly;
                }
            }
        }
}

TEST(resize_bilinear_matches_tensorflow) {
    const int shapes[][4] = {{5, 7, 11, 13}, {12, 9, 5, 4}, {6, 6, 6, 6}, {3, 8, 1, 17}};
    const int modes[][2] = {{0, 0}, {1, 0}, {0, 1}}; /* tfjs default, align, half pixel */
    int failed = 0;
    for (int s = 0; s < 4; s++)
        for (int m = 0; m < 3; m++) {
            int N = 2, H = shapes[s][0], W = shapes[s][1], OH = shapes[s][2], OW = shapes[s][3];
            int C = s == 0 ? 70 : 3;
            float *in = rand_array((size_t)N * H * W * C);
            float *got = malloc((size_t)N * OH * OW * C * sizeof(float));
            float *want = malloc((size_t)N * OH * OW * C * sizeof(float));
            nn_resize_bilinear(TEST_THREADS, in, N, H, W, C, OH, OW, modes[m][0], modes[m][1], got);
            ref_resize(in, N, H, W, C, OH, OW, modes[m][0], modes[m][1], want);
            int ok = memcmp(got, want, (size_t)N * OH * OW * C * sizeof(float)) == 0;
            if (!ok) fprintf(stderr, "  resize %dx%d->%dx%d mode %d\n", H, W, OH, OW, m);
            failed += !ok;
            free(in), free(got), free(want);
        }
    CHECK(failed == 0);
    /* known values: 2x1 -> 4x1, tfjs default (source rows 0, 0.5, 1, 1.5) */
    float in[2] = {0, 1}, out[4];
    nn_resize_bilinear(TEST_THREADS, in, 1, 2, 1, 1, 4, 1, 0, 0, out);
    CHECK(out[0] == 0 && out[1] == 0.5f && out[2] == 1 && out[3] == 1);
    nn_resize_bilinear(TEST_THREADS, in, 1, 2, 1, 1, 4, 1, 1, 0, out); /* 0, 1/3, 2/3, 1 */
    CHECK_NEAR(out[1], 1.0 / 3, 1e-6);
    CHECK(out[0] == 0 && out[3] == 1);
    nn_resize_bilinear(TEST_THREADS, in, 1, 2, 1, 1, 4, 1, 0, 1, out); /* -0.25, 0.25, 0.75, 1.25 */
    CHECK(out[0] == 0 && out[1] == 0.25f && out[2] == 0.75f && out[3] == 1);
}

/* A byte image inside a zero canvas resizes to the same bits as the canvas built in floats. */
TEST(resize_canvas_matches_resize_of_the_built_canvas) {
    /* image H, W; offset y, x; canvas CH, CW; output OH, OW */
    const int cases[][8] = {{7, 5, 0, 0, 7, 7, 4, 4},     {5, 9, 2, 0, 9, 9, 13, 13},
                            {6, 6, 0, 0, 6, 6, 6, 6},     {1, 30, 0, 0, 30, 30, 8, 8},
                            {30, 2, 0, 14, 30, 30, 7, 9}, {4, 4, 3, 5, 11, 10, 5, 17}};
    int failed = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int m = 0; m < 3; m++) {
            const int *c = cases[k];
            int H = c[0], W = c[1], C = k % 2 ? 3 : 2, CH = c[4], CW = c[5], OH = c[6], OW = c[7];
            size_t stride = (size_t)W * C + 3; /* rows need not be packed */
            uint8_t *img = malloc((size_t)H * stride);
            for (size_t i = 0; i < (size_t)H * stride; i++) img[i] = (uint8_t)(i * 37 % 251);
            float *canvas = calloc((size_t)CH * CW * C, sizeof(float));
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W * C; x++)
                    canvas[((size_t)(y + c[2]) * CW + c[3]) * C + x] = img[y * stride + x];
            float *got = malloc((size_t)OH * OW * C * sizeof(float));
            float *want = malloc((size_t)OH * OW * C * sizeof(float));
            int align = m == 1, half = m == 2;
            nn_resize_bilinear(TEST_THREADS, canvas, 1, CH, CW, C, OH, OW, align, half, want);
            nn_resize_bilinear_canvas(TEST_THREADS, img, stride, H, W, C, c[2], c[3], CH, CW, OH,
                                      OW, align, half, got);
            int ok = memcmp(got, want, (size_t)OH * OW * C * sizeof(float)) == 0;
            if (!ok) fprintf(stderr, "  canvas case %zu mode %d\n", k, m);
            failed += !ok;
            free(img), free(canvas), free(got), free(want);
        }
    CHECK(failed == 0);
}

/* ---- elementwise, dense, reductions ---- */

TEST(activations_match_reference) {
    const int P = 301, C = 37;
    float *slope = rand_array(C);
    nn_act acts[] = {{NN_ACT_RELU, 0, NULL}, {NN_ACT_RELU6, 0, NULL},
                     {NN_ACT_LEAKY, 0.1f, NULL}, {NN_ACT_PRELU, 0, slope}, {NN_ACT_NONE, 0, NULL}};
    for (int a = 0; a < 5; a++) {
        float *x = rand_array((size_t)P * C), *want = malloc((size_t)P * C * sizeof(float));
        for (int i = 0; i < P * C; i++) x[i] *= 8.0f; /* reach past 6 */
        for (int i = 0; i < P * C; i++) want[i] = ref_act(x[i], acts[a], i % C);
        nn_activate(TEST_THREADS, x, P, C, acts[a]);
        int ok = 1;
        for (int i = 0; i < P * C; i++) ok &= x[i] == want[i];
        free(x), free(want);
        CHECK(ok);
    }
    free(slope);
}

TEST(add_scale_shift_concat_pad_match_reference) {
    const size_t P = 70001;
    float *a = rand_array(P), *b = rand_array(P), *out = malloc(P * sizeof(float));
    float *want = malloc(P * sizeof(float));
    for (size_t i = 0; i < P; i++) want[i] = a[i] + b[i];
    nn_add(TEST_THREADS, a, b, out, P);
    CHECK_ARRAYS(out, want, P, "add");
    nn_add(TEST_THREADS, a, b, a, P); /* in place */
    CHECK_ARRAYS(a, want, P, "add in place");
    free(a), free(b), free(out), free(want);

    const int Q = 333, C = 13;
    float *x = rand_array((size_t)Q * C), *scale = rand_array(C), *shift = rand_array(C);
    float *y = malloc((size_t)Q * C * sizeof(float)), *w2 = malloc((size_t)Q * C * sizeof(float));
    for (int mode = 0; mode < 3; mode++) { /* both, scale only, shift only */
        const float *s = mode == 2 ? NULL : scale, *t = mode == 1 ? NULL : shift;
        memcpy(y, x, (size_t)Q * C * sizeof(float));
        for (int i = 0; i < Q * C; i++) w2[i] = x[i] * (s ? s[i % C] : 1) + (t ? t[i % C] : 0);
        nn_scale_shift(TEST_THREADS, y, Q, C, s, t);
        CHECK_ARRAYS(y, w2, (size_t)Q * C, "scale_shift mode %d", mode);
    }

    const int Cs[3] = {5, 1, 11};
    float *ins[3] = {rand_array((size_t)Q * 5), rand_array(Q), rand_array((size_t)Q * 11)};
    float *cat = malloc((size_t)Q * 17 * sizeof(float));
    nn_concat_channels(TEST_THREADS, (const float *const *)ins, Cs, 3, Q, cat);
    int ok = 1;
    for (int p = 0; p < Q; p++)
        for (int c = 0; c < 17; c++) {
            float v = c < 5 ? ins[0][p * 5 + c] : c < 6 ? ins[1][p] : ins[2][p * 11 + c - 6];
            ok &= cat[p * 17 + c] == v;
        }
    CHECK(ok);

    float *padded = malloc((size_t)Q * 24 * sizeof(float));
    nn_pad_channels(TEST_THREADS, x, Q, C, 24, padded);
    for (int p = 0; p < Q; p++)
        for (int c = 0; c < 24; c++) ok &= padded[p * 24 + c] == (c < C ? x[p * C + c] : 0.0f);
    CHECK(ok);
    free(x), free(scale), free(shift), free(y), free(w2), free(cat), free(padded);
    for (int i = 0; i < 3; i++) free(ins[i]);
}

TEST(dense_matches_reference) {
    const int shapes[][3] = {{1, 256, 128}, {5, 33, 7}, {16, 128, 129}, {1, 4096, 300}};
    for (int s = 0; s < 4; s++) {
        int N = shapes[s][0], Cin = shapes[s][1], Cout = shapes[s][2];
        float *in = rand_array((size_t)N * Cin), *w = rand_array((size_t)Cin * Cout);
        float *b = s == 1 ? NULL : rand_array(Cout);
        float *got = malloc((size_t)N * Cout * sizeof(float));
        float *want = malloc((size_t)N * Cout * sizeof(float));
        for (int n = 0; n < N; n++)
            for (int o = 0; o < Cout; o++) {
                double sum = b ? b[o] : 0;
                for (int i = 0; i < Cin; i++) sum += (double)in[n * Cin + i] * w[(size_t)i * Cout + o];
                want[n * Cout + o] = (float)sum;
            }
        nn_dense(TEST_THREADS, in, N, Cin, w, b, Cout, got);
        long bad = first_mismatch(got, want, (size_t)N * Cout);
        free(in), free(w), free(b), free(got), free(want);
        CHECK(bad < 0);
    }
}

/* One probe (the sq_distance path) and many (the GEMM path: tiles of 64 templates, chunks of
 * 96 rows, dim past the GEMM's k block of 256): every distance against the difference summed
 * in double; a template equal to a probe at >= 0 and near 0; a template holding NaN at
 * INFINITY in every row; the same bits on 1 thread and on 2. */
TEST(sq_distances_match_reference) {
    const int shapes[][3] = {{1, 300, 320}, {2, 5, 3}, {37, 130, 128}, {100, 70, 320},
                             {3, 1, 17}, {130, 300, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int na = shapes[s][0], nb = shapes[s][1], dim = shapes[s][2];
        float *a = rand_array((size_t)na * dim), *b = rand_array((size_t)nb * dim);
        float *a_sq = malloc((size_t)na * sizeof(float)), *b_sq = malloc((size_t)nb * sizeof(float));
        float *got = malloc((size_t)na * nb * sizeof(float));
        float *got1 = malloc((size_t)na * nb * sizeof(float));
        float *want = malloc((size_t)na * nb * sizeof(float));
        int same = nb / 2, nan_row = nb > 1 ? nb - 1 : -1; /* b[same] = a[na - 1] */
        memcpy(b + (size_t)same * dim, a + (size_t)(na - 1) * dim, (size_t)dim * sizeof(float));
        if (nan_row >= 0) b[(size_t)nan_row * dim + dim / 2] = NAN;
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++) {
                double sum = 0;
                for (int k = 0; k < dim; k++) {
                    double d = (double)a[(size_t)i * dim + k] - b[(size_t)j * dim + k];
                    sum += d * d;
                }
                /* NaN's column is checked below */
                want[(size_t)i * nb + j] = j == nan_row ? 0.0f : (float)sum;
            }
        nn_sq_norms(a, na, dim, a_sq);
        nn_sq_norms(b, nb, dim, b_sq);
        CHECK_OK(nn_sq_distances(TEST_THREADS, a, a_sq, na, b, b_sq, nb, dim, got));
        CHECK_OK(nn_sq_distances(1, a, a_sq, na, b, b_sq, nb, dim, got1));
        CHECK(memcmp(got, got1, (size_t)na * nb * sizeof(float)) == 0);
        int nan_ok = 1, same_ok = got[(size_t)(na - 1) * nb + same] >= 0.0f &&
                                  got[(size_t)(na - 1) * nb + same] < 1e-4f;
        for (int i = 0; i < na && nan_row >= 0; i++) {
            nan_ok &= got[(size_t)i * nb + nan_row] == INFINITY;
            got[(size_t)i * nb + nan_row] = 0.0f;
        }
        CHECK(nan_ok);
        CHECK(same_ok);
        CHECK_ARRAYS(got, want, (size_t)na * nb, "distances %d x %d, dim %d", na, nb, dim);
        free(a), free(b), free(a_sq), free(b_sq), free(got), free(got1), free(want);
    }
}

TEST(reductions_and_normalisations_match_reference) {
    const int N = 3, H = 5, W = 7, C = 19;
    float *in = rand_array((size_t)N * H * W * C), mean[3 * 19], want[3 * 19];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double sum = 0;
            for (int p = 0; p < H * W; p++) sum += in[((size_t)n * H * W + p) * C + c];
            want[n * C + c] = (float)(sum / (H * W));
        }
    nn_spatial_mean(TEST_THREADS, in, N, H, W, C, mean);
    CHECK_ARRAYS(mean, want, (size_t)N * C, "spatial mean");
    free(in);

    float rows[3 * 4] = {3, 4, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    nn_l2_normalize(rows, 3, 4);
    float rows_want[12] = {0.6f, 0.8f, 0, 0, 0, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f};
    CHECK_ARRAYS(rows, rows_want, 12, "l2 normalize");

    float s[5] = {-30, -1, 0, 2, 40}, s_want[5];
    for (int i = 0; i < 5; i++) s_want[i] = (float)(1 / (1 + exp(-(double)s[i])));
    nn_sigmoid(TEST_THREADS, s, 5);
    CHECK_ARRAYS(s, s_want, 5, "sigmoid");

    const int R = 257, K = 21;
    float *sm = rand_array((size_t)R * K), *sm_want = malloc((size_t)R * K * sizeof(float));
    sm[5] = 80.0f; /* large logits stay finite */
    for (int r = 0; r < R; r++) {
        double max = -INFINITY, sum = 0;
        for (int c = 0; c < K; c++) max = sm[r * K + c] > max ? sm[r * K + c] : max;
        for (int c = 0; c < K; c++) sum += exp(sm[r * K + c] - max);
        for (int c = 0; c < K; c++) sm_want[r * K + c] = (float)(exp(sm[r * K + c] - max) / sum);
    }
    nn_softmax(TEST_THREADS, sm, R, K);
    CHECK_ARRAYS(sm, sm_want, (size_t)R * K, "softmax");
    free(sm), free(sm_want);
}

/* ---- arena ---- */

TEST(arena_is_aligned_stable_and_stack_like) {
    nn_arena *a = nn_arena_new(1000);
    CHECK(a != NULL);
    float *p1 = nn_arena_alloc(a, 3);
    size_t mark = nn_arena_mark(a);
    float *p2 = nn_arena_alloc(a, 100);
    float *big = nn_arena_alloc(a, 100000); /* beyond the hint: a new block */
    float *p3 = nn_arena_alloc(a, 1);
    CHECK(p1 && p2 && big && p3);
    CHECK((uintptr_t)p1 % 64 == 0 && (uintptr_t)p2 % 64 == 0 && (uintptr_t)big % 64 == 0 &&
          (uintptr_t)p3 % 64 == 0);
    CHECK(p2 >= p1 + 3 && big != p2 && p3 != big);
    p1[0] = 42.0f;
    for (int i = 0; i < 100000; i++) big[i] = (float)i;
    nn_arena_reset(a, mark);
    CHECK(nn_arena_mark(a) == mark);
    CHECK(nn_arena_alloc(a, 100) == p2); /* the same sequence reuses the same memory */
    CHECK(nn_arena_alloc(a, 100000) == big);
    CHECK(nn_arena_alloc(a, 1) == p3);
    CHECK(p1[0] == 42.0f);
    nn_arena_reset(a, 0);
    CHECK(nn_arena_alloc(a, 3) == p1);
    CHECK(nn_arena_alloc(a, 0) != NULL);
    CHECK(nn_arena_alloc(a, SIZE_MAX / 2) == NULL);
    nn_arena_free(a);

    nn_arena *lazy = nn_arena_new(0);
    CHECK(lazy != NULL && nn_arena_mark(lazy) == 0);
    float *q = nn_arena_alloc(lazy, 10);
    CHECK(q != NULL && (uintptr_t)q % 64 == 0);
    nn_arena_free(lazy);
    nn_arena_free(NULL);
}

TEST(arena_pool_keeps_warm_arenas) {
    nn_arena_pool *pool = nn_arena_pool_new(2);
    CHECK(pool != NULL);
    nn_arena *a = nn_arena_pool_take(pool, 4000);
    float *p = a ? nn_arena_alloc(a, 1000) : NULL;
    CHECK(p != NULL);
    nn_arena_pool_give(pool, a);
    nn_arena *again = nn_arena_pool_take(pool, 4000); /* the same arena, reset */
    CHECK(again == a && nn_arena_mark(again) == 0 && nn_arena_alloc(again, 1000) == p);
    nn_arena *other = nn_arena_pool_take(pool, 100); /* none kept: a new one */
    CHECK(other != NULL && other != again);
    nn_arena_pool_give(pool, again);
    nn_arena_pool_give(pool, other);
    /* a plan larger than the kept arena's first block: one block that holds it */
    nn_arena *big = nn_arena_pool_take(pool, (size_t)6 << 20);
    float *x = big ? nn_arena_alloc(big, 1000) : NULL, *y = big ? nn_arena_alloc(big, 1000) : NULL;
    float *z = big ? nn_arena_alloc(big, ((size_t)6 << 20) / 4 - 2100) : NULL;
    CHECK(x && y == x + 1008 && z == y + 1008); /* sizes rounded to 64 bytes, in one block */
    CHECK((uintptr_t)x % ((size_t)2 << 20) == 0); /* big blocks are huge-page aligned */
    /* more arenas given back than kept: the extra ones are freed (no leak under ASan) */
    nn_arena *extra[3];
    for (int i = 0; i < 3; i++) CHECK((extra[i] = nn_arena_pool_take(pool, 64)) != NULL);
    for (int i = 0; i < 3; i++) nn_arena_pool_give(pool, extra[i]);
    nn_arena_pool_give(pool, big);
    nn_arena_pool_give(pool, NULL);
    nn_arena_pool_free(pool);
    nn_arena_pool_free(NULL);
}

/* ---- thread pool ---- */

typedef struct count_ctx {
    int *hits;
    int nested_n;
    int threads;
} count_ctx;

static void count_task(void *ctx, int i) {
    count_ctx *c = ctx;
    if (c->nested_n > 0) { /* a nested call runs serially in this task */
        count_ctx inner = {c->hits + (size_t)i * c->nested_n, 0, c->threads};
        nn_parallel_for(c->threads, c->nested_n, count_task, &inner);
        return;
    }
    c->hits[i]++;
}

TEST(parallel_for_runs_each_task_once) {
    int *hits = calloc(50 * 20, sizeof(int));
    for (int threads = 0; threads <= 3; threads++) { /* 0 counts as 1 */
        memset(hits, 0, 1000 * sizeof(int));
        count_ctx flat = {hits, 0, threads};
        nn_parallel_for(threads, 1000, count_task, &flat);
        for (int i = 0; i < 1000; i++) CHECK(hits[i] == 1);
        memset(hits, 0, 1000 * sizeof(int));
        count_ctx nested = {hits, 20, threads};
        nn_parallel_for(threads, 50, count_task, &nested);
        for (int i = 0; i < 1000; i++) CHECK(hits[i] == 1);
    }
    nn_parallel_for(TEST_THREADS, 0, count_task, NULL);
    CHECK(nn_default_threads() >= 1 && nn_resolve_threads(0) == nn_default_threads());
    CHECK(nn_resolve_threads(3) == 3);
    free(hits);
}

/* A small network-like sequence of ops, for the thread tests. */
typedef struct chain {
    nn_conv conv, dw;
    float *w, *b, *dw_w, *dw_b, *in;
    int N, H, W;
} chain;

static chain chain_new(void) {
    chain c = {.N = 2, .H = 33, .W = 30};
    c.w = rand_array(3 * 3 * 16 * 48);
    c.b = rand_array(48);
    c.dw_w = rand_array(3 * 3 * 48);
    c.dw_b = rand_array(48);
    c.in = rand_array((size_t)c.N * c.H * c.W * 16);
    c.conv = (nn_conv){3, 3, 16, 48, 2, 2, pad_same(), c.w, c.b, {NN_ACT_RELU, 0, NULL}, NULL};
    c.dw = (nn_conv){3, 3, 48, 48, 1, 1, pad_same(), c.dw_w, c.dw_b, {NN_ACT_RELU6, 0, NULL}, NULL};
    return c;
}

static void chain_free(chain *c) { free(c->w), free(c->b), free(c->dw_w), free(c->dw_b), free(c->in); }

/* out must hold N*17*15*48 floats */
static void chain_run(const chain *c, int threads, nn_arena *scratch, float *out) {
    int OH, OW;
    float *mid = nn_arena_alloc(scratch, (size_t)c->N * 17 * 15 * 48);
    size_t mark = nn_arena_mark(scratch);
    nn_conv2d(threads, &c->conv, c->in, c->N, c->H, c->W, mid, &OH, &OW, scratch);
    nn_arena_reset(scratch, mark);
    nn_depthwise_conv2d(threads, &c->dw, mid, c->N, OH, OW, out, &OH, &OW);
    nn_scale_shift(threads, out, (size_t)c->N * OH * OW, 48, c->dw_b, c->b);
}

#define CHAIN_OUT ((size_t)2 * 17 * 15 * 48)

TEST(results_do_not_depend_on_thread_count) {
    chain c = chain_new();
    nn_arena *scratch = nn_arena_new(0);
    float *one = malloc(CHAIN_OUT * sizeof(float)), *two = malloc(CHAIN_OUT * sizeof(float));
    chain_run(&c, 1, scratch, one);
    nn_arena_reset(scratch, 0);
    chain_run(&c, 2, scratch, two);
    CHECK(memcmp(one, two, CHAIN_OUT * sizeof(float)) == 0);

    /* a GEMM big enough for many tiles */
    conv_case cc = {4, 40, 40, 32, 64, 3, 1, pad_same(), NN_ACT_RELU, 1};
    nn_conv cv;
    float *w, *b, *slope, *in = rand_array((size_t)4 * 40 * 40 * 32);
    make_conv(&cc, 0, &cv, &w, &b, &slope);
    float *o1 = malloc((size_t)4 * 40 * 40 * 64 * sizeof(float));
    float *o2 = malloc((size_t)4 * 40 * 40 * 64 * sizeof(float));
    int OH, OW;
    nn_conv2d(1, &cv, in, 4, 40, 40, o1, &OH, &OW, scratch);
    nn_conv2d(2, &cv, in, 4, 40, 40, o2, &OH, &OW, scratch);
    CHECK(memcmp(o1, o2, (size_t)4 * 40 * 40 * 64 * sizeof(float)) == 0);
    /* and through Winograd (several tile groups) */
    float *u = malloc(nn_winograd_weight_floats(&cv) * sizeof(float));
    nn_winograd_weights(&cv, u);
    cv.winograd = u;
    nn_conv2d(1, &cv, in, 4, 40, 40, o1, &OH, &OW, scratch);
    nn_conv2d(2, &cv, in, 4, 40, 40, o2, &OH, &OW, scratch);
    CHECK(memcmp(o1, o2, (size_t)4 * 40 * 40 * 64 * sizeof(float)) == 0);
    free(u);
    free(in), free(w), free(b), free(slope), free(o1), free(o2), free(one), free(two);
    nn_arena_free(scratch);
    chain_free(&c);
}

typedef struct runner {
    const chain *c;
    const float *want;
    int mismatches;
} runner;

static void *runner_main(void *arg) {
    runner *r = arg;
    nn_arena *scratch = nn_arena_new(0);
    float *out = malloc(CHAIN_OUT * sizeof(float));
    for (int it = 0; it < 20; it++) {
        nn_arena_reset(scratch, 0);
        chain_run(r->c, 2, scratch, out);
        r->mismatches += memcmp(out, r->want, CHAIN_OUT * sizeof(float)) != 0;
    }
    free(out);
    nn_arena_free(scratch);
    return NULL;
}

TEST(concurrent_callers_get_correct_results) {
    chain c = chain_new();
    nn_arena *scratch = nn_arena_new(0);
    float *want = malloc(CHAIN_OUT * sizeof(float));
    chain_run(&c, 2, scratch, want);
    runner rs[3] = {{&c, want, 0}, {&c, want, 0}, {&c, want, 0}};
    pthread_t ts[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&ts[i], NULL, runner_main, &rs[i]) == 0);
    runner_main(&rs[2]); /* and this thread too */
    for (int i = 0; i < 2; i++) pthread_join(ts[i], NULL);
    for (int i = 0; i < 3; i++) CHECK(rs[i].mismatches == 0);
    free(want);
    nn_arena_free(scratch);
    chain_free(&c);
}

TEST_MAIN(CASE(out_size_follows_tensorflow), CASE(conv2d_matches_reference_on_many_shapes),
          CASE(conv2d_matches_reference_on_tiled_shapes),
          CASE(conv2d_without_scratch_matches_reference),
          CASE(winograd_matches_reference), CASE(cpu_dispatch_levels),
          CASE(depthwise_matches_reference_on_many_shapes),
          CASE(fold_batchnorm_equals_conv_then_batchnorm), CASE(pooling_matches_reference),
          CASE(resize_bilinear_matches_tensorflow), CASE(activations_match_reference),
          CASE(add_scale_shift_concat_pad_match_reference), CASE(dense_matches_reference),
          CASE(sq_distances_match_reference),
          CASE(reductions_and_normalisations_match_reference),
          CASE(resize_canvas_matches_resize_of_the_built_canvas),
          CASE(arena_is_aligned_stable_and_stack_like), CASE(arena_pool_keeps_warm_arenas),
          /* 3 threads last: the pool's idle workers spin only while they are fewer than
           * the cores, and workers live as long as the process */
          CASE(results_do_not_depend_on_thread_count),
          CASE(concurrent_callers_get_correct_results), CASE(parallel_for_runs_each_task_once))
