/* run.c: see run.h. */
#define _DEFAULT_SOURCE /* wait4 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct buffer {
    char *data;
    size_t len, cap;
} buffer;

/* Append what fd has to read; returns 0 at end of file (or on an error). */
static int drain(int fd, buffer *b) {
    if (b->cap - b->len < 4096) {
        size_t cap = b->cap ? 2 * b->cap : 65536;
        char *data = realloc(b->data, cap);
        if (!data) return 0;
        b->data = data;
        b->cap = cap;
    }
    ssize_t got = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return 1;
    if (got <= 0) return 0;
    b->len += (size_t)got;
    return 1;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Make b a NUL-terminated string (empty if nothing was read). */
static char *finish(buffer *b, size_t *len) {
    if (!b->data) b->data = calloc(1, 1);
    else b->data[b->len] = '\0';
    *len = b->data ? b->len : 0;
    return b->data;
}

void test_run_free(test_run *r) {
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

int test_run_argv(test_run *r, const char *const *argv, double timeout_seconds) {
    test_run_free(r);
    r->status = -1;
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0) return r->status;
    if (pipe(err_pipe) != 0) {
        close(out_pipe[0]), close(out_pipe[1]);
        return r->status;
    }
    fflush(NULL); /* nothing buffered in the test is written twice */
    pid_t pid = fork();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) dup2(null_fd, 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]), close(out_pipe[1]), close(err_pipe[0]), close(err_pipe[1]);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out_pipe[1]), close(err_pipe[1]);
    buffer out = {0}, err = {0};
    if (pid > 0) {
        double deadline = now_seconds() + timeout_seconds;
        struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
        buffer *bufs[2] = {&out, &err};
        int open_fds = 2;
        while (open_fds > 0) {
            double left = deadline - now_seconds();
            if (left <= 0) {
                kill(pid, SIGKILL);
                r->timed_out = 1;
                break;
            }
            int ready = poll(fds, 2, (int)(left * 1000) + 1);
            if (ready < 0 && errno != EINTR) break;
            for (int i = 0; ready > 0 && i < 2; i++)
                if (fds[i].fd >= 0 && fds[i].revents && !drain(fds[i].fd, bufs[i])) {
                    fds[i].fd = -1; /* poll ignores it from now on */
                    open_fds--;
                }
        }
        /* the output is closed: the program ends, or is ended at the deadline */
        int st = 0;
        struct rusage ru;
        pid_t waited;
        while ((waited = wait4(pid, &st, WNOHANG, &ru)) == 0) {
            if (!r->timed_out && now_seconds() >= deadline) {
                kill(pid, SIGKILL);
                r->timed_out = 1;
            }
            struct timespec pause = {0, 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        if (waited == pid) {
            r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            r->max_rss_kb = ru.ru_maxrss;
        }
    }
    close(out_pipe[0]), close(err_pipe[0]);
    r->out = finish(&out, &r->out_len);
    r->err = finish(&err, &r->err_len);
    if (r->timed_out)
        fprintf(stderr, "  %s: killed after %.0f s\n", argv[0], timeout_seconds);
    return r->status;
}

int test_run_cli_args(test_run *r, const char *const *args) {
    size_t n = 0;
    while (args[n]) n++;
    const char **argv = malloc((n + 2) * sizeof *argv);
    if (!argv) {
        test_run_free(r);
        r->status = -1;
        return -1;
    }
    argv[0] = FR_TEST_CLI;
    memcpy(argv + 1, args, (n + 1) * sizeof *argv);
    int status = test_run_argv(r, argv, TEST_RUN_TIMEOUT);
    free(argv);
    return status;
}

int test_run_cli(test_run *r, ...) {
    const char *args[64];
    size_t n = 0;
    va_list ap;
    va_start(ap, r);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        if (n == sizeof args / sizeof args[0] - 1) {
            va_end(ap);
            fprintf(stderr, "  test_run_cli: more than %zu arguments\n", n);
            test_run_free(r);
            r->status = -1;
            return -1;
        }
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;
    return test_run_cli_args(r, args);
}

int test_run_cli_line(test_run *r, const char *line) {
    size_t n = 0;
    for (const char *p = line; *p; p++) n += *p == ' ';
    char *copy = strdup(line);
    const char **args = malloc((n + 2) * sizeof *args);
    int status = -1;
    if (copy && args) {
        size_t k = 0;
        for (char *save, *word = strtok_r(copy, " ", &save); word; word = strtok_r(NULL, " ", &save))
            args[k++] = word;
        args[k] = NULL;
        status = test_run_cli_args(r, args);
    } else {
        test_run_free(r);
        r->status = -1;
    }
    free(args);
    free(copy);
    return status;
}

int test_run_background(const char *const *argv) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd >= 0) dup2(null_fd, 0), dup2(null_fd, 1), dup2(null_fd, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid > 0 ? (int)pid : -1;
}

void test_run_background_end(int pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
}
