/* routes.c: our own API (docs/API.md), the health and metrics endpoints, and the web page. */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *face_json(const fr_face *face, int with_embedding) {
    json_t *landmarks = json_array();
    for (int k = 0; k < face->n_landmarks; k++)
        json_array_append_new(landmarks, json_pack("[f, f]", face->landmarks[k][0], face->landmarks[k][1]));
    json_t *o = json_pack("{s:[f, f, f, f], s:f, s:o}", "box", face->x, face->y, face->w, face->h,
                          "score", face->score, "landmarks", landmarks);
    if (with_embedding) {
        json_t *e = json_array();
        for (int k = 0; k < face->dim; k++) json_array_append_new(e, json_real(face->embedding[k]));
        json_object_set_new(o, "embedding", e);
    }
    return o;
}

/* An integer query argument within [lo, hi], default def; 0 after a 400. */
static int int_arg(request *req, const char *key, int def, int lo, int hi, int *value, reply *out) {
    const char *text = request_arg(req, key);
    *value = def;
    if (!text || !*text) return 1;
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || v < lo || v > hi) {
        reply_error(out, 400, "?%s=%s: want an integer from %d to %d", key, text, lo, hi);
        return 0;
    }
    *value = (int)v;
    return 1;
}

static int float_arg(request *req, const char *key, float def, float lo, float hi, float *value,
                     reply *out) {
    const char *text = request_arg(req, key);
    *value = def;
    if (!text || !*text) return 1;
    char *end;
    float v = strtof(text, &end);
    if (*end || !(v >= lo && v <= hi)) {
        reply_error(out, 400, "?%s=%s: want a number from %g to %g", key, text, lo, hi);
        return 0;
    }
    *value = v;
    return 1;
}

/* A yes/no option, ?key=true|false or the JSON body's member key (true or false), default 0;
 * 0 after a 400. */
static int bool_arg(request *req, const char *key, int *value, reply *out) {
    *value = 0;
    const char *text = request_arg(req, key);
    if (text) {
        if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0) {
            reply_error(out, 400, "?%s=%s: want true or false", key, text);
            return 0;
        }
        *value = !strcmp(text, "true");
        return 1;
    }
    json_t *body = request_json(req, out);
    if (req->json_parsed == 2) return 0;
    json_t *v = json_object_get(body, key);
    if (v && !json_is_boolean(v)) {
        reply_error(out, 400, "\"%s\" must be true or false", key);
        return 0;
    }
    *value = json_is_true(v);
    return 1;
}

/* Decode the request's image and run the pipeline on it; with liveness (not NULL), each
 * face's probability of being live in *liveness (n floats, free it). */
static int image_faces(server *srv, request *req, const char *field, int embed, fr_face **faces,
                       int *n, float **liveness, reply *out) {
    fr_image *img = request_image(srv, req, field, "file", out);
    if (!img) return 0;
    fr_status st = run_pipeline(srv, img, embed, faces, n);
    if (st == FR_OK && liveness) {
        *liveness = malloc((size_t)(*n ? *n : 1) * sizeof **liveness);
        if (!*liveness) {
            fr_faces_free(*faces);
            fr_image_free(img);
            reply_error(out, 503, "out of memory scoring the liveness of %d faces", *n);
            return 0;
        }
        st = fr_liveness(srv->engine, img, *faces, *n, *liveness);
        if (st != FR_OK) {
            free(*liveness);
            fr_faces_free(*faces);
        }
    }
    fr_image_free(img);
    if (st != FR_OK) {
        reply_library_error(out, st);
        return 0;
    }
    return 1;
}

/* "liveness" (the probability that the face is live) and "live" (at FR_LIVENESS_THRESHOLD),
 * as the CLI's --liveness. */
static void add_liveness(json_t *face, float liveness) {
    json_object_set_new(face, "liveness", json_real(liveness));
    json_object_set_new(face, "live", json_boolean(liveness >= FR_LIVENESS_THRESHOLD));
}

static void on_detect(server *srv, request *req, reply *out, int embed) {
    int want_liveness;
    if (!bool_arg(req, "liveness", &want_liveness, out)) return;
    fr_face *faces;
    int n;
    float *liveness = NULL;
    if (!image_faces(srv, req, "image", embed, &faces, &n, want_liveness ? &liveness : NULL, out))
        return;
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *face = face_json(&faces[i], embed);
        if (liveness) add_liveness(face, liveness[i]);
        json_array_append_new(list, face);
    }
    free(liveness);
    fr_faces_free(faces);
    out->n_faces = n;
    reply_json(out, 200, json_pack("{s:o}", "faces", list));
}

static void route_detect(server *srv, request *req, reply *out) { on_detect(srv, req, out, 0); }
static void route_embed(server *srv, request *req, reply *out) { on_detect(srv, req, out, 1); }

static void route_identify(server *srv, request *req, reply *out) {
    int k, want_liveness, require_live;
    float given;
    if (!int_arg(req, "candidates", 5, 1, 100, &k, out) ||
        !float_arg(req, "threshold", -1, 0, 2, &given, out) ||
        !bool_arg(req, "liveness", &want_liveness, out) ||
        !bool_arg(req, "require_live", &require_live, out))
        return;
    fr_face *faces;
    int n, n_found;
    float *liveness = NULL;
    if (!image_faces(srv, req, "image", 1, &faces, &n,
                     want_liveness || require_live ? &liveness : NULL, out))
        return;
    candidate *c;
    fr_threshold th;
    if (!identify_faces(srv, faces, n, k, &c, &n_found, &th, out)) {
        free(liveness);
        fr_faces_free(faces);
        return;
    }
    if (given >= 0) {
        th.distance = given;
        snprintf(th.note, sizeof th.note, "given by ?threshold");
    }
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *face = face_json(&faces[i], 0);
        const candidate *ci = c + (size_t)i * k;
        /* with require_live an attack is never named (the CLI's identify --require-live) */
        int spoof = require_live && liveness[i] < FR_LIVENESS_THRESHOLD;
        int known = !spoof && n_found > 0 && ci[0].distance <= th.distance;
        json_object_set_new(face, "identity", known ? json_text(ci[0].name) : json_null());
        if (liveness) add_liveness(face, liveness[i]);
        if (spoof) json_object_set_new(face, "spoof", json_true());
        json_object_set_new(face, "distance", n_found && !spoof ? json_real(ci[0].distance) : json_null());
        json_t *cands = json_array();
        for (int j = 0; !spoof && j < n_found; j++)
            json_array_append_new(cands, json_pack("{s:s, s:f}", "name", ci[j].name, "distance", ci[j].distance));
        json_object_set_new(face, "candidates", cands);
        json_array_append_new(list, face);
    }
    out->n_faces = n;
    reply_json(out, 200, json_pack("{s:o, s:f, s:s}", "faces", list, "threshold", th.distance,
                                   "threshold_source", th.note));
    free(c);
    free(liveness);
    fr_faces_free(faces);
}

/* The largest face of the image in `field`; 0 after an error reply (422 when there is none). */
static int largest_face(server *srv, request *req, const char *field, fr_face *face, int *n_faces,
                        reply *out) {
    fr_face *faces;
    int n;
    fr_image *img = request_image(srv, req, field, NULL, out);
    if (!img) return 0;
    fr_status st = run_pipeline(srv, img, 1, &faces, &n);
    fr_image_free(img);
    if (st != FR_OK) {
        reply_library_error(out, st);
        return 0;
    }
    *n_faces = n;
    if (n == 0) {
        reply_error(out, 422, "%s: no face found", field);
        fr_faces_free(faces);
        return 0;
    }
    sort_and_filter_faces(faces, &n, 0, 1);
    *face = faces[0];
    fr_faces_free(faces);
    return 1;
}

static void route_verify(server *srv, request *req, reply *out) {
    fr_face a, b;
    int n_a = 0, n_b = 0;
    if (!largest_face(srv, req, "image_a", &a, &n_a, out) || !largest_face(srv, req, "image_b", &b, &n_b, out))
        return;
    fr_threshold th;
    index_verify_threshold(srv, &th);
    float d = fr_distance(a.embedding, b.embedding, a.dim);
    out->n_faces = n_a + n_b;
    reply_json(out, 200, json_pack("{s:b, s:f, s:f, s:s, s:[i, i]}", "same", d <= th.distance,
                                   "distance", d, "threshold", th.distance, "threshold_source",
                                   th.note, "faces", n_a, n_b));
}

static const char *origin_name(fr_threshold_origin o) {
    return o == FR_THRESHOLD_CALIBRATED ? "calibrated" : o == FR_THRESHOLD_SHIPPED ? "shipped" : "model-default";
}

static void route_gallery(server *srv, request *req, reply *out) {
    (void)req;
    fr_gallery_info info;
    fr_threshold ident, verif;
    gallery_lock(srv);
    fr_status st = fr_gallery_get_info(srv->gallery, &info);
    if (st == FR_OK) st = fr_gallery_identify_threshold(srv->gallery, srv->opt.fpir, &ident);
    if (st == FR_OK) st = fr_gallery_threshold(srv->gallery, srv->opt.far, &verif);
    gallery_unlock(srv);
    if (st != FR_OK) {
        reply_library_error(out, st);
        return;
    }
    reply_json(out, 200,
               json_pack("{s:s, s:s, s:i, s:i, s:I, s:b, s:{s:f, s:f, s:s, s:s, s:f}, s:{s:f, s:f, s:s, s:s, s:f}}",
                         "model", info.model, "model_version", info.model_version, "dim", info.dim,
                         "people", info.n_people, "templates", (json_int_t)info.n_templates,
                         "calibrated", info.calibrated,
                         "identify_threshold", "distance", ident.distance, "fpir", srv->opt.fpir,
                         "origin", origin_name(ident.origin), "source", ident.note,
                         "similarity", similarity_of_distance(ident.distance),
                         "verify_threshold", "distance", verif.distance, "far", srv->opt.far,
                         "origin", origin_name(verif.origin), "source", verif.note,
                         "similarity", similarity_of_distance(verif.distance)));
}

static void route_people(server *srv, request *req, reply *out) {
    (void)req;
    fr_person *people;
    int n;
    if (!gallery_people(srv, out, &people, &n)) return;
    json_t *list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:i, s:I}", "name", people[i].name, "photos",
                                              people[i].n_templates, "added", (json_int_t)people[i].added));
    fr_people_free(people, n);
    reply_json(out, 200, json_pack("{s:o}", "people", list));
}

static json_t *template_json(const fr_template_info *t) {
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", t->sha256[i]);
    return json_pack("{s:I, s:s, s:s, s:s, s:[f, f, f, f], s:f, s:I}", "id", (json_int_t)t->id,
                     "name", t->name, "source", t->source, "sha256", hex, "box", t->x, t->y, t->w,
                     t->h, "quality", t->quality, "added", (json_int_t)t->added);
}

/* Enroll the request's photos (every file part, or the JSON array "images") for name. */
static void add_photos(server *srv, request *req, const char *name, int create_empty, reply *out) {
    const uint8_t *data[MAX_FORM_PARTS];
    size_t sizes[MAX_FORM_PARTS];
    char sources[MAX_FORM_PARTS][300];
    const char *source_ptrs[MAX_FORM_PARTS];
    uint8_t *owned[MAX_FORM_PARTS] = {0};
    int n = 0;
    json_t *body = request_json(req, out);
    if (req->json_parsed == 2) return;
    if (req->n_parts) {
        for (int i = 0; i < req->n_parts; i++) {
            if (!req->parts[i].filename && strcmp(req->parts[i].field, "image") != 0) continue;
            data[n] = (const uint8_t *)req->parts[i].data.data;
            sizes[n] = req->parts[i].data.size;
            snprintf(sources[n], sizeof sources[n], "upload:%s", req->parts[i].filename ? req->parts[i].filename : "image");
            n++;
        }
    } else if (body) {
        json_t *images = json_object_get(body, "images"), *v;
        size_t i;
        if (images && !json_is_array(images)) {
            reply_error(out, 400, "\"images\" must be an array of base64 strings");
            return;
        }
        json_array_foreach(images, i, v) {
            if (n == MAX_FORM_PARTS) {
                reply_error(out, 413, "at most %d photos per request", MAX_FORM_PARTS);
                goto done;
            }
            const char *text = json_string_value(v);
            if (!text) {
                reply_error(out, 400, "images[%zu] is not a string", i);
                goto done;
            }
            size_t len = json_string_length(v);
            const char *comma = !strncmp(text, "data:", 5) ? strchr(text, ',') : NULL;
            if (comma) len -= (size_t)(comma + 1 - text), text = comma + 1;
            if (!base64_decode(text, len, &owned[n], &sizes[n])) {
                reply_error(out, 400, "images[%zu] is not valid base64", i);
                goto done;
            }
            data[n] = owned[n];
            snprintf(sources[n], sizeof sources[n], "upload:images[%zu]", i);
            n++;
        }
    } else if (req->body.size > 0) {
        const uint8_t *bytes;
        size_t size;
        uint8_t *unused;
        if (!request_image_bytes(req, "image", NULL, &bytes, &size, &unused, out)) return;
        data[0] = bytes, sizes[0] = size;
        snprintf(sources[0], sizeof sources[0], "upload:body");
        n = 1;
    }
    for (int i = 0; i < n; i++) source_ptrs[i] = sources[i];
    if (n == 0) {
        if (!create_empty) {
            reply_error(out, 400, "no photos: send them as multipart files or as a JSON array \"images\"");
            goto done;
        }
        gallery_lock(srv);
        fr_status st = fr_gallery_add_person(srv->gallery, name);
        gallery_unlock_changed(srv, st == FR_OK);
        if (st != FR_OK) {
            reply_library_error(out, st);
            if (st == FR_E_ARG && strstr(fr_last_error(), "already enrolled")) out->status = 409;
        } else reply_json(out, 201, json_pack("{s:s, s:[], s:[]}", "name", name, "added", "rejected"));
        goto done;
    }
    photo_result results[MAX_FORM_PARTS];
    if (!enroll_photos(srv, name, data, sizes, source_ptrs, n, results, out)) goto done;
    json_t *added = json_array(), *rejected = json_array();
    int n_added = 0, status = 0;
    for (int i = 0; i < n; i++) {
        out->n_faces += results[i].n_faces;
        if (results[i].stored) {
            json_t *face = face_json(&results[i].face, 0);
            json_object_set_new(face, "id", json_integer(results[i].template_id));
            json_object_set_new(face, "source", json_text(sources[i]));
            json_array_append_new(added, face);
            n_added++;
        } else {
            json_array_append_new(rejected, json_pack("{s:s, s:i, s:s}", "source", sources[i],
                                                      "status", results[i].status, "error", results[i].message));
            if (!status) status = results[i].status;
        }
    }
    reply_json(out, n_added ? 201 : status, json_pack("{s:s, s:o, s:o}", "name", name, "added", added,
                                                       "rejected", rejected));
done:
    for (int i = 0; i < MAX_FORM_PARTS; i++) free(owned[i]);
}

/* The name of a new person: ?name=, the form field "name" or the JSON member "name". */
static const char *new_person_name(request *req, reply *out) {
    const char *name = request_arg(req, "name");
    for (int i = 0; !name && i < req->n_parts; i++)
        if (!req->parts[i].filename && !strcmp(req->parts[i].field, "name")) name = req->parts[i].data.data;
    json_t *body = !name ? request_json(req, out) : NULL;
    if (req->json_parsed == 2) return NULL;
    if (body) name = json_string_value(json_object_get(body, "name"));
    if (!name) reply_error(out, 400, "no name given (?name=, form field name, or JSON {\"name\": ...})");
    return name;
}

static void route_people_add(server *srv, request *req, reply *out) {
    const char *name = new_person_name(req, out);
    if (name) add_photos(srv, req, name, 1, out);
}

static void route_person_photos_add(server *srv, request *req, reply *out) {
    add_photos(srv, req, req->params[0], 0, out);
}

static void route_person_rename(server *srv, request *req, reply *out) {
    json_t *body = request_json(req, out);
    if (req->json_parsed == 2) return;
    const char *name = body ? json_string_value(json_object_get(body, "name")) : request_arg(req, "name");
    if (!name) {
        reply_error(out, 400, "give the new name as JSON {\"name\": ...}");
        return;
    }
    gallery_lock(srv);
    fr_status st = fr_gallery_rename(srv->gallery, req->params[0], name);
    gallery_unlock_changed(srv, st == FR_OK);
    if (st != FR_OK) {
        reply_library_error(out, st);
        if (st == FR_E_ARG && strstr(fr_last_error(), "already enrolled")) out->status = 409;
        return;
    }
    reply_json(out, 200, json_pack("{s:s, s:s}", "old_name", req->params[0], "name", name));
}

static void route_person_remove(server *srv, request *req, reply *out) {
    gallery_lock(srv);
    fr_status st = fr_gallery_remove(srv->gallery, req->params[0]);
    gallery_unlock_changed(srv, st == FR_OK);
    if (st != FR_OK) reply_library_error(out, st);
    else reply_json(out, 200, json_pack("{s:s}", "removed", req->params[0]));
}

static void route_person_photos(server *srv, request *req, reply *out) {
    fr_template_info *list;
    int n;
    gallery_lock(srv);
    fr_status st = fr_gallery_templates(srv->gallery, req->params[0], &list, &n);
    gallery_unlock(srv);
    if (st != FR_OK) {
        reply_library_error(out, st);
        return;
    }
    json_t *photos = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(photos, template_json(&list[i]));
    fr_template_infos_free(list, n);
    reply_json(out, 200, json_pack("{s:s, s:o}", "name", req->params[0], "photos", photos));
}

static void route_person_photo_remove(server *srv, request *req, reply *out) {
    char *end;
    long long id = strtoll(req->params[1], &end, 10);
    if (*end || id <= 0) {
        reply_error(out, 400, "%s: a photo id is a positive integer", req->params[1]);
        return;
    }
    fr_template_info *list = NULL;
    int n = 0;
    gallery_lock(srv);
    /* the photo must be this person's */
    fr_status st = fr_gallery_templates(srv->gallery, req->params[0], &list, &n);
    int owned = 0;
    for (int i = 0; st == FR_OK && i < n; i++) owned |= list[i].id == id;
    fr_template_infos_free(list, n);
    if (st == FR_OK && owned) st = fr_gallery_remove_template(srv->gallery, id, NULL, 0);
    gallery_unlock_changed(srv, st == FR_OK && owned);
    if (st != FR_OK) reply_library_error(out, st);
    else if (!owned) reply_error(out, 404, "%s has no photo %lld", req->params[0], id);
    else reply_json(out, 200, json_pack("{s:s, s:I}", "name", req->params[0], "removed", (json_int_t)id));
}

static void route_person_photo_image(server *srv, request *req, reply *out) {
    char *end;
    long long id = strtoll(req->params[1], &end, 10);
    if (*end || id <= 0) {
        reply_error(out, 400, "%s: a photo id is a positive integer", req->params[1]);
        return;
    }
    fr_template_info *list = NULL;
    int n = 0, owned = 0;
    void *data = NULL;
    size_t size = 0;
    gallery_lock(srv);
    fr_status st = fr_gallery_templates(srv->gallery, req->params[0], &list, &n);
    for (int i = 0; st == FR_OK && i < n; i++) owned |= list[i].id == id;
    fr_template_infos_free(list, n);
    if (st == FR_OK && owned) st = fr_gallery_template_image(srv->gallery, id, &data, &size);
    gallery_unlock(srv);
    if (st != FR_OK) reply_library_error(out, st);
    else if (!owned) reply_error(out, 404, "%s has no photo %lld", req->params[0], id);
    else {
        out->status = 200;
        out->owned = data;
        out->n_bytes = size;
        out->content_type = "image/jpeg";
    }
}

static void route_health(server *srv, request *req, reply *out) {
    (void)req;
    /* the server answers identification without its database: degraded, not down */
    json_t *db = index_db_json(srv);
    const char *state = json_string_value(json_object_get(db, "state"));
    reply_json(out, 200, json_pack("{s:s, s:s, s:s, s:o}", "status",
                                   !strcmp(state, "up") ? "ok" : "degraded", "version",
                                   fr_version(), "model", fr_engine_model(srv->engine), "database", db));
}

static void route_metrics(server *srv, request *req, reply *out) {
    (void)req;
    out->owned = metrics_text(srv, &out->n_bytes);
    out->content_type = "text/plain; version=0.0.4";
    out->status = out->owned ? 200 : 503;
}

/* The page's files, read into memory at start (no request reaches the file system). */
static void serve_web_file(server *srv, reply *out, const char *name) {
    for (int i = 0; i < 4; i++)
        if (srv->web[i].name && !strcmp(srv->web[i].name, name) && srv->web[i].data) {
            out->status = 200;
            out->bytes = srv->web[i].data;
            out->n_bytes = srv->web[i].size;
            out->content_type = srv->web[i].type;
            return;
        }
    reply_error(out, 404, "%s: the web page's files were not found when the server started", name);
}

static void route_index(server *srv, request *req, reply *out) { (void)req; serve_web_file(srv, out, "index.html"); }
static void route_app_js(server *srv, request *req, reply *out) { (void)req; serve_web_file(srv, out, "app.js"); }
static void route_style(server *srv, request *req, reply *out) { (void)req; serve_web_file(srv, out, "style.css"); }

const route serve_routes[] = {
    {"GET", "/", ROLE_NONE, 1, route_index, "/"},
    {"GET", "/app.js", ROLE_NONE, 1, route_app_js, "/app.js"},
    {"GET", "/style.css", ROLE_NONE, 1, route_style, "/style.css"},
    {"GET", "/health", ROLE_NONE, 1, route_health, "/health"},
    {"GET", "/metrics", ROLE_NONE, 1, route_metrics, "/metrics"},
    {"POST", "/api/detect", ROLE_RECOGNIZE, 0, route_detect, "/api/detect"},
    {"POST", "/api/embed", ROLE_RECOGNIZE, 0, route_embed, "/api/embed"},
    {"POST", "/api/identify", ROLE_RECOGNIZE, 0, route_identify, "/api/identify"},
    {"POST", "/api/verify", ROLE_RECOGNIZE, 0, route_verify, "/api/verify"},
    {"GET", "/api/gallery", ROLE_RECOGNIZE, 0, route_gallery, "/api/gallery"},
    {"GET", "/api/people", ROLE_RECOGNIZE, 0, route_people, "/api/people"},
    {"POST", "/api/people", ROLE_ADMIN, 0, route_people_add, "/api/people"},
    {"PUT", "/api/people/*", ROLE_ADMIN, 0, route_person_rename, "/api/people/{name}"},
    {"PATCH", "/api/people/*", ROLE_ADMIN, 0, route_person_rename, "/api/people/{name}"},
    {"DELETE", "/api/people/*", ROLE_ADMIN, 0, route_person_remove, "/api/people/{name}"},
    {"GET", "/api/people/*/photos", ROLE_RECOGNIZE, 0, route_person_photos, "/api/people/{name}/photos"},
    {"POST", "/api/people/*/photos", ROLE_ADMIN, 0, route_person_photos_add, "/api/people/{name}/photos"},
    {"GET", "/api/people/*/photos/*/image", ROLE_RECOGNIZE, 0, route_person_photo_image, "/api/people/{name}/photos/{id}/image"},
    {"DELETE", "/api/people/*/photos/*", ROLE_ADMIN, 0, route_person_photo_remove, "/api/people/{name}/photos/{id}"},
    {NULL, NULL, 0, 0, NULL, NULL},
};
