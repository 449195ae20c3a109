/* conv_chain.c: running a chain of convolutions and max pools through two buffers. */
#include "nets/conv_chain.h"

static const nn_padding same_padding = {NN_PAD_SAME, 0, 0, 0, 0};

static void layer_shape(const conv_chain_layer *l, int *H, int *W, int *C, size_t *max_floats) {
    int OH, OW, pad;
    nn_out_size(*H, l->conv.kh, l->conv.stride_h, l->conv.pad, 0, &OH, &pad);
    nn_out_size(*W, l->conv.kw, l->conv.stride_w, l->conv.pad, 1, &OW, &pad);
    *H = OH, *W = OW, *C = l->conv.cout;
    size_t n = (size_t)OH * (size_t)OW * (size_t)*C;
    if (n > *max_floats) *max_floats = n;
    if (l->pool_stride > 0) {
        nn_out_size(OH, 2, l->pool_stride, same_padding, 0, H, &pad);
        nn_out_size(OW, 2, l->pool_stride, same_padding, 1, W, &pad);
    }
}

void conv_chain_shape(const conv_chain_layer *layers, int n, int *H, int *W, int *C,
                      size_t *max_floats) {
    for (int i = 0; i < n; i++) layer_shape(&layers[i], H, W, C, max_floats);
}

float *conv_chain_run(const conv_chain_layer *layers, int threads, int n, const float *in, int *H,
                      int *W, int *C, float *buf_a, float *buf_b, nn_arena *scratch) {
    const float *cur = in;
    float *out = buf_a;
    for (int i = 0; i < n; i++) {
        const conv_chain_layer *l = &layers[i];
        int OH, OW;
        out = cur == buf_a ? buf_b : buf_a;
        if (l->depthwise)
            nn_depthwise_conv2d(threads, &l->conv, cur, 1, *H, *W, out, &OH, &OW);
        else
            nn_conv2d(threads, &l->conv, cur, 1, *H, *W, out, &OH, &OW, scratch);
        *H = OH, *W = OW, *C = l->conv.cout;
        cur = out;
        if (l->pool_stride > 0) {
            out = cur == buf_a ? buf_b : buf_a;
            nn_maxpool2d(threads, cur, 1, *H, *W, *C, 2, 2, l->pool_stride, l->pool_stride,
                         same_padding, out, &OH, &OW);
            *H = OH, *W = OW;
            cur = out;
        }
    }
    return out;
}
