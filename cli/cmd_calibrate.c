/* cmd_calibrate.c: facerec calibrate [--db F] --dir D */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec calibrate [options] --dir FOLDER\n"
    "Measure the model's distances on labeled photos (one sub-folder per person): every\n"
    "same-person and every different-person pair. The gallery keeps both distributions;\n"
    "identify and verify read their thresholds off them.\n\n"
    "  --db FILE           gallery database (default: $FACEREC_DB, else facerec.db)\n"
    "  --dir FOLDER        the labeled photos\n" CLI_ENGINE_HELP;

/* The photos of all people, with the person index of each. */
typedef struct labeled {
    cli_paths photos;
    int *labels;
    int n_people;
} labeled;

static int list_labeled(const char *dir, labeled *set) {
    cli_paths folders = {0};
    int ok = cli_list_folder(dir, NULL, &folders);
    for (int f = 0; ok && f < folders.n; f++) {
        cli_paths photos = {0};
        ok = cli_list_folder(folders.items[f], &photos, NULL);
        int *labels = ok ? realloc(set->labels, (size_t)(set->photos.n + photos.n + 1) * sizeof *labels) : NULL;
        if (ok && !labels) {
            fprintf(stderr, "facerec calibrate: out of memory\n");
            ok = 0;
        }
        if (labels) set->labels = labels;
        for (int i = 0; ok && i < photos.n; i++) {
            set->labels[set->photos.n] = set->n_people;
            ok = cli_paths_add(&set->photos, photos.items[i]);
        }
        set->n_people += ok && photos.n > 0;
        cli_paths_free(&photos);
    }
    cli_paths_free(&folders);
    if (ok && set->n_people < 2) {
        fprintf(stderr, "facerec calibrate: %s: needs at least two sub-folders of photos, one per person\n", dir);
        ok = 0;
    }
    return ok;
}

/* Embed the largest face of every photo once; photos without one are reported and left
 * out. Returns the number embedded, -1 on a fatal error. */
static int embed_all(fr_engine *eng, const labeled *set, float *embeddings, int *labels) {
    int dim = fr_engine_dim(eng), n = 0, several = 0;
    for (int i = 0; i < set->photos.n; i++) {
        const char *path = set->photos.items[i];
        cli_progress(i, set->photos.n, path);
        fr_image *img;
        fr_face *faces = NULL;
        int n_faces = 0;
        fr_status st = fr_image_load(path, &img);
        if (st == FR_OK) {
            st = fr_process(eng, img, &faces, &n_faces);
            fr_image_free(img);
        }
        if (st == FR_E_NOMEM) {
            cli_progress_clear();
            cli_fail(st);
            return -1;
        }
        if (st != FR_OK || n_faces == 0) {
            cli_progress_clear();
            if (st != FR_OK) printf("%s: unreadable: %s\n", path, fr_last_error());
            else printf("%s: no face found, left out\n", path);
        } else {
            several += n_faces > 1;
            memcpy(embeddings + (size_t)n * dim, faces[cli_largest_face(faces, n_faces)].embedding,
                   (size_t)dim * sizeof(float));
            labels[n++] = set->labels[i];
        }
        fr_faces_free(faces);
    }
    cli_progress_clear();
    if (several) printf("%d photos held several faces: the largest was used\n", several);
    return n;
}

int cmd_calibrate(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, 0, 'd'}, {"dir", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    const char *default_model = cfg.model, *db_path = NULL, *dir = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (cli_parse_engine_option(opt, optarg, &cfg)) continue;
        switch (opt) {
        case 'd': db_path = optarg; break;
        case 'D': dir = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_usage_error("calibrate", "unknown option");
        }
    }
    if (!dir) return cli_usage_error("calibrate", "--dir FOLDER is required");
    if (optind != argc) return cli_usage_error("calibrate", "unexpected argument '%s'", argv[optind]);

    labeled set = {0};
    if (!list_labeled(dir, &set)) {
        cli_paths_free(&set.photos);
        free(set.labels);
        return 1;
    }
    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 1, &g);
    if (st != FR_OK) {
        cli_paths_free(&set.photos);
        free(set.labels);
        return cli_fail(st);
    }
    fr_engine *eng = NULL;
    int status = cli_open_engine_for_gallery(&cfg, default_model, g, &eng);
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
    int n = status ? -1 : embed_all(eng, &set, embeddings, labels);
    if (n < 0 && !status) status = 1;
    fr_calibration_stats stats;
    if (!status) {
        st = fr_gallery_calibrate(g, embeddings, labels, n, dir, &stats);
        if (st != FR_OK) status = cli_fail(st);
    }
    if (!status) {
        printf("%s: calibrated %s on %d photos of %d people: %lld same-person and %lld "
               "different-person pairs\n",
               fr_gallery_path(g), fr_engine_model(eng), n, set.n_people,
               (long long)stats.n_genuine_pairs, (long long)stats.n_impostor_pairs);
        printf("equal error rate %.2f%% at distance %.4f\n", 100 * stats.eer, stats.eer_distance);
        static const double fars[] = {1e-2, 1e-3, 1e-4, 1e-5, 1e-6};
        for (int i = 0; i < 5 && !status; i++) {
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
    cli_paths_free(&set.photos);
    free(set.labels);
    return status;
}
