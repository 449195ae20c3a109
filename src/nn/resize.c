/* resize.c: bilinear resize with TensorFlow's coordinate conventions.
 *
 * Output pixel i samples the input at
 *   half_pixel_centers: (i + 0.5) * scale - 0.5      otherwise: i * scale
 * with scale = (in - 1) / (out - 1) under align_corners (and out > 1), else in / out; tfjs
 * defaults to neither. The sample is interpolated between floor (at least 0) and ceil (at
 * most in - 1), in float as TensorFlow does, so that results match it to the last bits. */
#include "common/common.h"
#include "nn/kernels.h"

#include <math.h>
#include <stdint.h>

typedef struct resize_job {
    const float *in;
    float *out;
    int N, H, W, C, OH, OW, half_pixel_centers;
    float scale_y, scale_x;
    nn_split split; /* output rows (n, oy) per task */
} resize_job;

typedef struct sample {
    int lower, upper;
    float lerp;
} sample;

static float resize_scale(int in, int out, int align_corners) {
    return align_corners && out > 1 ? (float)(in - 1) / (float)(out - 1)
                                    : (float)in / (float)out;
}

static sample sample_at(int i, float scale, int half_pixel_centers, int size) {
    float src = half_pixel_centers ? ((float)i + 0.5f) * scale - 0.5f : (float)i * scale;
    float below = floorf(src);
    sample s = {(int)FR_MAX(below, 0.0f), (int)FR_MIN(ceilf(src), (float)(size - 1)),
                src - below};
    return s;
}

/* out (C) = a + (b - a) * t, per channel */
static void lerp_channels(float *restrict out, const float *restrict a,
                          const float *restrict b, float t, int C) {
    for (int c = 0; c < C; c++) out[c] = a[c] + (b[c] - a[c]) * t;
}

static void resize_row(const resize_job *j, int r, float *restrict top, float *restrict bottom) {
    int n = r / j->OH, oy = r % j->OH, C = j->C;
    sample sy = sample_at(oy, j->scale_y, j->half_pixel_centers, j->H);
    const float *image = j->in + (size_t)n * j->H * j->W * C;
    const float *row0 = image + (size_t)sy.lower * j->W * C;
    const float *row1 = image + (size_t)sy.upper * j->W * C;
    for (int ox = 0; ox < j->OW; ox++) {
        sample sx = sample_at(ox, j->scale_x, j->half_pixel_centers, j->W);
        float *o = j->out + ((size_t)r * j->OW + ox) * C;
        for (int c0 = 0; c0 < C; c0 += 64) { /* top and bottom hold 64 channels */
            int cn = FR_MIN(64, C - c0);
            lerp_channels(top, row0 + (size_t)sx.lower * C + c0, row0 + (size_t)sx.upper * C + c0,
                          sx.lerp, cn);
            lerp_channels(bottom, row1 + (size_t)sx.lower * C + c0,
                          row1 + (size_t)sx.upper * C + c0, sx.lerp, cn);
            lerp_channels(o + c0, top, bottom, sy.lerp, cn);
        }
    }
}

static void resize_task(void *ctx, int i) {
    const resize_job *j = ctx;
    float top[64], bottom[64];
    size_t r0 = (size_t)i * j->split.per_task;
    size_t r1 = FR_MIN(r0 + j->split.per_task, (size_t)j->N * j->OH);
    for (size_t r = r0; r < r1; r++) resize_row(j, (int)r, top, bottom);
}

/* ---- a byte image inside a zero canvas ---- */

typedef struct canvas_job {
    const uint8_t *in;
    size_t stride;
    int H, W, C, off_y, off_x, CH, CW, OH, OW, half_pixel_centers;
    float scale_y, scale_x;
    float *out;
    nn_split split; /* output rows per task */
} canvas_job;

/* Where a canvas coordinate (row or column) reads the image: the index of a pixel inside
 * it, and 1 there or 0 where the canvas is zero (the pixel read is then any valid one and
 * multiplied by 0: exact, and free of branches). */
typedef struct canvas_coord {
    int index;
    float inside;
} canvas_coord;

static canvas_coord canvas_coord_at(int canvas_index, int offset, int size) {
    int i = canvas_index - offset;
    canvas_coord cc = {i >= 0 && i < size ? i : 0, i >= 0 && i < size ? 1.0f : 0.0f};
    return cc;
}

#define CANVAS_COLUMNS 128 /* columns whose samples are worked out at once */

/* The same float operations as resize_row, on the canvas's values. */
static void canvas_task(void *ctx, int i) {
    const canvas_job *j = ctx;
    int oy0 = i * (int)j->split.per_task, oy1 = FR_MIN(oy0 + (int)j->split.per_task, j->OH);
    canvas_coord lower[CANVAS_COLUMNS], upper[CANVAS_COLUMNS];
    float lerp[CANVAS_COLUMNS];
    for (int ox0 = 0; ox0 < j->OW; ox0 += CANVAS_COLUMNS) {
        int n = FR_MIN(CANVAS_COLUMNS, j->OW - ox0);
        for (int k = 0; k < n; k++) {
            sample sx = sample_at(ox0 + k, j->scale_x, j->half_pixel_centers, j->CW);
            lower[k] = canvas_coord_at(sx.lower, j->off_x, j->W);
            upper[k] = canvas_coord_at(sx.upper, j->off_x, j->W);
            lerp[k] = sx.lerp;
        }
        for (int oy = oy0; oy < oy1; oy++) {
            sample sy = sample_at(oy, j->scale_y, j->half_pixel_centers, j->CH);
            canvas_coord y0 = canvas_coord_at(sy.lower, j->off_y, j->H);
            canvas_coord y1 = canvas_coord_at(sy.upper, j->off_y, j->H);
            const uint8_t *row0 = j->in + (size_t)y0.index * j->stride;
            const uint8_t *row1 = j->in + (size_t)y1.index * j->stride;
            float *o = j->out + ((size_t)oy * j->OW + ox0) * j->C;
            for (int k = 0; k < n; k++) {
                size_t lo = (size_t)lower[k].index * j->C, up = (size_t)upper[k].index * j->C;
                float m00 = y0.inside * lower[k].inside, m01 = y0.inside * upper[k].inside;
                float m10 = y1.inside * lower[k].inside, m11 = y1.inside * upper[k].inside;
                for (int c = 0; c < j->C; c++, o++) {
                    float a = (float)row0[lo + c] * m00, b = (float)row0[up + c] * m01;
                    float top = a + (b - a) * lerp[k];
                    a = (float)row1[lo + c] * m10, b = (float)row1[up + c] * m11;
                    float bottom = a + (b - a) * lerp[k];
                    *o = top + (bottom - top) * sy.lerp;
                }
            }
        }
    }
}

void nn_resize_bilinear_canvas(int threads, const uint8_t *in, size_t stride, int H, int W, int C,
                               int off_y, int off_x, int CH, int CW, int OH, int OW,
                               int align_corners, int half_pixel_centers, float *out) {
    canvas_job j = {.in = in, .stride = stride, .H = H, .W = W, .C = C, .off_y = off_y,
                    .off_x = off_x, .CH = CH, .CW = CW, .OH = OH, .OW = OW,
                    .half_pixel_centers = half_pixel_centers,
                    .scale_y = resize_scale(CH, OH, align_corners),
                    .scale_x = resize_scale(CW, OW, align_corners), .out = out};
    j.split = nn_split_work((size_t)OH, (size_t)OW * C * 16);
    nn_parallel_for(threads, j.split.n_tasks, canvas_task, &j);
}

void nn_resize_bilinear(int threads, const float *in, int N, int H, int W, int C, int OH, int OW,
                        int align_corners, int half_pixel_centers, float *out) {
    resize_job j = {.in = in, .out = out, .N = N, .H = H, .W = W, .C = C, .OH = OH, .OW = OW,
                    .half_pixel_centers = half_pixel_centers,
                    .scale_y = resize_scale(H, OH, align_corners),
                    .scale_x = resize_scale(W, OW, align_corners)};
    j.split = nn_split_work((size_t)N * OH, (size_t)OW * C * 8);
    nn_parallel_for(threads, j.split.n_tasks, resize_task, &j);
}
