/* SPDX-License-Identifier: MIT */
/*
 * trees.c: the native engine for gradient-boosted tree ensembles that XGBoost
 * 1.7 saved as JSON or UBJSON (backend `trees`): how its walks are planned
 * and run. Reading and checking the file, and flattening its trees, is
 * trees_load.c's.
 *
 * The loader flattens every tree into one array of nodes (8 bytes; 12 for
 * very wide models): breadth-first per tree, the two children of a node side
 * by side, so a step is "index += offset + go_right". Rows are copied with
 * missing values made -inf or +inf so that the compare alone follows each
 * node's default direction (see struct md_trees_node). A leaf holds its value
 * in the threshold field, reads a NaN column and points at itself, so a walk
 * runs a fixed number of steps (the tree's depth) with no branch on the
 * data, and several walks (several trees for one row, or several rows for
 * one tree) proceed in lock-step for instruction-level parallelism. A batch's
 * walks of 16 rows take each tree's first three levels for all 16 at once:
 * one vector compare per split gives each row a 7-bit code, and a table per
 * tree turns the code into the node the row has reached. Sums are float,
 * start from the base margin and add trees in model order, as libxgboost
 * does, so outputs match it.
 */
#include "backend/trees_int.h"
#include "backend/trees.h"
#include "backend/xgboost_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TREES_X86 1
#endif

#include <math.h>

#include "util/mem.h"
#include "util/sys.h"

/*
 * Trees walked in lock-step for one row; rows walked in lock-step per tree.
 * Ten walks keep their indexes in x86-64's registers (twelve spilled two to
 * the stack: one-row predicts 4% slower on the benchmark model).
 */
#define TREE_LANES 10
#define ROW_LANES  16
/*
 * The levels of every tree that ROW_LANES-row walks take for all rows at once
 * with vector compares: TOP_NODES splits give a code of TOP_NODES bits per
 * row (bit k: the row goes right at the k-th split, breadth-first), and a
 * table of TOP_CODES entries per tree turns the code into a node.
 */
#define TOP_LEVELS 3
#define TOP_NODES  ((1u << TOP_LEVELS) - 1)
#define TOP_CODES  (1u << TOP_NODES)
/* Trees whose codes a ROW_LANES-row walk works out at a time. */
#define CODE_TREES 64
_Static_assert(ROW_LANES % 4 == 0, "rows go through vectors of four");
/* Floats of row copies (and leaf values) kept on the stack; bigger models allocate per call. */
#define STACK_FLOATS 8192
/*
 * A batch of PARALLEL_ROWS or more is split into parts of at least PART_ROWS
 * rows, MD_PARALLEL_SPLIT per thread at most.
 */
#define PARALLEL_ROWS 2048
#define PART_ROWS     512
#define MAX_NTHREAD   64

/*
 * Works out the codes of ROW_LANES prepared rows (buf, interleaved) for n
 * trees whose splits are col and cond (TOP_NODES each): code[t *
 * ROW_LANES + r] for row r of tree t.
 */
typedef void top_codes_fn(const float *buf, const uint32_t *col, const float *cond, size_t n,
                          int32_t *code);

struct md_trees_isa {
    const char *name;
    top_codes_fn *codes;
    bool (*usable)(void);
};

/*
 * Sets err and evaluates to code, as md_err_set does; spelled out so that
 * static analysis, which cannot see into err.c, knows an error return is not
 * MD_OK. Used where the error is named err.
 */
#define FAIL(code, ...) (md_err_set(err, (code), __VA_ARGS__), (code))

/* ---------------------------------------------------------------- evaluation */

/* One step of a walk from node i; column f of the prepared row is at x[f * lanes]. */
static inline __attribute__((always_inline)) uint32_t step(const void *nodes, bool wide, uint32_t i,
                                                           const float *x, size_t lanes)
{
    if (wide) {
        const struct md_trees_wnode *n = (const struct md_trees_wnode *)nodes + i;

        return i + n->next + (uint32_t)(x[n->feat * lanes] >= n->cond);
    } else {
        const struct md_trees_node *n = (const struct md_trees_node *)nodes + i;

        return i + n->next + (uint32_t)(x[n->feat * lanes] >= n->cond);
    }
}

static inline float leaf(const void *nodes, bool wide, uint32_t i)
{
    return wide ? ((const struct md_trees_wnode *)nodes)[i].cond
                : ((const struct md_trees_node *)nodes)[i].cond;
}

/* Value v of feature f into both of its columns of a prepared row (see below). */
static inline void prepare_one(float v, uint32_t nf, uint32_t f, float *p, size_t lanes)
{
    bool miss = isnan(v);

    p[f * lanes] = miss ? -INFINITY : v;
    p[(nf + 1 + f) * lanes] = miss ? INFINITY : v;
}

/* Prepares row x (nf values) into p[0], p[lanes], ... (2 * nf + 1 columns). */
static inline void prepare(const float *x, uint32_t nf, float *p, size_t lanes)
{
    uint32_t f;

    for (f = 0; f < nf; f++)
        prepare_one(x[f], nf, f, p, lanes);
    p[nf * lanes] = NAN;
}

/*
 * Prepares ROW_LANES rows of x (nf values each) into buf interleaved, as
 * prepare() does each into buf + r with ROW_LANES lanes: four rows and four
 * columns at a time through a 4x4 transpose.
 */
static void prepare_rows(const float *x, uint32_t nf, float *buf)
{
    const md_f32x4 ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    const md_f32x4 pinf = {INFINITY, INFINITY, INFINITY, INFINITY};
    size_t g;

    for (g = 0; g < ROW_LANES; g += 4) {
        const float *x0 = x + g * nf;
        float *p = buf + g;
        uint32_t f = 0;
        size_t r;

        for (; nf - f >= 4; f += 4) {
            md_f32x4 a[4];
            md_f32x4 t[4];
            uint32_t j;

            for (r = 0; r < 4; r++)
                memcpy(&a[r], x0 + r * nf + f, sizeof(a[r]));
            /* Column j of the four rows into t[j]. */
            t[0] = __builtin_shufflevector(a[0], a[1], 0, 4, 1, 5);
            t[1] = __builtin_shufflevector(a[2], a[3], 0, 4, 1, 5);
            t[2] = __builtin_shufflevector(a[0], a[1], 2, 6, 3, 7);
            t[3] = __builtin_shufflevector(a[2], a[3], 2, 6, 3, 7);
            a[0] = __builtin_shufflevector(t[0], t[1], 0, 1, 4, 5);
            a[1] = __builtin_shufflevector(t[0], t[1], 2, 3, 6, 7);
            a[2] = __builtin_shufflevector(t[2], t[3], 0, 1, 4, 5);
            a[3] = __builtin_shufflevector(t[2], t[3], 2, 3, 6, 7);
            for (j = 0; j < 4; j++) {
                /* NaN: the exponent all ones and a nonzero fraction. */
                md_i32x4 miss = ((md_i32x4)a[j] & 0x7fffffff) > 0x7f800000;
                md_f32x4 lo = (md_f32x4)((miss & (md_i32x4)ninf) | (~miss & (md_i32x4)a[j]));
                md_f32x4 hi = (md_f32x4)((miss & (md_i32x4)pinf) | (~miss & (md_i32x4)a[j]));

                memcpy(p + (size_t)(f + j) * ROW_LANES, &lo, sizeof(lo));
                memcpy(p + (size_t)(nf + 1 + f + j) * ROW_LANES, &hi, sizeof(hi));
            }
        }
        /* The last nf % 4 columns one by one, and the NaN column. */
        for (r = 0; r < 4; r++) {
            uint32_t k;

            for (k = f; k < nf; k++)
                prepare_one(x0[r * nf + k], nf, k, p + r, ROW_LANES);
            p[(size_t)nf * ROW_LANES + r] = NAN;
        }
    }
}

static float sigmoid(float x)
{
    /* As libxgboost 1.7: exp of at most 88.7 stays finite. */
    float e = -x < 88.7f ? -x : 88.7f;

    return 1.0f / (expf(e) + 1.0f);
}

static void softmax(float *p, uint32_t n)
{
    float mx = p[0];
    double sum = 0.0;
    uint32_t i;

    for (i = 1; i < n; i++)
        mx = fmaxf(p[i], mx);
    for (i = 0; i < n; i++) {
        p[i] = expf(p[i] - mx);
        sum += p[i];
    }
    for (i = 0; i < n; i++)
        p[i] /= (float)sum;
}

static void transform(const struct md_trees *m, float *out, size_t n_rows)
{
    size_t r;

    switch (m->obj) {
    case MD_TREES_LOGISTIC:
        for (r = 0; r < n_rows; r++)
            out[r] = sigmoid(out[r]);
        break;
    case MD_TREES_SOFTPROB:
        for (r = 0; r < n_rows; r++)
            softmax(out + r * m->n_out, m->n_out);
        break;
    case MD_TREES_SQUARED:
        break;
    }
}

/*
 * One row: TREE_LANES trees at a time, by depth; each leaf value is kept
 * and the sum is taken in model order. buf has room for 2 * nf + 1 + n_trees
 * floats.
 */
static inline __attribute__((always_inline)) void
predict_row(const struct md_trees *m, bool wide, const float *x, float *out, float *buf)
{
    const void *nodes = wide ? (const void *)m->wnodes : (const void *)m->nodes;
    float *leafv = buf + 2 * (size_t)m->nf + 1;
    size_t t;
    uint32_t g;

    prepare(x, m->nf, buf, 1);
    for (g = 0; g < m->n_out; g++)
        out[g] = m->base;
    for (t = 0; t < m->n_trees; t += TREE_LANES) {
        uint32_t idx[TREE_LANES];
        uint32_t d = m->bdepth[t / TREE_LANES];
        size_t nt = m->n_trees - t < TREE_LANES ? m->n_trees - t : TREE_LANES;
        uint32_t s;
        size_t k;

        memcpy(idx, m->broot + t, sizeof(idx));
        for (s = 0; s < d; s++) {
#pragma GCC unroll 16
            for (k = 0; k < TREE_LANES; k++)
                idx[k] = step(nodes, wide, idx[k], buf, 1);
        }
        if (m->sorted) {
            for (k = 0; k < nt; k++)
                leafv[m->by_depth[t + k]] = leaf(nodes, wide, idx[k]);
        } else if (m->n_out == 1) {
            /* Model order: sum as we go, overlapping the adds with the next walks. */
            for (k = 0; k < nt; k++)
                out[0] += leaf(nodes, wide, idx[k]);
        } else {
            for (k = 0; k < nt; k++)
                out[m->group[t + k]] += leaf(nodes, wide, idx[k]);
        }
    }
    if (!m->sorted)
        return;
    if (m->n_out == 1) {
        for (t = 0; t < m->n_trees; t++)
            out[0] += leafv[t];
    } else {
        for (t = 0; t < m->n_trees; t++)
            out[m->group[t]] += leafv[t];
    }
}

/* Codes with GCC's vectors of four: SSE2 on x86-64, plain code elsewhere. */
static void codes_vec4(const float *buf, const uint32_t *col, const float *cond, size_t n,
                       int32_t *code)
{
    size_t t;

    for (t = 0; t < n; t++, col += TOP_NODES, cond += TOP_NODES) {
        md_i32x4 c[ROW_LANES / 4] = {{0}};
        uint32_t k;
        size_t r;

        for (k = 0; k < TOP_NODES; k++) {
            const md_f32x4 th = {cond[k], cond[k], cond[k], cond[k]};
            const int32_t bit = (int32_t)(1u << k);

#pragma GCC unroll 4
            for (r = 0; r < ROW_LANES / 4; r++) {
                md_f32x4 v;

                memcpy(&v, buf + col[k] + 4 * r, sizeof(v));
                c[r] |= (v >= th) & bit;
            }
        }
        memcpy(code + t * ROW_LANES, c, sizeof(c));
    }
}

static bool always(void)
{
    return true;
}

#ifdef TREES_X86
_Static_assert(ROW_LANES == 16, "the AVX2 codes take sixteen rows");

/* Codes eight rows to a vector. */
__attribute__((target("avx2"))) static void codes_avx2(const float *buf, const uint32_t *col,
                                                       const float *cond, size_t n, int32_t *code)
{
    size_t t;

    for (t = 0; t < n; t++, col += TOP_NODES, cond += TOP_NODES) {
        __m256i c0 = _mm256_setzero_si256();
        __m256i c1 = _mm256_setzero_si256();
        uint32_t k;

        for (k = 0; k < TOP_NODES; k++) {
            const __m256 th = _mm256_set1_ps(cond[k]);
            const __m256i bit = _mm256_set1_epi32((int)(1u << k));
            __m256 g0 = _mm256_cmp_ps(_mm256_loadu_ps(buf + col[k]), th, _CMP_GE_OQ);
            __m256 g1 = _mm256_cmp_ps(_mm256_loadu_ps(buf + col[k] + 8), th, _CMP_GE_OQ);

            c0 = _mm256_or_si256(c0, _mm256_and_si256(_mm256_castps_si256(g0), bit));
            c1 = _mm256_or_si256(c1, _mm256_and_si256(_mm256_castps_si256(g1), bit));
        }
        _mm256_storeu_si256((__m256i *)(void *)(code + t * ROW_LANES), c0);
        _mm256_storeu_si256((__m256i *)(void *)(code + t * ROW_LANES + 8), c1);
    }
}

static bool has_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}

#endif

/* Best first; the last one runs anywhere. */
static const struct md_trees_isa isas[] = {
#ifdef TREES_X86
    {"avx2", codes_avx2, has_avx2},
#endif
    {"generic", codes_vec4, always},
};

/*
 * ROW_LANES rows: each tree's first TOP_LEVELS levels for all of them at
 * once (one vector compare per split), then the rest walked for all of them
 * in lock-step. buf has room for (2 * nf + 1) * ROW_LANES floats: the
 * prepared rows interleaved, column f of row r at buf[f * ROW_LANES + r].
 */
static inline __attribute__((always_inline)) void
predict_rows(const struct md_trees *m, bool wide, const float *x, float *out, float *buf)
{
    const void *nodes = wide ? (const void *)m->wnodes : (const void *)m->nodes;
    md_f32x4 acc[ROW_LANES / 4]; /* the sums, when there is one output column */
    int32_t codes[CODE_TREES * ROW_LANES];
    size_t r;
    size_t t;

    prepare_rows(x, m->nf, buf);
    for (r = 0; r < ROW_LANES / 4; r++)
        acc[r] = (md_f32x4){m->base, m->base, m->base, m->base};
    for (r = 0; m->n_out > 1 && r < (size_t)ROW_LANES * m->n_out; r++)
        out[r] = m->base;
    for (t = 0; t < m->n_trees; t++) {
        const uint8_t *dest = m->top_dest + t * TOP_CODES;
        const int32_t *code = codes + (t % CODE_TREES) * ROW_LANES;
        uint32_t idx[ROW_LANES];
        md_f32x4 lv[ROW_LANES / 4];
        uint32_t d = m->depth[t];
        uint32_t root = m->root[t];
        uint32_t s;

        if (t % CODE_TREES == 0) {
            size_t n = m->n_trees - t < CODE_TREES ? m->n_trees - t : CODE_TREES;

            m->isa->codes(buf, m->top_col + t * TOP_NODES, m->top_cond + t * TOP_NODES, n, codes);
        }
#pragma GCC unroll 16
        for (r = 0; r < ROW_LANES; r++)
            idx[r] = root + dest[code[r]];
        for (s = TOP_LEVELS; s < d; s++) {
#pragma GCC unroll 16
            for (r = 0; r < ROW_LANES; r++)
                idx[r] = step(nodes, wide, idx[r], buf + r, ROW_LANES);
        }
#pragma GCC unroll 16
        for (r = 0; r < ROW_LANES; r++)
            lv[r / 4][r % 4] = leaf(nodes, wide, idx[r]);
        if (m->n_out == 1) {
#pragma GCC unroll 4
            for (r = 0; r < ROW_LANES / 4; r++)
                acc[r] += lv[r];
        } else {
            float *o = out + m->group[t];

            for (r = 0; r < ROW_LANES; r++)
                o[r * m->n_out] += lv[r / 4][r % 4];
        }
    }
    if (m->n_out == 1)
        memcpy(out, acc, sizeof(acc));
}

/* Rows [0, n) of x into out; inlined once per node layout so that wide is a constant. */
static inline __attribute__((always_inline)) void predict_all(const struct md_trees *m, bool wide,
                                                              const float *x, size_t n_rows,
                                                              float *out, float *buf)
{
    size_t r = 0;

    for (; n_rows - r >= ROW_LANES; r += ROW_LANES)
        predict_rows(m, wide, x + r * m->nf, out + r * m->n_out, buf);
    for (; r < n_rows; r++)
        predict_row(m, wide, x + r * m->nf, out + r * m->n_out, buf);
}

/* Rows [0, n) of x into out on one thread, transform included. */
static int predict_serial(const struct md_trees *m, const float *x, size_t n_rows, float *out,
                          struct md_err *err)
{
    const size_t stride = 2 * (size_t)m->nf + 1;
    float stack[STACK_FLOATS];
    float *buf = stack;
    size_t need = stride + m->n_trees;

    if (n_rows >= ROW_LANES && stride * ROW_LANES > need)
        need = stride * ROW_LANES;

    if (need > STACK_FLOATS) {
        buf = md_malloc(need * sizeof(*buf));
        if (buf == NULL)
            return FAIL(MD_ENOMEM, "trees: no memory for %zu row copies", need);
    }
    if (m->wnodes != NULL)
        predict_all(m, true, x, n_rows, out, buf);
    else
        predict_all(m, false, x, n_rows, out, buf);
    transform(m, out, n_rows);
    if (buf != stack)
        free(buf);
    return MD_OK;
}

/* One thread's share of a large batch. */
struct part {
    const struct md_trees *m;
    const float *x;
    size_t n_rows;
    float *out;
    int rc;
    struct md_err err;
};

static void predict_part(void *arg)
{
    struct part *p = arg;

    p->rc = predict_serial(p->m, p->x, p->n_rows, p->out, &p->err);
}

/*
 * A large batch: n_parts contiguous runs of rows, which up to m->nthread
 * threads (this one included) take in turn. Each row's result does not
 * depend on the split.
 */
static int predict_parallel(const struct md_trees *m, const float *x, size_t n_rows, float *out,
                            size_t n_parts, struct md_err *err)
{
    struct part *parts = md_calloc(n_parts, sizeof(*parts));
    size_t per = (n_rows / n_parts + ROW_LANES - 1) / ROW_LANES * ROW_LANES;
    size_t first = 0;
    size_t i;
    int rc = MD_OK;

    if (parts == NULL)
        return predict_serial(m, x, n_rows, out, err);
    for (i = 0; i < n_parts; i++) {
        size_t n = i + 1 == n_parts || n_rows - first < per ? n_rows - first : per;

        parts[i].m = m;
        parts[i].x = x + first * m->nf;
        parts[i].n_rows = n;
        parts[i].out = out + first * m->n_out;
        parts[i].rc = MD_OK;
        md_err_clear(&parts[i].err);
        first += n;
    }
    md_run_parallel(parts, n_parts, sizeof(*parts), m->nthread, predict_part);
    for (i = 0; i < n_parts && rc == MD_OK; i++) {
        if (parts[i].rc != MD_OK) {
            *err = parts[i].err;
            rc = parts[i].rc;
        }
    }
    free(parts);
    return rc;
}

static int trees_predict(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    const struct md_trees *m = inst;
    size_t n_parts =
        n_rows >= PARALLEL_ROWS ? md_parallel_parts(n_rows, PART_ROWS, m->nthread, SIZE_MAX) : 0;

    if (n_parts >= 2)
        return predict_parallel(m, x, n_rows, out, n_parts, err);
    return predict_serial(m, x, n_rows, out, err);
}

static void trees_describe(const void *inst, struct md_backend_desc *out)
{
    const struct md_trees *m = inst;

    out->n_features = m->nf;
    out->n_outputs = m->n_out;
    out->kind = m->kind;
    out->feature_names = (const char *const *)m->feature_names;
    out->objective = m->objective;
}

void md_trees__free(void *inst)
{
    struct md_trees *m = inst;
    uint32_t i;

    if (m == NULL)
        return;
    if (m->feature_names != NULL) {
        for (i = 0; i < m->nf; i++)
            free(m->feature_names[i]);
        free(m->feature_names);
    }
    free(m->objective);
    free(m->nodes);
    free(m->wnodes);
    free(m->root);
    free(m->depth);
    free(m->group);
    free(m->by_depth);
    free(m->broot);
    free(m->bdepth);
    free(m->top_col);
    free(m->top_cond);
    free(m->top_dest);
    free(m->cover);
    free(m->mean);
    free(m);
}

/* ---------------------------------------------------------------- planning */

/*
 * The first TOP_LEVELS levels of every tree for ROW_LANES-row walks (see
 * struct md_trees), and the instruction set that works out their codes. Place
 * k's children are places 2k + 1 and 2k + 2; below a leaf, its places hold
 * the leaf again. A leaf reads the NaN column, whose compare is false, so a
 * walk that meets one stays on it. Runs on m->wnodes, before narrow().
 */
static int plan_top(struct md_trees *m, struct md_err *err)
{
    size_t t;
    size_t i;

    for (i = 0; m->isa == NULL; i++)
        if (isas[i].usable())
            m->isa = &isas[i];
    m->top_col = md_malloc(m->n_trees * TOP_NODES * sizeof(*m->top_col));
    m->top_cond = md_malloc(m->n_trees * TOP_NODES * sizeof(*m->top_cond));
    m->top_dest = md_malloc(m->n_trees * TOP_CODES * sizeof(*m->top_dest));
    if (m->top_col == NULL || m->top_cond == NULL || m->top_dest == NULL)
        return FAIL(MD_ENOMEM, "trees: no memory for %zu trees", m->n_trees);
    for (t = 0; t < m->n_trees; t++) {
        uint32_t at[2 * TOP_NODES + 1]; /* the node at each place of TOP_LEVELS + 1 levels */
        uint32_t k;
        uint32_t code;

        at[0] = m->root[t];
        for (k = 1; k < MD_ARRAY_LEN(at); k++) {
            const uint32_t up = at[(k - 1) / 2];

            at[k] = m->wnodes[up].next == 0 ? up : up + m->wnodes[up].next + (k % 2 == 0);
        }
        for (k = 0; k < TOP_NODES; k++) {
            m->top_col[t * TOP_NODES + k] = m->wnodes[at[k]].feat * ROW_LANES;
            m->top_cond[t * TOP_NODES + k] = m->wnodes[at[k]].cond;
        }
        for (code = 0; code < TOP_CODES; code++) {
            uint32_t place = 0;

            for (k = 0; k < TOP_LEVELS; k++)
                place = 2 * place + 1 + ((code >> place) & 1);
            /* Breadth-first, the first TOP_LEVELS + 1 levels are the first 15 nodes at most. */
            if (at[place] - m->root[t] > UINT8_MAX)
                MD_BUG("trees: a tree's top levels are not breadth-first");
            m->top_dest[t * TOP_CODES + code] = (uint8_t)(at[place] - m->root[t]);
        }
    }
    return MD_OK;
}

/* Packs m->wnodes into 8-byte nodes, when every field fits. */
static int narrow(struct md_trees *m, struct md_err *err)
{
    size_t i;

    m->nodes = md_malloc((m->n_nodes + 1) * sizeof(*m->nodes));
    if (m->nodes == NULL)
        return FAIL(MD_ENOMEM, "trees: no memory for %zu nodes", m->n_nodes);
    for (i = 0; i < m->n_nodes; i++) {
        m->nodes[i].cond = m->wnodes[i].cond;
        m->nodes[i].feat = (uint16_t)m->wnodes[i].feat;
        m->nodes[i].next = (uint16_t)m->wnodes[i].next;
    }
    free(m->wnodes);
    m->wnodes = NULL;
    return MD_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Groups trees of similar depth into the blocks of one-row walks. */
static int plan_blocks(struct md_trees *m, struct md_err *err)
{
    const size_t padded = (m->n_trees + TREE_LANES - 1) / TREE_LANES * TREE_LANES;
    uint64_t *key = md_malloc((m->n_trees + 1) * sizeof(*key));
    uint64_t steps_model = 0;
    uint64_t steps_sorted = 0;
    size_t i;

    m->by_depth = md_calloc(padded + 1, sizeof(*m->by_depth));
    m->broot = md_calloc(padded + 1, sizeof(*m->broot));
    m->bdepth = md_calloc(padded / TREE_LANES + 1, sizeof(*m->bdepth));
    if (key == NULL || m->by_depth == NULL || m->broot == NULL || m->bdepth == NULL) {
        free(key);
        return FAIL(MD_ENOMEM, "trees: no memory for %zu trees", m->n_trees);
    }
    /* Deepest first; equal depths in model order. */
    for (i = 0; i < m->n_trees; i++)
        key[i] = (uint64_t)(UINT32_MAX - m->depth[i]) << 32 | i;
    qsort(key, m->n_trees, sizeof(*key), cmp_u64);
    for (i = 0; i < m->n_trees; i += TREE_LANES) {
        uint32_t d = 0;
        size_t k;

        for (k = i; k < i + TREE_LANES && k < m->n_trees; k++)
            d = m->depth[k] > d ? m->depth[k] : d;
        steps_model += d;
        steps_sorted += m->depth[key[i] & UINT32_MAX];
    }
    /* Sorting costs a pass over the leaf values: worth it when it saves a tenth of the steps. */
    m->sorted = steps_sorted * 10 < steps_model * 9;
    for (i = 0; i < padded; i++) {
        /* Padding lanes walk the last tree again; their leaves are dropped. */
        size_t j = i < m->n_trees ? i : m->n_trees - 1;
        uint32_t t = m->sorted ? (uint32_t)(key[j] & UINT32_MAX) : (uint32_t)j;

        m->by_depth[i] = t;
        m->broot[i] = m->root[t];
        if (m->depth[t] > m->bdepth[i / TREE_LANES])
            m->bdepth[i / TREE_LANES] = m->depth[t];
    }
    free(key);
    return MD_OK;
}
int md_trees__plan(struct md_trees *m, size_t max_off, struct md_err *err)
{
    int rc = plan_blocks(m, err);

    if (rc == MD_OK)
        rc = plan_top(m, err);
    if (rc == MD_OK && 2 * (size_t)m->nf + 1 <= UINT16_MAX && max_off <= UINT16_MAX)
        rc = narrow(m, err);
    return rc;
}

/* ------------------------------------------------------------------ engine */

int md_trees__set_isa(void *inst, const char *name)
{
    struct md_trees *m = inst;
    size_t i;

    for (i = 0; name != NULL && i < MD_ARRAY_LEN(isas); i++) {
        if (strcmp(isas[i].name, name) == 0) {
            if (!isas[i].usable())
                return MD_EUNSUPPORTED;
            m->isa = &isas[i];
            return MD_OK;
        }
    }
    return MD_ENOTFOUND;
}

const char *md_trees__isa(const void *inst)
{
    return ((const struct md_trees *)inst)->isa->name;
}

/* The default of nthread: every CPU the process may run on, as libxgboost. */
static uint32_t default_nthread(void)
{
    unsigned n = md_cpus();

    return n > MAX_NTHREAD ? MAX_NTHREAD : (uint32_t)n;
}

/* Engine options: nthread (1..MAX_NTHREAD), the threads a large batch is split across. */
static int parse_options(const struct md_backend_config *cfg, uint32_t *nthread, struct md_err *err)
{
    long n = default_nthread();
    int rc = md_backend_nthread_option(cfg, "trees", MAX_NTHREAD, &n, err);

    *nthread = (uint32_t)n;
    return rc;
}

static int trees_load(const char *path, const struct md_backend_config *cfg, void **inst,
                      struct md_err *err)
{
    uint32_t nthread;
    char *buf;
    size_t len;
    int rc;

    *inst = NULL;
    rc = parse_options(cfg, &nthread, err);
    if (rc != MD_OK)
        return rc;
    rc = md_backend_read_artifact(path, &buf, &len, err);
    if (rc != MD_OK)
        return rc;
    rc = md_backend_refuse_pickle(path, buf, len, MD_XGBOOST_EXPORT, err);
    if (rc == MD_OK)
        rc = md_trees__load_buffer(buf, len, inst, err);
    free(buf);
    if (rc == MD_OK)
        ((struct md_trees *)*inst)->nthread = nthread;
    return rc;
}

const struct md_backend_ops md_backend_trees = {
    .abi = MD_BACKEND_ABI,
    .name = "trees",
    .load = trees_load,
    .describe = trees_describe,
    .predict = trees_predict,
    .learn = NULL,
    .explain = md_trees__explain,
    .train = md_xgboost__train_trees,
    .free = md_trees__free,
};
