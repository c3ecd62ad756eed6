/* SPDX-License-Identifier: MIT */
/*
 * test_tfs.c: decoding TensorFlow Serving :predict bodies with packed
 * numeric arrays. Every body is decoded twice: as sent, and with a tab after
 * each '[' outside strings, which the parser never packs (insignificant
 * whitespace, the same document): both must give the same outcome, the same
 * message and the same tensors. A 2,000-row request must fit an arena that a
 * node per number would overflow.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "api/tfs.h"

static const char yaml[] =
    "backend: trees\n"
    "task: classification\n"
    "labels: [a, b]\n"
    "features:\n"
    "  - {name: x, datatype: FP32}\n"
    "  - {name: n, datatype: INT32, required: false}\n"
    "  - {name: b, datatype: BOOL, required: false}\n"
    "  - {name: c, datatype: BYTES, categories: [u, v, w], required: false}\n"
    "  - {name: d, datatype: FP64, required: false, allow_nan: true}\n"
    "  - {name: k, datatype: INT64, required: false}\n";

/* The same features without the BYTES one: rows given as lists make one 2-D tensor. */
static const char num_yaml[] =
    "backend: trees\n"
    "task: classification\n"
    "labels: [a, b]\n"
    "features:\n"
    "  - {name: x, datatype: FP32}\n"
    "  - {name: n, datatype: INT32, required: false}\n"
    "  - {name: b, datatype: BOOL, required: false}\n"
    "  - {name: c, datatype: INT64, categories: [1, 2], required: false}\n"
    "  - {name: d, datatype: FP64, required: false, allow_nan: true}\n"
    "  - {name: k, datatype: INT64, required: false}\n";

static const char one_yaml[] = "backend: trees\n"
                               "task: regression\n"
                               "features:\n"
                               "  - {name: v, datatype: FP32}\n";

/* num's features with keys: a key is no input, and a field neither is an unknown feature. */
static const char keyed_yaml[] = "backend: trees\n"
                                 "task: classification\n"
                                 "labels: [a, b]\n"
                                 "features:\n"
                                 "  - {name: x, datatype: FP32}\n"
                                 "  - {name: n, datatype: INT32, required: false}\n"
                                 "keys: [{name: uid}, {name: txn, type: int64}]\n";

static struct md_contract *contract;
static struct md_contract *num;
static struct md_contract *one;
static struct md_contract *keyed;

/* One decoding: its outcome, message and tensors, in its own arena. */
struct outcome {
    struct md_arena arena;
    struct md_err err;
    struct md_tensor *ts;
    size_t n;
    bool rows;
    int rc;
    char *body;
};

static int setup(void **state)
{
    struct md_err err;

    MD_UNUSED(state);
    if (md_contract_parse(yaml, sizeof(yaml) - 1, "m", &contract, &err) != MD_OK ||
        md_contract_parse(num_yaml, sizeof(num_yaml) - 1, "num", &num, &err) != MD_OK ||
        md_contract_parse(one_yaml, sizeof(one_yaml) - 1, "one", &one, &err) != MD_OK ||
        md_contract_parse(keyed_yaml, sizeof(keyed_yaml) - 1, "keyed", &keyed, &err) != MD_OK) {
        print_error("contract: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    MD_UNUSED(state);
    md_contract_free(contract);
    md_contract_free(num);
    md_contract_free(one);
    md_contract_free(keyed);
    return 0;
}

/* Decodes body[0..len) from an exact-length copy, in an arena of at most max bytes. */
static void decode(const struct md_contract *c, const char *body, size_t len, size_t max,
                   struct outcome *o)
{
    o->body = malloc(len + 1);
    assert_non_null(o->body);
    memcpy(o->body, body, len);
    md_arena_init(&o->arena, max);
    md_err_clear(&o->err);
    o->rc =
        md_tfs_decode_predict(c, o->body, len, &o->arena, &o->ts, &o->n, &o->rows, NULL, &o->err);
}

static void release(struct outcome *o)
{
    md_arena_release(&o->arena);
    free(o->body);
}

/* body with a tab after every '[' outside strings: nothing in it is packed. */
static char *unpacked(const char *body, size_t *len)
{
    size_t n = strlen(body);
    char *out = malloc(2 * n + 1);
    bool in_string = false;
    size_t i;
    size_t k = 0;

    assert_non_null(out);
    for (i = 0; i < n; i++) {
        out[k++] = body[i];
        if (in_string && body[i] == '\\' && i + 1 < n)
            out[k++] = body[++i];
        else if (body[i] == '"')
            in_string = !in_string;
        else if (!in_string && body[i] == '[')
            out[k++] = '\t';
    }
    out[k] = '\0';
    *len = k;
    return out;
}

static void same_tensor(const struct md_tensor *x, const struct md_tensor *y)
{
    size_t i;

    assert_string_equal(x->name, y->name);
    assert_int_equal(x->dtype, y->dtype);
    assert_int_equal(x->ndim, y->ndim);
    assert_memory_equal(x->shape, y->shape, sizeof(x->shape));
    assert_int_equal(x->count, y->count);
    assert_int_equal(x->missing != NULL, y->missing != NULL);
    if (x->missing != NULL)
        assert_memory_equal(x->missing, y->missing, x->count);
    if (x->dtype != MD_DT_BYTES) {
        if (x->count > 0)
            assert_memory_equal(x->data, y->data, x->count * md_dtype_size(x->dtype));
        return;
    }
    for (i = 0; i < x->count; i++) {
        const struct md_bytes *a = &((const struct md_bytes *)x->data)[i];
        const struct md_bytes *b = &((const struct md_bytes *)y->data)[i];

        assert_int_equal(a->len, b->len);
        if (a->len > 0)
            assert_memory_equal(a->p, b->p, a->len);
    }
}

/*
 * Decodes body packed and unpacked; both must agree. Returns the packed
 * outcome's code and, in msg (may be NULL), its message.
 */
static int both_ways(const struct md_contract *c, const char *body, char *msg, size_t msg_size)
{
    struct outcome p;
    struct outcome u;
    size_t ulen;
    char *ubody = unpacked(body, &ulen);
    size_t i;
    int rc;

    decode(c, body, strlen(body), (size_t)64 << 20, &p);
    decode(c, ubody, ulen, (size_t)64 << 20, &u);
    free(ubody);
    if (p.rc != u.rc || strcmp(p.err.msg, u.err.msg) != 0)
        fail_msg("body %s: packed %d '%s', unpacked %d '%s'", body, p.rc, p.err.msg, u.rc,
                 u.err.msg);
    if (p.rc == MD_OK) {
        assert_int_equal(p.n, u.n);
        assert_int_equal(p.rows, u.rows);
        for (i = 0; i < p.n; i++)
            same_tensor(&p.ts[i], &u.ts[i]);
    }
    if (msg != NULL)
        snprintf(msg, msg_size, "%s", p.err.msg);
    rc = p.rc;
    release(&p);
    release(&u);
    return rc;
}

static void expect_ok(const struct md_contract *c, const char *body)
{
    char msg[256];

    if (both_ways(c, body, msg, sizeof(msg)) != MD_OK)
        fail_msg("body %s: %s", body, msg);
}

static void expect_error(const struct md_contract *c, const char *body, const char *want)
{
    char msg[256];

    if (both_ways(c, body, msg, sizeof(msg)) != MD_EINVAL)
        fail_msg("body %s: expected an error '%s'", body, want);
    if (strcmp(msg, want) != 0)
        fail_msg("body %s: message '%s', expected '%s'", body, msg, want);
}

static void test_rows_as_lists(void **state)
{
    MD_UNUSED(state);
    expect_ok(num, "{\"instances\": [[1, 2, 0, 1, 0.5, 7], [-1e3, 3, 1, 2, 1e-300, -8]]}");
    expect_ok(num, "{\"instances\": [[1, 2, 0, 1, NaN, 7], [1, 2, 0, 1, 0, 0]]}");
    expect_ok(num, "{\"instances\": [[1, null, 0, 1, 0, 0]], \"signature_name\": \"\"}");
    expect_ok(num, "{\"inputs\": [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]]}");
    expect_ok(num, "{\"inputs\": {\"features\": [[1,2,3,4,5,6],[6,5,4,3,2,1]]}}");
    expect_error(num, "{\"instances\": [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 1e400, 6]]}",
                 "instances[1][4]: not of expected type: double");
    expect_error(num, "{\"instances\": [[1, 2, 3], [1, 2, true]]}",
                 "instances[1][2]: not of expected type: double");
    expect_error(num, "{\"instances\": [[1, 2, 3], [1, 2]]}",
                 "instances[1]: expected a list of 3 values like the first row");
    expect_error(num, "{\"inputs\": [[1, 2], [3, [4]]]}", "inputs[1][1]: expected a number");
}

/*
 * Rows as lists for a model with a BYTES feature: one tensor per feature in
 * the contract's order, each value read as its feature's datatype (as rows
 * of named features are), and errors naming the row and the feature.
 */
static void test_rows_as_lists_with_bytes(void **state)
{
    struct outcome o;
    const char *body = "{\"instances\": [[4.8, 2, true, \"u\", 0.5, 7],"
                       " [1, null, false, {\"b64\": \"dw==\"}, NaN, -1]]}";

    MD_UNUSED(state);
    decode(contract, body, strlen(body), (size_t)1 << 20, &o);
    if (o.rc != MD_OK)
        fail_msg("%s", o.err.msg);
    assert_true(o.rows);
    assert_int_equal(o.n, 6);
    assert_string_equal(o.ts[0].name, "x");
    assert_int_equal(o.ts[0].dtype, MD_DT_FP32);
    assert_int_equal(o.ts[0].count, 2);
    assert_true(((const float *)o.ts[0].data)[0] == 4.8f);
    assert_int_equal(o.ts[1].dtype, MD_DT_INT32);
    assert_int_equal(((const int32_t *)o.ts[1].data)[0], 2);
    assert_true(o.ts[1].missing != NULL && o.ts[1].missing[1] == 1);
    assert_int_equal(((const uint8_t *)o.ts[2].data)[0], 1);
    assert_string_equal(o.ts[3].name, "c");
    assert_int_equal(o.ts[3].dtype, MD_DT_BYTES);
    assert_memory_equal(((const struct md_bytes *)o.ts[3].data)[0].p, "u", 1);
    assert_memory_equal(((const struct md_bytes *)o.ts[3].data)[1].p, "w", 1);
    assert_true(isnan(((const double *)o.ts[4].data)[1]));
    assert_int_equal(((const int64_t *)o.ts[5].data)[1], -1);
    release(&o);

    expect_ok(contract, "{\"instances\": [[1, 2, false, \"v\", 0, 0]]}");
    expect_ok(contract, "{\"instances\": [[1, 2, true, [\"v\"], [0.5], 3]]}");
    expect_ok(contract,
              "{\"inputs\": [[1, null, null, null, null, null], [2, 3, true, \"w\", 1, 2]]}");
    expect_error(contract,
                 "{\"instances\": [[1, 2, true, \"v\", 0.5, 3], [1, 2, true, \"v\", 0.5]]}",
                 "instances[1]: expected a list of 6 values in feature order (x, n, b, c, d, k), "
                 "got 5");
    expect_error(contract, "{\"instances\": [[1, 2, true, \"v\", 0.5, 3], {\"x\": 1}]}",
                 "instances[1]: expected a list of 6 values in feature order (x, n, b, c, d, k), "
                 "got something else");
    expect_error(contract, "{\"instances\": [[\"1\", 2, true, \"v\", 0.5, 3]]}",
                 "instances[0] feature 'x': not of expected type: float");
    expect_error(contract, "{\"instances\": [[1, 2, true, 5, 0.5, 3]]}",
                 "instances[0] feature 'c': not of expected type: string");
    expect_error(contract,
                 "{\"instances\": [[1, 2, true, \"u\", 0.5, 3], [1, 2.5, 0, \"u\", 1, 3]]}",
                 "instances[1] feature 'n': not of expected type: int32");
    expect_error(contract, "{\"instances\": [[1, 2, 1, \"u\", 0.5, 3]]}",
                 "instances[0] feature 'b': not of expected type: bool");
    expect_error(contract, "{\"inputs\": [[1, 2, true, \"u\", 0.5, {\"b64\": \"dw==\"}]]}",
                 "inputs[0] feature 'k': not of expected type: int64");
    /* All numbers: a packed row, read value by value the same way. */
    expect_error(contract, "{\"instances\": [[1, 2, 0, 3, 4, 5]]}",
                 "instances[0] feature 'b': not of expected type: bool");
}

static void test_rows_as_objects(void **state)
{
    MD_UNUSED(state);
    expect_ok(contract, "{\"instances\": [{\"x\": [1.5], \"n\": [3], \"k\": [-4], \"d\": [2]},"
                        " {\"x\": 2, \"b\": [true], \"c\": [\"w\"], \"n\": null}]}");
    expect_ok(contract, "{\"instances\": [{\"x\": [1e-50], \"d\": [1e308]}]}");
    expect_error(contract, "{\"instances\": [{\"x\": [1, 2]}]}",
                 "instances[0] feature 'x': not of expected type: float");
    expect_error(contract, "{\"instances\": [{\"x\": 1}, {\"x\": [1e39]}]}",
                 "instances[1] feature 'x': not of expected type: float");
    expect_error(contract, "{\"instances\": [{\"x\": 1, \"n\": [2147483648]}]}",
                 "instances[0] feature 'n': not of expected type: int32");
    expect_error(contract, "{\"instances\": [{\"x\": 1, \"b\": [1]}]}",
                 "instances[0] feature 'b': not of expected type: bool");
    expect_error(contract, "{\"instances\": [{\"x\": 1}, [1, 2]]}",
                 "instances[1]: expected an object of named features like the first row");
}

static void test_columns(void **state)
{
    MD_UNUSED(state);
    expect_ok(contract, "{\"inputs\": {\"x\": [1, 2.5, -3e-2], \"n\": [1, -2, 3],"
                        " \"k\": [9007199254740993, 0, -1], \"d\": [0.1, 1e-320, 5]}}");
    expect_ok(contract, "{\"inputs\": {\"x\": [[1], [2], [3]], \"c\": [\"u\", {\"b64\": \"dg==\"},"
                        " null]}}");
    expect_ok(contract, "{\"inputs\": {\"x\": [1, NaN, 2], \"d\": [Infinity, -Infinity, 0]}}");
    expect_error(contract, "{\"inputs\": {\"x\": [1, 2, 1e39]}}",
                 "inputs 'x'[2]: not of expected type: float");
    expect_error(contract, "{\"inputs\": {\"d\": [1, 1e999]}}",
                 "inputs 'd'[1]: not of expected type: double");
    expect_error(contract, "{\"inputs\": {\"n\": [1, 2.5]}}",
                 "inputs 'n'[1]: not of expected type: int32");
    expect_error(contract, "{\"inputs\": {\"k\": [1, 9223372036854775808]}}",
                 "inputs 'k'[1]: not of expected type: int64");
    expect_error(contract, "{\"inputs\": {\"b\": [0, 1]}}",
                 "inputs 'b'[0]: not of expected type: bool");
    expect_error(contract, "{\"inputs\": {\"c\": [5]}}",
                 "inputs 'c'[0]: not of expected type: string");
}

/* Key fields of rows and columns are no inputs; the fields say where they are. */
static void test_keys_are_no_inputs(void **state)
{
    static const char rows[] =
        "{\"instances\": [{\"x\": 1, \"uid\": \"a\", \"txn\": 5}, {\"uid\": \"b\", \"x\": 2}]}";
    static const char cols[] = "{\"inputs\": {\"uid\": [\"a\", \"b\"], \"x\": [1, 2], \"txn\": 3}}";
    struct md_key_fields f;
    struct md_arena a;
    struct md_err err;
    struct md_tensor *ts;
    size_t n;
    size_t len;
    bool r;
    const char *v;

    MD_UNUSED(state);
    md_arena_init(&a, 1 << 20);
    assert_int_equal(md_tfs_decode_predict(keyed, rows, strlen(rows), &a, &ts, &n, &r, &f, &err),
                     MD_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ts[0].name, "x");
    assert_int_equal(ts[0].count, 2);
    assert_non_null(f.rows);
    assert_null(f.shared);
    assert_null(f.columns);
    v = md_key_fields_find(&f, "uid", 1, &len);
    assert_true(v != NULL && len == 1 && v[0] == 'b');
    md_arena_reset(&a);

    assert_int_equal(md_tfs_decode_predict(keyed, cols, strlen(cols), &a, &ts, &n, &r, &f, &err),
                     MD_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ts[0].name, "x");
    assert_non_null(f.columns);
    assert_null(f.rows);
    v = md_key_fields_find(&f, "txn", 1, &len);
    assert_true(v != NULL && len == 1 && v[0] == '3');
    md_arena_reset(&a);

    /* A field that is neither, in either form; a key's name for a model without keys. */
    expect_error(keyed, "{\"instances\": [{\"x\": 1, \"uid\": \"a\", \"colour\": 2}]}",
                 "instances[0]: unknown feature 'colour'");
    expect_error(keyed, "{\"inputs\": {\"x\": [1], \"colour\": [2]}}",
                 "inputs: unknown feature 'colour'");
    expect_error(num, "{\"instances\": [{\"x\": 1, \"uid\": \"a\"}]}",
                 "instances[0]: unknown feature 'uid'");
    /* A body that fails to parse still says where its fields would be. */
    assert_int_equal(md_tfs_decode_predict(keyed, "{\"inputs\": 5}", 13, &a, &ts, &n, &r, &f, &err),
                     MD_EINVAL);
    assert_null(f.columns);
    assert_null(f.rows);
    md_arena_release(&a);
}

static void test_flat_lists(void **state)
{
    MD_UNUSED(state);
    /* A list of numbers is one feature's column, for a model of one feature only. */
    expect_ok(one, "{\"instances\": [1, 2.5, -3]}");
    expect_ok(one, "{\"instances\": [[1], [2.5]]}");
    expect_ok(one, "{\"inputs\": [0.5, 0.25]}");
    expect_ok(one, "{\"inputs\": {\"v\": [4, 5]}}");
    expect_error(one, "{\"instances\": [1, 1e40]}", "inputs 'v'[1]: not of expected type: float");
    expect_error(contract, "{\"instances\": [1, 2]}",
                 "instances: a model with 6 features takes objects of named features or lists "
                 "in feature order");
    expect_error(contract, "{\"inputs\": [1, 2]}",
                 "inputs: expected an object of named features or a list of rows in feature "
                 "order");
    expect_error(contract, "{\"inputs\": {\"features\": [1, 2]}}",
                 "inputs: unknown feature 'features'");
}

/*
 * 2,000 rows of 30 numbers in 2 MiB of arena: a node per number (62,000
 * nodes) would not fit; packed rows do, and every value is the double its
 * text reads as.
 */
static void test_large_request_is_packed(void **state)
{
    enum { ROWS = 2000, COLS = 30 };
    static const char f30[] = "backend: trees\ntask: regression\nfeatures:\n";
    struct md_contract *c;
    struct outcome o;
    size_t yaml_size = sizeof(f30) + COLS * 64;
    size_t body_size = (size_t)ROWS * COLS * 32 + 64;
    char *yaml30 = malloc(yaml_size);
    char *body = malloc(body_size);
    size_t off;
    size_t i;
    size_t j;
    const double *d;

    MD_UNUSED(state);
    assert_non_null(yaml30);
    assert_non_null(body);
    off = (size_t)snprintf(yaml30, sizeof(f30), "%s", f30);
    for (j = 0; j < COLS; j++)
        off += (size_t)snprintf(yaml30 + off, yaml_size - off, "  - {name: f%zu, datatype: FP32}\n",
                                j);
    assert_int_equal(md_contract_parse(yaml30, off, "wide", &c, NULL), MD_OK);
    off = (size_t)snprintf(body, body_size, "{\"instances\": [");
    for (i = 0; i < ROWS; i++) {
        off += (size_t)snprintf(body + off, body_size - off, i > 0 ? ", [" : "[");
        for (j = 0; j < COLS; j++)
            off += (size_t)snprintf(body + off, body_size - off, j > 0 ? ", %.17g" : "%.17g",
                                    (double)i * 0.001 - (double)j / 7.0);
        off += (size_t)snprintf(body + off, body_size - off, "]");
    }
    off += (size_t)snprintf(body + off, body_size - off, "]}");
    assert_true(off < body_size);
    decode(c, body, off, (size_t)2 << 20, &o);
    if (o.rc != MD_OK)
        fail_msg("%s", o.err.msg);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.ts[0].dtype, MD_DT_FP64);
    assert_int_equal(o.ts[0].shape[0], ROWS);
    assert_int_equal(o.ts[0].shape[1], COLS);
    d = o.ts[0].data;
    for (i = 0; i < ROWS; i++)
        for (j = 0; j < COLS; j++) {
            char text[32];

            snprintf(text, sizeof(text), "%.17g", (double)i * 0.001 - (double)j / 7.0);
            assert_true(d[i * COLS + j] == strtod(text, NULL));
        }
    release(&o);
    /* The same rows unpacked take a node per number: more than the arena has. */
    {
        size_t ulen;
        char *ubody;

        body[off] = '\0';
        ubody = unpacked(body, &ulen);
        decode(c, ubody, ulen, (size_t)2 << 20, &o);
        assert_int_equal(o.rc, MD_ETOOBIG);
        release(&o);
        free(ubody);
    }
    md_contract_free(c);
    free(body);
    free(yaml30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_as_lists),      cmocka_unit_test(test_rows_as_lists_with_bytes),
        cmocka_unit_test(test_rows_as_objects),    cmocka_unit_test(test_columns),
        cmocka_unit_test(test_flat_lists),         cmocka_unit_test(test_large_request_is_packed),
        cmocka_unit_test(test_keys_are_no_inputs),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
