/* threshold.c: calibration (the distances of every same-person and different-person pair,
 * kept as quantiles) and the decision thresholds read off them. */
#include "gallery/db.h"
#include "gallery/gallery.h"
#include "nn/distance.h"
#include "nn/nn.h"

#include <errno.h>
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
    {"dlib-resnet", 0.42f,
     "dlib's documented 0.6 for its unnormalised descriptors, over their mean length on LFW, "
     "1.43"},
    {"fusion", 0.68f,
     "LFW View 1 with MTCNN and flip: the most accurate threshold on pairsDevTrain.txt "
     "(BENCHMARKS.md)"},
    {"mobilefacenet", 1.0f,
     "LFW View 2 with MTCNN and the similarity warp: false-accept rate 1e-4 (BENCHMARKS.md)"},
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
    return fr_error(FR_E_NOT_FOUND, "%s: no default threshold known for this model: calibrate "
                    "on labeled photos (facerec calibrate --dir FOLDER), or give --threshold",
                    model);
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
static fr_status measure_pairs(int threads, const float *emb, const int *labels, int n, int dim,
                               histogram *genuine, histogram *impostor, const char *path) {
    float *sq = malloc((size_t)n * sizeof(float));
    float *tile = malloc((size_t)PAIR_BLOCK * PAIR_BLOCK * sizeof(float));
    if (!sq || !tile) {
        free(sq);
        free(tile);
        return fr_error(FR_E_NOMEM, "%s: out of memory calibrating", path);
    }
    nn_sq_norms(emb, n, dim, sq);
    fr_status st = FR_OK;
    for (int i0 = 0; i0 < n && st == FR_OK; i0 += PAIR_BLOCK) {
        int ni = FR_MIN(PAIR_BLOCK, n - i0);
        for (int j0 = i0; j0 < n; j0 += PAIR_BLOCK) {
            int nj = FR_MIN(PAIR_BLOCK, n - j0);
            st = nn_sq_distances(threads, emb + (size_t)i0 * dim, sq + i0, ni,
                                 emb + (size_t)j0 * dim, sq + j0, nj, dim, tile);
            if (st != FR_OK) {
                fr_error_prefix(st, "%s: calibrating", path);
                break;
            }
            for (int i = 0; i < ni; i++)
                for (int j = (j0 == i0 ? i + 1 : 0); j < nj; j++) {
                    float d = sqrtf(tile[(size_t)i * nj + j]);
                    histogram_add(labels[i0 + i] == labels[j0 + j] ? genuine : impostor, d);
                }
        }
    }
    free(sq);
    free(tile);
    return st;
}

/* The probabilities at which quantiles are stored: 20 per decade from 1e-6 to 0.1 in both
 * tails (false accepts are read in the low tail of the impostor distances, false rejects in
 * the high tail of the genuine ones), 0.025 apart between, and 1/n and 1 - 1/n at the ends.
 * Only those that n pairs can resolve are kept. Returns how many were written to p. */
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

static void histogram_quantiles(const histogram *h, gallery_quantiles *q) {
    q->n = quantile_grid(h->n, q->p);
    for (int i = 0; i < q->n; i++) q->d[i] = histogram_quantile(h, q->p[i]);
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

/* Measure every pair of n labeled embeddings into cal (its model and dim are the caller's),
 * on up to `threads` threads. `what` names the object in error messages. */
static fr_status measure_calibration(int threads, const float *embeddings, const int *labels,
                                     int n, int dim, const char *source, const char *what,
                                     gallery_calibration *cal, fr_calibration_stats *stats) {
    histogram genuine = {calloc(HIST_BINS, sizeof(uint64_t)), 0, 0, 0};
    histogram impostor = {calloc(HIST_BINS, sizeof(uint64_t)), 0, 0, 0};
    fr_status st = FR_OK;
    if (!genuine.count || !impostor.count)
        st = fr_error(FR_E_NOMEM, "%s: out of memory calibrating", what);
    if (st == FR_OK)
        st = measure_pairs(threads, embeddings, labels, n, dim, &genuine, &impostor, what);
    if (st == FR_OK && (genuine.n == 0 || impostor.n == 0))
        st = fr_error(FR_E_ARG,
                      "%s: calibration needs at least two people, one of them with two photos "
                      "(got %lld same-person and %lld different-person pairs)",
                      source, (long long)genuine.n, (long long)impostor.n);
    if (st == FR_OK) {
        snprintf(cal->source, sizeof cal->source, "%s", source);
        cal->n_genuine_pairs = genuine.n;
        cal->n_impostor_pairs = impostor.n;
        histogram_quantiles(&genuine, &cal->genuine);
        histogram_quantiles(&impostor, &cal->impostor);
        if (stats) {
            stats->n_genuine_pairs = genuine.n;
            stats->n_impostor_pairs = impostor.n;
            equal_error(&genuine, &impostor, &stats->eer, &stats->eer_distance);
        }
    }
    free(genuine.count);
    free(impostor.count);
    return st;
}

static fr_status store_quantiles(fr_gallery *g, const char *kind, const gallery_quantiles *q) {
    fr_status st = FR_OK;
    for (int i = 0; i < q->n && st == FR_OK; i++) {
        db_value params[3] = {db_text(kind), db_real(q->p[i]), db_real(q->d[i])};
        st = db_exec(g,
                     "INSERT INTO calibration(kind, p, distance) VALUES($1, $2, $3)"
                     " ON CONFLICT(kind, p) DO UPDATE SET distance = excluded.distance",
                     params, 3, NULL, "storing the calibration");
    }
    return st;
}

fr_status fr_gallery_calibrate(fr_gallery *g, const float *embeddings, const int *labels, int n,
                               const char *source, fr_calibration_stats *stats) {
    if (!g || !embeddings || !labels || n < 0 || !source)
        return fr_error(FR_E_ARG, "fr_gallery_calibrate: invalid arguments");
    if (!g->model[0])
        return fr_error(FR_E_ARG, "%s: no embedding model bound (fr_gallery_use_model)", g->path);
    gallery_calibration *cal = malloc(sizeof *cal);
    if (!cal) return fr_error(FR_E_NOMEM, "%s: out of memory calibrating", g->path);
    fr_status st = measure_calibration(nn_resolve_threads(g->threads), embeddings, labels, n,
                                       g->dim, source, g->path, cal, stats);
    if (st == FR_OK) st = gallery_begin(g, "storing the calibration");
    if (st == FR_OK) {
        char text[32];
        st = gallery_exec(g, "DELETE FROM calibration", "storing the calibration");
        if (st == FR_OK) st = store_quantiles(g, "genuine", &cal->genuine);
        if (st == FR_OK) st = store_quantiles(g, "impostor", &cal->impostor);
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_source", source);
        snprintf(text, sizeof text, "%lld", (long long)cal->n_genuine_pairs);
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_genuine_pairs", text);
        snprintf(text, sizeof text, "%lld", (long long)cal->n_impostor_pairs);
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_impostor_pairs", text);
        snprintf(text, sizeof text, "%lld", (long long)time(NULL));
        if (st == FR_OK) st = gallery_meta_set(g, "calibration_time", text);
        st = gallery_end(g, st, "storing the calibration");
    }
    free(cal);
    return st;
}

/* The calibration file format: line 1 is CALIBRATION_HEADER; then, after any '#' comment
 * lines, "model", "dim", "source", "genuine_pairs" and "impostor_pairs" lines, each quantile
 * table as "genuine M" / "impostor M" followed by M lines "p distance", and "end" (so that a
 * truncated file is told apart from a short table). */
#define CALIBRATION_HEADER "facerec-calibration 1"

static void write_quantiles(FILE *f, const char *kind, const gallery_quantiles *q) {
    fprintf(f, "%s %d\n", kind, q->n);
    for (int i = 0; i < q->n; i++) fprintf(f, "%.10g %.5f\n", q->p[i], q->d[i]);
}

fr_status fr_calibration_export(const char *model, int dim, const float *embeddings,
                                const int *labels, int n, const char *source, const char *path,
                                fr_calibration_stats *stats) {
    if (!model || !*model || strlen(model) >= sizeof ((gallery_calibration *)0)->model ||
        strpbrk(model, " \t\n") || dim <= 0 || !embeddings || !labels || n < 0 || !source ||
        strchr(source, '\n') || !path)
        return fr_error(FR_E_ARG, "fr_calibration_export: invalid arguments");
    gallery_calibration *cal = malloc(sizeof *cal);
    if (!cal) return fr_error(FR_E_NOMEM, "%s: out of memory calibrating", path);
    fr_status st = measure_calibration(nn_default_threads(), embeddings, labels, n, dim, source,
                                       path, cal, stats);
    FILE *f = st == FR_OK ? fopen(path, "w") : NULL;
    if (st == FR_OK && !f) st = fr_error(FR_E_IO, "%s: cannot create: %s", path, strerror(errno));
    if (f) {
        fprintf(f, CALIBRATION_HEADER "\n");
        fprintf(f, "# The distances of every same-person and different-person pair of embeddings by\n"
                   "# %s, as quantiles (facerec calibrate --export). Galleries without a calibration\n"
                   "# of their own read their thresholds here. scripts/calibrations.sh regenerates\n"
                   "# the files shipped in data/calibration.\n",
                model);
        fprintf(f, "model %s\ndim %d\nsource %s\ngenuine_pairs %lld\nimpostor_pairs %lld\n", model,
                dim, cal->source, (long long)cal->n_genuine_pairs, (long long)cal->n_impostor_pairs);
        write_quantiles(f, "genuine", &cal->genuine);
        write_quantiles(f, "impostor", &cal->impostor);
        fprintf(f, "end\n");
        int failed = ferror(f);
        if (fclose(f) != 0 || failed) st = fr_error(FR_E_IO, "%s: write error", path);
    }
    free(cal);
    return st;
}

/* A line-by-line reader over a file's text, for error messages that name the line. */
typedef struct text_lines {
    char *next;
    int number;
    const char *path;
} text_lines;

/* The next line that is not a comment, NUL-terminated in place; NULL at the end. */
static char *next_line(text_lines *t) {
    while (t->next && *t->next) {
        char *line = t->next, *eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        t->next = eol ? eol + 1 : NULL;
        t->number++;
        if (line[0] != '#') return line;
    }
    return NULL;
}

static fr_status malformed(const text_lines *t, const char *problem) {
    return fr_error(FR_E_FORMAT, "%s:%d: malformed calibration file: %s", t->path, t->number,
                    problem);
}

/* "key VALUE": the value as text (whole rest of the line). */
static fr_status read_field(text_lines *t, const char *key, char *out, size_t out_size) {
    char *line = next_line(t);
    size_t k = strlen(key);
    if (!line) return fr_error(FR_E_FORMAT, "%s: truncated calibration file: no '%s' line", t->path, key);
    if (strncmp(line, key, k) != 0 || line[k] != ' ' || !line[k + 1] ||
        strlen(line + k + 1) >= out_size) {
        char problem[96];
        snprintf(problem, sizeof problem, "expected '%s VALUE'", key);
        return malformed(t, problem);
    }
    memcpy(out, line + k + 1, strlen(line + k + 1) + 1);
    return FR_OK;
}

/* "key N" with N a whole number in [lo, hi]. */
static fr_status read_count(text_lines *t, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    char text[32], *end;
    fr_status st = read_field(t, key, text, sizeof text);
    if (st != FR_OK) return st;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || end == text || v < lo || v > hi) {
        char problem[96];
        snprintf(problem, sizeof problem, "'%s' must be a whole number from %lld to %lld", key,
                 (long long)lo, (long long)hi);
        return malformed(t, problem);
    }
    *out = v;
    return FR_OK;
}

static fr_status read_quantile_table(text_lines *t, const char *kind, gallery_quantiles *q) {
    int64_t m;
    fr_status st = read_count(t, kind, 2, GALLERY_MAX_QUANTILES, &m);
    if (st != FR_OK) return st;
    q->n = (int)m;
    for (int i = 0; i < q->n; i++) {
        char *line = next_line(t), *end;
        if (!line)
            return fr_error(FR_E_FORMAT, "%s: truncated calibration file: the %s table has %d of its %d rows",
                            t->path, kind, i, q->n);
        q->p[i] = strtod(line, &end);
        char *rest = end;
        double d = strtod(rest, &end);
        if (end == rest || *end || !(q->p[i] > 0 && q->p[i] < 1) || !(d >= 0 && d <= HIST_MAX))
            return malformed(t, "expected 'p distance' with p in (0, 1) and a distance in [0, 4]");
        q->d[i] = (float)d;
        if (i > 0 && (q->p[i] <= q->p[i - 1] || q->d[i] < q->d[i - 1]))
            return malformed(t, "probabilities must increase and distances not decrease");
    }
    return FR_OK;
}

fr_status gallery_read_calibration_file(const char *path, gallery_calibration *out) {
    uint8_t *data;
    size_t size;
    fr_status st = fr_read_file(path, 1 << 20, &data, &size);
    if (st != FR_OK) return st;
    /* NUL-terminated copy: the file's bytes are not */
    char *text = malloc(size + 1);
    if (!text) {
        free(data);
        return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(text, data, size);
    text[size] = '\0';
    free(data);
    text_lines t = {text, 0, path};
    char *line = next_line(&t);
    int64_t dim = 0;
    if (!line || strcmp(line, CALIBRATION_HEADER) != 0 || t.number != 1)
        st = fr_error(FR_E_FORMAT, "%s: not a facerec calibration file (line 1 is not '" CALIBRATION_HEADER "')", path);
    if (st == FR_OK) st = read_field(&t, "model", out->model, sizeof out->model);
    if (st == FR_OK) st = read_count(&t, "dim", 1, 1 << 16, &dim);
    if (st == FR_OK) st = read_field(&t, "source", out->source, sizeof out->source);
    if (st == FR_OK) st = read_count(&t, "genuine_pairs", 1, INT64_MAX, &out->n_genuine_pairs);
    if (st == FR_OK) st = read_count(&t, "impostor_pairs", 1, INT64_MAX, &out->n_impostor_pairs);
    if (st == FR_OK) st = read_quantile_table(&t, "genuine", &out->genuine);
    if (st == FR_OK) st = read_quantile_table(&t, "impostor", &out->impostor);
    if (st == FR_OK) {
        line = next_line(&t);
        if (!line) st = fr_error(FR_E_FORMAT, "%s: truncated calibration file: no 'end' line", path);
        else if (strcmp(line, "end") != 0) st = malformed(&t, "expected 'end'");
        else if ((line = next_line(&t)) != NULL && *line) st = malformed(&t, "text after 'end'");
    }
    out->dim = (int)dim;
    free(text);
    return st;
}

/* The gallery's own calibration into cal (cal->impostor.n == 0 if it has none). */
static fr_status read_gallery_calibration(fr_gallery *g, gallery_calibration *cal) {
    static const char *const kinds[2] = {"genuine", "impostor"};
    gallery_quantiles *tables[2] = {&cal->genuine, &cal->impostor};
    fr_status st = FR_OK;
    for (int k = 0; k < 2 && st == FR_OK; k++) {
        gallery_quantiles *q = tables[k];
        db_value param = db_text(kinds[k]);
        db_rows *r;
        q->n = 0;
        st = db_query(g, "SELECT p, distance FROM calibration WHERE kind = $1 ORDER BY p", &param, 1,
                      &r, NULL, "reading the calibration");
        int has_row = 0;
        while (st == FR_OK && q->n < GALLERY_MAX_QUANTILES && (st = db_step(g, r, &has_row)) == FR_OK &&
               has_row) {
            q->p[q->n] = db_column_real(g, r, 0);
            q->d[q->n] = (float)db_column_real(g, r, 1);
            q->n++;
        }
        db_rows_free(g, r);
    }
    if (st != FR_OK || cal->genuine.n == 0 || cal->impostor.n == 0) {
        cal->impostor.n = 0;
        return st;
    }
    char pairs[24] = "";
    st = gallery_meta_get(g, "calibration_source", cal->source, sizeof cal->source);
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_impostor_pairs", pairs, sizeof pairs);
    cal->n_impostor_pairs = strtoll(pairs, NULL, 10);
    if (st == FR_OK) st = gallery_meta_get(g, "calibration_genuine_pairs", pairs, sizeof pairs);
    cal->n_genuine_pairs = strtoll(pairs, NULL, 10);
    return st;
}

/* The calibration shipped for a model into cal (cal->impostor.n == 0 if none is shipped, or
 * the shipped one is for embeddings of another length than dim). */
static fr_status read_shipped_calibration(const char *model, int dim, gallery_calibration *cal,
                                          char *path, size_t path_size) {
    char relpath[128];
    cal->impostor.n = 0;
    if (strchr(model, '/') ||
        snprintf(relpath, sizeof relpath, "calibration/%s.txt", model) >= (int)sizeof relpath ||
        fr_data_path(relpath, path, path_size) != FR_OK)
        return FR_OK;
    fr_status st = gallery_read_calibration_file(path, cal);
    if (st == FR_OK && strcmp(cal->model, model) != 0)
        st = fr_error(FR_E_FORMAT, "%s: the calibration is of model '%s', not '%s'", path,
                      cal->model, model);
    if (st != FR_OK || cal->dim != dim) cal->impostor.n = 0;
    return st;
}

/* The distance at probability p, interpolated in log p (the tails span decades). */
static float distance_at(const gallery_quantiles *q, double p) {
    if (p <= q->p[0]) return q->d[0];
    for (int i = 1; i < q->n; i++)
        if (p <= q->p[i]) {
            double t = (log(p) - log(q->p[i - 1])) / (log(q->p[i]) - log(q->p[i - 1]));
            return (float)(q->d[i - 1] + t * (q->d[i] - q->d[i - 1]));
        }
    return q->d[q->n - 1];
}

/* The share of the distribution at or below distance d (linear between quantiles). */
static double share_below(const gallery_quantiles *q, float d) {
    if (d <= q->d[0]) return d < q->d[0] ? 0.0 : q->p[0];
    for (int i = 1; i < q->n; i++)
        if (d <= q->d[i]) {
            double t = q->d[i] > q->d[i - 1] ? (d - q->d[i - 1]) / (q->d[i] - q->d[i - 1]) : 1.0;
            return q->p[i - 1] + t * (q->p[i] - q->p[i - 1]);
        }
    return 1.0;
}

/* The threshold at false-accept rate far from cal (the gallery's own calibration, or
 * cal->impostor.n == 0 for none), else the calibration shipped for the model, else its default.
 * cal is overwritten. */
static fr_status threshold_from(const char *model, int dim, gallery_calibration *cal, double far,
                                fr_threshold *out) {
    char shipped_path[1024];
    fr_threshold_origin origin = FR_THRESHOLD_CALIBRATED;
    fr_status st = FR_OK;
    if (cal->impostor.n == 0) {
        origin = FR_THRESHOLD_SHIPPED;
        st = read_shipped_calibration(model, dim, cal, shipped_path, sizeof shipped_path);
    }
    if (st != FR_OK) return st;
    if (cal->impostor.n == 0) return fr_model_default_threshold(model, out);
    out->distance = distance_at(&cal->impostor, far);
    out->origin = origin;
    out->far = far;
    out->frr = 1.0 - share_below(&cal->genuine, out->distance);
    int n = origin == FR_THRESHOLD_CALIBRATED
                ? snprintf(out->note, sizeof out->note,
                           "calibrated on %lld pairs of %s: the distance at false-accept rate %.2g",
                           (long long)cal->n_impostor_pairs, cal->source, far)
                : snprintf(out->note, sizeof out->note,
                           "%s calibration shipped with facerec (%lld pairs, %s): the distance "
                           "at false-accept rate %.2g",
                           cal->source, (long long)cal->n_impostor_pairs, shipped_path, far);
    if (far < cal->impostor.p[0] && n > 0 && (size_t)n < sizeof out->note)
        snprintf(out->note + n, sizeof out->note - (size_t)n,
                 " (too few pairs to resolve it: the lowest impostor distance is used, "
                 "accepting up to %.2g)", cal->impostor.p[0]);
    return FR_OK;
}

fr_status fr_gallery_threshold(fr_gallery *g, double far, fr_threshold *out) {
    if (!g || !out || !(far > 0 && far <= 1))
        return fr_error(FR_E_ARG, "fr_gallery_threshold: the false-accept rate must be in (0, 1]");
    if (!g->model[0]) return fr_error(FR_E_NOT_FOUND, "%s: the gallery has no model yet", g->path);
    gallery_calibration *cal = malloc(sizeof *cal);
    if (!cal) return fr_error(FR_E_NOMEM, "out of memory");
    fr_status st = read_gallery_calibration(g, cal);
    if (st == FR_OK) st = threshold_from(g->model, g->dim, cal, far, out);
    free(cal);
    return st;
}

fr_status fr_model_threshold(const char *model, int dim, double far, fr_threshold *out) {
    if (!model || !out || !(far > 0 && far <= 1))
        return fr_error(FR_E_ARG, "fr_model_threshold: a model and a false-accept rate in (0, 1] "
                                  "are needed");
    gallery_calibration *cal = malloc(sizeof *cal);
    if (!cal) return fr_error(FR_E_NOMEM, "out of memory");
    cal->impostor.n = 0;
    fr_status st = threshold_from(model, dim, cal, far, out);
    free(cal);
    return st;
}

fr_status fr_gallery_identify_threshold(fr_gallery *g, double fpir, fr_threshold *out) {
    if (!g || !out || !(fpir > 0 && fpir <= 1))
        return fr_error(FR_E_ARG, "fr_gallery_identify_threshold: FPIR must be in (0, 1]");
    int64_t n_people = 0;
    fr_status st = db_query_int(g, "SELECT count(*) FROM people", NULL, 0, &n_people, "counting people");
    if (st != FR_OK) return st;
    /* a stranger is falsely named if any of the N comparisons accepts: FPIR ~ N * FAR */
    double far = fpir / (double)FR_MAX(n_people, 1);
    st = fr_gallery_threshold(g, far, out);
    if (st != FR_OK || out->origin == FR_THRESHOLD_MODEL_DEFAULT) return st;
    char note[sizeof out->note];
    if (snprintf(note, sizeof note, "FPIR %.2g over %lld %s; %s", fpir, (long long)n_people,
                 n_people == 1 ? "person" : "people", out->note) > 0)
        memcpy(out->note, note, sizeof note);
    return FR_OK;
}
