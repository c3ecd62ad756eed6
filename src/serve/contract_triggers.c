/* SPDX-License-Identifier: MIT */
/*
 * contract_triggers.c: model.yaml's `triggers:` section, when a training
 * starts by itself (control/triggers.c judges them). Every key is
 * optional, but the section names one trigger at least:
 *
 *   triggers:
 *     schedule: {every: 7d}          # or {cron: "0 3 * * 1"} (UTC)
 *     drift: true                    # the overall drift verdict is "drift"
 *     quality: {metric: roc_auc, below: 0.8, window: 1h, min_samples: 200}
 *     new_labels: 5000               # labels received since the last training
 *     cooldown: 1h                   # default 1h; 0: none
 *
 * Durations are whole seconds or text such as 90s, 30m, 12h, 7d. A quality
 * metric is one of the quality signals (watch/outcomes.c) that fits the
 * model's task, compared with `below:` when higher is better (roc_auc,
 * accuracy, f1, r2...) and with `above:` when lower is (log_loss, brier,
 * mae, rmse). The model needs a `training:` section (parsed before this).
 * When the section is absent the defaults are filled in all the same,
 * present false.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"
#include "watch/alert_rule.h"

#include <math.h>

#define MAX_EVERY_MS    (366LL * 86400 * 1000) /* schedule.every: a year */
#define MAX_WINDOW_MS   (30LL * 86400 * 1000)  /* quality.window: 30 days */
#define MAX_COOLDOWN_MS (366LL * 86400 * 1000)

enum { T_SCHEDULE, T_DRIFT, T_QUALITY, T_NEW_LABELS, T_COOLDOWN, T_COUNT };
enum { S_EVERY, S_CRON, S_COUNT };
enum { Q_METRIC, Q_BELOW, Q_ABOVE, Q_WINDOW, Q_MIN_SAMPLES, Q_COUNT };

/* What a quality metric needs of the model, and which way is worse. */
enum need { ANY, CLASSES, BINARY, REGRESSION };
static const struct {
    const char *name;
    enum need need;
    bool lower_better;
    int arg; /* 0: none, 1: a class required, 2: a class optional */
} metrics[] = {
    {"accuracy", CLASSES, false, 0},  {"f1", CLASSES, false, 2},
    {"precision", CLASSES, false, 1}, {"recall", CLASSES, false, 1},
    {"roc_auc", BINARY, false, 0},    {"log_loss", BINARY, true, 0},
    {"brier", BINARY, true, 0},       {"mae", REGRESSION, true, 0},
    {"rmse", REGRESSION, true, 0},    {"r2", REGRESSION, false, 0},
    {"mean_reward", ANY, false, 0},   {"mean_rating", ANY, false, 0},
};

static const char metric_list[] = "accuracy, f1, f1:<class>, precision:<class>, recall:<class>, "
                                  "roc_auc, log_loss, brier, mae, rmse, r2, mean_reward, "
                                  "mean_rating";

/* A duration (seconds or text such as 90s, 1h) into *out_ms, at most max_ms. */
static int duration(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                    int64_t max_ms, int64_t *out_ms)
{
    const char *s;
    size_t len;
    char text[64];
    int rc = md_contract__want_text(x, n, path, sizeof(text) - 1, &s, &len);

    if (rc != MD_OK)
        return rc;
    memcpy(text, s, len);
    text[len] = '\0';
    return md_alert_duration_parse(text, path, max_ms, out_ms, x->err);
}

static int parse_schedule(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"every", "cron", NULL};
    struct md_trigger_config *t = &x->c->triggers;
    yaml_node_t *v[S_COUNT] = {0};
    int64_t ms = 0;
    int rc = md_contract__map_collect(x, n, "triggers.schedule", keys, v);

    if (rc != MD_OK)
        return rc;
    if ((v[S_EVERY] == NULL) == (v[S_CRON] == NULL))
        return md_contract__fail(x, "triggers.schedule",
                                 "give one of every (an interval such as 7d) or cron (five "
                                 "fields, UTC)");
    if (v[S_EVERY] != NULL) {
        rc = duration(x, v[S_EVERY], "triggers.schedule.every", MAX_EVERY_MS, &ms);
        if (rc != MD_OK)
            return rc;
        if (ms < 1000 || ms % 1000 != 0)
            return md_contract__fail(x, "triggers.schedule.every",
                                     "%lld ms is not a whole number of seconds from 1s",
                                     (long long)ms);
        t->every_s = (uint64_t)(ms / 1000);
        return MD_OK;
    }
    {
        const char *s;
        size_t len;
        char text[MD_CRON_MAX + 1];
        struct md_err cerr;

        rc = md_contract__want_text(x, v[S_CRON], "triggers.schedule.cron", MD_CRON_MAX, &s, &len);
        if (rc != MD_OK)
            return rc;
        memcpy(text, s, len);
        text[len] = '\0';
        if (md_cron_parse(text, &t->cron_expr, &cerr) != MD_OK)
            return md_contract__fail(x, "triggers.schedule.cron", "%s", cerr.msg);
        t->cron = md_contract__dup_text(x, s, len);
        if (t->cron == NULL)
            return md_contract__oom(x);
    }
    return MD_OK;
}

/* Whether the model's labels include label (len bytes). */
static bool has_label(const struct md_contract *c, const char *label, size_t len)
{
    for (size_t i = 0; i < c->n_labels; i++)
        if (strlen(c->labels[i]) == len && memcmp(c->labels[i], label, len) == 0)
            return true;
    return false;
}

/* quality.metric: a quality signal that fits the task; *lower_better set. */
static int quality_metric(struct md_contract__ctx *x, const yaml_node_t *n, bool *lower_better)
{
    static const char *const needs[] = {"", "a classification model",
                                        "a binary classification "
                                        "model (two labels)",
                                        "a regression model"};
    const struct md_contract *c = x->c;
    const char *path = "triggers.quality.metric";
    const char *s;
    const char *colon;
    size_t len, base;
    size_t i;
    int rc = md_contract__want_text(x, n, path, 96, &s, &len);

    if (rc != MD_OK)
        return rc;
    colon = memchr(s, ':', len);
    base = colon != NULL ? (size_t)(colon - s) : len;
    for (i = 0; i < MD_ARRAY_LEN(metrics); i++)
        if (strlen(metrics[i].name) == base && memcmp(metrics[i].name, s, base) == 0)
            break;
    if (i == MD_ARRAY_LEN(metrics))
        return md_contract__fail(x, path, "'%.*s' is not a quality metric (%s)", (int)len, s,
                                 metric_list);
    if ((metrics[i].need == CLASSES && c->task != MD_TASK_CLASSIFICATION) ||
        (metrics[i].need == BINARY && (c->task != MD_TASK_CLASSIFICATION || c->n_labels != 2)) ||
        (metrics[i].need == REGRESSION && c->task != MD_TASK_REGRESSION))
        return md_contract__fail(x, path, "%s needs %s", metrics[i].name, needs[metrics[i].need]);
    if (colon == NULL && metrics[i].arg == 1)
        return md_contract__fail(x, path, "%s needs a class: %s:<label>", metrics[i].name,
                                 metrics[i].name);
    if (colon != NULL && metrics[i].arg == 0)
        return md_contract__fail(x, path, "%s takes no argument after ':'", metrics[i].name);
    if (colon != NULL && !has_label(c, colon + 1, len - base - 1))
        return md_contract__fail(x, path, "'%.*s' is not one of the model's labels",
                                 (int)(len - base - 1), colon + 1);
    *lower_better = metrics[i].lower_better;
    x->c->triggers.quality_metric = md_contract__dup_text(x, s, len);
    return x->c->triggers.quality_metric == NULL ? md_contract__oom(x) : MD_OK;
}

static int parse_quality(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"metric", "below", "above", "window", "min_samples", NULL};
    struct md_trigger_config *t = &x->c->triggers;
    yaml_node_t *v[Q_COUNT] = {0};
    bool lower_better = false;
    int64_t i = 0;
    int rc = md_contract__map_collect(x, n, "triggers.quality", keys, v);

    if (rc != MD_OK)
        return rc;
    if (v[Q_METRIC] == NULL)
        return md_contract__fail(x, "triggers.quality.metric", "missing (%s)", metric_list);
    rc = quality_metric(x, v[Q_METRIC], &lower_better);
    if (rc != MD_OK)
        return rc;
    if ((v[Q_BELOW] == NULL) == (v[Q_ABOVE] == NULL))
        return md_contract__fail(x, "triggers.quality",
                                 "give one of below (fires when the metric falls below it) or "
                                 "above");
    if (v[Q_BELOW] != NULL && lower_better)
        return md_contract__fail(x, "triggers.quality.below",
                                 "%s is lower when better: say above: instead", t->quality_metric);
    if (v[Q_ABOVE] != NULL && !lower_better)
        return md_contract__fail(x, "triggers.quality.above",
                                 "%s is higher when better: say below: instead", t->quality_metric);
    if (v[Q_BELOW] != NULL)
        rc = md_contract__want_number(x, v[Q_BELOW], "triggers.quality.below", &t->quality_below);
    else
        rc = md_contract__want_number(x, v[Q_ABOVE], "triggers.quality.above", &t->quality_above);
    if (rc != MD_OK)
        return rc;
    if (v[Q_WINDOW] != NULL) {
        int64_t ms;

        rc = duration(x, v[Q_WINDOW], "triggers.quality.window", MAX_WINDOW_MS, &ms);
        if (rc != MD_OK)
            return rc;
        if (ms < 1000)
            return md_contract__fail(x, "triggers.quality.window", "shorter than 1s");
        t->quality_window_s = ms / 1000;
    }
    if (v[Q_MIN_SAMPLES] != NULL) {
        rc = md_contract__want_int(x, v[Q_MIN_SAMPLES], "triggers.quality.min_samples", &i);
        if (rc != MD_OK)
            return rc;
        if (i < 1)
            return md_contract__fail(x, "triggers.quality.min_samples", "%lld is below 1",
                                     (long long)i);
        t->quality_min_samples = (uint64_t)i;
    }
    return MD_OK;
}

/* The defaults, whether or not the section is there. */
static void defaults(struct md_trigger_config *t)
{
    memset(t, 0, sizeof(*t));
    t->quality_below = NAN;
    t->quality_above = NAN;
    t->quality_window_s = 3600;
    t->quality_min_samples = 200;
    t->cooldown_s = 3600;
}

int md_contract__parse_triggers(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"schedule",   "drift",    "quality",
                                       "new_labels", "cooldown", NULL};
    struct md_trigger_config *t = &x->c->triggers;
    yaml_node_t *v[T_COUNT] = {0};
    int64_t i = 0;
    int rc;

    defaults(t);
    if (n == NULL)
        return MD_OK;
    rc = md_contract__map_collect(x, n, "triggers", keys, v);
    if (rc != MD_OK)
        return rc;
    t->present = true;
    if (v[T_SCHEDULE] == NULL && v[T_DRIFT] == NULL && v[T_QUALITY] == NULL &&
        v[T_NEW_LABELS] == NULL)
        return md_contract__fail(x, "triggers",
                                 "names no trigger (schedule, drift, quality, new_labels)");
    if (!x->c->training.present)
        return md_contract__fail(x, "triggers",
                                 "needs a training: section (how a triggered run trains)");
    if (v[T_SCHEDULE] != NULL) {
        rc = parse_schedule(x, v[T_SCHEDULE]);
        if (rc != MD_OK)
            return rc;
    }
    if (v[T_DRIFT] != NULL) {
        rc = md_contract__want_bool(x, v[T_DRIFT], "triggers.drift", &t->drift);
        if (rc != MD_OK)
            return rc;
    }
    if (v[T_QUALITY] != NULL) {
        rc = parse_quality(x, v[T_QUALITY]);
        if (rc != MD_OK)
            return rc;
    }
    if (v[T_NEW_LABELS] != NULL) {
        rc = md_contract__want_int(x, v[T_NEW_LABELS], "triggers.new_labels", &i);
        if (rc != MD_OK)
            return rc;
        if (i < 1 || i > 1000000000)
            return md_contract__fail(x, "triggers.new_labels",
                                     "%lld is not between 1 and 1000000000", (long long)i);
        t->new_labels = (uint64_t)i;
    }
    if (v[T_COOLDOWN] != NULL) {
        int64_t ms;

        rc = duration(x, v[T_COOLDOWN], "triggers.cooldown", MAX_COOLDOWN_MS, &ms);
        if (rc != MD_OK)
            return rc;
        t->cooldown_s = (uint64_t)(ms / 1000);
    }
    return MD_OK;
}
