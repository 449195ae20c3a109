/* dataset.c: labeled photos -> the aligned crops of each face and its augmented copies, and
 * for the head their base embeddings, computed once before training (the base model is
 * frozen, so they never change). */
#include "train/train_internal.h"

#include "eval/eval.h"
#include "face/face.h"
#include "nn/import/frmodel.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A photo's copies are embedded as one batch of at most this many crops. */
#define EMBED_BATCH 32

/* The face of a photo's subject, chosen as `facerec eval` chooses it, so that a photo's
 * unaugmented embedding is the one evaluation computes; a centre square (no face detected) is
 * landmarked by fr_embed (which embeds it once more than needed, for these rare photos). */
static fr_status subject_face(const fr_engine *eng, const fr_image *img, fr_face *face) {
    fr_engine *e = (fr_engine *)eng; /* detection does not change the engine */
    int centred;
    fr_status st = eval_subject_face(e, img, face, &centred);
    if (st == FR_OK && centred) st = fr_embed(e, img, face, 1);
    return st;
}

/* The aligned crops of photo i's copies: crops[0..copies), copy 0 the photo itself. */
static fr_status photo_crops(const fr_engine *eng, const char *path, int index, int copies,
                             const train_augment_config *aug, uint64_t seed, fr_image **crops) {
    fr_image *img;
    fr_status st = fr_image_load(path, &img);
    if (st != FR_OK) return st;
    fr_face face;
    st = subject_face(eng, img, &face);
    /* each photo draws from its own generator, so its copies do not depend on the others */
    train_rng rng = {seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(index + 1))};
    for (int c = 0; c < copies && st == FR_OK; c++) {
        train_augmentation a = {0, 0.0f, 0.0f, 1.0f, 1.0f};
        if (c > 0) train_augment_draw(aug, &rng, &a);
        st = train_augmented_crop(eng, img, &face, &a, &crops[c]);
    }
    fr_image_free(img);
    if (st != FR_OK)
        for (int c = 0; c < copies; c++) {
            fr_image_free(crops[c]);
            crops[c] = NULL;
        }
    return st;
}

/* The photos' copies, each photo a task: embedded into rows (n * copies, dim), or their
 * crops kept in crops (n * copies); photo i's from row i * copies. */
typedef struct photo_job {
    const fr_engine *eng;
    const char *const *paths;
    int n, copies, dim;
    const train_augment_config *aug;
    uint64_t seed;
    float *rows;          /* or NULL */
    fr_image **crops;     /* or NULL */
    fr_status *status;    /* (n) */
    pthread_mutex_t lock; /* for the callback */
    int done;
    train_photo_fn fn;
    void *user;
} photo_job;

/* One photo per task: the ops inside run on the task's thread (the pool does not nest),
 * which keeps both cores busy through the serial parts (decoding, alignment) too. */
static void photo_task(void *ctx, int i) {
    photo_job *j = ctx;
    fr_image *own[EMBED_BATCH] = {NULL};
    fr_image **crops = j->crops ? j->crops + (size_t)i * j->copies : own;
    fr_status st = photo_crops(j->eng, j->paths[i], i, j->copies, j->aug, j->seed, crops);
    if (st == FR_OK && j->rows)
        st = fr_engine_embed_crops(j->eng, (const fr_image *const *)crops, j->copies,
                                   j->rows + (size_t)i * j->copies * j->dim);
    for (int c = 0; !j->crops && c < j->copies; c++) fr_image_free(own[c]);
    if (st != FR_OK && st != FR_E_NOMEM) st = fr_error_prefix(st, "%s", j->paths[i]);
    j->status[i] = st;
    pthread_mutex_lock(&j->lock);
    j->done++;
    if (j->fn) j->fn(j->done, j->n, j->paths[i], st == FR_OK, j->user);
    pthread_mutex_unlock(&j->lock);
}

/* Check the arguments shared by train_set_embed and train_crops_align; *copies is the
 * number of copies of a photo (itself and its augmented ones). */
static fr_status check_photos(const char *const *paths, const int *labels, int n, int n_people,
                              const train_augment_config *aug, int *copies) {
    if (n <= 0 || n_people <= 0)
        return fr_error(FR_E_ARG, "training: no photos or no people");
    *copies = 1 + (aug ? aug->copies : 0);
    if (*copies > EMBED_BATCH)
        return fr_error(FR_E_ARG, "at most %d augmented copies of a photo, not %d",
                        EMBED_BATCH - 1, *copies - 1);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_people)
            return fr_error(FR_E_ARG, "%s: person %d outside 0 .. %d", paths[i], labels[i],
                            n_people - 1);
    return FR_OK;
}

/* Run j over its photos, then keep the photos that worked, in their order, in labels/source
 * (n) and the rows or crops of j. Returns the number kept in *kept; running out of memory,
 * or no photo at all, is an error. */
static fr_status run_photos(photo_job *j, int threads, const int *labels, int *out_labels,
                            int *out_source, int *kept) {
    pthread_mutex_init(&j->lock, NULL);
    nn_parallel_for(threads, j->n, photo_task, j);
    pthread_mutex_destroy(&j->lock);
    fr_status st = FR_OK;
    size_t row = (size_t)j->copies * j->dim;
    int k = 0;
    for (int i = 0; i < j->n; i++) {
        if (j->status[i] == FR_E_NOMEM)
            st = fr_error(FR_E_NOMEM, "out of memory for the photo %s", j->paths[i]);
        if (j->status[i] != FR_OK) continue;
        out_labels[k] = labels[i];
        out_source[k] = i;
        if (k != i && j->rows)
            memmove(j->rows + k * row, j->rows + i * row, row * sizeof(float));
        if (k != i && j->crops)
            for (int c = 0; c < j->copies; c++) {
                j->crops[(size_t)k * j->copies + c] = j->crops[(size_t)i * j->copies + c];
                j->crops[(size_t)i * j->copies + c] = NULL;
            }
        k++;
    }
    *kept = k;
    if (st == FR_OK && k == 0) st = fr_error(FR_E_ARG, "none of the %d photos could be read", j->n);
    return st;
}

fr_status train_set_embed(const fr_engine *eng, const char *const *paths, const int *labels,
                          int n, int n_people, const train_augment_config *aug, uint64_t seed,
                          train_photo_fn fn, void *user, train_set *out) {
    memset(out, 0, sizeof *out);
    int dim = fr_engine_dim(eng), copies;
    if (dim <= 0) return fr_error(FR_E_ARG, "train_set_embed: no embedding model");
    fr_status st = check_photos(paths, labels, n, n_people, aug, &copies);
    if (st != FR_OK) return st;
    out->copies = copies;
    out->dim = dim;
    out->n_people = n_people;
    size_t bytes;
    photo_job j = {.eng = eng, .paths = paths, .n = n, .copies = copies, .dim = dim,
                   .aug = aug, .seed = seed, .fn = fn, .user = user};
    out->labels = malloc((size_t)n * sizeof *out->labels);
    out->source = malloc((size_t)n * sizeof *out->source);
    j.status = malloc((size_t)n * sizeof *j.status);
    out->embeddings = fr_mul_size((size_t)n * copies, (size_t)dim * sizeof(float), &bytes)
                          ? malloc(bytes) : NULL;
    if (!out->labels || !out->source || !j.status || !out->embeddings) {
        free(j.status);
        train_set_free(out);
        return fr_error(FR_E_NOMEM, "out of memory for the embeddings of %d photos", n);
    }
    j.rows = out->embeddings;
    st = run_photos(&j, fr_engine_threads(eng), labels, out->labels, out->source, &out->n_photos);
    free(j.status);
    if (st != FR_OK) train_set_free(out);
    return st;
}

fr_status train_crops_align(const fr_engine *eng, const char *const *paths, const int *labels,
                            int n, int n_people, const train_augment_config *aug, uint64_t seed,
                            train_photo_fn fn, void *user, train_crops *out) {
    memset(out, 0, sizeof *out);
    int copies;
    fr_status st = check_photos(paths, labels, n, n_people, aug, &copies);
    if (st != FR_OK) return st;
    out->copies = copies;
    out->n_people = n_people;
    photo_job j = {.eng = eng, .paths = paths, .n = n, .copies = copies, .aug = aug,
                   .seed = seed, .fn = fn, .user = user};
    out->labels = malloc((size_t)n * sizeof *out->labels);
    out->source = malloc((size_t)n * sizeof *out->source);
    out->crops = calloc((size_t)n * copies, sizeof *out->crops);
    j.status = malloc((size_t)n * sizeof *j.status);
    if (!out->labels || !out->source || !out->crops || !j.status) {
        free(j.status);
        train_crops_free(out);
        return fr_error(FR_E_NOMEM, "out of memory for the crops of %d photos", n);
    }
    j.crops = out->crops;
    out->n_photos = n; /* so that train_crops_free sees every crop until they are compacted */
    st = run_photos(&j, fr_engine_threads(eng), labels, out->labels, out->source, &out->n_photos);
    free(j.status);
    if (st != FR_OK) train_crops_free(out);
    return st;
}

void train_crops_free(train_crops *c) {
    for (size_t i = 0; c->crops && i < (size_t)c->n_photos * c->copies; i++)
        fr_image_free(c->crops[i]);
    free(c->labels);
    free(c->source);
    free(c->crops);
    memset(c, 0, sizeof *c);
}

void train_set_free(train_set *s) {
    free(s->labels);
    free(s->source);
    free(s->embeddings);
    memset(s, 0, sizeof *s);
}

#define CACHE_MODEL_ID "train-cache"

uint32_t train_set_key(const char *settings, const char *const *paths, const int *labels,
                       int n, const train_augment_config *aug, uint64_t seed) {
    char text[512];
    int len = snprintf(text, sizeof text, "%s|%d|%d|%.6g|%.6g|%.6g|%llu|", fr_version(), n, aug ? aug->copies : 0, aug ? aug->shift : 0.0,
                       aug ? aug->scale : 0.0, aug ? aug->brightness : 0.0,
                       (unsigned long long)seed);
    uint32_t crc = frmodel_crc32(0, (const uint8_t *)text, (size_t)FR_MIN(len, (int)sizeof text - 1));
    crc = frmodel_crc32(crc, (const uint8_t *)settings, strlen(settings));
    for (int i = 0; i < n; i++) {
        struct stat st;
        long long size = -1, mtime = -1;
        if (stat(paths[i], &st) == 0) {
            size = (long long)st.st_size;
            mtime = (long long)st.st_mtime;
        }
        len = snprintf(text, sizeof text, "|%d|%lld|%lld|", labels[i], size, mtime);
        crc = frmodel_crc32(crc, (const uint8_t *)paths[i], strlen(paths[i]));
        crc = frmodel_crc32(crc, (const uint8_t *)text, (size_t)len);
    }
    return crc;
}

fr_status train_set_save(const train_set *s, uint32_t key, const char *path) {
    frmodel_info info = {.input_h = 1, .input_w = s->copies, .input_c = s->dim};
    snprintf(info.model_id, sizeof info.model_id, "%s", CACHE_MODEL_ID);
    snprintf(info.preprocessing, sizeof info.preprocessing, "%08x", (unsigned)key);
    int n = s->n_photos;
    float *meta = malloc((size_t)(2 * n + 1) * sizeof *meta);
    if (!meta) return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    /* labels and photo indices as floats: exact below 2^24 */
    for (int i = 0; i < n; i++) {
        meta[i] = (float)s->labels[i];
        meta[n + i] = (float)s->source[i];
    }
    meta[2 * n] = (float)s->n_people;
    nn_tensor_entry t[2] = {
        {"embeddings", 3, {n, s->copies, s->dim}, (size_t)n * s->copies * s->dim, s->embeddings},
        {"labels_sources_people", 1, {2 * n + 1}, (size_t)(2 * n + 1), meta},
    };
    fr_status st = frmodel_write(path, &info, t, 2);
    free(meta);
    return st;
}

/* Labels and photo indices are kept as float32, exact below 2^24. */
#define TRAIN_CACHE_MAX_INDEX 16777216.0f

/* Whether v is a whole number in [lo, hi). */
static int whole_below(float v, float lo, float hi) {
    return v >= lo && v < hi && v == floorf(v);
}

fr_status train_set_load(const char *path, uint32_t key, train_set *out) {
    memset(out, 0, sizeof *out);
    frmodel_info info;
    char want[16];
    snprintf(want, sizeof want, "%08x", (unsigned)key);
    if (frmodel_read_info(path, &info) != FR_OK || strcmp(info.model_id, CACHE_MODEL_ID) != 0 ||
        strcmp(info.preprocessing, want) != 0)
        return fr_error(FR_E_NOT_FOUND, "%s: no cache of these photos and settings", path);
    nn_weights *w;
    fr_status st = frmodel_read(path, &info, &w);
    if (st != FR_OK) return st;
    const nn_tensor_entry *e = nn_weights_find(w, "embeddings");
    const nn_tensor_entry *m = nn_weights_find(w, "labels_sources_people");
    int n = e && e->ndim == 3 ? e->shape[0] : -1;
    if (n < 1 || !m || m->ndim != 1 || m->shape[0] != 2 * n + 1 || e->shape[1] != info.input_w ||
        e->shape[2] != info.input_c) {
        nn_weights_free(w);
        return fr_error(FR_E_FORMAT, "%s: not a training cache", path);
    }
    /* labels, photo indices and the people count are whole numbers held as floats: each is
     * checked before it becomes an int (a label must name one of the set's people) */
    const float *meta = m->data;
    int ok = whole_below(meta[2 * n], 1, TRAIN_CACHE_MAX_INDEX);
    for (int i = 0; ok && i < n; i++)
        ok = whole_below(meta[i], 0, meta[2 * n]) &&
             whole_below(meta[n + i], 0, TRAIN_CACHE_MAX_INDEX);
    if (!ok) {
        nn_weights_free(w);
        return fr_error(FR_E_FORMAT, "%s: a training cache whose labels, photo indices or people "
                        "count are not whole numbers in range", path);
    }
    out->n_photos = n;
    out->copies = e->shape[1];
    out->dim = e->shape[2];
    out->n_people = (int)meta[2 * n];
    out->labels = malloc((size_t)n * sizeof *out->labels);
    out->source = malloc((size_t)n * sizeof *out->source);
    out->embeddings = malloc(e->count * sizeof *out->embeddings);
    if (!out->labels || !out->source || !out->embeddings) {
        nn_weights_free(w);
        train_set_free(out);
        return fr_error(FR_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(out->embeddings, e->data, e->count * sizeof *out->embeddings);
    for (int i = 0; i < n; i++) {
        out->labels[i] = (int)m->data[i];
        out->source[i] = (int)m->data[n + i];
    }
    nn_weights_free(w);
    return FR_OK;
}

/* ---- splitting by person ---- */

static int held_out(int label, int every) { return label % every == every - 1; }

/* People with two photos or more among the photos (n) whose held_out() is `part`. */
static int eligible_people(const int *labels, int n, int n_people, int every, int part) {
    int *count = calloc((size_t)n_people, sizeof *count), eligible = 0;
    if (!count) return -1;
    for (int i = 0; i < n; i++)
        if (held_out(labels[i], every) == part) count[labels[i]]++;
    for (int p = 0; p < n_people; p++) eligible += count[p] >= 2;
    free(count);
    return eligible;
}

static fr_status check_split(const int *labels, int n, int n_people, int every) {
    if (every < 2) return fr_error(FR_E_ARG, "training: every %d-th person held out", every);
    int kept = eligible_people(labels, n, n_people, every, 0);
    int out = eligible_people(labels, n, n_people, every, 1);
    if (kept < 0 || out < 0) return fr_error(FR_E_NOMEM, "out of memory splitting the people");
    if (kept < 2 || out < 2)
        return fr_error(FR_E_ARG, "holding out every %d-th person leaves %d people with two "
                        "photos or more to train on and %d to validate on (two or more each)",
                        every, kept, out);
    return FR_OK;
}

fr_status train_set_split(const train_set *all, int every, train_set *train, train_set *val) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    fr_status st = check_split(all->labels, all->n_photos, all->n_people, every);
    if (st != FR_OK) return st;
    size_t row = (size_t)all->copies * all->dim;
    train_set *parts[2] = {train, val};
    for (int k = 0; k < 2; k++) {
        train_set *s = parts[k];
        int n = 0;
        for (int i = 0; i < all->n_photos; i++) n += held_out(all->labels[i], every) == k;
        s->copies = all->copies;
        s->dim = all->dim;
        s->n_people = all->n_people;
        s->labels = malloc((size_t)n * sizeof *s->labels);
        s->source = malloc((size_t)n * sizeof *s->source);
        s->embeddings = malloc((size_t)n * row * sizeof *s->embeddings);
        if (!s->labels || !s->source || !s->embeddings) {
            train_set_free(train);
            train_set_free(val);
            return fr_error(FR_E_NOMEM, "out of memory splitting the people");
        }
        for (int i = 0; i < all->n_photos; i++) {
            if (held_out(all->labels[i], every) != k) continue;
            s->labels[s->n_photos] = all->labels[i];
            s->source[s->n_photos] = all->source[i];
            memcpy(s->embeddings + (size_t)s->n_photos * row, all->embeddings + (size_t)i * row,
                   row * sizeof *s->embeddings);
            s->n_photos++;
        }
    }
    return FR_OK;
}

fr_status train_crops_split(train_crops *all, int every, train_crops *train, train_crops *val) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    fr_status st = check_split(all->labels, all->n_photos, all->n_people, every);
    if (st != FR_OK) return st;
    train_crops *parts[2] = {train, val};
    for (int k = 0; k < 2; k++) {
        train_crops *s = parts[k];
        int n = 0;
        for (int i = 0; i < all->n_photos; i++) n += held_out(all->labels[i], every) == k;
        s->copies = all->copies;
        s->n_people = all->n_people;
        s->labels = malloc((size_t)n * sizeof *s->labels);
        s->source = malloc((size_t)n * sizeof *s->source);
        s->crops = calloc((size_t)n * s->copies, sizeof *s->crops);
        if (!s->labels || !s->source || !s->crops) {
            train_crops_free(train);
            train_crops_free(val);
            return fr_error(FR_E_NOMEM, "out of memory splitting the people");
        }
    }
    for (int i = 0; i < all->n_photos; i++) {
        train_crops *s = parts[held_out(all->labels[i], every)];
        s->labels[s->n_photos] = all->labels[i];
        s->source[s->n_photos] = all->source[i];
        for (int c = 0; c < all->copies; c++) {
            s->crops[(size_t)s->n_photos * s->copies + c] = all->crops[(size_t)i * all->copies + c];
            all->crops[(size_t)i * all->copies + c] = NULL;
        }
        s->n_photos++;
    }
    train_crops_free(all);
    return FR_OK;
}
