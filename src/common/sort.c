/* sort.c: sort_stable, a top-down merge sort into the caller's scratch. */
#include "common/common.h"

#include <string.h>

/* Sorts a[0..n) using tmp (n * size bytes). */
static void merge_sort(unsigned char *a, unsigned char *tmp, size_t n, size_t size,
                       int (*cmp)(const void *, const void *)) {
    if (n < 2) return;
    size_t half = n / 2;
    merge_sort(a, tmp, half, size, cmp);
    merge_sort(a + half * size, tmp, n - half, size, cmp);
    unsigned char *left = a, *left_end = a + half * size;
    unsigned char *right = left_end, *right_end = a + n * size, *out = tmp;
    while (left < left_end && right < right_end) {
        /* from the right only when strictly smaller: equal items keep their order */
        unsigned char **from = cmp(right, left) < 0 ? &right : &left;
        memcpy(out, *from, size);
        *from += size;
        out += size;
    }
    size_t rest = (size_t)(left_end - left);
    memcpy(out, left, rest);
    out += rest;
    /* what remains on the right is already in place after the merged part */
    memcpy(a, tmp, (size_t)(out - tmp));
}

void sort_stable(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *),
                 void *scratch) {
    merge_sort(base, scratch, n, size, cmp);
}
