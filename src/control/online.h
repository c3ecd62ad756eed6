/* SPDX-License-Identifier: MIT */
/*
 * online.h: the learner of online learning (model.yaml's `online:`; docs/
 * improve.md, "Online learning"). One thread of its own: every poll it
 * reads, for each loaded version of a linear model with `online:`, the
 * labels and values given for its answers since it last looked (a batched
 * store read on the store thread), prepares their logged features through
 * the version's contract, scores them with the live weights and the last
 * snapshot's (before learning: prequential), then learns from them through
 * the engine's learn. Every snapshot_updates updates or snapshot_s seconds
 * it saves the weights and registers them as a new version (source
 * "snapshot", with its lineage) through control's command queue; when the
 * live weights' quality over the last `window` labels falls below the
 * snapshot's by fallback_margin it assigns the snapshot back and records an
 * "online_fallback" event. Serving never waits for it: the engine publishes
 * learned weights whole (backend/linear.c).
 */
#ifndef MD_CONTROL_ONLINE_H
#define MD_CONTROL_ONLINE_H

#include "util/common.h"
#include "util/err.h"
#include "serve/command.h"
#include "serve/repo.h"
#include "store/store.h"

struct md_online;

/*
 * Starts the learner over repo, store and the command queue q (all
 * borrowed; they must outlive md_online_stop). poll_ms: how often it looks
 * for new labels (>= 10). MD_EINTERNAL when the thread cannot start.
 */
int md_online_start(struct md_repo *repo, struct md_store *store, struct md_commands *q,
                    unsigned poll_ms, struct md_online **out, struct md_err *err) MD_MUST_CHECK;

/* Stops the learner (a snapshot being registered is waited for) and frees it. NULL ok. */
void md_online_stop(struct md_online *o);

#endif
