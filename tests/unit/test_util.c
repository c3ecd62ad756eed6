/* SPDX-License-Identifier: MIT */
/*
 * test_util.c: err, buf, arena, fmt and log level parsing.
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

#include <math.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_prefix_clear), cmocka_unit_test(test_buf_append_limits),
        cmocka_unit_test(test_buf_json_str),          cmocka_unit_test(test_arena),
        cmocka_unit_test(test_fmt),                   cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_mem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
