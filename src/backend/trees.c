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
#include "util/jdom.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>

#define MAX_FILE_BYTES ((size_t)1 << 30)
#define MAX_NODES ((size_t)1 << 28)
#define DEFAULT_LEFT 0x8000u
#define MAX_FEATURES 0x7fffu  /* feature indexes fit 15 bits, the sentinel included */
#define MAX_REL 0xffffu       /* a child sits at most this many nodes after its parent */
#define LANES 16 /* walks advanced in lock-step */

/* A flattened node, 8 bytes so that a whole ensemble stays in cache. An
 * internal node's children are nodes[i + rel] and nodes[i + rel + 1]. A leaf
 * points at itself (rel 0) and tests the sentinel column
 * (index n_features, always NaN, missing goes left), so a walk that has
 * reached a leaf stays there: trees are walked a fixed number of steps with
 * no data-dependent branch. */
struct tnode {
    float value;   /* split condition, or the leaf value */
    uint16_t feat; /* feature index | DEFAULT_LEFT when missing goes left */
    uint16_t rel;  /* the left child is this many nodes further; 0 for a leaf */
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
    uint8_t *depth;        /* n_trees: steps from root to the deepest leaf */
    uint8_t *group_depth;  /* per run of LANES trees: the largest depth among them */
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
static bool get_number(const struct md_jnode *j, double *out)
{
    char tmp[64];
    char *end;

    if (j == NULL)
        return false;
    if (j->type == MD_J_NUMBER)
        return md_jdom_f64(j, out) == MD_OK;
    if (j->type != MD_J_STRING || j->len == 0 || j->len >= sizeof(tmp))
        return false;
    memcpy(tmp, j->p, j->len);
    tmp[j->len] = '\0';
    errno = 0;
    *out = strtod(tmp, &end);
    return *end == '\0' && errno == 0;
}

static bool get_count(const struct md_jnode *j, size_t max, size_t *out)
{
    double d;

    if (!get_number(j, &d) || !(d >= 0) || d > (double)max || d != floor(d))
        return false;
    *out = (size_t)d;
    return true;
}

static bool get_int(const struct md_jnode *j, int64_t *out)
{
    return j != NULL && md_jdom_i64(j, out) == MD_OK;
}

static bool is_array(const struct md_jnode *j)
{
    return j != NULL && j->type == MD_J_ARRAY;
}

/* A string member compared with a C string. */
static bool str_eq(const struct md_jnode *j, const char *s)
{
    return j != NULL && j->type == MD_J_STRING && j->len == strlen(s) && memcmp(j->p, s, j->len) == 0;
}

/* The elements of an array node, in an arena-backed index for O(1) access. */
static const struct md_jnode **index_array(const struct md_jnode *a, struct md_arena *ar)
{
    const struct md_jnode **v = md_arena_alloc(ar, (a->n + 1) * sizeof(*v));
    const struct md_jnode *c;
    size_t i = 0;

    if (v == NULL)
        return NULL;
    for (c = a->child; c != NULL; c = c->next)
        v[i++] = c;
    return v;
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
    free(t->depth);
    free(t->group_depth);
    free(t->groups);
    free(t);
}

/* Reads one tree's arrays and appends its nodes, flattened breadth-first. */
static int add_tree(struct trees *t, const struct md_jnode *tree, size_t idx, size_t *cap,
                    struct md_arena *ar, struct md_err *err)
{
    const struct md_jnode *lc = md_jdom_get(tree, "left_children");
    const struct md_jnode *rc = md_jdom_get(tree, "right_children");
    const struct md_jnode *si = md_jdom_get(tree, "split_indices");
    const struct md_jnode *sc = md_jdom_get(tree, "split_conditions");
    const struct md_jnode *dl = md_jdom_get(tree, "default_left");
    const struct md_jnode *st = md_jdom_get(tree, "split_type");
    const struct md_jnode *cats = md_jdom_get(tree, "categories");
    const struct md_jnode **L, **R, **SI, **SC, **DL;
    const struct md_jnode *c;
    uint32_t *newpos = NULL;
    size_t *queue = NULL;
    uint8_t *level = NULL;
    unsigned maxdepth = 0;
    size_t n;
    size_t head;
    size_t tail;
    int rc_ = MD_OK;

    if (!is_array(lc) || !is_array(rc) || !is_array(si) || !is_array(sc) || !is_array(dl))
        return md_err_set(err, MD_ECORRUPT,
                          "tree %zu: left_children, right_children, split_indices, "
                          "split_conditions and default_left must be arrays", idx);
    n = lc->n;
    if (n == 0 || rc->n != n || si->n != n || sc->n != n || dl->n != n ||
        (is_array(st) && st->n != n))
        return md_err_set(err, MD_ECORRUPT, "tree %zu: node arrays differ in length", idx);
    if (is_array(cats) && cats->n > 0)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "tree %zu has categorical splits; use the xgboost backend", idx);
    if (is_array(st)) {
        for (c = st->child; c != NULL; c = c->next) {
            int64_t v;

            if (!get_int(c, &v) || v != 0)
                return md_err_set(err, MD_EUNSUPPORTED,
                                  "tree %zu has categorical splits; use the xgboost backend",
                                  idx);
        }
    }
    if (t->n_nodes + n > MAX_NODES)
        return md_err_set(err, MD_ECORRUPT, "model has more than %zu nodes", MAX_NODES);
    L = index_array(lc, ar);
    R = index_array(rc, ar);
    SI = index_array(si, ar);
    SC = index_array(sc, ar);
    DL = index_array(dl, ar);
    if (L == NULL || R == NULL || SI == NULL || SC == NULL || DL == NULL)
        return md_err_set(err, MD_ECORRUPT, "model too large");
    if (t->n_nodes + n > *cap) {
        while (*cap < t->n_nodes + n)
            *cap = *cap ? *cap * 2 : 4096;
        t->nodes = md_xrealloc(t->nodes, *cap * sizeof(*t->nodes));
    }
    newpos = md_xcalloc(n, sizeof(*newpos));
    queue = md_xmalloc(n * sizeof(*queue));
    level = md_xcalloc(n, sizeof(*level));
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
        int64_t l;
        int64_t r;
        int64_t f;
        int64_t dv;
        double cond;

        if (!get_int(L[o], &l) || !get_int(R[o], &r)) {
            rc_ = md_err_set(err, MD_ECORRUPT, "tree %zu node %zu: malformed entry", idx, o);
            break;
        }
        if (l == -1 && r == -1) {
            if (!get_number(SC[o], &cond)) {
                rc_ = md_err_set(err, MD_ECORRUPT, "tree %zu node %zu: malformed leaf value",
                                 idx, o);
                break;
            }
            nd->value = (float)cond;
            nd->rel = 0;
            nd->feat = (uint16_t)(t->n_features | DEFAULT_LEFT);
            continue;
        }
        if (!get_number(SC[o], &cond) || cond != cond) {
            rc_ = md_err_set(err, MD_ECORRUPT, "tree %zu node %zu: malformed split condition",
                             idx, o);
            break;
        }
        nd->value = (float)cond;
        if (l < 1 || r < 1 || (size_t)l >= n || (size_t)r >= n || l == r ||
            newpos[l] != 0 || newpos[r] != 0 || level[o] >= 64) {
            rc_ = md_err_set(err, MD_ECORRUPT,
                             "tree %zu node %zu: child index out of range, shared, or deeper "
                             "than 64", idx, o);
            break;
        }
        if (!get_int(SI[o], &f) || f < 0 || (size_t)f >= t->n_features) {
            rc_ = md_err_set(err, MD_ECORRUPT, "tree %zu node %zu: split feature outside 0..%zu",
                             idx, o, t->n_features - 1);
            break;
        }
        nd->feat = (uint16_t)f;
        if (DL[o]->type == MD_J_TRUE || (get_int(DL[o], &dv) && dv != 0))
            nd->feat |= DEFAULT_LEFT;
        newpos[l] = (uint32_t)t->n_nodes;
        newpos[r] = (uint32_t)t->n_nodes + 1;
        if (newpos[l] - newpos[o] > MAX_REL) {
            rc_ = md_err_set(err, MD_EUNSUPPORTED,
                             "tree %zu is wider than the trees backend handles (%u nodes "
                             "between a node and its children); use the xgboost backend",
                             idx, MAX_REL);
            break;
        }
        nd->rel = (uint16_t)(newpos[l] - newpos[o]);
        t->n_nodes += 2;
        queue[tail++] = (size_t)l;
        queue[tail++] = (size_t)r;
        level[l] = (uint8_t)(level[o] + 1);
        level[r] = (uint8_t)(level[o] + 1);
        if (level[l] > maxdepth)
            maxdepth = level[l];
    }
    t->depth[idx] = (uint8_t)maxdepth;
    free(newpos);
    free(queue);
    free(level);
    return rc_;
}

static int parse_objective(struct trees *t, const struct md_jnode *learner, struct md_err *err)
{
    const struct md_jnode *name = md_jdom_get(md_jdom_get(learner, "objective"), "name");

    if (name == NULL || name->type != MD_J_STRING)
        return corrupt(err, "learner.objective.name", "missing");
    snprintf(t->objective, sizeof(t->objective), "%.*s", (int)(name->len > 31 ? 31 : name->len),
             name->p);
    if (str_eq(name, "binary:logistic"))
        t->obj = OBJ_LOGISTIC;
    else if (str_eq(name, "reg:squarederror"))
        t->obj = OBJ_SQUARED;
    else if (str_eq(name, "multi:softprob"))
        t->obj = OBJ_SOFTPROB;
    else
        return md_err_set(err, MD_EUNSUPPORTED,
                          "objective '%s' is not supported by the trees backend (binary:logistic, "
                          "reg:squarederror, multi:softprob); use the xgboost backend",
                          t->objective);
    return MD_OK;
}

static int parse_params(struct trees *t, const struct md_jnode *learner, struct md_err *err)
{
    const struct md_jnode *mp = md_jdom_get(learner, "learner_model_param");
    const struct md_jnode *names = md_jdom_get(learner, "feature_names");
    const struct md_jnode *c;
    double base;
    size_t num_class = 0;
    size_t i;

    if (mp == NULL || mp->type != MD_J_OBJECT)
        return corrupt(err, "learner.learner_model_param", "missing");
    if (!get_count(md_jdom_get(mp, "num_feature"), 1u << 24, &t->n_features) ||
        t->n_features == 0)
        return corrupt(err, "learner_model_param.num_feature", "expected a positive count");
    if (t->n_features >= MAX_FEATURES)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "%zu features: the trees backend handles up to %u; use the xgboost "
                          "backend", t->n_features, MAX_FEATURES - 1);
    if (md_jdom_get(mp, "num_class") != NULL &&
        !get_count(md_jdom_get(mp, "num_class"), 1u << 16, &num_class))
        return corrupt(err, "learner_model_param.num_class", "expected a count");
    if (!get_number(md_jdom_get(mp, "base_score"), &base) || !isfinite(base))
        return corrupt(err, "learner_model_param.base_score", "expected a number");
    if (t->obj == OBJ_SOFTPROB) {
        if (num_class < 2)
            return corrupt(err, "learner_model_param.num_class",
                           "multi:softprob needs at least 2 classes");
        t->n_groups = num_class;
        t->base_margin = (float)base;
    } else {
        if (num_class > 1)
            return corrupt(err, "learner_model_param.num_class",
                           "more than one class for a single-output objective");
        t->n_groups = 1;
        if (t->obj == OBJ_LOGISTIC) {
            if (!(base > 0 && base < 1))
                return corrupt(err, "learner_model_param.base_score",
                               "must be in (0, 1) for binary:logistic");
            t->base_margin = (float)-log(1.0 / base - 1.0);
        } else {
            t->base_margin = (float)base;
        }
    }
    if (is_array(names) && names->n > 0) {
        if (names->n != t->n_features)
            return corrupt(err, "learner.feature_names", "count differs from num_feature");
        t->feature_names = md_xcalloc(t->n_features, sizeof(char *));
        for (c = names->child, i = 0; c != NULL; c = c->next, i++) {
            if (c->type != MD_J_STRING || memchr(c->p, '\0', c->len) != NULL)
                return corrupt(err, "learner.feature_names", "expected strings");
            t->feature_names[i] = md_xstrndup(c->p, c->len);
        }
    }
    return MD_OK;
}

static int parse_model(struct trees *t, const struct md_jnode *root, struct md_arena *ar,
                       struct md_err *err)
{
    const struct md_jnode *learner = md_jdom_get(root, "learner");
    const struct md_jnode *gb = md_jdom_get(learner, "gradient_booster");
    const struct md_jnode *gbname = md_jdom_get(gb, "name");
    const struct md_jnode *model = md_jdom_get(gb, "model");
    const struct md_jnode *trees = md_jdom_get(model, "trees");
    const struct md_jnode *info = md_jdom_get(model, "tree_info");
    const struct md_jnode *tr;
    const struct md_jnode *g;
    size_t cap = 0;
    size_t i;
    int rc;

    if (learner == NULL || learner->type != MD_J_OBJECT)
        return corrupt(err, "learner", "missing: not an XGBoost JSON model");
    if (gbname == NULL || gbname->type != MD_J_STRING)
        return corrupt(err, "learner.gradient_booster.name", "missing");
    if (!str_eq(gbname, "gbtree"))
        return md_err_set(err, MD_EUNSUPPORTED,
                          "booster '%.*s' is not supported by the trees backend (gbtree only); "
                          "use the xgboost backend", (int)(gbname->len > 32 ? 32 : gbname->len),
                          gbname->p);
    rc = parse_objective(t, learner, err);
    if (rc == MD_OK)
        rc = parse_params(t, learner, err);
    if (rc != MD_OK)
        return rc;
    if (!is_array(trees) || !is_array(info) || trees->n != info->n)
        return corrupt(err, "learner.gradient_booster.model",
                       "trees and tree_info must be arrays of one length");
    t->n_trees = trees->n;
    t->roots = md_xcalloc(t->n_trees + 1, sizeof(*t->roots));
    t->depth = md_xcalloc(t->n_trees + 1, sizeof(*t->depth));
    t->groups = md_xcalloc(t->n_trees + 1, sizeof(*t->groups));
    for (tr = trees->child, g = info->child, i = 0; tr != NULL; tr = tr->next, g = g->next, i++) {
        int64_t gv;

        if (!get_int(g, &gv) || gv < 0 || (size_t)gv >= t->n_groups)
            return md_err_set(err, MD_ECORRUPT, "tree_info[%zu]: class outside 0..%zu", i,
                              t->n_groups - 1);
        t->groups[i] = (uint32_t)gv;
        if (tr->type != MD_J_OBJECT)
            return md_err_set(err, MD_ECORRUPT, "trees[%zu]: expected an object", i);
        rc = add_tree(t, tr, i, &cap, ar, err);
        if (rc != MD_OK)
            return rc;
    }
    t->group_depth = md_xcalloc(t->n_trees / LANES + 1, 1);
    for (i = 0; i < t->n_trees; i++)
        if (t->depth[i] > t->group_depth[i / LANES])
            t->group_depth[i / LANES] = t->depth[i];
    return MD_OK;
}

int md_trees__load_buffer(const char *buf, size_t len, void **inst, struct md_err *err)
{
    struct md_arena ar;
    struct md_jnode *root;
    struct trees *t;
    int rc;

    *inst = NULL;
    /* XGBoost writes NaN for unused split conditions: the NaN-tolerant mode. */
    md_arena_init(&ar, len * 64 + (1u << 20));
    rc = md_jdom_parse(buf, len, MD_JDOM_NANINF, &ar, &root, err);
    if (rc != MD_OK) {
        md_arena_release(&ar);
        md_err_prefix(err, "not valid JSON: ");
        return MD_ECORRUPT;
    }
    t = md_xcalloc(1, sizeof(*t));
    rc = parse_model(t, root, &ar, err);
    md_arena_release(&ar);
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

/* One step of a walk: to the left child, or the right one (left + 1). NaN
 * goes the node's default way; the compare and select compile to no branch. */
static inline uint32_t step(const struct tnode *nodes, uint32_t i, const float *x)
{
    const struct tnode *n = &nodes[i];
    float v = x[n->feat & MAX_FEATURES];
    uint32_t nan = v != v;
    uint32_t right = (uint32_t)!(v < n->value);

    right = nan ? !(n->feat & DEFAULT_LEFT) : right;
    return i + n->rel + right;
}

/* Adds each tree's leaf to its group's margin, trees in order, for one row
 * (xs: the row followed by the NaN sentinel). Trees walk LANES at a time. */
static void row_margins(const struct trees *t, const float *xs, float *m)
{
    uint32_t cur[LANES];
    size_t k0;
    size_t k;

    for (k0 = 0; k0 < t->n_trees; k0 += LANES) {
        size_t nk = t->n_trees - k0 < LANES ? t->n_trees - k0 : LANES;
        unsigned d;

        for (k = 0; k < nk; k++)
            cur[k] = t->roots[k0 + k];
        for (d = 0; d < t->group_depth[k0 / LANES]; d++)
            for (k = 0; k < nk; k++)
                cur[k] = step(t->nodes, cur[k], xs);
        if (t->n_groups == 1)
            for (k = 0; k < nk; k++)
                m[0] += t->nodes[cur[k]].value;
        else
            for (k = 0; k < nk; k++)
                m[t->groups[k0 + k]] += t->nodes[cur[k]].value;
    }
}

/* As row_margins for LANES rows at once (xs: LANES rows of stride nf + 1),
 * each tree walked for every row in lock-step. */
static void block_margins(const struct trees *t, const float *xs, size_t stride, float *m)
{
    uint32_t cur[LANES];
    size_t k;
    size_t r;
    const size_t ng = t->n_groups;

    for (k = 0; k < t->n_trees; k++) {
        unsigned d;
        uint32_t g = t->groups[k];

        for (r = 0; r < LANES; r++)
            cur[r] = t->roots[k];
        for (d = 0; d < t->depth[k]; d++)
            for (r = 0; r < LANES; r++)
                cur[r] = step(t->nodes, cur[r], xs + r * stride);
        for (r = 0; r < LANES; r++)
            m[r * ng + g] += t->nodes[cur[r]].value;
    }
}

static void transform(const struct trees *t, const float *m, float *o)
{
    size_t g;

    if (t->obj == OBJ_LOGISTIC) {
        o[0] = 1.0f / (1.0f + expf(-m[0]));
    } else if (t->obj == OBJ_SQUARED) {
        o[0] = m[0];
    } else {
        float mx = m[0];
        float sum = 0.0f;

        for (g = 1; g < t->n_groups; g++)
            mx = m[g] > mx ? m[g] : mx;
        for (g = 0; g < t->n_groups; g++) {
            o[g] = expf(m[g] - mx);
            sum += o[g];
        }
        for (g = 0; g < t->n_groups; g++)
            o[g] /= sum;
    }
}

/* Rows are copied into a small buffer with the NaN sentinel after each; past
 * this many features the copy lives on the heap. */
#define STACK_FLOATS 4096

static int trees_predict(void *inst, const float *x, size_t n_rows, float *out,
                         struct md_err *err)
{
    const struct trees *t = inst;
    const size_t nf = t->n_features;
    const size_t ng = t->n_groups;
    const size_t stride = nf + 1;
    float stack[STACK_FLOATS];
    float mstack[64 * LANES];
    float *xs = stack;
    float *m;
    size_t r0 = 0;
    size_t r;
    size_t j;

    if (stride * LANES > STACK_FLOATS) {
        xs = md_malloc(stride * LANES * sizeof(float));
        if (xs == NULL)
            return md_err_set(err, MD_ENOMEM, "no memory for %zu features", nf);
    }
    m = ng <= 64 ? mstack : md_malloc(ng * LANES * sizeof(float));
    if (m == NULL) {
        if (xs != stack)
            free(xs);
        return md_err_set(err, MD_ENOMEM, "no memory for %zu classes", ng);
    }
    for (; n_rows - r0 >= LANES && n_rows > 1; r0 += LANES) {
        for (r = 0; r < LANES; r++) {
            memcpy(xs + r * stride, x + (r0 + r) * nf, nf * sizeof(float));
            xs[r * stride + nf] = NAN;
        }
        for (j = 0; j < ng * LANES; j++)
            m[j] = t->base_margin;
        block_margins(t, xs, stride, m);
        for (r = 0; r < LANES; r++)
            transform(t, m + r * ng, out + (r0 + r) * ng);
    }
    for (; r0 < n_rows; r0++) {
        memcpy(xs, x + r0 * nf, nf * sizeof(float));
        xs[nf] = NAN;
        for (j = 0; j < ng; j++)
            m[j] = t->base_margin;
        row_margins(t, xs, m);
        transform(t, m, out + r0 * ng);
    }
    if (m != mstack)
        free(m);
    if (xs != stack)
        free(xs);
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
