/* compreface.c: CompreFace's REST API (recognition, verification, detection services) over
 * the same engine and gallery, with its parameters, answer shapes and error bodies
 * ({"message": ..., "code": ...}), so its SDKs and integrations work unchanged.
 * Its image_id is our template id, as a string; `similarity` is 1 - d^2/4 (docs/API.md). */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE_NO_FACE 28

/* Our {"error", "status"} answers in CompreFace's shape; "no face" is its 400, code 28. */
static void compreface_errors(reply *out) {
    if (out->status < 400 || !out->json) return;
    json_t *message = json_object_get(out->json, "error");
    if (!message) return;
    int code = out->status == 422 ? CODE_NO_FACE : out->status == 404 ? 24 : 0;
    if (out->status == 422) out->status = 400;
    reply_json(out, out->status, json_pack("{s:O, s:i}", "message", message, "code", code));
}

static void no_face(reply *out) {
    reply_json(out, 400, json_pack("{s:s, s:i}", "message", "No face is found in the given image", "code", CODE_NO_FACE));
}

static int wants(const request *req, const char *plugin) {
    const char *plugins = request_arg(req, "face_plugins");
    return plugins && strstr(plugins, plugin) != NULL;
}

static int status_wanted(const request *req) {
    const char *s = request_arg(req, "status");
    return s && !strcmp(s, "true");
}

static json_t *box_json(const fr_face *f) {
    return json_pack("{s:f, s:i, s:i, s:i, s:i}", "probability", f->score, "x_min", (int)(f->x + 0.5f),
                     "y_min", (int)(f->y + 0.5f), "x_max", (int)(f->x + f->w + 0.5f), "y_max",
                     (int)(f->y + f->h + 0.5f));
}

/* A result entry: box, plus landmarks / embedding / execution_time when asked for. */
static json_t *result_json(const request *req, const fr_face *f, double ms) {
    json_t *o = json_pack("{s:o}", "box", box_json(f));
    if (wants(req, "landmarks")) {
        json_t *l = json_array();
        for (int k = 0; k < f->n_landmarks; k++)
            json_array_append_new(l, json_pack("[i, i]", (int)(f->landmarks[k][0] + 0.5f), (int)(f->landmarks[k][1] + 0.5f)));
        json_object_set_new(o, "landmarks", l);
    }
    if (wants(req, "calculator") && f->dim > 0) {
        json_t *e = json_array();
        for (int k = 0; k < f->dim; k++) json_array_append_new(e, json_real(f->embedding[k]));
        json_object_set_new(o, "embedding", e);
    }
    if (status_wanted(req)) json_object_set_new(o, "execution_time", json_pack("{s:f}", "total", ms));
    return o;
}

static void add_plugins_versions(server *srv, const request *req, json_t *answer) {
    if (!status_wanted(req)) return;
    json_object_set_new(answer, "plugins_versions",
                        json_pack("{s:s, s:s}", "detector", "facerec", "calculator", fr_engine_model(srv->engine)));
}

static int number_arg(const request *req, const char *key, double def, double lo, double hi, double *v,
                      reply *out) {
    const char *text = request_arg(req, key);
    *v = def;
    if (!text || !*text) return 1;
    char *end;
    *v = strtod(text, &end);
    if (*end || !(*v >= lo && *v <= hi)) {
        reply_json(out, 400, json_pack("{s:s, s:i}", "message", "invalid value of a request parameter", "code", 5));
        json_object_set_new(out->json, "parameter", json_text(key));
        return 0;
    }
    return 1;
}

/* The faces of the request's image ("file"), filtered by det_prob_threshold and limit. */
static int faces_of(server *srv, request *req, const char *field, int embed, fr_face **faces, int *n,
                    reply *out) {
    double limit, threshold;
    if (!number_arg(req, "limit", 0, 0, 1e6, &limit, out) ||
        !number_arg(req, "det_prob_threshold", 0, 0, 1, &threshold, out))
        return 0;
    fr_image *img = request_image(srv, req, field, NULL, out);
    if (!img) return 0;
    fr_status st = run_pipeline(srv, img, embed, faces, n);
    fr_image_free(img);
    if (st != FR_OK) {
        reply_library_error(out, st);
        return 0;
    }
    sort_and_filter_faces(*faces, n, (float)threshold, (int)limit);
    if (*n == 0) {
        fr_faces_free(*faces);
        no_face(out);
        return 0;
    }
    return 1;
}

static void cf_recognize(server *srv, request *req, reply *out) {
    double count;
    if (!number_arg(req, "prediction_count", 1, 1, 1000, &count, out)) return;
    double t0 = now_seconds();
    fr_face *faces;
    int n, n_found, k = (int)count;
    if (!faces_of(srv, req, "file", 1, &faces, &n, out)) return;
    candidate *c;
    fr_threshold th;
    if (!identify_faces(srv, faces, n, k, &c, &n_found, &th, out)) {
        fr_faces_free(faces);
        return;
    }
    double ms = (now_seconds() - t0) * 1e3;
    json_t *result = json_array();
    for (int i = 0; i < n; i++) {
        json_t *r = result_json(req, &faces[i], ms);
        json_t *subjects = json_array();
        for (int j = 0; j < n_found; j++)
            json_array_append_new(subjects, json_pack("{s:s, s:f}", "subject", c[(size_t)i * k + j].name,
                                                      "similarity", similarity_of_distance(c[(size_t)i * k + j].distance)));
        json_object_set_new(r, "subjects", subjects);
        json_array_append_new(result, r);
    }
    json_t *answer = json_pack("{s:o}", "result", result);
    add_plugins_versions(srv, req, answer);
    out->n_faces = n;
    reply_json(out, 200, answer);
    free(c);
    fr_faces_free(faces);
}

static void cf_detect(server *srv, request *req, reply *out) {
    double t0 = now_seconds();
    fr_face *faces;
    int n;
    if (!faces_of(srv, req, "file", wants(req, "calculator"), &faces, &n, out)) return;
    double ms = (now_seconds() - t0) * 1e3;
    json_t *result = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(result, result_json(req, &faces[i], ms));
    json_t *answer = json_pack("{s:o}", "result", result);
    add_plugins_versions(srv, req, answer);
    out->n_faces = n;
    reply_json(out, 200, answer);
    fr_faces_free(faces);
}

static void cf_verify(server *srv, request *req, reply *out) {
    double t0 = now_seconds();
    fr_face *source, *targets;
    int n_source, n_targets;
    if (!faces_of(srv, req, "source_image", 1, &source, &n_source, out)) return;
    if (!faces_of(srv, req, "target_image", 1, &targets, &n_targets, out)) {
        fr_faces_free(source);
        return;
    }
    double ms = (now_seconds() - t0) * 1e3;
    /* the source's largest face against every face of the target */
    json_t *matches = json_array();
    for (int i = 0; i < n_targets; i++) {
        json_t *m = result_json(req, &targets[i], ms);
        json_object_set_new(m, "similarity", json_real(similarity_of_distance(
                                                 fr_distance(source[0].embedding, targets[i].embedding, source[0].dim))));
        json_array_append_new(matches, m);
    }
    json_t *entry = json_pack("{s:o, s:o}", "source_image_face", result_json(req, &source[0], ms),
                              "face_matches", matches);
    json_t *answer = json_pack("{s:[o]}", "result", entry);
    add_plugins_versions(srv, req, answer);
    out->n_faces = n_source + n_targets;
    reply_json(out, 200, answer);
    fr_faces_free(source);
    fr_faces_free(targets);
}

static void cf_face_add(server *srv, request *req, reply *out) {
    const char *subject = request_arg(req, "subject");
    if (!subject || !*subject) {
        reply_json(out, 400, json_pack("{s:s, s:i}", "message", "subject: must not be empty", "code", 26));
        return;
    }
    const uint8_t *data;
    size_t size;
    uint8_t *owned;
    if (!request_image_bytes(req, "file", NULL, &data, &size, &owned, out)) return;
    char source[300];
    const char *filename = NULL;
    for (int i = 0; i < req->n_parts; i++)
        if (!strcmp(req->parts[i].field, "file")) filename = req->parts[i].filename;
    snprintf(source, sizeof source, "upload:%s", filename ? filename : "file");
    const char *source_ptr = source;
    photo_result result;
    int ok = enroll_photos(srv, subject, &data, &size, &source_ptr, 1, &result, out);
    free(owned);
    if (!ok) return;
    out->n_faces = result.n_faces;
    if (!result.stored) {
        if (result.status == 422) no_face(out);
        else reply_error(out, result.status ? result.status : 400, "%s", result.message);
        return;
    }
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)result.template_id);
    reply_json(out, 201, json_pack("{s:s, s:s}", "image_id", id, "subject", subject));
}

static int64_t parse_image_id(const char *text) {
    char *end;
    long long id = strtoll(text, &end, 10);
    return *end || id <= 0 ? -1 : id;
}

static void cf_faces_list(server *srv, request *req, reply *out) {
    double page, size;
    if (!number_arg(req, "page", 0, 0, 1e9, &page, out) || !number_arg(req, "size", 20, 1, 1e6, &size, out))
        return;
    const char *subject = request_arg(req, "subject");
    if (subject && !*subject) subject = NULL;
    fr_template_info *list;
    int n;
    gallery_lock(srv);
    fr_status st = fr_gallery_templates(srv->gallery, subject, &list, &n);
    gallery_unlock(srv);
    if (st != FR_OK) {
        reply_library_error(out, st);
        return;
    }
    json_t *faces = json_array();
    int64_t first = (int64_t)page * (int64_t)size;
    for (int64_t i = first; i < n && i < first + (int64_t)size; i++) {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)list[i].id);
        json_array_append_new(faces, json_pack("{s:s, s:s}", "image_id", id, "subject", list[i].name));
    }
    fr_template_infos_free(list, n);
    reply_json(out, 200, json_pack("{s:o, s:i, s:i, s:i, s:i}", "faces", faces, "page_number", (int)page,
                                   "page_size", (int)size, "total_pages", (int)((n + size - 1) / size),
                                   "total_elements", n));
}

/* Remove every template of subject (NULL: of everyone); the people stay. */
static void cf_faces_delete_all(server *srv, request *req, reply *out) {
    const char *subject = request_arg(req, "subject");
    if (subject && !*subject) subject = NULL;
    fr_template_info *list = NULL;
    int n = 0, deleted = 0;
    gallery_lock(srv);
    fr_status st = fr_gallery_templates(srv->gallery, subject, &list, &n);
    for (int i = 0; st == FR_OK && i < n; i++) {
        st = fr_gallery_remove_template(srv->gallery, list[i].id, NULL, 0);
        deleted += st == FR_OK;
    }
    fr_template_infos_free(list, n);
    gallery_unlock_changed(srv, deleted > 0);
    if (st != FR_OK) reply_library_error(out, st);
    else reply_json(out, 200, json_pack("{s:i}", "deleted", deleted));
}

/* Remove one template; its entry {image_id, subject}, or NULL after an error reply. */
static json_t *remove_face(server *srv, const char *image_id, reply *out) {
    int64_t id = parse_image_id(image_id);
    char subject[256] = "";
    fr_status st = id > 0 ? fr_gallery_remove_template(srv->gallery, id, subject, sizeof subject) : FR_E_NOT_FOUND;
    if (st == FR_E_NOT_FOUND) {
        reply_json(out, 404, json_pack("{s:s, s:i}", "message", "Face not found", "code", 24));
        json_object_set_new(out->json, "image_id", json_text(image_id));
        return NULL;
    }
    if (st != FR_OK) {
        reply_library_error(out, st);
        return NULL;
    }
    return json_pack("{s:s, s:s}", "image_id", image_id, "subject", subject);
}

static void cf_face_delete(server *srv, request *req, reply *out) {
    gallery_lock(srv);
    json_t *entry = remove_face(srv, req->params[0], out);
    gallery_unlock_changed(srv, entry != NULL);
    if (entry) reply_json(out, 200, entry);
}

static void cf_faces_delete_many(server *srv, request *req, reply *out) {
    json_t *ids = request_json(req, out);
    if (req->json_parsed == 2) return;
    if (!json_is_array(ids)) {
        reply_error(out, 400, "want a JSON array of image ids");
        return;
    }
    json_t *deleted = json_array(), *v;
    size_t i;
    gallery_lock(srv);
    json_array_foreach(ids, i, v) {
        char text[32];
        if (json_is_string(v)) snprintf(text, sizeof text, "%s", json_string_value(v));
        else if (json_is_integer(v)) snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        else continue;
        reply failed = {0};
        json_t *entry = remove_face(srv, text, &failed); /* unknown ids are skipped */
        if (entry) json_array_append_new(deleted, entry);
        if (failed.json && failed.status != 404) { /* the database failed: say so, stop */
            reply_json(out, failed.status, failed.json);
            break;
        }
        if (failed.json) json_decref(failed.json);
    }
    gallery_unlock_changed(srv, json_array_size(deleted) > 0);
    if (out->status >= 400) json_decref(deleted);
    else reply_json(out, 200, deleted);
}

/* Verify a face of the image against one stored face (image_id): its template's embedding is
 * not kept apart, so the stored photo's owner is searched and its distance read off. */
static void cf_face_verify(server *srv, request *req, reply *out) {
    int64_t id = parse_image_id(req->params[0]);
    fr_template_info *list = NULL;
    int n = 0;
    char subject[256] = "";
    gallery_lock(srv);
    fr_status st = fr_gallery_templates(srv->gallery, NULL, &list, &n);
    for (int i = 0; st == FR_OK && i < n; i++)
        if (list[i].id == id) snprintf(subject, sizeof subject, "%s", list[i].name);
    gallery_unlock(srv);
    fr_template_infos_free(list, n);
    if (st != FR_OK) {
        reply_library_error(out, st);
        return;
    }
    if (!subject[0]) {
        reply_json(out, 404, json_pack("{s:s, s:i}", "message", "Face not found", "code", 24));
        return;
    }
    double t0 = now_seconds();
    fr_face *faces;
    int n_faces;
    if (!faces_of(srv, req, "file", 1, &faces, &n_faces, out)) return;
    json_t *result = json_array();
    int all = 0;
    for (int i = 0; i < n_faces; i++) {
        candidate *c;
        int n_found;
        fr_threshold th;
        /* the distance to the subject: their nearest template among all people */
        if (!all) {
            gallery_lock(srv);
            fr_gallery_info info;
            fr_status s = fr_gallery_get_info(srv->gallery, &info);
            gallery_unlock(srv);
            all = s == FR_OK && info.n_people > 0 ? info.n_people : 1;
        }
        if (!identify_faces(srv, &faces[i], 1, all, &c, &n_found, &th, out)) {
            json_decref(result);
            fr_faces_free(faces);
            return;
        }
        float distance = 2;
        for (int j = 0; j < n_found; j++)
            if (!strcmp(c[j].name, subject)) distance = c[j].distance;
        free(c);
        json_t *r = result_json(req, &faces[i], (now_seconds() - t0) * 1e3);
        json_object_set_new(r, "similarity", json_real(similarity_of_distance(distance)));
        json_array_append_new(result, r);
    }
    json_t *answer = json_pack("{s:o}", "result", result);
    add_plugins_versions(srv, req, answer);
    out->n_faces = n_faces;
    reply_json(out, 200, answer);
    fr_faces_free(faces);
}

static void cf_subjects_list(server *srv, request *req, reply *out) {
    (void)req;
    fr_person *people;
    int n;
    if (!gallery_people(srv, out, &people, &n)) return;
    json_t *subjects = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(subjects, json_text(people[i].name));
    fr_people_free(people, n);
    reply_json(out, 200, json_pack("{s:o}", "subjects", subjects));
}

static const char *subject_of_body(request *req, reply *out) {
    json_t *body = request_json(req, out);
    if (req->json_parsed == 2) return NULL;
    const char *subject = body ? json_string_value(json_object_get(body, "subject")) : NULL;
    if (!subject || !*subject)
        reply_json(out, 400, json_pack("{s:s, s:i}", "message", "subject: must not be empty", "code", 26));
    return subject && *subject ? subject : NULL;
}

static void cf_subject_add(server *srv, request *req, reply *out) {
    const char *subject = subject_of_body(req, out);
    if (!subject) return;
    gallery_lock(srv);
    fr_status st = fr_gallery_add_person(srv->gallery, subject);
    gallery_unlock_changed(srv, st == FR_OK);
    if (st == FR_E_ARG && strstr(fr_last_error(), "already enrolled"))
        reply_json(out, 400, json_pack("{s:s, s:i}", "message", "Subject already exists", "code", 38));
    else if (st != FR_OK) reply_library_error(out, st);
    else reply_json(out, 201, json_pack("{s:s}", "subject", subject));
}

static void cf_subject_rename(server *srv, request *req, reply *out) {
    const char *subject = subject_of_body(req, out);
    if (!subject) return;
    gallery_lock(srv);
    fr_status st = fr_gallery_rename(srv->gallery, req->params[0], subject);
    gallery_unlock_changed(srv, st == FR_OK);
    if (st == FR_E_NOT_FOUND)
        reply_json(out, 404, json_pack("{s:s, s:i}", "message", "Subject not found", "code", 24));
    else if (st != FR_OK) reply_library_error(out, st);
    else reply_json(out, 200, json_pack("{s:b}", "updated", 1));
}

static void cf_subject_delete(server *srv, request *req, reply *out) {
    gallery_lock(srv);
    fr_status st = fr_gallery_remove(srv->gallery, req->params[0]);
    gallery_unlock_changed(srv, st == FR_OK);
    if (st == FR_E_NOT_FOUND)
        reply_json(out, 404, json_pack("{s:s, s:i}", "message", "Subject not found", "code", 24));
    else if (st != FR_OK) reply_library_error(out, st);
    else reply_json(out, 200, json_pack("{s:s}", "subject", req->params[0]));
}

static void cf_subjects_delete_all(server *srv, request *req, reply *out) {
    (void)req;
    fr_person *people = NULL;
    int n = 0, deleted = 0;
    gallery_lock(srv);
    fr_status st = fr_gallery_people(srv->gallery, &people, &n);
    for (int i = 0; st == FR_OK && i < n; i++) {
        st = fr_gallery_remove(srv->gallery, people[i].name);
        deleted += st == FR_OK;
    }
    fr_people_free(people, n);
    gallery_unlock_changed(srv, deleted > 0);
    if (st != FR_OK) reply_library_error(out, st);
    else reply_json(out, 200, json_pack("{s:i}", "deleted", deleted));
}

/* Each handler's errors in CompreFace's shape. */
#define COMPREFACE(fn) \
    static void fn##_api(server *srv, request *req, reply *out) { fn(srv, req, out); compreface_errors(out); }
COMPREFACE(cf_recognize)
COMPREFACE(cf_detect)
COMPREFACE(cf_verify)
COMPREFACE(cf_face_add)
COMPREFACE(cf_faces_list)
COMPREFACE(cf_faces_delete_all)
COMPREFACE(cf_face_delete)
COMPREFACE(cf_faces_delete_many)
COMPREFACE(cf_face_verify)
COMPREFACE(cf_subjects_list)
COMPREFACE(cf_subject_add)
COMPREFACE(cf_subject_rename)
COMPREFACE(cf_subject_delete)
COMPREFACE(cf_subjects_delete_all)

#define FACES "/api/v1/recognition/faces"
#define SUBJECTS "/api/v1/recognition/subjects"
const route compreface_routes[] = {
    {"POST", "/api/v1/recognition/recognize", ROLE_RECOGNIZE, 0, cf_recognize_api, "/api/v1/recognition/recognize"},
    {"POST", FACES, ROLE_ADMIN, 0, cf_face_add_api, FACES},
    {"GET", FACES, ROLE_RECOGNIZE, 0, cf_faces_list_api, FACES},
    {"DELETE", FACES, ROLE_ADMIN, 0, cf_faces_delete_all_api, FACES},
    {"DELETE", FACES "/*", ROLE_ADMIN, 0, cf_face_delete_api, FACES "/{image_id}"},
    {"POST", FACES "/delete", ROLE_ADMIN, 0, cf_faces_delete_many_api, FACES "/delete"},
    {"POST", FACES "/*/verify", ROLE_RECOGNIZE, 0, cf_face_verify_api, FACES "/{image_id}/verify"},
    {"GET", SUBJECTS, ROLE_RECOGNIZE, 0, cf_subjects_list_api, SUBJECTS},
    {"POST", SUBJECTS, ROLE_ADMIN, 0, cf_subject_add_api, SUBJECTS},
    {"DELETE", SUBJECTS, ROLE_ADMIN, 0, cf_subjects_delete_all_api, SUBJECTS},
    {"PUT", SUBJECTS "/*", ROLE_ADMIN, 0, cf_subject_rename_api, SUBJECTS "/{subject}"},
    {"DELETE", SUBJECTS "/*", ROLE_ADMIN, 0, cf_subject_delete_api, SUBJECTS "/{subject}"},
    {"POST", "/api/v1/verification/verify", ROLE_RECOGNIZE, 0, cf_verify_api, "/api/v1/verification/verify"},
    {"POST", "/api/v1/detection/detect", ROLE_RECOGNIZE, 0, cf_detect_api, "/api/v1/detection/detect"},
    {NULL, NULL, 0, 0, NULL, NULL},
};
