/* cmd_import.c: facerec import-keras-csv WEIGHTS_DIR --out FILE */
#include "cli.h"

#include "import/import.h"

#include <getopt.h>

static const char *usage =
    "usage: facerec import-keras-csv WEIGHTS_DIR --out FILE\n"
    "Convert the per-layer CSV weights of the original FaceNet nn4.small2 Keras model (the\n"
    "weights/ folder that fr_utils.load_weights reads) into one model file, with batch norm\n"
    "folded into the convolutions. Use it with --model FILE, or save it as\n"
    "models/nn4small2.frmodel to use it as --model nn4small2.\n\n"
    "  --out FILE          the model file to write (replaced if it exists)\n";

int cmd_import_keras_csv(int argc, char **argv) {
    static const struct option options[] = {
        {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_usage_error("import-keras-csv", "unknown option");
        }
    }
    if (optind != argc - 1) return cli_usage_error("import-keras-csv", "give exactly one WEIGHTS_DIR");
    if (!out) return cli_usage_error("import-keras-csv", "--out FILE is required");
    fr_status st = import_nn4small2_keras_csv(argv[optind], out);
    if (st != FR_OK) return cli_fail(st);
    printf("%s: nn4.small2 model written from %s\n", out, argv[optind]);
    return 0;
}
