/* tiny_face_detector.c: face-api's tiny face detector, a tiny-YOLOv2 with separable convs.
 *
 *   input    the image padded with zeros at the bottom or right to a square, resized to
 *            input_size (a multiple of 32, face-api's default 416), minus this net's mean RGB,
 *            divided by 255
 *   network  a 3x3 valid conv to 16 channels; five separable convs (3x3 depthwise with 1 pixel
 *            of zero padding, then a 1x1 conv with bias) doubling the channels up to 512; each
 *            of these six followed by leaky ReLU (0.1) and a 2x2 max pool (stride 2, the last
 *            stride 1); a 1x1 conv to 5 anchors x (x, y, w, h, score) per grid cell
 *   output   YOLO decoding: centre = (cell + sigmoid) / cells, size = exp * anchor / cells,
 *            score = sigmoid; greedy NMS; boxes mapped back to the image.
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

#define TINY_ANCHORS 5
#define TINY_BOX_VALUES 5 /* x, y, w, h, score */
#define TINY_LEAKY_ALPHA 0.1f
#define TINY_MIN_INPUT 32
#define TINY_MAX_INPUT 1024

/* Anchor sizes in grid cells (width, height), and the mean RGB face-api subtracts for this net. */
static const double anchor_size[TINY_ANCHORS][2] = {
    {1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061},
    {4.266906, 5.178857}, {9.041765, 10.66308}};
static const float mean_rgb[3] = {117.001f, 114.697f, 97.404f};

enum { N_SEPARABLE = 5, N_LAYERS = 1 + 2 * N_SEPARABLE + 1 };

struct tiny_face_detector {
    nn_weights *weights;
    conv_chain_layer layers[N_LAYERS];
    nn_arena_pool *arenas; /* kept between calls */
};

static fr_status get_tensor(const nn_weights *w, const char *name, int ndim, int d0, int d1,
                            int d2, int d3, float **out) {
    const int shape[4] = {d0, d1, d2, d3};
    return nn_weights_get(w, name, ndim, shape, out);
}

/* A conv "conv<idx>" with filters/bias; k x k, VALID padding. */
static fr_status load_conv(const nn_weights *w, int idx, int k, int cin, int cout, nn_act act,
                           nn_conv *out) {
    char name[64];
    float *weight, *bias;
    snprintf(name, sizeof name, "conv%d/filters", idx);
    fr_status st = get_tensor(w, name, 4, k, k, cin, cout, &weight);
    if (st != FR_OK) return st;
    snprintf(name, sizeof name, "conv%d/bias", idx);
    if ((st = get_tensor(w, name, 1, cout, 0, 0, 0, &bias)) != FR_OK) return st;
    nn_conv cv = {k, k, cin, cout, 1, 1, {NN_PAD_VALID, 0, 0, 0, 0}, weight, bias, act, NULL};
    *out = cv;
    return FR_OK;
}

/* Separable conv "conv<idx>": depthwise 3x3 (no bias), then pointwise 1x1 with bias. */
static fr_status load_separable(const nn_weights *w, int idx, int cin, int cout, nn_act act,
                                nn_conv *depthwise, nn_conv *pointwise) {
    char name[64];
    float *dw, *pw, *bias;
    snprintf(name, sizeof name, "conv%d/depthwise_filter", idx);
    fr_status st = get_tensor(w, name, 4, 3, 3, cin, 1, &dw);
    if (st != FR_OK) return st;
    snprintf(name, sizeof name, "conv%d/pointwise_filter", idx);
    if ((st = get_tensor(w, name, 4, 1, 1, cin, cout, &pw)) != FR_OK) return st;
    snprintf(name, sizeof name, "conv%d/bias", idx);
    if ((st = get_tensor(w, name, 1, cout, 0, 0, 0, &bias)) != FR_OK) return st;
    nn_conv d = {3, 3, cin, cin, 1, 1, {NN_PAD_EXPLICIT, 1, 1, 1, 1}, dw, NULL,
                 {NN_ACT_NONE, 0.0f, NULL}, NULL};
    nn_conv p = {1, 1, cin, cout, 1, 1, {NN_PAD_VALID, 0, 0, 0, 0}, pw, bias, act, NULL};
    *depthwise = d;
    *pointwise = p;
    return FR_OK;
}

static fr_status build(tiny_face_detector *net) {
    const nn_act leaky = {NN_ACT_LEAKY, TINY_LEAKY_ALPHA, NULL};
    const nn_act none = {NN_ACT_NONE, 0.0f, NULL};
    conv_chain_layer *layers = net->layers;
    fr_status st = load_conv(net->weights, 0, 3, 3, 16, leaky, &layers[0].conv);
    layers[0].pool_stride = 2;
    int cin = 16;
    for (int s = 1; s <= N_SEPARABLE && st == FR_OK; s++) {
        conv_chain_layer *dw = &layers[2 * s - 1], *pw = &layers[2 * s];
        st = load_separable(net->weights, s, cin, 2 * cin, leaky, &dw->conv, &pw->conv);
        dw->depthwise = 1;
        pw->pool_stride = s < N_SEPARABLE ? 2 : 1;
        cin *= 2;
    }
    if (st != FR_OK) return st;
    /* conv6 and conv7 of tiny-YOLOv2 are absent in this net: the head is conv8 */
    return load_conv(net->weights, 8, 1, cin, TINY_ANCHORS * TINY_BOX_VALUES, none,
                     &layers[N_LAYERS - 1].conv);
}

fr_status tiny_face_detector_load(const char *manifest_path, tiny_face_detector **out) {
    if (!manifest_path || !out)
        return fr_error(FR_E_ARG, "tiny_face_detector_load: NULL argument");
    *out = NULL;
    tiny_face_detector *net = calloc(1, sizeof *net);
    if (!net) return fr_error(FR_E_NOMEM, "%s: out of memory", manifest_path);
    fr_status st = nn_tfjs_load(manifest_path, &net->weights);
    if (st == FR_OK) st = build(net);
    if (st == FR_OK && !(net->arenas = nn_arena_pool_new(FACEAPI_ARENAS_KEPT)))
        st = fr_error(FR_E_NOMEM, "%s: out of memory", manifest_path);
    if (st != FR_OK) {
        tiny_face_detector_free(net);
        return fr_error_prefix(st, "tiny face detector");
    }
    *out = net;
    return FR_OK;
}

void tiny_face_detector_free(tiny_face_detector *net) {
    if (!net) return;
    nn_weights_free(net->weights);
    nn_arena_pool_free(net->arenas);
    free(net);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* out is (cells,cells,5 anchors,5 values): boxes relative to the image and scores, (n = all
 * cells x anchors). correction_x/y stretch the input square to the image's resized part. */
static void decode_grid(const float *out, int cells, double correction_x, double correction_y,
                        nms_box *boxes, float *scores) {
    int i = 0;
    for (int row = 0; row < cells; row++)
        for (int col = 0; col < cells; col++)
            for (int a = 0; a < TINY_ANCHORS; a++, i++) {
                const float *v = out + (size_t)i * TINY_BOX_VALUES;
                double cx = (col + sigmoid(v[0])) / cells * correction_x;
                double cy = (row + sigmoid(v[1])) / cells * correction_y;
                double w = exp(v[2]) * anchor_size[a][0] / cells * correction_x;
                double h = exp(v[3]) * anchor_size[a][1] / cells * correction_y;
                double x = cx - w / 2, y = cy - h / 2;
                boxes[i] = (nms_box){(float)x, (float)y, (float)(x + w), (float)(y + h)};
                scores[i] = (float)sigmoid(v[4]);
            }
}

fr_status tiny_face_detector_detect(const tiny_face_detector *net, int threads, const fr_image *img,
                                    int input_size, float min_score, float iou_threshold,
                                    fr_face **faces, int *n_faces) {
    if (!net || !img || !faces || !n_faces)
        return fr_error(FR_E_ARG, "tiny_face_detector_detect: NULL argument");
    *faces = NULL;
    *n_faces = 0;
    if (!img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "tiny_face_detector_detect: empty image");
    if (input_size < TINY_MIN_INPUT || input_size > TINY_MAX_INPUT || input_size % 32 != 0)
        return fr_error(FR_E_ARG,
                        "tiny_face_detector_detect: input size %d is not a multiple of 32 in "
                        "[%d, %d]",
                        input_size, TINY_MIN_INPUT, TINY_MAX_INPUT);
    if (!(min_score >= 0.0f && min_score < 1.0f))
        return fr_error(FR_E_ARG, "tiny_face_detector_detect: min_score %g is not in [0, 1)",
                        (double)min_score);
    if (!(iou_threshold > 0.0f && iou_threshold <= 1.0f))
        return fr_error(FR_E_ARG,
                        "tiny_face_detector_detect: IoU threshold %g is not in (0, 1]",
                        (double)iou_threshold);

    int H = input_size, W = input_size, C = 3;
    size_t max_activation = 0;
    conv_chain_shape(net->layers, N_LAYERS, &H, &W, &C, &max_activation);
    const int cells = H, n_boxes = cells * cells * TINY_ANCHORS;
    const size_t input_floats = (size_t)input_size * (size_t)input_size * 3;

    nn_arena *arena = nn_arena_pool_take(
        net->arenas,
        (input_floats + 2 * max_activation + CONV_CHAIN_SCRATCH_FLOATS) * sizeof(float));
    fr_status st = FR_OK;
    if (!arena) {
        st = fr_error(FR_E_NOMEM, "tiny_face_detector_detect: out of memory");
        goto done;
    }
    float *input = nn_arena_alloc(arena, input_floats);
    float *buf_a = nn_arena_alloc(arena, max_activation);
    float *buf_b = nn_arena_alloc(arena, max_activation);
    nms_box *boxes = nn_arena_alloc_items(arena, (size_t)n_boxes, sizeof *boxes);
    float *scores = nn_arena_alloc(arena, (size_t)n_boxes);
    int *keep = nn_arena_alloc_items(arena, (size_t)n_boxes, sizeof *keep);
    nms_candidate *cand = nn_arena_alloc_items(arena, 2 * (size_t)n_boxes, sizeof *cand);
    if (!input || !buf_a || !buf_b || !boxes || !scores || !keep || !cand) {
        st = fr_error(FR_E_NOMEM, "tiny_face_detector_detect: out of memory for activations");
        goto done;
    }
    faceapi_rect whole = {0, 0, img->width, img->height};
    faceapi_to_square(img, threads, whole, input_size, 0, input);
    for (size_t p = 0; p < input_floats / 3; p++)
        for (int c = 0; c < 3; c++) input[3 * p + c] = (input[3 * p + c] - mean_rgb[c]) / 255.0f;

    H = W = input_size, C = 3;
    const float *out =
        conv_chain_run(net->layers, threads, N_LAYERS, input, &H, &W, &C, buf_a, buf_b, arena);

    /* face-api's correction: the input square holds the image resized to (rounded; at least
     * 1 pixel for a very thin image) rw x rh, the rest is padding */
    double scale = (double)input_size / FR_MAX(img->width, img->height);
    double rw = FR_MAX(1.0, floor(img->width * scale + 0.5));
    double rh = FR_MAX(1.0, floor(img->height * scale + 0.5));
    double side = FR_MAX(rw, rh);
    decode_grid(out, cells, side / rw, side / rh, boxes, scores);
    int n_keep;
    nms_select(boxes, scores, n_boxes, min_score, iou_threshold, n_boxes, cand, keep, &n_keep);
    if (n_keep == 0) goto done;
    *faces = calloc((size_t)n_keep, sizeof **faces);
    if (!*faces) {
        st = fr_error(FR_E_NOMEM, "tiny_face_detector_detect: out of memory for %d faces",
                      n_keep);
        goto done;
    }
    for (int k = 0; k < n_keep; k++) {
        const nms_box *b = &boxes[keep[k]];
        fr_face *f = &(*faces)[k];
        f->x = (float)((double)b->x0 * img->width);
        f->y = (float)((double)b->y0 * img->height);
        f->w = (float)(((double)b->x1 - b->x0) * img->width);
        f->h = (float)(((double)b->y1 - b->y0) * img->height);
        f->score = scores[keep[k]];
    }
    *n_faces = n_keep;
done:
    nn_arena_pool_give(net->arenas, arena);
    return st;
}
