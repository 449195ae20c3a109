/* changes.c: keeping a handle's in-memory copy current with changes made through other
 * handles (other processes, other servers): the change log, written in the same transaction
 * as each change, and read from the position the copy was loaded at. */
#include "gallery/db.h"
#include "gallery/gallery.h"

fr_status fr_gallery_refresh(fr_gallery *g, int64_t *n_applied) {
    if (n_applied) *n_applied = 0;
    if (!g) return fr_error(FR_E_ARG, "fr_gallery_refresh: NULL gallery");
    if (!g->loaded) return gallery_ensure_loaded(g);
    int64_t n = 0;
    db_value since = db_int(g->loaded_seq);
    fr_status st = db_query_int(g, "SELECT count(*) FROM changes WHERE seq > $1", &since, 1, &n,
                                "reading the change log");
    if (st != FR_OK || n == 0) return st;
    /* the whole copy again, from one snapshot: nothing applied twice or missed, however far
     * behind this handle was */
    gallery_unload(g);
    st = gallery_ensure_loaded(g);
    if (st == FR_OK && n_applied) *n_applied = n;
    return st;
}

fr_status fr_gallery_wait_changes(fr_gallery *g, int timeout_ms) {
    if (!g || timeout_ms < 0) return fr_error(FR_E_ARG, "fr_gallery_wait_changes: invalid arguments");
    return g->driver->wait_changes(g, timeout_ms);
}

fr_status fr_gallery_change_seq(fr_gallery *g, int64_t *loaded, int64_t *latest) {
    if (!g || !latest) return fr_error(FR_E_ARG, "fr_gallery_change_seq: NULL argument");
    if (loaded) *loaded = g->loaded ? g->loaded_seq : -1;
    return gallery_last_change(g, latest);
}
