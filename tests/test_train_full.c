/* test_train_full.c: training the whole dlib-resnet network. The gradient through the whole
 * network (small random inputs, random parameters) is checked against central finite
 * differences at parameters of the input conv, a down block (where face-api pads the convs'
 * output), the last block and the final matrix; the training forward pass is the network's
 * inference; a trained network's file round-trips through the engine under its own model id;
 * `facerec train --full` runs end to end and refuses other base models. */
#include "run.h"
#include "test.h"

#include "face/face.h"
#include "nets/dlib_resnet.h"
#include "train/train_internal.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static void fill(train_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = train_rng_uniform(r, lo, hi);
}

/* He-uniform weights; each block's second conv smaller, so that the activations do not grow
 * through the residual additions; small positive biases keep most ReLUs open. */
static void random_params(train_full *f, train_rng *r) {
    dlib_resnet_params v;
    dlib_resnet_params_view(f->params, &v);
    for (int i = 0; i < DLIB_RESNET_CONVS; i++) {
        const nn_conv *cv = &v.convs[i];
        size_t fan_in = (size_t)cv->kh * cv->kw * cv->cin;
        float limit = sqrtf(6.0f / (float)fan_in) * (i > 0 && i % 2 == 0 ? 0.3f : 1.0f);
        fill(r, (float *)cv->weight, fan_in * cv->cout, -limit, limit);
        fill(r, (float *)cv->bias, (size_t)cv->cout, 0.0f, 0.1f);
    }
    fill(r, (float *)v.fc, (size_t)DLIB_RESNET_FEATURES * DLIB_RESNET_DIM, -0.1f, 0.1f);
}

/* The unit embeddings y of a batch dotted with fixed random weights r, so that the gradient
 * w.r.t. y is r: the check covers every layer from the input conv through the normalisation
 * (the triplet loss's own gradient is checked in test_train.c; on a random network the
 * embeddings lie too close together for its finite differences). The batch of 9 images runs
 * backward in two chunks (of 8 and 1), so their offsets and the sum are checked too. */
#define BATCH 9

typedef struct full_ctx {
    train_full *f;
    train_full_pass *pass;
    const float *x;
    float y[BATCH * DLIB_RESNET_DIM], r[BATCH * DLIB_RESNET_DIM];
} full_ctx;

static double full_loss(full_ctx *c) {
    if (train_full_forward(c->f, TEST_THREADS, c->x, BATCH, c->pass, c->y) != FR_OK) return NAN;
    double s = 0.0;
    for (int i = 0; i < BATCH * DLIB_RESNET_DIM; i++) s += (double)c->y[i] * c->r[i];
    return s;
}

/* The indices of the k largest |g[i]| in [0, n), so that the relative error of each check
 * is measured on a gradient well above float32 rounding. */
static void largest(const float *g, size_t n, int k, size_t *out) {
    for (int j = 0; j < k; j++) {
        size_t best = 0;
        float best_value = -1.0f;
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (int q = 0; q < j; q++) taken |= out[q] == i;
            if (!taken && fabsf(g[i]) > best_value) best = i, best_value = fabsf(g[i]);
        }
        out[j] = best;
    }
}

/* The worst relative error of grad at the k largest-gradient entries of params[off, off+n). */
static double check_tensor(full_ctx *c, const float *grad, size_t off, size_t n, int k,
                           float eps) {
    size_t idx[8];
    largest(grad + off, n, k, idx);
    double worst = 0.0;
    for (int j = 0; j < k; j++) {
        float *p = c->f->params + off + idx[j], keep = *p;
        *p = keep + eps;
        double up = full_loss(c);
        *p = keep - eps;
        double down = full_loss(c);
        *p = keep;
        double numeric = (up - down) / (2.0 * eps), analytic = grad[off + idx[j]];
        double err = fabs(numeric - analytic) / fmax(fabs(numeric), fabs(analytic));
        if (err > worst) worst = err;
    }
    return worst;
}

TEST(whole_network_gradient_matches_finite_differences) {
    const int size = DLIB_RESNET_MIN_INPUT;
    train_full *f;
    train_full_pass *pass;
    CHECK_OK(train_full_new(&f));
    CHECK_OK(train_full_pass_new(BATCH, size, &pass));
    train_rng r = {2024};
    random_params(f, &r);
    size_t nx = (size_t)BATCH * size * size * 3;
    float *x = malloc(nx * sizeof *x), *grad = calloc(f->n_params, sizeof *grad);
    CHECK(x && grad);
    fill(&r, x, nx, -0.5f, 0.5f);
    full_ctx c = {f, pass, x, {0}, {0}};
    fill(&r, c.r, BATCH * DLIB_RESNET_DIM, -1.0f, 1.0f);
    CHECK(isfinite(full_loss(&c)));
    CHECK_OK(train_full_backward(f, TEST_THREADS, pass, c.r, grad));

    dlib_resnet_params v;
    dlib_resnet_params_view(f->params, &v);
    /* the input conv, the first down block's two convs (the first conv of 24x24 gives 11x11,
     * padded to the pool's 12x12), its bias, and the final matrix */
    const nn_conv *in = &v.convs[0], *d1 = &v.convs[1 + 2 * 3], *d2 = &v.convs[2 + 2 * 3];
    /* the bound: float32 rounding and the kinks of ReLUs and max pools crossed by the step
     * limit finite differences, most at the input conv (whose weights move every value of
     * the 49x49 map under some 2,000 max-pool windows); a wrong term gives errors near 1 */
    struct {
        const char *what;
        const float *at;
        size_t n;
        double bound;
    } tensors[] = {
        {"input conv weights", in->weight, (size_t)7 * 7 * 3 * 32, 6e-2},
        {"input conv bias", in->bias, 32, 2e-2},
        {"down block conv1 weights", d1->weight, (size_t)3 * 3 * 32 * 64, 1e-2},
        {"down block conv2 weights", d2->weight, (size_t)3 * 3 * 64 * 64, 1e-2},
        {"down block conv2 bias", d2->bias, 64, 1e-2},
        {"last block conv2 weights", v.convs[DLIB_RESNET_CONVS - 1].weight,
         (size_t)3 * 3 * 256 * 256, 1e-2},
        {"final matrix", v.fc, (size_t)DLIB_RESNET_FEATURES * DLIB_RESNET_DIM, 1e-2},
    };
    for (size_t t = 0; t < sizeof tensors / sizeof tensors[0]; t++) {
        double err = check_tensor(&c, grad, (size_t)(tensors[t].at - f->params), tensors[t].n, 2,
                                  2e-3f);
        printf("  %s: worst relative error %.2e\n", tensors[t].what, err);
        CHECK(err < tensors[t].bound);
    }
    free(x);
    free(grad);
    train_full_pass_free(pass);
    train_full_free(f);
}

#define MANIFEST FR_TEST_MODELS_DIR "/face-api/model/face_recognition_model-weights_manifest.json"

/* n synthetic 150x150 "crops" (smooth random patterns, so that no value sits on a kink). */
static void synthetic_crops(int n, fr_image **crops) {
    train_rng r = {99};
    for (int i = 0; i < n; i++) {
        if (fr_image_new(150, 150, &crops[i]) != FR_OK) return;
        float a = train_rng_uniform(&r, 0.02f, 0.2f), b = train_rng_uniform(&r, 0.02f, 0.2f);
        for (int y = 0; y < 150; y++)
            for (int x = 0; x < 150; x++)
                for (int ch = 0; ch < 3; ch++)
                    crops[i]->rgb[(y * 150 + x) * 3 + ch] =
                        (uint8_t)(127.5f + 120.0f * sinf(a * x + b * y + 2.0f * ch + i));
    }
}

TEST(trained_network_file_round_trips_through_the_engine) {
    struct stat sb;
    if (stat(MANIFEST, &sb) != 0) SKIP("face-api models absent (run scripts/setup.sh)");
    enum { N = 3 };
    fr_image *crops[N] = {NULL};
    synthetic_crops(N, crops);
    for (int i = 0; i < N; i++) CHECK(crops[i]);
    train_full *f, *back;
    CHECK_OK(train_full_load(MANIFEST, &f));

    /* the untrained network's training forward is the stock network, normalised */
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = "dlib-resnet";
    fr_engine *eng;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    float stock[N * DLIB_RESNET_DIM], y[N * DLIB_RESNET_DIM], out[N * DLIB_RESNET_DIM];
    CHECK_OK(fr_engine_embed_crops(eng, (const fr_image *const *)crops, N, stock));
    fr_engine_close(eng);
    nn_l2_normalize(stock, N, DLIB_RESNET_DIM);
    train_full_pass *pass;
    CHECK_OK(train_full_pass_new(N, DLIB_RESNET_INPUT, &pass));
    CHECK_OK(train_full_forward_crops(f, TEST_THREADS, (const fr_image *const *)crops, N, pass, y));
    for (int i = 0; i < N * DLIB_RESNET_DIM; i++) CHECK_NEAR(y[i], stock[i], 1e-5);
    train_full_pass_free(pass);

    /* a changed network: saved, read back, and run by the engine under its own id */
    for (size_t i = 0; i < f->n_params; i += 97) f->params[i] *= 1.01f;
    train_full_update_id(f);
    CHECK(!strncmp(f->id, "dlib-resnet+full-", 17) && strlen(f->id) == 25);
    char path[512];
    snprintf(path, sizeof path, "%s/full_roundtrip.frmodel", FR_TEST_TMP_DIR);
    CHECK_OK(train_full_save(f, path));
    CHECK_OK(train_full_load(path, &back));
    CHECK(back->n_params == f->n_params);
    CHECK(!memcmp(back->params, f->params, f->n_params * sizeof(float)));
    CHECK(!strcmp(back->id, f->id));
    train_full_free(back);

    CHECK_OK(train_full_embed(f, TEST_THREADS, (const fr_image *const *)crops, N, y));
    cfg.model = path;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    CHECK(!strcmp(fr_engine_model(eng), f->id));
    CHECK(fr_engine_dim(eng) == DLIB_RESNET_DIM);
    CHECK_OK(fr_engine_embed_crops(eng, (const fr_image *const *)crops, N, out));
    fr_engine_close(eng);
    double moved = 0.0;
    for (int i = 0; i < N * DLIB_RESNET_DIM; i++) {
        CHECK_NEAR(out[i], y[i], 1e-6);
        moved = fmax(moved, fabs(out[i] - stock[i]));
    }
    CHECK(moved > 1e-4); /* the change shows */
    for (int i = 0; i < N; i++) fr_image_free(crops[i]);
    train_full_free(f);
}

/* The CLI with args (NULL-terminated); its stdout, then its stderr, into out. Returns the
 * exit status (tests/run.h). */
static int run_cli(const char *const *args, char *out, size_t outsz) {
    test_run r = {0};
    int status = test_run_cli_args(&r, args);
    snprintf(out, outsz, "%s%s", r.out ? r.out : "", r.err ? r.err : "");
    test_run_free(&r);
    return status;
}

TEST(train_full_command_writes_a_model_and_refuses_other_bases) {
    char out[16384];
    const char *other[] = {"train", "--full", "--model", "fusion", "--data", ".", "--out",
                           FR_TEST_TMP_DIR "/never.frmodel", NULL};
    CHECK(run_cli(other, out, sizeof out) == 2);
    CHECK(strstr(out, "not for fusion") && strstr(out, "dlib-resnet and mobilefacenet"));
    /* a head trains on one network, not on a fusion */
    const char *fused[] = {"train", "--model", "fusion", "--data", ".", "--out",
                           FR_TEST_TMP_DIR "/never.frmodel", NULL};
    CHECK(run_cli(fused, out, sizeof out) == 2);
    CHECK(strstr(out, "fusion of several networks") != NULL);

    struct stat sb;
    char lfw[512];
    snprintf(lfw, sizeof lfw, "%s/lfw-deepfunneled", FR_TEST_DATA_DIR);
    if (stat(lfw, &sb) != 0) SKIP("LFW not found in %s (shared data absent)", FR_TEST_DATA_DIR);
    if (stat(MANIFEST, &sb) != 0) SKIP("face-api models absent (run scripts/setup.sh)");
    /* two people of two photos each, as a folder per person (links into the shared data) */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/train_full_people", FR_TEST_TMP_DIR);
    mkdir(dir, 0755);
    const char *people[] = {"Colin_Powell", "Tony_Blair"};
    for (int i = 0; i < 2; i++) {
        char person[1024];
        snprintf(person, sizeof person, "%s/%s", dir, people[i]);
        mkdir(person, 0755);
        for (int j = 1; j <= 2; j++) {
            char photo[1200], src[1200];
            snprintf(photo, sizeof photo, "%s/%s_%04d.jpg", person, people[i], j);
            snprintf(src, sizeof src, "%s/%s/%s_%04d.jpg", lfw, people[i], people[i], j);
            unlink(photo);
            CHECK(symlink(src, photo) == 0);
        }
    }
    char model[512], curve[512];
    snprintf(model, sizeof model, "%s/e2e_full.frmodel", FR_TEST_TMP_DIR);
    snprintf(curve, sizeof curve, "%s/e2e_full.png", FR_TEST_TMP_DIR);
    remove(model);
    remove(curve);
    const char *train[] = {"train", "--full", "--data", dir, "--out", model, "--epochs", "1",
                           "--augment", "0", "--batch", "2x2", "--lr", "1e-5", "--models",
                           FR_TEST_MODELS_DIR, NULL};
    int rc = run_cli(train, out, sizeof out);
    if (rc != 0) fprintf(stderr, "%s", out);
    CHECK(rc == 0);
    CHECK(strstr(out, "epoch   1/1") && strstr(out, "dlib-resnet+full-"));
    CHECK(stat(model, &sb) == 0 && stat(curve, &sb) == 0);
    /* every command takes it: embed one photo through it */
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = model;
    fr_engine *eng;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    CHECK(!strncmp(fr_engine_model(eng), "dlib-resnet+full-", 17));
    fr_engine_close(eng);
    /* a gallery records it by id; later commands ask for its file */
    char db[512], photo[1200];
    snprintf(db, sizeof db, "%s/e2e_full.db", FR_TEST_TMP_DIR);
    snprintf(photo, sizeof photo, "%s/%s/%s_0001.jpg", dir, people[0], people[0]);
    remove(db);
    const char *enroll[] = {"enroll", "--model", model, "--db", db, dir, "--models",
                            FR_TEST_MODELS_DIR, NULL};
    CHECK(run_cli(enroll, out, sizeof out) == 0);
    const char *identify[] = {"identify", "--threshold", "0.5", "--db", db, photo, "--models",
                              FR_TEST_MODELS_DIR, NULL};
    CHECK(run_cli(identify, out, sizeof out) == 2); /* a bad request: the file is needed */
    CHECK(strstr(out, "trained model dlib-resnet+full-") && strstr(out, "--model FILE"));
    const char *with_file[] = {"identify", "--model", model, "--threshold", "0.5", "--db", db,
                               photo, "--models", FR_TEST_MODELS_DIR, NULL};
    CHECK(run_cli(with_file, out, sizeof out) == 0);
    CHECK(strstr(out, people[0]) != NULL);
}

TEST_MAIN(CASE(whole_network_gradient_matches_finite_differences),
          CASE(trained_network_file_round_trips_through_the_engine),
          CASE(train_full_command_writes_a_model_and_refuses_other_bases))
