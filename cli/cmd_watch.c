/* cmd_watch.c: facerec watch [--source SRC] [options]: live recognition from a camera, a
 * video file or a stream, greeting the people it knows. */
#include "cli.h"
#include "live/live.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec watch [options]\n"
    "Watch a camera, a video file or a stream; follow the faces, name the enrolled people\n"
    "and greet each (\"Welcome Anna, have a nice day.\") when recognised in view, at most\n"
    "once per cooldown. Strangers are never named. A window shows the boxes and names\n"
    "(ESC or q quits). Ends with frames per second and milliseconds per stage on stderr.\n\n"
    "  --source SRC        /dev/videoN (default /dev/video0), a video file or a URL (rtsp://...)\n"
    "  --size WxH          frame size to ask a camera for (default: the camera's)\n"
    "  --db DB             gallery: a file or a postgresql:// URI (default: $FACEREC_DB,\n"
    "                      else facerec.db)\n"
    "  --threshold T       distance threshold (default: from the calibration and --fpir)\n"
    "  --fpir R            target share of strangers named as someone (default 0.01)\n"
    "  --detect-every N    detect faces on every Nth frame (default 1)\n"
    "  --votes N           consecutive agreeing recognitions before naming (default 5)\n"
    "  --recheck N         frames between re-checks of a recognised face (default 10)\n"
    "  --cooldown S        seconds before greeting the same person again (default 60)\n"
    "  --voice NAME        espeak-ng voice (default en)\n"
    "  --no-speech         do not speak\n"
    "  --speak-to FILE     write the speech to a WAV file instead of the sound device\n"
    "  --snapshots DIR     save the annotated frame of each greeting in DIR\n"
    "  --no-window         no preview window (also when there is no display)\n"
    "  --events FILE       JSON lines of events (greet, track, identify, lost, corrupt, ...)\n"
    "                      to FILE, or - for stdout\n"
    "  --require-live      never greet a face that is not live (a photo or a screen held up\n"
    "                      to the camera): liveness is judged on each recognition, a name\n"
    "                      settles only on --votes consecutive live ones, and as many\n"
    "                      consecutive attacks make a spoof event. The detector is then\n"
    "                      mtcnn unless --detector names another (the liveness threshold\n"
    "                      was set on MTCNN's boxes; other detectors' boxes crop otherwise)\n"
    "(the default detector here is blazeface-full, the fastest that sees a whole room)\n"
    CLI_ENGINE_HELP_FOR("blazeface-full");

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char *event_names[] = {
    [LIVE_EVENT_START] = "start",       [LIVE_EVENT_TRACK] = "track",
    [LIVE_EVENT_IDENTIFY] = "identify", [LIVE_EVENT_GREET] = "greet",
    [LIVE_EVENT_LOST] = "lost",         [LIVE_EVENT_CORRUPT] = "corrupt",
    [LIVE_EVENT_SPOOF] = "spoof",
    [LIVE_EVENT_WARNING] = "warning",   [LIVE_EVENT_END] = "end",
};

typedef struct watch_output {
    FILE *events;            /* NULL: no event log */
    char end_reason[1024];   /* the END event, written with the statistics at the end */
    double end_t;
    long long end_frame;
} watch_output;

static void write_event(FILE *f, const live_event *e) {
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "t", cli_json_num(e->t));
        json_object_set_new(o, "frame", json_integer((json_int_t)e->frame));
        json_object_set_new(o, "event", cli_json_text(event_names[e->kind]));
        if (e->track) json_object_set_new(o, "track", json_integer(e->track));
        if (e->kind == LIVE_EVENT_IDENTIFY || e->kind == LIVE_EVENT_GREET) {
            json_object_set_new(o, "name", e->name ? cli_json_text(e->name) : json_null());
            json_object_set_new(o, "distance", cli_json_num(e->distance)); /* NaN: null */
        }
        if (!isnan(e->liveness)) json_object_set_new(o, "liveness", cli_json_num(e->liveness));
        if (e->track || e->kind == LIVE_EVENT_START)
            json_object_set_new(o, "box", json_pack("[ffff]", (double)e->box[0],
                                                    (double)e->box[1], (double)e->box[2],
                                                    (double)e->box[3]));
        if (e->sentence) json_object_set_new(o, "sentence", cli_json_text(e->sentence));
        if (e->snapshot) json_object_set_new(o, "snapshot", cli_json_text(e->snapshot));
        if (e->message)
            json_object_set_new(o, e->kind == LIVE_EVENT_START ? "source" : "message",
                                cli_json_text(e->message));
    }
    cli_json_print(f, o);
    fflush(f);
}

static void on_event(const live_event *e, void *user) {
    watch_output *out = user;
    if (e->kind == LIVE_EVENT_END) { /* written last, with the statistics */
        snprintf(out->end_reason, sizeof out->end_reason, "%s", e->message ? e->message : "");
        out->end_t = e->t;
        out->end_frame = (long long)e->frame;
        return;
    }
    if (e->kind == LIVE_EVENT_WARNING) fprintf(stderr, "facerec watch: warning: %s\n", e->message);
    if (e->kind == LIVE_EVENT_CORRUPT) fprintf(stderr, "facerec watch: skipped: %s\n", e->message);
    if (e->kind == LIVE_EVENT_SPOOF)
        fprintf(stderr, "facerec watch: %.2f s: track %d is not live (liveness %.3f): spoof\n",
                e->t, e->track, e->liveness);
    if (e->kind == LIVE_EVENT_GREET)
        fprintf(stderr, "facerec watch: %.2f s: greeted %s (distance %.3f): %s\n", e->t, e->name,
                e->distance, e->sentence);
    if (out->events) write_event(out->events, e);
}

static double per_frame(double ms, int64_t frames) { return frames ? ms / (double)frames : 0; }

static void write_end(watch_output *out, const live_stats *s) {
    double fps = s->seconds > 0 ? (double)s->frames / s->seconds : 0;
    fprintf(stderr,
            "facerec watch: %lld frames in %.2f s (%.1f fps), %lld greetings, %lld corrupt "
            "frames skipped; ms per frame: decode %.2f, detect %.2f, embed %.2f, liveness %.2f, "
            "search %.2f, draw %.2f, display %.2f\n",
            (long long)s->frames, s->seconds, fps, (long long)s->greetings, (long long)s->corrupt,
            per_frame(s->ms_decode, s->frames), per_frame(s->ms_detect, s->frames),
            per_frame(s->ms_embed, s->frames), per_frame(s->ms_liveness, s->frames),
            per_frame(s->ms_search, s->frames),
            per_frame(s->ms_draw, s->frames), per_frame(s->ms_display, s->frames));
    if (!out->events) return;
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "t", cli_json_num(out->end_t));
        json_object_set_new(o, "frame", json_integer(out->end_frame));
        json_object_set_new(o, "event", cli_json_text("end"));
        json_object_set_new(o, "reason", cli_json_text(out->end_reason));
        json_object_set_new(o, "frames", json_integer(s->frames));
        json_object_set_new(o, "corrupt", json_integer(s->corrupt));
        json_object_set_new(o, "detections", json_integer(s->detections));
        json_object_set_new(o, "embeddings", json_integer(s->embeddings));
        json_object_set_new(o, "greetings", json_integer(s->greetings));
        json_object_set_new(o, "seconds", cli_json_num(s->seconds));
        json_object_set_new(o, "fps", cli_json_num(fps));
        json_t *ms = json_object();
        if (ms) {
            json_object_set_new(ms, "decode", cli_json_num(per_frame(s->ms_decode, s->frames)));
            json_object_set_new(ms, "detect", cli_json_num(per_frame(s->ms_detect, s->frames)));
            json_object_set_new(ms, "embed", cli_json_num(per_frame(s->ms_embed, s->frames)));
            json_object_set_new(ms, "liveness",
                                cli_json_num(per_frame(s->ms_liveness, s->frames)));
            json_object_set_new(ms, "search", cli_json_num(per_frame(s->ms_search, s->frames)));
            json_object_set_new(ms, "draw", cli_json_num(per_frame(s->ms_draw, s->frames)));
            json_object_set_new(ms, "display", cli_json_num(per_frame(s->ms_display, s->frames)));
        }
        json_object_set_new(o, "ms_per_frame", ms);
    }
    cli_json_print(out->events, o);
    fflush(out->events);
}

/* The gallery's threshold unless --threshold gave one; 0 on success, else an exit status. */
static int choose_threshold(fr_gallery *g, double fpir, float *threshold) {
    fr_gallery_info info;
    fr_status st = fr_gallery_get_info(g, &info);
    if (st != FR_OK) return cli_fail(st);
    if (info.n_people == 0) {
        fprintf(stderr, "facerec watch: %s: nobody is enrolled yet (facerec enroll)\n",
                fr_gallery_path(g));
        return CLI_NO_FACE;
    }
    if (*threshold >= 0) return 0;
    fr_threshold th;
    st = fr_gallery_identify_threshold(g, fpir, &th);
    if (st != FR_OK) return cli_fail(st);
    *threshold = th.distance;
    return 0;
}

static int run_watch(fr_config *cfg, const char *default_model, const char *db_path,
                     double fpir, live_options *o, watch_output *out) {
    fr_gallery *g;
    fr_status st = fr_gallery_open(db_path, 0, &g);
    if (st != FR_OK) return cli_fail(st);
    int status = choose_threshold(g, fpir, &o->threshold);
    fr_engine *eng = NULL;
    if (!status) status = cli_open_engine_for_gallery(cfg, default_model, g, &eng);
    if (status) {
        fr_gallery_close(g);
        return status;
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    o->stop = &stop_requested;
    o->on_event = on_event;
    o->user = out;
    live_stats stats;
    st = live_watch(eng, g, o, &stats);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (stats.frames > 0 || out->end_reason[0]) write_end(out, &stats);
    if (st != FR_OK) status = cli_fail(st);
    fr_engine_close(eng);
    fr_gallery_close(g);
    return status;
}

int cmd_watch(int argc, char **argv) {
    enum { SIZE = 0x200, DETECT_EVERY, VOTES, RECHECK, COOLDOWN, VOICE, NO_SPEECH, SPEAK_TO,
           SNAPSHOTS, NO_WINDOW, EVENTS, REQUIRE_LIVE };
    static const struct option options[] = {
        {"source", required_argument, 0, 's'}, {"db", required_argument, 0, 'd'},
        {"threshold", required_argument, 0, 't'}, {"fpir", required_argument, 0, 'f'},
        {"size", required_argument, 0, SIZE}, {"detect-every", required_argument, 0, DETECT_EVERY},
        {"votes", required_argument, 0, VOTES}, {"recheck", required_argument, 0, RECHECK},
        {"cooldown", required_argument, 0, COOLDOWN}, {"voice", required_argument, 0, VOICE},
        {"no-speech", no_argument, 0, NO_SPEECH}, {"speak-to", required_argument, 0, SPEAK_TO},
        {"snapshots", required_argument, 0, SNAPSHOTS}, {"no-window", no_argument, 0, NO_WINDOW},
        {"events", required_argument, 0, EVENTS}, {"require-live", no_argument, 0, REQUIRE_LIVE},
        {"help", no_argument, 0, 'h'},
        CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    /* BlazeFace full range: ~5 ms a 640x480 frame against tiny's ~20, and it finds faces
     * across a room, where the short-range model only sees faces near the camera */
    static const char *const fast_detector = "blazeface-full";
    cfg.detector = fast_detector;
    const char *default_model = cfg.model, *db_path = NULL, *events_path = NULL;
    live_options o;
    live_options_init(&o);
    o.source = "/dev/video0";
    o.threshold = -1;
    double fpir = 0.01, v;
    int opt, w, h;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': o.source = optarg; break;
        case 'd': db_path = optarg; break;
        case 't':
            if (cli_real_option("watch", "--threshold", optarg, 0, 0, 4, &v)) return CLI_USAGE;
            o.threshold = (float)v;
            break;
        case 'f':
            if (cli_real_option("watch", "--fpir", optarg, 0, 1, 1, &fpir)) return CLI_USAGE;
            break;
        case SIZE:
            if (cli_pair_option("watch", "--size", optarg, 1, 16384, &w, &h)) return CLI_USAGE;
            o.size = optarg;
            break;
        case DETECT_EVERY:
            if (cli_int_option("watch", "--detect-every", optarg, 1, 1000000, &o.detect_every)) return CLI_USAGE;
            break;
        case VOTES:
            if (cli_int_option("watch", "--votes", optarg, 1, 1000000, &o.votes)) return CLI_USAGE;
            break;
        case RECHECK:
            if (cli_int_option("watch", "--recheck", optarg, 1, 1000000, &o.recheck)) return CLI_USAGE;
            break;
        case COOLDOWN:
            if (cli_real_option("watch", "--cooldown", optarg, 0, 0, 1e9, &o.cooldown)) return CLI_USAGE;
            break;
        case VOICE: o.voice = optarg; break;
        case NO_SPEECH: o.speech = 0; break;
        case SPEAK_TO: o.speak_to = optarg; break;
        case SNAPSHOTS: o.snapshots_dir = optarg; break;
        case NO_WINDOW: o.window = 0; break;
        case EVENTS: events_path = optarg; break;
        case REQUIRE_LIVE: o.require_live = cfg.liveness = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("watch", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (optind < argc) return cli_usage_error("watch", "unexpected argument '%s'", argv[optind]);
    if (o.require_live && cfg.detector == fast_detector) cfg.detector = "mtcnn";
    else if (o.require_live && strcmp(cfg.detector, "mtcnn"))
        fprintf(stderr, "facerec watch: warning: liveness was calibrated on mtcnn's boxes; with "
                "%s's, live faces may score lower\n", cfg.detector);
    if (!o.speech && o.speak_to)
        return cli_usage_error("watch", "--no-speech and --speak-to contradict each other");
    if (o.snapshots_dir && !cli_is_dir(o.snapshots_dir))
        return cli_usage_error("watch", "--snapshots: %s is not a folder", o.snapshots_dir);

    watch_output out;
    memset(&out, 0, sizeof out);
    if (events_path) {
        out.events = strcmp(events_path, "-") ? fopen(events_path, "w") : stdout;
        if (!out.events) {
            perror(events_path);
            return CLI_E_INPUT;
        }
    }
    int status = run_watch(&cfg, default_model, db_path, fpir, &o, &out);
    if (out.events && out.events != stdout && fclose(out.events) != 0) {
        perror(events_path);
        status = CLI_E_INPUT;
    }
    return status;
}
