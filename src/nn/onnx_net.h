/* onnx_net.h: an evaluator of small ONNX convolutional networks (nn/import/onnx.h), over the
 * ops of nn.h.
 *
 * Loading plans the whole network for the input shape stored in the file (a symbolic batch
 * dimension becomes 1): every value's shape is known at load, so the Shape, Gather,
 * Unsqueeze, Concat and Constant nodes that compute a Reshape's target are evaluated then,
 * into constants, and only the nodes that touch activations remain to run. Supported:
 *
 *   Conv (dilation 1, explicit pads; group 1, or depthwise: group = channels in = out),
 *   PRelu (one slope, or one per channel), Relu, Sigmoid, BatchNormalization (inference),
 *   Add and Mul of two activations (numpy broadcasting), GlobalAveragePool, MatMul and Gemm
 *   of an activation (N,K) and a constant matrix, Reshape, Flatten, Softmax (last axis),
 *   and, over constants only, Constant, Shape, Gather, Unsqueeze and Concat.
 *
 * Anything else (another operator or domain, an option outside the above) is
 * FR_E_UNSUPPORTED naming the node, its operator and the file; a graph that does not hold
 * together (a name used before it is made, shapes that do not agree) is FR_E_MODEL.
 *
 * Layout: activations of rank 4 are held NHWC like the rest of nn/ (ONNX's are NCHW; weights
 * are converted at load), others in ONNX's order. The input is written and the output read
 * in that layout. A loaded net is immutable: many threads may run it at once, each with its
 * own arena. */
#ifndef FR_NN_ONNX_NET_H
#define FR_NN_ONNX_NET_H

#include "facerec.h"
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

typedef struct onnx_net onnx_net;

fr_status onnx_net_load(const char *path, onnx_net **out);
/* The same from a file image of `size` bytes (not kept); `name` is used in messages. */
fr_status onnx_net_load_buffer(const uint8_t *data, size_t size, const char *name,
                               onnx_net **out);
void onnx_net_free(onnx_net *net);

/* The shape of the input and of output 0 in ONNX's order (NCHW for rank 4). */
void onnx_net_input_shape(const onnx_net *net, int *rank, int shape[NN_MAX_RANK]);
void onnx_net_output_shape(const onnx_net *net, int *rank, int shape[NN_MAX_RANK]);

/* Floats of arena memory one run takes (for sizing the arena). */
size_t onnx_net_arena_floats(const onnx_net *net);

/* The number of nodes run, and the operator of node i ("Conv", "Conv(depthwise)", ...). */
int onnx_net_n_ops(const onnx_net *net);
const char *onnx_net_op_name(const onnx_net *net, int i);

/* Run on `in` (the input, NHWC when of rank 4) and write output 0 to `out` (as many floats
 * as its shape holds, NHWC when of rank 4). Memory comes from `arena` and is given back
 * before returning; FR_E_NOMEM when the arena cannot provide it. */
fr_status onnx_net_run(const onnx_net *net, int threads, const float *in, float *out,
                       nn_arena *arena);

#endif
