/* recognition.c: pieces shared by the gallery commands (enroll, identify, verify, calibrate,
 * list/remove/rename/info): folder listing, the face to use, the engine that matches a
 * gallery, and a progress bar. */
#include "cli.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_is_image_name(const char *name) {
    static const char *extensions[] = {".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".pnm", ".gif"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        if (!strcasecmp(dot, extensions[i])) return 1;
    return 0;
}

int cli_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_paths_add(cli_paths *list, const char *path) {
    if (list->n == list->cap) {
        int cap = list->cap ? 2 * list->cap : 64;
        char **items = realloc(list->items, (size_t)cap * sizeof *items);
        if (!items) return 0;
        list->items = items;
        list->cap = cap;
    }
    if (!(list->items[list->n] = strdup(path))) return 0;
    list->n++;
    return 1;
}

void cli_paths_free(cli_paths *list) {
    for (int i = 0; i < list->n; i++) free(list->items[i]);
    free(list->items);
    memset(list, 0, sizeof *list);
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_list_folder(const char *dir, cli_paths *images, cli_paths *folders) {
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 0;
    }
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ., .. and hidden files */
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            ok = 0;
            break;
        }
        snprintf(path, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        if (cli_is_dir(path)) {
            if (folders) ok = cli_paths_add(folders, path);
        } else if (images && cli_is_image_name(e->d_name)) {
            ok = cli_paths_add(images, path);
        }
        free(path);
    }
    closedir(d);
    if (!ok) fprintf(stderr, "facerec: %s: out of memory listing the folder\n", dir);
    if (images && images->n > 0)
        qsort(images->items, (size_t)images->n, sizeof(char *), compare_strings);
    if (folders && folders->n > 0)
        qsort(folders->items, (size_t)folders->n, sizeof(char *), compare_strings);
    return ok;
}

const char *cli_base_name(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--; /* "people/skuli/" names skuli */
    static char base[1024];
    size_t start = len;
    while (start > 0 && path[start - 1] != '/') start--;
    snprintf(base, sizeof base, "%.*s", (int)(len - start), path + start);
    return base;
}

int cli_largest_face(const fr_face *faces, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (faces[i].w * faces[i].h > faces[best].w * faces[best].h) best = i;
    return best;
}

int cli_open_engine_for_gallery(fr_config *cfg, const char *default_model, fr_gallery *g,
                                fr_engine **eng) {
    fr_gallery_info info;
    fr_status st = fr_gallery_get_info(g, &info);
    if (st != FR_OK) return cli_fail(st);
    /* without --model, use the gallery's */
    if (cfg->model == default_model && info.model[0]) {
        /* a trained model is known by its id; its file is needed to run it */
        if (strchr(info.model, '+')) {
            fprintf(stderr, "facerec: %s holds embeddings of the trained model %s: give its file "
                            "with --model FILE\n", fr_gallery_path(g), info.model);
            return CLI_USAGE;
        }
        cfg->model = info.model;
    }
    st = fr_engine_open(cfg, eng);
    if (st != FR_OK) return cli_fail(st);
    /* the model implementation ships with the library: its version names the implementation */
    st = fr_gallery_use_model(g, fr_engine_model(*eng), fr_version(), fr_engine_dim(*eng));
    if (st != FR_OK) {
        fr_engine_close(*eng);
        *eng = NULL;
        return cli_fail(st);
    }
    return 0;
}

static int progress_shown;

void cli_progress(int done, int total, const char *label) {
    if (!isatty(STDERR_FILENO) || total < CLI_PROGRESS_MIN) return;
    const int width = 30;
    int filled = (int)((long long)done * width / (total ? total : 1));
    fprintf(stderr, "\r\033[K[%.*s%*s] %d/%d %.40s", filled, "##############################",
            width - filled, "", done, total, label ? label : "");
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_clear(void) {
    if (!progress_shown) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    progress_shown = 0;
}

int cli_list_people(const char *cmd, const char *dir, cli_people *set) {
    cli_paths folders = {0};
    int ok = cli_list_folder(dir, NULL, &folders);
    for (int f = 0; ok && f < folders.n; f++) {
        cli_paths photos = {0};
        ok = cli_list_folder(folders.items[f], &photos, NULL);
        int *labels = ok ? realloc(set->labels, ((size_t)set->photos.n + photos.n + 1) * sizeof *labels)
                         : NULL;
        if (ok && !labels) {
            fprintf(stderr, "facerec %s: out of memory\n", cmd);
            ok = 0;
        }
        if (labels) set->labels = labels;
        for (int i = 0; ok && i < photos.n; i++) {
            set->labels[set->photos.n] = set->n_people;
            ok = cli_paths_add(&set->photos, photos.items[i]);
        }
        set->n_people += ok && photos.n > 0;
        cli_paths_free(&photos);
    }
    cli_paths_free(&folders);
    if (!ok) return CLI_E_INPUT;
    if (set->n_people < 2) {
        fprintf(stderr, "facerec %s: %s: needs two sub-folders of photos or more, one per person\n",
                cmd, dir);
        return CLI_NO_FACE;
    }
    return CLI_OK;
}

void cli_people_free(cli_people *set) {
    cli_paths_free(&set->photos);
    free(set->labels);
}
