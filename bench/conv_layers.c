/* conv_layers: each dlib-resnet convolution shape timed on its own, per path, on 1 thread.
 *
 *   conv_layers [--repeat N]
 *
 * For batch 1 and 16, every distinct convolution of dlib-resnet (random weights of the
 * network's shapes, 150x150 input) runs through nn_conv2d by im2col + our GEMM and, for the
 * 3x3 stride-1 ones, by Winograd F(2,3); the matrix product of the im2col path also runs
 * alone through our GEMM and through OpenBLAS's sgemm on the same matrices. Medians of N
 * runs (default 21) in CPU time of the thread, the paths interleaved so that a busy machine
 * disturbs them alike; with
 * GFLOP/s counted as the direct convolution's 2*K*N*M. The Winograd column also gives its
 * largest difference from the direct path, relative to the output's largest magnitude. The
 * CPU level is the process's (FACEREC_ISA to force a lower one). Standalone, like
 * liveness_speed: it reads the runtime's internal headers. */
#include "nn/cpu.h"
#include "nn/kernels.h"
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
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

typedef struct layer {
    const char *name;
    int size, cin, cout, k, stride;
    nn_pad_mode pad;
} layer;

/* dlib-resnet's distinct convolutions at a 150x150 input (src/nets/dlib_resnet.c) */
static const layer layers[] = {
    {"conv32_down 7x7/2", 150, 3, 32, 7, 2, NN_PAD_VALID},
    {"conv32 3x3 (x6)", 35, 32, 32, 3, 1, NN_PAD_SAME},
    {"conv64_down 3x3/2", 35, 32, 64, 3, 2, NN_PAD_VALID},
    {"conv64 3x3 (x7)", 17, 64, 64, 3, 1, NN_PAD_SAME},
    {"conv128_down 3x3/2", 17, 64, 128, 3, 2, NN_PAD_VALID},
    {"conv128 3x3 (x5)", 8, 128, 128, 3, 1, NN_PAD_SAME},
    {"conv256_down 3x3/2", 8, 128, 256, 3, 2, NN_PAD_VALID},
    {"conv256 3x3 (x5)", 4, 256, 256, 3, 1, NN_PAD_SAME},
    {"conv256_down_out 3x3/2", 4, 256, 256, 3, 2, NN_PAD_VALID},
};

int main(int argc, char **argv) {
    int repeat = 21;
    if (argc == 3 && strcmp(argv[1], "--repeat") == 0) repeat = atoi(argv[2]);
    if (repeat < 1 || repeat > 10000 || (argc != 1 && argc != 3)) {
        fprintf(stderr, "usage: conv_layers [--repeat N]\n");
        return 2;
    }
    printf("conv_layers: 1 thread, level %s, median CPU time of %d runs; GFLOP/s of the direct "
           "convolution's flops\n", nn_isa_name(nn_cpu_isa()), repeat);
    double start = now_ms(), peak = nn_kernels()->fma_loop(1 << 23);
    printf("this core's peak: %.1f GFLOP/s (register-resident multiply-adds)\n",
           peak / (now_ms() - start) / 1e6);
    printf("%-24s %3s %7s | %10s %7s | %10s %7s %9s | %9s %9s\n", "layer", "N", "MFLOP",
           "im2col ms", "GF/s", "Winograd", "GF/s", "rel.err", "GEMM ms", "OpenBLAS");
    unsigned state = 1;
    nn_arena *scratch = nn_arena_new(0);
    double *t[4];
    for (int i = 0; i < 4; i++) t[i] = malloc((size_t)repeat * sizeof(double));
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        const layer *ly = &layers[l];
        for (int N = 1; N <= 16; N += 15) {
            nn_conv cv = {.kh = ly->k, .kw = ly->k, .cin = ly->cin, .cout = ly->cout,
                          .stride_h = ly->stride, .stride_w = ly->stride, .pad = {.mode = ly->pad},
                          .act = {.kind = NN_ACT_RELU}};
            size_t wn = (size_t)ly->k * ly->k * ly->cin * ly->cout;
            float *w = random_floats(wn, &state), *b = random_floats((size_t)ly->cout, &state);
            for (size_t i = 0; i < wn; i++) w[i] *= 0.1f;
            cv.weight = w;
            cv.bias = b;
            int OH, OW, pad;
            nn_out_size(ly->size, ly->k, ly->stride, cv.pad, 0, &OH, &pad);
            OW = OH;
            size_t M = (size_t)N * OH * OW, K = wn / ly->cout;
            float *in = random_floats((size_t)N * ly->size * ly->size * ly->cin, &state);
            float *out = malloc(M * ly->cout * sizeof(float));
            float *out_w = malloc(M * ly->cout * sizeof(float));
            float *A = random_floats(M * K, &state), *C = malloc(M * ly->cout * sizeof(float));
            size_t un = nn_winograd_weight_floats(&cv);
            float *u = un ? malloc(un * sizeof(float)) : NULL;
            if (u) nn_winograd_weights(&cv, u);
            nn_conv cw = cv;
            cw.winograd = u;
            nn_gemm g = {.M = M, .K = (int)K, .N = ly->cout, .A = A, .B = w, .C = C};
            for (int r = -2; r < repeat; r++) { /* 2 warm-up runs */
                double s = now_ms();
                nn_conv2d(1, &cv, in, N, ly->size, ly->size, out, &OH, &OW, scratch);
                double e1 = now_ms();
                if (u) nn_conv2d(1, &cw, in, N, ly->size, ly->size, out_w, &OH, &OW, scratch);
                double e2 = now_ms();
                nn_gemm_run(1, &g, NULL);
                double e3 = now_ms();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, ly->cout, (int)K,
                            1.0f, A, (int)K, w, ly->cout, 0.0f, C, ly->cout);
                double e4 = now_ms();
                if (r < 0) continue;
                t[0][r] = e1 - s, t[1][r] = e2 - e1, t[2][r] = e3 - e2, t[3][r] = e4 - e3;
            }
            double flops = 2.0 * (double)M * K * ly->cout, ms[4];
            for (int i = 0; i < 4; i++) ms[i] = median(t[i], repeat);
            char wino[48] = "-";
            if (u) {
                double max_out = 0, max_diff = 0;
                for (size_t i = 0; i < M * ly->cout; i++) {
                    max_out = fmax(max_out, fabs(out[i]));
                    max_diff = fmax(max_diff, fabs(out[i] - out_w[i]));
                }
                snprintf(wino, sizeof wino, "%10.3f %7.1f %9.1e", ms[1], flops / ms[1] / 1e6,
                         max_diff / max_out);
            }
            printf("%-24s %3d %7.1f | %10.3f %7.1f | %-28s | %9.3f %9.3f\n", ly->name, N,
                   flops / 1e6, ms[0], flops / ms[0] / 1e6, wino, ms[2], ms[3]);
            free(w), free(b), free(in), free(out), free(out_w), free(A), free(C), free(u);
        }
    }
    for (int i = 0; i < 4; i++) free(t[i]);
    nn_arena_free(scratch);
    return 0;
}
