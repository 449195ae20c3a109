/* extract.c: one embedding per image for the evaluations, computed by several threads on one
 * engine and cached in SQLite by file content and pipeline configuration. */
#include "eval/eval.h"

#include "common/common.h"
#include "face/model.h"
#include "nn/nn.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The centre crop used when no face is detected: a square this share of the shorter side. */
#define CENTRE_CROP_SHARE 0.5f

/* Where a cached face came from, as the cache stores it (the embeddings' no_face column and
 * the faces' source column). Releases before the whole-image face stored 0 (detected) and, for
 * the centre square, 1 (embeddings) or 2 (faces): those centre squares were made without
 * trying the whole image, so they are recomputed, while detected faces are reused. */
enum cached_source { CACHED_DETECTED = 0, CACHED_WHOLE = 3, CACHED_CENTRE = 4 };

static int cached_source_of(int source) {
    return source == EVAL_FACE_WHOLE ? CACHED_WHOLE
           : source == EVAL_FACE_CENTRE ? CACHED_CENTRE : CACHED_DETECTED;
}

/* The source of a cached code, or -1 for a stale entry. */
static int source_of_cached(int code) {
    return code == CACHED_DETECTED ? EVAL_FACE_DETECTED
           : code == CACHED_WHOLE ? EVAL_FACE_WHOLE
           : code == CACHED_CENTRE ? EVAL_FACE_CENTRE : -1;
}

/* A face's geometry as cached: box, score, number of landmarks (5 or 68), then the landmarks
 * (room for 68). */
#define GEOMETRY_FLOATS (6 + 2 * FR_MAX_LANDMARKS)

/* The faces found by the first member of a fusion, for the next to embed without detecting
 * again (with or without the cache): geometry (n, GEOMETRY_FLOATS), source[i] < 0 if none. */
typedef struct shared_faces {
    float *geometry;
    int *source;
} shared_faces;

typedef struct extract_run {
    fr_engine *eng;
    shared_faces *shared; /* NULL when embedding one model */
    const char *const *paths;
    int n, dim;
    /* the cache (NULL when off), used under lock */
    sqlite3 *db;
    sqlite3_stmt *lookup, *store, *face_lookup, *face_store;
    const char *cache_path;
    char key[512];      /* of the embedding: everything that changes it */
    char face_key[256]; /* of the face found: detection and landmarks only */
    eval_progress_fn progress;
    void *progress_user;
    eval_embeddings *out;
    pthread_mutex_t lock;
    int done;
    fr_status status;  /* the first failure; the others stop at their next image */
    char error[1024];  /* its message (fr_last_error is per thread) */
} extract_run;

/* ---- the cache ---------------------------------------------------------------------------- */

static fr_status cache_error(const extract_run *run, const char *what) {
    return fr_error(FR_E_DB, "%s: %s: %s", run->cache_path, what, sqlite3_errmsg(run->db));
}

/* mkdir -p of the folder holding path. */
static fr_status make_parent_dirs(const char *path) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return fr_error(FR_E_ARG, "%s: path too long", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return FR_OK;
    *slash = '\0';
    return fr_make_folders(dir, 0755);
}

static fr_status cache_open(extract_run *run) {
    fr_status st = make_parent_dirs(run->cache_path);
    if (st != FR_OK) return st;
    if (sqlite3_open_v2(run->cache_path, &run->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK)
        return run->db ? cache_error(run, "cannot open the embedding cache")
                       : fr_error(FR_E_NOMEM, "%s: out of memory opening the cache", run->cache_path);
    sqlite3_busy_timeout(run->db, 10000);
    /* WAL without a sync per commit: concurrent evaluations may share the file, and a lost
     * last write after a power cut only costs recomputing it */
    const char *setup =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS embeddings(sha256 BLOB NOT NULL, config TEXT NOT NULL,"
        " no_face INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY(sha256, config))"
        " WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS faces(sha256 BLOB NOT NULL, config TEXT NOT NULL,"
        " source INTEGER NOT NULL, geometry BLOB NOT NULL, PRIMARY KEY(sha256, config))"
        " WITHOUT ROWID;";
    if (sqlite3_exec(run->db, setup, NULL, NULL, NULL) != SQLITE_OK)
        return cache_error(run, "cannot set up the embedding cache");
    if (sqlite3_prepare_v2(run->db, "SELECT no_face, vector FROM embeddings WHERE sha256 = ? "
                           "AND config = ?", -1, &run->lookup, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(run->db, "INSERT OR REPLACE INTO embeddings(sha256, config, no_face,"
                           " vector) VALUES(?, ?, ?, ?)", -1, &run->store, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(run->db, "SELECT source, geometry FROM faces WHERE sha256 = ? AND "
                           "config = ?", -1, &run->face_lookup, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(run->db, "INSERT OR REPLACE INTO faces(sha256, config, source, "
                           "geometry) VALUES(?, ?, ?, ?)", -1, &run->face_store, NULL) != SQLITE_OK)
        return cache_error(run, "cannot read the embedding cache");
    return FR_OK;
}

static void cache_close(extract_run *run) {
    sqlite3_finalize(run->lookup);
    sqlite3_finalize(run->store);
    sqlite3_finalize(run->face_lookup);
    sqlite3_finalize(run->face_store);
    sqlite3_close(run->db);
}

/* Under run->lock. *found = 1 and the row filled (the vector, where its face came from) if
 * the cache has this image. */
static fr_status cache_get(extract_run *run, const uint8_t digest[32], int *found, float *vector,
                           int *source) {
    *found = 0;
    sqlite3_bind_blob(run->lookup, 1, digest, 32, SQLITE_STATIC);
    sqlite3_bind_text(run->lookup, 2, run->key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(run->lookup);
    fr_status st = FR_OK;
    if (rc == SQLITE_ROW) {
        /* a row of another length is ignored (and replaced when recomputed) */
        if (sqlite3_column_bytes(run->lookup, 1) == run->dim * (int)sizeof(float)) {
            memcpy(vector, sqlite3_column_blob(run->lookup, 1), (size_t)run->dim * sizeof(float));
            *source = source_of_cached(sqlite3_column_int(run->lookup, 0));
            *found = *source >= 0;
        }
    } else if (rc != SQLITE_DONE) {
        st = cache_error(run, "reading the embedding cache");
    }
    sqlite3_reset(run->lookup);
    return st;
}

/* Under run->lock. */
static fr_status cache_put(extract_run *run, const uint8_t digest[32], const float *vector,
                           int source) {
    sqlite3_bind_blob(run->store, 1, digest, 32, SQLITE_STATIC);
    sqlite3_bind_text(run->store, 2, run->key, -1, SQLITE_STATIC);
    sqlite3_bind_int(run->store, 3, cached_source_of(source));
    sqlite3_bind_blob(run->store, 4, vector, run->dim * (int)sizeof(float), SQLITE_STATIC);
    int rc = sqlite3_step(run->store);
    sqlite3_reset(run->store);
    return rc == SQLITE_DONE ? FR_OK : cache_error(run, "writing the embedding cache");
}


static void geometry_of(const fr_face *face, float g[GEOMETRY_FLOATS]) {
    g[0] = face->x, g[1] = face->y, g[2] = face->w, g[3] = face->h, g[4] = face->score;
    g[5] = (float)face->n_landmarks;
    memcpy(g + 6, face->landmarks, sizeof face->landmarks);
}

/* 0 for a damaged geometry (a landmark count out of range). */
static int face_of(const float g[GEOMETRY_FLOATS], fr_face *face) {
    if (!(g[5] >= 0 && g[5] <= FR_MAX_LANDMARKS)) return 0;
    memset(face, 0, sizeof *face);
    face->x = g[0], face->y = g[1], face->w = g[2], face->h = g[3], face->score = g[4];
    face->n_landmarks = (int)g[5];
    memcpy(face->landmarks, g + 6, sizeof face->landmarks);
    return 1;
}

/* Under run->lock. *found = 1 and face filled (box, score, landmarks) if cached. */
static fr_status face_cache_get(extract_run *run, const uint8_t digest[32], int *found,
                                fr_face *face, int *source) {
    *found = 0;
    sqlite3_bind_blob(run->face_lookup, 1, digest, 32, SQLITE_STATIC);
    sqlite3_bind_text(run->face_lookup, 2, run->face_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(run->face_lookup);
    fr_status st = FR_OK;
    float g[GEOMETRY_FLOATS];
    int usable = rc == SQLITE_ROW &&
                 sqlite3_column_bytes(run->face_lookup, 1) == GEOMETRY_FLOATS * (int)sizeof(float);
    if (usable) { /* a damaged entry counts as absent */
        memcpy(g, sqlite3_column_blob(run->face_lookup, 1), sizeof g);
        usable = face_of(g, face);
    }
    if (usable) {
        *source = source_of_cached(sqlite3_column_int(run->face_lookup, 0));
        *found = *source >= 0;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st = cache_error(run, "reading the face cache");
    }
    sqlite3_reset(run->face_lookup);
    return st;
}

/* Under run->lock. */
static fr_status face_cache_put(extract_run *run, const uint8_t digest[32], const fr_face *face,
                                int source) {
    float g[GEOMETRY_FLOATS];
    geometry_of(face, g);
    sqlite3_bind_blob(run->face_store, 1, digest, 32, SQLITE_STATIC);
    sqlite3_bind_text(run->face_store, 2, run->face_key, -1, SQLITE_STATIC);
    sqlite3_bind_int(run->face_store, 3, cached_source_of(source));
    sqlite3_bind_blob(run->face_store, 4, g, (int)sizeof g, SQLITE_TRANSIENT);
    int rc = sqlite3_step(run->face_store);
    sqlite3_reset(run->face_store);
    return rc == SQLITE_DONE ? FR_OK : cache_error(run, "writing the face cache");
}

fr_status eval_default_cache_path(char *out, size_t out_size) {
    char folder[4096];
    if (!fr_user_cache_folder(folder, sizeof folder))
        return fr_error(FR_E_ARG, "no cache folder: neither $XDG_CACHE_HOME nor $HOME is set");
    int len = snprintf(out, out_size, "%s/embeddings.db", folder);
    if (len < 0 || (size_t)len >= out_size) return fr_error(FR_E_ARG, "cache path too long");
    return FR_OK;
}

/* ---- one image ------------------------------------------------------------------------------ */

fr_status eval_subject_face_found(fr_engine *eng, const fr_image *img, fr_face *face, int *source) {
    fr_face *faces = NULL;
    int n = 0;
    fr_status st = fr_detect(eng, img, &faces, &n);
    *source = EVAL_FACE_DETECTED;
    if (st == FR_OK && n == 0) {
        /* the photo is one face no detector found, if its landmarks say so */
        st = fr_whole_face(eng, img, face);
        *source = st == FR_OK ? EVAL_FACE_WHOLE : EVAL_FACE_CENTRE;
        if (st == FR_E_NO_FACE) st = FR_OK;
    }
    if (st == FR_OK && n > 0) {
        int best = 0;
        double best_d = 0;
        for (int i = 0; i < n; i++) {
            double dx = faces[i].x + faces[i].w / 2 - img->width / 2.0;
            double dy = faces[i].y + faces[i].h / 2 - img->height / 2.0;
            double d = dx * dx + dy * dy;
            if (i == 0 || d < best_d) best = i, best_d = d;
        }
        *face = faces[best];
    } else if (st == FR_OK && *source == EVAL_FACE_CENTRE) {
        float side = CENTRE_CROP_SHARE * (float)FR_MIN(img->width, img->height);
        memset(face, 0, sizeof *face);
        face->x = (img->width - side) / 2;
        face->y = (img->height - side) / 2;
        face->w = face->h = side;
    }
    fr_faces_free(faces);
    return st;
}

fr_status eval_subject_face(fr_engine *eng, const fr_image *img, fr_face *face, int *centred) {
    int source;
    fr_status st = eval_subject_face_found(eng, img, face, &source);
    *centred = source == EVAL_FACE_CENTRE;
    return st;
}

/* Embed the face of an image file. `known` is its face from the cache (NULL: detect it);
 * *face and *source are the face used and where it came from. */
static fr_status embed_file(extract_run *run, const uint8_t *data, size_t size, const char *path,
                            const fr_face *known, int known_source, float *vector, fr_face *face,
                            int *source) {
    fr_image *img;
    fr_status st = fr_image_decode(data, size, path, &img);
    if (st != FR_OK) return st;
    if (known) {
        *face = *known;
        *source = known_source;
    } else {
        st = eval_subject_face_found(run->eng, img, face, source);
    }
    /* a centre square is landmarked, aligned and embedded as if the detector had found it */
    if (st == FR_OK) st = fr_embed(run->eng, img, face, 1);
    if (st == FR_OK) memcpy(vector, face->embedding, (size_t)run->dim * sizeof *vector);
    fr_image_free(img);
    return st != FR_OK ? fr_error_prefix(st, "%s", path) : FR_OK;
}

static fr_status process_image(extract_run *run, int i) {
    const char *path = run->paths[i];
    float *vector = run->out->vectors + (size_t)i * run->dim;
    uint8_t *no_face = &run->out->no_face[i], *whole = &run->out->whole[i];
    uint8_t *data, digest[32];
    size_t size;
    fr_status st = fr_read_file(path, FR_IMAGE_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    int found = 0, cached_source = EVAL_FACE_DETECTED;
    if (run->db) {
        fr_sha256(data, size, digest);
        pthread_mutex_lock(&run->lock);
        st = cache_get(run, digest, &found, vector, &cached_source);
        if (found) run->out->n_cached++;
        pthread_mutex_unlock(&run->lock);
        *no_face = found && cached_source == EVAL_FACE_CENTRE;
        *whole = found && cached_source == EVAL_FACE_WHOLE;
    }
    if (st == FR_OK && !found) {
        /* the face found by a fusion's earlier member, or by an earlier run with the same
         * detector, saves detecting again */
        fr_face known, face;
        int have_face = 0, known_source = 0, source;
        float *shared = run->shared ? run->shared->geometry + (size_t)i * GEOMETRY_FLOATS : NULL;
        if (shared && run->shared->source[i] >= 0) {
            have_face = face_of(shared, &known);
            known_source = run->shared->source[i];
        } else if (run->db) {
            pthread_mutex_lock(&run->lock);
            st = face_cache_get(run, digest, &have_face, &known, &known_source);
            pthread_mutex_unlock(&run->lock);
        }
        if (st == FR_OK)
            st = embed_file(run, data, size, path, have_face ? &known : NULL, known_source,
                            vector, &face, &source);
        *no_face = st == FR_OK && source == EVAL_FACE_CENTRE;
        *whole = st == FR_OK && source == EVAL_FACE_WHOLE;
        pthread_mutex_lock(&run->lock);
        if (st == FR_OK) run->out->n_computed++;
        if (st == FR_OK) run->out->n_faces_cached += have_face;
        if (st == FR_OK && run->db) st = cache_put(run, digest, vector, source);
        if (st == FR_OK && run->db && !have_face) st = face_cache_put(run, digest, &face, source);
        pthread_mutex_unlock(&run->lock);
        if (st == FR_OK && shared && run->shared->source[i] < 0) {
            geometry_of(&face, shared);
            run->shared->source[i] = source;
        }
    }
    free(data);
    return st;
}

/* Image i, as a task of the engine's thread pool (its networks then run on the task's
 * thread); after a failure the remaining images are skipped. */
static void image_task(void *ctx, int i) {
    extract_run *run = ctx;
    pthread_mutex_lock(&run->lock);
    int failed = run->status != FR_OK;
    pthread_mutex_unlock(&run->lock);
    if (failed) return;
    fr_status st = process_image(run, i);
    pthread_mutex_lock(&run->lock);
    if (st != FR_OK && run->status == FR_OK) {
        run->status = st;
        snprintf(run->error, sizeof run->error, "%s", fr_last_error());
    }
    run->done++;
    if (run->progress) run->progress(run->done, run->n, run->progress_user);
    pthread_mutex_unlock(&run->lock);
}

/* ---- the run ------------------------------------------------------------------------------- */

void eval_embeddings_free(eval_embeddings *e) {
    if (!e) return;
    free(e->vectors);
    free(e->no_face);
    free(e->whole);
    memset(e, 0, sizeof *e);
}

/* One model's embeddings (not a fusion's). */
static fr_status embed_single(const fr_config *cfg, const char *const *paths, int n,
                              const char *cache_path, eval_progress_fn progress,
                              void *progress_user, shared_faces *shared, eval_embeddings *out) {
    extract_run run;
    memset(&run, 0, sizeof run);
    run.shared = shared;
    run.paths = paths;
    run.n = n;
    run.cache_path = cache_path;
    run.progress = progress;
    run.progress_user = progress_user;
    run.out = out;
    fr_status st = fr_engine_open(cfg, &run.eng);
    if (st != FR_OK) return st;
    run.dim = fr_engine_dim(run.eng);
    if (run.dim <= 0) {
        fr_engine_close(run.eng);
        return fr_error(FR_E_ARG, "eval_embed_images: the configuration loads no embedding model");
    }
    /* the alignment by name, also when it is the model's default (which may change), with
     * its scale when not 1 */
    const char *align = engine_model_spec(run.eng)->members[0].align;
    if (cfg->align_scale == 0 || cfg->align_scale == 1.0f)
        snprintf(out->align, sizeof out->align, "%s", align);
    else
        snprintf(out->align, sizeof out->align, "%s*%g", align, (double)cfg->align_scale);
    /* everything that changes the vectors is in the key; the library version stands for the
     * implementation of the networks */
    /* an unnormalised crop keeps the key it had before normalisations existed */
    char photometric[64] = "";
    if (cfg->photometric && strcmp(cfg->photometric, "none"))
        snprintf(photometric, sizeof photometric, "|photometric=%s", cfg->photometric);
    snprintf(run.key, sizeof run.key, "%s|detector=%s|landmarks=%s|align=%s|flip=%d|min_score=%g|%s%s",
             fr_engine_model(run.eng), cfg->detector ? cfg->detector : FR_DEFAULT_DETECTOR,
             cfg->landmarks ? cfg->landmarks : "68", out->align, cfg->flip != 0,
             (double)cfg->min_score, fr_version(), photometric);
    snprintf(run.face_key, sizeof run.face_key, "detector=%s|landmarks=%s|min_score=%g|%s",
             cfg->detector ? cfg->detector : FR_DEFAULT_DETECTOR, cfg->landmarks ? cfg->landmarks : "68",
             (double)cfg->min_score, fr_version());
    out->n = n;
    out->dim = run.dim;
    out->vectors = malloc((size_t)(n > 0 ? n : 1) * (size_t)run.dim * sizeof(float));
    out->no_face = calloc((size_t)(n > 0 ? n : 1), 1);
    out->whole = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!out->vectors || !out->no_face || !out->whole)
        st = fr_error(FR_E_NOMEM, "out of memory for %d embeddings", n);
    if (st == FR_OK && cache_path) st = cache_open(&run);

    if (st == FR_OK) {
        pthread_mutex_init(&run.lock, NULL);
        /* as many images at once as the engine has threads, on its pool */
        nn_parallel_for(fr_engine_threads(run.eng), n, image_task, &run);
        pthread_mutex_destroy(&run.lock);
        if (run.status != FR_OK) st = fr_error(run.status, "%s", run.error);
    }
    if (run.db) cache_close(&run);
    fr_engine_close(run.eng);
    if (st != FR_OK) {
        eval_embeddings_free(out);
        return st;
    }
    for (int i = 0; i < n; i++) out->n_no_face += out->no_face[i], out->n_whole += out->whole[i];
    return FR_OK;
}

/* A fusion's embeddings are its members' unit embeddings placed as the engine places them
 * (model_place_member). Each member is embedded and cached under its own key: evaluating
 * another weight, or a member alone, embeds nothing again. */
static fr_status embed_fused(const fr_config *cfg, const model_spec *spec,
                             const char *const *paths, int n, const char *cache_path,
                             eval_progress_fn progress, void *progress_user, eval_embeddings *out) {
    fr_status st = FR_OK;
    eval_embeddings part[FR_MAX_FUSED];
    memset(part, 0, sizeof part);
    shared_faces shared = {malloc((size_t)(n > 0 ? n : 1) * GEOMETRY_FLOATS * sizeof(float)),
                           malloc((size_t)(n > 0 ? n : 1) * sizeof(int))};
    if (!shared.geometry || !shared.source)
        st = fr_error(FR_E_NOMEM, "out of memory for the faces of %d images", n);
    for (int i = 0; st == FR_OK && i < n; i++) shared.source[i] = -1;
    int n_members = 0;
    for (; st == FR_OK && n_members < spec->n_members; n_members++) {
        fr_config member = *cfg;
        member.model = spec->members[n_members].embedder->name;
        st = embed_single(&member, paths, n, cache_path, progress, progress_user, &shared,
                          &part[n_members]);
    }
    free(shared.geometry);
    free(shared.source);
    out->n = n;
    out->dim = spec->dim;
    snprintf(out->align, sizeof out->align, "each member's own");
    if (st == FR_OK) {
        out->vectors = malloc((size_t)(n > 0 ? n : 1) * (size_t)spec->dim * sizeof(float));
        out->no_face = calloc((size_t)(n > 0 ? n : 1), 1);
        out->whole = calloc((size_t)(n > 0 ? n : 1), 1);
        if (!out->vectors || !out->no_face || !out->whole)
            st = fr_error(FR_E_NOMEM, "out of memory for %d embeddings", n);
    }
    for (int j = 0; st == FR_OK && j < n_members; j++) {
        for (int i = 0; i < n; i++) {
            model_place_member(spec, j, part[j].vectors + (size_t)i * part[j].dim,
                               out->vectors + (size_t)i * spec->dim);
            out->no_face[i] |= part[j].no_face[i];
            out->whole[i] |= part[j].whole[i];
        }
        /* an image counts as computed when any member computed it */
        out->n_computed = FR_MAX(out->n_computed, part[j].n_computed);
        out->n_faces_cached = FR_MAX(out->n_faces_cached, part[j].n_faces_cached);
    }
    for (int j = 0; j < n_members; j++) eval_embeddings_free(&part[j]);
    if (st != FR_OK) {
        eval_embeddings_free(out);
        return st;
    }
    out->n_cached = n - out->n_computed;
    for (int i = 0; i < n; i++) out->n_no_face += out->no_face[i], out->n_whole += out->whole[i];
    return FR_OK;
}

fr_status eval_embed_images(const fr_config *cfg, const char *const *paths, int n,
                            const char *cache_path, eval_progress_fn progress, void *progress_user,
                            eval_embeddings *out) {
    memset(out, 0, sizeof *out);
    if (!cfg || !paths || n < 0) return fr_error(FR_E_ARG, "eval_embed_images: bad argument");
    model_spec spec;
    fr_status st = model_resolve(cfg, &spec);
    if (st == FR_OK && spec.kind == MODEL_FUSION)
        st = embed_fused(cfg, &spec, paths, n, cache_path, progress, progress_user, out);
    else if (st == FR_OK)
        st = embed_single(cfg, paths, n, cache_path, progress, progress_user, NULL, out);
    model_spec_free(&spec);
    return st;
}
