/* SPDX-License-Identifier: MIT */
/*
 * test_head.c: the checks on a request's header fields (net/head.h), fed
 * the way the HTTP layer feeds them: split as libmicrohttpd 0.9.75 splits
 * a header block (mhd_fields.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net/head.h"
#include "api/api.h"
#include "mhd_fields.h"

struct want {
    const char *block; /* the header block, up to and with its empty line */
    size_t len;        /* 0: strlen(block) (a block with a NUL gives its length) */
    bool http10;
    int status;         /* 0, 400 or 501 */
    const char *phrase; /* in the message when refused */
    bool layout;        /* found only from libmicrohttpd's layout (MD_HEAD_LAYOUT) */
};

/* The status md_head's code gives block through api/'s table, 0 when not
 * refused (and its message in msg). */
static int check(const struct want *w, char *msg, size_t msg_len)
{
    char buf[4096];
    struct mhd_field f[64];
    struct md_head hd;
    size_t len = w->len ? w->len : strlen(w->block);
    int n;
    int i;

    assert_true(len < sizeof(buf) / 2);
    memcpy(buf, w->block, len);
    n = mhd_split(buf, len, sizeof(buf), f, 64);
    assert_true(n >= 0);
    md_head_init(&hd);
    for (i = 0; i < n; i++)
        md_head_field(&hd, f[i].name, f[i].name_len, f[i].value, f[i].value_len);
    (void)md_head_finish(&hd, w->http10);
    (void)snprintf(msg, msg_len, "%s", hd.msg);
    return hd.code == MD_OK ? 0 : md_api_status(hd.code);
}

static void run_cases(const struct want *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char msg[256];
        int st = check(&cases[i], msg, sizeof(msg));

        if (cases[i].layout && !MD_HEAD_LAYOUT)
            continue; /* not checked with this libmicrohttpd */
        if (st != cases[i].status || (cases[i].phrase && strstr(msg, cases[i].phrase) == NULL))
            fail_msg("case %zu (%s): status %d, message '%s'", i, cases[i].block, st, msg);
    }
}

static void test_plain_fields_pass(void **state)
{
    static const struct want cases[] = {
        {"Host: x\r\nContent-Length: 5\r\n\r\n", 0, false, 0, NULL, false},
        {"Host: x\r\nTransfer-Encoding: chunked\r\n\r\n", 0, false, 0, NULL, false},
        {"Host: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n", 0, false, 0, NULL, false},
        /* Bare LF line ends, an empty value, tabs, commas, obs-text, a cookie. */
        {"Host: x\nX-Empty:\nX-Tabs:\ta, b\t\nCookie: a=1; b=2\nX-T: caf\xc3\xa9\n\n", 0, false, 0,
         NULL, false},
        {"Host: x\r\nX-Empty:\r\n\r\n", 0, false, 0, NULL, false},
        {"Host:x\r\nA:b\r\n\r\n", 0, false, 0, NULL, false},
        /* A token may hold these. */
        {"X-!#$%&'*+.^_`|~0: v\r\n\r\n", 0, false, 0, NULL, false},
        /* HTTP/1.0 with a length is fine. */
        {"Content-Length: 5\r\n\r\n", 0, true, 0, NULL, false},
        /* No fields at all. */
        {"\r\n", 0, false, 0, NULL, false},
        /* Spaces before a value, up to the limit. */
        {"A:      v\r\n\r\n", 0, false, 0, NULL, false},
    };

    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_framing_refused(void **state)
{
    static const struct want cases[] = {
        {"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, false, 400,
         "request has 2 Content-Length headers; send one", false},
        {"Content-Length: 5\r\ncontent-length: 5\r\n\r\n", 0, false, 400,
         "2 Content-Length headers", false},
        {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, false, 400,
         "both Content-Length and Transfer-Encoding", false},
        {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, false, 400,
         "both Content-Length and Transfer-Encoding", false},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, false, 400,
         "2 Transfer-Encoding headers", false},
        {"Transfer-Encoding: gzip\r\n\r\n", 0, false, 400, "'gzip' does not end in chunked", false},
        {"Transfer-Encoding: chunked, gzip\r\n\r\n", 0, false, 400, "does not end in chunked",
         false},
        {"Transfer-Encoding: identity\r\n\r\n", 0, false, 400, "does not end in chunked", false},
        {"Transfer-Encoding: gzip, chunked\r\n\r\n", 0, false, 501,
         "transfer coding 'gzip' is not supported", false},
        {"Transfer-Encoding: gzip , deflate,chunked\r\n\r\n", 0, false, 501,
         "transfer coding 'gzip' is not supported", false},
        {"Transfer-Encoding: chunked, chunked\r\n\r\n", 0, false, 400, "chunked more than once",
         false},
        {"Transfer-Encoding: chunked \r\n\r\n", 0, false, 400, "send exactly 'chunked'", false},
        {"Transfer-Encoding: chunked,\r\n\r\n", 0, false, 400, "send exactly 'chunked'", false},
        {"Transfer-Encoding:\r\n\r\n", 0, false, 400, "'Transfer-Encoding' is empty", false},
        {"Transfer-Encoding: , ,\r\n\r\n", 0, false, 400, "is empty", false},
        {"Transfer-Encoding: chunked\r\n\r\n", 0, true, 400, "in an HTTP/1.0 request", false},
        {"Host: a\r\nHost: b\r\n\r\n", 0, false, 400, "request has 2 Host headers", false},
    };

    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_bad_fields_refused(void **state)
{
    static const char nul_mid[] = "Host: x\r\nContent-Length: 5\0 7\r\nX-A: b\r\n\r\n";
    static const char nul_last[] = "Host: x\r\nX-A: a\0b\r\n\r\n";
    static const char nul_end[] = "X-A: ab\0\r\nX-B: c\r\n\r\n";
    static const char nul_two[] = "X-A: a\0\0b\r\nX-B: c\r\n\r\n";
    static const char nul_lf[] = "X-A: a\0X-B: c\nX-C: d\n\n";
    static const char nul_name[] = "X-\0A: b\r\n\r\n";
    const struct want cases[] = {
        {nul_mid, sizeof(nul_mid) - 1, false, 400,
         "header 'Content-Length': value contains a NUL byte", true},
        {nul_last, sizeof(nul_last) - 1, false, 400, "header 'X-A': value contains a NUL byte",
         true},
        {nul_end, sizeof(nul_end) - 1, false, 400, "header 'X-A': value contains a NUL byte", true},
        {nul_two, sizeof(nul_two) - 1, false, 400, "header 'X-A': value contains a NUL byte", true},
        {nul_lf, sizeof(nul_lf) - 1, false, 400, "header 'X-A': value contains a NUL byte", true},
        {"X-A: a\r b\r\n\r\n", 0, false, 400, "header 'X-A': value contains a CR byte", false},
        {"Content-Length : 5\r\n\r\n", 0, false, 400,
         "header 'Content-Length ': whitespace in the name or before the colon", false},
        {"Content\tLength: 5\r\n\r\n", 0, false, 400, "whitespace in the name", false},
        {" X-A: b\r\n\r\n", 0, false, 400, "whitespace in the name", false},
        {"X-A\x01: b\r\n\r\n", 0, false, 400, "header 'X-A?': a character not allowed", false},
        {"X(A): b\r\n\r\n", 0, false, 400, "a character not allowed in a field name", false},
        {": b\r\n\r\n", 0, false, 400, "no field name", false},
        {"X-A: a\r\n folded\r\nX-B: c\r\n\r\n", 0, false, 400, "obsolete line folding", true},
        {"X-A: a\r\n\tfolded\r\n\r\n", 0, false, 400, "obsolete line folding", true},
        {"X-A: a\n folded\nX-B: c\n\n", 0, false, 400, "obsolete line folding", true},
        /* The first problem is the one reported. */
        {"X A: b\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0, false, 400, "header 'X A'",
         false},
    };
    char buf[64];
    struct mhd_field f[4];

    (void)state;
    run_cases(cases, sizeof(cases) / sizeof(cases[0]));
    /* A NUL in a name: libmicrohttpd finds no colon before it and refuses the line itself. */
    memcpy(buf, nul_name, sizeof(nul_name) - 1);
    assert_int_equal(mhd_split(buf, sizeof(nul_name) - 1, sizeof(buf), f, 4), -1);
}

static void test_long_whitespace_and_names(void **state)
{
    char block[1024];
    char msg[256];
    struct want w = {block, 0, false, 0, NULL, true};
    size_t n;

    (void)state;
    /* More blanks after the colon than MD_HEAD_MAX_OWS: refused as a malformed line. */
    n = (size_t)snprintf(block, sizeof(block), "X-A:");
    memset(block + n, ' ', MD_HEAD_MAX_OWS + 1);
    n += MD_HEAD_MAX_OWS + 1;
    (void)snprintf(block + n, sizeof(block) - n, "v\r\n\r\n");
    if (MD_HEAD_LAYOUT)
        assert_int_equal(check(&w, msg, sizeof(msg)), 400);
    /* A long bad name is shown cut short, its bytes made printable. */
    n = (size_t)snprintf(block, sizeof(block), "X");
    memset(block + n, 'a', 200);
    n += 200;
    (void)snprintf(block + n, sizeof(block) - n, "\x7f: v\r\n\r\n");
    assert_int_equal(check(&w, msg, sizeof(msg)), 400);
    assert_non_null(strstr(msg, "header 'Xaaaa"));
    assert_null(strchr(msg, 0x7f));
    assert_true(strlen(msg) < 160);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_fields_pass),
        cmocka_unit_test(test_framing_refused),
        cmocka_unit_test(test_bad_fields_refused),
        cmocka_unit_test(test_long_whitespace_and_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
