/* SPDX-License-Identifier: MIT */
/*
 * trees_explain.c: the trees engine's explain: exact TreeSHAP (Lundberg,
 * Erion and Lee, "Consistent individualized feature attribution for tree
 * ensembles", algorithm 2), as libxgboost's pred_contribs computes it
 * (RegTree::CalculateContributions, without conditioning), on the engine's
 * flattened trees and the covers the loader kept (trees_int.h). Each row's
 * contributions to a group's margin, and the bias, sum to that margin.
 * Arithmetic is in double precision, the outputs are rounded to float.
 */
#include "backend/trees_int.h"

#include <math.h>

#include "util/mem.h"

/* Deeper trees are refused: the path buffer grows with the square of the depth. */
#define MAX_EXPLAIN_DEPTH 512

/* One feature on the path from the root: the share of the cover and of the row going on. */
struct pathel {
    int64_t feat; /* -1 for the root's place */
    double zero;  /* share of the cover that follows this split */
    double one;   /* 1 when the row follows it, else 0 */
    double pweight;
};

/* A walk over one tree for one row. */
struct walk {
    const struct md_trees *m;
    const float *x; /* the row */
    double *phi;    /* nf + 1 sums for the tree's group */
};

/* A node's threshold, its prepared column (as in struct md_trees_node) and left child. */
static void node_at(const struct md_trees *m, size_t i, float *cond, uint32_t *feat, size_t *left)
{
    if (m->wnodes != NULL) {
        *cond = m->wnodes[i].cond;
        *feat = m->wnodes[i].feat;
        *left = i + m->wnodes[i].next;
    } else {
        *cond = m->nodes[i].cond;
        *feat = m->nodes[i].feat;
        *left = i + m->nodes[i].next;
    }
}

static void extend(struct pathel *p, size_t d, double zero, double one, int64_t feat)
{
    size_t i;

    p[d].feat = feat;
    p[d].zero = zero;
    p[d].one = one;
    p[d].pweight = d == 0 ? 1.0 : 0.0;
    for (i = d; i-- > 0;) {
        p[i + 1].pweight += one * p[i].pweight * (double)(i + 1) / (double)(d + 1);
        p[i].pweight = zero * p[i].pweight * (double)(d - i) / (double)(d + 1);
    }
}

static void unwind(struct pathel *p, size_t d, size_t at)
{
    double one = p[at].one;
    double zero = p[at].zero;
    double next = p[d].pweight;
    size_t i;

    for (i = d; i-- > 0;) {
        if (one != 0) {
            double t = p[i].pweight;

            p[i].pweight = next * (double)(d + 1) / ((double)(i + 1) * one);
            next = t - p[i].pweight * zero * (double)(d - i) / (double)(d + 1);
        } else {
            p[i].pweight = p[i].pweight * (double)(d + 1) / (zero * (double)(d - i));
        }
    }
    for (i = at; i < d; i++) {
        p[i].feat = p[i + 1].feat;
        p[i].zero = p[i + 1].zero;
        p[i].one = p[i + 1].one;
    }
}

static double unwound_sum(const struct pathel *p, size_t d, size_t at)
{
    double one = p[at].one;
    double zero = p[at].zero;
    double next = p[d].pweight;
    double total = 0;
    size_t i;

    for (i = d; i-- > 0;) {
        if (one != 0) {
            double t = next * (double)(d + 1) / ((double)(i + 1) * one);

            total += t;
            next = p[i].pweight - t * zero * (double)(d - i) / (double)(d + 1);
        } else if (zero != 0) {
            total += p[i].pweight / zero / ((double)(d - i) / (double)(d + 1));
        }
    }
    return total;
}

/* TreeSHAP below node, whose parent's path (d + 1 entries) is at parent. */
static void shap(const struct walk *w, size_t node, size_t d, const struct pathel *parent,
                 double zero, double one, int64_t feat)
{
    const struct md_trees *m = w->m;
    struct pathel *p = (struct pathel *)parent + d + 1;
    float cond;
    uint32_t col;
    size_t left;
    size_t hot;
    size_t cold;
    size_t at;
    int64_t f;
    double iz = 1;
    double io = 1;
    float v;

    memcpy(p, parent, (d + 1) * sizeof(*p));
    extend(p, d, zero, one, feat);
    node_at(m, node, &cond, &col, &left);
    if (col == m->nf) { /* a leaf: cond is its value */
        size_t i;

        for (i = 1; i <= d; i++)
            w->phi[p[i].feat] += unwound_sum(p, d, i) * (p[i].one - p[i].zero) * (double)cond;
        return;
    }
    /* col < nf: missing goes left; col > nf: missing goes right (trees_int.h). */
    f = col < m->nf ? (int64_t)col : (int64_t)col - (int64_t)m->nf - 1;
    v = w->x[f];
    if (isnan(v))
        hot = col < m->nf ? left : left + 1;
    else
        hot = v < cond ? left : left + 1;
    cold = hot == left ? left + 1 : left;
    for (at = 0; at <= d; at++)
        if (p[at].feat == f)
            break;
    if (at <= d) {
        iz = p[at].zero;
        io = p[at].one;
        unwind(p, d, at);
        d--;
    }
    shap(w, hot, d + 1, p, (double)m->cover[hot] / m->cover[node] * iz, io, f);
    shap(w, cold, d + 1, p, (double)m->cover[cold] / m->cover[node] * iz, 0, f);
}

int md_trees__explain(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    const struct md_trees *m = inst;
    size_t width = (size_t)m->nf + 1;
    size_t deepest = 0;
    size_t cells;
    struct pathel *path;
    double *phi;
    size_t r;
    size_t t;
    size_t g;

    if (m->cover == NULL || m->mean == NULL)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "explain: the model has no usable covers (sum_hessian) for TreeSHAP");
    for (t = 0; t < m->n_trees; t++)
        if (m->depth[t] > deepest)
            deepest = m->depth[t];
    if (deepest > MAX_EXPLAIN_DEPTH)
        return md_err_set(err, MD_EUNSUPPORTED, "explain: a tree of depth %zu is deeper than %d",
                          deepest, MAX_EXPLAIN_DEPTH);
    cells = (deepest + 3) * (deepest + 4) / 2;
    path = md_calloc(cells, sizeof(*path));
    phi = md_calloc(width * m->n_out, sizeof(*phi));
    if (path == NULL || phi == NULL) {
        free(path);
        free(phi);
        return md_err_set(err, MD_ENOMEM, "explain: no memory for trees of depth %zu", deepest);
    }
    for (r = 0; r < n_rows; r++) {
        const float *row = x + r * m->nf;

        memset(phi, 0, width * m->n_out * sizeof(*phi));
        for (t = 0; t < m->n_trees; t++) {
            struct walk w = {m, row, phi + (size_t)m->group[t] * width};

            w.phi[m->nf] += m->mean[m->root[t]];
            shap(&w, m->root[t], 0, path, 1, 1, -1);
        }
        for (g = 0; g < m->n_out; g++) {
            size_t j;

            phi[g * width + m->nf] += m->base;
            for (j = 0; j < width; j++)
                out[(r * m->n_out + g) * width + j] = (float)phi[g * width + j];
        }
    }
    free(path);
    free(phi);
    return MD_OK;
}
