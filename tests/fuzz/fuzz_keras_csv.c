/* fuzz_keras_csv.c: libFuzzer target for the Keras CSV importer's file reader. An input is
 * one byte giving the number of values expected (0 to 64), then the CSV text, written to a
 * file and read with nn_keras_csv_read into a buffer of exactly that many floats (so that
 * ASan sees a write past the count). Accepted values must be finite.
 * fuzz.sh options: -runs=10000 -max_len=1024
 */
#include "fuzz_files.h"
#include "nn/import/keras_csv.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t count = data[0] % 65;
    char path[512];
    fuzz_write_file("layer_w.csv", data + 1, size - 1, path, sizeof path);
    float *values = malloc(count ? count * sizeof *values : 1);
    if (!values) return 0;
    if (nn_keras_csv_read(path, count, values) == FR_OK)
        for (size_t i = 0; i < count; i++)
            if (!isfinite(values[i])) abort();
    free(values);
    return 0;
}
