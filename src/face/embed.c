/* embed.c: the embedder registry. */
#include "face/face.h"

#include "common/common.h"

#include "nets/faceapi_nets.h"
#include "nets/original_nets.h"
#include "nets/tflite_nets.h"

#include <stdlib.h>
#include <string.h>

static fr_status dlib_load(const char *path, const char *prepared_folder, void **net) {
    return dlib_resnet_load(path, prepared_folder, (dlib_resnet **)net);
}
static fr_status dlib_embed(const void *net, int threads, const fr_image *const *crops, int n,
                            float *out) {
    return dlib_resnet_embed(net, threads, crops, n, out);
}
static void dlib_free(void *net) { dlib_resnet_free(net); }

static fr_status mobilefacenet_load_any(const char *path, const char *prepared_folder,
                                        void **net) {
    (void)prepared_folder; /* no prepared file yet */
    return mobilefacenet_load(path, (mobilefacenet **)net);
}
static fr_status mobilefacenet_embed_any(const void *net, int threads, const fr_image *const *crops,
                                         int n, float *out) {
    return mobilefacenet_embed(net, threads, crops, n, out);
}
static void mobilefacenet_free_any(void *net) { mobilefacenet_free(net); }

static fr_status nn4small2_load_any(const char *path, const char *prepared_folder,
                                    void **net) {
    (void)prepared_folder; /* no prepared file yet */
    return nn4small2_load(path, (nn4small2 **)net);
}
static fr_status nn4small2_embed_any(const void *net, int threads, const fr_image *const *crops,
                                     int n, float *out) {
    return nn4small2_embed(net, threads, crops, n, out);
}
static void nn4small2_free_any(void *net) { nn4small2_free(net); }

static const fr_embedder embedders[] = {
    /* dlib-chip: measured better than face-api's own crop on LFW and ORL (BENCHMARKS.md) */
    {"dlib-resnet", "face-api/model/face_recognition_model-weights_manifest.json", 128,
     "dlib-chip", dlib_load, dlib_embed, dlib_free},
    {"mobilefacenet", MOBILEFACENET_FILE, MOBILEFACENET_DIM, "similarity", mobilefacenet_load_any, mobilefacenet_embed_any,
     mobilefacenet_free_any},
    /* made by `facerec import-keras-csv WEIGHTS_DIR --out models/nn4small2.frmodel` */
    {NN4SMALL2_MODEL_ID, "nn4small2.frmodel", NN4SMALL2_DIM, "similarity", nn4small2_load_any,
     nn4small2_embed_any, nn4small2_free_any},
};

const fr_embedder *fr_embedder_find(const char *name) {
    for (size_t i = 0; i < sizeof embedders / sizeof embedders[0]; i++)
        if (!strcmp(embedders[i].name, name)) return &embedders[i];
    return NULL;
}

/* mobilefacenet's weight is chosen by scripts/fusion_weights.sh (BENCHMARKS.md): among the
 * weights whose AUC on LFW View 1's training pairs is within one bootstrap standard error of
 * the best, the one with the lowest open-set FNIR at FPIR 1% on half A of LFW's people. 1:1
 * verification alone would take 0.12 (the largest AUC), which misses a third more enrolled
 * people in 1:N search at the same false-positive rate. Half B, all of LFW and View 2 report
 * the choice and chose nothing. mobilefacenet's distances run about 2.6 times dlib-resnet's
 * (LFW thresholds 1.09 and 0.42), so its weight reads smaller than its share. */
static const fr_fusion fusions[] = {
    {"fusion", {"mobilefacenet", "dlib-resnet"}, {0.3f, 0.7f}},
};

const fr_fusion *fr_fusion_find(const char *name) {
    for (size_t i = 0; i < sizeof fusions / sizeof fusions[0]; i++) {
        size_t n = strlen(fusions[i].name);
        if (!strncmp(fusions[i].name, name, n) && (name[n] == '\0' || name[n] == ':'))
            return &fusions[i];
    }
    return NULL;
}

fr_status fr_fusion_resolve(const fr_fusion *fusion, const fr_config *cfg, const char *model,
                            float weights[FR_MAX_FUSED]) {
    if (cfg->align || (cfg->align_scale != 0 && cfg->align_scale != 1.0f))
        return fr_error(FR_E_ARG, "%s: each member model uses its own alignment; no alignment "
                        "or alignment scale can be chosen", fusion->name);
    memcpy(weights, fusion->weights, FR_MAX_FUSED * sizeof weights[0]);
    const char *w = model + strlen(fusion->name);
    if (*w == ':') {
        char *end;
        double first = strtod(w + 1, &end);
        if (end == w + 1 || *end || !(first > 0 && first < 1))
            return fr_error(FR_E_ARG, "%s: the weight after ':' must be a number between 0 and 1",
                            model);
        weights[0] = (float)first;
        weights[1] = (float)(1 - first);
    }
    return FR_OK;
}

const char *fr_embedder_names(void) {
    return "dlib-resnet, mobilefacenet, nn4small2, fusion[:W] (mobilefacenet with weight W, and "
           "dlib-resnet), or a model FILE";
}
