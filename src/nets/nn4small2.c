/* nn4small2.c: FaceNet nn4.small2 as the deeplearning.ai / OpenFace Keras port defines it
 * (inception_blocks_v2.faceRecoModel with fr_utils.conv2d_bn), on the nn runtime.
 *
 * The Keras model is channels-first; here activations are NHWC and the channel order of
 * every concatenation is the Keras one, so the dense layer sees the same 736 values.
 * Every convolution is followed by batch norm and ReLU (folded into the conv at import).
 * Zero padding that Keras applies before a conv becomes the conv's explicit padding; zero
 * padding before a max pool (stem, after ReLU, so every value is >= 0) changes no maximum
 * and becomes the pool's padding; zero padding after a branch's ReLU is done explicitly.
 *
 *   stem   pad 3, 7x7/2 conv 64, pad 1, 3x3/2 max pool        96 -> 48 -> 24
 *          1x1 conv 64, pad 1, 3x3 conv 192, pad 1, 3x3/2 max  24 -> 12
 *   3a     3x3 (96,128), 5x5 (16,32), max pool + 1x1 32 padded (3,4), 1x1 64    12x12x256
 *   3b     3x3 (96,128), 5x5 (32,64), avg pool 3/3 + 1x1 64 padded 4, 1x1 64    12x12x320
 *   3c     3x3/2 (128,256), 5x5/2 (32,64), max pool padded (0,1)               6x6x640
 *   4a     3x3 (96,192), 5x5 (32,64), avg pool 3/3 + 1x1 128 padded 2, 1x1 256 6x6x640
 *   4e     3x3/2 (160,256), 5x5/2 (64,128), max pool padded (0,1)              3x3x1024
 *   5a     3x3 (96,384), avg pool 3/3 + 1x1 96 padded 1, 1x1 256               3x3x736
 *   5b     3x3 (96,384), max pool 3/2 + 1x1 96 padded 1, 1x1 256               3x3x736
 *   3x3 average pool, dense 736 -> 128, L2 normalisation.
 * "3x3 (a,b)" is a 1x1 conv to a channels then a 3x3 conv (zero padding 1) to b; "5x5" the
 * same with padding 2; pools without a stride given are 3x3/2; pooling is valid. */
#include "nets/original_nets.h"

#include "common/common.h"
#include "image/resize_u8.h"
#include "nn/import/frmodel.h"
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_STEM 3
#define N_BLOCKS 7
#define MAX_BRANCHES 4
#define N_CONVS 37
#define FEATURES 736
/* activations and im2col scratch of one face, about 0.9M floats at the peak */
#define ARENA_FLOATS_PER_FACE 1200000

enum { POOL_NONE, POOL_MAX, POOL_AVG };

typedef struct branch_spec {
    const char *name; /* layer prefix, e.g. "inception_3a_3x3" */
    int pool;         /* first, on the block input: 3x3/2 max or 3x3/3 average */
    int n_convs;      /* 0 (the pool alone), 1 (a 1x1 conv) or 2 (1x1, then k x k) */
    int mid, out;     /* channels of the first of two convs; of the branch output */
    int k, stride, pad;           /* the k x k conv and the zero padding before it */
    int pad_before, pad_after;    /* zero padding of the branch output (top/left, bottom/right) */
} branch_spec;

typedef struct block_spec {
    int cin, n_branches;
    branch_spec branches[MAX_BRANCHES]; /* in the Keras concatenation order */
} block_spec;

static const block_spec block_specs[N_BLOCKS] = {
    {192, 4, {{"inception_3a_3x3", POOL_NONE, 2, 96, 128, 3, 1, 1, 0, 0},
              {"inception_3a_5x5", POOL_NONE, 2, 16, 32, 5, 1, 2, 0, 0},
              {"inception_3a_pool", POOL_MAX, 1, 0, 32, 0, 0, 0, 3, 4},
              {"inception_3a_1x1", POOL_NONE, 1, 0, 64, 0, 0, 0, 0, 0}}},
    {256, 4, {{"inception_3b_3x3", POOL_NONE, 2, 96, 128, 3, 1, 1, 0, 0},
              {"inception_3b_5x5", POOL_NONE, 2, 32, 64, 5, 1, 2, 0, 0},
              {"inception_3b_pool", POOL_AVG, 1, 0, 64, 0, 0, 0, 4, 4},
              {"inception_3b_1x1", POOL_NONE, 1, 0, 64, 0, 0, 0, 0, 0}}},
    {320, 3, {{"inception_3c_3x3", POOL_NONE, 2, 128, 256, 3, 2, 1, 0, 0},
              {"inception_3c_5x5", POOL_NONE, 2, 32, 64, 5, 2, 2, 0, 0},
              {"inception_3c_pool", POOL_MAX, 0, 0, 320, 0, 0, 0, 0, 1}}},
    {640, 4, {{"inception_4a_3x3", POOL_NONE, 2, 96, 192, 3, 1, 1, 0, 0},
              {"inception_4a_5x5", POOL_NONE, 2, 32, 64, 5, 1, 2, 0, 0},
              {"inception_4a_pool", POOL_AVG, 1, 0, 128, 0, 0, 0, 2, 2},
              {"inception_4a_1x1", POOL_NONE, 1, 0, 256, 0, 0, 0, 0, 0}}},
    {640, 3, {{"inception_4e_3x3", POOL_NONE, 2, 160, 256, 3, 2, 1, 0, 0},
              {"inception_4e_5x5", POOL_NONE, 2, 64, 128, 5, 2, 2, 0, 0},
              {"inception_4e_pool", POOL_MAX, 0, 0, 640, 0, 0, 0, 0, 1}}},
    {1024, 3, {{"inception_5a_3x3", POOL_NONE, 2, 96, 384, 3, 1, 1, 0, 0},
               {"inception_5a_pool", POOL_AVG, 1, 0, 96, 0, 0, 0, 1, 1},
               {"inception_5a_1x1", POOL_NONE, 1, 0, 256, 0, 0, 0, 0, 0}}},
    {736, 3, {{"inception_5b_3x3", POOL_NONE, 2, 96, 384, 3, 1, 1, 0, 0},
              {"inception_5b_pool", POOL_MAX, 1, 0, 96, 0, 0, 0, 1, 1},
              {"inception_5b_1x1", POOL_NONE, 1, 0, 256, 0, 0, 0, 0, 0}}},
};

/* One convolution and the batch norm after it, as the CSV files and the model file name them. */
typedef struct conv_desc {
    char conv[48], bn[48];
    int out, in, k, stride, pad;
    float eps;
} conv_desc;

/* The 37 convolutions in a fixed order: the stem, then each block's branches. */
static void describe_convs(conv_desc d[N_CONVS]) {
    int n = 0;
    static const struct { const char *conv, *bn; int out, in, k, pad; float eps; } stem[N_STEM] = {
        {"conv1", "bn1", 64, 3, 7, 3, 1e-3f}, /* bn1 declares no epsilon: Keras's default */
        {"conv2", "bn2", 64, 64, 1, 0, 1e-5f},
        {"conv3", "bn3", 192, 64, 3, 1, 1e-5f},
    };
    for (int i = 0; i < N_STEM; i++, n++) {
        snprintf(d[n].conv, sizeof d[n].conv, "%s", stem[i].conv);
        snprintf(d[n].bn, sizeof d[n].bn, "%s", stem[i].bn);
        d[n].out = stem[i].out, d[n].in = stem[i].in, d[n].k = stem[i].k;
        d[n].stride = i == 0 ? 2 : 1, d[n].pad = stem[i].pad, d[n].eps = stem[i].eps;
    }
    for (int b = 0; b < N_BLOCKS; b++) {
        const block_spec *blk = &block_specs[b];
        for (int r = 0; r < blk->n_branches; r++) {
            const branch_spec *br = &blk->branches[r];
            if (br->n_convs == 0) continue;
            const char *suffix = br->n_convs == 2 ? "1" : "";
            snprintf(d[n].conv, sizeof d[n].conv, "%s_conv%s", br->name, suffix);
            snprintf(d[n].bn, sizeof d[n].bn, "%s_bn%s", br->name, suffix);
            d[n].out = br->n_convs == 2 ? br->mid : br->out, d[n].in = blk->cin, d[n].k = 1;
            d[n].stride = 1, d[n].pad = 0, d[n].eps = 1e-5f;
            n++;
            if (br->n_convs == 2) {
                snprintf(d[n].conv, sizeof d[n].conv, "%s_conv2", br->name);
                snprintf(d[n].bn, sizeof d[n].bn, "%s_bn2", br->name);
                d[n].out = br->out, d[n].in = br->mid, d[n].k = br->k;
                d[n].stride = br->stride, d[n].pad = br->pad, d[n].eps = 1e-5f;
                n++;
            }
        }
    }
}

fr_status nn4small2_keras_layers(keras_csv_layer **layers, int *n_layers) {
    if (!layers || !n_layers) return fr_error(FR_E_ARG, "nn4small2_keras_layers: NULL argument");
    /* the table and the names it points to, in one allocation */
    struct table {
        keras_csv_layer layers[2 * N_CONVS + 1];
        conv_desc convs[N_CONVS];
    } *t = malloc(sizeof *t);
    if (!t) return fr_error(FR_E_NOMEM, "out of memory for the nn4.small2 layer table");
    describe_convs(t->convs);
    int n = 0;
    for (int i = 0; i < N_CONVS; i++) {
        const conv_desc *c = &t->convs[i];
        t->layers[n++] = (keras_csv_layer){c->conv, NULL, KERAS_CONV, c->out, c->in, c->k, c->k};
        t->layers[n++] = (keras_csv_layer){c->bn, NULL, KERAS_BATCHNORM, c->out, 0, 0, 0};
    }
    t->layers[n++] = (keras_csv_layer){"dense_layer", "dense", KERAS_DENSE, NN4SMALL2_DIM,
                                       FEATURES, 0, 0};
    *layers = t->layers; /* the first member: free(*layers) frees the whole table */
    *n_layers = n;
    return FR_OK;
}

/* ---- import: CSV folder -> model file ---- */

/* Writes "layer/what" into name (size 96). */
static fr_status tensor_name(char name[96], const char *layer, const char *what) {
    int len = snprintf(name, 96, "%s/%s", layer, what);
    if (len < 0 || len >= 96) return fr_error(FR_E_ARG, "layer name '%s' is too long", layer);
    return FR_OK;
}

static fr_status get_vector(const nn_weights *w, const char *layer, const char *what, int n,
                            float **v) {
    char name[96];
    fr_status st = tensor_name(name, layer, what);
    return st == FR_OK ? nn_weights_get(w, name, 1, &n, v) : st;
}

fr_status nn4small2_import_keras_csv(const char *weights_dir, const char *out_path) {
    if (!weights_dir || !out_path)
        return fr_error(FR_E_ARG, "nn4small2_import_keras_csv: NULL argument");
    keras_csv_layer *layers;
    int n_layers;
    fr_status st = nn4small2_keras_layers(&layers, &n_layers);
    if (st != FR_OK) return st;
    nn_weights *w = NULL;
    st = nn_keras_csv_load(weights_dir, layers, n_layers, &w);
    free(layers);
    if (st != FR_OK) return st;

    conv_desc convs[N_CONVS];
    describe_convs(convs);
    nn_tensor_entry kept[2 * N_CONVS + 2];
    int n_kept = 0;
    for (int i = 0; i < N_CONVS && st == FR_OK; i++) {
        const conv_desc *c = &convs[i];
        char name[96];
        float *kernel, *bias, *gamma, *beta, *mean, *var;
        st = tensor_name(name, c->conv, "kernel");
        if (st == FR_OK)
            st = nn_weights_get(w, name, 4, (const int[]){c->k, c->k, c->in, c->out}, &kernel);
        if (st == FR_OK) st = get_vector(w, c->conv, "bias", c->out, &bias);
        if (st == FR_OK) st = get_vector(w, c->bn, "gamma", c->out, &gamma);
        if (st == FR_OK) st = get_vector(w, c->bn, "beta", c->out, &beta);
        if (st == FR_OK) st = get_vector(w, c->bn, "moving_mean", c->out, &mean);
        if (st == FR_OK) st = get_vector(w, c->bn, "moving_variance", c->out, &var);
        if (st == FR_OK) {
            nn_fold_batchnorm(kernel, (size_t)c->k * c->k * c->in, bias, c->out, gamma, beta,
                              mean, var, c->eps);
            kept[n_kept++] = *nn_weights_find(w, name);
            tensor_name(name, c->conv, "bias");
            kept[n_kept++] = *nn_weights_find(w, name);
        }
    }
    const char *dense[2] = {"dense_layer/kernel", "dense_layer/bias"};
    for (int i = 0; i < 2 && st == FR_OK; i++) {
        const nn_tensor_entry *t = nn_weights_find(w, dense[i]);
        if (!t) st = fr_error(FR_E_MODEL, "%s: tensor '%s' not found", weights_dir, dense[i]);
        else kept[n_kept++] = *t;
    }
    if (st == FR_OK) {
        frmodel_info info = {.input_h = NN4SMALL2_INPUT, .input_w = NN4SMALL2_INPUT,
                             .input_c = 3};
        snprintf(info.model_id, sizeof info.model_id, "%s", NN4SMALL2_MODEL_ID);
        snprintf(info.preprocessing, sizeof info.preprocessing, "%s", NN4SMALL2_PREPROCESSING);
        st = frmodel_write(out_path, &info, kept, n_kept);
    }
    nn_weights_free(w);
    return st;
}

/* ---- the network ---- */

typedef struct branch {
    const branch_spec *spec;
    nn_conv conv1, conv2; /* as many as spec->n_convs */
} branch;

struct nn4small2 {
    nn_weights *weights; /* owns every parameter below */
    nn_conv stem[N_STEM];
    branch branches[N_BLOCKS][MAX_BRANCHES];
    const float *dense_w, *dense_b; /* (736,128), (128) */
    float *winograd;                /* the 3x3 stride-1 convs' Winograd weights */
    nn_arena_pool *arenas;          /* kept between calls */
};

#define ARENAS_KEPT 8 /* one per thread embedding at once */

static fr_status load_conv(const nn_weights *w, const conv_desc *c, nn_conv *cv) {
    char name[96];
    float *kernel, *bias;
    fr_status st = tensor_name(name, c->conv, "kernel");
    if (st == FR_OK)
        st = nn_weights_get(w, name, 4, (const int[]){c->k, c->k, c->in, c->out}, &kernel);
    if (st == FR_OK) st = get_vector(w, c->conv, "bias", c->out, &bias);
    if (st != FR_OK) return st;
    *cv = (nn_conv){.kh = c->k, .kw = c->k, .cin = c->in, .cout = c->out,
                    .stride_h = c->stride, .stride_w = c->stride,
                    .pad = {.mode = NN_PAD_EXPLICIT, c->pad, c->pad, c->pad, c->pad},
                    .weight = kernel, .bias = bias, .act = {.kind = NN_ACT_RELU}};
    return FR_OK;
}

static fr_status load_params(nn4small2 *net) {
    conv_desc convs[N_CONVS];
    describe_convs(convs);
    int n = 0;
    fr_status st = FR_OK;
    for (int i = 0; i < N_STEM && st == FR_OK; i++) st = load_conv(net->weights, &convs[n++], &net->stem[i]);
    for (int b = 0; b < N_BLOCKS && st == FR_OK; b++)
        for (int r = 0; r < block_specs[b].n_branches && st == FR_OK; r++) {
            branch *br = &net->branches[b][r];
            br->spec = &block_specs[b].branches[r];
            if (br->spec->n_convs >= 1) st = load_conv(net->weights, &convs[n++], &br->conv1);
            if (st == FR_OK && br->spec->n_convs == 2)
                st = load_conv(net->weights, &convs[n++], &br->conv2);
        }
    float *dw, *db;
    if (st == FR_OK)
        st = nn_weights_get(net->weights, "dense_layer/kernel", 2,
                            (const int[]){FEATURES, NN4SMALL2_DIM}, &dw);
    if (st == FR_OK) st = get_vector(net->weights, "dense_layer", "bias", NN4SMALL2_DIM, &db);
    if (st == FR_OK) net->dense_w = dw, net->dense_b = db;
    return st;
}

/* The 3x3 stride-1 convs' weights transformed for Winograd F(2,3) (nn_winograd_weights),
 * which nn_conv2d takes where it is the faster path (conv3 at 24x24, the 3x3 branches of 3a,
 * 3b, 4a, 5a and 5b). */
static fr_status prepare_winograd(nn4small2 *net, const char *path) {
    nn_conv *convs[N_STEM + 2 * N_BLOCKS * MAX_BRANCHES];
    int n = 0;
    for (int i = 0; i < N_STEM; i++) convs[n++] = &net->stem[i];
    for (int b = 0; b < N_BLOCKS; b++)
        for (int r = 0; r < block_specs[b].n_branches; r++) {
            branch *br = &net->branches[b][r];
            if (br->spec->n_convs == 2) convs[n++] = &br->conv2;
        }
    size_t total = 0;
    for (int i = 0; i < n; i++) total += nn_winograd_weight_floats(convs[i]);
    if (!(net->winograd = malloc(total * sizeof(float))))
        return fr_error(FR_E_NOMEM, "%s: no memory for nn4.small2's Winograd weights", path);
    float *at = net->winograd;
    for (int i = 0; i < n; i++) {
        size_t floats = nn_winograd_weight_floats(convs[i]);
        if (!floats) continue;
        nn_winograd_weights(convs[i], at);
        convs[i]->winograd = at;
        at += floats;
    }
    return FR_OK;
}

fr_status nn4small2_load(const char *path, nn4small2 **out) {
    if (!path || !out) return fr_error(FR_E_ARG, "nn4small2_load: NULL argument");
    *out = NULL;
    nn4small2 *net = calloc(1, sizeof *net);
    if (net && !(net->arenas = nn_arena_pool_new(ARENAS_KEPT))) {
        free(net);
        net = NULL;
    }
    if (!net) return fr_error(FR_E_NOMEM, "%s: no memory for nn4.small2", path);
    frmodel_info info;
    fr_status st = frmodel_read(path, &info, &net->weights);
    if (st == FR_OK && (strcmp(info.model_id, NN4SMALL2_MODEL_ID) != 0 ||
                        info.input_h != NN4SMALL2_INPUT || info.input_w != NN4SMALL2_INPUT ||
                        info.input_c != 3 || strcmp(info.preprocessing, NN4SMALL2_PREPROCESSING)))
        st = fr_error(FR_E_MODEL, "%s: holds model '%s' (input %dx%dx%d, '%s'), not %s", path,
                      info.model_id, info.input_h, info.input_w, info.input_c, info.preprocessing,
                      NN4SMALL2_MODEL_ID);
    if (st == FR_OK) st = load_params(net);
    if (st == FR_OK) st = prepare_winograd(net, path);
    if (st != FR_OK) {
        nn4small2_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

void nn4small2_free(nn4small2 *net) {
    if (!net) return;
    nn_weights_free(net->weights);
    free(net->winograd);
    nn_arena_pool_free(net->arenas);
    free(net);
}

// in is (N,H,W,C), out is (N,H+before+after,W+before+after,C): zeros around in
static void zero_pad_spatial(const float *in, int N, int H, int W, int C, int before, int after,
                             float *out) {
    int OH = H + before + after, OW = W + before + after;
    memset(out, 0, (size_t)N * OH * OW * C * sizeof *out);
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            memcpy(out + (((size_t)n * OH + y + before) * OW + before) * C,
                   in + (((size_t)n * H + y) * W) * C, (size_t)W * C * sizeof *in);
}

/* One branch on the block input x (N,H,W,C); *out is (N,*OH,*OW,spec->out) from a. */
static fr_status branch_forward(const branch *br, int threads, const float *x, int N, int H, int W,
                                int C, nn_arena *a, float **out, int *OH, int *OW) {
    const branch_spec *s = br->spec;
    const nn_padding valid = {.mode = NN_PAD_VALID};
    int h = H, w = W, pad_before;
    if (s->pool != POOL_NONE) {
        int stride = s->pool == POOL_MAX ? 2 : 3;
        nn_out_size(H, 3, stride, valid, 0, &h, &pad_before);
        nn_out_size(W, 3, stride, valid, 1, &w, &pad_before);
        float *pooled = nn_arena_alloc(a, (size_t)N * h * w * C);
        if (!pooled) return fr_error(FR_E_NOMEM, "no memory for nn4.small2's activations");
        if (s->pool == POOL_MAX)
            nn_maxpool2d(threads, x, N, H, W, C, 3, 3, stride, stride, valid, pooled, &h, &w);
        else
            nn_avgpool2d(threads, x, N, H, W, C, 3, 3, stride, stride, valid, pooled, &h, &w);
        x = pooled;
    }
    const nn_conv *convs[2] = {&br->conv1, &br->conv2};
    for (int i = 0; i < s->n_convs; i++) {
        int oh, ow;
        nn_out_size(h, convs[i]->kh, convs[i]->stride_h, convs[i]->pad, 0, &oh, &pad_before);
        nn_out_size(w, convs[i]->kw, convs[i]->stride_w, convs[i]->pad, 1, &ow, &pad_before);
        float *y = nn_arena_alloc(a, (size_t)N * oh * ow * convs[i]->cout);
        if (!y) return fr_error(FR_E_NOMEM, "no memory for nn4.small2's activations");
        nn_conv2d(threads, convs[i], x, N, h, w, y, &h, &w, a);
        x = y;
    }
    if (s->pad_before || s->pad_after) {
        int ph = h + s->pad_before + s->pad_after, pw = w + s->pad_before + s->pad_after;
        float *padded = nn_arena_alloc(a, (size_t)N * ph * pw * s->out);
        if (!padded) return fr_error(FR_E_NOMEM, "no memory for nn4.small2's activations");
        zero_pad_spatial(x, N, h, w, s->out, s->pad_before, s->pad_after, padded);
        x = padded, h = ph, w = pw;
    }
    *out = (float *)x;
    *OH = h;
    *OW = w;
    return FR_OK;
}

/* One inception block: *out is (N,*OH,*OW,sum of the branch channels) from a. */
static fr_status block_forward(const nn4small2 *net, int threads, int b, const float *x, int N,
                               int H, int W, nn_arena *a, float **out, int *OH, int *OW, int *OC) {
    const block_spec *spec = &block_specs[b];
    size_t mark = nn_arena_mark(a);
    const float *parts[MAX_BRANCHES];
    int channels[MAX_BRANCHES], oh = 0, ow = 0, total = 0;
    fr_status st = FR_OK;
    for (int r = 0; r < spec->n_branches && st == FR_OK; r++) {
        float *y = NULL;
        int h = 0, w = 0;
        st = branch_forward(&net->branches[b][r], threads, x, N, H, W, spec->cin, a, &y, &h, &w);
        if (st == FR_OK && r > 0 && (h != oh || w != ow))
            st = fr_error(FR_E_MODEL, "nn4.small2 block %d: branch sizes differ", b);
        parts[r] = y, channels[r] = spec->branches[r].out, oh = h, ow = w;
        total += channels[r];
    }
    /* the result goes after the branches; the caller resets the arena past the input */
    float *y = st == FR_OK ? nn_arena_alloc(a, (size_t)N * oh * ow * total) : NULL;
    if (st == FR_OK && !y) st = fr_error(FR_E_NOMEM, "no memory for nn4.small2's activations");
    if (st != FR_OK) {
        nn_arena_reset(a, mark);
        return st;
    }
    nn_concat_channels(threads, parts, channels, spec->n_branches, (size_t)N * oh * ow, y);
    *out = y, *OH = oh, *OW = ow, *OC = total;
    return FR_OK;
}

/* nn4small2_forward with the activations in a (released before returning). */
static fr_status forward_in(const nn4small2 *net, int threads, const float *input, int n,
                            nn_arena *a, float *out) {
    size_t mark = nn_arena_mark(a);
    fr_status st = FR_OK;
    const float *x = input;
    int H = NN4SMALL2_INPUT, W = NN4SMALL2_INPUT, C = 3, pad_before;
    /* stem: conv1, pool, conv2, conv3, pool; each pool is 3x3/2 with a zero pixel around */
    const nn_padding pool_pad = {.mode = NN_PAD_EXPLICIT, 1, 1, 1, 1};
    for (int i = 0; i < N_STEM + 2 && st == FR_OK; i++) {
        int is_pool = i == 1 || i == 4;
        const nn_conv *cv = is_pool ? NULL : &net->stem[i < 1 ? 0 : i - 1];
        int k = is_pool ? 3 : cv->kh, stride = is_pool ? 2 : cv->stride_h, h, w;
        nn_padding pad = is_pool ? pool_pad : cv->pad;
        nn_out_size(H, k, stride, pad, 0, &h, &pad_before);
        nn_out_size(W, k, stride, pad, 1, &w, &pad_before);
        int c = is_pool ? C : cv->cout;
        float *y = nn_arena_alloc(a, (size_t)n * h * w * c);
        if (!y) {
            st = fr_error(FR_E_NOMEM, "no memory for nn4.small2's activations");
            break;
        }
        if (is_pool)
            nn_maxpool2d(threads, x, n, H, W, C, 3, 3, 2, 2, pool_pad, y, &h, &w);
        else
            nn_conv2d(threads, cv, x, n, H, W, y, &h, &w, a);
        x = y, H = h, W = w, C = c;
    }
    for (int b = 0; b < N_BLOCKS && st == FR_OK; b++) {
        float *y;
        st = block_forward(net, threads, b, x, n, H, W, a, &y, &H, &W, &C);
        x = y;
    }
    if (st == FR_OK && (H != 3 || W != 3 || C != FEATURES))
        st = fr_error(FR_E_MODEL, "nn4.small2: the blocks end with %dx%dx%d, not 3x3x%d", H, W,
                      C, FEATURES);
    float *features = st == FR_OK ? nn_arena_alloc(a, (size_t)n * FEATURES) : NULL;
    if (st == FR_OK && !features) st = fr_error(FR_E_NOMEM, "no memory for %d embeddings", n);
    if (st == FR_OK) {
        int h, w;
        nn_avgpool2d(threads, x, n, H, W, C, 3, 3, 1, 1, (nn_padding){.mode = NN_PAD_VALID},
                     features, &h, &w);
        nn_dense(threads, features, n, FEATURES, net->dense_w, net->dense_b, NN4SMALL2_DIM, out);
        nn_l2_normalize(out, n, NN4SMALL2_DIM);
    }
    nn_arena_reset(a, mark);
    return st;
}

static size_t arena_bytes(int n) {
    const size_t per_face = (size_t)NN4SMALL2_INPUT * NN4SMALL2_INPUT * 3;
    return (size_t)n * (ARENA_FLOATS_PER_FACE + per_face) * sizeof(float) + per_face + 128;
}

fr_status nn4small2_forward(const nn4small2 *net, int threads, const float *input, int n,
                            float *out) {
    if (!net || n < 0 || (n > 0 && (!input || !out)))
        return fr_error(FR_E_ARG, "nn4small2_forward: invalid argument");
    if (n == 0) return FR_OK;
    nn_arena *a = nn_arena_pool_take(net->arenas, arena_bytes(n));
    if (!a) return fr_error(FR_E_NOMEM, "no memory for nn4.small2's activations");
    fr_status st = forward_in(net, threads, input, n, a, out);
    nn_arena_pool_give(net->arenas, a);
    return st;
}

fr_status nn4small2_embed(const nn4small2 *net, int threads, const fr_image *const *crops, int n,
                          float *out) {
    if (!net || n < 0 || (n > 0 && (!crops || !out)))
        return fr_error(FR_E_ARG, "nn4small2_embed: invalid argument");
    for (int i = 0; i < n; i++)
        if (!crops[i] || !crops[i]->rgb || crops[i]->width <= 0 || crops[i]->height <= 0)
            return fr_error(FR_E_ARG, "nn4small2_embed: face crop %d is empty", i);
    if (n == 0) return FR_OK;
    const size_t per_face = (size_t)NN4SMALL2_INPUT * NN4SMALL2_INPUT * 3;
    nn_arena *a = nn_arena_pool_take(net->arenas, arena_bytes(n));
    float *x = a ? nn_arena_alloc(a, (size_t)n * per_face) : NULL;
    uint8_t *pixels = a ? nn_arena_alloc_items(a, per_face, 1) : NULL;
    fr_status st = x && pixels ? FR_OK : fr_error(FR_E_NOMEM, "no memory for %d nn4.small2 inputs", n);
    for (int i = 0; i < n && st == FR_OK; i++) {
        st = image_resize_u8(crops[i]->rgb, crops[i]->width, crops[i]->height, 3, pixels,
                             NN4SMALL2_INPUT, NN4SMALL2_INPUT);
        for (size_t k = 0; k < per_face && st == FR_OK; k++)
            x[(size_t)i * per_face + k] = (float)pixels[k] / 255.0f;
    }
    if (st == FR_OK) st = forward_in(net, threads, x, n, a, out);
    nn_arena_pool_give(net->arenas, a);
    return st;
}
