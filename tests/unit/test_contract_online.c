/* SPDX-License-Identifier: MIT */
/*
 * test_contract_online.c: model.yaml's `online:` section
 * (serve/contract_online.c): its defaults, every key read, each bad value
 * refused with a message naming the key, and the engine settings it gives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "serve/contract.h"
#include "util/common.h"

#include <stdio.h>

#define HEAD_BINARY                                                                                \
    "name: m\nbackend: linear\ntask: classification\nlabels: [no, yes]\n"                          \
    "features:\n  - {name: a, datatype: FP32}\n  - {name: b, datatype: FP32}\n"
#define HEAD_REGRESSION                                                                            \
    "name: m\nbackend: linear\ntask: regression\n"                                                 \
    "features:\n  - {name: a, datatype: FP32}\n"

static struct md_contract *parse_ok(const char *yaml)
{
    struct md_contract *c = NULL;
    struct md_err err;
    int rc = md_contract_parse(yaml, strlen(yaml), "m", &c, &err);

    if (rc != MD_OK)
        fail_msg("parse failed (%d): %s\n%s", rc, err.msg, yaml);
    return c;
}

static void expect_invalid(const char *yaml, const char *sub)
{
    struct md_contract *c = NULL;
    struct md_err err;
    int rc = md_contract_parse(yaml, strlen(yaml), "m", &c, &err);

    if (rc != MD_EINVAL)
        fail_msg("expected MD_EINVAL for:\n%s\ngot %d (%s)", yaml, rc, err.msg);
    if (strstr(err.msg, sub) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, sub);
    assert_null(c);
}

static void test_defaults(void **state)
{
    struct md_contract *c = parse_ok(HEAD_BINARY);
    struct md_learn_config lc;

    (void)state;
    assert_false(c->online.present);
    assert_int_equal(c->online.algo, MD_ONLINE_SGD);
    assert_true(c->online.learning_rate == 0.01);
    assert_int_equal(c->online.snapshot_updates, 1000);
    assert_int_equal(c->online.snapshot_s, 600);
    assert_int_equal(c->online.window, 500);
    assert_true(c->online.fallback_margin == 0.05);
    md_contract_free(c);
    c = parse_ok(HEAD_BINARY "online: {}\n");
    assert_true(c->online.present);
    md_online_learn_config(&c->online, &lc);
    assert_int_equal(lc.algo, 1);
    assert_true(lc.learning_rate == 0.01);
    md_contract_free(c);
}

static void test_every_key(void **state)
{
    struct md_contract *c = parse_ok(HEAD_BINARY "online:\n  algo: ftrl\n  learning_rate: 0.5\n"
                                                 "  alpha: 0.2\n  beta: 0.5\n  l1: 0.01\n"
                                                 "  l2: 0.1\n  clip: 5\n  max_weight: 20\n"
                                                 "  snapshot_updates: 200\n  snapshot_s: 0\n"
                                                 "  window: 100\n  fallback_margin: 0.1\n");
    struct md_learn_config lc;

    (void)state;
    assert_true(c->online.present);
    assert_int_equal(c->online.algo, MD_ONLINE_FTRL);
    assert_true(c->online.learning_rate == 0.5);
    assert_true(c->online.alpha == 0.2);
    assert_true(c->online.beta == 0.5);
    assert_true(c->online.l1 == 0.01);
    assert_true(c->online.l2 == 0.1);
    assert_true(c->online.clip == 5);
    assert_true(c->online.max_weight == 20);
    assert_int_equal(c->online.snapshot_updates, 200);
    assert_int_equal(c->online.snapshot_s, 0);
    assert_int_equal(c->online.window, 100);
    assert_true(c->online.fallback_margin == 0.1);
    md_online_learn_config(&c->online, &lc);
    assert_int_equal(lc.algo, 2);
    assert_true(lc.alpha == 0.2 && lc.beta == 0.5 && lc.l1 == 0.01 && lc.l2 == 0.1);
    assert_true(lc.clip == 5 && lc.max_weight == 20);
    md_contract_free(c);
    /* sgd on a regression model */
    c = parse_ok(HEAD_REGRESSION "online: {learning_rate: 0.001}\n");
    assert_true(c->online.learning_rate == 0.001);
    md_contract_free(c);
}

static void test_bad_settings(void **state)
{
    (void)state;
    expect_invalid("name: m\nbackend: trees\ntask: regression\nfeatures:\n"
                   "  - {name: a, datatype: FP32}\nonline: {}\n",
                   "online: learning online needs backend linear (this model's is 'trees')");
    expect_invalid(HEAD_BINARY "online: [1]\n", "online");
    expect_invalid(HEAD_BINARY "online: {rate: 1}\n", "rate");
    expect_invalid(HEAD_BINARY "online: {algo: adam}\n", "online.algo");
    expect_invalid(HEAD_REGRESSION "online: {algo: ftrl}\n",
                   "online.algo: ftrl is for logistic models");
    expect_invalid(HEAD_BINARY "online: {learning_rate: 0}\n",
                   "online.learning_rate: 0 is not above 0");
    expect_invalid(HEAD_BINARY "online: {learning_rate: fast}\n", "online.learning_rate");
    expect_invalid(HEAD_BINARY "online: {alpha: -1}\n", "online.alpha: -1 is not above 0");
    expect_invalid(HEAD_BINARY "online: {beta: -0.5}\n", "online.beta: -0.5 is not at least 0");
    expect_invalid(HEAD_BINARY "online: {l1: -1}\n", "online.l1");
    expect_invalid(HEAD_BINARY "online: {l2: -1}\n", "online.l2");
    expect_invalid(HEAD_BINARY "online: {clip: -1}\n", "online.clip");
    expect_invalid(HEAD_BINARY "online: {max_weight: -1}\n", "online.max_weight");
    expect_invalid(HEAD_BINARY "online: {window: 5}\n",
                   "online.window: 5 is not between 10 and 100000");
    expect_invalid(HEAD_BINARY "online: {snapshot_updates: -1}\n", "online.snapshot_updates");
    expect_invalid(HEAD_BINARY "online: {snapshot_s: 1.5}\n", "online.snapshot_s");
    expect_invalid(HEAD_BINARY "online: {fallback_margin: 2}\n",
                   "online.fallback_margin: 2 is above 1");
    expect_invalid(HEAD_BINARY "online: {algo: ftrl, beta: 0}\n", "online.beta: 0 with l2 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_bad_settings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
