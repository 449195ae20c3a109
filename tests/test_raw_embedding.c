/* test_raw_embedding.c: fr_config.raw_embedding keeps dlib-resnet's descriptors in dlib's
 * own scale (what dlib and face_recognition return): the same direction as the unit vectors,
 * a length of dlib's order (about 1.4 on faces), a model id of their own, flip as a plain
 * mean, and no fusion. (Parity of raw descriptors with face-api.js's, the same weights, is
 * checked by python/tests/test_api.py against tests/data/faceapi.) */
#include "facerec.h"
#include "test.h"

#define SAMPLE1 FR_TEST_MODELS_DIR "/face-api/demo/sample1.jpg"

static int have_models(void) {
    FILE *f = fopen(FR_TEST_MODELS_DIR "/face-api/model/face_recognition_model.bin", "rb");
    if (f) fclose(f);
    return f != NULL;
}

static fr_status open_dlib(int raw, int flip, fr_engine **eng) {
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = "dlib-resnet";
    cfg.flip = flip;
    cfg.raw_embedding = raw;
    return fr_engine_open(&cfg, eng);
}

static double norm(const float *v, int dim) {
    double s = 0;
    for (int k = 0; k < dim; k++) s += (double)v[k] * v[k];
    return sqrt(s);
}

/* The faces of sample1 embedded by an engine (raw or not, flip or not). */
static fr_status embed_sample(int raw, int flip, fr_face **faces, int *n, char *model,
                              size_t model_size) {
    fr_engine *eng;
    fr_image *img;
    fr_status st = open_dlib(raw, flip, &eng);
    if (st != FR_OK) return st;
    st = fr_image_load(SAMPLE1, &img);
    if (st == FR_OK) st = fr_process(eng, img, faces, n);
    snprintf(model, model_size, "%s", fr_engine_model(eng));
    fr_image_free(img);
    fr_engine_close(eng);
    return st;
}

TEST(raw_is_the_unit_vector_in_dlib_scale) {
    if (!have_models()) SKIP("models absent in %s (scripts/setup.sh)", FR_TEST_MODELS_DIR);
    fr_face *unit = NULL, *raw = NULL;
    int n_unit = 0, n_raw = 0;
    char model_unit[64], model_raw[64];
    CHECK_OK(embed_sample(0, 0, &unit, &n_unit, model_unit, sizeof model_unit));
    CHECK_OK(embed_sample(1, 0, &raw, &n_raw, model_raw, sizeof model_raw));
    CHECK(!strcmp(model_unit, "dlib-resnet") && !strcmp(model_raw, "dlib-resnet:raw"));
    CHECK(n_unit == 3 && n_raw == 3);
    for (int i = 0; i < n_raw; i++) {
        CHECK(raw[i].dim == 128);
        double len = norm(raw[i].embedding, 128);
        /* dlib's descriptors of faces are about 1.3-1.6 long (face-api's fixtures: 1.4-1.5) */
        CHECK(len > 1.2 && len < 1.8);
        CHECK_NEAR(norm(unit[i].embedding, 128), 1.0, 1e-5);
        for (int k = 0; k < 128; k++)
            CHECK_NEAR(raw[i].embedding[k] / len, unit[i].embedding[k], 1e-5);
    }
    printf("  raw descriptor lengths %.3f %.3f %.3f\n", norm(raw[0].embedding, 128),
           norm(raw[1].embedding, 128), norm(raw[2].embedding, 128));
    fr_faces_free(unit);
    fr_faces_free(raw);
}

TEST(raw_flip_is_the_plain_mean) {
    if (!have_models()) SKIP("models absent in %s (scripts/setup.sh)", FR_TEST_MODELS_DIR);
    fr_engine *eng;
    fr_image *img, *mirror;
    CHECK_OK(open_dlib(1, 0, &eng));
    CHECK_OK(fr_image_load(SAMPLE1, &img));
    CHECK_OK(fr_image_mirror(img, &mirror));
    fr_face whole, whole_mirror;
    CHECK_OK(fr_embed_image(eng, img, &whole));
    CHECK_OK(fr_embed_image(eng, mirror, &whole_mirror));
    fr_engine_close(eng);
    fr_face flipped;
    CHECK_OK(open_dlib(1, 1, &eng));
    CHECK_OK(fr_embed_image(eng, img, &flipped));
    fr_engine_close(eng);
    for (int k = 0; k < 128; k++)
        CHECK_NEAR(flipped.embedding[k], 0.5f * (whole.embedding[k] + whole_mirror.embedding[k]),
                   1e-5);
    CHECK(fabs(norm(flipped.embedding, 128) - 1.0) > 0.01);
    fr_image_free(img);
    fr_image_free(mirror);
}

TEST(raw_needs_a_single_model) {
    if (!have_models()) SKIP("models absent in %s (scripts/setup.sh)", FR_TEST_MODELS_DIR);
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.raw_embedding = 1; /* with the default model, the fusion */
    fr_engine *eng = NULL;
    CHECK(fr_engine_open(&cfg, &eng) == FR_E_ARG);
    CHECK(eng == NULL);
    CHECK(strstr(fr_last_error(), "raw embeddings need a single model") != NULL);
}

TEST_MAIN(CASE(raw_is_the_unit_vector_in_dlib_scale), CASE(raw_flip_is_the_plain_mean),
          CASE(raw_needs_a_single_model))
