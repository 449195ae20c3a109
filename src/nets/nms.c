/* nms.c: IoU and greedy non-maximum suppression. */
#include "nets/nms.h"

#include "common/common.h"

#include <stdlib.h>

float nms_iou(const nms_box *a, const nms_box *b) {
    if (!(a->x1 > a->x0 && a->y1 > a->y0 && b->x1 > b->x0 && b->y1 > b->y0)) return 0.0f;
    float area_a = (a->x1 - a->x0) * (a->y1 - a->y0);
    float area_b = (b->x1 - b->x0) * (b->y1 - b->y0);
    float iw = FR_MIN(a->x1, b->x1) - FR_MAX(a->x0, b->x0);
    float ih = FR_MIN(a->y1, b->y1) - FR_MAX(a->y0, b->y0);
    if (iw <= 0.0f || ih <= 0.0f) return 0.0f;
    float inter = iw * ih;
    return inter / (area_a + area_b - inter);
}

// best first; equal scores keep their original order (as a stable sort would)
static int by_score_desc(const void *pa, const void *pb) {
    const nms_candidate *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

void nms_select(const nms_box *boxes, const float *scores, int n, float min_score,
                float iou_threshold, int max_keep, nms_candidate *cand, int *keep,
                int *n_keep) {
    *n_keep = 0;
    if (n <= 0 || max_keep <= 0) return;
    int n_cand = 0;
    for (int i = 0; i < n; i++)
        if (scores[i] > min_score) cand[n_cand++] = (nms_candidate){scores[i], i};
    sort_stable(cand, (size_t)n_cand, sizeof *cand, by_score_desc, cand + n);

    int kept = 0;
    for (int c = 0; c < n_cand && kept < max_keep; c++) {
        const nms_box *box = &boxes[cand[c].index];
        int suppressed = 0;
        for (int k = 0; k < kept && !suppressed; k++)
            suppressed = nms_iou(box, &boxes[keep[k]]) > iou_threshold;
        if (!suppressed) keep[kept++] = cand[c].index;
    }
    *n_keep = kept;
}
