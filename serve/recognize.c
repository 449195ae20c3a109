/* recognize.c: the recognition steps our API and CompreFace's share: the pipeline on an
 * uploaded image, identification against the gallery, enrollment of uploaded photos. */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gallery_lock(server *srv) { pthread_mutex_lock(&srv->gallery_lock); }
void gallery_unlock(server *srv) { pthread_mutex_unlock(&srv->gallery_lock); }

int gallery_people(server *srv, reply *out, fr_person **people, int *n) {
    gallery_lock(srv);
    fr_status st = fr_gallery_people(srv->gallery, people, n);
    gallery_unlock(srv);
    if (st != FR_OK) reply_library_error(out, st);
    return st == FR_OK;
}

fr_status run_pipeline(server *srv, const fr_image *img, int embed, fr_face **faces, int *n) {
    return embed ? fr_process(srv->engine, img, faces, n) : fr_detect(srv->engine, img, faces, n);
}

static int by_area_descending(const void *a, const void *b) {
    const fr_face *fa = a, *fb = b;
    float da = fa->w * fa->h, db = fb->w * fb->h;
    return (da < db) - (da > db);
}

void sort_and_filter_faces(fr_face *faces, int *n, float min_score, int limit) {
    int kept = 0;
    for (int i = 0; i < *n; i++)
        if (faces[i].score >= min_score) faces[kept++] = faces[i];
    if (kept > 1) qsort(faces, (size_t)kept, sizeof *faces, by_area_descending);
    if (limit > 0 && kept > limit) kept = limit;
    *n = kept;
}

/* Unit vectors d apart have cosine 1 - d^2/2; similarity maps it onto 0..1. */
float similarity_of_distance(float distance) {
    float s = 1.0f - distance * distance / 4.0f;
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

int identify_faces(server *srv, const fr_face *faces, int n, int k, candidate **out, int *n_found,
                   fr_threshold *th, reply *err) {
    *out = NULL;
    *n_found = 0;
    int dim = fr_engine_dim(srv->engine);
    float *probes = malloc((size_t)(n ? n : 1) * (size_t)dim * sizeof(float));
    candidate *c = calloc((size_t)(n ? n : 1) * (size_t)k, sizeof *c);
    if (!probes || !c) {
        free(probes), free(c);
        reply_error(err, 503, "out of memory identifying %d faces", n);
        return 0;
    }
    for (int i = 0; i < n; i++) memcpy(probes + (size_t)i * dim, faces[i].embedding, (size_t)dim * sizeof(float));
    fr_status st = index_search(srv, probes, n, k, c, n_found, th);
    free(probes);
    if (st != FR_OK) {
        free(c);
        reply_library_error(err, st);
        return 0;
    }
    *out = c;
    return 1;
}

/* A JPEG of the face with some margin, THUMBNAIL_SIZE pixels high, for people lists. */
#define THUMBNAIL_SIZE 128
static void make_thumbnail(const fr_image *img, const fr_face *f, photo_result *r) {
    float side = (f->w > f->h ? f->w : f->h) * 1.4f;
    int x = (int)(f->x + f->w / 2 - side / 2), y = (int)(f->y + f->h / 2 - side / 2);
    fr_image *crop = NULL, *small = NULL;
    if (fr_image_crop(img, x, y, (int)side, (int)side, &crop) == FR_OK &&
        fr_image_resize(crop, THUMBNAIL_SIZE, THUMBNAIL_SIZE, &small) == FR_OK)
        fr_image_encode_jpeg(small, 85, &r->thumbnail, &r->thumbnail_size);
    fr_image_free(crop);
    fr_image_free(small);
}

int enroll_photos(server *srv, const char *name, const uint8_t *const *data, const size_t *sizes,
                  const char *const *sources, int n, photo_result *results, reply *err) {
    int dim = fr_engine_dim(srv->engine);
    fr_template *templates = calloc((size_t)n, sizeof *templates);
    float *embeddings = malloc((size_t)n * (size_t)dim * sizeof(float));
    int *template_of = calloc((size_t)n, sizeof *template_of);
    if (!templates || !embeddings || !template_of) {
        free(templates), free(embeddings), free(template_of);
        reply_error(err, 503, "out of memory enrolling %d photos", n);
        return 0;
    }
    int n_templates = 0;
    /* the networks run outside the gallery's lock */
    for (int i = 0; i < n; i++) {
        photo_result *r = &results[i];
        memset(r, 0, sizeof *r);
        template_of[i] = -1;
        fr_template *t = &templates[n_templates];
        fr_sha256(data[i], sizes[i], t->sha256);
        int duplicate = 0;
        for (int j = 0; j < n_templates; j++) duplicate |= !memcmp(templates[j].sha256, t->sha256, 32);
        if (duplicate) {
            r->status = 409;
            snprintf(r->message, sizeof r->message, "%s: the same photo twice in this request", sources[i]);
            continue;
        }
        fr_image *img = NULL;
        reply decode_err = {0};
        if (!decode_image(srv, data[i], sizes[i], &img, &decode_err)) {
            r->status = decode_err.status;
            const char *msg = json_string_value(json_object_get(decode_err.json, "error"));
            snprintf(r->message, sizeof r->message, "%s: %s", sources[i], msg ? msg : "unreadable");
            json_decref(decode_err.json);
            continue;
        }
        fr_face *faces = NULL;
        int n_faces = 0;
        fr_status st = fr_process(srv->engine, img, &faces, &n_faces);
        if (st == FR_OK && n_faces > 0) {
            sort_and_filter_faces(faces, &n_faces, 0, n_faces);
            make_thumbnail(img, &faces[0], r);
        }
        fr_image_free(img);
        if (st != FR_OK) {
            r->status = st == FR_E_NOMEM ? 503 : 400;
            snprintf(r->message, sizeof r->message, "%s: %s", sources[i], fr_last_error());
            continue;
        }
        r->n_faces = n_faces;
        if (n_faces == 0) {
            r->status = 422;
            snprintf(r->message, sizeof r->message, "%s: no face found", sources[i]);
            fr_faces_free(faces);
            continue;
        }
        sort_and_filter_faces(faces, &n_faces, 0, 1);
        r->face = faces[0];
        fr_faces_free(faces);
        memcpy(embeddings + (size_t)n_templates * dim, r->face.embedding, (size_t)dim * sizeof(float));
        t->embedding = embeddings + (size_t)n_templates * dim;
        t->source = sources[i];
        t->x = r->face.x, t->y = r->face.y, t->w = r->face.w, t->h = r->face.h;
        t->quality = r->face.score;
        template_of[i] = n_templates++;
    }
    int ok = 1;
    gallery_lock(srv);
    /* drop photos enrolled before (by anyone): the rest go in */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (template_of[i] < 0) continue;
        int found = 0;
        char owner[256] = "";
        fr_status st = fr_gallery_find_source(srv->gallery, templates[template_of[i]].sha256, &found,
                                              owner, sizeof owner);
        if (st != FR_OK) {
            reply_library_error(err, st);
            ok = 0;
            break;
        }
        if (found) {
            results[i].status = 409;
            snprintf(results[i].message, sizeof results[i].message,
                     "%s: this photo is enrolled already, as %s", sources[i], owner);
            template_of[i] = -1;
            continue;
        }
        templates[kept] = templates[template_of[i]];
        template_of[i] = kept++;
    }
    if (ok && kept > 0) {
        fr_status st = fr_gallery_enroll(srv->gallery, name, templates, kept);
        if (st != FR_OK) {
            reply_library_error(err, st);
            ok = 0;
        }
    }
    if (ok && kept > 0) { /* the ids of the new templates, by their SHA-256 */
        fr_template_info *list = NULL;
        int n_list = 0;
        /* committed: stored, even if the ids cannot be read now (the database went away) */
        int listed = fr_gallery_templates(srv->gallery, name, &list, &n_list) == FR_OK;
        for (int i = 0; i < n; i++) {
            if (template_of[i] < 0) continue;
            results[i].stored = 1;
            results[i].status = 201;
            for (int j = 0; listed && j < n_list; j++)
                if (!memcmp(list[j].sha256, templates[template_of[i]].sha256, 32))
                    results[i].template_id = list[j].id;
            /* without its thumbnail a template still works: a failure here is not one */
            if (results[i].thumbnail && results[i].template_id > 0)
                fr_gallery_set_template_image(srv->gallery, results[i].template_id,
                                              results[i].thumbnail, results[i].thumbnail_size);
        }
        fr_template_infos_free(list, n_list);
    }
    gallery_unlock_changed(srv, ok && kept > 0);
    for (int i = 0; i < n; i++) {
        free(results[i].thumbnail);
        results[i].thumbnail = NULL;
    }
    free(templates);
    free(embeddings);
    free(template_of);
    return ok;
}
