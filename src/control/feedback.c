/* SPDX-License-Identifier: MIT */
/*
 * feedback.c: the upkeep of feedback (feedback.h): one store job at a time,
 * submitted by the control tick, its findings applied to the live quality
 * sums once the store has committed them.
 */
#include "control/feedback.h"
#include "util/log.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <stdatomic.h>

struct md_feedback_upkeep {
    struct md_store *store;
    struct md_repo *repo;
    struct md_outcomes *outcomes;
    struct md_store_job job;
    struct md_store_feedback_sweep sweep; /* after_id carried from round to round */
    struct md_outcomes_batch *changes;    /* the round's, applied when committed */
    _Atomic bool busy;                    /* a round is queued or running */
    _Atomic uint64_t orphaned;            /* since start */
};

static void on_outcome(void *ctx, const struct md_store_outcome *c)
{
    struct md_feedback_upkeep *u = ctx;

    md_outcomes_batch_add(u->changes, c);
}

static void on_count(void *ctx, const char *model, int64_t version, const char *route, bool shadow,
                     int64_t minute_ms, uint64_t n)
{
    struct md_feedback_upkeep *u = ctx;

    md_outcomes_count(u->outcomes, model, version, route, shadow, minute_ms, n, md_wall_ms());
}

static void on_totals(void *ctx, const char *model, uint64_t pending, uint64_t orphaned)
{
    struct md_feedback_upkeep *u = ctx;

    md_outcomes_waiting(u->outcomes, model, pending, orphaned);
}

static void zero_waiting(void *ctx, const char *model)
{
    struct md_feedback_upkeep *u = ctx;

    md_outcomes_waiting(u->outcomes, model, 0, 0);
}

static int run_round(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_feedback_upkeep *u = ctx;

    u->sweep.now_ms = md_wall_ms();
    /* Models without waiting items are absent from the totals: zero first. */
    md_outcomes_models(u->outcomes, zero_waiting, u);
    return md_store_tx_feedback_sweep(tx, &u->sweep, on_outcome, on_count, on_totals, u, err);
}

/* Whether model is binary, and its positive class: from its newest version. */
static bool positive(void *ctx, const char *model, char *buf, size_t n)
{
    struct md_feedback_upkeep *u = ctx;
    struct md_version *v;
    bool binary;

    if (md_repo_acquire(u->repo, model, NULL, &v, NULL) != MD_OK)
        return false;
    binary = v->contract->task == MD_TASK_CLASSIFICATION && v->contract->n_labels == 2;
    if (binary)
        (void)snprintf(buf, n, "%s", v->contract->labels[1]);
    md_version_unref(v);
    return binary;
}

static void round_done(void *ctx, int code, const struct md_err *err)
{
    struct md_feedback_upkeep *u = ctx;
    char n[24];

    if (code == MD_OK) {
        md_outcomes_batch_apply(u->outcomes, u->changes, positive, u, md_wall_ms());
        if (u->sweep.orphaned > 0) {
            atomic_fetch_add(&u->orphaned, u->sweep.orphaned);
            (void)snprintf(n, sizeof(n), "%llu", (unsigned long long)u->sweep.orphaned);
            md_log_kv(MD_LOG_WARN, "feedback orphaned: its prediction row never came", "items", n,
                      MD_KV_END);
        }
    } else {
        /* The round's changes were undone: the next round finds them again. */
        md_outcomes_batch_reset(u->changes);
        md_log_kv(MD_LOG_WARN, "feedback upkeep failed; retried next round", "reason", err->msg,
                  MD_KV_END);
    }
    atomic_store(&u->busy, false);
}

static void tick(void *ctx, uint64_t now_ms)
{
    struct md_feedback_upkeep *u = ctx;

    MD_UNUSED(now_ms);
    if (atomic_exchange(&u->busy, true))
        return;
    u->job.run = run_round;
    u->job.done = round_done;
    u->job.ctx = u;
    md_store_submit(u->store, &u->job);
}

struct md_feedback_upkeep *md_feedback_upkeep_new(struct md_store *store, struct md_repo *repo,
                                                  struct md_outcomes *outcomes, int64_t horizon_ms)
{
    struct md_feedback_upkeep *u = md_xcalloc(1, sizeof(*u));

    u->store = store;
    u->repo = repo;
    u->outcomes = outcomes;
    u->changes = md_outcomes_batch_new();
    u->sweep.after_id = -1;
    u->sweep.horizon_ms = horizon_ms;
    return u;
}

void md_feedback_upkeep_free(struct md_feedback_upkeep *u)
{
    if (u == NULL)
        return;
    md_outcomes_batch_free(u->changes);
    free(u);
}

void md_feedback_upkeep_task(struct md_feedback_upkeep *u, struct md_control_task *out)
{
    out->name = "feedback";
    out->period_ms = MD_FEEDBACK_UPKEEP_MS;
    out->fn = tick;
    out->ctx = u;
}

uint64_t md_feedback_upkeep_orphaned(struct md_feedback_upkeep *u)
{
    return atomic_load(&u->orphaned);
}
