/* prepared.c: prepared files (prepared.h): the layout, the checks before use, the atomic
 * write.
 *
 * Layout (host byte order: a prepared file is a cache of this machine, never shipped):
 *   file_header   magic, format, versions, network, sources, array table (fixed size)
 *   arrays        each at a multiple of NN_PREPARED_ALIGN bytes from the file's start
 *   checksum      XXH3-64 of every byte before it (8 bytes, the file's last)
 * The checksum is XXH3 rather than SHA-256 because it is computed over the whole file (about
 * 50 MB for dlib-resnet) at every start: XXH3 reads that in a few ms, SHA-256 would take
 * longer than the parsing it replaces. It guards against damage (a torn or flipped file), not
 * against an attacker, who would need to write into the user's own cache folder. */
#define _GNU_SOURCE /* CLOCK_REALTIME_COARSE, the clock file timestamps are taken from */
#include "nn/prepared.h"

#include "common/common.h"
#include "facerec_code_hash.h" /* FACEREC_CODE_HASH, made by cmake/code_hash.cmake */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MAGIC "FRPREP\r\n" /* 8 bytes; \r\n: a text-mode copy no longer matches */
#define FORMAT 1
#define PATH_BYTES 1024  /* a source's path, NUL included (longer paths: no prepared file) */
#define SHA_HEX_BYTES 72 /* 64 hex digits and a NUL, padded to a multiple of 8 */
#define MAX_FILE_BYTES ((uint64_t)4 << 30)

typedef struct file_source {
    char path[PATH_BYTES];         /* absolute, as the loader named it, NUL-terminated */
    char pin_sha256[SHA_HEX_BYTES]; /* its pinned SHA-256 in hex, "" if it has no pin */
    uint64_t size, inode, device;
    int64_t mtime_ns, ctime_ns;
} file_source;

typedef struct file_array {
    uint64_t offset, count; /* bytes from the file's start, floats */
} file_array;

typedef struct file_header {
    char magic[8];
    uint32_t format, header_bytes; /* header_bytes: sizeof(file_header) */
    char version[32];               /* fr_version() */
    char code_hash[SHA_HEX_BYTES];  /* FACEREC_CODE_HASH */
    char network[64];
    uint32_t n_sources, n_arrays;
    file_source sources[NN_PREPARED_MAX_SOURCES];
    file_array arrays[NN_PREPARED_MAX_ARRAYS];
} file_header;

/* where the first array may start */
#define PAYLOAD_OFFSET \
    ((sizeof(file_header) + NN_PREPARED_ALIGN - 1) / NN_PREPARED_ALIGN * NN_PREPARED_ALIGN)

struct nn_prepared {
    void *base;
    size_t size;
    const float *arrays[NN_PREPARED_MAX_ARRAYS];
};

/* ---- the folder and the file's name ---- */

int nn_prepared_folder(const char *configured, char *out, size_t outsz) {
    const char *dir = configured ? configured : getenv("FACEREC_CACHE");
    if (!dir) return fr_user_cache_folder(out, outsz);
    int n = *dir ? snprintf(out, outsz, "%s", dir) : 0;
    return n > 0 && (size_t)n < outsz;
}

/* path made absolute (the working folder prepended to a relative one), in out */
static int absolute_path(const char *path, char out[PATH_BYTES]) {
    int n;
    if (path[0] == '/') {
        n = snprintf(out, PATH_BYTES, "%s", path);
    } else {
        char cwd[PATH_BYTES];
        if (!getcwd(cwd, sizeof cwd)) return 0;
        n = snprintf(out, PATH_BYTES, "%s/%s", cwd, path);
    }
    return n > 0 && n < PATH_BYTES;
}

/* <folder>/<network>-<XXH3-64 of the source's absolute path>.prepared: one file per network
 * and model file, which a later preparation replaces. */
static int file_name(const nn_prepared_spec *spec, const char *source_abs, char *out,
                     size_t outsz) {
    unsigned long long key = XXH3_64bits(source_abs, strlen(source_abs));
    int n = snprintf(out, outsz, "%s/%s-%016llx.prepared", spec->folder, spec->network, key);
    return n > 0 && (size_t)n < outsz;
}

/* ---- the sources' identity ---- */

/* The pinned SHA-256 of a model file (the pin fr_map_model_file checks it by), "" when there
 * is none. */
static const char *pinned_sha256(const char *path) {
    const fr_model_pin *pin = fr_model_pin_of_path(path);
    return pin ? pin->sha256 : "";
}

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

/* The identity of the file at s->path now, into s (path and pin left as they are). */
static int stat_source(file_source *s) {
    struct stat st;
    if (stat(s->path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    s->size = (uint64_t)st.st_size;
    s->inode = (uint64_t)st.st_ino;
    s->device = (uint64_t)st.st_dev;
    s->mtime_ns = ns_of(st.st_mtim);
    s->ctime_ns = ns_of(st.st_ctim);
    return 1;
}

/* Whether the recorded source is still the same file, pinned as it was. */
static int source_unchanged(const file_source *recorded) {
    file_source now = *recorded;
    return stat_source(&now) && now.size == recorded->size && now.inode == recorded->inode &&
           now.device == recorded->device && now.mtime_ns == recorded->mtime_ns &&
           now.ctime_ns == recorded->ctime_ns &&
           !strcmp(pinned_sha256(recorded->path), recorded->pin_sha256);
}

/* ---- checking a file's bytes ---- */

/* whether the fixed-size text field holds a NUL-terminated string equal to s */
static int field_is(const char *field, size_t size, const char *s) {
    return memchr(field, '\0', size) && !strcmp(field, s);
}

int nn_prepared_check(const nn_prepared_spec *spec, const uint8_t *data, size_t size,
                      const float **arrays) {
    if (spec->n_arrays < 1 || spec->n_arrays > NN_PREPARED_MAX_ARRAYS) return 0;
    if (size < PAYLOAD_OFFSET + sizeof(uint64_t) || size > MAX_FILE_BYTES) return 0;
    file_header h;
    memcpy(&h, data, sizeof h); /* the mapping is page-aligned, but a fuzzer's input need not be */
    if (memcmp(h.magic, MAGIC, sizeof h.magic) || h.format != FORMAT ||
        h.header_bytes != sizeof h || !field_is(h.version, sizeof h.version, fr_version()) ||
        !field_is(h.code_hash, sizeof h.code_hash, FACEREC_CODE_HASH) ||
        !field_is(h.network, sizeof h.network, spec->network) || h.n_sources < 1 ||
        h.n_sources > NN_PREPARED_MAX_SOURCES || h.n_arrays != (uint32_t)spec->n_arrays)
        return 0;
    for (uint32_t i = 0; i < h.n_sources; i++) {
        const file_source *s = &h.sources[i];
        if (!memchr(s->path, '\0', sizeof s->path) || s->path[0] != '/' ||
            !memchr(s->pin_sha256, '\0', sizeof s->pin_sha256))
            return 0;
    }
    uint64_t checksum, end = size - sizeof checksum; /* the arrays end before the checksum */
    memcpy(&checksum, data + end, sizeof checksum);
    if (XXH3_64bits(data, end) != checksum) return 0;
    for (int i = 0; i < spec->n_arrays; i++) {
        const file_array *a = &h.arrays[i];
        if (a->offset < PAYLOAD_OFFSET || a->offset % NN_PREPARED_ALIGN || a->offset > end ||
            a->count != spec->counts[i] || a->count > (end - a->offset) / sizeof(float))
            return 0;
        arrays[i] = (const float *)(const void *)(data + a->offset);
    }
    return 1;
}

/* ---- mapping ---- */

static int64_t coarse_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME_COARSE, &t);
    return ns_of(t);
}

nn_prepared *nn_prepared_map(const nn_prepared_spec *spec, int64_t *since) {
    /* file timestamps come from the coarse clock: a source changed after this has a ctime
     * at least this */
    *since = coarse_now();
    char source_abs[PATH_BYTES], path[PATH_MAX];
    if (!spec->folder || !absolute_path(spec->source, source_abs) ||
        !file_name(spec, source_abs, path, sizeof path))
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return NULL;
    struct stat st;
    nn_prepared *p = NULL;
    /* only the user's own file, which nobody else could have written */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        !(st.st_mode & (S_IWGRP | S_IWOTH)) && st.st_size >= (off_t)PAYLOAD_OFFSET &&
        (uint64_t)st.st_size <= MAX_FILE_BYTES && (p = calloc(1, sizeof *p))) {
        p->size = (size_t)st.st_size;
        p->base = mmap(NULL, p->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p->base == MAP_FAILED) {
            free(p);
            p = NULL;
        }
    }
    close(fd);
    if (!p) return NULL;
    const file_header *h = p->base;
    int ok = nn_prepared_check(spec, p->base, p->size, p->arrays) &&
             !strcmp(h->sources[0].path, source_abs);
    for (uint32_t i = 0; ok && i < h->n_sources; i++) ok = source_unchanged(&h->sources[i]);
    if (!ok) {
        fr_log(FR_LOG_DEBUG, "%s: stale or damaged prepared file, %s is loaded again", path,
               spec->source);
        nn_prepared_unmap(p);
        return NULL;
    }
    return p;
}

const float *nn_prepared_array(const nn_prepared *p, int i) { return p->arrays[i]; }

void nn_prepared_unmap(nn_prepared *p) {
    if (!p) return;
    munmap(p->base, p->size);
    free(p);
}

/* ---- writing ---- */

/* Write n bytes to fd, feeding them to the checksum. */
static int write_all(int fd, const void *data, size_t n, XXH3_state_t *sum) {
    if (sum) XXH3_64bits_update(sum, data, n);
    for (const char *p = data; n > 0;) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* The header for spec's arrays made from files, or 0 when a source cannot be described or
 * changed since `since`. */
static int make_header(const nn_prepared_spec *spec, const char *const *files, int n_files,
                       int64_t since, file_header *h) {
    memset(h, 0, sizeof *h);
    if (n_files < 1 || n_files > NN_PREPARED_MAX_SOURCES || spec->n_arrays < 1 ||
        spec->n_arrays > NN_PREPARED_MAX_ARRAYS ||
        snprintf(h->network, sizeof h->network, "%s", spec->network) >= (int)sizeof h->network)
        return 0;
    memcpy(h->magic, MAGIC, sizeof h->magic);
    h->format = FORMAT;
    h->header_bytes = sizeof *h;
    snprintf(h->version, sizeof h->version, "%s", fr_version());
    snprintf(h->code_hash, sizeof h->code_hash, "%s", FACEREC_CODE_HASH);
    h->n_sources = (uint32_t)n_files;
    for (int i = 0; i < n_files; i++) {
        file_source *s = &h->sources[i];
        if (!absolute_path(files[i], s->path) || !stat_source(s) || s->ctime_ns >= since)
            return 0;
        snprintf(s->pin_sha256, sizeof s->pin_sha256, "%s", pinned_sha256(s->path));
    }
    h->n_arrays = (uint32_t)spec->n_arrays;
    uint64_t at = PAYLOAD_OFFSET;
    for (int i = 0; i < spec->n_arrays; i++) {
        h->arrays[i] = (file_array){at, spec->counts[i]};
        if (spec->counts[i] > (MAX_FILE_BYTES - at) / sizeof(float)) return 0;
        at += (spec->counts[i] * sizeof(float) + NN_PREPARED_ALIGN - 1) / NN_PREPARED_ALIGN *
              NN_PREPARED_ALIGN;
    }
    return 1;
}

/* The header, the arrays with zeros up to each one's offset, and the checksum, to fd. */
static int write_file(int fd, const nn_prepared_spec *spec, const file_header *h,
                      const float *const *arrays) {
    static const char zeros[NN_PREPARED_ALIGN];
    XXH3_state_t *sum = XXH3_createState();
    int ok = sum && XXH3_64bits_reset(sum) == XXH_OK && write_all(fd, h, sizeof *h, sum);
    uint64_t at = sizeof *h;
    for (int i = 0; ok && i < spec->n_arrays; i++) {
        ok = write_all(fd, zeros, h->arrays[i].offset - at, sum) &&
             write_all(fd, arrays[i], spec->counts[i] * sizeof(float), sum);
        at = h->arrays[i].offset + spec->counts[i] * sizeof(float);
    }
    if (ok) {
        uint64_t checksum = XXH3_64bits_digest(sum);
        ok = write_all(fd, &checksum, sizeof checksum, NULL);
    }
    XXH3_freeState(sum);
    return ok;
}

void nn_prepared_save(const nn_prepared_spec *spec, const char *const *files, int n_files,
                      const float *const *arrays, int64_t since) {
    if (!spec->folder) return;
    file_header *h = malloc(sizeof *h);
    char source_abs[PATH_BYTES], path[PATH_MAX], tmp[PATH_MAX + 16];
    const char *why = NULL;
    if (!h)
        why = "out of memory";
    else if (!make_header(spec, files, n_files, since, h))
        why = "its sources changed while it was loaded, or cannot be described";
    else if (!absolute_path(spec->source, source_abs) || strcmp(source_abs, h->sources[0].path))
        why = "the first file read is not the model file";
    else if (!file_name(spec, source_abs, path, sizeof path))
        why = "the path is too long";
    else if (fr_make_folders(spec->folder, 0700) != FR_OK) /* the cache is the user's alone */
        why = strerror(errno);
    if (!why) {
        snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
        int fd = mkstemp(tmp); /* mode 0600 */
        if (fd < 0) {
            why = strerror(errno);
        } else {
            /* no fsync: a file torn by a crash fails its checksum and is prepared again */
            int ok = write_file(fd, spec, h, arrays);
            if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
                why = strerror(errno ? errno : EIO);
                unlink(tmp);
            }
        }
    }
    if (why)
        fr_log(FR_LOG_DEBUG, "%s: no prepared file written in %s: %s", spec->source,
               spec->folder, why);
    free(h);
}
