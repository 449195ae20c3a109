/* test_tfjs.c: the tfjs weight-map loader and the weight set lookups: the five face-api
 * manifests, synthetic manifests of every dtype, and refusals of broken ones. */
#include "common/common.h"
#include "nn/import/tfjs.h"
#include "nn/weights.h"
#include "test.h"

#include <stdint.h>

/* ---- helpers writing synthetic weight maps into FR_TEST_TMP_DIR ---- */

typedef struct bytes {
    uint8_t data[256];
    size_t len;
} bytes;

static void put_u8(bytes *b, unsigned v) { b->data[b->len++] = (uint8_t)v; }
static void put_u16(bytes *b, unsigned v) {
    put_u8(b, v & 0xFF);
    put_u8(b, (v >> 8) & 0xFF);
}
static void put_u32(bytes *b, uint32_t v) {
    put_u16(b, v & 0xFFFF);
    put_u16(b, v >> 16);
}
static void put_f32(bytes *b, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(b, v);
}

static void tmp_path(const char *file, char *out, size_t outsz) {
    snprintf(out, outsz, "%s/%s", FR_TEST_TMP_DIR, file);
}

static int write_file(const char *file, const void *data, size_t len) {
    char path[512];
    tmp_path(file, path, sizeof path);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Writes manifest `file` with `text`, loads it and returns the status (freeing any result). */
static fr_status load_text(const char *file, const char *text) {
    char path[512];
    tmp_path(file, path, sizeof path);
    if (!write_file(file, text, strlen(text))) return FR_E_IO;
    nn_weights *w = (nn_weights *)1;
    fr_status st = nn_tfjs_load(path, &w);
    if (st == FR_OK)
        nn_weights_free(w);
    else if (w != NULL)
        return FR_E_ARG; /* *out must be NULL after a failure */
    return st;
}

/* A load that must fail with `status` and a message naming every string of `names`. */
static int refused(const char *file, const char *text, fr_status status, const char *name1,
                   const char *name2) {
    fr_status st = load_text(file, text);
    const char *msg = fr_last_error();
    int ok = st == status && strstr(msg, name1) && (!name2 || strstr(msg, name2));
    if (!ok)
        fprintf(stderr, "  %s: status %d, message \"%s\" (wanted %d naming %s and %s)\n", file,
                (int)st, msg, (int)status, name1, name2 ? name2 : "-");
    return ok;
}

/* ---- the face-api models ---- */

static int all_finite(const nn_weights *w) {
    for (int i = 0; i < w->count; i++)
        for (size_t j = 0; j < w->tensors[i].count; j++)
            if (!isfinite(w->tensors[i].data[j])) return 0;
    return 1;
}

static fr_status load_model(const char *name, nn_weights **w) {
    char path[1024];
    snprintf(path, sizeof path, "%s/face-api/model/%s-weights_manifest.json", FR_TEST_MODELS_DIR,
             name);
    return nn_tfjs_load(path, w);
}

static int models_present(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/face-api/model/tiny_face_detector_model.bin",
             FR_TEST_MODELS_DIR);
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

TEST(test_faceapi_manifests_load) {
    if (!models_present()) SKIP("face-api models absent (run scripts/setup.sh)");
    const struct {
        const char *model, *tensor;
        int tensors, ndim, shape[4];
    } models[] = {
        {"ssd_mobilenetv1_model",
         "Prediction/BoxPredictor_0/ClassPredictor/weights",
         151,
         4,
         {1, 1, 512, 9}},
        {"tiny_face_detector_model", "conv0/filters", 19, 4, {3, 3, 3, 16}},
        {"face_landmark_68_model", "dense0/conv0/filters", 49, 4, {3, 3, 3, 32}},
        {"face_landmark_68_tiny_model", "dense0/conv0/bias", 28, 1, {32}},
        {"face_recognition_model", "conv32_down/conv/filters", 117, 4, {7, 7, 3, 32}},
    };
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        nn_weights *w;
        CHECK_OK(load_model(models[m].model, &w));
        float *data;
        fr_status st = nn_weights_get(w, models[m].tensor, models[m].ndim, models[m].shape, &data);
        int ok = st == FR_OK && w->count == models[m].tensors && all_finite(w) &&
                 strstr(w->source, models[m].model);
        if (!ok)
            fprintf(stderr, "  %s: %d tensors, %s\n", models[m].model, w->count, fr_last_error());
        nn_weights_free(w);
        CHECK(ok);
    }
}

TEST(test_faceapi_values) {
    if (!models_present()) SKIP("face-api models absent (run scripts/setup.sh)");
    /* the first byte of the tiny face detector's shard, dequantised with its manifest's
     * scale and min, is the first filter weight */
    char path[1024];
    snprintf(path, sizeof path, "%s/face-api/model/tiny_face_detector_model.bin",
             FR_TEST_MODELS_DIR);
    uint8_t *bin;
    size_t size;
    CHECK_OK(fr_read_file(path, 1 << 20, &bin, &size));
    double expected = bin[0] * 0.009007044399485869 + -1.2069439495311063;
    free(bin);
    nn_weights *w;
    CHECK_OK(load_model("tiny_face_detector_model", &w));
    float *filters;
    fr_status st = nn_weights_get(w, "conv0/filters", 4, (const int[]){3, 3, 3, 16}, &filters);
    float first = st == FR_OK ? filters[0] : NAN;
    nn_weights_free(w);
    CHECK_OK(st);
    CHECK(first == (float)expected);

    /* int32 tensors of the SSD graph are dequantised and rounded to exact integers */
    CHECK_OK(load_model("ssd_mobilenetv1_model", &w));
    const nn_tensor_entry *anchors = nn_weights_find(w, "Postprocessor/stack/1");
    const nn_tensor_entry *size2 = nn_weights_find(w, "Preprocessor/ResizeImage/size");
    int ok = anchors && anchors->ndim == 0 && anchors->count == 1 && anchors->data[0] == 5118.0f &&
             size2 && size2->ndim == 1 && size2->count == 2 && size2->data[0] == 512.0f &&
             size2->data[1] == 512.0f;
    nn_weights_free(w);
    CHECK(ok);
}

/* ---- synthetic manifests ---- */

static const char synthetic_manifest[] =
    "[{\"paths\": [\"syn_a.bin\", \"syn_b.bin\"], \"weights\": ["
    " {\"name\": \"f32\", \"shape\": [2, 2], \"dtype\": \"float32\"},"
    " {\"name\": \"i32\", \"shape\": [3], \"dtype\": \"int32\"},"
    " {\"name\": \"u8\", \"shape\": [2, 2], \"dtype\": \"float32\","
    "  \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.5, \"min\": -1}},"
    " {\"name\": \"u16\", \"shape\": [2], \"dtype\": \"float32\","
    "  \"quantization\": {\"dtype\": \"uint16\", \"min\": 2, \"scale\": 0.001}},"
    " {\"name\": \"f16\", \"shape\": [2, 2, 2], \"dtype\": \"float32\","
    "  \"quantization\": {\"dtype\": \"float16\", \"original_dtype\": \"float32\"}},"
    " {\"name\": \"i32q\", \"shape\": [4], \"dtype\": \"int32\","
    "  \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.5, \"min\": -1.0}},"
    " {\"name\": \"scalar\", \"shape\": [], \"dtype\": \"float32\"}]},"
    " {\"paths\": [\"syn_c.bin\"], \"weights\": ["
    " {\"name\": \"g1\", \"shape\": [1, 1, 1, 1, 1, 1], \"dtype\": \"float32\"}]}]";

static int write_synthetic(void) {
    bytes b = {0};
    put_f32(&b, 1.5f), put_f32(&b, -2.25f), put_f32(&b, 1e-3f), put_f32(&b, 3e38f);
    put_u32(&b, (uint32_t)-7), put_u32(&b, 0), put_u32(&b, 123456);
    put_u8(&b, 0), put_u8(&b, 1), put_u8(&b, 128), put_u8(&b, 255);
    put_u16(&b, 0), put_u16(&b, 65535);
    /* 1, -2, smallest subnormal, largest subnormal, largest normal, 0.5, -largest normal, -0
     * (infinities are refused by the loader: nn_half_to_float's own case below) */
    const unsigned halves[8] = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0x3800, 0xFBFF, 0x8000};
    for (int i = 0; i < 8; i++) put_u16(&b, halves[i]);
    put_u8(&b, 3), put_u8(&b, 1), put_u8(&b, 4),
        put_u8(&b, 0); /* 0.5, -0.5, 1, -1 before rounding */
    put_f32(&b, 42.0f);
    /* the group's data is split across two shards in the middle of a tensor */
    bytes c = {0};
    put_f32(&c, 7.0f);
    return write_file("syn_a.bin", b.data, 10) &&
           write_file("syn_b.bin", b.data + 10, b.len - 10) &&
           write_file("syn_c.bin", c.data, c.len) &&
           write_file("syn.json", synthetic_manifest, strlen(synthetic_manifest));
}

static int values_are(const nn_weights *w, const char *name, int n, const float *expected) {
    const nn_tensor_entry *t = nn_weights_find(w, name);
    if (!t || t->count != (size_t)n) return 0;
    for (int i = 0; i < n; i++)
        if (memcmp(&t->data[i], &expected[i], sizeof(float)) != 0) { /* bit-exact, -0 too */
            fprintf(stderr, "  %s[%d] = %.9g, expected %.9g\n", name, i, t->data[i], expected[i]);
            return 0;
        }
    return 1;
}

TEST(test_synthetic_every_dtype) {
    CHECK(write_synthetic());
    char path[512];
    tmp_path("syn.json", path, sizeof path);
    nn_weights *w;
    CHECK_OK(nn_tfjs_load(path, &w));
    int ok = w->count == 8;
    ok = ok && values_are(w, "f32", 4, (const float[]){1.5f, -2.25f, 1e-3f, 3e38f});
    ok = ok && values_are(w, "i32", 3, (const float[]){-7.0f, 0.0f, 123456.0f});
    ok = ok && values_are(w, "u8", 4, (const float[]){-1.0f, -0.5f, 63.0f, 126.5f});
    ok = ok && values_are(w, "u16", 2, (const float[]){2.0f, (float)(65535 * 0.001 + 2)});
    ok = ok &&
         values_are(w, "f16", 8,
                    (const float[]){1.0f, -2.0f, 5.9604644775390625e-8f, 6.0975551605224609375e-5f,
                                    65504.0f, 0.5f, -65504.0f, -0.0f});
    ok = ok && nn_half_to_float(0x7C00) == INFINITY && nn_half_to_float(0xFC00) == -INFINITY &&
         isnan(nn_half_to_float(0x7E00));
    /* rounded as JavaScript's Math.round does: halves go up, so -0.5 becomes 0 */
    ok = ok && values_are(w, "i32q", 4, (const float[]){1.0f, 0.0f, 1.0f, -1.0f});
    ok = ok && values_are(w, "scalar", 1, (const float[]){42.0f});
    ok = ok && values_are(w, "g1", 1, (const float[]){7.0f});
    const nn_tensor_entry *f16 = nn_weights_find(w, "f16"), *scalar = nn_weights_find(w, "scalar");
    ok = ok && f16->ndim == 3 && f16->shape[0] == 2 && f16->shape[2] == 2 && scalar->ndim == 0 &&
         nn_weights_find(w, "g1")->ndim == 6;
    nn_weights_free(w);
    CHECK(ok);
}

TEST(test_weights_get) {
    CHECK(write_synthetic());
    char path[512];
    tmp_path("syn.json", path, sizeof path);
    nn_weights *w;
    CHECK_OK(nn_tfjs_load(path, &w));
    float *data = NULL;
    fr_status ok_status = nn_weights_get(w, "u8", 2, (const int[]){2, 2}, &data);
    int ok = ok_status == FR_OK && data == nn_weights_find(w, "u8")->data;
    fr_status wrong_shape = nn_weights_get(w, "u8", 1, (const int[]){4}, &data);
    char wrong_shape_msg[1024];
    snprintf(wrong_shape_msg, sizeof wrong_shape_msg, "%s", fr_last_error());
    int data_cleared = data == NULL;
    fr_status wrong_dim = nn_weights_get(w, "f16", 3, (const int[]){2, 2, 3}, &data);
    char wrong_dim_msg[1024];
    snprintf(wrong_dim_msg, sizeof wrong_dim_msg, "%s", fr_last_error());
    fr_status missing = nn_weights_get(w, "nothing", 1, (const int[]){1}, &data);
    int found_nothing = nn_weights_find(w, "nothing") == NULL;
    nn_weights_free(w);
    CHECK(ok);
    CHECK(wrong_shape == FR_E_MODEL && data_cleared);
    CHECK(strstr(wrong_shape_msg, "syn.json: tensor 'u8' has shape [2,2], expected [4]"));
    CHECK(wrong_dim == FR_E_MODEL);
    CHECK(strstr(wrong_dim_msg, "syn.json: tensor 'f16' has shape [2,2,2], expected [2,2,3]"));
    CHECK(missing == FR_E_MODEL && found_nothing);
    CHECK(strstr(fr_last_error(), "syn.json: tensor 'nothing' not found"));
}

/* ---- refusals ---- */

#define ONE_TENSOR(name, shape, dtype, extra)                                                      \
    "[{\"paths\": [\"ref.bin\"], \"weights\": [{\"name\": \"" name "\", \"shape\": " shape         \
    ", \"dtype\": \"" dtype "\"" extra "}]}]"

TEST(test_refusals) {
    float zeros[16] = {0};
    CHECK(write_file("ref.bin", zeros, 16));
    /* the reference manifest loads, so each refusal below is due to its one change */
    CHECK_OK(load_text("ref_ok.json", ONE_TENSOR("t", "[2, 2]", "float32", "")));

    /* truncated shard: the first tensor that does not fit is named, with the shard */
    CHECK(write_file("trunc.bin", zeros, 20));
    CHECK(refused("trunc.json",
                  "[{\"paths\": [\"trunc.bin\"], \"weights\": ["
                  "{\"name\": \"first\", \"shape\": [4], \"dtype\": \"float32\"},"
                  "{\"name\": \"second\", \"shape\": [4], \"dtype\": \"float32\"}]}]",
                  FR_E_MODEL, "trunc.bin: truncated: tensor 'second'", "trunc.json"));
    /* ... also when the data ends exactly at a tensor boundary */
    CHECK(refused("trunc_edge.json",
                  "[{\"paths\": [\"ref.bin\"], \"weights\": ["
                  "{\"name\": \"fits\", \"shape\": [4], \"dtype\": \"float32\"},"
                  "{\"name\": \"after\", \"shape\": [1], \"dtype\": \"float32\"}]}]",
                  FR_E_MODEL, "ref.bin: truncated: tensor 'after' needs bytes 16 to 20",
                  "trunc_edge.json"));
    /* too many bytes */
    CHECK(refused("long.json", ONE_TENSOR("short", "[3]", "float32", ""), FR_E_MODEL,
                  "ref.bin: the group's data has 16 bytes, but its tensors up to 'short' take 12",
                  "long.json"));
    /* the byte counts follow the stored type: 16 bytes are 16 uint8 values, not 4 */
    CHECK(
        refused("q_len.json",
                ONE_TENSOR("q", "[4]", "float32",
                           ", \"quantization\": {\"dtype\": \"uint8\", \"min\": 0, \"scale\": 1}"),
                FR_E_MODEL, "ref.bin: the group's data has 16 bytes", "'q' take 4"));
    /* a missing shard */
    CHECK(refused("missing.json",
                  "[{\"paths\": [\"nothere.bin\"], \"weights\": "
                  "[{\"name\": \"lost\", \"shape\": [1], \"dtype\": \"float32\"}]}]",
                  FR_E_MODEL, "missing.json: shard of tensor 'lost'", "nothere.bin: cannot open"));
    /* ... also when an earlier shard of the group was read */
    CHECK(refused("missing2.json",
                  "[{\"paths\": [\"ref.bin\", \"gone.bin\"], \"weights\": "
                  "[{\"name\": \"head\", \"shape\": [8], \"dtype\": \"float32\"}]}]",
                  FR_E_MODEL, "missing2.json: shard of tensor 'head'", "gone.bin: cannot open"));
    /* shapes */
    CHECK(refused("neg.json", ONE_TENSOR("neg", "[-1, 2]", "float32", ""), FR_E_MODEL,
                  "neg.json: tensor 'neg': dimension 0 of \"shape\" is not a non-negative integer",
                  NULL));
    CHECK(refused("frac.json", ONE_TENSOR("frac", "[2, 2.5]", "float32", ""), FR_E_MODEL,
                  "frac.json: tensor 'frac': dimension 1", NULL));
    CHECK(refused("strdim.json", ONE_TENSOR("strdim", "[\"4\"]", "float32", ""), FR_E_MODEL,
                  "strdim.json: tensor 'strdim': dimension 0", NULL));
    CHECK(refused("bigdim.json", ONE_TENSOR("bigdim", "[4294967296]", "float32", ""), FR_E_MODEL,
                  "bigdim.json: tensor 'bigdim': dimension 0", NULL));
    CHECK(refused("noshape.json", ONE_TENSOR("noshape", "{}", "float32", ""), FR_E_MODEL,
                  "noshape.json: tensor 'noshape': \"shape\" is missing", NULL));
    CHECK(refused("overflow.json",
                  ONE_TENSOR("huge", "[2147483647, 2147483647, 2147483647]", "float32", ""),
                  FR_E_MODEL, "overflow.json: tensor 'huge': shape too large", NULL));
    CHECK(refused("overflow_bytes.json",
                  ONE_TENSOR("huge_bytes", "[2147483647, 2147483647, 2]", "float32", ""),
                  FR_E_MODEL, "overflow_bytes.json: tensor 'huge_bytes': shape too large", NULL));
    CHECK(
        refused("sumover.json",
                "[{\"paths\": [\"ref.bin\"], \"weights\": ["
                "{\"name\": \"a\", \"shape\": [2147483647, 2147483647], \"dtype\": \"float32\"},"
                "{\"name\": \"b\", \"shape\": [2147483647, 2147483647], \"dtype\": \"float32\"}]}]",
                FR_E_MODEL, "sumover.json: tensor 'b': group too large", NULL));
    CHECK(refused("ndim.json", ONE_TENSOR("deep", "[1, 1, 1, 1, 1, 1, 4]", "float32", ""),
                  FR_E_UNSUPPORTED, "ndim.json: tensor 'deep' has 7 dimensions", NULL));
    /* dtypes */
    CHECK(refused("bool.json", ONE_TENSOR("flag", "[16]", "bool", ""), FR_E_UNSUPPORTED,
                  "bool.json: tensor 'flag': unsupported dtype \"bool\"", NULL));
    CHECK(
        refused("nodtype.json",
                "[{\"paths\": [\"ref.bin\"], \"weights\": [{\"name\": \"nod\", \"shape\": [4]}]}]",
                FR_E_MODEL, "nodtype.json: tensor 'nod': missing \"dtype\"", NULL));
    CHECK(refused("qtype.json",
                  ONE_TENSOR("q4", "[32]", "float32", ", \"quantization\": {\"dtype\": \"int4\"}"),
                  FR_E_UNSUPPORTED,
                  "qtype.json: tensor 'q4': unsupported quantization dtype \"int4\"", NULL));
    CHECK(refused("qmin.json",
                  ONE_TENSOR("qm", "[16]", "float32",
                             ", \"quantization\": {\"dtype\": \"uint8\", \"scale\": 1}"),
                  FR_E_MODEL, "qmin.json: tensor 'qm': uint8 quantization needs numbers", NULL));
    CHECK(refused("qf16int.json",
                  ONE_TENSOR("hi", "[8]", "int32", ", \"quantization\": {\"dtype\": \"float16\"}"),
                  FR_E_UNSUPPORTED, "qf16int.json: tensor 'hi': float16 quantization of an int32",
                  NULL));
    /* names */
    CHECK(refused(
        "noname.json",
        "[{\"paths\": [\"ref.bin\"], \"weights\": [{\"shape\": [4], \"dtype\": \"float32\"}]}]",
        FR_E_MODEL, "noname.json: group 0, weight 0: missing \"name\"", NULL));
    CHECK(write_file("half.bin", zeros, 8));
    CHECK(refused("dup.json",
                  "[{\"paths\": [\"half.bin\"], \"weights\": [{\"name\": \"twice\", \"shape\": "
                  "[2], \"dtype\": \"float32\"}]},"
                  " {\"paths\": [\"half.bin\"], \"weights\": [{\"name\": \"twice\", \"shape\": "
                  "[2], \"dtype\": \"float32\"}]}]",
                  FR_E_MODEL, "dup.json: tensor 'twice' appears twice", NULL));
    /* structure */
    CHECK(refused("object.json", "{\"paths\": [], \"weights\": []}", FR_E_MODEL,
                  "object.json: not a tfjs weights manifest", NULL));
    CHECK(refused("nopaths.json", "[{\"weights\": []}]", FR_E_MODEL,
                  "nopaths.json: group 0 needs arrays \"paths\" and \"weights\"", NULL));
    CHECK(refused("badpath.json",
                  "[{\"paths\": [3], \"weights\": [{\"name\": \"bp\", \"shape\": [4], \"dtype\": "
                  "\"float32\"}]}]",
                  FR_E_MODEL, "badpath.json: \"paths\" of the group of tensor 'bp'", NULL));
    CHECK(refused("malformed.json", "[{\"paths\": [\"ref.bin\"], \"weights\": [{\"name\" \"x\"}]}]",
                  FR_E_MODEL, "malformed.json: line 1, column 47: ':' expected", NULL));
    CHECK(refused("cut.json", "[{\"paths\": [\"ref.bin\"], \"weig", FR_E_MODEL,
                  "cut.json: line 1, column 29: premature end of input", NULL));
    char path[512];
    tmp_path("absent.json", path, sizeof path);
    nn_weights *w = NULL;
    CHECK(nn_tfjs_load(path, &w) == FR_E_MODEL && w == NULL);
    CHECK(strstr(fr_last_error(), "absent.json: cannot open"));
}

TEST_MAIN(CASE(test_faceapi_manifests_load), CASE(test_faceapi_values),
          CASE(test_synthetic_every_dtype), CASE(test_weights_get), CASE(test_refusals))
