/* tfjs.h: TensorFlow.js weight maps (a JSON manifest plus .bin shards beside it). */
#ifndef FR_NN_TFJS_H
#define FR_NN_TFJS_H

#include "nn/weights.h"

/* Load every tensor of the manifest at `manifest_path`, reading the shard files it lists
 * from the same folder. uint8-quantised tensors are dequantised as q * scale + min;
 * float32 and float16 are converted to float32. Each tensor's name, dtype, shape and byte
 * count are checked; a truncated, corrupt or inconsistent file is an error naming the file
 * and the tensor. */
fr_status nn_tfjs_load(const char *manifest_path, nn_weights **out);

#endif
