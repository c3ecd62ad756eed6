/* SPDX-License-Identifier: MIT */
/*
 * online.c: the learner of online learning (online.h). It owns a thread,
 * the per-version learning state (its cursor in the feedback, the last
 * snapshot's instance, the quality windows) and the snapshots it submits;
 * the engine owns the weights and publishes them (backend/linear.c), the
 * store the labels and the features (store/sqlite_online.c), control's
 * worker the registration of a snapshot (MD_COMMAND_SNAPSHOT).
 */
#include "control/online.h"
#include "serve/contract.h"
#include "serve/model.h"
#include "serve/tensor.h"
#include "util/arena.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sha256.h"
#include "watch/metrics.h"
#include "watch/online_stats.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define BATCH_MAX    2048 /* labels read in one poll, per model */
#define LEARNERS_MAX 64   /* versions learning at once */
#define MODEL_MAX    128  /* bytes of a model's name with its NUL */
#define PENDING_MAX  512  /* items per model waiting for their row that are looked at again */

/* A label read from the store, copied for the learner thread. */
struct label {
    int64_t feedback_id;
    int64_t version;
    int64_t at_ms;
    char *features; /* or NULL: trimmed */
    char *label;    /* or NULL */
    double value;
};

struct batch {
    struct label *items; /* BATCH_MAX + PENDING_MAX */
    size_t n;
    const char *model;
    int64_t after_id;
    int64_t last_id;
    const int64_t *ids; /* the items to look at again */
    size_t n_ids;
    int64_t waiting[PENDING_MAX]; /* out: items still waiting for their row */
    size_t n_waiting;
    uint64_t dropped; /* out: waiting items past PENDING_MAX */
};

/* One version of a model that learns. */
struct learner {
    char model[MODEL_MAX];
    int64_t version;
    struct md_version *v; /* a reference: the instance that learns */
    bool configured;      /* learn_config applied to v's engine */
    bool refused;         /* learn_config refused: logged once, nothing learned */
    uint64_t updates;     /* learned since start */
    uint64_t since_snap;  /* learned since the last snapshot */
    int64_t snap_ms;      /* wall time of the last snapshot (or of the start) */
    int64_t since_ms;     /* prediction-feedback time span learned since the last snapshot */
    int64_t until_ms;     /* (0: none yet) */
    int64_t last_fid;     /* the last feedback id learned */
    void *snap;           /* the last snapshot's instance (v's engine), or NULL */
    int64_t snap_version; /* its version number; 0: none */
    double *live_q;       /* ring of `window` per-label quality terms, live weights */
    double *snap_q;       /* the same labels scored by the snapshot */
    size_t q_n;           /* terms in the rings */
    size_t q_pos;         /* the next slot */
    size_t q_cap;         /* the window */
    struct md_online_stats *stats; /* NULL when the table is full */
};

/* Where the learner is in a model's feedback. */
struct cursor {
    char model[MODEL_MAX];
    int64_t after_id;
    int64_t pending[PENDING_MAX]; /* items that waited for their row, by id */
    size_t n_pending;
};

struct md_online {
    struct md_repo *repo;
    struct md_store *store;
    struct md_commands *q;
    unsigned poll_ms;
    pthread_t thread;
    pthread_mutex_t mu; /* stop and cond */
    pthread_cond_t cond;
    bool stop;
    /* The thread's own, below. */
    struct learner *learners[LEARNERS_MAX];
    size_t n_learners;
    struct cursor cursors[LEARNERS_MAX];
    size_t n_cursors;
    char models[LEARNERS_MAX][MODEL_MAX]; /* this poll's models that learn */
    size_t n_models;
    struct {
        size_t model; /* index in models */
        int64_t version;
    } loaded[LEARNERS_MAX]; /* this poll's loaded versions that learn */
    size_t n_loaded;
    struct batch batch;
};

/* ---------------------------------------------------------------- the store */

static void take_label(void *ctx, const struct md_store_online_label *l)
{
    struct batch *b = ctx;
    struct label *d;

    if (!l->ready) {
        /* its row may still come: looked at again at the next poll */
        if (l->still_pending && b->n_waiting < PENDING_MAX)
            b->waiting[b->n_waiting++] = l->feedback_id;
        else if (l->still_pending)
            b->dropped++;
        return;
    }
    d = &b->items[b->n++];
    d->feedback_id = l->feedback_id;
    d->version = l->version;
    d->at_ms = l->at_ms;
    d->features = l->features != NULL ? md_xstrdup(l->features) : NULL;
    d->label = l->label != NULL ? md_xstrdup(l->label) : NULL;
    d->value = l->value;
}

static int run_fetch(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct batch *b = ctx;

    return md_store_tx_online_labels(tx, b->model, b->after_id, BATCH_MAX, b->ids, b->n_ids,
                                     take_label, b, &b->last_id, err);
}

struct last_id {
    const char *model;
    int64_t id;
};

static int run_last(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct last_id *l = ctx;

    return md_store_tx_online_last_feedback(tx, l->model, &l->id, err);
}

static int run_event(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct md_store_event *e = ctx;
    char action[MD_STORE_NAME_MAX + 8];
    char target[MD_STORE_NAME_MAX + 8];
    int rc = md_store_tx_event_add(tx, e, NULL, err);

    /* The learner's decision in the audit log, in the same transaction. */
    (void)snprintf(action, sizeof(action), "online.%s", e->kind);
    (void)snprintf(target, sizeof(target), "model=%s", e->model);
    if (rc == MD_OK)
        rc =
            md_store_tx_audit_decision(tx, "control:online", action, target, e->message, NULL, err);
    return rc;
}

/* The newest snapshot of a model (of one parent version, or any when parent is 0). */
struct newest_snap {
    const char *model;
    int64_t parent;
    int64_t number; /* 0: none */
    char sha256[65];
    int64_t feedback_id;
    int64_t updates;
};

static void take_version(void *ctx, const struct md_store_version *v)
{
    struct newest_snap *s = ctx;
    json_t *m;

    if (v->source != MD_SOURCE_SNAPSHOT || v->archived || v->version <= s->number)
        return;
    m = json_loads(v->metadata, 0, NULL);
    if (s->parent == 0 || json_integer_value(json_object_get(m, "parent")) == s->parent) {
        s->number = v->version;
        (void)snprintf(s->sha256, sizeof(s->sha256), "%s", v->sha256);
        s->feedback_id = json_integer_value(json_object_get(m, "feedback_id"));
        s->updates = json_integer_value(json_object_get(m, "updates"));
    }
    json_decref(m);
}

static int run_versions(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct newest_snap *s = ctx;

    return md_store_tx_versions(tx, s->model, take_version, ctx, err);
}

/* The newest snapshot of model whose parent is parent (0: any) into *out. */
static int newest(struct md_online *o, const char *model, int64_t parent, struct newest_snap *out,
                  struct md_err *err)
{
    memset(out, 0, sizeof(*out));
    out->model = model;
    out->parent = parent;
    return md_store_call(o->store, run_versions, out, err);
}

static void batch_clear(struct batch *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        free(b->items[i].features);
        free(b->items[i].label);
    }
    b->n = 0;
}

/* ------------------------------------------------------------ preparation */

/*
 * One logged row's features (a JSON object, as the prediction log writes
 * them) into the contract's prepared columns at row, with the checks a
 * request gets (md_contract_prepare): a column tensor of one value per
 * feature present, null a missing value.
 */
static int prepare_row(const struct md_contract *c, const char *text, struct md_arena *a,
                       float *row, struct md_err *err)
{
    struct md_tensor *t;
    json_error_t jerr;
    json_t *obj;
    size_t n = 0;
    size_t rows = 0;
    float *x = NULL;
    size_t i;
    int rc;

    obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return md_err_set(err, MD_EINVAL, "features: not a JSON object");
    }
    t = md_arena_calloc(a, c->n_features, sizeof(*t));
    if (t == NULL) {
        json_decref(obj);
        return md_err_set(err, MD_ENOMEM, "features: out of memory");
    }
    for (i = 0; i < c->n_features; i++) {
        const struct md_feature *f = &c->features[i];
        const json_t *v = json_object_get(obj, f->name);
        struct md_tensor *u = &t[n];
        void *data;

        if (v == NULL)
            continue;
        data = md_arena_calloc(a, 1,
                               sizeof(double) > sizeof(struct md_bytes) ? sizeof(double)
                                                                        : sizeof(struct md_bytes));
        u->missing = md_arena_calloc(a, 1, 1);
        if (data == NULL || u->missing == NULL) {
            json_decref(obj);
            return md_err_set(err, MD_ENOMEM, "features: out of memory");
        }
        u->name = f->name;
        u->dtype = f->dtype;
        u->ndim = 1;
        u->shape[0] = 1;
        u->count = 1;
        u->data = data;
        n++;
        if (json_is_null(v)) {
            u->missing[0] = 1;
            continue;
        }
        if (f->dtype == MD_DT_BYTES) {
            struct md_bytes *bv = data;

            if (!json_is_string(v))
                goto bad;
            bv->p = md_arena_strndup(a, json_string_value(v), json_string_length(v));
            bv->len = json_string_length(v);
            if (bv->p == NULL) {
                json_decref(obj);
                return md_err_set(err, MD_ENOMEM, "features: out of memory");
            }
        } else if (f->dtype == MD_DT_BOOL) {
            if (!json_is_boolean(v))
                goto bad;
            *(uint8_t *)data = json_is_true(v) ? 1 : 0;
        } else {
            double d;

            if (!json_is_number(v))
                goto bad;
            d = json_number_value(v);
            switch (f->dtype) {
            case MD_DT_FP32:
                *(float *)data = (float)d;
                break;
            case MD_DT_FP64:
                *(double *)data = d;
                break;
            case MD_DT_INT32:
                if (!(d >= INT32_MIN && d <= INT32_MAX))
                    goto bad;
                *(int32_t *)data = (int32_t)d;
                break;
            case MD_DT_INT64:
                if (!(d >= -9.2e18 && d <= 9.2e18))
                    goto bad;
                *(int64_t *)data = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)d;
                break;
            default:
                goto bad;
            }
        }
    }
    json_decref(obj);
    rc = md_contract_prepare(c, t, n, a, &x, &rows, err);
    if (rc != MD_OK)
        return rc;
    if (rows != 1)
        return md_err_set(err, MD_EINVAL, "features: %zu rows, not 1", rows);
    memcpy(row, x, c->width * sizeof(float));
    return MD_OK;
bad:
    json_decref(obj);
    return md_err_set(err, MD_EINVAL, "features: feature '%s' has a value of the wrong type",
                      c->features[i].name);
}

/* The engine's target of a label: a class index, or the value; NaN when it has none. */
static float target_of(const struct md_contract *c, const struct label *l)
{
    size_t k;

    if (c->task == MD_TASK_REGRESSION)
        return isfinite(l->value) ? (float)l->value : NAN;
    if (l->label == NULL)
        return NAN;
    for (k = 0; k < c->n_labels; k++)
        if (strcmp(c->labels[k], l->label) == 0)
            return (float)k;
    return NAN;
}

/* One label's quality term: 1 or 0 (the class was right) or the squared error. */
static double quality_term(const struct md_contract *c, const float *out, size_t n_out, float y)
{
    size_t best = 0;
    size_t k;

    if (c->task == MD_TASK_REGRESSION)
        return ((double)out[0] - y) * ((double)out[0] - y);
    if (n_out == 1)
        best = out[0] >= c->threshold ? 1 : 0;
    else
        for (k = 1; k < n_out; k++)
            if (out[k] > out[best])
                best = k;
    return (float)best == y ? 1.0 : 0.0;
}

/* A window's figure from its terms: accuracy, or the root mean squared error. */
static double window_quality(const struct md_contract *c, const double *q, size_t n)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < n; i++)
        sum += q[i];
    sum /= (double)(n > 0 ? n : 1);
    return c->task == MD_TASK_REGRESSION ? sqrt(sum) : sum;
}

/* ---------------------------------------------------------------- learners */

static void learner_free(struct learner *l)
{
    if (l == NULL)
        return;
    if (l->snap != NULL)
        l->v->ops->free(l->snap);
    md_version_unref(l->v);
    free(l->live_q);
    free(l->snap_q);
    free(l);
}

/*
 * A version that learned before (the daemon restarted, or the version was
 * reloaded) goes on from its newest snapshot: the snapshot's weights are
 * assigned to it and become the fallback's reference.
 */
static void resume(struct md_online *o, struct learner *l)
{
    struct newest_snap ns;
    char path[PATH_MAX];
    struct md_err err;
    void *snap = NULL;
    char msg[200];

    if (newest(o, l->model, l->version, &ns, &err) != MD_OK || ns.number == 0)
        return;
    if (md_store_artifact_path(o->store, ns.sha256, path, sizeof(path), &err) != MD_OK ||
        l->v->ops->load(path, NULL, &snap, &err) != MD_OK ||
        l->v->ops->assign(l->v->engine, snap, &err) != MD_OK) {
        md_log_kv(MD_LOG_WARN, "online learning: not resumed from the newest snapshot", "model",
                  l->model, "reason", err.msg, MD_KV_END);
        if (snap != NULL)
            l->v->ops->free(snap);
        return;
    }
    l->snap = snap;
    l->snap_version = ns.number;
    l->updates = (uint64_t)ns.updates;
    l->last_fid = ns.feedback_id;
    (void)snprintf(msg, sizeof(msg), "%lld", (long long)ns.number);
    md_log_kv(MD_LOG_INFO, "online learning: resumed from a snapshot", "model", l->model,
              "snapshot", msg, MD_KV_END);
}

/* The learner of model's version, made on first use with a reference on it; NULL when the
 * version is not loaded, is not an online linear model, or the table is full. */
static struct learner *learner_for(struct md_online *o, const char *model, int64_t version)
{
    char vs[24];
    struct md_version *v = NULL;
    struct learner *l = NULL;
    struct md_err err;
    size_t i;

    for (i = 0; i < o->n_learners; i++)
        if (o->learners[i]->version == version && strcmp(o->learners[i]->model, model) == 0)
            l = o->learners[i];
    (void)snprintf(vs, sizeof(vs), "%lld", (long long)version);
    if (md_repo_acquire(o->repo, model, vs, &v, &err) != MD_OK) {
        if (l != NULL) {
            /* unloaded: its instance goes with its last reference */
            for (i = 0; o->learners[i] != l; i++)
                ;
            o->learners[i] = o->learners[--o->n_learners];
            learner_free(l);
        }
        return NULL;
    }
    if (!v->contract->online.present || v->ops->learn == NULL || v->ops->save == NULL ||
        v->ops->assign == NULL) {
        md_version_unref(v);
        return NULL;
    }
    if (l != NULL && l->v == v) {
        md_version_unref(v);
        return l;
    }
    if (l != NULL) {
        /* reloaded: the new instance goes on from the newest snapshot, as after a start */
        if (l->snap != NULL)
            l->v->ops->free(l->snap);
        l->snap = NULL;
        l->snap_version = 0;
        md_version_unref(l->v);
        l->v = v;
        l->configured = false;
        l->refused = false;
        l->q_n = l->q_pos = 0;
        resume(o, l);
        return l;
    }
    if (o->n_learners == LEARNERS_MAX || strlen(model) >= MODEL_MAX) {
        md_version_unref(v);
        return NULL;
    }
    l = md_xcalloc(1, sizeof(*l));
    (void)snprintf(l->model, sizeof(l->model), "%s", model); /* length checked */
    l->version = version;
    l->v = v;
    l->snap_ms = md_wall_ms();
    l->q_cap = (size_t)v->contract->online.window;
    l->live_q = md_xcalloc(l->q_cap, sizeof(double));
    l->snap_q = md_xcalloc(l->q_cap, sizeof(double));
    l->stats = md_online_stats_of(model);
    o->learners[o->n_learners++] = l;
    resume(o, l);
    return l;
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void record_event(struct md_online *o, const char *model, const char *kind,
                         const char *message, json_t *details)
{
    struct md_store_event e = {0};
    struct md_err err;
    char *text = json_dumps(details, JSON_COMPACT);

    e.model = model;
    e.kind = kind;
    e.message = message;
    e.details = text;
    if (text != NULL && md_store_call(o->store, run_event, &e, &err) != MD_OK)
        md_log_kv(MD_LOG_WARN, "online learning: event not stored", "model", model, "kind", kind,
                  "reason", err.msg, MD_KV_END);
    free(text);
}

/*
 * Saves l's weights, loads them back as the snapshot's instance and
 * registers them as a version (source snapshot) with the lineage; the
 * learner thread waits for control's worker.
 */
static void take_snapshot(struct md_online *o, struct learner *l)
{
    const struct md_online_config *cfg = &l->v->contract->online;
    struct md_upload_change *ch;
    struct md_command *cmd = NULL;
    char path[PATH_MAX];
    char sha[MD_SHA256_HEX];
    const char *answer;
    struct md_err err;
    json_t *meta;
    json_t *ans;
    int64_t size = 0;
    int64_t number = 0;
    void *snap = NULL;
    int fd = -1;
    int rc;

    md_err_clear(&err);
    l->snap_ms = md_wall_ms();
    rc = md_store_artifact_tmp(o->store, path, sizeof(path), &fd, &err);
    if (rc == MD_OK) {
        (void)close(fd); /* save writes the file itself */
        rc = l->v->ops->save(l->v->engine, path, &err);
    }
    if (rc == MD_OK)
        rc = l->v->ops->load(path, NULL, &snap, &err);
    if (rc == MD_OK)
        rc = md_sha256_file(path, sha, &size, &err);
    if (rc != MD_OK) {
        md_log_kv(MD_LOG_WARN, "online learning: snapshot not taken", "model", l->model, "reason",
                  err.msg, MD_KV_END);
        if (fd >= 0) /* the temporary file was made */
            (void)unlink(path);
        if (snap != NULL)
            l->v->ops->free(snap);
        return;
    }
    meta = json_pack("{s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:s, s:I}", "source", "snapshot",
                     "parent", (json_int_t)l->version, "updates", (json_int_t)l->updates,
                     "updates_since_snapshot", (json_int_t)l->since_snap, "feedback_id",
                     (json_int_t)l->last_fid, "window", "since_ms", (json_int_t)l->since_ms,
                     "until_ms", (json_int_t)l->until_ms, "algo",
                     cfg->algo == MD_ONLINE_FTRL ? "ftrl" : "sgd", "parent_snapshot",
                     (json_int_t)l->snap_version);
    if (meta != NULL && l->q_n > 0) {
        json_t *q = json_pack("{s:s, s:f, s:f, s:I}", "metric",
                              l->v->contract->task == MD_TASK_REGRESSION ? "rmse" : "accuracy",
                              "live", window_quality(l->v->contract, l->live_q, l->q_n), "snapshot",
                              window_quality(l->v->contract, l->snap_q, l->q_n), "labels",
                              (json_int_t)l->q_n);

        if (q != NULL && l->snap == NULL)
            json_object_del(q, "snapshot");
        (void)json_object_set_new(meta, "quality", q);
    }
    ch = md_xcalloc(1, sizeof(*ch));
    ch->path = md_xstrdup(path);
    memcpy(ch->sha256, sha, sizeof(ch->sha256));
    ch->size = (uint64_t)size;
    ch->metadata = meta != NULL ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    if (ch->metadata == NULL)
        ch->metadata = md_xstrdup("{}");
    rc = md_commands_submit_arg(o->q, MD_COMMAND_SNAPSHOT, l->model, ch, md_upload_change_free,
                                NULL, NULL, &cmd, &err);
    if (rc == MD_OK)
        rc = md_command_wait(cmd, &err);
    if (rc == MD_OK) {
        answer = md_command_result(cmd);
        ans = answer != NULL ? json_loads(answer, 0, NULL) : NULL;
        if (json_is_string(json_object_get(ans, "version")))
            number = strtoll(json_string_value(json_object_get(ans, "version")), NULL, 10);
        json_decref(ans);
    }
    if (cmd != NULL)
        md_command_unref(cmd);
    if (rc != MD_OK) {
        md_log_kv(MD_LOG_WARN, "online learning: snapshot not registered", "model", l->model,
                  "reason", err.msg, MD_KV_END);
        l->v->ops->free(snap);
        return;
    }
    if (l->snap != NULL)
        l->v->ops->free(l->snap);
    l->snap = snap;
    l->snap_version = number;
    l->since_snap = 0;
    l->since_ms = l->until_ms = 0;
    l->q_n = l->q_pos = 0; /* the windows compare from this snapshot on */
    if (l->stats != NULL)
        count(&l->stats->snapshots, 1);
}

/* Back to the snapshot when the live weights' window is worse than its by the margin. */
static void check_fallback(struct md_online *o, struct learner *l)
{
    const struct md_contract *c = l->v->contract;
    double margin = c->online.fallback_margin;
    double live;
    double snap;
    bool worse;
    struct md_err err;
    char msg[256];
    json_t *d;

    if (l->snap == NULL || l->q_n < l->q_cap)
        return;
    live = window_quality(c, l->live_q, l->q_n);
    snap = window_quality(c, l->snap_q, l->q_n);
    worse = c->task == MD_TASK_REGRESSION ? live > snap * (1 + margin) : live < snap - margin;
    if (!worse)
        return;
    if (l->v->ops->assign(l->v->engine, l->snap, &err) != MD_OK) {
        md_log_kv(MD_LOG_WARN, "online learning: fallback failed", "model", l->model, "reason",
                  err.msg, MD_KV_END);
        return;
    }
    (void)snprintf(msg, sizeof(msg),
                   "version %lld went back to snapshot version %lld: its %s over the last %zu "
                   "labels was %.4g, the snapshot's %.4g (margin %g)",
                   (long long)l->version, (long long)l->snap_version,
                   c->task == MD_TASK_REGRESSION ? "rmse" : "accuracy", l->q_n, live, snap, margin);
    md_log_kv(MD_LOG_WARN, "online learning: fallback", "model", l->model, "reason", msg,
              MD_KV_END);
    d = json_pack("{s:I, s:I, s:s, s:f, s:f, s:f, s:I}", "version", (json_int_t)l->version,
                  "snapshot", (json_int_t)l->snap_version, "metric",
                  c->task == MD_TASK_REGRESSION ? "rmse" : "accuracy", "live", live,
                  "snapshot_value", snap, "margin", margin, "labels", (json_int_t)l->q_n);
    record_event(o, l->model, "online_fallback", msg, d);
    json_decref(d);
    l->q_n = l->q_pos = 0;
    if (l->stats != NULL)
        count(&l->stats->fallbacks, 1);
}

/* Learns from labels ls[0..n) of l's version. */
static void learn_batch(struct md_online *o, struct learner *l, struct label *const *ls, size_t n)
{
    const struct md_contract *c = l->v->contract;
    const struct md_backend_ops *ops = l->v->ops;
    size_t n_out = l->v->desc.n_outputs;
    struct md_learn_config lc;
    struct md_arena a;
    struct md_err err;
    float *x = md_xcalloc(n, c->width * sizeof(float));
    float *y = md_xcalloc(n, sizeof(float));
    float *live = md_xcalloc(n, n_out * sizeof(float));
    float *snap = md_xcalloc(n, n_out * sizeof(float));
    size_t k = 0;
    size_t i;

    if (!l->configured && !l->refused) {
        md_online_learn_config(&c->online, &lc);
        if (ops->learn_config != NULL && ops->learn_config(l->v->engine, &lc, &err) != MD_OK) {
            md_log_kv(MD_LOG_ERROR, "online learning: settings refused by the engine", "model",
                      l->model, "reason", err.msg, MD_KV_END);
            l->refused = true;
        }
        l->configured = true;
    }
    md_arena_init(&a, (size_t)1 << 24); /* a row's tensors and prepared columns */
    for (i = 0; i < n && !l->refused; i++) {
        float t = target_of(c, ls[i]);

        md_arena_reset(&a);
        if (isnan(t) || ls[i]->features == NULL)
            continue;
        if (prepare_row(c, ls[i]->features, &a, x + k * c->width, &err) != MD_OK) {
            md_log_kv(MD_LOG_DEBUG, "online learning: a label's row does not prepare", "model",
                      l->model, "reason", err.msg, MD_KV_END);
            continue;
        }
        y[k++] = t;
        if (l->since_ms == 0 || ls[i]->at_ms < l->since_ms)
            l->since_ms = ls[i]->at_ms;
        if (ls[i]->at_ms > l->until_ms)
            l->until_ms = ls[i]->at_ms;
    }
    md_arena_release(&a);
    if (l->stats != NULL)
        count(&l->stats->skipped, n - k);
    if (k > 0 && ops->predict(l->v->engine, x, k, live, &err) == MD_OK &&
        (l->snap == NULL || ops->predict(l->snap, x, k, snap, &err) == MD_OK)) {
        /* prequential: each label scored before the weights learn from it */
        for (i = 0; i < k; i++) {
            l->live_q[l->q_pos] = quality_term(c, live + i * n_out, n_out, y[i]);
            l->snap_q[l->q_pos] =
                l->snap != NULL ? quality_term(c, snap + i * n_out, n_out, y[i]) : 0;
            l->q_pos = (l->q_pos + 1) % l->q_cap;
            if (l->q_n < l->q_cap)
                l->q_n++;
        }
    }
    if (k > 0 && ops->learn(l->v->engine, x, y, k, &err) != MD_OK) {
        md_log_kv(MD_LOG_WARN, "online learning: labels not learned", "model", l->model, "reason",
                  err.msg, MD_KV_END);
        if (l->stats != NULL)
            count(&l->stats->skipped, k);
        k = 0;
    }
    l->last_fid = ls[n - 1]->feedback_id;
    l->updates += k;
    l->since_snap += k;
    if (k > 0 && l->stats != NULL)
        count(&l->stats->updates, k);
    free(x);
    free(y);
    free(live);
    free(snap);
    if (k > 0)
        check_fallback(o, l);
}

/* Snapshots that are due: by count, or by time when anything was learned since. */
static void snapshots_due(struct md_online *o)
{
    int64_t now = md_wall_ms();
    size_t i;

    for (i = 0; i < o->n_learners; i++) {
        struct learner *l = o->learners[i];
        const struct md_online_config *cfg = &l->v->contract->online;

        if (l->since_snap == 0)
            continue;
        if ((cfg->snapshot_updates > 0 && l->since_snap >= cfg->snapshot_updates) ||
            (cfg->snapshot_s > 0 && now - l->snap_ms >= (int64_t)cfg->snapshot_s * 1000))
            take_snapshot(o, l);
    }
}

/* ------------------------------------------------------------------- polls */

static void collect_model(void *ctx, const struct md_repo_row *row)
{
    struct md_online *o = ctx;
    size_t i;

    if (row->live == NULL || !row->live->contract->online.present ||
        row->live->ops->learn == NULL || o->n_models == LEARNERS_MAX ||
        strlen(row->model) >= MODEL_MAX)
        return;
    for (i = 0; i < o->n_models; i++)
        if (strcmp(o->models[i], row->model) == 0)
            break;
    if (i == o->n_models)
        (void)snprintf(o->models[o->n_models++], MODEL_MAX, "%s", row->model); /* checked */
    if (o->n_loaded < LEARNERS_MAX) {
        o->loaded[o->n_loaded].model = i;
        o->loaded[o->n_loaded++].version = row->live->number;
    }
}

static struct cursor *cursor_of(struct md_online *o, const char *model, bool *fresh)
{
    size_t i;

    *fresh = false;
    for (i = 0; i < o->n_cursors; i++)
        if (strcmp(o->cursors[i].model, model) == 0)
            return &o->cursors[i];
    if (o->n_cursors == LEARNERS_MAX)
        return NULL;
    *fresh = true;
    (void)snprintf(o->cursors[o->n_cursors].model, MODEL_MAX, "%s", model); /* checked */
    o->cursors[o->n_cursors].after_id = 0;
    o->cursors[o->n_cursors].n_pending = 0;
    return &o->cursors[o->n_cursors++];
}

static void poll_model(struct md_online *o, const char *model)
{
    struct label **ls;
    struct batch *b = &o->batch;
    struct md_err err;
    bool fresh;
    struct cursor *cur = cursor_of(o, model, &fresh);
    size_t i;
    size_t j;

    if (cur == NULL)
        return;
    if (fresh) {
        /* labels from now on: those given before the learner saw the model are not learned */
        struct last_id li = {model, 0};
        struct newest_snap ns;

        if (md_store_call(o->store, run_last, &li, &err) != MD_OK ||
            newest(o, model, 0, &ns, &err) != MD_OK) {
            o->n_cursors--;
            return;
        }
        /* after a restart: the labels given since the newest snapshot was taken */
        cur->after_id = ns.number > 0 && ns.feedback_id < li.id ? ns.feedback_id : li.id;
        return;
    }
    b->model = model;
    b->after_id = cur->after_id;
    b->last_id = cur->after_id;
    b->ids = cur->pending;
    b->n_ids = cur->n_pending;
    b->n = 0;
    b->n_waiting = 0;
    b->dropped = 0;
    if (md_store_call(o->store, run_fetch, b, &err) != MD_OK) {
        batch_clear(b);
        md_log_kv(MD_LOG_WARN, "online learning: labels not read", "model", model, "reason",
                  err.msg, MD_KV_END);
        return;
    }
    cur->after_id = b->last_id;
    memcpy(cur->pending, b->waiting, b->n_waiting * sizeof(int64_t));
    cur->n_pending = b->n_waiting;
    if (b->dropped > 0) {
        struct md_online_stats *st = md_online_stats_of(model);

        if (st != NULL)
            count(&st->skipped, b->dropped);
    }
    ls = md_xcalloc(b->n + 1, sizeof(struct label *));
    /* by version, each version's labels in feedback order */
    for (i = 0; i < b->n; i++) {
        struct learner *l;
        size_t n = 0;

        if (b->items[i].version == 0)
            continue;
        for (j = i; j < b->n; j++)
            if (b->items[j].version == b->items[i].version)
                ls[n++] = &b->items[j];
        l = learner_for(o, model, b->items[i].version);
        if (l != NULL)
            learn_batch(o, l, ls, n);
        for (j = 0; j < n; j++)
            ls[j]->version = 0; /* done */
    }
    free(ls);
    batch_clear(b);
}

static void *run(void *arg)
{
    struct md_online *o = arg;

    for (;;) {
        struct timespec ts;
        bool stop;
        size_t i;

        pthread_mutex_lock(&o->mu);
        if (!o->stop) {
            (void)clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(o->poll_ms % 1000) * 1000000L;
            ts.tv_sec += (time_t)(o->poll_ms / 1000) + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            (void)pthread_cond_timedwait(&o->cond, &o->mu, &ts);
        }
        stop = o->stop;
        pthread_mutex_unlock(&o->mu);
        if (stop)
            break;
        o->n_models = 0;
        o->n_loaded = 0;
        md_repo_foreach(o->repo, collect_model, o);
        /* each loaded version that learns has its learner (resumed) before labels come */
        for (i = 0; i < o->n_loaded; i++)
            (void)learner_for(o, o->models[o->loaded[i].model], o->loaded[i].version);
        for (i = 0; i < o->n_models; i++)
            poll_model(o, o->models[i]);
        snapshots_due(o);
    }
    return NULL;
}

int md_online_start(struct md_repo *repo, struct md_store *store, struct md_commands *q,
                    unsigned poll_ms, struct md_online **out, struct md_err *err)
{
    struct md_online *o = md_xcalloc(1, sizeof(*o));

    *out = NULL;
    o->repo = repo;
    o->store = store;
    o->q = q;
    o->poll_ms = poll_ms < 10 ? 10 : poll_ms;
    o->batch.items = md_xcalloc(BATCH_MAX + PENDING_MAX, sizeof(*o->batch.items));
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cond, NULL);
    if (pthread_create(&o->thread, NULL, run, o) != 0) {
        pthread_cond_destroy(&o->cond);
        pthread_mutex_destroy(&o->mu);
        free(o->batch.items);
        free(o);
        return md_err_set(err, MD_EINTERNAL, "online learning: cannot start its thread");
    }
    *out = o;
    return MD_OK;
}

void md_online_stop(struct md_online *o)
{
    size_t i;

    if (o == NULL)
        return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->mu);
    (void)pthread_join(o->thread, NULL);
    for (i = 0; i < o->n_learners; i++)
        learner_free(o->learners[i]);
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->mu);
    free(o->batch.items);
    free(o);
}
