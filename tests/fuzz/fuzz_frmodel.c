/* fuzz_frmodel.c: libFuzzer target for facerec's own model file (.frmodel, nn/import/frmodel.h).
 * Each input is a file image, written to a file and read with frmodel_read_info and
 * frmodel_read. Every record carries a CRC-32, so random mutations would almost all stop at
 * the first checksum; when the input's last byte is odd the target first recomputes the
 * checksums where the layout lets it find them (each tensor's, then the file's), so that the
 * fuzzer's mutations reach the structure behind them.
 * fuzz.sh options: -runs=10000 -max_len=4096
 */
#include "fuzz_files.h"
#include "fuzz_frmodel_checksums.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size && (data[size - 1] & 1)) fuzz_frmodel_fix_checksums(copy, size);
    char path[512];
    fuzz_write_file("fuzz.frmodel", copy, size, path, sizeof path);
    free(copy);
    frmodel_info info;
    frmodel_read_info(path, &info);
    nn_weights *w;
    if (frmodel_read(path, &info, &w) == FR_OK) nn_weights_free(w);
    return 0;
}
