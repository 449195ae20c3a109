/* images.c: a small picture per template (the face's thumbnail, for people lists), in its
 * own table, made on first use so older galleries keep working, and removed with the
 * template (foreign key, ON DELETE CASCADE). */
#include "gallery/gallery.h"

#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE_BYTES (1 << 20)

static fr_status ensure_images_table(fr_gallery *g) {
    return gallery_exec(g,
                        "CREATE TABLE IF NOT EXISTS template_images(template_id INTEGER PRIMARY KEY"
                        "  REFERENCES templates(id) ON DELETE CASCADE, data BLOB NOT NULL)",
                        "making the template image table");
}

fr_status fr_gallery_set_template_image(fr_gallery *g, int64_t id, const void *data, size_t size) {
    if (!g || !data || size == 0) return fr_error(FR_E_ARG, "fr_gallery_set_template_image: no image");
    if (size > MAX_IMAGE_BYTES)
        return fr_error(FR_E_LIMIT, "%s: a template's image is at most %d bytes", g->path, MAX_IMAGE_BYTES);
    fr_status st = ensure_images_table(g);
    sqlite3_stmt *stmt;
    if (st == FR_OK)
        st = gallery_prepare(g, "INSERT OR REPLACE INTO template_images(template_id, data) VALUES(?, ?)", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_blob(stmt, 2, data, (int)size, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        st = fr_error(FR_E_NOT_FOUND, "%s: no template with id %lld", g->path, (long long)id);
    else if (rc != SQLITE_DONE)
        st = gallery_db_error(g, rc, "storing a template's image");
    sqlite3_finalize(stmt);
    return st;
}

fr_status fr_gallery_template_image(fr_gallery *g, int64_t id, void **data, size_t *size) {
    if (!g || !data || !size) return fr_error(FR_E_ARG, "fr_gallery_template_image: NULL argument");
    *data = NULL;
    *size = 0;
    fr_status st = ensure_images_table(g);
    sqlite3_stmt *stmt;
    if (st == FR_OK) st = gallery_prepare(g, "SELECT data FROM template_images WHERE template_id = ?", &stmt);
    if (st != FR_OK) return st;
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        int n = sqlite3_column_bytes(stmt, 0);
        void *copy = malloc(n > 0 ? (size_t)n : 1);
        if (!copy) {
            st = fr_error(FR_E_NOMEM, "%s: out of memory reading a template's image", g->path);
        } else {
            if (n > 0) memcpy(copy, sqlite3_column_blob(stmt, 0), (size_t)n);
            *data = copy;
            *size = (size_t)n;
        }
    } else if (rc == SQLITE_DONE) {
        st = fr_error(FR_E_NOT_FOUND, "%s: template %lld has no image", g->path, (long long)id);
    } else {
        st = gallery_db_error(g, rc, "reading a template's image");
    }
    sqlite3_finalize(stmt);
    return st;
}
