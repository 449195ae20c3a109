/* landmarks.c: the alignment's quality on a relit set (`facerec eval landmarks`): the five
 * points each face is aligned from, against the 68-point net's landmarks on the same face
 * unlit. */
#include "eval/eval.h"

#include "common/common.h"
#include "face/align.h"
#include "face/face.h"
#include "nn/nn.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct image_result {
    int source;
    double error;        /* of the face used; -1 without landmarks */
    double whole_error;  /* of the whole image's landmarks */
    float whole_residual, whole_drift;
    int whole_accepted;
} image_result;

typedef struct landmark_run {
    fr_engine *eng;
    const char *dir;
    const eval_landmark_reference *refs;
    image_result *results;
    pthread_mutex_t lock;
    fr_status status;
    char error[1024];
} landmark_run;

/* Mean distance of the five alignment points over the reference's eye distance. */
static double five_point_error(const fr_face *face, const float ref68[68][2]) {
    fr_face ref;
    memset(&ref, 0, sizeof ref);
    ref.n_landmarks = 68;
    memcpy(ref.landmarks, ref68, sizeof ref.landmarks);
    float p[5][2], r[5][2];
    if (align_five_points(face, p) != FR_OK || align_five_points(&ref, r) != FR_OK) return -1;
    double eyes = hypot(r[1][0] - r[0][0], r[1][1] - r[0][1]), sum = 0;
    for (int k = 0; k < 5; k++) sum += hypot(p[k][0] - r[k][0], p[k][1] - r[k][1]);
    return eyes > 0 ? sum / 5 / eyes : -1;
}

static fr_status measure(landmark_run *run, int i) {
    const eval_landmark_reference *ref = &run->refs[i];
    image_result *res = &run->results[i];
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", run->dir, ref->file) >= (int)sizeof path)
        return fr_error(FR_E_ARG, "%s/%s: path too long", run->dir, ref->file);
    fr_image *img;
    fr_status st = fr_image_load(path, &img);
    if (st != FR_OK) return st;
    fr_face face;
    st = eval_subject_face_found(run->eng, img, &face, &res->source);
    res->error = -1;
    if (st == FR_OK && res->source != EVAL_FACE_CENTRE) res->error = five_point_error(&face, ref->points);
    landmark_fit_result fit;
    if (st == FR_OK) st = engine_whole_landmarks(run->eng, img, &face, &fit);
    if (st == FR_OK) {
        res->whole_error = five_point_error(&face, ref->points);
        res->whole_residual = fit.residual;
        res->whole_drift = fit.drift;
        /* fr_whole_face's verdict on the same image */
        fr_face checked;
        fr_status verdict = fr_whole_face(run->eng, img, &checked);
        res->whole_accepted = verdict == FR_OK;
        if (verdict != FR_OK && verdict != FR_E_NO_FACE) st = verdict;
    }
    fr_image_free(img);
    return st != FR_OK ? fr_error_prefix(st, "%s", path) : FR_OK;
}

static void measure_task(void *ctx, int i) {
    landmark_run *run = ctx;
    pthread_mutex_lock(&run->lock);
    int failed = run->status != FR_OK;
    pthread_mutex_unlock(&run->lock);
    if (failed) return;
    fr_status st = measure(run, i);
    pthread_mutex_lock(&run->lock);
    if (st != FR_OK && run->status == FR_OK) {
        run->status = st;
        snprintf(run->error, sizeof run->error, "%s", fr_last_error());
    }
    pthread_mutex_unlock(&run->lock);
}

fr_status eval_landmarks_read_references(const char *path, eval_landmark_reference **out,
                                         int *n_out) {
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f) return fr_error(FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    eval_landmark_reference *refs = NULL;
    int n = 0, cap = 0, line_no = 0;
    char line[8192];
    fr_status st = FR_OK;
    while (st == FR_OK && fgets(line, sizeof line, f)) {
        line_no++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = fr_error(FR_E_FORMAT, "%s:%d: line too long", path, line_no);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            eval_landmark_reference *grown = realloc(refs, (size_t)cap * sizeof *grown);
            if (!grown) {
                st = fr_error(FR_E_NOMEM, "out of memory reading %s", path);
                break;
            }
            refs = grown;
        }
        eval_landmark_reference *r = &refs[n];
        char *save = NULL, *tok = strtok_r(line, "\t\n", &save);
        if (!tok || strlen(tok) >= sizeof r->file || strstr(tok, "..") || tok[0] == '/') {
            st = fr_error(FR_E_FORMAT, "%s:%d: expected a file name inside the set", path, line_no);
            break;
        }
        snprintf(r->file, sizeof r->file, "%s", tok);
        for (int k = 0; k < 136 && st == FR_OK; k++) {
            tok = strtok_r(NULL, "\t\n", &save);
            char *end = NULL;
            double v = tok ? strtod(tok, &end) : 0;
            if (!tok || *end || !isfinite(v) || fabs(v) > 1e6)
                st = fr_error(FR_E_FORMAT, "%s:%d: expected 136 coordinates", path, line_no);
            else
                r->points[k / 2][k % 2] = (float)v;
        }
        if (st == FR_OK && strtok_r(NULL, "\t\n", &save))
            st = fr_error(FR_E_FORMAT, "%s:%d: more than 136 coordinates", path, line_no);
        n++;
    }
    if (st == FR_OK && ferror(f)) st = fr_error(FR_E_IO, "%s: read failed", path);
    fclose(f);
    if (st == FR_OK && n == 0) st = fr_error(FR_E_FORMAT, "%s: no landmarks", path);
    if (st != FR_OK) {
        free(refs);
        return st;
    }
    *out = refs;
    *n_out = n;
    return FR_OK;
}

static int compare_doubles(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The q-quantile (nearest rank) of sorted v[0..n). */
static double quantile(const double *v, int n, double q) {
    if (n == 0) return 0;
    int k = (int)ceil(q * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

fr_status eval_landmarks(const fr_config *cfg, const char *dir, const char *reference_path,
                         FILE *per_image, eval_landmark_errors *out) {
    memset(out, 0, sizeof *out);
    eval_landmark_reference *refs = NULL;
    int n = 0;
    fr_status st = eval_landmarks_read_references(reference_path, &refs, &n);
    if (st != FR_OK) return st;
    landmark_run run = {.dir = dir, .refs = refs};
    run.results = calloc((size_t)n, sizeof *run.results);
    double *errors = malloc((size_t)n * sizeof *errors), *whole = malloc((size_t)n * sizeof *whole);
    double *residuals = malloc((size_t)n * sizeof *residuals);
    if (!run.results || !errors || !whole || !residuals) st = fr_error(FR_E_NOMEM, "out of memory");
    fr_config c = *cfg;
    c.load_embedder = 0;
    if (st == FR_OK) st = fr_engine_open(&c, &run.eng);
    if (st == FR_OK) {
        pthread_mutex_init(&run.lock, NULL);
        nn_parallel_for(fr_engine_threads(run.eng), n, measure_task, &run);
        pthread_mutex_destroy(&run.lock);
        if (run.status != FR_OK) st = fr_error(run.status, "%s", run.error);
    }
    fr_engine_close(run.eng);
    if (st == FR_OK) {
        int n_err = 0, n_whole = 0;
        double sum = 0, whole_sum = 0;
        for (int i = 0; i < n; i++) {
            const image_result *r = &run.results[i];
            if (per_image)
                fprintf(per_image, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%d\n", refs[i].file,
                        r->source, r->error, (double)r->whole_residual, (double)r->whole_drift,
                        r->whole_error, r->whole_accepted);
            out->n_source[r->source]++;
            if (r->error >= 0) errors[n_err++] = r->error, sum += r->error;
            if (r->whole_error >= 0) whole[n_whole++] = r->whole_error, whole_sum += r->whole_error;
            residuals[i] = r->whole_residual;
            out->n_whole_accepted += r->whole_accepted;
            out->n_over_10pct += r->error > 0.1;
        }
        qsort(errors, (size_t)n_err, sizeof *errors, compare_doubles);
        qsort(whole, (size_t)n_whole, sizeof *whole, compare_doubles);
        qsort(residuals, (size_t)n, sizeof *residuals, compare_doubles);
        out->n_images = n;
        out->mean_error = n_err ? sum / n_err : 0;
        out->median_error = quantile(errors, n_err, 0.5);
        out->whole_mean_error = n_whole ? whole_sum / n_whole : 0;
        out->whole_median_error = quantile(whole, n_whole, 0.5);
        out->whole_residual_median = quantile(residuals, n, 0.5);
        out->whole_residual_p95 = quantile(residuals, n, 0.95);
        out->whole_residual_p99 = quantile(residuals, n, 0.99);
        out->whole_residual_max = quantile(residuals, n, 1.0);
    }
    free(run.results), free(errors), free(whole), free(residuals), free(refs);
    return st;
}
