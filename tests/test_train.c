/* test_train.c: triplet-loss training. Every backward pass and the loss are checked against
 * central finite differences of the forward ops; then mining, Adam, the head and its file,
 * the training loop on synthetic clusters, and `facerec train` end to end on a few people. */
#include "run.h"
#include "test.h"

#include "train/train_internal.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- finite differences ----------------------------------------------------------------- */

/* A scalar function of a tensor x: the forward op's output dotted with fixed random
 * weights r, so that the gradient of the op's output is r. */
typedef double (*scalar_fn)(void *ctx);

/* Compare grad (analytic, n values) with central differences of f over x (n values), at
 * up to max_checks coordinates spread over x. Returns the worst relative error. */
static double grad_error(scalar_fn f, void *ctx, float *x, const float *grad, size_t n,
                         float eps, int max_checks) {
    double worst = 0.0;
    size_t step = n <= (size_t)max_checks ? 1 : n / (size_t)max_checks;
    for (size_t i = 0; i < n; i += step) {
        float keep = x[i];
        x[i] = keep + eps;
        double up = f(ctx);
        x[i] = keep - eps;
        double down = f(ctx);
        x[i] = keep;
        double numeric = (up - down) / (2.0 * eps);
        double err = fabs(numeric - grad[i]) / fmax(1.0, fabs(numeric));
        if (err > worst) worst = err;
    }
    return worst;
}

static uint64_t test_rng_state = 12345;

static float frand(float lo, float hi) {
    train_rng r = {test_rng_state};
    float v = train_rng_uniform(&r, lo, hi);
    test_rng_state = r.state;
    return v;
}

static void fill(float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = frand(lo, hi);
}

/* Values at least `gap` apart from one another and from 0, in random order (so that max
 * pooling and ReLU have no ties or kinks within the finite-difference step). */
static void fill_spread(float *x, size_t n, float gap) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)i - (double)n / 2 + 0.5) * gap;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)frand(0.0f, (float)i);
        if (j >= i) j = i - 1;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

#define GRAD_TOL 2e-3

/* ---- dense, activations, L2 normalisation --------------------------------------------- */

typedef struct dense_ctx {
    int N, Cin, Cout;
    float *in, *w, *b, *out, *r;
} dense_ctx;

static double dense_loss(void *p) {
    dense_ctx *c = p;
    nn_dense(TEST_THREADS, c->in, c->N, c->Cin, c->w, c->b, c->Cout, c->out);
    return dot(c->out, c->r, (size_t)c->N * c->Cout);
}

TEST(dense_backward_matches_finite_differences) {
    enum { N = 3, CIN = 5, COUT = 4 };
    float in[N * CIN], w[CIN * COUT], b[COUT], out[N * COUT], r[N * COUT];
    float din[N * CIN], dw[CIN * COUT] = {0}, db[COUT] = {0};
    fill(in, N * CIN, -1, 1), fill(w, CIN * COUT, -1, 1), fill(b, COUT, -1, 1);
    fill(r, N * COUT, -1, 1);
    dense_ctx c = {N, CIN, COUT, in, w, b, out, r};
    train_dense_backward(in, N, CIN, w, COUT, r, din, dw, db);
    CHECK(grad_error(dense_loss, &c, in, din, N * CIN, 1e-2f, 100) < GRAD_TOL);
    CHECK(grad_error(dense_loss, &c, w, dw, CIN * COUT, 1e-2f, 100) < GRAD_TOL);
    CHECK(grad_error(dense_loss, &c, b, db, COUT, 1e-2f, 100) < GRAD_TOL);
    /* parameter gradients accumulate */
    train_dense_backward(in, N, CIN, w, COUT, r, NULL, dw, NULL);
    float dw1[CIN * COUT] = {0};
    train_dense_backward(in, N, CIN, w, COUT, r, NULL, dw1, NULL);
    CHECK_NEAR(dw[7], 2 * dw1[7], 1e-5);
}

typedef struct act_ctx {
    size_t P;
    int C;
    nn_act act;
    float *x, *y, *r;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    memcpy(c->y, c->x, c->P * c->C * sizeof(float));
    nn_activate(TEST_THREADS, c->y, c->P, c->C, c->act);
    return dot(c->y, c->r, c->P * c->C);
}

TEST(activation_backward_matches_finite_differences) {
    enum { P = 6, C = 4 };
    float x[P * C], y[P * C], r[P * C], dx[P * C], slope[C];
    fill(slope, C, 0.05f, 0.5f);
    nn_act acts[] = {{NN_ACT_RELU, 0, NULL}, {NN_ACT_RELU6, 0, NULL},
                     {NN_ACT_LEAKY, 0.2f, NULL}, {NN_ACT_PRELU, 0, slope}};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        fill_spread(x, P * C, 0.55f); /* spans -6.6 .. 6.6, nowhere within 0.02 of a kink */
        fill(r, P * C, -1, 1);
        act_ctx c = {P, C, acts[a], x, y, r};
        float dslope[C] = {0};
        train_activation_backward(x, P, C, acts[a], r, dx, dslope);
        CHECK(grad_error(act_loss, &c, x, dx, P * C, 1e-2f, 100) < GRAD_TOL);
        if (acts[a].kind == NN_ACT_PRELU)
            CHECK(grad_error(act_loss, &c, slope, dslope, C, 1e-2f, 100) < GRAD_TOL);
    }
}

typedef struct l2_ctx {
    int N, C;
    float *x, *y, *r;
} l2_ctx;

static double l2_loss(void *p) {
    l2_ctx *c = p;
    memcpy(c->y, c->x, (size_t)c->N * c->C * sizeof(float));
    nn_l2_normalize(c->y, c->N, c->C);
    return dot(c->y, c->r, (size_t)c->N * c->C);
}

TEST(l2_normalize_backward_matches_finite_differences) {
    enum { N = 3, C = 8 };
    float x[N * C], y[N * C], r[N * C], dx[N * C];
    fill(x, N * C, -1, 1), fill(r, N * C, -1, 1);
    l2_ctx c = {N, C, x, y, r};
    l2_loss(&c);
    train_l2_normalize_backward(x, y, r, N, C, dx);
    CHECK(grad_error(l2_loss, &c, x, dx, N * C, 1e-3f, 100) < GRAD_TOL);
    /* a zero row passes zero gradient, as the forward leaves it alone */
    memset(x, 0, C * sizeof(float));
    l2_loss(&c);
    train_l2_normalize_backward(x, y, r, N, C, dx);
    for (int i = 0; i < C; i++) CHECK(dx[i] == 0.0f);
}

/* ---- convolutions, pooling ------------------------------------------------------------ */

typedef struct conv_ctx {
    nn_conv cv;
    int depthwise;
    int N, H, W;
    float *in, *out, *r;
    size_t n_out;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    int OH, OW;
    if (c->depthwise)
        nn_depthwise_conv2d(TEST_THREADS, &c->cv, c->in, c->N, c->H, c->W, c->out, &OH, &OW);
    else
        nn_conv2d(TEST_THREADS, &c->cv, c->in, c->N, c->H, c->W, c->out, &OH, &OW, NULL);
    return dot(c->out, c->r, c->n_out);
}

static void check_conv(int depthwise, int k, int stride, nn_padding pad, int cin, int cout) {
    enum { N = 2, H = 7, W = 6 };
    conv_ctx c = {.depthwise = depthwise, .N = N, .H = H, .W = W};
    if (depthwise) cout = cin;
    c.cv = (nn_conv){.kh = k, .kw = k, .cin = cin, .cout = cout, .stride_h = stride,
                     .stride_w = stride, .pad = pad};
    int OH, OW, pad_before;
    nn_out_size(H, k, stride, pad, 0, &OH, &pad_before);
    nn_out_size(W, k, stride, pad, 1, &OW, &pad_before);
    size_t n_in = (size_t)N * H * W * cin, n_w = (size_t)k * k * cin * (depthwise ? 1 : cout);
    c.n_out = (size_t)N * OH * OW * cout;
    float *in = malloc(n_in * sizeof(float)), *din = malloc(n_in * sizeof(float));
    float *weight = malloc(n_w * sizeof(float)), *dweight = calloc(n_w, sizeof(float));
    float *bias = malloc(cout * sizeof(float)), *dbias = calloc(cout, sizeof(float));
    float *out = malloc(c.n_out * sizeof(float)), *r = malloc(c.n_out * sizeof(float));
    fill(in, n_in, -1, 1), fill(weight, n_w, -1, 1), fill(bias, cout, -1, 1);
    fill(r, c.n_out, -1, 1);
    c.cv.weight = weight;
    c.cv.bias = bias;
    c.in = in, c.out = out, c.r = r;
    if (depthwise) train_depthwise_conv2d_backward(&c.cv, in, N, H, W, r, din, dweight, dbias);
    else train_conv2d_backward(&c.cv, in, N, H, W, r, din, dweight, dbias);
    double e_in = grad_error(conv_loss, &c, in, din, n_in, 1e-2f, 150);
    double e_w = grad_error(conv_loss, &c, weight, dweight, n_w, 1e-2f, 150);
    double e_b = grad_error(conv_loss, &c, bias, dbias, cout, 1e-2f, 150);
    free(in), free(din), free(weight), free(dweight), free(bias), free(dbias), free(out), free(r);
    if (!(e_in < GRAD_TOL && e_w < GRAD_TOL && e_b < GRAD_TOL))
        fprintf(stderr, "  %s k=%d stride=%d pad=%d: errors in %g weight %g bias %g\n",
                depthwise ? "depthwise" : "conv2d", k, stride, (int)pad.mode, e_in, e_w, e_b);
    CHECK(e_in < GRAD_TOL && e_w < GRAD_TOL && e_b < GRAD_TOL);
}

TEST(conv2d_backward_matches_finite_differences) {
    nn_padding same = {NN_PAD_SAME, 0, 0, 0, 0}, valid = {NN_PAD_VALID, 0, 0, 0, 0};
    nn_padding explicit_pad = {NN_PAD_EXPLICIT, 1, 2, 0, 1};
    int before = test_failures_;
    check_conv(0, 3, 1, same, 3, 4);
    check_conv(0, 3, 2, same, 2, 3);
    check_conv(0, 3, 2, explicit_pad, 2, 2);
    check_conv(0, 1, 1, valid, 4, 3);
    check_conv(0, 2, 2, valid, 2, 2);
    CHECK(test_failures_ == before);
}

TEST(depthwise_conv2d_backward_matches_finite_differences) {
    nn_padding same = {NN_PAD_SAME, 0, 0, 0, 0}, valid = {NN_PAD_VALID, 0, 0, 0, 0};
    nn_padding explicit_pad = {NN_PAD_EXPLICIT, 1, 1, 1, 0};
    int before = test_failures_;
    check_conv(1, 3, 1, same, 3, 0);
    check_conv(1, 3, 2, same, 4, 0);
    check_conv(1, 3, 2, explicit_pad, 2, 0);
    check_conv(1, 2, 1, valid, 3, 0);
    CHECK(test_failures_ == before);
}

typedef struct pool_ctx {
    int is_max, N, H, W, C, k, stride;
    nn_padding pad;
    float *in, *out, *r;
    size_t n_out;
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    int OH, OW;
    if (c->is_max)
        nn_maxpool2d(TEST_THREADS, c->in, c->N, c->H, c->W, c->C, c->k, c->k, c->stride, c->stride,
                     c->pad, c->out, &OH, &OW);
    else
        nn_avgpool2d(TEST_THREADS, c->in, c->N, c->H, c->W, c->C, c->k, c->k, c->stride, c->stride,
                     c->pad, c->out, &OH, &OW);
    return dot(c->out, c->r, c->n_out);
}

TEST(pooling_backward_matches_finite_differences) {
    enum { N = 2, H = 7, W = 5, C = 3 };
    nn_padding pads[] = {{NN_PAD_SAME, 0, 0, 0, 0}, {NN_PAD_VALID, 0, 0, 0, 0},
                         {NN_PAD_EXPLICIT, 1, 0, 1, 1}};
    int ks[] = {3, 2, 3}, strides[] = {2, 2, 1};
    for (int is_max = 0; is_max < 2; is_max++) {
        for (int t = 0; t < 3; t++) {
            pool_ctx c = {is_max, N, H, W, C, ks[t], strides[t], pads[t], NULL, NULL, NULL, 0};
            int OH, OW, before;
            nn_out_size(H, c.k, c.stride, c.pad, 0, &OH, &before);
            nn_out_size(W, c.k, c.stride, c.pad, 1, &OW, &before);
            c.n_out = (size_t)N * OH * OW * C;
            float in[N * H * W * C], din[N * H * W * C], out[N * H * W * C], r[N * H * W * C];
            fill_spread(in, N * H * W * C, 0.01f);
            fill(r, c.n_out, -1, 1);
            c.in = in, c.out = out, c.r = r;
            if (is_max)
                train_maxpool2d_backward(in, N, H, W, C, c.k, c.k, c.stride, c.stride, c.pad, r, din);
            else
                train_avgpool2d_backward(N, H, W, C, c.k, c.k, c.stride, c.stride, c.pad, r, din);
            CHECK(grad_error(pool_loss, &c, in, din, N * H * W * C, 2e-3f, 1000) < GRAD_TOL);
        }
    }
}

/* ---- add, concat, scale/shift ---------------------------------------------------------- */

TEST(add_concat_scale_shift_backward_match_finite_differences) {
    enum { P = 5, C1 = 2, C2 = 3 };
    /* add: out = a + b, both get dout */
    float a[P], b[P], da[P] = {0}, db[P] = {0}, r[P * (C1 + C2)];
    fill(a, P, -1, 1), fill(b, P, -1, 1), fill(r, P * (C1 + C2), -1, 1);
    train_add_backward(r, P, da, db);
    for (int i = 0; i < P; i++) CHECK(da[i] == r[i] && db[i] == r[i]);

    /* concat: each input's gradient is its slice of dout */
    float x1[P * C1], x2[P * C2], cat[P * (C1 + C2)], d1[P * C1], d2[P * C2];
    fill(x1, P * C1, -1, 1), fill(x2, P * C2, -1, 1);
    train_concat_channels_backward(r, (int[]){C1, C2}, 2, P, (float *[]){d1, d2});
    const float *ins[] = {x1, x2};
    nn_concat_channels(TEST_THREADS, ins, (int[]){C1, C2}, 2, P, cat);
    /* the loss sum(cat * r) is linear: its gradient in x1 is exactly the matching r */
    for (int p = 0; p < P; p++) {
        for (int c = 0; c < C1; c++) CHECK(d1[p * C1 + c] == r[p * (C1 + C2) + c]);
        for (int c = 0; c < C2; c++) CHECK(d2[p * C2 + c] == r[p * (C1 + C2) + C1 + c]);
        for (int c = 0; c < C1; c++) CHECK(cat[p * (C1 + C2) + c] == x1[p * C1 + c]);
    }

    /* scale/shift, checked by finite differences in x, scale and shift */
    enum { C = C1 + C2 };
    float x[P * C], scale[C], shift[C], dx[P * C], dscale[C] = {0}, dshift[C] = {0};
    fill(x, P * C, -1, 1), fill(scale, C, 0.5f, 2), fill(shift, C, -1, 1);
    train_scale_shift_backward(x, P, C, scale, r, dx, dscale, dshift);
    for (int c = 0; c < C; c++) {
        double up, down, eps = 1e-2;
        float y[P * C];
        for (int sign = 1; sign >= -1; sign -= 2) {
            scale[c] += (float)(sign * eps);
            memcpy(y, x, sizeof y);
            nn_scale_shift(TEST_THREADS, y, P, C, scale, shift);
            *(sign > 0 ? &up : &down) = dot(y, r, P * C);
            scale[c] -= (float)(sign * eps);
        }
        CHECK_NEAR((up - down) / (2 * eps), dscale[c], 1e-3);
        for (int sign = 1; sign >= -1; sign -= 2) {
            shift[c] += (float)(sign * eps);
            memcpy(y, x, sizeof y);
            nn_scale_shift(TEST_THREADS, y, P, C, scale, shift);
            *(sign > 0 ? &up : &down) = dot(y, r, P * C);
            shift[c] -= (float)(sign * eps);
        }
        CHECK_NEAR((up - down) / (2 * eps), dshift[c], 1e-3);
    }
    for (int i = 0; i < P * C; i++) CHECK_NEAR(dx[i], r[i] * scale[i % C], 1e-6);
}

/* ---- triplet loss and mining ---------------------------------------------------------- */

typedef struct triplet_ctx {
    float *emb;
    int B, dim;
    const train_triplet *t;
    int n;
    float alpha;
} triplet_ctx;

static double triplet_loss_of(void *p) {
    triplet_ctx *c = p;
    return train_triplet_loss(c->emb, c->B, c->dim, c->t, c->n, c->alpha, NULL, NULL);
}

TEST(triplet_loss_is_facenets_and_its_gradient_matches) {
    /* two triplets in 2-D by hand: a=(0,0) p=(1,0) n=(0,2): 1 - 4 + 0.2 < 0, inactive;
     * a=(0,0) p=(1,0) n=(1,1): 1 - 2 + 1.2 = 0.2 with alpha 1.2 */
    float emb[] = {0, 0, 1, 0, 0, 2, 1, 1};
    train_triplet t[] = {{0, 1, 2}, {0, 1, 3}};
    int active;
    CHECK_NEAR(train_triplet_loss(emb, 4, 2, t, 1, 0.2f, NULL, &active), 0.0, 1e-9);
    CHECK(active == 0);
    CHECK_NEAR(train_triplet_loss(emb, 4, 2, t, 2, 1.2f, NULL, &active), 0.2 + 0.0, 1e-6);
    CHECK(active == 1); /* the first: 1 - 4 + 1.2 < 0 */

    enum { B = 6, D = 5 };
    float e[B * D], g[B * D];
    fill(e, B * D, -1, 1);
    train_triplet many[] = {{0, 1, 2}, {1, 0, 3}, {4, 5, 0}, {0, 1, 5}};
    /* margin large enough that every triplet is active, away from the hinge */
    triplet_ctx c = {e, B, D, many, 4, 20.0f};
    train_triplet_loss(e, B, D, many, 4, c.alpha, g, &active);
    CHECK(active == 4);
    CHECK(grad_error(triplet_loss_of, &c, e, g, B * D, 1e-3f, 100) < GRAD_TOL);
    /* and with a small margin, where some triplets are inactive (away from the hinge) */
    c.alpha = 0.3f;
    double loss = train_triplet_loss(e, B, D, many, 4, c.alpha, g, &active);
    CHECK(loss >= 0);
    CHECK(grad_error(triplet_loss_of, &c, e, g, B * D, 1e-4f, 100) < GRAD_TOL);
}

TEST(mining_takes_every_pair_with_a_candidate_negative) {
    enum { P = 4, K = 3, B = P * K, D = 8 };
    float emb[B * D];
    int labels[B];
    for (int i = 0; i < B; i++) labels[i] = i / K;
    fill(emb, B * D, -1, 1);
    nn_l2_normalize(emb, B, D);
    const float alpha = 0.5f;
    int counts[2];
    for (int mining = TRAIN_MINING_ACTIVE; mining <= TRAIN_MINING_SEMI_HARD; mining++) {
        train_triplet t[B * (K - 1)];
        int n, pairs;
        train_rng rng = {7};
        train_mine_triplets(emb, labels, B, D, alpha, mining, &rng, t, &n, &pairs);
        CHECK(pairs == P * K * (K - 1));
        int with_candidate = 0;
        for (int a = 0; a < B; a++)
            for (int p = 0; p < B; p++) {
                if (p == a || labels[p] != labels[a]) continue;
                float d_ap = train_squared_distance(emb + a * D, emb + p * D, D);
                int any = 0;
                for (int x = 0; x < B; x++) {
                    float d = train_squared_distance(emb + a * D, emb + x * D, D);
                    any |= labels[x] != labels[a] && d < d_ap + alpha &&
                           (mining == TRAIN_MINING_ACTIVE || d > d_ap);
                }
                with_candidate += any;
            }
        CHECK(n == with_candidate); /* every pair that has a candidate negative got one */
        CHECK(n > 0);
        counts[mining] = n;
        for (int i = 0; i < n; i++) {
            float d_ap = train_squared_distance(emb + t[i].anchor * D, emb + t[i].positive * D, D);
            float d_an = train_squared_distance(emb + t[i].anchor * D, emb + t[i].negative * D, D);
            CHECK(labels[t[i].anchor] == labels[t[i].positive] && t[i].anchor != t[i].positive);
            CHECK(labels[t[i].negative] != labels[t[i].anchor]);
            CHECK(d_an < d_ap + alpha);
            if (mining == TRAIN_MINING_SEMI_HARD) CHECK(d_ap < d_an);
        }
        /* the same seed gives the same triplets */
        train_triplet again[B * (K - 1)];
        int n2, pairs2;
        train_rng rng2 = {7};
        train_mine_triplets(emb, labels, B, D, alpha, mining, &rng2, again, &n2, &pairs2);
        CHECK(n2 == n && !memcmp(again, t, (size_t)n * sizeof *t));
    }
    /* random points: some pairs have only hard negatives, which semi-hard selection skips */
    CHECK(counts[TRAIN_MINING_ACTIVE] > counts[TRAIN_MINING_SEMI_HARD]);
}

/* ---- Adam ------------------------------------------------------------------------------ */

TEST(adam_steps_as_kingma_and_ba) {
    train_adam_config cfg;
    train_adam_defaults(&cfg);
    cfg.lr = 0.1f;
    /* the first step of Adam moves each parameter by lr * sign(g) (up to eps) */
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -3.0f}, m[2] = {0}, v[2] = {0};
    train_adam_step(&cfg, 1, p, g, m, v, 2);
    CHECK_NEAR(p[0], 0.9, 1e-6);
    CHECK_NEAR(p[1], -1.9, 1e-6);
    /* second step, by the textbook formulas in double */
    float g2[2] = {0.25f, 1.0f};
    double mm[2], vv[2], expect[2];
    for (int i = 0; i < 2; i++) {
        double m1 = 0.1 * g[i], v1 = 0.001 * g[i] * g[i];
        mm[i] = 0.9 * m1 + 0.1 * g2[i];
        vv[i] = 0.999 * v1 + 0.001 * g2[i] * g2[i];
        double mhat = mm[i] / (1 - 0.81), vhat = vv[i] / (1 - 0.999 * 0.999);
        expect[i] = p[i] - 0.1 * mhat / (sqrt(vhat) + 1e-8);
    }
    train_adam_step(&cfg, 2, p, g2, m, v, 2);
    CHECK_NEAR(p[0], expect[0], 1e-5);
    CHECK_NEAR(p[1], expect[1], 1e-5);
    /* it minimises a quadratic; decoupled weight decay shrinks a parameter without gradient */
    float q[3] = {3, -1, 2}, gq[3], mq[3] = {0}, vq[3] = {0};
    for (long t = 1; t <= 500; t++) {
        for (int i = 0; i < 3; i++) gq[i] = 2 * (q[i] - (float)i);
        train_adam_step(&cfg, t, q, gq, mq, vq, 3);
    }
    for (int i = 0; i < 3; i++) CHECK_NEAR(q[i], i, 0.05);
    cfg.weight_decay = 0.5f;
    float w = 1.0f, zero = 0.0f, mw = 0, vw = 0;
    train_adam_step(&cfg, 1, &w, &zero, &mw, &vw, 1);
    CHECK_NEAR(w, 1.0 - 0.1 * 0.5, 1e-6);
}

/* ---- the head ------------------------------------------------------------------------- */

typedef struct head_ctx {
    embed_head *h;
    train_head_pass *pass;
    const float *in;
    int B;
    const train_triplet *t;
    int n;
    float alpha;
} head_ctx;

static double head_loss(void *p) {
    head_ctx *c = p;
    embed_head_forward(c->h, TEST_THREADS, c->in, c->B, c->pass->forward);
    return train_triplet_loss(c->pass->forward->y, c->B, c->h->dim, c->t, c->n, c->alpha, NULL, NULL);
}

TEST(head_gradient_through_loss_normalisation_relu_and_dense_matches) {
    enum { B = 6, D = 6, H = 5 };
    train_rng rng = {3};
    embed_head *h;
    CHECK_OK(train_head_new("dlib-resnet", D, H, &rng, &h));
    /* move away from the identity start so that every part has a gradient */
    for (size_t i = 0; i < h->n_params; i++) h->params[i] += train_rng_uniform(&rng, -0.3f, 0.3f);
    float in[B * D], dy[B * D];
    fill(in, B * D, -1, 1);
    train_head_pass *pass;
    CHECK_OK(train_head_pass_new(h, B, &pass));
    train_triplet t[] = {{0, 1, 2}, {1, 0, 4}, {3, 4, 5}, {4, 3, 0}};
    head_ctx c = {h, pass, in, B, t, 4, 10.0f};
    head_loss(&c);
    int active;
    train_triplet_loss(pass->forward->y, B, D, t, 4, c.alpha, dy, &active);
    CHECK(active == 4);
    float *grad = calloc(h->n_params, sizeof(float));
    train_head_backward(h, pass, B, dy, grad);
    double err = grad_error(head_loss, &c, h->params, grad, h->n_params, 1e-3f, 400);
    free(grad);
    train_head_pass_free(pass);
    embed_head_free(h);
    CHECK(err < 5e-3);
}

TEST(untrained_head_is_the_normalised_base_and_file_round_trips) {
    enum { D = 8, N = 3 };
    train_rng rng = {11};
    embed_head *h, *back = NULL;
    CHECK_OK(train_head_new("dlib-resnet", D, 4, &rng, &h));
    float x[N * D], y[N * D];
    fill(x, N * D, -1, 1);
    memcpy(y, x, sizeof x);
    CHECK_OK(embed_head_apply(h, TEST_THREADS, y, N));
    nn_l2_normalize(x, N, D);
    for (int i = 0; i < N * D; i++) CHECK_NEAR(y[i], x[i], 1e-6);

    char path[512];
    snprintf(path, sizeof path, "%s/head_roundtrip.frmodel", FR_TEST_TMP_DIR);
    for (size_t i = 0; i < h->n_params; i++) h->params[i] += 0.01f * (float)(i % 7);
    embed_head_update_id(h);
    CHECK_OK(train_head_save(h, path));
    CHECK(embed_head_is_file(path));
    CHECK_OK(embed_head_load(path, &back));
    CHECK(back->dim == D && back->hidden == 4 && back->n_params == h->n_params);
    CHECK(!memcmp(back->params, h->params, h->n_params * sizeof(float)));
    CHECK(!strcmp(back->base, "dlib-resnet") && !strcmp(back->id, h->id));
    CHECK(!strncmp(h->id, "dlib-resnet+head-", 17));
    embed_head_free(back);
    /* another head has another id */
    h->params[0] += 0.5f;
    char old_id[sizeof h->id];
    strcpy(old_id, h->id);
    embed_head_update_id(h);
    CHECK(strcmp(old_id, h->id) != 0);
    /* finite weights that overflow float32 on an input give an error, not NaN embeddings
     * (found by fuzz_head) */
    for (size_t i = 0; i < h->n_params; i++) h->params[i] = 3e38f;
    embed_head_update_id(h);
    memcpy(y, x, sizeof x);
    CHECK(embed_head_apply(h, TEST_THREADS, y, N) == FR_E_MODEL);
    CHECK(strstr(fr_last_error(), h->id) && !memcmp(y, x, sizeof x));
    embed_head_free(h);

    /* a damaged file is refused with its name */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    fseek(f, 60, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    back = NULL;
    CHECK(embed_head_load(path, &back) == FR_E_MODEL && back == NULL);
    CHECK(strstr(fr_last_error(), "head_roundtrip.frmodel") != NULL);
    CHECK(!embed_head_is_file(FR_TEST_FIXTURES_DIR));
}

/* ---- training on synthetic people ------------------------------------------------------ */

/* People whose identity lies in the first 4 of 16 dimensions while a larger per-photo
 * nuisance fills the others: distances are dominated by the nuisance until a head learns to
 * look past it, which also holds for people it never saw. */
static void synthetic_people(int n_people, int per_person, uint64_t seed, train_set *s) {
    enum { D = 16, IDENTITY = 4 };
    train_rng rng = {seed};
    memset(s, 0, sizeof *s);
    s->n_photos = n_people * per_person;
    s->copies = 1;
    s->dim = D;
    s->n_people = n_people;
    s->labels = malloc((size_t)s->n_photos * sizeof(int));
    s->source = malloc((size_t)s->n_photos * sizeof(int));
    s->embeddings = malloc((size_t)s->n_photos * D * sizeof(float));
    for (int p = 0; p < n_people; p++) {
        float centre[IDENTITY];
        for (int k = 0; k < IDENTITY; k++) centre[k] = train_rng_uniform(&rng, -1, 1);
        for (int j = 0; j < per_person; j++) {
            int i = p * per_person + j;
            s->labels[i] = p;
            s->source[i] = i;
            float *e = s->embeddings + (size_t)i * D;
            for (int k = 0; k < D; k++)
                e[k] = k < IDENTITY ? centre[k] + train_rng_uniform(&rng, -0.1f, 0.1f)
                                    : train_rng_uniform(&rng, -1.0f, 1.0f);
        }
    }
}

typedef struct epochs_seen {
    int calls, last_epoch;
} epochs_seen;

static void count_epoch(const train_epoch_stats *s, void *user) {
    epochs_seen *e = user;
    e->calls++;
    e->last_epoch = s->epoch;
}

TEST(training_separates_people_it_never_saw) {
    train_set train, val;
    synthetic_people(12, 6, 1, &train);
    synthetic_people(12, 6, 2, &val); /* other people */
    train_config cfg;
    train_config_defaults(&cfg);
    cfg.epochs = 25;
    cfg.adam.lr = 1e-2f;
    cfg.people_per_batch = 6;
    cfg.photos_per_person = 4;
    train_rng rng = {1};
    embed_head *h = NULL, *again = NULL;
    train_epoch_stats history[26], history2[26];
    epochs_seen seen = {0, -1};
    CHECK_OK(train_head_new("synthetic", 16, 0, &rng, &h));
    int best_epoch = -1;
    CHECK_OK(train_head_fit(h, &train, &val, &cfg, count_epoch, &seen, history, &best_epoch));
    CHECK(seen.calls == 26 && seen.last_epoch == 25);
    fprintf(stderr, "  synthetic validation accuracy %.3f -> %.3f, active %.2f -> %.2f\n",
            history[0].val_accuracy, history[25].val_accuracy, history[1].active_share,
            history[25].active_share);
    CHECK(isnan(history[0].loss) && !isnan(history[1].loss));
    CHECK(history[0].val_accuracy < 0.8);
    CHECK(history[best_epoch].val_accuracy > history[0].val_accuracy + 0.1);
    double acc, eer;
    CHECK_OK(train_verification(h, TEST_THREADS, &val, &acc, &eer));
    /* the head kept is the best epoch's */
    CHECK(best_epoch > 0);
    for (int e = 0; e <= 25; e++) CHECK(history[e].val_accuracy <= history[best_epoch].val_accuracy);
    CHECK_NEAR(acc, history[best_epoch].val_accuracy, 1e-12);
    /* the same seed gives the same head */
    rng.state = 1;
    CHECK_OK(train_head_new("synthetic", 16, 0, &rng, &again));
    CHECK_OK(train_head_fit(again, &train, &val, &cfg, NULL, NULL, history2, NULL));
    CHECK(!memcmp(again->params, h->params, h->n_params * sizeof(float)));
    CHECK(!strcmp(again->id, h->id));
    /* the curve */
    fr_image *chart = NULL;
    CHECK_OK(train_curve_plot(history, 26, "synthetic", &chart));
    int blue = 0, red = 0;
    for (size_t i = 0; i < (size_t)chart->width * chart->height; i++) {
        const uint8_t *px = chart->rgb + 3 * i;
        blue += px[0] == 30 && px[1] == 60 && px[2] == 200;
        red += px[0] == 200 && px[1] == 30 && px[2] == 30;
    }
    fr_image_free(chart);
    CHECK(blue > 100 && red > 100);
    /* the embeddings cache: read back only under the key it was written with */
    char cache[512];
    snprintf(cache, sizeof cache, "%s/synthetic.cache", FR_TEST_TMP_DIR);
    CHECK_OK(train_set_save(&train, 0x1234abcdu, cache));
    train_set back;
    CHECK(train_set_load(cache, 0x1234abceu, &back) == FR_E_NOT_FOUND);
    CHECK_OK(train_set_load(cache, 0x1234abcdu, &back));
    int same = back.n_photos == train.n_photos && back.copies == 1 && back.dim == 16 &&
               back.n_people == 12 &&
               !memcmp(back.labels, train.labels, (size_t)train.n_photos * sizeof(int)) &&
               !memcmp(back.source, train.source, (size_t)train.n_photos * sizeof(int)) &&
               !memcmp(back.embeddings, train.embeddings, (size_t)train.n_photos * 16 * sizeof(float));
    train_set_free(&back);
    CHECK(same);
    /* labels and photo indices are checked before they become ints (fuzz_train_cache found
     * an index past int's range converted): a label outside the set's people is refused */
    int label0 = train.labels[0];
    train.labels[0] = train.n_people;
    CHECK_OK(train_set_save(&train, 0x1234abcdu, cache));
    train.labels[0] = label0;
    CHECK(train_set_load(cache, 0x1234abcdu, &back) == FR_E_FORMAT);
    CHECK(strstr(fr_last_error(), "synthetic.cache") != NULL);
    const char *paths[] = {cache, FR_TEST_FIXTURES_DIR};
    int labels[] = {0, 1};
    train_augment_config aug;
    train_augment_defaults(&aug);
    uint32_t key = train_set_key("dlib-resnet|ssd", paths, labels, 2, &aug, 1);
    CHECK(key == train_set_key("dlib-resnet|ssd", paths, labels, 2, &aug, 1));
    CHECK(key != train_set_key("dlib-resnet|tiny", paths, labels, 2, &aug, 1));
    CHECK(key != train_set_key("dlib-resnet|ssd", paths, labels, 2, &aug, 2));
    CHECK(key != train_set_key("dlib-resnet|ssd", paths, labels, 2, NULL, 1));
    labels[1] = 0;
    CHECK(key != train_set_key("dlib-resnet|ssd", paths, labels, 2, &aug, 1));
    /* too few people to train on is an error, not a crash */
    train.n_people = 1;
    for (int i = 0; i < train.n_photos; i++) train.labels[i] = 0;
    CHECK(train_head_fit(h, &train, NULL, &cfg, NULL, NULL, history, NULL) == FR_E_ARG);
    embed_head_free(h);
    embed_head_free(again);
    train_set_free(&train);
    train_set_free(&val);
}

/* ---- end to end on real photos --------------------------------------------------------- */

/* The CLI with args (NULL-terminated); its stdout, then its stderr, into out. Returns the
 * exit status (tests/run.h). */
static int run_cli(const char *const *args, char *out, size_t outsz) {
    test_run r = {0};
    int status = test_run_cli_args(&r, args);
    snprintf(out, outsz, "%s%s", r.out ? r.out : "", r.err ? r.err : "");
    test_run_free(&r);
    return status;
}

TEST(train_command_writes_a_model_every_command_accepts) {
    char lfw[512], dir[512], link[1024], target[1024], out[600], curve[600], text[16384];
    struct stat sb;
    snprintf(lfw, sizeof lfw, "%s/lfw-deepfunneled", FR_TEST_DATA_DIR);
    if (stat(lfw, &sb) != 0) SKIP("LFW not found in %s (shared data absent)", FR_TEST_DATA_DIR);
    if (stat(FR_TEST_MODELS_DIR "/face-api/model/face_recognition_model-weights_manifest.json",
             &sb) != 0)
        SKIP("face-api models absent (run scripts/setup.sh)");
    /* two people of two photos each, as a folder per person (links into the shared data) */
    snprintf(dir, sizeof dir, "%s/train_people", FR_TEST_TMP_DIR);
    mkdir(dir, 0755);
    const char *names[] = {"Colin_Powell", "Tony_Blair"};
    for (int i = 0; i < 2; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, names[i]);
        snprintf(target, sizeof target, "%s/%s", lfw, names[i]);
        mkdir(link, 0755);
        for (int j = 1; j <= 2; j++) {
            char photo[1200], src[1200];
            snprintf(photo, sizeof photo, "%s/%s_%04d.jpg", link, names[i], j);
            snprintf(src, sizeof src, "%s/%s_%04d.jpg", target, names[i], j);
            unlink(photo);
            CHECK(symlink(src, photo) == 0);
        }
    }
    snprintf(out, sizeof out, "%s/e2e_head.frmodel", FR_TEST_TMP_DIR);
    snprintf(curve, sizeof curve, "%s/e2e_head.png", FR_TEST_TMP_DIR);
    unlink(out);
    unlink(curve);

    const char *full[] = {"train", "--data", dir, "--out", out, "--full", "--hidden", "8", NULL};
    CHECK(run_cli(full, text, sizeof text) == 2);
    CHECK(strstr(text, "--hidden") != NULL);
    const char *bad_batch[] = {"train", "--data", dir, "--out", out, "--batch", "3", NULL};
    CHECK(run_cli(bad_batch, text, sizeof text) == 2);
    const char *bad_mining[] = {"train", "--data", dir, "--out", out, "--mining", "hard", NULL};
    CHECK(run_cli(bad_mining, text, sizeof text) == 2);
    CHECK(strstr(text, "--mining: 'hard'") != NULL);
    /* without --val, two people cannot be split into two to train and two to validate on */
    const char *no_split[] = {"train", "--data", dir, "--out", out, "--epochs", "1",
                              "--augment", "0", "--batch", "2x2", "--models",
                              FR_TEST_MODELS_DIR, NULL};
    CHECK(run_cli(no_split, text, sizeof text) == 0);
    CHECK(strstr(text, "no validation (holding out every 5-th person leaves") != NULL);

    const char *args[] = {"train", "--data", dir, "--val", dir, "--out", out, "--epochs", "2",
                          "--augment", "1", "--batch", "2x2", "--lr", "0.01", "--models",
                          FR_TEST_MODELS_DIR, NULL};
    int status = run_cli(args, text, sizeof text);
    if (status != 0) fprintf(stderr, "%s\n", text);
    CHECK(status == 0);
    CHECK(strstr(text, "4 photos of 2 people, 8 embeddings") != NULL);
    CHECK(strstr(text, "before training: validation accuracy") != NULL);
    CHECK(strstr(text, "epoch   2/2") != NULL);
    CHECK(strstr(text, "kept the head of epoch") != NULL);
    CHECK(stat(curve, &sb) == 0 && sb.st_size > 1000);
    CHECK(embed_head_is_file(out));

    /* the file is a model: the engine runs the base then the head */
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = TRAIN_HEAD_BASE;
    fr_engine *base = NULL, *tuned = NULL;
    CHECK_OK(fr_engine_open(&cfg, &base));
    cfg.model = out;
    fr_status st = fr_engine_open(&cfg, &tuned);
    embed_head *head = NULL;
    fr_image *img = NULL;
    fr_face *faces_base = NULL, *faces_tuned = NULL;
    int n_base = 0, n_tuned = 0;
    char photo[1200];
    snprintf(photo, sizeof photo, "%s/Colin_Powell/Colin_Powell_0001.jpg", lfw);
    if (st == FR_OK) st = embed_head_load(out, &head);
    if (st == FR_OK) st = fr_image_load(photo, &img);
    if (st == FR_OK) st = fr_process(base, img, &faces_base, &n_base);
    if (st == FR_OK) st = fr_process(tuned, img, &faces_tuned, &n_tuned);
    int ok = st == FR_OK && n_base == 1 && n_tuned == 1 && head &&
             !strcmp(fr_engine_model(tuned), head->id) &&
             fr_engine_dim(tuned) == fr_engine_dim(base) &&
             !strncmp(head->id, TRAIN_HEAD_BASE "+head-", strlen(TRAIN_HEAD_BASE "+head-"));
    if (ok) {
        int dim = fr_engine_dim(base);
        float expect[FR_MAX_EMBEDDING];
        memcpy(expect, faces_base[0].embedding, (size_t)dim * sizeof *expect);
        ok = embed_head_apply(head, TEST_THREADS, expect, 1) == FR_OK;
        for (int i = 0; ok && i < dim; i++)
            ok = fabsf(expect[i] - faces_tuned[0].embedding[i]) < 1e-5f;
    }
    if (st != FR_OK) fprintf(stderr, "  %s\n", fr_last_error());
    fr_faces_free(faces_base);
    fr_faces_free(faces_tuned);
    fr_image_free(img);
    embed_head_free(head);
    fr_engine_close(base);
    fr_engine_close(tuned);
    CHECK(ok);
}

TEST_MAIN(CASE(dense_backward_matches_finite_differences),
          CASE(activation_backward_matches_finite_differences),
          CASE(l2_normalize_backward_matches_finite_differences),
          CASE(conv2d_backward_matches_finite_differences),
          CASE(depthwise_conv2d_backward_matches_finite_differences),
          CASE(pooling_backward_matches_finite_differences),
          CASE(add_concat_scale_shift_backward_match_finite_differences),
          CASE(triplet_loss_is_facenets_and_its_gradient_matches),
          CASE(mining_takes_every_pair_with_a_candidate_negative),
          CASE(adam_steps_as_kingma_and_ba),
          CASE(head_gradient_through_loss_normalisation_relu_and_dense_matches),
          CASE(untrained_head_is_the_normalised_base_and_file_round_trips),
          CASE(training_separates_people_it_never_saw),
          CASE(train_command_writes_a_model_every_command_accepts))
