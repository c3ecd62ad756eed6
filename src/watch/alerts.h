/* SPDX-License-Identifier: MIT */
/*
 * alerts.h: the alert rules in force and the state of each: the evaluator.
 *
 * Each rule (watch/alert_rule.h) is evaluated every interval: its metric's
 * value over its window (md_signals_value) is compared with its threshold.
 * An alert follows Prometheus's states:
 *
 *   inactive --holds--> pending --held for `for`--> firing --stops--> resolved
 *       ^                  |                                        (= inactive)
 *       +-----stops--------+
 *
 * A rule with `for` 0 goes from inactive to firing at once. "Holds" needs a
 * value: no data (the provider answers NaN, fewer samples than the rule's
 * min_samples, or an error such as an unknown model) never holds, so a
 * metric with no data never fires, and a firing alert whose data stops is
 * resolved. Each change of state is a transition handed back to the caller
 * (control/alerting.c stores it as history, logs it and has it notified).
 *
 * Threads: md_alerts_eval and md_alerts_set_rules on one thread (control's
 * tick); the readers (md_alerts_json, md_alerts_prom, md_alerts_touch) from
 * any thread. One mutex guards the rules and states, held for the copy of a
 * rule set and an evaluation (the providers' reads are counters), never
 * across a store write or a notification.
 */
#ifndef MD_WATCH_ALERTS_H
#define MD_WATCH_ALERTS_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "watch/alert_rule.h"
#include "watch/signals.h"

enum md_alert_state {
    MD_ALERT_INACTIVE = 0,
    MD_ALERT_PENDING,
    MD_ALERT_FIRING,
    MD_ALERT_RESOLVED /* only in a transition: the firing alert has stopped */
};

/* "inactive", "pending", "firing", "resolved"; md_alert_state_parse: -1 if unknown. */
const char *md_alert_state_name(enum md_alert_state s);
int md_alert_state_parse(const char *s);

/* One change of an alert's state, with what a notification and the history need. */
struct md_alert_transition {
    char rule[MD_ALERT_NAME_MAX];
    char model[MD_ALERT_MODEL_MAX];
    enum md_alert_state state; /* the new state: pending, firing, resolved or inactive */
    enum md_alert_state from;  /* the state it left */
    int64_t at_ms;             /* when (wall clock, ms) */
    int64_t active_ms;         /* when the condition began to hold */
    int64_t fired_ms;          /* firing, resolved: when it fired (startsAt); else 0 */
    double value;              /* the metric's value then (NaN: no data) */
    char fingerprint[17];      /* 16 hex digits of the labels' hash */
    char *labels;              /* JSON object, sorted by name (owned) */
    char *annotations;         /* JSON object (owned) */
    char **receivers;          /* the rule's receivers, n_receivers (none: every one); owned */
    size_t n_receivers;
};
void md_alert_transition_release(struct md_alert_transition *t);

/* What an alert's state was when the daemon stopped, to carry it on. */
struct md_alert_restore {
    const char *rule;
    enum md_alert_state state; /* pending or firing; others are ignored */
    int64_t active_ms;
    int64_t fired_ms; /* firing: when it fired */
    double value;
};

struct md_alerts;

/* A set of no rules reading values from signals (borrowed; it must outlive the set). */
struct md_alerts *md_alerts_new(const struct md_signals *signals);
void md_alerts_free(struct md_alerts *a); /* NULL ok */

/*
 * Replaces the rules with rules[0..n) (taken, and the array with them;
 * from_file[i] says rule i came from the configuration file). A rule of the
 * same name and the same definition keeps its state; a rule removed or
 * changed while firing gives a "resolved" transition, pending one an
 * "inactive" one (appended to *out, *n_out; the caller releases them and
 * frees the array). restore (n_restore, may be NULL) gives states to carry
 * on for rules new to the set (a restart).
 */
void md_alerts_set_rules(struct md_alerts *a, struct md_alert_rule **rules, const bool *from_file,
                         size_t n, const struct md_alert_restore *restore, size_t n_restore,
                         int64_t now_ms, struct md_alert_transition **out, size_t *n_out);

/*
 * Evaluates every rule whose interval has come at now_ms (wall clock): the
 * transitions it makes are appended to *out (*n_out counts them; the array
 * grows with md_xrealloc). Returns how many rules were evaluated.
 */
size_t md_alerts_eval(struct md_alerts *a, int64_t now_ms, struct md_alert_transition **out,
                      size_t *n_out);

/* A change of the stored rules was committed or is on its way: the next
 * look (md_alerts_generation) differs. */
void md_alerts_touch(struct md_alerts *a);
uint64_t md_alerts_generation(const struct md_alerts *a);

/* Whether a rule named name came from the configuration file. */
bool md_alerts_from_file(struct md_alerts *a, const char *name);

/*
 * Appends the alerts now pending and firing (state: only those, or -1 for
 * both) as a JSON list of objects: rule, model, state, severity, value,
 * samples, active_at, fired_at (firing), labels, annotations, fingerprint,
 * error (when the provider failed). keep (or NULL) filters by rule and
 * model. b's error.
 */
int md_alerts_json(struct md_alerts *a, int state,
                   bool (*keep)(const void *ctx, const char *rule, const char *model),
                   const void *ctx, struct md_buf *b);

/* Appends the alerts' series to /metrics: rules, alerts by state, evaluations. */
void md_alerts_prom(struct md_alerts *a, struct md_buf *b);

/* The Prometheus-style fingerprint of a sorted label set: 16 hex digits. */
void md_alerts_fingerprint(const char *labels_json, char out[17]);

#endif
