/* common.c: option parsing and output helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
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
        if (!(status = cli_int_option(cmd, "--threads", arg, 1, 256, &n))) fr_set_threads(n);
        break;
    case 0x107:
        if (!(status = cli_int_option(cmd, "--pad", arg, 0, 100000, &n))) cfg->box_pad = n;
        break;
    case 0x108: cfg->flip = 0; break;
    case 0x109:
        /* the engine checks the scale's range itself, naming it */
        if (!(status = cli_real_option(cmd, "--align-scale", arg, 0, 1, 100, &v)))
            cfg->align_scale = (float)v;
        break;
    default: return cli_usage_error(cmd, "unknown option");
    }
    return status;
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

void cli_json_face(FILE *f, const fr_face *face, int with_embedding) {
    fprintf(f, "{\"box\": [%.2f, %.2f, %.2f, %.2f], \"score\": %.5f", face->x, face->y, face->w,
            face->h, face->score);
    fputs(", \"landmarks\": [", f);
    for (int k = 0; k < face->n_landmarks; k++)
        fprintf(f, "%s[%.2f, %.2f]", k ? ", " : "", face->landmarks[k][0], face->landmarks[k][1]);
    fputc(']', f);
    if (with_embedding) {
        fputs(", \"embedding\": [", f);
        for (int k = 0; k < face->dim; k++) fprintf(f, "%s%.7g", k ? ", " : "", face->embedding[k]);
        fputc(']', f);
    }
    fputc('}', f);
}

int cli_load_image(const char *path, fr_image **img) {
    fr_status st = fr_image_load(path, img);
    return st == FR_OK ? CLI_OK : cli_fail(st);
}

void cli_json_image(FILE *f, const char *path, const fr_face *faces, int n, int with_embedding) {
    fputs("{\"image\": ", f);
    cli_json_string(f, path);
    fputs(", \"faces\": [", f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        cli_json_face(f, &faces[i], with_embedding);
    }
    fputs("]}\n", f);
}
