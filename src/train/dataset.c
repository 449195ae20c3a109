/* dataset.c: labeled photos -> the base embeddings of each face and its augmented copies,
 * computed once before training (the base model is frozen, so they never change). */
#include "train/train.h"

#include "face/face.h"
#include "nn/import/frmodel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A photo's copies are embedded as one batch of at most this many crops. */
#define EMBED_BATCH 32

/* The face of a photo's subject, chosen as `facerec eval` chooses it (src/eval/extract.c),
 * so that a photo's unaugmented embedding is the one evaluation computes: the detected face
 * nearest the centre (fr_detect already looks again with a border around photos that are one
 * tight face), else a centre square half the shorter side, landmarked as if detected. */
#define CENTRE_CROP_SHARE 0.5f

static fr_status subject_face(const fr_engine *eng, const fr_image *img, fr_face *face) {
    fr_engine *e = (fr_engine *)eng; /* detection does not change the engine */
    fr_face *faces = NULL;
    int n = 0;
    fr_status st = fr_detect(e, img, &faces, &n);
    if (st == FR_OK && n > 0) {
        int best = 0;
        double best_d = 0;
        for (int i = 0; i < n; i++) {
            double dx = faces[i].x + faces[i].w / 2 - img->width / 2.0;
            double dy = faces[i].y + faces[i].h / 2 - img->height / 2.0;
            if (i == 0 || dx * dx + dy * dy < best_d) best = i, best_d = dx * dx + dy * dy;
        }
        *face = faces[best];
    } else if (st == FR_OK) {
        float side = CENTRE_CROP_SHARE * (float)FR_MIN(img->width, img->height);
        memset(face, 0, sizeof *face);
        face->x = ((float)img->width - side) / 2;
        face->y = ((float)img->height - side) / 2;
        face->w = face->h = side;
        /* fr_embed landmarks it (and embeds it once more than needed, for these rare photos) */
        st = fr_embed(e, img, face, 1);
    }
    fr_faces_free(faces);
    return st;
}

/* The embeddings of photo i's copies, written to rows (copies, dim). */
static fr_status embed_photo(const fr_engine *eng, const char *path, int index, int copies,
                             const train_augment_config *aug, uint64_t seed, float *rows) {
    fr_image *img, *crops[EMBED_BATCH] = {NULL};
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
    if (st == FR_OK) st = fr_engine_embed_crops(eng, (const fr_image *const *)crops, copies, rows);
    for (int c = 0; c < copies; c++) fr_image_free(crops[c]);
    fr_image_free(img);
    return st != FR_OK && st != FR_E_NOMEM ? fr_error_prefix(st, "%s", path) : st;
}

typedef struct embed_job {
    const fr_engine *eng;
    const char *const *paths;
    int n, copies, dim;
    const train_augment_config *aug;
    uint64_t seed;
    float *rows;        /* (n * copies, dim), photo i's copies from row i * copies */
    fr_status *status;  /* (n) */
    pthread_mutex_t lock; /* for the callback */
    int done;
    train_photo_fn fn;
    void *user;
} embed_job;

/* One photo per task: the ops inside run on the task's thread (the pool does not nest),
 * which keeps both cores busy through the serial parts (decoding, alignment) too. */
static void embed_task(void *ctx, int i) {
    embed_job *j = ctx;
    fr_status st = embed_photo(j->eng, j->paths[i], i, j->copies, j->aug, j->seed,
                               j->rows + (size_t)i * j->copies * j->dim);
    j->status[i] = st;
    pthread_mutex_lock(&j->lock);
    j->done++;
    if (j->fn) j->fn(j->done, j->n, j->paths[i], st == FR_OK, j->user);
    pthread_mutex_unlock(&j->lock);
}

fr_status train_set_embed(const fr_engine *eng, const char *const *paths, const int *labels,
                          int n, int n_people, const train_augment_config *aug, uint64_t seed,
                          train_photo_fn fn, void *user, train_set *out) {
    memset(out, 0, sizeof *out);
    int dim = fr_engine_dim(eng);
    if (n <= 0 || n_people <= 0 || dim <= 0)
        return fr_error(FR_E_ARG, "train_set_embed: no photos, no people or no embedding model");
    int copies = 1 + (aug ? aug->copies : 0);
    if (copies > EMBED_BATCH)
        return fr_error(FR_E_ARG, "at most %d augmented copies of a photo, not %d",
                        EMBED_BATCH - 1, copies - 1);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_people)
            return fr_error(FR_E_ARG, "%s: person %d outside 0 .. %d", paths[i], labels[i],
                            n_people - 1);
    out->copies = copies;
    out->dim = dim;
    out->n_people = n_people;
    size_t bytes;
    embed_job j = {.eng = eng, .paths = paths, .n = n, .copies = copies, .dim = dim,
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
    pthread_mutex_init(&j.lock, NULL);
    nn_parallel_for(n, embed_task, &j);
    pthread_mutex_destroy(&j.lock);
    /* keep the photos that were embedded, in their order; running out of memory is fatal */
    fr_status st = FR_OK;
    size_t row = (size_t)copies * dim;
    for (int i = 0; i < n; i++) {
        if (j.status[i] == FR_E_NOMEM) st = fr_error(FR_E_NOMEM, "out of memory embedding %s", paths[i]);
        if (j.status[i] != FR_OK) continue;
        int k = out->n_photos++;
        out->labels[k] = labels[i];
        out->source[k] = i;
        if (k != i) memmove(out->embeddings + k * row, out->embeddings + i * row, row * sizeof(float));
    }
    free(j.status);
    if (st == FR_OK && out->n_photos == 0) st = fr_error(FR_E_ARG, "none of the %d photos could be read", n);
    if (st != FR_OK) train_set_free(out);
    return st;
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
    int len = snprintf(text, sizeof text, "%s|%d|%d|%.6g|%.6g|%.6g|%llu|", FACEREC_VERSION_STRING, n, aug ? aug->copies : 0, aug ? aug->shift : 0.0,
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
    out->n_photos = n;
    out->copies = e->shape[1];
    out->dim = e->shape[2];
    out->n_people = (int)m->data[2 * n];
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
