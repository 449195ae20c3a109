/* common.c: option parsing and output helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <limits.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_real_option(const char *cmd, const char *option, const char *arg, double lo, int lo_open,
                    double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    /* strtod takes "nan", "inf" and overflows to HUGE_VAL: finiteness is checked too */
    if (end == arg || *end || errno == ERANGE || !isfinite(v) || (lo_open ? !(v > lo) : !(v >= lo)) ||
        !(v <= hi))
        return cli_usage_error(cmd, "%s: '%s' is not a number in %c%g, %g]", option, arg,
                               lo_open ? '(' : '[', lo, hi);
    *out = v;
    return CLI_OK;
}

int cli_int_option(const char *cmd, const char *option, const char *arg, long lo, long hi,
                   int *out) {
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || errno == ERANGE || v < lo || v > hi)
        return cli_usage_error(cmd, "%s: '%s' is not a whole number in [%ld, %ld]", option, arg,
                               lo, hi);
    *out = (int)v;
    return CLI_OK;
}

int cli_pair_option(const char *cmd, const char *option, const char *arg, long lo, long hi,
                    int *a, int *b) {
    char *x, *end;
    errno = 0;
    long va = strtol(arg, &x, 10), vb = 0;
    int ok = x != arg && *x == 'x' && errno != ERANGE && va >= lo && va <= hi;
    if (ok) {
        vb = strtol(x + 1, &end, 10);
        ok = end != x + 1 && !*end && errno != ERANGE && vb >= lo && vb <= hi;
    }
    if (!ok)
        return cli_usage_error(cmd, "%s: '%s' is not AxB with whole numbers A and B in [%ld, %ld]",
                               option, arg, lo, hi);
    *a = (int)va;
    *b = (int)vb;
    return CLI_OK;
}

int cli_parse_engine_option(const char *cmd, int opt, const char *arg, fr_config *cfg) {
    double v;
    int n, status = CLI_OK;
    switch (opt) {
    case 0x100: cfg->models_dir = arg; break;
    case 0x101: cfg->detector = arg; break;
    case 0x102: cfg->model = arg; break;
    case 0x103: cfg->align = arg; break;
    case 0x104: cfg->landmarks = arg; break;
    case 0x105:
        if (!(status = cli_real_option(cmd, "--min-score", arg, 0, 0, 1, &v))) cfg->min_score = (float)v;
        break;
    case 0x106:
        /* the worker pool's limit (nn/threads.c) */
        if (!(status = cli_int_option(cmd, "--threads", arg, 1, 256, &n))) cfg->threads = n;
        break;
    case 0x107:
        if (!(status = cli_int_option(cmd, "--pad", arg, 0, 100000, &n))) cfg->box_pad = n;
        break;
    case 0x108: cfg->flip = 0; break;
    case 0x10a: cfg->photometric = arg; break; /* the engine checks the name, naming it */
    case 0x109:
        /* the engine checks the scale's range itself, naming it */
        if (!(status = cli_real_option(cmd, "--align-scale", arg, 0, 1, 100, &v)))
            cfg->align_scale = (float)v;
        break;
    default: return cli_usage_error(cmd, "unknown option");
    }
    return status;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if there is none. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || len > n) return 0;
    unsigned long c = len == 1 ? s[0] : s[0] & (0x7Fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const unsigned long least[5] = {0, 0, 0x80, 0x800, 0x10000};
    return c >= least[len] && c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF) ? len : 0;
}

json_t *cli_json_text(const char *s) {
    size_t n = strlen(s), used = 0;
    char *clean = malloc(3 * n + 1);
    if (!clean) return NULL;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence((const unsigned char *)s + i, n - i);
        if (len) {
            memcpy(clean + used, s + i, len);
            used += len;
            i += len;
        } else { /* not valid UTF-8: the replacement character U+FFFD */
            memcpy(clean + used, "\xEF\xBF\xBD", 3);
            used += 3;
            i++;
        }
    }
    json_t *v = json_stringn(clean, used);
    free(clean);
    return v;
}

void cli_csv_field(FILE *f, const char *s) {
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

json_t *cli_json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

int cli_json_print(FILE *f, json_t *v) {
    int ok = v && json_dumpf(v, f, JSON_REAL_PRECISION(7)) == 0 && fputc('\n', f) != EOF;
    json_decref(v);
    if (!ok) fprintf(stderr, "facerec: out of memory or output error writing JSON\n");
    return ok;
}

/* An array of n numbers. */
static json_t *json_numbers(const float *values, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, cli_json_num(values[i]));
    return a;
}

json_t *cli_json_face(const fr_face *face, int with_embedding, const float *liveness) {
    json_t *o = json_object();
    if (!o) return NULL;
    const float box[4] = {face->x, face->y, face->w, face->h};
    json_object_set_new(o, "box", json_numbers(box, 4));
    json_object_set_new(o, "score", cli_json_num(face->score));
    json_t *points = json_array();
    for (int k = 0; points && k < face->n_landmarks; k++)
        json_array_append_new(points, json_numbers(face->landmarks[k], 2));
    json_object_set_new(o, "landmarks", points);
    if (with_embedding) json_object_set_new(o, "embedding", json_numbers(face->embedding, face->dim));
    if (liveness) {
        json_object_set_new(o, "liveness", cli_json_num(*liveness));
        json_object_set_new(o, "live", json_boolean(*liveness >= FR_LIVENESS_THRESHOLD));
    }
    return o;
}

int cli_json_image(FILE *f, const char *path, const fr_face *faces, int n, int with_embedding,
                   const float *liveness) {
    json_t *o = json_object(), *list = json_array();
    for (int i = 0; list && i < n; i++)
        json_array_append_new(list, cli_json_face(&faces[i], with_embedding,
                                                  liveness ? &liveness[i] : NULL));
    if (o) json_object_set_new(o, "image", cli_json_text(path));
    if (o) json_object_set_new(o, "faces", list);
    else json_decref(list);
    return cli_json_print(f, o);
}

int cli_load_image(const char *path, fr_image **img) {
    fr_status st = fr_image_load(path, img);
    return st == FR_OK ? CLI_OK : cli_fail(st);
}

/* ---- the programs installed beside facerec ---- */

int cli_run_beside(const char *program_name, const char *first_arg, int argc, char **argv) {
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
            snprintf(program, sizeof program, "%s%s", self, program_name);
        }
    }
    int n = 0;
    args[n++] = (char *)program_name;
    if (first_arg) args[n++] = (char *)first_arg;
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    args[n] = NULL;
    if (program[0] && access(program, X_OK) == 0) execv(program, args);
    execvp(program_name, args);
    fprintf(stderr, "facerec %s: cannot run %s (%s): it is installed beside facerec\n", argv[0],
            program_name, strerror(errno));
    free(args);
    return 1;
}
