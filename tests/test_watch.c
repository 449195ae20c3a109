/* test_watch.c: live recognition. The greeter (wording, votes, cooldown) and the tracker as
 * pure logic; speech into WAV files; the capture on generated videos (a corrupt frame is
 * skipped); and `facerec watch` end to end on a video made with the ffmpeg tool from LFW
 * photos: a stranger for 4 s, then an enrolled person for 6 s. */
#include "common/common.h"
#include "common/json_read.h"
#include "facerec.h"
#include "live/live.h"
#include "run.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define LFW FR_TEST_DATA_DIR "/lfw-deepfunneled"
#define WORK FR_TEST_TMP_DIR "/watch"

/* the output of the last run */
static test_run last;


static void make_work_dir(void) {
    mkdir(FR_TEST_TMP_DIR, 0755);
    mkdir(WORK, 0755);
}

/* Run a program with its arguments (NULL-terminated); the output lands in `last`. */
#define RUN(...) test_run_argv(&last, (const char *const[]){__VA_ARGS__, NULL}, TEST_RUN_TIMEOUT)

static int have_ffmpeg(void) { return RUN("ffmpeg", "-version") == 0; }

/* ---- greeter ---------------------------------------------------------------------------- */

TEST(greeting_wording) {
    char s[256];
    const char *one[] = {"Anna"}, *two[] = {"Anna", "Bob"}, *three[] = {"Anna", "Bob", "Carl"};
    const char *four[] = {"Anna", "Bob", "Carl", "Dora"};
    live_greeting_sentence(one, 1, s, sizeof s);
    CHECK(!strcmp(s, "Welcome Anna, have a nice day."));
    live_greeting_sentence(two, 2, s, sizeof s);
    CHECK(!strcmp(s, "Welcome Anna and Bob, have a nice day!"));
    live_greeting_sentence(three, 3, s, sizeof s);
    CHECK(!strcmp(s, "Welcome Anna, Bob, and Carl, have a nice day!"));
    live_greeting_sentence(four, 4, s, sizeof s);
    CHECK(!strcmp(s, "Welcome Anna, Bob, Carl, and Dora, have a nice day!"));
    char small[12];
    live_greeting_sentence(three, 3, small, sizeof small);
    CHECK(!strcmp(small, "Welcome Ann"));
}

TEST(greeter_votes) {
    live_greeter *g;
    CHECK_OK(live_greeter_new(5, 60, &g));
    live_vote v;
    int settled;
    /* four votes, a stranger interrupts, then five in a row settle */
    for (int i = 0; i < 4; i++) {
        CHECK_OK(live_greeter_vote(g, 1, "Anna", &v));
        CHECK(v == LIVE_VOTE_PENDING);
    }
    CHECK_OK(live_greeter_vote(g, 1, NULL, &v));
    CHECK(v == LIVE_VOTE_PENDING);
    for (int i = 0; i < 4; i++) {
        CHECK_OK(live_greeter_vote(g, 1, "Anna", &v));
        CHECK(v == LIVE_VOTE_PENDING);
        CHECK(live_greeter_identity(g, 1, &settled) == NULL && !settled);
    }
    CHECK_OK(live_greeter_vote(g, 1, "Anna", &v));
    CHECK(v == LIVE_VOTE_SETTLED);
    CHECK(!strcmp(live_greeter_identity(g, 1, &settled), "Anna") && settled);
    CHECK_OK(live_greeter_vote(g, 1, "Anna", &v));
    CHECK(v == LIVE_VOTE_HOLDS);
    /* another face in the same place: the identity is open again */
    CHECK_OK(live_greeter_vote(g, 1, "Bob", &v));
    CHECK(v == LIVE_VOTE_PENDING);
    CHECK(live_greeter_identity(g, 1, &settled) == NULL && !settled);
    /* a stranger settles as a stranger: never a name */
    for (int i = 0; i < 5; i++) CHECK_OK(live_greeter_vote(g, 2, NULL, &v));
    CHECK(v == LIVE_VOTE_SETTLED);
    CHECK(live_greeter_identity(g, 2, &settled) == NULL && settled);
    /* alternating names never settle */
    for (int i = 0; i < 20; i++) {
        CHECK_OK(live_greeter_vote(g, 3, i % 2 ? "Anna" : "Carl", &v));
        CHECK(v == LIVE_VOTE_PENDING);
    }
    live_greeter_forget(g, 2);
    CHECK(live_greeter_identity(g, 2, &settled) == NULL && !settled);
    live_greeter_free(g);
    CHECK(live_greeter_new(0, 60, &g) == FR_E_ARG);
}

TEST(greeter_cooldown) {
    live_greeter *g;
    CHECK_OK(live_greeter_new(1, 60, &g));
    char s[256];
    int greeted[5];
    const char *anna[] = {"Anna"};
    CHECK_OK(live_greeter_greet(g, anna, 1, 10.0, greeted, s, sizeof s));
    CHECK(greeted[0] && !strcmp(s, "Welcome Anna, have a nice day."));
    CHECK_OK(live_greeter_greet(g, anna, 1, 69.9, greeted, s, sizeof s));
    CHECK(!greeted[0] && s[0] == '\0');
    CHECK_OK(live_greeter_greet(g, anna, 1, 70.0, greeted, s, sizeof s));
    CHECK(greeted[0] && !strcmp(s, "Welcome Anna, have a nice day."));
    /* several at once: Anna is cooling down, Bob twice counts once, a stranger is skipped */
    const char *crowd[] = {"Bob", "Anna", NULL, "Carl", "Bob"};
    CHECK_OK(live_greeter_greet(g, crowd, 5, 80.0, greeted, s, sizeof s));
    CHECK(greeted[0] && !greeted[1] && !greeted[2] && greeted[3] && !greeted[4]);
    CHECK(!strcmp(s, "Welcome Bob and Carl, have a nice day!"));
    const char *three[] = {"Anna", "Bob", "Carl"};
    CHECK_OK(live_greeter_greet(g, three, 3, 200.0, greeted, s, sizeof s));
    CHECK(!strcmp(s, "Welcome Anna, Bob, and Carl, have a nice day!"));
    /* a stream whose clock starts again: the cooldown does not hold for minutes */
    CHECK_OK(live_greeter_greet(g, anna, 1, 1.0, greeted, s, sizeof s));
    CHECK(greeted[0]);
    live_greeter_free(g);
}

/* ---- tracker ---------------------------------------------------------------------------- */

TEST(tracker_follows_faces) {
    const float a[4] = {0, 0, 10, 10}, b[4] = {5, 0, 10, 10};
    CHECK_NEAR(live_iou(a, a), 1.0, 1e-6);
    CHECK_NEAR(live_iou(a, b), 50.0 / 150.0, 1e-6);
    const float far[4] = {100, 100, 10, 10};
    CHECK_NEAR(live_iou(a, far), 0.0, 1e-6);

    live_tracker t;
    live_tracker_init(&t, 0.3f, 2);
    const float first[2][4] = {{10, 10, 100, 100}, {300, 10, 100, 100}};
    CHECK_OK(live_tracker_update(&t, first, 2, 1));
    CHECK(t.n == 2 && t.tracks[0].born == 1 && t.tracks[1].born == 1);
    int left = t.tracks[0].id, right = t.tracks[1].id;
    CHECK(left != right);
    /* moved a little and listed in the other order */
    const float second[2][4] = {{310, 15, 100, 100}, {20, 12, 100, 100}};
    CHECK_OK(live_tracker_update(&t, second, 2, 2));
    CHECK(t.n == 2);
    for (int i = 0; i < 2; i++) {
        const live_track *tr = &t.tracks[i];
        CHECK(tr->born == 1 && !tr->lost);
        CHECK(tr->detection == (tr->id == left ? 1 : 0));
        CHECK_NEAR(tr->box[0], tr->id == left ? 20 : 310, 1e-6);
    }
    /* the right face leaves; a new face comes in elsewhere */
    const float third[2][4] = {{22, 12, 100, 100}, {150, 300, 80, 80}};
    for (int frame = 3; frame <= 5; frame++) {
        CHECK_OK(live_tracker_update(&t, third, frame == 3 ? 2 : 1, frame));
        for (int i = 0; i < t.n; i++) {
            const live_track *tr = &t.tracks[i];
            if (tr->id == right) CHECK(tr->detection == -1 && tr->lost == (frame == 5));
            if (tr->id == left) CHECK(tr->detection == 0 && !tr->lost);
        }
    }
    CHECK(t.n == 3);
    int newcomer = 0;
    for (int i = 0; i < t.n; i++)
        if (t.tracks[i].id != left && t.tracks[i].id != right) newcomer = t.tracks[i].born == 3;
    CHECK(newcomer);
    /* lost tracks are dropped by the next round */
    CHECK_OK(live_tracker_update(&t, NULL, 0, 6));
    for (int i = 0; i < t.n; i++) CHECK(t.tracks[i].id != right);
    CHECK(t.n == 2);
    live_tracker_free(&t);
}

/* ---- speech ----------------------------------------------------------------------------- */

typedef struct wav_summary {
    int rate;
    double seconds;
    double rms;           /* of the whole file, in 16-bit units */
    double voiced_share;  /* share of 20 ms windows louder than a whisper */
} wav_summary;

static uint32_t le(const uint8_t *p, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Read a 16-bit mono PCM WAV file as live_speech writes it; 0 if it is not one. */
static int read_wav(const char *path, wav_summary *w) {
    uint8_t *data;
    size_t size;
    if (fr_read_file(path, 64u << 20, &data, &size) != FR_OK) return 0;
    int ok = size >= 44 && !memcmp(data, "RIFF", 4) && !memcmp(data + 8, "WAVEfmt ", 8) &&
             le(data + 20, 2) == 1 && le(data + 22, 2) == 1 && le(data + 34, 2) == 16 &&
             !memcmp(data + 36, "data", 4) && le(data + 40, 4) == size - 44 &&
             le(data + 4, 4) == size - 8;
    if (ok) {
        w->rate = (int)le(data + 24, 4);
        size_t n = (size - 44) / 2, window = (size_t)w->rate / 50, windows = 0, voiced = 0;
        double total = 0, win_sum = 0;
        for (size_t i = 0; i < n; i++) {
            double s = (int16_t)le(data + 44 + 2 * i, 2);
            total += s * s;
            win_sum += s * s;
            if ((i + 1) % window == 0) {
                windows++;
                voiced += sqrt(win_sum / (double)window) > 300;
                win_sum = 0;
            }
        }
        w->seconds = (double)n / w->rate;
        w->rms = n ? sqrt(total / (double)n) : 0;
        w->voiced_share = windows ? (double)voiced / (double)windows : 0;
    }
    free(data);
    return ok;
}

/* Speak sentences into a WAV file and summarise it. */
static int speak_to_wav(const char *path, const char *const *sentences, int n, wav_summary *w) {
    live_speech *s;
    if (live_speech_open(NULL, path, &s) != FR_OK) return 0;
    int ok = 1;
    for (int i = 0; i < n; i++) ok &= live_speech_say(s, sentences[i]) == FR_OK;
    ok &= live_speech_close(s) == FR_OK;
    return ok && read_wav(path, w);
}

TEST(speech_to_wav) {
    make_work_dir();
    wav_summary one, three, both;
    const char *short_text[] = {"Welcome Anna, have a nice day."};
    const char *long_text[] = {"Welcome Anna, Bob, and Carl, have a nice day!"};
    const char *two[] = {short_text[0], long_text[0]};
    CHECK(speak_to_wav(WORK "/one.wav", short_text, 1, &one));
    CHECK(speak_to_wav(WORK "/three.wav", long_text, 1, &three));
    CHECK(speak_to_wav(WORK "/both.wav", two, 2, &both));
    CHECK(one.rate >= 8000 && one.rate <= 48000);
    /* about 6 words: one to four seconds of mostly voiced sound */
    CHECK(one.seconds > 1.0 && one.seconds < 4.0);
    CHECK(one.rms > 500 && one.voiced_share > 0.5);
    /* more names take longer; two sentences are both spoken */
    CHECK(three.seconds > one.seconds + 0.4);
    CHECK_NEAR(both.seconds, one.seconds + three.seconds, 0.3);

    live_speech *s;
    CHECK(live_speech_open("no-such-voice", WORK "/none.wav", &s) == FR_E_NOT_FOUND);
    CHECK(strstr(fr_last_error(), "no-such-voice") != NULL);
    CHECK(live_speech_open(NULL, WORK "/no/such/dir/x.wav", &s) == FR_E_IO);
    CHECK(strstr(fr_last_error(), "no/such/dir/x.wav") != NULL);
}

/* ---- capture ---------------------------------------------------------------------------- */

TEST(capture_refuses_what_it_cannot_read) {
    make_work_dir();
    live_capture *cap;
    CHECK(live_capture_open(WORK "/missing.mp4", NULL, NULL, &cap) == FR_E_IO);
    CHECK(strstr(fr_last_error(), "missing.mp4") != NULL);
    FILE *f = fopen(WORK "/not-a-video.mp4", "w");
    CHECK(f != NULL);
    fputs("this is text, not video\n", f);
    fclose(f);
    fr_status st = live_capture_open(WORK "/not-a-video.mp4", NULL, NULL, &cap);
    CHECK(st != FR_OK && strstr(fr_last_error(), "not-a-video.mp4") != NULL);
    CHECK(live_capture_open("/dev/video-missing", NULL, NULL, &cap) == FR_E_IO);
    CHECK(strstr(fr_last_error(), "camera /dev/video-missing") != NULL);
}

/* Overwrite the headers of the k-th JPEG frame (from 0) in an MJPEG file (its markers up to
 * the scan: the decoder finds no image in what is left). */
static int break_jpeg_frame(const char *path, int k) {
    uint8_t *data;
    size_t size;
    if (fr_read_file(path, 64u << 20, &data, &size) != FR_OK) return 0;
    int seen = 0, done = 0;
    for (size_t i = 0; i + 3 < size && !done; i++) {
        if (data[i] == 0xFF && data[i + 1] == 0xD8 && data[i + 2] == 0xFF && seen++ == k &&
            i + 600 < size) {
            memset(data + i, 0x55, 600);
            done = 1;
        }
    }
    FILE *f = done ? fopen(path, "wb") : NULL;
    int ok = f && fwrite(data, 1, size, f) == size;
    if (f) ok &= fclose(f) == 0;
    free(data);
    return ok;
}

TEST(capture_skips_a_corrupt_frame) {
    if (!have_ffmpeg()) SKIP("the ffmpeg tool is not installed (scripts/setup.sh)");
    make_work_dir();
    const char *video = WORK "/corrupt.avi";
    CHECK(RUN("ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
              "testsrc=size=160x120:rate=10", "-frames:v", "12", "-c:v", "mjpeg", "-q:v", "5",
              video) == 0);
    CHECK(break_jpeg_frame(video, 5));
    live_capture *cap;
    CHECK_OK(live_capture_open(video, NULL, NULL, &cap));
    live_capture_info info;
    live_capture_get_info(cap, &info);
    CHECK(info.width == 160 && info.height == 120 && !info.live);
    CHECK_NEAR(info.fps, 10, 1e-6);
    int frames = 0, corrupt = 0, ok = 1;
    double last_t = -1;
    for (int guard = 0; guard < 100; guard++) {
        fr_image *frame;
        double t;
        fr_status st = live_capture_read(cap, &frame, &t);
        if (st == FR_E_FORMAT) {
            corrupt++;
            ok &= strstr(fr_last_error(), "corrupt.avi") != NULL;
            continue;
        }
        if (st != FR_OK || !frame) break;
        ok &= frame->width == 160 && frame->height == 120 && t > last_t;
        last_t = t;
        frames++;
    }
    live_capture_close(cap);
    CHECK(ok);
    CHECK(corrupt == 1);
    CHECK(frames == 11);
    CHECK_NEAR(last_t, 1.1, 1e-6);
}

/* ---- facerec watch end to end ----------------------------------------------------------- */

/* A 640x480 video: photo a for sec_a seconds, then photo b for sec_b, each scaled to 480x480
 * and centred on black (LFW photos are 250x250). */
static int make_video(const char *a, int sec_a, const char *b, int sec_b, int fps,
                      const char *out) {
    char rate[16], len_a[16], len_b[16];
    snprintf(rate, sizeof rate, "%d", fps);
    snprintf(len_a, sizeof len_a, "%d", sec_a);
    snprintf(len_b, sizeof len_b, "%d", sec_b);
    return RUN("ffmpeg", "-y", "-loglevel", "error", "-loop", "1", "-framerate", rate, "-t", len_a,
               "-i", a, "-loop", "1", "-framerate", rate, "-t", len_b, "-i", b, "-filter_complex",
               "[0:v]scale=480:480,pad=640:480:80:0,setsar=1[a];"
               "[1:v]scale=480:480,pad=640:480:80:0,setsar=1[b];[a][b]concat=n=2:v=1,"
               "format=yuv420p[v]",
               "-map", "[v]", "-r", rate, "-c:v", "mpeg4", "-q:v", "4", out) == 0;
}

typedef struct event_counts {
    int greet, identify_named, identify_stranger, end;
    char greet_name[64], sentence[256], snapshot[512];
    double greet_t, greet_distance;
    double frames, corrupt;
} event_counts;

static int read_events(const char *path, event_counts *c) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    int ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        json_t *v;
        if (parse_json_text(line, strlen(line), path, &v) != FR_OK) {
            ok = 0;
            break;
        }
        const char *kind = json_string_value(json_object_get(v, "event"));
        ok = kind && json_is_number(json_object_get(v, "t")) &&
             json_is_number(json_object_get(v, "frame"));
        if (ok && !strcmp(kind, "greet")) {
            c->greet++;
            snprintf(c->greet_name, sizeof c->greet_name, "%s", json_string_value(json_object_get(v, "name")));
            snprintf(c->sentence, sizeof c->sentence, "%s", json_string_value(json_object_get(v, "sentence")));
            const char *snap = json_string_value(json_object_get(v, "snapshot"));
            snprintf(c->snapshot, sizeof c->snapshot, "%s", snap ? snap : "");
            c->greet_t = json_number_value(json_object_get(v, "t"));
            c->greet_distance = json_number_value(json_object_get(v, "distance"));
            ok = json_array_size(json_object_get(v, "box")) == 4;
        } else if (ok && !strcmp(kind, "identify")) {
            if (json_is_string(json_object_get(v, "name"))) c->identify_named++;
            else c->identify_stranger++;
        } else if (ok && !strcmp(kind, "end")) {
            c->end++;
            c->frames = json_number_value(json_object_get(v, "frames"));
            c->corrupt = json_number_value(json_object_get(v, "corrupt"));
            ok = json_number_value(json_object_get(v, "fps")) > 0;
        }
        json_decref(v);
    }
    fclose(f);
    return ok;
}

TEST(watch_greets_the_enrolled_person_once) {
    if (!have_ffmpeg()) SKIP("the ffmpeg tool is not installed (scripts/setup.sh)");
    if (!test_exists(LFW)) SKIP("shared data set %s is absent", LFW);
    make_work_dir();
    const char *db = WORK "/watch.db";
    remove(db);
    remove(WORK "/watch.db-wal");
    remove(WORK "/watch.db-shm");
    /* enroll one photo of Colin Powell; the video shows another photo of him, after a stranger */
    CHECK(RUN(FR_TEST_CLI, "enroll", "--db", db, "--name", "Colin Powell",
              LFW "/Colin_Powell/Colin_Powell_0001.jpg") == 0);
    const char *video = WORK "/stranger-then-powell.mp4";
    /* 5 frames per second keeps the run short under sanitizers */
    CHECK(make_video(LFW "/George_W_Bush/George_W_Bush_0001.jpg", 4,
                     LFW "/Colin_Powell/Colin_Powell_0002.jpg", 6, 5, video));
    mkdir(WORK "/snapshots", 0755);
    remove(WORK "/greeting.wav");
    int rc = RUN(FR_TEST_CLI, "watch", "--source", video, "--db", db, "--no-window", "--events",
                 WORK "/events.jsonl", "--speak-to", WORK "/greeting.wav", "--snapshots",
                 WORK "/snapshots");
    if (rc != 0) fprintf(stderr, "%s", last.err);
    CHECK(rc == 0);
    event_counts c;
    CHECK(read_events(WORK "/events.jsonl", &c));
    CHECK(c.end == 1 && c.frames == 50 && c.corrupt == 0);
    CHECK(c.greet == 1);
    CHECK(!strcmp(c.greet_name, "Colin Powell"));
    CHECK(!strcmp(c.sentence, "Welcome Colin Powell, have a nice day."));
    /* the stranger's track is re-checked within 10 frames of the cut, then 5 votes */
    CHECK(c.greet_t >= 4.0 && c.greet_t <= 7.0);
    CHECK(c.greet_distance > 0 && c.greet_distance < 0.6);
    CHECK(c.identify_named == 1 && c.identify_stranger == 1);
    fr_image *snap;
    CHECK_OK(fr_image_load(c.snapshot, &snap));
    CHECK(snap->width == 640 && snap->height == 480);
    fr_image_free(snap);
    CHECK(strstr(last.err, "greeted Colin Powell") != NULL);
    CHECK(strstr(last.err, "fps") != NULL);
    wav_summary w;
    CHECK(read_wav(WORK "/greeting.wav", &w));
    CHECK(w.seconds > 1.0 && w.seconds < 5.0 && w.rms > 500 && w.voiced_share > 0.5);

    /* again, detecting on every 5th frame, with a cooldown shorter than his stay: still one
     * greeting, as he stays in view */
    CHECK(RUN(FR_TEST_CLI, "watch", "--source", video, "--db", db, "--no-window", "--no-speech",
              "--cooldown", "1", "--detect-every", "5", "--events", "-") == 0);
    int greets = 0;
    for (const char *p = last.out; (p = strstr(p, "\"event\": \"greet\"")); p++) greets++;
    CHECK(greets == 1);
    CHECK(strstr(last.out, "\"event\": \"end\"") != NULL);

    /* a live stream whose server goes away: a clear message, exit 4 (the input went away),
     * the frames counted */
    CHECK(RUN("ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
              "color=c=gray:size=160x120:rate=10", "-frames:v", "8", "-c:v", "mpeg4", "-f", "mpegts",
              WORK "/live.ts") == 0);
    char listen[64], source[64];
    int port = 20000 + (int)(getpid() % 20000), tries = 0;
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d?listen=1", port);
    snprintf(source, sizeof source, "tcp://127.0.0.1:%d", port);
    do { /* the server may need a moment before it listens */
        int server = test_run_background((const char *const[]){
            "ffmpeg", "-loglevel", "error", "-re", "-i", WORK "/live.ts", "-c", "copy", "-f", "mpegts",
            listen, NULL});
        sleep((unsigned)(1 + tries));
        rc = RUN(FR_TEST_CLI, "watch", "--source", source, "--db", db, "--no-window", "--no-speech",
                 "--events", WORK "/lost.jsonl");
        test_run_background_end(server);
    } while (rc != 4 && strstr(last.err, "refused") && ++tries < 3);
    CHECK(rc == 4);
    CHECK(strstr(last.err, "the stream was lost") != NULL);
    CHECK(read_events(WORK "/lost.jsonl", &c));
    CHECK(c.end == 1 && c.frames == 8 && c.greet == 0);

    /* failures are clear */
    CHECK(RUN(FR_TEST_CLI, "watch", "--source", "/dev/video-missing", "--db", db, "--no-window",
              "--no-speech") == 4);
    CHECK(strstr(last.err, "/dev/video-missing") != NULL);
    CHECK(RUN(FR_TEST_CLI, "watch", "--source", "x.mp4", "--votes", "0") == 2);
    CHECK(RUN(FR_TEST_CLI, "watch", "--source", "x.mp4", "--snapshots", WORK "/none") == 2);
    /* a voice espeak-ng does not have: a bad request */
    CHECK(RUN(FR_TEST_CLI, "watch", "--source", video, "--db", db, "--no-window", "--voice",
              "no-such-voice", "--speak-to", WORK "/x.wav") == 2);
    CHECK(strstr(last.err, "no-such-voice") != NULL);
    test_run_free(&last);
}

TEST_MAIN(CASE(greeting_wording), CASE(greeter_votes), CASE(greeter_cooldown),
          CASE(tracker_follows_faces), CASE(speech_to_wav),
          CASE(capture_refuses_what_it_cannot_read), CASE(capture_skips_a_corrupt_frame),
          CASE(watch_greets_the_enrolled_person_once))
