/* watch_exec.c: `facerec watch` runs facerec-watch, installed beside this program: the same
 * front end with live recognition, whose FFmpeg, SDL2 and espeak-ng libraries (over 200
 * shared objects) would otherwise be loaded and relocated at the start of every command. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_watch(int argc, char **argv) {
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return 1;
    char self[PATH_MAX], program[PATH_MAX + 16];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    program[0] = '\0';
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            slash[1] = '\0';
            snprintf(program, sizeof program, "%sfacerec-watch", self);
        }
    }
    int n = 0;
    args[n++] = "facerec-watch";
    for (int i = 0; i < argc; i++) args[n++] = argv[i]; /* "watch" and its arguments */
    args[n] = NULL;
    if (program[0] && access(program, X_OK) == 0) execv(program, args);
    execvp("facerec-watch", args);
    fprintf(stderr, "facerec watch: cannot run facerec-watch (%s): it is installed beside facerec\n",
            strerror(errno));
    free(args);
    return 1;
}
