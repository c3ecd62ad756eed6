/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c: the traffic policy (serve/policy.h). Covers: the sticky
 * hash pinned by known values (computed apart, from the function policy.h
 * states); a full policy and the defaults parsed; every refusal with the
 * field and the reason it names, out left zeroed; the checks repeated once
 * aliases are resolved; format and parse giving back the same policy (and
 * the same text); 10,000 random picks at 90/10 within 1 point; 1,000
 * sticky keys at 90/10 within 5 points, each key's route the same on every
 * call; raising the last route's weight (10% to 25% to 50%) or the first's
 * moving keys into it only, and moving weight between two routes moving
 * only keys between them; the salt md_policy_settle keeps or makes; a
 * route of weight 0 never picked; pin, names and equal. Every document is
 * parsed from a copy of exactly its length, so a sanitizer build catches a
 * read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serve/policy.h"

/* Parses text from an exact-length copy; the code, with the message in *err. */
static int parse(const char *text, struct md_policy *p, struct md_err *err)
{
    size_t len = strlen(text);
    char *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, text, len);
    md_err_clear(err);
    rc = md_policy_parse(copy, len, p, err);
    free(copy);
    return rc;
}

static void parse_ok(const char *text, struct md_policy *p)
{
    struct md_err err;
    int rc = parse(text, p, &err);

    if (rc != MD_OK)
        fail_msg("refused %s: %s", text, err.msg);
}

/* A small deterministic generator (xorshift64*) for the random picks. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

/* ---------------------------------------------------------------- the hash */

/*
 * Values computed apart from this code (a few lines of Python following
 * policy.h's statement of the function): a replica written in another
 * language must find the same points and the same routes.
 */
static void test_hash_known_values(void **state)
{
    struct md_policy p;

    (void)state;
    assert_true(md_policy_point("", "", 0) == 1336515345882121.0 / 9007199254740992.0);
    assert_true(md_policy_point("", "", 0) == 0.14838301097631856);
    assert_true(md_policy_point("exp-7", "user-42", 7) == 0.8669576078628692);
    assert_true(md_policy_point("exp-7", "user-0", 6) == 0.7005930339257088);
    assert_true(md_policy_point("0123456789abcdef", "0123456789abcdef", 16) == 0.7841331015210473);
    assert_true(md_policy_point("s", "a", 1) == 0.9992874477702841);
    /* docs/traffic.md's worked example: x = 7729384229742475. */
    assert_true(md_policy_point("exp-7", "alice", 5) == 7729384229742475.0 / 9007199254740992.0);
    /* The key is key_len bytes, not a C string: a NUL in it counts. */
    assert_true(md_policy_point("s", "a\0b", 3) != md_policy_point("s", "a", 1));
    /* The zero byte between salt and key: ("ab", "c") is not ("a", "bc"). */
    assert_true(md_policy_point("ab", "c", 1) != md_policy_point("a", "bc", 2));

    parse_ok("{\"routes\":[{\"name\":\"a\",\"version\":1,\"weight\":90},"
             "{\"name\":\"b\",\"version\":2,\"weight\":10}],"
             "\"sticky\":{\"header\":\"X-User-Id\",\"salt\":\"exp-7\"}}",
             &p);
    assert_int_equal(md_policy_pick(&p, "user-42", 7, 0), 0); /* 0.867 < 0.9 */
    p.routes[0].weight = 75;
    p.routes[1].weight = 25;
    assert_int_equal(md_policy_pick(&p, "user-42", 7, 0), 1); /* 0.867 >= 0.75 */
    assert_int_equal(md_policy_pick(&p, "user-0", 6, 0), 0);  /* 0.701 < 0.75 */
}

/* ---------------------------------------------------------------- parsing */

static void test_parse_full(void **state)
{
    struct md_policy p;

    (void)state;
    parse_ok("{\"routes\":  [{\"name\": \"stable\", \"version\": \"3\", \"weight\": 90},\n"
             "             {\"name\": \"canary\", \"version\": 4, \"weight\": 10}],\n"
             " \"sticky\":  {\"header\": \"X-User-Id\"},\n"
             " \"shadows\": [{\"version\": \"5\", \"fraction\": 0.25},\n"
             "             {\"version\": \"candidate\"}],\n"
             " \"mirror\":  0.1}",
             &p);
    assert_int_equal(p.n_routes, 2);
    assert_string_equal(p.routes[0].name, "stable");
    assert_int_equal(p.routes[0].version, 3);
    assert_string_equal(p.routes[0].alias, "");
    assert_int_equal(p.routes[0].weight, 90);
    assert_string_equal(p.routes[1].name, "canary");
    assert_int_equal(p.routes[1].version, 4);
    assert_int_equal(p.routes[1].weight, 10);
    assert_int_equal(p.total_weight, 100);
    assert_int_equal(p.sticky, MD_STICKY_HEADER);
    assert_string_equal(p.sticky_name, "X-User-Id");
    assert_string_equal(p.salt, "");
    assert_int_equal(p.n_shadows, 2);
    assert_int_equal(p.shadows[0].version, 5);
    assert_true(p.shadows[0].fraction == 0.25);
    assert_int_equal(p.shadows[1].version, 0);
    assert_string_equal(p.shadows[1].alias, "candidate");
    assert_true(p.shadows[1].fraction == 1.0);
    assert_true(p.mirror == 0.1);
}

static void test_parse_defaults(void **state)
{
    struct md_policy p;

    (void)state;
    /* A lone route: named "stable", all the weight; no sticky, shadow or mirror. */
    parse_ok("{\"routes\":[{\"version\":\"7\"}]}", &p);
    assert_int_equal(p.n_routes, 1);
    assert_string_equal(p.routes[0].name, "stable");
    assert_int_equal(p.routes[0].version, 7);
    assert_int_equal(p.routes[0].weight, MD_POLICY_WEIGHT_ONE);
    assert_int_equal(p.total_weight, MD_POLICY_WEIGHT_ONE);
    assert_int_equal(p.sticky, MD_STICKY_NONE);
    assert_int_equal(p.n_shadows, 0);
    assert_true(p.mirror == 0.0);

    /* An alias, null sticky and shadows, a key, an alias beside a number. */
    parse_ok("{\"routes\":[{\"name\":\"blue\",\"version\":\"champion\",\"weight\":0},"
             "{\"name\":\"green\",\"version\":\"12\",\"alias\":\"candidate\",\"weight\":1}],"
             "\"sticky\":null,\"shadows\":null}",
             &p);
    assert_int_equal(p.routes[0].version, 0);
    assert_string_equal(p.routes[0].alias, "champion");
    assert_int_equal(p.routes[1].version, 12);
    assert_string_equal(p.routes[1].alias, "candidate");
    assert_int_equal(p.total_weight, 1);
    assert_int_equal(p.sticky, MD_STICKY_NONE);

    parse_ok("{\"routes\":[{\"version\":999999999999999999}],"
             "\"sticky\":{\"key\":\"user_id\",\"salt\":\"exp-7\"},\"mirror\":1}",
             &p);
    assert_int_equal(p.routes[0].version, 999999999999999999LL);
    assert_int_equal(p.sticky, MD_STICKY_KEY);
    assert_string_equal(p.sticky_name, "user_id");
    assert_string_equal(p.salt, "exp-7");
    assert_true(p.mirror == 1.0);

    /* Two routes may name one version (an A/A test); a shadow may name a route of weight 0. */
    parse_ok("{\"routes\":[{\"name\":\"a\",\"version\":3,\"weight\":50},"
             "{\"name\":\"b\",\"version\":3,\"weight\":50},"
             "{\"name\":\"c\",\"version\":4,\"weight\":0}],"
             "\"shadows\":[{\"version\":4,\"fraction\":1}]}",
             &p);
    assert_int_equal(p.n_routes, 3);
    assert_int_equal(p.n_shadows, 1);
}

struct bad_case {
    const char *json;
    const char *msg; /* the whole message, or its start when the case says so */
    bool prefix;
};

#define R2(w0, w1)                                                                                 \
    "{\"routes\":[{\"name\":\"stable\",\"version\":\"3\",\"weight\":" w0 "},"                      \
    "{\"name\":\"canary\",\"version\":\"4\",\"weight\":" w1 "}]"
#define ONE "{\"routes\":[{\"version\":\"3\"}]"

static const struct bad_case bad_cases[] = {
    /* the document */
    {"{\"routes\":", "invalid JSON at line 1, column 10: ", true},
    {"", "invalid JSON at line 1, column 0: ", true},
    {"{\"routes\":[{\"version\":\"3\"}],\"routes\":[]}", "invalid JSON at line 1, column ", true},
    {"{\"routes\":[{\"version\":\"a\\u0000b\"}]}", "invalid JSON at line 1, column ", true},
    {"[]", "traffic policy: must be a JSON object", false},
    {"{}", "routes: required", false},
    {ONE ",\"colour\":1}", "colour: unknown field", false},
    {ONE ",\"w\xc3\xa9ight\":1}", "w??ight: unknown field", false},
    /* routes */
    {"{\"routes\":[]}", "routes: must be an array of 1 to 8 routes", false},
    {"{\"routes\":{}}", "routes: must be an array of 1 to 8 routes", false},
    {"{\"routes\":[{\"name\":\"a\",\"version\":1,\"weight\":1},{\"name\":\"b\",\"version\":1,"
     "\"weight\":1},{\"name\":\"c\",\"version\":1,\"weight\":1},{\"name\":\"d\",\"version\":1,"
     "\"weight\":1},{\"name\":\"e\",\"version\":1,\"weight\":1},{\"name\":\"f\",\"version\":1,"
     "\"weight\":1},{\"name\":\"g\",\"version\":1,\"weight\":1},{\"name\":\"h\",\"version\":1,"
     "\"weight\":1},{\"name\":\"i\",\"version\":1,\"weight\":1}]}",
     "routes: must be an array of 1 to 8 routes", false},
    {"{\"routes\":[3]}", "routes[0]: must be an object", false},
    {"{\"routes\":[{\"version\":\"3\",\"wieght\":1}]}", "routes[0].wieght: unknown field", false},
    {R2("90", "-1") "}", "routes[1].weight: must be an integer from 0 to 1000000", false},
    {R2("90", "1000001") "}", "routes[1].weight: must be an integer from 0 to 1000000", false},
    {R2("90", "10.5") "}", "routes[1].weight: must be an integer from 0 to 1000000", false},
    {R2("90", "10.0") "}", "routes[1].weight: must be an integer from 0 to 1000000", false},
    {R2("90", "\"10\"") "}", "routes[1].weight: must be an integer from 0 to 1000000", false},
    {R2("0", "0") "}", "routes: at least one route needs a positive weight", false},
    {"{\"routes\":[{\"name\":\"canary\",\"version\":3,\"weight\":1},"
     "{\"name\":\"b\",\"version\":4,\"weight\":1},{\"name\":\"canary\",\"version\":5,"
     "\"weight\":1}]}",
     "routes[2].name: 'canary' is used by routes[0]", false},
    {"{\"routes\":[{\"name\":\"a\",\"version\":3,\"weight\":1},{\"version\":4,\"weight\":1}]}",
     "routes[1].name: required when there are two or more routes", false},
    {"{\"routes\":[{\"name\":\"a\",\"version\":3},{\"name\":\"b\",\"version\":4,\"weight\":1}]}",
     "routes[0].weight: required when there are two or more routes", false},
    {"{\"routes\":[{\"name\":\"1abc\",\"version\":3}]}",
     "routes[0].name: must be a letter, then letters, digits, '_', '.' or '-', at most 63 "
     "characters (got '1abc')",
     false},
    {"{\"routes\":[{\"name\":\"\",\"version\":3}]}",
     "routes[0].name: must be a letter, then letters, digits, '_', '.' or '-', at most 63 "
     "characters (got '')",
     false},
    {"{\"routes\":[{\"name\":\"a123456789b123456789c123456789d123456789e123456789f123456789"
     "g123\",\"version\":3}]}",
     "routes[0].name: must be a letter, then letters, digits, '_', '.' or '-', at most 63 "
     "characters (got 'a123456789b123456789c123456789d123456789...')",
     false},
    {"{\"routes\":[{\"name\":7,\"version\":3}]}", "routes[0].name: must be a string", false},
    {"{\"routes\":[{\"name\":\"shadow\",\"version\":3}]}",
     "routes[0].name: 'shadow' is reserved (it labels shadow and mirrored copies and calls that "
     "name a version)",
     false},
    {"{\"routes\":[{\"name\":\"direct\",\"version\":3}]}",
     "routes[0].name: 'direct' is reserved (it labels shadow and mirrored copies and calls that "
     "name a version)",
     false},
    /* versions */
    {"{\"routes\":[{\"weight\":1}]}", "routes[0].version: required", false},
    {"{\"routes\":[{\"version\":\"03\"}]}",
     "routes[0].version: '03' is not a version number (1 to 18 digits, no leading zero)", false},
    {"{\"routes\":[{\"version\":\"1234567890123456789\"}]}",
     "routes[0].version: '1234567890123456789' is not a version number (1 to 18 digits, no "
     "leading zero)",
     false},
    {"{\"routes\":[{\"version\":\"4x\"}]}",
     "routes[0].version: '4x' is not a version number (1 to 18 digits, no leading zero)", false},
    {"{\"routes\":[{\"version\":0}]}",
     "routes[0].version: must be a version number from 1 to 999999999999999999, or an alias",
     false},
    {"{\"routes\":[{\"version\":1000000000000000000}]}",
     "routes[0].version: must be a version number from 1 to 999999999999999999, or an alias",
     false},
    {"{\"routes\":[{\"version\":\"-1\"}]}",
     "routes[0].version: '-1' is neither a version number nor an alias (a letter, then letters, "
     "digits, '_', '.' or '-', at most 63 characters)",
     false},
    {"{\"routes\":[{\"version\":\"\"}]}",
     "routes[0].version: '' is neither a version number nor an alias (a letter, then letters, "
     "digits, '_', '.' or '-', at most 63 characters)",
     false},
    {"{\"routes\":[{\"version\":true}]}", "routes[0].version: must be a version number or an alias",
     false},
    {"{\"routes\":[{\"version\":1.5}]}", "routes[0].version: must be a version number or an alias",
     false},
    {"{\"routes\":[{\"version\":\"champion\",\"alias\":\"x\"}]}",
     "routes[0].alias: only beside a version number (the alias it was resolved from); "
     "\"version\" names an alias already",
     false},
    {"{\"routes\":[{\"version\":3,\"alias\":\"9lives\"}]}",
     "routes[0].alias: must be a letter, then letters, digits, '_', '.' or '-', at most 63 "
     "characters (got '9lives')",
     false},
    /* sticky */
    {ONE ",\"sticky\":5}", "sticky: must be an object or null", false},
    {ONE ",\"sticky\":{}}", "sticky: give either \"header\" or \"key\"", false},
    {ONE ",\"sticky\":{\"salt\":\"x\"}}", "sticky: give either \"header\" or \"key\"", false},
    {ONE ",\"sticky\":{\"header\":\"X-A\",\"key\":\"a\"}}",
     "sticky: give either \"header\" or \"key\"", false},
    {ONE ",\"sticky\":{\"hdr\":\"X-A\"}}", "sticky.hdr: unknown field", false},
    {ONE ",\"sticky\":{\"header\":\"X User\"}}",
     "sticky.header: must be 1 to 63 HTTP token characters (letters, digits and "
     "!#$%&'*+-.^_`|~) (got 'X User')",
     false},
    {ONE ",\"sticky\":{\"header\":\"X:A\"}}",
     "sticky.header: must be 1 to 63 HTTP token characters (letters, digits and "
     "!#$%&'*+-.^_`|~) (got 'X:A')",
     false},
    {ONE ",\"sticky\":{\"key\":\"user id\"}}",
     "sticky.key: must be 1 to 63 letters, digits, '_', '.' or '-' (got 'user id')", false},
    {ONE ",\"sticky\":{\"key\":\"u\",\"salt\":\"\"}}",
     "sticky.salt: must be 1 to 63 printable ASCII characters other than the space (got '')",
     false},
    {ONE ",\"sticky\":{\"key\":\"u\",\"salt\":\"a b\"}}",
     "sticky.salt: must be 1 to 63 printable ASCII characters other than the space (got 'a b')",
     false},
    {ONE ",\"sticky\":{\"key\":\"u\",\"salt\":3}}", "sticky.salt: must be a string", false},
    /* shadows */
    {ONE ",\"shadows\":{}}", "shadows: must be an array of at most 4 shadows", false},
    {ONE ",\"shadows\":[{\"version\":5},{\"version\":6},{\"version\":7},{\"version\":8},"
         "{\"version\":9}]}",
     "shadows: must be an array of at most 4 shadows", false},
    {ONE ",\"shadows\":[7]}", "shadows[0]: must be an object", false},
    {ONE ",\"shadows\":[{\"version\":5,\"weight\":1}]}", "shadows[0].weight: unknown field", false},
    {ONE ",\"shadows\":[{\"fraction\":0.5}]}", "shadows[0].version: required", false},
    {ONE ",\"shadows\":[{\"version\":5,\"fraction\":0}]}",
     "shadows[0].fraction: must be a number greater than 0 and at most 1", false},
    {ONE ",\"shadows\":[{\"version\":5,\"fraction\":1.5}]}",
     "shadows[0].fraction: must be a number greater than 0 and at most 1", false},
    {ONE ",\"shadows\":[{\"version\":5,\"fraction\":-0.5}]}",
     "shadows[0].fraction: must be a number greater than 0 and at most 1", false},
    {ONE ",\"shadows\":[{\"version\":5,\"fraction\":\"0.5\"}]}",
     "shadows[0].fraction: must be a number greater than 0 and at most 1", false},
    {R2("90", "10") ",\"shadows\":[{\"version\":\"4\"}]}",
     "shadows[0].version: version 4 already takes traffic on route 'canary'", false},
    {"{\"routes\":[{\"version\":\"champion\"}],\"shadows\":[{\"version\":\"champion\"}]}",
     "shadows[0].version: alias 'champion' already takes traffic on route 'stable'", false},
    {ONE ",\"shadows\":[{\"version\":5},{\"version\":\"5\",\"fraction\":0.5}]}",
     "shadows[1].version: version 5 is already shadowed by shadows[0]", false},
    /* mirror */
    {ONE ",\"mirror\":2}", "mirror: must be a number from 0 to 1", false},
    {ONE ",\"mirror\":-0.1}", "mirror: must be a number from 0 to 1", false},
    {ONE ",\"mirror\":true}", "mirror: must be a number from 0 to 1", false},
    {ONE ",\"mirror\":null}", "mirror: must be a number from 0 to 1", false},
};

static bool all_zero(const struct md_policy *p)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;

    for (i = 0; i < sizeof(*p); i++)
        if (b[i] != 0)
            return false;
    return true;
}

static void test_parse_errors(void **state)
{
    struct md_policy p;
    struct md_err err;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        int rc;

        memset(&p, 0xa5, sizeof(p));
        rc = parse(c->json, &p, &err);
        if (rc != MD_EINVAL)
            fail_msg("case %zu (%s): rc %d, expected MD_EINVAL", i, c->json, rc);
        if (c->prefix ? strncmp(err.msg, c->msg, strlen(c->msg)) != 0
                      : strcmp(err.msg, c->msg) != 0)
            fail_msg("case %zu (%s):\n got  %s\n want %s", i, c->json, err.msg, c->msg);
        assert_int_equal(err.code, MD_EINVAL);
        assert_true(all_zero(&p));
    }
}

/* Aliases resolved after parsing: md_policy_check finds what parsing could not. */
static void test_check_after_resolution(void **state)
{
    struct md_policy p;
    struct md_err err;

    (void)state;
    parse_ok("{\"routes\":[{\"name\":\"stable\",\"version\":3,\"weight\":90},"
             "{\"name\":\"canary\",\"version\":\"candidate\",\"weight\":10}],"
             "\"shadows\":[{\"version\":5},{\"version\":\"next\"}]}",
             &p);
    p.routes[1].version = 4; /* candidate -> 4: fine */
    p.shadows[1].version = 6;
    assert_int_equal(md_policy_check(&p, &err), MD_OK);
    p.shadows[1].version = 4; /* next -> 4, which takes traffic */
    assert_int_equal(md_policy_check(&p, &err), MD_EINVAL);
    assert_string_equal(err.msg, "shadows[1].version: version 4 already takes traffic on route "
                                 "'canary'");
    p.shadows[1].version = 5; /* next -> 5, shadowed already */
    assert_int_equal(md_policy_check(&p, &err), MD_EINVAL);
    assert_string_equal(err.msg, "shadows[1].version: version 5 is already shadowed by shadows[0]");
    p.shadows[1].version = 6;
    p.routes[0].weight = 2000000; /* built by hand past the limit */
    assert_int_equal(md_policy_check(&p, &err), MD_EINVAL);
    assert_string_equal(err.msg, "routes[0].weight: must be an integer from 0 to 1000000");
    p.routes[0].weight = 90;
    p.mirror = 1.5;
    assert_int_equal(md_policy_check(&p, &err), MD_EINVAL);
    assert_string_equal(err.msg, "mirror: must be a number from 0 to 1");
}

/* ------------------------------------------------------------- round trip */

/* format(p) parses back to p, and formats to the same text again. */
static void round_trip(const struct md_policy *p)
{
    struct md_buf a;
    struct md_buf b;
    struct md_policy q;
    struct md_err err;

    md_buf_init(&a, 1 << 16);
    md_buf_init(&b, 1 << 16);
    assert_int_equal(md_policy_format(p, &a), MD_OK);
    if (parse(a.data, &q, &err) != MD_OK)
        fail_msg("format gave %s, refused: %s", a.data, err.msg);
    if (!md_policy_equal(p, &q))
        fail_msg("format gave %s, which parses to another policy", a.data);
    assert_int_equal(md_policy_format(&q, &b), MD_OK);
    assert_string_equal(a.data, b.data);
    md_buf_release(&a);
    md_buf_release(&b);
}

static void test_round_trip(void **state)
{
    static const char *const docs[] = {
        "{\"routes\":[{\"version\":\"7\"}]}",
        "{\"routes\":[{\"name\":\"stable\",\"version\":\"3\",\"weight\":90},"
        "{\"name\":\"canary\",\"version\":\"4\",\"weight\":10}],"
        "\"sticky\":{\"header\":\"X-User-Id\"},\"shadows\":[{\"version\":\"5\",\"fraction\":0.25}],"
        "\"mirror\":0.1}",
        "{\"routes\":[{\"name\":\"a\",\"version\":\"champion\",\"weight\":1},"
        "{\"name\":\"b\",\"version\":12,\"alias\":\"candidate\",\"weight\":0},"
        "{\"name\":\"c.d-e_f\",\"version\":999999999999999999,\"weight\":1000000}],"
        "\"sticky\":{\"key\":\"user_id\",\"salt\":\"!#exp~7\\\"\\\\\"},"
        "\"shadows\":[{\"version\":\"next\",\"fraction\":0.3333333333333333},"
        "{\"version\":6,\"alias\":\"old\",\"fraction\":1e-7},{\"version\":7,\"fraction\":1},"
        "{\"version\":8,\"fraction\":5e-324}],\"mirror\":0.7000000000000001}",
    };
    struct md_policy p;
    struct md_buf b;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(docs); i++) {
        parse_ok(docs[i], &p);
        round_trip(&p);
    }
    /* After settle (a salt made), and pinned. */
    md_policy_settle(&p, NULL, 42);
    round_trip(&p);
    md_policy_pin(&p, 12);
    round_trip(&p);

    /* The stable text: field order and number form. */
    parse_ok(docs[1], &p);
    md_buf_init(&b, 1 << 16);
    assert_int_equal(md_policy_format(&p, &b), MD_OK);
    assert_string_equal(b.data,
                        "{\"routes\":[{\"name\":\"stable\",\"version\":\"3\",\"weight\":90},"
                        "{\"name\":\"canary\",\"version\":\"4\",\"weight\":10}],"
                        "\"sticky\":{\"header\":\"X-User-Id\"},"
                        "\"shadows\":[{\"version\":\"5\",\"fraction\":0.25}],"
                        "\"mirror\":0.1}");
    md_buf_reset(&b);
    md_policy_pin(&p, 3);
    assert_int_equal(md_policy_format(&p, &b), MD_OK);
    assert_string_equal(b.data,
                        "{\"routes\":[{\"name\":\"stable\",\"version\":\"3\",\"weight\":100}"
                        "],\"sticky\":null,\"shadows\":[],\"mirror\":0}");
    md_buf_release(&b);

    /* A buffer too small: the error, not a cut text. */
    md_buf_init(&b, 10);
    assert_int_equal(md_policy_format(&p, &b), MD_ETOOBIG);
    md_buf_release(&b);
}

/* ---------------------------------------------------------------- picking */

static void test_pick_random_split(void **state)
{
    struct md_policy p;
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    size_t hits[2] = {0, 0};
    size_t i;

    (void)state;
    parse_ok(R2("90", "10") "}", &p);
    for (i = 0; i < 10000; i++)
        hits[md_policy_pick(&p, NULL, 0, next_random(&s))]++;
    assert_in_range(hits[0], 8900, 9100);
    assert_int_equal(hits[0] + hits[1], 10000);

    /* Not sticky: a key is ignored, r decides. */
    assert_int_equal(md_policy_pick(&p, "user-1", 6, 0), 0);
    assert_int_equal(md_policy_pick(&p, "user-1", 6, UINT64_MAX), 1);
    /* The weight line's ends: r = 0 and r = 2^64 - 1. */
    assert_int_equal(md_policy_pick(&p, NULL, 0, 0), 0);
    assert_int_equal(md_policy_pick(&p, NULL, 0, UINT64_MAX), 1);
    /* The boundary, exactly: x = r >> 11, t = floor(x * 100 / 2^53) against 90. */
    assert_int_equal(md_policy_pick(&p, NULL, 0, (uint64_t)0xe666666666666000ULL), 0);
    assert_int_equal(md_policy_pick(&p, NULL, 0, (uint64_t)0xe666666666666800ULL), 1);
}

/* Routes of weight 0 are never picked, whatever r, even at the ends. */
static void test_pick_skips_zero_weight(void **state)
{
    struct md_policy p;
    uint64_t s = 1;
    size_t i;

    (void)state;
    parse_ok("{\"routes\":[{\"name\":\"a\",\"version\":1,\"weight\":0},"
             "{\"name\":\"b\",\"version\":2,\"weight\":3},{\"name\":\"c\",\"version\":3,"
             "\"weight\":0},{\"name\":\"d\",\"version\":4,\"weight\":1},"
             "{\"name\":\"e\",\"version\":5,\"weight\":0}],\"sticky\":{\"key\":\"k\"}}",
             &p);
    md_policy_settle(&p, NULL, 7);
    assert_int_equal(md_policy_pick(&p, NULL, 0, 0), 1);
    assert_int_equal(md_policy_pick(&p, NULL, 0, UINT64_MAX), 3);
    for (i = 0; i < 2000; i++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "k%zu", i);
        size_t a = md_policy_pick(&p, NULL, 0, next_random(&s));
        size_t b = md_policy_pick(&p, key, (size_t)n, 0);

        assert_true(a == 1 || a == 3);
        assert_true(b == 1 || b == 3);
    }
    /* All weights 0 (refused by check; built by hand): 0, no crash. */
    p.routes[1].weight = 0;
    p.routes[3].weight = 0;
    assert_int_equal(md_policy_pick(&p, "k", 1, 5), 0);
}

/* The route of each of 1,000 keys "user-0".."user-999" under p. */
static void routes_of_keys(const struct md_policy *p, size_t out[1000])
{
    size_t i;

    for (i = 0; i < 1000; i++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "user-%zu", i);

        out[i] = md_policy_pick(p, key, (size_t)n, (uint64_t)i * 0x9e3779b97f4a7c15ULL);
    }
}

static void test_pick_sticky_split(void **state)
{
    static size_t first[1000];
    static size_t again[1000];
    struct md_policy p;
    size_t canary = 0;
    size_t i;
    uint64_t seed;

    (void)state;
    /* Made salts (a few seeds) and a named one all split within 5 points. */
    for (seed = 0; seed < 5; seed++) {
        parse_ok(R2("90", "10") ",\"sticky\":{\"header\":\"X-User-Id\"}}", &p);
        if (seed == 4)
            memcpy(p.salt, "exp-7", sizeof("exp-7"));
        md_policy_settle(&p, NULL, seed);
        routes_of_keys(&p, first);
        canary = 0;
        for (i = 0; i < 1000; i++)
            canary += first[i];
        assert_in_range(canary, 50, 150);
        /* Every call agrees, whatever r. */
        routes_of_keys(&p, again);
        assert_memory_equal(first, again, sizeof(first));
    }
    /* A sticky request without a key (or with an empty one) goes by r. */
    assert_int_equal(md_policy_pick(&p, NULL, 0, 0), 0);
    assert_int_equal(md_policy_pick(&p, NULL, 0, UINT64_MAX), 1);
    assert_int_equal(md_policy_pick(&p, "", 0, UINT64_MAX), 1);
}

/* Weights w[0..n) on routes a, b, c... of a policy sticky by key "user". */
static void weights(struct md_policy *p, const uint32_t *w, size_t n)
{
    size_t i;

    md_policy_pin(p, 1);
    p->n_routes = n;
    p->total_weight = 0;
    for (i = 0; i < n; i++) {
        p->routes[i].name[0] = (char)('a' + i);
        p->routes[i].name[1] = '\0';
        p->routes[i].version = (int64_t)i + 1;
        p->routes[i].weight = w[i];
        p->total_weight += w[i];
    }
    p->sticky = MD_STICKY_KEY;
    memcpy(p->sticky_name, "user", sizeof("user"));
    memcpy(p->salt, "exp-7", sizeof("exp-7"));
    assert_int_equal(md_policy_check(p, NULL), MD_OK);
}

static void test_sticky_keys_stay(void **state)
{
    static size_t at10[1000];
    static size_t at25[1000];
    static size_t at50[1000];
    static size_t later[1000];
    const uint32_t w10[] = {90, 10};
    const uint32_t w25[] = {75, 25};
    const uint32_t w50[] = {1, 1}; /* the ratio counts, not the total */
    const uint32_t three[] = {50, 30, 20};
    const uint32_t moved[] = {40, 40, 20};
    const uint32_t first_up[] = {70, 10, 20};
    struct md_policy p;
    size_t n10 = 0;
    size_t n25 = 0;
    size_t i;

    (void)state;
    weights(&p, w10, 2);
    routes_of_keys(&p, at10);
    weights(&p, w25, 2);
    routes_of_keys(&p, at25);
    weights(&p, w50, 2);
    routes_of_keys(&p, at50);
    for (i = 0; i < 1000; i++) {
        if (at10[i] == 1)
            assert_int_equal(at25[i], 1);
        if (at25[i] == 1)
            assert_int_equal(at50[i], 1);
        n10 += at10[i];
        n25 += at25[i];
    }
    assert_true(n10 > 50 && n25 > n10 + 100); /* keys did move in, not none */

    /* Three routes: weight from a to b moves keys from a to b only; c keeps its keys. */
    weights(&p, three, 3);
    routes_of_keys(&p, at10);
    weights(&p, moved, 3);
    routes_of_keys(&p, later);
    for (i = 0; i < 1000; i++) {
        if (at10[i] != later[i])
            assert_true(at10[i] == 0 && later[i] == 1);
        else
            assert_true(at10[i] == later[i]);
    }
    /* Raising the first route's weight (from b) moves keys into it only. */
    weights(&p, first_up, 3);
    routes_of_keys(&p, at25);
    for (i = 0; i < 1000; i++)
        if (at10[i] != at25[i])
            assert_true(at10[i] == 1 && at25[i] == 0);
}

/* ------------------------------------------------------------------ salts */

static void test_settle_salt(void **state)
{
    struct md_policy prev;
    struct md_policy p;
    char made[MD_POLICY_NAME_MAX];

    (void)state;
    parse_ok(R2("90", "10") ",\"sticky\":{\"header\":\"X-User-Id\"}}", &prev);
    md_policy_settle(&prev, NULL, 1);
    assert_string_equal(prev.salt, "910a2dec89025cc1"); /* hex of splitmix64(1) */
    memcpy(made, prev.salt, sizeof(made));
    /* The same seed makes the same salt; another seed another. */
    parse_ok(R2("90", "10") ",\"sticky\":{\"header\":\"X-User-Id\"}}", &p);
    md_policy_settle(&p, NULL, 1);
    assert_string_equal(p.salt, made);
    parse_ok(R2("90", "10") ",\"sticky\":{\"header\":\"X-User-Id\"}}", &p);
    md_policy_settle(&p, NULL, 0);
    assert_string_equal(p.salt, "e220a8397b1dcdaf"); /* splitmix64's first output from 0 */

    /* A new revision sticky by the same header (in any case) keeps the salt. */
    parse_ok(R2("75", "25") ",\"sticky\":{\"header\":\"x-user-id\"}}", &p);
    md_policy_settle(&p, &prev, 99);
    assert_string_equal(p.salt, made);
    /* Another header, or by key, or prev not sticky: a new salt. */
    parse_ok(R2("75", "25") ",\"sticky\":{\"header\":\"X-Session\"}}", &p);
    md_policy_settle(&p, &prev, 99);
    assert_string_not_equal(p.salt, made);
    assert_int_equal(strlen(p.salt), 16);
    parse_ok(R2("75", "25") ",\"sticky\":{\"key\":\"X-User-Id\"}}", &p);
    md_policy_settle(&p, &prev, 99);
    assert_string_not_equal(p.salt, made);
    parse_ok(R2("75", "25") ",\"sticky\":{\"header\":\"X-User-Id\"}}", &p);
    md_policy_pin(&prev, 3);
    md_policy_settle(&p, &prev, 99);
    assert_string_not_equal(p.salt, made);
    assert_int_equal(strlen(p.salt), 16);

    /* A key: matched exactly. */
    parse_ok(R2("90", "10") ",\"sticky\":{\"key\":\"user_id\",\"salt\":\"exp-7\"}}", &prev);
    parse_ok(R2("75", "25") ",\"sticky\":{\"key\":\"user_id\"}}", &p);
    md_policy_settle(&p, &prev, 99);
    assert_string_equal(p.salt, "exp-7");
    parse_ok(R2("75", "25") ",\"sticky\":{\"key\":\"User_id\"}}", &p);
    md_policy_settle(&p, &prev, 99);
    assert_string_not_equal(p.salt, "exp-7");

    /* A salt the policy names is kept (a new experiment); no salt when not sticky. */
    parse_ok(R2("75", "25") ",\"sticky\":{\"key\":\"user_id\",\"salt\":\"exp-8\"}}", &p);
    md_policy_settle(&p, &prev, 99);
    assert_string_equal(p.salt, "exp-8");
    parse_ok(R2("75", "25") "}", &p);
    memcpy(p.salt, "left", sizeof("left"));
    md_policy_settle(&p, &prev, 99);
    assert_string_equal(p.salt, "");
}

/* ------------------------------------------------------- pin, names, equal */

static void test_pin(void **state)
{
    struct md_policy p;
    size_t i;

    (void)state;
    memset(&p, 0x5a, sizeof(p));
    md_policy_pin(&p, 9);
    assert_int_equal(md_policy_check(&p, NULL), MD_OK);
    assert_int_equal(p.n_routes, 1);
    assert_string_equal(p.routes[0].name, "stable");
    assert_int_equal(p.routes[0].version, 9);
    assert_string_equal(p.routes[0].alias, "");
    assert_int_equal(p.routes[0].weight, MD_POLICY_WEIGHT_ONE);
    assert_int_equal(p.total_weight, MD_POLICY_WEIGHT_ONE);
    assert_int_equal(p.sticky, MD_STICKY_NONE);
    assert_string_equal(p.salt, "");
    assert_int_equal(p.n_shadows, 0);
    assert_true(p.mirror == 0.0);
    for (i = 0; i < 16; i++)
        assert_int_equal(md_policy_pick(&p, "k", 1, (uint64_t)i << 60), 0);
}

static void test_names(void **state)
{
    struct md_policy p;

    (void)state;
    parse_ok("{\"routes\":[{\"name\":\"a\",\"version\":3,\"weight\":1},"
             "{\"name\":\"b\",\"version\":4,\"weight\":0},"
             "{\"name\":\"c\",\"version\":\"champion\",\"weight\":1}],"
             "\"shadows\":[{\"version\":5},{\"version\":\"next\"}]}",
             &p);
    assert_true(md_policy_names(&p, 3));
    assert_true(md_policy_names(&p, 4)); /* weight 0 still named */
    assert_true(md_policy_names(&p, 5));
    assert_false(md_policy_names(&p, 6));
    assert_false(md_policy_names(&p, 0)); /* an unresolved alias's 0 is not a version */
    assert_false(md_policy_names(&p, -1));
    p.shadows[1].version = 6;
    assert_true(md_policy_names(&p, 6));
}

static void test_equal(void **state)
{
    struct md_policy a;
    struct md_policy b;

    (void)state;
    parse_ok(R2("90", "10") ",\"sticky\":{\"header\":\"X-User-Id\"},"
                            "\"shadows\":[{\"version\":5,\"fraction\":0.5}],\"mirror\":0.2}",
             &a);
    b = a;
    assert_true(md_policy_equal(&a, &b));
    b.routes[1].weight = 11;
    assert_false(md_policy_equal(&a, &b));
    b = a;
    b.shadows[0].fraction = 0.25;
    assert_false(md_policy_equal(&a, &b));
    b = a;
    memcpy(b.salt, "x", 2);
    assert_false(md_policy_equal(&a, &b));
    b = a;
    memcpy(b.routes[0].alias, "y", 2);
    assert_false(md_policy_equal(&a, &b));
    b = a;
    b.mirror = 0.3;
    assert_false(md_policy_equal(&a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_known_values),
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_check_after_resolution),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_pick_random_split),
        cmocka_unit_test(test_pick_skips_zero_weight),
        cmocka_unit_test(test_pick_sticky_split),
        cmocka_unit_test(test_sticky_keys_stay),
        cmocka_unit_test(test_settle_salt),
        cmocka_unit_test(test_pin),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_equal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
