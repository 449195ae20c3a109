/* files.c: reading whole files, mapping model files, finding model files, making folders. */
#define _GNU_SOURCE /* dladdr1: the file this code was loaded from */
#include "common/common.h"

#include <dlfcn.h>
#include <limits.h>
#include <link.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Where facerec's shipped files (models/, calibration/) are, for the code running now: an
 * installed copy finds them relative to its own file, <prefix>/share/facerec from
 * <prefix>/lib/libfacerec.so or <prefix>/bin/facerec (so a moved prefix still works); a copy
 * in the build tree uses the source tree's models/ and data/. Anything else has none: an
 * installed copy never falls back to a source tree. *from_build is 1 in the build tree. */
/* The two kinds of shipped files: the models, and facerec's own data (calibrations). */
typedef enum shipped_kind { SHIPPED_MODELS, SHIPPED_DATA } shipped_kind;

static int shipped_dir(shipped_kind kind, char *out, size_t outsz, int *from_build) {
    *from_build = 0;
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1((void *)&shipped_dir, &info, (void **)&map, RTLD_DL_LINKMAP) || !map) return 0;
    /* the main program's link map has no name: this code is linked into an executable */
    int in_library = map->l_name && map->l_name[0];
    char file[PATH_MAX], build[PATH_MAX];
    if (!realpath(in_library ? map->l_name : "/proc/self/exe", file)) return 0;
    *strrchr(file, '/') = '\0';
    size_t n = realpath(FACEREC_BUILD_DIR, build) ? strlen(build) : 0;
    int len;
    if (n && !strncmp(file, build, n) && (file[n] == '/' || file[n] == '\0')) {
        *from_build = 1;
        len = snprintf(out, outsz, "%s", kind == SHIPPED_MODELS ? FACEREC_MODELS_SOURCE_DIR
                                                                 : FACEREC_DATA_SOURCE_DIR);
    } else {
        const char *rel = in_library ? FACEREC_DATA_FROM_LIBDIR : FACEREC_DATA_FROM_BINDIR;
        len = kind == SHIPPED_MODELS ? snprintf(out, outsz, "%s/%s/models", file, rel)
                                     : snprintf(out, outsz, "%s/%s", file, rel);
    }
    return len > 0 && (size_t)len < outsz;
}

fr_status fr_model_path(const char *models_dir, const char *relpath, char *out, size_t outsz) {
    char shipped[PATH_MAX];
    int from_build = 0;
    const char *chosen = models_dir; /* an explicit --models is never second-guessed */
    if (!chosen && is_dir(getenv("FACEREC_MODELS"))) chosen = getenv("FACEREC_MODELS");
    if (!chosen && shipped_dir(SHIPPED_MODELS, shipped, sizeof shipped, &from_build))
        chosen = shipped;
    if (!chosen)
        return fr_error(FR_E_MODEL, "%s: no models folder (this copy of facerec cannot tell "
                        "where it is installed; --models or FACEREC_MODELS name one)", relpath);
    int n = snprintf(out, outsz, "%s/%s", chosen, relpath);
    if (n < 0 || (size_t)n >= outsz) return fr_error(FR_E_ARG, "%s/%s: path too long", chosen, relpath);
    struct stat st;
    if (stat(out, &st) != 0)
        return fr_error(FR_E_MODEL, "%s: model file not found (%s; --models or FACEREC_MODELS "
                        "point at another models folder)", out,
                        chosen == shipped && !from_build
                            ? "this installation of facerec lacks it"
                            : "scripts/setup.sh fetches the pretrained models, facerec "
                              "import-keras-csv makes nn4small2.frmodel");
    return FR_OK;
}

fr_status fr_network_path(const char *models_dir, const char *relpath, char *out, size_t outsz) {
    size_t len = strlen(relpath);
    int made_here = len > 8 && !strcmp(relpath + len - 8, ".frmodel");
    if (!made_here && !fr_model_pin_find(relpath))
        return fr_error(FR_E_MODEL, "%s: no SHA-256 pinned for this model file "
                        "(scripts/pin_models.sh)", relpath);
    return fr_model_path(models_dir, relpath, out, outsz);
}

fr_status fr_data_path(const char *relpath, char *out, size_t outsz) {
    char dir[PATH_MAX];
    int from_build;
    if (!shipped_dir(SHIPPED_DATA, dir, sizeof dir, &from_build))
        return fr_error(FR_E_NOT_FOUND, "%s: this copy of facerec cannot tell where it is "
                        "installed", relpath);
    int n = snprintf(out, outsz, "%s/%s", dir, relpath);
    if (n < 0 || (size_t)n >= outsz) return fr_error(FR_E_ARG, "%s/%s: path too long", dir, relpath);
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return FR_OK;
    return fr_error(FR_E_NOT_FOUND, "%s: not shipped with facerec (looked in %s)", relpath, dir);
}

const fr_model_pin *fr_model_pin_find(const char *relpath) {
    for (size_t i = 0; i < fr_n_model_pins; i++)
        if (!strcmp(fr_model_pins[i].relpath, relpath)) return &fr_model_pins[i];
    return NULL;
}

const fr_model_pin *fr_model_pin_of_path(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < fr_n_model_pins; i++) {
        size_t m = strlen(fr_model_pins[i].relpath);
        if (m <= n && !strcmp(path + n - m, fr_model_pins[i].relpath) &&
            (m == n || path[n - m - 1] == '/'))
            return &fr_model_pins[i];
    }
    return NULL;
}

/* The pin check of fr_map_model_file: FR_OK when path has no pin or data has its SHA-256. */
static fr_status check_pin(const char *path, const uint8_t *data, size_t size) {
    const fr_model_pin *pin = fr_model_pin_of_path(path);
    if (!pin) return FR_OK;
    uint8_t digest[32];
    char hex[65];
    fr_sha256(data, size, digest);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (!strcmp(hex, pin->sha256)) return FR_OK;
    return fr_error(FR_E_MODEL, "%s: SHA-256 %.16s... is not that of %s as shipped (%.16s...): "
                    "the file is damaged or was altered (scripts/setup.sh fetches it again)",
                    path, hex, pin->relpath, pin->sha256);
}

/* what an empty file maps to (mmap refuses length 0) */
static const uint8_t empty_file[1];

fr_status fr_map_model_file(const char *path, size_t max_bytes, const uint8_t **data,
                            size_t *size) {
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: a FIFO is refused below rather than waited on */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fr_error(FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fr_error(FR_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return fr_error(FR_E_LIMIT, "%s: file is %lld bytes, over the limit of %zu", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    const uint8_t *p = empty_file;
    if (n > 0) {
        /* MAP_POPULATE: the page cache's pages are mapped at once rather than faulted in
         * one by one as the hash and the loader first read them */
        void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (m == MAP_FAILED) {
            int err = errno;
            close(fd);
            return err == ENOMEM ? fr_error(FR_E_NOMEM, "%s: out of memory reading %zu bytes",
                                            path, n)
                                 : fr_error(FR_E_IO, "%s: read error", path);
        }
        p = m;
    }
    close(fd);
    fr_status status = check_pin(path, p, n);
    if (status != FR_OK) {
        fr_unmap_model_file(p, n);
        return status;
    }
    *data = p;
    *size = n;
    return FR_OK;
}

void fr_unmap_model_file(const uint8_t *data, size_t size) {
    if (data && size > 0) munmap((void *)(uintptr_t)data, size);
}

int fr_user_cache_folder(char *out, size_t outsz) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n = xdg && xdg[0] == '/'   ? snprintf(out, outsz, "%s/facerec", xdg)
            : home && home[0] == '/' ? snprintf(out, outsz, "%s/.cache/facerec", home)
                                     : -1;
    return n > 0 && (size_t)n < outsz;
}

fr_status fr_make_folders(const char *path, unsigned mode) {
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return fr_error(FR_E_ARG, "%s: path too long", path);
    for (char *c = dir + 1;; c++) {
        if (*c != '/' && *c != '\0') continue;
        char saved = *c;
        *c = '\0';
        if (mkdir(dir, (mode_t)mode) != 0 && errno != EEXIST) {
            int err = errno;
            fr_status st = fr_error(FR_E_IO, "%s: cannot create the folder: %s", dir, strerror(err));
            errno = err;
            return st;
        }
        *c = saved;
        if (!saved) return FR_OK;
    }
}
