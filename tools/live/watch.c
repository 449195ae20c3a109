/* watch.c: the live recognition loop. Per frame: read; on detection frames detect, follow
 * the faces with the tracker, embed only the tracks that need it (not yet settled, or due a
 * periodic re-check) and, with require_live, judge their liveness, search the gallery, vote;
 * greet the people settled this frame (speech, snapshot, event); draw and show. Everything
 * is reported through the event callback. */
#include "live/live.h"

#include "common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A detection continues a track when their boxes overlap at least this much (IoU). */
#define TRACK_MIN_IOU 0.3f
/* Detection rounds a track survives without being seen (a blink of the detector). */
#define TRACK_MAX_MISSES 5
/* This many unreadable frames in a row end the run (a source that only yields garbage). */
#define MAX_CORRUPT_IN_A_ROW 100
/* Greetings of one frame reported at most (the rest are greeted but not listed). */
#define MAX_GREETED 16

void live_options_init(live_options *o) {
    memset(o, 0, sizeof *o);
    o->threshold = 0.6f;
    o->detect_every = 1;
    o->votes = 5;
    o->recheck = 10;
    o->cooldown = 60;
    o->window = 1;
    o->speech = 1;
}

/* A greeting decided this frame, carried out after the frame is drawn. */
typedef struct pending_greeting {
    int n;
    int track[MAX_GREETED];
    float distance[MAX_GREETED];
    const char *name[MAX_GREETED]; /* the greeter's copies */
    char sentence[1024];
} pending_greeting;

typedef struct watch {
    const live_options *o;
    fr_engine *eng;
    fr_gallery *gallery;
    live_stats *stats;
    live_tracker tracker;
    live_greeter *greeter;
    live_speech *speech;
    live_window *window;
    int dim;
    int64_t frame;
    double t;
    /* scratch of a detection round, grown as needed */
    int cap;
    float (*boxes)[4];
    fr_face *to_embed;
    int *embed_track; /* index into tracker.tracks */
    float *probes;
    float *liveness;
    fr_match *matches;
    const char **names;
    int *greeted;
    pending_greeting greeting;
} watch;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void emit(const watch *w, live_event_kind kind, const live_track *tr, const char *name,
                 float distance, const char *message) {
    if (!w->o->on_event) return;
    live_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.t = w->t;
    e.frame = w->frame;
    e.track = tr ? tr->id : 0;
    if (tr) memcpy(e.box, tr->box, sizeof e.box);
    e.name = name;
    e.distance = distance;
    e.liveness = NAN;
    e.message = message;
    w->o->on_event(&e, w->o->user);
}

/* A SPOOF event for a track. */
static void emit_spoof(const watch *w, const live_track *tr, float liveness) {
    if (!w->o->on_event) return;
    live_event e;
    memset(&e, 0, sizeof e);
    e.kind = LIVE_EVENT_SPOOF;
    e.t = w->t;
    e.frame = w->frame;
    e.track = tr->id;
    memcpy(e.box, tr->box, sizeof e.box);
    e.distance = NAN;
    e.liveness = liveness;
    w->o->on_event(&e, w->o->user);
}

/* Grow one scratch array to count elements (a failure leaves it as it was). */
#define GROW(array, count)                                                                   \
    do {                                                                                     \
        void *grown_ = realloc((array), (size_t)(count) * sizeof *(array));                  \
        if (!grown_) return fr_error(FR_E_NOMEM, "out of memory following %d faces", n);     \
        (array) = grown_;                                                                    \
    } while (0)

static fr_status reserve_scratch(watch *w, int n) {
    if (n <= w->cap) return FR_OK;
    int cap = FR_MAX(n, 2 * w->cap);
    GROW(w->boxes, cap);
    GROW(w->to_embed, cap);
    GROW(w->embed_track, cap);
    GROW(w->probes, (size_t)cap * (size_t)w->dim);
    GROW(w->liveness, cap);
    GROW(w->matches, cap);
    GROW(w->names, cap);
    GROW(w->greeted, cap);
    w->cap = cap;
    return FR_OK;
}

/* Whether a track is embedded this round: until its identity is settled, then periodically
 * (so that a different face taking its place is noticed). */
static int needs_embedding(const watch *w, const live_track *tr) {
    int settled;
    live_greeter_identity(w->greeter, tr->id, &settled);
    return !settled || tr->last_embedded < 0 || w->frame - tr->last_embedded >= w->o->recheck;
}

/* Embed the tracks that need it, search the gallery, vote; people settled now are greeted. */
static fr_status recognise(watch *w, const fr_image *img, const fr_face *faces) {
    live_tracker *tk = &w->tracker;
    int n = 0;
    for (int i = 0; i < tk->n; i++) {
        live_track *tr = &tk->tracks[i];
        if (tr->lost || tr->detection < 0 || !needs_embedding(w, tr)) continue;
        w->to_embed[n] = faces[tr->detection];
        w->embed_track[n++] = i;
    }
    if (n == 0) return FR_OK;
    double t0 = now_ms();
    fr_status st = fr_embed(w->eng, img, w->to_embed, n);
    double t1 = now_ms();
    w->stats->ms_embed += t1 - t0;
    w->stats->embeddings += n;
    if (st != FR_OK) return st;
    if (w->o->require_live) {
        double t2 = now_ms();
        st = fr_liveness(w->eng, img, w->to_embed, n, w->liveness);
        w->stats->ms_liveness += now_ms() - t2;
        if (st != FR_OK) return st;
        t1 = now_ms();
    }
    for (int k = 0; k < n; k++)
        memcpy(w->probes + (size_t)k * w->dim, w->to_embed[k].embedding, (size_t)w->dim * sizeof(float));
    int n_found = 0;
    st = fr_gallery_search(w->gallery, w->probes, n, 1, w->matches, &n_found);
    w->stats->ms_search += now_ms() - t1;
    if (st != FR_OK) return st;

    int n_settled = 0;
    for (int k = 0; k < n; k++) {
        live_track *tr = &tk->tracks[w->embed_track[k]];
        tr->last_embedded = w->frame;
        float distance = n_found ? w->matches[k].distance : NAN;
        const char *name = n_found && distance <= w->o->threshold ? w->matches[k].name : NULL;
        if (w->o->require_live) {
            /* an attack is never a person: it votes as a stranger, which breaks any run of
             * votes for a name */
            int live = w->liveness[k] >= FR_LIVENESS_THRESHOLD;
            tr->attack_votes = live ? 0 : tr->attack_votes + 1;
            if (!live) name = NULL;
            if (tr->attack_votes == w->o->votes) emit_spoof(w, tr, w->liveness[k]);
        }
        live_vote vote;
        st = live_greeter_vote(w->greeter, tr->id, name, &vote);
        if (st != FR_OK) return st;
        if (vote != LIVE_VOTE_SETTLED) continue;
        emit(w, LIVE_EVENT_IDENTIFY, tr, name, distance, NULL);
        if (!name) continue; /* strangers are never named */
        /* gather the people settled now at the front of the scratch arrays (n_settled <= k:
         * nothing still to be read is overwritten) */
        int settled;
        w->names[n_settled] = live_greeter_identity(w->greeter, tr->id, &settled);
        w->embed_track[n_settled] = w->embed_track[k];
        w->matches[n_settled].distance = distance;
        n_settled++;
    }
    if (n_settled == 0) return FR_OK;
    pending_greeting *pg = &w->greeting;
    st = live_greeter_greet(w->greeter, w->names, n_settled, w->t, w->greeted, pg->sentence,
                            sizeof pg->sentence);
    for (int k = 0; st == FR_OK && k < n_settled && pg->n < MAX_GREETED; k++) {
        if (!w->greeted[k]) continue;
        pg->track[pg->n] = w->embed_track[k];
        pg->name[pg->n] = w->names[k];
        pg->distance[pg->n] = w->matches[k].distance;
        pg->n++;
    }
    return st;
}

static fr_status detection_round(watch *w, const fr_image *img) {
    fr_face *faces = NULL;
    int n = 0;
    double t0 = now_ms();
    fr_status st = fr_detect(w->eng, img, &faces, &n);
    w->stats->ms_detect += now_ms() - t0;
    if (st != FR_OK) return st;
    w->stats->detections += n;
    st = reserve_scratch(w, n); /* a track per detection at most is embedded */
    for (int i = 0; st == FR_OK && i < n; i++) {
        w->boxes[i][0] = faces[i].x;
        w->boxes[i][1] = faces[i].y;
        w->boxes[i][2] = faces[i].w;
        w->boxes[i][3] = faces[i].h;
    }
    if (st == FR_OK) st = live_tracker_update(&w->tracker, (const float (*)[4])w->boxes, n, w->frame);
    for (int i = 0; st == FR_OK && i < w->tracker.n; i++) {
        const live_track *tr = &w->tracker.tracks[i];
        if (tr->lost) {
            live_greeter_forget(w->greeter, tr->id);
            emit(w, LIVE_EVENT_LOST, tr, NULL, NAN, NULL);
        } else if (tr->born == w->frame) {
            emit(w, LIVE_EVENT_TRACK, tr, NULL, NAN, NULL);
        }
    }
    if (st == FR_OK) st = recognise(w, img, faces);
    fr_faces_free(faces);
    return st;
}

/* Boxes and names on the frame: green for a person, red for a stranger, yellow while unsure. */
static void annotate(const watch *w, fr_image *img) {
    for (int i = 0; i < w->tracker.n; i++) {
        const live_track *tr = &w->tracker.tracks[i];
        if (tr->lost) continue;
        int settled;
        const char *name = live_greeter_identity(w->greeter, tr->id, &settled);
        uint8_t r = 255, g = 255, b = 0;
        const char *label = "?";
        if (w->o->require_live && tr->attack_votes >= w->o->votes) {
            g = 0;
            label = "spoof";
        } else if (settled && name) {
            r = 0;
            label = name;
        } else if (settled) {
            g = 0;
            label = "unknown";
        }
        int x = (int)lroundf(tr->box[0]), y = (int)lroundf(tr->box[1]);
        fr_image_draw_rect(img, x, y, (int)lroundf(tr->box[2]), (int)lroundf(tr->box[3]), r, g,
                           b, 3);
        fr_image_draw_text(img, x, y >= 20 ? y - 20 : y + 4, label, r, g, b, 2);
    }
}

/* Say the greeting, save the snapshot and report it. What fails here (a full disk, speech
 * falling behind) is a warning: the watch goes on. */
static void deliver_greeting(watch *w, const fr_image *annotated) {
    pending_greeting *pg = &w->greeting;
    w->stats->greetings += pg->n;
    char snapshot[4096];
    const char *saved = NULL;
    if (w->o->snapshots_dir) {
        snprintf(snapshot, sizeof snapshot, "%s/greet-%06lld.png", w->o->snapshots_dir,
                 (long long)w->frame);
        if (fr_image_save(annotated, snapshot, 0) == FR_OK) saved = snapshot;
        else emit(w, LIVE_EVENT_WARNING, NULL, NULL, NAN, fr_last_error());
    }
    if (w->speech && live_speech_say(w->speech, pg->sentence) != FR_OK)
        emit(w, LIVE_EVENT_WARNING, NULL, NULL, NAN, fr_last_error());
    for (int k = 0; k < pg->n && w->o->on_event; k++) {
        live_event e;
        memset(&e, 0, sizeof e);
        e.kind = LIVE_EVENT_GREET;
        e.liveness = NAN;
        e.t = w->t;
        e.frame = w->frame;
        const live_track *tr = &w->tracker.tracks[pg->track[k]];
        e.track = tr->id;
        memcpy(e.box, tr->box, sizeof e.box);
        e.name = pg->name[k];
        e.distance = pg->distance[k];
        e.sentence = pg->sentence;
        e.snapshot = saved;
        w->o->on_event(&e, w->o->user);
    }
    pg->n = 0;
}

/* Open speech and the window as asked; what the machine cannot do (no sound device, no
 * display) is a warning, an impossible request (a WAV file that cannot be written, an unknown
 * voice) an error. */
static fr_status open_outputs(watch *w, const live_capture_info *info) {
    const live_options *o = w->o;
    if (o->speech || o->speak_to) {
        fr_status st = live_speech_open(o->voice, o->speak_to, &w->speech);
        if (st == FR_E_UNSUPPORTED && !o->speak_to) {
            char msg[512];
            snprintf(msg, sizeof msg, "speech off: %s", fr_last_error());
            emit(w, LIVE_EVENT_WARNING, NULL, NULL, NAN, msg);
        } else if (st != FR_OK) {
            return st;
        }
    }
    if (o->window && live_window_display_available()) {
        if (live_window_open("facerec watch", info->width, info->height, &w->window) != FR_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "no preview window: %s", fr_last_error());
            emit(w, LIVE_EVENT_WARNING, NULL, NULL, NAN, msg);
        }
    }
    return FR_OK;
}

/* One frame after it was read. Sets *quit when the user closed the window. */
static fr_status process_frame(watch *w, fr_image *frame, int *quit) {
    fr_status st = FR_OK;
    if ((w->frame - 1) % w->o->detect_every == 0) st = detection_round(w, frame);
    if (st != FR_OK) return st;
    int want_snapshot = w->greeting.n > 0 && w->o->snapshots_dir;
    if (w->window || want_snapshot) {
        double t0 = now_ms();
        annotate(w, frame);
        w->stats->ms_draw += now_ms() - t0;
    }
    if (w->greeting.n > 0) deliver_greeting(w, frame);
    if (w->window) {
        double t0 = now_ms();
        st = live_window_show(w->window, frame);
        *quit = live_window_poll_quit(w->window);
        w->stats->ms_display += now_ms() - t0;
    }
    return st;
}

static fr_status run(watch *w, live_capture *cap) {
    const live_options *o = w->o;
    int corrupt_in_a_row = 0;
    for (;;) {
        if (o->stop && *o->stop) {
            emit(w, LIVE_EVENT_END, NULL, NULL, NAN, "stopped");
            return FR_OK;
        }
        fr_image *frame;
        double t, t0 = now_ms();
        fr_status st = live_capture_read(cap, &frame, &t);
        w->stats->ms_decode += now_ms() - t0;
        if (st == FR_E_FORMAT) {
            w->stats->corrupt++;
            emit(w, LIVE_EVENT_CORRUPT, NULL, NULL, NAN, fr_last_error());
            if (++corrupt_in_a_row < MAX_CORRUPT_IN_A_ROW) continue;
            st = fr_error(FR_E_FORMAT, "%s: %d corrupt frames in a row; giving up", o->source,
                          corrupt_in_a_row);
        }
        if (st == FR_E_INTERRUPTED && o->stop && *o->stop) {
            emit(w, LIVE_EVENT_END, NULL, NULL, NAN, "stopped");
            return FR_OK;
        }
        if (st != FR_OK) return st;
        if (!frame) {
            emit(w, LIVE_EVENT_END, NULL, NULL, NAN, "end of the source");
            return FR_OK;
        }
        corrupt_in_a_row = 0;
        w->t = t;
        w->frame++;
        w->stats->frames++;
        int quit = 0;
        st = process_frame(w, frame, &quit);
        if (st != FR_OK) return st;
        if (quit) {
            emit(w, LIVE_EVENT_END, NULL, NULL, NAN, "quit");
            return FR_OK;
        }
    }
}

fr_status live_watch(fr_engine *eng, fr_gallery *gallery, const live_options *o,
                     live_stats *stats) {
    memset(stats, 0, sizeof *stats);
    if (!eng || !gallery || !o || !o->source)
        return fr_error(FR_E_ARG, "live_watch: NULL argument");
    if (o->detect_every < 1 || o->votes < 1 || o->recheck < 1 || !(o->cooldown >= 0) ||
        !(o->threshold >= 0))
        return fr_error(FR_E_ARG, "live_watch: detect_every, votes and recheck must be >= 1, "
                                  "cooldown and threshold >= 0");
    if (fr_engine_dim(eng) <= 0)
        return fr_error(FR_E_ARG, "live_watch: the engine was opened without an embedding model");
    watch w;
    memset(&w, 0, sizeof w);
    w.o = o;
    w.eng = eng;
    w.gallery = gallery;
    w.stats = stats;
    w.dim = fr_engine_dim(eng);
    live_tracker_init(&w.tracker, TRACK_MIN_IOU, TRACK_MAX_MISSES);

    live_capture *cap = NULL;
    int started = 0;
    fr_status st = live_capture_open(o->source, o->size, o->stop, &cap);
    if (st == FR_OK) st = live_greeter_new(o->votes, o->cooldown, &w.greeter);
    if (st == FR_OK) {
        live_capture_info info;
        live_capture_get_info(cap, &info);
        if (o->on_event) {
            live_event e;
            memset(&e, 0, sizeof e);
            e.kind = LIVE_EVENT_START;
            e.distance = NAN;
            e.liveness = NAN;
            e.box[2] = (float)info.width;
            e.box[3] = (float)info.height;
            e.message = o->source;
            o->on_event(&e, o->user);
        }
        started = 1;
        st = open_outputs(&w, &info);
    }
    if (st == FR_OK) {
        double start = now_ms();
        st = run(&w, cap);
        stats->seconds = (now_ms() - start) / 1e3;
    }
    if (st != FR_OK && started) { /* the message outlives the calls below */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", fr_last_error());
        emit(&w, LIVE_EVENT_END, NULL, NULL, NAN, msg);
        fr_error(st, "%s", msg);
    }
    if (w.speech) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", fr_last_error());
        fr_status speech_st = live_speech_close(w.speech);
        if (st == FR_OK) st = speech_st;
        else fr_error(st, "%s", msg);
    }
    live_window_close(w.window);
    live_capture_close(cap);
    live_greeter_free(w.greeter);
    live_tracker_free(&w.tracker);
    free(w.boxes);
    free(w.to_embed);
    free(w.embed_track);
    free(w.probes);
    free(w.liveness);
    free(w.matches);
    free(w.names);
    free(w.greeted);
    return st;
}
