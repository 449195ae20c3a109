/* train_internal.h: the parts of training over the library's internals (the nn runtime's
 * ops, the projection head's structure), used by tools/train and the tests; front ends use
 * train.h. See train.h for the conventions of the backward functions. */
#ifndef FR_TRAIN_INTERNAL_H
#define FR_TRAIN_INTERNAL_H

#include "train/train.h"

#include "common/common.h"
#include "face/head.h"
#include "nn/nn.h"

/* ---- backward passes -------------------------------------------------------------------- */

/* nn_dense: in is (N,Cin), w is (Cin,Cout), dout is (N,Cout); din is (N,Cin), dw (Cin,Cout)
 * and db (Cout) accumulate (each may be NULL). */
void train_dense_backward(const float *in, int N, int Cin, const float *w, int Cout,
                          const float *dout, float *din, float *dw, float *db);

/* An activation applied to x (P,C) (the values before it): dx = dout * act'(x). For PReLU,
 * dslope (C) accumulates the slopes' gradient (may be NULL). dx may alias dout. The
 * derivative at 0 (and at 6 for ReLU6) is taken from the side that TensorFlow takes: 0. */
void train_activation_backward(const float *x, size_t P, int C, nn_act act, const float *dout,
                               float *dx, float *dslope);

/* nn_l2_normalize: x is (N,C) before, y is (N,C) after it, dy is (N,C); dx is (N,C)
 * (dx = (dy - y (y . dy)) / |x|; zero rows get zero gradient). */
void train_l2_normalize_backward(const float *x, const float *y, const float *dy, int N, int C,
                                 float *dx);

/* nn_conv2d without its activation (apply train_activation_backward to the output first):
 * in is (N,H,W,Cin), dout is (N,OH,OW,Cout); din is (N,H,W,Cin); dweight (KH,KW,Cin,Cout) and
 * dbias (Cout) accumulate (each may be NULL). */
void train_conv2d_backward(const nn_conv *cv, const float *in, int N, int H, int W,
                           const float *dout, float *din, float *dweight, float *dbias);

/* nn_depthwise_conv2d without its activation: in is (N,H,W,C), dout is (N,OH,OW,C); din is
 * (N,H,W,C); dweight (KH,KW,C) and dbias (C) accumulate (each may be NULL). */
void train_depthwise_conv2d_backward(const nn_conv *cv, const float *in, int N, int H, int W,
                                     const float *dout, float *din, float *dweight,
                                     float *dbias);

/* nn_maxpool2d: in is (N,H,W,C), dout is (N,OH,OW,C); din is (N,H,W,C). Each output's
 * gradient goes to the first maximum of its window, as the forward picks it. */
void train_maxpool2d_backward(const float *in, int N, int H, int W, int C, int kh, int kw,
                              int stride_h, int stride_w, nn_padding pad, const float *dout,
                              float *din);

/* nn_avgpool2d: dout is (N,OH,OW,C); din is (N,H,W,C) (padded cells are not counted). */
void train_avgpool2d_backward(int N, int H, int W, int C, int kh, int kw, int stride_h,
                              int stride_w, nn_padding pad, const float *dout, float *din);

/* nn_add: out = a + b, n elements; da and db accumulate dout (either may be NULL). */
void train_add_backward(const float *dout, size_t n, float *da, float *db);

/* nn_concat_channels: dout is (P, sum Cs); dins[i] is (P,Cs[i]) (entries may be NULL). */
void train_concat_channels_backward(const float *dout, const int *Cs, int n_in, size_t P,
                                    float *const *dins);

/* nn_scale_shift (a folded batch norm): x is (P,C) before the op, dout is (P,C); dx is (P,C)
 * (may alias dout); dscale and dshift (C) accumulate (each may be NULL). */
void train_scale_shift_backward(const float *x, size_t P, int C, const float *scale,
                                const float *dout, float *dx, float *dscale, float *dshift);

/* ---- a TFLite graph trained whole (graph_full.c) ------------------------------------------ */

/* The graph of path (MobileFaceNet's file, or a model file fine-tuned from it), its
 * parameters as it runs them in *params (malloc'd, n_params). FR_E_UNSUPPORTED naming the
 * operator for a graph with an operator that has no backward pass here. */
fr_status train_graph_load(const char *path, train_graph **out, float **params,
                           size_t *n_params);
void train_graph_free(train_graph *t);
int train_graph_dim(const train_graph *t);
int train_graph_input_size(const train_graph *t); /* square inputs of this side */

/* One forward pass's input and outputs over up to `rows` images, and the backward pass's
 * memory (the activations of a few images per thread). */
typedef struct train_graph_pass train_graph_pass;
fr_status train_graph_pass_new(const train_graph *t, size_t n_params, int rows,
                               train_graph_pass **out);
void train_graph_pass_free(train_graph_pass *p);

/* x is (B,S,S,3), the network's input (S = train_graph_input_size); y (B,dim) receives the
 * unit embeddings (may be NULL). */
fr_status train_graph_forward(const train_graph *t, const float *params, int threads,
                              const float *x, int B, train_graph_pass *p, float *y);
/* The network's input of aligned crops (B,S,S,3), as inference makes it. */
fr_status train_graph_input(const train_graph *t, const fr_image *const *crops, int B, float *x);
fr_status train_graph_forward_crops(const train_graph *t, const float *params, int threads,
                                    const fr_image *const *crops, int B, train_graph_pass *p,
                                    float *y);
/* dy (B,dim) is the loss's gradient w.r.t. the last forward's y; grad (n_params)
 * accumulates. Chunks of a fixed size run in parallel, their gradients added in order: the
 * result does not depend on the number of threads. */
fr_status train_graph_backward(const train_graph *t, const float *params, int threads,
                               train_graph_pass *p, const float *dy, float *grad);
/* The model file: the base file's constants that params replace (see nets/tflite_nets.h). */
fr_status train_graph_save(const train_graph *t, const float *params, const char *id,
                           const char *path);
/* Where node i's weights (part 'w'), bias ('b') or PReLU slopes ('s') lie in the
 * parameters: [*off, *off + *n), n 0 for none. */
void train_graph_param_range(const train_graph *t, int i, char part, size_t *off, size_t *n);
/* train_full_fit for f->graph. */
fr_status train_graph_fit(train_full *f, const train_crops *train, const train_crops *val,
                          const train_config *cfg, train_epoch_fn fn, void *user,
                          train_epoch_stats *history, int *best_epoch);

/* ---- the head's training pass ------------------------------------------------------------ */

/* A forward pass's values (embed_head_forward(h, in, B, pass->forward) fills them; the
 * outputs are pass->forward->y) and the backward pass's scratch. */
typedef struct train_head_pass {
    embed_head_pass *forward;
    float *dz, *dhidden; /* (B,D), (B,H) */
} train_head_pass;

fr_status train_head_pass_new(const embed_head *h, int rows, train_head_pass **out);
void train_head_pass_free(train_head_pass *p);

/* dy is (B,dim), the loss's gradient w.r.t. the last forward's outputs; grad (h->n_params)
 * accumulates. */
void train_head_backward(const embed_head *h, train_head_pass *pass, int B, const float *dy,
                         float *grad);

#endif
