/* SPDX-License-Identifier: MIT */
/*
 * rollouts.h: the progressive rollouts control runs, the only writer of
 * their state. Each active rollout is judged once a second on what the
 * per-route statistics (watch/metrics.h), the comparisons of its two
 * versions (watch/compare.h) and the named metrics its gates name
 * (watch/signals.h) measured since its stage began; every decision
 * that changes something is stored with its measurements before the traffic
 * moves (serve/rollout.h decides, the store keeps, the repository applies
 * the policy). A rollout survives a restart: the active ones are read back
 * from the store and continue from the stage they were in, measured anew
 * from the restart.
 *
 * Threads: everything here runs on control's worker (start, commands,
 * ticks), one call at a time; md_rollouts_open at start before the worker.
 */
#ifndef MD_CONTROL_ROLLOUTS_H
#define MD_CONTROL_ROLLOUTS_H

#include "util/common.h"
#include "util/err.h"
#include "serve/repo.h"
#include "serve/rollout.h"
#include "store/store.h"
#include "watch/compare.h"
#include "watch/signals.h"

struct md_rollouts;

/* Reads the active rollouts back from the store and re-applies the traffic
 * their state wants. repo, store, cmp (may be NULL) and signals (may be
 * NULL: gates read only the built-in metrics) are borrowed. */
int md_rollouts_open(struct md_repo *repo, struct md_store *store, struct md_compare *cmp,
                     const struct md_signals *signals, struct md_rollouts **out,
                     struct md_err *err) MD_MUST_CHECK;

/*
 * The gates of spec that name a signal rather than a built-in metric,
 * measured into mt (at most n entries; returns how many): for each, the
 * candidate's value (version = candidate) and the champion's (version =
 * champion) over the stage so far, [since_ms, now_ms] (a window of at least
 * 1 ms). A signal that fails or measures nothing gives NaN and 0 samples: the
 * gate is then inconclusive, never held. mt's names are spec's (borrowed).
 */
size_t md_rollouts_measure_signals(const struct md_signals *signals,
                                   const struct md_rollout_spec *spec, int64_t since_ms,
                                   int64_t now_ms, struct md_rollout_metric *mt, size_t n);
void md_rollouts_free(struct md_rollouts *ro);

/* Judges every active rollout at now_ms (wall clock, ms). */
void md_rollouts_tick(struct md_rollouts *ro, int64_t now_ms);

/*
 * Starts a rollout of model from a request body: {"candidate": "4",
 * "champion": "3" (default: the champion), "strategy": {...} or "name" of a
 * stored strategy (default: a canary with every default)}; a gate naming a
 * metric that is neither built in nor a registered signal is refused. The candidate's
 * first stage is applied; stored with its START decision and event.
 * *answer: the rollout's JSON. MD_EINVAL naming the field, MD_ECONFLICT
 * when the model has an active rollout.
 */
int md_rollouts_start(struct md_rollouts *ro, const char *model, const char *body, size_t len,
                      char **answer, struct md_err *err) MD_MUST_CHECK;

/* An operator's command (pause, resume, promote, abort, rollback) on rollout
 * id of model, with an optional note. *answer: the rollout's JSON. */
int md_rollouts_command(struct md_rollouts *ro, const char *model, int64_t id,
                        enum md_rollout_cmd cmd, const char *note, char **answer,
                        struct md_err *err) MD_MUST_CHECK;

/* Active rollouts now. */
size_t md_rollouts_active(struct md_rollouts *ro);

#endif
