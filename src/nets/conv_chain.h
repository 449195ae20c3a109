/* conv_chain.h: a chain of convolutions (plain or depthwise), each optionally followed by a
 * 2x2 max pool, run through two ping-pong buffers. The detectors' backbones are such chains. */
#ifndef FR_NETS_CONV_CHAIN_H
#define FR_NETS_CONV_CHAIN_H

#include "nn/nn.h"

#include <stddef.h>

/* Arena room to plan for the im2col scratch of a chain's 3x3 convs (a tile of rows per
 * thread; more only chains another block). */
#define CONV_CHAIN_SCRATCH_FLOATS ((size_t)1 << 20)

typedef struct conv_chain_layer {
    nn_conv conv;
    int depthwise;   /* nn_depthwise_conv2d instead of nn_conv2d */
    int pool_stride; /* > 0: followed by a 2x2 TF-SAME max pool with this stride */
} conv_chain_layer;

/* The shape (*H,*W,*C) after layers[0..n) on an (*H,*W,*C) input, and in *max_floats the
 * largest of *max_floats and every intermediate activation (floats, batch 1). */
void conv_chain_shape(const conv_chain_layer *layers, int n, int *H, int *W, int *C,
                      size_t *max_floats);

/* in is (1,*H,*W,*C). Runs layers[0..n) (n >= 1); every op writes into whichever of buf_a and buf_b
 * does not hold its input (in may be one of them), each big enough for the largest
 * activation (conv_chain_shape). Returns the output, (1,*H,*W,*C) after the call. */
float *conv_chain_run(const conv_chain_layer *layers, int threads, int n, const float *in, int *H,
                      int *W, int *C, float *buf_a, float *buf_b, nn_arena *scratch);

#endif
