/* SPDX-License-Identifier: MIT */
/*
 * contract_feature.c: a contract's feature rules, as model.yaml states them:
 * each feature's datatype, whether it is required and what a missing value
 * becomes, its range, its categories and their encoding, and whether NaN is
 * a value; and what preparation needs of them, worked out once at parse time
 * (each feature's accepted range narrowed to its datatype and to floats, its
 * columns, the fill of a missing entry, the category and name indexes).
 * Applying the rules to a request's values is contract_prepare.c's; reading
 * the rest of model.yaml, and the reading helpers used here, contract.c's.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"
#include "util/mem.h"
#include "util/yaml.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>

/* ----------------------------------------------------------------- features */

enum {
    F_NAME,
    F_DATATYPE,
    F_REQUIRED,
    F_MISSING,
    F_DEFAULT,
    F_MIN,
    F_MAX,
    F_ALLOW_NAN,
    F_CATEGORIES,
    F_ENCODING,
    F_PII,
    F_COUNT
};

static const char *const feature_keys[] = {
    "name", "datatype",  "required",   "missing",  "default", "min",
    "max",  "allow_nan", "categories", "encoding", "pii",     NULL,
};

static const char *const dtype_words[] = {"FP32", "FP64", "INT32", "INT64", "BOOL", "BYTES", NULL};
static const enum md_dtype dtype_values[] = {MD_DT_FP32,  MD_DT_FP64, MD_DT_INT32,
                                             MD_DT_INT64, MD_DT_BOOL, MD_DT_BYTES};
#define DTYPE_LIST "FP32, FP64, INT32, INT64, BOOL, BYTES"

static bool is_fp(enum md_dtype dt)
{
    return dt == MD_DT_FP32 || dt == MD_DT_FP64;
}

static bool is_int(enum md_dtype dt)
{
    return dt == MD_DT_INT32 || dt == MD_DT_INT64;
}

/* The range of values a feature's datatype holds, as doubles. */
static void dtype_range(enum md_dtype dt, double *lo, double *hi)
{
    switch (dt) {
    case MD_DT_INT32:
        *lo = -2147483648.0;
        *hi = 2147483647.0;
        break;
    case MD_DT_INT64:
        *lo = -9223372036854775808.0;
        *hi = 9223372036854775808.0; /* 2^63: every int64_t converts to at most this */
        break;
    case MD_DT_BOOL:
        *lo = 0;
        *hi = 1;
        break;
    default:
        *lo = -FLT_MAX;
        *hi = FLT_MAX;
        break;
    }
}

/* categories: a BYTES feature's texts or an INT feature's integers. */
static int parse_categories(struct md_contract__ctx *x, struct md_feature *f, const yaml_node_t *n,
                            const char *path)
{
    char ip[200];
    char text[80];
    size_t count;
    size_t i;
    size_t dup;
    size_t dup_of;
    int rc = md_contract__want_seq(x, n, path, 1, MD_CONTRACT_MAX_CATEGORIES, "categories", &count);

    if (rc != MD_OK)
        return rc;
    if (count > MD_CONTRACT_MAX_CATEGORIES - x->n_categories)
        return md_contract__fail(x, path, "more than %d categories in the contract",
                                 MD_CONTRACT_MAX_CATEGORIES);
    x->n_categories += count;
    f->n_categories = count;
    f->categories = md_arena_calloc(&x->c->mem, count, sizeof(*f->categories));
    f->cat_len = md_arena_calloc(&x->c->mem, count, sizeof(*f->cat_len));
    if (f->categories == NULL || f->cat_len == NULL)
        return md_contract__oom(x);
    if (is_int(f->dtype)) {
        f->cat_int = md_arena_calloc(&x->c->mem, count, sizeof(*f->cat_int));
        if (f->cat_int == NULL)
            return md_contract__oom(x);
    }
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, n, i);
        const char *s;
        size_t len;

        (void)snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
        if (item == NULL)
            return md_contract__fail(x, ip, "missing value");
        if (f->cat_int != NULL) {
            int64_t v;
            double lo;
            double hi;

            rc = md_contract__want_int(x, item, ip, &v);
            if (rc != MD_OK)
                return rc;
            dtype_range(f->dtype, &lo, &hi);
            if (f->dtype == MD_DT_INT32 && (v < (int64_t)lo || v > (int64_t)hi))
                return md_contract__fail(x, ip, "%" PRId64 " is outside the INT32 range", v);
            f->cat_int[i] = v;
            (void)snprintf(text, sizeof(text), "%" PRId64, v); /* any int64 fits */
            f->categories[i] = md_contract__dup_text(x, text, strlen(text));
        } else {
            rc = md_contract__want_text(x, item, ip, MD_CONTRACT_MAX_TEXT, &s, &len);
            if (rc != MD_OK)
                return rc;
            f->categories[i] = md_contract__dup_text(x, s, len);
        }
        if (f->categories[i] == NULL)
            return md_contract__oom(x);
        f->cat_len[i] = strlen(f->categories[i]);
    }
    if (f->cat_int != NULL)
        rc = md_contract__index_ints(x, f->cat_int, count, &f->cat_slots, &f->cat_mask, &dup);
    else
        rc = md_contract__index_texts(x, f->categories, f->cat_len, count, &f->cat_slots,
                                      &f->cat_mask, &dup, &dup_of);
    if (rc != MD_OK)
        return rc;
    if (dup != SIZE_MAX) {
        (void)snprintf(ip, sizeof(ip), "%s[%zu]", path, dup);
        md_yaml_fmt_text(f->categories[dup], f->cat_len[dup], 48, text, sizeof(text));
        return md_contract__fail(x, ip, "duplicate category '%s'", text);
    }
    if (count <= MD_CONTRACT_LINEAR_MAX)
        f->cat_slots = NULL;
    return MD_OK;
}

/* default: a number, true/false, or one of the categories. */
static int parse_default(struct md_contract__ctx *x, struct md_feature *f, const yaml_node_t *n,
                         const char *path)
{
    char a[40];
    char b[40];
    char text[80];
    double lo;
    double hi;
    int rc;

    if (f->categories != NULL && f->cat_int != NULL) {
        int64_t v;

        rc = md_contract__want_int(x, n, path, &v);
        if (rc != MD_OK)
            return rc;
        f->default_category = md_contract__find_int_category(f, v);
        if (f->default_category == SIZE_MAX)
            return md_contract__fail(x, path, "%" PRId64 " is not one of the categories", v);
        return MD_OK;
    }
    if (f->categories != NULL) {
        const char *s;
        size_t len;

        rc = md_contract__want_text(x, n, path, MD_CONTRACT_MAX_TEXT, &s, &len);
        if (rc != MD_OK)
            return rc;
        f->default_category = md_contract__find_category(f, s, len);
        if (f->default_category == SIZE_MAX) {
            md_yaml_fmt_text(s, len, 48, text, sizeof(text));
            return md_contract__fail(x, path, "'%s' is not one of the categories", text);
        }
        return MD_OK;
    }
    if (f->dtype == MD_DT_BOOL) {
        bool v = false;

        rc = md_contract__want_bool(x, n, path, &v);
        f->default_number = v ? 1.0 : 0.0;
        return rc;
    }
    rc = md_contract__want_number(x, n, path, &f->default_number);
    if (rc != MD_OK)
        return rc;
    md_contract__fmt_num(f->default_number, false, a, sizeof(a));
    dtype_range(f->dtype, &lo, &hi);
    if (is_int(f->dtype) && f->default_number != trunc(f->default_number))
        return md_contract__fail(x, path, "%s is not an integer", a);
    if (f->default_number < lo || f->default_number > hi)
        return md_contract__fail(x, path, "%s is outside the %s range", a, md_dtype_name(f->dtype));
    if (f->has_min && f->default_number < f->min) {
        md_contract__fmt_num(f->min, false, b, sizeof(b));
        return md_contract__fail(x, path, "%s is below min %s", a, b);
    }
    if (f->has_max && f->default_number > f->max) {
        md_contract__fmt_num(f->max, false, b, sizeof(b));
        return md_contract__fail(x, path, "%s is above max %s", a, b);
    }
    return MD_OK;
}

/* min and max: numeric features without categories; min <= max. */
static int parse_range(struct md_contract__ctx *x, struct md_feature *f, yaml_node_t *const *v,
                       const char *fp)
{
    char kp[200];
    char a[40];
    char b[40];
    int k;
    int rc;

    for (k = F_MIN; k <= F_MAX; k++) {
        if (v[k] == NULL)
            continue;
        (void)snprintf(kp, sizeof(kp), "%s.%s", fp, feature_keys[k]);
        if (!is_fp(f->dtype) && !is_int(f->dtype))
            return md_contract__fail(x, kp, "only for numeric features (FP32, FP64, INT32, INT64)");
        if (f->categories != NULL)
            return md_contract__fail(x, kp, "not allowed with categories");
        rc = md_contract__want_number(x, v[k], kp, k == F_MIN ? &f->min : &f->max);
        if (rc != MD_OK)
            return rc;
        if (k == F_MIN)
            f->has_min = true;
        else
            f->has_max = true;
    }
    if (f->has_min && f->has_max && f->min > f->max) {
        md_contract__fmt_num(f->max, false, a, sizeof(a));
        md_contract__fmt_num(f->min, false, b, sizeof(b));
        (void)snprintf(kp, sizeof(kp), "%s.max", fp);
        return md_contract__fail(x, kp, "%s is below min %s", a, b);
    }
    return MD_OK;
}

static int parse_feature(struct md_contract__ctx *x, struct md_feature *f, const yaml_node_t *n,
                         size_t i)
{
    static const char *const missing_words[] = {"nan", "default", NULL};
    static const char *const encoding_words[] = {"onehot", "ordinal", NULL};
    yaml_node_t *v[F_COUNT] = {0};
    char fp[64];
    char kp[200];
    int word;
    int rc;

    (void)snprintf(fp, sizeof(fp), "features[%zu]", i);
#define KP(k) ((void)snprintf(kp, sizeof(kp), "%s.%s", fp, feature_keys[k]), kp)
    rc = md_contract__map_collect(x, n, fp, feature_keys, v);
    if (rc != MD_OK)
        return rc;

    if (v[F_NAME] == NULL)
        return md_contract__fail(x, KP(F_NAME), "required");
    rc = md_contract__want_name(x, v[F_NAME], KP(F_NAME), &f->name);
    if (rc != MD_OK)
        return rc;
    if (strcmp(f->name, x->c->input_tensor) == 0)
        return md_contract__fail(x, kp, "'%s' is the input_tensor name; rename one of them",
                                 f->name);

    if (v[F_DATATYPE] == NULL)
        return md_contract__fail(x, KP(F_DATATYPE), "required");
    rc = md_contract__want_word(x, v[F_DATATYPE], KP(F_DATATYPE), dtype_words, DTYPE_LIST, &word);
    if (rc != MD_OK)
        return rc;
    f->dtype = dtype_values[word];

    f->required = true;
    if (v[F_REQUIRED] != NULL) {
        rc = md_contract__want_bool(x, v[F_REQUIRED], KP(F_REQUIRED), &f->required);
        if (rc != MD_OK)
            return rc;
    }
    f->missing = f->required ? MD_MISSING_REJECT : MD_MISSING_NAN;
    if (v[F_MISSING] != NULL) {
        if (f->required)
            return md_contract__fail(x, KP(F_MISSING),
                                     "only for optional features (required: false)");
        rc = md_contract__want_word(x, v[F_MISSING], KP(F_MISSING), missing_words, "nan, default",
                                    &word);
        if (rc != MD_OK)
            return rc;
        f->missing = word == 0 ? MD_MISSING_NAN : MD_MISSING_DEFAULT;
    }

    if (v[F_CATEGORIES] != NULL) {
        if (f->dtype != MD_DT_BYTES && !is_int(f->dtype))
            return md_contract__fail(x, KP(F_CATEGORIES),
                                     "only for BYTES, INT32 and INT64 features");
        rc = parse_categories(x, f, v[F_CATEGORIES], KP(F_CATEGORIES));
        if (rc != MD_OK)
            return rc;
    } else if (f->dtype == MD_DT_BYTES) {
        return md_contract__fail(x, KP(F_CATEGORIES), "required for BYTES features");
    }

    f->encoding = f->categories != NULL ? MD_ENC_ONEHOT : MD_ENC_NONE;
    if (v[F_ENCODING] != NULL) {
        if (f->categories == NULL)
            return md_contract__fail(x, KP(F_ENCODING), "only for features with categories");
        rc = md_contract__want_word(x, v[F_ENCODING], KP(F_ENCODING), encoding_words,
                                    "onehot, ordinal", &word);
        if (rc != MD_OK)
            return rc;
        f->encoding = word == 0 ? MD_ENC_ONEHOT : MD_ENC_ORDINAL;
    }

    rc = parse_range(x, f, v, fp);
    if (rc != MD_OK)
        return rc;

    if (v[F_ALLOW_NAN] != NULL) {
        if (!is_fp(f->dtype))
            return md_contract__fail(x, KP(F_ALLOW_NAN), "only for FP32 and FP64 features");
        rc = md_contract__want_bool(x, v[F_ALLOW_NAN], KP(F_ALLOW_NAN), &f->allow_nan);
        if (rc != MD_OK)
            return rc;
    }

    if (v[F_DEFAULT] != NULL && f->missing != MD_MISSING_DEFAULT) {
        if (f->required)
            return md_contract__fail(x, KP(F_DEFAULT), "not allowed on a required feature");
        return md_contract__fail(x, KP(F_DEFAULT), "only with missing: default");
    }
    if (v[F_DEFAULT] == NULL && f->missing == MD_MISSING_DEFAULT)
        return md_contract__fail(x, KP(F_DEFAULT), "required with missing: default");
    if (v[F_DEFAULT] != NULL) {
        rc = parse_default(x, f, v[F_DEFAULT], KP(F_DEFAULT));
        if (rc != MD_OK)
            return rc;
    }
    f->pii = MD_PII_NONE;
    if (v[F_PII] != NULL) {
        static const char *const pii_words[] = {"drop", "hash", "keep", NULL};

        rc = md_contract__want_word(x, v[F_PII], KP(F_PII), pii_words, "drop, hash, keep", &word);
        if (rc != MD_OK)
            return rc;
        f->pii = (enum md_pii)(word + 1);
    }
#undef KP

    dtype_range(f->dtype, &f->lo, &f->hi);
    if (f->has_min && f->min > f->lo)
        f->lo = f->min;
    if (f->has_max && f->max < f->hi)
        f->hi = f->max;
    f->integral = is_int(f->dtype) || f->dtype == MD_DT_BOOL;
    f->width = f->encoding == MD_ENC_ONEHOT ? f->n_categories : 1;
    return MD_OK;
}

/* The smallest float >= v (up) or the largest float <= v. */
static float float_bound(double v, bool up)
{
    float f = (float)v;

    if (up && (double)f < v)
        f = nextafterf(f, INFINITY);
    if (!up && (double)f > v)
        f = nextafterf(f, -INFINITY);
    return f;
}

/* Columns, column names and the lookup data of prepare. */
static int lay_out(struct md_contract__ctx *x)
{
    struct md_contract *c = x->c;
    size_t j;
    size_t k;
    size_t col = 0;

    c->lo32 = md_arena_calloc(&c->mem, c->n_features, sizeof(*c->lo32));
    c->hi32 = md_arena_calloc(&c->mem, c->n_features, sizeof(*c->hi32));
    c->integral = md_arena_calloc(&c->mem, c->n_features, sizeof(*c->integral));
    c->fill32 = md_arena_calloc(&c->mem, c->n_features, sizeof(*c->fill32));
    c->miss_ok = md_arena_calloc(&c->mem, c->n_features, sizeof(*c->miss_ok));
    if (c->lo32 == NULL || c->hi32 == NULL || c->integral == NULL || c->fill32 == NULL ||
        c->miss_ok == NULL)
        return md_contract__oom(x);
    c->plain = true;
    for (j = 0; j < c->n_features; j++) {
        struct md_feature *f = &c->features[j];

        f->column = col;
        col += f->width;
        c->lo32[j] = float_bound(f->lo, true);
        c->hi32[j] = float_bound(f->hi, false);
        c->integral[j] = f->integral;
        /* As put_missing() fills a plain (one-column) feature. */
        c->fill32[j] = f->missing == MD_MISSING_DEFAULT ? (float)f->default_number : NAN;
        c->miss_ok[j] = f->missing != MD_MISSING_REJECT && f->categories == NULL;
        if (f->integral)
            c->any_integral = true;
        if (f->categories != NULL)
            c->plain = false;
        if (f->dtype == MD_DT_BYTES && c->bytes_feature == NULL)
            c->bytes_feature = f;
    }
    c->width = col;
    c->column_names = md_arena_calloc(&c->mem, col, sizeof(*c->column_names));
    if (c->column_names == NULL)
        return md_contract__oom(x);
    for (j = 0; j < c->n_features; j++) {
        struct md_feature *f = &c->features[j];

        if (f->encoding != MD_ENC_ONEHOT) {
            c->column_names[f->column] = f->name;
            continue;
        }
        for (k = 0; k < f->n_categories; k++) {
            size_t nl = strlen(f->name);
            char *s = md_arena_alloc(&c->mem, nl + 1 + f->cat_len[k] + 1);

            if (s == NULL)
                return md_contract__oom(x);
            memcpy(s, f->name, nl);
            s[nl] = '=';
            memcpy(s + nl + 1, f->categories[k], f->cat_len[k] + 1);
            c->column_names[f->column + k] = s;
        }
    }
    return MD_OK;
}

int md_contract__parse_features(struct md_contract__ctx *x, const yaml_node_t *n)
{
    struct md_contract *c = x->c;
    char **names;
    char path[64];
    size_t count;
    size_t i;
    size_t dup;
    size_t dup_of;
    int rc =
        md_contract__want_seq(x, n, "features", 1, MD_CONTRACT_MAX_FEATURES, "features", &count);

    if (rc != MD_OK)
        return rc;
    c->features = md_arena_calloc(&c->mem, count, sizeof(*c->features));
    names = md_arena_calloc(&c->mem, count, sizeof(*names));
    if (c->features == NULL || names == NULL)
        return md_contract__oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, n, i);

        if (item == NULL) {
            (void)snprintf(path, sizeof(path), "features[%zu]", i);
            return md_contract__fail(x, path, "missing value");
        }
        rc = parse_feature(x, &c->features[i], item, i);
        if (rc != MD_OK)
            return rc;
        c->n_features = i + 1;
        names[i] = c->features[i].name;
    }
    rc = md_contract__index_texts(x, names, NULL, count, &c->name_slots, &c->name_mask, &dup,
                                  &dup_of);
    if (rc != MD_OK)
        return rc;
    if (dup != SIZE_MAX) {
        (void)snprintf(path, sizeof(path), "features[%zu].name", dup);
        return md_contract__fail(x, path, "duplicate name '%s' (also features[%zu])", names[dup],
                                 dup_of);
    }
    return lay_out(x);
}

/* ----------------------------------------------------------------- lookups */

const struct md_feature *md_contract_feature(const struct md_contract *c, const char *name)
{
    size_t len;
    size_t i;

    if (c == NULL || name == NULL || c->name_slots == NULL)
        return NULL;
    len = strlen(name);
    for (i = md_contract__hash(name, len) & c->name_mask; c->name_slots[i] != 0;
         i = (i + 1) & c->name_mask) {
        const struct md_feature *f = &c->features[c->name_slots[i] - 1];

        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

/* ---------------------------------------------------------------- messages */

void md_contract__fmt_num(double v, bool as_float, char *buf, size_t size)
{
    int p;

    /* For messages: cut short when buf is too small (callers give 32 bytes or more). */
    if (isnan(v)) {
        (void)snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        (void)snprintf(buf, size, v < 0 ? "-inf" : "inf");
        return;
    }
    for (p = 1; p <= 17; p++) {
        double back;

        (void)snprintf(buf, size, "%.*g", p, v);
        back = strtod(buf, NULL);
        if (as_float ? (float)back == (float)v : back == v)
            return;
    }
}
