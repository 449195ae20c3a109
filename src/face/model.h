/* model.h: the one interpretation of a model name (fr_config.model), for the engine
 * (pipeline.c), the evaluation (tools/eval) and training (tools/train):
 *
 *   "<embedder>"    a registry embedder (embed.c), its weights in the models folder
 *   "fusion[:W]"    a fusion of registry embedders (embed.c), each in its own alignment
 *   FILE (head)     a projection head made by `facerec train` (face/head.h), run on top of
 *                   the base embedder it names
 *   FILE (network)  a network's model file (nn/import/frmodel.h): an importer's, named by its
 *                   embedder, or one fine-tuned by `facerec train --full`,
 *                   "<embedder>+<suffix>", which runs on that embedder's code
 */
#ifndef FR_FACE_MODEL_H
#define FR_FACE_MODEL_H

#include "face/face.h"
#include "face/head.h"

#include <limits.h>

typedef enum model_kind { MODEL_EMBEDDER, MODEL_FUSION, MODEL_HEAD, MODEL_NETWORK_FILE } model_kind;

/* One embedding network of a model, and where its values go in the model's embedding. */
typedef struct model_member {
    const fr_embedder *embedder;
    char weights[PATH_MAX]; /* the file its network loads */
    const char *align;      /* the alignment's name: the configuration's, else the embedder's */
    float align_scale;      /* see fr_config.align_scale (1 when not given) */
    float weight;           /* its weight in a fusion (1 alone) */
    float scale;            /* the square root of the weight: its vector is scaled by it */
    int offset;             /* where its values start in the embedding */
} model_member;

typedef struct model_spec {
    model_kind kind;
    char id[96];       /* the model id that galleries record (fr_engine_model) */
    int n_members, dim; /* dim: the members' lengths added */
    model_member members[FR_MAX_FUSED];
    embed_head *head;  /* MODEL_HEAD: the head, loaded (owned by the spec) */
} model_spec;

/* Interpret cfg->model (NULL: FR_DEFAULT_MODEL) with cfg's alignment and models folder:
 * FR_E_ARG for an unknown name or a configuration the model refuses (see fr_fusion_resolve),
 * FR_E_MODEL for a missing or unreadable file. Free with model_spec_free. */
fr_status model_resolve(const fr_config *cfg, model_spec *out);
void model_spec_free(model_spec *spec);

/* Put member j's unit vector v (its embedder's dim) into the model's embedding (spec->dim):
 * scaled by the member's scale, at its offset. v may point into embedding at that offset. */
void model_place_member(const model_spec *spec, int j, const float *v, float *embedding);

/* The model an engine resolved (pipeline.c); no members when it was opened without one. */
const model_spec *engine_model_spec(const fr_engine *eng);

#endif
