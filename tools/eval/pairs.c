/* pairs.c: verification protocols: LFW pairs files and pairs drawn from a labeled folder. */
#include "eval/eval.h"

#include "common/common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pairs files are small (pairs.txt is 100 kB). */
#define PAIRS_MAX_FILE_BYTES (64u * 1024u * 1024u)
#define PAIRS_MAX_FIELDS 4

/* A pair before its image paths are resolved to indices into the image list. */
typedef struct named_pair {
    char *a, *b; /* image paths */
    int same, fold;
} named_pair;

/* Split a line into whitespace-separated fields in place; returns how many (at most max,
 * one more meaning "too many"). */
static int split_fields(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') *p++ = '\0';
        if (!*p) return n;
        if (n == max) return max + 1;
        fields[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r') p++;
    }
}

/* A positive decimal int, or 0 if the text is not one. */
static int parse_positive(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v <= 0 || v > INT_MAX) return 0;
    return (int)v;
}

/* dir/name/name_iiii.jpg, or NULL when out of memory. */
static char *image_path(const char *dir, const char *name, int index) {
    size_t len = strlen(dir) + 2 * strlen(name) + 32;
    char *path = malloc(len);
    if (path) snprintf(path, len, "%s/%s/%s_%04d.jpg", dir, name, name, index);
    return path;
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find_image(const eval_protocol *p, const char *path) {
    char *const *hit = bsearch(&path, p->images, (size_t)p->n_images, sizeof *p->images,
                               compare_paths);
    return (int)(hit - p->images);
}

/* Merge the new pairs into the protocol: the image list becomes the sorted union of the old
 * images and the new pairs' images (whose strings move into it, duplicates freed), and every
 * pair's indices are renumbered by path. */
static fr_status add_pairs(eval_protocol *p, named_pair *add, int n_add, const char *file) {
    size_t n_all = (size_t)p->n_pairs + (size_t)n_add;
    size_t n_strings = (size_t)p->n_images + 2 * (size_t)n_add;
    named_pair *all = malloc(n_all * sizeof *all);
    eval_pair *pairs = malloc(n_all * sizeof *pairs);
    char **images = malloc(n_strings * sizeof *images);
    char **duplicates = malloc(n_strings * sizeof *duplicates);
    if (!all || !pairs || !images || !duplicates) {
        free(all);
        free(pairs);
        free(images);
        free(duplicates);
        return fr_error(FR_E_NOMEM, "%s: out of memory reading the pairs", file);
    }
    for (int i = 0; i < p->n_pairs; i++)
        all[i] = (named_pair){p->images[p->pairs[i].a], p->images[p->pairs[i].b],
                              p->pairs[i].same, p->pairs[i].fold};
    memcpy(all + p->n_pairs, add, (size_t)n_add * sizeof *add);
    size_t n = 0, n_unique = 0, n_duplicates = 0;
    for (int i = 0; i < p->n_images; i++) images[n++] = p->images[i];
    for (int i = 0; i < n_add; i++) {
        images[n++] = add[i].a;
        images[n++] = add[i].b;
    }
    qsort(images, n, sizeof *images, compare_paths);
    for (size_t i = 0; i < n; i++) {
        if (n_unique > 0 && !strcmp(images[n_unique - 1], images[i]))
            duplicates[n_duplicates++] = images[i];
        else
            images[n_unique++] = images[i];
    }
    free(p->images);
    free(p->pairs);
    p->images = images;
    p->n_images = (int)n_unique;
    p->pairs = pairs;
    p->n_pairs = (int)n_all;
    /* lookups compare strings, so the duplicates are freed only after them */
    for (size_t i = 0; i < n_all; i++)
        pairs[i] = (eval_pair){find_image(p, all[i].a), find_image(p, all[i].b), all[i].same,
                               all[i].fold};
    for (size_t i = 0; i < n_duplicates; i++) free(duplicates[i]);
    free(duplicates);
    free(all);
    return FR_OK;
}

/* The parse of one pairs file; owns the path strings until they move into the protocol. */
typedef struct pairs_reader {
    const char *file;
    const char *dir;
    named_pair *pairs;
    int n, cap;
} pairs_reader;

/* A person's folder inside the data folder: no path of its own, nothing above it. */
static int is_folder_name(const char *name) {
    return !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static fr_status reader_add(pairs_reader *r, int line, char **f, int same, int fold) {
    int i = parse_positive(f[1]);
    int j = parse_positive(same ? f[2] : f[3]);
    if (!i || !j)
        return fr_error(FR_E_FORMAT, "%s:%d: image numbers must be positive integers", r->file,
                        line);
    const char *bad = !is_folder_name(f[0]) ? f[0] : !same && !is_folder_name(f[2]) ? f[2] : NULL;
    if (bad)
        return fr_error(FR_E_FORMAT, "%s:%d: '%s' is not a person's folder name (no '/', not "
                        "'.' or '..')", r->file, line, bad);
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 1024;
        named_pair *grown = realloc(r->pairs, (size_t)cap * sizeof *grown);
        if (!grown) return fr_error(FR_E_NOMEM, "%s: out of memory reading the pairs", r->file);
        r->pairs = grown;
        r->cap = cap;
    }
    named_pair *np = &r->pairs[r->n];
    np->a = image_path(r->dir, f[0], i);
    np->b = image_path(r->dir, same ? f[0] : f[2], j);
    np->same = same;
    np->fold = fold;
    r->n++;
    if (!np->a || !np->b) return fr_error(FR_E_NOMEM, "%s: out of memory reading the pairs", r->file);
    return FR_OK;
}

static void reader_free(pairs_reader *r) {
    for (int i = 0; i < r->n; i++) {
        free(r->pairs[i].a);
        free(r->pairs[i].b);
    }
    free(r->pairs);
}

fr_status eval_protocol_read_pairs(const char *path, const char *dir, eval_protocol *protocol,
                                   int *view) {
    if (!path || !dir || !protocol || !view)
        return fr_error(FR_E_ARG, "eval_protocol_read_pairs: NULL argument");
    uint8_t *data;
    size_t size;
    fr_status st = fr_read_file(path, PAIRS_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    char *text = realloc(data, size + 1);
    if (!text) {
        free(data);
        return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    }
    text[size] = '\0';

    pairs_reader r = {path, dir, NULL, 0, 0};
    int n_folds = 0, per_fold = 0, expected = 0, line_no = 0, last_line = 1;
    char *line = text, *fields[PAIRS_MAX_FIELDS];
    while (st == FR_OK && line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        int n_fields = split_fields(line, fields, PAIRS_MAX_FIELDS);
        if (n_fields > 0) last_line = line_no;
        if (line_no == 1) {
            /* the header: "N" (View 1) or "K N" (View 2) */
            if (n_fields == 1 && (per_fold = parse_positive(fields[0]))) {
                n_folds = 1;
                *view = 1;
            } else if (n_fields == 2 && (n_folds = parse_positive(fields[0])) &&
                       (per_fold = parse_positive(fields[1]))) {
                *view = 2;
            } else {
                st = fr_error(FR_E_FORMAT, "%s:1: the first line must be the pair count \"N\" "
                              "(View 1) or \"FOLDS<TAB>N\" (View 2)", path);
                break;
            }
            if (n_folds + protocol->n_folds > EVAL_MAX_FOLDS ||
                (int64_t)n_folds * per_fold * 2 > INT_MAX / 2) {
                st = fr_error(FR_E_LIMIT, "%s:1: %d folds of %d pairs is more than supported",
                              path, n_folds, per_fold);
                break;
            }
            expected = 2 * n_folds * per_fold;
        } else if (n_fields == 0) {
            /* blank lines (e.g. at the end) are skipped */
        } else if (r.n == expected) {
            st = fr_error(FR_E_FORMAT, "%s:%d: more pairs than the %d announced on line 1", path,
                          line_no, expected);
        } else {
            /* within each fold, per_fold matched pairs come first, then per_fold mismatched */
            int same = (r.n % (2 * per_fold)) < per_fold;
            int fold = protocol->n_folds + r.n / (2 * per_fold);
            if (n_fields != (same ? 3 : 4))
                st = fr_error(FR_E_FORMAT, "%s:%d: expected a %s pair (%s), found %d field%s",
                              path, line_no, same ? "matched" : "mismatched",
                              same ? "name i j" : "name1 i name2 j", n_fields,
                              n_fields == 1 ? "" : "s");
            else
                st = reader_add(&r, line_no, fields, same, fold);
        }
        line = next;
    }
    if (st == FR_OK && r.n < expected)
        st = fr_error(FR_E_FORMAT, "%s:%d: the file ends after %d pairs, line 1 announced %d",
                      path, last_line, r.n, expected);
    free(text);
    if (st == FR_OK) st = add_pairs(protocol, r.pairs, r.n, path);
    if (st == FR_OK) {
        protocol->n_folds += n_folds;
        free(r.pairs); /* the strings now belong to the protocol */
    } else {
        reader_free(&r);
    }
    return st;
}

void eval_protocol_free(eval_protocol *protocol) {
    if (!protocol) return;
    for (int i = 0; i < protocol->n_images; i++) free(protocol->images[i]);
    free(protocol->images);
    free(protocol->pairs);
    memset(protocol, 0, sizeof *protocol);
}

/* ---- pairs from a labeled folder ------------------------------------------------------- */

uint64_t eval_random_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t random_below(uint64_t *state, uint64_t n) { return eval_random_next(state) % n; }

static int compare_pairs(const void *x, const void *y) {
    const eval_pair *a = x, *b = y;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

/* Shuffle and deal into folds. */
static void deal_folds(eval_pair *pairs, int n, int n_folds, uint64_t *state) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)random_below(state, (uint64_t)i + 1);
        eval_pair t = pairs[i];
        pairs[i] = pairs[j];
        pairs[j] = t;
    }
    for (int i = 0; i < n; i++) pairs[i].fold = i % n_folds;
}

fr_status eval_folder_pairs(const int *labels, int n_images, int *n_folds, uint64_t seed,
                            eval_pair **pairs, int *n_pairs) {
    *pairs = NULL;
    *n_pairs = 0;
    if (*n_folds < 1 || *n_folds > EVAL_MAX_FOLDS)
        return fr_error(FR_E_ARG, "eval_folder_pairs: %d folds (1 to %d)", *n_folds,
                        EVAL_MAX_FOLDS);
    int64_t n_genuine = 0, n_impostor = 0;
    for (int i = 0; i < n_images; i++)
        for (int j = i + 1; j < n_images; j++) {
            if (labels[i] == labels[j]) n_genuine++;
            else n_impostor++;
        }
    if (n_genuine == 0 || n_impostor == 0)
        return fr_error(FR_E_ARG, "the folder needs two people and someone with two images "
                        "(found %lld same-person and %lld different-person pairs)",
                        (long long)n_genuine, (long long)n_impostor);
    int64_t want_impostor = FR_MIN(n_genuine, n_impostor);
    if (want_impostor < *n_folds) *n_folds = (int)want_impostor;
    if (n_genuine + want_impostor > INT_MAX / 2)
        return fr_error(FR_E_LIMIT, "%lld same-person pairs is more than supported",
                        (long long)n_genuine);
    int n_total = (int)(n_genuine + want_impostor);
    eval_pair *all = malloc((size_t)n_total * sizeof *all);
    if (!all) return fr_error(FR_E_NOMEM, "out of memory making %d pairs", n_total);
    int n = 0;
    for (int i = 0; i < n_images; i++)
        for (int j = i + 1; j < n_images; j++)
            if (labels[i] == labels[j]) all[n++] = (eval_pair){i, j, 1, 0};
    eval_pair *impostors = all + n_genuine;
    int n_drawn = 0;
    uint64_t state = seed;
    if (want_impostor == n_impostor) {
        for (int i = 0; i < n_images; i++)
            for (int j = i + 1; j < n_images; j++)
                if (labels[i] != labels[j]) impostors[n_drawn++] = (eval_pair){i, j, 0, 0};
    } else {
        /* draw what is missing, drop repeats, until there are enough distinct pairs */
        while (n_drawn < want_impostor) {
            while (n_drawn < want_impostor) {
                int i = (int)random_below(&state, (uint64_t)n_images);
                int j = (int)random_below(&state, (uint64_t)n_images);
                if (labels[i] == labels[j]) continue;
                impostors[n_drawn++] = (eval_pair){FR_MIN(i, j), FR_MAX(i, j), 0, 0};
            }
            qsort(impostors, (size_t)n_drawn, sizeof *impostors, compare_pairs);
            int unique = 0;
            for (int k = 0; k < n_drawn; k++)
                if (unique == 0 || compare_pairs(&impostors[unique - 1], &impostors[k]))
                    impostors[unique++] = impostors[k];
            n_drawn = unique;
        }
    }
    deal_folds(all, (int)n_genuine, *n_folds, &state);
    deal_folds(impostors, n_drawn, *n_folds, &state);
    *pairs = all;
    *n_pairs = n_total;
    return FR_OK;
}
