/* decode_gif.c: the first frame of a GIF with giflib, drawn at its place on a black screen
 * (transparent pixels stay black). */
#include "image/image_internal.h"

#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct gif_reader {
    const uint8_t *data;
    size_t size, pos;
} gif_reader;

static int read_from_memory(GifFileType *gif, GifByteType *out, int n) {
    gif_reader *r = gif->UserData;
    size_t len = FR_MIN((size_t)(n < 0 ? 0 : n), r->size - r->pos);
    memcpy(out, r->data + r->pos, len);
    r->pos += len;
    return (int)len;
}

static fr_status gif_failed(const char *name, int error) {
    const char *why = GifErrorString(error);
    return fr_error(FR_E_FORMAT, "%s: corrupt or truncated GIF: %s", name,
                    why ? why : "unknown error");
}

/* The transparent colour index of a Graphics Control extension, else -1; consumes the
 * extension's sub-blocks. */
static fr_status read_extension(GifFileType *gif, const char *name, int *transparent) {
    int code;
    GifByteType *block;
    if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) return gif_failed(name, gif->Error);
    GraphicsControlBlock gcb;
    if (code == GRAPHICS_EXT_FUNC_CODE && block && block[0] >= 4 &&
        DGifExtensionToGCB(block[0], block + 1, &gcb) == GIF_OK)
        *transparent = gcb.TransparentColor;
    while (block)
        if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) return gif_failed(name, gif->Error);
    return FR_OK;
}

/* Decode the frame whose descriptor was just read into img (the whole screen). */
static fr_status read_frame(GifFileType *gif, const char *name, int transparent, fr_image *img) {
    const GifImageDesc *desc = &gif->Image;
    const ColorMapObject *cmap = desc->ColorMap ? desc->ColorMap : gif->SColorMap;
    if (!cmap) return fr_error(FR_E_FORMAT, "%s: GIF has no colour map", name);
    fr_status st = fr_image_check_dims((uint64_t)FR_MAX(desc->Width, 0),
                                       (uint64_t)FR_MAX(desc->Height, 0), name, "GIF frame");
    if (st != FR_OK) return st;
    GifPixelType *line = malloc((size_t)desc->Width);
    if (!line) return fr_error(FR_E_NOMEM, "%s: out of memory decoding GIF", name);
    /* Interlaced frames store rows 0, 8, 16.., then 4, 12.., then 2, 6.., then 1, 3.. */
    static const int pass_start[4] = {0, 4, 2, 1}, pass_step[4] = {8, 8, 4, 2};
    int n_passes = desc->Interlace ? 4 : 1;
    for (int pass = 0; pass < n_passes; pass++) {
        int start = desc->Interlace ? pass_start[pass] : 0;
        int step = desc->Interlace ? pass_step[pass] : 1;
        for (int y = start; y < desc->Height; y += step) {
            if (DGifGetLine(gif, line, desc->Width) == GIF_ERROR) {
                free(line);
                return gif_failed(name, gif->Error);
            }
            int sy = desc->Top + y;
            if (sy < 0 || sy >= img->height) continue;
            for (int x = 0; x < desc->Width; x++) {
                int sx = desc->Left + x, index = line[x];
                if (sx < 0 || sx >= img->width || index == transparent || index >= cmap->ColorCount)
                    continue;
                const GifColorType *c = &cmap->Colors[index];
                uint8_t *px = img->rgb + ((size_t)sy * (size_t)img->width + (size_t)sx) * 3;
                px[0] = c->Red, px[1] = c->Green, px[2] = c->Blue;
            }
        }
    }
    free(line);
    return FR_OK;
}

fr_status fr_decode_gif(const uint8_t *data, size_t size, const char *name, fr_image **out) {
    gif_reader reader = {data, size, 0};
    int error;
    GifFileType *gif = DGifOpen(&reader, read_from_memory, &error);
    if (!gif) return gif_failed(name, error);
    fr_image *img = NULL;
    fr_status st = fr_image_check_dims((uint64_t)FR_MAX(gif->SWidth, 0),
                                       (uint64_t)FR_MAX(gif->SHeight, 0), name, "GIF");
    if (st == FR_OK) st = fr_image_alloc_for(gif->SWidth, gif->SHeight, name, &img);
    int transparent = -1, done = 0;
    while (st == FR_OK && !done) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) {
            st = gif_failed(name, gif->Error);
        } else if (type == EXTENSION_RECORD_TYPE) {
            st = read_extension(gif, name, &transparent);
        } else if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) == GIF_ERROR) st = gif_failed(name, gif->Error);
            else st = read_frame(gif, name, transparent, img);
            done = 1;
        } else { /* the terminator before any image */
            st = fr_error(FR_E_FORMAT, "%s: GIF holds no image", name);
        }
    }
    DGifCloseFile(gif, &error);
    if (st == FR_OK) *out = img;
    else fr_image_free(img);
    return st;
}
