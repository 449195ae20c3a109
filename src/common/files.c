/* files.c: reading whole files and finding model files. */
#include "common/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

fr_status fr_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return fr_error(FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fr_error(FR_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return fr_error(FR_E_LIMIT, "%s: file is %lld bytes, over the limit of %zu", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return fr_error(FR_E_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return fr_error(FR_E_IO, "%s: read error", path);
    }
    *data = buf;
    *size = n;
    return FR_OK;
}

static int is_dir(const char *path) {
    struct stat st;
    return path && *path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

fr_status fr_model_path(const char *models_dir, const char *relpath, char *out, size_t outsz) {
    const char *candidates[4] = {models_dir, getenv("FACEREC_MODELS"), FACEREC_MODELS_INSTALL_DIR,
                                 FACEREC_MODELS_SOURCE_DIR};
    const char *chosen = NULL;
    for (int i = 0; i < 4 && !chosen; i++) {
        if (i == 0 && candidates[0]) { /* an explicit --models is never second-guessed */
            chosen = candidates[0];
            break;
        }
        if (is_dir(candidates[i])) chosen = candidates[i];
    }
    if (!chosen) chosen = FACEREC_MODELS_SOURCE_DIR;
    int n = snprintf(out, outsz, "%s/%s", chosen, relpath);
    if (n < 0 || (size_t)n >= outsz) return fr_error(FR_E_ARG, "%s/%s: path too long", chosen, relpath);
    struct stat st;
    if (stat(out, &st) != 0)
        return fr_error(FR_E_MODEL,
                        "%s: model file not found (scripts/setup.sh fetches the pretrained "
                        "models, facerec import-keras-csv makes nn4small2.frmodel; --models "
                        "or FACEREC_MODELS point at another models folder)",
                        out);
    return FR_OK;
}

fr_status fr_data_path(const char *relpath, char *out, size_t outsz) {
    const char *dirs[2] = {FACEREC_DATA_INSTALL_DIR, FACEREC_DATA_SOURCE_DIR};
    struct stat st;
    for (int i = 0; i < 2; i++) {
        int n = snprintf(out, outsz, "%s/%s", dirs[i], relpath);
        if (n < 0 || (size_t)n >= outsz) return fr_error(FR_E_ARG, "%s/%s: path too long", dirs[i], relpath);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return FR_OK;
    }
    return fr_error(FR_E_NOT_FOUND, "%s: not shipped with facerec (looked in %s and %s)", relpath,
                    dirs[0], dirs[1]);
}

const fr_model_pin *fr_model_pin_find(const char *relpath) {
    for (size_t i = 0; i < fr_n_model_pins; i++)
        if (!strcmp(fr_model_pins[i].relpath, relpath)) return &fr_model_pins[i];
    return NULL;
}

/* The pin whose relative path ends `path` at a folder boundary, or NULL. */
static const fr_model_pin *pin_of_path(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < fr_n_model_pins; i++) {
        size_t m = strlen(fr_model_pins[i].relpath);
        if (m <= n && !strcmp(path + n - m, fr_model_pins[i].relpath) &&
            (m == n || path[n - m - 1] == '/'))
            return &fr_model_pins[i];
    }
    return NULL;
}

fr_status fr_read_model_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size) {
    fr_status st = fr_read_file(path, max_bytes, data, size);
    const fr_model_pin *pin = st == FR_OK ? pin_of_path(path) : NULL;
    if (!pin) return st;
    uint8_t digest[32];
    char hex[65];
    fr_sha256(*data, *size, digest);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (!strcmp(hex, pin->sha256)) return FR_OK;
    free(*data);
    *data = NULL;
    *size = 0;
    return fr_error(FR_E_MODEL, "%s: SHA-256 %.16s... is not that of %s as shipped (%.16s...): "
                    "the file is damaged or was altered (scripts/setup.sh fetches it again)",
                    path, hex, pin->relpath, pin->sha256);
}
