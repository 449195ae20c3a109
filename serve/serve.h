/* serve.h: facerec-serve, the HTTP front end over libfacerec (our JSON API, CompreFace's REST
 * API, the web page). It uses only the public header, facerec.h.
 *
 * Threads: one libmicrohttpd thread does all network I/O, authenticates each request (with
 * its own gallery handle, read-only use) and collects its body; a request that needs the
 * engine or the gallery is then queued for a fixed pool of workers and its connection
 * suspended until a worker has answered. A full queue is 503 at once. The workers share one
 * engine (immutable, thread-safe) and one gallery handle behind a mutex (gallery_lock) for
 * everything that reads or writes the database.
 *
 * Identification never touches the database (index.c): it searches an in-memory index (its own
 * gallery handle, behind index_lock) with thresholds and API keys cached in memory. With
 * SQLite the index handle re-reads the file when it changed, as any handle does. With
 * PostgreSQL, where other servers change the gallery too, a refresher thread waits for change
 * notifications and applies them to a standby copy of the index, outside index_lock, then
 * swaps the two: a slow, locked or absent database never holds up a search. */
#ifndef FR_SERVE_H
#define FR_SERVE_H

#include "base64.h"
#include "facerec.h"

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct serve_options {
    char host[256];
    int port;
    const char *db;
    int workers;         /* worker threads */
    int queue;           /* requests waiting for a worker, beyond which 503 */
    size_t max_upload;   /* bytes of a request body */
    int64_t max_pixels;  /* width x height of an uploaded image */
    int timeout_s;       /* per request: upload, wait and work */
    const char *tls_cert, *tls_key;
    const char *web_dir; /* the page's files (NULL: installed, then source tree) */
    double fpir, far;    /* identification and verification operating points */
    fr_config cfg;
    const char *default_model; /* cfg.model before options (to tell whether --model was given) */
} serve_options;

/* A byte buffer that grows. */
typedef struct buffer {
    char *data;
    size_t size, cap;
} buffer;
int buffer_append(buffer *b, const void *data, size_t size); /* 0 when out of memory */
void buffer_free(buffer *b);

/* One part of a multipart/form-data body (or a urlencoded field). */
typedef struct form_part {
    char *field, *filename;
    buffer data;
} form_part;
#define MAX_FORM_PARTS 32
#define MAX_ARGS 32
#define MAX_PATH_PARAMS 4

typedef struct server server;

/* What a handler answers: a status and a JSON body (or raw bytes with a content type). */
typedef struct reply {
    int status;
    json_t *json;
    const void *bytes; /* static data (the web page's files, already in memory) */
    size_t n_bytes;
    char *owned;       /* malloc'ed body (metrics text) */
    const char *content_type;
    int retry_after;   /* seconds, for 503 */
    int n_faces;       /* for the log line and the metrics */
} reply;

typedef struct request request;
typedef void (*route_fn)(server *srv, request *req, reply *out);

typedef enum route_role { ROLE_NONE = 0, ROLE_RECOGNIZE, ROLE_ADMIN } route_role;

typedef struct route {
    const char *method;
    const char *pattern; /* path segments, where "*" matches any one segment */
    route_role role;
    int in_network_thread; /* cheap and without the gallery: answered at once */
    route_fn fn;
    const char *metric_name;
} route;

struct request {
    server *srv;
    struct MHD_Connection *conn;
    char method[16];
    char *path;
    const route *route;
    int route_index;
    char *params[MAX_PATH_PARAMS]; /* the '*' segments */
    int n_params;
    char *arg_keys[MAX_ARGS], *arg_values[MAX_ARGS]; /* query string */
    int n_args;
    char content_type[128];
    double t_start;
    buffer body;              /* raw body (not multipart) */
    struct MHD_PostProcessor *post;
    form_part parts[MAX_FORM_PARTS];
    int n_parts;
    int error_status;         /* set while receiving: answer this, ignore the rest */
    char error_message[256];
    int dispatched, answered;
    int status, n_faces;      /* for the log line */
    json_t *json_body;        /* parsed lazily by request_json */
    int json_parsed;
};

/* Metrics (Prometheus text format). */
#define N_LATENCY_BUCKETS 12
typedef struct metrics {
    pthread_mutex_t lock;
    int n_routes;
    int64_t *counts;  /* [route (n_routes + 1: unmatched)][status slot] */
    int64_t latency_buckets[N_LATENCY_BUCKETS];
    double latency_sum;
    int64_t latency_count;
    int64_t faces;
    int64_t people, templates; /* the gallery's size after the last change */
} metrics;

/* What the refresher knows of the database (index.c), under state_lock. */
typedef struct db_state {
    int up;                /* the last call on the database succeeded */
    char error[512];       /* why not, when down */
    double down_since;     /* now_seconds() when it went down */
    int64_t outages;       /* times it went down */
    double last_refresh;   /* now_seconds() of the last successful refresh */
} db_state;

/* An API key whose role was read from the database, kept so that requests with known keys
 * need no database (index.c); the refresher re-reads each every KEY_RECHECK_SECONDS. */
typedef struct cached_key {
    uint8_t sha256[32];
    char role[16];
} cached_key;
#define KEY_RECHECK_SECONDS 5

struct server {
    serve_options opt;
    fr_engine *engine;
    fr_gallery *gallery; /* workers, under gallery_lock */
    pthread_mutex_t gallery_lock;
    fr_gallery *keys;    /* the network thread's own handle, for API keys not yet cached */
    /* the search index (index.c): index[active_index] serves searches under index_lock; with a
     * shared database index[!active_index] is the standby the refresher updates */
    int shared_db;       /* PostgreSQL: other servers change the gallery too */
    fr_gallery *index[2];
    int active_index;
    int64_t active_seq;  /* the change-log position index[active_index] holds (refresher only) */
    pthread_mutex_t index_lock;
    fr_gallery *watch;   /* the refresher's handle: notifications, keys, thresholds */
    pthread_t refresher;
    int refresher_running;
    /* under state_lock: the refresher's progress, the cached thresholds and keys */
    pthread_mutex_t state_lock;
    pthread_cond_t refreshed;
    int64_t refresh_wanted, refresh_done; /* refresh cycles asked for and completed */
    db_state db;
    fr_threshold identify_threshold, verify_threshold; /* read before the server answers */
    cached_key *key_cache;
    int n_cached_keys, key_cache_cap;
    struct MHD_Daemon *daemon;
    /* the job queue */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_ready, idle;
    request **ring;
    int head, count;
    int stopping;
    int active; /* requests received and not yet completed */
    pthread_t *threads;
    metrics m;
    /* the web page, read once at start */
    struct web_file {
        const char *name, *type;
        char *data;
        size_t size;
    } web[4];
};

/* routes.c: our API; compreface.c: CompreFace's. Each table ends with a NULL method. */
extern const route serve_routes[];
extern const route compreface_routes[];

/* Helpers for handlers (request.c). */
const char *request_arg(const request *req, const char *key);
/* The JSON body, if the request sent one (NULL otherwise, or after setting a 400 in out). */
json_t *request_json(request *req, reply *out);
/* The image bytes of a field: a multipart part named `field` (or any file part when field is
 * NULL), else the JSON member `field` (base64, data URLs accepted), else the raw body when
 * its content type is an image. Returns 1 with *data / *size (owned by the request or by
 * *owned, free it) or 0 after setting an error in out (400 when missing or malformed). */
int request_image_bytes(request *req, const char *field, const char *alt_field,
                        const uint8_t **data, size_t *size, uint8_t **owned, reply *out);
/* Decode image bytes within the server's limits: 400 unreadable, 413 too large. */
int decode_image(server *srv, const uint8_t *data, size_t size, fr_image **img, reply *out);
/* The image of a field (see request_image_bytes) decoded by decode_image; NULL after setting
 * the error in out. */
fr_image *request_image(server *srv, request *req, const char *field, const char *alt_field,
                        reply *out);
/* Every image part of a multipart body, or the JSON array `field` of base64 strings. */

/* Replies. */
void reply_json(reply *out, int status, json_t *json); /* takes the reference */
void reply_error(reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The status that fits a library failure (and its message). */
void reply_library_error(reply *out, fr_status st);


/* A JSON string. libfacerec's static library has an internal function named json_string
 * that shadows jansson's when linked statically, so the server never calls that name. */
static inline json_t *json_text(const char *s) { return json_stringn(s, strlen(s)); }

/* JSON shapes shared by the APIs (the CLI's --json fields). */
json_t *face_json(const fr_face *face, int with_embedding);

/* The identification threshold and the similarity mapping of CompreFace's answers. */
float similarity_of_distance(float distance);

/* A person found by identification: the name (copied) and the distance. */
typedef struct candidate {
    char name[256];
    float distance;
} candidate;

/* The gallery under its lock: run fn with the workers' handle. */
void gallery_lock(server *srv);
void gallery_unlock(server *srv);
/* Unlock after a request that may have changed the gallery (changed: it did): the metrics and thresholds are
 * updated, and with a shared database the call returns once the index holds the change
 * (read-your-writes for the client), or after a second. */
void gallery_unlock_changed(server *srv, int changed);
/* Every enrolled person (fr_gallery_people under the lock); on failure replies with the
 * library's error and returns 0. Free with fr_people_free. */
int gallery_people(server *srv, reply *out, fr_person **people, int *n);
/* Record the gallery's size in the metrics and its thresholds for the index (call with the
 * lock held). */
void metrics_note_gallery(server *srv);

/* index.c: the in-memory index and its refresher. */
/* Open the index's handles and load it (at start, before serving); 0 after printing why. */
int index_open(server *srv);
/* Start and stop the refresher thread. */
int index_start_refresher(server *srv);
void index_stop(server *srv);
/* Search the index: as fr_gallery_search, with the names copied into the candidates, and the
 * identification threshold cached for it. */
fr_status index_search(server *srv, const float *probes, int n, int k, candidate *out, int *n_found,
                       fr_threshold *th);
/* The verification threshold (cached). */
void index_verify_threshold(server *srv, fr_threshold *th);
/* The role of an API key from the cache, else from the database (then cached): 1 found, 0 not,
 * -1 when the database failed (the message in fr_last_error()). */
int index_key_role(server *srv, const uint8_t sha256[32], char *role, size_t role_size);
/* Record an outcome of a database call in the database state (FR_E_DB: down). */
void index_note_db(server *srv, fr_status st);
/* The database's state for /health (a new JSON object). */
json_t *index_db_json(server *srv);

/* Run the pipeline on an image: faces with embeddings (or only detection). */
fr_status run_pipeline(server *srv, const fr_image *img, int embed, fr_face **faces, int *n);

/* recognize.c: the recognition steps both APIs share. */
/* Each face's k nearest people (names copied), and the identification threshold. */
int identify_faces(server *srv, const fr_face *faces, int n, int k, candidate **out, int *n_found,
                   fr_threshold *th, reply *err);
/* One photo to enroll: its bytes and a name for its source ("upload:NAME"). */
typedef struct photo_result {
    int stored;          /* 1 stored, 0 not (message says why) */
    int status;          /* HTTP status of the failure */
    int64_t template_id; /* when stored */
    char message[300];
    int n_faces;
    fr_face face;        /* the face enrolled */
    uint8_t *thumbnail;  /* JPEG of the face, stored with the template (freed by enroll_photos) */
    size_t thumbnail_size;
} photo_result;
/* Embed each photo (the largest face) and store those with a face for `name` in one
 * transaction (the person is made if new). Returns 0 with err set when the gallery failed;
 * per-photo outcomes (no face, unreadable, already enrolled) go to results. */
int enroll_photos(server *srv, const char *name, const uint8_t *const *data, const size_t *sizes,
                  const char *const *sources, int n, photo_result *results, reply *err);
/* The faces of an image in largest-first order, filtered by score, at most limit (0: all). */
void sort_and_filter_faces(fr_face *faces, int *n, float min_score, int limit);

void metrics_init(metrics *m, int n_routes);
void metrics_free(metrics *m);
void metrics_record(metrics *m, int route_index, int status, double seconds, int n_faces);
char *metrics_text(server *srv, size_t *size);

/* keys.c: `facerec-serve keys add|list|revoke`. */
int serve_keys_main(int argc, char **argv);

double now_seconds(void);

#endif
