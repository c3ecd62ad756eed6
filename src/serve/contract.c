/* SPDX-License-Identifier: MIT */
/*
 * contract.c: reading model.yaml into a struct md_contract.
 *
 * util/yaml loads the text safely into libyaml's node tree and resolves
 * plain scalars with the YAML 1.2 core schema (null, true and false, decimal
 * integers and floats; anything quoted is a string); this file walks only
 * the structure it expects (no recursion, so no nesting depth can hurt).
 * Every check names the key path of what is wrong. All memory of a contract
 * sits in its private arena, so a failure anywhere frees everything at once.
 * The features' rules are read in contract_feature.c with the helpers here;
 * preparation of requests against a contract is contract_prepare.c's.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"
#include "util/mem.h"
#include "util/sys.h"
#include "util/yaml.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

#define ARENA_MAX       ((size_t)256 << 20) /* far above what the limits allow */
#define MAX_LABELS      10000
#define MAX_OUTPUTS     16
#define MAX_VERSIONS    10000
#define MAX_LATEST      1000000
#define MAX_ENGINE      256
#define MAX_DESCRIPTION 4096

/* snprintf for key paths and messages, where cutting a long one short is fine. */
static void textf(char *buf, size_t size, const char *fmt, ...) MD_PRINTF(3, 4);

static void textf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ helpers */

int md_contract__fail(struct md_contract__ctx *x, const char *path, const char *fmt, ...)
{
    char msg[224];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a long message is cut short */
    va_end(ap);
    md_err_set(x->err, MD_EINVAL, "%s: %s", path, msg);
    return MD_EINVAL;
}

int md_contract__oom(struct md_contract__ctx *x)
{
    md_err_set(x->err, MD_ENOMEM, "model.yaml: out of memory");
    return MD_ENOMEM;
}

/* path + "." + key, the key made printable and cut short. */
static void join_key(char *buf, size_t size, const char *path, const char *key, size_t len)
{
    char k[80];

    md_yaml_fmt_text(key, len, 64, k, sizeof(k));
    if (path[0] == '\0')
        textf(buf, size, "%s", k);
    else
        textf(buf, size, "%s.%s", path, k);
}

/* ------------------------------------------------------------------ scalars */

/* Two names are equal (NULL equals nothing). */
static bool same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static bool is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

static yaml_node_t *node_at(struct md_contract__ctx *x, int index)
{
    return yaml_document_get_node(x->doc, index);
}

/* A non-null scalar as text, at most max bytes, without NUL bytes. */
int md_contract__want_text(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           size_t max, const char **s, size_t *len)
{
    char what[80];

    *s = "";
    *len = 0;
    if (n->type != YAML_SCALAR_NODE || md_yaml_kind_of(n) == MD_YAML_NULL)
        return md_contract__fail(x, path, "expected a string, got %s",
                                 md_yaml_describe(n, what, sizeof(what)));
    if (md_yaml_len(n) > max)
        return md_contract__fail(x, path, "longer than %zu bytes", max);
    if (memchr(md_yaml_text(n), '\0', md_yaml_len(n)) != NULL)
        return md_contract__fail(x, path, "contains a NUL character");
    *s = md_yaml_text(n);
    *len = md_yaml_len(n);
    return MD_OK;
}

static bool name_chars_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

char *md_contract__dup_text(struct md_contract__ctx *x, const char *s, size_t len)
{
    return md_arena_strndup(&x->c->mem, s, len);
}

/* A name: [A-Za-z0-9_.-]+, at most MD_CONTRACT_MAX_NAME bytes, copied. */
int md_contract__want_name(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           char **out)
{
    const char *s;
    size_t len;
    char text[80];
    int rc;

    *out = NULL;
    rc = md_contract__want_text(x, n, path, MD_CONTRACT_MAX_NAME, &s, &len);
    if (rc != MD_OK)
        return rc;
    if (!name_chars_ok(s, len)) {
        md_yaml_fmt_text(s, len, 64, text, sizeof(text));
        return md_contract__fail(x, path, "'%s' has characters outside [A-Za-z0-9_.-]", text);
    }
    *out = md_contract__dup_text(x, s, len);
    return *out == NULL ? md_contract__oom(x) : MD_OK;
}

/* A finite number (a plain integer or float). */
int md_contract__want_number(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                             double *out)
{
    char what[80];
    enum md_yaml_kind k = md_yaml_kind_of(n);

    *out = 0;
    if (k != MD_YAML_INT && k != MD_YAML_FLOAT)
        return md_contract__fail(x, path, "expected a number, got %s",
                                 md_yaml_describe(n, what, sizeof(what)));
    /* strtod reads "inf" and "nan" but not YAML's ".inf" and ".nan" */
    *out = strchr(md_yaml_text(n), 'n') || strchr(md_yaml_text(n), 'N')
               ? NAN
               : strtod(md_yaml_text(n), NULL);
    if (!isfinite(*out))
        return md_contract__fail(x, path, "'%s' is not a finite number", md_yaml_text(n));
    return MD_OK;
}

/* A plain decimal integer within int64_t. */
int md_contract__want_int(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                          int64_t *out)
{
    char what[80];
    char *end;
    long long v;

    *out = 0;
    if (md_yaml_kind_of(n) != MD_YAML_INT)
        return md_contract__fail(x, path, "expected an integer, got %s",
                                 md_yaml_describe(n, what, sizeof(what)));
    errno = 0;
    v = strtoll(md_yaml_text(n), &end, 10);
    if (errno == ERANGE)
        return md_contract__fail(x, path, "%s is out of range", md_yaml_text(n));
    *out = (int64_t)v;
    return MD_OK;
}

int md_contract__want_bool(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           bool *out)
{
    char what[80];

    *out = false;
    if (md_yaml_kind_of(n) != MD_YAML_BOOL)
        return md_contract__fail(x, path, "expected true or false, got %s",
                                 md_yaml_describe(n, what, sizeof(what)));
    *out = md_yaml_text(n)[0] == 't' || md_yaml_text(n)[0] == 'T';
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
int md_contract__want_word(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           const char *const *words, const char *list, int *out)
{
    const char *s;
    size_t len;
    char text[80];
    int rc;

    *out = -1;
    rc = md_contract__want_text(x, n, path, MD_CONTRACT_MAX_TEXT, &s, &len);
    if (rc != MD_OK)
        return rc;
    *out = one_of(s, len, words);
    if (*out < 0) {
        md_yaml_fmt_text(s, len, 48, text, sizeof(text));
        return md_contract__fail(x, path, "'%s' is not one of %s", text, list);
    }
    return MD_OK;
}

/* ----------------------------------------------------------------- mappings */

/*
 * Checks that map is a mapping whose keys are all in keys (NULL-terminated),
 * each at most once, and points vals[k] (zeroed by the caller) at the value
 * of keys[k].
 */
int md_contract__map_collect(struct md_contract__ctx *x, const yaml_node_t *map, const char *path,
                             const char *const *keys, yaml_node_t **vals)
{
    char what[80];
    char kp[200];
    const yaml_node_pair_t *pair;

    if (map->type != YAML_MAPPING_NODE)
        return md_contract__fail(x, path[0] ? path : "model.yaml", "expected a mapping, got %s",
                                 md_yaml_describe(map, what, sizeof(what)));
    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node_at(x, pair->key);
        int k;

        if (key == NULL || key->type != YAML_SCALAR_NODE)
            return md_contract__fail(x, path[0] ? path : "model.yaml", "a key is %s, not a string",
                                     key ? md_yaml_describe(key, what, sizeof(what)) : "missing");
        join_key(kp, sizeof(kp), path, md_yaml_text(key), md_yaml_len(key));
        k = memchr(md_yaml_text(key), '\0', md_yaml_len(key))
                ? -1
                : one_of(md_yaml_text(key), md_yaml_len(key), keys);
        if (k < 0)
            return md_contract__fail(x, kp, "unknown key");
        if (vals[k] != NULL)
            return md_contract__fail(x, kp, "duplicate key");
        vals[k] = node_at(x, pair->value);
        if (vals[k] == NULL)
            return md_contract__fail(x, kp, "missing value");
    }
    return MD_OK;
}

/* A sequence of min..max items; *count is its length. */
int md_contract__want_seq(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                          size_t min, size_t max, const char *what_items, size_t *count)
{
    char what[80];

    *count = 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return md_contract__fail(x, path, "expected a sequence, got %s",
                                 md_yaml_describe(n, what, sizeof(what)));
    *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (*count < min)
        return md_contract__fail(x, path, "too few %s: %zu, at least %zu needed", what_items,
                                 *count, min);
    if (*count > max)
        return md_contract__fail(x, path, "more than %zu %s", max, what_items);
    return MD_OK;
}

yaml_node_t *md_contract__seq_item(struct md_contract__ctx *x, const yaml_node_t *seq, size_t i)
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
int md_contract__index_texts(struct md_contract__ctx *x, char *const *strs, const size_t *lens,
                             size_t n, uint32_t **slots, size_t *mask, size_t *dup, size_t *dup_of)
{
    size_t size = slots_for(n);
    size_t i;

    *dup = SIZE_MAX;
    *dup_of = 0;
    *slots = md_arena_calloc(&x->c->mem, size, sizeof(**slots));
    if (*slots == NULL)
        return md_contract__oom(x);
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
int md_contract__index_ints(struct md_contract__ctx *x, const int64_t *v, size_t n,
                            uint32_t **slots, size_t *mask, size_t *dup)
{
    size_t size = slots_for(n);
    size_t i;

    *dup = SIZE_MAX;
    *slots = md_arena_calloc(&x->c->mem, size, sizeof(**slots));
    if (*slots == NULL)
        return md_contract__oom(x);
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

/* ------------------------------------------------------------------ outputs */

static int parse_outputs(struct md_contract__ctx *x, const yaml_node_t *n)
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
    int rc = md_contract__want_seq(x, n, "outputs", 1, MAX_OUTPUTS, "outputs", &count);

    if (rc != MD_OK)
        return rc;
    c->outputs = md_arena_calloc(&c->mem, count, sizeof(*c->outputs));
    if (c->outputs == NULL)
        return md_contract__oom(x);
    for (i = 0; i < count; i++) {
        struct md_output *o = &c->outputs[i];
        const yaml_node_t *item = md_contract__seq_item(x, n, i);
        yaml_node_t *v[3] = {0};
        const yaml_node_t *kind_node;
        int kind;

        textf(op, sizeof(op), "outputs[%zu]", i);
        if (item == NULL)
            return md_contract__fail(x, op, "missing value");
        rc = md_contract__map_collect(x, item, op, keys, v);
        if (rc != MD_OK)
            return rc;
        textf(kp, sizeof(kp), "%s.name", op);
        if (v[0] == NULL)
            return md_contract__fail(x, kp, "required");
        rc = md_contract__want_name(x, v[0], kp, &o->name);
        if (rc != MD_OK)
            return rc;
        for (k = 0; k < i; k++)
            if (same(c->outputs[k].name, o->name))
                return md_contract__fail(x, kp, "duplicate name '%s' (also outputs[%zu])", o->name,
                                         k);

        textf(kp, sizeof(kp), "%s.kind", op);
        kind_node = v[1] != NULL ? v[1] : v[0];
        rc = md_contract__want_word(x, kind_node, kp, kinds, "probability, label, prediction",
                                    &kind);
        if (rc != MD_OK)
            return rc;
        o->kind = kind == 0 ? MD_OUT_PROBABILITY : kind == 1 ? MD_OUT_LABEL : MD_OUT_PREDICTION;
        if ((c->task == MD_TASK_REGRESSION) != (o->kind == MD_OUT_PREDICTION))
            return md_contract__fail(x, kp, "'%s' is not valid for %s", kinds[kind],
                                     c->task == MD_TASK_REGRESSION ? "regression"
                                                                   : "classification");

        o->dtype = o->kind == MD_OUT_LABEL ? MD_DT_BYTES : MD_DT_FP32;
        if (v[2] == NULL)
            continue;
        textf(kp, sizeof(kp), "%s.datatype", op);
        if (o->kind == MD_OUT_LABEL) {
            const char *s;
            size_t len;

            rc = md_contract__want_text(x, v[2], kp, MD_CONTRACT_MAX_TEXT, &s, &len);
            if (rc != MD_OK)
                return rc;
            if (!is(s, len, "BYTES")) {
                md_yaml_fmt_text(s, len, 48, text, sizeof(text));
                return md_contract__fail(x, kp, "'%s' is not valid for a label; use BYTES", text);
            }
            continue;
        }
        rc = md_contract__want_word(x, v[2], kp, numbers, "FP32, FP64", &kind);
        if (rc != MD_OK)
            return rc;
        o->dtype = kind == 0 ? MD_DT_FP32 : MD_DT_FP64;
    }
    c->n_outputs = count;
    return MD_OK;
}

static int default_outputs(struct md_contract__ctx *x)
{
    struct md_contract *c = x->c;
    size_t n = c->task == MD_TASK_CLASSIFICATION ? 2 : 1;

    c->outputs = md_arena_calloc(&c->mem, n, sizeof(*c->outputs));
    if (c->outputs == NULL)
        return md_contract__oom(x);
    if (c->task == MD_TASK_CLASSIFICATION) {
        c->outputs[0].name = md_contract__dup_text(x, "probability", 11);
        c->outputs[0].kind = MD_OUT_PROBABILITY;
        c->outputs[0].dtype = MD_DT_FP32;
        c->outputs[1].name = md_contract__dup_text(x, "label", 5);
        c->outputs[1].kind = MD_OUT_LABEL;
        c->outputs[1].dtype = MD_DT_BYTES;
        if (c->outputs[1].name == NULL)
            return md_contract__oom(x);
    } else {
        c->outputs[0].name = md_contract__dup_text(x, "prediction", 10);
        c->outputs[0].kind = MD_OUT_PREDICTION;
        c->outputs[0].dtype = MD_DT_FP32;
    }
    if (c->outputs[0].name == NULL)
        return md_contract__oom(x);
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

static int parse_policy(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"latest", "all", "specific", NULL};
    struct md_version_policy *p = &x->c->policy;
    yaml_node_t *v[3] = {0};
    char ip[64];
    size_t count = 0;
    size_t i;
    int64_t latest = 0;
    bool all = false;
    int rc = md_contract__map_collect(x, n, "version_policy", keys, v);

    if (rc != MD_OK)
        return rc;
    if ((v[0] != NULL) + (v[1] != NULL) + (v[2] != NULL) != 1)
        return md_contract__fail(x, "version_policy", "exactly one of latest, all, specific");
    if (v[0] != NULL) {
        rc = md_contract__want_int(x, v[0], "version_policy.latest", &latest);
        if (rc != MD_OK)
            return rc;
        if (latest < 1 || latest > MAX_LATEST)
            return md_contract__fail(x, "version_policy.latest",
                                     "%" PRId64 " is not between 1 and %d", latest, MAX_LATEST);
        p->kind = MD_POLICY_LATEST;
        p->latest = (unsigned)latest;
        return MD_OK;
    }
    if (v[1] != NULL) {
        rc = md_contract__want_bool(x, v[1], "version_policy.all", &all);
        if (rc != MD_OK)
            return rc;
        if (!all)
            return md_contract__fail(x, "version_policy.all",
                                     "must be true (leave version_policy out for "
                                     "the default, latest: 1)");
        p->kind = MD_POLICY_ALL;
        p->latest = 0;
        return MD_OK;
    }
    rc = md_contract__want_seq(x, v[2], "version_policy.specific", 1, MAX_VERSIONS, "versions",
                               &count);
    if (rc != MD_OK)
        return rc;
    p->versions = md_arena_calloc(&x->c->mem, count, sizeof(*p->versions));
    if (p->versions == NULL)
        return md_contract__oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, v[2], i);

        textf(ip, sizeof(ip), "version_policy.specific[%zu]", i);
        if (item == NULL)
            return md_contract__fail(x, ip, "missing value");
        rc = md_contract__want_int(x, item, ip, &p->versions[i]);
        if (rc != MD_OK)
            return rc;
        if (p->versions[i] < 1)
            return md_contract__fail(x, ip, "%" PRId64 " is not a positive integer",
                                     p->versions[i]);
    }
    qsort(p->versions, count, sizeof(*p->versions), cmp_i64);
    for (i = 1; i < count; i++)
        if (p->versions[i] == p->versions[i - 1])
            return md_contract__fail(x, "version_policy.specific", "duplicate version %" PRId64,
                                     p->versions[i]);
    p->kind = MD_POLICY_SPECIFIC;
    p->latest = 0;
    p->n_versions = count;
    return MD_OK;
}

static int parse_labels(struct md_contract__ctx *x, const yaml_node_t *n)
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
    int rc = md_contract__want_seq(x, n, "labels", 2, MAX_LABELS, "labels", &count);

    if (rc != MD_OK)
        return rc;
    c->labels = md_arena_calloc(&c->mem, count, sizeof(*c->labels));
    lens = md_arena_calloc(&c->mem, count, sizeof(*lens));
    if (c->labels == NULL || lens == NULL)
        return md_contract__oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, n, i);
        const char *s;

        textf(ip, sizeof(ip), "labels[%zu]", i);
        if (item == NULL)
            return md_contract__fail(x, ip, "missing value");
        rc = md_contract__want_text(x, item, ip, MD_CONTRACT_MAX_TEXT, &s, &lens[i]);
        if (rc != MD_OK)
            return rc;
        c->labels[i] = md_contract__dup_text(x, s, lens[i]);
        if (c->labels[i] == NULL)
            return md_contract__oom(x);
    }
    rc = md_contract__index_texts(x, c->labels, lens, count, &slots, &mask, &dup, &dup_of);
    if (rc != MD_OK)
        return rc;
    if (dup != SIZE_MAX) {
        textf(ip, sizeof(ip), "labels[%zu]", dup);
        md_yaml_fmt_text(c->labels[dup], lens[dup], 48, text, sizeof(text));
        return md_contract__fail(x, ip, "duplicate label '%s' (also labels[%zu])", text, dup_of);
    }
    c->n_labels = count;
    return MD_OK;
}

static int parse_engine(struct md_contract__ctx *x, const yaml_node_t *n)
{
    struct md_contract *c = x->c;
    const yaml_node_pair_t *pair;
    char kp[128];
    char what[80];
    size_t count;
    size_t i;

    if (n->type != YAML_MAPPING_NODE)
        return md_contract__fail(x, "engine", "expected a mapping, got %s",
                                 md_yaml_describe(n, what, sizeof(what)));
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count > MAX_ENGINE)
        return md_contract__fail(x, "engine", "more than %d options", MAX_ENGINE);
    c->engine = md_arena_calloc(&c->mem, count, sizeof(*c->engine));
    if (c->engine == NULL && count > 0)
        return md_contract__oom(x);
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
            return md_contract__fail(x, "engine", "a key is %s, not a string",
                                     key ? md_yaml_describe(key, what, sizeof(what)) : "missing");
        join_key(kp, sizeof(kp), "engine", md_yaml_text(key), md_yaml_len(key));
        rc = md_contract__want_name(x, key, kp, &ks);
        if (rc != MD_OK)
            return rc;
        for (i = 0; i < c->n_engine; i++)
            if (same(c->engine[i].key, ks))
                return md_contract__fail(x, kp, "duplicate key");
        if (val == NULL)
            return md_contract__fail(x, kp, "missing value");
        if (val->type != YAML_SCALAR_NODE || md_yaml_kind_of(val) == MD_YAML_NULL)
            return md_contract__fail(x, kp, "expected a scalar value, got %s",
                                     md_yaml_describe(val, what, sizeof(what)));
        rc = md_contract__want_text(x, val, kp, MD_CONTRACT_MAX_TEXT, &s, &len);
        if (rc != MD_OK)
            return rc;
        vs = md_contract__dup_text(x, s, len);
        if (vs == NULL)
            return md_contract__oom(x);
        kv->key = ks;
        kv->value = vs;
        c->n_engine++;
    }
    return MD_OK;
}

/* ---------------------------------------------------------------- batching */

/* An integer in [lo, hi]. */
static int want_int_in(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                       int64_t lo, int64_t hi, int64_t *out)
{
    int rc;

    *out = 0;
    rc = md_contract__want_int(x, n, path, out);

    if (rc != MD_OK)
        return rc;
    if (*out < lo || *out > hi)
        return md_contract__fail(x, path, "%" PRId64 " is not between %" PRId64 " and %" PRId64,
                                 *out, lo, hi);
    return MD_OK;
}

static int parse_preferred(struct md_contract__ctx *x, const yaml_node_t *n, struct md_batching *b)
{
    static const char path[] = "dynamic_batching.preferred_batch_sizes";
    char ip[80];
    size_t count = 0;
    size_t i;
    int64_t v = 0;
    int rc = md_contract__want_seq(x, n, path, 1, MD_BATCH_MAX_PREFERRED, "sizes", &count);

    if (rc != MD_OK)
        return rc;
    b->preferred = md_arena_calloc(&x->c->mem, count, sizeof(*b->preferred));
    if (b->preferred == NULL)
        return md_contract__oom(x);
    for (i = 0; i < count; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, n, i);

        textf(ip, sizeof(ip), "%s[%zu]", path, i);
        if (item == NULL)
            return md_contract__fail(x, ip, "missing value");
        rc = md_contract__want_int(x, item, ip, &v);
        if (rc != MD_OK)
            return rc;
        if (v < 1)
            return md_contract__fail(x, ip, "%" PRId64 " is not a positive integer", v);
        if (v > (int64_t)b->max_batch_size)
            return md_contract__fail(x, ip, "%" PRId64 " is above max_batch_size %zu", v,
                                     b->max_batch_size);
        if (i > 0 && (size_t)v <= b->preferred[i - 1])
            return md_contract__fail(
                x, ip, "%" PRId64 " is not above the size before it (sizes ascend, each once)", v);
        b->preferred[i] = (size_t)v;
    }
    b->n_preferred = count;
    return MD_OK;
}

static int parse_batching(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"max_batch_size", "max_queue_delay_us",
                                       "preferred_batch_sizes", "max_queue_size", NULL};
    struct md_batching *b = &x->c->batching;
    yaml_node_t *v[4] = {0};
    int64_t i = 0;
    int rc = md_contract__map_collect(x, n, "dynamic_batching", keys, v);

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
static int parse_running(struct md_contract__ctx *x, const yaml_node_t *batching,
                         const yaml_node_t *instances, const yaml_node_t *timeout)
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
            return md_contract__fail(
                x, "instances",
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
    K_NEW_VERSIONS,
    K_KEYS,
    K_DRIFT,
    K_LOGGING,
    K_TRAINING,
    K_REVIEW,
    K_ONLINE,
    K_TRIGGERS,
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
    "new_versions",
    "keys",
    "drift",
    "logging",
    "training",
    "review",
    "online",
    "triggers",
    NULL,
};

static int parse_head(struct md_contract__ctx *x, yaml_node_t *const *v, const char *dir)
{
    static const char *const backends[] = {"trees", "xgboost", "linear", NULL};
    static const char *const tasks[] = {"classification", "regression", NULL};
    struct md_contract *c = x->c;
    const char *s;
    size_t len;
    int word;
    int rc;

    if (v[K_NAME] != NULL) {
        rc = md_contract__want_name(x, v[K_NAME], "name", &c->name);
        if (rc != MD_OK)
            return rc;
        if (dir != NULL && !same(c->name, dir))
            return md_contract__fail(x, "name", "'%s' does not match the directory name '%.64s'",
                                     c->name, dir);
    } else if (dir == NULL) {
        return md_contract__fail(x, "name", "required when the model's directory is not known");
    }
    if (dir != NULL) {
        c->name = md_contract__dup_text(x, dir, strlen(dir));
        if (c->name == NULL)
            return md_contract__oom(x);
    }

    if (v[K_DESCRIPTION] != NULL) {
        rc = md_contract__want_text(x, v[K_DESCRIPTION], "description", MAX_DESCRIPTION, &s, &len);
        if (rc != MD_OK)
            return rc;
        c->description = md_contract__dup_text(x, s, len);
        if (c->description == NULL)
            return md_contract__oom(x);
    }

    if (v[K_BACKEND] == NULL)
        return md_contract__fail(x, "backend", "required");
    rc = md_contract__want_word(x, v[K_BACKEND], "backend", backends, "trees, xgboost, linear",
                                &word);
    if (rc != MD_OK)
        return rc;
    c->backend = md_contract__dup_text(x, backends[word], strlen(backends[word]));

    if (v[K_ARTIFACT] != NULL) {
        char text[80];

        rc = md_contract__want_text(x, v[K_ARTIFACT], "artifact", MD_CONTRACT_MAX_NAME, &s, &len);
        if (rc != MD_OK)
            return rc;
        if (!name_chars_ok(s, len) || is(s, len, ".") || is(s, len, "..")) {
            md_yaml_fmt_text(s, len, 64, text, sizeof(text));
            return md_contract__fail(
                x, "artifact", "'%s' is not a plain file name ([A-Za-z0-9_.-], not . or ..)", text);
        }
        c->artifact = md_contract__dup_text(x, s, len);
    } else {
        c->artifact = md_contract__dup_text(x, "model.json", 10);
    }

    if (v[K_TASK] == NULL)
        return md_contract__fail(x, "task", "required");
    rc = md_contract__want_word(x, v[K_TASK], "task", tasks, "classification, regression", &word);
    if (rc != MD_OK)
        return rc;
    c->task = word == 0 ? MD_TASK_CLASSIFICATION : MD_TASK_REGRESSION;

    if (c->backend == NULL || c->artifact == NULL)
        return md_contract__oom(x);
    return MD_OK;
}

/* logging: what the prediction log keeps of the model's requests; defaults when absent. */
static int parse_logging(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"features", NULL};
    yaml_node_t *v[1] = {0};
    char a[40];
    int rc;

    x->c->log_features = 1;
    if (n == NULL)
        return MD_OK;
    rc = md_contract__map_collect(x, n, "logging", keys, v);
    if (rc != MD_OK || v[0] == NULL)
        return rc;
    rc = md_contract__want_number(x, v[0], "logging.features", &x->c->log_features);
    if (rc != MD_OK)
        return rc;
    if (!(x->c->log_features >= 0 && x->c->log_features <= 1)) {
        md_contract__fmt_num(x->c->log_features, false, a, sizeof(a));
        return md_contract__fail(x, "logging.features",
                                 "%s is not a share from 0 to 1 (of requests whose features are "
                                 "logged)",
                                 a);
    }
    return MD_OK;
}

static int parse_root(struct md_contract__ctx *x, const yaml_node_t *root, const char *dir)
{
    struct md_contract *c = x->c;
    yaml_node_t *v[K_COUNT] = {0};
    char a[40];
    int rc = md_contract__map_collect(x, root, "", top_keys, v);

    if (rc != MD_OK)
        return rc;
    rc = parse_head(x, v, dir);
    if (rc != MD_OK)
        return rc;

    if (c->task == MD_TASK_CLASSIFICATION && v[K_LABELS] == NULL)
        return md_contract__fail(x, "labels", "required for classification");
    if (c->task == MD_TASK_REGRESSION && v[K_LABELS] != NULL)
        return md_contract__fail(x, "labels", "not allowed for regression");
    if (v[K_LABELS] != NULL) {
        rc = parse_labels(x, v[K_LABELS]);
        if (rc != MD_OK)
            return rc;
    }

    c->threshold = 0.5;
    if (v[K_THRESHOLD] != NULL) {
        if (c->task != MD_TASK_CLASSIFICATION || c->n_labels != 2)
            return md_contract__fail(x, "threshold", "only for binary classification (2 labels)");
        rc = md_contract__want_number(x, v[K_THRESHOLD], "threshold", &c->threshold);
        if (rc != MD_OK)
            return rc;
        if (!(c->threshold > 0 && c->threshold < 1)) {
            md_contract__fmt_num(c->threshold, false, a, sizeof(a));
            return md_contract__fail(x, "threshold", "%s is not between 0 and 1 (exclusive)", a);
        }
    }

    if (v[K_INPUT_TENSOR] != NULL)
        rc = md_contract__want_name(x, v[K_INPUT_TENSOR], "input_tensor", &c->input_tensor);
    else if ((c->input_tensor = md_contract__dup_text(x, "features", 8)) == NULL)
        rc = md_contract__oom(x);
    if (rc != MD_OK)
        return rc;

    if (v[K_FEATURES] == NULL)
        return md_contract__fail(x, "features", "required");
    rc = md_contract__parse_features(x, v[K_FEATURES]);
    if (rc != MD_OK)
        return rc;

    rc = v[K_OUTPUTS] != NULL ? parse_outputs(x, v[K_OUTPUTS]) : default_outputs(x);
    if (rc != MD_OK)
        return rc;

    if (v[K_KEYS] != NULL) {
        rc = md_contract__parse_keys(x, v[K_KEYS]);
        if (rc != MD_OK)
            return rc;
    }

    rc = parse_logging(x, v[K_LOGGING]);
    if (rc != MD_OK)
        return rc;
    rc = md_contract__parse_review(x, v[K_REVIEW]);
    if (rc != MD_OK)
        return rc;

    rc = md_contract__parse_online(x, v[K_ONLINE]); /* the defaults when absent */
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

    c->serve_new = true;
    if (v[K_NEW_VERSIONS] != NULL) {
        static const char *const modes[] = {"serve", "register", NULL};
        int word;

        rc = md_contract__want_word(x, v[K_NEW_VERSIONS], "new_versions", modes, "serve, register",
                                    &word);
        if (rc != MD_OK)
            return rc;
        c->serve_new = word == 0;
    }

    md_contract__training_default(&c->training, c->task == MD_TASK_REGRESSION, c->n_labels);
    if (v[K_TRAINING] != NULL) {
        rc = md_contract__parse_training(x, v[K_TRAINING]);
        if (rc != MD_OK)
            return rc;
    }

    md_drift_config_default(&c->drift);
    if (v[K_DRIFT] != NULL) {
        rc = md_contract__parse_drift(x, v[K_DRIFT]);
        if (rc != MD_OK)
            return rc;
    }

    rc = md_contract__parse_triggers(x, v[K_TRIGGERS]); /* defaults when absent */
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
    struct md_contract__ctx x;
    int rc;

    *out = NULL;
    if (len > MD_CONTRACT_MAX_BYTES)
        return md_err_set(err, MD_EINVAL, "model.yaml: %zu bytes, more than the %u allowed", len,
                          MD_CONTRACT_MAX_BYTES);
    if (text == NULL)
        text = "";
    rc = md_yaml_load(text, len, "model.yaml", 0, &doc, err);
    if (rc != MD_OK) {
        yaml_document_delete(&doc);
        return rc;
    }
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
