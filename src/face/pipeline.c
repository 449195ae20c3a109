/* pipeline.c: fr_engine, the loaded networks of one configuration, and the image -> faces
 * pipeline: detect, 68 landmarks, align, embed.
 *
 * Memory: the networks keep their own pooled sessions and arenas (nn/nn.h); the pipeline's
 * own images (aligned crops, their mirror images, the padded image of a second look) and
 * vectors come from an arena of the engine's pool, so that after a first call on images of
 * a size with as many faces, a call allocates nothing but the faces it returns. */
#include "common/common.h"
#include "face/align.h"
#include "face/face.h"
#include "face/model.h"
#include "face/liveness.h"
#include "face/photometric.h"
#include "image/image_into.h"
#include "nets/faceapi_nets.h"
#include "nn/nn.h"
#include "nn/prepared.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct aligner {
    const char *name;
    const float (*tpl)[2]; /* the similarity warp's template; NULL: face-api's crop */
    int size;              /* the warp's crop, size x size */
} aligner;

static const aligner aligners[] = {
    {"faceapi", NULL, 0},
    {"similarity", align_arcface_template, 112},
    {"dlib-chip", align_dlib_chip_template, 150},
};

/* An embedding network of the engine (a fusion has several): the model's member, its loaded
 * network and the alignment it reads. */
typedef struct engine_member {
    const model_member *spec;
    const fr_embedder *embedder;
    void *net;
    const aligner *align;
} engine_member;

struct fr_engine {
    const fr_detector *detector;
    void *detector_net;
    float min_score;
    landmark68 *landmarks; /* NULL: the detector's own points (if any) are used */
    model_spec model;      /* the resolved model (model.h) */
    const char *landmarks_file; /* relative to the models folder */
    engine_member members[FR_MAX_FUSED];
    int n_members;     /* 0 when the configuration did not ask for an embedding */
    int dim;           /* the embedding's length: the members' lengths added */
    int flip; /* average each face's embedding with its mirror image's */
    int raw;  /* see fr_config.raw_embedding */
    photometric_kind photometric; /* see fr_config.photometric */
    int retry_padded; /* see fr_config.retry_padded */
    float box_pad;    /* see fr_config.box_pad */
    liveness_net *liveness; /* NULL unless the configuration asked for it */
    nn_arena_pool *scratch; /* the pipeline's images and vectors during a call */
    int threads;            /* fr_config.threads resolved: every op of a call runs on these */
};

#define SCRATCH_KEPT 8 /* arenas kept: one per thread using the engine at once */

void fr_config_init(fr_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->detector = FR_DEFAULT_DETECTOR;
    cfg->landmarks = "68";
    cfg->model = FR_DEFAULT_MODEL;
    cfg->align = NULL; /* the embedder's default */
    cfg->load_embedder = 1;
    cfg->retry_padded = 1;
    cfg->flip = 1;
}

static fr_status load_model(const char *models_dir, const char *relpath,
                            fr_status (*load)(const char *, void **), void **net) {
    char path[4096];
    fr_status st = fr_network_path(models_dir, relpath, path, sizeof path);
    if (st != FR_OK) return st;
    return load(path, net);
}

static fr_status load_liveness(const char *path, void **net) {
    return liveness_load(path, (liveness_net **)net);
}

/* Faces with a non-finite box, score or point come from a broken network. */
static fr_status check_faces_finite(const fr_face *faces, int n, const char *model_file) {
    for (int i = 0; i < n; i++) {
        const fr_face *f = &faces[i];
        int finite = isfinite(f->x) && isfinite(f->y) && isfinite(f->w) && isfinite(f->h) &&
                     isfinite(f->score);
        for (int k = 0; k < f->n_landmarks; k++)
            finite = finite && isfinite(f->landmarks[k][0]) && isfinite(f->landmarks[k][1]);
        if (!finite)
            return fr_error(FR_E_MODEL, "%s: the network gave a non-finite box or point (face %d)",
                            model_file, i);
    }
    return FR_OK;
}

static fr_status load_landmarks(const char *path, void **net) {
    int tiny = strstr(path, "tiny") != NULL;
    return landmark68_load(path, tiny, (landmark68 **)net);
}

/* Load the model's member m with its alignment as the engine's next member, keeping its
 * prepared file (if it has one) in prepared_folder (NULL: none). */
static fr_status open_member(fr_engine *eng, const model_member *spec,
                             const char *prepared_folder) {
    engine_member *m = &eng->members[eng->n_members];
    for (size_t i = 0; i < sizeof aligners / sizeof aligners[0]; i++)
        if (!strcmp(aligners[i].name, spec->align)) m->align = &aligners[i];
    if (!m->align)
        return fr_error(FR_E_ARG, "unknown alignment '%s' (known: faceapi, similarity, dlib-chip)",
                        spec->align);
    fr_status st = align_check_scale(spec->align_scale);
    if (st != FR_OK) return st;
    if (!m->align->tpl && spec->align_scale != 1.0f)
        return fr_error(FR_E_ARG, "the faceapi alignment has no scale: it crops as face-api.js does");
    st = spec->embedder->load(spec->weights, prepared_folder, &m->net);
    if (st != FR_OK) return st;
    m->spec = spec;
    m->embedder = spec->embedder;
    eng->n_members++;
    return FR_OK;
}

/* Raw descriptors: one network's own scale, under a model id of their own. */
static fr_status open_raw(fr_engine *eng) {
    model_spec *spec = &eng->model;
    if (spec->n_members != 1 || spec->head)
        return fr_error(FR_E_ARG, "%s: raw embeddings need a single model without a trained "
                        "head (a fusion's weights and a head's distances are for unit vectors)",
                        spec->id);
    char id[sizeof spec->id];
    if (snprintf(id, sizeof id, "%s:raw", spec->id) >= (int)sizeof id)
        return fr_error(FR_E_ARG, "%s: the model name is too long", spec->id);
    memcpy(spec->id, id, sizeof id);
    eng->raw = 1;
    return FR_OK;
}

fr_status fr_engine_open(const fr_config *cfg, fr_engine **out) {
    *out = NULL;
    fr_config defaults;
    if (!cfg) {
        fr_config_init(&defaults);
        cfg = &defaults;
    }
    fr_engine *eng = calloc(1, sizeof *eng);
    if (eng && !(eng->scratch = nn_arena_pool_new(SCRATCH_KEPT))) {
        free(eng);
        eng = NULL;
    }
    if (!eng) return fr_error(FR_E_NOMEM, "out of memory opening the engine");
    fr_status st = FR_OK;

    eng->detector = fr_detector_find(cfg->detector ? cfg->detector : FR_DEFAULT_DETECTOR);
    if (!eng->detector) {
        st = fr_error(FR_E_ARG, "unknown detector '%s' (known: %s)", cfg->detector,
                      fr_detector_names());
        goto fail;
    }
    eng->min_score = cfg->min_score > 0 ? cfg->min_score : eng->detector->default_min_score;
    eng->threads = nn_resolve_threads(cfg->threads);
    eng->retry_padded = cfg->retry_padded != 0;
    eng->box_pad = cfg->box_pad > 0 ? (float)cfg->box_pad : 0.0f;
    st = load_model(cfg->models_dir, eng->detector->model_file, eng->detector->load,
                    &eng->detector_net);
    if (st != FR_OK) goto fail;

    const char *lm = cfg->landmarks ? cfg->landmarks : "68";
    const char *lm_file = !strcmp(lm, "68")       ? "face-api/model/face_landmark_68_model-weights_manifest.json"
                          : !strcmp(lm, "68tiny") ? "face-api/model/face_landmark_68_tiny_model-weights_manifest.json"
                                                  : NULL;
    if (!lm_file) {
        st = fr_error(FR_E_ARG, "unknown landmark net '%s' (known: 68, 68tiny)", lm);
        goto fail;
    }
    eng->landmarks_file = lm_file;
    st = load_model(cfg->models_dir, lm_file, load_landmarks, (void **)&eng->landmarks);
    if (st != FR_OK) goto fail;

    if (cfg->load_embedder) {
        char folder[PATH_MAX];
        int prepared = nn_prepared_folder(cfg->cache_dir, folder, sizeof folder);
        st = model_resolve(cfg, &eng->model);
        for (int j = 0; st == FR_OK && j < eng->model.n_members; j++)
            st = open_member(eng, &eng->model.members[j], prepared ? folder : NULL);
        if (st != FR_OK) goto fail;
        eng->dim = eng->model.dim;
        eng->flip = cfg->flip != 0;
        if ((st = photometric_find(cfg->photometric, &eng->photometric)) != FR_OK) goto fail;
        if (cfg->raw_embedding && (st = open_raw(eng)) != FR_OK) goto fail;
    }
    if (cfg->liveness) {
        st = load_model(cfg->models_dir, LIVENESS_MODEL_FILE, load_liveness,
                        (void **)&eng->liveness);
        if (st != FR_OK) goto fail;
    }
    *out = eng;
    return FR_OK;
fail:
    fr_engine_close(eng);
    return st;
}

void fr_engine_close(fr_engine *eng) {
    if (!eng) return;
    if (eng->detector_net) eng->detector->free(eng->detector_net);
    landmark68_free(eng->landmarks);
    liveness_free(eng->liveness);
    for (int i = 0; i < eng->n_members; i++) eng->members[i].embedder->free(eng->members[i].net);
    model_spec_free(&eng->model);
    nn_arena_pool_free(eng->scratch);
    free(eng);
}

const char *fr_engine_model(const fr_engine *eng) { return eng->model.id; }

const model_spec *engine_model_spec(const fr_engine *eng) { return &eng->model; }

fr_status fr_liveness(fr_engine *eng, const fr_image *img, const fr_face *faces, int n_faces,
                      float *scores) {
    if (!eng || !img || (n_faces > 0 && (!faces || !scores)) || n_faces < 0)
        return fr_error(FR_E_ARG, "fr_liveness: invalid arguments");
    if (!eng->liveness)
        return fr_error(FR_E_ARG, "fr_liveness: the engine was opened without the liveness "
                        "network (set fr_config.liveness)");
    return liveness_scores(eng->liveness, eng->threads, img, faces, n_faces, scores);
}

int fr_engine_dim(const fr_engine *eng) { return eng->dim; }

int fr_engine_threads(const fr_engine *eng) { return eng->threads; }

/* Detection and landmarks on one image, as the detector sees it. */
static fr_status detect_once(fr_engine *eng, const fr_image *img, fr_face **faces, int *n_faces) {
    fr_face *found = NULL;
    int n = 0;
    fr_status st = eng->detector->detect(eng->detector_net, eng->threads, img, eng->min_score, &found, &n);
    if (st == FR_OK) st = check_faces_finite(found, n, eng->detector->model_file);
    if (st == FR_OK && n > 0 && eng->landmarks && !eng->detector->points_align) {
        st = landmark68_run(eng->landmarks, eng->threads, img, found, n);
        if (st == FR_OK) st = check_faces_finite(found, n, eng->landmarks_file);
    }
    if (st != FR_OK) {
        free(found);
        return st;
    }
    *faces = found;
    *n_faces = n;
    return FR_OK;
}

static fr_status detect_in_border(fr_engine *eng, const fr_image *img, fr_face **faces,
                                  int *n_faces);

fr_status fr_detect(fr_engine *eng, const fr_image *img, fr_face **faces, int *n_faces) {
    *faces = NULL;
    *n_faces = 0;
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "fr_detect: empty image");
    fr_status st = detect_once(eng, img, faces, n_faces);
    if (st == FR_OK && *n_faces == 0 && eng->retry_padded)
        st = detect_in_border(eng, img, faces, n_faces);
    /* the original demo's margin around each box, kept inside the image */
    for (int i = 0; st == FR_OK && eng->box_pad > 0 && i < *n_faces; i++) {
        fr_face *f = &(*faces)[i];
        float x0 = FR_MAX(0.0f, f->x - eng->box_pad), y0 = FR_MAX(0.0f, f->y - eng->box_pad);
        float x1 = FR_MIN((float)img->width, f->x + f->w + eng->box_pad);
        float y1 = FR_MIN((float)img->height, f->y + f->h + eng->box_pad);
        f->x = x0, f->y = y0, f->w = x1 - x0, f->h = y1 - y0;
    }
    return st;
}

/* The retry's bordered copy has at most this many pixels: a 12-megapixel photo with its border
 * would be 8064x7056, past the image limit and slow for nothing. Images small enough (up to
 * 512x512, the face crops of ORL among them) are bordered at full size as before. */
#define RETRY_MAX_PIXELS (1024 * 1024)

/* Move faces found in a copy of img (scaled by sx, sy, then bordered by pad) back to img;
 * those wholly in the border (nothing of the image) are dropped. Returns how many remain. */
static int faces_to_image(fr_face *faces, int n, const fr_image *img, float pad, float sx,
                          float sy) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        fr_face *f = &faces[i];
        f->x = (f->x - pad) / sx;
        f->y = (f->y - pad) / sy;
        f->w /= sx;
        f->h /= sy;
        for (int k = 0; k < f->n_landmarks; k++) {
            f->landmarks[k][0] = (f->landmarks[k][0] - pad) / sx;
            f->landmarks[k][1] = (f->landmarks[k][1] - pad) / sy;
        }
        if (f->x < (float)img->width && f->y < (float)img->height && f->x + f->w > 0 &&
            f->y + f->h > 0) {
            if (kept != i) faces[kept] = *f;
            kept++;
        }
    }
    return kept;
}

/* Detectors trained on scenes miss a face that fills the whole frame (ID photos, face
 * crops such as ORL's): look again with a black border of half the image around it, on a
 * copy scaled down so that the bordered image has at most RETRY_MAX_PIXELS. */
static fr_status detect_in_border(fr_engine *eng, const fr_image *img, fr_face **faces,
                                  int *n_faces) {
    int longer = FR_MAX(img->width, img->height);
    double bordered = ((double)img->width + longer) * ((double)img->height + longer);
    double scale = bordered > RETRY_MAX_PIXELS ? sqrt(RETRY_MAX_PIXELS / bordered) : 1.0;
    fr_image *small = NULL, *padded;
    fr_status st = FR_OK;
    if (scale < 1.0)
        st = fr_image_resize(img, FR_MAX(1, (int)lround(img->width * scale)),
                             FR_MAX(1, (int)lround(img->height * scale)), &small);
    if (st != FR_OK) return st;
    const fr_image *src = small ? small : img;
    int pad = FR_MAX(src->width, src->height) / 2;
    st = fr_image_crop(src, -pad, -pad, src->width + 2 * pad, src->height + 2 * pad, &padded);
    if (st != FR_OK) {
        fr_image_free(small);
        return st;
    }
    float sx = (float)src->width / (float)img->width, sy = (float)src->height / (float)img->height;
    if (!small) {
        st = detect_once(eng, padded, faces, n_faces);
        if (st == FR_OK) *n_faces = faces_to_image(*faces, *n_faces, img, (float)pad, 1.0f, 1.0f);
    } else {
        /* detection on the small copy; landmarks at full resolution, on the image itself */
        fr_face *found = NULL;
        int n = 0;
        st = eng->detector->detect(eng->detector_net, eng->threads, padded, eng->min_score, &found,
                                   &n);
        if (st == FR_OK) st = check_faces_finite(found, n, eng->detector->model_file);
        if (st == FR_OK) n = faces_to_image(found, n, img, (float)pad, sx, sy);
        if (st == FR_OK && n > 0 && eng->landmarks && !eng->detector->points_align) {
            st = landmark68_run(eng->landmarks, eng->threads, img, found, n);
            if (st == FR_OK) st = check_faces_finite(found, n, eng->landmarks_file);
        }
        if (st == FR_OK) {
            *faces = found;
            *n_faces = n;
        } else {
            free(found);
        }
    }
    fr_image_free(padded);
    fr_image_free(small);
    return st;
}

/* The crop of a face that member m's network reads, normalised as the engine says. */
static fr_status member_align(const fr_engine *eng, const engine_member *m, const fr_image *img,
                              const fr_face *face, fr_image **crop) {
    fr_status st = m->align->tpl
                       ? align_warp(img, face, m->align->tpl, m->align->size, m->spec->align_scale, crop)
                       : align_faceapi(img, face, crop);
    if (st != FR_OK || eng->photometric == PHOTOMETRIC_NONE) return st;
    float *scratch = malloc((size_t)(*crop)->width * (size_t)(*crop)->height * 3 * sizeof *scratch);
    if (!scratch) {
        fr_image_free(*crop);
        *crop = NULL;
        return fr_error(FR_E_NOMEM, "out of memory normalising a face");
    }
    photometric_apply(eng->photometric, *crop, scratch);
    free(scratch);
    return FR_OK;
}

/* member_align into *crop, its pixels (and the normalisation's scratch) from a. */
static fr_status member_align_into(const fr_engine *eng, const engine_member *m,
                                   const fr_image *img, const fr_face *face, nn_arena *a,
                                   fr_image *crop) {
    int region[4];
    float matrix[6];
    fr_status st = m->align->tpl
                       ? align_warp_matrix(face, m->align->tpl, m->align->size, m->spec->align_scale,
                                           matrix)
                       : align_faceapi_region(img, face, region);
    if (st != FR_OK) return st;
    crop->width = m->align->tpl ? m->align->size : region[2];
    crop->height = m->align->tpl ? m->align->size : region[3];
    crop->rgb = nn_arena_alloc_items(a, (size_t)crop->width * (size_t)crop->height, 3);
    if (!crop->rgb) return fr_error(FR_E_NOMEM, "out of memory aligning faces");
    if (m->align->tpl) image_warp_affine_into(img, matrix, crop);
    else image_crop_into(img, region[0], region[1], crop);
    if (eng->photometric == PHOTOMETRIC_NONE) return FR_OK;
    size_t mark = nn_arena_mark(a);
    float *scratch = nn_arena_alloc(a, (size_t)crop->width * (size_t)crop->height * 3);
    if (!scratch) return fr_error(FR_E_NOMEM, "out of memory normalising a face");
    photometric_apply(eng->photometric, crop, scratch);
    nn_arena_reset(a, mark);
    return FR_OK;
}

/* Member m's unit (or raw) embeddings of crops: out is (n, m's dim), through the head if
 * any. */
static fr_status member_embed_crops(const fr_engine *eng, const engine_member *m,
                                    const fr_image *const *crops, int n, float *out) {
    fr_status st = m->embedder->embed(m->net, eng->threads, crops, n, out);
    for (size_t k = 0; st == FR_OK && k < (size_t)n * (size_t)m->embedder->dim; k++)
        if (!isfinite(out[k]))
            st = fr_error(FR_E_MODEL, "%s: the network gave a non-finite embedding (face %zu)",
                          m->spec->weights, k / (size_t)m->embedder->dim);
    if (st == FR_OK && eng->model.head) st = embed_head_apply(eng->model.head, eng->threads, out, n);
    if (st == FR_OK && !eng->raw) nn_l2_normalize(out, n, m->embedder->dim);
    return st;
}

/* Member m's unit embeddings of n aligned crops, out (n, m's dim); with flip each is the mean
 * of the crop's and its mirror image's, made unit again (raw: the plain mean), all 2n crops
 * in one batch. The mirror images and vectors come from a (released before returning). */
static fr_status member_embed_flipped(const fr_engine *eng, const engine_member *m,
                                      const fr_image *const *crops, int n, float *out,
                                      nn_arena *a) {
    if (!eng->flip) return member_embed_crops(eng, m, crops, n, out);
    int dim = m->embedder->dim;
    size_t mark = nn_arena_mark(a);
    /* batch[n .. 2n) are the mirror images of batch[0 .. n) = crops */
    const fr_image **batch = nn_arena_alloc_items(a, 2 * (size_t)n, sizeof *batch);
    fr_image *mirrors = nn_arena_alloc_items(a, (size_t)n, sizeof *mirrors);
    float *vectors = nn_arena_alloc(a, 2 * (size_t)n * (size_t)dim);
    fr_status st = batch && mirrors && vectors ? FR_OK
                                               : fr_error(FR_E_NOMEM, "out of memory embedding faces");
    for (int i = 0; i < n && st == FR_OK; i++) {
        fr_image *mirror = &mirrors[i];
        *mirror = (fr_image){crops[i]->width, crops[i]->height, NULL};
        mirror->rgb = nn_arena_alloc_items(a, (size_t)mirror->width * (size_t)mirror->height, 3);
        if (!mirror->rgb) {
            st = fr_error(FR_E_NOMEM, "out of memory embedding faces");
            break;
        }
        image_mirror_into(crops[i], mirror);
        batch[i] = crops[i];
        batch[n + i] = mirror;
    }
    if (st == FR_OK) st = member_embed_crops(eng, m, batch, 2 * n, vectors);
    for (int i = 0; i < n && st == FR_OK; i++) {
        float *v = out + (size_t)i * dim;
        for (int k = 0; k < dim; k++)
            v[k] = vectors[(size_t)i * dim + k] + vectors[(size_t)(n + i) * dim + k];
        if (eng->raw)
            for (int k = 0; k < dim; k++) v[k] *= 0.5f;
        else
            nn_l2_normalize(v, 1, dim);
    }
    nn_arena_reset(a, mark);
    return st;
}

/* Member j's part of each face's embedding: align, then embed (with flip) in one batch. The
 * crops and vectors come from a (released before returning). */
static fr_status member_embed_faces(const fr_engine *eng, int j, const fr_image *img,
                                    fr_face *faces, int n_faces, nn_arena *a) {
    const engine_member *m = &eng->members[j];
    int dim = m->embedder->dim;
    size_t mark = nn_arena_mark(a);
    fr_image *crops = nn_arena_alloc_items(a, (size_t)n_faces, sizeof *crops);
    const fr_image **crop_list = nn_arena_alloc_items(a, (size_t)n_faces, sizeof *crop_list);
    float *vectors = nn_arena_alloc(a, (size_t)n_faces * (size_t)dim);
    fr_status st = crops && crop_list && vectors
                       ? FR_OK
                       : fr_error(FR_E_NOMEM, "out of memory embedding faces");
    for (int i = 0; i < n_faces && st == FR_OK; i++) {
        st = member_align_into(eng, m, img, &faces[i], a, &crops[i]);
        crop_list[i] = &crops[i];
    }
    if (st == FR_OK) st = member_embed_flipped(eng, m, crop_list, n_faces, vectors, a);
    for (int i = 0; i < n_faces && st == FR_OK; i++)
        model_place_member(&eng->model, j, vectors + (size_t)i * dim, faces[i].embedding);
    nn_arena_reset(a, mark);
    return st;
}

/* What a call embedding n faces takes from the engine's arena at most (a hint: a face-api
 * crop's size depends on the face, and the arena grows if it must). */
static size_t embed_scratch_bytes(const fr_engine *eng, int n) {
    size_t bytes = 0;
    for (int j = 0; j < eng->n_members; j++) {
        const engine_member *m = &eng->members[j];
        size_t side = m->align->tpl ? (size_t)m->align->size : 160;
        size_t per_crop = 2 * (side * side * 3 + sizeof(fr_image) + 2 * sizeof(void *) + 3 * 64);
        size_t vectors = 3 * (size_t)m->embedder->dim * sizeof(float);
        bytes = FR_MAX(bytes, (size_t)n * (per_crop + vectors) + 8 * 64);
    }
    return bytes;
}

static fr_status has_embedding(const fr_engine *eng) {
    return eng->n_members > 0
               ? FR_OK
               : fr_error(FR_E_ARG, "this engine was opened without an embedding model");
}

fr_status fr_embed(fr_engine *eng, const fr_image *img, fr_face *faces, int n_faces) {
    fr_status has = has_embedding(eng);
    if (has != FR_OK) return has;
    if (n_faces <= 0) return FR_OK;
    int needs_68 = 0; /* face-api's alignment reads 68 points; the others do with 5 */
    for (int j = 0; j < eng->n_members; j++) needs_68 |= eng->members[j].align->tpl == NULL;
    for (int i = 0; i < n_faces; i++)
        if (faces[i].n_landmarks != 68 && (faces[i].n_landmarks != 5 || needs_68)) {
            fr_status st = landmark68_run(eng->landmarks, eng->threads, img, faces + i, 1);
            if (st != FR_OK) return st;
        }
    nn_arena *a = nn_arena_pool_take(eng->scratch, embed_scratch_bytes(eng, n_faces));
    fr_status st = a ? FR_OK : fr_error(FR_E_NOMEM, "out of memory embedding faces");
    for (int j = 0; j < eng->n_members && st == FR_OK; j++)
        st = member_embed_faces(eng, j, img, faces, n_faces, a);
    nn_arena_pool_give(eng->scratch, a);
    if (st != FR_OK) return st;
    for (int i = 0; i < n_faces; i++) faces[i].dim = eng->dim;
    return FR_OK;
}

fr_status engine_landmarks68(const fr_engine *eng, const fr_image *img, fr_face *face) {
    fr_status st = landmark68_run(eng->landmarks, eng->threads, img, face, 1);
    return st == FR_OK ? check_faces_finite(face, 1, eng->landmarks_file) : st;
}

fr_status engine_whole_landmarks(const fr_engine *eng, const fr_image *img, fr_face *face,
                                 landmark_fit_result *fit) {
    /* the whole image, then two boxes of 0.9 of its size in opposite corners */
    float w = (float)img->width, h = (float)img->height;
    fr_face boxes[3];
    memset(boxes, 0, sizeof boxes);
    boxes[0].w = w, boxes[0].h = h;
    boxes[1].w = boxes[2].w = 0.9f * w;
    boxes[1].h = boxes[2].h = 0.9f * h;
    boxes[2].x = 0.1f * w, boxes[2].y = 0.1f * h;
    fr_status st = landmark68_run(eng->landmarks, eng->threads, img, boxes, 3);
    if (st == FR_OK) st = check_faces_finite(boxes, 3, eng->landmarks_file);
    if (st != FR_OK) return st;
    *face = boxes[0];
    landmark_fit(face->landmarks, fit);
    double moved = 0;
    for (int k = 0; k < 68; k++)
        moved += hypot(boxes[1].landmarks[k][0] - boxes[2].landmarks[k][0],
                       boxes[1].landmarks[k][1] - boxes[2].landmarks[k][1]);
    fit->drift = fit->radius > 0 ? (float)(moved / 68 / fit->radius) : 1.0f;
    return FR_OK;
}

fr_status fr_whole_face(fr_engine *eng, const fr_image *img, fr_face *face) {
    if (!eng || !face || !img || !img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "fr_whole_face: empty image");
    landmark_fit_result fit;
    fr_status st = engine_whole_landmarks(eng, img, face, &fit);
    if (st != FR_OK) return st;
    float side = (float)FR_MIN(img->width, img->height);
    if (fit.drift > LANDMARK_FIT_MAX_DRIFT || fit.residual > LANDMARK_FIT_MAX_RESIDUAL ||
        fabsf(fit.angle) > LANDMARK_FIT_MAX_ANGLE || fit.radius < LANDMARK_FIT_MIN_RADIUS * side ||
        fit.radius > LANDMARK_FIT_MAX_RADIUS * side) {
        face->n_landmarks = 0;
        return fr_error(FR_E_NO_FACE, "no face: the landmarks on the whole image are not a "
                        "face's (drift %.3f, at most %.2f; fit residual %.3f, at most %.2f; tilt "
                        "%.0f degrees, at most %.0f; radius %.2f of the shorter side, %.2f to "
                        "%.2f)", (double)fit.drift, (double)LANDMARK_FIT_MAX_DRIFT,
                        (double)fit.residual, (double)LANDMARK_FIT_MAX_RESIDUAL, (double)fit.angle,
                        (double)LANDMARK_FIT_MAX_ANGLE, (double)(fit.radius / side),
                        (double)LANDMARK_FIT_MIN_RADIUS, (double)LANDMARK_FIT_MAX_RADIUS);
    }
    face->score = 1 - fit.residual;
    return FR_OK;
}

/* The stages one at a time serve training, which fine-tunes one network. */
static fr_status single_member(const fr_engine *eng) {
    fr_status st = has_embedding(eng);
    if (st != FR_OK) return st;
    if (eng->n_members > 1)
        return fr_error(FR_E_ARG, "%s fuses %d models; this needs a single model", eng->model.id,
                        eng->n_members);
    return FR_OK;
}

fr_status fr_engine_align(const fr_engine *eng, const fr_image *img, const fr_face *face,
                          fr_image **crop) {
    fr_status st = single_member(eng);
    return st == FR_OK ? member_align(eng, &eng->members[0], img, face, crop) : st;
}

fr_status fr_engine_embed_crops(const fr_engine *eng, const fr_image *const *crops, int n,
                                float *out) {
    fr_status st = single_member(eng);
    return st == FR_OK ? member_embed_crops(eng, &eng->members[0], crops, n, out) : st;
}

fr_status fr_process(fr_engine *eng, const fr_image *img, fr_face **faces, int *n_faces) {
    fr_status st = fr_detect(eng, img, faces, n_faces);
    if (st != FR_OK) return st;
    st = fr_embed(eng, img, *faces, *n_faces);
    if (st != FR_OK) {
        fr_faces_free(*faces);
        *faces = NULL;
        *n_faces = 0;
    }
    return st;
}

fr_status fr_embed_image(fr_engine *eng, const fr_image *img, fr_face *face) {
    fr_status has = has_embedding(eng);
    if (has != FR_OK) return has;
    memset(face, 0, sizeof *face);
    face->w = (float)img->width;
    face->h = (float)img->height;
    face->score = 1.0f;
    nn_arena *a = nn_arena_pool_take(eng->scratch, (size_t)img->width * img->height * 3 + 4096);
    fr_status st = a ? FR_OK : fr_error(FR_E_NOMEM, "out of memory embedding an image");
    for (int j = 0; j < eng->n_members && st == FR_OK; j++) {
        float *v = face->embedding + eng->model.members[j].offset;
        st = member_embed_flipped(eng, &eng->members[j], &img, 1, v, a);
        if (st == FR_OK) model_place_member(&eng->model, j, v, face->embedding);
    }
    nn_arena_pool_give(eng->scratch, a);
    if (st != FR_OK) return st;
    face->dim = eng->dim;
    return FR_OK;
}

void fr_faces_free(fr_face *faces) { free(faces); }

float fr_distance(const float *a, const float *b, int dim) {
    double sum = 0;
    for (int i = 0; i < dim; i++) {
        double d = (double)a[i] - (double)b[i];
        sum += d * d;
    }
    return (float)sqrt(sum);
}
