/* import.c: model importers for the front ends (import.h). */
#include "import/import.h"

#include "nets/original_nets.h"

fr_status import_nn4small2_keras_csv(const char *weights_dir, const char *out_path) {
    return nn4small2_import_keras_csv(weights_dir, out_path);
}
