/* keras_csv.h: a Keras model's weights exported as one CSV file per array, the layout that
 * the deeplearning.ai / OpenFace Keras port reads (fr_utils.load_weights):
 *
 *   convolution   <file>_w.csv  (Out,In,KH,KW) values in Torch order, <file>_b.csv (Out)
 *   dense         <file>_w.csv  (Out,In),                              <file>_b.csv (Out)
 *   batch norm    <file>_w.csv gamma, _b.csv beta, _m.csv moving mean, _v.csv moving variance
 *
 * Each file is plain text: numbers separated by commas, spaces or line breaks, read in order.
 * The importer reshapes as fr_utils does (conv: transpose to (KH,KW,In,Out); dense: to
 * (In,Out)) and checks every file's presence and value count. */
#ifndef FR_NN_KERAS_CSV_H
#define FR_NN_KERAS_CSV_H

#include "nn/weights.h"

typedef enum keras_layer_kind { KERAS_CONV, KERAS_DENSE, KERAS_BATCHNORM } keras_layer_kind;

typedef struct keras_csv_layer {
    const char *name;      /* the Keras layer name, which names the tensors */
    const char *file;      /* file name stem, usually the layer name ("dense" for dense_layer) */
    keras_layer_kind kind;
    int out, in, kh, kw;   /* conv: all four; dense: out, in; batch norm: out (channels) */
} keras_csv_layer;

/* Read the CSV files of `layers` from dir into one weight set with these tensors:
 *   conv        "<name>/kernel" (KH,KW,In,Out), "<name>/bias" (Out)
 *   dense       "<name>/kernel" (In,Out), "<name>/bias" (Out)
 *   batch norm  "<name>/gamma", "<name>/beta", "<name>/moving_mean", "<name>/moving_variance"
 * A missing, short, long or non-numeric file is an error naming it. */
fr_status nn_keras_csv_load(const char *dir, const keras_csv_layer *layers, int n_layers,
                            nn_weights **out);

/* Parse exactly `count` finite numbers from the CSV file at path into values. */
fr_status nn_keras_csv_read(const char *path, size_t count, float *values);

#endif
