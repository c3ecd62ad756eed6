/* SPDX-License-Identifier: MIT */
/*
 * test_dataq.c: data quality's figures (watch/dataq.c): counts added and
 * read back exactly (totals and windows of per-minute buckets), refusals
 * classified from serve/'s messages, the caps on features and labels, the
 * series of retired versions kept for a day and at most a count of them,
 * /metrics' families, and the named metrics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "watch/dataq.h"
#include "watch/metrics.h"

#include <math.h>
#include <string.h>

static const char *const fraud_features[] = {"amount", "hour", "merchant", "note"};
static const uint8_t fraud_kinds[] = {MD_DQ_RANGED, MD_DQ_RANGED, MD_DQ_CATEGORICAL, 0};
static const char *const fraud_labels[] = {"legit", "fraud"};

static struct md_dataq_shape fraud_shape(int64_t version)
{
    struct md_dataq_shape s = {
        .model = "fraud",
        .version = version,
        .features = fraud_features,
        .kinds = fraud_kinds,
        .n_features = 4,
        .labels = fraud_labels,
        .n_labels = 2,
        .regression = false,
    };
    return s;
}

/* The JSON of md_dataq_json, NUL-terminated (freed by the caller). */
static char *json_of(struct md_dataq *dq, const char *model, int64_t version, int64_t window_ms,
                     int64_t now_ms, int *rc)
{
    struct md_buf b;
    struct md_err err;
    size_t len;
    char *s;

    md_buf_init(&b, 1 << 20);
    *rc = md_dataq_json(dq, model, version, window_ms, now_ms, &b, &err);
    s = md_buf_detach(&b, &len);
    md_buf_release(&b);
    return s != NULL ? s : strdup("");
}

static bool contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        print_error("missing: %s\nin: %s\n", needle, hay);
        return false;
    }
    return true;
}

/* Two requests: one of 3 rows answered, one refused for an out-of-range amount. */
static void feed_two(struct md_dataq_version *v)
{
    struct md_dataq_update u;
    struct md_dataq_outputs o;
    size_t f;

    md_dataq_begin(v, &u);
    md_dataq_request(&u, 3);
    md_dataq_missing(&u, 3, 2);
    md_dataq_outputs_clear(v, &o);
    md_dataq_outputs_add(v, &o, 0, 0.02);
    md_dataq_outputs_add(v, &o, 0, 0.3);
    md_dataq_outputs_add(v, &o, 1, 0.97);
    md_dataq_predicted(&u, &o);

    md_dataq_begin(v, &u);
    md_dataq_request(&u, 1);
    md_dataq_out_of_range(&u, 0, 1);
    md_dataq_missing(&u, 3, 1);
    assert_int_equal(md_dataq_classify(v, "feature 'amount' row 0: -5 below min 0", false, &f),
                     MD_DQ_OUT_OF_RANGE);
    assert_int_equal(f, 0);
    md_dataq_rejected(&u, MD_DQ_OUT_OF_RANGE, f);
}

static void test_counts_and_json(void **state)
{
    struct md_dataq *dq = md_dataq_new();
    struct md_dataq_shape s = fraud_shape(2);
    struct md_dataq_version *v = md_dataq_attach(dq, &s);
    int64_t now;
    char *j;
    int rc;

    (void)state;
    feed_two(v);
    now = md_wall_ms(); /* after: the minutes counted are this one or the one before */
    j = json_of(dq, "fraud", 0, 0, now, &rc);
    assert_int_equal(rc, MD_OK);
    assert_true(contains(j, "\"version\":2,\"live\":true,\"requests\":2,\"rejected\":1,"
                            "\"rejected_rate\":0.5,\"rejected_by_reason\":{\"missing\":0,"
                            "\"out_of_range\":1,"));
    assert_true(contains(j, "\"rows\":4,\"features_tracked\":4,\"features_untracked\":0"));
    assert_true(contains(j, "{\"name\":\"amount\",\"missing\":0,\"missing_rate\":0,"
                            "\"out_of_range\":1,\"out_of_range_rate\":0.25,\"rejected\":"
                            "{\"out_of_range\":1}}"));
    assert_true(contains(j, "{\"name\":\"merchant\",\"missing\":0,\"missing_rate\":0,"
                            "\"unseen_categories\":0,\"unseen_category_rate\":0,\"rejected\":{}}"));
    assert_true(contains(j, "{\"name\":\"note\",\"missing\":3,\"missing_rate\":0.75,"
                            "\"rejected\":{}}"));
    assert_true(contains(j, "\"predictions\":{\"rows\":3,\"labels\":{\"legit\":2,\"fraud\":1},"
                            "\"rates\":{\"legit\":0.66666666666666663,"
                            "\"fraud\":0.33333333333333331},\"score\":{\"of\":\"P(fraud)\","
                            "\"mean\":0.42999999999999999"));
    assert_true(contains(j, "{\"le\":0.05,\"count\":1}"));
    assert_true(contains(j, "{\"le\":0.3,\"count\":1}"));
    assert_true(contains(j, "{\"le\":1,\"count\":1},{\"le\":\"+Inf\",\"count\":0}"));
    free(j);

    /* A window: this minute's bucket and the one before; a minute later, the next minute
     * alone holds nothing; an hour later, nothing; too long a window, refused. */
    j = json_of(dq, "fraud", 2, 120000, now, &rc);
    assert_int_equal(rc, MD_OK);
    assert_true(contains(j, "\"window_s\":120,"));
    assert_true(contains(j, "\"requests\":2,\"rejected\":1,"));
    assert_true(contains(j, "{\"name\":\"note\",\"missing\":3,\"missing_rate\":0.75}"));
    free(j);
    j = json_of(dq, "fraud", 2, 60000, now + 60000, &rc);
    assert_true(contains(j, "\"requests\":0,\"rejected\":0,\"rejected_rate\":null"));
    free(j);
    j = json_of(dq, "fraud", 2, 3600000, now + 3600000, &rc);
    assert_true(contains(j, "\"requests\":0,\"rejected\":0,\"rejected_rate\":null"));
    free(j);
    j = json_of(dq, "fraud", 2, 3600001, now, &rc);
    assert_int_equal(rc, MD_EINVAL);
    free(j);
    j = json_of(dq, "fraud", 3, 0, now, &rc);
    assert_int_equal(rc, MD_ENOTFOUND);
    free(j);
    md_dataq_detach(dq, v);
    md_dataq_free(dq);
}

static void test_classify(void **state)
{
    static const struct {
        const char *msg;
        bool decode;
        enum md_dataq_reason want;
        size_t feature;
    } cases[] = {
        {"feature 'hour' row 2: 3e+01 above max 23", false, MD_DQ_OUT_OF_RANGE, 1},
        {"feature 'amount' row 0: inf not allowed (allow_nan is false)", false, MD_DQ_OUT_OF_RANGE,
         0},
        {"feature 'amount': missing required feature", false, MD_DQ_MISSING, 0},
        {"feature 'hour' row 1: null value for required feature", false, MD_DQ_MISSING, 1},
        {"feature 'amount' row 0: NaN for required feature (allow_nan is false)", false,
         MD_DQ_MISSING, 0},
        {"feature 'merchant' row 0: unknown category 'casino' (allowed: a, b)", false,
         MD_DQ_UNKNOWN_CATEGORY, 2},
        {"feature 'hour' row 0: 2.5 is not an integer", false, MD_DQ_WRONG_TYPE, 1},
        {"feature 'hour': datatype FP32 does not match contract INT32", false, MD_DQ_WRONG_TYPE, 1},
        {"feature 'amount': expected shape [N] or [N, 1], got [2, 2]", false, MD_DQ_BAD_SHAPE, 0},
        {"feature 'hour': 2 rows, expected 3 as feature 'amount'", false, MD_DQ_BAD_SHAPE, 1},
        {"input 'bogus': unknown input; expected features amount, hour", false, MD_DQ_UNKNOWN_INPUT,
         SIZE_MAX},
        {"feature 'amount': duplicate input", false, MD_DQ_UNKNOWN_INPUT, 0},
        {"key 'txn': missing", false, MD_DQ_BAD_KEY, SIZE_MAX},
        {"request too large: 9 rows of 9 columns", false, MD_DQ_TOO_LARGE, SIZE_MAX},
        {"input 'amount' element 0: expected FP32, got string", true, MD_DQ_WRONG_TYPE, 0},
        {"input 'hour' element 0: 1e99 is out of range for INT32", true, MD_DQ_OUT_OF_RANGE, 1},
        {"input 'hour': data has 2 elements but shape [3] needs 3", true, MD_DQ_BAD_SHAPE, 1},
        {"inputs[0].datatype: missing", true, MD_DQ_MALFORMED, SIZE_MAX},
        {"request: expected a JSON object, got array", true, MD_DQ_MALFORMED, SIZE_MAX},
        {"instances[1]: unknown feature 'zip'", false, MD_DQ_UNKNOWN_INPUT, SIZE_MAX},
        {"instances[0] feature 'amount': not of expected type: float", false, MD_DQ_WRONG_TYPE, 0},
        {"instances[2] feature 'hour': not of expected type: int32", false, MD_DQ_WRONG_TYPE, 1},
        {"unexpected inference output 'x' for model 'fraud'", false, MD_DQ_OTHER, SIZE_MAX},
    };
    struct md_dataq *dq = md_dataq_new();
    struct md_dataq_shape s = fraud_shape(1);
    struct md_dataq_version *v = md_dataq_attach(dq, &s);
    size_t i;
    size_t f;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        enum md_dataq_reason r = md_dataq_classify(v, cases[i].msg, cases[i].decode, &f);

        if (r != cases[i].want || f != cases[i].feature)
            fail_msg("'%s': %s feature %zu, want %s feature %zu", cases[i].msg,
                     md_dataq_reason_name(r), f, md_dataq_reason_name(cases[i].want),
                     cases[i].feature);
    }
    assert_string_equal(md_dataq_reason_name(MD_DQ_UNKNOWN_CATEGORY), "unknown_category");
    md_dataq_detach(dq, v);
    md_dataq_free(dq);
}

/* 70 features, 40 labels: the ones past the caps are summed as "_other". */
static void test_caps(void **state)
{
    char names[70][8];
    const char *features[70];
    char lnames[40][8];
    const char *labels[40];
    struct md_dataq *dq = md_dataq_new();
    struct md_dataq_shape s = {.model = "wide",
                               .version = 1,
                               .features = features,
                               .n_features = 70,
                               .labels = labels,
                               .n_labels = 40};
    struct md_dataq_version *v;
    struct md_dataq_update u;
    struct md_dataq_outputs o;
    struct md_buf b;
    size_t i;
    size_t f;
    char *j;
    int rc;

    (void)state;
    for (i = 0; i < 70; i++) {
        snprintf(names[i], sizeof(names[i]), "f%zu", i);
        features[i] = names[i];
    }
    for (i = 0; i < 40; i++) {
        snprintf(lnames[i], sizeof(lnames[i]), "c%zu", i);
        labels[i] = lnames[i];
    }
    v = md_dataq_attach(dq, &s);
    md_dataq_begin(v, &u);
    md_dataq_request(&u, 2);
    md_dataq_missing(&u, 5, 1);
    md_dataq_missing(&u, 66, 2); /* past the cap */
    assert_int_equal(md_dataq_classify(v, "feature 'f68': missing required feature", false, &f),
                     MD_DQ_MISSING);
    assert_int_equal(f, MD_DATAQ_FEATURES);
    md_dataq_rejected(&u, MD_DQ_MISSING, f);
    md_dataq_outputs_clear(v, &o);
    md_dataq_outputs_add(v, &o, 39, 0.5);
    md_dataq_outputs_add(v, &o, 3, 0.5);
    md_dataq_predicted(&u, &o);
    j = json_of(dq, "wide", 1, 0, md_wall_ms(), &rc);
    assert_int_equal(rc, MD_OK);
    assert_true(contains(j, "\"features_tracked\":64,\"features_untracked\":6"));
    /* 6 features over 2 rows: 12 values, 2 missing */
    assert_true(contains(j, "{\"name\":\"_other\",\"features\":6,\"missing\":2,"
                            "\"missing_rate\":0.16666666666666666,\"rejected\":{\"missing\":1}}"));
    assert_true(contains(j, "\"c3\":1,"));
    assert_true(contains(j, "\"c31\":0,\"_other\":1}"));
    free(j);
    md_buf_init(&b, 1 << 22);
    md_dataq_prom(dq, &b);
    j = md_buf_detach(&b, &i);
    assert_true(contains(j, "modeld_data_missing_total{model=\"wide\",version=\"1\","
                            "feature=\"_other\"} 2\n"));
    assert_true(contains(j, "modeld_data_feature_rejected_total{model=\"wide\",version=\"1\","
                            "feature=\"_other\",reason=\"missing\"} 1\n"));
    assert_true(contains(j, "modeld_predicted_label_total{model=\"wide\",version=\"1\","
                            "label=\"_other\"} 1\n"));
    assert_null(strstr(j, "feature=\"f64\""));
    free(j);
    md_buf_release(&b);
    md_dataq_detach(dq, v);
    md_dataq_free(dq);
}

static void test_prom(void **state)
{
    static const char *const hf[] = {"sqft"};
    static const uint8_t hk[] = {MD_DQ_RANGED};
    struct md_dataq *dq = md_dataq_new();
    struct md_dataq_shape s = fraud_shape(2);
    struct md_dataq_shape h = {.model = "housing",
                               .version = 1,
                               .features = hf,
                               .kinds = hk,
                               .n_features = 1,
                               .regression = true};
    struct md_dataq_version *v = md_dataq_attach(dq, &s);
    struct md_dataq_version *hv = md_dataq_attach(dq, &h);
    struct md_dataq_update u;
    struct md_dataq_outputs o;
    struct md_buf b;
    size_t len;
    char *t;

    (void)state;
    feed_two(v);
    md_dataq_begin(hv, &u);
    md_dataq_request(&u, 2);
    md_dataq_outputs_clear(hv, &o);
    md_dataq_outputs_add(hv, &o, 0, 250.5);
    md_dataq_outputs_add(hv, &o, 0, -3);
    md_dataq_predicted(&u, &o);
    md_dataq_predicted_one(&u, 0, 12.0); /* a single-row request's way */
    md_buf_init(&b, 1 << 20);
    md_dataq_prom(dq, &b);
    t = md_buf_detach(&b, &len);
    assert_true(contains(t, "# TYPE modeld_data_missing_total counter\n"));
    assert_true(contains(t, "modeld_data_requests_total{model=\"fraud\",version=\"2\"} 2\n"));
    assert_true(contains(t, "modeld_data_rows_total{model=\"fraud\",version=\"2\"} 4\n"));
    assert_true(contains(t, "modeld_data_missing_total{model=\"fraud\",version=\"2\","
                            "feature=\"note\"} 3\n"));
    assert_true(contains(t, "modeld_data_out_of_range_total{model=\"fraud\",version=\"2\","
                            "feature=\"amount\"} 1\n"));
    /* out of range only for ranged features, unseen only for categorical ones */
    assert_null(strstr(t, "modeld_data_out_of_range_total{model=\"fraud\",version=\"2\","
                          "feature=\"note\"}"));
    assert_true(contains(t, "modeld_data_unseen_category_total{model=\"fraud\",version=\"2\","
                            "feature=\"merchant\"} 0\n"));
    assert_null(strstr(t, "modeld_data_unseen_category_total{model=\"fraud\",version=\"2\","
                          "feature=\"amount\"}"));
    assert_true(contains(t, "modeld_data_rejected_total{model=\"fraud\",version=\"2\","
                            "reason=\"out_of_range\"} 1\n"));
    assert_true(contains(t, "modeld_data_rejected_total{model=\"fraud\",version=\"2\","
                            "reason=\"malformed\"} 0\n"));
    assert_true(contains(t, "modeld_data_feature_rejected_total{model=\"fraud\",version=\"2\","
                            "feature=\"amount\",reason=\"out_of_range\"} 1\n"));
    assert_true(contains(t, "modeld_predicted_label_total{model=\"fraud\",version=\"2\","
                            "label=\"fraud\"} 1\n"));
    assert_true(contains(t, "modeld_prediction_score_bucket{model=\"fraud\",version=\"2\","
                            "le=\"0.3\"} 2\n"));
    assert_true(contains(t, "modeld_prediction_score_count{model=\"fraud\",version=\"2\"} 3\n"));
    /* a regression: decades of the value, no labels */
    assert_true(contains(t, "modeld_prediction_score_bucket{model=\"housing\",version=\"1\","
                            "le=\"-1\"} 1\n"));
    assert_true(contains(t, "modeld_prediction_score_bucket{model=\"housing\",version=\"1\","
                            "le=\"1000\"} 3\n"));
    assert_true(
        contains(t, "modeld_prediction_score_sum{model=\"housing\",version=\"1\"} 259.5\n"));
    assert_true(contains(t, "modeld_prediction_score_count{model=\"housing\",version=\"1\"} 3\n"));
    assert_null(strstr(t, "modeld_predicted_label_total{model=\"housing\""));
    free(t);
    md_buf_release(&b);
    md_dataq_detach(dq, v);
    md_dataq_detach(dq, hv);
    md_dataq_free(dq);
}

static void test_retired(void **state)
{
    static const char *const other[] = {"amount", "hour"};
    struct md_dataq *dq = md_dataq_new();
    struct md_dataq_shape s = fraud_shape(2);
    struct md_dataq_version *v = md_dataq_attach(dq, &s);
    struct md_dataq_version *again;
    int64_t now = md_wall_ms();
    int64_t k;
    char *j;
    int rc;

    (void)state;
    feed_two(v);
    /* A reload with the same shape counts on; detached, the series stay, not live. */
    again = md_dataq_attach(dq, &s);
    assert_ptr_equal(again, v);
    md_dataq_detach(dq, again);
    md_dataq_detach(dq, v);
    j = json_of(dq, "fraud", 2, 0, now, &rc);
    assert_int_equal(rc, MD_OK);
    assert_true(contains(j, "\"version\":2,\"live\":false,\"requests\":2,"));
    free(j);
    assert_true(md_dataq_has_model(dq, "fraud"));
    /* A day later they are gone. */
    j = json_of(dq, "fraud", 2, 0, now + MD_DATAQ_RETIRED_MS + 1000, &rc);
    assert_int_equal(rc, MD_ENOTFOUND);
    free(j);
    assert_false(md_dataq_has_model(dq, "fraud"));

    /* Forgotten (archived): gone at once when retired, else as soon as it is. */
    v = md_dataq_attach(dq, &s);
    md_dataq_forget(dq, "fraud", 2);
    assert_true(md_dataq_has_model(dq, "fraud"));
    md_dataq_detach(dq, v);
    assert_false(md_dataq_has_model(dq, "fraud"));
    v = md_dataq_attach(dq, &s);
    md_dataq_detach(dq, v);
    assert_true(md_dataq_has_model(dq, "fraud"));
    md_dataq_forget(dq, "fraud", 2);
    assert_false(md_dataq_has_model(dq, "fraud"));

    /* Other features for the same version: fresh figures, the old ones dropped once retired. */
    v = md_dataq_attach(dq, &s);
    feed_two(v);
    s.features = other;
    s.n_features = 2;
    again = md_dataq_attach(dq, &s);
    assert_ptr_not_equal(again, v);
    j = json_of(dq, "fraud", 2, 0, now, &rc);
    assert_true(contains(j, "\"requests\":0,"));
    assert_null(strstr(j, "\"requests\":2,"));
    free(j);
    md_dataq_detach(dq, v);
    md_dataq_detach(dq, again);

    /* At most MD_DATAQ_RETIRED_PER_MODEL retired versions per model, MD_DATAQ_RETIRED_MAX
     * in all: the longest retired go first. */
    s = fraud_shape(1);
    for (k = 1; k <= 10; k++) {
        s.version = 100 + k;
        md_dataq_detach(dq, md_dataq_attach(dq, &s));
    }
    for (k = 1; k <= 10; k++) {
        j = json_of(dq, "fraud", 100 + k, 0, md_wall_ms(), &rc);
        assert_int_equal(rc, k > 10 - MD_DATAQ_RETIRED_PER_MODEL ? MD_OK : MD_ENOTFOUND);
        free(j);
    }
    for (k = 0; k < MD_DATAQ_RETIRED_MAX + 6; k++) {
        char model[16];

        snprintf(model, sizeof(model), "m%lld", (long long)k);
        s.model = model;
        md_dataq_detach(dq, md_dataq_attach(dq, &s));
    }
    assert_false(md_dataq_has_model(dq, "fraud")); /* retired longest ago */
    assert_false(md_dataq_has_model(dq, "m1"));
    assert_true(md_dataq_has_model(dq, "m10"));
    assert_true(md_dataq_has_model(dq, "m69"));
    md_dataq_free(dq);
}

static void test_signals(void **state)
{
    struct md_dataq *dq = md_dataq_new();
    struct md_signals *sig = md_signals_new();
    struct md_dataq_shape s = fraud_shape(2);
    struct md_dataq_version *v = md_dataq_attach(dq, &s);
    struct md_dataq_version *v3;
    struct md_signal_query q = {.model = "fraud", .window_ms = 300000};
    struct md_signal_value val;
    struct md_err err;

    (void)state;
    assert_int_equal(md_dataq_signals(dq, sig, &err), MD_OK);
    feed_two(v);
    s.version = 3;
    v3 = md_dataq_attach(dq, &s);
    feed_two(v3);
    q.metric = "missing_rate:note";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(val.value == 0.75 && val.samples == 8); /* both versions */
    q.version = 3;
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(val.value == 0.75 && val.samples == 4);
    q.metric = "out_of_range_rate:amount";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(val.value == 0.25);
    q.metric = "rejected_rate";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(val.value == 0.5 && val.samples == 2);
    q.metric = "unseen_category_rate:merchant";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(val.value == 0 && val.samples == 2);
    q.metric = "predicted_rate:fraud";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(fabs(val.value - 1.0 / 3) < 1e-15 && val.samples == 3);
    q.metric = "score_mean";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(fabs(val.value - 0.43) < 1e-12);
    /* An hour later, nothing in a 5-minute window: NaN, no samples. */
    q.now_ms = md_wall_ms() + 3600000;
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_OK);
    assert_true(isnan(val.value) && val.samples == 0);
    q.now_ms = 0;
    q.metric = "missing_rate:zip";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'fraud' has no feature 'zip' that data quality tracks");
    q.metric = "predicted_rate:maybe";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_ENOTFOUND);
    q.metric = "rejected_rate";
    q.model = "nosuch";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_ENOTFOUND);
    q.model = "fraud";
    q.route = "canary";
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_EINVAL);
    assert_string_equal(err.msg, "route: data quality is kept per version, not per route");
    q.route = NULL;
    q.window_ms = 7200000;
    assert_int_equal(md_signals_value(sig, &q, &val, &err), MD_EINVAL);
    md_dataq_detach(dq, v);
    md_dataq_detach(dq, v3);
    md_signals_free(sig);
    md_dataq_free(dq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_json),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_prom),
        cmocka_unit_test(test_retired),
        cmocka_unit_test(test_signals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
