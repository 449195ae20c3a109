/* process.c: the one way the bench runs another program (process.h). */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Read fd to its end into a growing buffer; NULL when out of memory. */
static char *read_all(int fd, size_t *len) {
    size_t cap = 0;
    char *buf = NULL;
    *len = 0;
    for (;;) {
        if (*len + 4096 + 1 > cap) {
            size_t new_cap = cap ? cap * 2 : 16384;
            char *grown = realloc(buf, new_cap);
            if (!grown) {
                free(buf);
                return NULL;
            }
            buf = grown;
            cap = new_cap;
        }
        ssize_t got = read(fd, buf + *len, 4096);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        *len += (size_t)got;
    }
    buf[*len] = '\0';
    return buf;
}

int process_run(char *const argv[], int quiet, char **output) {
    int fds[2];
    if (output) *output = NULL;
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* only async-signal-safe calls here: the thread pool exists in the parent */
        int devnull = open("/dev/null", O_WRONLY);
        if (output) dup2(fds[1], STDOUT_FILENO);
        else if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
        if (quiet && devnull >= 0) dup2(devnull, STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len;
    char *text = read_all(fds[0], &len);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            free(text);
            return -1;
        }
    if (!text || !WIFEXITED(status)) {
        free(text);
        return -1;
    }
    if (output) *output = text;
    else free(text);
    return WEXITSTATUS(status);
}
