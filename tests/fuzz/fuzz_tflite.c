/* fuzz_tflite.c: libFuzzer target for the TFLite reader and the graph loader. Each input is
 * a .tflite file image: it is parsed, turned into a graph and planned at the file's input
 * shapes (the planned graph is not run: a fuzzed file may ask for huge tensors). Any crash,
 * sanitizer report or leak is a bug; refusals are expected. Built with -DFACEREC_FUZZ=ON
 * under clang; scripts/fuzz.sh runs it on seeds made from the real model files
 * (corpus/fuzz_tflite.sh).
 * fuzz.sh options: -runs=8000 -max_len=1048576 -malloc_limit_mb=4200
 */
#include "nn/graph.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nn_graph *g;
    if (nn_graph_load_tflite_buffer(data, size, "fuzz.tflite", &g) != FR_OK) return 0;
    nn_graph_session *s;
    if (nn_graph_session_new(g, &s) == FR_OK) nn_graph_session_free(s);
    nn_graph_free(g);
    return 0;
}
