/* SPDX-License-Identifier: MIT */
/*
 * alert_rule.h: one alert rule: a condition on a named metric (watch/signals.h)
 * of a model, optionally narrowed to a version and a route, compared with a
 * threshold over a window, held for a duration before it fires; with a
 * severity, labels, annotations and the receivers it notifies. Read from
 * JSON (the API's body, the configuration file's YAML turned into JSON) and
 * written back as JSON with every default spelled out (what the store keeps).
 *
 *     {"metric": "error_rate", "model": "fraud", "op": ">", "threshold": 0.05,
 *      "window": "1m", "for": "30s", "severity": "critical",
 *      "labels": {"team": "risk"}, "annotations": {"summary": "..."}}
 *
 * Durations are a whole number of seconds (30) or text: digits and a unit,
 * ms, s, m, h or d, one or more ("1m30s"). Evaluating rules is alerts.h's.
 */
#ifndef MD_WATCH_ALERT_RULE_H
#define MD_WATCH_ALERT_RULE_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "watch/signals.h"

#define MD_ALERT_NAME_MAX       64    /* a rule's or receiver's name, NUL included */
#define MD_ALERT_MODEL_MAX      128   /* a model's name, NUL included */
#define MD_ALERT_ROUTE_MAX      64    /* a route's name, NUL included */
#define MD_ALERT_PAIRS_MAX      32    /* labels, annotations, receivers of a rule: each */
#define MD_ALERT_TEXT_MAX       4096  /* a label's or annotation's value, in bytes */
#define MD_ALERT_RULE_MAX_BYTES 65536 /* a rule's JSON */
#define MD_ALERT_WINDOW_MAX_MS  (31LL * 24 * 3600 * 1000) /* a window, a `for`: 31 days */

enum md_alert_op {
    MD_ALERT_GT = 0,
    MD_ALERT_GE,
    MD_ALERT_LT,
    MD_ALERT_LE,
    MD_ALERT_EQ,
    MD_ALERT_NE
};

enum md_alert_severity { MD_ALERT_CRITICAL = 0, MD_ALERT_WARNING, MD_ALERT_INFO };

/* A name and a text (a label, an annotation). */
struct md_alert_pair {
    char *name;
    char *value;
};

struct md_alert_rule {
    char name[MD_ALERT_NAME_MAX];    /* [A-Za-z][A-Za-z0-9_.-]* */
    char metric[MD_SIGNAL_NAME_MAX]; /* a signal's name, with its argument if any */
    char model[MD_ALERT_MODEL_MAX];  /* required */
    int64_t version;                 /* 0: every version */
    char route[MD_ALERT_ROUTE_MAX];  /* "": every route */
    enum md_alert_op op;
    double threshold;     /* finite */
    int64_t window_ms;    /* > 0 */
    int64_t for_ms;       /* >= 0: 0 fires at the first evaluation that holds */
    int64_t interval_ms;  /* >= 1000: how often it is evaluated */
    uint64_t min_samples; /* fewer samples in the window: no data */
    enum md_alert_severity severity;
    struct md_alert_pair *labels; /* n_labels, sorted by name, names unique */
    size_t n_labels;
    struct md_alert_pair *annotations; /* n_annotations, sorted by name */
    size_t n_annotations;
    char **receivers; /* n_receivers names; none: every receiver */
    size_t n_receivers;
};

/* ">", ">=", ...; "critical", "warning", "info". */
const char *md_alert_op_name(enum md_alert_op op);
const char *md_alert_severity_name(enum md_alert_severity s);

/* Whether value op threshold holds (false for NaN). */
bool md_alert_compare(enum md_alert_op op, double value, double threshold);

/* Whether s is a rule or receiver name: [A-Za-z][A-Za-z0-9_.-]*, at most 63. */
bool md_alert_name_ok(const char *s);

/*
 * Reads a duration: a whole number of seconds, or text such as "90s", "5m",
 * "1h30m", "250ms". MD_EINVAL when malformed or above max_ms; the message
 * names field.
 */
int md_alert_duration_parse(const char *text, const char *field, int64_t max_ms, int64_t *out_ms,
                            struct md_err *err) MD_MUST_CHECK;
/* Writes ms as the shortest duration text ("1h30m", "500ms", "0s") into buf. */
void md_alert_duration_format(int64_t ms, char *buf, size_t size);

/*
 * Reads a rule named name from root, a JSON object (a struct json_t *, kept
 * opaque here): the fields above; unknown fields are refused. where prefixes
 * every message ("" for the API's body, "alert_rules.NAME." for the file's);
 * each names the field and the reason ("threshold: must be a finite number").
 * When signals is not NULL the metric must be one it has (md_signals_check).
 * MD_OK with *out set (free with md_alert_rule_free), or MD_EINVAL.
 */
int md_alert_rule_from_json(const char *name, const void *root, const char *where,
                            const struct md_signals *signals, struct md_alert_rule **out,
                            struct md_err *err) MD_MUST_CHECK;

/* The same from JSON text (at most MD_ALERT_RULE_MAX_BYTES: MD_ETOOBIG above). */
int md_alert_rule_parse(const char *name, const char *json, size_t len,
                        const struct md_signals *signals, struct md_alert_rule **out,
                        struct md_err *err) MD_MUST_CHECK;

/* Appends r as a JSON object with every field (name included); b's error. */
int md_alert_rule_format(const struct md_alert_rule *r, struct md_buf *b);

void md_alert_rule_free(struct md_alert_rule *r); /* NULL ok */

#endif
