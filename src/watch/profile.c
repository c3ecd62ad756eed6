/* SPDX-License-Identifier: MIT */
/*
 * profile.c: reading a reference profile (profile.json) and checking it
 * against a contract. The format is profile.h's; what computes one is
 * `modelctl profile` (cli/cmd_profile.c) or a training script.
 */
#include "watch/profile.h"
#include "util/jdom.h"
#include "util/mem.h"
#include "util/sys.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>

#define ARENA_MAX ((size_t)256 << 20) /* far above what 16 MiB of text can need */

struct ctx {
    struct md_profile *p;
    struct md_err *err;
    size_t bins; /* value and missing bins of every feature so far */
};

static int fail(struct ctx *x, const char *path, const char *fmt, ...) MD_PRINTF(3, 4);

static int fail(struct ctx *x, const char *path, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap); /* a long message is cut short */
    va_end(ap);
    return md_err_set(x->err, MD_EINVAL, "%s: %s", path, msg);
}

static int oom(struct ctx *x)
{
    return md_err_set(x->err, MD_ENOMEM, "profile: out of memory");
}

static const char *type_name(const struct md_jnode *n)
{
    static const char *const names[] = {"null",     "false",    "true",     "a number",
                                        "a string", "an array", "an object"};

    return n == NULL ? "nothing" : names[n->type];
}

/* A key made printable for a path: cut at 64 bytes, control bytes as '?'. */
static void printable(const char *s, size_t len, char *buf, size_t size)
{
    size_t i, n = len < 64 ? len : 64;

    if (n >= size)
        n = size - 1;
    for (i = 0; i < n; i++)
        if (s[i] >= 0x20 && s[i] < 0x7f)
            buf[i] = s[i];
        else
            buf[i] = '?';
    buf[n] = '\0';
}

static int want_count(struct ctx *x, const struct md_jnode *n, const char *path, uint64_t *out)
{
    *out = 0;
    if (n == NULL || n->type != MD_J_NUMBER)
        return fail(x, path, "expected a count (a whole number >= 0), got %s", type_name(n));
    if (md_jdom_u64(n, out) != MD_OK)
        return fail(x, path, "'%.*s' is not a whole number >= 0", (int)(n->len < 40 ? n->len : 40),
                    n->p);
    return MD_OK;
}

/* Only the keys of allowed; the first other one is an error. */
static int only_keys(struct ctx *x, const struct md_jnode *o, const char *path,
                     const char *const *allowed)
{
    const struct md_jnode *m;
    char k[80];

    for (m = o->child; m != NULL; m = m->next) {
        size_t i;

        for (i = 0; allowed[i] != NULL; i++)
            if (strlen(allowed[i]) == m->key_len && memcmp(allowed[i], m->key, m->key_len) == 0)
                break;
        if (allowed[i] == NULL) {
            printable(m->key, m->key_len, k, sizeof(k));
            return fail(x, path, "unknown key '%s'", k);
        }
    }
    return MD_OK;
}

static char *dup_key(struct ctx *x, const char *s, size_t len)
{
    return md_arena_strndup(&x->p->mem, s, len);
}

/* counts: an array of n counts into c[0..n). */
static int parse_counts(struct ctx *x, const struct md_jnode *arr, const char *path, size_t n,
                        uint64_t *c)
{
    const struct md_jnode *e;
    char ip[200];
    size_t i = 0;

    if (arr == NULL)
        return fail(x, path, "required");
    if (arr->type != MD_J_ARRAY)
        return fail(x, path, "expected an array of counts, got %s", type_name(arr));
    if (arr->n != n)
        return fail(x, path, "%zu counts for %zu bins (one more than the edges)", arr->n, n);
    for (e = arr->child; e != NULL; e = e->next, i++) {
        (void)snprintf(ip, sizeof(ip), "%s[%zu]", path, i);
        if (want_count(x, e, ip, &c[i]) != MD_OK)
            return MD_EINVAL;
    }
    return MD_OK;
}

/* {"edges": [...], "counts": [...]}: a numeric feature's bins, f->counts with room for
 * missing. */
static int parse_numeric(struct ctx *x, const struct md_jnode *o, const char *path,
                         struct md_profile_feature *f)
{
    const struct md_jnode *edges = md_jdom_get(o, "edges");
    const struct md_jnode *e;
    double *ev;
    uint64_t *c;
    char ip[200];
    size_t i = 0;

    (void)snprintf(ip, sizeof(ip), "%s.edges", path);
    if (edges == NULL)
        return fail(x, ip, "required");
    if (edges->type != MD_J_ARRAY)
        return fail(x, ip, "expected an array of numbers, got %s", type_name(edges));
    if (edges->n > MD_PROFILE_MAX_EDGES)
        return fail(x, ip, "%zu edges, more than %d", edges->n, MD_PROFILE_MAX_EDGES);
    ev = md_arena_calloc(&x->p->mem, edges->n + 1, sizeof(*ev));
    c = md_arena_calloc(&x->p->mem, edges->n + 2, sizeof(*c));
    if (ev == NULL || c == NULL)
        return oom(x);
    for (e = edges->child; e != NULL; e = e->next, i++) {
        (void)snprintf(ip, sizeof(ip), "%s.edges[%zu]", path, i);
        if (e->type != MD_J_NUMBER)
            return fail(x, ip, "expected a number, got %s", type_name(e));
        if (md_jdom_f64(e, &ev[i]) != MD_OK || !isfinite(ev[i]))
            return fail(x, ip, "'%.*s' is not a finite number", (int)(e->len < 40 ? e->len : 40),
                        e->p);
        if (i > 0 && !(ev[i] > ev[i - 1]))
            return fail(x, ip, "%.17g is not above the edge before it (%.17g)", ev[i], ev[i - 1]);
    }
    f->n_bins = edges->n + 1;
    f->edges = ev;
    f->counts = c;
    (void)snprintf(ip, sizeof(ip), "%s.counts", path);
    return parse_counts(x, md_jdom_get(o, "counts"), ip, f->n_bins, c);
}

/* {"name": count, ...} plus room for "other" and missing. */
static int parse_categories(struct ctx *x, const struct md_jnode *o, const char *path,
                            struct md_profile_feature *f)
{
    const struct md_jnode *m;
    const char **names;
    size_t *lens;
    uint64_t *c;
    char ip[200], k[80];
    size_t i = 0, j;

    if (o == NULL)
        return fail(x, path, "required");
    if (o->type != MD_J_OBJECT)
        return fail(x, path, "expected an object of counts by category, got %s", type_name(o));
    if (o->n > MD_PROFILE_MAX_CATEGORIES)
        return fail(x, path, "%zu categories, more than %d", o->n, MD_PROFILE_MAX_CATEGORIES);
    names = md_arena_calloc(&x->p->mem, o->n + 1, sizeof(*names));
    lens = md_arena_calloc(&x->p->mem, o->n + 1, sizeof(*lens));
    c = md_arena_calloc(&x->p->mem, o->n + 2, sizeof(*c));
    if (names == NULL || lens == NULL || c == NULL)
        return oom(x);
    for (m = o->child; m != NULL; m = m->next, i++) {
        printable(m->key, m->key_len, k, sizeof(k));
        (void)snprintf(ip, sizeof(ip), "%s.%s", path, k);
        for (j = 0; j < i; j++)
            if (lens[j] == m->key_len && memcmp(names[j], m->key, m->key_len) == 0)
                return fail(x, ip, "category given twice");
        names[i] = dup_key(x, m->key, m->key_len);
        if (names[i] == NULL)
            return oom(x);
        lens[i] = m->key_len;
        if (want_count(x, m, ip, &c[i]) != MD_OK)
            return MD_EINVAL;
    }
    f->n_bins = o->n + 1;
    f->categories = names;
    f->cat_len = lens;
    f->counts = c;
    return MD_OK;
}

/* The missing count (key missing, default 0) into the last bin. */
static int parse_missing(struct ctx *x, const struct md_jnode *o, const char *path,
                         struct md_profile_feature *f)
{
    const struct md_jnode *n = md_jdom_get(o, "missing");
    uint64_t *c = (uint64_t *)f->counts; /* the arena memory parse_* allocated */
    char ip[200];

    (void)snprintf(ip, sizeof(ip), "%s.missing", path);
    c[f->n_bins] = 0;
    return n == NULL ? MD_OK : want_count(x, n, ip, &c[f->n_bins]);
}

static int add_bins(struct ctx *x, const char *path, struct md_profile_feature *f)
{
    f->offset = x->bins;
    x->bins += f->n_bins + 1;
    if (x->bins > MD_PROFILE_MAX_BINS)
        return fail(x, path, "the profile has more than %d bins in all", MD_PROFILE_MAX_BINS);
    return MD_OK;
}

static int parse_feature(struct ctx *x, const struct md_jnode *o, struct md_profile_feature *f)
{
    static const char *const num_keys[] = {"kind", "edges", "counts", "missing", NULL};
    static const char *const cat_keys[] = {"kind", "counts", "other", "missing", NULL};
    const struct md_jnode *kind = md_jdom_get(o->type == MD_J_OBJECT ? o : NULL, "kind");
    char path[200], k[80], ip[220];
    uint64_t sum = 0;
    size_t i;
    int rc;

    printable(o->key, o->key_len, k, sizeof(k));
    (void)snprintf(path, sizeof(path), "features.%s", k);
    if (o->key_len == 0)
        return fail(x, "features", "a feature has an empty name");
    f->name = dup_key(x, o->key, o->key_len);
    if (f->name == NULL)
        return oom(x);
    if (o->type != MD_J_OBJECT)
        return fail(x, path, "expected an object, got %s", type_name(o));
    (void)snprintf(ip, sizeof(ip), "%s.kind", path);
    if (kind == NULL)
        return fail(x, ip, "required (numeric or categorical)");
    if (kind->type == MD_J_STRING && kind->len == 7 && memcmp(kind->p, "numeric", 7) == 0) {
        f->kind = MD_PROFILE_NUMERIC;
        rc = only_keys(x, o, path, num_keys);
        if (rc == MD_OK)
            rc = parse_numeric(x, o, path, f);
    } else if (kind->type == MD_J_STRING && kind->len == 11 &&
               memcmp(kind->p, "categorical", 11) == 0) {
        const struct md_jnode *other = md_jdom_get(o, "other");

        f->kind = MD_PROFILE_CATEGORICAL;
        rc = only_keys(x, o, path, cat_keys);
        (void)snprintf(ip, sizeof(ip), "%s.counts", path);
        if (rc == MD_OK)
            rc = parse_categories(x, md_jdom_get(o, "counts"), ip, f);
        (void)snprintf(ip, sizeof(ip), "%s.other", path);
        if (rc == MD_OK && other != NULL)
            rc = want_count(x, other, ip, (uint64_t *)&f->counts[f->n_bins - 1]);
    } else {
        return fail(x, ip, "expected \"numeric\" or \"categorical\"");
    }
    if (rc == MD_OK)
        rc = parse_missing(x, o, path, f);
    if (rc == MD_OK)
        rc = add_bins(x, path, f);
    if (rc != MD_OK)
        return rc;
    for (i = 0; i <= f->n_bins; i++)
        sum += f->counts[i];
    if (sum != x->p->rows)
        return fail(x, path, "its counts and missing add up to %llu, not the profile's rows (%llu)",
                    (unsigned long long)sum, (unsigned long long)x->p->rows);
    return MD_OK;
}

static int parse_features(struct ctx *x, const struct md_jnode *o)
{
    const struct md_jnode *m;
    size_t i = 0, j;

    if (o == NULL)
        return fail(x, "features", "required");
    if (o->type != MD_J_OBJECT)
        return fail(x, "features", "expected an object of features by name, got %s", type_name(o));
    if (o->n > MD_PROFILE_MAX_FEATURES)
        return fail(x, "features", "%zu features, more than %d", o->n, MD_PROFILE_MAX_FEATURES);
    x->p->features = md_arena_calloc(&x->p->mem, o->n + 1, sizeof(*x->p->features));
    if (x->p->features == NULL)
        return oom(x);
    for (m = o->child; m != NULL; m = m->next, i++) {
        for (j = 0; j < i; j++)
            if (strlen(x->p->features[j].name) == m->key_len &&
                memcmp(x->p->features[j].name, m->key, m->key_len) == 0) {
                char k[80];

                printable(m->key, m->key_len, k, sizeof(k));
                return fail(x, "features", "'%s' is given twice", k);
            }
        int rc = parse_feature(x, m, &x->p->features[i]);

        if (rc != MD_OK)
            return rc;
        x->p->n_features = i + 1;
    }
    return MD_OK;
}

static int parse_predictions(struct ctx *x, const struct md_jnode *o)
{
    static const char *const keys[] = {"labels", "scores", NULL};
    static const char *const score_keys[] = {"edges", "counts", NULL};
    const struct md_jnode *labels, *scores;
    int rc;

    if (o->type != MD_J_OBJECT)
        return fail(x, "predictions", "expected an object, got %s", type_name(o));
    rc = only_keys(x, o, "predictions", keys);
    if (rc != MD_OK)
        return rc;
    labels = md_jdom_get(o, "labels");
    scores = md_jdom_get(o, "scores");
    if (labels != NULL) {
        x->p->labels.name = "predictions.labels";
        x->p->labels.kind = MD_PROFILE_CATEGORICAL;
        rc = parse_categories(x, labels, "predictions.labels", &x->p->labels);
        if (rc == MD_OK)
            ((uint64_t *)x->p->labels.counts)[x->p->labels.n_bins] = 0;
        if (rc == MD_OK)
            rc = add_bins(x, "predictions.labels", &x->p->labels);
        if (rc != MD_OK)
            return rc;
    }
    if (scores != NULL) {
        x->p->scores.name = "predictions.scores";
        x->p->scores.kind = MD_PROFILE_NUMERIC;
        if (scores->type != MD_J_OBJECT)
            return fail(x, "predictions.scores", "expected an object, got %s", type_name(scores));
        rc = only_keys(x, scores, "predictions.scores", score_keys);
        if (rc == MD_OK)
            rc = parse_numeric(x, scores, "predictions.scores", &x->p->scores);
        if (rc == MD_OK)
            ((uint64_t *)x->p->scores.counts)[x->p->scores.n_bins] = 0;
        if (rc == MD_OK)
            rc = add_bins(x, "predictions.scores", &x->p->scores);
    }
    return rc;
}

static int parse_quality(struct ctx *x, const struct md_jnode *o)
{
    const struct md_jnode *m;
    char path[120], k[80];
    size_t i = 0;

    if (o->type != MD_J_OBJECT)
        return fail(x, "quality", "expected an object of figures by name, got %s", type_name(o));
    if (o->n > MD_PROFILE_MAX_QUALITY)
        return fail(x, "quality", "%zu figures, more than %d", o->n, MD_PROFILE_MAX_QUALITY);
    x->p->quality = md_arena_calloc(&x->p->mem, o->n + 1, sizeof(*x->p->quality));
    if (x->p->quality == NULL)
        return oom(x);
    for (m = o->child; m != NULL; m = m->next, i++) {
        struct md_profile_quality *q = &x->p->quality[i];

        printable(m->key, m->key_len, k, sizeof(k));
        (void)snprintf(path, sizeof(path), "quality.%s", k);
        if (m->type != MD_J_NUMBER || md_jdom_f64(m, &q->value) != MD_OK || !isfinite(q->value))
            return fail(x, path, "expected a finite number, got %s", type_name(m));
        q->name = dup_key(x, m->key, m->key_len);
        if (q->name == NULL)
            return oom(x);
    }
    x->p->n_quality = o->n;
    return MD_OK;
}

static int parse_root(struct ctx *x, const struct md_jnode *root)
{
    static const char *const keys[] = {"format",      "format_version", "rows",     "features",
                                       "predictions", "quality",        "metadata", NULL};
    const struct md_jnode *n;
    uint64_t fv;
    int rc;

    if (root->type != MD_J_OBJECT)
        return fail(x, "profile", "expected a JSON object, got %s", type_name(root));
    rc = only_keys(x, root, "profile", keys);
    if (rc != MD_OK)
        return rc;
    n = md_jdom_get(root, "format");
    if (n == NULL || n->type != MD_J_STRING || n->len != 14 ||
        memcmp(n->p, "modeld-profile", 14) != 0)
        return fail(x, "format", "expected \"modeld-profile\"");
    n = md_jdom_get(root, "format_version");
    if (n == NULL)
        return fail(x, "format_version", "required");
    if (want_count(x, n, "format_version", &fv) != MD_OK)
        return MD_EINVAL;
    if (fv != 1)
        return fail(x, "format_version", "%llu is not supported (this build reads 1)",
                    (unsigned long long)fv);
    n = md_jdom_get(root, "rows");
    if (n == NULL)
        return fail(x, "rows", "required");
    if (want_count(x, n, "rows", &x->p->rows) != MD_OK)
        return MD_EINVAL;
    if (x->p->rows == 0)
        return fail(x, "rows", "0: a profile needs training rows");
    rc = parse_features(x, md_jdom_get(root, "features"));
    if (rc == MD_OK && (n = md_jdom_get(root, "predictions")) != NULL)
        rc = parse_predictions(x, n);
    if (rc == MD_OK && (n = md_jdom_get(root, "quality")) != NULL)
        rc = parse_quality(x, n);
    x->p->width = x->bins;
    return rc;
}

int md_profile_parse(const char *text, size_t len, struct md_profile **out, struct md_err *err)
{
    struct md_arena tmp;
    struct md_jnode *root;
    struct ctx x;
    int rc;

    *out = NULL;
    if (len > MD_PROFILE_MAX_BYTES)
        return md_err_set(err, MD_ETOOBIG, "profile: %zu bytes, more than the limit of %zu", len,
                          MD_PROFILE_MAX_BYTES);
    x.p = md_calloc(1, sizeof(*x.p));
    if (x.p == NULL)
        return md_err_set(err, MD_ENOMEM, "profile: out of memory");
    x.err = err;
    x.bins = 0;
    atomic_init(&x.p->refs, 1);
    md_arena_init(&x.p->mem, ARENA_MAX);
    md_arena_init(&tmp, ARENA_MAX);
    rc = md_jdom_parse(text, len, 0, &tmp, &root, err);
    if (rc != MD_OK)
        md_err_prefix(err, "profile: ");
    else
        rc = parse_root(&x, root);
    md_arena_release(&tmp);
    if (rc != MD_OK) {
        md_profile_unref(x.p);
        return rc;
    }
    *out = x.p;
    return MD_OK;
}

int md_profile_load(const char *path, struct md_profile **out, struct md_err *err)
{
    struct md_read_fail why = {0};
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    rc = md_read_file(path, MD_PROFILE_MAX_BYTES, &text, &len, &why, err);
    if (rc != MD_OK)
        return why.why == MD_READ_OPEN && why.errnum == ENOENT ? MD_ENOTFOUND : rc;
    rc = md_profile_parse(text, len, out, err);
    free(text);
    return rc;
}

void md_profile_ref(struct md_profile *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void md_profile_unref(struct md_profile *p)
{
    if (p == NULL || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    md_arena_release(&p->mem);
    free(p);
}

const struct md_profile_feature *md_profile_feature(const struct md_profile *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->n_features; i++)
        if (strcmp(p->features[i].name, name) == 0)
            return &p->features[i];
    return NULL;
}

size_t md_profile_category(const struct md_profile_feature *f, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i + 1 < f->n_bins; i++)
        if (f->cat_len[i] == len && memcmp(f->categories[i], s, len) == 0)
            return i;
    return f->n_bins - 1;
}

/* Whether the n names hold s. */
static bool listed(const char *const *names, size_t n, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return true;
    return false;
}

int md_profile_check(const struct md_profile *p, const struct md_profile_field *fields,
                     size_t n_fields, const char *const *labels, size_t n_labels,
                     struct md_err *err)
{
    size_t i, j;

    for (i = 0; i < p->n_features; i++) {
        const struct md_profile_feature *f = &p->features[i];
        const struct md_profile_field *c = NULL;

        for (j = 0; j < n_fields && c == NULL; j++)
            if (strcmp(fields[j].name, f->name) == 0)
                c = &fields[j];
        if (c == NULL)
            return md_err_set(err, MD_EINVAL, "features.%.64s: not a feature of the contract",
                              f->name);
        if (c->categorical != (f->kind == MD_PROFILE_CATEGORICAL))
            return md_err_set(err, MD_EINVAL,
                              "features.%.64s.kind: %s, but the contract's feature is %s", f->name,
                              f->kind == MD_PROFILE_NUMERIC ? "numeric" : "categorical",
                              c->categorical ? "categorical" : "numeric");
        for (j = 0; f->kind == MD_PROFILE_CATEGORICAL && j + 1 < f->n_bins; j++)
            if (!listed(c->categories, c->n_categories, f->categories[j], f->cat_len[j]))
                return md_err_set(err, MD_EINVAL,
                                  "features.%.64s.counts: '%.64s' is not a category of the "
                                  "contract",
                                  f->name, f->categories[j]);
    }
    for (j = 0; j + 1 < p->labels.n_bins; j++)
        if (!listed(labels, n_labels, p->labels.categories[j], p->labels.cat_len[j]))
            return md_err_set(err, MD_EINVAL,
                              "predictions.labels: '%.64s' is not a label of the contract",
                              p->labels.categories[j]);
    return MD_OK;
}
