/* landmark68.c: face-api.js's 68-point landmark nets (face_landmark_68_model and its tiny
 * variant), on the nn runtime.
 *
 * Input: each face's box cut from the image (faceapi_clip_box), padded to a centred square,
 * resized to 112x112, mean RGB subtracted and divided by 255.
 * Network: dense blocks, each halving the resolution:
 *   out1 = relu(conv0(x))  (stride 2: a 3x3 conv in the first block, else separable)
 *   out2 = sep(out1); out3 = sep(relu(out1 + out2)); out4 = sep(relu(out1 + (out2 + out3)))
 *   block = relu(out1 + (out2 + (out3 + out4)))     (3 convs and 3 terms in the tiny net)
 * where sep is a 3x3 depthwise conv, a 1x1 conv and a bias, all with TF SAME padding. The full
 * net has 4 blocks (3->32->64->128->256, 112->7), the tiny one 3 (3->32->64->128, 112->14);
 * then an average pool over the whole map and a dense layer to 136 = 68 (x, y) pairs, in
 * units of the 112x112 input.
 * Output: the pairs are mapped back through the padding and scale to the crop, then shifted
 * by the face box's top-left corner (face-api shifts by the unclipped box).
 */
#include "common/common.h"
#include "nets/faceapi_input.h"
#include "nets/faceapi_nets.h"
#include "nn/import/tfjs.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_SIZE 112
#define MAX_BLOCKS 4
#define MAX_CONVS 4
#define N_OUT 136
/* activations of one face through the full net, about 0.8M floats */
#define ARENA_FLOATS_PER_FACE 900000
/* Faces run through the network at once (a bound on the memory its arenas keep); larger
 * calls run in batches of this many. */
#define MAX_BATCH 16

typedef struct separable_conv {
    nn_conv depthwise; /* 3x3, no bias */
    nn_conv pointwise; /* 1x1 with the bias */
} separable_conv;

typedef struct dense_block {
    int cin, cout;
    int plain_first;               /* block 0: conv0 is a plain 3x3 conv (first), not sep[0] */
    nn_conv first;
    separable_conv sep[MAX_CONVS]; /* sep[0] has stride 2 */
} dense_block;

struct landmark68 {
    nn_weights *weights; /* owns every parameter below */
    int n_blocks, n_convs; /* 4 and 4, or 3 and 3 for the tiny net */
    dense_block blocks[MAX_BLOCKS];
    const float *fc_w, *fc_b; /* (C,136), (136); C the last block's channels */
    nn_arena_pool *arenas;    /* kept between calls */
};

/* A k x k convolution with TF SAME padding (depthwise when weight is (k,k,cin)). */
static nn_conv same_conv(int k, int cin, int cout, int stride, const float *weight,
                         const float *bias, nn_act_kind act) {
    nn_conv cv = {.kh = k, .kw = k, .cin = cin, .cout = cout, .stride_h = stride,
                  .stride_w = stride, .pad = {.mode = NN_PAD_SAME}, .weight = weight,
                  .bias = bias, .act = {.kind = act}};
    return cv;
}

static fr_status load_separable(const nn_weights *w, const char *prefix, int cin, int cout,
                                int stride, nn_act_kind act, separable_conv *sep) {
    char name[64];
    float *dw, *pw, *bias;
    fr_status st;
    snprintf(name, sizeof name, "%s/depthwise_filter", prefix);
    if ((st = nn_weights_get(w, name, 4, (const int[]){3, 3, cin, 1}, &dw)) != FR_OK) return st;
    snprintf(name, sizeof name, "%s/pointwise_filter", prefix);
    if ((st = nn_weights_get(w, name, 4, (const int[]){1, 1, cin, cout}, &pw)) != FR_OK) return st;
    snprintf(name, sizeof name, "%s/bias", prefix);
    if ((st = nn_weights_get(w, name, 1, (const int[]){cout}, &bias)) != FR_OK) return st;
    sep->depthwise = same_conv(3, cin, cin, stride, dw, NULL, NN_ACT_NONE);
    sep->pointwise = same_conv(1, cin, cout, 1, pw, bias, act);
    return FR_OK;
}

static fr_status load_params(landmark68 *net) {
    const nn_weights *w = net->weights;
    char prefix[32], name[64];
    fr_status st;
    for (int b = 0; b < net->n_blocks; b++) {
        dense_block *blk = &net->blocks[b];
        blk->cin = b == 0 ? 3 : 16 << b;
        blk->cout = 32 << b;
        for (int i = 0; i < net->n_convs; i++) {
            snprintf(prefix, sizeof prefix, "dense%d/conv%d", b, i);
            if (b == 0 && i == 0) {
                float *filters, *bias;
                snprintf(name, sizeof name, "%s/filters", prefix);
                st = nn_weights_get(w, name, 4, (const int[]){3, 3, 3, 32}, &filters);
                if (st != FR_OK) return st;
                snprintf(name, sizeof name, "%s/bias", prefix);
                if ((st = nn_weights_get(w, name, 1, (const int[]){32}, &bias)) != FR_OK) return st;
                blk->first = same_conv(3, 3, 32, 2, filters, bias, NN_ACT_RELU);
                blk->plain_first = 1;
                continue;
            }
            /* conv0 (stride 2) is followed by a relu in every block */
            st = load_separable(w, prefix, i == 0 ? blk->cin : blk->cout, blk->cout,
                                i == 0 ? 2 : 1, i == 0 ? NN_ACT_RELU : NN_ACT_NONE, &blk->sep[i]);
            if (st != FR_OK) return st;
        }
    }
    int c = net->blocks[net->n_blocks - 1].cout;
    float *fc_w, *fc_b;
    if ((st = nn_weights_get(w, "fc/weights", 2, (const int[]){c, N_OUT}, &fc_w)) != FR_OK)
        return st;
    if ((st = nn_weights_get(w, "fc/bias", 1, (const int[]){N_OUT}, &fc_b)) != FR_OK) return st;
    net->fc_w = fc_w;
    net->fc_b = fc_b;
    return FR_OK;
}

fr_status landmark68_load(const char *manifest_path, int tiny, landmark68 **out) {
    if (!manifest_path || !out) return fr_error(FR_E_ARG, "landmark68_load: NULL argument");
    *out = NULL;
    landmark68 *net = calloc(1, sizeof *net);
    if (!net) return fr_error(FR_E_NOMEM, "%s: no memory for the landmark net", manifest_path);
    net->n_blocks = net->n_convs = tiny ? 3 : 4;
    fr_status st = nn_tfjs_load(manifest_path, &net->weights);
    if (st == FR_OK) st = load_params(net);
    if (st == FR_OK && !(net->arenas = nn_arena_pool_new(FACEAPI_ARENAS_KEPT)))
        st = fr_error(FR_E_NOMEM, "%s: no memory for the landmark net", manifest_path);
    if (st != FR_OK) {
        landmark68_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

void landmark68_free(landmark68 *net) {
    if (!net) return;
    if (net->weights) nn_weights_free(net->weights);
    nn_arena_pool_free(net->arenas);
    free(net);
}

/* in is (N,H,W,Cin), out is (N,OH,OW,Cout): one separable conv, through tmp (N,OH,OW,Cin) */
static void separable_forward(const separable_conv *sep, int threads, const float *in, int N, int H,
                              int W, float *tmp, float *out, int *OH, int *OW, nn_arena *scratch) {
    nn_depthwise_conv2d(threads, &sep->depthwise, in, N, H, W, tmp, OH, OW);
    nn_conv2d(threads, &sep->pointwise, tmp, N, *OH, *OW, out, OH, OW, scratch);
}

/* in is (N,H,W,Cin), out is (N,H/2,W/2,Cout) (rounded up), allocated from a before the
 * temporaries, which are released again. */
static fr_status dense_block_forward(const dense_block *blk, int threads, int n_convs,
                                     const float *in, int N, int H, int W, nn_arena *a, float **out,
                                     int *OH, int *OW) {
    int oh = (H + 1) / 2, ow = (W + 1) / 2;
    size_t n_out = (size_t)N * oh * ow * blk->cout;
    float *result = nn_arena_alloc(a, n_out);
    size_t mark = nn_arena_mark(a);
    /* tmp holds a depthwise output, (N,oh,ow,cin) or (N,oh,ow,cout), and cout >= cin */
    float *terms[MAX_CONVS], *tmp = nn_arena_alloc(a, n_out);
    int ok = result && tmp;
    for (int i = 0; i < n_convs; i++) ok = ok && (terms[i] = nn_arena_alloc(a, n_out));
    if (!ok) return fr_error(FR_E_NOMEM, "no memory for the landmark net's activations");

    /* terms[i] is the output of conv i. The input of conv i > 1 is the relu'd sum of the
     * terms before it, built in result (free until the block's end), summed right to left as
     * face-api's nested adds do; conv 1 takes terms[0], which is relu'd already. */
    if (blk->plain_first)
        nn_conv2d(threads, &blk->first, in, N, H, W, terms[0], OH, OW, a);
    else
        separable_forward(&blk->sep[0], threads, in, N, H, W, tmp, terms[0], OH, OW, a);
    size_t P = (size_t)N * oh * ow;
    for (int i = 1; i < n_convs; i++) {
        separable_forward(&blk->sep[i], threads, i == 1 ? terms[0] : result, N, oh, ow, tmp,
                          terms[i], OH, OW, a);
        nn_add(threads, terms[i - 1], terms[i], result, n_out);
        for (int j = i - 2; j >= 0; j--) nn_add(threads, terms[j], result, result, n_out);
        nn_activate(threads, result, P, blk->cout, (nn_act){.kind = NN_ACT_RELU});
    }
    nn_arena_reset(a, mark);
    *out = result;
    return FR_OK;
}

/* faces[0..n), cut from img as crops[0..n), through the network as one batch
 * (n <= MAX_BATCH), in arena a. */
static fr_status landmarks_batch(const landmark68 *net, int threads, const fr_image *img,
                                 const faceapi_rect *crops, fr_face *faces, int n, nn_arena *a) {
    const size_t per_face = (size_t)INPUT_SIZE * INPUT_SIZE;
    float *x = nn_arena_alloc(a, (size_t)n * per_face * 3);
    if (!x) return fr_error(FR_E_NOMEM, "no memory for %d landmark inputs", n);
    for (int i = 0; i < n; i++)
        faceapi_to_square(img, threads, crops[i], INPUT_SIZE, 1, x + (size_t)i * per_face * 3);
    faceapi_normalize(x, (size_t)n * per_face);

    int H = INPUT_SIZE, W = INPUT_SIZE;
    fr_status st = FR_OK;
    for (int b = 0; b < net->n_blocks && st == FR_OK; b++)
        st = dense_block_forward(&net->blocks[b], threads, net->n_convs, x, n, H, W, a, &x, &H, &W);
    if (st != FR_OK) return st;

    int C = net->blocks[net->n_blocks - 1].cout;
    float *pooled = nn_arena_alloc(a, (size_t)n * C);
    float *pts = nn_arena_alloc(a, (size_t)n * N_OUT);
    if (!pooled || !pts) return fr_error(FR_E_NOMEM, "no memory for the landmark net's outputs");
    /* face-api pools with a window the size of the map (7 or 14), stride 2, valid */
    int ph, pw;
    nn_avgpool2d(threads, x, n, H, W, C, H, W, 2, 2, (nn_padding){.mode = NN_PAD_VALID}, pooled,
                 &ph, &pw);
    nn_dense(threads, pooled, n, C, net->fc_w, net->fc_b, N_OUT, pts);
    for (int i = 0; i < n; i++) {
        /* postProcess: out * 112 minus the padding, over the crop's size scaled to 112,
         * gives positions relative to the crop (float32, as in tfjs) */
        double w = crops[i].w, h = crops[i].h, scale = INPUT_SIZE / FR_MAX(w, h);
        double sw_d = w * scale, sh_d = h * scale;
        float sw = (float)sw_d, sh = (float)sh_d;
        float pad_x = (float)(sw_d < sh_d ? (sh_d - sw_d) / 2 : 0.0);
        float pad_y = (float)(sh_d < sw_d ? (sw_d - sh_d) / 2 : 0.0);
        fr_face *f = &faces[i];
        for (int k = 0; k < 68; k++) {
            float rx = (pts[i * N_OUT + 2 * k] * INPUT_SIZE - pad_x) / sw;
            float ry = (pts[i * N_OUT + 2 * k + 1] * INPUT_SIZE - pad_y) / sh;
            f->landmarks[k][0] = (float)(rx * w + f->x);
            f->landmarks[k][1] = (float)(ry * h + f->y);
        }
        f->n_landmarks = 68;
    }
    return FR_OK;
}

fr_status landmark68_run(const landmark68 *net, int threads, const fr_image *img, fr_face *faces,
                         int n_faces) {
    if (!net || !img || (!faces && n_faces > 0) || n_faces < 0)
        return fr_error(FR_E_ARG, "landmark68_run: invalid argument");
    if (n_faces == 0) return FR_OK;

    int batch = FR_MIN(n_faces, MAX_BATCH);
    nn_arena *a = nn_arena_pool_take(net->arenas,
                                     (size_t)batch * ARENA_FLOATS_PER_FACE * sizeof(float) +
                                         (size_t)n_faces * sizeof(faceapi_rect) + 64);
    faceapi_rect *crops = a ? nn_arena_alloc_items(a, (size_t)n_faces, sizeof *crops) : NULL;
    fr_status st = crops ? FR_OK : fr_error(FR_E_NOMEM, "no memory for %d faces' landmarks", n_faces);
    for (int i = 0; i < n_faces && st == FR_OK; i++) {
        const fr_face *f = &faces[i];
        if (!faceapi_clip_box(f->x, f->y, f->w, f->h, img->width, img->height, &crops[i]))
            st = fr_error(FR_E_ARG, "landmarks: face %d's box (%g, %g, %g, %g) lies outside "
                          "the %dx%d image", i, f->x, f->y, f->w, f->h, img->width, img->height);
    }
    size_t mark = a ? nn_arena_mark(a) : 0;
    for (int i = 0; i < n_faces && st == FR_OK; i += batch) {
        st =
            landmarks_batch(net, threads, img, crops + i, faces + i, FR_MIN(batch, n_faces - i), a);
        nn_arena_reset(a, mark);
    }
    nn_arena_pool_give(net->arenas, a);
    return st;
}
