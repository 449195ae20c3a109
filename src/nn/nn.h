/* nn.h: the neural-network runtime. Float32 NHWC tensors as flat arrays, one plain function
 * per op (shapes in the comments), an arena for activations, and a process-wide thread pool.
 *
 * Conventions
 *   - Activations are NHWC: element (n, y, x, c) of a (N,H,W,C) tensor is
 *     data[((n*H + y)*W + x)*C + c].
 *   - Convolution weights are HWIO, (KH,KW,Cin,Cout), as TensorFlow stores them; depthwise
 *     weights are (KH,KW,C) (channel multiplier 1).
 *   - Ops never allocate with malloc; scratch space comes from the caller's nn_arena.
 *   - Ops cannot fail: shapes are validated when a network is loaded.
 */
#ifndef FR_NN_H
#define FR_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- threads --------------------------------------------------------------------------- */

/* The thread count is a parameter of every op that splits its work (its first), a number
 * >= 1 (below 1 counts as 1), as the caller's engine resolved it from fr_config.threads:
 * there is no global setting. Ops split their work by shape, never by thread count, so
 * their results are the same bits whatever the count. */

/* The thread count used for 0: $FACEREC_THREADS if set, else the number of online cores. */
int nn_default_threads(void);
/* threads if > 0 (capped at the pool's limit), else nn_default_threads(). */
int nn_resolve_threads(int threads);

/* Run fn(ctx, i) for i in [0, n) on `threads` threads (the caller and up to threads - 1
 * workers of the process-wide pool); returns when all are done. Safe to call from several
 * application threads at once, with any thread counts; a call from inside a task runs
 * serially (so a task of an outer loop, e.g. one image of an evaluation, runs its ops on
 * its own thread). */
typedef void (*nn_task_fn)(void *ctx, int i);
void nn_parallel_for(int threads, int n, nn_task_fn fn, void *ctx);

/* ---- activation memory ----------------------------------------------------------------- */

/* The memory policy, which every network follows (and a new one must):
 *   - A loaded network is immutable; what a call needs is taken from pools the network
 *     keeps (thread-safe) and given back after the call: planned graph sessions
 *     (nn_graph_session_take / give, nn/graph.h) for graphs read from model files, and
 *     nn_arena_pool arenas for the hand-written networks and for every network's own
 *     scratch (inputs, boxes, candidates, NMS). Ops never allocate (see above).
 *   - Sizes are planned from the input's shape: a session keeps its plan while the shapes
 *     fit it, an arena keeps its blocks, so a call allocates only when it needs more than
 *     any call before it (a larger image, more faces, a larger batch), never otherwise.
 *   - Nothing is malloc'd per call besides what the caller receives (the faces array a
 *     detector returns): no per-call buffers, and no qsort (glibc's mallocs: use
 *     sort_stable with arena scratch).
 * tests/test_runtime.c counts the allocations of the default pipeline after warm-up. */

/* A stack allocator for one inference call: blocks are allocated once, reused after
 * nn_arena_reset(), and never move, so pointers stay valid until reset or free. */
typedef struct nn_arena nn_arena;
/* Blocks of this size or more are in 2 MB pages (nn_alloc_huge). */
#define NN_ARENA_HUGE_BLOCK ((size_t)4 << 20)
nn_arena *nn_arena_new(size_t bytes_hint);
/* 64-byte aligned; NULL when memory is exhausted. */
float *nn_arena_alloc(nn_arena *a, size_t n_floats);
/* The same for n items of `size` bytes (boxes, indices, images), NULL also on overflow. */
void *nn_arena_alloc_items(nn_arena *a, size_t n, size_t size);
size_t nn_arena_mark(const nn_arena *a);
void nn_arena_reset(nn_arena *a, size_t mark); /* frees everything allocated after mark */
void nn_arena_free(nn_arena *a);

/* Warm arenas kept by a loaded network between calls, so that its activation memory is
 * allocated (and faulted in) once rather than on every call, while the network itself stays
 * immutable: each call takes an arena, and gives it back when done. Thread-safe. */
typedef struct nn_arena_pool nn_arena_pool;
/* Keeps at most max_kept arenas (callers beyond that many at once get fresh ones). */
nn_arena_pool *nn_arena_pool_new(int max_kept);
/* A kept arena whose first block holds bytes_hint (replaced if smaller), else a new one;
 * NULL when memory is exhausted. */
nn_arena *nn_arena_pool_take(nn_arena_pool *p, size_t bytes_hint);
/* Reset a and keep it, or free it when the pool is full. a may be NULL. */
void nn_arena_pool_give(nn_arena_pool *p, nn_arena *a);
void nn_arena_pool_free(nn_arena_pool *p); /* and the arenas it keeps */

/* Memory for a large buffer, 2 MB aligned and advised to use huge pages (faulting in
 * hundreds of MB in 4 kB pages costs more than filling them). *bytes is rounded up to a
 * multiple of 2 MB. NULL when memory is exhausted; free with free(). */
void *nn_alloc_huge(size_t *bytes);

/* ---- activations, fused into ops or applied alone --------------------------------------- */

typedef enum nn_act_kind {
    NN_ACT_NONE = 0,
    NN_ACT_RELU,
    NN_ACT_RELU6,
    NN_ACT_LEAKY, /* x < 0 ? alpha * x : x */
    NN_ACT_PRELU  /* x < 0 ? slope[c] * x : x */
} nn_act_kind;

typedef struct nn_act {
    nn_act_kind kind;
    float alpha;        /* NN_ACT_LEAKY */
    const float *slope; /* NN_ACT_PRELU: (C) */
} nn_act;

/* x is (P,C) (P = N*H*W pixels): x = act(x) */
void nn_activate(int threads, float *x, size_t P, int C, nn_act act);

/* ---- convolutions ----------------------------------------------------------------------- */

typedef enum nn_pad_mode {
    NN_PAD_VALID = 0,
    NN_PAD_SAME,    /* TensorFlow SAME: the odd extra padding pixel goes bottom/right */
    NN_PAD_EXPLICIT /* pad_top/left/bottom/right given */
} nn_pad_mode;

typedef struct nn_padding {
    nn_pad_mode mode;
    int top, left, bottom, right; /* NN_PAD_EXPLICIT only */
} nn_padding;

/* Output size and leading padding along one axis. */
void nn_out_size(int in, int k, int stride, nn_padding pad, int axis_is_w, int *out,
                 int *pad_before);

typedef struct nn_conv {
    int kh, kw, cin, cout;
    int stride_h, stride_w;
    nn_padding pad;
    const float *weight; /* (KH,KW,Cin,Cout); depthwise: (KH,KW,C) */
    const float *bias;   /* (Cout) or NULL; batch norm is folded in here at load time */
    nn_act act;          /* applied to the output */
    /* 3x3 stride-1 only, or NULL: the weights transformed for Winograd F(2,3), (16,Cin,Cout)
     * (nn_winograd_weights), made when the network is loaded. With them, nn_conv2d takes
     * the Winograd path where it is the faster one for the shape (conv.c). */
    const float *winograd;
} nn_conv;

/* in is (N,H,W,Cin), out is (N,OH,OW,Cout). Through a GEMM (im2col skipped for 1x1 stride 1).
 * Scratch for im2col comes from `scratch` and is released before returning (with scratch
 * NULL, or exhausted, a slower path without scratch is taken). */
void nn_conv2d(int threads, const nn_conv *cv, const float *in, int N, int H, int W, float *out,
               int *OH, int *OW, nn_arena *scratch);

/* The size in floats of cv's Winograd weights (16*Cin*Cout), or 0 when cv is not a 3x3
 * stride-1 convolution; and the weights themselves, U = G g G^T for each (Cin, Cout)
 * pair of taps g, into out (16,Cin,Cout) for cv->winograd. */
size_t nn_winograd_weight_floats(const nn_conv *cv);
void nn_winograd_weights(const nn_conv *cv, float *out);

/* in is (N,H,W,C), out is (N,OH,OW,C); cv->cin == cv->cout == C. */
void nn_depthwise_conv2d(int threads, const nn_conv *cv, const float *in, int N, int H, int W,
                         float *out, int *OH, int *OW);

/* Fold a batch norm y = (x - mean) / sqrt(var + eps) * gamma + beta into a convolution's
 * weight (KH,KW,Cin,Cout) or depthwise weight (KH,KW,C) and bias (Cout), in place.
 * n_per_out is the number of weights per output channel (KH*KW*Cin, or KH*KW for depthwise),
 * laid out with the output channel fastest. bias must be writable (C) (zeros if none before). */
void nn_fold_batchnorm(float *weight, size_t n_per_out, float *bias, int C, const float *gamma,
                       const float *beta, const float *mean, const float *var, float eps);

/* x is (P,C): x[p,c] = x[p,c] * scale[c] + shift[c] (scale or shift may be NULL) */
void nn_scale_shift(int threads, float *x, size_t P, int C, const float *scale, const float *shift);

/* ---- pooling and shape ops ------------------------------------------------------------- */

/* in is (N,H,W,C), out is (N,OH,OW,C). Padded cells are ignored (TF semantics). */
void nn_maxpool2d(int threads, const float *in, int N, int H, int W, int C, int kh, int kw,
                  int stride_h, int stride_w, nn_padding pad, float *out, int *OH, int *OW);
void nn_avgpool2d(int threads, const float *in, int N, int H, int W, int C, int kh, int kw,
                  int stride_h, int stride_w, nn_padding pad, float *out, int *OH, int *OW);

/* out = a + b, n elements (out may alias a or b) */
void nn_add(int threads, const float *a, const float *b, float *out, size_t n);

/* ins[i] is (P,Cs[i]); out is (P, sum Cs): concatenation along channels */
void nn_concat_channels(int threads, const float *const *ins, const int *Cs, int n_in, size_t P,
                        float *out);

/* in is (P,C), out is (P,Cout) with Cout >= C: extra channels are zero */
void nn_pad_channels(int threads, const float *in, size_t P, int C, int Cout, float *out);

/* in is (N,H,W,C), out is (N,OH,OW,C): bilinear resize with TensorFlow's two conventions
 * (align_corners; half_pixel_centers), so that tfjs and TFLite graphs are matched exactly. */
void nn_resize_bilinear(int threads, const float *in, int N, int H, int W, int C, int OH, int OW,
                        int align_corners, int half_pixel_centers, float *out);

/* in is an (H,W,C) byte image (rows `stride` bytes apart) placed at (off_y, off_x) in a
 * (CH,CW,C) canvas of zeros; out is (OH,OW,C): nn_resize_bilinear of that canvas, to the same
 * bits, without building it (so its cost does not grow with the canvas). */
void nn_resize_bilinear_canvas(int threads, const uint8_t *in, size_t stride, int H, int W, int C,
                               int off_y, int off_x, int CH, int CW, int OH, int OW,
                               int align_corners, int half_pixel_centers, float *out);

/* in is (N,Cin), w is (Cin,Cout), b is (Cout) or NULL, out is (N,Cout) */
void nn_dense(int threads, const float *in, int N, int Cin, const float *w, const float *b,
              int Cout, float *out);

/* in is (N,H,W,C), out is (N,C): the mean over H and W */
void nn_spatial_mean(int threads, const float *in, int N, int H, int W, int C, float *out);

/* x is (N,C): each row scaled to unit L2 norm (rows of zeros stay zero) */
void nn_l2_normalize(float *x, int N, int C);

/* elementwise on n values */
void nn_sigmoid(int threads, float *x, size_t n);
/* x is (R,C): softmax over each row */
void nn_softmax(int threads, float *x, size_t R, int C);

/* ---- tensors of any rank (up to NN_MAX_RANK), for graphs read from model files -------- */

#define NN_MAX_RANK 6

typedef enum nn_binary_op { NN_BINARY_ADD, NN_BINARY_SUB, NN_BINARY_MUL, NN_BINARY_DIV } nn_binary_op;

/* out = a op b with broadcasting: a is (as[0..rank)), b is (bs[...]), out is (os[...]) where
 * as[d] and bs[d] are each os[d] or 1 (shapes of lower rank are padded with leading 1s by
 * the caller). out may alias a or b when it has their shape. */
void nn_binary(int threads, nn_binary_op op, const float *a, const int *as, const float *b,
               const int *bs, const int *os, int rank, float *out);

typedef enum nn_unary_op { NN_UNARY_ABS, NN_UNARY_NEG, NN_UNARY_EXP } nn_unary_op;

/* out = op(in), n elements (out may alias in) */
void nn_unary(int threads, nn_unary_op op, const float *in, float *out, size_t n);

typedef enum nn_reduce_op { NN_REDUCE_SUM, NN_REDUCE_MAX, NN_REDUCE_MEAN } nn_reduce_op;

/* in is (shape[0..rank)); out has the same shape with 1 on each axis d whose bit
 * (1 << d) is set in axes: the sum, maximum or mean over those axes. */
void nn_reduce(nn_reduce_op op, const float *in, const int *shape, int rank, unsigned axes,
               float *out);

/* in is (shape[0..rank)); out is (shape[d] + pad[2d] + pad[2d+1] for each d): in placed
 * after pad[2d] zeros along each axis d, zeros elsewhere. */
void nn_pad(const float *in, const int *shape, int rank, const int *pad, float *out);

#endif
