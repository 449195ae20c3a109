/* liveness.c: the liveness stage (see liveness.h). */
#include "face/liveness.h"

#include "common/common.h"
#include "nn/nn.h"
#include "nn/onnx_net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the crop's scale about the box's centre, as in the package's JavaScript */
#define LIVENESS_CROP_SCALE 2.7
#define LIVENESS_ARENAS_KEPT 4

struct liveness_net {
    onnx_net *net;
    nn_arena_pool *arenas; /* kept between calls */
};

fr_status liveness_load(const char *path, liveness_net **out) {
    *out = NULL;
    liveness_net *ln = calloc(1, sizeof *ln);
    if (!ln) return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    fr_status st = onnx_net_load(path, &ln->net);
    int rank, in_rank, in[NN_MAX_RANK], outs[NN_MAX_RANK];
    if (st == FR_OK) {
        onnx_net_input_shape(ln->net, &in_rank, in);
        onnx_net_output_shape(ln->net, &rank, outs);
        if (in_rank != 4 || in[0] != 1 || in[1] != 3 || in[2] != LIVENESS_SIZE ||
            in[3] != LIVENESS_SIZE || rank != 2 || outs[0] != 1 || outs[1] != 3)
            st = fr_error(FR_E_MODEL, "%s: not the liveness network (its input must be "
                          "[1,3,%d,%d] and its output [1,3])", path, LIVENESS_SIZE, LIVENESS_SIZE);
    }
    if (st == FR_OK && !(ln->arenas = nn_arena_pool_new(LIVENESS_ARENAS_KEPT)))
        st = fr_error(FR_E_NOMEM, "%s: out of memory", path);
    if (st != FR_OK) {
        liveness_free(ln);
        return st;
    }
    *out = ln;
    return FR_OK;
}

void liveness_free(liveness_net *ln) {
    if (!ln) return;
    onnx_net_free(ln->net);
    nn_arena_pool_free(ln->arenas);
    free(ln);
}

/* A port of alignLivenessImage in the package's lib/fr_liveness.js, in double like
 * JavaScript: the box's corners truncated to integers, scaled about its centre, shifted
 * back inside the image (less its last row and column), the corners truncated again. */
void liveness_crop_rect(int width, int height, const fr_face *face, int rect[4]) {
    double x1 = trunc((double)face->x), y1 = trunc((double)face->y);
    double x2 = trunc((double)face->x + (double)face->w);
    double y2 = trunc((double)face->y + (double)face->h);
    double bw = FR_MAX(fabs(x2 - x1), 1.0), bh = FR_MAX(fabs(y2 - y1), 1.0);
    double scale = FR_MIN((height - 1) / bh, FR_MIN((width - 1) / bw, LIVENESS_CROP_SCALE));
    double nw = bw * scale, nh = bh * scale;
    double cx = bw / 2 + x1, cy = bh / 2 + y1;
    double l = cx - nw / 2, t = cy - nh / 2, r = cx + nw / 2, b = cy + nh / 2;
    if (l < 0) r -= l, l = 0;
    if (t < 0) b -= t, t = 0;
    if (r > width - 1) l -= r - width + 1, r = width - 1;
    if (b > height - 1) t -= b - height + 1, b = height - 1;
    int x = (int)FR_MAX(trunc(l), 0.0), y = (int)FR_MAX(trunc(t), 0.0);
    int w = (int)FR_MIN(trunc(r - l), (double)(width - 1));
    int h = (int)FR_MIN(trunc(b - t), (double)(height - 1));
    /* a box far outside the image can still leave the rectangle partly out: clip it */
    x = FR_MIN(x, width - 1);
    y = FR_MIN(y, height - 1);
    rect[0] = x;
    rect[1] = y;
    rect[2] = FR_MAX(FR_MIN(w, width - x), 1);
    rect[3] = FR_MAX(FR_MIN(h, height - y), 1);
}

void liveness_input(int threads, const fr_image *img, const int rect[4], float *out) {
    size_t stride = (size_t)img->width * 3;
    const uint8_t *origin = img->rgb + (size_t)rect[1] * stride + (size_t)rect[0] * 3;
    /* OpenCV's INTER_LINEAR sampling (half-pixel centres), kept in float */
    nn_resize_bilinear_canvas(threads, origin, stride, rect[3], rect[2], 3, 0, 0, rect[3], rect[2],
                              LIVENESS_SIZE, LIVENESS_SIZE, 0, 1, out);
    for (size_t p = 0; p < (size_t)LIVENESS_SIZE * LIVENESS_SIZE; p++) {
        float r = out[3 * p];
        out[3 * p] = out[3 * p + 2];
        out[3 * p + 2] = r;
    }
}

/* Floats of one input, 128x128x3 */
#define LIVENESS_INPUT_FLOATS ((size_t)LIVENESS_SIZE * LIVENESS_SIZE * 3)

/* An arena of the pool with room for an input and a run of the network. */
static nn_arena *take_arena(liveness_net *ln) {
    return nn_arena_pool_take(
        ln->arenas, (LIVENESS_INPUT_FLOATS + onnx_net_arena_floats(ln->net)) * sizeof(float));
}

fr_status liveness_logits(liveness_net *ln, int threads, const float *input, float logits[3]) {
    nn_arena *a = take_arena(ln);
    if (!a) return fr_error(FR_E_NOMEM, "out of memory running the liveness network");
    fr_status st = onnx_net_run(ln->net, threads, input, logits, a);
    nn_arena_pool_give(ln->arenas, a);
    return st;
}

fr_status liveness_scores(liveness_net *ln, int threads, const fr_image *img,
                          const fr_face *faces, int n, float *scores) {
    /* the input and the network's activations come from one arena of the pool: after the
     * first call nothing is allocated (the memory policy of src/nn/nn.h) */
    nn_arena *a = take_arena(ln);
    float *input = a ? nn_arena_alloc(a, LIVENESS_INPUT_FLOATS) : NULL;
    if (!input) {
        nn_arena_pool_give(ln->arenas, a);
        return fr_error(FR_E_NOMEM, "out of memory for the liveness input");
    }
    fr_status st = FR_OK;
    for (int i = 0; i < n && st == FR_OK; i++) {
        const fr_face *f = &faces[i];
        /* boxes come from the caller: keep the crop's arithmetic within int */
        if (!(fabsf(f->x) <= 1e7f && fabsf(f->y) <= 1e7f && fabsf(f->w) <= 1e7f &&
              fabsf(f->h) <= 1e7f)) {
            st = fr_error(FR_E_ARG, "fr_liveness: face %d has a box that is not finite or far "
                          "outside any image", i);
            break;
        }
        int rect[4];
        float logits[3];
        liveness_crop_rect(img->width, img->height, &faces[i], rect);
        liveness_input(threads, img, rect, input);
        st = onnx_net_run(ln->net, threads, input, logits, a);
        if (st != FR_OK) break;
        nn_softmax(1, logits, 1, 3);
        scores[i] = logits[0];
    }
    nn_arena_pool_give(ln->arenas, a);
    return st;
}
