/* index.c: the in-memory search index that identification uses, kept current without ever
 * making a search wait for the database.
 *
 * The index is a gallery handle of its own, used only for fr_gallery_search under index_lock;
 * the identification and verification thresholds and the API keys of recent requests are
 * cached beside it. A refresher thread keeps all of it current:
 * - SQLite (one machine): the index handle applies other handles' changes (the change log)
 *   itself before each search; the refresher re-reads the thresholds every second.
 * - PostgreSQL (a shared database): the refresher waits for change notifications (at most a
 *   second); when the change log holds changes the searched copy lacks, it brings the standby
 *   copy index[!active_index] up to date with no lock held and swaps the copies under
 *   index_lock (a pointer). A database that is slow, locked or gone delays the refresher
 *   only; searches go on against the copy they have. When the database comes back, the library reconnects and the next
 *   refresh applies every change made meanwhile (the change log's sequence).
 * Every KEY_RECHECK_SECONDS the cached API keys are looked up again (a revoked key stops
 * working within that time) and the thresholds re-read (a new calibration). */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The longest wait for a notification: the refresher then polls the change log anyway, so a
 * lost notification delays a change by at most this. */
#define WAIT_MS 1000

void index_note_db(server *srv, fr_status st) {
    if (st != FR_OK && st != FR_E_DB) return; /* other failures say nothing of the database */
    pthread_mutex_lock(&srv->state_lock);
    if (st == FR_E_DB) {
        if (srv->db.up) {
            srv->db.up = 0;
            srv->db.outages++;
            srv->db.down_since = now_seconds();
            fprintf(stderr, "facerec serve: the database is unavailable: %s\n", fr_last_error());
        }
        snprintf(srv->db.error, sizeof srv->db.error, "%s", fr_last_error());
    } else if (!srv->db.up) {
        srv->db.up = 1;
        srv->db.error[0] = '\0';
        fprintf(stderr, "facerec serve: the database is back after %.1f s\n",
                now_seconds() - srv->db.down_since);
    }
    pthread_mutex_unlock(&srv->state_lock);
}

/* Read both thresholds with handle g (the database) into the cache. */
static fr_status cache_thresholds(server *srv, fr_gallery *g) {
    fr_threshold ident, verif;
    fr_status st = fr_gallery_identify_threshold(g, srv->opt.fpir, &ident);
    if (st == FR_OK) st = fr_gallery_threshold(g, srv->opt.far, &verif);
    if (st != FR_OK) return st;
    pthread_mutex_lock(&srv->state_lock);
    srv->identify_threshold = ident;
    srv->verify_threshold = verif;
    pthread_mutex_unlock(&srv->state_lock);
    return FR_OK;
}

void metrics_note_gallery(server *srv) {
    fr_gallery_info info;
    if (fr_gallery_get_info(srv->gallery, &info) != FR_OK) return;
    cache_thresholds(srv, srv->gallery);
    pthread_mutex_lock(&srv->m.lock);
    srv->m.people = info.n_people;
    srv->m.templates = info.n_templates;
    pthread_mutex_unlock(&srv->m.lock);
}

int index_open(server *srv) {
    const char *db = srv->opt.db; /* with its password, if any: fr_gallery_path has none */
    srv->shared_db = !strcmp(fr_gallery_backend(srv->gallery), "postgresql");
    srv->db.up = 1;
    srv->db.last_refresh = now_seconds();
    pthread_mutex_init(&srv->index_lock, NULL);
    pthread_mutex_init(&srv->state_lock, NULL);
    pthread_cond_init(&srv->refreshed, NULL);
    fr_status st = fr_gallery_open(db, 0, &srv->index[0]);
    if (st == FR_OK) st = fr_gallery_open(db, 0, &srv->watch);
    if (st == FR_OK && srv->shared_db) st = fr_gallery_open(db, 0, &srv->index[1]);
    if (st == FR_OK) st = cache_thresholds(srv, srv->watch);
    /* the first copy now, before the server answers; the standby at the first change */
    int64_t latest;
    if (st == FR_OK) st = fr_gallery_refresh(srv->index[0], NULL);
    if (st == FR_OK && srv->shared_db) st = fr_gallery_change_seq(srv->index[0], &srv->active_seq, &latest);
    if (st != FR_OK) {
        fprintf(stderr, "facerec serve: loading the gallery's index: %s\n", fr_last_error());
        return 0;
    }
    return 1;
}

/* ---- API keys ---------------------------------------------------------------------------- */

static int cached_role(server *srv, const uint8_t sha256[32], char *role, size_t role_size) {
    int found = 0;
    pthread_mutex_lock(&srv->state_lock);
    for (int i = 0; i < srv->n_cached_keys && !found; i++)
        if (!memcmp(srv->key_cache[i].sha256, sha256, 32)) {
            snprintf(role, role_size, "%s", srv->key_cache[i].role);
            found = 1;
        }
    pthread_mutex_unlock(&srv->state_lock);
    return found;
}

/* Cache a key's role, or drop the key when role is NULL (revoked). */
static void cache_key(server *srv, const uint8_t sha256[32], const char *role) {
    pthread_mutex_lock(&srv->state_lock);
    int i = 0;
    while (i < srv->n_cached_keys && memcmp(srv->key_cache[i].sha256, sha256, 32)) i++;
    if (!role) {
        if (i < srv->n_cached_keys) srv->key_cache[i] = srv->key_cache[--srv->n_cached_keys];
    } else {
        if (i == srv->n_cached_keys && i == srv->key_cache_cap) {
            int cap = srv->key_cache_cap ? 2 * srv->key_cache_cap : 16;
            cached_key *grown = realloc(srv->key_cache, (size_t)cap * sizeof *grown);
            if (grown) srv->key_cache = grown, srv->key_cache_cap = cap;
        }
        if (i < srv->key_cache_cap) { /* else out of memory: the key is looked up each time */
            memcpy(srv->key_cache[i].sha256, sha256, 32);
            snprintf(srv->key_cache[i].role, sizeof srv->key_cache[i].role, "%s", role);
            if (i == srv->n_cached_keys) srv->n_cached_keys++;
        }
    }
    pthread_mutex_unlock(&srv->state_lock);
}

int index_key_role(server *srv, const uint8_t sha256[32], char *role, size_t role_size) {
    if (cached_role(srv, sha256, role, role_size)) return 1;
    int found = 0;
    fr_status st = fr_gallery_key_lookup(srv->keys, sha256, &found, role, role_size);
    index_note_db(srv, st);
    if (st != FR_OK) return -1;
    if (found) cache_key(srv, sha256, role);
    return found;
}

/* Look every cached key up again with the refresher's handle. */
static fr_status recheck_keys(server *srv) {
    pthread_mutex_lock(&srv->state_lock);
    int n = srv->n_cached_keys;
    cached_key *copy = malloc((size_t)(n ? n : 1) * sizeof *copy);
    if (copy) memcpy(copy, srv->key_cache, (size_t)n * sizeof *copy);
    pthread_mutex_unlock(&srv->state_lock);
    if (!copy) return FR_E_NOMEM;
    fr_status st = FR_OK;
    for (int i = 0; i < n && st == FR_OK; i++) {
        int found = 0;
        char role[16] = "";
        st = fr_gallery_key_lookup(srv->watch, copy[i].sha256, &found, role, sizeof role);
        if (st == FR_OK) cache_key(srv, copy[i].sha256, found ? role : NULL);
    }
    free(copy);
    return st;
}

/* ---- search ------------------------------------------------------------------------------ */

fr_status index_search(server *srv, const float *probes, int n, int k, candidate *out, int *n_found,
                       fr_threshold *th) {
    fr_match *m = malloc((size_t)(n ? n : 1) * (size_t)k * sizeof *m);
    if (!m) return FR_E_NOMEM;
    fr_status st = FR_OK;
    pthread_mutex_lock(&srv->state_lock);
    *th = srv->identify_threshold;
    pthread_mutex_unlock(&srv->state_lock);
    *n_found = 0;
    pthread_mutex_lock(&srv->index_lock);
    if (n > 0) st = fr_gallery_search(srv->index[srv->active_index], probes, n, k, m, n_found);
    for (int i = 0; st == FR_OK && i < n; i++)
        for (int j = 0; j < *n_found; j++) {
            snprintf(out[(size_t)i * k + j].name, sizeof out->name, "%s", m[(size_t)i * k + j].name);
            out[(size_t)i * k + j].distance = m[(size_t)i * k + j].distance;
        }
    pthread_mutex_unlock(&srv->index_lock);
    free(m);
    return st;
}

void index_verify_threshold(server *srv, fr_threshold *th) {
    pthread_mutex_lock(&srv->state_lock);
    *th = srv->verify_threshold;
    pthread_mutex_unlock(&srv->state_lock);
}

/* ---- the refresher ----------------------------------------------------------------------- */

/* One refresh of a shared database's index: when the change log holds changes the copy that
 * searches use lacks, the standby copy is brought up to date (the library applies the change
 * log to its index, reading again only the people who changed) with no lock held and becomes
 * the searched copy. The copy it replaces is not touched until the next change. */
static fr_status refresh_shared(server *srv) {
    int standby = !srv->active_index; /* only this thread changes active_index */
    int64_t standby_seq, latest;
    fr_status st = fr_gallery_change_seq(srv->index[standby], &standby_seq, &latest);
    if (st != FR_OK || latest == srv->active_seq) return st;
    st = fr_gallery_refresh(srv->index[standby], NULL);
    if (st == FR_OK) st = fr_gallery_change_seq(srv->index[standby], &standby_seq, &latest);
    if (st != FR_OK) return st;
    pthread_mutex_lock(&srv->index_lock);
    srv->active_index = standby;
    pthread_mutex_unlock(&srv->index_lock);
    srv->active_seq = standby_seq;
    st = cache_thresholds(srv, srv->watch);
    fr_gallery_info info;
    if (st == FR_OK) st = fr_gallery_get_info(srv->watch, &info);
    if (st == FR_OK) {
        pthread_mutex_lock(&srv->m.lock);
        srv->m.people = info.n_people;
        srv->m.templates = info.n_templates;
        pthread_mutex_unlock(&srv->m.lock);
    }
    return st;
}

static void *refresher_main(void *arg) {
    server *srv = arg;
    double next_recheck = now_seconds() + KEY_RECHECK_SECONDS;
    for (;;) {
        pthread_mutex_lock(&srv->state_lock);
        int pending = srv->refresh_wanted > srv->refresh_done;
        if (!pending && !srv->shared_db && srv->refresher_running) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += WAIT_MS / 1000;
            pthread_cond_timedwait(&srv->refreshed, &srv->state_lock, &until);
        }
        int running = srv->refresher_running;
        pthread_mutex_unlock(&srv->state_lock);
        if (!running) break;
        fr_status st = FR_OK;
        if (!pending && srv->shared_db) st = fr_gallery_wait_changes(srv->watch, WAIT_MS);
        /* every change committed before this point is in the index when the cycle ends */
        pthread_mutex_lock(&srv->state_lock);
        int64_t cycle = srv->refresh_wanted;
        pthread_mutex_unlock(&srv->state_lock);
        if (st == FR_OK || st == FR_E_DB) /* after a failed wait the refresh reconnects */
            st = srv->shared_db ? refresh_shared(srv) : cache_thresholds(srv, srv->watch);
        if (st == FR_OK && now_seconds() >= next_recheck) {
            st = recheck_keys(srv);
            if (st == FR_OK) st = cache_thresholds(srv, srv->watch);
            if (st == FR_OK) next_recheck = now_seconds() + KEY_RECHECK_SECONDS;
        }
        index_note_db(srv, st);
        pthread_mutex_lock(&srv->state_lock);
        if (st == FR_OK) {
            srv->refresh_done = cycle;
            srv->db.last_refresh = now_seconds();
            pthread_cond_broadcast(&srv->refreshed);
        }
        pthread_mutex_unlock(&srv->state_lock);
        if (st != FR_OK) { /* the database is away: try again in a second */
            if (st != FR_E_DB) fprintf(stderr, "facerec serve: refreshing the index: %s\n", fr_last_error());
            struct timespec pause = {WAIT_MS / 1000, (WAIT_MS % 1000) * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

int index_start_refresher(server *srv) {
    srv->refresher_running = 1;
    if (pthread_create(&srv->refresher, NULL, refresher_main, srv) != 0) {
        srv->refresher_running = 0;
        fprintf(stderr, "facerec serve: cannot start the index's refresher: %s\n", strerror(errno));
        return 0;
    }
    return 1;
}

void index_stop(server *srv) {
    pthread_mutex_lock(&srv->state_lock);
    int running = srv->refresher_running;
    srv->refresher_running = 0;
    pthread_cond_broadcast(&srv->refreshed);
    pthread_mutex_unlock(&srv->state_lock);
    if (running) pthread_join(srv->refresher, NULL);
    for (int i = 0; i < 2; i++) fr_gallery_close(srv->index[i]);
    fr_gallery_close(srv->watch);
    free(srv->key_cache);
    pthread_cond_destroy(&srv->refreshed);
    pthread_mutex_destroy(&srv->state_lock);
    pthread_mutex_destroy(&srv->index_lock);
}

void gallery_unlock_changed(server *srv, int changed) {
    if (changed) metrics_note_gallery(srv);
    gallery_unlock(srv);
    if (!changed || !srv->shared_db) return; /* SQLite: the index handle sees the change itself */
    /* wait (a second at most) for a refresh cycle that began after the change was committed */
    pthread_mutex_lock(&srv->state_lock);
    int64_t mine = ++srv->refresh_wanted;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    while (srv->refresh_done < mine && srv->refresher_running)
        if (pthread_cond_timedwait(&srv->refreshed, &srv->state_lock, &until) == ETIMEDOUT) break;
    pthread_mutex_unlock(&srv->state_lock);
}

json_t *index_db_json(server *srv) {
    pthread_mutex_lock(&srv->state_lock);
    double now = now_seconds();
    json_t *o = json_pack("{s:s, s:s, s:I, s:f}", "backend", srv->shared_db ? "postgresql" : "sqlite",
                          "state", srv->db.up ? "up" : "down", "outages", (json_int_t)srv->db.outages,
                          "index_age_seconds", now - srv->db.last_refresh);
    if (!srv->db.up) {
        json_object_set_new(o, "error", json_text(srv->db.error));
        json_object_set_new(o, "down_seconds", json_real(now - srv->db.down_since));
    }
    pthread_mutex_unlock(&srv->state_lock);
    return o;
}
