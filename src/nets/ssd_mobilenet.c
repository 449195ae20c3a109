/* ssd_mobilenet.c: face-api's SSD-MobileNetV1 face detector.
 *
 *   input     the image padded with zeros at the bottom or right to a square, resized to
 *             512x512 (faceapi_to_square), scaled to [-1, 1]
 *   backbone  MobileNetV1: a 3x3 stride-2 conv, then 13 depthwise + pointwise pairs, each conv
 *             followed by ReLU6 (batch norm folded into the convs at load)
 *   extras    8 more convs (1x1, then 3x3 stride 2, four times), ReLU6
 *   heads     six pairs of 1x1 convs (box encodings, class logits) on the outputs of pair 11
 *             (32x32, 3 anchors a cell), pair 13 (16x16) and extras 1, 3, 5, 7 (8x8 to 1x1),
 *             6 anchors a cell: 5118 anchors in all
 *   output    boxes decoded against the anchors with variances (10, 10, 5, 5), score =
 *             sigmoid of the face logit, greedy NMS, boxes mapped back to the image.
 */
#include "nets/faceapi_nets.h"

#include "common/common.h"
#include "nets/conv_chain.h"
#include "nets/faceapi_input.h"
#include "nets/nms.h"
#include "nn/import/tfjs.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SSD_INPUT_SIZE 512
#define SSD_ANCHORS 5118
#define SSD_CLASSES 3 /* logits per anchor: background, face, and a third unused class */
/* The epsilon of the depthwise batch norms (tf.batchNorm in face-api's mobileNetV1). */
#define SSD_BN_EPSILON 0.0010000000474974513f

enum { N_PAIRS = 13, N_BACKBONE = 1 + 2 * N_PAIRS, N_EXTRAS = 8, N_HEADS = 6 };

typedef struct ssd_head {
    nn_conv box;      /* 1x1: (Cin, 4 * anchors a cell) */
    nn_conv logits;   /* 1x1: (Cin, 3 * anchors a cell) */
    int first_anchor; /* index of the head's first anchor in the 5118 */
} ssd_head;

struct ssd_mobilenet {
    nn_weights *weights;
    float *depthwise_bias; /* the folded batch norms of the 13 depthwise convs */
    conv_chain_layer layers[N_BACKBONE + N_EXTRAS];
    ssd_head heads[N_HEADS];
    const float *anchors;  /* (5118,4): y0, x0, y1, x1 relative to the input square */
    size_t max_activation; /* floats */
    size_t arena_bytes;    /* what one call takes from its arena */
    nn_arena_pool *arenas; /* kept between calls */
};

/* heads[i] reads the output of layers[head_input[i]]: pairs 11 and 13, extras 1, 3, 5, 7. */
static const int head_input[N_HEADS] = {22, 26, 28, 30, 32, 34};
static const int head_anchors_per_cell[N_HEADS] = {3, 6, 6, 6, 6, 6};

static fr_status get_tensor(const nn_weights *w, const char *name, int ndim, int d0, int d1,
                            int d2, int d3, float **out) {
    const int shape[4] = {d0, d1, d2, d3};
    return nn_weights_get(w, name, ndim, shape, out);
}

static nn_conv relu6_conv(int k, int cin, int cout, int stride, float *weight,
                          const float *bias) {
    nn_conv cv = {k, k, cin, cout, stride, stride, {NN_PAD_SAME, 0, 0, 0, 0}, weight, bias,
                  {NN_ACT_RELU6, 0.0f, NULL}, NULL};
    return cv;
}

/* A convolution whose batch norm the exporter already folded: weights plus
 * "convolution_bn_offset" as its bias. */
static fr_status load_pointwise(ssd_mobilenet *net, const char *scope, int idx, int k,
                                int cin, int cout, int stride, nn_conv *out) {
    char name[128];
    float *weight, *bias;
    snprintf(name, sizeof name, "%s/Conv2d_%d_pointwise/weights", scope, idx);
    fr_status st = get_tensor(net->weights, name, 4, k, k, cin, cout, &weight);
    if (st != FR_OK) return st;
    snprintf(name, sizeof name, "%s/Conv2d_%d_pointwise/convolution_bn_offset", scope, idx);
    if ((st = get_tensor(net->weights, name, 1, cout, 0, 0, 0, &bias)) != FR_OK) return st;
    *out = relu6_conv(k, cin, cout, stride, weight, bias);
    return FR_OK;
}

/* A depthwise 3x3 conv of pair idx with its batch norm folded into weights and bias. */
static fr_status load_depthwise(ssd_mobilenet *net, int idx, int channels, int stride,
                                float *bias, nn_conv *out) {
    static const char *const bn_names[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    char name[128];
    float *weight, *bn[4];
    snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/depthwise_weights", idx);
    fr_status st = get_tensor(net->weights, name, 4, 3, 3, channels, 1, &weight);
    if (st != FR_OK) return st;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "MobilenetV1/Conv2d_%d_depthwise/BatchNorm/%s", idx,
                 bn_names[i]);
        if ((st = get_tensor(net->weights, name, 1, channels, 0, 0, 0, &bn[i])) != FR_OK)
            return st;
    }
    for (int c = 0; c < channels; c++) bias[c] = 0.0f;
    nn_fold_batchnorm(weight, 9, bias, channels, bn[0], bn[1], bn[2], bn[3], SSD_BN_EPSILON);
    *out = relu6_conv(3, channels, channels, stride, weight, bias);
    return FR_OK;
}

static fr_status load_head(ssd_mobilenet *net, int idx, int cin, ssd_head *out) {
    static const char *const kinds[2] = {"BoxEncodingPredictor", "ClassPredictor"};
    const int per_anchor[2] = {4, SSD_CLASSES};
    nn_conv *convs[2] = {&out->box, &out->logits};
    for (int i = 0; i < 2; i++) {
        int cout = head_anchors_per_cell[idx] * per_anchor[i];
        char name[128];
        float *weight, *bias;
        snprintf(name, sizeof name, "Prediction/BoxPredictor_%d/%s/weights", idx, kinds[i]);
        fr_status st = get_tensor(net->weights, name, 4, 1, 1, cin, cout, &weight);
        if (st != FR_OK) return st;
        snprintf(name, sizeof name, "Prediction/BoxPredictor_%d/%s/biases", idx, kinds[i]);
        if ((st = get_tensor(net->weights, name, 1, cout, 0, 0, 0, &bias)) != FR_OK) return st;
        nn_conv cv = {1, 1, cin, cout, 1, 1, {NN_PAD_VALID, 0, 0, 0, 0}, weight, bias,
                      {NN_ACT_NONE, 0.0f, NULL}, NULL};
        *convs[i] = cv;
    }
    return FR_OK;
}

static fr_status build(ssd_mobilenet *net) {
    /* output channels of conv 0 and of the 13 pairs; pairs 2, 4, 6 and 12 have stride 2 */
    static const int channels[1 + N_PAIRS] = {32,  64,  128, 128, 256, 256, 512,
                                              512, 512, 512, 512, 512, 1024, 1024};
    static const int extras[N_EXTRAS][3] = {/* kernel, output channels, stride */
                                            {1, 256, 1}, {3, 512, 2}, {1, 128, 1},
                                            {3, 256, 2}, {1, 128, 1}, {3, 256, 2},
                                            {1, 64, 1},  {3, 128, 2}};
    size_t bias_count = 0;
    for (int p = 1; p <= N_PAIRS; p++) bias_count += (size_t)channels[p - 1];
    net->depthwise_bias = malloc(bias_count * sizeof(float));
    if (!net->depthwise_bias)
        return fr_error(FR_E_NOMEM, "%s: out of memory", net->weights->source);

    conv_chain_layer *layers = net->layers;
    fr_status st = load_pointwise(net, "MobilenetV1", 0, 3, 3, channels[0], 2, &layers[0].conv);
    float *bias = net->depthwise_bias;
    for (int p = 1; p <= N_PAIRS && st == FR_OK; p++) {
        int cin = channels[p - 1], stride = (p == 2 || p == 4 || p == 6 || p == 12) ? 2 : 1;
        layers[2 * p - 1].depthwise = 1;
        st = load_depthwise(net, p, cin, stride, bias, &layers[2 * p - 1].conv);
        if (st == FR_OK)
            st = load_pointwise(net, "MobilenetV1", p, 1, cin, channels[p], 1,
                                &layers[2 * p].conv);
        bias += cin;
    }
    int cin = channels[N_PAIRS];
    for (int e = 0; e < N_EXTRAS && st == FR_OK; e++) {
        st = load_pointwise(net, "Prediction", e, extras[e][0], cin, extras[e][1], extras[e][2],
                            &layers[N_BACKBONE + e].conv);
        cin = extras[e][1];
    }
    if (st != FR_OK) return st;

    /* walk the shapes once: the largest activation, and each head's anchors */
    int H = SSD_INPUT_SIZE, W = SSD_INPUT_SIZE, C = 3, done = 0, anchor = 0;
    net->max_activation = 0;
    for (int h = 0; h < N_HEADS; h++) {
        conv_chain_shape(layers + done, head_input[h] + 1 - done, &H, &W, &C,
                         &net->max_activation);
        done = head_input[h] + 1;
        if ((st = load_head(net, h, C, &net->heads[h])) != FR_OK) return st;
        net->heads[h].first_anchor = anchor;
        anchor += H * W * head_anchors_per_cell[h];
    }
    if (anchor != SSD_ANCHORS)
        return fr_error(FR_E_MODEL, "%s: the heads predict %d boxes, expected %d",
                        net->weights->source, anchor, SSD_ANCHORS);
    float *anchors;
    if ((st = get_tensor(net->weights, "Output/extra_dim", 3, 1, SSD_ANCHORS, 4, 0, &anchors)) !=
        FR_OK)
        return st;
    net->anchors = anchors;
    /* input, two activation buffers, the heads' outputs and scores, and im2col scratch */
    net->arena_bytes = (SSD_INPUT_SIZE * SSD_INPUT_SIZE * 3 + 2 * net->max_activation +
                        SSD_ANCHORS * (4 + SSD_CLASSES + 1) + CONV_CHAIN_SCRATCH_FLOATS) *
                       sizeof(float);
    if (!(net->arenas = nn_arena_pool_new(FACEAPI_ARENAS_KEPT)))
        return fr_error(FR_E_NOMEM, "%s: out of memory", net->weights->source);
    return FR_OK;
}

fr_status ssd_mobilenet_load(const char *manifest_path, ssd_mobilenet **out) {
    if (!manifest_path || !out) return fr_error(FR_E_ARG, "ssd_mobilenet_load: NULL argument");
    *out = NULL;
    ssd_mobilenet *net = calloc(1, sizeof *net);
    if (!net) return fr_error(FR_E_NOMEM, "%s: out of memory", manifest_path);
    fr_status st = nn_tfjs_load(manifest_path, &net->weights);
    if (st == FR_OK) st = build(net);
    if (st != FR_OK) {
        ssd_mobilenet_free(net);
        return fr_error_prefix(st, "SSD MobileNetV1");
    }
    *out = net;
    return FR_OK;
}

void ssd_mobilenet_free(ssd_mobilenet *net) {
    if (!net) return;
    nn_weights_free(net->weights);
    free(net->depthwise_bias);
    nn_arena_pool_free(net->arenas);
    free(net);
}

/* Boxes from the encodings (dy, dx, dh, dw) against the anchors, in face-api's order of
 * float operations. anchors and enc are (n,4); boxes are relative to the input square. */
static void decode_boxes(const float *anchors, const float *enc, int n, nms_box *boxes) {
    for (int i = 0; i < n; i++) {
        const float *a = anchors + 4 * (size_t)i, *e = enc + 4 * (size_t)i;
        float h = a[2] - a[0], w = a[3] - a[1];
        float cy = a[0] + h / 2.0f, cx = a[1] + w / 2.0f;
        float half_h = expf(e[2] / 5.0f) * h / 2.0f, half_w = expf(e[3] / 5.0f) * w / 2.0f;
        float y = e[0] / 10.0f * h + cy, x = e[1] / 10.0f * w + cx;
        boxes[i] = (nms_box){x - half_w, y - half_h, x + half_w, y + half_h};
    }
}

/* Runs the network on the (512,512,3) input: enc is (5118,4), logits (5118,3). */
static void forward(const ssd_mobilenet *net, int threads, const float *input, float *buf_a,
                    float *buf_b, float *enc, float *logits, nn_arena *arena) {
    int H = SSD_INPUT_SIZE, W = SSD_INPUT_SIZE, C = 3, done = 0, OH, OW;
    const float *x = input;
    for (int h = 0; h < N_HEADS; h++) {
        const ssd_head *head = &net->heads[h];
        x = conv_chain_run(net->layers + done, threads, head_input[h] + 1 - done, x, &H, &W, &C,
                           buf_a, buf_b, arena);
        done = head_input[h] + 1;
        /* (H,W,anchors*4) is already (H*W*anchors, 4): write in place in the full list */
        nn_conv2d(threads, &head->box, x, 1, H, W, enc + 4 * (size_t)head->first_anchor, &OH, &OW,
                  arena);
        nn_conv2d(threads, &head->logits, x, 1, H, W,
                  logits + SSD_CLASSES * (size_t)head->first_anchor, &OH, &OW, arena);
    }
}

fr_status ssd_mobilenet_detect(const ssd_mobilenet *net, int threads, const fr_image *img,
                               float min_score, float iou_threshold, int max_faces, fr_face **faces,
                               int *n_faces) {
    if (!net || !img || !faces || !n_faces)
        return fr_error(FR_E_ARG, "ssd_mobilenet_detect: NULL argument");
    *faces = NULL;
    *n_faces = 0;
    if (!img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "ssd_mobilenet_detect: empty image");
    if (!(min_score >= 0.0f && min_score < 1.0f))
        return fr_error(FR_E_ARG, "ssd_mobilenet_detect: min_score %g is not in [0, 1)",
                        (double)min_score);
    if (!(iou_threshold > 0.0f && iou_threshold <= 1.0f))
        return fr_error(FR_E_ARG, "ssd_mobilenet_detect: IoU threshold %g is not in (0, 1]",
                        (double)iou_threshold);
    if (max_faces < 1)
        return fr_error(FR_E_ARG, "ssd_mobilenet_detect: max_faces %d < 1", max_faces);

    const size_t input_floats = (size_t)SSD_INPUT_SIZE * SSD_INPUT_SIZE * 3;
    nn_arena *arena = nn_arena_pool_take(net->arenas, net->arena_bytes);
    fr_status st = FR_OK;
    if (!arena) {
        st = fr_error(FR_E_NOMEM, "ssd_mobilenet_detect: out of memory");
        goto done;
    }
    float *input = nn_arena_alloc(arena, input_floats);
    float *buf_a = nn_arena_alloc(arena, net->max_activation);
    float *buf_b = nn_arena_alloc(arena, net->max_activation);
    float *enc = nn_arena_alloc(arena, SSD_ANCHORS * 4);
    float *logits = nn_arena_alloc(arena, SSD_ANCHORS * SSD_CLASSES);
    float *scores = nn_arena_alloc(arena, SSD_ANCHORS);
    nms_box *boxes = nn_arena_alloc_items(arena, SSD_ANCHORS, sizeof *boxes);
    int *keep = nn_arena_alloc_items(arena, SSD_ANCHORS, sizeof *keep);
    nms_candidate *cand = nn_arena_alloc_items(arena, 2 * SSD_ANCHORS, sizeof *cand);
    if (!input || !buf_a || !buf_b || !enc || !logits || !scores || !boxes || !keep || !cand) {
        st = fr_error(FR_E_NOMEM, "ssd_mobilenet_detect: out of memory for activations");
        goto done;
    }
    faceapi_rect whole = {0, 0, img->width, img->height};
    faceapi_to_square(img, threads, whole, SSD_INPUT_SIZE, 0, input);
    for (size_t i = 0; i < input_floats; i++) input[i] = input[i] / 127.5f - 1.0f;

    forward(net, threads, input, buf_a, buf_b, enc, logits, arena);

    decode_boxes(net->anchors, enc, SSD_ANCHORS, boxes);
    for (int i = 0; i < SSD_ANCHORS; i++) scores[i] = logits[SSD_CLASSES * i + 1];
    nn_sigmoid(threads, scores, SSD_ANCHORS);
    int n_keep;
    nms_select(boxes, scores, SSD_ANCHORS, min_score, iou_threshold, max_faces, cand, keep,
               &n_keep);
    if (n_keep == 0) goto done;
    *faces = calloc((size_t)n_keep, sizeof **faces);
    if (!*faces) {
        st = fr_error(FR_E_NOMEM, "ssd_mobilenet_detect: out of memory for %d faces", n_keep);
        goto done;
    }

    /* Back to the image as face-api does: clip to the input square, scale by the square
     * over the image's resized size (rounded; at least 1 pixel for a very thin image), then
     * by the image size. */
    double scale = (double)SSD_INPUT_SIZE / FR_MAX(img->width, img->height);
    double pad_x = SSD_INPUT_SIZE / FR_MAX(1.0, floor(img->width * scale + 0.5));
    double pad_y = SSD_INPUT_SIZE / FR_MAX(1.0, floor(img->height * scale + 0.5));
    int n = 0;
    for (int k = 0; k < n_keep; k++) {
        const nms_box *b = &boxes[keep[k]];
        double left = FR_MAX(0.0, (double)b->x0) * pad_x;
        double right = FR_MIN(1.0, (double)b->x1) * pad_x;
        double top = FR_MAX(0.0, (double)b->y0) * pad_y;
        double bottom = FR_MIN(1.0, (double)b->y1) * pad_y;
        if (right <= left || bottom <= top) continue; /* nothing left inside the square */
        fr_face *f = &(*faces)[n++];
        f->x = (float)(left * img->width);
        f->y = (float)(top * img->height);
        f->w = (float)((right - left) * img->width);
        f->h = (float)((bottom - top) * img->height);
        f->score = scores[keep[k]];
    }
    *n_faces = n;
    if (n == 0) {
        free(*faces);
        *faces = NULL;
    }
done:
    nn_arena_pool_give(net->arenas, arena);
    return st;
}
