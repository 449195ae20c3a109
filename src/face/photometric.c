/* photometric.c: photometric normalisation of aligned face crops (see photometric.h). */
#include "face/photometric.h"

#include "common/common.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"none", "histeq", "tan-triggs"};

fr_status photometric_find(const char *name, photometric_kind *kind) {
    *kind = PHOTOMETRIC_NONE;
    if (!name) return FR_OK;
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++)
        if (!strcmp(name, names[k])) {
            *kind = (photometric_kind)k;
            return FR_OK;
        }
    return fr_error(FR_E_ARG, "unknown photometric normalisation '%s' (known: none, histeq, "
                    "tan-triggs)", name);
}

const char *photometric_name(photometric_kind kind) { return names[kind]; }

static float luminance(const uint8_t *p) {
    return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

static void histogram_equalise(fr_image *crop) {
    size_t n = (size_t)crop->width * (size_t)crop->height;
    unsigned hist[256] = {0};
    for (size_t i = 0; i < n; i++) hist[(int)lroundf(luminance(crop->rgb + 3 * i))]++;
    /* the cumulative share below each level, stretched so the darkest used level is 0 */
    float map[256];
    unsigned below = 0, first = 0;
    for (int v = 0; v < 256 && !first; v++) first = hist[v];
    for (int v = 0; v < 256; v++) {
        below += hist[v];
        map[v] = n > first ? 255.0f * (float)(below - first) / (float)(n - first) : (float)v;
        if (map[v] < 0) map[v] = 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = crop->rgb + 3 * i;
        float y = luminance(p), target = map[(int)lroundf(y)];
        float gain = y > 0.5f ? target / y : 0;
        for (int c = 0; c < 3; c++) {
            float v = y > 0.5f ? p[c] * gain : target;
            p[c] = (uint8_t)lroundf(v > 255 ? 255 : v);
        }
    }
}

/* Gaussian blur of src (w x h) into dst, separable, edges clamped; tmp is w * h. */
static void blur(const float *src, float *dst, float *tmp, int w, int h, float sigma) {
    int radius = (int)ceilf(3 * sigma);
    float kernel[32];
    if (radius > 15) radius = 15;
    float sum = 0;
    for (int k = -radius; k <= radius; k++) sum += kernel[k + radius] = expf(-(float)(k * k) / (2 * sigma * sigma));
    for (int k = 0; k <= 2 * radius; k++) kernel[k] /= sum;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = 0;
            for (int k = -radius; k <= radius; k++) {
                int xx = x + k < 0 ? 0 : x + k >= w ? w - 1 : x + k;
                v += kernel[k + radius] * src[(size_t)y * w + xx];
            }
            tmp[(size_t)y * w + x] = v;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = 0;
            for (int k = -radius; k <= radius; k++) {
                int yy = y + k < 0 ? 0 : y + k >= h ? h - 1 : y + k;
                v += kernel[k + radius] * tmp[(size_t)yy * w + x];
            }
            dst[(size_t)y * w + x] = v;
        }
}

/* Tan and Triggs, "Enhanced local texture feature sets for face recognition under difficult
 * lighting conditions", IEEE TIP 19(6), 2010, section III, with their parameters. */
static void tan_triggs(fr_image *crop, float *scratch) {
    const float gamma = 0.2f, sigma0 = 1.0f, sigma1 = 2.0f, alpha = 0.1f, tau = 10.0f;
    int w = crop->width, h = crop->height;
    size_t n = (size_t)w * (size_t)h;
    float *img = scratch, *fine = scratch + n, *tmp = scratch + 2 * n;
    for (size_t i = 0; i < n; i++) img[i] = powf(luminance(crop->rgb + 3 * i) + 1.0f, gamma);
    blur(img, fine, tmp, w, h, sigma0);
    blur(img, img, tmp, w, h, sigma1); /* tmp holds the pass between, so in place is safe */
    for (size_t i = 0; i < n; i++) img[i] = fine[i] - img[i];
    /* contrast equalisation: two rescalings by a robust mean of |x|^alpha, then tanh */
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += powf(fabsf(img[i]), alpha);
    float scale = powf((float)(mean / (double)n), 1 / alpha);
    for (size_t i = 0; i < n; i++) img[i] /= scale > 0 ? scale : 1;
    mean = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(img[i]);
        mean += powf(a < tau ? a : tau, alpha);
    }
    scale = powf((float)(mean / (double)n), 1 / alpha);
    for (size_t i = 0; i < n; i++) {
        float v = tau * tanhf(img[i] / (scale > 0 ? scale : 1) / tau); /* in (-tau, tau) */
        uint8_t level = (uint8_t)lroundf(127.5f + 127.5f * v / tau);
        memset(crop->rgb + 3 * i, level, 3);
    }
}

void photometric_apply(photometric_kind kind, fr_image *crop, float *scratch) {
    if (kind == PHOTOMETRIC_HISTEQ) histogram_equalise(crop);
    else if (kind == PHOTOMETRIC_TAN_TRIGGS) tan_triggs(crop, scratch);
}
