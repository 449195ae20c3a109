/* test_ssd_tiny.c: the SSD-MobileNetV1 and tiny face detectors against face-api.js itself
 * (tests/data/faceapi/sample*.json, made by running face-api.js on the demo images), plus
 * an image without faces, tiny and very thin images, bad arguments, and concurrent calls on
 * one loaded net. */
#include "test.h"

#include "common/common.h"
#include "common/json_read.h"
#include "facerec.h"
#include "nets/faceapi_nets.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SSD_MANIFEST "face-api/model/ssd_mobilenetv1_model-weights_manifest.json"
#define TINY_MANIFEST "face-api/model/tiny_face_detector_model-weights_manifest.json"
#define MAX_FIXTURES 6
#define BOX_TOLERANCE_PX 1.0
#define SCORE_TOLERANCE 1e-3

static int file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* The full path of a file under the models folder, or 0 when it is not installed. */
static int model_path(const char *relpath, char *out, size_t outsz) {
    return fr_model_path(FR_TEST_MODELS_DIR, relpath, out, outsz) == FR_OK;
}

typedef enum detector_kind { SSD, TINY } detector_kind;

typedef struct detectors {
    ssd_mobilenet *ssd;
    tiny_face_detector *tiny;
} detectors;

static fr_status run_detector(const detectors *d, detector_kind kind, const fr_image *img,
                              const json_t *params, fr_face **faces, int *n) {
    float min_score = (float)json_number_value(json_object_get(params, "min_score"));
    if (kind == SSD)
        return ssd_mobilenet_detect(
            d->ssd, TEST_THREADS, img, min_score, 0.5f,
            (int)json_number_value(json_object_get(params, "max_results")), faces, n);
    return tiny_face_detector_detect(
        d->tiny, TEST_THREADS, img, (int)json_number_value(json_object_get(params, "input_size")),
        min_score, 0.4f, faces, n);
}

/* Every expected face has a found face with each box value within 1 px and the score within
 * 1e-3, and there are as many found as expected. */
static void check_faces(const char *fixture, const char *net, const json_t *expected,
                        const fr_face *faces, int n) {
    size_t n_expected = json_array_size(expected);
    if ((size_t)n != n_expected)
        fprintf(stderr, "%s: %s found %d faces, face-api %zu\n", fixture, net, n, n_expected);
    CHECK((size_t)n == n_expected);
    for (size_t e = 0; e < n_expected; e++) {
        const json_t *face = json_array_get(expected, e), *box = json_object_get(face, "box");
        CHECK(json_array_size(box) == 4);
        double want[4];
        for (int k = 0; k < 4; k++) want[k] = json_number_value(json_array_get(box, (size_t)k));
        int best = -1;
        double best_err = 1e30;
        for (int i = 0; i < n; i++) {
            const float got[4] = {faces[i].x, faces[i].y, faces[i].w, faces[i].h};
            double err = 0;
            for (int k = 0; k < 4; k++) err = FR_MAX(err, fabs(got[k] - want[k]));
            if (err < best_err) best_err = err, best = i;
        }
        if (best_err > BOX_TOLERANCE_PX)
            fprintf(stderr, "%s: %s face %zu (%.2f %.2f %.2f %.2f): nearest box off by %.3f px\n",
                    fixture, net, e, want[0], want[1], want[2], want[3], best_err);
        CHECK(best_err <= BOX_TOLERANCE_PX);
        CHECK_NEAR(faces[best].score, json_number_value(json_object_get(face, "score")), SCORE_TOLERANCE);
    }
}

/* One fixture; what it allocates goes to the caller's *img, *faces so that a failed CHECK
 * leaks nothing. */
static void check_fixture(const detectors *d, detector_kind kind, const char *fixture,
                          const json_t *root, fr_image **img, fr_face **faces) {
    const char *net_name = kind == SSD ? "ssd" : "tiny";
    const json_t *params = json_object_get(root, net_name);
    const char *image = json_string_value(json_object_get(root, "image"));
    char image_path[4096];
    CHECK(params && image);
    CHECK(model_path(image, image_path, sizeof image_path));
    CHECK_OK(fr_image_load(image_path, img));
    CHECK((*img)->width == (int)json_number_value(json_object_get(root, "width")));
    CHECK((*img)->height == (int)json_number_value(json_object_get(root, "height")));
    int n = 0;
    CHECK_OK(run_detector(d, kind, *img, params, faces, &n));
    check_faces(fixture, net_name, json_object_get(params, "faces"), *faces, n);
}

static void check_fixtures(detector_kind kind) {
    char path[4096];
    detectors d = {NULL, NULL};
    if (!model_path(kind == SSD ? SSD_MANIFEST : TINY_MANIFEST, path, sizeof path))
        SKIP("face-api models not found under %s (run scripts/setup.sh)", FR_TEST_MODELS_DIR);
    fr_status st = kind == SSD ? ssd_mobilenet_load(path, &d.ssd)
                               : tiny_face_detector_load(path, &d.tiny);
    CHECK_OK(st);
    int checked = 0;
    for (int i = 1; i <= MAX_FIXTURES; i++) {
        char fixture[4096];
        snprintf(fixture, sizeof fixture, "%s/faceapi/sample%d.json", FR_TEST_FIXTURES_DIR, i);
        if (!file_exists(fixture)) continue;
        json_t *root = NULL;
        fr_image *img = NULL;
        fr_face *faces = NULL;
        st = read_json_file(fixture, &root);
        if (st == FR_OK) check_fixture(&d, kind, fixture, root, &img, &faces);
        free(faces);
        fr_image_free(img);
        json_decref(root);
        if (st != FR_OK) break;
        checked++;
    }
    ssd_mobilenet_free(d.ssd);
    tiny_face_detector_free(d.tiny);
    CHECK_OK(st);
    if (!checked) SKIP("no fixtures in %s/faceapi", FR_TEST_FIXTURES_DIR);
    printf("  %s: %d fixtures compared\n", kind == SSD ? "ssd" : "tiny", checked);
}

TEST(ssd_matches_faceapi) { check_fixtures(SSD); }
TEST(tiny_matches_faceapi) { check_fixtures(TINY); }

/* Both detectors loaded, or neither (models absent). */
static int load_both(detectors *d) {
    char ssd_path[4096], tiny_path[4096];
    d->ssd = NULL, d->tiny = NULL;
    if (!model_path(SSD_MANIFEST, ssd_path, sizeof ssd_path) ||
        !model_path(TINY_MANIFEST, tiny_path, sizeof tiny_path))
        return 0;
    if (ssd_mobilenet_load(ssd_path, &d->ssd) != FR_OK ||
        tiny_face_detector_load(tiny_path, &d->tiny) != FR_OK) {
        fprintf(stderr, "loading the detectors: %s\n", fr_last_error());
        ssd_mobilenet_free(d->ssd), d->ssd = NULL;
        return -1;
    }
    return 1;
}

static void free_both(detectors *d) {
    ssd_mobilenet_free(d->ssd);
    tiny_face_detector_free(d->tiny);
}

/* Runs both detectors on img; checks that they succeed, that the faces are sane boxes with
 * scores above the threshold in decreasing order, and returns the counts. */
static void detect_both(const detectors *d, const fr_image *img, int *n_ssd, int *n_tiny) {
    for (int k = 0; k < 2; k++) {
        fr_face *faces = NULL;
        int n = -1;
        fr_status st =
            k == 0 ? ssd_mobilenet_detect(d->ssd, TEST_THREADS, img, 0.5f, 0.5f, 100, &faces, &n)
                   : tiny_face_detector_detect(d->tiny, TEST_THREADS, img, 416, 0.5f, 0.4f, &faces,
                                               &n);
        int sane = st == FR_OK && n >= 0 && (n == 0) == (faces == NULL);
        for (int i = 0; sane && i < n; i++)
            sane = isfinite(faces[i].x) && isfinite(faces[i].y) && faces[i].w > 0 &&
                   faces[i].h > 0 && faces[i].score > 0.5f && faces[i].score <= 1.0f &&
                   (i == 0 || faces[i].score <= faces[i - 1].score);
        free(faces);
        CHECK_OK(st);
        CHECK(sane);
        *(k == 0 ? n_ssd : n_tiny) = n;
    }
}

TEST(uniform_grey_has_no_face) {
    detectors d;
    int loaded = load_both(&d);
    if (!loaded) SKIP("face-api models not found under %s", FR_TEST_MODELS_DIR);
    CHECK(loaded == 1);
    fr_image *img = NULL;
    int n_ssd = -1, n_tiny = -1;
    if (fr_image_new(640, 480, &img) == FR_OK) {
        memset(img->rgb, 128, (size_t)img->width * img->height * 3);
        detect_both(&d, img, &n_ssd, &n_tiny);
    }
    fr_image_free(img);
    free_both(&d);
    CHECK(n_ssd == 0);
    CHECK(n_tiny == 0);
}

TEST(tiny_images_work) {
    detectors d;
    int loaded = load_both(&d);
    if (!loaded) SKIP("face-api models not found under %s", FR_TEST_MODELS_DIR);
    CHECK(loaded == 1);
    static const int sizes[][2] = {{8, 5}, {5, 8}, {1, 1}, {3, 700}, {3000, 1}};
    int ok = 1;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0] && ok; s++) {
        fr_image *img = NULL;
        int n_ssd = -1, n_tiny = -1, before = test_failures_;
        ok = fr_image_new(sizes[s][0], sizes[s][1], &img) == FR_OK;
        for (int i = 0; ok && i < sizes[s][0] * sizes[s][1] * 3; i++)
            img->rgb[i] = (uint8_t)(i * 37 % 251);
        if (ok) detect_both(&d, img, &n_ssd, &n_tiny);
        ok = ok && test_failures_ == before;
        fr_image_free(img);
    }
    free_both(&d);
    CHECK(ok);
}

/* A very long image is padded to a square that is never built (60000 x 60000 x 3 floats
 * would be 43 GB): the input is sampled from the image directly. */
TEST(long_images_work) {
    detectors d;
    int loaded = load_both(&d);
    if (!loaded) SKIP("face-api models not found under %s", FR_TEST_MODELS_DIR);
    CHECK(loaded == 1);
    fr_image *img = NULL;
    int n_ssd = -1, n_tiny = -1;
    CHECK_OK(fr_image_new(60000, 4, &img));
    if (img) {
        for (size_t i = 0; i < (size_t)60000 * 4 * 3; i++) img->rgb[i] = (uint8_t)(i * 37 % 251);
        detect_both(&d, img, &n_ssd, &n_tiny);
    }
    fr_image_free(img);
    free_both(&d);
}

TEST(bad_arguments_are_errors) {
    ssd_mobilenet *ssd = NULL;
    tiny_face_detector *tiny = NULL;
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/no-such-manifest.json", FR_TEST_TMP_DIR);
    CHECK(ssd_mobilenet_load(missing, &ssd) != FR_OK && ssd == NULL);
    CHECK(strstr(fr_last_error(), "no-such-manifest.json") != NULL);
    CHECK(tiny_face_detector_load(missing, &tiny) != FR_OK && tiny == NULL);

    detectors d;
    int loaded = load_both(&d);
    if (!loaded) SKIP("face-api models not found under %s", FR_TEST_MODELS_DIR);
    CHECK(loaded == 1);
    /* the SSD weights are not a tiny face detector */
    char ssd_path[4096];
    CHECK(model_path(SSD_MANIFEST, ssd_path, sizeof ssd_path));
    fr_status wrong_net = tiny_face_detector_load(ssd_path, &tiny);

    fr_image *img = NULL;
    fr_face *faces = NULL;
    int n = 0;
    fr_status st[6] = {FR_OK, FR_OK, FR_OK, FR_OK, FR_OK, FR_OK};
    if (fr_image_new(64, 48, &img) == FR_OK) {
        st[0] = tiny_face_detector_detect(d.tiny, TEST_THREADS, img, 100, 0.5f, 0.4f, &faces, &n);
        st[1] = tiny_face_detector_detect(d.tiny, TEST_THREADS, img, 0, 0.5f, 0.4f, &faces, &n);
        st[2] = tiny_face_detector_detect(d.tiny, TEST_THREADS, img, 416, 1.5f, 0.4f, &faces, &n);
        st[3] = ssd_mobilenet_detect(d.ssd, TEST_THREADS, img, 0.5f, 0.0f, 100, &faces, &n);
        st[4] = ssd_mobilenet_detect(d.ssd, TEST_THREADS, img, 0.5f, 0.5f, 0, &faces, &n);
        st[5] = ssd_mobilenet_detect(d.ssd, TEST_THREADS, NULL, 0.5f, 0.5f, 100, &faces, &n);
    }
    fr_image_free(img);
    free_both(&d);
    CHECK(wrong_net != FR_OK && tiny == NULL);
    for (int i = 0; i < 6; i++) CHECK(st[i] == FR_E_ARG);
    CHECK(faces == NULL && n == 0);
}

typedef struct detect_job {
    const detectors *d;
    const fr_image *img;
    fr_face *faces[2];
    int n[2];
    fr_status st[2];
} detect_job;

static void *detect_job_run(void *arg) {
    detect_job *j = arg;
    j->st[0] = ssd_mobilenet_detect(j->d->ssd, TEST_THREADS, j->img, 0.5f, 0.5f, 100, &j->faces[0],
                                    &j->n[0]);
    j->st[1] = tiny_face_detector_detect(j->d->tiny, TEST_THREADS, j->img, 416, 0.5f, 0.4f,
                                         &j->faces[1], &j->n[1]);
    return NULL;
}

static int same_faces(const detect_job *a, const detect_job *b) {
    for (int k = 0; k < 2; k++)
        if (a->st[k] != FR_OK || b->st[k] != FR_OK || a->n[k] != b->n[k] || a->n[k] == 0 ||
            memcmp(a->faces[k], b->faces[k], (size_t)a->n[k] * sizeof(fr_face)) != 0)
            return 0;
    return 1;
}

/* One loaded net serves several threads at once, each getting what a lone call gets. */
TEST(concurrent_calls_agree) {
    detectors d;
    int loaded = load_both(&d);
    if (!loaded) SKIP("face-api models not found under %s", FR_TEST_MODELS_DIR);
    CHECK(loaded == 1);
    char image_path[4096];
    if (!model_path("face-api/demo/sample1.jpg", image_path, sizeof image_path)) {
        free_both(&d);
        SKIP("face-api demo images not found under %s", FR_TEST_MODELS_DIR);
    }
    fr_image *photo = NULL, *img = NULL;
    enum { N_THREADS = 3 };
    detect_job alone = {0}, jobs[N_THREADS] = {{0}};
    int agree = 0;
    if (fr_image_load(image_path, &photo) == FR_OK &&
        fr_image_resize(photo, 640, 427, &img) == FR_OK) {
        alone.d = &d, alone.img = img;
        detect_job_run(&alone);
        pthread_t threads[N_THREADS];
        int started = 0;
        for (; started < N_THREADS; started++) {
            jobs[started] = alone;
            jobs[started].faces[0] = jobs[started].faces[1] = NULL;
            if (pthread_create(&threads[started], NULL, detect_job_run, &jobs[started])) break;
        }
        for (int t = 0; t < started; t++) pthread_join(threads[t], NULL);
        agree = started == N_THREADS;
        for (int t = 0; t < N_THREADS; t++) agree = agree && same_faces(&alone, &jobs[t]);
    }
    for (int t = 0; t < N_THREADS; t++) free(jobs[t].faces[0]), free(jobs[t].faces[1]);
    free(alone.faces[0]);
    free(alone.faces[1]);
    fr_image_free(photo);
    fr_image_free(img);
    free_both(&d);
    CHECK(agree);
}

TEST_MAIN(CASE(ssd_matches_faceapi), CASE(tiny_matches_faceapi), CASE(uniform_grey_has_no_face),
          CASE(tiny_images_work), CASE(long_images_work), CASE(bad_arguments_are_errors),
          CASE(concurrent_calls_agree))
