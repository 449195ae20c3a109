/* align.h: face alignment, the crop of a detected face that an embedding network expects.
 * The pipeline picks one by name (face/pipeline.c): face-api's crop, or a similarity warp onto
 * a template at a scale.
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

/* The region (x, y, w, h) of img that align_faceapi crops. */
fr_status align_faceapi_region(const fr_image *img, const fr_face *face, int region[4]);

/* align_faceapi_box then align_faceapi_crop. */
fr_status align_faceapi(const fr_image *img, const fr_face *face, fr_image **crop);

/* Similarity alignment ("similarity", "dlib-chip"): five points of the face (eye centres,
 * nose tip, mouth corners, in image order left to right) are mapped onto a template by the
 * rotation + uniform scale + translation that is closest in least squares (Umeyama's closed
 * form; no reflection), and the chip is warped with it (bilinear, black outside the image).
 * The points come from 68 landmarks (eye centres = mean of 36-41 and of 42-47, nose tip 30,
 * mouth corners 48 and 54) or are the face's 5 landmarks as they are.
 *
 * "similarity": the 112x112 ArcFace template (insightface's), the input of MobileFaceNet.
 * "dlib-chip": a 150x150 chip for the dlib ResNet, rotation-normalised like dlib's
 *   get_face_chip_details(shape, 150, 0.25). Its template is the ArcFace template scaled by
 *   1.4495 and moved by (-7.194, -29.055): the least-squares fit of the ArcFace points onto
 *   the same five points of dlib's mean face shape placed with dlib's 25% padding
 *   ((u + 0.25) / 1.5 * 150); the fit is within 2.6 px of dlib's points (the mouth is
 *   lower relative to the eyes in dlib's mean face). */
extern const float align_arcface_template[5][2];
extern const float align_dlib_chip_template[5][2];

/* The five points of a face with 5 or 68 landmarks (FR_E_ARG otherwise). */
fr_status align_five_points(const fr_face *face, float pts[5][2]);

/* The least-squares similarity taking pts (image) onto tpl (chip), inverted: m maps chip
 * pixels to image pixels, as fr_image_warp_affine wants. FR_E_ARG if the points coincide. */
fr_status align_similarity_matrix(const float pts[5][2], const float tpl[5][2], float m[6]);

/* The similarity alignment onto tpl in a size x size crop, with the template's points moved
 * `scale` times as far from the crop's centre: above 1 the face fills more of the crop (less
 * margin), below 1 less. FR_E_ARG outside [ALIGN_SCALE_MIN, ALIGN_SCALE_MAX], as
 * align_check_scale says. */
#define ALIGN_SCALE_MIN 0.5
#define ALIGN_SCALE_MAX 2.0
fr_status align_check_scale(float scale);
fr_status align_warp(const fr_image *img, const fr_face *face, const float tpl[5][2], int size,
                     float scale, fr_image **crop);
/* The matrix align_warp warps with (chip pixels to image pixels). */
fr_status align_warp_matrix(const fr_face *face, const float tpl[5][2], int size, float scale,
                            float m[6]);

/* align_warp at scale 1 onto the ArcFace template (112) and dlib's chip (150). */
fr_status align_similarity(const fr_image *img, const fr_face *face, fr_image **crop);
fr_status align_dlib_chip(const fr_image *img, const fr_face *face, fr_image **crop);

#endif
