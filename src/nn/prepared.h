/* prepared.h: a network's weights as it runs them (folded, transformed), kept in a prepared
 * file after the first load and mapped read-only at every later load, so that starting a
 * process costs a mapping of the page cache instead of reading, checking, decoding and
 * transforming the model file again.
 *
 * A prepared file holds numbered float arrays (each 64-byte aligned) and says what they were
 * made from: the format's version, facerec's version and a hash of the library's sources
 * (CMake's code_hash.cmake: code that prepares differently makes other files), the network's
 * name, and the identity of each file the weights were read from (path, size, mtime and ctime
 * in ns, inode, device) with its pinned SHA-256 (common.h's pin table). When every source
 * still has that identity, the sources are not read at all, so their SHA-256 is not checked
 * again: it was when the file was prepared, and a changed file has another ctime, which a
 * user cannot set back. A checksum (XXH3-64) of everything else is verified at every map.
 *
 * Anything wrong with a prepared file (missing, truncated, stale, damaged, out of bounds)
 * makes nn_prepared_map return NULL: the network loads from its sources as before and saves
 * a fresh file. Saving never fails the load: a folder that cannot be made or written is
 * logged at debug level and skipped. Files are written to a temporary file in the same
 * folder and renamed, so concurrent processes see a whole file or none. */
#ifndef FR_NN_PREPARED_H
#define FR_NN_PREPARED_H

#include "facerec.h"

#include <stddef.h>
#include <stdint.h>

#define NN_PREPARED_MAX_ARRAYS 16
#define NN_PREPARED_MAX_SOURCES 8
#define NN_PREPARED_ALIGN 64 /* bytes: each array's offset in the file */

/* The folder of prepared files for fr_config.cache_dir `configured`: NULL means
 * $FACEREC_CACHE if set, else $XDG_CACHE_HOME/facerec, else $HOME/.cache/facerec; "" (given
 * or in $FACEREC_CACHE) means none. Writes it to out (size outsz) and returns 1, or returns 0
 * when there is none (or the path does not fit). */
int nn_prepared_folder(const char *configured, char *out, size_t outsz);

/* What a network's prepared file is for: the folder (NULL: no prepared file), the network's
 * name (e.g. "dlib-resnet"), the model file the network is loaded from (the file name is made
 * from the network's name and a hash of this file's real path), and the float count of each
 * array, which a prepared file must match. */
typedef struct nn_prepared_spec {
    const char *folder;
    const char *network;
    const char *source;
    int n_arrays;
    const size_t *counts;
} nn_prepared_spec;

typedef struct nn_prepared nn_prepared;

/* The prepared file for spec, mapped read-only (never write through its arrays), or NULL
 * when there is none that is valid. *since receives the time of the call (a coarse clock):
 * pass it to nn_prepared_save after loading from the sources, which then refuses sources
 * changed since (their contents might not be what was read). */
nn_prepared *nn_prepared_map(const nn_prepared_spec *spec, int64_t *since);
/* Array i of a mapped file (spec->counts[i] floats, 64-byte aligned). */
const float *nn_prepared_array(const nn_prepared *p, int i);
void nn_prepared_unmap(nn_prepared *p); /* p may be NULL */

/* Write the prepared file for spec: arrays[i] of spec->counts[i] floats, made from the files
 * `files` (the model file and any it names, as read by the loader: the first is
 * spec->source). Best effort: nothing happens when spec->folder is NULL, and a failure is
 * only logged (FR_LOG_DEBUG). */
void nn_prepared_save(const nn_prepared_spec *spec, const char *const *files, int n_files,
                      const float *const *arrays, int64_t since);

/* Check a prepared file's bytes (data, size) for spec as nn_prepared_map does, without the
 * sources' identity (its own folder, name and sources are not looked at): 1 if its arrays
 * can be used, with *arrays pointing into data. For the fuzz target. */
int nn_prepared_check(const nn_prepared_spec *spec, const uint8_t *data, size_t size,
                      const float **arrays);

#endif
