/* graph.c: the graph evaluator (see graph.h).
 *
 * Loading turns the TFLite operators into nodes, one per operator, then rewrites them:
 *   1. DEQUANTIZE of a float16 constant becomes a float32 constant (no node);
 *   2. PReLU patterns become one activation node (see fuse_prelu);
 *   3. an activation node whose input is produced by a convolution or fully connected node
 *      (or a RELU after a binary op) with no activation, and read by nothing else, moves
 *      into that node.
 * Nodes removed by 2 and 3 are dropped; the others keep the file's (topological) order.
 *
 * A session plans, for its input shapes, the shape of every tensor (plan_shapes) and the
 * place of every run-time tensor in one block of activation memory (plan_memory): tensors
 * whose lifetimes (from the node that writes them to the last node that reads them) overlap
 * get disjoint ranges; the others share. The block and the convolutions' im2col scratch come
 * from the session's arena.
 *
 * Re-planning for new input shapes allocates nothing once the session has seen shapes as
 * large: shapes are always re-derived (a few integers per tensor), but the memory plan is
 * kept while every tensor still fits the room it was given (a tensor of the new shapes is
 * the prefix of its old range, and ranges of tensors alive together stay disjoint), and
 * when it must be redone the block is only replaced if it grows. A network's sessions are
 * kept in a pool in the graph (nn_graph_session_take / give), so its calls reuse planned,
 * warm sessions. */
#include "nn/graph.h"

#include "common/common.h"
#include "nn/import/tflite.h"
#include "nn/weights.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONCAT_INPUTS 64
/* A plan needing more activation memory than this is refused (FR_E_LIMIT). */
#define MAX_ACTIVATION_FLOATS ((size_t)1 << 30) /* 4 GB */

typedef enum node_kind {
    NODE_CONV,
    NODE_DEPTHWISE,
    NODE_FULLY_CONNECTED,
    NODE_BINARY,
    NODE_UNARY,
    NODE_ACTIVATION, /* RELU, RELU6, PRELU (fused patterns included) */
    NODE_LOGISTIC,
    NODE_SOFTMAX,
    NODE_REDUCE,
    NODE_MAX_POOL,
    NODE_AVG_POOL,
    NODE_RESHAPE,
    NODE_CONCAT,
    NODE_PAD,
    NODE_RESIZE_BILINEAR
} node_kind;

typedef struct gtensor {
    char *name;
    int rank;
    int shape[NN_MAX_RANK]; /* as stored in the file */
    int is_const;
    /* float and int32 constants, in the graph's constants arena; while loading, a float
     * constant that only feeds the conversion of convolution or fully connected weights
     * points into the file instead (weights_only), and is NULL once loaded */
    const float *data;
    const int32_t *ints;
    int weights_only;
    size_t count;   /* elements of a constant */
    int consumers;  /* nodes reading it, plus one if it is a graph output */
} gtensor;

typedef struct gnode {
    node_kind kind;
    char name[48]; /* as reported: "CONV_2D+PRELU" */
    int op_index;  /* the TFLite operator it came from, for messages */
    int removed;
    int n_inputs;
    int *inputs; /* run-time inputs (constants folded into the fields below are not listed) */
    int output;
    nn_act act;          /* fused activation (and the activation of NODE_ACTIVATION) */
    /* NODE_CONV, NODE_DEPTHWISE, NODE_FULLY_CONNECTED (kh = kw = 1, cin, cout), pools */
    nn_conv cv;
    int keep_dims;
    nn_binary_op binary;
    nn_unary_op unary;
    nn_reduce_op reduce;
    const int32_t *axes; /* reducers */
    int n_axes;
    int target[NN_MAX_RANK]; /* reshape */
    int target_rank;
    int axis;            /* concatenation */
    const int32_t *pads; /* (rank, 2) */
    int pads_rank;
    int out_h, out_w, align_corners, half_pixel_centers; /* resize */
    /* the file's constants behind cv.weight, cv.bias and act.slope (-1: none), for training;
     * act.slope is slope_factor times the slope constant */
    int weight_tensor, bias_tensor, slope_tensor;
    float slope_factor;
} gnode;

/* The sessions a graph keeps between calls (the graph itself stays immutable). */
typedef struct session_pool {
    pthread_mutex_t lock;
    nn_graph_session *kept; /* most recently given back first */
    int n_kept;
} session_pool;

struct nn_graph {
    char *source;
    int n_tensors, n_nodes, n_inputs, n_outputs;
    /* every constant the graph runs with (the file's, converted weights, PReLU slopes): a
     * few large blocks rather than a malloc each, freed at once */
    nn_arena *constants;
    gtensor *tensors;
    gnode *nodes; /* live nodes only, in execution order */
    int *inputs, *outputs;
    session_pool *pool;
};

typedef struct lifetime {
    int tensor;
    int first, last; /* node indices; -1 for graph inputs, n_nodes for graph outputs */
    size_t size;     /* floats, rounded up to 16 (64 bytes) */
} lifetime;

struct nn_graph_session {
    const nn_graph *g;
    int keep_all;
    int planned;
    int (*shapes)[NN_MAX_RANK]; /* per tensor */
    int *ranks;
    size_t *offsets;  /* floats from block start, per run-time tensor */
    size_t *room;     /* floats the memory plan gives each run-time tensor at its offset */
    int memory_planned; /* offsets and room hold a plan (for these or larger shapes) */
    float *block;
    size_t block_floats;
    nn_arena *arena;
    lifetime *lifetimes; /* planning scratch, (n_tensors + 1) each */
    int *index_of;
    nn_graph_session *next_kept; /* in the graph's pool */
};

static size_t shape_count(int rank, const int *shape) {
    size_t n = 1;
    for (int d = 0; d < rank; d++) n *= (size_t)shape[d];
    return n;
}

/* "[2,112,112,3]" */
static const char *shape_text(int rank, const int *shape, char *buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < rank && len < size; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%d", d ? "," : "", shape[d]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

/* ---- loading: constants ---- */

typedef struct load_ctx {
    const tflite_model *m;
    nn_graph *g;
    const nn_weights *replace; /* constants to load instead of the file's (may be NULL) */
    int n_replaced;
} load_ctx;

static fr_status nomem(const load_ctx *c) {
    return fr_error(FR_E_NOMEM, "%s: out of memory loading the graph", c->g->source);
}

static float *constant_floats(load_ctx *c, size_t n) {
    return nn_arena_alloc(c->g->constants, n ? n : 1);
}

/* The values of float constant t from c->replace when it holds one of that name (checked
 * against its size), in memory of their own (t's may be the file's or shared). */
static fr_status replace_constant(load_ctx *c, gtensor *t) {
    const nn_tensor_entry *e = c->replace ? nn_weights_find(c->replace, t->name) : NULL;
    if (!e) return FR_OK;
    if (!t->data || e->count != t->count)
        return fr_error(FR_E_MODEL, "%s: '%s' has %zu values, the graph's constant %zu",
                        c->replace->source, t->name, e->count, t->data ? t->count : 0);
    float *values = constant_floats(c, t->count);
    if (!values) return nomem(c);
    memcpy(values, e->data, t->count * sizeof *values);
    t->data = values;
    t->weights_only = 0;
    c->n_replaced++;
    return FR_OK;
}

/* Read the constant bytes of tensor t (FLOAT32, FLOAT16 or INT32) into its data or ints. The
 * file is little-endian, like every host this builds for. A constant that only feeds weights
 * converted at load (dst->weights_only, see mark_weights_only) is read where it lies in the
 * file: it is converted, never kept. */
static fr_status load_constant(load_ctx *c, int t) {
    const tflite_tensor *src = &c->m->tensors[t];
    gtensor *dst = &c->g->tensors[t];
    size_t n = shape_count(src->ndim, src->shape);
    dst->is_const = 1;
    dst->count = n;
    if (src->type == TFLITE_INT32) {
        int32_t *ints = nn_arena_alloc_items(c->g->constants, n ? n : 1, sizeof *ints);
        if (!ints) return nomem(c);
        memcpy(ints, src->data, n * sizeof *ints);
        dst->ints = ints;
        return FR_OK;
    }
    if (dst->weights_only) {
        dst->data = (const float *)(const void *)src->data;
    } else if (src->type == TFLITE_FLOAT32 || src->type == TFLITE_FLOAT16) {
        float *data = constant_floats(c, n);
        if (!data) return nomem(c);
        if (src->type == TFLITE_FLOAT32)
            memcpy(data, src->data, n * sizeof *data);
        else
            for (size_t i = 0; i < n; i++)
                data[i] = nn_half_to_float((uint16_t)(src->data[2 * i] | src->data[2 * i + 1] << 8));
        dst->data = data;
    } else {
        return fr_error(FR_E_UNSUPPORTED, "%s: constant tensor '%s' has type %s (FLOAT32, "
                        "FLOAT16 and INT32 are supported)", c->g->source, src->name,
                        tflite_type_name(src->type));
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst->data[i]))
            return fr_error(FR_E_MODEL, "%s: constant tensor '%s' holds a non-finite value (%g at "
                            "%zu)", c->g->source, src->name, (double)dst->data[i], i);
    return replace_constant(c, dst);
}

/* ---- loading: operators into nodes ---- */

static fr_status op_error(const load_ctx *c, int op, const char *fmt, const char *detail) {
    char what[160];
    snprintf(what, sizeof what, fmt, detail);
    return fr_error(FR_E_UNSUPPORTED, "%s: operator %d (%s): %s", c->g->source, op,
                    tflite_op_name(c->m->operators[op].builtin_code), what);
}

static fr_status fused_activation(const load_ctx *c, int op, int tflite_act, nn_act *act) {
    switch (tflite_act) {
    case TFLITE_ACT_NONE: *act = (nn_act){.kind = NN_ACT_NONE}; return FR_OK;
    case TFLITE_ACT_RELU: *act = (nn_act){.kind = NN_ACT_RELU}; return FR_OK;
    case TFLITE_ACT_RELU6: *act = (nn_act){.kind = NN_ACT_RELU6}; return FR_OK;
    default: return op_error(c, op, "fused activation %s is not supported",
                             tflite_act == TFLITE_ACT_RELU_N1_TO_1 ? "RELU_N1_TO_1" : "TANH/SIGN_BIT");
    }
}

/* Input k of operator op, which must exist and be a constant of `count` elements (0: any). */
static fr_status const_input(const load_ctx *c, int op, int k, size_t count, gtensor **out) {
    const tflite_operator *o = &c->m->operators[op];
    int t = k < o->n_inputs ? o->inputs[k] : -1;
    if (t < 0 || !c->g->tensors[t].is_const)
        return op_error(c, op, "input %s must be a constant", k == 1 ? "1" : k == 2 ? "2" : "0");
    gtensor *g = &c->g->tensors[t];
    if (count && g->count != count) {
        char buf[96];
        snprintf(buf, sizeof buf, "constant '%.40s' has the wrong size", g->name);
        return op_error(c, op, "%s", buf);
    }
    *out = g;
    return FR_OK;
}

static fr_status set_padding(const load_ctx *c, int op, const tflite_options *o, nn_conv *cv) {
    if (o->stride_w < 1 || o->stride_h < 1) return op_error(c, op, "%s", "stride below 1");
    if (o->dilation_w != 1 || o->dilation_h != 1)
        return op_error(c, op, "%s", "dilated convolutions are not supported");
    if (o->padding != TFLITE_PAD_SAME && o->padding != TFLITE_PAD_VALID)
        return op_error(c, op, "%s", "unknown padding");
    cv->stride_w = o->stride_w;
    cv->stride_h = o->stride_h;
    cv->pad.mode = o->padding == TFLITE_PAD_SAME ? NN_PAD_SAME : NN_PAD_VALID;
    return FR_OK;
}

/* src (rows,cols) -> dst (cols,rows), in tiles that stay in the cache on both sides */
static void transpose(const float *src, int rows, size_t cols, float *dst) {
    enum { TILE = 32 };
    for (int r0 = 0; r0 < rows; r0 += TILE)
        for (size_t c0 = 0; c0 < cols; c0 += TILE) {
            int r1 = FR_MIN(r0 + TILE, rows);
            size_t c1 = FR_MIN(c0 + TILE, cols);
            for (size_t k = c0; k < c1; k++)
                for (int r = r0; r < r1; r++) dst[k * rows + r] = src[(size_t)r * cols + k];
        }
}

/* CONV_2D: weights (Cout,KH,KW,Cin) -> (KH,KW,Cin,Cout); DEPTHWISE_CONV_2D: (1,KH,KW,C) is
 * already (KH,KW,C); FULLY_CONNECTED: (Cout,Cin) -> (Cin,Cout). */
static fr_status build_weighted(load_ctx *c, int op, gnode *n) {
    const tflite_operator *o = &c->m->operators[op];
    gtensor *w, *bias = NULL;
    fr_status st = const_input(c, op, 1, 0, &w);
    if (st != FR_OK) return st;
    if (!w->data) return op_error(c, op, "%s", "the weights are not float");
    int rank_expected = n->kind == NODE_FULLY_CONNECTED ? 2 : 4;
    if (w->rank != rank_expected) return op_error(c, op, "%s", "the weights have the wrong rank");
    int cout = n->kind == NODE_DEPTHWISE ? w->shape[3] : w->shape[0];
    if (o->n_inputs > 2 && o->inputs[2] >= 0) {
        if ((st = const_input(c, op, 2, (size_t)cout, &bias)) != FR_OK) return st;
        if (!bias->data) return op_error(c, op, "%s", "the bias is not float");
    }
    if ((st = fused_activation(c, op, o->options.activation, &n->act)) != FR_OK) return st;
    nn_conv *cv = &n->cv;
    cv->bias = bias ? bias->data : NULL;
    n->weight_tensor = o->inputs[1];
    n->bias_tensor = bias ? o->inputs[2] : -1;
    if (n->kind == NODE_FULLY_CONNECTED) {
        if (o->options.weights_format != 0)
            return op_error(c, op, "%s", "shuffled weights are not supported");
        int cin = w->shape[1];
        *cv = (nn_conv){.kh = 1, .kw = 1, .cin = cin, .cout = cout, .bias = cv->bias};
        n->keep_dims = o->options.keep_dims;
        float *weight = constant_floats(c, (size_t)cin * cout);
        if (!weight) return nomem(c);
        transpose(w->data, cout, (size_t)cin, weight);
        cv->weight = weight;
        return FR_OK;
    }
    if ((st = set_padding(c, op, &o->options, cv)) != FR_OK) return st;
    cv->kh = w->shape[1];
    cv->kw = w->shape[2];
    if (n->kind == NODE_DEPTHWISE) {
        if (w->shape[0] != 1) return op_error(c, op, "%s", "depthwise weights must be (1,KH,KW,C)");
        /* the channel multiplier is checked against the input channels when planning */
        cv->cin = cv->cout = cout;
        cv->weight = w->data;
        return FR_OK;
    }
    int kh = cv->kh, kw = cv->kw, cin = w->shape[3];
    cv->cin = cin;
    cv->cout = cout;
    size_t per_out = (size_t)kh * kw * cin;
    float *weight = constant_floats(c, per_out * cout);
    if (!weight) return nomem(c);
    transpose(w->data, cout, per_out, weight);
    cv->weight = weight;
    return FR_OK;
}

/* The run-time inputs of a node: the operator's inputs that are not constants. */
static fr_status set_inputs(load_ctx *c, int op, gnode *n, int first, int count) {
    const tflite_operator *o = &c->m->operators[op];
    n->inputs = malloc((size_t)(count > 0 ? count : 1) * sizeof *n->inputs);
    if (!n->inputs) return nomem(c);
    n->n_inputs = count;
    for (int k = 0; k < count; k++) {
        int t = first + k < o->n_inputs ? o->inputs[first + k] : -1;
        if (t < 0) return op_error(c, op, "%s", "an input is missing");
        n->inputs[k] = t;
    }
    return FR_OK;
}

static fr_status build_node(load_ctx *c, int op, gnode *n) {
    const tflite_operator *o = &c->m->operators[op];
    const tflite_options *opt = &o->options;
    nn_graph *g = c->g;
    fr_status st = FR_OK;
    gtensor *k;
    n->op_index = op;
    n->weight_tensor = n->bias_tensor = n->slope_tensor = -1;
    snprintf(n->name, sizeof n->name, "%s", tflite_op_name(o->builtin_code));
    if (o->n_outputs != 1 || o->outputs[0] < 0)
        return op_error(c, op, "%s", "operators must have one output");
    n->output = o->outputs[0];
    int n_binary_inputs = 2;
    switch (o->builtin_code) {
    case TFLITE_OP_CONV_2D: n->kind = NODE_CONV; break;
    case TFLITE_OP_DEPTHWISE_CONV_2D: n->kind = NODE_DEPTHWISE; break;
    case TFLITE_OP_FULLY_CONNECTED: n->kind = NODE_FULLY_CONNECTED; break;
    case TFLITE_OP_ADD: n->kind = NODE_BINARY, n->binary = NN_BINARY_ADD; break;
    case TFLITE_OP_SUB: n->kind = NODE_BINARY, n->binary = NN_BINARY_SUB; break;
    case TFLITE_OP_MUL: n->kind = NODE_BINARY, n->binary = NN_BINARY_MUL; break;
    case TFLITE_OP_DIV: n->kind = NODE_BINARY, n->binary = NN_BINARY_DIV; break;
    case TFLITE_OP_ABS: n->kind = NODE_UNARY, n->unary = NN_UNARY_ABS; break;
    case TFLITE_OP_NEG: n->kind = NODE_UNARY, n->unary = NN_UNARY_NEG; break;
    case TFLITE_OP_EXP: n->kind = NODE_UNARY, n->unary = NN_UNARY_EXP; break;
    case TFLITE_OP_RELU: n->kind = NODE_ACTIVATION, n->act.kind = NN_ACT_RELU; break;
    case TFLITE_OP_RELU6: n->kind = NODE_ACTIVATION, n->act.kind = NN_ACT_RELU6; break;
    case TFLITE_OP_PRELU: n->kind = NODE_ACTIVATION, n->act.kind = NN_ACT_PRELU; break;
    case TFLITE_OP_LOGISTIC: n->kind = NODE_LOGISTIC; break;
    case TFLITE_OP_SOFTMAX: n->kind = NODE_SOFTMAX; break;
    case TFLITE_OP_SUM: n->kind = NODE_REDUCE, n->reduce = NN_REDUCE_SUM; break;
    case TFLITE_OP_REDUCE_MAX: n->kind = NODE_REDUCE, n->reduce = NN_REDUCE_MAX; break;
    case TFLITE_OP_MEAN: n->kind = NODE_REDUCE, n->reduce = NN_REDUCE_MEAN; break;
    case TFLITE_OP_MAX_POOL_2D: n->kind = NODE_MAX_POOL; break;
    case TFLITE_OP_AVERAGE_POOL_2D: n->kind = NODE_AVG_POOL; break;
    case TFLITE_OP_RESHAPE: n->kind = NODE_RESHAPE; break;
    case TFLITE_OP_CONCATENATION: n->kind = NODE_CONCAT; break;
    case TFLITE_OP_PAD: n->kind = NODE_PAD; break;
    case TFLITE_OP_RESIZE_BILINEAR: n->kind = NODE_RESIZE_BILINEAR; break;
    default:
        return fr_error(FR_E_UNSUPPORTED, "%s: operator %d: %s is not supported by the graph "
                        "evaluator", g->source, op, tflite_op_name(o->builtin_code));
    }
    switch (n->kind) {
    case NODE_CONV:
    case NODE_DEPTHWISE:
    case NODE_FULLY_CONNECTED:
        if ((st = build_weighted(c, op, n)) != FR_OK) return st;
        return set_inputs(c, op, n, 0, 1);
    case NODE_BINARY:
        if ((st = fused_activation(c, op, opt->activation, &n->act)) != FR_OK) return st;
        return set_inputs(c, op, n, 0, n_binary_inputs);
    case NODE_ACTIVATION:
        if (n->act.kind == NN_ACT_PRELU) {
            /* TFLite's PRELU: a constant alpha broadcast along the channels only */
            if ((st = const_input(c, op, 1, 0, &k)) != FR_OK) return st;
            if (!k->data) return op_error(c, op, "%s", "alpha is not float");
            n->act.slope = k->data;
            n->cv.cout = (int)k->count; /* checked against the channels when planning */
        }
        return set_inputs(c, op, n, 0, 1);
    case NODE_SOFTMAX:
        if (opt->beta != 1.0f) return op_error(c, op, "%s", "beta other than 1");
        return set_inputs(c, op, n, 0, 1);
    case NODE_REDUCE:
        if ((st = const_input(c, op, 1, 0, &k)) != FR_OK) return st;
        if (!k->ints) return op_error(c, op, "%s", "the axes are not int32");
        n->axes = k->ints;
        n->n_axes = (int)k->count;
        n->keep_dims = opt->keep_dims;
        return set_inputs(c, op, n, 0, 1);
    case NODE_MAX_POOL:
    case NODE_AVG_POOL:
        if ((st = set_padding(c, op, opt, &n->cv)) != FR_OK) return st;
        if (opt->filter_w < 1 || opt->filter_h < 1)
            return op_error(c, op, "%s", "filter size below 1");
        n->cv.kh = opt->filter_h;
        n->cv.kw = opt->filter_w;
        if ((st = fused_activation(c, op, opt->activation, &n->act)) != FR_OK) return st;
        return set_inputs(c, op, n, 0, 1);
    case NODE_RESHAPE:
        if (o->n_inputs > 1 && o->inputs[1] >= 0) {
            if ((st = const_input(c, op, 1, 0, &k)) != FR_OK) return st;
            if (!k->ints || k->count > NN_MAX_RANK)
                return op_error(c, op, "%s", "the new shape is not an int32 vector of rank <= 6");
            n->target_rank = (int)k->count;
            memcpy(n->target, k->ints, k->count * sizeof *k->ints);
        } else if (opt->n_new_shape >= 0) {
            n->target_rank = opt->n_new_shape;
            memcpy(n->target, opt->new_shape, sizeof n->target);
        } else {
            return op_error(c, op, "%s", "no new shape");
        }
        return set_inputs(c, op, n, 0, 1);
    case NODE_CONCAT:
        if ((st = fused_activation(c, op, opt->activation, &n->act)) != FR_OK) return st;
        if (o->n_inputs < 1 || o->n_inputs > MAX_CONCAT_INPUTS)
            return op_error(c, op, "%s", "between 1 and 64 inputs are supported");
        n->axis = opt->axis;
        return set_inputs(c, op, n, 0, o->n_inputs);
    case NODE_PAD:
        if ((st = const_input(c, op, 1, 0, &k)) != FR_OK) return st;
        if (!k->ints || k->rank != 2 || k->shape[1] != 2 || k->shape[0] > NN_MAX_RANK)
            return op_error(c, op, "%s", "paddings must be an int32 (rank, 2) constant");
        n->pads = k->ints;
        n->pads_rank = k->shape[0];
        return set_inputs(c, op, n, 0, 1);
    case NODE_RESIZE_BILINEAR:
        if ((st = const_input(c, op, 1, 2, &k)) != FR_OK) return st;
        if (!k->ints || k->ints[0] < 1 || k->ints[1] < 1)
            return op_error(c, op, "%s", "the size must be two positive int32");
        n->out_h = k->ints[0];
        n->out_w = k->ints[1];
        n->align_corners = opt->align_corners;
        n->half_pixel_centers = opt->half_pixel_centers;
        return set_inputs(c, op, n, 0, 1);
    case NODE_UNARY:
    case NODE_LOGISTIC: return set_inputs(c, op, n, 0, 1);
    }
    return st;
}

/* ---- loading: fusion ---- */

/* The live node writing tensor t, or -1. */
static int producer(const nn_graph *g, int t) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].removed && g->nodes[i].output == t) return i;
    return -1;
}

/* Node i if it is a live node of kind `kind` (and, for NODE_BINARY / NODE_UNARY /
 * NODE_ACTIVATION, of that op, given as `op`) with no fused activation, whose output is
 * read once; else -1. */
static int single_use(const nn_graph *g, int i, node_kind kind, int op) {
    if (i < 0) return -1;
    const gnode *n = &g->nodes[i];
    if (n->removed || n->kind != kind || g->tensors[n->output].consumers != 1) return -1;
    if (kind == NODE_BINARY && ((int)n->binary != op || n->act.kind != NN_ACT_NONE)) return -1;
    if (kind == NODE_UNARY && (int)n->unary != op) return -1;
    if (kind == NODE_ACTIVATION && (int)n->act.kind != op) return -1;
    return i;
}

/* PReLU as two exporters spell it, for an ADD node `a` (in either input order):
 *   relu(x) + c * (x - abs(x))        slope 2c   (TF-slim; x - |x| is 2x below zero)
 *   relu(x) + c * -relu(-x)           slope c    (MTCNN)
 * with c a constant holding one value per channel of x. Both are exactly x * slope below
 * zero and x above, as NN_ACT_PRELU computes them. Returns 1 if `a` was rewritten. */
static int fuse_prelu_at(nn_graph *g, int a) {
    gnode *add = &g->nodes[a];
    if (add->kind != NODE_BINARY || add->binary != NN_BINARY_ADD || add->act.kind != NN_ACT_NONE)
        return 0;
    for (int order = 0; order < 2; order++) {
        int r = single_use(g, producer(g, add->inputs[order]), NODE_ACTIVATION, NN_ACT_RELU);
        int m = single_use(g, producer(g, add->inputs[1 - order]), NODE_BINARY, NN_BINARY_MUL);
        if (r < 0 || m < 0) continue;
        int x = g->nodes[r].inputs[0];
        const gnode *mul = &g->nodes[m];
        for (int side = 0; side < 2; side++) {
            const gtensor *c = &g->tensors[mul->inputs[side]];
            int channels = g->tensors[x].rank ? g->tensors[x].shape[g->tensors[x].rank - 1] : 0;
            if (!c->is_const || !c->data || c->count != (size_t)channels || channels == 0)
                continue;
            int y = producer(g, mul->inputs[1 - side]);
            int removed[4] = {r, m, -1, -1};
            float factor = 0.0f;
            int sub = single_use(g, y, NODE_BINARY, NN_BINARY_SUB);
            int neg = single_use(g, y, NODE_UNARY, NN_UNARY_NEG);
            if (sub >= 0 && g->nodes[sub].inputs[0] == x) {
                int ab = single_use(g, producer(g, g->nodes[sub].inputs[1]), NODE_UNARY,
                                    NN_UNARY_ABS);
                if (ab >= 0 && g->nodes[ab].inputs[0] == x) {
                    factor = 2.0f;
                    removed[2] = sub;
                    removed[3] = ab;
                }
            } else if (neg >= 0) {
                int relu2 = single_use(g, producer(g, g->nodes[neg].inputs[0]), NODE_ACTIVATION,
                                       NN_ACT_RELU);
                int neg2 = relu2 < 0 ? -1
                                     : single_use(g, producer(g, g->nodes[relu2].inputs[0]),
                                                  NODE_UNARY, NN_UNARY_NEG);
                if (neg2 >= 0 && g->nodes[neg2].inputs[0] == x) {
                    factor = 1.0f;
                    removed[2] = neg;
                    /* the inner RELU and NEG: mark here, they are not in the 4 slots */
                    g->nodes[relu2].removed = g->nodes[neg2].removed = 1;
                }
            }
            if (factor == 0.0f) continue;
            float *slope = nn_arena_alloc(g->constants, (size_t)channels);
            if (!slope) return -1;
            for (int ch = 0; ch < channels; ch++) slope[ch] = factor * c->data[ch];
            for (int k = 0; k < 4; k++)
                if (removed[k] >= 0) g->nodes[removed[k]].removed = 1;
            add->kind = NODE_ACTIVATION;
            add->act = (nn_act){.kind = NN_ACT_PRELU, .slope = slope};
            add->slope_tensor = mul->inputs[side];
            add->slope_factor = factor;
            add->cv.cout = channels;
            add->inputs[0] = x;
            add->n_inputs = 1;
            snprintf(add->name, sizeof add->name, "PRELU");
            return 1;
        }
    }
    return 0;
}

/* An activation node whose input comes from a convolution or fully connected node (or, for
 * RELU and RELU6, a binary op) with no activation, read by nothing else, moves into it. */
static void fuse_activation_at(nn_graph *g, int a) {
    gnode *act = &g->nodes[a];
    if (act->removed || act->kind != NODE_ACTIVATION) return;
    int p = producer(g, act->inputs[0]);
    if (p < 0) return;
    gnode *prod = &g->nodes[p];
    int weighted = prod->kind == NODE_CONV || prod->kind == NODE_DEPTHWISE ||
                   prod->kind == NODE_FULLY_CONNECTED;
    /* a binary op's fused activation is per element: ReLUs only */
    int binary = prod->kind == NODE_BINARY && act->act.kind != NN_ACT_PRELU;
    if ((!weighted && !binary) || prod->act.kind != NN_ACT_NONE ||
        g->tensors[prod->output].consumers != 1)
        return;
    if (act->act.kind == NN_ACT_PRELU && act->cv.cout != prod->cv.cout) return;
    prod->act = act->act;
    prod->slope_tensor = act->slope_tensor;
    prod->slope_factor = act->slope_factor;
    prod->output = act->output;
    /* names are short ("DEPTHWISE_CONV_2D+PRELU"); a longer one is cut at the buffer */
    char name[2 * sizeof prod->name + 1];
    snprintf(name, sizeof name, "%s+%s", prod->name, act->name);
    snprintf(prod->name, sizeof prod->name, "%.47s", name);
    act->removed = 1;
}

static void count_consumers(nn_graph *g) {
    for (int t = 0; t < g->n_tensors; t++) g->tensors[t].consumers = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].removed)
            for (int k = 0; k < g->nodes[i].n_inputs; k++) g->tensors[g->nodes[i].inputs[k]].consumers++;
    for (int k = 0; k < g->n_outputs; k++) g->tensors[g->outputs[k]].consumers++;
}

static void free_node(gnode *n) { free(n->inputs); }

static fr_status fuse(load_ctx *c) {
    nn_graph *g = c->g;
    count_consumers(g);
    for (int i = 0; i < g->n_nodes; i++) {
        int r = g->nodes[i].removed ? 0 : fuse_prelu_at(g, i);
        if (r < 0) return nomem(c);
        if (r) count_consumers(g);
    }
    for (int i = 0; i < g->n_nodes; i++) fuse_activation_at(g, i);
    count_consumers(g);
    /* compact the live nodes, keeping their order */
    int live = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].removed) {
            free_node(&g->nodes[i]);
            continue;
        }
        g->nodes[live++] = g->nodes[i];
    }
    g->n_nodes = live;
    return FR_OK;
}

/* Every run-time tensor must be float32, written by one node (or be a graph input) before it
 * is read. */
static fr_status check_dataflow(load_ctx *c) {
    nn_graph *g = c->g;
    char *written = calloc((size_t)g->n_tensors + 1, 1);
    if (!written) return nomem(c);
    fr_status st = FR_OK;
    for (int k = 0; k < g->n_inputs; k++) written[g->inputs[k]] = 1;
    for (int i = 0; i < g->n_nodes && st == FR_OK; i++) {
        const gnode *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs && st == FR_OK; k++) {
            int t = n->inputs[k];
            if (!written[t] && !g->tensors[t].is_const)
                st = fr_error(FR_E_MODEL, "%s: operator %d (%s) reads tensor '%s' before any "
                              "operator writes it", g->source, n->op_index, n->name,
                              g->tensors[t].name);
            else if (g->tensors[t].is_const && !g->tensors[t].data)
                st = fr_error(FR_E_UNSUPPORTED, "%s: operator %d (%s) reads the non-float "
                              "constant '%s'", g->source, n->op_index, n->name, g->tensors[t].name);
        }
        if (st != FR_OK) break;
        int t = n->output;
        if (written[t] || g->tensors[t].is_const)
            st = fr_error(FR_E_MODEL, "%s: tensor '%s' is written twice", g->source,
                          g->tensors[t].name);
        else if (c->m->tensors[t].type != TFLITE_FLOAT32)
            st = fr_error(FR_E_UNSUPPORTED, "%s: tensor '%s' has type %s; only FLOAT32 is "
                          "supported at run time", g->source, g->tensors[t].name,
                          tflite_type_name(c->m->tensors[t].type));
        written[t] = 1;
    }
    for (int k = 0; k < g->n_outputs && st == FR_OK; k++)
        if (!written[g->outputs[k]] && !g->tensors[g->outputs[k]].is_const)
            st = fr_error(FR_E_MODEL, "%s: output '%s' is not computed by any operator",
                          g->source, g->tensors[g->outputs[k]].name);
    for (int k = 0; k < g->n_inputs && st == FR_OK; k++)
        if (c->m->tensors[g->inputs[k]].type != TFLITE_FLOAT32)
            st = fr_error(FR_E_UNSUPPORTED, "%s: input '%s' has type %s; only FLOAT32 is "
                          "supported", g->source, g->tensors[g->inputs[k]].name,
                          tflite_type_name(c->m->tensors[g->inputs[k]].type));
    free(written);
    return st;
}

/* A float32 constant that only feeds weights converted at load (the weights of CONV_2D and
 * FULLY_CONNECTED) need not be kept: mark those whose bytes in the file are aligned for
 * floats, to be read there. */
static void mark_weights_only(load_ctx *c) {
    const tflite_model *m = c->m;
    gtensor *ts = c->g->tensors;
    for (int t = 0; t < m->n_tensors; t++) ts[t].weights_only = -1; /* not read yet */
    for (int k = 0; k < m->n_inputs; k++) ts[m->inputs[k]].weights_only = 0;
    for (int k = 0; k < m->n_outputs; k++) ts[m->outputs[k]].weights_only = 0;
    for (int op = 0; op < m->n_operators; op++) {
        const tflite_operator *o = &m->operators[op];
        int converts = o->builtin_code == TFLITE_OP_CONV_2D ||
                       o->builtin_code == TFLITE_OP_FULLY_CONNECTED;
        for (int k = 0; k < o->n_inputs; k++) {
            int t = o->inputs[k];
            if (t >= 0) ts[t].weights_only = converts && k == 1 && ts[t].weights_only != 0;
        }
    }
    for (int t = 0; t < m->n_tensors; t++)
        ts[t].weights_only = ts[t].weights_only == 1 && m->tensors[t].type == TFLITE_FLOAT32 &&
                             m->tensors[t].data &&
                             (uintptr_t)m->tensors[t].data % _Alignof(float) == 0;
}

/* 64-byte rounding of an arena allocation of n floats */
static size_t arena_bytes(size_t n) { return (FR_MAX(n, (size_t)1) * sizeof(float) + 63) / 64 * 64; }

/* The constants arena's first block: room for the constants kept, the converted weights
 * and the PReLU slopes (made from MUL's constants), so that one block holds them. Counted
 * once per constant (a constant converted by several operators, which no real model has,
 * takes further blocks), so that the size stays a small multiple of the file's. 0 (blocks
 * as needed) when out of memory. */
static size_t constants_bytes(const load_ctx *c) {
    enum { CONVERTED = 1, SLOPE = 2 };
    const tflite_model *m = c->m;
    uint8_t *uses = calloc((size_t)m->n_tensors + 1, 1);
    if (!uses) return 0;
    for (int op = 0; op < m->n_operators; op++) {
        const tflite_operator *o = &m->operators[op];
        int converts = o->builtin_code == TFLITE_OP_CONV_2D ||
                       o->builtin_code == TFLITE_OP_FULLY_CONNECTED;
        for (int k = 0; k < o->n_inputs; k++)
            if (o->inputs[k] >= 0)
                uses[o->inputs[k]] |= (converts && k == 1 ? CONVERTED : 0) |
                                      (o->builtin_code == TFLITE_OP_MUL ? SLOPE : 0);
    }
    size_t bytes = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].data)
            bytes += arena_bytes(shape_count(m->tensors[t].ndim, m->tensors[t].shape)) *
                     (size_t)(!c->g->tensors[t].weights_only + !!(uses[t] & CONVERTED) +
                              !!(uses[t] & SLOPE));
    free(uses);
    for (int i = 0; c->replace && i < c->replace->count; i++)
        bytes += arena_bytes(c->replace->tensors[i].count);
    return bytes;
}

static fr_status build_graph(load_ctx *c) {
    const tflite_model *m = c->m;
    nn_graph *g = c->g;
    fr_status st;
    if (m->n_inputs < 1 || m->n_outputs < 1)
        return fr_error(FR_E_MODEL, "%s: the graph has no %s", g->source,
                        m->n_inputs < 1 ? "input" : "output");
    g->n_tensors = m->n_tensors;
    g->tensors = calloc((size_t)m->n_tensors + 1, sizeof *g->tensors);
    g->nodes = calloc((size_t)m->n_operators + 1, sizeof *g->nodes);
    g->inputs = malloc(((size_t)m->n_inputs + 1) * sizeof *g->inputs);
    g->outputs = malloc(((size_t)m->n_outputs + 1) * sizeof *g->outputs);
    if (!g->tensors || !g->nodes || !g->inputs || !g->outputs) return nomem(c);
    g->n_inputs = m->n_inputs;
    g->n_outputs = m->n_outputs;
    memcpy(g->inputs, m->inputs, (size_t)m->n_inputs * sizeof *g->inputs);
    memcpy(g->outputs, m->outputs, (size_t)m->n_outputs * sizeof *g->outputs);
    mark_weights_only(c);
    /* from 1 MB on, a block in 2 MB pages: faulting in a few of them costs less than
     * hundreds of 4 kB pages */
    size_t constants = constants_bytes(c);
    if (constants >= ((size_t)1 << 20)) constants = FR_MAX(constants, NN_ARENA_HUGE_BLOCK);
    if (!(g->constants = nn_arena_new(constants))) return nomem(c);
    for (int t = 0; t < m->n_tensors; t++) {
        const tflite_tensor *src = &m->tensors[t];
        gtensor *dst = &g->tensors[t];
        dst->name = strdup(src->name);
        if (!dst->name) return nomem(c);
        dst->rank = src->ndim;
        memcpy(dst->shape, src->shape, sizeof dst->shape);
        if (src->data && (st = load_constant(c, t)) != FR_OK) return st;
    }
    for (int op = 0; op < m->n_operators; op++) {
        const tflite_operator *o = &m->operators[op];
        if (o->builtin_code == TFLITE_OP_DEQUANTIZE) {
            /* float16 weights: the result is a constant */
            int in = o->n_inputs == 1 ? o->inputs[0] : -1;
            int out = o->n_outputs == 1 ? o->outputs[0] : -1;
            if (in < 0 || out < 0 || !g->tensors[in].is_const ||
                m->tensors[in].type != TFLITE_FLOAT16 || g->tensors[out].is_const)
                return op_error(c, op, "%s", "only float16 constants can be dequantized");
            gtensor *dst = &g->tensors[out];
            if (shape_count(dst->rank, dst->shape) != g->tensors[in].count)
                return op_error(c, op, "%s", "input and output sizes differ");
            dst->is_const = 1;
            dst->count = g->tensors[in].count;
            dst->data = g->tensors[in].data; /* the converted values, shared */
            if ((st = replace_constant(c, dst)) != FR_OK) return st;
            continue;
        }
        gnode *n = &g->nodes[g->n_nodes++];
        if ((st = build_node(c, op, n)) != FR_OK) return st;
    }
    if (c->replace && c->n_replaced != c->replace->count)
        return fr_error(FR_E_MODEL, "%s: %d of its %d tensors name no constant of %s",
                        c->replace->source, c->replace->count - c->n_replaced,
                        c->replace->count, g->source);
    /* the file is not kept: nothing may point into it */
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].weights_only) g->tensors[t].data = NULL;
    if ((st = fuse(c)) != FR_OK) return st;
    return check_dataflow(c);
}

/* Build the graph of a parsed model, which is freed here. */
static fr_status graph_from_model(tflite_model *m, const nn_weights *replace, nn_graph **out) {
    nn_graph *g = calloc(1, sizeof *g);
    session_pool *pool = calloc(1, sizeof *pool);
    if (!g || !pool || pthread_mutex_init(&pool->lock, NULL) != 0 ||
        !(g->source = strdup(m->source))) {
        if (pool && g) pthread_mutex_destroy(&pool->lock);
        free(pool);
        free(g);
        fr_status st = fr_error(FR_E_NOMEM, "%s: out of memory loading the graph", m->source);
        tflite_free(m);
        return st;
    }
    g->pool = pool;
    load_ctx c = {.m = m, .g = g, .replace = replace};
    fr_status st = build_graph(&c);
    tflite_free(m);
    if (st != FR_OK) {
        nn_graph_free(g);
        return st;
    }
    *out = g;
    return FR_OK;
}

fr_status nn_graph_load_tflite(const char *path, nn_graph **out) {
    *out = NULL;
    tflite_model *m;
    fr_status st = tflite_load(path, &m);
    return st == FR_OK ? graph_from_model(m, NULL, out) : st;
}

fr_status nn_graph_load_tflite_replacing(const char *path, const nn_weights *replace,
                                         nn_graph **out) {
    *out = NULL;
    tflite_model *m;
    fr_status st = tflite_load(path, &m);
    return st == FR_OK ? graph_from_model(m, replace, out) : st;
}

fr_status nn_graph_load_tflite_buffer(const uint8_t *data, size_t size, const char *name,
                                      nn_graph **out) {
    *out = NULL;
    tflite_model *m;
    fr_status st = tflite_parse(data, size, name, &m);
    return st == FR_OK ? graph_from_model(m, NULL, out) : st;
}

void nn_graph_free(nn_graph *g) {
    if (!g) return;
    for (int t = 0; t < g->n_tensors; t++) free(g->tensors[t].name);
    for (int i = 0; i < g->n_nodes; i++) free_node(&g->nodes[i]);
    if (g->constants) nn_arena_free(g->constants);
    free(g->tensors);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->source);
    while (g->pool->kept) {
        nn_graph_session *next = g->pool->kept->next_kept;
        nn_graph_session_free(g->pool->kept);
        g->pool->kept = next;
    }
    pthread_mutex_destroy(&g->pool->lock);
    free(g->pool);
    free(g);
}

const char *nn_graph_source(const nn_graph *g) { return g->source; }
int nn_graph_n_inputs(const nn_graph *g) { return g->n_inputs; }
int nn_graph_n_outputs(const nn_graph *g) { return g->n_outputs; }
int nn_graph_n_ops(const nn_graph *g) { return g->n_nodes; }

const char *nn_graph_input_name(const nn_graph *g, int i) {
    return i >= 0 && i < g->n_inputs ? g->tensors[g->inputs[i]].name : NULL;
}
const char *nn_graph_output_name(const nn_graph *g, int i) {
    return i >= 0 && i < g->n_outputs ? g->tensors[g->outputs[i]].name : NULL;
}

static void file_shape(const nn_graph *g, int t, int *rank, int shape[NN_MAX_RANK]) {
    *rank = g->tensors[t].rank;
    memcpy(shape, g->tensors[t].shape, sizeof(int) * NN_MAX_RANK);
}
void nn_graph_input_file_shape(const nn_graph *g, int i, int *rank, int shape[NN_MAX_RANK]) {
    file_shape(g, g->inputs[i], rank, shape);
}
void nn_graph_output_file_shape(const nn_graph *g, int i, int *rank, int shape[NN_MAX_RANK]) {
    file_shape(g, g->outputs[i], rank, shape);
}

int nn_graph_find_output(const nn_graph *g, const char *name) {
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->tensors[g->outputs[i]].name, name)) return i;
    return -1;
}

const char *nn_graph_op_name(const nn_graph *g, int i) {
    return i >= 0 && i < g->n_nodes ? g->nodes[i].name : NULL;
}

/* ---- planning ---- */

typedef struct plan_ctx {
    nn_graph_session *s;
    const gnode *n;
} plan_ctx;

static fr_status plan_error(const plan_ctx *p, const char *what) {
    return fr_error(FR_E_ARG, "%s: operator %d (%s): %s", p->s->g->source, p->n->op_index,
                    p->n->name, what);
}

/* The output shape of one node from its inputs' planned shapes. */
static fr_status plan_node(plan_ctx *p, int *rank, int *shape) {
    nn_graph_session *s = p->s;
    const nn_graph *g = s->g;
    const gnode *n = p->n;
    int in = n->inputs[0], r = s->ranks[in];
    const int *x = s->shapes[in];
    char buf[160];
    memcpy(shape, x, sizeof(int) * NN_MAX_RANK);
    *rank = r;
    switch (n->kind) {
    case NODE_CONV:
    case NODE_DEPTHWISE:
    case NODE_MAX_POOL:
    case NODE_AVG_POOL: {
        int pad_before;
        if (r != 4) return plan_error(p, "the input is not (N,H,W,C)");
        if ((n->kind == NODE_CONV || n->kind == NODE_DEPTHWISE) && x[3] != n->cv.cin) {
            snprintf(buf, sizeof buf, "the input has %d channels, the weights expect %d", x[3],
                     n->cv.cin);
            return plan_error(p, buf);
        }
        nn_out_size(x[1], n->cv.kh, n->cv.stride_h, n->cv.pad, 0, &shape[1], &pad_before);
        nn_out_size(x[2], n->cv.kw, n->cv.stride_w, n->cv.pad, 1, &shape[2], &pad_before);
        if (n->kind == NODE_CONV) shape[3] = n->cv.cout;
        if (shape[1] < 1 || shape[2] < 1) return plan_error(p, "the input is smaller than the kernel");
        return FR_OK;
    }
    case NODE_FULLY_CONNECTED: {
        size_t count = shape_count(r, x);
        if (r < 1 || count % (size_t)n->cv.cin != 0) {
            snprintf(buf, sizeof buf, "%zu inputs are not rows of %d", count, n->cv.cin);
            return plan_error(p, buf);
        }
        if (n->keep_dims) {
            shape[r - 1] = n->cv.cout;
        } else {
            *rank = 2;
            shape[0] = (int)(count / (size_t)n->cv.cin);
            shape[1] = n->cv.cout;
        }
        return FR_OK;
    }
    case NODE_BINARY: {
        int b = n->inputs[1], rb = s->ranks[b];
        *rank = FR_MAX(r, rb);
        for (int d = 0; d < *rank; d++) {
            int da = d - (*rank - r) >= 0 ? x[d - (*rank - r)] : 1;
            int db = d - (*rank - rb) >= 0 ? s->shapes[b][d - (*rank - rb)] : 1;
            if (da != db && da != 1 && db != 1) {
                char sa[64], sb[64];
                snprintf(buf, sizeof buf, "shapes %s and %s do not broadcast",
                         shape_text(r, x, sa, sizeof sa), shape_text(rb, s->shapes[b], sb, sizeof sb));
                return plan_error(p, buf);
            }
            shape[d] = da == 1 ? db : da;
        }
        return FR_OK;
    }
    case NODE_ACTIVATION:
        if (n->act.kind == NN_ACT_PRELU && (r < 1 || x[r - 1] != n->cv.cout))
            return plan_error(p, "the slopes do not match the channels");
        return FR_OK;
    case NODE_UNARY:
    case NODE_LOGISTIC: return FR_OK;
    case NODE_SOFTMAX: return r >= 1 ? FR_OK : plan_error(p, "a scalar input");
    case NODE_REDUCE: {
        unsigned axes = 0;
        for (int k = 0; k < n->n_axes; k++) {
            int a = n->axes[k] < 0 ? n->axes[k] + r : n->axes[k];
            if (a < 0 || a >= r) return plan_error(p, "an axis is out of range");
            axes |= 1u << a;
        }
        *rank = 0;
        for (int d = 0; d < r; d++) {
            if (!((axes >> d) & 1u)) shape[(*rank)++] = x[d];
            else if (n->keep_dims) shape[(*rank)++] = 1;
        }
        return FR_OK;
    }
    case NODE_RESHAPE: {
        const gtensor *src = &g->tensors[in];
        size_t count = shape_count(r, x), known = 1;
        int unknown = -1;
        *rank = n->target_rank;
        for (int d = 0; d < *rank; d++) {
            shape[d] = n->target[d];
            /* the batch re-planned: the file's batch in the target follows the input's */
            if (d == 0 && r > 0 && src->rank > 0 && shape[0] == src->shape[0] && x[0] != src->shape[0])
                shape[0] = x[0];
            if (shape[d] == -1 && unknown < 0) unknown = d;
            else if (shape[d] < 0) return plan_error(p, "a negative dimension in the new shape");
            else known *= (size_t)shape[d];
        }
        if (unknown >= 0) {
            if (known == 0 || count % known) return plan_error(p, "the new shape does not divide the input");
            shape[unknown] = (int)(count / known);
            known = count;
        }
        if (known != count) {
            char sa[64], sb[64];
            snprintf(buf, sizeof buf, "cannot reshape %s into %s", shape_text(r, x, sa, sizeof sa),
                     shape_text(*rank, shape, sb, sizeof sb));
            return plan_error(p, buf);
        }
        return FR_OK;
    }
    case NODE_CONCAT: {
        int axis = n->axis < 0 ? n->axis + r : n->axis;
        if (axis < 0 || axis >= r) return plan_error(p, "the axis is out of range");
        shape[axis] = 0;
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (s->ranks[t] != r) return plan_error(p, "inputs of different ranks");
            for (int d = 0; d < r; d++)
                if (d != axis && s->shapes[t][d] != x[d])
                    return plan_error(p, "inputs differ outside the axis");
            if (s->shapes[t][axis] > INT_MAX - shape[axis]) return plan_error(p, "too large");
            shape[axis] += s->shapes[t][axis];
        }
        /* each input is copied as rows of (its axis extent * inner) floats, an int */
        if ((size_t)shape[axis] * shape_count(r - axis - 1, x + axis + 1) > INT_MAX)
            return plan_error(p, "too large");
        return FR_OK;
    }
    case NODE_PAD:
        if (n->pads_rank != r) return plan_error(p, "the paddings do not match the input rank");
        for (int d = 0; d < r; d++) {
            int before = n->pads[2 * d], after = n->pads[2 * d + 1];
            if (before < 0 || after < 0 || before > 65536 || after > 65536)
                return plan_error(p, "paddings must be within 0..65536");
            shape[d] = x[d] + before + after;
        }
        return FR_OK;
    case NODE_RESIZE_BILINEAR:
        if (r != 4) return plan_error(p, "the input is not (N,H,W,C)");
        shape[1] = n->out_h;
        shape[2] = n->out_w;
        return FR_OK;
    }
    return FR_OK;
}

/* Every tensor's planned shape, from the inputs' (set) and the constants'. */
static fr_status plan_shapes(nn_graph_session *s) {
    const nn_graph *g = s->g;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].is_const) {
            s->ranks[t] = g->tensors[t].rank;
            memcpy(s->shapes[t], g->tensors[t].shape, sizeof s->shapes[t]);
        }
    for (int i = 0; i < g->n_nodes; i++) {
        plan_ctx p = {.s = s, .n = &g->nodes[i]};
        int rank, shape[NN_MAX_RANK] = {0};
        fr_status st = plan_node(&p, &rank, shape);
        if (st != FR_OK) return st;
        size_t count = 1;
        for (int d = 0; d < rank; d++)
            if (shape[d] < 0 || !fr_mul_size(count, (size_t)shape[d], &count) ||
                count > MAX_ACTIVATION_FLOATS)
                return fr_error(FR_E_LIMIT, "%s: operator %d (%s): output too large",
                                g->source, p.n->op_index, p.n->name);
        int out = p.n->output;
        s->ranks[out] = rank;
        memcpy(s->shapes[out], shape, sizeof shape);
    }
    return FR_OK;
}

static int by_size_desc(const void *a, const void *b) {
    const lifetime *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->tensor - y->tensor;
}

/* floats a run-time tensor takes in the block at its planned shape */
static size_t tensor_room(const nn_graph_session *s, int t) {
    return (shape_count(s->ranks[t], s->shapes[t]) + 15) / 16 * 16;
}

/* Whether every run-time tensor at its planned shape fits the room the memory plan gave it. */
static int memory_plan_fits(const nn_graph_session *s) {
    const nn_graph *g = s->g;
    if (!s->memory_planned) return 0;
    for (int k = 0; k < g->n_inputs; k++)
        if (tensor_room(s, g->inputs[k]) > s->room[g->inputs[k]]) return 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (tensor_room(s, g->nodes[i].output) > s->room[g->nodes[i].output]) return 0;
    return 1;
}

/* Offsets for the run-time tensors: the largest first, each at the lowest offset that does
 * not overlap a placed tensor alive at the same time (with keep_all, none is shared). Kept
 * as they are while the tensors fit; the block is replaced only when it must grow. */
static fr_status plan_memory(nn_graph_session *s) {
    if (memory_plan_fits(s)) return FR_OK;
    const nn_graph *g = s->g;
    int T = g->n_tensors, n_live = 0;
    lifetime *lt = s->lifetimes;
    int *index_of = s->index_of; /* tensor -> lifetime index while collecting */
    s->memory_planned = 0;
    for (int t = 0; t < T; t++) index_of[t] = -1;
    for (int k = 0; k < g->n_inputs; k++) {
        int t = g->inputs[k];
        if (index_of[t] < 0) {
            index_of[t] = n_live;
            lt[n_live++] = (lifetime){.tensor = t, .first = -1, .last = -1};
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const gnode *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (index_of[t] >= 0) lt[index_of[t]].last = i;
        }
        index_of[n->output] = n_live;
        lt[n_live++] = (lifetime){.tensor = n->output, .first = i, .last = i};
    }
    for (int k = 0; k < g->n_outputs; k++)
        if (index_of[g->outputs[k]] >= 0) lt[index_of[g->outputs[k]]].last = g->n_nodes;
    for (int k = 0; k < n_live; k++) {
        lt[k].size = tensor_room(s, lt[k].tensor);
        if (s->keep_all) {
            lt[k].first = -1;
            lt[k].last = g->n_nodes;
        }
    }
    qsort(lt, (size_t)n_live, sizeof *lt, by_size_desc);
    size_t total = 0;
    for (int k = 0; k < n_live; k++) {
        /* try offset 0, then the end of each overlapping placed tensor, lowest first */
        size_t best = SIZE_MAX;
        for (int c = -1; c < k; c++) {
            size_t off = c < 0 ? 0 : s->offsets[lt[c].tensor] + lt[c].size;
            if (c >= 0 && (lt[c].last < lt[k].first || lt[k].last < lt[c].first)) continue;
            if (off >= best) continue;
            int clash = 0;
            for (int o = 0; o < k && !clash; o++) {
                if (lt[o].last < lt[k].first || lt[k].last < lt[o].first) continue;
                size_t o0 = s->offsets[lt[o].tensor], o1 = o0 + lt[o].size;
                clash = off < o1 && o0 < off + lt[k].size;
            }
            if (!clash) best = off;
        }
        s->offsets[lt[k].tensor] = best;
        s->room[lt[k].tensor] = lt[k].size;
        total = FR_MAX(total, best + lt[k].size);
    }
    if (total > MAX_ACTIVATION_FLOATS)
        return fr_error(FR_E_LIMIT, "%s: these input shapes need %zu MB of activations, over "
                        "the limit of %zu MB", g->source, total * sizeof(float) >> 20,
                        MAX_ACTIVATION_FLOATS * sizeof(float) >> 20);
    if (total > s->block_floats || !s->block) {
        nn_arena_reset(s->arena, 0);
        s->block = nn_arena_alloc(s->arena, total);
        s->block_floats = s->block ? total : 0;
        if (!s->block)
            return fr_error(FR_E_NOMEM, "%s: no memory for %zu MB of activations", g->source,
                            total * sizeof(float) >> 20);
    }
    s->memory_planned = 1;
    return FR_OK;
}

static fr_status replan(nn_graph_session *s) {
    s->planned = 0;
    fr_status st = plan_shapes(s);
    if (st == FR_OK) st = plan_memory(s);
    s->planned = st == FR_OK;
    return st;
}

fr_status nn_graph_session_new(const nn_graph *g, nn_graph_session **out) {
    *out = NULL;
    nn_graph_session *s = calloc(1, sizeof *s);
    size_t T = (size_t)g->n_tensors + 1;
    if (s) {
        s->g = g;
        s->shapes = calloc(T, sizeof *s->shapes);
        s->ranks = calloc(T, sizeof *s->ranks);
        s->offsets = calloc(T, sizeof *s->offsets);
        s->room = calloc(T, sizeof *s->room);
        s->lifetimes = calloc(T, sizeof *s->lifetimes);
        s->index_of = calloc(T, sizeof *s->index_of);
        s->arena = nn_arena_new(0);
    }
    if (!s || !s->shapes || !s->ranks || !s->offsets || !s->room || !s->lifetimes ||
        !s->index_of || !s->arena) {
        nn_graph_session_free(s);
        return fr_error(FR_E_NOMEM, "%s: out of memory for a graph session", g->source);
    }
    for (int k = 0; k < g->n_inputs; k++) {
        int t = g->inputs[k];
        s->ranks[t] = g->tensors[t].rank;
        memcpy(s->shapes[t], g->tensors[t].shape, sizeof s->shapes[t]);
    }
    fr_status st = replan(s);
    if (st != FR_OK) {
        nn_graph_session_free(s);
        return st;
    }
    *out = s;
    return FR_OK;
}

void nn_graph_session_free(nn_graph_session *s) {
    if (!s) return;
    free(s->shapes);
    free(s->ranks);
    free(s->offsets);
    free(s->room);
    free(s->lifetimes);
    free(s->index_of);
    nn_arena_free(s->arena);
    free(s);
}

/* Sessions kept per graph: one per thread running the network at once is enough; callers
 * beyond that many at once get sessions of their own, freed when given back. */
#define SESSIONS_KEPT 8

fr_status nn_graph_session_take(const nn_graph *g, nn_graph_session **out) {
    session_pool *p = g->pool;
    pthread_mutex_lock(&p->lock);
    nn_graph_session *s = p->kept;
    if (s) {
        p->kept = s->next_kept;
        p->n_kept--;
    }
    pthread_mutex_unlock(&p->lock);
    if (!s) return nn_graph_session_new(g, out);
    s->next_kept = NULL;
    *out = s;
    return FR_OK;
}

void nn_graph_session_give(nn_graph_session *s) {
    if (!s) return;
    session_pool *p = s->g->pool;
    /* a session left without a valid plan (a refused shape) starts again from scratch */
    int keep = s->planned && !s->keep_all;
    pthread_mutex_lock(&p->lock);
    keep = keep && p->n_kept < SESSIONS_KEPT;
    if (keep) {
        s->next_kept = p->kept;
        p->kept = s;
        p->n_kept++;
    }
    pthread_mutex_unlock(&p->lock);
    if (!keep) nn_graph_session_free(s);
}

fr_status nn_graph_set_input_shape(nn_graph_session *s, int i, int rank, const int *shape) {
    const nn_graph *g = s->g;
    if (i < 0 || i >= g->n_inputs || rank < 0 || rank > NN_MAX_RANK || (rank && !shape))
        return fr_error(FR_E_ARG, "%s: invalid input %d or shape", g->source, i);
    for (int d = 0; d < rank; d++)
        if (shape[d] < 1)
            return fr_error(FR_E_ARG, "%s: input '%s': dimension %d is %d", g->source,
                            nn_graph_input_name(g, i), d, shape[d]);
    int t = g->inputs[i];
    if (rank != g->tensors[t].rank)
        return fr_error(FR_E_ARG, "%s: input '%s' has rank %d, not %d", g->source,
                        g->tensors[t].name, g->tensors[t].rank, rank);
    if (s->planned && !memcmp(s->shapes[t], shape, (size_t)rank * sizeof *shape))
        return FR_OK; /* planned for this shape already */
    s->ranks[t] = rank;
    memcpy(s->shapes[t], shape, (size_t)rank * sizeof *shape);
    return replan(s);
}

fr_status nn_graph_keep_intermediates(nn_graph_session *s) {
    s->keep_all = 1;
    s->memory_planned = 0;
    return replan(s);
}

float *nn_graph_input(nn_graph_session *s, int i) {
    if (!s->planned || i < 0 || i >= s->g->n_inputs) return NULL;
    return s->block + s->offsets[s->g->inputs[i]];
}

/* ---- running ---- */

static const float *tensor_data(const nn_graph_session *s, int t) {
    const gtensor *gt = &s->g->tensors[t];
    return gt->is_const ? gt->data : s->block + s->offsets[t];
}

/* where a node writes (never a constant: check_dataflow) */
static float *tensor_out(const nn_graph_session *s, int t) { return s->block + s->offsets[t]; }

/* P and C of a tensor seen as (P,C) rows of its last axis */
static void rows_of(const nn_graph_session *s, int t, size_t *P, int *C) {
    int r = s->ranks[t];
    *C = r ? s->shapes[t][r - 1] : 1;
    *P = *C ? shape_count(r, s->shapes[t]) / (size_t)*C : 0;
}

static void run_node(nn_graph_session *s, const gnode *n, int threads) {
    int in = n->inputs[0], out = n->output;
    const float *x = tensor_data(s, in);
    float *y = tensor_out(s, out);
    const int *xs = s->shapes[in];
    size_t count = shape_count(s->ranks[out], s->shapes[out]), P;
    int C, OH, OW;
    switch (n->kind) {
    case NODE_CONV:
    case NODE_DEPTHWISE: {
        nn_conv cv = n->cv;
        cv.act = n->act;
        if (n->kind == NODE_CONV)
            nn_conv2d(threads, &cv, x, xs[0], xs[1], xs[2], y, &OH, &OW, s->arena);
        else
            nn_depthwise_conv2d(threads, &cv, x, xs[0], xs[1], xs[2], y, &OH, &OW);
        return;
    }
    case NODE_FULLY_CONNECTED:
        rows_of(s, out, &P, &C);
        nn_dense(threads, x, (int)P, n->cv.cin, n->cv.weight, n->cv.bias, n->cv.cout, y);
        nn_activate(threads, y, P, C, n->act);
        return;
    case NODE_BINARY: {
        int b = n->inputs[1], r = s->ranks[out], as[NN_MAX_RANK], bs[NN_MAX_RANK];
        for (int d = 0; d < r; d++) {
            int da = d - (r - s->ranks[in]), db = d - (r - s->ranks[b]);
            as[d] = da >= 0 ? xs[da] : 1;
            bs[d] = db >= 0 ? s->shapes[b][db] : 1;
        }
        const float *bx = tensor_data(s, b);
        if (n->binary == NN_BINARY_ADD && count == shape_count(r, as) && count == shape_count(r, bs))
            nn_add(threads, x, bx, y, count);
        else
            nn_binary(threads, n->binary, x, as, bx, bs, s->shapes[out], r, y);
        rows_of(s, out, &P, &C);
        nn_activate(threads, y, P, C, n->act);
        return;
    }
    case NODE_UNARY: nn_unary(threads, n->unary, x, y, count); return;
    case NODE_ACTIVATION:
        memcpy(y, x, count * sizeof *y);
        rows_of(s, out, &P, &C);
        nn_activate(threads, y, P, C, n->act);
        return;
    case NODE_LOGISTIC:
        memcpy(y, x, count * sizeof *y);
        nn_sigmoid(threads, y, count);
        return;
    case NODE_SOFTMAX:
        memcpy(y, x, count * sizeof *y);
        rows_of(s, out, &P, &C);
        nn_softmax(threads, y, P, C);
        return;
    case NODE_REDUCE: {
        unsigned axes = 0;
        for (int k = 0; k < n->n_axes; k++)
            axes |= 1u << (n->axes[k] < 0 ? n->axes[k] + s->ranks[in] : n->axes[k]);
        nn_reduce(n->reduce, x, xs, s->ranks[in], axes, y);
        return;
    }
    case NODE_MAX_POOL:
    case NODE_AVG_POOL:
        (n->kind == NODE_MAX_POOL ? nn_maxpool2d : nn_avgpool2d)(
            threads, x, xs[0], xs[1], xs[2], xs[3], n->cv.kh, n->cv.kw, n->cv.stride_h,
            n->cv.stride_w, n->cv.pad, y, &OH, &OW);
        nn_activate(threads, y, count / (size_t)xs[3], xs[3], n->act);
        return;
    case NODE_RESHAPE: memcpy(y, x, count * sizeof *y); return;
    case NODE_CONCAT: {
        /* as rows of (outer) x (axis extent * inner) per input, concatenated per row */
        int r = s->ranks[out], axis = n->axis < 0 ? n->axis + r : n->axis;
        size_t outer = shape_count(axis, s->shapes[out]);
        size_t inner = shape_count(r - axis - 1, s->shapes[out] + axis + 1);
        const float *ins[MAX_CONCAT_INPUTS];
        int Cs[MAX_CONCAT_INPUTS];
        for (int k = 0; k < n->n_inputs; k++) {
            ins[k] = tensor_data(s, n->inputs[k]);
            Cs[k] = (int)(s->shapes[n->inputs[k]][axis] * inner);
        }
        nn_concat_channels(threads, ins, Cs, n->n_inputs, outer, y);
        rows_of(s, out, &P, &C);
        nn_activate(threads, y, P, C, n->act);
        return;
    }
    case NODE_PAD: nn_pad(x, xs, s->ranks[in], n->pads, y); return;
    case NODE_RESIZE_BILINEAR:
        nn_resize_bilinear(threads, x, xs[0], xs[1], xs[2], xs[3], n->out_h, n->out_w,
                           n->align_corners, n->half_pixel_centers, y);
        return;
    }
}

fr_status nn_graph_run(nn_graph_session *s, int threads) {
    if (!s->planned)
        return fr_error(FR_E_ARG, "%s: the session has no valid input shape", s->g->source);
    for (int i = 0; i < s->g->n_nodes; i++) run_node(s, &s->g->nodes[i], threads);
    /* finite weights and inputs can still overflow: a non-finite output is the model's fault */
    for (int i = 0; i < s->g->n_outputs; i++) {
        int t = s->g->outputs[i];
        const float *y = tensor_data(s, t);
        size_t n = shape_count(s->ranks[t], s->shapes[t]);
        for (size_t k = 0; k < n; k++)
            if (!isfinite(y[k]))
                return fr_error(FR_E_MODEL, "%s: output '%s' holds a non-finite value (%g at %zu)",
                                s->g->source, s->g->tensors[t].name, (double)y[k], k);
    }
    return FR_OK;
}

const float *nn_graph_output(const nn_graph_session *s, int i, int *rank,
                             int shape[NN_MAX_RANK]) {
    if (!s->planned || i < 0 || i >= s->g->n_outputs) return NULL;
    int t = s->g->outputs[i];
    *rank = s->ranks[t];
    memcpy(shape, s->shapes[t], sizeof(int) * NN_MAX_RANK);
    return tensor_data(s, t);
}

const float *nn_graph_op_output(const nn_graph_session *s, int i, const char **tensor_name,
                                int *rank, int shape[NN_MAX_RANK]) {
    if (!s->planned || i < 0 || i >= s->g->n_nodes) return NULL;
    int t = s->g->nodes[i].output;
    if (!s->keep_all && nn_graph_find_output(s->g, s->g->tensors[t].name) < 0) return NULL;
    *tensor_name = s->g->tensors[t].name;
    *rank = s->ranks[t];
    memcpy(shape, s->shapes[t], sizeof(int) * NN_MAX_RANK);
    return tensor_data(s, t);
}

/* ---- for training ---- */

void nn_graph_node_view_of(const nn_graph *g, int i, nn_graph_node_view *out) {
    const gnode *n = &g->nodes[i];
    memset(out, 0, sizeof *out);
    out->name = n->name;
    switch (n->kind) {
    case NODE_CONV: out->op = NN_GRAPH_OP_CONV; break;
    case NODE_DEPTHWISE: out->op = NN_GRAPH_OP_DEPTHWISE; break;
    case NODE_RESHAPE: out->op = NN_GRAPH_OP_RESHAPE; break;
    case NODE_BINARY:
        out->op = n->binary == NN_BINARY_ADD ? NN_GRAPH_OP_ADD : NN_GRAPH_OP_OTHER;
        break;
    default: out->op = NN_GRAPH_OP_OTHER; break;
    }
    out->n_inputs = n->n_inputs;
    out->inputs = n->inputs;
    out->output = n->output;
    out->cv = n->cv;
    out->cv.act = n->act;
    out->weight_tensor = n->weight_tensor;
    out->bias_tensor = n->bias_tensor;
    out->slope_tensor = n->slope_tensor;
    out->slope_factor = n->slope_factor;
}

int nn_graph_input_tensor(const nn_graph *g, int i) { return g->inputs[i]; }
int nn_graph_output_tensor(const nn_graph *g, int i) { return g->outputs[i]; }

const char *nn_graph_tensor_name(const nn_graph *g, int t) { return g->tensors[t].name; }

void nn_graph_tensor_file_shape(const nn_graph *g, int t, int *rank, int shape[NN_MAX_RANK]) {
    *rank = g->tensors[t].rank;
    memcpy(shape, g->tensors[t].shape, sizeof(int) * NN_MAX_RANK);
}
