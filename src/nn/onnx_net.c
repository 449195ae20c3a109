/* onnx_net.c: the ONNX network evaluator (see onnx_net.h).
 *
 * Loading walks the nodes in the file's (topological) order with every value's shape known:
 * a node over constants only is evaluated at once into a new constant (the Shape ->
 * Gather -> Unsqueeze -> Concat chain that PyTorch exports for x.view(x.size(0), -1));
 * a node over activations becomes one op of nn.h with its weights converted to our layouts
 * (Conv OIHW -> HWIO, depthwise (C,1,KH,KW) -> (KH,KW,C)); a Relu or PRelu whose input is
 * a convolution's or a dense layer's output read by nothing else is fused into that op.
 * Each activation gets its own
 * range of one block taken from the caller's arena (these nets are small: the liveness
 * net's block is about 1.3 M floats). */
#include "nn/onnx_net.h"

#include "common/common.h"
#include "nn/import/onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plans needing more activation memory than this are refused (FR_E_LIMIT). */
#define MAX_BLOCK_FLOATS ((size_t)1 << 28) /* 1 GB */
/* Constants computed at load (shape arithmetic) larger than this are refused. */
#define MAX_FOLDED_INTS 4096

typedef enum op_kind {
    OP_CONV,
    OP_DEPTHWISE,
    OP_DENSE,
    OP_ACTIVATION, /* Relu, PRelu */
    OP_SIGMOID,
    OP_SCALE_SHIFT, /* BatchNormalization */
    OP_BINARY,
    OP_GLOBAL_AVG_POOL,
    OP_RESHAPE,
    OP_SOFTMAX
} op_kind;

/* A value known at load: a constant, or an activation with its place in the block. */
typedef struct value {
    int rank;
    int shape[NN_MAX_RANK]; /* ONNX's order */
    size_t count;
    int is_const;
    const float *floats;   /* constant FLOAT (ONNX's order), or NULL */
    const int64_t *ints;   /* constant INT64, or NULL */
    size_t offset;         /* activations: floats from the block's start */
} value;

typedef struct net_op {
    op_kind kind;
    char name[40];
    int in[2], out; /* value indices */
    nn_conv cv;     /* OP_CONV, OP_DEPTHWISE (weight, bias below) */
    int dense_k, dense_m;
    nn_act act;
    nn_binary_op binary;
    int bin_rank, a_shape[NN_MAX_RANK], b_shape[NN_MAX_RANK], o_shape[NN_MAX_RANK];
    float *weight, *bias, *slope, *scale, *shift; /* owned */
} net_op;

struct onnx_net {
    char *source;
    int n_values;
    value *values; /* after loading only activations' shapes and offsets are used */
    int n_ops;
    net_op *ops;
    int input, output;
    size_t block_floats, scratch_floats;
};

/* ---- names to values ---- */

typedef struct name_map {
    const char **keys;
    int *vals;
    size_t mask;
} name_map;

static size_t hash_name(const char *s) {
    size_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static int map_init(name_map *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->mask = cap - 1;
    return m->keys && m->vals;
}

static int map_find(const name_map *m, const char *key) {
    for (size_t i = hash_name(key) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->keys[i]) return -1;
        if (!strcmp(m->keys[i], key)) return m->vals[i];
    }
}

/* The caller has checked that key is absent and sized the map for every key. */
static void map_put(name_map *m, const char *key, int val) {
    size_t i = hash_name(key) & m->mask;
    while (m->keys[i]) i = (i + 1) & m->mask;
    m->keys[i] = key;
    m->vals[i] = val;
}

/* ---- loading ---- */

typedef struct load_ctx {
    const onnx_model *m;
    onnx_net *net;
    name_map names;
    name_map readers; /* value name -> how many node inputs and graph outputs read it */
    void **owned; /* constants computed at load, freed when loading ends */
    int n_owned, cap_owned;
    int node; /* the node being loaded, for messages */
} load_ctx;

static fr_status nomem(const load_ctx *c) {
    return fr_error(FR_E_NOMEM, "%s: out of memory loading the network", c->net->source);
}

/* FR_E_UNSUPPORTED naming the node being loaded. */
static fr_status unsupported(const load_ctx *c, const char *what) {
    const onnx_node *n = &c->m->nodes[c->node];
    return fr_error(FR_E_UNSUPPORTED, "%s: node %d ('%s', %s): %s", c->net->source, c->node,
                    n->name, n->op_type, what);
}

/* FR_E_MODEL naming the node being loaded. */
static fr_status invalid(const load_ctx *c, const char *what) {
    const onnx_node *n = &c->m->nodes[c->node];
    return fr_error(FR_E_MODEL, "%s: node %d ('%s', %s): %s", c->net->source, c->node, n->name,
                    n->op_type, what);
}

static void *own(load_ctx *c, size_t bytes) {
    if (c->n_owned == c->cap_owned) {
        int cap = c->cap_owned ? 2 * c->cap_owned : 16;
        void **p = realloc(c->owned, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        c->owned = p;
        c->cap_owned = cap;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (p) c->owned[c->n_owned++] = p;
    return p;
}

/* Shape from int64 dims, each 1..INT32_MAX, rank at most NN_MAX_RANK; 0 when not. */
static int set_shape(value *v, int rank, const int64_t *dims) {
    if (rank < 0 || rank > NN_MAX_RANK) return 0;
    v->rank = rank;
    v->count = 1;
    for (int d = 0; d < rank; d++) {
        if (dims[d] < 1 || dims[d] > (1 << 30)) return 0;
        v->shape[d] = (int)dims[d];
        if (!fr_mul_size(v->count, (size_t)dims[d], &v->count) || v->count > MAX_BLOCK_FLOATS)
            return 0;
    }
    return 1;
}

/* A new value named `name` (a node output or graph input): FR_E_MODEL if the name exists. */
static fr_status add_value(load_ctx *c, const char *name, int *index) {
    if (!name[0] || map_find(&c->names, name) >= 0)
        return fr_error(FR_E_MODEL, "%s: the value '%s' is %s", c->net->source, name,
                        name[0] ? "defined twice" : "unnamed");
    *index = c->net->n_values++;
    memset(&c->net->values[*index], 0, sizeof(value));
    map_put(&c->names, name, *index);
    return FR_OK;
}

/* Input k of the current node: it must be named and known. */
static fr_status node_input(const load_ctx *c, int k, value **out) {
    const onnx_node *n = &c->m->nodes[c->node];
    if (k >= n->n_inputs || !n->inputs[k][0]) {
        char what[64];
        snprintf(what, sizeof what, "input %d is missing", k);
        return invalid(c, what);
    }
    int i = map_find(&c->names, n->inputs[k]);
    if (i < 0) {
        char what[160];
        snprintf(what, sizeof what, "input '%.100s' is not made by an earlier node", n->inputs[k]);
        return invalid(c, what);
    }
    *out = &c->net->values[i];
    return FR_OK;
}

static fr_status const_floats(const load_ctx *c, int k, size_t count, value **out) {
    fr_status st = node_input(c, k, out);
    if (st != FR_OK) return st;
    if (!(*out)->is_const || !(*out)->floats) {
        char what[64];
        snprintf(what, sizeof what, "input %d must be a FLOAT constant", k);
        return unsupported(c, what);
    }
    if (count && (*out)->count != count) {
        char what[96];
        snprintf(what, sizeof what, "input %d has %zu values, %zu expected", k, (*out)->count,
                 count);
        return invalid(c, what);
    }
    return FR_OK;
}

static fr_status activation_input(const load_ctx *c, int k, value **out) {
    fr_status st = node_input(c, k, out);
    if (st == FR_OK && (*out)->is_const) {
        char what[64];
        snprintf(what, sizeof what, "input %d is a constant (only activations are supported)", k);
        return unsupported(c, what);
    }
    return st;
}

static int64_t attr_int(const onnx_node *n, const char *name, int64_t def) {
    const onnx_attribute *a = onnx_node_attribute(n, name);
    return a && a->type == ONNX_ATTR_INT ? a->i : def;
}

/* An INTS attribute of exactly `count` values each in [lo, hi], or absent (def used). */
static fr_status attr_ints(const load_ctx *c, const char *name, int count, int def, int lo,
                           int hi, int *out) {
    const onnx_node *n = &c->m->nodes[c->node];
    const onnx_attribute *a = onnx_node_attribute(n, name);
    for (int i = 0; i < count; i++) out[i] = def;
    if (!a) return FR_OK;
    char what[96];
    snprintf(what, sizeof what, "attribute %s must hold %d integers in [%d, %d]", name, count,
             lo, hi);
    if (a->type != ONNX_ATTR_INTS || a->n_ints != count) return unsupported(c, what);
    for (int i = 0; i < count; i++) {
        if (a->ints[i] < lo || a->ints[i] > hi) return unsupported(c, what);
        out[i] = (int)a->ints[i];
    }
    return FR_OK;
}

/* The single output of the current node, as a new activation (is_const 0) of `shape`. */
static fr_status node_output(load_ctx *c, int rank, const int64_t *dims, int *index) {
    const onnx_node *n = &c->m->nodes[c->node];
    if (n->n_outputs < 1) return invalid(c, "no output");
    for (int k = 1; k < n->n_outputs; k++)
        if (n->outputs[k][0]) return unsupported(c, "only the first output is supported");
    fr_status st = add_value(c, n->outputs[0], index);
    if (st != FR_OK) return st;
    if (!set_shape(&c->net->values[*index], rank, dims))
        return invalid(c, "the output's shape is empty or too large");
    return FR_OK;
}

static void dims_of(const value *v, int64_t *dims) {
    for (int d = 0; d < v->rank; d++) dims[d] = v->shape[d];
}

static fr_status new_op(load_ctx *c, op_kind kind, const char *name, net_op **out) {
    net_op *op = &c->net->ops[c->net->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->in[0] = op->in[1] = -1;
    snprintf(op->name, sizeof op->name, "%s", name);
    *out = op;
    return FR_OK;
}

static int value_index(const load_ctx *c, const value *v) { return (int)(v - c->net->values); }

/* ---- nodes over constants, evaluated at load ---- */

/* The output of the current node as a new INT64 constant of `count` values. */
static fr_status const_output(load_ctx *c, int rank, const int64_t *dims, const int64_t *vals,
                              size_t count) {
    const onnx_node *n = &c->m->nodes[c->node];
    if (n->n_outputs != 1) return unsupported(c, "only one output is supported");
    if (count > MAX_FOLDED_INTS) return unsupported(c, "the computed constant is too large");
    int index;
    fr_status st = add_value(c, n->outputs[0], &index);
    if (st != FR_OK) return st;
    value *v = &c->net->values[index];
    v->is_const = 1;
    v->rank = rank;
    v->count = count;
    for (int d = 0; d < rank; d++) v->shape[d] = (int)dims[d];
    int64_t *copy = own(c, count * sizeof *copy);
    if (!copy) return nomem(c);
    memcpy(copy, vals, count * sizeof *copy);
    v->ints = copy;
    return FR_OK;
}

static fr_status const_ints(const load_ctx *c, int k, value **out) {
    fr_status st = node_input(c, k, out);
    if (st != FR_OK) return st;
    if (!(*out)->is_const || !(*out)->ints) {
        char what[64];
        snprintf(what, sizeof what, "input %d must be an INT64 constant", k);
        return unsupported(c, what);
    }
    return FR_OK;
}

/* A constant value from a tensor of the model; FR_E_UNSUPPORTED naming it when its shape
 * does not fit ours. */
static fr_status tensor_value(const load_ctx *c, const onnx_tensor *t, value *v) {
    if (t->ndim > NN_MAX_RANK)
        return fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s' has %d dimensions (at most %d "
                        "supported)", c->net->source, t->name, t->ndim, NN_MAX_RANK);
    for (int d = 0; d < t->ndim; d++)
        if (t->dims[d] > (1 << 30))
            return fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s' has a dimension over 2^30",
                            c->net->source, t->name);
    v->is_const = 1;
    v->rank = t->ndim;
    v->count = t->count;
    for (int d = 0; d < t->ndim; d++) v->shape[d] = (int)t->dims[d];
    v->floats = t->floats;
    v->ints = t->ints;
    return FR_OK;
}

static fr_status load_constant(load_ctx *c) {
    const onnx_node *n = &c->m->nodes[c->node];
    const onnx_attribute *a = onnx_node_attribute(n, "value");
    if (n->n_attributes != 1 || !a || a->type != ONNX_ATTR_TENSOR || !a->t)
        return unsupported(c, "only a 'value' tensor is supported");
    if (n->n_outputs != 1) return invalid(c, "a Constant has one output");
    int index;
    fr_status st = add_value(c, n->outputs[0], &index);
    if (st != FR_OK) return st;
    return tensor_value(c, a->t, &c->net->values[index]);
}

static fr_status load_shape(load_ctx *c) {
    value *x;
    fr_status st = node_input(c, 0, &x);
    if (st != FR_OK) return st;
    const onnx_node *n = &c->m->nodes[c->node];
    if (onnx_node_attribute(n, "start") || onnx_node_attribute(n, "end"))
        return unsupported(c, "start and end are not supported");
    int64_t vals[NN_MAX_RANK], dims[1] = {x->rank};
    dims_of(x, vals);
    return const_output(c, 1, dims, vals, (size_t)x->rank);
}

/* Gather along axis 0 of a rank-1 INT64 constant. */
static fr_status load_gather(load_ctx *c) {
    value *data, *idx;
    fr_status st;
    if ((st = const_ints(c, 0, &data)) != FR_OK || (st = const_ints(c, 1, &idx)) != FR_OK)
        return st;
    if (data->rank != 1 || attr_int(&c->m->nodes[c->node], "axis", 0) != 0)
        return unsupported(c, "only axis 0 of a rank-1 constant is supported");
    if (idx->count > MAX_FOLDED_INTS) return unsupported(c, "too many indices");
    int64_t vals[MAX_FOLDED_INTS], dims[NN_MAX_RANK];
    for (size_t i = 0; i < idx->count; i++) {
        int64_t k = idx->ints[i];
        if (k < -(int64_t)data->count || k >= (int64_t)data->count)
            return invalid(c, "an index is out of range");
        vals[i] = data->ints[k < 0 ? k + (int64_t)data->count : k];
    }
    dims_of(idx, dims);
    return const_output(c, idx->rank, dims, vals, idx->count);
}

/* Unsqueeze: the axes from the attribute (opset < 13) or the second input. Of a constant,
 * a new constant; of an activation, a reshape. */
static fr_status unsqueeze_axes(load_ctx *c, int out_rank_base, int *axes, int *n_axes) {
    const onnx_node *n = &c->m->nodes[c->node];
    const onnx_attribute *a = onnx_node_attribute(n, "axes");
    const int64_t *src;
    size_t count;
    if (a) {
        if (a->type != ONNX_ATTR_INTS) return invalid(c, "axes must be integers");
        src = a->ints;
        count = (size_t)a->n_ints;
    } else {
        value *v;
        fr_status st = const_ints(c, 1, &v);
        if (st != FR_OK) return st;
        src = v->ints;
        count = v->count;
    }
    int out_rank = out_rank_base + (int)count;
    if (count == 0 || out_rank > NN_MAX_RANK) return unsupported(c, "too many dimensions");
    for (size_t i = 0; i < count; i++) {
        int64_t ax = src[i] < 0 ? src[i] + out_rank : src[i];
        if (ax < 0 || ax >= out_rank) return invalid(c, "an axis is out of range");
        for (size_t j = 0; j < i; j++)
            if (axes[j] == ax) return invalid(c, "an axis is repeated");
        axes[i] = (int)ax;
    }
    *n_axes = (int)count;
    return FR_OK;
}

static fr_status load_reshape_to(load_ctx *c, value *x, int rank, const int64_t *dims);

static fr_status load_unsqueeze(load_ctx *c) {
    value *x;
    fr_status st = node_input(c, 0, &x);
    if (st != FR_OK) return st;
    int axes[NN_MAX_RANK], n_axes = 0;
    if ((st = unsqueeze_axes(c, x->rank, axes, &n_axes)) != FR_OK) return st;
    int out_rank = x->rank + n_axes;
    int64_t dims[NN_MAX_RANK];
    for (int d = 0, k = 0; d < out_rank; d++) {
        int is_new = 0;
        for (int j = 0; j < n_axes; j++) is_new |= axes[j] == d;
        dims[d] = is_new ? 1 : x->shape[k++];
    }
    if (!x->is_const) return load_reshape_to(c, x, out_rank, dims);
    if (!x->ints) return unsupported(c, "only INT64 constants are supported");
    return const_output(c, out_rank, dims, x->ints, x->count);
}

/* Concat of rank-1 INT64 constants. */
static fr_status load_concat(load_ctx *c) {
    const onnx_node *n = &c->m->nodes[c->node];
    int64_t vals[MAX_FOLDED_INTS];
    size_t count = 0;
    int64_t axis = attr_int(n, "axis", 0);
    if (n->n_inputs < 1) return invalid(c, "no input");
    for (int k = 0; k < n->n_inputs; k++) {
        value *v;
        fr_status st = const_ints(c, k, &v);
        if (st != FR_OK) return st;
        if (v->rank != 1 || (axis != 0 && axis != -1))
            return unsupported(c, "only rank-1 constants are supported");
        if (v->count > MAX_FOLDED_INTS - count) return unsupported(c, "too many values");
        memcpy(vals + count, v->ints, v->count * sizeof *vals);
        count += v->count;
    }
    int64_t dims[1] = {(int64_t)count};
    return const_output(c, 1, dims, vals, count);
}

/* ---- nodes over activations ---- */

static fr_status load_reshape_to(load_ctx *c, value *x, int rank, const int64_t *dims) {
    int out;
    fr_status st = node_output(c, rank, dims, &out);
    if (st != FR_OK) return st;
    x = &c->net->values[value_index(c, x)];
    if (c->net->values[out].count != x->count)
        return invalid(c, "the new shape does not hold the same number of values");
    net_op *op;
    new_op(c, OP_RESHAPE, c->m->nodes[c->node].op_type, &op);
    op->in[0] = value_index(c, x);
    op->out = out;
    if (x->count > c->net->scratch_floats) c->net->scratch_floats = x->count;
    return FR_OK;
}

static fr_status load_reshape(load_ctx *c) {
    value *x, *target;
    fr_status st;
    if ((st = activation_input(c, 0, &x)) != FR_OK || (st = const_ints(c, 1, &target)) != FR_OK)
        return st;
    if (attr_int(&c->m->nodes[c->node], "allowzero", 0) != 0)
        return unsupported(c, "allowzero is not supported");
    if (target->rank != 1 || target->count > NN_MAX_RANK)
        return unsupported(c, "the new shape must be a list of at most 6 dimensions");
    int rank = (int)target->count, infer = -1;
    int64_t dims[NN_MAX_RANK];
    size_t known = 1;
    for (int d = 0; d < rank; d++) {
        int64_t v = target->ints[d];
        if (v == 0) {
            if (d >= x->rank) return invalid(c, "a 0 in the new shape has no input dimension");
            v = x->shape[d];
        }
        if (v == -1) {
            if (infer >= 0) return invalid(c, "two -1 in the new shape");
            infer = d;
            dims[d] = 1;
            continue;
        }
        if (v < 1 || v > (1 << 30)) return invalid(c, "a dimension of the new shape is out of range");
        dims[d] = v;
        if (!fr_mul_size(known, (size_t)v, &known)) return invalid(c, "the new shape is too large");
    }
    if (infer >= 0) {
        if (x->count % known) return invalid(c, "the new shape does not divide the input");
        dims[infer] = (int64_t)(x->count / known);
    }
    return load_reshape_to(c, x, rank, dims);
}

static fr_status load_flatten(load_ctx *c) {
    value *x;
    fr_status st = activation_input(c, 0, &x);
    if (st != FR_OK) return st;
    int64_t axis = attr_int(&c->m->nodes[c->node], "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > x->rank) return invalid(c, "axis out of range");
    int64_t dims[2] = {1, 1};
    for (int d = 0; d < x->rank; d++) dims[d >= axis] *= x->shape[d];
    return load_reshape_to(c, x, 2, dims);
}

static fr_status load_conv(load_ctx *c) {
    const onnx_node *n = &c->m->nodes[c->node];
    value *x, *w, *b = NULL;
    fr_status st;
    if ((st = activation_input(c, 0, &x)) != FR_OK || (st = const_floats(c, 1, 0, &w)) != FR_OK)
        return st;
    if (x->rank != 4 || w->rank != 4) return unsupported(c, "only 2-D convolutions are supported");
    int cout = w->shape[0], cin_per_group = w->shape[1], kh = w->shape[2], kw = w->shape[3];
    int cin = x->shape[1];
    if (cout < 1 || cin_per_group < 1 || kh < 1 || kw < 1) return invalid(c, "the weights are empty");
    if (n->n_inputs > 2 && n->inputs[2][0] && (st = const_floats(c, 2, (size_t)cout, &b)) != FR_OK)
        return st;
    const onnx_attribute *auto_pad = onnx_node_attribute(n, "auto_pad");
    if (auto_pad && (auto_pad->type != ONNX_ATTR_STRING || !auto_pad->s || strcmp(auto_pad->s, "NOTSET")))
        return unsupported(c, "auto_pad is not supported (only explicit pads)");
    int kernel[2], strides[2], dilations[2], pads[4];
    if ((st = attr_ints(c, "kernel_shape", 2, 0, 1, 1 << 16, kernel)) != FR_OK ||
        (st = attr_ints(c, "strides", 2, 1, 1, 1 << 16, strides)) != FR_OK ||
        (st = attr_ints(c, "dilations", 2, 1, 1, 1, dilations)) != FR_OK ||
        (st = attr_ints(c, "pads", 4, 0, 0, 1 << 16, pads)) != FR_OK)
        return st;
    if (onnx_node_attribute(n, "kernel_shape") && (kernel[0] != kh || kernel[1] != kw))
        return invalid(c, "kernel_shape does not match the weights");
    int64_t group = attr_int(n, "group", 1);
    int depthwise = group != 1 && group == cin && cin == cout && cin_per_group == 1;
    if (group != 1 && !depthwise) return unsupported(c, "only group 1 or depthwise (group = channels) is supported");
    if (!depthwise && cin_per_group != cin) return invalid(c, "the weights do not match the input channels");
    nn_padding pad = {.mode = NN_PAD_EXPLICIT, .top = pads[0], .left = pads[1],
                      .bottom = pads[2], .right = pads[3]};
    int oh, ow, before;
    if (x->shape[2] + pads[0] + pads[2] < kh || x->shape[3] + pads[1] + pads[3] < kw)
        return invalid(c, "the kernel is larger than the padded input");
    nn_out_size(x->shape[2], kh, strides[0], pad, 0, &oh, &before);
    nn_out_size(x->shape[3], kw, strides[1], pad, 1, &ow, &before);
    int out;
    int64_t dims[4] = {x->shape[0], cout, oh, ow};
    int x_index = value_index(c, x);
    if ((st = node_output(c, 4, dims, &out)) != FR_OK) return st;
    net_op *op;
    new_op(c, depthwise ? OP_DEPTHWISE : OP_CONV, depthwise ? "Conv(depthwise)" : "Conv", &op);
    op->in[0] = x_index;
    op->out = out;
    size_t per_out = (size_t)kh * kw * cin_per_group;
    op->weight = malloc(per_out * (size_t)cout * sizeof(float));
    op->bias = b ? malloc((size_t)cout * sizeof(float)) : NULL;
    if (!op->weight || (b && !op->bias)) return nomem(c);
    /* OIHW -> HWIO; depthwise (C,1,KH,KW) -> (KH,KW,C), the same loop with cin_per_group 1 */
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin_per_group; i++)
            for (int y = 0; y < kh; y++)
                for (int xx = 0; xx < kw; xx++)
                    op->weight[(((size_t)y * kw + xx) * cin_per_group + i) * cout + o] =
                        w->floats[(((size_t)o * cin_per_group + i) * kh + y) * kw + xx];
    if (b) memcpy(op->bias, b->floats, (size_t)cout * sizeof(float));
    op->cv = (nn_conv){.kh = kh, .kw = kw, .cin = cin, .cout = cout, .stride_h = strides[0],
                       .stride_w = strides[1], .pad = pad, .weight = op->weight,
                       .bias = op->bias, .act = {.kind = NN_ACT_NONE}};
    return FR_OK;
}

/* The channel count of an activation for per-channel ops: axis 1 of rank 2 or 4, which is
 * the last axis of our layout. */
static fr_status channels_of(const load_ctx *c, const value *x, int *C) {
    if (x->rank != 2 && x->rank != 4) return unsupported(c, "only inputs of rank 2 or 4 are supported");
    *C = x->shape[1];
    return FR_OK;
}

/* A constant that broadcasts against x along the channel axis only (or is one value),
 * expanded into C floats. */
static fr_status per_channel(load_ctx *c, const value *x, const value *k, float **out) {
    int C = 0;
    fr_status st = channels_of(c, x, &C);
    if (st != FR_OK) return st;
    int ok = k->count == 1 || (size_t)C == k->count;
    /* right-aligned against x's shape, every dimension but the channel's must be 1 */
    if (k->count != 1) {
        if (k->rank > x->rank || k->rank < x->rank - 1) ok = 0;
        for (int d = 0; ok && d < k->rank; d++) {
            int xd = x->rank - k->rank + d;
            if (xd != 1 && k->shape[d] != 1) ok = 0;
        }
    }
    if (!ok) return unsupported(c, "the constant must be one value or one per channel");
    float *v = malloc((size_t)C * sizeof *v);
    if (!v) return nomem(c);
    for (int i = 0; i < C; i++) v[i] = k->floats[k->count == 1 ? 0 : (size_t)i];
    *out = v;
    return FR_OK;
}

/* The op that made x, if it is the latest op, a convolution or dense layer without an
 * activation, and x is read by the current node only: the activation can move into it. */
static net_op *fusable_producer(const load_ctx *c, const value *x) {
    if (c->net->n_ops == 0) return NULL;
    net_op *op = &c->net->ops[c->net->n_ops - 1];
    const onnx_node *n = &c->m->nodes[c->node];
    if (op->out != value_index(c, x) || op->act.kind != NN_ACT_NONE ||
        (op->kind != OP_CONV && op->kind != OP_DEPTHWISE && op->kind != OP_DENSE) ||
        map_find(&c->readers, n->inputs[0]) != 1)
        return NULL;
    return op;
}

/* Relu, Sigmoid, PRelu */
static fr_status load_elementwise(load_ctx *c, op_kind kind, nn_act_kind act) {
    value *x, *slope = NULL;
    fr_status st = activation_input(c, 0, &x);
    if (st != FR_OK) return st;
    if (act == NN_ACT_PRELU && (st = const_floats(c, 1, 0, &slope)) != FR_OK) return st;
    net_op *producer = kind == OP_ACTIVATION ? fusable_producer(c, x) : NULL;
    if (producer) {
        /* the node's output is the producer's, activated in place */
        const onnx_node *n = &c->m->nodes[c->node];
        if (n->n_outputs != 1 || !n->outputs[0][0] || map_find(&c->names, n->outputs[0]) >= 0)
            return invalid(c, "the output is unnamed or defined twice");
        if (slope && (st = per_channel(c, x, slope, &producer->slope)) != FR_OK) return st;
        producer->act = (nn_act){.kind = act, .slope = producer->slope};
        producer->cv.act = producer->act;
        size_t len = strlen(producer->name);
        snprintf(producer->name + len, sizeof producer->name - len, "+%s", n->op_type);
        map_put(&c->names, n->outputs[0], value_index(c, x));
        return FR_OK;
    }
    int64_t dims[NN_MAX_RANK];
    dims_of(x, dims);
    int x_index = value_index(c, x), out;
    if ((st = node_output(c, x->rank, dims, &out)) != FR_OK) return st;
    x = &c->net->values[x_index];
    net_op *op;
    new_op(c, kind, c->m->nodes[c->node].op_type, &op);
    op->in[0] = x_index;
    op->out = out;
    op->act.kind = act;
    if (slope) {
        if ((st = per_channel(c, x, slope, &op->slope)) != FR_OK) return st;
        op->act.slope = op->slope;
    }
    return FR_OK;
}

static fr_status load_batchnorm(load_ctx *c) {
    const onnx_node *n = &c->m->nodes[c->node];
    value *x, *k[4];
    fr_status st = activation_input(c, 0, &x);
    if (st != FR_OK) return st;
    if (attr_int(n, "training_mode", 0) != 0) return unsupported(c, "training mode is not supported");
    int C = 0;
    if ((st = channels_of(c, x, &C)) != FR_OK) return st;
    for (int i = 0; i < 4; i++)
        if ((st = const_floats(c, 1 + i, (size_t)C, &k[i])) != FR_OK) return st;
    const onnx_attribute *eps_attr = onnx_node_attribute(n, "epsilon");
    float eps = eps_attr && eps_attr->type == ONNX_ATTR_FLOAT ? eps_attr->f : 1e-5f;
    if (!(eps >= 0)) return invalid(c, "epsilon is negative");
    int64_t dims[NN_MAX_RANK];
    dims_of(x, dims);
    int x_index = value_index(c, x), out;
    if ((st = node_output(c, x->rank, dims, &out)) != FR_OK) return st;
    net_op *op;
    new_op(c, OP_SCALE_SHIFT, "BatchNormalization", &op);
    op->in[0] = x_index;
    op->out = out;
    op->scale = malloc((size_t)C * sizeof(float));
    op->shift = malloc((size_t)C * sizeof(float));
    if (!op->scale || !op->shift) return nomem(c);
    /* y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift */
    for (int i = 0; i < C; i++) {
        float scale = k[0]->floats[i] / sqrtf(k[3]->floats[i] + eps);
        op->scale[i] = scale;
        op->shift[i] = k[1]->floats[i] - k[2]->floats[i] * scale;
    }
    return FR_OK;
}

/* Our layout's order of an ONNX shape of rank 4 (NCHW -> NHWC); others are unchanged. */
static void storage_shape(int rank, const int *onnx, int *out) {
    if (rank == 4) {
        out[0] = onnx[0], out[1] = onnx[2], out[2] = onnx[3], out[3] = onnx[1];
        return;
    }
    for (int d = 0; d < rank; d++) out[d] = onnx[d];
}

static fr_status load_binary(load_ctx *c, nn_binary_op kind) {
    value *a, *b;
    fr_status st;
    if ((st = activation_input(c, 0, &a)) != FR_OK || (st = activation_input(c, 1, &b)) != FR_OK)
        return st;
    int rank = FR_MAX(a->rank, b->rank);
    if (rank == 0) return unsupported(c, "scalars are not supported");
    int as[NN_MAX_RANK], bs[NN_MAX_RANK], os[NN_MAX_RANK];
    int64_t dims[NN_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        int ad = d - (rank - a->rank), bd = d - (rank - b->rank);
        as[d] = ad >= 0 ? a->shape[ad] : 1;
        bs[d] = bd >= 0 ? b->shape[bd] : 1;
        if (as[d] != bs[d] && as[d] != 1 && bs[d] != 1)
            return invalid(c, "the shapes of the inputs do not broadcast");
        os[d] = FR_MAX(as[d], bs[d]);
        dims[d] = os[d];
    }
    /* a rank-4 output is held NHWC, and so are rank-4 inputs; a lower-rank input padded to
     * rank 4 is not (it is held in ONNX's order), so it must not need a reordering: only
     * when its padded shape has 1s everywhere but one axis, or no rank-4 output */
    if (rank == 4 && (a->rank != 4 || b->rank != 4)) {
        const int *low = a->rank != 4 ? as : bs;
        int non1 = 0;
        for (int d = 0; d < 4; d++) non1 += low[d] != 1;
        if (non1 > 1) return unsupported(c, "broadcasting this lower-rank input is not supported");
    }
    int a_index = value_index(c, a), b_index = value_index(c, b), out;
    if ((st = node_output(c, rank, dims, &out)) != FR_OK) return st;
    net_op *op;
    new_op(c, OP_BINARY, c->m->nodes[c->node].op_type, &op);
    op->in[0] = a_index;
    op->in[1] = b_index;
    op->out = out;
    op->binary = kind;
    op->bin_rank = rank;
    storage_shape(rank, as, op->a_shape);
    storage_shape(rank, bs, op->b_shape);
    storage_shape(rank, os, op->o_shape);
    return FR_OK;
}

static fr_status load_global_avg_pool(load_ctx *c) {
    value *x;
    fr_status st = activation_input(c, 0, &x);
    if (st != FR_OK) return st;
    if (x->rank != 4) return unsupported(c, "only inputs of rank 4 are supported");
    int64_t dims[4] = {x->shape[0], x->shape[1], 1, 1};
    int x_index = value_index(c, x), out;
    if ((st = node_output(c, 4, dims, &out)) != FR_OK) return st;
    net_op *op;
    new_op(c, OP_GLOBAL_AVG_POOL, "GlobalAveragePool", &op);
    op->in[0] = x_index;
    op->out = out;
    return FR_OK;
}

/* MatMul (N,K) x (K,M), or Gemm alpha * A * op(B) + beta * C with A not transposed. */
static fr_status load_dense(load_ctx *c, int is_gemm) {
    const onnx_node *n = &c->m->nodes[c->node];
    value *x, *w, *bias = NULL;
    fr_status st;
    if ((st = activation_input(c, 0, &x)) != FR_OK || (st = const_floats(c, 1, 0, &w)) != FR_OK)
        return st;
    if (x->rank != 2 || w->rank != 2) return unsupported(c, "only 2-D matrices are supported");
    int trans_b = is_gemm && attr_int(n, "transB", 0) != 0;
    if (is_gemm && attr_int(n, "transA", 0) != 0) return unsupported(c, "transA is not supported");
    const onnx_attribute *alpha_attr = is_gemm ? onnx_node_attribute(n, "alpha") : NULL;
    const onnx_attribute *beta_attr = is_gemm ? onnx_node_attribute(n, "beta") : NULL;
    float alpha = alpha_attr && alpha_attr->type == ONNX_ATTR_FLOAT ? alpha_attr->f : 1.0f;
    float beta = beta_attr && beta_attr->type == ONNX_ATTR_FLOAT ? beta_attr->f : 1.0f;
    int K = trans_b ? w->shape[1] : w->shape[0], M = trans_b ? w->shape[0] : w->shape[1];
    if (x->shape[1] != K) return invalid(c, "the matrices' inner dimensions differ");
    if (is_gemm && n->n_inputs > 2 && n->inputs[2][0]) {
        if ((st = const_floats(c, 2, 0, &bias)) != FR_OK) return st;
        if (bias->count != 1 && (bias->count != (size_t)M || bias->shape[bias->rank - 1] != M))
            return unsupported(c, "only a bias of one value or one per output is supported");
    }
    int64_t dims[2] = {x->shape[0], M};
    int x_index = value_index(c, x), out;
    if ((st = node_output(c, 2, dims, &out)) != FR_OK) return st;
    net_op *op;
    new_op(c, OP_DENSE, n->op_type, &op);
    op->in[0] = x_index;
    op->out = out;
    op->dense_k = K;
    op->dense_m = M;
    op->weight = malloc((size_t)K * M * sizeof(float));
    op->bias = bias ? malloc((size_t)M * sizeof(float)) : NULL;
    if (!op->weight || (bias && !op->bias)) return nomem(c);
    for (int k = 0; k < K; k++)
        for (int m = 0; m < M; m++)
            op->weight[(size_t)k * M + m] =
                alpha * w->floats[trans_b ? (size_t)m * K + k : (size_t)k * M + m];
    for (int m = 0; bias && m < M; m++)
        op->bias[m] = beta * bias->floats[bias->count == 1 ? 0 : (size_t)m];
    return FR_OK;
}

static fr_status load_softmax(load_ctx *c) {
    value *x;
    fr_status st = activation_input(c, 0, &x);
    if (st != FR_OK) return st;
    /* before opset 13 the default axis is 1 and the input is seen as 2-D from it: for a
     * rank-2 input both readings are the last axis */
    int64_t axis = attr_int(&c->m->nodes[c->node], "axis", c->m->opset < 13 ? 1 : -1);
    if (axis < 0) axis += x->rank;
    if (x->rank == 0 || x->rank == 4 || axis != x->rank - 1)
        return unsupported(c, "only the last axis of an input of rank other than 4 is supported");
    int64_t dims[NN_MAX_RANK];
    dims_of(x, dims);
    int x_index = value_index(c, x), out;
    if ((st = node_output(c, x->rank, dims, &out)) != FR_OK) return st;
    net_op *op;
    new_op(c, OP_SOFTMAX, "Softmax", &op);
    op->in[0] = x_index;
    op->out = out;
    return FR_OK;
}

static fr_status load_node(load_ctx *c) {
    const onnx_node *n = &c->m->nodes[c->node];
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return unsupported(c, "operators of other domains are not supported");
    const char *t = n->op_type;
    if (!strcmp(t, "Conv")) return load_conv(c);
    if (!strcmp(t, "PRelu")) return load_elementwise(c, OP_ACTIVATION, NN_ACT_PRELU);
    if (!strcmp(t, "Relu")) return load_elementwise(c, OP_ACTIVATION, NN_ACT_RELU);
    if (!strcmp(t, "Sigmoid")) return load_elementwise(c, OP_SIGMOID, NN_ACT_NONE);
    if (!strcmp(t, "BatchNormalization")) return load_batchnorm(c);
    if (!strcmp(t, "Add")) return load_binary(c, NN_BINARY_ADD);
    if (!strcmp(t, "Mul")) return load_binary(c, NN_BINARY_MUL);
    if (!strcmp(t, "GlobalAveragePool")) return load_global_avg_pool(c);
    if (!strcmp(t, "MatMul")) return load_dense(c, 0);
    if (!strcmp(t, "Gemm")) return load_dense(c, 1);
    if (!strcmp(t, "Reshape")) return load_reshape(c);
    if (!strcmp(t, "Flatten")) return load_flatten(c);
    if (!strcmp(t, "Softmax")) return load_softmax(c);
    if (!strcmp(t, "Constant")) return load_constant(c);
    if (!strcmp(t, "Shape")) return load_shape(c);
    if (!strcmp(t, "Gather")) return load_gather(c);
    if (!strcmp(t, "Unsqueeze")) return load_unsqueeze(c);
    if (!strcmp(t, "Concat")) return load_concat(c);
    return fr_error(FR_E_UNSUPPORTED, "%s: node %d ('%s'): operator %s is not supported",
                    c->net->source, c->node, n->name, t);
}

/* Initializers and the one graph input that is not an initializer. */
static fr_status load_graph_values(load_ctx *c) {
    const onnx_model *m = c->m;
    onnx_net *net = c->net;
    fr_status st;
    for (int i = 0; i < m->n_initializers; i++) {
        const onnx_tensor *t = &m->initializers[i];
        int index;
        if ((st = add_value(c, t->name, &index)) != FR_OK ||
            (st = tensor_value(c, t, &net->values[index])) != FR_OK)
            return st;
    }
    net->input = -1;
    for (int i = 0; i < m->n_inputs; i++) {
        const onnx_value_info *vi = &m->inputs[i];
        if (map_find(&c->names, vi->name) >= 0) continue; /* an initializer (IR < 4) */
        if (net->input >= 0)
            return fr_error(FR_E_UNSUPPORTED, "%s: the graph has more than one input",
                            net->source);
        if (vi->elem_type != ONNX_FLOAT || vi->ndim < 1 || vi->ndim > NN_MAX_RANK)
            return fr_error(FR_E_UNSUPPORTED, "%s: input '%s' is not a FLOAT tensor of rank 1 "
                            "to %d", net->source, vi->name, NN_MAX_RANK);
        int64_t dims[NN_MAX_RANK];
        for (int d = 0; d < vi->ndim; d++) dims[d] = vi->dims[d];
        if (dims[0] == -1) dims[0] = 1; /* a symbolic batch: one at a time */
        if ((st = add_value(c, vi->name, &net->input)) != FR_OK) return st;
        if (!set_shape(&net->values[net->input], vi->ndim, dims))
            return fr_error(FR_E_UNSUPPORTED, "%s: input '%s' has an unknown, empty or too "
                            "large dimension", net->source, vi->name);
    }
    if (net->input < 0) return fr_error(FR_E_MODEL, "%s: the graph has no input", net->source);
    return FR_OK;
}

static fr_status build(load_ctx *c) {
    const onnx_model *m = c->m;
    onnx_net *net = c->net;
    size_t n_names = (size_t)m->n_initializers + (size_t)m->n_inputs;
    for (int i = 0; i < m->n_nodes; i++) n_names += (size_t)m->nodes[i].n_outputs;
    net->values = calloc(n_names ? n_names : 1, sizeof *net->values);
    net->ops = calloc(m->n_nodes ? (size_t)m->n_nodes : 1, sizeof *net->ops);
    if (!net->values || !net->ops || !map_init(&c->names, n_names)) return nomem(c);
    /* how many times each value is read, for fusing activations */
    size_t n_reads = (size_t)m->n_outputs;
    for (int i = 0; i < m->n_nodes; i++) n_reads += (size_t)m->nodes[i].n_inputs;
    if (!map_init(&c->readers, n_reads)) return nomem(c);
    for (int i = 0; i <= m->n_nodes; i++) {
        int n_in = i < m->n_nodes ? m->nodes[i].n_inputs : m->n_outputs;
        for (int k = 0; k < n_in; k++) {
            const char *name = i < m->n_nodes ? m->nodes[i].inputs[k] : m->outputs[k].name;
            size_t slot = hash_name(name) & c->readers.mask;
            while (c->readers.keys[slot] && strcmp(c->readers.keys[slot], name))
                slot = (slot + 1) & c->readers.mask;
            c->readers.keys[slot] = name;
            c->readers.vals[slot]++;
        }
    }
    fr_status st = load_graph_values(c);
    for (c->node = 0; st == FR_OK && c->node < m->n_nodes; c->node++) st = load_node(c);
    if (st != FR_OK) return st;
    if (m->n_outputs < 1) return fr_error(FR_E_MODEL, "%s: the graph has no output", net->source);
    net->output = map_find(&c->names, m->outputs[0].name);
    if (net->output < 0 || net->values[net->output].is_const || net->output == net->input)
        return fr_error(FR_E_UNSUPPORTED, "%s: output '%s' is not computed from the input",
                        net->source, m->outputs[0].name);
    /* every activation its own range of the block */
    size_t total = 0;
    for (int i = 0; i < net->n_values; i++) {
        value *v = &net->values[i];
        v->floats = NULL; /* constants die with the model; ops own what they use */
        v->ints = NULL;
        if (v->is_const) continue;
        v->offset = total;
        total += (v->count + 15) / 16 * 16; /* 64-byte aligned */
        if (total > MAX_BLOCK_FLOATS)
            return fr_error(FR_E_LIMIT, "%s: the network needs more than %zu floats of "
                            "activations", net->source, (size_t)MAX_BLOCK_FLOATS);
    }
    net->block_floats = total;
    return FR_OK;
}

static void free_ops(onnx_net *net) {
    for (int i = 0; i < net->n_ops; i++) {
        net_op *op = &net->ops[i];
        free(op->weight);
        free(op->bias);
        free(op->slope);
        free(op->scale);
        free(op->shift);
    }
}

static fr_status load_model(onnx_model *m, onnx_net **out) {
    *out = NULL;
    onnx_net *net = calloc(1, sizeof *net);
    if (!net || (net->source = strdup(m->source)) == NULL) {
        free(net);
        onnx_free(m);
        return fr_error(FR_E_NOMEM, "%s: out of memory loading the network", m->source);
    }
    load_ctx c = {.m = m, .net = net};
    fr_status st = build(&c);
    for (int i = 0; i < c.n_owned; i++) free(c.owned[i]);
    free(c.owned);
    free(c.names.keys);
    free(c.names.vals);
    free(c.readers.keys);
    free(c.readers.vals);
    onnx_free(m);
    if (st != FR_OK) {
        onnx_net_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

fr_status onnx_net_load(const char *path, onnx_net **out) {
    *out = NULL;
    onnx_model *m;
    fr_status st = onnx_load(path, &m);
    return st != FR_OK ? st : load_model(m, out);
}

fr_status onnx_net_load_buffer(const uint8_t *data, size_t size, const char *name,
                               onnx_net **out) {
    *out = NULL;
    onnx_model *m;
    fr_status st = onnx_parse(data, size, name, &m);
    return st != FR_OK ? st : load_model(m, out);
}

void onnx_net_free(onnx_net *net) {
    if (!net) return;
    free_ops(net);
    free(net->ops);
    free(net->values);
    free(net->source);
    free(net);
}

static void shape_of(const value *v, int *rank, int shape[NN_MAX_RANK]) {
    *rank = v->rank;
    for (int d = 0; d < v->rank; d++) shape[d] = v->shape[d];
}

void onnx_net_input_shape(const onnx_net *net, int *rank, int shape[NN_MAX_RANK]) {
    shape_of(&net->values[net->input], rank, shape);
}

void onnx_net_output_shape(const onnx_net *net, int *rank, int shape[NN_MAX_RANK]) {
    shape_of(&net->values[net->output], rank, shape);
}

size_t onnx_net_arena_floats(const onnx_net *net) {
    return net->block_floats + net->scratch_floats + 64;
}

int onnx_net_n_ops(const onnx_net *net) { return net->n_ops; }

const char *onnx_net_op_name(const onnx_net *net, int i) {
    return i >= 0 && i < net->n_ops ? net->ops[i].name : "";
}

/* ---- running ---- */

/* A value of v's ONNX shape copied between our layout (NHWC for rank 4) and ONNX's (NCHW):
 * into ONNX's order when to_onnx, else back. Other ranks are the same in both. */
static void reorder(const value *v, const float *in, float *out, int to_onnx) {
    if (v->rank != 4) {
        memcpy(out, in, v->count * sizeof *out);
        return;
    }
    int N = v->shape[0], C = v->shape[1], H = v->shape[2], W = v->shape[3];
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int ch = 0; ch < C; ch++) {
                    size_t ours = (((size_t)n * H + y) * W + x) * C + ch;
                    size_t onnx = (((size_t)n * C + ch) * H + y) * W + x;
                    if (to_onnx) out[onnx] = in[ours];
                    else out[ours] = in[onnx];
                }
}

static void run_op(const onnx_net *net, int threads, const net_op *op, float *block,
                   float *scratch, nn_arena *arena) {
    const value *x = &net->values[op->in[0]], *y = &net->values[op->out];
    const float *in = block + x->offset;
    float *out = block + y->offset;
    int oh, ow, C;
    switch (op->kind) {
    case OP_CONV:
        nn_conv2d(threads, &op->cv, in, x->shape[0], x->shape[2], x->shape[3], out, &oh, &ow, arena);
        break;
    case OP_DEPTHWISE:
        nn_depthwise_conv2d(threads, &op->cv, in, x->shape[0], x->shape[2], x->shape[3], out, &oh, &ow);
        break;
    case OP_DENSE:
        nn_dense(threads, in, x->shape[0], op->dense_k, op->weight, op->bias, op->dense_m, out);
        if (op->act.kind != NN_ACT_NONE)
            nn_activate(threads, out, (size_t)x->shape[0], op->dense_m, op->act);
        break;
    case OP_ACTIVATION:
        /* channels are the last axis of our layout for ranks 2 and 4 (checked at load for
         * PRelu); a Relu of another rank is per value */
        C = x->rank == 2 || x->rank == 4 ? x->shape[1] : 1;
        memcpy(out, in, x->count * sizeof *out);
        nn_activate(threads, out, x->count / (size_t)C, C, op->act);
        break;
    case OP_SIGMOID:
        memcpy(out, in, x->count * sizeof *out);
        nn_sigmoid(threads, out, x->count);
        break;
    case OP_SCALE_SHIFT:
        C = x->shape[1];
        memcpy(out, in, x->count * sizeof *out);
        nn_scale_shift(threads, out, x->count / (size_t)C, C, op->scale, op->shift);
        break;
    case OP_BINARY:
        if (op->binary == NN_BINARY_ADD && y->count == x->count &&
            y->count == net->values[op->in[1]].count) /* no broadcasting: the plain loop */
            nn_add(threads, in, block + net->values[op->in[1]].offset, out, y->count);
        else
            nn_binary(threads, op->binary, in, op->a_shape, block + net->values[op->in[1]].offset,
                      op->b_shape, op->o_shape, op->bin_rank, out);
        break;
    case OP_GLOBAL_AVG_POOL:
        nn_spatial_mean(threads, in, x->shape[0], x->shape[2], x->shape[3], x->shape[1], out);
        break;
    case OP_RESHAPE:
        if (x->rank != 4 && y->rank != 4) {
            memcpy(out, in, x->count * sizeof *out);
        } else {
            reorder(x, in, scratch, 1);
            reorder(y, scratch, out, 0);
        }
        break;
    case OP_SOFTMAX:
        C = x->shape[x->rank - 1];
        memcpy(out, in, x->count * sizeof *out);
        nn_softmax(threads, out, x->count / (size_t)C, C);
        break;
    }
}

fr_status onnx_net_run(const onnx_net *net, int threads, const float *in, float *out,
                       nn_arena *arena) {
    size_t mark = nn_arena_mark(arena);
    float *block = nn_arena_alloc(arena, net->block_floats);
    float *scratch = net->scratch_floats ? nn_arena_alloc(arena, net->scratch_floats) : NULL;
    if (!block || (net->scratch_floats && !scratch)) {
        nn_arena_reset(arena, mark);
        return fr_error(FR_E_NOMEM, "%s: out of memory running the network", net->source);
    }
    const value *x = &net->values[net->input], *y = &net->values[net->output];
    memcpy(block + x->offset, in, x->count * sizeof *in);
    for (int i = 0; i < net->n_ops; i++) run_op(net, threads, &net->ops[i], block, scratch, arena);
    memcpy(out, block + y->offset, y->count * sizeof *out);
    nn_arena_reset(arena, mark);
    return FR_OK;
}
