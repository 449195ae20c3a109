/* test_calibration_file.c: calibrations written to text files (fr_calibration_export), read
 * back, refused when malformed, and the shipped ones giving fresh galleries their thresholds. */
#include "facerec.h"
#include "gallery/gallery.h"
#include "test.h"

#include <stdint.h>

/* Deterministic pseudo-random numbers (xorshift), uniform in [-1, 1). */
static float rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* n_people clusters of `per` unit vectors of length dim around random centres. */
static float *clustered(int n_people, int per, int dim, float spread, uint64_t seed, int *labels) {
    float *e = malloc((size_t)n_people * per * dim * sizeof(float));
    float *centre = malloc((size_t)dim * sizeof(float));
    uint64_t s = seed;
    for (int p = 0; p < n_people; p++) {
        for (int k = 0; k < dim; k++) centre[k] = rnd(&s);
        for (int i = 0; i < per; i++) {
            float *v = e + ((size_t)p * per + i) * dim;
            double norm = 0;
            for (int k = 0; k < dim; k++) {
                v[k] = centre[k] + spread * rnd(&s);
                norm += (double)v[k] * v[k];
            }
            for (int k = 0; k < dim; k++) v[k] = (float)(v[k] / sqrt(norm));
            labels[p * per + i] = p;
        }
    }
    free(centre);
    return e;
}

#define EXPORTED FR_TEST_TMP_DIR "/exported.txt"
#define MALFORMED FR_TEST_TMP_DIR "/malformed.txt"

static fr_gallery *fresh_gallery(const char *name, const char *model, int dim) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.db", FR_TEST_TMP_DIR, name);
    remove(path);
    fr_gallery *g = NULL;
    if (fr_gallery_open(path, 1, &g) != FR_OK) return NULL;
    if (fr_gallery_use_model(g, model, "1", dim) != FR_OK) {
        fr_gallery_close(g);
        return NULL;
    }
    return g;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc((size_t)n + 1, 1);
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) text[0] = '\0';
    fclose(f);
    return text;
}

static void write_text(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(text, 1, n, f);
    fclose(f);
}

#define DIM 128
#define PEOPLE 40
#define PER 6

TEST(export_and_read_back) {
    int labels[PEOPLE * PER];
    float *e = clustered(PEOPLE, PER, DIM, 0.15f, 3, labels);
    const char *path = EXPORTED;
    fr_calibration_stats file_stats, gallery_stats;
    gallery_calibration *cal = malloc(sizeof *cal);
    fr_gallery *g = fresh_gallery("calibration_reference", "test-model", DIM);
    int ok = e && cal && g;
    if (ok) ok = fr_calibration_export("test-model", DIM, e, labels, PEOPLE * PER, "synthetic set",
                                       path, &file_stats) == FR_OK;
    if (ok) ok = fr_gallery_calibrate(g, e, labels, PEOPLE * PER, "synthetic set", &gallery_stats) == FR_OK;
    if (ok) ok = gallery_read_calibration_file(path, cal) == FR_OK;
    free(e);
    if (!ok) {
        fprintf(stderr, "%s\n", fr_last_error());
        free(cal);
        fr_gallery_close(g);
        CHECK(ok);
    }
    int64_t genuine = (int64_t)PEOPLE * PER * (PER - 1) / 2;
    int64_t impostor = (int64_t)PEOPLE * PER * (PEOPLE * PER - 1) / 2 - genuine;
    int fields_ok = strcmp(cal->model, "test-model") == 0 && cal->dim == DIM &&
                    strcmp(cal->source, "synthetic set") == 0 && cal->n_genuine_pairs == genuine &&
                    cal->n_impostor_pairs == impostor && file_stats.n_impostor_pairs == impostor &&
                    file_stats.eer == gallery_stats.eer;
    /* the file's impostor quantiles are the distances a gallery calibrated on the same data
     * reads at those false-accept rates (to the 5 decimals written) */
    int quantiles_ok = cal->impostor.n > 100 && cal->genuine.n > 50;
    for (int i = 0; i < cal->impostor.n && quantiles_ok; i++) {
        fr_threshold th;
        quantiles_ok = fr_gallery_threshold(g, cal->impostor.p[i], &th) == FR_OK &&
                       fabsf(th.distance - cal->impostor.d[i]) <= 2e-5f;
        if (!quantiles_ok)
            fprintf(stderr, "row %d: p %.10g distance %g, the gallery's %g\n", i, cal->impostor.p[i],
                    cal->impostor.d[i], th.distance);
    }
    free(cal);
    fr_gallery_close(g);
    CHECK(fields_ok);
    CHECK(quantiles_ok);
    /* too few pairs, and a model name that would not read back, are refused */
    CHECK(fr_calibration_export("test-model", DIM, (const float[DIM]){0}, (const int[1]){0}, 1,
                                "x", path, NULL) == FR_E_ARG);
    CHECK(fr_calibration_export("a model", DIM, (const float[DIM]){0}, (const int[1]){0}, 1, "x",
                                path, NULL) == FR_E_ARG);
}

/* Read a variant of the exported file: must be FR_E_FORMAT with a message naming the file. */
static int refused(const char *text, size_t n) {
    const char *path = MALFORMED;
    write_text(path, text, n);
    gallery_calibration *cal = malloc(sizeof *cal);
    fr_status st = cal ? gallery_read_calibration_file(path, cal) : FR_E_NOMEM;
    free(cal);
    int ok = st == FR_E_FORMAT && strstr(fr_last_error(), path) != NULL;
    if (!ok) fprintf(stderr, "not refused as expected (status %d): %s\n", (int)st, fr_last_error());
    return ok;
}

/* The exported text with the first occurrence of `from` replaced by `to`. */
static char *edited(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    if (!at) return NULL;
    size_t n = strlen(text) + strlen(to) + 1, head = (size_t)(at - text);
    char *out = malloc(n);
    memcpy(out, text, head);
    snprintf(out + head, n - head, "%s%s", to, at + strlen(from));
    return out;
}

TEST(malformed_files_are_refused) {
    const char *path = EXPORTED;
    char *text = read_text(path);
    if (!text || !*text) {
        free(text);
        SKIP("%s not written (export_and_read_back failed)", path);
    }
    size_t n = strlen(text);
    int ok = refused("", 0) && refused("not a calibration\n", 18) &&
             /* truncated anywhere: in the header fields, in a table, before "end" */
             refused(text, 60) && refused(text, n / 3) && refused(text, n / 2 + 7) &&
             refused(text, n - 4);
    static const char *const edits[][2] = {
        {"facerec-calibration 1", "facerec-calibration 2"}, /* unknown version */
        {"dim 128", "dim twelve"},
        {"dim 128", "dim 0"},
        {"impostor_pairs ", "impostor_pairs -"},
        {"source synthetic set\n", ""},                     /* a field missing */
        {"\ngenuine ", "\ngenuine 1"},                        /* a table over the size limit */
        {"\nend\n", "\nend\nmore\n"},
        {" 0.", " nan "},                                    /* a distance not a number */
        {" 0.", " 9."},                                      /* a distance out of range */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0] && ok; i++) {
        char *bad = edited(text, edits[i][0], edits[i][1]);
        ok = bad && refused(bad, strlen(bad));
        if (!ok) fprintf(stderr, "edit %zu: '%s' -> '%s'\n", i, edits[i][0], edits[i][1]);
        free(bad);
    }
    /* probabilities out of order: swap the first two rows of the genuine table */
    char *rows = strstr(text, "\ngenuine ");
    char *first = rows ? strchr(rows + 1, '\n') + 1 : NULL;
    char *second = first ? strchr(first, '\n') + 1 : NULL;
    char *third = second ? strchr(second, '\n') + 1 : NULL;
    if (ok && third) {
        char *swapped = malloc(n + 1);
        size_t head = (size_t)(first - text), len1 = (size_t)(second - first),
               len2 = (size_t)(third - second);
        memcpy(swapped, text, head);
        memcpy(swapped + head, second, len2);
        memcpy(swapped + head + len2, first, len1);
        memcpy(swapped + head + len1 + len2, third, n - (size_t)(third - text) + 1);
        ok = refused(swapped, n);
        free(swapped);
    }
    free(text);
    CHECK(ok && third);
    /* the untouched file still reads */
    gallery_calibration *cal = malloc(sizeof *cal);
    fr_status st = gallery_read_calibration_file(path, cal);
    free(cal);
    CHECK_OK(st);
}

/* The shipped calibration of `model`, read directly. */
static int shipped(const char *model, gallery_calibration *cal, char *path, size_t size) {
    char rel[128];
    snprintf(rel, sizeof rel, "calibration/%s.txt", model);
    return fr_data_path(rel, path, size) == FR_OK && gallery_read_calibration_file(path, cal) == FR_OK;
}

/* The index of the impostor quantile nearest to probability p. */
static int nearest_row(const gallery_quantiles *q, double p) {
    int best = 0;
    for (int i = 1; i < q->n; i++)
        if (fabs(log(q->p[i] / p)) < fabs(log(q->p[best] / p))) best = i;
    return best;
}

TEST(fresh_gallery_uses_the_shipped_calibration) {
    static const char *const models[] = {"dlib-resnet", "mobilefacenet"};
    static gallery_calibration cal;
    char path[1024];
    for (int m = 0; m < 2; m++) {
        int found = shipped(models[m], &cal, path, sizeof path);
        if (!found) fprintf(stderr, "%s: %s\n", models[m], fr_last_error());
        CHECK(found);
        fr_gallery *g = fresh_gallery("shipped", models[m], cal.dim);
        CHECK(g);
        fr_threshold th;
        int row = nearest_row(&cal.impostor, 1e-3);
        fr_status st = fr_gallery_threshold(g, cal.impostor.p[row], &th);
        fr_gallery_close(g);
        CHECK_OK(st);
        int ok = th.origin == FR_THRESHOLD_SHIPPED &&
                 fabsf(th.distance - cal.impostor.d[row]) < 1e-6f && th.frr > 0 && th.frr < 1 &&
                 strstr(th.note, "LFW calibration shipped with facerec") != NULL;
        if (!ok)
            fprintf(stderr, "%s: origin %d distance %g (file: %g) note %s\n", models[m],
                    (int)th.origin, th.distance, cal.impostor.d[row], th.note);
        CHECK(ok);
    }
    /* a gallery of the same model name but another embedding length is not described by it */
    fr_gallery *g = fresh_gallery("shipped_other_dim", "dlib-resnet", 32);
    CHECK(g);
    fr_threshold th;
    fr_status st = fr_gallery_threshold(g, 1e-3, &th);
    fr_gallery_close(g);
    CHECK_OK(st);
    CHECK(th.origin == FR_THRESHOLD_MODEL_DEFAULT && th.distance == 0.42f);
}

TEST(own_calibration_overrides_the_shipped_one) {
    fr_gallery *g = fresh_gallery("own_calibration", "dlib-resnet", DIM);
    CHECK(g);
    fr_threshold shipped_th, own_th;
    fr_status st = fr_gallery_threshold(g, 1e-3, &shipped_th);
    int labels[PEOPLE * PER];
    float *e = clustered(PEOPLE, PER, DIM, 0.15f, 9, labels);
    if (st == FR_OK) st = fr_gallery_calibrate(g, e, labels, PEOPLE * PER, "synthetic", NULL);
    if (st == FR_OK) st = fr_gallery_threshold(g, 1e-3, &own_th);
    free(e);
    fr_gallery_close(g);
    CHECK_OK(st);
    CHECK(shipped_th.origin == FR_THRESHOLD_SHIPPED);
    CHECK(own_th.origin == FR_THRESHOLD_CALIBRATED && strstr(own_th.note, "synthetic") != NULL);
    CHECK(own_th.distance != shipped_th.distance);
}

TEST_MAIN(CASE(export_and_read_back), CASE(malformed_files_are_refused),
          CASE(fresh_gallery_uses_the_shipped_calibration),
          CASE(own_calibration_overrides_the_shipped_one))
