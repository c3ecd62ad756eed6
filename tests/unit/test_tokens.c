/* SPDX-License-Identifier: MIT */
/*
 * test_tokens.c: bearer tokens (api/token.c, api/auth.c): the hash of a
 * request's secret agrees with OpenSSL's SHA-256, secrets have their form,
 * durations parse, and a published table turns an Authorization header into
 * a principal or the right refusal: 401 for a missing, malformed, unknown,
 * expired or revoked token, 403 for a permission or model it lacks, 429
 * with Retry-After past its rate, whose state survives a new table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_call.h"

#include "api/auth.h"
#include "api/token.h"
#include "store/store.h"
#include "util/sha256.h"
#include "watch/metrics.h"

/* The Authorization header a test request carries (conn is the value, or NULL). */
static const char *header(void *conn, const char *name)
{
    return strcasecmp(name, "Authorization") == 0 ? conn : NULL;
}

/* Dispatches method path with Authorization value auth (NULL: none); the status, Retry-After
 * into retry when not NULL. */
static int call_with(struct md_api *api, const char *method, const char *path, const char *auth,
                     struct md_buf *body, char *retry)
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
    req.header = header;
    req.conn = (void *)auth;
    md_buf_reset(body);
    resp.body = body;
    resp.status = 200;
    md_router_dispatch(api, &req, &resp);
    md_arena_release(&a);
    if (retry != NULL)
        memcpy(retry, resp.retry_after, sizeof(resp.retry_after));
    return resp.status;
}

static void test_hash(void **state)
{
    unsigned char in[300];
    unsigned char out[32];
    char want[MD_SHA256_HEX];
    char got[65];

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 7 + 3);
    /* Every length around the one- and two-block paddings, and a few blocks. */
    for (size_t n = 0; n < sizeof(in); n++) {
        md_sha256_hex(in, n, want);
        md_token_hash(in, n, out);
        for (size_t i = 0; i < 32; i++)
            (void)snprintf(got + 2 * i, 3, "%02x", out[i]);
        assert_string_equal(got, want);
    }
}

static void test_secret(void **state)
{
    char a[MD_TOKEN_SECRET_LEN + 1];
    char b[MD_TOKEN_SECRET_LEN + 1];
    struct md_err err;

    (void)state;
    assert_int_equal(md_token_secret_new(a, &err), MD_OK);
    assert_int_equal(md_token_secret_new(b, &err), MD_OK);
    assert_int_equal(strlen(a), MD_TOKEN_SECRET_LEN);
    assert_true(strncmp(a, "mdt_", 4) == 0);
    assert_true(md_token_secret_valid(a, strlen(a)));
    assert_string_not_equal(a, b);
    assert_false(md_token_secret_valid(a, strlen(a) - 1));
    a[10] = 'G';
    assert_false(md_token_secret_valid(a, strlen(a)));
    a[10] = 'A'; /* upper case is not the form */
    assert_false(md_token_secret_valid(a, strlen(a)));
    b[2] = 'x'; /* "mdx_" */
    assert_false(md_token_secret_valid(b, strlen(b)));
    assert_false(md_token_secret_valid("", 0));
}

static void test_duration(void **state)
{
    struct md_err err;
    int64_t ms = 0;

    (void)state;
    assert_int_equal(md_token_duration("30d", "expires", &ms, &err), MD_OK);
    assert_int_equal(ms, 30LL * 86400 * 1000);
    assert_int_equal(md_token_duration("12h", "expires", &ms, &err), MD_OK);
    assert_int_equal(ms, 12LL * 3600 * 1000);
    assert_int_equal(md_token_duration("90m", "expires", &ms, &err), MD_OK);
    assert_int_equal(md_token_duration("3600", "expires", &ms, &err), MD_OK);
    assert_int_equal(ms, 3600000);
    assert_int_equal(md_token_duration("0s", "expires", &ms, &err), MD_EINVAL);
    assert_int_equal(md_token_duration("3d2", "expires", &ms, &err), MD_EINVAL);
    assert_int_equal(md_token_duration("-1d", "expires", &ms, &err), MD_EINVAL);
    assert_int_equal(md_token_duration("5y", "--expires", &ms, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "--expires"));
    assert_int_equal(md_token_duration("99999d", "expires", &ms, &err), MD_EINVAL);
}

/* The hex SHA-256 of secret into hex. */
static void hex_of(const char *secret, char hex[65])
{
    md_sha256_hex(secret, strlen(secret), hex);
}

/* Secrets of the tokens below: fixed, of the right form. */
#define S_ADMIN   "mdt_0000000000000000000000000000000000000000000000000000000000000001"
#define S_VIEWER  "mdt_0000000000000000000000000000000000000000000000000000000000000002"
#define S_EXPIRED "mdt_0000000000000000000000000000000000000000000000000000000000000003"
#define S_REVOKED "mdt_0000000000000000000000000000000000000000000000000000000000000004"
#define S_LIMITED "mdt_0000000000000000000000000000000000000000000000000000000000000005"
#define S_UNKNOWN "mdt_0000000000000000000000000000000000000000000000000000000000000006"

static struct md_token_table *table(void)
{
    static char h[5][65];
    struct md_store_token rows[5];
    struct md_token_table *t = NULL;
    struct md_err err;
    int64_t now = md_wall_ms();

    hex_of(S_ADMIN, h[0]);
    hex_of(S_VIEWER, h[1]);
    hex_of(S_EXPIRED, h[2]);
    hex_of(S_REVOKED, h[3]);
    hex_of(S_LIMITED, h[4]);
    memset(rows, 0, sizeof(rows));
    rows[0] =
        (struct md_store_token){1, "root", h[0], "admin", NULL, 0, 0, now, "offline", 0, 0, 0};
    rows[1] = (struct md_store_token){2, "dash", h[1],   "viewer",      "[\"m1\"]", 0,
                                      0, now,    "root", now + 3600000, 0,          0};
    rows[2] =
        (struct md_store_token){3, "old", h[2], "admin", NULL, 0, 0, now, "root", now - 1, 0, 0};
    rows[3] =
        (struct md_store_token){4, "gone", h[3], "admin", NULL, 0, 0, now, "root", 0, now - 1, 0};
    rows[4] =
        (struct md_store_token){5, "app", h[4], "predictor", NULL, 0.001, 2, now, "root", 0, 0, 0};
    assert_int_equal(md_auth_tokens_make(rows, 5, &t, &err), MD_OK);
    return t;
}

/* Seconds of a Retry-After. */
static long atoi_ok(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    return end != s && *end == '\0' ? v : -1;
}

struct used {
    int64_t *ids;
    size_t *n;
};

static void collect(void *ctx, int64_t id, int64_t at_ms)
{
    struct used *u = ctx;

    assert_true(at_ms > 0);
    u->ids[(*u->n)++] = id;
}

static void test_principal(void **state)
{
    struct md_api api;
    struct md_buf body;
    char retry[16];

    (void)state;
    memset(&api, 0, sizeof(api));
    md_buf_init(&body, 1 << 16);
    md_auth_init(&api.auth, "0.0.0.0:8080");
    api.auth.enabled = true;
    md_auth_tokens_publish(&api.auth, table());
    assert_int_equal(md_auth_tokens_count(&api.auth), 5);

    /* 401: none, another scheme, a malformed, an unknown, an expired, a revoked token. */
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", NULL, &body, NULL), 401);
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", "Basic " S_ADMIN, &body, NULL),
                     401);
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", "Bearer mdt_1", &body, NULL), 401);
    assert_non_null(strstr(body.data, "malformed"));
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", "Bearer " S_UNKNOWN, &body, NULL),
                     401);
    assert_null(strstr(body.data, S_UNKNOWN + 4)); /* never the secret */
    assert_non_null(strstr(body.data, "unknown"));
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", "Bearer " S_EXPIRED, &body, NULL),
                     401);
    assert_string_equal(body.data, "{\"error\":\"bearer token 'old': expired\"}");
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", "Bearer " S_REVOKED, &body, NULL),
                     401);
    assert_string_equal(body.data, "{\"error\":\"bearer token 'gone': revoked\"}");

    /* A known token: its role's permissions (the scheme's case and spaces do not matter). */
    assert_int_equal(
        call_with(&api, "GET", "/api/v1/settings", "bearer  " S_ADMIN " ", &body, NULL), 200);
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", "Bearer " S_VIEWER, &body, NULL),
                     200);
    assert_int_equal(
        call_with(&api, "PUT", "/api/v1/settings/poll", "Bearer " S_VIEWER, &body, NULL), 403);
    assert_string_equal(body.data,
                        "{\"error\":\"token 'dash' (role viewer) lacks the permission 'admin'\"}");
    /* Its models: another model's path is refused before the handler. */
    assert_int_equal(
        call_with(&api, "GET", "/api/v1/models/m2/quality", "Bearer " S_VIEWER, &body, NULL), 403);
    assert_string_equal(body.data, "{\"error\":\"model 'm2': not permitted to principal 'dash'\"}");

    /* The rate: 2 at once, then 429 with Retry-After (a request a 1000 s). */
    assert_int_equal(call_with(&api, "GET", "/v2/health/live", "Bearer " S_LIMITED, &body, retry),
                     200);
    assert_int_equal(call_with(&api, "GET", "/v2/health/live", "Bearer " S_LIMITED, &body, retry),
                     200);
    assert_int_equal(call_with(&api, "GET", "/v2/health/live", "Bearer " S_LIMITED, &body, retry),
                     429);
    assert_true(atoi_ok(retry) >= 999 && atoi_ok(retry) <= 1000);
    assert_non_null(strstr(body.data, "rate limit"));
    /* A new table (a token made or revoked) keeps the bucket. */
    md_auth_tokens_publish(&api.auth, table());
    assert_int_equal(call_with(&api, "GET", "/v2/health/live", "Bearer " S_LIMITED, &body, retry),
                     429);

    /* Last uses: reported once each, then not again until a new use. */
    {
        int64_t seen[8];
        size_t n = 0;

        md_auth_tokens_used(&api.auth, collect, &(struct used){seen, &n});
        assert_int_equal(n, 3); /* root, dash, app */
        n = 0;
        md_auth_tokens_used(&api.auth, collect, &(struct used){seen, &n});
        assert_int_equal(n, 0);
    }
    md_auth_tokens_publish(&api.auth, NULL);
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", "Bearer " S_ADMIN, &body, NULL),
                     401);
    md_buf_release(&body);
}

/* A stored hash or model list that cannot be read: the table is refused, naming the token. */
static void test_bad_rows(void **state)
{
    struct md_store_token row = {7, "x", "zz", "admin", NULL, 0, 0, 1, "root", 0, 0, 0};
    struct md_token_table *t = NULL;
    struct md_err err;
    char h[65];

    (void)state;
    assert_int_equal(md_auth_tokens_make(&row, 1, &t, &err), MD_ECORRUPT);
    assert_null(t);
    assert_non_null(strstr(err.msg, "'x'"));
    hex_of(S_ADMIN, h);
    row.hash = h;
    row.models = "{\"m\":1}";
    assert_int_equal(md_auth_tokens_make(&row, 1, &t, &err), MD_ECORRUPT);
    row.models = "[\"m\",2]";
    assert_int_equal(md_auth_tokens_make(&row, 1, &t, &err), MD_ECORRUPT);
    row.models = "[\"m\"]";
    assert_int_equal(md_auth_tokens_make(&row, 1, &t, &err), MD_OK);
    md_auth_tokens_free(t);
}

/* What the creation jobs below share. */
struct making {
    struct md_token_spec spec;
    char secret[MD_TOKEN_SECRET_LEN + 1];
    char name[MD_TOKEN_NAME_MAX + 1];
    int64_t id;
    struct md_token_table *table;
};

static int run_make(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct making *m = ctx;

    return md_token_create(tx, &m->spec, m->secret, m->name, &m->id, err);
}

static int run_read(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct making *m = ctx;

    return md_auth_tokens_read(tx, &m->table, err);
}

static int run_revoke(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    MD_UNUSED(ctx);
    return md_store_tx_token_revoke(tx, "first", md_wall_ms(), err);
}

/* Tokens made in a real store: checked, named, stored only as a hash, read back. */
static void test_create(void **state)
{
    char dir[] = "/tmp/test-tokens-XXXXXX";
    struct md_store *store = NULL;
    struct making m;
    struct md_err err;
    struct md_api api;
    struct md_buf body;
    char bearer[7 + MD_TOKEN_SECRET_LEN + 1];

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(md_store_open(dir, &store, &err), MD_OK);
    memset(&m, 0, sizeof(m));
    m.spec.role = "viewer";
    m.spec.created_by = "test";
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_OK);
    assert_true(md_token_secret_valid(m.secret, strlen(m.secret)));
    assert_true(strncmp(m.name, "viewer-", 7) == 0 && strlen(m.name) == 15);
    /* Named, limited, a rate without a burst (the burst is then the rate). */
    m.spec.name = "first";
    m.spec.models = "m1,m2";
    m.spec.rate = 5;
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_OK);
    (void)snprintf(bearer, sizeof(bearer), "Bearer %s", m.secret);
    /* The same name again: 409. */
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_ECONFLICT);
    assert_non_null(strstr(err.msg, "'first'"));
    /* Each bad field named. */
    m.spec.name = "bad name";
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_EINVAL);
    assert_true(strncmp(err.msg, "name:", 5) == 0);
    m.spec.name = "second";
    m.spec.role = "root";
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_EINVAL);
    assert_true(strncmp(err.msg, "role:", 5) == 0);
    m.spec.role = "viewer";
    m.spec.models = "m1,,m2";
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_EINVAL);
    assert_true(strncmp(err.msg, "models:", 7) == 0);
    m.spec.models = NULL;
    m.spec.rate = -1;
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_EINVAL);
    assert_true(strncmp(err.msg, "rate:", 5) == 0);
    m.spec.rate = 0;
    m.spec.burst = 3;
    assert_int_equal(md_store_call(store, run_make, &m, &err), MD_EINVAL);
    assert_true(strncmp(err.msg, "burst:", 6) == 0);

    /* Read back, the secret of "first" is a viewer of m1 and m2. */
    assert_int_equal(md_store_call(store, run_read, &m, &err), MD_OK);
    memset(&api, 0, sizeof(api));
    md_buf_init(&body, 1 << 16);
    api.auth.enabled = true;
    md_auth_tokens_publish(&api.auth, m.table);
    assert_int_equal(md_auth_tokens_count(&api.auth), 2);
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", bearer, &body, NULL), 200);
    assert_int_equal(call_with(&api, "GET", "/api/v1/models/m3/quality", bearer, &body, NULL), 403);
    /* Revoked in the store, read again: 401. */
    assert_int_equal(md_store_call(store, run_revoke, NULL, &err), MD_OK);
    assert_int_equal(md_store_call(store, run_revoke, NULL, &err), MD_OK); /* again: no change */
    assert_int_equal(md_store_call(store, run_read, &m, &err), MD_OK);
    md_auth_tokens_publish(&api.auth, m.table);
    assert_int_equal(call_with(&api, "GET", "/api/v1/settings", bearer, &body, NULL), 401);
    md_auth_tokens_publish(&api.auth, NULL);
    md_buf_release(&body);
    md_store_close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),     cmocka_unit_test(test_secret),
        cmocka_unit_test(test_duration), cmocka_unit_test(test_principal),
        cmocka_unit_test(test_bad_rows), cmocka_unit_test(test_create),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
