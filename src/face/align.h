/* align.h: face alignment, the crop of a detected face that an embedding network expects.
 * Each alignment is one function with the signature of align_faceapi(); the pipeline picks
 * one by name (face/pipeline.c).
 *
 * face-api ("faceapi"): no warp, an axis-aligned square-ish crop placed by the 68 landmarks,
 * as face-api.js computes its descriptors (FaceLandmarks.align with useDlibAlignment, then
 * extractFaceTensors):
 *   - the centres of the left eye (points 36-41), right eye (42-47) and mouth (48-67);
 *   - size = floor(mean distance from each eye centre to the mouth centre / 0.45);
 *   - the box's top-left corner lies 0.5 * size left of and 0.43 * size above the mean of
 *     the three centres (floored, at least 0); its width and height are size, but at most
 *     the width (height) of the detection box's crop plus x (y), as face-api does;
 *   - the image region under that box, clipped to the image and floored, is the crop.
 */
#ifndef FR_FACE_ALIGN_H
#define FR_FACE_ALIGN_H

#include "facerec.h"

/* The face-api alignment box (x, y, w, h) of a face with 68 landmarks and its detection box
 * in a img_w x img_h image, before clipping to the image. */
fr_status align_faceapi_box(const fr_face *face, int img_w, int img_h, float box[4]);

/* The crop of img under box (x, y, w, h) clipped to the image, as extractFaceTensors cuts
 * it; FR_E_NO_FACE if nothing of the box lies in the image. */
fr_status align_faceapi_crop(const fr_image *img, const float box[4], fr_image **crop);

/* align_faceapi_box then align_faceapi_crop. */
fr_status align_faceapi(const fr_image *img, const fr_face *face, fr_image **crop);

#endif
