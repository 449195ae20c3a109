/* image_internal.h: declarations shared by the files of src/image (not installed). */
#ifndef FR_IMAGE_INTERNAL_H
#define FR_IMAGE_INTERNAL_H

#include "common/common.h"

#include <stddef.h>
#include <stdint.h>

/* Refuse dimensions read from a file header before any pixel memory is allocated:
 * zero sides are malformed (FR_E_FORMAT), more than FR_IMAGE_MAX_PIXELS is FR_E_LIMIT. */
fr_status fr_image_check_dims(uint64_t width, uint64_t height, const char *name,
                              const char *format);

/* A black image of dimensions that passed fr_image_check_dims (errors name `name`). */
fr_status fr_image_alloc_for(int width, int height, const char *name, fr_image **out);

/* One decoder per format; each is given the whole file and the name for messages. */
fr_status fr_decode_jpeg(const uint8_t *data, size_t size, const char *name, fr_image **out);
fr_status fr_decode_png(const uint8_t *data, size_t size, const char *name, fr_image **out);
fr_status fr_decode_pnm(const uint8_t *data, size_t size, const char *name, fr_image **out);
fr_status fr_decode_gif(const uint8_t *data, size_t size, const char *name, fr_image **out);

#endif
