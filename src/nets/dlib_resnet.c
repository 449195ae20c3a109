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
 * Output: the 128-d descriptor as face-api computes it (not normalised; the engine makes
 * every embedding a unit vector).
 *
 * The folded parameters live in one array (the layout in nets/dlib_resnet.h), read from
 * face-api's weight map or from our model file, and one forward pass serves inference and
 * training (which asks it to keep the activations). With a folder for prepared files
 * (nn/prepared.h), the array and the Winograd weights are saved after the first load and
 * mapped read-only at the next ones: loading then reads no model file at all.
 */
#include "nets/dlib_resnet.h"

#include "common/common.h"
#include "nets/faceapi_input.h"
#include "nn/import/frmodel.h"
#include "nn/import/tfjs.h"
#include "nn/prepared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_RESIDUAL DLIB_RESNET_BLOCKS
/* activations and im2col scratch of one face, about 1.4M floats */
#define ARENA_FLOATS_PER_FACE 1600000
/* Faces run through the network at once: enough for efficient GEMMs, and a bound on the
 * memory the network's arenas keep. Larger calls run in batches of this many. */
#define MAX_BATCH 16
/* how an image becomes the input, recorded in model files */
#define PREPROCESSING "faceapi-square-150,mean-rgb,div255"

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

struct dlib_resnet {
    /* the parameter array and the 3x3 stride-1 convs' Winograd weights (nn_winograd_weights),
     * read from the model file (params, winograd: owned) or mapped from a prepared file
     * (prepared; params and winograd NULL) */
    float *params, *winograd;
    nn_prepared *prepared;
    dlib_resnet_params view; /* points into the parameter array and the Winograd weights */
    nn_arena_pool *arenas;   /* kept between calls */
};

/* The prepared file's arrays: the parameter array, then the Winograd weights. */
enum { PREPARED_PARAMS, PREPARED_WINOGRAD, N_PREPARED };

/* The floats of the Winograd weights of every conv of v, one after the other. */
static size_t winograd_floats(const dlib_resnet_params *v) {
    size_t total = 0;
    for (int i = 0; i < DLIB_RESNET_CONVS; i++) total += nn_winograd_weight_floats(&v->convs[i]);
    return total;
}

/* Point each conv of v that has Winograd weights at its part of `weights`. */
static void point_winograd(dlib_resnet_params *v, const float *weights) {
    for (int i = 0; i < DLIB_RESNET_CONVS; i++) {
        nn_conv *cv = &v->convs[i];
        size_t n = nn_winograd_weight_floats(cv);
        if (!n) continue;
        cv->winograd = weights;
        weights += n;
    }
}

/* The loaded weights of the 3x3 stride-1 convs transformed for Winograd F(2,3), which
 * nn_conv2d takes where it is the faster path. */
static fr_status prepare_winograd(dlib_resnet *net, const char *path) {
    size_t bytes = winograd_floats(&net->view) * sizeof(float); /* in huge pages: tens of MB */
    if (!(net->winograd = nn_alloc_huge(&bytes)))
        return fr_error(FR_E_NOMEM, "%s: no memory for the descriptor net", path);
    float *at = net->winograd;
    for (int i = 0; i < DLIB_RESNET_CONVS; i++) {
        nn_conv *cv = &net->view.convs[i];
        if (!nn_winograd_weight_floats(cv)) continue;
        nn_winograd_weights(cv, at);
        at += nn_winograd_weight_floats(cv);
    }
    point_winograd(&net->view, net->winograd);
    return FR_OK;
}

/* conv i's face-api layer prefix: "conv32_down", or block j's "<block>/conv1" and "/conv2". */
static void conv_name(int i, char *out, size_t outsz) {
    if (i == 0)
        snprintf(out, outsz, "conv32_down");
    else
        snprintf(out, outsz, "%s/conv%d", residual_specs[(i - 1) / 2].name, 1 + (i - 1) % 2);
}

/* The shape of every conv, weights and biases pointing into params in the layout order
 * (params NULL: offsets from 0, to count them). Returns the number of floats. */
static size_t layout(const float *params, dlib_resnet_params *v) {
    size_t at = 0;
    memset(v, 0, sizeof *v);
    for (int i = 0; i < DLIB_RESNET_CONVS; i++) {
        nn_conv *cv = &v->convs[i];
        if (i == 0) {
            *cv = (nn_conv){.kh = 7, .kw = 7, .cin = 3, .cout = 32, .stride_h = 2,
                            .stride_w = 2, .pad = {.mode = NN_PAD_VALID},
                            .act = {.kind = NN_ACT_RELU}};
        } else {
            const struct residual_spec *s = &residual_specs[(i - 1) / 2];
            int second = (i - 1) % 2, stride = s->down && !second ? 2 : 1;
            v->down[(i - 1) / 2] = s->down;
            *cv = (nn_conv){.kh = 3, .kw = 3, .cin = second ? s->cout : s->cin,
                            .cout = s->cout, .stride_h = stride, .stride_w = stride,
                            .pad = {.mode = s->down && !second ? NN_PAD_VALID : NN_PAD_SAME},
                            .act = {.kind = second ? NN_ACT_NONE : NN_ACT_RELU}};
        }
        cv->weight = params ? params + at : NULL;
        at += (size_t)cv->kh * cv->kw * cv->cin * cv->cout;
        cv->bias = params ? params + at : NULL;
        at += (size_t)cv->cout;
    }
    v->fc = params ? params + at : NULL;
    return at + (size_t)DLIB_RESNET_FEATURES * DLIB_RESNET_DIM;
}

size_t dlib_resnet_param_count(void) {
    dlib_resnet_params v;
    return layout(NULL, &v);
}

void dlib_resnet_params_view(const float *params, dlib_resnet_params *view) {
    layout(params, view);
}

const float *dlib_resnet_param_data(const dlib_resnet *net) { return net->view.convs[0].weight; }

/* Load face-api's `prefix`/conv/{filters,bias} and `prefix`/scale/{weights,biases}, fold
 * the scale into the conv, w' = w * s (per output channel), b' = b * s + t, and copy both
 * to cv's place in the parameter array. */
static fr_status load_tfjs_conv(const nn_weights *w, const char *prefix, const nn_conv *cv) {
    char name[96];
    float *filters, *bias, *scale, *shift;
    int k = cv->kh, cin = cv->cin, cout = cv->cout;
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
    nn_scale_shift(1, filters, (size_t)k * k * cin, cout, scale, NULL);
    nn_scale_shift(1, bias, 1, cout, scale, shift);
    memcpy((float *)cv->weight, filters, (size_t)k * k * cin * cout * sizeof(float));
    memcpy((float *)cv->bias, bias, (size_t)cout * sizeof(float));
    return FR_OK;
}

/* The final matrix "fc" (256,128), under the same name in both kinds of file. */
static fr_status load_fc(const nn_weights *w, dlib_resnet *net) {
    float *fc;
    fr_status st = nn_weights_get(w, "fc", 2, (const int[]){DLIB_RESNET_FEATURES, DLIB_RESNET_DIM},
                                  &fc);
    if (st == FR_OK)
        memcpy((float *)net->view.fc, fc,
               (size_t)DLIB_RESNET_FEATURES * DLIB_RESNET_DIM * sizeof *fc);
    return st;
}

/* Fill the parameter array from face-api's weight map; *w keeps what was read (its files). */
static fr_status load_tfjs(dlib_resnet *net, const char *manifest_path, nn_weights **w) {
    fr_status st = nn_tfjs_load(manifest_path, w);
    for (int i = 0; i < DLIB_RESNET_CONVS && st == FR_OK; i++) {
        char prefix[64];
        conv_name(i, prefix, sizeof prefix);
        st = load_tfjs_conv(*w, prefix, &net->view.convs[i]);
    }
    if (st == FR_OK) st = load_fc(*w, net);
    return st;
}

/* A model file's tensors: conv i's "<name>/filters" and "<name>/bias", then "fc". */
static void tensor_names(int i, char *weight, char *bias, size_t sz) {
    char prefix[64];
    conv_name(i, prefix, sizeof prefix);
    snprintf(weight, sz, "%s/filters", prefix);
    snprintf(bias, sz, "%s/bias", prefix);
}

static int is_dlib_model_id(const char *id) {
    size_t n = strlen(DLIB_RESNET_MODEL_ID);
    return !strncmp(id, DLIB_RESNET_MODEL_ID, n) && (id[n] == '\0' || id[n] == '+');
}

/* Fill the parameter array from our model file; *out keeps what was read (its files). */
static fr_status load_frmodel(dlib_resnet *net, const char *path, nn_weights **out) {
    frmodel_info info;
    fr_status st = frmodel_read(path, &info, out);
    if (st != FR_OK) return st;
    const nn_weights *w = *out;
    if (!is_dlib_model_id(info.model_id) || info.input_h != DLIB_RESNET_INPUT ||
        info.input_w != DLIB_RESNET_INPUT || info.input_c != 3)
        return fr_error(FR_E_MODEL, "%s: not a %s model (model id '%s', input %dx%dx%d)", path,
                        DLIB_RESNET_MODEL_ID, info.model_id, info.input_h, info.input_w,
                        info.input_c);
    if (w->count != 2 * DLIB_RESNET_CONVS + 1)
        st = fr_error(FR_E_MODEL, "%s: a %s model has %d tensors, this file %d", path,
                      DLIB_RESNET_MODEL_ID, 2 * DLIB_RESNET_CONVS + 1, w->count);
    for (int i = 0; i < DLIB_RESNET_CONVS && st == FR_OK; i++) {
        const nn_conv *cv = &net->view.convs[i];
        char wname[96], bname[96];
        float *data;
        tensor_names(i, wname, bname, sizeof wname);
        st = nn_weights_get(w, wname, 4, (const int[]){cv->kh, cv->kw, cv->cin, cv->cout}, &data);
        if (st == FR_OK)
            memcpy((float *)cv->weight, data,
                   (size_t)cv->kh * cv->kw * cv->cin * cv->cout * sizeof *data);
        if (st == FR_OK) st = nn_weights_get(w, bname, 1, (const int[]){cv->cout}, &data);
        if (st == FR_OK) memcpy((float *)cv->bias, data, (size_t)cv->cout * sizeof *data);
    }
    if (st == FR_OK) st = load_fc(w, net);
    return st;
}

fr_status dlib_resnet_save(const float *params, const char *model_id, const char *path) {
    if (!params || !model_id || !path || !is_dlib_model_id(model_id) ||
        strlen(model_id) > FRMODEL_MAX_ID)
        return fr_error(FR_E_ARG, "dlib_resnet_save: invalid argument (model id '%s')",
                        model_id ? model_id : "");
    frmodel_info info = {.input_h = DLIB_RESNET_INPUT, .input_w = DLIB_RESNET_INPUT,
                         .input_c = 3};
    snprintf(info.model_id, sizeof info.model_id, "%s", model_id);
    snprintf(info.preprocessing, sizeof info.preprocessing, "%s", PREPROCESSING);
    dlib_resnet_params v;
    layout(params, &v);
    nn_tensor_entry t[2 * DLIB_RESNET_CONVS + 1];
    char names[2 * DLIB_RESNET_CONVS][96];
    for (int i = 0; i < DLIB_RESNET_CONVS; i++) {
        const nn_conv *cv = &v.convs[i];
        tensor_names(i, names[2 * i], names[2 * i + 1], sizeof names[0]);
        t[2 * i] = (nn_tensor_entry){names[2 * i], 4, {cv->kh, cv->kw, cv->cin, cv->cout},
                                     (size_t)cv->kh * cv->kw * cv->cin * cv->cout,
                                     (float *)cv->weight};
        t[2 * i + 1] = (nn_tensor_entry){names[2 * i + 1], 1, {cv->cout}, (size_t)cv->cout,
                                         (float *)cv->bias};
    }
    t[2 * DLIB_RESNET_CONVS] = (nn_tensor_entry){"fc", 2, {DLIB_RESNET_FEATURES, DLIB_RESNET_DIM},
                                                 (size_t)DLIB_RESNET_FEATURES * DLIB_RESNET_DIM,
                                                 (float *)v.fc};
    return frmodel_write(path, &info, t, 2 * DLIB_RESNET_CONVS + 1);
}

/* The network read from its model file into memory of its own, folded and transformed;
 * then saved as a prepared file for spec (if spec->folder) from what was read since
 * `since`. */
static fr_status load_source(dlib_resnet *net, const nn_prepared_spec *spec, int64_t since) {
    const char *path = spec->source;
    if (!(net->params = malloc(spec->counts[PREPARED_PARAMS] * sizeof *net->params)))
        return fr_error(FR_E_NOMEM, "%s: no memory for the descriptor net", path);
    layout(net->params, &net->view);
    nn_weights *w = NULL;
    fr_status st = frmodel_is_file(path) ? load_frmodel(net, path, &w) : load_tfjs(net, path, &w);
    if (st == FR_OK) st = prepare_winograd(net, path);
    if (st == FR_OK) {
        const float *arrays[N_PREPARED] = {net->params, net->winograd};
        nn_prepared_save(spec, (const char *const *)w->files, w->n_files, arrays, since);
    }
    nn_weights_free(w);
    return st;
}

fr_status dlib_resnet_load(const char *path, const char *prepared_folder, dlib_resnet **out) {
    if (!path || !out) return fr_error(FR_E_ARG, "dlib_resnet_load: NULL argument");
    *out = NULL;
    dlib_resnet *net = calloc(1, sizeof *net);
    if (!net) return fr_error(FR_E_NOMEM, "%s: no memory for the descriptor net", path);
    size_t counts[N_PREPARED] = {layout(NULL, &net->view), winograd_floats(&net->view)};
    nn_prepared_spec spec = {prepared_folder, DLIB_RESNET_MODEL_ID, path, N_PREPARED, counts};
    int64_t since;
    fr_status st = FR_OK;
    if ((net->prepared = nn_prepared_map(&spec, &since))) {
        layout(nn_prepared_array(net->prepared, PREPARED_PARAMS), &net->view);
        point_winograd(&net->view, nn_prepared_array(net->prepared, PREPARED_WINOGRAD));
    } else {
        st = load_source(net, &spec, since);
    }
    if (st == FR_OK && !(net->arenas = nn_arena_pool_new(FACEAPI_ARENAS_KEPT)))
        st = fr_error(FR_E_NOMEM, "%s: no memory for the descriptor net", path);
    if (st != FR_OK) {
        dlib_resnet_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

void dlib_resnet_free(dlib_resnet *net) {
    if (!net) return;
    free(net->params);
    free(net->winograd);
    nn_prepared_unmap(net->prepared);
    nn_arena_pool_free(net->arenas);
    free(net);
}

/* src is (N,OH,OW,C), dst is (N,PH,PW,C) with PH >= OH, PW >= OW: dst[:, :OH, :OW] += src,
 * i.e. src padded with zeros at the bottom and right, added to dst. */
static void add_padded(const float *src, int threads, int N, int OH, int OW, int C, float *dst,
                       int PH, int PW) {
    for (int n = 0; n < N; n++)
        for (int y = 0; y < OH; y++) {
            const float *s = src + (((size_t)n * OH + y) * OW) * C;
            float *d = dst + (((size_t)n * PH + y) * PW) * C;
            nn_add(threads, s, d, d, (size_t)OW * C);
        }
}

/* Block i on in (N,H,W,Cin): *out is (N,OH,OW,Cout), allocated from a before the
 * temporaries, which are released again unless the trace keeps them. */
static fr_status residual_forward(const dlib_resnet_params *p, int threads, int i, const float *in,
                                  int N, int H, int W, nn_arena *a, dlib_resnet_block_trace *bt,
                                  float **out, int *OH, int *OW) {
    const nn_conv *conv1 = &p->convs[1 + 2 * i], *conv2 = &p->convs[2 + 2 * i];
    int cin = conv1->cin, cout = conv1->cout, down = p->down[i];
    int ch, cw, ph = H, pw = W, pad_before; /* the convs' output size; the block's */
    nn_out_size(H, 3, conv1->stride_h, conv1->pad, 0, &ch, &pad_before);
    nn_out_size(W, 3, conv1->stride_w, conv1->pad, 1, &cw, &pad_before);
    if (down) {
        ph = H / 2;
        pw = W / 2;
    }
    if (ch < 1 || cw < 1)
        return fr_error(FR_E_ARG, "descriptor net: a %dx%d input is too small", H, W);
    size_t n_conv = (size_t)N * ch * cw * cout, n_out = (size_t)N * ph * pw * cout;
    float *result = nn_arena_alloc(a, n_out);
    size_t mark = nn_arena_mark(a);
    float *t1 = nn_arena_alloc(a, n_conv), *t2 = nn_arena_alloc(a, n_conv);
    float *pooled = down ? nn_arena_alloc(a, (size_t)N * ph * pw * cin) : NULL;
    if (!result || !t1 || !t2 || (down && !pooled))
        return fr_error(FR_E_NOMEM, "no memory for the descriptor net's activations");

    int h, w;
    nn_conv2d(threads, conv1, in, N, H, W, t1, &h, &w, a);
    nn_conv2d(threads, conv2, t1, N, h, w, t2, &h, &w, a);
    if (down) {
        nn_avgpool2d(threads, in, N, H, W, cin, 2, 2, 2, 2, (nn_padding){.mode = NN_PAD_VALID},
                     pooled, &h, &w);
        nn_pad_channels(threads, pooled, (size_t)N * ph * pw, cin, cout, result);
        add_padded(t2, threads, N, ch, cw, cout, result, ph, pw);
    } else {
        nn_add(threads, t2, in, result, n_out);
    }
    nn_activate(threads, result, (size_t)N * ph * pw, cout, (nn_act){.kind = NN_ACT_RELU});
    if (bt)
        *bt = (dlib_resnet_block_trace){in, t1, result, H, W, ch, cw, ph, pw};
    else
        nn_arena_reset(a, mark);
    *out = result;
    *OH = ph;
    *OW = pw;
    return FR_OK;
}

fr_status dlib_resnet_forward(const dlib_resnet_params *p, int threads, const float *x, int N,
                              int size, nn_arena *a, dlib_resnet_trace *trace, float *out) {
    if (size < DLIB_RESNET_MIN_INPUT)
        return fr_error(FR_E_ARG, "descriptor net: input %dx%d is smaller than %dx%d", size,
                        size, DLIB_RESNET_MIN_INPUT, DLIB_RESNET_MIN_INPUT);
    size_t mark = nn_arena_mark(a);
    int H, W, C = 32, pad_before;
    nn_out_size(size, 7, 2, p->convs[0].pad, 0, &H, &pad_before);
    float *conv = nn_arena_alloc(a, (size_t)N * H * H * C);
    int PH;
    nn_out_size(H, 3, 2, (nn_padding){.mode = NN_PAD_VALID}, 0, &PH, &pad_before);
    float *pooled = nn_arena_alloc(a, (size_t)N * PH * PH * C);
    if (!conv || !pooled)
        return fr_error(FR_E_NOMEM, "no memory for the descriptor net's activations");
    nn_conv2d(threads, &p->convs[0], x, N, size, size, conv, &H, &W, a);
    if (trace) *trace = (dlib_resnet_trace){.N = N, .size = size, .input = x, .conv = conv,
                                            .CH = H, .CW = W, .pooled = pooled};
    nn_maxpool2d(threads, conv, N, H, W, C, 3, 3, 2, 2, (nn_padding){.mode = NN_PAD_VALID}, pooled,
                 &H, &W);
    if (trace) trace->PH = H, trace->PW = W;
    float *act = pooled;
    fr_status st = FR_OK;
    for (int i = 0; i < N_RESIDUAL && st == FR_OK; i++) {
        st = residual_forward(p, threads, i, act, N, H, W, a, trace ? &trace->blocks[i] : NULL,
                              &act, &H, &W);
        C = p->convs[2 + 2 * i].cout;
    }
    float *mean = st == FR_OK ? nn_arena_alloc(a, (size_t)N * C) : NULL;
    if (st == FR_OK && !mean) st = fr_error(FR_E_NOMEM, "no memory for %d descriptors", N);
    if (st == FR_OK) {
        nn_spatial_mean(threads, act, N, H, W, C, mean);
        nn_dense(threads, mean, N, C, p->fc, NULL, DLIB_RESNET_DIM, out);
        if (trace) trace->features = mean;
    }
    if (!trace || st != FR_OK) nn_arena_reset(a, mark);
    return st;
}

void dlib_resnet_input(const fr_image *const *crops, int threads, int n, float *x) {
    const size_t per_face = (size_t)DLIB_RESNET_INPUT * DLIB_RESNET_INPUT;
    for (int i = 0; i < n; i++) {
        faceapi_rect whole = {0, 0, crops[i]->width, crops[i]->height};
        faceapi_to_square(crops[i], threads, whole, DLIB_RESNET_INPUT, 1,
                          x + (size_t)i * per_face * 3);
    }
    faceapi_normalize(x, (size_t)n * per_face);
}

size_t dlib_resnet_arena_bytes(int n) {
    return (size_t)FR_MIN(n, MAX_BATCH) * ARENA_FLOATS_PER_FACE * sizeof(float);
}

fr_status dlib_resnet_run(const dlib_resnet_params *p, int threads, const fr_image *const *crops,
                          int n, nn_arena *a, float *out) {
    const size_t per_face = (size_t)DLIB_RESNET_INPUT * DLIB_RESNET_INPUT * 3;
    fr_status st = FR_OK;
    for (int i = 0; i < n && st == FR_OK; i += MAX_BATCH) {
        int m = FR_MIN(MAX_BATCH, n - i);
        float *x = nn_arena_alloc(a, (size_t)m * per_face);
        if (!x) return fr_error(FR_E_NOMEM, "no memory for %d descriptor inputs", m);
        dlib_resnet_input(crops + i, threads, m, x);
        st = dlib_resnet_forward(p, threads, x, m, DLIB_RESNET_INPUT, a, NULL,
                                 out + (size_t)i * DLIB_RESNET_DIM);
        nn_arena_reset(a, 0);
    }
    return st;
}

fr_status dlib_resnet_embed(const dlib_resnet *net, int threads, const fr_image *const *crops,
                            int n, float *out) {
    if (!net || n < 0 || (n > 0 && (!crops || !out)))
        return fr_error(FR_E_ARG, "dlib_resnet_embed: invalid argument");
    for (int i = 0; i < n; i++)
        if (!crops[i] || crops[i]->width <= 0 || crops[i]->height <= 0)
            return fr_error(FR_E_ARG, "dlib_resnet_embed: face crop %d is empty", i);
    if (n == 0) return FR_OK;

    nn_arena *a = nn_arena_pool_take(net->arenas, dlib_resnet_arena_bytes(n));
    if (!a) return fr_error(FR_E_NOMEM, "no memory for %d descriptors", n);
    fr_status st = dlib_resnet_run(&net->view, threads, crops, n, a, out);
    nn_arena_pool_give(net->arenas, a);
    return st;
}
