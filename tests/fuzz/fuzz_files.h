/* fuzz_files.h: for the fuzz targets whose parser reads files: a private folder for this
 * process (removed at exit) and writing an input into it. */
#ifndef FR_FUZZ_FILES_H
#define FR_FUZZ_FILES_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_[64];

/* The folder is flat: its files, then itself. */
static void fuzz_remove_dir(void) {
    DIR *d = opendir(fuzz_dir_);
    if (!d) return;
    struct dirent *e;
    char path[320];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", fuzz_dir_, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(fuzz_dir_);
}

/* The process's folder, made on first use. */
static const char *fuzz_dir(void) {
    if (!fuzz_dir_[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/facerec-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir_)) abort();
        atexit(fuzz_remove_dir);
    }
    return fuzz_dir_;
}

/* Writes data to <folder>/name and puts that path in path (size path_size). */
static void fuzz_write_file(const char *name, const uint8_t *data, size_t size, char *path,
                            size_t path_size) {
    snprintf(path, path_size, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
}

#endif
