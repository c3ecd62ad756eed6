/* SPDX-License-Identifier: MIT */
/*
 * xgboost_train.c: the train operation of the xgboost and trees engines:
 * a gradient-boosted model trained by libxgboost through its C API, in the
 * helper process the training runner starts (never in the daemon).
 *
 * The parameters libxgboost gets are built in layers, each overriding the
 * one before: modeld's defaults (tree_method hist, seed 0, the objective
 * the data's kind calls for), then what the parent artifact says (its
 * objective and the objective's parameters, base_score, booster,
 * num_parallel_tree, the depth of its deepest tree as max_depth, its number
 * of boosted rounds as num_round, and, for a parent modeld trained, every
 * parameter it was trained with, which it keeps in the attribute
 * `modeld_params`), then the training section's `params:`. The parent is
 * checked by the trees engine's loader before libxgboost reads it, as the
 * xgboost engine's load does. The result is XGBoost JSON with the data's
 * feature names and the parameters used in `modeld_params`, loaded back
 * (by the trees engine's check, or by the trees engine itself for a trees
 * model) before it is written.
 */
#include "backend/train.h"
#include "backend/trees.h"
#include "backend/trees_int.h"
#include "backend/xgboost_int.h"

#include <jansson.h>
#include <math.h>
#include <xgboost/c_api.h>

#include "util/mem.h"

#define MAX_PARAMS     64
#define MAX_ROUNDS     100000
#define DEFAULT_ROUNDS 100
#define MAX_DEPTH_SEEN 64

/* The parameters a training section may set (docs/engines.md lists their meaning). */
static const char *const known[] = {"num_round",
                                    "objective",
                                    "base_score",
                                    "seed",
                                    "booster",
                                    "eta",
                                    "learning_rate",
                                    "gamma",
                                    "min_split_loss",
                                    "max_depth",
                                    "min_child_weight",
                                    "max_delta_step",
                                    "subsample",
                                    "sampling_method",
                                    "colsample_bytree",
                                    "colsample_bylevel",
                                    "colsample_bynode",
                                    "lambda",
                                    "reg_lambda",
                                    "alpha",
                                    "reg_alpha",
                                    "tree_method",
                                    "scale_pos_weight",
                                    "grow_policy",
                                    "max_leaves",
                                    "max_bin",
                                    "num_parallel_tree",
                                    "monotone_constraints",
                                    "interaction_constraints",
                                    "sample_type",
                                    "normalize_type",
                                    "rate_drop",
                                    "one_drop",
                                    "skip_drop",
                                    "tweedie_variance_power",
                                    "huber_slope",
                                    "num_class",
                                    NULL};

/* Parameters by name, in the order first set; setting one again replaces its value. */
struct plist {
    char *key[MAX_PARAMS];
    char *value[MAX_PARAMS];
    size_t n;
};

static void plist_set(struct plist *p, const char *key, const char *value)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (strcmp(p->key[i], key) == 0) {
            free(p->value[i]);
            p->value[i] = md_xstrdup(value);
            return;
        }
    if (p->n == MAX_PARAMS)
        return; /* only `known` names and the parent's few reach here: never more than 64 */
    p->key[p->n] = md_xstrdup(key);
    p->value[p->n] = md_xstrdup(value);
    p->n++;
}

static const char *plist_get(const struct plist *p, const char *key)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (strcmp(p->key[i], key) == 0)
            return p->value[i];
    return NULL;
}

static void plist_del(struct plist *p, const char *key)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (strcmp(p->key[i], key) == 0) {
            free(p->key[i]);
            free(p->value[i]);
            p->n--;
            p->key[i] = p->key[p->n];
            p->value[i] = p->value[p->n];
            return;
        }
}

static void plist_release(struct plist *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->key[i]);
        free(p->value[i]);
    }
    p->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Objectives                                                               */
/* ------------------------------------------------------------------------ */

static const char *default_objective(enum md_backend_out kind)
{
    switch (kind) {
    case MD_BACKEND_OUT_PROBABILITY:
        return "binary:logistic";
    case MD_BACKEND_OUT_PROBABILITIES:
        return "multi:softprob";
    case MD_BACKEND_OUT_VALUE:
        break;
    }
    return "reg:squarederror";
}

/* Whether objective gives the outputs kind names, in an engine that serves it. */
static bool objective_fits(const char *obj, enum md_backend_out kind, bool trees)
{
    switch (kind) {
    case MD_BACKEND_OUT_PROBABILITY:
        return strcmp(obj, "binary:logistic") == 0;
    case MD_BACKEND_OUT_PROBABILITIES:
        return strcmp(obj, "multi:softprob") == 0;
    case MD_BACKEND_OUT_VALUE:
        if (trees)
            return strcmp(obj, "reg:squarederror") == 0;
        return strncmp(obj, "reg:", 4) == 0 || strncmp(obj, "count:", 6) == 0 ||
               strncmp(obj, "survival:", 9) == 0;
    }
    return false;
}

static const char *kind_text(enum md_backend_out kind)
{
    switch (kind) {
    case MD_BACKEND_OUT_PROBABILITY:
        return "a binary classifier (binary:logistic)";
    case MD_BACKEND_OUT_PROBABILITIES:
        return "a multi-class classifier (multi:softprob)";
    case MD_BACKEND_OUT_VALUE:
        break;
    }
    return "a regression (reg:squarederror)";
}

/* ------------------------------------------------------------------------ */
/* The parent                                                               */
/* ------------------------------------------------------------------------ */

/* Copies the string members of obj's object members (an objective's parameter sections). */
static void copy_sections(struct plist *p, json_t *obj)
{
    const char *k;
    json_t *sec;

    json_object_foreach(obj, k, sec)
    {
        const char *pk;
        json_t *v;

        if (!json_is_object(sec))
            continue;
        json_object_foreach(sec, pk, v) if (json_is_string(v))
            plist_set(p, pk, json_string_value(v));
    }
}

/* Steps from the root of tree t to its deepest leaf (at most MAX_DEPTH_SEEN). */
static long tree_depth(json_t *t)
{
    json_t *left = json_object_get(t, "left_children");
    json_t *right = json_object_get(t, "right_children");
    size_t n = json_array_size(left);
    long *depth;
    size_t *stack;
    size_t top = 0;
    long deepest = 0;

    if (n == 0 || json_array_size(right) != n)
        return 0;
    depth = md_xcalloc(n, sizeof(*depth));
    stack = md_xcalloc(n, sizeof(*stack));
    stack[top++] = 0;
    /* Checked by md_trees_check: every node but the root has one parent, so this ends. */
    while (top > 0) {
        size_t i = stack[--top];
        json_int_t c[2];
        int k;

        c[0] = json_integer_value(json_array_get(left, i));
        c[1] = json_integer_value(json_array_get(right, i));
        if (depth[i] > deepest)
            deepest = depth[i];
        for (k = 0; k < 2; k++)
            if (c[k] > 0 && (size_t)c[k] < n && top < n && depth[i] < MAX_DEPTH_SEEN) {
                depth[c[k]] = depth[i] + 1;
                stack[top++] = (size_t)c[k];
            }
    }
    free(depth);
    free(stack);
    return deepest;
}

/* What the parent's model says: into p, and its boosted rounds as num_round. */
static void parent_params(struct plist *p, json_t *learner, int rounds)
{
    json_t *gb = json_object_get(learner, "gradient_booster");
    json_t *obj = json_object_get(learner, "objective");
    json_t *model;
    json_t *trees;
    json_t *attr;
    json_t *t;
    const char *s;
    char num[32];
    long deepest = 0;
    size_t i;

    s = json_string_value(json_object_get(obj, "name"));
    if (s != NULL)
        plist_set(p, "objective", s);
    copy_sections(p, obj);
    s = json_string_value(
        json_object_get(json_object_get(learner, "learner_model_param"), "base_score"));
    if (s != NULL)
        plist_set(p, "base_score", s);
    s = json_string_value(json_object_get(gb, "name"));
    if (s != NULL && (strcmp(s, "gbtree") == 0 || strcmp(s, "dart") == 0))
        plist_set(p, "booster", s);
    if (s != NULL && strcmp(s, "dart") == 0)
        gb = json_object_get(gb, "gbtree");
    model = json_object_get(gb, "model");
    s = json_string_value(
        json_object_get(json_object_get(model, "gbtree_model_param"), "num_parallel_tree"));
    if (s != NULL)
        plist_set(p, "num_parallel_tree", s);
    trees = json_object_get(model, "trees");
    json_array_foreach(trees, i, t)
    {
        long dd = tree_depth(t);

        if (dd > deepest)
            deepest = dd;
    }
    if (deepest > 0) {
        (void)snprintf(num, sizeof(num), "%ld", deepest);
        plist_set(p, "max_depth", num);
    }
    if (rounds > 0) {
        (void)snprintf(num, sizeof(num), "%d", rounds);
        plist_set(p, "num_round", num);
    }
    /* A parent modeld trained says how: those parameters win over what was inferred. */
    attr = json_object_get(json_object_get(learner, "attributes"), "modeld_params");
    if (json_is_string(attr)) {
        json_t *saved = json_loads(json_string_value(attr), 0, NULL);
        const char *k;
        json_t *v;

        json_object_foreach(saved, k, v) if (json_is_string(v))
            plist_set(p, k, json_string_value(v));
        json_decref(saved);
    }
}

/* Reads, checks and loads the parent, and takes its parameters into p. */
static int read_parent(const char *path, struct plist *p, struct md_err *err)
{
    BoosterHandle h = NULL;
    char *buf;
    size_t len;
    size_t start = 0;
    const char *json;
    bst_ulong jlen;
    json_t *root = NULL;
    int rounds = 0;
    int rc = md_backend_read_artifact(path, &buf, &len, err);

    if (rc != MD_OK)
        return rc;
    rc = md_backend_refuse_pickle(path, buf, len, MD_XGBOOST_EXPORT, err);
    if (rc == MD_OK)
        rc = md_trees_check(buf, len, &start, err);
    if (rc == MD_OK && XGBoosterCreate(NULL, 0, &h) != 0)
        rc = md_xgboost__error(err, MD_EINTERNAL, "parent: booster");
    if (rc == MD_OK && XGBoosterLoadModelFromBuffer(h, buf + start, (bst_ulong)(len - start)) != 0)
        rc = md_xgboost__error(err, MD_ECORRUPT, "parent");
    if (rc == MD_OK && XGBoosterBoostedRounds(h, &rounds) != 0)
        rc = md_xgboost__error(err, MD_EINTERNAL, "parent: rounds");
    if (rc == MD_OK && XGBoosterSaveModelToBuffer(h, "{\"format\": \"json\"}", &jlen, &json) != 0)
        rc = md_xgboost__error(err, MD_EINTERNAL, "parent: as JSON");
    if (rc == MD_OK) {
        root = json_loadb(json, (size_t)jlen, 0, NULL);
        if (root == NULL)
            rc = md_err_set(err, MD_EINTERNAL, "parent: libxgboost's JSON does not parse");
    }
    if (rc == MD_OK)
        parent_params(p, json_object_get(root, "learner"), rounds);
    if (rc != MD_OK)
        md_err_prefix(err, "parent '%.100s': ", path);
    json_decref(root);
    if (h != NULL)
        XGBoosterFree(h);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */
/* ------------------------------------------------------------------------ */

/*
 * The parameters of the training into p and its rounds into *rounds: the
 * defaults, the parent's, params; checked against d's kind.
 */
static int build_params(const struct md_backend_config *params, const struct md_train_data *d,
                        const char *parent, bool trees, struct plist *p, long *rounds,
                        struct md_err *err)
{
    const char *engine = trees ? "trees" : "xgboost";
    const char *obj;
    const char *booster;
    char num[32];
    size_t i;
    int rc = md_train_params_known(params, engine, known, err);

    if (rc != MD_OK)
        return rc;
    plist_set(p, "tree_method", "hist");
    plist_set(p, "seed", "0");
    plist_set(p, "objective", default_objective(d->kind));
    if (parent != NULL) {
        rc = read_parent(parent, p, err);
        if (rc != MD_OK)
            return rc;
        /* A parent of another kind (the contract changed) leaves the kind's objective. */
        if (!objective_fits(plist_get(p, "objective"), d->kind, trees)) {
            plist_set(p, "objective", default_objective(d->kind));
            plist_del(p, "base_score");
        }
    }
    for (i = 0; params != NULL && i < params->n_options; i++)
        plist_set(p, params->options[i].key, params->options[i].value);
    obj = plist_get(p, "objective");
    if (!objective_fits(obj, d->kind, trees))
        return md_err_set(err, MD_EINVAL, "params.objective: '%.60s' does not fit the model, %s%s",
                          obj, kind_text(d->kind),
                          trees ? " (the trees engine serves binary:logistic, "
                                  "multi:softprob and reg:squarederror)"
                                : "");
    booster = plist_get(p, "booster");
    if (booster != NULL && strcmp(booster, "gbtree") != 0 &&
        (trees || strcmp(booster, "dart") != 0))
        return md_err_set(err, MD_EINVAL, "params.booster: '%.40s' is not %s", booster,
                          trees ? "gbtree (the trees engine serves gbtree models)"
                                : "gbtree or dart");
    if (d->kind == MD_BACKEND_OUT_PROBABILITIES) {
        const char *nc = md_train_param(params, "num_class");

        (void)snprintf(num, sizeof(num), "%zu", d->n_classes);
        if (nc != NULL && strcmp(nc, num) != 0)
            return md_err_set(err, MD_EINVAL,
                              "params.num_class: '%.20s', but the model has %zu classes", nc,
                              d->n_classes);
        plist_set(p, "num_class", num);
    } else {
        plist_del(p, "num_class");
    }
    *rounds = plist_get(p, "num_round") != NULL ? 0 : DEFAULT_ROUNDS;
    if (*rounds == 0) {
        struct md_kv kv = {"num_round", plist_get(p, "num_round")};
        struct md_backend_config one = {&kv, 1};

        rc = md_train_param_long(&one, "num_round", 1, MAX_ROUNDS, rounds, err);
        if (rc != MD_OK)
            return rc;
    }
    (void)snprintf(num, sizeof(num), "%ld", *rounds);
    plist_set(p, "num_round", num);
    return MD_OK;
}

/* The parameters as a JSON object of strings (for the `modeld_params` attribute). */
static char *params_json(const struct plist *p)
{
    json_t *o = json_object();
    char *s;
    size_t i;

    for (i = 0; i < p->n; i++)
        json_object_set_new(o, p->key[i], json_string(p->value[i]));
    s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(o);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Training                                                                 */
/* ------------------------------------------------------------------------ */

static int make_dmatrix(const struct md_train_data *d, DMatrixHandle *dm, struct md_err *err)
{
    *dm = NULL;
    if (XGDMatrixCreateFromMat(d->x, (bst_ulong)d->n_rows, (bst_ulong)d->n_features, NAN, dm) !=
        0) {
        *dm = NULL;
        return md_xgboost__error(err, MD_ENOMEM, "training matrix");
    }
    if (XGDMatrixSetFloatInfo(*dm, "label", d->y, (bst_ulong)d->n_rows) != 0)
        return md_xgboost__error(err, MD_EINVAL, "labels");
    if (d->w != NULL && XGDMatrixSetFloatInfo(*dm, "weight", d->w, (bst_ulong)d->n_rows) != 0)
        return md_xgboost__error(err, MD_EINVAL, "weights");
    if (d->feature_names != NULL &&
        XGDMatrixSetStrFeatureInfo(*dm, "feature_name", (const char **)d->feature_names,
                                   (bst_ulong)d->n_features) != 0)
        return md_xgboost__error(err, MD_EINVAL, "feature names");
    return MD_OK;
}

/* Checks the trained model's JSON as the engine that is to serve it would. */
static int check_result(const char *buf, size_t len, bool trees, struct md_err *err)
{
    size_t start;
    void *inst = NULL;
    int rc;

    if (!trees)
        rc = md_trees_check(buf, len, &start, err);
    else
        rc = md_trees__load_buffer(buf, len, &inst, err);
    md_trees__free(inst);
    if (rc != MD_OK)
        md_err_prefix(err, "trained model: ");
    return rc;
}

static int train(const struct md_backend_config *params, const struct md_train_data *d,
                 const char *parent, const char *out_path, bool trees, struct md_err *err)
{
    struct plist p = {0};
    DMatrixHandle dm = NULL;
    BoosterHandle h = NULL;
    const char *buf;
    bst_ulong len;
    char nthread[16];
    char *saved = NULL;
    long rounds = 0;
    long i;
    size_t k;
    int rc = md_train_check_data(d, err);

    if (rc == MD_OK)
        rc = build_params(params, d, parent, trees, &p, &rounds, err);
    if (rc == MD_OK)
        rc = make_dmatrix(d, &dm, err);
    if (rc == MD_OK && XGBoosterCreate(&dm, 1, &h) != 0) {
        h = NULL;
        rc = md_xgboost__error(err, MD_EINTERNAL, "booster");
    }
    (void)snprintf(nthread, sizeof(nthread), "%u", d->threads > 0 ? d->threads : 1);
    if (rc == MD_OK && XGBoosterSetParam(h, "nthread", nthread) != 0)
        rc = md_xgboost__error(err, MD_EINTERNAL, "nthread");
    for (k = 0; rc == MD_OK && k < p.n; k++) {
        if (strcmp(p.key[k], "num_round") == 0)
            continue;
        if (XGBoosterSetParam(h, p.key[k], p.value[k]) != 0) {
            rc = md_xgboost__error(err, MD_EINVAL, "params");
            md_err_prefix(err, "params.%s: ", p.key[k]);
        }
    }
    /* libxgboost checks the values when the first round configures the booster. */
    for (i = 0; rc == MD_OK && i < rounds; i++)
        if (XGBoosterUpdateOneIter(h, (int)i, dm) != 0)
            rc = md_xgboost__error(err, i == 0 ? MD_EINVAL : MD_EINTERNAL,
                                   i == 0 ? "params" : "training");
    if (rc == MD_OK && d->feature_names != NULL &&
        XGBoosterSetStrFeatureInfo(h, "feature_name", (const char **)d->feature_names,
                                   (bst_ulong)d->n_features) != 0)
        rc = md_xgboost__error(err, MD_EINTERNAL, "feature names");
    if (rc == MD_OK) {
        saved = params_json(&p);
        if (saved == NULL || XGBoosterSetAttr(h, "modeld_params", saved) != 0)
            rc = md_err_set(err, MD_EINTERNAL, "cannot record the parameters in the model");
    }
    if (rc == MD_OK && XGBoosterSaveModelToBuffer(h, "{\"format\": \"json\"}", &len, &buf) != 0)
        rc = md_xgboost__error(err, MD_EINTERNAL, "saving the model");
    if (rc == MD_OK)
        rc = check_result(buf, (size_t)len, trees, err);
    if (rc == MD_OK)
        rc = md_train_write(out_path, buf, (size_t)len, err);
    free(saved);
    if (h != NULL)
        XGBoosterFree(h);
    if (dm != NULL)
        XGDMatrixFree(dm);
    plist_release(&p);
    return rc;
}

int md_xgboost__train(const struct md_backend_config *params, const struct md_train_data *d,
                      const char *parent, const char *out_path, struct md_err *err)
{
    return train(params, d, parent, out_path, false, err);
}

int md_xgboost__train_trees(const struct md_backend_config *params, const struct md_train_data *d,
                            const char *parent, const char *out_path, struct md_err *err)
{
    return train(params, d, parent, out_path, true, err);
}
