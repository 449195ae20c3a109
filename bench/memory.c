/* memory.c: the machine's memory read bandwidth, the limit of a search that streams every
 * template once (bench.h). */
#include "bench.h"

#include "common/common.h"
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

/* 1 GiB: far larger than any cache, and near the 1.28 GB of a million float32 templates */
#define BUFFER_WORDS ((size_t)1 << 27)
#define PASSES 5

typedef struct read_job {
    const uint64_t *words;
    size_t per_task;
    uint64_t sums[64];
} read_job;

/* Sum a slice with four independent chains, so that the loads, not the adds, set the pace. */
static void read_task(void *ctx, int t) {
    read_job *job = ctx;
    const uint64_t *w = job->words + (size_t)t * job->per_task;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < job->per_task; i += 4) {
        s0 += w[i];
        s1 += w[i + 1];
        s2 += w[i + 2];
        s3 += w[i + 3];
    }
    job->sums[t] = s0 + s1 + s2 + s3;
}

double read_bandwidth_gbs(int threads) {
    size_t bytes = BUFFER_WORDS * sizeof(uint64_t);
    uint64_t *words = nn_alloc_huge(&bytes);
    if (!words) return 0;
    memset(words, 1, BUFFER_WORDS * sizeof(uint64_t));
    read_job job = {words, BUFFER_WORDS / (size_t)threads, {0}};
    double best = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        double start = now_ms();
        nn_parallel_for(threads, threads, read_task, &job);
        double ms = now_ms() - start;
        /* the sums are kept, so the reads cannot be left out */
        if (job.sums[0] != 0 && ms > 0) best = FR_MAX(best, BUFFER_WORDS * sizeof(uint64_t) / ms / 1e6);
    }
    free(words);
    return best;
}
