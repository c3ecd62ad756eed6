/* SPDX-License-Identifier: MIT */
/*
 * test_compare.c: the comparisons of version pairs (watch/compare.c): the
 * |difference| histogram's bins, merge, mean and quantiles; the registry's
 * pairs (made on first sight, ordered, each side's errors and latency,
 * agreement only for classification, bounded with the oldest dropped); the
 * snapshot and the JSON of the comparison endpoint.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/compare.h"

#include <jansson.h>

#include <math.h>

static void test_diff_bins(void **state)
{
    struct md_diff_hist h;
    struct md_diff_hist g;
    size_t i;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_true(isnan(md_diff_hist_quantile(&h, 0.5)));
    assert_true(isnan(md_diff_hist_mean(&h)));
    md_diff_hist_add(&h, 0);
    md_diff_hist_add(&h, -0.0);
    md_diff_hist_add(&h, 1e-12);
    md_diff_hist_add(&h, 1e-9);
    md_diff_hist_add(&h, -0.01); /* the sign is dropped */
    md_diff_hist_add(&h, 1);
    md_diff_hist_add(&h, 2e9);
    md_diff_hist_add(&h, NAN);
    assert_int_equal(h.count, 8);
    assert_int_equal(h.bins[0], 2);
    assert_int_equal(h.bins[1], 2);
    /* 0.01 = 10^-2: the last bin of the decade (10^-3, 10^-2]. */
    assert_int_equal(h.bins[1 + 7 * MD_DIFF_PER_DEC], 1);
    assert_true(md_diff_hist_bound(1 + 7 * MD_DIFF_PER_DEC) > 0.0099 &&
                md_diff_hist_bound(1 + 7 * MD_DIFF_PER_DEC) < 0.0101);
    assert_int_equal(h.bins[1 + 9 * MD_DIFF_PER_DEC], 1); /* 1 = 10^0 */
    assert_int_equal(h.bins[MD_DIFF_BINS - 1], 2);        /* above 1e9, and NaN */
    assert_int_equal(h.nonfinite, 1);
    assert_true(h.max == 2e9);
    /* Every bound is above the one before, decades on bin bounds. */
    for (i = 1; i < MD_DIFF_BINS; i++)
        assert_true(md_diff_hist_bound(i) > md_diff_hist_bound(i - 1));
    assert_true(fabs(md_diff_hist_bound(1) - 1e-9) < 1e-18);
    assert_true(fabs(md_diff_hist_bound(MD_DIFF_BINS - 2) - 1e9) < 1e-3);
    assert_true(isinf(md_diff_hist_bound(MD_DIFF_BINS - 1)));
    /* The mean of the finite ones. */
    assert_true(fabs(md_diff_hist_mean(&h) - (1e-12 + 1e-9 + 0.01 + 1 + 2e9) / 7) < 1);

    /* Quantiles: a run of 0.5s and a few large ones. */
    memset(&g, 0, sizeof(g));
    for (i = 0; i < 99; i++)
        md_diff_hist_add(&g, 0.5);
    md_diff_hist_add(&g, 30);
    /* 0.5 lies in the bin (10^-0.5, 1]: a quantile is known to within its bin. */
    assert_true(md_diff_hist_quantile(&g, 0.5) > 0.316 && md_diff_hist_quantile(&g, 0.5) <= 1);
    assert_true(md_diff_hist_quantile(&g, 0.99) > 0.316 && md_diff_hist_quantile(&g, 0.99) <= 1);
    assert_true(md_diff_hist_quantile(&g, 1) > 17 && md_diff_hist_quantile(&g, 1) <= 30);
    assert_true(md_diff_hist_quantile(&g, 0) == 0 || md_diff_hist_quantile(&g, 0) <= 0.5);
    assert_true(fabs(md_diff_hist_mean(&g) - (99 * 0.5 + 30) / 100) < 1e-9);
    /* All zeros: every quantile is 0. */
    memset(&h, 0, sizeof(h));
    md_diff_hist_add(&h, 0);
    assert_true(md_diff_hist_quantile(&h, 0.99) == 0);
    /* Merging adds counts, sums and keeps the larger maximum. */
    md_diff_hist_merge(&h, &g);
    assert_int_equal(h.count, 101);
    assert_int_equal(h.bins[0], 1);
    assert_true(h.max == 30);
    assert_true(fabs(h.sum - g.sum) < 1e-12);
}

static void sample(struct md_compare *c, const char *model, int64_t a, int64_t b, bool labels,
                   int code_b, size_t rows, size_t agree, double diff)
{
    struct md_diff_hist h;
    struct md_compare_sample s;
    size_t i;

    memset(&h, 0, sizeof(h));
    for (i = 0; i < rows; i++)
        md_diff_hist_add(&h, diff);
    memset(&s, 0, sizeof(s));
    s.model = model;
    s.a = a;
    s.b = b;
    s.labels = labels;
    s.code_a = MD_OK;
    s.code_b = code_b;
    s.ns_a = 2000000;  /* 2 ms */
    s.ns_b = 40000000; /* 40 ms */
    s.rows = code_b == MD_OK ? rows : 0;
    s.agree = agree;
    s.diff = code_b == MD_OK ? &h : NULL;
    md_compare_record(c, &s);
}

static void test_pairs(void **state)
{
    struct md_compare *c = md_compare_new();
    struct md_compare_pair p[4];
    size_t n;

    (void)state;
    assert_int_equal(md_compare_snapshot(c, "m", p, 4), 0);
    sample(c, "m", 3, 5, true, MD_OK, 10, 9, 0.1);
    sample(c, "m", 3, 5, true, MD_OK, 10, 10, 0);
    sample(c, "m", 3, 5, true, MD_EINTERNAL, 10, 0, 0);
    sample(c, "m", 3, 4, true, MD_OK, 1, 1, 0);
    sample(c, "other", 1, 2, false, MD_OK, 2, 0, 3.5);
    n = md_compare_snapshot(c, "m", p, 4);
    assert_int_equal(n, 2);
    /* By a, then b. */
    assert_int_equal(p[0].a, 3);
    assert_int_equal(p[0].b, 4);
    assert_int_equal(p[1].b, 5);
    assert_int_equal(p[1].requests, 3);
    assert_int_equal(p[1].compared, 2);
    assert_int_equal(p[1].rows, 20);
    assert_int_equal(p[1].agree, 19);
    assert_int_equal(p[1].diff.count, 20);
    assert_int_equal(p[1].side[0].requests, 3);
    assert_int_equal(p[1].side[0].errors, 0);
    assert_int_equal(p[1].side[1].requests, 3);
    assert_int_equal(p[1].side[1].errors, 1);
    /* Latency counts successful answers only: 2 ms and 40 ms each in their bucket. */
    assert_true(md_hist_quantile(p[1].side[0].latency, 0.5) > 0.001 &&
                md_hist_quantile(p[1].side[0].latency, 0.5) <= 0.0025);
    assert_true(md_hist_quantile(p[1].side[1].latency, 0.5) > 0.025 &&
                md_hist_quantile(p[1].side[1].latency, 0.5) <= 0.05);
    assert_int_equal(p[1].side[1].latency_sum_ns, 80000000);
    /* Room for fewer than there are: the count says so. */
    assert_int_equal(md_compare_snapshot(c, "m", p, 1), 2);
    assert_int_equal(p[0].b, 4);
    assert_int_equal(md_compare_snapshot(c, NULL, p, 4), 3);
    assert_string_equal(p[2].model, "other");
    assert_false(p[2].labels);

    /* A step's figures: the difference of two snapshots. */
    assert_int_equal(md_compare_snapshot(c, "m", p, 2), 2);
    sample(c, "m", 3, 5, true, MD_OK, 10, 5, 0.5);
    sample(c, "m", 3, 5, true, MD_EINTERNAL, 10, 0, 0);
    assert_int_equal(md_compare_snapshot(c, "m", p + 2, 2), 2);
    md_compare_pair_delta(&p[3], &p[1], &p[0]);
    assert_int_equal(p[0].requests, 2);
    assert_int_equal(p[0].compared, 1);
    assert_int_equal(p[0].rows, 10);
    assert_int_equal(p[0].agree, 5);
    assert_int_equal(p[0].diff.count, 10);
    assert_true(fabs(md_diff_hist_mean(&p[0].diff) - 0.5) < 1e-9);
    assert_int_equal(p[0].side[1].errors, 1);
    assert_int_equal(p[0].side[1].requests, 2);
    assert_int_equal(p[0].side[0].latency_sum_ns, 4000000);
    md_compare_pair_delta(&p[3], NULL, &p[0]);
    assert_int_equal(p[0].requests, 5);
    md_compare_free(c);
}

static void test_pairs_bounded(void **state)
{
    struct md_compare *c = md_compare_new();
    struct md_compare_pair *p = calloc(MD_COMPARE_PAIRS_MAX + 1, sizeof(*p));
    int64_t i;

    (void)state;
    assert_non_null(p);
    for (i = 1; i <= MD_COMPARE_PAIRS_MAX; i++)
        sample(c, "m", 1, 1 + i, true, MD_OK, 1, 1, 0);
    /* Pair (1, 2) is updated again: (1, 3) is now the one updated longest ago. */
    sample(c, "m", 1, 2, true, MD_OK, 1, 1, 0);
    sample(c, "m", 2, 1, true, MD_OK, 1, 1, 0);
    assert_int_equal(md_compare_snapshot(c, "m", p, MD_COMPARE_PAIRS_MAX + 1),
                     MD_COMPARE_PAIRS_MAX);
    assert_int_equal(p[0].b, 2);
    assert_int_equal(p[0].requests, 2);
    assert_int_equal(p[1].b, 4); /* 3 went */
    assert_int_equal(p[MD_COMPARE_PAIRS_MAX - 1].a, 2);
    free(p);
    md_compare_free(c);
}

static void test_json(void **state)
{
    struct md_compare *c = md_compare_new();
    json_error_t je;
    json_t *doc;
    struct md_buf b;

    (void)state;
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_compare_json(c, "m", &b), MD_OK);
    assert_string_equal(b.data, "{\"model\":\"m\",\"pairs\":[]}");
    sample(c, "m", 3, 5, true, MD_OK, 10, 9, 0.25);
    sample(c, "m", 3, 5, true, MD_EINTERNAL, 10, 0, 0);
    sample(c, "m", 1, 2, false, MD_EINVAL, 4, 0, 0);
    sample(c, "n", 1, 2, false, MD_OK, 4, 0, 0);
    md_buf_reset(&b);
    assert_int_equal(md_compare_json(c, "m", &b), MD_OK);
    doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "pairs")), 2);
    json_decref(doc);
    /* A regression pair with nothing compared: its figures are null, not made up. */
    assert_non_null(strstr(b.data, "{\"a\":\"1\",\"b\":\"2\",\"requests\":1,\"compared\":0,"
                                   "\"rows\":0,\"agree\":0,\"agreement\":null,\"abs_diff\":"
                                   "{\"count\":0,\"mean\":null,\"p50\":null,\"p99\":null,"
                                   "\"max\":null},\"sides\":{\"a\":{\"requests\":1,\"errors\":0,"
                                   "\"error_rate\":0,"));
    assert_non_null(strstr(b.data, "\"b\":{\"requests\":1,\"errors\":1,\"error_rate\":1,"
                                   "\"latency_p50_s\":null,\"latency_p99_s\":null}"));
    assert_non_null(strstr(b.data, "{\"a\":\"3\",\"b\":\"5\",\"requests\":2,\"compared\":1,"
                                   "\"rows\":10,\"agree\":9,\"agreement\":0.9,\"abs_diff\":"
                                   "{\"count\":10,\"mean\":0.25,"));
    assert_non_null(strstr(b.data, "\"max\":0.25},"));
    assert_null(strstr(b.data, "\"model\":\"n\""));
    /* A full buffer: its error comes back. */
    md_buf_release(&b);
    md_buf_init(&b, 16);
    assert_int_equal(md_compare_json(c, "m", &b), MD_ETOOBIG);
    md_buf_release(&b);
    md_compare_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_bins),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_pairs_bounded),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
