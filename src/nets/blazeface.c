/* blazeface.c: MediaPipe's BlazeFace face detectors (short and full range) from their TFLite
 * files, on the graph evaluator, with the post-processing of MediaPipe's face detection
 * graphs.
 *
 * Input: the image letterboxed into a square (the longer side fits, the shorter is centred
 * between black borders), resized bilinearly to S x S (128 short range, 192 full range),
 * RGB as x / 127.5 - 1.
 *
 * Anchors (SSD anchors of fixed size 1, centred in their cells at offset 0.5): the layers'
 * strides are 8, 16, 16, 16 for short range (two anchors per cell on the 16x16 grid, and
 * layers of equal stride merged: six per cell on the 8x8 grid, 896 in all) and 4 for full
 * range (one per cell on 48x48, 2304), anchors in row-major cell order.
 *
 * Decoding, per anchor (ax, ay): the 16 regressors are, in input pixels, the box centre
 * offset (x, y), its size (w, h), then 6 keypoints (x, y) offset from the anchor; each is
 * divided by S and the anchor centre added (normalised square coordinates). The score is
 * the sigmoid of the logit clipped to [-100, 100].
 *
 * Suppression is MediaPipe's weighted NMS: the best remaining detection gathers every
 * remaining one whose IoU with it is above 0.3 (itself included); its box and keypoints
 * become their score-weighted mean, its score stays its own, and they are all removed. */
#include "nets/tflite_nets.h"

#include "common/common.h"
#include "nets/nms.h"
#include "nn/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_REGRESSORS (4 + 2 * BLAZEFACE_KEYPOINTS)
#define LOGIT_CLIP 100.0f

struct blazeface {
    nn_graph *graph;
    int size;          /* input side */
    int n_anchors;
    float *anchors;    /* (n_anchors,2): centres x, y in 0..1 */
    int out_reg, out_score;
    nn_arena_pool *scratch; /* a call's decoded detections */
};

#define SCRATCH_KEPT 8 /* arenas kept: one per thread detecting at once */

void blazeface_free(blazeface *net) {
    if (!net) return;
    nn_graph_free(net->graph);
    free(net->anchors);
    nn_arena_pool_free(net->scratch);
    free(net);
}

int blazeface_input_size(const blazeface *net) { return net->size; }
int blazeface_n_anchors(const blazeface *net) { return net->n_anchors; }

/* The anchors of MediaPipe's SSD anchor generator for strides (layers of equal stride
 * share one grid), anchors_per_layer on each, fixed size; writes (n,2) centres if out. */
static int make_anchors(int size, const int *strides, int n_layers, int anchors_per_layer,
                        float *out) {
    int n = 0;
    for (int layer = 0; layer < n_layers;) {
        int same = layer;
        while (same < n_layers && strides[same] == strides[layer]) same++;
        int per_cell = anchors_per_layer * (same - layer);
        int grid = (size + strides[layer] - 1) / strides[layer];
        for (int y = 0; y < grid; y++)
            for (int x = 0; x < grid; x++)
                for (int k = 0; k < per_cell; k++, n++)
                    if (out) {
                        out[2 * n] = ((float)x + 0.5f) / (float)grid;
                        out[2 * n + 1] = ((float)y + 0.5f) / (float)grid;
                    }
        layer = same;
    }
    return n;
}

fr_status blazeface_load(const char *path, blazeface **out) {
    if (!path || !out) return fr_error(FR_E_ARG, "blazeface_load: NULL argument");
    *out = NULL;
    blazeface *net = calloc(1, sizeof *net);
    if (net && !(net->scratch = nn_arena_pool_new(SCRATCH_KEPT))) {
        free(net);
        net = NULL;
    }
    if (!net) return fr_error(FR_E_NOMEM, "%s: no memory for BlazeFace", path);
    fr_status st = nn_graph_load_tflite(path, &net->graph);
    int rank = 0, shape[NN_MAX_RANK] = {0};
    if (st == FR_OK) nn_graph_input_file_shape(net->graph, 0, &rank, shape);
    /* short range: strides 8, 16, 16, 16 with two anchors per layer and cell; full range:
     * stride 4, one anchor per cell */
    static const int short_strides[] = {8, 16, 16, 16}, full_strides[] = {4};
    const int *strides = NULL;
    int n_layers = 0, per_layer = 0;
    if (st == FR_OK && rank == 4 && shape[1] == 128 && shape[2] == 128)
        strides = short_strides, n_layers = 4, per_layer = 2;
    else if (st == FR_OK && rank == 4 && shape[1] == 192 && shape[2] == 192)
        strides = full_strides, n_layers = 1, per_layer = 1;
    if (st == FR_OK && (!strides || shape[3] != 3 || nn_graph_n_inputs(net->graph) != 1 ||
                        nn_graph_n_outputs(net->graph) != 2))
        st = fr_error(FR_E_MODEL, "%s: not a BlazeFace face detector (expected one "
                      "(1,128,128,3) or (1,192,192,3) input and two outputs)", path);
    if (st == FR_OK) {
        net->size = shape[1];
        net->n_anchors = make_anchors(net->size, strides, n_layers, per_layer, NULL);
        /* the outputs are told apart by their last dimension: 16 regressors, 1 score */
        net->out_reg = net->out_score = -1;
        for (int i = 0; i < 2; i++) {
            nn_graph_output_file_shape(net->graph, i, &rank, shape);
            int ok = rank == 3 && shape[1] == net->n_anchors;
            if (ok && shape[2] == N_REGRESSORS) net->out_reg = i;
            if (ok && shape[2] == 1) net->out_score = i;
        }
        if (net->out_reg < 0 || net->out_score < 0)
            st = fr_error(FR_E_MODEL, "%s: expected outputs (1,%d,%d) and (1,%d,1)", path,
                          net->n_anchors, N_REGRESSORS, net->n_anchors);
    }
    if (st == FR_OK) {
        net->anchors = malloc((size_t)net->n_anchors * 2 * sizeof *net->anchors);
        if (!net->anchors) st = fr_error(FR_E_NOMEM, "%s: no memory for the anchors", path);
        else make_anchors(net->size, strides, n_layers, per_layer, net->anchors);
    }
    if (st != FR_OK) {
        blazeface_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

/* A session of the graph's pool planned for (1,S,S,3); *x is where to write the input. */
static fr_status take_session(const blazeface *net, nn_graph_session **s, float **x) {
    *x = NULL;
    fr_status st = nn_graph_session_take(net->graph, s);
    if (st == FR_OK)
        st = nn_graph_set_input_shape(*s, 0, 4, (const int[]){1, net->size, net->size, 3});
    if (st == FR_OK) *x = nn_graph_input(*s, 0);
    return st;
}

/* The outputs of the last run of s, valid until its next run: regressors (n_anchors,16)
 * and logits (n_anchors). */
static void outputs(const blazeface *net, const nn_graph_session *s, const float **regressors,
                    const float **logits) {
    int rank, shape[NN_MAX_RANK];
    *regressors = nn_graph_output(s, net->out_reg, &rank, shape);
    *logits = nn_graph_output(s, net->out_score, &rank, shape);
}

fr_status blazeface_forward(const blazeface *net, int threads, const float *x, float *regressors,
                            float *logits) {
    if (!net || !x || !regressors || !logits)
        return fr_error(FR_E_ARG, "blazeface_forward: NULL argument");
    nn_graph_session *s;
    float *input;
    fr_status st = take_session(net, &s, &input);
    if (st == FR_OK) {
        memcpy(input, x, (size_t)net->size * net->size * 3 * sizeof *x);
        st = nn_graph_run(s, threads);
    }
    if (st == FR_OK) {
        const float *reg, *lg;
        outputs(net, s, &reg, &lg);
        memcpy(regressors, reg, (size_t)net->n_anchors * N_REGRESSORS * sizeof *regressors);
        memcpy(logits, lg, (size_t)net->n_anchors * sizeof *logits);
    }
    nn_graph_session_give(s);
    return st;
}

/* One decoded detection, in normalised coordinates of the letterboxed square. */
typedef struct detection {
    float score;
    float box[4]; /* x0, y0, x1, y1 */
    float keypoints[BLAZEFACE_KEYPOINTS][2];
} detection;

static int by_score_desc(const void *pa, const void *pb) {
    const detection *a = pa, *b = pb;
    return (a->score < b->score) - (a->score > b->score);
}

/* The detections scoring >= min_score, best first, in d (room for two per anchor: the
 * second half is the sort's scratch). */
static void decode(const blazeface *net, const float *reg, const float *logits,
                   float min_score, detection *d, int *n_out) {
    const float inv = 1.0f / (float)net->size;
    int k = 0;
    for (int a = 0; a < net->n_anchors; a++) {
        float score = 1.0f / (1.0f + expf(-FR_CLAMP(logits[a], -LOGIT_CLIP, LOGIT_CLIP)));
        if (!(score >= min_score)) continue;
        const float *r = reg + (size_t)a * N_REGRESSORS;
        float ax = net->anchors[2 * a], ay = net->anchors[2 * a + 1];
        float cx = r[0] * inv + ax, cy = r[1] * inv + ay, w = r[2] * inv, h = r[3] * inv;
        detection *e = &d[k++];
        e->score = score;
        e->box[0] = cx - 0.5f * w, e->box[1] = cy - 0.5f * h;
        e->box[2] = cx + 0.5f * w, e->box[3] = cy + 0.5f * h;
        for (int p = 0; p < BLAZEFACE_KEYPOINTS; p++) {
            e->keypoints[p][0] = r[4 + 2 * p] * inv + ax;
            e->keypoints[p][1] = r[5 + 2 * p] * inv + ay;
        }
    }
    sort_stable(d, (size_t)k, sizeof *d, by_score_desc, d + net->n_anchors);
    *n_out = k;
}

static nms_box box_of(const detection *d) {
    return (nms_box){d->box[0], d->box[1], d->box[2], d->box[3]};
}

/* MediaPipe's weighted NMS over d (best first), in place: *n becomes the number of blended
 * detections, best first. */
static void weighted_nms(detection *d, int *n, float iou_threshold) {
    int remaining = *n, kept = 0;
    while (remaining > 0) {
        /* d[kept] is the best remaining: blend it with its overlaps, compact the rest */
        detection top = d[kept];
        nms_box top_box = box_of(&top);
        double weight = 0, box[4] = {0}, kp[BLAZEFACE_KEYPOINTS][2] = {{0}};
        int rest = kept + 1;
        for (int i = kept; i < kept + remaining; i++) {
            nms_box b = box_of(&d[i]);
            if (i == kept || nms_iou(&top_box, &b) > iou_threshold) {
                double s = d[i].score;
                weight += s;
                for (int c = 0; c < 4; c++) box[c] += s * d[i].box[c];
                for (int p = 0; p < BLAZEFACE_KEYPOINTS; p++) {
                    kp[p][0] += s * d[i].keypoints[p][0];
                    kp[p][1] += s * d[i].keypoints[p][1];
                }
            } else {
                d[rest++] = d[i];
            }
        }
        if (weight > 0) {
            for (int c = 0; c < 4; c++) top.box[c] = (float)(box[c] / weight);
            for (int p = 0; p < BLAZEFACE_KEYPOINTS; p++) {
                top.keypoints[p][0] = (float)(kp[p][0] / weight);
                top.keypoints[p][1] = (float)(kp[p][1] / weight);
            }
        }
        d[kept++] = top;
        remaining = rest - kept;
    }
    *n = kept;
}

fr_status blazeface_detect(const blazeface *net, int threads, const fr_image *img, float min_score,
                           fr_face **faces, int *n_faces) {
    if (!faces || !n_faces) return fr_error(FR_E_ARG, "blazeface_detect: NULL argument");
    *faces = NULL;
    *n_faces = 0;
    if (!net || !img || !img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "blazeface_detect: invalid argument");

    /* the letterbox: the image centred in a side x side square */
    const int side = FR_MAX(img->width, img->height), S = net->size;
    const int off_x = (side - img->width) / 2, off_y = (side - img->height) / 2;
    nn_arena *a = nn_arena_pool_take(net->scratch,
                                     2 * (size_t)net->n_anchors * sizeof(detection) + 64);
    detection *d = a ? nn_arena_alloc_items(a, 2 * (size_t)net->n_anchors, sizeof *d) : NULL;
    nn_graph_session *s = NULL;
    float *x = NULL;
    fr_status st = d ? take_session(net, &s, &x) : fr_error(FR_E_NOMEM, "BlazeFace: out of memory");
    if (st == FR_OK) {
        nn_resize_bilinear_canvas(threads, img->rgb, (size_t)img->width * 3, img->height,
                                  img->width, 3, off_y, off_x, side, side, S, S, 0, 1, x);
        for (size_t i = 0; i < (size_t)S * S * 3; i++) x[i] = x[i] / 127.5f - 1.0f;
        st = nn_graph_run(s, threads);
    }
    int n = 0;
    if (st == FR_OK) {
        const float *reg, *logits;
        outputs(net, s, &reg, &logits);
        decode(net, reg, logits, min_score, d, &n);
    }
    nn_graph_session_give(s);
    if (st == FR_OK && n > 0) {
        weighted_nms(d, &n, BLAZEFACE_NMS_THRESHOLD);
        *faces = calloc((size_t)n, sizeof **faces);
        if (!*faces) st = fr_error(FR_E_NOMEM, "BlazeFace: out of memory for %d faces", n);
    }
    for (int i = 0; st == FR_OK && i < n; i++) {
        fr_face *f = &(*faces)[i];
        const detection *e = &d[i];
        f->x = e->box[0] * (float)side - (float)off_x;
        f->y = e->box[1] * (float)side - (float)off_y;
        f->w = (e->box[2] - e->box[0]) * (float)side;
        f->h = (e->box[3] - e->box[1]) * (float)side;
        f->score = e->score;
        f->n_landmarks = BLAZEFACE_KEYPOINTS;
        for (int p = 0; p < BLAZEFACE_KEYPOINTS; p++) {
            f->landmarks[p][0] = e->keypoints[p][0] * (float)side - (float)off_x;
            f->landmarks[p][1] = e->keypoints[p][1] * (float)side - (float)off_y;
        }
    }
    if (st == FR_OK) *n_faces = n;
    nn_arena_pool_give(net->scratch, a);
    return st;
}
