/* SPDX-License-Identifier: MIT */
/*
 * trees_int.h: internals of the native tree engine, shared by its two
 * files (trees_load.c reads and checks a model file and flattens its trees;
 * trees.c plans the walks over them and evaluates them) and reached by its
 * tests, its fuzz target and its benchmark. The serving layer uses only
 * md_backend_trees, through backend.h and the registry.
 */
#ifndef MD_BACKEND_TREES_INT_H
#define MD_BACKEND_TREES_INT_H

#include "backend/backend.h"

extern const struct md_backend_ops md_backend_trees;

enum md_trees_obj {
    MD_TREES_LOGISTIC, /* binary:logistic */
    MD_TREES_SQUARED,  /* reg:squarederror */
    MD_TREES_SOFTPROB  /* multi:softprob */
};

/*
 * A node, narrow (8 bytes; models with at most 32767 features whose trees are
 * not too wide) or wide (12 bytes). A walk reads a row prepared as
 * [values with NaN as -inf | NaN | values with NaN as +inf]: a split that
 * sends missing values left reads the first copy (feat = f), one that sends
 * them right the second (feat = nf + 1 + f), so "go right iff v >= cond"
 * needs no test for NaN; this is exact because split thresholds are finite.
 * A leaf: cond = leaf value, feat = nf (the NaN, which compares false) and
 * next = 0, so it steps onto itself.
 */
struct md_trees_node {
    float cond;    /* split threshold (go left iff value < cond), or leaf value */
    uint16_t feat; /* column of the prepared row */
    uint16_t next; /* distance to the left child; the right child follows it */
};

struct md_trees_wnode {
    float cond;
    uint32_t feat;
    uint32_t next;
};

/* How a batch works out its codes (trees.c). */
struct md_trees_isa;

/*
 * A loaded model. trees_load.c fills the fields down to nthread (the trees
 * flattened into wnodes, breadth-first, with root, depth and group);
 * md_trees__plan (trees.c) adds the rest and may narrow the nodes.
 */
struct md_trees {
    struct md_trees_node *nodes;   /* narrow layout, or NULL */
    struct md_trees_wnode *wnodes; /* wide layout, or NULL; every tree, in model order */
    uint32_t *root;                /* per tree: index of its root node */
    uint32_t *depth;               /* per tree: steps from the root to its deepest leaf */
    uint32_t *group;               /* per tree: output column it adds to */
    /*
     * For one-row walks, blocks of TREE_LANES trees walked together: in model
     * order, or by decreasing depth when that saves steps (sorted); padded to
     * whole blocks.
     */
    uint32_t *by_depth; /* tree numbers */
    uint32_t *broot;    /* their roots */
    uint32_t *bdepth;   /* per block: its largest depth */
    bool sorted;        /* blocks are by depth, not in model order */
    size_t n_trees;
    size_t n_nodes;
    uint32_t nf;    /* num_feature; a prepared row has 2 * nf + 1 columns */
    uint32_t n_out; /* output columns: 1, or num_class for multi:softprob */
    float base;     /* initial margin of every output column */
    enum md_trees_obj obj;
    enum md_backend_out kind;
    char *objective;      /* objective name */
    char **feature_names; /* NULL or nf names */
    uint32_t nthread;     /* threads a large batch is split across */
    /*
     * For ROW_LANES-row walks, each tree's first TOP_LEVELS levels taken for
     * all rows at once: the TOP_NODES splits as prepared columns (times
     * ROW_LANES) and thresholds, and where the walk is after those levels
     * (a node's distance from the root) for each outcome of the splits.
     */
    uint32_t *top_col;              /* TOP_NODES per tree */
    float *top_cond;                /* TOP_NODES per tree */
    uint8_t *top_dest;              /* TOP_CODES per tree */
    const struct md_trees_isa *isa; /* how the codes are worked out */
    /*
     * For explain (TreeSHAP), per node in the order of wnodes (which narrowing keeps):
     * its cover (the file's sum_hessian) and the cover-weighted mean of the leaves below
     * it. Both NULL when a tree has no usable sum_hessian: explain is then refused.
     */
    float *cover;
    double *mean;
    /* While loading only: */
    bool check;  /* md_trees_check: the file is for libxgboost, nothing is built to run */
    bool ubjson; /* the file is UBJSON, not JSON text */
};

/*
 * Loads an XGBoost 1.7 model, JSON text or UBJSON, from buf[0..len) (need
 * not be NUL-terminated) as md_backend_trees.load does from a file, without
 * engine options. On success *inst is an instance for md_backend_trees' describe,
 * predict and free. Returns MD_OK, MD_ECORRUPT, MD_EUNSUPPORTED or MD_ENOMEM
 * with a message in err. Safe on any bytes.
 */
int md_trees__load_buffer(const char *buf, size_t len, void **inst, struct md_err *err);

/*
 * Plans the walks over m's flattened trees (m->wnodes, root, depth, group):
 * the blocks of one-row walks, the first levels that batches take with
 * vector compares and the instruction set for them, and 8-byte nodes in
 * place of m->wnodes when every field fits (max_off: the largest distance
 * from a node to its left child). MD_OK or MD_ENOMEM.
 */
int md_trees__plan(struct md_trees *m, size_t max_off, struct md_err *err);

/*
 * md_backend_trees' explain (trees_explain.c): exact TreeSHAP, libxgboost's
 * pred_contribs: per row, for each output group, each column's contribution
 * to the margin, then the bias (the base margin plus every tree's mean
 * value). MD_EUNSUPPORTED for a model without covers (sum_hessian) or with a
 * tree deeper than 512; MD_ENOMEM.
 */
int md_trees__explain(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err);

/* Frees a model, whole or built part way (NULL: nothing). */
void md_trees__free(void *inst);

/*
 * Batches of 16 rows work out the first levels of every tree with vector
 * compares, in the best instruction set the CPU has: "avx2" (on x86-64) or
 * "generic" (GCC's vectors of four: SSE2 on x86-64, plain code elsewhere). md_trees__isa
 * names the one an instance uses; md_trees__set_isa makes it use another
 * (MD_OK, MD_EUNSUPPORTED when the CPU lacks it, MD_ENOTFOUND for an
 * unknown name). Outputs are the same floats whichever runs.
 */
const char *md_trees__isa(const void *inst);
int md_trees__set_isa(void *inst, const char *name);

#endif
