/* SPDX-License-Identifier: MIT */
/*
 * test_multipart.c: the streaming multipart/form-data parser
 * (util/multipart.h): the boundary from a Content-Type, the parts and
 * their data as a transcript of the handler's calls, the same transcript
 * (or the same error) at every split of a body into two chunks and when
 * fed a byte at a time, and each refusal's message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/multipart.h"

/* ---- a transcript of the handler's calls ------------------------------- */

struct rec {
    struct md_buf t; /* "B1 name=.. file=.. type=..\n", data as "D:" + bytes, "\nE\n" */
    bool in_data;    /* the last call was data: the next data joins it */
    size_t fail_at;  /* 0, or the part index whose begin refuses */
    size_t calls;    /* data calls */
};

static int on_begin(void *ctx, const struct md_multipart_part *part, struct md_err *err)
{
    struct rec *r = ctx;

    if (r->fail_at != 0 && part->index == r->fail_at)
        return md_err_set(err, MD_ETOOBIG, "part '%s': refused by the test", part->name);
    md_buf_printf(&r->t, "B%zu name=%s file=%s type=%s\n", part->index, part->name,
                  part->filename ? part->filename : "-",
                  part->content_type ? part->content_type : "-");
    r->in_data = false;
    return MD_OK;
}

static int on_data(void *ctx, const char *p, size_t n, struct md_err *err)
{
    struct rec *r = ctx;

    MD_UNUSED(err);
    assert_true(n > 0);
    if (!r->in_data)
        md_buf_puts(&r->t, "D:");
    md_buf_append(&r->t, p, n);
    r->in_data = true;
    r->calls++;
    return MD_OK;
}

static int on_end(void *ctx, struct md_err *err)
{
    struct rec *r = ctx;

    MD_UNUSED(err);
    md_buf_puts(&r->t, r->in_data ? "\nE\n" : "E\n");
    r->in_data = false;
    return MD_OK;
}

static const struct md_multipart_handler handler = {on_begin, on_data, on_end};

/* One parse's outcome. */
struct outcome {
    int rc;
    char msg[256];
    char *transcript; /* malloc'd, NUL-terminated */
    size_t len;       /* its bytes (data may hold NULs) */
    size_t calls;
};

/* Parses body (n bytes) fed in chunks of the sizes in cuts (0-terminated; the rest after). */
static struct outcome parse(const char *boundary, const char *body, size_t n, const size_t *cuts,
                            size_t max_head, size_t max_parts, size_t fail_at)
{
    struct md_multipart *mp = malloc(sizeof(*mp));
    struct outcome o;
    struct md_err err;
    struct rec r;
    size_t at = 0;

    assert_non_null(mp);
    md_buf_init(&r.t, 1 << 24);
    r.in_data = false;
    r.fail_at = fail_at;
    r.calls = 0;
    md_err_clear(&err);
    assert_int_equal(md_multipart_init(mp, boundary, max_head, max_parts, &handler, &r, &err),
                     MD_OK);
    o.rc = MD_OK;
    for (; cuts != NULL && *cuts != 0 && o.rc == MD_OK; cuts++) {
        size_t k = *cuts < n - at ? *cuts : n - at;

        o.rc = md_multipart_feed(mp, body + at, k, &err);
        at += k;
    }
    if (o.rc == MD_OK)
        o.rc = md_multipart_feed(mp, body + at, n - at, &err);
    if (o.rc == MD_OK)
        o.rc = md_multipart_finish(mp, &err);
    (void)snprintf(o.msg, sizeof(o.msg), "%s", o.rc == MD_OK ? "" : err.msg);
    if (o.rc != MD_OK) {
        /* Sticky: a later call gives the same error. */
        struct md_err again;

        assert_int_equal(md_multipart_feed(mp, "x", 1, &again), o.rc);
        assert_string_equal(again.msg, err.msg);
        assert_int_equal(md_multipart_finish(mp, &again), o.rc);
    }
    assert_int_equal(md_buf_error(&r.t), MD_OK);
    o.transcript = md_buf_detach(&r.t, &o.len);
    if (o.transcript == NULL) {
        o.transcript = calloc(1, 1);
        o.len = 0;
        assert_non_null(o.transcript);
    }
    o.calls = r.calls;
    free(mp);
    return o;
}

static struct outcome parse_whole(const char *boundary, const char *body, size_t n)
{
    return parse(boundary, body, n, NULL, 4096, 16, 0);
}

/*
 * The outcome of body fed whole, then checked against every split into
 * two chunks, a byte at a time, and a few uneven chunkings: the same code,
 * message and transcript each time.
 */
static struct outcome parse_every_split(const char *boundary, const char *body, size_t n,
                                        size_t max_head, size_t max_parts)
{
    static const size_t uneven[][6] = {{1, 2, 3, 5, 8, 0}, {7, 1, 13, 1, 0}, {64, 3, 0}};
    struct outcome whole = parse(boundary, body, n, NULL, max_head, max_parts, 0);
    size_t *ones = malloc((n + 1) * sizeof(size_t));
    size_t cut[2] = {0, 0};
    size_t i;

    assert_non_null(ones);
    for (i = 0; i < n; i++)
        ones[i] = 1;
    ones[n] = 0;
    for (i = 0; i <= n + 3; i++) {
        struct outcome o;

        if (i < n) {
            cut[0] = i;
            o = parse(boundary, body, n, cut, max_head, max_parts, 0);
        } else if (i == n) {
            o = parse(boundary, body, n, ones, max_head, max_parts, 0);
        } else {
            o = parse(boundary, body, n, uneven[i - n - 1], max_head, max_parts, 0);
        }
        if (o.rc != whole.rc || strcmp(o.msg, whole.msg) != 0 || o.len != whole.len ||
            memcmp(o.transcript, whole.transcript, o.len) != 0)
            fail_msg("split %zu: rc %d '%s' transcript\n%s\nwhole: rc %d '%s'\n%s", i, o.rc, o.msg,
                     o.transcript, whole.rc, whole.msg, whole.transcript);
        free(o.transcript);
    }
    free(ones);
    return whole;
}

/* ---- the parts and their data ------------------------------------------ */

/* Data with near-misses of the delimiter, a CR before it, and binary bytes. */
static const char sample[] =
    "This is the preamble. It is to be ignored.\r\n"
    "--XyZ-1\r\n"
    "Content-Disposition: form-data; name=\"metadata\"\r\n"
    "\r\n"
    "{\"a\": 1}\r\n"
    "--XyZ-1   \t\r\n"
    "content-disposition: FORM-DATA; filename=\"m\\\"odel.json\";name=artifact\r\n"
    "Content-Type:  application/octet-stream \r\n"
    "X-Other: ignored\r\n"
    "\r\n"
    "\r\n--XyZ-\r\n--XyZ\r\r\n-\r\n--XyZ-2\r\n-\x00\xff-XyZ-1\n--XyZ-1\r\r\n"
    "\r\n"
    "--XyZ-1\r\n"
    "Content-Disposition: form-data;\r\n"
    "\tname=\"model.yaml\"; filename=\"C:\\dir\\\\x\\y.yaml\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ-1--\r\n"
    "This is the epilogue. It is also to be ignored.\r\n--XyZ-1\r\nnot a part\r\n";

static const char sample_transcript[] =
    "B1 name=metadata file=- type=-\n"
    "D:{\"a\": 1}\nE\n"
    "B2 name=artifact file=m\"odel.json type=application/octet-stream\n"
    "D:\r\n--XyZ-\r\n--XyZ\r\r\n-\r\n--XyZ-2\r\n-\x00\xff-XyZ-1\n--XyZ-1\r\r\n\nE\n"
    "B3 name=model.yaml file=C:\\dir\\x\\y.yaml type=-\n"
    "E\n";

static void test_parts_and_data(void **state)
{
    struct outcome o;

    MD_UNUSED(state);
    o = parse_every_split("XyZ-1", sample, sizeof(sample) - 1, 4096, 16);
    assert_int_equal(o.rc, MD_OK);
    /* The transcript holds a NUL: compare its bytes. */
    assert_int_equal(o.len, sizeof(sample_transcript) - 1);
    assert_memory_equal(o.transcript, sample_transcript, sizeof(sample_transcript) - 1);
    free(o.transcript);
}

static void test_large_part_in_few_calls(void **state)
{
    size_t n = 1 << 20;
    struct md_buf b;
    struct outcome o;
    size_t i;

    MD_UNUSED(state);
    md_buf_init(&b, 4 << 20);
    md_buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=\"artifact\"; "
                    "filename=\"x.bin\"\r\n\r\n");
    for (i = 0; i < n; i++)
        md_buf_putc(&b, (char)(i * 2654435761u >> 24));
    md_buf_puts(&b, "\r\n--b--");
    assert_int_equal(md_buf_error(&b), MD_OK);
    o = parse_whole("b", b.data, b.len);
    assert_int_equal(o.rc, MD_OK);
    /* Delivered in a few large pieces, not a call per CR. */
    assert_true(o.calls < 8);
    assert_int_equal(o.len, strlen("B1 name=artifact file=x.bin type=-\nD:") + n + 3);
    assert_memory_equal(o.transcript, "B1 name=artifact file=x.bin type=-\nD:", 37);
    free(o.transcript);
    /* Fed in 4 KiB chunks, every byte still arrives in order. */
    {
        size_t cuts[400];
        struct outcome w = parse_whole("b", b.data, b.len);
        struct outcome c;

        for (i = 0; i < 399; i++)
            cuts[i] = 4093;
        cuts[399] = 0;
        c = parse("b", b.data, b.len, cuts, 4096, 16, 0);
        assert_int_equal(c.rc, MD_OK);
        assert_int_equal(c.len, w.len);
        assert_memory_equal(c.transcript, w.transcript, c.len);
        free(c.transcript);
        free(w.transcript);
    }
    md_buf_release(&b);
}

static void test_preamble_epilogue_and_padding(void **state)
{
    static const char *ok[] = {
        /* No preamble, no CRLF at the end, no epilogue. */
        "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--",
        /* A preamble of CRLFs, padding on both boundary lines, an epilogue. */
        "\r\n\r\n--b \r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--  \r\nepi",
        /* A preamble holding the boundary in the middle of a line. */
        "x--b\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--",
    };
    size_t i;

    MD_UNUSED(state);
    for (i = 0; i < MD_ARRAY_LEN(ok); i++) {
        struct outcome o = parse_every_split("b", ok[i], strlen(ok[i]), 4096, 16);

        if (o.rc != MD_OK || strcmp(o.transcript, "B1 name=a file=- type=-\nD:x\nE\n") != 0)
            fail_msg("case %zu: rc %d '%s'\n%s", i, o.rc, o.msg, o.transcript);
        free(o.transcript);
    }
}

static void test_no_parts(void **state)
{
    struct outcome o;

    MD_UNUSED(state);
    o = parse_every_split("b", "preamble\r\n--b--\r\n", 17, 4096, 16);
    assert_int_equal(o.rc, MD_OK);
    assert_string_equal(o.transcript, "");
    free(o.transcript);
}

/* ---- refusals ---------------------------------------------------------- */

struct bad {
    const char *body;
    const char *phrase;
};

static void expect_refusals(const struct bad *cases, size_t n, size_t max_head, size_t max_parts)
{
    size_t i;

    for (i = 0; i < n; i++) {
        struct outcome o =
            parse_every_split("b", cases[i].body, strlen(cases[i].body), max_head, max_parts);

        if (o.rc != MD_EINVAL || strstr(o.msg, cases[i].phrase) == NULL)
            fail_msg("case %zu: rc %d '%s', expected '%s'", i, o.rc, o.msg, cases[i].phrase);
        free(o.transcript);
    }
}

#define CD "Content-Disposition: "

static void test_body_refusals(void **state)
{
    static const struct bad cases[] = {
        {"", "no boundary line '--b' in the body"},
        {"just text\r\n--c\r\n", "no boundary line '--b' in the body"},
        {"--b\r\n" CD "form-data; name=a\r\n\r\nxyz", "missing the final boundary: the body ends "
                                                      "inside part 1"},
        {"--b\r\n" CD "form-data; name=a\r\n", "missing the final boundary: the body ends inside "
                                               "part 1"},
        {"--b\r\n" CD "form-data; name=a\r\n\r\nx\r\n--b", "missing the final boundary: the body "
                                                           "ends in a boundary line"},
        {"--bX\r\n", "the boundary is followed by 'X', not CRLF or '--'"},
        {"--b\n", "the boundary is followed by byte 0x0a"},
        {"--b -\r\n", "the boundary is followed by '-'"},
        {"--b-x", "followed by '-' and not a second one"},
        {"--b\rx", "a boundary line ends in CR without LF"},
        {"--b\r\n" CD "form-data; name=a\r\n\r\nx\r\n--bb\r\n", "followed by 'b'"},
    };

    MD_UNUSED(state);
    expect_refusals(cases, MD_ARRAY_LEN(cases), 4096, 16);
}

static void test_header_refusals(void **state)
{
    static const struct bad cases[] = {
        {"--b\r\n\r\nx\r\n--b--", "part 1: no Content-Disposition header"},
        {"--b\r\nContent-Type: text/plain\r\n\r\n", "part 1: no Content-Disposition header"},
        {"--b\r\n" CD "form-data\r\n\r\n", "part 1: Content-Disposition: the part has no name"},
        {"--b\r\n" CD "form-data; name=\"\"\r\n\r\n", "the part has no name"},
        {"--b\r\n" CD "form-data; filename=\"a\"\r\n\r\n", "the part has no name"},
        {"--b\r\n" CD "attachment; name=a\r\n\r\n", "type 'attachment' is not form-data"},
        {"--b\r\n" CD "; name=a\r\n\r\n", "no type before its parameters"},
        {"--b\r\n" CD "form-data; name=\"a\r\n\r\n", "parameter 'name': unterminated quoted"},
        {"--b\r\n" CD "form-data; name\r\n\r\n", "parameter 'name' has no '=' and value"},
        {"--b\r\n" CD "form-data; name=\r\n\r\n", "parameter 'name' has no value"},
        {"--b\r\n" CD "form-data; name=a b\r\n\r\n", "expected ';' at character"},
        {"--b\r\n" CD "form-data; name=a;\r\n\r\n", "expected a parameter at character"},
        {"--b\r\n" CD "form-data; name=a; name=b\r\n\r\n", "parameter 'name' given twice"},
        {"--b\r\n" CD "form-data; name=\"a\\\"\r\n\r\n", "unterminated quoted string"},
        {"--b\r\n" CD "form-data; name=a\r\n" CD "form-data; name=b\r\n\r\n",
         "part 1: Content-Disposition given twice"},
        {"--b\r\n" CD "form-data; name=a\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n",
         "part 1: Content-Type given twice"},
        {"--b\r\n" CD "form-data; name=a\r\nno colon here\r\n\r\n", "part 1: header line 2 has "
                                                                    "no name and colon"},
        {"--b\r\n" CD "form-data; name=a\r\nBad Name: x\r\n\r\n", "part 1: header line 2: its "
                                                                  "name holds a character"},
        {"--b\r\n" CD "form-data; name=a\r\n: empty name\r\n\r\n", "header line 2 has no name "
                                                                   "and colon"},
        {"--b\r\n" CD "form-data; name=a\r\nX: a\nb\r\n\r\n", "header line 2 holds a bare CR or "
                                                              "LF"},
        {"--b\r\n" CD "form-data; name=a\r\nX: a\rb\r\n\r\n", "header line 2 holds a bare CR or "
                                                              "LF"},
        {"--b\r\n X: folded first\r\n\r\n", "part 1: its first header line is folded"},
    };

    MD_UNUSED(state);
    expect_refusals(cases, MD_ARRAY_LEN(cases), 4096, 16);
}

static void test_nul_in_a_header_line(void **state)
{
    static const char body[] = "--b\r\n" CD "form-data; name=a\r\nX: \0\r\n\r\n";
    struct outcome o;

    MD_UNUSED(state);
    o = parse_every_split("b", body, sizeof(body) - 1, 4096, 16);
    assert_int_equal(o.rc, MD_EINVAL);
    assert_string_equal(o.msg, "part 1: header line 2 holds a NUL byte");
    free(o.transcript);
}

static void test_limits(void **state)
{
    static const char two[] = "--b\r\n" CD "form-data; name=a\r\n\r\nx\r\n--b\r\n" CD
                              "form-data; name=b\r\n\r\ny\r\n--b--";
    static const char head[] = "--b\r\n" CD "form-data; name=a\r\n\r\nx\r\n--b--";
    size_t head_len = strlen(CD "form-data; name=a\r\n\r\n");
    struct outcome o;

    MD_UNUSED(state);
    o = parse_every_split("b", two, strlen(two), 4096, 1);
    assert_int_equal(o.rc, MD_EINVAL);
    assert_string_equal(o.msg, "the body has more parts than the limit of 1");
    /* The first part was read whole before the second was refused. */
    assert_string_equal(o.transcript, "B1 name=a file=- type=-\nD:x\nE\n");
    free(o.transcript);
    o = parse_every_split("b", two, strlen(two), 4096, 2);
    assert_int_equal(o.rc, MD_OK);
    free(o.transcript);
    /* A header block of exactly the limit passes; one byte less does not. */
    o = parse_every_split("b", head, strlen(head), head_len, 16);
    assert_int_equal(o.rc, MD_OK);
    free(o.transcript);
    o = parse_every_split("b", head, strlen(head), head_len - 1, 16);
    assert_int_equal(o.rc, MD_EINVAL);
    assert_string_equal(o.msg, "part 1: header block larger than the limit of 41 bytes");
    free(o.transcript);
}

static void test_handler_refusal_sticks(void **state)
{
    static const char two[] = "--b\r\n" CD "form-data; name=a\r\n\r\nx\r\n--b\r\n" CD
                              "form-data; name=b\r\n\r\ny\r\n--b--";
    struct outcome o;

    MD_UNUSED(state);
    o = parse("b", two, strlen(two), NULL, 4096, 16, 2);
    assert_int_equal(o.rc, MD_ETOOBIG);
    assert_string_equal(o.msg, "part 'b': refused by the test");
    assert_string_equal(o.transcript, "B1 name=a file=- type=-\nD:x\nE\n");
    free(o.transcript);
}

static void test_init_refusals(void **state)
{
    struct md_multipart *mp = malloc(sizeof(*mp));
    struct md_err err;
    char b71[72];

    MD_UNUSED(state);
    assert_non_null(mp);
    memset(b71, 'a', 71);
    b71[71] = '\0';
    assert_int_equal(md_multipart_init(mp, "", 4096, 16, &handler, NULL, &err), MD_EINVAL);
    assert_int_equal(md_multipart_init(mp, b71, 4096, 16, &handler, NULL, &err), MD_EINVAL);
    /* The parser that failed to start refuses to parse. */
    assert_int_equal(md_multipart_feed(mp, "--a", 3, &err), MD_EINVAL);
    assert_int_equal(md_multipart_init(mp, "b", 0, 16, &handler, NULL, &err), MD_EINVAL);
    assert_int_equal(
        md_multipart_init(mp, "b", MD_MULTIPART_HEAD_MAX + 1, 16, &handler, NULL, &err), MD_EINVAL);
    assert_int_equal(md_multipart_init(mp, "b", 4096, 0, &handler, NULL, &err), MD_EINVAL);
    b71[70] = '\0';
    assert_int_equal(md_multipart_init(mp, b71, MD_MULTIPART_HEAD_MAX, 1, &handler, NULL, &err),
                     MD_OK);
    assert_int_equal(md_multipart_parts(mp), 0);
    free(mp);
}

/* ---- the boundary of a Content-Type ------------------------------------ */

static void test_boundary(void **state)
{
    static const struct {
        const char *ct;
        const char *boundary; /* NULL: refused, with phrase */
        const char *phrase;
    } cases[] = {
        {"multipart/form-data; boundary=abc", "abc", NULL},
        {"Multipart/Form-Data;boundary=abc", "abc", NULL},
        {"multipart/form-data; charset=utf-8; BOUNDARY=\"a b:c?\"", "a b:c?", NULL},
        {"multipart/form-data; boundary=------------------------d74496d66958873e",
         "------------------------d74496d66958873e", NULL},
        {"multipart/form-data; boundary=\"x\\\"\"", NULL, "boundary is not 1 to 70"},
        {"multipart/form-data; boundary=\"ends in space \"", NULL, "boundary is not"},
        {"multipart/form-data; boundary=\"\"", NULL, "boundary is not"},
        {"multipart/form-data; boundary="
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         NULL, "boundary is not 1 to 70"},
        {"multipart/form-data", NULL, "multipart/form-data without a boundary parameter"},
        {"multipart/form-data; charset=utf-8", NULL, "without a boundary parameter"},
        {"multipart/form-data; boundary=a; boundary=b", NULL, "parameter 'boundary' given twice"},
        {"multipart/mixed; boundary=a", NULL,
         "header 'Content-Type': 'multipart/mixed' is not "
         "multipart/form-data"},
        {"application/json", NULL,
         "header 'Content-Type': 'application/json' is not multipart/form-data"},
        {"", NULL, "header 'Content-Type': missing; send multipart/form-data"},
        {"multipart/form-data; boundary", NULL, "parameter 'boundary' has no '=' and value"},
        {"multipart/form-data; boundary=\"abc", NULL, "unterminated quoted string"},
    };
    char out[MD_MULTIPART_BOUNDARY_MAX + 1];
    struct md_err err;
    char *big;
    size_t i;

    MD_UNUSED(state);
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        int rc = md_multipart_boundary(cases[i].ct, out, &err);

        if (cases[i].boundary != NULL) {
            if (rc != MD_OK || strcmp(out, cases[i].boundary) != 0)
                fail_msg("case %zu: rc %d '%s' boundary '%s'", i, rc, err.msg, out);
        } else if (rc != MD_EINVAL || strstr(err.msg, cases[i].phrase) == NULL) {
            fail_msg("case %zu: rc %d '%s', expected '%s'", i, rc, err.msg, cases[i].phrase);
        }
    }
    assert_int_equal(md_multipart_boundary(NULL, out, &err), MD_EINVAL);
    big = malloc(4000);
    assert_non_null(big);
    memset(big, 'a', 3999);
    big[3999] = '\0';
    assert_int_equal(md_multipart_boundary(big, out, &err), MD_EINVAL);
    assert_string_equal(err.msg, "header 'Content-Type': longer than 1024 bytes");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_and_data),
        cmocka_unit_test(test_large_part_in_few_calls),
        cmocka_unit_test(test_preamble_epilogue_and_padding),
        cmocka_unit_test(test_no_parts),
        cmocka_unit_test(test_body_refusals),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_nul_in_a_header_line),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_handler_refusal_sticks),
        cmocka_unit_test(test_init_refusals),
        cmocka_unit_test(test_boundary),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
