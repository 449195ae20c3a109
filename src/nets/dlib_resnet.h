/* dlib_resnet.h: the dlib ResNet's parameters and forward pass, for code that trains it
 * (tools/train/full.c). Inference goes through faceapi_nets.h (dlib_resnet_load / _embed).
 *
 * Parameters: one array of floats, the convolutions' folded weights and biases (see
 * dlib_resnet.c) then the final matrix, in this order:
 *   convs[0]                  the 7x7/2 input conv, weight (7,7,3,32) then bias (32)
 *   convs[1 + 2i], [2 + 2i]   residual block i's conv1 and conv2 (0 <= i < 14), each
 *                             weight (3,3,Cin,Cout) then bias (Cout)
 *   fc                        (256,128)
 *
 * Model file: dlib_resnet_save writes the array as a facerec model file
 * (nn/import/frmodel.h) that dlib_resnet_load reads, with tensors named after face-api's
 * layers ("conv32_down/filters", "conv64_down/conv1/bias", ..., "fc"). Its model id is
 * "dlib-resnet" (the stock parameters, giving face-api's descriptors) or
 * "dlib-resnet+<suffix>" (a fine-tuned network, e.g. by `facerec train --full`). */
#ifndef FR_NETS_DLIB_RESNET_H
#define FR_NETS_DLIB_RESNET_H

#include "nets/faceapi_nets.h"
#include "nn/nn.h"

#define DLIB_RESNET_MODEL_ID "dlib-resnet"
#define DLIB_RESNET_INPUT 150 /* the input size of face-api's preprocessing */
#define DLIB_RESNET_DIM 128
#define DLIB_RESNET_FEATURES 256 /* channels of the last block, rows of fc */
#define DLIB_RESNET_BLOCKS 14
#define DLIB_RESNET_CONVS (1 + 2 * DLIB_RESNET_BLOCKS)

/* Views into a parameter array (the layout above). */
typedef struct dlib_resnet_params {
    nn_conv convs[DLIB_RESNET_CONVS]; /* weight and bias point into the array */
    int down[DLIB_RESNET_BLOCKS];     /* whether block i is a down block */
    const float *fc;                  /* (256,128) */
} dlib_resnet_params;

/* The number of floats of the parameter array. */
size_t dlib_resnet_param_count(void);
/* The views into params (dlib_resnet_param_count() floats). */
void dlib_resnet_params_view(const float *params, dlib_resnet_params *view);
/* The loaded network's parameter array (read-only). */
const float *dlib_resnet_param_data(const dlib_resnet *net);

/* Write params as a model file with model id `model_id` ("dlib-resnet" or "dlib-resnet+..."). */
fr_status dlib_resnet_save(const float *params, const char *model_id, const char *path);

/* crops[i] (any size) as the network's input: x is (n,150,150,3), each crop padded to a
 * centred square, resized and normalised as face-api does. */
void dlib_resnet_input(const fr_image *const *crops, int threads, int n, float *x);

/* What a forward pass keeps for a backward pass: pointers into its arena, each (N,...) with
 * the batch outermost. Activations are kept after their ReLU (which tells the ReLU's
 * derivative as well as the value before it would). */
typedef struct dlib_resnet_block_trace {
    const float *in;  /* (N,H,W,Cin) the block's input */
    const float *mid; /* (N,CH,CW,Cout) after conv1 and its ReLU */
    const float *out; /* (N,OH,OW,Cout) the block's output */
    int H, W, CH, CW, OH, OW; /* a down block's convs give CH x CW <= OH x OW (padded) */
} dlib_resnet_block_trace;

typedef struct dlib_resnet_trace {
    int N, size;
    const float *input;  /* (N,size,size,3) */
    const float *conv;   /* (N,CH,CW,32) after the input conv and its ReLU */
    int CH, CW;
    const float *pooled; /* (N,PH,PW,32) after the max pool */
    int PH, PW;
    dlib_resnet_block_trace blocks[DLIB_RESNET_BLOCKS];
    const float *features; /* (N,256) the spatial mean of the last block's output */
} dlib_resnet_trace;

/* x is (N,size,size,3) normalised input (dlib_resnet_input for size 150; any size from
 * DLIB_RESNET_MIN_INPUT works), out is (N,128), face-api's descriptors (not normalised).
 * Activations and scratch come from arena a; with trace (may be NULL) the activations stay
 * there after the call and trace points at them, else a is left as it was. */
#define DLIB_RESNET_MIN_INPUT 103
fr_status dlib_resnet_forward(const dlib_resnet_params *p, int threads, const float *x, int N,
                              int size, nn_arena *a, dlib_resnet_trace *trace, float *out);

/* crops[0..n) (any sizes) through the network with parameters p, in batches, in arena a of
 * dlib_resnet_arena_bytes(n) bytes or more (left empty): out is (n,128), face-api's
 * descriptors (not normalised). */
fr_status dlib_resnet_run(const dlib_resnet_params *p, int threads, const fr_image *const *crops,
                          int n, nn_arena *a, float *out);
size_t dlib_resnet_arena_bytes(int n);

#endif
