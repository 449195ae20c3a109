/* test_cli.c: the command-line front end as a user meets it: --help, --version, and bad
 * input (truncated JPEG, garbage, a PNG claiming 100000x100000 pixels, a missing file),
 * each of which must end with an error naming the file, a non-zero exit and bounded memory. */
#include "common/json_read.h"
#include "facerec.h"
#include "run.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>

static int have_models(void) {
    struct stat st;
    return stat(FR_TEST_MODELS_DIR "/face-api/model/ssd_mobilenetv1_model.bin", &st) == 0;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

TEST(help_and_version) {
    test_run r = {0};
    CHECK(test_run_cli(&r, "--help", NULL) == 0);
    CHECK(strstr(r.out, "detect") && strstr(r.out, "embed"));
    CHECK(strstr(r.out, "exit status: 0 success; 1 the answer is no") != NULL);
    CHECK(test_run_cli(&r, "--version", NULL) == 0);
    CHECK(strstr(r.out, fr_version()) != NULL);
    char level[64];
    snprintf(level, sizeof level, "(kernels: %s)", fr_kernel_level());
    CHECK(strstr(r.out, level) != NULL);
    /* FACEREC_ISA lowers the level of the process it is given to */
    const char *isa = getenv("FACEREC_ISA");
    char *saved = isa ? strdup(isa) : NULL;
    setenv("FACEREC_ISA", "generic", 1);
    int status = test_run_cli(&r, "--version", NULL);
    if (saved) setenv("FACEREC_ISA", saved, 1);
    else unsetenv("FACEREC_ISA");
    free(saved);
    CHECK(status == 0 && strstr(r.out, "(kernels: generic)") != NULL);
    CHECK(test_run_cli(&r, "detect", "--help", NULL) == 0);
    CHECK(strstr(r.out, "usage: facerec detect"));
    CHECK(test_run_cli(&r, "no-such-command", NULL) == 2);
    CHECK(strstr(r.err, "no-such-command"));
    CHECK(test_run_cli(&r, "detect", "--no-such-option", "x.jpg", NULL) == 2);
    test_run_free(&r);
}

/* Every command's --help names the defaults the code has. */
TEST(help_names_the_real_defaults) {
    test_run r = {0};
    fr_config cfg;
    fr_config_init(&cfg);
    char line[128];
    snprintf(line, sizeof line, "--detector NAME     face detector (default %s)", cfg.detector);
    CHECK(test_run_cli(&r, "detect", "--help", NULL) == 0);
    CHECK(strstr(r.out, line) != NULL);
    /* mtcnn's own 5 points are what detect prints by default, not 68 */
    CHECK(strstr(r.out, "5 points with mtcnn, the\ndefault") != NULL);
    CHECK(test_run_cli(&r, "watch", "--help", NULL) == 0);
    CHECK(strstr(r.out, "face detector (default blazeface-full)") != NULL);
    CHECK(test_run_cli(&r, "verify", "--help", NULL) == 0);
    CHECK(strstr(r.out, "calibration shipped") != NULL);
    test_run_free(&r);
}

/* Every numeric option refuses what is not wholly a number in its range: exit 2, the option and
 * the value named, instead of atoi's silent 0 (--threads x meant all cores). */
TEST(bad_numbers_are_usage_errors) {
    static const struct {
        const char *command, *option;
    } options[] = {
        {"detect", "--threads"},        {"detect", "--min-score"},      {"detect", "--pad"},
        {"detect", "--align-scale"},    {"embed", "--threads"},         {"enroll", "--min-score"},
        {"identify", "--threshold"},    {"identify", "--fpir"},         {"identify", "--candidates"},
        {"identify", "--threads"},      {"verify", "--far"},            {"verify", "--threshold"},
        {"calibrate", "--pad"},         {"info", "--fpir"},             {"eval", "--fpir"},
        {"train", "--epochs"},          {"train", "--lr"},              {"train", "--beta1"},
        {"train", "--beta2"},           {"train", "--eps"},             {"train", "--weight-decay"},
        {"train", "--alpha"},           {"train", "--augment"},         {"train", "--hidden"},
        {"train", "--seed"},            {"train", "--batch"},           {"train", "--holdout"},
        {"watch", "--threshold"},
        {"watch", "--fpir"},            {"watch", "--size"},            {"watch", "--detect-every"},
        {"watch", "--votes"},           {"watch", "--recheck"},         {"watch", "--cooldown"},
        {"watch", "--threads"},
    };
    /* not a number, trailing junk, empty, not finite, out of any option's range: each option
     * gets one in turn (one helper parses them all), each value several options (a facerec
     * process per case: they take a second each to start on a loaded machine) */
    static const char *bad_values[] = {"x", "3x", "", "nan", "inf", "1e999", "-5", "99999999999"};
    const size_t n_options = sizeof options / sizeof options[0];
    const size_t n_values = sizeof bad_values / sizeof bad_values[0];
    test_run r = {0};
    for (size_t o = 0; o < n_options; o++) {
        const char *value = bad_values[o % n_values];
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", value);
        /* eval takes its evaluation's name first */
        int status = !strcmp(options[o].command, "eval")
                         ? test_run_cli(&r, "eval", "lfw", options[o].option, value, NULL)
                         : test_run_cli(&r, options[o].command, options[o].option, value, NULL);
        if (status != 2 || !strstr(r.err, options[o].option) || !strstr(r.err, quoted)) {
            fprintf(stderr, "  facerec %s %s '%s': exit %d, stderr: %s\n", options[o].command,
                    options[o].option, value, status, r.err);
            test_failures_++;
        }
    }
    /* the range is checked, not only the form */
    CHECK(test_run_cli(&r, "verify", "--far", "0", "a.jpg", "b.jpg", NULL) == 2);
    CHECK(strstr(r.err, "(0, 1]") != NULL);
    CHECK(test_run_cli(&r, "detect", "--threads", "0", "a.jpg", NULL) == 2);
    CHECK(test_run_cli(&r, "detect", "--min-score", "1.5", "a.jpg", NULL) == 2);
    CHECK(test_run_cli(&r, "identify", "--candidates", "2.5", "a.jpg", NULL) == 2);
    test_run_free(&r);
}

/* Each bad file: an input error (exit 4), the file named in the message, peak memory under
 * 400 MB. */
static void expect_refusal(const char *path, const char *reason_word) {
    test_run r = {0};
    int status = test_run_cli(&r, "detect", path, NULL);
    if (status != 4 || !strstr(r.err, path) || !strstr(r.err, reason_word) ||
        r.max_rss_kb > 400 * 1024) {
        fprintf(stderr, "  %s: exit %d, peak %ld KiB, stderr: %s\n", path, status, r.max_rss_kb,
                r.err);
        test_failures_++;
    }
    test_run_free(&r);
}

TEST(bad_images_are_refused) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    /* A truncated JPEG: the first half of one our own encoder wrote. */
    fr_image *img;
    CHECK_OK(fr_image_new(640, 480, &img));
    for (int i = 0; i < 640 * 480 * 3; i++) img->rgb[i] = (uint8_t)(i * 7 + i / 1920);
    uint8_t *jpeg;
    size_t jpeg_size;
    CHECK_OK(fr_image_encode_jpeg(img, 90, &jpeg, &jpeg_size));
    fr_image_free(img);
    const char *truncated = FR_TEST_TMP_DIR "/cli_truncated.jpg";
    write_file(truncated, jpeg, jpeg_size / 2);
    free(jpeg);
    expect_refusal(truncated, "JPEG");

    uint8_t garbage[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    const char *garbage_path = FR_TEST_TMP_DIR "/cli_garbage.jpg";
    write_file(garbage_path, garbage, sizeof garbage);
    expect_refusal(garbage_path, "format");

    /* A valid PNG signature and IHDR (correct CRC) claiming 100000 x 100000 RGB pixels. */
    uint8_t png[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *ihdr = png + 8;
    put_be32(ihdr, 13);
    memcpy(ihdr + 4, "IHDR", 4);
    put_be32(ihdr + 8, 100000);
    put_be32(ihdr + 12, 100000);
    ihdr[16] = 8, ihdr[17] = 2, ihdr[18] = 0, ihdr[19] = 0, ihdr[20] = 0;
    put_be32(ihdr + 21, crc32_of(ihdr + 4, 17));
    uint8_t *iend = ihdr + 25;
    put_be32(iend, 0);
    memcpy(iend + 4, "IEND", 4);
    put_be32(iend + 8, crc32_of(iend + 4, 4));
    const char *huge = FR_TEST_TMP_DIR "/cli_huge.png";
    write_file(huge, png, sizeof png);
    expect_refusal(huge, "100000");

    expect_refusal(FR_TEST_TMP_DIR "/cli_does_not_exist.jpg", "No such file");
}

TEST(missing_model_names_file_and_fix) {
    test_run r = {0};
    /* a missing model is a model error: exit 5 */
    CHECK(test_run_cli(&r, "detect", "--models", FR_TEST_TMP_DIR "/no-models-here", "x.jpg", NULL) == 5);
    CHECK(strstr(r.err, FR_TEST_TMP_DIR "/no-models-here/") != NULL);
    CHECK(strstr(r.err, "model file not found") != NULL);
    CHECK(strstr(r.err, "scripts/setup.sh") != NULL);
    test_run_free(&r);
}

/* Exit 3 for a photo without a face (the other photos still done) and for a folder without
 * photos; verify: 0 same person, 1 different people, 3 no face. */
TEST(exit_statuses_of_answers) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    const char *blank = FR_TEST_TMP_DIR "/cli_blank.png";
    fr_image *img;
    CHECK_OK(fr_image_new(160, 120, &img));
    CHECK_OK(fr_image_save(img, blank, 0));
    fr_image_free(img);
    const char *sample = FR_TEST_MODELS_DIR "/face-api/demo/sample1.jpg";
    test_run r = {0};
    CHECK(test_run_cli(&r, "detect", blank, NULL) == 3);
    CHECK(strstr(r.out, "0 faces") != NULL);
    CHECK(test_run_cli(&r, "detect", blank, sample, NULL) == 3);
    CHECK(strstr(r.out, "sample1.jpg: 3 faces") != NULL);
    CHECK(test_run_cli(&r, "detect", sample, NULL) == 0);
    /* an unreadable file outranks a photo without a face */
    CHECK(test_run_cli(&r, "detect", blank, FR_TEST_TMP_DIR "/cli_does_not_exist.jpg", NULL) == 4);

    const char *empty = FR_TEST_TMP_DIR "/cli_empty_folder", *db = FR_TEST_TMP_DIR "/cli_empty.db";
    mkdir(empty, 0755);
    remove(db);
    CHECK(test_run_cli(&r, "enroll", "--db", db, empty, NULL) == 3);
    CHECK(strstr(r.out, "no photos in this folder") != NULL);
    CHECK(test_run_cli(&r, "calibrate", "--db", db, "--dir", empty, NULL) == 3);
    CHECK(test_run_cli(&r, "eval", "folder", empty, NULL) == 3);
    /* a gallery with nobody enrolled */
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(db, 1, &g));
    fr_gallery_close(g);
    CHECK(test_run_cli(&r, "identify", "--db", db, sample, NULL) == 3);
    CHECK(strstr(r.err, "nobody is enrolled") != NULL);
    CHECK(test_run_cli(&r, "list", "--db", FR_TEST_TMP_DIR "/cli_no_such.db", NULL) == 2);

    /* verify without a gallery (FACEREC_DB pointing nowhere): the model's shipped calibration;
     * a mirror image is the same person, a face and a blank are not comparable, two
     * different people of the demo photo differ */
    setenv("FACEREC_DB", FR_TEST_TMP_DIR "/cli_no_such.db", 1);
    CHECK(test_run_cli(&r, "verify", "--model", "mobilefacenet", blank, sample, NULL) == 3);
    CHECK(strstr(r.err, "no face found") != NULL);
    CHECK_OK(fr_image_load(sample, &img));
    fr_image *left, *right;
    CHECK_OK(fr_image_crop(img, 0, 0, img->width / 2, img->height, &left));
    CHECK_OK(fr_image_crop(img, img->width / 2, 0, img->width - img->width / 2, img->height, &right));
    fr_image_free(img);
    const char *left_path = FR_TEST_TMP_DIR "/cli_left.png", *right_path = FR_TEST_TMP_DIR "/cli_right.png";
    CHECK_OK(fr_image_save(left, left_path, 0));
    CHECK_OK(fr_image_save(right, right_path, 0));
    fr_image_free(left);
    fr_image_free(right);
    int status = test_run_cli(&r, "verify", "--model", "mobilefacenet", left_path, right_path, NULL);
    unsetenv("FACEREC_DB");
    CHECK(status == 1);
    CHECK(strstr(r.out, "different people") && strstr(r.out, "calibration shipped with facerec"));
    CHECK(test_run_cli(&r, "verify", "--model", "mobilefacenet", left_path, left_path, NULL) == 0);
    CHECK(strstr(r.out, "same person") != NULL);
    test_run_free(&r);
}

/* The whole chain from the command line against face-api.js itself: every face of the demo
 * photo found, each embedding within 0.001 (L2) of the reference's descriptor made unit
 * length (facerec's embeddings are unit vectors). */
TEST(embed_matches_faceapi) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    json_t *fixture;
    CHECK_OK(read_json_file(FR_TEST_FIXTURES_DIR "/faceapi/sample1.json", &fixture));
    test_run r = {0};
    int status = test_run_cli(&r, "embed", "--json", "--detector", "ssd", "--model", "dlib-resnet",
                              "--align", "faceapi", "--no-flip",
                              FR_TEST_MODELS_DIR "/face-api/demo/sample1.jpg", NULL);
    json_t *got = NULL;
    fr_status parsed = status == 0 ? parse_json_text(r.out, r.out_len, "facerec embed output", &got) : FR_E_IO;
    const json_t *want = json_object_get(fixture, "descriptors");
    const json_t *faces = json_object_get(got, "faces");
    int ok = parsed == FR_OK && json_array_size(faces) == json_array_size(want) && json_array_size(want) == 3;
    for (size_t i = 0; ok && i < json_array_size(want); i++) {
        const json_t *emb = json_object_get(json_array_get(faces, i), "embedding");
        const json_t *ref = json_array_get(want, i);
        ok = json_array_size(emb) == 128 && json_array_size(ref) == 128;
        double ref_norm = 0, d2 = 0;
        for (size_t k = 0; ok && k < 128; k++) ref_norm += pow(json_number_value(json_array_get(ref, k)), 2);
        ref_norm = sqrt(ref_norm);
        for (size_t k = 0; ok && k < 128; k++) {
            double d = json_number_value(json_array_get(emb, k)) - json_number_value(json_array_get(ref, k)) / ref_norm;
            d2 += d * d;
        }
        if (ok && sqrt(d2) >= 0.001) {
            fprintf(stderr, "  face %zu: distance %g to face-api.js's descriptor\n", i, sqrt(d2));
            ok = 0;
        }
    }
    json_decref(got);
    json_decref(fixture);
    if (!ok) fprintf(stderr, "  exit %d, output starts: %.300s\n", status, r.out);
    test_run_free(&r);
    CHECK(ok);
}

TEST_MAIN(CASE(help_and_version), CASE(help_names_the_real_defaults),
          CASE(bad_numbers_are_usage_errors), CASE(bad_images_are_refused),
          CASE(missing_model_names_file_and_fix), CASE(exit_statuses_of_answers),
          CASE(embed_matches_faceapi))
