/* main.c: `facerec <command> [options]`, dispatched from one table. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const cli_command commands[] = {
    {"detect", "find faces (boxes, scores, landmarks) in images", cmd_detect},
    {"embed", "compute face embeddings", cmd_embed},
    {"enroll", "enroll people from photos or folders into the gallery", cmd_enroll},
    {"identify", "name the faces in images (or unknown)", cmd_identify},
    {"verify", "whether two images show the same person", cmd_verify},
    {"list", "list the enrolled people", cmd_list},
    {"remove", "remove enrolled people", cmd_remove},
    {"rename", "rename an enrolled person", cmd_rename},
    {"info", "the gallery's model, counts, calibration and thresholds", cmd_info},
    {"gallery", "copy a gallery between databases (SQLite, PostgreSQL), export, import", cmd_gallery},
    {"calibrate", "measure distance distributions on labeled photos for the thresholds", cmd_calibrate},
    {"train", "fine-tune the embedding on your own people (triplet loss)", cmd_train},
    {"watch", "recognise and greet people live from a camera, video file or stream", cmd_watch},
    {"serve", "an HTTP service and web page (our API and CompreFace's)", cmd_serve},
    {"serve-keys", "add, list or revoke the service's API keys", cmd_serve_keys},
    {"eval", "measure accuracy on LFW or a folder of people (verification, 1:N)", cmd_eval},
    {"import-keras-csv", "convert the original nn4.small2 CSV weights into a model file", cmd_import_keras_csv},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void print_help(FILE *f) {
    fprintf(f,
            "facerec %s: face detection and recognition\n\n"
            "usage: facerec <command> [options] [args]\n"
            "       facerec <command> --help\n"
            "       facerec --version\n\ncommands:\n",
            fr_version());
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("\n" CLI_EXIT_HELP, f);
}

int cli_exit_status(fr_status status) {
    switch (status) {
    case FR_OK: return CLI_OK;
    case FR_E_ARG:
    case FR_E_NOT_FOUND: return CLI_USAGE;
    case FR_E_NO_FACE: return CLI_NO_FACE;
    case FR_E_IO:
    case FR_E_FORMAT:
    case FR_E_LIMIT:
    case FR_E_INTERRUPTED: return CLI_E_INPUT;
    case FR_E_MODEL:
    case FR_E_UNSUPPORTED: return CLI_E_MODEL;
    case FR_E_DB:
    case FR_E_MISMATCH: return CLI_E_GALLERY;
    default: return CLI_E_OTHER;
    }
}

int cli_combine_status(int so_far, int next) {
    if (so_far != CLI_OK && so_far != CLI_NO_FACE) return so_far;
    if (next != CLI_OK && next != CLI_NO_FACE) return next;
    return so_far == CLI_NO_FACE ? so_far : next;
}

/* The message of the last cli_error ("" once printed): the command's own failures, which the
 * library's fr_last_error() does not hold. */
static char command_error[1024];

fr_status cli_error(fr_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(command_error, sizeof command_error, fmt, ap);
    va_end(ap);
    return status;
}

int cli_fail(fr_status status) {
    const char *msg = command_error[0] ? command_error : fr_last_error();
    fprintf(stderr, "facerec: %s\n", *msg ? msg : fr_status_name(status));
    command_error[0] = '\0';
    return cli_exit_status(status);
}

int cli_fail_file(const char *path, fr_status status) {
    const char *msg = fr_last_error();
    if (!*msg) msg = fr_status_name(status);
    if (strstr(msg, path)) fprintf(stderr, "facerec: %s\n", msg);
    else fprintf(stderr, "facerec: %s: %s\n", path, msg);
    return cli_exit_status(status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "facerec %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'facerec %s --help')\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("facerec %s (kernels: %s)\n", fr_version(), fr_kernel_level());
        return 0;
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "facerec: unknown command '%s' (see 'facerec --help')\n", argv[1]);
    return CLI_USAGE;
}
