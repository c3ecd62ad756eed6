/* SPDX-License-Identifier: MIT */
/*
 * trainrun.c: one training run on the runner's thread (see trainrun.h).
 */
#include "control/trainrun.h"
#include "util/log.h"
#include "util/mem.h"
#include "watch/metrics.h"

struct md_trainrun {
    int64_t id;
    char *model;
    enum md_trigger_kind kind;
    int64_t requested_ms;
    struct md_trainrun *next;
};

struct md_trainrun *md_trainrun_new(int64_t id, const char *model, enum md_trigger_kind kind,
                                    int64_t requested_ms)
{
    struct md_trainrun *r = md_xcalloc(1, sizeof(*r));

    r->id = id;
    r->model = md_xstrdup(model);
    r->kind = kind;
    r->requested_ms = requested_ms;
    return r;
}

void md_trainrun_free(struct md_trainrun *r)
{
    if (r == NULL)
        return;
    free(r->model);
    free(r);
}

int64_t md_trainrun_id(const struct md_trainrun *r)
{
    return r->id;
}

struct md_trainrun *md_trainrun_next(const struct md_trainrun *r)
{
    return r->next;
}

void md_trainrun_append(struct md_trainrun **head, struct md_trainrun *r)
{
    while (*head != NULL)
        head = &(*head)->next;
    r->next = NULL;
    *head = r;
}

/* ---- the run's row --------------------------------------------------------- */

static int run_update(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_training_update(tx, ctx, err);
}

static void store_row(const struct md_training_setup *setup, const struct md_store_training *row)
{
    struct md_err err;

    if (md_store_call(setup->store, run_update, (void *)row, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "cannot store a training run's state", "model", row->model,
                  "reason", err.msg, MD_KV_END);
}

void md_trainrun_execute(struct md_trainrun *r, const struct md_training_setup *setup,
                         const _Atomic bool *cancel, struct md_training *t)
{
    struct md_store_training row;

    MD_UNUSED(cancel);
    MD_UNUSED(t);
    memset(&row, 0, sizeof(row));
    row.id = r->id;
    row.model = r->model;
    row.state = "running";
    row.started_ms = md_wall_ms();
    store_row(setup, &row);
    row.state = "failed";
    row.finished_ms = md_wall_ms();
    row.result = "{\"reason\":\"this build does not train yet\"}";
    store_row(setup, &row);
}

/* ---- registration (control's worker) ------------------------------------------ */

int md_trainrun_register(struct md_training *t, struct md_rollouts *rollouts, const char *model,
                         void *arg, char **answer, struct md_err *err)
{
    MD_UNUSED(t);
    MD_UNUSED(rollouts);
    MD_UNUSED(model);
    MD_UNUSED(arg);
    *answer = NULL;
    return md_err_set(err, MD_EINTERNAL, "registration of trained versions is not built yet");
}

void md_training_arg_free(void *arg)
{
    MD_UNUSED(arg);
}
