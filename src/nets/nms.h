/* nms.h: boxes and greedy non-maximum suppression, shared by the face detectors. */
#ifndef FR_NETS_NMS_H
#define FR_NETS_NMS_H

#include "facerec.h"

/* An axis-aligned box by its corners (x0 <= x1, y0 <= y1 for a proper box). */
typedef struct nms_box {
    float x0, y0, x1, y1;
} nms_box;

/* Intersection over union; 0 when either box is empty or inverted. */
float nms_iou(const nms_box *a, const nms_box *b);

/* A box's score and index while nms_select sorts them. */
typedef struct nms_candidate {
    float score;
    int index;
} nms_candidate;

/* Greedy NMS as face-api does it: the candidates are the boxes with score > min_score, taken
 * best first (equal scores: lower index first); a candidate is kept when its IoU with every
 * box kept so far is <= iou_threshold; at most max_keep are kept.
 * boxes and scores are (n); scratch is (2n), the caller's memory (from its arena), so that
 * nothing is allocated here; keep (at least FR_MIN(n, max_keep) ints) gets the indices
 * kept, best first, and *n_keep their count. */
void nms_select(const nms_box *boxes, const float *scores, int n, float min_score,
                float iou_threshold, int max_keep, nms_candidate *scratch, int *keep,
                int *n_keep);

#endif
