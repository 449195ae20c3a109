/* cmd_calibrate.c: facerec calibrate [--db F | --export FILE] [--source TEXT] --dir D */
#include "cli.h"
#include "eval/eval.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec calibrate [options] --dir FOLDER\n"
    "Measure the model's distances on labeled photos (one sub-folder per person; the face\n"
    "nearest each photo's centre, embeddings cached like facerec eval's): every\n"
    "same-person and every different-person pair. The gallery keeps both distributions;\n"
    "identify and verify read their thresholds off them.\n\n"
    "  --db DB             gallery: a file or a postgresql:// URI (default: $FACEREC_DB,\n"
    "                      else facerec.db)\n"
    "  --dir FOLDER        the labeled photos\n"
    "  --export FILE       write the calibration of the model to FILE instead of a gallery (the\n"
    "                      form shipped in data/calibration, which galleries without a\n"
    "                      calibration of their own use; scripts/calibrations.sh remakes them)\n"
    "  --source TEXT       what the photos are, as recorded (default: the folder)\n" CLI_ENGINE_HELP;

static void show_progress(int done, int total, void *user) {
    (void)user;
    cli_progress(done, total, "embedding");
}

/* Embed every photo once with the evaluation's embedder (as many photos at once as there are
 * threads, cached on disk like `facerec eval`: the face nearest the photo's centre); photos
 * without a detected face are reported and left out. Writes the embedded rows and their
 * labels to embeddings and labels; returns how many, -1 on an error. */
static int embed_all(const fr_config *cfg, const cli_people *set, float *embeddings, int *labels) {
    char cache[4096];
    fr_status st = eval_default_cache_path(cache, sizeof cache);
    eval_embeddings e = {0};
    if (st == FR_OK)
        st = eval_embed_images(cfg, (const char *const *)set->photos.items, set->photos.n, cache,
                               show_progress, NULL, &e);
    cli_progress_clear();
    if (st != FR_OK) {
        cli_fail(st);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < e.n; i++) {
        if (e.no_face[i]) {
            printf("%s: no face found, left out\n", set->photos.items[i]);
            continue;
        }
        memcpy(embeddings + (size_t)n * e.dim, e.vectors + (size_t)i * e.dim, (size_t)e.dim * sizeof(float));
        labels[n++] = set->labels[i];
    }
    if (e.n_cached) printf("%d of %d embeddings read from the cache %s\n", e.n_cached, e.n, cache);
    eval_embeddings_free(&e);
    return n;
}

int cmd_calibrate(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, 0, 'd'}, {"dir", required_argument, 0, 'D'},
        {"export", required_argument, 0, 'e'}, {"source", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    const char *default_model = cfg.model, *db_path = NULL, *dir = NULL, *export_path = NULL,
               *source = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': db_path = optarg; break;
        case 'D': dir = optarg; break;
        case 'e': export_path = optarg; break;
        case 's': source = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("calibrate", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (!dir) return cli_usage_error("calibrate", "--dir FOLDER is required");
    if (optind != argc) return cli_usage_error("calibrate", "unexpected argument '%s'", argv[optind]);
    if (db_path && export_path) return cli_usage_error("calibrate", "--db and --export exclude each other");
    if (!source) source = dir;

    cli_people set = {0};
    int listed = cli_list_people("calibrate", dir, &set);
    if (listed) {
        cli_people_free(&set);
        return listed;
    }
    fr_gallery *g = NULL;
    fr_status st = export_path ? FR_OK : fr_gallery_open(db_path, 1, &g);
    if (st != FR_OK) {
        cli_people_free(&set);
        return cli_fail(st);
    }
    fr_engine *eng = NULL;
    int status = 0;
    if (g) {
        status = cli_open_engine_for_gallery(&cfg, default_model, g, &eng);
    } else if ((st = fr_engine_open(&cfg, &eng)) != FR_OK) {
        status = cli_fail(st);
    }
    float *embeddings = NULL;
    int *labels = NULL;
    if (!status) {
        embeddings = malloc((size_t)set.photos.n * (size_t)fr_engine_dim(eng) * sizeof(float));
        labels = malloc((size_t)set.photos.n * sizeof *labels);
        if (!embeddings || !labels) {
            fprintf(stderr, "facerec calibrate: out of memory\n");
            status = 1;
        }
    }
    int n = status ? -1 : embed_all(&cfg, &set, embeddings, labels);
    if (n < 0 && !status) status = 1;
    fr_calibration_stats stats;
    if (!status) {
        st = g ? fr_gallery_calibrate(g, embeddings, labels, n, source, &stats)
               : fr_calibration_export(fr_engine_model(eng), fr_engine_dim(eng), embeddings, labels,
                                       n, source, export_path, &stats);
        if (st != FR_OK) status = cli_fail(st);
    }
    if (!status) {
        printf("%s: calibrated %s on %d photos of %d people: %lld same-person and %lld "
               "different-person pairs\n",
               g ? fr_gallery_path(g) : export_path, fr_engine_model(eng), n, set.n_people,
               (long long)stats.n_genuine_pairs, (long long)stats.n_impostor_pairs);
        printf("equal error rate %.2f%% at distance %.4f\n", 100 * stats.eer, stats.eer_distance);
        static const double fars[] = {1e-2, 1e-3, 1e-4, 1e-5, 1e-6};
        for (int i = 0; i < 5 && !status && g; i++) {
            fr_threshold th;
            st = fr_gallery_threshold(g, fars[i], &th);
            if (st != FR_OK) {
                status = cli_fail(st);
                break;
            }
            if (fars[i] * (double)stats.n_impostor_pairs < 1) break; /* not resolved by these pairs */
            printf("  false-accept rate %-6g threshold %.4f  (rejects %.2f%% of same-person pairs)\n",
                   fars[i], th.distance, 100 * th.frr);
        }
    }
    free(embeddings);
    free(labels);
    fr_engine_close(eng);
    fr_gallery_close(g);
    cli_people_free(&set);
    return status;
}
