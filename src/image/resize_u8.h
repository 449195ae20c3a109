/* resize_u8.h: the original system's 8-bit resize (not installed), shared by the Haar
 * detector's pyramid (face/haar.c) and nn4.small2's input (nets/nn4small2.c). */
#ifndef FR_IMAGE_RESIZE_U8_H
#define FR_IMAGE_RESIZE_U8_H

#include "facerec.h"

#include <stdint.h>

/* 8-bit bilinear resize bit-exact with OpenCV's cv::resize(INTER_LINEAR) on x86: centres
 * aligned, edge pixels repeated, 11-bit fixed-point weights, and OpenCV's SIMD rounding of
 * the vertical pass. src is (h,w,channels), dst is (dh,dw,channels). The original system
 * resized both its detector pyramid and its network input this way. */
fr_status image_resize_u8(const uint8_t *src, int w, int h, int channels, uint8_t *dst, int dw,
                          int dh);

#endif
