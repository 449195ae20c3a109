/* http.c: the libmicrohttpd side: routing, authentication, body collection with limits,
 * the bounded job queue and its workers, replies, one log line per request. */
#include "http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int buffer_append(buffer *b, const void *data, size_t size) {
    if (b->size + size + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + size + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->size, data, size);
    b->size += size;
    b->data[b->size] = '\0'; /* text bodies can be read as strings */
    return 1;
}

void buffer_free(buffer *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- replies ---------------------------------------------------------------------------- */

void reply_json(reply *out, int status, json_t *json) {
    if (out->json) json_decref(out->json);
    out->status = status;
    out->json = json;
}

void reply_error(reply *out, int status, const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    reply_json(out, status, json_pack("{s:s, s:i}", "error", message, "status", status));
}

void reply_library_error(reply *out, fr_status st) {
    int status;
    switch (st) {
    case FR_E_ARG: status = 400; break;
    case FR_E_FORMAT: status = 400; break;
    case FR_E_LIMIT: status = 413; break;
    case FR_E_NOT_FOUND: status = 404; break;
    case FR_E_NO_FACE: status = 422; break;
    case FR_E_MISMATCH: status = 409; break;
    case FR_E_DB: status = 503; break; /* unavailable, locked: worth trying again */
    default: status = 500;
    }
    const char *msg = fr_last_error();
    reply_error(out, status, "%s", *msg ? msg : fr_status_name(st));
    if (st == FR_E_DB) out->retry_after = 5;
}

/* ---- routing ---------------------------------------------------------------------------- */

/* Whether path matches pattern ('*' = one non-empty segment); fills req's params. */
static int match_pattern(const char *pattern, const char *path, request *req) {
    int n = 0;
    char *params[MAX_PATH_PARAMS];
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '*') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || n == MAX_PATH_PARAMS) goto no;
            params[n++] = strndup(s, len);
            s += len;
            p++;
        } else if (*p == *s) {
            p++, s++;
        } else {
            goto no;
        }
    }
    if (*p || *s) goto no;
    for (int i = 0; i < n; i++) req->params[i] = params[i];
    req->n_params = n;
    return 1;
no:
    for (int i = 0; i < n; i++) free(params[i]);
    return 0;
}

int routes_count(void) {
    int n = 0;
    for (const route *r = serve_routes; r->method; r++) n++;
    for (const route *r = compreface_routes; r->method; r++) n++;
    return n;
}

static const route *route_at(int index) {
    int n = 0;
    for (const route *r = serve_routes; r->method; r++, n++)
        if (n == index) return r;
    for (const route *r = compreface_routes; r->method; r++, n++)
        if (n == index) return r;
    return NULL;
}

const char *route_metric_name(int index) {
    const route *r = route_at(index);
    return r ? r->metric_name : "unmatched";
}

/* The route for method and path: 0 found, 404 no path, 405 path with other methods. */
static int find_route(request *req) {
    int path_found = 0, n = 0;
    const route *tables[2] = {serve_routes, compreface_routes};
    for (int t = 0; t < 2; t++)
        for (const route *r = tables[t]; r->method; r++, n++) {
            request probe = {0};
            if (!match_pattern(r->pattern, req->path, &probe)) continue;
            path_found = 1;
            if (strcmp(r->method, req->method) != 0) {
                for (int i = 0; i < probe.n_params; i++) free(probe.params[i]);
                continue;
            }
            memcpy(req->params, probe.params, sizeof probe.params);
            req->n_params = probe.n_params;
            req->route = r;
            req->route_index = n;
            return 0;
        }
    return path_found ? 405 : 404;
}

static int is_compreface(const request *req) { return !strncmp(req->path, "/api/v1/", 8); }

/* An error in the shape of the API the request spoke. */
static void reply_error_for(request *req, reply *out, int status, const char *message) {
    if (is_compreface(req))
        reply_json(out, status, json_pack("{s:s, s:i}", "message", message, "code", status == 401 ? 20 : 0));
    else
        reply_error(out, status, "%s", message);
}

/* ---- sending ---------------------------------------------------------------------------- */

static void send_reply(request *req, reply *out) {
    struct MHD_Response *resp;
    if (out->json) {
        char *text = json_dumps(out->json, JSON_COMPACT | JSON_REAL_PRECISION(7));
        json_decref(out->json);
        out->json = NULL;
        if (!text) {
            out->status = 500;
            text = strdup("{\"error\": \"out of memory writing the answer\", \"status\": 500}");
        }
        resp = MHD_create_response_from_buffer(text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/json");
    } else if (out->owned) {
        resp = MHD_create_response_from_buffer(out->n_bytes, out->owned, MHD_RESPMEM_MUST_FREE);
        out->owned = NULL;
        MHD_add_response_header(resp, "Content-Type", out->content_type);
    } else {
        resp = MHD_create_response_from_buffer(out->n_bytes, (void *)out->bytes, MHD_RESPMEM_PERSISTENT);
        if (out->content_type) MHD_add_response_header(resp, "Content-Type", out->content_type);
    }
    if (out->retry_after > 0) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", out->retry_after);
        MHD_add_response_header(resp, "Retry-After", seconds);
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    req->status = out->status;
    req->n_faces = out->n_faces;
    req->answered = 1;
    MHD_queue_response(req->conn, (unsigned)out->status, resp);
    MHD_destroy_response(resp);
}

static void answer_error(request *req, int status, const char *message) {
    reply out = {0};
    reply_error_for(req, &out, status, message);
    send_reply(req, &out);
}

/* ---- the job queue ---------------------------------------------------------------------- */

static int enqueue(server *srv, request *req) {
    pthread_mutex_lock(&srv->queue_lock);
    int ok = srv->count < srv->opt.queue && !srv->stopping;
    if (ok) {
        srv->ring[(srv->head + srv->count) % srv->opt.queue] = req;
        srv->count++;
        pthread_cond_signal(&srv->queue_ready);
    }
    pthread_mutex_unlock(&srv->queue_lock);
    return ok;
}

static void run_handler(server *srv, request *req, reply *out) {
    req->route->fn(srv, req, out);
    if (!out->json && !out->bytes && !out->owned && !out->status)
        reply_error(out, 500, "%s %s: no answer", req->method, req->path);
    if (out->status == 0) out->status = 200;
}

void *serve_worker(void *arg) {
    server *srv = arg;
    for (;;) {
        pthread_mutex_lock(&srv->queue_lock);
        while (srv->count == 0 && !srv->stopping) pthread_cond_wait(&srv->queue_ready, &srv->queue_lock);
        if (srv->count == 0) { /* stopping and drained */
            pthread_mutex_unlock(&srv->queue_lock);
            return NULL;
        }
        request *req = srv->ring[srv->head];
        srv->head = (srv->head + 1) % srv->opt.queue;
        srv->count--;
        pthread_mutex_unlock(&srv->queue_lock);

        reply out = {0};
        if (now_seconds() - req->t_start > srv->opt.timeout_s) {
            reply_error_for(req, &out, 503, "the request waited longer than the time limit for a worker");
            out.retry_after = 1;
        } else {
            run_handler(srv, req, &out);
        }
        send_reply(req, &out); /* allowed on a suspended connection */
        MHD_resume_connection(req->conn);
    }
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------ */

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    request *req = cls;
    if (req->n_args == MAX_ARGS) return MHD_NO;
    req->arg_keys[req->n_args] = strdup(key);
    req->arg_values[req->n_args] = strdup(value ? value : "");
    req->n_args++;
    return MHD_YES;
}

static enum MHD_Result collect_part(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data,
                                    uint64_t off, size_t size) {
    (void)kind, (void)content_type, (void)transfer_encoding;
    request *req = cls;
    form_part *part = req->n_parts ? &req->parts[req->n_parts - 1] : NULL;
    /* a new part starts at offset 0 (each part's data arrives in order) */
    if (!part || (off == 0 && (strcmp(part->field, key ? key : "") != 0 || part->data.size > 0 ||
                              (filename && (!part->filename || strcmp(part->filename, filename)))))) {
        if (req->n_parts == MAX_FORM_PARTS) {
            req->error_status = 400;
            snprintf(req->error_message, sizeof req->error_message, "more than %d form fields",
                     MAX_FORM_PARTS);
            return MHD_NO;
        }
        part = &req->parts[req->n_parts++];
        part->field = strdup(key ? key : "");
        part->filename = filename ? strdup(filename) : NULL;
    }
    if (size > 0 && !buffer_append(&part->data, data, size)) {
        req->error_status = 503;
        snprintf(req->error_message, sizeof req->error_message, "out of memory reading the form");
        return MHD_NO;
    }
    return MHD_YES;
}

static const char *header(struct MHD_Connection *conn, const char *name) {
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* 0 if the request may go on; else the status already answered. */
static int authorize(server *srv, request *req) {
    if (req->route->role == ROLE_NONE) return 0;
    const char *key = header(req->conn, "X-Api-Key");
    const char *auth = header(req->conn, "Authorization");
    if (!key && auth && !strncasecmp(auth, "Bearer ", 7)) key = auth + 7;
    if (!key || !*key) {
        answer_error(req, 401, "an API key is needed (header x-api-key; facerec serve-keys add)");
        return 401;
    }
    uint8_t digest[32];
    fr_sha256(key, strlen(key), digest);
    char role[16] = "";
    int found = index_key_role(srv, digest, role, sizeof role);
    if (found < 0) {
        answer_error(req, 503, fr_last_error());
        return 503;
    }
    if (!found) {
        answer_error(req, 401, "this API key is not known (revoked, or never added)");
        return 401;
    }
    if (req->route->role == ROLE_ADMIN && strcmp(role, "admin") != 0) {
        answer_error(req, 403, "this API key's role (recognize) may not change the gallery: an admin key is needed");
        return 403;
    }
    return 0;
}

static int starts_with_ci(const char *s, const char *prefix) {
    return s && !strncasecmp(s, prefix, strlen(prefix));
}

/* The first call of a request: route, key, declared size, form parser. 0 to go on. */
static int begin_request(server *srv, request *req) {
    int status = find_route(req);
    if (status) {
        char message[320];
        snprintf(message, sizeof message, status == 404 ? "%s: no such route" : "%s: method %s not allowed here",
                 req->path, req->method);
        answer_error(req, status, message);
        return status;
    }
    if ((status = authorize(srv, req))) return status;
    if (!req->route->in_network_thread) { /* no body is read for a request that cannot queue */
        pthread_mutex_lock(&srv->queue_lock);
        int full = srv->count >= srv->opt.queue;
        pthread_mutex_unlock(&srv->queue_lock);
        if (full) {
            reply out = {0};
            reply_error_for(req, &out, 503, "every worker is busy and the queue is full: try again shortly");
            out.retry_after = 1;
            send_reply(req, &out);
            return 503;
        }
    }
    const char *length = header(req->conn, "Content-Length");
    if (length) {
        char *end;
        unsigned long long declared = strtoull(length, &end, 10);
        if (*end || end == length || declared > srv->opt.max_upload) {
            char message[160];
            snprintf(message, sizeof message, "the body (%s bytes) is larger than the limit of %zu bytes",
                     length, srv->opt.max_upload);
            answer_error(req, 413, message);
            return 413;
        }
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, req);
    const char *type = header(req->conn, "Content-Type");
    snprintf(req->content_type, sizeof req->content_type, "%s", type ? type : "");
    if (starts_with_ci(type, "multipart/form-data") || starts_with_ci(type, "application/x-www-form-urlencoded")) {
        req->post = MHD_create_post_processor(req->conn, 64 * 1024, collect_part, req);
        if (!req->post) {
            answer_error(req, 400, "malformed form: the Content-Type lacks a boundary");
            return 400;
        }
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    server *srv = cls;
    request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        *con_cls = req;
        req->srv = srv;
        req->conn = conn;
        req->t_start = now_seconds();
        req->route_index = -1;
        snprintf(req->method, sizeof req->method, "%s", method);
        req->path = strdup(url);
        pthread_mutex_lock(&srv->queue_lock);
        srv->active++;
        pthread_mutex_unlock(&srv->queue_lock);
        if (!req->path) return MHD_NO;
        if (begin_request(srv, req)) return MHD_YES;
        if (req->route->in_network_thread) {
            reply out = {0};
            run_handler(srv, req, &out);
            send_reply(req, &out);
        }
        return MHD_YES;
    }
    if (req->answered) { /* answered early: the rest of the body is dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (now_seconds() - req->t_start > srv->opt.timeout_s) {
            if (req->error_status) return MHD_NO; /* an endless body to drop: hang up */
            req->error_status = 408;
            snprintf(req->error_message, sizeof req->error_message,
                     "the upload took longer than the time limit of %d s", srv->opt.timeout_s);
        }
        if (req->error_status) return MHD_YES;
        size_t total = req->body.size + size;
        for (int i = 0; i < req->n_parts; i++) total += req->parts[i].data.size;
        if (total > srv->opt.max_upload) {
            /* libmicrohttpd answers only once the body is in: the rest is read and dropped
             * (for at most the time limit, then the connection is closed) */
            req->error_status = 413;
            snprintf(req->error_message, sizeof req->error_message,
                     "the body is larger than the limit of %zu bytes", srv->opt.max_upload);
            return MHD_YES;
        }
        if (req->post) {
            if (MHD_post_process(req->post, upload_data, size) != MHD_YES && !req->error_status) {
                req->error_status = 400;
                snprintf(req->error_message, sizeof req->error_message, "malformed form data");
            }
        } else if (!buffer_append(&req->body, upload_data, size)) {
            req->error_status = 503;
            snprintf(req->error_message, sizeof req->error_message, "out of memory reading the body");
        }
        return MHD_YES;
    }
    /* the whole body is in */
    if (req->dispatched) return MHD_YES; /* resumed after the worker queued its answer */
    if (req->post && !req->error_status) {
        if (MHD_destroy_post_processor(req->post) != MHD_YES) {
            req->error_status = 400;
            snprintf(req->error_message, sizeof req->error_message, "malformed or truncated form data");
        }
        req->post = NULL;
    }
    if (req->error_status) {
        answer_error(req, req->error_status, req->error_message);
        return MHD_YES;
    }
    req->dispatched = 1;
    MHD_suspend_connection(conn);
    if (!enqueue(srv, req)) {
        MHD_resume_connection(conn);
        reply out = {0};
        reply_error_for(req, &out, 503, "every worker is busy and the queue is full: try again shortly");
        out.retry_after = 1;
        send_reply(req, &out);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn, (void)toe;
    server *srv = cls;
    request *req = *con_cls;
    if (!req) return;
    double seconds = now_seconds() - req->t_start;
    int status = req->answered ? req->status : 0; /* 0: the client went away */
    fprintf(stderr, "%s %s %d %.1fms faces=%d\n", req->method, req->path, status, seconds * 1e3,
            req->n_faces);
    metrics_record(&srv->m, req->route_index, status, seconds, req->n_faces);
    if (req->post) MHD_destroy_post_processor(req->post);
    free(req->path);
    for (int i = 0; i < req->n_params; i++) free(req->params[i]);
    for (int i = 0; i < req->n_args; i++) free(req->arg_keys[i]), free(req->arg_values[i]);
    for (int i = 0; i < req->n_parts; i++) {
        free(req->parts[i].field);
        free(req->parts[i].filename);
        buffer_free(&req->parts[i].data);
    }
    buffer_free(&req->body);
    if (req->json_body) json_decref(req->json_body);
    free(req);
    *con_cls = NULL;
    pthread_mutex_lock(&srv->queue_lock);
    srv->active--;
    pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->queue_lock);
}

struct MHD_Daemon *serve_start_daemon(server *srv, const struct sockaddr *addr, char *cert,
                                      char *key) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (cert) flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls[] = {
        {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
        {cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, key},
        {MHD_OPTION_END, 0, NULL}};
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                            MHD_OPTION_SOCK_ADDR, addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                            /* idle connections (slow clients) are closed after this */
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->opt.timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(srv->opt.queue + 64),
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_ARRAY, tls,
                            MHD_OPTION_END);
}
