/* test_json.c: the strict JSON reader: valid documents, escapes, limits and refusals. */
#include "common/common.h"
#include "common/json.h"
#include "test.h"

#include <locale.h>
#include <time.h>

static fr_status parse(const char *text, json_value **out) {
    return json_parse(text, strlen(text), "doc.json", out);
}

/* Checks that `text` is refused with `status` and a message naming doc.json and `what`. */
static int refused(const char *text, fr_status status, const char *what) {
    json_value *v = NULL;
    fr_status st = parse(text, &v);
    if (st == FR_OK) json_free(v);
    if (st != status || v != NULL || !strstr(fr_last_error(), "doc.json: offset ") ||
        !strstr(fr_last_error(), what)) {
        fprintf(stderr, "  input %.60s: status %d, message \"%s\" (wanted %d, \"%s\")\n", text,
                (int)st, fr_last_error(), (int)status, what);
        return 0;
    }
    return 1;
}

TEST(test_scalars_and_containers) {
    json_value *v;
    CHECK_OK(parse(" {\"a\": [1, -2.5e3, 0.125, true, false, null], \"b\": {}, \"c\": [],"
                   " \"d\": \"text\", \"e\": {\"f\": -0}}\r\n\t",
                   &v));
    CHECK(json_kind(v) == JSON_OBJECT);
    CHECK(json_len(v) == 5);
    CHECK(strcmp(json_key_at(v, 0), "a") == 0 && strcmp(json_key_at(v, 4), "e") == 0);
    CHECK(json_key_at(v, 5) == NULL);
    const json_value *a = json_get(v, "a");
    CHECK(json_kind(a) == JSON_ARRAY && json_len(a) == 6);
    CHECK(json_number(json_at(a, 0)) == 1.0);
    CHECK(json_number(json_at(a, 1)) == -2500.0);
    CHECK(json_number(json_at(a, 2)) == 0.125);
    CHECK(json_kind(json_at(a, 3)) == JSON_BOOL && json_bool(json_at(a, 3)) == 1);
    CHECK(json_kind(json_at(a, 4)) == JSON_BOOL && json_bool(json_at(a, 4)) == 0);
    CHECK(json_kind(json_at(a, 5)) == JSON_NULL);
    CHECK(json_at(a, 6) == NULL);
    CHECK(json_kind(json_get(v, "b")) == JSON_OBJECT && json_len(json_get(v, "b")) == 0);
    CHECK(json_kind(json_get(v, "c")) == JSON_ARRAY && json_len(json_get(v, "c")) == 0);
    CHECK(strcmp(json_string(json_get(v, "d")), "text") == 0);
    CHECK(json_at(v, 3) == json_get(v, "d"));
    const json_value *zero = json_get(json_get(v, "e"), "f");
    CHECK(json_number(zero) == 0.0 && signbit(json_number(zero)));
    /* accessors on the wrong kind or NULL give neutral values */
    CHECK(json_get(v, "missing") == NULL);
    CHECK(json_get(a, "a") == NULL && json_len(json_get(v, "d")) == 0);
    CHECK(json_number(json_get(v, "d")) == 0 && json_string(json_at(a, 0)) == NULL);
    CHECK(json_bool(NULL) == 0 && json_kind(NULL) == JSON_NULL && json_at(NULL, 0) == NULL);
    json_free(v);

    CHECK_OK(parse("\"only a string\"", &v));
    CHECK(strcmp(json_string(v), "only a string") == 0);
    json_free(v);
    CHECK_OK(parse("\xEF\xBB\xBF 42", &v)); /* a byte order mark is skipped */
    CHECK(json_number(v) == 42.0);
    json_free(v);
    json_free(NULL);
}

TEST(test_numbers) {
    const char *texts[] = {"0",
                           "-0.0",
                           "1e3",
                           "1E+3",
                           "12.5e-1",
                           "123456789012345678901234567890",
                           "2.2250738585072014e-308",
                           "1e-400",
                           "0.1",
                           "-9007199254740993"};
    const double values[] = {0,
                             -0.0,
                             1000,
                             1000,
                             1.25,
                             1.2345678901234568e29,
                             2.2250738585072014e-308,
                             0,
                             0.1,
                             -9007199254740992.0};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_value *v;
        CHECK_OK(parse(texts[i], &v));
        int same = json_kind(v) == JSON_NUMBER && json_number(v) == values[i];
        json_free(v);
        if (!same) fprintf(stderr, "  number %s\n", texts[i]);
        CHECK(same);
    }
    /* a long number (past any small buffer) */
    char longnum[300] = "0.";
    memset(longnum + 2, '5', 290);
    longnum[292] = '\0';
    json_value *v;
    CHECK_OK(parse(longnum, &v));
    CHECK_NEAR(json_number(v), 0.5555555555555556, 1e-15);
    json_free(v);
}

TEST(test_numbers_ignore_locale) {
    /* a locale with a decimal comma must not change how "0.5" is read */
    const char *names[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.utf8", "fr_FR.utf8"};
    const char *set = NULL;
    for (size_t i = 0; i < 4 && !set; i++) set = setlocale(LC_NUMERIC, names[i]);
    json_value *v;
    fr_status st = parse("[0.5, 1.25e1]", &v);
    setlocale(LC_NUMERIC, "C");
    CHECK_OK(st);
    CHECK(json_number(json_at(v, 0)) == 0.5 && json_number(json_at(v, 1)) == 12.5);
    json_free(v);
    if (!set) SKIP("no locale with a decimal comma installed; checked under the C locale only");
}

TEST(test_escapes) {
    json_value *v;
    CHECK_OK(parse("[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\", \"\\u0041\\u00e9\\u20AC\","
                   " \"\\ud83d\\ude00\", \"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\", \"\"]",
                   &v));
    CHECK(strcmp(json_string(json_at(v, 0)), "\" \\ / \b \f \n \r \t") == 0);
    CHECK(strcmp(json_string(json_at(v, 1)), "A\xC3\xA9\xE2\x82\xAC") == 0);
    CHECK(strcmp(json_string(json_at(v, 2)), "\xF0\x9F\x98\x80") == 0);
    CHECK(strcmp(json_string(json_at(v, 3)), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == 0);
    CHECK(strcmp(json_string(json_at(v, 4)), "") == 0);
    json_free(v);
    /* escapes in keys too */
    CHECK_OK(parse("{\"k\\u0065y\\n\": 1}", &v));
    CHECK(json_number(json_get(v, "key\n")) == 1);
    json_free(v);
}

TEST(test_duplicate_keys_last_wins) {
    json_value *v;
    CHECK_OK(parse("{\"x\": 1, \"y\": 2, \"x\": 3}", &v));
    CHECK(json_len(v) == 3);
    CHECK(json_number(json_get(v, "x")) == 3);
    CHECK(json_number(json_at(v, 0)) == 1);
    json_free(v);
}

TEST(test_refusals) {
    CHECK(refused("", FR_E_FORMAT, "offset 0: unexpected end of data"));
    CHECK(refused("   ", FR_E_FORMAT, "offset 3: unexpected end of data"));
    CHECK(refused("{\"a\" 1}", FR_E_FORMAT, "offset 5: expected ':'"));
    CHECK(refused("{\"a\": 1,}", FR_E_FORMAT, "offset 8: expected a string key"));
    CHECK(refused("{a: 1}", FR_E_FORMAT, "offset 1: expected a string key"));
    CHECK(refused("[1, 2,]", FR_E_FORMAT, "offset 6: unexpected character"));
    CHECK(refused("[1 2]", FR_E_FORMAT, "offset 3: expected ',' or ']'"));
    CHECK(refused("{\"a\": 1 \"b\": 2}", FR_E_FORMAT, "offset 8: expected ',' or '}'"));
    CHECK(refused("[1, 2", FR_E_FORMAT, "unterminated array"));
    CHECK(refused("{\"a\": [1, {\"b\": 2", FR_E_FORMAT, "unterminated object"));
    CHECK(refused("{\"a\": \"text", FR_E_FORMAT, "offset 6: unterminated string"));
    CHECK(refused("\"ab\\", FR_E_FORMAT, "unterminated string"));
    CHECK(refused("[1] [2]", FR_E_FORMAT, "offset 4: unexpected data after the JSON value"));
    CHECK(refused("{} x", FR_E_FORMAT, "offset 3: unexpected data"));
    CHECK(refused("nul", FR_E_FORMAT, "invalid literal"));
    CHECK(refused("[True]", FR_E_FORMAT, "offset 1: unexpected character"));
    CHECK(refused("[truex]", FR_E_FORMAT, "expected ',' or ']'"));
    CHECK(refused("'single'", FR_E_FORMAT, "unexpected character"));
    CHECK(refused("[NaN]", FR_E_FORMAT, "unexpected character"));
    CHECK(refused("[Infinity]", FR_E_FORMAT, "unexpected character"));
    /* numbers */
    CHECK(refused("01", FR_E_FORMAT, "offset 0: leading zero"));
    CHECK(refused("-", FR_E_FORMAT, "invalid number"));
    CHECK(refused("+1", FR_E_FORMAT, "unexpected character"));
    CHECK(refused(".5", FR_E_FORMAT, "unexpected character"));
    CHECK(refused("1.", FR_E_FORMAT, "offset 2: digit expected after '.'"));
    CHECK(refused("1.e5", FR_E_FORMAT, "digit expected after '.'"));
    CHECK(refused("1e", FR_E_FORMAT, "digit expected in exponent"));
    CHECK(refused("1e+", FR_E_FORMAT, "digit expected in exponent"));
    CHECK(refused("0x10", FR_E_FORMAT, "unexpected data after"));
    CHECK(refused("1e400", FR_E_FORMAT, "number out of range"));
    CHECK(refused("-1e400", FR_E_FORMAT, "number out of range"));
    /* strings */
    CHECK(refused("\"a\\x\"", FR_E_FORMAT, "offset 2: invalid escape"));
    CHECK(refused("\"\\u12G4\"", FR_E_FORMAT, "4 hex digits"));
    CHECK(refused("\"\\u12\"", FR_E_FORMAT, "4 hex digits"));
    CHECK(refused("\"\\ud83d\"", FR_E_FORMAT, "high surrogate not followed by a low surrogate"));
    CHECK(refused("\"\\ud83d\\u0041\"", FR_E_FORMAT, "high surrogate not followed"));
    CHECK(refused("\"\\ude00\"", FR_E_FORMAT, "lone low surrogate"));
    CHECK(refused("\"\\u0000\"", FR_E_FORMAT, "\\u0000 is not supported"));
    CHECK(refused("\"tab\there\"", FR_E_FORMAT, "offset 4: control character"));
    CHECK(refused("\"line\nbreak\"", FR_E_FORMAT, "control character"));
    CHECK(refused("\"\xC3\"", FR_E_FORMAT, "offset 1: invalid UTF-8"));
    CHECK(refused("\"\xC0\xAF\"", FR_E_FORMAT, "invalid UTF-8"));         /* overlong '/' */
    CHECK(refused("\"\xED\xA0\x80\"", FR_E_FORMAT, "invalid UTF-8"));     /* encoded surrogate */
    CHECK(refused("\"\xF4\x90\x80\x80\"", FR_E_FORMAT, "invalid UTF-8")); /* above U+10FFFF */
    CHECK(refused("\"\xFF\"", FR_E_FORMAT, "invalid UTF-8"));
    /* a NUL byte inside the text is garbage, not an end */
    json_value *v = NULL;
    CHECK(json_parse("[1]\0", 4, "doc.json", &v) == FR_E_FORMAT && v == NULL);
    CHECK(strstr(fr_last_error(), "doc.json: offset 3: unexpected data"));
}

TEST(test_depth_limit) {
    enum { DEEP = 300 };
    char text[2 * DEEP + 1];
    json_value *v;
    /* 256 levels are accepted */
    memset(text, '[', 256);
    memset(text + 256, ']', 256);
    CHECK_OK(json_parse(text, 512, "doc.json", &v));
    const json_value *inner = v;
    for (int i = 0; i < 255; i++) inner = json_at(inner, 0);
    CHECK(json_kind(inner) == JSON_ARRAY && json_len(inner) == 0);
    json_free(v);
    /* 300 are refused, also for objects and when unbalanced */
    memset(text, '[', DEEP);
    memset(text + DEEP, ']', DEEP);
    CHECK(json_parse(text, 2 * DEEP, "doc.json", &v) == FR_E_LIMIT && v == NULL);
    CHECK(strstr(fr_last_error(), "doc.json: offset 256: nesting deeper than 256 levels"));
    char *objects = malloc(6 * 100000 + 1);
    CHECK(objects);
    for (int i = 0; i < 100000; i++) memcpy(objects + 6 * i, "{\"a\":[", 6);
    fr_status st = json_parse(objects, 6 * 100000, "doc.json", &v);
    free(objects);
    CHECK(st == FR_E_LIMIT && v == NULL);
}

TEST(test_big_array_is_fast) {
    /* one million numbers (about 9 MB) must parse in linear time */
    enum { N = 1000000 };
    size_t cap = (size_t)N * 12 + 2, len = 0;
    char *text = malloc(cap);
    CHECK(text);
    text[len++] = '[';
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s%d.5", i ? "," : "", i - N / 2);
    text[len++] = ']';
    clock_t t0 = clock();
    json_value *v;
    fr_status st = json_parse(text, len, "big.json", &v);
    double seconds = (double)(clock() - t0) / CLOCKS_PER_SEC;
    free(text);
    CHECK_OK(st);
    printf("  parsed %zu bytes, %d numbers in %.3f s\n", len, N, seconds);
    int values_ok = json_len(v) == N && json_number(json_at(v, 0)) == -500000.5 &&
                    json_number(json_at(v, N - 1)) == 499999.5;
    json_free(v);
    CHECK(values_ok);
    CHECK(seconds < 20.0); /* generous for sanitizer builds on a busy machine */
}

TEST(test_parse_file) {
    char path[512];
    snprintf(path, sizeof path, "%s/test_json_doc.json", FR_TEST_TMP_DIR);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fputs("{\"name\": \"manifest\", \"sizes\": [1, 2, 3]}", f);
    fclose(f);
    json_value *v;
    CHECK_OK(json_parse_file(path, &v));
    CHECK(strcmp(json_string(json_get(v, "name")), "manifest") == 0);
    CHECK(json_len(json_get(v, "sizes")) == 3);
    json_free(v);

    f = fopen(path, "wb");
    CHECK(f);
    fputs("{\"name\": \"manifest\",\n \"sizes\": [1, 2 3]}", f);
    fclose(f);
    CHECK(json_parse_file(path, &v) == FR_E_FORMAT && v == NULL);
    CHECK(strstr(fr_last_error(), "test_json_doc.json: offset 37: expected ',' or ']'"));
    remove(path);

    CHECK(json_parse_file(path, &v) == FR_E_IO && v == NULL);
    CHECK(strstr(fr_last_error(), "test_json_doc.json"));
}

TEST_MAIN(CASE(test_scalars_and_containers), CASE(test_numbers), CASE(test_numbers_ignore_locale),
          CASE(test_escapes), CASE(test_duplicate_keys_last_wins), CASE(test_refusals),
          CASE(test_depth_limit), CASE(test_big_array_is_fast), CASE(test_parse_file))
