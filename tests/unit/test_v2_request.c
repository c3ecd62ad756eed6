/* SPDX-License-Identifier: MIT */
/*
 * test_v2_request.c: decoding Open Inference Protocol infer request bodies
 * into tensors: every datatype, nested and flat data, null leaves, scalars,
 * zero-sized tensors, and each error with its message.
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
static char *body_copy;

static int setup(void **state)
{
    MD_UNUSED(state);
    md_arena_init(&arena, (size_t)64 << 20);
    body_copy = NULL;
    return 0;
}

static int teardown(void **state)
{
    MD_UNUSED(state);
    md_arena_release(&arena);
    free(body_copy);
    body_copy = NULL;
    return 0;
}

/* Decodes body from an exact-length copy (bodies are never NUL-terminated). */
static int decode(const char *body)
{
    size_t len = strlen(body);

    free(body_copy);
    body_copy = malloc(len + 1);
    assert_non_null(body_copy);
    memcpy(body_copy, body, len);
    md_arena_reset(&arena);
    md_err_clear(&err);
    return md_v2_decode_infer(body_copy, len, &arena, &req, &err);
}

static void decode_ok(const char *body)
{
    if (decode(body) != MD_OK)
        fail_msg("body %s: %s", body, err.msg);
}

static void expect_error(const char *body, int code, const char *substring)
{
    int rc = decode(body);

    if (rc != code || err.code != code || strstr(err.msg, substring) == NULL)
        fail_msg("body %s: rc %d, message '%s'; wanted %d with '%s'", body, rc, err.msg, code,
                 substring);
}

/* One input named x of datatype dt with the given shape and data. */
static int decode_x(const char *dt, const char *shape, const char *data)
{
    char body[2048];

    snprintf(body, sizeof(body),
             "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"%s\",\"shape\":%s,\"data\":%s}]}", dt,
             shape, data);
    return decode(body);
}

static void x_ok(const char *dt, const char *shape, const char *data)
{
    if (decode_x(dt, shape, data) != MD_OK)
        fail_msg("%s %s %s: %s", dt, shape, data, err.msg);
    assert_int_equal(req.n_inputs, 1);
}

static void x_error(const char *dt, const char *shape, const char *data, const char *substring)
{
    int rc = decode_x(dt, shape, data);

    if (rc != MD_EINVAL || strstr(err.msg, substring) == NULL)
        fail_msg("%s %s %s: rc %d, message '%s'; wanted '%s'", dt, shape, data, rc, err.msg,
                 substring);
}

/* ------------------------------------------------------------------------
 * Valid requests
 * ------------------------------------------------------------------------ */

/* The single-row benchmark body, as the peers' v2_body.py writes it. */
static const char bench_body[] =
    "{\"id\": \"bench\", \"inputs\": [{\"name\": \"features\", \"shape\": [1, 30], "
    "\"datatype\": \"FP32\", \"data\": [0.36904600262641907, 0.2987455427646637, "
    "-0.27413785457611084, -0.8905918598175049, -0.454670786857605, -0.9916465282440186, "
    "0.0601436011493206, 1.3402152061462402, -0.49220651388168335, -0.6204748749732971, "
    "0.4898420572280884, 0.35688701272010803, 0.1054142490029335, -0.9304680228233337, "
    "-0.02925182320177555, 0.695303201675415, -1.3442145586013794, -0.45761576294898987, "
    "-1.9012227058410645, -1.289537787437439, -1.8417350053787231, -0.23509113490581512, "
    "-1.267446517944336, 0.27126434445381165, 0.15675108134746552, -0.18693093955516815, "
    "-2.5167596340179443, -0.5386928915977478, -0.048500943928956985, 0.11330898851156235]}]}";

static void test_bench_body(void **state)
{
    const struct md_tensor *t;
    const char *p;
    size_t i;

    MD_UNUSED(state);
    assert_int_equal(strlen(bench_body), 725);
    decode_ok(bench_body);
    assert_string_equal(req.id, "bench");
    assert_int_equal(req.n_inputs, 1);
    assert_int_equal(req.n_outputs, 0);
    assert_null(req.outputs);
    assert_false(req.binary_output);
    assert_int_equal(req.timeout_us, 0);
    t = &req.inputs[0];
    assert_string_equal(t->name, "features");
    assert_int_equal(t->dtype, MD_DT_FP32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 1);
    assert_int_equal(t->shape[1], 30);
    assert_int_equal(t->count, 30);
    assert_null(t->missing);
    /* Each value is the float nearest the double nearest the text. */
    p = strstr(bench_body, "\"data\": [") + 9;
    for (i = 0; i < 30; i++) {
        char *end;
        float want = (float)strtod(p, &end);

        assert_true(((const float *)t->data)[i] == want);
        p = end + 2;
    }
}

static void test_every_datatype(void **state)
{
    const void *d;

    MD_UNUSED(state);
    x_ok("BOOL", "[3]", "[true,false,true]");
    d = req.inputs[0].data;
    assert_int_equal(((const uint8_t *)d)[0], 1);
    assert_int_equal(((const uint8_t *)d)[1], 0);
    assert_int_equal(((const uint8_t *)d)[2], 1);
    x_ok("UINT8", "[3]", "[0,255,-0]");
    assert_int_equal(((const uint8_t *)req.inputs[0].data)[1], 255);
    x_ok("UINT16", "[2]", "[0,65535]");
    assert_int_equal(((const uint16_t *)req.inputs[0].data)[1], 65535);
    x_ok("UINT32", "[2]", "[1,4294967295]");
    assert_true(((const uint32_t *)req.inputs[0].data)[1] == 4294967295u);
    x_ok("UINT64", "[2]", "[0,18446744073709551615]");
    assert_true(((const uint64_t *)req.inputs[0].data)[1] == UINT64_MAX);
    x_ok("INT8", "[2]", "[-128,127]");
    assert_int_equal(((const int8_t *)req.inputs[0].data)[0], -128);
    assert_int_equal(((const int8_t *)req.inputs[0].data)[1], 127);
    x_ok("INT16", "[2]", "[-32768,32767]");
    assert_int_equal(((const int16_t *)req.inputs[0].data)[0], -32768);
    x_ok("INT32", "[2]", "[-2147483648,2147483647]");
    assert_int_equal(((const int32_t *)req.inputs[0].data)[0], INT32_MIN);
    assert_int_equal(((const int32_t *)req.inputs[0].data)[1], INT32_MAX);
    x_ok("INT64", "[3]", "[-9223372036854775808,9223372036854775807,9007199254740993]");
    assert_true(((const int64_t *)req.inputs[0].data)[0] == INT64_MIN);
    assert_true(((const int64_t *)req.inputs[0].data)[1] == INT64_MAX);
    assert_true(((const int64_t *)req.inputs[0].data)[2] == 9007199254740993LL);
    x_ok("FP32", "[4]", "[1.5,-2,3.4028234e38,1e-50]");
    assert_true(((const float *)req.inputs[0].data)[0] == 1.5f);
    assert_true(((const float *)req.inputs[0].data)[1] == -2.0f);
    assert_true(((const float *)req.inputs[0].data)[2] == (float)3.4028234e38);
    assert_true(((const float *)req.inputs[0].data)[3] == 0.0f);
    x_ok("FP64", "[3]", "[1.7976931348623157e308,-0.0,9007199254740993]");
    assert_true(((const double *)req.inputs[0].data)[0] == 1.7976931348623157e308);
    assert_true(signbit(((const double *)req.inputs[0].data)[1]));
    assert_true(((const double *)req.inputs[0].data)[2] == 9007199254740992.0);
    x_ok("BYTES", "[3]", "[\"abc\",\"\",\"caf\\u00e9\"]");
    d = req.inputs[0].data;
    assert_int_equal(((const struct md_bytes *)d)[0].len, 3);
    assert_memory_equal(((const struct md_bytes *)d)[0].p, "abc", 3);
    assert_non_null(((const struct md_bytes *)d)[1].p);
    assert_int_equal(((const struct md_bytes *)d)[1].len, 0);
    assert_int_equal(((const struct md_bytes *)d)[2].len, 5);
    assert_memory_equal(((const struct md_bytes *)d)[2].p, "caf\xc3\xa9", 5);
    assert_null(req.inputs[0].missing);
}

static void test_nested_data(void **state)
{
    const struct md_tensor *t;
    int i;

    MD_UNUSED(state);
    x_ok("INT32", "[2,3]", "[[1,2,3],[4,5,6]]");
    t = &req.inputs[0];
    assert_int_equal(t->count, 6);
    for (i = 0; i < 6; i++)
        assert_int_equal(((const int32_t *)t->data)[i], i + 1);
    x_ok("FP32", "[1,2,1]", "[[[1],[2]]]");
    assert_true(((const float *)req.inputs[0].data)[1] == 2.0f);
    /* Only leaves count, as in Triton: any nesting of the right total passes. */
    x_ok("FP64", "[4]", "[1,[2,3],4]");
    assert_true(((const double *)req.inputs[0].data)[3] == 4.0);
    x_ok("FP32", "[2,2]", "[1,2,3,4]");
    x_ok("FP32", "[4]", "[[1,2],[3,4]]");
    x_ok("BYTES", "[2,1]", "[[\"a\"],[\"b\"]]");
    assert_memory_equal(((const struct md_bytes *)req.inputs[0].data)[1].p, "b", 1);
    x_ok("BOOL", "[2,2]", "[[true,false],[false,true]]");
    assert_int_equal(((const uint8_t *)req.inputs[0].data)[3], 1);
    /* As many elements as leaves at the top, but nested: still counted right. */
    x_ok("INT8", "[3]", "[[1,2],[3]]");
    assert_int_equal(((const int8_t *)req.inputs[0].data)[2], 3);
    x_ok("INT8", "[2]", "[[1,2],[]]");
}

static void test_null_leaves(void **state)
{
    const struct md_tensor *t;

    MD_UNUSED(state);
    x_ok("FP32", "[3]", "[1,null,3]");
    t = &req.inputs[0];
    assert_non_null(t->missing);
    assert_int_equal(t->missing[0], 0);
    assert_int_equal(t->missing[1], 1);
    assert_int_equal(t->missing[2], 0);
    assert_true(isnan(((const float *)t->data)[1]));
    assert_true(((const float *)t->data)[2] == 3.0f);
    x_ok("FP64", "[2,2]", "[[null,1],[2,null]]");
    t = &req.inputs[0];
    assert_int_equal(t->missing[0], 1);
    assert_int_equal(t->missing[1], 0);
    assert_int_equal(t->missing[3], 1);
    assert_true(isnan(((const double *)t->data)[3]));
    x_ok("INT32", "[2]", "[null,7]");
    assert_int_equal(((const int32_t *)req.inputs[0].data)[0], 0);
    assert_int_equal(req.inputs[0].missing[0], 1);
    x_ok("UINT64", "[1]", "[null]");
    assert_true(((const uint64_t *)req.inputs[0].data)[0] == 0);
    x_ok("BOOL", "[2]", "[true,null]");
    assert_int_equal(((const uint8_t *)req.inputs[0].data)[1], 0);
    assert_int_equal(req.inputs[0].missing[1], 1);
    x_ok("BYTES", "[2]", "[null,\"a\"]");
    assert_null(((const struct md_bytes *)req.inputs[0].data)[0].p);
    assert_int_equal(((const struct md_bytes *)req.inputs[0].data)[0].len, 0);
    assert_int_equal(req.inputs[0].missing[0], 1);
    assert_int_equal(req.inputs[0].missing[1], 0);
    /* A null, then nesting discovered late: the flags start over and stay right. */
    x_ok("FP32", "[3]", "[null,1,[2]]");
    assert_int_equal(req.inputs[0].missing[0], 1);
    assert_int_equal(req.inputs[0].missing[1], 0);
    assert_int_equal(req.inputs[0].missing[2], 0);
    x_ok("FP32", "[2]", "[1,2]");
    assert_null(req.inputs[0].missing);
}

/*
 * NaN, Infinity and -Infinity, as the Triton client's JSON mode (Python's
 * json module) writes float arrays: values of FP32 and FP64 elements, in
 * packed, unpacked, nested and mixed-with-null data, never marked missing
 * (that is for null; what a NaN means is the contract's to say). Elsewhere
 * they are numbers of the wrong kind; other spellings are not JSON.
 */
static void test_nan_and_infinity(void **state)
{
    const struct md_tensor *t;
    const float *f;
    const double *d;

    MD_UNUSED(state);
    x_ok("FP32", "[5]", "[1.5, NaN, Infinity, -Infinity, 2]");
    t = &req.inputs[0];
    f = t->data;
    assert_null(t->missing);
    assert_true(f[0] == 1.5f && isnan(f[1]) && f[2] == INFINITY && f[3] == -INFINITY &&
                f[4] == 2.0f);
    x_ok("FP32", "[3]", "[NaN,null,1]");
    t = &req.inputs[0];
    f = t->data;
    assert_true(isnan(f[0]) && isnan(f[1]) && f[2] == 1.0f);
    assert_non_null(t->missing);
    assert_true(t->missing[0] == 0 && t->missing[1] == 1 && t->missing[2] == 0);
    x_ok("FP32", "[2,2]", "[[NaN,1],[2,-Infinity]]");
    f = req.inputs[0].data;
    assert_true(isnan(f[0]) && f[1] == 1.0f && f[3] == -INFINITY);
    /* Unpacked (a tab after '['), and a nesting found late. */
    x_ok("FP32", "[2]", "[\tNaN, Infinity]");
    f = req.inputs[0].data;
    assert_true(isnan(f[0]) && f[1] == INFINITY);
    x_ok("FP32", "[3]", "[NaN,1,[Infinity]]");
    f = req.inputs[0].data;
    assert_true(isnan(f[0]) && f[1] == 1.0f && f[2] == INFINITY);
    x_ok("FP64", "[4]", "[NaN, -Infinity, null, 0.1]");
    t = &req.inputs[0];
    d = t->data;
    assert_true(isnan(d[0]) && d[1] == -INFINITY && isnan(d[2]) && d[3] == 0.1);
    assert_true(t->missing != NULL && t->missing[0] == 0 && t->missing[2] == 1);
    /* Beyond the range is still an error, next to a token. */
    x_error("FP32", "[2]", "[NaN,1e39]", "input 'x' element 1: 1e39 is out of range for FP32");
    x_error("FP64", "[2]", "[Infinity,1e309]",
            "input 'x' element 1: 1e309 is out of range for FP64");
    /* Not an integer, a boolean or a string. */
    x_error("INT32", "[2]", "[1,NaN]", "input 'x' element 1: expected an integer, got NaN");
    x_error("INT64", "[1]", "[-Infinity]",
            "input 'x' element 0: expected an integer, got -Infinity");
    x_error("UINT8", "[1]", "[Infinity]", "expected an integer, got Infinity");
    x_error("BOOL", "[1]", "[NaN]", "input 'x' element 0: expected true or false, got a number");
    x_error("BYTES", "[1]", "[NaN]", "input 'x' element 0: expected a string, got a number");
    expect_error("{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[NaN],"
                 "\"data\":[1]}]}",
                 MD_EINVAL, "inputs[0].shape: expected an array of non-negative integers");
    /* Only the exact tokens, as on the TF Serving path. */
    x_error("FP32", "[1]", "[nan]", "invalid JSON");
    x_error("FP32", "[1]", "[-NaN]", "invalid JSON");
    x_error("FP32", "[1]", "[+Infinity]", "invalid JSON");
    x_error("FP32", "[1]", "[Inf]", "invalid JSON");
    x_error("FP32", "[2]", "[1, NaNa]", "invalid JSON");
}

static void test_scalars_and_empty(void **state)
{
    const struct md_tensor *t;

    MD_UNUSED(state);
    x_ok("FP64", "[]", "[2.5]");
    t = &req.inputs[0];
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->count, 1);
    assert_true(((const double *)t->data)[0] == 2.5);
    x_ok("INT64", "[]", "[[[7]]]");
    assert_true(((const int64_t *)req.inputs[0].data)[0] == 7);
    x_error("FP64", "[]", "[]", "input 'x': data has 0 elements but shape [] needs 1");
    x_ok("FP32", "[0,30]", "[]");
    t = &req.inputs[0];
    assert_int_equal(t->count, 0);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[1], 30);
    assert_non_null(t->data);
    x_ok("BYTES", "[2,0]", "[[],[]]");
    assert_int_equal(req.inputs[0].count, 0);
    x_ok("FP32", "[0]", "[]");
    /* A zero dimension wins over dimensions whose product would overflow. */
    x_ok("INT8", "[9223372036854775807,9223372036854775807,0]", "[]");
    assert_int_equal(req.inputs[0].count, 0);
    x_error("FP32", "[0]", "[1]", "data has 1 elements but shape [0] needs 0");
}

static void test_request_fields(void **state)
{
    const struct md_infer_request *r = &req;

    MD_UNUSED(state);
    decode_ok("{\"outputs\":[{\"name\":\"p\",\"parameters\":{\"binary_data\":true,"
              "\"classification\":3,\"extra\":\"s\"}},{\"name\":\"label\",\"junk\":[1]}],"
              "\"id\":\"r\\u00e9q-1\",\"parameters\":{\"binary_data_output\":true,\"timeout\":5000,"
              "\"trace\":true,\"s\":\"x\",\"n\":1.5},\"unknown\":{\"a\":[1,2]},"
              "\"inputs\":[{\"data\":[1,2],\"shape\":[2],\"datatype\":\"INT32\",\"name\":\"a\","
              "\"parameters\":{\"content_type\":\"np\",\"k\":1,\"b\":false},\"other\":null},"
              "{\"name\":\"b\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[false]}]}");
    assert_string_equal(r->id, "r\xc3\xa9q-1");
    assert_true(r->binary_output);
    assert_int_equal(r->timeout_us, 5000);
    assert_int_equal(r->n_inputs, 2);
    assert_string_equal(r->inputs[0].name, "a");
    assert_int_equal(r->inputs[0].dtype, MD_DT_INT32);
    assert_int_equal(((const int32_t *)r->inputs[0].data)[1], 2);
    assert_string_equal(r->inputs[1].name, "b");
    assert_int_equal(r->inputs[1].dtype, MD_DT_BOOL);
    assert_int_equal(r->n_outputs, 2);
    assert_string_equal(r->outputs[0].name, "p");
    assert_true(r->outputs[0].binary);
    assert_int_equal(r->outputs[0].classification, 3);
    assert_string_equal(r->outputs[1].name, "label");
    assert_false(r->outputs[1].binary);
    assert_int_equal(r->outputs[1].classification, 0);
    /* The parameters object is kept whole: a model's keys are read from it. */
    assert_non_null(r->params);
    assert_int_equal(r->params->type, MD_J_OBJECT);
    assert_int_equal(r->params->n, 5);
    assert_non_null(md_jdom_get(r->params, "s"));
    assert_int_equal(md_jdom_get(r->params, "s")->type, MD_J_STRING);
    /* Empty id, empty outputs, binary_data_output false. */
    decode_ok("{\"id\":\"\",\"outputs\":[],\"parameters\":{\"binary_data_output\":false,"
              "\"timeout\":0},\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],"
              "\"data\":[1]}]}");
    assert_string_equal(r->id, "");
    assert_int_equal(r->n_outputs, 0);
    assert_false(r->binary_output);
    /* No id. */
    decode_ok("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}");
    assert_null(r->id);
    assert_null(r->params);
}

static void test_many_inputs(void **state)
{
    static char body[64 * 1024];
    size_t o;
    int i;

    MD_UNUSED(state);
    o = (size_t)snprintf(body, sizeof(body), "{\"inputs\":[");
    for (i = 0; i < 500; i++)
        o += (size_t)snprintf(body + o, sizeof(body) - o,
                              "%s{\"name\":\"in%d\",\"datatype\":\"INT8\",\"shape\":[1],"
                              "\"data\":[%d]}",
                              i > 0 ? "," : "", i, i % 100);
    snprintf(body + o, sizeof(body) - o, "]}");
    decode_ok(body);
    assert_int_equal(req.n_inputs, 500);
    assert_string_equal(req.inputs[499].name, "in499");
    assert_int_equal(((const int8_t *)req.inputs[499].data)[0], 99);
    /* The same with a repeat at the end. */
    snprintf(body + o, sizeof(body) - o,
             ",{\"name\":\"in17\",\"datatype\":\"INT8\",\"shape\":[1],\"data\":[1]}]}");
    expect_error(body, MD_EINVAL, "input 'in17' already exists in request");
    /* Many outputs, unique, then with one repeat. */
    o = (size_t)snprintf(body, sizeof(body),
                         "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"data\":[1]}],\"outputs\":[");
    for (i = 0; i < 300; i++)
        o += (size_t)snprintf(body + o, sizeof(body) - o, "%s{\"name\":\"out%d\"}",
                              i > 0 ? "," : "", i);
    snprintf(body + o, sizeof(body) - o, "]}");
    decode_ok(body);
    assert_int_equal(req.n_outputs, 300);
    assert_string_equal(req.outputs[0].name, "out0");
    assert_string_equal(req.outputs[299].name, "out299");
    snprintf(body + o, sizeof(body) - o, ",{\"name\":\"out123\"}]}");
    expect_error(body, MD_EINVAL, "output 'out123' already exists in request");
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* tmpl with each "%s" replaced by s. */
static void subst(char *out, size_t size, const char *tmpl, const char *s)
{
    size_t o = 0;
    size_t sl = strlen(s);

    while (*tmpl != '\0' && o + sl + 1 < size) {
        if (tmpl[0] == '%' && tmpl[1] == 's') {
            memcpy(out + o, s, sl);
            o += sl;
            tmpl += 2;
        } else {
            out[o++] = *tmpl++;
        }
    }
    out[o] = '\0';
}

static void test_request_errors(void **state)
{
    static const char in1[] = "\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],"
                              "\"data\":[1]}]";
    static const struct {
        const char *body; /* %s: a valid "inputs" member */
        const char *msg;
    } cases[] = {
        {"[%s]", "invalid JSON at byte"},
        {"{%s", "invalid JSON at byte"},
        {"{%s,}", "trailing comma"},
        {"{%s} {}", "unexpected data after the value"},
        {"{\"id\":5,%s}", "id: expected a string, got a number"},
        {"{\"id\":null,%s}", "id: expected a string, got null"},
        {"{\"id\":[\"a\"],%s}", "id: expected a string, got an array"},
        {"{\"id\":\"a\\u0000b\",%s}", "id: contains a NUL character"},
        {"{\"id\":\"a\",\"id\":\"b\",%s}", "request: duplicate key 'id'"},
        {"{\"parameters\":[],%s}", "parameters: expected an object, got an array"},
        {"{\"parameters\":{\"binary_data_output\":1},%s}",
         "parameters.binary_data_output: expected a boolean, got a number"},
        {"{\"parameters\":{\"binary_data_output\":\"true\"},%s}",
         "parameters.binary_data_output: expected a boolean, got a string"},
        {"{\"parameters\":{\"timeout\":-1},%s}", "parameters.timeout: expected a non-negative"},
        {"{\"parameters\":{\"timeout\":1.5},%s}", "parameters.timeout: expected a non-negative"},
        {"{\"parameters\":{\"timeout\":\"5\"},%s}", "parameters.timeout: expected a non-negative"},
        {"{\"parameters\":{\"timeout\":99999999999999999999},%s}", "parameters.timeout"},
        {"{\"parameters\":{\"x\":[]},%s}",
         "parameters.x: expected a string, number or boolean, got an array"},
        {"{\"parameters\":{\"y\":null},%s}",
         "parameters.y: expected a string, number or boolean, got null"},
        {"{\"parameters\":{\"z\":{}},%s}", "parameters.z: expected a string, number or boolean"},
        {"{%s,\"outputs\":{}}", "outputs: expected an array, got an object"},
        {"{%s,\"outputs\":[\"p\"]}", "outputs[0]: expected an object, got a string"},
        {"{%s,\"outputs\":[{}]}", "outputs[0].name: missing"},
        {"{%s,\"outputs\":[{\"name\":\"\"}]}", "outputs[0].name: expected a non-empty string"},
        {"{%s,\"outputs\":[{\"name\":7}]}", "outputs[0].name: expected a string, got a number"},
        {"{%s,\"outputs\":[{\"name\":\"a\\u0000\"}]}", "outputs[0].name: contains a NUL"},
        {"{%s,\"outputs\":[{\"name\":\"p\",\"name\":\"q\"}]}", "outputs[0]: duplicate key 'name'"},
        {"{%s,\"outputs\":[{\"name\":\"y\"},{\"name\":\"z\"},{\"name\":\"y\"}]}",
         "output 'y' already exists in request"},
        {"{%s,\"outputs\":[{\"name\":\"y\",\"parameters\":5}]}",
         "outputs[0].parameters: expected an object, got a number"},
        {"{%s,\"outputs\":[{\"name\":\"y\",\"parameters\":{\"binary_data\":\"yes\"}}]}",
         "outputs[0].parameters.binary_data: expected a boolean, got a string"},
        {"{%s,\"outputs\":[{\"name\":\"y\"},{\"name\":\"z\",\"parameters\":{\"classification\":-1}}"
         "]}",
         "outputs[1].parameters.classification: expected a non-negative integer"},
        {"{%s,\"outputs\":[{\"name\":\"y\",\"parameters\":{\"classification\":1.5}}]}",
         "outputs[0].parameters.classification: expected a non-negative integer"},
        {"{%s,\"outputs\":[{\"name\":\"y\",\"parameters\":{\"other\":[1]}}]}",
         "outputs[0].parameters.other: expected a string, number or boolean, got an array"},
        {"{%s,%s}", "request: duplicate key 'inputs'"},
    };
    char body[1024];
    size_t i;

    MD_UNUSED(state);
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        subst(body, sizeof(body), cases[i].body, in1);
        expect_error(body, MD_EINVAL, cases[i].msg);
    }
    expect_error("", MD_EINVAL, "invalid JSON at byte 0");
    expect_error("[]", MD_EINVAL, "request: expected a JSON object, got an array");
    expect_error("\"s\"", MD_EINVAL, "request: expected a JSON object, got a string");
    expect_error("{}", MD_EINVAL, "inputs: missing");
    expect_error("{\"id\":\"a\"}", MD_EINVAL, "inputs: missing");
    expect_error("{\"inputs\":[]}", MD_EINVAL, "inputs: expected a non-empty array, got []");
    expect_error("{\"inputs\":{}}", MD_EINVAL, "inputs: expected a non-empty array, got an object");
    expect_error("{\"inputs\":null}", MD_EINVAL, "inputs: expected a non-empty array, got null");
}

static void test_input_errors(void **state)
{
    static const struct {
        const char *input; /* the one element of "inputs" */
        const char *msg;
    } cases[] = {
        {"5", "inputs[0]: expected an object, got a number"},
        {"[]", "inputs[0]: expected an object, got an array"},
        {"{\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}", "inputs[0].name: missing"},
        {"{\"name\":5,\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}",
         "inputs[0].name: expected a string, got a number"},
        {"{\"name\":\"\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}",
         "inputs[0].name: expected a non-empty string"},
        {"{\"name\":\"a\\u0000\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}",
         "inputs[0].name: contains a NUL character"},
        {"{\"name\":\"x\",\"shape\":[1],\"data\":[1]}", "inputs[0].datatype: missing"},
        {"{\"name\":\"x\",\"datatype\":32,\"shape\":[1],\"data\":[1]}",
         "inputs[0].datatype: expected a string, got a number"},
        {"{\"name\":\"x\",\"datatype\":\"FLOAT32\",\"shape\":[1],\"data\":[1]}",
         "inputs[0].datatype: 'FLOAT32' is not a known datatype"},
        {"{\"name\":\"x\",\"datatype\":\"fp32\",\"shape\":[1],\"data\":[1]}",
         "inputs[0].datatype: 'fp32' is not a known datatype"},
        {"{\"name\":\"x\",\"datatype\":\"INVALID\",\"shape\":[1],\"data\":[1]}",
         "is not a known datatype"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1]}", "inputs[0].shape: missing"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":1,\"data\":[1]}",
         "inputs[0].shape: expected an array of non-negative integers"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1],\"data\":[1]}",
         "inputs[0].shape: expected an array of non-negative integers"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1.0],\"data\":[1]}",
         "inputs[0].shape: expected an array of non-negative integers"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1e0],\"data\":[1]}",
         "inputs[0].shape: expected an array of non-negative integers"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[\"1\"],\"data\":[1]}",
         "inputs[0].shape: expected an array of non-negative integers"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[[1]],\"data\":[1]}",
         "inputs[0].shape: expected an array of non-negative integers"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[9223372036854775808],\"data\":[1]}",
         "inputs[0].shape: expected an array of non-negative integers"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data\":[1]}",
         "inputs[0].shape: 9 dimensions, at most 8 allowed"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[65536,32769],\"data\":[1]}",
         "inputs[0].shape: [65536,32769] is more than 2147483648 elements"},
        {"{\"name\":\"x\",\"datatype\":\"FP64\",\"shape\":[65536,32768],\"data\":[1]}",
         "input 'x': data has 1 elements but shape [65536,32768] needs 2147483648"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data\":[1]}",
         "inputs[0].shape: [4294967296,4294967296,4294967296] is more than"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1]}", "inputs[0].data: missing"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":1}",
         "inputs[0].data: expected an array, got a number"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":{\"a\":1}}",
         "inputs[0].data: expected an array, got an object"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1],\"parameters\":5}",
         "inputs[0].parameters: expected an object, got a number"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1],"
         "\"parameters\":{\"k\":[]}}",
         "inputs[0].parameters.k: expected a string, number or boolean, got an array"},
        {"{\"name\":\"x\",\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}",
         "inputs[0]: duplicate key 'name'"},
        {"{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1],\"data\":[2]}",
         "inputs[0]: duplicate key 'data'"},
        {"{\"name\":\"x\",\"datatype\":\"FP16\",\"shape\":[1],\"data\":[1]}",
         "input 'x': FP16 data via JSON is not supported"},
        {"{\"name\":\"x\",\"datatype\":\"BF16\",\"shape\":[1],\"data\":[1]}",
         "input 'x': BF16 data via JSON is not supported"},
    };
    char body[1024];
    size_t i;

    MD_UNUSED(state);
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        snprintf(body, sizeof(body), "{\"inputs\":[%s]}", cases[i].input);
        expect_error(body, MD_EINVAL, cases[i].msg);
    }
    /* The second input is named in index-based messages. */
    expect_error("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
                 "{\"name\":\"b\",\"datatype\":\"FP32\",\"shape\":[1,-2],\"data\":[1]}]}",
                 MD_EINVAL, "inputs[1].shape: expected an array of non-negative integers");
    expect_error("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
                 "{\"name\":\"a\",\"datatype\":\"INT8\",\"shape\":[1],\"data\":[1]}]}",
                 MD_EINVAL, "input 'a' already exists in request");
    /* Binary tensor data needs the header that says where the JSON ends. */
    expect_error(
        "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"UINT32\",\"shape\":[2,2],"
        "\"parameters\":{\"binary_data_size\":16}}]}",
        MD_EINVAL,
        "input 'x': binary_data_size needs a valid Inference-Header-Content-Length header");
}

static void test_count_errors(void **state)
{
    MD_UNUSED(state);
    x_error("FP32", "[2,2]", "[1,2,3]", "input 'x': data has 3 elements but shape [2,2] needs 4");
    x_error("FP32", "[2,2]", "[[1,2],[3]]",
            "input 'x': data has 3 elements but shape [2,2] needs 4");
    x_error("FP32", "[2,2]", "[1,2,3,4,5]", "data has 5 elements but shape [2,2] needs 4");
    x_error("FP32", "[2]", "[1,[2,3]]", "data has 3 elements but shape [2] needs 2");
    x_error("INT64", "[3,1,2]", "[]", "data has 0 elements but shape [3,1,2] needs 6");
    x_error("BYTES", "[1]", "[[]]", "data has 0 elements but shape [1] needs 1");
}

static void test_element_errors(void **state)
{
    MD_UNUSED(state);
    x_error("FP32", "[3]", "[1,\"x\",3]", "input 'x' element 1: expected a number, got a string");
    x_error("FP32", "[2]", "[true,1]", "input 'x' element 0: expected a number, got a boolean");
    x_error("FP32", "[2]", "[1,{}]", "input 'x' element 1: expected a number, got an object");
    x_error("FP64", "[2]", "[1,\"2\"]", "input 'x' element 1: expected a number, got a string");
    x_error("FP32", "[2,2]", "[[1,2],[3,\"x\"]]",
            "input 'x' element 3: expected a number, got a string");
    x_error("FP32", "[1]", "[1e39]", "input 'x' element 0: 1e39 is out of range for FP32");
    x_error("FP32", "[2]", "[0,-3.5e38]", "input 'x' element 1: -3.5e38 is out of range for FP32");
    x_error("FP64", "[1]", "[1e309]", "input 'x' element 0: 1e309 is out of range for FP64");
    x_error("BOOL", "[2]", "[true,1]", "input 'x' element 1: expected true or false, got a number");
    x_error("BOOL", "[1]", "[\"true\"]", "expected true or false, got a string");
    x_error("BYTES", "[2]", "[\"a\",1]", "input 'x' element 1: expected a string, got a number");
    x_error("BYTES", "[1]", "[[\"a\"],[\"b\"]]", "data has 2 elements but shape [1] needs 1");
    x_error("INT32", "[2]", "[1,1.5]", "input 'x' element 1: expected an integer, got 1.5");
    x_error("INT32", "[1]", "[1e2]", "input 'x' element 0: expected an integer, got 1e2");
    x_error("INT32", "[1]", "[1.0]", "expected an integer, got 1.0");
    x_error("INT32", "[1]", "[true]", "input 'x' element 0: expected an integer, got a boolean");
    x_error("UINT8", "[1]", "[\"1\"]", "expected an integer, got a string");
    x_error("UINT8", "[2]", "[0,256]", "input 'x' element 1: 256 is out of range for UINT8");
    x_error("UINT8", "[1]", "[-1]", "input 'x' element 0: -1 is out of range for UINT8");
    x_error("UINT16", "[1]", "[65536]", "65536 is out of range for UINT16");
    x_error("UINT32", "[1]", "[4294967296]", "4294967296 is out of range for UINT32");
    x_error("UINT64", "[1]", "[18446744073709551616]",
            "18446744073709551616 is out of range for UINT64");
    x_error("UINT64", "[1]", "[-5]", "-5 is out of range for UINT64");
    x_error("INT8", "[1]", "[128]", "128 is out of range for INT8");
    x_error("INT8", "[1]", "[-129]", "-129 is out of range for INT8");
    x_error("INT16", "[1]", "[32768]", "32768 is out of range for INT16");
    x_error("INT16", "[1]", "[-32769]", "-32769 is out of range for INT16");
    x_error("INT32", "[1]", "[2147483648]", "2147483648 is out of range for INT32");
    x_error("INT32", "[1]", "[-2147483649]", "-2147483649 is out of range for INT32");
    x_error("INT64", "[1]", "[9223372036854775808]", "is out of range for INT64");
    x_error("INT64", "[1]", "[-9223372036854775809]", "is out of range for INT64");
}

static void test_long_names_in_messages(void **state)
{
    char body[1024];
    char name[301];

    MD_UNUSED(state);
    memset(name, 'n', 300);
    name[300] = '\0';
    snprintf(body, sizeof(body),
             "{\"inputs\":[{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,"
             "\"x\"]}]}",
             name);
    assert_int_equal(decode(body), MD_EINVAL);
    /* The name is cut short, the reason survives. */
    assert_non_null(strstr(err.msg, "element 1: expected a number, got a string"));
    assert_true(strlen(err.msg) < 200);
}

static void test_arena_limit(void **state)
{
    struct md_arena small;

    MD_UNUSED(state);
    md_arena_init(&small, 512);
    assert_int_equal(md_v2_decode_infer(bench_body, strlen(bench_body), &small, &req, &err),
                     MD_ETOOBIG);
    assert_int_equal(err.code, MD_ETOOBIG);
    md_arena_release(&small);
    /*
     * Every limit from too small to enough: each allocation's failure is
     * MD_ETOOBIG and nothing else, and a large enough arena decodes.
     */
    {
        static char body[16 * 1024];
        size_t o = (size_t)snprintf(body, sizeof(body),
                                    "{\"id\":\"\\u00e9\",\"inputs\":[{\"name\":\"x\","
                                    "\"datatype\":\"BYTES\",\"shape\":[100],\"data\":[");
        size_t max;
        int n_big = 0;
        int rc = MD_ETOOBIG;
        int i;

        for (i = 0; i < 100; i++)
            o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\"%d\\n\"", i ? "," : "",
                                  i % 3 ? i : -1);
        snprintf(body + o, sizeof(body) - o,
                 "]},{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,null]}],"
                 "\"outputs\":[{\"name\":\"a\"},{\"name\":\"b\"}]}");
        for (max = 256; max <= 64 * 1024; max += 128) {
            md_arena_init(&small, max);
            rc = md_v2_decode_infer(body, strlen(body), &small, &req, &err);
            md_arena_release(&small);
            if (rc == MD_ETOOBIG)
                n_big++;
            else if (rc == MD_OK)
                break;
            else
                fail_msg("limit %zu: rc %d: %s", max, rc, err.msg);
        }
        assert_int_equal(rc, MD_OK);
        assert_true(n_big > 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_body),        cmocka_unit_test(test_every_datatype),
        cmocka_unit_test(test_nested_data),       cmocka_unit_test(test_null_leaves),
        cmocka_unit_test(test_scalars_and_empty), cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_many_inputs),       cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_input_errors),      cmocka_unit_test(test_count_errors),
        cmocka_unit_test(test_element_errors),    cmocka_unit_test(test_long_names_in_messages),
        cmocka_unit_test(test_arena_limit),       cmocka_unit_test(test_nan_and_infinity),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
