/* distance.h: squared Euclidean distances between many vectors at once (not installed), for
 * the gallery's search and calibration and the evaluation's open-set identification, and the
 * kernels of the gallery's compressed scan (gallery/index.c). */
#ifndef FR_NN_DISTANCE_H
#define FR_NN_DISTANCE_H

#include <stdint.h>

/* out[i * nb + j] = ||a_i - b_j||^2 for a (na, dim) and b (nb, dim), row-major, through one
 * BLAS product (||a||^2 + ||b||^2 - 2 a.b; a_sq and b_sq are the squared norms). Clamped >= 0. */
void nn_sq_distances(const float *a, const float *a_sq, int na, const float *b,
                     const float *b_sq, int nb, int dim, float *out);
/* Squared norms of n rows of length dim. */
void nn_sq_norms(const float *rows, int64_t n, int dim, float *out);

/* The instruction-set levels the scan kernels below have variants for. */
typedef enum nn_isa { NN_ISA_GENERIC, NN_ISA_AVX2, NN_ISA_AVX512 } nn_isa;

/* The scan kernels of one instruction-set level. Every variant returns the same bits as the
 * others (integer sums; float sums in one fixed order), so a search gives the same answer
 * whichever runs. */
typedef struct nn_scan_kernels {
    nn_isa isa;
    const char *name; /* "avx512-vnni", "avx2", "generic" */
    /* ||a - b||^2 of two float vectors of length dim, summed in one fixed order: 16 partial
     * sums (element k goes to sum k mod 16, by fused multiply-add), then added pairwise
     * (s_l + s_{l+8}, then + 4, + 2, + 1). */
    float (*sq_distance)(const float *a, const float *b, int dim);
    /* out[j] = sum_k rows[j * stride + k] * probe[k] for k < n_bytes (a multiple of 64),
     * j < n_rows: unsigned 8-bit codes times signed 8-bit ones, exact in 32 bits. */
    void (*dot_u8s8)(const int8_t *probe, const uint8_t *rows, int64_t stride, int n_bytes,
                     int n_rows, int32_t *out);
} nn_scan_kernels;

/* The kernels for this CPU, chosen once: the highest level it supports, lowered by the
 * environment variable FACEREC_ISA ("avx2" or "generic"; a level the CPU lacks is not
 * raised to). */
const nn_scan_kernels *nn_scan_kernels_get(void);
/* The kernels of one level (NULL if this build or CPU cannot run it), for tests. */
const nn_scan_kernels *nn_scan_kernels_for(nn_isa isa);

#endif
