/* decode_jpeg.c: JPEG decoding with libjpeg at its default settings (ISLOW DCT, fancy
 * upsampling, so pixels equal `djpeg -ppm` output), then the EXIF orientation applied. */
#include "image/codec_errors.h"
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

/* A progressive JPEG may hold any number of scans and each one revisits the whole image, so a
 * small file could keep the decoder busy for hours; real files use a dozen or so. */
#define JPEG_MAX_SCANS 1000

typedef struct jpeg_decode {
    struct jpeg_decompress_struct cinfo;
    fr_jpeg_error err;
    struct jpeg_progress_mgr progress;
    const char *name;
    fr_image *img;
    uint8_t *cmyk_row;
    int orientation;
} jpeg_decode;

static void limit_scans(j_common_ptr cinfo) {
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (dinfo->input_scan_number > JPEG_MAX_SCANS) {
        fr_jpeg_error *err = (fr_jpeg_error *)cinfo->err;
        snprintf(err->message, sizeof err->message, "more than %d progressive scans",
                 JPEG_MAX_SCANS);
        longjmp(err->jump, 1);
    }
}

static unsigned read_u16(const uint8_t *p, int little_endian) {
    return little_endian ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1];
}

static uint32_t read_u32(const uint8_t *p, int little_endian) {
    return little_endian ? read_u16(p, 1) | (uint32_t)read_u16(p + 2, 1) << 16
                         : (uint32_t)read_u16(p, 0) << 16 | read_u16(p + 2, 0);
}

/* The EXIF Orientation tag (1..8) in the payload of an APP1 segment: "Exif\0\0", then a TIFF
 * header (byte order, 42, offset of IFD0) and IFD0's 12-byte entries. 1 when absent. */
static int exif_orientation(const uint8_t *app1, size_t size) {
    if (size < 6 + 8 || memcmp(app1, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *tiff = app1 + 6;
    size_t tiff_size = size - 6;
    int le;
    if (memcmp(tiff, "II*\0", 4) == 0) le = 1;
    else if (memcmp(tiff, "MM\0*", 4) == 0) le = 0;
    else return 1;
    uint32_t ifd = read_u32(tiff + 4, le);
    if (ifd > tiff_size - 2) return 1;
    unsigned n_entries = read_u16(tiff + ifd, le);
    for (unsigned i = 0; i < n_entries; i++) {
        size_t entry = (size_t)ifd + 2 + (size_t)i * 12;
        if (entry + 12 > tiff_size) return 1;
        if (read_u16(tiff + entry, le) != 0x0112) continue;
        unsigned type = read_u16(tiff + entry + 2, le);
        uint32_t value = type == 3 ? read_u16(tiff + entry + 8, le) /* SHORT */
                         : type == 4 ? read_u32(tiff + entry + 8, le) /* LONG, seen in the wild */
                                     : 0;
        return value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}

/* Rotate/flip so the image shows upright. Output pixel (x, y) takes source pixel
 * (ax*x + bx*y + cx, ay*x + by*y + cy); orientations 5..8 swap width and height. */
static fr_status apply_orientation(fr_image **img, int orientation, const char *name) {
    const fr_image *src = *img;
    int w = src->width, h = src->height;
    int ax = 1, bx = 0, cx = 0, ay = 0, by = 1, cy = 0;
    switch (orientation) {
    case 2: ax = -1, cx = w - 1; break;                                   /* mirrored */
    case 3: ax = -1, cx = w - 1, by = -1, cy = h - 1; break;              /* rotated 180 */
    case 4: by = -1, cy = h - 1; break;                                   /* flipped */
    case 5: ax = 0, bx = 1, ay = 1, by = 0; break;                        /* transposed */
    case 6: ax = 0, bx = 1, ay = -1, by = 0, cy = h - 1; break;           /* needs 90 cw */
    case 7: ax = 0, bx = -1, cx = w - 1, ay = -1, by = 0, cy = h - 1; break; /* transverse */
    case 8: ax = 0, bx = -1, cx = w - 1, ay = 1, by = 0; break;           /* needs 90 ccw */
    default: return FR_OK;
    }
    int ow = orientation >= 5 ? h : w, oh = orientation >= 5 ? w : h;
    fr_image *dst;
    fr_status st = fr_image_alloc_for(ow, oh, name, &dst);
    if (st != FR_OK) return st;
    for (int y = 0; y < oh; y++) {
        uint8_t *row = dst->rgb + (size_t)y * (size_t)ow * 3;
        for (int x = 0; x < ow; x++) {
            int sx = ax * x + bx * y + cx, sy = ay * x + by * y + cy;
            memcpy(row + (size_t)x * 3, src->rgb + ((size_t)sy * (size_t)w + (size_t)sx) * 3, 3);
        }
    }
    fr_image_free(*img);
    *img = dst;
    return FR_OK;
}

/* CMYK as Photoshop writes it (Adobe marker) is stored inverted: 255 means no ink. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width, int inverted) {
    for (int x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        unsigned k = inverted ? cmyk[3] : 255u - cmyk[3];
        for (int c = 0; c < 3; c++) {
            unsigned v = inverted ? cmyk[c] : 255u - cmyk[c];
            rgb[c] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

/* Everything between setjmp and the end of libjpeg's work; state lives in *d so that nothing
 * local is clobbered by the longjmp. */
static fr_status decode(jpeg_decode *d, const uint8_t *data, size_t size) {
    j_decompress_ptr cinfo = &d->cinfo;
    cinfo->err = fr_jpeg_error_init(&d->err);
    if (setjmp(d->err.jump))
        return fr_error(FR_E_FORMAT, "%s: corrupt or truncated JPEG: %s", d->name,
                        d->err.message);
    jpeg_create_decompress(cinfo);
    d->progress.progress_monitor = limit_scans;
    cinfo->progress = &d->progress;
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    /* Saved markers live until jpeg_finish_decompress, so read the orientation now. */
    d->orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m && d->orientation == 1; m = m->next)
        if (m->marker == JPEG_APP0 + 1) d->orientation = exif_orientation(m->data, m->data_length);
    fr_status st = fr_image_check_dims(cinfo->image_width, cinfo->image_height, d->name, "JPEG");
    if (st != FR_OK) return st;
    int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(cinfo);
    int w = (int)cinfo->output_width, h = (int)cinfo->output_height;
    st = fr_image_alloc_for(w, h, d->name, &d->img);
    if (st != FR_OK) return st;
    if (cmyk && !(d->cmyk_row = malloc((size_t)w * 4)))
        return fr_error(FR_E_NOMEM, "%s: out of memory decoding JPEG", d->name);
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *rgb = d->img->rgb + (size_t)cinfo->output_scanline * (size_t)w * 3;
        JSAMPROW row = cmyk ? d->cmyk_row : rgb;
        jpeg_read_scanlines(cinfo, &row, 1);
        if (cmyk) cmyk_to_rgb(d->cmyk_row, rgb, w, cinfo->saw_Adobe_marker);
    }
    jpeg_finish_decompress(cinfo);
    return FR_OK;
}

fr_status fr_decode_jpeg(const uint8_t *data, size_t size, const char *name, fr_image **out) {
    jpeg_decode *d = calloc(1, sizeof *d);
    if (!d) return fr_error(FR_E_NOMEM, "%s: out of memory decoding JPEG", name);
    d->name = name;
    fr_status st = decode(d, data, size);
    jpeg_destroy_decompress(&d->cinfo);
    if (st == FR_OK) st = apply_orientation(&d->img, d->orientation, name);
    if (st == FR_OK) *out = d->img;
    else fr_image_free(d->img);
    free(d->cmyk_row);
    free(d);
    return st;
}
