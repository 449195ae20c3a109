/* common.c: option parsing and output helpers shared by the subcommands. */
#include "cli.h"

#include <jansson.h>
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
    if (st != FR_OK) cli_fail(st);
    return st == FR_OK;
}

