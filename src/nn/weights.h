/* weights.h: a set of named float32 tensors, as a model importer produces them.
 * Every importer (tfjs weight maps, later TFLite and Keras CSV) yields one of these, and a
 * network takes its parameters from it by name with the shape it expects. */
#ifndef FR_NN_WEIGHTS_H
#define FR_NN_WEIGHTS_H

#include "facerec.h"

#include <stddef.h>
#include <stdint.h>

#define NN_MAX_DIMS 6

typedef struct nn_tensor_entry {
    char *name;
    int ndim;
    int shape[NN_MAX_DIMS];
    size_t count; /* product of shape */
    float *data;  /* owned by the weights set */
} nn_tensor_entry;

typedef struct nn_weights {
    char *source; /* file the weights came from, for error messages */
    int count;
    nn_tensor_entry *tensors;
    char **files; /* every file read for them (source first: a manifest, then its shards), */
    int n_files;  /* whose identity a prepared file records (nn/prepared.h) */
    /* When set, the tensors' data are no allocations of their own: they lie in these
     * n_blocks blocks (an importer's few large allocations, NULL ones allowed), freed with
     * the set. */
    float **blocks;
    size_t n_blocks;
} nn_weights;

/* The tensor called `name` with exactly the shape given (ndim values), or an error naming
 * the source file and the tensor (missing, or the shape found against the one expected).
 * The data stays owned by w; networks may modify it in place at load (e.g. to fold
 * batch norm) since each network loads its own set. */
fr_status nn_weights_get(const nn_weights *w, const char *name, int ndim, const int *shape,
                         float **data);

/* The entry called `name`, or NULL. */
const nn_tensor_entry *nn_weights_find(const nn_weights *w, const char *name);

void nn_weights_free(nn_weights *w);

/* Record that the file at `path` was read for w (nn_weights.files). FR_E_NOMEM naming it. */
fr_status nn_weights_add_file(nn_weights *w, const char *path);

/* IEEE 754 binary16 to binary32, exactly (subnormals, infinities and NaN included): the
 * float16 weights of tfjs weight maps and TFLite files. */
float nn_half_to_float(uint16_t h);

#endif
