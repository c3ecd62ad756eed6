/* SPDX-License-Identifier: MIT */
/*
 * test_cron.c: five-field cron expressions (util/cron.c): the next time each
 * comes due agrees with a minute-by-minute search in Python's datetime
 * (cron_ref.h, written by tests/data/cron/next_ref.py); the shorthands;
 * every malformed expression refused naming its field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/cron.h"

#include "cron_ref.h"

static void test_next_matches_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < MD_ARRAY_LEN(cron_ref); i++) {
        struct md_cron c;
        struct md_err err;
        int64_t got;

        md_err_clear(&err);
        assert_int_equal(md_cron_parse(cron_ref[i].expr, &c, &err), MD_OK);
        got = md_cron_next(&c, cron_ref[i].after_s);
        if (got != cron_ref[i].next_s)
            fail_msg("'%s' after %lld: %lld, expected %lld", cron_ref[i].expr,
                     (long long)cron_ref[i].after_s, (long long)got, (long long)cron_ref[i].next_s);
    }
}

static void test_next_is_strictly_after(void **state)
{
    struct md_cron c;
    struct md_err err;

    (void)state;
    assert_int_equal(md_cron_parse("*/5 * * * *", &c, &err), MD_OK);
    /* On a due minute exactly: the next one, not the same. */
    assert_int_equal(md_cron_next(&c, 1796649300), 1796649600);
    assert_int_equal(md_cron_next(&c, 1796649299), 1796649300);
    assert_int_equal(md_cron_next(&c, -1), -1);
    assert_int_equal(md_cron_next(&c, 253402300800LL), -1);
}

static void test_shorthands(void **state)
{
    struct md_cron a, b;
    struct md_err err;
    static const char *const pairs[][2] = {
        {"@yearly", "0 0 1 1 *"},   {"@annually", "0 0 1 jan *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * sun"}, {"@daily", "0 0 * * *"},      {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };

    (void)state;
    for (size_t i = 0; i < MD_ARRAY_LEN(pairs); i++) {
        assert_int_equal(md_cron_parse(pairs[i][0], &a, &err), MD_OK);
        assert_int_equal(md_cron_parse(pairs[i][1], &b, &err), MD_OK);
        assert_memory_equal(&a, &b, sizeof(a));
    }
    assert_int_equal(md_cron_parse("@often", &a, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "@often"));
}

static void test_fields(void **state)
{
    struct md_cron c;
    struct md_err err;

    (void)state;
    assert_int_equal(md_cron_parse("0,30 9-17/2 1,15 JAN-mar Mon-Fri", &c, &err), MD_OK);
    assert_true(c.minutes == (1ull | 1ull << 30));
    assert_int_equal(c.hours, 1u << 9 | 1u << 11 | 1u << 13 | 1u << 15 | 1u << 17);
    assert_int_equal(c.mdays, 1u << 1 | 1u << 15);
    assert_int_equal(c.months, 1u << 1 | 1u << 2 | 1u << 3);
    assert_int_equal(c.wdays, 0x3e);
    assert_false(c.mday_star);
    assert_false(c.wday_star);
    assert_int_equal(md_cron_parse("  * * */2 * 5-7 ", &c, &err), MD_OK);
    assert_true(c.mday_star);
    assert_false(c.wday_star);
    assert_int_equal(c.wdays, 1u << 0 | 1u << 5 | 1u << 6);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *expr;
        const char *words;
    } bad[] = {
        {"", "0 fields, not five"},
        {"* * * *", "4 fields, not five"},
        {"* * * * * *", "more than five fields"},
        {"60 * * * *", "minute: 60 is not between 0 and 59"},
        {"* 24 * * *", "hour: 24 is not between 0 and 23"},
        {"* * 0 * *", "day of month: 0 is not between 1 and 31"},
        {"* * 32 * *", "day of month: 32"},
        {"* * * 13 *", "month: 13 is not between 1 and 12"},
        {"* * * * 8", "day of week: 8 is not between 0 and 7"},
        {"* * * foo *", "month: 'foo' is not a name of one"},
        {"* * * * funday", "day of week: 'funday'"},
        {"* * * * jan", "day of week: 'jan'"},
        {"* jan * * *", "hour: 'jan' is not a value"},
        {"5-1 * * * *", "minute: the range 5-1 ends before it starts"},
        {"*/0 * * * *", "minute: the step after '/' must be 1 to 59"},
        {"*/ * * * *", "minute: the step"},
        {"1,,2 * * * *", "minute:"},
        {"1;2 * * * *", "minute: unexpected ';'"},
        {"* * 30 2 *", "no day it names comes"},
        {"* * 31 4,6,9,11 *", "no day it names comes"},
        {"12345 * * * *", "minute: '12345' is too long"},
        {"-1 * * * *", "minute: '-1' is not a value"},
    };
    struct md_cron c;
    struct md_err err;

    (void)state;
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_err_clear(&err);
        assert_int_equal(md_cron_parse(bad[i].expr, &c, &err), MD_EINVAL);
        if (strstr(err.msg, bad[i].words) == NULL)
            fail_msg("'%s': '%s' lacks '%s'", bad[i].expr, err.msg, bad[i].words);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_matches_reference),
        cmocka_unit_test(test_next_is_strictly_after),
        cmocka_unit_test(test_shorthands),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
