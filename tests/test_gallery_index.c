/* test_gallery_index.c: the search index (src/gallery/index.c) answers exactly what a float32
 * brute-force search answers, on adversarial near-ties too, with every kernel variant and any
 * thread count, and follows enrollments, removals and renames in place. */
#include "facerec.h"
#include "gallery/gallery.h"
#include "nn/kernels.h"
#include "test.h"

#include <stdint.h>

#define DIM 320 /* the default model's: mobilefacenet's 192 then dlib-resnet's 128 */
#define MAX_ROWS 4000
#define MAX_K 64

static float rnd(uint64_t *s) { /* uniform in [-1, 1) */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void scale_to(float *v, int n, double norm) {
    double s = 0;
    for (int k = 0; k < n; k++) s += (double)v[k] * v[k];
    for (int k = 0; k < n; k++) v[k] = (float)(v[k] * norm / sqrt(s));
}

/* A unit vector laid out as a fusion's: its two members unit-norm, weighted 0.03 and 0.97 (so
 * the index's plan codes the last 128 dimensions first, and the second pass has the rest). */
static void fused_unit(float *v, uint64_t *s) {
    for (int k = 0; k < DIM; k++) v[k] = rnd(s);
    scale_to(v, 192, sqrt(0.03));
    scale_to(v + 192, 128, sqrt(0.97));
}

/* The test's own copy of the gallery, for the brute-force answer. */
typedef struct copy {
    float rows[MAX_ROWS][DIM];
    char owner[MAX_ROWS][32];
    int64_t id[MAX_ROWS];
    int n;
    unsigned serial;
} copy;

static copy *gallery_copy;

static fr_status enroll(fr_gallery *g, const char *name, const float *rows, int n) {
    fr_template t[16];
    char src[16][32];
    for (int i = 0; i < n; i++) {
        unsigned serial = gallery_copy->serial++;
        memset(&t[i], 0, sizeof t[i]);
        t[i].embedding = rows + (size_t)i * DIM;
        snprintf(src[i], sizeof src[i], "photo%u.jpg", serial);
        t[i].source = src[i];
        memcpy(t[i].sha256, &serial, sizeof serial);
        t[i].w = t[i].h = 1;
        t[i].quality = 1;
    }
    fr_status st = fr_gallery_enroll(g, name, t, n);
    if (st != FR_OK) return st;
    /* the ids the store gave them: the highest ones */
    fr_template_info *infos;
    int n_infos;
    st = fr_gallery_templates(g, name, &infos, &n_infos);
    if (st != FR_OK) return st;
    for (int i = 0; i < n; i++) {
        copy *c = gallery_copy;
        memcpy(c->rows[c->n], rows + (size_t)i * DIM, sizeof c->rows[0]);
        snprintf(c->owner[c->n], sizeof c->owner[0], "%s", name);
        c->id[c->n] = infos[n_infos - n + i].id;
        c->n++;
    }
    fr_template_infos_free(infos, n_infos);
    return FR_OK;
}

typedef struct ranked {
    float d;
    const char *name;
} ranked;

static int by_distance(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    return (x->d > y->d) - (x->d < y->d);
}

/* Whether m[0..found) is the exact answer for probe q: each rank's distance equal to the bit
 * to the brute force's (float32 distances, the generic kernel), and its person one of those
 * at that distance. */
static int exact(const float *q, const fr_match *m, int k, int found) {
    static ranked best[MAX_ROWS];
    const nn_kernel_table *generic = nn_kernels_for(NN_ISA_GENERIC);
    int n_people = 0;
    for (int j = 0; j < gallery_copy->n; j++) {
        float d = generic->sq_distance(q, gallery_copy->rows[j], DIM);
        int p = 0;
        while (p < n_people && strcmp(best[p].name, gallery_copy->owner[j])) p++;
        if (p == n_people) best[n_people++] = (ranked){d, gallery_copy->owner[j]};
        else if (d < best[p].d) best[p].d = d;
    }
    qsort(best, (size_t)n_people, sizeof *best, by_distance);
    if (found != (k < n_people ? k : n_people)) return 0;
    for (int r = 0; r < found; r++) {
        if (m[r].distance != sqrtf(best[r].d)) {
            fprintf(stderr, "rank %d: distance %.9g, brute force %.9g\n", r, m[r].distance,
                    sqrtf(best[r].d));
            return 0;
        }
        int named = 0; /* among the people at exactly this distance */
        for (int p = 0; p < n_people; p++)
            named |= best[p].d == best[r].d && !strcmp(best[p].name, m[r].name);
        if (!named) return 0;
    }
    return 1;
}

static fr_gallery *open_fresh(const char *tag) {
    fr_gallery *g = NULL;
    /* one file per kernel level: ctest runs this program at each level side by side */
    const char *isa = getenv("FACEREC_ISA");
    char name[128];
    snprintf(name, sizeof name, "%s_%s", tag, isa && *isa ? isa : "best");
    const char *path = test_fresh_db(name);
    if (fr_gallery_open(path, 1, &g) != FR_OK ||
        fr_gallery_use_model(g, "fusion", "1", DIM) != FR_OK ||
        gallery_exec(g, "PRAGMA synchronous=OFF", "test settings") != FR_OK)
        return NULL;
    return g;
}

/* People around `centre`: all at distance `radius` from it (near-ties a few ulps apart), two
 * with the very same template (a true tie), one of a hundred times the norm, one tiny. */
static fr_status enroll_near_ties(fr_gallery *g, const float *centre, double radius, int tag,
                                  uint64_t *s) {
    float rows[3][DIM];
    char name[32];
    fr_status st = FR_OK;
    for (int p = 0; p < 12 && st == FR_OK; p++) {
        for (int i = 0; i < 3; i++) {
            float w[DIM];
            fused_unit(w, s);
            scale_to(w, DIM, radius * (1 + (p * 3 + i) * 1e-7));
            for (int k = 0; k < DIM; k++) rows[i][k] = centre[k] + w[k];
        }
        snprintf(name, sizeof name, "tie%d-%d", tag, p);
        st = enroll(g, name, rows[0], p < 2 ? 1 : 3); /* tie*-0 and tie*-1: one row each */
        if (st == FR_OK && p == 1) { /* tie*-1's row is tie*-0's */
            memcpy(rows[0], gallery_copy->rows[gallery_copy->n - 2], sizeof rows[0]);
            snprintf(name, sizeof name, "twin%d", tag);
            st = enroll(g, name, rows[0], 1);
        }
    }
    for (int k = 0; k < DIM; k++) rows[0][k] = centre[k] * 100, rows[1][k] = centre[k] * 1e-3f;
    snprintf(name, sizeof name, "large%d", tag);
    if (st == FR_OK) st = enroll(g, name, rows[0], 1);
    snprintf(name, sizeof name, "small%d", tag);
    if (st == FR_OK) st = enroll(g, name, rows[1], 1);
    return st;
}

/* n_people random people of 1 to 4 templates, and near-tie groups around 4 centres. */
static fr_status build(fr_gallery *g, int n_people, float centres[4][DIM], uint64_t *s) {
    float rows[4][DIM];
    char name[32];
    fr_status st = FR_OK;
    for (int c = 0; c < 4 && st == FR_OK; c++) {
        fused_unit(centres[c], s);
        st = enroll_near_ties(g, centres[c], 0.2 + 0.3 * c, c, s);
    }
    for (int p = 0; p < n_people && st == FR_OK; p++) {
        for (int i = 0; i < 4; i++) fused_unit(rows[i], s);
        snprintf(name, sizeof name, "person%d", p);
        st = enroll(g, name, rows[0], 1 + p % 4);
    }
    return st;
}

/* Probes: the centres, templates themselves, noisy templates and random ones. */
static void make_probes(float (*probes)[DIM], int n, float centres[4][DIM], uint64_t *s) {
    for (int i = 0; i < n; i++) {
        if (i < 4) {
            memcpy(probes[i], centres[i], sizeof probes[i]);
        } else if (i % 3 == 0) {
            memcpy(probes[i], gallery_copy->rows[(i * 37) % gallery_copy->n], sizeof probes[i]);
        } else if (i % 3 == 1) {
            float w[DIM];
            fused_unit(w, s);
            for (int k = 0; k < DIM; k++)
                probes[i][k] = gallery_copy->rows[(i * 53) % gallery_copy->n][k] + 0.3f * w[k];
        } else {
            fused_unit(probes[i], s);
        }
    }
}

/* Every probe, one at a time and all at once, with k and the thread count given. */
static int search_is_exact(fr_gallery *g, float (*probes)[DIM], int n_probes, int k, int threads) {
    static fr_match m[64 * MAX_K];
    int found, ok = 1;
    g->threads = threads;
    if (fr_gallery_search(g, probes[0], n_probes, k, m, &found) != FR_OK) return 0;
    for (int i = 0; i < n_probes && ok; i++) ok = exact(probes[i], m + (size_t)i * k, k, found);
    for (int i = 0; i < n_probes && ok; i++)
        ok = fr_gallery_search(g, probes[i], 1, k, m, &found) == FR_OK && exact(probes[i], m, k, found);
    return ok;
}

/* sq_distance at every level to the bit of the generic one; dot_u8s8 at every level (the
 * generic one included) against the plain sum, for 1 to 8 probes at once and row counts that
 * leave every remainder of the kernels' blocks of 4. */
TEST(kernel_variants_agree_to_the_bit) {
    const nn_kernel_table *generic = nn_kernels_for(NN_ISA_GENERIC);
    static float a[512], b[512];
    static int8_t probe[8][512];
    static uint8_t rows[11 * 512];
    uint64_t s = 5;
    for (int k = 0; k < 512; k++) {
        a[k] = rnd(&s) * 3;
        b[k] = rnd(&s) * 3;
        for (int p = 0; p < 8; p++) probe[p][k] = (int8_t)(rnd(&s) * 127);
    }
    probe[1][3] = -127, probe[2][5] = 127; /* the codes' extremes */
    for (int k = 0; k < 11 * 512; k++) rows[k] = (uint8_t)((rnd(&s) + 1) * 127.5f);
    rows[7] = 0, rows[9] = 255;
    const int8_t *probes[8];
    for (int p = 0; p < 8; p++) probes[p] = probe[p];
    for (int isa = NN_ISA_GENERIC; isa <= (int)nn_cpu_info()->best; isa++) {
        const nn_kernel_table *kern = nn_kernels_for((nn_isa)isa);
        for (int dim = 1; dim <= 512; dim += dim < 40 ? 1 : 37)
            CHECK(kern->sq_distance(a, b, dim) == generic->sq_distance(a, b, dim));
        for (int bytes = 64; bytes <= 512; bytes += 64)
            for (int n_probes = 1; n_probes <= 8; n_probes++)
                for (int n = 1; n <= 11; n++) {
                    int32_t want[8 * 11], got[8 * 11];
                    for (int p = 0; p < n_probes; p++)
                        for (int j = 0; j < n; j++) {
                            int32_t sum = 0;
                            for (int k = 0; k < bytes; k++) sum += rows[j * 512 + k] * probes[p][k];
                            want[p * n + j] = sum;
                        }
                    kern->dot_u8s8(probes, n_probes, rows, 512, bytes, n, got);
                    CHECK(!memcmp(want, got, (size_t)n_probes * n * sizeof want[0]));
                }
    }
    printf("  kernels in use: %s%s\n", nn_isa_name(nn_cpu_isa()),
           nn_cpu_isa() == NN_ISA_AVX512 && nn_cpu_info()->avx512_vnni ? " (VNNI)" : "");
}

TEST(search_is_exact_on_near_ties_at_any_thread_count) {
    gallery_copy = calloc(1, sizeof *gallery_copy);
    fr_gallery *g = open_fresh("index_ties");
    CHECK(g && gallery_copy);
    uint64_t s = 17;
    static float centres[4][DIM], probes[40][DIM];
    CHECK_OK(build(g, getenv("FACEREC_TEST_QUICK") ? 150 : 600, centres, &s));
    make_probes(probes, 40, centres, &s);
    static const int ks[] = {1, 3, MAX_K};
    for (int c = 0; c < 3; c++)
        for (int threads = 1; threads <= 3; threads++)
            CHECK(search_is_exact(g, probes, 40, ks[c], threads));
    /* the first pass codes the 128 dimensions of most variance: dlib-resnet's */
    CHECK(gallery_index_prefix(g) == 128);
    fr_gallery_close(g);
    free(gallery_copy);
}

TEST(bounds_rule_out_most_templates) {
    gallery_copy = calloc(1, sizeof *gallery_copy);
    fr_gallery *g = open_fresh("index_prune");
    CHECK(g && gallery_copy);
    uint64_t s = 23;
    static float centres[4][DIM], probes[8][DIM];
    CHECK_OK(build(g, getenv("FACEREC_TEST_QUICK") ? 300 : 1200, centres, &s));
    CHECK_OK(gallery_ensure_loaded(g));
    int64_t n = gallery_index_templates(g), examined_total = 0;
    CHECK(n == gallery_copy->n);
    for (int i = 0; i < 8; i++) { /* noisy copies of templates: a person's new photo */
        float w[DIM];
        fused_unit(w, &s);
        for (int k = 0; k < DIM; k++) probes[i][k] = gallery_copy->rows[(i * 97) % n][k] + 0.4f * w[k];
        fr_match m[5];
        int found;
        int64_t examined;
        CHECK_OK(gallery_index_search(g, probes[i], 1, 5, m, &found, &examined));
        CHECK(exact(probes[i], m, 5, found));
        examined_total += examined;
    }
    printf("  %lld of %lld templates examined in float32 per probe\n",
           (long long)(examined_total / 8), (long long)n);
    CHECK(examined_total / 8 < n / 10);
    fr_gallery_close(g);
    free(gallery_copy);
}

TEST(bounds_never_exceed_the_distance) {
    gallery_copy = calloc(1, sizeof *gallery_copy);
    fr_gallery *g = open_fresh("index_bounds");
    CHECK(g && gallery_copy);
    uint64_t s = 31;
    static float centres[4][DIM], rows[4][DIM];
    CHECK_OK(build(g, 100, centres, &s));
    /* spiky rows: one large coordinate in each member makes the codes coarse */
    for (int p = 0; p < 20; p++) {
        for (int i = 0; i < 2; i++) {
            fused_unit(rows[i], &s);
            rows[i][p % 192] = 0.9f;
            rows[i][192 + p % 128] = -0.9f;
        }
        char name[32];
        snprintf(name, sizeof name, "spiky%d", p);
        CHECK_OK(enroll(g, name, rows[0], 2));
    }
    CHECK_OK(gallery_ensure_loaded(g));
    double tightest = INFINITY;
    for (int i = 0; i < 60; i++) {
        float q[DIM], w[DIM];
        const float *x = gallery_copy->rows[(i * 71) % gallery_copy->n];
        fused_unit(w, &s);
        /* templates themselves (distance 0), and at 1e-4 to 1 from one */
        double r = i % 6 == 0 ? 0 : pow(10, -4 + (i % 6) * 0.8);
        for (int k = 0; k < DIM; k++) q[k] = x[k] + (float)r * w[k];
        int64_t violations;
        double t;
        CHECK_OK(gallery_index_check_bounds(g, q, &violations, &t));
        CHECK(violations == 0);
        tightest = FR_MIN(tightest, t);
    }
    printf("  the bound came within %.2g of a distance (relative)\n", tightest);
    fr_gallery_close(g);
    free(gallery_copy);
}

/* The same answers from g (changed in place) as from a fresh handle that loads the file. */
static int same_as_fresh(fr_gallery *g, const char *path, float (*probes)[DIM], int n) {
    fr_gallery *fresh;
    static fr_match a[40 * 8], b[40 * 8];
    int found_a, found_b;
    if (fr_gallery_open(path, 0, &fresh) != FR_OK) return 0;
    int ok = fr_gallery_search(g, probes[0], n, 8, a, &found_a) == FR_OK &&
             fr_gallery_search(fresh, probes[0], n, 8, b, &found_b) == FR_OK && found_a == found_b;
    for (int i = 0; i < n * 8 && ok && i % 8 < found_a; i++) ok = a[i].distance == b[i].distance;
    for (int i = 0; i < n && ok; i++) ok = exact(probes[i], a + i * 8, 8, found_a);
    fr_gallery_close(fresh);
    return ok;
}

TEST(changes_update_the_index_in_place) {
    gallery_copy = calloc(1, sizeof *gallery_copy);
    fr_gallery *g = open_fresh("index_changes");
    CHECK(g && gallery_copy);
    const char *path = fr_gallery_path(g);
    uint64_t s = 29;
    static float centres[4][DIM], probes[40][DIM], rows[4][DIM];
    CHECK_OK(build(g, 200, centres, &s));
    make_probes(probes, 40, centres, &s);
    CHECK(same_as_fresh(g, path, probes, 40));
    const gallery_index *loaded = g->index;
    CHECK(loaded);

    /* a new person, near probe 5; more templates for an existing one */
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < DIM; k++) rows[i][k] = probes[5][k] + 0.01f * rnd(&s);
    CHECK_OK(enroll(g, "newcomer", rows[0], 2));
    CHECK_OK(enroll(g, "person7", rows[0], 1));
    CHECK(g->index == loaded && gallery_index_templates(g) == gallery_copy->n);
    CHECK(same_as_fresh(g, path, probes, 40));

    /* removing a person, renaming one, removing templates (the last of a person too) */
    CHECK_OK(fr_gallery_remove(g, "tie0-0"));
    CHECK_OK(fr_gallery_rename(g, "twin0", "tie0-0"));
    CHECK_OK(fr_gallery_rename(g, "newcomer", "late arrival"));
    for (int j = gallery_copy->n - 1; j >= 0; j--) {
        if (!strcmp(gallery_copy->owner[j], "tie0-0")) memmove(gallery_copy->owner[j], "gone", 5);
        else if (!strcmp(gallery_copy->owner[j], "twin0")) memcpy(gallery_copy->owner[j], "tie0-0", 7);
        else if (!strcmp(gallery_copy->owner[j], "newcomer")) strcpy(gallery_copy->owner[j], "late arrival");
    }
    int64_t ids[3] = {-1, -1, -1};
    for (int j = 0; j < gallery_copy->n; j++) {
        if (!strcmp(gallery_copy->owner[j], "large1")) ids[0] = gallery_copy->id[j];
        if (!strcmp(gallery_copy->owner[j], "person10")) ids[1 + (ids[1] >= 0)] = gallery_copy->id[j];
    }
    for (int i = 0; i < 3; i++) {
        CHECK_OK(fr_gallery_remove_template(g, ids[i], NULL, 0));
        for (int j = 0; j < gallery_copy->n; j++)
            if (gallery_copy->id[j] == ids[i]) strcpy(gallery_copy->owner[j], "gone");
    }
    /* the copy drops the rows marked gone */
    int kept = 0;
    for (int j = 0; j < gallery_copy->n; j++) {
        if (!strcmp(gallery_copy->owner[j], "gone")) continue;
        memmove(gallery_copy->rows[kept], gallery_copy->rows[j], sizeof gallery_copy->rows[0]);
        memmove(gallery_copy->owner[kept], gallery_copy->owner[j], sizeof gallery_copy->owner[0]);
        gallery_copy->id[kept++] = gallery_copy->id[j];
    }
    gallery_copy->n = kept;
    CHECK(g->index == loaded && gallery_index_templates(g) == gallery_copy->n);
    CHECK(same_as_fresh(g, path, probes, 40));
    fr_match m[1];
    int found;
    CHECK_OK(fr_gallery_search(g, rows[0], 1, 1, m, &found));
    CHECK(!strcmp(m[0].name, "late arrival") || !strcmp(m[0].name, "person7"));
    fr_gallery_close(g);
    free(gallery_copy);
}

TEST_MAIN(CASE(kernel_variants_agree_to_the_bit),
          CASE(search_is_exact_on_near_ties_at_any_thread_count),
          CASE(bounds_rule_out_most_templates), CASE(bounds_never_exceed_the_distance), CASE(changes_update_the_index_in_place))
