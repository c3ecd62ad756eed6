/* SPDX-License-Identifier: MIT */
/*
 * test_trees.c: the trees and xgboost engines: exactness against libxgboost's
 * own predictions (the benchmark rows and small models of every supported
 * objective), refusals, corrupt files, options; and the two engines agreeing
 * on every example model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backend/registry.h"
#include "backend/trees_int.h"
#include "util/mem.h"

#include <glob.h>
#include <math.h>

#define PEERS "../shared/peers/"
#define MODELS "tests/data/models/"

static const char *peers_path(const char *file, char *buf, size_t size)
{
    const char *dir = getenv("MD_PEERS");

    if (dir != NULL)
        snprintf(buf, size, "%s/%s", dir, file);
    else
        snprintf(buf, size, PEERS "%s", file);
    return buf;
}

/* Reads "f,f,,f<sep>o,o" rows: features (empty = NaN) then reference outputs. */
static size_t read_rows(const char *path, char sep, size_t nf, size_t max_out, float **x,
                        float **ref, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    char line[16384];
    size_t n = 0;
    size_t cap = 0;

    assert_non_null(f);
    *x = NULL;
    *ref = NULL;
    *n_out = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line;
        size_t j;
        size_t k = 0;

        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            *x = md_xrealloc(*x, cap * nf * sizeof(float));
            *ref = md_xrealloc(*ref, cap * max_out * sizeof(float));
        }
        for (j = 0; j < nf; j++) {
            char *end;

            if (*p == ',' || *p == sep) {
                (*x)[n * nf + j] = NAN;
            } else {
                (*x)[n * nf + j] = strtof(p, &end);
                p = end;
            }
            p++; /* the separator */
        }
        while (*p != '\0' && *p != '\n' && k < max_out) {
            char *end;

            (*ref)[n * max_out + k++] = strtof(p, &end);
            p = *end == ',' ? end + 1 : end;
        }
        *n_out = k;
        n++;
    }
    fclose(f);
    return n;
}

static void *load(const char *engine, const char *path, int want, const char *msg_part)
{
    const struct md_backend_ops *ops = md_backend_find(engine);
    struct md_backend_config cfg = {NULL, 0};
    struct md_err err;
    void *inst = NULL;
    int rc;

    assert_non_null(ops);
    md_err_clear(&err);
    rc = ops->load(path, &cfg, &inst, &err);
    if (rc != want)
        fail_msg("%s on %s: got %d (%s), want %d", engine, path, rc, err.msg, want);
    if (msg_part != NULL && strstr(err.msg, msg_part) == NULL)
        fail_msg("%s on %s: message '%s' lacks '%s'", engine, path, err.msg, msg_part);
    return inst;
}

static void check_against(const char *engine, void *inst, const float *x, size_t n, size_t nf,
                          const float *ref, size_t n_out, double tol)
{
    const struct md_backend_ops *ops = md_backend_find(engine);
    float *out = md_xcalloc(n * n_out, sizeof(float));
    struct md_err err;
    size_t i;

    /* One batch of every row. */
    assert_int_equal(ops->predict(inst, x, n, out, &err), MD_OK);
    for (i = 0; i < n * n_out; i++)
        if (fabs((double)out[i] - (double)ref[i]) > tol)
            fail_msg("%s batch: output %zu: %.9g vs %.9g", engine, i, out[i], ref[i]);
    /* Row by row. */
    for (i = 0; i < n; i++) {
        size_t k;

        assert_int_equal(ops->predict(inst, x + i * nf, 1, out, &err), MD_OK);
        for (k = 0; k < n_out; k++)
            if (fabs((double)out[k] - (double)ref[i * n_out + k]) > tol)
                fail_msg("%s row %zu: output %zu: %.9g vs %.9g", engine, i, k, out[k],
                         ref[i * n_out + k]);
    }
    free(out);
}

static void test_bench_rows_match_libxgboost(void **state)
{
    char model[512];
    char rows[512];
    float *x;
    float *ref;
    size_t n_out;
    size_t n;
    void *t;
    void *g;
    struct md_backend_desc d;

    (void)state;
    n = read_rows(peers_path("bench_rows.csv", rows, sizeof(rows)), ',', 30, 1, &x, &ref, &n_out);
    assert_int_equal(n, 2000);
    assert_int_equal(n_out, 1);
    t = load("trees", peers_path("bench_model.json", model, sizeof(model)), MD_OK, NULL);
    g = load("xgboost", model, MD_OK, NULL);
    md_backend_find("trees")->describe(t, &d);
    assert_int_equal(d.n_features, 30);
    assert_int_equal(d.n_outputs, 1);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITY);
    assert_string_equal(d.objective, "binary:logistic");
    assert_null(d.feature_names);
    check_against("trees", t, x, n, 30, ref, 1, 1e-6);
    check_against("xgboost", g, x, n, 30, ref, 1, 1e-6);
    md_backend_find("trees")->free(t);
    md_backend_find("xgboost")->free(g);
    free(x);
    free(ref);
}

static void objective_case(const char *name, size_t want_outputs, enum md_backend_out kind)
{
    char model[256];
    char rows[256];
    float *x;
    float *ref;
    size_t n_out;
    size_t n;
    void *t;
    void *g;
    struct md_backend_desc d;

    snprintf(model, sizeof(model), MODELS "%s.json", name);
    snprintf(rows, sizeof(rows), MODELS "%s.csv", name);
    n = read_rows(rows, ';', 5, want_outputs, &x, &ref, &n_out);
    assert_int_equal(n, 50);
    assert_int_equal(n_out, want_outputs);
    t = load("trees", model, MD_OK, NULL);
    g = load("xgboost", model, MD_OK, NULL);
    md_backend_find("trees")->describe(t, &d);
    assert_int_equal(d.n_outputs, want_outputs);
    assert_int_equal(d.kind, kind);
    md_backend_find("xgboost")->describe(g, &d);
    assert_int_equal(d.n_outputs, want_outputs);
    assert_int_equal(d.kind, kind);
    assert_int_equal(d.n_features, 5);
    check_against("trees", t, x, n, 5, ref, n_out, 1e-6);
    check_against("xgboost", g, x, n, 5, ref, n_out, 1e-6);
    md_backend_find("trees")->free(t);
    md_backend_find("xgboost")->free(g);
    free(x);
    free(ref);
}

static void test_objectives(void **state)
{
    (void)state;
    objective_case("softprob", 3, MD_BACKEND_OUT_PROBABILITIES);
    objective_case("regression", 1, MD_BACKEND_OUT_VALUE);
    objective_case("logistic_base", 1, MD_BACKEND_OUT_PROBABILITY);
}

/* What trees refuses, xgboost runs, and matches libxgboost's own output. */
static void refused_case(const char *name, const char *why)
{
    char model[256];
    char rows[256];
    float *x;
    float *ref;
    size_t n_out;
    size_t n;
    void *g;

    snprintf(model, sizeof(model), MODELS "%s.json", name);
    snprintf(rows, sizeof(rows), MODELS "%s.csv", name);
    assert_null(load("trees", model, MD_EUNSUPPORTED, why));
    g = load("xgboost", model, MD_OK, NULL);
    n = read_rows(rows, ';', 5, 1, &x, &ref, &n_out);
    check_against("xgboost", g, x, n, 5, ref, n_out, 1e-6);
    md_backend_find("xgboost")->free(g);
    free(x);
    free(ref);
}

static void test_refusals(void **state)
{
    (void)state;
    refused_case("categorical", "categorical splits");
    refused_case("dart", "booster 'dart'");
    refused_case("logitraw", "objective 'binary:logitraw'");
}

static int load_text(const char *text, const char *part)
{
    struct md_err err;
    void *inst = NULL;
    int rc;

    md_err_clear(&err);
    rc = md_trees__load_buffer(text, strlen(text), &inst, &err);
    if (part != NULL && strstr(err.msg, part) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, part);
    if (inst != NULL)
        md_backend_find("trees")->free(inst);
    return rc;
}

#define HEAD                                                                                 \
    "{\"learner\":{\"feature_names\":[],\"learner_model_param\":{\"base_score\":\"5E-1\","   \
    "\"num_class\":\"0\",\"num_feature\":\"2\"},\"objective\":{\"name\":\"binary:logistic\"}," \
    "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"tree_info\":[0],\"trees\":[{"
#define TAIL "}]}}}}"

static void test_corrupt_models(void **state)
{
    char path[512];
    struct md_err err;
    void *inst;

    (void)state;
    /* A good hand-made tree, then each field broken in turn. */
    assert_int_equal(load_text(HEAD "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
                                    "\"split_indices\":[1,0,0],\"split_conditions\":[0.5,-1,1],"
                                    "\"default_left\":[1,0,0]" TAIL,
                               NULL),
                     MD_OK);
    assert_int_equal(load_text("{\"learner\": ", "not valid JSON"), MD_ECORRUPT);
    assert_int_equal(load_text("[]", "learner"), MD_ECORRUPT);
    assert_int_equal(load_text(HEAD "\"left_children\":[1,-1,-1],\"right_children\":[2,-1],"
                                    "\"split_indices\":[1,0,0],\"split_conditions\":[0.5,-1,1],"
                                    "\"default_left\":[1,0,0]" TAIL,
                               "differ in length"),
                     MD_ECORRUPT);
    assert_int_equal(load_text(HEAD "\"left_children\":[1,-1,-1],\"right_children\":[7,-1,-1],"
                                    "\"split_indices\":[1,0,0],\"split_conditions\":[0.5,-1,1],"
                                    "\"default_left\":[1,0,0]" TAIL,
                               "child index"),
                     MD_ECORRUPT);
    assert_int_equal(load_text(HEAD "\"left_children\":[1,0,-1],\"right_children\":[2,2,-1],"
                                    "\"split_indices\":[1,0,0],\"split_conditions\":[0.5,-1,1],"
                                    "\"default_left\":[1,0,0]" TAIL,
                               "child index"),
                     MD_ECORRUPT); /* a cycle back to the root */
    assert_int_equal(load_text(HEAD "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
                                    "\"split_indices\":[9,0,0],\"split_conditions\":[0.5,-1,1],"
                                    "\"default_left\":[1,0,0]" TAIL,
                               "split feature"),
                     MD_ECORRUPT);
    assert_int_equal(load_text(HEAD "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
                                    "\"split_indices\":[1,0,0],\"split_conditions\":[\"x\",-1,1],"
                                    "\"default_left\":[1,0,0]" TAIL,
                               "malformed"),
                     MD_ECORRUPT);
    assert_int_equal(load_text(HEAD "\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
                                    "\"split_indices\":[1,0,0],\"split_conditions\":[0.5,-1,1],"
                                    "\"split_type\":[1,0,0],\"default_left\":[1,0,0]" TAIL,
                               "categorical"),
                     MD_EUNSUPPORTED);
    /* A missing file, an option the engine does not take. */
    inst = load("trees", "tests/data/models/nonexistent.json", MD_EIO, "cannot open");
    assert_null(inst);
    {
        struct md_kv kv = {"nthread", "2"};
        struct md_backend_config cfg = {&kv, 1};
        struct md_kv bad = {"colour", "red"};
        struct md_backend_config badcfg = {&bad, 1};
        struct md_kv badn = {"nthread", "zero"};
        struct md_backend_config badncfg = {&badn, 1};

        assert_int_equal(md_backend_find("trees")->load(MODELS "regression.json", &cfg, &inst, &err),
                         MD_EINVAL);
        assert_int_equal(md_backend_find("xgboost")->load(MODELS "regression.json", &badcfg, &inst,
                                                          &err),
                         MD_EINVAL);
        assert_non_null(strstr(err.msg, "colour"));
        assert_int_equal(md_backend_find("xgboost")->load(MODELS "regression.json", &badncfg,
                                                          &inst, &err),
                         MD_EINVAL);
        assert_int_equal(md_backend_find("xgboost")->load(MODELS "regression.json", &cfg, &inst,
                                                          &err),
                         MD_OK);
        md_backend_find("xgboost")->free(inst);
    }
    assert_null(load("xgboost", "tests/data/models/nonexistent.json", MD_EIO, NULL));
    /* Truncated copies of the benchmark model at many lengths. */
    {
        FILE *f = fopen(peers_path("bench_model.json", path, sizeof(path)), "rb");
        char *buf = md_xmalloc(1 << 20);
        size_t len = fread(buf, 1, 1 << 20, f);
        size_t cut;

        fclose(f);
        for (cut = 0; cut < len; cut += len / 37 + 1) {
            md_err_clear(&err);
            inst = NULL;
            assert_int_equal(md_trees__load_buffer(buf, cut, &inst, &err), MD_ECORRUPT);
            assert_null(inst);
        }
        free(buf);
    }
}

/* The two engines agree on every example model the trees engine accepts. */
static void test_examples_agree(void **state)
{
    glob_t g;
    size_t i;
    size_t checked = 0;

    (void)state;
    if (glob("examples/repo/*/[0-9]*/model.json", 0, NULL, &g) != 0)
        return;
    for (i = 0; i < g.gl_pathc; i++) {
        const struct md_backend_ops *tr = md_backend_find("trees");
        const struct md_backend_ops *xg = md_backend_find("xgboost");
        struct md_backend_config cfg = {NULL, 0};
        struct md_backend_desc d;
        struct md_err err;
        void *t = NULL;
        void *x = NULL;
        float *rows;
        float *a;
        float *b;
        size_t n = 500;
        size_t j;
        unsigned seed = 7;

        if (tr->load(g.gl_pathv[i], &cfg, &t, &err) != MD_OK)
            continue; /* not a tree model, or one trees refuses */
        assert_int_equal(xg->load(g.gl_pathv[i], &cfg, &x, &err), MD_OK);
        tr->describe(t, &d);
        rows = md_xmalloc(n * d.n_features * sizeof(float));
        a = md_xmalloc(n * d.n_outputs * sizeof(float));
        b = md_xmalloc(n * d.n_outputs * sizeof(float));
        for (j = 0; j < n * d.n_features; j++) {
            seed = seed * 1103515245u + 12345u;
            rows[j] = (seed >> 16) % 10 == 0 ? NAN : (float)((seed >> 8) % 20000) / 100.0f - 50;
            if (j % d.n_features == 0 && (seed >> 20) % 2)
                rows[j] = (float)((seed >> 4) % 3);
        }
        assert_int_equal(tr->predict(t, rows, n, a, &err), MD_OK);
        assert_int_equal(xg->predict(x, rows, n, b, &err), MD_OK);
        for (j = 0; j < n * d.n_outputs; j++)
            if (fabs((double)a[j] - (double)b[j]) > 1e-6 * (1 + fabs((double)b[j])))
                fail_msg("%s: output %zu: trees %.9g, xgboost %.9g", g.gl_pathv[i], j, a[j],
                         b[j]);
        tr->free(t);
        xg->free(x);
        free(rows);
        free(a);
        free(b);
        checked++;
    }
    globfree(&g);
    print_message("example models checked: %zu\n", checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_rows_match_libxgboost),
        cmocka_unit_test(test_objectives),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_corrupt_models),
        cmocka_unit_test(test_examples_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
