/* SPDX-License-Identifier: MIT */
/*
 * test_review.c: review queues. model.yaml's `review:` section (every key,
 * the defaults, each refusal naming its field); the queue in the store
 * (store/sqlite_review.c): items added with their prediction rows, bounded
 * by max_queue, taken under leases two reviewers never share, an expired
 * lease returning the item, a verdict becoming expert feedback with the
 * agreement recorded, the lease checked, listing and counts; the figures'
 * named metrics (watch/review.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "serve/contract.h"
#include "store/store.h"
#include "util/mem.h"
#include "watch/review.h"

#define HEAD                                                                                       \
    "backend: trees\ntask: classification\nlabels: [legit, fraud]\n"                               \
    "features: [{name: x, datatype: FP32, required: false}]\n"
#define HEAD3                                                                                      \
    "backend: trees\ntask: classification\nlabels: [a, b, c]\n"                                    \
    "features: [{name: x, datatype: FP32}]\n"
#define HEADR "backend: trees\ntask: regression\nfeatures: [{name: x, datatype: FP32}]\n"

static struct md_contract *parse_ok(const char *yaml)
{
    struct md_contract *c = NULL;
    struct md_err err = {0};

    if (md_contract_parse(yaml, strlen(yaml), "m", &c, &err) != MD_OK)
        fail_msg("parse failed: %s", err.msg);
    return c;
}

static void expect_invalid(const char *yaml, const char *want)
{
    struct md_contract *c = NULL;
    struct md_err err = {0};
    int rc = md_contract_parse(yaml, strlen(yaml), "m", &c, &err);

    if (rc != MD_EINVAL)
        fail_msg("expected MD_EINVAL for:\n%s\ngot %d (%s)", yaml, rc, err.msg);
    if (strstr(err.msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    assert_null(c);
}

static void test_rules(void **state)
{
    struct md_contract *c;
    const struct md_review_config *r;

    (void)state;
    c = parse_ok(HEAD);
    assert_false(c->review.present);
    assert_int_equal(c->review.lease_s, 300);
    assert_int_equal(c->review.max_queue, 10000);
    md_contract_free(c);

    c = parse_ok(HEAD "review:\n  rules:\n"
                      "    - {band: [0.4, 0.6], name: uncertain}\n"
                      "    - label: fraud\n"
                      "    - sample: 0.25\n"
                      "    - data_quality: true\n"
                      "  lease_s: 60\n  max_queue: 5\n");
    r = &c->review;
    assert_true(r->present);
    assert_int_equal(r->n_rules, 4);
    assert_int_equal(r->rules[0].kind, MD_REVIEW_BAND);
    assert_string_equal(r->rules[0].name, "uncertain");
    assert_true(r->rules[0].lo == 0.4 && r->rules[0].hi == 0.6);
    assert_int_equal(r->rules[1].kind, MD_REVIEW_LABEL);
    assert_string_equal(r->rules[1].label, "fraud");
    assert_string_equal(r->rules[1].name, "label");
    assert_int_equal(r->rules[2].kind, MD_REVIEW_SAMPLE);
    assert_true(r->rules[2].rate == 0.25);
    assert_int_equal(r->rules[3].kind, MD_REVIEW_DATA);
    assert_string_equal(r->rules[3].name, "data_quality");
    assert_int_equal(r->lease_s, 60);
    assert_int_equal(r->max_queue, 5);
    md_contract_free(c);

    c = parse_ok(HEADR "review:\n  rules: [{sample: 1}]\n");
    assert_int_equal(c->review.rules[0].kind, MD_REVIEW_SAMPLE);
    md_contract_free(c);
}

static void test_rules_refused(void **state)
{
    (void)state;
    expect_invalid(HEAD "review: {}\n", "review.rules: required");
    expect_invalid(HEAD "review: {rules: []}\n", "review.rules");
    expect_invalid(HEAD "review: {rules: [{band: [0.7, 0.2]}]}\n",
                   "review.rules[0].band: the lower bound 0.7 is above the upper bound 0.2");
    expect_invalid(HEAD "review: {rules: [{band: [0.1, 1.5]}]}\n",
                   "review.rules[0].band[1]: 1.5 is not a probability between 0 and 1");
    expect_invalid(HEAD "review: {rules: [{band: [0.1]}]}\n", "review.rules[0].band");
    expect_invalid(HEAD3 "review: {rules: [{band: [0.1, 0.2]}]}\n",
                   "review.rules[0].band: a probability band needs a binary classification");
    expect_invalid(HEADR "review: {rules: [{label: x}]}\n",
                   "review.rules[0].label: a label rule needs a classification model");
    expect_invalid(HEAD "review: {rules: [{label: spam}]}\n",
                   "review.rules[0].label: 'spam' is not among the model's labels");
    expect_invalid(HEAD "review: {rules: [{sample: 0}]}\n",
                   "review.rules[0].sample: 0 is not a share above 0 and at most 1");
    expect_invalid(HEAD "review: {rules: [{sample: 1.5}]}\n", "review.rules[0].sample");
    expect_invalid(HEAD "review: {rules: [{data_quality: false}]}\n",
                   "review.rules[0].data_quality: only true");
    expect_invalid(HEAD "review: {rules: [{label: fraud, sample: 0.1}]}\n",
                   "review.rules[0]: a rule is one of band, label, sample or data_quality (2");
    expect_invalid(HEAD "review: {rules: [{name: x}]}\n", "(0 given)");
    expect_invalid(HEAD "review: {rules: [{label: fraud, colour: red}]}\n", "colour");
    expect_invalid(HEAD "review: {rules: [{label: fraud, name: 'a b'}]}\n", "review.rules[0].name");
    expect_invalid(HEAD "review: {rules: [{label: fraud}], lease_s: 0}\n",
                   "review.lease_s: 0 is not between 1 and 86400");
    expect_invalid(HEAD "review: {rules: [{label: fraud}], max_queue: 0}\n",
                   "review.max_queue: 0 is not between 1 and 1000000");
    expect_invalid(HEAD "review: {rules: [{label: fraud}], wait: 1}\n", "wait");
}

/* ---- the store's queue ------------------------------------------------------ */

struct fx {
    char dir[64];
    struct md_store *s;
};

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));
    struct md_err err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/md-review-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];

    md_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* What a test job does, and what it saw. */
struct job {
    int what; /* 0 add rows, 1 next, 2 answer, 3 stats, 4 list */
    const char *reviewer;
    int64_t now_ms;
    int64_t lease_ms;
    struct md_store_review_verdict v;
    bool found;
    int64_t id;
    char lease[64];
    char state[16];
    int agrees;
    int outcomes;
    struct md_store_review_stats st;
    size_t listed;
    size_t rows;
    const char *reasons[8];
    uint64_t max;
};

static void on_item(void *ctx, const struct md_store_review_item *it)
{
    struct job *j = ctx;

    j->id = it->id;
    snprintf(j->lease, sizeof(j->lease), "%s", it->lease != NULL ? it->lease : "");
    snprintf(j->state, sizeof(j->state), "%s", it->state);
    j->agrees = it->agrees;
    j->listed++;
}

static void on_outcome(void *ctx, const struct md_store_outcome *o)
{
    struct job *j = ctx;

    j->outcomes += o->sign;
}

static void on_stats(void *ctx, const struct md_store_review_stats *s)
{
    struct job *j = ctx;

    if (strcmp(s->model, "m") == 0) {
        j->st = *s;
        j->st.model = NULL;
    }
}

static int run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct job *j = ctx;

    switch (j->what) {
    case 0: {
        struct md_store_prediction p[8];
        char ids[8][16];

        memset(p, 0, sizeof(p));
        for (size_t i = 0; i < j->rows; i++) {
            snprintf(ids[i], sizeof(ids[i]), "r%zu", i);
            p[i].request_id = ids[i];
            p[i].model = "m";
            p[i].version = 1;
            p[i].status = 200;
            p[i].label = i % 2 ? "fraud" : "legit";
            p[i].score = i % 2 ? 0.9 : 0.1;
            p[i].outputs = "{}";
            p[i].review = j->reasons[i];
            p[i].review_max = j->max;
        }
        return md_store_tx_predictions_add(tx, p, j->rows, err);
    }
    case 1:
        return md_store_tx_review_next(tx, "m", j->reviewer, j->lease_ms, j->now_ms, on_item, j,
                                       &j->found, err);
    case 2:
        return md_store_tx_review_answer(tx, &j->v, on_outcome, j, on_item, err);
    case 3:
        return md_store_tx_review_stats(tx, j->now_ms, on_stats, j, err);
    default:
        return md_store_tx_review_list(tx, "m", j->reviewer, j->now_ms, 0, 0, on_item, j, err);
    }
}

static int call(struct fx *f, struct job *j, struct md_err *err)
{
    return md_store_call(f->s, run, j, err);
}

static void test_queue(void **state)
{
    struct fx *f = *state;
    struct md_err err = {0};
    struct job add = {
        .what = 0, .rows = 5, .max = 3, .reasons = {"label", NULL, "band", "label", "sample"}};
    struct job a = {.what = 1, .reviewer = "alice", .now_ms = 1000, .lease_ms = 500};
    struct job b = {.what = 1, .reviewer = "bob", .now_ms = 1100, .lease_ms = 500};
    struct job c = {.what = 1, .reviewer = "carol", .now_ms = 1200, .lease_ms = 500};
    struct job ans = {.what = 2};
    struct job st = {.what = 3, .now_ms = 1300};
    struct job ls = {.what = 4, .reviewer = "done", .now_ms = 1300};
    char lease_a[64];

    /* Four rows sent to review, the queue holds three: the fourth dropped, counted. */
    assert_int_equal(call(f, &add, &err), MD_OK);
    assert_int_equal(md_store_review_dropped(), 1);

    /* Two reviewers, two items; the third takes the last; then none. */
    assert_int_equal(call(f, &a, &err), MD_OK);
    assert_true(a.found);
    assert_int_equal(a.id, 1);
    assert_string_equal(a.state, "leased");
    assert_int_equal(strlen(a.lease), 32);
    assert_int_equal(call(f, &b, &err), MD_OK);
    assert_int_equal(b.id, 2);
    assert_int_equal(call(f, &c, &err), MD_OK);
    assert_int_equal(c.id, 3);
    c.found = true;
    assert_int_equal(call(f, &c, &err), MD_OK);
    assert_false(c.found);

    /* Alice's lease runs out at 1500: at 1600 carol takes item 1 again, under a new lease. */
    snprintf(lease_a, sizeof(lease_a), "%s", a.lease);
    c.now_ms = 1600;
    assert_int_equal(call(f, &c, &err), MD_OK);
    assert_true(c.found);
    assert_int_equal(c.id, 1);
    assert_string_not_equal(c.lease, lease_a);

    /* Alice's old lease is refused; carol's answer is taken as expert feedback. */
    ans.v.id = 1;
    ans.v.lease = lease_a;
    ans.v.kind = MD_FEEDBACK_LABEL;
    ans.v.label = "fraud";
    ans.v.now_ms = 1700;
    assert_int_equal(call(f, &ans, &err), MD_ECONFLICT);
    assert_non_null(strstr(err.msg, "lease: another lease holds review item 1"));
    ans.v.lease = c.lease;
    assert_int_equal(call(f, &ans, &err), MD_OK);
    assert_string_equal(ans.state, "done");
    assert_int_equal(ans.agrees, 0); /* row 0 was predicted legit */
    assert_int_equal(ans.outcomes, 1);
    assert_int_equal(call(f, &ans, &err), MD_ECONFLICT);
    assert_non_null(strstr(err.msg, "answered already"));
    ans.v.id = 99;
    assert_int_equal(call(f, &ans, &err), MD_ENOTFOUND);

    /* Item 2 (bob's, row 2 predicted legit) answered legit: agrees. */
    ans.v.id = 2;
    ans.v.lease = b.lease;
    ans.v.label = "legit";
    ans.v.now_ms = 1400;
    assert_int_equal(call(f, &ans, &err), MD_OK);
    assert_int_equal(ans.agrees, 1);

    st.now_ms = 1450;
    assert_int_equal(call(f, &st, &err), MD_OK);
    assert_int_equal(st.st.waiting, 0);
    assert_int_equal(st.st.leased, 1); /* item 3, carol's, until 1700 */
    assert_int_equal(st.st.answered, 2);
    assert_int_equal(st.st.judged, 2);
    assert_int_equal(st.st.agreed, 1);
    assert_true(st.st.oldest_ms > 0);
    st.now_ms = 5000;
    assert_int_equal(call(f, &st, &err), MD_OK);
    assert_int_equal(st.st.waiting, 1);
    assert_int_equal(st.st.leased, 0);

    assert_int_equal(call(f, &ls, &err), MD_OK);
    assert_int_equal(ls.listed, 2);
}

static void test_signals(void **state)
{
    struct md_review_stats *s = md_review_stats_new(NULL);
    struct md_signals *sig = md_signals_new();
    struct md_review_figures fig = {
        .waiting = 3, .leased = 1, .oldest_ms = 10000, .answered = 4, .judged = 4, .agreed = 3};
    struct md_signal_query q = {.model = "m", .window_ms = 60000, .now_ms = 25000};
    struct md_signal_value v;
    struct md_err err;
    struct md_buf b;

    (void)state;
    assert_int_equal(md_review_stats_signals(s, sig, &err), MD_OK);
    q.metric = "review_queue_length";
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(v.value == 0); /* nothing counted yet */
    md_review_stats_set(s, "m", &fig);
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(v.value == 4);
    q.metric = "review_queue_age_s";
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(v.value == 15);
    q.metric = "review_agreement";
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(v.value == 0.75 && v.samples == 4);
    q.model = "other";
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(isnan(v.value) && v.samples == 0);
    md_buf_init(&b, 1 << 20);
    md_review_stats_prom(s, &b);
    assert_int_equal(md_buf_putc(&b, '\0'), MD_OK);
    assert_non_null(strstr(b.data, "modeld_review_queue_length{model=\"m\"} 4\n"));
    assert_non_null(strstr(b.data, "modeld_review_agreement{model=\"m\"} 0.750000\n"));
    md_buf_release(&b);
    md_signals_free(sig);
    md_review_stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_rules_refused),
        cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
        cmocka_unit_test(test_signals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
