/* faceapi_nets.h: the four networks of face-api.js (tfjs weight maps), built on nn/.
 * Each is loaded from its weights manifest and is immutable afterwards (thread-safe). */
#ifndef FR_NETS_FACEAPI_H
#define FR_NETS_FACEAPI_H

#include "facerec.h"

/* SSD-MobileNetV1 face detector: 512x512 input, 5,118 anchors, box decoding, NMS. */
typedef struct ssd_mobilenet ssd_mobilenet;
fr_status ssd_mobilenet_load(const char *manifest_path, ssd_mobilenet **out);
/* Faces (box and score set, no landmarks) in image coordinates, best first, at most
 * max_faces. *faces is malloc'd (NULL when *n_faces is 0). */
fr_status ssd_mobilenet_detect(const ssd_mobilenet *net, int threads, const fr_image *img,
                               float min_score, float iou_threshold, int max_faces, fr_face **faces,
                               int *n_faces);
void ssd_mobilenet_free(ssd_mobilenet *net);

/* Tiny face detector (a tiny-YOLOv2 variant, 416x416 input by default). */
typedef struct tiny_face_detector tiny_face_detector;
fr_status tiny_face_detector_load(const char *manifest_path, tiny_face_detector **out);
fr_status tiny_face_detector_detect(const tiny_face_detector *net, int threads, const fr_image *img,
                                    int input_size, float min_score, float iou_threshold,
                                    fr_face **faces, int *n_faces);
void tiny_face_detector_free(tiny_face_detector *net);

/* 68-point landmark nets, full and tiny. Fills faces[i].landmarks (image coordinates) and
 * n_landmarks = 68 for each face, from its box; all faces in one batch. */
typedef struct landmark68 landmark68;
fr_status landmark68_load(const char *manifest_path, int tiny, landmark68 **out);
fr_status landmark68_run(const landmark68 *net, int threads, const fr_image *img, fr_face *faces,
                         int n_faces);
void landmark68_free(landmark68 *net);

/* dlib ResNet-29 face descriptor: 150x150 RGB in, 128-d out (face-api's preprocessing:
 * pad to square, resize to 150, subtract the per-channel mean, divide by 255). The
 * descriptors are face-api's as they are, not L2-normalised. */
typedef struct dlib_resnet dlib_resnet;
/* path: face-api's weights manifest, or a model file of nets/dlib_resnet.h (e.g. a network
 * fine-tuned by `facerec train --full`, whose descriptors are L2-normalised).
 * prepared_folder: the folder of prepared files (nn/prepared.h: the weights mapped from the
 * file saved by an earlier load, or saved after this one), or NULL to read the model file
 * alone. A mapped network's weights are read-only (dlib_resnet_param_data). */
fr_status dlib_resnet_load(const char *path, const char *prepared_folder, dlib_resnet **out);
/* crops[i] are face crops of any size (each padded to square and resized to 150x150 as
 * face-api does); out is (n,128). All crops run as one batch. */
fr_status dlib_resnet_embed(const dlib_resnet *net, int threads, const fr_image *const *crops,
                            int n, float *out);
void dlib_resnet_free(dlib_resnet *net);

#endif
