/* cmd_enroll.c: facerec enroll [--db F] [--name NAME] PATH... */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec enroll [options] PATH...\n"
    "Enroll people into the gallery. A file <name>.<ext> enrolls <name>; a folder of\n"
    "sub-folders enrolls each <name>/ with all its photos; a folder of images enrolls each\n"
    "file by its name. Each person's photos are stored in one transaction. Exits 3 if a\n"
    "photo had no face (the others are enrolled) or there was no photo to enroll.\n\n"
    "  --db DB             gallery: a file or a postgresql:// URI (default: $FACEREC_DB,\n"
    "                      else facerec.db)\n"
    "  --name NAME         enroll every photo given as NAME\n" CLI_ENGINE_HELP;

/* One person to enroll and the photos of them. */
typedef struct person_job {
    char *name;
    cli_paths photos;
} person_job;

typedef struct job_list {
    person_job *items;
    int n, cap;
    int n_photos;
} job_list;

/* The job of person `name`, added if new. */
static person_job *job_for(job_list *jobs, const char *name) {
    for (int i = 0; i < jobs->n; i++)
        if (!strcmp(jobs->items[i].name, name)) return &jobs->items[i];
    if (jobs->n == jobs->cap) {
        int cap = jobs->cap ? 2 * jobs->cap : 64;
        person_job *items = realloc(jobs->items, (size_t)cap * sizeof *items);
        if (!items) return NULL;
        jobs->items = items;
        jobs->cap = cap;
    }
    person_job *job = &jobs->items[jobs->n];
    memset(job, 0, sizeof *job);
    if (!(job->name = strdup(name))) return NULL;
    jobs->n++;
    return job;
}

static int add_photo(job_list *jobs, const char *name, const char *path) {
    person_job *job = job_for(jobs, name);
    if (!job || !cli_paths_add(&job->photos, path)) {
        fprintf(stderr, "facerec enroll: out of memory\n");
        return 0;
    }
    jobs->n_photos++;
    return 1;
}

/* "images/skuli.jpg" enrolls "skuli". */
static int add_by_stem(job_list *jobs, const char *forced_name, const char *path) {
    char stem[1024];
    snprintf(stem, sizeof stem, "%s", cli_base_name(path));
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = '\0';
    return add_photo(jobs, forced_name ? forced_name : stem, path);
}

/* Turn the PATH arguments into people and their photos. */
static int plan(job_list *jobs, const char *forced_name, char **paths, int n_paths) {
    for (int a = 0; a < n_paths; a++) {
        if (!cli_is_dir(paths[a])) {
            if (!add_by_stem(jobs, forced_name, paths[a])) return 0;
            continue;
        }
        cli_paths images = {0}, folders = {0};
        int ok = cli_list_folder(paths[a], &images, &folders);
        if (ok && forced_name && folders.n) {
            fprintf(stderr, "facerec enroll: %s holds sub-folders (one per person): --name "
                            "cannot name them all\n", paths[a]);
            ok = 0;
        }
        for (int f = 0; ok && f < folders.n; f++) {
            cli_paths photos = {0};
            ok = cli_list_folder(folders.items[f], &photos, NULL);
            char name[1024];
            snprintf(name, sizeof name, "%s", cli_base_name(folders.items[f]));
            for (int i = 0; ok && i < photos.n; i++) ok = add_photo(jobs, name, photos.items[i]);
            if (ok && photos.n == 0) printf("%s: no photos in this folder\n", folders.items[f]);
            cli_paths_free(&photos);
        }
        for (int i = 0; ok && i < images.n; i++) ok = add_by_stem(jobs, forced_name, images.items[i]);
        if (ok && images.n == 0 && folders.n == 0) printf("%s: no photos in this folder\n", paths[a]);
        cli_paths_free(&images);
        cli_paths_free(&folders);
        if (!ok) return 0;
    }
    return 1;
}

static void free_jobs(job_list *jobs) {
    for (int i = 0; i < jobs->n; i++) {
        free(jobs->items[i].name);
        cli_paths_free(&jobs->items[i].photos);
    }
    free(jobs->items);
}

typedef struct tally {
    int enrolled, people, skipped, no_face, several_faces, unreadable;
} tally;

/* What happened to one photo, printed once its person's transaction is settled. */
typedef struct outcome {
    const char *path;
    char message[512];
    int stored; /* part of the batch: says "enrolled" only after the commit */
} outcome;

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

/* Embed one person's photos and store them in one transaction. Returns 0 on a database
 * error (fatal), 1 otherwise. */
static int enroll_person(fr_engine *eng, fr_gallery *g, const person_job *job, tally *t,
                         int *done, int total) {
    int n = job->photos.n, dim = fr_engine_dim(eng);
    fr_template *templates = calloc((size_t)n, sizeof *templates);
    float *embeddings = malloc((size_t)n * (size_t)dim * sizeof(float));
    outcome *out = calloc((size_t)n, sizeof *out);
    if (!templates || !embeddings || !out) {
        free(templates);
        free(embeddings);
        free(out);
        fprintf(stderr, "facerec enroll: out of memory\n");
        return 0;
    }
    int n_templates = 0, ok = 1;
    for (int i = 0; i < n && !interrupted; i++) {
        const char *path = job->photos.items[i];
        out[i].path = path;
        cli_progress(*done, total, path);
        (*done)++;
        fr_template *tp = &templates[n_templates];
        fr_status st = fr_file_sha256(path, tp->sha256);
        int found = 0, duplicate = 0;
        char owner[256] = "";
        if (st == FR_OK) st = fr_gallery_find_source(g, tp->sha256, &found, owner, sizeof owner);
        if (st == FR_E_DB || st == FR_E_NOMEM) {
            cli_progress_clear();
            cli_fail(st);
            ok = 0;
            break;
        }
        for (int j = 0; j < n_templates && !found; j++)
            duplicate |= !memcmp(templates[j].sha256, tp->sha256, 32);
        fr_image *img = NULL;
        fr_face *faces = NULL;
        int n_faces = 0;
        if (st == FR_OK && (found || duplicate)) {
            snprintf(out[i].message, sizeof out[i].message, "skipped, already enrolled as %s",
                     found ? owner : job->name);
            t->skipped++;
            continue;
        }
        if (st == FR_OK) st = fr_image_load(path, &img);
        int loaded = st == FR_OK;
        if (st == FR_OK) st = fr_process(eng, img, &faces, &n_faces);
        fr_image_free(img);
        if (st != FR_OK) {
            snprintf(out[i].message, sizeof out[i].message, "%s: %s",
                     loaded ? "could not be processed" : "unreadable", fr_last_error());
            t->unreadable++;
        } else if (n_faces == 0) {
            snprintf(out[i].message, sizeof out[i].message, "no face found");
            t->no_face++;
        } else {
            int best = cli_largest_face(faces, n_faces);
            const fr_face *f = &faces[best];
            memcpy(embeddings + (size_t)n_templates * dim, f->embedding, (size_t)dim * sizeof(float));
            tp->embedding = embeddings + (size_t)n_templates * dim;
            tp->source = path;
            tp->x = f->x, tp->y = f->y, tp->w = f->w, tp->h = f->h;
            tp->quality = f->score;
            if (n_faces > 1) {
                snprintf(out[i].message, sizeof out[i].message,
                         "%d faces, took the largest (%.0fx%.0f at %.0f,%.0f)", n_faces, f->w, f->h,
                         f->x, f->y);
                t->several_faces++;
            }
            out[i].stored = 1;
            n_templates++;
        }
        fr_faces_free(faces);
    }
    fr_status st = FR_OK;
    if (ok && !interrupted && n_templates > 0) st = fr_gallery_enroll(g, job->name, templates, n_templates);
    cli_progress_clear();
    for (int i = 0; i < n && out[i].path; i++) {
        if (out[i].stored && (interrupted || !ok || st != FR_OK)) continue;
        if (out[i].stored)
            printf("%s: enrolled as %s%s%s\n", out[i].path, job->name, out[i].message[0] ? ", " : "",
                   out[i].message);
        else
            printf("%s: %s\n", out[i].path, out[i].message);
    }
    fflush(stdout);
    if (st != FR_OK) {
        cli_fail(st);
        ok = 0;
    } else if (ok && !interrupted && n_templates > 0) {
        t->enrolled += n_templates;
        t->people++;
    }
    free(templates);
    free(embeddings);
    free(out);
    return ok;
}

int cmd_enroll(int argc, char **argv) {
    static const struct option options[] = {
        {"db", required_argument, 0, 'd'}, {"name", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    const char *default_model = cfg.model, *db_path = NULL, *forced_name = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': db_path = optarg; break;
        case 'n': forced_name = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("enroll", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (optind >= argc) return cli_usage_error("enroll", "no photo or folder given");

    job_list jobs = {0};
    if (!plan(&jobs, forced_name, argv + optind, argc - optind)) {
        free_jobs(&jobs);
        return CLI_E_INPUT;
    }
    if (jobs.n_photos == 0) { /* each empty folder was named by plan(); no gallery is made */
        fprintf(stderr, "facerec enroll: no photo to enroll\n");
        free_jobs(&jobs);
        return CLI_NO_FACE;
    }
    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 1, &g);
    if (st != FR_OK) {
        free_jobs(&jobs);
        return cli_fail(st);
    }
    fr_engine *eng;
    int status = cli_open_engine_for_gallery(&cfg, default_model, g, &eng);
    if (status) {
        fr_gallery_close(g);
        free_jobs(&jobs);
        return status;
    }
    /* Ctrl-C stops between photos; people already stored stay, the one in progress is
     * dropped whole. A second Ctrl-C ends at once (the database stays consistent). */
    struct sigaction sa = {0}, previous;
    sa.sa_handler = on_interrupt;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &previous);

    tally t = {0};
    int done = 0, ok = 1;
    for (int i = 0; i < jobs.n && ok && !interrupted; i++)
        ok = enroll_person(eng, g, &jobs.items[i], &t, &done, jobs.n_photos);
    sigaction(SIGINT, &previous, NULL);

    printf("%s: enrolled %d photo%s of %d %s; skipped %d already enrolled; %d without a face; "
           "%d with several faces (took the largest); %d unreadable\n",
           fr_gallery_path(g), t.enrolled, t.enrolled == 1 ? "" : "s", t.people,
           t.people == 1 ? "person" : "people", t.skipped, t.no_face, t.several_faces, t.unreadable);
    if (interrupted)
        fprintf(stderr, "facerec enroll: interrupted; the people listed as enrolled are stored, "
                        "the rest is not\n");
    fr_engine_close(eng);
    fr_gallery_close(g);
    free_jobs(&jobs);
    if (interrupted) return CLI_INTERRUPTED;
    if (!ok) return CLI_E_GALLERY; /* enroll_person's database error, printed */
    if (t.unreadable) return CLI_E_INPUT;
    return t.no_face ? CLI_NO_FACE : CLI_OK;
}
