/* import.h: converting other projects' weights into facerec model files, for
 * `facerec import-keras-csv` (not installed). The conversion itself needs the network's
 * layout, so it lives with the network (src/nets); this is its front ends' entry. */
#ifndef FR_IMPORT_H
#define FR_IMPORT_H

#include "facerec.h"

/* The original FaceNet nn4.small2 Keras model's per-layer CSV weights (the weights/ folder
 * that fr_utils.load_weights reads) into one model file at out_path, batch norm folded into
 * the convolutions (nets/original_nets.h). */
fr_status import_nn4small2_keras_csv(const char *weights_dir, const char *out_path);

#endif
