/* identify.c: what a user of `facerec identify` feels (bench.h): one 640x480 photo with one
 * face, identified by the default pipeline against a gallery that holds that person, warm
 * (in this process, the engine loaded) and cold (the facerec command in a fresh process:
 * start, model loading, one photo). The photo and the gallery live in a temporary folder. */
#include "bench.h"

#include "common/common.h"
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The face's share of the photo's width: a portrait-like framing, as a user's photo has. */
#define FACE_SHARE 0.3f

/* The 4:3 part of the photo around face f, as wide as the face over FACE_SHARE (within the
 * photo), scaled to 640x480. */
static fr_status one_face_photo(const fr_image *photo, const fr_face *f, fr_image **out) {
    int w = (int)(f->w / FACE_SHARE), h = w * BENCH_FRAME_H / BENCH_FRAME_W;
    if (w > photo->width) w = photo->width, h = w * BENCH_FRAME_H / BENCH_FRAME_W;
    if (h > photo->height) h = photo->height, w = h * BENCH_FRAME_W / BENCH_FRAME_H;
    int x = FR_CLAMP((int)(f->x + f->w / 2) - w / 2, 0, photo->width - w);
    int y = FR_CLAMP((int)(f->y + f->h / 2) - h / 2, 0, photo->height - h);
    fr_image *part;
    fr_status st = fr_image_crop(photo, x, y, w, h, &part);
    if (st != FR_OK) return st;
    st = fr_image_resize(part, BENCH_FRAME_W, BENCH_FRAME_H, out);
    fr_image_free(part);
    return st;
}

fr_status identify_setup(bench *b, const char *models_dir, const fr_image *photo,
                         const fr_face *face) {
    fr_status st = one_face_photo(photo, face, &b->face_photo);
    if (st != FR_OK) return st;
    const char *tmp = getenv("TMPDIR");
    snprintf(b->identify_dir, sizeof b->identify_dir, "%s/facerec-bench-identify-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->identify_dir)) {
        st = fr_error(FR_E_IO, "%s: cannot create: %s", b->identify_dir, strerror(errno));
        b->identify_dir[0] = '\0';
        return st;
    }
    snprintf(b->identify_photo, sizeof b->identify_photo, "%s/face.jpg", b->identify_dir);
    snprintf(b->identify_db, sizeof b->identify_db, "%s/gallery.db", b->identify_dir);
    if ((st = fr_image_save(b->face_photo, b->identify_photo, 90)) != FR_OK) return st;
    /* the gallery: the person in the photo, enrolled from the photo as `facerec enroll` does */
    fr_engine *eng = b->engines[0];
    fr_face *faces = NULL;
    int n = 0;
    st = fr_process(eng, b->face_photo, &faces, &n);
    if (st == FR_OK && n != 1)
        st = fr_error(FR_E_NO_FACE, "%s: %d faces found, the identify rows need one",
                      b->identify_photo, n);
    if (st == FR_OK) st = fr_gallery_open(b->identify_db, 1, &b->identify_gallery);
    if (st == FR_OK)
        st = fr_gallery_use_model(b->identify_gallery, fr_engine_model(eng), fr_version(),
                                  fr_engine_dim(eng));
    if (st == FR_OK) {
        fr_template t = {.embedding = faces[0].embedding, .source = b->identify_photo,
                         .x = faces[0].x, .y = faces[0].y, .w = faces[0].w, .h = faces[0].h,
                         .quality = faces[0].score};
        st = fr_file_sha256(b->identify_photo, t.sha256);
        if (st == FR_OK) st = fr_gallery_enroll(b->identify_gallery, "bench-person", &t, 1);
    }
    fr_faces_free(faces);
    if (st != FR_OK) return st;
    /* the command beside this program, and the models folder resolved as the engine did */
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return fr_error(FR_E_IO, "/proc/self/exe: cannot read: %s", strerror(errno));
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    snprintf(b->facerec_path, sizeof b->facerec_path, "%.*s/facerec", (int)(slash - self), self);
    if (access(b->facerec_path, X_OK) != 0) b->facerec_path[0] = '\0'; /* row skipped */
    return fr_model_path(models_dir, ".", b->models_path, sizeof b->models_path);
}

void identify_cleanup(bench *b) {
    fr_gallery_close(b->identify_gallery);
    fr_image_free(b->face_photo);
    if (!b->identify_dir[0]) return;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%s", b->identify_db, suffixes[i]);
        unlink(path);
    }
    unlink(b->identify_photo);
    rmdir(b->identify_dir);
}

/* Warm: detect, align and embed (with the mirror), then search the gallery, as `facerec
 * identify` does for each photo after the first. */
fr_status run_identify_warm(bench *b, int threads, int *n_faces) {
    fr_face *faces = NULL;
    fr_engine *eng = b->engines[fr_engine_threads(b->engines[0]) == threads ? 0 : 1];
    fr_status st = fr_process(eng, b->face_photo, &faces, n_faces);
    fr_match match;
    int n_found;
    if (st == FR_OK && *n_faces != 1)
        st = fr_error(FR_E_NO_FACE, "%s: %d faces found", b->identify_photo, *n_faces);
    if (st == FR_OK)
        st = fr_gallery_search(b->identify_gallery, faces[0].embedding, 1, 1, &match, &n_found);
    fr_faces_free(faces);
    return st;
}

/* Cold: `facerec identify --db DB --threads T --models DIR PHOTO` in a fresh process (the
 * networks' prepared files made by an earlier start, src/nn/prepared.h). */
fr_status run_identify_cold(bench *b, int threads, int *n_faces) {
    char threads_arg[16];
    snprintf(threads_arg, sizeof threads_arg, "%d", threads);
    char *const argv[] = {b->facerec_path, "identify", "--db", b->identify_db, "--threads",
                          threads_arg, "--models", b->models_path, b->identify_photo, NULL};
    char *out = NULL;
    int rc = process_run(argv, 1, &out);
    int named = out && strstr(out, "bench-person") != NULL;
    free(out);
    *n_faces = 1;
    if (rc != 0 || !named)
        return fr_error(FR_E_IO, "%s identify %s: exit status %d%s", b->facerec_path,
                        b->identify_photo, rc, named ? "" : ", the person not named");
    return FR_OK;
}

/* Remove a flat folder: its files, then itself. */
static void remove_flat_folder(const char *folder) {
    DIR *d = opendir(folder);
    if (!d) return;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(folder);
}

/* The first start ever: the cold run with an empty folder of prepared files ($FACEREC_CACHE),
 * so that every model file is read and the prepared files are written. (The time includes
 * making the folder and removing what the run wrote into it, a few ms.) */
fr_status run_identify_first(bench *b, int threads, int *n_faces) {
    char folder[4100];
    snprintf(folder, sizeof folder, "%s/cache-XXXXXX", b->identify_dir);
    if (!mkdtemp(folder)) return fr_error(FR_E_IO, "%s: cannot create: %s", folder, strerror(errno));
    const char *was = getenv("FACEREC_CACHE");
    char *saved = was ? strdup(was) : NULL;
    fr_status st = FR_OK;
    if (was && !saved) st = fr_error(FR_E_NOMEM, "out of memory");
    if (st == FR_OK && setenv("FACEREC_CACHE", folder, 1) != 0)
        st = fr_error(FR_E_NOMEM, "FACEREC_CACHE: cannot set: %s", strerror(errno));
    if (st == FR_OK) st = run_identify_cold(b, threads, n_faces);
    if (saved) setenv("FACEREC_CACHE", saved, 1);
    else unsetenv("FACEREC_CACHE");
    free(saved);
    remove_flat_folder(folder);
    return st;
}
