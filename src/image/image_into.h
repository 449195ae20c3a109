/* image_into.h: the image operations of facerec.h that make a new image, writing instead
 * into an image the caller owns (dst->width and dst->height set, dst->rgb holding
 * width * height * 3 bytes), so that the pipeline can keep its crops in an arena rather
 * than allocate them per call (not installed). */
#ifndef FR_IMAGE_INTO_H
#define FR_IMAGE_INTO_H

#include "facerec.h"

/* fr_image_crop of the rectangle at (x, y) of dst's size. */
void image_crop_into(const fr_image *img, int x, int y, fr_image *dst);
/* fr_image_mirror; dst has img's size. */
void image_mirror_into(const fr_image *img, fr_image *dst);
/* fr_image_warp_affine to dst's size. */
void image_warp_affine_into(const fr_image *img, const float m[6], fr_image *dst);

#endif
