/* test_landmarks_descriptor.c: face-api's 68-point landmark nets (full and tiny), its
 * alignment crop and the dlib ResNet descriptor against face-api.js itself
 * (the JSON fixtures in tests/data/faceapi, written by tests/reference/faceapi_golden.mjs).
 * Each stage is fed the golden output of the stage before, so errors do not compound. */
#include "test.h"

#include "common/common.h"
#include "common/json_read.h"
#include "face/align.h"
#include "nets/faceapi_nets.h"
#include "nn/nn.h"

#include <pthread.h>

#define LANDMARK_MODEL "face-api/model/face_landmark_68_model-weights_manifest.json"
#define LANDMARK_TINY_MODEL "face-api/model/face_landmark_68_tiny_model-weights_manifest.json"
#define DESCRIPTOR_MODEL "face-api/model/face_recognition_model-weights_manifest.json"

static const char *const sample_names[] = {"sample1", "sample2", "sample3"};
#define N_SAMPLES 3

/* Tolerances against face-api.js (float32 tfjs 'cpu' backend). */
#define LANDMARK_TOL_PX 0.5
#define ALIGN_TOL_PX 1.0
#define DESCRIPTOR_TOL 1e-4

/* A demo image with its fixture and the SSD faces of the fixture. */
typedef struct sample {
    json_t *fixture;
    fr_image *img;
    fr_face *faces;
    int n_faces;
} sample;

static void sample_close(sample *s) {
    json_decref(s->fixture);
    fr_image_free(s->img);
    free(s->faces);
    memset(s, 0, sizeof *s);
}

/* 1 if the fixture `name` exists and was loaded with its image and faces; 0 if absent;
 * -1 on failure (message printed). */
static int sample_open(const char *name, sample *s) {
    memset(s, 0, sizeof *s);
    char path[1024];
    snprintf(path, sizeof path, "%s/faceapi/%s.json", FR_TEST_FIXTURES_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    if (read_json_file(path, &s->fixture) != FR_OK) {
        fprintf(stderr, "%s\n", fr_last_error());
        return -1;
    }
    char image_path[1024];
    snprintf(image_path, sizeof image_path, "%s/%s", FR_TEST_MODELS_DIR,
             json_string_value(json_object_get(s->fixture, "image")));
    if (fr_image_load(image_path, &s->img) != FR_OK) {
        fprintf(stderr, "%s\n", fr_last_error());
        sample_close(s);
        return -1;
    }
    /* the fixture's checksum of the pixels it was computed on */
    uint32_t sum = 0;
    size_t n_bytes = (size_t)s->img->width * s->img->height * 3;
    for (size_t i = 0; i < n_bytes; i++) sum += (uint32_t)s->img->rgb[i] * (uint32_t)(i % 251 + 1);
    if (sum != (uint32_t)json_number_value(json_object_get(s->fixture, "image_rgb_checksum"))) {
        fprintf(stderr, "%s: decoded pixels differ from the fixture's\n", image_path);
        sample_close(s);
        return -1;
    }
    const json_t *ssd = json_object_get(json_object_get(s->fixture, "ssd"), "faces");
    s->n_faces = (int)json_array_size(ssd);
    s->faces = calloc((size_t)s->n_faces + 1, sizeof *s->faces);
    for (int i = 0; i < s->n_faces; i++) {
        const json_t *box = json_object_get(json_array_get(ssd, i), "box");
        s->faces[i].x = (float)json_number_value(json_array_get(box, 0));
        s->faces[i].y = (float)json_number_value(json_array_get(box, 1));
        s->faces[i].w = (float)json_number_value(json_array_get(box, 2));
        s->faces[i].h = (float)json_number_value(json_array_get(box, 3));
        s->faces[i].score = (float)json_number_value(json_object_get(json_array_get(ssd, i), "score"));
    }
    return 1;
}

/* The full path of a model file in buf, or 0 if the models are absent. */
static int model_path(const char *rel, char *buf, size_t size) {
    return fr_model_path(FR_TEST_MODELS_DIR, rel, buf, size) == FR_OK;
}

/* The fixture's pattern image: pixel (y, x, c) = (7x + 13y + 101c + (xy mod 17)) mod 256. */
static fr_image *synthetic_image(int w, int h) {
    fr_image *img;
    if (fr_image_new(w, h, &img) != FR_OK) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img->rgb[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)((7 * x + 13 * y + 101 * c + (x * y) % 17) % 256);
    return img;
}

static json_t *synthetic_fixture(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/faceapi/synthetic.json", FR_TEST_FIXTURES_DIR);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fclose(f);
    json_t *v = NULL;
    if (read_json_file(path, &v) != FR_OK) fprintf(stderr, "%s\n", fr_last_error());
    return v;
}

/* ---- landmarks ------------------------------------------------------------------------ */

static void check_landmarks(int tiny) {
    char path[1024];
    if (!model_path(tiny ? LANDMARK_TINY_MODEL : LANDMARK_MODEL, path, sizeof path))
        SKIP("no model: %s", fr_last_error());
    landmark68 *net;
    CHECK_OK(landmark68_load(path, tiny, &net));
    int n_samples = 0;
    for (int k = 0; k < N_SAMPLES; k++) {
        sample s;
        int found = sample_open(sample_names[k], &s);
        CHECK(found >= 0);
        if (!found) continue;
        n_samples++;
        CHECK(s.n_faces > 0);
        CHECK_OK(landmark68_run(net, TEST_THREADS, s.img, s.faces, s.n_faces));
        const json_t *golden = json_object_get(s.fixture, tiny ? "landmarks68_tiny" : "landmarks68");
        CHECK((int)json_array_size(golden) == s.n_faces);
        double worst = 0;
        for (int i = 0; i < s.n_faces; i++) {
            CHECK(s.faces[i].n_landmarks == 68);
            for (int p = 0; p < 68; p++) {
                const json_t *pt = json_array_get(json_array_get(golden, i), p);
                CHECK_NEAR(s.faces[i].landmarks[p][0], json_number_value(json_array_get(pt, 0)), LANDMARK_TOL_PX);
                CHECK_NEAR(s.faces[i].landmarks[p][1], json_number_value(json_array_get(pt, 1)), LANDMARK_TOL_PX);
                worst = FR_MAX(worst, fabs(s.faces[i].landmarks[p][0] - json_number_value(json_array_get(pt, 0))));
                worst = FR_MAX(worst, fabs(s.faces[i].landmarks[p][1] - json_number_value(json_array_get(pt, 1))));
            }
        }
        printf("  %s: %d faces, largest landmark error %.2g px\n", sample_names[k], s.n_faces, worst);
        sample_close(&s);
    }
    landmark68_free(net);
    if (!n_samples) SKIP("no fixtures in %s/faceapi", FR_TEST_FIXTURES_DIR);
}

TEST(landmarks68_match_faceapi) { check_landmarks(0); }
TEST(landmarks68_tiny_match_faceapi) { check_landmarks(1); }

/* The nets alone: on a 112x112 image the face box is the whole input, no padding and no
 * resize, so the landmarks are the raw outputs times 112. */
TEST(landmarks_raw_on_synthetic_input) {
    json_t *fx = synthetic_fixture();
    if (!fx) SKIP("no synthetic fixture in %s/faceapi", FR_TEST_FIXTURES_DIR);
    for (int tiny = 0; tiny <= 1; tiny++) {
        char path[1024];
        if (!model_path(tiny ? LANDMARK_TINY_MODEL : LANDMARK_MODEL, path, sizeof path))
            SKIP("no model: %s", fr_last_error());
        landmark68 *net;
        CHECK_OK(landmark68_load(path, tiny, &net));
        fr_image *img = synthetic_image(112, 112);
        CHECK(img);
        fr_face face = {.x = 0, .y = 0, .w = 112, .h = 112};
        CHECK_OK(landmark68_run(net, TEST_THREADS, img, &face, 1));
        const json_t *raw = json_object_get(fx, tiny ? "landmarks68_tiny_raw" : "landmarks68_raw");
        CHECK(json_array_size(raw) == 136);
        for (int p = 0; p < 68; p++) {
            CHECK_NEAR(face.landmarks[p][0], json_number_value(json_array_get(raw, 2 * p)) * 112, 1e-3);
            CHECK_NEAR(face.landmarks[p][1], json_number_value(json_array_get(raw, 2 * p + 1)) * 112, 1e-3);
        }
        fr_image_free(img);
        landmark68_free(net);
    }
    json_decref(fx);
}

/* ---- alignment ------------------------------------------------------------------------ */

TEST(aligned_boxes_match_faceapi) {
    int n_samples = 0;
    for (int k = 0; k < N_SAMPLES; k++) {
        sample s;
        int found = sample_open(sample_names[k], &s);
        CHECK(found >= 0);
        if (!found) continue;
        n_samples++;
        const json_t *landmarks = json_object_get(s.fixture, "landmarks68");
        const json_t *boxes = json_object_get(s.fixture, "aligned_boxes");
        const json_t *crops = json_object_get(s.fixture, "descriptor_crops");
        CHECK((int)json_array_size(landmarks) == s.n_faces && (int)json_array_size(boxes) == s.n_faces);
        for (int i = 0; i < s.n_faces; i++) {
            fr_face *f = &s.faces[i];
            f->n_landmarks = 68;
            for (int p = 0; p < 68; p++)
                for (int c = 0; c < 2; c++)
                    f->landmarks[p][c] = (float)json_number_value(json_array_get(json_array_get(json_array_get(landmarks, i), p), c));
            float box[4];
            CHECK_OK(align_faceapi_box(f, s.img->width, s.img->height, box));
            for (int c = 0; c < 4; c++)
                CHECK_NEAR(box[c], json_number_value(json_array_get(json_array_get(boxes, i), c)), ALIGN_TOL_PX);
            fr_image *crop;
            CHECK_OK(align_faceapi(s.img, f, &crop));
            CHECK_NEAR(crop->width, json_number_value(json_array_get(json_array_get(crops, i), 2)), ALIGN_TOL_PX);
            CHECK_NEAR(crop->height, json_number_value(json_array_get(json_array_get(crops, i), 3)), ALIGN_TOL_PX);
            fr_image_free(crop);
        }
        sample_close(&s);
    }
    if (!n_samples) SKIP("no fixtures in %s/faceapi", FR_TEST_FIXTURES_DIR);
}

/* The clipping of face-api's crops: each value floored on its own, nothing outside. */
TEST(alignment_crop_is_clipped_to_the_image) {
    fr_image *img = synthetic_image(40, 30);
    CHECK(img);
    fr_image *crop;
    const float inside[4] = {10.7f, 5.2f, 20.6f, 10.9f};
    CHECK_OK(align_faceapi_crop(img, inside, &crop));
    CHECK(crop->width == 20 && crop->height == 10);
    CHECK(!memcmp(crop->rgb, img->rgb + (5 * 40 + 10) * 3, 3));
    fr_image_free(crop);
    const float overlapping[4] = {-5.5f, 20.0f, 30.0f, 30.0f};
    CHECK_OK(align_faceapi_crop(img, overlapping, &crop));
    CHECK(crop->width == 24 && crop->height == 10);
    CHECK(!memcmp(crop->rgb, img->rgb + (20 * 40) * 3, 3));
    fr_image_free(crop);
    const float outside[4] = {45.0f, 0.0f, 10.0f, 10.0f};
    CHECK(align_faceapi_crop(img, outside, &crop) == FR_E_NO_FACE);
    fr_face face = {.x = 0, .y = 0, .w = 40, .h = 30, .n_landmarks = 5};
    CHECK(align_faceapi(img, &face, &crop) == FR_E_ARG);
    CHECK(strstr(fr_last_error(), "68 landmarks"));
    fr_image_free(img);
}

/* ---- descriptors ---------------------------------------------------------------------- */

TEST(descriptors_match_faceapi) {
    char path[1024];
    if (!model_path(DESCRIPTOR_MODEL, path, sizeof path)) SKIP("no model: %s", fr_last_error());
    dlib_resnet *net;
    CHECK_OK(dlib_resnet_load(path, NULL, &net));
    int n_samples = 0;
    for (int k = 0; k < N_SAMPLES; k++) {
        sample s;
        int found = sample_open(sample_names[k], &s);
        CHECK(found >= 0);
        if (!found) continue;
        n_samples++;
        const json_t *boxes = json_object_get(s.fixture, "aligned_boxes");
        const json_t *golden = json_object_get(s.fixture, "descriptors");
        CHECK((int)json_array_size(boxes) == s.n_faces && (int)json_array_size(golden) == s.n_faces);
        fr_image *crops[16] = {0};
        CHECK(s.n_faces <= 16);
        for (int i = 0; i < s.n_faces; i++) {
            float box[4];
            for (int c = 0; c < 4; c++) box[c] = (float)json_number_value(json_array_get(json_array_get(boxes, i), c));
            CHECK_OK(align_faceapi_crop(s.img, box, &crops[i]));
        }
        float out[16 * 128];
        CHECK_OK(
            dlib_resnet_embed(net, TEST_THREADS, (const fr_image *const *)crops, s.n_faces, out));
        double worst = 0;
        for (int i = 0; i < s.n_faces; i++) {
            const json_t *d = json_array_get(golden, i);
            CHECK(json_array_size(d) == 128);
            for (int j = 0; j < 128; j++) {
                CHECK_NEAR(out[i * 128 + j], json_number_value(json_array_get(d, j)), DESCRIPTOR_TOL);
                worst = FR_MAX(worst, fabs(out[i * 128 + j] - json_number_value(json_array_get(d, j))));
            }
            fr_image_free(crops[i]);
        }
        printf("  %s: %d faces, largest descriptor error %.2g\n", sample_names[k], s.n_faces, worst);
        sample_close(&s);
    }
    dlib_resnet_free(net);
    if (!n_samples) SKIP("no fixtures in %s/faceapi", FR_TEST_FIXTURES_DIR);
}

TEST(descriptor_on_synthetic_input) {
    json_t *fx = synthetic_fixture();
    if (!fx) SKIP("no synthetic fixture in %s/faceapi", FR_TEST_FIXTURES_DIR);
    char path[1024];
    if (!model_path(DESCRIPTOR_MODEL, path, sizeof path)) SKIP("no model: %s", fr_last_error());
    dlib_resnet *net;
    CHECK_OK(dlib_resnet_load(path, NULL, &net));
    fr_image *img = synthetic_image(150, 150);
    CHECK(img);
    float out[128];
    CHECK_OK(dlib_resnet_embed(net, TEST_THREADS, (const fr_image *const *)&img, 1, out));
    const json_t *golden = json_object_get(fx, "descriptor");
    CHECK(json_array_size(golden) == 128);
    for (int j = 0; j < 128; j++) CHECK_NEAR(out[j], json_number_value(json_array_get(golden, j)), DESCRIPTOR_TOL);
    fr_image_free(img);
    dlib_resnet_free(net);
    json_decref(fx);
}

/* A batch gives each face what it gets alone, and the thread count changes no bit. */
TEST(descriptor_batch_and_threads_agree) {
    char path[1024];
    if (!model_path(DESCRIPTOR_MODEL, path, sizeof path)) SKIP("no model: %s", fr_last_error());
    dlib_resnet *net;
    CHECK_OK(dlib_resnet_load(path, NULL, &net));
    /* crops of different sizes and aspect ratios, so padding and resizing differ per face */
    const int sizes[4][2] = {{150, 150}, {90, 120}, {200, 140}, {61, 61}};
    fr_image *crops[4];
    for (int i = 0; i < 4; i++) CHECK((crops[i] = synthetic_image(sizes[i][0], sizes[i][1])));
    float batch[4 * 128], alone[128], one_thread[4 * 128];
    CHECK_OK(dlib_resnet_embed(net, TEST_THREADS, (const fr_image *const *)crops, 4, batch));
    for (int i = 0; i < 4; i++) {
        CHECK_OK(
            dlib_resnet_embed(net, TEST_THREADS, (const fr_image *const *)&crops[i], 1, alone));
        for (int j = 0; j < 128; j++) CHECK_NEAR(batch[i * 128 + j], alone[j], 1e-5);
    }
    CHECK_OK(dlib_resnet_embed(net, 1, (const fr_image *const *)crops, 4, one_thread));
    CHECK(!memcmp(batch, one_thread, sizeof batch));
    for (int i = 0; i < 4; i++) fr_image_free(crops[i]);
    dlib_resnet_free(net);
}

/* One loaded net serves several threads at once (it is immutable after load). */
typedef struct embed_job {
    const dlib_resnet *net;
    fr_image *const *crops;
    int n;
    float out[4 * 128];
    fr_status st;
} embed_job;

static void *embed_thread(void *arg) {
    embed_job *job = arg;
    job->st = dlib_resnet_embed(job->net, TEST_THREADS, (const fr_image *const *)job->crops, job->n,
                                job->out);
    return NULL;
}

TEST(descriptor_net_is_shared_by_threads) {
    char path[1024];
    if (!model_path(DESCRIPTOR_MODEL, path, sizeof path)) SKIP("no model: %s", fr_last_error());
    dlib_resnet *net;
    CHECK_OK(dlib_resnet_load(path, NULL, &net));
    fr_image *crops[4];
    for (int i = 0; i < 4; i++) CHECK((crops[i] = synthetic_image(100 + 20 * i, 140 - 10 * i)));
    float expected[4 * 128];
    CHECK_OK(dlib_resnet_embed(net, TEST_THREADS, (const fr_image *const *)crops, 4, expected));
    embed_job jobs[3];
    pthread_t threads[3];
    for (int t = 0; t < 3; t++) {
        jobs[t] = (embed_job){.net = net, .crops = crops, .n = 4};
        CHECK(pthread_create(&threads[t], NULL, embed_thread, &jobs[t]) == 0);
    }
    for (int t = 0; t < 3; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    for (int t = 0; t < 3; t++) {
        CHECK(jobs[t].st == FR_OK);
        CHECK(!memcmp(jobs[t].out, expected, sizeof expected));
    }
    for (int i = 0; i < 4; i++) fr_image_free(crops[i]);
    dlib_resnet_free(net);
}

/* ---- errors --------------------------------------------------------------------------- */

TEST(errors_name_the_problem) {
    char path[1024];
    landmark68 *lm = NULL;
    dlib_resnet *dr = NULL;
    snprintf(path, sizeof path, "%s/no_such_model-weights_manifest.json", FR_TEST_TMP_DIR);
    CHECK(landmark68_load(path, 0, &lm) != FR_OK && !lm);
    CHECK(strstr(fr_last_error(), "no_such_model"));
    CHECK(dlib_resnet_load(path, NULL, &dr) != FR_OK && !dr);
    CHECK(strstr(fr_last_error(), "no_such_model"));

    if (!model_path(DESCRIPTOR_MODEL, path, sizeof path)) SKIP("no model: %s", fr_last_error());
    /* the descriptor net's weights are not a landmark net's, nor the full net's the tiny's */
    CHECK(landmark68_load(path, 0, &lm) != FR_OK && !lm);
    CHECK(strstr(fr_last_error(), "dense0/conv0/filters"));
    CHECK(model_path(LANDMARK_MODEL, path, sizeof path));
    CHECK(dlib_resnet_load(path, NULL, &dr) != FR_OK && !dr);
    CHECK(strstr(fr_last_error(), "conv32_down"));
    CHECK(landmark68_load(path, 1, &lm) != FR_OK && !lm);
    CHECK(strstr(fr_last_error(), "fc/weights"));

    CHECK_OK(landmark68_load(path, 0, &lm));
    fr_image *img = synthetic_image(64, 48);
    CHECK(img);
    fr_face faces[2] = {{.x = 4, .y = 4, .w = 30, .h = 30}, {.x = 70, .y = 10, .w = 20, .h = 20}};
    CHECK(landmark68_run(lm, TEST_THREADS, img, faces, 2) == FR_E_ARG);
    CHECK(strstr(fr_last_error(), "face 1"));
    CHECK_OK(landmark68_run(lm, TEST_THREADS, img, faces, 0));
    CHECK_OK(landmark68_run(lm, TEST_THREADS, img, faces, 1));
    CHECK(faces[0].n_landmarks == 68);
    landmark68_free(lm);

    CHECK(model_path(DESCRIPTOR_MODEL, path, sizeof path));
    CHECK_OK(dlib_resnet_load(path, NULL, &dr));
    const fr_image *crops[2] = {img, NULL};
    float out[2 * 128];
    CHECK(dlib_resnet_embed(dr, TEST_THREADS, crops, 2, out) == FR_E_ARG);
    CHECK(strstr(fr_last_error(), "crop 1"));
    dlib_resnet_free(dr);
    fr_image_free(img);
}

TEST_MAIN(CASE(landmarks68_match_faceapi), CASE(landmarks68_tiny_match_faceapi),
          CASE(landmarks_raw_on_synthetic_input), CASE(aligned_boxes_match_faceapi),
          CASE(alignment_crop_is_clipped_to_the_image), CASE(descriptors_match_faceapi),
          CASE(descriptor_on_synthetic_input), CASE(descriptor_batch_and_threads_agree),
          CASE(descriptor_net_is_shared_by_threads),
          CASE(errors_name_the_problem))
