/* fuzz_tfjs.c: libFuzzer target for TensorFlow.js weight maps: the JSON manifest (read with
 * jansson) and its .bin shards. An input is the manifest's text, a NUL byte, then the shard
 * bytes: they are written as both a.bin and b.bin beside the manifest (the seeds' manifests
 * name those), and the manifest is loaded with nn_tfjs_load. Refusals are expected;
 * crashes, sanitizer reports and leaks are bugs.
 * fuzz.sh options: -runs=5000 -max_len=4096
 */
#include "fuzz_files.h"
#include "nn/import/tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t manifest_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *shard = nul ? nul + 1 : data + size;
    size_t shard_len = size - manifest_len - (nul ? 1 : 0);
    char manifest[512], bin[512];
    fuzz_write_file("a.bin", shard, shard_len, bin, sizeof bin);
    fuzz_write_file("b.bin", shard, shard_len, bin, sizeof bin);
    fuzz_write_file("model-weights_manifest.json", data, manifest_len, manifest, sizeof manifest);
    nn_weights *w;
    if (nn_tfjs_load(manifest, &w) == FR_OK) nn_weights_free(w);
    return 0;
}
