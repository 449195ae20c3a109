/* adam.c: the Adam optimiser (Kingma and Ba, 2015), with decoupled weight decay (Loshchilov
 * and Hutter's AdamW) when asked for. */
#include "train/train_internal.h"

#include <math.h>

void train_adam_defaults(train_adam_config *cfg) {
    cfg->lr = 1e-3f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->weight_decay = 0.0f;
}

void train_adam_step(const train_adam_config *cfg, long t, float *p, const float *g, float *m,
                     float *v, size_t n) {
    /* the bias corrections of the zero-initialised moments, folded into the step size */
    double c1 = 1.0 - pow(cfg->beta1, (double)t), c2 = 1.0 - pow(cfg->beta2, (double)t);
    float step = (float)(cfg->lr * sqrt(c2) / c1);
    float eps = (float)(cfg->eps * sqrt(c2)); /* so that eps applies to the corrected v */
    float decay = cfg->lr * cfg->weight_decay;
    for (size_t i = 0; i < n; i++) {
        m[i] = cfg->beta1 * m[i] + (1.0f - cfg->beta1) * g[i];
        v[i] = cfg->beta2 * v[i] + (1.0f - cfg->beta2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) + eps) + decay * p[i];
    }
}
