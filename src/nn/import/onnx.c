/* onnx.c: the bounds-checked Protocol Buffers reader of .onnx files (see onnx.h).
 *
 * Why by hand: Debian's libonnx-dev is C++ (its onnx-ml.pb.h is for C++ libprotobuf), and
 * Debian's protobuf-c (libprotobuf-c-dev) would need onnx.proto (813 lines, 21 messages, in
 * libonnx-dev) compiled by protoc-c (protobuf-c-compiler) at build time: 4341 lines of
 * generated C (onnx.pb-c.c and .h, measured with protobuf-c 1.4.1) that unpack every message
 * of the file, copying each weight's raw_data into its own allocation, and that follow
 * nested graphs (If/Loop attributes) by recursion, so a hostile file chooses the depth. We
 * need five message types and about thirty fields, read without recursion, and the wire
 * format is small: this file is the whole of it.
 *
 * The wire format in brief: a message is a sequence of fields, each a varint key
 * (field number << 3 | wire type) then a value: wire type 0 a varint (7 bits per byte,
 * least significant first, at most 10 bytes), 1 eight bytes, 5 four bytes (little-endian),
 * 2 a varint length then that many bytes (a string, a nested message, or a packed repeated
 * scalar). Groups (3, 4) are obsolete and refused. A field may repeat; a repeated scalar
 * may come packed (one wire-type-2 field) or one value per field, and readers accept both.
 * Every read below is checked against the end of the message that holds it. */
#include "nn/import/onnx.h"

#include "common/common.h"

#include <stdlib.h>
#include <string.h>

/* Field numbers of the schema (onnx/onnx.proto) that are read. */
enum { MODEL_IR_VERSION = 1, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { GRAPH_NODE = 1, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
       GRAPH_SPARSE_INITIALIZER = 15 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
       NODE_DOMAIN = 7 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_T = 5, ATTR_FLOATS = 7,
       ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_SEGMENT = 3, TENSOR_FLOAT_DATA = 4,
       TENSOR_INT64_DATA = 7, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
       TENSOR_EXTERNAL_DATA = 13, TENSOR_DATA_LOCATION = 14 };
enum { VALUE_INFO_NAME = 1, VALUE_INFO_TYPE = 2 };
enum { TYPE_TENSOR = 1 };
enum { TENSOR_TYPE_ELEM_TYPE = 1, TENSOR_TYPE_SHAPE = 2 };
enum { SHAPE_DIM = 1 };
enum { DIM_VALUE = 1, DIM_PARAM = 2 };

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* ---- wire format primitives: each returns 0 when the data does not fit its message ---- */

/* A message: the bytes [pos, end) of the file. */
typedef struct pb_msg {
    const uint8_t *p;
    size_t pos, end;
} pb_msg;

static int pb_varint(pb_msg *m, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (m->pos >= m->end) return 0;
        uint8_t b = m->p[m->pos++];
        if (shift == 63 && b > 1) return 0; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* The next field's number and wire type; 0 at the end of the message or on a bad key. */
static int pb_key(pb_msg *m, uint32_t *field, int *wire) {
    uint64_t key;
    if (!pb_varint(m, &key) || key >> 3 == 0 || key >> 3 > 0x1fffffff) return 0;
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    return 1;
}

/* A length-delimited value as a message of its own. */
static int pb_len(pb_msg *m, pb_msg *sub) {
    uint64_t len;
    if (!pb_varint(m, &len) || len > m->end - m->pos) return 0;
    *sub = (pb_msg){.p = m->p, .pos = m->pos, .end = m->pos + (size_t)len};
    m->pos += (size_t)len;
    return 1;
}

static int pb_fixed(pb_msg *m, int bytes, uint64_t *out) {
    if ((size_t)bytes > m->end - m->pos) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)m->p[m->pos + (size_t)i] << (8 * i);
    m->pos += (size_t)bytes;
    *out = v;
    return 1;
}

static int pb_skip(pb_msg *m, int wire) {
    uint64_t v;
    pb_msg sub;
    switch (wire) {
    case WIRE_VARINT: return pb_varint(m, &v);
    case WIRE_I64: return pb_fixed(m, 8, &v);
    case WIRE_LEN: return pb_len(m, &sub);
    case WIRE_I32: return pb_fixed(m, 4, &v);
    default: return 0; /* groups and undefined wire types */
    }
}

static float bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ---- growing arrays ---- */

/* Make room for one more element in *arr (holding *n, capacity *cap); 0 when out of memory. */
static int grow(void **arr, int *n, int *cap, size_t elem) {
    if (*n < *cap) return 1;
    if (*cap > (1 << 28)) return 0;
    int cap2 = *cap ? 2 * *cap : 4;
    size_t bytes;
    if (!fr_mul_size((size_t)cap2, elem, &bytes)) return 0;
    void *p = realloc(*arr, bytes);
    if (!p) return 0;
    memset((uint8_t *)p + (size_t)*cap * elem, 0, (size_t)(cap2 - *cap) * elem);
    *arr = p;
    *cap = cap2;
    return 1;
}

/* ---- the model ---- */

typedef struct parse_ctx {
    const char *source;
    int in_nested; /* reading a tensor inside an attribute (for messages) */
} parse_ctx;

/* Parse failures carry a status; the message is set where the failure is found. */
static fr_status malformed(const parse_ctx *c, const char *what) {
    return fr_error(FR_E_MODEL, "%s: malformed or truncated ONNX file: %s", c->source, what);
}

static fr_status nomem(const parse_ctx *c) {
    return fr_error(FR_E_NOMEM, "%s: out of memory reading the model", c->source);
}

/* A string field copied with a NUL; a NUL byte inside is refused. */
static fr_status read_string(const parse_ctx *c, pb_msg *m, const char *what, char **out) {
    pb_msg s;
    if (!pb_len(m, &s)) return malformed(c, what);
    size_t n = s.end - s.pos;
    if (memchr(s.p + s.pos, '\0', n)) return malformed(c, what);
    char *str = malloc(n + 1);
    if (!str) return nomem(c);
    memcpy(str, s.p + s.pos, n);
    str[n] = '\0';
    free(*out); /* a repeated singular field: the last one wins, as in protobuf */
    *out = str;
    return FR_OK;
}

/* Append one string (a repeated string field). */
static fr_status push_string(const parse_ctx *c, pb_msg *m, const char *what, char ***list,
                             int *n, int *cap) {
    if (!grow((void **)list, n, cap, sizeof **list)) return nomem(c);
    (*list)[*n] = NULL;
    fr_status st = read_string(c, m, what, &(*list)[*n]);
    if (st == FR_OK) (*n)++;
    return st;
}

/* Values of a repeated int64 field (packed or not) appended to *vals. */
static fr_status push_ints(const parse_ctx *c, pb_msg *m, int wire, const char *what,
                           int64_t **vals, int *n, int *cap) {
    pb_msg packed = *m;
    if (wire == WIRE_LEN) {
        if (!pb_len(m, &packed)) return malformed(c, what);
    } else if (wire != WIRE_VARINT) {
        return malformed(c, what);
    }
    do {
        uint64_t v;
        if (!pb_varint(&packed, &v)) return malformed(c, what);
        if (!grow((void **)vals, n, cap, sizeof **vals)) return nomem(c);
        (*vals)[(*n)++] = (int64_t)v;
    } while (wire == WIRE_LEN && packed.pos < packed.end);
    if (wire != WIRE_LEN) m->pos = packed.pos;
    return FR_OK;
}

/* Values of a repeated float field (packed or not) appended to *vals. */
static fr_status push_floats(const parse_ctx *c, pb_msg *m, int wire, const char *what,
                             float **vals, int *n, int *cap) {
    pb_msg packed = *m;
    if (wire == WIRE_LEN) {
        if (!pb_len(m, &packed) || (packed.end - packed.pos) % 4) return malformed(c, what);
    } else if (wire != WIRE_I32) {
        return malformed(c, what);
    }
    do {
        uint64_t bits;
        if (!pb_fixed(&packed, 4, &bits)) return malformed(c, what);
        if (!grow((void **)vals, n, cap, sizeof **vals)) return nomem(c);
        (*vals)[(*n)++] = bits_to_float((uint32_t)bits);
    } while (wire == WIRE_LEN && packed.pos < packed.end);
    if (wire != WIRE_LEN) m->pos = packed.pos;
    return FR_OK;
}

static fr_status read_varint(const parse_ctx *c, pb_msg *m, int wire, const char *what,
                             uint64_t *out) {
    if (wire != WIRE_VARINT || !pb_varint(m, out)) return malformed(c, what);
    return FR_OK;
}

static fr_status read_sub(const parse_ctx *c, pb_msg *m, int wire, const char *what,
                          pb_msg *sub) {
    if (wire != WIRE_LEN || !pb_len(m, sub)) return malformed(c, what);
    return FR_OK;
}

const char *onnx_type_name(int data_type) {
    static const char *const names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16",
                                        "INT16", "INT32", "INT64", "STRING", "BOOL",
                                        "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                        "COMPLEX128", "BFLOAT16"};
    if (data_type < 0 || data_type >= (int)(sizeof names / sizeof names[0])) return "UNKNOWN";
    return names[data_type];
}

static void free_tensor(onnx_tensor *t) {
    if (!t) return;
    free(t->name);
    free(t->floats);
    free(t->ints);
}

/* A TensorProto: dims, type, name and the values, from raw_data (little-endian, like every
 * host this builds for) or from the typed repeated field. */
static fr_status parse_tensor(const parse_ctx *c, pb_msg m, onnx_tensor *t) {
    int64_t *dims = NULL, *ints = NULL;
    float *floats = NULL;
    int n_dims = 0, cap_dims = 0, n_ints = 0, cap_ints = 0, n_floats = 0, cap_floats = 0;
    pb_msg raw = {0};
    int has_raw = 0, external = 0;
    uint64_t v;
    fr_status st = FR_OK;
    uint32_t field;
    int wire;
    while (st == FR_OK && m.pos < m.end) {
        if (!pb_key(&m, &field, &wire)) {
            st = malformed(c, "tensor");
            break;
        }
        switch (field) {
        case TENSOR_DIMS: st = push_ints(c, &m, wire, "tensor dims", &dims, &n_dims, &cap_dims); break;
        case TENSOR_DATA_TYPE:
            if ((st = read_varint(c, &m, wire, "tensor type", &v)) == FR_OK)
                t->data_type = v > 64 ? -1 : (int)v;
            break;
        case TENSOR_NAME:
            st = wire == WIRE_LEN ? read_string(c, &m, "tensor name", &t->name)
                                  : malformed(c, "tensor name");
            break;
        case TENSOR_RAW_DATA:
            st = read_sub(c, &m, wire, "tensor raw_data", &raw);
            has_raw = 1;
            break;
        case TENSOR_FLOAT_DATA:
            st = push_floats(c, &m, wire, "tensor float_data", &floats, &n_floats, &cap_floats);
            break;
        case TENSOR_INT64_DATA:
            st = push_ints(c, &m, wire, "tensor int64_data", &ints, &n_ints, &cap_ints);
            break;
        case TENSOR_SEGMENT: st = fr_error(FR_E_UNSUPPORTED, "%s: a tensor stored in segments "
                                           "is not supported", c->source); break;
        case TENSOR_EXTERNAL_DATA: external = 1; st = pb_skip(&m, wire) ? FR_OK : malformed(c, "tensor"); break;
        case TENSOR_DATA_LOCATION:
            if ((st = read_varint(c, &m, wire, "tensor data_location", &v)) == FR_OK && v != 0)
                external = 1;
            break;
        default: st = pb_skip(&m, wire) ? FR_OK : malformed(c, "tensor"); break;
        }
    }
    const char *name = t->name ? t->name : "(unnamed)";
    if (st == FR_OK && !t->name && (t->name = strdup("")) == NULL) st = nomem(c);
    if (st == FR_OK && external)
        st = fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s' is stored in an external file, which "
                      "is not supported", c->source, name);
    if (st == FR_OK && n_dims > ONNX_MAX_DIMS)
        st = fr_error(FR_E_MODEL, "%s: tensor '%s' has %d dimensions (at most %d supported)",
                      c->source, name, n_dims, ONNX_MAX_DIMS);
    size_t count = 1;
    for (int d = 0; st == FR_OK && d < n_dims; d++) {
        if (dims[d] < 0 || !fr_mul_size(count, (size_t)dims[d], &count) || count > (1u << 30))
            st = fr_error(FR_E_MODEL, "%s: tensor '%s' has a negative or too large dimension",
                          c->source, name);
        else
            t->dims[d] = dims[d];
    }
    t->ndim = n_dims;
    t->count = count;
    if (st == FR_OK && t->data_type != ONNX_FLOAT && t->data_type != ONNX_INT64)
        st = fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s' has type %s (FLOAT and INT64 are "
                      "supported)", c->source, name, onnx_type_name(t->data_type));
    if (st == FR_OK) {
        size_t elem = t->data_type == ONNX_FLOAT ? 4 : 8;
        size_t have = has_raw ? (raw.end - raw.pos) / elem
                      : t->data_type == ONNX_FLOAT ? (size_t)n_floats : (size_t)n_ints;
        int typed_mismatch = !has_raw && ((t->data_type == ONNX_FLOAT && n_ints) ||
                                          (t->data_type == ONNX_INT64 && n_floats));
        if ((has_raw && (raw.end - raw.pos) % elem) || have != count || typed_mismatch)
            st = fr_error(FR_E_MODEL, "%s: tensor '%s' holds %zu values, its dims need %zu",
                          c->source, name, have, count);
    }
    if (st == FR_OK && t->data_type == ONNX_FLOAT) {
        if (has_raw) {
            t->floats = malloc((count ? count : 1) * sizeof *t->floats);
            if (!t->floats) st = nomem(c);
            for (size_t i = 0; st == FR_OK && i < count; i++) {
                const uint8_t *b = raw.p + raw.pos + 4 * i;
                t->floats[i] = bits_to_float((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                             (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
            }
        } else {
            t->floats = floats;
            floats = NULL;
            if (!t->floats && (t->floats = malloc(sizeof *t->floats)) == NULL) st = nomem(c);
        }
    } else if (st == FR_OK) {
        if (has_raw) {
            t->ints = malloc((count ? count : 1) * sizeof *t->ints);
            if (!t->ints) st = nomem(c);
            for (size_t i = 0; st == FR_OK && i < count; i++) {
                uint64_t x = 0;
                for (int k = 0; k < 8; k++) x |= (uint64_t)raw.p[raw.pos + 8 * i + (size_t)k] << (8 * k);
                t->ints[i] = (int64_t)x;
            }
        } else {
            t->ints = ints;
            ints = NULL;
            if (!t->ints && (t->ints = malloc(sizeof *t->ints)) == NULL) st = nomem(c);
        }
    }
    free(dims);
    free(ints);
    free(floats);
    return st;
}

static fr_status parse_attribute(const parse_ctx *c, pb_msg m, onnx_attribute *a) {
    int cap_ints = 0, cap_floats = 0;
    fr_status st = FR_OK;
    uint32_t field;
    int wire;
    uint64_t v;
    pb_msg sub;
    while (st == FR_OK && m.pos < m.end) {
        if (!pb_key(&m, &field, &wire)) return malformed(c, "attribute");
        switch (field) {
        case ATTR_NAME:
            st = wire == WIRE_LEN ? read_string(c, &m, "attribute name", &a->name)
                                  : malformed(c, "attribute name");
            break;
        case ATTR_TYPE:
            if ((st = read_varint(c, &m, wire, "attribute type", &v)) == FR_OK)
                a->type = v > 64 ? -1 : (int)v;
            break;
        case ATTR_F:
            if (wire != WIRE_I32 || !pb_fixed(&m, 4, &v)) return malformed(c, "attribute f");
            a->f = bits_to_float((uint32_t)v);
            break;
        case ATTR_I:
            if ((st = read_varint(c, &m, wire, "attribute i", &v)) == FR_OK) a->i = (int64_t)v;
            break;
        case ATTR_S:
            st = wire == WIRE_LEN ? read_string(c, &m, "attribute s", &a->s)
                                  : malformed(c, "attribute s");
            break;
        case ATTR_T:
            if ((st = read_sub(c, &m, wire, "attribute t", &sub)) != FR_OK) break;
            if (a->t) {
                free_tensor(a->t);
                memset(a->t, 0, sizeof *a->t);
            } else if ((a->t = calloc(1, sizeof *a->t)) == NULL) {
                return nomem(c);
            }
            st = parse_tensor(c, sub, a->t);
            break;
        case ATTR_INTS: st = push_ints(c, &m, wire, "attribute ints", &a->ints, &a->n_ints, &cap_ints); break;
        case ATTR_FLOATS:
            st = push_floats(c, &m, wire, "attribute floats", &a->floats, &a->n_floats, &cap_floats);
            break;
        default: st = pb_skip(&m, wire) ? FR_OK : malformed(c, "attribute"); break;
        }
    }
    if (st == FR_OK && !a->name) return malformed(c, "attribute without a name");
    return st;
}

static void free_attribute(onnx_attribute *a) {
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
    free_tensor(a->t);
    free(a->t);
}

static fr_status parse_node(const parse_ctx *c, pb_msg m, onnx_node *n) {
    int cap_in = 0, cap_out = 0, cap_attr = 0;
    fr_status st = FR_OK;
    uint32_t field;
    int wire;
    pb_msg sub;
    while (st == FR_OK && m.pos < m.end) {
        if (!pb_key(&m, &field, &wire)) return malformed(c, "node");
        if (wire != WIRE_LEN && field <= NODE_DOMAIN) return malformed(c, "node field");
        switch (field) {
        case NODE_INPUT: st = push_string(c, &m, "node input", &n->inputs, &n->n_inputs, &cap_in); break;
        case NODE_OUTPUT: st = push_string(c, &m, "node output", &n->outputs, &n->n_outputs, &cap_out); break;
        case NODE_NAME: st = read_string(c, &m, "node name", &n->name); break;
        case NODE_OP_TYPE: st = read_string(c, &m, "node op_type", &n->op_type); break;
        case NODE_DOMAIN: st = read_string(c, &m, "node domain", &n->domain); break;
        case NODE_ATTRIBUTE:
            if (!pb_len(&m, &sub)) return malformed(c, "node attribute");
            if (!grow((void **)&n->attributes, &n->n_attributes, &cap_attr, sizeof *n->attributes))
                return nomem(c);
            n->n_attributes++; /* counted first, so that onnx_free sees a partial one */
            st = parse_attribute(c, sub, &n->attributes[n->n_attributes - 1]);
            break;
        default: st = pb_skip(&m, wire) ? FR_OK : malformed(c, "node"); break;
        }
    }
    if (st != FR_OK) return st;
    if (!n->op_type) return malformed(c, "node without an op_type");
    if (!n->domain && (n->domain = strdup("")) == NULL) return nomem(c);
    if (!n->name && (n->name = strdup("")) == NULL) return nomem(c);
    return FR_OK;
}

/* A ValueInfoProto: name, and the element type and shape of its tensor type. */
static fr_status parse_value_info(const parse_ctx *c, pb_msg m, onnx_value_info *vi) {
    vi->ndim = -1;
    uint32_t field;
    int wire;
    pb_msg type, tensor, shape, dim;
    uint64_t v;
    fr_status st = FR_OK;
    while (st == FR_OK && m.pos < m.end) {
        if (!pb_key(&m, &field, &wire)) return malformed(c, "graph input or output");
        if (field == VALUE_INFO_NAME) {
            st = wire == WIRE_LEN ? read_string(c, &m, "value name", &vi->name)
                                  : malformed(c, "value name");
            continue;
        }
        if (field != VALUE_INFO_TYPE) {
            st = pb_skip(&m, wire) ? FR_OK : malformed(c, "graph input or output");
            continue;
        }
        if ((st = read_sub(c, &m, wire, "value type", &type)) != FR_OK) return st;
        while (type.pos < type.end) {
            if (!pb_key(&type, &field, &wire)) return malformed(c, "value type");
            if (field != TYPE_TENSOR) {
                if (!pb_skip(&type, wire)) return malformed(c, "value type");
                continue;
            }
            if ((st = read_sub(c, &type, wire, "tensor type", &tensor)) != FR_OK) return st;
            while (tensor.pos < tensor.end) {
                if (!pb_key(&tensor, &field, &wire)) return malformed(c, "tensor type");
                if (field == TENSOR_TYPE_ELEM_TYPE) {
                    if ((st = read_varint(c, &tensor, wire, "elem_type", &v)) != FR_OK) return st;
                    vi->elem_type = v > 64 ? -1 : (int)v;
                } else if (field == TENSOR_TYPE_SHAPE) {
                    if ((st = read_sub(c, &tensor, wire, "shape", &shape)) != FR_OK) return st;
                    vi->ndim = 0;
                    while (shape.pos < shape.end) {
                        if (!pb_key(&shape, &field, &wire)) return malformed(c, "shape");
                        if (field != SHAPE_DIM) {
                            if (!pb_skip(&shape, wire)) return malformed(c, "shape");
                            continue;
                        }
                        if ((st = read_sub(c, &shape, wire, "dimension", &dim)) != FR_OK) return st;
                        if (vi->ndim == ONNX_MAX_DIMS)
                            return fr_error(FR_E_MODEL, "%s: a graph input or output has more "
                                            "than %d dimensions", c->source, ONNX_MAX_DIMS);
                        int64_t value = -1;
                        while (dim.pos < dim.end) {
                            if (!pb_key(&dim, &field, &wire)) return malformed(c, "dimension");
                            if (field == DIM_VALUE) {
                                if ((st = read_varint(c, &dim, wire, "dim_value", &v)) != FR_OK)
                                    return st;
                                value = (int64_t)v < 0 ? -1 : (int64_t)v;
                            } else if (!pb_skip(&dim, wire)) {
                                return malformed(c, "dimension");
                            }
                        }
                        vi->dims[vi->ndim++] = value;
                    }
                } else if (!pb_skip(&tensor, wire)) {
                    return malformed(c, "tensor type");
                }
            }
        }
    }
    if (st == FR_OK && !vi->name) return malformed(c, "graph input or output without a name");
    return st;
}

static fr_status parse_graph(const parse_ctx *c, pb_msg m, onnx_model *model) {
    int cap_nodes = 0, cap_init = 0, cap_in = 0, cap_out = 0;
    uint32_t field;
    int wire;
    pb_msg sub;
    fr_status st = FR_OK;
    while (st == FR_OK && m.pos < m.end) {
        if (!pb_key(&m, &field, &wire)) return malformed(c, "graph");
        switch (field) {
        case GRAPH_NODE:
            if ((st = read_sub(c, &m, wire, "node", &sub)) != FR_OK) return st;
            if (!grow((void **)&model->nodes, &model->n_nodes, &cap_nodes, sizeof *model->nodes))
                return nomem(c);
            model->n_nodes++;
            st = parse_node(c, sub, &model->nodes[model->n_nodes - 1]);
            break;
        case GRAPH_INITIALIZER:
            if ((st = read_sub(c, &m, wire, "initializer", &sub)) != FR_OK) return st;
            if (!grow((void **)&model->initializers, &model->n_initializers, &cap_init,
                      sizeof *model->initializers))
                return nomem(c);
            model->n_initializers++;
            st = parse_tensor(c, sub, &model->initializers[model->n_initializers - 1]);
            break;
        case GRAPH_INPUT:
        case GRAPH_OUTPUT: {
            int is_input = field == GRAPH_INPUT;
            onnx_value_info **list = is_input ? &model->inputs : &model->outputs;
            int *n = is_input ? &model->n_inputs : &model->n_outputs;
            if ((st = read_sub(c, &m, wire, is_input ? "input" : "output", &sub)) != FR_OK)
                return st;
            if (!grow((void **)list, n, is_input ? &cap_in : &cap_out, sizeof **list))
                return nomem(c);
            (*n)++;
            st = parse_value_info(c, sub, &(*list)[*n - 1]);
            break;
        }
        case GRAPH_SPARSE_INITIALIZER:
            return fr_error(FR_E_UNSUPPORTED, "%s: sparse initializers are not supported",
                            c->source);
        default: st = pb_skip(&m, wire) ? FR_OK : malformed(c, "graph"); break;
        }
    }
    return st;
}

static fr_status parse_model(const parse_ctx *c, pb_msg m, onnx_model *model) {
    uint32_t field;
    int wire;
    pb_msg sub;
    uint64_t v;
    int has_graph = 0;
    fr_status st = FR_OK;
    while (st == FR_OK && m.pos < m.end) {
        if (!pb_key(&m, &field, &wire)) return malformed(c, "model");
        switch (field) {
        case MODEL_IR_VERSION:
            if ((st = read_varint(c, &m, wire, "ir_version", &v)) == FR_OK)
                model->ir_version = (int64_t)v;
            break;
        case MODEL_OPSET_IMPORT: {
            if ((st = read_sub(c, &m, wire, "opset_import", &sub)) != FR_OK) return st;
            char *domain = NULL;
            int64_t version = 0;
            while (st == FR_OK && sub.pos < sub.end) {
                if (!pb_key(&sub, &field, &wire)) st = malformed(c, "opset_import");
                else if (field == OPSET_DOMAIN)
                    st = wire == WIRE_LEN ? read_string(c, &sub, "opset domain", &domain)
                                          : malformed(c, "opset domain");
                else if (field == OPSET_VERSION) {
                    if ((st = read_varint(c, &sub, wire, "opset version", &v)) == FR_OK)
                        version = (int64_t)v;
                } else if (!pb_skip(&sub, wire))
                    st = malformed(c, "opset_import");
            }
            if (st == FR_OK && (!domain || !strcmp(domain, "") || !strcmp(domain, "ai.onnx")))
                model->opset = version;
            free(domain);
            break;
        }
        case MODEL_GRAPH:
            if (has_graph) return malformed(c, "two graphs");
            has_graph = 1;
            if ((st = read_sub(c, &m, wire, "graph", &sub)) != FR_OK) return st;
            st = parse_graph(c, sub, model);
            break;
        default: st = pb_skip(&m, wire) ? FR_OK : malformed(c, "model"); break;
        }
    }
    if (st == FR_OK && !has_graph) return malformed(c, "no graph (not an ONNX model?)");
    return st;
}

fr_status onnx_parse(const uint8_t *data, size_t size, const char *name, onnx_model **out) {
    *out = NULL;
    onnx_model *model = calloc(1, sizeof *model);
    char *source = strdup(name ? name : "(memory)");
    if (!model || !source) {
        free(model);
        free(source);
        return fr_error(FR_E_NOMEM, "%s: out of memory", name ? name : "(memory)");
    }
    model->source = source;
    parse_ctx c = {.source = source};
    fr_status st = size > ONNX_MAX_FILE_BYTES
                       ? fr_error(FR_E_LIMIT, "%s: %zu bytes, over the protobuf limit of 2 GB",
                                  source, size)
                       : parse_model(&c, (pb_msg){.p = data, .pos = 0, .end = size}, model);
    if (st != FR_OK) {
        onnx_free(model);
        return st;
    }
    *out = model;
    return FR_OK;
}

fr_status onnx_load(const char *path, onnx_model **out) {
    *out = NULL;
    if (!path) return fr_error(FR_E_ARG, "onnx_load: NULL path");
    const uint8_t *data;
    size_t size;
    fr_status st = fr_map_model_file(path, ONNX_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    st = onnx_parse(data, size, path, out); /* copies what it keeps */
    fr_unmap_model_file(data, size);
    return st;
}

const onnx_attribute *onnx_node_attribute(const onnx_node *n, const char *name) {
    for (int i = 0; i < n->n_attributes; i++)
        if (!strcmp(n->attributes[i].name, name)) return &n->attributes[i];
    return NULL;
}

static void free_value_infos(onnx_value_info *v, int n) {
    for (int i = 0; i < n; i++) free(v[i].name);
    free(v);
}

void onnx_free(onnx_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) free(n->inputs[k]);
        for (int k = 0; k < n->n_outputs; k++) free(n->outputs[k]);
        for (int k = 0; k < n->n_attributes; k++) free_attribute(&n->attributes[k]);
        free(n->inputs);
        free(n->outputs);
        free(n->attributes);
        free(n->op_type);
        free(n->domain);
        free(n->name);
    }
    free(m->nodes);
    for (int i = 0; i < m->n_initializers; i++) free_tensor(&m->initializers[i]);
    free(m->initializers);
    free_value_infos(m->inputs, m->n_inputs);
    free_value_infos(m->outputs, m->n_outputs);
    free(m->source);
    free(m);
}
