/* distance.h: squared Euclidean distances between many vectors at once (not installed), for
 * the calibration and the evaluation's open-set identification (the gallery's search has its
 * own kernels: nn_kernel_table.sq_distance and dot_u8s8, nn/kernels.h). */
#ifndef FR_NN_DISTANCE_H
#define FR_NN_DISTANCE_H

#include "common/common.h"

#include <stdint.h>

/* out[i * nb + j] = ||a_i - b_j||^2 for a (na, dim) and b (nb, dim), row-major, on up to
 * `threads` threads (the result does not depend on it). For na > 1 through one matrix
 * product, ||a||^2 + ||b||^2 - 2 a.b (a_sq and b_sq are the squared norms, nn_sq_norms); for
 * na == 1 by the difference itself (a_sq and b_sq unread). Clamped >= 0; NaN gives INFINITY
 * (no match). FR_E_NOMEM (nothing computed) when the scratch of na > 1 cannot be had. */
fr_status nn_sq_distances(int threads, const float *a, const float *a_sq, int na,
                          const float *b, const float *b_sq, int nb, int dim, float *out);
/* Squared norms of n rows of length dim. */
void nn_sq_norms(const float *rows, int64_t n, int dim, float *out);

#endif
