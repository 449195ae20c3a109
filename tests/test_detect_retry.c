/* test_detect_retry.c: the retry with a border (for photos that are one tight face) runs on
 * a copy bounded in pixels: a large photo with no face is "no face", not an error, a long thin
 * image stays cheap, and a tight face in a large photo is still found where it is. */
#include "facerec.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>

#define ORL_FACE FR_TEST_DATA_DIR "/orl_faces/s1/1.pgm"

static fr_status open_engine(const char *detector, int retry, fr_engine **eng) {
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.retry_padded = retry;
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.detector = detector;
    cfg.load_embedder = 0;
    return fr_engine_open(&cfg, eng);
}

/* A smooth image with nothing like a face: a diagonal colour gradient. */
static fr_status gradient(int w, int h, fr_image **out) {
    fr_status st = fr_image_new(w, h, out);
    if (st != FR_OK) return st;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = (*out)->rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(255 * x / w);
            p[1] = (uint8_t)(255 * y / h);
            p[2] = (uint8_t)(128 + 64 * ((x + y) % 2));
        }
    return FR_OK;
}

/* Sizes whose bordered copy at full size would be over the 50-megapixel limit (a 12-megapixel
 * phone photo, a 7000x20 strip) or needlessly large (4000x20: 8000x4020). */
TEST(large_photos_without_a_face_are_no_face) {
    static const int sizes[][2] = {{4032, 3024}, {7000, 20}, {4000, 20}, {20, 4000}, {1, 1}};
    fr_engine *eng;
    CHECK_OK(open_engine("tiny", 1, &eng));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fr_image *img;
        CHECK_OK(gradient(sizes[i][0], sizes[i][1], &img));
        fr_face *faces = NULL;
        int n = -1;
        fr_status st = fr_detect(eng, img, &faces, &n);
        if (st != FR_OK)
            fprintf(stderr, "%dx%d: %s\n", sizes[i][0], sizes[i][1], fr_last_error());
        fr_faces_free(faces);
        fr_image_free(img);
        if (st != FR_OK || n != 0) fr_engine_close(eng);
        CHECK(st == FR_OK);
        CHECK(n == 0);
    }
    fr_engine_close(eng);
}

/* An ORL face (92x112) enlarged 12 times, which SSD finds only with the retry: the retry on the small
 * copy finds it, with its box and points 12 times those found in the original. */
TEST(tight_face_in_a_large_photo_is_found_in_place) {
    struct stat sb;
    if (stat(ORL_FACE, &sb) != 0) SKIP("%s absent", ORL_FACE);
    fr_engine *eng, *no_retry;
    CHECK_OK(open_engine("ssd", 1, &eng));
    CHECK_OK(open_engine("ssd", 0, &no_retry));
    fr_image *small, *large = NULL;
    CHECK_OK(fr_image_load(ORL_FACE, &small));
    fr_face *a = NULL, *b = NULL, *c = NULL;
    int na = 0, nb = 0, nc = -1;
    fr_status st = fr_detect(eng, small, &a, &na);
    if (st == FR_OK) st = fr_image_resize(small, small->width * 12, small->height * 12, &large);
    if (st == FR_OK) st = fr_detect(eng, large, &b, &nb);
    if (st == FR_OK) st = fr_detect(no_retry, large, &c, &nc);
    fr_faces_free(c);
    fr_engine_close(eng);
    fr_engine_close(no_retry);
    fr_image_free(small);
    fr_image_free(large);
    CHECK_OK(st);
    CHECK(nc == 0); /* only the retry finds it */
    int ok = na == 1 && nb == 1;
    if (ok) {
        fprintf(stderr, "box %.1f %.1f %.1f %.1f, enlarged %.1f %.1f %.1f %.1f\n", a->x, a->y,
                a->w, a->h, b->x / 12, b->y / 12, b->w / 12, b->h / 12);
        float tol = 0.08f * a->w; /* detection at another scale: a few pixels of the original */
        ok = fabsf(b->x / 12 - a->x) < tol && fabsf(b->y / 12 - a->y) < tol &&
             fabsf(b->w / 12 - a->w) < tol && fabsf(b->h / 12 - a->h) < tol &&
             a->n_landmarks == b->n_landmarks && a->n_landmarks > 0;
        for (int k = 0; ok && k < a->n_landmarks; k++)
            ok = fabsf(b->landmarks[k][0] / 12 - a->landmarks[k][0]) < tol &&
                 fabsf(b->landmarks[k][1] / 12 - a->landmarks[k][1]) < tol;
    }
    fr_faces_free(a);
    fr_faces_free(b);
    CHECK(ok);
}

TEST_MAIN(CASE(large_photos_without_a_face_are_no_face),
          CASE(tight_face_in_a_large_photo_is_found_in_place))
