/* run.h: run a program from a test: no shell (the arguments go as they are), stdin from
 * /dev/null, stdout and stderr captured apart, the exit status and peak memory, and a time
 * limit after which the program is killed. Every test that runs a command uses it. */
#ifndef FR_TEST_RUN_H
#define FR_TEST_RUN_H

#include <stddef.h>

typedef struct test_run {
    int status;      /* exit status; 128 + N if killed by signal N; -1 if it could not start */
    int timed_out;   /* 1 if it was killed at the time limit */
    char *out, *err; /* all it wrote, NUL-terminated ("" rather than NULL after a run) */
    size_t out_len, err_len;
    long max_rss_kb; /* the program's peak resident memory */
} test_run;

/* The time limit of test_run_cli*, in seconds: more than any command of the tests needs,
 * well under ctest's limit of a whole test program, so a hang is reported by the test. */
#define TEST_RUN_TIMEOUT 600

/* Run argv[0] (a path, or a name looked up in PATH) with argv (NULL-terminated). What r held
 * before is freed. Returns r->status. */
int test_run_argv(test_run *r, const char *const *argv, double timeout_seconds);
/* The facerec binary under test (FR_TEST_CLI) with args (NULL-terminated; the program name
 * not included). */
int test_run_cli_args(test_run *r, const char *const *args);
/* The same with the arguments listed, ending with NULL. */
int test_run_cli(test_run *r, ...);
/* The same with the arguments in one line, split at spaces (no quoting: for arguments without
 * spaces, as the tests' own paths are). */
int test_run_cli_line(test_run *r, const char *line);
void test_run_free(test_run *r);

/* Start a program in the background (a service a test needs, e.g. a stream server), stdin
 * and output on /dev/null; returns its process id, or -1. */
int test_run_background(const char *const *argv);
/* End a program test_run_background() started: SIGTERM, and wait for it. */
void test_run_background_end(int pid);

#endif
