/* original_nets.h: the networks of the system facerec replaces: FaceNet nn4.small2 as the
 * deeplearning.ai / OpenFace Keras port defines it, from its per-layer CSV weights. The
 * Haar cascade detector of the same system is in face/haar.h. */
#ifndef FR_NETS_ORIGINAL_H
#define FR_NETS_ORIGINAL_H

#include "facerec.h"
#include "nn/import/keras_csv.h"

#define NN4SMALL2_MODEL_ID "nn4small2"
#define NN4SMALL2_INPUT 96 /* square RGB input */
#define NN4SMALL2_DIM 128
/* how an image becomes the input, as the original's fr_utils.img_to_encoding did it:
 * OpenCV's bilinear resize to 96x96, RGB, channels divided by 255 */
#define NN4SMALL2_PREPROCESSING "opencv-bilinear-96,rgb,div255"

/* The CSV layers of the Keras model (37 convolutions, 37 batch norms, the dense layer), in
 * the order fr_utils.WEIGHTS lists them by block. *layers is malloc'd (free with free()). */
fr_status nn4small2_keras_layers(keras_csv_layer **layers, int *n_layers);

/* Read the CSV weights in weights_dir, fold each batch norm into its convolution (with the
 * layer's own epsilon: 0.001 for bn1, Keras's default, 1e-5 for the others) and write a model
 * file (nn/import/frmodel.h) with model id NN4SMALL2_MODEL_ID to out_path. */
fr_status nn4small2_import_keras_csv(const char *weights_dir, const char *out_path);

typedef struct nn4small2 nn4small2;
/* Load a model file written by nn4small2_import_keras_csv (a file of another model id, or
 * with a tensor missing or of the wrong shape, is an error naming the file). */
fr_status nn4small2_load(const char *path, nn4small2 **out);
/* crops[i] are face images of any size, each resized to 96x96 as the original did;
 * out is (n,128), L2-normalised. All crops run as one batch. */
fr_status nn4small2_embed(const nn4small2 *net, int threads, const fr_image *const *crops, int n,
                          float *out);
/* input is (n,96,96,3), RGB in 0..1; out is (n,128). */
fr_status nn4small2_forward(const nn4small2 *net, int threads, const float *input, int n,
                            float *out);
void nn4small2_free(nn4small2 *net);

#endif
