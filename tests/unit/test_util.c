/* SPDX-License-Identifier: MIT */
/*
 * test_util.c: err, buf, arena, fmt (shortest float formatting checked against
 * strtof on millions of floats), log level parsing, parallel runs and
 * md_read_file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fmt.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sys.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_err_set_prefix_clear(void **state)
{
    struct md_err err;
    char long_text[400];

    (void)state;
    md_err_clear(&err);
    assert_int_equal(err.code, MD_OK);
    assert_string_equal(err.msg, "");
    assert_int_equal(md_err_set(&err, MD_EINVAL, "feature '%s': %g above max", "age", 5.0),
                     MD_EINVAL);
    assert_string_equal(err.msg, "feature 'age': 5 above max");
    md_err_prefix(&err, "model '%s' v%d: ", "m", 3);
    assert_string_equal(err.msg, "model 'm' v3: feature 'age': 5 above max");
    assert_int_equal(md_err_set(NULL, MD_EIO, "x"), MD_EIO);
    md_err_prefix(NULL, "x");
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    md_err_set(&err, MD_EINVAL, "%s", long_text);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    md_err_prefix(&err, "%s", long_text);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    assert_string_equal(md_strerror(MD_ENOTFOUND), "not found");
    assert_string_equal(md_strerror(MD_ETIMEDOUT), "timed out");
    assert_string_equal(md_strerror(MD_EPENDING), "pending");
    assert_string_equal(md_strerror(12345), "unknown error");
}

static void test_buf_append_limits(void **state)
{
    struct md_buf b;
    char *p;
    size_t len;
    int i;

    (void)state;
    md_buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(md_buf_puts(&b, "hello"), MD_OK);
    assert_int_equal(md_buf_putc(&b, ' '), MD_OK);
    assert_int_equal(md_buf_printf(&b, "%d", 123), MD_OK);
    assert_string_equal(b.data, "hello 123");
    assert_int_equal(md_buf_puts(&b, "xy"), MD_ETOOBIG);
    assert_string_equal(b.data, "hello 123"); /* unchanged after a failure */
    assert_int_equal(md_buf_printf(&b, "%s", "long text"), MD_ETOOBIG);
    assert_int_equal(b.len, 9);
    md_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(md_buf_append(&b, "abc", 3), MD_OK);
    p = md_buf_detach(&b, &len);
    assert_int_equal(len, 3);
    assert_string_equal(p, "abc");
    assert_null(b.data);
    free(p);
    md_buf_init(&b, 1 << 20);
    for (i = 0; i < 10000; i++)
        assert_int_equal(md_buf_putc(&b, 'z'), MD_OK);
    assert_int_equal(b.len, 10000);
    md_buf_release(&b);
    md_buf_release(&b);
}

static void test_buf_json_str(void **state)
{
    struct md_buf b;

    (void)state;
    md_buf_init(&b, 1000);
    assert_int_equal(md_buf_json_str(&b, "a\"b\\c\n\t\x01\xc3\xa9", 10), MD_OK);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9\"");
    md_buf_release(&b);
}

static void test_buf_json_time_ms(void **state)
{
    struct md_buf b;

    (void)state;
    md_buf_init(&b, 1000);
    assert_int_equal(md_buf_json_time_ms(&b, 1765102272345), MD_OK);
    assert_int_equal(md_buf_json_time_ms(&b, 7), MD_OK);
    assert_string_equal(b.data, "\"2025-12-07T10:11:12.345Z\"\"1970-01-01T00:00:00.007Z\"");
    md_buf_release(&b);
    /* And read back: the text unquoted, other fractions, an offset, ms, refusals. */
    assert_int_equal(md_time_parse_ms("2025-12-07T10:11:12.345Z"), 1765102272345);
    assert_int_equal(md_time_parse_ms("2025-12-07T10:11:12Z"), 1765102272000);
    assert_int_equal(md_time_parse_ms("2025-12-07T10:11:12.3+00:00"), 1765102272300);
    assert_int_equal(md_time_parse_ms("2025-12-07T10:11:12.34567Z"), 1765102272345);
    assert_int_equal(md_time_parse_ms("1765102272345"), 1765102272345);
    assert_int_equal(md_time_parse_ms("0"), 0);
    assert_int_equal(md_time_parse_ms("99999999999999999999"), -1);
    assert_int_equal(md_time_parse_ms("12x"), -1);
    assert_int_equal(md_time_parse_ms("2025-12-07T10:11:12+01:00"), -1);
    assert_int_equal(md_time_parse_ms("2025-12-07"), -1);
    assert_int_equal(md_time_parse_ms(""), -1);
}

/* JSON string escaping one character at a time: what md_buf_json_str must write. */
static size_t ref_json_str(char *out, const unsigned char *s, size_t n)
{
    size_t o = 0;
    size_t i;

    out[o++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];

        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, 7, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

/*
 * Every byte value at every place of strings of 1 to 24 bytes (the plain
 * path reads eight at a time), against the reference; and a plain string
 * that passes the limit fails without a change.
 */
static void test_buf_json_str_bytes(void **state)
{
    unsigned char s[24];
    char want[24 * 6 + 3];
    struct md_buf b;
    size_t n;
    size_t at;
    unsigned c;

    (void)state;
    md_buf_init(&b, 1000);
    for (n = 1; n <= sizeof(s); n++) {
        for (at = 0; at < n; at++) {
            for (c = 0; c < 256; c++) {
                size_t wl;

                memset(s, 'a' + (int)(n % 26), n);
                s[at] = (unsigned char)c;
                wl = ref_json_str(want, s, n);
                md_buf_reset(&b);
                assert_int_equal(md_buf_json_str(&b, (const char *)s, n), MD_OK);
                assert_int_equal(b.len, wl);
                assert_memory_equal(b.data, want, wl);
            }
        }
    }
    md_buf_release(&b);
    md_buf_init(&b, 12);
    assert_int_equal(md_buf_puts(&b, "abc"), MD_OK);
    assert_int_equal(md_buf_json_str(&b, "0123456789", 10), MD_ETOOBIG);
    assert_string_equal(b.data, "abc");
    md_buf_reset(&b);
    assert_int_equal(md_buf_puts(&b, "abc"), MD_OK);
    assert_int_equal(md_buf_json_str(&b, "0123456", 7), MD_OK); /* exactly to the limit */
    assert_string_equal(b.data, "abc\"0123456\"");
    assert_int_equal(md_buf_putc(&b, 'x'), MD_ETOOBIG);
    /* An escaped string that passes the limit part way: nothing of it stays. */
    md_buf_reset(&b);
    assert_int_equal(md_buf_puts(&b, "abc"), MD_OK);
    assert_int_equal(md_buf_json_str(&b, "a\nb\nc\nd", 7), MD_ETOOBIG);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    md_buf_release(&b);
}

/* The buffer's invariants (buf.h), whatever happened to it. */
static void expect_valid(const struct md_buf *b, size_t max)
{
    assert_true(b->len <= max);
    if (b->data == NULL) {
        assert_int_equal(b->len, 0);
        return;
    }
    assert_true(b->len < b->cap);
    assert_int_equal(b->data[b->len], '\0');
    assert_int_equal(strlen(b->data), b->len);
}

/*
 * The first failure is kept: every later append, grow or printf does
 * nothing, even one that would fit, and returns the first failure's code,
 * which md_buf_error reports at the end. (Or-ing codes instead, as writers
 * once did, reports another code: MD_ETOOBIG | MD_EINTERNAL is MD_EINTERNAL,
 * and MD_ENOMEM | MD_ETOOBIG is MD_ENOTFOUND, a 404.)
 */
static void test_buf_sticky_error(void **state)
{
    static const float v[3] = {1.5f, 2.5f, 3.5f};
    struct md_buf b;

    (void)state;
    md_buf_init(&b, 8);
    assert_int_equal(md_buf_error(&b), MD_OK);
    assert_int_equal(md_buf_puts(&b, "abcdef"), MD_OK);
    assert_int_equal(md_buf_error(&b), MD_OK);
    assert_int_equal(md_buf_puts(&b, "xyz"), MD_ETOOBIG); /* 9 bytes: past 8 */
    assert_int_equal(md_buf_error(&b), MD_ETOOBIG);
    assert_string_equal(b.data, "abcdef"); /* as it was before the failure */
    expect_valid(&b, 8);
    /* Later calls, each of which would fit: no-ops that return the first code. */
    assert_int_equal(md_buf_putc(&b, 'x'), MD_ETOOBIG);
    assert_int_equal(md_buf_append(&b, "", 0), MD_ETOOBIG);
    assert_int_equal(md_buf_puts(&b, "y"), MD_ETOOBIG);
    assert_int_equal(md_buf_printf(&b, "%d", 7), MD_ETOOBIG);
    assert_int_equal(md_buf_printf(&b, "%ls", L"\xe9"), MD_ETOOBIG); /* would be EINTERNAL */
    assert_int_equal(md_buf_json_str(&b, "q", 1), MD_ETOOBIG);
    assert_int_equal(md_buf_json_str(&b, "\n", 1), MD_ETOOBIG);
    assert_int_equal(md_buf_i64(&b, 5), MD_ETOOBIG);
    assert_int_equal(md_buf_f32(&b, 0.5f, "null"), MD_ETOOBIG);
    assert_int_equal(md_buf_f64(&b, 0.5, "null"), MD_ETOOBIG);
    assert_int_equal(md_buf_floats(&b, v, 0, 1, 1, false, "null"), MD_ETOOBIG);
    assert_int_equal(md_buf_floats(&b, v, 1, 1, 1, false, "null"), MD_ETOOBIG);
    assert_int_equal(md_buf_floats(&b, v, 1, 1, 1, true, "null"), MD_ETOOBIG);
    assert_int_equal(md_buf_grow(&b, 1), MD_ETOOBIG);
    assert_int_equal(md_buf_reserve(&b, 1), MD_ETOOBIG);
    assert_int_equal(md_buf_error(&b), MD_ETOOBIG);
    assert_string_equal(b.data, "abcdef");
    expect_valid(&b, 8);

    /* Another first failure (the formatting of printf): it is the one kept. */
    md_buf_reset(&b);
    assert_int_equal(md_buf_error(&b), MD_OK);
    assert_int_equal(md_buf_puts(&b, "ab"), MD_OK);
    assert_int_equal(md_buf_printf(&b, "%ls", L"\xe9"), MD_EINTERNAL);
    assert_int_equal(md_buf_puts(&b, "0123456789"), MD_EINTERNAL); /* past max too */
    assert_int_equal(md_buf_error(&b), MD_EINTERNAL);
    assert_string_equal(b.data, "ab");
    expect_valid(&b, 8);

    /* A reset clears it: the buffer serves again, up to its maximum. */
    md_buf_reset(&b);
    assert_int_equal(md_buf_puts(&b, "01234567"), MD_OK);
    assert_int_equal(md_buf_error(&b), MD_OK);
    assert_string_equal(b.data, "01234567");
    assert_int_equal(md_buf_putc(&b, '8'), MD_ETOOBIG);
    md_buf_release(&b);
    assert_int_equal(md_buf_error(&b), MD_OK); /* release clears it too */
    assert_null(b.data);

    /* Before anything was allocated: the error stays, data stays NULL. */
    md_buf_init(&b, 4);
    assert_int_equal(md_buf_puts(&b, "hello"), MD_ETOOBIG);
    assert_null(b.data);
    assert_int_equal(md_buf_puts(&b, "hi"), MD_ETOOBIG);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_null(md_buf_detach(&b, NULL));
    assert_int_equal(md_buf_error(&b), MD_OK); /* detach leaves it empty and clear */
    assert_int_equal(md_buf_puts(&b, "hi"), MD_OK);
    assert_string_equal(b.data, "hi");
    md_buf_release(&b);
}

/* md_buf_reserve is a hint: past the maximum it fails, and nothing is kept. */
static void test_buf_reserve(void **state)
{
    struct md_buf b;

    (void)state;
    md_buf_init(&b, 100);
    assert_int_equal(md_buf_reserve(&b, 1000), MD_ETOOBIG);
    assert_int_equal(md_buf_error(&b), MD_OK);
    assert_int_equal(md_buf_puts(&b, "abc"), MD_OK);
    assert_int_equal(md_buf_reserve(&b, 50), MD_OK);
    assert_true(b.cap >= 54);
    assert_string_equal(b.data, "abc");
    assert_int_equal(md_buf_grow(&b, 1000), MD_ETOOBIG); /* grow's failure is kept */
    assert_int_equal(md_buf_error(&b), MD_ETOOBIG);
    assert_string_equal(b.data, "abc");
    md_buf_release(&b);
}

static void test_arena(void **state)
{
    struct md_arena a;
    char *p;
    int *big;
    size_t i;

    (void)state;
    md_arena_init(&a, 1 << 20);
    p = md_arena_strndup(&a, "hello world", 5);
    assert_string_equal(p, "hello");
    assert_int_equal((uintptr_t)p % 16, 0);
    big = md_arena_calloc(&a, 100000, sizeof(int));
    assert_non_null(big);
    for (i = 0; i < 100000; i++)
        assert_int_equal(big[i], 0);
    assert_null(md_arena_alloc(&a, 2 << 20));      /* over max */
    assert_null(md_arena_calloc(&a, SIZE_MAX, 8)); /* overflow */
    md_arena_reset(&a);
    assert_int_equal(a.used, 0);
    p = md_arena_alloc(&a, 100);
    assert_non_null(p);
    md_arena_release(&a);
    md_arena_release(&a);
}

static void test_fmt(void **state)
{
    struct md_buf b;

    (void)state;
    md_buf_init(&b, 1000);
    assert_int_equal(md_buf_f32(&b, 0.5f, "null"), MD_OK);
    assert_int_equal(md_buf_putc(&b, ' '), MD_OK);
    assert_int_equal(md_buf_f32(&b, NAN, "null"), MD_OK);
    assert_int_equal(md_buf_putc(&b, ' '), MD_OK);
    assert_int_equal(md_buf_f64(&b, -INFINITY, "NaN"), MD_OK);
    assert_int_equal(md_buf_putc(&b, ' '), MD_OK);
    assert_int_equal(md_buf_i64(&b, INT64_MIN), MD_OK);
    assert_int_equal(md_buf_putc(&b, ' '), MD_OK);
    assert_int_equal(md_buf_i64(&b, 0), MD_OK);
    assert_string_equal(b.data, "0.5 null -Infinity -9223372036854775808 0");
    md_buf_reset(&b);
    assert_int_equal(md_buf_f32(&b, 0.1f, "null"), MD_OK);
    assert_true(strtof(b.data, NULL) == 0.1f); /* round-trips */
    md_buf_reset(&b);
    assert_int_equal(md_buf_f64(&b, 0.1, "null"), MD_OK);
    assert_true(strtod(b.data, NULL) == 0.1);
    md_buf_release(&b);
}

/* Exact outputs: Python's repr notation with the shortest digits. */
static void test_fmt_f32_cases(void **state)
{
    static const struct {
        float v;
        const char *text;
    } cases[] = {
        {0.0f, "0"},
        {-0.0f, "-0"},
        {1.0f, "1"},
        {-2.5f, "-2.5"},
        {0.1f, "0.1"},
        {0.3f, "0.3"},
        {2.0f / 3.0f, "0.6666667"},
        {100.0f, "100"},
        {0.0001f, "0.0001"},
        {9.999e-5f, "9.999e-05"},
        {1.5e-5f, "1.5e-05"},
        {123456789.0f, "123456790"},
        {16777216.0f, "16777216"},
        {33554432.0f, "33554432"},
        {1e15f, "1000000000000000"},
        {1.2345678e15f, "1234567800000000"},
        {9.999999e15f, "9999999000000000"},
        {1e16f, "1e+16"},
        {3.4028235e38f, "3.4028235e+38"},
        {1.1754944e-38f, "1.1754944e-38"},
        {1e-45f, "1e-45"},
        {7.038531e-26f, "7.038531e-26"},
        {7.0385313e-26f, "7.0385313e-26"},
        {0.024100000f, "0.0241"},
    };
    char out[MD_FMT_F32_MAX + 1];
    size_t i;
    size_t n;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        n = md_fmt_f32(out, cases[i].v);
        assert_true(n <= MD_FMT_F32_MAX);
        out[n] = '\0';
        if (strcmp(out, cases[i].text) != 0)
            fail_msg("%.9g: got '%s', wanted '%s'", (double)cases[i].v, out, cases[i].text);
    }
}

/* xorshift64*: a fixed sequence of pseudo-random bit patterns. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

/*
 * Two million random finite floats and every float near 1, a power of 10 and
 * the subnormal range: each text reads back as the same float (bit for bit,
 * -0 included), and for one in sixteen no shorter text does (the correctly
 * rounded text one digit shorter must not read back).
 */
static void test_fmt_f32_round_trip(void **state)
{
    char out[MD_FMT_F32_MAX + 1];
    char shorter[40];
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    uint32_t bits;
    size_t checked = 0;
    long i;

    (void)state;
    for (i = 0; i < 2200000; i++) {
        float v;
        float back;
        size_t n;
        int digits = 0;
        const char *c;

        if (i < 2000000)
            bits = (uint32_t)(next_random(&seed) >> 32);
        else if (i < 2100000)
            bits = 0x3f800000u - 50000 + (uint32_t)(i - 2000000); /* around 1 */
        else
            bits = (uint32_t)(i - 2100000); /* subnormals from 0 up */
        memcpy(&v, &bits, sizeof(v));
        if (!isfinite(v))
            continue;
        n = md_fmt_f32(out, v);
        assert_true(n > 0 && n <= MD_FMT_F32_MAX);
        out[n] = '\0';
        back = strtof(out, NULL);
        if (memcmp(&back, &v, sizeof(v)) != 0)
            fail_msg("%08x: '%s' reads back as %.9g", bits, out, (double)back);
        checked++;
        if ((i & 15) != 0 || v == 0)
            continue;
        for (c = out; *c != '\0' && *c != 'e'; c++)
            digits += *c >= '0' && *c <= '9';
        /* Leading zeros of "0.00012" are not significant digits. */
        for (c = out + (out[0] == '-'); *c == '0' || *c == '.'; c++)
            digits -= *c == '0';
        /* Trailing zeros of "1200" are not either. */
        if (strchr(out, '.') == NULL && strchr(out, 'e') == NULL)
            for (c = out + n - 1; c > out && *c == '0'; c--)
                digits--;
        assert_true(digits >= 1 && digits <= 9);
        if (digits > 1) {
            snprintf(shorter, sizeof(shorter), "%.*g", digits - 1, (double)v);
            back = strtof(shorter, NULL);
            if (back == v)
                fail_msg("%08x: '%s' has %d digits but '%s' reads back too", bits, out, digits,
                         shorter);
        }
    }
    assert_true(checked > 2000000);
}

/*
 * md_buf_floats on rows rows of width out of stride (enough numbers to be
 * formatted on several threads) gives the text number by number gives.
 */
static void expect_floats_as_plain(const float *v, size_t rows, size_t width, size_t stride)
{
    struct md_buf got;
    struct md_buf want;
    size_t i;

    md_buf_init(&got, (size_t)1 << 30);
    md_buf_init(&want, (size_t)1 << 30);
    assert_int_equal(md_buf_floats(&got, v, rows, width, stride, false, "NaN"), MD_OK);
    for (i = 0; i < rows * width; i++) {
        if (i > 0)
            assert_int_equal(md_buf_putc(&want, ','), MD_OK);
        assert_int_equal(md_buf_f32(&want, v[i / width * stride + i % width], "NaN"), MD_OK);
    }
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, got.len);
    md_buf_release(&got);
    md_buf_release(&want);
}

static void test_buf_floats(void **state)
{
    const float v[6] = {0.5f, 1.0f, NAN, -INFINITY, INFINITY, 0.1f};
    struct md_buf b;
    struct md_buf small;
    float *many;
    size_t i;
    char *p;

    (void)state;
    md_buf_init(&b, (size_t)1 << 30);
    /* Two rows of width 2 out of rows of stride 3. */
    assert_int_equal(md_buf_floats(&b, v, 2, 2, 3, false, "null"), MD_OK);
    assert_string_equal(b.data, "0.5,1,null,null");
    md_buf_reset(&b);
    assert_int_equal(md_buf_floats(&b, v, 2, 3, 3, false, "null"), MD_OK);
    assert_string_equal(b.data, "0.5,1,null,null,null,0.1");
    md_buf_reset(&b);
    assert_int_equal(md_buf_floats(&b, v, 1, 6, 6, false, "NaN"), MD_OK);
    assert_string_equal(b.data, "0.5,1,NaN,-Infinity,Infinity,0.1");
    md_buf_reset(&b);
    /* Wide: as doubles, all the float's digits. */
    assert_int_equal(md_buf_floats(&b, v + 5, 1, 1, 1, true, "null"), MD_OK);
    assert_string_equal(b.data, "0.10000000149011612");
    md_buf_reset(&b);
    assert_int_equal(md_buf_floats(&b, v, 0, 1, 1, false, "null"), MD_OK);
    assert_int_equal(b.len, 0);
    /* Many rows: several batches, and each number reads back. */
    many = malloc(100000 * sizeof(*many));
    assert_non_null(many);
    for (i = 0; i < 100000; i++)
        many[i] = (float)i / 7.0f - 1000.0f;
    assert_int_equal(md_buf_floats(&b, many, 100000, 1, 1, false, "null"), MD_OK);
    p = b.data;
    for (i = 0; i < 100000; i++) {
        char *end;

        assert_true(strtof(p, &end) == many[i]);
        assert_true(*end == (i + 1 < 100000 ? ',' : '\0'));
        p = end + 1;
    }
    assert_int_equal(strlen(b.data), b.len);
    /*
     * Rows of width 3 out of stride 4, with NaN and infinities, many enough
     * to be formatted on several threads: the text is the one number by
     * number gives.
     */
    for (i = 0; i < 100000; i++)
        many[i] = i % 97 == 5 ? NAN : i % 89 == 3 ? -INFINITY : (float)i * 0.37f - 99.0f;
    expect_floats_as_plain(many, 25000, 3, 4);
    /* A few wide rows, fewer than the parts their numbers would make: the same text. */
    expect_floats_as_plain(many, 4, 2600, 2600);
    /* Past the buffer's maximum: MD_ETOOBIG, contents as they were up to the last batch. */
    md_buf_init(&small, 1000);
    assert_int_equal(md_buf_floats(&small, many, 100000, 1, 1, false, "null"), MD_ETOOBIG);
    assert_true(small.len <= 1000);
    md_buf_release(&small);
    free(many);
    md_buf_release(&b);
}

static void test_buf_tail_commit(void **state)
{
    struct md_buf b;

    (void)state;
    md_buf_init(&b, 100);
    assert_int_equal(md_buf_puts(&b, "ab"), MD_OK);
    assert_int_equal(md_buf_grow(&b, 10), MD_OK);
    memcpy(md_buf_tail(&b), "cdefgh", 6);
    md_buf_commit(&b, 4);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "abcdef");
    md_buf_release(&b);
}

static void test_arena_grow(void **state)
{
    struct md_arena a;
    char *p;
    char *q;
    char *r;

    (void)state;
    md_arena_init(&a, 1 << 20);
    /* The most recent block grows in place while its chunk has room. */
    p = md_arena_alloc(&a, 100);
    assert_non_null(p);
    memset(p, 'x', 100);
    q = md_arena_grow(&a, p, 100, 4000);
    assert_ptr_equal(q, p);
    assert_int_equal(a.used, 4000);
    assert_int_equal(q[99], 'x');
    /* Not the most recent: moved, with its bytes. */
    r = md_arena_alloc(&a, 16);
    assert_non_null(r);
    q = md_arena_grow(&a, p, 4000, 5000);
    assert_non_null(q);
    assert_true(q != p);
    assert_int_equal(q[0], 'x');
    assert_int_equal(q[99], 'x');
    /* Past the chunk: a new chunk, the bytes copied. */
    p = md_arena_grow(&a, q, 5000, 200000);
    assert_non_null(p);
    assert_int_equal(p[50], 'x');
    assert_int_equal((uintptr_t)p % 16, 0);
    /* Past the maximum, or shrinking: NULL, the block kept. */
    assert_null(md_arena_grow(&a, p, 200000, 2 << 20));
    assert_null(md_arena_grow(&a, p, 200000, 100));
    assert_int_equal(p[50], 'x');
    /* From nothing. */
    md_arena_reset(&a);
    p = md_arena_grow(&a, NULL, 0, 64);
    assert_non_null(p);
    md_arena_release(&a);
}

static void test_log_levels(void **state)
{
    (void)state;
    assert_int_equal(md_log_parse_level("debug"), MD_LOG_DEBUG);
    assert_int_equal(md_log_parse_level("warning"), MD_LOG_WARN);
    assert_int_equal(md_log_parse_level("off"), MD_LOG_OFF);
    assert_int_equal(md_log_parse_level("loud"), -1);
    md_log_set_level(MD_LOG_ERROR);
    assert_int_equal(md_log_get_level(), MD_LOG_ERROR);
    md_log(MD_LOG_INFO, "dropped");
    md_log_set_level(MD_LOG_INFO);
}

static void test_mem(void **state)
{
    char *s;
    bool ok;
    size_t out;

    (void)state;
    s = md_xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    ok = md_mul_ok(SIZE_MAX, 2, &out);
    assert_false(ok);
    ok = md_mul_ok(1000, 1000, &out);
    assert_true(ok);
    assert_int_equal(out, 1000000);
}

static void test_parallel_parts(void **state)
{
    (void)state;
    assert_int_equal(md_parallel_parts(1000000, 10, 1, 64), 0); /* one thread */
    assert_int_equal(md_parallel_parts(15, 10, 4, 64), 1);      /* too little work */
    assert_int_equal(md_parallel_parts(35, 10, 4, 64), 3);      /* each part at least min */
    assert_int_equal(md_parallel_parts(1000000, 10, 2, 64), 2 * MD_PARALLEL_SPLIT);
    assert_int_equal(md_parallel_parts(1000000, 10, 100, 64), 64); /* at most max */
    assert_int_equal(md_parallel_parts(1000000, 10, 0, SIZE_MAX),
                     md_cpus() < 2 ? 0 : (size_t)MD_PARALLEL_SPLIT * md_cpus());
}

/* One item of test_run_parallel: the times it ran, and on which thread. */
struct par_item {
    int runs;
    pthread_t thread;
    char pad[64]; /* items on cache lines of their own */
};

static void par_item_run(void *arg)
{
    struct par_item *it = arg;
    volatile unsigned spin = 0;
    unsigned i;

    it->runs++;
    it->thread = pthread_self();
    for (i = 0; i < 20000; i++)
        spin += i; /* long enough for the other threads to take items too */
}

static void test_run_parallel(void **state)
{
    static const unsigned threads[] = {0, 1, 2, 3, 8, 100};
    static const size_t counts[] = {1, 2, 3, 7, 64, 200};
    struct par_item items[200];
    size_t t;
    size_t c;
    size_t i;

    (void)state;
    assert_true(md_cpus() >= 1);
    md_run_parallel(items, 0, sizeof(items[0]), 4, par_item_run); /* no items: nothing runs */
    for (t = 0; t < MD_ARRAY_LEN(threads); t++) {
        for (c = 0; c < MD_ARRAY_LEN(counts); c++) {
            size_t others = 0;

            memset(items, 0, sizeof(items));
            md_run_parallel(items, counts[c], sizeof(items[0]), threads[t], par_item_run);
            for (i = 0; i < MD_ARRAY_LEN(items); i++) {
                /* Each item exactly once; none past n. */
                assert_int_equal(items[i].runs, i < counts[c] ? 1 : 0);
                if (i < counts[c] && !pthread_equal(items[i].thread, pthread_self()))
                    others++;
            }
            /* With one thread, or one item, everything runs on the caller's thread. */
            if (threads[t] == 1 || counts[c] == 1 || (threads[t] == 0 && md_cpus() == 1))
                assert_int_equal(others, 0);
        }
    }
}

/* test_run_parallel_shared: runs from several threads at once, some nested. */
struct nest_item {
    _Atomic int runs;
    struct par_item sub[6]; /* a run of its own, from inside this item */
};

static void nest_item_run(void *arg)
{
    struct nest_item *it = arg;

    atomic_fetch_add(&it->runs, 1);
    md_run_parallel(it->sub, MD_ARRAY_LEN(it->sub), sizeof(it->sub[0]), 3, par_item_run);
}

static void *par_caller(void *arg)
{
    struct nest_item *items = arg;
    int round;

    for (round = 0; round < 25; round++)
        md_run_parallel(items, 8, sizeof(items[0]), round % 4, nest_item_run);
    return NULL;
}

static void test_run_parallel_shared(void **state)
{
    enum { CALLERS = 4 };
    static struct nest_item items[CALLERS][8];
    pthread_t tid[CALLERS];
    size_t c;
    size_t i;
    size_t j;

    (void)state;
    memset(items, 0, sizeof(items));
    for (c = 0; c < CALLERS; c++)
        assert_int_equal(pthread_create(&tid[c], NULL, par_caller, items[c]), 0);
    for (c = 0; c < CALLERS; c++)
        assert_int_equal(pthread_join(tid[c], NULL), 0);
    /* Every item of every run exactly once per round, nested runs included. */
    for (c = 0; c < CALLERS; c++) {
        for (i = 0; i < 8; i++) {
            assert_int_equal(atomic_load(&items[c][i].runs), 25);
            for (j = 0; j < MD_ARRAY_LEN(items[c][i].sub); j++)
                assert_int_equal(items[c][i].sub[j].runs, 25);
        }
    }
}

/* Writes len bytes of text to path. */
static void put_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* md_read_file fails with code, the message want and the reason why. */
static void read_fails(const char *path, size_t max, int code, const char *want,
                       enum md_read_why why)
{
    struct md_read_fail f;
    struct md_err err;
    char *out = (char *)"x";
    size_t len = 7;

    md_err_clear(&err);
    assert_int_equal(md_read_file(path, max, &out, &len, &f, &err), code);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.code, code);
    assert_int_equal(f.why, why);
    assert_null(out);
    assert_int_equal(len, 0);
    /* Without fail: the same code and words. */
    assert_int_equal(md_read_file(path, max, &out, &len, NULL, &err), code);
    assert_string_equal(err.msg, want);
}

static void test_read_file(void **state)
{
    char dir[] = "/tmp/md-test-util-XXXXXX";
    char path[128];
    char want[256];
    struct md_read_fail f;
    struct md_err err;
    char *out;
    size_t len;

    (void)state;
    assert_non_null(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/a.txt", dir);
    put_file(path, "ab\0cd", 5);
    assert_int_equal(md_read_file(path, 5, &out, &len, &f, &err), MD_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "ab\0cd", 6); /* NUL-terminated after the text */
    free(out);
    /* One byte over max. */
    (void)snprintf(want, sizeof(want), "'%s': larger than 4 bytes", path);
    read_fails(path, 4, MD_ETOOBIG, want, MD_READ_TOO_BIG);
    assert_int_equal(md_read_file(path, 4, &out, &len, &f, NULL), MD_ETOOBIG);
    assert_int_equal(f.size, 5);
    /* Empty: a buffer holding "". */
    put_file(path, "", 0);
    assert_int_equal(md_read_file(path, 0, &out, &len, NULL, &err), MD_OK);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(unlink(path), 0);

    (void)snprintf(want, sizeof(want), "'%s': cannot open: No such file or directory", path);
    read_fails(path, 10, MD_EIO, want, MD_READ_OPEN);
    assert_int_equal(md_read_file(path, 10, &out, &len, &f, NULL), MD_EIO);
    assert_int_equal(f.errnum, ENOENT);
    (void)snprintf(want, sizeof(want), "'%s': is a directory, not a file", dir);
    read_fails(dir, 10, MD_EIO, want, MD_READ_DIR);
    /* A FIFO with no writer: refused at once, not waited on. */
    (void)snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    (void)snprintf(want, sizeof(want), "'%s': not a regular file", path);
    read_fails(path, 10, MD_EIO, want, MD_READ_SPECIAL);
    assert_int_equal(unlink(path), 0);
    read_fails("/dev/null", 10, MD_EIO, "'/dev/null': not a regular file", MD_READ_SPECIAL);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_prefix_clear),
        cmocka_unit_test(test_buf_append_limits),
        cmocka_unit_test(test_buf_json_str),
        cmocka_unit_test(test_buf_json_time_ms),
        cmocka_unit_test(test_buf_json_str_bytes),
        cmocka_unit_test(test_buf_sticky_error),
        cmocka_unit_test(test_buf_reserve),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_fmt),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_mem),
        cmocka_unit_test(test_fmt_f32_cases),
        cmocka_unit_test(test_fmt_f32_round_trip),
        cmocka_unit_test(test_buf_floats),
        cmocka_unit_test(test_buf_tail_commit),
        cmocka_unit_test(test_arena_grow),
        cmocka_unit_test(test_run_parallel),
        cmocka_unit_test(test_run_parallel_shared),
        cmocka_unit_test(test_parallel_parts),
        cmocka_unit_test(test_read_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
