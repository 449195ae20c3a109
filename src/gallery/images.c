/* images.c: a small picture per template (the face's thumbnail, for people lists), in its
 * own table, removed with the template (foreign key, ON DELETE CASCADE). */
#include "gallery/db.h"
#include "gallery/gallery.h"

#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE_BYTES (1 << 20)

fr_status fr_gallery_set_template_image(fr_gallery *g, int64_t id, const void *data, size_t size) {
    if (!g || !data || size == 0) return fr_error(FR_E_ARG, "fr_gallery_set_template_image: no image");
    if (size > MAX_IMAGE_BYTES)
        return fr_error(FR_E_LIMIT, "%s: a template's image is at most %d bytes", g->path, MAX_IMAGE_BYTES);
    db_value params[2] = {db_int(id), db_blob(data, size)};
    db_outcome outcome;
    fr_status st = db_exec(g,
                           "INSERT INTO template_images(template_id, data) VALUES($1, $2)"
                           " ON CONFLICT(template_id) DO UPDATE SET data = excluded.data",
                           params, 2, &outcome, "storing a template's image");
    if (st == FR_OK && outcome.constraint)
        st = fr_error(FR_E_NOT_FOUND, "%s: no template with id %lld", g->path, (long long)id);
    return st;
}

fr_status fr_gallery_template_image(fr_gallery *g, int64_t id, void **data, size_t *size) {
    if (!g || !data || !size) return fr_error(FR_E_ARG, "fr_gallery_template_image: NULL argument");
    *data = NULL;
    *size = 0;
    db_rows *r;
    db_value param = db_int(id);
    fr_status st = db_query(g, "SELECT data FROM template_images WHERE template_id = $1", &param, 1,
                            &r, NULL, "reading a template's image");
    int has_row = 0;
    if (st == FR_OK) st = db_step(g, r, &has_row);
    if (st == FR_OK && !has_row)
        st = fr_error(FR_E_NOT_FOUND, "%s: template %lld has no image", g->path, (long long)id);
    if (st == FR_OK) {
        size_t n;
        const void *blob = db_column_blob(g, r, 0, &n);
        void *copy = malloc(n ? n : 1);
        if (!copy) {
            st = fr_error(FR_E_NOMEM, "%s: out of memory reading a template's image", g->path);
        } else {
            if (n) memcpy(copy, blob, n);
            *data = copy;
            *size = n;
        }
    }
    db_rows_free(g, r);
    return st;
}
