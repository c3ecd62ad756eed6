/* SPDX-License-Identifier: MIT */
/*
 * predict.c: the prediction pipeline (resolve, bind, prepare, infer,
 * account) that every protocol's adapter feeds, and the completion hook's
 * observers. Decoding and encoding are the adapters' (api/); the engine call
 * and the batcher are infer.c's.
 *
 * The observers are one immutable list published through an atomic pointer:
 * a request loads it once, and attach and detach build a new list and swap
 * it in. A request may still be calling a list that was just replaced, so
 * replaced lists are kept (on `made`, under `lock`) until
 * md_predict_detach_all: observers are attached for the daemon's life (the
 * prediction log) and change rarely, so what is kept stays small.
 */
#include "serve/predict.h"
#include "util/mem.h"

#include <pthread.h>

struct observers {
    size_t n;
    struct md_predict_observer o[MD_PREDICT_MAX_OBSERVERS];
    struct observers *made; /* lock: the list made before this one */
};

_Atomic(const void *) md_predict__observers;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct observers *made; /* lock: every list made, newest first */
static _Atomic uint64_t told;  /* stories told */

/* A uniform random 64-bit number: xorshift64* per thread, seeded from the
 * clock and the thread's stack address. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t x;

    if (x == 0)
        x = (md_now_ns() ^ (uint64_t)(uintptr_t)&x) | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * UINT64_C(2685821657736338717);
}

/* md_route_key_fn: p's routing key, from a header or a key field. */
static const char *route_key(void *ctx, enum md_policy_sticky kind, const char *name, size_t *len)
{
    const struct md_predict *p = ctx;
    const char *k = NULL;

    if (kind == MD_STICKY_HEADER && p->header != NULL) {
        k = p->header(p->conn, name);
        if (k != NULL)
            *len = strlen(k);
    } else if (kind == MD_STICKY_KEY) {
        k = md_predict_key(p, name, 0, len); /* the first row's, from the body */
    }
    return k;
}

int md_predict_resolve(struct md_repo *repo, struct md_predict *p, struct md_version **v,
                       struct md_err *err)
{
    int rc;

    *v = NULL;
    if (p->to_champion) {
        p->route_name = MD_ROUTE_RETRY;
        return md_repo_acquire(repo, p->model, NULL, v, err);
    }
    if (p->label != NULL) {
        /* A TF Serving label is an alias. */
        rc = md_repo_route(repo, p->model, p->label, NULL, NULL, 0, v, &p->route_name, NULL, err);
        if (rc == MD_ENOTFOUND && md_repo_has_model(repo, p->model))
            return md_err_set(err, MD_EINVAL, "Unrecognized servable version label: %s", p->label);
        return rc;
    }
    return md_repo_route(repo, p->model, p->version, route_key, p,
                         p->version == NULL ? next_random() : 0, v, &p->route_name, &p->copies,
                         err);
}

/* Records where p stopped; returns code. */
static int stop(struct md_predict *p, enum md_predict_stage stage, int code)
{
    p->stage = stage;
    p->code = code;
    return code;
}

/* The rows of p's inputs as bound (the first one's first dimension), or 0 when unknown. */
static size_t input_rows(const struct md_predict *p)
{
    if (p->n_inputs == 0 || p->inputs[0].ndim < 1)
        return 0;
    return (size_t)p->inputs[0].shape[0];
}

/* The version's keys from p's body and headers, checked; never inputs. */
static int check_keys(struct md_predict *p, struct md_arena *a)
{
    struct md_key_values *kv;
    int st = md_keys_check(p->v->contract, &p->fields, p->header, p->conn, input_rows(p), a, &kv,
                           &p->err);

    if (st != MD_OK)
        return st;
    p->keys = kv;
    p->n_keys = p->v->contract->n_keys;
    return MD_OK;
}

int md_predict_run(struct md_predict *p, struct md_repo *repo, int decoded, struct md_arena *a,
                   void (*wake)(void *ctx), void *wake_ctx)
{
    struct md_err resolve_err;
    float *x = NULL;
    int st;

    /* The resolver's failure is answered before the decoder's: it writes
     * aside while p->err holds the decoder's message. */
    st = md_predict_resolve(repo, p, &p->v, decoded == MD_OK ? &p->err : &resolve_err);
    if (st != MD_OK) {
        if (decoded != MD_OK)
            p->err = resolve_err;
        return stop(p, MD_PREDICT_RESOLVE, st);
    }
    if (decoded != MD_OK)
        return stop(p, MD_PREDICT_DECODE, decoded);
    if (p->bind != NULL) {
        st = p->bind(p->bind_ctx, p, a, &p->err);
        if (st != MD_OK)
            return stop(p, MD_PREDICT_VALIDATE, st);
    }
    if (p->v->contract->n_keys > 0) {
        st = check_keys(p, a);
        if (st != MD_OK)
            return stop(p, MD_PREDICT_VALIDATE, st);
    }
    p->keys_checked = true;
    st = md_infer_prepare(p->v, p->inputs, p->n_inputs, a, &x, &p->rows, &p->err);
    if (st != MD_OK)
        return stop(p, MD_PREDICT_VALIDATE, st);
    p->x = x;
    /* A retry on the champion has a deadline of its own: the candidate may
     * have spent the request's (a 504). */
    st = md_infer_submit(
        p->v, x, p->rows,
        md_infer_deadline(p->v, p->to_champion ? md_now_ns() : p->start_ns, p->timeout_us), a, wake,
        wake_ctx, &p->pred, &p->call, &p->err);
    if (st != MD_OK && st != MD_EPENDING)
        return stop(p, MD_PREDICT_INFER, st);
    return st;
}

int md_predict_finish(struct md_predict *p)
{
    int st = md_infer_finish(p->call, &p->pred, &p->err);

    p->call = NULL;
    if (st != MD_OK)
        return stop(p, MD_PREDICT_INFER, st);
    return st;
}

const char *md_predict_key(const struct md_predict *p, const char *name, size_t row, size_t *len)
{
    size_t i;

    if (!p->keys_checked)
        return md_key_fields_find(&p->fields, name, row, len);
    *len = 0;
    for (i = 0; i < p->n_keys; i++)
        if (strcmp(p->keys[i].key->name, name) == 0)
            return md_key_values_get(&p->keys[i], row, len);
    return NULL;
}

const char *md_predict_key_from(const struct md_predict *p, const struct md_key *k, size_t row,
                                size_t *len)
{
    const char *s = md_key_fields_find(&p->fields, k->name, row, len);

    if (s != NULL || k->header == NULL || p->header == NULL)
        return s;
    s = p->header(p->conn, k->header);
    *len = s != NULL ? strlen(s) : 0;
    return s;
}

/* ---- the completion hook ---------------------------------------------- */

/* A new list: what is attached now (under lock), with n entries, kept on `made`. */
static struct observers *new_list(const struct observers *now)
{
    struct observers *l = md_xcalloc(1, sizeof(*l));

    if (now != NULL) {
        l->n = now->n;
        memcpy(l->o, now->o, sizeof(l->o));
    }
    l->made = made;
    made = l;
    return l;
}

int md_predict_attach(const struct md_predict_observer *o, struct md_err *err)
{
    const struct observers *now;
    struct observers *l;

    pthread_mutex_lock(&lock);
    now = atomic_load_explicit(&md_predict__observers, memory_order_relaxed);
    if (now != NULL && now->n == MD_PREDICT_MAX_OBSERVERS) {
        pthread_mutex_unlock(&lock);
        return md_err_set(err, MD_EINVAL, "too many prediction observers (at most %d)",
                          MD_PREDICT_MAX_OBSERVERS);
    }
    l = new_list(now);
    l->o[l->n++] = *o;
    atomic_store_explicit(&md_predict__observers, l, memory_order_release);
    pthread_mutex_unlock(&lock);
    return MD_OK;
}

void md_predict_detach(const struct md_predict_observer *o)
{
    const struct observers *now;
    struct observers *l;
    size_t i;
    size_t k;

    pthread_mutex_lock(&lock);
    now = atomic_load_explicit(&md_predict__observers, memory_order_relaxed);
    for (i = 0; now != NULL && i < now->n; i++)
        if (now->o[i].told == o->told && now->o[i].ctx == o->ctx)
            break;
    if (now == NULL || i == now->n) {
        pthread_mutex_unlock(&lock);
        return;
    }
    l = new_list(NULL);
    for (k = 0; k < now->n; k++)
        if (k != i)
            l->o[l->n++] = now->o[k];
    atomic_store_explicit(&md_predict__observers, l->n > 0 ? l : NULL, memory_order_release);
    pthread_mutex_unlock(&lock);
}

void md_predict_detach_all(void)
{
    struct observers *l;

    pthread_mutex_lock(&lock);
    atomic_store_explicit(&md_predict__observers, NULL, memory_order_release);
    while (made != NULL) {
        l = made;
        made = l->made;
        free(l);
    }
    pthread_mutex_unlock(&lock);
}

void md_predict_story_of(const struct md_predict *p, int status, struct md_predict_story *out)
{
    struct md_predict_story s;
    uint64_t now = md_now_ns();

    s.request_id = p->request_id;
    s.model = p->model;
    s.version = p->v;
    s.route = p->route;
    s.route_name = p->route_name;
    s.status = status;
    s.code = p->code;
    s.stage = p->stage;
    s.error = p->code != MD_OK ? p->err.msg : "";
    s.inputs = p->inputs;
    s.n_inputs = p->n_inputs;
    s.prepared = p->x;
    s.rows = p->x != NULL ? p->rows : 0;
    s.scores = &p->pred;
    s.keys = p->keys;
    s.n_keys = p->n_keys;
    s.latency_ns = now > p->start_ns ? now - p->start_ns : 0;
    s.shadow = false;
    *out = s;
}

void md_predict_tell(const struct md_predict *p, int status)
{
    const struct observers *l = atomic_load_explicit(&md_predict__observers, memory_order_acquire);
    struct md_predict_story s;
    size_t i;

    if (l == NULL)
        return;
    md_predict_story_of(p, status, &s);
    atomic_fetch_add_explicit(&told, 1, memory_order_relaxed);
    for (i = 0; i < l->n; i++)
        l->o[i].told(l->o[i].ctx, &s);
}

void md_predict_release_copies(struct md_predict *p)
{
    size_t i;

    for (i = 0; i < p->copies.n_shadows; i++)
        md_version_unref(p->copies.shadows[i]);
    p->copies.n_shadows = 0;
    md_version_unref(p->copies.mirror);
    p->copies.mirror = NULL;
}

uint64_t md_predict_told(void)
{
    return atomic_load_explicit(&told, memory_order_relaxed);
}

bool md_predict_story_input(const struct md_predict_story *s, size_t feature, size_t row,
                            const struct md_tensor **t, size_t *index)
{
    const struct md_contract *c = s->version != NULL ? s->version->contract : NULL;
    const struct md_feature *f;
    size_t i;

    if (c == NULL || feature >= c->n_features || s->inputs == NULL)
        return false;
    f = &c->features[feature];
    /* The 2-D form, as md_contract_prepare tells it: one input named input_tensor. */
    if (s->n_inputs == 1 && s->inputs[0].name != NULL &&
        strcmp(s->inputs[0].name, c->input_tensor) == 0) {
        const struct md_tensor *in = &s->inputs[0];

        if (in->ndim != 2 || in->shape[1] != (int64_t)c->n_features || in->shape[0] < 0 ||
            row >= (size_t)in->shape[0] || row * c->n_features + feature >= in->count)
            return false;
        *t = in;
        *index = row * c->n_features + feature;
        return true;
    }
    for (i = 0; i < s->n_inputs; i++) {
        const struct md_tensor *in = &s->inputs[i];

        if (in->name == NULL || strcmp(in->name, f->name) != 0)
            continue;
        if (row >= in->count)
            return false;
        *t = in;
        *index = row;
        return true;
    }
    return false;
}

const float *md_predict_story_prepared(const struct md_predict_story *s, size_t feature, size_t row)
{
    const struct md_contract *c = s->version != NULL ? s->version->contract : NULL;

    if (c == NULL || s->prepared == NULL || feature >= c->n_features || row >= s->rows)
        return NULL;
    return s->prepared + row * c->width + c->features[feature].column;
}

const char *md_predict_story_key(const struct md_predict_story *s, size_t key, size_t row,
                                 size_t *len)
{
    *len = 0;
    if (s->keys == NULL || key >= s->n_keys)
        return NULL;
    return md_key_values_get(&s->keys[key], row, len);
}
