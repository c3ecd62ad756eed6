/* SPDX-License-Identifier: MIT */
/*
 * online_stats.c: the per-model counters of online learning
 * (online_stats.h). A fixed table: a slot's name is written once under the
 * mutex, then published by the count of used slots, which readers load
 * with acquire order, so they take no lock.
 */
#include "watch/online_stats.h"

#include <pthread.h>

struct slot {
    char model[128];
    struct md_online_stats s;
};

static struct slot slots[MD_ONLINE_STATS_MODELS];
static _Atomic size_t n_used;
static pthread_mutex_t add_mu = PTHREAD_MUTEX_INITIALIZER;

struct md_online_stats *md_online_stats_of(const char *model)
{
    size_t n = atomic_load_explicit(&n_used, memory_order_acquire);
    struct md_online_stats *s = NULL;
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(slots[i].model, model) == 0)
            return &slots[i].s;
    if (strlen(model) >= sizeof(slots[0].model))
        return NULL;
    pthread_mutex_lock(&add_mu);
    n = atomic_load_explicit(&n_used, memory_order_relaxed);
    for (i = 0; i < n && s == NULL; i++)
        if (strcmp(slots[i].model, model) == 0)
            s = &slots[i].s;
    if (s == NULL && n < MD_ONLINE_STATS_MODELS) {
        (void)snprintf(slots[n].model, sizeof(slots[n].model), "%s", model); /* length checked */
        s = &slots[n].s;
        atomic_store_explicit(&n_used, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&add_mu);
    return s;
}

void md_online_stats_prom(struct md_buf *b)
{
    static const struct {
        const char *name;
        const char *help;
    } fam[] = {
        {"modeld_online_updates_total", "Feedback labels an online model learned from."},
        {"modeld_online_skipped_total",
         "Feedback labels an online model could not learn from (features trimmed or refused)."},
        {"modeld_online_snapshots_total",
         "Snapshots of an online model's weights registered as versions."},
        {"modeld_online_fallbacks_total",
         "Times an online model went back to its last snapshot (quality fell)."},
    };
    size_t n = atomic_load_explicit(&n_used, memory_order_acquire);
    size_t f;
    size_t i;

    if (n == 0)
        return;
    for (f = 0; f < MD_ARRAY_LEN(fam); f++) {
        md_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", fam[f].name, fam[f].help,
                      fam[f].name);
        for (i = 0; i < n; i++) {
            const struct md_online_stats *s = &slots[i].s;
            const _Atomic uint64_t *c = f == 0   ? &s->updates
                                        : f == 1 ? &s->skipped
                                        : f == 2 ? &s->snapshots
                                                 : &s->fallbacks;

            md_buf_printf(b, "%s{model=", fam[f].name);
            (void)md_buf_json_str(b, slots[i].model, strlen(slots[i].model));
            md_buf_printf(b, "} %llu\n",
                          (unsigned long long)atomic_load_explicit(c, memory_order_relaxed));
        }
    }
}
