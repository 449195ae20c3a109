/* json.c: a strict RFC 8259 reader building a tree of json_value.
 *
 * Choices the RFC leaves open:
 *   - duplicate keys are kept; json_get returns the last one (as JavaScript's JSON.parse does);
 *   - a leading UTF-8 byte order mark is skipped;
 *   - "\u0000" is refused, since strings are handed out NUL-terminated and would be cut short;
 *   - numbers that overflow a double are refused; ones that underflow become 0 or subnormal;
 *   - text must be valid UTF-8 (no overlong forms, no surrogates), and so must \u escapes
 *     (a high surrogate must be followed by a low one).
 * Nesting is limited to JSON_MAX_DEPTH arrays/objects, so the recursion stays bounded. */
#include "common/json.h"

#include "common/common.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256
#define JSON_MAX_FILE_BYTES ((size_t)64 << 20)

struct json_value {
    json_type type;
    int boolean;
    double number;
    char *string;      /* JSON_STRING: NUL-terminated UTF-8 */
    size_t count;      /* JSON_ARRAY / JSON_OBJECT: number of elements or members */
    json_value *items; /* the elements, or the members' values */
    char **keys;       /* JSON_OBJECT: the members' keys, parallel to items */
};

typedef struct parser {
    const char *text;
    size_t len, pos;
    const char *name;
} parser;

static fr_status parse_error(const parser *p, size_t offset, const char *what) {
    return fr_error(FR_E_FORMAT, "%s: offset %zu: %s", p->name, offset, what);
}

static fr_status out_of_memory(const parser *p) {
    return fr_error(FR_E_NOMEM, "%s: offset %zu: out of memory", p->name, p->pos);
}

static void skip_whitespace(parser *p) {
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* Releases what v owns (not v itself, which lives in its parent's items array). */
static void free_contents(json_value *v) {
    if (v->type == JSON_STRING) free(v->string);
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->count; i++) {
            free_contents(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
}

/* ---- strings ---- */

typedef struct byte_buffer {
    char *data;
    size_t len, cap;
} byte_buffer;

static int buffer_reserve(byte_buffer *b, size_t extra) {
    if (b->cap - b->len >= extra) return 1;
    size_t cap = b->cap ? b->cap : 32;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) return 0;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) return 0;
    b->data = data;
    b->cap = cap;
    return 1;
}

static void append_utf8(byte_buffer *b, unsigned long cp) {
    /* room was reserved by the caller */
    if (cp < 0x80) {
        b->data[b->len++] = (char)cp;
    } else if (cp < 0x800) {
        b->data[b->len++] = (char)(0xC0 | (cp >> 6));
        b->data[b->len++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        b->data[b->len++] = (char)(0xE0 | (cp >> 12));
        b->data[b->len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b->data[b->len++] = (char)(0x80 | (cp & 0x3F));
    } else {
        b->data[b->len++] = (char)(0xF0 | (cp >> 18));
        b->data[b->len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b->data[b->len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b->data[b->len++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* The value of the 4 hex digits at text[at], or -1 if they are not 4 hex digits. */
static long read_hex4(const parser *p, size_t at) {
    if (p->len - at < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->text[at + (size_t)i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), or 0 if invalid. */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    size_t n;
    unsigned long cp, min;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Parses the string whose opening quote is at p->pos into a new NUL-terminated buffer. */
static fr_status parse_string(parser *p, char **out) {
    size_t start = p->pos++;
    byte_buffer b = {0};
    for (;;) {
        /* copy the run of plain characters up to the next quote, backslash or control char */
        size_t run = p->pos;
        while (p->pos < p->len) {
            unsigned char c = (unsigned char)p->text[p->pos];
            if (c == '"' || c == '\\' || c < 0x20) break;
            if (c < 0x80) {
                p->pos++;
                continue;
            }
            size_t n =
                utf8_sequence_length((const unsigned char *)p->text + p->pos, p->len - p->pos);
            if (!n) {
                free(b.data);
                return parse_error(p, p->pos, "invalid UTF-8 in string");
            }
            p->pos += n;
        }
        if (!buffer_reserve(&b, p->pos - run + 5)) {
            free(b.data);
            return out_of_memory(p);
        }
        memcpy(b.data + b.len, p->text + run, p->pos - run);
        b.len += p->pos - run;
        if (p->pos >= p->len) {
            free(b.data);
            return parse_error(p, start, "unterminated string");
        }
        char c = p->text[p->pos];
        if (c == '"') {
            p->pos++;
            b.data[b.len] = '\0';
            *out = b.data;
            return FR_OK;
        }
        if (c != '\\') {
            free(b.data);
            return parse_error(p, p->pos, "control character in string (must be escaped)");
        }
        size_t escape = p->pos;
        if (p->pos + 1 >= p->len) {
            free(b.data);
            return parse_error(p, start, "unterminated string");
        }
        char e = p->text[p->pos + 1];
        p->pos += 2;
        static const char escaped[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
        const char *simple = e != '\0' ? strchr(escaped, e) : NULL;
        if (simple) {
            b.data[b.len++] = decoded[simple - escaped];
            continue;
        }
        if (e != 'u') {
            free(b.data);
            return parse_error(p, escape, "invalid escape in string");
        }
        long cp = read_hex4(p, p->pos);
        if (cp < 0) {
            free(b.data);
            return parse_error(p, escape, "\\u must be followed by 4 hex digits");
        }
        p->pos += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long low = p->len - p->pos >= 2 && p->text[p->pos] == '\\' && p->text[p->pos + 1] == 'u'
                           ? read_hex4(p, p->pos + 2)
                           : -1;
            if (low < 0xDC00 || low > 0xDFFF) {
                free(b.data);
                return parse_error(p, escape, "high surrogate not followed by a low surrogate");
            }
            p->pos += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(b.data);
            return parse_error(p, escape, "lone low surrogate");
        } else if (cp == 0) {
            free(b.data);
            return parse_error(p, escape, "\\u0000 is not supported in strings");
        }
        append_utf8(&b, (unsigned long)cp);
    }
}

/* ---- numbers ---- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static fr_status parse_number(parser *p, double *out) {
    size_t start = p->pos;
    const char *t = p->text;
    size_t i = p->pos;
    if (i < p->len && t[i] == '-') i++;
    if (i >= p->len || !is_digit(t[i])) return parse_error(p, start, "invalid number");
    if (t[i] == '0') {
        i++;
        if (i < p->len && is_digit(t[i])) return parse_error(p, start, "leading zero in number");
    } else {
        while (i < p->len && is_digit(t[i])) i++;
    }
    if (i < p->len && t[i] == '.') {
        i++;
        if (i >= p->len || !is_digit(t[i])) return parse_error(p, i, "digit expected after '.'");
        while (i < p->len && is_digit(t[i])) i++;
    }
    if (i < p->len && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < p->len && (t[i] == '+' || t[i] == '-')) i++;
        if (i >= p->len || !is_digit(t[i])) return parse_error(p, i, "digit expected in exponent");
        while (i < p->len && is_digit(t[i])) i++;
    }
    /* strtod needs a NUL-terminated copy: the text is not terminated in general */
    size_t n = i - start;
    char small[64];
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) return out_of_memory(p);
    memcpy(copy, t + start, n);
    copy[n] = '\0';
    errno = 0;
    double v = strtod(copy, NULL);
    int range_error = errno == ERANGE && isinf(v);
    if (copy != small) free(copy);
    if (range_error) return parse_error(p, start, "number out of range");
    p->pos = i;
    *out = v;
    return FR_OK;
}

/* ---- values ---- */

static fr_status parse_value(parser *p, json_value *v, int depth);

static int grow_items(json_value *v, size_t *cap, int with_keys) {
    if (v->count < *cap) return 1;
    size_t n = *cap ? *cap * 2 : 4;
    size_t bytes;
    if (!fr_mul_size(n, sizeof(json_value), &bytes)) return 0;
    json_value *items = realloc(v->items, bytes);
    if (!items) return 0;
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, n * sizeof(char *));
        if (!keys) return 0;
        v->keys = keys;
    }
    *cap = n;
    return 1;
}

static int match_literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) return 0;
    p->pos += n;
    return 1;
}

/* Parses an array or object (the opening bracket is at p->pos). On error, v holds what was
 * parsed so far, for the caller to free. */
static fr_status parse_container(parser *p, json_value *v, int depth) {
    int is_object = p->text[p->pos] == '{';
    char close = is_object ? '}' : ']';
    v->type = is_object ? JSON_OBJECT : JSON_ARRAY;
    if (depth >= JSON_MAX_DEPTH)
        return fr_error(FR_E_LIMIT, "%s: offset %zu: nesting deeper than %d levels", p->name,
                        p->pos, JSON_MAX_DEPTH);
    p->pos++;
    skip_whitespace(p);
    if (p->pos < p->len && p->text[p->pos] == close) {
        p->pos++;
        return FR_OK;
    }
    size_t cap = 0;
    for (;;) {
        if (!grow_items(v, &cap, is_object)) return out_of_memory(p);
        json_value *item = &v->items[v->count];
        memset(item, 0, sizeof *item);
        if (is_object) {
            skip_whitespace(p);
            if (p->pos >= p->len || p->text[p->pos] != '"')
                return parse_error(p, p->pos, "expected a string key");
            char *key;
            fr_status st = parse_string(p, &key);
            if (st != FR_OK) return st;
            v->keys[v->count] = key;
            skip_whitespace(p);
            if (p->pos >= p->len || p->text[p->pos] != ':') {
                v->count++; /* so that the key is freed */
                return parse_error(p, p->pos, "expected ':'");
            }
            p->pos++;
        }
        fr_status st = parse_value(p, item, depth + 1);
        v->count++;
        if (st != FR_OK) return st;
        skip_whitespace(p);
        if (p->pos >= p->len)
            return parse_error(p, p->pos, is_object ? "unterminated object" : "unterminated array");
        char c = p->text[p->pos];
        if (c == close) {
            p->pos++;
            return FR_OK;
        }
        if (c != ',')
            return parse_error(p, p->pos,
                               is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        p->pos++;
    }
}

static fr_status parse_value(parser *p, json_value *v, int depth) {
    skip_whitespace(p);
    if (p->pos >= p->len) return parse_error(p, p->pos, "unexpected end of data, expected a value");
    char c = p->text[p->pos];
    switch (c) {
    case '{':
    case '[': return parse_container(p, v, depth);
    case '"': {
        fr_status st = parse_string(p, &v->string);
        if (st == FR_OK) v->type = JSON_STRING;
        return st;
    }
    case 't':
    case 'f':
    case 'n':
        if (match_literal(p, "true"))
            v->type = JSON_BOOL, v->boolean = 1;
        else if (match_literal(p, "false"))
            v->type = JSON_BOOL, v->boolean = 0;
        else if (match_literal(p, "null"))
            v->type = JSON_NULL;
        else
            return parse_error(p, p->pos, "invalid literal");
        return FR_OK;
    default:
        if (c == '-' || is_digit(c)) {
            v->type = JSON_NUMBER;
            return parse_number(p, &v->number);
        }
        return parse_error(p, p->pos, "unexpected character, expected a value");
    }
}

fr_status json_parse(const char *text, size_t len, const char *name, json_value **out) {
    *out = NULL;
    if (!text && len) return fr_error(FR_E_ARG, "%s: no text to parse", name ? name : "json");
    parser p = {text, len, 0, name ? name : "json"};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    json_value *root = calloc(1, sizeof *root);
    if (!root) return out_of_memory(&p);
    /* strtod follows LC_NUMERIC; use the "C" locale in this thread while parsing so that the
     * decimal point is always '.', whatever locale the application set. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0) {
        free(root);
        return out_of_memory(&p);
    }
    locale_t previous = uselocale(c_locale);
    fr_status st = parse_value(&p, root, 0);
    uselocale(previous);
    freelocale(c_locale);
    if (st == FR_OK) {
        skip_whitespace(&p);
        if (p.pos != p.len) st = parse_error(&p, p.pos, "unexpected data after the JSON value");
    }
    if (st != FR_OK) {
        json_free(root);
        return st;
    }
    *out = root;
    return FR_OK;
}

fr_status json_parse_file(const char *path, json_value **out) {
    *out = NULL;
    uint8_t *data;
    size_t size;
    fr_status st = fr_read_file(path, JSON_MAX_FILE_BYTES, &data, &size);
    if (st != FR_OK) return st;
    st = json_parse((const char *)data, size, path, out);
    free(data);
    return st;
}

void json_free(json_value *v) {
    if (!v) return;
    free_contents(v);
    free(v);
}

json_type json_kind(const json_value *v) { return v ? v->type : JSON_NULL; }

const json_value *json_get(const json_value *v, const char *key) {
    if (!v || v->type != JSON_OBJECT || !key) return NULL;
    for (size_t i = v->count; i-- > 0;)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}

size_t json_len(const json_value *v) {
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->count : 0;
}

const json_value *json_at(const json_value *v, size_t i) {
    return i < json_len(v) ? &v->items[i] : NULL;
}

const char *json_key_at(const json_value *v, size_t i) {
    return v && v->type == JSON_OBJECT && i < v->count ? v->keys[i] : NULL;
}

double json_number(const json_value *v) { return v && v->type == JSON_NUMBER ? v->number : 0; }

int json_bool(const json_value *v) { return v && v->type == JSON_BOOL ? v->boolean : 0; }

const char *json_string(const json_value *v) {
    return v && v->type == JSON_STRING ? v->string : NULL;
}
