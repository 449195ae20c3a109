/* conv_layers: each convolution shape of dlib-resnet, nn4.small2 and MobileFaceNet timed on
 * its own, per path, on 1 thread.
 *
 *   conv_layers [--repeat N]
 *
 * For batch 1 and 16, every distinct convolution of dlib-resnet (random weights of the
 * network's shapes, 150x150 input), nn4.small2's 3x3 stride-1 ones (96x96 input) and
 * MobileFaceNet's (112x112 input) run through nn_conv2d's direct path (im2col + our GEMM, no
 * im2col for 1x1; depthwise ones through nn_depthwise_conv2d) and, for the 3x3 stride-1
 * ones, by Winograd F(2,3); the matrix product of the im2col path also runs alone through
 * our GEMM and through OpenBLAS's sgemm on the same matrices; and the same
 * convolution runs through oneDNN (the library PyTorch's CPU convolutions use): NHWC f32
 * activations, the layer's weights in the layout oneDNN chooses (format `any`, reordered
 * once outside the timing, as PyTorch does), bias and ReLU fused as a post-op, with
 * algorithm `auto`, and with `winograd` where oneDNN implements it for the shape and CPU.
 * Medians of N runs (default 21) in CPU time of the thread, the paths interleaved so that a
 * busy machine disturbs them alike; with GFLOP/s counted as the direct convolution's
 * 2*K*N*M. The Winograd and oneDNN columns also give their largest difference from the
 * direct path, relative to the output's largest magnitude, and oneDNN's implementation
 * (its name says its instruction set). Last, each network's layers summed (each times its
 * count in the network) per path: ours, oneDNN, and the faster of the two per layer. Our
 * CPU level is the process's (FACEREC_ISA to force a lower one); oneDNN picks its own
 * (ONEDNN_MAX_CPU_ISA to cap it, e.g. AVX2). oneDNN runs on OpenMP in Debian's build: set to
 * 1 thread here. Standalone, like liveness_speed: it reads the runtime's internal headers. */
#include "nn/cpu.h"
#include "nn/kernels.h"
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

/* CPU time of the calling thread: on one thread it is the work's time, which a busy machine
 * (other processes taking the core) disturbs much less than wall time */
static double now_ms(void) { return clock_ms(CLOCK_THREAD_CPUTIME_ID); }

static float *random_floats(size_t n, unsigned *state) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n && x; i++) {
        *state = *state * 1664525u + 1013904223u;
        x[i] = (float)(*state >> 8) / (float)(1u << 23) - 1.0f;
    }
    return x;
}

/* A oneDNN call that cannot fail for valid shapes: a failure ends the program. */
#define DNNL_CHECK(call)                                                                   \
    do {                                                                                   \
        dnnl_status_t st_ = (call);                                                        \
        if (st_ != dnnl_success) {                                                         \
            fprintf(stderr, "conv_layers: %s failed (oneDNN status %d)\n", #call, (int)st_); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static const char *onednn_isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

/* One convolution made ready in oneDNN: the primitive and its memories. The weights are
 * reordered once into the primitive's layout; the activations are the caller's NHWC
 * buffers, or (blocked) copies in the layout oneDNN chooses, as a network kept in that
 * layout from layer to layer would hand them over: the input is reordered into it once,
 * and the output back to NHWC by onednn_conv_result, both outside the timing. */
typedef struct onednn_conv {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t src, weights, bias, dst;
    dnnl_memory_t nhwc_out; /* blocked: the caller's output buffer */
    const char *impl;       /* oneDNN's implementation name (in pd), e.g. "brgconv:avx512_core" */
} onednn_conv;

/* to = from, through a reorder made and run once */
static void reorder_once(dnnl_engine_t engine, dnnl_stream_t stream, dnnl_memory_t from,
                         dnnl_memory_t to) {
    const dnnl_memory_desc_t *from_md, *to_md;
    DNNL_CHECK(dnnl_memory_get_memory_desc(from, &from_md));
    DNNL_CHECK(dnnl_memory_get_memory_desc(to, &to_md));
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t reorder;
    DNNL_CHECK(dnnl_reorder_primitive_desc_create(&pd, from_md, engine, to_md, engine, NULL));
    DNNL_CHECK(dnnl_primitive_create(&reorder, pd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_CHECK(dnnl_primitive_execute(reorder, stream, 2, args));
    DNNL_CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(pd);
}

/* Returns 0 when oneDNN has no implementation of alg for the convolution on this CPU. */
static int onednn_conv_make(dnnl_engine_t engine, dnnl_stream_t stream, dnnl_alg_kind_t alg,
                            int blocked, const nn_conv *cv, int depthwise, int N, int H, int W,
                            int OH, int OW, float *in, float *out, onednn_conv *oc) {
    *oc = (onednn_conv){0};
    int pad_top, pad_left, unused;
    nn_out_size(H, cv->kh, cv->stride_h, cv->pad, 0, &unused, &pad_top);
    nn_out_size(W, cv->kw, cv->stride_w, cv->pad, 1, &unused, &pad_left);
    /* bottom/right: what the output size needs beyond the image (SAME's odd extra pixel) */
    int pad_bottom = (OH - 1) * cv->stride_h + cv->kh - H - pad_top,
        pad_right = (OW - 1) * cv->stride_w + cv->kw - W - pad_left;
    dnnl_dims_t src_dims = {N, cv->cin, H, W}, dst_dims = {N, cv->cout, OH, OW},
                w_dims = {cv->cout, cv->cin, cv->kh, cv->kw}, b_dims = {cv->cout},
                strides = {cv->stride_h, cv->stride_w}, pad_l = {pad_top, pad_left},
                pad_r = {pad_bottom > 0 ? pad_bottom : 0, pad_right > 0 ? pad_right : 0};
    dnnl_format_tag_t act_tag = blocked ? dnnl_format_tag_any : dnnl_nhwc;
    dnnl_memory_desc_t src_nhwc, dst_nhwc, src_md, dst_md, w_any_md, w_user_md, b_md;
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&src_nhwc, 4, src_dims, dnnl_f32, dnnl_nhwc));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&dst_nhwc, 4, dst_dims, dnnl_f32, dnnl_nhwc));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, act_tag));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, act_tag));
    if (depthwise) { /* one group per channel, (G,1,1,KH,KW), from our (KH,KW,C) */
        int64_t C = cv->cout, KW = cv->kw;
        dnnl_dims_t g_dims = {C, 1, 1, cv->kh, KW}, g_strides = {1, C, C, KW * C, C};
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_any_md, 5, g_dims, dnnl_f32, dnnl_format_tag_any));
        DNNL_CHECK(dnnl_memory_desc_init_by_strides(&w_user_md, 5, g_dims, dnnl_f32, g_strides));
    } else {
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_any_md, 4, w_dims, dnnl_f32, dnnl_format_tag_any));
        DNNL_CHECK(dnnl_memory_desc_init_by_tag(&w_user_md, 4, w_dims, dnnl_f32, dnnl_hwio));
    }
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x));
    dnnl_convolution_desc_t desc;
    DNNL_CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, alg, &src_md,
                                                  &w_any_md, &b_md, &dst_md, strides, pad_l,
                                                  pad_r));
    dnnl_post_ops_t post_ops;
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_post_ops_create(&post_ops));
    if (cv->act.kind == NN_ACT_RELU)
        DNNL_CHECK(dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    dnnl_status_t st = dnnl_primitive_desc_create(&oc->pd, &desc, attr, engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    dnnl_post_ops_destroy(post_ops);
    if (st == dnnl_unimplemented) return 0;
    DNNL_CHECK(st);
    DNNL_CHECK(dnnl_primitive_desc_query(oc->pd, dnnl_query_impl_info_str, 0, &oc->impl));
    DNNL_CHECK(dnnl_primitive_create(&oc->prim, oc->pd));
    /* the weights, from our (KH,KW,Cin,Cout) into the primitive's layout, once */
    dnnl_memory_t w_user, src_user;
    DNNL_CHECK(dnnl_memory_create(&w_user, &w_user_md, engine, (void *)cv->weight));
    DNNL_CHECK(dnnl_memory_create(&oc->weights,
                                  dnnl_primitive_desc_query_md(oc->pd, dnnl_query_weights_md, 0),
                                  engine, DNNL_MEMORY_ALLOCATE));
    reorder_once(engine, stream, w_user, oc->weights);
    dnnl_memory_destroy(w_user);
    DNNL_CHECK(dnnl_memory_create(&oc->bias, &b_md, engine, (void *)cv->bias));
    if (!blocked) {
        DNNL_CHECK(dnnl_memory_create(&oc->src, &src_nhwc, engine, in));
        DNNL_CHECK(dnnl_memory_create(&oc->dst, &dst_nhwc, engine, out));
        return 1;
    }
    DNNL_CHECK(dnnl_memory_create(&oc->src, dnnl_primitive_desc_query_md(oc->pd, dnnl_query_src_md, 0),
                                  engine, DNNL_MEMORY_ALLOCATE));
    DNNL_CHECK(dnnl_memory_create(&oc->dst, dnnl_primitive_desc_query_md(oc->pd, dnnl_query_dst_md, 0),
                                  engine, DNNL_MEMORY_ALLOCATE));
    DNNL_CHECK(dnnl_memory_create(&src_user, &src_nhwc, engine, in));
    DNNL_CHECK(dnnl_memory_create(&oc->nhwc_out, &dst_nhwc, engine, out));
    reorder_once(engine, stream, src_user, oc->src);
    dnnl_memory_destroy(src_user);
    return 1;
}

static void onednn_conv_run(dnnl_stream_t stream, const onednn_conv *oc) {
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, oc->src},
                               {DNNL_ARG_WEIGHTS, oc->weights},
                               {DNNL_ARG_BIAS, oc->bias},
                               {DNNL_ARG_DST, oc->dst}};
    DNNL_CHECK(dnnl_primitive_execute(oc->prim, stream, 4, args));
    DNNL_CHECK(dnnl_stream_wait(stream));
}

/* The last run's output in the caller's NHWC buffer (already there unless blocked). */
static void onednn_conv_result(dnnl_engine_t engine, dnnl_stream_t stream, const onednn_conv *oc) {
    if (oc->nhwc_out) reorder_once(engine, stream, oc->dst, oc->nhwc_out);
}

static void onednn_conv_free(onednn_conv *oc) {
    dnnl_primitive_destroy(oc->prim);
    dnnl_primitive_desc_destroy(oc->pd);
    dnnl_memory_destroy(oc->src);
    dnnl_memory_destroy(oc->weights);
    dnnl_memory_destroy(oc->bias);
    dnnl_memory_destroy(oc->dst);
    if (oc->nhwc_out) dnnl_memory_destroy(oc->nhwc_out);
}

/* max |b - a| / max |a| over n values */
static double relative_difference(const float *a, const float *b, size_t n) {
    double max_a = 0, max_diff = 0;
    for (size_t i = 0; i < n; i++) {
        max_a = fmax(max_a, fabs(a[i]));
        max_diff = fmax(max_diff, fabs(b[i] - a[i]));
    }
    return max_diff / max_a;
}

typedef struct layer {
    const char *name;
    int net; /* index into nets[] */
    int count; /* how many times the network has the layer */
    int size, cin, cout, k, stride;
    nn_pad_mode pad;
    int depthwise; /* cin == cout channels, each its own k x k filter */
} layer;

static const char *const nets[] = {"dlib-resnet's convolutions", "nn4.small2's 3x3 stride-1 ones",
                                   "MobileFaceNet's convolutions"};
#define N_NETS 3

/* dlib-resnet's distinct convolutions at a 150x150 input (src/nets/dlib_resnet.c); nn4.small2's
 * 3x3 stride-1 convolutions at its 96x96 input (src/nets/nn4small2.c), whose padding of 1 on
 * each side is SAME for them; MobileFaceNet's (the TFLite file's, 112x112 input, "mfn"):
 * depthwise ("dw") and pointwise ("pw" Cin>Cout at the input size) convolutions, with ReLU
 * standing in for its PReLU */
static const layer layers[] = {
    {"conv32_down 7x7/2", 0, 1, 150, 3, 32, 7, 2, NN_PAD_VALID, 0},
    {"conv32 3x3 (x6)", 0, 6, 35, 32, 32, 3, 1, NN_PAD_SAME, 0},
    {"conv64_down 3x3/2", 0, 1, 35, 32, 64, 3, 2, NN_PAD_VALID, 0},
    {"conv64 3x3 (x7)", 0, 7, 17, 64, 64, 3, 1, NN_PAD_SAME, 0},
    {"conv128_down 3x3/2", 0, 1, 17, 64, 128, 3, 2, NN_PAD_VALID, 0},
    {"conv128 3x3 (x5)", 0, 5, 8, 128, 128, 3, 1, NN_PAD_SAME, 0},
    {"conv256_down 3x3/2", 0, 1, 8, 128, 256, 3, 2, NN_PAD_VALID, 0},
    {"conv256 3x3 (x5)", 0, 5, 4, 256, 256, 3, 1, NN_PAD_SAME, 0},
    {"conv256_down_out 3x3/2", 0, 1, 4, 256, 256, 3, 2, NN_PAD_VALID, 0},
    {"nn4 conv3 3x3", 1, 1, 24, 64, 192, 3, 1, NN_PAD_SAME, 0},
    {"nn4 3a,3b 3x3 (x2)", 1, 2, 12, 96, 128, 3, 1, NN_PAD_SAME, 0},
    {"nn4 4a 3x3", 1, 1, 6, 96, 192, 3, 1, NN_PAD_SAME, 0},
    {"nn4 5a,5b 3x3 (x2)", 1, 2, 3, 96, 384, 3, 1, NN_PAD_SAME, 0},
    {"mfn conv 3x3/2", 2, 1, 112, 3, 64, 3, 2, NN_PAD_SAME, 0},
    {"mfn dw 3x3 56", 2, 1, 56, 64, 64, 3, 1, NN_PAD_SAME, 1},
    {"mfn pw 64>64 56", 2, 1, 56, 64, 64, 1, 1, NN_PAD_SAME, 0},
    {"mfn pw 64>128 56", 2, 1, 56, 64, 128, 1, 1, NN_PAD_SAME, 0},
    {"mfn dw 3x3/2 56", 2, 1, 56, 128, 128, 3, 2, NN_PAD_SAME, 1},
    {"mfn pw 128>64 28 (x5)", 2, 5, 28, 128, 64, 1, 1, NN_PAD_SAME, 0},
    {"mfn pw 64>128 28 (x4)", 2, 4, 28, 64, 128, 1, 1, NN_PAD_SAME, 0},
    {"mfn dw 3x3 28 (x4)", 2, 4, 28, 128, 128, 3, 1, NN_PAD_SAME, 1},
    {"mfn pw 64>256 28", 2, 1, 28, 64, 256, 1, 1, NN_PAD_SAME, 0},
    {"mfn dw 3x3/2 28", 2, 1, 28, 256, 256, 3, 2, NN_PAD_SAME, 1},
    {"mfn pw 256>128 14 (x7)", 2, 7, 14, 256, 128, 1, 1, NN_PAD_SAME, 0},
    {"mfn pw 128>256 14 (x6)", 2, 6, 14, 128, 256, 1, 1, NN_PAD_SAME, 0},
    {"mfn dw 3x3 14 (x6)", 2, 6, 14, 256, 256, 3, 1, NN_PAD_SAME, 1},
    {"mfn pw 128>512 14", 2, 1, 14, 128, 512, 1, 1, NN_PAD_SAME, 0},
    {"mfn dw 3x3/2 14", 2, 1, 14, 512, 512, 3, 2, NN_PAD_SAME, 1},
    {"mfn pw 512>128 7", 2, 1, 7, 512, 128, 1, 1, NN_PAD_SAME, 0},
    {"mfn pw 128>256 7 (x2)", 2, 2, 7, 128, 256, 1, 1, NN_PAD_SAME, 0},
    {"mfn dw 3x3 7 (x2)", 2, 2, 7, 256, 256, 3, 1, NN_PAD_SAME, 1},
    {"mfn pw 256>128 7 (x2)", 2, 2, 7, 256, 128, 1, 1, NN_PAD_SAME, 0},
    {"mfn pw 128>512 7", 2, 1, 7, 128, 512, 1, 1, NN_PAD_SAME, 0},
    {"mfn dw 7x7 valid 7", 2, 1, 7, 512, 512, 7, 1, NN_PAD_VALID, 1},
    {"mfn pw 512>512 1", 2, 1, 1, 512, 512, 1, 1, NN_PAD_SAME, 0},
    {"mfn pw 512>192 1", 2, 1, 1, 512, 192, 1, 1, NN_PAD_SAME, 0},
};

int main(int argc, char **argv) {
    int repeat = 21;
    if (argc == 3 && strcmp(argv[1], "--repeat") == 0) repeat = atoi(argv[2]);
    if (repeat < 1 || repeat > 10000 || (argc != 1 && argc != 3)) {
        fprintf(stderr, "usage: conv_layers [--repeat N]\n");
        return 2;
    }
    omp_set_num_threads(1); /* oneDNN's threads (Debian builds it on OpenMP) */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    DNNL_CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    DNNL_CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const dnnl_version_t *version = dnnl_version();
    printf("conv_layers: 1 thread, level %s, median CPU time of %d runs; GFLOP/s of the direct "
           "convolution's flops\n", nn_isa_name(nn_cpu_isa()), repeat);
    printf("oneDNN %d.%d.%d: up to %s, %d OpenMP thread\n", version->major, version->minor,
           version->patch, onednn_isa_name(dnnl_get_effective_cpu_isa()), omp_get_max_threads());
    double start = now_ms(), peak = nn_kernels()->fma_loop(1 << 23);
    printf("this core's peak: %.1f GFLOP/s (register-resident multiply-adds)\n",
           peak / (now_ms() - start) / 1e6);
    printf("%-24s %3s %7s | %9s %6s | %9s %6s %7s | %9s %9s | %9s %6s %7s %9s | %s\n", "layer",
           "N", "MFLOP", "direct ms", "GF/s", "Winograd", "GF/s", "rel.err", "GEMM ms",
           "OpenBLAS", "oneDNN ms", "GF/s", "rel.err", "oneDNN wg", "oneDNN's implementation");
    unsigned state = 1;
    nn_arena *scratch = nn_arena_new(0);
    enum { DIRECT, WINOGRAD, GEMM, OPENBLAS, ONEDNN, ONEDNN_WINO, PATHS };
    double *t[PATHS];
    for (int i = 0; i < PATHS; i++) t[i] = malloc((size_t)repeat * sizeof(double));
    /* per network and batch (0: 1, 1: 16), each layer times its count: ours (the path
     * the library takes), oneDNN auto, oneDNN's faster of auto and Winograd, the faster of
     * ours and oneDNN's per layer */
    double totals[N_NETS][2][4] = {{{0}}};
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const layer *ly = &layers[l];
        for (int N = 1; N <= 16; N += 15) {
            nn_conv cv = {.kh = ly->k, .kw = ly->k, .cin = ly->cin, .cout = ly->cout,
                          .stride_h = ly->stride, .stride_w = ly->stride, .pad = {.mode = ly->pad},
                          .act = {.kind = NN_ACT_RELU}};
            size_t wn = (size_t)ly->k * ly->k * ly->cin * (ly->depthwise ? 1 : ly->cout);
            float *w = random_floats(wn, &state), *b = random_floats((size_t)ly->cout, &state);
            for (size_t i = 0; i < wn; i++) w[i] *= 0.1f;
            cv.weight = w;
            cv.bias = b;
            int OH, OW, pad;
            nn_out_size(ly->size, ly->k, ly->stride, cv.pad, 0, &OH, &pad);
            OW = OH;
            size_t M = (size_t)N * OH * OW, K = wn / ly->cout, out_n = M * ly->cout;
            float *in = random_floats((size_t)N * ly->size * ly->size * ly->cin, &state);
            float *out = malloc(out_n * sizeof(float)), *out_w = malloc(out_n * sizeof(float));
            float *out_d = malloc(out_n * sizeof(float)), *out_dw = malloc(out_n * sizeof(float));
            /* the im2col product alone (not for depthwise ones) */
            float *A = ly->depthwise ? NULL : random_floats(M * K, &state);
            float *C = ly->depthwise ? NULL : malloc(out_n * sizeof(float));
            size_t un = ly->depthwise ? 0 : nn_winograd_weight_floats(&cv);
            float *u = un ? malloc(un * sizeof(float)) : NULL;
            if (u) nn_winograd_weights(&cv, u);
            nn_conv cw = cv;
            cw.winograd = u;
            nn_gemm g = {.M = M, .K = (int)K, .N = ly->cout, .A = A, .B = w, .C = C};
            onednn_conv dnn, dnn_wino;
            if (!onednn_conv_make(engine, stream, dnnl_convolution_auto, 0, &cv, ly->depthwise, N,
                                  ly->size, ly->size, OH, OW, in, out_d, &dnn)) {
                fprintf(stderr, "conv_layers: oneDNN has no convolution for %s\n", ly->name);
                return 1;
            }
            /* oneDNN's Winograd takes its blocked activation layout only */
            int have_wino = !ly->depthwise &&
                            onednn_conv_make(engine, stream, dnnl_convolution_winograd, 1, &cv, 0,
                                             N, ly->size, ly->size, OH, OW, in, out_dw, &dnn_wino);
            for (int r = -2; r < repeat; r++) { /* 2 warm-up runs */
                double e[PATHS + 1];
                e[0] = now_ms();
                if (ly->depthwise)
                    nn_depthwise_conv2d(1, &cv, in, N, ly->size, ly->size, out, &OH, &OW);
                else
                    nn_conv2d(1, &cv, in, N, ly->size, ly->size, out, &OH, &OW, scratch);
                e[1] = now_ms();
                if (u) nn_conv2d(1, &cw, in, N, ly->size, ly->size, out_w, &OH, &OW, scratch);
                e[2] = now_ms();
                if (A) nn_gemm_run(1, &g, NULL);
                e[3] = now_ms();
                if (A)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, ly->cout,
                                (int)K, 1.0f, A, (int)K, w, ly->cout, 0.0f, C, ly->cout);
                e[4] = now_ms();
                onednn_conv_run(stream, &dnn);
                e[5] = now_ms();
                if (have_wino) onednn_conv_run(stream, &dnn_wino);
                e[6] = now_ms();
                if (r < 0) continue;
                for (int i = 0; i < PATHS; i++) t[i][r] = e[i + 1] - e[i];
            }
            if (have_wino) onednn_conv_result(engine, stream, &dnn_wino);
            double flops = 2.0 * (double)M * K * ly->cout, ms[PATHS];
            for (int i = 0; i < PATHS; i++) ms[i] = median(t[i], repeat);
            char wino[32] = "-", dnn_wino_ms[16] = "-", gemm[24] = "-";
            if (A) snprintf(gemm, sizeof gemm, "%9.3f %9.3f", ms[GEMM], ms[OPENBLAS]);
            if (u)
                snprintf(wino, sizeof wino, "%9.3f %6.1f %7.1e", ms[WINOGRAD],
                         flops / ms[WINOGRAD] / 1e6, relative_difference(out, out_w, out_n));
            if (have_wino) snprintf(dnn_wino_ms, sizeof dnn_wino_ms, "%9.3f", ms[ONEDNN_WINO]);
            double ours = u ? ms[WINOGRAD] : ms[DIRECT],
                   onednn_best = have_wino ? fmin(ms[ONEDNN], ms[ONEDNN_WINO]) : ms[ONEDNN];
            double *tot = totals[ly->net][N > 1];
            tot[0] += ly->count * ours, tot[1] += ly->count * ms[ONEDNN];
            tot[2] += ly->count * onednn_best, tot[3] += ly->count * fmin(ours, onednn_best);
            printf("%-24s %3d %7.1f | %9.3f %6.1f | %-24s | %-19s | %9.3f %6.1f %7.1e %9s | %s",
                   ly->name, N, flops / 1e6, ms[DIRECT], flops / ms[DIRECT] / 1e6, wino, gemm,
                   ms[ONEDNN], flops / ms[ONEDNN] / 1e6,
                   relative_difference(out, out_d, out_n), dnn_wino_ms, dnn.impl);
            if (have_wino)
                printf(", winograd %s (rel.err %.1e)", dnn_wino.impl,
                       relative_difference(out, out_dw, out_n));
            printf("\n");
            onednn_conv_free(&dnn);
            if (have_wino) onednn_conv_free(&dnn_wino);
            free(w), free(b), free(in), free(out), free(out_w), free(out_d), free(out_dw);
            free(A), free(C), free(u);
        }
    }
    printf("\nper network and batch, each layer times its count (ms): ours (the path the library takes), "
           "oneDNN auto, oneDNN's faster of auto and Winograd, the faster of both per layer\n");
    for (int n = 0; n < N_NETS; n++)
        for (int b = 0; b < 2; b++)
            printf("%-32s batch %2d: ours %7.3f  oneDNN %7.3f  oneDNN best %7.3f  best of both "
                   "%7.3f\n", nets[n], b ? 16 : 1, totals[n][b][0], totals[n][b][1],
                   totals[n][b][2], totals[n][b][3]);
    for (int i = 0; i < PATHS; i++) free(t[i]);
    nn_arena_free(scratch);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
