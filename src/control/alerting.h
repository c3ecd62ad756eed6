/* SPDX-License-Identifier: MIT */
/*
 * alerting.h: alert rules at work: the configuration file's `alert_rules:`
 * and `receivers:` sections, the rules stored at start, and the control
 * task that evaluates them (watch/alerts.h), writes each change of state to
 * the store's history, logs it and hands it to the notifier
 * (watch/notify.h), and forwards the traffic events to the receivers that
 * take them.
 *
 *     alert_rules:
 *       fraud_errors:
 *         metric: error_rate
 *         model: fraud
 *         op: ">"
 *         threshold: 0.05
 *         window: 1m
 *         for: 30s
 *     receivers:
 *       ops:
 *         url: http://127.0.0.1:9000/hook
 *         headers: {Authorization: "Bearer s3cret"}
 *         send_resolved: true
 *         events: false
 *
 * Rules from the file are stored with source "file" at each start (a rule
 * of the same name put through the API is replaced, and file rules no
 * longer in the file are removed); the API cannot change or remove them.
 * Rules put through the API are taken into evaluation within a second of
 * their commit (the task reloads the stored rules when md_alerts_touch says
 * they changed).
 */
#ifndef MD_CONTROL_ALERTING_H
#define MD_CONTROL_ALERTING_H

#include "util/common.h"
#include "util/err.h"
#include "control/control.h"
#include "store/store.h"
#include "watch/alerts.h"
#include "watch/notify.h"
#include "watch/signals.h"

#include <yaml.h>

/* The configuration file's sections. */
struct md_alerting_config {
    struct {
        char *name;
        char *json; /* the rule, every default written out */
        size_t line;
    } * rules;
    size_t n_rules;
    char *file; /* the file they came from, for messages */
    struct md_notify_config notify;
};

void md_alerting_config_init(struct md_alerting_config *c);
void md_alerting_config_release(struct md_alerting_config *c);

/* The sections' parsers (ctx: a struct md_alerting_config). MD_EINVAL with
 * "FILE:LINE: alert_rules.NAME.field: reason" or "receivers.NAME.field". */
int md_alert_rules_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                         struct md_err *err) MD_MUST_CHECK;
int md_receivers_parse(void *ctx, yaml_document_t *doc, yaml_node_t *value, const char *file,
                       struct md_err *err) MD_MUST_CHECK;

struct md_alerting;

/* How long the history keeps a change of state (the last one of each rule
 * is kept whatever its age): 30 days. */
#define MD_ALERTING_KEEP_MS (30LL * 24 * 3600 * 1000)

/*
 * Starts alerting: checks the file's rules against signals (each metric must
 * be registered by then) and receivers, stores them, reads every stored rule
 * and the last state of each alert, starts the notifier. external_url is the
 * daemon's address for the notifications. MD_EINVAL naming the file, line
 * and field of a bad rule; the store's errors.
 */
int md_alerting_start(const struct md_alerting_config *c, const char *external_url,
                      struct md_store *store, const struct md_signals *signals,
                      struct md_alerting **out, struct md_err *err) MD_MUST_CHECK;

/* The evaluator and the notifier (for the API), alive until md_alerting_free. */
struct md_alerts *md_alerting_alerts(struct md_alerting *a);
struct md_notify *md_alerting_notify(struct md_alerting *a);

/* The control task that evaluates the rules (every 250 ms; each rule at its
 * own interval). */
void md_alerting_task(struct md_alerting *a, struct md_control_task *out);

/* After the control loop has stopped: waits for its store jobs, stops the
 * notifier, frees. NULL ok. */
void md_alerting_free(struct md_alerting *a);

#endif
