/* test_nn4small2.c: the original FaceNet nn4.small2 from its Keras CSV weights, against the
 * independent numpy implementation tests/reference/nn4small2_reference.py (fixture
 * tests/data/original/nn4small2_reference.json): import, model file, network, and the
 * `import-keras-csv` / `embed --no-detect --no-align --model FILE` commands; plus the refusals of
 * missing, short and non-numeric CSV files and of truncated or corrupt model files.
 *
 * The public weights lack five files; like the reference script, the test completes a copy
 * of the shared folder with generated values (and, without the shared folder, generates every
 * file). The generator must stay identical to the script's (described there). */
#define _DEFAULT_SOURCE /* symlink */
#include "common/common.h"
#include "common/json_read.h"
#include "nets/original_nets.h"
#include "nn/import/frmodel.h"
#include "nn/import/keras_csv.h"
#include "run.h"
#include "test.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHARED_WEIGHTS FR_TEST_DATA_DIR "/nn4small2-weights-partial"
#define REFERENCE FR_TEST_FIXTURES_DIR "/original/nn4small2_reference.json"
#define TOLERANCE 1e-4

/* ---- the generator of nn4small2_reference.py ---- */

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static double next_unit(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* kind: 'w' weights (fan_in > 0), 'b' bias, or a batch norm suffix 'g' (gamma), 'B' (beta),
 * 'm', 'v' */
static int write_generated(const char *path, const char *stem, size_t count, int fan_in, char kind) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    uint64_t state = fnv1a64(stem);
    for (size_t i = 0; i < count; i++) {
        double u = next_unit(&state), v;
        switch (kind) {
        case 'w': v = (2 * u - 1) * sqrt(3.0 / fan_in); break;
        case 'b': v = (2 * u - 1) * 0.05; break;
        case 'g': v = 0.8 + 0.4 * u; break;
        case 'B': case 'm': v = (2 * u - 1) * 0.1; break;
        default: v = 0.5 + u; break;
        }
        fprintf(f, "%s%.9g", i ? "," : "", v);
    }
    fputc('\n', f);
    return fclose(f) == 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *path) { return access(path, R_OK) == 0; }

/* Fill dir with every CSV file the importer reads: links to the shared files when `shared`
 * is given and has them, generated values otherwise. Returns the number generated, or -1. */
static int make_weights_folder(const char *dir, const char *shared) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return -1;
    keras_csv_layer *layers;
    int n_layers, generated = 0;
    if (nn4small2_keras_layers(&layers, &n_layers) != FR_OK) return -1;
    for (int i = 0; i < n_layers && generated >= 0; i++) {
        const keras_csv_layer *l = &layers[i];
        const char *stem = l->file ? l->file : l->name;
        const char *suffixes = l->kind == KERAS_BATCHNORM ? "wbmv" : "wb";
        for (const char *s = suffixes; *s && generated >= 0; s++) {
            char name[160], path[1024], src[1024];
            snprintf(name, sizeof name, "%s_%c", stem, *s);
            snprintf(path, sizeof path, "%s/%s.csv", dir, name);
            snprintf(src, sizeof src, "%s/%s.csv", shared ? shared : "", name);
            unlink(path);
            if (shared && file_exists(src)) {
                if (symlink(src, path) != 0) generated = -1;
                continue;
            }
            int is_bn = l->kind == KERAS_BATCHNORM, is_conv = l->kind == KERAS_CONV;
            size_t count = is_bn || *s == 'b' ? (size_t)l->out
                           : (size_t)l->out * l->in * (is_conv ? l->kh * l->kw : 1);
            int fan_in = l->in * (is_conv ? l->kh * l->kw : 1);
            char kind = !is_bn ? *s : *s == 'w' ? 'g' : *s == 'b' ? 'B' : *s;
            if (!write_generated(path, name, count, fan_in, kind)) generated = -1;
            else generated++;
        }
    }
    free(layers);
    return generated;
}

/* ---- fixture ---- */

static void pattern_input(int which, float *x) {
    for (int y = 0; y < NN4SMALL2_INPUT; y++)
        for (int xx = 0; xx < NN4SMALL2_INPUT; xx++)
            for (int c = 0; c < 3; c++) {
                int v = which == 1 ? (7 * xx + 13 * y + 101 * c + (xx * y) % 17) % 256
                                   : (xx * xx + 3 * y * c + 31 * c + 5 * y + (xx ^ y)) % 256;
                x[(y * NN4SMALL2_INPUT + xx) * 3 + c] = (float)v / 255.0f;
            }
}

/* The reference embedding `input` of weight set `set`, into e (128). */
static int reference_embedding(const json_t *ref, const char *set, const char *input,
                               float *e) {
    const json_t *v = json_object_get(json_object_get(json_object_get(json_object_get(ref, "sets"), set), "embeddings"), input);
    if (json_array_size(v) != NN4SMALL2_DIM) return 0;
    for (int i = 0; i < NN4SMALL2_DIM; i++) e[i] = (float)json_number_value(json_array_get(v, (size_t)i));
    return 1;
}

static double max_abs_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* Run the CLI with args (NULL-terminated); stdout into out, stderr into err. Returns the
 * exit status (tests/run.h). */
static int run_cli(const char *const *args, char *out, size_t outsz, char *err, size_t errsz) {
    test_run r = {0};
    int status = test_run_cli_args(&r, args);
    snprintf(out, outsz, "%s", r.out ? r.out : "");
    snprintf(err, errsz, "%s", r.err ? r.err : "");
    test_run_free(&r);
    return status;
}

/* Import the folder for `set`, then compare the network on the two patterns, and the CLI's
 * `embed --no-detect --no-align --model FILE` on sample1.jpg, with the reference. */
static void check_set(const char *set, const char *shared) {
    json_t *ref;
    CHECK_OK(read_json_file(REFERENCE, &ref));
    char dir[512], model[512];
    snprintf(dir, sizeof dir, "%s/nn4small2_%s", FR_TEST_TMP_DIR, set);
    snprintf(model, sizeof model, "%s/nn4small2_%s.frmodel", FR_TEST_TMP_DIR, set);
    int generated = make_weights_folder(dir, shared);
    CHECK(generated >= 0);
    CHECK((size_t)generated == json_array_size(json_object_get(json_object_get(json_object_get(ref, "sets"), set), "generated_files")));

    /* the command imports, the library loads */
    const char *import_args[] = {"import-keras-csv", dir, "--out", model, NULL};
    static char out[1 << 16], err[1 << 14];
    int status = run_cli(import_args, out, sizeof out, err, sizeof err);
    if (status != 0) fprintf(stderr, "%s", err);
    CHECK(status == 0);
    nn4small2 *net;
    CHECK_OK(nn4small2_load(model, &net));
    float *x = malloc(sizeof(float) * 2 * NN4SMALL2_INPUT * NN4SMALL2_INPUT * 3);
    CHECK(x);
    pattern_input(1, x);
    pattern_input(2, x + NN4SMALL2_INPUT * NN4SMALL2_INPUT * 3);
    float got[2 * NN4SMALL2_DIM], want[NN4SMALL2_DIM];
    fr_status st = nn4small2_forward(net, TEST_THREADS, x, 2, got);
    free(x);
    nn4small2_free(net);
    CHECK_OK(st);
    const char *names[2] = {"pattern1", "pattern2"};
    for (int i = 0; i < 2; i++) {
        CHECK(reference_embedding(ref, set, names[i], want));
        double d = max_abs_diff(got + i * NN4SMALL2_DIM, want, NN4SMALL2_DIM);
        printf("  %s %s: max |ours - reference| = %.2e\n", set, names[i], d);
        CHECK(d <= TOLERANCE);
    }

    /* the whole image, as the original's img_to_encoding */
    char sample[1024];
    if (fr_model_path(FR_TEST_MODELS_DIR, json_string_value(json_object_get(ref, "sample1")), sample,
                      sizeof sample) != FR_OK) {
        json_decref(ref);
        SKIP("models/face-api not unpacked (run scripts/setup.sh); sample1 not checked");
    }
    const char *embed_args[] = {"embed", "--no-detect", "--no-align", "--no-flip", "--json",
                                "--model", model, sample, NULL};
    status = run_cli(embed_args, out, sizeof out, err, sizeof err);
    if (status != 0) fprintf(stderr, "%s", err);
    CHECK(status == 0);
    json_t *line;
    CHECK_OK(parse_json_text(out, strlen(out), "embed output", &line));
    const json_t *e = json_object_get(json_array_get(json_object_get(line, "faces"), 0), "embedding");
    CHECK(json_array_size(e) == NN4SMALL2_DIM);
    for (int i = 0; i < NN4SMALL2_DIM; i++) got[i] = (float)json_number_value(json_array_get(e, (size_t)i));
    json_decref(line);
    CHECK(reference_embedding(ref, set, "sample1", want));
    json_decref(ref);
    double d = max_abs_diff(got, want, NN4SMALL2_DIM);
    printf("  %s sample1 (embed --no-detect): max |ours - reference| = %.2e\n", set, d);
    CHECK(d <= TOLERANCE);
}

TEST(generated_weights_match_reference) { check_set("generated", NULL); }

TEST(shared_weights_match_reference) {
    if (!is_dir(SHARED_WEIGHTS))
        SKIP("%s absent: the partial original weights are not available", SHARED_WEIGHTS);
    check_set("shared", SHARED_WEIGHTS);
}

/* ---- refusals ---- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Import from a copy of the generated folder where `file` is replaced by `content` (NULL:
 * removed); the error must name the file and contain `word`. */
static void expect_import_error(const char *file, const char *content, const char *word) {
    char src[512], dir[512], path[1024], model[512];
    snprintf(src, sizeof src, "%s/nn4small2_generated", FR_TEST_TMP_DIR);
    snprintf(dir, sizeof dir, "%s/nn4small2_broken", FR_TEST_TMP_DIR);
    snprintf(model, sizeof model, "%s/nn4small2_broken.frmodel", FR_TEST_TMP_DIR);
    CHECK(make_weights_folder(dir, src) == 0); /* all links to the generated folder */
    snprintf(path, sizeof path, "%s/%s", dir, file);
    unlink(path);
    if (content) write_text(path, content);
    fr_status st = nn4small2_import_keras_csv(dir, model);
    printf("  %s: %s\n", file, fr_last_error());
    CHECK(st != FR_OK);
    CHECK(strstr(fr_last_error(), file) != NULL);
    CHECK(strstr(fr_last_error(), word) != NULL);
}

TEST(csv_refusals) {
    char src[512];
    snprintf(src, sizeof src, "%s/nn4small2_generated", FR_TEST_TMP_DIR);
    CHECK(make_weights_folder(src, NULL) >= 0);
    expect_import_error("conv1_w.csv", NULL, "cannot open");
    expect_import_error("conv1_b.csv", "0.1,0.2,0.3\n", "has 3 values, expected 64");
    expect_import_error("bn1_v.csv", "0.5,abc,0.5\n", "not a finite number");
    expect_import_error("bn1_m.csv", "0.5,,0.5\n", "empty field");
    expect_import_error("dense_b.csv", "nan\n", "not a finite number");
}

TEST(csv_reader) {
    const char *path = FR_TEST_TMP_DIR "/keras_csv_reader.csv";
    float v[4];
    write_text(path, " 1.5, -2e-3\n3 ,\n4\n");
    CHECK_OK(nn_keras_csv_read(path, 4, v));
    CHECK(v[0] == 1.5f && v[1] == -2e-3f && v[2] == 3.0f && v[3] == 4.0f);
    CHECK(nn_keras_csv_read(path, 3, v) == FR_E_FORMAT);
    CHECK(strstr(fr_last_error(), "more than the 3 values") != NULL);
    write_text(path, "1,2,3,4x\n");
    CHECK(nn_keras_csv_read(path, 4, v) == FR_E_FORMAT);
    CHECK(strstr(fr_last_error(), "'4x'") != NULL);
}

static uint8_t *read_all(const char *path, size_t *size) {
    uint8_t *data;
    return fr_read_file(path, (size_t)1 << 30, &data, size) == FR_OK ? data : NULL;
}

static void write_bytes(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

TEST(model_file_refusals) {
    /* a small model file of our own, then damaged copies of it */
    const char *path = FR_TEST_TMP_DIR "/frmodel_small.frmodel";
    const char *bad = FR_TEST_TMP_DIR "/frmodel_bad.frmodel";
    float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-1, 0.5f};
    nn_tensor_entry t[2] = {{.name = "a", .ndim = 2, .shape = {2, 3}, .count = 6, .data = a},
                            {.name = "b", .ndim = 1, .shape = {2}, .count = 2, .data = b}};
    frmodel_info info = {.model_id = "toy", .input_h = 4, .input_w = 4, .input_c = 1,
                         .preprocessing = "none"};
    CHECK_OK(frmodel_write(path, &info, t, 2));
    frmodel_info back;
    nn_weights *w;
    CHECK_OK(frmodel_read(path, &back, &w));
    CHECK(!strcmp(back.model_id, "toy") && back.input_h == 4 && !strcmp(back.preprocessing, "none"));
    CHECK(w->count == 2 && w->tensors[0].shape[1] == 3 && w->tensors[1].data[1] == 0.5f);
    nn_weights_free(w);
    CHECK(frmodel_is_file(path));

    size_t size;
    uint8_t *data = read_all(path, &size);
    CHECK(data);
    write_bytes(bad, data, size - 7); /* truncated */
    CHECK(frmodel_read(bad, &back, &w) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), bad) && strstr(fr_last_error(), "truncated"));
    data[size / 2] ^= 0x40; /* one bit flipped in the tensors */
    write_bytes(bad, data, size);
    CHECK(frmodel_read(bad, &back, &w) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), bad) && strstr(fr_last_error(), "checksum"));
    data[size / 2] ^= 0x40;
    data[0] = 'X'; /* not ours */
    write_bytes(bad, data, size);
    CHECK(frmodel_read(bad, &back, &w) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "not a facerec model file"));
    CHECK(!frmodel_is_file(bad));
    free(data);
    /* a model file of another network is refused by nn4small2_load */
    nn4small2 *net;
    CHECK(nn4small2_load(path, &net) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "holds model 'toy'"));
}

TEST_MAIN(CASE(csv_reader), CASE(model_file_refusals), CASE(generated_weights_match_reference),
          CASE(shared_weights_match_reference), CASE(csv_refusals))
