/* decode_pnm.c: Netpbm PGM and PPM, plain (P2, P3) and raw (P5, P6), maxval up to 65535
 * (16-bit raw samples are big-endian), with '#' comments. Samples are scaled to 0..255. */
#include "image/image_internal.h"

#include <string.h>

typedef struct pnm_reader {
    const uint8_t *data;
    size_t size, pos;
} pnm_reader;

static int is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void skip_space_and_comments(pnm_reader *r) {
    while (r->pos < r->size) {
        if (is_space(r->data[r->pos])) r->pos++;
        else if (r->data[r->pos] == '#')
            while (r->pos < r->size && r->data[r->pos] != '\n' && r->data[r->pos] != '\r') r->pos++;
        else break;
    }
}

/* A decimal number after optional blanks and comments; 0 if there is none. Values saturate
 * at UINT32_MAX + 1 so that range checks see them as too large. */
static int read_number(pnm_reader *r, uint64_t *value) {
    skip_space_and_comments(r);
    if (r->pos >= r->size || r->data[r->pos] < '0' || r->data[r->pos] > '9') return 0;
    uint64_t v = 0;
    while (r->pos < r->size && r->data[r->pos] >= '0' && r->data[r->pos] <= '9') {
        v = FR_MIN(v * 10 + (uint64_t)(r->data[r->pos] - '0'), (uint64_t)UINT32_MAX + 1);
        r->pos++;
    }
    *value = v;
    return 1;
}

/* sample * 255 / maxval, rounded. */
static uint8_t scale_sample(uint32_t sample, uint32_t maxval) {
    return (uint8_t)((sample * 255u + maxval / 2) / maxval);
}

fr_status fr_decode_pnm(const uint8_t *data, size_t size, const char *name, fr_image **out) {
    char kind = (char)data[1]; /* '2', '3', '5' or '6', checked by the caller */
    int channels = kind == '3' || kind == '6' ? 3 : 1, plain = kind == '2' || kind == '3';
    const char *format = channels == 3 ? "PPM" : "PGM";
    pnm_reader r = {data, size, 2};
    uint64_t w, h, maxval;
    if (!read_number(&r, &w) || !read_number(&r, &h) || !read_number(&r, &maxval))
        return fr_error(FR_E_FORMAT, "%s: malformed or truncated %s header", name, format);
    fr_status st = fr_image_check_dims(w, h, name, format);
    if (st != FR_OK) return st;
    if (maxval == 0 || maxval > 65535)
        return fr_error(FR_E_FORMAT, "%s: %s maxval %llu is not in 1..65535", name, format,
                        (unsigned long long)maxval);
    size_t n_samples = (size_t)(w * h) * (size_t)channels;
    size_t bytes_per_sample = maxval > 255 ? 2 : 1;
    if (plain) {
        /* Each plain sample takes a digit and a separator: refuse short data before allocating. */
        if (size - r.pos < 2 * n_samples - 1)
            return fr_error(FR_E_FORMAT, "%s: truncated %s data: %zu bytes for %zu samples", name,
                            format, size - r.pos, n_samples);
    } else {
        /* Exactly one whitespace character separates the header from the raster. */
        if (r.pos >= size || !is_space(data[r.pos]))
            return fr_error(FR_E_FORMAT, "%s: malformed %s header", name, format);
        r.pos++;
        if (size - r.pos < n_samples * bytes_per_sample)
            return fr_error(FR_E_FORMAT, "%s: truncated %s data: %zu bytes for %zu needed", name,
                            format, size - r.pos, n_samples * bytes_per_sample);
    }
    fr_image *img;
    st = fr_image_alloc_for((int)w, (int)h, name, &img);
    if (st != FR_OK) return st;
    const uint8_t *raster = data + r.pos;
    for (size_t i = 0; i < n_samples; i++) {
        uint64_t v;
        if (plain) {
            if (!read_number(&r, &v)) {
                fr_image_free(img);
                return fr_error(FR_E_FORMAT,
                                "%s: truncated or malformed %s data at sample %zu of %zu", name,
                                format, i, n_samples);
            }
        } else {
            v = bytes_per_sample == 2 ? (uint64_t)raster[2 * i] << 8 | raster[2 * i + 1]
                                      : raster[i];
        }
        if (v > maxval) {
            fr_image_free(img);
            return fr_error(FR_E_FORMAT, "%s: %s sample %llu exceeds maxval %llu", name, format,
                            (unsigned long long)v, (unsigned long long)maxval);
        }
        uint8_t s = scale_sample((uint32_t)v, (uint32_t)maxval);
        if (channels == 3) img->rgb[i] = s;
        else memset(img->rgb + i * 3, s, 3);
    }
    *out = img;
    return FR_OK;
}
