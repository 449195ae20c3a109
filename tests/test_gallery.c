/* test_gallery.c: the gallery store, search and thresholds on synthetic embeddings. */
#include "facerec.h"
#include "run.h"
#include "test_backend.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DIM 32


/* Deterministic pseudo-random numbers (xorshift), uniform in [-1, 1). */
static float rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void normalize(float *v, int dim) {
    double s = 0;
    for (int k = 0; k < dim; k++) s += (double)v[k] * v[k];
    float inv = (float)(1.0 / sqrt(s));
    for (int k = 0; k < dim; k++) v[k] *= inv;
}

static void random_unit(float *v, int dim, uint64_t *s) {
    for (int k = 0; k < dim; k++) v[k] = rnd(s);
    normalize(v, dim);
}

/* A template whose source and SHA-256 are made unique by `serial`. */
static fr_template make_template(const float *emb, unsigned serial, char *source, size_t size) {
    fr_template t = {0};
    t.embedding = emb;
    snprintf(source, size, "photo%u.jpg", serial);
    t.source = source;
    for (int i = 0; i < 4; i++) t.sha256[i] = (uint8_t)(serial >> (8 * i));
    t.x = 1, t.y = 2, t.w = 30, t.h = 40, t.quality = 0.9f;
    return t;
}

static double brute_distance(const float *a, const float *b, int dim) {
    double s = 0;
    for (int k = 0; k < dim; k++) s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return sqrt(s);
}

TEST(sha256_known_vectors) {
    static const struct { const char *text; const char *hex; } cases[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char path[512];
    snprintf(path, sizeof path, "%s/sha256.txt", FR_TEST_TMP_DIR);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        FILE *f = fopen(path, "wb");
        CHECK(f);
        fputs(cases[c].text, f);
        fclose(f);
        uint8_t digest[32];
        CHECK_OK(fr_file_sha256(path, digest));
        char hex[65];
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
        CHECK(strcmp(hex, cases[c].hex) == 0);
    }
    uint8_t digest[32];
    CHECK(fr_file_sha256(FR_TEST_TMP_DIR "/no-such-file", digest) == FR_E_IO);
}

TEST(enroll_list_rename_remove) {
    const char *path = test_gallery("manage");
    fr_gallery *g;
    CHECK(fr_gallery_open(path, 0, &g) == FR_E_NOT_FOUND);
    CHECK_OK(fr_gallery_open(path, 1, &g));
    fr_template t[3];
    float emb[3][DIM];
    char src[3][32];
    uint64_t s = 1;
    for (int i = 0; i < 3; i++) {
        random_unit(emb[i], DIM, &s);
        t[i] = make_template(emb[i], (unsigned)i, src[i], sizeof src[i]);
    }
    CHECK(fr_gallery_enroll(g, "alice", t, 2) == FR_E_ARG); /* no model bound yet */
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    CHECK_OK(fr_gallery_enroll(g, "alice", t, 2));
    CHECK_OK(fr_gallery_enroll(g, "bob", t + 2, 1));
    CHECK(fr_gallery_enroll(g, "", t + 2, 1) == FR_E_ARG);
    fr_person *people;
    int n;
    CHECK_OK(fr_gallery_people(g, &people, &n));
    CHECK(n == 2);
    CHECK(strcmp(people[0].name, "alice") == 0 && people[0].n_templates == 2);
    CHECK(strcmp(people[1].name, "bob") == 0 && people[1].n_templates == 1);
    CHECK(people[0].added > 0);
    fr_people_free(people, n);

    int found;
    char name[64];
    CHECK_OK(fr_gallery_find_source(g, t[1].sha256, &found, name, sizeof name));
    CHECK(found && strcmp(name, "alice") == 0);

    CHECK(fr_gallery_rename(g, "alice", "bob") == FR_E_ARG);
    CHECK(fr_gallery_rename(g, "carol", "dave") == FR_E_NOT_FOUND);
    CHECK_OK(fr_gallery_rename(g, "alice", "carol"));
    CHECK(fr_gallery_remove(g, "alice") == FR_E_NOT_FOUND);
    CHECK_OK(fr_gallery_remove(g, "bob"));
    fr_gallery_close(g);

    CHECK_OK(fr_gallery_open(path, 0, &g));
    fr_gallery_info info;
    CHECK_OK(fr_gallery_get_info(g, &info));
    CHECK(strcmp(info.model, "test-model") == 0 && info.dim == DIM);
    CHECK(info.n_people == 1 && info.n_templates == 2 && !info.calibrated);
    CHECK_OK(fr_gallery_find_source(g, t[2].sha256, &found, name, sizeof name));
    CHECK(!found); /* bob's template went with him */
    fr_gallery_close(g);
}

TEST(batch_is_all_or_nothing) {
    const char *path = test_gallery("batch");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    float emb[3][DIM];
    char src[3][32];
    fr_template t[3];
    uint64_t s = 2;
    for (int i = 0; i < 3; i++) {
        random_unit(emb[i], DIM, &s);
        t[i] = make_template(emb[i], (unsigned)i, src[i], sizeof src[i]);
    }
    CHECK_OK(fr_gallery_enroll(g, "alice", t, 1));
    /* a batch holding a new photo and one already enrolled stores neither */
    fr_template dup[2] = {t[1], t[0]};
    CHECK(fr_gallery_enroll(g, "bob", dup, 2) == FR_E_ARG);
    CHECK(strstr(fr_last_error(), "already enrolled") != NULL);
    fr_gallery_info info;
    CHECK_OK(fr_gallery_get_info(g, &info));
    CHECK(info.n_people == 1 && info.n_templates == 1);
    int found;
    CHECK_OK(fr_gallery_find_source(g, t[1].sha256, &found, NULL, 0));
    CHECK(!found);
    CHECK_OK(fr_gallery_enroll(g, "bob", t + 1, 2));
    CHECK_OK(fr_gallery_get_info(g, &info));
    CHECK(info.n_people == 2 && info.n_templates == 3);
    float bad[DIM] = {NAN};
    fr_template nan_template = make_template(bad, 99, src[0], sizeof src[0]);
    CHECK(fr_gallery_enroll(g, "carol", &nan_template, 1) == FR_E_ARG);
    fr_gallery_close(g);
}

TEST(model_mismatch_is_an_error) {
    const char *path = test_gallery("mismatch");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "model-a", "1", DIM));
    fr_gallery_close(g);
    CHECK_OK(fr_gallery_open(path, 0, &g));
    CHECK_OK(fr_gallery_use_model(g, "model-a", "2", DIM)); /* a new version is only noted */
    CHECK(fr_gallery_use_model(g, "model-b", "1", DIM) == FR_E_MISMATCH);

    CHECK(strstr(fr_last_error(), "model-a") && strstr(fr_last_error(), "model-b"));
    CHECK(test_names_gallery(fr_last_error(), path));
    CHECK(fr_gallery_use_model(g, "model-a", "1", DIM * 2) == FR_E_MISMATCH);
    fr_gallery_close(g);
    /* dlib-resnet's embeddings became unit vectors in 0.2.0: older templates are refused */
    CHECK_OK(fr_gallery_open(test_gallery("old-dlib"), 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "dlib-resnet", "0.1.0", 128));
    CHECK_OK(fr_gallery_use_model(g, "dlib-resnet", "0.1.5", 128));
    fr_status st = fr_gallery_use_model(g, "dlib-resnet", "0.2.0", 128);
    int refused = st == FR_E_MISMATCH && strstr(fr_last_error(), "enroll the people again");
    st = fr_gallery_use_model(g, "dlib-resnet", "0.10.0", 128);
    fr_gallery_close(g);
    CHECK(refused && st == FR_E_MISMATCH);
}

TEST(corrupt_and_foreign_files_are_errors) {
    if (test_postgres()) SKIP("files are SQLite's");
    const char *path = test_gallery("garbage");
    FILE *f = fopen(path, "wb");
    CHECK(f);
    for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, f);
    fclose(f);
    fr_gallery *g;
    CHECK(fr_gallery_open(path, 0, &g) == FR_E_DB);
    CHECK(strstr(fr_last_error(), path) && strstr(fr_last_error(), "corrupt"));

    /* a valid SQLite file of something else */
    path = test_gallery("foreign");
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(fr_gallery_open(path, 0, &g) == FR_E_DB);
    CHECK(strstr(fr_last_error(), "not a facerec gallery") != NULL);

    /* a gallery whose pages were overwritten after the header */
    path = test_gallery("damaged");
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    float emb[DIM];
    uint64_t s = 3;
    char src[32];
    for (unsigned i = 0; i < 200; i++) {
        random_unit(emb, DIM, &s);
        fr_template t = make_template(emb, i, src, sizeof src);
        CHECK_OK(fr_gallery_enroll(g, src, &t, 1));
    }
    fr_gallery_close(g); /* the last connection checkpoints the WAL into the file */
    f = fopen(path, "r+b");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    CHECK(size > 3 * 4096);
    fseek(f, 4096, SEEK_SET);
    for (long i = 4096; i < size; i++) fputc(0xA5, f);
    fclose(f);
    fr_status st = fr_gallery_open(path, 0, &g);
    if (st == FR_OK) {
        fr_person *people;
        int n;
        st = fr_gallery_people(g, &people, &n);
        if (st == FR_OK) fr_people_free(people, n);
        fr_gallery_close(g);
    }
    CHECK(st == FR_E_DB);
    CHECK(strstr(fr_last_error(), path) != NULL);
}

/* A gallery file written by someone else: its stored embedding length must be a number in
 * range, all of it (atoi read "4294967304" as 8; seen while writing tests/fuzz/fuzz_gallery). */
TEST(stored_embedding_length_is_checked) {
    const char *texts[] = {"4294967304", "8 ", "8x", "", "0", "-8", "513", "99999999999999999999999999"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "dim%zu", i);
        const char *path = test_gallery(name);
        fr_gallery *g;
        CHECK_OK(fr_gallery_open(path, 1, &g));
        CHECK_OK(fr_gallery_use_model(g, "test-model", "1", 8));
        fr_gallery_close(g);
        char update[128];
        snprintf(update, sizeof update, "UPDATE meta SET value = '%s' WHERE key = 'dim'", texts[i]);
        CHECK(test_sql(path, update) == 0);
        fr_status st = fr_gallery_open(path, 0, &g);
        if (st == FR_OK) fr_gallery_close(g);
        if (st != FR_E_DB) fprintf(stderr, "  stored dim '%s' was accepted\n", texts[i]);
        CHECK(st == FR_E_DB && strstr(fr_last_error(), "corrupt gallery: embedding length"));
    }
}

TEST(locked_database_is_an_error) {
    if (test_postgres()) SKIP("PostgreSQL writers wait for row locks; see search_never_waits_for_the_database");
    const char *path = test_gallery("locked");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    fr_gallery_close(g);
    /* another writer holds the lock for longer than the busy timeout */
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    CHECK_OK(fr_gallery_open(path, 0, &g)); /* readers are not blocked (WAL) */
    fr_person *people;
    int n;
    CHECK_OK(fr_gallery_people(g, &people, &n));
    fr_people_free(people, n);
    float emb[DIM];
    uint64_t s = 4;
    random_unit(emb, DIM, &s);
    char src[32];
    fr_template t = make_template(emb, 1, src, sizeof src);
    CHECK(fr_gallery_enroll(g, "alice", &t, 1) == FR_E_DB);
    CHECK(strstr(fr_last_error(), "locked") && strstr(fr_last_error(), path));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_OK(fr_gallery_enroll(g, "alice", &t, 1));
    fr_gallery_close(g);
}

/* n_people people with 1..4 templates each; returns the embeddings and their owners. */
static int fill_gallery(fr_gallery *g, int n_people, int dim, uint64_t seed, float **emb_out,
                        int **owner_out) {
    float *emb = malloc((size_t)n_people * 4 * dim * sizeof(float));
    int *owner = malloc((size_t)n_people * 4 * sizeof(int));
    int n = 0;
    uint64_t s = seed;
    char name[32], src[4][32];
    for (int p = 0; p < n_people; p++) {
        int m = 1 + p % 4;
        fr_template t[4];
        for (int i = 0; i < m; i++) {
            random_unit(emb + (size_t)n * dim, dim, &s);
            t[i] = make_template(emb + (size_t)n * dim, (unsigned)(seed * 100000 + n), src[i], sizeof src[i]);
            owner[n++] = p;
        }
        snprintf(name, sizeof name, "person%d", p);
        if (fr_gallery_enroll(g, name, t, m) != FR_OK) return -1;
    }
    *emb_out = emb;
    *owner_out = owner;
    return n;
}

/* Check search results against a brute-force loop over every template. */
static int matches_brute_force(const float *probes, int n_probes, const float *emb, const int *owner,
                               int n_templates, int n_people, const fr_match *m, int k, int found) {
    double *best = malloc((size_t)n_people * sizeof(double));
    int ok = found == (k < n_people ? k : n_people);
    for (int i = 0; i < n_probes && ok; i++) {
        for (int p = 0; p < n_people; p++) best[p] = INFINITY;
        for (int t = 0; t < n_templates; t++) {
            double d = brute_distance(probes + (size_t)i * DIM, emb + (size_t)t * DIM, DIM);
            if (d < best[owner[t]]) best[owner[t]] = d;
        }
        for (int j = 0; j < found && ok; j++) {
            const fr_match *mm = &m[(size_t)i * k + j];
            int p = atoi(mm->name + strlen("person"));
            ok = fabs(best[p] - mm->distance) < 1e-3;
            /* nearest first, and nobody left out is nearer than the last one listed */
            if (ok && j > 0) ok = mm->distance >= m[(size_t)i * k + j - 1].distance;
            best[p] = -1; /* listed */
        }
        double last = m[(size_t)i * k + found - 1].distance;
        for (int p = 0; p < n_people && ok; p++) ok = best[p] < 0 || best[p] >= last - 1e-3;
        if (!ok) fprintf(stderr, "probe %d differs from the brute-force search\n", i);
    }
    free(best);
    return ok;
}

TEST(search_equals_brute_force) {
    const char *path = test_gallery("search");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    const int n_people = 1800; /* 4500 templates: several tiles for a block of 256 probes */
    float *emb;
    int *owner;
    int n = fill_gallery(g, n_people, DIM, 5, &emb, &owner);
    CHECK(n > 4096);
    const int n_probes = 300;
    float *probes = malloc((size_t)n_probes * DIM * sizeof(float));
    uint64_t s = 77;
    for (int i = 0; i < n_probes; i++) {
        float *p = probes + (size_t)i * DIM;
        if (i % 3 == 0) { /* near an enrolled template */
            const float *e = emb + (size_t)((i * 37) % n) * DIM;
            for (int k = 0; k < DIM; k++) p[k] = e[k] + 0.05f * rnd(&s);
            normalize(p, DIM);
        } else {
            random_unit(p, DIM, &s);
        }
    }
    const int ks[] = {1, 5, n_people + 10};
    int all_ok = 1;
    for (int c = 0; c < 3; c++) {
        int k = ks[c], found;
        fr_match *m = malloc((size_t)n_probes * k * sizeof *m);
        fr_status st = fr_gallery_search(g, probes, n_probes, k, m, &found);
        if (st == FR_OK) all_ok &= matches_brute_force(probes, n_probes, emb, owner, n, n_people, m, k, found);
        /* one probe at a time takes the matrix-vector path */
        if (st == FR_OK && c < 2)
            for (int i = 0; i < 5; i++) {
                st = fr_gallery_search(g, probes + (size_t)i * DIM, 1, k, m, &found);
                if (st == FR_OK) all_ok &= matches_brute_force(probes + (size_t)i * DIM, 1, emb, owner, n, n_people, m, k, found);
            }
        free(m);
        CHECK_OK(st);
    }
    CHECK(all_ok);
    /* probes near a template find its owner at a distance near 0.05 * sqrt(DIM/3) */
    fr_match m1;
    int found;
    CHECK_OK(fr_gallery_search(g, emb, 1, 1, &m1, &found));
    CHECK(found == 1 && strcmp(m1.name, "person0") == 0 && m1.distance < 1e-3);
    free(probes);
    free(emb);
    free(owner);
    fr_gallery_close(g);
}

TEST(search_sees_changes_by_others) {
    const char *path = test_gallery("changes");
    fr_gallery *reader, *writer;
    CHECK_OK(fr_gallery_open(path, 1, &writer));
    CHECK_OK(fr_gallery_use_model(writer, "test-model", "1", DIM));
    float a[DIM], b[DIM];
    uint64_t s = 9;
    random_unit(a, DIM, &s);
    random_unit(b, DIM, &s);
    char src[32];
    fr_template t = make_template(a, 1, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(writer, "alice", &t, 1));
    CHECK_OK(fr_gallery_open(path, 0, &reader));
    fr_match m[2];
    int found;
    int64_t applied, loaded, latest;
    CHECK_OK(fr_gallery_search(reader, b, 1, 2, m, &found));
    CHECK(found == 1 && strcmp(m[0].name, "alice") == 0);
    CHECK_OK(fr_gallery_refresh(reader, &applied));
    CHECK(applied == 0);
    t = make_template(b, 2, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(writer, "bob", &t, 1));
    /* the change is announced (PostgreSQL: a notification; SQLite: the log, polled) */
    CHECK_OK(fr_gallery_wait_changes(reader, 5000));
    CHECK_OK(fr_gallery_change_seq(reader, &loaded, &latest));
    CHECK(loaded >= 0 && latest == loaded + 1);
    CHECK_OK(fr_gallery_refresh(reader, &applied));
    CHECK(applied == 1);
    CHECK_OK(fr_gallery_search(reader, b, 1, 2, m, &found));
    CHECK(found == 2 && strcmp(m[0].name, "bob") == 0 && m[0].distance < 1e-3);
    CHECK_OK(fr_gallery_rename(writer, "bob", "robert"));
    CHECK_OK(fr_gallery_remove(writer, "alice"));
    CHECK_OK(fr_gallery_refresh(reader, &applied));
    CHECK(applied == 2);
    CHECK_OK(fr_gallery_search(reader, b, 1, 2, m, &found));
    CHECK(found == 1 && strcmp(m[0].name, "robert") == 0);
    /* nothing new: nothing applied, and the wait ends at its timeout */
    CHECK_OK(fr_gallery_refresh(reader, &applied));
    CHECK(applied == 0);
    CHECK_OK(fr_gallery_wait_changes(reader, 10));
    fr_gallery_close(reader);
    fr_gallery_close(writer);
}

/* Whether handle g answers every probe exactly as a handle opened afresh on its database. */
static int same_as_fresh(fr_gallery *g, const char *path, const float *probes, int n_probes) {
    fr_gallery *fresh;
    if (fr_gallery_open(path, 0, &fresh) != FR_OK) return 0;
    fr_match a[16], b[16];
    int found_a = 0, found_b = 0, same = 1;
    for (int i = 0; i < n_probes && same; i++) {
        same = fr_gallery_search(g, probes + (size_t)i * DIM, 1, 16, a, &found_a) == FR_OK &&
               fr_gallery_search(fresh, probes + (size_t)i * DIM, 1, 16, b, &found_b) == FR_OK &&
               found_a == found_b;
        for (int j = 0; same && j < found_a; j++)
            same = !strcmp(a[j].name, b[j].name) && a[j].distance == b[j].distance;
    }
    fr_gallery_close(fresh);
    return same;
}

/* Another handle's changes of every kind, applied by refresh to a loaded reader, leave it
 * answering as a fresh load does: names swapped through a third one, a name given up and
 * taken by a new person, an id given up and taken by a new person, templates added and
 * removed; and the reader's own change made while it was behind. */
TEST(refresh_applies_every_kind_of_change) {
    const char *path = test_gallery("refresh-kinds");
    fr_gallery *reader, *writer;
    CHECK_OK(fr_gallery_open(path, 1, &writer));
    CHECK_OK(fr_gallery_use_model(writer, "test-model", "1", DIM));
    enum { N_EMB = 24 };
    static float emb[N_EMB][DIM];
    uint64_t s = 21;
    for (int i = 0; i < N_EMB; i++) random_unit(emb[i], DIM, &s);
    char src[32];
    unsigned serial = 100;
    const char *names[] = {"ann", "ben", "cat", "dan"};
    for (int p = 0; p < 4; p++)
        for (int t = 0; t < 2; t++) {
            fr_template tp = make_template(emb[2 * p + t], serial++, src, sizeof src);
            CHECK_OK(fr_gallery_enroll(writer, names[p], &tp, 1));
        }
    CHECK_OK(fr_gallery_open(path, 0, &reader));
    CHECK(same_as_fresh(reader, path, emb[0], N_EMB)); /* loaded */
    /* swap ann and ben through a third name */
    CHECK_OK(fr_gallery_rename(writer, "ann", "tmp"));
    CHECK_OK(fr_gallery_rename(writer, "ben", "ann"));
    CHECK_OK(fr_gallery_rename(writer, "tmp", "ben"));
    /* cat leaves, a new cat comes */
    CHECK_OK(fr_gallery_remove(writer, "cat"));
    fr_template tp = make_template(emb[10], serial++, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(writer, "cat", &tp, 1));
    /* dan gains one template and loses another */
    tp = make_template(emb[11], serial++, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(writer, "dan", &tp, 1));
    fr_template_info *infos;
    int n_infos;
    CHECK_OK(fr_gallery_templates(writer, "dan", &infos, &n_infos));
    CHECK(n_infos == 3);
    CHECK_OK(fr_gallery_remove_template(writer, infos[0].id, NULL, 0));
    fr_template_infos_free(infos, n_infos);
    /* a person added without templates, then enrolled */
    CHECK_OK(fr_gallery_add_person(writer, "eve"));
    tp = make_template(emb[12], serial++, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(writer, "eve", &tp, 1));
    int64_t applied;
    CHECK_OK(fr_gallery_refresh(reader, &applied));
    CHECK(applied == 9);
    CHECK(same_as_fresh(reader, path, emb[0], N_EMB));
    /* the newest person leaves and a new one comes (SQLite gives them the same id) */
    CHECK_OK(fr_gallery_remove(writer, "eve"));
    tp = make_template(emb[15], serial++, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(writer, "fay", &tp, 1));
    CHECK_OK(fr_gallery_refresh(reader, &applied));
    CHECK(applied == 2);
    CHECK(same_as_fresh(reader, path, emb[0], N_EMB));
    /* the reader changes the gallery while behind the writer: both end up applied */
    CHECK_OK(fr_gallery_remove(writer, "ann"));
    tp = make_template(emb[13], serial++, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(reader, "ann", &tp, 1));
    tp = make_template(emb[14], serial++, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(reader, "ben", &tp, 1));
    CHECK_OK(fr_gallery_refresh(reader, &applied));
    CHECK(same_as_fresh(reader, path, emb[0], N_EMB));
    CHECK_OK(fr_gallery_refresh(writer, &applied));
    CHECK(same_as_fresh(writer, path, emb[0], N_EMB));
    fr_gallery_close(reader);
    fr_gallery_close(writer);
}

/* A gallery of schema version 1 (SQLite, before the change log) is upgraded when opened;
 * one of a version newer than this facerec knows is refused with a clear message. */
TEST(schema_is_upgraded_and_newer_refused) {
    const char *path = test_gallery("schema");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    float a[DIM];
    uint64_t s = 41;
    random_unit(a, DIM, &s);
    char src[32];
    fr_template t = make_template(a, 1, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(g, "alice", &t, 1));
    fr_gallery_close(g);
    if (!test_postgres()) {
        CHECK(test_sql(path, "DROP TABLE changes; DROP TABLE api_keys; DROP TABLE template_images;"
                             " UPDATE meta SET value = '1' WHERE key = 'schema'") == 0);
        CHECK_OK(fr_gallery_open(path, 0, &g));
        int64_t loaded, latest;
        CHECK_OK(fr_gallery_change_seq(g, &loaded, &latest));
        CHECK(latest == 0);
        uint8_t key[32] = {1};
        CHECK_OK(fr_gallery_key_add(g, key, "admin", "after the upgrade", NULL));
        fr_match m;
        int found;
        CHECK_OK(fr_gallery_search(g, a, 1, 1, &m, &found));
        CHECK(found == 1 && strcmp(m.name, "alice") == 0);
        fr_gallery_close(g);
    }
    CHECK(test_sql(path, "UPDATE meta SET value = '3' WHERE key = 'schema'") == 0);
    CHECK(fr_gallery_open(path, 0, &g) == FR_E_DB);
    CHECK(strstr(fr_last_error(), "schema version 3") && strstr(fr_last_error(), "newer facerec"));
}

/* Stop or start the test's PostgreSQL server (tests/postgres_cluster.sh); 0 on success. */
static int postgres_server(const char *action) {
    const char *script = getenv("FACEREC_TEST_POSTGRES_SCRIPT");
    const char *cluster = getenv("FACEREC_TEST_POSTGRES_CLUSTER");
    if (!script || !cluster) return -1;
    const char *argv[] = {script, action, cluster, NULL};
    test_run r = {0};
    int status = test_run_argv(&r, argv, 120);
    if (status != 0) fprintf(stderr, "  postgres_cluster.sh %s: %s", action, r.err);
    test_run_free(&r);
    return status;
}

/* PostgreSQL stopped and started again under an open handle: search keeps answering from
 * memory, calls that need the database fail cleanly (FR_E_DB, nothing half-written), and
 * once the server is back the handle reconnects by itself, keeps every committed enrollment,
 * and catches up with the change log. */
TEST(outage_fails_cleanly_and_reconnects) {
    if (!test_postgres()) SKIP("PostgreSQL only");
    if (!getenv("FACEREC_TEST_POSTGRES_CLUSTER")) SKIP("the server is not ours to stop (no FACEREC_TEST_POSTGRES_CLUSTER)");
    const char *path = test_gallery("outage");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    float a[DIM], b[DIM];
    uint64_t s = 31;
    random_unit(a, DIM, &s);
    random_unit(b, DIM, &s);
    char src_a[32], src_b[32];
    fr_template ta = make_template(a, 1, src_a, sizeof src_a), tb = make_template(b, 2, src_b, sizeof src_b);
    CHECK_OK(fr_gallery_enroll(g, "alice", &ta, 1));
    fr_match m[2];
    int found;
    CHECK_OK(fr_gallery_search(g, a, 1, 1, m, &found));
    CHECK(postgres_server("stop") == 0);
    fr_status search = fr_gallery_search(g, a, 1, 1, m, &found);
    int search_ok = search == FR_OK && found == 1 && strcmp(m[0].name, "alice") == 0;
    fr_status enroll = fr_gallery_enroll(g, "bob", &tb, 1);
    char message[512];
    snprintf(message, sizeof message, "%s", fr_last_error());
    fr_person *people;
    int n;
    fr_status listing = fr_gallery_people(g, &people, &n);
    fr_status waiting = fr_gallery_wait_changes(g, 100);
    int started = postgres_server("start") == 0;
    CHECK(started);
    CHECK(search_ok);
    CHECK(enroll == FR_E_DB && listing == FR_E_DB && waiting == FR_E_DB);
    CHECK(strstr(message, "database unavailable") && strstr(message, "127.0.0.1") &&
          !strstr(message, ":facerec@"));
    /* back: the same handle works again, alice is there, bob was not half-enrolled */
    CHECK_OK(fr_gallery_people(g, &people, &n));
    CHECK(n == 1 && strcmp(people[0].name, "alice") == 0);
    fr_people_free(people, n);
    CHECK_OK(fr_gallery_enroll(g, "bob", &tb, 1));
    CHECK_OK(fr_gallery_search(g, b, 1, 2, m, &found));
    CHECK(found == 2 && strcmp(m[0].name, "bob") == 0);
    fr_gallery_close(g);
}

/* PostgreSQL: searching works from memory while another client holds every table locked,
 * and a database that is gone or refuses the password is FR_E_DB naming the server, never
 * the password. */
TEST(search_never_waits_for_the_database) {
#ifdef FR_TEST_POSTGRES
    const char *uri = test_postgres();
    if (!uri) SKIP("PostgreSQL only (SQLite: locked_database_is_an_error)");
    const char *path = test_gallery("locked-pg");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    float a[DIM];
    uint64_t s = 21;
    random_unit(a, DIM, &s);
    char src[32];
    fr_template t = make_template(a, 1, src, sizeof src);
    CHECK_OK(fr_gallery_enroll(g, "alice", &t, 1));
    fr_match m;
    int found;
    CHECK_OK(fr_gallery_search(g, a, 1, 1, &m, &found));
    PGconn *other = PQconnectdb(uri);
    PGresult *r = PQexec(other, "BEGIN; LOCK TABLE people, templates, changes IN ACCESS EXCLUSIVE MODE");
    int locked = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    fr_status st = fr_gallery_search(g, a, 1, 1, &m, &found);
    PQclear(PQexec(other, "ROLLBACK"));
    PQfinish(other);
    CHECK(locked);
    CHECK_OK(st);
    CHECK(found == 1 && strcmp(m.name, "alice") == 0);
    fr_gallery_close(g);

    /* the password is wrong: refused, and the message does not show it */
    char bad[512];
    const char *at = strchr(uri + strlen("postgresql://"), '@');
    CHECK(at);
    snprintf(bad, sizeof bad, "postgresql://facerec:n0tThePassword%s", at);
    CHECK(fr_gallery_open(bad, 0, &g) == FR_E_DB);
    CHECK(strstr(fr_last_error(), "127.0.0.1") && !strstr(fr_last_error(), "n0tThePassword"));
    /* no server there */
    CHECK(fr_gallery_open("postgresql://facerec:secret@127.0.0.1:1/facerec", 0, &g) == FR_E_DB);
    CHECK(strstr(fr_last_error(), "database unavailable") && strstr(fr_last_error(), "127.0.0.1:1/facerec") &&
          !strstr(fr_last_error(), "secret"));
#else
    SKIP("built without PostgreSQL");
#endif
}

/* A child enrolls people of 5 templates each until it is killed; it writes a byte to
 * `started` once the first person is committed. */
#define CRASH_BATCH 5
static void enroll_until_killed(const char *path, int started) {
    fr_gallery *g;
    if (fr_gallery_open(path, 1, &g) != FR_OK || fr_gallery_use_model(g, "test-model", "1", DIM) != FR_OK)
        _exit(3);
    float emb[CRASH_BATCH][DIM];
    char src[CRASH_BATCH][32], name[32];
    uint64_t s = 11;
    for (unsigned p = 0;; p++) {
        fr_template t[CRASH_BATCH];
        for (int i = 0; i < CRASH_BATCH; i++) {
            random_unit(emb[i], DIM, &s);
            t[i] = make_template(emb[i], p * CRASH_BATCH + (unsigned)i, src[i], sizeof src[i]);
        }
        snprintf(name, sizeof name, "person%u", p);
        if (fr_gallery_enroll(g, name, t, CRASH_BATCH) != FR_OK) _exit(4);
        if (p == 0 && write(started, "1", 1) != 1) _exit(5);
    }
}

TEST(killed_enrollment_leaves_whole_people) {
    for (int round = 0; round < 3; round++) {
        const char *path = test_gallery("crash");
        int started[2];
        CHECK(pipe(started) == 0);
        pid_t child = fork();
        CHECK(child >= 0);
        if (child == 0) {
            close(started[0]);
            enroll_until_killed(path, started[1]);
        }
        /* killed at some point after its first commit, however slow the machine (sanitizers,
         * other jobs): the point varies with the round */
        close(started[1]); /* a child that ends early gives end of file */
        char byte;
        ssize_t got = read(started[0], &byte, 1);
        close(started[0]);
        if (got != 1) kill(child, SIGKILL);
        CHECK(got == 1);
        struct timespec wait = {0, 50000000L + round * 100000000L};
        nanosleep(&wait, NULL);
        kill(child, SIGKILL);
        int status;
        waitpid(child, &status, 0);
        CHECK(WIFSIGNALED(status)); /* it was still enrolling */
        fr_gallery *g;
        CHECK_OK(fr_gallery_open(path, 0, &g));
        fr_person *people;
        int n;
        CHECK_OK(fr_gallery_people(g, &people, &n));
        int whole = 1;
        for (int i = 0; i < n; i++) whole &= people[i].n_templates == CRASH_BATCH;
        fr_people_free(people, n);
        fr_gallery_info info;
        CHECK_OK(fr_gallery_get_info(g, &info));
        fr_gallery_close(g);
        CHECK(n > 0 && whole && info.n_templates == (int64_t)n * CRASH_BATCH);
        if (test_postgres()) continue; /* the file's own check follows */
        sqlite3 *db;
        CHECK(sqlite3_open(path, &db) == SQLITE_OK);
        char *result = NULL;
        sqlite3_stmt *stmt;
        CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK);
        if (sqlite3_step(stmt) == SQLITE_ROW) result = strdup((const char *)sqlite3_column_text(stmt, 0));
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        CHECK(result && strcmp(result, "ok") == 0);
        free(result);
    }
}

/* Embeddings of n_people people with `per` photos each, scattered around a centre. */
static float *clustered(int n_people, int per, float spread, uint64_t seed, int *labels) {
    float *e = malloc((size_t)n_people * per * DIM * sizeof(float));
    uint64_t s = seed;
    float centre[DIM];
    for (int p = 0; p < n_people; p++) {
        random_unit(centre, DIM, &s);
        for (int i = 0; i < per; i++) {
            float *v = e + ((size_t)p * per + i) * DIM;
            for (int k = 0; k < DIM; k++) v[k] = centre[k] + spread * rnd(&s);
            normalize(v, DIM);
            labels[p * per + i] = p;
        }
    }
    return e;
}

TEST(calibrated_thresholds_hold_their_rates) {
    fr_threshold th;
    CHECK_OK(fr_model_default_threshold("dlib-resnet", &th));
    CHECK(th.distance == 0.42f && th.origin == FR_THRESHOLD_MODEL_DEFAULT);
    CHECK(fr_model_default_threshold("no-such-model", &th) == FR_E_NOT_FOUND);

    const char *path = test_gallery("calibrate");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "dlib-resnet", "1", DIM));
    CHECK_OK(fr_gallery_threshold(g, 1e-3, &th));
    CHECK(th.origin == FR_THRESHOLD_MODEL_DEFAULT && th.distance == 0.42f);

    const int n_people = 60, per = 8, n = n_people * per;
    int labels[60 * 8];
    float *e = clustered(n_people, per, 0.12f, 21, labels);
    int one_person[2] = {0, 0};
    CHECK(fr_gallery_calibrate(g, e, one_person, 2, "one person", NULL) == FR_E_ARG);
    fr_calibration_stats stats;
    CHECK_OK(fr_gallery_calibrate(g, e, labels, n, "synthetic", &stats));
    CHECK(stats.n_genuine_pairs == (int64_t)n_people * per * (per - 1) / 2);
    CHECK(stats.n_impostor_pairs == (int64_t)n * (n - 1) / 2 - stats.n_genuine_pairs);

    /* the empirical false-accept and false-reject rates at the thresholds read back */
    const double fars[] = {1e-4, 1e-3, 1e-2, 0.1};
    for (int c = 0; c < 4; c++) {
        CHECK_OK(fr_gallery_threshold(g, fars[c], &th));
        CHECK(th.origin == FR_THRESHOLD_CALIBRATED && th.far == fars[c]);
        int64_t false_accepts = 0, false_rejects = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                double d = brute_distance(e + (size_t)i * DIM, e + (size_t)j * DIM, DIM);
                if (labels[i] != labels[j]) false_accepts += d <= th.distance;
                else false_rejects += d > th.distance;
            }
        double far = (double)false_accepts / (double)stats.n_impostor_pairs;
        double frr = (double)false_rejects / (double)stats.n_genuine_pairs;
        CHECK(fabs(far - fars[c]) <= 0.1 * fars[c] + 2.0 / (double)stats.n_impostor_pairs);
        CHECK(fabs(frr - th.frr) <= 0.02);
    }
    CHECK(stats.eer >= 0 && stats.eer < 0.5 && stats.eer_distance > 0);

    /* open set: FPIR over N people is read at FAR = FPIR / N */
    float emb[DIM];
    uint64_t s = 5;
    char src[32], name[32];
    for (int p = 0; p < 20; p++) {
        random_unit(emb, DIM, &s);
        fr_template t = make_template(emb, (unsigned)p, src, sizeof src);
        snprintf(name, sizeof name, "p%d", p);
        CHECK_OK(fr_gallery_enroll(g, name, &t, 1));
    }
    fr_threshold open_set;
    CHECK_OK(fr_gallery_identify_threshold(g, 0.01, &open_set));
    CHECK_OK(fr_gallery_threshold(g, 0.01 / 20, &th));
    CHECK(open_set.distance == th.distance && open_set.far == th.far);
    CHECK(strstr(open_set.note, "FPIR") != NULL);
    /* below what the pairs can resolve, the note says so */
    CHECK_OK(fr_gallery_threshold(g, 1e-9, &th));
    CHECK(strstr(th.note, "too few pairs") != NULL);
    fr_gallery_info info;
    CHECK_OK(fr_gallery_get_info(g, &info));
    CHECK(info.calibrated && info.n_impostor_pairs == stats.n_impostor_pairs);
    CHECK(strcmp(info.calibration_source, "synthetic") == 0);
    free(e);
    fr_gallery_close(g);
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Timings for the record (the targets are for release builds on a quiet machine): load
 * speed and many probes at once, with a spot check of the answers. */
TEST(search_speed) {
    /* 100,000 templates; a tenth under the sanitizers (scripts/test.sh sets FACEREC_TEST_QUICK);
     * 2,000 on PostgreSQL, whose load speed scripts/gallery_load_bench.sh measures */
    const int dim = 128, n_people = test_postgres() ? 50 : getenv("FACEREC_TEST_QUICK") ? 250 : 2500, per = 40,
              n_probes = 1000;
    const char *path = test_gallery("speed");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", dim));
    float *emb = malloc((size_t)per * dim * sizeof(float));
    uint64_t s = 13;
    char name[32], src[40][32];
    double t0 = seconds();
    for (int p = 0; p < n_people; p++) {
        fr_template t[40];
        for (int i = 0; i < per; i++) {
            random_unit(emb + (size_t)i * dim, dim, &s);
            t[i] = make_template(emb + (size_t)i * dim, (unsigned)(p * per + i), src[i], sizeof src[i]);
        }
        snprintf(name, sizeof name, "person%d", p);
        CHECK_OK(fr_gallery_enroll(g, name, t, per));
    }
    double t_enroll = seconds() - t0;
    fr_gallery_close(g);
    float *probes = malloc((size_t)n_probes * dim * sizeof(float));
    for (int i = 0; i < n_probes; i++) random_unit(probes + (size_t)i * dim, dim, &s);
    CHECK_OK(fr_gallery_open(path, 0, &g));
    fr_match *m = malloc((size_t)n_probes * sizeof *m);
    int found;
    t0 = seconds();
    CHECK_OK(fr_gallery_search(g, probes, 1, 1, m, &found)); /* loads */
    double t_load = seconds() - t0;
    t0 = seconds();
    CHECK_OK(fr_gallery_search(g, probes, 1, 1, m, &found));
    double t_one = seconds() - t0;
    t0 = seconds();
    CHECK_OK(fr_gallery_search(g, probes, n_probes, 1, m, &found));
    double t_many = seconds() - t0;
    printf("  %d templates: enroll %.0f/s, load %.2fM templates/s, 1 probe %.2f ms, "
           "%d probes %.0f ms\n", n_people * per, n_people * per / t_enroll,
           n_people * per / t_load / 1e6, t_one * 1e3, n_probes, t_many * 1e3);
    CHECK(found == 1 && m[0].distance > 0 && m[0].distance < 2);
    free(m);
    free(probes);
    free(emb);
    fr_gallery_close(g);
}

TEST(templates_list_and_remove_one) {
    const char *path = test_gallery("templates");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    fr_template t[3];
    float emb[3][DIM];
    char src[3][32];
    uint64_t s = 7;
    for (int i = 0; i < 3; i++) {
        random_unit(emb[i], DIM, &s);
        t[i] = make_template(emb[i], (unsigned)i + 100, src[i], sizeof src[i]);
    }
    CHECK_OK(fr_gallery_enroll(g, "alice", t, 2));
    CHECK_OK(fr_gallery_enroll(g, "bob", t + 2, 1));
    fr_template_info *list;
    int n;
    CHECK(fr_gallery_templates(g, "nobody", &list, &n) == FR_E_NOT_FOUND);
    CHECK_OK(fr_gallery_templates(g, "alice", &list, &n));
    CHECK(n == 2 && strcmp(list[0].name, "alice") == 0 && strcmp(list[1].source, "photo101.jpg") == 0);
    CHECK(memcmp(list[1].sha256, t[1].sha256, 32) == 0 && list[1].w == 30 && list[0].added > 0);
    int64_t first = list[0].id;
    fr_template_infos_free(list, n);
    CHECK_OK(fr_gallery_templates(g, NULL, &list, &n));
    CHECK(n == 3 && strcmp(list[2].name, "bob") == 0);
    fr_template_infos_free(list, n);

    /* search sees the removal at once: alice's first photo no longer matches her */
    fr_match m[2];
    int found;
    CHECK_OK(fr_gallery_search(g, emb[0], 1, 2, m, &found));
    CHECK(found == 2 && strcmp(m[0].name, "alice") == 0 && m[0].distance < 1e-3f);
    char owner[64];
    CHECK_OK(fr_gallery_remove_template(g, first, owner, sizeof owner));
    CHECK(strcmp(owner, "alice") == 0);
    CHECK(fr_gallery_remove_template(g, first, NULL, 0) == FR_E_NOT_FOUND);
    CHECK_OK(fr_gallery_search(g, emb[0], 1, 2, m, &found));
    CHECK(found == 2 && m[0].distance > 1e-3f);

    /* a template's picture: stored, replaced, gone with the template */
    CHECK_OK(fr_gallery_templates(g, "alice", &list, &n));
    int64_t second = list[0].id;
    fr_template_infos_free(list, n);
    void *pic;
    size_t pic_size;
    CHECK(fr_gallery_template_image(g, second, &pic, &pic_size) == FR_E_NOT_FOUND);
    CHECK(fr_gallery_set_template_image(g, 424242, "x", 1) == FR_E_NOT_FOUND);
    CHECK_OK(fr_gallery_set_template_image(g, second, "first", 5));
    CHECK_OK(fr_gallery_set_template_image(g, second, "jpeg!!", 6));
    CHECK_OK(fr_gallery_template_image(g, second, &pic, &pic_size));
    CHECK(pic_size == 6 && memcmp(pic, "jpeg!!", 6) == 0);
    free(pic);
    CHECK_OK(fr_gallery_remove_template(g, second, NULL, 0));
    CHECK(fr_gallery_template_image(g, second, &pic, &pic_size) == FR_E_NOT_FOUND);

    /* a person stays, without templates, after their last one goes; and can be made empty */
    CHECK_OK(fr_gallery_templates(g, "bob", &list, &n));
    CHECK(n == 1);
    CHECK_OK(fr_gallery_remove_template(g, list[0].id, NULL, 0));
    fr_template_infos_free(list, n);
    CHECK_OK(fr_gallery_add_person(g, "carol"));
    CHECK(fr_gallery_add_person(g, "carol") == FR_E_ARG);
    CHECK(fr_gallery_add_person(g, "") == FR_E_ARG);
    fr_person *people;
    CHECK_OK(fr_gallery_people(g, &people, &n));
    CHECK(n == 3 && strcmp(people[0].name, "alice") == 0 && people[0].n_templates == 0);
    CHECK(strcmp(people[1].name, "bob") == 0 && people[1].n_templates == 0);
    CHECK(strcmp(people[2].name, "carol") == 0 && people[2].n_templates == 0 && people[2].added > 0);
    fr_people_free(people, n);
    CHECK_OK(fr_gallery_search(g, emb[2], 1, 3, m, &found));
    CHECK(found == 0); /* only people with templates are searched */
    CHECK_OK(fr_gallery_templates(g, "carol", &list, &n));
    CHECK(n == 0);
    fr_template_infos_free(list, n);
    fr_gallery_close(g);
}

TEST(api_keys_hashed_with_roles) {
    const char *path = test_gallery("keys");
    fr_gallery *g;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    uint8_t a[32], b[32], c[32];
    fr_sha256("key a", 5, a);
    fr_sha256("key b", 5, b);
    fr_sha256("key c", 5, c);
    int64_t id_a, id_b;
    CHECK_OK(fr_gallery_key_add(g, a, "admin", "laptop", &id_a));
    CHECK_OK(fr_gallery_key_add(g, b, "recognize", "door", &id_b));
    CHECK(fr_gallery_key_add(g, a, "admin", "again", NULL) == FR_E_ARG);
    CHECK(fr_gallery_key_add(g, c, "root", "", NULL) == FR_E_ARG);
    int found;
    char role[16];
    CHECK_OK(fr_gallery_key_lookup(g, b, &found, role, sizeof role));
    CHECK(found && strcmp(role, "recognize") == 0);
    CHECK_OK(fr_gallery_key_lookup(g, c, &found, role, sizeof role));
    CHECK(!found);
    fr_api_key *keys;
    int n;
    CHECK_OK(fr_gallery_keys(g, &keys, &n));
    CHECK(n == 2 && keys[0].id == id_a && strcmp(keys[0].label, "laptop") == 0 &&
          strcmp(keys[1].role, "recognize") == 0 && keys[1].created > 0);
    free(keys);
    CHECK_OK(fr_gallery_key_revoke(g, id_a));
    CHECK(fr_gallery_key_revoke(g, id_a) == FR_E_NOT_FOUND);
    fr_gallery_close(g);
    /* what is stored is the hash, never the key */
    CHECK_OK(fr_gallery_open(path, 0, &g));
    CHECK_OK(fr_gallery_key_lookup(g, a, &found, role, sizeof role));
    CHECK(!found);
    CHECK_OK(fr_gallery_key_lookup(g, b, &found, role, sizeof role));
    CHECK(found);
    fr_gallery_close(g);
}

/* Everything of a gallery copied into an SQLite file and back into the back end under test
 * (SQLite or PostgreSQL): people (one without templates), templates with their sources,
 * SHA-256 and embeddings, an image, an API key and the calibration. */
TEST(copy_moves_everything_between_databases) {
    char path[512], file_path[512]; /* test_gallery's answer is overwritten by the next call */
    snprintf(path, sizeof path, "%s", test_gallery("copy-source"));
    fr_gallery *g, *file;
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_use_model(g, "test-model", "1", DIM));
    float emb[3][DIM];
    char src[3][32];
    fr_template t[3];
    uint64_t s = 51;
    for (int i = 0; i < 3; i++) {
        random_unit(emb[i], DIM, &s);
        t[i] = make_template(emb[i], 500u + (unsigned)i, src[i], sizeof src[i]);
    }
    CHECK_OK(fr_gallery_enroll(g, "alice", t, 2));
    CHECK_OK(fr_gallery_enroll(g, "bob", t + 2, 1));
    CHECK_OK(fr_gallery_add_person(g, "carol"));
    fr_template_info *list;
    int n;
    CHECK_OK(fr_gallery_templates(g, "bob", &list, &n));
    CHECK_OK(fr_gallery_set_template_image(g, list[0].id, "bob's face", 10));
    fr_template_infos_free(list, n);
    uint8_t key[32];
    fr_sha256("copied key", 10, key);
    CHECK_OK(fr_gallery_key_add(g, key, "admin", "moved", NULL));
    int labels[40];
    float *e = clustered(10, 4, 0.1f, 5, labels);
    CHECK_OK(fr_gallery_calibrate(g, e, labels, 40, "synthetic", NULL));
    free(e);
    fr_gallery_close(g);

    snprintf(file_path, sizeof file_path, "%s", test_fresh_db("copy-file"));
    int64_t copied = 0;
    CHECK_OK(fr_gallery_open(path, 0, &g));
    CHECK_OK(fr_gallery_open(file_path, 1, &file));
    CHECK_OK(fr_gallery_copy(g, file, &copied));
    CHECK(copied == 3);
    CHECK(fr_gallery_copy(g, file, NULL) == FR_E_ARG); /* not into a gallery with people */
    fr_gallery_close(g);
    fr_gallery_close(file);

    /* and back into an empty gallery of the back end under test */
    snprintf(path, sizeof path, "%s", test_gallery("copy-back"));
    CHECK_OK(fr_gallery_open(file_path, 0, &file));
    CHECK_OK(fr_gallery_open(path, 1, &g));
    CHECK_OK(fr_gallery_copy(file, g, &copied));
    fr_gallery_close(file);
    CHECK(copied == 3);
    fr_gallery_info info;
    CHECK_OK(fr_gallery_get_info(g, &info));
    CHECK(info.n_people == 3 && info.n_templates == 3 && info.dim == DIM && info.calibrated &&
          strcmp(info.model, "test-model") == 0 && strcmp(info.calibration_source, "synthetic") == 0);
    CHECK_OK(fr_gallery_templates(g, NULL, &list, &n));
    int same = n == 3 && !strcmp(list[0].name, "alice") && !strcmp(list[2].name, "bob") &&
               !strcmp(list[2].source, src[2]) && !memcmp(list[2].sha256, t[2].sha256, 32) &&
               list[2].w == t[2].w;
    int64_t bob_template = n == 3 ? list[2].id : 0;
    fr_template_infos_free(list, n);
    CHECK(same);
    void *pic;
    size_t pic_size;
    CHECK_OK(fr_gallery_template_image(g, bob_template, &pic, &pic_size));
    CHECK(pic_size == 10 && !memcmp(pic, "bob's face", 10));
    free(pic);
    int found;
    char role[16];
    CHECK_OK(fr_gallery_key_lookup(g, key, &found, role, sizeof role));
    CHECK(found && !strcmp(role, "admin"));
    fr_match m;
    CHECK_OK(fr_gallery_search(g, emb[1], 1, 1, &m, &found));
    CHECK(found == 1 && !strcmp(m.name, "alice") && m.distance < 1e-3f);
    fr_gallery_close(g);
}

TEST_MAIN(CASE(sha256_known_vectors), CASE(enroll_list_rename_remove), CASE(batch_is_all_or_nothing),
          CASE(model_mismatch_is_an_error), CASE(corrupt_and_foreign_files_are_errors),
          CASE(stored_embedding_length_is_checked),
          CASE(locked_database_is_an_error), CASE(search_equals_brute_force),
          CASE(search_sees_changes_by_others), CASE(refresh_applies_every_kind_of_change),
          CASE(search_never_waits_for_the_database),
          CASE(outage_fails_cleanly_and_reconnects), CASE(schema_is_upgraded_and_newer_refused), CASE(killed_enrollment_leaves_whole_people),
          CASE(calibrated_thresholds_hold_their_rates), CASE(search_speed),
          CASE(templates_list_and_remove_one), CASE(api_keys_hashed_with_roles),
          CASE(copy_moves_everything_between_databases))
