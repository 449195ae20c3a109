/* cmd_manage.c: facerec list | remove NAME... | rename OLD NEW | info  (each with --db F),
 * and facerec gallery copy | export | import (a gallery moved between databases). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DB_HELP                                                                            \
    "  --db DB             gallery: a file, or a PostgreSQL URI postgresql://USER@HOST/NAME\n" \
    "                      (default: $FACEREC_DB, else facerec.db)\n"

/* Parse --db (and --fpir for info); returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, const char *usage, const char **db_path,
                         double *fpir) {
    static const struct option options[] = {{"db", required_argument, 0, 'd'},
                                            {"fpir", required_argument, 0, 'f'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': *db_path = optarg; break;
        case 'f':
            if (!fpir) return cli_usage_error(argv[0], "unknown option");
            if (cli_real_option(argv[0], "--fpir", optarg, 0, 1, 1, fpir)) return CLI_USAGE;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_usage_error(argv[0], "unknown option");
        }
    }
    return -1;
}

static void format_time(int64_t t, char *out, size_t size) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, size, "?");
}

int cmd_list(int argc, char **argv) {
    static const char *usage = "usage: facerec list [--db DB]\n"
                               "The enrolled people: name, templates, when first enrolled.\n\n" DB_HELP;
    const char *db_path = NULL;
    int status = parse_options(argc, argv, usage, &db_path, NULL);
    if (status >= 0) return status;
    if (optind != argc) return cli_usage_error("list", "takes no arguments");
    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 0, &g);
    fr_person *people = NULL;
    int n = 0;
    if (st == FR_OK) st = fr_gallery_people(g, &people, &n);
    if (st == FR_OK) {
        for (int i = 0; i < n; i++) {
            char when[32];
            format_time(people[i].added, when, sizeof when);
            printf("%-32s %5d template%s  %s\n", people[i].name, people[i].n_templates,
                   people[i].n_templates == 1 ? " " : "s", when);
        }
        fr_people_free(people, n);
    }
    fr_gallery_close(g);
    return st == FR_OK ? 0 : cli_fail(st);
}

int cmd_remove(int argc, char **argv) {
    static const char *usage = "usage: facerec remove [--db DB] NAME...\n"
                               "Remove people and all their templates.\n\n" DB_HELP;
    const char *db_path = NULL;
    int status = parse_options(argc, argv, usage, &db_path, NULL);
    if (status >= 0) return status;
    if (optind >= argc) return cli_usage_error("remove", "no name given");
    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 0, &g);
    if (st != FR_OK) return cli_fail(st);
    status = CLI_OK;
    for (int a = optind; a < argc; a++) {
        st = fr_gallery_remove(g, argv[a]);
        if (st == FR_OK) printf("removed %s\n", argv[a]);
        else status = cli_combine_status(status, cli_fail(st));
    }
    fr_gallery_close(g);
    return status;
}

int cmd_rename(int argc, char **argv) {
    static const char *usage = "usage: facerec rename [--db DB] OLD NEW\n"
                               "Rename an enrolled person.\n\n" DB_HELP;
    const char *db_path = NULL;
    int status = parse_options(argc, argv, usage, &db_path, NULL);
    if (status >= 0) return status;
    if (argc - optind != 2) return cli_usage_error("rename", "give OLD and NEW names");
    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 0, &g);
    if (st == FR_OK) st = fr_gallery_rename(g, argv[optind], argv[optind + 1]);
    if (st == FR_OK) printf("renamed %s to %s\n", argv[optind], argv[optind + 1]);
    fr_gallery_close(g);
    return st == FR_OK ? 0 : cli_fail(st);
}

static void print_threshold(const char *what, const fr_threshold *th) {
    printf("%-12s %.4f %s: %s\n", "threshold", th->distance, what, th->note);
    if (th->origin != FR_THRESHOLD_MODEL_DEFAULT && th->frr == th->frr)
        printf("%-12s %.2f%% of genuine pairs rejected at it\n", "", 100 * th->frr);
}

int cmd_info(int argc, char **argv) {
    static const char *usage =
        "usage: facerec info [--db DB] [--fpir R]\n"
        "The gallery's model, counts, calibration and the thresholds in force, after checking\n"
        "that the database file is sound (a damaged one is an error).\n\n" DB_HELP
        "  --fpir R            the identification target to show the threshold for (default 0.01)\n";
    const char *db_path = NULL;
    double fpir = 0.01;
    int status = parse_options(argc, argv, usage, &db_path, &fpir);
    if (status >= 0) return status;
    if (optind != argc) return cli_usage_error("info", "takes no arguments");
    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 0, &g);
    fr_gallery_info info;
    if (st == FR_OK) st = fr_gallery_check(g);
    if (st == FR_OK) st = fr_gallery_get_info(g, &info);
    if (st != FR_OK) {
        fr_gallery_close(g);
        return cli_fail(st);
    }
    printf("%-12s %s\n%-12s %s\n", "gallery", fr_gallery_path(g), "backend", fr_gallery_backend(g));
    if (!info.model[0]) {
        printf("%-12s none yet (bound by the first enroll or calibrate)\n", "model");
        fr_gallery_close(g);
        return 0;
    }
    printf("%-12s %s (embeddings of %d floats, made by facerec %s)\n", "model", info.model,
           info.dim, info.model_version);
    printf("%-12s %d\n%-12s %lld\n", "people", info.n_people, "templates",
           (long long)info.n_templates);
    if (info.calibrated) {
        char when[32];
        format_time(info.calibrated_at, when, sizeof when);
        printf("%-12s %lld same-person and %lld different-person pairs from %s (%s)\n",
               "calibration", (long long)info.n_genuine_pairs, (long long)info.n_impostor_pairs,
               info.calibration_source, when);
    }
    fr_threshold id_th, verify_th;
    st = fr_gallery_identify_threshold(g, fpir, &id_th);
    if (st == FR_OK) st = fr_gallery_threshold(g, 0.001, &verify_th);
    if (!info.calibrated)
        printf("%-12s none of its own (facerec calibrate --dir FOLDER measures one)%s\n",
               "calibration",
               st == FR_OK && verify_th.origin == FR_THRESHOLD_SHIPPED
                   ? "; the model's calibration shipped with facerec is used" : "");
    if (st == FR_OK) {
        char what[64];
        snprintf(what, sizeof what, "for identify (FPIR %g)", fpir);
        print_threshold(what, &id_th);
        print_threshold("for verify (FAR 0.001)", &verify_th);
    }
    fr_gallery_close(g);
    return st == FR_OK ? 0 : cli_fail(st);
}

/* Copy gallery `from` into `to` (made if it does not exist, and then it must be empty). */
static int copy_gallery(const char *from_path, const char *to_path) {
    fr_gallery *from = NULL, *to = NULL;
    int64_t n = 0;
    fr_status st = fr_gallery_open(from_path, 0, &from);
    if (st == FR_OK) st = fr_gallery_open(to_path, 1, &to);
    if (st == FR_OK) st = fr_gallery_copy(from, to, &n);
    if (st == FR_OK)
        printf("copied %lld templates from %s to %s\n", (long long)n, fr_gallery_path(from),
               fr_gallery_path(to));
    fr_gallery_close(to);
    fr_gallery_close(from);
    return st == FR_OK ? 0 : cli_fail(st);
}

int cmd_gallery(int argc, char **argv) {
    static const char *usage =
        "usage: facerec gallery copy --from DB --to DB\n"
        "       facerec gallery export [--db DB] FILE\n"
        "       facerec gallery import [--db DB] FILE\n"
        "Move a gallery between databases (SQLite files and PostgreSQL, either way) without\n"
        "computing any embedding again: people, templates, their images, the calibration and\n"
        "the API keys. The destination is made if missing and must hold no one yet.\n"
        "export writes FILE, a new SQLite gallery (the exchange format: one file, readable by\n"
        "any facerec and by sqlite3); import copies FILE, such a gallery, into DB.\n\n" DB_HELP
        "  --from DB, --to DB  source and destination of copy\n";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : 0;
    }
    const char *action = argv[1], *db_path = NULL, *from = NULL, *to = NULL;
    static const struct option options[] = {{"db", required_argument, 0, 'd'},
                                            {"from", required_argument, 0, 'f'},
                                            {"to", required_argument, 0, 't'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': db_path = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_usage_error("gallery", "unknown option");
        }
    }
    if (!db_path) db_path = fr_gallery_default_path();
    if (!strcmp(action, "copy")) {
        if (!from || !to || optind != argc)
            return cli_usage_error("gallery", "copy takes --from DB and --to DB");
        return copy_gallery(from, to);
    }
    if (from || to) return cli_usage_error("gallery", "--from and --to are for copy");
    if (argc - optind != 1) return cli_usage_error("gallery", "%s takes one FILE", action);
    const char *file = argv[optind];
    if (!strcmp(action, "export")) {
        if (access(file, F_OK) == 0)
            return cli_usage_error("gallery", "%s exists already: export writes a new file", file);
        return copy_gallery(db_path, file);
    }
    if (!strcmp(action, "import")) {
        if (access(file, F_OK) != 0)
            return cli_usage_error("gallery", "%s: no such file", file);
        return copy_gallery(file, db_path);
    }
    return cli_usage_error("gallery", "'%s': the actions are copy, export and import", action);
}
