/* elementwise.c: activations (alone or as the fused epilogue of other ops), add,
 * scale/shift, channel concat and padding, sigmoid, softmax, L2 normalisation, spatial mean.
 * Each op splits its rows (pixels) across the thread pool; the inner loops run over
 * channels and are written so that the compiler vectorises them. */
#include "common/common.h"
#include "nn/kernels.h"

#include <math.h>
#include <string.h>

static void add_row(float *restrict x, const float *restrict b, int n) {
    for (int c = 0; c < n; c++) x[c] += b[c];
}

static void relu_row(float *restrict x, int n) {
    for (int c = 0; c < n; c++) x[c] = x[c] > 0.0f ? x[c] : 0.0f;
}

static void relu6_row(float *restrict x, int n) {
    for (int c = 0; c < n; c++) {
        float v = x[c] > 0.0f ? x[c] : 0.0f;
        x[c] = v < 6.0f ? v : 6.0f;
    }
}

/* Written as pos + alpha * neg (exact) rather than a select of alpha * x, which GCC does
 * not vectorise. */
static void leaky_row(float *restrict x, int n, float alpha) {
    for (int c = 0; c < n; c++) {
        float pos = x[c] > 0.0f ? x[c] : 0.0f, neg = x[c] < 0.0f ? x[c] : 0.0f;
        x[c] = pos + alpha * neg;
    }
}

static void prelu_row(float *restrict x, const float *restrict slope, int n) {
    for (int c = 0; c < n; c++) {
        float pos = x[c] > 0.0f ? x[c] : 0.0f, neg = x[c] < 0.0f ? x[c] : 0.0f;
        x[c] = pos + slope[c] * neg;
    }
}

void nn_bias_act(float *x, size_t rows, int cols, size_t ld, const float *bias, nn_act act) {
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * ld;
        if (bias) add_row(row, bias, cols);
        switch (act.kind) {
        case NN_ACT_NONE: break;
        case NN_ACT_RELU: relu_row(row, cols); break;
        case NN_ACT_RELU6: relu6_row(row, cols); break;
        case NN_ACT_LEAKY: leaky_row(row, cols, act.alpha); break;
        case NN_ACT_PRELU: prelu_row(row, act.slope, cols); break;
        }
    }
}

/* ---- ops over (P,C) rows, P split across the pool ---- */

typedef struct rows_job {
    float *x;
    const float *a, *b; /* op-specific inputs */
    size_t P;
    int C;
    nn_split split;
    nn_act act;
} rows_job;

/* the rows [*p0, *p1) of task i */
static void task_rows(const rows_job *j, int i, size_t *p0, size_t *p1) {
    *p0 = (size_t)i * j->split.per_task;
    *p1 = FR_MIN(*p0 + j->split.per_task, j->P);
}

static void activate_task(void *ctx, int i) {
    const rows_job *j = ctx;
    size_t p0, p1;
    task_rows(j, i, &p0, &p1);
    nn_bias_act(j->x + p0 * j->C, p1 - p0, j->C, (size_t)j->C, NULL, j->act);
}

void nn_activate(int threads, float *x, size_t P, int C, nn_act act) {
    if (act.kind == NN_ACT_NONE) return;
    rows_job j = {.x = x, .P = P, .C = C, .split = nn_split_work(P, (size_t)C), .act = act};
    nn_parallel_for(threads, j.split.n_tasks, activate_task, &j);
}

static void scale_shift_task(void *ctx, int i) {
    const rows_job *j = ctx;
    size_t p0, p1;
    task_rows(j, i, &p0, &p1);
    const float *restrict scale = j->a, *restrict shift = j->b;
    for (size_t p = p0; p < p1; p++) {
        float *restrict row = j->x + p * j->C;
        if (scale)
            for (int c = 0; c < j->C; c++) row[c] *= scale[c];
        if (shift)
            for (int c = 0; c < j->C; c++) row[c] += shift[c];
    }
}

void nn_scale_shift(int threads, float *x, size_t P, int C, const float *scale,
                    const float *shift) {
    rows_job j = {.x = x, .a = scale, .b = shift, .P = P, .C = C,
                  .split = nn_split_work(P, (size_t)C)};
    nn_parallel_for(threads, j.split.n_tasks, scale_shift_task, &j);
}

/* a and b may alias out, so no restrict here: GCC still vectorises after a runtime check. */
static void add_task(void *ctx, int i) {
    const rows_job *j = ctx;
    size_t p0, p1;
    task_rows(j, i, &p0, &p1);
    for (size_t k = p0; k < p1; k++) j->x[k] = j->a[k] + j->b[k];
}

void nn_add(int threads, const float *a, const float *b, float *out, size_t n) {
    rows_job j = {.x = out, .a = a, .b = b, .P = n, .C = 1, .split = nn_split_work(n, 1)};
    nn_parallel_for(threads, j.split.n_tasks, add_task, &j);
}

static void sigmoid_task(void *ctx, int i) {
    const rows_job *j = ctx;
    size_t p0, p1;
    task_rows(j, i, &p0, &p1);
    for (size_t k = p0; k < p1; k++) j->x[k] = 1.0f / (1.0f + expf(-j->x[k]));
}

void nn_sigmoid(int threads, float *x, size_t n) {
    rows_job j = {.x = x, .P = n, .C = 1, .split = nn_split_work(n, 16)};
    nn_parallel_for(threads, j.split.n_tasks, sigmoid_task, &j);
}

static void softmax_task(void *ctx, int i) {
    const rows_job *j = ctx;
    size_t p0, p1;
    task_rows(j, i, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        float *row = j->x + p * j->C;
        float max = row[0], sum = 0.0f;
        for (int c = 1; c < j->C; c++) max = row[c] > max ? row[c] : max;
        for (int c = 0; c < j->C; c++) {
            row[c] = expf(row[c] - max);
            sum += row[c];
        }
        float inv = 1.0f / sum;
        for (int c = 0; c < j->C; c++) row[c] *= inv;
    }
}

void nn_softmax(int threads, float *x, size_t R, int C) {
    if (C <= 0) return;
    rows_job j = {.x = x, .P = R, .C = C, .split = nn_split_work(R, (size_t)C * 16)};
    nn_parallel_for(threads, j.split.n_tasks, softmax_task, &j);
}

/* Rows are few (one per face), so this stays on the calling thread. */
void nn_l2_normalize(float *x, int N, int C) {
    for (int n = 0; n < N; n++) {
        float *row = x + (size_t)n * C;
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += (double)row[c] * row[c];
        if (sum == 0.0) continue;
        float inv = (float)(1.0 / sqrt(sum));
        for (int c = 0; c < C; c++) row[c] *= inv;
    }
}

typedef struct concat_job {
    const float *const *ins;
    const int *Cs;
    int n_in, Cout;
    size_t P;
    nn_split split;
    const float *in; /* nn_pad_channels */
    float *out;
} concat_job;

static void concat_task(void *ctx, int i) {
    const concat_job *j = ctx;
    size_t p0 = (size_t)i * j->split.per_task, p1 = FR_MIN(p0 + j->split.per_task, j->P);
    for (size_t p = p0; p < p1; p++) {
        float *dst = j->out + p * j->Cout;
        for (int k = 0; k < j->n_in; k++) {
            memcpy(dst, j->ins[k] + p * j->Cs[k], (size_t)j->Cs[k] * sizeof(float));
            dst += j->Cs[k];
        }
    }
}

void nn_concat_channels(int threads, const float *const *ins, const int *Cs, int n_in, size_t P,
                        float *out) {
    int Cout = 0;
    for (int k = 0; k < n_in; k++) Cout += Cs[k];
    concat_job j = {.ins = ins, .Cs = Cs, .n_in = n_in, .Cout = Cout, .P = P,
                    .split = nn_split_work(P, (size_t)Cout), .out = out};
    nn_parallel_for(threads, j.split.n_tasks, concat_task, &j);
}

static void pad_channels_task(void *ctx, int i) {
    const concat_job *j = ctx;
    int C = j->Cs[0];
    size_t p0 = (size_t)i * j->split.per_task, p1 = FR_MIN(p0 + j->split.per_task, j->P);
    for (size_t p = p0; p < p1; p++) {
        float *dst = j->out + p * j->Cout;
        memcpy(dst, j->in + p * C, (size_t)C * sizeof(float));
        memset(dst + C, 0, (size_t)(j->Cout - C) * sizeof(float));
    }
}

void nn_pad_channels(int threads, const float *in, size_t P, int C, int Cout, float *out) {
    concat_job j = {.Cs = &C, .Cout = Cout, .P = P, .split = nn_split_work(P, (size_t)Cout),
                    .in = in, .out = out};
    nn_parallel_for(threads, j.split.n_tasks, pad_channels_task, &j);
}

typedef struct mean_job {
    const float *in;
    int H, W, C;
    float *out;
} mean_job;

static void spatial_mean_task(void *ctx, int n) {
    const mean_job *j = ctx;
    size_t HW = (size_t)j->H * j->W;
    const float *in = j->in + (size_t)n * HW * j->C;
    float *restrict out = j->out + (size_t)n * j->C;
    memset(out, 0, (size_t)j->C * sizeof(float));
    for (size_t p = 0; p < HW; p++) add_row(out, in + p * j->C, j->C);
    float inv = 1.0f / (float)HW;
    for (int c = 0; c < j->C; c++) out[c] *= inv;
}

void nn_spatial_mean(int threads, const float *in, int N, int H, int W, int C, float *out) {
    mean_job j = {.in = in, .H = H, .W = W, .C = C, .out = out};
    nn_parallel_for(threads, N, spatial_mean_task, &j);
}
