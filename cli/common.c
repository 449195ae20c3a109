/* common.c: option parsing and output helpers shared by the subcommands. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_engine_option(int opt, const char *arg, fr_config *cfg) {
    switch (opt) {
    case 0x100: cfg->models_dir = arg; return 1;
    case 0x101: cfg->detector = arg; return 1;
    case 0x102: cfg->model = arg; return 1;
    case 0x103: cfg->align = arg; return 1;
    case 0x104: cfg->landmarks = arg; return 1;
    case 0x105: cfg->min_score = strtof(arg, NULL); return 1;
    case 0x106: cfg->threads = atoi(arg); return 1;
    case 0x107: cfg->box_pad = atoi(arg); return 1;
    case 0x108: cfg->flip = 0; return 1;
    case 0x109: {
        char *end;
        cfg->align_scale = strtof(arg, &end);
        if (end == arg || *end) cfg->align_scale = NAN; /* the engine refuses it, by value */
        return 1;
    }
    default: return 0;
    }
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
    if (st != FR_OK) cli_fail(st);
    return st == FR_OK;
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
