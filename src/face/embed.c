/* embed.c: the embedder registry. */
#include "face/face.h"

#include "nets/faceapi_nets.h"

#include <string.h>

static fr_status dlib_load(const char *path, void **net) {
    return dlib_resnet_load(path, (dlib_resnet **)net);
}
static fr_status dlib_embed(const void *net, const fr_image *const *crops, int n, float *out) {
    return dlib_resnet_embed(net, crops, n, out);
}
static void dlib_free(void *net) { dlib_resnet_free(net); }

static const fr_embedder embedders[] = {
    {"dlib-resnet", "face-api/model/face_recognition_model-weights_manifest.json", 128,
     "faceapi", dlib_load, dlib_embed, dlib_free},
};

const fr_embedder *fr_embedder_find(const char *name) {
    for (size_t i = 0; i < sizeof embedders / sizeof embedders[0]; i++)
        if (!strcmp(embedders[i].name, name)) return &embedders[i];
    return NULL;
}

const char *fr_embedder_names(void) { return "dlib-resnet"; }
