/* SPDX-License-Identifier: MIT */
/*
 * test_online_stats.c: online learning's per-model counters
 * (watch/online_stats.c): one slot per model, found again by name, names
 * too long or past the table refused, and the /metrics families they
 * write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/online_stats.h"

#include <stdio.h>

static void test_slots_and_prom(void **state)
{
    struct md_online_stats *a;
    struct md_online_stats *b;
    struct md_buf buf;
    char name[200];
    char *text;
    int i;

    (void)state;
    md_buf_init(&buf, 1 << 20);
    md_online_stats_prom(&buf);
    assert_int_equal(buf.len, 0); /* no model learns yet: no family */
    a = md_online_stats_of("alpha");
    b = md_online_stats_of("beta");
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(md_online_stats_of("alpha"), a);
    atomic_fetch_add(&a->updates, 7);
    atomic_fetch_add(&b->fallbacks, 2);
    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_null(md_online_stats_of(name));
    md_online_stats_prom(&buf);
    assert_int_equal(md_buf_error(&buf), MD_OK);
    text = strndup(buf.data, buf.len);
    assert_non_null(strstr(text, "# TYPE modeld_online_updates_total counter\n"));
    assert_non_null(strstr(text, "modeld_online_updates_total{model=\"alpha\"} 7\n"));
    assert_non_null(strstr(text, "modeld_online_updates_total{model=\"beta\"} 0\n"));
    assert_non_null(strstr(text, "modeld_online_fallbacks_total{model=\"beta\"} 2\n"));
    assert_non_null(strstr(text, "modeld_online_skipped_total{model=\"alpha\"} 0\n"));
    assert_non_null(strstr(text, "modeld_online_snapshots_total{model=\"alpha\"} 0\n"));
    free(text);
    /* the table holds MD_ONLINE_STATS_MODELS models */
    for (i = 2; i < MD_ONLINE_STATS_MODELS; i++) {
        (void)snprintf(name, sizeof(name), "m%d", i);
        assert_non_null(md_online_stats_of(name));
    }
    assert_null(md_online_stats_of("one-too-many"));
    assert_ptr_equal(md_online_stats_of("beta"), b);
    md_buf_release(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_and_prom),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
