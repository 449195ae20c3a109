/* test_relight.c: the relit test set's generator (tools/eval/relight.c): the same light and
 * seed give the same bytes, the lit side is the lamp's side, the lights stay in their bands,
 * and the split by person is disjoint and independent of the list's order. */
#include "eval/eval.h"
#include "test.h"

#include <stdint.h>

#define W 170
#define H 190

/* 68 points of a frontal face filling a 170x190 crop (the order of the 68-point
 * annotation: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67). */
static void frontal_landmarks(float lm[68][2]) {
    for (int i = 0; i <= 16; i++) { /* the jaw, a U from ear to ear */
        double t = 3.14159265 * i / 16.0;
        lm[i][0] = (float)(85 - 70 * cos(t));
        lm[i][1] = (float)(80 + 95 * sin(t));
    }
    for (int i = 0; i < 5; i++) {
        lm[17 + i][0] = 35.0f + 10 * i, lm[17 + i][1] = 62;  /* left brow */
        lm[22 + i][0] = 95.0f + 10 * i, lm[22 + i][1] = 62;  /* right brow */
    }
    for (int i = 0; i < 4; i++) lm[27 + i][0] = 85, lm[27 + i][1] = 78.0f + 12 * i;
    for (int i = 0; i < 5; i++) lm[31 + i][0] = 73.0f + 6 * i, lm[31 + i][1] = 118;
    for (int i = 0; i < 6; i++) {
        double t = 2 * 3.14159265 * i / 6.0;
        lm[36 + i][0] = (float)(55 - 12 * cos(t)), lm[36 + i][1] = (float)(82 - 4 * sin(t));
        lm[42 + i][0] = (float)(115 - 12 * cos(t)), lm[42 + i][1] = (float)(82 - 4 * sin(t));
    }
    for (int i = 0; i < 20; i++) {
        double t = 2 * 3.14159265 * i / 20.0;
        lm[48 + i][0] = (float)(85 - 25 * cos(t)), lm[48 + i][1] = (float)(145 - 8 * sin(t));
    }
}

/* A textured grey face crop (the albedo). */
static fr_image *textured_crop(void) {
    fr_image *img;
    if (fr_image_new(W, H, &img) != FR_OK) return NULL;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t v = (uint8_t)(150 + 40 * sin(x / 7.0) * cos(y / 9.0));
            memset(img->rgb + ((size_t)y * W + x) * 3, v, 3);
        }
    return img;
}

/* Mean level of the rectangle [x0, x1) x [y0, y1). */
static double mean_level(const fr_image *img, int x0, int x1, int y0, int y1) {
    double sum = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) sum += img->rgb[((size_t)y * img->width + x) * 3];
    return sum / ((double)(x1 - x0) * (y1 - y0));
}

TEST(same_seed_same_bytes) {
    float lm[68][2];
    frontal_landmarks(lm);
    fr_image *crop = textured_crop();
    CHECK(crop);
    uint64_t state = 16;
    eval_light light;
    eval_light_draw(&state, 3, &light);
    fr_image *a = NULL, *b = NULL, *c = NULL;
    fr_status st = eval_relight_face(crop, lm, &light, 7, &a);
    if (st == FR_OK) st = eval_relight_face(crop, lm, &light, 7, &b);
    if (st == FR_OK) st = eval_relight_face(crop, lm, &light, 8, &c);
    int same = st == FR_OK && !memcmp(a->rgb, b->rgb, (size_t)W * H * 3);
    int differs = st == FR_OK && memcmp(a->rgb, c->rgb, (size_t)W * H * 3) != 0;
    /* and the draw itself repeats */
    uint64_t again = 16;
    eval_light light2;
    eval_light_draw(&again, 3, &light2);
    fr_image_free(a), fr_image_free(b), fr_image_free(c), fr_image_free(crop);
    CHECK_OK(st);
    CHECK(same);
    CHECK(differs); /* the noise comes from the seed */
    CHECK(!memcmp(&light, &light2, sizeof light));
}

/* A lamp from the image's left lights the left cheek and leaves the right one dark, and the
 * other way round; from above, the forehead is brighter than the chin. */
TEST(lit_side_is_the_lamps) {
    float lm[68][2];
    frontal_landmarks(lm);
    fr_image *crop = textured_crop();
    CHECK(crop);
    const float phis[3] = {180, 0, 270}; /* from the left, the right, above */
    double left[3], right[3], upper[3], lower[3];
    for (int k = 0; k < 3; k++) {
        eval_light light = {60, phis[k], 0.05f, 0.6f, 1.5f, 0};
        fr_image *lit = NULL;
        fr_status st = eval_relight_face(crop, lm, &light, 1, &lit);
        CHECK_OK(st);
        left[k] = mean_level(lit, 25, 65, 90, 140);   /* left cheek */
        right[k] = mean_level(lit, 105, 145, 90, 140); /* right cheek */
        upper[k] = mean_level(lit, 50, 120, 25, 55);  /* forehead */
        lower[k] = mean_level(lit, 50, 120, 155, 175); /* chin */
        fr_image_free(lit);
    }
    fr_image_free(crop);
    CHECK(left[0] > 1.5 * right[0]);
    CHECK(right[1] > 1.5 * left[1]);
    CHECK(upper[2] > 1.5 * lower[2]);
    /* underexposure and gamma: darker than the unlit crop even on the lit side */
    CHECK(left[0] < 150);
}

/* A low lamp from the left leaves the right side of the nose dark and its left side lit
 * (the right side faces away and lies in the ridge's cast shadow). */
TEST(nose_casts_a_shadow) {
    float lm[68][2];
    frontal_landmarks(lm);
    fr_image *crop = NULL;
    CHECK_OK(fr_image_new(W, H, &crop));
    memset(crop->rgb, 200, (size_t)W * H * 3); /* a plain albedo */
    eval_light light = {75, 180, 0.05f, 1.0f, 2.2f, 0}; /* from the left, low */
    fr_image *lit = NULL;
    CHECK_OK(eval_relight_face(crop, lm, &light, 1, &lit));
    /* just right of the nose's ridge (in its shadow) and just left of it (lit) */
    double beside_nose = mean_level(lit, 92, 97, 100, 110);
    double lit_neighbour = mean_level(lit, 76, 81, 100, 110);
    fr_image_free(lit);
    fr_image_free(crop);
    CHECK(lit_neighbour > 2 * beside_nose + 1);
}

TEST(lights_stay_in_their_bands) {
    uint64_t state = 3;
    for (int b = 0; b < EVAL_RELIGHT_BANDS; b++)
        for (int i = 0; i < 200; i++) {
            eval_light l;
            eval_light_draw(&state, b, &l);
            CHECK(l.theta >= eval_relight_band[b][0] && l.theta <= eval_relight_band[b][1]);
            CHECK(l.phi >= 0 && l.phi < 360 && !(l.phi > 20 && l.phi < 160)); /* not from below */
            CHECK(l.exposure < 1 && l.gamma < 2.2f && l.noise >= 1);
        }
}

TEST(split_is_disjoint_and_order_free) {
    const char *names[9] = {"orl-s1", "orl-s2", "orl-s3", "orl-s4", "orl-s5",
                            "orl-s6", "orl-s7", "orl-s8", "orl-s9"};
    const char *reversed[9];
    for (int i = 0; i < 9; i++) reversed[i] = names[8 - i];
    int half[9], half_rev[9], other_seed[9];
    CHECK_OK(eval_relight_split(names, 9, 16, half));
    CHECK_OK(eval_relight_split(reversed, 9, 16, half_rev));
    CHECK_OK(eval_relight_split(names, 9, 17, other_seed));
    int first = 0, differs = 0;
    for (int i = 0; i < 9; i++) {
        CHECK(half[i] == 0 || half[i] == 1); /* each person in exactly one half */
        first += half[i] == 0;
        CHECK(half_rev[8 - i] == half[i]);
        differs |= other_seed[i] != half[i];
    }
    CHECK(first == 4);
    CHECK(differs);
}

TEST(bad_light_refused) {
    float lm[68][2];
    frontal_landmarks(lm);
    fr_image *crop = textured_crop(), *out = NULL;
    CHECK(crop);
    eval_light light = {95, 0, 0.05f, 0.5f, 1.5f, 1}; /* behind the face */
    fr_status st = eval_relight_face(crop, lm, &light, 1, &out);
    fr_image_free(crop);
    CHECK(st == FR_E_ARG && !out);
}

TEST_MAIN(CASE(same_seed_same_bytes), CASE(lit_side_is_the_lamps), CASE(nose_casts_a_shadow),
          CASE(lights_stay_in_their_bands), CASE(split_is_disjoint_and_order_free),
          CASE(bad_light_refused))
