/* SPDX-License-Identifier: MIT */
/*
 * feedback_parse.c: the body of POST /api/v1/feedback into items
 * (api/feedback.h). Strict: an unknown field, a wrong type, a string too
 * long, two outcomes in one item or none are each the item's error, named
 * by its field; nothing here knows a model (the handler checks labels).
 */
#include "api/feedback.h"
#include "util/jdom.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Whether member m's key is name (keys are not NUL-terminated). */
static bool is(const struct md_jnode *m, const char *name)
{
    return m->key_len == strlen(name) && memcmp(m->key, name, m->key_len) == 0;
}

/* An item's fields are named "x" in a single item, "items[3].x" in a batch. */
struct ctx {
    struct md_arena *a;
    bool many;
    size_t index;
    struct md_err *err; /* the item's */
};

static int fail(struct ctx *c, const char *field, const char *fmt, ...) MD_PRINTF(3, 4);
static int fail(struct ctx *c, const char *field, const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap); /* a long detail is cut short */
    va_end(ap);
    if (c->many)
        return md_err_set(c->err, MD_EINVAL, "items[%zu].%s: %s", c->index, field, what);
    return md_err_set(c->err, MD_EINVAL, "%s: %s", field, what);
}

/* A string field of at most max bytes, without NUL bytes, copied into the arena. */
static int text(struct ctx *c, const struct md_jnode *n, const char *field, size_t max,
                const char **out)
{
    char *s;

    if (n->type != MD_J_STRING)
        return fail(c, field, "%s", "must be a string");
    if (n->len == 0)
        return fail(c, field, "%s", "must not be empty");
    if (n->len > max) {
        char lim[32];

        (void)snprintf(lim, sizeof(lim), "%zu", max);
        return fail(c, field, "longer than %s bytes", lim);
    }
    if (memchr(n->p, '\0', n->len) != NULL)
        return fail(c, field, "%s", "must not hold a NUL character");
    s = md_arena_strndup(c->a, n->p, n->len);
    if (s == NULL)
        return md_err_set(c->err, MD_ETOOBIG, "the body is too large");
    *out = s;
    return MD_OK;
}

static int number(struct ctx *c, const struct md_jnode *n, const char *field, double *out)
{
    if (n->type != MD_J_NUMBER || md_jdom_f64(n, out) != MD_OK || !isfinite(*out))
        return fail(c, field, "%s", "must be a finite number");
    return MD_OK;
}

/* A key's value: a string, or an integer (kept as its decimal text). */
static int key_value(struct ctx *c, const struct md_jnode *n, const char *field, const char **out)
{
    int64_t v;
    char num[24];

    if (n->type == MD_J_STRING)
        return text(c, n, field, MD_FEEDBACK_MAX_KEY, out);
    if (n->type != MD_J_NUMBER || md_jdom_i64(n, &v) != MD_OK)
        return fail(c, field, "%s", "must be a string or an integer");
    (void)snprintf(num, sizeof(num), "%lld", (long long)v);
    *out = md_arena_strndup(c->a, num, strlen(num));
    return *out != NULL ? MD_OK : md_err_set(c->err, MD_ETOOBIG, "the body is too large");
}

/* "key": {"name": N, "value": V} or {N: V}. */
static int key(struct ctx *c, const struct md_jnode *n, struct md_store_feedback *f)
{
    const struct md_jnode *name;
    const struct md_jnode *value;
    int rc;

    if (n->type != MD_J_OBJECT)
        return fail(c, "key", "%s", "must be an object: {\"name\": ..., \"value\": ...}");
    name = md_jdom_get(n, "name");
    value = md_jdom_get(n, "value");
    if (name != NULL || value != NULL) {
        if (name == NULL || value == NULL || n->n != 2)
            return fail(c, "key", "%s", "must hold name and value, and nothing else");
        rc = text(c, name, "key.name", MD_STORE_NAME_MAX, &f->key_name);
        return rc == MD_OK ? key_value(c, value, "key.value", &f->key_value) : rc;
    }
    if (n->n != 1)
        return fail(c, "key", "%s", "must name one key");
    f->key_name = md_arena_strndup(c->a, n->child->key, n->child->key_len);
    if (f->key_name == NULL)
        return md_err_set(c->err, MD_ETOOBIG, "the body is too large");
    if (n->child->key_len == 0 || n->child->key_len > MD_STORE_NAME_MAX)
        return fail(c, "key", "%s", "its name must be 1 to 128 bytes");
    return key_value(c, n->child, "key.value", &f->key_value);
}

static const char *const fields[] = {"model", "request_id", "row",    "key",    "label",
                                     "value", "reward",     "rating", "source", "comment"};

static int outcome(struct ctx *c, const struct md_jnode *m, struct md_store_feedback *f,
                   int *outcomes)
{
    static const struct {
        const char *name;
        enum md_feedback_kind kind;
    } kinds[] = {{"value", MD_FEEDBACK_VALUE},
                 {"reward", MD_FEEDBACK_REWARD},
                 {"rating", MD_FEEDBACK_RATING}};

    if (is(m, "label")) {
        (*outcomes)++;
        f->kind = MD_FEEDBACK_LABEL;
        return text(c, m, "label", MD_FEEDBACK_MAX_LABEL, &f->label);
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(kinds); i++)
        if (is(m, kinds[i].name)) {
            (*outcomes)++;
            f->kind = kinds[i].kind;
            return number(c, m, kinds[i].name, &f->value);
        }
    return MD_OK;
}

static int member(struct ctx *c, const struct md_jnode *m, struct md_store_feedback *f,
                  int *outcomes)
{
    size_t i;

    for (i = 0; i < MD_ARRAY_LEN(fields); i++)
        if (is(m, fields[i]))
            break;
    if (i == MD_ARRAY_LEN(fields)) {
        char name[64];

        (void)snprintf(name, sizeof(name), "%.*s", (int)(m->key_len > 40 ? 40 : m->key_len),
                       m->key);
        return fail(c, name, "%s",
                    "unknown field (model, request_id, row, key, label, value, reward, rating, "
                    "source, comment)");
    }
    if (is(m, "model"))
        return text(c, m, "model", MD_STORE_NAME_MAX, &f->model);
    if (is(m, "request_id"))
        return text(c, m, "request_id", MD_FEEDBACK_MAX_ID, &f->request_id);
    if (is(m, "row")) {
        if (m->type != MD_J_NUMBER || md_jdom_i64(m, &f->row) != MD_OK || f->row < 0 ||
            f->row > INT32_MAX)
            return fail(c, "row", "%s", "must be a whole number from 0");
        return MD_OK;
    }
    if (is(m, "key"))
        return key(c, m, f);
    if (is(m, "source")) {
        int rc = text(c, m, "source", 16, &f->source);

        if (rc == MD_OK && strcmp(f->source, "user") != 0 && strcmp(f->source, "system") != 0 &&
            strcmp(f->source, "expert") != 0)
            return fail(c, "source", "'%s' is not user, system or expert", f->source);
        return rc;
    }
    if (is(m, "comment"))
        return text(c, m, "comment", MD_FEEDBACK_MAX_COMMENT, &f->comment);
    return outcome(c, m, f, outcomes);
}

/* One item: its fields, then what must hold of them together. */
static void item(struct ctx *c, const struct md_jnode *n, const char *model,
                 struct md_feedback_item *it)
{
    struct md_store_feedback *f = &it->f;
    int outcomes = 0;

    memset(it, 0, sizeof(*it));
    f->row = -1;
    f->model = model;
    f->source = "user";
    f->value = NAN;
    c->err = &it->err;
    if (n->type != MD_J_OBJECT) {
        (void)fail(c, "", "%s", "must be an object");
        if (!c->many)
            (void)md_err_set(c->err, MD_EINVAL, "the body must be a JSON object");
        return;
    }
    for (const struct md_jnode *m = n->child; m != NULL; m = m->next)
        if (member(c, m, f, &outcomes) != MD_OK)
            return;
    if (f->model == NULL)
        (void)fail(c, "model", "%s", "required");
    else if (f->request_id == NULL && f->key_name == NULL)
        (void)fail(c, "request_id", "%s", "required (or a key: {\"name\": ..., \"value\": ...})");
    else if (f->request_id != NULL && f->key_name != NULL)
        (void)fail(c, "key", "%s", "give request_id or key, not both");
    else if (f->row >= 0 && f->request_id == NULL)
        (void)fail(c, "row", "%s", "goes with request_id (a key names its row)");
    else if (outcomes == 0)
        (void)fail(c, "label", "%s", "required: one of label, value, reward or rating");
    else if (outcomes > 1)
        (void)fail(c, "label", "%s", "one outcome per item: label, value, reward or rating");
}

int md_feedback_parse(const char *body, size_t len, struct md_arena *a,
                      struct md_feedback_batch *out, struct md_err *err)
{
    struct md_jnode *root;
    const struct md_jnode *items;
    const struct md_jnode *model;
    const char *top_model = NULL;
    struct ctx c = {a, false, 0, err};
    size_t i = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = md_jdom_parse(body, len, 0, a, &root, err);
    if (rc != MD_OK)
        return rc;
    if (root->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "the body must be a JSON object");
    items = md_jdom_get(root, "items");
    if (items == NULL) {
        out->items = md_arena_calloc(a, 1, sizeof(*out->items));
        if (out->items == NULL)
            return md_err_set(err, MD_ETOOBIG, "the body is too large");
        out->n = 1;
        item(&c, root, NULL, &out->items[0]);
        return MD_OK;
    }
    if (items->type != MD_J_ARRAY)
        return md_err_set(err, MD_EINVAL, "items: must be an array");
    if (items->n == 0)
        return md_err_set(err, MD_EINVAL, "items: must not be empty");
    if (items->n > MD_FEEDBACK_MAX_ITEMS)
        return md_err_set(err, MD_ETOOBIG, "items: %zu items, more than %d in one request",
                          items->n, MD_FEEDBACK_MAX_ITEMS);
    for (const struct md_jnode *m = root->child; m != NULL; m = m->next)
        if (!is(m, "items") && !is(m, "model"))
            return md_err_set(err, MD_EINVAL, "%.*s: unknown field beside items (items, model)",
                              (int)(m->key_len > 40 ? 40 : m->key_len), m->key);
    model = md_jdom_get(root, "model");
    if (model != NULL) {
        rc = text(&c, model, "model", MD_STORE_NAME_MAX, &top_model);
        if (rc != MD_OK)
            return rc;
    }
    out->items = md_arena_calloc(a, items->n, sizeof(*out->items));
    if (out->items == NULL)
        return md_err_set(err, MD_ETOOBIG, "the body is too large");
    out->n = items->n;
    out->many = true;
    c.many = true;
    for (const struct md_jnode *n = items->child; n != NULL; n = n->next, i++) {
        c.index = i;
        item(&c, n, top_model, &out->items[i]);
        if (out->items[i].err.code == MD_ETOOBIG)
            return md_err_set(err, MD_ETOOBIG, "the body is too large");
    }
    return MD_OK;
}
