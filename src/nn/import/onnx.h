/* onnx.h: ONNX model files (.onnx), read into plain C structures.
 *
 * An .onnx file is a Protocol Buffers message of ONNX's schema (onnx/onnx.proto): a
 * ModelProto holds the IR version, the operator set versions and a GraphProto; the graph
 * holds its nodes in topological order (operator type, input and output value names,
 * attributes), its initializers (the constant tensors: weights) and its inputs and outputs
 * (names, element types and shapes).
 *
 * The reader parses the wire format itself (see onnx.c for why) and checks every length,
 * varint and field type against the message that holds it before anything is used: a
 * malformed or truncated file is FR_E_MODEL with a message naming the file and the object,
 * never a crash. Only the fields the evaluator (nn/onnx_net.h) needs are kept; the others
 * are skipped. Constant tensors of type FLOAT and INT64 are read (from raw_data or from the
 * typed fields); another type is FR_E_UNSUPPORTED naming the tensor. Subgraphs, sparse
 * initializers and tensors stored in external files are refused. */
#ifndef FR_NN_ONNX_H
#define FR_NN_ONNX_H

#include "facerec.h"

#include <stddef.h>
#include <stdint.h>

#define ONNX_MAX_DIMS 8

/* TensorProto.DataType values named in messages */
enum { ONNX_FLOAT = 1, ONNX_INT32 = 6, ONNX_INT64 = 7 };

/* AttributeProto.AttributeType values */
enum {
    ONNX_ATTR_FLOAT = 1,
    ONNX_ATTR_INT = 2,
    ONNX_ATTR_STRING = 3,
    ONNX_ATTR_TENSOR = 4,
    ONNX_ATTR_GRAPH = 5,
    ONNX_ATTR_FLOATS = 6,
    ONNX_ATTR_INTS = 7
};

typedef struct onnx_tensor {
    char *name;
    int data_type; /* ONNX_FLOAT or ONNX_INT64 */
    int ndim;
    int64_t dims[ONNX_MAX_DIMS];
    size_t count;    /* elements: the product of dims (1 for a scalar) */
    float *floats;   /* ONNX_FLOAT: count values, row-major */
    int64_t *ints;   /* ONNX_INT64: count values */
} onnx_tensor;

typedef struct onnx_attribute {
    char *name;
    int type;          /* ONNX_ATTR_*; other types are kept by type only */
    float f;
    int64_t i;
    char *s;           /* ONNX_ATTR_STRING, NUL-terminated (NUL bytes inside are refused) */
    int n_ints;
    int64_t *ints;
    int n_floats;
    float *floats;
    onnx_tensor *t;    /* ONNX_ATTR_TENSOR */
} onnx_attribute;

typedef struct onnx_node {
    char *op_type;
    char *domain; /* "" for the default operator set */
    char *name;
    int n_inputs, n_outputs, n_attributes;
    char **inputs;  /* "" for an omitted optional input */
    char **outputs;
    onnx_attribute *attributes;
} onnx_node;

/* A graph input or output: its element type (0 when not given) and shape; a dimension
 * given by name (symbolic) or not at all is -1. */
typedef struct onnx_value_info {
    char *name;
    int elem_type;
    int ndim; /* -1 when the shape is not given */
    int64_t dims[ONNX_MAX_DIMS];
} onnx_value_info;

typedef struct onnx_model {
    char *source; /* file name, for messages */
    int64_t ir_version;
    int64_t opset; /* version of the default ("" or "ai.onnx") operator set; 0 if absent */
    int n_nodes, n_initializers, n_inputs, n_outputs;
    onnx_node *nodes;
    onnx_tensor *initializers;
    onnx_value_info *inputs, *outputs;
} onnx_model;

/* The largest file read (protobuf messages are limited to 2 GB). */
#define ONNX_MAX_FILE_BYTES ((size_t)1 << 31)

/* Read the .onnx file at `path`. */
fr_status onnx_load(const char *path, onnx_model **out);

/* Parse a file image of `size` bytes (not kept: everything used is copied); `name` is used
 * in messages. */
fr_status onnx_parse(const uint8_t *data, size_t size, const char *name, onnx_model **out);

void onnx_free(onnx_model *m);

/* The attribute called `name` of a node, or NULL. */
const onnx_attribute *onnx_node_attribute(const onnx_node *n, const char *name);

/* The name of a TensorProto.DataType ("FLOAT"), or "UNKNOWN". */
const char *onnx_type_name(int data_type);

#endif
