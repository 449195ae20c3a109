/* distance.h: squared Euclidean distances between many vectors at once (not installed), for
 * the calibration and the evaluation's open-set identification (the gallery's search has its
 * own kernels: nn_kernel_table.sq_distance and dot_u8s8, nn/kernels.h). */
#ifndef FR_NN_DISTANCE_H
#define FR_NN_DISTANCE_H

#include <stdint.h>

/* out[i * nb + j] = ||a_i - b_j||^2 for a (na, dim) and b (nb, dim), row-major, through one
 * BLAS product (||a||^2 + ||b||^2 - 2 a.b; a_sq and b_sq are the squared norms). Clamped >= 0. */
void nn_sq_distances(const float *a, const float *a_sq, int na, const float *b,
                     const float *b_sq, int nb, int dim, float *out);
/* Squared norms of n rows of length dim. */
void nn_sq_norms(const float *rows, int64_t n, int dim, float *out);

#endif
