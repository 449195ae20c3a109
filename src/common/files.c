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
