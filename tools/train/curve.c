/* curve.c: the training curve as an image: the triplet loss per epoch above, the validation
 * accuracy and the share of active triplets below, in the library's 8x8 font. */
#include "train/train_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { CURVE_W = 720, CURVE_H = 600, LEFT = 72, RIGHT = 24, TOP = 48, GAP = 64, BOTTOM = 48 };

typedef struct panel {
    int x0, y0, w, h;
    double lo, hi; /* value range of the vertical axis */
    int epochs;
} panel;

static double px(const panel *p, double epoch) {
    return p->x0 + (p->epochs > 0 ? epoch / p->epochs : 0.0) * p->w;
}

static double py(const panel *p, double value) {
    double t = (FR_CLAMP(value, p->lo, p->hi) - p->lo) / (p->hi - p->lo);
    return p->y0 + p->h - t * p->h;
}

static void frame(fr_image *img, const panel *p, const char *label, const char *format) {
    static const uint8_t grid[3] = {220, 220, 220}, ink[3] = {0, 0, 0};
    char text[32];
    for (int i = 0; i <= 4; i++) {
        double v = p->lo + (p->hi - p->lo) * i / 4.0;
        fr_image_draw_line(img, p->x0, py(p, v), p->x0 + p->w, py(p, v), grid[0], grid[1], grid[2], 1);
        snprintf(text, sizeof text, format, v);
        fr_image_draw_text(img, p->x0 - 8 - 8 * (int)strlen(text), (int)py(p, v) - 4, text, 0, 0,
                           0, 1);
    }
    int every = FR_MAX(1, (p->epochs + 9) / 10);
    for (int e = 0; e <= p->epochs; e += every) {
        fr_image_draw_line(img, px(p, e), p->y0, px(p, e), p->y0 + p->h, grid[0], grid[1], grid[2], 1);
        snprintf(text, sizeof text, "%d", e);
        fr_image_draw_text(img, (int)px(p, e) - 4 * (int)strlen(text), p->y0 + p->h + 6, text,
                           0, 0, 0, 1);
    }
    fr_image_draw_rect(img, p->x0, p->y0, p->w + 1, p->h + 1, ink[0], ink[1], ink[2], 1);
    fr_image_draw_text(img, p->x0, p->y0 - 14, label, 0, 0, 0, 1);
}

/* The series value(history[e]) as a polyline, skipping epochs where it is NaN. */
static void series(fr_image *img, const panel *p, const train_epoch_stats *h, int n,
                   size_t offset, const uint8_t rgb[3]) {
    int last = -1;
    for (int e = 0; e < n; e++) {
        double v = *(const double *)((const char *)&h[e] + offset);
        if (isnan(v)) continue;
        if (last >= 0) {
            double u = *(const double *)((const char *)&h[last] + offset);
            fr_image_draw_line(img, px(p, h[last].epoch), py(p, u), px(p, h[e].epoch), py(p, v), rgb[0],
                               rgb[1], rgb[2], 2);
        }
        fr_image_draw_rect(img, (int)px(p, h[e].epoch) - 2, (int)py(p, v) - 2, 5, 5, rgb[0],
                           rgb[1], rgb[2], 3);
        last = e;
    }
}

fr_status train_curve_plot(const train_epoch_stats *history, int n, const char *title,
                           fr_image **out) {
    *out = NULL;
    if (!history || n < 1) return fr_error(FR_E_ARG, "train_curve_plot: no epochs");
    fr_image *img;
    fr_status st = fr_image_new(CURVE_W, CURVE_H, &img);
    if (st != FR_OK) return st;
    memset(img->rgb, 255, (size_t)CURVE_W * CURVE_H * 3);
    int panel_h = (CURVE_H - TOP - GAP - BOTTOM) / 2, epochs = history[n - 1].epoch;
    double max_loss = 0.0, lowest = 1.0;
    int has_val = 0;
    for (int e = 0; e < n; e++) {
        if (!isnan(history[e].loss)) max_loss = FR_MAX(max_loss, history[e].loss);
        if (!isnan(history[e].active_share)) lowest = FR_MIN(lowest, history[e].active_share);
        if (!isnan(history[e].val_accuracy)) {
            lowest = FR_MIN(lowest, history[e].val_accuracy);
            has_val = 1;
        }
    }
    panel loss = {LEFT, TOP, CURVE_W - LEFT - RIGHT, panel_h, 0.0,
                  max_loss > 0 ? max_loss * 1.1 : 1.0, epochs};
    panel share = loss;
    share.y0 = TOP + panel_h + GAP;
    share.lo = FR_CLAMP(floor(lowest * 10.0) / 10.0, 0.0, 0.9);
    share.hi = 1.0;
    fr_image_draw_text(img, LEFT, 12, title, 0, 0, 0, 2);
    frame(img, &loss, "triplet loss per anchor-positive pair", "%.3f");
    frame(img, &share, has_val ? "validation accuracy (blue), share of active triplets (green)"
                               : "share of active triplets (green)",
          "%.2f");
    fr_image_draw_text(img, LEFT + loss.w / 2 - 20, CURVE_H - 20, "epoch", 0, 0, 0, 1);
    static const uint8_t red[3] = {200, 30, 30}, green[3] = {30, 150, 60}, blue[3] = {30, 60, 200};
    series(img, &loss, history, n, offsetof(train_epoch_stats, loss), red);
    series(img, &share, history, n, offsetof(train_epoch_stats, active_share), green);
    series(img, &share, history, n, offsetof(train_epoch_stats, val_accuracy), blue);
    *out = img;
    return FR_OK;
}
