/* faceapi_input.c: face-api.js's input preparation (see faceapi_input.h). */
#include "nets/faceapi_input.h"

#include "common/common.h"

#include <math.h>

int faceapi_clip_box(double x, double y, double w, double h, int img_w, int img_h,
                     faceapi_rect *out) {
    double left = FR_MAX(x, 0.0), top = FR_MAX(y, 0.0);
    double width = FR_MIN(x + w - left, img_w - left);
    double height = FR_MIN(y + h - top, img_h - top);
    /* (also false for NaN; past this point every value lies within the image) */
    if (!(floor(width) >= 1.0 && floor(height) >= 1.0)) {
        *out = (faceapi_rect){0, 0, 0, 0};
        return 0;
    }
    /* each value is floored on its own, the width too (not right - floor(left)) */
    *out = (faceapi_rect){(int)floor(left), (int)floor(top), (int)floor(width), (int)floor(height)};
    return 1;
}

void faceapi_to_square(const fr_image *img, int threads, faceapi_rect r, int size, int centered,
                       float *out) {
    int side = FR_MAX(r.w, r.h);
    int diff = side - FR_MIN(r.w, r.h);
    /* padToSquare: Math.round(diff / 2) zero rows (or columns) after the image, the rest
     * before it; not centred: all after. */
    int after = centered ? (diff + 1) / 2 : diff;
    int before = diff - after;
    int off_x = r.h > r.w ? before : 0;
    int off_y = r.h > r.w ? 0 : before;
    size_t stride = (size_t)img->width * 3;
    const uint8_t *region = img->rgb + (size_t)r.y * stride + (size_t)r.x * 3;
    nn_resize_bilinear_canvas(threads, region, stride, r.h, r.w, 3, off_y, off_x, side, side, size,
                              size, 0, 0, out);
}

void faceapi_normalize(float *x, size_t P) {
    const float mean_rgb[3] = {122.782f, 117.001f, 104.298f};
    for (size_t p = 0; p < P; p++)
        for (int c = 0; c < 3; c++) x[p * 3 + c] = (x[p * 3 + c] - mean_rgb[c]) / 255.0f;
}
