/* SPDX-License-Identifier: MIT */
/*
 * test_router.c: the path grammar of every API, the route table (every
 * entry declares a permission and a scope, and is reachable), the
 * permission check every routed request passes, and the settings handlers
 * behind /api/v1/settings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_call.h"

#include "net/router.h"
#include "api/upload.h"
#include "control/settings.h"

#include <unistd.h>

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
        {"GET", "/v2/models/m/versions/1x", 0, NULL, NULL, MD_API_V2},
        {"GET", "/v2/models/m/versions/champion", 1, "m", "champion", MD_API_V2},
        {"GET", "/v1/models/m/versions/champion", -2, NULL, NULL, MD_API_V1},
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
        {"GET", "/", 1, NULL, NULL, MD_API_OTHER},
        {"POST", "/", -1, NULL, NULL, MD_API_OTHER},
        {"GET", "/index.html", 0, NULL, NULL, MD_API_OTHER},
        {"GET", "/ui", 1, NULL, NULL, MD_API_UI},
        {"GET", "/ui/", 1, NULL, NULL, MD_API_UI},
        {"GET", "/ui/app.js", 1, NULL, NULL, MD_API_UI},
        {"POST", "/ui/app.js", -1, NULL, NULL, MD_API_UI},
        {"GET", "/ui//app.js", 0, NULL, NULL, MD_API_UI},
        {"GET", "/ui/a/b", 0, NULL, NULL, MD_API_UI},
        {"GET", "/uix", 0, NULL, NULL, MD_API_OTHER},
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

/* Writes into out an example path of pattern: each placeholder filled, the
 * optional group taken as its alternative alt (-1: left out). False when the
 * group has no such alternative. */
static bool example_path(const char *pattern, int alt, char *out, size_t size)
{
    const char *p = pattern;
    size_t n = 0;
    int in_group = -1; /* -1: outside; else the alternative being read */

    while (*p != '\0') {
        const char *add = NULL;

        if (*p == '[') {
            in_group = 0;
            p++;
            continue;
        }
        if (*p == '|') {
            in_group++;
            p++;
            continue;
        }
        if (*p == ']') {
            if (alt >= 0 && in_group < alt)
                return false;
            in_group = -1;
            p++;
            continue;
        }
        if (*p == '{') {
            const char *close = strchr(p, '}');

            assert_non_null(close);
            if (strncmp(p, "{model}", 7) == 0)
                add = "m";
            else if (strncmp(p, "{version}", 9) == 0)
                add = "12";
            else if (strncmp(p, "{label}", 7) == 0)
                add = "stable";
            else if (strncmp(p, "{setting}", 9) == 0)
                add = "poll";
            else if (strncmp(p, "{alias}", 7) == 0)
                add = "champion";
            else if (strncmp(p, "{id}", 4) == 0)
                add = "3";
            else if (strncmp(p, "{name}", 6) == 0)
                add = "safe";
            else if (strncmp(p, "{subject}", 9) == 0)
                add = "customer-8812";
            else
                fail_msg("pattern '%s': unknown placeholder", pattern);
            if (in_group < 0 || in_group == alt) {
                assert_true(n + strlen(add) < size);
                memcpy(out + n, add, strlen(add));
                n += strlen(add);
            }
            p = close + 1;
            continue;
        }
        if (in_group < 0 || in_group == alt) {
            assert_true(n + 1 < size);
            out[n++] = *p;
        }
        p++;
    }
    out[n] = '\0';
    return true;
}

/* A pattern is '/'-led, its braces and brackets balanced, one group at most, no empty segment. */
static void check_pattern(const char *pattern)
{
    int braces = 0;
    int groups = 0;
    bool in_group = false;
    const char *p;

    assert_true(pattern[0] == '/');
    assert_null(strstr(pattern, "//"));
    for (p = pattern; *p != '\0'; p++) {
        if (*p == '{') {
            assert_int_equal(braces, 0);
            braces++;
        } else if (*p == '}') {
            assert_int_equal(braces, 1);
            braces--;
        } else if (*p == '[') {
            assert_false(in_group);
            in_group = true;
            groups++;
        } else if (*p == ']') {
            assert_true(in_group);
            in_group = false;
        } else if (*p == '|') {
            assert_true(in_group);
        }
    }
    assert_int_equal(braces, 0);
    assert_false(in_group);
    assert_true(groups <= 1);
}

/* Every route declares a method, a permission, a scope and a handler, and is reachable. */
static void test_route_table(void **state)
{
    size_t n;
    const struct md_endpoint *routes = md_router_endpoints(&n);
    struct md_arena a;
    size_t i;

    (void)state;
    assert_true(n >= 22);
    md_arena_init(&a, 1 << 20);
    for (i = 0; i < n; i++) {
        const struct md_endpoint *e = &routes[i];
        char path[256];
        int alt;

        print_message("%s %s\n", e->method, e->path);
        assert_true(strcmp(e->method, "GET") == 0 || strcmp(e->method, "POST") == 0 ||
                    strcmp(e->method, "PUT") == 0 || strcmp(e->method, "PATCH") == 0 ||
                    strcmp(e->method, "DELETE") == 0);
        /* One permission, and a GET never changes the server's state (an admin's GET
         * reads what only admins may see: tokens, the audit log). */
        assert_true(e->perm != 0 && (e->perm & (e->perm - 1)) == 0);
        assert_int_equal(e->perm & ~(unsigned)MD_PERM_ALL, 0);
        if (strcmp(e->method, "GET") == 0)
            assert_true(e->perm == MD_PERM_STATUS || e->perm == MD_PERM_READ ||
                        e->perm == MD_PERM_DATA || e->perm == MD_PERM_REVIEW ||
                        e->perm == MD_PERM_ADMIN);
        assert_true(e->scope >= MD_SCOPE_NONE && e->scope <= MD_SCOPE_LISTING);
        assert_string_not_equal(md_scope_name(e->scope), "?");
        /* A path that names a model is checked against the principal before the handler. */
        assert_int_equal(strstr(e->path, "{model}") != NULL, e->scope == MD_SCOPE_PATH_MODEL);
        assert_non_null(e->handler);
        check_pattern(e->path);
        /* Each form of the pattern reaches this route, not an earlier one, in its family. */
        for (alt = -1; example_path(e->path, alt, path, sizeof(path)); alt++) {
            struct md_route rt;
            enum md_api_family fam;
            const char *allow;
            int id;

            md_router_match(e->method, path, &a, &id, &rt, &fam, &allow);
            if (id != (int)i + 1)
                fail_msg("%s %s reaches route %d, not %zu (%s)", e->method, path, id, i + 1,
                         e->path);
            assert_int_equal(fam, e->family);
            if (strstr(e->path, "{model}") != NULL)
                assert_string_equal(rt.model, "m");
            if (strstr(path, "/12") != NULL)
                assert_string_equal(rt.version, "12");
            if (strstr(path, "stable") != NULL)
                assert_string_equal(rt.label, "stable");
            if (strstr(e->path, "{setting}") != NULL)
                assert_string_equal(rt.setting, "poll");
            md_arena_reset(&a);
            if (strchr(e->path, '[') == NULL)
                break;
        }
    }
    md_arena_release(&a);
    /* What --routes prints: a line per route. */
    {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        size_t lines = 0;
        size_t k;

        assert_non_null(f);
        md_router_print(f);
        assert_int_equal(fclose(f), 0);
        for (k = 0; k < len; k++)
            lines += text[k] == '\n';
        assert_int_equal(lines, n);
        /* Columns line up: the method is padded to the longest one (DELETE). */
        assert_non_null(strstr(text, "\nPOST   /v2/repository/models/{model}/unload"));
        assert_non_null(strstr(text, "\nDELETE /api/v1/models/{model}/aliases/{alias}"));
        assert_non_null(strstr(text, "deploy   path-model\n"));
        assert_non_null(strstr(text, "feedback body-items\n"));
        free(text);
    }
}

/* TF Serving's corners that the table's grammar keeps as they were. */
static void test_tfs_paths(void **state)
{
    static const struct {
        const char *method;
        const char *path;
        int id; /* 1 any route; else the exact code */
        const char *label;
    } cases[] = {
        {"POST", "/v1/models/m/labels/a:b:predict", 1, "a:b"},
        {"GET", "/v1/models/m/labels/a:b/metadata", 1, "a:b"},
        {"GET", "/v1/models/m/labels/a:b", -2, NULL},
        {"GET", "/v1/models/m/labels/metadata", -2, NULL},
        {"GET", "/v1/models/m/labels/metadata/metadata", 1, "metadata"},
        {"POST", "/v1/models/m/labels/metadata:predict", 1, "metadata"},
        {"GET", "/v1/models/metadata", 1, NULL},
        {"POST", "/v1/models/a:b:predict", -2, NULL},
        {"GET", "/v1/models/m:x/metadata", -2, NULL},
        {"POST", "/v1/models/:predict", -2, NULL},
        {"POST", "/v1/models/m:", -2, NULL},
        {"GET", "/v1/models", -3, NULL},
        {"POST", "/v1/models/", -3, NULL},
        {"GET", "/v1/", -2, NULL},
        {"GET", "/v1", -2, NULL},
        {"GET", "/v1x", 0, NULL},
        {"GET", "/v1/models/m/versions/1/x/y", -2, NULL},
        {"POST", "/v1/models/m:predict/x", -2, NULL},
        {"POST", "/v1/models/m:classify", 1, NULL},
    };
    struct md_arena a;
    size_t i;

    (void)state;
    md_arena_init(&a, 1 << 20);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct md_route rt;
        enum md_api_family fam;
        const char *allow;
        int id;

        md_router_match(cases[i].method, cases[i].path, &a, &id, &rt, &fam, &allow);
        if (cases[i].id == 1 ? id <= 0 : id != cases[i].id)
            fail_msg("%s %s: route %d, expected %d", cases[i].method, cases[i].path, id,
                     cases[i].id);
        assert_int_equal(fam, strncmp(cases[i].path, "/v1x", 4) == 0 ? MD_API_OTHER : MD_API_V1);
        if (cases[i].label != NULL)
            assert_string_equal(rt.label, cases[i].label);
        assert_null(allow);
        md_arena_reset(&a);
    }
    md_arena_release(&a);
}

/* The anonymous principal while authentication is off; the 403 message. */
static void test_auth(void **state)
{
    struct md_auth au;
    struct md_err err;
    const struct md_principal *p;
    struct md_api_req req;
    char retry[16] = "";

    (void)state;
    memset(&au, 0, sizeof(au));
    memset(&req, 0, sizeof(req));
    /* Zeroed (no server): everything allowed. */
    assert_int_equal(md_auth_principal(&au, &req, false, true, &p, retry, &err), MD_OK);
    assert_string_equal(p->name, "anonymous");
    assert_int_equal(p->perms, MD_PERM_ALL);
    assert_int_equal(md_auth_check(&au, p, MD_PERM_ADMIN, &err), MD_OK);
    md_auth_init(&au, "0.0.0.0:8080");
    assert_int_equal(md_auth_principal(&au, &req, false, true, &p, retry, &err), MD_OK);
    assert_int_equal(p->perms, MD_PERM_ALL);
    /* With authentication on, a request without a token is refused... */
    au.enabled = true;
    assert_int_equal(md_auth_principal(&au, &req, false, true, &p, retry, &err), MD_EAUTH);
    /* ...but on an open route, where it may read. */
    assert_int_equal(md_auth_principal(&au, &req, true, true, &p, retry, &err), MD_OK);
    assert_int_equal(md_auth_check(&au, p, MD_PERM_READ, &err), MD_OK);
    assert_int_equal(md_auth_check(&au, p, MD_PERM_DEPLOY, &err), MD_EPERM);
    assert_string_equal(err.msg, "principal 'anonymous' lacks the permission 'deploy'");
    /* No permission at all is never held. */
    assert_int_equal(md_auth_check(&au, p, 0, &err), MD_EPERM);
    assert_true(md_auth_may_use(p, "m"));
    assert_false(md_auth_may_use(NULL, "m"));
    assert_string_equal(md_perm_name(MD_PERM_PREDICT), "predict");
    assert_string_equal(md_perm_name(MD_PERM_READ | MD_PERM_DEPLOY), "?");
    assert_string_equal(md_perm_name(MD_PERM_ADMIN), "admin");
    /* Roles: fixed sets of permissions, named both ways. */
    assert_int_equal(md_role_perms(MD_ROLE_ADMIN), MD_PERM_ALL);
    assert_int_equal(md_role_perms(MD_ROLE_VIEWER), MD_PERM_STATUS | MD_PERM_READ);
    assert_int_equal(md_role_perms((enum md_role)0), 0);
    assert_int_equal(md_role_parse("deployer"), MD_ROLE_DEPLOYER);
    assert_int_equal(md_role_parse("root"), 0);
    assert_string_equal(md_role_name(MD_ROLE_REVIEWER), "reviewer");
    assert_true((md_role_perms(MD_ROLE_DEPLOYER) & MD_PERM_ADMIN) == 0);
    assert_string_equal(md_scope_name(MD_SCOPE_BODY_ITEMS), "body-items");
    assert_string_equal(md_scope_name((enum md_scope)0), "?");
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

/* Every routed request passes the permission check before its handler; misses keep 404 and 405. */
static void test_dispatch_permission(void **state)
{
    struct md_api api;
    struct md_buf body;
    const char *allow;

    (void)state;
    memset(&api, 0, sizeof(api));
    md_buf_init(&body, 1 << 16);
    md_auth_init(&api.auth, "0.0.0.0:8080");
    api.auth.enabled = true;
    /* Refused before the handler runs: with no repository, a handler that ran would crash. */
    assert_int_equal(call(&api, "POST", "/v2/repository/models/m/load", &body, &allow), 401);
    assert_non_null(strstr(body.data, "Bearer"));
    assert_int_equal(call(&api, "POST", "/v2/repository/models/m/unload", &body, &allow), 401);
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/poll", &body, &allow), 401);
    assert_int_equal(call(&api, "PATCH", "/api/v1/settings/poll", &body, &allow), 401);
    assert_int_equal(call(&api, "POST", "/api/v1/models/m/versions", &body, &allow), 401);
    assert_int_equal(call(&api, "GET", "/api/v1/settings", &body, &allow), 401);
    /* A wrong method or path is answered as before, token or not. */
    assert_int_equal(call(&api, "GET", "/v2/repository/models/m/load", &body, &allow), 405);
    assert_string_equal(allow, "POST");
    assert_int_equal(call(&api, "DELETE", "/api/v1/settings/poll", &body, &allow), 405);
    assert_int_equal(call(&api, "POST", "/v2/repository/models/m/reload", &body, &allow), 404);
    /* Open health endpoints answer without one. */
    api.auth.open_health = true;
    assert_int_equal(call(&api, "GET", "/v2/health/live", &body, &allow), 200);
    /* Authentication off: the handler answers. */
    api.auth.enabled = false;
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/poll", &body, &allow), 404);
    md_buf_release(&body);
}

/*
 * Only the upload route streams its body (to md_upload_sink); its match is
 * found at the head, its permission checked before the body, and its
 * handler refuses a request whose body did not stream.
 */
static void test_streaming_routes(void **state)
{
    size_t n;
    const struct md_endpoint *routes = md_router_endpoints(&n);
    struct md_router_hit hit;
    struct md_api_req req;
    struct md_api_resp resp;
    struct md_buf body;
    struct md_arena a;
    struct md_api api;
    size_t streaming = 0;
    size_t i;

    (void)state;
    for (i = 0; i < n; i++) {
        if (routes[i].sink == NULL)
            continue;
        streaming++;
        assert_ptr_equal(routes[i].sink, &md_upload_sink);
        assert_string_equal(routes[i].method, "POST");
        assert_string_equal(routes[i].path, "/api/v1/models/{model}/versions");
        assert_int_equal(routes[i].perm, MD_PERM_DEPLOY);
    }
    assert_int_equal(streaming, 1);
    md_arena_init(&a, 1 << 16);
    md_buf_init(&body, 1 << 16);
    memset(&api, 0, sizeof(api));
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = "POST";
    req.path = "/api/v1/models/fraud/versions";
    req.body = "";
    req.arena = &a;
    resp.body = &body;
    md_router_find(req.method, req.path, &a, &hit);
    assert_non_null(hit.endpoint);
    assert_ptr_equal(hit.endpoint->sink, &md_upload_sink);
    assert_string_equal(hit.rt.model, "fraud");
    assert_int_equal(hit.family, MD_API_MANAGEMENT);
    /* The check alone: refused without a token when authentication is on, then allowed. */
    md_auth_init(&api.auth, "0.0.0.0:8080");
    api.auth.enabled = true;
    assert_int_equal(md_router_admit(&api, &hit, &req, &resp), MD_EAUTH);
    assert_int_equal(resp.status, 401);
    api.auth.enabled = false;
    assert_int_equal(md_router_admit(&api, &hit, &req, &resp), MD_OK);
    assert_non_null(req.principal);
    /* Run with no sink state: the handler says the body did not stream. */
    md_router_run(&api, &hit, &req, &resp);
    assert_int_equal(resp.status, 500);
    assert_non_null(strstr(body.data, "the body did not stream"));
    /* Other routes have no sink; a miss has no endpoint. */
    md_router_find("POST", "/v2/models/m/infer", &a, &hit);
    assert_non_null(hit.endpoint);
    assert_null(hit.endpoint->sink);
    md_router_find("DELETE", "/api/v1/models/m/versions", &a, &hit);
    assert_null(hit.endpoint);
    md_router_run(&api, &hit, &req, &resp);
    assert_int_equal(resp.status, 405);
    md_arena_release(&a);
    md_buf_release(&body);
}

/* MODELD_ROUTE_LOG: each route's first call, once. */
static void test_route_log(void **state)
{
    char path[] = "/tmp/test_router_log_XXXXXX";
    int fd = mkstemp(path);
    struct md_api api;
    struct md_buf body;
    struct md_err err;
    const char *allow;
    char text[512];
    ssize_t n;

    (void)state;
    assert_true(fd >= 0);
    memset(&api, 0, sizeof(api));
    md_buf_init(&body, 1 << 16);
    assert_int_equal(md_router_log_to(path, &err), MD_OK);
    assert_int_equal(call(&api, "GET", "/api/v1/settings", &body, &allow), 200);
    assert_int_equal(call(&api, "GET", "/api/v1/settings", &body, &allow), 200);
    assert_int_equal(call(&api, "GET", "/api/v1/settings/x", &body, &allow), 404);
    assert_int_equal(call(&api, "GET", "/api/v1/nothing", &body, &allow), 404);
    api.auth.enabled = true;
    assert_int_equal(call(&api, "PUT", "/api/v1/settings/poll", &body, &allow), 401);
    api.auth.enabled = false;
    assert_int_equal(md_router_log_to(NULL, &err), MD_OK);
    assert_int_equal(call(&api, "GET", "/v2/health/live", &body, &allow), 200);
    n = read(fd, text, sizeof(text) - 1);
    assert_true(n >= 0);
    text[n] = '\0';
    /* A refused request ran no handler: not logged; nor after the log stopped. */
    assert_string_equal(text, "GET /api/v1/settings\nGET /api/v1/settings/{setting}\n");
    assert_int_equal(md_router_log_to("/nonexistent-dir/x", &err), MD_EIO);
    assert_non_null(strstr(err.msg, "route log '/nonexistent-dir/x'"));
    close(fd);
    unlink(path);
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
        cmocka_unit_test(test_route_table),
        cmocka_unit_test(test_tfs_paths),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_dispatch_permission),
        cmocka_unit_test(test_streaming_routes),
        cmocka_unit_test(test_route_log),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
