/* align.c: face alignments (see align.h). */
#include "face/align.h"

#include "common/common.h"
#include "nets/faceapi_input.h"

#include <math.h>
#include <string.h>

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

/* The region of img under box, clipped as extractFaceTensors clips it. */
static fr_status clip_region(const fr_image *img, const float box[4], int region[4]) {
    faceapi_rect r;
    if (!faceapi_clip_box(box[0], box[1], box[2], box[3], img->width, img->height, &r))
        return fr_error(FR_E_NO_FACE, "faceapi alignment: aligned box (%g, %g, %g, %g) lies "
                        "outside the %dx%d image", box[0], box[1], box[2], box[3], img->width,
                        img->height);
    region[0] = r.x, region[1] = r.y, region[2] = r.w, region[3] = r.h;
    return FR_OK;
}

fr_status align_faceapi_crop(const fr_image *img, const float box[4], fr_image **crop) {
    if (!img || !box || !crop) return fr_error(FR_E_ARG, "align_faceapi_crop: NULL argument");
    int r[4];
    fr_status st = clip_region(img, box, r);
    return st == FR_OK ? fr_image_crop(img, r[0], r[1], r[2], r[3], crop) : st;
}

fr_status align_faceapi_region(const fr_image *img, const fr_face *face, int region[4]) {
    float box[4];
    fr_status st = align_faceapi_box(face, img->width, img->height, box);
    return st == FR_OK ? clip_region(img, box, region) : st;
}

fr_status align_faceapi(const fr_image *img, const fr_face *face, fr_image **crop) {
    if (!img || !face || !crop) return fr_error(FR_E_ARG, "align_faceapi: NULL argument");
    int r[4];
    fr_status st = align_faceapi_region(img, face, r);
    return st == FR_OK ? fr_image_crop(img, r[0], r[1], r[2], r[3], crop) : st;
}

/* ---- similarity (5-point) alignment ------------------------------------------------------ */

const float align_arcface_template[5][2] = {{38.2946f, 51.6963f},
                                            {73.5318f, 51.5014f},
                                            {56.0252f, 71.7366f},
                                            {41.5493f, 92.3655f},
                                            {70.7299f, 92.2041f}};

/* 1.4495 * align_arcface_template + (-7.194, -29.055), see align.h */
#define DLIB_CHIP_SCALE 1.44945f
#define DLIB_CHIP_X(x) (DLIB_CHIP_SCALE * (x) - 7.19446f)
#define DLIB_CHIP_Y(y) (DLIB_CHIP_SCALE * (y) - 29.05516f)
const float align_dlib_chip_template[5][2] = {
    {DLIB_CHIP_X(38.2946f), DLIB_CHIP_Y(51.6963f)}, {DLIB_CHIP_X(73.5318f), DLIB_CHIP_Y(51.5014f)},
    {DLIB_CHIP_X(56.0252f), DLIB_CHIP_Y(71.7366f)}, {DLIB_CHIP_X(41.5493f), DLIB_CHIP_Y(92.3655f)},
    {DLIB_CHIP_X(70.7299f), DLIB_CHIP_Y(92.2041f)}};

fr_status align_five_points(const fr_face *face, float pts[5][2]) {
    if (!face || !pts) return fr_error(FR_E_ARG, "align_five_points: NULL argument");
    if (face->n_landmarks == 5) {
        memcpy(pts, face->landmarks, 5 * sizeof pts[0]);
        return FR_OK;
    }
    if (face->n_landmarks != 68)
        return fr_error(FR_E_ARG, "similarity alignment needs 5 or 68 landmarks, the face has %d",
                        face->n_landmarks);
    double eye[2][2];
    landmarks_centre(face, 36, 6, eye[0]);
    landmarks_centre(face, 42, 6, eye[1]);
    for (int k = 0; k < 2; k++) {
        pts[k][0] = (float)eye[k][0];
        pts[k][1] = (float)eye[k][1];
    }
    const int single[3] = {30, 48, 54}; /* nose tip, mouth corners */
    for (int k = 0; k < 3; k++) {
        pts[2 + k][0] = face->landmarks[single[k]][0];
        pts[2 + k][1] = face->landmarks[single[k]][1];
    }
    return FR_OK;
}

fr_status align_similarity_matrix(const float pts[5][2], const float tpl[5][2], float m[6]) {
    /* With both point sets centred (p, q), the least-squares q ~ [a -b; b a] p has
     * a = sum(p . q) / sum |p|^2 and b = sum(p x q) / sum |p|^2 (Umeyama's solution in 2-D). */
    double pc[2] = {0, 0}, qc[2] = {0, 0};
    for (int i = 0; i < 5; i++)
        for (int d = 0; d < 2; d++) {
            pc[d] += pts[i][d] / 5.0;
            qc[d] += tpl[i][d] / 5.0;
        }
    double dot = 0, cross = 0, norm = 0;
    for (int i = 0; i < 5; i++) {
        double px = pts[i][0] - pc[0], py = pts[i][1] - pc[1];
        double qx = tpl[i][0] - qc[0], qy = tpl[i][1] - qc[1];
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
        norm += px * px + py * py;
    }
    if (!(norm > 1e-9))
        return fr_error(FR_E_ARG, "similarity alignment: the five face points coincide");
    double a = dot / norm, b = cross / norm, det = a * a + b * b;
    if (!(det > 1e-18)) return fr_error(FR_E_ARG, "similarity alignment: degenerate face points");
    /* chip = S image + t with S = [a -b; b a] and t = qc - S pc; so image = S^-1 (chip - t),
     * S^-1 = [a b; -b a] / det */
    double ia = a / det, ib = b / det;
    double tx = qc[0] - (a * pc[0] - b * pc[1]), ty = qc[1] - (b * pc[0] + a * pc[1]);
    m[0] = (float)ia;
    m[1] = (float)ib;
    m[2] = (float)(-(ia * tx + ib * ty));
    m[3] = (float)-ib;
    m[4] = (float)ia;
    m[5] = (float)(-(-ib * tx + ia * ty));
    return FR_OK;
}

fr_status align_check_scale(float scale) {
    if (!(scale >= ALIGN_SCALE_MIN && scale <= ALIGN_SCALE_MAX))
        return fr_error(FR_E_ARG, "alignment scale %g: it must lie between %g and %g",
                        (double)scale, ALIGN_SCALE_MIN, ALIGN_SCALE_MAX);
    return FR_OK;
}

fr_status align_warp(const fr_image *img, const fr_face *face, const float tpl[5][2], int size,
                     float scale, fr_image **crop) {
    if (!img || !face || !tpl || !crop)
        return fr_error(FR_E_ARG, "similarity alignment: NULL argument");
    float m[6];
    fr_status st = align_warp_matrix(face, tpl, size, scale, m);
    if (st == FR_OK) st = fr_image_warp_affine(img, m, size, size, crop);
    return st;
}

fr_status align_warp_matrix(const fr_face *face, const float tpl[5][2], int size, float scale,
                            float m[6]) {
    fr_status st = align_check_scale(scale);
    if (st != FR_OK) return st;
    float scaled[5][2], pts[5][2];
    float centre = size / 2.0f;
    for (int i = 0; i < 5; i++) /* at scale 1 exactly the template, to the last bit */
        for (int d = 0; d < 2; d++)
            scaled[i][d] = scale == 1.0f ? tpl[i][d] : centre + scale * (tpl[i][d] - centre);
    st = align_five_points(face, pts);
    if (st == FR_OK) st = align_similarity_matrix(pts, (const float(*)[2])scaled, m);
    return st;
}

fr_status align_similarity(const fr_image *img, const fr_face *face, fr_image **crop) {
    return align_warp(img, face, align_arcface_template, 112, 1.0f, crop);
}

fr_status align_dlib_chip(const fr_image *img, const fr_face *face, fr_image **crop) {
    return align_warp(img, face, align_dlib_chip_template, 150, 1.0f, crop);
}
