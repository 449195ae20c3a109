/* distance.c: squared distances between many vectors (nn/distance.h). */
#include "nn/distance.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>

void nn_sq_norms(const float *rows, int64_t n, int dim, float *out) {
    for (int64_t i = 0; i < n; i++) {
        const float *r = rows + i * dim;
        float s = 0;
        for (int k = 0; k < dim; k++) s += r[k] * r[k];
        out[i] = s;
    }
}

void nn_sq_distances(const float *a, const float *a_sq, int na, const float *b,
                     const float *b_sq, int nb, int dim, float *out) {
    if (na == 1) /* one probe: a matrix-vector product streams the templates once */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, nb, dim, -2.0f, b, dim, a, 1, 0.0f, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, na, nb, dim, -2.0f, a, dim, b, dim,
                    0.0f, out, nb);
    for (int i = 0; i < na; i++) {
        float *row = out + (size_t)i * nb;
        for (int j = 0; j < nb; j++) {
            float d = row[j] + a_sq[i] + b_sq[j];
            /* rounding can make identical vectors slightly negative; NaN (a non-finite value
             * that slipped through) is no match, never distance 0 */
            row[j] = d > 0 ? d : d <= 0 ? 0 : INFINITY;
        }
    }
}
