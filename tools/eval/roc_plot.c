/* roc_plot.c: a ROC curve drawn as an image: TAR against FAR on a log axis, with grid, tick
 * labels and a title, in the library's 8x8 font. */
#include "eval/eval.h"

#include "common/common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { PLOT_W = 720, PLOT_H = 540, MARGIN_LEFT = 64, MARGIN_RIGHT = 24, MARGIN_TOP = 56,
       MARGIN_BOTTOM = 56 };

typedef struct plot_area {
    int x0, y0, w, h;      /* the axes' box in pixels */
    double log_far_min;    /* left edge: log10 of the smallest FAR shown; right edge: 0 */
    double tar_min;        /* bottom edge; top edge: 1 */
} plot_area;

static double plot_x(const plot_area *a, double far) {
    double lf = far > 0 ? FR_MAX(log10(far), a->log_far_min) : a->log_far_min;
    return a->x0 + (lf - a->log_far_min) / -a->log_far_min * a->w;
}

static double plot_y(const plot_area *a, double tar) {
    double t = FR_MAX(tar, a->tar_min);
    return a->y0 + a->h - (t - a->tar_min) / (1.0 - a->tar_min) * a->h;
}

static void draw_text_centred(fr_image *img, int cx, int y, const char *text, int scale) {
    int w = (int)strlen(text) * 8 * scale;
    fr_image_draw_text(img, cx - w / 2, y, text, 0, 0, 0, scale);
}

fr_status eval_roc_plot(const eval_roc_point *points, int n_points, int n_impostor,
                        const char *title, fr_image **out) {
    *out = NULL;
    if (!points || n_points < 2 || n_impostor < 1)
        return fr_error(FR_E_ARG, "eval_roc_plot: needs a curve of two points or more");
    plot_area a = {MARGIN_LEFT, MARGIN_TOP, PLOT_W - MARGIN_LEFT - MARGIN_RIGHT,
                   PLOT_H - MARGIN_TOP - MARGIN_BOTTOM, 0, 0};
    /* the FAR axis starts at the decade that one impostor pair can resolve */
    a.log_far_min = FR_CLAMP(floor(log10(1.0 / n_impostor)), -8.0, -1.0);
    /* the TAR axis starts at the tenth below the curve's lowest point on the plot */
    double lowest = 1.0;
    for (int i = 0; i < n_points; i++)
        if (points[i].far >= pow(10.0, a.log_far_min) || i + 1 == n_points ||
            points[i + 1].far >= pow(10.0, a.log_far_min))
            lowest = FR_MIN(lowest, points[i].tar);
    a.tar_min = FR_CLAMP(floor(lowest * 10.0) / 10.0, 0.0, 0.9);
    double tar_step = a.tar_min >= 0.8 ? 0.02 : a.tar_min >= 0.5 ? 0.05 : 0.1;

    fr_image *img;
    fr_status st = fr_image_new(PLOT_W, PLOT_H, &img);
    if (st != FR_OK) return st;
    memset(img->rgb, 255, (size_t)PLOT_W * PLOT_H * 3);

    char label[32];
    /* grid: each decade of FAR with its 2..9 multiples fainter, and TAR steps */
    for (int d = (int)a.log_far_min; d <= 0; d++) {
        for (int m = 1; m <= 9 && (d < 0 || m == 1); m++) {
            int x = (int)lround(plot_x(&a, m * pow(10.0, d)));
            uint8_t shade = m == 1 ? 190 : 230;
            fr_image_draw_rect(img, x, a.y0, 1, a.h, shade, shade, shade, 1);
        }
        snprintf(label, sizeof label, d == 0 ? "1" : "1e%d", d);
        draw_text_centred(img, (int)lround(plot_x(&a, pow(10.0, d))), a.y0 + a.h + 8, label, 1);
    }
    for (int k = 0;; k++) {
        double tar = a.tar_min + k * tar_step;
        if (tar > 1.0 + 1e-9) break;
        int y = (int)lround(plot_y(&a, tar));
        fr_image_draw_rect(img, a.x0, y, a.w, 1, 190, 190, 190, 1);
        snprintf(label, sizeof label, "%.2f", tar);
        fr_image_draw_text(img, a.x0 - 8 - 8 * (int)strlen(label), y - 4, label, 0, 0, 0, 1);
    }
    fr_image_draw_rect(img, a.x0, a.y0, a.w + 1, a.h + 1, 0, 0, 0, 1);

    /* the curve, with the points left of the axis drawn on its edge */
    for (int i = 1; i < n_points; i++)
        fr_image_draw_line(img, (float)plot_x(&a, points[i - 1].far),
                           (float)plot_y(&a, points[i - 1].tar), (float)plot_x(&a, points[i].far),
                           (float)plot_y(&a, points[i].tar), 200, 30, 30, 2);

    if (title) draw_text_centred(img, PLOT_W / 2, 12, title, 2);
    fr_image_draw_text(img, a.x0 - 40, a.y0 - 16, "true accept rate", 0, 0, 0, 1);
    draw_text_centred(img, a.x0 + a.w / 2, a.y0 + a.h + 28, "false accept rate (log scale)", 1);
    *out = img;
    return FR_OK;
}
