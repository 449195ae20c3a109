/* metrics.c: verification and identification figures from embedding distances. */
#include "eval/eval.h"

#include "common/common.h"
#include "nn/distance.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double eval_far_targets[EVAL_N_FAR_TARGETS] = {1e-3, 1e-4};

typedef struct scored {
    float distance;
    int same;
} scored;

static int compare_scored(const void *x, const void *y) {
    const scored *a = x, *b = y;
    return a->distance < b->distance ? -1 : a->distance > b->distance;
}

static int compare_floats(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return a < b ? -1 : a > b;
}

/* The pairs with keep(fold) true, sorted by distance; counts of each kind. */
static fr_status sorted_pairs(const float *distances, const int *same, const int *fold, int n,
                              int only_fold, int except_fold, scored **out, int *n_out,
                              int *n_genuine, int *n_impostor) {
    scored *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    if (!s) return fr_error(FR_E_NOMEM, "out of memory sorting %d distances", n);
    int m = 0, g = 0;
    for (int i = 0; i < n; i++) {
        if (fold && only_fold >= 0 && fold[i] != only_fold) continue;
        if (fold && except_fold >= 0 && fold[i] == except_fold) continue;
        if (isnan(distances[i])) {
            free(s);
            return fr_error(FR_E_ARG, "distance %d is not a number", i);
        }
        s[m].distance = distances[i];
        s[m].same = same[i] != 0;
        g += s[m].same;
        m++;
    }
    qsort(s, (size_t)m, sizeof *s, compare_scored);
    *out = s;
    *n_out = m;
    *n_genuine = g;
    *n_impostor = m - g;
    return FR_OK;
}

/* Threshold sweep over sorted pairs: cut k accepts pairs [0, k), where k is 0, n or a place
 * where the distance changes (tied distances are accepted together). */
static int next_cut(const scored *s, int n, int k) {
    do k++;
    while (k < n && s[k].distance == s[k - 1].distance);
    return k;
}

/* A threshold between the accepted and the rejected side of cut k. */
static double cut_threshold(const scored *s, int n, int k) {
    if (k == 0) return (double)s[0].distance - 1e-6;
    if (k == n) return (double)s[n - 1].distance + 1e-6;
    return 0.5 * ((double)s[k - 1].distance + (double)s[k].distance);
}

static void best_cut(const scored *s, int n, int n_impostor, double *threshold, double *accuracy) {
    int correct = n_impostor, best = correct, best_k = 0; /* cut 0: all rejected */
    for (int k = 0; k < n;) {
        int next = next_cut(s, n, k);
        for (int i = k; i < next; i++) correct += s[i].same ? 1 : -1;
        if (correct > best) {
            best = correct;
            best_k = next;
        }
        k = next;
    }
    *threshold = cut_threshold(s, n, best_k);
    *accuracy = (double)best / n;
}

fr_status eval_best_threshold(const float *distances, const int *same, int n,
                              double *threshold, double *accuracy) {
    if (n <= 0) return fr_error(FR_E_ARG, "eval_best_threshold: no pairs");
    scored *s;
    int m, g, imp;
    fr_status st = sorted_pairs(distances, same, NULL, n, -1, -1, &s, &m, &g, &imp);
    if (st != FR_OK) return st;
    best_cut(s, m, imp, threshold, accuracy);
    free(s);
    return FR_OK;
}

static double accuracy_at(const float *distances, const int *same, const int *fold, int n,
                          int test_fold, double threshold) {
    int correct = 0, total = 0;
    for (int i = 0; i < n; i++) {
        if (fold[i] != test_fold) continue;
        correct += (distances[i] <= threshold) == (same[i] != 0);
        total++;
    }
    return (double)correct / total;
}

/* Area under the ROC curve: the share of (genuine, impostor) pairs ordered correctly. */
static double area_under_curve(const scored *s, int n, int n_genuine, int n_impostor) {
    double ordered = 0;
    int impostors_before = 0;
    for (int k = 0; k < n;) {
        int next = next_cut(s, n, k), g = 0, i = 0;
        for (int t = k; t < next; t++) s[t].same ? g++ : i++;
        /* genuine after impostors is misordered; ties count half */
        ordered += (double)g * (double)(n_impostor - impostors_before - i) + 0.5 * g * i;
        impostors_before += i;
        k = next;
    }
    return ordered / ((double)n_genuine * (double)n_impostor);
}

/* The standard error of the AUC by the bootstrap: AUC_BOOTSTRAP resamples of the n pairs
 * (drawn with replacement, fixed seed), each scored like area_under_curve with every pair
 * weighted by how often it was drawn. Tells whether two models' AUCs differ beyond noise. */
#define AUC_BOOTSTRAP 200
#define AUC_BOOTSTRAP_SEED 0x6175635f7365ull

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static fr_status auc_standard_error(const scored *s, int n, double *se) {
    *se = NAN;
    int *drawn = malloc((size_t)(n > 0 ? n : 1) * sizeof *drawn);
    if (!drawn) return fr_error(FR_E_NOMEM, "out of memory for %d pairs", n);
    uint64_t state = AUC_BOOTSTRAP_SEED;
    double sum = 0, sum_sq = 0;
    int counted = 0;
    for (int b = 0; b < AUC_BOOTSTRAP; b++) {
        memset(drawn, 0, (size_t)n * sizeof *drawn);
        for (int i = 0; i < n; i++) drawn[splitmix64(&state) % (uint64_t)n]++;
        double genuine = 0, impostor = 0;
        for (int i = 0; i < n; i++) s[i].same ? (genuine += drawn[i]) : (impostor += drawn[i]);
        if (genuine == 0 || impostor == 0) continue;
        double ordered = 0, impostors_before = 0;
        for (int k = 0; k < n;) {
            int next = next_cut(s, n, k);
            double g = 0, im = 0;
            for (int t = k; t < next; t++) s[t].same ? (g += drawn[t]) : (im += drawn[t]);
            ordered += g * (impostor - impostors_before - im) + 0.5 * g * im;
            impostors_before += im;
            k = next;
        }
        double auc = ordered / (genuine * impostor);
        sum += auc;
        sum_sq += auc * auc;
        counted++;
    }
    free(drawn);
    if (counted > 1) {
        double mean = sum / counted;
        *se = sqrt(fmax(0, (sum_sq - counted * mean * mean) / (counted - 1)));
    }
    return FR_OK;
}

/* The equal error rate, interpolated between the cuts where FAR crosses FRR. */
static void equal_error(const scored *s, int n, int n_genuine, int n_impostor, double *eer,
                        double *threshold) {
    double far = 0, frr = 1, t = cut_threshold(s, n, 0);
    int genuine = 0, impostor = 0;
    for (int k = 0; k < n;) {
        int next = next_cut(s, n, k);
        for (int i = k; i < next; i++) s[i].same ? genuine++ : impostor++;
        double far2 = (double)impostor / n_impostor, frr2 = 1.0 - (double)genuine / n_genuine;
        double t2 = s[next - 1].distance;
        if (far2 >= frr2) {
            double a = (frr - far) / ((frr - far) - (frr2 - far2));
            *eer = far + a * (far2 - far);
            *threshold = t + a * (t2 - t);
            return;
        }
        far = far2, frr = frr2, t = t2;
        k = next;
    }
    *eer = far;
    *threshold = t;
}

/* The true-accept rate with at most far_target * n_impostor impostors accepted: the threshold
 * stops just below the first impostor distance that would exceed that. */
static void tar_at_far(const scored *s, int n, int n_genuine, int n_impostor, double far_target,
                       double *tar, double *threshold) {
    int allowed = (int)floor(far_target * n_impostor + 1e-9), impostors = 0, genuine = 0;
    *threshold = INFINITY;
    for (int i = 0; i < n; i++)
        if (!s[i].same && impostors++ == allowed) {
            *threshold = nextafterf(s[i].distance, -INFINITY);
            break;
        }
    for (int i = 0; i < n; i++) genuine += s[i].same && s[i].distance <= *threshold;
    *tar = (double)genuine / n_genuine;
}

fr_status eval_verify(const float *distances, const int *same, const int *fold, int n,
                      int n_folds, int test_fold, eval_verification *out) {
    memset(out, 0, sizeof *out);
    if (n_folds < 1 || n_folds > EVAL_MAX_FOLDS || test_fold >= n_folds)
        return fr_error(FR_E_ARG, "eval_verify: %d folds, test fold %d", n_folds, test_fold);
    if (test_fold < 0 && n_folds < 2)
        return fr_error(FR_E_ARG, "eval_verify: cross-validation needs two folds or more");
    for (int i = 0; i < n; i++)
        if (fold[i] < 0 || fold[i] >= n_folds)
            return fr_error(FR_E_ARG, "eval_verify: pair %d is in fold %d of %d", i, fold[i],
                            n_folds);

    fr_status st = FR_OK;
    for (int f = 0; f < n_folds && st == FR_OK; f++) {
        if (test_fold >= 0 && f != test_fold) continue;
        scored *train;
        int m, g, imp, test_count = 0;
        for (int i = 0; i < n; i++) test_count += fold[i] == f;
        if (test_count == 0 && test_fold < 0) continue;
        if (test_count == 0) return fr_error(FR_E_ARG, "eval_verify: fold %d has no pairs", f);
        st = sorted_pairs(distances, same, fold, n, -1, f, &train, &m, &g, &imp);
        if (st != FR_OK) break;
        if (m == 0) {
            free(train);
            return fr_error(FR_E_ARG, "eval_verify: no pairs outside fold %d to choose a "
                            "threshold on", f);
        }
        double threshold, train_accuracy;
        best_cut(train, m, imp, &threshold, &train_accuracy);
        free(train);
        int k = out->n_folds_tested++;
        out->fold_threshold[k] = threshold;
        out->fold_accuracy[k] = accuracy_at(distances, same, fold, n, f, threshold);
    }
    if (st != FR_OK) return st;
    int folds = out->n_folds_tested;
    if (folds == 0) return fr_error(FR_E_ARG, "eval_verify: no pairs");
    double sum = 0, sum_t = 0, sq = 0;
    for (int k = 0; k < folds; k++) {
        sum += out->fold_accuracy[k];
        sum_t += out->fold_threshold[k];
    }
    out->accuracy_mean = sum / folds;
    out->threshold_mean = sum_t / folds;
    for (int k = 0; k < folds; k++) sq += pow(out->fold_accuracy[k] - out->accuracy_mean, 2);
    out->accuracy_std = folds > 1 ? sqrt(sq / (folds - 1)) : 0.0;

    scored *s;
    int m;
    st = sorted_pairs(distances, same, fold, n, test_fold, -1, &s, &m, &out->n_genuine,
                      &out->n_impostor);
    if (st != FR_OK) return st;
    if (out->n_genuine == 0 || out->n_impostor == 0) {
        free(s);
        return fr_error(FR_E_ARG, "eval_verify: the tested pairs need both kinds (%d same, %d "
                        "different)", out->n_genuine, out->n_impostor);
    }
    out->auc = area_under_curve(s, m, out->n_genuine, out->n_impostor);
    st = auc_standard_error(s, m, &out->auc_se);
    if (st != FR_OK) {
        free(s);
        return st;
    }
    equal_error(s, m, out->n_genuine, out->n_impostor, &out->eer, &out->eer_threshold);
    for (int i = 0; i < EVAL_N_FAR_TARGETS; i++)
        tar_at_far(s, m, out->n_genuine, out->n_impostor, eval_far_targets[i],
                   &out->tar_at_far[i], &out->threshold_at_far[i]);
    free(s);
    return FR_OK;
}

fr_status eval_roc(const float *distances, const int *same, int n, eval_roc_point **points,
                   int *n_points) {
    *points = NULL;
    *n_points = 0;
    scored *s;
    int m, g, imp;
    fr_status st = sorted_pairs(distances, same, NULL, n, -1, -1, &s, &m, &g, &imp);
    if (st != FR_OK) return st;
    if (g == 0 || imp == 0) {
        free(s);
        return fr_error(FR_E_ARG, "eval_roc: needs same-person and different-person pairs");
    }
    eval_roc_point *p = malloc((size_t)(m + 1) * sizeof *p);
    if (!p) {
        free(s);
        return fr_error(FR_E_NOMEM, "out of memory for a ROC curve of %d points", m);
    }
    int count = 0, genuine = 0, impostor = 0;
    p[count++] = (eval_roc_point){0.0, 0.0, cut_threshold(s, m, 0)};
    for (int k = 0; k < m;) {
        int next = next_cut(s, m, k);
        for (int i = k; i < next; i++) s[i].same ? genuine++ : impostor++;
        p[count++] = (eval_roc_point){(double)impostor / imp, (double)genuine / g,
                                      s[next - 1].distance};
        k = next;
    }
    free(s);
    *points = p;
    *n_points = count;
    return FR_OK;
}

/* ---- open-set identification ---------------------------------------------------------- */

/* Probes searched per matrix product. */
#define PROBE_BLOCK 256
/* Enrolled neighbours whose mean distance is a template's cohort score. */
#define COHORT_SIZE 10

/* cohort[j]: the mean distance from enrolled template j to its COHORT_SIZE nearest other
 * templates (all of them when there are fewer): how crowded its neighbourhood is. */
static fr_status gallery_cohort(int threads, const float *gallery, const float *g_sq,
                                int n_gallery, int dim, float *tile, float *cohort) {
    int size = FR_MIN(COHORT_SIZE, n_gallery - 1);
    for (int r0 = 0; r0 < n_gallery; r0 += PROBE_BLOCK) {
        int nr = FR_MIN(PROBE_BLOCK, n_gallery - r0);
        fr_status st = nn_sq_distances(threads, gallery + (size_t)r0 * dim, g_sq + r0, nr,
                                       gallery, g_sq, n_gallery, dim, tile);
        if (st != FR_OK) return st;
        for (int i = 0; i < nr; i++) {
            float *row = tile + (size_t)i * n_gallery;
            row[r0 + i] = INFINITY; /* not its own neighbour */
            /* the `size` smallest by partial selection: few neighbours, many templates */
            double sum = 0;
            for (int c = 0; c < size; c++) {
                int best = 0;
                for (int j = 1; j < n_gallery; j++)
                    if (row[j] < row[best]) best = j;
                sum += sqrtf(fmaxf(row[best], 0));
                row[best] = INFINITY;
            }
            cohort[r0 + i] = size > 0 ? (float)(sum / size) : 0;
        }
    }
    return FR_OK;
}

fr_status eval_identify(int threads, const float *gallery, const int *gallery_labels,
                        int n_gallery, const float *probes, const int *probe_labels, int n_probes,
                        int dim, double fpir_target, double cohort_weight,
                        eval_identification *out) {
    memset(out, 0, sizeof *out);
    if (n_gallery < 1 || n_probes < 1 || dim < 1)
        return fr_error(FR_E_ARG, "eval_identify: %d enrolled, %d probes", n_gallery, n_probes);
    threads = nn_resolve_threads(threads);
    float *g_sq = malloc((size_t)n_gallery * sizeof *g_sq);
    float *p_sq = malloc((size_t)n_probes * sizeof *p_sq);
    float *tile = malloc((size_t)PROBE_BLOCK * (size_t)n_gallery * sizeof *tile);
    float *nonmated = malloc((size_t)n_probes * sizeof *nonmated);
    float *mated = malloc((size_t)n_probes * sizeof *mated); /* +inf: wrong person at rank 1 */
    float *cohort = calloc((size_t)n_gallery, sizeof *cohort);
    if (!g_sq || !p_sq || !tile || !nonmated || !mated || !cohort) {
        free(g_sq), free(p_sq), free(tile), free(nonmated), free(mated), free(cohort);
        return fr_error(FR_E_NOMEM, "out of memory searching %d probes", n_probes);
    }
    nn_sq_norms(gallery, n_gallery, dim, g_sq);
    nn_sq_norms(probes, n_probes, dim, p_sq);
    fr_status st = FR_OK;
    if (cohort_weight != 0)
        st = gallery_cohort(threads, gallery, g_sq, n_gallery, dim, tile, cohort);
    int n_mated = 0, n_nonmated = 0, rank1 = 0;
    for (int p0 = 0; p0 < n_probes && st == FR_OK; p0 += PROBE_BLOCK) {
        int np = FR_MIN(PROBE_BLOCK, n_probes - p0);
        st = nn_sq_distances(threads, probes + (size_t)p0 * dim, p_sq + p0, np, gallery, g_sq,
                             n_gallery, dim, tile);
        if (st != FR_OK) break;
        for (int i = 0; i < np; i++) {
            const float *row = tile + (size_t)i * n_gallery;
            int best = 0;
            for (int j = 1; j < n_gallery; j++)
                if (row[j] < row[best]) best = j;
            /* the score thresholded: the distance, less the weighted crowding of the match */
            float d = sqrtf(row[best]) - (float)cohort_weight * cohort[best];
            int label = probe_labels[p0 + i];
            if (label < 0) {
                nonmated[n_nonmated++] = d;
            } else {
                int hit = gallery_labels[best] == label;
                rank1 += hit;
                mated[n_mated++] = hit ? d : INFINITY;
            }
        }
    }
    free(g_sq), free(p_sq), free(tile), free(cohort);
    if (st != FR_OK) {
        free(nonmated), free(mated);
        return fr_error_prefix(st, "searching %d probes", n_probes);
    }
    out->n_enrolled = n_gallery;
    out->n_mated = n_mated;
    out->n_nonmated = n_nonmated;
    out->fpir_target = fpir_target;
    out->rank1 = n_mated ? (double)rank1 / n_mated : NAN;
    if (n_nonmated == 0 || n_mated == 0) {
        free(nonmated), free(mated);
        return fr_error(FR_E_ARG, "eval_identify: needs probes of enrolled people and of "
                        "people not enrolled (%d and %d)", n_mated, n_nonmated);
    }
    /* the threshold lets at most fpir_target * n_nonmated strangers through */
    qsort(nonmated, (size_t)n_nonmated, sizeof *nonmated, compare_floats);
    int allowed = (int)floor(fpir_target * n_nonmated + 1e-9);
    out->threshold = allowed < n_nonmated ? nextafterf(nonmated[allowed], -INFINITY) : INFINITY;
    int false_pos = 0, misses = 0;
    for (int i = 0; i < n_nonmated; i++) false_pos += nonmated[i] <= out->threshold;
    for (int i = 0; i < n_mated; i++) misses += !(mated[i] <= out->threshold);
    out->fpir = (double)false_pos / n_nonmated;
    out->fnir = (double)misses / n_mated;
    free(nonmated), free(mated);
    return FR_OK;
}
