/* tensor_ops.c: ops over tensors of any rank, as graphs read from model files use them:
 * broadcasting binary ops, unary maps, reductions over axes and zero padding.
 *
 * A tensor of shape (s[0..rank)) is row-major. The binary ops walk the output row by row
 * (a row is the last axis) and split the rows across the thread pool; the inner loop is a
 * contiguous run, with a or b either moving along it or held fixed (broadcast). */
#include "common/common.h"
#include "nn/kernels.h"

#include <math.h>
#include <string.h>

/* Row-major strides of a shape, with 0 on axes of extent 1 (they broadcast). */
static void broadcast_strides(const int *shape, int rank, size_t *strides) {
    size_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = shape[d] == 1 ? 0 : s;
        s *= (size_t)shape[d];
    }
}

typedef struct binary_job {
    nn_binary_op op;
    const float *a, *b;
    float *out;
    const int *os;
    int rank;
    size_t a_strides[NN_MAX_RANK], b_strides[NN_MAX_RANK];
    size_t rows; /* product of os[0..rank-1) */
    int cols;    /* os[rank-1] */
    nn_split split;
} binary_job;

/* out[i] = a[i * sa] op b[i * sb] for i < n, sa and sb 0 or 1 */
static void binary_run(nn_binary_op op, const float *a, size_t sa, const float *b, size_t sb,
                       float *out, int n) {
    switch (op) {
    case NN_BINARY_ADD:
        for (int i = 0; i < n; i++) out[i] = a[i * sa] + b[i * sb];
        break;
    case NN_BINARY_SUB:
        for (int i = 0; i < n; i++) out[i] = a[i * sa] - b[i * sb];
        break;
    case NN_BINARY_MUL:
        for (int i = 0; i < n; i++) out[i] = a[i * sa] * b[i * sb];
        break;
    case NN_BINARY_DIV:
        for (int i = 0; i < n; i++) out[i] = a[i * sa] / b[i * sb];
        break;
    }
}

static void binary_task(void *ctx, int t) {
    const binary_job *j = ctx;
    size_t r0 = (size_t)t * j->split.per_task, r1 = FR_MIN(r0 + j->split.per_task, j->rows);
    int last = j->rank - 1;
    for (size_t r = r0; r < r1; r++) {
        /* the offsets of row r in a and b, from its index along each leading axis */
        size_t rest = r, ia = 0, ib = 0;
        for (int d = last - 1; d >= 0; d--) {
            size_t idx = rest % (size_t)j->os[d];
            rest /= (size_t)j->os[d];
            ia += idx * j->a_strides[d];
            ib += idx * j->b_strides[d];
        }
        binary_run(j->op, j->a + ia, j->a_strides[last], j->b + ib, j->b_strides[last],
                   j->out + r * (size_t)j->cols, j->cols);
    }
}

void nn_binary(int threads, nn_binary_op op, const float *a, const int *as, const float *b,
               const int *bs, const int *os, int rank, float *out) {
    if (rank == 0) {
        binary_run(op, a, 0, b, 0, out, 1);
        return;
    }
    binary_job j = {.op = op, .a = a, .b = b, .out = out, .os = os, .rank = rank, .rows = 1};
    broadcast_strides(as, rank, j.a_strides);
    broadcast_strides(bs, rank, j.b_strides);
    for (int d = 0; d < rank - 1; d++) j.rows *= (size_t)os[d];
    j.cols = os[rank - 1];
    j.split = nn_split_work(j.rows, (size_t)j.cols);
    nn_parallel_for(threads, j.split.n_tasks, binary_task, &j);
}

typedef struct unary_job {
    nn_unary_op op;
    const float *in;
    float *out;
    size_t n;
    nn_split split;
} unary_job;

static void unary_task(void *ctx, int t) {
    const unary_job *j = ctx;
    size_t i0 = (size_t)t * j->split.per_task, i1 = FR_MIN(i0 + j->split.per_task, j->n);
    const float *in = j->in;
    float *out = j->out;
    switch (j->op) {
    case NN_UNARY_ABS:
        for (size_t i = i0; i < i1; i++) out[i] = fabsf(in[i]);
        break;
    case NN_UNARY_NEG:
        for (size_t i = i0; i < i1; i++) out[i] = -in[i];
        break;
    case NN_UNARY_EXP:
        for (size_t i = i0; i < i1; i++) out[i] = expf(in[i]);
        break;
    }
}

void nn_unary(int threads, nn_unary_op op, const float *in, float *out, size_t n) {
    unary_job j = {.op = op, .in = in, .out = out, .n = n,
                   .split = nn_split_work(n, op == NN_UNARY_EXP ? 16 : 1)};
    nn_parallel_for(threads, j.split.n_tasks, unary_task, &j);
}

/* Reductions are small in the graphs that use them (a softmax over a few channels), so they
 * run on the calling thread: each input element is folded into its output element. */
void nn_reduce(nn_reduce_op op, const float *in, const int *shape, int rank, unsigned axes,
               float *out) {
    size_t out_strides[NN_MAX_RANK], n_in = 1, n_out = 1, s = 1;
    int idx[NN_MAX_RANK] = {0};
    for (int d = rank - 1; d >= 0; d--) {
        int reduced = (axes >> d) & 1u;
        out_strides[d] = reduced ? 0 : s;
        if (!reduced) s *= (size_t)shape[d];
        n_in *= (size_t)shape[d];
    }
    n_out = s;
    for (size_t o = 0; o < n_out; o++) out[o] = op == NN_REDUCE_MAX ? -INFINITY : 0.0f;
    size_t o = 0;
    for (size_t i = 0; i < n_in; i++) {
        out[o] = op == NN_REDUCE_MAX ? (in[i] > out[o] ? in[i] : out[o]) : out[o] + in[i];
        /* advance the index odometer, keeping o the output offset of idx */
        for (int d = rank - 1; d >= 0; d--) {
            o += out_strides[d];
            if (++idx[d] < shape[d]) break;
            o -= out_strides[d] * (size_t)shape[d];
            idx[d] = 0;
        }
    }
    if (op == NN_REDUCE_MEAN && n_out > 0) {
        float inv = (float)n_out / (float)n_in;
        for (size_t k = 0; k < n_out; k++) out[k] *= inv;
    }
}

void nn_pad(const float *in, const int *shape, int rank, const int *pad, float *out) {
    int out_shape[NN_MAX_RANK], idx[NN_MAX_RANK] = {0};
    size_t n_out = 1, rows = 1;
    for (int d = 0; d < rank; d++) {
        out_shape[d] = shape[d] + pad[2 * d] + pad[2 * d + 1];
        n_out *= (size_t)out_shape[d];
        if (d < rank - 1) rows *= (size_t)shape[d];
    }
    memset(out, 0, n_out * sizeof *out);
    if (rank == 0) {
        out[0] = in[0];
        return;
    }
    int cols = shape[rank - 1];
    for (size_t r = 0; r < rows; r++) {
        /* the output offset of input row idx[0..rank-1) */
        size_t o = 0;
        for (int d = 0; d < rank; d++)
            o = o * (size_t)out_shape[d] + (size_t)(d < rank - 1 ? idx[d] + pad[2 * d] : pad[2 * d]);
        memcpy(out + o, in + r * (size_t)cols, (size_t)cols * sizeof *out);
        for (int d = rank - 2; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}
