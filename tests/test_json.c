/* test_json.c: reading JSON through common/json_read.h (jansson with the project's flags):
 * the choices it makes (numbers as doubles, duplicate keys, NUL, UTF-8, byte order mark,
 * nesting), the error convention (status, file name, line and column) and files. */
#include "common/common.h"
#include "common/json_read.h"
#include "test.h"

#include <locale.h>

static fr_status parse(const char *text, json_t **out) {
    return parse_json_text(text, strlen(text), "doc.json", out);
}

/* Checks that `text` is refused with `status` and a message naming doc.json, the position
 * `where` ("line L, column C") and containing `what`. */
static int refused(const char *text, fr_status status, const char *where, const char *what) {
    json_t *v = NULL;
    fr_status st = parse(text, &v);
    if (st == FR_OK) json_decref(v);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "doc.json: %s: ", where);
    if (st != status || v != NULL || !strstr(fr_last_error(), prefix) || !strstr(fr_last_error(), what)) {
        fprintf(stderr, "  input %.60s: status %d, message \"%s\" (wanted %d, \"%s\" \"%s\")\n", text,
                (int)st, fr_last_error(), (int)status, prefix, what);
        return 0;
    }
    return 1;
}

TEST(test_document) {
    json_t *v;
    CHECK_OK(parse(" {\"a\": [1, -2.5e3, 0.125, true, false, null], \"b\": {}, \"c\": [],"
                   " \"d\": \"text\", \"e\": {\"f\": -0}}\r\n\t",
                   &v));
    CHECK(json_is_object(v) && json_object_size(v) == 5);
    const json_t *a = json_object_get(v, "a");
    CHECK(json_is_array(a) && json_array_size(a) == 6);
    /* integers are doubles too, so every number reads the same way */
    CHECK(json_is_real(json_array_get(a, 0)) && json_number_value(json_array_get(a, 0)) == 1.0);
    CHECK(json_number_value(json_array_get(a, 1)) == -2500.0);
    CHECK(json_number_value(json_array_get(a, 2)) == 0.125);
    CHECK(json_is_true(json_array_get(a, 3)) && json_is_false(json_array_get(a, 4)));
    CHECK(json_is_null(json_array_get(a, 5)) && json_array_get(a, 6) == NULL);
    CHECK(strcmp(json_string_value(json_object_get(v, "d")), "text") == 0);
    const json_t *zero = json_object_get(json_object_get(v, "e"), "f");
    CHECK(json_number_value(zero) == 0.0 && signbit(json_number_value(zero)));
    /* the accessors the readers rely on give NULL / 0 on a missing member or another type */
    CHECK(json_object_get(v, "missing") == NULL && json_object_get(a, "a") == NULL);
    CHECK(json_array_size(json_object_get(v, "d")) == 0 && json_array_get(NULL, 0) == NULL);
    CHECK(json_number_value(json_object_get(v, "d")) == 0);
    CHECK(json_string_value(json_array_get(a, 0)) == NULL && !json_is_true(json_object_get(v, "missing")));
    json_decref(v);

    CHECK_OK(parse("\xEF\xBB\xBF 42", &v)); /* a byte order mark is skipped */
    CHECK(json_number_value(v) == 42.0);
    json_decref(v);
}

TEST(test_numbers_as_strtod_reads_them) {
    const char *texts[] = {"0", "-0.0", "1e3", "1E+3", "12.5e-1", "123456789012345678901234567890",
                           "2.2250738585072014e-308", "1e-400", "0.1", "-9007199254740993",
                           "9223372036854775808", "0.30000000000000004", "1.7976931348623157e308"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *v;
        CHECK_OK(parse(texts[i], &v));
        double want = strtod(texts[i], NULL);
        int same = json_is_number(v) && memcmp(&(double){json_number_value(v)}, &want, sizeof want) == 0;
        json_decref(v);
        if (!same) fprintf(stderr, "  number %s\n", texts[i]);
        CHECK(same);
    }
    /* a long number (past any small buffer) */
    char longnum[300] = "0.";
    memset(longnum + 2, '5', 290);
    longnum[292] = '\0';
    json_t *v;
    CHECK_OK(parse(longnum, &v));
    CHECK(json_number_value(v) == strtod(longnum, NULL));
    json_decref(v);
}

TEST(test_numbers_ignore_locale) {
    /* a locale with a decimal comma must not change how "0.5" is read */
    const char *names[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.utf8", "fr_FR.utf8"};
    const char *set = NULL;
    for (size_t i = 0; i < 4 && !set; i++) set = setlocale(LC_NUMERIC, names[i]);
    json_t *v;
    fr_status st = parse("[0.5, 1.25e1]", &v);
    setlocale(LC_NUMERIC, "C");
    CHECK_OK(st);
    CHECK(json_number_value(json_array_get(v, 0)) == 0.5 && json_number_value(json_array_get(v, 1)) == 12.5);
    json_decref(v);
    if (!set) SKIP("no locale with a decimal comma installed; checked under the C locale only");
}

TEST(test_strings) {
    json_t *v;
    CHECK_OK(parse("[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\", \"\\u0041\\u00e9\\u20AC\","
                   " \"\\ud83d\\ude00\", \"caf\xC3\xA9\", \"\"]",
                   &v));
    CHECK(strcmp(json_string_value(json_array_get(v, 0)), "\" \\ / \b \f \n \r \t") == 0);
    CHECK(strcmp(json_string_value(json_array_get(v, 1)), "A\xC3\xA9\xE2\x82\xAC") == 0);
    CHECK(strcmp(json_string_value(json_array_get(v, 2)), "\xF0\x9F\x98\x80") == 0);
    CHECK(strcmp(json_string_value(json_array_get(v, 3)), "caf\xC3\xA9") == 0);
    json_decref(v);
}

TEST(test_duplicate_keys_last_wins) {
    json_t *v;
    CHECK_OK(parse("{\"x\": 1, \"y\": 2, \"x\": 3}", &v));
    CHECK(json_number_value(json_object_get(v, "x")) == 3 && json_object_size(v) == 2);
    json_decref(v);
}

TEST(test_refusals) {
    CHECK(refused("", FR_E_FORMAT, "line 1, column 0", "unexpected token near end of file"));
    CHECK(refused("{\"a\": 1,}", FR_E_FORMAT, "line 1, column 9", "string or '}' expected"));
    CHECK(refused("[1,\n 2 3]", FR_E_FORMAT, "line 2, column 4", "']' expected"));
    CHECK(refused("[1] [2]", FR_E_FORMAT, "line 1, column 5", "end of file expected"));
    CHECK(refused("[NaN]", FR_E_FORMAT, "line 1, column 4", "invalid token"));
    CHECK(refused("[1e400]", FR_E_FORMAT, "line 1, column 6", "real number overflow"));
    CHECK(refused("[\"\\u0000\"]", FR_E_FORMAT, "line 1, column 9", "\\u0000 is not allowed"));
    CHECK(refused("[\"\xC0\xAF\"]", FR_E_FORMAT, "line 1, column 2", "unable to decode byte 0xc0")); /* overlong */
    CHECK(refused("[\"\xED\xA0\x80\"]", FR_E_FORMAT, "line 1, column 2", "unable to decode byte 0xed")); /* surrogate */
    CHECK(refused("[\"\\ud83d\"]", FR_E_FORMAT, "line 1, column 9", "invalid Unicode"));
    /* a NUL byte inside the text is garbage, not an end */
    json_t *v = NULL;
    CHECK(parse_json_text("[1]\0", 4, "doc.json", &v) == FR_E_FORMAT && v == NULL);
    CHECK(strstr(fr_last_error(), "doc.json: line 1, column 4: "));
}

TEST(test_depth_limit) {
    enum { DEEP = 100000 };
    json_t *v;
    char *text = malloc(2 * DEEP);
    CHECK(text);
    /* 2048 levels are accepted, deeper is refused (not a stack overflow) */
    memset(text, '[', 2048);
    memset(text + 2048, ']', 2048);
    fr_status st = parse_json_text(text, 2 * 2048, "doc.json", &v);
    if (st == FR_OK) json_decref(v);
    memset(text, '[', DEEP);
    memset(text + DEEP, ']', DEEP);
    fr_status deep = parse_json_text(text, 2 * DEEP, "doc.json", &v);
    free(text);
    CHECK_OK(st);
    CHECK(deep == FR_E_LIMIT && v == NULL && strstr(fr_last_error(), "maximum parsing depth"));
}

TEST(test_read_file) {
    char path[512];
    snprintf(path, sizeof path, "%s/test_json_doc.json", FR_TEST_TMP_DIR);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fputs("{\"name\": \"manifest\", \"sizes\": [1, 2, 3]}", f);
    fclose(f);
    json_t *v;
    CHECK_OK(read_json_file(path, &v));
    CHECK(strcmp(json_string_value(json_object_get(v, "name")), "manifest") == 0);
    CHECK(json_array_size(json_object_get(v, "sizes")) == 3);
    json_decref(v);

    f = fopen(path, "wb");
    CHECK(f);
    fputs("{\"name\": \"manifest\",\n \"sizes\": [1, 2 3]}", f);
    fclose(f);
    CHECK(read_json_file(path, &v) == FR_E_FORMAT && v == NULL);
    CHECK(strstr(fr_last_error(), "test_json_doc.json: line 2, column 17: ']' expected"));
    remove(path);

    CHECK(read_json_file(path, &v) == FR_E_IO && v == NULL);
    CHECK(strstr(fr_last_error(), "test_json_doc.json"));
}

TEST_MAIN(CASE(test_document), CASE(test_numbers_as_strtod_reads_them), CASE(test_numbers_ignore_locale),
          CASE(test_strings), CASE(test_duplicate_keys_last_wins), CASE(test_refusals),
          CASE(test_depth_limit), CASE(test_read_file))
