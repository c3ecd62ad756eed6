/* SPDX-License-Identifier: MIT */
/*
 * keys.c: a request's keys: raw fields found by name in a decoded body, and
 * the contract's keys taken from the body or their headers and checked. The
 * protocols' decoders (api/) say where the fields are; the pipeline
 * (serve/predict.c) checks them once the version is known, before the
 * features, and never hands them to an engine.
 *
 * Nothing is done for a contract without keys, and a key costs one lookup
 * in the body per request (one per row for TF Serving's rows), and one
 * header lookup when the body has no value for it.
 */
#include "serve/keys.h"

#include <errno.h>

/* "a string", "a number", ... for messages. */
static const char *jtype_name(enum md_jtype t)
{
    switch (t) {
    case MD_J_NULL:
        return "null";
    case MD_J_FALSE:
    case MD_J_TRUE:
        return "a boolean";
    case MD_J_NUMBER:
        return "a number";
    case MD_J_STRING:
        return "a string";
    case MD_J_ARRAY:
        return "a list";
    default:
        return "an object";
    }
}

/* Element i of array arr, into *tmp when arr is packed; NULL past its end. */
static const struct md_jnode *element(const struct md_jnode *arr, size_t i, struct md_jnode *tmp)
{
    const struct md_jnode *e;
    const char *cursor = NULL;
    size_t k;

    if (i >= arr->n)
        return NULL;
    if (md_jdom_is_packed(arr)) {
        for (k = 0; k <= i; k++)
            if (!md_jdom_packed_next(arr, &cursor, tmp))
                return NULL;
        return tmp;
    }
    for (e = arr->child, k = 0; e != NULL && k < i; e = e->next, k++)
        continue;
    return e;
}

/* The node of field name in row row of f (tmp: room for a packed element), or NULL. */
static const struct md_jnode *find_node(const struct md_key_fields *f, const char *name, size_t row,
                                        struct md_jnode *tmp)
{
    const struct md_jnode *n;

    if (f->shared != NULL)
        return md_jdom_get(f->shared, name);
    if (f->columns != NULL) {
        n = md_jdom_get(f->columns, name);
        if (n != NULL && n->type == MD_J_ARRAY)
            return element(n, row, tmp);
        return n;
    }
    if (f->rows != NULL && f->rows->type == MD_J_ARRAY) {
        n = element(f->rows, row, tmp);
        return n != NULL && n->type == MD_J_OBJECT ? md_jdom_get(n, name) : NULL;
    }
    return NULL;
}

const char *md_key_fields_find(const struct md_key_fields *f, const char *name, size_t row,
                               size_t *len)
{
    struct md_jnode tmp;
    const struct md_jnode *n = find_node(f, name, row, &tmp);

    *len = 0;
    if (n == NULL)
        return NULL;
    switch (n->type) {
    case MD_J_STRING:
    case MD_J_NUMBER:
        *len = n->len;
        return n->p;
    case MD_J_TRUE:
        *len = 4;
        return "true";
    case MD_J_FALSE:
        *len = 5;
        return "false";
    default:
        return NULL;
    }
}

const char *md_key_values_get(const struct md_key_values *kv, size_t row, size_t *len)
{
    const struct md_key_value *v;

    *len = 0;
    if (kv->n == 0 || (kv->n > 1 && row >= kv->n))
        return NULL;
    v = &kv->v[kv->n == 1 ? 0 : row];
    *len = v->len;
    return v->p;
}

/* ---- checking ---------------------------------------------------------- */

/* Where a value came from, for its message. */
struct origin {
    const struct md_key *k;
    size_t row;  /* SIZE_MAX: the value of every row */
    bool header; /* from k->header */
    struct md_err *err;
};

/* "key 'k'[ row r][ (header H)]: <what>" as an MD_EINVAL. */
static int refuse(const struct origin *o, const char *what)
{
    char row[32] = "";

    if (o->row != SIZE_MAX)
        (void)snprintf(row, sizeof(row), " row %zu", o->row); /* fits */
    return md_err_set(o->err, MD_EINVAL, "key '%s'%s%s%s%s: %s", o->k->name, row,
                      o->header ? " (header " : "", o->header ? o->k->header : "",
                      o->header ? ")" : "", what);
}

/* A string key's text: not empty, no NUL, at most max_length bytes. */
static int take_text(const struct origin *o, const char *p, size_t len, struct md_key_value *out)
{
    char what[96];

    if (len == 0)
        return refuse(o, "empty value");
    if (memchr(p, '\0', len) != NULL)
        return refuse(o, "contains a NUL character");
    if (len > o->k->max_length) {
        (void)snprintf(what, sizeof(what), "%zu bytes, longer than max_length %zu", len,
                       o->k->max_length); /* fits */
        return refuse(o, what);
    }
    out->p = p;
    out->len = len;
    return MD_OK;
}

/* The first bytes of p[0..len) quoted, for a message. */
static int quoted(char *buf, size_t size, const char *lead, const char *p, size_t len,
                  const char *tail)
{
    return snprintf(buf, size, "%s'%.*s'%s", lead, (int)(len > 40 ? 40 : len), p, tail);
}

/* A JSON value of key o->k into *out. */
static int take_json(const struct origin *o, const struct md_jnode *n, struct md_key_value *out)
{
    char what[96];
    int64_t v;

    if (o->k->type == MD_KEY_STRING) {
        if (n->type != MD_J_STRING) {
            (void)snprintf(what, sizeof(what), "expected a string, got %s", jtype_name(n->type));
            return refuse(o, what);
        }
        return take_text(o, n->p, n->len, out);
    }
    if (n->type != MD_J_NUMBER) {
        (void)snprintf(what, sizeof(what), "expected an integer, got %s", jtype_name(n->type));
        return refuse(o, what);
    }
    if (md_jdom_i64(n, &v) != MD_OK) {
        (void)quoted(what, sizeof(what), "", n->p, n->len, " is not an integer within int64");
        return refuse(o, what);
    }
    /* JSON writes an integer in plain decimal already, but for -0. */
    out->p = v == 0 ? "0" : n->p;
    out->len = v == 0 ? 1 : n->len;
    return MD_OK;
}

/* A header's text as an int64 key: -?(0|[1-9][0-9]*) within int64. */
static bool plain_int64(const char *s, size_t len)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    size_t n = len - (size_t)(d - s);
    char *end;
    long long v;

    if (n == 0 || strspn(d, "0123456789") != n || (d[0] == '0' && (n > 1 || d != s)))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    (void)v;
    return errno != ERANGE && end == s + len;
}

/* A header's value of key o->k (copied into a, as it must outlive the request's headers). */
static int take_header(const struct origin *o, const char *h, struct md_arena *a,
                       struct md_key_value *out)
{
    char what[96];
    size_t len = strlen(h);
    char *copy;
    int rc;

    if (o->k->type == MD_KEY_INT64) {
        if (!plain_int64(h, len)) {
            (void)quoted(what, sizeof(what), "", h, len,
                         len == 0 ? " is empty, not an integer"
                                  : " is not an integer within int64 in plain decimal");
            return refuse(o, what);
        }
    } else {
        rc = take_text(o, h, len, out);
        if (rc != MD_OK)
            return rc;
    }
    copy = md_arena_strndup(a, h, len);
    if (copy == NULL)
        return md_err_set(o->err, MD_ETOOBIG, "request too large");
    out->p = copy;
    out->len = len;
    return MD_OK;
}

/* Reads k's header once: *hv its checked value (p NULL when none), *done set. */
struct header_src {
    const char *(*get)(void *conn, const char *name);
    void *conn;
    bool done;
    struct md_key_value v;
};

static int from_header(struct origin *o, struct header_src *hs, struct md_arena *a)
{
    struct origin ho = *o;
    const char *h;

    if (hs->done)
        return MD_OK;
    hs->done = true;
    hs->v.p = NULL;
    hs->v.len = 0;
    if (o->k->header == NULL || hs->get == NULL)
        return MD_OK;
    h = hs->get(hs->conn, o->k->header);
    if (h == NULL)
        return MD_OK;
    ho.row = SIZE_MAX;
    ho.header = true;
    return take_header(&ho, h, a, &hs->v);
}

/* A required key that has no value (in row o->row, or at all). */
static int missing(const struct origin *o)
{
    char what[200];

    if (o->row != SIZE_MAX || o->k->header == NULL)
        return refuse(o, "missing required key");
    (void)snprintf(what, sizeof(what), "missing required key (send it in the body or in header %s)",
                   o->k->header); /* cut short if long */
    return refuse(o, what);
}

/* The value of every row: from node n (NULL or null: none), else the header. */
static int check_shared(struct origin *o, const struct md_jnode *n, struct header_src *hs,
                        struct md_arena *a, struct md_key_value *v)
{
    int rc;

    v->p = NULL;
    v->len = 0;
    if (n != NULL && n->type != MD_J_NULL)
        return take_json(o, n, v);
    rc = from_header(o, hs, a);
    if (rc != MD_OK)
        return rc;
    *v = hs->v;
    if (v->p == NULL && o->k->required)
        return missing(o);
    return MD_OK;
}

/*
 * One value per row: the node of row r from next(ctx, r), or the header
 * where a row has none (NULL or null).
 */
static int check_rows(struct origin *o, size_t rows,
                      const struct md_jnode *(*next)(void *ctx, size_t r), void *ctx,
                      struct header_src *hs, struct md_arena *a, struct md_key_value *v)
{
    size_t r;
    int rc;

    for (r = 0; r < rows; r++) {
        const struct md_jnode *n = next(ctx, r);

        o->row = r;
        v[r].p = NULL;
        v[r].len = 0;
        if (n != NULL && n->type != MD_J_NULL) {
            rc = take_json(o, n, &v[r]);
        } else {
            rc = from_header(o, hs, a);
            v[r] = hs->v;
            if (rc == MD_OK && v[r].p == NULL && o->k->required)
                rc = missing(o);
        }
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* Walks a list's elements in order for check_rows (a packed one through its cursor). */
struct walk {
    const struct md_jnode *list;
    const struct md_jnode *at; /* the next element of an unpacked list */
    const char *cursor;        /* the next element of a packed one */
    struct md_jnode tmp;
    const char *name; /* rows: the field to take from each row object; NULL: the element */
};

static const struct md_jnode *walk_next(void *ctx, size_t r)
{
    struct walk *w = ctx;
    const struct md_jnode *e;

    MD_UNUSED(r);
    if (md_jdom_is_packed(w->list)) {
        e = md_jdom_packed_next(w->list, &w->cursor, &w->tmp) ? &w->tmp : NULL;
    } else {
        e = w->at;
        if (e != NULL)
            w->at = e->next;
    }
    if (w->name == NULL || e == NULL)
        return e;
    return e->type == MD_J_OBJECT ? md_jdom_get(e, w->name) : NULL;
}

static void walk_init(struct walk *w, const struct md_jnode *list, const char *name)
{
    w->list = list;
    w->at = list->child;
    w->cursor = NULL;
    w->name = name;
}

/* Whether some row object of list has a non-null field name. */
static bool any_row_has(const struct md_jnode *list, const char *name)
{
    const struct md_jnode *e;
    const struct md_jnode *m;

    if (md_jdom_is_packed(list))
        return false;
    for (e = list->child; e != NULL; e = e->next) {
        m = e->type == MD_J_OBJECT ? md_jdom_get(e, name) : NULL;
        if (m != NULL && m->type != MD_J_NULL)
            return true;
    }
    return false;
}

static int check_key(const struct md_key *k, const struct md_key_fields *f, struct header_src *hs,
                     size_t rows, struct md_arena *a, struct md_key_values *kv, struct md_err *err)
{
    struct origin o = {k, SIZE_MAX, false, err};
    const struct md_jnode *list = NULL;
    const struct md_jnode *n = NULL;
    struct md_key_value *v;
    struct walk w;
    char what[96];

    kv->key = k;
    if (f->shared != NULL) {
        n = md_jdom_get(f->shared, k->name);
    } else if (f->columns != NULL) {
        n = md_jdom_get(f->columns, k->name);
        if (n != NULL && n->type == MD_J_ARRAY) {
            list = n;
            if (rows > 0 && list->n != rows) {
                (void)snprintf(what, sizeof(what), "%zu values for %zu rows", list->n,
                               rows); /* fits */
                return refuse(&o, what);
            }
            walk_init(&w, list, NULL);
        }
    } else if (f->rows != NULL && f->rows->type == MD_J_ARRAY && any_row_has(f->rows, k->name)) {
        list = f->rows;
        walk_init(&w, list, k->name);
    }
    if (list == NULL || list->n == 0) {
        v = md_arena_alloc(a, sizeof(*v));
        if (v == NULL)
            return md_err_set(err, MD_ETOOBIG, "request too large");
        kv->v = v;
        kv->n = 1;
        return check_shared(&o, list == NULL ? n : NULL, hs, a, v);
    }
    v = md_arena_calloc(a, list->n, sizeof(*v));
    if (v == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large");
    kv->v = v;
    kv->n = list->n;
    return check_rows(&o, list->n, walk_next, &w, hs, a, v);
}

int md_keys_check(const struct md_contract *c, const struct md_key_fields *f,
                  const char *(*header)(void *conn, const char *name), void *conn, size_t rows,
                  struct md_arena *a, struct md_key_values **out, struct md_err *err)
{
    struct md_key_values *kv;
    size_t i;
    int rc;

    *out = NULL;
    if (c->n_keys == 0)
        return MD_OK;
    kv = md_arena_calloc(a, c->n_keys, sizeof(*kv));
    if (kv == NULL)
        return md_err_set(err, MD_ETOOBIG, "request too large");
    for (i = 0; i < c->n_keys; i++) {
        struct header_src hs = {header, conn, false, {NULL, 0}};

        rc = check_key(&c->keys[i], f, &hs, rows, a, &kv[i], err);
        if (rc != MD_OK)
            return rc;
    }
    *out = kv;
    return MD_OK;
}
