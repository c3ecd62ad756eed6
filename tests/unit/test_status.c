/* SPDX-License-Identifier: MIT */
/*
 * test_status.c: the one table from error code to HTTP status (api/api.c):
 * every code has its row and a status /metrics counts by name, error
 * answers take their status and Retry-After from it, the router's and the
 * settings' refusals come from codes, and an answer whose writing failed
 * (the buffer's sticky error, util/buf.h) becomes 500 "response too large".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_call.h"

#include "net/router.h"
#include "control/settings.h"

#include <limits.h>

/* Every code and its status: a new code fails here until it has a row. */
static const struct {
    int code;
    int status;
} statuses[] = {
    {MD_OK, 200},          {MD_EINVAL, 400},    {MD_ENOTFOUND, 404}, {MD_EUNAVAIL, 503},
    {MD_ENOMEM, 500},      {MD_EIO, 500},       {MD_ECORRUPT, 400},  {MD_EAUTH, 401},
    {MD_EPERM, 403},       {MD_EINTERNAL, 500}, {MD_ETOOBIG, 413},   {MD_EUNSUPPORTED, 501},
    {MD_ETIMEDOUT, 504},   {MD_EPENDING, 500},  {MD_ECONFLICT, 409}, {MD_EMETHOD, 405},
    {MD_EHEADTOOBIG, 431}, {MD_ETOOMANY, 429},
};

static bool counted(int status)
{
    size_t i;

    for (i = 0; i < MD_API_CODES; i++)
        if (md_api_codes[i] == status)
            return true;
    return false;
}

/* Walks every code from MD_ECODE_MIN to MD_OK. */
static void test_every_code(void **state)
{
    bool seen[1 - MD_ECODE_MIN] = {false};
    size_t i;
    int code;

    (void)state;
    assert_int_equal(MD_ARRAY_LEN(statuses), 1 - MD_ECODE_MIN);
    for (i = 0; i < MD_ARRAY_LEN(statuses); i++) {
        code = statuses[i].code;
        assert_true(code <= MD_OK && code >= MD_ECODE_MIN);
        assert_false(seen[-code]);
        seen[-code] = true;
        if (md_api_status(code) != statuses[i].status)
            fail_msg("code %d (%s): status %d, want %d", code, md_strerror(code),
                     md_api_status(code), statuses[i].status);
    }
    for (code = MD_ECODE_MIN; code <= MD_OK; code++) {
        assert_true(seen[-code]);
        /* Named, and counted by its own status in modeld_http_requests_total. */
        assert_string_not_equal(md_strerror(code), "unknown error");
        assert_true(counted(md_api_status(code)));
    }
    /* Outside the table: a 500. */
    assert_int_equal(md_api_status(1), 500);
    assert_int_equal(md_api_status(MD_ECODE_MIN - 1), 500);
    assert_int_equal(md_api_status(INT_MIN), 500);
}

/* md_api_error_msg's answer for code: status, body, Retry-After. */
static void expect_answer(struct md_buf *body, int code, const char *msg, int status,
                          const char *retry)
{
    struct md_api_resp resp;
    char want[600];

    memset(&resp, 0, sizeof(resp));
    resp.body = body;
    resp.status = 200;
    resp.json_len = 3;
    md_buf_reset(body);
    md_buf_puts(body, "partial answer");
    md_api_error_msg(&resp, code, msg);
    assert_int_equal(resp.status, status);
    assert_string_equal(resp.retry_after, retry);
    assert_string_equal(resp.content_type, "application/json");
    assert_int_equal(resp.json_len, 0);
    (void)snprintf(want, sizeof(want), "{\"error\":\"%s\"}", msg);
    assert_string_equal(body->data, want);
    assert_int_equal(md_buf_error(body), MD_OK);
}

static void test_error_answers(void **state)
{
    char long_msg[400];
    struct md_buf body;

    (void)state;
    md_buf_init(&body, 4096);
    expect_answer(&body, MD_EUNAVAIL, "model 'm' is loading", 503, "1");
    expect_answer(&body, MD_EINVAL, "feature 'age': above max 120", 400, "");
    expect_answer(&body, MD_ECONFLICT, "setting 'poll' is set by the file", 409, "");
    expect_answer(&body, MD_EMETHOD, "Method Not Allowed", 405, "");
    expect_answer(&body, MD_EHEADTOOBIG, "request line and headers too large", 431, "");
    expect_answer(&body, MD_ETOOBIG, "request body too large", 413, "");
    expect_answer(&body, MD_EINTERNAL, "engine failed", 500, "");
    /* A message longer than struct md_err's is kept whole. */
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    expect_answer(&body, MD_EINVAL, long_msg, 400, "");
    md_buf_release(&body);
}

/* md_api_finish: nothing on MD_OK; else the answer becomes the 500. */
static void test_finish(void **state)
{
    struct md_api_resp resp;
    struct md_buf body;

    (void)state;
    md_buf_init(&body, 40);
    memset(&resp, 0, sizeof(resp));
    resp.body = &body;
    resp.status = 200;
    md_buf_puts(&body, "{\"a\":1}");
    assert_int_equal(md_api_finish(&resp, md_buf_error(&body)), MD_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(body.data, "{\"a\":1}");
    /* Past the body's maximum: the first failure is kept through later appends. */
    md_buf_puts(&body, ",\"list\":[0123456789,0123456789,0123456789]");
    md_buf_puts(&body, "}");
    assert_int_equal(md_api_finish(&resp, md_buf_error(&body)), MD_ETOOBIG);
    assert_int_equal(resp.status, 500); /* the server's failure: not the client's 413 */
    assert_string_equal(body.data, "{\"error\":\"response too large\"}");
    assert_int_equal(md_buf_error(&body), MD_OK);
    /* Not even room for the message: the status alone. */
    md_buf_release(&body);
    md_buf_init(&body, 8);
    md_buf_puts(&body, "0123456789");
    assert_int_equal(md_api_finish(&resp, md_buf_error(&body)), MD_ETOOBIG);
    assert_int_equal(resp.status, 500);
    assert_int_equal(body.len, 0);
    md_buf_release(&body);
}

/* The router's own answers, each from a code, and a handler's answer too large. */
static void test_router_statuses(void **state)
{
    static const char text[] = "poll: 3\n";
    char *argv[] = {(char *)"modeld", NULL};
    struct md_settings s;
    struct md_api api;
    struct md_buf body;
    struct md_buf small;
    struct md_err err;
    const char *allow;

    (void)state;
    memset(&api, 0, sizeof(api));
    md_buf_init(&body, 1 << 16);
    assert_int_equal(call(&api, "GET", "/nowhere", &body, &allow), 404);
    assert_string_equal(body.data, "{\"error\":\"Not Found\"}");
    assert_int_equal(call(&api, "GET", "/v2/models/m/versions/1x", &body, &allow), 404);
    assert_int_equal(call(&api, "POST", "/metrics", &body, &allow), 405);
    assert_string_equal(allow, "GET");
    assert_string_equal(body.data, "{\"error\":\"Method Not Allowed\"}");
    /* TF Serving's malformed path is the client's error (MD_EINVAL), V2's unknown one a 404. */
    assert_int_equal(call(&api, "POST", "/v1/models/m:explain", &body, &allow), 400);
    assert_string_equal(body.data, "{\"error\":\"Malformed request: POST /v1/models/m:explain\"}");
    assert_int_equal(call(&api, "GET", "/v1/models", &body, &allow), 400);
    assert_string_equal(body.data, "{\"error\":\"Missing model name in request.\"}");
    assert_int_equal(call(&api, "POST", "/v1/models/m:classify", &body, &allow), 501);

    /* A handler's answer past its buffer's maximum: 500, the partial answer gone. */
    md_settings_init(&s);
    assert_int_equal(md_settings_parse(&s, 1, argv, &err), MD_SETTINGS_SERVE);
    assert_int_equal(
        md_config_parse(&s.config, text, strlen(text), "/etc/modeld.yaml", NULL, 0, &err), MD_OK);
    api.config = &s.config;
    assert_int_equal(call(&api, "GET", "/api/v1/settings", &body, &allow), 200);
    assert_true(body.len > 200);
    md_buf_init(&small, 200);
    assert_int_equal(call(&api, "GET", "/api/v1/settings", &small, &allow), 500);
    assert_string_equal(small.data, "{\"error\":\"response too large\"}");
    assert_int_equal(call(&api, "GET", "/api/v1/settings/poll", &small, &allow), 200);
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/poll", &body, &allow), 409);
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/threads", &body, &allow), 405);
    assert_string_equal(allow, "GET");
    md_buf_release(&small);
    md_settings_release(&s);
    md_buf_release(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code),
        cmocka_unit_test(test_error_answers),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_router_statuses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
