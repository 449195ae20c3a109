/* fuzz_onnx.c: libFuzzer target for the ONNX reader and the network loader. Each input is an
 * .onnx file image: it is parsed and planned into a network (not run: a fuzzed file may
 * ask for huge tensors). Any crash, sanitizer report or leak is a bug; refusals are
 * expected. Built with -DFACEREC_FUZZ=ON under clang; its seeds are in
 * tests/fuzz/corpus/fuzz_onnx (ops.onnx: every operator the evaluator runs, written by
 * tests/reference/liveness_reference.mjs). */
#include "nn/onnx_net.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    onnx_net *net;
    if (onnx_net_load_buffer(data, size, "fuzz.onnx", &net) == FR_OK) onnx_net_free(net);
    return 0;
}
