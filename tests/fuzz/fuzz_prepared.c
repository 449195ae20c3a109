/* fuzz_prepared.c: libFuzzer target for the prepared file reader (nn/prepared.h).
 * A valid prepared file is made once (two small arrays, from a source file in the target's
 * folder); each input is a list of changes to it, so that the fuzzer's mutations reach every
 * field behind the file's checksum:
 *   bytes 0-2    the file's new length: base length + 64 - (this value mod (base length + 64))
 *   then 5-byte records: a 32-bit offset (mod the new length) and a byte XORed in there
 *   last byte    odd: the checksum (XXH3-64 of everything before the file's last 8 bytes)
 *                made right again after the changes
 * The changed file replaces the prepared file and is mapped as a network's load would map
 * it (nn_prepared_map, the sources' identity included), and checked as bytes
 * (nn_prepared_check); whatever either accepts is read whole.
 * fuzz.sh options: -runs=20000 -max_len=256
 */
#include "fuzz_files.h"
#include "nn/prepared.h"

#include <stdint.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t counts[2] = {5, 17};
static char source[512], prepared[512], folder[300];
static uint8_t *base;
static size_t base_size;

static nn_prepared_spec spec(void) {
    return (nn_prepared_spec){folder, "fuzz", source, 2, counts};
}

/* The source file and the valid prepared file made from it, read into base. */
static void make_base(void) {
    snprintf(folder, sizeof folder, "%s", fuzz_dir());
    static const uint8_t model[] = "the source file's bytes";
    fuzz_write_file("model.bin", model, sizeof model, source, sizeof source);
    float a[5], b[17];
    for (int i = 0; i < 5; i++) a[i] = (float)i;
    for (int i = 0; i < 17; i++) b[i] = -(float)i / 3;
    const float *arrays[2] = {a, b};
    const char *files[1] = {source};
    nn_prepared_spec s = spec();
    nn_prepared_save(&s, files, 1, arrays, INT64_MAX);
    DIR *d = opendir(folder);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 9 && !strcmp(e->d_name + n - 9, ".prepared"))
            snprintf(prepared, sizeof prepared, "%s/%s", folder, e->d_name);
    }
    if (d) closedir(d);
    FILE *f = prepared[0] ? fopen(prepared, "rb") : NULL;
    if (!f || fseek(f, 0, SEEK_END) != 0) abort();
    base_size = (size_t)ftell(f);
    base = malloc(base_size);
    rewind(f);
    if (!base || fread(base, 1, base_size, f) != base_size) abort();
    fclose(f);
}

/* Reads every float of the arrays (the sanitizers catch any read out of bounds). */
static float read_all(const float *const *arrays) {
    float sum = 0;
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < counts[i]; k++) sum += arrays[i][k];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base) make_base();
    if (size < 3) return 0;
    size_t span = base_size + 64, cut = ((size_t)data[0] | (size_t)data[1] << 8 |
                                         (size_t)data[2] << 16) % span;
    size_t n = span - cut; /* 1 to base_size + 64 bytes */
    uint8_t *file = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!file) return 0;
    memset(file, 0, n);
    memcpy(file, base, n < base_size ? n : base_size);
    for (size_t at = 3; at + 5 <= size; at += 5) {
        uint32_t offset = (uint32_t)data[at] | (uint32_t)data[at + 1] << 8 |
                          (uint32_t)data[at + 2] << 16 | (uint32_t)data[at + 3] << 24;
        file[offset % n] ^= data[at + 4];
    }
    if ((data[size - 1] & 1) && n >= 8) {
        uint64_t checksum = XXH3_64bits(file, n - 8);
        memcpy(file + n - 8, &checksum, 8);
    }
    char path[512];
    fuzz_write_file("next", file, n, path, sizeof path);
    if (rename(path, prepared) != 0) abort();

    nn_prepared_spec s = spec();
    const float *arrays[2];
    volatile float sink = 0;
    if (nn_prepared_check(&s, file, n, arrays)) sink += read_all(arrays);
    int64_t since;
    nn_prepared *p = nn_prepared_map(&s, &since);
    if (p) {
        const float *mapped[2] = {nn_prepared_array(p, 0), nn_prepared_array(p, 1)};
        sink += read_all(mapped);
        nn_prepared_unmap(p);
    }
    (void)sink;
    free(file);
    return 0;
}
