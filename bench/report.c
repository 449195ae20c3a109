/* report.c: facerec-bench's results as a table, or as one JSON object (bench.h). */
#include "bench.h"

#include "common/common.h"
#include "nn/cpu.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* The load rate from SQLite in templates/s, from the largest gallery loaded (0: none). */
static double load_rate(const timing ours_at_threads[N_ROWS]) {
    static const int load_rows[] = {ROW_LOAD_1M, ROW_LOAD_100K};
    for (size_t i = 0; i < sizeof load_rows / sizeof load_rows[0]; i++) {
        const timing *t = &ours_at_threads[load_rows[i]];
        if (t->valid) return rows[load_rows[i]].gallery_size / (t->median_ms / 1e3);
    }
    return 0;
}

const char *const check_names[N_CHECKS] = {"dlib_resnet", "mobilefacenet"};

/* Whether a figure meets its row's targets (a time, a ratio to the peer, or both): 1 yes,
 * 0 no, -1 no target or cannot tell. */
static int target_met(const row_info *row, int t, const timing *ours, const timing *theirs) {
    if (!ours->valid) return -1;
    int met = -1;
    if (row->max_ms[t] > 0) met = ours->median_ms <= row->max_ms[t];
    if (row->min_ratio > 0 && met != 0) {
        if (!theirs->valid) return -1;
        met = theirs->median_ms / ours->median_ms >= row->min_ratio;
    }
    return met;
}

/* The targets of the row with thread_counts[t] threads, in words ("" for none). */
static void target_text(const row_info *row, int t, char *out, size_t outsz) {
    out[0] = '\0';
    if (row->max_ms[t] > 0)
        snprintf(out, outsz, "<= %g ms%s%s", row->max_ms[t], row->target_note ? " " : "",
                 row->target_note ? row->target_note : "");
    if (row->min_ratio > 0)
        snprintf(out + strlen(out), outsz - strlen(out), "%s>= %gx PyTorch",
                 out[0] ? ", " : "", row->min_ratio);
}

void report_table(const bench *b, const timing ours[2][N_ROWS], const peer *p, int repeat,
                  const check_result check[N_CHECKS]) {
    printf("facerec-bench: median of %d run%s after %d warm-up runs, [interquartile range]\n",
           repeat, repeat == 1 ? "" : "s", WARMUP_RUNS);
    if (!b->search_only)
        printf("inputs: %d face crop%s from sample1.jpg at %dx%d; a %dx%d frame with %d face%s\n",
               b->n_crops, b->n_crops == 1 ? "" : "s", CROP_SIZE, CROP_SIZE, BENCH_FRAME_W,
               BENCH_FRAME_H, b->n_frame_faces, b->n_frame_faces == 1 ? "" : "s");
    const machine *m = &b->machine;
    printf("kernels: %s (this CPU: %s%s%s); %s\n", m->isa, m->best_isa, m->note[0] ? "; " : "",
           m->note, m->model);
    printf("this core: peak %.1f GFLOP/s (register-resident multiply-adds at %s, 1 thread); "
           "memory read bandwidth %.1f GB/s (1 thread), %.1f GB/s (2 threads)\n", m->peak_gflops,
           m->isa, m->read_gbs[0], m->read_gbs[1]);
    if (p->available) printf("peer: PyTorch %s (%s)\n\n", p->torch_version, p->python);
    else printf("peer: unavailable: %s\n\n", p->reason);
    if (b->gallery_size > 0)
        printf("gallery: %lld synthetic unit-norm %d-d templates laid out as the default model's "
               "(%d + %d, weighted %.2f / %.2f), %d per person, in a temporary SQLite file, built "
               "in %.1f s; k = 1\n",
               (long long)b->gallery_size, GALLERY_DIM, GALLERY_DIM_FIRST,
               GALLERY_DIM - GALLERY_DIM_FIRST, GALLERY_WEIGHT_FIRST, 1 - GALLERY_WEIGHT_FIRST,
               TEMPLATES_PER_PERSON, b->gallery_build_s);
    printf("%-36s %3s %18s %18s %8s   %s\n", "", "thr", "facerec ms", "PyTorch ms", "ratio",
           "target");
    for (int r = 0; r < N_ROWS; r++) {
        const char *skipped = row_skip_reason(b, &rows[r]);
        if (skipped) {
            printf("%-36s     %s\n", rows[r].label, skipped);
            continue;
        }
        for (int t = 0; t < 2; t++) {
            const timing *o = &ours[t][r], *q = &p->t[t][r];
            char mine[32], theirs[32] = "-", ratio[16] = "-", target[48], verdict[64] = "";
            snprintf(mine, sizeof mine, "%.2f [%.2f]", o->median_ms, o->iqr_ms);
            if (q->valid) {
                snprintf(theirs, sizeof theirs, "%.2f [%.2f]", q->median_ms, q->iqr_ms);
                snprintf(ratio, sizeof ratio, "%.2fx", q->median_ms / o->median_ms);
            }
            target_text(&rows[r], t, target, sizeof target);
            int met = target_met(&rows[r], t, o, q);
            if (target[0]) snprintf(verdict, sizeof verdict, "%s %s", target,
                                    met < 0 ? "(no peer)" : met ? "ok" : "MISSED");
            if (t == 1 && o->repeat != repeat)
                snprintf(verdict + strlen(verdict), sizeof verdict - strlen(verdict),
                         "%s(%d runs)", verdict[0] ? " " : "", o->repeat);
            printf("%-36s %3d %18s %18s %8s%s%s\n", t == 0 ? rows[r].label : "", thread_counts[t],
                   mine, theirs, ratio, verdict[0] ? "   " : "", verdict);
        }
    }
    printf("\nratio = PyTorch ms / facerec ms (above 1: facerec is faster)\n");
    for (int t = 0; t < 2; t++) {
        const timing *one = &ours[t][ROW_DESCRIPTOR_1], *batch = &ours[t][ROW_DESCRIPTOR_16];
        if (!one->valid || !batch->valid) continue;
        double g1 = DESCRIPTOR_GFLOP / one->median_ms * 1e3, g16 = DESCRIPTOR_GFLOP / batch->median_ms * 1e3;
        printf("descriptor (%.3f GFLOP of convolution per face), %d thread%s: batch 1 %.0f GFLOP/s, "
               "batch 16 %.0f GFLOP/s; %.0f%% and %.0f%% of %sthe core's peak\n",
               DESCRIPTOR_GFLOP, thread_counts[t], thread_counts[t] == 1 ? "" : "s", g1, g16,
               100 * g1 / (m->peak_gflops * thread_counts[t]),
               100 * g16 / (m->peak_gflops * thread_counts[t]), thread_counts[t] == 1 ? "" : "twice ");
    }
    if (load_rate(ours[0]) > 0)
        printf("gallery load rate from SQLite: %.2fM templates/s (1 thread), %.2fM/s (2 threads)\n",
               load_rate(ours[0]) / 1e6, load_rate(ours[1]) / 1e6);
    if (b->check_probes > 0) {
        printf("search at %lld templates: exact nearest person for %d of %d probes (%.1f%%, "
               "brute-force float32 over the same templates)\n",
               (long long)b->checked_size, b->check_exact, b->check_probes,
               100.0 * b->check_exact / b->check_probes);
        printf("index: %zu bytes per template (%zu of them the float32 row); the first pass reads "
               "%zu per template (%d of %d dimensions as 8-bit codes): %.0f MB at %lld; "
               "kernels %s%s\n",
               b->bytes_per_template, GALLERY_DIM * sizeof(float), b->first_pass_bytes,
               b->prefix_dims, GALLERY_DIM, b->first_pass_bytes * (double)b->checked_size / 1e6,
               (long long)b->checked_size, nn_isa_name(nn_cpu_isa()),
               nn_cpu_isa() == NN_ISA_AVX512 && nn_cpu_info()->avx512_vnni ? " (VNNI)" : "");
        printf("at the memory read bandwidth above (1 thread / 2 threads), one pass over the "
               "float32 templates (%.0f MB) takes at least %.1f / %.1f ms, over the first "
               "pass's codes %.1f / %.1f ms\n",
               GALLERY_DIM * 4.0 * b->checked_size / 1e6,
               GALLERY_DIM * 4.0 * b->checked_size / 1e6 / m->read_gbs[0],
               GALLERY_DIM * 4.0 * b->checked_size / 1e6 / m->read_gbs[1],
               b->first_pass_bytes * (double)b->checked_size / 1e6 / m->read_gbs[0],
               b->first_pass_bytes * (double)b->checked_size / 1e6 / m->read_gbs[1]);
    }
    for (int c = 0; c < N_CHECKS; c++)
        if (check[c].done)
            printf("check: %s outputs of %d crops vs PyTorch: max |diff| %.3g, max distance "
                   "%.3g (%s)\n", check_names[c], b->n_crops, check[c].max_abs_diff,
                   check[c].max_distance,
                   check[c].max_distance <= CHECK_TOLERANCE ? "agree" : "DIFFER");
}

/* A figure as JSON: ours with the runs it came from; null when not measured. */
static json_t *timing_json(const timing *t) {
    if (!t->valid) return json_null();
    json_t *o = json_pack("{s:f, s:f}", "median_ms", t->median_ms, "iqr_ms", t->iqr_ms);
    if (o && t->repeat > 0) {
        json_object_set_new(o, "runs", json_integer(t->repeat));
        json_object_set_new(o, "warmup", json_integer(t->warmup));
    }
    return o;
}

/* Member `key` of `object`, an object created when absent. */
static json_t *object_member(json_t *object, const char *key) {
    json_t *member = json_object_get(object, key);
    if (!member) {
        member = json_object();
        json_object_set_new(object, key, member);
    }
    return member;
}

fr_status report_json(const bench *b, const timing ours[2][N_ROWS], const peer *p, int repeat,
                      const check_result check[N_CHECKS]) {
    json_t *root = json_pack("{s:i, s:i, s:i, s:[i, i], s:i, s:{s:I, s:i, s:i, s:f}}",
                             "repeat", repeat, "warmup", WARMUP_RUNS, "crops", b->n_crops,
                             "frame", BENCH_FRAME_W, BENCH_FRAME_H, "frame_faces",
                             b->n_frame_faces, "gallery", "templates",
                             (json_int_t)b->gallery_size, "dim", GALLERY_DIM,
                             "templates_per_person", TEMPLATES_PER_PERSON, "build_s",
                             b->gallery_build_s);
    if (!root) return fr_error(FR_E_NOMEM, "bench: out of memory for the JSON report");
    json_object_set_new(root, "machine",
                        json_pack("{s:s, s:s, s:s, s:s, s:f, s:{s:f, s:f}}", "isa",
                                  b->machine.isa, "best_isa", b->machine.best_isa, "isa_note",
                                  b->machine.note, "cpu", b->machine.model,
                                  "peak_gflops_1_thread", b->machine.peak_gflops,
                                  "memory_read_gbs", "1", b->machine.read_gbs[0], "2",
                                  b->machine.read_gbs[1]));
    if (b->check_probes > 0)
        json_object_set_new(root, "search_index",
                            json_pack("{s:I, s:i, s:i, s:I, s:I, s:i}", "templates",
                                      (json_int_t)b->checked_size, "probes", b->check_probes,
                                      "exact", b->check_exact, "bytes_per_template",
                                      (json_int_t)b->bytes_per_template, "first_pass_bytes",
                                      (json_int_t)b->first_pass_bytes, "first_pass_dims",
                                      b->prefix_dims));
    if (load_rate(ours[0]) > 0)
        json_object_set_new(root, "gallery_load_templates_per_s",
                            json_pack("{s:f, s:f}", "1", round(load_rate(ours[0])), "2",
                                      round(load_rate(ours[1]))));
    json_t *skipped = object_member(root, "skipped");
    for (int r = 0; r < N_ROWS; r++) {
        const char *reason = row_skip_reason(b, &rows[r]);
        if (reason) json_object_set_new(skipped, rows[r].key, json_string(reason));
    }
    json_t *facerec = object_member(root, "facerec");
    json_t *peer_json = object_member(root, "peer");
    json_object_set_new(peer_json, "available", json_boolean(p->available));
    json_t *ratios = p->available ? object_member(root, "ratio_peer_over_facerec") : NULL;
    if (p->available) {
        json_object_set_new(peer_json, "name", json_string("pytorch"));
        json_object_set_new(peer_json, "version", json_string(p->torch_version));
        json_object_set_new(peer_json, "python", json_string(p->python));
    } else {
        json_object_set_new(peer_json, "reason", json_string(p->reason));
    }
    for (int t = 0; t < 2; t++) {
        char threads[8];
        snprintf(threads, sizeof threads, "%d", thread_counts[t]);
        json_t *ours_t = object_member(facerec, threads);
        json_t *peer_t = p->available ? object_member(peer_json, threads) : NULL;
        json_t *ratio_t = ratios ? object_member(ratios, threads) : NULL;
        for (int r = 0; r < N_ROWS; r++) {
            json_object_set_new(ours_t, rows[r].key, timing_json(&ours[t][r]));
            if (peer_t && rows[r].peer_key)
                json_object_set_new(peer_t, rows[r].peer_key, timing_json(&p->t[t][r]));
            if (ratio_t && p->t[t][r].valid && ours[t][r].valid)
                json_object_set_new(ratio_t, rows[r].key,
                                    json_real(p->t[t][r].median_ms / ours[t][r].median_ms));
        }
    }
    json_t *targets = json_array();
    json_object_set_new(root, "targets", targets);
    for (int r = 0; r < N_ROWS; r++) {
        for (int t = 0; t < 2; t++) {
            char target[48];
            target_text(&rows[r], t, target, sizeof target);
            if (!target[0]) continue;
            int met = target_met(&rows[r], t, &ours[t][r], &p->t[t][r]);
            json_array_append_new(targets, json_pack("{s:s, s:i, s:s, s:o}", "figure",
                                                     rows[r].key, "threads", thread_counts[t],
                                                     "target", target, "met",
                                                     met < 0 ? json_null() : json_boolean(met)));
        }
    }
    for (int c = 0; c < N_CHECKS; c++)
        if (check[c].done)
            json_object_set_new(object_member(root, "check"), check_names[c],
                                json_pack("{s:i, s:f, s:f, s:b}", "crops", b->n_crops,
                                          "max_abs_diff", check[c].max_abs_diff, "max_distance",
                                          check[c].max_distance,
                                          "agree", check[c].max_distance <= CHECK_TOLERANCE));
    /* 6 significant digits: a timing is not more precise than that */
    int failed = json_dumpf(root, stdout, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) != 0;
    json_decref(root);
    if (failed || fputc('\n', stdout) == EOF)
        return fr_error(FR_E_IO, "bench: cannot write the JSON report");
    return FR_OK;
}
