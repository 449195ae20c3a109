/* decode.c: fr_image_load and fr_image_decode, which pick the decoder from the first bytes. */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

typedef fr_status (*decode_fn)(const uint8_t *data, size_t size, const char *name,
                               fr_image **out);

static int starts_with(const uint8_t *data, size_t size, const char *magic, size_t n) {
    return size >= n && memcmp(data, magic, n) == 0;
}

/* The decoder for the signature at the start of data, or NULL. */
static decode_fn sniff(const uint8_t *data, size_t size) {
    if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return fr_decode_jpeg;
    if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) return fr_decode_png;
    if (starts_with(data, size, "GIF87a", 6) || starts_with(data, size, "GIF89a", 6))
        return fr_decode_gif;
    if (size >= 3 && data[0] == 'P' && memchr("2356", data[1], 4) &&
        memchr(" \t\r\n#", data[2], 5))
        return fr_decode_pnm;
    return NULL;
}

fr_status fr_image_decode(const void *data, size_t size, const char *name, fr_image **out) {
    if (!name) name = "<memory>";
    if (!out) return fr_error(FR_E_ARG, "%s: fr_image_decode: out is NULL", name);
    *out = NULL;
    if (!data && size > 0) return fr_error(FR_E_ARG, "%s: fr_image_decode: data is NULL", name);
    if (size == 0) return fr_error(FR_E_FORMAT, "%s: empty file, not an image", name);
    if (size > FR_IMAGE_MAX_FILE_BYTES)
        return fr_error(FR_E_LIMIT, "%s: %zu bytes, over the limit of %u for an image file", name,
                        size, FR_IMAGE_MAX_FILE_BYTES);
    decode_fn decode = sniff(data, size);
    if (!decode)
        return fr_error(FR_E_FORMAT,
                        "%s: unknown image format (not JPEG, PNG, GIF or PPM/PGM by content)",
                        name);
    return decode(data, size, name, out);
}

fr_status fr_image_load(const char *path, fr_image **out) {
    if (!out) return fr_error(FR_E_ARG, "fr_image_load: out is NULL");
    *out = NULL;
    if (!path) return fr_error(FR_E_ARG, "fr_image_load: path is NULL");
    uint8_t *data;
    size_t size;
    fr_status st = fr_read_file(path, FR_IMAGE_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    st = fr_image_decode(data, size, path, out);
    free(data);
    return st;
}
