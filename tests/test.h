/* test.h: a minimal test harness. Each tests/test_*.c is one program; TEST(name) defines a
 * case, main() comes from TEST_MAIN(). A failed CHECK prints file:line and fails the case. */
#ifndef FR_TEST_H
#define FR_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct test_case { const char *name; void (*fn)(void); } test_case;

extern int test_failures_;
extern const char *test_current_;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,          \
                    test_current_, #cond);                                                 \
            test_failures_++;                                                              \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* Checks that a facerec call returned FR_OK, printing fr_last_error() if not. */
#define CHECK_OK(call)                                                                     \
    do {                                                                                   \
        fr_status st_ = (call);                                                            \
        if (st_ != FR_OK) {                                                                \
            fprintf(stderr, "%s:%d: %s: %s returned %d: %s\n", __FILE__, __LINE__,         \
                    test_current_, #call, (int)st_, fr_last_error());                      \
            test_failures_++;                                                              \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double a_ = (a), b_ = (b);                                                         \
        if (!(fabs(a_ - b_) <= (tol))) {                                                   \
            fprintf(stderr, "%s:%d: %s: %s = %g, %s = %g, differ by more than %g\n",       \
                    __FILE__, __LINE__, test_current_, #a, a_, #b, b_, (double)(tol));     \
            test_failures_++;                                                              \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* Skip the current case with a reason (e.g. shared data absent). */
#define SKIP(...)                                                                          \
    do {                                                                                   \
        printf("  skip %s: ", test_current_);                                              \
        printf(__VA_ARGS__);                                                               \
        printf("\n");                                                                      \
        return;                                                                            \
    } while (0)

#define TEST(name) static void name(void)

#define TEST_MAIN(...)                                                                     \
    int test_failures_ = 0;                                                                \
    const char *test_current_ = "";                                                        \
    int main(void) {                                                                       \
        test_case cases_[] = {__VA_ARGS__};                                                \
        int n_ = (int)(sizeof cases_ / sizeof cases_[0]), failed_ = 0;                     \
        for (int i_ = 0; i_ < n_; i_++) {                                                  \
            int before_ = test_failures_;                                                  \
            test_current_ = cases_[i_].name;                                               \
            cases_[i_].fn();                                                               \
            int ok_ = test_failures_ == before_;                                           \
            failed_ += !ok_;                                                               \
            printf("%s %s\n", ok_ ? "  ok  " : "  FAIL", cases_[i_].name);                 \
        }                                                                                  \
        printf("%d of %d cases passed\n", n_ - failed_, n_);                               \
        return failed_ ? 1 : 0;                                                            \
    }
#define CASE(fn) {#fn, fn}

/* The thread count the tests run the networks' ops on (ops take it per call; results do
 * not depend on it, which test_nn_ops and test_runtime check). */
#define TEST_THREADS 2

/* Whether a file (or folder) exists. */
static inline int test_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Remove a gallery database and its WAL and shared-memory files, if there. */
static inline void test_remove_db(const char *path) {
    char extra[4096];
    remove(path);
    snprintf(extra, sizeof extra, "%s-wal", path);
    remove(extra);
    snprintf(extra, sizeof extra, "%s-shm", path);
    remove(extra);
}

/* A fresh database path <scratch folder>/<name>.db (any earlier file and its WAL removed). */
static inline const char *test_fresh_db(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.db", FR_TEST_TMP_DIR, name);
    test_remove_db(path);
    return path;
}

/* Paths given by CMake: the shared data folder (may be absent), the models folder and a
 * scratch folder for files the tests write. */
#ifndef FR_TEST_DATA_DIR
#define FR_TEST_DATA_DIR ""
#endif

#endif
