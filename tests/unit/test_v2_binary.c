/* SPDX-License-Identifier: MIT */
/*
 * test_v2_binary.c: the binary tensor data extension of the Open Inference
 * Protocol decoder: JSON header plus binary data for every datatype, BYTES
 * elements, mixed JSON and binary inputs, data used in place when aligned
 * and copied when not, raw binary bodies, the Inference-Header-Content-Length
 * value, and each error with its message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "api/v2_request.h"

static struct md_arena arena;
static struct md_infer_request req;
static struct md_err err;
static unsigned char *block;
static const char *body;
static size_t body_len;
static size_t json_len;

static int setup(void **state)
{
    MD_UNUSED(state);
    md_arena_init(&arena, (size_t)64 << 20);
    block = NULL;
    return 0;
}

static int teardown(void **state)
{
    MD_UNUSED(state);
    md_arena_release(&arena);
    free(block);
    block = NULL;
    return 0;
}

/*
 * Lays out json then bin[0..bin_len) in a fresh 64-byte aligned block so that
 * the binary part starts at an address that is mis modulo 64.
 */
static void build(const char *json, const void *bin, size_t bin_len, size_t mis)
{
    size_t jl = strlen(json);
    size_t shift = (mis + 64 - jl % 64) % 64;
    size_t size = (shift + jl + bin_len + 1 + 63) / 64 * 64;

    free(block);
    block = aligned_alloc(64, size);
    assert_non_null(block);
    memcpy(block + shift, json, jl);
    if (bin_len > 0)
        memcpy(block + shift + jl, bin, bin_len);
    block[shift + jl + bin_len] = '\0';
    body = (const char *)block + shift;
    body_len = jl + bin_len;
    json_len = jl;
    assert_int_equal((uintptr_t)(body + jl) % 64, mis);
}

static int decode(const char *json, const void *bin, size_t bin_len, size_t mis)
{
    build(json, bin, bin_len, mis);
    md_arena_reset(&arena);
    md_err_clear(&err);
    return md_v2_decode_infer_binary(body, body_len, json_len, "m", &arena, &req, &err);
}

static void decode_ok(const char *json, const void *bin, size_t bin_len, size_t mis)
{
    if (decode(json, bin, bin_len, mis) != MD_OK)
        fail_msg("%s (+%zu bytes at %zu): %s", json, bin_len, mis, err.msg);
}

static void expect_error(const char *json, const void *bin, size_t bin_len, const char *substring)
{
    int rc = decode(json, bin, bin_len, 0);

    if (rc != MD_EINVAL || err.code != MD_EINVAL || strstr(err.msg, substring) == NULL)
        fail_msg("%s (+%zu bytes): rc %d, message '%s'; wanted '%s'", json, bin_len, rc, err.msg,
                 substring);
}

/* v as n little-endian bytes at out. */
static void put_le(unsigned char *out, uint64_t v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = (unsigned char)(v >> (8 * i));
}

/* A BYTES element: 4-byte length, then s. Returns the bytes written. */
static size_t put_elem(unsigned char *out, const char *s, size_t n)
{
    put_le(out, n, 4);
    memcpy(out + 4, s, n);
    return 4 + n;
}

/* ------------------------------------------------------------------------
 * Valid requests
 * ------------------------------------------------------------------------ */

struct dtype_case {
    const char *name;
    enum md_dtype dt;
    size_t size;
    int64_t values[4]; /* as the tensor must read them back */
};

static const struct dtype_case dtype_cases[] = {
    {"BOOL", MD_DT_BOOL, 1, {0, 1, 1, 0}},
    {"UINT8", MD_DT_UINT8, 1, {0, 1, 200, 255}},
    {"UINT16", MD_DT_UINT16, 2, {0, 1, 300, 65535}},
    {"UINT32", MD_DT_UINT32, 4, {0, 7, 70000, 4294967295LL}},
    {"UINT64", MD_DT_UINT64, 8, {0, 9, 1LL << 40, 1LL << 52}},
    {"INT8", MD_DT_INT8, 1, {-128, -1, 0, 127}},
    {"INT16", MD_DT_INT16, 2, {-32768, -2, 3, 32767}},
    {"INT32", MD_DT_INT32, 4, {INT32_MIN, -5, 6, INT32_MAX}},
    {"INT64", MD_DT_INT64, 8, {-(1LL << 52), -3, 4, 1LL << 52}},
};

static void test_every_datatype(void **state)
{
    static const size_t shifts[] = {0, 1, 2, 3, 4, 5, 8, 12};
    unsigned char bin[64];
    char json[256];
    size_t c;
    size_t s;
    size_t i;

    MD_UNUSED(state);
    for (c = 0; c < MD_ARRAY_LEN(dtype_cases); c++) {
        const struct dtype_case *dc = &dtype_cases[c];

        for (i = 0; i < 4; i++)
            put_le(bin + i * dc->size, (uint64_t)dc->values[i], dc->size);
        snprintf(json, sizeof(json),
                 "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"%s\",\"shape\":[2,2],"
                 "\"parameters\":{\"binary_data_size\":%zu}}]}",
                 dc->name, 4 * dc->size);
        for (s = 0; s < MD_ARRAY_LEN(shifts); s++) {
            const struct md_tensor *t;
            bool aligned = shifts[s] % dc->size == 0;

            decode_ok(json, bin, 4 * dc->size, shifts[s]);
            assert_int_equal(req.n_inputs, 1);
            t = &req.inputs[0];
            assert_int_equal(t->dtype, dc->dt);
            assert_int_equal(t->count, 4);
            assert_null(t->missing);
            /* In place when aligned, an aligned copy when not. */
            assert_true((t->data == (const void *)(body + json_len)) == aligned);
            assert_int_equal((uintptr_t)t->data % dc->size, 0);
            for (i = 0; i < 4; i++)
                assert_true(md_tensor_get_f64(t, i) == (double)dc->values[i]);
        }
    }
}

static void test_floats(void **state)
{
    const float f[4] = {1.5f, -0.0f, NAN, INFINITY};
    const double d[3] = {0.1, -1e300, 5e-324};
    const uint16_t h[2] = {0x3c00, 0xfbff}; /* FP16 1 and -65504; BF16 bits alike */
    const struct md_tensor *t;
    size_t mis;

    MD_UNUSED(state);
    for (mis = 0; mis < 8; mis++) {
        unsigned char bin[16 + 24];

        memcpy(bin, f, 16);
        memcpy(bin + 16, d, 24);
        decode_ok("{\"inputs\":[{\"name\":\"f\",\"datatype\":\"FP32\",\"shape\":[4],"
                  "\"parameters\":{\"binary_data_size\":16}},"
                  "{\"name\":\"d\",\"datatype\":\"FP64\",\"shape\":[3,1],"
                  "\"parameters\":{\"binary_data_size\":24}}]}",
                  bin, sizeof(bin), mis);
        t = &req.inputs[0];
        assert_int_equal(t->dtype, MD_DT_FP32);
        assert_true(((const float *)t->data)[0] == 1.5f);
        assert_true(signbit(((const float *)t->data)[1]));
        assert_true(isnan(((const float *)t->data)[2]));
        assert_true(isinf(((const float *)t->data)[3]));
        assert_null(t->missing); /* NaN in binary is a value, not a null */
        assert_true((t->data == (const void *)(body + json_len)) == (mis % 4 == 0));
        t = &req.inputs[1];
        assert_int_equal(t->dtype, MD_DT_FP64);
        assert_int_equal(t->ndim, 2);
        assert_memory_equal(t->data, d, 24);
        assert_true((t->data == (const void *)(body + json_len + 16)) == (mis % 8 == 0));
    }
    decode_ok("{\"inputs\":[{\"name\":\"h\",\"datatype\":\"FP16\",\"shape\":[2],"
              "\"parameters\":{\"binary_data_size\":4}},"
              "{\"name\":\"b\",\"datatype\":\"BF16\",\"shape\":[1,2],"
              "\"parameters\":{\"binary_data_size\":4}}]}",
              (const unsigned char[]){0x00, 0x3c, 0xff, 0xfb, 0x00, 0x3c, 0xff, 0xfb}, 8, 1);
    assert_int_equal(req.inputs[0].dtype, MD_DT_FP16);
    assert_int_equal(req.inputs[1].dtype, MD_DT_BF16);
    assert_memory_equal(req.inputs[0].data, h, 4);
    assert_memory_equal(req.inputs[1].data, h, 4);
}

static void test_bytes(void **state)
{
    unsigned char bin[64];
    const struct md_bytes *v;
    size_t n = 0;

    MD_UNUSED(state);
    n += put_elem(bin + n, "", 0);
    n += put_elem(bin + n, "red", 3);
    n += put_elem(bin + n, "\0\xff\n", 3);
    decode_ok("{\"inputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[3,1],"
              "\"parameters\":{\"binary_data_size\":18}}]}",
              bin, n, 3);
    assert_int_equal(n, 18);
    v = req.inputs[0].data;
    assert_int_equal(req.inputs[0].count, 3);
    assert_int_equal(v[0].len, 0);
    assert_non_null(v[0].p); /* an empty string, not a null */
    assert_int_equal(v[1].len, 3);
    assert_memory_equal(v[1].p, "red", 3);
    assert_int_equal(v[2].len, 3);
    assert_memory_equal(v[2].p, "\0\xff\n", 3);
    /* The elements point into the body. */
    assert_ptr_equal(v[1].p, body + json_len + 8);
    assert_null(req.inputs[0].missing);
    /* No elements, no bytes. */
    decode_ok("{\"inputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[0],"
              "\"parameters\":{\"binary_data_size\":0}}]}",
              NULL, 0, 0);
    assert_int_equal(req.inputs[0].count, 0);
    assert_non_null(req.inputs[0].data);
}

static void test_mixed_inputs_and_outputs(void **state)
{
    unsigned char bin[64];
    const struct md_tensor *t;
    size_t n = 0;

    MD_UNUSED(state);
    put_le(bin, 7, 4);
    put_le(bin + 4, (uint64_t)-8, 4);
    n = 8;
    n += put_elem(bin + n, "blue", 4);
    bin[n++] = 1;
    bin[n++] = 0;
    decode_ok("{\"id\":\"r1\",\"parameters\":{\"binary_data_output\":true},\"inputs\":["
              "{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]},"
              "{\"name\":\"b\",\"datatype\":\"INT32\",\"shape\":[2],"
              "\"parameters\":{\"binary_data_size\":8,\"note\":\"kept\"}},"
              "{\"name\":\"c\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"green\"]},"
              "{\"name\":\"d\",\"datatype\":\"BYTES\",\"shape\":[1],"
              "\"parameters\":{\"binary_data_size\":8}},"
              "{\"parameters\":{\"binary_data_size\":2},\"name\":\"e\",\"datatype\":\"BOOL\","
              "\"shape\":[2]}],"
              "\"outputs\":[{\"name\":\"p\",\"parameters\":{\"binary_data\":false}},"
              "{\"name\":\"q\",\"parameters\":{\"binary_data\":true}},{\"name\":\"r\"}]}",
              bin, n, 0);
    assert_string_equal(req.id, "r1");
    assert_true(req.binary_output);
    assert_int_equal(req.n_inputs, 5);
    t = req.inputs;
    assert_string_equal(t[0].name, "a");
    assert_true(((const float *)t[0].data)[1] == 2.0f);
    assert_int_equal(((const int32_t *)t[1].data)[0], 7);
    assert_int_equal(((const int32_t *)t[1].data)[1], -8);
    assert_memory_equal(((const struct md_bytes *)t[2].data)[0].p, "green", 5);
    assert_int_equal(((const struct md_bytes *)t[3].data)[0].len, 4);
    assert_memory_equal(((const struct md_bytes *)t[3].data)[0].p, "blue", 4);
    assert_int_equal(((const uint8_t *)t[4].data)[0], 1);
    assert_int_equal(((const uint8_t *)t[4].data)[1], 0);
    assert_int_equal(req.n_outputs, 3);
    assert_true(req.outputs[0].binary_given);
    assert_false(req.outputs[0].binary);
    assert_true(req.outputs[1].binary_given);
    assert_true(req.outputs[1].binary);
    assert_false(req.outputs[2].binary_given);
    assert_false(req.outputs[2].binary);
    /* A header that covers the whole body: plain JSON, nothing binary. */
    decode_ok("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
              NULL, 0, 0);
    assert_int_equal(req.n_inputs, 1);
    /* Empty tensors take no bytes. */
    decode_ok("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[2,0],"
              "\"parameters\":{\"binary_data_size\":0}},"
              "{\"name\":\"b\",\"datatype\":\"INT8\",\"shape\":[1],"
              "\"parameters\":{\"binary_data_size\":1}}]}",
              "\x05", 1, 0);
    assert_int_equal(req.inputs[0].count, 0);
    assert_non_null(req.inputs[0].data);
    assert_int_equal(((const int8_t *)req.inputs[1].data)[0], 5);
}

/* 10,000 rows of 30 FP32 values: the bytes are the tensor, used in place. */
static void test_large_rows(void **state)
{
    const size_t rows = 10000;
    const size_t n = rows * 30;
    float *x = malloc(n * sizeof(*x));
    char json[256];
    size_t i;

    MD_UNUSED(state);
    assert_non_null(x);
    for (i = 0; i < n; i++)
        x[i] = (float)i * 0.25f - 3.0f;
    snprintf(json, sizeof(json),
             "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[%zu,30],"
             "\"parameters\":{\"binary_data_size\":%zu}}]}",
             rows, n * sizeof(*x));
    decode_ok(json, x, n * sizeof(*x), 0);
    assert_ptr_equal(req.inputs[0].data, body + json_len);
    assert_memory_equal(req.inputs[0].data, x, n * sizeof(*x));
    /* The arena held the small things only. */
    assert_true(arena.used < 4096);
    decode_ok(json, x, n * sizeof(*x), 2);
    assert_memory_equal(req.inputs[0].data, x, n * sizeof(*x));
    free(x);
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

#define X_BIN(dt, shape, params)                                                                   \
    "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"" dt "\",\"shape\":" shape                        \
    ",\"parameters\":{" params "}}]}"

static void test_errors(void **state)
{
    unsigned char bin[64];
    size_t n;

    MD_UNUSED(state);
    memset(bin, 0, sizeof(bin));
    /* binary_data_size itself. */
    expect_error(X_BIN("FP32", "[1]", "\"binary_data_size\":-4"), bin, 4,
                 "inputs[0].parameters.binary_data_size: expected a non-negative integer");
    expect_error(X_BIN("FP32", "[1]", "\"binary_data_size\":4.0"), bin, 4,
                 "inputs[0].parameters.binary_data_size: expected a non-negative integer");
    expect_error(X_BIN("FP32", "[1]", "\"binary_data_size\":\"4\""), bin, 4,
                 "inputs[0].parameters.binary_data_size: expected a non-negative integer");
    expect_error(X_BIN("FP32", "[1]", "\"binary_data_size\":99999999999999999999"), bin, 4,
                 "inputs[0].parameters.binary_data_size: expected a non-negative integer");
    expect_error("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1],"
                 "\"parameters\":{\"binary_data_size\":4}}]}",
                 bin, 4, "input 'x': both data and parameters.binary_data_size given");
    /* Too few bytes; too many. */
    expect_error(X_BIN("UINT32", "[2,2]", "\"binary_data_size\":16"), bin, 8,
                 "unexpected size for input 'x', expecting 16 additional bytes, 8 left in the "
                 "body");
    expect_error(X_BIN("UINT32", "[2,2]", "\"binary_data_size\":16"), bin, 19,
                 "unexpected additional input data for model 'm': 3 bytes after the last input");
    expect_error("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
                 "junk", 4, "unexpected additional input data for model 'm': 4 bytes");
    /* The size disagrees with shape and datatype. */
    expect_error(X_BIN("UINT32", "[2,2]", "\"binary_data_size\":12"), bin, 12,
                 "input byte size mismatch for input 'x': shape [2,2] of UINT32 needs 16 bytes, "
                 "binary_data_size is 12");
    expect_error(X_BIN("FP64", "[3]", "\"binary_data_size\":32"), bin, 32,
                 "input byte size mismatch for input 'x': shape [3] of FP64 needs 24 bytes, "
                 "binary_data_size is 32");
    expect_error(X_BIN("INT8", "[0]", "\"binary_data_size\":1"), bin, 1,
                 "input byte size mismatch for input 'x': shape [0] of INT8 needs 0 bytes");
    /* BOOL bytes are 0 or 1. */
    bin[1] = 2;
    expect_error(X_BIN("BOOL", "[3]", "\"binary_data_size\":3"), bin, 3,
                 "input 'x' element 1: BOOL byte 2 is not 0 or 1");
    bin[1] = 0;
    /* BYTES framing. */
    expect_error(X_BIN("BYTES", "[2]", "\"binary_data_size\":4"), bin, 4,
                 "input 'x': binary_data_size 4 is too small for the 2 BYTES elements of shape "
                 "[2]");
    n = put_elem(bin, "a", 1);
    memcpy(bin + n, "xyz", 3);
    expect_error(X_BIN("BYTES", "[2]", "\"binary_data_size\":8"), bin, 8,
                 "input 'x' element 1: its 4-byte length runs past binary_data_size 8");
    put_le(bin, 10, 4);
    expect_error(X_BIN("BYTES", "[1]", "\"binary_data_size\":7"), bin, 7,
                 "input 'x' element 0: length 10 runs past binary_data_size 7");
    put_le(bin, 0xffffffffu, 4);
    expect_error(X_BIN("BYTES", "[1]", "\"binary_data_size\":7"), bin, 7,
                 "input 'x' element 0: length 4294967295 runs past binary_data_size 7");
    n = put_elem(bin, "a", 1);
    expect_error(X_BIN("BYTES", "[1]", "\"binary_data_size\":7"), bin, 7,
                 "input 'x': binary_data_size 7 holds more than the 1 BYTES elements of shape [1] "
                 "(2 bytes left over)");
    /* The JSON part is still checked as JSON. */
    expect_error("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP16\",\"shape\":[1],\"data\":[1]}]}",
                 NULL, 0, "input 'x': FP16 data via JSON is not supported");
    expect_error("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1]}]}", NULL, 0,
                 "inputs[0].data: missing");
    /* A header that stops inside the JSON. */
    build("{\"inputs\":[]}", NULL, 0, 0);
    md_err_clear(&err);
    assert_int_equal(md_v2_decode_infer_binary(body, body_len, 5, "m", &arena, &req, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "invalid JSON at byte 5"));
    assert_int_equal(
        md_v2_decode_infer_binary(body, body_len, body_len + 1, "m", &arena, &req, &err),
        MD_EINVAL);
    assert_string_equal(err.msg,
                        "Inference-Header-Content-Length: 14 is larger than the body of 13 bytes");
    /* binary_data_size without the header: the JSON-only decoder refuses it. */
    build(X_BIN("FP32", "[1]", "\"binary_data_size\":4"), bin, 4, 0);
    assert_int_equal(md_v2_decode_infer(body, json_len, &arena, &req, &err), MD_EINVAL);
    assert_string_equal(err.msg, "input 'x': binary_data_size needs a valid "
                                 "Inference-Header-Content-Length header");
}

static void test_long_name_in_messages(void **state)
{
    char json[1024];
    char name[301];

    MD_UNUSED(state);
    memset(name, 'n', 300);
    name[300] = '\0';
    snprintf(json, sizeof(json),
             "{\"inputs\":[{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[1],"
             "\"parameters\":{\"binary_data_size\":4}}]}",
             name);
    assert_int_equal(decode(json, "ab", 2, 0), MD_EINVAL);
    assert_non_null(strstr(err.msg, "expecting 4 additional bytes"));
    assert_true(strlen(err.msg) < 200);
}

static void test_arena_limit(void **state)
{
    struct md_arena small;
    double *x = calloc(8192, sizeof(*x));
    const char *json = X_BIN("FP64", "[8192]", "\"binary_data_size\":65536");

    MD_UNUSED(state);
    assert_non_null(x);
    md_arena_init(&small, 16384);
    /* Aligned: no copy, fits. Misaligned: the copy passes the limit. */
    build(json, x, 65536, 0);
    assert_int_equal(md_v2_decode_infer_binary(body, body_len, json_len, "m", &small, &req, &err),
                     MD_OK);
    md_arena_reset(&small);
    build(json, x, 65536, 3);
    assert_int_equal(md_v2_decode_infer_binary(body, body_len, json_len, "m", &small, &req, &err),
                     MD_ETOOBIG);
    md_arena_release(&small);
    free(x);
}

/* ------------------------------------------------------------------------
 * The header value
 * ------------------------------------------------------------------------ */

static void test_header_length(void **state)
{
    static const struct {
        const char *value;
        size_t body;
        const char *error; /* NULL: accepted */
        size_t want;
    } cases[] = {
        {"0", 10, NULL, 0},
        {"10", 10, NULL, 10},
        {"007", 10, NULL, 7},
        {"+3", 10, NULL, 3},
        {"-0", 10, NULL, 0},
        {"2147483647", (size_t)1 << 32, NULL, 2147483647},
        {"11", 10, "Inference-Header-Content-Length: 11 is larger than the body of 10 bytes", 0},
        {"-1", 10, "Inference-Header-Content-Length: '-1' is negative", 0},
        {"2147483648", (size_t)1 << 32,
         "Inference-Header-Content-Length: '2147483648' is out of "
         "range",
         0},
        {"99999999999999999999999", 10, "is out of range", 0},
        {"", 10, "Inference-Header-Content-Length: '' is not an integer", 0},
        {"12a", 10, "Inference-Header-Content-Length: '12a' is not an integer", 0},
        {"1.5", 10, "'1.5' is not an integer", 0},
        {" 5", 10, "' 5' is not an integer", 0},
        {"-", 10, "'-' is not an integer", 0},
        {"0x10", 100, "'0x10' is not an integer", 0},
    };
    size_t i;
    size_t got;

    MD_UNUSED(state);
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        int rc;

        md_err_clear(&err);
        got = 99;
        rc = md_v2_header_length(cases[i].value, cases[i].body, &got, &err);
        if (cases[i].error == NULL) {
            if (rc != MD_OK || got != cases[i].want)
                fail_msg("'%s': rc %d (%s), got %zu", cases[i].value, rc, err.msg, got);
        } else if (rc != MD_EINVAL || strstr(err.msg, cases[i].error) == NULL) {
            fail_msg("'%s': rc %d, message '%s'; wanted '%s'", cases[i].value, rc, err.msg,
                     cases[i].error);
        }
    }
    assert_int_equal(md_v2_header_length(NULL, 10, &got, &err), MD_EINVAL);
}

/* ------------------------------------------------------------------------
 * Raw binary bodies
 * ------------------------------------------------------------------------ */

static int raw(const void *bytes, size_t n, size_t mis, const char *name, enum md_dtype dt,
               size_t width)
{
    build("", bytes, n, mis);
    md_arena_reset(&arena);
    md_err_clear(&err);
    return md_v2_decode_raw(body, body_len, name, dt, width, &arena, &req, &err);
}

static void test_raw(void **state)
{
    const float rows[6] = {1, 2, 3, 4, 5, 6};
    const int64_t big[2] = {-(1LL << 40), 1LL << 40};
    const struct md_tensor *t;
    size_t mis;

    MD_UNUSED(state);
    for (mis = 0; mis < 4; mis++) {
        assert_int_equal(raw(rows, sizeof(rows), mis, "features", MD_DT_FP32, 3), MD_OK);
        assert_true(req.binary_output);
        assert_int_equal(req.n_outputs, 0);
        assert_int_equal(req.n_inputs, 1);
        t = &req.inputs[0];
        assert_string_equal(t->name, "features");
        assert_int_equal(t->ndim, 2);
        assert_int_equal(t->shape[0], 2);
        assert_int_equal(t->shape[1], 3);
        assert_int_equal(t->count, 6);
        assert_memory_equal(t->data, rows, sizeof(rows));
        assert_true((t->data == (const void *)body) == (mis == 0));
    }
    assert_int_equal(raw(big, sizeof(big), 4, "n", MD_DT_INT64, 1), MD_OK);
    assert_int_equal(req.inputs[0].shape[0], 2);
    assert_true(md_tensor_get_f64(&req.inputs[0], 0) == -(double)(1LL << 40));
    assert_int_equal(raw("\x01\x00\x01", 3, 0, "b", MD_DT_BOOL, 1), MD_OK);
    assert_int_equal(req.inputs[0].count, 3);
    assert_int_equal(raw("any bytes\0at all", 16, 1, "s", MD_DT_BYTES, 1), MD_OK);
    t = &req.inputs[0];
    assert_int_equal(t->ndim, 1);
    assert_int_equal(t->shape[0], 1);
    assert_int_equal(((const struct md_bytes *)t->data)[0].len, 16);
    assert_ptr_equal(((const struct md_bytes *)t->data)[0].p, body);
    assert_int_equal(raw("", 0, 0, "s", MD_DT_BYTES, 1), MD_OK);
    /* Errors. */
    assert_int_equal(raw(rows, 20, 0, "features", MD_DT_FP32, 3), MD_EINVAL);
    assert_string_equal(err.msg, "raw binary request: 20 bytes is not a whole, non-zero number "
                                 "of rows of 3 FP32 values (12 bytes each)");
    assert_int_equal(raw(rows, 0, 0, "features", MD_DT_FP32, 3), MD_EINVAL);
    assert_non_null(strstr(err.msg, "0 bytes is not a whole, non-zero number of rows"));
    assert_int_equal(raw("\x01\x02", 2, 0, "b", MD_DT_BOOL, 1), MD_EINVAL);
    assert_string_equal(err.msg, "input 'b' element 1: BOOL byte 2 is not 0 or 1");
    assert_int_equal(raw("abc", 3, 0, "s", MD_DT_BYTES, 2), MD_EINVAL);
    assert_non_null(strstr(err.msg, "a BYTES input is one element"));
    assert_int_equal(raw(rows, 24, 0, "x", MD_DT_FP32, 0), MD_EINVAL);
    assert_int_equal(raw(rows, 24, 0, "x", MD_DT_INVALID, 1), MD_EINVAL);
    assert_non_null(strstr(err.msg, "cannot take INVALID rows"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_datatype),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_mixed_inputs_and_outputs),
        cmocka_unit_test(test_large_rows),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_name_in_messages),
        cmocka_unit_test(test_arena_limit),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_raw),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
