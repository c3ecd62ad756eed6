/* SPDX-License-Identifier: MIT */
/*
 * test_xgboost.c: the reference engine (backend `xgboost`, libxgboost's C
 * API): load, describe, predict against the Python package's outputs,
 * options, refused objectives, unreadable and corrupt files, concurrent
 * predictions; UBJSON; and the checks every file passes before libxgboost
 * sees it (the variants that crashed, hung or misled libxgboost are refused
 * with the trees engine's reason; pickles too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

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
    refuse(path, NULL, 0, MD_ECORRUPT, "not valid JSON: ");
    unlink(path);
    tmp_write("{\"learner\": 7}", 14, path, sizeof(path));
    refuse(path, NULL, 0, MD_ECORRUPT, "learner: a number, expected an object");
    unlink(path);
    /* XGBoost's old binary format cannot be checked: refused. */
    tmp_write("binf\0\0\0\0\0\0", 10, path, sizeof(path));
    refuse(path, NULL, 0, MD_ECORRUPT, "not valid JSON");
    unlink(path);
}

/* ------------------------------------------------ UBJSON, checks before libxgboost */

/* The same models saved as UBJSON give the Python package's outputs too. */
static void test_ubjson(void **state)
{
    const float x[2][5] = {{0, 0, 0, 0, 1}, {0, 0, 0, 0, 2}};
    float a[2];
    float b[2];
    void *inst;
    size_t k;

    (void)state;
    for (k = 0; k < MD_ARRAY_LEN(smalls); k++) {
        struct small ubj = smalls[k];
        struct rows r;
        float *out;
        char name[64];

        snprintf(name, sizeof(name), "%s", smalls[k].name);
        ubj.name = name;
        ubj.ext = ".ubj";
        xgb()->free(engine_check_small("xgboost", &ubj, &r, &out));
        free(out);
        rows_release(&r);
    }
    inst = engine_load_ok("xgboost", MODELS "categorical.json", NULL, 0);
    engine_predict_ok("xgboost", inst, &x[0][0], 2, a);
    xgb()->free(inst);
    inst = engine_load_ok("xgboost", MODELS "categorical.ubj", NULL, 0);
    engine_predict_ok("xgboost", inst, &x[0][0], 2, b);
    xgb()->free(inst);
    assert_memory_equal(a, b, sizeof(a));
}

/* binary.json with edit applied, written to a temporary file (path, cap >= 64). */
static void edited(void (*edit)(json_t *root), char *path, size_t cap)
{
    json_error_t jerr;
    json_t *root = json_load_file(MODELS "binary.json", 0, &jerr);
    char *text;

    assert_non_null(root);
    edit(root);
    text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    tmp_write(text, strlen(text), path, cap);
    free(text);
    json_decref(root);
}

static json_t *tree(json_t *root, size_t i)
{
    return json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(root, "learner"), "gradient_booster"),
                            "model"),
            "trees"),
        i);
}

static json_t *gbm(json_t *root)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(root, "learner"), "gradient_booster"),
                        "model"),
        "gbtree_model_param");
}

static void set_int(json_t *root, size_t t, const char *key, size_t i, json_int_t v)
{
    assert_int_equal(json_array_set_new(json_object_get(tree(root, t), key), i, json_integer(v)),
                     0);
}

static void child_99999(json_t *r)
{
    set_int(r, 2, "left_children", 0, 99999);
}

static void child_minus_5(json_t *r)
{
    set_int(r, 2, "left_children", 0, -5);
}

static void feature_minus_1(json_t *r)
{
    set_int(r, 2, "split_indices", 0, -1);
}

static void feature_1000(json_t *r)
{
    set_int(r, 2, "split_indices", 0, 1000);
}

static void num_trees(json_t *r)
{
    json_object_set_new(gbm(r), "num_trees", json_string("1000000"));
}

static void tree_id(json_t *r)
{
    json_object_set_new(tree(r, 2), "id", json_integer(3));
}

static void cycle(json_t *r)
{
    /* Node 1 (the root's left child) points back at the root and at node 1. */
    set_int(r, 2, "left_children", 1, 0);
    set_int(r, 2, "right_children", 1, 1);
}

static void missing_tree(json_t *r)
{
    json_array_remove(json_object_get(json_object_get(json_object_get(json_object_get(r, "learner"),
                                                                      "gradient_booster"),
                                                      "model"),
                                      "trees"),
                      1);
}

static void nan_threshold(json_t *r)
{
    /* Replaced by NaN in the text: jansson writes no NaN. */
    json_array_set_new(json_object_get(tree(r, 2), "split_conditions"), 0, json_real(123.25));
}

static void parent_out_of_range(json_t *r)
{
    set_int(r, 2, "parents", 7, 99);
}

static void parent_wrong(json_t *r)
{
    set_int(r, 2, "parents", 3, 2);
}

static void no_parents(json_t *r)
{
    json_object_del(tree(r, 2), "parents");
}

static void duplicate_key(json_t *r)
{
    /* Renamed to a second "trees" in the text. */
    json_object_set_new(json_object_get(json_object_get(r, "learner"), "gradient_booster"), "zzzzz",
                        json_integer(1));
}

static void softmax_classes(json_t *r)
{
    json_t *obj = json_object_get(json_object_get(r, "learner"), "objective");
    json_t *p = json_object();

    json_object_set_new(p, "num_class", json_string("4"));
    json_object_set_new(obj, "softmax_multiclass_param", p);
    json_object_set_new(obj, "name", json_string("multi:softmax"));
    json_object_set_new(json_object_get(json_object_get(r, "learner"), "learner_model_param"),
                        "num_class", json_string("3"));
}

/*
 * Each variant libxgboost trusts (it crashed, spun or answered wrongly on
 * them) is refused before libxgboost sees it, with the trees engine's reason;
 * these loads run in this process, so a crash would end the test.
 */
static void test_checked_first(void **state)
{
    static const struct {
        void (*edit)(json_t *root);
        const char *from; /* replaced in the text by to, when not NULL */
        const char *to;
        const char *needle;
    } cases[] = {
        {child_99999, NULL, NULL, "trees[2].left_children[0]: child 99999 out of range (15 nodes)"},
        {child_minus_5, NULL, NULL, "trees[2].left_children[0]: child -5 out of range"},
        {feature_minus_1, NULL, NULL, "trees[2].split_indices[0]: feature -1 out of range"},
        {feature_1000, NULL, NULL, "split_indices[0]: feature 1000 out of range (num_feature 5)"},
        {num_trees, NULL, NULL, "4 trees, num_trees says 1000000"},
        {tree_id, NULL, NULL, ".id: 3 is out of range or repeated (4 trees)"},
        {cycle, NULL, NULL, "trees[2]: node 1 has a child reached twice (0, 1)"},
        {missing_tree, NULL, NULL, "3 trees, num_trees says 4"},
        {nan_threshold, "123.25", "NaN", "trees[2].split_conditions[0]: NaN is not a threshold"},
        {parent_out_of_range, NULL, NULL, "trees[2].parents[7]: node 99 out of range (15 nodes)"},
        {parent_wrong, NULL, NULL, "trees[2].parents[3]: 2, but node 1 is its parent"},
        {no_parents, NULL, NULL, "trees[2].parents: missing"},
        {duplicate_key, "\"zzzzz\":1", "\"model\":1",
         "learner.gradient_booster: the key 'model' appears twice"},
        {softmax_classes, NULL, NULL,
         "softmax_multiclass_param.num_class: 4, learner_model_param.num_class says 3"},
    };
    char path[64];
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        edited(cases[i].edit, path, sizeof(path));
        if (cases[i].from != NULL) {
            size_t len;
            FILE *f = fopen(path, "rb");
            char text[65536];
            char *at;

            assert_non_null(f);
            len = fread(text, 1, sizeof(text) - 1, f);
            fclose(f);
            text[len] = '\0';
            at = strstr(text, cases[i].from);
            assert_non_null(at);
            memmove(at + strlen(cases[i].to), at + strlen(cases[i].from),
                    len - (size_t)(at - text) - strlen(cases[i].from) + 1);
            memcpy(at, cases[i].to, strlen(cases[i].to));
            tmp_write(text, strlen(text), path, sizeof(path));
        }
        refuse(path, NULL, 0, MD_ECORRUPT, cases[i].needle);
        unlink(path);
    }
}

/* A copy of file src with the first from (n bytes) replaced by to (m bytes), to a temporary file.
 */
static void patched(const char *src, const void *from, size_t n, const void *to, size_t m,
                    char *path, size_t cap)
{
    FILE *f = fopen(src, "rb");
    static char buf[1 << 20];
    char *out;
    size_t len;
    size_t at;

    assert_non_null(f);
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    for (at = 0; at + n <= len && memcmp(buf + at, from, n) != 0; at++)
        ;
    assert_true(at + n <= len);
    out = malloc(len - n + m);
    assert_non_null(out);
    memcpy(out, buf, at);
    memcpy(out + at, to, m);
    memcpy(out + at + m, buf + at + n, len - at - n);
    tmp_write(out, len - n + m, path, cap);
    free(out);
}

/* What libxgboost reads unchecked beyond what the trees engine runs: categories, dart, gblinear. */
static void test_checked_beyond_trees(void **state)
{
    static const struct {
        const char *file;
        const char *from;
        const char *to;
        const char *needle;
    } cases[] = {
        {"categorical.json", "\"categories_sizes\":[2]", "\"categories_sizes\":[3]",
         "trees[0].categories_segments[0]: 3 categories from 0 are not within categories (2)"},
        {"categorical.json", "\"categories\":[0,2]", "\"categories\":[0,-2]",
         "trees[0].categories[1]: -2 is not a category from 0 to 16777215"},
        {"categorical.json", "\"categories\":[0,2]", "\"categories\":[0,16777216]",
         "categories[1]: 16777216 is not a category"},
        {"categorical.json", "\"categories_nodes\":[0]", "\"categories_nodes\":[1]",
         "trees[0].categories_nodes[0]: 1 is not the next categorical split"},
        {"categorical.json", "\"categories_segments\":[0]", "\"categories_segments\":[0,0]",
         "trees[0].categories_segments: 2 entries, split_type has 1 categorical splits"},
        {"categorical.json", "\"split_type\":[1,0,0]", "\"split_type\":[2,0,0]",
         "trees[0].split_type[0]: 2 is not 0 (numerical) or 1 (categorical)"},
        {"dart.json", "\"weight_drop\":[", "\"weight_drop\":[1,",
         "learner.gradient_booster.weight_drop: 4 entries, num_trees says 3"},
        {"gblinear.json", "\"weights\":[", "\"weights\":[1,",
         "learner.gradient_booster.model.weights: 7 entries, expected 6"},
        {"binary.json", "\"gbtree\"", "\"gbforest\"",
         "learner.gradient_booster.name: 'gbforest' is not gbtree, dart or gblinear"},
    };
    char src[128];
    char path[64];
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        snprintf(src, sizeof(src), MODELS "%s", cases[i].file);
        patched(src, cases[i].from, strlen(cases[i].from), cases[i].to, strlen(cases[i].to), path,
                sizeof(path));
        refuse(path, NULL, 0, strstr(cases[i].needle, "gbforest") ? MD_EUNSUPPORTED : MD_ECORRUPT,
               cases[i].needle);
        unlink(path);
    }
}

/*
 * UBJSON default_left as booleans: libxgboost 1.7 reads every UBJSON false
 * as true, so the check refuses them (the trees engine reads them right).
 */
static void test_ubjson_false(void **state)
{
    static const char from[] = "default_left[$U#L\0\0\0\0\0\0\0\x03\x01\0\0";
    static const char to[] = "default_left[#L\0\0\0\0\0\0\0\x03TFF";
    char path[64];

    (void)state;
    patched(MODELS "categorical.ubj", from, sizeof(from) - 1, to, sizeof(to) - 1, path,
            sizeof(path));
    refuse(path, NULL, 0, MD_ECORRUPT,
           "trees[0].default_left[0]: a boolean, expected 0 or 1 (libxgboost 1.7 reads a UBJSON "
           "false as true)");
    unlink(path);
}

/* What passes the checks but libxgboost refuses still says why, in printable text. */
static void test_libxgboost_refuses(void **state)
{
    static const char from[] = "\"binary:logistic\"";
    static const char to[] = "\"bin\xc3\xa4ry:logistic\"";
    struct md_err err;
    char path[64];
    void *inst = NULL;
    size_t i;

    (void)state;
    patched(MODELS "binary.json", from, sizeof(from) - 1, to, sizeof(to) - 1, path, sizeof(path));
    assert_int_equal(engine_load("xgboost", path, NULL, 0, &inst, &err), MD_ECORRUPT);
    assert_null(inst);
    assert_non_null(strstr(err.msg, "model: libxgboost: "));
    assert_non_null(strstr(err.msg, "bin??ry:logistic"));
    for (i = 0; err.msg[i] != '\0'; i++)
        assert_true(err.msg[i] >= 0x20 && err.msg[i] < 0x7f);
    unlink(path);
}

static void test_pickle(void **state)
{
    static const char pickle[] = "\x80\x04\x95\x10\0\0\0\0\0\0\0}\x94.";
    FILE *f = fopen(MODELS "binary.json", "rb");
    char buf[65536];
    char path[64];
    char named[80];
    size_t n;

    (void)state;
    tmp_write(pickle, sizeof(pickle) - 1, path, sizeof(path));
    refuse(path, NULL, 0, MD_EUNSUPPORTED,
           "is a Python pickle: pickles are never loaded (loading one runs code); save the "
           "booster with booster.save_model('model.json')");
    unlink(path);
    /* By name too, whatever it holds: a .pkl, .pickle or .joblib is a pickle. */
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    tmp_write(buf, n, path, sizeof(path));
    snprintf(named, sizeof(named), "%s.joblib", path);
    assert_int_equal(rename(path, named), 0);
    refuse(named, NULL, 0, MD_EUNSUPPORTED, ".joblib' is a Python pickle");
    unlink(named);
}

static void test_ops_table(void **state)
{
    (void)state;
    assert_int_equal(xgb()->abi, MD_BACKEND_ABI);
    assert_string_equal(xgb()->name, "xgboost");
    assert_null(xgb()->learn);
    assert_non_null(xgb()->train);
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
        cmocka_unit_test(test_threads),       cmocka_unit_test(test_ubjson),
        cmocka_unit_test(test_checked_first), cmocka_unit_test(test_checked_beyond_trees),
        cmocka_unit_test(test_ubjson_false),  cmocka_unit_test(test_libxgboost_refuses),
        cmocka_unit_test(test_pickle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
