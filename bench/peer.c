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

void peer_run(peer *p, const char *model_dir, const char *mobilefacenet_path, int repeat) {
    if (access(PEER_SCRIPT, R_OK) != 0) {
        snprintf(p->reason, sizeof p->reason, "%s: %s", PEER_SCRIPT, strerror(errno));
        return;
    }
    if (!find_python(p)) return;
    char repeat_arg[16];
    snprintf(repeat_arg, sizeof repeat_arg, "%d", repeat);
    char *const argv[] = {p->python, PEER_SCRIPT, "--model-dir", (char *)model_dir,
                          "--mobilefacenet", (char *)mobilefacenet_path, "--repeat", repeat_arg,
                          NULL};
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

/* ---- --check: our outputs against the peer's on the same crops ------------------------- */

/* n crops of side x side as float32 RGB pixel values, the file the peer reads */
static fr_status write_crops(fr_image *const *crops, int n, int side, int fd, const char *path) {
    FILE *f = fdopen(fd, "wb");
    if (!f) return fr_error(FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t n_values = (size_t)side * side * 3;
    float *values = malloc(n_values * sizeof *values);
    int ok = values != NULL;
    for (int i = 0; ok && i < n; i++) {
        for (size_t k = 0; k < n_values; k++) values[k] = crops[i]->rgb[k];
        ok = fwrite(values, sizeof *values, n_values, f) == n_values;
    }
    free(values);
    if (fclose(f) != 0 || !ok) return fr_error(FR_E_IO, "%s: cannot write the face crops", path);
    return FR_OK;
}

/* The peer's unit-norm outputs (n, dim) for the crops, run with `mode` (--check or
 * --check-mobilefacenet) and the extra arguments, into theirs. */
static fr_status peer_outputs(const peer *p, fr_image *const *crops, int n, int side,
                              const char *mode, const char *option, const char *value, int dim,
                              float *theirs) {
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
    fr_status st = write_crops(crops, n, side, in_fd, in_path);
    uint8_t *data = NULL;
    size_t size = 0;
    if (st == FR_OK) {
        char *const argv[] = {(char *)p->python, PEER_SCRIPT, (char *)option, (char *)value,
                              (char *)mode, in_path, out_path, NULL};
        int rc = process_run(argv, 0, NULL);
        if (rc != 0)
            st = fr_error(FR_E_IO, "%s peer_torch.py %s failed (exit status %d)", p->python, mode, rc);
    }
    size_t expected = (size_t)n * dim * sizeof(float);
    if (st == FR_OK) st = fr_read_file(out_path, expected, &data, &size);
    if (st == FR_OK && size != expected)
        st = fr_error(FR_E_FORMAT, "%s: peer wrote %zu bytes, expected %zu", out_path, size, expected);
    if (st == FR_OK) {
        memcpy(theirs, data, expected);
        nn_l2_normalize(theirs, n, dim);
    }
    free(data);
    unlink(in_path);
    unlink(out_path);
    return st;
}

/* The largest element and distance differences of (n, dim) unit-norm rows. */
static void compare(const float *ours, const float *theirs, int n, int dim, check_result *out) {
    for (int i = 0; i < n; i++) {
        const float *a = ours + (size_t)i * dim, *b = theirs + (size_t)i * dim;
        for (int k = 0; k < dim; k++) out->max_abs_diff = fmax(out->max_abs_diff, fabs(a[k] - b[k]));
        out->max_distance = fmax(out->max_distance, fr_distance(a, b, dim));
    }
    out->done = 1;
}

fr_status peer_check(bench *b, const peer *p, const char *model_dir,
                     const char *mobilefacenet_path, check_result out[N_CHECKS]) {
    float theirs[BATCH * MOBILEFACENET_DIM];
    fr_status st = peer_outputs(p, b->crops, b->n_crops, CROP_SIZE, "--check", "--model-dir",
                                model_dir, DESCRIPTOR_DIM, theirs);
    if (st == FR_OK)
        st = dlib_resnet_embed(b->resnet, nn_default_threads(), (const fr_image *const *)b->crops,
                               b->n_crops, b->descriptors);
    if (st == FR_OK) {
        nn_l2_normalize(b->descriptors, b->n_crops, DESCRIPTOR_DIM);
        compare(b->descriptors, theirs, b->n_crops, DESCRIPTOR_DIM, &out[CHECK_DESCRIPTOR]);
    }
    if (st == FR_OK)
        st = peer_outputs(p, b->crops112, b->n_crops, MOBILEFACENET_INPUT_SIZE,
                          "--check-mobilefacenet", "--mobilefacenet", mobilefacenet_path,
                          MOBILEFACENET_DIM, theirs);
    if (st == FR_OK)
        st = mobilefacenet_embed(b->mobilefacenet, nn_default_threads(),
                                 (const fr_image *const *)b->crops112, b->n_crops,
                                 b->mobilefacenet_out);
    if (st == FR_OK)
        compare(b->mobilefacenet_out, theirs, b->n_crops, MOBILEFACENET_DIM,
                &out[CHECK_MOBILEFACENET]);
    return st;
}
