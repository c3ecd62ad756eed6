/* SPDX-License-Identifier: MIT */
/*
 * online_stats.h: the counters of online learning per model (updates,
 * labels skipped, snapshots, fallbacks), written by the learner
 * (control/online.c) and exported on /metrics (api/prom.c). A process-wide
 * table of MD_ONLINE_STATS_MODELS models; past that a model is not counted.
 * Every counter is a relaxed atomic; models are added, never removed.
 */
#ifndef MD_WATCH_ONLINE_STATS_H
#define MD_WATCH_ONLINE_STATS_H

#include "util/common.h"
#include "util/buf.h"

#include <stdatomic.h>

#define MD_ONLINE_STATS_MODELS 64

struct md_online_stats {
    _Atomic uint64_t updates;   /* labels learned */
    _Atomic uint64_t skipped;   /* labels not learned: features trimmed or refused */
    _Atomic uint64_t snapshots; /* snapshots registered */
    _Atomic uint64_t fallbacks; /* times the weights went back to the last snapshot */
};

/* The counters of model, created on first use; NULL when the table is full. Thread-safe. */
struct md_online_stats *md_online_stats_of(const char *model);

/* Appends the modeld_online_* families (nothing when no model learns online). */
void md_online_stats_prom(struct md_buf *b);

#endif
