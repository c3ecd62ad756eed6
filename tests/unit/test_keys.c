/* SPDX-License-Identifier: MIT */
/*
 * test_keys.c: a request's keys (serve/keys.c): raw fields found by name in
 * the three places a body keeps them (V2 request parameters, TF Serving row
 * objects and columns), and the contract's keys checked: from the body
 * first, else from their header; each type, length and required rule, and
 * one message per refusal naming the key, the row and the reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serve/keys.h"

#define assert_msg(e, sub)                                                                         \
    do {                                                                                           \
        if (strstr((e).msg, (sub)) == NULL)                                                        \
            fail_msg("message \"%s\" lacks \"%s\"", (e).msg, (sub));                               \
    } while (0)

/* u: a required string of at most 8 bytes, or header X-U; n: an int64, or header X-N;
 * o: an optional string with no header. */
static const char yaml[] = "backend: trees\n"
                           "task: regression\n"
                           "features: [{name: x, datatype: FP32}]\n"
                           "keys:\n"
                           "  - {name: u, required: true, max_length: 8, header: X-U}\n"
                           "  - {name: n, type: int64, header: X-N}\n"
                           "  - {name: o}\n";

static struct md_contract *contract;

/* The request's headers: name=value pairs, NULL-terminated. */
static const char *const *headers;

static const char *header(void *conn, const char *name)
{
    size_t i;

    (void)conn;
    for (i = 0; headers != NULL && headers[i] != NULL; i += 2)
        if (strcasecmp(headers[i], name) == 0)
            return headers[i + 1];
    return NULL;
}

/* One request: its body parsed, its fields, the check's outcome. */
struct req {
    struct md_arena a;
    struct md_key_fields f;
    struct md_key_values *kv;
    struct md_err err;
    int rc;
};

enum where { SHARED, ROWS, COLUMNS };

/* Parses json (its top object: SHARED, COLUMNS; its "instances": ROWS) into r->f. */
static void parse(struct req *r, enum where w, const char *json)
{
    struct md_jnode *root;
    struct md_err err;

    md_arena_init(&r->a, 1 << 20);
    memset(&r->f, 0, sizeof(r->f));
    md_err_clear(&r->err);
    r->kv = NULL;
    assert_int_equal(
        md_jdom_parse(json, strlen(json), MD_JDOM_NANINF | MD_JDOM_PACKED, &r->a, &root, &err),
        MD_OK);
    if (w == SHARED)
        r->f.shared = root;
    else if (w == COLUMNS)
        r->f.columns = root;
    else
        r->f.rows = md_jdom_get(root, "instances");
}

/* The check of json's keys with headers hs (NULL: none) for a request of rows rows. */
static int check(struct req *r, enum where w, const char *json, const char *const *hs, size_t rows)
{
    parse(r, w, json);
    headers = hs;
    r->rc = md_keys_check(contract, &r->f, header, NULL, rows, &r->a, &r->kv, &r->err);
    headers = NULL;
    return r->rc;
}

/* Asserts that key k of r has the value want (NULL: none) in row row. */
static void value_is(const struct req *r, size_t k, size_t row, const char *want)
{
    size_t len;
    const char *got = md_key_values_get(&r->kv[k], row, &len);

    if (want == NULL) {
        if (got != NULL)
            fail_msg("key %zu row %zu: '%.*s', expected none", k, row, (int)len, got);
        assert_int_equal(len, 0);
        return;
    }
    if (got == NULL)
        fail_msg("key %zu row %zu: none, expected '%s'", k, row, want);
    if (len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("key %zu row %zu: '%.*s', expected '%s'", k, row, (int)len, got, want);
}

/* Asserts that the check of json is refused with a message holding sub. */
static void refused(enum where w, const char *json, const char *const *hs, size_t rows,
                    const char *sub)
{
    struct req r;

    if (check(&r, w, json, hs, rows) != MD_EINVAL)
        fail_msg("%s: expected MD_EINVAL, got %d", json, r.rc);
    assert_int_equal(r.err.code, MD_EINVAL);
    assert_msg(r.err, sub);
    assert_null(r.kv);
    md_arena_release(&r.a);
}

static int setup(void **state)
{
    struct md_err err;

    (void)state;
    if (md_contract_parse(yaml, sizeof(yaml) - 1, "m", &contract, &err) != MD_OK) {
        print_error("contract: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    md_contract_free(contract);
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

/* V2 parameters: one value for every row; other parameters are left alone. */
static void test_shared(void **state)
{
    static const char *const hu[] = {"X-U", "from-hdr", "x-n", "-12", NULL};
    struct req r;

    (void)state;
    assert_int_equal(
        check(&r, SHARED, "{\"u\":\"abc\",\"n\":42,\"timeout\":5,\"zz\":true}", NULL, 0), MD_OK);
    assert_non_null(r.kv);
    assert_ptr_equal(r.kv[0].key, &contract->keys[0]);
    assert_ptr_equal(r.kv[2].key, &contract->keys[2]);
    assert_int_equal(r.kv[0].n, 1);
    value_is(&r, 0, 0, "abc");
    value_is(&r, 0, 1000, "abc"); /* the value of every row */
    value_is(&r, 1, 0, "42");
    value_is(&r, 2, 0, NULL);
    md_arena_release(&r.a);

    /* The headers when the body has none (names ignore case), copied out of them. */
    assert_int_equal(check(&r, SHARED, "{\"o\":\"ok\"}", hu, 0), MD_OK);
    value_is(&r, 0, 0, "from-hdr");
    assert_ptr_not_equal(md_key_values_get(&r.kv[0], 0, &(size_t){0}), hu[1]);
    value_is(&r, 1, 0, "-12");
    value_is(&r, 2, 0, "ok");
    md_arena_release(&r.a);

    /* null is no value: the header is used. */
    assert_int_equal(check(&r, SHARED, "{\"u\":null,\"n\":null}", hu, 0), MD_OK);
    value_is(&r, 0, 0, "from-hdr");
    value_is(&r, 1, 0, "-12");
    md_arena_release(&r.a);

    /* The body first: a header that would be refused is not read. */
    {
        static const char *const bad[] = {"X-U", "far-too-long", "X-N", "abc", NULL};

        assert_int_equal(check(&r, SHARED, "{\"u\":\"b\",\"n\":-0}", bad, 0), MD_OK);
        value_is(&r, 0, 0, "b");
        value_is(&r, 1, 0, "0"); /* -0 in plain decimal */
        md_arena_release(&r.a);
    }

    /* Exactly max_length bytes (UTF-8 counted in bytes), the int64 extremes. */
    assert_int_equal(check(&r, SHARED,
                           "{\"u\":\"\\u00e9\\u00e9\\u00e9\\u00e9\",\"n\":-9223372036854775808}",
                           NULL, 0),
                     MD_OK);
    value_is(&r, 0, 0, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    value_is(&r, 1, 0, "-9223372036854775808");
    md_arena_release(&r.a);
}

static void test_refusals(void **state)
{
    static const char *const empty_u[] = {"X-U", "", NULL};
    static const char *const long_u[] = {"X-U", "123456789", NULL};
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{}", "key 'u': missing required key (send it in the body or in header X-U)"},
        {"{\"u\":null}", "key 'u': missing required key"},
        {"{\"u\":5}", "key 'u': expected a string, got a number"},
        {"{\"u\":true}", "key 'u': expected a string, got a boolean"},
        {"{\"u\":[\"a\"]}", "key 'u': expected a string, got a list"},
        {"{\"u\":{}}", "key 'u': expected a string, got an object"},
        {"{\"u\":\"\"}", "key 'u': empty value"},
        {"{\"u\":\"a\\u0000b\"}", "key 'u': contains a NUL character"},
        {"{\"u\":\"123456789\"}", "key 'u': 9 bytes, longer than max_length 8"},
        {"{\"u\":\"\\u00e9\\u00e9\\u00e9\\u00e9e\"}", "key 'u': 9 bytes, longer than"},
        {"{\"u\":\"a\",\"n\":\"5\"}", "key 'n': expected an integer, got a string"},
        {"{\"u\":\"a\",\"n\":false}", "key 'n': expected an integer, got a boolean"},
        {"{\"u\":\"a\",\"n\":1.5}", "key 'n': '1.5' is not an integer within int64"},
        {"{\"u\":\"a\",\"n\":1e3}", "key 'n': '1e3' is not an integer within int64"},
        {"{\"u\":\"a\",\"n\":NaN}", "key 'n': 'NaN' is not an integer within int64"},
        {"{\"u\":\"a\",\"n\":9223372036854775808}",
         "key 'n': '9223372036854775808' is not an integer within int64"},
        {"{\"u\":\"a\",\"o\":7}", "key 'o': expected a string, got a number"},
    };
    static const struct {
        const char *value;
        const char *msg;
    } int_headers[] = {
        {"+7", "key 'n' (header X-N): '+7' is not an integer within int64 in plain decimal"},
        {"07", "'07' is not an integer"},
        {"-0", "'-0' is not an integer"},
        {"1.0", "'1.0' is not an integer"},
        {"12 ", "'12 ' is not an integer"},
        {"-", "'-' is not an integer"},
        {"9223372036854775808", "'9223372036854775808' is not an integer"},
        {"-9223372036854775809", "'-9223372036854775809' is not an integer"},
        {"", "key 'n' (header X-N): '' is empty, not an integer"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++)
        refused(SHARED, cases[i].json, NULL, 0, cases[i].msg);
    refused(SHARED, "{}", empty_u, 0, "key 'u' (header X-U): empty value");
    refused(SHARED, "{}", long_u, 0, "key 'u' (header X-U): 9 bytes, longer than max_length 8");
    for (i = 0; i < MD_ARRAY_LEN(int_headers); i++) {
        const char *hs[] = {"X-N", int_headers[i].value, NULL};

        refused(SHARED, "{\"u\":\"a\"}", hs, 0, int_headers[i].msg);
    }
    {
        const char *hs[] = {"X-N", "9223372036854775807", NULL};
        struct req r;

        assert_int_equal(check(&r, SHARED, "{\"u\":\"a\"}", hs, 0), MD_OK);
        value_is(&r, 1, 0, "9223372036854775807");
        md_arena_release(&r.a);
    }
}

/* TF Serving's row objects: each row its own value, the header where a row has none. */
static void test_rows(void **state)
{
    static const char *const hu[] = {"X-U", "h", NULL};
    static const char body[] =
        "{\"instances\":[{\"x\":1,\"u\":\"a\",\"n\":1},{\"u\":\"b\",\"x\":2},{\"x\":3}]}";
    struct req r;

    (void)state;
    assert_int_equal(check(&r, ROWS, body, hu, 3), MD_OK);
    assert_int_equal(r.kv[0].n, 3);
    value_is(&r, 0, 0, "a");
    value_is(&r, 0, 1, "b");
    value_is(&r, 0, 2, "h");
    value_is(&r, 0, 3, NULL); /* past the rows */
    value_is(&r, 1, 0, "1");
    value_is(&r, 1, 1, NULL);
    value_is(&r, 1, 2, NULL);
    /* No row has it: one value (none) for every row. */
    assert_int_equal(r.kv[2].n, 1);
    value_is(&r, 2, 1, NULL);
    md_arena_release(&r.a);

    refused(ROWS, body, NULL, 3, "key 'u' row 2: missing required key");
    refused(ROWS, "{\"instances\":[{\"u\":\"a\"},{\"u\":null}]}", NULL, 2,
            "key 'u' row 1: missing required key");
    refused(ROWS, "{\"instances\":[{\"u\":\"a\"},{\"u\":\"b\",\"n\":\"x\"}]}", NULL, 2,
            "key 'n' row 1: expected an integer, got a string");
    refused(ROWS, "{\"instances\":[{\"u\":\"a\"},{\"u\":\"123456789\"}]}", NULL, 2,
            "key 'u' row 1: 9 bytes, longer than max_length 8");

    /* No row has the key: the header's value is every row's. */
    assert_int_equal(check(&r, ROWS, "{\"instances\":[{\"x\":1},{\"x\":2}]}", hu, 2), MD_OK);
    assert_int_equal(r.kv[0].n, 1);
    value_is(&r, 0, 1, "h");
    md_arena_release(&r.a);

    /* Rows that are no objects (lists, a packed list of numbers) hold no fields. */
    assert_int_equal(check(&r, ROWS, "{\"instances\":[[1],[2]]}", hu, 2), MD_OK);
    value_is(&r, 0, 0, "h");
    md_arena_release(&r.a);
    assert_int_equal(check(&r, ROWS, "{\"instances\":[1,2,3]}", hu, 3), MD_OK);
    value_is(&r, 0, 2, "h");
    md_arena_release(&r.a);
    refused(ROWS, "{\"instances\":[1,2,3]}", NULL, 3, "key 'u': missing required key");
}

/* TF Serving's columns: a list of one value per row, or one value for every row. */
static void test_columns(void **state)
{
    static const char *const hu[] = {"X-U", "h", NULL};
    struct req r;

    (void)state;
    assert_int_equal(check(&r, COLUMNS, "{\"x\":[1,2],\"u\":[\"a\",\"b\"],\"n\":[5,-6]}", NULL, 2),
                     MD_OK);
    assert_int_equal(r.kv[0].n, 2);
    value_is(&r, 0, 1, "b");
    value_is(&r, 1, 0, "5"); /* a packed list */
    value_is(&r, 1, 1, "-6");
    md_arena_release(&r.a);

    assert_int_equal(check(&r, COLUMNS, "{\"x\":[1,2],\"u\":\"a\",\"n\":[\t7,null]}", NULL, 2),
                     MD_OK);
    assert_int_equal(r.kv[0].n, 1);
    value_is(&r, 0, 1, "a");
    value_is(&r, 1, 0, "7"); /* an unpacked list, a null in it */
    value_is(&r, 1, 1, NULL);
    md_arena_release(&r.a);

    /* A null in a list: the header. Rows unknown (0): the list's length is taken. */
    assert_int_equal(check(&r, COLUMNS, "{\"u\":[\"a\",null,\"c\"]}", hu, 0), MD_OK);
    value_is(&r, 0, 1, "h");
    value_is(&r, 0, 2, "c");
    md_arena_release(&r.a);
    /* An empty list is no value. */
    assert_int_equal(check(&r, COLUMNS, "{\"u\":[]}", hu, 0), MD_OK);
    value_is(&r, 0, 0, "h");
    md_arena_release(&r.a);

    refused(COLUMNS, "{\"u\":[\"a\",\"b\",\"c\"]}", NULL, 2, "key 'u': 3 values for 2 rows");
    refused(COLUMNS, "{\"u\":[\"a\",null]}", NULL, 2, "key 'u' row 1: missing required key");
    refused(COLUMNS, "{\"u\":[\"a\",[\"b\"]]}", NULL, 2,
            "key 'u' row 1: expected a string, got a list");
    refused(COLUMNS, "{\"u\":\"a\",\"n\":[1,2.5]}", NULL, 2,
            "key 'n' row 1: '2.5' is not an integer within int64");
}

/* The raw field by name, before any contract, in each place. */
static void test_find(void **state)
{
    struct req r;
    size_t len;
    const char *s;

    (void)state;
    parse(&r, SHARED, "{\"a\":\"text\",\"b\":1.50,\"c\":true,\"d\":false,\"e\":null,\"f\":[1]}");
    s = md_key_fields_find(&r.f, "a", 0, &len);
    assert_true(s != NULL && len == 4 && memcmp(s, "text", 4) == 0);
    s = md_key_fields_find(&r.f, "b", 7, &len); /* as sent, the value of every row */
    assert_true(s != NULL && len == 4 && memcmp(s, "1.50", 4) == 0);
    s = md_key_fields_find(&r.f, "c", 0, &len);
    assert_true(s != NULL && len == 4 && memcmp(s, "true", 4) == 0);
    s = md_key_fields_find(&r.f, "d", 0, &len);
    assert_true(s != NULL && len == 5 && memcmp(s, "false", 5) == 0);
    assert_null(md_key_fields_find(&r.f, "e", 0, &len));
    assert_int_equal(len, 0);
    assert_null(md_key_fields_find(&r.f, "f", 0, &len));
    assert_null(md_key_fields_find(&r.f, "g", 0, &len));
    md_arena_release(&r.a);

    parse(&r, ROWS, "{\"instances\":[{\"u\":\"a\"},[1],{\"u\":\"c\",\"n\":3}]}");
    s = md_key_fields_find(&r.f, "u", 2, &len);
    assert_true(s != NULL && len == 1 && s[0] == 'c');
    assert_null(md_key_fields_find(&r.f, "u", 1, &len));
    assert_null(md_key_fields_find(&r.f, "u", 3, &len));
    assert_null(md_key_fields_find(&r.f, "n", 0, &len));
    md_arena_release(&r.a);

    parse(&r, COLUMNS, "{\"n\":[10,20,30],\"u\":\"all\",\"m\":[\"a\",\"b\"]}");
    s = md_key_fields_find(&r.f, "n", 2, &len);
    assert_true(s != NULL && len == 2 && memcmp(s, "30", 2) == 0);
    assert_null(md_key_fields_find(&r.f, "n", 3, &len));
    s = md_key_fields_find(&r.f, "u", 9, &len);
    assert_true(s != NULL && len == 3 && memcmp(s, "all", 3) == 0);
    s = md_key_fields_find(&r.f, "m", 1, &len);
    assert_true(s != NULL && len == 1 && s[0] == 'b');
    md_arena_release(&r.a);

    /* A body with no fields (all NULL). */
    memset(&r.f, 0, sizeof(r.f));
    assert_null(md_key_fields_find(&r.f, "u", 0, &len));
}

/* A contract without keys takes nothing; a full arena is MD_ETOOBIG. */
static void test_no_keys_and_arena(void **state)
{
    static const char plain[] = "backend: trees\ntask: regression\n"
                                "features: [{name: x, datatype: FP32}]\n";
    struct md_contract *c;
    struct md_key_values *kv = (struct md_key_values *)1;
    struct md_arena small;
    struct md_err err;
    struct req r;

    (void)state;
    assert_int_equal(md_contract_parse(plain, sizeof(plain) - 1, "p", &c, &err), MD_OK);
    parse(&r, SHARED, "{\"u\":5}");
    assert_int_equal(md_keys_check(c, &r.f, header, NULL, 1, &r.a, &kv, &err), MD_OK);
    assert_null(kv);
    md_contract_free(c);

    md_arena_init(&small, 8);
    assert_int_equal(md_keys_check(contract, &r.f, header, NULL, 1, &small, &kv, &err), MD_ETOOBIG);
    assert_msg(err, "request too large");
    md_arena_release(&small);
    md_arena_release(&r.a);

    /* No header function: the body alone. */
    parse(&r, SHARED, "{}");
    assert_int_equal(md_keys_check(contract, &r.f, NULL, NULL, 1, &r.a, &kv, &err), MD_EINVAL);
    assert_msg(err, "key 'u': missing required key");
    md_arena_release(&r.a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_rows),   cmocka_unit_test(test_columns),
        cmocka_unit_test(test_find),   cmocka_unit_test(test_no_keys_and_arena),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
