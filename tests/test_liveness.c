/* test_liveness: the ONNX reader and evaluator against ONNX Runtime (fixture written by
 * tests/reference/liveness_reference.mjs), the liveness crop and input, the decisions on the
 * three sample photos of silentface-samples (shared data), and the refusal of corrupt,
 * truncated and hostile ONNX files. */
#include "common/common.h"
#include "common/json_read.h"
#include "face/liveness.h"
#include "nn/import/onnx.h"
#include "nn/onnx_net.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SIZE LIVENESS_SIZE
#define TOL 1e-4

static int model_path(char *path, size_t size) {
    snprintf(path, size, "%s/%s", FR_TEST_MODELS_DIR, LIVENESS_MODEL_FILE);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

static int load_fixture(json_t **fx) {
    char path[1024];
    snprintf(path, sizeof path, "%s/liveness/reference.json", FR_TEST_FIXTURES_DIR);
    return read_json_file(path, fx) == FR_OK;
}

/* Compare logits and softmax with a reference {logits, softmax}; returns the largest
 * difference, or a negative value if the fixture is malformed. */
static double compare_outputs(const float logits[3], const json_t *ref) {
    const json_t *rl = json_object_get(ref, "logits"), *rs = json_object_get(ref, "softmax");
    if (json_array_size(rl) != 3 || json_array_size(rs) != 3) return -1;
    float p[3] = {logits[0], logits[1], logits[2]};
    nn_softmax(TEST_THREADS, p, 1, 3);
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        worst = fmax(worst, fabs(logits[k] - json_number_value(json_array_get(rl, (size_t)k))));
        worst = fmax(worst, fabs(p[k] - json_number_value(json_array_get(rs, (size_t)k))));
    }
    return worst;
}

TEST(reference_synthetic) {
    char path[1024];
    json_t *fx;
    if (!model_path(path, sizeof path)) SKIP("%s missing (run scripts/setup.sh)", path);
    CHECK(load_fixture(&fx));
    onnx_net *net;
    CHECK_OK(onnx_net_load(path, &net));
    int rank, shape[NN_MAX_RANK];
    onnx_net_input_shape(net, &rank, shape);
    CHECK(rank == 4 && shape[0] == 1 && shape[1] == 3 && shape[2] == SIZE && shape[3] == SIZE);
    nn_arena *arena = nn_arena_new(0);
    float *in = malloc(3 * SIZE * SIZE * sizeof *in);
    CHECK(arena && in);
    const json_t *cases = json_object_get(fx, "synthetic");
    double worst = 0;
    int ok = json_array_size(cases) == 3;
    for (size_t k = 0; ok && k < json_array_size(cases); k++) {
        const json_t *c = json_array_get(cases, k);
        uint32_t seed = (uint32_t)json_number_value(json_object_get(c, "seed"));
        /* value i of the NCHW input as the reference makes it, stored NHWC */
        for (uint32_t i = 0; i < 3u * SIZE * SIZE; i++) {
            uint32_t ch = i / (SIZE * SIZE), y = i / SIZE % SIZE, x = i % SIZE;
            in[(y * SIZE + x) * 3 + ch] = (float)((i * 2654435761u + seed * 40503u) % 256u);
        }
        float logits[3];
        ok = onnx_net_run(net, TEST_THREADS, in, logits, arena) == FR_OK;
        double d = ok ? compare_outputs(logits, c) : -1;
        ok = ok && d >= 0;
        worst = fmax(worst, d);
    }
    printf("  synthetic inputs: largest difference from ONNX Runtime %.3g\n", worst);
    free(in);
    nn_arena_free(arena);
    onnx_net_free(net);
    json_decref(fx);
    CHECK(ok);
    CHECK(worst <= TOL);
}

/* ops.onnx: every operator the evaluator runs, with options the liveness net lacks (Gemm,
 * Flatten, Softmax, a reshape of a 3x3 map, uneven pads, Unsqueeze by attribute). */
TEST(reference_ops) {
    char path[1024];
    json_t *fx;
    CHECK(load_fixture(&fx));
    snprintf(path, sizeof path, "%s/liveness/ops.onnx", FR_TEST_FIXTURES_DIR);
    onnx_net *net;
    CHECK_OK(onnx_net_load(path, &net));
    int rank, shape[NN_MAX_RANK];
    onnx_net_input_shape(net, &rank, shape);
    CHECK(rank == 4 && shape[0] == 1 && shape[1] == 4 && shape[2] == 6 && shape[3] == 6);
    onnx_net_output_shape(net, &rank, shape);
    CHECK(rank == 2 && shape[0] == 1 && shape[1] == 10);
    float in[4 * 6 * 6], out[10];
    for (uint32_t i = 0; i < 4 * 6 * 6; i++) {
        uint32_t ch = i / 36, y = i / 6 % 6, x = i % 6;
        in[(y * 6 + x) * 4 + ch] = (float)((i * 2654435761u + 40503u) % 256u) / 64.0f - 2.0f;
    }
    nn_arena *arena = nn_arena_new(0);
    CHECK(arena);
    fr_status st = onnx_net_run(net, TEST_THREADS, in, out, arena);
    nn_arena_free(arena);
    onnx_net_free(net);
    const json_t *ref = json_object_get(json_object_get(fx, "ops"), "output");
    int ok = st == FR_OK && json_array_size(ref) == 10;
    double worst = 0;
    for (size_t k = 0; ok && k < 10; k++) worst = fmax(worst, fabs(out[k] - json_number_value(json_array_get(ref, k))));
    json_decref(fx);
    printf("  ops.onnx: largest difference from ONNX Runtime %.3g\n", worst);
    CHECK(ok);
    CHECK(worst <= 1e-6);
}

/* The whole stage on the face-api demo photos' SSD boxes: the crop rectangle exactly, the
 * input's fingerprint, and the outputs for B,G,R (ours) and R,G,B (the package's order). */
TEST(reference_crops) {
    char path[1024];
    json_t *fx;
    if (!model_path(path, sizeof path)) SKIP("%s missing (run scripts/setup.sh)", path);
    CHECK(load_fixture(&fx));
    liveness_net *ln;
    CHECK_OK(liveness_load(path, &ln));
    float *in = malloc(3 * SIZE * SIZE * sizeof *in);
    CHECK(in);
    const json_t *crops = json_object_get(fx, "crops");
    double worst = 0;
    int ok = json_array_size(crops) > 0;
    fr_image *img = NULL;
    const char *loaded = "";
    for (size_t k = 0; ok && k < json_array_size(crops); k++) {
        const json_t *c = json_array_get(crops, k);
        const char *image = json_string_value(json_object_get(c, "image"));
        if (!image) { ok = 0; break; }
        if (strcmp(image, loaded)) {
            fr_image_free(img);
            snprintf(path, sizeof path, "%s/%s", FR_TEST_MODELS_DIR, image);
            if (fr_image_load(path, &img) != FR_OK) { ok = 0; break; }
            loaded = image;
        }
        const json_t *box = json_object_get(c, "box"), *rrect = json_object_get(c, "rect");
        fr_face face = {.x = (float)json_number_value(json_array_get(box, 0)),
                        .y = (float)json_number_value(json_array_get(box, 1)),
                        .w = (float)json_number_value(json_array_get(box, 2)),
                        .h = (float)json_number_value(json_array_get(box, 3))};
        /* the fixture's boxes are doubles; ours are floats: same integer corners here */
        int rect[4];
        liveness_crop_rect(img->width, img->height, &face, rect);
        for (int i = 0; i < 4; i++)
            if (rect[i] != (int)json_number_value(json_array_get(rrect, (size_t)i))) {
                fprintf(stderr, "crop %zu: rect[%d] = %d, reference %g\n", k, i, rect[i],
                        json_number_value(json_array_get(rrect, (size_t)i)));
                ok = 0;
            }
        liveness_input(TEST_THREADS, img, rect, in);
        double sum = 0, ref_sum = json_number_value(json_object_get(c, "input_checksum_bgr"));
        for (size_t i = 0; i < 3u * SIZE * SIZE; i++) {
            size_t ch = i / (SIZE * SIZE), p = i % (SIZE * SIZE);
            sum += in[p * 3 + ch] * (double)(i % 251 + 1);
        }
        if (fabs(sum - ref_sum) > 1e-6 * fabs(ref_sum)) {
            fprintf(stderr, "crop %zu: input fingerprint %.10g, reference %.10g\n", k, sum, ref_sum);
            ok = 0;
        }
        float logits[3];
        if (liveness_logits(ln, TEST_THREADS, in, logits) != FR_OK) { ok = 0; break; }
        double d = compare_outputs(logits, json_object_get(c, "bgr"));
        for (size_t p = 0; p < (size_t)SIZE * SIZE; p++) { /* B,G,R -> R,G,B */
            float b = in[3 * p];
            in[3 * p] = in[3 * p + 2];
            in[3 * p + 2] = b;
        }
        if (liveness_logits(ln, TEST_THREADS, in, logits) != FR_OK) { ok = 0; break; }
        double d_rgb = compare_outputs(logits, json_object_get(c, "rgb"));
        if (d < 0 || d_rgb < 0) ok = 0;
        worst = fmax(worst, fmax(d, d_rgb));
    }
    printf("  %zu crops of the face-api demo photos: largest difference from ONNX Runtime %.3g\n",
           json_array_size(crops), worst);
    fr_image_free(img);
    free(in);
    liveness_free(ln);
    json_decref(fx);
    CHECK(ok);
    CHECK(worst <= TOL);
}

/* The largest face of a photo through the engine, and its liveness. */
static int photo_liveness(fr_engine *eng, const char *path, float *score) {
    fr_image *img;
    fr_face *faces = NULL;
    int n = 0, ok = 0;
    if (fr_image_load(path, &img) != FR_OK) return 0;
    if (fr_detect(eng, img, &faces, &n) == FR_OK && n > 0) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (faces[i].w * faces[i].h > faces[best].w * faces[best].h) best = i;
        ok = fr_liveness(eng, img, &faces[best], 1, score) == FR_OK;
    }
    fr_faces_free(faces);
    fr_image_free(img);
    return ok;
}

/* One live face and two photo attacks (silentface-samples/README.md). */
TEST(sample_photos) {
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/silentface-samples", FR_TEST_DATA_DIR);
    snprintf(path, sizeof path, "%s/image_T1.jpg", dir);
    FILE *f = fopen(path, "rb");
    if (!f) SKIP("%s is absent (the shared data folder holds the sample photos)", dir);
    fclose(f);
    if (!model_path(path, sizeof path)) SKIP("%s missing (run scripts/setup.sh)", path);
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.load_embedder = 0;
    cfg.liveness = 1;
    fr_engine *eng;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    static const struct { const char *file; int live; } photos[] = {
        {"image_T1.jpg", 1}, {"image_F1.jpg", 0}, {"image_F2.jpg", 0}};
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        float score = -1;
        snprintf(path, sizeof path, "%s/%s", dir, photos[i].file);
        int ran = photo_liveness(eng, path, &score);
        printf("  %s: liveness %.6g (%s, expected %s)\n", photos[i].file, score,
               score >= FR_LIVENESS_THRESHOLD ? "live" : "attack", photos[i].live ? "live" : "attack");
        if (!ran || (score >= FR_LIVENESS_THRESHOLD) != photos[i].live) ok = 0;
    }
    fr_engine_close(eng);
    CHECK(ok);
}

TEST(engine_without_liveness_refuses) {
    char path[1024];
    if (!model_path(path, sizeof path)) SKIP("%s missing (run scripts/setup.sh)", path);
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.load_embedder = 0;
    fr_engine *eng;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    fr_image *img;
    CHECK_OK(fr_image_new(64, 64, &img));
    fr_face face = {.x = 10, .y = 10, .w = 20, .h = 20};
    float score;
    CHECK(fr_liveness(eng, img, &face, 1, &score) == FR_E_ARG);
    CHECK(strstr(fr_last_error(), "liveness") != NULL);
    fr_image_free(img);
    fr_engine_close(eng);
}

/* The crop stays inside the image for boxes at its edges, larger than it, or outside it. */
TEST(crop_rect_inside) {
    static const float boxes[][4] = {{0, 0, 10, 10},     {630, 470, 10, 10}, {-50, -50, 30, 30},
                                     {100, 100, 900, 700}, {700, 500, 20, 20}, {10, 10, 0, 0},
                                     {320, 240, 1, 400}};
    for (size_t i = 0; i < sizeof boxes / sizeof boxes[0]; i++) {
        fr_face f = {.x = boxes[i][0], .y = boxes[i][1], .w = boxes[i][2], .h = boxes[i][3]};
        int r[4];
        liveness_crop_rect(640, 480, &f, r);
        CHECK(r[0] >= 0 && r[1] >= 0 && r[2] >= 1 && r[3] >= 1);
        CHECK(r[0] + r[2] <= 640 && r[1] + r[3] <= 480);
    }
    /* a box in the middle: 2.7 times its size about its centre */
    fr_face f = {.x = 300, .y = 200, .w = 40, .h = 50};
    int r[4];
    liveness_crop_rect(640, 480, &f, r);
    CHECK(r[0] == 266 && r[1] == 157 && r[2] == 108 && r[3] == 135);
}

/* ---- hostile files ---- */

/* A protobuf writer for hand-made models. */
typedef struct pbw {
    uint8_t buf[4096];
    size_t len;
} pbw;

static void w_varint(pbw *w, uint64_t v) {
    do {
        w->buf[w->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}
static void w_key(pbw *w, int field, int wire) { w_varint(w, (uint64_t)field << 3 | (uint64_t)wire); }
static void w_bytes(pbw *w, int field, const void *p, size_t n) {
    w_key(w, field, 2);
    w_varint(w, n);
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}
static void w_str(pbw *w, int field, const char *s) { w_bytes(w, field, s, strlen(s)); }
static void w_msg(pbw *w, int field, const pbw *m) { w_bytes(w, field, m->buf, m->len); }
static void w_int(pbw *w, int field, int64_t v) {
    w_key(w, field, 0);
    w_varint(w, (uint64_t)v);
}

static void attr_int(pbw *node, const char *name, int64_t v) {
    pbw a = {0};
    w_str(&a, 1, name);
    w_int(&a, 20, 2);
    w_int(&a, 3, v);
    w_msg(node, 5, &a);
}

static void value_info(pbw *graph, int field, const char *name, int rank, const int *dims) {
    pbw shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int d = 0; d < rank; d++) {
        pbw dim = {0};
        w_int(&dim, 1, dims[d]);
        w_msg(&shape, 1, &dim);
    }
    w_int(&tt, 1, 1);
    w_msg(&tt, 2, &shape);
    w_msg(&type, 1, &tt);
    w_str(&vi, 1, name);
    w_msg(&vi, 2, &type);
    w_msg(graph, field, &vi);
}

/* A model X (1,2,4,4) -> Conv(W: (2, 2/group, 3, 3), group) -> op_type -> Y. */
static size_t tiny_model(uint8_t *out, int group, const char *op_type) {
    pbw graph = {0}, conv = {0}, node = {0}, init = {0}, model = {0}, opset = {0};
    w_str(&conv, 1, "X");
    w_str(&conv, 1, "W");
    w_str(&conv, 2, "C");
    w_str(&conv, 3, "conv0");
    w_str(&conv, 4, "Conv");
    attr_int(&conv, "group", group);
    w_msg(&graph, 1, &conv);
    w_str(&node, 1, "C");
    w_str(&node, 2, "Y");
    w_str(&node, 3, "last");
    w_str(&node, 4, op_type);
    w_msg(&graph, 1, &node);
    int cin = 2 / group;
    w_int(&init, 1, 2);
    w_int(&init, 1, cin);
    w_int(&init, 1, 3);
    w_int(&init, 1, 3);
    w_int(&init, 2, 1);
    w_str(&init, 8, "W");
    float weights[2 * 2 * 9];
    for (int i = 0; i < 2 * cin * 9; i++) weights[i] = 0.1f * (float)(i % 5) - 0.2f;
    w_bytes(&init, 9, weights, (size_t)(2 * cin * 9) * sizeof(float));
    w_msg(&graph, 5, &init);
    value_info(&graph, 11, "X", 4, (const int[]){1, 2, 4, 4});
    value_info(&graph, 12, "Y", 4, (const int[]){1, 2, 2, 2});
    w_int(&model, 1, 7);
    w_int(&opset, 2, 13);
    w_msg(&model, 8, &opset);
    w_msg(&model, 7, &graph);
    memcpy(out, model.buf, model.len);
    return model.len;
}

TEST(refuses_unsupported) {
    uint8_t buf[4096];
    onnx_net *net;
    size_t n = tiny_model(buf, 1, "Relu");
    CHECK_OK(onnx_net_load_buffer(buf, n, "tiny.onnx", &net));
    CHECK(onnx_net_n_ops(net) == 1); /* the Relu fused into the convolution */
    CHECK(!strcmp(onnx_net_op_name(net, 0), "Conv+Relu"));
    onnx_net_free(net);
    n = tiny_model(buf, 2, "Relu"); /* group 2 with 2 channels: depthwise */
    CHECK_OK(onnx_net_load_buffer(buf, n, "tiny.onnx", &net));
    CHECK(!strcmp(onnx_net_op_name(net, 0), "Conv(depthwise)+Relu"));
    onnx_net_free(net);

    n = tiny_model(buf, 1, "LSTM");
    CHECK(onnx_net_load_buffer(buf, n, "tiny.onnx", &net) == FR_E_UNSUPPORTED);
    CHECK(strstr(fr_last_error(), "tiny.onnx") && strstr(fr_last_error(), "LSTM"));
    /* grouped convolution that is not depthwise: W (2,1,3,3) with group 2 over 4 channels
     * cannot be made here, so check the other refusal: a group that does not divide */
    n = tiny_model(buf, 3, "Relu");
    CHECK(onnx_net_load_buffer(buf, n, "tiny.onnx", &net) != FR_OK);
    CHECK(strstr(fr_last_error(), "tiny.onnx") && strstr(fr_last_error(), "Conv"));
}

TEST(refuses_corrupt) {
    uint8_t buf[4096];
    onnx_net *net;
    size_t n = tiny_model(buf, 1, "Relu");
    /* every truncation of the small model is refused with a message naming it */
    for (size_t len = 0; len < n; len++) {
        fr_status st = onnx_net_load_buffer(buf, len, "cut.onnx", &net);
        if (st == FR_OK) {
            onnx_net_free(net);
            fprintf(stderr, "a model cut at %zu of %zu bytes was accepted\n", len, n);
            CHECK(0);
        }
        CHECK(strstr(fr_last_error(), "cut.onnx") != NULL);
    }
    /* every single-byte change: no crash (found by the sanitizers), refused or a valid net */
    for (size_t i = 0; i < n; i++) {
        uint8_t saved = buf[i];
        static const uint8_t values[] = {0x00, 0xff, 0x80, 0x7f, 0x0a, 0x12};
        for (size_t v = 0; v < sizeof values; v++) {
            buf[i] = values[v];
            if (onnx_net_load_buffer(buf, n, "flip.onnx", &net) == FR_OK) onnx_net_free(net);
        }
        buf[i] = saved;
    }
    /* not protobuf at all */
    const char *text = "this is not a model\n";
    CHECK(onnx_net_load_buffer((const uint8_t *)text, strlen(text), "text.onnx", &net) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), "text.onnx") != NULL);
    /* a length running past the end, a varint of eleven bytes, a group */
    static const uint8_t past_end[] = {0x3a, 0x40, 0x0a, 0x01};
    static const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0x01};
    static const uint8_t group[] = {0x0b, 0x0c};
    CHECK(onnx_net_load_buffer(past_end, sizeof past_end, "a.onnx", &net) == FR_E_MODEL);
    CHECK(onnx_net_load_buffer(long_varint, sizeof long_varint, "b.onnx", &net) == FR_E_MODEL);
    CHECK(onnx_net_load_buffer(group, sizeof group, "c.onnx", &net) == FR_E_MODEL);
}

/* Truncations of the real model (its weights are most of the file) and a missing file. */
TEST(refuses_truncated_model) {
    char path[1024];
    if (!model_path(path, sizeof path)) SKIP("%s missing (run scripts/setup.sh)", path);
    uint8_t *data;
    size_t size;
    CHECK_OK(fr_read_file(path, 1 << 24, &data, &size));
    onnx_net *net;
    static const double cuts[] = {0.0001, 0.001, 0.01, 0.1, 0.5, 0.9, 0.999, 0.99999};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        fr_status st = onnx_net_load_buffer(data, (size_t)(cuts[i] * (double)size), "cut.onnx", &net);
        if (st == FR_OK) onnx_net_free(net);
        CHECK(st == FR_E_MODEL);
    }
    free(data);
    CHECK(onnx_net_load("/nonexistent/fr_liveness.onnx", &net) == FR_E_IO);
}

/* The package's other models use what the evaluator does not run: a clear refusal. */
TEST(refuses_other_models) {
    char path[1024];
    if (!model_path(path, sizeof path)) SKIP("%s missing (run scripts/setup.sh)", path);
    static const struct { const char *file, *what; } models[] = {
        {"fr_gender.onnx", "operator Pad is not supported"},
        {"fr_eye.onnx", "operator MaxPool is not supported"},
        {"fr_detect.onnx", "dilations"}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        snprintf(path, sizeof path, "%s/faceplugin-face-recognition-js/model/%s",
                 FR_TEST_MODELS_DIR, models[i].file);
        onnx_net *net;
        fr_status st = onnx_net_load(path, &net);
        if (st == FR_OK) onnx_net_free(net);
        CHECK(st == FR_E_UNSUPPORTED);
        CHECK(strstr(fr_last_error(), models[i].file) && strstr(fr_last_error(), models[i].what));
    }
}

TEST_MAIN(CASE(reference_synthetic), CASE(reference_ops), CASE(reference_crops), CASE(sample_photos),
          CASE(engine_without_liveness_refuses), CASE(crop_rect_inside), CASE(refuses_unsupported),
          CASE(refuses_corrupt), CASE(refuses_truncated_model),
          CASE(refuses_other_models))
