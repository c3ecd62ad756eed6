/* SPDX-License-Identifier: MIT */
/*
 * contract.c: reading model.yaml into a struct md_contract.
 *
 * libyaml's document API builds the node tree; this file walks only the
 * structure it expects (no recursion, so no nesting depth can hurt) and
 * resolves plain scalars itself with the YAML 1.2 core schema: null, true and
 * false, decimal integers and floats; anything quoted is a string. Every
 * check names the key path of what is wrong. All memory of a contract sits
 * in its private arena, so a failure anywhere frees everything at once.
 * Loading the YAML text safely lives in contract_yaml.c, preparation of
 * requests against a contract in contract_prepare.c.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"
#include "util/mem.h"
#include "util/sys.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <yaml.h>

#define ARENA_MAX       ((size_t)256 << 20) /* far above what the limits allow */
#define MAX_LABELS      10000
#define MAX_OUTPUTS     16
#define MAX_VERSIONS    10000
#define MAX_LATEST      1000000
#define MAX_ENGINE      256
#define MAX_DESCRIPTION 4096

/* Parsing state: the document, the contract being built, where errors go. */
struct pctx {
    yaml_document_t *doc;
    struct md_contract *c;
    struct md_err *err;
    size_t n_categories; /* categories so far, all features together */
};

/* snprintf for key paths and messages, where cutting a long one short is fine. */
static void textf(char *buf, size_t size, const char *fmt, ...) MD_PRINTF(3, 4);

static void textf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* MD_EINVAL with "<path>: <message>". */
static int fail(struct pctx *x, const char *path, const char *fmt, ...) MD_PRINTF(3, 4);

static int fail(struct pctx *x, const char *path, const char *fmt, ...)
{
    char msg[224];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a long message is cut short */
    va_end(ap);
    md_err_set(x->err, MD_EINVAL, "%s: %s", path, msg);
    return MD_EINVAL;
}

static int oom(struct pctx *x)
{
    md_err_set(x->err, MD_ENOMEM, "model.yaml: out of memory");
    return MD_ENOMEM;
}

/* path + "." + key, the key made printable and cut short. */
static void join_key(char *buf, size_t size, const char *path, const char *key, size_t len)
{
    char k[80];

    md_contract__fmt_text(key, len, 64, k, sizeof(k));
    if (path[0] == '\0')
        textf(buf, size, "%s", k);
    else
        textf(buf, size, "%s.%s", path, k);
}

/* ------------------------------------------------------------------ scalars */

enum skind { SK_NULL, SK_BOOL, SK_INT, SK_FLOAT, SK_STR };

/* Two names are equal (NULL equals nothing). */
static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* [-+]?[0-9]+ */
static bool is_int_text(const char *s, size_t len)
{
    size_t i = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (i == len)
        return false;
    for (; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?.inf, .nan */
static bool is_float_text(const char *s, size_t len)
{
    size_t i = 0;
    size_t digits = 0;

    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (is(s + i, len - i, ".inf") || is(s + i, len - i, ".Inf") || is(s + i, len - i, ".INF"))
        return true;
    if (is(s, len, ".nan") || is(s, len, ".NaN") || is(s, len, ".NAN"))
        return true;
    while (i < len && is_digit(s[i])) {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = 0;

        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        while (i < len && is_digit(s[i])) {
            i++;
            e++;
        }
        if (e == 0)
            return false;
    }
    return i == len;
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static size_t slen(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* What a scalar is under the core schema; anything quoted is a string. */
static enum skind scalar_kind(const yaml_node_t *n)
{
    const char *s = sval(n);
    size_t len = slen(n);

    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return SK_STR;
    if (len == 0 || is(s, len, "~") || is(s, len, "null") || is(s, len, "Null") ||
        is(s, len, "NULL"))
        return SK_NULL;
    if (is(s, len, "true") || is(s, len, "True") || is(s, len, "TRUE") || is(s, len, "false") ||
        is(s, len, "False") || is(s, len, "FALSE"))
        return SK_BOOL;
    if (is_int_text(s, len))
        return SK_INT;
    if (is_float_text(s, len))
        return SK_FLOAT;
    return SK_STR;
}

/* "a mapping", "a sequence", "null", "a boolean", "a number", "string 'x'". */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
    char text[80];

    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a sequence";
    switch (scalar_kind(n)) {
    case SK_NULL:
        return "null";
    case SK_BOOL:
        return "a boolean";
    case SK_INT:
    case SK_FLOAT:
        return "a number";
    case SK_STR:
        break;
    }
    md_contract__fmt_text(sval(n), slen(n), 48, text, sizeof(text));
    textf(buf, size, "string '%s'", text);
    return buf;
}

static yaml_node_t *node_at(struct pctx *x, int index)
{
    return yaml_document_get_node(x->doc, index);
}

/* A non-null scalar as text, at most max bytes, without NUL bytes. */
static int want_text(struct pctx *x, const yaml_node_t *n, const char *path, size_t max,
                     const char **s, size_t *len)
{
    char what[80];

    *s = "";
    *len = 0;
    if (n->type != YAML_SCALAR_NODE || scalar_kind(n) == SK_NULL)
        return fail(x, path, "expected a string, got %s", describe(n, what, sizeof(what)));
    if (slen(n) > max)
        return fail(x, path, "longer than %zu bytes", max);
    if (memchr(sval(n), '\0', slen(n)) != NULL)
        return fail(x, path, "contains a NUL character");
    *s = sval(n);
    *len = slen(n);
    return MD_OK;
}

static bool name_chars_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '_' ||
              ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static char *dup_text(struct pctx *x, const char *s, size_t len)
{
    return md_arena_strndup(&x->c->mem, s, len);
}

/* A name: [A-Za-z0-9_.-]+, at most MD_CONTRACT_MAX_NAME bytes, copied. */
static int want_name(struct pctx *x, const yaml_node_t *n, const char *path, char **out)
{
    const char *s;
    size_t len;
    char text[80];
    int rc;

    *out = NULL;
    rc = want_text(x, n, path, MD_CONTRACT_MAX_NAME, &s, &len);
    if (rc != MD_OK)
        return rc;
    if (!name_chars_ok(s, len)) {
        md_contract__fmt_text(s, len, 64, text, sizeof(text));
        return fail(x, path, "'%s' has characters outside [A-Za-z0-9_.-]", text);
    }
    *out = dup_text(x, s, len);
    return *out == NULL ? oom(x) : MD_OK;
}

/* A finite number (a plain integer or float). */
static int want_number(struct pctx *x, const yaml_node_t *n, const char *path, double *out)
{
    char what[80];
    enum skind k = n->type == YAML_SCALAR_NODE ? scalar_kind(n) : SK_STR;

    *out = 0;
    if (n->type != YAML_SCALAR_NODE || (k != SK_INT && k != SK_FLOAT))
        return fail(x, path, "expected a number, got %s", describe(n, what, sizeof(what)));
    /* strtod reads "inf" and "nan" but not YAML's ".inf" and ".nan" */
    *out = strchr(sval(n), 'n') || strchr(sval(n), 'N') ? NAN : strtod(sval(n), NULL);
    if (!isfinite(*out))
        return fail(x, path, "'%s' is not a finite number", sval(n));
    return MD_OK;
}

/* A plain decimal integer within int64_t. */
static int want_int(struct pctx *x, const yaml_node_t *n, const char *path, int64_t *out)
{
    char what[80];
    char *end;
    long long v;

    *out = 0;
    if (n->type != YAML_SCALAR_NODE || scalar_kind(n) != SK_INT)
        return fail(x, path, "expected an integer, got %s", describe(n, what, sizeof(what)));
    errno = 0;
    v = strtoll(sval(n), &end, 10);
    if (errno == ERANGE)
        return fail(x, path, "%s is out of range", sval(n));
    *out = (int64_t)v;
    return MD_OK;
}

static int want_bool(struct pctx *x, const yaml_node_t *n, const char *path, bool *out)
{
    char what[80];

    *out = false;
    if (n->type != YAML_SCALAR_NODE || scalar_kind(n) != SK_BOOL)
        return fail(x, path, "expected true or false, got %s", describe(n, what, sizeof(what)));
    *out = sval(n)[0] == 't' || sval(n)[0] == 'T';
    return MD_OK;
}

/* s[0..len) equals one of words (NULL-terminated): its index, else -1. */
static int one_of(const char *s, size_t len, const char *const *words)
{
    int i;

    for (i = 0; words[i] != NULL; i++)
        if (is(s, len, words[i]))
            return i;
    return -1;
}

/* A text that must be one of words; the message lists them as `list`. */
static int want_word(struct pctx *x, const yaml_node_t *n, const char *path,
                     const char *const *words, const char *list, int *out)
{
    const char *s;
    size_t len;
    char text[80];
    int rc;

    *out = -1;
    rc = want_text(x, n, path, MD_CONTRACT_MAX_TEXT, &s, &len);
    if (rc != MD_OK)
        return rc;
    *out = one_of(s, len, words);
    if (*out < 0) {
        md_contract__fmt_text(s, len, 48, text, sizeof(text));
        return fail(x, path, "'%s' is not one of %s", text, list);
    }
    return MD_OK;
}

/* ----------------------------------------------------------------- mappings */

/*
 * Checks that map is a mapping whose keys are all in keys (NULL-terminated),
 * each at most once, and points vals[k] (zeroed by the caller) at the value
 * of keys[k].
 */
static int map_collect(struct pctx *x, const yaml_node_t *map, const char *path,
                       const char *const *keys, yaml_node_t **vals)
{
    char what[80];
    char kp[200];
    const yaml_node_pair_t *pair;

    if (map->type != YAML_MAPPING_NODE)
        return fail(x, path[0] ? path : "model.yaml", "expected a mapping, got %s",
                    describe(map, what, sizeof(what)));
    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(x, pair->key);
        int k;

        if (key == NULL || key->type != YAML_SCALAR_NODE)
            return fail(x, path[0] ? path : "model.yaml", "a key is %s, not a string",
                        key ? describe(key, what, sizeof(what)) : "missing");
        join_key(kp, sizeof(kp), path, sval(key), slen(key));
        k = memchr(sval(key), '\0', slen(key)) ? -1 : one_of(sval(key), slen(key), keys);
        if (k < 0)
            return fail(x, kp, "unknown key");
        if (vals[k] != NULL)
            return fail(x, kp, "duplicate key");
        vals[k] = node_at(x, pair->value);
        if (vals[k] == NULL)
            return fail(x, kp, "missing value");
    }
    return MD_OK;
}

/* A sequence of min..max items; *count is its length. */
static int want_seq(struct pctx *x, const yaml_node_t *n, const char *path, size_t min, size_t max,
                    const char *what_items, size_t *count)
{
    char what[80];

    *count = 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(x, path, "expected a sequence, got %s", describe(n, what, sizeof(what)));
    *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (*count < min)
        return fail(x, path, "too few %s: %zu, at least %zu needed", what_items, *count, min);
    if (*count > max)
        return fail(x, path, "more than %zu %s", max, what_items);
    return MD_OK;
}

static yaml_node_t *seq_item(struct pctx *x, const yaml_node_t *seq, size_t i)
{
    return node_at(x, seq->data.sequence.items.start[i]);
}

/* -------------------------------------------------------------- hash index */

static size_t slots_for(size_t n)
{
    size_t s = 16;

    while (s < 2 * n)
        s <<= 1;
    return s;
}

/*
 * Builds a hash index of n texts (strs, lens) in arena memory. *dup is the
 * index of the first text equal to an earlier one (*dup_of), or SIZE_MAX.
 */
static int index_texts(struct pctx *x, char *const *strs, const size_t *lens, size_t n,
                       uint32_t **slots, size_t *mask, size_t *dup, size_t *dup_of)
{
    size_t size = slots_for(n);
    size_t i;

    *dup = SIZE_MAX;
    *dup_of = 0;
    *slots = md_arena_calloc(&x->c->mem, size, sizeof(**slots));
    if (*slots == NULL)
        return oom(x);
    *mask = size - 1;
    for (i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(strs[i]);
        size_t h = md_contract__hash(strs[i], len) & *mask;

        for (; (*slots)[h] != 0; h = (h + 1) & *mask) {
            size_t k = (*slots)[h] - 1;
            size_t klen = lens ? lens[k] : strlen(strs[k]);

            if (klen == len && memcmp(strs[k], strs[i], len) == 0) {
                *dup = i;
                *dup_of = k;
                return MD_OK;
            }
        }
        (*slots)[h] = (uint32_t)(i + 1);
    }
    return MD_OK;
}

/* As index_texts for integers. */
static int index_ints(struct pctx *x, const int64_t *v, size_t n, uint32_t **slots, size_t *mask,
                      size_t *dup)
{
    size_t size = slots_for(n);
    size_t i;

    *dup = SIZE_MAX;
    *slots = md_arena_calloc(&x->c->mem, size, sizeof(**slots));
    if (*slots == NULL)
        return oom(x);
    *mask = size - 1;
    for (i = 0; i < n; i++) {
        size_t h = md_contract__hash_i64(v[i]) & *mask;

        for (; (*slots)[h] != 0; h = (h + 1) & *mask) {
            if (v[(*slots)[h] - 1] == v[i]) {
                *dup = i;
                return MD_OK;
            }
        }
        (*slots)[h] = (uint32_t)(i + 1);
    }
    return MD_OK;
}

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
    F_COUNT
};

static const char *const feature_keys[] = {
    "name", "datatype",  "required",   "missing",  "default", "min",
    "max",  "allow_nan", "categories", "encoding", NULL,
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
static int parse_categories(struct pctx *x, struct md_feature *f, const yaml_node_t *n,
                            const char *path)
{
    char ip[200];
    char text[80];
    size_t count;
    size_t i;
    size_t dup;
    size_t dup_of;
    int rc = want_seq(x, n, path, 1, MD_CONTRACT_MAX_CATEGORIES, "categories", &count);

    if (rc != MD_OK)
        return rc;
    if (count > MD_CONTRACT_MAX_CATEGORIES - x->n_categories)
        return fail(x, path, "more than %d categories in the contract", MD_CONTRACT_MAX_CATEGORIES);
    x->n_categories += count;
    f->n_categories = count;
    f->categories = md_arena_calloc(&x->c->mem, count, sizeof(*f->categories));
    f->cat_len = md_arena_calloc(&x->c->mem, count, sizeof(*f->cat_len));
    if (f->categories == NULL || f->cat_len == NULL)
        return oom(x);
    if (is_int(f->dtype)) {
        f->cat_int = md_arena_calloc(&x->c->mem, count, sizeof(*f->cat_int));
        if (f->cat_int == NULL)
            return oom(x);
    }
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = seq_item(x, n, i);
        const char *s;
        size_t len;

        textf(ip, sizeof(ip), "%s[%zu]", path, i);
        if (item == NULL)
            return fail(x, ip, "missing value");
        if (f->cat_int != NULL) {
            int64_t v;
            double lo;
            double hi;

            rc = want_int(x, item, ip, &v);
            if (rc != MD_OK)
                return rc;
            dtype_range(f->dtype, &lo, &hi);
            if (f->dtype == MD_DT_INT32 && (v < (int64_t)lo || v > (int64_t)hi))
                return fail(x, ip, "%" PRId64 " is outside the INT32 range", v);
            f->cat_int[i] = v;
            (void)snprintf(text, sizeof(text), "%" PRId64, v); /* any int64 fits */
            f->categories[i] = dup_text(x, text, strlen(text));
        } else {
            rc = want_text(x, item, ip, MD_CONTRACT_MAX_TEXT, &s, &len);
            if (rc != MD_OK)
                return rc;
            f->categories[i] = dup_text(x, s, len);
        }
        if (f->categories[i] == NULL)
            return oom(x);
        f->cat_len[i] = strlen(f->categories[i]);
    }
    if (f->cat_int != NULL)
        rc = index_ints(x, f->cat_int, count, &f->cat_slots, &f->cat_mask, &dup);
    else
        rc = index_texts(x, f->categories, f->cat_len, count, &f->cat_slots, &f->cat_mask, &dup,
                         &dup_of);
    if (rc != MD_OK)
        return rc;
    if (dup != SIZE_MAX) {
        textf(ip, sizeof(ip), "%s[%zu]", path, dup);
        md_contract__fmt_text(f->categories[dup], f->cat_len[dup], 48, text, sizeof(text));
        return fail(x, ip, "duplicate category '%s'", text);
    }
    if (count <= MD_CONTRACT_LINEAR_MAX)
        f->cat_slots = NULL;
    return MD_OK;
}

/* default: a number, true/false, or one of the categories. */
static int parse_default(struct pctx *x, struct md_feature *f, const yaml_node_t *n,
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

        rc = want_int(x, n, path, &v);
        if (rc != MD_OK)
            return rc;
        f->default_category = md_contract__find_int_category(f, v);
        if (f->default_category == SIZE_MAX)
            return fail(x, path, "%" PRId64 " is not one of the categories", v);
        return MD_OK;
    }
    if (f->categories != NULL) {
        const char *s;
        size_t len;

        rc = want_text(x, n, path, MD_CONTRACT_MAX_TEXT, &s, &len);
        if (rc != MD_OK)
            return rc;
        f->default_category = md_contract__find_category(f, s, len);
        if (f->default_category == SIZE_MAX) {
            md_contract__fmt_text(s, len, 48, text, sizeof(text));
            return fail(x, path, "'%s' is not one of the categories", text);
        }
        return MD_OK;
    }
    if (f->dtype == MD_DT_BOOL) {
        bool v = false;

        rc = want_bool(x, n, path, &v);
        f->default_number = v ? 1.0 : 0.0;
        return rc;
    }
    rc = want_number(x, n, path, &f->default_number);
    if (rc != MD_OK)
        return rc;
    md_contract__fmt_num(f->default_number, false, a, sizeof(a));
    dtype_range(f->dtype, &lo, &hi);
    if (is_int(f->dtype) && f->default_number != trunc(f->default_number))
        return fail(x, path, "%s is not an integer", a);
    if (f->default_number < lo || f->default_number > hi)
        return fail(x, path, "%s is outside the %s range", a, md_dtype_name(f->dtype));
    if (f->has_min && f->default_number < f->min) {
        md_contract__fmt_num(f->min, false, b, sizeof(b));
        return fail(x, path, "%s is below min %s", a, b);
    }
    if (f->has_max && f->default_number > f->max) {
        md_contract__fmt_num(f->max, false, b, sizeof(b));
        return fail(x, path, "%s is above max %s", a, b);
    }
    return MD_OK;
}

/* min and max: numeric features without categories; min <= max. */
static int parse_range(struct pctx *x, struct md_feature *f, yaml_node_t *const *v, const char *fp)
{
    char kp[200];
    char a[40];
    char b[40];
    int k;
    int rc;

    for (k = F_MIN; k <= F_MAX; k++) {
        if (v[k] == NULL)
            continue;
        textf(kp, sizeof(kp), "%s.%s", fp, feature_keys[k]);
        if (!is_fp(f->dtype) && !is_int(f->dtype))
            return fail(x, kp, "only for numeric features (FP32, FP64, INT32, INT64)");
        if (f->categories != NULL)
            return fail(x, kp, "not allowed with categories");
        rc = want_number(x, v[k], kp, k == F_MIN ? &f->min : &f->max);
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
        textf(kp, sizeof(kp), "%s.max", fp);
        return fail(x, kp, "%s is below min %s", a, b);
    }
    return MD_OK;
}

static int parse_feature(struct pctx *x, struct md_feature *f, const yaml_node_t *n, size_t i)
{
    static const char *const missing_words[] = {"nan", "default", NULL};
    static const char *const encoding_words[] = {"onehot", "ordinal", NULL};
    yaml_node_t *v[F_COUNT] = {0};
    char fp[64];
    char kp[200];
    int word;
    int rc;

    textf(fp, sizeof(fp), "features[%zu]", i);
#define KP(k) (textf(kp, sizeof(kp), "%s.%s", fp, feature_keys[k]), kp)
    rc = map_collect(x, n, fp, feature_keys, v);
    if (rc != MD_OK)
        return rc;

    if (v[F_NAME] == NULL)
        return fail(x, KP(F_NAME), "required");
    rc = want_name(x, v[F_NAME], KP(F_NAME), &f->name);
    if (rc != MD_OK)
        return rc;
    if (same(f->name, x->c->input_tensor))
        return fail(x, kp, "'%s' is the input_tensor name; rename one of them", f->name);

    if (v[F_DATATYPE] == NULL)
        return fail(x, KP(F_DATATYPE), "required");
    rc = want_word(x, v[F_DATATYPE], KP(F_DATATYPE), dtype_words, DTYPE_LIST, &word);
    if (rc != MD_OK)
        return rc;
    f->dtype = dtype_values[word];

    f->required = true;
    if (v[F_REQUIRED] != NULL) {
        rc = want_bool(x, v[F_REQUIRED], KP(F_REQUIRED), &f->required);
        if (rc != MD_OK)
            return rc;
    }
    f->missing = f->required ? MD_MISSING_REJECT : MD_MISSING_NAN;
    if (v[F_MISSING] != NULL) {
        if (f->required)
            return fail(x, KP(F_MISSING), "only for optional features (required: false)");
        rc = want_word(x, v[F_MISSING], KP(F_MISSING), missing_words, "nan, default", &word);
        if (rc != MD_OK)
            return rc;
        f->missing = word == 0 ? MD_MISSING_NAN : MD_MISSING_DEFAULT;
    }

    if (v[F_CATEGORIES] != NULL) {
        if (f->dtype != MD_DT_BYTES && !is_int(f->dtype))
            return fail(x, KP(F_CATEGORIES), "only for BYTES, INT32 and INT64 features");
        rc = parse_categories(x, f, v[F_CATEGORIES], KP(F_CATEGORIES));
        if (rc != MD_OK)
            return rc;
    } else if (f->dtype == MD_DT_BYTES) {
        return fail(x, KP(F_CATEGORIES), "required for BYTES features");
    }

    f->encoding = f->categories != NULL ? MD_ENC_ONEHOT : MD_ENC_NONE;
    if (v[F_ENCODING] != NULL) {
        if (f->categories == NULL)
            return fail(x, KP(F_ENCODING), "only for features with categories");
        rc = want_word(x, v[F_ENCODING], KP(F_ENCODING), encoding_words, "onehot, ordinal", &word);
        if (rc != MD_OK)
            return rc;
        f->encoding = word == 0 ? MD_ENC_ONEHOT : MD_ENC_ORDINAL;
    }

    rc = parse_range(x, f, v, fp);
    if (rc != MD_OK)
        return rc;

    if (v[F_ALLOW_NAN] != NULL) {
        if (!is_fp(f->dtype))
            return fail(x, KP(F_ALLOW_NAN), "only for FP32 and FP64 features");
        rc = want_bool(x, v[F_ALLOW_NAN], KP(F_ALLOW_NAN), &f->allow_nan);
        if (rc != MD_OK)
            return rc;
    }

    if (v[F_DEFAULT] != NULL && f->missing != MD_MISSING_DEFAULT) {
        if (f->required)
            return fail(x, KP(F_DEFAULT), "not allowed on a required feature");
        return fail(x, KP(F_DEFAULT), "only with missing: default");
    }
    if (v[F_DEFAULT] == NULL && f->missing == MD_MISSING_DEFAULT)
        return fail(x, KP(F_DEFAULT), "required with missing: default");
    if (v[F_DEFAULT] != NULL) {
        rc = parse_default(x, f, v[F_DEFAULT], KP(F_DEFAULT));
        if (rc != MD_OK)
            return rc;
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
static int lay_out(struct pctx *x)
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
        return oom(x);
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
        return oom(x);
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
                return oom(x);
            memcpy(s, f->name, nl);
            s[nl] = '=';
            memcpy(s + nl + 1, f->categories[k], f->cat_len[k] + 1);
            c->column_names[f->column + k] = s;
        }
    }
    return MD_OK;
}

static int parse_features(struct pctx *x, const yaml_node_t *n)
{
    struct md_contract *c = x->c;
    char **names;
    char path[64];
    size_t count;
    size_t i;
    size_t dup;
    size_t dup_of;
    int rc = want_seq(x, n, "features", 1, MD_CONTRACT_MAX_FEATURES, "features", &count);

    if (rc != MD_OK)
        return rc;
    c->features = md_arena_calloc(&c->mem, count, sizeof(*c->features));
    names = md_arena_calloc(&c->mem, count, sizeof(*names));
    if (c->features == NULL || names == NULL)
        return oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = seq_item(x, n, i);

        if (item == NULL) {
            textf(path, sizeof(path), "features[%zu]", i);
            return fail(x, path, "missing value");
        }
        rc = parse_feature(x, &c->features[i], item, i);
        if (rc != MD_OK)
            return rc;
        c->n_features = i + 1;
        names[i] = c->features[i].name;
    }
    rc = index_texts(x, names, NULL, count, &c->name_slots, &c->name_mask, &dup, &dup_of);
    if (rc != MD_OK)
        return rc;
    if (dup != SIZE_MAX) {
        textf(path, sizeof(path), "features[%zu].name", dup);
        return fail(x, path, "duplicate name '%s' (also features[%zu])", names[dup], dup_of);
    }
    return lay_out(x);
}

/* ------------------------------------------------------------------ outputs */

static int parse_outputs(struct pctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"name", "kind", "datatype", NULL};
    static const char *const kinds[] = {"probability", "label", "prediction", NULL};
    static const char *const numbers[] = {"FP32", "FP64", NULL};
    struct md_contract *c = x->c;
    char op[64];
    char kp[128];
    char text[80];
    size_t count;
    size_t i;
    size_t k;
    int rc = want_seq(x, n, "outputs", 1, MAX_OUTPUTS, "outputs", &count);

    if (rc != MD_OK)
        return rc;
    c->outputs = md_arena_calloc(&c->mem, count, sizeof(*c->outputs));
    if (c->outputs == NULL)
        return oom(x);
    for (i = 0; i < count; i++) {
        struct md_output *o = &c->outputs[i];
        const yaml_node_t *item = seq_item(x, n, i);
        yaml_node_t *v[3] = {0};
        const yaml_node_t *kind_node;
        int kind;

        textf(op, sizeof(op), "outputs[%zu]", i);
        if (item == NULL)
            return fail(x, op, "missing value");
        rc = map_collect(x, item, op, keys, v);
        if (rc != MD_OK)
            return rc;
        textf(kp, sizeof(kp), "%s.name", op);
        if (v[0] == NULL)
            return fail(x, kp, "required");
        rc = want_name(x, v[0], kp, &o->name);
        if (rc != MD_OK)
            return rc;
        for (k = 0; k < i; k++)
            if (same(c->outputs[k].name, o->name))
                return fail(x, kp, "duplicate name '%s' (also outputs[%zu])", o->name, k);

        textf(kp, sizeof(kp), "%s.kind", op);
        kind_node = v[1] != NULL ? v[1] : v[0];
        rc = want_word(x, kind_node, kp, kinds, "probability, label, prediction", &kind);
        if (rc != MD_OK)
            return rc;
        o->kind = kind == 0 ? MD_OUT_PROBABILITY : kind == 1 ? MD_OUT_LABEL : MD_OUT_PREDICTION;
        if ((c->task == MD_TASK_REGRESSION) != (o->kind == MD_OUT_PREDICTION))
            return fail(x, kp, "'%s' is not valid for %s", kinds[kind],
                        c->task == MD_TASK_REGRESSION ? "regression" : "classification");

        o->dtype = o->kind == MD_OUT_LABEL ? MD_DT_BYTES : MD_DT_FP32;
        if (v[2] == NULL)
            continue;
        textf(kp, sizeof(kp), "%s.datatype", op);
        if (o->kind == MD_OUT_LABEL) {
            const char *s;
            size_t len;

            rc = want_text(x, v[2], kp, MD_CONTRACT_MAX_TEXT, &s, &len);
            if (rc != MD_OK)
                return rc;
            if (!is(s, len, "BYTES")) {
                md_contract__fmt_text(s, len, 48, text, sizeof(text));
                return fail(x, kp, "'%s' is not valid for a label; use BYTES", text);
            }
            continue;
        }
        rc = want_word(x, v[2], kp, numbers, "FP32, FP64", &kind);
        if (rc != MD_OK)
            return rc;
        o->dtype = kind == 0 ? MD_DT_FP32 : MD_DT_FP64;
    }
    c->n_outputs = count;
    return MD_OK;
}

static int default_outputs(struct pctx *x)
{
    struct md_contract *c = x->c;
    size_t n = c->task == MD_TASK_CLASSIFICATION ? 2 : 1;

    c->outputs = md_arena_calloc(&c->mem, n, sizeof(*c->outputs));
    if (c->outputs == NULL)
        return oom(x);
    if (c->task == MD_TASK_CLASSIFICATION) {
        c->outputs[0].name = dup_text(x, "probability", 11);
        c->outputs[0].kind = MD_OUT_PROBABILITY;
        c->outputs[0].dtype = MD_DT_FP32;
        c->outputs[1].name = dup_text(x, "label", 5);
        c->outputs[1].kind = MD_OUT_LABEL;
        c->outputs[1].dtype = MD_DT_BYTES;
        if (c->outputs[1].name == NULL)
            return oom(x);
    } else {
        c->outputs[0].name = dup_text(x, "prediction", 10);
        c->outputs[0].kind = MD_OUT_PREDICTION;
        c->outputs[0].dtype = MD_DT_FP32;
    }
    if (c->outputs[0].name == NULL)
        return oom(x);
    c->n_outputs = n;
    return MD_OK;
}

/* ---------------------------------------------------- policy, labels, engine */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int parse_policy(struct pctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"latest", "all", "specific", NULL};
    struct md_version_policy *p = &x->c->policy;
    yaml_node_t *v[3] = {0};
    char ip[64];
    size_t count = 0;
    size_t i;
    int64_t latest = 0;
    bool all = false;
    int rc = map_collect(x, n, "version_policy", keys, v);

    if (rc != MD_OK)
        return rc;
    if ((v[0] != NULL) + (v[1] != NULL) + (v[2] != NULL) != 1)
        return fail(x, "version_policy", "exactly one of latest, all, specific");
    if (v[0] != NULL) {
        rc = want_int(x, v[0], "version_policy.latest", &latest);
        if (rc != MD_OK)
            return rc;
        if (latest < 1 || latest > MAX_LATEST)
            return fail(x, "version_policy.latest", "%" PRId64 " is not between 1 and %d", latest,
                        MAX_LATEST);
        p->kind = MD_POLICY_LATEST;
        p->latest = (unsigned)latest;
        return MD_OK;
    }
    if (v[1] != NULL) {
        rc = want_bool(x, v[1], "version_policy.all", &all);
        if (rc != MD_OK)
            return rc;
        if (!all)
            return fail(x, "version_policy.all",
                        "must be true (leave version_policy out for "
                        "the default, latest: 1)");
        p->kind = MD_POLICY_ALL;
        p->latest = 0;
        return MD_OK;
    }
    rc = want_seq(x, v[2], "version_policy.specific", 1, MAX_VERSIONS, "versions", &count);
    if (rc != MD_OK)
        return rc;
    p->versions = md_arena_calloc(&x->c->mem, count, sizeof(*p->versions));
    if (p->versions == NULL)
        return oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = seq_item(x, v[2], i);

        textf(ip, sizeof(ip), "version_policy.specific[%zu]", i);
        if (item == NULL)
            return fail(x, ip, "missing value");
        rc = want_int(x, item, ip, &p->versions[i]);
        if (rc != MD_OK)
            return rc;
        if (p->versions[i] < 1)
            return fail(x, ip, "%" PRId64 " is not a positive integer", p->versions[i]);
    }
    qsort(p->versions, count, sizeof(*p->versions), cmp_i64);
    for (i = 1; i < count; i++)
        if (p->versions[i] == p->versions[i - 1])
            return fail(x, "version_policy.specific", "duplicate version %" PRId64, p->versions[i]);
    p->kind = MD_POLICY_SPECIFIC;
    p->latest = 0;
    p->n_versions = count;
    return MD_OK;
}

static int parse_labels(struct pctx *x, const yaml_node_t *n)
{
    struct md_contract *c = x->c;
    char ip[64];
    char text[80];
    size_t *lens;
    uint32_t *slots;
    size_t mask;
    size_t count;
    size_t i;
    size_t dup;
    size_t dup_of;
    int rc = want_seq(x, n, "labels", 2, MAX_LABELS, "labels", &count);

    if (rc != MD_OK)
        return rc;
    c->labels = md_arena_calloc(&c->mem, count, sizeof(*c->labels));
    lens = md_arena_calloc(&c->mem, count, sizeof(*lens));
    if (c->labels == NULL || lens == NULL)
        return oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = seq_item(x, n, i);
        const char *s;

        textf(ip, sizeof(ip), "labels[%zu]", i);
        if (item == NULL)
            return fail(x, ip, "missing value");
        rc = want_text(x, item, ip, MD_CONTRACT_MAX_TEXT, &s, &lens[i]);
        if (rc != MD_OK)
            return rc;
        c->labels[i] = dup_text(x, s, lens[i]);
        if (c->labels[i] == NULL)
            return oom(x);
    }
    rc = index_texts(x, c->labels, lens, count, &slots, &mask, &dup, &dup_of);
    if (rc != MD_OK)
        return rc;
    if (dup != SIZE_MAX) {
        textf(ip, sizeof(ip), "labels[%zu]", dup);
        md_contract__fmt_text(c->labels[dup], lens[dup], 48, text, sizeof(text));
        return fail(x, ip, "duplicate label '%s' (also labels[%zu])", text, dup_of);
    }
    c->n_labels = count;
    return MD_OK;
}

static int parse_engine(struct pctx *x, const yaml_node_t *n)
{
    struct md_contract *c = x->c;
    const yaml_node_pair_t *pair;
    char kp[128];
    char what[80];
    size_t count;
    size_t i;

    if (n->type != YAML_MAPPING_NODE)
        return fail(x, "engine", "expected a mapping, got %s", describe(n, what, sizeof(what)));
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count > MAX_ENGINE)
        return fail(x, "engine", "more than %d options", MAX_ENGINE);
    c->engine = md_arena_calloc(&c->mem, count, sizeof(*c->engine));
    if (c->engine == NULL && count > 0)
        return oom(x);
    for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(x, pair->key);
        const yaml_node_t *val = node_at(x, pair->value);
        struct md_kv *kv = &c->engine[c->n_engine];
        char *ks;
        char *vs;
        const char *s;
        size_t len;
        int rc;

        if (key == NULL || key->type != YAML_SCALAR_NODE)
            return fail(x, "engine", "a key is %s, not a string",
                        key ? describe(key, what, sizeof(what)) : "missing");
        join_key(kp, sizeof(kp), "engine", sval(key), slen(key));
        rc = want_name(x, key, kp, &ks);
        if (rc != MD_OK)
            return rc;
        for (i = 0; i < c->n_engine; i++)
            if (same(c->engine[i].key, ks))
                return fail(x, kp, "duplicate key");
        if (val == NULL)
            return fail(x, kp, "missing value");
        if (val->type != YAML_SCALAR_NODE || scalar_kind(val) == SK_NULL)
            return fail(x, kp, "expected a scalar value, got %s",
                        describe(val, what, sizeof(what)));
        rc = want_text(x, val, kp, MD_CONTRACT_MAX_TEXT, &s, &len);
        if (rc != MD_OK)
            return rc;
        vs = dup_text(x, s, len);
        if (vs == NULL)
            return oom(x);
        kv->key = ks;
        kv->value = vs;
        c->n_engine++;
    }
    return MD_OK;
}

/* ---------------------------------------------------------------- batching */

/* An integer in [lo, hi]. */
static int want_int_in(struct pctx *x, const yaml_node_t *n, const char *path, int64_t lo,
                       int64_t hi, int64_t *out)
{
    int rc;

    *out = 0;
    rc = want_int(x, n, path, out);

    if (rc != MD_OK)
        return rc;
    if (*out < lo || *out > hi)
        return fail(x, path, "%" PRId64 " is not between %" PRId64 " and %" PRId64, *out, lo, hi);
    return MD_OK;
}

static int parse_preferred(struct pctx *x, const yaml_node_t *n, struct md_batching *b)
{
    static const char path[] = "dynamic_batching.preferred_batch_sizes";
    char ip[80];
    size_t count = 0;
    size_t i;
    int64_t v = 0;
    int rc = want_seq(x, n, path, 1, MD_BATCH_MAX_PREFERRED, "sizes", &count);

    if (rc != MD_OK)
        return rc;
    b->preferred = md_arena_calloc(&x->c->mem, count, sizeof(*b->preferred));
    if (b->preferred == NULL)
        return oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = seq_item(x, n, i);

        textf(ip, sizeof(ip), "%s[%zu]", path, i);
        if (item == NULL)
            return fail(x, ip, "missing value");
        rc = want_int(x, item, ip, &v);
        if (rc != MD_OK)
            return rc;
        if (v < 1)
            return fail(x, ip, "%" PRId64 " is not a positive integer", v);
        if (v > (int64_t)b->max_batch_size)
            return fail(x, ip, "%" PRId64 " is above max_batch_size %zu", v, b->max_batch_size);
        if (i > 0 && (size_t)v <= b->preferred[i - 1])
            return fail(x, ip,
                        "%" PRId64 " is not above the size before it (sizes ascend, each once)", v);
        b->preferred[i] = (size_t)v;
    }
    b->n_preferred = count;
    return MD_OK;
}

static int parse_batching(struct pctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"max_batch_size", "max_queue_delay_us",
                                       "preferred_batch_sizes", "max_queue_size", NULL};
    struct md_batching *b = &x->c->batching;
    yaml_node_t *v[4] = {0};
    int64_t i = 0;
    int rc = map_collect(x, n, "dynamic_batching", keys, v);

    if (rc != MD_OK)
        return rc;
    if (v[0] != NULL) {
        rc = want_int_in(x, v[0], "dynamic_batching.max_batch_size", 1, MD_BATCH_MAX_ROWS, &i);
        if (rc != MD_OK)
            return rc;
        b->max_batch_size = (size_t)i;
    }
    if (v[1] != NULL) {
        rc = want_int_in(x, v[1], "dynamic_batching.max_queue_delay_us", 0, MD_BATCH_MAX_DELAY_US,
                         &i);
        if (rc != MD_OK)
            return rc;
        b->max_queue_delay_us = (uint64_t)i;
    }
    if (v[2] != NULL) {
        rc = parse_preferred(x, v[2], b);
        if (rc != MD_OK)
            return rc;
    }
    if (v[3] != NULL) {
        rc = want_int_in(x, v[3], "dynamic_batching.max_queue_size", 1, MD_BATCH_MAX_QUEUE, &i);
        if (rc != MD_OK)
            return rc;
        b->max_queue_size = (size_t)i;
    }
    b->enabled = true;
    return MD_OK;
}

/* dynamic_batching, instances and timeout_us; defaults when absent. */
static int parse_running(struct pctx *x, const yaml_node_t *batching, const yaml_node_t *instances,
                         const yaml_node_t *timeout)
{
    struct md_contract *c = x->c;
    int64_t i = 0;
    int rc;

    c->batching.max_batch_size = 64;
    c->batching.max_queue_delay_us = 500;
    c->batching.max_queue_size = 1024;
    c->instances = 1;
    if (batching != NULL) {
        rc = parse_batching(x, batching);
        if (rc != MD_OK)
            return rc;
    }
    if (instances != NULL) {
        if (batching == NULL)
            return fail(x, "instances",
                        "only with dynamic_batching (without it every request runs on its own HTTP "
                        "thread)");
        rc = want_int_in(x, instances, "instances", 1, MD_BATCH_MAX_INSTANCES, &i);
        if (rc != MD_OK)
            return rc;
        c->instances = (unsigned)i;
    }
    if (timeout != NULL) {
        rc = want_int_in(x, timeout, "timeout_us", 0, MD_CONTRACT_MAX_TIMEOUT_US, &i);
        if (rc != MD_OK)
            return rc;
        c->timeout_us = (uint64_t)i;
    }
    return MD_OK;
}

/* -------------------------------------------------------------------- top */

enum {
    K_NAME,
    K_DESCRIPTION,
    K_BACKEND,
    K_ARTIFACT,
    K_TASK,
    K_LABELS,
    K_THRESHOLD,
    K_INPUT_TENSOR,
    K_FEATURES,
    K_OUTPUTS,
    K_VERSION_POLICY,
    K_ENGINE,
    K_BATCHING,
    K_INSTANCES,
    K_TIMEOUT,
    K_COUNT
};

static const char *const top_keys[] = {
    "name",
    "description",
    "backend",
    "artifact",
    "task",
    "labels",
    "threshold",
    "input_tensor",
    "features",
    "outputs",
    "version_policy",
    "engine",
    "dynamic_batching",
    "instances",
    "timeout_us",
    NULL,
};

static int parse_head(struct pctx *x, yaml_node_t *const *v, const char *dir)
{
    static const char *const backends[] = {"trees", "xgboost", "linear", NULL};
    static const char *const tasks[] = {"classification", "regression", NULL};
    struct md_contract *c = x->c;
    const char *s;
    size_t len;
    int word;
    int rc;

    if (v[K_NAME] != NULL) {
        rc = want_name(x, v[K_NAME], "name", &c->name);
        if (rc != MD_OK)
            return rc;
        if (dir != NULL && !same(c->name, dir))
            return fail(x, "name", "'%s' does not match the directory name '%.64s'", c->name, dir);
    } else if (dir == NULL) {
        return fail(x, "name", "required when the model's directory is not known");
    }
    if (dir != NULL) {
        c->name = dup_text(x, dir, strlen(dir));
        if (c->name == NULL)
            return oom(x);
    }

    if (v[K_DESCRIPTION] != NULL) {
        rc = want_text(x, v[K_DESCRIPTION], "description", MAX_DESCRIPTION, &s, &len);
        if (rc != MD_OK)
            return rc;
        c->description = dup_text(x, s, len);
        if (c->description == NULL)
            return oom(x);
    }

    if (v[K_BACKEND] == NULL)
        return fail(x, "backend", "required");
    rc = want_word(x, v[K_BACKEND], "backend", backends, "trees, xgboost, linear", &word);
    if (rc != MD_OK)
        return rc;
    c->backend = dup_text(x, backends[word], strlen(backends[word]));

    if (v[K_ARTIFACT] != NULL) {
        char text[80];

        rc = want_text(x, v[K_ARTIFACT], "artifact", MD_CONTRACT_MAX_NAME, &s, &len);
        if (rc != MD_OK)
            return rc;
        if (!name_chars_ok(s, len) || is(s, len, ".") || is(s, len, "..")) {
            md_contract__fmt_text(s, len, 64, text, sizeof(text));
            return fail(x, "artifact",
                        "'%s' is not a plain file name ([A-Za-z0-9_.-], not . or ..)", text);
        }
        c->artifact = dup_text(x, s, len);
    } else {
        c->artifact = dup_text(x, "model.json", 10);
    }

    if (v[K_TASK] == NULL)
        return fail(x, "task", "required");
    rc = want_word(x, v[K_TASK], "task", tasks, "classification, regression", &word);
    if (rc != MD_OK)
        return rc;
    c->task = word == 0 ? MD_TASK_CLASSIFICATION : MD_TASK_REGRESSION;

    if (c->backend == NULL || c->artifact == NULL)
        return oom(x);
    return MD_OK;
}

static int parse_root(struct pctx *x, const yaml_node_t *root, const char *dir)
{
    struct md_contract *c = x->c;
    yaml_node_t *v[K_COUNT] = {0};
    char a[40];
    int rc = map_collect(x, root, "", top_keys, v);

    if (rc != MD_OK)
        return rc;
    rc = parse_head(x, v, dir);
    if (rc != MD_OK)
        return rc;

    if (c->task == MD_TASK_CLASSIFICATION && v[K_LABELS] == NULL)
        return fail(x, "labels", "required for classification");
    if (c->task == MD_TASK_REGRESSION && v[K_LABELS] != NULL)
        return fail(x, "labels", "not allowed for regression");
    if (v[K_LABELS] != NULL) {
        rc = parse_labels(x, v[K_LABELS]);
        if (rc != MD_OK)
            return rc;
    }

    c->threshold = 0.5;
    if (v[K_THRESHOLD] != NULL) {
        if (c->task != MD_TASK_CLASSIFICATION || c->n_labels != 2)
            return fail(x, "threshold", "only for binary classification (2 labels)");
        rc = want_number(x, v[K_THRESHOLD], "threshold", &c->threshold);
        if (rc != MD_OK)
            return rc;
        if (!(c->threshold > 0 && c->threshold < 1)) {
            md_contract__fmt_num(c->threshold, false, a, sizeof(a));
            return fail(x, "threshold", "%s is not between 0 and 1 (exclusive)", a);
        }
    }

    if (v[K_INPUT_TENSOR] != NULL)
        rc = want_name(x, v[K_INPUT_TENSOR], "input_tensor", &c->input_tensor);
    else if ((c->input_tensor = dup_text(x, "features", 8)) == NULL)
        rc = oom(x);
    if (rc != MD_OK)
        return rc;

    if (v[K_FEATURES] == NULL)
        return fail(x, "features", "required");
    rc = parse_features(x, v[K_FEATURES]);
    if (rc != MD_OK)
        return rc;

    rc = v[K_OUTPUTS] != NULL ? parse_outputs(x, v[K_OUTPUTS]) : default_outputs(x);
    if (rc != MD_OK)
        return rc;

    c->policy.kind = MD_POLICY_LATEST;
    c->policy.latest = 1;
    if (v[K_VERSION_POLICY] != NULL) {
        rc = parse_policy(x, v[K_VERSION_POLICY]);
        if (rc != MD_OK)
            return rc;
    }

    rc = parse_running(x, v[K_BATCHING], v[K_INSTANCES], v[K_TIMEOUT]);
    if (rc != MD_OK)
        return rc;

    if (v[K_ENGINE] != NULL)
        return parse_engine(x, v[K_ENGINE]);
    return MD_OK;
}

int md_contract_parse(const char *text, size_t len, const char *name, struct md_contract **out,
                      struct md_err *err)
{
    yaml_document_t doc;
    struct pctx x;
    int rc;

    *out = NULL;
    if (len > MD_CONTRACT_MAX_BYTES)
        return md_err_set(err, MD_EINVAL, "model.yaml: %zu bytes, more than the %u allowed", len,
                          MD_CONTRACT_MAX_BYTES);
    if (text == NULL)
        text = "";
    rc = md_contract__load_document(text, len, &doc, err);
    if (rc != MD_OK)
        return rc;
    x.doc = &doc;
    x.err = err;
    x.n_categories = 0;
    x.c = md_xcalloc(1, sizeof(*x.c));
    md_arena_init(&x.c->mem, ARENA_MAX);
    rc = parse_root(&x, yaml_document_get_root_node(&doc), name);
    yaml_document_delete(&doc);
    if (rc != MD_OK) {
        md_contract_free(x.c);
        return rc;
    }
    *out = x.c;
    return MD_OK;
}

int md_contract_load(const char *path, const char *name, struct md_contract **out,
                     struct md_err *err)
{
    char ebuf[128];
    struct md_read_fail f;
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    rc = md_read_file(path, MD_CONTRACT_MAX_BYTES, &text, &len, &f, err);
    if (rc != MD_OK) {
        /* md_read_file's words, but for these (fread's words for a directory). */
        switch (f.why) {
        case MD_READ_DIR:
            return md_err_set(err, MD_EIO, "'%s': cannot read: %s", path,
                              strerror_r(EISDIR, ebuf, sizeof(ebuf)));
        case MD_READ_TOO_BIG:
            return md_err_set(err, MD_EINVAL, "'%s': more than the %u bytes allowed", path,
                              MD_CONTRACT_MAX_BYTES);
        case MD_READ_NOMEM:
            return md_err_set(err, MD_ENOMEM, "'%s': out of memory", path);
        default:
            return rc;
        }
    }
    rc = md_contract_parse(text, len, name, out, err);
    free(text);
    return rc;
}

void md_contract_free(struct md_contract *c)
{
    if (c == NULL)
        return;
    md_arena_release(&c->mem);
    free(c);
}

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
