/* fuzz_gallery.c: libFuzzer target for the gallery loader: a SQLite file whose rows were
 * written by someone else. The target makes a small valid gallery once (three people, two
 * templates each, a calibration). For each input it writes that file afresh, applies the
 * input as a list of row edits through SQLite (so the file stays a database, but its rows
 * and values are hostile: any type, size or number in any column, rows deleted or copied,
 * CHECK constraints off), then opens it with fr_gallery_open and asks for its info, people,
 * thresholds, a source lookup and a search. Refusals are expected; crashes, sanitizer
 * reports and leaks are bugs.
 *
 * An edit is: op (1 byte: 0 set a value, 1 delete a row, 2 copy a row), table (1 byte),
 * row (1 byte, the n-th row by key), and for op 0 the column (1 byte) then the value: type
 * (1 byte: integer, real, text, blob, null) and, for a number, 8 bytes; for text or blob a
 * length (1 byte) and that many bytes. The seeds are edits made by hand.
 * fuzz.sh options: -runs=800 -max_len=512
 */
#include "fuzz_files.h"
#include "gallery/gallery.h"

#include <sqlite3.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { DIM = 8, PEOPLE = 3, PER_PERSON = 2 };

typedef struct table_info {
    const char *name, *key; /* key: what orders the rows (and names one) */
    const char *copy;       /* the columns of a copy of a row, under a new key */
    const char *columns[14];
} table_info;

static const table_info tables[] = {
    {"meta", "key", "key || '_', value", {"key", "value"}},
    {"people",
     "id",
     "(SELECT max(id) + 1 FROM people), name || '_', added",
     {"id", "name", "added"}},
    {"templates",
     "id",
     "(SELECT max(id) + 1 FROM templates), person_id, embedding, model, model_version, source,"
     " sha256 || x'00', x, y, w, h, quality, added",
     {"id", "person_id", "embedding", "model", "model_version", "source", "sha256", "x", "y", "w",
      "h", "quality", "added"}},
    {"calibration", "kind, p", "kind, p / 2, distance", {"kind", "p", "distance"}},
};
enum { N_TABLES = sizeof tables / sizeof tables[0] };

static uint8_t *base_file;
static size_t base_size;

static void fail(const char *what) {
    fprintf(stderr, "fuzz_gallery: %s: %s\n", what, fr_last_error());
    abort();
}

/* The valid gallery every input starts from, kept in memory. */
static void make_base(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/base.db", fuzz_dir());
    fr_gallery *g;
    if (fr_gallery_open(path, 1, &g) != FR_OK ||
        fr_gallery_use_model(g, "fuzz-model", "1", DIM) != FR_OK)
        fail("making the base gallery");
    float embeddings[PEOPLE * PER_PERSON][DIM];
    int labels[PEOPLE * PER_PERSON];
    for (int p = 0; p < PEOPLE; p++) {
        fr_template t[PER_PERSON];
        char name[16], source[32];
        snprintf(name, sizeof name, "person %d", p);
        for (int k = 0; k < PER_PERSON; k++) {
            int row = p * PER_PERSON + k;
            for (int i = 0; i < DIM; i++)
                embeddings[row][i] = (i == p ? 0.9f : 0.1f) + 0.01f * (float)k;
            labels[row] = p;
            snprintf(source, sizeof source, "photo-%d.jpg", row);
            t[k] = (fr_template){embeddings[row], strdup(source), {0}, 1, 2, 30, 40, 0.9f};
            t[k].sha256[0] = (uint8_t)row;
        }
        if (fr_gallery_enroll(g, name, t, PER_PERSON) != FR_OK) fail("enrolling the base gallery");
        for (int k = 0; k < PER_PERSON; k++) free((char *)t[k].source);
    }
    if (fr_gallery_calibrate(g, &embeddings[0][0], labels, PEOPLE * PER_PERSON, "fuzz", NULL) !=
        FR_OK)
        fail("calibrating the base gallery");
    fr_gallery_close(g); /* the last connection: the write-ahead log is folded into the file */
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) abort();
    base_size = (size_t)ftell(f);
    base_file = malloc(base_size);
    rewind(f);
    if (!base_file || fread(base_file, 1, base_size, f) != base_size) abort();
    fclose(f);
    unlink(path);
}

typedef struct reader {
    const uint8_t *data;
    size_t size, pos;
} reader;

static int take(reader *r, size_t n, const uint8_t **out) {
    if (r->size - r->pos < n) return 0;
    *out = r->data + r->pos;
    r->pos += n;
    return 1;
}

static int take_byte(reader *r, unsigned *v) {
    const uint8_t *p;
    if (!take(r, 1, &p)) return 0;
    *v = *p;
    return 1;
}

/* Applies one edit; returns 0 at the end of the input. A refused edit is skipped. */
static int apply_edit(sqlite3 *db, reader *r) {
    unsigned op, t, row;
    if (!take_byte(r, &op) || !take_byte(r, &t) || !take_byte(r, &row)) return 0;
    const table_info *table = &tables[t % N_TABLES];
    char sql[512], where[192];
    snprintf(where, sizeof where, "(%s) IN (SELECT %s FROM %s ORDER BY %s LIMIT 1 OFFSET %u)",
             table->key, table->key, table->name, table->key, row);
    int n_columns = 0;
    while (n_columns < 14 && table->columns[n_columns]) n_columns++;
    sqlite3_stmt *stmt = NULL;
    switch (op % 3) {
    case 0: {
        unsigned column, type;
        if (!take_byte(r, &column) || !take_byte(r, &type)) return 0;
        snprintf(sql, sizeof sql, "UPDATE OR IGNORE %s SET %s = ? WHERE %s", table->name,
                 table->columns[column % (unsigned)n_columns], where);
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) abort();
        const uint8_t *bytes;
        unsigned len = 0;
        switch (type % 5) {
        case 0:
        case 1: {
            if (!take(r, 8, &bytes)) break;
            int64_t i;
            double d;
            memcpy(&i, bytes, 8);
            memcpy(&d, bytes, 8);
            if (type % 5 == 0)
                sqlite3_bind_int64(stmt, 1, i);
            else
                sqlite3_bind_double(stmt, 1, d);
            break;
        }
        case 2:
        case 3:
            if (!take_byte(r, &len) || !take(r, len, &bytes)) break;
            if (type % 5 == 2)
                sqlite3_bind_text(stmt, 1, (const char *)bytes, (int)len, SQLITE_TRANSIENT);
            else
                sqlite3_bind_blob(stmt, 1, bytes, (int)len, SQLITE_TRANSIENT);
            break;
        default:
            break; /* NULL */
        }
        break;
    }
    case 1:
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s", table->name, where);
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) abort();
        break;
    default: /* a copy of the row under a new key */
        snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO %s SELECT %s FROM %s WHERE %s",
                 table->name, table->copy, table->name, where);
        if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) abort();
        break;
    }
    if (stmt) {
        sqlite3_step(stmt);
        sqlite3_finalize(stmt);
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base_file) {
        /* SQLite's page caches from one static block: a fresh cache per connection from the
         * sanitizer's allocator costs more than everything else the target does */
        static uint64_t page_cache[256 * (4096 + 512) / 8];
        if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, page_cache, 4096 + 512, 256) != SQLITE_OK)
            abort();
        make_base();
    }
    char path[512], side[560];
    fuzz_write_file("fuzz.db", base_file, base_size, path, sizeof path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);

    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) abort();
    sqlite3_exec(db, "PRAGMA ignore_check_constraints=ON", NULL, NULL, NULL);
    reader r = {data, size, 0};
    while (apply_edit(db, &r)) {}
    if (sqlite3_close(db) != SQLITE_OK) abort();

    fr_gallery *g;
    if (fr_gallery_open(path, 0, &g) != FR_OK) return 0;
    fr_gallery_info info;
    if (fr_gallery_get_info(g, &info) == FR_OK && info.dim >= 1 && info.dim <= FR_MAX_EMBEDDING) {
        float *probes = calloc(2 * (size_t)info.dim, sizeof *probes);
        fr_match matches[2 * 4];
        int n_found[2];
        if (probes) {
            for (int i = 0; i < 2 * info.dim; i++) probes[i] = i % DIM == 0 ? 0.9f : 0.1f;
            fr_gallery_search(g, probes, 2, 4, matches, n_found);
        }
        free(probes);
    }
    fr_person *people;
    int n_people;
    if (fr_gallery_people(g, &people, &n_people) == FR_OK) fr_people_free(people, n_people);
    fr_threshold threshold;
    fr_gallery_threshold(g, 1e-3, &threshold);
    fr_gallery_identify_threshold(g, 1e-2, &threshold);
    uint8_t sha[32] = {1};
    int found;
    char name[64];
    fr_gallery_find_source(g, sha, &found, name, sizeof name);
    fr_gallery_close(g);
    return 0;
}
