/* common.h: internal helpers shared by every part of libfacerec (not installed). */
#ifndef FR_COMMON_H
#define FR_COMMON_H

#include "facerec.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define FR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FR_PRINTF(a, b)
#endif

/* Record a failure for fr_last_error() and return its status, so that callers write
 *   return fr_error(FR_E_FORMAT, "%s: truncated PNG data", name);            */
fr_status fr_error(fr_status status, const char *fmt, ...) FR_PRINTF(2, 3);

/* Prefix the current error message: "context: <previous message>". Returns status. */
fr_status fr_error_prefix(fr_status status, const char *fmt, ...) FR_PRINTF(2, 3);

/* The one logging function of the library: goes to the callback of fr_set_log(). */
void fr_log(fr_log_level level, const char *fmt, ...) FR_PRINTF(2, 3);

/* Read a whole file into memory (refusing files over max_bytes). Free *data with free(). */
fr_status fr_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size);

/* Resolve a model file: `relpath` (e.g. "face-api/model/ssd_mobilenetv1_model-weights_manifest.json")
 * under the models directory chosen by `models_dir` (may be NULL), $FACEREC_MODELS, the install
 * prefix or the source tree, in that order. Writes the full path to out (size outsz). */
fr_status fr_model_path(const char *models_dir, const char *relpath, char *out, size_t outsz);

/* Resolve a data file shipped with facerec (e.g. "calibration/dlib-resnet.txt") under the
 * install prefix's share/facerec, then the source tree's data/ folder: the first that holds
 * it. FR_E_NOT_FOUND if neither does. Writes the full path to out (size outsz). */
fr_status fr_data_path(const char *relpath, char *out, size_t outsz);

/* Overflow-checked size arithmetic: returns 0 on overflow. */
static inline int fr_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* Sort n items of `size` bytes by cmp, stably (equal items keep their order: the order
 * glibc's qsort gives, which is a merge sort too), with scratch of n * size bytes from the
 * caller, so that nothing is allocated (glibc's qsort mallocs above 1 kB). */
void sort_stable(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *),
                 void *scratch);

#define FR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FR_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FR_CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))

#endif
