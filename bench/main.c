/* main.c: facerec-bench [options]: the speed of the networks and of gallery search with 1 and
 * 2 threads, next to the PyTorch peer and the performance targets (bench.h). */
#include "bench.h"

#include "common/common.h"
#include "face/face.h"
#include "gallery/gallery.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec-bench [options]\n"
    "Time the networks and gallery search (median of N runs after warm-up) with 1 and 2\n"
    "threads, next to the PyTorch peer bench/peer_torch.py and the performance targets.\n"
    "The gallery is a temporary SQLite file of synthetic templates, deleted afterwards.\n\n"
    "  --models DIR   models folder (default: $FACEREC_MODELS, else the source tree's models/)\n"
    "  --repeat N     timed runs per figure (default 15; at most 3 for the slowest gallery\n"
    "                 figures)\n"
    "  --gallery-size N  largest synthetic gallery: 10000, 100000 or 1000000 (default;\n"
    "                 building the 1M-template file takes ~1 min and ~1.6 GB of disk)\n"
    "  --only KEYS    only the rows with these keys (comma-separated; the JSON keys, e.g.\n"
    "                 mobilefacenet_batch1_ms)\n"
    "  --search       only the gallery rows (no networks, no peer)\n"
    "  --no-peer      do not run the PyTorch peer\n"
    "  --check        also compare our face descriptors and MobileFaceNet embeddings with the\n"
    "                 peer's on the same crops (exit status 1 when they differ by more than\n"
    "                 1e-3 in distance)\n"
    "  --json         print one JSON object instead of the table\n\n"
    "The search answers are checked against a brute-force search at the largest gallery\n"
    "(exit status 1 unless every one is exact).\n"
    "\n"
    "The peer needs a Python with torch and numpy: $FACEREC_PYTHON, else the first python3\n"
    "on PATH that has them (Debian: apt-get install python3-torch python3-numpy).\n";

/* A usage error: the message, a pointer to --help, exit status 2. */
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("facerec-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see 'facerec-bench --help')\n", stderr);
    return 2;
}

int main(int argc, char **argv) {
    static const struct option options[] = {
        {"models", required_argument, 0, 'm'}, {"repeat", required_argument, 0, 'r'},
        {"no-peer", no_argument, 0, 'n'},      {"check", no_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},         {"help", no_argument, 0, 'h'},
        {"gallery-size", required_argument, 0, 'g'}, {"only", required_argument, 0, 'o'},
        {"search", no_argument, 0, 's'}, {0, 0, 0, 0}};
    const char *models_dir = NULL, *only = NULL;
    int repeat = 15, use_peer = 1, check = 0, json = 0, search_only = 0;
    int64_t gallery_size = GALLERY_LARGE;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'm': models_dir = optarg; break;
        case 'r': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || end == optarg || n < 1 || n > 100000)
                return usage_error("--repeat needs a whole number from 1 to 100000");
            repeat = (int)n;
            break;
        }
        case 'g': {
            char *end;
            long long n = strtoll(optarg, &end, 10);
            if (*end || end == optarg ||
                (n != GALLERY_SMALL && n != GALLERY_MEDIUM && n != GALLERY_LARGE))
                return usage_error("--gallery-size must be 10000, 100000 or 1000000");
            gallery_size = n;
            break;
        }
        case 'o': {
            int known = 0;
            for (int r = 0; r < N_ROWS; r++) known += strstr(optarg, rows[r].key) != NULL;
            if (!known) return usage_error("--only names no row (keys as in --json's output)");
            only = optarg;
            break;
        }
        case 'n': use_peer = 0; break;
        case 's': search_only = 1; break;
        case 'c': check = 1; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return usage_error("unknown option");
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (check && (!use_peer || search_only))
        return usage_error("--check needs the peer (drop --no-peer and --search)");
    if (search_only) use_peer = 0;

    bench b = {.max_gallery_size = gallery_size, .only = only, .search_only = search_only};
    fr_status st = bench_open(&b, models_dir);
    if (st == FR_OK) machine_measure(&b.machine);
    timing ours[2][N_ROWS] = {{{0}}};
    /* row by row, as the gallery grows from one size to the next */
    for (int r = 0; r < N_ROWS && st == FR_OK; r++) {
        if (row_skip_reason(&b, &rows[r])) continue;
        if (rows[r].gallery_size > b.gallery_size) {
            double start = now_ms();
            st = synthetic_gallery_grow(&b, rows[r].gallery_size);
            b.gallery_build_s += (now_ms() - start) / 1e3;
            if (st != FR_OK) fr_error_prefix(st, "bench: building the synthetic gallery");
        }
        for (int t = 0; t < 2 && st == FR_OK; t++) {
            st = bench_measure(&b, &rows[r], thread_counts[t], repeat, &ours[t][r]);
        }
    }
    /* at the largest gallery: every probe's answer against brute force and the index's
     * memory (the report reads them against the machine's memory bandwidth) */
    if (st == FR_OK && b.gallery_size > 0) {
        st = search_check(&b, thread_counts[1]);
        b.checked_size = b.gallery_size;
        b.bytes_per_template = gallery_index_bytes_per_template(b.gallery);
        b.first_pass_bytes = gallery_index_first_pass_bytes(b.gallery);
        b.prefix_dims = gallery_index_prefix(b.gallery);
    }
    peer p = {0};
    check_result checked[N_CHECKS] = {{0}};
    if (st == FR_OK && use_peer) {
        char model_dir[4096], mobilefacenet_path[4096];
        st = fr_model_path(models_dir, "face-api/model", model_dir, sizeof model_dir);
        if (st == FR_OK)
            st = fr_model_path(models_dir, fr_embedder_find("mobilefacenet")->model_file,
                               mobilefacenet_path, sizeof mobilefacenet_path);
        if (st == FR_OK) peer_run(&p, model_dir, mobilefacenet_path, repeat);
        if (st == FR_OK && check && !p.available)
            st = fr_error(FR_E_UNSUPPORTED, "bench --check: the PyTorch peer is unavailable: %s", p.reason);
        if (st == FR_OK && check) st = peer_check(&b, &p, model_dir, mobilefacenet_path, checked);
    } else if (st == FR_OK) {
        snprintf(p.reason, sizeof p.reason, "not run (--no-peer)");
    }
    if (st == FR_OK) {
        if (json) st = report_json(&b, ours, &p, repeat, checked);
        else report_table(&b, ours, &p, repeat, checked);
    }
    bench_close(&b);
    if (st != FR_OK) {
        fprintf(stderr, "facerec-bench: %s\n", fr_last_error());
        return 1;
    }
    /* a search that is not exact is a failure, as descriptors that differ from the peer's */
    if (b.check_exact < b.check_probes) return 1;
    for (int c = 0; c < N_CHECKS; c++)
        if (checked[c].done && checked[c].max_distance > CHECK_TOLERANCE) return 1;
    return 0;
}
