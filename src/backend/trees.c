/* SPDX-License-Identifier: MIT */
/*
 * trees.c: the native evaluator for gradient-boosted tree ensembles saved by
 * XGBoost as JSON (the 1.x schema): binary:logistic, reg:squarederror and
 * multi:softprob, numerical splits, missing values by default direction.
 * Anything else (categorical splits, other objectives, other boosters) is
 * refused at load with the reason.
 *
 * Every tree is flattened at load into one array of 12-byte nodes shared by
 * the whole ensemble, children of a node side by side, so evaluation is a
 * tight loop of "compare, step to left or left + 1". Sums are kept in float,
 * tree by tree from the base margin, in the order libxgboost uses, so results
 * agree with it to the last few bits.
 */
#include "backend/backend.h"
#include "backend/trees_int.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)
#define MAX_NODES ((size_t)1 << 28)
#define DEFAULT_LEFT 0x80000000u

/* A flattened node. An internal node's children are nodes[left] and
 * nodes[left + 1]; left == 0 marks a leaf (no node points back at index 0,
 * the first root). */
struct tnode {
    uint32_t feat;  /* feature index | DEFAULT_LEFT when missing goes left */
    float value;    /* split condition, or the leaf value */
    uint32_t left;  /* index of the left child; 0 for a leaf */
};

enum objective {
    OBJ_LOGISTIC = 1,
    OBJ_SQUARED = 2,
    OBJ_SOFTPROB = 3
};

struct trees {
    struct tnode *nodes;   /* all trees */
    size_t n_nodes;
    uint32_t *roots;       /* n_trees root indices into nodes */
    uint32_t *groups;      /* n_trees output groups (class) */
    size_t n_trees;
    size_t n_features;
    size_t n_groups;       /* 1, or num_class for softprob */
    float base_margin;     /* starting margin of every group */
    enum objective obj;
    char objective[32];
    char **feature_names;  /* NULL or n_features names */
};

/* "<what>: <why>" as a corrupt-model error. */
static int corrupt(struct md_err *err, const char *what, const char *why)
{
    return md_err_set(err, MD_ECORRUPT, "%s: %s", what, why);
}

/* A number that XGBoost may write as a JSON number or as a string ("5E-1"). */
static bool get_number(const json_t *j, double *out)
{
    const char *s;
    char *end;

    if (json_is_number(j)) {
        *out = json_number_value(j);
        return true;
    }
    if (!json_is_string(j))
        return false;
    s = json_string_value(j);
    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0;
}

static bool get_count(const json_t *j, size_t max, size_t *out)
{
    double d;

    if (!get_number(j, &d) || !(d >= 0) || d > (double)max || d != floor(d))
        return false;
    *out = (size_t)d;
    return true;
}

static void trees_free(void *inst)
{
    struct trees *t = inst;
    size_t i;

    if (t == NULL)
        return;
    if (t->feature_names != NULL)
        for (i = 0; i < t->n_features; i++)
            free(t->feature_names[i]);
    free(t->feature_names);
    free(t->nodes);
    free(t->roots);
    free(t->groups);
    free(t);
}

/* Reads one tree's arrays and appends its nodes, flattened breadth-first. */
static int add_tree(struct trees *t, const json_t *tree, size_t idx, size_t *cap,
                    struct md_err *err)
{
    const json_t *lc = json_object_get(tree, "left_children");
    const json_t *rc = json_object_get(tree, "right_children");
    const json_t *si = json_object_get(tree, "split_indices");
    const json_t *sc = json_object_get(tree, "split_conditions");
    const json_t *dl = json_object_get(tree, "default_left");
    const json_t *st = json_object_get(tree, "split_type");
    const json_t *cats = json_object_get(tree, "categories");
    uint32_t *newpos = NULL;
    size_t *queue = NULL;
    size_t n;
    size_t head;
    size_t tail;
    size_t i;
    int rc_ = MD_OK;

    if (!json_is_array(lc) || !json_is_array(rc) || !json_is_array(si) || !json_is_array(sc) ||
        !json_is_array(dl))
        return md_err_set(err, MD_ECORRUPT,
                          "tree %zu: left_children, right_children, split_indices, "
                          "split_conditions and default_left must be arrays", idx);
    n = json_array_size(lc);
    if (n == 0 || json_array_size(rc) != n || json_array_size(si) != n ||
        json_array_size(sc) != n || json_array_size(dl) != n ||
        (json_is_array(st) && json_array_size(st) != n))
        return md_err_set(err, MD_ECORRUPT, "tree %zu: node arrays differ in length", idx);
    if (json_is_array(cats) && json_array_size(cats) > 0)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "tree %zu has categorical splits; use the xgboost backend", idx);
    if (json_is_array(st)) {
        for (i = 0; i < n; i++) {
            const json_t *v = json_array_get(st, i);

            if (!json_is_integer(v) || json_integer_value(v) != 0)
                return md_err_set(err, MD_EUNSUPPORTED,
                                  "tree %zu has categorical splits; use the xgboost backend",
                                  idx);
        }
    }
    if (t->n_nodes + n > MAX_NODES)
        return md_err_set(err, MD_ECORRUPT, "model has more than %zu nodes", MAX_NODES);
    if (t->n_nodes + n > *cap) {
        while (*cap < t->n_nodes + n)
            *cap = *cap ? *cap * 2 : 4096;
        t->nodes = md_xrealloc(t->nodes, *cap * sizeof(*t->nodes));
    }
    newpos = md_xcalloc(n, sizeof(*newpos));
    queue = md_xmalloc(n * sizeof(*queue));
    /* Breadth-first from node 0: a node's children get two adjacent slots. */
    head = 0;
    tail = 0;
    queue[tail++] = 0;
    newpos[0] = (uint32_t)t->n_nodes;
    t->roots[idx] = newpos[0];
    t->n_nodes++;
    while (head < tail && rc_ == MD_OK) {
        size_t o = queue[head++];
        struct tnode *nd = &t->nodes[newpos[o]];
        json_int_t l = json_integer_value(json_array_get(lc, o));
        json_int_t r = json_integer_value(json_array_get(rc, o));
        double cond;

        if (!json_is_integer(json_array_get(lc, o)) || !json_is_integer(json_array_get(rc, o)) ||
            !get_number(json_array_get(sc, o), &cond)) {
            rc_ = md_err_set(err, MD_ECORRUPT, "tree %zu node %zu: malformed entry", idx, o);
            break;
        }
        nd->value = (float)cond;
        if (l == -1 && r == -1) {
            nd->left = 0;
            nd->feat = 0;
            continue;
        }
        if (l < 1 || r < 1 || (size_t)l >= n || (size_t)r >= n || l == r ||
            newpos[l] != 0 || newpos[r] != 0) {
            rc_ = md_err_set(err, MD_ECORRUPT,
                             "tree %zu node %zu: child index out of range or shared", idx, o);
            break;
        }
        {
            const json_t *fv = json_array_get(si, o);
            const json_t *dv = json_array_get(dl, o);
            json_int_t f = json_integer_value(fv);

            if (!json_is_integer(fv) || f < 0 || (size_t)f >= t->n_features) {
                rc_ = md_err_set(err, MD_ECORRUPT,
                                 "tree %zu node %zu: split feature outside 0..%zu", idx, o,
                                 t->n_features - 1);
                break;
            }
            nd->feat = (uint32_t)f;
            if (json_is_true(dv) || (json_is_integer(dv) && json_integer_value(dv) != 0))
                nd->feat |= DEFAULT_LEFT;
        }
        newpos[l] = (uint32_t)t->n_nodes;
        newpos[r] = (uint32_t)t->n_nodes + 1;
        nd->left = newpos[l];
        t->n_nodes += 2;
        queue[tail++] = (size_t)l;
        queue[tail++] = (size_t)r;
    }
    free(newpos);
    free(queue);
    return rc_;
}

static int parse_objective(struct trees *t, const json_t *learner, struct md_err *err)
{
    const json_t *obj = json_object_get(learner, "objective");
    const char *name = json_string_value(json_object_get(obj, "name"));

    if (name == NULL)
        return md_err_set(err, MD_ECORRUPT, "learner.objective.name missing");
    snprintf(t->objective, sizeof(t->objective), "%s", name);
    if (strcmp(name, "binary:logistic") == 0)
        t->obj = OBJ_LOGISTIC;
    else if (strcmp(name, "reg:squarederror") == 0)
        t->obj = OBJ_SQUARED;
    else if (strcmp(name, "multi:softprob") == 0)
        t->obj = OBJ_SOFTPROB;
    else
        return md_err_set(err, MD_EUNSUPPORTED,
                          "objective '%s' is not supported by the trees backend (binary:logistic, "
                          "reg:squarederror, multi:softprob); use the xgboost backend",
                          t->objective);
    return MD_OK;
}

static int parse_params(struct trees *t, const json_t *learner, struct md_err *err)
{
    const json_t *mp = json_object_get(learner, "learner_model_param");
    const json_t *names = json_object_get(learner, "feature_names");
    double base;
    size_t num_class = 0;
    size_t i;

    if (!json_is_object(mp))
        return corrupt(err, "learner.learner_model_param", "missing");
    if (!get_count(json_object_get(mp, "num_feature"), 1u << 24, &t->n_features) ||
        t->n_features == 0)
        return corrupt(err, "learner_model_param.num_feature", "expected a positive count");
    if (json_object_get(mp, "num_class") != NULL &&
        !get_count(json_object_get(mp, "num_class"), 1u << 16, &num_class))
        return corrupt(err, "learner_model_param.num_class", "expected a count");
    if (!get_number(json_object_get(mp, "base_score"), &base) || !isfinite(base))
        return corrupt(err, "learner_model_param.base_score", "expected a number");
    if (t->obj == OBJ_SOFTPROB) {
        if (num_class < 2)
            return corrupt(err, "learner_model_param.num_class", "multi:softprob needs at least 2 classes");
        t->n_groups = num_class;
        t->base_margin = (float)base;
    } else {
        if (num_class > 1)
            return corrupt(err, "learner_model_param.num_class", "more than one class for a single-output objective");
        t->n_groups = 1;
        if (t->obj == OBJ_LOGISTIC) {
            if (!(base > 0 && base < 1))
                return corrupt(err, "learner_model_param.base_score", "must be in (0, 1) for binary:logistic");
            t->base_margin = (float)-log(1.0 / base - 1.0);
        } else {
            t->base_margin = (float)base;
        }
    }
    if (json_is_array(names) && json_array_size(names) > 0) {
        if (json_array_size(names) != t->n_features)
            return corrupt(err, "learner.feature_names", "count differs from num_feature");
        t->feature_names = md_xcalloc(t->n_features, sizeof(char *));
        for (i = 0; i < t->n_features; i++) {
            const char *s = json_string_value(json_array_get(names, i));

            if (s == NULL)
                return corrupt(err, "learner.feature_names", "expected strings");
            t->feature_names[i] = md_xstrdup(s);
        }
    }
    return MD_OK;
}

static int parse_model(struct trees *t, const json_t *root, struct md_err *err)
{
    const json_t *learner = json_object_get(root, "learner");
    const json_t *gb = json_object_get(learner, "gradient_booster");
    const char *gbname = json_string_value(json_object_get(gb, "name"));
    const json_t *model = json_object_get(gb, "model");
    const json_t *trees = json_object_get(model, "trees");
    const json_t *info = json_object_get(model, "tree_info");
    size_t cap = 0;
    size_t i;
    int rc;

    if (!json_is_object(learner))
        return corrupt(err, "learner", "missing: not an XGBoost JSON model");
    if (gbname == NULL)
        return corrupt(err, "learner.gradient_booster.name", "missing");
    if (strcmp(gbname, "gbtree") != 0)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "booster '%s' is not supported by the trees backend (gbtree only); "
                          "use the xgboost backend", gbname);
    rc = parse_objective(t, learner, err);
    if (rc == MD_OK)
        rc = parse_params(t, learner, err);
    if (rc != MD_OK)
        return rc;
    if (!json_is_array(trees) || !json_is_array(info) ||
        json_array_size(trees) != json_array_size(info))
        return corrupt(err, "learner.gradient_booster.model", "trees and tree_info must be arrays of one length");
    t->n_trees = json_array_size(trees);
    t->roots = md_xcalloc(t->n_trees + 1, sizeof(*t->roots));
    t->groups = md_xcalloc(t->n_trees + 1, sizeof(*t->groups));
    for (i = 0; i < t->n_trees; i++) {
        const json_t *g = json_array_get(info, i);

        if (!json_is_integer(g) || json_integer_value(g) < 0 ||
            (size_t)json_integer_value(g) >= t->n_groups)
            return md_err_set(err, MD_ECORRUPT, "tree_info[%zu]: class outside 0..%zu", i,
                              t->n_groups - 1);
        t->groups[i] = (uint32_t)json_integer_value(g);
        if (!json_is_object(json_array_get(trees, i)))
            return md_err_set(err, MD_ECORRUPT, "trees[%zu]: expected an object", i);
        rc = add_tree(t, json_array_get(trees, i), i, &cap, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

int md_trees__load_buffer(const char *buf, size_t len, void **inst, struct md_err *err)
{
    struct trees *t;
    json_error_t je;
    json_t *root;
    int rc;

    *inst = NULL;
    root = json_loadb(buf, len, 0, &je);
    if (root == NULL)
        return md_err_set(err, MD_ECORRUPT, "not valid JSON (line %d: %s)", je.line, je.text);
    t = md_xcalloc(1, sizeof(*t));
    rc = parse_model(t, root, err);
    json_decref(root);
    if (rc != MD_OK) {
        trees_free(t);
        return rc;
    }
    *inst = t;
    return MD_OK;
}

static int trees_load(const char *path, const struct md_backend_config *cfg, void **inst,
                      struct md_err *err)
{
    FILE *f;
    char *buf;
    long size;
    size_t got;
    int rc;

    *inst = NULL;
    if (cfg != NULL && cfg->n_options > 0)
        return md_err_set(err, MD_EINVAL, "engine option '%s': the trees backend takes none",
                          cfg->options[0].key);
    f = fopen(path, "rb");
    if (f == NULL)
        return md_err_set(err, MD_EIO, "cannot open: %s", strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return md_err_set(err, MD_EIO, "cannot read: %s", strerror(errno));
    }
    if ((size_t)size > MAX_FILE_BYTES) {
        fclose(f);
        return md_err_set(err, MD_ECORRUPT, "larger than %zu bytes", MAX_FILE_BYTES);
    }
    buf = md_xmalloc((size_t)size + 1);
    got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        return md_err_set(err, MD_EIO, "short read");
    }
    rc = md_trees__load_buffer(buf, got, inst, err);
    free(buf);
    return rc;
}

static void trees_describe(const void *inst, struct md_backend_desc *out)
{
    const struct trees *t = inst;

    out->n_features = t->n_features;
    out->n_outputs = t->n_groups;
    out->kind = t->obj == OBJ_LOGISTIC   ? MD_BACKEND_OUT_PROBABILITY
                : t->obj == OBJ_SOFTPROB ? MD_BACKEND_OUT_PROBABILITIES
                                         : MD_BACKEND_OUT_VALUE;
    out->feature_names = (const char *const *)t->feature_names;
    out->objective = t->objective;
}

static inline float eval_tree(const struct tnode *nodes, uint32_t i, const float *x)
{
    const struct tnode *n = &nodes[i];

    while (n->left != 0) {
        float v = x[n->feat & ~DEFAULT_LEFT];
        uint32_t right = !(v < n->value);

        if (MD_UNLIKELY(v != v))
            right = !(n->feat & DEFAULT_LEFT);
        n = &nodes[n->left + right];
    }
    return n->value;
}

/* Rows per block: trees are walked for a block of rows at a time so a tree's
 * nodes stay in cache across rows. */
#define BLOCK 8

static int trees_predict(void *inst, const float *x, size_t n_rows, float *out,
                         struct md_err *err)
{
    const struct trees *t = inst;
    const size_t nf = t->n_features;
    const size_t ng = t->n_groups;
    size_t r0;

    MD_UNUSED(err);
    for (r0 = 0; r0 < n_rows; r0 += BLOCK) {
        size_t nb = n_rows - r0 < BLOCK ? n_rows - r0 : BLOCK;
        float acc[BLOCK * 64];
        float *m = ng <= 64 ? acc : out + r0 * ng;
        size_t k;
        size_t r;
        size_t g;

        for (r = 0; r < nb * ng; r++)
            m[r] = t->base_margin;
        if (ng == 1) {
            for (k = 0; k < t->n_trees; k++)
                for (r = 0; r < nb; r++)
                    m[r] += eval_tree(t->nodes, t->roots[k], x + (r0 + r) * nf);
        } else {
            for (k = 0; k < t->n_trees; k++)
                for (r = 0; r < nb; r++)
                    m[r * ng + t->groups[k]] += eval_tree(t->nodes, t->roots[k],
                                                          x + (r0 + r) * nf);
        }
        for (r = 0; r < nb; r++) {
            float *o = out + (r0 + r) * ng;
            const float *mr = m + r * ng;

            if (t->obj == OBJ_LOGISTIC) {
                o[0] = 1.0f / (1.0f + expf(-mr[0]));
            } else if (t->obj == OBJ_SQUARED) {
                o[0] = mr[0];
            } else {
                float mx = mr[0];
                float sum = 0.0f;

                for (g = 1; g < ng; g++)
                    mx = mr[g] > mx ? mr[g] : mx;
                for (g = 0; g < ng; g++) {
                    o[g] = expf(mr[g] - mx);
                    sum += o[g];
                }
                for (g = 0; g < ng; g++)
                    o[g] /= sum;
            }
        }
    }
    return MD_OK;
}

const struct md_backend_ops md_backend_trees = {
    .abi = MD_BACKEND_ABI,
    .name = "trees",
    .load = trees_load,
    .describe = trees_describe,
    .predict = trees_predict,
    .learn = NULL,
    .train = NULL,
    .free = trees_free,
};
