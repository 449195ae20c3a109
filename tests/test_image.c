/* test_image.c: image decoding, encoding, refusals and pixel operations. Every input is made
 * here: images are drawn in memory, encoded with our encoders or with libpng and giflib
 * directly, and then cut, patched or spliced to make the broken and unusual cases. */
#include "facerec.h"
#include "run.h"
#include "test.h"

#include <dirent.h>
#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static uint8_t *px(const fr_image *img, int x, int y) {
    return img->rgb + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
}

static int same_pixels(const fr_image *a, const fr_image *b) {
    return a->width == b->width && a->height == b->height &&
           memcmp(a->rgb, b->rgb, (size_t)a->width * (size_t)a->height * 3) == 0;
}

/* A deterministic image with detail in every channel. */
static fr_image *pattern_image(int w, int h) {
    fr_image *img;
    if (fr_image_new(w, h, &img) != FR_OK) return NULL;
    uint32_t state = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            state = state * 1103515245u + 12345u;
            uint8_t *p = px(img, x, y);
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = (uint8_t)(state >> 24);
        }
    return img;
}

/* A smooth image (JPEG compresses it with small errors). */
static fr_image *smooth_image(int w, int h) {
    fr_image *img;
    if (fr_image_new(w, h, &img) != FR_OK) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px(img, x, y);
            p[0] = (uint8_t)(128 + 100 * sin(x * 0.05));
            p[1] = (uint8_t)(128 + 100 * cos(y * 0.07));
            p[2] = (uint8_t)((x + y) * 255 / (w + h));
        }
    return img;
}

static int contains(const char *haystack, const char *needle) {
    return strstr(haystack, needle) != NULL;
}

static void tmp_path(char *out, size_t size, const char *file) {
    snprintf(out, size, "%s/%s", FR_TEST_TMP_DIR, file);
}

static int write_bytes(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* Decode `size` bytes of data under `name` and expect status `want` with the name in the
 * message. Returns 1 if so. */
static int refused(const void *data, size_t size, const char *name, fr_status want) {
    fr_image *img = NULL;
    fr_status st = fr_image_decode(data, size, name, &img);
    if (st == want && img == NULL && contains(fr_last_error(), name)) return 1;
    fprintf(stderr, "  %s: status %d (want %d): %s\n", name, (int)st, (int)want, fr_last_error());
    fr_image_free(img);
    return 0;
}

/* ---- PNG written with libpng itself, for colour types our encoder never produces --------- */

typedef struct mem_buf {
    uint8_t *data;
    size_t size, capacity;
} mem_buf;

static int mem_append(mem_buf *b, const void *data, size_t n) {
    if (b->size + n > b->capacity) {
        size_t capacity = (b->size + n) * 2;
        uint8_t *grown = realloc(b->data, capacity);
        if (!grown) return 0;
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
    return 1;
}

static void png_write_mem(png_structp png, png_bytep data, size_t n) {
    if (!mem_append(png_get_io_ptr(png), data, n)) png_error(png, "out of memory");
}

static void png_flush_mem(png_structp png) { (void)png; }

typedef struct png_spec {
    int width, height, color_type, bit_depth, interlace;
    const uint8_t *rows;    /* packed rows as PNG stores them */
    const png_color *palette;
    int n_palette;
    const uint8_t *trans; /* palette alpha, or NULL */
    int n_trans;
} png_spec;

static int write_png(const png_spec *s, mem_buf *out) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    png_set_write_fn(png, out, png_write_mem, png_flush_mem);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->bit_depth,
                 s->color_type, s->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s->palette) png_set_PLTE(png, info, s->palette, s->n_palette);
    if (s->trans) png_set_tRNS(png, info, s->trans, s->n_trans, NULL);
    png_write_info(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < s->height; y++) png_write_row(png, s->rows + (size_t)y * row_bytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 1;
}

/* PNG's CRC-32 (polynomial 0xEDB88320) of the chunk type and data. */
static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* A PNG signature and an IHDR chunk with a valid CRC (8-bit RGB), then an IEND. */
static size_t png_header_only(uint8_t *out, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    memcpy(out, sig, 8);
    put_be32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put_be32(out + 16, w);
    put_be32(out + 20, h);
    out[24] = 8, out[25] = 2, out[26] = 0, out[27] = 0, out[28] = 0;
    put_be32(out + 29, crc32_png(out + 12, 17));
    put_be32(out + 33, 0);
    memcpy(out + 37, "IEND", 4);
    put_be32(out + 41, crc32_png(out + 37, 4));
    return 45;
}

/* ---- GIF written with giflib's encoder --------------------------------------------------- */

static int gif_write_mem(GifFileType *gif, const GifByteType *data, int n) {
    return mem_append(gif->UserData, data, (size_t)n) ? n : 0;
}

static const GifColorType gif_colors[4] = {{10, 20, 30}, {200, 0, 0}, {0, 200, 0}, {0, 0, 200}};

/* The colour index of frame pixel (x, y) in the GIFs below. */
static int gif_index(int x, int y) { return (x + 2 * y) % 4; }

/* A screen of sw x sh with one frame of fw x fh at (left, top); transparent: index or -1. */
static int write_gif(int sw, int sh, int left, int top, int fw, int fh, int interlace,
                     int transparent, mem_buf *out) {
    int err;
    GifFileType *gif = EGifOpen(out, gif_write_mem, &err);
    if (!gif) return 0;
    ColorMapObject *cmap = GifMakeMapObject(4, gif_colors);
    int ok = cmap != NULL;
    EGifSetGifVersion(gif, true);
    ok = ok && EGifPutScreenDesc(gif, sw, sh, 2, 0, cmap) == GIF_OK;
    if (ok && transparent >= 0) {
        GraphicsControlBlock gcb = {.DisposalMode = DISPOSAL_UNSPECIFIED,
                                    .TransparentColor = transparent};
        GifByteType ext[4];
        size_t len = EGifGCBToExtension(&gcb, ext);
        ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)len, ext) == GIF_OK;
    }
    ok = ok && EGifPutImageDesc(gif, left, top, fw, fh, interlace, NULL) == GIF_OK;
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    GifPixelType line[256];
    for (int pass = 0; ok && pass < (interlace ? 4 : 1); pass++)
        for (int y = interlace ? start[pass] : 0; ok && y < fh; y += interlace ? step[pass] : 1) {
            for (int x = 0; x < fw; x++) line[x] = (GifPixelType)gif_index(x, y);
            ok = EGifPutLine(gif, line, fw) == GIF_OK;
        }
    ok = EGifCloseFile(gif, &err) == GIF_OK && ok;
    GifFreeMapObject(cmap);
    return ok;
}

/* ---- JPEG with an EXIF orientation spliced in --------------------------------------------- */

static void put16(uint8_t *p, unsigned v, int le) {
    p[le ? 0 : 1] = (uint8_t)v, p[le ? 1 : 0] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v, int le) {
    put16(p + (le ? 0 : 2), v & 0xFFFF, le);
    put16(p + (le ? 2 : 0), v >> 16, le);
}

/* The JPEG with an APP1 segment right after SOI: "Exif\0\0", a TIFF header in the given byte
 * order and IFD0 holding only Orientation (tag 0x0112, SHORT, count 1). */
static uint8_t *splice_exif(const uint8_t *jpg, size_t size, int orientation, int le,
                            size_t *out_size) {
    uint8_t seg[36] = {0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0};
    uint8_t *tiff = seg + 10;
    memcpy(tiff, le ? "II*\0" : "MM\0*", 4);
    put32(tiff + 4, 8, le);         /* IFD0 right after the header */
    put16(tiff + 8, 1, le);         /* one entry */
    put16(tiff + 10, 0x0112, le);   /* Orientation */
    put16(tiff + 12, 3, le);        /* SHORT */
    put32(tiff + 14, 1, le);        /* count */
    put16(tiff + 18, (unsigned)orientation, le);
    put32(tiff + 22, 0, le);        /* no next IFD */
    uint8_t *out = malloc(size + sizeof seg);
    if (!out) return NULL;
    memcpy(out, jpg, 2);
    memcpy(out + 2, seg, sizeof seg);
    memcpy(out + 2 + sizeof seg, jpg + 2, size - 2);
    *out_size = size + sizeof seg;
    return out;
}

/* ---- round trips ------------------------------------------------------------------------- */

TEST(new_image_is_black_and_sizes_are_checked) {
    fr_image *img;
    CHECK_OK(fr_image_new(7, 5, &img));
    int black = 1;
    for (int i = 0; i < 7 * 5 * 3; i++) black &= img->rgb[i] == 0;
    fr_image_free(img);
    CHECK(black);
    CHECK(fr_image_new(0, 5, &img) == FR_E_ARG);
    CHECK(fr_image_new(5, -1, &img) == FR_E_ARG);
    CHECK(fr_image_new(100000, 100000, &img) == FR_E_LIMIT);
    fr_image_free(NULL);
}

TEST(png_round_trip_is_exact) {
    fr_image *img = pattern_image(37, 23), *back = NULL;
    CHECK(img);
    uint8_t *data;
    size_t size;
    fr_status st = fr_image_encode_png(img, &data, &size);
    if (st == FR_OK) {
        st = fr_image_decode(data, size, "pattern.png", &back);
        free(data);
    }
    int same = st == FR_OK && same_pixels(img, back);
    char path[512];
    tmp_path(path, sizeof path, "round_trip.png");
    fr_image *loaded = NULL;
    if (same) st = fr_image_save(img, path, 0);
    if (same && st == FR_OK) st = fr_image_load(path, &loaded);
    same = same && st == FR_OK && same_pixels(img, loaded);
    fr_image_free(img), fr_image_free(back), fr_image_free(loaded);
    CHECK_OK(st);
    CHECK(same);
}

TEST(jpeg_round_trip_is_close) {
    fr_image *img = smooth_image(64, 48), *back = NULL;
    CHECK(img);
    uint8_t *data;
    size_t size;
    fr_status st = fr_image_encode_jpeg(img, 95, &data, &size);
    if (st == FR_OK) {
        st = fr_image_decode(data, size, "smooth.jpg", &back);
        free(data);
    }
    double sum = 0;
    int worst = 0;
    if (st == FR_OK && back->width == 64 && back->height == 48)
        for (int i = 0; i < 64 * 48 * 3; i++) {
            int d = abs(img->rgb[i] - back->rgb[i]);
            sum += d;
            if (d > worst) worst = d;
        }
    int dims_ok = st == FR_OK && back->width == 64 && back->height == 48;
    fr_image_free(img), fr_image_free(back);
    CHECK_OK(st);
    CHECK(dims_ok);
    CHECK(sum / (64 * 48 * 3) < 2.0);
    CHECK(worst < 24);
    /* Quality outside 1..100 is refused. */
    fr_image *small = pattern_image(8, 8);
    CHECK(small);
    st = fr_image_encode_jpeg(small, 101, &data, &size);
    fr_image_free(small);
    CHECK(st == FR_E_ARG);
}

TEST(ppm_and_pgm_variants_decode) {
    /* Our own P6 output. */
    fr_image *img = pattern_image(9, 4), *loaded = NULL;
    CHECK(img);
    char path[512];
    tmp_path(path, sizeof path, "round_trip.ppm");
    fr_status st = fr_image_save(img, path, 0);
    if (st == FR_OK) st = fr_image_load(path, &loaded);
    int same = st == FR_OK && same_pixels(img, loaded);
    fr_image_free(img), fr_image_free(loaded);
    CHECK_OK(st);
    CHECK(same);

    /* Plain PGM with comments and maxval 15: 15 -> 255, 7 -> round(7 * 255 / 15) = 119. */
    const char *p2 = "P2\n# a comment\n3 2 # trailing comment\n15\n0 15 7\n1 2\n3\n";
    CHECK_OK(fr_image_decode(p2, strlen(p2), "p2.pgm", &img));
    uint8_t want_grey[6] = {0, 255, 119, 17, 34, 51};
    int ok = img->width == 3 && img->height == 2;
    for (int i = 0; ok && i < 6; i++)
        ok = img->rgb[i * 3] == want_grey[i] && img->rgb[i * 3 + 1] == want_grey[i] &&
             img->rgb[i * 3 + 2] == want_grey[i];
    fr_image_free(img);
    CHECK(ok);

    /* Plain PPM. */
    const char *p3 = "P3 2 1 255 1 2 3  250 251 252";
    CHECK_OK(fr_image_decode(p3, strlen(p3), "p3.ppm", &img));
    ok = img->width == 2 && img->height == 1 && img->rgb[0] == 1 && img->rgb[2] == 3 &&
         img->rgb[3] == 250 && img->rgb[5] == 252;
    fr_image_free(img);
    CHECK(ok);

    /* Raw 16-bit PGM (big-endian samples): 65535 -> 255, 32768 -> 128, 257 -> 1. */
    const uint8_t p5[] = "P5\n3 1\n65535\n\xFF\xFF\x80\x00\x01\x01";
    CHECK_OK(fr_image_decode(p5, sizeof p5 - 1, "p5.pgm", &img));
    ok = img->width == 3 && img->rgb[0] == 255 && img->rgb[3] == 128 && img->rgb[6] == 1 &&
         img->rgb[7] == 1;
    fr_image_free(img);
    CHECK(ok);

    /* Raw 16-bit PPM with maxval 1000: 1000 -> 255, 500 -> 128 (127.5 rounded up). */
    const uint8_t p6[] = "P6 1 1 1000 \x03\xE8\x01\xF4\x00\x00";
    CHECK_OK(fr_image_decode(p6, sizeof p6 - 1, "p6.ppm", &img));
    ok = img->rgb[0] == 255 && img->rgb[1] == 128 && img->rgb[2] == 0;
    fr_image_free(img);
    CHECK(ok);
}

/* Decode a PNG made by write_png and compare with the expected RGB pixels. */
static int png_decodes_to(const png_spec *spec, const uint8_t *want_rgb, const char *name) {
    mem_buf buf = {0};
    fr_image *img = NULL;
    int ok = write_png(spec, &buf) && fr_image_decode(buf.data, buf.size, name, &img) == FR_OK &&
             img->width == spec->width && img->height == spec->height &&
             memcmp(img->rgb, want_rgb, (size_t)spec->width * (size_t)spec->height * 3) == 0;
    if (!ok) fprintf(stderr, "  %s: %s\n", name, fr_last_error());
    fr_image_free(img);
    free(buf.data);
    return ok;
}

TEST(png_colour_types_become_rgb) {
    enum { W = 5, H = 9 };
    uint8_t want[W * H * 3], rows[W * H * 8];
    /* 8-bit grey. */
    for (int i = 0; i < W * H; i++) rows[i] = (uint8_t)(i * 5), memset(want + i * 3, i * 5, 3);
    png_spec grey = {W, H, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0};
    CHECK(png_decodes_to(&grey, want, "grey.png"));
    /* 8-bit grey + alpha: alpha dropped. */
    for (int i = 0; i < W * H; i++) rows[i * 2] = (uint8_t)(i * 5), rows[i * 2 + 1] = (uint8_t)i;
    png_spec grey_alpha = {W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE,
                           rows, NULL, 0, NULL, 0};
    CHECK(png_decodes_to(&grey_alpha, want, "grey_alpha.png"));
    /* 1-bit grey: 0 -> 0, 1 -> 255; each row is one byte (5 pixels, padded). */
    for (int y = 0; y < H; y++) {
        rows[y] = 0;
        for (int x = 0; x < W; x++) {
            int on = (x + y) % 2;
            rows[y] |= (uint8_t)(on << (7 - x));
            memset(want + (y * W + x) * 3, on ? 255 : 0, 3);
        }
    }
    png_spec grey1 = {W, H, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0};
    CHECK(png_decodes_to(&grey1, want, "grey1.png"));
    /* 8-bit RGBA, interlaced: alpha dropped, passes put back together. */
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 4; c++) {
            rows[i * 4 + c] = (uint8_t)(i * 5 + c * 40);
            if (c < 3) want[i * 3 + c] = (uint8_t)(i * 5 + c * 40);
        }
    png_spec rgba = {W, H, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_ADAM7, rows, NULL, 0, NULL, 0};
    CHECK(png_decodes_to(&rgba, want, "rgba_interlaced.png"));
    /* 16-bit RGB: v * 257 scales back to v exactly. */
    for (int i = 0; i < W * H * 3; i++) {
        uint8_t v = (uint8_t)(i * 7);
        rows[i * 2] = v, rows[i * 2 + 1] = v; /* big-endian v * 257 */
        want[i] = v;
    }
    png_spec rgb16 = {W, H, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0};
    CHECK(png_decodes_to(&rgb16, want, "rgb16.png"));
    /* 4-bit palette with transparency: colours from the palette, alpha dropped. */
    static const png_color palette[3] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
    static const uint8_t trans[3] = {255, 0, 128};
    for (int y = 0; y < H; y++) {
        memset(rows + y * 3, 0, 3);
        for (int x = 0; x < W; x++) {
            int index = (x + 2 * y) % 3;
            rows[y * 3 + x / 2] |= (uint8_t)(index << (x % 2 ? 0 : 4));
            want[(y * W + x) * 3] = palette[index].red;
            want[(y * W + x) * 3 + 1] = palette[index].green;
            want[(y * W + x) * 3 + 2] = palette[index].blue;
        }
    }
    png_spec pal = {W, H, PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_NONE,
                    rows, palette, 3, trans, 3};
    CHECK(png_decodes_to(&pal, want, "palette.png"));
}

/* ---- JPEG: EXIF orientation and parity with djpeg ---------------------------------------- */

enum corner { TL, TR, BL, BR };

/* A point well inside the 12x12 block at a corner of img. */
static const uint8_t *corner_px(const fr_image *img, enum corner c) {
    int x = c == TL || c == BL ? 5 : img->width - 6, y = c == TL || c == TR ? 5 : img->height - 6;
    return px(img, x, y);
}

TEST(exif_orientation_is_applied) {
    /* 48x24 grey with a red block at the top-left and a green block at the top-right. */
    enum { W = 48, H = 24, B = 12 };
    fr_image *img;
    CHECK_OK(fr_image_new(W, H, &img));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = px(img, x, y);
            memset(p, 128, 3);
            if (y < B && x < B) p[0] = 255, p[1] = 0, p[2] = 0;
            if (y < B && x >= W - B) p[0] = 0, p[1] = 255, p[2] = 0;
        }
    uint8_t *jpg;
    size_t jpg_size;
    fr_status st = fr_image_encode_jpeg(img, 95, &jpg, &jpg_size);
    fr_image_free(img);
    CHECK_OK(st);
    /* Where the red and green corners must end up for orientations 1..8. */
    static const enum corner red_at[9] = {0, TL, TR, BR, BL, TL, TR, BR, BL};
    static const enum corner green_at[9] = {0, TR, TL, BL, BR, BL, BR, TR, TL};
    int failures = 0;
    for (int orientation = 1; orientation <= 8; orientation++)
        for (int le = 0; le <= 1; le++) {
            size_t size;
            uint8_t *data = splice_exif(jpg, jpg_size, orientation, le, &size);
            fr_image *out = NULL;
            char name[64];
            snprintf(name, sizeof name, "orientation%d_%s.jpg", orientation, le ? "II" : "MM");
            st = data ? fr_image_decode(data, size, name, &out) : FR_E_NOMEM;
            free(data);
            int swap = orientation >= 5;
            int ok = st == FR_OK && out->width == (swap ? H : W) && out->height == (swap ? W : H);
            if (ok) {
                const uint8_t *r = corner_px(out, red_at[orientation]);
                const uint8_t *g = corner_px(out, green_at[orientation]);
                ok = r[0] > 200 && r[1] < 60 && r[2] < 60 && g[1] > 200 && g[0] < 60 && g[2] < 60;
            }
            if (!ok) {
                fprintf(stderr, "  %s: status %d, %dx%d: %s\n", name, (int)st, out ? out->width : 0,
                        out ? out->height : 0, fr_last_error());
                failures++;
            }
            fr_image_free(out);
        }
    free(jpg);
    CHECK(failures == 0);
}

/* A CMYK JPEG as Photoshop writes it (Adobe marker, inverted values), 16x8: the left half
 * red, the right half dark blue. libjpeg's default error handler is fine in a test. */
static void write_cmyk_jpeg(uint8_t **out, unsigned long *size) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr err;
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    *out = NULL, *size = 0;
    jpeg_mem_dest(&cinfo, out, size);
    cinfo.image_width = 16, cinfo.image_height = 8;
    cinfo.input_components = 4;
    cinfo.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 100, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    uint8_t row[16 * 4];
    for (int x = 0; x < 16; x++) {
        /* inverted CMYK: 255 is no ink. Red = no cyan, full magenta and yellow; dark blue =
         * full cyan and magenta, no yellow, half black. */
        static const uint8_t red[4] = {255, 0, 0, 255}, blue[4] = {0, 0, 255, 128};
        memcpy(row + x * 4, x < 8 ? red : blue, 4);
    }
    JSAMPROW rows[1] = {row};
    while (cinfo.next_scanline < 8) jpeg_write_scanlines(&cinfo, rows, 1);
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
}

TEST(cmyk_jpeg_becomes_rgb) {
    uint8_t *jpg;
    unsigned long size;
    write_cmyk_jpeg(&jpg, &size);
    fr_image *img = NULL;
    fr_status st = fr_image_decode(jpg, size, "cmyk.jpg", &img);
    free(jpg);
    CHECK_OK(st);
    const uint8_t *left = px(img, 2, 4), *right = px(img, 13, 4);
    int ok = img->width == 16 && img->height == 8 && left[0] > 245 && left[1] < 10 &&
             left[2] < 10 && right[0] < 10 && right[1] < 10 && abs(right[2] - 128) < 6;
    fr_image_free(img);
    CHECK(ok);
}

/* A 16x16 progressive JPEG of a smooth image; with many_scans, every AC coefficient of every
 * component is sent bit by bit (2090 scans), which a decoder must not be made to chew on. */
static void write_progressive_jpeg(int many_scans, uint8_t **out, unsigned long *size) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr err;
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    *out = NULL, *size = 0;
    jpeg_mem_dest(&cinfo, out, size);
    cinfo.image_width = 16, cinfo.image_height = 16;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    static jpeg_scan_info scans[11 + 3 * 63 * 11];
    if (many_scans) {
        int n = 0;
        for (int al = 10; al >= 0; al--) /* DC of all components, one bit at a time */
            scans[n++] = (jpeg_scan_info){3, {0, 1, 2, 0}, 0, 0, al == 10 ? 0 : al + 1, al};
        for (int c = 0; c < 3; c++)
            for (int k = 1; k < 64; k++)
                for (int al = 10; al >= 0; al--)
                    scans[n++] = (jpeg_scan_info){1, {c, 0, 0, 0}, k, k, al == 10 ? 0 : al + 1, al};
        cinfo.scan_info = scans;
        cinfo.num_scans = n;
    } else {
        jpeg_simple_progression(&cinfo);
    }
    jpeg_start_compress(&cinfo, TRUE);
    uint8_t row[16 * 3];
    JSAMPROW rows[1] = {row};
    while (cinfo.next_scanline < 16) {
        for (int x = 0; x < 16 * 3; x++) row[x] = (uint8_t)(x * 5 + cinfo.next_scanline * 9);
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
}

TEST(progressive_jpeg_decodes_within_a_scan_limit) {
    uint8_t *jpg;
    unsigned long size;
    write_progressive_jpeg(0, &jpg, &size);
    fr_image *img = NULL;
    fr_status st = fr_image_decode(jpg, size, "progressive.jpg", &img);
    free(jpg);
    CHECK_OK(st);
    int green_5_7 = (5 * 3 + 1) * 5 + 7 * 9; /* as write_progressive_jpeg fills it */
    int near = img->width == 16 && img->height == 16 && abs(px(img, 5, 7)[1] - green_5_7) < 12;
    fr_image_free(img);
    CHECK(near);
    write_progressive_jpeg(1, &jpg, &size);
    int ok = refused(jpg, size, "many_scans.jpg", FR_E_FORMAT) &&
             contains(fr_last_error(), "scans");
    free(jpg);
    CHECK(ok);
}

/* Run a program (NULL-terminated arguments) and return its exit status, its output dropped. */
static int run_quietly(const char *const *argv) {
    test_run r = {0};
    int status = test_run_argv(&r, argv, TEST_RUN_TIMEOUT);
    test_run_free(&r);
    return status;
}

static int have_djpeg(void) { return run_quietly((const char *const[]){"djpeg", "-version", NULL}) == 0; }

/* Decode path with us and with `djpeg -ppm`; 1 if the pixels are identical. */
static int same_as_djpeg(const char *path) {
    char ppm[512];
    tmp_path(ppm, sizeof ppm, "djpeg_out.ppm");
    fr_image *ours = NULL, *theirs = NULL;
    int ok = run_quietly((const char *const[]){"djpeg", "-ppm", "-outfile", ppm, path, NULL}) == 0 &&
             fr_image_load(path, &ours) == FR_OK &&
             fr_image_load(ppm, &theirs) == FR_OK && same_pixels(ours, theirs);
    if (!ok) fprintf(stderr, "  %s differs from djpeg: %s\n", path, fr_last_error());
    fr_image_free(ours), fr_image_free(theirs);
    return ok;
}

TEST(jpeg_pixels_equal_djpeg) {
    if (!have_djpeg()) SKIP("djpeg not installed (libjpeg-turbo-progs)");
    fr_image *img = pattern_image(61, 45); /* odd sizes exercise the edges of 4:2:0 upsampling */
    CHECK(img);
    char path[512];
    tmp_path(path, sizeof path, "djpeg_src.jpg");
    fr_status st = fr_image_save(img, path, 80);
    fr_image_free(img);
    CHECK_OK(st);
    CHECK(same_as_djpeg(path));
    /* Real photos, when the models are installed (their EXIF holds no rotation). */
    for (int i = 1; i <= 6; i++) {
        char sample[512];
        snprintf(sample, sizeof sample, "%s/face-api/demo/sample%d.jpg", FR_TEST_MODELS_DIR, i);
        if (access(sample, R_OK) == 0) CHECK(same_as_djpeg(sample));
    }
}

/* ---- GIF --------------------------------------------------------------------------------- */

/* Check a decoded GIF against write_gif's pattern: frame pixels from the colour map (black
 * where transparent), everything else black. */
static int gif_matches(const fr_image *img, int left, int top, int fw, int fh, int transparent) {
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            const uint8_t *p = px(img, x, y);
            uint8_t want[3] = {0, 0, 0};
            int fx = x - left, fy = y - top;
            if (fx >= 0 && fy >= 0 && fx < fw && fy < fh && gif_index(fx, fy) != transparent) {
                const GifColorType *c = &gif_colors[gif_index(fx, fy)];
                want[0] = c->Red, want[1] = c->Green, want[2] = c->Blue;
            }
            if (memcmp(p, want, 3) != 0) return 0;
        }
    return 1;
}

TEST(gif_first_frame_on_black) {
    struct { int sw, sh, left, top, fw, fh, interlace, transparent; } cases[] = {
        {16, 11, 0, 0, 16, 11, 0, -1}, /* frame = screen */
        {20, 17, 4, 2, 9, 13, 0, -1},  /* smaller frame placed on black */
        {20, 17, 3, 1, 11, 15, 1, -1}, /* interlaced */
        {12, 10, 1, 1, 10, 8, 0, 3},   /* transparent index stays black */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mem_buf buf = {0};
        fr_image *img = NULL;
        int ok = write_gif(cases[i].sw, cases[i].sh, cases[i].left, cases[i].top, cases[i].fw,
                           cases[i].fh, cases[i].interlace, cases[i].transparent, &buf);
        fr_status st = ok ? fr_image_decode(buf.data, buf.size, "test.gif", &img) : FR_E_IO;
        ok = ok && st == FR_OK && img->width == cases[i].sw && img->height == cases[i].sh &&
             gif_matches(img, cases[i].left, cases[i].top, cases[i].fw, cases[i].fh,
                         cases[i].transparent);
        if (!ok) fprintf(stderr, "  gif case %zu: status %d: %s\n", i, (int)st, fr_last_error());
        fr_image_free(img);
        /* Any cut of the file is refused. */
        for (size_t cut = 13; ok && cut + 1 < buf.size; cut += 7)
            ok = refused(buf.data, cut, "cut.gif", FR_E_FORMAT);
        free(buf.data);
        CHECK(ok);
    }
}

/* ---- refusals ---------------------------------------------------------------------------- */

TEST(truncated_jpeg_is_an_error) {
    fr_image *img = smooth_image(40, 30);
    CHECK(img);
    uint8_t *jpg;
    size_t size;
    fr_status st = fr_image_encode_jpeg(img, 90, &jpg, &size);
    fr_image_free(img);
    CHECK_OK(st);
    size_t cuts[] = {3, 4, 20, 150, 400, size / 2, size - 10, size - 2, size - 1};
    int ok = 1;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cut_at_%zu.jpg", cuts[i]);
        ok &= refused(jpg, cuts[i], name, FR_E_FORMAT);
    }
    /* Corrupt entropy-coded data (libjpeg would only warn and go on). */
    uint8_t *bad = malloc(size);
    CHECK(bad);
    memcpy(bad, jpg, size);
    for (size_t i = size / 2; i < size / 2 + 40; i++) bad[i] = 0xFF;
    ok &= refused(bad, size, "corrupt.jpg", FR_E_FORMAT);
    free(bad);
    free(jpg);
    CHECK(ok);
}

TEST(huge_jpeg_header_is_refused_before_decoding) {
    fr_image *img = pattern_image(16, 16);
    CHECK(img);
    uint8_t *jpg;
    size_t size;
    fr_status st = fr_image_encode_jpeg(img, 90, &jpg, &size);
    fr_image_free(img);
    CHECK_OK(st);
    /* SOF0: FF C0, length (2), precision (1), height (2), width (2). */
    size_t sof = 2;
    while (sof + 9 < size && !(jpg[sof] == 0xFF && jpg[sof + 1] == 0xC0)) sof++;
    int found = sof + 9 < size;
    if (found) {
        jpg[sof + 5] = 0xFD, jpg[sof + 6] = 0xE8; /* height 65000 */
        jpg[sof + 7] = 0xFD, jpg[sof + 8] = 0xE8; /* width 65000 */
    }
    int ok = found && refused(jpg, size, "huge.jpg", FR_E_LIMIT) &&
             contains(fr_last_error(), "65000x65000");
    free(jpg);
    CHECK(ok);
}

TEST(truncated_and_huge_png_are_refused) {
    fr_image *img = pattern_image(30, 20);
    CHECK(img);
    uint8_t *png;
    size_t size;
    fr_status st = fr_image_encode_png(img, &png, &size);
    fr_image_free(img);
    CHECK_OK(st);
    size_t cuts[] = {8, 10, 30, 60, size / 2, size - 12, size - 1};
    int ok = 1;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        ok &= refused(png, cuts[i], "cut.png", FR_E_FORMAT);
    /* A flipped bit in the image data fails its CRC. */
    png[size / 2] ^= 0x10;
    ok &= refused(png, size, "bitflip.png", FR_E_FORMAT);
    free(png);
    CHECK(ok);

    uint8_t header[64];
    size_t n = png_header_only(header, 100000, 100000);
    CHECK(refused(header, n, "huge.png", FR_E_LIMIT));
    CHECK(contains(fr_last_error(), "100000x100000"));
    n = png_header_only(header, 0, 10);
    CHECK(refused(header, n, "empty.png", FR_E_FORMAT));
    /* Within the limit but without image data. */
    n = png_header_only(header, 300, 200);
    CHECK(refused(header, n, "nodata.png", FR_E_FORMAT));
}

TEST(bad_ppm_and_gif_headers_are_refused) {
    const char *huge_ppm = "P6\n100000 100000\n255\n";
    CHECK(refused(huge_ppm, strlen(huge_ppm), "huge.ppm", FR_E_LIMIT));
    const char *overflow_ppm = "P5 99999999999999999999 1 255 ";
    CHECK(refused(overflow_ppm, strlen(overflow_ppm), "overflow.pgm", FR_E_LIMIT));
    const char *zero_ppm = "P5 0 10 255 ";
    CHECK(refused(zero_ppm, strlen(zero_ppm), "zero.pgm", FR_E_FORMAT));
    const char *short_ppm = "P6 4 4 255 \x01\x02\x03";
    CHECK(refused(short_ppm, strlen(short_ppm), "short.ppm", FR_E_FORMAT));
    const char *short_plain = "P3 2 2 255 1 2 3 4";
    CHECK(refused(short_plain, strlen(short_plain), "short_plain.ppm", FR_E_FORMAT));
    const char *over_maxval = "P2 2 1 10 5 11";
    CHECK(refused(over_maxval, strlen(over_maxval), "over.pgm", FR_E_FORMAT));
    const char *bad_maxval = "P2 1 1 70000 5";
    CHECK(refused(bad_maxval, strlen(bad_maxval), "maxval.pgm", FR_E_FORMAT));
    const char *no_size = "P6 # only a comment";
    CHECK(refused(no_size, strlen(no_size), "nosize.ppm", FR_E_FORMAT));

    /* GIF screen of 65535x65535, no colour map. */
    const uint8_t huge_gif[] = {'G', 'I', 'F', '8', '9', 'a', 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, ';'};
    CHECK(refused(huge_gif, sizeof huge_gif, "huge.gif", FR_E_LIMIT));
    const uint8_t no_image_gif[] = {'G', 'I', 'F', '8', '9', 'a', 4, 0, 4, 0, 0, 0, 0, ';'};
    CHECK(refused(no_image_gif, sizeof no_image_gif, "noimage.gif", FR_E_FORMAT));
}

TEST(unknown_empty_and_missing_files_are_refused) {
    const uint8_t garbage[] = "this is not an image at all";
    CHECK(refused(garbage, sizeof garbage, "garbage.jpg", FR_E_FORMAT));
    CHECK(contains(fr_last_error(), "unknown"));
    CHECK(refused(garbage, 0, "empty.png", FR_E_FORMAT));
    const uint8_t bmp[] = {'B', 'M', 0, 0, 0, 0};
    CHECK(refused(bmp, sizeof bmp, "picture.bmp", FR_E_FORMAT));

    fr_image *img = NULL;
    char path[512];
    tmp_path(path, sizeof path, "does_not_exist.jpg");
    unlink(path);
    CHECK(fr_image_load(path, &img) == FR_E_IO && img == NULL);
    CHECK(contains(fr_last_error(), "does_not_exist.jpg"));

    /* An empty file on disk. */
    tmp_path(path, sizeof path, "empty_file.png");
    CHECK(write_bytes(path, "", 0));
    CHECK(fr_image_load(path, &img) == FR_E_FORMAT && img == NULL);
    CHECK(contains(fr_last_error(), "empty_file.png"));

    /* A (sparse) file over the size limit is refused without being read. */
    tmp_path(path, sizeof path, "too_big.jpg");
    CHECK(write_bytes(path, "\xFF\xD8\xFF", 3));
    CHECK(truncate(path, (off_t)FR_IMAGE_MAX_FILE_BYTES + 1) == 0);
    fr_status st = fr_image_load(path, &img);
    unlink(path);
    CHECK(st == FR_E_LIMIT && img == NULL);
    CHECK(contains(fr_last_error(), "too_big.jpg"));
}

/* ---- saving ------------------------------------------------------------------------------ */

/* Temporary files left next to files whose names start with prefix. */
static int count_tmp_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

TEST(save_is_atomic_and_checks_its_arguments) {
    fr_image *img = pattern_image(10, 10);
    CHECK(img);
    char path[512], dir_path[512];
    tmp_path(path, sizeof path, "keep_me.png");
    fr_status st = fr_image_save(img, path, 0);
    /* Unknown extension and bad quality: refused, nothing written. */
    char bad[512];
    tmp_path(bad, sizeof bad, "picture.tiff");
    unlink(bad);
    fr_status st_ext = fr_image_save(img, bad, 0);
    int bad_exists = access(bad, F_OK) == 0;
    char jpg[512];
    tmp_path(jpg, sizeof jpg, "keep_me.jpg");
    fr_status st_quality = fr_image_save(img, jpg, -5);
    /* Saving over a directory fails at the rename: the directory and the old file survive,
     * and no temporary file is left. */
    tmp_path(dir_path, sizeof dir_path, "a_directory.png");
    mkdir(dir_path, 0755);
    fr_status st_dir = fr_image_save(img, dir_path, 0);
    struct stat sb;
    int dir_kept = stat(dir_path, &sb) == 0 && S_ISDIR(sb.st_mode);
    /* Into a folder that does not exist. */
    char missing[512];
    tmp_path(missing, sizeof missing, "no_such_folder/x.png");
    fr_status st_missing = fr_image_save(img, missing, 0);
    fr_image *back = NULL;
    fr_status st_back = fr_image_load(path, &back);
    int same = st_back == FR_OK && same_pixels(img, back);
    fr_image_free(img), fr_image_free(back);
    CHECK_OK(st);
    CHECK(st_ext == FR_E_ARG && !bad_exists);
    CHECK(st_quality == FR_E_ARG);
    CHECK(st_dir == FR_E_IO && dir_kept);
    CHECK(st_missing == FR_E_IO);
    CHECK(same);
    CHECK(count_tmp_files(FR_TEST_TMP_DIR, "a_directory.png.") == 0);
    CHECK(count_tmp_files(FR_TEST_TMP_DIR, "keep_me.") == 0);
}

/* ---- pixel operations -------------------------------------------------------------------- */

TEST(crop_copies_and_fills_outside_with_black) {
    fr_image *img = pattern_image(20, 10), *crop = NULL;
    CHECK(img);
    fr_status st = fr_image_crop(img, 5, 2, 6, 4, &crop);
    int ok = st == FR_OK && crop->width == 6 && crop->height == 4;
    for (int y = 0; ok && y < 4; y++) ok = memcmp(px(crop, 0, y), px(img, 5, 2 + y), 6 * 3) == 0;
    fr_image_free(crop);
    crop = NULL;
    /* Half outside at the top-left. */
    if (ok) st = fr_image_crop(img, -3, -2, 6, 5, &crop);
    ok = ok && st == FR_OK;
    for (int y = 0; ok && y < 5; y++)
        for (int x = 0; ok && x < 6; x++) {
            int sx = x - 3, sy = y - 2;
            uint8_t black[3] = {0, 0, 0};
            ok = memcmp(px(crop, x, y), sx >= 0 && sy >= 0 ? px(img, sx, sy) : black, 3) == 0;
        }
    fr_image_free(crop);
    crop = NULL;
    /* Wholly outside, far away: all black, no overflow. */
    if (ok) st = fr_image_crop(img, 2147483000, -2147483000, 3, 3, &crop);
    ok = ok && st == FR_OK;
    for (int i = 0; ok && i < 27; i++) ok = crop->rgb[i] == 0;
    fr_image_free(crop);
    fr_status st_bad = fr_image_crop(img, 0, 0, 0, 3, &crop);
    fr_image_free(img);
    CHECK_OK(st);
    CHECK(ok);
    CHECK(st_bad == FR_E_ARG);
}

TEST(mirror_flips_left_right) {
    fr_image *img = pattern_image(7, 3), *m = NULL, *mm = NULL;
    CHECK(img);
    fr_status st = fr_image_mirror(img, &m);
    if (st == FR_OK) st = fr_image_mirror(m, &mm);
    int ok = st == FR_OK && same_pixels(img, mm);
    for (int y = 0; ok && y < 3; y++)
        for (int x = 0; ok && x < 7; x++) ok = memcmp(px(m, x, y), px(img, 6 - x, y), 3) == 0;
    fr_image_free(img), fr_image_free(m), fr_image_free(mm);
    CHECK_OK(st);
    CHECK(ok);
}

TEST(resize_is_bilinear_with_aligned_centres) {
    /* Constant images stay constant, up and down. */
    fr_image *img;
    CHECK_OK(fr_image_new(17, 9, &img));
    for (int i = 0; i < 17 * 9; i++)
        img->rgb[i * 3] = 200, img->rgb[i * 3 + 1] = 13, img->rgb[i * 3 + 2] = 77;
    int sizes[][2] = {{17, 9}, {34, 18}, {5, 3}, {1, 1}, {100, 7}};
    int ok = 1;
    fr_status st = FR_OK;
    for (size_t k = 0; ok && k < sizeof sizes / sizeof sizes[0]; k++) {
        fr_image *r = NULL;
        st = fr_image_resize(img, sizes[k][0], sizes[k][1], &r);
        ok = st == FR_OK;
        for (int i = 0; ok && i < r->width * r->height; i++)
            ok = r->rgb[i * 3] == 200 && r->rgb[i * 3 + 1] == 13 && r->rgb[i * 3 + 2] == 77;
        fr_image_free(r);
    }
    fr_image_free(img);
    CHECK_OK(st);
    CHECK(ok);
    /* Same size is the identity. */
    img = pattern_image(13, 8);
    CHECK(img);
    fr_image *same = NULL;
    st = fr_image_resize(img, 13, 8, &same);
    ok = st == FR_OK && same_pixels(img, same);
    fr_image_free(img), fr_image_free(same);
    CHECK_OK(st);
    CHECK(ok);
    /* [0, 100] to 4 pixels samples at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped). */
    CHECK_OK(fr_image_new(2, 1, &img));
    img->rgb[3] = 100;
    fr_image *wide = NULL;
    st = fr_image_resize(img, 4, 1, &wide);
    ok = st == FR_OK && wide->rgb[0] == 0 && wide->rgb[3] == 25 && wide->rgb[6] == 75 &&
         wide->rgb[9] == 100;
    fr_image_free(wide);
    /* Halving [0, 100, 200, 250] averages the pairs (samples at 0.5 and 2.5). */
    fr_image *four = NULL, *half = NULL;
    if (ok) st = fr_image_new(4, 1, &four);
    if (ok && st == FR_OK) {
        four->rgb[3] = 100, four->rgb[6] = 200, four->rgb[9] = 250;
        st = fr_image_resize(four, 2, 1, &half);
        ok = st == FR_OK && half->rgb[0] == 50 && half->rgb[3] == 225;
    }
    fr_image_free(img), fr_image_free(four), fr_image_free(half);
    CHECK_OK(st);
    CHECK(ok);
}

TEST(warp_affine_samples_bilinearly_with_black_outside) {
    fr_image *img = pattern_image(12, 9), *out = NULL;
    CHECK(img);
    const float identity[6] = {1, 0, 0, 0, 1, 0};
    fr_status st = fr_image_warp_affine(img, identity, 12, 9, &out);
    int ok = st == FR_OK && same_pixels(img, out);
    fr_image_free(out);
    out = NULL;
    /* Shift by one pixel to the left: out(x) = in(x + 1), the last column black. */
    const float shift[6] = {1, 0, 1, 0, 1, 0};
    if (ok) st = fr_image_warp_affine(img, shift, 12, 9, &out);
    ok = ok && st == FR_OK;
    for (int y = 0; ok && y < 9; y++) {
        ok = memcmp(px(out, 0, y), px(img, 1, y), 10 * 3) == 0;
        ok = ok && px(out, 11, y)[0] == 0 && px(out, 11, y)[1] == 0 && px(out, 11, y)[2] == 0;
    }
    fr_image_free(out);
    out = NULL;
    /* Rotate 90 degrees: out(x, y) = in(y, H-1-x), out is 9x12. */
    const float rotate[6] = {0, 1, 0, -1, 0, 8};
    if (ok) st = fr_image_warp_affine(img, rotate, 9, 12, &out);
    ok = ok && st == FR_OK;
    for (int y = 0; ok && y < 12; y++)
        for (int x = 0; ok && x < 9; x++) ok = memcmp(px(out, x, y), px(img, y, 8 - x), 3) == 0;
    fr_image_free(out);
    out = NULL;
    /* Half a pixel to the right of pixel 0 of a 2-pixel image [40, 80]: 60; at the last pixel
     * plus a half, half of it blends with black: 40. */
    fr_image *two;
    if (ok) st = fr_image_new(2, 1, &two);
    if (ok && st == FR_OK) {
        two->rgb[0] = 40, two->rgb[3] = 80;
        const float half[6] = {1, 0, 0.5f, 0, 1, 0};
        st = fr_image_warp_affine(two, half, 2, 1, &out);
        ok = st == FR_OK && out->rgb[0] == 60 && out->rgb[3] == 40;
        fr_image_free(two);
    }
    fr_image_free(out);
    out = NULL;
    /* A matrix of NaNs samples nothing. */
    const float nan_m[6] = {NAN, 0, 0, 0, NAN, 0};
    if (ok) st = fr_image_warp_affine(img, nan_m, 4, 4, &out);
    ok = ok && st == FR_OK;
    for (int i = 0; ok && i < 4 * 4 * 3; i++) ok = out->rgb[i] == 0;
    fr_image_free(out);
    fr_image_free(img);
    CHECK_OK(st);
    CHECK(ok);
}

static int count_colour(const fr_image *img, uint8_t r, uint8_t g, uint8_t b) {
    int n = 0;
    for (int i = 0; i < img->width * img->height; i++)
        n += img->rgb[i * 3] == r && img->rgb[i * 3 + 1] == g && img->rgb[i * 3 + 2] == b;
    return n;
}

TEST(draw_rect_outlines_and_clips) {
    fr_image *img;
    CHECK_OK(fr_image_new(20, 20, &img));
    fr_image_draw_rect(img, 2, 3, 10, 6, 0, 255, 0, 2);
    /* A 10x6 outline 2 pixels thick: 60 - 6*2 pixels. */
    int n = count_colour(img, 0, 255, 0);
    int corner = px(img, 2, 3)[1] == 255, far_corner = px(img, 11, 8)[1] == 255;
    int inside = px(img, 6, 6)[1] == 0, outside = px(img, 12, 3)[1] == 0;
    fr_image_draw_rect(img, -5, -5, 10, 10, 255, 0, 0, 1);       /* clipped */
    fr_image_draw_rect(img, 2147483000, 5, 2147483000, 5, 255, 0, 0, 3); /* wholly outside */
    fr_image_draw_rect(img, -2147483000, -2147483000, 2147483647, 2147483647, 255, 0, 0, 1);
    int clipped = count_colour(img, 255, 0, 0);
    fr_image_free(img);
    CHECK(n == 60 - 12);
    CHECK(corner && far_corner && inside && outside);
    CHECK(clipped == 5 + 4); /* the right and bottom edges of the first clipped rectangle */
}

TEST(draw_text_renders_every_glyph) {
    /* Each printable character draws something inside its 8x8 cell (space nothing), and no two
     * characters look the same. */
    static uint8_t cells[95][64];
    int ok = 1;
    for (int c = 32; c <= 126 && ok; c++) {
        fr_image *img;
        CHECK_OK(fr_image_new(10, 10, &img));
        char text[2] = {(char)c, 0};
        fr_image_draw_text(img, 1, 1, text, 255, 255, 255, 1);
        int on = 0, outside = 0;
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 10; x++) {
                int lit = px(img, x, y)[0] == 255;
                if (x >= 1 && x < 9 && y >= 1 && y < 9)
                    cells[c - 32][(y - 1) * 8 + x - 1] = (uint8_t)lit;
                else
                    outside += lit;
                on += lit;
            }
        fr_image_free(img);
        ok = outside == 0 && (c == ' ' ? on == 0 : on > 0);
        if (!ok) fprintf(stderr, "  glyph '%c': %d pixels, %d outside\n", c, on, outside);
    }
    CHECK(ok);
    for (int a = 0; a < 95; a++)
        for (int b = a + 1; b < 95; b++)
            if (memcmp(cells[a], cells[b], 64) == 0) {
                fprintf(stderr, "  glyphs '%c' and '%c' are identical\n", a + 32, b + 32);
                ok = 0;
            }
    CHECK(ok);
    /* Scale 3 draws each pixel as 3x3; text advances 8*scale per character. */
    fr_image *img;
    CHECK_OK(fr_image_new(60, 30, &img));
    fr_image_draw_text(img, 0, 0, "A", 255, 255, 255, 1);
    int one = count_colour(img, 255, 255, 255);
    memset(img->rgb, 0, 60 * 30 * 3);
    fr_image_draw_text(img, 0, 0, "A", 255, 255, 255, 3);
    int three = count_colour(img, 255, 255, 255);
    memset(img->rgb, 0, 60 * 30 * 3);
    fr_image_draw_text(img, 0, 0, "AA", 255, 255, 255, 2);
    int left = 0, right = 0;
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 32; x++) *(x < 16 ? &left : &right) += px(img, x, y)[0] == 255;
    /* Clipped at every edge, with a newline and a non-ASCII byte. */
    fr_image_draw_text(img, -7, -5, "clip\nme \x80", 1, 2, 3, 4);
    fr_image_draw_text(img, 55, 25, "edge", 1, 2, 3, 2);
    fr_image_draw_text(img, 2147483000, 2147483000, "far", 1, 2, 3, 1000);
    fr_image_free(img);
    CHECK(one > 0 && three == 9 * one);
    CHECK(left == 4 * one && right == left);
}

TEST_MAIN(CASE(new_image_is_black_and_sizes_are_checked), CASE(png_round_trip_is_exact),
          CASE(jpeg_round_trip_is_close), CASE(ppm_and_pgm_variants_decode),
          CASE(png_colour_types_become_rgb), CASE(exif_orientation_is_applied),
          CASE(cmyk_jpeg_becomes_rgb), CASE(progressive_jpeg_decodes_within_a_scan_limit),
          CASE(jpeg_pixels_equal_djpeg), CASE(gif_first_frame_on_black),
          CASE(truncated_jpeg_is_an_error), CASE(huge_jpeg_header_is_refused_before_decoding),
          CASE(truncated_and_huge_png_are_refused), CASE(bad_ppm_and_gif_headers_are_refused),
          CASE(unknown_empty_and_missing_files_are_refused),
          CASE(save_is_atomic_and_checks_its_arguments),
          CASE(crop_copies_and_fills_outside_with_black), CASE(mirror_flips_left_right),
          CASE(resize_is_bilinear_with_aligned_centres),
          CASE(warp_affine_samples_bilinearly_with_black_outside),
          CASE(draw_rect_outlines_and_clips), CASE(draw_text_renders_every_glyph))
