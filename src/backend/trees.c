/* SPDX-License-Identifier: MIT */
/*
 * trees.c: the native engine for gradient-boosted tree ensembles that XGBoost
 * 1.7 saved as JSON or UBJSON (backend `trees`), and the check of such a
 * file that the `xgboost` engine makes before libxgboost reads it
 * (md_trees_check, trees.h: the same loader, in a mode that accepts what
 * libxgboost runs and checks what it reads unchecked, building nothing).
 *
 * Loading (util/jdom with packed number arrays, or util/ubjson into the same
 * nodes) checks the file strictly and flattens
 * every tree into one array of 8-byte nodes (12 for very wide models):
 * breadth-first per tree, the two children of a node side by side, so a step
 * is "index += offset + go_right". Rows are copied with missing values made
 * -inf or +inf so that the compare alone follows each node's default
 * direction (see struct tnode). A leaf holds its value in the threshold
 * field, reads a NaN column and points at itself, so a walk runs a fixed
 * number of steps (the tree's depth) with no branch on the data, and several
 * walks (several trees for one row, or several rows for one tree) proceed in
 * lock-step for instruction-level parallelism. A batch's walks of 16 rows
 * take each tree's first three levels for all 16 at once: one vector compare
 * per split gives each row a 7-bit code, and a table per tree turns the code
 * into the node the row has reached. Sums are float, start from
 * the base margin and add trees in model order, as libxgboost does, so
 * outputs match it.
 *
 * Runs binary:logistic, reg:squarederror and multi:softprob on gbtree
 * boosters with numerical splits; refuses the rest (MD_EUNSUPPORTED), which
 * the `xgboost` engine runs. The file is untrusted: any malformed input ends
 * in MD_ECORRUPT with a message naming the field, never in a crash.
 */
#include "backend/trees_int.h"
#include "backend/trees.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TREES_X86 1
#endif

#include <errno.h>
#include <math.h>

#include "util/arena.h"
#include "util/jdom.h"
#include "util/mem.h"
#include "util/sys.h"
#include "util/ubjson.h"

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
/* Largest feature count and class count accepted. */
#define MAX_FEATURES ((uint32_t)1 << 24)
#define MAX_CLASSES  65536
/* Categories are below 2^24, as XGBoost requires (they are exact in a float). */
#define MAX_CATEGORY ((int64_t)1 << 24)
/*
 * A batch of PARALLEL_ROWS or more is split into parts of at least PART_ROWS
 * rows, MD_PARALLEL_SPLIT per thread at most.
 */
#define PARALLEL_ROWS 2048
#define PART_ROWS     512
#define MAX_NTHREAD   64

enum objective {
    OBJ_LOGISTIC, /* binary:logistic */
    OBJ_SQUARED,  /* reg:squarederror */
    OBJ_SOFTPROB  /* multi:softprob */
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
struct tnode {
    float cond;    /* split threshold (go left iff value < cond), or leaf value */
    uint16_t feat; /* column of the prepared row */
    uint16_t next; /* distance to the left child; the right child follows it */
};

struct wnode {
    float cond;
    uint32_t feat;
    uint32_t next;
};

struct trees {
    struct tnode *nodes;  /* narrow layout, or NULL */
    struct wnode *wnodes; /* wide layout, or NULL; every tree, in model order */
    uint32_t *root;       /* per tree: index of its root node */
    uint32_t *depth;      /* per tree: steps from the root to its deepest leaf */
    uint32_t *group;      /* per tree: output column it adds to */
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
    enum objective obj;
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
    uint32_t *top_col;         /* TOP_NODES per tree */
    float *top_cond;           /* TOP_NODES per tree */
    uint8_t *top_dest;         /* TOP_CODES per tree */
    const struct top_isa *isa; /* how the codes are worked out */
    /* While loading only: */
    bool check;  /* md_trees_check: the file is for libxgboost, nothing is built to run */
    bool ubjson; /* the file is UBJSON, not JSON text */
};

/*
 * Works out the codes of ROW_LANES prepared rows (buf, interleaved) for n
 * trees whose splits are col and cond (TOP_NODES each): code[t *
 * ROW_LANES + r] for row r of tree t.
 */
typedef void top_codes_fn(const float *buf, const uint32_t *col, const float *cond, size_t n,
                          int32_t *code);

struct top_isa {
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
        const struct wnode *n = (const struct wnode *)nodes + i;

        return i + n->next + (uint32_t)(x[n->feat * lanes] >= n->cond);
    } else {
        const struct tnode *n = (const struct tnode *)nodes + i;

        return i + n->next + (uint32_t)(x[n->feat * lanes] >= n->cond);
    }
}

static inline float leaf(const void *nodes, bool wide, uint32_t i)
{
    return wide ? ((const struct wnode *)nodes)[i].cond : ((const struct tnode *)nodes)[i].cond;
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

static void transform(const struct trees *m, float *out, size_t n_rows)
{
    size_t r;

    switch (m->obj) {
    case OBJ_LOGISTIC:
        for (r = 0; r < n_rows; r++)
            out[r] = sigmoid(out[r]);
        break;
    case OBJ_SOFTPROB:
        for (r = 0; r < n_rows; r++)
            softmax(out + r * m->n_out, m->n_out);
        break;
    case OBJ_SQUARED:
        break;
    }
}

/*
 * One row: TREE_LANES trees at a time, by depth; each leaf value is kept
 * and the sum is taken in model order. buf has room for 2 * nf + 1 + n_trees
 * floats.
 */
static inline __attribute__((always_inline)) void
predict_row(const struct trees *m, bool wide, const float *x, float *out, float *buf)
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
static const struct top_isa isas[] = {
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
predict_rows(const struct trees *m, bool wide, const float *x, float *out, float *buf)
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
static inline __attribute__((always_inline)) void
predict_all(const struct trees *m, bool wide, const float *x, size_t n_rows, float *out, float *buf)
{
    size_t r = 0;

    for (; n_rows - r >= ROW_LANES; r += ROW_LANES)
        predict_rows(m, wide, x + r * m->nf, out + r * m->n_out, buf);
    for (; r < n_rows; r++)
        predict_row(m, wide, x + r * m->nf, out + r * m->n_out, buf);
}

/* Rows [0, n) of x into out on one thread, transform included. */
static int predict_serial(const struct trees *m, const float *x, size_t n_rows, float *out,
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
    const struct trees *m;
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
static int predict_parallel(const struct trees *m, const float *x, size_t n_rows, float *out,
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
    const struct trees *m = inst;
    size_t n_parts =
        n_rows >= PARALLEL_ROWS ? md_parallel_parts(n_rows, PART_ROWS, m->nthread, SIZE_MAX) : 0;

    if (n_parts >= 2)
        return predict_parallel(m, x, n_rows, out, n_parts, err);
    return predict_serial(m, x, n_rows, out, err);
}

static void trees_describe(const void *inst, struct md_backend_desc *out)
{
    const struct trees *m = inst;

    out->n_features = m->nf;
    out->n_outputs = m->n_out;
    out->kind = m->kind;
    out->feature_names = (const char *const *)m->feature_names;
    out->objective = m->objective;
}

static void trees_free(void *inst)
{
    struct trees *m = inst;
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
    free(m);
}

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
static int split_types(const struct trees *m, const struct md_jnode *tree, const char *where,
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
static int tree_arrays(const struct trees *m, const struct md_jnode *tree, const char *where,
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
static int flatten(struct trees *m, const struct jtree *jt, const char *where, struct scratch *sc,
                   uint32_t *depth, size_t *max_off, struct md_err *err)
{
    struct wnode *out = m->wnodes + m->n_nodes;
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
static int load_learner(struct trees *m, const struct md_jnode *learner, struct md_err *err)
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
        m->obj = OBJ_LOGISTIC;
        m->kind = MD_BACKEND_OUT_PROBABILITY;
    } else if (str_is(name, "multi:softprob")) {
        m->obj = OBJ_SOFTPROB;
        m->kind = MD_BACKEND_OUT_PROBABILITIES;
    } else if (str_is(name, "reg:squarederror") || m->check) {
        /* A check runs nothing: libxgboost says what it makes of any other name. */
        m->obj = OBJ_SQUARED;
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
    if (m->obj == OBJ_SOFTPROB || (m->check && strncmp(m->objective, "multi:", 6) == 0)) {
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
    } else if (num_class > 1 && m->obj != OBJ_SOFTPROB) {
        return FAIL(MD_ECORRUPT, "learner.learner_model_param.num_class: %ld classes for '%s'",
                    num_class, m->objective);
    }
    m->base = (float)base;
    if (m->obj == OBJ_LOGISTIC) {
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
static int load_names(struct trees *m, const struct md_jnode *learner, struct md_err *err)
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
static int linear_weights(const struct trees *m, const struct md_jnode *gb, struct md_err *err)
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
static int load_booster(struct trees *m, const struct md_jnode *learner,
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

/*
 * The first TOP_LEVELS levels of every tree for ROW_LANES-row walks (see
 * struct trees), and the instruction set that works out their codes. Place
 * k's children are places 2k + 1 and 2k + 2; below a leaf, its places hold
 * the leaf again. A leaf reads the NaN column, whose compare is false, so a
 * walk that meets one stays on it. Runs on m->wnodes, before narrow().
 */
static int plan_top(struct trees *m, struct md_err *err)
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
static int narrow(struct trees *m, struct md_err *err)
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
static int plan_blocks(struct trees *m, struct md_err *err)
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

/* Flattens every tree of order[] (n_trees, classes in group[]) into m. */
static int load_trees(struct trees *m, const struct md_jnode **order, const int64_t *group,
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
    if (m->wnodes == NULL || m->root == NULL || m->group == NULL || m->depth == NULL ||
        sc.queue == NULL || sc.qdepth == NULL || sc.seen == NULL || jt.left == NULL ||
        jt.right == NULL || jt.sidx == NULL || jt.dleft == NULL || jt.cond == NULL ||
        jt.parent == NULL || jt.cat == NULL) {
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
        if (rc == MD_OK)
            rc = flatten(m, &jt, where, &sc, &m->depth[i], &max_off, err);
    }
    /* A check builds nothing to run. */
    if (rc == MD_OK && !m->check)
        rc = plan_blocks(m, err);
    if (rc == MD_OK && !m->check)
        rc = plan_top(m, err);
    if (rc == MD_OK && !m->check && 2 * (size_t)m->nf + 1 <= UINT16_MAX && max_off <= UINT16_MAX)
        rc = narrow(m, err);
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
    struct trees *m;
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
    if (rc == MD_OK)
        rc = load_trees(m, order, group, err);
    free(order);
    free(group);
    md_arena_release(&arena);
    if (rc != MD_OK || check) {
        trees_free(m);
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

int md_trees__set_isa(void *inst, const char *name)
{
    struct trees *m = inst;
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
    return ((const struct trees *)inst)->isa->name;
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
        ((struct trees *)*inst)->nthread = nthread;
    return rc;
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
