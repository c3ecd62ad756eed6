/* SPDX-License-Identifier: MIT */
/*
 * test_xgboost.c: the reference engine (backend `xgboost`, libxgboost's C
 * API): load, describe, predict against the Python package's outputs,
 * options, refused objectives, unreadable and corrupt files, concurrent
 * predictions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_rows.h"

static const struct md_backend_ops *xgb(void)
{
    return engine_ops("xgboost");
}

static void refuse(const char *path, const struct md_kv *opts, size_t n_opt, int code,
                   const char *needle)
{
    struct md_err err;
    void *inst = (void *)1;
    int rc = engine_load("xgboost", path, opts, n_opt, &inst, &err);

    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("%s: want %s with '%s', got %s: '%s'", path, md_strerror(code), needle,
                 md_strerror(rc), err.msg);
    assert_null(inst);
}

static void test_bench_model(void **state)
{
    const struct md_kv opt = {"nthread", "2"};
    char model[512];
    char path[512];
    struct md_backend_desc d;
    struct rows r;
    float *out;
    void *inst;
    size_t i;

    (void)state;
    bench_data("bench_model.json", model, sizeof(model));
    bench_data("bench_rows.csv", path, sizeof(path));
    if (!rows_read(path, 30, 1, &r))
        fail_msg("cannot read '%s'", path);
    inst = engine_load_ok("xgboost", model, &opt, 1);
    xgb()->describe(inst, &d);
    assert_int_equal(d.n_features, 30);
    assert_int_equal(d.n_outputs, 1);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITY);
    assert_null(d.feature_names);
    assert_string_equal(d.objective, "binary:logistic");
    out = calloc(r.n, sizeof(float));
    assert_non_null(out);
    engine_predict_ok("xgboost", inst, r.x, r.n, out);
    assert_close(out, r.ref, r.n, "bench batch");
    for (i = 0; i < r.n; i += 13) {
        engine_predict_ok("xgboost", inst, r.x + i * 30, 1, out);
        assert_close(out, &r.ref[i], 1, "bench row");
    }
    engine_predict_ok("xgboost", inst, NULL, 0, out);
    xgb()->free(inst);
    free(out);
    rows_release(&r);
}

static void test_models(void **state)
{
    size_t k;

    (void)state;
    for (k = 0; k < MD_ARRAY_LEN(smalls); k++) {
        struct rows r;
        float *out;

        xgb()->free(engine_check_small("xgboost", &smalls[k], &r, &out));
        free(out);
        rows_release(&r);
    }
}

static void test_feature_names(void **state)
{
    struct md_backend_desc d;
    void *inst;

    (void)state;
    engine_check_names("xgboost");
    inst = engine_load_ok("xgboost", MODELS "regression.json", NULL, 0);
    xgb()->describe(inst, &d);
    assert_null(d.feature_names);
    xgb()->free(inst);
}

/* What the trees engine refuses, this one runs: categorical splits. */
static void test_categorical(void **state)
{
    const float x[2][5] = {{0, 0, 0, 0, 1}, {0, 0, 0, 0, 2}};
    struct md_backend_desc d;
    float out[2];
    void *inst;

    (void)state;
    inst = engine_load_ok("xgboost", MODELS "categorical.json", NULL, 0);
    xgb()->describe(inst, &d);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITY);
    engine_predict_ok("xgboost", inst, &x[0][0], 2, out);
    /* Trained on y = (category is 1 or 3). */
    assert_true(out[0] > 0.5f);
    assert_true(out[1] < 0.5f);
    xgb()->free(inst);
}

static void test_options(void **state)
{
    const struct md_kv unknown[] = {{"nthread", "1"}, {"max_batch", "8"}};
    const struct md_kv bad[] = {
        {"nthread", "0"}, {"nthread", "two"}, {"nthread", "4x"},
        {"nthread", ""},  {"nthread", "1e3"},
    };
    size_t i;

    (void)state;
    refuse(MODELS "binary.json", unknown, 2, MD_EINVAL,
           "engine option 'max_batch': unknown to backend 'xgboost' (known: nthread)");
    for (i = 0; i < MD_ARRAY_LEN(bad); i++)
        refuse(MODELS "binary.json", &bad[i], 1, MD_EINVAL, "engine option 'nthread': '");
    xgb()->free(engine_load_ok("xgboost", MODELS "binary.json", unknown, 1));
}

static void test_refused(void **state)
{
    (void)state;
    refuse(MODELS "softmax.json", NULL, 0, MD_EUNSUPPORTED,
           "objective 'multi:softmax': its output is not a probability");
}

static void test_files(void **state)
{
    FILE *f = fopen(MODELS "binary.json", "rb");
    char buf[65536];
    char path[64];
    size_t n;

    (void)state;
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    refuse(MODELS "no-such.json", NULL, 0, MD_EIO, "cannot open 'tests/data/models/no-such.json'");
    refuse("tests/data/models", NULL, 0, MD_EIO, "not a regular file");
    tmp_write(buf, n / 2, path, sizeof(path));
    refuse(path, NULL, 0, MD_ECORRUPT, "model: libxgboost: ");
    unlink(path);
    tmp_write("{\"learner\": 7}", 14, path, sizeof(path));
    refuse(path, NULL, 0, MD_ECORRUPT, "model: libxgboost: ");
    unlink(path);
}

static void test_ops_table(void **state)
{
    (void)state;
    assert_int_equal(xgb()->abi, MD_BACKEND_ABI);
    assert_string_equal(xgb()->name, "xgboost");
    assert_null(xgb()->learn);
    assert_null(xgb()->train);
    xgb()->free(NULL);
}

/* Concurrent callers on one instance (serialized inside) all get their own answers. */
static void test_threads(void **state)
{
    struct rows r;
    void *inst;

    (void)state;
    if (!rows_read(MODELS "multiclass.csv", 5, 3, &r))
        fail_msg("cannot read multiclass.csv");
    inst = engine_load_ok("xgboost", MODELS "multiclass.json", NULL, 0);
    engine_check_threads("xgboost", inst, &r, 5, 3);
    xgb()->free(inst);
    rows_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_model),   cmocka_unit_test(test_models),
        cmocka_unit_test(test_feature_names), cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_options),       cmocka_unit_test(test_refused),
        cmocka_unit_test(test_files),         cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
