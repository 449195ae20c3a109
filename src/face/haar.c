/* haar.c: OpenCV Haar cascades: the cascade read from its XML (parsed by expat), the
 * bit-exact resize, the multi-scale window scan and the grouping of raw detections
 * (semantics in haar.h). */
#include "face/haar.h"

#include "common/common.h"
#include "image/resize_u8.h"
#include "nn/nn.h"

#include <expat.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HAAR_MAX_FILE_BYTES ((size_t)64 << 20)
#define HAAR_MAX_RECTS 3
#define XML_MAX_DEPTH 64
#define HAAR_MAX_SCALES 1000

/* ---- the document tree, read with expat (the project's XML library) ----
 * Only what a cascade needs: each element's name, its children in order, and the text
 * before its first child (where OpenCV puts a value). Names and texts live in one string
 * buffer, referred to by offsets since the buffer grows while parsing. */

typedef struct xml_node {
    size_t name;                       /* offset of the NUL-terminated name */
    size_t text;                       /* offset of the NUL-terminated text */
    int first_child, last_child, next; /* node indices, -1 for none */
} xml_node;

typedef struct xml_doc {
    xml_node *nodes;
    int n_nodes, cap;
    char *strings;
    size_t strings_len, strings_cap;
    int stack[XML_MAX_DEPTH + 1]; /* the open elements, root first */
    int depth;                    /* how many are open */
    int text_open;                /* the innermost open element's text is being collected */
    fr_status status;             /* the first failure of a handler */
    XML_Parser parser;
    const char *name; /* for error messages */
} xml_doc;

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

/* Stops the parse with a failure already recorded by fr_error(). */
static void xml_fail(xml_doc *d, fr_status st) {
    if (d->status == FR_OK) d->status = st;
    XML_StopParser(d->parser, XML_FALSE);
}

static int append_string(xml_doc *d, const char *s, size_t len) {
    if (d->strings_cap - d->strings_len < len + 1) {
        size_t cap = d->strings_cap ? d->strings_cap : 4096;
        while (cap - d->strings_len < len + 1) {
            if (cap > SIZE_MAX / 2) return 0;
            cap *= 2;
        }
        char *grown = realloc(d->strings, cap);
        if (!grown) return 0;
        d->strings = grown;
        d->strings_cap = cap;
    }
    memcpy(d->strings + d->strings_len, s, len);
    d->strings_len += len;
    d->strings[d->strings_len] = '\0'; /* always terminated; the next append overwrites it */
    return 1;
}

/* Ends the collection of the innermost element's text (its terminator is kept). */
static void close_text(xml_doc *d) {
    if (d->text_open) d->strings_len++;
    d->text_open = 0;
}

static void XMLCALL on_start(void *user, const XML_Char *name, const XML_Char **attributes) {
    (void)attributes;
    xml_doc *d = user;
    if (d->status != FR_OK) return;
    if (d->depth > XML_MAX_DEPTH) {
        xml_fail(d, fr_error(FR_E_MODEL, "%s: line %lu: XML nested deeper than %d elements",
                             d->name, (unsigned long)XML_GetCurrentLineNumber(d->parser), XML_MAX_DEPTH));
        return;
    }
    close_text(d);
    if (d->n_nodes == d->cap) {
        int cap = d->cap ? d->cap * 2 : 1024;
        xml_node *grown = d->cap < INT_MAX / 2 ? realloc(d->nodes, (size_t)cap * sizeof *grown) : NULL;
        if (!grown) {
            xml_fail(d, fr_error(FR_E_NOMEM, "%s: out of memory parsing the XML", d->name));
            return;
        }
        d->nodes = grown;
        d->cap = cap;
    }
    int me = d->n_nodes;
    xml_node n = {d->strings_len, 0, -1, -1, -1};
    if (!append_string(d, name, strlen(name))) {
        xml_fail(d, fr_error(FR_E_NOMEM, "%s: out of memory parsing the XML", d->name));
        return;
    }
    d->strings_len++; /* keep the name's terminator */
    d->nodes[d->n_nodes++] = n;
    if (d->depth > 0) {
        xml_node *parent = &d->nodes[d->stack[d->depth - 1]];
        if (parent->first_child < 0) parent->first_child = me;
        else d->nodes[parent->last_child].next = me;
        parent->last_child = me;
    }
    d->stack[d->depth++] = me;
    d->nodes[me].text = d->strings_len;
    d->text_open = 1;
    if (!append_string(d, "", 0))
        xml_fail(d, fr_error(FR_E_NOMEM, "%s: out of memory parsing the XML", d->name));
}

static void XMLCALL on_end(void *user, const XML_Char *name) {
    (void)name; /* expat has checked that it matches the start tag */
    xml_doc *d = user;
    if (d->status != FR_OK) return;
    close_text(d);
    d->depth--;
}

static void XMLCALL on_text(void *user, const XML_Char *text, int len) {
    xml_doc *d = user;
    if (d->status != FR_OK || !d->text_open) return;
    if (!append_string(d, text, (size_t)len))
        xml_fail(d, fr_error(FR_E_NOMEM, "%s: out of memory parsing the XML", d->name));
}

/* Parse the document; the root element is node 0. */
static fr_status xml_parse(xml_doc *d, const char *data, size_t size) {
    if (size > HAAR_MAX_FILE_BYTES)
        return fr_error(FR_E_LIMIT, "%s: %zu bytes of XML, over the limit of %zu", d->name, size,
                        HAAR_MAX_FILE_BYTES);
    d->parser = XML_ParserCreate(NULL);
    if (!d->parser) return fr_error(FR_E_NOMEM, "%s: out of memory", d->name);
    XML_SetUserData(d->parser, d);
    XML_SetElementHandler(d->parser, on_start, on_end);
    XML_SetCharacterDataHandler(d->parser, on_text);
    enum XML_Status parsed = XML_Parse(d->parser, data, (int)size, XML_TRUE);
    fr_status st = d->status;
    if (st == FR_OK && parsed != XML_STATUS_OK)
        st = fr_error(FR_E_MODEL, "%s: line %lu: malformed XML: %s", d->name,
                      (unsigned long)XML_GetCurrentLineNumber(d->parser),
                      XML_ErrorString(XML_GetErrorCode(d->parser)));
    XML_ParserFree(d->parser);
    d->parser = NULL;
    return st;
}

static const char *node_name(const xml_doc *d, int node) { return d->strings + d->nodes[node].name; }

static const char *node_text(const xml_doc *d, int node) {
    return d->strings + d->nodes[node].text;
}

static int xml_child(const xml_doc *d, int node, const char *name) {
    for (int c = d->nodes[node].first_child; c >= 0; c = d->nodes[c].next)
        if (!strcmp(node_name(d, c), name)) return c;
    return -1;
}

static int xml_count_children(const xml_doc *d, int node) {
    int n = 0;
    for (int c = d->nodes[node].first_child; c >= 0; c = d->nodes[c].next) n++;
    return n;
}

/* The numbers of a node's text, at most max of them; *n is how many were found. Returns 0
 * if the text holds something else. */
static int xml_numbers(const xml_doc *d, int node, double *values, int max, int *n) {
    const char *p = node_text(d, node);
    *n = 0;
    for (;;) {
        p = skip_space(p);
        if (!*p) return 1;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || *n == max) return 0;
        if (*end && !strchr(" \t\r\n", *end)) return 0;
        values[(*n)++] = v;
        p = end;
    }
}

/* ---- the cascade ---- */

typedef struct haar_feature {
    int n_rects;
    int x[HAAR_MAX_RECTS], y[HAAR_MAX_RECTS], w[HAAR_MAX_RECTS], h[HAAR_MAX_RECTS];
    float weight[HAAR_MAX_RECTS];
} haar_feature;

typedef struct haar_node {
    int left, right; /* > 0: a node of the same tree; <= 0: leaf -left of the tree */
    int feature;
    float threshold;
} haar_node;

typedef struct haar_tree {
    int first_node, first_leaf;
} haar_tree;

typedef struct haar_stage {
    int first_tree, n_trees;
    float threshold; /* the file's, less 1e-5 as OpenCV reads it */
} haar_stage;

struct haar_cascade {
    int win_w, win_h;
    int n_stages, n_trees, n_nodes, n_leaves, n_features;
    haar_stage *stages;
    haar_tree *trees;
    haar_node *nodes;
    float *leaves;
    haar_feature *features;
};

void haar_free(haar_cascade *c) {
    if (!c) return;
    free(c->stages), free(c->trees), free(c->nodes), free(c->leaves), free(c->features);
    free(c);
}

static fr_status read_int_child(const xml_doc *d, int node, const char *child, int lo, int hi,
                                int *out) {
    int c = xml_child(d, node, child), n;
    double v;
    if (c < 0) return fr_error(FR_E_MODEL, "%s: cascade has no <%s>", d->name, child);
    if (!xml_numbers(d, c, &v, 1, &n) || n != 1 || v != floor(v) || v < lo || v > hi)
        return fr_error(FR_E_MODEL, "%s: <%s> is not an integer in %d..%d", d->name, child, lo, hi);
    *out = (int)v;
    return FR_OK;
}

static int text_is(const xml_doc *d, int node, const char *word) {
    const char *t = node >= 0 ? skip_space(node_text(d, node)) : "";
    size_t len = strlen(word);
    return !strncmp(t, word, len) && *skip_space(t + len) == '\0';
}

#define HAAR_MAX_TREE_NODES 1024

/* Whether a number of the file is a finite float (the cascade is evaluated in float). */
static int fits_float(double v) { return fabs(v) <= FLT_MAX; }

/* Count the trees, nodes and leaves of every stage (pass 0), then store them (pass 1). */
static fr_status read_stages(const xml_doc *d, int stages_node, haar_cascade *c, int pass) {
    int stage = 0, tree = 0, node = 0, leaf = 0;
    double *values = malloc(sizeof(double) * (4 * HAAR_MAX_TREE_NODES + HAAR_MAX_TREE_NODES + 1));
    if (!values) return fr_error(FR_E_NOMEM, "%s: out of memory", d->name);
    double *leaf_values = values + 4 * HAAR_MAX_TREE_NODES;
    fr_status st = FR_OK;
    for (int s = d->nodes[stages_node].first_child; s >= 0 && st == FR_OK;
         s = d->nodes[s].next, stage++) {
        int thr_node = xml_child(d, s, "stageThreshold"), weak = xml_child(d, s, "weakClassifiers");
        double thr;
        int n;
        if (thr_node < 0 || weak < 0 || !xml_numbers(d, thr_node, &thr, 1, &n) || n != 1) {
            st = fr_error(FR_E_MODEL, "%s: stage %d lacks a numeric <stageThreshold> or "
                          "<weakClassifiers>", d->name, stage);
            break;
        }
        if (!fits_float(thr)) {
            st = fr_error(FR_E_MODEL, "%s: stage %d: threshold %g is out of range", d->name, stage,
                          thr);
            break;
        }
        if (pass == 1)
            c->stages[stage] = (haar_stage){tree, xml_count_children(d, weak), (float)thr - 1e-5f};
        int k = 0;
        for (int w = d->nodes[weak].first_child; w >= 0; w = d->nodes[w].next, tree++, k++) {
            int in = xml_child(d, w, "internalNodes"), lv = xml_child(d, w, "leafValues");
            int n_in, n_lv;
            if (in < 0 || lv < 0 || !xml_numbers(d, in, values, 4 * HAAR_MAX_TREE_NODES, &n_in) ||
                !xml_numbers(d, lv, leaf_values, HAAR_MAX_TREE_NODES + 1, &n_lv)) {
                st = fr_error(FR_E_MODEL, "%s: stage %d, weak classifier %d: missing, "
                              "non-numeric or oversized <internalNodes> or <leafValues>", d->name,
                              stage, k);
                break;
            }
            if (n_in == 0 || n_in % 4 != 0 || n_lv != n_in / 4 + 1) {
                st = fr_error(FR_E_MODEL, "%s: stage %d, weak classifier %d has %d node values "
                              "and %d leaves (expected 4 per node and one leaf more than nodes)",
                              d->name, stage, k, n_in, n_lv);
                break;
            }
            if (pass == 1) {
                c->trees[tree] = (haar_tree){node, leaf};
                for (int j = 0; j < n_in / 4; j++) {
                    const double *v = values + 4 * j;
                    if (v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[2] != floor(v[2]) ||
                        fabs(v[0]) > HAAR_MAX_TREE_NODES || fabs(v[1]) > HAAR_MAX_TREE_NODES ||
                        v[2] < 0 || v[2] > 1e9 || !fits_float(v[3])) {
                        st = fr_error(FR_E_MODEL, "%s: stage %d, weak classifier %d: node %d "
                                      "has non-integer or out-of-range indices or threshold",
                                      d->name, stage, k, j);
                        break;
                    }
                    c->nodes[node + j] = (haar_node){(int)v[0], (int)v[1], (int)v[2], (float)v[3]};
                }
                for (int j = 0; j < n_lv && st == FR_OK; j++) {
                    if (!fits_float(leaf_values[j]))
                        st = fr_error(FR_E_MODEL, "%s: stage %d, weak classifier %d: leaf value "
                                      "%g is out of range", d->name, stage, k, leaf_values[j]);
                    c->leaves[leaf + j] = (float)leaf_values[j];
                }
            }
            node += n_in / 4;
            leaf += n_lv;
            if (st != FR_OK) break;
        }
    }
    free(values);
    if (st == FR_OK && pass == 0)
        c->n_stages = stage, c->n_trees = tree, c->n_nodes = node, c->n_leaves = leaf;
    return st;
}

static fr_status read_features(const xml_doc *d, int features_node, haar_cascade *c) {
    int f = 0;
    for (int fn = d->nodes[features_node].first_child; fn >= 0; fn = d->nodes[fn].next, f++) {
        haar_feature *hf = &c->features[f];
        int tilted = xml_child(d, fn, "tilted"), rects = xml_child(d, fn, "rects");
        if (tilted >= 0 && !text_is(d, tilted, "0"))
            return fr_error(FR_E_UNSUPPORTED, "%s: feature %d is tilted; tilted Haar features "
                            "are not supported", d->name, f);
        if (rects < 0)
            return fr_error(FR_E_MODEL, "%s: feature %d has no <rects>", d->name, f);
        hf->n_rects = 0;
        for (int r = d->nodes[rects].first_child; r >= 0; r = d->nodes[r].next) {
            double v[5];
            int n;
            if (hf->n_rects == HAAR_MAX_RECTS)
                return fr_error(FR_E_MODEL, "%s: feature %d has more than %d rectangles", d->name,
                                f, HAAR_MAX_RECTS);
            if (!xml_numbers(d, r, v, 5, &n) || n != 5)
                return fr_error(FR_E_MODEL, "%s: feature %d: a rectangle is not 'x y w h weight'",
                                d->name, f);
            /* whole numbers inside the window, checked as doubles before any conversion */
            if (v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[2] != floor(v[2]) ||
                v[3] != floor(v[3]) || v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 ||
                v[0] + v[2] > c->win_w || v[1] + v[3] > c->win_h)
                return fr_error(FR_E_MODEL, "%s: feature %d: rectangle %g %g %g %g lies outside "
                                "the %dx%d window", d->name, f, v[0], v[1], v[2], v[3], c->win_w,
                                c->win_h);
            if (!fits_float(v[4]))
                return fr_error(FR_E_MODEL, "%s: feature %d: rectangle weight %g is out of range",
                                d->name, f, v[4]);
            int k = hf->n_rects++;
            hf->x[k] = (int)v[0], hf->y[k] = (int)v[1], hf->w[k] = (int)v[2], hf->h[k] = (int)v[3];
            hf->weight[k] = (float)v[4];
        }
        if (hf->n_rects < 2)
            return fr_error(FR_E_MODEL, "%s: feature %d has fewer than 2 rectangles", d->name, f);
    }
    return FR_OK;
}

/* Every node index must point forward within its tree, every leaf and feature exist. */
static fr_status check_trees(const char *name, const haar_cascade *c) {
    for (int t = 0; t < c->n_trees; t++) {
        int n_nodes = (t + 1 < c->n_trees ? c->trees[t + 1].first_node : c->n_nodes) - c->trees[t].first_node;
        int n_leaves = n_nodes + 1;
        for (int k = 0; k < n_nodes; k++) {
            const haar_node *nd = &c->nodes[c->trees[t].first_node + k];
            const int child[2] = {nd->left, nd->right};
            for (int i = 0; i < 2; i++)
                if ((child[i] > 0 && (child[i] <= k || child[i] >= n_nodes)) ||
                    (child[i] <= 0 && -child[i] >= n_leaves))
                    return fr_error(FR_E_MODEL, "%s: weak classifier %d: node %d refers to a "
                                    "missing node or leaf (%d)", name, t, k, child[i]);
            if (nd->feature < 0 || nd->feature >= c->n_features)
                return fr_error(FR_E_MODEL, "%s: weak classifier %d uses feature %d of %d", name,
                                t, nd->feature, c->n_features);
        }
    }
    return FR_OK;
}

static fr_status read_cascade(const xml_doc *d, haar_cascade *c) {
    int root = 0, cascade = d->nodes[root].first_child;
    if (cascade < 0 || xml_child(d, cascade, "stageType") < 0)
        return fr_error(FR_E_MODEL, "%s: not a cascade in OpenCV's XML format (no <stageType>; "
                        "the old opencv-haar-classifier layout is not supported)", d->name);
    if (!text_is(d, xml_child(d, cascade, "stageType"), "BOOST"))
        return fr_error(FR_E_UNSUPPORTED, "%s: <stageType> is not BOOST", d->name);
    if (!text_is(d, xml_child(d, cascade, "featureType"), "HAAR"))
        return fr_error(FR_E_UNSUPPORTED, "%s: <featureType> is not HAAR (LBP and HOG cascades "
                        "are not supported)", d->name);
    fr_status st = read_int_child(d, cascade, "width", 1, 1024, &c->win_w);
    if (st == FR_OK) st = read_int_child(d, cascade, "height", 1, 1024, &c->win_h);
    if (st != FR_OK) return st;
    if (c->win_w < 3 || c->win_h < 3)
        return fr_error(FR_E_MODEL, "%s: window %dx%d is too small", d->name, c->win_w, c->win_h);
    int stages = xml_child(d, cascade, "stages"), features = xml_child(d, cascade, "features");
    if (stages < 0 || features < 0)
        return fr_error(FR_E_MODEL, "%s: cascade lacks <stages> or <features>", d->name);
    if ((st = read_stages(d, stages, c, 0)) != FR_OK) return st;
    c->n_features = xml_count_children(d, features);
    if (c->n_stages == 0 || c->n_features == 0)
        return fr_error(FR_E_MODEL, "%s: cascade has no stages or no features", d->name);
    c->stages = calloc((size_t)c->n_stages, sizeof *c->stages);
    c->trees = calloc((size_t)c->n_trees + 1, sizeof *c->trees);
    c->nodes = calloc((size_t)c->n_nodes + 1, sizeof *c->nodes);
    c->leaves = calloc((size_t)c->n_leaves + 1, sizeof *c->leaves);
    c->features = calloc((size_t)c->n_features, sizeof *c->features);
    if (!c->stages || !c->trees || !c->nodes || !c->leaves || !c->features)
        return fr_error(FR_E_NOMEM, "%s: out of memory for the cascade", d->name);
    if ((st = read_stages(d, stages, c, 1)) != FR_OK) return st;
    if ((st = read_features(d, features, c)) != FR_OK) return st;
    return check_trees(d->name, c);
}

fr_status haar_parse(const char *xml, size_t size, const char *name, haar_cascade **out) {
    if (!xml || !name || !out) return fr_error(FR_E_ARG, "haar_parse: NULL argument");
    *out = NULL;
    xml_doc d = {.name = name};
    haar_cascade *c = calloc(1, sizeof *c);
    fr_status st = c ? xml_parse(&d, xml, size) : fr_error(FR_E_NOMEM, "%s: out of memory", name);
    if (st == FR_OK) st = read_cascade(&d, c);
    free(d.strings);
    free(d.nodes);
    if (st != FR_OK) {
        haar_free(c);
        return st;
    }
    *out = c;
    return FR_OK;
}

fr_status haar_load(const char *path, haar_cascade **out) {
    if (!path || !out) return fr_error(FR_E_ARG, "haar_load: NULL argument");
    const uint8_t *data;
    size_t size;
    fr_status st = fr_map_model_file(path, HAAR_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    st = haar_parse((const char *)data, size, path, out);
    fr_unmap_model_file(data, size);
    return st;
}

/* ---- detection ---- */

/* One scale of the pyramid: the resized image's integral images and the feature offsets. */
typedef struct scale_pass {
    const haar_cascade *c;
    float scale;
    int step;             /* window stride: 2 below scale 2, else 1 */
    int stride;           /* integral image row length: width + 1 */
    int cols, rows;       /* window positions evaluated per row, rows of positions */
    const uint32_t *sum, *sqsum;
    int (*offsets)[HAAR_MAX_RECTS][4]; /* per feature and rectangle: the 4 corners */
    int norm[4];          /* the normalisation rectangle's corners */
    uint8_t *hits;        /* rows x cols: 1 where the window passed every stage */
} scale_pass;

static void rect_corners(int x, int y, int w, int h, int stride, int out[4]) {
    out[0] = y * stride + x;
    out[1] = y * stride + x + w;
    out[2] = (y + h) * stride + x;
    out[3] = (y + h) * stride + x + w;
}

/* The sum under a rectangle of an integral image, wrapping in 32 bits as OpenCV's does. */
static inline uint32_t corner_sum(const uint32_t *p, const int o[4]) {
    return p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]];
}

/* 1: every stage passed; 0: rejected by the first stage; -1: rejected otherwise. */
static int eval_window(const scale_pass *s, size_t at) {
    const haar_cascade *c = s->c;
    const uint32_t *p = s->sum + at, *q = s->sqsum + at;
    int32_t valsum = (int32_t)corner_sum(p, s->norm);
    uint32_t valsqsum = corner_sum(q, s->norm);
    double area = (double)(c->win_w - 2) * (c->win_h - 2);
    double nf = area * valsqsum - (double)valsum * valsum;
    if (nf <= 0) return -1;
    float norm_factor = (float)(1.0 / sqrt(nf));
    if (!(area * norm_factor < 1e-1)) return -1; /* too flat a window */
    for (int st = 0; st < c->n_stages; st++) {
        const haar_stage *stage = &c->stages[st];
        double sum = 0;
        for (int t = stage->first_tree; t < stage->first_tree + stage->n_trees; t++) {
            const haar_node *nodes = c->nodes + c->trees[t].first_node;
            int idx = 0;
            do {
                const haar_node *nd = &nodes[idx];
                const haar_feature *f = &c->features[nd->feature];
                int (*o)[4] = s->offsets[nd->feature];
                float value = f->weight[0] * (float)(int32_t)corner_sum(p, o[0]) +
                              f->weight[1] * (float)(int32_t)corner_sum(p, o[1]);
                if (f->n_rects > 2 && f->weight[2] != 0.0f)
                    value += f->weight[2] * (float)(int32_t)corner_sum(p, o[2]);
                value *= norm_factor;
                idx = (double)value < (double)nd->threshold ? nd->left : nd->right;
            } while (idx > 0);
            sum += c->leaves[c->trees[t].first_leaf - idx];
        }
        if (sum < stage->threshold) return st == 0 ? 0 : -1;
    }
    return 1;
}

static void scan_row(void *ctx, int r) {
    const scale_pass *s = ctx;
    int y = r * s->step;
    uint8_t *hits = s->hits + (size_t)r * s->cols;
    memset(hits, 0, (size_t)s->cols);
    for (int col = 0; col < s->cols; col++) {
        int result = eval_window(s, (size_t)y * s->stride + (size_t)col * s->step);
        hits[col] = result > 0;
        if (result == 0) col++; /* OpenCV skips the next position after a first-stage reject */
    }
}

// gray is (h,w); sum and sqsum are (h+1,w+1), zero in the first row and column
static void integral_images(const uint8_t *gray, int w, int h, uint32_t *sum, uint32_t *sqsum) {
    size_t stride = (size_t)w + 1;
    memset(sum, 0, stride * sizeof *sum);
    memset(sqsum, 0, stride * sizeof *sqsum);
    for (int y = 0; y < h; y++) {
        uint32_t *s = sum + (y + 1) * stride, *q = sqsum + (y + 1) * stride;
        const uint32_t *s_up = s - stride, *q_up = q - stride;
        uint32_t row = 0, row_sq = 0;
        s[0] = q[0] = 0;
        for (int x = 0; x < w; x++) {
            uint32_t v = gray[(size_t)y * w + x];
            row += v;
            row_sq += v * v;
            s[x + 1] = s_up[x + 1] + row;
            q[x + 1] = q_up[x + 1] + row_sq;
        }
    }
}

typedef struct raw_list {
    haar_box *items;
    int n, cap;
} raw_list;

static int raw_push(raw_list *l, haar_box b) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        haar_box *grown = realloc(l->items, (size_t)cap * sizeof *grown);
        if (!grown) return 0;
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->n++] = b;
    return 1;
}

/* Run one scale and append its raw detections to out. */
static fr_status detect_scale(const haar_cascade *c, int threads, const uint8_t *gray, int w, int h,
                              float scale, raw_list *out) {
    int sw = (int)lrintf((float)w / scale), sh = (int)lrintf((float)h / scale);
    int cols_span = sw + 1 - c->win_w, rows_span = sh + 1 - c->win_h;
    if (sw <= 0 || sh <= 0 || cols_span <= 0 || rows_span <= 0) return FR_OK;
    scale_pass s = {.c = c, .scale = scale, .step = scale >= 2 ? 1 : 2, .stride = sw + 1};
    s.cols = (cols_span + s.step - 1) / s.step;
    s.rows = (rows_span + s.step - 1) / s.step;
    size_t n_int = (size_t)(sw + 1) * (size_t)(sh + 1);
    uint8_t *resized = malloc((size_t)sw * sh);
    uint32_t *sum = malloc(n_int * sizeof *sum), *sqsum = malloc(n_int * sizeof *sqsum);
    s.offsets = malloc((size_t)c->n_features * sizeof *s.offsets);
    s.hits = malloc((size_t)s.rows * s.cols);
    fr_status st = FR_OK;
    if (!resized || !sum || !sqsum || !s.offsets || !s.hits)
        st = fr_error(FR_E_NOMEM, "haar: out of memory for a %dx%d scale", sw, sh);
    if (st == FR_OK) st = image_resize_u8(gray, w, h, 1, resized, sw, sh);
    if (st == FR_OK) {
        integral_images(resized, sw, sh, sum, sqsum);
        s.sum = sum, s.sqsum = sqsum;
        for (int f = 0; f < c->n_features; f++) {
            const haar_feature *hf = &c->features[f];
            for (int k = 0; k < HAAR_MAX_RECTS; k++)
                if (k < hf->n_rects) rect_corners(hf->x[k], hf->y[k], hf->w[k], hf->h[k], s.stride, s.offsets[f][k]);
                else memset(s.offsets[f][k], 0, sizeof s.offsets[f][k]);
        }
        rect_corners(1, 1, c->win_w - 2, c->win_h - 2, s.stride, s.norm);
        nn_parallel_for(threads, s.rows, scan_row, &s);
        int win_w = (int)lrintf((float)c->win_w * scale), win_h = (int)lrintf((float)c->win_h * scale);
        for (int r = 0; r < s.rows && st == FR_OK; r++)
            for (int col = 0; col < s.cols && st == FR_OK; col++)
                if (s.hits[(size_t)r * s.cols + col]) {
                    haar_box b = {(int)lrintf((float)(col * s.step) * scale),
                                  (int)lrintf((float)(r * s.step) * scale), win_w, win_h, 1};
                    if (!raw_push(out, b)) st = fr_error(FR_E_NOMEM, "haar: out of memory");
                }
    }
    free(resized), free(sum), free(sqsum), free(s.offsets), free(s.hits);
    return st;
}

/* OpenCV's SimilarRects with eps. */
static int similar(const haar_box *a, const haar_box *b, double eps) {
    double delta = eps * (FR_MIN(a->w, b->w) + FR_MIN(a->h, b->h)) * 0.5;
    return abs(a->x - b->x) <= delta && abs(a->y - b->y) <= delta &&
           abs(a->x + a->w - b->x - b->w) <= delta && abs(a->y + a->h - b->y - b->h) <= delta;
}

static int find_root(int *parent, int i) {
    while (parent[i] >= 0) i = parent[i];
    return i;
}

/* groupRectangles(rects, threshold, eps): clusters of similar boxes (transitively), numbered
 * in the order of their first member, averaged; those with more than `threshold` members
 * are kept unless inside a box of a cluster that is bigger (more than max(3, n) members). */
static fr_status group_boxes(const raw_list *raw, int threshold, double eps, haar_box **out,
                             int *n_out) {
    int n = raw->n;
    int *parent = malloc(sizeof(int) * (size_t)n), *label = malloc(sizeof(int) * (size_t)n);
    haar_box *groups = calloc((size_t)n, sizeof *groups), *kept = NULL;
    int n_groups = 0, n_kept = 0;
    fr_status st = parent && label && groups ? FR_OK : fr_error(FR_E_NOMEM, "haar: out of memory");
    if (st == FR_OK) {
        for (int i = 0; i < n; i++) parent[i] = -1;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (similar(&raw->items[i], &raw->items[j], eps)) {
                    int a = find_root(parent, i), b = find_root(parent, j);
                    if (a != b) parent[FR_MAX(a, b)] = FR_MIN(a, b);
                }
        for (int i = 0; i < n; i++) label[i] = -1;
        for (int i = 0; i < n; i++) {
            int root = find_root(parent, i);
            if (label[root] < 0) label[root] = n_groups++;
            haar_box *g = &groups[label[root]];
            g->x += raw->items[i].x, g->y += raw->items[i].y;
            g->w += raw->items[i].w, g->h += raw->items[i].h;
            g->neighbors++;
        }
        for (int i = 0; i < n_groups; i++) {
            haar_box *g = &groups[i];
            float inv = 1.0f / (float)g->neighbors;
            g->x = (int)lrintf((float)g->x * inv), g->y = (int)lrintf((float)g->y * inv);
            g->w = (int)lrintf((float)g->w * inv), g->h = (int)lrintf((float)g->h * inv);
        }
        kept = malloc(sizeof *kept * (size_t)(n_groups ? n_groups : 1));
        if (!kept) st = fr_error(FR_E_NOMEM, "haar: out of memory");
    }
    for (int i = 0; i < n_groups && st == FR_OK; i++) {
        const haar_box *r1 = &groups[i];
        int n1 = r1->neighbors, inside = 0;
        if (n1 <= threshold) continue;
        for (int j = 0; j < n_groups && !inside; j++) {
            const haar_box *r2 = &groups[j];
            int n2 = r2->neighbors;
            if (j == i || n2 <= threshold) continue;
            int dx = (int)lrint(r2->w * eps), dy = (int)lrint(r2->h * eps);
            inside = r1->x >= r2->x - dx && r1->y >= r2->y - dy &&
                     r1->x + r1->w <= r2->x + r2->w + dx && r1->y + r1->h <= r2->y + r2->h + dy &&
                     (n2 > FR_MAX(3, n1) || n1 < 3);
        }
        if (!inside) kept[n_kept++] = *r1;
    }
    free(parent), free(label), free(groups);
    if (st != FR_OK || n_kept == 0) {
        free(kept);
        kept = NULL;
        n_kept = 0;
    }
    *out = kept;
    *n_out = n_kept;
    return st;
}

fr_status haar_detect_gray(const haar_cascade *c, int threads, const uint8_t *gray, int w, int h,
                           const haar_options *opt, haar_box **boxes, int *n_boxes) {
    if (!boxes || !n_boxes) return fr_error(FR_E_ARG, "haar_detect_gray: NULL argument");
    *boxes = NULL;
    *n_boxes = 0;
    if (!c || !gray || !opt || w <= 0 || h <= 0)
        return fr_error(FR_E_ARG, "haar_detect_gray: invalid argument");
    if (!(opt->scale_factor > 1.0) || !isfinite(opt->scale_factor))
        return fr_error(FR_E_ARG, "haar: scale factor %g is not above 1", opt->scale_factor);
    int max_w = opt->max_size > 0 ? opt->max_size : w, max_h = opt->max_size > 0 ? opt->max_size : h;
    raw_list raw = {0};
    fr_status st = FR_OK;
    int n_scales = 0;
    for (double factor = 1;; factor *= opt->scale_factor) {
        int win_w = (int)lrint(c->win_w * factor), win_h = (int)lrint(c->win_h * factor);
        if (win_w > max_w || win_h > max_h || win_w > w || win_h > h) break;
        if (win_w < opt->min_size || win_h < opt->min_size) continue;
        if (++n_scales > HAAR_MAX_SCALES) {
            st = fr_error(FR_E_ARG, "haar: scale factor %g gives over %d scales", opt->scale_factor,
                          HAAR_MAX_SCALES);
            break;
        }
        st = detect_scale(c, threads, gray, w, h, (float)factor, &raw);
        if (st != FR_OK) break;
    }
    if (st == FR_OK && raw.n > 0) {
        if (opt->min_neighbors <= 0) {
            *boxes = raw.items;
            *n_boxes = raw.n;
            return FR_OK;
        }
        st = group_boxes(&raw, opt->min_neighbors, 0.2, boxes, n_boxes);
    }
    free(raw.items);
    return st;
}

fr_status haar_detect(const haar_cascade *c, int threads, const fr_image *img,
                      const haar_options *opt, haar_box **boxes, int *n_boxes) {
    if (!boxes || !n_boxes) return fr_error(FR_E_ARG, "haar_detect: NULL argument");
    *boxes = NULL;
    *n_boxes = 0;
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return fr_error(FR_E_ARG, "haar_detect: empty image");
    size_t n = (size_t)img->width * img->height;
    uint8_t *gray = malloc(n);
    if (!gray) return fr_error(FR_E_NOMEM, "haar: out of memory for a grey image");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->rgb + 3 * i;
        gray[i] = (uint8_t)((p[0] * 9798 + p[1] * 19235 + p[2] * 3735 + (1 << 14)) >> 15);
    }
    fr_status st = haar_detect_gray(c, threads, gray, img->width, img->height, opt, boxes, n_boxes);
    free(gray);
    return st;
}
