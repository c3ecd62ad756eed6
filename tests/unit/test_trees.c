/* SPDX-License-Identifier: MIT */
/*
 * test_trees.c: the native tree engine (backend `trees`): exactness against
 * libxgboost's outputs (the shared benchmark rows, the small models of
 * tests/data/models with the Python package's outputs, random models against
 * the `xgboost` engine, and any example repository model), missing values,
 * refusals, corrupt files, options and concurrent predictions; the same
 * models as UBJSON, bit for bit; and md_trees_check, the check of a file for
 * libxgboost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glob.h>
#include <jansson.h>

#include "backend/trees.h"
#include "backend/trees_int.h"
#include "engine_rows.h"

/* ---------------------------------------------------------------- helpers */

static void describe(const char *engine, void *inst, struct md_backend_desc *d)
{
    md_backend_find(engine)->describe(inst, d);
}

/* Loads buf through md_trees__load_buffer and checks the code and a substring of the message. */
static void refuse_buffer(const char *buf, int code, const char *needle)
{
    struct md_err err;
    void *inst = (void *)1;
    int rc;

    md_err_clear(&err);
    rc = md_trees__load_buffer(buf, strlen(buf), &inst, &err);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("want %s with '%s', got %s: '%s'", md_strerror(code), needle, md_strerror(rc),
                 err.msg);
    assert_null(inst);
    assert_int_equal(err.code, code);
}

/* A copy of s with the first from replaced by to. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    size_t n;
    char *out;

    if (at == NULL)
        fail_msg("'%s' not in the template", from);
    n = strlen(s) - strlen(from) + strlen(to) + 1;
    out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return out;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long n;
    char *buf;

    if (f == NULL)
        fail_msg("cannot open '%s'", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/*
 * A one-split regression model: feature 1 < 0.5 gives -1 (left), else 2;
 * missing goes left; base_score 0 so outputs are leaf values.
 */
static const char tiny[] =
    "{\"learner\":{\"feature_names\":[],\"feature_types\":[],"
    "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
    "\"num_trees\":\"1\",\"size_leaf_vector\":\"0\"},\"tree_info\":[0],"
    "\"trees\":[{\"id\":0,\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
    "\"split_indices\":[1,0,0],\"split_conditions\":[0.5,-1.0,2.0],\"default_left\":[1,0,0],"
    "\"split_type\":[0,0,0],\"categories\":[],\"base_weights\":[0,0,0],"
    "\"tree_param\":{\"num_nodes\":\"3\",\"num_feature\":\"3\",\"size_leaf_vector\":\"0\","
    "\"num_deleted\":\"0\"}}]},\"name\":\"gbtree\"},"
    "\"learner_model_param\":{\"base_score\":\"0\",\"num_class\":\"0\",\"num_feature\":\"3\","
    "\"num_target\":\"1\"},"
    "\"objective\":{\"name\":\"reg:squarederror\",\"reg_loss_param\":{\"scale_pos_weight\":\"1\"}}}"
    ","
    "\"version\":[1,7,4]}";

static void *load_tiny(const char *json)
{
    struct md_err err;
    void *inst = NULL;

    if (md_trees__load_buffer(json, strlen(json), &inst, &err) != MD_OK)
        fail_msg("tiny model: %s", err.msg);
    return inst;
}

/* The tiny-model variant json's prediction for one row (the model loaded and freed). */
static float predict_tiny(const char *json, const float *row)
{
    void *inst = load_tiny(json);
    float out;

    engine_predict_ok("trees", inst, row, 1, &out);
    md_backend_trees.free(inst);
    return out;
}

/* ------------------------------------------------------ the benchmark rows */

static void bench_paths(char *model, char *rows, size_t cap)
{
    bench_data("bench_model.json", model, cap);
    bench_data("bench_rows.csv", rows, cap);
}

static void test_bench_rows_single(void **state)
{
    char model[512];
    char path[512];
    struct md_backend_desc d;
    struct rows r;
    void *inst;
    size_t i;

    (void)state;
    bench_paths(model, path, sizeof(path));
    if (!rows_read(path, 30, 1, &r))
        fail_msg("cannot read '%s'", path);
    assert_int_equal(r.n, 2000);
    inst = engine_load_ok("trees", model, NULL, 0);
    describe("trees", inst, &d);
    assert_int_equal(d.n_features, 30);
    assert_int_equal(d.n_outputs, 1);
    assert_int_equal(d.kind, MD_BACKEND_OUT_PROBABILITY);
    assert_null(d.feature_names);
    assert_string_equal(d.objective, "binary:logistic");
    for (i = 0; i < r.n; i++) {
        float out = -1;

        engine_predict_ok("trees", inst, r.x + i * 30, 1, &out);
        assert_close(&out, &r.ref[i], 1, "bench row");
    }
    md_backend_trees.free(inst);
    rows_release(&r);
}

static void test_bench_rows_batch(void **state)
{
    char model[512];
    char path[512];
    struct rows r;
    float *out;
    void *inst;
    size_t n;

    (void)state;
    bench_paths(model, path, sizeof(path));
    if (!rows_read(path, 30, 1, &r))
        fail_msg("cannot read '%s'", path);
    inst = engine_load_ok("trees", model, NULL, 0);
    out = calloc(r.n, sizeof(float));
    assert_non_null(out);
    engine_predict_ok("trees", inst, r.x, r.n, out);
    assert_close(out, r.ref, r.n, "bench batch");
    /* Batches of every size up to 40 rows, from odd offsets: whole blocks and tails. */
    for (n = 0; n <= 40; n++) {
        size_t at = 7 * n + 3;

        memset(out, 0, r.n * sizeof(float));
        engine_predict_ok("trees", inst, r.x + at * 30, n, out);
        assert_close(out, r.ref + at, n, "bench sub-batch");
    }
    md_backend_trees.free(inst);
    free(out);
    rows_release(&r);
}

/*
 * Large batches split across threads (nthread 1, 2, 3 and 7; rows cycled to
 * 10,000 plus an odd tail) give each row exactly its one-thread result and
 * libxgboost's within TOL.
 */
static void test_bench_rows_split(void **state)
{
    static const char *const counts[] = {"1", "2", "3", "7"};
    const size_t n = 10003;
    char model[512];
    char path[512];
    struct rows r;
    float *x;
    float *want;
    float *out;
    float *ref;
    size_t i;
    size_t c;

    (void)state;
    bench_paths(model, path, sizeof(path));
    if (!rows_read(path, 30, 1, &r))
        fail_msg("cannot read '%s'", path);
    x = malloc(n * 30 * sizeof(float));
    ref = malloc(n * sizeof(float));
    want = calloc(n, sizeof(float));
    out = calloc(n, sizeof(float));
    assert_true(x != NULL && ref != NULL && want != NULL && out != NULL);
    for (i = 0; i < n; i++) {
        memcpy(x + i * 30, r.x + (i % r.n) * 30, 30 * sizeof(float));
        ref[i] = r.ref[i % r.n];
    }
    for (c = 0; c < MD_ARRAY_LEN(counts); c++) {
        const struct md_kv opt = {"nthread", counts[c]};
        struct md_err err;
        void *inst = NULL;

        if (engine_load("trees", model, &opt, 1, &inst, &err) != MD_OK)
            fail_msg("nthread %s: %s", counts[c], err.msg);
        memset(out, 0, n * sizeof(float));
        engine_predict_ok("trees", inst, x, n, out);
        assert_close(out, ref, n, "split batch");
        if (c == 0)
            memcpy(want, out, n * sizeof(float));
        else if (memcmp(want, out, n * sizeof(float)) != 0)
            fail_msg("nthread %s: a row differs from its one-thread result", counts[c]);
        md_backend_trees.free(inst);
    }
    free(x);
    free(ref);
    free(want);
    free(out);
    rows_release(&r);
}

static void test_bench_agrees_with_xgboost(void **state)
{
    char model[512];
    char path[512];
    struct rows r;
    float *a;
    float *b;
    void *t;
    void *x;
    size_t i;

    (void)state;
    bench_paths(model, path, sizeof(path));
    if (!rows_read(path, 30, 1, &r))
        fail_msg("cannot read '%s'", path);
    t = engine_load_ok("trees", model, NULL, 0);
    x = engine_load_ok("xgboost", model, NULL, 0);
    a = calloc(r.n, sizeof(float));
    b = calloc(r.n, sizeof(float));
    assert_true(a != NULL && b != NULL);
    engine_predict_ok("trees", t, r.x, r.n, a);
    engine_predict_ok("xgboost", x, r.x, r.n, b);
    assert_close(a, b, r.n, "trees vs xgboost, batch");
    for (i = 0; i < r.n; i += 97) {
        engine_predict_ok("trees", t, r.x + i * 30, 1, a);
        engine_predict_ok("xgboost", x, r.x + i * 30, 1, b);
        assert_close(a, b, 1, "trees vs xgboost, one row");
    }
    md_backend_find("trees")->free(t);
    md_backend_find("xgboost")->free(x);
    free(a);
    free(b);
    rows_release(&r);
}

/* ------------------------------------------- trees against libxgboost, random rows */

/*
 * n random rows of nf features: ~10% missing, ~1% infinite, ~15% on a split
 * grid, the rest spread out.
 */
static float *random_rows(uint64_t *s, size_t n, size_t nf)
{
    float *x = malloc(n * nf * sizeof(float));
    size_t i;

    assert_non_null(x);
    for (i = 0; i < n * nf; i++) {
        double u = rnd(s);

        if (u < 0.10)
            x[i] = NAN;
        else if (u < 0.11)
            x[i] = rnd(s) < 0.5 ? INFINITY : -INFINITY;
        else if (u < 0.25)
            x[i] = (float)((int)(rnd(s) * 17) - 8) / 4.0f;
        else if (u < 0.30)
            x[i] = (float)(rnd(s) * 2000.0 - 1000.0);
        else if (u < 0.40)
            x[i] = (float)(int)(rnd(s) * 6);
        else
            x[i] = (float)(rnd(s) * 5.0 - 2.5);
    }
    return x;
}

/* The instruction sets a batch's first tree levels can run on (trees_int.h). */
static const char *const isas[] = {"generic", "avx2"};

/* Makes inst use isa; false when this CPU lacks it (an unknown name fails the test). */
static bool use_isa(void *inst, const char *isa)
{
    int rc = md_trees__set_isa(inst, isa);

#ifndef __x86_64__
    if (rc == MD_ENOTFOUND && strcmp(isa, "avx2") == 0)
        return false;
#endif
    if (rc == MD_EUNSUPPORTED)
        return false;
    assert_int_equal(rc, MD_OK);
    return true;
}

/* got (a batch) and want (row by row) hold the same floats, bit for bit. */
static void same_floats(const char *path, const char *isa, const float *got, const float *want,
                        size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s (%s): output %zu: %.9g in a batch, %.9g alone", path, isa, i,
                     (double)got[i], (double)want[i]);
}

/*
 * trees and xgboost on n random rows of path's model, one call and row by
 * row; trees' two give the same floats, bit for bit (the same leaves summed
 * in the same order), whichever walk a batch takes and in every instruction
 * set the CPU has for it.
 */
static void compare_engines(const char *path, uint64_t seed, size_t n)
{
    struct md_backend_desc dt;
    struct md_backend_desc dx;
    void *t = engine_load_ok("trees", path, NULL, 0);
    void *xg = engine_load_ok("xgboost", path, NULL, 0);
    float *x;
    float *a;
    float *b;
    float *batch;
    size_t i;
    char what[600];

    describe("trees", t, &dt);
    describe("xgboost", xg, &dx);
    assert_int_equal(dt.n_features, dx.n_features);
    assert_int_equal(dt.n_outputs, dx.n_outputs);
    assert_int_equal(dt.kind, dx.kind);
    assert_string_equal(dt.objective, dx.objective);
    x = random_rows(&seed, n, dt.n_features);
    a = calloc(n * dt.n_outputs, sizeof(float));
    b = calloc(n * dt.n_outputs, sizeof(float));
    batch = calloc(n * dt.n_outputs, sizeof(float));
    assert_true(a != NULL && b != NULL && batch != NULL);
    engine_predict_ok("trees", t, x, n, a);
    engine_predict_ok("xgboost", xg, x, n, b);
    snprintf(what, sizeof(what), "%s: trees vs xgboost", path);
    assert_close(a, b, n * dt.n_outputs, what);
    memcpy(batch, a, n * dt.n_outputs * sizeof(float));
    for (i = 0; i < n; i++)
        engine_predict_ok("trees", t, x + i * dt.n_features, 1, a + i * dt.n_outputs);
    snprintf(what, sizeof(what), "%s: trees row by row vs xgboost", path);
    assert_close(a, b, n * dt.n_outputs, what);
    same_floats(path, md_trees__isa(t), batch, a, n * dt.n_outputs);
    for (i = 0; i < MD_ARRAY_LEN(isas); i++) {
        if (!use_isa(t, isas[i]))
            continue;
        memset(batch, 0, n * dt.n_outputs * sizeof(float));
        engine_predict_ok("trees", t, x, n, batch);
        same_floats(path, isas[i], batch, a, n * dt.n_outputs);
    }
    free(batch);
    md_backend_find("trees")->free(t);
    md_backend_find("xgboost")->free(xg);
    free(x);
    free(a);
    free(b);
}

static void test_repository_models(void **state)
{
    glob_t g;
    size_t i;
    size_t checked = 0;

    (void)state;
    if (glob("examples/repo/*/[0-9]*/model.json", 0, NULL, &g) != 0) {
        print_message("no examples/repo/*/[0-9]*/model.json here\n");
        return;
    }
    for (i = 0; i < g.gl_pathc; i++) {
        struct md_err err;
        void *inst = NULL;

        if (engine_load("trees", g.gl_pathv[i], NULL, 0, &inst, &err) != MD_OK)
            continue; /* another engine's artifact, or one trees refuses */
        md_backend_trees.free(inst);
        compare_engines(g.gl_pathv[i], 0x5eed + i, 500);
        checked++;
    }
    print_message("%zu repository models checked against libxgboost\n", checked);
    globfree(&g);
}

/* --------------------------------------------- small models of every objective */

static void test_small_models(void **state)
{
    uint64_t seed = 77; /* one more per model run */
    size_t k;

    (void)state;
    for (k = 0; k < MD_ARRAY_LEN(smalls); k++) {
        const struct small *sm = &smalls[k];
        struct rows r;
        float *out;
        void *inst;
        char path[256];
        size_t i;

        if (!sm->trees)
            continue;
        inst = engine_check_small("trees", sm, &r, &out);
        if (sm->kind == MD_BACKEND_OUT_PROBABILITIES) {
            for (i = 0; i < r.n; i++) {
                double sum = 0;
                size_t c;

                for (c = 0; c < sm->n_out; c++)
                    sum += out[i * sm->n_out + c];
                assert_true(fabs(sum - 1.0) < 1e-5);
            }
        }
        md_backend_trees.free(inst);
        snprintf(path, sizeof(path), MODELS "%s.json", sm->name);
        compare_engines(path, seed++, 500);
        free(out);
        rows_release(&r);
    }
}

static void test_feature_names(void **state)
{
    (void)state;
    engine_check_names("trees");
}

/* ----------------------------------------------- random models against libxgboost */

struct gen {
    uint64_t s;
    json_t *left, *right, *parent, *sidx, *cond, *dleft;
    int n;
    int nf;
};

/* A float-exact JSON number (libxgboost reads floats; so must the test's values be). */
static json_t *jfloat(float v)
{
    return json_real((double)v);
}

static void gen_append(struct gen *g, int parent)
{
    g->n++;
    json_array_append_new(g->left, json_integer(-1));
    json_array_append_new(g->right, json_integer(-1));
    json_array_append_new(g->parent, json_integer(parent < 0 ? 2147483647 : parent));
    json_array_append_new(g->sidx, json_integer(0));
    json_array_append_new(g->cond, jfloat((float)(rnd(&g->s) * 2 - 1)));
    json_array_append_new(g->dleft, json_integer(0));
}

/*
 * Expands node me into a random subtree, depth first; as XGBoost does, the
 * two children of a node are numbered together (right = left + 1).
 */
static void gen_node(struct gen *g, int me, int depth, int max_depth)
{
    float c = rnd(&g->s) < 0.5 ? (float)((int)(rnd(&g->s) * 17) - 8) / 4.0f
                               : (float)(rnd(&g->s) * 5 - 2.5);
    int l = g->n;

    if (depth >= max_depth || rnd(&g->s) >= (depth == 0 ? 0.95 : 0.75))
        return;
    gen_append(g, me);
    gen_append(g, me);
    json_array_set_new(g->sidx, (size_t)me, json_integer((int)(rnd(&g->s) * g->nf)));
    json_array_set_new(g->cond, (size_t)me, jfloat(c));
    json_array_set_new(g->dleft, (size_t)me, json_integer(rnd(&g->s) < 0.5));
    json_array_set_new(g->left, (size_t)me, json_integer(l));
    json_array_set_new(g->right, (size_t)me, json_integer(l + 1));
    gen_node(g, l, depth + 1, max_depth);
    gen_node(g, l + 1, depth + 1, max_depth);
}

static json_t *zeros(int n, bool real)
{
    json_t *a = json_array();
    int i;

    for (i = 0; i < n; i++)
        json_array_append_new(a, real ? json_real(0) : json_integer(0));
    return a;
}

static json_t *gen_tree(struct gen *g, int id, int max_depth)
{
    char num[32];
    json_t *t = json_object();
    json_t *tp = json_object();

    g->n = 0;
    g->left = json_array();
    g->right = json_array();
    g->parent = json_array();
    g->sidx = json_array();
    g->cond = json_array();
    g->dleft = json_array();
    gen_append(g, -1);
    gen_node(g, 0, 0, max_depth);
    json_object_set_new(t, "id", json_integer(id));
    json_object_set_new(t, "left_children", g->left);
    json_object_set_new(t, "right_children", g->right);
    json_object_set_new(t, "parents", g->parent);
    json_object_set_new(t, "split_indices", g->sidx);
    json_object_set_new(t, "split_conditions", g->cond);
    json_object_set_new(t, "default_left", g->dleft);
    json_object_set_new(t, "split_type", zeros(g->n, false));
    json_object_set_new(t, "base_weights", zeros(g->n, true));
    json_object_set_new(t, "loss_changes", zeros(g->n, true));
    json_object_set_new(t, "sum_hessian", zeros(g->n, true));
    json_object_set_new(t, "categories", json_array());
    json_object_set_new(t, "categories_nodes", json_array());
    json_object_set_new(t, "categories_segments", json_array());
    json_object_set_new(t, "categories_sizes", json_array());
    snprintf(num, sizeof(num), "%d", g->n);
    json_object_set_new(tp, "num_nodes", json_string(num));
    snprintf(num, sizeof(num), "%d", g->nf);
    json_object_set_new(tp, "num_feature", json_string(num));
    json_object_set_new(tp, "num_deleted", json_string("0"));
    json_object_set_new(tp, "size_leaf_vector", json_string("0"));
    json_object_set_new(t, "tree_param", tp);
    return t;
}

/*
 * A random model on the template's learner (objective, base_score,
 * num_class): n_trees trees of random shapes and depths up to 9, nf features.
 * Written to a temporary file whose path goes into path.
 */
static void gen_model(const char *tpl, uint64_t seed, int n_trees, int nf, char *path, size_t cap)
{
    struct gen g = {seed * 0x9e3779b97f4a7c15ULL + 1, NULL, NULL, NULL, NULL, NULL, NULL, 0, nf};
    json_error_t jerr;
    json_t *root = json_load_file(tpl, 0, &jerr);
    json_t *learner;
    json_t *model;
    json_t *trees = json_array();
    json_t *info = json_array();
    long n_class;
    char num[32];
    char *text;
    int t;

    assert_non_null(root);
    learner = json_object_get(root, "learner");
    model = json_object_get(json_object_get(learner, "gradient_booster"), "model");
    n_class = strtol(json_string_value(json_object_get(
                         json_object_get(learner, "learner_model_param"), "num_class")),
                     NULL, 10);
    for (t = 0; t < n_trees; t++) {
        json_array_append_new(trees, gen_tree(&g, t, (int)(rnd(&g.s) * 10)));
        json_array_append_new(info, json_integer(n_class > 1 ? (int)(rnd(&g.s) * n_class) : 0));
    }
    json_object_set_new(model, "trees", trees);
    json_object_set_new(model, "tree_info", info);
    snprintf(num, sizeof(num), "%d", n_trees);
    json_object_set_new(json_object_get(model, "gbtree_model_param"), "num_trees",
                        json_string(num));
    json_object_set_new(json_object_get(model, "gbtree_model_param"), "num_parallel_tree",
                        json_string("1"));
    snprintf(num, sizeof(num), "%d", nf);
    json_object_set_new(json_object_get(learner, "learner_model_param"), "num_feature",
                        json_string(num));
    json_object_set_new(learner, "feature_names", json_array());
    json_object_set_new(learner, "feature_types", json_array());
    text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    tmp_write(text, strlen(text), path, cap);
    free(text);
    json_decref(root);
}

static void test_random_models(void **state)
{
    static const char *const tpl[] = {MODELS "binary_base.json", MODELS "regression.json",
                                      MODELS "multiclass.json"};
    uint64_t seed;

    (void)state;
    for (seed = 1; seed <= 12; seed++) {
        char path[64];

        gen_model(tpl[seed % 3], seed, 1 + (int)(seed * 7 % 40), 3 + (int)(seed % 9), path,
                  sizeof(path));
        compare_engines(path, seed, 300);
        unlink(path);
    }
}

/* --------------------------------------------------- split rule, missing values */

static void test_split_rule(void **state)
{
    /* Feature 1 against 0.5: left leaf -1, right leaf 2. */
    const float xs[][3] = {
        {0, 0.4f, 0},     {0, 0.5f, 0},      {0, 0.50000006f, 0},     {9, NAN, 9},
        {0, INFINITY, 0}, {0, -INFINITY, 0}, {NAN, 0.49999997f, NAN},
    };
    const float left_default[] = {-1, 2, 2, -1, 2, -1, -1};
    const float right_default[] = {-1, 2, 2, 2, 2, -1, -1};
    char *dr = replace(tiny, "\"default_left\":[1,0,0]", "\"default_left\":[0,0,0]");
    void *a = load_tiny(tiny);
    void *b = load_tiny(dr);
    float out[7];
    size_t i;

    (void)state;

    for (i = 0; i < 7; i++)
        engine_predict_ok("trees", a, xs[i], 1, &out[i]);
    assert_close(out, left_default, 7, "missing goes left");
    for (i = 0; i < 7; i++)
        engine_predict_ok("trees", b, xs[i], 1, &out[i]);
    assert_close(out, right_default, 7, "missing goes right");
    md_backend_trees.free(a);
    md_backend_trees.free(b);
    free(dr);
}

/* Booleans for default_left, unreachable (deleted) nodes, a lone leaf. */
static void test_lenient_forms(void **state)
{
    char *a = replace(tiny, "\"default_left\":[1,0,0]", "\"default_left\":[true,false,false]");
    char *b = replace(tiny, "\"num_nodes\":\"3\"", "\"num_nodes\":\"4\"");
    char *c;
    char *d;
    const float row[3] = {0, NAN, 0};

    (void)state;

    assert_true(predict_tiny(a, row) == -1.0f);
    /* A fourth node nothing points to: ignored, as libxgboost ignores deleted nodes. */
    c = replace(b, "\"left_children\":[1,-1,-1]", "\"left_children\":[1,-1,-1,-1]");
    free(b);
    b = replace(c, "\"right_children\":[2,-1,-1]", "\"right_children\":[2,-1,-1,-1]");
    free(c);
    c = replace(b, "\"split_indices\":[1,0,0]", "\"split_indices\":[1,0,0,0]");
    free(b);
    b = replace(c, "\"split_conditions\":[0.5,-1.0,2.0]", "\"split_conditions\":[0.5,-1,2,7]");
    free(c);
    c = replace(b, "\"default_left\":[1,0,0]", "\"default_left\":[1,0,0,0]");
    free(b);
    b = replace(c, "\"split_type\":[0,0,0]", "\"split_type\":[0,0,0,0]");
    free(c);
    d = replace(b, "\"base_weights\":[0,0,0]", "\"base_weights\":[0,0,0,0]");
    assert_true(predict_tiny(d, row) == -1.0f);
    free(d);
    /* A tree that is one leaf. */
    c = replace(tiny, "\"left_children\":[1,-1,-1]", "\"left_children\":[-1,-1,-1]");
    assert_true(predict_tiny(c, row) == 0.5f);
    free(a);
    free(b);
    free(c);
}

/* XGBoost's bare NaN and Infinity words: NaN leaves, refused thresholds, names untouched. */
static void test_nonfinite_words(void **state)
{
    char *a = replace(tiny, "[0.5,-1.0,2.0]", "[0.5,NaN,2.0]");
    char *b = replace(tiny, "[0.5,-1.0,2.0]", "[-Infinity,-1.0,2.0]");
    char *c = replace(tiny, "[0.5,-1.0,2.0]", "[NaN,-1.0,2.0]");
    char *d = replace(tiny, "\"feature_names\":[]", "\"feature_names\":[\"NaN\",\"I\\\"\",\"c\"]");
    char *e = replace(tiny, "\"base_weights\":[0,0,0]", "\"base_weights\":[Infinity,NaN,0]");
    char *f = replace(tiny, "[0.5,-1.0,2.0]", "[0.5,-Infinity,Infinity]");
    char *g = replace(tiny, "[0.5,-1.0,2.0]", "[0.5,\"Inf\",2]");
    const float row_right[3] = {0, 1, 0};
    const float row[3] = {0, 0, 0};
    struct md_backend_desc desc;
    float out;
    void *inst;

    (void)state;
    assert_true(isnan(predict_tiny(a, row)));
    refuse_buffer(b, MD_ECORRUPT, "split_conditions[0]: -Infinity is not a threshold");
    refuse_buffer(c, MD_ECORRUPT, "split_conditions[0]: NaN is not a threshold");
    inst = load_tiny(d);
    describe("trees", inst, &desc);
    assert_string_equal(desc.feature_names[0], "NaN");
    assert_string_equal(desc.feature_names[1], "I\"");
    md_backend_trees.free(inst);
    inst = load_tiny(e);
    md_backend_trees.free(inst);
    inst = load_tiny(f);
    engine_predict_ok("trees", inst, row, 1, &out);
    assert_true(isinf(out) && out < 0);
    engine_predict_ok("trees", inst, row_right, 1, &out);
    assert_true(isinf(out) && out > 0);
    md_backend_trees.free(inst);
    refuse_buffer(g, MD_ECORRUPT, "split_conditions[1]: a string, expected a number");
    free(f);
    free(g);
    refuse_buffer("{\"learner\": NaNa}", MD_ECORRUPT, "not valid JSON");
    refuse_buffer("{\"learner\": Nope}", MD_ECORRUPT, "not valid JSON");
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

/* A model with 40000 features: the 12-byte node layout and heap row copies. */
static void test_wide_model(void **state)
{
    char *a = replace(tiny, "\"num_feature\":\"3\",\"num_target\"",
                      "\"num_feature\":\"40000\",\"num_target\"");
    char *b = replace(a, "\"split_indices\":[1,0,0]", "\"split_indices\":[39999,0,0]");
    const size_t nf = 40000;
    float *x = calloc(20 * nf, sizeof(float));
    float out[20];
    struct md_backend_desc d;
    void *inst;
    size_t i;
    size_t k;

    (void)state;

    assert_non_null(x);
    inst = load_tiny(b);
    describe("trees", inst, &d);
    assert_int_equal(d.n_features, nf);
    for (i = 0; i < 20; i++)
        x[i * nf + nf - 1] = i % 3 == 0 ? NAN : (float)(i % 2);
    for (k = 0; k < MD_ARRAY_LEN(isas); k++) {
        if (!use_isa(inst, isas[k]))
            continue;
        memset(out, 0, sizeof(out));
        engine_predict_ok("trees", inst, x, 20, out);
        for (i = 0; i < 20; i++)
            assert_true(out[i] == (i % 3 == 0 || i % 2 == 0 ? -1.0f : 2.0f));
    }
    engine_predict_ok("trees", inst, x + nf, 1, out);
    assert_true(out[0] == 2.0f);
    md_backend_trees.free(inst);
    free(x);
    free(a);
    free(b);
}

/* ------------------------------------------------------- refusals and corrupt files */

struct bad {
    const char *from;
    const char *to;
    int code;
    const char *needle;
};

static const struct bad bads[] = {
    {"\"left_children\":[1,-1,-1]", "\"left_children\":[9,-1,-1]", MD_ECORRUPT,
     "trees[0].left_children[0]: child 9 out of range (3 nodes)"},
    {"\"left_children\":[1,-1,-1]", "\"left_children\":[-2,-1,-1]", MD_ECORRUPT,
     "left_children[0]: child -2 out of range"},
    {"\"right_children\":[2,-1,-1]", "\"right_children\":[3,-1,-1]", MD_ECORRUPT,
     "trees[0].right_children[0]: child 3 out of range (3 nodes)"},
    {"\"right_children\":[2,-1,-1]", "\"right_children\":[1,-1,-1]", MD_ECORRUPT,
     "trees[0].right_children[0]: 1 is not the left child + 1 (2), as XGBoost lays trees out"},
    {"\"left_children\":[1,-1,-1]", "\"left_children\":[2,-1,-1]", MD_ECORRUPT,
     "right_children[0]: 2 is not the left child + 1 (3)"},
    {"\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1]",
     "\"left_children\":[1,-1,0],\"right_children\":[2,-1,1]", MD_ECORRUPT,
     "trees[0]: node 2 has a child reached twice (0, 1): a cycle or a shared node"},
    {"\"split_indices\":[1,0,0]", "\"split_indices\":[3,0,0]", MD_ECORRUPT,
     "trees[0].split_indices[0]: feature 3 out of range (num_feature 3)"},
    {"\"split_conditions\":[0.5,-1.0,2.0]", "\"split_conditions\":[0.5,-1.0]", MD_ECORRUPT,
     "trees[0].split_conditions: 2 entries, expected 3"},
    {"\"default_left\":[1,0,0]", "\"default_left\":[1,0,0,1]", MD_ECORRUPT,
     "trees[0].default_left: 4 entries, expected 3"},
    {"\"base_weights\":[0,0,0]", "\"base_weights\":[0]", MD_ECORRUPT,
     "trees[0].base_weights: 1 entries"},
    {"\"num_nodes\":\"3\"", "\"num_nodes\":\"4\"", MD_ECORRUPT, "tree_param.num_nodes says 4"},
    {"\"learner\":", "\"learnerX\":", MD_ECORRUPT, "learner: missing"},
    {"\"num_trees\":\"1\"", "\"num_trees\":\"2\"", MD_ECORRUPT, "1 trees, num_trees says 2"},
    {"\"tree_info\":[0]", "\"tree_info\":[1]", MD_ECORRUPT, "tree_info[0]: not a class"},
    {"\"tree_info\":[0]", "\"tree_info\":{}", MD_ECORRUPT,
     "model.tree_info: an object, expected an array"},
    {"\"id\":0", "\"id\":5", MD_ECORRUPT, "trees[0].id: 5 is out of range or repeated"},
    {"\"id\":0,", "", MD_ECORRUPT, "trees[0].id: missing"},
    {"\"split_conditions\":[0.5,", "\"split_conditions\":[1e39,", MD_ECORRUPT,
     "split_conditions[0]: 1e+39 is not a finite float threshold"},
    {"\"split_conditions\":[0.5,", "\"split_conditions\":[\"a\",", MD_ECORRUPT,
     "split_conditions[0]: a string, expected a number"},
    {"\"left_children\":[1,", "\"left_children\":[1.5,", MD_ECORRUPT,
     "left_children[0]: a number, expected an integer"},
    {"\"default_left\":[1,", "\"default_left\":[\"x\",", MD_ECORRUPT,
     "default_left[0]: a string, expected 0 or 1"},
    {"\"split_indices\":[1,", "\"split_indices\":[null,", MD_ECORRUPT,
     "split_indices[0]: null, expected an integer"},
    {"\"num_feature\":\"3\",\"num_target\"", "\"num_feature\":\"x\",\"num_target\"", MD_ECORRUPT,
     "learner.learner_model_param.num_feature: 'x' is not a finite number"},
    {"\"num_feature\":\"3\",\"num_target\"", "\"num_feature\":\"0\",\"num_target\"", MD_ECORRUPT,
     "num_feature: 0 is not an integer from 1"},
    {"\"base_score\":\"0\"", "\"base_score\":\"nan\"", MD_ECORRUPT,
     "base_score: 'nan' is not a finite number"},
    {"\"base_score\":\"0\",", "", MD_ECORRUPT, "learner_model_param.base_score: missing"},
    {"\"feature_names\":[]", "\"feature_names\":[\"a\"]", MD_ECORRUPT,
     "learner.feature_names: 1 names, num_feature says 3"},
    {"\"feature_names\":[]", "\"feature_names\":[\"a\",\"b\",7]", MD_ECORRUPT,
     "learner.feature_names[2]: a number, expected a string"},
    {"\"trees\":[{", "\"trees\":[7],\"x\":[{", MD_ECORRUPT,
     "trees[0]: a number, expected an object"},
    {"\"reg:squarederror\"", "\"multi:softprob\"", MD_ECORRUPT, "num_class: 0 is below 2"},
    {"\"split_type\":[0,0,0]", "\"split_type\":[1,0,0]", MD_EUNSUPPORTED,
     "split_type[0]: categorical splits are not supported by the trees engine; use backend "
     "xgboost"},
    {"\"categories\":[]", "\"categories\":[1]", MD_EUNSUPPORTED, "categories: categorical"},
    {"\"reg:squarederror\"", "\"reg:gamma\"", MD_EUNSUPPORTED,
     "learner.objective.name: 'reg:gamma' is not supported by the trees engine"},
    {"\"name\":\"gbtree\"", "\"name\":\"dart\"", MD_EUNSUPPORTED,
     "'dart' boosters are not supported"},
    {"\"num_target\":\"1\"", "\"num_target\":\"2\"", MD_EUNSUPPORTED, "2 targets"},
    {"\"size_leaf_vector\":\"0\",\"num_deleted\"", "\"size_leaf_vector\":\"2\",\"num_deleted\"",
     MD_EUNSUPPORTED, "vector leaves"},
};

static void test_corrupt_and_refused(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(bads); i++) {
        char *s = replace(tiny, bads[i].from, bads[i].to);

        refuse_buffer(s, bads[i].code, bads[i].needle);
        free(s);
    }
}

static void test_objective_checks(void **state)
{
    char *a = replace(tiny, "\"reg:squarederror\"", "\"binary:logistic\"");
    char *b = replace(a, "\"base_score\":\"0\"", "\"base_score\":\"1\"");
    char *c = replace(a, "\"num_class\":\"0\"", "\"num_class\":\"3\"");
    char *d = replace(tiny, "\"reg:squarederror\"", "\"multi:softprob\"");
    char *e = replace(d, "\"num_class\":\"0\"", "\"num_class\":\"1\"");

    (void)state;
    refuse_buffer(a, MD_ECORRUPT, "base_score: 0 is not in (0, 1) for binary:logistic");
    refuse_buffer(b, MD_ECORRUPT, "base_score: 1 is not in (0, 1)");
    refuse_buffer(c, MD_ECORRUPT, "num_class: 3 classes for 'binary:logistic'");
    refuse_buffer(e, MD_ECORRUPT, "num_class: 1 is below 2 for multi:softprob");
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

static void test_not_json(void **state)
{
    static const char *const junk[] = {"", "{", "hello", "{\"learner\": {]", "[]", "7", "null"};
    size_t len;
    char *good = slurp(MODELS "binary.json", &len);
    struct md_err err;
    void *inst;
    size_t cut;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(junk); i++)
        refuse_buffer(junk[i], MD_ECORRUPT, i >= 4 ? "top level: " : "not valid JSON");
    /* Every truncation of a real model is refused, never loaded or crashed on. */
    for (cut = 0; cut < len; cut += 1 + cut / 16) {
        inst = (void *)1;
        assert_int_equal(md_trees__load_buffer(good, cut, &inst, &err), MD_ECORRUPT);
        assert_null(inst);
    }
    assert_int_equal(md_trees__load_buffer(good, len, &inst, &err), MD_OK);
    md_backend_trees.free(inst);
    free(good);
}

static void test_refused_models(void **state)
{
    static const struct {
        const char *file;
        const char *needle;
    } refused[] = {
        {"categorical.json", "categorical splits are not supported"},
        {"dart.json", "'dart' boosters are not supported"},
        {"gblinear.json", "'gblinear' boosters are not supported"},
        {"softmax.json", "'multi:softmax' is not supported"},
        {"reg_logistic.json", "'reg:logistic' is not supported"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(refused); i++) {
        char path[256];
        struct md_err err;
        void *inst = (void *)1;

        snprintf(path, sizeof(path), MODELS "%s", refused[i].file);
        assert_int_equal(engine_load("trees", path, NULL, 0, &inst, &err), MD_EUNSUPPORTED);
        assert_null(inst);
        if (strstr(err.msg, refused[i].needle) == NULL)
            fail_msg("%s: '%s'", path, err.msg);
    }
}

static void test_files(void **state)
{
    size_t len;
    char *good = slurp(MODELS "binary.json", &len);
    char path[64];
    struct md_err err;
    void *inst = (void *)1;

    (void)state;
    assert_int_equal(engine_load("trees", "tests/data/models/no-such.json", NULL, 0, &inst, &err),
                     MD_EIO);
    assert_null(inst);
    assert_non_null(strstr(err.msg, "cannot open 'tests/data/models/no-such.json'"));
    assert_int_equal(engine_load("trees", "tests/data/models", NULL, 0, &inst, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "not a regular file"));
    tmp_write(good, len / 2, path, sizeof(path));
    assert_int_equal(engine_load("trees", path, NULL, 0, &inst, &err), MD_ECORRUPT);
    assert_non_null(strstr(err.msg, "not valid JSON"));
    unlink(path);
    tmp_write(good, len, path, sizeof(path));
    assert_int_equal(engine_load("trees", path, NULL, 0, &inst, &err), MD_OK);
    md_backend_trees.free(inst);
    unlink(path);
    free(good);
}

static void test_options(void **state)
{
    static const struct {
        struct md_kv opt;
        const char *msg;
    } bad[] = {
        {{"threads", "2"}, "engine option 'threads': unknown to backend 'trees' (known: nthread)"},
        {{"nthread", "0"}, "engine option 'nthread': '0' is not an integer from 1 to 64"},
        {{"nthread", "65"}, "engine option 'nthread': '65' is not an integer from 1 to 64"},
        {{"nthread", "2x"}, "engine option 'nthread': '2x' is not an integer from 1 to 64"},
        {{"nthread", ""}, "engine option 'nthread': '' is not an integer from 1 to 64"},
    };
    const struct md_kv good = {"nthread", "4"};
    struct md_err err;
    void *inst = (void *)1;
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(bad); i++) {
        inst = (void *)1;
        assert_int_equal(engine_load("trees", MODELS "binary.json", &bad[i].opt, 1, &inst, &err),
                         MD_EINVAL);
        assert_null(inst);
        assert_string_equal(err.msg, bad[i].msg);
    }
    assert_int_equal(engine_load("trees", MODELS "binary.json", &good, 1, &inst, &err), MD_OK);
    md_backend_trees.free(inst);
}

static void test_ops_table(void **state)
{
    (void)state;
    assert_ptr_equal(md_backend_find("trees"), &md_backend_trees);
    assert_int_equal(md_backend_trees.abi, MD_BACKEND_ABI);
    assert_string_equal(md_backend_trees.name, "trees");
    assert_null(md_backend_trees.learn);
    assert_non_null(md_backend_trees.train);
    md_backend_trees.free(NULL);
}

/* ------------------------------------------------------------------- threads */

/* A load picks the best instruction set for batches; others can be asked for by name. */
static void test_isa(void **state)
{
    void *inst = load_tiny(tiny);
    const char *best = md_trees__isa(inst);
    float x[16 * 3];
    float want[16];
    float got[16];
    size_t i;

    (void)state;
    for (i = 0; i < 16 * 3; i++)
        x[i] = i % 3 == 1 ? (float)i / 48.0f : 0.0f;
    for (i = 0; i < 16; i++)
        want[i] = x[3 * i + 1] < 0.5f ? -1.0f : 2.0f;
#ifdef __x86_64__
    assert_string_equal(best, __builtin_cpu_supports("avx2") ? "avx2" : "generic");
    assert_int_equal(md_trees__set_isa(inst, "avx2"),
                     __builtin_cpu_supports("avx2") ? MD_OK : MD_EUNSUPPORTED);
#else
    assert_string_equal(best, "generic");
    assert_int_equal(md_trees__set_isa(inst, "avx2"), MD_ENOTFOUND);
#endif
    assert_int_equal(md_trees__set_isa(inst, "sse9"), MD_ENOTFOUND);
    assert_int_equal(md_trees__set_isa(inst, NULL), MD_ENOTFOUND);
    assert_int_equal(md_trees__set_isa(inst, "generic"), MD_OK);
    assert_string_equal(md_trees__isa(inst), "generic");
    engine_predict_ok("trees", inst, x, 16, got);
    assert_memory_equal(got, want, sizeof(got));
    md_backend_trees.free(inst);
}

static void test_threads(void **state)
{
    char model[512];
    char path[512];
    struct rows r;
    void *inst;

    (void)state;
    bench_paths(model, path, sizeof(path));
    if (!rows_read(path, 30, 1, &r))
        fail_msg("cannot read '%s'", path);
    inst = engine_load_ok("trees", model, NULL, 0);
    engine_check_threads("trees", inst, &r, 30, 1);
    md_backend_trees.free(inst);
    rows_release(&r);
}

/* ------------------------------------------------------------------ UBJSON */

/* Outputs of the trees engine for n rows of x from the model at path. */
static float *outputs(const char *path, const float *x, size_t n, bool one_by_one, size_t *n_out)
{
    struct md_backend_desc d;
    void *inst = engine_load_ok("trees", path, NULL, 0);
    float *out;
    size_t i;

    describe("trees", inst, &d);
    out = calloc(n * d.n_outputs, sizeof(float));
    assert_non_null(out);
    if (one_by_one)
        for (i = 0; i < n; i++)
            engine_predict_ok("trees", inst, x + i * d.n_features, 1, out + i * d.n_outputs);
    else
        engine_predict_ok("trees", inst, x, n, out);
    md_backend_trees.free(inst);
    *n_out = n * d.n_outputs;
    return out;
}

/* The model saved as JSON and as UBJSON by XGBoost gives the same floats, bit for bit. */
static void same_both_ways(const char *json, const char *ubj, const float *x, size_t n)
{
    int one;

    for (one = 0; one < 2; one++) {
        size_t na;
        size_t nb;
        float *a = outputs(json, x, n, one, &na);
        float *b = outputs(ubj, x, n, one, &nb);

        assert_int_equal(na, nb);
        same_floats(ubj, one ? "row by row" : "batch", b, a, na);
        free(a);
        free(b);
    }
}

static void test_ubjson_same_outputs(void **state)
{
    char model[512];
    char rows[512];
    struct rows r;
    uint64_t seed = 99;
    size_t k;

    (void)state;
    bench_paths(model, rows, sizeof(model));
    if (!rows_read(rows, 30, 1, &r))
        fail_msg("cannot read '%s'", rows);
    same_both_ways(model, "tests/data/bench/bench_model.ubj", r.x, r.n);
    {
        size_t n;
        float *b = outputs("tests/data/bench/bench_model.ubj", r.x, r.n, false, &n);

        assert_close(b, r.ref, r.n, "bench_model.ubj against libxgboost");
        free(b);
    }
    rows_release(&r);
    for (k = 0; k < MD_ARRAY_LEN(smalls); k++) {
        char json[256];
        char ubj[256];
        float *x;

        if (!smalls[k].trees)
            continue;
        snprintf(json, sizeof(json), MODELS "%s.json", smalls[k].name);
        snprintf(ubj, sizeof(ubj), MODELS "%s.ubj", smalls[k].name);
        x = random_rows(&seed, 300, smalls[k].nf);
        same_both_ways(json, ubj, x, 300);
        free(x);
    }
}

/*
 * UBJSON's booleans for default_left (XGBoost writes 0 and 1): true and false
 * as written, the same outputs as the 0 and 1 of the file XGBoost wrote.
 */
static void test_ubjson_booleans(void **state)
{
    static const char key[] = "default_left[$U#L";
    size_t len;
    char *buf = slurp(MODELS "stump.ubj", &len);
    char *out = malloc(len);
    char path[64];
    uint64_t seed = 5;
    size_t at = 0;
    size_t o = 0;
    size_t trees = 0;
    float *x;

    (void)state;
    assert_non_null(out);
    /* Every tree's typed U8 default_left becomes a counted array of T and F: 2 bytes shorter. */
    while (at < len) {
        if (at + sizeof(key) - 1 + 8 <= len && memcmp(buf + at, key, sizeof(key) - 1) == 0) {
            size_t n = 0;
            size_t i;

            memcpy(out + o, "default_left[#L", 15);
            o += 15;
            at += sizeof(key) - 1;
            for (i = 0; i < 8; i++)
                n = n << 8 | (unsigned char)buf[at + i];
            memcpy(out + o, buf + at, 8);
            o += 8;
            at += 8;
            for (i = 0; i < n; i++)
                out[o++] = buf[at++] ? 'T' : 'F';
            trees++;
            continue;
        }
        out[o++] = buf[at++];
    }
    assert_int_equal(trees, 2);
    tmp_write(out, o, path, sizeof(path));
    x = random_rows(&seed, 200, 5);
    same_both_ways(MODELS "stump.json", path, x, 200);
    unlink(path);
    free(x);
    free(out);
    free(buf);
}

/* Every truncation of a UBJSON model is refused, never loaded or crashed on. */
static void test_ubjson_truncated(void **state)
{
    size_t len;
    char *good = slurp(MODELS "stump.ubj", &len);
    struct md_err err;
    void *inst;
    size_t cut;

    (void)state;
    for (cut = 0; cut < len; cut++) {
        inst = (void *)1;
        assert_int_equal(md_trees__load_buffer(good, cut, &inst, &err), MD_ECORRUPT);
        assert_null(inst);
        if (cut > 1 && strncmp(err.msg, "not valid UBJSON: ", 18) != 0)
            fail_msg("cut at %zu: '%s'", cut, err.msg);
    }
    free(good);
}

/* ----------------------------------------------------- checks for libxgboost */

/* Every test model, either form, passes md_trees_check, whichever engine runs it. */
static void test_check_accepts_real_models(void **state)
{
    glob_t g;
    size_t i;

    (void)state;
    assert_int_equal(glob(MODELS "*.json", 0, NULL, &g), 0);
    assert_int_equal(glob(MODELS "*.ubj", GLOB_APPEND, NULL, &g), 0);
    assert_int_equal(glob("tests/data/bench/bench_model.*", GLOB_APPEND, NULL, &g), 0);
    assert_true(g.gl_pathc >= 26);
    for (i = 0; i < g.gl_pathc; i++) {
        size_t len;
        size_t start = 99;
        char *buf = slurp(g.gl_pathv[i], &len);
        struct md_err err;

        md_err_clear(&err);
        if (md_trees_check(buf, len, &start, &err) != MD_OK)
            fail_msg("%s: %s", g.gl_pathv[i], err.msg);
        assert_int_equal(start, 0);
        free(buf);
    }
    globfree(&g);
}

/* A check against what libxgboost reads beyond the trees engine; where the document starts. */
static void test_check_start(void **state)
{
    static const char ws[] = " \n\t";
    char *cats = replace(tiny, "\"categories\":[]",
                         "\"categories\":[],\"categories_nodes\":[],"
                         "\"categories_segments\":[],\"categories_sizes\":[]");
    char *parents = replace(tiny, "\"default_left\"",
                            "\"parents\":[2147483647,0,0],"
                            "\"default_left\"");
    char *both = replace(cats, "\"default_left\"",
                         "\"parents\":[2147483647,0,0],"
                         "\"default_left\"");
    size_t n = strlen(both);
    char *buf = malloc(n + sizeof(ws));
    struct md_err err;
    size_t start = 0;

    (void)state;
    assert_non_null(buf);
    /* tiny has no parents: the trees engine needs none, libxgboost does. */
    assert_int_equal(md_trees_check(cats, strlen(cats), &start, &err), MD_ECORRUPT);
    assert_non_null(strstr(err.msg, "trees[0].parents: missing"));
    /* With split_type, libxgboost reads the categorical arrays too. */
    assert_int_equal(md_trees_check(parents, strlen(parents), &start, &err), MD_ECORRUPT);
    assert_non_null(strstr(err.msg, "trees[0].categories_nodes: missing"));
    memcpy(buf, ws, sizeof(ws) - 1);
    memcpy(buf + sizeof(ws) - 1, both, n);
    assert_int_equal(md_trees_check(buf, n + sizeof(ws) - 1, &start, &err), MD_OK);
    assert_int_equal(start, sizeof(ws) - 1);
    free(buf);
    free(cats);
    free(parents);
    free(both);
}

/* A key twice in an object is refused by both readers: libxgboost might take the other one. */
static void test_repeated_keys(void **state)
{
    char *a = replace(tiny, "\"version\":", "\"learner\":");
    char *b = replace(tiny, "\"id\":0,", "\"id\":0,\"id\":0,");
    char *c = replace(tiny, "\"feature_names\":[]", "\"feature_names\":[],\"attributes\":{}");
    char attrs[2048] = "\"attributes\":{";
    char *d;
    int i;

    (void)state;
    refuse_buffer(a, MD_ECORRUPT, "top level: the key 'learner' appears twice");
    refuse_buffer(b, MD_ECORRUPT,
                  "learner.gradient_booster.model.trees[0]: the key 'id' appears twice");
    /* Objects of many keys are sorted to find a repeat. */
    for (i = 0; i < 60; i++)
        snprintf(attrs + strlen(attrs), sizeof(attrs) - strlen(attrs), "%s\"k%d\":\"v\"",
                 i > 0 ? "," : "", i == 59 ? 17 : i);
    snprintf(attrs + strlen(attrs), sizeof(attrs) - strlen(attrs), "}");
    d = replace(c, "\"attributes\":{}", attrs);
    refuse_buffer(d, MD_ECORRUPT, "learner.attributes: the key 'k17' appears twice");
    free(d);
    free(a);
    free(b);
    free(c);
}

/* A pickle is never read, whatever the engine: it says how to save the model instead. */
static void test_pickle(void **state)
{
    static const char pickle[] = "\x80\x05\x95\x10\0\0\0\0\0\0\0}\x94.";
    char path[64];
    char named[80];
    struct md_err err;
    void *inst = (void *)1;
    size_t len;
    char *good = slurp(MODELS "stump.json", &len);

    (void)state;
    tmp_write(pickle, sizeof(pickle) - 1, path, sizeof(path));
    assert_int_equal(engine_load("trees", path, NULL, 0, &inst, &err), MD_EUNSUPPORTED);
    assert_null(inst);
    assert_non_null(strstr(err.msg, "is a Python pickle: pickles are never loaded (loading one "
                                    "runs code); save the booster with "
                                    "booster.save_model('model.json')"));
    unlink(path);
    tmp_write(good, len, path, sizeof(path));
    snprintf(named, sizeof(named), "%s.PKL", path);
    assert_int_equal(rename(path, named), 0);
    assert_int_equal(engine_load("trees", named, NULL, 0, &inst, &err), MD_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, ".PKL' is a Python pickle"));
    unlink(named);
    assert_false(md_backend_is_pickle("m.json", "\x80\x01", 2));
    assert_false(md_backend_is_pickle("m.json", "\x80\x06", 2));
    assert_true(md_backend_is_pickle("m.json", "\x80\x02", 2));
    assert_true(md_backend_is_pickle("dir.pkl/m.pickle", "{", 1));
    assert_false(md_backend_is_pickle("m.pkl.json", "{", 1));
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_rows_single),
        cmocka_unit_test(test_bench_rows_batch),
        cmocka_unit_test(test_bench_rows_split),
        cmocka_unit_test(test_bench_agrees_with_xgboost),
        cmocka_unit_test(test_repository_models),
        cmocka_unit_test(test_small_models),
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_random_models),
        cmocka_unit_test(test_split_rule),
        cmocka_unit_test(test_lenient_forms),
        cmocka_unit_test(test_nonfinite_words),
        cmocka_unit_test(test_wide_model),
        cmocka_unit_test(test_corrupt_and_refused),
        cmocka_unit_test(test_objective_checks),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_refused_models),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_isa),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_ubjson_same_outputs),
        cmocka_unit_test(test_ubjson_booleans),
        cmocka_unit_test(test_ubjson_truncated),
        cmocka_unit_test(test_check_accepts_real_models),
        cmocka_unit_test(test_check_start),
        cmocka_unit_test(test_repeated_keys),
        cmocka_unit_test(test_pickle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
