/* detect.c: the detector registry. */
#include "face/face.h"

#include "nets/faceapi_nets.h"

#include <string.h>

/* face-api's defaults: SSD keeps 100 boxes at IoU 0.5; the tiny detector runs at 416 px
 * with IoU 0.4. */
static fr_status ssd_load(const char *path, void **net) {
    return ssd_mobilenet_load(path, (ssd_mobilenet **)net);
}
static fr_status ssd_detect(const void *net, const fr_image *img, float min_score,
                            fr_face **faces, int *n) {
    return ssd_mobilenet_detect(net, img, min_score, 0.5f, 100, faces, n);
}
static void ssd_free(void *net) { ssd_mobilenet_free(net); }

static fr_status tiny_load(const char *path, void **net) {
    return tiny_face_detector_load(path, (tiny_face_detector **)net);
}
static fr_status tiny_detect(const void *net, const fr_image *img, float min_score,
                             fr_face **faces, int *n) {
    return tiny_face_detector_detect(net, img, 416, min_score, 0.4f, faces, n);
}
static void tiny_free(void *net) { tiny_face_detector_free(net); }

static const fr_detector detectors[] = {
    {"ssd", "face-api/model/ssd_mobilenetv1_model-weights_manifest.json", 0.5f, ssd_load,
     ssd_detect, ssd_free},
    {"tiny", "face-api/model/tiny_face_detector_model-weights_manifest.json", 0.5f, tiny_load,
     tiny_detect, tiny_free},
};

const fr_detector *fr_detector_find(const char *name) {
    for (size_t i = 0; i < sizeof detectors / sizeof detectors[0]; i++)
        if (!strcmp(detectors[i].name, name)) return &detectors[i];
    return NULL;
}

const char *fr_detector_names(void) { return "ssd, tiny"; }
