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

/* Exit statuses, the same for every command (README "Exit statuses", facerec --help). A
 * command that goes on past a failure (several images) exits with its first failure's
 * status, else CLI_NO_FACE if a photo had no face, else CLI_OK. */
enum {
    CLI_OK = 0,
    CLI_NO = 1,         /* the answer is no: verify, different people */
    CLI_USAGE = 2,      /* a bad request: an unknown option, a bad or missing argument or value,
                         * a name that does not exist (a gallery, a person, a voice) */
    CLI_NO_FACE = 3,    /* nothing to work on: a photo without a face, a folder without photos,
                         * a gallery with nobody enrolled */
    CLI_E_INPUT = 4,    /* a file, camera or stream that cannot be read or written, is
                         * malformed or too large, or went away */
    CLI_E_MODEL = 5,    /* a model missing, corrupt or unsupported */
    CLI_E_GALLERY = 6,  /* the gallery database locked, corrupt, or of another model */
    CLI_E_OTHER = 7,    /* out of memory, anything else */
    CLI_INTERRUPTED = 130 /* Ctrl-C (as a shell reports SIGINT) */
};
#define CLI_EXIT_HELP                                                                          \
    "exit status: 0 success; 1 the answer is no (verify: different people); 2 a bad request\n" \
    "(option, value, or a gallery, person or voice that does not exist); 3 nothing to work\n" \
    "on (a photo without a face, a folder without photos, nobody enrolled); 4 a file, camera\n" \
    "or stream unreadable, unwritable, malformed or lost; 5 a model missing or corrupt; 6 the\n" \
    "gallery locked, corrupt or of another model; 7 other errors; 130 interrupted (Ctrl-C).\n"
/* The status of a command over several inputs so far, given one more input's: the first
 * error's status, else CLI_NO_FACE if an input had no face, else CLI_OK. */
int cli_combine_status(int so_far, int next);
/* The exit status for a library failure (a CLI_E_*, CLI_USAGE or CLI_NO_FACE). */
int cli_exit_status(fr_status status);
/* Print "facerec: <message>" (the last cli_error's, else fr_last_error()) to stderr and return
 * cli_exit_status(status). */
int cli_fail(fr_status status);
/* A failure the command found itself rather than the library (e.g. out of memory in the
 * command's own buffers): kept as the message the next cli_fail prints. Returns status. */
#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLI_PRINTF(a, b)
#endif
fr_status cli_error(fr_status status, const char *fmt, ...) CLI_PRINTF(2, 3);
/* The same as cli_fail for a failure on one input file: the message names `path` (added if it
 * did not). */
int cli_fail_file(const char *path, fr_status status);
/* Print "facerec <cmd>: <message>" to stderr and return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);
/* Strict numbers for options: the whole of arg must be a finite number (an integer for
 * cli_int_option) in [lo, hi] (lo itself excluded when lo_open); otherwise a usage error
 * naming the option and the value is printed. Return CLI_OK or CLI_USAGE. */
int cli_real_option(const char *cmd, const char *option, const char *arg, double lo, int lo_open,
                    double hi, double *out);
int cli_int_option(const char *cmd, const char *option, const char *arg, long lo, long hi,
                   int *out);
/* "AxB" (e.g. --size 640x480), each a whole number in [lo, hi]; CLI_OK or CLI_USAGE. */
int cli_pair_option(const char *cmd, const char *option, const char *arg, long lo, long hi,
                    int *a, int *b);

/* Options shared by every command that runs the pipeline. Parse them in the default case of
 * a getopt_long loop's switch: cli_parse_engine_option() returns CLI_OK if opt was one of
 * them with a good value, else CLI_USAGE after printing why (a bad value, an unknown option). */
#define CLI_ENGINE_LONG_OPTIONS                                                                \
    {"models", required_argument, 0, 0x100}, {"detector", required_argument, 0, 0x101},        \
    {"model", required_argument, 0, 0x102}, {"align", required_argument, 0, 0x103},            \
    {"landmarks", required_argument, 0, 0x104}, {"min-score", required_argument, 0, 0x105},    \
    {"threads", required_argument, 0, 0x106}, {"pad", required_argument, 0, 0x107},    \
    {"no-flip", no_argument, 0, 0x108}, {"align-scale", required_argument, 0, 0x109},    \
    {"photometric", required_argument, 0, 0x10a}
#define CLI_ENGINE_HELP CLI_ENGINE_HELP_FOR(FR_DEFAULT_DETECTOR)
/* The same for a command whose default detector is another */
#define CLI_ENGINE_HELP_FOR(default_detector)                                                  \
    "  --models DIR        models folder (default: $FACEREC_MODELS, else the installed models)\n" \
    "  --detector NAME     face detector (default " default_detector "): mtcnn, ssd, blazeface,\n" \
    "                      blazeface-full, tiny or haar\n"                                  \
    "  --landmarks NAME    landmark net, when the detector's points do not suffice:\n"      \
    "                      68 (default) or 68tiny\n"                                        \
    "  --model NAME|FILE   embedding model: fusion (default: mobilefacenet + dlib-resnet),\n" \
    "                      mobilefacenet (the fastest), dlib-resnet, nn4small2, or a model\n" \
    "                      file (facerec import-keras-csv, facerec train)\n"               \
    "  --align NAME        alignment: dlib-chip, similarity or faceapi (default: the model's)\n" \
    "  --align-scale S     the face's size in a warped crop against the template's: 1.1 is\n" \
    "                      10% closer, 0.9 leaves more margin (default 1)\n"              \
    "  --min-score S       detection score threshold, 0 to 1 (default: the detector's)\n"              \
    "  --pad N             grow each detected box by N pixels on every side (default 0)\n"   \
    "  --photometric NAME  normalise each aligned face's lighting before embedding it: none\n" \
    "                      (default), histeq or tan-triggs\n"                             \
    "  --no-flip           embed the face alone, not also its mirror image: twice as fast,\n" \
    "                      a little less accurate\n"                                       \
    "  --threads N         threads per photo's networks, 1 to 256 (default: $FACEREC_THREADS\n" \
    "                      or all cores)\n"
int cli_parse_engine_option(const char *cmd, int opt, const char *arg, fr_config *cfg);

/* Write s as one CSV field: quoted (with its quotes doubled) when it holds a comma, a quote
 * or a line break, as RFC 4180 does. */
void cli_csv_field(FILE *f, const char *s);

/* JSON output, through jansson: what is printed is always valid JSON. */
typedef struct json_t json_t;
/* (Make strings with cli_json_text, never jansson's json_string: src/common/json.c has a
 * function of that name, which the linker takes from the static library first.) */
/* A string; bytes that are not valid UTF-8 (a file name may hold any) become U+FFFD. */
json_t *cli_json_text(const char *s);
/* A number; NaN and the infinities, which JSON cannot hold, become null. */
json_t *cli_json_num(double v);
/* Print v on one line and release it (NULL: out of memory); returns 0 after printing an
 * error if it could not be written. Numbers get 7 significant digits. */
int cli_json_print(FILE *f, json_t *v);
/* One face record (the embedding only if with_embedding; its "liveness" and "live" only if
 * liveness is not NULL). */
json_t *cli_json_face(const fr_face *face, int with_embedding, const float *liveness);
/* One line {"image": PATH, "faces": [...]} for an image's faces (liveness: NULL, or one score
 * per face); returns as cli_json_print. */
int cli_json_image(FILE *f, const char *path, const fr_face *faces, int n, int with_embedding,
                   const float *liveness);
/* Load an image; on failure print the error and return its exit status (else CLI_OK). */
int cli_load_image(const char *path, fr_image **img);

/* Shared by the gallery commands (cli/recognition.c). */
typedef struct cli_paths {
    char **items;
    int n, cap;
} cli_paths;
int cli_paths_add(cli_paths *list, const char *path); /* 0 when out of memory */
void cli_paths_free(cli_paths *list);
/* Whether a file name has an image extension (.jpg .jpeg .png .pgm .ppm .pnm .gif). */
int cli_is_image_name(const char *name);
int cli_is_dir(const char *path);
/* The images and the sub-folders directly in dir, each sorted (either list may be NULL).
 * Returns 0 after printing an error. */
int cli_list_folder(const char *dir, cli_paths *images, cli_paths *folders);
/* The last component of a path (in a static buffer). */
const char *cli_base_name(const char *path);
/* Liveness (cli/liveness.c): *scores (malloc'd, one per face) from fr_liveness; returns CLI_OK,
 * or on failure prints the error and returns its exit status. */
int cli_liveness(fr_engine *eng, const fr_image *img, const fr_face *faces, int n,
                 float **scores);
/* The plain output's liveness column: "  liveness 0.978 live" (or "attack"). */
void cli_print_liveness(float score);
/* The index of the largest face. */
int cli_largest_face(const fr_face *faces, int n);
/* Open the engine for a gallery: its model unless --model changed cfg->model away from
 * default_model; a gallery of another model is an error. Returns 0, or an exit status
 * after printing the error. */
int cli_open_engine_for_gallery(fr_config *cfg, const char *default_model, fr_gallery *g,
                                fr_engine **eng);
/* A progress bar on stderr when it is a terminal and the run has CLI_PROGRESS_MIN steps or
 * more; clear it before printing a line. */
#define CLI_PROGRESS_MIN 20
void cli_progress(int done, int total, const char *label);
void cli_progress_clear(void);

/* The photos of a folder of people (one sub-folder each), with the person index of each
 * photo. Returns CLI_OK, else prints why (as `facerec CMD: ...`) and returns CLI_E_INPUT (the
 * folder unreadable) or CLI_NO_FACE (fewer than two people with photos). */
typedef struct cli_people {
    cli_paths photos;
    int *labels;
    int n_people;
} cli_people;
int cli_list_people(const char *cmd, const char *dir, cli_people *set);
void cli_people_free(cli_people *set);

/* Commands, one file each (cli/cmd_*.c). */
int cmd_detect(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_identify(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_list(int argc, char **argv); /* cmd_manage.c: list, remove, rename, info */
int cmd_remove(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_gallery(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_watch(int argc, char **argv);
/* Run program_name, found beside this program (else on PATH), with first_arg (if not NULL)
 * and argv[1..]: the commands whose libraries stay out of `facerec` (serve, watch). Returns
 * only on failure, after printing why (exit status 1). */
int cli_run_beside(const char *program_name, const char *first_arg, int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_import_keras_csv(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* cmd_serve.c: runs facerec-serve */
int cmd_serve_keys(int argc, char **argv);

#endif
