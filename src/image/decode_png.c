/* decode_png.c: PNG decoding with libpng; every colour type and bit depth becomes 8-bit RGB
 * (palette expanded, grey replicated, 16 bits scaled, alpha dropped, interlace resolved). */
#include "image/codec_errors.h"
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

/* The largest ancillary chunk (ICC profile, compressed text) libpng may allocate. */
#define PNG_MAX_CHUNK_BYTES (8u * 1024u * 1024u)

typedef struct png_decode {
    png_structp png;
    png_infop info;
    fr_png_error err;
    const uint8_t *data;
    size_t size, pos;
    fr_image *img;
    png_bytep *rows;
} png_decode;

static void read_from_memory(png_structp png, png_bytep out, size_t n) {
    png_decode *d = png_get_io_ptr(png);
    if (n > d->size - d->pos) png_error(png, "unexpected end of data");
    memcpy(out, d->data + d->pos, n);
    d->pos += n;
}

static uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* State lives in *d so that nothing local is clobbered by libpng's longjmp. */
static fr_status decode(png_decode *d) {
    const char *name = d->err.name;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d->err, fr_png_on_error,
                                    fr_png_on_warning);
    if (!d->png || !(d->info = png_create_info_struct(d->png)))
        return fr_error(FR_E_NOMEM, "%s: out of memory decoding PNG", name);
    if (setjmp(png_jmpbuf(d->png)))
        return fr_error(FR_E_FORMAT, "%s: corrupt or truncated PNG: %s", name, d->err.message);
    png_set_user_limits(d->png, FR_IMAGE_MAX_PIXELS, FR_IMAGE_MAX_PIXELS);
    png_set_chunk_malloc_max(d->png, PNG_MAX_CHUNK_BYTES);
    png_set_read_fn(d->png, d, read_from_memory);
    png_read_info(d->png, d->info);
    png_uint_32 w = png_get_image_width(d->png, d->info), h = png_get_image_height(d->png, d->info);
    fr_status st = fr_image_check_dims(w, h, name, "PNG");
    if (st != FR_OK) return st;
    png_set_expand(d->png);
    png_set_scale_16(d->png);
    png_set_strip_alpha(d->png);
    png_set_gray_to_rgb(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    if (png_get_rowbytes(d->png, d->info) != (size_t)w * 3)
        return fr_error(FR_E_FORMAT, "%s: PNG did not convert to 8-bit RGB", name);
    st = fr_image_alloc_for((int)w, (int)h, name, &d->img);
    if (st != FR_OK) return st;
    if (!(d->rows = malloc((size_t)h * sizeof *d->rows)))
        return fr_error(FR_E_NOMEM, "%s: out of memory decoding PNG", name);
    for (png_uint_32 y = 0; y < h; y++) d->rows[y] = d->img->rgb + (size_t)y * (size_t)w * 3;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);
    return FR_OK;
}

fr_status fr_decode_png(const uint8_t *data, size_t size, const char *name, fr_image **out) {
    /* Check the size in IHDR (signature, chunk length, "IHDR", width, height) before libpng
     * allocates anything for it. */
    if (size >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
        fr_status st = fr_image_check_dims(read_be32(data + 16), read_be32(data + 20), name, "PNG");
        if (st != FR_OK) return st;
    }
    png_decode *d = calloc(1, sizeof *d);
    if (!d) return fr_error(FR_E_NOMEM, "%s: out of memory decoding PNG", name);
    d->err.name = name;
    d->data = data;
    d->size = size;
    fr_status st = decode(d);
    png_destroy_read_struct(d->png ? &d->png : NULL, d->info ? &d->info : NULL, NULL);
    if (st == FR_OK) *out = d->img;
    else fr_image_free(d->img);
    free(d->rows);
    free(d);
    return st;
}
