/* liveness.h: passive anti-spoofing, the network fr_liveness.onnx (npm
 * faceplugin-face-recognition-js@0.0.1, MIT: a MiniFASNet-style net, 128x128 input, three
 * classes, class 0 = live) run on each face by fr_liveness() (facerec.h).
 *
 * Input, as the package's lib/fr_liveness.js builds it, except the channel order: the face
 * box scaled by min(2.7, the largest scale that fits) about its centre, shifted inside the
 * image (liveness_crop_rect), resized to 128x128 without keeping the aspect ratio, values
 * 0..255 unscaled, channels B,G,R (the package's JavaScript passes R,G,B, which separates
 * attacks worse: see README_LIVENESS.md in tests/reference). */
#ifndef FR_FACE_LIVENESS_H
#define FR_FACE_LIVENESS_H

#include "facerec.h"

#define LIVENESS_SIZE 128
#define LIVENESS_MODEL_FILE "faceplugin-face-recognition-js/model/fr_liveness.onnx"

typedef struct liveness_net liveness_net;

fr_status liveness_load(const char *path, liveness_net **out);
void liveness_free(liveness_net *net);

/* The rectangle (x, y, w, h) of an image width x height that the face's box is cropped to. */
void liveness_crop_rect(int width, int height, const fr_face *face, int rect[4]);

/* The network's input for one face: (128,128,3) floats NHWC, channels B,G,R. */
void liveness_input(int threads, const fr_image *img, const int rect[4], float *out);

/* The network's three outputs (logits) for an input made by liveness_input. */
fr_status liveness_logits(liveness_net *net, int threads, const float *input, float logits[3]);

/* The probability of live, softmax(logits)[0], for each face. */
fr_status liveness_scores(liveness_net *net, int threads, const fr_image *img,
                          const fr_face *faces, int n, float *scores);

#endif
