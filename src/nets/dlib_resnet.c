/* dlib_resnet.c: dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1) as
 * face-api.js ships it (face_recognition_model), on the nn runtime.
 *
 * Input: each crop padded to a centred square, resized to 150x150, mean RGB subtracted and
 * divided by 255 (faceapi_input.h).
 * Network (every conv is conv + bias followed by a per-channel scale layer, x * s + t, which
 * is folded into the conv's weights and bias at load):
 *   7x7/2 conv, 32, valid, relu             150 -> 72
 *   3x3/2 max pool, valid                   72 -> 35
 *   3 residual blocks, 32                   35
 *   down block + 3 residual blocks, 64      17
 *   down block + 2 residual blocks, 128     8
 *   down block + 2 residual blocks, 256     4 (the convs give 3, see below)
 *   down block, 256                         2 (the convs give 1)
 *   mean over H and W, then a 256x128 matrix (no bias).
 * A residual block is relu(conv2(relu(conv1(x))) + x), 3x3 SAME convs. A down block has a
 * 3x3/2 valid conv1 and adds a 2x2/2 average pool of x, its channels padded with zeros;
 * where the pool is one pixel larger than the convs' output, face-api pads that output with
 * a row of zeros at the bottom and a column at the right.
 * Output: the 128-d descriptor as face-api computes it (not normalised).
 */
#include "common/common.h"
#include "nets/faceapi_input.h"
#include "nets/faceapi_nets.h"
#include "nn/import/tfjs.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_SIZE 150
#define DESCRIPTOR_DIM 128
#define N_RESIDUAL 14
/* activations and im2col scratch of one face, about 1.4M floats */
#define ARENA_FLOATS_PER_FACE 1600000
/* Faces run through the network at once: enough for efficient GEMMs, and a bound on the
 * memory the network's arenas keep. Larger calls run in batches of this many. */
#define MAX_BATCH 16

static const struct residual_spec {
    const char *name;
    int cin, cout, down;
} residual_specs[N_RESIDUAL] = {
    {"conv32_1", 32, 32, 0},      {"conv32_2", 32, 32, 0},      {"conv32_3", 32, 32, 0},
    {"conv64_down", 32, 64, 1},   {"conv64_1", 64, 64, 0},      {"conv64_2", 64, 64, 0},
    {"conv64_3", 64, 64, 0},      {"conv128_down", 64, 128, 1}, {"conv128_1", 128, 128, 0},
    {"conv128_2", 128, 128, 0},   {"conv256_down", 128, 256, 1}, {"conv256_1", 256, 256, 0},
    {"conv256_2", 256, 256, 0},   {"conv256_down_out", 256, 256, 1},
};

typedef struct residual_block {
    int cin, cout, down;
    nn_conv conv1, conv2;
} residual_block;

struct dlib_resnet {
    nn_weights *weights; /* owns every parameter below */
    nn_conv conv_in;     /* conv32_down */
    residual_block blocks[N_RESIDUAL];
    const float *fc; /* (256,128) */
    nn_arena_pool *arenas; /* kept between calls */
};

/* Load `prefix`/conv/{filters,bias} and `prefix`/scale/{weights,biases}, and fold the scale
 * into the conv: w' = w * s (per output channel), b' = b * s + t. */
static fr_status load_conv(const nn_weights *w, const char *prefix, int k, int cin, int cout,
                           int stride, nn_pad_mode pad, nn_act_kind act, nn_conv *cv) {
    char name[96];
    float *filters, *bias, *scale, *shift;
    fr_status st;
    snprintf(name, sizeof name, "%s/conv/filters", prefix);
    if ((st = nn_weights_get(w, name, 4, (const int[]){k, k, cin, cout}, &filters)) != FR_OK)
        return st;
    snprintf(name, sizeof name, "%s/conv/bias", prefix);
    if ((st = nn_weights_get(w, name, 1, (const int[]){cout}, &bias)) != FR_OK) return st;
    snprintf(name, sizeof name, "%s/scale/weights", prefix);
    if ((st = nn_weights_get(w, name, 1, (const int[]){cout}, &scale)) != FR_OK) return st;
    snprintf(name, sizeof name, "%s/scale/biases", prefix);
    if ((st = nn_weights_get(w, name, 1, (const int[]){cout}, &shift)) != FR_OK) return st;
    nn_scale_shift(filters, (size_t)k * k * cin, cout, scale, NULL);
    nn_scale_shift(bias, 1, cout, scale, shift);
    *cv = (nn_conv){.kh = k, .kw = k, .cin = cin, .cout = cout, .stride_h = stride,
                    .stride_w = stride, .pad = {.mode = pad}, .weight = filters, .bias = bias,
                    .act = {.kind = act}};
    return FR_OK;
}

static fr_status load_params(dlib_resnet *net) {
    const nn_weights *w = net->weights;
    fr_status st = load_conv(w, "conv32_down", 7, 3, 32, 2, NN_PAD_VALID, NN_ACT_RELU,
                             &net->conv_in);
    for (int i = 0; i < N_RESIDUAL && st == FR_OK; i++) {
        const struct residual_spec *spec = &residual_specs[i];
        residual_block *blk = &net->blocks[i];
        char prefix[64];
        blk->cin = spec->cin;
        blk->cout = spec->cout;
        blk->down = spec->down;
        snprintf(prefix, sizeof prefix, "%s/conv1", spec->name);
        st = load_conv(w, prefix, 3, spec->cin, spec->cout, spec->down ? 2 : 1,
                       spec->down ? NN_PAD_VALID : NN_PAD_SAME, NN_ACT_RELU, &blk->conv1);
        snprintf(prefix, sizeof prefix, "%s/conv2", spec->name);
        if (st == FR_OK)
            st = load_conv(w, prefix, 3, spec->cout, spec->cout, 1, NN_PAD_SAME, NN_ACT_NONE,
                           &blk->conv2);
    }
    float *fc;
    if (st == FR_OK) st = nn_weights_get(w, "fc", 2, (const int[]){256, DESCRIPTOR_DIM}, &fc);
    if (st == FR_OK) net->fc = fc;
    return st;
}

fr_status dlib_resnet_load(const char *manifest_path, dlib_resnet **out) {
    if (!manifest_path || !out) return fr_error(FR_E_ARG, "dlib_resnet_load: NULL argument");
    *out = NULL;
    dlib_resnet *net = calloc(1, sizeof *net);
    if (!net) return fr_error(FR_E_NOMEM, "%s: no memory for the descriptor net", manifest_path);
    fr_status st = nn_tfjs_load(manifest_path, &net->weights);
    if (st == FR_OK) st = load_params(net);
    if (st == FR_OK && !(net->arenas = nn_arena_pool_new(FACEAPI_ARENAS_KEPT)))
        st = fr_error(FR_E_NOMEM, "%s: no memory for the descriptor net", manifest_path);
    if (st != FR_OK) {
        dlib_resnet_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

void dlib_resnet_free(dlib_resnet *net) {
    if (!net) return;
    if (net->weights) nn_weights_free(net->weights);
    nn_arena_pool_free(net->arenas);
    free(net);
}

/* src is (N,OH,OW,C), dst is (N,PH,PW,C) with PH >= OH, PW >= OW: dst[:, :OH, :OW] += src,
 * i.e. src padded with zeros at the bottom and right, added to dst. */
static void add_padded(const float *src, int N, int OH, int OW, int C, float *dst, int PH,
                       int PW) {
    for (int n = 0; n < N; n++)
        for (int y = 0; y < OH; y++) {
            const float *s = src + (((size_t)n * OH + y) * OW) * C;
            float *d = dst + (((size_t)n * PH + y) * PW) * C;
            nn_add(s, d, d, (size_t)OW * C);
        }
}

/* in is (N,H,W,Cin), *out is (N,OH,OW,Cout), allocated from a before the temporaries, which
 * are released again. */
static fr_status residual_forward(const residual_block *blk, const float *in, int N, int H,
                                  int W, nn_arena *a, float **out, int *OH, int *OW) {
    int ch, cw, ph = H, pw = W, pad_before; /* the convs' output size; the block's */
    nn_out_size(H, 3, blk->conv1.stride_h, blk->conv1.pad, 0, &ch, &pad_before);
    nn_out_size(W, 3, blk->conv1.stride_w, blk->conv1.pad, 1, &cw, &pad_before);
    if (blk->down) {
        ph = H / 2;
        pw = W / 2;
    }
    size_t n_conv = (size_t)N * ch * cw * blk->cout, n_out = (size_t)N * ph * pw * blk->cout;
    float *result = nn_arena_alloc(a, n_out);
    size_t mark = nn_arena_mark(a);
    float *t1 = nn_arena_alloc(a, n_conv), *t2 = nn_arena_alloc(a, n_conv);
    float *pooled = blk->down ? nn_arena_alloc(a, (size_t)N * ph * pw * blk->cin) : NULL;
    if (!result || !t1 || !t2 || (blk->down && !pooled))
        return fr_error(FR_E_NOMEM, "no memory for the descriptor net's activations");

    int h, w;
    nn_conv2d(&blk->conv1, in, N, H, W, t1, &h, &w, a);
    nn_conv2d(&blk->conv2, t1, N, h, w, t2, &h, &w, a);
    if (blk->down) {
        nn_avgpool2d(in, N, H, W, blk->cin, 2, 2, 2, 2, (nn_padding){.mode = NN_PAD_VALID},
                     pooled, &h, &w);
        nn_pad_channels(pooled, (size_t)N * ph * pw, blk->cin, blk->cout, result);
        add_padded(t2, N, ch, cw, blk->cout, result, ph, pw);
    } else {
        nn_add(t2, in, result, n_out);
    }
    nn_activate(result, (size_t)N * ph * pw, blk->cout, (nn_act){.kind = NN_ACT_RELU});
    nn_arena_reset(a, mark);
    *out = result;
    *OH = ph;
    *OW = pw;
    return FR_OK;
}

/* crops[0..n) through the network as one batch (n <= MAX_BATCH), in arena a. */
static fr_status embed_batch(const dlib_resnet *net, const fr_image *const *crops, int n,
                             float *out, nn_arena *a) {
    const size_t per_face = (size_t)INPUT_SIZE * INPUT_SIZE;
    float *x = nn_arena_alloc(a, (size_t)n * per_face * 3);
    if (!x) return fr_error(FR_E_NOMEM, "no memory for %d descriptor inputs", n);
    for (int i = 0; i < n; i++) {
        faceapi_rect whole = {0, 0, crops[i]->width, crops[i]->height};
        faceapi_to_square(crops[i], whole, INPUT_SIZE, 1, x + (size_t)i * per_face * 3);
    }
    faceapi_normalize(x, (size_t)n * per_face);

    int H, W, C = 32, pad_before;
    nn_out_size(INPUT_SIZE, 7, 2, net->conv_in.pad, 0, &H, &pad_before);
    float *conv = nn_arena_alloc(a, (size_t)n * H * H * C);
    nn_out_size(H, 3, 2, (nn_padding){.mode = NN_PAD_VALID}, 0, &H, &pad_before);
    float *pooled = nn_arena_alloc(a, (size_t)n * H * H * C);
    if (!conv || !pooled)
        return fr_error(FR_E_NOMEM, "no memory for the descriptor net's activations");
    nn_conv2d(&net->conv_in, x, n, INPUT_SIZE, INPUT_SIZE, conv, &H, &W, a);
    nn_maxpool2d(conv, n, H, W, C, 3, 3, 2, 2, (nn_padding){.mode = NN_PAD_VALID}, pooled, &H,
                 &W);
    x = pooled;
    fr_status st = FR_OK;
    for (int i = 0; i < N_RESIDUAL && st == FR_OK; i++) {
        st = residual_forward(&net->blocks[i], x, n, H, W, a, &x, &H, &W);
        C = net->blocks[i].cout;
    }
    if (st != FR_OK) return st;
    float *mean = nn_arena_alloc(a, (size_t)n * C);
    if (!mean) return fr_error(FR_E_NOMEM, "no memory for %d descriptors", n);
    nn_spatial_mean(x, n, H, W, C, mean);
    nn_dense(mean, n, C, net->fc, NULL, DESCRIPTOR_DIM, out);
    return FR_OK;
}

fr_status dlib_resnet_embed(const dlib_resnet *net, const fr_image *const *crops, int n,
                            float *out) {
    if (!net || n < 0 || (n > 0 && (!crops || !out)))
        return fr_error(FR_E_ARG, "dlib_resnet_embed: invalid argument");
    for (int i = 0; i < n; i++)
        if (!crops[i] || crops[i]->width <= 0 || crops[i]->height <= 0)
            return fr_error(FR_E_ARG, "dlib_resnet_embed: face crop %d is empty", i);
    if (n == 0) return FR_OK;

    int batch = FR_MIN(n, MAX_BATCH);
    nn_arena *a = nn_arena_pool_take(net->arenas,
                                     (size_t)batch * ARENA_FLOATS_PER_FACE * sizeof(float));
    if (!a) return fr_error(FR_E_NOMEM, "no memory for %d descriptors", n);
    fr_status st = FR_OK;
    for (int i = 0; i < n && st == FR_OK; i += batch) {
        st = embed_batch(net, crops + i, FR_MIN(batch, n - i), out + (size_t)i * DESCRIPTOR_DIM,
                         a);
        nn_arena_reset(a, 0);
    }
    nn_arena_pool_give(net->arenas, a);
    return st;
}
