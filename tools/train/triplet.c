/* triplet.c: FaceNet's triplet loss and its online triplet selection (Schroff, Kalenichenko
 * and Philbin, 2015, sections 3 and 3.2), and the seeded random numbers of training. */
#include "train/train_internal.h"

uint64_t train_rng_next(train_rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int train_rng_below(train_rng *r, int n) { return (int)(train_rng_next(r) % (uint64_t)n); }

float train_rng_uniform(train_rng *r, float lo, float hi) {
    double u = (double)(train_rng_next(r) >> 11) / 9007199254740992.0; /* [0, 1), 53 bits */
    return lo + (float)(u * (double)(hi - lo));
}

float train_squared_distance(const float *a, const float *b, int dim) {
    float sum = 0.0f;
    for (int i = 0; i < dim; i++) {
        float d = a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

void train_mine_triplets(const float *emb, const int *labels, int B, int dim, float alpha,
                         train_mining mining, train_rng *rng, train_triplet *triplets,
                         int *n_triplets, int *n_pairs) {
    *n_triplets = 0;
    *n_pairs = 0;
    for (int a = 0; a < B; a++) {
        const float *fa = emb + (size_t)a * dim;
        for (int p = 0; p < B; p++) {
            if (p == a || labels[p] != labels[a]) continue;
            (*n_pairs)++;
            float d_ap = train_squared_distance(fa, emb + (size_t)p * dim, dim);
            /* reservoir sampling: a uniform choice among the candidates in one pass */
            int chosen = -1, seen = 0;
            for (int n = 0; n < B; n++) {
                if (labels[n] == labels[a]) continue;
                float d_an = train_squared_distance(fa, emb + (size_t)n * dim, dim);
                int candidate = d_an < d_ap + alpha && (mining == TRAIN_MINING_ACTIVE || d_an > d_ap);
                if (candidate && train_rng_below(rng, ++seen) == 0) chosen = n;
            }
            if (chosen >= 0)
                triplets[(*n_triplets)++] = (train_triplet){a, p, chosen};
        }
    }
}

double train_triplet_loss(const float *emb, int B, int dim, const train_triplet *triplets,
                          int n_triplets, float alpha, float *demb, int *n_active) {
    if (demb)
        for (size_t i = 0; i < (size_t)B * dim; i++) demb[i] = 0.0f;
    double loss = 0.0;
    int active = 0;
    for (int t = 0; t < n_triplets; t++) {
        const float *fa = emb + (size_t)triplets[t].anchor * dim;
        const float *fp = emb + (size_t)triplets[t].positive * dim;
        const float *fn = emb + (size_t)triplets[t].negative * dim;
        double l = (double)train_squared_distance(fa, fp, dim) -
                   (double)train_squared_distance(fa, fn, dim) + alpha;
        if (l <= 0.0) continue;
        loss += l;
        active++;
        if (!demb) continue;
        /* d/dfa = 2 (fn - fp), d/dfp = 2 (fp - fa), d/dfn = 2 (fa - fn) */
        float *ga = demb + (size_t)triplets[t].anchor * dim;
        float *gp = demb + (size_t)triplets[t].positive * dim;
        float *gn = demb + (size_t)triplets[t].negative * dim;
        for (int i = 0; i < dim; i++) {
            ga[i] += 2.0f * (fn[i] - fp[i]);
            gp[i] += 2.0f * (fp[i] - fa[i]);
            gn[i] += 2.0f * (fa[i] - fn[i]);
        }
    }
    if (n_active) *n_active = active;
    return loss;
}
