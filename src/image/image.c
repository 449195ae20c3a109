/* image.c: allocation, size checks, crop and mirror. */
#include "image/image_internal.h"
#include "image/image_into.h"

#include <stdlib.h>
#include <string.h>

fr_status fr_image_new(int width, int height, fr_image **out) {
    if (!out) return fr_error(FR_E_ARG, "fr_image_new: out is NULL");
    *out = NULL;
    if (width <= 0 || height <= 0)
        return fr_error(FR_E_ARG, "fr_image_new: invalid size %dx%d", width, height);
    if ((uint64_t)width * (uint64_t)height > FR_IMAGE_MAX_PIXELS)
        return fr_error(FR_E_LIMIT, "fr_image_new: %dx%d is over the limit of %u pixels", width,
                        height, FR_IMAGE_MAX_PIXELS);
    fr_image *img = malloc(sizeof *img);
    uint8_t *rgb = calloc((size_t)width * (size_t)height, 3);
    if (!img || !rgb) {
        free(img);
        free(rgb);
        return fr_error(FR_E_NOMEM, "fr_image_new: out of memory for %dx%d pixels", width, height);
    }
    img->width = width;
    img->height = height;
    img->rgb = rgb;
    *out = img;
    return FR_OK;
}

void fr_image_free(fr_image *img) {
    if (!img) return;
    free(img->rgb);
    free(img);
}

fr_status fr_image_check_dims(uint64_t width, uint64_t height, const char *name,
                              const char *format) {
    if (width == 0 || height == 0)
        return fr_error(FR_E_FORMAT, "%s: %s header gives an empty size %llux%llu", name, format,
                        (unsigned long long)width, (unsigned long long)height);
    /* Sides of 2^32 and more are refused first, so the product cannot overflow. */
    if (width > UINT32_MAX || height > UINT32_MAX || width * height > FR_IMAGE_MAX_PIXELS)
        return fr_error(FR_E_LIMIT, "%s: %s image is %llux%llu pixels, over the limit of %u",
                        name, format, (unsigned long long)width, (unsigned long long)height,
                        FR_IMAGE_MAX_PIXELS);
    return FR_OK;
}

fr_status fr_image_alloc_for(int width, int height, const char *name, fr_image **out) {
    fr_status st = fr_image_new(width, height, out);
    if (st != FR_OK) return fr_error_prefix(st, "%s", name);
    return FR_OK;
}

void image_crop_into(const fr_image *img, int x, int y, fr_image *crop) {
    int w = crop->width, h = crop->height;
    memset(crop->rgb, 0, (size_t)w * (size_t)h * 3);
    /* The overlap of [x, x+w) x [y, y+h) with the image, in 64 bits so that no sum overflows. */
    int64_t x0 = FR_MAX((int64_t)x, 0), x1 = FR_MIN((int64_t)x + w, (int64_t)img->width);
    int64_t y0 = FR_MAX((int64_t)y, 0), y1 = FR_MIN((int64_t)y + h, (int64_t)img->height);
    for (int64_t sy = y0; sy < y1 && x0 < x1; sy++) {
        const uint8_t *src = img->rgb + ((size_t)sy * (size_t)img->width + (size_t)x0) * 3;
        uint8_t *dst = crop->rgb + ((size_t)(sy - y) * (size_t)w + (size_t)(x0 - x)) * 3;
        memcpy(dst, src, (size_t)(x1 - x0) * 3);
    }
}

fr_status fr_image_crop(const fr_image *img, int x, int y, int w, int h, fr_image **out) {
    if (!img || !out) return fr_error(FR_E_ARG, "fr_image_crop: NULL argument");
    fr_image *crop;
    fr_status st = fr_image_new(w, h, &crop);
    if (st != FR_OK) return fr_error_prefix(st, "fr_image_crop");
    image_crop_into(img, x, y, crop);
    *out = crop;
    return FR_OK;
}

void image_mirror_into(const fr_image *img, fr_image *m) {
    int w = img->width;
    for (int y = 0; y < img->height; y++) {
        const uint8_t *src = img->rgb + (size_t)y * (size_t)w * 3;
        uint8_t *dst = m->rgb + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++) memcpy(dst + (size_t)x * 3, src + (size_t)(w - 1 - x) * 3, 3);
    }
}

fr_status fr_image_mirror(const fr_image *img, fr_image **out) {
    if (!img || !out) return fr_error(FR_E_ARG, "fr_image_mirror: NULL argument");
    fr_image *m;
    fr_status st = fr_image_new(img->width, img->height, &m);
    if (st != FR_OK) return fr_error_prefix(st, "fr_image_mirror");
    image_mirror_into(img, m);
    *out = m;
    return FR_OK;
}
