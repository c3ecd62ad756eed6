/* SPDX-License-Identifier: MIT */
/*
 * trees_load.c: reading an XGBoost 1.7 model saved as JSON or UBJSON for the
 * native tree engine (trees.c), and the check of such a file that the
 * `xgboost` engine makes before libxgboost reads it (md_trees_check,
 * trees.h: the same loader, in a mode that accepts what libxgboost runs and
 * checks what it reads unchecked, building nothing).
 *
 * The file is untrusted: any malformed input ends in MD_ECORRUPT with a
 * message naming the field, never in a crash. Loading (util/jdom with packed
 * number arrays, or util/ubjson into the same nodes) checks the file strictly
 * and flattens every tree into m->wnodes breadth-first, the two children of
 * a node side by side (see struct md_trees_node); md_trees__plan (trees.c)
 * then lays the nodes out for its walks. Runs binary:logistic,
 * reg:squarederror and multi:softprob on gbtree boosters with numerical
 * splits; refuses the rest (MD_EUNSUPPORTED), which the `xgboost` engine
 * runs.
 */
#include "backend/trees_int.h"
#include "backend/trees.h"

#include <errno.h>
#include <math.h>

#include "util/arena.h"
#include "util/jdom.h"
#include "util/mem.h"
#include "util/ubjson.h"

/* Largest feature count and class count accepted. */
#define MAX_FEATURES ((uint32_t)1 << 24)
#define MAX_CLASSES  65536
/* Categories are below 2^24, as XGBoost requires (they are exact in a float). */
#define MAX_CATEGORY ((int64_t)1 << 24)

/*
 * Sets err and evaluates to code, as md_err_set does; spelled out so that
 * static analysis, which cannot see into err.c, knows an error return is not
 * MD_OK. Used where the error is named err.
 */
#define FAIL(code, ...) (md_err_set(err, (code), __VA_ARGS__), (code))

/* ------------------------------------------------------------- JSON helpers */

static const char *type_name(const struct md_jnode *v)
{
    switch (v->type) {
    case MD_J_OBJECT:
        return "an object";
    case MD_J_ARRAY:
        return "an array";
    case MD_J_STRING:
        return "a string";
    case MD_J_NUMBER:
        return "a number";
    case MD_J_TRUE:
    case MD_J_FALSE:
        return "a boolean";
    case MD_J_NULL:
        return "null";
    }
    return "unknown";
}

/* parent[key] of type t (an object, array or string) into *out; where names parent. */
static int need(const struct md_jnode *parent, const char *where, const char *key, enum md_jtype t,
                const struct md_jnode **out, struct md_err *err)
{
    static const char *const want[] = {
        [MD_J_OBJECT] = "an object",
        [MD_J_ARRAY] = "an array",
        [MD_J_STRING] = "a string",
    };
    const struct md_jnode *v = md_jdom_get(parent, key);

    if (v == NULL)
        return FAIL(MD_ECORRUPT, "%s%s%s: missing", where, *where ? "." : "", key);
    if (v->type != t)
        return FAIL(MD_ECORRUPT, "%s%s%s: %s, expected %s", where, *where ? "." : "", key,
                    type_name(v), want[t]);
    *out = v;
    return MD_OK;
}

/* Whether string node s holds exactly the NUL-terminated text. */
static bool str_is(const struct md_jnode *s, const char *text)
{
    return s->len == strlen(text) && memcmp(s->p, text, s->len) == 0;
}

/* A malloc'd NUL-terminated copy of string node s, or NULL. */
static char *dup_str(const struct md_jnode *s)
{
    char *p = md_malloc(s->len + 1);

    if (p != NULL) {
        memcpy(p, s->p, s->len);
        p[s->len] = '\0';
    }
    return p;
}

/*
 * A number that XGBoost stores as a string ("5E-1", "30"), or as a plain
 * number; into *out.
 */
static int need_num(const struct md_jnode *parent, const char *where, const char *key, double *out,
                    struct md_err *err)
{
    const struct md_jnode *v = md_jdom_get(parent, key);
    char s[64];
    char *end;

    if (v == NULL)
        return FAIL(MD_ECORRUPT, "%s.%s: missing", where, key);
    if (v->type == MD_J_NUMBER) {
        if (md_jdom_f64(v, out) == MD_OK && isfinite(*out))
            return MD_OK;
        return FAIL(MD_ECORRUPT, "%s.%s: %.*s is not a finite number", where, key,
                    (int)(v->len < 40 ? v->len : 40), v->p);
    }
    if (v->type != MD_J_STRING)
        return FAIL(MD_ECORRUPT, "%s.%s: %s, expected a number", where, key, type_name(v));
    if (v->len >= sizeof(s) || memchr(v->p, '\0', v->len) != NULL)
        return FAIL(MD_ECORRUPT, "%s.%s: '%.40s' is not a finite number", where, key,
                    v->len > 0 && v->p[0] != '\0' ? v->p : "");
    memcpy(s, v->p, v->len);
    s[v->len] = '\0';
    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(*out))
        return FAIL(MD_ECORRUPT, "%s.%s: '%.40s' is not a finite number", where, key, s);
    return MD_OK;
}

/* As need_num, for an integer in [lo, hi]. */
static int need_int(const struct md_jnode *parent, const char *where, const char *key, long lo,
                    long hi, long *out, struct md_err *err)
{
    double d;
    int rc = need_num(parent, where, key, &d, err);

    if (rc != MD_OK)
        return rc;
    if (d != floor(d) || d < (double)lo || d > (double)hi)
        return FAIL(MD_ECORRUPT, "%s.%s: %g is not an integer from %ld to %ld", where, key, d, lo,
                    hi);
    *out = (long)d;
    return MD_OK;
}

/* An integer node into *out; false when it is not one. */
static bool int_node(const struct md_jnode *v, int64_t *out)
{
    return v->type == MD_J_NUMBER && md_jdom_i64(v, out) == MD_OK;
}

/*
 * Every element of array a (where.key) as an integer into out[0..a->n);
 * with booleans, true and false count as 1 and 0. expect names what is
 * wanted in the message.
 */
static int ints_of(const struct md_jnode *a, const char *where, const char *key, bool booleans,
                   const char *expect, int64_t *out, struct md_err *err)
{
    const struct md_jnode *e;
    size_t i;

    if (md_jdom_is_packed(a)) {
        for (i = 0; i < a->n; i++) {
            double d = a->values[i];

            /* 2^63 is the first double past int64_t; NaN (out of range) fails both. */
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
                return FAIL(MD_ECORRUPT, "%s.%s[%zu]: a number, expected %s", where, key, i,
                            expect);
            out[i] = (int64_t)d;
        }
        return MD_OK;
    }
    for (e = a->child, i = 0; e != NULL; e = e->next, i++) {
        if (int_node(e, &out[i]))
            continue;
        if (booleans && (e->type == MD_J_TRUE || e->type == MD_J_FALSE)) {
            out[i] = e->type == MD_J_TRUE;
            continue;
        }
        return FAIL(MD_ECORRUPT, "%s.%s[%zu]: %s, expected %s", where, key, i, type_name(e),
                    expect);
    }
    return MD_OK;
}

/*
 * Every element of array a (where.key) as a double into out[0..a->n): a
 * number, or XGBoost's bare NaN, Infinity and -Infinity.
 */
static int doubles_of(const struct md_jnode *a, const char *where, const char *key, double *out,
                      struct md_err *err)
{
    const struct md_jnode *e;
    size_t i;

    if (md_jdom_is_packed(a)) {
        for (i = 0; i < a->n; i++) {
            out[i] = a->values[i];
            /*
             * A packed array of JSON text holds no NaN word: a NaN is a number beyond the
             * double range. One of UBJSON (no text) holds the file's own NaN.
             */
            if (isnan(out[i]) && a->p != NULL)
                return FAIL(MD_ECORRUPT, "%s.%s[%zu]: a number beyond the double range", where, key,
                            i);
        }
        return MD_OK;
    }
    for (e = a->child, i = 0; e != NULL; e = e->next, i++) {
        if (e->type != MD_J_NUMBER)
            return FAIL(MD_ECORRUPT, "%s.%s[%zu]: %s, expected a number", where, key, i,
                        type_name(e));
        if (md_jdom_f64(e, &out[i]) != MD_OK)
            return FAIL(MD_ECORRUPT, "%s.%s[%zu]: a number beyond the double range", where, key, i);
    }
    return MD_OK;
}

/* ---------------------------------------------------------------- loading */

/* One tree's arrays, checked for type and length and converted. */
struct jtree {
    int64_t *left, *right, *sidx, *dleft; /* scratch: one per node */
    int64_t *parent;                      /* likewise, read when checking for libxgboost */
    uint8_t *cat;                         /* likewise: 1 for a categorical split */
    double *cond;
    double *hess; /* sum_hessian when has_hess */
    bool has_hess;
    size_t n;
};

static int array_len(const struct md_jnode *tree, const char *where, const char *key, size_t n,
                     bool required, const struct md_jnode **out, struct md_err *err)
{
    const struct md_jnode *a = md_jdom_get(tree, key);

    *out = NULL;
    if (a == NULL && !required)
        return MD_OK;
    if (a == NULL)
        return FAIL(MD_ECORRUPT, "%s.%s: missing", where, key);
    if (a->type != MD_J_ARRAY)
        return FAIL(MD_ECORRUPT, "%s.%s: %s, expected an array", where, key, type_name(a));
    if (a->n != n)
        return FAIL(MD_ECORRUPT, "%s.%s: %zu entries, expected %zu (one per node)", where, key,
                    a->n, n);
    *out = a;
    return MD_OK;
}

/* tree_param, when present: its node count must agree, and leaves must be scalars. */
static int tree_param(const struct md_jnode *tree, const char *where, size_t n, struct md_err *err)
{
    const struct md_jnode *tp = md_jdom_get(tree, "tree_param");
    char tpw[64];
    long nn;
    long slv;
    int rc;

    if (tp == NULL)
        return MD_OK;
    if (tp->type != MD_J_OBJECT)
        return FAIL(MD_ECORRUPT, "%s.tree_param: %s, expected an object", where, type_name(tp));
    (void)snprintf(tpw, sizeof(tpw), "%s.tree_param", where); /* where is "trees[N]": fits */
    rc = need_int(tp, tpw, "num_nodes", 0, INT32_MAX, &nn, err);
    if (rc != MD_OK)
        return rc;
    if ((size_t)nn != n)
        return FAIL(MD_ECORRUPT, "%s.left_children: %zu entries, tree_param.num_nodes says %ld",
                    where, n, nn);
    if (md_jdom_get(tp, "size_leaf_vector") == NULL)
        return MD_OK;
    rc = need_int(tp, tpw, "size_leaf_vector", 0, INT32_MAX, &slv, err);
    if (rc != MD_OK)
        return rc;
    if (slv != 0)
        return FAIL(MD_EUNSUPPORTED,
                    "%s: vector leaves (size_leaf_vector %ld) are not supported by the trees "
                    "engine; use backend xgboost",
                    where, slv);
    return MD_OK;
}

/*
 * For libxgboost, the categorical splits of a tree that has split_type:
 * categories_nodes lists every categorical split in order, and the same
 * entry of categories_segments and categories_sizes says where its
 * categories lie in categories. libxgboost indexes all four unchecked and
 * sizes a bit set by the largest category, so each must be in range.
 */
static int categories(const struct md_jnode *tree, const char *where, const struct jtree *jt,
                      struct md_err *err)
{
    static const char *const keys[4] = {"categories_nodes", "categories_segments",
                                        "categories_sizes", "categories"};
    const struct md_jnode *arr[4];
    int64_t *v[4] = {NULL, NULL, NULL, NULL};
    size_t n_cat = 0;
    size_t i;
    size_t k;
    int rc = MD_OK;

    for (k = 0; k < 4; k++)
        if ((rc = need(tree, where, keys[k], MD_J_ARRAY, &arr[k], err)) != MD_OK)
            return rc;
    for (i = 0; i < jt->n; i++)
        n_cat += jt->cat[i];
    for (k = 0; k < 3; k++)
        if (arr[k]->n != n_cat)
            return FAIL(MD_ECORRUPT, "%s.%s: %zu entries, split_type has %zu categorical splits",
                        where, keys[k], arr[k]->n, n_cat);
    for (k = 0; k < 4 && rc == MD_OK; k++) {
        v[k] = md_malloc((arr[k]->n + 1) * sizeof(*v[k]));
        rc = v[k] == NULL ? FAIL(MD_ENOMEM, "trees: no memory for %zu categories", arr[k]->n)
                          : ints_of(arr[k], where, keys[k], false, "an integer", v[k], err);
    }
    for (i = 0; rc == MD_OK && i < n_cat; i++) {
        int64_t node = v[0][i];
        int64_t seg = v[1][i];
        int64_t size = v[2][i];

        if (node < 0 || (uint64_t)node >= jt->n || !jt->cat[node] || (i > 0 && node <= v[0][i - 1]))
            rc = FAIL(MD_ECORRUPT,
                      "%s.categories_nodes[%zu]: %lld is not the next categorical split", where, i,
                      (long long)node);
        else if (seg < 0 || size < 1 || (uint64_t)seg > arr[3]->n ||
                 (uint64_t)size > arr[3]->n - (uint64_t)seg)
            rc = FAIL(MD_ECORRUPT,
                      "%s.categories_segments[%zu]: %lld categories from %lld are not within "
                      "categories (%zu)",
                      where, i, (long long)size, (long long)seg, arr[3]->n);
    }
    for (i = 0; rc == MD_OK && i < arr[3]->n; i++)
        if (v[3][i] < 0 || v[3][i] >= MAX_CATEGORY)
            rc = FAIL(MD_ECORRUPT, "%s.categories[%zu]: %lld is not a category from 0 to %ld",
                      where, i, (long long)v[3][i], (long)MAX_CATEGORY - 1);
    for (k = 0; k < 4; k++)
        free(v[k]);
    return rc;
}

/*
 * split_type (0, numerical, everywhere for the trees engine; 0 or 1,
 * categorical, for libxgboost) into jt->cat, and the categories.
 */
static int split_types(const struct md_trees *m, const struct md_jnode *tree, const char *where,
                       struct jtree *jt, struct md_err *err)
{
    const struct md_jnode *a;
    size_t i;
    int rc = array_len(tree, where, "split_type", jt->n, false, &a, err);

    memset(jt->cat, 0, jt->n);
    if (rc != MD_OK)
        return rc;
    /* The left_children scratch is free until tree_arrays fills it. */
    if (a != NULL &&
        (rc = ints_of(a, where, "split_type", false, "an integer", jt->left, err)) != MD_OK)
        return rc;
    for (i = 0; a != NULL && i < jt->n; i++) {
        if (jt->left[i] == 0)
            continue;
        if (!m->check)
            return FAIL(MD_EUNSUPPORTED,
                        "%s.split_type[%zu]: categorical splits are not supported by the "
                        "trees engine; use backend xgboost",
                        where, i);
        if (jt->left[i] != 1)
            return FAIL(MD_ECORRUPT,
                        "%s.split_type[%zu]: %lld is not 0 (numerical) or 1 (categorical)", where,
                        i, (long long)jt->left[i]);
        jt->cat[i] = 1;
    }
    if (m->check)
        return a == NULL ? MD_OK : categories(tree, where, jt, err);
    a = md_jdom_get(tree, "categories");
    if (a != NULL && (a->type != MD_J_ARRAY || a->n != 0))
        return FAIL(MD_EUNSUPPORTED,
                    "%s.categories: categorical splits are not supported by the trees "
                    "engine; use backend xgboost",
                    where);
    return MD_OK;
}

/*
 * For libxgboost, parents: it reads the parent of every node but the root
 * unchecked, so each must be a node (flatten checks that the nodes the root
 * reaches name their real parent).
 */
static int parents(const struct md_jnode *tree, const char *where, struct jtree *jt,
                   struct md_err *err)
{
    const struct md_jnode *a;
    size_t i;
    int rc = array_len(tree, where, "parents", jt->n, true, &a, err);

    if (rc != MD_OK ||
        (rc = ints_of(a, where, "parents", false, "an integer", jt->parent, err)) != MD_OK)
        return rc;
    for (i = 1; i < jt->n; i++)
        if (jt->parent[i] < 0 || (uint64_t)jt->parent[i] >= jt->n)
            return FAIL(MD_ECORRUPT, "%s.parents[%zu]: node %lld out of range (%zu nodes)", where,
                        i, (long long)jt->parent[i], jt->n);
    return MD_OK;
}

/*
 * Checks one tree's arrays (lengths, types, split types, categories) and
 * converts them into jt's scratch, which has room for the widest tree.
 */
static int tree_arrays(const struct md_trees *m, const struct md_jnode *tree, const char *where,
                       struct jtree *jt, struct md_err *err)
{
    const struct md_jnode *a;
    const struct md_jnode *left, *right, *sidx, *cond, *dleft;
    /* libxgboost 1.7 reads every UBJSON false as true: only 0 and 1 mean what they say. */
    bool booleans = !(m->check && m->ubjson);
    int rc;

    if (tree->type != MD_J_OBJECT)
        return FAIL(MD_ECORRUPT, "%s: %s, expected an object", where, type_name(tree));
    rc = need(tree, where, "left_children", MD_J_ARRAY, &a, err);
    if (rc != MD_OK)
        return rc;
    jt->n = a->n;
    if (jt->n == 0)
        return FAIL(MD_ECORRUPT, "%s.left_children: empty, a tree has a root", where);
    if (jt->n > UINT32_MAX / 4)
        return FAIL(MD_EUNSUPPORTED, "%s: %zu nodes is too many", where, jt->n);
    if ((rc = tree_param(tree, where, jt->n, err)) != MD_OK ||
        (rc = array_len(tree, where, "left_children", jt->n, true, &left, err)) != MD_OK ||
        (rc = array_len(tree, where, "right_children", jt->n, true, &right, err)) != MD_OK ||
        (rc = array_len(tree, where, "split_indices", jt->n, true, &sidx, err)) != MD_OK ||
        (rc = array_len(tree, where, "split_conditions", jt->n, true, &cond, err)) != MD_OK ||
        (rc = array_len(tree, where, "default_left", jt->n, true, &dleft, err)) != MD_OK ||
        (rc = array_len(tree, where, "base_weights", jt->n, false, &a, err)) != MD_OK ||
        (rc = split_types(m, tree, where, jt, err)) != MD_OK ||
        (m->check && (rc = parents(tree, where, jt, err)) != MD_OK))
        return rc;
    if ((rc = ints_of(left, where, "left_children", false, "an integer", jt->left, err)) != MD_OK ||
        (rc = ints_of(right, where, "right_children", false, "an integer", jt->right, err)) !=
            MD_OK ||
        (rc = ints_of(sidx, where, "split_indices", false, "an integer", jt->sidx, err)) != MD_OK ||
        (rc = ints_of(dleft, where, "default_left", booleans,
                      booleans ? "0 or 1" : "0 or 1 (libxgboost 1.7 reads a UBJSON false as true)",
                      jt->dleft, err)) != MD_OK ||
        (rc = doubles_of(cond, where, "split_conditions", jt->cond, err)) != MD_OK)
        return rc;
    /* Covers serve only explain: a model without them (or with bad ones) still loads. */
    jt->has_hess = false;
    if (!m->check) {
        a = md_jdom_get(tree, "sum_hessian");
        if (a != NULL && a->type == MD_J_ARRAY && a->n == jt->n) {
            jt->has_hess = doubles_of(a, where, "sum_hessian", jt->hess, err) == MD_OK;
            md_err_clear(err);
        }
    }
    return MD_OK;
}

/* Scratch for the breadth-first walk of one tree, sized for the largest. */
struct scratch {
    uint32_t *queue;  /* old node index, in new (breadth-first) order */
    uint32_t *qdepth; /* depth of each queued node */
    uint8_t *seen;    /* per old node index */
};

/* Why threshold d (not a finite float) cannot split: into a message. */
static int bad_threshold(const char *where, uint32_t o, double d, struct md_err *err)
{
    if (isnan(d))
        return FAIL(MD_ECORRUPT, "%s.split_conditions[%u]: NaN is not a threshold", where, o);
    if (isinf(d))
        return FAIL(MD_ECORRUPT, "%s.split_conditions[%u]: %sInfinity is not a threshold", where, o,
                    d < 0 ? "-" : "");
    return FAIL(MD_ECORRUPT, "%s.split_conditions[%u]: %g is not a finite float threshold", where,
                o, d);
}

/*
 * Flattens one checked tree into m->nodes[m->n_nodes...] breadth-first,
 * children adjacent; ignores nodes the root does not reach (XGBoost's deleted
 * nodes). Sets *depth.
 */
static int flatten(struct md_trees *m, const struct jtree *jt, const char *where,
                   struct scratch *sc, uint32_t *depth, size_t *max_off, struct md_err *err)
{
    struct md_trees_wnode *out = m->wnodes + m->n_nodes;
    size_t head;
    size_t tail = 1;

    memset(sc->seen, 0, jt->n);
    sc->queue[0] = 0;
    sc->qdepth[0] = 0;
    sc->seen[0] = 1;
    *depth = 0;
    for (head = 0; head < tail; head++) {
        uint32_t o = sc->queue[head];
        int64_t l = jt->left[o];
        int64_t r = jt->right[o];
        int64_t f = jt->sidx[o];
        size_t off;

        out[head].cond = (float)jt->cond[o];
        if (m->cover != NULL)
            m->cover[m->n_nodes + head] = (float)jt->hess[o];
        if (l == -1) {
            out[head].feat = m->nf; /* the NaN column, next 0: steps onto itself */
            out[head].next = 0;
            if (sc->qdepth[head] > *depth)
                *depth = sc->qdepth[head];
            continue;
        }
        if (l < 0 || (size_t)l >= jt->n)
            return FAIL(MD_ECORRUPT, "%s.left_children[%u]: child %lld out of range (%zu nodes)",
                        where, o, (long long)l, jt->n);
        if (r < 0 || (size_t)r >= jt->n)
            return FAIL(MD_ECORRUPT, "%s.right_children[%u]: child %lld out of range (%zu nodes)",
                        where, o, (long long)r, jt->n);
        /* libxgboost's predictor takes left + 1 as the right child; so must the file. */
        if (r != l + 1)
            return FAIL(MD_ECORRUPT,
                        "%s.right_children[%u]: %lld is not the left child + 1 (%lld), as "
                        "XGBoost lays trees out",
                        where, o, (long long)r, (long long)l + 1);
        if (sc->seen[l] || sc->seen[r])
            return FAIL(MD_ECORRUPT,
                        "%s: node %u has a child reached twice (%lld, %lld): a cycle or a "
                        "shared node",
                        where, o, (long long)l, (long long)r);
        if (m->check && (jt->parent[l] != o || jt->parent[r] != o))
            return FAIL(MD_ECORRUPT, "%s.parents[%lld]: %lld, but node %u is its parent", where,
                        (long long)(jt->parent[l] != o ? l : r),
                        (long long)jt->parent[jt->parent[l] != o ? l : r], o);
        if (f < 0 || f >= (int64_t)m->nf)
            return FAIL(MD_ECORRUPT,
                        "%s.split_indices[%u]: feature %lld out of range (num_feature %u)", where,
                        o, (long long)f, m->nf);
        /* libxgboost's categorical splits have no threshold (XGBoost writes NaN). */
        if (!isfinite(out[head].cond) && !jt->cat[o])
            return bad_threshold(where, o, jt->cond[o], err);
        off = tail - head;
        out[head].feat = jt->dleft[o] != 0 ? (uint32_t)f : m->nf + 1 + (uint32_t)f;
        out[head].next = (uint32_t)off;
        if (off > *max_off)
            *max_off = off;
        sc->seen[l] = 1;
        sc->seen[r] = 1;
        sc->queue[tail] = (uint32_t)l;
        sc->queue[tail + 1] = (uint32_t)r;
        sc->qdepth[tail] = sc->qdepth[head] + 1;
        sc->qdepth[tail + 1] = sc->qdepth[head] + 1;
        tail += 2;
    }
    m->n_nodes += tail;
    return MD_OK;
}

/*
 * For multi:* objectives, the objective's own num_class (which libxgboost's
 * transform reads) when present must be learner_model_param's.
 */
static int softmax_classes(const struct md_jnode *obj, long num_class, struct md_err *err)
{
    static const char *const where = "learner.objective.softmax_multiclass_param";
    const struct md_jnode *p = md_jdom_get(obj, "softmax_multiclass_param");
    long n;
    int rc;

    if (p == NULL)
        return MD_OK;
    if (p->type != MD_J_OBJECT)
        return FAIL(MD_ECORRUPT, "%s: %s, expected an object", where, type_name(p));
    if (md_jdom_get(p, "num_class") == NULL)
        return MD_OK;
    rc = need_int(p, where, "num_class", 0, MAX_CLASSES, &n, err);
    if (rc != MD_OK)
        return rc;
    if (n != num_class)
        return FAIL(MD_ECORRUPT, "%s.num_class: %ld, learner_model_param.num_class says %ld", where,
                    n, num_class);
    return MD_OK;
}

/*
 * learner.objective and learner.learner_model_param into m. A check for
 * libxgboost takes any objective, num_target up to MAX_CLASSES, and as many
 * outputs as libxgboost's groups: the largest of num_class, num_target and 1.
 */
static int load_learner(struct md_trees *m, const struct md_jnode *learner, struct md_err *err)
{
    static const char *const lmp_where = "learner.learner_model_param";
    const struct md_jnode *lmp;
    const struct md_jnode *obj;
    const struct md_jnode *name;
    double base;
    long num_class;
    long nf;
    long nt = 1;
    int rc;

    if ((rc = need(learner, "learner", "learner_model_param", MD_J_OBJECT, &lmp, err)) != MD_OK ||
        (rc = need(learner, "learner", "objective", MD_J_OBJECT, &obj, err)) != MD_OK ||
        (rc = need(obj, "learner.objective", "name", MD_J_STRING, &name, err)) != MD_OK)
        return rc;
    if (str_is(name, "binary:logistic")) {
        m->obj = MD_TREES_LOGISTIC;
        m->kind = MD_BACKEND_OUT_PROBABILITY;
    } else if (str_is(name, "multi:softprob")) {
        m->obj = MD_TREES_SOFTPROB;
        m->kind = MD_BACKEND_OUT_PROBABILITIES;
    } else if (str_is(name, "reg:squarederror") || m->check) {
        /* A check runs nothing: libxgboost says what it makes of any other name. */
        m->obj = MD_TREES_SQUARED;
        m->kind = MD_BACKEND_OUT_VALUE;
    } else {
        return FAIL(MD_EUNSUPPORTED,
                    "learner.objective.name: '%.*s' is not supported by the trees engine "
                    "(binary:logistic, reg:squarederror, multi:softprob); use backend "
                    "xgboost",
                    (int)(name->len < 60 ? name->len : 60), name->p);
    }
    m->objective = dup_str(name);
    if (m->objective == NULL)
        return FAIL(MD_ENOMEM, "trees: no memory for the objective name");
    if ((rc = need_num(lmp, lmp_where, "base_score", &base, err)) != MD_OK ||
        (rc = need_int(lmp, lmp_where, "num_class", 0, MAX_CLASSES, &num_class, err)) != MD_OK ||
        (rc = need_int(lmp, lmp_where, "num_feature", 1, MAX_FEATURES - 1, &nf, err)) != MD_OK)
        return rc;
    if (md_jdom_get(lmp, "num_target") != NULL) {
        rc =
            need_int(lmp, lmp_where, "num_target", 0, m->check ? MAX_CLASSES : INT32_MAX, &nt, err);
        if (rc != MD_OK)
            return rc;
        if (nt > 1 && !m->check)
            return FAIL(MD_EUNSUPPORTED,
                        "learner.learner_model_param.num_target: %ld targets are not "
                        "supported by the trees engine; use backend xgboost",
                        nt);
    }
    m->nf = (uint32_t)nf;
    m->n_out = 1;
    if (m->obj == MD_TREES_SOFTPROB || (m->check && strncmp(m->objective, "multi:", 6) == 0)) {
        if (num_class < 2)
            return FAIL(MD_ECORRUPT, "learner.learner_model_param.num_class: %ld is below 2 for %s",
                        num_class, m->objective);
        rc = softmax_classes(obj, num_class, err);
        if (rc != MD_OK)
            return rc;
        m->n_out = (uint32_t)num_class;
    }
    if (m->check) {
        m->n_out = (uint32_t)(num_class > nt ? num_class : nt);
        m->n_out = m->n_out > 1 ? m->n_out : 1;
    } else if (num_class > 1 && m->obj != MD_TREES_SOFTPROB) {
        return FAIL(MD_ECORRUPT, "learner.learner_model_param.num_class: %ld classes for '%s'",
                    num_class, m->objective);
    }
    m->base = (float)base;
    if (m->obj == MD_TREES_LOGISTIC) {
        /* base_score is a probability; the margin starts at its logit, in float as libxgboost. */
        if (!(m->base > 0.0f && m->base < 1.0f))
            return FAIL(MD_ECORRUPT,
                        "learner.learner_model_param.base_score: %g is not in (0, 1) for "
                        "binary:logistic",
                        base);
        m->base = -logf(1.0f / m->base - 1.0f);
    }
    return MD_OK;
}

/* learner.feature_names, when present and not empty. */
static int load_names(struct md_trees *m, const struct md_jnode *learner, struct md_err *err)
{
    const struct md_jnode *a = md_jdom_get(learner, "feature_names");
    const struct md_jnode *s;
    size_t i;

    if (a == NULL || (a->type == MD_J_ARRAY && a->n == 0))
        return MD_OK;
    if (a->type != MD_J_ARRAY)
        return FAIL(MD_ECORRUPT, "learner.feature_names: %s, expected an array", type_name(a));
    if (a->n != m->nf)
        return FAIL(MD_ECORRUPT, "learner.feature_names: %zu names, num_feature says %u", a->n,
                    m->nf);
    if (md_jdom_is_packed(a))
        return FAIL(MD_ECORRUPT, "learner.feature_names[0]: a number, expected a string");
    m->feature_names = md_calloc(m->nf, sizeof(*m->feature_names));
    if (m->feature_names == NULL)
        return FAIL(MD_ENOMEM, "trees: no memory for %u feature names", m->nf);
    for (s = a->child, i = 0; s != NULL; s = s->next, i++) {
        if (s->type != MD_J_STRING)
            return FAIL(MD_ECORRUPT, "learner.feature_names[%zu]: %s, expected a string", i,
                        type_name(s));
        m->feature_names[i] = dup_str(s);
        if (m->feature_names[i] == NULL)
            return FAIL(MD_ENOMEM, "trees: no memory for feature names");
    }
    return MD_OK;
}

/*
 * For libxgboost, a gblinear booster: libxgboost reads num_feature + 1
 * weights per output group unchecked.
 */
static int linear_weights(const struct md_trees *m, const struct md_jnode *gb, struct md_err *err)
{
    static const char *const where = "learner.gradient_booster.model";
    const struct md_jnode *model;
    const struct md_jnode *w;
    size_t want = ((size_t)m->nf + 1) * m->n_out;
    int rc;

    if ((rc = need(gb, "learner.gradient_booster", "model", MD_J_OBJECT, &model, err)) != MD_OK ||
        (rc = need(model, where, "weights", MD_J_ARRAY, &w, err)) != MD_OK)
        return rc;
    if (w->n != want)
        return FAIL(MD_ECORRUPT,
                    "%s.weights: %zu entries, expected %zu (num_feature + 1 for each of %u "
                    "outputs)",
                    where, w->n, want, m->n_out);
    return MD_OK;
}

/*
 * The gbtree model: booster kind, trees in id order (*order, n_trees + 1
 * entries) and each tree's class (*group_out, n_trees + 1 entries). A check
 * for libxgboost also takes dart (a gbtree model and a weight per tree) and
 * gblinear (no trees).
 */
static int load_booster(struct md_trees *m, const struct md_jnode *learner,
                        const struct md_jnode ***order, int64_t **group_out, struct md_err *err)
{
    const char *gb_where = "learner.gradient_booster";
    const char *model_where = "learner.gradient_booster.model";
    const char *gmp_where = "learner.gradient_booster.model.gbtree_model_param";
    const struct md_jnode *gb;
    const struct md_jnode *dart = NULL;
    const struct md_jnode *drop = NULL;
    const struct md_jnode *name;
    const struct md_jnode *model;
    const struct md_jnode *gmp;
    const struct md_jnode *trees;
    const struct md_jnode *info;
    const struct md_jnode *t;
    long num_trees;
    long npt = 1;
    size_t i;
    int rc;

    if ((rc = need(learner, "learner", "gradient_booster", MD_J_OBJECT, &gb, err)) != MD_OK ||
        (rc = need(gb, "learner.gradient_booster", "name", MD_J_STRING, &name, err)) != MD_OK)
        return rc;
    if (m->check && str_is(name, "gblinear"))
        return linear_weights(m, gb, err);
    if (m->check && str_is(name, "dart")) {
        dart = gb;
        if ((rc = need(dart, gb_where, "weight_drop", MD_J_ARRAY, &drop, err)) != MD_OK ||
            (rc = need(dart, gb_where, "gbtree", MD_J_OBJECT, &gb, err)) != MD_OK)
            return rc;
        gb_where = "learner.gradient_booster.gbtree";
        model_where = "learner.gradient_booster.gbtree.model";
        gmp_where = "learner.gradient_booster.gbtree.model.gbtree_model_param";
    } else if (m->check && !str_is(name, "gbtree")) {
        return FAIL(MD_EUNSUPPORTED,
                    "learner.gradient_booster.name: '%.*s' is not gbtree, dart or gblinear",
                    (int)(name->len < 40 ? name->len : 40), name->p);
    } else if (!str_is(name, "gbtree")) {
        return FAIL(MD_EUNSUPPORTED,
                    "learner.gradient_booster.name: '%.*s' boosters are not supported by "
                    "the trees engine (gbtree only); use backend xgboost",
                    (int)(name->len < 40 ? name->len : 40), name->p);
    }
    if ((rc = need(gb, gb_where, "model", MD_J_OBJECT, &model, err)) != MD_OK ||
        (rc = need(model, model_where, "gbtree_model_param", MD_J_OBJECT, &gmp, err)) != MD_OK ||
        (rc = need(model, model_where, "trees", MD_J_ARRAY, &trees, err)) != MD_OK ||
        (rc = need(model, model_where, "tree_info", MD_J_ARRAY, &info, err)) != MD_OK ||
        (rc = need_int(gmp, gmp_where, "num_trees", 0, INT32_MAX, &num_trees, err)) != MD_OK)
        return rc;
    /* Random forests (num_parallel_tree > 1) sum every tree into its group like boosted ones. */
    if (md_jdom_get(gmp, "num_parallel_tree") != NULL &&
        (rc = need_int(gmp, gmp_where, "num_parallel_tree", 1, INT32_MAX, &npt, err)) != MD_OK)
        return rc;
    if (trees->n != (size_t)num_trees)
        return FAIL(MD_ECORRUPT, "%s.trees: %zu trees, num_trees says %ld", model_where, trees->n,
                    num_trees);
    if (info->n != (size_t)num_trees)
        return FAIL(MD_ECORRUPT, "%s.tree_info: %zu entries, num_trees says %ld", model_where,
                    info->n, num_trees);
    /* dart weighs every tree; libxgboost reads the weight by tree number unchecked. */
    if (drop != NULL && drop->n != (size_t)num_trees)
        return FAIL(MD_ECORRUPT,
                    "learner.gradient_booster.weight_drop: %zu entries, num_trees says %ld",
                    drop->n, num_trees);
    if (num_trees > 0 && md_jdom_is_packed(trees))
        return FAIL(MD_ECORRUPT, "trees[0]: a number, expected an object");
    m->n_trees = (size_t)num_trees;
    *order = md_calloc(m->n_trees + 1, sizeof(const struct md_jnode *));
    *group_out = md_calloc(m->n_trees + 1, sizeof(**group_out));
    if (*order == NULL || *group_out == NULL)
        return FAIL(MD_ENOMEM, "trees: no memory for %zu trees", m->n_trees);
    rc = ints_of(info, model_where, "tree_info", false, "an integer", *group_out, err);
    if (rc != MD_OK)
        return rc;
    /* libxgboost places each tree by its id; so do we. */
    for (t = trees->child, i = 0; t != NULL; t = t->next, i++) {
        const struct md_jnode *id;
        int64_t k;

        if (t->type != MD_J_OBJECT)
            return FAIL(MD_ECORRUPT, "trees[%zu]: %s, expected an object", i, type_name(t));
        id = md_jdom_get(t, "id");
        if (id == NULL || !int_node(id, &k))
            return FAIL(MD_ECORRUPT, "trees[%zu].id: %s, expected an integer", i,
                        id == NULL ? "missing" : type_name(id));
        if (k < 0 || k >= num_trees || (*order)[k] != NULL)
            return FAIL(MD_ECORRUPT, "trees[%zu].id: %lld is out of range or repeated (%ld trees)",
                        i, (long long)k, num_trees);
        (*order)[k] = t;
    }
    return MD_OK;
}

/* Flattens every tree of order[] (n_trees, classes in group[]) into m. */
/*
 * For explain: each node's mean value, the cover-weighted mean of its
 * children's (libxgboost's FillNodeMeanValues), from the leaves up; children
 * follow their parent in wnodes. A split whose cover is not above 0 leaves
 * the model without covers (explain refused), as its fractions are undefined.
 */
static void node_means(struct md_trees *m)
{
    double *mean = md_malloc((m->n_nodes + 1) * sizeof(*mean));
    size_t i;

    for (i = m->n_nodes; mean != NULL && i-- > 0;) {
        const struct md_trees_wnode *w = &m->wnodes[i];
        size_t l = i + w->next;

        if (w->feat == m->nf) {
            mean[i] = w->cond;
        } else if (m->cover[i] > 0) {
            mean[i] = (mean[l] * m->cover[l] + mean[l + 1] * m->cover[l + 1]) / m->cover[i];
        } else {
            free(mean);
            mean = NULL;
        }
    }
    m->mean = mean;
    if (mean == NULL) {
        free(m->cover);
        m->cover = NULL;
    }
}

static int load_trees(struct md_trees *m, const struct md_jnode **order, const int64_t *group,
                      struct md_err *err)
{
    struct scratch sc = {NULL, NULL, NULL};
    struct jtree jt;
    size_t total = 0;
    size_t widest = 1;
    size_t max_off = 0;
    size_t i;
    char where[40];
    int rc = MD_OK;

    memset(&jt, 0, sizeof(jt));
    for (i = 0; i < m->n_trees; i++) {
        const struct md_jnode *lc = md_jdom_get(order[i], "left_children");
        size_t n = lc != NULL && lc->type == MD_J_ARRAY ? lc->n : 0;

        total += n;
        if (n > widest)
            widest = n;
    }
    if (total > UINT32_MAX / 2)
        return FAIL(MD_EUNSUPPORTED, "trees: %zu nodes is too many", total);
    m->wnodes = md_calloc(total + 1, sizeof(*m->wnodes));
    m->root = md_calloc(m->n_trees + 1, sizeof(*m->root));
    m->group = md_calloc(m->n_trees + 1, sizeof(*m->group));
    m->depth = md_calloc(m->n_trees + 1, sizeof(*m->depth));
    sc.queue = md_malloc(widest * sizeof(*sc.queue));
    sc.qdepth = md_malloc(widest * sizeof(*sc.qdepth));
    sc.seen = md_malloc(widest);
    jt.left = md_malloc(widest * sizeof(*jt.left));
    jt.right = md_malloc(widest * sizeof(*jt.right));
    jt.sidx = md_malloc(widest * sizeof(*jt.sidx));
    jt.dleft = md_malloc(widest * sizeof(*jt.dleft));
    jt.cond = md_malloc(widest * sizeof(*jt.cond));
    jt.parent = md_malloc(widest * sizeof(*jt.parent));
    jt.cat = md_malloc(widest);
    jt.hess = md_malloc(widest * sizeof(*jt.hess));
    if (!m->check)
        m->cover = md_calloc(total + 1, sizeof(*m->cover));
    if (jt.hess == NULL || m->wnodes == NULL || m->root == NULL || m->group == NULL ||
        m->depth == NULL || sc.queue == NULL || sc.qdepth == NULL || sc.seen == NULL ||
        jt.left == NULL || jt.right == NULL || jt.sidx == NULL || jt.dleft == NULL ||
        jt.cond == NULL || jt.parent == NULL || jt.cat == NULL) {
        rc = FAIL(MD_ENOMEM, "trees: no memory for %zu nodes", total);
        goto out;
    }
    for (i = 0; i < m->n_trees && rc == MD_OK; i++) {
        (void)snprintf(where, sizeof(where), "trees[%zu]", i); /* any size_t fits */
        if (group[i] < 0 || group[i] >= (int64_t)m->n_out) {
            rc = FAIL(MD_ECORRUPT,
                      "learner.gradient_booster.model.tree_info[%zu]: not a class from 0 "
                      "to %u",
                      i, m->n_out - 1);
            break;
        }
        m->group[i] = (uint32_t)group[i];
        m->root[i] = (uint32_t)m->n_nodes;
        rc = tree_arrays(m, order[i], where, &jt, err);
        if (rc == MD_OK && !jt.has_hess) {
            free(m->cover);
            m->cover = NULL;
        }
        if (rc == MD_OK)
            rc = flatten(m, &jt, where, &sc, &m->depth[i], &max_off, err);
    }
    if (rc == MD_OK && m->cover != NULL)
        node_means(m);
    /* A check builds nothing to run. */
    if (rc == MD_OK && !m->check)
        rc = md_trees__plan(m, max_off, err);
out:
    free(sc.queue);
    free(sc.qdepth);
    free(sc.seen);
    free(jt.left);
    free(jt.right);
    free(jt.sidx);
    free(jt.dleft);
    free(jt.cond);
    free(jt.parent);
    free(jt.cat);
    free(jt.hess);
    return rc;
}

/*
 * Parse memory for a model of len bytes: packed number arrays take 8 bytes
 * per number (JSON text, or UBJSON's typed arrays of at least one byte a
 * number), other nodes under 100 bytes for a token of at least two bytes.
 */
#define PARSE_BYTES(len) ((size_t)(len)*48 + ((size_t)1 << 20))

/* Objects with at most this many keys are checked for repeats pair by pair; larger ones sorted. */
#define FEW_KEYS 32

static int cmp_key(const void *a, const void *b)
{
    const struct md_jnode *x = *(const struct md_jnode *const *)a;
    const struct md_jnode *y = *(const struct md_jnode *const *)b;
    int c;

    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    c = memcmp(x->key, y->key, x->key_len);
    return c;
}

static bool same_key(const struct md_jnode *x, const struct md_jnode *y)
{
    return x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0;
}

/* A key of object o that appears twice, or NULL. */
static const struct md_jnode *repeated_key(const struct md_jnode *o, struct md_err *err, int *rc)
{
    const struct md_jnode **keys;
    const struct md_jnode *a;
    const struct md_jnode *b;
    const struct md_jnode *dup = NULL;
    size_t i = 0;

    *rc = MD_OK;
    if (o->n <= FEW_KEYS) {
        for (a = o->child; a != NULL && dup == NULL; a = a->next)
            for (b = a->next; b != NULL && dup == NULL; b = b->next)
                if (same_key(a, b))
                    dup = a;
        return dup;
    }
    keys = md_malloc(o->n * sizeof(const struct md_jnode *));
    if (keys == NULL) {
        *rc = FAIL(MD_ENOMEM, "trees: no memory to check %zu keys", o->n);
        return NULL;
    }
    for (a = o->child; a != NULL; a = a->next)
        keys[i++] = a;
    qsort(keys, o->n, sizeof(const struct md_jnode *), cmp_key);
    for (i = 1; i < o->n && dup == NULL; i++)
        if (same_key(keys[i - 1], keys[i]))
            dup = keys[i];
    free(keys);
    return dup;
}

/*
 * Checks that no object in the tree at v repeats a key: a reader that takes
 * the first of two and one that takes the last (libxgboost's readers are
 * not ours) would see different models. path (cap bytes, len used) names v.
 */
static int unique_keys(const struct md_jnode *v, char *path, size_t len, size_t cap,
                       struct md_err *err)
{
    const struct md_jnode *c;
    size_t i;
    int rc = MD_OK;

    if (v->type == MD_J_OBJECT) {
        c = repeated_key(v, err, &rc);
        if (rc != MD_OK)
            return rc;
        if (c != NULL)
            return FAIL(MD_ECORRUPT, "%s: the key '%.*s' appears twice",
                        len > 0 ? path : "top level", (int)(c->key_len < 60 ? c->key_len : 60),
                        c->key);
    }
    for (c = v->child, i = 0; c != NULL && rc == MD_OK; c = c->next, i++) {
        int n;

        if (c->type != MD_J_OBJECT && c->type != MD_J_ARRAY)
            continue;
        if (v->type == MD_J_OBJECT)
            n = snprintf(path + len, cap - len, "%s%.*s", len > 0 ? "." : "",
                         (int)(c->key_len < 40 ? c->key_len : 40), c->key);
        else
            n = snprintf(path + len, cap - len, "[%zu]", i);
        /* A path cut short still names where the repeat is, near enough. */
        n = n < 0 ? 0 : (size_t)n >= cap - len ? (int)(cap - len - 1) : n;
        rc = unique_keys(c, path, len + (size_t)n, cap, err);
        path[len] = '\0';
    }
    return rc;
}

/* The length of the JSON whitespace at the start of buf[0..len). */
static size_t leading_space(const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    return i;
}

/*
 * Whether the document at buf is UBJSON: told apart from JSON text as
 * libxgboost does, by what follows the opening brace (a letter, UBJSON's
 * first key length marker, rather than a quote or white space).
 */
static bool is_ubjson(const char *buf, size_t len)
{
    return len >= 2 && buf[0] == '{' &&
           ((buf[1] >= 'A' && buf[1] <= 'Z') || (buf[1] >= 'a' && buf[1] <= 'z'));
}

/* Parses the document at buf (JSON text or UBJSON) into *root, in arena. */
static int parse_doc(const char *buf, size_t len, bool ubjson, struct md_arena *arena,
                     struct md_jnode **root, struct md_err *err)
{
    struct md_err perr;
    int rc;

    md_err_clear(&perr);
    if (ubjson)
        rc = md_ubjson_parse(buf, len, arena, root, &perr);
    else
        /* XGBoost writes non-finite floats as the bare words NaN, Infinity and -Infinity. */
        rc = md_jdom_parse(buf, len, MD_JDOM_NANINF | MD_JDOM_PACKED, arena, root, &perr);
    if (rc == MD_EINVAL)
        return FAIL(MD_ECORRUPT, "not valid %s: %s", ubjson ? "UBJSON" : "JSON", perr.msg);
    if (rc != MD_OK)
        return FAIL(MD_ENOMEM, "trees: no memory to parse a %zu-byte model", len);
    return MD_OK;
}

/*
 * Loads the model of buf[0..len): for the trees engine, or (check) only to
 * check it for libxgboost, with no instance (*inst stays NULL).
 */
static int load_doc(const char *buf, size_t len, bool check, void **inst, struct md_err *err)
{
    struct md_arena arena;
    struct md_trees *m;
    const struct md_jnode *learner = NULL;
    struct md_jnode *root;
    const struct md_jnode **order = NULL;
    int64_t *group = NULL;
    size_t skip = leading_space(buf, len);
    bool ubjson = is_ubjson(buf + skip, len - skip);
    char path[160] = "";
    int rc;

    *inst = NULL;
    md_arena_init(&arena, PARSE_BYTES(len));
    rc =
        parse_doc(buf + (ubjson ? skip : 0), len - (ubjson ? skip : 0), ubjson, &arena, &root, err);
    if (rc != MD_OK) {
        md_arena_release(&arena);
        return rc;
    }
    m = md_calloc(1, sizeof(*m));
    if (m == NULL) {
        md_arena_release(&arena);
        return FAIL(MD_ENOMEM, "trees: no memory for a model");
    }
    m->check = check;
    m->ubjson = ubjson;
    if (root->type != MD_J_OBJECT)
        rc = FAIL(MD_ECORRUPT, "top level: %s, expected an object", type_name(root));
    else
        rc = unique_keys(root, path, 0, sizeof(path), err);
    if (rc == MD_OK)
        rc = need(root, "", "learner", MD_J_OBJECT, &learner, err);
    if (rc == MD_OK)
        rc = load_learner(m, learner, err);
    if (rc == MD_OK)
        rc = load_booster(m, learner, &order, &group, err);
    if (rc == MD_OK)
        rc = load_names(m, learner, err);
    /* A gblinear booster (checked for libxgboost) has no trees: order stays NULL. */
    if (rc == MD_OK && order != NULL)
        rc = load_trees(m, order, group, err);
    free(order);
    free(group);
    md_arena_release(&arena);
    if (rc != MD_OK || check) {
        md_trees__free(m);
        return rc;
    }
    m->check = false;
    m->nthread = 1;
    *inst = m;
    return MD_OK;
}

int md_trees__load_buffer(const char *buf, size_t len, void **inst, struct md_err *err)
{
    return load_doc(buf, len, false, inst, err);
}

int md_trees_check(const char *buf, size_t len, size_t *start, struct md_err *err)
{
    void *none;
    int rc = load_doc(buf, len, true, &none, err);

    if (rc == MD_OK)
        *start = leading_space(buf, len);
    return rc;
}
