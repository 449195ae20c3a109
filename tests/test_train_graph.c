/* test_train_graph.c: MobileFaceNet trained whole through its TFLite graph. The gradient
 * through the whole graph (its own weights, smooth random inputs) is checked against central
 * finite differences at parameters of the input conv, a depthwise conv's PReLU slopes, a
 * residual block's linear 1x1 conv, the global 7x7 depthwise conv and the last 1x1 conv;
 * the training forward pass is the graph's inference; a trained network's file round-trips
 * through the engine under its own model id. FACEREC_TEST_QUICK checks fewer parameters. */
#include "test.h"

#include "face/face.h"

#include "nets/tflite_nets.h"
#include "nn/graph.h"
#include "train/train_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#define TFLITE FR_TEST_MODELS_DIR "/" MOBILEFACENET_FILE
#define DIM MOBILEFACENET_DIM
#define SIZE MOBILEFACENET_INPUT_SIZE
/* 5 images: a chunk of 4 and one of 1, so the chunks' offsets and the sum are checked */
#define BATCH 5

/* n synthetic 112x112 "crops" (smooth random patterns) */
static void synthetic_crops(int n, fr_image **crops) {
    train_rng r = {77};
    for (int i = 0; i < n; i++) {
        if (fr_image_new(SIZE, SIZE, &crops[i]) != FR_OK) return;
        float a = train_rng_uniform(&r, 0.02f, 0.2f), b = train_rng_uniform(&r, 0.02f, 0.2f);
        for (int y = 0; y < SIZE; y++)
            for (int x = 0; x < SIZE; x++)
                for (int ch = 0; ch < 3; ch++)
                    crops[i]->rgb[(y * SIZE + x) * 3 + ch] =
                        (uint8_t)(127.5f + 120.0f * sinf(a * x + b * y + 2.0f * ch + i));
    }
}

/* The unit embeddings dotted with fixed random weights r: the gradient w.r.t. y is r. */
typedef struct graph_ctx {
    train_full *f;
    train_graph_pass *pass;
    const float *x;
    float y[BATCH * DIM], r[BATCH * DIM];
} graph_ctx;

static double graph_loss(graph_ctx *c) {
    if (train_graph_forward(c->f->graph, c->f->params, TEST_THREADS, c->x, BATCH, c->pass, c->y) !=
        FR_OK)
        return NAN;
    double s = 0.0;
    for (int i = 0; i < BATCH * DIM; i++) s += (double)c->y[i] * c->r[i];
    return s;
}

/* The worst relative error at the k largest-gradient entries of params[off, off + n). */
static double check_tensor(graph_ctx *c, const float *grad, size_t off, size_t n, int k,
                           float eps) {
    double worst = 0.0;
    size_t taken[4];
    for (int j = 0; j < k; j++) {
        size_t best = 0;
        float best_value = -1.0f;
        for (size_t i = 0; i < n; i++) {
            int used = 0;
            for (int q = 0; q < j; q++) used |= taken[q] == i;
            if (!used && fabsf(grad[off + i]) > best_value) best = i, best_value = fabsf(grad[off + i]);
        }
        taken[j] = best;
        float *p = c->f->params + off + best, keep = *p;
        *p = keep + eps;
        double up = graph_loss(c);
        *p = keep - eps;
        double down = graph_loss(c);
        *p = keep;
        double numeric = (up - down) / (2.0 * eps), analytic = grad[off + best];
        double err = fabs(numeric - analytic) / fmax(fabs(numeric), fabs(analytic));
        if (err > worst) worst = err;
    }
    return worst;
}

TEST(graph_gradient_matches_finite_differences) {
    struct stat sb;
    if (stat(TFLITE, &sb) != 0) SKIP("MobileFaceNet absent (run scripts/setup.sh)");
    const int quick = getenv("FACEREC_TEST_QUICK") != NULL;
    train_full *f;
    CHECK_OK(train_full_load(TFLITE, &f));
    CHECK(f->graph && f->dim == DIM && !strcmp(f->base, "mobilefacenet"));
    train_graph_pass *pass;
    CHECK_OK(train_graph_pass_new(f->graph, f->n_params, BATCH, &pass));
    fr_image *crops[BATCH] = {NULL};
    synthetic_crops(BATCH, crops);
    float *x = malloc((size_t)BATCH * SIZE * SIZE * 3 * sizeof *x);
    float *grad = calloc(f->n_params, sizeof *grad);
    CHECK(x && grad && crops[BATCH - 1]);
    CHECK_OK(train_graph_input(f->graph, (const fr_image *const *)crops, BATCH, x));
    graph_ctx c = {f, pass, x, {0}, {0}};
    train_rng r = {5};
    for (int i = 0; i < BATCH * DIM; i++) c.r[i] = train_rng_uniform(&r, -1.0f, 1.0f);
    CHECK(isfinite(graph_loss(&c)));
    CHECK_OK(train_graph_backward(f->graph, f->params, TEST_THREADS, pass, c.r, grad));

    /* the nodes by kind, in the graph's order (see nn_graph_op_name for the list) */
    nn_graph *g;
    CHECK_OK(mobilefacenet_graph_load(TFLITE, &g));
    int first_conv = -1, first_dw_prelu = -1, linear_1x1 = -1, global_dw = -1, last_conv = -1;
    for (int i = 0; i < nn_graph_n_ops(g); i++) {
        nn_graph_node_view v;
        nn_graph_node_view_of(g, i, &v);
        int prelu = v.cv.act.kind == NN_ACT_PRELU;
        if (v.op == NN_GRAPH_OP_CONV && first_conv < 0) first_conv = i;
        if (v.op == NN_GRAPH_OP_DEPTHWISE && prelu && first_dw_prelu < 0) first_dw_prelu = i;
        if (v.op == NN_GRAPH_OP_CONV && !prelu && v.cv.kh == 1 && linear_1x1 < 0 &&
            i + 1 < nn_graph_n_ops(g)) {
            nn_graph_node_view next;
            nn_graph_node_view_of(g, i + 1, &next);
            if (next.op == NN_GRAPH_OP_ADD) linear_1x1 = i; /* a residual block's projection */
        }
        if (v.op == NN_GRAPH_OP_DEPTHWISE && v.cv.kh == 7) global_dw = i;
        if (v.op == NN_GRAPH_OP_CONV) last_conv = i;
    }
    nn_graph_free(g);
    CHECK(first_conv >= 0 && first_dw_prelu >= 0 && linear_1x1 >= 0 && global_dw >= 0);
    struct {
        const char *what;
        int node;
        char part;
        double bound;
    } checks[] = {
        /* float32 rounding through ~60 layers and the PReLU kinks crossed by the step bound
         * the agreement, most at the first layers (whose every value moves the whole net);
         * a wrong term gives errors near 1 */
        {"input conv weights", first_conv, 'w', 5e-2},
        {"depthwise conv PReLU slopes", first_dw_prelu, 's', 5e-2},
        {"residual block's linear 1x1 conv bias", linear_1x1, 'b', 5e-2},
        {"global 7x7 depthwise conv weights", global_dw, 'w', 1e-2},
        {"last 1x1 conv weights", last_conv, 'w', 1e-2},
        {"input conv bias", first_conv, 'b', 5e-2},
    };
    size_t n_checks = quick ? 3 : sizeof checks / sizeof checks[0];
    for (size_t k = 0; k < n_checks; k++) {
        size_t off, n;
        train_graph_param_range(f->graph, checks[k].node, checks[k].part, &off, &n);
        CHECK(n > 0);
        if (!n) continue;
        double err = check_tensor(&c, grad, off, n, quick ? 1 : 2, 2e-3f);
        printf("  %s (node %d): worst relative error %.2e\n", checks[k].what, checks[k].node, err);
        CHECK(err < checks[k].bound);
    }
    for (int i = 0; i < BATCH; i++) fr_image_free(crops[i]);
    free(x);
    free(grad);
    train_graph_pass_free(pass);
    train_full_free(f);
}

TEST(graph_training_forward_is_inference_and_its_file_round_trips) {
    struct stat sb;
    if (stat(TFLITE, &sb) != 0) SKIP("MobileFaceNet absent (run scripts/setup.sh)");
    enum { N = 3 };
    fr_image *crops[N] = {NULL};
    synthetic_crops(N, crops);
    train_full *f, *back;
    CHECK_OK(train_full_load(TFLITE, &f));
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = "mobilefacenet";
    fr_engine *eng;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    float stock[N * DIM], y[N * DIM], out[N * DIM];
    CHECK_OK(fr_engine_embed_crops(eng, (const fr_image *const *)crops, N, stock));
    fr_engine_close(eng);
    nn_l2_normalize(stock, N, DIM);
    train_graph_pass *pass;
    CHECK_OK(train_graph_pass_new(f->graph, f->n_params, N, &pass));
    CHECK_OK(train_graph_forward_crops(f->graph, f->params, TEST_THREADS,
                                       (const fr_image *const *)crops, N, pass, y));
    for (int i = 0; i < N * DIM; i++) CHECK_NEAR(y[i], stock[i], 1e-5);

    /* a changed network: saved, read back, and run by the engine under its own id */
    for (size_t i = 0; i < f->n_params; i += 97) f->params[i] *= 1.05f;
    train_full_update_id(f);
    CHECK(!strncmp(f->id, "mobilefacenet+full-", 19));
    char path[512];
    snprintf(path, sizeof path, "%s/graph_roundtrip.frmodel", FR_TEST_TMP_DIR);
    CHECK_OK(train_full_save(f, path));
    /* the base file is found as installed code finds it */
    setenv("FACEREC_MODELS", FR_TEST_MODELS_DIR, 1);
    CHECK_OK(train_full_load(path, &back));
    CHECK(back->n_params == f->n_params);
    int same = 1;
    for (size_t i = 0; i < f->n_params; i++)
        same &= fabsf(back->params[i] - f->params[i]) <= 1e-6f * fmaxf(1.0f, fabsf(f->params[i]));
    CHECK(same);
    CHECK(!strcmp(back->id, f->id) || back->n_params == f->n_params);
    train_full_free(back);
    CHECK_OK(train_graph_forward_crops(f->graph, f->params, TEST_THREADS,
                                       (const fr_image *const *)crops, N, pass, y));
    cfg.model = path;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    CHECK(!strcmp(fr_engine_model(eng), f->id));
    CHECK_OK(fr_engine_embed_crops(eng, (const fr_image *const *)crops, N, out));
    fr_engine_close(eng);
    nn_l2_normalize(out, N, DIM);
    double moved = 0.0;
    for (int i = 0; i < N * DIM; i++) {
        CHECK_NEAR(out[i], y[i], 1e-5);
        moved = fmax(moved, fabs(out[i] - stock[i]));
    }
    CHECK(moved > 1e-4); /* the change shows */
    train_graph_pass_free(pass);
    for (int i = 0; i < N; i++) fr_image_free(crops[i]);
    train_full_free(f);
}

TEST_MAIN(CASE(graph_gradient_matches_finite_differences),
          CASE(graph_training_forward_is_inference_and_its_file_round_trips))
