/* peer.c: the PyTorch peer (peer_torch.py): finding a Python that can run it, its figures,
 * and --check, our descriptors against its on the same crops (bench.h). */
#include "bench.h"

#include "common/common.h"
#include "nn/nn.h"
#include "process.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int python_has_torch(const char *python) {
    char *const argv[] = {(char *)python, "-c", "import torch, numpy", NULL};
    return process_run(argv, 1, NULL) == 0;
}

/* $FACEREC_PYTHON, else the first python3 on PATH that can import torch and numpy. */
static int find_python(peer *p) {
    const char *chosen = getenv("FACEREC_PYTHON");
    if (chosen && *chosen) {
        snprintf(p->python, sizeof p->python, "%s", chosen);
        if (python_has_torch(p->python)) return 1;
        snprintf(p->reason, sizeof p->reason, "$FACEREC_PYTHON (%s) cannot import torch and numpy",
                 chosen);
        return 0;
    }
    const char *path = getenv("PATH");
    for (const char *dir = path; dir && *dir;) {
        size_t n = strcspn(dir, ":");
        if (n > 0 && n < sizeof p->python - 16) {
            snprintf(p->python, sizeof p->python, "%.*s/python3", (int)n, dir);
            if (access(p->python, X_OK) == 0 && python_has_torch(p->python)) return 1;
        }
        dir += n + (dir[n] == ':');
    }
    snprintf(p->reason, sizeof p->reason,
             "no python3 on PATH can import torch and numpy (apt-get install python3-torch "
             "python3-numpy, or set FACEREC_PYTHON)");
    return 0;
}

/* figures[key] = {"median_ms": M, "iqr_ms": I}; absent or malformed: left invalid. */
static void read_peer_timing(const json_t *figures, const char *key, timing *out) {
    const json_t *fig = json_object_get(figures, key);
    const json_t *median = json_object_get(fig, "median_ms");
    if (!json_is_number(median)) return;
    out->valid = 1;
    out->median_ms = json_number_value(median);
    out->iqr_ms = json_number_value(json_object_get(fig, "iqr_ms"));
}

void peer_run(peer *p, const char *model_dir, int repeat) {
    if (access(PEER_SCRIPT, R_OK) != 0) {
        snprintf(p->reason, sizeof p->reason, "%s: %s", PEER_SCRIPT, strerror(errno));
        return;
    }
    if (!find_python(p)) return;
    char repeat_arg[16];
    snprintf(repeat_arg, sizeof repeat_arg, "%d", repeat);
    char *const argv[] = {p->python, PEER_SCRIPT, "--model-dir",
                          (char *)model_dir, "--repeat", repeat_arg, NULL};
    char *text;
    int rc = process_run(argv, 0, &text);
    if (rc != 0) {
        snprintf(p->reason, sizeof p->reason, "%.400s peer_torch.py failed (exit status %d)",
                 p->python, rc);
        free(text);
        return;
    }
    json_error_t error;
    json_t *doc = json_loads(text, 0, &error);
    free(text);
    if (!doc) {
        snprintf(p->reason, sizeof p->reason, "peer_torch.py output: line %d: %s", error.line,
                 error.text);
        return;
    }
    const char *torch = json_string_value(json_object_get(doc, "torch"));
    snprintf(p->torch_version, sizeof p->torch_version, "%s", torch ? torch : "?");
    const json_t *threads = json_object_get(doc, "threads");
    for (int t = 0; t < 2; t++) {
        char name[8];
        snprintf(name, sizeof name, "%d", thread_counts[t]);
        for (int r = 0; r < N_ROWS; r++)
            if (rows[r].peer_key)
                read_peer_timing(json_object_get(threads, name), rows[r].peer_key, &p->t[t][r]);
    }
    json_decref(doc);
    p->available = 1;
}

/* ---- --check: our descriptors against the peer's on the same crops --------------------- */

static fr_status write_crops(const bench *b, int fd, const char *path) {
    FILE *f = fdopen(fd, "wb");
    if (!f) return fr_error(FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n_values = (size_t)CROP_SIZE * CROP_SIZE * 3;
    float *values = malloc(n_values * sizeof *values);
    int ok = values != NULL;
    for (int i = 0; ok && i < b->n_crops; i++) {
        for (size_t k = 0; k < n_values; k++) values[k] = b->crops[i]->rgb[k];
        ok = fwrite(values, sizeof *values, n_values, f) == n_values;
    }
    free(values);
    if (fclose(f) != 0 || !ok) return fr_error(FR_E_IO, "%s: cannot write the face crops", path);
    return FR_OK;
}

fr_status peer_check(bench *b, const peer *p, check_result *out) {
    const char *tmp = getenv("TMPDIR");
    char in_path[4096], out_path[4096];
    snprintf(in_path, sizeof in_path, "%s/facerec-bench-crops-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    snprintf(out_path, sizeof out_path, "%s/facerec-bench-peer-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int in_fd = mkstemp(in_path);
    if (in_fd < 0) return fr_error(FR_E_IO, "%s: cannot create: %s", in_path, strerror(errno));
    int out_fd = mkstemp(out_path);
    if (out_fd < 0) {
        close(in_fd);
        unlink(in_path);
        return fr_error(FR_E_IO, "%s: cannot create: %s", out_path, strerror(errno));
    }
    close(out_fd);
    fr_status st = write_crops(b, in_fd, in_path);
    uint8_t *data = NULL;
    size_t size = 0;
    if (st == FR_OK) {
        char *const argv[] = {(char *)p->python, PEER_SCRIPT, "--check",
                              in_path, out_path, NULL};
        int rc = process_run(argv, 0, NULL);
        if (rc != 0) st = fr_error(FR_E_IO, "%s peer_torch.py --check failed (exit status %d)", p->python, rc);
    }
    size_t expected = (size_t)b->n_crops * DESCRIPTOR_DIM * sizeof(float);
    if (st == FR_OK) st = fr_read_file(out_path, expected, &data, &size);
    if (st == FR_OK && size != expected)
        st = fr_error(FR_E_FORMAT, "%s: peer wrote %zu bytes, expected %zu", out_path, size, expected);
    if (st == FR_OK)
        st = dlib_resnet_embed(b->resnet, nn_default_threads(), (const fr_image *const *)b->crops,
                               b->n_crops, b->descriptors);
    if (st == FR_OK) {
        float theirs[BATCH * DESCRIPTOR_DIM];
        memcpy(theirs, data, expected);
        nn_l2_normalize(b->descriptors, b->n_crops, DESCRIPTOR_DIM);
        nn_l2_normalize(theirs, b->n_crops, DESCRIPTOR_DIM);
        for (int i = 0; i < b->n_crops; i++) {
            const float *ours = b->descriptors + i * DESCRIPTOR_DIM;
            const float *peer_desc = theirs + i * DESCRIPTOR_DIM;
            for (int k = 0; k < DESCRIPTOR_DIM; k++)
                out->max_abs_diff = fmax(out->max_abs_diff, fabs(ours[k] - peer_desc[k]));
            out->max_distance = fmax(out->max_distance, fr_distance(ours, peer_desc, DESCRIPTOR_DIM));
        }
        out->done = 1;
    }
    free(data);
    unlink(in_path);
    unlink(out_path);
    return st;
}
