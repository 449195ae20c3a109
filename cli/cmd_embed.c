/* cmd_embed.c: facerec embed [--json] [--no-detect [--no-align]] IMAGE... */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>

static const char *usage =
    "usage: facerec embed [options] IMAGE...\n"
    "Detect, align and embed every face. Exits 3 if an image had no face (after the others).\n\n"
    "  --json              one JSON object per image, one per line, with the embeddings\n"
    "  --no-detect         each image is one face (face crops): no detection; the 68-point\n"
    "                      net's landmarks on the whole image align it, and an image whose\n"
    "                      landmarks are not a face's counts as having no face\n"
    "  --no-align          with --no-detect: embed the whole image as it is (crops already\n"
    "                      aligned, as the original nn4.small2 demo fed them)\n" CLI_ENGINE_HELP;

/* Plain output: image,face-number,e1,e2,... */
static void print_face(const char *path, int index, const fr_face *face) {
    printf("%s,%d", path, index);
    for (int k = 0; k < face->dim; k++) printf(",%.6f", face->embedding[k]);
    putchar('\n');
}

int cmd_embed(int argc, char **argv) {
    static const struct option options[] = {
        {"json", no_argument, 0, 'j'}, {"no-detect", no_argument, 0, 'n'},
        {"no-align", no_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    int json = 0, no_detect = 0, no_align = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'j': json = 1; break;
        case 'n': no_detect = 1; break;
        case 'a': no_align = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("embed", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (optind >= argc) return cli_usage_error("embed", "no image given");
    if (no_align && !no_detect) return cli_usage_error("embed", "--no-align goes with --no-detect");

    fr_engine *eng;
    fr_status st = fr_engine_open(&cfg, &eng);
    if (st != FR_OK) return cli_fail(st);
    int status = CLI_OK;
    for (int a = optind; a < argc; a++) {
        fr_image *img;
        int loaded = cli_load_image(argv[a], &img);
        if (loaded) {
            status = cli_combine_status(status, loaded);
            continue;
        }
        fr_face single, *faces = NULL;
        int n = 0;
        if (no_detect && no_align) {
            st = fr_embed_image(eng, img, &single);
            n = 1;
        } else if (no_detect) {
            st = fr_whole_face(eng, img, &single);
            n = st == FR_OK;
            if (st == FR_OK) st = fr_embed(eng, img, &single, 1);
            if (st == FR_E_NO_FACE) st = FR_OK; /* counted as an image without a face */
        } else {
            st = fr_process(eng, img, &faces, &n);
        }
        fr_image_free(img);
        if (st != FR_OK) {
            status = cli_combine_status(status, cli_fail_file(argv[a], st));
            continue;
        }
        if (n == 0) status = cli_combine_status(status, CLI_NO_FACE);
        const fr_face *list = no_detect ? &single : faces;
        if (json) {
            if (!cli_json_image(stdout, argv[a], list, n, 1, NULL))
                status = cli_combine_status(status, CLI_E_INPUT);
        } else {
            if (n == 0) printf("%s,no_faces\n", argv[a]);
            for (int i = 0; i < n; i++) print_face(argv[a], i + 1, &list[i]);
        }
        fr_faces_free(faces);
    }
    fr_engine_close(eng);
    return status;
}
