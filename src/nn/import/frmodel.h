/* frmodel.h: facerec's own model file, one file with a network's parameters ready to run
 * (e.g. batch norm already folded), written by an importer and read by --model FILE.
 *
 * Layout, every integer a little-endian uint32, every string a uint32 length then its bytes
 * (no terminator), every float a little-endian IEEE float32:
 *
 *   "FRMODEL1"                         8 bytes of magic
 *   version                            FRMODEL_VERSION
 *   model id                           string: the network that reads the tensors ("nn4small2")
 *   input height, width, channels
 *   preprocessing id                   string: how an image becomes the input
 *   tensor count
 *   per tensor:  name (string), ndim (1..NN_MAX_DIMS), ndim dims, the float32 data,
 *                then the CRC-32 of this tensor's bytes from its name length up to its data end
 *   CRC-32 of every byte of the file before it
 *
 * A truncated, corrupt or inconsistent file is an FR_E_MODEL error naming the file (and the
 * tensor, when one is at fault). */
#ifndef FR_NN_FRMODEL_H
#define FR_NN_FRMODEL_H

#include "nn/weights.h"

#include <stdint.h>

#define FRMODEL_MAGIC "FRMODEL1"
#define FRMODEL_VERSION 1u
#define FRMODEL_MAX_ID 63   /* longest model or preprocessing id */
#define FRMODEL_MAX_NAME 255 /* longest tensor name */

typedef struct frmodel_info {
    char model_id[FRMODEL_MAX_ID + 1];
    int input_h, input_w, input_c;
    char preprocessing[FRMODEL_MAX_ID + 1];
} frmodel_info;

/* Write `tensors` (their name, ndim, shape and data; count must be the product of the shape)
 * to path, replacing any file there. */
fr_status frmodel_write(const char *path, const frmodel_info *info,
                        const nn_tensor_entry *tensors, int n_tensors);

/* Read the whole file, verify both kinds of checksums, and return its header and tensors. */
fr_status frmodel_read(const char *path, frmodel_info *info, nn_weights **out);

/* Read only the header (magic, version, ids, input spec), e.g. to learn which network a file
 * holds before loading it. */
fr_status frmodel_read_info(const char *path, frmodel_info *info);

/* Whether path is a readable file that begins with the FRMODEL1 magic. */
int frmodel_is_file(const char *path);

/* CRC-32 (IEEE 802.3, as zlib computes it) of n bytes, continuing from crc (0 to start). */
uint32_t frmodel_crc32(uint32_t crc, const uint8_t *data, size_t n);

#endif
