/* cli.h: shared pieces of the facerec command-line front end. The CLI parses arguments,
 * calls libfacerec and prints; it holds no vision logic. */
#ifndef FR_CLI_H
#define FR_CLI_H

#include "facerec.h"

#include <stdio.h>

/* One subcommand: `facerec NAME ...` calls run(argc, argv) with argv[0] = NAME. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* Print "facerec: <fr_last_error()>" to stderr and return the exit status for a failure. */
int cli_fail(fr_status status);
/* Print "facerec <cmd>: <message>" to stderr and return 2 (usage errors). */
int cli_usage_error(const char *cmd, const char *fmt, ...);

/* Options shared by every command that runs the pipeline. Parse with cli_parse_engine_option()
 * inside a getopt_long loop; returns 1 if the option was one of them. */
#define CLI_ENGINE_LONG_OPTIONS                                                                \
    {"models", required_argument, 0, 0x100}, {"detector", required_argument, 0, 0x101},        \
    {"model", required_argument, 0, 0x102}, {"align", required_argument, 0, 0x103},            \
    {"landmarks", required_argument, 0, 0x104}, {"min-score", required_argument, 0, 0x105},    \
    {"threads", required_argument, 0, 0x106}
#define CLI_ENGINE_HELP                                                                        \
    "  --models DIR        models folder (default: $FACEREC_MODELS, install prefix, source tree)\n" \
    "  --detector NAME     face detector: ssd (default) or tiny\n"                             \
    "  --landmarks NAME    landmark net: 68 (default) or 68tiny\n"                             \
    "  --model NAME        embedding model: dlib-resnet (default)\n"                           \
    "  --align NAME        alignment: faceapi (default)\n"                                     \
    "  --min-score S       detection score threshold (default: the detector's)\n"              \
    "  --threads N         worker threads (default: $FACEREC_THREADS or all cores)\n"
int cli_parse_engine_option(int opt, const char *arg, fr_config *cfg);

/* Commands, one file each (cli/cmd_*.c). */
int cmd_detect(int argc, char **argv);
int cmd_embed(int argc, char **argv);

#endif
