/* cmd_serve.c: facerec serve and facerec serve-keys run the service's own program,
 * facerec-serve (serve/), installed beside this one: the HTTP front end and its libraries
 * (libmicrohttpd, jansson) stay out of the command line. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run_serve(const char *subcommand, int argc, char **argv) {
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
            snprintf(program, sizeof program, "%sfacerec-serve", self);
        }
    }
    int n = 0;
    args[n++] = "facerec-serve";
    if (subcommand) args[n++] = (char *)subcommand;
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    args[n] = NULL;
    if (program[0] && access(program, X_OK) == 0) execv(program, args);
    execvp("facerec-serve", args);
    fprintf(stderr, "facerec %s: cannot run facerec-serve (%s): it is installed beside facerec\n",
            argv[0], strerror(errno));
    free(args);
    return 1;
}

int cmd_serve(int argc, char **argv) { return run_serve(NULL, argc, argv); }
int cmd_serve_keys(int argc, char **argv) { return run_serve("keys", argc, argv); }
