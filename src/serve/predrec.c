/* SPDX-License-Identifier: MIT */
/*
 * predrec.c: the prediction log's records: a story packed into one entry on
 * the request's thread, an entry formatted into store rows on the writer's.
 * The ring, the writer and the store calls are watch/predlog.c's.
 *
 * An entry is one allocation: the entry's head, then the request id, the
 * engine's scores, the keys' values (one per key and row, pointing into the
 * same allocation), and, when the request's features are kept, its input
 * tensors as decoded (names, values, missing flags). A version reference
 * keeps the contract alive until the writer has formatted it.
 *
 * The writer also judges each formatted row against the model's `review:`
 * rules (review_reason): off the request's thread, nothing allocated; the
 * store adds the review item with the row.
 */
#include "serve/predrec.h"
#include "serve/contract.h"
#include "serve/infer.h"
#include "util/buf.h"
#include "util/fmt.h"
#include "util/log.h"
#include "util/mem.h"
#include "watch/subject.h"

#include <assert.h>
#include <math.h>

#define JSON_MAX ((size_t)64 << 20) /* one row's JSON text at most */

struct md_predrec {
    struct md_predlog *log;
    unsigned char key[MD_PREDLOG_KEY_MAX]; /* the HMAC key of `pii: hash` */
    size_t klen;                           /* 0: none */
    struct md_buf json;                    /* the writer's scratch */
    const struct md_subject_key *subject;  /* borrowed, or NULL: no subject hashes */
};

struct entry {
    struct md_predlog_entry head; /* first: the log's */
    struct md_version *v;         /* a reference */
    const char *request_id;       /* in the allocation */
    const char *route;            /* the traffic route: a literal or interned */
    bool shadow;
    int status;
    int64_t at_ms;
    int64_t latency_us;
    const float *scores; /* scored * per_row, or NULL */
    size_t scored;       /* rows the engine answered */
    size_t per_row;
    struct md_bytes *keys; /* n_keys * rows: key k of row r at [k * rows + r]; p NULL: none */
    size_t n_keys;
    struct md_tensor *inputs; /* n_inputs, or NULL: features not kept */
    size_t n_inputs;
};

/* ---- packing (the request's thread) ---------------------------------------- */

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static bool add(size_t *n, size_t k)
{
    return !__builtin_add_overflow(*n, k, n);
}

static bool tensor_bytes(const struct md_tensor *t, size_t *n)
{
    const struct md_bytes *b = t->data;
    size_t k;
    size_t i;

    if (t->dtype != MD_DT_BYTES) {
        if (!md_mul_ok(t->count, md_dtype_size(t->dtype), n))
            return false;
    } else {
        if (!md_mul_ok(t->count, sizeof(struct md_bytes), n))
            return false;
        for (i = 0; b != NULL && i < t->count; i++)
            if (b[i].p != NULL && !add(n, b[i].len))
                return false;
    }
    k = *n;
    *n = align8(k);
    return true;
}

/* FNV-1a of the request id: the same request is kept or sampled out on every replica. */
static double sample_point(const char *id)
{
    uint64_t h = 14695981039346656037ull;

    for (; *id != '\0'; id++) {
        h ^= (unsigned char)*id;
        h *= 1099511628211ull;
    }
    /* FNV's high bits barely move between ids that differ in their last bytes: the
     * splitmix64 finaliser spreads them before the top 53 bits are taken. */
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (double)(h >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* Whether the features of this request are kept. */
static bool keep_features(const struct md_contract *c, const char *request_id)
{
    if (c->log_features >= 1 || md_predrec_needs_every_row(c))
        return true;
    if (c->log_features <= 0)
        return false;
    return sample_point(request_id) < c->log_features;
}

/* The size of s's entry; 0 when it cannot be counted. */
static size_t entry_size(const struct md_predict_story *s, size_t rows, bool inputs, size_t n_keys)
{
    size_t n = align8(sizeof(struct entry));
    size_t k;
    size_t i;

    if (!add(&n, align8(strlen(s->request_id) + 1)))
        return 0;
    if (s->scores != NULL && s->scores->rows > 0 &&
        (!md_mul_ok(s->scores->rows, s->scores->per_row, &k) || !md_mul_ok(k, sizeof(float), &k) ||
         !add(&n, align8(k))))
        return 0;
    if (n_keys > 0) {
        if (!md_mul_ok(n_keys, rows, &k) || !md_mul_ok(k, sizeof(struct md_bytes), &k) ||
            !add(&n, k))
            return 0;
        for (i = 0; i < n_keys; i++) {
            const struct md_key_values *kv = &s->keys[i];
            size_t r;

            for (r = 0; r < kv->n; r++) {
                size_t len = 0;

                if (md_key_values_get(kv, r, &len) != NULL && !add(&n, len))
                    return 0;
            }
        }
        n = align8(n);
    }
    if (!inputs)
        return n;
    if (!md_mul_ok(s->n_inputs, sizeof(struct md_tensor), &k) || !add(&n, k))
        return 0;
    for (i = 0; i < s->n_inputs; i++) {
        const struct md_tensor *t = &s->inputs[i];

        if (!add(&n, align8(strlen(t->name != NULL ? t->name : "") + 1)) || !tensor_bytes(t, &k) ||
            !add(&n, k) || (t->missing != NULL && !add(&n, align8(t->count))))
            return 0;
    }
    return n;
}

static void copy_keys(struct entry *e, const struct md_predict_story *s, size_t rows, char **at)
{
    char *p;
    size_t i;

    e->keys = (struct md_bytes *)(void *)*at;
    p = *at + e->n_keys * rows * sizeof(struct md_bytes);
    for (i = 0; i < e->n_keys; i++) {
        const struct md_key_values *kv = &s->keys[i];
        struct md_bytes *row = e->keys + i * rows;
        size_t r;

        for (r = 0; r < rows; r++) {
            size_t len = 0;
            const char *v;

            if (r > 0 && kv->n == 1) { /* one value for every row: copied once */
                row[r] = row[0];
                continue;
            }
            v = r < kv->n ? md_key_values_get(kv, r, &len) : NULL;
            row[r].p = NULL;
            row[r].len = 0;
            if (v == NULL)
                continue;
            memcpy(p, v, len);
            row[r].p = p;
            row[r].len = len;
            p += len;
        }
    }
    *at = (char *)e->keys + align8((size_t)(p - (char *)e->keys));
}

static void copy_inputs(struct entry *e, const struct md_predict_story *s, char **at)
{
    char *p = *at;
    size_t i;

    e->inputs = (struct md_tensor *)(void *)p;
    e->n_inputs = s->n_inputs;
    p += s->n_inputs * sizeof(struct md_tensor);
    for (i = 0; i < s->n_inputs; i++) {
        const struct md_tensor *t = &s->inputs[i];
        struct md_tensor *c = &e->inputs[i];
        const char *name = t->name != NULL ? t->name : "";
        size_t k = strlen(name) + 1;

        *c = *t;
        memcpy(p, name, k);
        c->name = p;
        p += align8(k);
        c->data = p;
        if (t->dtype == MD_DT_BYTES) {
            const struct md_bytes *from = t->data;
            struct md_bytes *to = (struct md_bytes *)(void *)p;
            char *q = p + t->count * sizeof(struct md_bytes);
            size_t j;

            for (j = 0; j < t->count; j++) {
                to[j].len = from != NULL ? from[j].len : 0;
                to[j].p = NULL;
                if (from == NULL || from[j].p == NULL)
                    continue;
                memcpy(q, from[j].p, from[j].len);
                to[j].p = q;
                q += from[j].len;
            }
            p += align8((size_t)(q - p));
        } else {
            k = t->count * md_dtype_size(t->dtype);
            if (k > 0 && t->data != NULL)
                memcpy(p, t->data, k);
            p += align8(k);
        }
        if (t->missing != NULL) {
            memcpy(p, t->missing, t->count);
            c->missing = (uint8_t *)p;
            p += align8(t->count);
        }
    }
    *at = p;
}

void md_predrec_told(void *ctx, const struct md_predict_story *s)
{
    struct md_predrec *r = ctx;
    const struct md_contract *c;
    bool inputs;
    size_t n_keys;
    size_t rows;
    size_t size;
    struct entry *e;
    char *at;

    if (s->version == NULL || s->request_id == NULL)
        return;
    c = s->version->contract;
    rows = s->scores != NULL && s->scores->rows > 0 ? s->scores->rows : s->rows;
    if (rows == 0)
        rows = 1; /* failed before its rows were counted: one record of the failure */
    n_keys = s->keys != NULL ? s->n_keys : 0;
    inputs = s->inputs != NULL && s->n_inputs > 0 && keep_features(c, s->request_id);
    size = entry_size(s, rows, inputs, n_keys);
    e = size > 0 ? md_malloc(size) : NULL;
    if (e == NULL) {
        md_predlog_count_dropped(r->log, rows);
        return;
    }
    at = (char *)e + align8(sizeof(*e));
    e->head.rows = rows;
    e->v = (struct md_version *)s->version; /* a reference count is the one field changed */
    e->route = s->shadow ? (s->route_name != NULL ? s->route_name : "shadow")
                         : (s->route_name != NULL ? s->route_name : "");
    e->shadow = s->shadow;
    e->status = s->status;
    e->at_ms = md_wall_ms();
    e->latency_us = (int64_t)(s->latency_ns / 1000u);
    {
        size_t k = strlen(s->request_id) + 1;

        memcpy(at, s->request_id, k);
        e->request_id = at;
        at += align8(k);
    }
    e->scores = NULL;
    e->scored = 0;
    e->per_row = 0;
    if (s->scores != NULL && s->scores->rows > 0 && s->scores->scores != NULL) {
        size_t k = s->scores->rows * s->scores->per_row * sizeof(float);

        memcpy(at, s->scores->scores, k);
        e->scores = (const float *)(void *)at;
        e->scored = s->scores->rows;
        e->per_row = s->scores->per_row;
        at += align8(k);
    }
    e->n_keys = n_keys;
    e->keys = NULL;
    if (n_keys > 0)
        copy_keys(e, s, rows, &at);
    e->inputs = NULL;
    e->n_inputs = 0;
    if (inputs)
        copy_inputs(e, s, &at);
    assert((size_t)(at - (char *)e) == size);
    md_version_ref(e->v);
    (void)md_predlog_put(r->log, &e->head);
}

/* ---- formatting (the writer's thread) --------------------------------------- */

static void release(void *ctx, struct md_predlog_entry *h)
{
    struct entry *e = (struct entry *)(void *)h;

    MD_UNUSED(ctx);
    md_version_unref(e->v);
    free(e);
}

/* The JSON text of b copied into the arena, or NULL. */
static const char *keep_text(struct md_arena *a, const struct md_buf *b)
{
    if (md_buf_error(b) != MD_OK || b->data == NULL)
        return NULL;
    return md_arena_strndup(a, b->data, b->len);
}

/* Appends the value of element i of t: as JSON into b, as hashed text when hash. */
static void put_value(struct md_predrec *r, struct md_buf *b, const struct md_tensor *t, size_t i,
                      bool hash)
{
    char text[64];
    char mac[65];
    const char *p = text;
    size_t n;

    if (t->missing != NULL && t->missing[i]) {
        (void)md_buf_puts(b, "null");
        return;
    }
    switch (t->dtype) {
    case MD_DT_BYTES: {
        const struct md_bytes *v = &((const struct md_bytes *)t->data)[i];

        p = v->p != NULL ? v->p : "";
        n = v->len;
        break;
    }
    case MD_DT_FP32: {
        float f = ((const float *)t->data)[i];

        if (!isfinite(f)) {
            (void)md_buf_puts(b, "null");
            return;
        }
        n = md_fmt_f32(text, f);
        break;
    }
    case MD_DT_BOOL:
        n = (size_t)snprintf(text, sizeof(text), "%s",
                             ((const uint8_t *)t->data)[i] ? "true" : "false");
        break;
    case MD_DT_INT32:
        n = (size_t)snprintf(text, sizeof(text), "%ld", (long)((const int32_t *)t->data)[i]);
        break;
    case MD_DT_INT64:
        n = (size_t)snprintf(text, sizeof(text), "%lld", (long long)((const int64_t *)t->data)[i]);
        break;
    default: {
        double d = md_tensor_get_f64(t, i);

        if (!isfinite(d)) {
            (void)md_buf_puts(b, "null");
            return;
        }
        /* The shortest of 15 and 17 significant digits that reads back as d: 5.1, not
         * 5.0999999999999996. */
        n = (size_t)snprintf(text, sizeof(text), "%.15g", d);
        if (strtod(text, NULL) != d)
            n = (size_t)snprintf(text, sizeof(text), "%.17g", d);
        break;
    }
    }
    if (hash) {
        md_predlog_hmac(r->key, r->klen, p, n, mac);
        (void)md_buf_json_str(b, mac, 64);
    } else if (t->dtype == MD_DT_BYTES) {
        (void)md_buf_json_str(b, p, n);
    } else {
        (void)md_buf_append(b, p, n);
    }
}

/* The features of row `row` as a JSON object. */
static const char *format_features(struct md_predrec *r, const struct entry *e, size_t row,
                                   struct md_arena *a)
{
    const struct md_contract *c = e->v->contract;
    struct md_predict_story s;
    struct md_buf *b = &r->json;
    bool first = true;
    size_t i;

    memset(&s, 0, sizeof(s));
    s.version = e->v;
    s.inputs = e->inputs;
    s.n_inputs = e->n_inputs;
    md_buf_reset(b);
    (void)md_buf_putc(b, '{');
    for (i = 0; i < c->n_features; i++) {
        const struct md_feature *f = &c->features[i];
        const struct md_tensor *t;
        size_t index;

        if (f->pii == MD_PII_DROP || !md_predict_story_input(&s, i, row, &t, &index))
            continue;
        if (!first)
            (void)md_buf_putc(b, ',');
        first = false;
        (void)md_buf_json_str(b, f->name, strlen(f->name));
        (void)md_buf_putc(b, ':');
        put_value(r, b, t, index, f->pii == MD_PII_HASH && r->klen > 0);
    }
    (void)md_buf_putc(b, '}');
    return keep_text(a, b);
}

/* The outputs of row `row` as a JSON object; the label and score into p. */
static const char *format_outputs(struct md_predrec *r, const struct entry *e, size_t row,
                                  struct md_store_prediction *p, struct md_arena *a)
{
    const struct md_contract *c = e->v->contract;
    struct md_prediction pred = {.rows = e->scored, .scores = e->scores, .per_row = e->per_row};
    const float *s = e->scores + row * e->per_row;
    struct md_buf *b = &r->json;
    const char *label = NULL;
    size_t i;

    if (c->task == MD_TASK_CLASSIFICATION && c->n_labels > 0) {
        size_t k = md_infer_label(e->v, &pred, row);

        label = k < c->n_labels ? c->labels[k] : NULL;
        p->label = label;
        if (e->per_row == 1)
            p->score = s[0];
        else if (c->n_labels == 2 && e->per_row == 2)
            p->score = s[1];
    } else {
        p->score = s[0];
    }
    md_buf_reset(b);
    (void)md_buf_putc(b, '{');
    for (i = 0; i < c->n_outputs; i++) {
        const struct md_output *o = &c->outputs[i];

        if (i > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_json_str(b, o->name, strlen(o->name));
        (void)md_buf_putc(b, ':');
        if (o->kind == MD_OUT_LABEL) {
            if (label != NULL)
                (void)md_buf_json_str(b, label, strlen(label));
            else
                (void)md_buf_puts(b, "null");
        } else if (o->kind == MD_OUT_PROBABILITY && e->per_row > 1) {
            (void)md_buf_putc(b, '[');
            (void)md_buf_floats(b, s, 1, e->per_row, e->per_row, false, "null");
            (void)md_buf_putc(b, ']');
        } else {
            (void)md_buf_f32(b, s[0], "null");
        }
    }
    (void)md_buf_putc(b, '}');
    return keep_text(a, b);
}

/* The keys of row `row`: JSON text and the index's list. */
static void format_keys(struct md_predrec *r, const struct entry *e, size_t row,
                        struct md_store_prediction *p, struct md_arena *a)
{
    const struct md_contract *c = e->v->contract;
    struct md_store_key *list;
    struct md_buf *b = &r->json;
    size_t n = 0;
    size_t k;

    list = md_arena_alloc(a, e->n_keys * sizeof(*list));
    if (list == NULL)
        return;
    md_buf_reset(b);
    (void)md_buf_putc(b, '{');
    for (k = 0; k < e->n_keys && k < c->n_keys; k++) {
        const struct md_bytes *v = &e->keys[k * e->head.rows + row];
        const struct md_key *key = &c->keys[k];

        if (v->p == NULL)
            continue;
        if (n > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_json_str(b, key->name, strlen(key->name));
        (void)md_buf_putc(b, ':');
        if (key->type == MD_KEY_INT64)
            (void)md_buf_append(b, v->p, v->len);
        else
            (void)md_buf_json_str(b, v->p, v->len);
        list[n].name = key->name;
        list[n].value = md_arena_strndup(a, v->p, v->len);
        if (list[n].value == NULL)
            return;
        if (key->subject && r->subject != NULL) {
            char *mac = md_arena_alloc(a, 65);

            if (mac != NULL) {
                md_subject_hash(r->subject, v->p, v->len, mac);
                p->subject = mac;
            }
        }
        n++;
    }
    (void)md_buf_putc(b, '}');
    if (n == 0)
        return;
    p->keys = keep_text(a, b);
    p->key_list = list;
    p->n_keys = p->keys != NULL ? n : 0;
}

/* Whether row `row` was answered with a value missing: an optional feature not sent, or
 * null (what data quality counts as missing of an accepted request). */
static bool row_misses(const struct entry *e, size_t row)
{
    const struct md_contract *c = e->v->contract;
    struct md_predict_story s;

    if (e->inputs == NULL)
        return false;
    memset(&s, 0, sizeof(s));
    s.version = e->v;
    s.inputs = e->inputs;
    s.n_inputs = e->n_inputs;
    for (size_t i = 0; i < c->n_features; i++) {
        const struct md_tensor *t;
        size_t index;

        if (!md_predict_story_input(&s, i, row, &t, &index))
            return true;
        if (t->missing != NULL && t->missing[index])
            return true;
        if ((t->dtype == MD_DT_FP32 || t->dtype == MD_DT_FP64) &&
            isnan(md_tensor_get_f64(t, index)))
            return true;
    }
    return false;
}

/* The point in [0, 1) of row `row` of a request that a review sample compares with its
 * rate: the same row is sampled alike on every replica. */
static double review_point(const char *id, size_t row)
{
    char buf[32];
    uint64_t h = 14695981039346656037ull;
    int n = snprintf(buf, sizeof(buf), "/%zu", row);

    for (const char *p = id; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ull;
    }
    for (int i = 0; i < n; i++) {
        h ^= (unsigned char)buf[i];
        h *= 1099511628211ull;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (double)(h >> 11) / 9007199254740992.0;
}

/* The first review rule of the model that row p (formatted, with its outputs) meets, or
 * NULL. Shadows' rows and failed ones are never reviewed. */
static const char *review_reason(const struct entry *e, size_t row,
                                 const struct md_store_prediction *p)
{
    const struct md_review_config *rv = &e->v->contract->review;

    if (!rv->present || e->shadow || p->outputs == NULL)
        return NULL;
    for (size_t i = 0; i < rv->n_rules; i++) {
        const struct md_review_rule *r = &rv->rules[i];
        bool hit = false;

        switch (r->kind) {
        case MD_REVIEW_BAND:
            hit = isfinite(p->score) && p->score >= r->lo && p->score <= r->hi;
            break;
        case MD_REVIEW_LABEL:
            hit = p->label != NULL && strcmp(p->label, r->label) == 0;
            break;
        case MD_REVIEW_SAMPLE:
            hit = review_point(e->request_id, row) < r->rate;
            break;
        case MD_REVIEW_DATA:
            hit = row_misses(e, row);
            break;
        }
        if (hit)
            return r->name;
    }
    return NULL;
}

static void format(void *ctx, const struct md_predlog_entry *h, struct md_arena *a,
                   struct md_store_prediction *out, size_t *n)
{
    struct md_predrec *r = ctx;
    const struct entry *e = (const struct entry *)(const void *)h;
    size_t row;

    for (row = 0; row < h->rows; row++) {
        struct md_store_prediction *p = &out[row];

        memset(p, 0, sizeof(*p));
        p->request_id = e->request_id;
        p->row = (int64_t)row;
        p->at_ms = e->at_ms;
        p->model = e->v->model;
        p->version = e->v->number;
        p->route = e->route;
        p->shadow = e->shadow;
        p->status = e->status;
        p->latency_us = e->latency_us;
        p->score = NAN;
        if (e->n_keys > 0)
            format_keys(r, e, row, p, a);
        if (e->inputs != NULL)
            p->features = format_features(r, e, row, a);
        if (e->scores != NULL && row < e->scored)
            p->outputs = format_outputs(r, e, row, p, a);
        p->review = review_reason(e, row, p);
        p->review_max = e->v->contract->review.max_queue;
    }
    *n = h->rows;
}

/* ---- the recorder ----------------------------------------------------------- */

static _Atomic bool key_given;

void md_predrec_set_key_given(bool given)
{
    atomic_store(&key_given, given);
}

bool md_predrec_key_given(void)
{
    return atomic_load(&key_given);
}

int md_predrec_new(const struct md_predlog_config *cfg, struct md_store *store,
                   const unsigned char *key, size_t klen, struct md_predrec **out,
                   struct md_err *err)
{
    struct md_predrec *r;
    struct md_predlog_ops ops;
    int rc;

    *out = NULL;
    if (key != NULL && (klen == 0 || klen > MD_PREDLOG_KEY_MAX))
        return md_err_set(err, MD_EINVAL, "pii key: %zu bytes is not from 1 to %d", klen,
                          MD_PREDLOG_KEY_MAX);
    r = md_xcalloc(1, sizeof(*r));
    if (key != NULL) {
        memcpy(r->key, key, klen);
        r->klen = klen;
    }
    md_buf_init(&r->json, JSON_MAX);
    ops.format = format;
    ops.release = release;
    ops.ctx = r;
    rc = md_predlog_new(cfg, store, &ops, &r->log, err);
    if (rc != MD_OK) {
        md_buf_release(&r->json);
        free(r);
        return rc;
    }
    if (key != NULL)
        md_predrec_set_key_given(true);
    *out = r;
    return MD_OK;
}

void md_predrec_free(struct md_predrec *r)
{
    if (r == NULL)
        return;
    md_predlog_free(r->log);
    md_buf_release(&r->json);
    /* The key is wiped before the memory goes back. */
    memset(r->key, 0, sizeof(r->key));
    __asm__ __volatile__("" : : "r"(r->key) : "memory");
    free(r);
}

void md_predrec_set_subject_key(struct md_predrec *r, const struct md_subject_key *k)
{
    if (r != NULL)
        r->subject = k;
}

struct md_predlog *md_predrec_log(struct md_predrec *r)
{
    return r != NULL ? r->log : NULL;
}

struct md_predict_observer md_predrec_observer(struct md_predrec *r)
{
    struct md_predict_observer o = {md_predrec_told, r};

    return o;
}

bool md_predrec_needs_every_row(const struct md_contract *c)
{
    return c->training.present || c->online.present || c->review.present;
}

int md_predrec_check(const struct md_contract *c, bool has_key, struct md_err *err)
{
    size_t i;

    for (i = 0; i < c->n_features; i++) {
        const struct md_feature *f = &c->features[i];

        if (f->pii == MD_PII_HASH && !has_key)
            return md_err_set(err, MD_EINVAL,
                              "features[%zu].pii: feature '%s' is to be hashed in the prediction "
                              "log, and modeld has no key: give it one with --pii-key-file",
                              i, f->name);
    }
    if (!md_predrec_needs_every_row(c))
        return MD_OK;
    if (c->log_features < 1)
        return md_err_set(err, MD_EINVAL,
                          "logging.features: %g samples the features, and the model learns from "
                          "its log: every row must keep them",
                          c->log_features);
    for (i = 0; i < c->n_features; i++)
        if (c->features[i].pii == MD_PII_DROP)
            return md_err_set(err, MD_EINVAL,
                              "features[%zu].pii: drop leaves feature '%s' out of the log, and the "
                              "model learns from its log: its training set would lack it",
                              i, c->features[i].name);
    return MD_OK;
}
