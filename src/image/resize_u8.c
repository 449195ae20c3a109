/* resize_u8.c: OpenCV's fixed-point INTER_LINEAR resize of 8-bit images (image/resize_u8.h). */
#include "image/resize_u8.h"

#include "common/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESIZE_COEF_BITS 11
#define RESIZE_ONE (1 << RESIZE_COEF_BITS)

/* Source index and the two 11-bit weights of each of n outputs over an axis of src_n. */
static void resize_taps_u8(int n, int src_n, int *index, int16_t *weights) {
    double scale = 1.0 / ((double)n / src_n);
    for (int i = 0; i < n; i++) {
        float f = (float)((i + 0.5) * scale - 0.5);
        int s = (int)floorf(f);
        f -= (float)s;
        if (s < 0) f = 0, s = 0;
        if (s >= src_n - 1) f = 0, s = src_n - 1;
        index[i] = s;
        weights[2 * i] = (int16_t)lrintf((1.0f - f) * RESIZE_ONE);
        weights[2 * i + 1] = (int16_t)lrintf(f * RESIZE_ONE);
    }
}

fr_status image_resize_u8(const uint8_t *src, int w, int h, int channels, uint8_t *dst, int dw,
                         int dh) {
    if (!src || !dst || w <= 0 || h <= 0 || dw <= 0 || dh <= 0 || channels <= 0)
        return fr_error(FR_E_ARG, "image_resize_u8: invalid argument");
    size_t row_len = (size_t)dw * channels;
    if (w == dw && h == dh) {
        memcpy(dst, src, row_len * (size_t)dh);
        return FR_OK;
    }
    int *x_index = malloc(sizeof(int) * (size_t)dw), *y_index = malloc(sizeof(int) * (size_t)dh);
    int16_t *x_w = malloc(sizeof(int16_t) * 2 * (size_t)dw);
    int16_t *y_w = malloc(sizeof(int16_t) * 2 * (size_t)dh);
    int32_t *rows = malloc(sizeof(int32_t) * 2 * row_len); /* two horizontally resized rows */
    fr_status st = FR_OK;
    if (!x_index || !y_index || !x_w || !y_w || !rows) {
        st = fr_error(FR_E_NOMEM, "image_resize_u8: out of memory");
    } else {
        resize_taps_u8(dw, w, x_index, x_w);
        resize_taps_u8(dh, h, y_index, y_w);
        int cached[2] = {-1, -1}; /* source rows held in rows[0], rows[1] */
        for (int y = 0; y < dh; y++) {
            int src_rows[2] = {FR_CLAMP(y_index[y], 0, h - 1), FR_CLAMP(y_index[y] + 1, 0, h - 1)};
            for (int k = 0; k < 2; k++) {
                int32_t *r = rows + (size_t)k * row_len;
                if (cached[k] == src_rows[k]) continue;
                if (k == 0 && cached[1] == src_rows[0]) { /* slide the window down one row */
                    memcpy(rows, rows + row_len, sizeof(int32_t) * row_len);
                    cached[0] = cached[1];
                    cached[1] = -1;
                    continue;
                }
                const uint8_t *s = src + (size_t)src_rows[k] * w * channels;
                for (int x = 0; x < dw; x++) {
                    int x0 = x_index[x], x1 = FR_MIN(x0 + 1, w - 1);
                    for (int c = 0; c < channels; c++)
                        r[(size_t)x * channels + c] = s[x0 * channels + c] * x_w[2 * x] +
                                                      s[x1 * channels + c] * x_w[2 * x + 1];
                }
                cached[k] = src_rows[k];
            }
            /* OpenCV's SIMD vertical pass: 16-bit high products of (row >> 4) and each
             * weight, then a rounding shift by 2 (rows are at most 255 * 2048) */
            int b0 = y_w[2 * y], b1 = y_w[2 * y + 1];
            uint8_t *d = dst + (size_t)y * row_len;
            for (size_t i = 0; i < row_len; i++) {
                int v = (((rows[i] >> 4) * b0) >> 16) + (((rows[row_len + i] >> 4) * b1) >> 16);
                d[i] = (uint8_t)FR_CLAMP((v + 2) >> 2, 0, 255);
            }
        }
    }
    free(x_index), free(y_index), free(x_w), free(y_w), free(rows);
    return st;
}
