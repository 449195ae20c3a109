/* test_liveness_cli: `facerec detect/identify --liveness`, `identify --require-live` and
 * `watch --require-live` on the three photos of silentface-samples (shared data: one live
 * face, two photo attacks; skipped when absent). An attack photo of an enrolled person is
 * named without --require-live and reported as spoof, never greeted, with it. */
#include "common/json_read.h"
#include "facerec.h"
#include "run.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>

#define SAMPLES FR_TEST_DATA_DIR "/silentface-samples"
#define WORK FR_TEST_TMP_DIR "/liveness_cli"


static int have_samples(void) {
    return test_exists(SAMPLES "/image_T1.jpg") &&
           test_exists(FR_TEST_MODELS_DIR "/faceplugin-face-recognition-js/model/fr_liveness.onnx");
}

/* The commands find the models through FACEREC_MODELS, as a user's would; WORK holds what
 * they make. */
static void prepare(void) {
    setenv("FACEREC_MODELS", FR_TEST_MODELS_DIR, 1);
    mkdir(FR_TEST_TMP_DIR, 0755);
    mkdir(WORK, 0755);
}

/* A gallery with the live photo's person as "Live" and an attack photo's as "Attacked" (as
 * if the attacker held up a photo of an enrolled person). */
static int make_gallery(test_run *r) {
    remove(WORK "/g.db");
    remove(WORK "/g.db-wal");
    remove(WORK "/g.db-shm");
    return test_run_cli(r, "enroll", "--db", WORK "/g.db", "--name", "Live",
                        SAMPLES "/image_T1.jpg", NULL) == 0 &&
           test_run_cli(r, "enroll", "--db", WORK "/g.db", "--name", "Attacked",
                        SAMPLES "/image_F1.jpg", NULL) == 0;
}

TEST(detect_json_liveness) {
    if (!have_samples()) SKIP("%s or the liveness model is absent", SAMPLES);
    prepare();
    test_run r = {0};
    CHECK(test_run_cli(&r, "detect", "--json", "--liveness", SAMPLES "/image_T1.jpg",
                       SAMPLES "/image_F1.jpg", SAMPLES "/image_F2.jpg", NULL) == 0);
    const char *line = r.out;
    static const int expected_live[] = {1, 0, 0};
    for (int k = 0; k < 3; k++) {
        const char *eol = strchr(line, '\n');
        CHECK(eol);
        json_t *v;
        CHECK_OK(parse_json_text(line, (size_t)(eol - line), "detect output", &v));
        const json_t *faces = json_object_get(v, "faces");
        int ok = json_array_size(faces) == 1;
        for (size_t i = 0; ok && i < json_array_size(faces); i++) {
            const json_t *f = json_array_get(faces, i);
            double score = json_number_value(json_object_get(f, "liveness"));
            ok = json_is_number(json_object_get(f, "liveness")) && score >= 0 && score <= 1 &&
                 json_is_boolean(json_object_get(f, "live")) &&
                 json_is_true(json_object_get(f, "live")) == (score >= FR_LIVENESS_THRESHOLD) &&
                 json_is_true(json_object_get(f, "live")) == expected_live[k];
        }
        json_decref(v);
        CHECK(ok);
        line = eol + 1;
    }
    /* without --liveness: no such fields */
    CHECK(test_run_cli(&r, "detect", "--json", SAMPLES "/image_T1.jpg", NULL) == 0);
    CHECK(strstr(r.out, "\"liveness\"") == NULL && strstr(r.out, "\"live\"") == NULL);
    /* the plain output's column */
    CHECK(test_run_cli(&r, "detect", "--liveness", SAMPLES "/image_T1.jpg",
                       SAMPLES "/image_F2.jpg", NULL) == 0);
    CHECK(strstr(r.out, "live\n") != NULL && strstr(r.out, "attack\n") != NULL);
    test_run_free(&r);
}

TEST(identify_require_live) {
    if (!have_samples()) SKIP("%s or the liveness model is absent", SAMPLES);
    prepare();
    test_run r = {0};
    CHECK(make_gallery(&r));
    /* without liveness the attack photo is named */
    CHECK(test_run_cli(&r, "identify", "--db", WORK "/g.db", SAMPLES "/image_F1.jpg", NULL) == 0);
    CHECK(strstr(r.out, "image_F1.jpg,Attacked,") != NULL);
    /* --liveness: a column, the name kept */
    CHECK(test_run_cli(&r, "identify", "--liveness", "--db", WORK "/g.db", SAMPLES "/image_F1.jpg",
                       NULL) == 0);
    CHECK(strstr(r.out, "image_F1.jpg,Attacked,") != NULL && strstr(r.out, ",attack\n"));
    /* --require-live: the attack is spoof, the live face named */
    CHECK(test_run_cli(&r, "identify", "--require-live", "--db", WORK "/g.db",
                       SAMPLES "/image_F1.jpg", SAMPLES "/image_T1.jpg", NULL) == 0);
    CHECK(strstr(r.out, "image_F1.jpg,spoof,") != NULL);
    CHECK(strstr(r.out, "image_T1.jpg,Live,") != NULL && strstr(r.out, ",live\n"));
    CHECK(strstr(r.out, "Attacked") == NULL);
    /* --json: identity null, spoof true, no candidates for the attack */
    CHECK(test_run_cli(&r, "identify", "--json", "--require-live", "--db", WORK "/g.db",
                       SAMPLES "/image_F1.jpg", NULL) == 0);
    json_t *v;
    CHECK_OK(parse_json_text(r.out, r.out_len, "identify output", &v));
    const json_t *f = json_array_get(json_object_get(v, "faces"), 0);
    int ok = f && json_is_null(json_object_get(f, "identity")) &&
             json_is_true(json_object_get(f, "spoof")) && !json_is_true(json_object_get(f, "live")) &&
             json_array_size(json_object_get(f, "candidates")) == 0 &&
             json_number_value(json_object_get(f, "liveness")) < FR_LIVENESS_THRESHOLD;
    json_decref(v);
    CHECK(ok);
    test_run_free(&r);
}

TEST(watch_require_live) {
    if (!have_samples()) SKIP("%s or the liveness model is absent", SAMPLES);
    prepare();
    test_run r = {0};
    static const char *const ffmpeg_version[] = {"ffmpeg", "-version", NULL};
    if (test_run_argv(&r, ffmpeg_version, 60) != 0) {
        test_run_free(&r);
        SKIP("the ffmpeg tool is not installed (scripts/setup.sh)");
    }
    CHECK(make_gallery(&r));
    /* the photos upright (fr_image_load applies their EXIF orientation), then a 640x480
     * video at 5 fps: the attack photo for 4 s, the live face for 6 s */
    static const char *const names[] = {"F1", "T1"};
    for (int i = 0; i < 2; i++) {
        char src[1024], dst[1024];
        snprintf(src, sizeof src, SAMPLES "/image_%s.jpg", names[i]);
        snprintf(dst, sizeof dst, WORK "/%s.png", names[i]);
        fr_image *img;
        CHECK_OK(fr_image_load(src, &img));
        fr_status st = fr_image_save(img, dst, 0);
        fr_image_free(img);
        CHECK_OK(st);
    }
    static const char *const make_video[] = {
        "ffmpeg", "-y", "-loglevel", "error", "-loop", "1", "-framerate", "5", "-t", "4", "-i",
        WORK "/F1.png", "-loop", "1", "-framerate", "5", "-t", "6", "-i", WORK "/T1.png",
        "-filter_complex",
        "[0:v]scale=360:480,pad=640:480:140:0,setsar=1[a];[1:v]scale=360:480,"
        "pad=640:480:140:0,setsar=1[b];[a][b]concat=n=2:v=1,format=yuv420p[v]",
        "-map", "[v]", "-r", "5", "-c:v", "mpeg4", "-q:v", "2", WORK "/attack-then-live.mp4", NULL};
    int rc = test_run_argv(&r, make_video, TEST_RUN_TIMEOUT);
    if (rc != 0) fprintf(stderr, "%s", r.err);
    CHECK(rc == 0);
    rc = test_run_cli(&r, "watch", "--source", WORK "/attack-then-live.mp4", "--db", WORK "/g.db",
                      "--no-window", "--no-speech", "--require-live", "--events", "-", NULL);
    if (rc != 0) fprintf(stderr, "%s", r.err);
    CHECK(rc == 0);
    CHECK(strstr(r.out, "\"event\": \"spoof\"") != NULL);
    CHECK(strstr(r.out, "\"event\": \"greet\", \"track\": 1, \"name\": \"Live\"") != NULL);
    CHECK(strstr(r.out, "\"name\": \"Attacked\"") == NULL);
    CHECK(strstr(r.err, "liveness") != NULL); /* the per-stage times */
    if (getenv("FACEREC_TEST_QUICK")) {
        test_run_free(&r);
        return;
    }
    /* without --require-live, the same video greets the attack photo */
    CHECK(test_run_cli(&r, "watch", "--source", WORK "/attack-then-live.mp4", "--db", WORK "/g.db",
                       "--no-window", "--no-speech", "--detector", "mtcnn", "--events", "-",
                       NULL) == 0);
    CHECK(strstr(r.out, "\"event\": \"greet\", \"track\": 1, \"name\": \"Attacked\"") != NULL);
    CHECK(strstr(r.out, "\"event\": \"spoof\"") == NULL);
    test_run_free(&r);
}

TEST_MAIN(CASE(detect_json_liveness), CASE(identify_require_live), CASE(watch_require_live))
