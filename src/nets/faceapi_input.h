/* faceapi_input.h: how face-api.js turns an image region into network input, shared by its
 * networks and by the face-api alignment.
 *
 *   - faceapi_clip_box: the integer rectangle extractFaceTensors cuts out for a float box
 *     (Box.clipAtImageBorders: clip to the image, then floor x, y, width and height).
 *   - faceapi_to_square: NetInput.toBatchTensor for one input: the region padded with zeros
 *     to a square (centred or not), then resized bilinearly (align_corners and
 *     half_pixel_centers both off, tfjs's resizeBilinear defaults) when not already `size`.
 *   - faceapi_normalize: the mean-RGB subtraction and division by 255 of the landmark and
 *     recognition nets.
 */
#ifndef FR_NETS_FACEAPI_INPUT_H
#define FR_NETS_FACEAPI_INPUT_H

#include "facerec.h"
#include "nn/nn.h"

#include <stddef.h>

/* Warm arenas each face-api network keeps for callers on several threads (nn_arena_pool). */
#define FACEAPI_ARENAS_KEPT 4

typedef struct faceapi_rect {
    int x, y, w, h;
} faceapi_rect;

/* The part of the box (x, y, w, h) inside a img_w x img_h image, each coordinate floored.
 * Returns 0 when nothing is left (width or height <= 0), as extractFaceTensors drops such
 * boxes (*out is then all zero). */
int faceapi_clip_box(double x, double y, double w, double h, int img_w, int img_h,
                     faceapi_rect *out);

/* The region r of img (which must lie inside the image), padded to a square and resized:
 * out is (size,size,3) with RGB values in 0..255. `centered`: padding split over both sides
 * (the larger half after the image), else all after it. The padded square is never built:
 * each output pixel samples the region directly, with zeros outside it. */
void faceapi_to_square(const fr_image *img, int threads, faceapi_rect r, int size, int centered,
                       float *out);

/* x is (P,3): x = (x - mean_rgb) / 255 with face-api's mean RGB (122.782, 117.001, 104.298). */
void faceapi_normalize(float *x, size_t P);

#endif
