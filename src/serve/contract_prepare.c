/* SPDX-License-Identifier: MIT */
/*
 * contract_prepare.c: the request side of a contract. md_contract_prepare
 * checks request tensors against the contract and writes the engine's float
 * matrix; md_contract_check_engine checks a loaded engine against it.
 *
 * Preparation runs on every prediction, so it allocates only from the
 * request's arena, formats nothing unless it is reporting an error, and keeps
 * the common case (a value inside its range) to one comparison pair per
 * value: the precomputed bounds f->lo and f->hi already fold in min, max, the
 * datatype's range and the float range, and a NaN fails them too, so
 * odd_value() sorts out the rare rest. A NaN sent as a value (binary data,
 * JSON's NaN token) is a missing value, like a null, for a feature without
 * allow_nan: its missing policy applies, and a required feature refuses it.
 * Parsing lives in contract.c and contract_feature.c.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"
#include "util/mem.h"
#include "util/sys.h"
#include "util/yaml.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

#define NO_ROW SIZE_MAX

/* MD_EINVAL with "feature '<name>' row <row>: <message>" (no row: NO_ROW). */
static int ferr(struct md_err *err, const struct md_feature *f, size_t row, const char *fmt, ...)
    MD_PRINTF(4, 5);

static int ferr(struct md_err *err, const struct md_feature *f, size_t row, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    /* A long message is cut short. */
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is right above */
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (row == NO_ROW)
        return md_err_set(err, MD_EINVAL, "feature '%s': %s", f->name, msg);
    return md_err_set(err, MD_EINVAL, "feature '%s' row %zu: %s", f->name, row, msg);
}

/* An input's name made safe for a message. */
static const char *input_name(const struct md_tensor *t, char *buf, size_t size)
{
    const char *s = t->name != NULL ? t->name : "";

    md_yaml_fmt_text(s, strlen(s), 64, buf, size);
    return buf;
}

/* "[2, 3]", for a message: cut short when buf is too small. */
static const char *fmt_shape(const struct md_tensor *t, char *buf, size_t size)
{
    size_t o = 0;
    int d;

    o += (size_t)snprintf(buf, size, "[");
    for (d = 0; d < t->ndim && d < MD_TENSOR_MAX_DIMS && o < size; d++)
        o += (size_t)snprintf(buf + o, size - o, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (o < size)
        (void)snprintf(buf + o, size - o, "]");
    return buf;
}

/* Appends items to a list for a message, ", ..." once it grows past max (cut short at size). */
static void list_add(char *buf, size_t size, size_t max, const char *item, size_t len, bool *full)
{
    size_t o = strlen(buf);
    char text[40];

    if (*full)
        return;
    md_yaml_fmt_text(item, len, 24, text, sizeof(text));
    if (o + strlen(text) + 2 > max || o + strlen(text) + 3 >= size) {
        (void)snprintf(buf + o, size - o, "%s...", o ? ", " : "");
        *full = true;
        return;
    }
    (void)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", text);
}

static int unknown_input(const struct md_contract *c, const char *what, struct md_err *err)
{
    char list[128] = "";
    bool full = false;
    size_t j;

    for (j = 0; j < c->n_features; j++)
        list_add(list, sizeof(list), 90, c->features[j].name, strlen(c->features[j].name), &full);
    if (c->bytes_feature != NULL)
        return md_err_set(err, MD_EINVAL, "%s; expected features %s", what, list);
    return md_err_set(err, MD_EINVAL, "%s; expected features %s or one 2-D tensor '%s'", what, list,
                      c->input_tensor);
}

/* shown: the value as the message quotes it. */
static int unknown_category(const struct md_feature *f, size_t row, const char *shown,
                            struct md_err *err)
{
    char list[112] = "";
    bool full = false;
    size_t k;

    for (k = 0; k < f->n_categories && !full; k++)
        list_add(list, sizeof(list), 80, f->categories[k], f->cat_len[k], &full);
    return ferr(err, f, row, "unknown category %s (allowed: %s)", shown, list);
}

/* ------------------------------------------------------------------ values */

static inline void put_category(const struct md_feature *f, float *dst, size_t idx)
{
    size_t k;

    if (f->encoding == MD_ENC_ORDINAL) {
        dst[0] = (float)idx;
        return;
    }
    for (k = 0; k < f->width; k++)
        dst[k] = 0.0f;
    dst[idx] = 1.0f;
}

/* Writes the columns of a missing value of f: NaN, the default, or an error. */
static int put_missing(const struct md_feature *f, float *dst, size_t row, struct md_err *err)
{
    size_t k;

    switch (f->missing) {
    case MD_MISSING_NAN:
        for (k = 0; k < f->width; k++)
            dst[k] = NAN;
        return MD_OK;
    case MD_MISSING_DEFAULT:
        if (f->categories != NULL)
            put_category(f, dst, f->default_category);
        else
            dst[0] = (float)f->default_number;
        return MD_OK;
    case MD_MISSING_REJECT:
        break;
    }
    return ferr(err, f, row, "null value for required feature");
}

/*
 * A NaN sent as a value for f, which does not take NaN as a value (allow_nan
 * false): a missing value, so the columns get what put_missing() gives an
 * optional feature; a required feature refuses it.
 */
static int nan_missing(const struct md_feature *f, float *dst, size_t row, struct md_err *err)
{
    if (f->missing == MD_MISSING_REJECT)
        return ferr(err, f, row, "NaN for required feature (allow_nan is false)");
    return put_missing(f, dst, row, err);
}

/*
 * v failed the quick test (inside [f->lo, f->hi], whole when f->integral):
 * accepts a NaN or infinity that f allows into *out, takes a NaN that f does
 * not allow as a missing value (nan_missing), or says what is wrong. Only
 * for one-column features (numeric, BOOL). as_float: v came from a float,
 * and prints as one.
 */
static int odd_value(const struct md_feature *f, size_t row, double v, bool as_float, float *out,
                     struct md_err *err)
{
    char a[40];
    char b[40];

    if (isnan(v) || isinf(v)) {
        if (f->allow_nan) {
            *out = (float)v;
            return MD_OK;
        }
        if (isnan(v))
            return nan_missing(f, out, row, err);
        return ferr(err, f, row, "%s not allowed (allow_nan is false)", v > 0 ? "inf" : "-inf");
    }
    md_contract__fmt_num(v, as_float, a, sizeof(a));
    if (f->dtype == MD_DT_BOOL && v != 0 && v != 1)
        return ferr(err, f, row, "%s is not 0 or 1", a);
    if (f->integral && v != trunc(v))
        return ferr(err, f, row, "%s is not an integer", a);
    if (f->has_min && v < f->min) {
        md_contract__fmt_num(f->min, false, b, sizeof(b));
        return ferr(err, f, row, "%s below min %s", a, b);
    }
    if (f->has_max && v > f->max) {
        md_contract__fmt_num(f->max, false, b, sizeof(b));
        return ferr(err, f, row, "%s above max %s", a, b);
    }
    if (v < f->lo || v > f->hi)
        return ferr(err, f, row, "%s is outside the %s range", a,
                    f->integral ? md_dtype_name(f->dtype) : "FP32");
    *out = (float)v;
    return MD_OK;
}

/* ---------------------------------------------------------------- columnar */

/* One column (or one-hot group) of a numeric feature from a native array of T. */
#define FILL_NUMERIC(T, AS_FLOAT)                                                                  \
    do {                                                                                           \
        const T *v = t->data;                                                                      \
        for (r = 0; r < n; r++, dst += w) {                                                        \
            double d;                                                                              \
            if (miss != NULL && miss[r]) {                                                         \
                rc = put_missing(f, dst, r, err);                                                  \
                if (rc != MD_OK)                                                                   \
                    return rc;                                                                     \
                continue;                                                                          \
            }                                                                                      \
            d = (double)v[r];                                                                      \
            if (MD_LIKELY(d >= f->lo && d <= f->hi)) {                                             \
                *dst = (float)d;                                                                   \
                continue;                                                                          \
            }                                                                                      \
            rc = odd_value(f, r, d, AS_FLOAT, dst, err);                                           \
            if (rc != MD_OK)                                                                       \
                return rc;                                                                         \
        }                                                                                          \
    } while (0)

/* One integer categorical feature from a native array of T. */
#define FILL_INT_CATEGORY(T)                                                                       \
    do {                                                                                           \
        const T *v = t->data;                                                                      \
        for (r = 0; r < n; r++, dst += w) {                                                        \
            size_t idx;                                                                            \
            if (miss != NULL && miss[r]) {                                                         \
                rc = put_missing(f, dst, r, err);                                                  \
                if (rc != MD_OK)                                                                   \
                    return rc;                                                                     \
                continue;                                                                          \
            }                                                                                      \
            idx = md_contract__find_int_category(f, (int64_t)v[r]);                                \
            if (MD_UNLIKELY(idx == SIZE_MAX)) {                                                    \
                char shown[32];                                                                    \
                (void)snprintf(shown, sizeof(shown), "%" PRId64, (int64_t)v[r]);                   \
                return unknown_category(f, r, shown, err);                                         \
            }                                                                                      \
            put_category(f, dst, idx);                                                             \
        }                                                                                          \
    } while (0)

/* Fills feature f's columns of x (n rows of w floats) from t, or NULL: all missing. */
static int fill_feature(const struct md_feature *f, const struct md_tensor *t, size_t n, float *x,
                        size_t w, struct md_err *err)
{
    float *dst = x + f->column;
    const uint8_t *miss = t != NULL ? t->missing : NULL;
    size_t r;
    int rc;

    if (t == NULL) {
        for (r = 0; r < n; r++, dst += w) {
            rc = put_missing(f, dst, r, err);
            if (rc != MD_OK)
                return rc;
        }
        return MD_OK;
    }
    if (f->dtype == MD_DT_BYTES) {
        const struct md_bytes *v = t->data;

        for (r = 0; r < n; r++, dst += w) {
            size_t idx;

            if (v[r].p == NULL || (miss != NULL && miss[r])) {
                rc = put_missing(f, dst, r, err);
                if (rc != MD_OK)
                    return rc;
                continue;
            }
            idx = md_contract__find_category(f, v[r].p, v[r].len);
            if (MD_UNLIKELY(idx == SIZE_MAX)) {
                char text[48];
                char shown[56];

                md_yaml_fmt_text(v[r].p, v[r].len, 32, text, sizeof(text));
                (void)snprintf(shown, sizeof(shown), "'%s'", text); /* 48 + 2 bytes fit */
                return unknown_category(f, r, shown, err);
            }
            put_category(f, dst, idx);
        }
        return MD_OK;
    }
    if (f->categories != NULL) {
        if (f->dtype == MD_DT_INT32)
            FILL_INT_CATEGORY(int32_t);
        else
            FILL_INT_CATEGORY(int64_t);
        return MD_OK;
    }
    switch (f->dtype) {
    case MD_DT_FP32:
        FILL_NUMERIC(float, true);
        break;
    case MD_DT_FP64:
        FILL_NUMERIC(double, false);
        break;
    case MD_DT_INT32:
        FILL_NUMERIC(int32_t, false);
        break;
    case MD_DT_INT64:
        FILL_NUMERIC(int64_t, false);
        break;
    case MD_DT_BOOL:
        FILL_NUMERIC(uint8_t, false);
        break;
    default:
        return ferr(err, f, NO_ROW, "datatype %s is not supported", md_dtype_name(f->dtype));
    }
    return MD_OK;
}

static float *alloc_matrix(struct md_arena *a, size_t n, size_t width, struct md_err *err)
{
    size_t cells;
    float *x = NULL;

    if (md_mul_ok(n, width, &cells) && md_mul_ok(cells, sizeof(float), &cells))
        x = md_arena_alloc(a, cells);
    if (x == NULL)
        md_err_set(err, MD_ETOOBIG, "request too large: %zu rows of %zu columns", n, width);
    return x;
}

/* The rows of a columnar input: shape [N] or [N, 1]. */
static int column_rows(const struct md_feature *f, const struct md_tensor *t, size_t *rows,
                       struct md_err *err)
{
    char shape[96];

    if (t->dtype != f->dtype)
        return ferr(err, f, NO_ROW, "datatype %s does not match contract %s",
                    md_dtype_name(t->dtype), md_dtype_name(f->dtype));
    if (!(t->ndim == 1 || (t->ndim == 2 && t->shape[1] == 1)) || t->shape[0] < 0)
        return ferr(err, f, NO_ROW, "expected shape [N] or [N, 1], got %s",
                    fmt_shape(t, shape, sizeof(shape)));
    *rows = (size_t)t->shape[0];
    if (t->count != *rows || (*rows > 0 && t->data == NULL))
        return ferr(err, f, NO_ROW, "%zu values for shape %s", t->count,
                    fmt_shape(t, shape, sizeof(shape)));
    return MD_OK;
}

static int prepare_columns(const struct md_contract *c, const struct md_tensor *inputs,
                           size_t n_inputs, struct md_arena *a, float **x, size_t *n_rows,
                           struct md_err *err)
{
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    const struct md_tensor **by = md_arena_calloc(a, c->n_features, sizeof(*by));
    const struct md_feature *first = NULL;
    char what[128];
    char name[80];
    size_t n = 0;
    size_t i;
    size_t j;
    int rc;

    if (by == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large for its memory limit");
    for (i = 0; i < n_inputs; i++) {
        const struct md_tensor *t = &inputs[i];
        const struct md_feature *f;
        size_t rows = 0;

        if (t->name != NULL && strcmp(t->name, c->input_tensor) == 0)
            return md_err_set(err, MD_EINVAL,
                              "input '%s': the 2-D form takes exactly one input, got %zu",
                              c->input_tensor, n_inputs);
        f = md_contract_feature(c, t->name != NULL ? t->name : "");
        if (f == NULL) {
            (void)snprintf(what, sizeof(what), "input '%s': unknown input", /* fits */
                           input_name(t, name, sizeof(name)));
            return unknown_input(c, what, err);
        }
        j = (size_t)(f - c->features);
        if (by[j] != NULL)
            return ferr(err, f, NO_ROW, "duplicate input");
        rc = column_rows(f, t, &rows, err);
        if (rc != MD_OK)
            return rc;
        if (first == NULL) {
            first = f;
            n = rows;
        } else if (rows != n) {
            return ferr(err, f, NO_ROW, "%zu rows, expected %zu as feature '%s'", rows, n,
                        first->name);
        }
        by[j] = t;
    }
    if (n == 0)
        return ferr(err, first, NO_ROW, "no rows");
    for (j = 0; j < c->n_features; j++)
        if (by[j] == NULL && c->features[j].missing == MD_MISSING_REJECT)
            return ferr(err, &c->features[j], NO_ROW, "missing required feature");
    *x = alloc_matrix(a, n, c->width, err);
    if (*x == NULL)
        return MD_ETOOBIG;
    for (j = 0; j < c->n_features; j++) {
        rc = fill_feature(&c->features[j], by[j], n, *x, c->width, err);
        if (rc != MD_OK)
            return rc;
    }
    *n_rows = n;
    return MD_OK;
}

/* ---------------------------------------------------------------------- 2-D */

/* Whether any of m[0..n) is not zero, eight at a time. */
static inline bool any_set(const uint8_t *m, size_t n)
{
    uint64_t acc = 0;
    uint64_t w;
    size_t j = 0;

    for (; j + 8 <= n; j += 8) {
        memcpy(&w, m + j, sizeof(w));
        acc |= w;
    }
    for (; j < n; j++)
        acc |= m[j];
    return acc != 0;
}

/*
 * src[0..n) into x; whether any of them is outside [lo[j], hi[j]] or NaN
 * (which fails both tests). Four at a time, in vector registers where the
 * machine has them.
 */
static inline int copy_in_range(const float *restrict src, const float *restrict lo,
                                const float *restrict hi, size_t n, float *restrict x)
{
    md_i32x4 out = {0, 0, 0, 0};
    uint64_t any[2];
    int bad = 0;
    size_t j = 0;

    for (; j + 4 <= n; j += 4) {
        md_f32x4 v;
        md_f32x4 l;
        md_f32x4 h;

        memcpy(&v, src + j, sizeof(v));
        memcpy(&l, lo + j, sizeof(l));
        memcpy(&h, hi + j, sizeof(h));
        memcpy(x + j, &v, sizeof(v));
        out |= ~((v >= l) & (v <= h));
    }
    for (; j < n; j++) {
        float v = src[j];

        x[j] = v;
        bad |= !(v >= lo[j]) | !(v <= hi[j]);
    }
    memcpy(any, &out, sizeof(any));
    return bad | ((any[0] | any[1]) != 0);
}

/*
 * FP32 rows, no categorical feature: the prepared row is the input row.
 * Copies it and tests all of it without branching per value, a missing
 * entry taking its feature's fill (NaN or the default) on the way; only a
 * row that fails (a value out of range, a missing entry its feature
 * refuses) goes value by value through put_missing() or odd_value().
 */
static int fast_2d(const struct md_contract *c, const float *restrict src, const uint8_t *missing,
                   size_t first, size_t n, float *restrict x, struct md_err *err)
{
    const size_t nf = c->n_features;
    const float *restrict lo = c->lo32;
    const float *restrict hi = c->hi32;
    const float *restrict fill = c->fill32;
    const uint8_t *restrict ok = c->miss_ok;
    size_t r;
    size_t j;
    int rc;

    src += first * nf;
    x += first * nf;
    if (missing != NULL)
        missing += first * nf;
    for (r = first; r < first + n; r++, src += nf, x += nf) {
        const uint8_t *m = missing != NULL ? missing + (r - first) * nf : NULL;
        int bad = 0;

        if (m == NULL || !any_set(m, nf)) {
            bad = copy_in_range(src, lo, hi, nf, x);
        } else {
            /* A missing entry takes its fill when its feature allows one, else fails the row. */
            for (j = 0; j < nf; j++) {
                float v = src[j];
                int mj = m[j] != 0;

                x[j] = mj ? fill[j] : v;
                bad |= ((!(v >= lo[j]) | !(v <= hi[j])) & !mj) | (mj & !ok[j]);
            }
        }
        if (c->any_integral) {
            for (j = 0; j < nf; j++) {
                float v = src[j];

                if (c->integral[j] && v == v && fabsf(v) < 8388608.0f && (float)(int32_t)v != v)
                    bad = 1;
            }
        }
        if (MD_LIKELY(!bad))
            continue;
        for (j = 0; j < nf; j++) {
            float v = src[j];

            if (missing != NULL && missing[(r - first) * nf + j]) {
                rc = put_missing(&c->features[j], &x[j], r, err);
                if (rc != MD_OK)
                    return rc;
                continue;
            }
            if (v >= lo[j] && v <= hi[j] && (!c->integral[j] || v == truncf(v)))
                continue;
            rc = odd_value(&c->features[j], r, v, true, &x[j], err);
            if (rc != MD_OK)
                return rc;
        }
    }
    return MD_OK;
}

/* A 2-D input of this many rows or more is split across threads, in parts of at least PART_ROWS. */
#define PARALLEL_ROWS 8192
#define PART_ROWS     512

/* One thread's rows of fast_2d. */
struct part_2d {
    const struct md_contract *c;
    const float *src;
    const uint8_t *missing;
    float *x;
    size_t first;
    size_t n;
    int rc;
    struct md_err err;
};

static void part_2d_run(void *arg)
{
    struct part_2d *p = arg;

    p->rc = fast_2d(p->c, p->src, p->missing, p->first, p->n, p->x, &p->err);
}

/*
 * fast_2d over n rows, split across threads when there are many (every
 * row's result is the same either way); an error is the one of the lowest
 * row, as one pass would report it.
 */
static int fast_2d_rows(const struct md_contract *c, const float *src, const uint8_t *missing,
                        size_t n, float *x, struct md_err *err)
{
    struct part_2d parts[32];
    size_t k = n >= PARALLEL_ROWS ? md_parallel_parts(n, PART_ROWS, 0, MD_ARRAY_LEN(parts)) : 0;
    size_t per;
    size_t i;

    if (k < 2)
        return fast_2d(c, src, missing, 0, n, x, err);
    per = n / k;
    for (i = 0; i < k; i++) {
        parts[i].c = c;
        parts[i].src = src;
        parts[i].missing = missing;
        parts[i].x = x;
        parts[i].first = i * per;
        parts[i].n = i + 1 == k ? n - i * per : per;
        parts[i].rc = MD_OK;
        md_err_clear(&parts[i].err);
    }
    md_run_parallel(parts, k, sizeof(parts[0]), 0, part_2d_run);
    for (i = 0; i < k; i++) {
        if (parts[i].rc != MD_OK) {
            *err = parts[i].err;
            return parts[i].rc;
        }
    }
    return MD_OK;
}

/* Element i as an exact integer, for an integer categorical feature. */
static bool element_i64(const struct md_tensor *t, size_t i, int64_t *out, double *as_double)
{
    double d;

    switch (t->dtype) {
    case MD_DT_INT64:
        *out = ((const int64_t *)t->data)[i];
        *as_double = (double)*out;
        return true;
    case MD_DT_UINT64: {
        uint64_t u = ((const uint64_t *)t->data)[i];

        *as_double = (double)u;
        *out = (int64_t)(u & INT64_MAX);
        return u <= (uint64_t)INT64_MAX;
    }
    default:
        break;
    }
    d = md_tensor_get_f64(t, i);
    *as_double = d;
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != trunc(d))
        return false;
    *out = (int64_t)d;
    return true;
}

/* Any other 2-D input: element by element, categorical features included. */
static int general_2d(const struct md_contract *c, const struct md_tensor *t, size_t n, float *x,
                      struct md_err *err)
{
    const size_t nf = c->n_features;
    const bool as_float = t->dtype == MD_DT_FP32;
    size_t r;
    size_t j;
    int rc;

    for (r = 0; r < n; r++) {
        for (j = 0; j < nf; j++) {
            const struct md_feature *f = &c->features[j];
            size_t i = r * nf + j;
            float *dst = x + r * c->width + f->column;
            double d;

            if (t->missing != NULL && t->missing[i]) {
                rc = put_missing(f, dst, r, err);
                if (rc != MD_OK)
                    return rc;
                continue;
            }
            if (f->categories != NULL) {
                char shown[40];
                int64_t v;
                size_t idx = SIZE_MAX;

                if (!element_i64(t, i, &v, &d)) {
                    if (isnan(d)) {
                        rc = nan_missing(f, dst, r, err);
                        if (rc != MD_OK)
                            return rc;
                        continue;
                    }
                    md_contract__fmt_num(d, as_float, shown, sizeof(shown));
                    if (isfinite(d) && d == trunc(d))
                        return unknown_category(f, r, shown, err);
                    return ferr(err, f, r, "%s is not an integer", shown);
                }
                idx = md_contract__find_int_category(f, v);
                if (idx == SIZE_MAX) {
                    (void)snprintf(shown, sizeof(shown), "%" PRId64, v); /* fits */
                    return unknown_category(f, r, shown, err);
                }
                put_category(f, dst, idx);
                continue;
            }
            d = md_tensor_get_f64(t, i);
            if (MD_LIKELY(d >= f->lo && d <= f->hi && (!f->integral || d == trunc(d)))) {
                *dst = (float)d;
                continue;
            }
            rc = odd_value(f, r, d, as_float, dst, err);
            if (rc != MD_OK)
                return rc;
        }
    }
    return MD_OK;
}

static int prepare_2d(const struct md_contract *c, const struct md_tensor *t, struct md_arena *a,
                      float **x, size_t *n_rows, struct md_err *err)
{
    const char *name = c->input_tensor;
    char shape[96];
    size_t n;
    size_t cells;

    if (c->bytes_feature != NULL)
        return md_err_set(err, MD_EINVAL,
                          "input '%s': the 2-D form is not available as feature '%s' is BYTES; "
                          "send one tensor per feature",
                          name, c->bytes_feature->name);
    if (t->dtype == MD_DT_BYTES || t->dtype == MD_DT_FP16 || t->dtype == MD_DT_BF16 ||
        t->dtype <= MD_DT_INVALID || t->dtype >= MD_DT_COUNT)
        return md_err_set(err, MD_EINVAL,
                          "input '%s': datatype %s is not supported; use FP32, FP64, an integer "
                          "type or BOOL",
                          name, md_dtype_name(t->dtype));
    if (t->ndim != 2 || t->shape[0] < 0 || t->shape[1] != (int64_t)c->n_features)
        return md_err_set(err, MD_EINVAL, "input '%s': expected shape [N, %zu], got %s", name,
                          c->n_features, fmt_shape(t, shape, sizeof(shape)));
    n = (size_t)t->shape[0];
    if (n == 0)
        return md_err_set(err, MD_EINVAL, "input '%s': no rows", name);
    if (!md_mul_ok(n, c->n_features, &cells) || t->count != cells || t->data == NULL)
        return md_err_set(err, MD_EINVAL, "input '%s': %zu values for shape %s", name, t->count,
                          fmt_shape(t, shape, sizeof(shape)));
    *x = alloc_matrix(a, n, c->width, err);
    if (*x == NULL)
        return MD_ETOOBIG;
    *n_rows = n;
    if (t->dtype == MD_DT_FP32 && c->plain)
        return fast_2d_rows(c, t->data, t->missing, n, *x, err);
    return general_2d(c, t, n, *x, err);
}

int md_contract_prepare(const struct md_contract *c, const struct md_tensor *inputs,
                        size_t n_inputs, struct md_arena *a, float **x, size_t *n_rows,
                        struct md_err *err)
{
    *x = NULL;
    *n_rows = 0;
    if (n_inputs == 0)
        return unknown_input(c, "no inputs", err);
    if (n_inputs == 1 && inputs[0].name != NULL && strcmp(inputs[0].name, c->input_tensor) == 0)
        return prepare_2d(c, &inputs[0], a, x, n_rows, err);
    return prepare_columns(c, inputs, n_inputs, a, x, n_rows, err);
}

/* ------------------------------------------------------------------ engines */

static const char *out_kind(enum md_backend_out k)
{
    switch (k) {
    case MD_BACKEND_OUT_PROBABILITY:
        return "probability";
    case MD_BACKEND_OUT_PROBABILITIES:
        return "probabilities";
    case MD_BACKEND_OUT_VALUE:
        return "value";
    }
    return "unknown";
}

/*
 * A width mismatch when the artifact names its features: where the two lists
 * first part, e.g. "column 3 is 'age' in model.yaml, 'income' in the artifact".
 */
static int width_mismatch(const struct md_contract *c, const struct md_backend_desc *desc,
                          struct md_err *err)
{
    size_t n = desc->n_features < c->width ? desc->n_features : c->width;
    char text[80];
    const char *got;
    size_t i;

    for (i = 0; i < n; i++) {
        got = desc->feature_names[i] != NULL ? desc->feature_names[i] : "";
        if (strcmp(got, c->column_names[i]) != 0)
            break;
    }
    if (i == n && desc->n_features > c->width) {
        got = desc->feature_names[i] != NULL ? desc->feature_names[i] : "";
        md_yaml_fmt_text(got, strlen(got), 64, text, sizeof(text));
        return md_err_set(err, MD_EINVAL,
                          "engine takes %zu features per row, the contract prepares %zu columns: "
                          "the first not in model.yaml is the artifact's column %zu '%s'",
                          desc->n_features, c->width, i, text);
    }
    if (i == n)
        return md_err_set(err, MD_EINVAL,
                          "engine takes %zu features per row, the contract prepares %zu columns: "
                          "the first not in the artifact is model.yaml's column %zu '%s'",
                          desc->n_features, c->width, i, c->column_names[i]);
    got = desc->feature_names[i] != NULL ? desc->feature_names[i] : "";
    md_yaml_fmt_text(got, strlen(got), 64, text, sizeof(text));
    return md_err_set(err, MD_EINVAL,
                      "engine takes %zu features per row, the contract prepares %zu columns: "
                      "column %zu is '%s' in model.yaml, '%s' in the artifact",
                      desc->n_features, c->width, i, c->column_names[i], text);
}

int md_contract_check_engine(const struct md_contract *c, const struct md_backend_desc *desc,
                             struct md_err *err)
{
    size_t i;

    if (desc->n_features != c->width && desc->feature_names != NULL)
        return width_mismatch(c, desc, err);
    if (desc->n_features != c->width)
        return md_err_set(err, MD_EINVAL,
                          "engine takes %zu features per row, the contract prepares %zu columns "
                          "(the artifact records no feature names to compare)",
                          desc->n_features, c->width);
    if (c->task == MD_TASK_REGRESSION) {
        if (desc->kind != MD_BACKEND_OUT_VALUE || desc->n_outputs != 1)
            return md_err_set(err, MD_EINVAL,
                              "engine gives %zu %s output(s) per row, regression needs 1 value",
                              desc->n_outputs, out_kind(desc->kind));
    } else if (c->n_labels == 2) {
        if (desc->kind != MD_BACKEND_OUT_PROBABILITY || desc->n_outputs != 1)
            return md_err_set(err, MD_EINVAL,
                              "engine gives %zu %s output(s) per row, binary classification "
                              "needs 1 probability",
                              desc->n_outputs, out_kind(desc->kind));
    } else if (desc->kind != MD_BACKEND_OUT_PROBABILITIES || desc->n_outputs != c->n_labels) {
        return md_err_set(err, MD_EINVAL,
                          "engine gives %zu %s output(s) per row, %zu labels need %zu "
                          "probabilities",
                          desc->n_outputs, out_kind(desc->kind), c->n_labels, c->n_labels);
    }
    if (desc->feature_names == NULL)
        return MD_OK;
    for (i = 0; i < c->width; i++) {
        const char *got = desc->feature_names[i] != NULL ? desc->feature_names[i] : "";

        if (strcmp(got, c->column_names[i]) != 0) {
            char text[80];

            md_yaml_fmt_text(got, strlen(got), 64, text, sizeof(text));
            return md_err_set(err, MD_EINVAL,
                              "engine feature %zu is '%s', the contract's column %zu is '%s'", i,
                              text, i, c->column_names[i]);
        }
    }
    return MD_OK;
}
