/* test_cli.c: the command-line front end as a user meets it: --help, --version, and bad
 * input (truncated JPEG, garbage, a PNG claiming 100000x100000 pixels, a missing file),
 * each of which must end with an error naming the file, a non-zero exit and bounded memory. */
#define _DEFAULT_SOURCE /* wait4 */
#include "common/json_read.h"
#include "facerec.h"
#include "test.h"

#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run the CLI with args; capture stdout+stderr into out (NUL-terminated), the exit status and
 * the child's peak resident memory in KiB. Returns 0 on failure to run. */
static int run_cli(const char *const *args, char *out, size_t outsz, int *status, long *maxrss_kb) {
    int fds[2];
    if (pipe(fds) != 0) return 0;
    pid_t pid = fork();
    if (pid < 0) return 0;
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)FR_TEST_CLI;
        for (; args[n - 1] && n < 15; n++) argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv(FR_TEST_CLI, argv);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t got;
    while ((got = read(fds[0], out + used, outsz - 1 - used)) > 0) used += (size_t)got;
    out[used] = '\0';
    close(fds[0]);
    struct rusage ru;
    int st;
    if (wait4(pid, &st, 0, &ru) != pid) return 0;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    *maxrss_kb = ru.ru_maxrss;
    return 1;
}

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
    char out[8192];
    int status;
    long rss;
    const char *help[] = {"--help", NULL};
    CHECK(run_cli(help, out, sizeof out, &status, &rss));
    CHECK(status == 0);
    CHECK(strstr(out, "detect") && strstr(out, "embed"));
    const char *version[] = {"--version", NULL};
    CHECK(run_cli(version, out, sizeof out, &status, &rss));
    CHECK(status == 0);
    CHECK(strstr(out, fr_version()) != NULL);
    const char *detect_help[] = {"detect", "--help", NULL};
    CHECK(run_cli(detect_help, out, sizeof out, &status, &rss));
    CHECK(status == 0 && strstr(out, "usage: facerec detect"));
    const char *unknown[] = {"no-such-command", NULL};
    CHECK(run_cli(unknown, out, sizeof out, &status, &rss));
    CHECK(status != 0 && strstr(out, "no-such-command"));
}

/* Each bad file: non-zero exit, the file named in the message, peak memory under 400 MB. */
static void expect_refusal(const char *path, const char *reason_word) {
    char out[8192];
    int status;
    long rss_kb;
    const char *args[] = {"detect", path, NULL};
    CHECK(run_cli(args, out, sizeof out, &status, &rss_kb));
    if (status == 0 || !strstr(out, path) || !strstr(out, reason_word) || rss_kb > 400 * 1024) {
        fprintf(stderr, "  %s: exit %d, peak %ld KiB, output: %s\n", path, status, rss_kb, out);
        test_failures_++;
    }
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
    char out[8192];
    int status;
    long rss;
    const char *args[] = {"detect", "--models", FR_TEST_TMP_DIR "/no-models-here", "x.jpg", NULL};
    CHECK(run_cli(args, out, sizeof out, &status, &rss));
    CHECK(status != 0);
    CHECK(strstr(out, FR_TEST_TMP_DIR "/no-models-here/") != NULL);
    CHECK(strstr(out, "model file not found") != NULL);
    CHECK(strstr(out, "scripts/setup.sh") != NULL);
}

/* The whole chain from the command line against face-api.js itself: every face of the demo
 * photo found, each embedding within 0.001 (L2) of the reference's descriptor made unit
 * length (facerec's embeddings are unit vectors). */
TEST(embed_matches_faceapi) {
    if (!have_models()) SKIP("models absent (run scripts/setup.sh)");
    json_t *fixture;
    CHECK_OK(read_json_file(FR_TEST_FIXTURES_DIR "/faceapi/sample1.json", &fixture));
    static char out[1 << 20];
    int status;
    long rss;
    const char *args[] = {"embed", "--json", "--detector", "ssd", "--model", "dlib-resnet",
                          "--align", "faceapi", "--no-flip", FR_TEST_MODELS_DIR "/face-api/demo/sample1.jpg", NULL};
    int ran = run_cli(args, out, sizeof out, &status, &rss);
    json_t *got = NULL;
    fr_status parsed = ran && status == 0 ? parse_json_text(out, strlen(out), "facerec embed output", &got)
                                          : FR_E_IO;
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
    if (!ok) fprintf(stderr, "  exit %d, output starts: %.300s\n", status, out);
    CHECK(ok);
}

TEST_MAIN(CASE(help_and_version), CASE(bad_images_are_refused), CASE(missing_model_names_file_and_fix),
          CASE(embed_matches_faceapi))
