/* SPDX-License-Identifier: MIT */
/*
 * alert_rule.c: reading an alert rule from JSON, checking every field, and
 * writing it back with its defaults spelled out. Evaluation is alerts.c's.
 */
#include "watch/alert_rule.h"

#include "util/fmt.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {">", ">=", "<", "<=", "==", "!="};
static const char *const severity_names[] = {"critical", "warning", "info"};

/* The labels every alert of a rule gets from the rule itself. */
static const char *const reserved_labels[] = {"alertname", "model",   "metric",
                                              "severity",  "version", "route"};

const char *md_alert_op_name(enum md_alert_op op)
{
    return (unsigned)op < MD_ARRAY_LEN(op_names) ? op_names[op] : "?";
}

const char *md_alert_severity_name(enum md_alert_severity s)
{
    return (unsigned)s < MD_ARRAY_LEN(severity_names) ? severity_names[s] : "?";
}

bool md_alert_compare(enum md_alert_op op, double value, double threshold)
{
    if (isnan(value))
        return false;
    switch (op) {
    case MD_ALERT_GT:
        return value > threshold;
    case MD_ALERT_GE:
        return value >= threshold;
    case MD_ALERT_LT:
        return value < threshold;
    case MD_ALERT_LE:
        return value <= threshold;
    case MD_ALERT_EQ:
        return value == threshold;
    case MD_ALERT_NE:
        return value != threshold;
    }
    return false;
}

bool md_alert_name_ok(const char *s)
{
    size_t i;

    if (s == NULL || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return false;
    for (i = 1; s[i] != '\0'; i++) {
        char c = s[i];

        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return i < MD_ALERT_NAME_MAX;
}

/* A label name as Prometheus takes it: [A-Za-z_][A-Za-z0-9_]*, at most 63. */
static bool label_name_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9')))
            return false;
    }
    return i > 0 && i < MD_ALERT_NAME_MAX;
}

/* ---- durations ---------------------------------------------------------- */

int md_alert_duration_parse(const char *text, const char *field, int64_t max_ms, int64_t *out_ms,
                            struct md_err *err)
{
    const char *p = text;
    int64_t total = 0;

    if (*p == '\0')
        return md_err_set(err, MD_EINVAL, "%s: empty duration", field);
    while (*p != '\0') {
        int64_t n = 0;
        int64_t unit;
        size_t digits = 0;

        while (*p >= '0' && *p <= '9') {
            if (n > max_ms)
                return md_err_set(err, MD_EINVAL, "%s: '%.40s' is too long", field, text);
            n = n * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0)
            return md_err_set(err, MD_EINVAL,
                              "%s: '%.40s' is not a duration (seconds, or such as 90s, 5m, 1h30m, "
                              "250ms)",
                              field, text);
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's' || (*p == '\0' && p - digits == text)) {
            unit = 1000;
            p += *p == 's';
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else if (*p == 'd') {
            unit = 86400000;
            p++;
        } else {
            return md_err_set(err, MD_EINVAL,
                              "%s: '%.40s' is not a duration (seconds, or such as 90s, 5m, 1h30m, "
                              "250ms)",
                              field, text);
        }
        if (n > max_ms / unit || total + n * unit > max_ms)
            return md_err_set(err, MD_EINVAL, "%s: '%.40s' is longer than %lld days", field, text,
                              (long long)(max_ms / 86400000));
        total += n * unit;
    }
    *out_ms = total;
    return MD_OK;
}

void md_alert_duration_format(int64_t ms, char *buf, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    size_t len = 0;

    buf[0] = '\0';
    if (ms <= 0) {
        (void)snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(units) && ms > 0; i++) {
        int64_t n = ms / units[i].ms;

        if (n == 0 || len >= size)
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%lld%s", (long long)n, units[i].unit);
        ms -= n * units[i].ms;
    }
}

/* ---- reading ------------------------------------------------------------- */

static int text_field(const json_t *v, const char *where, const char *field, char *out, size_t size,
                      struct md_err *err)
{
    size_t len;

    if (!json_is_string(v))
        return md_err_set(err, MD_EINVAL, "%s%s: must be a string", where, field);
    len = json_string_length(v);
    if (len == 0 || len >= size)
        return md_err_set(err, MD_EINVAL, "%s%s: must be 1 to %zu bytes", where, field, size - 1);
    if (memchr(json_string_value(v), '\0', len) != NULL)
        return md_err_set(err, MD_EINVAL, "%s%s: holds a NUL character", where, field);
    memcpy(out, json_string_value(v), len + 1);
    return MD_OK;
}

static int duration_field(const json_t *v, const char *where, const char *field, int64_t *out,
                          struct md_err *err)
{
    char path[96];

    (void)snprintf(path, sizeof(path), "%s%s", where, field);
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);

        if (n < 0)
            return md_err_set(err, MD_EINVAL, "%s: must not be negative", path);
        if (n > MD_ALERT_WINDOW_MAX_MS / 1000)
            return md_err_set(err, MD_EINVAL, "%s: longer than %lld days", path,
                              (long long)(MD_ALERT_WINDOW_MAX_MS / 86400000));
        *out = (int64_t)n * 1000;
        return MD_OK;
    }
    if (json_is_real(v))
        return md_err_set(err, MD_EINVAL, "%s: %s seconds is not a whole number (write \"250ms\")",
                          path, json_real_value(v) < 0 ? "a negative number of" : "a fraction of");
    if (!json_is_string(v))
        return md_err_set(err, MD_EINVAL,
                          "%s: must be a duration (seconds, or text such as \"5m\")", path);
    if (json_string_value(v)[0] == '-')
        return md_err_set(err, MD_EINVAL, "%s: must not be negative", path);
    return md_alert_duration_parse(json_string_value(v), path, MD_ALERT_WINDOW_MAX_MS, out, err);
}

static int pair_cmp(const void *a, const void *b)
{
    return strcmp(((const struct md_alert_pair *)a)->name, ((const struct md_alert_pair *)b)->name);
}

static int pairs_field(const json_t *v, const char *where, const char *field, bool labels,
                       struct md_alert_pair **out, size_t *n_out, struct md_err *err)
{
    const char *key;
    json_t *val;
    size_t n = 0;

    if (!json_is_object(v))
        return md_err_set(err, MD_EINVAL, "%s%s: must be an object of names to strings", where,
                          field);
    if (json_object_size(v) > MD_ALERT_PAIRS_MAX)
        return md_err_set(err, MD_EINVAL, "%s%s: more than %d entries", where, field,
                          MD_ALERT_PAIRS_MAX);
    *out = md_xcalloc(json_object_size(v) + 1, sizeof(**out));
    json_object_foreach((json_t *)v, key, val)
    {
        size_t len;

        if (labels && !label_name_ok(key))
            return md_err_set(err, MD_EINVAL,
                              "%s%s: '%.64s' is not a label name ([A-Za-z_][A-Za-z0-9_]*, at most "
                              "63 characters)",
                              where, field, key);
        if (!labels && (key[0] == '\0' || strlen(key) >= MD_ALERT_NAME_MAX))
            return md_err_set(err, MD_EINVAL, "%s%s: a name must be 1 to %d bytes", where, field,
                              MD_ALERT_NAME_MAX - 1);
        if (labels) {
            for (size_t i = 0; i < MD_ARRAY_LEN(reserved_labels); i++)
                if (strcmp(key, reserved_labels[i]) == 0)
                    return md_err_set(err, MD_EINVAL,
                                      "%s%s.%s: set by the rule itself, not by a label", where,
                                      field, key);
        }
        if (!json_is_string(val))
            return md_err_set(err, MD_EINVAL, "%s%s.%.64s: must be a string", where, field, key);
        len = json_string_length(val);
        if (len > MD_ALERT_TEXT_MAX)
            return md_err_set(err, MD_EINVAL, "%s%s.%.64s: longer than %d bytes", where, field, key,
                              MD_ALERT_TEXT_MAX);
        if (memchr(json_string_value(val), '\0', len) != NULL)
            return md_err_set(err, MD_EINVAL, "%s%s.%.64s: holds a NUL character", where, field,
                              key);
        (*out)[n].name = md_xstrdup(key);
        (*out)[n].value = md_xstrdup(json_string_value(val));
        n++;
        *n_out = n;
    }
    qsort(*out, n, sizeof(**out), pair_cmp);
    return MD_OK;
}

static int receivers_field(const json_t *v, const char *where, struct md_alert_rule *r,
                           struct md_err *err)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v))
        return md_err_set(err, MD_EINVAL, "%sreceivers: must be a list of receiver names", where);
    if (json_array_size(v) > MD_ALERT_PAIRS_MAX)
        return md_err_set(err, MD_EINVAL, "%sreceivers: more than %d names", where,
                          MD_ALERT_PAIRS_MAX);
    r->receivers = md_xcalloc(json_array_size(v) + 1, sizeof(*r->receivers));
    json_array_foreach(v, i, item)
    {
        const char *s = json_string_value(item);

        if (s == NULL || !md_alert_name_ok(s) || strlen(s) != json_string_length(item))
            return md_err_set(err, MD_EINVAL,
                              "%sreceivers[%zu]: not a receiver name ([A-Za-z][A-Za-z0-9_.-]*, at "
                              "most 63 characters)",
                              where, i);
        for (size_t k = 0; k < r->n_receivers; k++)
            if (strcmp(r->receivers[k], s) == 0)
                return md_err_set(err, MD_EINVAL, "%sreceivers[%zu]: '%s' is named twice", where, i,
                                  s);
        r->receivers[r->n_receivers++] = md_xstrdup(s);
    }
    return MD_OK;
}

static int op_field(const json_t *v, const char *where, enum md_alert_op *out, struct md_err *err)
{
    const char *s = json_string_value(v);

    for (size_t i = 0; s != NULL && i < MD_ARRAY_LEN(op_names); i++) {
        if (strcmp(s, op_names[i]) == 0) {
            *out = (enum md_alert_op)i;
            return MD_OK;
        }
    }
    return md_err_set(err, MD_EINVAL, "%sop: %s%.16s%s is not a comparison (>, >=, <, <=, ==, !=)",
                      where, s != NULL ? "'" : "", s != NULL ? s : "not a string",
                      s != NULL ? "'" : "");
}

static int severity_field(const json_t *v, const char *where, enum md_alert_severity *out,
                          struct md_err *err)
{
    const char *s = json_string_value(v);

    for (size_t i = 0; s != NULL && i < MD_ARRAY_LEN(severity_names); i++) {
        if (strcmp(s, severity_names[i]) == 0) {
            *out = (enum md_alert_severity)i;
            return MD_OK;
        }
    }
    return md_err_set(err, MD_EINVAL, "%sseverity: must be critical, warning or info", where);
}

/* The fields of root, one by one; r holds the defaults. */
static int read_fields(const json_t *root, const char *where, struct md_alert_rule *r,
                       struct md_err *err)
{
    const char *key;
    json_t *v;
    int rc = MD_OK;

    json_object_foreach((json_t *)root, key, v)
    {
        if (strcmp(key, "name") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), r->name) != 0)
                return md_err_set(err, MD_EINVAL, "%sname: must be the rule's name, '%s'", where,
                                  r->name);
        } else if (strcmp(key, "metric") == 0) {
            rc = text_field(v, where, "metric", r->metric, sizeof(r->metric), err);
        } else if (strcmp(key, "model") == 0) {
            rc = text_field(v, where, "model", r->model, sizeof(r->model), err);
        } else if (strcmp(key, "version") == 0) {
            if (json_is_null(v)) {
                r->version = 0;
            } else if (!json_is_integer(v) || json_integer_value(v) < 1) {
                return md_err_set(err, MD_EINVAL, "%sversion: must be a version number (1 or more)",
                                  where);
            } else {
                r->version = (int64_t)json_integer_value(v);
            }
        } else if (strcmp(key, "route") == 0) {
            if (!json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
                rc = text_field(v, where, "route", r->route, sizeof(r->route), err);
        } else if (strcmp(key, "op") == 0) {
            rc = op_field(v, where, &r->op, err);
        } else if (strcmp(key, "threshold") == 0) {
            if (!json_is_number(v) || !isfinite(json_number_value(v)))
                return md_err_set(err, MD_EINVAL, "%sthreshold: must be a finite number", where);
            r->threshold = json_number_value(v);
        } else if (strcmp(key, "window") == 0) {
            rc = duration_field(v, where, "window", &r->window_ms, err);
        } else if (strcmp(key, "for") == 0) {
            rc = duration_field(v, where, "for", &r->for_ms, err);
        } else if (strcmp(key, "interval") == 0) {
            rc = duration_field(v, where, "interval", &r->interval_ms, err);
        } else if (strcmp(key, "min_samples") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return md_err_set(err, MD_EINVAL,
                                  "%smin_samples: must be a whole number, 0 or more", where);
            r->min_samples = (uint64_t)json_integer_value(v);
        } else if (strcmp(key, "severity") == 0) {
            rc = severity_field(v, where, &r->severity, err);
        } else if (strcmp(key, "labels") == 0) {
            rc = pairs_field(v, where, "labels", true, &r->labels, &r->n_labels, err);
        } else if (strcmp(key, "annotations") == 0) {
            rc = pairs_field(v, where, "annotations", false, &r->annotations, &r->n_annotations,
                             err);
        } else if (strcmp(key, "receivers") == 0) {
            rc = receivers_field(v, where, r, err);
        } else {
            return md_err_set(err, MD_EINVAL,
                              "%s%.64s: unknown field (metric, model, version, route, op, "
                              "threshold, window, for, interval, min_samples, severity, labels, "
                              "annotations, receivers)",
                              where, key);
        }
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

int md_alert_rule_from_json(const char *name, const void *root_, const char *where,
                            const struct md_signals *signals, struct md_alert_rule **out,
                            struct md_err *err)
{
    const json_t *root = root_;
    struct md_alert_rule *r;
    int rc;

    *out = NULL;
    if (!md_alert_name_ok(name))
        return md_err_set(err, MD_EINVAL,
                          "%sname: '%.64s' is not a rule name ([A-Za-z][A-Za-z0-9_.-]*, at most "
                          "63 characters)",
                          where, name != NULL ? name : "");
    if (!json_is_object(root))
        return md_err_set(err, MD_EINVAL, "%srule: must be a JSON object", where);
    r = md_xcalloc(1, sizeof(*r));
    memcpy(r->name, name, strlen(name) + 1);
    r->op = (enum md_alert_op) - 1;
    r->threshold = NAN;
    r->window_ms = -1;
    r->interval_ms = 1000;
    r->min_samples = 1;
    r->severity = MD_ALERT_WARNING;
    rc = read_fields(root, where, r, err);
    if (rc == MD_OK) {
        if (r->metric[0] == '\0')
            rc = md_err_set(err, MD_EINVAL,
                            "%smetric: required (a signal's name, such as "
                            "error_rate)",
                            where);
        else if (r->model[0] == '\0')
            rc = md_err_set(err, MD_EINVAL, "%smodel: required", where);
        else if ((int)r->op < 0)
            rc = md_err_set(err, MD_EINVAL, "%sop: required (>, >=, <, <=, ==, !=)", where);
        else if (isnan(r->threshold))
            rc = md_err_set(err, MD_EINVAL, "%sthreshold: required", where);
        else if (r->window_ms < 0)
            rc = md_err_set(err, MD_EINVAL, "%swindow: required (such as \"5m\")", where);
        else if (r->window_ms == 0)
            rc = md_err_set(err, MD_EINVAL, "%swindow: must be longer than 0", where);
        else if (r->interval_ms < 1000)
            rc = md_err_set(err, MD_EINVAL, "%sinterval: must be 1s or longer", where);
    }
    if (rc == MD_OK && signals != NULL) {
        struct md_err why;

        /* A metric no provider has is a bad rule, whatever the registry's code. */
        if (md_signals_check(signals, r->metric, &why) != MD_OK)
            rc = md_err_set(err, MD_EINVAL, "%smetric: %s", where, why.msg);
    }
    if (rc != MD_OK) {
        md_alert_rule_free(r);
        return rc;
    }
    *out = r;
    return MD_OK;
}

int md_alert_rule_parse(const char *name, const char *json, size_t len,
                        const struct md_signals *signals, struct md_alert_rule **out,
                        struct md_err *err)
{
    json_error_t je;
    json_t *root;
    int rc;

    *out = NULL;
    if (len > MD_ALERT_RULE_MAX_BYTES)
        return md_err_set(err, MD_ETOOBIG, "rule: larger than %d bytes", MD_ALERT_RULE_MAX_BYTES);
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return md_err_set(err, MD_EINVAL, "rule: invalid JSON at byte %d: %s", je.position,
                          je.text);
    rc = md_alert_rule_from_json(name, root, "", signals, out, err);
    json_decref(root);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

static void put_pairs(struct md_buf *b, const char *field, const struct md_alert_pair *p, size_t n)
{
    (void)md_buf_printf(b, ",\"%s\":{", field);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_json_str(b, p[i].name, strlen(p[i].name));
        (void)md_buf_putc(b, ':');
        (void)md_buf_json_str(b, p[i].value, strlen(p[i].value));
    }
    (void)md_buf_putc(b, '}');
}

int md_alert_rule_format(const struct md_alert_rule *r, struct md_buf *b)
{
    char d[32];

    (void)md_buf_puts(b, "{\"name\":");
    (void)md_buf_json_str(b, r->name, strlen(r->name));
    (void)md_buf_puts(b, ",\"metric\":");
    (void)md_buf_json_str(b, r->metric, strlen(r->metric));
    (void)md_buf_puts(b, ",\"model\":");
    (void)md_buf_json_str(b, r->model, strlen(r->model));
    if (r->version > 0)
        (void)md_buf_printf(b, ",\"version\":%lld", (long long)r->version);
    else
        (void)md_buf_puts(b, ",\"version\":null");
    (void)md_buf_puts(b, ",\"route\":");
    if (r->route[0] != '\0')
        (void)md_buf_json_str(b, r->route, strlen(r->route));
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_printf(b, ",\"op\":\"%s\",\"threshold\":", md_alert_op_name(r->op));
    (void)md_buf_f64(b, r->threshold, "null");
    md_alert_duration_format(r->window_ms, d, sizeof(d));
    (void)md_buf_printf(b, ",\"window\":\"%s\"", d);
    md_alert_duration_format(r->for_ms, d, sizeof(d));
    (void)md_buf_printf(b, ",\"for\":\"%s\"", d);
    md_alert_duration_format(r->interval_ms, d, sizeof(d));
    (void)md_buf_printf(b, ",\"interval\":\"%s\",\"min_samples\":%llu,\"severity\":\"%s\"", d,
                        (unsigned long long)r->min_samples, md_alert_severity_name(r->severity));
    put_pairs(b, "labels", r->labels, r->n_labels);
    put_pairs(b, "annotations", r->annotations, r->n_annotations);
    (void)md_buf_puts(b, ",\"receivers\":[");
    for (size_t i = 0; i < r->n_receivers; i++) {
        if (i > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_json_str(b, r->receivers[i], strlen(r->receivers[i]));
    }
    (void)md_buf_puts(b, "]}");
    return md_buf_error(b);
}

static void free_pairs(struct md_alert_pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

void md_alert_rule_free(struct md_alert_rule *r)
{
    if (r == NULL)
        return;
    free_pairs(r->labels, r->n_labels);
    free_pairs(r->annotations, r->n_annotations);
    for (size_t i = 0; i < r->n_receivers; i++)
        free(r->receivers[i]);
    free(r->receivers);
    free(r);
}
