/* relight.c: the relit test set (`facerec eval relight`), faces of ORL and LFW under a
 * synthetic directional light, hard as a desk lamp, a window or a dim hallway makes them.
 *
 * Each source photo's subject face (the face the evaluations use, with the 68-point net's
 * landmarks) is cut out tight, 170x190 with the face filling the frame, and written unlit and
 * once per band of the light's angle from the camera's axis. The layout of out_dir:
 *
 *   README.txt                    what the set is, and the command that made it
 *   tune/ test/                   the two halves of the people (disjoint): choose on tune,
 *                                 report on test
 *     people.txt                  the half's people, one a line, with their source folder
 *     landmarks.txt               "person/person_0001.jpg" then the 68 points (x y) the
 *                                 68-point net found on the unlit photo, in crop pixels
 *     lights.txt                  each relit file's light: condition, file, theta, phi,
 *                                 ambient, exposure, gamma, noise
 *     unlit/ a00-20/ a20-40/ a40-60/ a60-80/
 *       pairs.txt                 LFW View 2 format (10 folds), the same pairs in each
 *                                 condition: `facerec eval lfw --dir D --pairs D/pairs.txt`
 *       <person>/<person>_0001.jpg ...
 *
 * People are named orl-s1 .. orl-s40 and lfw-<name>; each source's people are split in
 * halves on their own, so that both halves hold both kinds of photo. */
#include "eval/eval.h"

#include "common/common.h"
#include "face/face.h"
#include "nn/nn.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CROP_W 170
#define CROP_H 190
#define PAIR_FOLDS 10
#define HALVES 2

const float eval_relight_band[EVAL_RELIGHT_BANDS][2] = {{0, 20}, {20, 40}, {40, 60}, {60, 80}};
const char *const eval_relight_condition[EVAL_RELIGHT_BANDS + 1] = {"unlit", "a00-20", "a20-40",
                                                                    "a40-60", "a60-80"};
static const char *const half_name[HALVES] = {"tune", "test"};

static const double deg = 3.14159265358979323846 / 180.0;

/* ---- the light ------------------------------------------------------------------------------ */

static float uniform(uint64_t *state, float lo, float hi) {
    return lo + (hi - lo) * (float)((eval_random_next(state) >> 11) * (1.0 / 9007199254740992.0));
}

void eval_light_draw(uint64_t *state, int band, eval_light *light) {
    light->theta = uniform(state, eval_relight_band[band][0], eval_relight_band[band][1]);
    light->phi = uniform(state, 160, 380); /* the sides and above; a lamp below a face is rare */
    if (light->phi >= 360) light->phi -= 360;
    light->ambient = uniform(state, 0.03f, 0.12f);
    light->exposure = uniform(state, 0.3f, 0.65f);
    light->gamma = uniform(state, 1.2f, 1.9f);
    light->noise = uniform(state, 1, 4);
}

/* A standard normal draw (Box-Muller). */
static float normal(uint64_t *state) {
    double u1 = ((eval_random_next(state) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (eval_random_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2 * 3.14159265358979323846 * u2));
}

/* ---- the face's surface ---------------------------------------------------------------------- */

static float gauss2(float dx, float dy, float sigma) {
    return expf(-(dx * dx + dy * dy) / (2 * sigma * sigma));
}

static void mean_point(const float lm[68][2], int from, int to, float p[2]) {
    p[0] = p[1] = 0;
    for (int i = from; i <= to; i++) p[0] += lm[i][0], p[1] += lm[i][1];
    p[0] /= (float)(to - from + 1), p[1] /= (float)(to - from + 1);
}

/* The depth (towards the camera, in pixels) of a w x h crop's face from its 68 landmarks:
 * an elliptic dome 1.2 times as wide as the jaw (points 0, 16), from the chin (8) to a
 * forehead 0.6 of the brow-chin distance above the brows (17-26), as deep as 0.8 of its half
 * width, with a cosine profile (the slope at its rim is finite, as a head's turning away is
 * seen at the crop's resolution); a nose ridge from the bridge (27) to the tip (30) and a
 * rounded tip; eye sockets at the eyes' centres (36-41, 42-47). Outside the dome the
 * background is flat at depth 0. */
static void face_depth(const float lm[68][2], int w, int h, float *depth) {
    float jaw_dx = lm[16][0] - lm[0][0], jaw_dy = lm[16][1] - lm[0][1];
    float a = FR_MAX(1.0f, 0.6f * sqrtf(jaw_dx * jaw_dx + jaw_dy * jaw_dy));
    float brow[2], eye_l[2], eye_r[2];
    mean_point(lm, 17, 26, brow);
    mean_point(lm, 36, 41, eye_l);
    mean_point(lm, 42, 47, eye_r);
    float chin = lm[8][1], top = brow[1] - 0.6f * (chin - brow[1]);
    float cx = 0.5f * (lm[0][0] + lm[16][0]), cy = 0.5f * (top + chin);
    float b = FR_MAX(1.0f, 0.55f * (chin - top)), c = 0.8f * a;
    const float *bridge = lm[27], *tip = lm[30];
    float ridge_x = tip[0] - bridge[0], ridge_y = tip[1] - bridge[1];
    float ridge_len2 = FR_MAX(1.0f, ridge_x * ridge_x + ridge_y * ridge_y);
    const float half_pi = 1.57079633f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float u = ((float)x - cx) / a, v = ((float)y - cy) / b, r2 = u * u + v * v;
            float z = 0;
            if (r2 < 1) {
                z = c * cosf(half_pi * sqrtf(r2));
                /* the ridge rises from the bridge to the tip */
                float t = (((float)x - bridge[0]) * ridge_x + ((float)y - bridge[1]) * ridge_y) /
                          ridge_len2;
                t = FR_MIN(1.0f, FR_MAX(0.0f, t));
                float dx = (float)x - (bridge[0] + t * ridge_x), dy = (float)y - (bridge[1] + t * ridge_y);
                z += 0.2f * a * (0.4f + 0.6f * t) * gauss2(dx, dy, 0.13f * a);
                z += 0.08f * a * gauss2((float)x - tip[0], (float)y - tip[1], 0.14f * a);
                z -= 0.08f * a * gauss2((float)x - eye_l[0], (float)y - eye_l[1], 0.15f * a);
                z -= 0.08f * a * gauss2((float)x - eye_r[0], (float)y - eye_r[1], 0.15f * a);
                z = FR_MAX(0.0f, z);
            }
            depth[(size_t)y * w + x] = z;
        }
}

/* 1 when the surface point (x, y, depth) sees the lamp along l (unit, towards the lamp):
 * a march through the depth map, a pixel at a time in the image plane. */
static int sees_light(const float *depth, int w, int h, int x, int y, const float l[3],
                      float max_depth) {
    float lxy = sqrtf(l[0] * l[0] + l[1] * l[1]);
    if (lxy < 1e-3f) return 1;
    float dx = l[0] / lxy, dy = l[1] / lxy, dz = l[2] / lxy;
    float z = depth[(size_t)y * w + x] + 0.5f;
    for (int t = 1;; t++) {
        float height = z + (float)t * dz;
        if (height > max_depth) return 1;
        int px = (int)lroundf((float)x + (float)t * dx), py = (int)lroundf((float)y + (float)t * dy);
        if (px < 0 || py < 0 || px >= w || py >= h) return 1;
        if (depth[(size_t)py * w + px] > height) return 0;
    }
}

fr_status eval_relight_face(const fr_image *crop, const float landmarks[68][2],
                            const eval_light *light, uint64_t noise_seed, fr_image **out) {
    *out = NULL;
    if (!crop || !crop->rgb || crop->width < 3 || crop->height < 3 || !light ||
        !(light->theta >= 0 && light->theta < 90) || !(light->exposure > 0) ||
        !(light->gamma > 0) || !(light->ambient >= 0 && light->ambient <= 1) ||
        !(light->noise >= 0))
        return fr_error(FR_E_ARG, "eval_relight_face: bad image or light");
    int w = crop->width, h = crop->height;
    float *depth = malloc((size_t)w * (size_t)h * sizeof *depth);
    fr_image *img = NULL;
    fr_status st = depth ? fr_image_new(w, h, &img) : FR_E_NOMEM;
    if (st != FR_OK) {
        free(depth);
        return st == FR_E_NOMEM ? fr_error(FR_E_NOMEM, "out of memory relighting a face") : st;
    }
    face_depth(landmarks, w, h, depth);
    float max_depth = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) max_depth = FR_MAX(max_depth, depth[i]);
    float theta = (float)(light->theta * deg), phi = (float)(light->phi * deg);
    float l[3] = {sinf(theta) * cosf(phi), sinf(theta) * sinf(phi), cosf(theta)};
    /* 8-bit levels to linear light and back (a table: 256 entries) */
    float linear[256];
    for (int i = 0; i < 256; i++) linear[i] = powf((float)i / 255.0f, 2.2f);
    uint64_t noise_state = noise_seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            /* the normal from the depth's slope (central differences, one-sided at the edge) */
            int x0 = FR_MAX(0, x - 1), x1 = FR_MIN(w - 1, x + 1);
            int y0 = FR_MAX(0, y - 1), y1 = FR_MIN(h - 1, y + 1);
            float gx = (depth[(size_t)y * w + x1] - depth[(size_t)y * w + x0]) / (float)(x1 - x0);
            float gy = (depth[(size_t)y1 * w + x] - depth[(size_t)y0 * w + x]) / (float)(y1 - y0);
            float n[3] = {-gx, -gy, 1};
            float norm = sqrtf(n[0] * n[0] + n[1] * n[1] + 1);
            float direct = (n[0] * l[0] + n[1] * l[1] + n[2] * l[2]) / norm;
            if (direct > 0 && !sees_light(depth, w, h, x, y, l, max_depth)) direct = 0;
            float shade = light->ambient + (1 - light->ambient) * FR_MAX(0.0f, direct);
            const uint8_t *src = crop->rgb + ((size_t)y * w + x) * 3;
            uint8_t *dst = img->rgb + ((size_t)y * w + x) * 3;
            for (int k = 0; k < 3; k++) {
                float v = FR_MIN(1.0f, light->exposure * linear[src[k]] * shade);
                float level = 255.0f * powf(v, 1.0f / light->gamma) + light->noise * normal(&noise_state);
                dst[k] = (uint8_t)lroundf(FR_MIN(255.0f, FR_MAX(0.0f, level)));
            }
        }
    free(depth);
    *out = img;
    return FR_OK;
}

/* ---- the split --------------------------------------------------------------------------------- */

/* FNV-1a of a name, mixed with the seed: a key that does not depend on the list's order. */
static uint64_t name_key(const char *name, uint64_t seed) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
    uint64_t state = h ^ seed;
    return eval_random_next(&state);
}

typedef struct keyed {
    uint64_t key;
    const char *name;
    int index;
} keyed;

static int compare_keyed(const void *x, const void *y) {
    const keyed *a = x, *b = y;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return strcmp(a->name, b->name);
}

fr_status eval_relight_split(const char *const *names, int n, uint64_t seed, int *half) {
    if (n < 0 || (n > 0 && (!names || !half))) return fr_error(FR_E_ARG, "eval_relight_split: bad argument");
    keyed *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    if (!k) return fr_error(FR_E_NOMEM, "out of memory splitting %d people", n);
    for (int i = 0; i < n; i++) k[i] = (keyed){name_key(names[i], seed), names[i], i};
    qsort(k, (size_t)n, sizeof *k, compare_keyed);
    for (int i = 0; i < n; i++) half[k[i].index] = i < n / 2 ? 0 : 1;
    free(k);
    return FR_OK;
}

/* ---- the sources ------------------------------------------------------------------------------- */

typedef struct person {
    char *name;    /* in the set: orl-s1, lfw-Aaron_Eckhart */
    char *source;  /* its folder */
    char **photos; /* source paths */
    int n_photos;
    int half;
} person;

typedef struct name_list {
    char **items;
    int n, cap;
} name_list;

static int names_add(name_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) return 0;
        l->items = items, l->cap = cap;
    }
    return (l->items[l->n] = strdup(s)) ? (l->n++, 1) : 0;
}

static void names_free(name_list *l) {
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int compare_names(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Natural order, so that ORL's 2.pgm comes before 10.pgm and s2 before s10. */
static int compare_natural(const void *x, const void *y) {
    const char *a = *(char *const *)x, *b = *(char *const *)y;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb && strspn(a, "0123456789s.pgm") == la && strspn(b, "0123456789s.pgm") == lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/* The entries of dir (not starting with '.'), folders or files as asked, sorted. */
static fr_status list_dir(const char *dir, int want_dirs, name_list *out, int natural) {
    DIR *d = opendir(dir);
    if (!d) return fr_error(FR_E_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    struct dirent *e;
    fr_status st = FR_OK;
    while (st == FR_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat s;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        if (stat(path, &s) != 0) continue;
        if ((want_dirs && S_ISDIR(s.st_mode)) || (!want_dirs && S_ISREG(s.st_mode)))
            if (!names_add(out, e->d_name)) st = fr_error(FR_E_NOMEM, "out of memory listing %s", dir);
    }
    closedir(d);
    if (st == FR_OK) qsort(out->items, (size_t)out->n, sizeof *out->items, natural ? compare_natural : compare_names);
    return st;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

typedef struct people {
    person *items;
    int n, cap;
} people;

static void people_free(people *p) {
    for (int i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].source);
        for (int k = 0; k < p->items[i].n_photos; k++) free(p->items[i].photos[k]);
        free(p->items[i].photos);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}

/* Add the person in folder dir/sub with its first max_photos photos ending in suffix (all if
 * max_photos is 0); 0 photos found adds no one. */
static fr_status add_person(people *p, const char *prefix, const char *dir, const char *sub,
                            const char *suffix, int max_photos) {
    char folder[4096], name[512];
    if (snprintf(folder, sizeof folder, "%s/%s", dir, sub) >= (int)sizeof folder ||
        snprintf(name, sizeof name, "%s-%s", prefix, sub) >= (int)sizeof name)
        return fr_error(FR_E_ARG, "%s/%s: path too long", dir, sub);
    name_list files = {0};
    fr_status st = list_dir(folder, 0, &files, 1);
    int n = 0;
    for (int i = 0; st == FR_OK && i < files.n; i++) n += has_suffix(files.items[i], suffix);
    if (st == FR_OK && n > 0 && (max_photos == 0 || n >= max_photos)) {
        if (p->n == p->cap) {
            int cap = p->cap ? 2 * p->cap : 64;
            person *items = realloc(p->items, (size_t)cap * sizeof *items);
            if (!items) st = fr_error(FR_E_NOMEM, "out of memory listing %s", dir);
            else p->items = items, p->cap = cap;
        }
        int take = max_photos ? max_photos : n;
        person *q = st == FR_OK ? &p->items[p->n] : NULL;
        if (q) {
            memset(q, 0, sizeof *q);
            p->n++;
            q->name = strdup(name);
            q->source = strdup(folder);
            q->photos = calloc((size_t)take, sizeof *q->photos);
            if (!q->name || !q->source || !q->photos) st = fr_error(FR_E_NOMEM, "out of memory");
        }
        for (int i = 0; st == FR_OK && i < files.n && q->n_photos < take; i++) {
            if (!has_suffix(files.items[i], suffix)) continue;
            char path[8192];
            if (snprintf(path, sizeof path, "%s/%s", folder, files.items[i]) >= (int)sizeof path)
                st = fr_error(FR_E_ARG, "%s/%s: path too long", folder, files.items[i]);
            else if (!(q->photos[q->n_photos] = strdup(path)))
                st = fr_error(FR_E_NOMEM, "out of memory");
            else
                q->n_photos++;
        }
    }
    names_free(&files);
    return st;
}

/* ORL: s1 .. s40, each a folder of .pgm. */
static fr_status list_orl(const char *dir, people *p) {
    name_list subs = {0};
    fr_status st = list_dir(dir, 1, &subs, 1);
    int before = p->n;
    for (int i = 0; st == FR_OK && i < subs.n; i++)
        st = add_person(p, "orl", dir, subs.items[i], ".pgm", 0);
    names_free(&subs);
    if (st == FR_OK && p->n - before < 2)
        st = fr_error(FR_E_FORMAT, "%s: not ORL (no two folders of .pgm photos)", dir);
    return st;
}

/* LFW: of the people with at least per_person photos, `count` drawn by the seed (in name
 * order after the draw). */
static fr_status list_lfw(const char *dir, int count, int per_person, uint64_t seed, people *p) {
    name_list subs = {0};
    people all = {0};
    fr_status st = list_dir(dir, 1, &subs, 0);
    for (int i = 0; st == FR_OK && i < subs.n; i++)
        st = add_person(&all, "lfw", dir, subs.items[i], ".jpg", per_person);
    names_free(&subs);
    if (st == FR_OK && all.n < count)
        st = fr_error(FR_E_FORMAT, "%s: %d people have %d photos; %d asked for", dir, all.n,
                      per_person, count);
    keyed *k = st == FR_OK ? malloc((size_t)FR_MAX(1, all.n) * sizeof *k) : NULL;
    if (st == FR_OK && !k) st = fr_error(FR_E_NOMEM, "out of memory listing %s", dir);
    if (st == FR_OK) {
        for (int i = 0; i < all.n; i++) k[i] = (keyed){name_key(all.items[i].name, seed ^ 0x4c4657ull), all.items[i].name, i};
        qsort(k, (size_t)all.n, sizeof *k, compare_keyed);
        /* the drawn ones, back in name order */
        int *take = calloc((size_t)FR_MAX(1, all.n), sizeof *take);
        if (!take) st = fr_error(FR_E_NOMEM, "out of memory listing %s", dir);
        for (int i = 0; take && i < count; i++) take[k[i].index] = 1;
        for (int i = 0; take && i < all.n; i++) {
            if (!take[i]) continue;
            if (p->n == p->cap) {
                int cap = p->cap ? 2 * p->cap : 64;
                person *items = realloc(p->items, (size_t)cap * sizeof *items);
                if (!items) {
                    st = fr_error(FR_E_NOMEM, "out of memory listing %s", dir);
                    break;
                }
                p->items = items, p->cap = cap;
            }
            p->items[p->n++] = all.items[i];
            memset(&all.items[i], 0, sizeof all.items[i]);
        }
        free(take);
    }
    free(k);
    people_free(&all);
    return st;
}

/* ---- writing ------------------------------------------------------------------------------------ */

static fr_status make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return fr_error(FR_E_IO, "%s: cannot create the folder: %s", path, strerror(errno));
    return FR_OK;
}

/* The output folder must be new or empty: the set is never written over other files. */
static fr_status check_out_dir(const char *out) {
    DIR *d = opendir(out);
    if (!d) return errno == ENOENT ? fr_make_folders(out, 0755)
                                   : fr_error(FR_E_IO, "%s: cannot open the folder: %s", out, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(d);
    return empty ? FR_OK : fr_error(FR_E_ARG, "%s: the folder is not empty (the set is written "
                                    "only into a new or empty folder)", out);
}

static FILE *open_out(const char *out, const char *half, const char *file, fr_status *st) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", out, half, file);
    FILE *f = fopen(path, "w");
    if (!f) *st = fr_error(FR_E_IO, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static fr_status close_out(FILE *f, const char *what) {
    int failed = ferror(f);
    failed |= fclose(f) != 0;
    return failed ? fr_error(FR_E_IO, "%s: write failed", what) : FR_OK;
}

/* ---- one photo ------------------------------------------------------------------------------ */

/* A photo of the set: its person, its index (1-based, in its source folder's order) and
 * what was made of it. */
typedef struct photo {
    int person, source_index, index; /* index 0: left out (no face to crop) */
    float landmarks[68][2];          /* in the crop */
    eval_light lights[EVAL_RELIGHT_BANDS];
} photo;

typedef struct gen_run {
    const eval_relight_options *o;
    fr_engine *eng;
    people *people;
    photo *photos;
    pthread_mutex_t lock;
    fr_status status;
    char error[1024];
} gen_run;

/* The tight crop around 68 landmarks: as wide as the points, from a forehead a quarter of the
 * points' height above the brows to a little below the chin, at 170:190. */
static void crop_box(const float lm[68][2], float box[4]) {
    float x0 = lm[0][0], x1 = x0, y0 = lm[0][1], y1 = y0;
    for (int i = 1; i < 68; i++) {
        x0 = FR_MIN(x0, lm[i][0]), x1 = FR_MAX(x1, lm[i][0]);
        y0 = FR_MIN(y0, lm[i][1]), y1 = FR_MAX(y1, lm[i][1]);
    }
    float h = y1 - y0, top = y0 - 0.25f * h, bottom = y1 + 0.05f * h;
    float ch = bottom - top, cw = ch * CROP_W / CROP_H;
    box[0] = 0.5f * (x0 + x1) - 0.5f * cw, box[1] = top, box[2] = cw, box[3] = ch;
}

static fr_status save_crop(const gen_run *run, const photo *ph, int condition, const fr_image *img) {
    const person *p = &run->people->items[ph->person];
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s/%s/%s", run->o->out_dir, half_name[p->half],
                 eval_relight_condition[condition], p->name) >= (int)sizeof path)
        return fr_error(FR_E_ARG, "%s: path too long", run->o->out_dir);
    fr_status st = make_dir(path);
    size_t len = strlen(path);
    if (st == FR_OK && snprintf(path + len, sizeof path - len, "/%s_%04d.jpg", p->name, ph->index) >=
                           (int)(sizeof path - len))
        st = fr_error(FR_E_ARG, "%s: path too long", run->o->out_dir);
    return st == FR_OK ? fr_image_save(img, path, 95) : st;
}

static fr_status make_photo(gen_run *run, photo *ph) {
    const person *p = &run->people->items[ph->person];
    const char *path = p->photos[ph->source_index];
    fr_image *img, *cut = NULL, *crop = NULL;
    fr_status st = fr_image_load(path, &img);
    if (st != FR_OK) return st;
    fr_face face;
    int centred;
    st = eval_subject_face(run->eng, img, &face, &centred);
    if (st == FR_OK && centred) { /* no face to crop: the photo is left out */
        ph->index = 0;
        fr_image_free(img);
        return FR_OK;
    }
    if (st == FR_OK) st = engine_landmarks68(run->eng, img, &face);
    float box[4];
    if (st == FR_OK) {
        crop_box(face.landmarks, box);
        st = fr_image_crop(img, (int)lroundf(box[0]), (int)lroundf(box[1]), (int)lroundf(box[2]),
                           (int)lroundf(box[3]), &cut);
    }
    if (st == FR_OK) st = fr_image_resize(cut, CROP_W, CROP_H, &crop);
    if (st == FR_OK) {
        float sx = (float)CROP_W / (float)cut->width, sy = (float)CROP_H / (float)cut->height;
        for (int i = 0; i < 68; i++) {
            /* pixel centres: the resize maps (u + 0.5) / s - 0.5 */
            ph->landmarks[i][0] = (face.landmarks[i][0] - lroundf(box[0]) + 0.5f) * sx - 0.5f;
            ph->landmarks[i][1] = (face.landmarks[i][1] - lroundf(box[1]) + 0.5f) * sy - 0.5f;
        }
        st = save_crop(run, ph, 0, crop);
    }
    for (int b = 0; st == FR_OK && b < EVAL_RELIGHT_BANDS; b++) {
        /* the light depends on the seed, the person, the photo and the band only */
        uint64_t state = name_key(p->name, run->o->seed) ^ ((uint64_t)ph->index << 8) ^ (uint64_t)b;
        eval_light_draw(&state, b, &ph->lights[b]);
        fr_image *lit;
        st = eval_relight_face(crop, ph->landmarks, &ph->lights[b], eval_random_next(&state), &lit);
        if (st == FR_OK) st = save_crop(run, ph, b + 1, lit);
        fr_image_free(lit);
    }
    fr_image_free(crop);
    fr_image_free(cut);
    fr_image_free(img);
    return st != FR_OK ? fr_error_prefix(st, "%s", path) : FR_OK;
}

static void photo_task(void *ctx, int i) {
    gen_run *run = ctx;
    pthread_mutex_lock(&run->lock);
    int failed = run->status != FR_OK;
    pthread_mutex_unlock(&run->lock);
    if (failed) return;
    fr_status st = make_photo(run, &run->photos[i]);
    pthread_mutex_lock(&run->lock);
    if (st != FR_OK && run->status == FR_OK) {
        run->status = st;
        snprintf(run->error, sizeof run->error, "%s", fr_last_error());
    }
    pthread_mutex_unlock(&run->lock);
}

/* ---- the lists -------------------------------------------------------------------------------- */

/* pairs.txt of one half in LFW View 2 form: PAIR_FOLDS folds of n matched then n mismatched
 * lines, from eval_folder_pairs over the half's photos (each fold cut to the smallest fold's
 * count of each kind). */
static fr_status write_pairs(const gen_run *run, int half, const photo *const *list, int n,
                             FILE *f) {
    int *labels = malloc((size_t)FR_MAX(1, n) * sizeof *labels);
    if (!labels) return fr_error(FR_E_NOMEM, "out of memory for the pairs");
    for (int i = 0; i < n; i++) labels[i] = list[i]->person;
    eval_pair *pairs = NULL;
    int n_pairs = 0, folds = PAIR_FOLDS;
    fr_status st = eval_folder_pairs(labels, n, &folds, run->o->seed + (uint64_t)half, &pairs, &n_pairs);
    free(labels);
    if (st != FR_OK) return st;
    int per_fold = n_pairs;
    for (int k = 0; k < folds; k++)
        for (int same = 0; same < 2; same++) {
            int count = 0;
            for (int i = 0; i < n_pairs; i++) count += pairs[i].fold == k && pairs[i].same == same;
            per_fold = FR_MIN(per_fold, count);
        }
    fprintf(f, "%d\t%d\n", folds, per_fold);
    for (int k = 0; k < folds; k++)
        for (int same = 1; same >= 0; same--) {
            int written = 0;
            for (int i = 0; i < n_pairs && written < per_fold; i++) {
                const eval_pair *q = &pairs[i];
                if (q->fold != k || q->same != same) continue;
                const photo *a = list[q->a], *b = list[q->b];
                const char *na = run->people->items[a->person].name, *nb = run->people->items[b->person].name;
                if (same) fprintf(f, "%s\t%d\t%d\n", na, a->index, b->index);
                else fprintf(f, "%s\t%d\t%s\t%d\n", na, a->index, nb, b->index);
                written++;
            }
        }
    free(pairs);
    return FR_OK;
}

static fr_status write_half(const gen_run *run, int half, int n_photos, eval_relight_summary *s) {
    const char *out = run->o->out_dir;
    const photo **list = malloc((size_t)FR_MAX(1, n_photos) * sizeof *list);
    if (!list) return fr_error(FR_E_NOMEM, "out of memory for the lists");
    int n = 0;
    for (int i = 0; i < n_photos; i++)
        if (run->photos[i].index > 0 && run->people->items[run->photos[i].person].half == half)
            list[n++] = &run->photos[i];
    fr_status st = FR_OK;
    FILE *f = open_out(out, half_name[half], "people.txt", &st);
    for (int i = 0; f && i < run->people->n; i++)
        if (run->people->items[i].half == half) {
            fprintf(f, "%s\t%s\n", run->people->items[i].name, run->people->items[i].source);
            s->people[half]++;
        }
    if (f) st = close_out(f, "people.txt");
    f = st == FR_OK ? open_out(out, half_name[half], "landmarks.txt", &st) : NULL;
    for (int i = 0; f && i < n; i++) {
        const char *name = run->people->items[list[i]->person].name;
        fprintf(f, "%s/%s_%04d.jpg", name, name, list[i]->index);
        for (int k = 0; k < 68; k++)
            fprintf(f, "\t%.2f\t%.2f", (double)list[i]->landmarks[k][0], (double)list[i]->landmarks[k][1]);
        fputc('\n', f);
    }
    if (f) st = close_out(f, "landmarks.txt");
    f = st == FR_OK ? open_out(out, half_name[half], "lights.txt", &st) : NULL;
    if (f) fprintf(f, "condition\tfile\ttheta\tphi\tambient\texposure\tgamma\tnoise\n");
    for (int b = 0; f && b < EVAL_RELIGHT_BANDS; b++)
        for (int i = 0; i < n; i++) {
            const char *name = run->people->items[list[i]->person].name;
            const eval_light *l = &list[i]->lights[b];
            fprintf(f, "%s\t%s/%s_%04d.jpg\t%.2f\t%.2f\t%.3f\t%.3f\t%.3f\t%.2f\n",
                    eval_relight_condition[b + 1], name, name, list[i]->index, (double)l->theta,
                    (double)l->phi, (double)l->ambient, (double)l->exposure, (double)l->gamma,
                    (double)l->noise);
        }
    if (f) st = close_out(f, "lights.txt");
    for (int c = 0; st == FR_OK && c <= EVAL_RELIGHT_BANDS; c++) {
        char file[64];
        snprintf(file, sizeof file, "%s/pairs.txt", eval_relight_condition[c]);
        f = open_out(out, half_name[half], file, &st);
        if (f) st = write_pairs(run, half, list, n, f);
        if (f) {
            fr_status closed = close_out(f, file);
            if (st == FR_OK) st = closed;
        }
    }
    s->images[half] = n;
    free(list);
    return st;
}

static fr_status write_readme(const eval_relight_options *o) {
    fr_status st = FR_OK;
    FILE *f = open_out(o->out_dir, ".", "README.txt", &st);
    if (!f) return st;
    fprintf(f,
            "The relit test set of facerec (facerec eval relight --seed %llu --lfw-people %d "
            "--lfw-per-person %d; facerec %s).\n\n"
            "Each photo's face, cut out tight (%dx%d), unlit and relit by one distant lamp at an "
            "angle from the camera's axis in each band (a00-20 .. a60-80, degrees): Lambertian "
            "shading of a face-shaped surface fitted to the face's 68 landmarks, cast shadows, "
            "underexposure, a strong gamma and sensor noise. lights.txt gives each light.\n\n"
            "The people are split in two disjoint halves: tune/ (choose defaults on it) and test/ "
            "(report on it); people.txt lists each half's people. Each condition's folder has one "
            "folder per person and pairs.txt (LFW View 2 form), the same pairs in every condition:\n"
            "  facerec eval lfw --dir test/a60-80 --pairs test/a60-80/pairs.txt\n"
            "landmarks.txt gives the 68-point net's landmarks on each unlit photo, in crop pixels:\n"
            "  facerec eval landmarks --dir test/a60-80 --reference test/landmarks.txt\n",
            (unsigned long long)o->seed, o->lfw_people, o->lfw_per_person, fr_version(), CROP_W, CROP_H);
    return close_out(f, "README.txt");
}

fr_status eval_relight_generate(const eval_relight_options *o, eval_relight_summary *summary) {
    memset(summary, 0, sizeof *summary);
    if (!o || !o->out_dir || (!o->orl_dir && !o->lfw_dir) ||
        (o->lfw_dir && (o->lfw_people < 2 || o->lfw_per_person < 2)))
        return fr_error(FR_E_ARG, "eval_relight_generate: an output folder, ORL or LFW, and for "
                        "LFW two people or more with two photos or more");
    people ppl = {0};
    fr_status st = FR_OK;
    int orl_end = 0;
    if (o->orl_dir) st = list_orl(o->orl_dir, &ppl);
    orl_end = ppl.n;
    if (st == FR_OK && o->lfw_dir) st = list_lfw(o->lfw_dir, o->lfw_people, o->lfw_per_person, o->seed, &ppl);
    /* each source split on its own */
    char **names = st == FR_OK ? malloc((size_t)FR_MAX(1, ppl.n) * sizeof *names) : NULL;
    int *half = st == FR_OK ? malloc((size_t)FR_MAX(1, ppl.n) * sizeof *half) : NULL;
    if (st == FR_OK && (!names || !half)) st = fr_error(FR_E_NOMEM, "out of memory");
    for (int i = 0; st == FR_OK && i < ppl.n; i++) names[i] = ppl.items[i].name;
    if (st == FR_OK) st = eval_relight_split((const char *const *)names, orl_end, o->seed, half);
    if (st == FR_OK)
        st = eval_relight_split((const char *const *)names + orl_end, ppl.n - orl_end, o->seed, half + orl_end);
    for (int i = 0; st == FR_OK && i < ppl.n; i++) ppl.items[i].half = half[i];
    free(names);
    free(half);
    if (st == FR_OK) st = check_out_dir(o->out_dir);
    for (int h = 0; st == FR_OK && h < HALVES; h++)
        for (int c = 0; st == FR_OK && c <= EVAL_RELIGHT_BANDS; c++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s/%s", o->out_dir, half_name[h], eval_relight_condition[c]);
            st = fr_make_folders(path, 0755);
        }
    int n_photos = 0;
    for (int i = 0; i < ppl.n; i++) n_photos += ppl.items[i].n_photos;
    gen_run run = {.o = o, .people = &ppl};
    run.photos = st == FR_OK ? calloc((size_t)FR_MAX(1, n_photos), sizeof *run.photos) : NULL;
    if (st == FR_OK && !run.photos) st = fr_error(FR_E_NOMEM, "out of memory for %d photos", n_photos);
    for (int i = 0, k = 0; st == FR_OK && i < ppl.n; i++)
        for (int j = 0; j < ppl.items[i].n_photos; j++, k++)
            run.photos[k] = (photo){.person = i, .source_index = j, .index = j + 1};
    if (st == FR_OK) {
        fr_config cfg;
        fr_config_init(&cfg);
        cfg.models_dir = o->models_dir;
        cfg.load_embedder = 0;
        cfg.threads = o->threads;
        st = fr_engine_open(&cfg, &run.eng);
    }
    if (st == FR_OK) {
        pthread_mutex_init(&run.lock, NULL);
        nn_parallel_for(fr_engine_threads(run.eng), n_photos, photo_task, &run);
        pthread_mutex_destroy(&run.lock);
        if (run.status != FR_OK) st = fr_error(run.status, "%s", run.error);
    }
    fr_engine_close(run.eng);
    for (int i = 0; st == FR_OK && i < n_photos; i++) summary->skipped += run.photos[i].index == 0;
    for (int h = 0; st == FR_OK && h < HALVES; h++) st = write_half(&run, h, n_photos, summary);
    if (st == FR_OK) st = write_readme(o);
    free(run.photos);
    people_free(&ppl);
    return st;
}
