/* SPDX-License-Identifier: MIT */
/*
 * notify.h: notifications to receivers: alerts that fire and resolve, and
 * the traffic events (promoted, rolled back, ...), each sent as an HTTP
 * POST of JSON to a receiver's webhook by a thread of its own, never the
 * caller's (a thread per receiver, so a slow receiver delays no other):
 * a bounded queue per receiver (a full one drops and counts),
 * retries with exponential backoff, counters for /metrics.
 *
 * An alert's body follows Prometheus Alertmanager's webhook format
 * (version "4"): one alert per notification, grouped by alertname:
 *
 *   {"version": "4", "groupKey": "{}:{alertname=\"x\"}", "truncatedAlerts": 0,
 *    "status": "firing"|"resolved", "receiver": NAME,
 *    "groupLabels": {"alertname": ...}, "commonLabels": {...},
 *    "commonAnnotations": {...}, "externalURL": URL,
 *    "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt",
 *                "generatorURL", "fingerprint"}]}
 *
 * An event's body (receivers with events: true):
 *
 *   {"version": "1", "kind": "event", "receiver": NAME, "externalURL": URL,
 *    "event": {"id", "time", "model", "kind", "message", "details"}}
 *
 * A 2xx answer is success; 5xx, 408, 429 and failures to connect or to get
 * an answer in time are retried (after backoff_ms, doubling each time, at
 * most max_backoff_ms, max_attempts in all); other statuses fail at once.
 * A receiver's messages leave in order: a message waiting for its retry
 * holds the receiver's later ones back.
 *
 * Threads: every function from any thread.
 */
#ifndef MD_WATCH_NOTIFY_H
#define MD_WATCH_NOTIFY_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "watch/alert_rule.h"
#include "watch/alerts.h"

#define MD_NOTIFY_RECEIVERS_MAX 32 /* receivers in a configuration */
#define MD_NOTIFY_HEADERS_MAX   16 /* headers of a receiver */

struct md_receiver {
    char *name;                    /* [A-Za-z][A-Za-z0-9_.-]* */
    char *url;                     /* http:// or https:// */
    struct md_alert_pair *headers; /* n_headers "Name: value" sent with each POST */
    size_t n_headers;
    bool send_resolved; /* resolved notifications too (default true) */
    bool events;        /* the traffic events too (default false) */
    size_t line;        /* its line in the configuration file, for messages */
};

/* The configuration file's `receivers:` and how sending is paced. */
struct md_notify_config {
    struct md_receiver *v; /* n of them */
    size_t n;
    size_t queue;            /* messages a receiver holds waiting at most (default 1000) */
    unsigned max_attempts;   /* tries of one message (default 5) */
    unsigned backoff_ms;     /* the first retry's delay (default 500) */
    unsigned max_backoff_ms; /* the longest delay (default 30000) */
    unsigned timeout_ms;     /* one POST's limit (default 5000) */
};

/* Sets the defaults; no receivers. */
void md_notify_config_init(struct md_notify_config *c);
void md_notify_config_release(struct md_notify_config *c);
/* The index of the receiver named name, or -1. */
int md_notify_config_find(const struct md_notify_config *c, const char *name);

struct md_notify;

/*
 * Starts the sender's thread for c's receivers (copied). external_url is the
 * daemon's own address ("http://127.0.0.1:8080"), the bodies' externalURL
 * and the base of generatorURL. MD_EINTERNAL when the thread cannot start.
 */
int md_notify_new(const struct md_notify_config *c, const char *external_url,
                  struct md_notify **out, struct md_err *err) MD_MUST_CHECK;

/* Stops the thread: a POST under way ends within its timeout; messages
 * still queued are dropped. NULL ok. */
void md_notify_free(struct md_notify *n);

/* Queues t's notification for each receiver it names (none: every one) that
 * takes it (firing, or resolved with send_resolved); pending and inactive
 * transitions are not notified. */
void md_notify_alert(struct md_notify *n, const struct md_alert_transition *t);

/* An event as md_notify.h's shape says, for receivers with events: true. */
struct md_notify_event {
    int64_t id;
    int64_t at_ms;
    const char *model;
    const char *kind;
    const char *message;
    const char *details; /* a JSON object */
};
void md_notify_event(struct md_notify *n, const struct md_notify_event *e);

/* Whether a receiver is named name. */
bool md_notify_has_receiver(const struct md_notify *n, const char *name);

/* Whether any receiver takes events. */
bool md_notify_wants_events(const struct md_notify *n);

struct md_notify_stats {
    uint64_t sent;    /* POSTs answered with a 2xx */
    uint64_t failed;  /* messages given up (attempts spent, or refused) */
    uint64_t retried; /* POSTs tried again */
    uint64_t dropped; /* messages not queued: the receiver's queue was full */
    uint64_t queued;  /* messages waiting now */
};
void md_notify_get_stats(struct md_notify *n, struct md_notify_stats *out);

/* Appends the notification counters to /metrics, per receiver. */
void md_notify_prom(struct md_notify *n, struct md_buf *b);

/* Writes the Alertmanager body of t for receiver into b (tests read it too). */
int md_notify_alert_body(const struct md_alert_transition *t, const char *receiver,
                         const char *external_url, struct md_buf *b);

#endif
