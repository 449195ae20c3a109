/* cmd_identify.c: facerec identify [--db F] [--threshold T] [--fpir R] [--show-distances]
 * [--liveness] [--require-live] [--json] IMAGE... */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec identify [options] IMAGE...\n"
    "Name every face: the nearest enrolled person, or unknown when farther than the threshold.\n"
    "Prints one CSV line per face: image,name,distance,x,y,w,h (the face's box; unknown for\n"
    "strangers), or image,no_faces,,,,, when an image has none. Fields holding a comma, a\n"
    "quote or a line break are quoted as RFC 4180 does. Exits 3 if an image had no face\n"
    "(after the others) or nobody is enrolled.\n\n"
    "  --db DB             gallery: a file or a postgresql:// URI (default: $FACEREC_DB,\n"
    "                      else facerec.db)\n"
    "  --threshold T       distance threshold (default: from the calibration and --fpir)\n"
    "  --fpir R            target false-positive identification rate: the share of\n"
    "                      strangers named as someone (default 0.01)\n"
    "  --show-distances    the distance to each enrolled person too\n"
    "  --candidates K      people listed per face in --json (default 5)\n"
    "  --json              one JSON object per image, one per line\n"
    "  --liveness          also score each face as live or an attack (a photo or a screen\n"
    "                      held up to the camera): a column, or \"liveness\" and \"live\"\n"
    "  --require-live      (implies --liveness) an attack is never named: it is reported as\n"
    "                      spoof (in --json: identity null, \"spoof\": true, no candidates)\n"
    CLI_ENGINE_HELP;

typedef struct identify_options {
    float threshold;
    int show_distances, json, k;
    int liveness, require_live;
} identify_options;

/* One CSV row per face: image,name,distance,x,y,w,h (RFC 4180 quoting), then with liveness
 * its score and "live" or "attack". With require_live an attack is named "spoof", with no
 * distance, and who it resembles is not told. */
static void print_plain(const char *path, const fr_face *f, const fr_match *m, int n_found,
                        float threshold, const identify_options *o, const float *liveness) {
    int spoof = o->require_live && *liveness < FR_LIVENESS_THRESHOLD;
    const char *name = spoof ? "spoof" : m[0].distance <= threshold ? m[0].name : "unknown";
    cli_csv_field(stdout, path);
    putchar(',');
    cli_csv_field(stdout, name);
    if (spoof) putchar(',');
    else printf(",%.4f", m[0].distance);
    printf(",%.1f,%.1f,%.1f,%.1f", f->x, f->y, f->w, f->h);
    if (liveness)
        printf(",%.4f,%s", *liveness, *liveness >= FR_LIVENESS_THRESHOLD ? "live" : "attack");
    putchar('\n');
    for (int j = 0; !spoof && o->show_distances && j < n_found; j++) {
        fputs("    ", stdout);
        cli_csv_field(stdout, m[j].name);
        printf(",%.4f\n", m[j].distance);
    }
}

static json_t *json_face(const fr_face *f, const fr_match *m, int n_found, float threshold,
                         const identify_options *o, const float *liveness) {
    int spoof = o->require_live && *liveness < FR_LIVENESS_THRESHOLD;
    const float box[4] = {f->x, f->y, f->w, f->h};
    json_t *o_face = json_object(), *b = json_array(), *candidates = json_array();
    for (int i = 0; b && i < 4; i++) json_array_append_new(b, cli_json_num(box[i]));
    for (int j = 0; !spoof && candidates && j < n_found; j++) {
        json_t *c = json_object();
        if (c) json_object_set_new(c, "name", cli_json_text(m[j].name));
        if (c) json_object_set_new(c, "distance", cli_json_num(m[j].distance));
        json_array_append_new(candidates, c);
    }
    if (!o_face) {
        json_decref(b);
        json_decref(candidates);
        return NULL;
    }
    json_object_set_new(o_face, "box", b);
    json_object_set_new(o_face, "identity", !spoof && m[0].distance <= threshold
                                                ? cli_json_text(m[0].name) : json_null());
    if (liveness) {
        json_object_set_new(o_face, "liveness", cli_json_num(*liveness));
        json_object_set_new(o_face, "live", json_boolean(*liveness >= FR_LIVENESS_THRESHOLD));
    }
    if (spoof) json_object_set_new(o_face, "spoof", json_true());
    json_object_set_new(o_face, "distance", spoof ? json_null() : cli_json_num(m[0].distance));
    json_object_set_new(o_face, "candidates", candidates);
    return o_face;
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
    float *liveness = NULL;
    fr_status st = fr_process(eng, img, &faces, &n);
    if (st == FR_OK && o->liveness && (status = cli_liveness(eng, img, faces, n, &liveness))) {
        fr_faces_free(faces);
        fr_image_free(img);
        return status;
    }
    fr_image_free(img);
    if (st != FR_OK) return cli_fail_file(path, st);
    int dim = fr_engine_dim(eng), n_found = 0;
    float *probes = malloc((size_t)(n ? n : 1) * (size_t)dim * sizeof(float));
    fr_match *m = malloc((size_t)(n ? n : 1) * (size_t)o->k * sizeof *m);
    if (!probes || !m) st = FR_E_NOMEM;
    for (int i = 0; st == FR_OK && i < n; i++)
        memcpy(probes + (size_t)i * dim, faces[i].embedding, (size_t)dim * sizeof(float));
    if (st == FR_OK && n > 0) st = fr_gallery_search(g, probes, n, o->k, m, &n_found);
    if (st == FR_OK) {
        if (o->json) {
            json_t *record = json_object(), *list = json_array();
            for (int i = 0; list && i < n; i++)
                json_array_append_new(list, json_face(&faces[i], m + (size_t)i * o->k, n_found,
                                                      o->threshold, o,
                                                      liveness ? &liveness[i] : NULL));
            if (record) json_object_set_new(record, "image", cli_json_text(path));
            if (record) json_object_set_new(record, "faces", list);
            else json_decref(list);
            if (!cli_json_print(stdout, record)) st = FR_E_IO;
        } else {
            if (n == 0) {
                cli_csv_field(stdout, path);
                puts(",no_faces,,,,,");
            }
            for (int i = 0; i < n; i++)
                print_plain(path, &faces[i], m + (size_t)i * o->k, n_found, o->threshold, o,
                            liveness ? &liveness[i] : NULL);
        }
    } else if (st == FR_E_NOMEM) {
        fprintf(stderr, "facerec identify: %s: out of memory\n", path);
        status = CLI_E_OTHER;
    } else {
        status = cli_fail_file(path, st);
    }
    free(probes);
    free(m);
    free(liveness);
    fr_faces_free(faces);
    return status ? status : n == 0 ? CLI_NO_FACE : CLI_OK;
}

int cmd_identify(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, 0, 'd'}, {"threshold", required_argument, 0, 't'},
        {"fpir", required_argument, 0, 'f'}, {"show-distances", no_argument, 0, 's'},
        {"candidates", required_argument, 0, 'k'}, {"json", no_argument, 0, 'j'},
        {"liveness", no_argument, 0, 'l'}, {"require-live", no_argument, 0, 'r'},
        {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    const char *default_model = cfg.model, *db_path = NULL;
    identify_options o = {-1, 0, 0, 5, 0, 0};
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
            /* any count: the search is bounded by the gallery's size (below) */
            if (cli_int_option("identify", "--candidates", optarg, 1, INT_MAX, &o.k)) return CLI_USAGE;
            break;
        case 'j': o.json = 1; break;
        case 'l': o.liveness = 1; break;
        case 'r': o.liveness = o.require_live = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("identify", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    cfg.liveness = o.liveness;
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
    /* never more candidates than people: --candidates 2000000000 must not allocate for them */
    if (o.show_distances || o.k > info.n_people) o.k = info.n_people;
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
