/* model.c: the one interpretation of a model name (see model.h). */
#include "face/model.h"

#include "common/common.h"
#include "nn/import/frmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next member: embedder, with its weights from file (NULL: the registry's file in the
 * models folder) and its alignment. */
static fr_status add_member(model_spec *spec, const fr_config *cfg, const fr_embedder *embedder,
                            const char *file, float weight) {
    if (!embedder) return fr_error(FR_E_ARG, "a fused model names an unknown member");
    if (spec->dim + embedder->dim > FR_MAX_EMBEDDING)
        return fr_error(FR_E_ARG, "%s: the embedding would be longer than %d values",
                        embedder->name, FR_MAX_EMBEDDING);
    model_member *m = &spec->members[spec->n_members];
    fr_status st = FR_OK;
    if (file) {
        if (snprintf(m->weights, sizeof m->weights, "%s", file) >= (int)sizeof m->weights)
            st = fr_error(FR_E_ARG, "%s: path too long", file);
    } else {
        st = fr_network_path(cfg->models_dir, embedder->model_file, m->weights, sizeof m->weights);
    }
    if (st != FR_OK) return st;
    m->embedder = embedder;
    m->align = cfg->align ? cfg->align : embedder->default_align;
    m->align_scale = cfg->align_scale == 0 ? 1.0f : cfg->align_scale;
    m->weight = weight;
    m->scale = sqrtf(weight);
    m->offset = spec->dim;
    spec->dim += embedder->dim;
    spec->n_members++;
    return FR_OK;
}

/* model: the fusion's name, or "<name>:W" (see fr_fusion_find). */
static fr_status resolve_fusion(model_spec *spec, const fr_config *cfg, const fr_fusion *fusion,
                                const char *model) {
    float weights[FR_MAX_FUSED];
    fr_status st = fr_fusion_resolve(fusion, cfg, model, weights);
    if (st != FR_OK) return st;
    if (strlen(model) >= sizeof spec->id)
        return fr_error(FR_E_ARG, "%s: the model name is too long", model);
    spec->kind = MODEL_FUSION;
    snprintf(spec->id, sizeof spec->id, "%s", model);
    for (int i = 0; i < FR_MAX_FUSED && fusion->members[i] && st == FR_OK; i++)
        st = add_member(spec, cfg, fr_embedder_find(fusion->members[i]), NULL, weights[i]);
    return st;
}

/* model: an embedder's name, a head file or a network's model file. */
static fr_status resolve_single(model_spec *spec, const fr_config *cfg, const char *model) {
    fr_status st;
    spec->kind = MODEL_EMBEDDER;
    /* a head file made by `facerec train` runs on top of the base model it names */
    if (!fr_embedder_find(model) && embed_head_is_file(model)) {
        if ((st = embed_head_load(model, &spec->head)) != FR_OK) return st;
        spec->kind = MODEL_HEAD;
        model = spec->head->base;
    }
    /* a model file written by an importer (nn/import/frmodel.h) names its network, and
     * that name is the model id the engine reports to galleries */
    const char *model_file = NULL;
    frmodel_info model_info;
    if (!spec->head && !fr_embedder_find(model) && frmodel_is_file(model)) {
        if ((st = frmodel_read_info(model, &model_info)) != FR_OK) return st;
        spec->kind = MODEL_NETWORK_FILE;
        model_file = model;
        model = model_info.model_id;
    }
    /* a network fine-tuned by `facerec train --full` is "<network>+<suffix>": it runs on
     * <network>'s code, and galleries record the whole id */
    char network[FRMODEL_MAX_ID + 1];
    const char *plus = model_file ? strchr(model, '+') : NULL;
    if (plus && !fr_embedder_find(model)) {
        snprintf(spec->id, sizeof spec->id, "%s", model);
        snprintf(network, sizeof network, "%.*s", (int)(plus - model), model);
        model = network;
    }
    const fr_embedder *embedder = fr_embedder_find(model);
    if (!embedder)
        return fr_error(FR_E_ARG, "unknown embedding model '%s' (known: %s)", model,
                        fr_embedder_names());
    if (spec->head && spec->head->dim != embedder->dim)
        return fr_error(FR_E_MISMATCH, "%s: the head takes embeddings of length %d, %s gives %d",
                        cfg->model, spec->head->dim, model, embedder->dim);
    if (spec->head) snprintf(spec->id, sizeof spec->id, "%s", spec->head->id);
    else if (!spec->id[0]) snprintf(spec->id, sizeof spec->id, "%s", embedder->name);
    return add_member(spec, cfg, embedder, model_file, 1.0f);
}

fr_status model_resolve(const fr_config *cfg, model_spec *out) {
    memset(out, 0, sizeof *out);
    const char *model = cfg->model ? cfg->model : FR_DEFAULT_MODEL;
    const fr_fusion *fusion = fr_fusion_find(model);
    fr_status st = fusion ? resolve_fusion(out, cfg, fusion, model) : resolve_single(out, cfg, model);
    if (st != FR_OK) model_spec_free(out);
    return st;
}

void model_spec_free(model_spec *spec) {
    embed_head_free(spec->head);
    memset(spec, 0, sizeof *spec);
}

void model_place_member(const model_spec *spec, int j, const float *v, float *embedding) {
    const model_member *m = &spec->members[j];
    for (int k = 0; k < m->embedder->dim; k++) embedding[m->offset + k] = m->scale * v[k];
}
