/* base.c: what training starts from, as the model resolver (face/model.h) reads --model. */
#include "train/train_internal.h"

#include "face/model.h"

#include <stdio.h>
#include <string.h>

fr_status train_resolve_base(const fr_config *cfg, int full, char *weights, size_t size) {
    const char *model = cfg->model ? cfg->model : FR_DEFAULT_MODEL;
    model_spec spec;
    fr_status st = model_resolve(cfg, &spec);
    if (st != FR_OK) return fr_error_prefix(st, "--model %s", model);
    const char *network = spec.n_members == 1 ? spec.members[0].embedder->name : "";
    if (full && (spec.kind == MODEL_EMBEDDER || spec.kind == MODEL_NETWORK_FILE) &&
        (!strcmp(network, TRAIN_FULL_BASE) || !strcmp(network, TRAIN_GRAPH_BASE))) {
        if (snprintf(weights, size, "%s", spec.members[0].weights) >= (int)size)
            st = fr_error(FR_E_ARG, "%s: path too long", spec.members[0].weights);
    } else if (full) {
        st = fr_error(FR_E_ARG, "--full: the whole network can be fine-tuned for %s and %s only, "
                      "not for %s (use --head to train a projection on top of it)",
                      TRAIN_FULL_BASE, TRAIN_GRAPH_BASE, model);
    } else if (spec.kind == MODEL_HEAD) {
        st = fr_error(FR_E_ARG, "--model %s: a trained head; give its base model instead", model);
    } else if (spec.kind == MODEL_FUSION) {
        st = fr_error(FR_E_ARG, "--model %s: a fusion of several networks; train on one of them "
                      "(e.g. --model mobilefacenet)", model);
    } else if (spec.kind != MODEL_EMBEDDER) {
        st = fr_error(FR_E_ARG, "--model %s: unknown base model (known: %s)", model,
                      fr_embedder_names());
    }
    model_spec_free(&spec);
    return st;
}

fr_status train_settings(const fr_engine *eng, const fr_config *cfg, char *out, size_t size) {
    const model_spec *spec = engine_model_spec(eng);
    if (spec->n_members != 1)
        return fr_error(FR_E_ARG, "training needs an engine with one embedding model");
    /* the alignment by name, also when it is the model's default (which may change) */
    int n = snprintf(out, size, "%s|%s|%s|%s|%g|%d", fr_engine_model(eng),
                     cfg->detector ? cfg->detector : "", cfg->landmarks ? cfg->landmarks : "",
                     spec->members[0].align, (double)cfg->min_score, cfg->retry_padded);
    return n >= 0 && (size_t)n < size ? FR_OK : fr_error(FR_E_ARG, "training settings too long");
}
