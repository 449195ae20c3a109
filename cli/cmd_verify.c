/* cmd_verify.c: facerec verify [--db F] [--far R] [--threshold T] [--json] IMAGE_A IMAGE_B */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec verify [options] IMAGE_A IMAGE_B\n"
    "Whether the largest faces of two images are the same person, with their distance and\n"
    "the threshold used. Exits 0 for the same person, 1 for different people, 3 when an\n"
    "image has no face.\n\n"
    "  --db DB             gallery (a file or a postgresql:// URI) whose calibration sets the\n"
    "                      threshold (default: $FACEREC_DB,\n"
    "                      else facerec.db if present; without one, the calibration shipped\n"
    "                      for the model, as for a gallery not calibrated)\n"
    "  --far R             target false-accept rate for the calibrated threshold (default 0.001)\n"
    "  --threshold T       distance threshold (overrides the above)\n"
    "  --json              the result as one JSON object\n" CLI_ENGINE_HELP;

/* The embedding of the largest face of an image; returns CLI_OK, else the exit status after
 * printing why. */
static int embed_largest(fr_engine *eng, const char *path, fr_face *face, int *n_faces) {
    fr_image *img;
    int status = cli_load_image(path, &img);
    if (status) return status;
    fr_face *faces;
    fr_status st = fr_process(eng, img, &faces, n_faces);
    fr_image_free(img);
    if (st != FR_OK) return cli_fail_file(path, st);
    if (*n_faces == 0) {
        fprintf(stderr, "facerec verify: %s: no face found\n", path);
        fr_faces_free(faces);
        return CLI_NO_FACE;
    }
    *face = faces[cli_largest_face(faces, *n_faces)];
    fr_faces_free(faces);
    return CLI_OK;
}

/* The threshold: from the gallery's calibration when there is a gallery of this model, else
 * from the calibration shipped for the model (or its default). Opens the engine too. Returns
 * CLI_OK or an exit status. */
static int open_engine_and_threshold(fr_config *cfg, const char *default_model,
                                     const char *db_path, double far, fr_engine **eng,
                                     fr_threshold *th) {
    fr_gallery *g = NULL;
    fr_status st = fr_gallery_open(db_path, 0, &g);
    if (st == FR_E_NOT_FOUND && !db_path) st = FR_OK; /* no gallery here: not needed */
    if (st != FR_OK) return cli_fail(st);
    fr_gallery_info info = {0};
    if (g && (st = fr_gallery_get_info(g, &info)) != FR_OK) {
        fr_gallery_close(g);
        return cli_fail(st);
    }
    if (g && info.model[0]) {
        int status = cli_open_engine_for_gallery(cfg, default_model, g, eng);
        if (!status && (st = fr_gallery_threshold(g, far, th)) != FR_OK) {
            fr_engine_close(*eng);
            status = cli_fail(st);
        }
        fr_gallery_close(g);
        return status;
    }
    fr_gallery_close(g);
    st = fr_engine_open(cfg, eng);
    if (st == FR_OK) st = fr_model_threshold(fr_engine_model(*eng), fr_engine_dim(*eng), far, th);
    if (st != FR_OK) {
        fr_engine_close(*eng);
        return cli_fail(st);
    }
    return CLI_OK;
}

int cmd_verify(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, 0, 'd'}, {"far", required_argument, 0, 'f'},
        {"threshold", required_argument, 0, 't'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    const char *default_model = cfg.model, *db_path = NULL;
    double far = 0.001, given = -1;
    int json = 0, opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': db_path = optarg; break;
        case 'f':
            if (cli_real_option("verify", "--far", optarg, 0, 1, 1, &far)) return CLI_USAGE;
            break;
        case 't':
            if (cli_real_option("verify", "--threshold", optarg, 0, 0, 4, &given)) return CLI_USAGE;
            break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("verify", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (argc - optind != 2) return cli_usage_error("verify", "give exactly two images");

    fr_engine *eng;
    fr_threshold th;
    int status = open_engine_and_threshold(&cfg, default_model, db_path, far, &eng, &th);
    if (status) return status;
    if (given >= 0) {
        th.distance = (float)given;
        snprintf(th.note, sizeof th.note, "given by --threshold");
    }
    fr_face a, b;
    int n_a = 0, n_b = 0;
    status = embed_largest(eng, argv[optind], &a, &n_a);
    if (!status) status = embed_largest(eng, argv[optind + 1], &b, &n_b);
    if (!status) {
        float d = fr_distance(a.embedding, b.embedding, a.dim);
        int same = d <= th.distance;
        if (json) {
            json_t *o = json_object();
            if (o) {
                json_object_set_new(o, "image_a", cli_json_text(argv[optind]));
                json_object_set_new(o, "image_b", cli_json_text(argv[optind + 1]));
                json_object_set_new(o, "same", json_boolean(same));
                json_object_set_new(o, "distance", cli_json_num(d));
                json_object_set_new(o, "threshold", cli_json_num(th.distance));
                json_object_set_new(o, "threshold_source", cli_json_text(th.note));
                json_object_set_new(o, "faces", json_pack("[ii]", n_a, n_b));
            }
            if (!cli_json_print(stdout, o)) status = CLI_E_INPUT;
        } else {
            printf("%s: distance %.4f, threshold %.4f (%s)\n", same ? "same person" : "different people",
                   d, th.distance, th.note);
            if (n_a > 1 || n_b > 1)
                printf("(several faces: compared the largest of each image)\n");
        }
        if (!same && !status) status = CLI_NO;
    }
    fr_engine_close(eng);
    return status;
}
