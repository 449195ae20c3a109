/* test_prepared.c: prepared files (nn/prepared.h) through dlib-resnet, the network that keeps
 * one: the first load writes the file, the next maps it, and the descriptors are the same
 * bits as from the model file; a truncated, damaged, hostile or stale file, or a changed
 * source, makes a normal load and a fresh file; a folder that cannot be written still loads;
 * where the folder is looked for. Each case works in a folder of its own under the scratch
 * folder. */
#define _GNU_SOURCE /* utimensat's UTIME_NOW */
#include "test.h"

#include "common/common.h"
#include "facerec.h"
#include "nets/dlib_resnet.h"
#include "nn/prepared.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MANIFEST "face_recognition_model-weights_manifest.json"
#define SHARD "face_recognition_model.bin"
#define PHOTO "face-api/demo/sample1.jpg"

/* A fresh folder <scratch>/prepared-<name>-XXXXXX in out. */
static int fresh_folder(const char *name, char *out, size_t outsz) {
    snprintf(out, outsz, "%s/prepared-%s-XXXXXX", FR_TEST_TMP_DIR, name);
    return mkdtemp(out) != NULL;
}

/* Remove a flat folder (its files, then itself; a sub-folder "file" of the unwritable case
 * is a file). */
static void remove_folder(const char *folder) {
    DIR *d = opendir(folder);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
        remove(path);
    }
    closedir(d);
    rmdir(folder);
}

/* File timestamps come from a clock of a few ms ticks, and a source changed in the tick a
 * load starts in is not prepared (nn_prepared_save): let that tick pass after changing one. */
static void let_clock_tick(void) {
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
}

/* The one *.prepared file in folder, in out: 1 if there is exactly one. */
static int prepared_file(const char *folder, char *out, size_t outsz) {
    DIR *d = opendir(folder);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 9 && !strcmp(e->d_name + n - 9, ".prepared")) {
            snprintf(out, outsz, "%s/%s", folder, e->d_name);
            found++;
        }
    }
    closedir(d);
    return found == 1;
}

static ino_t inode_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Whether address p lies in a mapping of the file `path` (/proc/self/maps). */
static int mapped_from(const void *p, const char *path) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[4096];
    int found = 0;
    uintptr_t at = (uintptr_t)p;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long start, end;
        char *name = strchr(line, '/');
        if (sscanf(line, "%lx-%lx", &start, &end) != 2 || !name) continue;
        name[strcspn(name, "\n")] = '\0';
        found = at >= start && at < end && !strcmp(name, path);
    }
    fclose(f);
    return found;
}

/* A 150x150 face crop from the demo photo. */
static fr_image *face_crop(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", FR_TEST_MODELS_DIR, PHOTO);
    fr_image *img = NULL, *crop = NULL, *out = NULL;
    if (fr_image_load(path, &img) != FR_OK) return NULL;
    int side = FR_MIN(img->width, img->height) / 2;
    if (fr_image_crop(img, (img->width - side) / 2, (img->height - side) / 4, side, side, &crop) ==
        FR_OK)
        fr_image_resize(crop, DLIB_RESNET_INPUT, DLIB_RESNET_INPUT, &out);
    fr_image_free(crop);
    fr_image_free(img);
    return out;
}

/* Load the network from manifest with prepared files in folder (NULL: none), embed crop
 * into out, and say whether its parameters were mapped from the folder's prepared file. */
static fr_status load_and_embed(const char *manifest, const char *folder, const fr_image *crop,
                                float out[DLIB_RESNET_DIM], int *mapped) {
    dlib_resnet *net;
    fr_status st = dlib_resnet_load(manifest, folder, &net);
    if (st != FR_OK) return st;
    char file[4096];
    *mapped = folder && prepared_file(folder, file, sizeof file) &&
              mapped_from(dlib_resnet_param_data(net), file);
    st = dlib_resnet_embed(net, TEST_THREADS, &crop, 1, out);
    dlib_resnet_free(net);
    return st;
}

/* Copy the network's manifest and shard into folder (a name that ends in no pinned path). */
static int copy_model(const char *folder, char *manifest, size_t outsz) {
    static const char *const names[] = {MANIFEST, SHARD};
    for (int i = 0; i < 2; i++) {
        char from[1024], to[1024];
        snprintf(from, sizeof from, "%s/face-api/model/%s", FR_TEST_MODELS_DIR, names[i]);
        snprintf(to, sizeof to, "%s/%s", folder, names[i]);
        uint8_t *data;
        size_t size;
        if (fr_read_file(from, SIZE_MAX, &data, &size) != FR_OK) return 0;
        FILE *f = fopen(to, "wb");
        int ok = f && fwrite(data, 1, size, f) == size;
        if (f) ok = fclose(f) == 0 && ok;
        free(data);
        if (!ok) return 0;
    }
    snprintf(manifest, outsz, "%s/%s", folder, MANIFEST);
    return 1;
}

/* Overwrite `size` bytes at `offset` of the file at path. */
static int patch(const char *path, long offset, const void *bytes, size_t size) {
    FILE *f = fopen(path, "r+b");
    int ok = f && fseek(f, offset, SEEK_SET) == 0 && fwrite(bytes, 1, size, f) == size;
    if (f) ok = fclose(f) == 0 && ok;
    return ok;
}

/* A model's manifest path, or skip. */
#define NEED_MODEL(manifest)                                                                   \
    snprintf(manifest, sizeof manifest, "%s/face-api/model/%s", FR_TEST_MODELS_DIR, MANIFEST); \
    if (!test_exists(manifest)) SKIP("no model %s (scripts/setup.sh)", manifest)

TEST(first_load_writes_next_maps_same_bits) {
    char manifest[1024], folder[512], file[4096];
    NEED_MODEL(manifest);
    fr_image *crop = face_crop();
    CHECK(crop);
    CHECK(fresh_folder("maps", folder, sizeof folder));
    float plain[DLIB_RESNET_DIM], first[DLIB_RESNET_DIM], mapped[DLIB_RESNET_DIM];
    int was_mapped;
    CHECK_OK(load_and_embed(manifest, NULL, crop, plain, &was_mapped));
    CHECK(!prepared_file(folder, file, sizeof file));
    CHECK_OK(load_and_embed(manifest, folder, crop, first, &was_mapped));
    CHECK(!was_mapped);
    CHECK(prepared_file(folder, file, sizeof file));
    struct stat st;
    CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);
    ino_t written = inode_of(file);
    CHECK_OK(load_and_embed(manifest, folder, crop, mapped, &was_mapped));
    CHECK(was_mapped);
    CHECK(inode_of(file) == written); /* used, not written again */
    CHECK(!memcmp(plain, first, sizeof plain) && !memcmp(plain, mapped, sizeof plain));
    fr_image_free(crop);
    remove_folder(folder);
}

/* Damage the prepared file in folder with `damage`, then check that the next load reads the
 * model again (the same descriptor as `expected`), writes a new file, and the one after maps
 * that. */
static void check_recovers(const char *manifest, const char *folder, const fr_image *crop,
                           const float *expected, int (*damage)(const char *file)) {
    char file[4096];
    float out[DLIB_RESNET_DIM];
    int was_mapped;
    CHECK(prepared_file(folder, file, sizeof file));
    ino_t before = inode_of(file);
    CHECK(damage(file));
    CHECK_OK(load_and_embed(manifest, folder, crop, out, &was_mapped));
    CHECK(!was_mapped);
    CHECK(!memcmp(out, expected, sizeof out));
    CHECK(prepared_file(folder, file, sizeof file) && inode_of(file) != before);
    CHECK_OK(load_and_embed(manifest, folder, crop, out, &was_mapped));
    CHECK(was_mapped);
    CHECK(!memcmp(out, expected, sizeof out));
}

static int truncate_half(const char *file) {
    struct stat st;
    return stat(file, &st) == 0 && truncate(file, st.st_size / 2) == 0;
}

static int truncate_to_header(const char *file) { return truncate(file, 100) == 0; }

static int flip_payload_byte(const char *file) {
    struct stat st;
    FILE *f = fopen(file, "rb");
    int c = f && stat(file, &st) == 0 && fseek(f, (long)(st.st_size * 2 / 3), SEEK_SET) == 0
                ? fgetc(f)
                : EOF;
    if (f) fclose(f);
    uint8_t flipped = (uint8_t)(c ^ 0x10);
    return c != EOF && patch(file, (long)(st.st_size * 2 / 3), &flipped, 1);
}

/* The array table's entry {offset, count} for the parameter array, found by its float
 * count, given `value` in its field `field` (0: offset, 1: count); the checksum made right
 * again, so that only the bounds and count checks can refuse the file. */
static int patch_param_entry(const char *file, int field, uint64_t value) {
    uint8_t *data;
    size_t size;
    if (fr_read_file(file, SIZE_MAX, &data, &size) != FR_OK) return 0;
    uint64_t count = dlib_resnet_param_count();
    int done = 0;
    for (size_t at = 8; !done && at + 8 <= FR_MIN(size, (size_t)65536); at += 8) {
        uint64_t v;
        memcpy(&v, data + at, 8);
        if (v != count) continue;
        memcpy(data + at - 8 + 8 * field, &value, 8);
        done = 1;
    }
    uint64_t checksum = XXH3_64bits(data, size - 8);
    memcpy(data + size - 8, &checksum, 8);
    FILE *f = done ? fopen(file, "wb") : NULL;
    int ok = f && fwrite(data, 1, size, f) == size;
    if (f) ok = fclose(f) == 0 && ok;
    free(data);
    return ok;
}

/* an offset past the end of the address space */
static int huge_offset(const char *file) { return patch_param_entry(file, 0, UINT64_MAX - 63); }

/* one float fewer than the network has */
static int wrong_count(const char *file) {
    return patch_param_entry(file, 1, dlib_resnet_param_count() - 1);
}

static int replace_with_garbage(const char *file) {
    FILE *f = fopen(file, "wb");
    int ok = f && fputs("not a prepared file", f) >= 0;
    if (f) ok = fclose(f) == 0 && ok;
    return ok;
}

TEST(damaged_files_are_prepared_again) {
    char manifest[1024], folder[512];
    NEED_MODEL(manifest);
    fr_image *crop = face_crop();
    CHECK(crop);
    CHECK(fresh_folder("damaged", folder, sizeof folder));
    float expected[DLIB_RESNET_DIM];
    int was_mapped;
    CHECK_OK(load_and_embed(manifest, folder, crop, expected, &was_mapped));
    int (*const damages[])(const char *) = {truncate_half,  truncate_to_header, flip_payload_byte,
                                            huge_offset,    wrong_count,        replace_with_garbage};
    for (size_t i = 0; i < sizeof damages / sizeof damages[0]; i++) {
        int before = test_failures_;
        check_recovers(manifest, folder, crop, expected, damages[i]);
        if (test_failures_ != before) {
            fprintf(stderr, "  (damage %zu)\n", i);
            break;
        }
    }
    fr_image_free(crop);
    remove_folder(folder);
}

TEST(changed_source_is_prepared_again) {
    char manifest[1024], models[512], folder[512], file[4096], shard[1100];
    NEED_MODEL(manifest);
    fr_image *crop = face_crop();
    CHECK(crop);
    CHECK(fresh_folder("source", models, sizeof models) && fresh_folder("cache", folder, sizeof folder));
    CHECK(copy_model(models, manifest, sizeof manifest));
    snprintf(shard, sizeof shard, "%s/%s", models, SHARD);
    let_clock_tick();
    float original[DLIB_RESNET_DIM], out[DLIB_RESNET_DIM];
    int was_mapped;
    CHECK_OK(load_and_embed(manifest, folder, crop, original, &was_mapped));
    CHECK(prepared_file(folder, file, sizeof file));

    /* the shard touched: the same bytes, another mtime and ctime */
    ino_t before = inode_of(file);
    struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    CHECK(utimensat(AT_FDCWD, shard, times, 0) == 0);
    let_clock_tick();
    CHECK_OK(load_and_embed(manifest, folder, crop, out, &was_mapped));
    CHECK(!was_mapped && !memcmp(out, original, sizeof out));
    CHECK(prepared_file(folder, file, sizeof file) && inode_of(file) != before);
    CHECK_OK(load_and_embed(manifest, folder, crop, out, &was_mapped));
    CHECK(was_mapped);

    /* a quantised weight changed in place (the copy has no pin): the new weights are used */
    uint8_t byte = 0x5a;
    CHECK(patch(shard, 1000, &byte, 1));
    let_clock_tick();
    CHECK_OK(load_and_embed(manifest, folder, crop, out, &was_mapped));
    CHECK(!was_mapped && memcmp(out, original, sizeof out));
    float again[DLIB_RESNET_DIM];
    CHECK_OK(load_and_embed(manifest, folder, crop, again, &was_mapped));
    CHECK(was_mapped && !memcmp(out, again, sizeof out));
    fr_image_free(crop);
    remove_folder(models);
    remove_folder(folder);
}

TEST(unwritable_folder_still_loads) {
    char manifest[1024], folder[512], blocked[600];
    NEED_MODEL(manifest);
    fr_image *crop = face_crop();
    CHECK(crop);
    CHECK(fresh_folder("unwritable", folder, sizeof folder));
    /* a folder below a regular file cannot be made, not even by root */
    snprintf(blocked, sizeof blocked, "%s/file", folder);
    FILE *f = fopen(blocked, "w");
    CHECK(f && fclose(f) == 0);
    snprintf(blocked, sizeof blocked, "%s/file/cache", folder);
    float plain[DLIB_RESNET_DIM], out[DLIB_RESNET_DIM];
    int was_mapped;
    CHECK_OK(load_and_embed(manifest, NULL, crop, plain, &was_mapped));
    CHECK_OK(load_and_embed(manifest, blocked, crop, out, &was_mapped));
    CHECK(!memcmp(out, plain, sizeof out));
    fr_image_free(crop);
    remove_folder(folder);
}

TEST(folder_from_config_and_environment) {
    char out[4096];
    const char *saved[3] = {getenv("FACEREC_CACHE"), getenv("XDG_CACHE_HOME"), getenv("HOME")};
    char *copies[3];
    for (int i = 0; i < 3; i++) copies[i] = saved[i] ? strdup(saved[i]) : NULL;
    CHECK(nn_prepared_folder("/given", out, sizeof out) && !strcmp(out, "/given"));
    CHECK(!nn_prepared_folder("", out, sizeof out));
    setenv("FACEREC_CACHE", "/env", 1);
    CHECK(nn_prepared_folder(NULL, out, sizeof out) && !strcmp(out, "/env"));
    setenv("FACEREC_CACHE", "", 1);
    CHECK(!nn_prepared_folder(NULL, out, sizeof out));
    unsetenv("FACEREC_CACHE");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    setenv("HOME", "/home/someone", 1);
    CHECK(nn_prepared_folder(NULL, out, sizeof out) && !strcmp(out, "/xdg/facerec"));
    setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, as the XDG specification says */
    CHECK(nn_prepared_folder(NULL, out, sizeof out) && !strcmp(out, "/home/someone/.cache/facerec"));
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    CHECK(!nn_prepared_folder(NULL, out, sizeof out));
    const char *names[3] = {"FACEREC_CACHE", "XDG_CACHE_HOME", "HOME"};
    for (int i = 0; i < 3; i++) {
        if (copies[i]) setenv(names[i], copies[i], 1);
        free(copies[i]);
    }
}

/* The engine passes fr_config.cache_dir to the networks: a folder that does not exist yet
 * is made (0700, with its parents) and gets dlib-resnet's file; "" writes nothing. */
TEST(engine_uses_cache_dir) {
    char manifest[1024], folder[512], made[600], cache[700], file[4096];
    NEED_MODEL(manifest);
    CHECK(fresh_folder("engine", folder, sizeof folder));
    snprintf(made, sizeof made, "%s/made", folder);
    snprintf(cache, sizeof cache, "%s/here", made);
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = FR_TEST_MODELS_DIR;
    cfg.model = "dlib-resnet";
    cfg.threads = TEST_THREADS;
    cfg.cache_dir = cache;
    fr_engine *eng;
    CHECK_OK(fr_engine_open(&cfg, &eng));
    fr_engine_close(eng);
    struct stat st;
    CHECK(stat(made, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(stat(cache, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(prepared_file(cache, file, sizeof file));
    CHECK(!strncmp(strrchr(file, '/') + 1, "dlib-resnet-", 12));
    CHECK(remove(file) == 0);
    cfg.cache_dir = "";
    CHECK_OK(fr_engine_open(&cfg, &eng));
    fr_engine_close(eng);
    CHECK(!prepared_file(cache, file, sizeof file));
    remove_folder(cache);
    remove_folder(made);
    remove_folder(folder);
}

TEST_MAIN(CASE(first_load_writes_next_maps_same_bits), CASE(damaged_files_are_prepared_again),
          CASE(changed_source_is_prepared_again), CASE(unwritable_folder_still_loads),
          CASE(folder_from_config_and_environment), CASE(engine_uses_cache_dir))
