/* cmd_identify.c: facerec identify [--db F] [--threshold T] [--fpir R] [--show-distances]
 * [--json] IMAGE... */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec identify [options] IMAGE...\n"
    "Name every face: the nearest enrolled person, or unknown when farther than the threshold.\n"
    "Prints image,name,distance per face (unknown for strangers, no_faces when none).\n"
    "Exits 3 if an image had no face (after the others) or nobody is enrolled.\n\n"
    "  --db FILE           gallery database (default: $FACEREC_DB, else facerec.db)\n"
    "  --threshold T       distance threshold (default: from the calibration and --fpir)\n"
    "  --fpir R            target false-positive identification rate: the share of\n"
    "                      strangers named as someone (default 0.01)\n"
    "  --show-distances    the distance to each enrolled person too\n"
    "  --candidates K      people listed per face in --json (default 5)\n"
    "  --json              one JSON object per image, one per line\n" CLI_ENGINE_HELP;

typedef struct identify_options {
    float threshold;
    int show_distances, json, k;
} identify_options;

static void print_plain(const char *path, const fr_match *m, int n_found, float threshold,
                        int show_distances) {
    const char *name = m[0].distance <= threshold ? m[0].name : "unknown";
    printf("%s,%s,%.4f\n", path, name, m[0].distance);
    for (int j = 0; show_distances && j < n_found; j++)
        printf("    %s,%.4f\n", m[j].name, m[j].distance);
}

static void print_json_face(const fr_face *f, const fr_match *m, int n_found, float threshold) {
    printf("{\"box\": [%.1f, %.1f, %.1f, %.1f], \"identity\": ", f->x, f->y, f->w, f->h);
    if (m[0].distance <= threshold) cli_json_string(stdout, m[0].name);
    else fputs("null", stdout);
    printf(", \"distance\": %.5f, \"candidates\": [", m[0].distance);
    for (int j = 0; j < n_found; j++) {
        fputs(j ? ", {\"name\": " : "{\"name\": ", stdout);
        cli_json_string(stdout, m[j].name);
        printf(", \"distance\": %.5f}", m[j].distance);
    }
    fputs("]}", stdout);
}

/* Identify the faces of one image; returns CLI_OK, CLI_NO_FACE or an exit status after
 * printing the error. */
static int identify_image(fr_engine *eng, fr_gallery *g, const char *path,
                          const identify_options *o) {
    fr_image *img;
    int status = cli_load_image(path, &img);
    if (status) return status;
    fr_face *faces = NULL;
    int n = 0;
    fr_status st = fr_process(eng, img, &faces, &n);
    fr_image_free(img);
    if (st != FR_OK) return cli_fail(st);
    int dim = fr_engine_dim(eng), n_found = 0;
    float *probes = malloc((size_t)(n ? n : 1) * (size_t)dim * sizeof(float));
    fr_match *m = malloc((size_t)(n ? n : 1) * (size_t)o->k * sizeof *m);
    if (!probes || !m) st = FR_E_NOMEM;
    for (int i = 0; st == FR_OK && i < n; i++)
        memcpy(probes + (size_t)i * dim, faces[i].embedding, (size_t)dim * sizeof(float));
    if (st == FR_OK && n > 0) st = fr_gallery_search(g, probes, n, o->k, m, &n_found);
    if (st == FR_OK) {
        if (o->json) {
            fputs("{\"image\": ", stdout);
            cli_json_string(stdout, path);
            fputs(", \"faces\": [", stdout);
            for (int i = 0; i < n; i++) {
                if (i) fputs(", ", stdout);
                print_json_face(&faces[i], m + (size_t)i * o->k, n_found, o->threshold);
            }
            fputs("]}\n", stdout);
        } else {
            if (n == 0) printf("%s,no_faces\n", path);
            for (int i = 0; i < n; i++)
                print_plain(path, m + (size_t)i * o->k, n_found, o->threshold, o->show_distances);
        }
    } else if (st == FR_E_NOMEM) {
        fprintf(stderr, "facerec identify: %s: out of memory\n", path);
        status = CLI_E_OTHER;
    } else {
        status = cli_fail(st);
    }
    free(probes);
    free(m);
    fr_faces_free(faces);
    return status ? status : n == 0 ? CLI_NO_FACE : CLI_OK;
}

int cmd_identify(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, 0, 'd'}, {"threshold", required_argument, 0, 't'},
        {"fpir", required_argument, 0, 'f'}, {"show-distances", no_argument, 0, 's'},
        {"candidates", required_argument, 0, 'k'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    const char *default_model = cfg.model, *db_path = NULL;
    identify_options o = {-1, 0, 0, 5};
    double fpir = 0.01, v;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': db_path = optarg; break;
        case 't':
            if (cli_real_option("identify", "--threshold", optarg, 0, 0, 4, &v)) return CLI_USAGE;
            o.threshold = (float)v;
            break;
        case 'f':
            if (cli_real_option("identify", "--fpir", optarg, 0, 1, 1, &fpir)) return CLI_USAGE;
            break;
        case 's': o.show_distances = 1; break;
        case 'k':
            if (cli_int_option("identify", "--candidates", optarg, 1, 100000, &o.k)) return CLI_USAGE;
            break;
        case 'j': o.json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("identify", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (optind >= argc) return cli_usage_error("identify", "no image given");

    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 0, &g);
    if (st != FR_OK) return cli_fail(st);
    fr_gallery_info info;
    st = fr_gallery_get_info(g, &info);
    if (st == FR_OK && info.n_people == 0) {
        fprintf(stderr, "facerec identify: %s: nobody is enrolled yet (facerec enroll)\n",
                fr_gallery_path(g));
        fr_gallery_close(g);
        return CLI_NO_FACE;
    }
    if (st == FR_OK && o.threshold < 0) {
        fr_threshold th;
        st = fr_gallery_identify_threshold(g, fpir, &th);
        o.threshold = th.distance;
    }
    if (st != FR_OK) {
        fr_gallery_close(g);
        return cli_fail(st);
    }
    if (o.show_distances) o.k = info.n_people;
    fr_engine *eng;
    int status = cli_open_engine_for_gallery(&cfg, default_model, g, &eng);
    if (status) {
        fr_gallery_close(g);
        return status;
    }
    for (int a = optind; a < argc; a++)
        status = cli_combine_status(status, identify_image(eng, g, argv[a], &o));
    fr_engine_close(eng);
    fr_gallery_close(g);
    return status;
}
