/* SPDX-License-Identifier: MIT */
/*
 * test_jdom.c: the strict JSON parser and its number conversions, packed
 * numeric arrays included (every float check also runs through a packed
 * array, and every invalid document fails alike in both modes). Every
 * document is copied into a buffer of exactly its length, so a sanitizer
 * build catches any read past the end (the input is never NUL-terminated).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <float.h>

#include "util/jdom.h"
#include "util/sys.h"

struct fixture {
    struct md_arena a;
    char *buf; /* exact-length copy of the last document parsed */
};

static struct fixture fx;

static int setup(void **state)
{
    md_arena_init(&fx.a, (size_t)64 << 20);
    fx.buf = NULL;
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    MD_UNUSED(state);
    md_arena_release(&fx.a);
    free(fx.buf);
    fx.buf = NULL;
    return 0;
}

/* Parses len bytes of s from an exact-length heap copy. */
static int parse_n(const char *s, size_t len, unsigned flags, struct md_jnode **root,
                   struct md_err *err)
{
    free(fx.buf);
    fx.buf = malloc(len > 0 ? len : 1);
    assert_non_null(fx.buf);
    memcpy(fx.buf, s, len);
    md_err_clear(err);
    return md_jdom_parse(fx.buf, len, flags, &fx.a, root, err);
}

static int parse(const char *s, unsigned flags, struct md_jnode **root, struct md_err *err)
{
    return parse_n(s, strlen(s), flags, root, err);
}

static struct md_jnode *parse_ok(const char *s, unsigned flags)
{
    struct md_jnode *root = NULL;
    struct md_err err;
    int rc = parse(s, flags, &root, &err);

    if (rc != MD_OK)
        fail_msg("'%s' did not parse: %s", s, err.msg);
    assert_non_null(root);
    return root;
}

static bool str_is(const struct md_jnode *n, const char *s, size_t len)
{
    return n != NULL && n->type == MD_J_STRING && n->len == len && memcmp(n->p, s, len) == 0;
}

static bool num_is(const struct md_jnode *n, const char *s)
{
    return n != NULL && n->type == MD_J_NUMBER && n->len == strlen(s) &&
           memcmp(n->p, s, n->len) == 0;
}

/* ------------------------------------------------------------------------
 * Valid documents
 * ------------------------------------------------------------------------ */

static void test_scalars(void **state)
{
    struct md_jnode *r;

    MD_UNUSED(state);
    r = parse_ok("null", 0);
    assert_int_equal(r->type, MD_J_NULL);
    assert_null(r->key);
    assert_null(r->next);
    r = parse_ok(" true ", 0);
    assert_int_equal(r->type, MD_J_TRUE);
    r = parse_ok("\t\r\nfalse\n", 0);
    assert_int_equal(r->type, MD_J_FALSE);
    r = parse_ok("-12.5e+3", 0);
    assert_int_equal(r->type, MD_J_NUMBER);
    assert_int_equal(r->len, 8);
    assert_memory_equal(r->p, "-12.5e+3", 8);
    r = parse_ok("\"hi\"", 0);
    assert_true(str_is(r, "hi", 2));
    r = parse_ok("\"\"", 0);
    assert_true(str_is(r, "", 0));
    r = parse_ok("0", 0);
    assert_int_equal(r->type, MD_J_NUMBER);
    r = parse_ok("[]", 0);
    assert_int_equal(r->type, MD_J_ARRAY);
    assert_int_equal(r->n, 0);
    assert_null(r->child);
    r = parse_ok(" { } ", 0);
    assert_int_equal(r->type, MD_J_OBJECT);
    assert_int_equal(r->n, 0);
}

static void test_object_tree(void **state)
{
    const char *doc = "{\"a\":null, \"b\" : true,\"c\":false,\"d\":-0.5,\"e\":\"x\","
                      "\"f\":[1,[2,3],{}],\"g\":{\"h\":{\"i\":[]}}}";
    const struct md_jnode *r;
    const struct md_jnode *m;
    const struct md_jnode *f;
    static const enum md_jtype want[] = {MD_J_NULL,   MD_J_TRUE,  MD_J_FALSE, MD_J_NUMBER,
                                         MD_J_STRING, MD_J_ARRAY, MD_J_OBJECT};
    static const char keys[] = "abcdefg";
    size_t i = 0;

    MD_UNUSED(state);
    r = parse_ok(doc, 0);
    assert_int_equal(r->type, MD_J_OBJECT);
    assert_int_equal(r->n, 7);
    for (m = r->child; m != NULL; m = m->next, i++) {
        assert_int_equal(m->type, want[i]);
        assert_int_equal(m->key_len, 1);
        assert_int_equal(m->key[0], keys[i]);
    }
    assert_int_equal(i, 7);
    f = md_jdom_get(r, "f");
    assert_non_null(f);
    assert_int_equal(f->n, 3);
    assert_null(f->child->key);
    assert_int_equal(f->child->next->type, MD_J_ARRAY);
    assert_int_equal(f->child->next->n, 2);
    assert_memory_equal(f->child->next->child->next->p, "3", 1);
    assert_int_equal(f->child->next->next->type, MD_J_OBJECT);
    assert_null(f->child->next->next->next);
    m = md_jdom_get(md_jdom_get(md_jdom_get(r, "g"), "h"), "i");
    assert_non_null(m);
    assert_int_equal(m->type, MD_J_ARRAY);
    assert_int_equal(m->n, 0);
}

static void test_get(void **state)
{
    const struct md_jnode *r;

    MD_UNUSED(state);
    r = parse_ok("{\"k\":1,\"key\":2,\"k\":3,\"\":4}", 0);
    /* The first of duplicate keys wins; lengths must match exactly. */
    assert_memory_equal(md_jdom_get(r, "k")->p, "1", 1);
    assert_memory_equal(md_jdom_get(r, "key")->p, "2", 1);
    assert_memory_equal(md_jdom_get(r, "")->p, "4", 1);
    assert_null(md_jdom_get(r, "ke"));
    assert_null(md_jdom_get(r, "keys"));
    assert_null(md_jdom_get(NULL, "k"));
    r = parse_ok("[{\"k\":1}]", 0);
    assert_null(md_jdom_get(r, "k"));
    /* Keys with escapes are decoded before comparison. */
    r = parse_ok("{\"\\u006bey\":5}", 0);
    assert_memory_equal(md_jdom_get(r, "key")->p, "5", 1);
}

static void test_strdup(void **state)
{
    const struct md_jnode *r;
    char *s;

    MD_UNUSED(state);
    r = parse_ok("[\"abc\",\"a\\nb\",1]", 0);
    s = md_jdom_strdup(r->child, &fx.a);
    assert_string_equal(s, "abc");
    s = md_jdom_strdup(r->child->next, &fx.a);
    assert_string_equal(s, "a\nb");
    assert_null(md_jdom_strdup(r->child->next->next, &fx.a));
    assert_null(md_jdom_strdup(r, &fx.a));
    assert_null(md_jdom_strdup(NULL, &fx.a));
}

static void test_escapes(void **state)
{
    const struct md_jnode *r;
    const struct md_jnode *c;

    MD_UNUSED(state);
    r = parse_ok("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\","
                 "\"a\\u0000b\", \"plain\", \"\\uD7FF\\uE000\\uFFFF\\udbff\\udfff\"]",
                 0);
    c = r->child;
    assert_true(str_is(c, "\"\\/\b\f\n\r\t", 8));
    /* Escaped strings are decoded into the arena, not the input. */
    assert_true(c->p < fx.buf || c->p >= fx.buf + 200);
    c = c->next;
    assert_true(str_is(c, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    c = c->next;
    assert_true(str_is(c, "a\0b", 3));
    c = c->next;
    assert_true(str_is(c, "plain", 5));
    /* Strings without escapes point into the input. */
    assert_true(c->p > fx.buf && c->p < fx.buf + 200);
    c = c->next;
    assert_true(str_is(c, "\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf", 13));
    /* An escape in a key. */
    r = parse_ok("{\"a\\tb\":1}", 0);
    assert_int_equal(r->child->key_len, 3);
    assert_memory_equal(r->child->key, "a\tb", 3);
}

static void test_utf8_valid(void **state)
{
    static const char *ok[] = {
        "\"\xc2\x80\"",         /* U+0080 */
        "\"\xdf\xbf\"",         /* U+07FF */
        "\"\xe0\xa0\x80\"",     /* U+0800 */
        "\"\xed\x9f\xbf\"",     /* U+D7FF */
        "\"\xee\x80\x80\"",     /* U+E000 */
        "\"\xef\xbf\xbf\"",     /* U+FFFF */
        "\"\xf0\x90\x80\x80\"", /* U+10000 */
        "\"\xf4\x8f\xbf\xbf\"", /* U+10FFFF */
        "\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "\"\x7f\"", /* DEL is allowed unescaped */
    };
    size_t i;

    MD_UNUSED(state);
    for (i = 0; i < MD_ARRAY_LEN(ok); i++) {
        const struct md_jnode *r = parse_ok(ok[i], 0);

        assert_int_equal(r->len, strlen(ok[i]) - 2);
        assert_memory_equal(r->p, ok[i] + 1, r->len);
    }
}

static void test_depth_limit(void **state)
{
    char doc[2 * (MD_JDOM_MAX_DEPTH + 1) + 8];
    struct md_jnode *r;
    struct md_err err;
    int d;
    int i;

    MD_UNUSED(state);
    for (d = MD_JDOM_MAX_DEPTH; d <= MD_JDOM_MAX_DEPTH + 1; d++) {
        for (i = 0; i < d; i++) {
            doc[i] = '[';
            doc[d + i] = ']';
        }
        doc[2 * d] = '\0';
        if (d == MD_JDOM_MAX_DEPTH) {
            const struct md_jnode *n = parse_ok(doc, 0);

            for (i = 1; i < d; i++)
                n = n->child;
            assert_int_equal(n->type, MD_J_ARRAY);
            assert_null(n->child);
        } else {
            assert_int_equal(parse(doc, 0, &r, &err), MD_EINVAL);
            assert_non_null(strstr(err.msg, "nesting deeper than 100"));
            assert_null(r);
        }
    }
    /* A packed innermost array is a level as any other. */
    for (d = MD_JDOM_MAX_DEPTH; d <= MD_JDOM_MAX_DEPTH + 1; d++) {
        for (i = 0; i < d; i++) {
            doc[i] = '[';
            doc[d + 2 + i] = ']';
        }
        doc[d] = '1';
        doc[d + 1] = ' ';
        doc[2 * d + 2] = '\0';
        if (d == MD_JDOM_MAX_DEPTH) {
            const struct md_jnode *n = parse_ok(doc, MD_JDOM_PACKED);

            for (i = 1; i < d; i++)
                n = n->child;
            assert_true(md_jdom_is_packed(n));
        } else {
            assert_int_equal(parse(doc, MD_JDOM_PACKED, &r, &err), MD_EINVAL);
            assert_non_null(strstr(err.msg, "nesting deeper than 100"));
        }
    }
    /* Objects count too, and a deep document deeper than the C stack would allow. */
    {
        size_t n = 100000;
        char *big = malloc(n * 6 + 1);
        size_t k;

        assert_non_null(big);
        for (k = 0; k < n; k++)
            memcpy(big + 6 * k, "{\"a\":[", 6);
        assert_int_equal(parse_n(big, n * 6, 0, &r, &err), MD_EINVAL);
        assert_non_null(strstr(err.msg, "nesting"));
        free(big);
    }
}

static void test_big_array(void **state)
{
    size_t n = 100000;
    char *doc = malloc(n * 2 + 2);
    const struct md_jnode *r;
    const struct md_jnode *c;
    size_t i;

    MD_UNUSED(state);
    assert_non_null(doc);
    doc[0] = '[';
    for (i = 0; i < n; i++) {
        doc[1 + 2 * i] = (char)('0' + i % 10);
        doc[2 + 2 * i] = ',';
    }
    doc[2 * n] = ']';
    doc[2 * n + 1] = '\0';
    r = parse_ok(doc, 0);
    assert_int_equal(r->n, n);
    for (i = 0, c = r->child; c != NULL; c = c->next, i++)
        assert_int_equal(c->p[0], '0' + i % 10);
    assert_int_equal(i, n);
    free(doc);
}

/* ------------------------------------------------------------------------
 * Invalid documents
 * ------------------------------------------------------------------------ */

static void test_invalid(void **state)
{
    static const struct {
        const char *doc;
        size_t len; /* 0: strlen */
        const char *reason;
    } bad[] = {
        {"", 0, "at byte 0: unexpected end of input, expected a value"},
        {"   ", 0, "at byte 3: unexpected end of input"},
        {"[", 0, "unexpected end of input"},
        {"]", 0, "expected a value, found ']'"},
        {"{", 0, "at byte 1: unexpected end of input, expected a string key"},
        {"}", 0, "expected a value"},
        {"[1,]", 0, "at byte 3: trailing comma"},
        {"{\"a\":1,}", 0, "trailing comma"},
        {"[,1]", 0, "expected a value, found ','"},
        {"{,}", 0, "expected a string key"},
        {"[1 2]", 0, "expected ',' or ']'"},
        {"[1,,2]", 0, "expected a value"},
        {"{\"a\" 1}", 0, "expected ':'"},
        {"{\"a\":}", 0, "expected a value"},
        {"{\"a\"}", 0, "expected ':'"},
        {"{a:1}", 0, "expected a string key"},
        {"{'a':1}", 0, "expected a string key"},
        {"{\"a\":1 \"b\":2}", 0, "expected ',' or '}'"},
        {"[\"a\":1]", 0, "expected ',' or ']'"},
        {"{\"a\":1}}", 0, "unexpected data after the value"},
        {"[[]]]", 0, "unexpected data after the value"},
        {"01", 0, "at byte 0: leading zero"},
        {"-01", 0, "leading zero"},
        {"[00]", 0, "leading zero"},
        {"1.", 0, "unexpected end of input, expected a digit after '.'"},
        {"1.e5", 0, "expected a digit after '.'"},
        {".5", 0, "expected a value"},
        {"-", 0, "unexpected end of input"},
        {"-a", 0, "expected a digit"},
        {"+1", 0, "expected a value"},
        {"1e", 0, "unexpected end of input"},
        {"1e+", 0, "unexpected end of input"},
        {"1ex", 0, "expected a digit in the exponent"},
        {"0x10", 0, "unexpected data after the value"},
        {"tru", 0, "invalid literal"},
        {"nul", 0, "invalid literal"},
        {"fals", 0, "invalid literal"},
        {"True", 0, "expected a value"},
        {"nulll", 0, "unexpected data after the value"},
        {"\"abc", 0, "unterminated string"},
        {"\"abc\\", 0, "unterminated string"},
        {"\"\\x\"", 0, "invalid escape"},
        {"\"\\U0041\"", 0, "invalid escape"},
        {"\"\\u12\"", 0, "invalid \\u escape"},
        {"\"\\u12g4\"", 0, "invalid \\u escape"},
        {"\"\\ud800\"", 0, "lone high surrogate"},
        {"\"\\ud800\\u0041\"", 0, "lone high surrogate"},
        {"\"\\ud800\\ud800\"", 0, "lone high surrogate"},
        {"\"\\udc00\"", 0, "lone low surrogate"},
        {"\"\\ude00\\ud83d\"", 0, "lone low surrogate"},
        {"\"a\x01z\"", 0, "at byte 2: control character"},
        {"\"tab\there\"", 0, "control character"},
        {"\"nl\nx\"", 0, "control character"},
        {"\"nul\0x\"", 7, "control character"},
        {"\"\xff\"", 0, "invalid UTF-8"},
        {"\"\x80\"", 0, "invalid UTF-8"},
        {"\"\xc0\x80\"", 0, "invalid UTF-8"},         /* overlong NUL */
        {"\"\xc1\xbf\"", 0, "invalid UTF-8"},         /* overlong */
        {"\"\xe0\x9f\xbf\"", 0, "invalid UTF-8"},     /* overlong 3-byte */
        {"\"\xed\xa0\x80\"", 0, "invalid UTF-8"},     /* encoded surrogate */
        {"\"\xf0\x8f\xbf\xbf\"", 0, "invalid UTF-8"}, /* overlong 4-byte */
        {"\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8"}, /* past U+10FFFF */
        {"\"\xf5\x80\x80\x80\"", 0, "invalid UTF-8"},
        {"\"\xe2\x82\"", 0, "invalid UTF-8"}, /* truncated sequence */
        {"\"\xe2\x82", 0, "invalid UTF-8"},
        {"\"\xc3", 0, "invalid UTF-8"},
        {"\"\xc3x\"", 0, "invalid UTF-8"},
        {"[1] [2]", 0, "unexpected data after the value"},
        {"1 2", 0, "at byte 2: unexpected data after the value"},
        {"{} x", 0, "unexpected data after the value"},
        {"[1]x", 0, "at byte 3: unexpected data after the value"},
        {"[1x]", 0, "at byte 2: expected ',' or ']', found 'x'"},
        {"[1", 0, "unexpected end of input, expected ',' or ']'"},
        {"{\"a\":1", 0, "unexpected end of input, expected ',' or '}'"},
        {"NaN", 0, "NaN and Infinity are not JSON"},
        {"[Infinity]", 0, "NaN and Infinity are not JSON"},
        {"-Infinity", 0, "expected a digit"},
        {"/* c */ 1", 0, "expected a value"},
        {"// c\n1", 0, "expected a value"},
        {"\xef\xbb\xbf{}", 0, "expected a value, found byte 0xef"},
        {"[1]\0", 4, "unexpected data after the value"},
        {"\v1", 0, "found byte 0x0b"},
    };
    struct md_jnode *r;
    struct md_err err;
    int failures = 0;
    size_t i;

    MD_UNUSED(state);
    for (i = 0; i < 2 * MD_ARRAY_LEN(bad); i++) {
        size_t k = i % MD_ARRAY_LEN(bad);
        unsigned flags = i < MD_ARRAY_LEN(bad) ? 0 : MD_JDOM_PACKED;
        size_t len = bad[k].len != 0 ? bad[k].len : strlen(bad[k].doc);
        int rc = parse_n(bad[k].doc, len, flags, &r, &err);

        if (rc != MD_EINVAL || strstr(err.msg, bad[k].reason) == NULL ||
            strncmp(err.msg, "invalid JSON at byte ", 21) != 0 || r != NULL) {
            print_error("case %zu ('%s', flags %u): rc %d, message '%s', wanted '%s'\n", k,
                        bad[k].doc, flags, rc, err.msg, bad[k].reason);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Packed arrays: which arrays pack, their values and text, errors as without. */
static void test_packed(void **state)
{
    static const char *unpacked[] = {
        "[]",         "[ ]",    "[1, null]", "[null, 1]", "[[1]]",       "[\"a\"]",
        "[1, \"a\"]", "[true]", "[1, {}]",   "[1, [2]]",  "[{\"a\":1}]",
    };
    static const char *bad[] = {
        "[1,]",    "[1 2]", "[01]",    "[1.]",  "[-]",  "[1e]", "[1,2",   "[1.5.3]",
        "[1e5e3]", "[12a]", "[1, 2]]", "[--1]", "[+1]", "[.5]", "[1,,2]", "[0x10]",
    };
    const struct md_jnode *r;
    const struct md_jnode *c;
    struct md_jnode *root;
    struct md_jnode num;
    struct md_err err;
    struct md_err err2;
    const char *cursor = NULL;
    float f[4];
    double d[4];
    size_t bad_i;
    size_t i;

    MD_UNUSED(state);
    r = parse_ok("[ 1 ,\n-2.5e1\t,3e-2,  1e400 ]", MD_JDOM_PACKED);
    assert_true(md_jdom_is_packed(r));
    assert_int_equal(r->type, MD_J_ARRAY);
    assert_int_equal(r->n, 4);
    assert_null(r->child);
    assert_true(r->values[0] == 1.0 && r->values[1] == -25.0 && r->values[2] == 0.03);
    assert_true(isnan(r->values[3])); /* beyond the double range */
    assert_true(md_jdom_packed_next(r, &cursor, &num));
    assert_true(num_is(&num, "1"));
    assert_true(md_jdom_packed_next(r, &cursor, &num));
    assert_true(num_is(&num, "-2.5e1"));
    assert_true(md_jdom_packed_next(r, &cursor, &num));
    assert_true(num_is(&num, "3e-2"));
    assert_true(md_jdom_packed_next(r, &cursor, &num));
    assert_true(num_is(&num, "1e400"));
    assert_false(md_jdom_packed_next(r, &cursor, &num));
    assert_int_equal(md_jdom_packed_f64(r, d, NULL, &bad_i), MD_EINVAL);
    assert_int_equal(bad_i, 3);
    assert_int_equal(md_jdom_packed_f32(r, f, NULL, &bad_i), MD_EINVAL);
    assert_int_equal(bad_i, 3);
    r = parse_ok("[1, 2, 1e39]", MD_JDOM_PACKED);
    assert_int_equal(md_jdom_packed_f64(r, d, NULL, &bad_i), MD_OK);
    assert_true(d[2] == 1e39);
    assert_int_equal(md_jdom_packed_f32(r, f, NULL, &bad_i),
                     MD_EINVAL); /* beyond the float range */
    assert_int_equal(bad_i, 2);
    r = parse_ok("[1, -0, 0.5]", MD_JDOM_PACKED);
    assert_int_equal(md_jdom_packed_f32(r, f, NULL, &bad_i), MD_OK);
    assert_true(f[0] == 1.0f && f[1] == 0.0f && signbit(f[1]) && f[2] == 0.5f);
    /* Without the flag, or for anything but numbers, arrays are as ever. */
    r = parse_ok("[1, 2]", 0);
    assert_false(md_jdom_is_packed(r));
    assert_non_null(r->child);
    assert_null(r->values);
    cursor = NULL;
    assert_false(md_jdom_packed_next(r, &cursor, &num));
    assert_int_equal(md_jdom_packed_f32(r, f, NULL, &bad_i), MD_EINVAL);
    assert_int_equal(md_jdom_packed_f64(r, d, NULL, &bad_i), MD_EINVAL);
    for (i = 0; i < MD_ARRAY_LEN(unpacked); i++) {
        r = parse_ok(unpacked[i], MD_JDOM_PACKED);
        if (md_jdom_is_packed(r))
            fail_msg("'%s' packed", unpacked[i]);
    }
    /* A tab after '[' keeps the array unpacked, as jdom.h says (test_tfs relies on it). */
    r = parse_ok("[\t1, 2]", MD_JDOM_PACKED);
    assert_false(md_jdom_is_packed(r));
    assert_int_equal(r->n, 2);
    r = parse_ok("[1, NaN]", MD_JDOM_PACKED | MD_JDOM_NANINF);
    assert_false(md_jdom_is_packed(r));
    assert_int_equal(r->n, 2);
    /* Nested: the inner arrays pack, the outer does not; members keep their keys. */
    r = parse_ok("{\"data\": [[1, 2], [3, 4, 5]], \"shape\": [2]}", MD_JDOM_PACKED);
    c = md_jdom_get(r, "data");
    assert_false(md_jdom_is_packed(c));
    assert_int_equal(c->n, 2);
    assert_true(md_jdom_is_packed(c->child) && c->child->n == 2);
    assert_true(md_jdom_is_packed(c->child->next) && c->child->next->n == 3);
    assert_true(c->child->next->values[2] == 5.0);
    c = md_jdom_get(r, "shape");
    assert_true(md_jdom_is_packed(c) && c->n == 1);
    assert_true(c->key_len == 5 && memcmp(c->key, "shape", 5) == 0);
    /* Errors: the same message with or without packing. */
    for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
        int rc = parse(bad[i], 0, &root, &err);
        int rc2 = parse(bad[i], MD_JDOM_PACKED, &root, &err2);

        if (rc != MD_EINVAL || rc2 != MD_EINVAL || strcmp(err.msg, err2.msg) != 0)
            fail_msg("'%s': %d '%s' vs packed %d '%s'", bad[i], rc, err.msg, rc2, err2.msg);
    }
}

static void test_arena_limit(void **state)
{
    struct md_arena small;
    struct md_jnode *r;
    struct md_err err;
    char doc[4096];
    size_t i;

    MD_UNUSED(state);
    doc[0] = '[';
    for (i = 1; i < sizeof(doc) - 1; i += 2) {
        doc[i] = '1';
        doc[i + 1] = ',';
    }
    doc[sizeof(doc) - 2] = '1';
    doc[sizeof(doc) - 1] = ']';
    md_arena_init(&small, 1024);
    assert_int_equal(md_jdom_parse(doc, sizeof(doc), 0, &small, &r, &err), MD_ETOOBIG);
    assert_int_equal(err.code, MD_ETOOBIG);
    assert_non_null(strstr(err.msg, "memory"));
    assert_null(r);
    md_arena_release(&small);
    /* Packed, the 2047 numbers take 8 bytes each: still too many for 1 KiB, fine in 64. */
    md_arena_init(&small, 1024);
    assert_int_equal(md_jdom_parse(doc, sizeof(doc), MD_JDOM_PACKED, &small, &r, &err), MD_ETOOBIG);
    assert_non_null(strstr(err.msg, "memory"));
    assert_null(r);
    md_arena_release(&small);
    md_arena_init(&small, 64 * 1024);
    assert_int_equal(md_jdom_parse(doc, sizeof(doc), MD_JDOM_PACKED, &small, &r, &err), MD_OK);
    assert_int_equal(r->n, 2047);
    assert_true(small.used < 48 * 1024);
    md_arena_release(&small);
    /* Escape decoding needs arena memory too: the nodes fit, the string does not. */
    {
        static char sdoc[3000];
        const size_t slen = sizeof(sdoc);

        memset(sdoc, 'a', slen);
        sdoc[0] = '"';
        sdoc[1] = '\\';
        sdoc[2] = 'n';
        sdoc[slen - 1] = '"';
        md_arena_init(&small, 2048 + 1024);
        assert_int_equal(md_jdom_parse(sdoc, slen, 0, &small, &r, &err), MD_ETOOBIG);
        md_arena_release(&small);
        /* The same document fits a larger arena. */
        md_arena_init(&small, 8192);
        assert_int_equal(md_jdom_parse(sdoc, slen, 0, &small, &r, &err), MD_OK);
        assert_int_equal(r->len, slen - 3);
        assert_int_equal(r->p[0], '\n');
        md_arena_release(&small);
    }
    /* Batches shrink near the limit: three nodes fit exactly (the arena hands out 16-byte
     * multiples). */
    md_arena_init(&small, (3 * sizeof(struct md_jnode) + 15) / 16 * 16);
    assert_int_equal(md_jdom_parse("[1, 2]", 6, 0, &small, &r, &err), MD_OK);
    assert_int_equal(r->n, 2);
    md_arena_release(&small);
    md_arena_init(&small, (3 * sizeof(struct md_jnode) + 15) / 16 * 16 - 16);
    assert_int_equal(md_jdom_parse("[1, 2]", 6, 0, &small, &r, &err), MD_ETOOBIG);
    md_arena_release(&small);
    /* No text at all. */
    assert_int_equal(md_jdom_parse(NULL, 0, 0, &fx.a, &r, &err), MD_EINVAL);
}

static void test_naninf(void **state)
{
    const struct md_jnode *r;
    const struct md_jnode *c;
    struct md_jnode *root;
    struct md_err err;
    double d;
    float f;
    int64_t i;
    uint64_t u;

    MD_UNUSED(state);
    r = parse_ok("[NaN, Infinity, -Infinity, 1]", MD_JDOM_NANINF);
    c = r->child;
    assert_int_equal(c->type, MD_J_NUMBER);
    assert_int_equal(md_jdom_f64(c, &d), MD_OK);
    assert_true(isnan(d));
    assert_int_equal(md_jdom_f32(c, &f), MD_OK);
    assert_true(isnan(f));
    assert_int_equal(md_jdom_i64(c, &i), MD_EINVAL);
    assert_int_equal(md_jdom_u64(c, &u), MD_EINVAL);
    c = c->next;
    assert_int_equal(md_jdom_f64(c, &d), MD_OK);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(md_jdom_f32(c, &f), MD_OK);
    assert_true(isinf(f) && f > 0);
    assert_int_equal(md_jdom_i64(c, &i), MD_EINVAL);
    c = c->next;
    assert_int_equal(c->len, 9);
    assert_int_equal(md_jdom_f64(c, &d), MD_OK);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(md_jdom_f32(c, &f), MD_OK);
    assert_true(isinf(f) && f < 0);
    assert_int_equal(md_jdom_i64(c, &i), MD_EINVAL);
    assert_int_equal(md_jdom_u64(c, &u), MD_EINVAL);
    /* Only those spellings. */
    assert_int_equal(parse("nan", MD_JDOM_NANINF, &root, &err), MD_EINVAL);
    assert_int_equal(parse("-NaN", MD_JDOM_NANINF, &root, &err), MD_EINVAL);
    assert_int_equal(parse("Inf", MD_JDOM_NANINF, &root, &err), MD_EINVAL);
    assert_int_equal(parse("+Infinity", MD_JDOM_NANINF, &root, &err), MD_EINVAL);
    assert_int_equal(parse("-Infinit", MD_JDOM_NANINF, &root, &err), MD_EINVAL);
    assert_int_equal(parse("NaNa", MD_JDOM_NANINF, &root, &err), MD_EINVAL);
    assert_int_equal(parse("Infinityy", MD_JDOM_NANINF, &root, &err), MD_EINVAL);
    /* The same document without the flag. */
    assert_int_equal(parse("[NaN]", 0, &root, &err), MD_EINVAL);
    assert_int_equal(parse("[-Infinity]", 0, &root, &err), MD_EINVAL);
}

/*
 * MD_JDOM_PACKED_NANINF: the tokens pack with the numbers (an array may
 * start with one), convert to NaN and the infinities, and stay apart from a
 * number beyond the range and from null; what is not exactly a token leaves
 * the array unpacked, and the error is the unpacked one.
 */
static void test_packed_naninf(void **state)
{
    const unsigned fl = MD_JDOM_PACKED | MD_JDOM_NANINF | MD_JDOM_PACKED_NANINF;
    static const char *const bad[] = {
        "[1, NaNa]", "[1, -NaN]",    "[1, +Infinity]", "[1, Inf]",
        "[1, nan]",  "[1, Infinit]", "[NaN1]",         "[-Infinity-1]",
    };
    const struct md_jnode *r;
    struct md_jnode *root;
    struct md_jnode num;
    struct md_err err;
    struct md_err err2;
    const char *cursor = NULL;
    uint8_t miss[6];
    float f[10];
    double d[10];
    size_t bad_i;
    size_t i;

    MD_UNUSED(state);
    r = parse_ok("[1, NaN, -Infinity,Infinity , 2.5]", fl);
    assert_true(md_jdom_is_packed(r));
    assert_int_equal(r->n, 5);
    assert_int_equal(r->n_null, 0);
    assert_true(isnan(r->values[1]) && isinf(r->values[2]) && r->values[2] < 0);
    assert_true(isinf(r->values[3]) && r->values[3] > 0);
    assert_int_equal(md_jdom_packed_f32(r, f, NULL, &bad_i), MD_OK);
    assert_true(f[0] == 1.0f && isnan(f[1]) && isinf(f[2]) && f[2] < 0 && isinf(f[3]) && f[3] > 0 &&
                f[4] == 2.5f);
    assert_int_equal(md_jdom_packed_f64(r, d, NULL, &bad_i), MD_OK);
    assert_true(d[0] == 1.0 && isnan(d[1]) && d[2] == -INFINITY && d[3] == INFINITY);
    assert_true(md_jdom_packed_next(r, &cursor, &num) && num_is(&num, "1"));
    assert_true(md_jdom_packed_next(r, &cursor, &num) && num_is(&num, "NaN"));
    assert_int_equal(md_jdom_f32(&num, &f[0]), MD_OK);
    assert_true(isnan(f[0]));
    assert_true(md_jdom_packed_next(r, &cursor, &num) && num_is(&num, "-Infinity"));
    assert_true(md_jdom_packed_next(r, &cursor, &num) && num_is(&num, "Infinity"));
    assert_true(md_jdom_packed_next(r, &cursor, &num) && num_is(&num, "2.5"));
    assert_false(md_jdom_packed_next(r, &cursor, &num));

    /* A token first; with nulls, which alone are marked missing. */
    r = parse_ok("[NaN]", fl);
    assert_true(md_jdom_is_packed(r) && r->n == 1);
    r = parse_ok("[Infinity, 1]", fl);
    assert_true(md_jdom_is_packed(r) && r->n == 2);
    r = parse_ok("[null, NaN, 3, null, -Infinity, NaN]", fl | MD_JDOM_PACKED_NULL);
    assert_true(md_jdom_is_packed(r));
    assert_int_equal(r->n_null, 2);
    memset(miss, 0, sizeof(miss));
    assert_int_equal(md_jdom_packed_f32(r, f, miss, &bad_i), MD_OK);
    assert_true(isnan(f[0]) && isnan(f[1]) && f[2] == 3.0f && isnan(f[3]) && f[4] == -INFINITY &&
                isnan(f[5]));
    assert_true(miss[0] == 1 && miss[1] == 0 && miss[2] == 0 && miss[3] == 1 && miss[4] == 0 &&
                miss[5] == 0);
    assert_true(md_jdom_packed_null(r, 0) && !md_jdom_packed_null(r, 1));
    memset(miss, 0, sizeof(miss));
    assert_int_equal(md_jdom_packed_f64(r, d, miss, &bad_i), MD_OK);
    assert_true(isnan(d[1]) && d[4] == -INFINITY && miss[0] == 1 && miss[1] == 0);

    /* Still told apart from numbers beyond the double or the float range. */
    r = parse_ok("[NaN, 1e400, Infinity]", fl);
    assert_int_equal(md_jdom_packed_f32(r, f, NULL, &bad_i), MD_EINVAL);
    assert_int_equal(bad_i, 1);
    assert_int_equal(md_jdom_packed_f64(r, d, NULL, &bad_i), MD_EINVAL);
    assert_int_equal(bad_i, 1);
    r = parse_ok("[Infinity, -Infinity, NaN, 1, 2, 3, 4, 5, 6, -1e39]", fl);
    assert_int_equal(md_jdom_packed_f32(r, f, NULL, &bad_i), MD_EINVAL);
    assert_int_equal(bad_i, 9);
    assert_int_equal(md_jdom_packed_f64(r, d, NULL, &bad_i), MD_OK);

    /* Not without MD_JDOM_NANINF, nor without the packing flag. */
    assert_int_equal(parse("[NaN]", MD_JDOM_PACKED | MD_JDOM_PACKED_NANINF, &root, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "NaN and Infinity are not JSON"));
    assert_int_equal(parse("[1, Infinity]", MD_JDOM_PACKED | MD_JDOM_PACKED_NANINF, &root, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "NaN and Infinity are not JSON"));
    r = parse_ok("[1, NaN]", MD_JDOM_PACKED | MD_JDOM_NANINF);
    assert_false(md_jdom_is_packed(r));

    /* Anything else: the unpacked parse's error, word for word. */
    for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
        int rc = parse(bad[i], MD_JDOM_NANINF, &root, &err);
        int rc2 = parse(bad[i], fl, &root, &err2);

        if (rc != MD_EINVAL || rc2 != MD_EINVAL || strcmp(err.msg, err2.msg) != 0)
            fail_msg("'%s': %d '%s' / %d '%s'", bad[i], rc, err.msg, rc2, err2.msg);
    }
}

/* ------------------------------------------------------------------------
 * Integer conversions
 * ------------------------------------------------------------------------ */

static struct md_jnode number(const char *text)
{
    struct md_jnode n;

    memset(&n, 0, sizeof(n));
    n.type = MD_J_NUMBER;
    n.p = text;
    n.len = strlen(text);
    return n;
}

static void test_integers(void **state)
{
    static const struct {
        const char *text;
        int i_rc;
        int64_t i;
        int u_rc;
        uint64_t u;
    } cases[] = {
        {"0", MD_OK, 0, MD_OK, 0},
        {"-0", MD_OK, 0, MD_OK, 0},
        {"1", MD_OK, 1, MD_OK, 1},
        {"-1", MD_OK, -1, MD_EINVAL, 0},
        {"42", MD_OK, 42, MD_OK, 42},
        {"9007199254740993", MD_OK, 9007199254740993LL, MD_OK, 9007199254740993ULL},
        {"9223372036854775807", MD_OK, INT64_MAX, MD_OK, (uint64_t)INT64_MAX},
        {"-9223372036854775807", MD_OK, -INT64_MAX, MD_EINVAL, 0},
        {"-9223372036854775808", MD_OK, INT64_MIN, MD_EINVAL, 0},
        {"9223372036854775808", MD_EINVAL, 0, MD_OK, (uint64_t)INT64_MAX + 1},
        {"-9223372036854775809", MD_EINVAL, 0, MD_EINVAL, 0},
        {"18446744073709551615", MD_EINVAL, 0, MD_OK, UINT64_MAX},
        {"18446744073709551616", MD_EINVAL, 0, MD_EINVAL, 0},
        {"18446744073709551620", MD_EINVAL, 0, MD_EINVAL, 0},
        {"99999999999999999999", MD_EINVAL, 0, MD_EINVAL, 0},
        {"123456789012345678901234567890", MD_EINVAL, 0, MD_EINVAL, 0},
        {"1.0", MD_EINVAL, 0, MD_EINVAL, 0},
        {"1e3", MD_EINVAL, 0, MD_EINVAL, 0},
        {"1E3", MD_EINVAL, 0, MD_EINVAL, 0},
        {"0.5", MD_EINVAL, 0, MD_EINVAL, 0},
        {"-", MD_EINVAL, 0, MD_EINVAL, 0},
        {"", MD_EINVAL, 0, MD_EINVAL, 0},
        {"01", MD_EINVAL, 0, MD_EINVAL, 0},
        {"NaN", MD_EINVAL, 0, MD_EINVAL, 0},
        {"1x", MD_EINVAL, 0, MD_EINVAL, 0},
    };
    size_t k;

    MD_UNUSED(state);
    for (k = 0; k < MD_ARRAY_LEN(cases); k++) {
        struct md_jnode n = number(cases[k].text);
        int64_t i = 77;
        uint64_t u = 77;

        if (md_jdom_i64(&n, &i) != cases[k].i_rc)
            fail_msg("i64 '%s': wrong return", cases[k].text);
        if (cases[k].i_rc == MD_OK)
            assert_true(i == cases[k].i);
        else
            assert_true(i == 77);
        if (md_jdom_u64(&n, &u) != cases[k].u_rc)
            fail_msg("u64 '%s': wrong return", cases[k].text);
        if (cases[k].u_rc == MD_OK)
            assert_true(u == cases[k].u);
        else
            assert_true(u == 77);
    }
}

static void test_wrong_node_types(void **state)
{
    const struct md_jnode *r;
    const struct md_jnode *c;
    double d;
    float f;
    int64_t i;
    uint64_t u;

    MD_UNUSED(state);
    r = parse_ok("[\"1\", true, null, [1], {\"a\":1}]", 0);
    for (c = r->child; c != NULL; c = c->next) {
        assert_int_equal(md_jdom_f64(c, &d), MD_EINVAL);
        assert_int_equal(md_jdom_f32(c, &f), MD_EINVAL);
        assert_int_equal(md_jdom_i64(c, &i), MD_EINVAL);
        assert_int_equal(md_jdom_u64(c, &u), MD_EINVAL);
    }
    assert_int_equal(md_jdom_f64(NULL, &d), MD_EINVAL);
    assert_int_equal(md_jdom_f32(NULL, &f), MD_EINVAL);
    assert_int_equal(md_jdom_i64(NULL, &i), MD_EINVAL);
    assert_int_equal(md_jdom_u64(NULL, &u), MD_EINVAL);
}

/* ------------------------------------------------------------------------
 * Float conversions, against the C library
 * ------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static unsigned long n_checked;

/*
 * The number inside a packed array "[text,text]" converts as it does alone:
 * want (NULL: refused) for doubles, want_f for floats.
 */
static void check_packed_doc(const char *text, size_t pad, const double *want, const float *want_f)
{
    static struct md_arena pa;
    static bool ready;
    size_t len = strlen(text);
    char *doc = malloc(2 * len + pad + 3);
    struct md_jnode *r;
    struct md_err err;
    double d[2];
    float f[2];
    size_t bad;
    int rc;

    assert_non_null(doc);
    if (!ready) {
        md_arena_init(&pa, (size_t)1 << 20);
        ready = true;
    }
    md_arena_reset(&pa);
    doc[0] = '[';
    memcpy(doc + 1, text, len);
    doc[1 + len] = ',';
    memcpy(doc + 2 + len, text, len);
    memset(doc + 2 * len + 2, ' ', pad);
    doc[2 * len + pad + 2] = ']';
    rc = md_jdom_parse(doc, 2 * len + pad + 3, MD_JDOM_PACKED, &pa, &r, &err);
    if (rc != MD_OK || !md_jdom_is_packed(r) || r->n != 2)
        fail_msg("packed '%s': rc %d (%s)", text, rc, err.msg);
    rc = md_jdom_packed_f64(r, d, NULL, &bad);
    if (want == NULL ? rc != MD_EINVAL
                     : rc != MD_OK || memcmp(&d[0], want, sizeof(*want)) != 0 ||
                           memcmp(&d[1], want, sizeof(*want)) != 0)
        fail_msg("packed f64 '%s' (pad %zu): rc %d, got %.17g", text, pad, rc, d[0]);
    rc = md_jdom_packed_f32(r, f, NULL, &bad);
    if (want_f == NULL ? rc != MD_EINVAL || bad != 0
                       : rc != MD_OK || memcmp(&f[1], want_f, sizeof(*want_f)) != 0)
        fail_msg("packed f32 '%s' (pad %zu): rc %d, got %.9g", text, pad, rc, (double)f[0]);
    free(doc);
}

/*
 * Both elements of "[text,text]", and again with 40 spaces before the ']':
 * without them the second number ends near the document's end, where the
 * parser reads its digits one by one rather than eight at a time.
 */
static void check_packed(const char *text, const double *want, const float *want_f)
{
    check_packed_doc(text, 0, want, want_f);
    check_packed_doc(text, 40, want, want_f);
}

/*
 * md_jdom_f64 must equal strtod bit for bit, and md_jdom_f32 must equal
 * (float)strtod, both failing exactly where the result would be infinite.
 */
static void check_text(const char *text)
{
    struct md_jnode n = number(text);
    char *copy = malloc(n.len);
    double want = strtod(text, NULL);
    float want_f = (float)want;
    double got = 0;
    float got_f = 0;
    int rc;
    int rc_f;

    assert_non_null(copy);
    memcpy(copy, text, n.len);
    n.p = copy; /* not NUL-terminated */
    rc = md_jdom_f64(&n, &got);
    rc_f = md_jdom_f32(&n, &got_f);
    check_packed(text, rc == MD_OK ? &got : NULL, rc_f == MD_OK ? &got_f : NULL);
    if (isinf(want)) {
        if (rc != MD_EINVAL)
            fail_msg("f64 '%s': overflow not reported", text);
    } else if (rc != MD_OK || memcmp(&got, &want, sizeof(got)) != 0) {
        fail_msg("f64 '%s': got %.17g (rc %d), want %.17g", text, got, rc, want);
    }
    if (isinf(want_f)) {
        if (rc_f != MD_EINVAL)
            fail_msg("f32 '%s': overflow not reported", text);
    } else if (rc_f != MD_OK || memcmp(&got_f, &want_f, sizeof(got_f)) != 0) {
        fail_msg("f32 '%s': got %.9g (rc %d), want %.9g", text, (double)got_f, rc_f,
                 (double)want_f);
    }
    free(copy);
    n_checked++;
}

static void test_float_edges(void **state)
{
    static const char *cases[] = {
        "0",
        "-0",
        "0.0",
        "-0.0e5",
        "0e-999999999999",
        "0.000000000000000000000000000000000000",
        "1",
        "-1",
        "1.5",
        "0.1",
        "0.2",
        "0.3",
        "123456789",
        "9007199254740992",
        "9007199254740993",
        "9007199254740994",
        "9007199254740995",
        "18446744073709551615",
        "18446744073709551616",
        "1e22",
        "1e23",
        "1e-22",
        "1e-23",
        "8.589973e9",
        "4.9e-324",
        "5e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "2.47032822920623272088e-324",
        "1e-324",
        "1e-400",
        "-1e-400",
        "2.2250738585072011e-308",
        "2.2250738585072012e-308",
        "2.2250738585072014e-308",
        "2.225073858507201136057409796709131975934819546351645648e-308",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.797693134862315807e308",
        "1.7976931348623159e308",
        "-1.7976931348623159e308",
        "1e308",
        "1e309",
        "1e99999999999999999999",
        "-1e99999999999999999999",
        "1e-99999999999999999999",
        "3.4028234663852886e38",
        "3.4028235e38",
        "3.40282356779733661637539395458142568447e38",
        "3.40282356779733661637539395458142568448e38",
        "3.4028236e38",
        "-3.4028236e38",
        "1.4e-45",
        "1.401298464324817e-45",
        "7.006492321624085e-46",
        "7.006492321624086e-46",
        "1e-50",
        "1.17549435e-38",
        "1.1754942e-38",
        "0.36904600262641907",
        "-0.048500943928956985",
        "1.3402152061462402",
        "7.3177701707893310e+15",
        "9.5e-1",
        "12345678901234567890123",
        "0.00000000000000000000000000000000000000000000000000000000001",
        "100000000000000000000000000000000000000000000000000000000000",
        "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
        "9007199254740993.0000000000000000000000000001",
        "9007199254740992.9999999999999999999999999999",
        "4503599627370496.5",
        "4503599627370497.5",
        "2.0000000000000004440892098500626161694526672363281250",
        "358416272e-33",
        "89255.0e-22",
        "1e+308",
        "1E-5",
        "123e00000000000000000000000000000001",
    };
    size_t i;

    MD_UNUSED(state);
    for (i = 0; i < MD_ARRAY_LEN(cases); i++)
        check_text(cases[i]);
}

/* A random JSON number: 1..max_digits digits, a point anywhere, maybe an exponent. */
static void random_number(char *out, int max_digits, int exp_range)
{
    char digits[128];
    int nd = 1 + (int)(rnd() % (uint64_t)max_digits);
    int point = (int)(rnd() % (uint64_t)(nd + 1)); /* digits before the point; 0: "0.ddd" */
    size_t o = 0;
    int i;

    for (i = 0; i < nd; i++)
        digits[i] = (char)('0' + rnd() % 10);
    if (point > 1 && digits[0] == '0')
        digits[0] = (char)('1' + rnd() % 9);
    if (rnd() & 1)
        out[o++] = '-';
    if (point == 0) {
        out[o++] = '0';
        out[o++] = '.';
        memcpy(out + o, digits, (size_t)nd);
        o += (size_t)nd;
    } else {
        memcpy(out + o, digits, (size_t)point);
        o += (size_t)point;
        if (point < nd) {
            out[o++] = '.';
            memcpy(out + o, digits + point, (size_t)(nd - point));
            o += (size_t)(nd - point);
        }
    }
    if (rnd() % 4 != 0) {
        out[o++] = (rnd() & 1) ? 'e' : 'E';
        if (rnd() & 1)
            out[o++] = (rnd() & 1) ? '-' : '+';
        o += (size_t)snprintf(out + o, 16, "%d", (int)(rnd() % (uint64_t)exp_range));
    }
    out[o] = '\0';
}

static bool is_json_number(const char *s)
{
    struct md_arena a;
    struct md_jnode *r;
    bool ok;
    int rc;

    md_arena_init(&a, 4096);
    rc = md_jdom_parse(s, strlen(s), 0, &a, &r, NULL);
    ok = rc == MD_OK && r->type == MD_J_NUMBER;
    md_arena_release(&a);
    return ok;
}

static void test_float_random_decimal(void **state)
{
    char buf[128];
    int i;

    MD_UNUSED(state);
    n_checked = 0;
    for (i = 0; i < 200000; i++) {
        random_number(buf, 20, i % 3 == 0 ? 400 : 40);
        if (!is_json_number(buf))
            fail_msg("generator made '%s'", buf);
        check_text(buf);
    }
    for (i = 0; i < 20000; i++) {
        random_number(buf, 60, 340);
        check_text(buf);
    }
    assert_true(n_checked >= 220000);
}

/* Doubles from random bit patterns, printed the ways clients print them. */
static void test_float_random_bits(void **state)
{
    static const int g_prec[] = {17, 16, 15, 9, 25};
    static const int e_prec[] = {6, 1, 20};
    char buf[128];
    int i;
    size_t k;

    MD_UNUSED(state);
    for (i = 0; i < 100000; i++) {
        uint64_t bits = rnd();
        double d;
        float f;

        memcpy(&d, &bits, sizeof(d));
        if (isnan(d) || isinf(d))
            continue;
        for (k = 0; k < MD_ARRAY_LEN(g_prec); k++) {
            snprintf(buf, sizeof(buf), "%.*g", g_prec[k], d);
            check_text(buf);
        }
        for (k = 0; k < MD_ARRAY_LEN(e_prec); k++) {
            snprintf(buf, sizeof(buf), "%.*e", e_prec[k], d);
            check_text(buf);
        }
        /* Subnormals and floats. */
        bits &= 0x800fffffffffffffULL;
        memcpy(&d, &bits, sizeof(d));
        snprintf(buf, sizeof(buf), "%.17g", d);
        check_text(buf);
        f = (float)rnd() / (float)(1u << (rnd() % 31)) * (float)(rnd() % 1000);
        snprintf(buf, sizeof(buf), "%.9g", (double)f);
        check_text(buf);
    }
}

/*
 * Exact halfway points between adjacent doubles (printed exactly by glibc
 * from a long double), and their neighbours a digit away: the inputs where
 * a sloppy conversion rounds the wrong way.
 */
static void test_float_halfway(void **state)
{
    char buf[1200];
    int i;

    MD_UNUSED(state);
    for (i = 0; i < 3000; i++) {
        uint64_t bits = rnd() & 0x7fffffffffffffffULL;
        double d;
        long double mid;
        size_t len;
        char *e;

        if (i % 3 == 0)
            bits &= 0x000fffffffffffffULL; /* subnormal halfway points */
        else if (i % 3 == 1)
            bits = (bits & 0x000fffffffffffffULL) | ((uint64_t)(1023 + rnd() % 64) << 52);
        memcpy(&d, &bits, sizeof(d));
        if (isnan(d) || isinf(d) || d == DBL_MAX)
            continue;
        mid = ((long double)d + (long double)nextafter(d, INFINITY)) / 2;
        snprintf(buf, sizeof(buf), "%.800Le", mid);
        /* Strip trailing zeros of the mantissa so the digit count is exact. */
        e = strchr(buf, 'e');
        len = (size_t)(e - buf);
        while (len > 2 && buf[len - 1] == '0')
            len--;
        if (buf[len - 1] == '.')
            len--;
        memmove(buf + len, e, strlen(e) + 1);
        check_text(buf);
        /* The same, and just above it, with a tail past what the slow path keeps. */
        if (i % 10 == 0) {
            static char longer[2400];
            size_t k;

            memcpy(longer, buf, len);
            for (k = len; k < len + 1000; k++)
                longer[k] = '0';
            snprintf(longer + k, sizeof(longer) - k, "%s", buf + len);
            check_text(longer);
            longer[k - 1] = '1';
            check_text(longer);
        }
        /* One unit up and down in the last digit. */
        if (buf[len - 1] < '9' && buf[len - 1] > '0' && len > 3) {
            buf[len - 1]++;
            check_text(buf);
            buf[len - 1] -= 2;
            check_text(buf);
        }
    }
}

static void test_long_numbers(void **state)
{
    static char buf[20000];
    size_t i;

    MD_UNUSED(state);
    /* 10000 digits: the slow path must keep a sticky digit. */
    buf[0] = '1';
    for (i = 1; i < 10000; i++)
        buf[i] = '0';
    buf[i] = '\0';
    check_text(buf);
    buf[9999] = '1';
    check_text(buf);
    /* 0.000...0001 with 10000 zeros, then an exponent that brings it back. */
    memcpy(buf, "0.", 2);
    for (i = 2; i < 10002; i++)
        buf[i] = '0';
    memcpy(buf + i, "15e10000", 9);
    check_text(buf);
    /* 2^53 + 1 (halfway) with many zeros and a final 1 after the point: rounds up. */
    snprintf(buf, sizeof(buf), "9007199254740993.");
    for (i = 17; i < 5000; i++)
        buf[i] = '0';
    buf[i++] = '1';
    buf[i] = '\0';
    check_text(buf);
    buf[i - 1] = '0';
    check_text(buf);
}

/* Packed arrays with null elements (MD_JDOM_PACKED_NULL). */
static void test_packed_null(void **state)
{
    static const char *bad[] = {
        "[1, nul]", "[1, nullx]", "[null,]", "[null null]", "[1, NULL]", "[n]",
    };
    const unsigned flags = MD_JDOM_PACKED | MD_JDOM_PACKED_NULL;
    struct fixture *f = *state;
    struct md_jnode *root;
    struct md_jnode num;
    struct md_err err;
    struct md_err err2;
    const char *cursor = NULL;
    float out32[4];
    double out64[4];
    uint8_t mask[4];
    size_t bad_at;
    size_t i;

    assert_int_equal(md_jdom_parse("[1, null, 2.5,null]", 19, flags, &f->a, &root, &err), MD_OK);
    assert_true(md_jdom_is_packed(root));
    assert_int_equal(root->n, 4);
    assert_int_equal(root->n_null, 2);
    assert_false(md_jdom_packed_null(root, 0));
    assert_true(md_jdom_packed_null(root, 1));
    assert_false(md_jdom_packed_null(root, 2));
    assert_true(md_jdom_packed_null(root, 3));
    assert_false(md_jdom_packed_null(root, 4));
    assert_int_equal(md_jdom_packed_f32(root, out32, NULL, &bad_at), MD_OK);
    assert_true(out32[0] == 1.0f && isnan(out32[1]) && out32[2] == 2.5f && isnan(out32[3]));
    assert_int_equal(md_jdom_packed_f64(root, out64, NULL, &bad_at), MD_OK);
    assert_true(out64[0] == 1.0 && isnan(out64[1]) && out64[2] == 2.5 && isnan(out64[3]));
    /* The missing mask: set for nulls, left alone elsewhere. */
    memset(mask, 2, sizeof(mask));
    mask[1] = 0;
    mask[3] = 0;
    assert_int_equal(md_jdom_packed_f32(root, out32, mask, &bad_at), MD_OK);
    assert_memory_equal(mask, "\2\1\2\1", 4);
    memset(mask, 0, sizeof(mask));
    assert_int_equal(md_jdom_packed_f64(root, out64, mask, &bad_at), MD_OK);
    assert_memory_equal(mask, "\0\1\0\1", 4);
    for (i = 0; md_jdom_packed_next(root, &cursor, &num); i++)
        assert_int_equal(num.type, i % 2 ? MD_J_NULL : MD_J_NUMBER);
    assert_int_equal(i, 4);
    /* All null, null first; without the flag the same arrays are not packed. */
    md_arena_reset(&f->a);
    assert_int_equal(md_jdom_parse("[null]", 6, flags, &f->a, &root, &err), MD_OK);
    assert_true(md_jdom_is_packed(root) && root->n == 1 && md_jdom_packed_null(root, 0));
    assert_int_equal(md_jdom_parse("[null, 1]", 9, MD_JDOM_PACKED, &f->a, &root, &err), MD_OK);
    assert_false(md_jdom_is_packed(root));
    assert_false(md_jdom_packed_null(root, 0));
    /* A number beyond the double range is still bad, nulls or not. */
    assert_int_equal(md_jdom_parse("[null, 1e400, 2]", 16, flags, &f->a, &root, &err), MD_OK);
    assert_int_equal(md_jdom_packed_f64(root, out64, NULL, &bad_at), MD_EINVAL);
    assert_int_equal(bad_at, 1);
    assert_int_equal(md_jdom_packed_f32(root, out32, NULL, &bad_at), MD_EINVAL);
    assert_int_equal(bad_at, 1);
    assert_int_equal(md_jdom_parse("[null, 1e39]", 12, flags, &f->a, &root, &err), MD_OK);
    assert_int_equal(md_jdom_packed_f32(root, out32, NULL, &bad_at), MD_EINVAL);
    assert_int_equal(bad_at, 1);
    /* Invalid documents fail alike with and without packing. */
    for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_arena_reset(&f->a);
        assert_int_equal(md_jdom_parse(bad[i], strlen(bad[i]), flags, &f->a, &root, &err),
                         MD_EINVAL);
        assert_int_equal(md_jdom_parse(bad[i], strlen(bad[i]), 0, &f->a, &root, &err2), MD_EINVAL);
        assert_string_equal(err.msg, err2.msg);
    }
}

/* ------------------------------------------------- parallel packed arrays */

/* Whether trees a and b are the same, packed values bit for bit. */
static bool same_tree(const struct md_jnode *a, const struct md_jnode *b)
{
    const struct md_jnode *x;
    const struct md_jnode *y;

    if (a->type != b->type || a->n != b->n || a->key_len != b->key_len ||
        (a->key != NULL && memcmp(a->key, b->key, a->key_len) != 0))
        return false;
    if ((a->values == NULL) != (b->values == NULL))
        return false;
    if (a->values != NULL)
        return a->len == b->len && memcmp(a->values, b->values, a->n * sizeof(double)) == 0;
    if (a->type == MD_J_NUMBER || a->type == MD_J_STRING)
        return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
    for (x = a->child, y = b->child; x != NULL && y != NULL; x = x->next, y = y->next)
        if (!same_tree(x, y))
            return false;
    return x == NULL && y == NULL;
}

/* A growing document for the tests below. */
struct doc {
    char *s;
    size_t len;
    size_t cap;
};

static void put(struct doc *d, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(d->s + d->len, d->cap - d->len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < d->cap - d->len)
            break;
        d->cap = d->cap * 2 + (size_t)n + 64;
        d->s = realloc(d->s, d->cap);
        assert_non_null(d->s);
    }
    d->len += (size_t)n;
}

/* count numbers of assorted forms; the one at index odd_at (if below count) is odd. */
static void put_numbers(struct doc *d, size_t count, uint64_t seed, size_t odd_at, const char *odd)
{
    size_t i;

    for (i = 0; i < count; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        if (i > 0)
            put(d, "%s", (seed >> 60) == 0 ? " ,\n " : ",");
        if (i == odd_at) {
            put(d, "%s", odd);
            continue;
        }
        switch ((seed >> 33) % 5) {
        case 0:
            put(d, "%.17g", (double)(int64_t)(seed >> 20) / 1e9);
            break;
        case 1:
            put(d, "%d", (int)(seed >> 44) - 500000);
            break;
        case 2:
            put(d, "%.9g", (double)(seed >> 11) * 1e-300);
            break;
        case 3:
            put(d, "%.3e", (double)(seed >> 40) * 1e5);
            break;
        default:
            put(d, "0.%019llu", (unsigned long long)(seed >> 1) % 10000000000000000000ULL);
            break;
        }
    }
}

/*
 * Parses "[x0, x1, ...]", n elements, nulls allowed, into a packed array:
 * x[i] is token(i, arg) where that is not NULL, else i * scale + offset.
 */
static struct md_jnode *parse_numbers(struct fixture *f, struct doc *d, size_t n, double scale,
                                      double offset,
                                      const char *(*token)(size_t i, const void *arg),
                                      const void *arg)
{
    struct md_jnode *root;
    struct md_err err;
    size_t i;

    d->len = 0;
    put(d, "[");
    for (i = 0; i < n; i++) {
        const char *sep = i > 0 ? ", " : "";
        const char *t = token(i, arg);

        if (t != NULL)
            put(d, "%s%s", sep, t);
        else
            put(d, "%s%.17g", sep, (double)i * scale + offset);
    }
    put(d, "]");
    md_arena_reset(&f->a);
    assert_int_equal(
        md_jdom_parse(d->s, d->len, MD_JDOM_PACKED | MD_JDOM_PACKED_NULL, &f->a, &root, &err),
        MD_OK);
    assert_true(md_jdom_is_packed(root));
    return root;
}

/*
 * test_packed_f32_large's array length (more than one thread's share) and
 * elements: *k 0: null every 97th; 1: also 1e39 at LARGE_N - 5; 2: also at
 * 70001.
 */
#define LARGE_N 200003

static const char *large_token(size_t i, const void *arg)
{
    const size_t k = *(const size_t *)arg;

    if (k >= 1 && (i == LARGE_N - 5 || (k == 2 && i == 70001)))
        return "1e39";
    return i % 97 == 3 ? "null" : NULL;
}

/*
 * md_jdom_packed_f32 on arrays long enough to be converted on several
 * threads: the same floats and mask as element by element, and the index of
 * the first bad element wherever it lies.
 */
static void test_packed_f32_large(void **state)
{
    struct fixture *f = *state;
    const size_t n = LARGE_N;
    struct doc d = {NULL, 0, 0};
    struct md_jnode *root;
    float *out = malloc(n * sizeof(*out));
    uint8_t *mask = calloc(n, 1);
    size_t bad_at;
    size_t i;
    size_t k;

    assert_non_null(out);
    assert_non_null(mask);
    for (k = 0; k < 3; k++) {
        /* 1e39 is beyond the float range. */
        root = parse_numbers(f, &d, n, 0.37, -5000.0, large_token, &k);
        memset(mask, 0, n);
        if (k == 0) {
            assert_int_equal(md_jdom_packed_f32(root, out, mask, &bad_at), MD_OK);
            for (i = 0; i < n; i++) {
                if (i % 97 == 3) {
                    assert_true(isnan(out[i]));
                    assert_int_equal(mask[i], 1);
                } else {
                    assert_true(out[i] == (float)((double)i * 0.37 - 5000.0));
                    assert_int_equal(mask[i], 0);
                }
            }
        } else {
            assert_int_equal(md_jdom_packed_f32(root, out, mask, &bad_at), MD_EINVAL);
            assert_int_equal(bad_at, k == 2 ? 70001 : n - 5);
        }
    }
    free(d.s);
    free(out);
    free(mask);
}

/* test_packed_f32_blocks' elements: arg[0] the position, arg[1] the token there. */
static const char *block_token(size_t i, const void *arg)
{
    const size_t *at = arg;

    return i == at[0] ? (at[1] == 0 ? "null" : "-3.5e38") : NULL;
}

/*
 * md_jdom_packed_f32 converts eight at a time and goes one by one through
 * any eight holding a null or a value beyond the float range: at every
 * position of two such blocks and the tail after them, a null is NaN and
 * marked, and a value beyond the float range is the bad one, with the
 * others exact.
 */
static void test_packed_f32_blocks(void **state)
{
    struct fixture *f = *state;
    const size_t n = 21;
    struct doc d = {NULL, 0, 0};
    struct md_jnode *root;
    float out[21];
    uint8_t mask[21];
    size_t bad_at;
    size_t at;
    size_t i;
    int kind;

    for (kind = 0; kind < 2; kind++) {
        for (at = 0; at < n; at++) {
            const size_t arg[2] = {at, (size_t)kind};

            root = parse_numbers(f, &d, n, 1.1, -7.0, block_token, arg);
            memset(mask, 0, sizeof(mask));
            if (kind == 1) {
                assert_int_equal(md_jdom_packed_f32(root, out, mask, &bad_at), MD_EINVAL);
                assert_int_equal(bad_at, at);
                continue;
            }
            assert_int_equal(md_jdom_packed_f32(root, out, mask, &bad_at), MD_OK);
            for (i = 0; i < n; i++) {
                if (i == at) {
                    assert_true(isnan(out[i]));
                    assert_int_equal(mask[i], 1);
                } else {
                    assert_true(out[i] == (float)((double)i * 1.1 - 7.0));
                    assert_int_equal(mask[i], 0);
                }
            }
        }
    }
    free(d.s);
}

/*
 * Parses d both ways (serial packed, and parallel packed) and checks that
 * the outcome is the same: the same tree, or the same error. flags are
 * added to both. Returns the code.
 */
static int both_ways(void **state, const struct doc *d, unsigned flags)
{
    struct fixture *f = *state;
    struct md_arena a2;
    struct md_jnode *r1 = NULL;
    struct md_jnode *r2 = NULL;
    struct md_err e1;
    struct md_err e2;
    char *copy = malloc(d->len);
    int rc1;
    int rc2;

    assert_non_null(copy);
    memcpy(copy, d->s, d->len);
    md_arena_init(&a2, (size_t)256 << 20);
    md_arena_reset(&f->a);
    md_err_clear(&e1);
    md_err_clear(&e2);
    rc1 = md_jdom_parse(copy, d->len, MD_JDOM_PACKED | flags, &f->a, &r1, &e1);
    rc2 = md_jdom_parse(copy, d->len, MD_JDOM_PACKED | MD_JDOM_PARALLEL | flags, &a2, &r2, &e2);
    assert_int_equal(rc1, rc2);
    if (rc1 == MD_OK)
        assert_true(same_tree(r1, r2));
    else
        assert_string_equal(e1.msg, e2.msg);
    md_arena_release(&a2);
    free(copy);
    return rc1;
}

/*
 * both_ways on "[" count numbers (seed), odd at index odd_at "]", the
 * closing bracket left out when !close.
 */
static int odd_array(void **state, struct doc *d, size_t count, uint64_t seed, size_t odd_at,
                     const char *odd, bool close, unsigned flags)
{
    d->len = 0;
    put(d, "[");
    put_numbers(d, count, seed, odd_at, odd);
    if (close)
        put(d, "]");
    return both_ways(state, d, flags);
}

static void test_parallel_packed(void **state)
{
    /* Enough numbers (about 20 bytes each) for several 256 KiB pieces. */
    const size_t big = 150000;
    struct doc d = {NULL, 0, 0};
    struct fixture *f = *state;
    struct md_jnode *root;
    struct md_err err;
    const struct md_jnode *n;
    unsigned long before = md_jdom_parallel_count();

    /* One big array alone, then another after it, then text with commas. */
    put(&d, "{\"data\": [");
    put_numbers(&d, big, 1, SIZE_MAX, NULL);
    put(&d, "], \"more\": [");
    put_numbers(&d, big, 2, SIZE_MAX, NULL);
    put(&d, "], \"tail\": \"a, b, 1, 2, 3, ]\"}");
    assert_int_equal(both_ways(state, &d, 0), MD_OK);
    md_arena_reset(&f->a);
    assert_int_equal(
        md_jdom_parse(d.s, d.len, MD_JDOM_PACKED | MD_JDOM_PARALLEL, &f->a, &root, &err), MD_OK);
    n = md_jdom_get(root, "data");
    assert_true(md_jdom_is_packed(n));
    assert_int_equal(n->n, big);
    assert_true(md_jdom_is_packed(md_jdom_get(root, "more")));
    /* With two CPUs or more, both arrays (and those of both_ways) went parallel. */
    if (md_cpus() >= 2)
        assert_true(md_jdom_parallel_count() >= before + 3);

    /* A string deep inside: an ordinary array, alike both ways. */
    assert_int_equal(odd_array(state, &d, big, 3, big - 1000, "\"x, 1, 2\"", true, 0), MD_OK);

    /* Syntax errors deep inside and at the end. */
    assert_int_equal(odd_array(state, &d, big, 4, big / 2, "1,,2", true, 0), MD_EINVAL);
    assert_int_equal(odd_array(state, &d, big, 5, SIZE_MAX, NULL, false, 0), MD_EINVAL);
    assert_int_equal(odd_array(state, &d, big, 6, big - 1, "01", true, 0), MD_EINVAL);

    /* Out of the double range in the middle: NaN at that index, both ways. */
    assert_int_equal(odd_array(state, &d, big, 7, big / 3, "1e400", true, 0), MD_OK);

    /* Rows as nested arrays; a short array then a long document. */
    d.len = 0;
    put(&d, "[");
    for (size_t r = 0; r < big / 30; r++) {
        put(&d, r > 0 ? ",[" : "[");
        put_numbers(&d, 30, r, SIZE_MAX, NULL);
        put(&d, "]");
    }
    put(&d, "]");
    assert_int_equal(both_ways(state, &d, 0), MD_OK);
    d.len = 0;
    put(&d, "{\"a\": [");
    put_numbers(&d, 5000, 8, SIZE_MAX, NULL);
    put(&d, "], \"s\": \"");
    for (size_t i = 0; i < 200000; i++)
        put(&d, "%s", i % 7 == 0 ? "," : "12");
    put(&d, "\"}");
    assert_int_equal(both_ways(state, &d, 0), MD_OK);

    /* Nulls among the numbers: packed both ways with the flag, the null counted. */
    d.len = 0;
    put(&d, "[null, ");
    put_numbers(&d, big, 9, big / 2, "null");
    put(&d, ", null]");
    assert_int_equal(both_ways(state, &d, MD_JDOM_PACKED_NULL), MD_OK);
    assert_int_equal(both_ways(state, &d, 0), MD_OK);
    md_arena_reset(&f->a);
    assert_int_equal(md_jdom_parse(d.s, d.len,
                                   MD_JDOM_PACKED | MD_JDOM_PACKED_NULL | MD_JDOM_PARALLEL, &f->a,
                                   &root, &err),
                     MD_OK);
    assert_true(md_jdom_is_packed(root));
    assert_int_equal(root->n, big + 2);
    assert_int_equal(root->n_null, 3);
    assert_true(md_jdom_packed_null(root, 0));
    assert_true(md_jdom_packed_null(root, 1 + big / 2));
    assert_true(md_jdom_packed_null(root, big + 1));
    assert_int_equal(odd_array(state, &d, big, 10, big - 5, "nul", true, MD_JDOM_PACKED_NULL),
                     MD_EINVAL);

    /* Tokens among the numbers: packed both ways with the flag, alike without it. */
    {
        const unsigned fl = MD_JDOM_NANINF | MD_JDOM_PACKED_NANINF;

        d.len = 0;
        put(&d, "[NaN, ");
        put_numbers(&d, big, 11, big / 2, "-Infinity");
        put(&d, ", Infinity, NaN]");
        assert_int_equal(both_ways(state, &d, fl), MD_OK);
        assert_int_equal(both_ways(state, &d, MD_JDOM_NANINF), MD_OK);
        md_arena_reset(&f->a);
        assert_int_equal(
            md_jdom_parse(d.s, d.len, MD_JDOM_PACKED | MD_JDOM_PARALLEL | fl, &f->a, &root, &err),
            MD_OK);
        assert_true(md_jdom_is_packed(root));
        assert_int_equal(root->n, big + 3);
        assert_true(isnan(root->values[0]) && root->values[1 + big / 2] == -INFINITY);
        assert_true(root->values[big + 1] == INFINITY && isnan(root->values[big + 2]));
        assert_int_equal(odd_array(state, &d, big, 12, big - 5, "NaNN", true, fl), MD_EINVAL);
    }
    free(d.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strdup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_array, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_naninf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_naninf, setup, teardown),
        cmocka_unit_test(test_integers),
        cmocka_unit_test_setup_teardown(test_wrong_node_types, setup, teardown),
        cmocka_unit_test(test_float_edges),
        cmocka_unit_test(test_float_random_decimal),
        cmocka_unit_test(test_float_random_bits),
        cmocka_unit_test(test_float_halfway),
        cmocka_unit_test(test_long_numbers),
        cmocka_unit_test_setup_teardown(test_packed_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_f32_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_f32_blocks, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
