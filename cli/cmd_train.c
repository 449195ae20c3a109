/* cmd_train.c: facerec train --data DIR --out FILE [options]: fine-tune the embedding on
 * photos of one's own people with the triplet loss: a head on the frozen base model, or the
 * whole network (--full). */
#include "cli.h"

#include "train/train.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *usage =
    "usage: facerec train --data FOLDER --out FILE [options]\n"
    "Fine-tune the face embedding on photos of your own people (FOLDER holds one sub-folder of\n"
    "photos per person) with FaceNet's triplet loss and the Adam optimiser. The result is a\n"
    "model file that every command takes with --model FILE; it records its base model.\n\n"
    "  --head              train a projection on top of the frozen base embedding (default):\n"
    "                      each photo and its augmented copies are embedded once\n"
    "  --full              fine-tune the whole network (dlib-resnet, the default with --full,\n"
    "                      or a model file fine-tuned from it): each photo and its augmented\n"
    "                      copies are aligned once and kept in memory, and every batch runs\n"
    "                      through the network forward and backward (minutes per epoch for a\n"
    "                      few hundred photos)\n"
    "  --epochs N          passes over the photos (default 20; with --full 5)\n"
    "  --lr X              Adam's learning rate (default 0.001; with --full 0.00001)\n"
    "  --beta1 B, --beta2 B, --eps E   Adam's other settings (default 0.9, 0.999, 1e-8)\n"
    "  --weight-decay W    decoupled weight decay (default 0)\n"
    "  --alpha A           the triplet loss's margin (default 0.2, FaceNet's)\n"
    "  --mining M          the negatives of each anchor-positive pair: active (default: any\n"
    "                      with a positive loss, closer than the positive or not) or semi-hard\n"
    "                      (FaceNet's: farther than the positive, within the margin)\n"
    "  --batch PxK         P people of up to K photos per batch (default 10x6)\n"
    "  --augment N         augmented copies of each photo: mirrored, shifted, scaled, brighter\n"
    "                      or darker (default 2; 0: none)\n"
    "  --hidden N          add a residual ReLU layer of N units to the projection (default 0;\n"
    "                      --head only)\n"
    "  --val FOLDER        people to measure verification accuracy on after each epoch (other\n"
    "                      people than the training ones); the model of the best epoch is kept\n"
    "                      (the base model itself when no epoch beats it)\n"
    "  --holdout N         without --val, every N-th person of FOLDER is held out to validate\n"
    "                      on instead (default 5; 0: none, train on all for every epoch); a\n"
    "                      head is then trained again on everyone for the best epoch count\n"
    "  --curve FILE.png    the loss / accuracy chart (default: FILE with the extension .png)\n"
    "  --seed N            random seed: the same seed gives the same model (default 1)\n"
    "  --cache FILE        keep the embeddings in FILE (and FILE.val for --val) and reuse them\n"
    "                      while the photos and settings are the same (--head only)\n"
    "(--model names the base embedding model: mobilefacenet for --head, dlib-resnet for --full;\n"
    "a fusion cannot be trained)\n" CLI_ENGINE_HELP;

static void on_photo(int done, int total, const char *path, int face_found, void *user) {
    (void)user;
    if (!face_found) {
        cli_progress_clear();
        printf("%s: left out: %s\n", path, fr_last_error());
    }
    cli_progress(done, total, path);
}

/* The embeddings of a folder's photos, read from the cache file `cache` (may be NULL) when it
 * holds them, else computed (and written there). */
static fr_status embed_folder(const fr_engine *eng, const fr_config *cfg, const char *dir,
                              const cli_people *set, const train_augment_config *aug, uint64_t seed,
                              const char *cache, train_set *out) {
    char settings[512];
    fr_status st = train_settings(eng, cfg, settings, sizeof settings);
    if (st != FR_OK) return st;
    const char *const *paths = (const char *const *)set->photos.items;
    uint32_t key = train_set_key(settings, paths, set->labels, set->photos.n, aug, seed);
    if (cache && train_set_load(cache, key, out) == FR_OK) {
        printf("%s: %d photos of %d people, %d embeddings read from %s\n", dir, out->n_photos,
               set->n_people, out->n_photos * out->copies, cache);
        return FR_OK;
    }
    st = train_set_embed(eng, paths, set->labels, set->photos.n, set->n_people, aug, seed,
                         on_photo, NULL, out);
    cli_progress_clear();
    if (st == FR_OK)
        printf("%s: %d photos of %d people, %d embeddings\n", dir, out->n_photos,
               set->n_people, out->n_photos * out->copies);
    if (st == FR_OK && cache) st = train_set_save(out, key, cache);
    return st;
}

/* The aligned crops of a folder's photos (for --full). */
static fr_status align_folder(const fr_engine *eng, const char *dir, const cli_people *set,
                              const train_augment_config *aug, uint64_t seed, train_crops *out) {
    fr_status st = train_crops_align(eng, (const char *const *)set->photos.items, set->labels,
                                     set->photos.n, set->n_people, aug, seed, on_photo, NULL, out);
    cli_progress_clear();
    if (st == FR_OK)
        printf("%s: %d photos of %d people, %d aligned crops\n", dir, out->n_photos,
               set->n_people, out->n_photos * out->copies);
    return st;
}

static void on_epoch(const train_epoch_stats *s, void *user) {
    int epochs = *(const int *)user;
    if (s->epoch == 0) {
        if (!isnan(s->val_accuracy))
            printf("before training: validation accuracy %.2f%% (EER %.2f%%)\n",
                   100 * s->val_accuracy, 100 * s->val_eer);
        return;
    }
    printf("epoch %3d/%d  loss %.4f  active triplets %5.1f%% (%d)", s->epoch, epochs, s->loss,
           100 * s->active_share, s->n_triplets);
    if (!isnan(s->val_accuracy))
        printf("  validation accuracy %.2f%% (EER %.2f%%)", 100 * s->val_accuracy, 100 * s->val_eer);
    printf("\n");
    fflush(stdout);
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

int cmd_train(int argc, char **argv) {
    enum { O_DATA = 0x200, O_OUT, O_HEAD, O_FULL, O_EPOCHS, O_LR, O_BETA1, O_BETA2, O_EPS,
           O_DECAY, O_ALPHA, O_BATCH, O_AUGMENT, O_HIDDEN, O_VAL, O_CURVE, O_SEED, O_CACHE,
           O_MINING, O_HOLDOUT };
    static const struct option options[] = {
        {"data", required_argument, 0, O_DATA}, {"out", required_argument, 0, O_OUT},
        {"head", no_argument, 0, O_HEAD}, {"full", no_argument, 0, O_FULL},
        {"epochs", required_argument, 0, O_EPOCHS}, {"lr", required_argument, 0, O_LR},
        {"beta1", required_argument, 0, O_BETA1}, {"beta2", required_argument, 0, O_BETA2},
        {"eps", required_argument, 0, O_EPS}, {"weight-decay", required_argument, 0, O_DECAY},
        {"alpha", required_argument, 0, O_ALPHA}, {"batch", required_argument, 0, O_BATCH},
        {"augment", required_argument, 0, O_AUGMENT}, {"hidden", required_argument, 0, O_HIDDEN},
        {"val", required_argument, 0, O_VAL}, {"curve", required_argument, 0, O_CURVE},
        {"seed", required_argument, 0, O_SEED}, {"cache", required_argument, 0, O_CACHE},
        {"mining", required_argument, 0, O_MINING}, {"holdout", required_argument, 0, O_HOLDOUT},
        {"help", no_argument, 0, 'h'},
        CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.model = NULL; /* the default base depends on --full */
    train_config tc;
    train_config_defaults(&tc);
    train_augment_config aug;
    train_augment_defaults(&aug);
    const char *data = NULL, *out = NULL, *val_dir = NULL, *curve = NULL, *cache = NULL;
    int full = 0, hidden = 0, lr_given = 0, epochs_given = 0, holdout = 5, seed, opt;
    double v;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case O_DATA: data = optarg; break;
        case O_OUT: out = optarg; break;
        case O_HEAD: full = 0; break;
        case O_FULL: full = 1; break;
        case O_VAL: val_dir = optarg; break;
        case O_CURVE: curve = optarg; break;
        case O_CACHE: cache = optarg; break;
        case O_EPOCHS:
            if (cli_int_option("train", "--epochs", optarg, 1, 100000, &tc.epochs)) return CLI_USAGE;
            epochs_given = 1;
            break;
        case O_MINING:
            if (!strcmp(optarg, "active")) tc.mining = TRAIN_MINING_ACTIVE;
            else if (!strcmp(optarg, "semi-hard")) tc.mining = TRAIN_MINING_SEMI_HARD;
            else return cli_usage_error("train", "--mining: '%s' is neither active nor semi-hard",
                                        optarg);
            break;
        case O_HOLDOUT:
            if (cli_int_option("train", "--holdout", optarg, 0, 1000, &holdout)) return CLI_USAGE;
            if (holdout == 1) return cli_usage_error("train", "--holdout 1 would hold out everyone");
            break;
        case O_LR:
            if (cli_real_option("train", "--lr", optarg, 1e-9, 0, 10, &v)) return CLI_USAGE;
            tc.adam.lr = (float)v;
            lr_given = 1;
            break;
        case O_BETA1:
            if (cli_real_option("train", "--beta1", optarg, 0, 0, 0.999999, &v)) return CLI_USAGE;
            tc.adam.beta1 = (float)v;
            break;
        case O_BETA2:
            if (cli_real_option("train", "--beta2", optarg, 0, 0, 0.999999999, &v)) return CLI_USAGE;
            tc.adam.beta2 = (float)v;
            break;
        case O_EPS:
            if (cli_real_option("train", "--eps", optarg, 1e-30, 0, 1, &v)) return CLI_USAGE;
            tc.adam.eps = (float)v;
            break;
        case O_DECAY:
            if (cli_real_option("train", "--weight-decay", optarg, 0, 0, 1, &v)) return CLI_USAGE;
            tc.adam.weight_decay = (float)v;
            break;
        case O_ALPHA:
            if (cli_real_option("train", "--alpha", optarg, 1e-6, 0, 4, &v)) return CLI_USAGE;
            tc.alpha = (float)v;
            break;
        case O_AUGMENT:
            if (cli_int_option("train", "--augment", optarg, 0, 31, &aug.copies)) return CLI_USAGE;
            break;
        case O_HIDDEN:
            if (cli_int_option("train", "--hidden", optarg, 0, 4096, &hidden)) return CLI_USAGE;
            break;
        case O_SEED:
            if (cli_int_option("train", "--seed", optarg, 0, INT_MAX, &seed)) return CLI_USAGE;
            tc.seed = (uint64_t)seed;
            break;
        case O_BATCH:
            if (cli_pair_option("train", "--batch", optarg, 2, 1000, &tc.people_per_batch,
                                &tc.photos_per_person))
                return CLI_USAGE;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("train", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (!data) return cli_usage_error("train", "--data FOLDER is required");
    if (!out) return cli_usage_error("train", "--out FILE is required");
    if (optind != argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!cfg.model) cfg.model = full ? TRAIN_FULL_BASE : TRAIN_HEAD_BASE;
    const char *base = cfg.model;
    char base_path[4096];
    if (full && (hidden || cache))
        return cli_usage_error("train", "%s applies to --head only", hidden ? "--hidden" : "--cache");
    fr_status base_st = train_resolve_base(&cfg, full, base_path, sizeof base_path);
    if (base_st != FR_OK) {
        fprintf(stderr, "facerec train: %s\n", fr_last_error());
        return 2;
    }
    if (full && !lr_given) tc.adam.lr = TRAIN_FULL_DEFAULT_LR;
    if (full && !epochs_given) tc.epochs = TRAIN_FULL_DEFAULT_EPOCHS;
    char curve_path[4096];
    if (!curve) {
        const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
        int stem = dot && (!slash || dot > slash + 1) ? (int)(dot - out) : (int)strlen(out);
        snprintf(curve_path, sizeof curve_path, "%.*s.png", stem, out);
        curve = curve_path;
    }

    cli_people train_people = {0}, val_people = {0};
    train_set train = {0}, val = {0}, everyone = {0};
    train_crops faces = {0}, val_faces = {0};
    embed_head *head = NULL;
    train_full *net = NULL;
    fr_engine *eng = NULL;
    train_epoch_stats *history = NULL;
    fr_image *chart = NULL;
    int best_epoch = 0;
    int status = cli_list_people("train", data, &train_people);
    if (!status && val_dir) status = cli_list_people("train", val_dir, &val_people);
    if (status) goto done;
    fr_status st = fr_engine_open(&cfg, &eng);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char val_cache[4096];
    if (cache) snprintf(val_cache, sizeof val_cache, "%s.val", cache);
    /* held out: validation on people of the training folder (no --val) */
    int held_out = 0;
    if (st == FR_OK && full) {
        st = align_folder(eng, data, &train_people, &aug, tc.seed, &faces);
        if (st == FR_OK && val_dir) {
            st = align_folder(eng, val_dir, &val_people, NULL, 0, &val_faces);
        } else if (st == FR_OK && holdout) {
            train_crops all = faces;
            if (train_crops_split(&all, holdout, &faces, &val_faces) == FR_OK) held_out = 1;
            else faces = all;
        }
    } else if (st == FR_OK) {
        st = embed_folder(eng, &cfg, data, &train_people, &aug, tc.seed, cache, &everyone);
        if (st == FR_OK && val_dir)
            st = embed_folder(eng, &cfg, val_dir, &val_people, NULL, 0, cache ? val_cache : NULL,
                              &val);
        else if (st == FR_OK && holdout)
            held_out = train_set_split(&everyone, holdout, &train, &val) == FR_OK;
        if (st == FR_OK && !held_out) {
            train = everyone;
            memset(&everyone, 0, sizeof everyone);
        }
    }
    if (st == FR_OK && !val_dir && holdout && !held_out)
        printf("no validation (%s): training on everyone for %d epochs\n", fr_last_error(),
               tc.epochs);
    else if (st == FR_OK && held_out)
        printf("validation: every %d-th person of %s held out (%d photos; --val or --holdout "
               "to change)\n", holdout, data, full ? val_faces.n_photos : val.n_photos);
    int validated = val_dir || held_out;
    double prepare_seconds = seconds_since(&t0);
    if (st == FR_OK) {
        printf("%s in %.1f s\n", full ? "aligned" : "embedded", prepare_seconds);
        train_rng rng = {tc.seed};
        st = full ? train_full_load(base_path, &net)
                  : train_head_new(base, fr_engine_dim(eng), hidden, &rng, &head);
    }
    if (st == FR_OK && !(history = calloc((size_t)tc.epochs + 1, sizeof *history)))
        st = cli_error(FR_E_NOMEM, "out of memory");
    if (st == FR_OK) {
        tc.threads = fr_engine_threads(eng); /* --threads, as the engine took it */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = full ? train_full_fit(net, &faces, validated ? &val_faces : NULL, &tc, on_epoch,
                                   &tc.epochs, history, &best_epoch)
                  : train_head_fit(head, &train, validated ? &val : NULL, &tc, on_epoch,
                                   &tc.epochs, history, &best_epoch);
    }
    if (st == FR_OK && !full && held_out && best_epoch > 0) {
        /* the held-out people chose the epoch count; now everyone trains the head */
        train_config again = tc;
        again.epochs = best_epoch;
        train_rng rng = {tc.seed};
        train_head_free(head);
        head = NULL;
        st = train_head_new(base, fr_engine_dim(eng), hidden, &rng, &head);
        if (st == FR_OK)
            st = train_head_fit(head, &everyone, NULL, &again, NULL, NULL, NULL, NULL);
        if (st == FR_OK)
            printf("trained again on all %d photos for %d epochs\n", everyone.n_photos,
                   best_epoch);
    }
    const char *id = full ? (net ? net->id : "") : (head ? train_head_id(head) : "");
    if (st == FR_OK) {
        printf("trained in %.1f s (%.1f s in all)\n", seconds_since(&t0),
               prepare_seconds + seconds_since(&t0));
        if (validated)
            printf("kept the %s of epoch %d, the best on %s (validation accuracy %.2f%%%s)\n",
                   full ? "network" : "head", best_epoch,
                   val_dir ? val_dir : "the held-out people",
                   100 * history[best_epoch].val_accuracy,
                   best_epoch == 0 ? ": training did not improve on the base model" : "");
        st = full ? train_full_save(net, out) : train_head_save(head, out);
    }
    if (st == FR_OK) {
        char title[160];
        snprintf(title, sizeof title, "%s on %s", id, cli_base_name(data));
        st = train_curve_plot(history, tc.epochs + 1, title, &chart);
    }
    if (st == FR_OK) st = fr_image_save(chart, curve, 0);
    if (st != FR_OK) {
        status = cli_fail(st);
        goto done;
    }
    printf("wrote %s (model %s, %s %s; use it with --model %s)\n", out, id,
           full ? "fine-tuned from" : "on top of", base, out);
    printf("wrote %s\n", curve);
done:
    fr_image_free(chart);
    free(history);
    train_head_free(head);
    train_full_free(net);
    train_set_free(&train);
    train_set_free(&val);
    train_set_free(&everyone);
    train_crops_free(&faces);
    train_crops_free(&val_faces);
    fr_engine_close(eng);
    cli_people_free(&train_people);
    cli_people_free(&val_people);
    return status;
}
