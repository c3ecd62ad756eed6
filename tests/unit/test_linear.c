/* SPDX-License-Identifier: MIT */
/*
 * test_linear.c: the linear engine (backend/linear.c): each kind predicts
 * values computed here independently, standardisation, missing values, every
 * load-time validation error, engine options, online learning and predict
 * racing learn.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backend/linear_int.h"
#include "backend/registry.h"
#include "util/common.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOL 1e-6

static int load_str(const char *json, const struct md_backend_config *cfg, void **inst,
                    struct md_err *err)
{
    md_err_clear(err);
    return md_linear__load_buffer(json, strlen(json), cfg, inst, err);
}

static void *must_load(const char *json, const struct md_backend_config *cfg)
{
    struct md_err err;
    void *inst = NULL;
    int rc = load_str(json, cfg, &inst, &err);

    if (rc != MD_OK)
        fail_msg("load failed (%d): %s", rc, err.msg);
    assert_non_null(inst);
    return inst;
}

static double ref_sigmoid(double s)
{
    return 1.0 / (1.0 + exp(-s));
}

/* ------------------------------------------------------------------------ */

static const char *linear_json = "{\"format\": \"modeld-linear\", \"format_version\": 1,"
                                 " \"kind\": \"linear\", \"feature_names\": [\"a\", \"b\", \"c\"],"
                                 " \"weights\": [0.5, -2, 3.25], \"intercept\": 10}";

static void test_registry_lists_linear(void **state)
{
    (void)state;
    assert_ptr_equal(md_backend_find("linear"), &md_backend_linear);
    assert_int_equal(md_backend_linear.abi, MD_BACKEND_ABI);
    assert_string_equal(md_backend_linear.name, "linear");
    assert_non_null(md_backend_linear.learn);
    assert_non_null(md_backend_linear.learn_config);
    assert_non_null(md_backend_linear.save);
    assert_non_null(md_backend_linear.assign);
    assert_non_null(md_backend_linear.explain);
}

static void test_linear_predict(void **state)
{
    float x[] = {1, 2, 3, 0, 0, 0, -4.5f, 0.25f, 100};
    float out[3];
    struct md_err err;
    void *inst = must_load(linear_json, NULL);
    size_t r;

    (void)state;
    assert_int_equal(md_backend_linear.predict(inst, x, 3, out, &err), MD_OK);
    for (r = 0; r < 3; r++) {
        double want = 10 + 0.5 * x[3 * r] - 2 * x[3 * r + 1] + 3.25 * x[3 * r + 2];

        assert_float_equal(out[r], want, 1e-4);
    }
    assert_float_equal(out[0], 10 + 0.5 - 4 + 9.75, 1e-6);
    /* zero rows is fine and writes nothing */
    assert_int_equal(md_backend_linear.predict(inst, x, 0, out, &err), MD_OK);
    md_backend_linear.free(inst);
}

static void test_describe(void **state)
{
    struct md_backend_desc d;
    void *inst = must_load(linear_json, NULL);

    (void)state;
    memset(&d, 0, sizeof(d));
    md_backend_linear.describe(inst, &d);
    assert_int_equal(d.n_features, 3);
    assert_int_equal(d.n_outputs, 1);
    assert_int_equal(d.kind, MD_BACKEND_OUT_VALUE);
    assert_non_null(d.feature_names);
    assert_string_equal(d.feature_names[0], "a");
    assert_string_equal(d.feature_names[2], "c");
    assert_string_equal(d.objective, "linear:regression");
    md_backend_linear.free(inst);
}

static const char *logistic_json =
    "{\"format\": \"modeld-linear\", \"format_version\": 1, \"kind\": \"logistic\","
    " \"feature_names\": [\"tenure\", \"charges\"], \"weights\": [-1.5, 0.75],"
    " \"intercept\": -0.2, \"classes\": 2,"
    " \"standardize\": {\"mean\": [20, 70], \"scale\": [10, 25]},"
    " \"metadata\": {\"trained_by\": \"a test\", \"n\": 3}}";

static double logistic_ref(double tenure, double charges)
{
    double z0 = (tenure - 20) / 10;
    double z1 = (charges - 70) / 25;

    return ref_sigmoid(-0.2 - 1.5 * z0 + 0.75 * z1);
}

static void test_logistic_standardized(void **state)
{
    float x[] = {5, 100, 40, 30, 20, 70, 0, 1000};
    float out[4];
    struct md_backend_desc d;
    struct md_err err;
    void *inst = must_load(logistic_json, NULL);
    size_t r;

    (void)state;
    md_backend_linear.describe(inst, &d);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITY);
    assert_int_equal(d.n_outputs, 1);
    assert_string_equal(d.objective, "linear:logistic");
    assert_int_equal(md_backend_linear.predict(inst, x, 4, out, &err), MD_OK);
    for (r = 0; r < 4; r++)
        assert_float_equal(out[r], logistic_ref(x[2 * r], x[2 * r + 1]), TOL);
    /* at the means the score is the intercept */
    assert_float_equal(out[2], ref_sigmoid(-0.2), TOL);
    /* a large score saturates without overflow */
    assert_true(out[3] > 0.999f && out[3] <= 1.0f);
    md_backend_linear.free(inst);
}

static void test_logistic_extreme_scores(void **state)
{
    const char *json = "{\"format\": \"modeld-linear\", \"format_version\": 1,"
                       " \"kind\": \"logistic\", \"feature_names\": [\"x\"],"
                       " \"weights\": [1]}";
    float x[] = {-1000, 1000, 0};
    float out[3];
    struct md_err err;
    void *inst = must_load(json, NULL);

    (void)state;
    assert_int_equal(md_backend_linear.predict(inst, x, 3, out, &err), MD_OK);
    assert_float_equal(out[0], 0.0, 1e-30);
    assert_float_equal(out[1], 1.0, 0);
    assert_float_equal(out[2], 0.5, 0); /* intercept defaults to 0 */
    md_backend_linear.free(inst);
}

static const char *multi_json =
    "{\"format\": \"modeld-linear\", \"format_version\": 1, \"kind\": \"multinomial\","
    " \"feature_names\": [\"f0\", \"f1\"], \"classes\": 3,"
    " \"weights\": [[1, 0], [0, 1], [-1, -1]], \"intercept\": [0.1, 0.2, 0.3]}";

static void ref_softmax3(double f0, double f1, double p[3])
{
    double s[3] = {0.1 + f0, 0.2 + f1, 0.3 - f0 - f1};
    double sum = exp(s[0]) + exp(s[1]) + exp(s[2]);
    int k;

    for (k = 0; k < 3; k++)
        p[k] = exp(s[k]) / sum;
}

static void test_multinomial_predict(void **state)
{
    float x[] = {0, 0, 1, 2, -3, 0.5f, 2.5f, -1};
    float out[12];
    struct md_backend_desc d;
    struct md_err err;
    void *inst = must_load(multi_json, NULL);
    size_t r;
    size_t k;

    (void)state;
    md_backend_linear.describe(inst, &d);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITIES);
    assert_int_equal(d.n_outputs, 3);
    assert_int_equal(d.n_features, 2);
    assert_string_equal(d.objective, "linear:multinomial");
    assert_int_equal(md_backend_linear.predict(inst, x, 4, out, &err), MD_OK);
    for (r = 0; r < 4; r++) {
        double p[3];

        ref_softmax3(x[2 * r], x[2 * r + 1], p);
        for (k = 0; k < 3; k++)
            assert_float_equal(out[3 * r + k], p[k], TOL);
    }
    md_backend_linear.free(inst);
}

static void test_multinomial_stable(void **state)
{
    /* scores near 1e4 overflow a naive exp; the stable softmax gives a clean answer */
    float x[] = {10000, 9999};
    float out[3];
    struct md_err err;
    void *inst = must_load(multi_json, NULL);
    double e = exp(-0.9); /* class 1 trails class 0 by 0.9 (10000.1 vs 9999.2) */

    (void)state;
    assert_int_equal(md_backend_linear.predict(inst, x, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 1 / (1 + e), 1e-5);
    assert_float_equal(out[1], e / (1 + e), 1e-5);
    assert_float_equal(out[2], 0, 1e-30);
    md_backend_linear.free(inst);
}

/* More classes than predict keeps on its stack. */
static void test_multinomial_many_classes(void **state)
{
    char json[8192];
    size_t len;
    float x[2] = {0.5f, -1};
    float out[40];
    double s[40];
    double sum = 0;
    struct md_err err;
    void *inst;
    int k;

    (void)state;
    len = (size_t)snprintf(json, sizeof(json),
                           "{\"format\": \"modeld-linear\", \"format_version\": 1,"
                           " \"kind\": \"multinomial\", \"feature_names\": [\"u\", \"v\"],"
                           " \"weights\": [");
    for (k = 0; k < 40; k++) {
        len += (size_t)snprintf(json + len, sizeof(json) - len, "%s[%d, %g]", k ? ", " : "", k % 7,
                                0.1 * k);
        s[k] = (k % 7) * 0.5 + 0.1 * k * -1;
        sum += exp(s[k]);
    }
    snprintf(json + len, sizeof(json) - len, "]}");
    inst = must_load(json, NULL);
    assert_int_equal(md_backend_linear.predict(inst, x, 1, out, &err), MD_OK);
    for (k = 0; k < 40; k++)
        assert_float_equal(out[k], exp(s[k]) / sum, TOL);
    md_backend_linear.free(inst);
}

static void test_missing_values(void **state)
{
    float nan_row[] = {NAN, NAN};
    float mean_row[] = {20, 70};
    float part_nan[] = {5, NAN};
    float part_mean[] = {5, 70};
    float out[2];
    float lin_nan[] = {NAN, 2, NAN};
    float lin_zero[] = {0, 2, 0};
    struct md_err err;
    void *inst = must_load(logistic_json, NULL);

    (void)state;
    /* with standardisation a missing value is the mean */
    assert_int_equal(md_backend_linear.predict(inst, nan_row, 1, &out[0], &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, mean_row, 1, &out[1], &err), MD_OK);
    assert_float_equal(out[0], out[1], 0);
    assert_float_equal(out[0], ref_sigmoid(-0.2), TOL);
    assert_int_equal(md_backend_linear.predict(inst, part_nan, 1, &out[0], &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, part_mean, 1, &out[1], &err), MD_OK);
    assert_float_equal(out[0], out[1], 0);
    md_backend_linear.free(inst);

    /* without standardisation a missing value is 0 */
    inst = must_load(linear_json, NULL);
    assert_int_equal(md_backend_linear.predict(inst, lin_nan, 1, &out[0], &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, lin_zero, 1, &out[1], &err), MD_OK);
    assert_float_equal(out[0], out[1], 0);
    assert_float_equal(out[0], 6, 0);
    md_backend_linear.free(inst);
}

static void test_predict_rejects_bad_values(void **state)
{
    const char *big = "{\"format\": \"modeld-linear\", \"format_version\": 1,"
                      " \"kind\": \"linear\", \"feature_names\": [\"x\"], \"weights\": [1e300]}";
    float inf_row[] = {1, INFINITY, 0};
    float huge[] = {1e30f};
    float one[] = {1};
    float out[1];
    struct md_err err;
    void *inst = must_load(linear_json, NULL);

    (void)state;
    md_err_clear(&err);
    assert_int_equal(md_backend_linear.predict(inst, inf_row, 1, out, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "column 1 ('b'): infinite value"));
    md_backend_linear.free(inst);

    inst = must_load(big, NULL);
    md_err_clear(&err);
    assert_int_equal(md_backend_linear.predict(inst, huge, 1, out, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "score is not finite"));
    md_err_clear(&err);
    assert_int_equal(md_backend_linear.predict(inst, one, 1, out, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "out of FP32 range"));
    md_backend_linear.free(inst);
}

/* ------------------------------------------------------------------------ */
/* Load-time validation                                                      */
/* ------------------------------------------------------------------------ */

struct bad_case {
    const char *json;
    int code;
    const char *msg; /* substring of the message */
};

#define HDR "\"format\": \"modeld-linear\", \"format_version\": 1, "

static const struct bad_case bad_cases[] = {
    {"", MD_ECORRUPT, "invalid JSON"},
    {"{\"format\": ", MD_ECORRUPT, "invalid JSON at line 1"},
    {"[1, 2]", MD_ECORRUPT, "expected a JSON object"},
    {"{\"learner\": {}}", MD_EUNSUPPORTED, "format: missing"},
    {"{\"format\": \"xgboost\"}", MD_EUNSUPPORTED, "format: 'xgboost' is not 'modeld-linear'"},
    {"{\"format\": 7}", MD_EUNSUPPORTED, "format: '(not a string)'"},
    {"{\"format\": \"modeld-linear\"}", MD_ECORRUPT, "format_version: missing"},
    {"{\"format\": \"modeld-linear\", \"format_version\": \"1\"}", MD_ECORRUPT,
     "format_version: expected an integer"},
    {"{\"format\": \"modeld-linear\", \"format_version\": 2}", MD_EUNSUPPORTED,
     "format_version: 2 is not supported"},
    {"{" HDR "\"feature_names\": [\"a\"]}", MD_ECORRUPT, "kind: missing"},
    {"{" HDR "\"kind\": 3}", MD_ECORRUPT, "kind: expected a string"},
    {"{" HDR "\"kind\": \"poisson\"}", MD_EUNSUPPORTED,
     "kind: 'poisson' is not one of linear, logistic, multinomial"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1], \"bias\": 0}",
     MD_ECORRUPT, "'bias': unknown key"},
    {"{" HDR "\"kind\": \"linear\", \"weights\": [1]}", MD_ECORRUPT, "feature_names: missing"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [], \"weights\": []}", MD_ECORRUPT,
     "feature_names: expected a non-empty array"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", 3], \"weights\": [1, 2]}",
     MD_ECORRUPT, "feature_names[1]: expected a non-empty string"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"\"], \"weights\": [1, 2]}",
     MD_ECORRUPT, "feature_names[1]: expected a non-empty string"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\", \"a\"], \"weights\": [1, 2, "
     "3]}",
     MD_ECORRUPT, "feature_names: 'a' appears more than once"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\\u0000b\"], \"weights\": [1]}",
     MD_ECORRUPT, "invalid JSON"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"]}", MD_ECORRUPT,
     "weights: missing"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"], \"weights\": [1]}",
     MD_ECORRUPT, "weights: 1 values for 2 feature_names"},
    {"{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"a\"], \"weights\": 1}", MD_ECORRUPT,
     "weights: expected an array of 1 numbers"},
    {"{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"a\", \"b\"], \"weights\": [1, null]}",
     MD_ECORRUPT, "weights[1]: expected a number"},
    {"{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"a\"], \"weights\": [1e999]}",
     MD_ECORRUPT, "invalid JSON"},
    {"{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"intercept\": [0]}",
     MD_ECORRUPT, "intercept: expected a number for kind 'logistic'"},
    {"{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"classes\": 3}",
     MD_ECORRUPT, "classes: 3, but the weights give 2"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1], \"classes\": 2}",
     MD_ECORRUPT, "classes: not allowed for kind 'linear'"},
    {"{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\"], \"weights\": [[1]]}",
     MD_ECORRUPT, "weights: expected an array of at least 2 class rows"},
    {"{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\"], \"weights\": [1, 2]}",
     MD_ECORRUPT, "weights[0]: expected an array of 1 numbers"},
    {"{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\", \"b\"],"
     " \"weights\": [[1, 2], [3]]}",
     MD_ECORRUPT, "weights[1]: 1 values for 2 feature_names"},
    {"{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\"], \"weights\": [[1], [2]],"
     " \"intercept\": [0, 1, 2]}",
     MD_ECORRUPT, "intercept: 3 values for 2 classes"},
    {"{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\"], \"weights\": [[1], [2]],"
     " \"intercept\": 0}",
     MD_ECORRUPT, "intercept: expected an array of 2 numbers"},
    {"{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\"], \"weights\": [[1], [2]],"
     " \"classes\": 3}",
     MD_ECORRUPT, "classes: 3, but the weights give 2"},
    {"{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\"], \"weights\": [[1], [2]],"
     " \"classes\": \"2\"}",
     MD_ECORRUPT, "classes: expected an integer"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"standardize\": [1]}",
     MD_ECORRUPT, "standardize: expected an object"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"standardize\": {\"mean\": [0]}}",
     MD_ECORRUPT, "standardize.scale: missing"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"standardize\": {\"scale\": [1]}}",
     MD_ECORRUPT, "standardize.mean: missing"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"standardize\": {\"mean\": [0], \"scale\": [1], \"var\": [1]}}",
     MD_ECORRUPT, "standardize.'var': unknown key"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"], \"weights\": [1, 2],"
     " \"standardize\": {\"mean\": [0], \"scale\": [1, 1]}}",
     MD_ECORRUPT, "standardize.mean: 1 values for 2 feature_names"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"], \"weights\": [1, 2],"
     " \"standardize\": {\"mean\": [0, 0], \"scale\": [1, 0]}}",
     MD_ECORRUPT, "standardize.scale[1]: 0 is not positive"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"], \"weights\": [1, 2],"
     " \"standardize\": {\"mean\": [0, 0], \"scale\": [-2, 1]}}",
     MD_ECORRUPT, "standardize.scale[0]: -2 is not positive"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"metadata\": [1]}",
     MD_ECORRUPT, "metadata: expected an object"},
    {"{" HDR "\"kind\": \"linear\", \"kind\": \"linear\"}", MD_ECORRUPT, "duplicate object key"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"], \"weights\": [1, 2],"
     " \"impute\": [1]}",
     MD_ECORRUPT, "impute: 1 values for 2 feature_names"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"impute\": {\"a\": 1}}",
     MD_ECORRUPT, "impute: expected an array of 1 numbers or nulls"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"], \"weights\": [1, 2],"
     " \"impute\": [1, \"median\"]}",
     MD_ECORRUPT, "impute[1]: expected a number or null"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"impute\": [1e999]}",
     MD_ECORRUPT, "invalid JSON"},
    {"{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"], \"weights\": [1],"
     " \"standardize\": {\"mean\": [0], \"scale\": [1e-300]}, \"impute\": [1e300]}",
     MD_ECORRUPT, "impute[0]: 1e+300 is too large to standardise"},
};

static void test_validation_errors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(bad_cases); i++) {
        struct md_err err;
        void *inst = (void *)1;
        int rc = load_str(bad_cases[i].json, NULL, &inst, &err);

        if (rc != bad_cases[i].code || strstr(err.msg, bad_cases[i].msg) == NULL)
            fail_msg("case %zu (%s): got %d '%s', want %d '%s'", i, bad_cases[i].json, rc, err.msg,
                     bad_cases[i].code, bad_cases[i].msg);
        assert_int_equal(err.code, rc);
        assert_null(inst);
    }
}

/*
 * impute: a missing cell takes the artifact's fill value before
 * standardisation (a median, not the mean the scaler learned), null refuses
 * it, and without standardisation the fill is used as is.
 */
static void test_impute(void **state)
{
    const char *json = "{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"tenure\","
                       " \"charges\", \"plan\"], \"weights\": [-1.5, 0.75, 2], \"intercept\": -0.2,"
                       " \"standardize\": {\"mean\": [20, 70, 0], \"scale\": [10, 25, 1]},"
                       " \"impute\": [12.5, null, 1]}";
    const char *plain = "{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\", \"b\"],"
                        " \"weights\": [2, 3], \"intercept\": 1, \"impute\": [-4, null]}";
    const char *nulls = "{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"],"
                        " \"weights\": [2], \"impute\": null}";
    float miss[] = {NAN, 95, NAN};
    float sent[] = {12.5f, 95, 1};
    float no_fill[] = {30, NAN, 0};
    float pmiss[] = {NAN, 1};
    float pnan[] = {1, NAN};
    float out[2];
    struct md_err err;
    void *inst = must_load(json, NULL);

    (void)state;
    assert_int_equal(md_backend_linear.predict(inst, miss, 1, &out[0], &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, sent, 1, &out[1], &err), MD_OK);
    assert_float_equal(out[0], out[1], 0);
    assert_float_equal(out[0], ref_sigmoid(-0.2 - 1.5 * (12.5 - 20) / 10 + 0.75 + 2), TOL);
    md_err_clear(&err);
    assert_int_equal(md_backend_linear.predict(inst, no_fill, 1, out, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "row 0, column 1 ('charges'): missing value, and the model "
                                    "has no fill for it"));
    md_backend_linear.free(inst);

    inst = must_load(plain, NULL);
    assert_int_equal(md_backend_linear.predict(inst, pmiss, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 1 + 2 * -4 + 3, 0);
    md_err_clear(&err);
    assert_int_equal(md_backend_linear.predict(inst, pnan, 1, out, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "column 1 ('b'): missing value"));
    md_backend_linear.free(inst);

    /* impute: null is no impute: a missing cell is 0 */
    inst = must_load(nulls, NULL);
    assert_int_equal(md_backend_linear.predict(inst, pmiss, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 0, 0);
    md_backend_linear.free(inst);
}

/* Non-finite numbers cannot be spelled in JSON, but jansson's number path is still checked. */
static void test_non_finite_weight_rejected(void **state)
{
    /* 1.8e308 overflows a double: jansson refuses it before we see it */
    const char *json = "{" HDR "\"kind\": \"linear\", \"feature_names\": [\"a\"],"
                       " \"weights\": [1.8e308]}";
    struct md_err err;
    void *inst = NULL;

    (void)state;
    assert_int_equal(load_str(json, NULL, &inst, &err), MD_ECORRUPT);
    assert_null(inst);
}

static void test_options(void **state)
{
    struct md_kv ok[] = {{"learning_rate", "0.5"}};
    struct md_kv unknown[] = {{"nthread", "1"}};
    struct md_kv bad[] = {{"learning_rate", "fast"}};
    struct md_kv neg[] = {{"learning_rate", "-1"}};
    struct md_kv empty[] = {{"learning_rate", ""}};
    struct md_backend_config cfg = {ok, 1};
    struct md_err err;
    void *inst = NULL;

    (void)state;
    inst = must_load(linear_json, &cfg);
    md_backend_linear.free(inst);

    cfg.options = unknown;
    assert_int_equal(load_str(linear_json, &cfg, &inst, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "engine option 'nthread': unknown"));
    assert_null(inst);
    cfg.options = bad;
    assert_int_equal(load_str(linear_json, &cfg, &inst, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "'learning_rate': 'fast' is not a positive number"));
    cfg.options = neg;
    assert_int_equal(load_str(linear_json, &cfg, &inst, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "'-1' is not a positive number"));
    cfg.options = empty;
    assert_int_equal(load_str(linear_json, &cfg, &inst, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "empty value"));
}

/* ------------------------------------------------------------------------ */
/* Loading from a file                                                       */
/* ------------------------------------------------------------------------ */

static void test_load_file(void **state)
{
    char dir[] = "/tmp/md-test-linear-XXXXXX";
    char path[128];
    char missing[160];
    struct md_err err;
    void *inst = NULL;
    float x[] = {1, 2, 3};
    float out[1];
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/model.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(linear_json, f);
    fclose(f);

    md_err_clear(&err);
    assert_int_equal(md_backend_linear.load(path, NULL, &inst, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, x, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 16.25, 1e-6);
    md_backend_linear.free(inst);

    snprintf(missing, sizeof(missing), "%s/nope.json", dir);
    assert_int_equal(md_backend_linear.load(missing, NULL, &inst, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_non_null(strstr(err.msg, "nope.json"));
    assert_null(inst);
    assert_int_equal(md_backend_linear.load(dir, NULL, &inst, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "not a regular file"));

    /* a truncated file is corrupt, not unreadable */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\": \"modeld-linear\", \"format_ver", f);
    fclose(f);
    assert_int_equal(md_backend_linear.load(path, NULL, &inst, &err), MD_ECORRUPT);
    assert_null(inst);

    unlink(path);
    rmdir(dir);
}

/* A pickle (a scikit-learn model as joblib or pickle saves it) is never loaded. */
static void test_pickle_refused(void **state)
{
    char dir[] = "/tmp/md-test-linear-XXXXXX";
    char path[128];
    struct md_err err;
    void *inst = NULL;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/model.json", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("\x80\x04\x95\x10", f);
    fclose(f);
    assert_int_equal(md_backend_linear.load(path, NULL, &inst, &err), MD_EUNSUPPORTED);
    assert_null(inst);
    assert_non_null(strstr(err.msg, "'model.json' is a Python pickle: pickles are never loaded "
                                    "(loading one runs code); write modeld's linear artifact"));
    unlink(path);
    rmdir(dir);
}

/* ------------------------------------------------------------------------ */
/* Online learning                                                           */
/* ------------------------------------------------------------------------ */

/* Two blobs, separable by the sign of x0 + x1. */
#define TOY_N 40
static void toy_set(float *x, float *y)
{
    size_t i;

    for (i = 0; i < TOY_N; i++) {
        float t = (float)(i % 10) / 10.0f;
        bool pos = i % 2 == 1;

        x[2 * i] = pos ? 1.0f + t : -1.0f - t;
        x[2 * i + 1] = pos ? 0.5f - t * 0.3f : -0.5f + t * 0.3f;
        y[i] = pos ? 1.0f : 0.0f;
    }
}

static double log_loss(void *inst, const float *x, const float *y, size_t n)
{
    float p[TOY_N];
    struct md_err err;
    double loss = 0;
    size_t i;

    assert_int_equal(md_backend_linear.predict(inst, x, n, p, &err), MD_OK);
    for (i = 0; i < n; i++) {
        double q = y[i] > 0.5f ? p[i] : 1 - p[i];

        loss -= log(q > 1e-12 ? q : 1e-12);
    }
    return loss / (double)n;
}

static void test_learn_logistic(void **state)
{
    const char *json = "{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"x0\", \"x1\"],"
                       " \"weights\": [0, 0], \"intercept\": 0}";
    struct md_kv opt[] = {{"learning_rate", "0.1"}};
    struct md_backend_config cfg = {opt, 1};
    float x[2 * TOY_N];
    float y[TOY_N];
    float p[TOY_N];
    struct md_err err;
    double before;
    double after;
    void *inst = must_load(json, &cfg);
    int epoch;
    int i;

    (void)state;
    toy_set(x, y);
    before = log_loss(inst, x, y, TOY_N);
    assert_float_equal(before, log(2.0), 1e-6);
    for (epoch = 0; epoch < 20; epoch++)
        assert_int_equal(md_backend_linear.learn(inst, x, y, TOY_N, &err), MD_OK);
    after = log_loss(inst, x, y, TOY_N);
    assert_true(after < before / 4);
    assert_int_equal(md_linear__rows_learned(inst), 20 * TOY_N);
    /* separable: every row is now on its side */
    assert_int_equal(md_backend_linear.predict(inst, x, TOY_N, p, &err), MD_OK);
    for (i = 0; i < TOY_N; i++)
        assert_true((p[i] > 0.5f) == (y[i] > 0.5f));
    md_backend_linear.free(inst);
}

static void test_learn_linear(void **state)
{
    /* y = 2 x0 - x1 + 1, with standardisation and a missing cell or two */
    const char *json = "{" HDR "\"kind\": \"linear\", \"feature_names\": [\"x0\", \"x1\"],"
                       " \"weights\": [0, 0], \"standardize\": {\"mean\": [0, 0],"
                       " \"scale\": [1, 1]}}";
    struct md_kv opt[] = {{"learning_rate", "0.05"}};
    struct md_backend_config cfg = {opt, 1};
    float x[2 * 20];
    float y[20];
    float probe[] = {1, 1, NAN, 0};
    float out[2];
    struct md_err err;
    void *inst = must_load(json, &cfg);
    int epoch;
    size_t i;

    (void)state;
    for (i = 0; i < 20; i++) {
        x[2 * i] = (float)(i % 5) - 2;
        x[2 * i + 1] = (float)(i % 3) - 1;
        y[i] = 2 * x[2 * i] - x[2 * i + 1] + 1;
    }
    for (epoch = 0; epoch < 200; epoch++)
        assert_int_equal(md_backend_linear.learn(inst, x, y, 20, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, probe, 2, out, &err), MD_OK);
    assert_float_equal(out[0], 2 - 1 + 1, 1e-3);
    assert_float_equal(out[1], 1, 1e-3); /* x0 missing: only the intercept */
    /* a missing cell in training touches only the other weights */
    x[0] = NAN;
    assert_int_equal(md_backend_linear.learn(inst, x, y, 20, &err), MD_OK);
    md_backend_linear.free(inst);
}

/* learn fills a missing cell from impute as predict does: the weight moves as for the fill sent */
static void test_learn_impute(void **state)
{
    const char *json = "{" HDR "\"kind\": \"linear\", \"feature_names\": [\"x0\", \"x1\"],"
                       " \"weights\": [0.5, 0.5], \"standardize\": {\"mean\": [1, 0],"
                       " \"scale\": [2, 1]}, \"impute\": [4, null]}";
    float miss[] = {NAN, 1};
    float sent[] = {4, 1};
    float y[] = {3};
    float probe[] = {2, 3};
    float out[2];
    struct md_err err;
    void *a = must_load(json, NULL);
    void *b = must_load(json, NULL);

    (void)state;
    assert_int_equal(md_backend_linear.learn(a, miss, y, 1, &err), MD_OK);
    assert_int_equal(md_backend_linear.learn(b, sent, y, 1, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(a, probe, 1, &out[0], &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(b, probe, 1, &out[1], &err), MD_OK);
    assert_float_equal(out[0], out[1], 0);
    /* the step moved the x0 weight: z = (4 - 1) / 2 = 1.5, unlike the old z = 0 */
    assert_true(fabs(out[0] - (0.5 * 0.5 + 0.5 * 3)) > 1e-4);
    /* a missing cell without a fill fails the whole call */
    miss[1] = NAN;
    md_err_clear(&err);
    assert_int_equal(md_backend_linear.learn(a, miss, y, 1, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "column 1 ('x1'): missing value"));
    md_backend_linear.free(a);
    md_backend_linear.free(b);
}

static void test_learn_multinomial(void **state)
{
    const char *json = "{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"x0\", \"x1\"],"
                       " \"weights\": [[0, 0], [0, 0], [0, 0]]}";
    float x[] = {3, 0, 0, 3, -3, -3, 2.5f, 0.5f, 0.5f, 2.5f, -2, -3};
    float y[] = {0, 1, 2, 0, 1, 2};
    float out[18];
    struct md_kv opt[] = {{"learning_rate", "0.2"}};
    struct md_backend_config cfg = {opt, 1};
    struct md_err err;
    void *inst = must_load(json, &cfg);
    int epoch;
    int i;

    (void)state;
    for (epoch = 0; epoch < 50; epoch++)
        assert_int_equal(md_backend_linear.learn(inst, x, y, 6, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, x, 6, out, &err), MD_OK);
    for (i = 0; i < 6; i++)
        assert_true(out[3 * i + (int)y[i]] > 0.8f);
    md_backend_linear.free(inst);
}

static void test_learn_rejects(void **state)
{
    const char *json = "{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"x0\", \"x1\"],"
                       " \"weights\": [0.5, 0.5]}";
    const char *mjson = "{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"x0\"],"
                        " \"weights\": [[1], [2]]}";
    const char *big = "{\"format\": \"modeld-linear\", \"format_version\": 1,"
                      " \"kind\": \"linear\", \"feature_names\": [\"x\"], \"weights\": [1]}";
    struct md_kv huge_lr[] = {{"learning_rate", "1e300"}};
    struct md_backend_config cfg = {huge_lr, 1};
    float x[] = {1, 2, 3, 4};
    float bad_y[] = {1, 2};
    float nan_y[] = {NAN, 0};
    float inf_x[] = {INFINITY, 1};
    float ok_y[] = {1, 0};
    float class_y[] = {0.5f, 0};
    float one[] = {1};
    float big_x[] = {1e30f};
    float zero[] = {0};
    float before[2];
    float after[2];
    struct md_err err;
    void *inst = must_load(json, NULL);

    (void)state;
    assert_int_equal(md_backend_linear.predict(inst, x, 2, before, &err), MD_OK);
    assert_int_equal(md_backend_linear.learn(inst, x, bad_y, 2, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "y[1]: 2 is not a probability in [0, 1]"));
    assert_int_equal(md_backend_linear.learn(inst, x, nan_y, 2, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "y[0]: not a finite number"));
    assert_int_equal(md_backend_linear.learn(inst, inf_x, ok_y, 1, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "infinite value"));
    assert_int_equal(md_backend_linear.learn(inst, x, ok_y, 0, &err), MD_OK);
    /* nothing moved */
    assert_int_equal(md_backend_linear.predict(inst, x, 2, after, &err), MD_OK);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(md_linear__rows_learned(inst), 0);
    md_backend_linear.free(inst);

    inst = must_load(mjson, NULL);
    assert_int_equal(md_backend_linear.learn(inst, x, class_y, 1, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "y[0]: 0.5 is not a class index in [0, 1]"));
    assert_int_equal(md_backend_linear.learn(inst, x, bad_y, 2, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "y[1]: 2 is not a class index"));
    md_backend_linear.free(inst);

    /* a step that blows the weights up is refused and leaves them as they were */
    inst = must_load(big, &cfg);
    assert_int_equal(md_backend_linear.learn(inst, big_x, zero, 1, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "non-finite"));
    assert_int_equal(md_backend_linear.predict(inst, one, 1, after, &err), MD_OK);
    assert_float_equal(after[0], 1, 0);
    md_backend_linear.free(inst);
}

/* ------------------------------------------------------------------------ */
/* Predict racing learn                                                      */
/* ------------------------------------------------------------------------ */

struct race {
    void *inst;
    int failures; /* written by one thread each, read after join */
};

static void *race_predict(void *arg)
{
    struct race *r = arg;
    float x[2 * TOY_N];
    float y[TOY_N];
    float p[TOY_N];
    struct md_err err;
    int it;
    int i;

    toy_set(x, y);
    for (it = 0; it < 2000; it++) {
        if (md_backend_linear.predict(r->inst, x, TOY_N, p, &err) != MD_OK) {
            r->failures++;
            continue;
        }
        for (i = 0; i < TOY_N; i++)
            if (!(p[i] >= 0 && p[i] <= 1))
                r->failures++;
    }
    return NULL;
}

static void *race_learn(void *arg)
{
    struct race *r = arg;
    float x[2 * TOY_N];
    float y[TOY_N];
    struct md_err err;
    int it;

    toy_set(x, y);
    for (it = 0; it < 300; it++)
        if (md_backend_linear.learn(r->inst, x, y, TOY_N, &err) != MD_OK)
            r->failures++;
    return NULL;
}

static void test_concurrent_predict_learn(void **state)
{
    const char *json = "{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"x0\", \"x1\"],"
                       " \"weights\": [0, 0], \"standardize\": {\"mean\": [0, 0],"
                       " \"scale\": [2, 2]}}";
    pthread_t th[6];
    struct race rs[6];
    void *inst = must_load(json, NULL);
    int i;

    (void)state;
    for (i = 0; i < 6; i++) {
        rs[i].inst = inst;
        rs[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, i < 4 ? race_predict : race_learn, &rs[i]),
                         0);
    }
    for (i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(rs[i].failures, 0);
    }
    assert_int_equal(md_linear__rows_learned(inst), 2 * 300 * TOY_N);
    md_backend_linear.free(inst);
}

/* ---- learn_config, save, assign, explain --------------------------------- */

static const char *logit2_json = "{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"x0\","
                                 " \"x1\"], \"weights\": [0, 0], \"intercept\": 0}";

static struct md_learn_config sgd_cfg(double rate)
{
    struct md_learn_config c = {0};

    c.algo = 1;
    c.learning_rate = rate;
    return c;
}

static struct md_learn_config ftrl_cfg(double alpha, double beta, double l1, double l2)
{
    struct md_learn_config c = {0};

    c.algo = 2;
    c.alpha = alpha;
    c.beta = beta;
    c.l1 = l1;
    c.l2 = l2;
    return c;
}

static void expect_config_error(void *inst, struct md_learn_config c, const char *want)
{
    struct md_err err;

    md_err_clear(&err);
    assert_int_equal(md_backend_linear.learn_config(inst, &c, &err), MD_EINVAL);
    if (strstr(err.msg, want) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, want);
}

static void test_learn_config_errors(void **state)
{
    void *lin = must_load(linear_json, NULL);
    void *inst = must_load(logit2_json, NULL);
    struct md_learn_config c;

    (void)state;
    c = sgd_cfg(0.1);
    c.algo = 7;
    expect_config_error(inst, c, "algo: 7 is not 1 (sgd) or 2 (ftrl)");
    expect_config_error(lin, ftrl_cfg(0.1, 1, 0, 0),
                        "algo: ftrl needs a logistic model, and this one is 'linear'");
    expect_config_error(inst, sgd_cfg(0), "learning_rate: 0 is not a positive number");
    expect_config_error(inst, sgd_cfg(NAN), "learning_rate: nan is not a positive number");
    expect_config_error(inst, ftrl_cfg(0, 1, 0, 0), "alpha: 0 is not a positive number");
    expect_config_error(inst, ftrl_cfg(0.1, -1, 0, 0), "beta: -1 is not a non-negative number");
    expect_config_error(inst, ftrl_cfg(0.1, 1, -0.5, 0), "l1: -0.5 is not a non-negative number");
    expect_config_error(inst, ftrl_cfg(0.1, 1, 0, INFINITY), "l2: inf is not a non-negative");
    expect_config_error(inst, ftrl_cfg(0.1, 0, 0, 0), "beta: 0 with l2 0 cannot start");
    c = sgd_cfg(0.1);
    c.clip = -1;
    expect_config_error(inst, c, "clip: -1 is not a non-negative number");
    c = sgd_cfg(0.1);
    c.max_weight = NAN;
    expect_config_error(inst, c, "max_weight: nan is not");
    md_backend_linear.free(lin);
    md_backend_linear.free(inst);
}

static void test_ftrl_learns(void **state)
{
    const char *json = "{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"x0\", \"x1\"],"
                       " \"weights\": [0.25, -0.5], \"intercept\": 0.125}";
    struct md_learn_config c = ftrl_cfg(0.5, 1, 0, 0);
    float x[2 * TOY_N];
    float y[TOY_N];
    float p[TOY_N];
    float probe[2] = {1, 1};
    float before_out;
    float after_out;
    struct md_err err;
    double before;
    void *inst = must_load(json, NULL);
    void *sparse = must_load(logit2_json, NULL);
    int epoch;
    int i;

    (void)state;
    toy_set(x, y);
    assert_int_equal(md_backend_linear.predict(inst, probe, 1, &before_out, &err), MD_OK);
    /* switching to FTRL keeps the artifact's weights */
    assert_int_equal(md_backend_linear.learn_config(inst, &c, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, probe, 1, &after_out, &err), MD_OK);
    assert_float_equal(after_out, before_out, 1e-6);
    assert_float_equal(after_out, ref_sigmoid(0.25 - 0.5 + 0.125), 1e-6);
    before = log_loss(inst, x, y, TOY_N);
    for (epoch = 0; epoch < 20; epoch++)
        assert_int_equal(md_backend_linear.learn(inst, x, y, TOY_N, &err), MD_OK);
    assert_true(log_loss(inst, x, y, TOY_N) < before / 4);
    assert_int_equal(md_backend_linear.predict(inst, x, TOY_N, p, &err), MD_OK);
    for (i = 0; i < TOY_N; i++)
        assert_true((p[i] > 0.5f) == (y[i] > 0.5f));
    /* a huge l1 keeps every weight at 0: only the intercept moves */
    c = ftrl_cfg(0.5, 1, 1000, 0);
    assert_int_equal(md_backend_linear.learn_config(sparse, &c, &err), MD_OK);
    assert_int_equal(md_backend_linear.learn(sparse, x, y, TOY_N, &err), MD_OK);
    assert_int_equal(md_backend_linear.explain(sparse, probe, 1, p, &err), MD_OK);
    assert_float_equal(p[0], 0, 0);
    assert_float_equal(p[1], 0, 0);
    md_backend_linear.free(inst);
    md_backend_linear.free(sparse);
}

static void test_sgd_bounds(void **state)
{
    /* y = 100 x: unbounded, the weight heads for 100; max_weight holds it at 3 */
    const char *json = "{" HDR "\"kind\": \"linear\", \"feature_names\": [\"x\"],"
                       " \"weights\": [0]}";
    struct md_learn_config c = sgd_cfg(0.1);
    float x[] = {1, -1, 0.5f, 2};
    float y[] = {100, -100, 50, 200};
    float one = 1;
    float out[2];
    struct md_err err;
    void *inst = must_load(json, NULL);
    void *clipped = must_load(json, NULL);
    int it;

    (void)state;
    c.max_weight = 3;
    assert_int_equal(md_backend_linear.learn_config(inst, &c, &err), MD_OK);
    for (it = 0; it < 50; it++)
        assert_int_equal(md_backend_linear.learn(inst, x, y, 4, &err), MD_OK);
    assert_int_equal(md_backend_linear.explain(inst, &one, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 3, 0);
    assert_true(fabsf(out[1]) <= 3);
    /* clip 1: one step moves the weight by the rate at most */
    c = sgd_cfg(0.1);
    c.clip = 1;
    assert_int_equal(md_backend_linear.learn_config(clipped, &c, &err), MD_OK);
    assert_int_equal(md_backend_linear.learn(clipped, x, y, 1, &err), MD_OK);
    assert_int_equal(md_backend_linear.explain(clipped, &one, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 0.1, 1e-7);
    assert_float_equal(out[1], 0.1, 1e-7);
    md_backend_linear.free(inst);
    md_backend_linear.free(clipped);
}

static void test_save_roundtrip(void **state)
{
    const char *json = "{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\", \"b\"],"
                       " \"weights\": [[0.1, 0.2], [0.3, -0.4], [0, 0]], \"intercept\": [1, 0, -1],"
                       " \"classes\": 3, \"standardize\": {\"mean\": [1, 2], \"scale\": [3, 0.5]},"
                       " \"impute\": [1.5, null], \"metadata\": {\"who\": \"test\"}}";
    char dir[] = "/tmp/md-test-linear-XXXXXX";
    char path[128];
    float x[] = {1, 2, 0.5f, -3, NAN, 1, 4, 4};
    float y[] = {0, 1, 2, 1};
    float a[12];
    float b[12];
    struct md_err err;
    void *inst = must_load(json, NULL);
    void *back = NULL;
    char *text = NULL;
    size_t len = 0;
    int i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/snap.json", dir);
    for (i = 0; i < 5; i++)
        assert_int_equal(md_backend_linear.learn(inst, x, y, 4, &err), MD_OK);
    assert_int_equal(md_backend_linear.save(inst, path, &err), MD_OK);
    assert_int_equal(md_backend_linear.load(path, NULL, &back, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(inst, x, 4, a, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(back, x, 4, b, &err), MD_OK);
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(md_backend_read_artifact(path, &text, &len, &err), MD_OK);
    assert_non_null(strstr(text, "\"who\": \"test\""));
    assert_non_null(strstr(text, "null"));
    free(text);
    /* an unwritable place is an error naming it */
    snprintf(path, sizeof(path), "%s/no/such/dir.json", dir);
    assert_int_equal(md_backend_linear.save(inst, path, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "no/such/dir.json.tmp"));
    snprintf(path, sizeof(path), "%s/snap.json", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    md_backend_linear.free(inst);
    md_backend_linear.free(back);
}

static void test_assign(void **state)
{
    float x[2 * TOY_N];
    float y[TOY_N];
    float a[TOY_N];
    float b[TOY_N];
    struct md_err err;
    void *live = must_load(logit2_json, NULL);
    void *snap = must_load(logit2_json, NULL);
    void *other = must_load("{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"x0\", \"z\"],"
                            " \"weights\": [0, 0]}",
                            NULL);
    void *lin = must_load(linear_json, NULL);
    struct md_learn_config c = ftrl_cfg(0.5, 1, 0, 0);

    (void)state;
    toy_set(x, y);
    assert_int_equal(md_backend_linear.learn(snap, x, y, TOY_N, &err), MD_OK);
    assert_int_equal(md_backend_linear.learn_config(live, &c, &err), MD_OK);
    assert_int_equal(md_backend_linear.assign(live, snap, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(live, x, TOY_N, a, &err), MD_OK);
    assert_int_equal(md_backend_linear.predict(snap, x, TOY_N, b, &err), MD_OK);
    assert_memory_equal(a, b, sizeof(a));
    /* it keeps learning from there */
    assert_int_equal(md_backend_linear.learn(live, x, y, TOY_N, &err), MD_OK);
    assert_int_equal(md_backend_linear.assign(live, other, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "assign: feature 1 is 'z', not 'x1'"));
    assert_int_equal(md_backend_linear.assign(live, lin, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "assign: shapes differ"));
    md_backend_linear.free(live);
    md_backend_linear.free(snap);
    md_backend_linear.free(other);
    md_backend_linear.free(lin);
}

static void test_explain(void **state)
{
    const char *json = "{" HDR "\"kind\": \"logistic\", \"feature_names\": [\"a\", \"b\", \"c\"],"
                       " \"weights\": [0.5, -1, 2], \"intercept\": -0.25,"
                       " \"standardize\": {\"mean\": [1, 0, 0], \"scale\": [2, 1, 1]},"
                       " \"impute\": [3, null, 0]}";
    const char *multi = "{" HDR "\"kind\": \"multinomial\", \"feature_names\": [\"a\", \"b\"],"
                        " \"weights\": [[1, 2], [3, 4]], \"intercept\": [5, 6]}";
    float x[] = {5, 2, 1, NAN, 1, 1};
    float bad[] = {1, NAN, 1};
    float mx[] = {1, -1};
    float out[8];
    float p[2];
    struct md_err err;
    void *inst = must_load(json, NULL);
    void *mi = must_load(multi, NULL);
    int r;

    (void)state;
    assert_int_equal(md_backend_linear.explain(inst, x, 2, out, &err), MD_OK);
    assert_float_equal(out[0], 0.5 * (5 - 1) / 2, 1e-6);
    assert_float_equal(out[1], -2, 1e-6);
    assert_float_equal(out[2], 2, 1e-6);
    assert_float_equal(out[3], -0.25, 1e-6);
    assert_float_equal(out[4], 0.5 * (3 - 1) / 2, 1e-6); /* imputed */
    for (r = 0; r < 2; r++) {
        float sum = out[4 * r] + out[4 * r + 1] + out[4 * r + 2] + out[4 * r + 3];

        assert_int_equal(md_backend_linear.predict(inst, x + 3 * r, 1, p, &err), MD_OK);
        assert_float_equal(p[0], ref_sigmoid(sum), 1e-6);
    }
    assert_int_equal(md_backend_linear.explain(inst, bad, 1, out, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "column 1 ('b'): missing value"));
    /* a multinomial model: a group per class */
    assert_int_equal(md_backend_linear.explain(mi, mx, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 1, 0);
    assert_float_equal(out[1], -2, 0);
    assert_float_equal(out[2], 5, 0);
    assert_float_equal(out[3], 3, 0);
    assert_float_equal(out[4], -4, 0);
    assert_float_equal(out[5], 6, 0);
    md_backend_linear.free(inst);
    md_backend_linear.free(mi);
}

/*
 * Torn weights: two snapshots whose every weight differs (all 1, intercept
 * 0; all 2, intercept 1); assigned back and forth 400 times while two
 * threads predict on
 * a row of ones, each prediction must be one snapshot's score or the other's.
 */
#define TORN_F 64
struct torn {
    void *inst;
    void *snap[2];
    _Atomic bool stop;
    int failures;
};

static void *torn_predict(void *arg)
{
    struct torn *t = arg;
    float x[TORN_F];
    float out;
    struct md_err err;
    int i;

    for (i = 0; i < TORN_F; i++)
        x[i] = 1;
    while (!atomic_load(&t->stop)) {
        if (md_backend_linear.predict(t->inst, x, 1, &out, &err) != MD_OK ||
            (out != (float)TORN_F && out != (float)(2 * TORN_F + 1)))
            t->failures++;
    }
    return NULL;
}

static char *torn_json(int w, int b)
{
    char *s = malloc(2048);
    size_t n;
    int i;

    assert_non_null(s);
    n = (size_t)snprintf(s, 2048, "{" HDR "\"kind\": \"linear\", \"feature_names\": [");
    for (i = 0; i < TORN_F; i++)
        n += (size_t)snprintf(s + n, 2048 - n, "%s\"f%d\"", i ? ", " : "", i);
    n += (size_t)snprintf(s + n, 2048 - n, "], \"weights\": [");
    for (i = 0; i < TORN_F; i++)
        n += (size_t)snprintf(s + n, 2048 - n, "%s%d", i ? ", " : "", w);
    snprintf(s + n, 2048 - n, "], \"intercept\": %d}", b);
    return s;
}

static void test_no_torn_weights(void **state)
{
    struct torn t;
    pthread_t th[2];
    struct md_err err;
    char *j1 = torn_json(1, 0);
    char *j2 = torn_json(2, 1);
    int i;

    (void)state;
    t.inst = must_load(j1, NULL);
    t.snap[0] = must_load(j1, NULL);
    t.snap[1] = must_load(j2, NULL);
    atomic_store(&t.stop, false);
    t.failures = 0;
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, torn_predict, &t), 0);
    for (i = 0; i < 400; i++)
        assert_int_equal(md_backend_linear.assign(t.inst, t.snap[i % 2], &err), MD_OK);
    atomic_store(&t.stop, true);
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(t.failures, 0);
    for (i = 0; i < 2; i++)
        md_backend_linear.free(t.snap[i]);
    md_backend_linear.free(t.inst);
    free(j1);
    free(j2);
}

static void test_free_null(void **state)
{
    (void)state;
    md_backend_linear.free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_lists_linear),
        cmocka_unit_test(test_linear_predict),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_logistic_standardized),
        cmocka_unit_test(test_logistic_extreme_scores),
        cmocka_unit_test(test_multinomial_predict),
        cmocka_unit_test(test_multinomial_stable),
        cmocka_unit_test(test_multinomial_many_classes),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_impute),
        cmocka_unit_test(test_predict_rejects_bad_values),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_non_finite_weight_rejected),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_pickle_refused),
        cmocka_unit_test(test_learn_logistic),
        cmocka_unit_test(test_learn_linear),
        cmocka_unit_test(test_learn_impute),
        cmocka_unit_test(test_learn_multinomial),
        cmocka_unit_test(test_learn_rejects),
        cmocka_unit_test(test_concurrent_predict_learn),
        cmocka_unit_test(test_learn_config_errors),
        cmocka_unit_test(test_ftrl_learns),
        cmocka_unit_test(test_sgd_bounds),
        cmocka_unit_test(test_save_roundtrip),
        cmocka_unit_test(test_assign),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_no_torn_weights),
        cmocka_unit_test(test_free_null),
    };

    return cmocka_run_group_tests_name("linear", tests, NULL, NULL);
}
