/* SPDX-License-Identifier: MIT */
/*
 * test_linear.c: the linear engine: each kind against values computed here,
 * standardisation, missing values, the churn example against scikit-learn's
 * own probabilities, validation errors, options, online learning, and
 * predictions running while the model learns.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backend/linear_int.h"
#include "backend/registry.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>

static const struct md_backend_ops *ops(void)
{
    return md_backend_find("linear");
}

static void *load_text(const char *text, int want, const char *part)
{
    struct md_err err;
    void *inst = NULL;
    int rc;

    md_err_clear(&err);
    rc = md_linear__load_buffer(text, strlen(text), NULL, &inst, &err);
    if (rc != want)
        fail_msg("got %d (%s), want %d for %s", rc, err.msg, want, text);
    if (part != NULL && strstr(err.msg, part) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, part);
    return inst;
}

static void test_kinds(void **state)
{
    void *m;
    float x[4] = {1.0f, 2.0f, 3.0f, -1.0f};
    float out[6];
    struct md_err err;
    struct md_backend_desc d;
    double z0;
    double z1;
    double z2;
    double mx;
    double s;

    (void)state;
    m = load_text("{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"linear\","
                  "\"feature_names\":[\"a\",\"b\"],\"weights\":[0.5,-2],\"intercept\":3}",
                  MD_OK, NULL);
    assert_int_equal(ops()->predict(m, x, 2, out, &err), MD_OK);
    assert_float_equal(out[0], 3 + 0.5 * 1 - 2 * 2, 1e-6);
    assert_float_equal(out[1], 3 + 0.5 * 3 - 2 * -1, 1e-6);
    ops()->describe(m, &d);
    assert_int_equal(d.kind, MD_BACKEND_OUT_VALUE);
    assert_int_equal(d.n_features, 2);
    assert_string_equal(d.feature_names[1], "b");
    ops()->free(m);

    m = load_text("{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"logistic\","
                  "\"feature_names\":[\"a\",\"b\"],\"weights\":[0.5,-2],\"intercept\":0.25,"
                  "\"standardize\":{\"mean\":[1,1],\"scale\":[2,4]},\"classes\":2}",
                  MD_OK, NULL);
    assert_int_equal(ops()->predict(m, x, 1, out, &err), MD_OK);
    z0 = 0.25 + 0.5 * (1 - 1) / 2 - 2 * (2 - 1) / 4.0;
    assert_float_equal(out[0], 1 / (1 + exp(-z0)), 1e-6);
    /* A missing value is the mean: it contributes nothing. */
    x[1] = NAN;
    assert_int_equal(ops()->predict(m, x, 1, out, &err), MD_OK);
    assert_float_equal(out[0], 1 / (1 + exp(-0.25)), 1e-6);
    x[1] = 2.0f;
    ops()->describe(m, &d);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITY);
    ops()->free(m);

    m = load_text("{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"multinomial\","
                  "\"feature_names\":[\"a\",\"b\"],\"weights\":[[1,0],[0,1],[1,1]],"
                  "\"intercept\":[0,0.5,-1]}",
                  MD_OK, NULL);
    assert_int_equal(ops()->predict(m, x, 1, out, &err), MD_OK);
    z0 = 1;
    z1 = 2.5;
    z2 = 2;
    mx = z1;
    s = exp(z0 - mx) + exp(z1 - mx) + exp(z2 - mx);
    assert_float_equal(out[0], exp(z0 - mx) / s, 1e-6);
    assert_float_equal(out[1], exp(z1 - mx) / s, 1e-6);
    assert_float_equal(out[2], exp(z2 - mx) / s, 1e-6);
    ops()->describe(m, &d);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITIES);
    assert_int_equal(d.n_outputs, 3);
    assert_int_equal(ops()->learn(m, x, out, 1, &err), MD_EUNSUPPORTED);
    ops()->free(m);
}

static void test_churn_matches_sklearn(void **state)
{
    FILE *f = fopen("examples/data/churn_check.csv", "r");
    char line[4096];
    struct md_backend_config cfg = {NULL, 0};
    struct md_err err;
    void *m = NULL;
    size_t rows = 0;

    (void)state;
    assert_non_null(f);
    assert_int_equal(ops()->load("examples/repo/churn/1/model.json", &cfg, &m, &err), MD_OK);
    while (fgets(line, sizeof(line), f) != NULL) {
        float x[7];
        float out;
        char *p = line;
        int j;

        for (j = 0; j < 7; j++) {
            x[j] = strtof(p, &p);
            p++;
        }
        assert_int_equal(ops()->predict(m, x, 1, &out, &err), MD_OK);
        assert_float_equal(out, strtod(p, NULL), 1e-5);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 50);
    ops()->free(m);
}

static void test_invalid(void **state)
{
    static const struct {
        const char *text;
        int code;
        const char *part;
    } cases[] = {
        {"{", MD_ECORRUPT, "not valid JSON"},
        {"[]", MD_ECORRUPT, "JSON object"},
        {"{\"format\":\"other\"}", MD_EUNSUPPORTED, "format"},
        {"{\"format\":\"modeld-linear\",\"format_version\":2}", MD_EUNSUPPORTED, "format_version"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"svm\"}", MD_EUNSUPPORTED,
         "svm"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"linear\"}", MD_ECORRUPT,
         "feature_names"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"linear\","
         "\"feature_names\":[\"a\"],\"weights\":[1,2],\"intercept\":0}",
         MD_ECORRUPT, "weights"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"linear\","
         "\"feature_names\":[\"a\"],\"weights\":[\"x\"],\"intercept\":0}",
         MD_ECORRUPT, "weights[0]"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"linear\","
         "\"feature_names\":[\"a\"],\"weights\":[1],\"intercept\":\"0\"}",
         MD_ECORRUPT, "intercept"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"linear\","
         "\"feature_names\":[\"a\"],\"weights\":[1],\"intercept\":0,"
         "\"standardize\":{\"mean\":[0],\"scale\":[0]}}",
         MD_ECORRUPT, "scale[0]"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"multinomial\","
         "\"feature_names\":[\"a\"],\"weights\":[[1]],\"intercept\":[0]}",
         MD_ECORRUPT, "at least 2"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"logistic\","
         "\"feature_names\":[\"a\"],\"weights\":[1],\"intercept\":0,\"classes\":3}",
         MD_ECORRUPT, "classes"},
        {"{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"linear\","
         "\"feature_names\":[7],\"weights\":[1],\"intercept\":0}",
         MD_ECORRUPT, "feature_names[0]"},
    };
    size_t i;
    struct md_backend_config cfg = {NULL, 0};
    struct md_kv bad = {"momentum", "1"};
    struct md_kv badlr = {"learning_rate", "-1"};
    struct md_backend_config badcfg = {&bad, 1};
    struct md_backend_config badlrcfg = {&badlr, 1};
    struct md_err err;
    void *m = NULL;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_null(load_text(cases[i].text, cases[i].code, cases[i].part));
    assert_int_equal(ops()->load("examples/repo/churn/1/nonexistent.json", &cfg, &m, &err),
                     MD_EIO);
    assert_int_equal(ops()->load("examples/repo/churn/1/model.json", &badcfg, &m, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "momentum"));
    assert_int_equal(ops()->load("examples/repo/churn/1/model.json", &badlrcfg, &m, &err),
                     MD_EINVAL);
}

/* Separable toy data: y = 1 when a > b. */
static void toy(float *x, float *y, size_t n)
{
    size_t i;
    unsigned s = 1;

    for (i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[2 * i] = (float)((s >> 8) % 1000) / 500.0f - 1.0f;
        s = s * 1103515245u + 12345u;
        x[2 * i + 1] = (float)((s >> 8) % 1000) / 500.0f - 1.0f;
        y[i] = x[2 * i] > x[2 * i + 1] ? 1.0f : 0.0f;
    }
}

static double log_loss(void *m, const float *x, const float *y, size_t n)
{
    float *p = md_xmalloc(n * sizeof(float));
    struct md_err err;
    double loss = 0;
    size_t i;

    assert_int_equal(ops()->predict(m, x, n, p, &err), MD_OK);
    for (i = 0; i < n; i++)
        loss -= y[i] ? log(p[i] + 1e-12) : log(1 - p[i] + 1e-12);
    free(p);
    return loss / (double)n;
}

static void test_learn_reduces_loss(void **state)
{
    float x[2 * 500];
    float y[500];
    struct md_err err;
    void *m;
    double before;
    double after;
    int epoch;
    float bad = 0.5f;

    (void)state;
    toy(x, y, 500);
    m = load_text("{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"logistic\","
                  "\"feature_names\":[\"a\",\"b\"],\"weights\":[0,0],\"intercept\":0}",
                  MD_OK, NULL);
    before = log_loss(m, x, y, 500);
    for (epoch = 0; epoch < 20; epoch++)
        assert_int_equal(ops()->learn(m, x, y, 500, &err), MD_OK);
    after = log_loss(m, x, y, 500);
    assert_true(after < before * 0.7);
    assert_int_equal(ops()->learn(m, x, &bad, 1, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "0 or 1"));
    ops()->free(m);
}

struct race {
    void *m;
    const float *x;
    int failures;
};

static void *predictor(void *arg)
{
    struct race *r = arg;
    struct md_err err;
    float out[100];
    int i;

    for (i = 0; i < 2000; i++)
        if (ops()->predict(r->m, r->x, 100, out, &err) != MD_OK || !(out[0] >= 0 && out[0] <= 1))
            r->failures++;
    return NULL;
}

static void test_predict_while_learning(void **state)
{
    float x[2 * 500];
    float y[500];
    struct md_err err;
    struct race r[3];
    pthread_t th[3];
    int i;

    (void)state;
    toy(x, y, 500);
    r[0].m = load_text("{\"format\":\"modeld-linear\",\"format_version\":1,\"kind\":\"logistic\","
                       "\"feature_names\":[\"a\",\"b\"],\"weights\":[0,0],\"intercept\":0}",
                       MD_OK, NULL);
    for (i = 0; i < 3; i++) {
        r[i].m = r[0].m;
        r[i].x = x;
        r[i].failures = 0;
        pthread_create(&th[i], NULL, predictor, &r[i]);
    }
    for (i = 0; i < 200; i++)
        assert_int_equal(ops()->learn(r[0].m, x, y, 500, &err), MD_OK);
    for (i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].failures, 0);
    }
    ops()->free(r[0].m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_churn_matches_sklearn),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_learn_reduces_loss),
        cmocka_unit_test(test_predict_while_learning),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
