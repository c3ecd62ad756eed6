/* SPDX-License-Identifier: MIT */
/*
 * triggers_task.c: the control task that watches every model's triggers.
 * Each second, on the tick: the models whose champion has a `triggers:`
 * section are found (their settings copied), each is measured (drift and
 * quality through the signals registry, which answer from memory; labels
 * from the last count the store thread made), judged (triggers.c), and a
 * trigger that fires becomes a command (MD_COMMAND_TRIGGERED) that
 * control's worker applies: md_training_request, which stores the run,
 * then the event "training_triggered". The tick never waits on the disk:
 * the label counts are store jobs whose results the next tick reads, and
 * the request is the worker's.
 *
 * Threads: the tick owns the model table; a count's done (the store
 * thread) writes the count fields under mu; md_triggers_apply runs on
 * control's worker and reads only its argument and the store.
 */
#include "control/triggers.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <math.h>
#include <pthread.h>

#define TRIGGERS_MS 1000  /* the task's period */
#define RETRY_MS    60000 /* after a refused request, the least wait before the next */
#define COUNT_MS    2000  /* a label count every 2 s at most */

/* One watched model. */
struct tmodel {
    char name[MD_CONTRACT_MAX_NAME + 1];
    bool seen;                    /* found by this tick's look at the repository */
    struct md_trigger_config cfg; /* the champion's, strings pointing below */
    char cron[MD_CRON_MAX + 1];
    char metric[MD_SIGNAL_NAME_MAX];
    int64_t drift_window_ms;       /* the drift section's window */
    int64_t watched_ms;            /* when this task first saw the model's triggers */
    int64_t retry_ms;              /* no request before this (after a refused one) */
    bool was_busy;                 /* a run was queued or running at the last look */
    int64_t ended_ms;              /* when a run was last seen to end; 0: never */
    struct md_command *cmd;        /* a request handed to the worker, not yet seen done */
    enum md_trigger_kind cmd_kind; /* what it asked for */
    /* The label count, under mu (written by the store's done). */
    int64_t anchor_ms;      /* the count's wanted start: the last run, else 0 (every label) */
    int64_t count_since_ms; /* the start the count below is for; -1: none */
    int64_t count_after_id; /* feedback ids counted up to */
    uint64_t count;
};

/* One model's part of a count job (a copy: the table may change meanwhile). */
struct count_item {
    char name[MD_CONTRACT_MAX_NAME + 1];
    int64_t since_ms;
    int64_t after_id;
    int64_t upto_id; /* out */
    uint64_t n;      /* out */
    bool ok;         /* out */
};

struct md_triggers {
    struct md_repo *repo;
    struct md_store *store;
    const struct md_signals *signals;
    struct md_training *training;
    struct md_commands *commands;
    pthread_mutex_t mu; /* guards the count fields of models[], counting */
    struct tmodel *models;
    size_t n, cap;
    bool counting;    /* a count job is out */
    int64_t count_ms; /* when the last count job was handed */
    struct md_store_job job;
    struct count_item *items; /* the job's; freed by its done */
    size_t n_items;
};

struct md_triggers *md_triggers_new(struct md_repo *repo, struct md_store *store,
                                    const struct md_signals *signals, struct md_training *training,
                                    struct md_commands *commands)
{
    struct md_triggers *t = md_xcalloc(1, sizeof(*t));

    t->repo = repo;
    t->store = store;
    t->signals = signals;
    t->training = training;
    t->commands = commands;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void md_triggers_free(struct md_triggers *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        md_command_unref(t->models[i].cmd);
    free(t->models);
    free(t->items);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* ---- the models and their settings ---- */

struct names {
    char (*v)[MD_CONTRACT_MAX_NAME + 1];
    size_t n, cap;
};

static void collect_name(void *ctx, const struct md_repo_row *row)
{
    struct names *l = ctx;

    if (row->live == NULL || (l->n > 0 && strcmp(l->v[l->n - 1], row->model) == 0))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 16 : l->cap * 2;
        l->v = md_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    (void)snprintf(l->v[l->n++], sizeof(l->v[0]), "%s", row->model);
}

static struct tmodel *find(struct md_triggers *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->models[i].name, name) == 0)
            return &t->models[i];
    return NULL;
}

/* The model's entry with the champion's settings c, added when new. */
static void upsert(struct md_triggers *t, const char *name, const struct md_contract *c,
                   int64_t now_ms)
{
    struct tmodel *m = find(t, name);

    if (m == NULL) {
        if (t->n == t->cap) {
            t->cap = t->cap == 0 ? 8 : t->cap * 2;
            pthread_mutex_lock(&t->mu);
            t->models = md_xrealloc(t->models, t->cap * sizeof(*t->models));
            pthread_mutex_unlock(&t->mu);
        }
        m = &t->models[t->n];
        memset(m, 0, sizeof(*m));
        (void)snprintf(m->name, sizeof(m->name), "%s", name);
        m->watched_ms = now_ms;
        m->count_since_ms = -1;
        pthread_mutex_lock(&t->mu);
        t->n++;
        pthread_mutex_unlock(&t->mu);
    }
    m->seen = true;
    /* The strings are copied; cfg points at them only while the tick uses it
     * (settings()), since the table moves when it grows or shrinks. */
    m->cfg = c->triggers;
    m->cfg.cron = NULL;
    m->cfg.quality_metric = NULL;
    (void)snprintf(m->cron, sizeof(m->cron), "%s",
                   c->triggers.cron != NULL ? c->triggers.cron : "");
    (void)snprintf(m->metric, sizeof(m->metric), "%s",
                   c->triggers.quality_metric != NULL ? c->triggers.quality_metric : "");
    m->drift_window_ms = c->drift.window_s * 1000;
}

/* m's settings, their strings pointing into m where it lies now. */
static const struct md_trigger_config *settings(struct tmodel *m)
{
    m->cfg.cron = m->cron[0] != '\0' ? m->cron : NULL;
    m->cfg.quality_metric = m->metric[0] != '\0' ? m->metric : NULL;
    return &m->cfg;
}

/* Finds every model whose champion has triggers; drops those gone. */
static void refresh(struct md_triggers *t, int64_t now_ms)
{
    struct names l = {NULL, 0, 0};
    size_t i, k;

    for (i = 0; i < t->n; i++)
        t->models[i].seen = false;
    md_repo_foreach(t->repo, collect_name, &l);
    for (i = 0; i < l.n; i++) {
        int64_t champion = md_repo_champion(t->repo, l.v[i]);
        struct md_version *v = NULL;
        char num[24];

        (void)snprintf(num, sizeof(num), "%lld", (long long)champion);
        if (md_repo_acquire(t->repo, l.v[i], champion > 0 ? num : NULL, &v, NULL) != MD_OK)
            continue;
        if (v->contract->triggers.present)
            upsert(t, l.v[i], v->contract, now_ms);
        md_version_unref(v);
    }
    free(l.v);
    pthread_mutex_lock(&t->mu);
    for (i = k = 0; i < t->n; i++) {
        if (t->models[i].seen)
            t->models[k++] = t->models[i];
        else
            md_command_unref(t->models[i].cmd);
    }
    t->n = k;
    pthread_mutex_unlock(&t->mu);
}

/* ---- label counts on the store thread ---- */

static int count_run(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_triggers *t = ctx;

    for (size_t i = 0; i < t->n_items; i++) {
        struct count_item *it = &t->items[i];

        it->ok = md_store_tx_labels_since(tx, it->name, it->since_ms, it->after_id, &it->upto_id,
                                          &it->n, err) == MD_OK;
        if (!it->ok)
            return err->code;
    }
    return MD_OK;
}

static void count_done(void *ctx, int code, const struct md_err *err)
{
    struct md_triggers *t = ctx;

    if (code != MD_OK)
        md_log_kv(MD_LOG_WARN, "labels for the triggers not counted", "reason", err->msg,
                  MD_KV_END);
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_items && code == MD_OK; i++) {
        const struct count_item *it = &t->items[i];
        struct tmodel *m = find(t, it->name);

        /* A count for a start the model no longer wants (a run was asked for meanwhile). */
        if (m == NULL || !it->ok || m->anchor_ms != it->since_ms)
            continue;
        if (m->count_since_ms != it->since_ms || it->after_id == 0)
            m->count = 0;
        m->count += it->n;
        m->count_since_ms = it->since_ms;
        m->count_after_id = it->upto_id;
    }
    free(t->items);
    t->items = NULL;
    t->n_items = 0;
    t->counting = false;
    pthread_mutex_unlock(&t->mu);
}

/* Hands the store a count for every model with new_labels, unless one is out. */
static void want_counts(struct md_triggers *t, int64_t now_ms)
{
    size_t n = 0;

    if (t->store == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    if (t->counting || now_ms - t->count_ms < COUNT_MS) {
        pthread_mutex_unlock(&t->mu);
        return;
    }
    for (size_t i = 0; i < t->n; i++)
        n += t->models[i].cfg.new_labels > 0;
    if (n == 0) {
        pthread_mutex_unlock(&t->mu);
        return;
    }
    t->items = md_xcalloc(n, sizeof(*t->items));
    for (size_t i = 0; i < t->n; i++) {
        const struct tmodel *m = &t->models[i];
        struct count_item *it;

        if (m->cfg.new_labels == 0)
            continue;
        it = &t->items[t->n_items++];
        (void)snprintf(it->name, sizeof(it->name), "%s", m->name);
        it->since_ms = m->anchor_ms;
        it->after_id = m->count_since_ms == m->anchor_ms ? m->count_after_id : 0;
    }
    t->counting = true;
    t->count_ms = now_ms;
    pthread_mutex_unlock(&t->mu);
    t->job.run = count_run;
    t->job.done = count_done;
    t->job.ctx = t;
    md_store_submit(t->store, &t->job);
}

/* ---- measuring and judging ---- */

static void measure(struct md_triggers *t, struct tmodel *m, int64_t now_ms,
                    struct md_trigger_obs *o)
{
    struct md_signal_value val;
    struct md_signal_query q;
    struct md_err err;

    memset(o, 0, sizeof(*o));
    o->now_ms = now_ms;
    o->busy = m->cmd != NULL || md_training_busy(t->training, m->name);
    o->last_ms = md_training_last_requested_ms(t->training, m->name);
    if (m->was_busy && !o->busy)
        m->ended_ms = now_ms;
    m->was_busy = o->busy;
    o->ended_ms = m->ended_ms;
    o->watched_ms = m->watched_ms;
    o->drift_features = NAN;
    o->quality = NAN;
    o->labels = -1;
    memset(&q, 0, sizeof(q));
    q.model = m->name;
    q.now_ms = now_ms;
    if (m->cfg.drift) {
        q.metric = "drift_features";
        q.window_ms = m->drift_window_ms;
        if (md_signals_value(t->signals, &q, &val, &err) == MD_OK) {
            o->drift_features = val.value;
            o->drift_rows = val.samples;
        }
    }
    if (m->cfg.quality_metric != NULL) {
        q.metric = m->cfg.quality_metric;
        q.version = md_repo_champion(t->repo, m->name);
        q.window_ms = m->cfg.quality_window_s * 1000;
        if (md_signals_value(t->signals, &q, &val, &err) == MD_OK) {
            o->quality = val.value;
            o->quality_samples = val.samples;
        }
    }
    pthread_mutex_lock(&t->mu);
    m->anchor_ms = o->last_ms;
    if (m->count_since_ms == m->anchor_ms)
        o->labels = (int64_t)m->count;
    pthread_mutex_unlock(&t->mu);
}

/* The outcome of a request handed to the worker, once it is done. */
static void reap(struct tmodel *m, int64_t now_ms)
{
    struct md_err err;
    int rc;

    if (m->cmd == NULL || !md_command_done(m->cmd))
        return;
    rc = md_command_outcome(m->cmd, &err);
    if (rc == MD_OK) {
        md_log_kv(MD_LOG_INFO, "training triggered", "model", m->name, "trigger",
                  md_trigger_kind_name(m->cmd_kind), "answer", md_command_result(m->cmd),
                  MD_KV_END);
    } else {
        md_log_kv(rc == MD_ECONFLICT ? MD_LOG_INFO : MD_LOG_WARN,
                  "a trigger's training was not asked for", "model", m->name, "trigger",
                  md_trigger_kind_name(m->cmd_kind), "reason", err.msg, MD_KV_END);
        m->retry_ms =
            now_ms +
            (int64_t)(m->cfg.cooldown_s * 1000 > RETRY_MS ? m->cfg.cooldown_s * 1000 : RETRY_MS);
    }
    md_command_unref(m->cmd);
    m->cmd = NULL;
}

static void fire(struct md_triggers *t, struct tmodel *m, const struct md_trigger_decision *d)
{
    struct md_triggered_change *ch = md_xcalloc(1, sizeof(*ch));
    struct md_err err;

    ch->kind = (int)d->kind;
    ch->details = md_xstrdup(d->details);
    ch->ctx = t;
    if (md_commands_submit_arg(t->commands, MD_COMMAND_TRIGGERED, m->name, ch,
                               md_triggered_change_free, NULL, NULL, &m->cmd, &err) != MD_OK) {
        m->cmd = NULL;
        return; /* the queue is closed: the daemon is stopping */
    }
    m->cmd_kind = d->kind;
}

static void task(void *ctx, uint64_t mono_ms)
{
    struct md_triggers *t = ctx;
    int64_t now_ms = md_wall_ms();

    MD_UNUSED(mono_ms);
    refresh(t, now_ms);
    for (size_t i = 0; i < t->n; i++) {
        struct tmodel *m = &t->models[i];
        struct md_trigger_decision d;
        struct md_trigger_obs o;

        const struct md_trigger_config *cfg = settings(m);

        reap(m, now_ms);
        measure(t, m, now_ms, &o);
        md_triggers_decide(cfg, &o, &d);
        if (d.fire && now_ms >= m->retry_ms)
            fire(t, m, &d);
    }
    want_counts(t, now_ms);
}

void md_triggers_task(struct md_triggers *t, struct md_control_task *out)
{
    out->name = "triggers";
    out->period_ms = TRIGGERS_MS;
    out->fn = task;
    out->ctx = t;
}

/* ---- on control's worker ---- */

struct event_job {
    struct md_store_event ev;
    char actor[64]; /* "control:trigger:<kind>" */
};

static int run_event(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct event_job *j = ctx;
    char target[MD_STORE_NAME_MAX + 8];
    int rc = md_store_tx_event_add(tx, &j->ev, NULL, err);

    /* The firing in the audit log, in the same transaction. */
    (void)snprintf(target, sizeof(target), "model=%s", j->ev.model);
    if (rc == MD_OK)
        rc = md_store_tx_audit_decision(tx, j->actor, "training.trigger", target, j->ev.message,
                                        j->ev.details, err);
    return rc;
}

int md_triggers_apply(struct md_training *training, const char *model, void *arg, char **answer,
                      struct md_err *err)
{
    const struct md_triggered_change *ch = arg;
    const struct md_triggers *t = ch->ctx;
    const char *kind = md_trigger_kind_name((enum md_trigger_kind)ch->kind);
    struct event_job j;
    struct md_err eerr;
    struct md_buf b;
    char msg[160];
    int64_t id = 0;
    int rc;

    *answer = NULL;
    if (training == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no training runner: training needs --data");
    rc =
        md_training_request(training, model, (enum md_trigger_kind)ch->kind, ch->details, &id, err);
    if (rc != MD_OK)
        return rc;
    md_buf_init(&b, 4096);
    (void)md_buf_printf(&b, "{\"training\":%lld,\"trigger\":\"%s\",\"measured\":%s}", (long long)id,
                        kind, ch->details);
    (void)snprintf(msg, sizeof(msg), "training %lld asked for by the %s trigger", (long long)id,
                   kind);
    memset(&j, 0, sizeof(j));
    j.ev.model = model;
    j.ev.kind = "training_triggered";
    (void)snprintf(j.actor, sizeof(j.actor), "control:trigger:%s", kind);
    j.ev.message = msg;
    j.ev.details = md_buf_error(&b) == MD_OK ? b.data : NULL;
    if (t->store != NULL && md_store_call(t->store, run_event, &j, &eerr) != MD_OK)
        md_log_kv(MD_LOG_WARN, "event training_triggered not stored", "model", model, "reason",
                  eerr.msg, MD_KV_END);
    *answer = md_xstrdup(md_buf_error(&b) == MD_OK ? b.data : "{}");
    md_buf_release(&b);
    return MD_OK;
}
