/* encode.c: JPEG (libjpeg) and PNG (libpng) encoding to memory, and fr_image_save, which
 * picks the format by extension and replaces the file atomically. */
#include "image/codec_errors.h"
#include "image/image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static fr_status check_image(const fr_image *img, const char *what) {
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "%s: not a valid image", what);
    return FR_OK;
}

typedef struct jpeg_encode {
    struct jpeg_compress_struct cinfo;
    fr_jpeg_error err;
    unsigned char *buf; /* malloc'ed and grown by libjpeg's memory destination */
    unsigned long size;
} jpeg_encode;

/* State lives in *e so that nothing local is clobbered by the longjmp. */
static fr_status encode_jpeg(jpeg_encode *e, const fr_image *img, int quality) {
    j_compress_ptr cinfo = &e->cinfo;
    cinfo->err = fr_jpeg_error_init(&e->err);
    if (setjmp(e->err.jump))
        return fr_error(FR_E_NOMEM, "JPEG encoding failed: %s", e->err.message);
    jpeg_create_compress(cinfo);
    jpeg_mem_dest(cinfo, &e->buf, &e->size);
    cinfo->image_width = (JDIMENSION)img->width;
    cinfo->image_height = (JDIMENSION)img->height;
    cinfo->input_components = 3;
    cinfo->in_color_space = JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE);
    jpeg_start_compress(cinfo, TRUE);
    while (cinfo->next_scanline < cinfo->image_height) {
        /* libjpeg only reads the row; its prototype predates const. */
        JSAMPROW row = (JSAMPROW)(uintptr_t)(img->rgb + (size_t)cinfo->next_scanline *
                                                            (size_t)img->width * 3);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    return FR_OK;
}

fr_status fr_image_encode_jpeg(const fr_image *img, int quality, uint8_t **out, size_t *size) {
    if (!out || !size) return fr_error(FR_E_ARG, "fr_image_encode_jpeg: NULL output");
    *out = NULL;
    *size = 0;
    fr_status st = check_image(img, "fr_image_encode_jpeg");
    if (st != FR_OK) return st;
    if (quality == 0) quality = 90;
    if (quality < 1 || quality > 100)
        return fr_error(FR_E_ARG, "fr_image_encode_jpeg: quality %d is not in 1..100", quality);
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return fr_error(FR_E_LIMIT, "fr_image_encode_jpeg: %dx%d exceeds JPEG's limit of %d",
                        img->width, img->height, (int)JPEG_MAX_DIMENSION);
    jpeg_encode *e = calloc(1, sizeof *e);
    if (!e) return fr_error(FR_E_NOMEM, "fr_image_encode_jpeg: out of memory");
    st = encode_jpeg(e, img, quality);
    jpeg_destroy_compress(&e->cinfo);
    if (st == FR_OK) {
        *out = e->buf;
        *size = e->size;
    } else {
        free(e->buf);
    }
    free(e);
    return st;
}

typedef struct png_encode {
    png_structp png;
    png_infop info;
    fr_png_error err;
    uint8_t *buf;
    size_t size, capacity;
} png_encode;

static void write_to_memory(png_structp png, png_bytep data, size_t n) {
    png_encode *e = png_get_io_ptr(png);
    if (n > e->capacity - e->size) {
        size_t capacity = FR_MAX(e->capacity * 2, e->size + n);
        uint8_t *grown = capacity >= e->size + n ? realloc(e->buf, capacity) : NULL;
        if (!grown) png_error(png, "out of memory");
        e->buf = grown;
        e->capacity = capacity;
    }
    memcpy(e->buf + e->size, data, n);
    e->size += n;
}

static void flush_nothing(png_structp png) { (void)png; }

/* State lives in *e so that nothing local is clobbered by libpng's longjmp. */
static fr_status encode_png(png_encode *e, const fr_image *img) {
    e->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e->err, fr_png_on_error,
                                     fr_png_on_warning);
    if (!e->png || !(e->info = png_create_info_struct(e->png)))
        return fr_error(FR_E_NOMEM, "fr_image_encode_png: out of memory");
    if (setjmp(png_jmpbuf(e->png)))
        return fr_error(FR_E_NOMEM, "PNG encoding failed: %s", e->err.message);
    /* Lift libpng's default cap of 1000000 pixels per side; our own limit is on the area. */
    png_set_user_limits(e->png, 0x7fffffff, 0x7fffffff);
    png_set_write_fn(e->png, e, write_to_memory, flush_nothing);
    png_set_IHDR(e->png, e->info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(e->png, e->info);
    for (int y = 0; y < img->height; y++)
        png_write_row(e->png, img->rgb + (size_t)y * (size_t)img->width * 3);
    png_write_end(e->png, e->info);
    return FR_OK;
}

fr_status fr_image_encode_png(const fr_image *img, uint8_t **out, size_t *size) {
    if (!out || !size) return fr_error(FR_E_ARG, "fr_image_encode_png: NULL output");
    *out = NULL;
    *size = 0;
    fr_status st = check_image(img, "fr_image_encode_png");
    if (st != FR_OK) return st;
    png_encode *e = calloc(1, sizeof *e);
    if (!e) return fr_error(FR_E_NOMEM, "fr_image_encode_png: out of memory");
    e->err.name = "fr_image_encode_png";
    st = encode_png(e, img);
    png_destroy_write_struct(e->png ? &e->png : NULL, e->info ? &e->info : NULL);
    if (st == FR_OK) {
        *out = e->buf;
        *size = e->size;
    } else {
        free(e->buf);
    }
    free(e);
    return st;
}

/* Binary PPM (P6, maxval 255). */
static fr_status encode_ppm(const fr_image *img, uint8_t **out, size_t *size) {
    char header[64];
    int n = snprintf(header, sizeof header, "P6\n%d %d\n255\n", img->width, img->height);
    size_t pixels = (size_t)img->width * (size_t)img->height * 3;
    uint8_t *buf = malloc((size_t)n + pixels);
    if (!buf) return fr_error(FR_E_NOMEM, "out of memory encoding PPM");
    memcpy(buf, header, (size_t)n);
    memcpy(buf + n, img->rgb, pixels);
    *out = buf;
    *size = (size_t)n + pixels;
    return FR_OK;
}

/* Write data to a new file next to path, then rename it over path: readers see the old file
 * or the new one, never a partial one, and a failure leaves the old file as it was. */
static fr_status write_file_atomic(const char *path, const uint8_t *data, size_t size) {
    size_t tmp_size = strlen(path) + 64;
    char *tmp = malloc(tmp_size);
    if (!tmp) return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, tmp_size, "%s.%ld-%d.tmp", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        fr_status st =
            fr_error(FR_E_IO, "%s: cannot create a file there: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    const char *failed = NULL;
    int failed_errno = 0;
    for (size_t done = 0; done < size && !failed;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n > 0) done += (size_t)n;
        else if (n == 0 || errno != EINTR) failed = "write", failed_errno = n == 0 ? EIO : errno;
    }
    if (!failed && fsync(fd) != 0) failed = "fsync", failed_errno = errno;
    if (close(fd) != 0 && !failed) failed = "close", failed_errno = errno;
    if (!failed && rename(tmp, path) != 0) failed = "rename", failed_errno = errno;
    fr_status st = FR_OK;
    if (failed) {
        st = fr_error(FR_E_IO, "%s: %s failed: %s", path, failed, strerror(failed_errno));
        unlink(tmp);
    }
    free(tmp);
    return st;
}

fr_status fr_image_save(const fr_image *img, const char *path, int quality) {
    if (!path) return fr_error(FR_E_ARG, "fr_image_save: path is NULL");
    fr_status st = check_image(img, path);
    if (st != FR_OK) return st;
    const char *slash = strrchr(path, '/'), *ext = strrchr(path, '.');
    if (!ext || (slash && ext < slash)) ext = "";
    uint8_t *data;
    size_t size;
    if (strcasecmp(ext, ".jpg") == 0 || strcasecmp(ext, ".jpeg") == 0)
        st = fr_image_encode_jpeg(img, quality, &data, &size);
    else if (strcasecmp(ext, ".png") == 0)
        st = fr_image_encode_png(img, &data, &size);
    else if (strcasecmp(ext, ".ppm") == 0)
        st = encode_ppm(img, &data, &size);
    else
        return fr_error(FR_E_ARG, "%s: unknown image extension (use .jpg, .jpeg, .png or .ppm)",
                        path);
    if (st != FR_OK) return fr_error_prefix(st, "%s", path);
    st = write_file_atomic(path, data, size);
    free(data);
    return st;
}
