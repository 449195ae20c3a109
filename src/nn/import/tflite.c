/* tflite.c: the bounds-checked FlatBuffer reader of .tflite files (see tflite.h).
 *
 * FlatBuffers in brief (all little-endian): the file starts with a uoffset (u32) to the root
 * table, then a 4-byte file identifier. A table starts with an soffset (i32): the table's
 * position minus it is its vtable, a list of u16 (vtable size in bytes, table size in bytes,
 * then one offset per field from the table start, 0 for an absent field). A field that
 * refers to a table, vector or string holds a uoffset relative to the field's own position.
 * A vector is a u32 length followed by its elements (tables are stored as uoffsets); a
 * string is a vector of bytes. Every position below is checked before it is read. */
#include "nn/import/tflite.h"

#include "common/common.h"

#include <stdlib.h>
#include <string.h>

#define TFLITE_MAX_FILE_BYTES ((size_t)1 << 31) /* uoffsets are 32-bit */
#define TFLITE_SCHEMA_VERSION 3

/* Field indices of the schema's tables (a field's vtable slot is 4 + 2 * index). */
enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { OPCODE_DEPRECATED_BUILTIN = 0, OPCODE_BUILTIN = 3 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3 };
enum { TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3, TENSOR_SPARSITY = 6 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum { OPERATOR_OPCODE = 0, OPERATOR_INPUTS = 1, OPERATOR_OUTPUTS = 2, OPERATOR_OPTIONS_TYPE = 3,
       OPERATOR_OPTIONS = 4 };

/* BuiltinOptions union members read (their union type numbers) */
enum {
    OPTIONS_CONV_2D = 1,
    OPTIONS_DEPTHWISE_CONV_2D = 2,
    OPTIONS_POOL_2D = 5,
    OPTIONS_FULLY_CONNECTED = 8,
    OPTIONS_SOFTMAX = 9,
    OPTIONS_CONCATENATION = 10,
    OPTIONS_ADD = 11,
    OPTIONS_RESIZE_BILINEAR = 15,
    OPTIONS_RESHAPE = 17,
    OPTIONS_MUL = 21,
    OPTIONS_REDUCER = 27,
    OPTIONS_SUB = 28,
    OPTIONS_DIV = 29
};

/* ---- FlatBuffer primitives: each returns 0 when the data does not fit the file ---- */

typedef struct fb_file {
    const uint8_t *p;
    size_t size;
} fb_file;

typedef struct fb_table {
    size_t pos;     /* table start */
    size_t vtable;  /* vtable start */
    unsigned vsize; /* vtable bytes */
    unsigned tsize; /* table bytes */
} fb_table;

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

/* whether [pos, pos + n) lies in the file */
static int fb_fits(const fb_file *f, size_t pos, size_t n) {
    return pos <= f->size && n <= f->size - pos;
}

static int fb_table_at(const fb_file *f, size_t pos, fb_table *t) {
    if (!fb_fits(f, pos, 4)) return 0;
    int64_t vtable = (int64_t)pos - (int32_t)le32(f->p + pos);
    if (vtable < 0 || !fb_fits(f, (size_t)vtable, 4)) return 0;
    t->pos = pos;
    t->vtable = (size_t)vtable;
    t->vsize = le16(f->p + t->vtable);
    t->tsize = le16(f->p + t->vtable + 2);
    return t->vsize >= 4 && t->vsize % 2 == 0 && fb_fits(f, t->vtable, t->vsize) &&
           t->tsize >= 4 && fb_fits(f, pos, t->tsize);
}

/* The position of field `index` of width `width` bytes, 0 when absent; -1 when it does not
 * fit in its table. */
static int64_t fb_field(const fb_table *t, const fb_file *f, int index, unsigned width) {
    unsigned slot = 4 + 2 * (unsigned)index;
    if (slot + 2 > t->vsize) return 0;
    unsigned off = le16(f->p + t->vtable + slot);
    if (off == 0) return 0;
    if (off < 4 || off + width > t->tsize) return -1;
    return (int64_t)(t->pos + off);
}

static int fb_scalar(const fb_table *t, const fb_file *f, int index, unsigned width,
                     uint64_t def, uint64_t *out) {
    int64_t pos = fb_field(t, f, index, width);
    if (pos < 0) return 0;
    if (pos == 0) {
        *out = def;
        return 1;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++) v |= (uint64_t)f->p[pos + i] << (8 * i);
    *out = v;
    return 1;
}

static int fb_int(const fb_table *t, const fb_file *f, int index, int32_t def, int32_t *out) {
    uint64_t v;
    if (!fb_scalar(t, f, index, 4, (uint32_t)def, &v)) return 0;
    *out = (int32_t)(uint32_t)v;
    return 1;
}

static int fb_byte(const fb_table *t, const fb_file *f, int index, int8_t def, int8_t *out) {
    uint64_t v;
    if (!fb_scalar(t, f, index, 1, (uint8_t)def, &v)) return 0;
    *out = (int8_t)(uint8_t)v;
    return 1;
}

static int fb_float(const fb_table *t, const fb_file *f, int index, float def, float *out) {
    uint32_t bits;
    memcpy(&bits, &def, sizeof bits);
    uint64_t v;
    if (!fb_scalar(t, f, index, 4, bits, &v)) return 0;
    bits = (uint32_t)v;
    memcpy(out, &bits, sizeof *out);
    return 1;
}

/* The target of the uoffset at `pos` (its fit is the caller's to check); 0 when outside. */
static size_t fb_deref(const fb_file *f, size_t pos) {
    if (!fb_fits(f, pos, 4)) return 0;
    uint64_t target = (uint64_t)pos + le32(f->p + pos);
    return target < f->size ? (size_t)target : 0;
}

/* A vector field of elements of elem_size bytes: *start is the first element, *n the
 * length; an absent field is an empty vector. */
static int fb_vector(const fb_table *t, const fb_file *f, int index, size_t elem_size,
                     size_t *start, uint32_t *n) {
    *start = 0;
    *n = 0;
    int64_t pos = fb_field(t, f, index, 4);
    if (pos <= 0) return pos == 0;
    size_t vec = fb_deref(f, (size_t)pos);
    if (!vec || !fb_fits(f, vec, 4)) return 0;
    uint32_t len = le32(f->p + vec);
    size_t bytes;
    if (!fr_mul_size(len, elem_size, &bytes) || !fb_fits(f, vec + 4, bytes)) return 0;
    *start = vec + 4;
    *n = len;
    return 1;
}

/* Element i of a vector of tables. */
static int fb_vector_table(const fb_file *f, size_t start, uint32_t i, fb_table *t) {
    size_t target = fb_deref(f, start + (size_t)i * 4);
    return target && fb_table_at(f, target, t);
}

/* A table field; *present is 0 when the field is absent. */
static int fb_subtable(const fb_table *t, const fb_file *f, int index, fb_table *sub,
                       int *present) {
    *present = 0;
    int64_t pos = fb_field(t, f, index, 4);
    if (pos <= 0) return pos == 0;
    size_t target = fb_deref(f, (size_t)pos);
    if (!target || !fb_table_at(f, target, sub)) return 0;
    *present = 1;
    return 1;
}

/* A vector of int32 copied into a new array (NULL when empty). */
static int fb_int_vector(const fb_table *t, const fb_file *f, int index, int **out,
                         uint32_t *n) {
    size_t start;
    *out = NULL;
    if (!fb_vector(t, f, index, 4, &start, n)) return 0;
    if (*n == 0) return 1;
    *out = malloc((size_t)*n * sizeof **out);
    if (!*out) return 0;
    for (uint32_t i = 0; i < *n; i++) (*out)[i] = (int32_t)le32(f->p + start + 4 * (size_t)i);
    return 1;
}

/* ---- names ---- */

static const char *const op_names[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1",
    "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
    "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX",
    "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX",
    "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT",
    "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL",
    "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT",
    "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND",
    "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE",
    "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU",
    "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2",
    "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG",
    "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY",
    "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE",
    "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",
    "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE",
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU",
    "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN"};

const char *tflite_op_name(int builtin_code) {
    if (builtin_code < 0 || builtin_code >= (int)(sizeof op_names / sizeof op_names[0]))
        return "UNKNOWN";
    return op_names[builtin_code];
}

static const char *const type_names[] = {"FLOAT32", "FLOAT16", "INT32", "UINT8",
                                         "INT64", "STRING", "BOOL", "INT16",
                                         "COMPLEX64", "INT8", "FLOAT64"};
/* bytes per element; 0 where the size is not fixed (strings) */
static const size_t type_sizes[] = {4, 2, 4, 1, 8, 0, 1, 2, 8, 1, 8};

const char *tflite_type_name(int type) {
    if (type < 0 || type >= (int)(sizeof type_names / sizeof type_names[0])) return "UNKNOWN";
    return type_names[type];
}

/* ---- the model ---- */

typedef struct parse_ctx {
    fb_file f;
    tflite_model *m;
    int n_opcodes;
    int *opcodes; /* builtin code of each operator code */
    uint32_t n_buffers;
    size_t buffers; /* the buffers vector */
} parse_ctx;

static fr_status malformed(const parse_ctx *c, const char *what, long index) {
    if (index >= 0)
        return fr_error(FR_E_MODEL, "%s: malformed or truncated TFLite file: %s %ld",
                        c->m->source, what, index);
    return fr_error(FR_E_MODEL, "%s: malformed or truncated TFLite file: %s", c->m->source,
                    what);
}

static fr_status parse_opcodes(parse_ctx *c, const fb_table *model) {
    size_t start;
    uint32_t n;
    if (!fb_vector(model, &c->f, MODEL_OPERATOR_CODES, 4, &start, &n))
        return malformed(c, "operator codes", -1);
    c->opcodes = malloc((n ? n : 1) * sizeof *c->opcodes);
    if (!c->opcodes) return fr_error(FR_E_NOMEM, "%s: out of memory", c->m->source);
    c->n_opcodes = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        fb_table t;
        int8_t deprecated;
        int32_t builtin;
        if (!fb_vector_table(&c->f, start, i, &t) ||
            !fb_byte(&t, &c->f, OPCODE_DEPRECATED_BUILTIN, 0, &deprecated) ||
            !fb_int(&t, &c->f, OPCODE_BUILTIN, 0, &builtin))
            return malformed(c, "operator code", (long)i);
        /* Files from before builtin_code existed only have the deprecated byte; newer ones
         * put a placeholder (127) there for codes that do not fit: the larger is right. */
        c->opcodes[i] = FR_MAX((int)deprecated, (int)builtin);
    }
    return FR_OK;
}

static fr_status parse_tensor(parse_ctx *c, size_t start, uint32_t i, tflite_tensor *out) {
    const fb_file *f = &c->f;
    fb_table t;
    int8_t type;
    int32_t buffer;
    size_t shape, name;
    uint32_t ndim, name_len;
    if (!fb_vector_table(f, start, i, &t) || !fb_byte(&t, f, TENSOR_TYPE, 0, &type) ||
        !fb_int(&t, f, TENSOR_BUFFER, 0, &buffer) ||
        !fb_vector(&t, f, TENSOR_SHAPE, 4, &shape, &ndim) ||
        !fb_vector(&t, f, TENSOR_NAME, 1, &name, &name_len))
        return malformed(c, "tensor", (long)i);
    out->name = malloc((size_t)name_len + 1);
    if (!out->name) return fr_error(FR_E_NOMEM, "%s: out of memory", c->m->source);
    memcpy(out->name, f->p + name, name_len);
    out->name[name_len] = '\0';
    if (memchr(out->name, '\0', name_len))
        return malformed(c, "NUL byte in the name of tensor", (long)i);

    out->type = (tflite_type)type;
    int64_t sparsity = fb_field(&t, f, TENSOR_SPARSITY, 4);
    if (sparsity < 0) return malformed(c, "tensor", (long)i);
    if (sparsity > 0)
        return fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s' is stored sparse (for DENSIFY), "
                        "which is not supported", c->m->source, out->name);
    if (ndim > NN_MAX_DIMS)
        return fr_error(FR_E_MODEL, "%s: tensor '%s' has %u dimensions (at most %d supported)",
                        c->m->source, out->name, ndim, NN_MAX_DIMS);
    out->ndim = (int)ndim;
    size_t count = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        int32_t dim = (int32_t)le32(f->p + shape + 4 * (size_t)d);
        if (dim < 0)
            return fr_error(FR_E_MODEL, "%s: tensor '%s' has a negative dimension (%d)",
                            c->m->source, out->name, dim);
        out->shape[d] = dim;
        if (!fr_mul_size(count, (size_t)dim, &count))
            return fr_error(FR_E_MODEL, "%s: tensor '%s' is too large", c->m->source,
                            out->name);
    }

    if (buffer < 0 || (uint32_t)buffer >= c->n_buffers)
        return fr_error(FR_E_MODEL, "%s: tensor '%s' refers to buffer %d of %u", c->m->source,
                        out->name, buffer, c->n_buffers);
    fb_table b;
    size_t data;
    uint32_t size;
    uint64_t offset, external_size;
    if (!fb_vector_table(f, c->buffers, (uint32_t)buffer, &b) ||
        !fb_vector(&b, f, BUFFER_DATA, 1, &data, &size) ||
        !fb_scalar(&b, f, BUFFER_OFFSET, 8, 0, &offset) ||
        !fb_scalar(&b, f, BUFFER_SIZE, 8, 0, &external_size))
        return malformed(c, "buffer", buffer);
    /* Models over 2 GB keep constants after the FlatBuffer, at offset (from the file start)
     * and size; offset 1 marks an empty buffer. */
    if (size == 0 && offset > 1) {
        if (offset > f->size || external_size > f->size - offset)
            return fr_error(FR_E_MODEL, "%s: the data of tensor '%s' lies past the end of the "
                            "file", c->m->source, out->name);
        data = (size_t)offset;
        size = (uint32_t)external_size;
    }
    if (size > 0) {
        size_t elem = (size_t)out->type < sizeof type_sizes / sizeof type_sizes[0]
                          ? type_sizes[out->type] : 0;
        size_t expected;
        if (elem == 0)
            return fr_error(FR_E_MODEL, "%s: constant tensor '%s' has type %s, not supported",
                            c->m->source, out->name, tflite_type_name(out->type));
        if (!fr_mul_size(count, elem, &expected) || expected != size)
            return fr_error(FR_E_MODEL, "%s: constant tensor '%s' has %u bytes, its shape and "
                            "type %s need %zu", c->m->source, out->name, size,
                            tflite_type_name(out->type), count * elem);
        out->data = f->p + data;
        out->size = size;
    }
    return FR_OK;
}

static int parse_options(const fb_file *f, const fb_table *op, tflite_options *o) {
    *o = (tflite_options){.dilation_w = 1, .dilation_h = 1, .depth_multiplier = 1,
                          .n_new_shape = -1, .beta = 1.0f};
    uint64_t type;
    fb_table t;
    int present;
    if (!fb_scalar(op, f, OPERATOR_OPTIONS_TYPE, 1, 0, &type) ||
        !fb_subtable(op, f, OPERATOR_OPTIONS, &t, &present))
        return 0;
    if (!present) return 1;
    int8_t padding = 0, act = 0, flag1 = 0, flag2 = 0;
    int32_t a = 0, b = 0, cc = 0, d = 0, e = 0;
    switch (type) {
    case OPTIONS_CONV_2D:
        if (!fb_byte(&t, f, 0, 0, &padding) || !fb_int(&t, f, 1, 0, &a) ||
            !fb_int(&t, f, 2, 0, &b) || !fb_byte(&t, f, 3, 0, &act) ||
            !fb_int(&t, f, 4, 1, &cc) || !fb_int(&t, f, 5, 1, &d))
            return 0;
        o->stride_w = a, o->stride_h = b, o->dilation_w = cc, o->dilation_h = d;
        break;
    case OPTIONS_DEPTHWISE_CONV_2D:
        if (!fb_byte(&t, f, 0, 0, &padding) || !fb_int(&t, f, 1, 0, &a) ||
            !fb_int(&t, f, 2, 0, &b) || !fb_int(&t, f, 3, 1, &e) ||
            !fb_byte(&t, f, 4, 0, &act) || !fb_int(&t, f, 5, 1, &cc) ||
            !fb_int(&t, f, 6, 1, &d))
            return 0;
        o->stride_w = a, o->stride_h = b, o->dilation_w = cc, o->dilation_h = d;
        o->depth_multiplier = e;
        break;
    case OPTIONS_POOL_2D:
        if (!fb_byte(&t, f, 0, 0, &padding) || !fb_int(&t, f, 1, 0, &a) ||
            !fb_int(&t, f, 2, 0, &b) || !fb_int(&t, f, 3, 0, &cc) ||
            !fb_int(&t, f, 4, 0, &d) || !fb_byte(&t, f, 5, 0, &act))
            return 0;
        o->stride_w = a, o->stride_h = b, o->filter_w = cc, o->filter_h = d;
        break;
    case OPTIONS_FULLY_CONNECTED:
        if (!fb_byte(&t, f, 0, 0, &act) || !fb_byte(&t, f, 1, 0, &flag1) ||
            !fb_byte(&t, f, 2, 0, &flag2))
            return 0;
        o->weights_format = flag1;
        o->keep_dims = flag2;
        break;
    case OPTIONS_SOFTMAX:
        if (!fb_float(&t, f, 0, 0.0f, &o->beta)) return 0;
        break;
    case OPTIONS_CONCATENATION:
        if (!fb_int(&t, f, 0, 0, &a) || !fb_byte(&t, f, 1, 0, &act)) return 0;
        o->axis = a;
        break;
    case OPTIONS_ADD:
    case OPTIONS_MUL:
    case OPTIONS_SUB:
    case OPTIONS_DIV:
        if (!fb_byte(&t, f, 0, 0, &act)) return 0;
        break;
    case OPTIONS_RESIZE_BILINEAR:
        if (!fb_byte(&t, f, 2, 0, &flag1) || !fb_byte(&t, f, 3, 0, &flag2)) return 0;
        o->align_corners = flag1;
        o->half_pixel_centers = flag2;
        break;
    case OPTIONS_RESHAPE: {
        size_t start;
        uint32_t n;
        if (!fb_vector(&t, f, 0, 4, &start, &n) || n > NN_MAX_DIMS) return 0;
        if (n > 0) o->n_new_shape = (int)n;
        for (uint32_t i = 0; i < n; i++) o->new_shape[i] = (int32_t)le32(f->p + start + 4 * i);
        break;
    }
    case OPTIONS_REDUCER:
        if (!fb_byte(&t, f, 0, 0, &flag1)) return 0;
        o->keep_dims = flag1;
        break;
    default: break; /* options of operators the graph does not run */
    }
    o->padding = padding;
    o->activation = act;
    return 1;
}

static fr_status parse_operator(parse_ctx *c, size_t start, uint32_t i, tflite_operator *out) {
    const fb_file *f = &c->f;
    fb_table t;
    int32_t opcode;
    uint32_t n_in, n_out;
    if (!fb_vector_table(f, start, i, &t) || !fb_int(&t, f, OPERATOR_OPCODE, 0, &opcode) ||
        !fb_int_vector(&t, f, OPERATOR_INPUTS, &out->inputs, &n_in) ||
        !fb_int_vector(&t, f, OPERATOR_OUTPUTS, &out->outputs, &n_out) ||
        !parse_options(f, &t, &out->options))
        return malformed(c, "operator", (long)i);
    out->n_inputs = (int)n_in;
    out->n_outputs = (int)n_out;
    if (opcode < 0 || opcode >= c->n_opcodes)
        return fr_error(FR_E_MODEL, "%s: operator %u has operator code %d of %d", c->m->source,
                        i, opcode, c->n_opcodes);
    out->builtin_code = c->opcodes[opcode];
    for (int k = 0; k < out->n_inputs + out->n_outputs; k++) {
        int is_input = k < out->n_inputs;
        int idx = is_input ? out->inputs[k] : out->outputs[k - out->n_inputs];
        if (idx < -1 || idx >= c->m->n_tensors || (!is_input && idx < 0))
            return fr_error(FR_E_MODEL, "%s: operator %u (%s) refers to tensor %d of %d",
                            c->m->source, i, tflite_op_name(out->builtin_code), idx,
                            c->m->n_tensors);
    }
    return FR_OK;
}

static fr_status parse_io(parse_ctx *c, const fb_table *sg, int field, const char *what,
                          int **list, int *n) {
    uint32_t count;
    if (!fb_int_vector(sg, &c->f, field, list, &count)) return malformed(c, what, -1);
    *n = (int)count;
    for (int k = 0; k < *n; k++)
        if ((*list)[k] < 0 || (*list)[k] >= c->m->n_tensors)
            return fr_error(FR_E_MODEL, "%s: graph %s %d is tensor %d of %d", c->m->source,
                            what, k, (*list)[k], c->m->n_tensors);
    return FR_OK;
}

static fr_status parse_model(parse_ctx *c) {
    const fb_file *f = &c->f;
    tflite_model *m = c->m;
    if (f->size < 8) return malformed(c, "shorter than a FlatBuffer header", -1);
    if (memcmp(f->p + 4, "TFL3", 4) != 0) {
        char id[5];
        for (int i = 0; i < 4; i++) {
            uint8_t ch = f->p[4 + i];
            id[i] = ch >= 32 && ch < 127 ? (char)ch : '?';
        }
        id[4] = '\0';
        return fr_error(FR_E_MODEL, "%s: not a TFLite model (file identifier '%s', expected "
                        "'TFL3')", m->source, id);
    }
    fb_table model, sg;
    int32_t version;
    size_t subgraphs;
    uint32_t n_subgraphs;
    if (!fb_table_at(f, fb_deref(f, 0), &model) || model.pos == 0)
        return malformed(c, "root table", -1);
    if (!fb_int(&model, f, MODEL_VERSION, 0, &version)) return malformed(c, "version", -1);
    if (version != TFLITE_SCHEMA_VERSION)
        return fr_error(FR_E_MODEL, "%s: TFLite schema version %d, only %d is supported",
                        m->source, version, TFLITE_SCHEMA_VERSION);
    fr_status st = parse_opcodes(c, &model);
    if (st != FR_OK) return st;
    if (!fb_vector(&model, f, MODEL_BUFFERS, 4, &c->buffers, &c->n_buffers))
        return malformed(c, "buffers", -1);
    if (!fb_vector(&model, f, MODEL_SUBGRAPHS, 4, &subgraphs, &n_subgraphs))
        return malformed(c, "subgraphs", -1);
    if (n_subgraphs == 0) return fr_error(FR_E_MODEL, "%s: the model has no graph", m->source);
    if (!fb_vector_table(f, subgraphs, 0, &sg)) return malformed(c, "subgraph", 0);

    size_t tensors, operators;
    uint32_t n_tensors, n_operators;
    if (!fb_vector(&sg, f, SUBGRAPH_TENSORS, 4, &tensors, &n_tensors) ||
        !fb_vector(&sg, f, SUBGRAPH_OPERATORS, 4, &operators, &n_operators))
        return malformed(c, "subgraph", 0);
    m->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *m->tensors);
    m->operators = calloc(n_operators ? n_operators : 1, sizeof *m->operators);
    if (!m->tensors || !m->operators) return fr_error(FR_E_NOMEM, "%s: out of memory", m->source);
    for (uint32_t i = 0; i < n_tensors; i++) {
        m->n_tensors = (int)i + 1; /* so that tflite_free sees the names made so far */
        if ((st = parse_tensor(c, tensors, i, &m->tensors[i])) != FR_OK) return st;
    }
    m->n_tensors = (int)n_tensors;
    for (uint32_t i = 0; i < n_operators; i++) {
        m->n_operators = (int)i + 1;
        if ((st = parse_operator(c, operators, i, &m->operators[i])) != FR_OK) return st;
    }
    m->n_operators = (int)n_operators;
    st = parse_io(c, &sg, SUBGRAPH_INPUTS, "input", &m->inputs, &m->n_inputs);
    if (st == FR_OK) st = parse_io(c, &sg, SUBGRAPH_OUTPUTS, "output", &m->outputs, &m->n_outputs);
    return st;
}

fr_status tflite_parse(const uint8_t *data, size_t size, const char *name, tflite_model **out) {
    *out = NULL;
    tflite_model *m = calloc(1, sizeof *m);
    char *source = name ? strdup(name) : strdup("(memory)");
    if (!m || !source) {
        free(m);
        free(source);
        return fr_error(FR_E_NOMEM, "%s: out of memory", name ? name : "(memory)");
    }
    m->source = source;
    m->file = data;
    m->file_size = size;
    parse_ctx c = {.f = {.p = data, .size = size}, .m = m};
    fr_status st = size > TFLITE_MAX_FILE_BYTES
                       ? fr_error(FR_E_LIMIT, "%s: %zu bytes, over the TFLite limit of 2 GB",
                                  source, size)
                       : parse_model(&c);
    free(c.opcodes);
    if (st != FR_OK) {
        tflite_free(m);
        return st;
    }
    *out = m;
    return FR_OK;
}

fr_status tflite_load(const char *path, tflite_model **out) {
    *out = NULL;
    if (!path) return fr_error(FR_E_ARG, "tflite_load: NULL path");
    const uint8_t *data;
    size_t size;
    fr_status st = fr_map_model_file(path, TFLITE_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    st = tflite_parse(data, size, path, out);
    if (st == FR_OK)
        (*out)->file_mapped = 1;
    else
        fr_unmap_model_file(data, size);
    return st;
}

void tflite_free(tflite_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_tensors; i++) free(m->tensors[i].name);
    for (int i = 0; i < m->n_operators; i++) {
        free(m->operators[i].inputs);
        free(m->operators[i].outputs);
    }
    free(m->tensors);
    free(m->operators);
    free(m->inputs);
    free(m->outputs);
    if (m->file_mapped) fr_unmap_model_file(m->file, m->file_size);
    free(m->source);
    free(m);
}
