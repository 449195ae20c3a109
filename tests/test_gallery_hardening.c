/* test_gallery_hardening.c: the gallery against hostile or careless input: non-finite
 * templates, names that would garble the output, private files that really erase, and
 * commands that read never writing. */
#include "facerec.h"
#include "gallery/gallery.h"
#include "nn/distance.h"
#include "test_backend.h"

#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIM 16


/* A unit vector of distinctive values made from seed. */
static void vector(float *v, unsigned seed) {
    double s = 0;
    for (int k = 0; k < DIM; k++) {
        v[k] = (float)((seed * 2654435761u + (unsigned)k * 40503u) % 1000003u) / 1000003.0f + 0.01f;
        s += (double)v[k] * v[k];
    }
    for (int k = 0; k < DIM; k++) v[k] = (float)(v[k] / sqrt(s));
}

static fr_status enroll_one(fr_gallery *g, const char *name, const float *emb, const char *source,
                            unsigned serial) {
    fr_template t = {0};
    t.embedding = emb;
    t.source = source;
    for (int i = 0; i < 4; i++) t.sha256[i] = (uint8_t)(serial >> (8 * i));
    t.w = t.h = 50;
    t.quality = 1;
    return fr_gallery_enroll(g, name, &t, 1);
}

static int sql(const char *path, const char *statement, const void *blob, int blob_size) {
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return 0;
    sqlite3_stmt *stmt;
    int ok = sqlite3_prepare_v2(db, statement, -1, &stmt, NULL) == SQLITE_OK;
    if (ok && blob) sqlite3_bind_blob(stmt, 1, blob, blob_size, SQLITE_STATIC);
    ok = ok && sqlite3_step(stmt) == SQLITE_DONE;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return ok;
}

/* The whole file (NULL if absent), its size in *size. */
static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    *size = 0;
    if (!f) return NULL;
    unsigned char *data = NULL;
    size_t cap = 0;
    for (;;) {
        if (*size == cap) {
            cap = cap ? 2 * cap : 65536;
            unsigned char *grown = realloc(data, cap);
            if (!grown) break;
            data = grown;
        }
        size_t got = fread(data + *size, 1, cap - *size, f);
        if (!got) break;
        *size += got;
    }
    fclose(f);
    return data;
}

static int contains(const unsigned char *data, size_t size, const void *needle, size_t n) {
    for (size_t i = 0; data && i + n <= size; i++)
        if (!memcmp(data + i, needle, n)) return 1;
    return 0;
}

/* ---- defect 2: non-finite templates ----------------------------------------------------- */

TEST(nan_template_in_the_file_is_refused_at_load) {
    const char *path = test_gallery("nan_template");
    fr_gallery *g;
    float a[DIM], b[DIM];
    vector(a, 1);
    vector(b, 2);
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "synthetic", "1.0.0", DIM));
    CHECK_OK(enroll_one(g, "Alice", a, "alice.jpg", 1));
    CHECK_OK(enroll_one(g, "Mallory", b, "mallory.jpg", 2));
    fr_gallery_close(g);
    /* one NaN coordinate in Mallory's template, as anyone who can write the file could */
    float poisoned[DIM];
    memcpy(poisoned, b, sizeof poisoned);
    poisoned[3] = NAN;
    char literal[256], update[512];
    test_blob_literal(poisoned, sizeof poisoned, literal, sizeof literal);
    snprintf(update, sizeof update, "UPDATE templates SET embedding = %s WHERE source = 'mallory.jpg'",
             literal);
    CHECK(test_sql(path, update) == 0);
    CHECK_OK(fr_gallery_open(path, 0, &g));
    fr_match m[2];
    int n_found = -1;
    fr_status st = fr_gallery_search(g, a, 1, 2, m, &n_found);
    const char *msg = fr_last_error();
    fr_gallery_close(g);
    CHECK(st == FR_E_DB);
    CHECK(strstr(msg, "Mallory") && strstr(msg, "non-finite"));
}

TEST(nan_distance_is_no_match) {
    float probe[DIM], tpl[DIM], probe_sq, tpl_sq, d = 0;
    vector(probe, 3);
    vector(tpl, 4);
    tpl[0] = NAN;
    nn_sq_norms(probe, 1, DIM, &probe_sq);
    nn_sq_norms(tpl, 1, DIM, &tpl_sq);
    CHECK_OK(nn_sq_distances(1, probe, &probe_sq, 1, tpl, &tpl_sq, 1, DIM, &d));
    CHECK(d == INFINITY);
}

TEST(non_finite_values_are_refused_at_enroll_and_search) {
    const char *path = test_gallery("nan_enroll");
    fr_gallery *g;
    float a[DIM], bad[DIM];
    vector(a, 5);
    vector(bad, 6);
    bad[7] = INFINITY;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "synthetic", "1.0.0", DIM));
    CHECK_OK(enroll_one(g, "Alice", a, "alice.jpg", 1));
    fr_status st = enroll_one(g, "Bob", bad, "bob.jpg", 2);
    int named = strstr(fr_last_error(), "bob.jpg") != NULL;
    fr_match m[1];
    int n_found = -1;
    bad[7] = NAN;
    fr_status search = fr_gallery_search(g, bad, 1, 1, m, &n_found);
    fr_gallery_close(g);
    CHECK(st == FR_E_ARG && named);
    CHECK(search == FR_E_ARG);
}

/* ---- defect 4: a private gallery that really erases ------------------------------------- */

TEST(gallery_files_are_private) {
    if (test_postgres()) SKIP("a property of SQLite files");
    const char *path = test_fresh_db("private");
    mode_t old_mask = umask(022);
    fr_gallery *g;
    float a[DIM];
    vector(a, 7);
    fr_status st = fr_gallery_open(path, 1, &g);
    umask(old_mask);
    CHECK_OK(st);
    CHECK_OK(fr_gallery_use_model(g, "synthetic", "1.0.0", DIM));
    CHECK_OK(enroll_one(g, "Alice", a, "alice.jpg", 1));
    const char *suffixes[] = {"", "-wal", "-shm"};
    int checked = 0, private_files = 0;
    for (int i = 0; i < 3; i++) {
        char file[600];
        struct stat sb;
        snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
        if (stat(file, &sb) != 0) continue;
        checked++;
        private_files += (sb.st_mode & 077) == 0;
        if (sb.st_mode & 077) fprintf(stderr, "%s has mode %o\n", file, (unsigned)(sb.st_mode & 0777));
    }
    fr_gallery_close(g);
    CHECK(checked == 3); /* the WAL files exist while the gallery is open */
    CHECK(private_files == 3);
}

TEST(remove_erases_the_template_and_its_path) {
    if (test_postgres()) SKIP("a property of SQLite files");
    const char *path = test_fresh_db("erase");
    const char *secret = "/home/someone/Pictures/ERASE-ME-a1b2c3.jpg";
    fr_gallery *g;
    float a[DIM], b[DIM];
    vector(a, 8);
    vector(b, 9);
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "synthetic", "1.0.0", DIM));
    CHECK_OK(enroll_one(g, "Alice", a, secret, 1));
    CHECK_OK(enroll_one(g, "Bob", b, "bob.jpg", 2));
    fr_gallery_close(g);
    CHECK_OK(fr_gallery_open(path, 0, &g));
    CHECK_OK(fr_gallery_remove(g, "Alice"));
    /* looked at while still open (the log exists) and after closing */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) fr_gallery_close(g);
        const char *suffixes[] = {"", "-wal"};
        for (int i = 0; i < 2; i++) {
            char file[600];
            size_t size;
            snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
            unsigned char *data = slurp(file, &size);
            int has_embedding = contains(data, size, a, sizeof a);
            int has_path = contains(data, size, secret, strlen(secret));
            int has_name = contains(data, size, "Alice", 5);
            free(data);
            if (has_embedding || has_path || has_name)
                fprintf(stderr, "%s (%s) still holds:%s%s%s\n", file, pass ? "closed" : "open",
                        has_embedding ? " the embedding" : "", has_path ? " the path" : "",
                        has_name ? " the name" : "");
            if (has_embedding || has_path || has_name) {
                if (pass == 0) fr_gallery_close(g);
                CHECK(!"removed data left in the file");
            }
        }
    }
}

/* ---- defect 5: names -------------------------------------------------------------------- */

TEST(names_are_checked_at_enroll_and_rename) {
    const char *path = test_gallery("names");
    fr_gallery *g;
    float a[DIM];
    vector(a, 10);
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "synthetic", "1.0.0", DIM));
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {
        "unknown", "no_faces", "Unknown",   /* the output's own markers */
        "Eve\xE2\x80\xAEgpj.exe",           /* U+202E right-to-left override */
        "Eve\xE2\x81\xA6x",                 /* U+2066 left-to-right isolate */
        "Eve\xC2\x85",                      /* U+0085, a C1 control */
        "Eve\x1b[31m", "Eve\nMallory",      /* C0 controls */
        "Eve\xff", "Eve\xC0\xAF", "Eve\xED\xA0\x80", "Eve\xE2\x82", /* invalid UTF-8 */
        long_name, "",
    };
    int refused = 0, n_bad = (int)(sizeof bad / sizeof bad[0]);
    for (int i = 0; i < n_bad; i++) {
        fr_status st = enroll_one(g, bad[i], a, "photo.jpg", 1);
        if (st == FR_E_ARG) refused++;
        else fprintf(stderr, "name %d was accepted\n", i);
    }
    CHECK_OK(enroll_one(g, "Zoë O'Brien, Jr.", a, "photo.jpg", 1)); /* commas and accents are fine */
    int rename_refused = 0;
    for (int i = 0; i < n_bad; i++)
        rename_refused += fr_gallery_rename(g, "Zoë O'Brien, Jr.", bad[i]) == FR_E_ARG;
    const char *msg_holder = "";
    fr_status st = fr_gallery_rename(g, "Zoë O'Brien, Jr.", "unknown");
    msg_holder = strstr(fr_last_error(), "reserved") ? "ok" : "";
    fr_person *people;
    int n_people = 0;
    CHECK_OK(fr_gallery_people(g, &people, &n_people));
    int kept = n_people == 1 && !strcmp(people[0].name, "Zoë O'Brien, Jr.");
    fr_people_free(people, n_people);
    fr_gallery_close(g);
    CHECK(refused == n_bad);
    CHECK(rename_refused == n_bad);
    CHECK(st == FR_E_ARG && *msg_holder);
    CHECK(kept);
}

/* ---- defect 7: reading never makes a gallery; clear corruption messages ------------------ */

TEST(an_empty_file_is_not_turned_into_a_gallery) {
    if (test_postgres()) SKIP("a property of SQLite files");
    const char *path = test_fresh_db("empty");
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fclose(f);
    fr_gallery *g = NULL;
    fr_status st = fr_gallery_open(path, 0, &g);
    fr_gallery_close(g);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK(st == FR_E_DB);
    CHECK(sb.st_size == 0);
    fr_status missing = fr_gallery_open(test_fresh_db("missing"), 0, &g);
    CHECK(missing == FR_E_NOT_FOUND);
    CHECK(access(test_fresh_db("missing"), F_OK) != 0);
}

TEST(orphaned_template_message_says_what_is_wrong) {
    if (test_postgres()) SKIP("PostgreSQL enforces the foreign keys for every client");
    const char *path = test_fresh_db("orphan");
    fr_gallery *g;
    float a[DIM], b[DIM];
    vector(a, 11);
    vector(b, 12);
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "synthetic", "1.0.0", DIM));
    CHECK_OK(enroll_one(g, "Alice", a, "alice.jpg", 1));
    CHECK_OK(enroll_one(g, "Bob", b, "bob.jpg", 2));
    fr_gallery_close(g);
    /* foreign keys are off in a plain connection: Bob's template is left without Bob */
    CHECK(sql(path, "DELETE FROM people WHERE name = 'Bob'", NULL, 0));
    CHECK(sql(path, "INSERT INTO people(name, added) VALUES('Carol', 0)", NULL, 0));
    CHECK(sql(path, "UPDATE templates SET person_id = (SELECT id FROM people WHERE name = 'Carol')"
                    " WHERE source = 'alice.jpg'", NULL, 0));
    CHECK(sql(path, "DELETE FROM people WHERE name = 'Carol'", NULL, 0));
    CHECK_OK(fr_gallery_open(path, 0, &g));
    fr_match m[2];
    int n_found;
    fr_status st = fr_gallery_search(g, a, 1, 2, m, &n_found);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    fr_gallery_close(g);
    CHECK(st == FR_E_DB);
    if (!strstr(msg, "not in the gallery")) fprintf(stderr, "message: %s\n", msg);
    CHECK(strstr(msg, "not in the gallery") != NULL);
    CHECK(strstr(msg, "expected") == NULL);
}

TEST_MAIN(CASE(nan_template_in_the_file_is_refused_at_load), CASE(nan_distance_is_no_match),
          CASE(non_finite_values_are_refused_at_enroll_and_search), CASE(gallery_files_are_private),
          CASE(remove_erases_the_template_and_its_path), CASE(names_are_checked_at_enroll_and_rename),
          CASE(an_empty_file_is_not_turned_into_a_gallery),
          CASE(orphaned_template_message_says_what_is_wrong))
