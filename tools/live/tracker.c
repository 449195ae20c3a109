/* tracker.c: faces followed from frame to frame by the overlap (IoU) of their boxes, so that
 * each face is embedded only when needed rather than on every frame. */
#include "live/live.h"

#include "common/common.h"

#include <stdlib.h>
#include <string.h>

void live_tracker_init(live_tracker *t, float min_iou, int max_misses) {
    memset(t, 0, sizeof *t);
    t->next_id = 1;
    t->min_iou = min_iou;
    t->max_misses = max_misses;
}

void live_tracker_free(live_tracker *t) {
    free(t->tracks);
    memset(t, 0, sizeof *t);
}

float live_iou(const float a[4], const float b[4]) {
    float x0 = FR_MAX(a[0], b[0]), y0 = FR_MAX(a[1], b[1]);
    float x1 = FR_MIN(a[0] + a[2], b[0] + b[2]), y1 = FR_MIN(a[1] + a[3], b[1] + b[3]);
    float inter = FR_MAX(x1 - x0, 0.0f) * FR_MAX(y1 - y0, 0.0f);
    float uni = a[2] * a[3] + b[2] * b[3] - inter;
    return uni > 0 ? inter / uni : 0.0f;
}

static fr_status reserve(live_tracker *t, int n) {
    if (n <= t->cap) return FR_OK;
    int cap = FR_MAX(n, 2 * t->cap);
    live_track *tracks = realloc(t->tracks, (size_t)cap * sizeof *tracks);
    if (!tracks) return fr_error(FR_E_NOMEM, "out of memory tracking %d faces", n);
    t->tracks = tracks;
    t->cap = cap;
    return FR_OK;
}

fr_status live_tracker_update(live_tracker *t, const float (*boxes)[4], int n, int64_t frame) {
    int kept = 0;
    for (int i = 0; i < t->n; i++)
        if (!t->tracks[i].lost) t->tracks[kept++] = t->tracks[i];
    t->n = kept;
    for (int i = 0; i < t->n; i++) t->tracks[i].detection = -1;
    if (n <= 0) n = 0;

    /* greedy: repeatedly join the unmatched track and box that overlap most (n is small) */
    int *box_taken = calloc((size_t)(n ? n : 1), sizeof *box_taken);
    if (!box_taken) return fr_error(FR_E_NOMEM, "out of memory tracking %d faces", n);
    for (;;) {
        int best_track = -1, best_box = -1;
        float best = t->min_iou;
        for (int i = 0; i < t->n; i++) {
            if (t->tracks[i].detection >= 0) continue;
            for (int j = 0; j < n; j++) {
                if (box_taken[j]) continue;
                float iou = live_iou(t->tracks[i].box, boxes[j]);
                if (iou >= best) {
                    best = iou;
                    best_track = i;
                    best_box = j;
                }
            }
        }
        if (best_track < 0) break;
        live_track *tr = &t->tracks[best_track];
        tr->detection = best_box;
        memcpy(tr->box, boxes[best_box], sizeof tr->box);
        tr->misses = 0;
        box_taken[best_box] = 1;
    }

    int n_old = t->n;
    for (int i = 0; i < n_old; i++) {
        live_track *tr = &t->tracks[i];
        if (tr->detection < 0 && ++tr->misses > t->max_misses) tr->lost = 1;
    }
    fr_status st = FR_OK;
    for (int j = 0; j < n && st == FR_OK; j++) {
        if (box_taken[j]) continue;
        st = reserve(t, t->n + 1);
        if (st != FR_OK) break;
        live_track *tr = &t->tracks[t->n++];
        memset(tr, 0, sizeof *tr);
        tr->id = t->next_id++;
        memcpy(tr->box, boxes[j], sizeof tr->box);
        tr->born = frame;
        tr->last_embedded = -1;
        tr->detection = j;
    }
    free(box_taken);
    return st;
}
