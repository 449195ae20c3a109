/* align.c: face alignments (see align.h). */
#include "face/align.h"

#include "common/common.h"
#include "nets/faceapi_input.h"

#include <math.h>

/* ---- face-api ------------------------------------------------------------------------- */

/* The mean of landmarks [first, first + n). */
static void landmarks_centre(const fr_face *face, int first, int n, double centre[2]) {
    centre[0] = centre[1] = 0.0;
    for (int i = first; i < first + n; i++) {
        centre[0] += face->landmarks[i][0];
        centre[1] += face->landmarks[i][1];
    }
    centre[0] /= n;
    centre[1] /= n;
}

fr_status align_faceapi_box(const fr_face *face, int img_w, int img_h, float box[4]) {
    if (!face || !box) return fr_error(FR_E_ARG, "align_faceapi_box: NULL argument");
    if (face->n_landmarks != 68)
        return fr_error(FR_E_ARG, "faceapi alignment needs 68 landmarks, the face has %d",
                        face->n_landmarks);
    /* face-api keeps the size of the crop the landmarks were found in and bounds the box
     * by it (see align.h) */
    faceapi_rect detection;
    if (!faceapi_clip_box(face->x, face->y, face->w, face->h, img_w, img_h, &detection))
        return fr_error(FR_E_ARG, "faceapi alignment: face box (%g, %g, %g, %g) lies outside "
                        "the %dx%d image", face->x, face->y, face->w, face->h, img_w, img_h);

    double left_eye[2], right_eye[2], mouth[2];
    landmarks_centre(face, 36, 6, left_eye);
    landmarks_centre(face, 42, 6, right_eye);
    landmarks_centre(face, 48, 20, mouth);
    double eye_to_mouth = (hypot(mouth[0] - left_eye[0], mouth[1] - left_eye[1]) +
                           hypot(mouth[0] - right_eye[0], mouth[1] - right_eye[1])) / 2;
    double size = floor(eye_to_mouth / 0.45);
    double ref_x = (left_eye[0] + right_eye[0] + mouth[0]) / 3;
    double ref_y = (left_eye[1] + right_eye[1] + mouth[1]) / 3;
    double x = floor(FR_MAX(0.0, ref_x - 0.5 * size));
    double y = floor(FR_MAX(0.0, ref_y - 0.43 * size));
    box[0] = (float)x;
    box[1] = (float)y;
    box[2] = (float)FR_MIN(size, detection.w + x);
    box[3] = (float)FR_MIN(size, detection.h + y);
    return FR_OK;
}

fr_status align_faceapi_crop(const fr_image *img, const float box[4], fr_image **crop) {
    if (!img || !box || !crop) return fr_error(FR_E_ARG, "align_faceapi_crop: NULL argument");
    faceapi_rect r;
    if (!faceapi_clip_box(box[0], box[1], box[2], box[3], img->width, img->height, &r))
        return fr_error(FR_E_NO_FACE, "faceapi alignment: aligned box (%g, %g, %g, %g) lies "
                        "outside the %dx%d image", box[0], box[1], box[2], box[3], img->width,
                        img->height);
    return fr_image_crop(img, r.x, r.y, r.w, r.h, crop);
}

fr_status align_faceapi(const fr_image *img, const fr_face *face, fr_image **crop) {
    if (!img || !face || !crop) return fr_error(FR_E_ARG, "align_faceapi: NULL argument");
    float box[4];
    fr_status st = align_faceapi_box(face, img->width, img->height, box);
    if (st != FR_OK) return st;
    return align_faceapi_crop(img, box, crop);
}
