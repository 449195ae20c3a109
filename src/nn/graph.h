/* graph.h: a small evaluator of neural-network graphs read from model files (TFLite), over
 * the ops of nn.h.
 *
 * Two objects:
 *   nn_graph          the loaded model: tensors, weights (converted to our layouts) and the
 *                     operators in execution order. Immutable after loading, so one graph
 *                     may be shared by many threads.
 *   nn_graph_session  one caller's state: the input shapes, the shapes of every tensor
 *                     planned from them, and the activation memory (one nn_arena). Use one
 *                     session per thread at a time. Networks take their sessions from the
 *                     graph's pool (nn_graph_session_take) and give them back after the
 *                     call, so that a session is planned and its memory allocated once and
 *                     then reused by every call, from any thread (see nn.h, "memory").
 *
 * Typical use:
 *
 *   nn_graph *g;  nn_graph_session *s;
 *   nn_graph_load_tflite("MobileFaceNet.tflite", &g);
 *   nn_graph_session_new(g, &s);
 *   nn_graph_set_input_shape(s, 0, 4, (int[]){16, 112, 112, 3});  // batch 16
 *   float *x = nn_graph_input(s, 0);           // write 16*112*112*3 floats here
 *   nn_graph_run(s, nn_default_threads());     // or the engine's thread count
 *   int rank, shape[NN_MAX_RANK];
 *   const float *y = nn_graph_output(s, 0, &rank, shape);          // (16, 192)
 *   nn_graph_session_free(s);  nn_graph_free(g);
 *
 * Tensors are float32 at run time (NHWC like the rest of nn/); constants of other types
 * (int32 shapes and axes, float16 weights through DEQUANTIZE) are read at load. Loading
 * converts convolution weights from TFLite's OHWI to HWIO and fuses known patterns into
 * the ops of nn.h: a PReLU spelled with RELU/ABS/SUB/MUL/ADD or RELU/NEG/MUL/ADD becomes one
 * PReLU activation, and an activation whose input only feeds it is fused into the
 * convolution or fully connected layer before it (a RELU or RELU6 also into an ADD, SUB,
 * MUL or DIV). An operator the evaluator does not run,
 * or one with options it does not support, is an error naming it and the file.
 *
 * Shapes: the file's shapes are those the model was exported with (e.g. batch 2). A session
 * re-plans every shape from the input shapes it is given, operator by operator; a RESHAPE
 * whose target's first dimension is the file's batch keeps the new batch there.
 */
#ifndef FR_NN_GRAPH_H
#define FR_NN_GRAPH_H

#include "facerec.h"
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nn_graph nn_graph;
typedef struct nn_graph_session nn_graph_session;

/* Load the main graph of a .tflite file. */
fr_status nn_graph_load_tflite(const char *path, nn_graph **out);
/* The same from a file image of `size` bytes, only read during the call; `name` is used in
 * messages. */
fr_status nn_graph_load_tflite_buffer(const uint8_t *data, size_t size, const char *name,
                                      nn_graph **out);
void nn_graph_free(nn_graph *g);

/* The file the graph came from (for messages). */
const char *nn_graph_source(const nn_graph *g);

int nn_graph_n_inputs(const nn_graph *g);
int nn_graph_n_outputs(const nn_graph *g);
/* Names and the shapes stored in the file of input / output i (rank written, shape filled). */
const char *nn_graph_input_name(const nn_graph *g, int i);
const char *nn_graph_output_name(const nn_graph *g, int i);
void nn_graph_input_file_shape(const nn_graph *g, int i, int *rank, int shape[NN_MAX_RANK]);
void nn_graph_output_file_shape(const nn_graph *g, int i, int *rank, int shape[NN_MAX_RANK]);
/* The index of the output called `name`, or -1. */
int nn_graph_find_output(const nn_graph *g, const char *name);

/* The number of operators after fusion, and the name of operator i as run ("CONV_2D+PRELU",
 * "DEPTHWISE_CONV_2D", "ADD", ...). */
int nn_graph_n_ops(const nn_graph *g);
const char *nn_graph_op_name(const nn_graph *g, int i);

/* A session starts with the file's input shapes planned. */
fr_status nn_graph_session_new(const nn_graph *g, nn_graph_session **out);
void nn_graph_session_free(nn_graph_session *s);

/* A session from the graph's pool, planned for the shapes it last ran (a new one when the
 * pool is empty), and back to the pool after the call (freed when the pool is full or the
 * session has no valid plan). Thread-safe; the way networks get their sessions. */
fr_status nn_graph_session_take(const nn_graph *g, nn_graph_session **out);
void nn_graph_session_give(nn_graph_session *s);

/* Set the shape of input i and re-plan every tensor's shape and the activation memory. An
 * operator that cannot take the new shapes is an error naming it (the session then keeps
 * no plan until a valid shape is set). Pointers from nn_graph_input/output become invalid.
 * Nothing is allocated when the shape is the one planned, or when every tensor fits the
 * memory of a plan for larger shapes (which is then kept); the activation block is only
 * replaced when it must grow. */
fr_status nn_graph_set_input_shape(nn_graph_session *s, int i, int rank, const int *shape);

/* Where to write input i (as many floats as its planned shape holds). */
float *nn_graph_input(nn_graph_session *s, int i);

/* Run every operator, each on `threads` threads (see nn_parallel_for). */
fr_status nn_graph_run(nn_graph_session *s, int threads);

/* Output i of the last run and its planned shape; valid until the next run or re-plan. */
const float *nn_graph_output(const nn_graph_session *s, int i, int *rank,
                             int shape[NN_MAX_RANK]);

/* For tests that compare a graph op by op against a reference: give every tensor its own
 * memory (no reuse), re-planned now, so that each operator's result survives the run. */
fr_status nn_graph_keep_intermediates(nn_graph_session *s);

/* The result of operator i (after fusion) of the last run, the name of its output tensor
 * and its planned shape; NULL unless nn_graph_keep_intermediates() was called (or i is the
 * producer of a graph output). */
const float *nn_graph_op_output(const nn_graph_session *s, int i, const char **tensor_name,
                                int *rank, int shape[NN_MAX_RANK]);

/* ---- for training (tools/train/graph_full.c) ----
 *
 * A graph's nodes as run, read-only, and loading a graph with some of its constants given
 * other values (a network fine-tuned from a file): the values replace the file's before any
 * conversion or fusion, so the graph runs them as it runs the file's own. */

typedef struct nn_weights nn_weights;

/* Load path's graph with every constant named in `replace` taking its values (in the file's
 * layout and size) instead. A name that is no float constant of the graph is an error. */
fr_status nn_graph_load_tflite_replacing(const char *path, const nn_weights *replace,
                                         nn_graph **out);

typedef enum nn_graph_op {
    NN_GRAPH_OP_CONV,      /* nn_conv2d with cv (weights HWIO), its activation cv.act */
    NN_GRAPH_OP_DEPTHWISE, /* nn_depthwise_conv2d with cv (weights HWC), cv.act */
    NN_GRAPH_OP_ADD,       /* inputs[0] + inputs[1], cv.act (no activation, or a ReLU) */
    NN_GRAPH_OP_RESHAPE,   /* the same values in another shape */
    NN_GRAPH_OP_OTHER      /* any other operator */
} nn_graph_op;

typedef struct nn_graph_node_view {
    const char *name; /* as nn_graph_op_name gives it */
    nn_graph_op op;
    int n_inputs;
    const int *inputs; /* run-time tensors (constants folded into cv are not listed) */
    int output;
    nn_conv cv;        /* CONV, DEPTHWISE: the layer as run; ADD: cv.act */
    /* the file's constants behind cv.weight, cv.bias and cv.act.slope (-1: none); the
     * slopes are slope_factor times the slope constant's values */
    int weight_tensor, bias_tensor, slope_tensor;
    float slope_factor;
} nn_graph_node_view;

/* Node i (0 <= i < nn_graph_n_ops) as run; valid while g is. */
void nn_graph_node_view_of(const nn_graph *g, int i, nn_graph_node_view *out);
/* The tensor of input / output i. */
int nn_graph_input_tensor(const nn_graph *g, int i);
int nn_graph_output_tensor(const nn_graph *g, int i);
/* A tensor's name and its shape in the file. */
const char *nn_graph_tensor_name(const nn_graph *g, int t);
void nn_graph_tensor_file_shape(const nn_graph *g, int t, int *rank, int shape[NN_MAX_RANK]);

#endif

