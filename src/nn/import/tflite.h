/* tflite.h: TensorFlow Lite model files (.tflite), read into plain C structures.
 *
 * A .tflite file is a FlatBuffer of TensorFlow Lite's schema (tensorflow/lite/schema/
 * schema.fbs, file identifier "TFL3"): a Model holds operator codes, subgraphs and buffers; a
 * subgraph holds tensors (shape, element type, index of the buffer holding a constant's
 * bytes), its input and output tensor indices and its operators (an operator code index,
 * input and output tensor indices, and a union of per-operator options).
 *
 * The reader checks every offset, vtable, vector and string against the file size, and every
 * index (tensor, buffer, operator code) against its table, before anything is used: a
 * malformed or truncated file is FR_E_MODEL with a message naming the file and the object,
 * never a crash. Only the first subgraph (the model's main graph) is read. Options are kept
 * for the operators the graph evaluator knows (nn/graph.h); the graph refuses the others. */
#ifndef FR_NN_TFLITE_H
#define FR_NN_TFLITE_H

#include "facerec.h"
#include "nn/weights.h"

#include <stddef.h>
#include <stdint.h>

/* TensorType of the schema */
typedef enum tflite_type {
    TFLITE_FLOAT32 = 0,
    TFLITE_FLOAT16 = 1,
    TFLITE_INT32 = 2,
    TFLITE_UINT8 = 3,
    TFLITE_INT64 = 4,
    TFLITE_STRING = 5,
    TFLITE_BOOL = 6,
    TFLITE_INT16 = 7,
    TFLITE_COMPLEX64 = 8,
    TFLITE_INT8 = 9,
    TFLITE_FLOAT64 = 10
} tflite_type;

/* BuiltinOperator codes of the operators the graph evaluator runs (schema numbering). */
enum {
    TFLITE_OP_ADD = 0,
    TFLITE_OP_AVERAGE_POOL_2D = 1,
    TFLITE_OP_CONCATENATION = 2,
    TFLITE_OP_CONV_2D = 3,
    TFLITE_OP_DEPTHWISE_CONV_2D = 4,
    TFLITE_OP_DEQUANTIZE = 6,
    TFLITE_OP_FULLY_CONNECTED = 9,
    TFLITE_OP_LOGISTIC = 14,
    TFLITE_OP_MAX_POOL_2D = 17,
    TFLITE_OP_MUL = 18,
    TFLITE_OP_RELU = 19,
    TFLITE_OP_RELU6 = 21,
    TFLITE_OP_RESHAPE = 22,
    TFLITE_OP_RESIZE_BILINEAR = 23,
    TFLITE_OP_SOFTMAX = 25,
    TFLITE_OP_PAD = 34,
    TFLITE_OP_MEAN = 40,
    TFLITE_OP_SUB = 41,
    TFLITE_OP_DIV = 42,
    TFLITE_OP_EXP = 47,
    TFLITE_OP_PRELU = 54,
    TFLITE_OP_NEG = 59,
    TFLITE_OP_SUM = 74,
    TFLITE_OP_REDUCE_MAX = 82,
    TFLITE_OP_ABS = 101
};

/* ActivationFunctionType and Padding of the schema */
enum { TFLITE_ACT_NONE = 0, TFLITE_ACT_RELU = 1, TFLITE_ACT_RELU_N1_TO_1 = 2, TFLITE_ACT_RELU6 = 3 };
enum { TFLITE_PAD_SAME = 0, TFLITE_PAD_VALID = 1 };

typedef struct tflite_tensor {
    char *name;
    int ndim;
    int shape[NN_MAX_DIMS];
    tflite_type type;
    /* A constant's bytes (little-endian, row-major), inside the model's file image; NULL
     * and 0 for tensors computed at run time. The size was checked against the shape. */
    const uint8_t *data;
    size_t size;
} tflite_tensor;

/* The options of one operator, from whichever options table the operator carries (fields
 * its table lacks keep the schema's defaults). */
typedef struct tflite_options {
    int padding;              /* TFLITE_PAD_*: convolutions and pools */
    int stride_w, stride_h;
    int dilation_w, dilation_h;
    int filter_w, filter_h;   /* pools */
    int depth_multiplier;
    int activation;           /* TFLITE_ACT_*: the fused activation */
    int axis;                 /* concatenation */
    int keep_dims;            /* reducers; fully connected's keep_num_dims */
    int weights_format;       /* fully connected: 0 is the plain (Cout,Cin) matrix */
    int align_corners, half_pixel_centers; /* resize bilinear */
    int n_new_shape;          /* reshape's new_shape option; -1 when absent */
    int new_shape[NN_MAX_DIMS];
    float beta;               /* softmax */
} tflite_options;

typedef struct tflite_operator {
    int builtin_code;     /* BuiltinOperator */
    int n_inputs, n_outputs;
    int *inputs, *outputs; /* tensor indices; -1 for an omitted optional input */
    tflite_options options;
} tflite_operator;

typedef struct tflite_model {
    char *source; /* file name, for messages */
    const uint8_t *file; /* the whole file image; tensors' data point into it */
    size_t file_size;
    int file_mapped; /* file is tflite_load's mapping, released by tflite_free */
    int n_tensors, n_operators, n_inputs, n_outputs;
    tflite_tensor *tensors;
    tflite_operator *operators;
    int *inputs, *outputs; /* the subgraph's input and output tensor indices */
} tflite_model;

/* Read the .tflite file at `path` (mapped, and kept mapped until tflite_free). */
fr_status tflite_load(const char *path, tflite_model **out);

/* Parse a file image of `size` bytes; `name` is used in messages. The model points into
 * `data` (not copied, not freed here), which must outlive it. */
fr_status tflite_parse(const uint8_t *data, size_t size, const char *name, tflite_model **out);

void tflite_free(tflite_model *m);

/* The schema's name of a builtin operator ("CONV_2D"), or "UNKNOWN". */
const char *tflite_op_name(int builtin_code);

/* The schema's name of a tensor type ("FLOAT32"), or "UNKNOWN". */
const char *tflite_type_name(int type);

#endif
