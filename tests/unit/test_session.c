/* SPDX-License-Identifier: MIT */
/*
 * test_session.c: the dashboard's sessions (api/session.c, and auth.c's
 * cookie path): the Cookie header's parsing (several cookies, spaces,
 * quotes, duplicates, junk), the CSRF token's and the Origin's checks, the
 * table's idle and absolute expiry, its eviction when full and sign-out;
 * then through the router: sign-in with a token, a cookie request as that
 * token, a change refused without the CSRF token or from another Origin,
 * and a session whose token is revoked refused at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_call.h"

#include "api/auth.h"
#include "api/session.h"
#include "api/token.h"
#include "store/store.h"
#include "util/sha256.h"
#include "watch/metrics.h"

#define ID_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define ID_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void test_cookie(void **state)
{
    unsigned char id[MD_SESSION_ID_BYTES];

    (void)state;
    assert_true(md_session_cookie("modeld_session=" ID_A, id));
    assert_int_equal(id[0], 0x00);
    assert_int_equal(id[1], 0x11);
    assert_int_equal(id[31], 0xff);
    /* Among others, with spaces and tabs around, quoted. */
    assert_true(md_session_cookie("a=1; b=2;modeld_session=" ID_B "; c=3", id));
    assert_int_equal(id[0], 0xff);
    assert_true(md_session_cookie(" theme=dark ;\t modeld_session = \"" ID_A "\" ;", id));
    assert_int_equal(id[0], 0x00);
    /* Upper-case hex is hex. */
    assert_true(md_session_cookie("modeld_session=FFEEDDCCBBAA99887766554433221100"
                                  "FFEEDDCCBBAA99887766554433221100",
                                  id));
    assert_int_equal(id[0], 0xff);
    /* Duplicates: the first well-formed one. */
    assert_true(md_session_cookie("modeld_session=" ID_B "; modeld_session=" ID_A, id));
    assert_int_equal(id[0], 0xff);
    assert_true(md_session_cookie("modeld_session=junk; modeld_session=" ID_A, id));
    assert_int_equal(id[0], 0x00);
    /* None: another name, a prefix or suffix of the name, a short, long or
     * non-hex value, a lone quote, empty pieces, nothing. */
    assert_false(md_session_cookie("", id));
    assert_false(md_session_cookie(";;; ;", id));
    assert_false(md_session_cookie("session=" ID_A, id));
    assert_false(md_session_cookie("xmodeld_session=" ID_A, id));
    assert_false(md_session_cookie("modeld_sessionx=" ID_A, id));
    assert_false(md_session_cookie("modeld_session=" ID_A "0", id));
    assert_false(md_session_cookie("modeld_session=0011", id));
    assert_false(md_session_cookie("modeld_session=\"" ID_A, id));
    assert_false(md_session_cookie("modeld_session", id));
    assert_false(md_session_cookie("modeld_session=g0112233445566778899aabbccddeeff00112233445566"
                                   "778899aabbccddeeff",
                                   id));
    assert_false(md_session_cookie("modeld_session=", id));
    assert_false(md_session_cookie("=" ID_A, id));
}

static void test_csrf_origin(void **state)
{
    (void)state;
    assert_true(md_session_csrf_ok("abcd", "abcd"));
    assert_false(md_session_csrf_ok("abcd", NULL));
    assert_false(md_session_csrf_ok("abcd", ""));
    assert_false(md_session_csrf_ok("abcd", "abc"));
    assert_false(md_session_csrf_ok("abcd", "abcde"));
    assert_false(md_session_csrf_ok("abcd", "abce"));
    assert_false(md_session_csrf_ok("", ""));

    assert_true(md_session_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_true(md_session_origin_ok("https://Models.Example.com", "models.example.com"));
    assert_false(md_session_origin_ok("http://127.0.0.1:8081", "127.0.0.1:8080"));
    assert_false(md_session_origin_ok("http://evil.example", "127.0.0.1:8080"));
    assert_false(md_session_origin_ok("http://127.0.0.1:8080.evil", "127.0.0.1:8080"));
    assert_false(md_session_origin_ok("http://127.0.0.1:8080/", "127.0.0.1:8080"));
    assert_false(md_session_origin_ok("null", "127.0.0.1:8080"));
    assert_false(md_session_origin_ok("127.0.0.1:8080", "127.0.0.1:8080"));
    assert_false(md_session_origin_ok("http://127.0.0.1:8080", NULL));
    assert_false(md_session_origin_ok("http://", ""));
}

/* Looks up the session id_hex (the cookie's value) at now: its MD_ code, credential in cred. */
static int look(struct md_sessions *s, const char *id_hex, int64_t now, const char **cred)
{
    unsigned char id[MD_SESSION_ID_BYTES];
    char cookie[128];
    struct md_arena a;
    struct md_session_view *view = NULL;
    struct md_err err;
    static char copy[256];
    size_t n = 0;
    int rc;

    (void)snprintf(cookie, sizeof(cookie), "modeld_session=%s", id_hex);
    assert_true(md_session_cookie(cookie, id));
    md_arena_init(&a, 1 << 12);
    rc = md_sessions_find(s, id, now, &a, cred, &n, &view, &err);
    if (rc == MD_OK) {
        assert_int_equal(strlen(*cred), n);
        (void)snprintf(copy, sizeof(copy), "%s", *cred);
        *cred = copy;
    }
    md_arena_release(&a);
    return rc;
}

static void test_table(void **state)
{
    struct md_sessions *s = md_sessions_new(1000, 5000, 2);
    struct md_session_view v1, v2, v3;
    char id1[MD_SESSION_ID_HEX + 1], id2[MD_SESSION_ID_HEX + 1], id3[MD_SESSION_ID_HEX + 1];
    const char *cred = NULL;
    static char big[MD_SESSION_CREDENTIAL_MAX + 2];
    struct md_err err;

    (void)state;
    assert_int_equal(md_sessions_max_age_ms(s), 5000);
    assert_int_equal(md_sessions_create(s, "tok-1", 5, 100, id1, &v1, &err), MD_OK);
    assert_int_equal(strlen(id1), MD_SESSION_ID_HEX);
    assert_int_equal(strlen(v1.csrf), MD_SESSION_CSRF_HEX);
    assert_int_equal(v1.expires_ms, 1100);
    assert_int_equal(look(s, id1, 600, &cred), MD_OK);
    assert_string_equal(cred, "tok-1");
    /* Used at 600: idle until 1600. */
    assert_int_equal(look(s, id1, 1599, &cred), MD_OK);
    /* An unknown id, and the id's hash is not the id. */
    assert_int_equal(look(s, ID_A, 1599, &cred), MD_EAUTH);
    /* Idle too long: gone, and stays gone. */
    assert_int_equal(look(s, id1, 2600, &cred), MD_EAUTH);
    assert_int_equal(md_sessions_count(s), 0);
    assert_int_equal(look(s, id1, 2600, &cred), MD_EAUTH);

    /* The absolute age: used every 900 ms, it still ends 5 s after sign-in. */
    assert_int_equal(md_sessions_create(s, "tok-2", 5, 10000, id2, &v2, &err), MD_OK);
    assert_string_not_equal(v2.csrf, v1.csrf);
    for (int64_t t = 10900; t < 15000; t += 900)
        assert_int_equal(look(s, id2, t, &cred), MD_OK);
    assert_int_equal(look(s, id2, 15000, &cred), MD_EAUTH);

    /* Full (2): a third sign-in ends the session unused longest. */
    assert_int_equal(md_sessions_create(s, "a", 1, 20000, id1, &v1, &err), MD_OK);
    assert_int_equal(md_sessions_create(s, "b", 1, 20100, id2, &v2, &err), MD_OK);
    assert_int_equal(look(s, id1, 20200, &cred), MD_OK); /* a used after b */
    assert_int_equal(md_sessions_create(s, "c", 1, 20300, id3, &v3, &err), MD_OK);
    assert_int_equal(md_sessions_count(s), 2);
    assert_int_equal(look(s, id2, 20400, &cred), MD_EAUTH);
    assert_int_equal(look(s, id1, 20400, &cred), MD_OK);
    assert_string_equal(cred, "a");
    assert_int_equal(look(s, id3, 20400, &cred), MD_OK);
    assert_string_equal(cred, "c");
    /* An expired session is pruned by the next sign-in. */
    assert_int_equal(md_sessions_create(s, "d", 1, 30000, id2, &v2, &err), MD_OK);
    assert_int_equal(md_sessions_count(s), 1);

    /* Sign-out: by the id's hash, once. */
    assert_true(md_sessions_end(s, v2.id_hash));
    assert_false(md_sessions_end(s, v2.id_hash));
    assert_int_equal(look(s, id2, 30001, &cred), MD_EAUTH);

    /* A credential too long is refused, naming the field. */
    memset(big, 'x', sizeof(big) - 1);
    assert_int_equal(md_sessions_create(s, big, sizeof(big) - 1, 30000, id1, &v1, &err), MD_EINVAL);
    assert_string_equal(err.msg, "token: too long (at most 8192 bytes)");
    md_sessions_free(s);
    md_sessions_free(NULL);
}

/* ---- through the router ------------------------------------------------------------ */

#define S_ADMIN  "mdt_0000000000000000000000000000000000000000000000000000000000000001"
#define S_VIEWER "mdt_0000000000000000000000000000000000000000000000000000000000000002"

/* A test request's headers. */
struct hdrs {
    const char *authorization, *cookie, *csrf, *origin, *host, *content_type;
};

static const char *header(void *conn, const char *name)
{
    const struct hdrs *h = conn;

    if (strcasecmp(name, "Authorization") == 0)
        return h->authorization;
    if (strcasecmp(name, "Cookie") == 0)
        return h->cookie;
    if (strcasecmp(name, "X-CSRF-Token") == 0)
        return h->csrf;
    if (strcasecmp(name, "Origin") == 0)
        return h->origin;
    if (strcasecmp(name, "Host") == 0)
        return h->host;
    if (strcasecmp(name, "Content-Type") == 0)
        return h->content_type;
    return NULL;
}

/* Dispatches method path with headers h and body; its status, its Set-Cookie into cookie. */
static int send_req(struct md_api *api, const char *method, const char *path, const struct hdrs *h,
                    const char *body, struct md_buf *out, char cookie[256])
{
    struct md_arena a;
    struct md_api_req req;
    struct md_api_resp resp;

    md_arena_init(&a, 1 << 16);
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = method;
    req.path = path;
    req.body = body;
    req.body_len = strlen(body);
    req.arena = &a;
    req.header = header;
    req.conn = (void *)h;
    md_buf_reset(out);
    resp.body = out;
    resp.status = 200;
    md_router_dispatch(api, &req, &resp);
    if (cookie != NULL) {
        cookie[0] = '\0';
        for (unsigned i = 0; i < resp.n_headers; i++)
            if (strcmp(resp.headers[i][0], "Set-Cookie") == 0)
                (void)snprintf(cookie, 256, "%s", resp.headers[i][1]);
    }
    md_arena_release(&a);
    return resp.status;
}

static struct md_token_table *tokens(bool revoked)
{
    static char h[2][65];
    struct md_store_token rows[2];
    struct md_token_table *t = NULL;
    struct md_err err;
    int64_t now = md_wall_ms();

    md_sha256_hex(S_ADMIN, strlen(S_ADMIN), h[0]);
    md_sha256_hex(S_VIEWER, strlen(S_VIEWER), h[1]);
    rows[0] = (struct md_store_token){1, "root", h[0], "admin", NULL, 0, 0, now, "off", 0, 0, 0};
    rows[1] = (struct md_store_token){
        2, "dash", h[1], "viewer", "[\"m1\"]", 0, 0, now, "off", 0, revoked ? now - 1 : 0, 0};
    assert_int_equal(md_auth_tokens_make(rows, 2, &t, &err), MD_OK);
    return t;
}

/* The csrf of a session document in body into out. */
static void csrf_of(const struct md_buf *body, char out[MD_SESSION_CSRF_HEX + 1])
{
    const char *at = strstr(body->data, "\"csrf\":\"");

    assert_non_null(at);
    memcpy(out, at + 8, MD_SESSION_CSRF_HEX);
    out[MD_SESSION_CSRF_HEX] = '\0';
}

static void test_dispatch(void **state)
{
    struct md_api api;
    struct md_buf body;
    char set[256], cookie[128], csrf[MD_SESSION_CSRF_HEX + 1];
    const char *json = "application/json";
    struct hdrs none = {0};
    struct hdrs c;

    (void)state;
    memset(&api, 0, sizeof(api));
    md_buf_init(&body, 1 << 16);
    md_auth_init(&api.auth, "127.0.0.1:8080");

    /* Authentication off: nothing to sign in to; the document says so. */
    assert_int_equal(send_req(&api, "POST", "/api/v1/session", &(struct hdrs){.content_type = json},
                              "{\"token\":\"" S_ADMIN "\"}", &body, NULL),
                     409);
    assert_int_equal(send_req(&api, "GET", "/api/v1/session", &none, "", &body, NULL), 200);
    assert_non_null(strstr(body.data, "\"auth\":false"));
    assert_non_null(strstr(body.data, "\"via\":\"anonymous\",\"csrf\":null"));

    api.auth.enabled = true;
    api.auth.sessions = md_sessions_new(3600000, 7200000, 16);
    md_auth_tokens_publish(&api.auth, tokens(false));

    /* Bad sign-ins: the field named, the token never echoed. */
    assert_int_equal(send_req(&api, "POST", "/api/v1/session", &none, "{}", &body, NULL), 400);
    assert_string_equal(body.data, "{\"error\":\"Content-Type: must be application/json\"}");
    assert_int_equal(send_req(&api, "POST", "/api/v1/session", &(struct hdrs){.content_type = json},
                              "{\"token\":7}", &body, NULL),
                     400);
    assert_string_equal(body.data, "{\"error\":\"token: not a string\"}");
    assert_int_equal(send_req(&api, "POST", "/api/v1/session", &(struct hdrs){.content_type = json},
                              "[1]", &body, NULL),
                     400);
    assert_int_equal(send_req(&api, "POST", "/api/v1/session",
                              &(struct hdrs){.content_type = "application/json; charset=utf-8"},
                              "{\"token\":\"mdt_00000000000000000000000000000000000000000000000000"
                              "00000000000009\"}",
                              &body, NULL),
                     401);
    assert_null(strstr(body.data, "0009"));

    /* The viewer signs in: 201, the cookie's flags, the document. */
    assert_int_equal(send_req(&api, "POST", "/api/v1/session", &(struct hdrs){.content_type = json},
                              "{\"token\":\"" S_VIEWER "\"}", &body, set),
                     201);
    assert_non_null(strstr(set, "; Path=/; Max-Age=7200; HttpOnly; SameSite=Strict"));
    assert_null(strstr(set, "Secure"));
    assert_non_null(strstr(body.data, "\"principal\":\"dash\",\"role\":\"viewer\""));
    assert_non_null(strstr(body.data, "\"permissions\":[\"status\",\"read\"],\"models\":[\"m1\"]"));
    assert_non_null(strstr(body.data, "\"via\":\"cookie\""));
    assert_null(strstr(body.data, S_VIEWER + 4));
    csrf_of(&body, csrf);
    (void)snprintf(cookie, sizeof(cookie), "theme=1; %.*s", (int)strcspn(set, ";"), set);

    /* Its cookie is the viewer's token: reads, not changes, not another model. */
    c = (struct hdrs){.cookie = cookie, .host = "127.0.0.1:8080"};
    assert_int_equal(send_req(&api, "GET", "/api/v1/session", &c, "", &body, NULL), 200);
    assert_non_null(strstr(body.data, csrf));
    assert_int_equal(send_req(&api, "GET", "/api/v1/settings", &c, "", &body, NULL), 200);
    assert_int_equal(send_req(&api, "GET", "/api/v1/models/m2/quality", &c, "", &body, NULL), 403);
    /* A change: the CSRF token first, then the Origin, then the role. */
    assert_int_equal(send_req(&api, "PUT", "/api/v1/settings/poll", &c, "", &body, NULL), 403);
    assert_string_equal(body.data, "{\"error\":\"X-CSRF-Token: missing or not this session's (a "
                                   "cookie request that changes state needs the csrf of GET "
                                   "/api/v1/session)\"}");
    c.csrf = "00";
    assert_int_equal(send_req(&api, "PUT", "/api/v1/settings/poll", &c, "", &body, NULL), 403);
    assert_non_null(strstr(body.data, "X-CSRF-Token"));
    c.csrf = csrf;
    c.origin = "http://evil.example";
    assert_int_equal(send_req(&api, "PUT", "/api/v1/settings/poll", &c, "", &body, NULL), 403);
    assert_string_equal(body.data, "{\"error\":\"Origin: 'http://evil.example' is not this "
                                   "server\"}");
    c.origin = "http://127.0.0.1:8080";
    assert_int_equal(send_req(&api, "PUT", "/api/v1/settings/poll", &c, "", &body, NULL), 403);
    assert_string_equal(body.data,
                        "{\"error\":\"token 'dash' (role viewer) lacks the permission 'admin'\"}");
    /* An Authorization header wins over the cookie. */
    c.authorization = "Bearer " S_ADMIN;
    assert_int_equal(send_req(&api, "GET", "/api/v1/session", &c, "", &body, NULL), 200);
    assert_non_null(strstr(body.data, "\"principal\":\"root\""));
    assert_non_null(strstr(body.data, "\"via\":\"bearer\",\"csrf\":null"));
    c.authorization = NULL;

    /* The token revoked: the session is refused at once, and ended. */
    md_auth_tokens_publish(&api.auth, tokens(true));
    assert_int_equal(send_req(&api, "GET", "/api/v1/settings", &c, "", &body, NULL), 401);
    assert_string_equal(body.data, "{\"error\":\"bearer token 'dash': revoked\"}");
    assert_int_equal(md_sessions_count(api.auth.sessions), 0);
    assert_int_equal(send_req(&api, "GET", "/api/v1/settings", &c, "", &body, NULL), 401);
    assert_string_equal(body.data, "{\"error\":\"session: unknown or ended; sign in again\"}");

    /* The admin signs in and out: the cookie cleared, the session gone. */
    assert_int_equal(send_req(&api, "POST", "/api/v1/session", &(struct hdrs){.content_type = json},
                              "{\"token\":\"" S_ADMIN "\"}", &body, set),
                     201);
    csrf_of(&body, csrf);
    (void)snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(set, ";"), set);
    c = (struct hdrs){.cookie = cookie};
    assert_int_equal(send_req(&api, "DELETE", "/api/v1/session", &c, "", &body, NULL), 403);
    c.csrf = csrf;
    assert_int_equal(send_req(&api, "DELETE", "/api/v1/session", &c, "", &body, set), 200);
    assert_string_equal(body.data, "{\"signed_out\":true}");
    assert_non_null(strstr(set, "modeld_session=; Path=/; Max-Age=0;"));
    assert_int_equal(send_req(&api, "GET", "/api/v1/session", &c, "", &body, NULL), 401);
    /* No credential at all: 401, which the dashboard turns into its sign-in. */
    assert_int_equal(send_req(&api, "GET", "/api/v1/session", &none, "", &body, NULL), 401);

    md_auth_tokens_publish(&api.auth, NULL);
    md_sessions_free(api.auth.sessions);
    md_buf_release(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_csrf_origin),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_dispatch),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
