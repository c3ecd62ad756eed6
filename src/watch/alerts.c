/* SPDX-License-Identifier: MIT */
/*
 * alerts.c: the evaluator of alert rules: the rules in force, each with its
 * alert's state, stepped by md_alerts_eval (alerts.h has the states). What
 * a transition leads to (history, log, notifications) is the caller's.
 */
#include "watch/alerts.h"

#include "util/fmt.h"
#include "util/mem.h"
#include "util/sha256.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_names[] = {"inactive", "pending", "firing", "resolved"};

const char *md_alert_state_name(enum md_alert_state s)
{
    return (unsigned)s < MD_ARRAY_LEN(state_names) ? state_names[s] : "?";
}

int md_alert_state_parse(const char *s)
{
    for (size_t i = 0; s != NULL && i < MD_ARRAY_LEN(state_names); i++)
        if (strcmp(s, state_names[i]) == 0)
            return (int)i;
    return -1;
}

void md_alert_transition_release(struct md_alert_transition *t)
{
    free(t->labels);
    free(t->annotations);
    for (size_t i = 0; i < t->n_receivers; i++)
        free(t->receivers[i]);
    free(t->receivers);
    memset(t, 0, sizeof(*t));
}

/* A rule and its alert. */
struct slot {
    struct md_alert_rule *rule;
    char *def; /* the rule's JSON: a changed definition is a new rule */
    bool from_file;
    enum md_alert_state state; /* inactive, pending or firing */
    int64_t active_ms;         /* pending or firing: since when the condition holds */
    int64_t fired_ms;          /* firing: since when */
    int64_t next_ms;           /* the next evaluation, 0: at once */
    double value;              /* the last value read (NaN: no data) */
    uint64_t samples;          /* what it stood on */
    char *labels;              /* the alert's labels as JSON */
    char *annotations;         /* the rule's annotations as JSON */
    char fingerprint[17];
    char error[160]; /* the provider's last error, or "" */
    bool templated;  /* its annotations hold {{ }} fields: written again at each value */
};

struct md_alerts {
    pthread_mutex_t mu;
    const struct md_signals *signals;
    struct slot *slots; /* n, guarded by mu */
    size_t n;
    _Atomic uint64_t generation;
    _Atomic uint64_t evaluations; /* rule evaluations */
    _Atomic uint64_t no_data;     /* evaluations without a value */
};

struct md_alerts *md_alerts_new(const struct md_signals *signals)
{
    struct md_alerts *a = md_xcalloc(1, sizeof(*a));

    pthread_mutex_init(&a->mu, NULL);
    a->signals = signals;
    return a;
}

static void slot_release(struct slot *s)
{
    md_alert_rule_free(s->rule);
    free(s->def);
    free(s->labels);
    free(s->annotations);
}

void md_alerts_free(struct md_alerts *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++)
        slot_release(&a->slots[i]);
    free(a->slots);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

void md_alerts_touch(struct md_alerts *a)
{
    atomic_fetch_add(&a->generation, 1);
}

uint64_t md_alerts_generation(const struct md_alerts *a)
{
    return atomic_load(&((struct md_alerts *)a)->generation);
}

/* ---- labels -------------------------------------------------------------- */

void md_alerts_fingerprint(const char *labels_json, char out[17])
{
    char hex[MD_SHA256_HEX];

    md_sha256_hex(labels_json, strlen(labels_json), hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

/* A label or annotation borrowed for a moment. */
struct cpair {
    const char *name;
    const char *value;
};

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cpair *)a)->name, ((const struct cpair *)b)->name);
}

static char *pairs_json(const struct cpair *p, size_t n)
{
    struct md_buf b;
    char *out;

    md_buf_init(&b, (size_t)1 << 20);
    (void)md_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            (void)md_buf_putc(&b, ',');
        (void)md_buf_json_str(&b, p[i].name, strlen(p[i].name));
        (void)md_buf_putc(&b, ':');
        (void)md_buf_json_str(&b, p[i].value, strlen(p[i].value));
    }
    (void)md_buf_putc(&b, '}');
    (void)md_buf_putc(&b, '\0');
    out = md_buf_error(&b) == MD_OK ? md_buf_detach(&b, NULL) : md_xstrdup("{}");
    md_buf_release(&b);
    return out;
}

/* The labels of r's alert: the rule's own and alertname, model, metric,
 * severity, version and route when set; sorted by name. */
static char *alert_labels(const struct md_alert_rule *r)
{
    struct cpair p[MD_ALERT_PAIRS_MAX + 6];
    char version[24];
    size_t n = 0;

    p[n++] = (struct cpair){"alertname", r->name};
    p[n++] = (struct cpair){"model", r->model};
    p[n++] = (struct cpair){"metric", r->metric};
    p[n++] = (struct cpair){"severity", md_alert_severity_name(r->severity)};
    if (r->version > 0) {
        (void)snprintf(version, sizeof(version), "%lld", (long long)r->version);
        p[n++] = (struct cpair){"version", version};
    }
    if (r->route[0] != '\0')
        p[n++] = (struct cpair){"route", r->route};
    for (size_t i = 0; i < r->n_labels && n < MD_ARRAY_LEN(p); i++)
        p[n++] = (struct cpair){r->labels[i].name, r->labels[i].value};
    qsort(p, n, sizeof(p[0]), pair_cmp);
    return pairs_json(p, n);
}

/* The value of label name[0..len) of r's alerts into buf, or NULL when it has none. */
static const char *label_of(const struct md_alert_rule *r, const char *name, size_t len, char *buf,
                            size_t size)
{
    const char *v = NULL;

#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, len) == 0)
    if (IS("alertname"))
        v = r->name;
    else if (IS("model"))
        v = r->model;
    else if (IS("metric"))
        v = r->metric;
    else if (IS("severity"))
        v = md_alert_severity_name(r->severity);
    else if (IS("route") && r->route[0] != '\0')
        v = r->route;
    else if (IS("version") && r->version > 0) {
        (void)snprintf(buf, size, "%lld", (long long)r->version);
        v = buf;
    }
#undef IS
    for (size_t i = 0; v == NULL && i < r->n_labels; i++)
        if (strlen(r->labels[i].name) == len && memcmp(r->labels[i].name, name, len) == 0)
            v = r->labels[i].value;
    return v;
}

/*
 * Appends text with Prometheus's two template fields replaced: {{ $value }}
 * by the metric's value (%g; NaN for no data) and {{ $labels.NAME }} by the
 * alert's label NAME ("" when it has none). Anything else between braces
 * stays as written.
 */
static void expand(struct md_buf *b, const char *text, const struct md_alert_rule *r, double value)
{
    const char *p = text;

    for (;;) {
        const char *open = strstr(p, "{{");
        const char *close = open != NULL ? strstr(open + 2, "}}") : NULL;
        const char *a;
        const char *e;

        if (close == NULL) {
            (void)md_buf_puts(b, p);
            return;
        }
        (void)md_buf_append(b, p, (size_t)(open - p));
        a = open + 2;
        e = close;
        while (a < e && *a == ' ')
            a++;
        while (e > a && e[-1] == ' ')
            e--;
        if (e - a == 6 && memcmp(a, "$value", 6) == 0) {
            (void)md_buf_printf(b, "%g", value);
        } else if (e - a > 8 && memcmp(a, "$labels.", 8) == 0) {
            char num[24];
            const char *v = label_of(r, a + 8, (size_t)(e - a - 8), num, sizeof(num));

            if (v != NULL)
                (void)md_buf_puts(b, v);
        } else {
            (void)md_buf_append(b, open, (size_t)(close + 2 - open));
        }
        p = close + 2;
    }
}

/* Whether r's annotations hold a template field. */
static bool templated(const struct md_alert_rule *r)
{
    for (size_t i = 0; i < r->n_annotations; i++)
        if (strstr(r->annotations[i].value, "{{") != NULL)
            return true;
    return false;
}

/* r's annotations as JSON, their template fields filled with value. */
static char *annotations_json(const struct md_alert_rule *r, double value)
{
    struct md_buf b;
    struct md_buf text;
    char *out;

    md_buf_init(&b, (size_t)1 << 20);
    md_buf_init(&text, (size_t)1 << 20);
    (void)md_buf_putc(&b, '{');
    for (size_t i = 0; i < r->n_annotations; i++) {
        md_buf_reset(&text);
        expand(&text, r->annotations[i].value, r, value);
        if (i > 0)
            (void)md_buf_putc(&b, ',');
        (void)md_buf_json_str(&b, r->annotations[i].name, strlen(r->annotations[i].name));
        (void)md_buf_putc(&b, ':');
        if (md_buf_error(&text) == MD_OK)
            (void)md_buf_json_str(&b, text.data != NULL ? text.data : "", text.len);
        else
            (void)md_buf_puts(&b, "\"\"");
    }
    (void)md_buf_putc(&b, '}');
    (void)md_buf_putc(&b, '\0');
    out = md_buf_error(&b) == MD_OK ? md_buf_detach(&b, NULL) : md_xstrdup("{}");
    md_buf_release(&b);
    md_buf_release(&text);
    return out;
}

static char *rule_def(const struct md_alert_rule *r)
{
    struct md_buf b;
    char *out;

    md_buf_init(&b, (size_t)1 << 20);
    (void)md_alert_rule_format(r, &b);
    (void)md_buf_putc(&b, '\0');
    out = md_buf_error(&b) == MD_OK ? md_buf_detach(&b, NULL) : md_xstrdup("");
    md_buf_release(&b);
    return out;
}

/* ---- transitions --------------------------------------------------------- */

static void emit(const struct slot *s, enum md_alert_state from, enum md_alert_state to,
                 int64_t now_ms, struct md_alert_transition **out, size_t *n_out)
{
    struct md_alert_transition *t;

    *out = md_xrealloc(*out, (*n_out + 1) * sizeof(**out));
    t = &(*out)[(*n_out)++];
    memset(t, 0, sizeof(*t));
    memcpy(t->rule, s->rule->name, sizeof(t->rule));
    memcpy(t->model, s->rule->model, sizeof(t->model));
    t->state = to;
    t->from = from;
    t->at_ms = now_ms;
    t->active_ms = s->active_ms;
    t->fired_ms = to == MD_ALERT_FIRING || to == MD_ALERT_RESOLVED ? s->fired_ms : 0;
    t->value = s->value;
    memcpy(t->fingerprint, s->fingerprint, sizeof(t->fingerprint));
    t->labels = md_xstrdup(s->labels);
    t->annotations = md_xstrdup(s->annotations);
    if (s->rule->n_receivers > 0) {
        t->receivers = md_xcalloc(s->rule->n_receivers, sizeof(*t->receivers));
        for (size_t i = 0; i < s->rule->n_receivers; i++)
            t->receivers[i] = md_xstrdup(s->rule->receivers[i]);
        t->n_receivers = s->rule->n_receivers;
    }
}

/* The rule of s is going away (removed, changed): its alert ends. */
static void end_alert(struct slot *s, int64_t now_ms, struct md_alert_transition **out,
                      size_t *n_out)
{
    if (s->state == MD_ALERT_FIRING)
        emit(s, MD_ALERT_FIRING, MD_ALERT_RESOLVED, now_ms, out, n_out);
    else if (s->state == MD_ALERT_PENDING)
        emit(s, MD_ALERT_PENDING, MD_ALERT_INACTIVE, now_ms, out, n_out);
    s->state = MD_ALERT_INACTIVE;
}

void md_alerts_set_rules(struct md_alerts *a, struct md_alert_rule **rules, const bool *from_file,
                         size_t n, const struct md_alert_restore *restore, size_t n_restore,
                         int64_t now_ms, struct md_alert_transition **out, size_t *n_out)
{
    struct slot *slots = md_xcalloc(n + 1, sizeof(*slots));

    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &slots[i];

        s->rule = rules[i];
        s->def = rule_def(rules[i]);
        s->from_file = from_file != NULL && from_file[i];
        s->labels = alert_labels(rules[i]);
        s->annotations = annotations_json(rules[i], NAN);
        s->templated = templated(rules[i]);
        md_alerts_fingerprint(s->labels, s->fingerprint);
        s->value = NAN;
        for (size_t k = 0; k < a->n; k++) {
            struct slot *old = &a->slots[k];

            if (old->rule == NULL || strcmp(old->rule->name, s->rule->name) != 0)
                continue;
            if (strcmp(old->def, s->def) == 0) {
                s->state = old->state;
                s->active_ms = old->active_ms;
                s->fired_ms = old->fired_ms;
                s->next_ms = old->next_ms;
                s->value = old->value;
                s->samples = old->samples;
                memcpy(s->error, old->error, sizeof(s->error));
                if (s->templated && !isnan(s->value)) {
                    free(s->annotations);
                    s->annotations = annotations_json(s->rule, s->value);
                }
            } else {
                end_alert(old, now_ms, out, n_out);
            }
            slot_release(old);
            old->rule = NULL;
            break;
        }
        if (s->state != MD_ALERT_INACTIVE)
            continue;
        for (size_t k = 0; k < n_restore; k++) {
            const struct md_alert_restore *r = &restore[k];

            if (strcmp(r->rule, s->rule->name) != 0 ||
                (r->state != MD_ALERT_PENDING && r->state != MD_ALERT_FIRING))
                continue;
            s->state = r->state;
            s->active_ms = r->active_ms;
            s->fired_ms = r->state == MD_ALERT_FIRING ? r->fired_ms : 0;
            s->value = r->value;
            if (s->templated && !isnan(s->value)) {
                free(s->annotations);
                s->annotations = annotations_json(s->rule, s->value);
            }
        }
    }
    /* The rules that are gone. */
    for (size_t k = 0; k < a->n; k++) {
        if (a->slots[k].rule == NULL)
            continue;
        end_alert(&a->slots[k], now_ms, out, n_out);
        slot_release(&a->slots[k]);
    }
    free(a->slots);
    a->slots = slots;
    a->n = n;
    pthread_mutex_unlock(&a->mu);
    free(rules);
}

/* The value of s's metric now: NaN when there is no data (the reason in s->error). */
static double read_value(struct md_alerts *a, struct slot *s, int64_t now_ms)
{
    const struct md_alert_rule *r = s->rule;
    struct md_signal_query q = {r->metric, NULL,         r->model, r->version,
                                r->route,  r->window_ms, now_ms};
    struct md_signal_value v = {NAN, 0};
    struct md_err err;

    if (md_signals_value(a->signals, &q, &v, &err) != MD_OK) {
        (void)snprintf(s->error, sizeof(s->error), "%s", err.msg);
        s->samples = 0;
        return NAN;
    }
    s->error[0] = '\0';
    s->samples = v.samples;
    if (v.samples < r->min_samples)
        return NAN;
    return v.value;
}

static void step(struct md_alerts *a, struct slot *s, int64_t now_ms,
                 struct md_alert_transition **out, size_t *n_out)
{
    const struct md_alert_rule *r = s->rule;
    double v = read_value(a, s, now_ms);
    bool holds = md_alert_compare(r->op, v, r->threshold);

    atomic_fetch_add(&a->evaluations, 1);
    if (isnan(v))
        atomic_fetch_add(&a->no_data, 1);
    s->value = v;
    if (s->templated && !isnan(v)) {
        free(s->annotations);
        s->annotations = annotations_json(r, v);
    }
    switch (s->state) {
    case MD_ALERT_INACTIVE:
    case MD_ALERT_RESOLVED:
        if (!holds)
            break;
        s->active_ms = now_ms;
        if (r->for_ms == 0) {
            s->state = MD_ALERT_FIRING;
            s->fired_ms = now_ms;
            emit(s, MD_ALERT_INACTIVE, MD_ALERT_FIRING, now_ms, out, n_out);
        } else {
            s->state = MD_ALERT_PENDING;
            emit(s, MD_ALERT_INACTIVE, MD_ALERT_PENDING, now_ms, out, n_out);
        }
        break;
    case MD_ALERT_PENDING:
        if (!holds) {
            s->state = MD_ALERT_INACTIVE;
            emit(s, MD_ALERT_PENDING, MD_ALERT_INACTIVE, now_ms, out, n_out);
        } else if (now_ms - s->active_ms >= r->for_ms) {
            s->state = MD_ALERT_FIRING;
            s->fired_ms = now_ms;
            emit(s, MD_ALERT_PENDING, MD_ALERT_FIRING, now_ms, out, n_out);
        }
        break;
    case MD_ALERT_FIRING:
        if (!holds) {
            s->state = MD_ALERT_INACTIVE;
            emit(s, MD_ALERT_FIRING, MD_ALERT_RESOLVED, now_ms, out, n_out);
        }
        break;
    }
}

size_t md_alerts_eval(struct md_alerts *a, int64_t now_ms, struct md_alert_transition **out,
                      size_t *n_out)
{
    size_t evaluated = 0;

    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n; i++) {
        struct slot *s = &a->slots[i];

        if (s->next_ms != 0 && now_ms < s->next_ms)
            continue;
        step(a, s, now_ms, out, n_out);
        /* The next evaluation on the rule's grid, skipping what was missed. */
        s->next_ms = (s->next_ms == 0 ? now_ms : s->next_ms) + s->rule->interval_ms;
        if (s->next_ms <= now_ms)
            s->next_ms = now_ms + s->rule->interval_ms;
        evaluated++;
    }
    pthread_mutex_unlock(&a->mu);
    return evaluated;
}

bool md_alerts_from_file(struct md_alerts *a, const char *name)
{
    bool found = false;

    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n && !found; i++)
        found = a->slots[i].from_file && strcmp(a->slots[i].rule->name, name) == 0;
    pthread_mutex_unlock(&a->mu);
    return found;
}

/* ---- readers -------------------------------------------------------------- */

int md_alerts_json(struct md_alerts *a, int state,
                   bool (*keep)(const void *ctx, const char *rule, const char *model),
                   const void *ctx, struct md_buf *b)
{
    size_t k = 0;

    (void)md_buf_putc(b, '[');
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n; i++) {
        const struct slot *s = &a->slots[i];

        if (s->state != MD_ALERT_PENDING && s->state != MD_ALERT_FIRING)
            continue;
        if (state >= 0 && (int)s->state != state)
            continue;
        if (keep != NULL && !keep(ctx, s->rule->name, s->rule->model))
            continue;
        if (k++ > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_puts(b, "{\"rule\":");
        (void)md_buf_json_str(b, s->rule->name, strlen(s->rule->name));
        (void)md_buf_puts(b, ",\"model\":");
        (void)md_buf_json_str(b, s->rule->model, strlen(s->rule->model));
        (void)md_buf_printf(
            b, ",\"state\":\"%s\",\"severity\":\"%s\",\"value\":", md_alert_state_name(s->state),
            md_alert_severity_name(s->rule->severity));
        (void)md_buf_f64(b, s->value, "null");
        (void)md_buf_printf(b, ",\"samples\":%llu,\"active_at\":", (unsigned long long)s->samples);
        md_buf_json_time_ms(b, s->active_ms);
        if (s->state == MD_ALERT_FIRING) {
            (void)md_buf_puts(b, ",\"fired_at\":");
            md_buf_json_time_ms(b, s->fired_ms);
        }
        (void)md_buf_printf(b, ",\"labels\":%s,\"annotations\":%s,\"fingerprint\":\"%s\"",
                            s->labels, s->annotations, s->fingerprint);
        if (s->error[0] != '\0') {
            (void)md_buf_puts(b, ",\"error\":");
            (void)md_buf_json_str(b, s->error, strlen(s->error));
        }
        (void)md_buf_putc(b, '}');
    }
    pthread_mutex_unlock(&a->mu);
    (void)md_buf_putc(b, ']');
    return md_buf_error(b);
}

void md_alerts_prom(struct md_alerts *a, struct md_buf *b)
{
    size_t by_state[3] = {0, 0, 0};
    size_t rules;

    pthread_mutex_lock(&a->mu);
    rules = a->n;
    for (size_t i = 0; i < a->n; i++)
        if ((unsigned)a->slots[i].state < 3)
            by_state[a->slots[i].state]++;
    pthread_mutex_unlock(&a->mu);
    (void)md_buf_printf(b,
                        "# HELP modeld_alert_rules Alert rules in force.\n"
                        "# TYPE modeld_alert_rules gauge\n"
                        "modeld_alert_rules %zu\n"
                        "# HELP modeld_alerts Alerts by state (inactive, pending, firing).\n"
                        "# TYPE modeld_alerts gauge\n"
                        "modeld_alerts{state=\"inactive\"} %zu\n"
                        "modeld_alerts{state=\"pending\"} %zu\n"
                        "modeld_alerts{state=\"firing\"} %zu\n"
                        "# HELP modeld_alert_evaluations_total Evaluations of alert rules.\n"
                        "# TYPE modeld_alert_evaluations_total counter\n"
                        "modeld_alert_evaluations_total %llu\n"
                        "# HELP modeld_alert_evaluations_no_data_total Evaluations of alert rules "
                        "that found no data.\n"
                        "# TYPE modeld_alert_evaluations_no_data_total counter\n"
                        "modeld_alert_evaluations_no_data_total %llu\n",
                        rules, by_state[0], by_state[1], by_state[2],
                        (unsigned long long)atomic_load(&a->evaluations),
                        (unsigned long long)atomic_load(&a->no_data));
}
