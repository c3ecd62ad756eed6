/* SPDX-License-Identifier: MIT */
/*
 * test_explain.c: the engines' explain operations. The trees engine's exact
 * TreeSHAP (backend/trees_explain.c) equals libxgboost's pred_contribs, as
 * the xgboost engine's explain returns it, within 1e-4 relative on the test
 * models, the benchmark model and the example models, on rows with missing
 * values; the xgboost engine's equals the Python package's pred_contribs
 * (tests/data/train/contribs_*.csv); each row's contributions sum to its
 * margin; a model without covers is refused.
 */
#include "engine_rows.h"

#include "backend/trees_int.h"

#define REL_TOL 1e-4

/*
 * Each value of got within REL_TOL of want's, relative to the largest
 * magnitude in its row (a contribution near 0 is compared at the row's scale).
 */
static void rel_close(const float *got, const float *want, size_t rows, size_t width,
                      const char *what)
{
    size_t r;
    size_t j;

    for (r = 0; r < rows; r++) {
        double scale = 1e-6;

        for (j = 0; j < width; j++)
            scale = fmax(scale, fabs((double)want[r * width + j]));
        for (j = 0; j < width; j++) {
            double a = got[r * width + j];
            double b = want[r * width + j];

            if (!(fabs(a - b) <= REL_TOL * scale))
                fail_msg("%s: row %zu, entry %zu: got %.9g, want %.9g", what, r, j, a, b);
        }
    }
}

static float *explain(const char *engine, void *inst, const float *x, size_t n, size_t width)
{
    float *out = calloc(n * width, sizeof(float));
    struct md_err err;

    assert_non_null(out);
    md_err_clear(&err);
    if (engine_ops(engine)->explain(inst, x, n, out, &err) != MD_OK)
        fail_msg("%s: explain: %s", engine, err.msg);
    return out;
}

static float logit(float p)
{
    return logf(p / (1 - p));
}

/*
 * The model at path: trees' explain equals xgboost's; every row's
 * contributions sum to the margin behind the trees engine's prediction.
 */
static void same_as_libxgboost(const char *path, const float *x, size_t n)
{
    struct md_backend_desc d;
    void *t = engine_load_ok("trees", path, NULL, 0);
    void *xg = engine_load_ok("xgboost", path, NULL, 0);
    size_t groups;
    size_t width;
    float *a;
    float *b;
    float *pred;
    size_t r;
    size_t g;
    size_t j;

    engine_ops("trees")->describe(t, &d);
    groups = d.kind == MD_BACKEND_OUT_PROBABILITIES ? d.n_outputs : 1;
    width = groups * (d.n_features + 1);
    a = explain("trees", t, x, n, width);
    b = explain("xgboost", xg, x, n, width);
    rel_close(a, b, n, width, path);
    pred = calloc(n * d.n_outputs, sizeof(float));
    assert_non_null(pred);
    engine_predict_ok("trees", t, x, n, pred);
    for (r = 0; r < n; r++) {
        double margin[64] = {0};
        double lse = 0;

        assert_true(groups <= 64);
        for (g = 0; g < groups; g++)
            for (j = 0; j <= d.n_features; j++)
                margin[g] += a[r * width + g * (d.n_features + 1) + j];
        if (d.kind == MD_BACKEND_OUT_PROBABILITY) {
            float p = pred[r];

            if (p > 1e-6f && p < 1 - 1e-6f && !(fabs(margin[0] - logit(p)) <= 1e-3))
                fail_msg("%s: row %zu: contributions sum to %g, margin %g", path, r, margin[0],
                         (double)logit(p));
        } else if (d.kind == MD_BACKEND_OUT_VALUE) {
            if (!(fabs(margin[0] - pred[r]) <= 1e-4 * fmax(1, fabs(pred[r]))))
                fail_msg("%s: row %zu: contributions sum to %g, prediction %g", path, r, margin[0],
                         (double)pred[r]);
        } else {
            for (g = 0; g < groups; g++)
                lse += exp(margin[g]);
            for (g = 0; g < groups; g++)
                if (!(fabs(exp(margin[g]) / lse - pred[r * groups + g]) <= 1e-5))
                    fail_msg("%s: row %zu class %zu: softmax of the sums %g, prediction %g", path,
                             r, g, exp(margin[g]) / lse, (double)pred[r * groups + g]);
        }
    }
    free(pred);
    free(a);
    free(b);
    engine_ops("trees")->free(t);
    engine_ops("xgboost")->free(xg);
}

/* n rows of nf features, normal-ish values, every 7th cell missing. */
static float *random_rows(size_t n, size_t nf, unsigned seed)
{
    float *x = calloc(n * nf, sizeof(float));
    size_t i;

    assert_non_null(x);
    for (i = 0; i < n * nf; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = i % 7 == 3 ? NAN : ((float)((seed >> 8) % 20001) - 10000.0f) / 2500.0f;
    }
    return x;
}

static void test_small_models(void **state)
{
    static const char *const names[] = {"binary", "binary_base", "regression", "multiclass",
                                        "forest", "deep",        "stump"};
    size_t k;

    (void)state;
    for (k = 0; k < MD_ARRAY_LEN(names); k++) {
        char model[128];
        char csv[128];
        struct rows r;

        snprintf(model, sizeof(model), MODELS "%s.json", names[k]);
        snprintf(csv, sizeof(csv), MODELS "%s.csv", names[k]);
        if (!rows_read(csv, 5, 0, &r))
            fail_msg("cannot read %s", csv);
        same_as_libxgboost(model, r.x, r.n);
        snprintf(model, sizeof(model), MODELS "%s.ubj", names[k]);
        same_as_libxgboost(model, r.x, r.n);
        rows_release(&r);
    }
}

/* The benchmark model (100 trees of depth 6, 30 features) and the example models. */
static void test_large_and_example_models(void **state)
{
    static const char *const paths[] = {
        "tests/data/bench/bench_model.json", "examples/repo/fraud/1/model.json",
        "examples/repo/fraud/2/model.json",  "examples/repo/housing/1/model.json",
        "examples/repo/iris/1/model.json",
    };
    size_t k;

    (void)state;
    for (k = 0; k < MD_ARRAY_LEN(paths); k++) {
        struct md_backend_desc d;
        void *t = engine_load_ok("trees", paths[k], NULL, 0);
        float *x;

        engine_ops("trees")->describe(t, &d);
        engine_ops("trees")->free(t);
        x = random_rows(100, d.n_features, (unsigned)k + 1);
        same_as_libxgboost(paths[k], x, 100);
        free(x);
    }
}

/* The xgboost engine's explain is the Python package's pred_contribs, layout included. */
static void test_like_python(void **state)
{
    static const struct {
        const char *name;
        size_t width;
    } cases[] = {{"binary", 6}, {"multiclass", 18}, {"regression", 6}};
    size_t k;

    (void)state;
    for (k = 0; k < MD_ARRAY_LEN(cases); k++) {
        char model[128];
        char csv[128];
        struct rows r;
        void *inst;
        float *out;

        snprintf(model, sizeof(model), MODELS "%s.json", cases[k].name);
        snprintf(csv, sizeof(csv), "tests/data/train/contribs_%s.csv", cases[k].name);
        if (!rows_read(csv, 5, cases[k].width, &r))
            fail_msg("cannot read %s", csv);
        inst = engine_load_ok("xgboost", model, NULL, 0);
        out = explain("xgboost", inst, r.x, r.n, cases[k].width);
        rel_close(out, r.ref, r.n, cases[k].width, csv);
        free(out);
        engine_ops("xgboost")->free(inst);
        inst = engine_load_ok("trees", model, NULL, 0);
        out = explain("trees", inst, r.x, r.n, cases[k].width);
        rel_close(out, r.ref, r.n, cases[k].width, csv);
        free(out);
        engine_ops("trees")->free(inst);
        rows_release(&r);
    }
}

/* Without sum_hessian the model still serves, but explain is refused. */
static void test_no_covers(void **state)
{
    FILE *f = fopen(MODELS "stump.json", "rb");
    char buf[1 << 16];
    char *p;
    size_t n;
    struct md_err err;
    float x[5] = {0, 0, 0, 0, 0};
    float out[6];
    void *inst = NULL;

    (void)state;
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strstr(buf, "\"sum_hessian\"");
    assert_non_null(p);
    memcpy(p, "\"sum_hessiaN\"", 13);
    assert_int_equal(md_trees__load_buffer(buf, n, &inst, &err), MD_OK);
    engine_predict_ok("trees", inst, x, 1, out);
    md_err_clear(&err);
    assert_int_equal(md_backend_trees.explain(inst, x, 1, out, &err), MD_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "explain: the model has no usable covers (sum_hessian)"));
    md_trees__free(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_models),
        cmocka_unit_test(test_large_and_example_models),
        cmocka_unit_test(test_like_python),
        cmocka_unit_test(test_no_covers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
