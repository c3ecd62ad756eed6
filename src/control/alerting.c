/* SPDX-License-Identifier: MIT */
/*
 * alerting.c: the configuration file's alert rules and receivers, the rules
 * stored at start, and the control task that evaluates them and sends what
 * changes to the history, the log and the receivers (alerting.h).
 */
#include "control/alerting.h"
#include "control/strategies.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/yaml.h"
#include "watch/metrics.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- the configuration file ---------------------------------------------- */

void md_alerting_config_init(struct md_alerting_config *c)
{
    memset(c, 0, sizeof(*c));
    md_notify_config_init(&c->notify);
}

void md_alerting_config_release(struct md_alerting_config *c)
{
    for (size_t i = 0; i < c->n_rules; i++) {
        free(c->rules[i].name);
        free(c->rules[i].json);
    }
    free(c->rules);
    free(c->file);
    md_notify_config_release(&c->notify);
    md_alerting_config_init(c);
}

/* A key of a section's mapping as a name, into name; false when it is not one. */
static bool key_name(const yaml_node_t *k, char name[MD_ALERT_NAME_MAX])
{
    if (k == NULL || k->type != YAML_SCALAR_NODE || md_yaml_len(k) >= MD_ALERT_NAME_MAX)
        return false;
    memcpy(name, md_yaml_text(k), md_yaml_len(k));
    name[md_yaml_len(k)] = '\0';
    return md_alert_name_ok(name);
}

static void remember_file(struct md_alerting_config *c, const char *file)
{
    if (c->file == NULL)
        c->file = md_xstrdup(file);
}

int md_alert_rules_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                         struct md_err *err)
{
    struct md_alerting_config *c = ctx;
    yaml_node_pair_t *p;

    remember_file(c, file);
    if (value->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL, "%s:%zu: alert_rules: a mapping of names to rules", file,
                          md_yaml_line(value));
    for (p = value->data.mapping.pairs.start; p < value->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        struct md_alert_rule *r = NULL;
        struct md_buf b;
        char name[MD_ALERT_NAME_MAX];
        char where[MD_ALERT_NAME_MAX + 16];
        json_t *j;
        int rc;

        if (!key_name(k, name))
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: alert_rules: a name is [A-Za-z][A-Za-z0-9_.-]*, at most "
                              "63 characters",
                              file, k != NULL ? md_yaml_line(k) : md_yaml_line(value));
        for (size_t i = 0; i < c->n_rules; i++)
            if (strcmp(c->rules[i].name, name) == 0)
                return md_err_set(err, MD_EINVAL, "%s:%zu: alert_rules.%s: named twice", file,
                                  md_yaml_line(k), name);
        (void)snprintf(where, sizeof(where), "alert_rules.%s.", name);
        j = v != NULL ? md_strategies_yaml_to_json(doc, v) : NULL;
        if (j == NULL)
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: alert_rules.%s: not a rule (a mapping of scalars, lists "
                              "and mappings, keys unique)",
                              file, md_yaml_line(k), name);
        rc = md_alert_rule_from_json(name, j, where, NULL, &r, err);
        json_decref(j);
        if (rc != MD_OK) {
            md_err_prefix(err, "%s:%zu: ", file, md_yaml_line(v));
            return rc;
        }
        md_buf_init(&b, (size_t)1 << 20);
        if (md_alert_rule_format(r, &b) != MD_OK || md_buf_putc(&b, '\0') != MD_OK) {
            md_buf_release(&b);
            md_alert_rule_free(r);
            return md_err_set(err, MD_ENOMEM, "%s: out of memory", where);
        }
        md_alert_rule_free(r);
        c->rules = md_xrealloc(c->rules, (c->n_rules + 1) * sizeof(*c->rules));
        c->rules[c->n_rules].name = md_xstrdup(name);
        c->rules[c->n_rules].json = md_buf_detach(&b, NULL);
        c->rules[c->n_rules].line = md_yaml_line(v);
        c->n_rules++;
        md_buf_release(&b);
    }
    return MD_OK;
}

/* A scalar's text as a new string of at most max bytes; NULL when it is not one. */
static char *scalar_text(const yaml_node_t *n, size_t max)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE || md_yaml_len(n) == 0 || md_yaml_len(n) > max ||
        memchr(md_yaml_text(n), '\0', md_yaml_len(n)) != NULL)
        return NULL;
    return md_xstrndup(md_yaml_text(n), md_yaml_len(n));
}

static int read_bool(const yaml_node_t *n, bool *out)
{
    if (n == NULL || md_yaml_kind_of(n) != MD_YAML_BOOL)
        return -1;
    *out = (md_yaml_text(n)[0] | 0x20) == 't';
    return 0;
}

/* A header name: visible ASCII but ':'; a value without CR or LF. */
static bool header_ok(const char *name, const char *value)
{
    for (const char *p = name; *p != '\0'; p++)
        if (*p <= ' ' || *p > '~' || *p == ':')
            return false;
    return strpbrk(value, "\r\n") == NULL;
}

static int read_headers(yaml_document_t *doc, yaml_node_t *v, const char *file, const char *name,
                        struct md_receiver *r, struct md_err *err)
{
    yaml_node_pair_t *p;

    if (v->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL,
                          "%s:%zu: receivers.%s.headers: a mapping of names to "
                          "values",
                          file, md_yaml_line(v), name);
    for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        char *hn = scalar_text(yaml_document_get_node(doc, p->key), MD_ALERT_NAME_MAX - 1);
        char *hv = scalar_text(yaml_document_get_node(doc, p->value), MD_ALERT_TEXT_MAX);

        if (hn == NULL || hv == NULL || !header_ok(hn, hv) ||
            r->n_headers == MD_NOTIFY_HEADERS_MAX) {
            free(hn);
            free(hv);
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: receivers.%s.headers: each a header name (no spaces or "
                              "':') and a value on one line, at most %d of them",
                              file, md_yaml_line(v), name, MD_NOTIFY_HEADERS_MAX);
        }
        r->headers = md_xrealloc(r->headers, (r->n_headers + 1) * sizeof(*r->headers));
        r->headers[r->n_headers].name = hn;
        r->headers[r->n_headers].value = hv;
        r->n_headers++;
    }
    return MD_OK;
}

/* One receiver's fields into r (its name set). */
static int read_receiver(yaml_document_t *doc, yaml_node_t *v, const char *file,
                         struct md_receiver *r, struct md_err *err)
{
    yaml_node_pair_t *p;

    if (v == NULL || v->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL,
                          "%s:%zu: receivers.%s: a mapping (url, headers, "
                          "send_resolved, events)",
                          file, v != NULL ? md_yaml_line(v) : r->line, r->name);
    for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *x = yaml_document_get_node(doc, p->value);
        const char *key = k != NULL && k->type == YAML_SCALAR_NODE ? md_yaml_text(k) : "";
        size_t line = x != NULL ? md_yaml_line(x) : r->line;
        int rc = MD_OK;

        if (strcmp(key, "url") == 0) {
            free(r->url);
            r->url = scalar_text(x, 2048);
            if (r->url == NULL ||
                (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0) ||
                strpbrk(r->url, " \r\n\t") != NULL)
                rc = md_err_set(err, MD_EINVAL,
                                "%s:%zu: receivers.%s.url: an http:// or https:// URL", file, line,
                                r->name);
        } else if (strcmp(key, "headers") == 0 && x != NULL) {
            rc = read_headers(doc, x, file, r->name, r, err);
        } else if (strcmp(key, "send_resolved") == 0) {
            if (read_bool(x, &r->send_resolved) != 0)
                rc = md_err_set(err, MD_EINVAL, "%s:%zu: receivers.%s.send_resolved: true or false",
                                file, line, r->name);
        } else if (strcmp(key, "events") == 0) {
            if (read_bool(x, &r->events) != 0)
                rc = md_err_set(err, MD_EINVAL, "%s:%zu: receivers.%s.events: true or false", file,
                                line, r->name);
        } else {
            rc = md_err_set(err, MD_EINVAL,
                            "%s:%zu: receivers.%s.%.64s: unknown key (url, headers, send_resolved, "
                            "events)",
                            file, line, r->name, key);
        }
        if (rc != MD_OK)
            return rc;
    }
    if (r->url == NULL)
        return md_err_set(err, MD_EINVAL, "%s:%zu: receivers.%s.url: required", file, r->line,
                          r->name);
    return MD_OK;
}

int md_receivers_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                       struct md_err *err)
{
    struct md_alerting_config *c = ctx;
    struct md_notify_config *nc = &c->notify;
    yaml_node_pair_t *p;

    remember_file(c, file);
    if (value->type != YAML_MAPPING_NODE)
        return md_err_set(err, MD_EINVAL, "%s:%zu: receivers: a mapping of names to receivers",
                          file, md_yaml_line(value));
    for (p = value->data.mapping.pairs.start; p < value->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        struct md_receiver *r;
        char name[MD_ALERT_NAME_MAX];

        if (!key_name(k, name))
            return md_err_set(err, MD_EINVAL,
                              "%s:%zu: receivers: a name is [A-Za-z][A-Za-z0-9_.-]*, at most 63 "
                              "characters",
                              file, k != NULL ? md_yaml_line(k) : md_yaml_line(value));
        if (md_notify_config_find(nc, name) >= 0)
            return md_err_set(err, MD_EINVAL, "%s:%zu: receivers.%s: named twice", file,
                              md_yaml_line(k), name);
        if (nc->n == MD_NOTIFY_RECEIVERS_MAX)
            return md_err_set(err, MD_EINVAL, "%s:%zu: receivers: more than %d", file,
                              md_yaml_line(k), MD_NOTIFY_RECEIVERS_MAX);
        nc->v = md_xrealloc(nc->v, (nc->n + 1) * sizeof(*nc->v));
        r = &nc->v[nc->n++];
        memset(r, 0, sizeof(*r));
        r->name = md_xstrdup(name);
        r->send_resolved = true;
        r->line = md_yaml_line(k);
        if (read_receiver(doc, yaml_document_get_node(doc, p->value), file, r, err) != MD_OK)
            return MD_EINVAL;
    }
    return MD_OK;
}

/* ---- at work -------------------------------------------------------------- */

struct md_alerting {
    struct md_store *store;
    const struct md_signals *signals;
    struct md_alerts *alerts;
    struct md_notify *notify;
    uint64_t loaded_gen;      /* tick thread: the generation of the rules in force */
    _Atomic bool reloading;   /* a reload job is on its way */
    pthread_mutex_t mu;       /* guards ready */
    struct reload *ready;     /* a reload done, for the tick to apply */
    _Atomic bool events_busy; /* an events job is on its way */
    int64_t last_event_id;    /* the events job's: the newest event handed on */
    int64_t next_events_ms;   /* tick thread */
    int64_t next_prune_ms;    /* tick thread: the next removal of old history */
    _Atomic bool pruning;     /* a removal is on its way */
};

/* Rules read back from the store. */
struct reload {
    struct md_store_job job;
    struct md_alerting *a;
    struct md_alert_rule **rules; /* n */
    bool *from_file;
    size_t n;
    uint64_t gen;
    /* At start only: the last change of each alert. */
    struct md_alert_restore *restore;
    size_t n_restore;
};

static void reload_free(struct reload *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        md_alert_rule_free(r->rules[i]);
    free(r->rules);
    free(r->from_file);
    for (size_t i = 0; i < r->n_restore; i++)
        free((char *)r->restore[i].rule);
    free(r->restore);
    free(r);
}

static void collect_rule(void *ctx, const struct md_store_alert_rule *sr)
{
    struct reload *r = ctx;
    struct md_alert_rule *rule;
    struct md_err err;

    if (md_alert_rule_parse(sr->name, sr->rule, strlen(sr->rule), r->a->signals, &rule, &err) !=
        MD_OK) {
        md_log_kv(MD_LOG_WARN, "a stored alert rule is not evaluated", "rule", sr->name, "reason",
                  err.msg, MD_KV_END);
        return;
    }
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers to rules */
    r->rules = md_xrealloc(r->rules, (r->n + 1) * sizeof(*r->rules));
    r->from_file = md_xrealloc(r->from_file, (r->n + 1) * sizeof(*r->from_file));
    r->rules[r->n] = rule;
    r->from_file[r->n] = strcmp(sr->source, "file") == 0;
    r->n++;
}

static int run_reload(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_alert_rules(tx, NULL, collect_rule, ctx, err);
}

static void reload_done(void *ctx, int code, const struct md_err *err)
{
    struct reload *r = ctx;
    struct md_alerting *a = r->a;

    if (code != MD_OK) {
        md_log_kv(MD_LOG_WARN, "alert rules not read back from the store", "reason", err->msg,
                  MD_KV_END);
        reload_free(r);
    } else {
        pthread_mutex_lock(&a->mu);
        reload_free(a->ready);
        a->ready = r;
        pthread_mutex_unlock(&a->mu);
    }
    atomic_store(&a->reloading, false);
}

/* Changes of state written to the history. */
struct history {
    struct md_store_job job;
    struct md_alert_transition *t; /* n */
    size_t n;
};

static void history_free(struct history *h)
{
    for (size_t i = 0; i < h->n; i++)
        md_alert_transition_release(&h->t[i]);
    free(h->t);
    free(h);
}

static int run_history(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct history *h = ctx;
    int rc = MD_OK;

    for (size_t i = 0; i < h->n && rc == MD_OK; i++) {
        const struct md_alert_transition *t = &h->t[i];
        struct md_store_alert sa = {0,
                                    t->rule,
                                    t->model,
                                    md_alert_state_name(t->state),
                                    t->at_ms,
                                    t->active_ms,
                                    t->fired_ms,
                                    t->value,
                                    t->fingerprint,
                                    t->labels,
                                    t->annotations};

        rc = md_store_tx_alert_add(tx, &sa, NULL, err);
        if (rc == MD_OK && (t->state == MD_ALERT_FIRING || t->state == MD_ALERT_RESOLVED)) {
            /* Firing and resolving in the audit log, in the same transaction. */
            char actor[MD_STORE_NAME_MAX + 16];
            char action[32];
            char target[MD_STORE_NAME_MAX + 8];

            (void)snprintf(actor, sizeof(actor), "control:alert:%s", t->rule);
            (void)snprintf(action, sizeof(action), "alert.%s", md_alert_state_name(t->state));
            target[0] = '\0';
            if (t->model[0] != '\0')
                (void)snprintf(target, sizeof(target), "model=%s", t->model);
            rc = md_store_tx_audit_decision(tx, actor, action, target[0] != '\0' ? target : NULL,
                                            "ok", NULL, err);
        }
    }
    return rc;
}

static void history_done(void *ctx, int code, const struct md_err *err)
{
    struct history *h = ctx;

    if (code != MD_OK)
        md_log_kv(MD_LOG_WARN, "alert changes not stored in the history", "reason", err->msg,
                  MD_KV_END);
    history_free(h);
}

/* Logs and notifies each change of t (taken with the array), then stores them. */
static void handle(struct md_alerting *a, struct md_alert_transition *t, size_t n)
{
    struct history *h;

    if (n == 0) {
        free(t);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char value[32];
        char msg[32];

        if (isnan(t[i].value))
            (void)snprintf(value, sizeof(value), "no data");
        else
            (void)snprintf(value, sizeof(value), "%.6g", t[i].value);
        (void)snprintf(msg, sizeof(msg), "alert %s", md_alert_state_name(t[i].state));
        md_log_kv(t[i].state == MD_ALERT_FIRING ? MD_LOG_WARN : MD_LOG_INFO, msg, "rule", t[i].rule,
                  "model", t[i].model, "value", value, "from", md_alert_state_name(t[i].from),
                  "labels", t[i].labels, MD_KV_END);
        md_notify_alert(a->notify, &t[i]);
    }
    h = md_xcalloc(1, sizeof(*h));
    h->t = t;
    h->n = n;
    h->job.run = run_history;
    h->job.done = history_done;
    h->job.ctx = h;
    md_store_submit(a->store, &h->job);
}

/* The traffic events for receivers that take them. */
struct events {
    struct md_store_job job;
    struct md_alerting *a;
    struct md_notify_event *v; /* n, newest first, strings owned */
    size_t n;
};

static void collect_event(void *ctx, const struct md_store_event *e)
{
    struct events *ev = ctx;
    struct md_notify_event *x;

    if (e->id <= ev->a->last_event_id)
        return;
    ev->v = md_xrealloc(ev->v, (ev->n + 1) * sizeof(*ev->v));
    x = &ev->v[ev->n++];
    x->id = e->id;
    x->at_ms = e->at_ms;
    x->model = md_xstrdup(e->model);
    x->kind = md_xstrdup(e->kind);
    x->message = md_xstrdup(e->message);
    x->details = md_xstrdup(e->details);
}

static int run_events(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_store_event_filter f = {NULL, NULL, 0, 0, 0, 1000};

    return md_store_tx_events(tx, &f, collect_event, ctx, err);
}

static void events_done(void *ctx, int code, const struct md_err *err)
{
    struct events *ev = ctx;
    struct md_alerting *a = ev->a;

    MD_UNUSED(err);
    /* Oldest first, as they happened. */
    for (size_t i = ev->n; i-- > 0;) {
        struct md_notify_event *x = &ev->v[i];

        /* A failed read is read again at the next check, from the same id. */
        if (code == MD_OK) {
            md_notify_event(a->notify, x);
            if (x->id > a->last_event_id)
                a->last_event_id = x->id;
        }
        free((char *)x->model);
        free((char *)x->kind);
        free((char *)x->message);
        free((char *)x->details);
    }
    free(ev->v);
    free(ev);
    atomic_store(&a->events_busy, false);
}

/* The history's old changes removed (MD_ALERTING_KEEP_MS), once an hour. */
struct prune {
    struct md_store_job job;
    struct md_alerting *a;
    int64_t before_ms;
};

static int run_prune(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct prune *p = ctx;
    int64_t n = 0;
    int rc = md_store_tx_alerts_prune(tx, p->before_ms, &n, err);

    /* Retention in the audit log when it removed something. */
    if (rc == MD_OK && n > 0) {
        char details[64];

        (void)snprintf(details, sizeof(details), "{\"removed\":%lld}", (long long)n);
        rc = md_store_tx_audit_decision(tx, "control:retention", "retention.alerts", NULL, "ok",
                                        details, err);
    }
    return rc;
}

static void prune_done(void *ctx, int code, const struct md_err *err)
{
    struct prune *p = ctx;

    if (code != MD_OK)
        md_log_kv(MD_LOG_WARN, "old alert changes not removed", "reason", err->msg, MD_KV_END);
    atomic_store(&p->a->pruning, false);
    free(p);
}

static void prune(struct md_alerting *a, uint64_t mono_ms, int64_t now)
{
    struct prune *p;

    if ((int64_t)mono_ms < a->next_prune_ms || atomic_exchange(&a->pruning, true))
        return;
    a->next_prune_ms = (int64_t)mono_ms + 3600LL * 1000;
    p = md_xcalloc(1, sizeof(*p));
    p->a = a;
    p->before_ms = now - MD_ALERTING_KEEP_MS;
    p->job.run = run_prune;
    p->job.done = prune_done;
    p->job.ctx = p;
    md_store_submit(a->store, &p->job);
}

static void tick(void *ctx, uint64_t mono_ms)
{
    struct md_alerting *a = ctx;
    struct md_alert_transition *t = NULL;
    size_t n = 0;
    int64_t now = md_wall_ms();
    uint64_t gen = md_alerts_generation(a->alerts);
    struct reload *ready;

    /* Rules changed through the API: read them back once committed. */
    pthread_mutex_lock(&a->mu);
    ready = a->ready;
    a->ready = NULL;
    pthread_mutex_unlock(&a->mu);
    if (ready != NULL) {
        md_alerts_set_rules(a->alerts, ready->rules, ready->from_file, ready->n, NULL, 0, now, &t,
                            &n);
        a->loaded_gen = ready->gen;
        ready->rules = NULL;
        ready->n = 0;
        reload_free(ready);
    }
    if (gen != a->loaded_gen && !atomic_exchange(&a->reloading, true)) {
        struct reload *r = md_xcalloc(1, sizeof(*r));

        r->a = a;
        r->gen = gen;
        r->job.run = run_reload;
        r->job.done = reload_done;
        r->job.ctx = r;
        md_store_submit(a->store, &r->job);
    }
    (void)md_alerts_eval(a->alerts, now, &t, &n);
    handle(a, t, n);
    if (md_notify_wants_events(a->notify) && (int64_t)mono_ms >= a->next_events_ms &&
        !atomic_exchange(&a->events_busy, true)) {
        struct events *ev = md_xcalloc(1, sizeof(*ev));

        a->next_events_ms = (int64_t)mono_ms + 1000;
        ev->a = a;
        ev->job.run = run_events;
        ev->job.done = events_done;
        ev->job.ctx = ev;
        md_store_submit(a->store, &ev->job);
    }
    prune(a, mono_ms, now);
}

void md_alerting_task(struct md_alerting *a, struct md_control_task *out)
{
    out->name = "alerts";
    out->period_ms = 250;
    out->fn = tick;
    out->ctx = a;
}

/* ---- start ------------------------------------------------------------------ */

struct start {
    const struct md_alerting_config *c;
    struct reload *r;
    int64_t last_event;
    char **stale; /* stored file rules no longer in the file */
    size_t n_stale;
};

static void find_stale(void *ctx, const struct md_store_alert_rule *sr)
{
    struct start *s = ctx;

    if (strcmp(sr->source, "file") != 0)
        return;
    for (size_t i = 0; i < s->c->n_rules; i++)
        if (strcmp(s->c->rules[i].name, sr->name) == 0)
            return;
    s->stale = md_xrealloc(s->stale, (s->n_stale + 1) * sizeof(*s->stale));
    s->stale[s->n_stale++] = md_xstrdup(sr->name);
}

struct old_rule {
    char *json;
    char *source;
};

static void read_old(void *ctx, const struct md_store_alert_rule *sr)
{
    struct old_rule *o = ctx;

    o->json = md_xstrdup(sr->rule);
    o->source = md_xstrdup(sr->source);
}

static void collect_last(void *ctx, const struct md_store_alert *sa)
{
    struct reload *r = ctx;
    struct md_alert_restore *x;
    int st = md_alert_state_parse(sa->state);

    if (st != MD_ALERT_PENDING && st != MD_ALERT_FIRING)
        return;
    r->restore = md_xrealloc(r->restore, (r->n_restore + 1) * sizeof(*r->restore));
    x = &r->restore[r->n_restore++];
    x->rule = md_xstrdup(sa->rule);
    x->state = (enum md_alert_state)st;
    x->active_ms = sa->active_ms;
    x->fired_ms = sa->fired_ms;
    x->value = sa->value;
}

static void newest_event(void *ctx, const struct md_store_event *e)
{
    int64_t *id = ctx;

    if (e->id > *id)
        *id = e->id;
}

/* A change the configuration file made, in the audit log (actor "config"). */
static int audit_config(struct md_store_tx *tx, const char *action, const char *name,
                        struct md_err *err)
{
    char target[MD_STORE_NAME_MAX + 8];

    (void)snprintf(target, sizeof(target), "name=%s", name);
    return md_store_tx_audit_decision(tx, "config", action, target, "ok", NULL, err);
}

/* One file rule stored, with an event when it is new or changed. */
static int store_file_rule(struct md_store_tx *tx, const char *name, const char *json,
                           struct md_err *err)
{
    struct md_store_event ev = {0, 0, "", "alert_rule_stored", "", "{}"};
    struct md_store_alert_rule sr = {name, json, "file", 0};
    struct old_rule old = {NULL, NULL};
    char message[200];
    int rc = md_store_tx_alert_rules(tx, name, read_old, &old, err);

    if (rc == MD_ENOTFOUND)
        rc = MD_OK;
    if (rc == MD_OK &&
        (old.json == NULL || strcmp(old.json, json) != 0 || strcmp(old.source, "file") != 0)) {
        if (old.source != NULL && strcmp(old.source, "api") == 0)
            md_log_kv(MD_LOG_WARN,
                      "an alert rule put through the API is replaced by the configuration file's",
                      "rule", name, MD_KV_END);
        rc = md_store_tx_alert_rule_put(tx, &sr, err);
        (void)snprintf(message, sizeof(message),
                       "alert rule '%s' stored from the configuration file", name);
        ev.message = message;
        if (rc == MD_OK)
            rc = md_store_tx_event_add(tx, &ev, NULL, err);
        if (rc == MD_OK)
            rc = audit_config(tx, "alert_rule.stored", name, err);
    }
    free(old.json);
    free(old.source);
    return rc;
}

static int run_start(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct start *s = ctx;
    struct md_store_alert_filter last = {NULL, NULL, NULL, 0, 0, 1000, true};
    struct md_store_event_filter newest = {NULL, NULL, 0, 0, 0, 1};
    int rc = MD_OK;

    for (size_t i = 0; i < s->c->n_rules && rc == MD_OK; i++)
        rc = store_file_rule(tx, s->c->rules[i].name, s->c->rules[i].json, err);
    if (rc == MD_OK)
        rc = md_store_tx_alert_rules(tx, NULL, find_stale, s, err);
    for (size_t i = 0; i < s->n_stale && rc == MD_OK; i++) {
        struct md_store_event ev = {0, 0, "", "alert_rule_removed", "", "{}"};
        char message[200];

        rc = md_store_tx_alert_rule_delete(tx, s->stale[i], err);
        (void)snprintf(message, sizeof(message),
                       "alert rule '%s' removed: no longer in the configuration file", s->stale[i]);
        ev.message = message;
        if (rc == MD_OK)
            rc = md_store_tx_event_add(tx, &ev, NULL, err);
        if (rc == MD_OK)
            rc = audit_config(tx, "alert_rule.removed", s->stale[i], err);
    }
    if (rc == MD_OK)
        rc = md_store_tx_alert_rules(tx, NULL, collect_rule, s->r, err);
    if (rc == MD_OK)
        rc = md_store_tx_alerts(tx, &last, collect_last, s->r, err);
    if (rc == MD_OK)
        rc = md_store_tx_events(tx, &newest, newest_event, &s->last_event, err);
    return rc;
}

/* The file's rules checked as they will be evaluated: metric, receivers. */
static int check_file_rules(const struct md_alerting_config *c, const struct md_signals *signals,
                            struct md_err *err)
{
    for (size_t i = 0; i < c->n_rules; i++) {
        struct md_alert_rule *r;
        int rc = md_alert_rule_parse(c->rules[i].name, c->rules[i].json, strlen(c->rules[i].json),
                                     signals, &r, err);

        if (rc != MD_OK) {
            md_err_prefix(err, "%s:%zu: alert_rules.%s.", c->file != NULL ? c->file : "config",
                          c->rules[i].line, c->rules[i].name);
            return rc;
        }
        for (size_t k = 0; k < r->n_receivers; k++) {
            if (md_notify_config_find(&c->notify, r->receivers[k]) < 0) {
                rc = md_err_set(err, MD_EINVAL,
                                "%s:%zu: alert_rules.%s.receivers[%zu]: no receiver named '%s' "
                                "in receivers:",
                                c->file != NULL ? c->file : "config", c->rules[i].line,
                                c->rules[i].name, k, r->receivers[k]);
                break;
            }
        }
        md_alert_rule_free(r);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

int md_alerting_start(const struct md_alerting_config *c, const char *external_url,
                      struct md_store *store, const struct md_signals *signals,
                      struct md_alerting **out, struct md_err *err)
{
    struct md_alerting *a;
    struct start s;
    struct md_alert_transition *t = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    rc = check_file_rules(c, signals, err);
    if (rc != MD_OK)
        return rc;
    a = md_xcalloc(1, sizeof(*a));
    a->store = store;
    a->signals = signals;
    pthread_mutex_init(&a->mu, NULL);
    memset(&s, 0, sizeof(s));
    s.c = c;
    s.r = md_xcalloc(1, sizeof(*s.r));
    s.r->a = a;
    rc = md_store_call(store, run_start, &s, err);
    for (size_t i = 0; i < s.n_stale; i++)
        free(s.stale[i]);
    free(s.stale);
    if (rc == MD_OK)
        rc = md_notify_new(&c->notify, external_url, &a->notify, err);
    if (rc != MD_OK) {
        reload_free(s.r);
        md_alerting_free(a);
        return rc;
    }
    a->alerts = md_alerts_new(signals);
    md_alerts_set_rules(a->alerts, s.r->rules, s.r->from_file, s.r->n, s.r->restore, s.r->n_restore,
                        md_wall_ms(), &t, &n);
    s.r->rules = NULL;
    s.r->n = 0;
    reload_free(s.r);
    for (size_t i = 0; i < n; i++)
        md_alert_transition_release(&t[i]);
    free(t);
    a->last_event_id = s.last_event;
    a->loaded_gen = md_alerts_generation(a->alerts);
    *out = a;
    return MD_OK;
}

struct md_alerts *md_alerting_alerts(struct md_alerting *a)
{
    return a != NULL ? a->alerts : NULL;
}

struct md_notify *md_alerting_notify(struct md_alerting *a)
{
    return a != NULL ? a->notify : NULL;
}

static int run_nothing(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    MD_UNUSED(tx);
    MD_UNUSED(ctx);
    MD_UNUSED(err);
    return MD_OK;
}

void md_alerting_free(struct md_alerting *a)
{
    struct md_err err;

    if (a == NULL)
        return;
    /* The jobs submitted before this one are done (and their memory freed)
     * when it is. */
    if (a->store != NULL && md_store_call(a->store, run_nothing, NULL, &err) != MD_OK)
        md_log_kv(MD_LOG_DEBUG, "alerting stopped after a store that was closing", "reason",
                  err.msg, MD_KV_END);
    md_notify_free(a->notify);
    md_alerts_free(a->alerts);
    reload_free(a->ready);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
