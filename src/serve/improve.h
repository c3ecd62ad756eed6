/* SPDX-License-Identifier: MIT */
/*
 * improve.h: the sections of model.yaml that make a model improve itself,
 * as the contract holds them once parsed (struct md_contract's training,
 * triggers, online and review members):
 *
 *   training:   how a new version is trained (native through the engine's
 *               train operation, or an external trainer named in the
 *               daemon's configuration), from which data, and what happens
 *               to the version it produces (register, or roll out)
 *   triggers:   when a training starts by itself (a schedule, drift, a
 *               quality drop, enough new labels) and the cooldown between
 *   online:     a linear model that learns from each label as it arrives,
 *               with its snapshots and its fallback
 *   review:     rules that send predictions to a human review queue
 *
 * Each section is optional; `present` says whether model.yaml had it, and
 * every other field then holds the value read or its default (see
 * docs/improve.md). Strings and arrays live in the contract's arena, as
 * long as the contract. Each section's parser is in its own file
 * (contract_training.c, contract_triggers.c, contract_online.c,
 * contract_review.c); errors name the key path ("training.holdout: 1.5 is
 * not a share between 0 and 1 (exclusive)").
 */
#ifndef MD_SERVE_IMPROVE_H
#define MD_SERVE_IMPROVE_H

#include "util/common.h"
#include "backend/backend.h"
#include "util/cron.h"

/* What happens to a version a training produced. */
enum md_trained_policy {
    MD_TRAINED_REGISTER = 1, /* "register": registered, alias moved; no traffic */
    MD_TRAINED_ROLLOUT       /* "rollout": registered, then rolled out with a strategy */
};

/* model.yaml `training:`. */
struct md_training_config {
    bool present;
    const char *trainer;        /* an external trainer's name (the daemon's `trainers:`), or
                                   NULL: the engine's own train operation */
    const struct md_kv *params; /* `params:` map: training parameters as text (xgboost's
                                   eta, max_depth, num_round...; linear's l2, ...); NULL
                                   when none: the parent artifact's */
    size_t n_params;
    int64_t window_s;              /* labelled records of the last window_s seconds; 0: every one
                                      kept (default 0) */
    uint64_t max_rows;             /* the newest max_rows labelled records at most; 0: no bound */
    uint64_t min_rows;             /* fewer rows than this: refused, not trained (default 100) */
    double holdout;                /* share of the most recent labelled rows held out for
                                      evaluation, (0, 1) (default 0.2) */
    double expert_weight;          /* weight of a row whose label an expert gave (default 1) */
    const char *base_dataset;      /* a base dataset registered for the model, joined in, or NULL */
    double base_weight;            /* weight of the base dataset's rows (default 1) */
    uint64_t timeout_s;            /* a training run's time limit (default 1800) */
    uint64_t memory_mb;            /* its resident-memory limit (default 2048) */
    enum md_trained_policy policy; /* default MD_TRAINED_REGISTER */
    const char *alias;             /* moved to the trained version; default "candidate" */
    const char *strategy;          /* MD_TRAINED_ROLLOUT: a named rollout strategy, or NULL: a
                                      canary with every default */
    const char *metric;            /* the evaluation metric candidates are compared on:
                                      classification "roc_auc" (binary) or "accuracy", regression
                                      "rmse" by default */
    double margin;                 /* a candidate worse than the champion on metric by more than
                                      this is registered but never rolled out (default 0.01) */
};

/* model.yaml `triggers:`. */
struct md_trigger_config {
    bool present;
    uint64_t every_s;           /* `schedule: {every: 7d}`: an interval; 0: none */
    const char *cron;           /* `schedule: {cron: "0 3 * * 1"}`: five fields, UTC; NULL: none */
    struct md_cron cron_expr;   /* cron, parsed (when cron is not NULL) */
    bool drift;                 /* `drift: true`: when the overall drift verdict is "drift" */
    const char *quality_metric; /* `quality: {metric: roc_auc, below: 0.8, window: 1h}`, or NULL */
    double quality_below;       /* fires when the metric is below this; NaN: `above` instead */
    double quality_above;       /* `above:` (error metrics: rmse, log_loss...); NaN: none */
    int64_t quality_window_s;   /* default 3600 */
    uint64_t quality_min_samples; /* labelled rows the window needs (default 200) */
    uint64_t new_labels;          /* `new_labels: N`: N labels since the last training; 0: none */
    uint64_t cooldown_s;          /* no automatic trigger fires for this long after a training
                                     was asked for (default 3600) */
};

/* The update rule of online learning. */
enum md_online_algo {
    MD_ONLINE_SGD = 1, /* "sgd": plain stochastic gradient descent */
    MD_ONLINE_FTRL     /* "ftrl": FTRL-Proximal (logistic models) */
};

/* model.yaml `online:` (the linear engine only). */
struct md_online_config {
    bool present;
    enum md_online_algo algo;  /* default SGD */
    double learning_rate;      /* SGD's step (default 0.01) */
    double alpha, beta;        /* FTRL's per-coordinate rate parameters (0.1, 1) */
    double l1, l2;             /* regularisation (0, 0) */
    double clip;               /* a gradient's entries are clipped to [-clip, clip]; 0: none */
    double max_weight;         /* weights stay within [-max_weight, max_weight]; 0: none */
    uint64_t snapshot_updates; /* a snapshot every N updates (default 1000); 0: not by count */
    uint64_t snapshot_s;       /* and every T seconds (default 600); 0: not by time */
    uint64_t window;           /* labels the fallback compares on (default 500) */
    double fallback_margin;    /* back to the last snapshot when the live weights' quality
                                  on the window is worse than the snapshot's by this much
                                  (default 0.05) */
};

/* Fills o with the `online:` defaults (present false). */
void md_online_config_default(struct md_online_config *o);

/* The engine's learn_config settings of o. */
void md_online_learn_config(const struct md_online_config *o, struct md_learn_config *out);

/* One rule that sends predictions to review. */
enum md_review_kind {
    MD_REVIEW_BAND = 1, /* `band: [a, b]`: P(labels[1]) in [a, b] */
    MD_REVIEW_LABEL,    /* `label: fraud`: every prediction of that label */
    MD_REVIEW_SAMPLE,   /* `sample: 0.01`: a share of the predictions, by request id */
    MD_REVIEW_DATA      /* `data_quality: true`: a row that failed a data-quality check */
};
struct md_review_rule {
    enum md_review_kind kind;
    const char *name;  /* the rule's name (default: its kind), the item's reason */
    double lo, hi;     /* BAND */
    const char *label; /* LABEL */
    double rate;       /* SAMPLE, (0, 1] */
};

#define MD_REVIEW_RULES 16 /* rules a model holds at most */

/* model.yaml `review:`. */
struct md_review_config {
    bool present;
    const struct md_review_rule *rules;
    size_t n_rules;     /* 1 .. MD_REVIEW_RULES */
    uint64_t lease_s;   /* an item taken and not answered returns to the queue after this
                           (default 300) */
    uint64_t max_queue; /* items waiting at most; past it new ones are counted, dropped
                           (default 10000) */
};

#endif
