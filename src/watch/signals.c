/* SPDX-License-Identifier: MIT */
/*
 * signals.c: the registry of named metrics: a fixed table filled at
 * start-up and read without locks afterwards.
 */
#include "watch/signals.h"

#include "util/mem.h"
#include "watch/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    struct md_signal_info info;
    md_signal_fn fn;
    void *ctx;
    unsigned flags; /* enum md_signal_flags */
};

struct md_signals {
    struct entry entries[MD_SIGNALS_MAX];
    struct md_signal_info infos[MD_SIGNALS_MAX];
    size_t n;
    unsigned delay_ms; /* md_signals_set_delay */
};

struct md_signals *md_signals_new(void)
{
    return md_xcalloc(1, sizeof(struct md_signals));
}

void md_signals_free(struct md_signals *s)
{
    free(s);
}

/* Whether name[0..len) is [a-z][a-z0-9_]*. */
static bool good_name(const char *name, size_t len)
{
    if (len == 0 || len >= MD_SIGNAL_NAME_MAX || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static const struct entry *find(const struct md_signals *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        const char *have = s->entries[i].info.name;

        if (strlen(have) == len && memcmp(have, name, len) == 0)
            return &s->entries[i];
    }
    return NULL;
}

int md_signals_add(struct md_signals *s, const struct md_signal_info *info, md_signal_fn fn,
                   void *ctx, struct md_err *err)
{
    return md_signals_add_flags(s, info, 0, fn, ctx, err);
}

int md_signals_add_flags(struct md_signals *s, const struct md_signal_info *info, unsigned flags,
                         md_signal_fn fn, void *ctx, struct md_err *err)
{
    size_t len = info->name != NULL ? strlen(info->name) : 0;

    if (!good_name(info->name, len) || fn == NULL)
        return md_err_set(err, MD_EINVAL, "signal name '%s' is not [a-z][a-z0-9_]*",
                          info->name != NULL ? info->name : "");
    if (find(s, info->name, len) != NULL)
        return md_err_set(err, MD_ECONFLICT, "signal '%s' is registered already", info->name);
    if (s->n == MD_SIGNALS_MAX)
        return md_err_set(err, MD_EINVAL, "no room for signal '%s': %d are registered", info->name,
                          MD_SIGNALS_MAX);
    s->entries[s->n].info = *info;
    s->entries[s->n].fn = fn;
    s->entries[s->n].ctx = ctx;
    s->entries[s->n].flags = flags;
    s->infos[s->n] = *info;
    s->n++;
    return MD_OK;
}

/* The entry metric names, checked: its argument (or NULL) into *arg. */
static const struct entry *lookup(const struct md_signals *s, const char *metric, const char **arg,
                                  struct md_err *err)
{
    const char *colon;
    size_t len;
    const struct entry *e;

    if (metric == NULL || metric[0] == '\0') {
        md_err_set(err, MD_EINVAL, "metric: missing");
        return NULL;
    }
    if (strlen(metric) >= MD_SIGNAL_NAME_MAX) {
        md_err_set(err, MD_EINVAL, "metric: longer than %d bytes", MD_SIGNAL_NAME_MAX - 1);
        return NULL;
    }
    colon = strchr(metric, ':');
    len = colon != NULL ? (size_t)(colon - metric) : strlen(metric);
    e = find(s, metric, len);
    if (e == NULL) {
        md_err_set(err, MD_ENOTFOUND, "unknown metric '%.*s'", (int)len, metric);
        return NULL;
    }
    *arg = colon != NULL ? colon + 1 : NULL;
    if (e->info.arg == NULL && *arg != NULL) {
        md_err_set(err, MD_EINVAL, "metric '%s' takes no argument (':%s')", e->info.name, *arg);
        return NULL;
    }
    if (e->info.arg != NULL && e->info.arg[strlen(e->info.arg) - 1] != '?' &&
        (*arg == NULL || (*arg)[0] == '\0')) {
        md_err_set(err, MD_EINVAL, "metric '%s' needs a %s: '%s:<%s>'", e->info.name, e->info.arg,
                   e->info.name, e->info.arg);
        return NULL;
    }
    return e;
}

int md_signals_check(const struct md_signals *s, const char *metric, struct md_err *err)
{
    const char *arg;

    return lookup(s, metric, &arg, err) != NULL ? MD_OK : err->code;
}

int md_signals_value(const struct md_signals *s, const struct md_signal_query *q,
                     struct md_signal_value *out, struct md_err *err)
{
    struct md_signal_query copy = *q;
    const struct entry *e = lookup(s, q->metric, &copy.arg, err);

    out->value = NAN;
    out->samples = 0;
    if (e == NULL)
        return err->code;
    if (q->model == NULL || q->model[0] == '\0')
        return md_err_set(err, MD_EINVAL, "model: missing");
    if (q->window_ms <= 0)
        return md_err_set(err, MD_EINVAL, "window: must be above 0");
    if (copy.now_ms == 0)
        copy.now_ms = md_wall_ms();
    if (s->delay_ms > 0 && (e->flags & MD_SIGNAL_WAITS) != 0) {
        struct timespec ts = {(time_t)(s->delay_ms / 1000), (long)(s->delay_ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    return e->fn(e->ctx, &copy, out, err);
}

bool md_signals_waits(const struct md_signals *s, const char *metric)
{
    const char *colon = metric != NULL ? strchr(metric, ':') : NULL;
    const struct entry *e;

    if (metric == NULL)
        return false;
    e = find(s, metric, colon != NULL ? (size_t)(colon - metric) : strlen(metric));
    return e != NULL && (e->flags & MD_SIGNAL_WAITS) != 0;
}

void md_signals_set_delay(struct md_signals *s, unsigned ms)
{
    s->delay_ms = ms;
}

const struct md_signal_info *md_signals_list(const struct md_signals *s, size_t *n_out)
{
    *n_out = s->n;
    return s->infos;
}
