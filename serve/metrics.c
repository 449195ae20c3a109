/* metrics.c: counters for GET /metrics in Prometheus's text format: requests by route and
 * status, a latency histogram, faces processed, the gallery's size. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int statuses[] = {200, 201, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 500, 503};
#define N_STATUSES ((int)(sizeof statuses / sizeof statuses[0]) + 1) /* + other */
static const double bucket_bounds[N_LATENCY_BUCKETS - 1] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5, 1, 2.5, 5, 10};

void metrics_init(metrics *m, int n_routes) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->n_routes = n_routes;
    m->counts = calloc((size_t)(n_routes + 1) * N_STATUSES, sizeof *m->counts);
}

void metrics_free(metrics *m) {
    free(m->counts);
    pthread_mutex_destroy(&m->lock);
}

static int status_slot(int status) {
    for (int i = 0; i < N_STATUSES - 1; i++)
        if (statuses[i] == status) return i;
    return N_STATUSES - 1;
}

void metrics_record(metrics *m, int route_index, int status, double seconds, int n_faces) {
    if (!m->counts) return;
    int r = route_index >= 0 && route_index < m->n_routes ? route_index : m->n_routes;
    pthread_mutex_lock(&m->lock);
    m->counts[r * N_STATUSES + status_slot(status)]++;
    int b = 0;
    while (b < N_LATENCY_BUCKETS - 1 && seconds > bucket_bounds[b]) b++;
    m->latency_buckets[b]++;
    m->latency_sum += seconds;
    m->latency_count++;
    m->faces += n_faces;
    pthread_mutex_unlock(&m->lock);
}

char *metrics_text(server *srv, size_t *size) {
    metrics *m = &srv->m;
    buffer b = {0};
    char line[256];
#define EMIT(...) do { int n_ = snprintf(line, sizeof line, __VA_ARGS__); buffer_append(&b, line, (size_t)n_); } while (0)
    pthread_mutex_lock(&m->lock);
    EMIT("# HELP facerec_requests_total HTTP requests answered, by route and status.\n"
         "# TYPE facerec_requests_total counter\n");
    for (int r = 0; r <= m->n_routes; r++)
        for (int s = 0; s < N_STATUSES; s++) {
            int64_t n = m->counts[r * N_STATUSES + s];
            if (!n) continue;
            if (s < N_STATUSES - 1)
                EMIT("facerec_requests_total{route=\"%s\",status=\"%d\"} %lld\n",
                     route_metric_name(r), statuses[s], (long long)n);
            else
                EMIT("facerec_requests_total{route=\"%s\",status=\"other\"} %lld\n",
                     route_metric_name(r), (long long)n);
        }
    EMIT("# HELP facerec_request_duration_seconds Time from a request's first byte to its answer.\n"
         "# TYPE facerec_request_duration_seconds histogram\n");
    int64_t cumulative = 0;
    for (int i = 0; i < N_LATENCY_BUCKETS; i++) {
        cumulative += m->latency_buckets[i];
        if (i < N_LATENCY_BUCKETS - 1)
            EMIT("facerec_request_duration_seconds_bucket{le=\"%g\"} %lld\n", bucket_bounds[i],
                 (long long)cumulative);
        else
            EMIT("facerec_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)cumulative);
    }
    EMIT("facerec_request_duration_seconds_sum %.6f\nfacerec_request_duration_seconds_count %lld\n",
         m->latency_sum, (long long)m->latency_count);
    EMIT("# HELP facerec_faces_processed_total Faces found in requests' images.\n"
         "# TYPE facerec_faces_processed_total counter\nfacerec_faces_processed_total %lld\n",
         (long long)m->faces);
    EMIT("# HELP facerec_gallery_people People enrolled.\n# TYPE facerec_gallery_people gauge\n"
         "facerec_gallery_people %lld\n", (long long)m->people);
    EMIT("# HELP facerec_gallery_templates Templates (photos) enrolled.\n"
         "# TYPE facerec_gallery_templates gauge\nfacerec_gallery_templates %lld\n",
         (long long)m->templates);
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_lock(&srv->state_lock);
    int db_up = srv->db.up;
    int64_t outages = srv->db.outages;
    double index_age = now_seconds() - srv->db.last_refresh;
    pthread_mutex_unlock(&srv->state_lock);
    EMIT("# HELP facerec_database_up Whether the gallery's database answered the last call.\n"
         "# TYPE facerec_database_up gauge\nfacerec_database_up %d\n", db_up);
    EMIT("# HELP facerec_database_outages_total Times the database became unavailable.\n"
         "# TYPE facerec_database_outages_total counter\nfacerec_database_outages_total %lld\n",
         (long long)outages);
    EMIT("# HELP facerec_index_age_seconds Time since the index was last brought up to date.\n"
         "# TYPE facerec_index_age_seconds gauge\nfacerec_index_age_seconds %.3f\n", index_age);
    pthread_mutex_lock(&srv->queue_lock);
    int waiting = srv->count;
    pthread_mutex_unlock(&srv->queue_lock);
    EMIT("# HELP facerec_queue_waiting Requests waiting for a worker.\n"
         "# TYPE facerec_queue_waiting gauge\nfacerec_queue_waiting %d\n", waiting);
#undef EMIT
    *size = b.size;
    return b.data;
}
