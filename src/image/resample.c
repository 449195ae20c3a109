/* resample.c: bilinear resize and affine warp. Pixel (x, y) is the sample at the point
 * (x, y); pixel centres sit on integer coordinates. */
#include "image/image_internal.h"
#include "image/image_into.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fr_status check_args(const fr_image *img, fr_image **out, const char *what) {
    if (!out) return fr_error(FR_E_ARG, "%s: out is NULL", what);
    *out = NULL;
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "%s: not a valid image", what);
    return FR_OK;
}

/* Where output index i of n samples an axis of src_n pixels: aligned centres,
 * (i + 0.5) * src_n / n - 0.5, clamped to the first and last pixel. */
static void resize_taps(int n, int src_n, int *lo, int *hi, float *frac) {
    double scale = (double)src_n / n;
    for (int i = 0; i < n; i++) {
        double s = FR_CLAMP((i + 0.5) * scale - 0.5, 0.0, (double)(src_n - 1));
        lo[i] = (int)s;
        hi[i] = FR_MIN(lo[i] + 1, src_n - 1);
        frac[i] = (float)(s - lo[i]);
    }
}

static uint8_t round_channel(float v) { return (uint8_t)FR_CLAMP(v + 0.5f, 0.0f, 255.0f); }

// out is (h,w,3), img is (H,W,3)
fr_status fr_image_resize(const fr_image *img, int w, int h, fr_image **out) {
    fr_status st = check_args(img, out, "fr_image_resize");
    if (st != FR_OK) return st;
    fr_image *dst;
    if ((st = fr_image_new(w, h, &dst)) != FR_OK) return fr_error_prefix(st, "fr_image_resize");
    int *x_lo = malloc((size_t)w * sizeof *x_lo), *x_hi = malloc((size_t)w * sizeof *x_hi);
    float *x_frac = malloc((size_t)w * sizeof *x_frac);
    int *y_lo = malloc((size_t)h * sizeof *y_lo), *y_hi = malloc((size_t)h * sizeof *y_hi);
    float *y_frac = malloc((size_t)h * sizeof *y_frac);
    if (!x_lo || !x_hi || !x_frac || !y_lo || !y_hi || !y_frac) {
        st = fr_error(FR_E_NOMEM, "fr_image_resize: out of memory");
    } else {
        resize_taps(w, img->width, x_lo, x_hi, x_frac);
        resize_taps(h, img->height, y_lo, y_hi, y_frac);
        size_t stride = (size_t)img->width * 3;
        for (int y = 0; y < h; y++) {
            const uint8_t *top = img->rgb + (size_t)y_lo[y] * stride;
            const uint8_t *bottom = img->rgb + (size_t)y_hi[y] * stride;
            uint8_t *row = dst->rgb + (size_t)y * (size_t)w * 3;
            float fy = y_frac[y];
            for (int x = 0; x < w; x++) {
                size_t a = (size_t)x_lo[x] * 3, b = (size_t)x_hi[x] * 3;
                float fx = x_frac[x];
                for (int c = 0; c < 3; c++) {
                    float t = top[a + c] + (top[b + c] - top[a + c]) * fx;
                    float u = bottom[a + c] + (bottom[b + c] - bottom[a + c]) * fx;
                    row[x * 3 + c] = round_channel(t + (u - t) * fy);
                }
            }
        }
    }
    free(x_lo), free(x_hi), free(x_frac), free(y_lo), free(y_hi), free(y_frac);
    if (st != FR_OK) fr_image_free(dst);
    else *out = dst;
    return st;
}

/* Channel c of pixel (x, y), black outside the image. */
static float pixel_or_black(const fr_image *img, int x, int y, int c) {
    if (x < 0 || y < 0 || x >= img->width || y >= img->height) return 0.0f;
    return img->rgb[((size_t)y * (size_t)img->width + (size_t)x) * 3 + (size_t)c];
}

// dst is (h,w,3), img is (H,W,3)
void image_warp_affine_into(const fr_image *img, const float m[6], fr_image *dst) {
    int w = dst->width, h = dst->height;
    memset(dst->rgb, 0, (size_t)w * (size_t)h * 3);
    for (int y = 0; y < h; y++) {
        uint8_t *row = dst->rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) {
            double sx = (double)m[0] * x + (double)m[1] * y + m[2];
            double sy = (double)m[3] * x + (double)m[4] * y + m[5];
            /* Points a pixel or more outside (and NaN) touch no source pixel: stay black. */
            if (!(sx > -1.0 && sy > -1.0 && sx < img->width && sy < img->height)) continue;
            int x0 = (int)floor(sx), y0 = (int)floor(sy);
            float fx = (float)(sx - x0), fy = (float)(sy - y0);
            for (int c = 0; c < 3; c++) {
                float p00 = pixel_or_black(img, x0, y0, c);
                float p01 = pixel_or_black(img, x0 + 1, y0, c);
                float p10 = pixel_or_black(img, x0, y0 + 1, c);
                float p11 = pixel_or_black(img, x0 + 1, y0 + 1, c);
                float t = p00 + (p01 - p00) * fx, u = p10 + (p11 - p10) * fx;
                row[x * 3 + c] = round_channel(t + (u - t) * fy);
            }
        }
    }
}

fr_status fr_image_warp_affine(const fr_image *img, const float m[6], int w, int h,
                               fr_image **out) {
    fr_status st = check_args(img, out, "fr_image_warp_affine");
    if (st != FR_OK) return st;
    if (!m) return fr_error(FR_E_ARG, "fr_image_warp_affine: matrix is NULL");
    fr_image *dst;
    if ((st = fr_image_new(w, h, &dst)) != FR_OK)
        return fr_error_prefix(st, "fr_image_warp_affine");
    image_warp_affine_into(img, m, dst);
    *out = dst;
    return FR_OK;
}
