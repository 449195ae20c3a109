/* distance.c: squared distances between many vectors (nn/distance.h), and the kernels of the
 * gallery's compressed scan in one variant per instruction-set level. */
#include "nn/distance.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1
#endif

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

/* ---- generic C: the reference every variant matches bit for bit ------------------------- */

/* The pairwise sum of 16 partial sums: (s_l + s_{l+8}), then + 4, + 2, + 1. */
static float sum16(float s[16]) {
    for (int width = 8; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) s[l] += s[l + width];
    return s[0];
}

static float sq_distance_generic(const float *a, const float *b, int dim) {
    float s[16] = {0};
    for (int k = 0; k < dim; k++) {
        float d = a[k] - b[k];
        s[k % 16] = fmaf(d, d, s[k % 16]);
    }
    return sum16(s);
}

static void dot_u8s8_generic(const int8_t *probe, const uint8_t *rows, int64_t stride,
                             int n_bytes, int n_rows, int32_t *out) {
    for (int j = 0; j < n_rows; j++) {
        const uint8_t *r = rows + j * stride;
        int32_t s = 0;
        for (int k = 0; k < n_bytes; k++) s += (int32_t)r[k] * probe[k];
        out[j] = s;
    }
}

static const nn_scan_kernels generic_kernels = {NN_ISA_GENERIC, "generic", sq_distance_generic,
                                                dot_u8s8_generic};

#ifdef HAVE_X86_KERNELS

/* ---- AVX2 + FMA ------------------------------------------------------------------------- */

/* s_l + s_{l+4}, + 2, + 1 of 8 sums (the last three steps of sum16). */
__attribute__((target("avx2,fma"))) static float sum8_avx(__m256 s8) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* Lanes 0-7 and 8-15 of the 16 partial sums in two registers. */
__attribute__((target("avx2,fma"))) static float sq_distance_avx2(const float *a, const float *b,
                                                                  int dim) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= dim; k += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8));
        lo = _mm256_fmadd_ps(d0, d0, lo);
        hi = _mm256_fmadd_ps(d1, d1, hi);
    }
    if (k < dim) { /* the lanes past the end load 0 and add 0 * 0: their sums stay as they are */
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(dim - k), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(dim - k - 8), lane);
        __m256 d0 = _mm256_sub_ps(_mm256_maskload_ps(a + k, m0), _mm256_maskload_ps(b + k, m0));
        __m256 d1 = _mm256_sub_ps(_mm256_maskload_ps(a + k + 8, m1),
                                  _mm256_maskload_ps(b + k + 8, m1));
        lo = _mm256_fmadd_ps(d0, d0, lo);
        hi = _mm256_fmadd_ps(d1, d1, hi);
    }
    return sum8_avx(_mm256_add_ps(lo, hi));
}

__attribute__((target("avx2,fma"))) static void dot_u8s8_avx2(const int8_t *probe,
                                                              const uint8_t *rows, int64_t stride,
                                                              int n_bytes, int n_rows,
                                                              int32_t *out) {
    for (int j = 0; j < n_rows; j++) {
        const uint8_t *r = rows + j * stride;
        __m256i acc = _mm256_setzero_si256();
        for (int k = 0; k < n_bytes; k += 16) {
            __m256i u = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(r + k)));
            __m256i s = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(probe + k)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(u, s));
        }
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
        out[j] = _mm_cvtsi128_si32(s4);
    }
}

static const nn_scan_kernels avx2_kernels = {NN_ISA_AVX2, "avx2", sq_distance_avx2,
                                             dot_u8s8_avx2};

/* ---- AVX-512 (F, BW, VNNI) ---------------------------------------------------------------- */

#define AVX512_TARGET "avx512f,avx512bw,avx512vnni,avx2,fma"

__attribute__((target(AVX512_TARGET))) static float sq_distance_avx512(const float *a,
                                                                      const float *b, int dim) {
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= dim; k += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k));
        acc = _mm512_fmadd_ps(d, d, acc);
    }
    if (k < dim) {
        __mmask16 m = (__mmask16)((1u << (dim - k)) - 1);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k));
        acc = _mm512_fmadd_ps(d, d, acc);
    }
    __m256 lo = _mm512_castps512_ps256(acc);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    return sum8_avx(_mm256_add_ps(lo, hi));
}

/* Four rows at a time, so that their loads overlap; vpdpbusd multiplies 64 byte pairs. */
__attribute__((target(AVX512_TARGET))) static void dot_u8s8_avx512(const int8_t *probe,
                                                                  const uint8_t *rows,
                                                                  int64_t stride, int n_bytes,
                                                                  int n_rows, int32_t *out) {
    int j = 0;
    for (; j + 4 <= n_rows; j += 4) {
        const uint8_t *r = rows + j * stride;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < n_bytes; k += 64) {
            __m512i p = _mm512_loadu_si512(probe + k);
            a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(r + k), p);
            a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(r + stride + k), p);
            a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512(r + 2 * stride + k), p);
            a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512(r + 3 * stride + k), p);
        }
        out[j] = _mm512_reduce_add_epi32(a0);
        out[j + 1] = _mm512_reduce_add_epi32(a1);
        out[j + 2] = _mm512_reduce_add_epi32(a2);
        out[j + 3] = _mm512_reduce_add_epi32(a3);
    }
    for (; j < n_rows; j++) {
        const uint8_t *r = rows + j * stride;
        __m512i a0 = _mm512_setzero_si512();
        for (int k = 0; k < n_bytes; k += 64)
            a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(r + k), _mm512_loadu_si512(probe + k));
        out[j] = _mm512_reduce_add_epi32(a0);
    }
}

static const nn_scan_kernels avx512_kernels = {NN_ISA_AVX512, "avx512-vnni", sq_distance_avx512,
                                               dot_u8s8_avx512};

#endif

/* ---- choosing ----------------------------------------------------------------------------- */

const nn_scan_kernels *nn_scan_kernels_for(nn_isa isa) {
#ifdef HAVE_X86_KERNELS
    __builtin_cpu_init();
    if (isa == NN_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vnni")
                   ? &avx512_kernels
                   : NULL;
    if (isa == NN_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &avx2_kernels
                                                                               : NULL;
#endif
    return isa == NN_ISA_GENERIC ? &generic_kernels : NULL;
}

static const nn_scan_kernels *chosen_kernels;

static void choose_kernels(void) {
    nn_isa highest = NN_ISA_AVX512;
    const char *forced = getenv("FACEREC_ISA");
    if (forced && !strcmp(forced, "avx2")) highest = NN_ISA_AVX2;
    else if (forced && !strcmp(forced, "generic")) highest = NN_ISA_GENERIC;
    for (int isa = highest; isa >= NN_ISA_GENERIC && !chosen_kernels; isa--)
        chosen_kernels = nn_scan_kernels_for((nn_isa)isa);
}

const nn_scan_kernels *nn_scan_kernels_get(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, choose_kernels);
    return chosen_kernels;
}
