/* cmd_eval.c: facerec eval lfw|identify|folder|landmarks: accuracy of the pipeline on labeled
 * faces; facerec eval relight: the relit test set. */
#include "cli.h"
#include "eval/eval.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *usage =
    "usage: facerec eval lfw --dir DIR [--pairs FILE] [options]\n"
    "       facerec eval identify --dir DIR [options]\n"
    "       facerec eval folder DIR [options]\n"
    "       facerec eval landmarks --dir DIR --reference FILE [options]\n"
    "       facerec eval relight --out DIR [--orl DIR] [--lfw DIR] [--seed N]\n"
    "                            [--lfw-people N] [--lfw-per-person N]\n"
    "Measure the pipeline's accuracy; make the relit test set.\n\n"
    "  lfw       LFW verification. View 2 (pairs.txt, the default): 10 folds, each fold's\n"
    "            threshold chosen on the other nine. View 1 (pairsDevTest.txt): threshold\n"
    "            chosen on the training file (--train, default pairsDevTrain.txt beside it).\n"
    "  identify  open-set 1:N on a folder per person (LFW): the first image of everyone with\n"
    "            two or more is enrolled; their other images and everyone else's are probes.\n"
    "  folder    verification on a folder per person: every same-person pair and as many\n"
    "            different-person pairs (fixed seed), 10 folds.\n\n"
    "  --dir DIR           the data set (a folder per person)\n"
    "  --reference FILE    landmarks: the reference landmarks (a relit set's landmarks.txt)\n"
    "  --per-image FILE    landmarks: a line per image (file, source: 0 detected, 1 whole,\n"
    "                      2 none; error; the whole image's fit residual, drift, error,\n"
    "                      verdict)\n"
    "  --pairs FILE        LFW pairs file (default DIR/pairs.txt)\n"
    "  --train FILE        View 1 training pairs (default pairsDevTrain.txt beside --pairs)\n"
    "  --roc FILE.png      draw the ROC curve (lfw, folder)\n"
    "  --fpir P            identify: false-positive identification rate aimed at (default 0.01)\n"
    "  --split A|B         identify: only the people of one half (by the SHA-256 of the\n"
    "                      folder's name), so a choice made on one half is tested on the other\n"
    "  --cohort-norm W     identify: score = distance - W x the matched template's mean\n"
    "                      distance to its 10 nearest other templates (default 0: distance)\n"
    "  --cache DIR         embedding cache folder (default $XDG_CACHE_HOME/facerec or\n"
    "                      ~/.cache/facerec)\n"
    "  --no-cache          neither read nor write the cache\n"
    "  --json              print one JSON object\n" CLI_ENGINE_HELP
    "\nA face is the detected face nearest the image centre; where none is detected the whole\n"
    "image is taken as the face if the 68-point net's landmarks on it have a face's shape,\n"
    "else the centre of the image is used; both are counted in the report.\n";

#define FOLDER_SEED 20240601u
#define FOLDER_FOLDS 10

typedef struct eval_cli {
    fr_config cfg;
    const char *dir, *pairs, *train, *roc, *cache_dir, *reference, *per_image;
    eval_relight_options relight;
    int json, no_cache;
    double fpir, cohort_weight;
    char split; /* 'A', 'B' or 0: every person */
    char cache_path[4096];
    struct timespec started;
} eval_cli;

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* The progress bar with the time left, from the rate so far. */
static void show_progress(int done, int total, void *user) {
    const struct timespec *t0 = user;
    double elapsed = seconds_since(t0);
    int left = done > 0 ? (int)lround(elapsed / done * (total - done)) : 0;
    char label[64];
    snprintf(label, sizeof label, "embedding, %d:%02d left", left / 60, left % 60);
    cli_progress(done, total, label);
}

/* Embed every image with the command's pipeline, the networks on one thread per image and as
 * many images at once as the engine has threads (--threads), on its pool. */
static fr_status embed_all(eval_cli *ec, char *const *paths, int n, eval_embeddings *out,
                           double *seconds) {
    const char *cache = NULL;
    if (!ec->no_cache) {
        fr_status st = FR_OK;
        if (ec->cache_dir) {
            if (snprintf(ec->cache_path, sizeof ec->cache_path, "%s/embeddings.db",
                         ec->cache_dir) >= (int)sizeof ec->cache_path)
                st = cli_error(FR_E_ARG, "%s: path too long", ec->cache_dir);
        } else {
            st = eval_default_cache_path(ec->cache_path, sizeof ec->cache_path);
        }
        if (st != FR_OK) return st;
        cache = ec->cache_path;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fr_status st =
        eval_embed_images(&ec->cfg, (const char *const *)paths, n, cache, show_progress, &t0, out);
    cli_progress_clear();
    *seconds = seconds_since(&t0);
    return st;
}

/* ---- output ------------------------------------------------------------------------------ */

/* With --json the figures go into the record o (built with jansson; NULL when out of
 * memory, which cli_json_print reports); else they are printed as text. */
static void print_pipeline(const eval_cli *ec, const eval_embeddings *e, double embed_seconds,
                           json_t *o) {
    const fr_config *c = &ec->cfg;
    if (ec->json) {
        json_object_set_new(o, "model", cli_json_text(c->model ? c->model : FR_DEFAULT_MODEL));
        json_object_set_new(o, "detector",
                            cli_json_text(c->detector ? c->detector : FR_DEFAULT_DETECTOR));
        json_object_set_new(o, "landmarks", cli_json_text(c->landmarks ? c->landmarks : "68"));
        json_object_set_new(o, "align", cli_json_text(e->align));
        json_object_set_new(o, "flip", json_boolean(c->flip));
        json_object_set_new(o, "images", json_integer(e->n));
        json_object_set_new(o, "no_face_images", json_integer(e->n_no_face));
        json_object_set_new(o, "whole_image_faces", json_integer(e->n_whole));
        json_object_set_new(o, "cached", json_integer(e->n_cached));
        json_object_set_new(o, "computed", json_integer(e->n_computed));
        json_object_set_new(o, "faces_cached", json_integer(e->n_faces_cached));
        json_object_set_new(o, "embed_seconds", cli_json_num(embed_seconds));
        return;
    }
    printf("pipeline: model %s, detector %s, landmarks %s, align %s, flip %s\n",
           c->model ? c->model : FR_DEFAULT_MODEL, c->detector ? c->detector : FR_DEFAULT_DETECTOR,
           c->landmarks ? c->landmarks : "68", e->align, c->flip ? "on" : "off");
    printf("images: %d (%d computed, of which %d on faces found before; %d from the cache) in "
           "%.1f s; no face detected in %d: %d taken whole (their landmarks a face's), %d "
           "centre crops\n", e->n, e->n_computed, e->n_faces_cached, e->n_cached, embed_seconds,
           e->n_whole + e->n_no_face, e->n_whole, e->n_no_face);
}

static json_t *json_doubles(const double *values, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, cli_json_num(values[i]));
    return a;
}

static void print_verification(const eval_cli *ec, const eval_verification *v, int no_face_pairs,
                               json_t *o) {
    int folds = v->n_folds_tested;
    double stderr_mean = v->accuracy_std / sqrt((double)folds);
    if (ec->json) {
        json_object_set_new(o, "accuracy", cli_json_num(v->accuracy_mean));
        json_object_set_new(o, "accuracy_std", cli_json_num(v->accuracy_std));
        json_object_set_new(o, "accuracy_stderr", cli_json_num(stderr_mean));
        json_object_set_new(o, "fold_accuracy", json_doubles(v->fold_accuracy, folds));
        json_object_set_new(o, "fold_threshold", json_doubles(v->fold_threshold, folds));
        json_object_set_new(o, "threshold_mean", cli_json_num(v->threshold_mean));
        json_object_set_new(o, "genuine_pairs", json_integer(v->n_genuine));
        json_object_set_new(o, "impostor_pairs", json_integer(v->n_impostor));
        json_object_set_new(o, "no_face_pairs", json_integer(no_face_pairs));
        json_object_set_new(o, "auc", cli_json_num(v->auc));
        json_object_set_new(o, "auc_se", cli_json_num(v->auc_se));
        json_object_set_new(o, "eer", cli_json_num(v->eer));
        json_object_set_new(o, "eer_threshold", cli_json_num(v->eer_threshold));
        for (int i = 0; i < EVAL_N_FAR_TARGETS; i++) {
            char name[64];
            snprintf(name, sizeof name, "tar_at_far_%g", eval_far_targets[i]);
            json_object_set_new(o, name, cli_json_num(v->tar_at_far[i]));
            snprintf(name, sizeof name, "threshold_at_far_%g", eval_far_targets[i]);
            json_object_set_new(o, name, cli_json_num(v->threshold_at_far[i]));
        }
        return;
    }
    printf("pairs with a centre-crop image: %d\n", no_face_pairs);
    if (folds > 1)
        printf("accuracy: %.2f%% +- %.2f%% (standard deviation over %d folds; standard error "
               "%.2f%%)\n", 100 * v->accuracy_mean, 100 * v->accuracy_std, folds,
               100 * stderr_mean);
    else
        printf("accuracy: %.2f%%\n", 100 * v->accuracy_mean);
    printf("threshold: %.4f (%s)\n", v->threshold_mean,
           folds > 1 ? "mean of the folds' thresholds" : "chosen on the training pairs");
    printf("over %d same-person and %d different-person pairs:\n", v->n_genuine, v->n_impostor);
    printf("  AUC %.5f (standard error %.5f), equal error rate %.2f%% at distance %.4f\n",
           v->auc, v->auc_se, 100 * v->eer, v->eer_threshold);
    for (int i = 0; i < EVAL_N_FAR_TARGETS; i++) {
        double far = eval_far_targets[i];
        printf("  TAR %.2f%% at FAR <= %g%% (distance <= %.4f)%s\n", 100 * v->tar_at_far[i],
               100 * far, v->threshold_at_far[i],
               far * v->n_impostor < 1 ? " (fewer impostor pairs than 1/FAR: no false accept)"
                                       : "");
    }
}

/* The ROC curve of the tested pairs, drawn to ec->roc. */
static fr_status write_roc(const eval_cli *ec, const float *distances, const int *same, int n,
                           int n_impostor, const char *title) {
    eval_roc_point *points;
    int n_points;
    fr_status st = eval_roc(distances, same, n, &points, &n_points);
    if (st != FR_OK) return st;
    fr_image *img;
    st = eval_roc_plot(points, n_points, n_impostor, title, &img);
    free(points);
    if (st != FR_OK) return st;
    st = fr_image_save(img, ec->roc, 0);
    fr_image_free(img);
    return st;
}

/* Verification of the protocol's pairs: embed, measure, print. */
static int run_verification(eval_cli *ec, const eval_protocol *p, const char *name,
                            const char *source) {
    eval_embeddings e;
    double embed_seconds;
    int printed = 1;
    fr_status st = embed_all(ec, p->images, p->n_images, &e, &embed_seconds);
    if (st != FR_OK) return cli_fail(st);
    /* every pair's distance, and apart those of the tested pairs (all of them under
     * cross-validation) for the ROC curve */
    float *distances = malloc((size_t)p->n_pairs * sizeof *distances);
    int *same = malloc((size_t)p->n_pairs * sizeof *same);
    int *fold = malloc((size_t)p->n_pairs * sizeof *fold);
    float *tested = malloc((size_t)p->n_pairs * sizeof *tested);
    int *tested_same = malloc((size_t)p->n_pairs * sizeof *tested_same);
    if (!distances || !same || !fold || !tested || !tested_same) {
        st = cli_error(FR_E_NOMEM, "out of memory for %d pairs", p->n_pairs);
        goto done;
    }
    int no_face_pairs = 0, n_tested = 0;
    for (int i = 0; i < p->n_pairs; i++) {
        const eval_pair *q = &p->pairs[i];
        distances[i] = fr_distance(e.vectors + (size_t)q->a * e.dim,
                                   e.vectors + (size_t)q->b * e.dim, e.dim);
        same[i] = q->same;
        fold[i] = q->fold;
        if (p->test_fold < 0 || q->fold == p->test_fold) {
            no_face_pairs += e.no_face[q->a] || e.no_face[q->b];
            tested[n_tested] = distances[i];
            tested_same[n_tested++] = q->same;
        }
    }
    eval_verification v;
    st = eval_verify(distances, same, fold, p->n_pairs, p->n_folds, p->test_fold, &v);
    if (st != FR_OK) goto done;
    if (ec->roc) {
        char title[128];
        snprintf(title, sizeof title, "%s, %s%s", name, ec->cfg.model ? ec->cfg.model : FR_DEFAULT_MODEL,
                 ec->cfg.flip ? " + flip" : "");
        st = write_roc(ec, tested, tested_same, n_tested, v.n_impostor, title);
        if (st != FR_OK) goto done;
    }
    json_t *record = ec->json ? json_object() : NULL;
    if (ec->json) {
        json_object_set_new(record, "protocol", cli_json_text(name));
        json_object_set_new(record, "source", cli_json_text(source));
        json_object_set_new(record, "pairs", json_integer(n_tested));
        json_object_set_new(record, "folds", json_integer(v.n_folds_tested));
    } else {
        printf("%s (%s): %d pairs tested%s\n", name, source, n_tested,
               p->test_fold < 0 ? ", each fold with the threshold of the others" : "");
    }
    print_pipeline(ec, &e, embed_seconds, record);
    print_verification(ec, &v, no_face_pairs, record);
    if (ec->json) {
        if (ec->roc) json_object_set_new(record, "roc", cli_json_text(ec->roc));
        json_object_set_new(record, "seconds", cli_json_num(seconds_since(&ec->started)));
        printed = cli_json_print(stdout, record);
    } else {
        if (ec->roc) printf("ROC curve: %s\n", ec->roc);
        printf("time: %.1f s\n", seconds_since(&ec->started));
    }
done:
    free(distances), free(same), free(fold), free(tested), free(tested_same);
    eval_embeddings_free(&e);
    if (st != FR_OK) return cli_fail(st);
    return printed ? 0 : 1; /* a JSON record that could not be written was reported */
}

/* ---- the three evaluations ---------------------------------------------------------------- */

static int eval_lfw(eval_cli *ec) {
    if (!ec->dir) return cli_usage_error("eval", "lfw needs --dir (the LFW folder)");
    char default_pairs[4096], default_train[4096];
    const char *pairs = ec->pairs;
    if (!pairs) {
        snprintf(default_pairs, sizeof default_pairs, "%s/pairs.txt", ec->dir);
        pairs = default_pairs;
    }
    eval_protocol p;
    memset(&p, 0, sizeof p);
    int view;
    fr_status st = eval_protocol_read_pairs(pairs, ec->dir, &p, &view);
    if (st != FR_OK) return cli_fail(st);
    p.test_fold = -1;
    if (view == 1) {
        /* View 1: the threshold comes from the training file, read first as fold 0 */
        const char *train = ec->train;
        if (!train) {
            const char *slash = strrchr(pairs, '/');
            snprintf(default_train, sizeof default_train, "%.*spairsDevTrain.txt",
                     slash ? (int)(slash - pairs + 1) : 0, pairs);
            train = default_train;
        }
        if (!strcmp(train, pairs)) {
            eval_protocol_free(&p);
            return cli_usage_error("eval", "%s is a View 1 file: give the pairs to test with "
                                   "--pairs and those that choose the threshold with --train",
                                   pairs);
        }
        eval_protocol_free(&p);
        st = eval_protocol_read_pairs(train, ec->dir, &p, &view);
        if (st == FR_OK) st = eval_protocol_read_pairs(pairs, ec->dir, &p, &view);
        if (st != FR_OK) {
            eval_protocol_free(&p);
            return cli_fail(st);
        }
        p.test_fold = p.n_folds - 1;
    } else if (p.n_folds < 2) {
        eval_protocol_free(&p);
        return cli_usage_error("eval", "%s: cross-validation needs two folds or more", pairs);
    }
    char source[4200];
    snprintf(source, sizeof source, "%s", cli_base_name(pairs));
    int rc = run_verification(ec, &p, view == 1 ? "LFW View 1" : "LFW View 2", source);
    eval_protocol_free(&p);
    return rc;
}

/* Everyone's images, person by person: paths (sorted in each person) and labels. Returns
 * CLI_OK, else the exit status after printing why. */
static int list_people(const char *dir, cli_paths *images, int **labels, int **first_of,
                       int *n_people) {
    cli_paths folders = {0};
    if (!cli_list_folder(dir, NULL, &folders)) return CLI_E_INPUT;
    int ok = 1;
    *labels = NULL;
    *first_of = malloc(((size_t)folders.n + 1) * sizeof **first_of);
    *n_people = 0;
    ok = *first_of != NULL;
    for (int f = 0; ok && f < folders.n; f++) {
        cli_paths person = {0};
        ok = cli_list_folder(folders.items[f], &person, NULL);
        if (ok && person.n > 0) {
            (*first_of)[(*n_people)++] = images->n;
            for (int i = 0; ok && i < person.n; i++) ok = cli_paths_add(images, person.items[i]);
        }
        cli_paths_free(&person);
    }
    cli_paths_free(&folders);
    if (ok) {
        (*first_of)[*n_people] = images->n;
        *labels = malloc(((size_t)images->n + 1) * sizeof **labels);
        ok = *labels != NULL;
        for (int p = 0; ok && p < *n_people; p++)
            for (int i = (*first_of)[p]; i < (*first_of)[p + 1]; i++) (*labels)[i] = p;
    }
    if (!ok) {
        fprintf(stderr, "facerec eval: %s: could not list the people's images\n", dir);
        return CLI_E_INPUT;
    }
    if (images->n == 0) {
        fprintf(stderr, "facerec eval: %s: no folders of images found\n", dir);
        return CLI_NO_FACE;
    }
    return CLI_OK;
}

static int eval_folder(eval_cli *ec) {
    if (!ec->dir) return cli_usage_error("eval", "folder needs the data set's folder");
    cli_paths images = {0};
    int *labels = NULL, *first_of = NULL, n_people = 0;
    int listed = list_people(ec->dir, &images, &labels, &first_of, &n_people);
    if (listed) {
        cli_paths_free(&images);
        free(labels), free(first_of);
        return listed;
    }
    eval_protocol p;
    memset(&p, 0, sizeof p);
    p.n_folds = FOLDER_FOLDS;
    fr_status st = eval_folder_pairs(labels, images.n, &p.n_folds, FOLDER_SEED, &p.pairs,
                                     &p.n_pairs);
    free(labels), free(first_of);
    if (st != FR_OK) {
        cli_paths_free(&images);
        return cli_fail(st);
    }
    /* the protocol takes over the image list */
    p.images = images.items;
    p.n_images = images.n;
    p.test_fold = -1;
    if (p.n_folds < 2) {
        eval_protocol_free(&p);
        return cli_usage_error("eval", "%s: too few pairs for two folds", ec->dir);
    }
    char source[4200];
    snprintf(source, sizeof source, "%s, %d people", cli_base_name(ec->dir), n_people);
    int rc = run_verification(ec, &p, "folder", source);
    eval_protocol_free(&p);
    return rc;
}

/* The half ('A' or 'B') a person belongs to, from the SHA-256 of their folder's name (the
 * folder holding `image`): a split of the people that any tool can recompute. */
static char person_half(const char *image) {
    const char *end = strrchr(image, '/');
    const char *start = end;
    while (start && start > image && start[-1] != '/') start--;
    uint8_t digest[32];
    if (!end) fr_sha256("", 0, digest);
    else fr_sha256(start, (size_t)(end - start), digest);
    return digest[0] & 1 ? 'B' : 'A';
}

static int eval_identify_cmd(eval_cli *ec) {
    if (!ec->dir) return cli_usage_error("eval", "identify needs --dir (a folder per person)");
    cli_paths images = {0};
    int *labels = NULL, *first_of = NULL, n_people = 0, rc = 1;
    eval_embeddings e = {0};
    float *enrolled = NULL, *probes = NULL;
    int *enrolled_labels = NULL, *probe_labels = NULL;
    if ((rc = list_people(ec->dir, &images, &labels, &first_of, &n_people)) != CLI_OK) goto done;
    rc = CLI_E_OTHER; /* until the end is reached */
    double embed_seconds;
    fr_status st = embed_all(ec, images.items, images.n, &e, &embed_seconds);
    if (st != FR_OK) {
        rc = cli_fail(st);
        goto done;
    }
    size_t row = (size_t)e.dim * sizeof(float);
    enrolled = malloc((size_t)n_people * row);
    probes = malloc((size_t)images.n * row);
    enrolled_labels = malloc((size_t)n_people * sizeof(int));
    probe_labels = malloc((size_t)images.n * sizeof(int));
    if (!enrolled || !probes || !enrolled_labels || !probe_labels) {
        rc = cli_fail(cli_error(FR_E_NOMEM, "out of memory for %d probes", images.n));
        goto done;
    }
    /* the first image of everyone with two or more is enrolled; a person with one image is
     * a stranger to the gallery */
    int n_enrolled = 0, n_probes = 0;
    for (int p = 0; p < n_people; p++) {
        int first = first_of[p], count = first_of[p + 1] - first;
        int start = first;
        if (ec->split && person_half(images.items[first]) != ec->split) continue;
        if (count >= 2) {
            memcpy(enrolled + (size_t)n_enrolled * e.dim, e.vectors + (size_t)first * e.dim, row);
            enrolled_labels[n_enrolled++] = p;
            start = first + 1;
        }
        for (int i = start; i < first + count; i++) {
            memcpy(probes + (size_t)n_probes * e.dim, e.vectors + (size_t)i * e.dim, row);
            probe_labels[n_probes++] = count >= 2 ? p : -1;
        }
    }
    eval_identification id;
    int printed = 1;
    st = eval_identify(ec->cfg.threads, enrolled, enrolled_labels, n_enrolled, probes,
                       probe_labels, n_probes, e.dim, ec->fpir, ec->cohort_weight, &id);
    if (st != FR_OK) {
        rc = cli_fail(st);
        goto done;
    }
    if (ec->json) {
        json_t *record = json_object();
        json_object_set_new(record, "protocol", cli_json_text("identify"));
        json_object_set_new(record, "source", cli_json_text(cli_base_name(ec->dir)));
        json_object_set_new(record, "people", json_integer(n_people));
        if (ec->split)
            json_object_set_new(record, "split", cli_json_text(ec->split == 'A' ? "A" : "B"));
        json_object_set_new(record, "cohort_norm", cli_json_num(ec->cohort_weight));
        json_object_set_new(record, "enrolled", json_integer(id.n_enrolled));
        json_object_set_new(record, "mated_probes", json_integer(id.n_mated));
        json_object_set_new(record, "nonmated_probes", json_integer(id.n_nonmated));
        print_pipeline(ec, &e, embed_seconds, record);
        json_object_set_new(record, "rank1", cli_json_num(id.rank1));
        json_object_set_new(record, "fpir_target", cli_json_num(id.fpir_target));
        json_object_set_new(record, "threshold", cli_json_num(id.threshold));
        json_object_set_new(record, "fpir", cli_json_num(id.fpir));
        json_object_set_new(record, "fnir", cli_json_num(id.fnir));
        json_object_set_new(record, "seconds", cli_json_num(seconds_since(&ec->started)));
        printed = cli_json_print(stdout, record);
    } else {
        printf("open-set identification (%s): %d people, %d enrolled (first image of each "
               "with two or more)\n", cli_base_name(ec->dir), n_people, id.n_enrolled);
        printf("probes: %d of enrolled people, %d of people not enrolled\n", id.n_mated,
               id.n_nonmated);
        print_pipeline(ec, &e, embed_seconds, NULL);
        printf("rank-1 identification rate: %.2f%%\n", 100 * id.rank1);
        printf("FNIR %.2f%% at FPIR %.2f%% (aimed at %g%%), threshold distance <= %.4f\n",
               100 * id.fnir, 100 * id.fpir, 100 * id.fpir_target, id.threshold);
        printf("time: %.1f s\n", seconds_since(&ec->started));
    }
    rc = printed ? 0 : 1;
done:
    free(enrolled), free(probes), free(enrolled_labels), free(probe_labels);
    eval_embeddings_free(&e);
    cli_paths_free(&images);
    free(labels), free(first_of);
    return rc;
}

static int eval_landmarks_cmd(eval_cli *ec) {
    if (!ec->dir || !ec->reference)
        return cli_usage_error("eval", "landmarks needs --dir and --reference (a relit set's "
                               "condition folder and its half's landmarks.txt)");
    eval_landmark_errors r;
    FILE *per_image = NULL;
    if (ec->per_image && !(per_image = fopen(ec->per_image, "w"))) {
        fprintf(stderr, "facerec eval: %s: cannot write: %s\n", ec->per_image, strerror(errno));
        return CLI_E_INPUT;
    }
    fr_status st = eval_landmarks(&ec->cfg, ec->dir, ec->reference, per_image, &r);
    if (per_image && fclose(per_image) != 0 && st == FR_OK) {
        fprintf(stderr, "facerec eval: %s: write failed\n", ec->per_image);
        return CLI_E_INPUT;
    }
    if (st != FR_OK) return cli_fail(st);
    const fr_config *c = &ec->cfg;
    if (ec->json) {
        json_t *o = json_object();
        json_object_set_new(o, "protocol", cli_json_text("landmarks"));
        json_object_set_new(o, "source", cli_json_text(ec->dir));
        json_object_set_new(o, "detector", cli_json_text(c->detector ? c->detector : FR_DEFAULT_DETECTOR));
        json_object_set_new(o, "images", json_integer(r.n_images));
        json_object_set_new(o, "detected", json_integer(r.n_source[EVAL_FACE_DETECTED]));
        json_object_set_new(o, "whole_image", json_integer(r.n_source[EVAL_FACE_WHOLE]));
        json_object_set_new(o, "no_face_images", json_integer(r.n_source[EVAL_FACE_CENTRE]));
        json_object_set_new(o, "mean_error", cli_json_num(r.mean_error));
        json_object_set_new(o, "median_error", cli_json_num(r.median_error));
        json_object_set_new(o, "error_over_0.1", json_integer(r.n_over_10pct));
        json_object_set_new(o, "whole_mean_error", cli_json_num(r.whole_mean_error));
        json_object_set_new(o, "whole_median_error", cli_json_num(r.whole_median_error));
        json_object_set_new(o, "whole_residual_median", cli_json_num(r.whole_residual_median));
        json_object_set_new(o, "whole_residual_p95", cli_json_num(r.whole_residual_p95));
        json_object_set_new(o, "whole_residual_p99", cli_json_num(r.whole_residual_p99));
        json_object_set_new(o, "whole_residual_max", cli_json_num(r.whole_residual_max));
        json_object_set_new(o, "whole_accepted", json_integer(r.n_whole_accepted));
        json_object_set_new(o, "seconds", cli_json_num(seconds_since(&ec->started)));
        return cli_json_print(stdout, o) ? 0 : 1;
    }
    printf("landmarks (%s): %d images, detector %s: %d detected, %d taken whole (landmarks "
           "passed the check), %d without a face\n", ec->dir, r.n_images,
           c->detector ? c->detector : FR_DEFAULT_DETECTOR, r.n_source[EVAL_FACE_DETECTED],
           r.n_source[EVAL_FACE_WHOLE], r.n_source[EVAL_FACE_CENTRE]);
    printf("five alignment points' error over the eyes' distance: mean %.4f, median %.4f; "
           "%d faces above 0.1\n", r.mean_error, r.median_error, r.n_over_10pct);
    printf("the whole image as the face, on every image: error mean %.4f, median %.4f; fit "
           "residual median %.4f, 95%% %.4f, 99%% %.4f, max %.4f; %d of %d pass the check\n",
           r.whole_mean_error, r.whole_median_error, r.whole_residual_median,
           r.whole_residual_p95, r.whole_residual_p99, r.whole_residual_max,
           r.n_whole_accepted, r.n_images);
    return 0;
}

static int eval_relight_cmd(eval_cli *ec) {
    eval_relight_options *o = &ec->relight;
    if (!o->out_dir) return cli_usage_error("eval", "relight needs --out (a new or empty folder)");
    if (!o->orl_dir && !o->lfw_dir) return cli_usage_error("eval", "relight needs --orl or --lfw");
    o->models_dir = ec->cfg.models_dir;
    o->threads = ec->cfg.threads;
    eval_relight_summary s;
    fr_status st = eval_relight_generate(o, &s);
    if (st != FR_OK) return cli_fail(st);
    if (ec->json) {
        json_t *r = json_object();
        json_object_set_new(r, "out", cli_json_text(o->out_dir));
        json_object_set_new(r, "tune_people", json_integer(s.people[0]));
        json_object_set_new(r, "tune_images", json_integer(s.images[0]));
        json_object_set_new(r, "test_people", json_integer(s.people[1]));
        json_object_set_new(r, "test_images", json_integer(s.images[1]));
        json_object_set_new(r, "skipped", json_integer(s.skipped));
        json_object_set_new(r, "seconds", cli_json_num(seconds_since(&ec->started)));
        return cli_json_print(stdout, r) ? 0 : 1;
    }
    printf("relit set in %s: tune %d people, %d photos; test %d people, %d photos (each unlit and "
           "in %d light bands); %d source photos without a face left out; %.1f s\n",
           o->out_dir, s.people[0], s.images[0], s.people[1], s.images[1], EVAL_RELIGHT_BANDS,
           s.skipped, seconds_since(&ec->started));
    return 0;
}

int cmd_eval(int argc, char **argv) {
    static const struct option options[] = {
        {"dir", required_argument, 0, 'd'},   {"pairs", required_argument, 0, 'p'},
        {"reference", required_argument, 0, 'R'}, {"per-image", required_argument, 0, 'I'},
        {"orl", required_argument, 0, 'O'},   {"lfw", required_argument, 0, 'L'},
        {"out", required_argument, 0, 'o'},   {"seed", required_argument, 0, 's'},
        {"lfw-people", required_argument, 0, 'P'}, {"lfw-per-person", required_argument, 0, 'K'},
        {"train", required_argument, 0, 't'},
        {"roc", required_argument, 0, 'r'},   {"fpir", required_argument, 0, 'F'},
        {"split", required_argument, 0, 'S'}, {"cohort-norm", required_argument, 0, 'C'},
        {"cache", required_argument, 0, 'c'}, {"no-cache", no_argument, 0, 'n'},
        {"json", no_argument, 0, 'j'},        {"help", no_argument, 0, 'h'},
        CLI_ENGINE_LONG_OPTIONS,              {0, 0, 0, 0}};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 2) return cli_usage_error("eval", "which evaluation? lfw, identify or folder");
    const char *what = argv[1];
    eval_cli ec;
    memset(&ec, 0, sizeof ec);
    fr_config_init(&ec.cfg);
    ec.fpir = 0.01;
    ec.relight.seed = 16;
    ec.relight.lfw_people = 120;
    ec.relight.lfw_per_person = 4;
    clock_gettime(CLOCK_MONOTONIC, &ec.started);
    int opt;
    optind = 1;
    /* the options follow the evaluation's name */
    while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        switch (opt) {
        case 'd': ec.dir = optarg; break;
        case 'p': ec.pairs = optarg; break;
        case 't': ec.train = optarg; break;
        case 'r': ec.roc = optarg; break;
        case 'F':
            if (cli_real_option("eval", "--fpir", optarg, 0, 1, 1, &ec.fpir)) return CLI_USAGE;
            break;
        case 'S':
            if (strcmp(optarg, "A") != 0 && strcmp(optarg, "B") != 0)
                return cli_usage_error("eval", "--split takes A or B, not '%s'", optarg);
            ec.split = optarg[0];
            break;
        case 'C':
            if (cli_real_option("eval", "--cohort-norm", optarg, 0, 0, 2, &ec.cohort_weight))
                return CLI_USAGE;
            break;
        case 'c': ec.cache_dir = optarg; break;
        case 'R': ec.reference = optarg; break;
        case 'I': ec.per_image = optarg; break;
        case 'O': ec.relight.orl_dir = optarg; break;
        case 'L': ec.relight.lfw_dir = optarg; break;
        case 'o': ec.relight.out_dir = optarg; break;
        case 's': {
            int seed;
            if (cli_int_option("eval", "--seed", optarg, 0, 2147483647L, &seed)) return CLI_USAGE;
            ec.relight.seed = (uint64_t)seed;
            break;
        }
        case 'P': {
            if (cli_int_option("eval", "--lfw-people", optarg, 2, 5749, &ec.relight.lfw_people))
                return CLI_USAGE;
            break;
        }
        case 'K': {
            if (cli_int_option("eval", "--lfw-per-person", optarg, 2, 530,
                               &ec.relight.lfw_per_person))
                return CLI_USAGE;
            break;
        }
        case 'n': ec.no_cache = 1; break;
        case 'j': ec.json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("eval", opt, optarg, &ec.cfg)) return CLI_USAGE;
        }
    }
    int n_args = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (!strcmp(what, "folder") && n_args == 1 && !ec.dir) ec.dir = args[0], n_args = 0;
    if (n_args > 0) return cli_usage_error("eval", "unexpected argument '%s'", args[0]);
    if (!strcmp(what, "lfw")) return eval_lfw(&ec);
    if (!strcmp(what, "identify")) return eval_identify_cmd(&ec);
    if (!strcmp(what, "folder")) return eval_folder(&ec);
    if (!strcmp(what, "landmarks")) return eval_landmarks_cmd(&ec);
    if (!strcmp(what, "relight")) return eval_relight_cmd(&ec);
    return cli_usage_error("eval", "unknown evaluation '%s' (lfw, identify, folder, landmarks or "
                           "relight)", what);
}
