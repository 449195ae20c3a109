/* test_liveness_cli: `facerec detect/identify --liveness`, `identify --require-live` and
 * `watch --require-live` on the three photos of silentface-samples (shared data: one live
 * face, two photo attacks; skipped when absent). An attack photo of an enrolled person is
 * named without --require-live and reported as spoof, never greeted, with it. */
#include "common/json_read.h"
#include "facerec.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SAMPLES FR_TEST_DATA_DIR "/silentface-samples"
#define WORK FR_TEST_TMP_DIR "/liveness_cli"
#define CLI "FACEREC_MODELS='" FR_TEST_MODELS_DIR "' '" FR_TEST_CLI "'"

static char out_text[1 << 16], err_text[1 << 16];

static void read_text(const char *path, char *buf, size_t size) {
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Run a shell command; its stdout and stderr land in out_text and err_text. */
static int shell(const char *cmd) {
    static char full[1 << 14];
    mkdir(FR_TEST_TMP_DIR, 0755);
    mkdir(WORK, 0755);
    snprintf(full, sizeof full, "%s >'%s/out.txt' 2>'%s/err.txt'", cmd, WORK, WORK);
    int status = system(full);
    read_text(WORK "/out.txt", out_text, sizeof out_text);
    read_text(WORK "/err.txt", err_text, sizeof err_text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int have_samples(void) {
    return exists(SAMPLES "/image_T1.jpg") &&
           exists(FR_TEST_MODELS_DIR "/faceplugin-face-recognition-js/model/fr_liveness.onnx");
}

/* A gallery with the live photo's person as "Live" and an attack photo's as "Attacked" (as
 * if the attacker held up a photo of an enrolled person). */
static int make_gallery(void) {
    remove(WORK "/g.db");
    remove(WORK "/g.db-wal");
    remove(WORK "/g.db-shm");
    return shell(CLI " enroll --db '" WORK "/g.db' --name Live '" SAMPLES "/image_T1.jpg'") == 0 &&
           shell(CLI " enroll --db '" WORK "/g.db' --name Attacked '" SAMPLES "/image_F1.jpg'") == 0;
}

TEST(detect_json_liveness) {
    if (!have_samples()) SKIP("%s or the liveness model is absent", SAMPLES);
    CHECK(shell(CLI " detect --json --liveness '" SAMPLES "/image_T1.jpg' '" SAMPLES
                    "/image_F1.jpg' '" SAMPLES "/image_F2.jpg'") == 0);
    const char *line = out_text;
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
    CHECK(shell(CLI " detect --json '" SAMPLES "/image_T1.jpg'") == 0);
    CHECK(strstr(out_text, "\"liveness\"") == NULL && strstr(out_text, "\"live\"") == NULL);
    /* the plain output's column */
    CHECK(shell(CLI " detect --liveness '" SAMPLES "/image_T1.jpg' '" SAMPLES "/image_F2.jpg'") == 0);
    CHECK(strstr(out_text, "live\n") != NULL && strstr(out_text, "attack\n") != NULL);
}

TEST(identify_require_live) {
    if (!have_samples()) SKIP("%s or the liveness model is absent", SAMPLES);
    CHECK(make_gallery());
    /* without liveness the attack photo is named */
    CHECK(shell(CLI " identify --db '" WORK "/g.db' '" SAMPLES "/image_F1.jpg'") == 0);
    CHECK(strstr(out_text, "image_F1.jpg,Attacked,") != NULL);
    /* --liveness: a column, the name kept */
    CHECK(shell(CLI " identify --liveness --db '" WORK "/g.db' '" SAMPLES "/image_F1.jpg'") == 0);
    CHECK(strstr(out_text, "image_F1.jpg,Attacked,") != NULL && strstr(out_text, ",attack\n"));
    /* --require-live: the attack is spoof, the live face named */
    CHECK(shell(CLI " identify --require-live --db '" WORK "/g.db' '" SAMPLES "/image_F1.jpg' '"
                    SAMPLES "/image_T1.jpg'") == 0);
    CHECK(strstr(out_text, "image_F1.jpg,spoof,") != NULL);
    CHECK(strstr(out_text, "image_T1.jpg,Live,") != NULL && strstr(out_text, ",live\n"));
    CHECK(strstr(out_text, "Attacked") == NULL);
    /* --json: identity null, spoof true, no candidates for the attack */
    CHECK(shell(CLI " identify --json --require-live --db '" WORK "/g.db' '" SAMPLES
                    "/image_F1.jpg'") == 0);
    json_t *v;
    CHECK_OK(parse_json_text(out_text, strlen(out_text), "identify output", &v));
    const json_t *f = json_array_get(json_object_get(v, "faces"), 0);
    int ok = f && json_is_null(json_object_get(f, "identity")) &&
             json_is_true(json_object_get(f, "spoof")) && !json_is_true(json_object_get(f, "live")) &&
             json_array_size(json_object_get(f, "candidates")) == 0 &&
             json_number_value(json_object_get(f, "liveness")) < FR_LIVENESS_THRESHOLD;
    json_decref(v);
    CHECK(ok);
}

TEST(watch_require_live) {
    if (!have_samples()) SKIP("%s or the liveness model is absent", SAMPLES);
    if (system("ffmpeg -version >/dev/null 2>&1") != 0)
        SKIP("the ffmpeg tool is not installed (scripts/setup.sh)");
    CHECK(make_gallery());
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
    CHECK(shell("ffmpeg -y -loglevel error -loop 1 -framerate 5 -t 4 -i '" WORK "/F1.png' -loop 1 "
                "-framerate 5 -t 6 -i '" WORK "/T1.png' -filter_complex \"[0:v]scale=360:480,"
                "pad=640:480:140:0,setsar=1[a];[1:v]scale=360:480,pad=640:480:140:0,setsar=1[b];"
                "[a][b]concat=n=2:v=1,format=yuv420p[v]\" -map '[v]' -r 5 -c:v mpeg4 -q:v 2 '" WORK
                "/attack-then-live.mp4'") == 0);
    int rc = shell(CLI " watch --source '" WORK "/attack-then-live.mp4' --db '" WORK
                   "/g.db' --no-window --no-speech --require-live --events -");
    if (rc != 0) fprintf(stderr, "%s", err_text);
    CHECK(rc == 0);
    CHECK(strstr(out_text, "\"event\": \"spoof\"") != NULL);
    CHECK(strstr(out_text, "\"event\": \"greet\", \"track\": 1, \"name\": \"Live\"") != NULL);
    CHECK(strstr(out_text, "\"name\": \"Attacked\"") == NULL);
    CHECK(strstr(err_text, "liveness") != NULL); /* the per-stage times */
    if (getenv("FACEREC_TEST_QUICK")) return;
    /* without --require-live, the same video greets the attack photo */
    CHECK(shell(CLI " watch --source '" WORK "/attack-then-live.mp4' --db '" WORK
                "/g.db' --no-window --no-speech --detector mtcnn --events -") == 0);
    CHECK(strstr(out_text, "\"event\": \"greet\", \"track\": 1, \"name\": \"Attacked\"") != NULL);
    CHECK(strstr(out_text, "\"event\": \"spoof\"") == NULL);
}

TEST_MAIN(CASE(detect_json_liveness), CASE(identify_require_live), CASE(watch_require_live))
