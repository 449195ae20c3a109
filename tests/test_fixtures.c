/* test_fixtures.c: the face-api golden fixtures (tests/data/faceapi, written by
 * tests/reference/faceapi_golden.mjs) parse with our JSON reader, have consistent counts, and
 * their stages follow from each other by the face-api semantics that FACEAPI_NOTES.md
 * describes (crop rounding, landmark un-padding, dlib-style alignment, SSD un-padding). The
 * comparisons against our C networks live in the network tests. */
#include "common/json_read.h"
#include "test.h"

#include <float.h>
#include <stdint.h>

#define FIXTURES FR_TEST_FIXTURES_DIR "/faceapi"

static const char *const samples[] = {"sample1", "sample2", "sample3"};
#define N_SAMPLES (sizeof samples / sizeof samples[0])

static json_t *load_fixture(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", FIXTURES, name);
    json_t *root = NULL;
    if (read_json_file(path, &root) != FR_OK) {
        fprintf(stderr, "%s: %s\n", path, fr_last_error());
        return NULL;
    }
    return root;
}

static double num(const json_t *array, size_t i) { return json_number_value(json_array_get(array, i)); }

/* An array of n numbers, all finite. */
static int is_numbers(const json_t *v, size_t n) {
    if (!json_is_array(v) || json_array_size(v) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_number(e) || !isfinite(json_number_value(e))) return 0;
    }
    return 1;
}

/* An array of `count` elements, each an array of n numbers. */
static int is_rows(const json_t *v, size_t count, size_t n) {
    if (!json_is_array(v) || json_array_size(v) != count) return 0;
    for (size_t i = 0; i < count; i++)
        if (!is_numbers(json_array_get(v, i), n)) return 0;
    return 1;
}

/* face-api's Box.clipAtImageBorders: clip the left/top edges at 0 and the right/bottom edges
 * at the image size, then floor x, y, width and height separately. */
static void clip_and_floor(const double box[4], int width, int height, double out[4]) {
    double x = fmax(box[0], 0.0), y = fmax(box[1], 0.0);
    double w = fmin(box[0] + box[2] - x, width - x), h = fmin(box[1] + box[3] - y, height - y);
    out[0] = floor(x);
    out[1] = floor(y);
    out[2] = floor(w);
    out[3] = floor(h);
}

static void read_box(const json_t *v, double box[4]) {
    for (size_t k = 0; k < 4; k++) box[k] = num(v, k);
}

/* Mean of landmarks [first, last) of one face (68 [x, y] pairs). */
static void center_of(const json_t *face, int first, int last, double *cx, double *cy) {
    double sx = 0, sy = 0;
    for (int i = first; i < last; i++) {
        sx += num(json_array_get(face, (size_t)i), 0);
        sy += num(json_array_get(face, (size_t)i), 1);
    }
    *cx = sx / (last - first);
    *cy = sy / (last - first);
}

TEST(sample_structure) {
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        const json_t *ssd = json_object_get(root, "ssd"), *tiny = json_object_get(root, "tiny");
        const json_t *faces = json_object_get(ssd, "faces");
        size_t n = json_array_size(faces);
        int ok = json_string_value(json_object_get(root, "image")) != NULL &&
                 json_number_value(json_object_get(root, "width")) > 0 &&
                 json_number_value(json_object_get(root, "height")) > 0 && n > 0 &&
                 json_number_value(json_object_get(ssd, "min_score")) == 0.5 &&
                 json_number_value(json_object_get(ssd, "max_results")) == 100 &&
                 json_number_value(json_object_get(tiny, "input_size")) == 416 &&
                 json_number_value(json_object_get(tiny, "min_score")) == 0.5 &&
                 is_rows(json_object_get(root, "aligned_boxes"), n, 4) &&
                 is_rows(json_object_get(root, "descriptors"), n, 128) &&
                 is_rows(json_object_get(root, "landmark_crops"), n, 4) &&
                 is_rows(json_object_get(root, "descriptor_crops"), n, 4) &&
                 is_rows(json_object_get(root, "aligned_rects_minbbox"), n, 4) &&
                 is_rows(json_object_get(root, "landmarks68_raw"), n, 136) &&
                 is_rows(json_object_get(root, "landmarks68_tiny_raw"), n, 136) &&
                 json_array_size(json_object_get(root, "landmarks68")) == n &&
                 json_array_size(json_object_get(root, "landmarks68_tiny")) == n &&
                 json_array_size(json_object_get(root, "landmark_net_inputs")) == n &&
                 json_array_size(json_object_get(root, "descriptor_net_inputs")) == n;
        for (size_t i = 0; ok && i < n; i++)
            ok = is_rows(json_array_get(json_object_get(root, "landmarks68"), i), 68, 2) &&
                 is_rows(json_array_get(json_object_get(root, "landmarks68_tiny"), i), 68, 2);
        /* Both detectors list faces by decreasing score, all above the threshold. */
        const json_t *lists[2] = {faces, json_object_get(tiny, "faces")};
        for (int l = 0; ok && l < 2; l++) {
            double previous = 1.0;
            for (size_t i = 0; ok && i < json_array_size(lists[l]); i++) {
                const json_t *face = json_array_get(lists[l], i);
                double score = json_number_value(json_object_get(face, "score"));
                ok = is_numbers(json_object_get(face, "box"), 4) && score > 0.5 && score <= previous &&
                     num(json_object_get(face, "box"), 2) > 0 && num(json_object_get(face, "box"), 3) > 0;
                previous = score;
            }
        }
        json_decref(root);
        if (!ok) fprintf(stderr, "%s.json: unexpected structure\n", samples[s]);
        CHECK(ok);
    }
}

/* Landmark crops are the SSD boxes clipped and floored; descriptor crops likewise from the
 * aligned boxes. */
TEST(sample_crops_follow_boxes) {
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        int width = (int)json_number_value(json_object_get(root, "width"));
        int height = (int)json_number_value(json_object_get(root, "height"));
        const json_t *faces = json_object_get(json_object_get(root, "ssd"), "faces");
        int ok = 1;
        for (size_t i = 0; ok && i < json_array_size(faces); i++) {
            double box[4], crop[4], aligned[4], dcrop[4];
            read_box(json_object_get(json_array_get(faces, i), "box"), box);
            clip_and_floor(box, width, height, crop);
            read_box(json_array_get(json_object_get(root, "aligned_boxes"), i), aligned);
            clip_and_floor(aligned, width, height, dcrop);
            for (size_t k = 0; k < 4; k++)
                ok = ok && crop[k] == num(json_array_get(json_object_get(root, "landmark_crops"), i), k) &&
                     dcrop[k] == num(json_array_get(json_object_get(root, "descriptor_crops"), i), k);
        }
        json_decref(root);
        if (!ok) fprintf(stderr, "%s.json: crops do not follow the boxes\n", samples[s]);
        CHECK(ok);
    }
}

/* Image-space landmarks = raw net output (relative to the centred-padded 112x112 input)
 * un-padded, scaled to the crop and shifted by the unfloored SSD box origin. */
TEST(sample_landmarks_follow_raw_output) {
    const char *raw_keys[2] = {"landmarks68_raw", "landmarks68_tiny_raw"};
    const char *point_keys[2] = {"landmarks68", "landmarks68_tiny"};
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        const json_t *faces = json_object_get(json_object_get(root, "ssd"), "faces");
        double worst = 0;
        for (int net = 0; net < 2; net++) {
            for (size_t i = 0; i < json_array_size(faces); i++) {
                const json_t *crop = json_array_get(json_object_get(root, "landmark_crops"), i);
                const json_t *box = json_object_get(json_array_get(faces, i), "box");
                const json_t *raw = json_array_get(json_object_get(root, raw_keys[net]), i);
                const json_t *pts = json_array_get(json_object_get(root, point_keys[net]), i);
                double cw = num(crop, 2), ch = num(crop, 3), scale = 112.0 / fmax(cw, ch);
                double sw = cw * scale, sh = ch * scale;
                double pad_x = sw < sh ? fabs(sw - sh) / 2 : 0, pad_y = sh < sw ? fabs(sw - sh) / 2 : 0;
                for (size_t k = 0; k < 68; k++) {
                    double x = (num(raw, 2 * k) * 112 - pad_x) / sw * cw + num(box, 0);
                    double y = (num(raw, 2 * k + 1) * 112 - pad_y) / sh * ch + num(box, 1);
                    worst = fmax(worst, fabs(x - num(json_array_get(pts, k), 0)));
                    worst = fmax(worst, fabs(y - num(json_array_get(pts, k), 1)));
                }
            }
        }
        json_decref(root);
        /* float32 arithmetic in tfjs against double here: well below a thousandth of a pixel. */
        CHECK_NEAR(worst, 0.0, 1e-3);
    }
}

/* The descriptor crop box is face-api's dlib-style alignment of the full-net landmarks:
 * size = floor(mean eye-to-mouth distance / 0.45), placed around the mean of the eye and
 * mouth centres at (0.5, 0.43) of its size. */
TEST(sample_aligned_boxes_follow_landmarks) {
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        const json_t *all = json_object_get(root, "landmarks68");
        int ok = 1;
        for (size_t i = 0; ok && i < json_array_size(all); i++) {
            const json_t *face = json_array_get(all, i);
            const json_t *crop = json_array_get(json_object_get(root, "landmark_crops"), i);
            double lx, ly, rx, ry, mx, my;
            center_of(face, 36, 42, &lx, &ly);
            center_of(face, 42, 48, &rx, &ry);
            center_of(face, 48, 68, &mx, &my);
            double dist = (hypot(mx - lx, my - ly) + hypot(mx - rx, my - ry)) / 2;
            double size = floor(dist / 0.45);
            double cx = (lx + rx + mx) / 3, cy = (ly + ry + my) / 3;
            double x = floor(fmax(0, cx - 0.5 * size)), y = floor(fmax(0, cy - 0.43 * size));
            double expect[4] = {x, y, fmin(size, num(crop, 2) + x), fmin(size, num(crop, 3) + y)};
            for (size_t k = 0; k < 4; k++)
                ok = ok && expect[k] == num(json_array_get(json_object_get(root, "aligned_boxes"), i), k);
        }
        json_decref(root);
        if (!ok) fprintf(stderr, "%s.json: aligned boxes do not follow the landmarks\n", samples[s]);
        CHECK(ok);
    }
}

/* Each SSD face is one of the raw top candidates: its box [ymin, xmin, ymax, xmax] (relative
 * to the bottom/right-padded square) clipped to [0, 1], scaled by 512 / reshaped size (with
 * face-api's rounding of the reshaped size) and then by the image size. */
TEST(sample_ssd_boxes_follow_raw_output) {
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        double width = json_number_value(json_object_get(root, "width"));
        double height = json_number_value(json_object_get(root, "height"));
        const json_t *raw = json_object_get(root, "ssd_raw");
        const json_t *top = json_object_get(raw, "top");
        const json_t *faces = json_object_get(json_object_get(root, "ssd"), "faces");
        double scale = 512.0 / fmax(width, height);
        double pad_x = 512.0 / round(width * scale), pad_y = 512.0 / round(height * scale);
        double worst = 0;
        size_t matched = 0;
        for (size_t i = 0; i < json_array_size(faces); i++) {
            double score = json_number_value(json_object_get(json_array_get(faces, i), "score"));
            for (size_t t = 0; t < json_array_size(top); t++) {
                if (json_number_value(json_object_get(json_array_get(top, t), "score")) != score) continue;
                const json_t *b = json_object_get(json_array_get(top, t), "box");
                double top_y = fmax(0, num(b, 0)) * pad_y, bottom = fmin(1, num(b, 2)) * pad_y;
                double left = fmax(0, num(b, 1)) * pad_x, right = fmin(1, num(b, 3)) * pad_x;
                double expect[4] = {left * width, top_y * height, (right - left) * width,
                                    (bottom - top_y) * height};
                for (size_t k = 0; k < 4; k++)
                    worst = fmax(worst, fabs(expect[k] - num(json_object_get(json_array_get(faces, i), "box"), k)));
                matched++;
                break;
            }
        }
        int anchors = json_number_value(json_object_get(raw, "num_anchors")) == 5118 && json_array_size(top) == 20;
        size_t n_faces = json_array_size(faces);
        json_decref(root);
        CHECK(anchors);
        CHECK(matched == n_faces); /* every demo face scores among the 20 best anchors */
        CHECK_NEAR(worst, 0.0, 1e-6);
    }
}

/* Net-input probes: pixel values within 0..255 and coordinates inside the square. */
TEST(sample_net_input_probes) {
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        const json_t *probes[2] = {json_object_get(root, "ssd_net_input"), json_object_get(root, "tiny_net_input")};
        int ok = json_number_value(json_object_get(probes[0], "size")) == 512 &&
                 json_number_value(json_object_get(probes[1], "size")) == 416;
        for (size_t i = 0; ok && i < json_array_size(json_object_get(root, "landmark_net_inputs")); i++)
            ok = json_number_value(json_object_get(json_array_get(json_object_get(root, "landmark_net_inputs"), i), "size")) == 112 &&
                 json_number_value(json_object_get(json_array_get(json_object_get(root, "descriptor_net_inputs"), i), "size")) == 150;
        for (int p = 0; ok && p < 2; p++) {
            const json_t *samples_v = json_object_get(probes[p], "samples");
            double size = json_number_value(json_object_get(probes[p], "size"));
            ok = is_rows(samples_v, 8, 5) && json_number_value(json_object_get(probes[p], "sum")) > 0;
            for (size_t k = 0; ok && k < 8; k++) {
                const json_t *row = json_array_get(samples_v, k);
                ok = num(row, 0) == fmod(97.0 * (double)k + 13, size) &&
                     num(row, 1) == fmod(61.0 * (double)k + 29, size);
                for (size_t c = 2; ok && c < 5; c++) ok = num(row, c) >= 0 && num(row, c) <= 255;
            }
        }
        json_decref(root);
        CHECK(ok);
    }
}

/* One value of face-api's network input before normalisation: the crop [x, y, w, h] of img
 * padded to a square with zeros (centred: the larger half, rounded up, after the image;
 * otherwise all of it after), then resized to size x size by bilinear interpolation without
 * half-pixel centres (source = scale * destination). */
static double net_input_value(const fr_image *img, const double crop[4], int size, int centred,
                              int y, int x, int c) {
    int cw = (int)crop[2], ch = (int)crop[3], side = cw > ch ? cw : ch;
    int d = abs(cw - ch), before = centred ? d - (d + 1) / 2 : 0;
    int off_x = ch > cw ? before : 0, off_y = cw > ch ? before : 0;
    double scale = (double)side / size, sy = scale * y, sx = scale * x;
    int y0 = (int)floor(sy), x0 = (int)floor(sx);
    int y1 = (int)fmin(side - 1, ceil(sy)), x1 = (int)fmin(side - 1, ceil(sx));
    int ys[2] = {y0, y1}, xs[2] = {x0, x1};
    double p[2][2];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            int iy = ys[i] - off_y, ix = xs[j] - off_x;
            p[i][j] = iy < 0 || iy >= ch || ix < 0 || ix >= cw ? 0.0
                      : img->rgb[((size_t)(crop[1] + iy) * (size_t)img->width + (size_t)(crop[0] + ix)) * 3 + (size_t)c];
        }
    }
    double top = p[0][0] + (p[0][1] - p[0][0]) * (sx - x0);
    double bottom = p[1][0] + (p[1][1] - p[1][0]) * (sx - x0);
    return (float)(top + (bottom - top) * (sy - y0));
}

/* Largest difference between a probe and the values net_input_value gives (its sum is
 * compared relatively). */
static double probe_error(const fr_image *img, const double crop[4], int centred, const json_t *probe) {
    int size = (int)json_number_value(json_object_get(probe, "size"));
    double worst = 0, sum = 0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) sum += net_input_value(img, crop, size, centred, y, x, c);
    double expect_sum = json_number_value(json_object_get(probe, "sum"));
    worst = fabs(sum - expect_sum) / fmax(1.0, fabs(expect_sum));
    const json_t *samples_v = json_object_get(probe, "samples");
    for (size_t k = 0; k < json_array_size(samples_v); k++) {
        const json_t *row = json_array_get(samples_v, k);
        for (int c = 0; c < 3; c++) {
            double v = net_input_value(img, crop, size, centred, (int)num(row, 0), (int)num(row, 1), c);
            worst = fmax(worst, fabs(v - num(row, 2 + (size_t)c)));
        }
    }
    return worst;
}

/* The probes of every network input follow from the decoded pixels by the padding and
 * resizing rules of FACEAPI_NOTES.md section 2. */
TEST(sample_net_inputs_follow_pixels) {
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", FR_TEST_MODELS_DIR, json_string_value(json_object_get(root, "image")));
        FILE *f = fopen(path, "rb");
        if (!f) {
            json_decref(root);
            SKIP("%s absent (run scripts/setup.sh)", path);
        }
        fclose(f);
        fr_image *img = NULL;
        fr_status loaded = fr_image_load(path, &img);
        if (loaded != FR_OK) json_decref(root);
        CHECK_OK(loaded);
        double whole[4] = {0, 0, img->width, img->height};
        double worst = fmax(probe_error(img, whole, 0, json_object_get(root, "ssd_net_input")),
                            probe_error(img, whole, 0, json_object_get(root, "tiny_net_input")));
        for (size_t i = 0; i < json_array_size(json_object_get(root, "landmark_crops")); i++) {
            double crop[4];
            read_box(json_array_get(json_object_get(root, "landmark_crops"), i), crop);
            worst = fmax(worst, probe_error(img, crop, 1, json_array_get(json_object_get(root, "landmark_net_inputs"), i)));
            read_box(json_array_get(json_object_get(root, "descriptor_crops"), i), crop);
            worst = fmax(worst, probe_error(img, crop, 1, json_array_get(json_object_get(root, "descriptor_net_inputs"), i)));
        }
        fr_image_free(img);
        json_decref(root);
        CHECK_NEAR(worst, 0.0, 1e-9);
    }
}

/* Our JPEG decoder gives the same bytes as djpeg did for the reference run. */
TEST(sample_pixels_match_decoder) {
    for (size_t s = 0; s < N_SAMPLES; s++) {
        json_t *root = load_fixture(samples[s]);
        CHECK(root != NULL);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", FR_TEST_MODELS_DIR, json_string_value(json_object_get(root, "image")));
        double expect = json_number_value(json_object_get(root, "image_rgb_checksum"));
        int width = (int)json_number_value(json_object_get(root, "width")), height = (int)json_number_value(json_object_get(root, "height"));
        json_decref(root);
        FILE *f = fopen(path, "rb");
        if (!f) SKIP("%s absent (run scripts/setup.sh)", path);
        fclose(f);
        fr_image *img = NULL;
        CHECK_OK(fr_image_load(path, &img));
        int same_size = img->width == width && img->height == height;
        uint32_t sum = 0;
        size_t n = (size_t)img->width * (size_t)img->height * 3;
        for (size_t i = 0; i < n; i++) sum += (uint32_t)img->rgb[i] * (uint32_t)(i % 251 + 1);
        fr_image_free(img);
        CHECK(same_size);
        if ((double)sum != expect)
            fprintf(stderr, "%s: decoded pixels fingerprint %u, reference %.0f\n", path, (unsigned)sum, expect);
        CHECK((double)sum == expect);
    }
}

TEST(synthetic_structure) {
    json_t *root = load_fixture("synthetic");
    CHECK(root != NULL);
    const json_t *shape = json_object_get(root, "tiny_raw_shape");
    size_t cells = 1;
    for (size_t i = 0; i < json_array_size(shape); i++) cells *= (size_t)num(shape, i);
    const json_t *top = json_object_get(json_object_get(root, "ssd_raw"), "top");
    int ok = json_string_value(json_object_get(root, "pattern")) != NULL &&
             is_numbers(json_object_get(root, "descriptor"), 128) &&
             is_numbers(json_object_get(root, "landmarks68_raw"), 136) &&
             is_numbers(json_object_get(root, "landmarks68_tiny_raw"), 136) &&
             is_numbers(json_object_get(root, "descriptor_input"), 2) &&
             is_numbers(json_object_get(root, "landmarks_input"), 2) &&
             is_numbers(json_object_get(root, "ssd_input"), 2) && is_numbers(json_object_get(root, "tiny_input"), 2) &&
             is_numbers(shape, 4) && cells == 13 * 13 * 25 &&
             is_numbers(json_object_get(root, "tiny_raw"), cells) &&
             json_number_value(json_object_get(json_object_get(root, "ssd_raw"), "num_anchors")) == 5118 && json_array_size(top) == 20;
    double previous = DBL_MAX;
    for (size_t t = 0; ok && t < json_array_size(top); t++) {
        double score = json_number_value(json_object_get(json_array_get(top, t), "score"));
        double index = json_number_value(json_object_get(json_array_get(top, t), "index"));
        ok = score <= previous && score > 0 && index >= 0 && index < 5118 &&
             is_numbers(json_object_get(json_array_get(top, t), "box"), 4);
        previous = score;
    }
    json_decref(root);
    CHECK(ok);
}

TEST_MAIN(CASE(sample_structure), CASE(sample_crops_follow_boxes),
          CASE(sample_landmarks_follow_raw_output), CASE(sample_aligned_boxes_follow_landmarks),
          CASE(sample_ssd_boxes_follow_raw_output), CASE(sample_net_input_probes),
          CASE(sample_net_inputs_follow_pixels), CASE(sample_pixels_match_decoder),
          CASE(synthetic_structure))
