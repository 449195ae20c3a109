/* test_photometric.c: the photometric normalisations of aligned crops (src/face/photometric.c):
 * names, histogram equalisation spreading a dark crop's levels, and Tan and Triggs's
 * normalisation undoing underexposure (a crop and the same crop at a fraction of the light
 * come out nearly alike) and a smooth shading ramp across the face. */
#include "face/photometric.h"
#include "test.h"

#include <stdint.h>

#define N 112

/* A textured crop under a light of gain `gain`, with an optional left-to-right ramp. */
static fr_image *crop(double gain, int ramp) {
    fr_image *img;
    if (fr_image_new(N, N, &img) != FR_OK) return NULL;
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            double albedo = 0.5 + 0.35 * sin(x / 3.0) * cos(y / 4.0);
            double light = gain * (ramp ? 0.15 + 0.85 * x / (N - 1.0) : 1.0);
            uint8_t v = (uint8_t)lround(255 * pow(albedo * light, 1 / 2.2));
            memset(img->rgb + ((size_t)y * N + x) * 3, v, 3);
        }
    return img;
}

static double mean_abs_diff(const fr_image *a, const fr_image *b) {
    double sum = 0;
    for (size_t i = 0; i < (size_t)N * N * 3; i++) sum += fabs((double)a->rgb[i] - b->rgb[i]);
    return sum / ((double)N * N * 3);
}

TEST(names) {
    photometric_kind k;
    CHECK_OK(photometric_find(NULL, &k));
    CHECK(k == PHOTOMETRIC_NONE);
    CHECK_OK(photometric_find("tan-triggs", &k));
    CHECK(k == PHOTOMETRIC_TAN_TRIGGS && !strcmp(photometric_name(k), "tan-triggs"));
    CHECK(photometric_find("clahe", &k) == FR_E_ARG && strstr(fr_last_error(), "clahe"));
}

TEST(histeq_spreads_a_dark_crop) {
    fr_image *dark = crop(0.15, 0);
    CHECK(dark);
    float scratch[3 * N * N];
    int lo = 255, hi = 0;
    photometric_apply(PHOTOMETRIC_HISTEQ, dark, scratch);
    for (size_t i = 0; i < (size_t)N * N; i++) {
        lo = dark->rgb[3 * i] < lo ? dark->rgb[3 * i] : lo;
        hi = dark->rgb[3 * i] > hi ? dark->rgb[3 * i] : hi;
    }
    fr_image_free(dark);
    CHECK(lo <= 5 && hi >= 250);
}

TEST(tan_triggs_undoes_exposure_and_shading) {
    static float scratch[3 * N * N];
    fr_image *bright = crop(1.0, 0), *dark = crop(0.25, 0), *ramp = crop(1.0, 1);
    CHECK(bright && dark && ramp);
    double before = mean_abs_diff(bright, dark), ramp_before = mean_abs_diff(bright, ramp);
    photometric_apply(PHOTOMETRIC_NONE, dark, scratch); /* none changes nothing */
    double unchanged = mean_abs_diff(bright, dark);
    photometric_apply(PHOTOMETRIC_TAN_TRIGGS, bright, scratch);
    photometric_apply(PHOTOMETRIC_TAN_TRIGGS, dark, scratch);
    photometric_apply(PHOTOMETRIC_TAN_TRIGGS, ramp, scratch);
    double after = mean_abs_diff(bright, dark), ramp_after = mean_abs_diff(bright, ramp);
    fr_image_free(bright), fr_image_free(dark), fr_image_free(ramp);
    printf("  mean |difference| to the well-lit crop: underexposed %.1f -> %.1f levels, shaded "
           "%.1f -> %.1f\n", before, after, ramp_before, ramp_after);
    CHECK(unchanged == before);
    CHECK(after < 0.2 * before);
    CHECK(ramp_after < 0.5 * ramp_before);
}

TEST_MAIN(CASE(names), CASE(histeq_spreads_a_dark_crop), CASE(tan_triggs_undoes_exposure_and_shading))
