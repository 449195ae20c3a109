/* threshold.c: calibration (the distances of every same-person and different-person pair,
 * kept as quantiles) and the decision thresholds read off them. */
#include "gallery/gallery.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Distances are binned into fine histograms (resolution 4 / 2^17 = 3e-5) while the pairs are
 * measured, so memory stays fixed however many pairs there are. Unit vectors are at most 2
 * apart; the range leaves room. */
#define HIST_BINS (1 << 17)
#define HIST_MAX 4.0
/* Rows per tile of the all-pairs distance computation. */
#define PAIR_BLOCK 1024

/* Documented default thresholds of embedding models, for galleries not yet calibrated. */
static const struct {
    const char *model;
    float distance;
    const char *why;
} model_defaults[] = {
    {"dlib-resnet", 0.6f, "dlib's documented threshold for its ResNet face model"},
};

fr_status fr_model_default_threshold(const char *model, fr_threshold *out) {
    if (!model || !out) return fr_error(FR_E_ARG, "fr_model_default_threshold: NULL argument");
    for (size_t i = 0; i < sizeof model_defaults / sizeof model_defaults[0]; i++) {
        if (strcmp(model_defaults[i].model, model) != 0) continue;
        out->distance = model_defaults[i].distance;
        out->origin = FR_THRESHOLD_MODEL_DEFAULT;
        out->far = NAN;
        out->frr = NAN;
        snprintf(out->note, sizeof out->note, "default of %s (%s); not calibrated", model,
                 model_defaults[i].why);
        return FR_OK;
    }
    return fr_error(FR_E_NOT_FOUND, "%s: no default threshold known for this model", model);
}

typedef struct histogram {
    uint64_t *count; /* HIST_BINS */
    int64_t n;
    float min, max;
} histogram;

static void histogram_add(histogram *h, float d) {
    int bin = (int)(d * (HIST_BINS / HIST_MAX));
    h->count[FR_CLAMP(bin, 0, HIST_BINS - 1)]++;
    if (h->n == 0 || d < h->min) h->min = d;
    if (h->n == 0 || d > h->max) h->max = d;
    h->n++;
}

/* The distance below which a share p of the pairs lies (linear inside a bin). */
static float histogram_quantile(const histogram *h, double p) {
    double rank = p * (double)h->n, below = 0;
    const double width = HIST_MAX / HIST_BINS;
    for (int b = 0; b < HIST_BINS; b++) {
        if (h->count[b] && below + (double)h->count[b] >= rank) {
            double d = (b + (rank - below) / (double)h->count[b]) * width;
            return (float)FR_CLAMP(d, h->min, h->max);
        }
        below += (double)h->count[b];
    }
    return h->max;
}

/* Bin the distance of every pair i < j by whether labels[i] == labels[j]. */
static fr_status measure_pairs(const float *emb, const int *labels, int n, int dim,
                               histogram *genuine, histogram *impostor, const char *path) {
    float *sq = malloc((size_t)n * sizeof(float));
    float *tile = malloc((size_t)PAIR_BLOCK * PAIR_BLOCK * sizeof(float));
    if (!sq || !tile) {
        free(sq);
        free(tile);
        return fr_error(FR_E_NOMEM, "%s: out of memory calibrating", path);
    }
    gallery_sq_norms(emb, n, dim, sq);
    for (int i0 = 0; i0 < n; i0 += PAIR_BLOCK) {
        int ni = FR_MIN(PAIR_BLOCK, n - i0);
        for (int j0 = i0; j0 < n; j0 += PAIR_BLOCK) {
            int nj = FR_MIN(PAIR_BLOCK, n - j0);
            gallery_sq_distances(emb + (size_t)i0 * dim, sq + i0, ni, emb + (size_t)j0 * dim,
                                 sq + j0, nj, dim, tile);
            for (int i = 0; i < ni; i++)
                for (int j = (j0 == i0 ? i + 1 : 0); j < nj; j++) {
                    float d = sqrtf(tile[(size_t)i * nj + j]);
                    histogram_add(labels[i0 + i] == labels[j0 + j] ? genuine : impostor, d);
                }
        }
    }
    free(sq);
    free(tile);
    return FR_OK;
}

/* The probabilities at which quantiles are stored: 20 per decade from 1e-6 to 0.1 in both
 * tails (false accepts are read in the low tail of the impostor distances, false rejects in
 * the high tail of the genuine ones), 0.025 apart between, and 1/n and 1 - 1/n at the ends.
 * Only those that n pairs can resolve are kept. Returns how many were written to p. */
#define MAX_GRID 300
static int quantile_grid(int64_t n, double *p) {
    int m = 0;
    double lowest = 1.0 / (double)n;
    p[m++] = lowest;
    for (int i = 0; i <= 100; i++) {
        double q = pow(10.0, -6.0 + i / 20.0);
        if (q > lowest) p[m++] = q;
    }
    for (int i = 1; i < 32; i++) p[m++] = 0.1 + 0.025 * i;
    for (int i = 100; i >= 0; i--) {
        double q = 1.0 - pow(10.0, -6.0 + i / 20.0);
        if (q < 1.0 - lowest) p[m++] = q;
    }
    if (1.0 - lowest > p[m - 1]) p[m++] = 1.0 - lowest;
    return m;
}

static fr_status store_quantiles(fr_gallery *g, const char *kind, const histogram *h) {
    double p[MAX_GRID];
    int m = quantile_grid(h->n, p);
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "INSERT OR REPLACE INTO calibration(kind, p, distance) VALUES(?, ?, ?)",
                                   &stmt);
    for (int i = 0; i < m && st == FR_OK; i++) {
        sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_double(stmt, 2, p[i]);
        sqlite3_bind_double(stmt, 3, histogram_quantile(h, p[i]));
        int rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) st = gallery_db_error(g, rc, "storing the calibration");
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return st;
}

/* The equal error rate: where the share of impostor pairs at or below a threshold meets the
 * share of genuine pairs above it. */
static void equal_error(const histogram *genuine, const histogram *impostor, float *eer,
                        float *distance) {
    uint64_t gen_below = 0, imp_below = 0;
    for (int b = 0; b < HIST_BINS; b++) {
        gen_below += genuine->count[b];
        imp_below += impostor->count[b];
        double far = (double)imp_below / (double)impostor->n;
        double frr = 1.0 - (double)gen_below / (double)genuine->n;
        if (far >= frr || b == HIST_BINS - 1) {
            *eer = (float)((far + frr) / 2);
            *distance = (float)((b + 1) * (HIST_MAX / HIST_BINS));
            return;
        }
    }
}

fr_status fr_gallery_calibrate(fr_gallery *g, const float *embeddings, const int *labels, int n,
                               const char *source, fr_calibration_stats *stats) {
    if (!g || !embeddings || !labels || n < 0 || !source)
        return fr_error(FR_E_ARG, "fr_gallery_calibrate: invalid arguments");
    if (!g->model[0])
        return fr_error(FR_E_ARG, "%s: no embedding model bound (fr_gallery_use_model)", g->path);
    histogram genuine = {calloc(HIST_BINS, sizeof(uint64_t)), 0, 0, 0};
    histogram impostor = {calloc(HIST_BINS, sizeof(uint64_t)), 0, 0, 0};
    fr_status st = FR_OK;
    if (!genuine.count || !impostor.count)
        st = fr_error(FR_E_NOMEM, "%s: out of memory calibrating", g->path);
    if (st == FR_OK) st = measure_pairs(embeddings, labels, n, g->dim, &genuine, &impostor, g->path);
    if (st == FR_OK && (genuine.n == 0 || impostor.n == 0))
        st = fr_error(FR_E_ARG,
                      "%s: calibration needs at least two people, one of them with two photos "
                      "(got %lld same-person and %lld different-person pairs)",
                      source, (long long)genuine.n, (long long)impostor.n);
    if (st == FR_OK) {
        char text[32];
        st = gallery_begin(g, "storing the calibration");
        if (st != FR_OK) goto done;
        st = gallery_exec(g, "DELETE FROM calibration", "storing the calibration");
        if (st == FR_OK) st = store_quantiles(g, "genuine", &genuine);
        if (st == FR_OK) st = store_quantiles(g, "impostor", &impostor);
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_source", source);
        snprintf(text, sizeof text, "%lld", (long long)genuine.n);
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_genuine_pairs", text);
        snprintf(text, sizeof text, "%lld", (long long)impostor.n);
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_impostor_pairs", text);
        snprintf(text, sizeof text, "%lld", (long long)time(NULL));
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_time", text);
        st = gallery_end(g, st, "storing the calibration");
    }
    if (st == FR_OK && stats) {
        stats->n_genuine_pairs = genuine.n;
        stats->n_impostor_pairs = impostor.n;
        equal_error(&genuine, &impostor, &stats->eer, &stats->eer_distance);
    }
done:
    free(genuine.count);
    free(impostor.count);
    return st;
}

typedef struct quantiles {
    double p[MAX_GRID];
    float d[MAX_GRID];
    int n;
} quantiles;

static fr_status read_quantiles(fr_gallery *g, const char *kind, quantiles *q) {
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "SELECT p, distance FROM calibration WHERE kind = ? ORDER BY p", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
    q->n = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && q->n < MAX_GRID) {
        q->p[q->n] = sqlite3_column_double(stmt, 0);
        q->d[q->n] = (float)sqlite3_column_double(stmt, 1);
        q->n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) st = gallery_db_error(g, rc, "reading the calibration");
    sqlite3_finalize(stmt);
    return st;
}

/* The distance at probability p, interpolated in log p (the tails span decades). */
static float distance_at(const quantiles *q, double p) {
    if (p <= q->p[0]) return q->d[0];
    for (int i = 1; i < q->n; i++)
        if (p <= q->p[i]) {
            double t = (log(p) - log(q->p[i - 1])) / (log(q->p[i]) - log(q->p[i - 1]));
            return (float)(q->d[i - 1] + t * (q->d[i] - q->d[i - 1]));
        }
    return q->d[q->n - 1];
}

/* The share of the distribution at or below distance d (linear between quantiles). */
static double share_below(const quantiles *q, float d) {
    if (d <= q->d[0]) return d < q->d[0] ? 0.0 : q->p[0];
    for (int i = 1; i < q->n; i++)
        if (d <= q->d[i]) {
            double t = q->d[i] > q->d[i - 1] ? (d - q->d[i - 1]) / (q->d[i] - q->d[i - 1]) : 1.0;
            return q->p[i - 1] + t * (q->p[i] - q->p[i - 1]);
        }
    return 1.0;
}

fr_status fr_gallery_threshold(fr_gallery *g, double far, fr_threshold *out) {
    if (!g || !out || !(far > 0 && far <= 1))
        return fr_error(FR_E_ARG, "fr_gallery_threshold: the false-accept rate must be in (0, 1]");
    if (!g->model[0]) return fr_error(FR_E_NOT_FOUND, "%s: the gallery has no model yet", g->path);
    quantiles *impostor = malloc(sizeof *impostor), *genuine = malloc(sizeof *genuine);
    fr_status st = impostor && genuine ? FR_OK : fr_error(FR_E_NOMEM, "out of memory");
    if (st == FR_OK) st = read_quantiles(g, "impostor", impostor);
    if (st == FR_OK) st = read_quantiles(g, "genuine", genuine);
    if (st == FR_OK && (impostor->n == 0 || genuine->n == 0)) {
        st = fr_model_default_threshold(g->model, out);
    } else if (st == FR_OK) {
        char source[256] = "", pairs[24] = "";
        st = gallery_meta_get(g, "calibration_source", source, sizeof source);
        if (st == FR_OK) st = gallery_meta_get(g, "calibration_impostor_pairs", pairs, sizeof pairs);
        if (st == FR_OK) {
            out->distance = distance_at(impostor, far);
            out->origin = FR_THRESHOLD_CALIBRATED;
            out->far = far;
            out->frr = 1.0 - share_below(genuine, out->distance);
            int n = snprintf(out->note, sizeof out->note,
                             "calibrated on %s pairs of %s: the distance at false-accept rate %.2g",
                             pairs, source, far);
            if (far < impostor->p[0] && n > 0 && (size_t)n < sizeof out->note)
                snprintf(out->note + n, sizeof out->note - (size_t)n,
                         " (too few pairs to resolve it: the lowest impostor distance is used, "
                         "accepting up to %.2g)", impostor->p[0]);
        }
    }
    free(impostor);
    free(genuine);
    return st;
}

fr_status fr_gallery_identify_threshold(fr_gallery *g, double fpir, fr_threshold *out) {
    if (!g || !out || !(fpir > 0 && fpir <= 1))
        return fr_error(FR_E_ARG, "fr_gallery_identify_threshold: FPIR must be in (0, 1]");
    int64_t n_people = 0;
    sqlite3_stmt *stmt;
    fr_status st = gallery_prepare(g, "SELECT count(*) FROM people", &stmt);
    if (st != FR_OK) return st;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) n_people = sqlite3_column_int64(stmt, 0);
    else st = gallery_db_error(g, rc, "counting people");
    sqlite3_finalize(stmt);
    if (st != FR_OK) return st;
    /* a stranger is falsely named if any of the N comparisons accepts: FPIR ~ N * FAR */
    double far = fpir / (double)FR_MAX(n_people, 1);
    st = fr_gallery_threshold(g, far, out);
    if (st != FR_OK || out->origin != FR_THRESHOLD_CALIBRATED) return st;
    char note[sizeof out->note];
    if (snprintf(note, sizeof note, "FPIR %.2g over %lld %s; %s", fpir, (long long)n_people,
                 n_people == 1 ? "person" : "people", out->note) > 0)
        memcpy(out->note, note, sizeof note);
    return FR_OK;
}
