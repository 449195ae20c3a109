/* test_photometric.c: the photometric normalisations of aligned crops (src/face/photometric.c):
 * names; both methods against their reference output (tests/reference/photometric.py, numpy
 * float64, fixture tests/data/photometric/reference.json); histogram equalisation spreading a
 * dark crop's levels, and Tan and Triggs's normalisation undoing underexposure (a crop and
 * the same crop at a fraction of the light come out nearly alike) and a smooth shading ramp
 * across the face. */
#include "common/json_read.h"
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

/* Our output against the reference's: float32 against float64 may round a level the other
 * way, so each 8-bit value may differ by 1, and at most 1% of them at all. */
#define REFERENCE_MAX_LEVELS 1
#define REFERENCE_MAX_SHARE 0.01

/* Compares n values of ours (every `stride`-th byte of got) with the fixture's array. */
static int matches_reference(const char *name, const uint8_t *got, size_t stride,
                             const json_t *want, size_t n) {
    if (json_array_size(want) != n) {
        fprintf(stderr, "  %s: the fixture has %zu values, expected %zu\n", name,
                json_array_size(want), n);
        return 0;
    }
    int max_diff = 0;
    size_t n_diff = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)got[i * stride] - (int)json_number_value(json_array_get(want, i)));
        max_diff = d > max_diff ? d : max_diff;
        n_diff += d != 0;
    }
    printf("  %s against the reference: %zu of %zu values differ, by at most %d\n", name, n_diff,
           n, max_diff);
    return max_diff <= REFERENCE_MAX_LEVELS && n_diff <= REFERENCE_MAX_SHARE * (double)n;
}

TEST(matches_the_reference) {
    json_t *fx;
    CHECK_OK(read_json_file(FR_TEST_FIXTURES_DIR "/photometric/reference.json", &fx));
    int w = (int)json_number_value(json_object_get(fx, "width"));
    int h = (int)json_number_value(json_object_get(fx, "height"));
    const json_t *input = json_object_get(fx, "input");
    size_t n = (size_t)w * (size_t)h;
    fr_image *histeq = NULL, *tan_triggs = NULL;
    float *scratch = malloc(3 * n * sizeof *scratch);
    int ok = w > 0 && h > 0 && json_array_size(input) == 3 * n && scratch &&
             fr_image_new(w, h, &histeq) == FR_OK && fr_image_new(w, h, &tan_triggs) == FR_OK;
    if (ok) {
        for (size_t i = 0; i < 3 * n; i++)
            histeq->rgb[i] = tan_triggs->rgb[i] =
                (uint8_t)json_number_value(json_array_get(input, i));
        photometric_apply(PHOTOMETRIC_HISTEQ, histeq, scratch);
        photometric_apply(PHOTOMETRIC_TAN_TRIGGS, tan_triggs, scratch);
    }
    int histeq_ok =
        ok && matches_reference("histeq", histeq->rgb, 1, json_object_get(fx, "histeq"), 3 * n);
    int tan_triggs_ok = ok;
    static const char *const channel[3] = {"tan-triggs R", "tan-triggs G", "tan-triggs B"};
    for (int c = 0; ok && c < 3; c++) /* the same level in R, G and B */
        tan_triggs_ok &= matches_reference(channel[c], tan_triggs->rgb + c, 3,
                                           json_object_get(fx, "tan_triggs"), n);
    fr_image_free(histeq);
    fr_image_free(tan_triggs);
    free(scratch);
    json_decref(fx);
    CHECK(ok);
    CHECK(histeq_ok);
    CHECK(tan_triggs_ok);
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

TEST_MAIN(CASE(names), CASE(matches_the_reference), CASE(histeq_spreads_a_dark_crop),
          CASE(tan_triggs_undoes_exposure_and_shading))
