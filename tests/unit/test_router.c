/* SPDX-License-Identifier: MIT */
/*
 * test_router.c: the path grammar of every API, and the settings handlers
 * behind /api/v1/settings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net/router.h"
#include "control/settings.h"

struct want {
    const char *method;
    const char *path;
    int found; /* 1 matched, 0 not found, -1 wrong method, -2 malformed v1 */
    const char *model;
    const char *version;
    enum md_api_family family;
};

static void test_paths(void **state)
{
    static const struct want cases[] = {
        {"GET", "/v2", 1, NULL, NULL, MD_API_V2},
        {"GET", "/v2/health/live", 1, NULL, NULL, MD_API_V2},
        {"POST", "/v2/health/live", -1, NULL, NULL, MD_API_V2},
        {"GET", "/v2/health/dead", 0, NULL, NULL, MD_API_V2},
        {"GET", "/v2/models/m", 1, "m", NULL, MD_API_V2},
        {"GET", "/v2/models/m/versions/12", 1, "m", "12", MD_API_V2},
        {"GET", "/v2/models/m/versions/x", 0, NULL, NULL, MD_API_V2},
        {"POST", "/v2/models/m/versions/3/infer", 1, "m", "3", MD_API_V2},
        {"GET", "/v2/models/m/infer", -1, "m", NULL, MD_API_V2},
        {"GET", "/v2/models/m/ready", 1, "m", NULL, MD_API_V2},
        {"GET", "/v2/models/m/config", 1, "m", NULL, MD_API_V2},
        {"GET", "/v2/models/stats", 1, NULL, NULL, MD_API_V2},
        {"GET", "/v2/models/m/versions/1/stats", 1, "m", "1", MD_API_V2},
        {"GET", "/v2/models//infer", 0, NULL, NULL, MD_API_V2},
        {"GET", "/v2/models/m/", 0, NULL, NULL, MD_API_V2},
        {"GET", "/v2x", 0, NULL, NULL, MD_API_OTHER},
        {"POST", "/v2/repository/index", 1, NULL, NULL, MD_API_REPOSITORY},
        {"POST", "/v2/repository/models/m/load", 1, "m", NULL, MD_API_REPOSITORY},
        {"POST", "/v2/repository/models/m/unload", 1, "m", NULL, MD_API_REPOSITORY},
        {"GET", "/v2/repository/models/m/load", -1, "m", NULL, MD_API_REPOSITORY},
        {"GET", "/v1/models/m", 1, "m", NULL, MD_API_V1},
        {"GET", "/v1/models/m/versions/4", 1, "m", "4", MD_API_V1},
        {"GET", "/v1/models/m/metadata", 1, "m", NULL, MD_API_V1},
        {"POST", "/v1/models/m:predict", 1, "m", NULL, MD_API_V1},
        {"POST", "/v1/models/m/versions/2:predict", 1, "m", "2", MD_API_V1},
        {"GET", "/v1/models/m:predict", -2, NULL, NULL, MD_API_V1},
        {"POST", "/v1/models/m/versions/x:predict", -2, NULL, NULL, MD_API_V1},
        {"POST", "/v1/models/m:explain", -2, NULL, NULL, MD_API_V1},
        {"GET", "/metrics", 1, NULL, NULL, MD_API_METRICS},
        {"POST", "/metrics", -1, NULL, NULL, MD_API_METRICS},
        {"GET", "/", 0, NULL, NULL, MD_API_OTHER},
        {"GET", "/api/v1/settings", 1, NULL, NULL, MD_API_MANAGEMENT},
        {"PUT", "/api/v1/settings", -1, NULL, NULL, MD_API_MANAGEMENT},
        {"GET", "/api/v1/settings/poll", 1, NULL, NULL, MD_API_MANAGEMENT},
        {"PUT", "/api/v1/settings/poll", 1, NULL, NULL, MD_API_MANAGEMENT},
        {"PATCH", "/api/v1/settings/poll", 1, NULL, NULL, MD_API_MANAGEMENT},
        {"DELETE", "/api/v1/settings/poll", -1, NULL, NULL, MD_API_MANAGEMENT},
        {"GET", "/api/v1/settings/", 0, NULL, NULL, MD_API_MANAGEMENT},
        {"GET", "/api/v1/settings/poll/x", 0, NULL, NULL, MD_API_MANAGEMENT},
        {"GET", "/api/v1/", 0, NULL, NULL, MD_API_MANAGEMENT},
        {"GET", "/api/v1/nope", 0, NULL, NULL, MD_API_MANAGEMENT},
        {"GET", "/api/v2/settings", 0, NULL, NULL, MD_API_OTHER},
    };
    struct md_arena a;
    size_t i;

    (void)state;
    md_arena_init(&a, 1 << 20);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct want *w = &cases[i];
        struct md_route rt;
        enum md_api_family fam;
        const char *allow;
        int id;

        md_router_match(w->method, w->path, &a, &id, &rt, &fam, &allow);
        if (w->found == 1)
            assert_true(id > 0);
        else if (w->found == 0)
            assert_int_equal(id, 0);
        else if (w->found == -1)
            assert_int_equal(id, -1);
        else
            assert_int_equal(id, -2);
        assert_int_equal(fam, w->family);
        if (w->found == 1 && w->model != NULL)
            assert_string_equal(rt.model, w->model);
        if (w->found == 1 && w->version != NULL)
            assert_string_equal(rt.version, w->version);
        if (w->found == -1)
            assert_non_null(allow);
        md_arena_reset(&a);
    }
    md_arena_release(&a);
}

static void test_status_table(void **state)
{
    (void)state;
    assert_int_equal(md_api_status(MD_OK), 200);
    assert_int_equal(md_api_status(MD_EINVAL), 400);
    assert_int_equal(md_api_status(MD_ENOTFOUND), 404);
    assert_int_equal(md_api_status(MD_EUNAVAIL), 503);
    assert_int_equal(md_api_status(MD_ETOOBIG), 413);
    assert_int_equal(md_api_status(MD_EUNSUPPORTED), 501);
    assert_int_equal(md_api_status(MD_EINTERNAL), 500);
    assert_int_equal(md_api_status(MD_EAUTH), 401);
    assert_int_equal(md_api_status(MD_EPERM), 403);
    assert_int_equal(md_api_status(MD_ETIMEDOUT), 504);
}

/* md_api_error with code and msg gives status and Retry-After retry. */
static void check_error(struct md_buf *body, int code, const char *msg, int status,
                        const char *retry)
{
    struct md_api_resp resp;
    struct md_err err;

    memset(&resp, 0, sizeof(resp));
    md_buf_reset(body);
    resp.body = body;
    md_err_set(&err, code, "%s", msg);
    md_api_error(&resp, &err);
    assert_int_equal(resp.status, status);
    assert_string_equal(resp.retry_after, retry);
    assert_non_null(strstr(body->data, msg));
}

/* A 503 from md_api_error invites a retry; other errors do not. */
static void test_error_retry_after(void **state)
{
    struct md_buf body;

    (void)state;
    md_buf_init(&body, 4096);
    check_error(&body, MD_EUNAVAIL, "model 'm' queue is full (4 requests waiting)", 503, "1");
    check_error(&body, MD_ETIMEDOUT, "model 'm': deadline passed before the request ran", 504, "");
    md_buf_release(&body);
}

static void drop_nothing(void *state)
{
    (void)state;
}

static void test_park(void **state)
{
    struct md_api_resp resp;
    int parked_state = 7;

    (void)state;
    memset(&resp, 0, sizeof(resp));
    md_api_park(&resp, &parked_state, drop_nothing);
    assert_true(resp.parked);
    assert_ptr_equal(resp.resume, &parked_state);
    assert_ptr_equal(resp.drop, drop_nothing);
}

/* Dispatches method path with api; the answer's status, body in body. */
static int call(struct md_api *api, const char *method, const char *path, struct md_buf *body,
                const char **allow)
{
    struct md_arena a;
    struct md_api_req req;
    struct md_api_resp resp;

    md_arena_init(&a, 1 << 16);
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = method;
    req.path = path;
    req.body = "";
    req.arena = &a;
    md_buf_reset(body);
    resp.body = body;
    resp.status = 200;
    md_router_dispatch(api, &req, &resp);
    md_arena_release(&a);
    *allow = resp.allow;
    return resp.status;
}

static void test_settings_api(void **state)
{
    static const char text[] = "poll: 3\nlog_level: warn\n";
    char a_threads[] = "--threads=2";
    char *argv[] = {(char *)"modeld", a_threads, NULL};
    struct md_settings s;
    struct md_api api;
    struct md_buf body;
    struct md_err err;
    const char *allow;

    (void)state;
    memset(&api, 0, sizeof(api));
    md_buf_init(&body, 1 << 16);
    /* No settings to show: an empty list, and every name unknown. */
    assert_int_equal(call(&api, "GET", "/api/v1/settings", &body, &allow), 200);
    assert_string_equal(body.data, "{\"file\":null,\"settings\":[]}");
    assert_int_equal(call(&api, "GET", "/api/v1/settings/poll", &body, &allow), 404);

    md_settings_init(&s);
    assert_int_equal(md_settings_parse(&s, 2, argv, &err), MD_SETTINGS_SERVE);
    assert_int_equal(
        md_config_parse(&s.config, text, strlen(text), "/etc/modeld.yaml", NULL, 0, &err), MD_OK);
    api.config = &s.config;
    assert_int_equal(call(&api, "GET", "/api/v1/settings", &body, &allow), 200);
    {
        static const char head[] = "{\"file\":\"/etc/modeld.yaml\",\"settings\":[{\"name\":"
                                   "\"repo\",\"value\":\"models\",\"source\":\"default\"},";

        assert_true(strncmp(body.data, head, strlen(head)) == 0);
    }
    assert_non_null(strstr(body.data, "{\"name\":\"poll\",\"value\":3,\"source\":\"file\","
                                      "\"file\":\"/etc/modeld.yaml\",\"line\":1}"));
    assert_non_null(strstr(body.data, "{\"name\":\"threads\",\"value\":2,\"source\":\"flag\"}"));
    assert_non_null(strstr(body.data, "{\"name\":\"log_level\",\"value\":\"warn\",\"source\":"
                                      "\"file\",\"file\":\"/etc/modeld.yaml\",\"line\":2},"));

    assert_int_equal(call(&api, "GET", "/api/v1/settings/threads", &body, &allow), 200);
    assert_string_equal(body.data, "{\"name\":\"threads\",\"value\":2,\"source\":\"flag\"}");
    assert_int_equal(call(&api, "GET", "/api/v1/settings/max-body-bytes", &body, &allow), 404);
    assert_string_equal(body.data, "{\"error\":\"setting 'max-body-bytes' not found\"}");
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/nope", &body, &allow), 404);

    /* From the file: 409 naming it. */
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/poll", &body, &allow), 409);
    assert_string_equal(body.data, "{\"error\":\"setting 'poll' is set by the configuration file "
                                   "/etc/modeld.yaml (line 1): change it there and restart "
                                   "modeld\"}");
    assert_int_equal(call(&api, "PATCH", "/api/v1/settings/log_level", &body, &allow), 409);
    /* From a flag or the default: nothing changes at run time yet. */
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/threads", &body, &allow), 405);
    assert_string_equal(allow, "GET");
    assert_string_equal(body.data, "{\"error\":\"setting 'threads' cannot be changed while modeld "
                                   "runs: set it with --threads or in the configuration file and "
                                   "restart modeld\"}");
    assert_int_equal(call(&api, "PATCH", "/api/v1/settings/idle_timeout", &body, &allow), 405);
    assert_int_equal(call(&api, "DELETE", "/api/v1/settings/poll", &body, &allow), 405);
    assert_string_equal(allow, "GET");
    assert_int_equal(call(&api, "POST", "/api/v1/settings", &body, &allow), 405);
    md_settings_release(&s);
    md_buf_release(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_error_retry_after),
        cmocka_unit_test(test_park),
        cmocka_unit_test(test_settings_api),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
