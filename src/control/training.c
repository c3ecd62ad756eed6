/* SPDX-License-Identifier: MIT */
/*
 * training.c: the training runs control asks for and records (see
 * training.h): the requests (stored as queued, one run at a time per
 * model), the runner's thread that takes them in order, and the commands
 * that ask for one by hand and register what one produced. The run itself
 * (the training set, the child, the evaluation) is control/trainrun.c's.
 *
 * State shared by control's threads and the runner: the table of models
 * (busy, last request) and the queue of runs, under mu.
 */
#include "control/training.h"
#include "control/trainrun.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A model's runs as the runner knows them. */
struct tmodel {
    char *name;
    int64_t busy;         /* the run queued or running, -1 while one is being stored, 0: none */
    int64_t last_request; /* wall clock ms of the last request, 0: never */
};

struct md_training {
    struct md_training_setup setup; /* borrowed pointers */
    pthread_mutex_t mu;             /* guards models, queue, stop */
    pthread_cond_t cv;              /* a run queued, or stop */
    struct tmodel *models;
    size_t n_models;
    struct md_trainrun *queue; /* runs waiting, oldest first */
    bool stop;
    _Atomic bool cancel; /* kills a running child (shutdown) */
    pthread_t thread;
    bool started;
};

const char *md_trigger_kind_name(enum md_trigger_kind k)
{
    switch (k) {
    case MD_TRIGGER_MANUAL:
        return "manual";
    case MD_TRIGGER_SCHEDULE:
        return "schedule";
    case MD_TRIGGER_DRIFT:
        return "drift";
    case MD_TRIGGER_QUALITY:
        return "quality";
    case MD_TRIGGER_LABELS:
        return "labels";
    }
    return "unknown";
}

enum md_trigger_kind md_trigger_kind_parse(const char *name)
{
    for (int k = MD_TRIGGER_MANUAL; k <= MD_TRIGGER_LABELS; k++)
        if (name != NULL && strcmp(name, md_trigger_kind_name((enum md_trigger_kind)k)) == 0)
            return (enum md_trigger_kind)k;
    return (enum md_trigger_kind)0;
}

/* The model's entry, added when absent (caller holds mu). */
static struct tmodel *model_entry(struct md_training *t, const char *name)
{
    for (size_t i = 0; i < t->n_models; i++)
        if (strcmp(t->models[i].name, name) == 0)
            return &t->models[i];
    t->models = md_xrealloc(t->models, (t->n_models + 1) * sizeof(*t->models));
    t->models[t->n_models] = (struct tmodel){md_xstrdup(name), 0, 0};
    return &t->models[t->n_models++];
}

/* ---- start and stop -------------------------------------------------------- */

static void got_last(void *ctx, const char *model, int64_t requested_ms)
{
    struct md_training *t = ctx;

    model_entry(t, model)->last_request = requested_ms;
}

static int run_open(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_training *t = ctx;
    size_t n = 0;
    int rc = md_store_tx_trainings_abandon(
        tx, "the daemon stopped before the run finished (it is not resumed)", &n, err);

    if (rc == MD_OK && n > 0)
        md_log_kv(MD_LOG_WARN, "training runs left unfinished by the last daemon marked failed",
                  "runs", n == 1 ? "1" : "several", MD_KV_END);
    if (rc == MD_OK)
        rc = md_store_tx_trainings_last(tx, got_last, t, err);
    return rc;
}

static void *runner_main(void *arg);

int md_training_new(const struct md_training_setup *setup, struct md_training **out,
                    struct md_err *err)
{
    struct md_training *t = md_xcalloc(1, sizeof(*t));
    int rc;

    *out = NULL;
    t->setup = *setup;
    if (t->setup.threads == 0)
        t->setup.threads = 1;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    atomic_init(&t->cancel, false);
    rc = t->setup.store != NULL ? md_store_call(t->setup.store, run_open, t, err) : MD_OK;
    if (rc == MD_OK) {
        rc = pthread_create(&t->thread, NULL, runner_main, t);
        if (rc != 0)
            rc =
                md_err_set(err, MD_EINTERNAL, "cannot start the training runner: %s", strerror(rc));
        else
            t->started = true;
    }
    if (rc != MD_OK) {
        md_training_free(t);
        return rc;
    }
    *out = t;
    return MD_OK;
}

void md_training_free(struct md_training *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    atomic_store(&t->cancel, true);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (t->started)
        pthread_join(t->thread, NULL);
    while (t->queue != NULL) {
        struct md_trainrun *r = t->queue;

        t->queue = md_trainrun_next(r);
        md_trainrun_free(r);
    }
    for (size_t i = 0; i < t->n_models; i++)
        free(t->models[i].name);
    free(t->models);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

const struct md_trainer *md_training_trainer(const struct md_training *t, const char *name)
{
    for (size_t i = 0; t != NULL && name != NULL && i < t->setup.n_trainers; i++)
        if (strcmp(t->setup.trainers[i].name, name) == 0)
            return &t->setup.trainers[i];
    return NULL;
}

/* ---- requests ---------------------------------------------------------------- */

bool md_training_busy(struct md_training *t, const char *model)
{
    bool busy = false;

    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_models; i++)
        if (strcmp(t->models[i].name, model) == 0)
            busy = t->models[i].busy != 0;
    pthread_mutex_unlock(&t->mu);
    return busy;
}

int64_t md_training_last_requested_ms(struct md_training *t, const char *model)
{
    int64_t ms = 0;

    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_models; i++)
        if (strcmp(t->models[i].name, model) == 0)
            ms = t->models[i].last_request;
    pthread_mutex_unlock(&t->mu);
    return ms;
}

struct add_job {
    struct md_store_training row;
    int64_t id;
};

static int run_add(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct add_job *j = ctx;
    char target[MD_STORE_NAME_MAX + 32];
    int rc = md_store_tx_training_add(tx, &j->row, &j->id, err);

    /* The run asked for in the audit log, in the same transaction. */
    (void)snprintf(target, sizeof(target), "model=%s training=%lld", j->row.model,
                   (long long)j->id);
    if (rc == MD_OK)
        rc = md_store_tx_audit_decision(tx, "control:training", "training.queued", target,
                                        j->row.trigger, NULL, err);
    return rc;
}

/* What was asked, as the run's spec: {"details", "trainer", "params"}. */
static char *spec_json(const char *details, const struct md_training_config *cfg)
{
    json_t *o = json_object();
    json_t *d = details != NULL ? json_loads(details, 0, NULL) : NULL;
    json_t *p = json_object();
    char *out;

    if (!json_is_object(d)) {
        json_decref(d);
        d = json_object();
    }
    (void)json_object_set_new(o, "details", d);
    (void)json_object_set_new(o, "trainer",
                              cfg->trainer != NULL ? json_string(cfg->trainer) : json_null());
    for (size_t i = 0; i < cfg->n_params; i++)
        (void)json_object_set_new(p, cfg->params[i].key, json_string(cfg->params[i].value));
    (void)json_object_set_new(o, "params", p);
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

int md_training_request(struct md_training *t, const char *model, enum md_trigger_kind kind,
                        const char *details, int64_t *id, struct md_err *err)
{
    struct md_version *v = NULL;
    struct md_trainrun *run;
    struct add_job j;
    struct tmodel *m;
    char *spec;
    int64_t busy = 0;
    int rc;

    if (id != NULL)
        *id = 0;
    if (t->setup.store == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no store: training needs --data");
    rc = md_repo_acquire(t->setup.repo, model, NULL, &v, err);
    if (rc != MD_OK)
        return rc;
    if (!v->contract->training.present) {
        md_version_unref(v);
        return md_err_set(err, MD_EINVAL,
                          "model '%s' has no training: section in its model.yaml: nothing says "
                          "how to train it",
                          model);
    }
    if (v->contract->training.trainer != NULL &&
        md_training_trainer(t, v->contract->training.trainer) == NULL) {
        rc = md_err_set(err, MD_EINVAL,
                        "training.trainer: '%s' is not a trainer of the daemon's configuration "
                        "file (trainers:)",
                        v->contract->training.trainer);
        md_version_unref(v);
        return rc;
    }
    spec = spec_json(details, &v->contract->training);
    md_version_unref(v);
    /* Reserved (-1) while it is stored, so that a trigger and a hand asking
     * at once (the tick and the worker) do not both get a run. */
    pthread_mutex_lock(&t->mu);
    m = model_entry(t, model);
    busy = m->busy;
    if (busy == 0)
        m->busy = -1;
    pthread_mutex_unlock(&t->mu);
    if (busy != 0) {
        free(spec);
        if (busy < 0)
            return md_err_set(err, MD_ECONFLICT, "model '%s' has a training being asked for",
                              model);
        return md_err_set(err, MD_ECONFLICT, "model '%s' has training %lld queued or running",
                          model, (long long)busy);
    }
    memset(&j, 0, sizeof(j));
    j.row.model = model;
    j.row.trigger = md_trigger_kind_name(kind);
    j.row.state = "queued";
    j.row.requested_ms = md_wall_ms();
    j.row.spec = spec;
    rc = md_store_call(t->setup.store, run_add, &j, err);
    free(spec);
    if (rc != MD_OK) {
        pthread_mutex_lock(&t->mu);
        model_entry(t, model)->busy = 0;
        pthread_mutex_unlock(&t->mu);
        return rc;
    }
    run = md_trainrun_new(j.id, model, kind, j.row.requested_ms);
    pthread_mutex_lock(&t->mu);
    m = model_entry(t, model);
    m->busy = j.id;
    m->last_request = j.row.requested_ms;
    md_trainrun_append(&t->queue, run);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    md_log_kv(MD_LOG_INFO, "training asked for", "model", model, "trigger",
              md_trigger_kind_name(kind), MD_KV_END);
    if (id != NULL)
        *id = j.id;
    return MD_OK;
}

int md_training_command(struct md_training *t, const char *model,
                        const struct md_retrain_change *ch, char **answer, struct md_err *err)
{
    struct md_buf b;
    int64_t id;
    int rc;

    *answer = NULL;
    if (t == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no training runner: training needs --data");
    rc =
        md_training_request(t, model, MD_TRIGGER_MANUAL, ch != NULL ? ch->details : NULL, &id, err);
    if (rc != MD_OK)
        return rc;
    md_buf_init(&b, 4096);
    (void)md_buf_printf(&b, "{\"id\":%lld,\"model\":", (long long)id);
    (void)md_buf_json_str(&b, model, strlen(model));
    (void)md_buf_puts(&b, ",\"trigger\":\"manual\",\"state\":\"queued\"}");
    if (md_buf_putc(&b, '\0') == MD_OK)
        *answer = md_buf_detach(&b, NULL);
    md_buf_release(&b);
    return MD_OK;
}

/* ---- the runner ---------------------------------------------------------------- */

void md_training_run_over(struct md_training *t, int64_t id)
{
    if (t == NULL || id <= 0)
        return;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n_models; i++)
        if (t->models[i].busy == id)
            t->models[i].busy = 0;
    pthread_mutex_unlock(&t->mu);
}

static void *runner_main(void *arg)
{
    struct md_training *t = arg;

    (void)pthread_setname_np(pthread_self(), "modeld-train");
    /* What the runner does itself (the training set written out, the
     * child watched) waits behind serving too: nice 19, for this thread
     * only. Not the idle class: it takes mu, which control's threads take
     * too, and must not sit on it starved. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    for (;;) {
        struct md_trainrun *r;

        pthread_mutex_lock(&t->mu);
        while (!t->stop && t->queue == NULL)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->stop) {
            pthread_mutex_unlock(&t->mu);
            break;
        }
        r = t->queue;
        t->queue = md_trainrun_next(r);
        pthread_mutex_unlock(&t->mu);
        md_trainrun_execute(r, &t->setup, &t->cancel, t);
        md_training_run_over(t, md_trainrun_id(r));
        md_trainrun_free(r);
    }
    return NULL;
}

/* ---- registration ------------------------------------------------------------ */

struct md_repo *md_training_repo(struct md_training *t)
{
    return t->setup.repo;
}

int md_training_registered(struct md_training *t, struct md_rollouts *rollouts, const char *model,
                           void *arg, char **answer, struct md_err *err)
{
    *answer = NULL;
    if (t == NULL)
        return md_err_set(err, MD_EUNAVAIL, "no training runner");
    return md_trainrun_register(t, rollouts, model, arg, answer, err);
}
