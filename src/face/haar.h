/* haar.h: the Haar cascade face detector of the original system, evaluated as OpenCV's
 * CascadeClassifier::detectMultiScale does for a cascade in OpenCV's XML format (the
 * "opencv-cascade-classifier" layout of Debian's opencv-data haarcascade_*.xml files):
 *
 *   - grey = (9798 R + 19235 G + 3735 B + 2^14) >> 15 (cvtColor BGR2GRAY for 8-bit);
 *   - scales 1, f, f^2, ... (f = scale_factor) while the window, round(24 * scale), fits the
 *     image (and lies within min/max size); each scale is stored as a float;
 *   - per scale, the grey image resized with image_resize_u8() (image/resize_u8.h) to round(W / s) x round(H / s),
 *     then its integral and squared-integral images (32-bit, wrapping like OpenCV's);
 *   - windows of the original size (24x24) every 2 pixels (every pixel once s >= 2), and
 *     one more step after a window rejected by the first stage; a window whose normalisation
 *     rectangle (the window less a 1-pixel border) has a standard deviation of 10 grey levels
 *     or less is rejected;
 *   - each weak classifier compares a feature (weighted rectangle sums, float, times
 *     1 / (area * std)) with its threshold; a stage passes when the sum of the leaves reaches
 *     its threshold minus 1e-5;
 *   - a passing window at (x, y) becomes the box (round(x s), round(y s), round(24 s)) in the
 *     image; boxes are grouped as groupRectangles(min_neighbors, eps 0.2) does: clusters of
 *     similar boxes, averaged, kept when more than min_neighbors boxes agree and not inside a
 *     stronger cluster's box.
 * Trees deeper than one split are evaluated too; tilted features and LBP cascades are not
 * supported (an error says so). */
#ifndef FR_FACE_HAAR_H
#define FR_FACE_HAAR_H

#include "facerec.h"

/* the original demo's detectMultiScale(gray, 1.3, 5) */
#define HAAR_DEFAULT_SCALE_FACTOR 1.3
#define HAAR_DEFAULT_MIN_NEIGHBORS 5
#define HAAR_DEFAULT_CASCADE "opencv/haarcascade_frontalface_default.xml"

typedef struct haar_cascade haar_cascade;

/* Parse a cascade XML file; a malformed one is FR_E_MODEL naming the file and the problem. */
fr_status haar_load(const char *path, haar_cascade **out);
/* The same from memory; `name` is used in error messages. */
fr_status haar_parse(const char *xml, size_t size, const char *name, haar_cascade **out);
void haar_free(haar_cascade *cascade);

typedef struct haar_box {
    int x, y, w, h;
    int neighbors; /* raw detections in its cluster (1 for ungrouped boxes) */
} haar_box;

typedef struct haar_options {
    double scale_factor; /* > 1 */
    int min_neighbors;   /* <= 0: every raw detection, ungrouped */
    int min_size, max_size; /* window side limits in pixels; 0: none */
} haar_options;

/* Detections on an 8-bit grey image (w x h, row-major, no padding). *boxes is malloc'd
 * (NULL when *n_boxes is 0), in the order of the clusters' first raw detection. */
fr_status haar_detect_gray(const haar_cascade *cascade, int threads, const uint8_t *gray, int w,
                           int h, const haar_options *opt, haar_box **boxes, int *n_boxes);
/* Grey conversion, then haar_detect_gray. */
fr_status haar_detect(const haar_cascade *cascade, int threads, const fr_image *img,
                      const haar_options *opt, haar_box **boxes, int *n_boxes);

#endif
