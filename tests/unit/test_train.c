/* SPDX-License-Identifier: MIT */
/*
 * test_train.c: the engines' train operations (backend/xgboost_train.c for
 * the xgboost and trees engines, backend/train.c's checks): a model trained
 * here on the training sets of tests/data/train, loaded by the engines,
 * predicts what the Python package's model trained on the same rows with
 * the same parameters predicts (tests/data/train/make_train.py writes the
 * references); parameters taken from a parent; reproducible trainings; bad
 * parameters and bad data refused naming what is wrong.
 */
#include "engine_rows.h"

#include <jansson.h>
#include <sys/stat.h>

#include "backend/train.h"
#include "backend/trees_int.h"

#define TRAIN     "tests/data/train/"
#define NF        5
#define NROWS     300
#define TRAIN_TOL 1e-5

static const char *const names[NF] = {"amount", "age", "score", "days", "ratio"};

/* A training set read from a CSV of tests/data/train: features, label, weight, outputs. */
struct set {
    struct rows r;
    float y[NROWS];
    float w[NROWS];
    float *ref; /* n_out per row */
    size_t n_out;
    struct md_train_data d;
};

static void set_read(const char *file, size_t n_out, enum md_backend_out kind, size_t n_classes,
                     struct set *s)
{
    char path[256];
    size_t i;
    size_t k;

    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), TRAIN "%s", file);
    if (!rows_read(path, NF, 2 + n_out, &s->r) || s->r.n != NROWS)
        fail_msg("cannot read %s", path);
    s->n_out = n_out;
    s->ref = calloc(NROWS * n_out, sizeof(float));
    assert_non_null(s->ref);
    for (i = 0; i < NROWS; i++) {
        s->y[i] = s->r.ref[i * (2 + n_out)];
        s->w[i] = s->r.ref[i * (2 + n_out) + 1];
        for (k = 0; k < n_out; k++)
            s->ref[i * n_out + k] = s->r.ref[i * (2 + n_out) + 2 + k];
    }
    s->d = (struct md_train_data){s->r.x, s->y, s->w, NROWS, NF, names, kind, n_classes, 1};
}

static void set_release(struct set *s)
{
    rows_release(&s->r);
    free(s->ref);
}

static int train(const char *engine, const struct md_kv *params, size_t n, const struct set *s,
                 const char *parent, char *out, size_t cap, struct md_err *err)
{
    struct md_backend_config cfg = {params, n};
    int fd;

    snprintf(out, cap, "/tmp/md_train_test_XXXXXX");
    fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    md_err_clear(err);
    return engine_ops(engine)->train(&cfg, &s->d, parent, out, err);
}

static void train_ok(const char *engine, const struct md_kv *params, size_t n, const struct set *s,
                     const char *parent, char *out, size_t cap)
{
    struct md_err err;

    if (train(engine, params, n, s, parent, out, cap, &err) != MD_OK)
        fail_msg("%s: train: %s", engine, err.msg);
}

/* Fails the test unless every value is within TRAIN_TOL of the reference. */
static void near(const float *got, const float *want, size_t n, const char *what)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= TRAIN_TOL))
            fail_msg("%s: value %zu: got %.9g, want %.9g", what, i, (double)got[i],
                     (double)want[i]);
}

/* The artifact at path, loaded by engine, predicts s's reference outputs. */
static void predicts_ref(const char *engine, const char *path, const struct set *s)
{
    struct md_backend_desc desc;
    float *out = calloc(NROWS * s->n_out, sizeof(float));
    void *inst = engine_load_ok(engine, path, NULL, 0);
    size_t j;

    assert_non_null(out);
    engine_ops(engine)->describe(inst, &desc);
    assert_int_equal(desc.n_features, NF);
    assert_int_equal(desc.n_outputs, s->n_out);
    assert_int_equal(desc.kind, s->d.kind);
    assert_non_null(desc.feature_names);
    for (j = 0; j < NF; j++)
        assert_string_equal(desc.feature_names[j], names[j]);
    engine_predict_ok(engine, inst, s->r.x, NROWS, out);
    near(out, s->ref, NROWS * s->n_out, engine);
    engine_ops(engine)->free(inst);
    free(out);
}

static char *slurp(const char *path)
{
    char *buf;
    size_t len;
    struct md_err err;

    if (md_backend_read_artifact(path, &buf, &len, &err) != MD_OK)
        fail_msg("%s", err.msg);
    return buf;
}

/* The parameters the trained model at path records (its `modeld_params` attribute). */
static json_t *recorded(const char *path)
{
    char *buf = slurp(path);
    json_t *root = json_loads(buf, 0, NULL);
    const char *s = json_string_value(json_object_get(
        json_object_get(json_object_get(root, "learner"), "attributes"), "modeld_params"));
    json_t *p;

    assert_non_null(s);
    p = json_loads(s, 0, NULL);
    assert_non_null(p);
    json_decref(root);
    free(buf);
    return p;
}

/* ------------------------------------------------------------------ xgboost, trees */

struct xcase {
    const char *file;
    size_t n_out;
    enum md_backend_out kind;
    size_t n_classes;
    struct md_kv params[6];
    size_t n_params;
};

/* The parameters of make_train.py's XGB_CASES. */
static const struct xcase xcases[] = {
    {"xgb_binary.csv",
     1,
     MD_BACKEND_OUT_PROBABILITY,
     2,
     {{"max_depth", "3"}, {"eta", "0.3"}, {"subsample", "0.8"}, {"num_round", "12"}},
     4},
    {"xgb_multiclass.csv",
     3,
     MD_BACKEND_OUT_PROBABILITIES,
     3,
     {{"num_class", "3"}, {"max_depth", "2"}, {"eta", "0.5"}, {"num_round", "6"}},
     4},
    {"xgb_regression.csv",
     1,
     MD_BACKEND_OUT_VALUE,
     0,
     {{"objective", "reg:squarederror"},
      {"max_depth", "4"},
      {"eta", "0.2"},
      {"colsample_bytree", "0.6"},
      {"num_round", "15"}},
     5},
};

/* Trained by either engine, the model predicts as the Python package's, in both engines. */
static void test_xgb_like_python(void **state)
{
    static const char *const engines[] = {"xgboost", "trees"};
    char path[64];
    size_t c;
    size_t e;

    (void)state;
    for (c = 0; c < MD_ARRAY_LEN(xcases); c++) {
        const struct xcase *x = &xcases[c];
        struct set s;

        set_read(x->file, x->n_out, x->kind, x->n_classes, &s);
        for (e = 0; e < MD_ARRAY_LEN(engines); e++) {
            json_t *p;

            train_ok(engines[e], x->params, x->n_params, &s, NULL, path, sizeof(path));
            predicts_ref("xgboost", path, &s);
            predicts_ref("trees", path, &s);
            p = recorded(path);
            assert_string_equal(json_string_value(json_object_get(p, "tree_method")), "hist");
            assert_string_equal(json_string_value(json_object_get(p, "seed")), "0");
            json_decref(p);
            unlink(path);
        }
        set_release(&s);
    }
}

/*
 * With a parent and no parameters: its objective, depth (3) and rounds (4)
 * are taken; a model trained so is the parent of the next, which learns the
 * same model from the same rows.
 */
static void test_xgb_parent(void **state)
{
    char a[64];
    char b[64];
    char *ta;
    char *tb;
    json_t *p;
    struct set s;

    (void)state;
    set_read("xgb_parent.csv", 1, MD_BACKEND_OUT_PROBABILITY, 2, &s);
    train_ok("trees", NULL, 0, &s, MODELS "binary.json", a, sizeof(a));
    predicts_ref("trees", a, &s);
    p = recorded(a);
    assert_string_equal(json_string_value(json_object_get(p, "num_round")), "4");
    assert_string_equal(json_string_value(json_object_get(p, "max_depth")), "3");
    assert_string_equal(json_string_value(json_object_get(p, "objective")), "binary:logistic");
    json_decref(p);
    train_ok("xgboost", NULL, 0, &s, a, b, sizeof(b));
    ta = slurp(a);
    tb = slurp(b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    unlink(a);
    unlink(b);
    set_release(&s);
}

/* Two trainings on the same rows with the same parameters write the same bytes. */
static void test_xgb_reproducible(void **state)
{
    const struct md_kv p[] = {
        {"subsample", "0.5"}, {"colsample_bynode", "0.5"}, {"num_round", "8"}};
    char a[64];
    char b[64];
    char *ta;
    char *tb;
    struct set s;

    (void)state;
    set_read("xgb_binary.csv", 1, MD_BACKEND_OUT_PROBABILITY, 2, &s);
    train_ok("xgboost", p, MD_ARRAY_LEN(p), &s, NULL, a, sizeof(a));
    s.d.threads = 2;
    train_ok("xgboost", p, MD_ARRAY_LEN(p), &s, NULL, b, sizeof(b));
    ta = slurp(a);
    tb = slurp(b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    unlink(a);
    unlink(b);
    set_release(&s);
}

/*
 * The example fraud model as the parent of a trees training (as the closed
 * loop retrains it): its objective and depth are taken, and the result
 * serves in the trees engine with the training's feature names.
 */
static void test_xgb_example_parent(void **state)
{
    static const char *const cols[12] = {"c0", "c1", "c2", "c3", "c4",  "c5",
                                         "c6", "c7", "c8", "c9", "c10", "c11"};
    const struct md_kv few[] = {{"num_round", "5"}};
    enum { N = 400 };
    static float x[N * 12];
    float y[N];
    float out[N];
    struct md_train_data d = {x, y, NULL, N, 12, cols, MD_BACKEND_OUT_PROBABILITY, 2, 2};
    struct md_backend_desc desc;
    struct md_backend_config cfg = {few, 1};
    struct md_err err;
    char path[64];
    unsigned seed = 5;
    json_t *p;
    void *inst;
    size_t i;
    int fd;

    (void)state;
    for (i = 0; i < N * 12; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) % 1000) / 100.0f;
    }
    for (i = 0; i < N; i++)
        y[i] = x[i * 12] + x[i * 12 + 5] > 10 ? 1.0f : 0.0f;
    snprintf(path, sizeof(path), "/tmp/md_train_test_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    if (md_backend_trees.train(&cfg, &d, "examples/repo/fraud/2/model.json", path, &err) != MD_OK)
        fail_msg("train: %s", err.msg);
    p = recorded(path);
    assert_string_equal(json_string_value(json_object_get(p, "objective")), "binary:logistic");
    assert_string_equal(json_string_value(json_object_get(p, "num_round")), "5");
    assert_non_null(json_object_get(p, "max_depth"));
    json_decref(p);
    inst = engine_load_ok("trees", path, NULL, 0);
    md_backend_trees.describe(inst, &desc);
    assert_int_equal(desc.n_features, 12);
    assert_string_equal(desc.feature_names[11], "c11");
    engine_predict_ok("trees", inst, x, N, out);
    /* It learned the rule: most rows are on the right side of 0.5. */
    {
        size_t right = 0;

        for (i = 0; i < N; i++)
            right += (out[i] > 0.5f) == (y[i] > 0.5f);
        assert_true(right > N * 9 / 10);
    }
    md_backend_trees.free(inst);
    unlink(path);
}

static void refused(const char *engine, const struct md_kv *params, size_t n, const struct set *s,
                    const char *parent, const char *needle)
{
    char path[64];
    struct md_err err;
    int rc = train(engine, params, n, s, parent, path, sizeof(path), &err);
    struct stat st;

    if (rc != MD_EINVAL && rc != MD_EIO && rc != MD_EUNSUPPORTED && rc != MD_ECORRUPT)
        fail_msg("%s: want a refusal with '%s', got %s: '%s'", engine, needle, md_strerror(rc),
                 err.msg);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("%s: want '%s' in '%s'", engine, needle, err.msg);
    /* Nothing was written. */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    unlink(path);
}

static void test_xgb_bad_params(void **state)
{
    const struct md_kv unknown[] = {{"max_dept", "3"}};
    const struct md_kv rounds0[] = {{"num_round", "0"}};
    const struct md_kv rounds_x[] = {{"num_round", "ten"}};
    const struct md_kv depth_x[] = {{"max_depth", "deep"}, {"num_round", "1"}};
    const struct md_kv eta_neg[] = {{"eta", "-1"}, {"num_round", "1"}};
    const struct md_kv obj[] = {{"objective", "reg:squarederror"}};
    const struct md_kv obj_trees[] = {{"objective", "reg:logistic"}};
    const struct md_kv booster[] = {{"booster", "gblinear"}};
    const struct md_kv dart[] = {{"booster", "dart"}};
    const struct md_kv nthread[] = {{"nthread", "4"}};
    const struct md_kv classes[] = {{"num_class", "4"}};
    struct set s;
    struct set m;
    struct set r;

    (void)state;
    set_read("xgb_binary.csv", 1, MD_BACKEND_OUT_PROBABILITY, 2, &s);
    set_read("xgb_multiclass.csv", 3, MD_BACKEND_OUT_PROBABILITIES, 3, &m);
    set_read("xgb_regression.csv", 1, MD_BACKEND_OUT_VALUE, 0, &r);
    refused("xgboost", unknown, 1, &s, NULL,
            "params.max_dept: not a training parameter of the xgboost engine");
    refused("trees", nthread, 1, &s, NULL, "params.nthread: not a training parameter");
    refused("xgboost", rounds0, 1, &s, NULL,
            "params.num_round: '0' is not a whole number from 1 to 100000");
    refused("xgboost", rounds_x, 1, &s, NULL, "params.num_round: 'ten'");
    refused("xgboost", depth_x, 2, &s, NULL, "max_depth");
    refused("xgboost", eta_neg, 2, &s, NULL,
            "Parameter learning_rate should be greater equal to 0");
    refused("xgboost", obj, 1, &s, NULL,
            "params.objective: 'reg:squarederror' does not fit the model, a binary classifier");
    refused("trees", obj_trees, 1, &r, NULL, "the trees engine serves binary:logistic");
    refused("xgboost", booster, 1, &s, NULL, "params.booster: 'gblinear' is not gbtree or dart");
    refused("trees", dart, 1, &s, NULL, "params.booster: 'dart' is not gbtree");
    refused("xgboost", classes, 1, &m, NULL, "params.num_class: '4', but the model has 3 classes");
    refused("xgboost", NULL, 0, &s, MODELS "no-such.json", "cannot open");
    refused("xgboost", NULL, 0, &s, TRAIN "xgb_binary.csv", "parent '");
    set_release(&s);
    set_release(&m);
    set_release(&r);
}

static void test_bad_data(void **state)
{
    struct set s;
    struct set m;
    float y[NROWS];
    size_t i;

    (void)state;
    set_read("xgb_binary.csv", 1, MD_BACKEND_OUT_PROBABILITY, 2, &s);
    set_read("xgb_multiclass.csv", 3, MD_BACKEND_OUT_PROBABILITIES, 3, &m);
    for (i = 0; i < NROWS; i++)
        y[i] = 1;
    s.d.y = y;
    refused("xgboost", NULL, 0, &s, NULL,
            "labels: every row is class 1; training needs at least two classes");
    refused("linear", NULL, 0, &s, NULL, "labels: every row is class 1");
    y[7] = 0.5f;
    refused("trees", NULL, 0, &s, NULL, "labels: row 7 has 0.5, not a class index from 0 to 1");
    s.d.y = s.y;
    m.y[9] = 3;
    refused("xgboost", NULL, 0, &m, NULL, "labels: row 9 has 3, not a class index from 0 to 2");
    m.y[9] = 0;
    s.w[4] = 0;
    refused("xgboost", NULL, 0, &s, NULL, "weights: row 4 has 0, not a number above 0");
    s.w[4] = 1;
    s.r.x[2 * NF + 3] = INFINITY;
    refused("xgboost", NULL, 0, &s, NULL, "features: row 2, column 3 is infinite");
    s.r.x[2 * NF + 3] = 0;
    s.d.n_rows = 1;
    refused("linear", NULL, 0, &s, NULL, "training set: 1 rows; training needs at least 2");
    s.d.n_rows = NROWS;
    s.d.n_classes = 3;
    refused("trees", NULL, 0, &s, NULL, "classes: 3 for a binary model, expected 2");
    set_release(&s);
    set_release(&m);
}

/* ------------------------------------------------------------------ linear */

struct lcase {
    const char *file;
    const char *name; /* in lin_coef.csv */
    size_t n_out;
    enum md_backend_out kind;
    size_t n_classes;
};

static const struct lcase lcases[] = {
    {"lin_regression.csv", "regression", 1, MD_BACKEND_OUT_VALUE, 0},
    {"lin_binary.csv", "binary", 1, MD_BACKEND_OUT_PROBABILITY, 2},
    {"lin_multiclass.csv", "multiclass", 3, MD_BACKEND_OUT_PROBABILITIES, 3},
};

/* scikit-learn's coefficients and intercept for case name, class k (lin_coef.csv). */
static void sk_coef(const char *name, size_t k, double *coef)
{
    FILE *f = fopen(TRAIN "lin_coef.csv", "r");
    char line[1024];
    size_t seen = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = strchr(line, ',');
        size_t j;

        if (p == NULL || (size_t)(p - line) != strlen(name) || strncmp(line, name, strlen(name)))
            continue;
        if (seen++ != k)
            continue;
        for (j = 0; j <= NF; j++) {
            coef[j] = strtod(p + 1, &p);
            assert_true(j == NF || *p == ',');
        }
        fclose(f);
        return;
    }
    fclose(f);
    fail_msg("no coefficients for %s class %zu", name, k);
}

/*
 * Ridge, logistic and multinomial regression on standardised columns with
 * mean-filled missing cells: the artifact's weights and intercepts are
 * scikit-learn's (Ridge(alpha=l2), LogisticRegression(C=1/l2)) and the
 * linear engine, loading it, predicts what scikit-learn predicts.
 */
static void test_linear_like_sklearn(void **state)
{
    size_t c;

    (void)state;
    for (c = 0; c < MD_ARRAY_LEN(lcases); c++) {
        const struct lcase *lc = &lcases[c];
        char path[64];
        char *text;
        json_t *root;
        json_t *w;
        size_t k;
        size_t j;
        struct set s;

        set_read(lc->file, lc->n_out, lc->kind, lc->n_classes, &s);
        train_ok("linear", NULL, 0, &s, NULL, path, sizeof(path));
        predicts_ref("linear", path, &s);
        text = slurp(path);
        root = json_loads(text, 0, NULL);
        assert_non_null(root);
        assert_true(json_is_true(json_object_get(json_object_get(root, "metadata"), "converged")));
        w = json_object_get(root, "weights");
        for (k = 0; k < (lc->n_classes > 2 ? lc->n_classes : 1); k++) {
            double want[NF + 1];
            json_t *row = lc->n_classes > 2 ? json_array_get(w, k) : w;
            json_t *b = json_object_get(root, "intercept");

            sk_coef(lc->name, k, want);
            for (j = 0; j < NF; j++)
                if (!(fabs(json_number_value(json_array_get(row, j)) - want[j]) <= 1e-5))
                    fail_msg("%s: class %zu weight %zu: %.9g, scikit-learn %.9g", lc->name, k, j,
                             json_number_value(json_array_get(row, j)), want[j]);
            if (lc->n_classes > 2)
                b = json_array_get(b, k);
            if (!(fabs(json_number_value(b) - want[NF]) <= 1e-5))
                fail_msg("%s: class %zu intercept %.9g, scikit-learn %.9g", lc->name, k,
                         json_number_value(b), want[NF]);
        }
        json_decref(root);
        free(text);
        unlink(path);
        set_release(&s);
    }
}

/* Parameters: a stronger l2 shrinks; a child of a trained parent keeps its parameters. */
static void test_linear_params(void **state)
{
    const struct md_kv strong[] = {{"l2", "50"}, {"tol", "1e-9"}};
    char a[64];
    char b[64];
    char c[64];
    char *ta;
    char *tb;
    json_t *ja;
    json_t *jc;
    struct set s;

    (void)state;
    set_read("lin_binary.csv", 1, MD_BACKEND_OUT_PROBABILITY, 2, &s);
    train_ok("linear", strong, MD_ARRAY_LEN(strong), &s, NULL, a, sizeof(a));
    train_ok("linear", NULL, 0, &s, a, b, sizeof(b));
    train_ok("linear", NULL, 0, &s, NULL, c, sizeof(c));
    ta = slurp(a);
    tb = slurp(b);
    assert_string_equal(ta, tb);
    ja = json_loads(ta, 0, NULL);
    free(ta);
    free(tb);
    ta = slurp(c);
    jc = json_loads(ta, 0, NULL);
    free(ta);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(ja, "metadata"), "modeld_params"), "l2")),
        "50");
    /* The first weight (the strongest) is smaller under l2 = 50 than under the default 1. */
    assert_true(fabs(json_number_value(json_array_get(json_object_get(ja, "weights"), 0))) <
                0.8 * fabs(json_number_value(json_array_get(json_object_get(jc, "weights"), 0))));
    json_decref(ja);
    json_decref(jc);
    /* A logistic parent of a multinomial model: its l2 is taken, not its kind. */
    {
        struct set m;
        json_t *p;

        set_read("lin_multiclass.csv", 3, MD_BACKEND_OUT_PROBABILITIES, 3, &m);
        train_ok("linear", NULL, 0, &m, a, c, sizeof(c));
        ta = slurp(c);
        jc = json_loads(ta, 0, NULL);
        free(ta);
        p = json_object_get(json_object_get(jc, "metadata"), "modeld_params");
        assert_string_equal(json_string_value(json_object_get(p, "l2")), "50");
        assert_string_equal(json_string_value(json_object_get(p, "kind")), "multinomial");
        json_decref(jc);
        set_release(&m);
    }
    unlink(a);
    unlink(b);
    unlink(c);
    set_release(&s);
}

static void test_linear_bad_params(void **state)
{
    const struct md_kv unknown[] = {{"alpha", "1"}};
    const struct md_kv l2[] = {{"l2", "-1"}};
    const struct md_kv iters[] = {{"max_iter", "0"}};
    const struct md_kv tol[] = {{"tol", "small"}};
    const struct md_kv kind[] = {{"kind", "multinomial"}};
    const struct md_kv collinear[] = {{"l2", "0"}};
    struct set s;
    struct set r;
    size_t i;

    (void)state;
    set_read("lin_binary.csv", 1, MD_BACKEND_OUT_PROBABILITY, 2, &s);
    set_read("lin_regression.csv", 1, MD_BACKEND_OUT_VALUE, 0, &r);
    refused("linear", unknown, 1, &s, NULL,
            "params.alpha: not a training parameter of the linear engine");
    refused("linear", l2, 1, &s, NULL, "params.l2: '-1' is not a number from 0 to");
    refused("linear", iters, 1, &s, NULL, "params.max_iter: '0' is not a whole number from 1");
    refused("linear", tol, 1, &s, NULL, "params.tol: 'small' is not a number");
    refused("linear", kind, 1, &s, NULL,
            "params.kind: 'multinomial' does not fit the model's outputs, which a logistic "
            "model gives");
    refused("linear", NULL, 0, &s, MODELS "binary.json", "parent '");
    /* Two equal columns and no regularisation: no unique fit. */
    for (i = 0; i < NROWS; i++)
        r.r.x[i * NF + 1] = r.r.x[i * NF] = (float)i;
    refused("linear", collinear, 1, &r, NULL, "params.l2: 0 leaves the columns collinear");
    set_release(&s);
    set_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xgb_like_python),     cmocka_unit_test(test_xgb_parent),
        cmocka_unit_test(test_xgb_reproducible),    cmocka_unit_test(test_xgb_example_parent),
        cmocka_unit_test(test_xgb_bad_params),      cmocka_unit_test(test_bad_data),
        cmocka_unit_test(test_linear_like_sklearn), cmocka_unit_test(test_linear_params),
        cmocka_unit_test(test_linear_bad_params),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
