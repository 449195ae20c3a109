/* test_eval.c: the evaluation maths on score lists with known answers, pairs files (good and
 * malformed), the ROC plot, and `facerec eval lfw` end to end on a small LFW subset. */
#include "eval/eval.h"
#include "run.h"
#include "test.h"

#include <sys/stat.h>

/* ---- metrics ------------------------------------------------------------------------------ */

TEST(best_threshold_takes_the_first_maximum) {
    /* accepting <= 0.25 or <= 0.45 both get 5 of 6 right; the lower one is taken */
    const float d[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    const int same[] = {1, 1, 0, 1, 0, 0};
    double t, acc;
    CHECK_OK(eval_best_threshold(d, same, 6, &t, &acc));
    CHECK_NEAR(t, 0.25, 1e-6);
    CHECK_NEAR(acc, 5.0 / 6.0, 1e-12);
}

TEST(folds_take_the_threshold_of_the_others) {
    /* fold 0: genuine 1, 2, impostor 3, 4; fold 1: genuine 1, 3.5, impostor 3, 4.
     * Fold 0 is tested at the best threshold of fold 1 (2: between 1 and 3), all right;
     * fold 1 at that of fold 0 (2.5), which rejects the genuine 3.5: 3 of 4. */
    const float d[] = {1, 2, 3, 4, 1, 3.5f, 3, 4};
    const int same[] = {1, 1, 0, 0, 1, 1, 0, 0};
    const int fold[] = {0, 0, 0, 0, 1, 1, 1, 1};
    eval_verification v;
    CHECK_OK(eval_verify(d, same, fold, 8, 2, -1, &v));
    CHECK(v.n_folds_tested == 2);
    CHECK_NEAR(v.fold_threshold[0], 2.0, 1e-6);
    CHECK_NEAR(v.fold_threshold[1], 2.5, 1e-6);
    CHECK_NEAR(v.fold_accuracy[0], 1.0, 1e-12);
    CHECK_NEAR(v.fold_accuracy[1], 0.75, 1e-12);
    CHECK_NEAR(v.accuracy_mean, 0.875, 1e-12);
    CHECK_NEAR(v.accuracy_std, sqrt(2 * 0.125 * 0.125), 1e-12);
    CHECK_NEAR(v.threshold_mean, 2.25, 1e-6);
    CHECK(v.n_genuine == 4 && v.n_impostor == 4);
    /* an empty third fold is not tested */
    CHECK_OK(eval_verify(d, same, fold, 8, 3, -1, &v));
    CHECK(v.n_folds_tested == 2);
    CHECK_NEAR(v.accuracy_mean, 0.875, 1e-12);

    /* a train/test split: only fold 1 is tested, with fold 0's threshold */
    CHECK_OK(eval_verify(d, same, fold, 8, 2, 1, &v));
    CHECK(v.n_folds_tested == 1);
    CHECK_NEAR(v.accuracy_mean, 0.75, 1e-12);
    CHECK_NEAR(v.accuracy_std, 0.0, 0);
    CHECK(v.n_genuine == 2 && v.n_impostor == 2);
    /* the ROC figures are over fold 1 only: genuine {1, 3.5}, impostor {3, 4} */
    CHECK_NEAR(v.auc, 0.75, 1e-12);

    /* bad folds are refused */
    const int bad_fold[] = {0, 0, 0, 0, 1, 1, 1, 2};
    CHECK(eval_verify(d, same, bad_fold, 8, 2, -1, &v) == FR_E_ARG);
}

TEST(auc_counts_ordered_pairs_and_half_ties) {
    const int same[] = {1, 0, 1, 0};
    const int fold[] = {0, 0, 1, 1};
    eval_verification v;
    /* genuine {0.1, 0.3}, impostor {0.2, 0.4}: 3 of the 4 cross pairs are in order */
    const float d[] = {0.1f, 0.2f, 0.3f, 0.4f};
    CHECK_OK(eval_verify(d, same, fold, 4, 2, -1, &v));
    CHECK_NEAR(v.auc, 0.75, 1e-12);
    /* all four at one distance: every pair a tie */
    const float tied[] = {0.5f, 0.5f, 0.5f, 0.5f};
    CHECK_OK(eval_verify(tied, same, fold, 4, 2, -1, &v));
    CHECK_NEAR(v.auc, 0.5, 1e-12);
    /* perfectly separated */
    const float apart[] = {0.1f, 0.9f, 0.2f, 0.8f};
    CHECK_OK(eval_verify(apart, same, fold, 4, 2, -1, &v));
    CHECK_NEAR(v.auc, 1.0, 1e-12);
    CHECK_NEAR(v.eer, 0.0, 1e-12);
    CHECK_NEAR(v.accuracy_mean, 1.0, 1e-12);
}

TEST(equal_error_rate_where_far_meets_frr) {
    /* 0.1g 0.2g 0.3g 0.4i 0.5i 0.6g 0.7i 0.8i: accepting <= 0.4 gives FAR = FRR = 1/4 */
    const float d[] = {0.1f, 0.2f, 0.3f, 0.6f, 0.4f, 0.5f, 0.7f, 0.8f};
    const int same[] = {1, 1, 1, 1, 0, 0, 0, 0};
    const int fold[] = {0, 1, 0, 1, 0, 1, 0, 1};
    eval_verification v;
    CHECK_OK(eval_verify(d, same, fold, 8, 2, -1, &v));
    CHECK_NEAR(v.eer, 0.25, 1e-9);
    CHECK_NEAR(v.eer_threshold, 0.4, 1e-6);
    /* interpolated: genuine {0.1, 0.3}, impostor {0.2, 0.4, 0.5, 0.6}. Accepting <= 0.2 gives
     * FAR 1/4, FRR 1/2; <= 0.3 gives FAR 1/4, FRR 0: they cross halfway, at 1/4 */
    const float d2[] = {0.1f, 0.3f, 0.2f, 0.4f, 0.5f, 0.6f};
    const int same2[] = {1, 1, 0, 0, 0, 0};
    const int fold2[] = {0, 1, 0, 1, 0, 1};
    CHECK_OK(eval_verify(d2, same2, fold2, 6, 2, -1, &v));
    CHECK_NEAR(v.eer, 0.25, 1e-9);
    CHECK_NEAR(v.eer_threshold, 0.25, 1e-6);
}

TEST(tar_at_far_stops_below_the_next_impostor) {
    /* genuine at 0, 1, ..., 999; impostors at 500.5, 501.5, ...: FAR 0.1% allows one impostor
     * (500.5), so the threshold stops below 501.5 and accepts genuine 0..501; FAR 0.01%
     * allows none: genuine 0..500 */
    enum { N = 1000 };
    static float d[2 * N];
    static int same[2 * N], fold[2 * N];
    for (int i = 0; i < N; i++) {
        d[i] = (float)i, same[i] = 1, fold[i] = i % 10;
        d[N + i] = 500.5f + (float)i, same[N + i] = 0, fold[N + i] = i % 10;
    }
    eval_verification v;
    CHECK_OK(eval_verify(d, same, fold, 2 * N, 10, -1, &v));
    CHECK(eval_far_targets[0] == 1e-3 && eval_far_targets[1] == 1e-4);
    CHECK_NEAR(v.tar_at_far[0], 502.0 / N, 1e-12);
    CHECK(v.threshold_at_far[0] < 501.5 && v.threshold_at_far[0] >= 501.49);
    CHECK_NEAR(v.tar_at_far[1], 501.0 / N, 1e-12);
    CHECK(v.threshold_at_far[1] < 500.5 && v.threshold_at_far[1] >= 500.49);
    /* the accuracy threshold sits between 999 and 500.5's neighbours: in 500..501 region */
    CHECK(v.accuracy_mean > 0.74 && v.accuracy_mean < 0.76);
}

TEST(roc_curve_points) {
    const float d[] = {0.1f, 0.2f, 0.2f, 0.4f};
    const int same[] = {1, 1, 0, 0};
    eval_roc_point *p;
    int n;
    CHECK_OK(eval_roc(d, same, 4, &p, &n));
    /* the start, then one point per distinct distance: 0.1, 0.2 (a tie), 0.4 */
    int ok = n == 4 && p[0].far == 0 && p[0].tar == 0 && p[1].far == 0 && p[1].tar == 0.5 &&
             p[2].far == 0.5 && p[2].tar == 1 && p[3].far == 1 && p[3].tar == 1;
    free(p);
    CHECK(ok);
    const int all_same[] = {1, 1, 1, 1};
    CHECK(eval_roc(d, all_same, 4, &p, &n) == FR_E_ARG);
}

TEST(identification_rank1_and_fnir_at_fpir) {
    /* enrolled: person 0 at (0, 0), person 1 at (10, 0). Mated probes: (1, 0) of 0 and (9, 0)
     * of 1 are found at distance 1; (4, 0) of 1 is nearer person 0: a miss. Strangers at
     * distances 3 and 5: FPIR 1% of 2 allows none, so the threshold stops below 3. */
    const float gallery[] = {0, 0, 10, 0};
    const int gallery_labels[] = {0, 1};
    const float probes[] = {1, 0, 9, 0, 4, 0, 0, 5, 10, 3};
    const int probe_labels[] = {0, 1, 1, -1, -1};
    eval_identification id;
    CHECK_OK(eval_identify(TEST_THREADS, gallery, gallery_labels, 2, probes, probe_labels, 5, 2,
                           0.01, 0, &id));
    CHECK(id.n_enrolled == 2 && id.n_mated == 3 && id.n_nonmated == 2);
    CHECK_NEAR(id.rank1, 2.0 / 3.0, 1e-12);
    CHECK(id.threshold < 3.0 && id.threshold > 2.99);
    CHECK_NEAR(id.fpir, 0.0, 0);
    CHECK_NEAR(id.fnir, 1.0 / 3.0, 1e-12);
    /* FPIR 50% lets the stranger at 3 through: the threshold stops below 5 */
    CHECK_OK(eval_identify(TEST_THREADS, gallery, gallery_labels, 2, probes, probe_labels, 5, 2,
                           0.5, 0, &id));
    CHECK(id.threshold < 5.0 && id.threshold > 4.99);
    CHECK_NEAR(id.fpir, 0.5, 0);
}

TEST(identification_cohort_normalisation) {
    /* enrolled: 0 at (0, 0), 1 at (10, 0), 2 at (10, 2): each cohort is the mean distance to
     * the other two. Person 0's is (10 + sqrt(104)) / 2 = 10.099, person 1's (10 + 2) / 2 = 6
     * and person 2's (sqrt(104) + 2) / 2 = 6.099. A stranger at (0, 3) scores 3 - 0.5 * 10.099
     * = -2.05; the mated probe (10, 1) of person 1 scores 1 - 0.5 * 6 = -2. */
    const float gallery[] = {0, 0, 10, 0, 10, 2};
    const int gallery_labels[] = {0, 1, 2};
    const float probes[] = {10, 1, 0, 3};
    const int probe_labels[] = {1, -1};
    eval_identification id;
    CHECK_OK(eval_identify(TEST_THREADS, gallery, gallery_labels, 3, probes, probe_labels, 2, 2,
                           0.01, 0.5, &id));
    /* the stranger's score, not its distance, sets the threshold: the mated probe misses */
    CHECK(id.threshold < -2.04 && id.threshold > -2.06);
    CHECK_NEAR(id.fnir, 1.0, 0);
    /* without normalisation the mated probe (1) is named below the stranger (3) */
    CHECK_OK(eval_identify(TEST_THREADS, gallery, gallery_labels, 3, probes, probe_labels, 2, 2,
                           0.01, 0, &id));
    CHECK_NEAR(id.fnir, 0.0, 0);
}

TEST(auc_standard_error_by_bootstrap) {
    /* separated kinds: every resample has AUC 1, no error */
    const float d[] = {0.1f, 0.2f, 0.3f, 0.5f, 0.6f, 0.7f};
    const int separated[] = {1, 1, 1, 0, 0, 0}, mixed[] = {1, 0, 1, 0, 1, 0};
    const int fold[] = {0, 1, 0, 1, 0, 1};
    eval_verification v;
    CHECK_OK(eval_verify(d, separated, fold, 6, 2, -1, &v));
    CHECK_NEAR(v.auc, 1.0, 0);
    CHECK_NEAR(v.auc_se, 0.0, 0);
    /* interleaved: AUC 6/9, and resampling six pairs moves it a lot */
    CHECK_OK(eval_verify(d, mixed, fold, 6, 2, -1, &v));
    CHECK_NEAR(v.auc, 6.0 / 9.0, 1e-12);
    CHECK(v.auc_se > 0.05 && v.auc_se < 0.5);
}

/* ---- protocols -------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(pairs_files_view2_and_view1) {
    char path[512], train[512];
    snprintf(path, sizeof path, "%s/eval_pairs_v2.txt", FR_TEST_TMP_DIR);
    write_text(path, "2\t1\nAnn\t1\t2\nAnn\t1\tBob\t3\nBob\t1\t3\r\nAnn\t2\tCid\t1\n\n");
    eval_protocol p;
    memset(&p, 0, sizeof p);
    int view = 0;
    CHECK_OK(eval_protocol_read_pairs(path, "lfw", &p, &view));
    int ok = view == 2 && p.n_folds == 2 && p.n_pairs == 4 && p.n_images == 5 &&
             !strcmp(p.images[0], "lfw/Ann/Ann_0001.jpg") &&
             !strcmp(p.images[4], "lfw/Cid/Cid_0001.jpg") && p.pairs[0].same &&
             !p.pairs[1].same && p.pairs[2].fold == 1 && !strcmp(p.images[p.pairs[1].b], "lfw/Bob/Bob_0003.jpg") &&
             !strcmp(p.images[p.pairs[3].a], "lfw/Ann/Ann_0002.jpg") && p.pairs[3].fold == 1;
    eval_protocol_free(&p);
    CHECK(ok);

    /* View 1: a training file then a test file become folds 0 and 1 over one image list */
    snprintf(train, sizeof train, "%s/eval_pairs_train.txt", FR_TEST_TMP_DIR);
    write_text(train, "1\nAnn\t1\t2\nAnn\t1\tBob\t1\n");
    snprintf(path, sizeof path, "%s/eval_pairs_test.txt", FR_TEST_TMP_DIR);
    write_text(path, "1\nBob\t1\t2\nBob\t2\tAnn\t2\n");
    CHECK_OK(eval_protocol_read_pairs(train, "d", &p, &view));
    CHECK_OK(eval_protocol_read_pairs(path, "d", &p, &view));
    ok = view == 1 && p.n_folds == 2 && p.n_pairs == 4 && p.n_images == 4 &&
         p.pairs[0].fold == 0 && p.pairs[3].fold == 1 && p.pairs[2].same &&
         !strcmp(p.images[p.pairs[0].a], "d/Ann/Ann_0001.jpg") &&
         !strcmp(p.images[p.pairs[3].b], "d/Ann/Ann_0002.jpg");
    eval_protocol_free(&p);
    CHECK(ok);
}

/* A malformed pairs file fails with FR_E_FORMAT and a message naming the file and line. */
static int refused_at(const char *name, const char *text, const char *where) {
    char path[512], expected[600];
    snprintf(path, sizeof path, "%s/%s", FR_TEST_TMP_DIR, name);
    write_text(path, text);
    eval_protocol p;
    memset(&p, 0, sizeof p);
    int view;
    fr_status st = eval_protocol_read_pairs(path, "lfw", &p, &view);
    eval_protocol_free(&p);
    snprintf(expected, sizeof expected, "%s%s", path, where);
    if (st != FR_E_FORMAT || !strstr(fr_last_error(), expected)) {
        fprintf(stderr, "  %s: status %d, message '%s', expected '%s'\n", name, (int)st,
                fr_last_error(), expected);
        return 0;
    }
    return 1;
}

TEST(malformed_pairs_files_name_the_line) {
    CHECK(refused_at("bad_header.txt", "ten\t300\n", ":1:"));
    CHECK(refused_at("bad_header3.txt", "1\t2\t3\n", ":1:"));
    CHECK(refused_at("empty.txt", "", ":1: the first line"));
    CHECK(refused_at("wrong_kind.txt", "1\nAnn\t1\tBob\t2\nAnn\t1\tBob\t2\n", ":2: expected a matched"));
    CHECK(refused_at("wrong_kind2.txt", "1\nAnn\t1\t2\nAnn\t1\t2\n", ":3: expected a mismatched"));
    CHECK(refused_at("bad_number.txt", "1\nAnn\t1\tx\nAnn\t1\tBob\t2\n", ":2: image numbers"));
    CHECK(refused_at("zero.txt", "1\nAnn\t0\t1\nAnn\t1\tBob\t2\n", ":2: image numbers"));
    CHECK(refused_at("short.txt", "2\nAnn\t1\t2\nAnn\t1\t3\nAnn\t1\tBob\t2\n", ":4: the file ends after 3"));
    CHECK(refused_at("long.txt", "1\nAnn\t1\t2\nAnn\t1\tBob\t2\nAnn\t1\t2\n", ":4: more pairs"));
    /* a name must be a folder inside the data folder (found by fuzz_pairs) */
    CHECK(refused_at("up.txt", "1\nAnn_/../x\t1\t2\nAnn\t1\tBob\t2\n", ":2: 'Ann_/../x' is not"));
    CHECK(refused_at("dotdot.txt", "1\nAnn\t1\t2\nAnn\t1\t..\t2\n", ":3: '..' is not"));
    /* a missing file is an I/O error naming it */
    eval_protocol p;
    memset(&p, 0, sizeof p);
    int view;
    CHECK(eval_protocol_read_pairs(FR_TEST_TMP_DIR "/no_such_pairs.txt", "lfw", &p, &view) == FR_E_IO);
    CHECK(strstr(fr_last_error(), "no_such_pairs.txt") != NULL);
}

/* The landmark reference file of `facerec eval landmarks`: a line per image, its path then
 * 68 points; a path leaving the set, a short line or a non-finite number names file and line. */
static char *landmark_line(const char *file, const char *last) {
    static char line[4096];
    int n = snprintf(line, sizeof line, "%s", file);
    for (int k = 0; k < 135; k++) n += snprintf(line + n, sizeof line - (size_t)n, "\t%d.5", k);
    snprintf(line + n, sizeof line - (size_t)n, "\t%s\n", last);
    return line;
}

TEST(landmark_references_read_and_refused) {
    char path[512], text[8192];
    snprintf(path, sizeof path, "%s/eval_landmarks.tsv", FR_TEST_TMP_DIR);
    snprintf(text, sizeof text, "%s", landmark_line("s1/1.png", "7"));
    size_t len = strlen(text);
    snprintf(text + len, sizeof text - len, "%s", landmark_line("s2/3.png", "-2e2"));
    write_text(path, text);
    eval_landmark_reference *refs = NULL;
    int n = 0;
    CHECK_OK(eval_landmarks_read_references(path, &refs, &n));
    int ok = n == 2 && !strcmp(refs[1].file, "s2/3.png") && refs[0].points[0][1] == 1.5f &&
             refs[0].points[67][1] == 7 && refs[1].points[67][1] == -200;
    free(refs);
    CHECK(ok);
    const char *bad[][2] = {{"../s1/1.png", "7"}, {"/etc/x", "7"}, {"s1/1.png", "nan"},
                            {"s1/1.png", "7\t8"}, {"s1/1.png", "1e7"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, landmark_line(bad[i][0], bad[i][1]));
        CHECK(eval_landmarks_read_references(path, &refs, &n) == FR_E_FORMAT);
        CHECK(strstr(fr_last_error(), "eval_landmarks.tsv:1:") != NULL && refs == NULL);
    }
}

TEST(folder_pairs_are_balanced_distinct_and_repeatable) {
    const int labels[] = {0, 0, 0, 1, 1, 2, 2, 2, 2, 3};
    /* same-person pairs: 3 + 1 + 6 = 10; different-person pairs: 45 - 10 = 35, 10 drawn */
    eval_pair *a, *b;
    int na, nb, folds = 5, folds2 = 5;
    CHECK_OK(eval_folder_pairs(labels, 10, &folds, 7, &a, &na));
    CHECK_OK(eval_folder_pairs(labels, 10, &folds2, 7, &b, &nb));
    int ok = folds == 5 && na == 20 && nb == 20 && !memcmp(a, b, sizeof *a * (size_t)na);
    int genuine = 0, per_fold[5] = {0};
    for (int i = 0; ok && i < na; i++) {
        ok = a[i].a < a[i].b && (labels[a[i].a] == labels[a[i].b]) == a[i].same &&
             a[i].fold >= 0 && a[i].fold < 5;
        genuine += a[i].same;
        per_fold[a[i].fold]++;
        for (int j = 0; ok && j < i; j++) ok = a[j].a != a[i].a || a[j].b != a[i].b;
    }
    for (int f = 0; f < 5; f++) ok = ok && per_fold[f] == 4;
    free(a);
    free(b);
    CHECK(ok && genuine == 10);
    /* with fewer different-person pairs than same-person ones, all of them are used, and
     * there are no more folds than those */
    const int two[] = {0, 0, 0, 1};
    folds = 10;
    CHECK_OK(eval_folder_pairs(two, 4, &folds, 1, &a, &na));
    free(a);
    CHECK(na == 6 && folds == 3);
    const int one_person[] = {0, 0};
    folds = 2;
    CHECK(eval_folder_pairs(one_person, 2, &folds, 1, &a, &na) == FR_E_ARG);
}

/* ---- the plot ------------------------------------------------------------------------------ */

TEST(roc_plot_draws_a_curve) {
    enum { N = 400 };
    static float d[N];
    static int same[N];
    for (int i = 0; i < N; i++) {
        same[i] = i % 2;
        d[i] = same[i] ? 0.3f + 0.001f * i : 0.6f + 0.001f * i;
    }
    eval_roc_point *p;
    int n;
    CHECK_OK(eval_roc(d, same, N, &p, &n));
    fr_image *img;
    fr_status st = eval_roc_plot(p, n, N / 2, "test", &img);
    free(p);
    CHECK_OK(st);
    int red = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        red += img->rgb[3 * i] == 200 && img->rgb[3 * i + 1] == 30;
    char path[512];
    snprintf(path, sizeof path, "%s/eval_roc.png", FR_TEST_TMP_DIR);
    st = fr_image_save(img, path, 0);
    int w = img->width;
    fr_image_free(img);
    CHECK_OK(st);
    CHECK(red > 300); /* separated: a line up the left edge and along the top */
    fr_image *back;
    CHECK_OK(fr_image_load(path, &back));
    int same_size = back->width == w;
    fr_image_free(back);
    CHECK(same_size);
}

/* ---- end to end ---------------------------------------------------------------------------- */

/* The first n matched and n mismatched lines of an LFW View 1 file, as a View 1 file. */
static int write_subset(const char *from, const char *to, int n) {
    FILE *in = fopen(from, "r"), *out = fopen(to, "w");
    int ok = in && out, total = 0;
    char line[512];
    if (ok && fgets(line, sizeof line, in)) total = atoi(line);
    ok = ok && total >= n;
    if (ok) fprintf(out, "%d\n", n);
    for (int i = 0; ok && i < 2 * total && fgets(line, sizeof line, in); i++)
        if (i < n || (i >= total && i < total + n)) fputs(line, out);
    if (in) fclose(in);
    if (out) fclose(out);
    return ok;
}

static double json_number_after(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *p = strstr(json, pattern);
    return p ? atof(p + strlen(pattern)) : NAN;
}

/* the output of the last run */
static test_run last;

#define RUN_CLI(...) test_run_cli(&last, __VA_ARGS__, NULL)

TEST(lfw_view1_subset_end_to_end) {
    char lfw[256], train[512], test[512], cache[512], roc[512];
    snprintf(lfw, sizeof lfw, "%s/lfw-deepfunneled", FR_TEST_DATA_DIR);
    snprintf(train, sizeof train, "%s/pairsDevTrain.txt", lfw);
    struct stat sb;
    if (stat(train, &sb) != 0) SKIP("LFW not found in %s (shared data absent)", FR_TEST_DATA_DIR);
    /* 4 + 6 matched and as many mismatched pairs; half under the sanitizers (scripts/test.sh
     * sets FACEREC_TEST_QUICK), where each photo's networks take seconds */
    const int quick = getenv("FACEREC_TEST_QUICK") != NULL;
    const int n_train = quick ? 2 : 4, n_test = quick ? 3 : 6;
    char small_train[512];
    snprintf(small_train, sizeof small_train, "%s/eval_lfw_train.txt", FR_TEST_TMP_DIR);
    snprintf(test, sizeof test, "%s/pairsDevTest.txt", lfw);
    CHECK(write_subset(train, small_train, n_train));
    char small_test[512];
    snprintf(small_test, sizeof small_test, "%s/eval_lfw_test.txt", FR_TEST_TMP_DIR);
    CHECK(write_subset(test, small_test, n_test));
    snprintf(cache, sizeof cache, "%s/eval_cache", FR_TEST_TMP_DIR);
    CHECK(test_run_argv(&last, (const char *const[]){"rm", "-rf", cache, NULL}, TEST_RUN_TIMEOUT) == 0);
    snprintf(roc, sizeof roc, "%s/eval_lfw_roc.png", FR_TEST_TMP_DIR);
    CHECK(RUN_CLI("eval", "lfw", "--dir", lfw, "--pairs", small_test, "--train", small_train,
                  "--cache", cache, "--roc", roc, "--json", "--models", FR_TEST_MODELS_DIR) == 0);
    const char *out = last.out;
    printf("  %s", out);
    double accuracy = json_number_after(out, "accuracy");
    CHECK(strstr(out, "\"protocol\": \"LFW View 1\"") != NULL);
    CHECK(json_number_after(out, "pairs") == 2 * n_test);
    CHECK(accuracy >= 0.8 && accuracy <= 1.0);
    CHECK(json_number_after(out, "auc") >= 0.8);
    double images = json_number_after(out, "images");
    /* most photos of the pairs are distinct */
    CHECK(images > 1.5 * (n_train + n_test) && json_number_after(out, "computed") == images);
    CHECK(stat(roc, &sb) == 0 && sb.st_size > 1000);
    /* again: every embedding comes from the cache, and the figures are the same */
    CHECK(RUN_CLI("eval", "lfw", "--dir", lfw, "--pairs", small_test, "--train", small_train,
                  "--cache", cache, "--roc", roc, "--json", "--models", FR_TEST_MODELS_DIR) == 0);
    out = last.out;
    CHECK(json_number_after(out, "cached") == images);
    CHECK(json_number_after(out, "computed") == 0);
    CHECK_NEAR(json_number_after(out, "accuracy"), accuracy, 0);
    /* without flip, every embedding is new but made on the faces found before */
    CHECK(RUN_CLI("eval", "lfw", "--dir", lfw, "--pairs", small_test, "--train", small_train,
                  "--cache", cache, "--no-flip", "--json", "--models", FR_TEST_MODELS_DIR) == 0);
    out = last.out;
    CHECK(json_number_after(out, "computed") == images);
    CHECK(json_number_after(out, "faces_cached") == images);
    CHECK(json_number_after(out, "accuracy") >= 0.8);
    /* the fused default cached each member alone: a member, or another weight, embeds nothing */
    const char *reuse[] = {"mobilefacenet", "fusion:0.5"};
    for (int i = 0; i < 2; i++) {
        CHECK(RUN_CLI("eval", "lfw", "--dir", lfw, "--pairs", small_test, "--train", small_train,
                      "--cache", cache, "--model", reuse[i], "--json", "--models",
                      FR_TEST_MODELS_DIR) == 0);
        CHECK(json_number_after(last.out, "computed") == 0);
        CHECK(json_number_after(last.out, "cached") == images);
    }
    /* a View 1 file cannot be its own training set: a bad request */
    CHECK(RUN_CLI("eval", "lfw", "--dir", lfw, "--pairs", small_test, "--train", small_test) == 2);
    test_run_free(&last);
}

TEST_MAIN(CASE(landmark_references_read_and_refused),
          CASE(best_threshold_takes_the_first_maximum), CASE(folds_take_the_threshold_of_the_others),
          CASE(auc_counts_ordered_pairs_and_half_ties), CASE(equal_error_rate_where_far_meets_frr),
          CASE(tar_at_far_stops_below_the_next_impostor), CASE(roc_curve_points),
          CASE(identification_rank1_and_fnir_at_fpir), CASE(identification_cohort_normalisation),
          CASE(auc_standard_error_by_bootstrap), CASE(pairs_files_view2_and_view1),
          CASE(malformed_pairs_files_name_the_line),
          CASE(folder_pairs_are_balanced_distinct_and_repeatable), CASE(roc_plot_draws_a_curve),
          CASE(lfw_view1_subset_end_to_end))
