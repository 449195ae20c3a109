/* test_cli_hardening.c: the CLI against careless or hostile input: identify's CSV quoted as
 * RFC 4180 does with each face's box, its JSON valid whatever the names and paths, names that
 * would garble the output refused, reading commands that never make a gallery, info failing
 * on a damaged one, and --candidates bounded by the gallery. */
#include "facerec.h"
#include "run.h"
#include "test.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>

#define WORK FR_TEST_TMP_DIR "/cli_hardening"
#define ORL FR_TEST_DATA_DIR "/orl_faces"
#define DB WORK "/people.db"
/* a file name with a comma, a quote, a line break and a byte that is not UTF-8 */
#define ODD_NAME "Smith, \"J\"\nphoto\xff.pgm"



static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int ok = in && out, c;
    while (ok && (c = fgetc(in)) != EOF) ok = fputc(c, out) != EOF;
    if (in) fclose(in);
    if (out) ok = fclose(out) == 0 && ok;
    return ok;
}

/* One CSV record of RFC 4180 from *p (advanced past it): its fields, at most max. */
static int csv_record(const char **p, char fields[][512], int max) {
    int n = 0;
    const char *s = *p;
    for (;;) {
        char *f = fields[n < max ? n : max - 1];
        size_t len = 0;
        if (*s == '"') {
            for (s++; *s && !(*s == '"' && s[1] != '"'); s++) {
                if (*s == '"') s++; /* a doubled quote */
                if (len < 511) f[len++] = *s;
            }
            if (*s == '"') s++;
        } else {
            for (; *s && *s != ',' && *s != '\n'; s++)
                if (len < 511) f[len++] = *s;
        }
        f[len] = '\0';
        n++;
        if (*s != ',') break;
        s++;
    }
    if (*s == '\n') s++;
    *p = s;
    return n;
}

static int gallery_made;

/* Two people from ORL; one named with a comma. */
TEST(identify_csv_is_rfc4180_with_boxes) {
    if (!test_exists(ORL "/s1/1.pgm")) SKIP("ORL faces not found in %s", ORL);
    mkdir(WORK, 0755);
    test_remove_db(DB);
    test_run r = {0};
    CHECK(test_run_cli(&r, "enroll", "--models", FR_TEST_MODELS_DIR, "--db", DB, "--name",
                       "Smith, John", ORL "/s1/1.pgm", NULL) == 0);
    CHECK(test_run_cli(&r, "enroll", "--models", FR_TEST_MODELS_DIR, "--db", DB, "--name", "Zoë",
                       ORL "/s2/1.pgm", NULL) == 0);
    gallery_made = 1;
    CHECK(copy_file(ORL "/s1/2.pgm", WORK "/" ODD_NAME));
    fr_image *black;
    CHECK_OK(fr_image_new(120, 120, &black));
    CHECK_OK(fr_image_save(black, WORK "/black.png", 0));
    fr_image_free(black);
    /* exit 3: black.png has no face (after the other photo is done) */
    CHECK(test_run_cli(&r, "identify", "--models", FR_TEST_MODELS_DIR, "--db", DB, WORK "/" ODD_NAME,
                       WORK "/black.png", NULL) == 3);
    char fields[8][512];
    const char *p = r.out;
    int n = csv_record(&p, fields, 8);
    if (n != 7) fprintf(stderr, "output:\n%s\n", r.out);
    CHECK(n == 7);
    CHECK(!strcmp(fields[0], WORK "/" ODD_NAME));
    CHECK(!strcmp(fields[1], "Smith, John"));
    char *end;
    double d = strtod(fields[2], &end), w = strtod(fields[5], NULL), h = strtod(fields[6], NULL);
    CHECK(!*end && d >= 0 && d < 2);
    CHECK(w > 20 && h > 20); /* the face's box: x, y, w, h */
    n = csv_record(&p, fields, 8);
    CHECK(n == 7 && !strcmp(fields[0], WORK "/black.png") && !strcmp(fields[1], "no_faces"));
    CHECK(*p == '\0');
    test_run_free(&r);
}

/* Every --json line parses, with any name or path (the byte that is not UTF-8 becomes
 * U+FFFD); --candidates far past the gallery is bounded by it. */
TEST(identify_json_is_valid) {
    if (!gallery_made) SKIP("needs the gallery of identify_csv_is_rfc4180_with_boxes");
    test_run r = {0};
    CHECK(test_run_cli(&r, "identify", "--json", "--candidates", "2000000000", "--models",
                       FR_TEST_MODELS_DIR, "--db", DB, WORK "/" ODD_NAME, WORK "/black.png",
                       NULL) == 3);
    json_error_t error;
    json_t *first = json_loadb(r.out, strcspn(r.out, "\n"), 0, &error);
    if (!first) fprintf(stderr, "line 1: %s\n%s\n", error.text, r.out);
    CHECK(first);
    const char *image = json_string_value(json_object_get(first, "image"));
    json_t *face = json_array_get(json_object_get(first, "faces"), 0);
    int ok = image && !strcmp(image, WORK "/Smith, \"J\"\nphoto\xEF\xBF\xBD.pgm") &&
             !strcmp(json_string_value(json_object_get(face, "identity")), "Smith, John") &&
             json_array_size(json_object_get(face, "candidates")) == 2 &&
             json_array_size(json_object_get(face, "box")) == 4;
    json_decref(first);
    CHECK(ok);
    const char *second = strchr(r.out, '\n') + 1;
    json_t *v = json_loads(second, 0, &error);
    CHECK(v);
    json_decref(v);
    test_run_free(&r);
}

TEST(names_that_garble_output_are_refused) {
    if (!gallery_made) SKIP("needs the gallery of identify_csv_is_rfc4180_with_boxes");
    const char *bad[] = {"unknown", "no_faces", "Eve\xE2\x80\xAEgpj.exe", "Eve\x1b[2J",
                         "Eve\xff"};
    test_run r = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int status = test_run_cli(&r, "enroll", "--models", FR_TEST_MODELS_DIR, "--db", DB,
                                  "--name", bad[i], ORL "/s3/1.pgm", NULL);
        if (status == 0) fprintf(stderr, "name %zu accepted\n", i);
        CHECK(status != 0);
        CHECK(strstr(r.err, "reserved") || strstr(r.err, "UTF-8") ||
              strstr(r.err, "control or text-direction"));
        CHECK(test_run_cli(&r, "rename", "--db", DB, "Zoë", bad[i], NULL) != 0);
    }
    CHECK(test_run_cli(&r, "list", "--db", DB, NULL) == 0);
    CHECK(strstr(r.out, "Zoë") && !strstr(r.out, "unknown"));
    test_run_free(&r);
}

/* identify, list, info and remove on an empty file or no file: an error, and no gallery made. */
TEST(reading_commands_never_make_a_gallery) {
    mkdir(WORK, 0755);
    const char *empty = WORK "/empty.db", *missing = WORK "/missing.db";
    test_remove_db(empty);
    test_remove_db(missing);
    FILE *f = fopen(empty, "wb");
    CHECK(f);
    fclose(f);
    /* each command's gallery (args[2]) is set below */
    const char *commands[][8] = {{"list", "--db", NULL, NULL},
                                 {"info", "--db", NULL, NULL},
                                 {"remove", "--db", NULL, "someone", NULL},
                                 {"identify", "--db", NULL, "--models", FR_TEST_MODELS_DIR,
                                  WORK "/black.png", NULL}};
    test_run r = {0};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        commands[i][2] = empty;
        int status = test_run_cli_args(&r, commands[i]);
        struct stat sb;
        CHECK(stat(empty, &sb) == 0);
        if (status == 0 || sb.st_size != 0) fprintf(stderr, "%s --db %s: status %d, %lld bytes\n",
                                                    commands[i][0], empty, status,
                                                    (long long)sb.st_size);
        CHECK(status != 0 && sb.st_size == 0);
        CHECK(!test_exists(WORK "/empty.db-wal") && !test_exists(WORK "/empty.db-shm"));
        CHECK(strstr(r.err, "empty.db"));
        commands[i][2] = missing;
        CHECK(test_run_cli_args(&r, commands[i]) != 0);
        CHECK(!test_exists(missing));
    }
    test_run_free(&r);
}

/* A gallery whose templates table is damaged: info says so and fails. */
TEST(info_fails_on_a_damaged_gallery) {
    mkdir(WORK, 0755);
    const char *path = WORK "/damaged.db";
    test_remove_db(path);
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "fusion", "0.3.0", 320));
    static float emb[320];
    for (unsigned p = 0; p < 12; p++) {
        for (int k = 0; k < 320; k++) emb[k] = (float)((p * 7919u + (unsigned)k * 104729u) % 1000u) / 1000.0f;
        fr_template t = {0};
        t.embedding = emb;
        t.source = "photo.jpg";
        t.sha256[0] = (uint8_t)p;
        t.w = t.h = 50;
        char name[16];
        snprintf(name, sizeof name, "person%u", p);
        CHECK_OK(fr_gallery_enroll(g, name, &t, 1));
    }
    fr_gallery_close(g);
    test_run r = {0};
    CHECK(test_run_cli(&r, "info", "--db", path, NULL) == 0);
    /* the templates table's root page: its cell pointers overwritten */
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *stmt;
    CHECK(sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_master WHERE name = 'templates'", -1,
                             &stmt, NULL) == SQLITE_OK);
    int root = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    CHECK(root > 1);
    FILE *f = fopen(path, "r+b");
    CHECK(f);
    fseek(f, (long)(root - 1) * 4096 + 12, SEEK_SET);
    for (int i = 0; i < 32; i++) fputc(0xEE, f);
    fclose(f);
    CHECK(test_run_cli(&r, "info", "--db", path, NULL) == 6); /* the gallery is corrupt */
    CHECK(strstr(r.err, "damaged.db") && strstr(r.err, "damaged"));
    test_run_free(&r);
}

TEST_MAIN(CASE(identify_csv_is_rfc4180_with_boxes), CASE(identify_json_is_valid),
          CASE(names_that_garble_output_are_refused), CASE(reading_commands_never_make_a_gallery),
          CASE(info_fails_on_a_damaged_gallery))
