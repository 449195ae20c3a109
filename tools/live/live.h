/* live.h: live recognition from a camera, a video file or a stream, greeting people by name.
 * Internal to libfacerec (not installed); `facerec watch` is its front end.
 *
 *   capture   source -> RGB frames (libavformat/libavcodec/libswscale; V4L2 through libavdevice)
 *   tracker   detections of consecutive frames -> tracks (IoU matching)
 *   greeter   recognitions of tracks -> confirmed people -> "Welcome ..." (pure logic)
 *   speech    sentences -> espeak-ng, in its own thread (sound device or WAV file)
 *   window    frames -> an SDL2 preview window with keys to quit
 *   watch     the loop tying them to the engine and the gallery, reporting through events
 */
#ifndef FR_LIVE_H
#define FR_LIVE_H

#include "facerec.h"

#include <stddef.h>
#include <stdint.h>

#include <signal.h>
#include <stdint.h>

/* ---- capture ---------------------------------------------------------------------------- */

typedef struct live_capture live_capture;

typedef struct live_capture_info {
    int width, height;  /* of the first frame (frames may change size in a stream) */
    double fps;         /* nominal rate; 0 when unknown */
    int live;           /* 1 for a device or a network stream, 0 for a file */
} live_capture_info;

/* Open a source: a V4L2 device (/dev/video*, or any character device), a URL (anything with
 * "://": rtsp, http, ...) or a video file. `size` ("WxH", may be NULL) asks a device for
 * that frame size. `stop` (may be NULL) aborts blocking reads when it becomes non-zero. */
fr_status live_capture_open(const char *source, const char *size,
                            const volatile sig_atomic_t *stop, live_capture **out);
void live_capture_close(live_capture *cap);
void live_capture_get_info(const live_capture *cap, live_capture_info *info);

/* The next frame. On FR_OK *frame is the frame (owned by the capture; the caller may draw on
 * it until the next call) with its time *t in seconds from the first frame, or NULL at the end
 * of the source.
 * FR_E_FORMAT: one frame or packet was corrupt and skipped; reading may go on.
 * FR_E_INTERRUPTED: the device or stream vanished, or `stop` was raised; FR_E_IO: a read
 * error. The message names the source. */
fr_status live_capture_read(live_capture *cap, fr_image **frame, double *t);

/* The conversion behind live_capture_read, apart for testing: frame f (any pixel format
 * libswscale reads) into out's packed RGB (out is f's size). *sws and *scratch are cached
 * between calls (NULL at first; free with sws_freeContext and av_frame_free). libswscale's
 * SIMD code writes past the end of rows, so it fills the padded, aligned *scratch frame
 * FFmpeg allocates, never out directly. `source` names the video in errors. */
struct SwsContext;
struct AVFrame;
fr_status live_frame_to_rgb(struct SwsContext **sws, struct AVFrame **scratch,
                            const struct AVFrame *f, fr_image *out, const char *source);

/* ---- tracker ---------------------------------------------------------------------------- */

typedef struct live_track {
    int id;                /* unique within a tracker, from 1 */
    float box[4];          /* x, y, w, h of its latest detection */
    int64_t born;          /* frame it appeared in */
    int64_t last_embedded; /* frame of its latest embedding, -1 if never */
    int misses;            /* detection rounds in a row without a match */
    int detection;         /* index of its detection in the latest update, -1 if none */
    int lost;              /* 1: removed by the latest update (dropped by the next one) */
    int attack_votes;      /* consecutive recognitions judged an attack (require_live) */
} live_track;

typedef struct live_tracker {
    live_track *tracks;
    int n, cap;
    int next_id;
    float min_iou;  /* a detection continues a track when their IoU is at least this */
    int max_misses; /* a track is lost after more detection rounds than this without a match */
} live_tracker;

void live_tracker_init(live_tracker *t, float min_iou, int max_misses);
void live_tracker_free(live_tracker *t);
/* Intersection over union of two x, y, w, h boxes. */
float live_iou(const float a[4], const float b[4]);
/* One detection round at `frame`: drops the tracks lost last round, matches each of the n
 * boxes (x, y, w, h) to a track (greedily by IoU, each track at most once), starts a track for
 * every unmatched box, and marks `lost` the tracks missed too often. Afterwards each track's
 * `detection` is its box's index (or -1); tracks with born == frame are new. */
fr_status live_tracker_update(live_tracker *t, const float (*boxes)[4], int n, int64_t frame);

/* ---- greeter ---------------------------------------------------------------------------- */

typedef struct live_greeter live_greeter;

/* votes: consecutive agreeing recognitions that settle a track's identity (>= 1);
 * cooldown: seconds before the same person is greeted again. */
fr_status live_greeter_new(int votes, double cooldown, live_greeter **out);
void live_greeter_free(live_greeter *g);

/* What one recognition did to a track. */
typedef enum live_vote {
    LIVE_VOTE_PENDING, /* not settled yet */
    LIVE_VOTE_SETTLED, /* this vote settled the track's identity (a person or a stranger) */
    LIVE_VOTE_HOLDS    /* the track was settled and this vote agrees */
} live_vote;

/* One recognition of a track: `name` is the person it is (NULL: a stranger, never named).
 * A vote that disagrees with the track's candidate restarts its count, so an identity is
 * settled only after `votes` consecutive agreeing recognitions. */
fr_status live_greeter_vote(live_greeter *g, int track_id, const char *name, live_vote *result);
/* The track's identity: *settled = 1 once settled; returns the person's name (NULL for a
 * stranger or while pending; valid until the track's next vote or forget). */
const char *live_greeter_identity(const live_greeter *g, int track_id, int *settled);
/* The track has gone: forget its votes. */
void live_greeter_forget(live_greeter *g, int track_id);

/* Greet people just recognised, at time t (seconds): those not greeted within the cooldown
 * (duplicates counted once) are greeted now. greeted[i] = 1 for the names greeted; the
 * sentence for them goes to `sentence` ("" when nobody is due). */
fr_status live_greeter_greet(live_greeter *g, const char *const *names, int n, double t,
                             int *greeted, char *sentence, size_t sentence_size);

/* The greeting for n >= 1 names: "Welcome Anna, have a nice day." for one,
 * "Welcome Anna and Bob, have a nice day!" for two, "Welcome Anna, Bob, and Carl, have a
 * nice day!" for more. Truncated to size. */
void live_greeting_sentence(const char *const *names, int n, char *out, size_t size);

/* ---- speech ----------------------------------------------------------------------------- */

typedef struct live_speech live_speech;

/* espeak-ng speaking queued sentences in its own thread, to the sound device (FR_E_UNSUPPORTED
 * when there is none), or to a WAV file when wav_path is given (16-bit mono PCM). voice: an
 * espeak-ng voice name (NULL: "en"). Several may be open: they take turns on the one engine. */
fr_status live_speech_open(const char *voice, const char *wav_path, live_speech **out);
/* Queue a sentence; returns at once. */
fr_status live_speech_say(live_speech *s, const char *sentence);
/* Speak what is queued, stop the thread, finish the WAV file. The first failure of the
 * thread (e.g. a write error) is returned. */
fr_status live_speech_close(live_speech *s);

/* ---- window ----------------------------------------------------------------------------- */

typedef struct live_window live_window;

/* Whether a display is reachable (X11 or Wayland). */
int live_window_display_available(void);
/* FR_E_UNSUPPORTED when there is no display. */
fr_status live_window_open(const char *title, int width, int height, live_window **out);
void live_window_close(live_window *w);
/* Show a frame (resized to the window by SDL). */
fr_status live_window_show(live_window *w, const fr_image *frame);
/* Handle pending window events; returns 1 when the user asked to quit (ESC, q, closed). */
int live_window_poll_quit(live_window *w);

/* ---- watch: the recognition loop ------------------------------------------------------- */

typedef enum live_event_kind {
    LIVE_EVENT_START,    /* the source is open: message = source; box = 0, 0, width, height */
    LIVE_EVENT_TRACK,    /* a new track: track, box */
    LIVE_EVENT_IDENTIFY, /* a track's identity settled: track, name (NULL: stranger), distance */
    LIVE_EVENT_GREET,    /* a person greeted: name, distance, box, sentence, snapshot */
    LIVE_EVENT_LOST,     /* a track left: track, box (its last) */
    LIVE_EVENT_SPOOF,    /* require_live: a track judged an attack (not live) on `votes`
                          * consecutive recognitions: track, box, liveness (the latest) */
    LIVE_EVENT_CORRUPT,  /* a frame was skipped: message */
    LIVE_EVENT_WARNING,  /* something degraded but the run goes on: message */
    LIVE_EVENT_END       /* the run is over: message = why */
} live_event_kind;

typedef struct live_event {
    live_event_kind kind;
    double t;           /* seconds from the first frame */
    int64_t frame;      /* frames read so far (the current frame's number, from 1) */
    int track;          /* 0 when none */
    const char *name;   /* NULL when none or a stranger */
    float distance;     /* NaN when none */
    float liveness;     /* probability of live, NaN when not computed */
    float box[4];
    const char *sentence;
    const char *snapshot; /* the annotated frame saved, NULL if none */
    const char *message;
} live_event;

typedef void (*live_event_fn)(const live_event *event, void *user);

typedef struct live_options {
    const char *source;
    const char *size;          /* device frame size "WxH", NULL: the device's default */
    float threshold;           /* same person when distance <= this */
    int detect_every;          /* detect on every Nth frame (>= 1) */
    int votes;                 /* consecutive agreeing recognitions before a name is settled */
    int recheck;               /* frames between re-embeddings of a settled track (>= 1) */
    double cooldown;           /* seconds before the same person is greeted again */
    int window;                /* 1: a preview window when a display is available */
    int speech;                /* 1: speak greetings */
    const char *voice;         /* espeak-ng voice, NULL: default */
    const char *speak_to;      /* WAV file for the speech instead of the sound device */
    const char *snapshots_dir; /* annotated frame per greeting, NULL: none */
    int require_live;          /* 1: each recognition also judges liveness (the engine must
                                * be opened with fr_config.liveness); a face not live votes as
                                * a stranger, so a name settles, and is greeted, only after
                                * `votes` consecutive recognitions that were all live; `votes`
                                * consecutive attacks make a SPOOF event */
    const volatile sig_atomic_t *stop; /* the loop ends when this becomes non-zero */
    live_event_fn on_event;
    void *user;
} live_options;

/* Defaults: detect every frame, 5 votes, recheck every 10 frames, 60 s cooldown, window and
 * speech on, threshold 0.6 (callers normally set it from the gallery). */
void live_options_init(live_options *o);

/* Milliseconds spent per stage over the run. */
typedef struct live_stats {
    int64_t frames, corrupt, detections, embeddings, greetings;
    double seconds; /* wall time of the loop */
    double ms_decode, ms_detect, ms_embed, ms_liveness, ms_search, ms_draw, ms_display;
} live_stats;

/* Run until the source ends, the user quits, `stop` is raised or the source vanishes
 * (FR_E_INTERRUPTED, also reported by the END event). `eng` needs an embedder; the gallery
 * must be bound to its model. */
fr_status live_watch(fr_engine *eng, fr_gallery *gallery, const live_options *o,
                     live_stats *stats);

#endif
