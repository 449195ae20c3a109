/* trainer.c: the training loop: P x K batches, online triplet mining, the triplet loss's
 * gradient through the model (the head, or the whole network in full.c), Adam; validation by
 * verification accuracy. */
#include "train/train_internal.h"

#include "eval/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The validation pairs are drawn once, with a fixed seed, so every epoch is measured on the
 * same pairs: as `facerec eval folder` draws them (10 folds, fewer for a tiny set). */
#define VAL_FOLDS 10
#define VAL_SEED 20240601u

void train_config_defaults(train_config *cfg) {
    /* Chosen on relit ORL people (s1-s20 trained, s21-s40 tested; README, fine-tuning): 5
     * epochs at 1e-4 are 35 Adam steps for 400 photos, too few to move a head that starts
     * as the identity (the loss stays flat); 20 epochs at 1e-3 move it. Runs that would
     * move it too far are stopped by the validation people (held out from the training
     * folder unless given), whose best epoch is kept. */
    cfg->epochs = 20;
    cfg->people_per_batch = 10;
    cfg->photos_per_person = 6;
    cfg->alpha = 0.2f;
    cfg->mining = TRAIN_MINING_ACTIVE;
    train_adam_defaults(&cfg->adam);
    cfg->adam.lr = 1e-3f;
    cfg->seed = 1;
    cfg->threads = 0;
}

fr_status train_verification(const embed_head *h, int threads, const train_set *set,
                             double *accuracy, double *eer) {
    int n = set->n_photos, dim = set->dim;
    float *rows = malloc((size_t)n * dim * sizeof *rows);
    if (!rows) return fr_error(FR_E_NOMEM, "out of memory for the validation embeddings");
    for (int i = 0; i < n; i++)
        memcpy(rows + (size_t)i * dim, set->embeddings + (size_t)i * set->copies * dim,
               (size_t)dim * sizeof *rows);
    fr_status st = h ? embed_head_apply(h, threads, rows, n) : FR_OK;
    eval_pair *pairs = NULL;
    int n_pairs = 0, folds = VAL_FOLDS;
    if (st == FR_OK) st = eval_folder_pairs(set->labels, n, &folds, VAL_SEED, &pairs, &n_pairs);
    if (st == FR_OK && folds < 2)
        st = fr_error(FR_E_ARG, "validation needs two same-person pairs or more");
    float *distances = st == FR_OK ? malloc((size_t)n_pairs * sizeof *distances) : NULL;
    int *same = st == FR_OK ? malloc((size_t)n_pairs * sizeof *same) : NULL;
    int *fold = st == FR_OK ? malloc((size_t)n_pairs * sizeof *fold) : NULL;
    if (st == FR_OK && (!distances || !same || !fold))
        st = fr_error(FR_E_NOMEM, "out of memory for the validation pairs");
    for (int i = 0; st == FR_OK && i < n_pairs; i++) {
        distances[i] = fr_distance(rows + (size_t)pairs[i].a * dim,
                                   rows + (size_t)pairs[i].b * dim, dim);
        same[i] = pairs[i].same;
        fold[i] = pairs[i].fold;
    }
    eval_verification v;
    if (st == FR_OK) st = eval_verify(distances, same, fold, n_pairs, folds, -1, &v);
    if (st == FR_OK) {
        *accuracy = v.accuracy_mean;
        *eer = v.eer;
    }
    free(rows);
    free(pairs);
    free(distances);
    free(same);
    free(fold);
    return st;
}

/* Partial Fisher-Yates: the first k entries of a (n) become a uniform random choice. */
static void choose(int *a, int n, int k, train_rng *rng) {
    for (int i = 0; i < k && i < n - 1; i++) {
        int j = i + train_rng_below(rng, n - i), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Training state: the photos of each person, the batch and the optimiser's moments. */
typedef struct trainer {
    int *by_person;   /* photo indices grouped by person */
    int *first;       /* (n_people + 1): person p's photos are by_person[first[p] ..] */
    int *eligible;    /* people with two photos or more */
    int n_eligible;
    int *items;       /* (B): photo * copies + copy */
    int *labels;      /* (B) */
    train_triplet *triplets;
    float *y, *dy, *grad, *m, *v; /* (B,dim), (B,dim), then (n_params) each */
} trainer;

static void trainer_free(trainer *t) {
    free(t->by_person);
    free(t->first);
    free(t->eligible);
    free(t->items);
    free(t->labels);
    free(t->triplets);
    free(t->y);
    free(t->dy);
    free(t->grad);
    free(t->m);
    free(t->v);
}

static fr_status trainer_init(trainer *t, const train_model *m, int P, int K) {
    memset(t, 0, sizeof *t);
    int n = m->n_photos, np = m->n_people, B = P * K;
    t->by_person = malloc((size_t)(n ? n : 1) * sizeof *t->by_person);
    t->first = calloc((size_t)np + 1, sizeof *t->first);
    t->eligible = malloc((size_t)np * sizeof *t->eligible);
    t->items = malloc((size_t)B * sizeof *t->items);
    t->labels = malloc((size_t)B * sizeof *t->labels);
    t->triplets = malloc((size_t)B * (K - 1 > 0 ? K - 1 : 1) * sizeof *t->triplets);
    t->y = malloc((size_t)B * m->dim * sizeof *t->y);
    t->dy = malloc((size_t)B * m->dim * sizeof *t->dy);
    t->grad = malloc(m->n_params * sizeof *t->grad);
    t->m = calloc(m->n_params, sizeof *t->m);
    t->v = calloc(m->n_params, sizeof *t->v);
    int *fill = malloc((size_t)(np ? np : 1) * sizeof *fill);
    if (!t->by_person || !t->first || !t->eligible || !t->items || !t->labels ||
        !t->triplets || !t->y || !t->dy || !t->grad || !t->m || !t->v || !fill) {
        free(fill);
        trainer_free(t);
        return fr_error(FR_E_NOMEM, "out of memory for training");
    }
    /* counting sort of the photos by person */
    for (int i = 0; i < n; i++) t->first[m->labels[i] + 1]++;
    for (int p = 0; p < np; p++) t->first[p + 1] += t->first[p];
    memcpy(fill, t->first, (size_t)np * sizeof *fill);
    for (int i = 0; i < n; i++) t->by_person[fill[m->labels[i]]++] = i;
    free(fill);
    for (int p = 0; p < np; p++)
        if (t->first[p + 1] - t->first[p] >= 2) t->eligible[t->n_eligible++] = p;
    return FR_OK;
}

/* Fill the batch: P people, up to K photos each, each photo a random one of its copies.
 * Returns the batch size. */
static int sample_batch(trainer *t, const train_model *m, int P, int K, train_rng *rng) {
    int B = 0;
    choose(t->eligible, t->n_eligible, P, rng);
    for (int i = 0; i < P; i++) {
        int person = t->eligible[i], *photos = t->by_person + t->first[person];
        int count = t->first[person + 1] - t->first[person], k = FR_MIN(K, count);
        choose(photos, count, k, rng);
        for (int j = 0; j < k; j++, B++) {
            t->items[B] = photos[j] * m->copies + train_rng_below(rng, m->copies);
            t->labels[B] = person;
        }
    }
    return B;
}

fr_status train_fit(const train_model *m, const train_config *cfg, train_epoch_fn fn,
                    void *user, train_epoch_stats *history, int *best_epoch) {
    if (cfg->epochs < 1 || cfg->people_per_batch < 2 || cfg->photos_per_person < 2 ||
        !(cfg->alpha > 0) || !(cfg->adam.lr > 0))
        return fr_error(FR_E_ARG, "training: invalid settings (epochs %d, batch %dx%d, "
                                  "alpha %g, learning rate %g)",
                        cfg->epochs, cfg->people_per_batch, cfg->photos_per_person,
                        (double)cfg->alpha, (double)cfg->adam.lr);
    trainer t;
    int P = cfg->people_per_batch, K = cfg->photos_per_person, dim = m->dim;
    fr_status st = trainer_init(&t, m, P, K);
    if (st != FR_OK) return st;
    if (t.n_eligible < 2) {
        trainer_free(&t);
        return fr_error(FR_E_ARG, "training needs two people or more with two photos or more "
                                  "each (found %d)", t.n_eligible);
    }
    P = FR_MIN(P, t.n_eligible);
    int batches = FR_MAX(1, (m->n_photos + P * K - 1) / (P * K));
    train_rng rng = {cfg->seed};
    const int threads = nn_resolve_threads(cfg->threads);
    long step = 0;
    /* with validation, the best parameters seen so far (epoch 0: the untrained ones) */
    float *best = m->validate ? malloc(m->n_params * sizeof *best) : NULL;
    double best_accuracy = -1.0;
    if (best_epoch) *best_epoch = cfg->epochs;
    if (m->validate && !best) {
        trainer_free(&t);
        return fr_error(FR_E_NOMEM, "out of memory for training");
    }
    for (int epoch = 0; epoch <= cfg->epochs && st == FR_OK; epoch++) {
        train_epoch_stats s = {epoch, NAN, NAN, 0, NAN, NAN};
        long n_pairs_sum = 0;
        double loss_sum = 0.0;
        for (int b = 0; epoch > 0 && b < batches && st == FR_OK; b++) {
            int B = sample_batch(&t, m, P, K, &rng), n_triplets, n_pairs;
            if ((st = m->forward(m->self, threads, t.items, B, t.y)) != FR_OK) break;
            train_mine_triplets(t.y, t.labels, B, dim, cfg->alpha, cfg->mining, &rng,
                                t.triplets, &n_triplets, &n_pairs);
            loss_sum += train_triplet_loss(t.y, B, dim, t.triplets, n_triplets, cfg->alpha,
                                           t.dy, NULL);
            n_pairs_sum += n_pairs;
            s.n_triplets += n_triplets;
            if (n_triplets == 0) continue; /* nothing to learn from this batch */
            memset(t.grad, 0, m->n_params * sizeof *t.grad);
            if ((st = m->backward(m->self, threads, t.dy, B, t.grad)) != FR_OK) break;
            train_adam_step(&cfg->adam, ++step, m->params, t.grad, t.m, t.v, m->n_params);
        }
        if (epoch > 0 && n_pairs_sum > 0) {
            s.loss = loss_sum / (double)n_pairs_sum;
            s.active_share = (double)s.n_triplets / (double)n_pairs_sum;
        }
        if (st == FR_OK && m->validate)
            st = m->validate(m->self, threads, &s.val_accuracy, &s.val_eer);
        if (st == FR_OK && m->validate && s.val_accuracy > best_accuracy) {
            best_accuracy = s.val_accuracy;
            memcpy(best, m->params, m->n_params * sizeof *best);
            if (best_epoch) *best_epoch = epoch;
        }
        if (st == FR_OK) {
            if (history) history[epoch] = s;
            if (fn) fn(&s, user);
        }
    }
    if (best && st == FR_OK) memcpy(m->params, best, m->n_params * sizeof *best);
    free(best);
    trainer_free(&t);
    return st;
}

/* ---- the head on a set of base embeddings ---- */

typedef struct head_fit {
    embed_head *h;
    const train_set *train, *val;
    train_head_pass *pass;
    float *batch; /* (B,dim) the items' base embeddings */
} head_fit;

static fr_status head_forward(void *self, int threads, const int *items, int B, float *y) {
    head_fit *hf = self;
    int dim = hf->h->dim;
    for (int i = 0; i < B; i++)
        memcpy(hf->batch + (size_t)i * dim, hf->train->embeddings + (size_t)items[i] * dim,
               (size_t)dim * sizeof *hf->batch);
    embed_head_forward(hf->h, threads, hf->batch, B, hf->pass->forward);
    memcpy(y, hf->pass->forward->y, (size_t)B * dim * sizeof *y);
    return FR_OK;
}

static fr_status head_backward(void *self, int threads, const float *dy, int B, float *grad) {
    head_fit *hf = self;
    (void)threads; /* the head's backward pass is serial */
    train_head_backward(hf->h, hf->pass, B, dy, grad);
    return FR_OK;
}

static fr_status head_validate(void *self, int threads, double *accuracy, double *eer) {
    head_fit *hf = self;
    return train_verification(hf->h, threads, hf->val, accuracy, eer);
}

fr_status train_head_fit(embed_head *h, const train_set *train, const train_set *val,
                         const train_config *cfg, train_epoch_fn fn, void *user,
                         train_epoch_stats *history, int *best_epoch) {
    if (train->dim != h->dim || (val && val->dim != h->dim))
        return fr_error(FR_E_MISMATCH, "training: embeddings of length %d for a head of %d",
                        train->dim, h->dim);
    int B = FR_MAX(cfg->people_per_batch, 1) * FR_MAX(cfg->photos_per_person, 1);
    head_fit hf = {h, train, val, NULL, malloc((size_t)B * h->dim * sizeof(float))};
    fr_status st = hf.batch ? train_head_pass_new(h, B, &hf.pass)
                            : fr_error(FR_E_NOMEM, "out of memory for training");
    train_model m = {h->params, h->n_params, h->dim, train->n_photos, train->copies,
                     train->n_people, train->labels, &hf, head_forward, head_backward,
                     val ? head_validate : NULL};
    if (st == FR_OK) st = train_fit(&m, cfg, fn, user, history, best_epoch);
    train_head_pass_free(hf.pass);
    free(hf.batch);
    embed_head_update_id(h);
    return st;
}
