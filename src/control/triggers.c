/* SPDX-License-Identifier: MIT */
/*
 * triggers.c: the judgement of a model's triggers on what was measured of
 * it (a pure function: no clock, no I/O). The task that measures and acts
 * on the judgement is in triggers_task.c.
 */
#include "control/triggers.h"

#include "util/buf.h"

#include <math.h>

int64_t md_triggers_schedule_due(const struct md_trigger_config *t, int64_t anchor_ms)
{
    int64_t next;

    if (t->every_s > 0)
        return anchor_ms + (int64_t)t->every_s * 1000;
    if (t->cron == NULL)
        return 0;
    /* The first due minute after the anchor's second. */
    next = md_cron_next(&t->cron_expr, anchor_ms / 1000);
    return next < 0 ? 0 : next * 1000;
}

/* Whether the quality trigger of t is past its threshold on o. */
static bool quality_due(const struct md_trigger_config *t, const struct md_trigger_obs *o)
{
    if (t->quality_metric == NULL || isnan(o->quality) ||
        o->quality_samples < t->quality_min_samples)
        return false;
    if (!isnan(t->quality_below))
        return o->quality < t->quality_below;
    return !isnan(t->quality_above) && o->quality > t->quality_above;
}

static void describe(const struct md_trigger_config *t, const struct md_trigger_obs *o,
                     enum md_trigger_kind kind, int64_t due_ms, struct md_trigger_decision *out)
{
    char *d = out->details;
    size_t n = sizeof(out->details);

    switch (kind) {
    case MD_TRIGGER_DRIFT:
        (void)snprintf(d, n, "{\"drift_features\":%.0f,\"rows\":%llu}", o->drift_features,
                       (unsigned long long)o->drift_rows);
        break;
    case MD_TRIGGER_QUALITY: {
        struct md_buf b;

        md_buf_init(&b, n);
        (void)md_buf_puts(&b, "{\"metric\":");
        (void)md_buf_json_str(&b, t->quality_metric, strlen(t->quality_metric));
        (void)md_buf_printf(&b, ",\"value\":%.6g,\"%s\":%.10g,\"samples\":%llu,\"window_s\":%lld}",
                            o->quality, isnan(t->quality_below) ? "above" : "below",
                            isnan(t->quality_below) ? t->quality_above : t->quality_below,
                            (unsigned long long)o->quality_samples, (long long)t->quality_window_s);
        (void)snprintf(d, n, "%.*s", md_buf_error(&b) == MD_OK ? (int)b.len : 2,
                       md_buf_error(&b) == MD_OK ? (const char *)b.data : "{}");
        md_buf_release(&b);
        break;
    }
    case MD_TRIGGER_LABELS:
        (void)snprintf(d, n, "{\"labels\":%lld,\"new_labels\":%llu,\"since_ms\":%lld}",
                       (long long)o->labels, (unsigned long long)t->new_labels,
                       (long long)o->last_ms);
        break;
    case MD_TRIGGER_SCHEDULE:
        if (t->every_s > 0)
            (void)snprintf(d, n, "{\"every_s\":%llu,\"due_ms\":%lld}",
                           (unsigned long long)t->every_s, (long long)due_ms);
        else
            (void)snprintf(d, n, "{\"cron\":\"%s\",\"due_ms\":%lld}", t->cron, (long long)due_ms);
        break;
    default:
        (void)snprintf(d, n, "{}");
        break;
    }
}

void md_triggers_decide(const struct md_trigger_config *t, const struct md_trigger_obs *o,
                        struct md_trigger_decision *out)
{
    int64_t anchor = o->last_ms > 0 ? o->last_ms : o->watched_ms;
    enum md_trigger_kind kind = 0;

    memset(out, 0, sizeof(*out));
    out->schedule_due_ms = md_triggers_schedule_due(t, anchor);
    if ((o->last_ms > 0 || o->ended_ms > 0) && t->cooldown_s > 0)
        out->cooldown_until_ms =
            (o->ended_ms > o->last_ms ? o->ended_ms : o->last_ms) + (int64_t)t->cooldown_s * 1000;
    if (t->drift && !isnan(o->drift_features) && o->drift_features > 0)
        kind = MD_TRIGGER_DRIFT;
    else if (quality_due(t, o))
        kind = MD_TRIGGER_QUALITY;
    else if (t->new_labels > 0 && o->labels >= 0 && (uint64_t)o->labels >= t->new_labels)
        kind = MD_TRIGGER_LABELS;
    else if (out->schedule_due_ms > 0 && o->now_ms >= out->schedule_due_ms)
        kind = MD_TRIGGER_SCHEDULE;
    out->kind = kind;
    if (kind == 0) {
        (void)snprintf(out->details, sizeof(out->details), "{}");
        return;
    }
    describe(t, o, kind, out->schedule_due_ms, out);
    if (o->busy)
        out->held = "busy";
    else if (out->cooldown_until_ms > 0 && o->now_ms < out->cooldown_until_ms)
        out->held = "cooldown";
    else
        out->fire = true;
}
