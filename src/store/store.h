/* SPDX-License-Identifier: MIT */
/*
 * store.h: the durable store of control data (models, versions, aliases,
 * traffic policies, rollout strategies, rollouts and their decisions,
 * events) and the artifact store, behind one interface. SQLite (one file in
 * the data directory, WAL) is the first implementation; a PostgreSQL one can
 * fill the same interface: nothing above this file writes SQL or knows which
 * database it talks to. Documents (a policy, a rollout's spec and state, a
 * version's metadata, an event's details) are kept as JSON text the store
 * does not read.
 *
 * Writes and reads run on the store's own thread, as jobs: a job's run is
 * called there with a transaction handle (struct md_store_tx) and calls the
 * md_store_tx_* functions below; the thread takes every job waiting, runs
 * each inside a savepoint of one transaction (a job that fails is rolled
 * back alone), commits the transaction with a sync to disk, and only then
 * calls each job's done. So a change acknowledged from done is durable, many
 * changes share one sync (group commit), and a caller that must not wait on
 * the disk (an HTTP thread) parks its request and answers from done.
 *
 * Threads: md_store_submit from any thread; md_store_call from any thread
 * but the store's own (it waits; there it fails with MD_EINTERNAL); run and
 * done are called on the store thread (done also inside md_store_submit for
 * a job refused because the store is closing) and must not submit and wait
 * (md_store_call) themselves. The md_store_tx_* functions only inside a
 * run; a listing's fn must not call them itself (collect, then call). The
 * artifact functions and md_store_get_info from any thread.
 */
#ifndef MD_STORE_STORE_H
#define MD_STORE_STORE_H

#include "util/common.h"
#include "util/err.h"

/* The schema this release writes; it runs on stores up to one newer (the
 * migrations are additive: expand, then contract a release later). */
#define MD_STORE_SCHEMA 4

struct md_store;
struct md_store_tx;

/* Limits of names the store keeps (checked above it, enforced here too). */
#define MD_STORE_NAME_MAX 128 /* model, alias, strategy, event kind */

/*
 * Opens (creating it if absent) the store in data directory dir: the
 * database file, the artifact directory; applies the migrations it lacks.
 * MD_ECORRUPT for a file that is not a store or is damaged ("the store
 * <path> is corrupt: ...; it was left as it is"), MD_EUNSUPPORTED for a
 * store more than one release newer ("the store <path> has schema 5; this
 * release reads schema 1 and 2: upgrade modeld"), MD_EIO when it cannot be
 * read or written (the path and the system's reason), MD_EINVAL for an
 * empty dir; a store that fails to open is never modified (nor its
 * write-ahead log). Starts the store thread.
 */
int md_store_open(const char *dir, struct md_store **out, struct md_err *err) MD_MUST_CHECK;

/* Runs the jobs already submitted, stops the thread, closes. NULL ok. */
void md_store_close(struct md_store *s);

/* ---- jobs ------------------------------------------------------------- */

/*
 * One job. run is called on the store thread inside the group's
 * transaction; it returns MD_OK or an error (its changes are then undone,
 * and the others of the group still commit). done is called after the
 * commit (code MD_OK) or with run's error, or with MD_EIO when the commit
 * failed (every job of the group whose run succeeded gets it; nothing of
 * the group is stored), or with the error that kept the transaction from
 * starting (MD_EUNAVAIL when another process holds the database's lock
 * past the busy timeout). err is never NULL; its message is empty on
 * MD_OK. The dones of a group are called in the order of submission.
 * run may be NULL (a barrier: done after everything submitted before).
 * The job's memory is the submitter's until done has been called.
 */
struct md_store_job {
    int (*run)(struct md_store_tx *tx, void *ctx, struct md_err *err);
    void (*done)(void *ctx, int code, const struct md_err *err);
    void *ctx;
    struct md_store_job *next; /* private */
};

/* Queues job; its done is always called, once (MD_EUNAVAIL "the store is
 * closed", at once on the caller's thread, when the store is closing). */
void md_store_submit(struct md_store *s, struct md_store_job *job);

/* Submits a job and waits for it: run's or the commit's outcome. Never on
 * an HTTP thread, never from inside a run or done. */
int md_store_call(struct md_store *s,
                  int (*run)(struct md_store_tx *tx, void *ctx, struct md_err *err), void *ctx,
                  struct md_err *err) MD_MUST_CHECK;

/* What the store is and how it writes, for /api/v1/store and tests. The
 * strings live as long as the store; journal_mode and synchronous are what
 * SQLite answered when asked (PRAGMA) at open, after setting them. */
struct md_store_info {
    const char *backend;      /* "sqlite" */
    const char *location;     /* the database file */
    int schema;               /* the schema of the file (this release's or one newer) */
    const char *journal_mode; /* "wal" */
    const char *synchronous;  /* "full" */
    uint64_t commits;         /* transactions committed that wrote (each with a sync) */
    uint64_t jobs;            /* jobs taken (barriers not counted) */
    uint64_t failed_commits;  /* transactions lost: a failed commit, or ended by an I/O error */
};
void md_store_get_info(struct md_store *s, struct md_store_info *out);

/* ---- versions ----------------------------------------------------------- */

/* Where a version came from. */
enum md_store_source {
    MD_SOURCE_REPOSITORY = 1, /* found in the repository directory */
    MD_SOURCE_UPLOAD,         /* POST /api/v1/models/{m}/versions */
    MD_SOURCE_TRAINING,       /* made by retraining */
    MD_SOURCE_SNAPSHOT        /* a snapshot of an online-learning version */
};
/* "repository", "upload", "training", "snapshot"; md_store_source_parse: 0 if unknown. */
const char *md_store_source_name(enum md_store_source s);
enum md_store_source md_store_source_parse(const char *name);

/* One version's record. Strings borrowed: from the caller on add, from the
 * store during a callback only. */
struct md_store_version {
    const char *model;
    int64_t version;    /* >= 1 */
    const char *sha256; /* of the artifact file, 64 lower-case hex */
    int64_t size;       /* bytes of the artifact */
    int64_t created_ms; /* when registered (ms since the epoch) */
    enum md_store_source source;
    const char *engine;          /* "trees", "xgboost", "linear" */
    const char *artifact;        /* the artifact's file name in its version directory */
    const char *metadata;        /* a JSON object (lineage, metrics), "{}" when none */
    const char *contract;        /* the model.yaml text it was registered with, "" if none */
    const char *contract_sha256; /* of contract */
    bool archived;               /* archived: unloaded, files and records kept */
};

/*
 * Registers a version. v->version 0 allocates the next number of the model
 * (one above the highest ever registered, archived ones included) in this
 * transaction, so two registrations never get the same one; *number is set
 * either way (0 on failure). MD_ECONFLICT when the number is taken
 * (whatever its sha256): "model 'm' has a version 3 already". created_ms 0:
 * now; metadata, contract and contract_sha256 NULL: "{}", "", "".
 */
int md_store_tx_version_add(struct md_store_tx *tx, const struct md_store_version *v,
                            int64_t *number, struct md_err *err) MD_MUST_CHECK;
/* Sets or clears a version's archived flag. MD_ENOTFOUND for an unknown version. */
int md_store_tx_version_archive(struct md_store_tx *tx, const char *model, int64_t version,
                                bool archived, struct md_err *err) MD_MUST_CHECK;
/* One version, through fn. MD_ENOTFOUND when absent. */
int md_store_tx_version_get(struct md_store_tx *tx, const char *model, int64_t version,
                            void (*fn)(void *ctx, const struct md_store_version *v), void *ctx,
                            struct md_err *err) MD_MUST_CHECK;
/* Every version of model (NULL: of every model), by model then number. */
int md_store_tx_versions(struct md_store_tx *tx, const char *model,
                         void (*fn)(void *ctx, const struct md_store_version *v), void *ctx,
                         struct md_err *err) MD_MUST_CHECK;

/* ---- models ------------------------------------------------------------- */

/* A model created through the API: its name and model.yaml text. Replaces
 * the text of one that exists. */
int md_store_tx_model_put(struct md_store_tx *tx, const char *model, const char *contract,
                          struct md_err *err) MD_MUST_CHECK;
/* Every model created through the API, by name. */
int md_store_tx_models(struct md_store_tx *tx,
                       void (*fn)(void *ctx, const char *model, const char *contract), void *ctx,
                       struct md_err *err) MD_MUST_CHECK;

/* ---- aliases ------------------------------------------------------------ */

/* Points alias of model at version (>= 1; MD_ENOTFOUND "model 'm' has no
 * version 7" when it does not exist), or removes it (version 0;
 * MD_ENOTFOUND "alias 'a' of model 'm' does not exist"). */
int md_store_tx_alias_set(struct md_store_tx *tx, const char *model, const char *alias,
                          int64_t version, struct md_err *err) MD_MUST_CHECK;
/* Every alias of model (NULL: of every model), by model then alias. */
int md_store_tx_aliases(struct md_store_tx *tx, const char *model,
                        void (*fn)(void *ctx, const char *model, const char *alias,
                                   int64_t version),
                        void *ctx, struct md_err *err) MD_MUST_CHECK;

/* ---- traffic policies --------------------------------------------------- */

/*
 * Stores model's policy (JSON text). expect is the revision it must replace
 * (0: there must be none yet; -1: whatever there is). MD_ECONFLICT when the
 * stored revision differs ("the policy of model 'm' is at revision 7, not
 * 6"). The new revision (the old one + 1, 1 for the first) into *revision
 * (0 on failure); updated_ms is now.
 */
int md_store_tx_policy_put(struct md_store_tx *tx, const char *model, const char *policy,
                           int64_t expect, int64_t *revision, struct md_err *err) MD_MUST_CHECK;
/* model's policy through fn (text, revision, when stored); MD_ENOTFOUND if none. */
int md_store_tx_policy_get(struct md_store_tx *tx, const char *model,
                           void (*fn)(void *ctx, const char *policy, int64_t revision,
                                      int64_t updated_ms),
                           void *ctx, struct md_err *err) MD_MUST_CHECK;
/* Every model's policy, by model. */
int md_store_tx_policies(struct md_store_tx *tx,
                         void (*fn)(void *ctx, const char *model, const char *policy,
                                    int64_t revision, int64_t updated_ms),
                         void *ctx, struct md_err *err) MD_MUST_CHECK;

/* ---- rollout strategies, rollouts, decisions ----------------------------- */

/* A named strategy (JSON text), replacing one of that name. */
int md_store_tx_strategy_put(struct md_store_tx *tx, const char *name, const char *strategy,
                             struct md_err *err) MD_MUST_CHECK;
/* Removes one; MD_ENOTFOUND if absent. */
int md_store_tx_strategy_delete(struct md_store_tx *tx, const char *name,
                                struct md_err *err) MD_MUST_CHECK;
/* Every strategy (name NULL) or one (MD_ENOTFOUND if absent), by name. */
int md_store_tx_strategies(struct md_store_tx *tx, const char *name,
                           void (*fn)(void *ctx, const char *name, const char *strategy), void *ctx,
                           struct md_err *err) MD_MUST_CHECK;

/* One rollout: what was asked (spec) and where it is (state), both JSON. */
struct md_store_rollout {
    int64_t id; /* allocated by add */
    const char *model;
    int64_t candidate; /* the version rolled out */
    const char *phase; /* "running", "paused", "promoted", "rolled_back", "aborted", ... */
    bool active;       /* running or paused: control steps it */
    const char *spec;  /* the strategy and its parameters */
    const char *state; /* the controller's state (step, step start, counters at its start) */
    int64_t created_ms;
    int64_t updated_ms;
};
/* Adds a rollout (r->id ignored; created_ms and updated_ms 0: now); its id
 * into *id. MD_ECONFLICT when it is active and the model has an active
 * rollout already, MD_ENOTFOUND when the candidate version does not exist. */
int md_store_tx_rollout_add(struct md_store_tx *tx, const struct md_store_rollout *r, int64_t *id,
                            struct md_err *err) MD_MUST_CHECK;
/* Replaces phase, active, state and updated_ms (0: now) of rollout id.
 * MD_ENOTFOUND if unknown; MD_ECONFLICT when it would be active beside
 * another active rollout of its model. */
int md_store_tx_rollout_update(struct md_store_tx *tx, int64_t id, const char *phase, bool active,
                               const char *state, int64_t updated_ms,
                               struct md_err *err) MD_MUST_CHECK;
/* Rollouts of model (NULL: all), active ones only or all, newest first; at
 * most limit (0: no limit). */
int md_store_tx_rollouts(struct md_store_tx *tx, const char *model, bool active_only, size_t limit,
                         void (*fn)(void *ctx, const struct md_store_rollout *r), void *ctx,
                         struct md_err *err) MD_MUST_CHECK;
/* One rollout; MD_ENOTFOUND if unknown. */
int md_store_tx_rollout_get(struct md_store_tx *tx, int64_t id,
                            void (*fn)(void *ctx, const struct md_store_rollout *r), void *ctx,
                            struct md_err *err) MD_MUST_CHECK;
/* Appends a decision (JSON: the measured values, thresholds, sample sizes,
 * the outcome) to rollout id (at_ms 0: now); listed in order of appending.
 * Both MD_ENOTFOUND when the rollout does not exist. */
int md_store_tx_decision_add(struct md_store_tx *tx, int64_t rollout, int64_t at_ms,
                             const char *decision, struct md_err *err) MD_MUST_CHECK;
int md_store_tx_decisions(struct md_store_tx *tx, int64_t rollout,
                          void (*fn)(void *ctx, int64_t at_ms, const char *decision), void *ctx,
                          struct md_err *err) MD_MUST_CHECK;

/* ---- events ------------------------------------------------------------- */

struct md_store_event {
    int64_t id; /* allocated by add, increasing */
    int64_t at_ms;
    const char *model;   /* "" for a server-wide event */
    const char *kind;    /* "version_registered", "alias_moved", "policy_changed", ... */
    const char *message; /* one line for people */
    const char *details; /* a JSON object */
};
/* Appends an event (e->id ignored; at_ms 0: now; model NULL: "", details
 * NULL: "{}"); its id into *id (may be NULL). */
int md_store_tx_event_add(struct md_store_tx *tx, const struct md_store_event *e, int64_t *id,
                          struct md_err *err) MD_MUST_CHECK;
/* Which events to list: every field optional (NULL, "" or 0). */
struct md_store_event_filter {
    const char *model;
    const char *kind;
    int64_t since_ms;  /* at_ms >= since_ms */
    int64_t until_ms;  /* at_ms < until_ms; 0: no bound */
    int64_t before_id; /* paging: ids below this one; 0: from the newest */
    size_t limit;      /* at most this many (0: 100; 1000 at most) */
};
/* Events matching f, newest first. */
int md_store_tx_events(struct md_store_tx *tx, const struct md_store_event_filter *f,
                       void (*fn)(void *ctx, const struct md_store_event *e), void *ctx,
                       struct md_err *err) MD_MUST_CHECK;

/* ---- the prediction log ------------------------------------------------- */

/* A key of a prediction row: its name in the contract, its value as text
 * (an integer in plain decimal). */
struct md_store_key {
    const char *name;
    const char *value;
};

/*
 * One prediction row of one version: what the prediction log keeps. The
 * log is observations, not control data: rows come in batches from the
 * log's writer thread, a lost batch (a crash before its commit) is lost.
 * Strings borrowed from the caller; JSON texts are stored as given.
 */
struct md_store_prediction {
    int64_t id;             /* allocated by add, increasing in the order added */
    const char *request_id; /* the request's id (X-Request-Id or the one the server made) */
    int64_t row;            /* the row within the request, from 0 */
    int64_t at_ms;          /* when it was answered (ms since the epoch) */
    const char *model;
    int64_t version;
    const char *route;  /* the traffic route ("stable", "canary", "shadow", ...) */
    bool shadow;        /* a shadow's or mirror's answer, not the caller's */
    int status;         /* the HTTP status the request was answered with */
    int64_t latency_us; /* the request's, from arrival to its answer */
    const char *keys;   /* a JSON object of the row's keys: fields, or NULL: none */
    const struct md_store_key *key_list; /* the same keys, n_keys of them, for the index
                                            by which feedback finds the row */
    size_t n_keys;
    const char *features; /* a JSON object of the row's features as sent (its privacy
                             policy applied), or NULL: not kept (sampled out, expired) */
    const char *label;    /* classification: the predicted label, or NULL */
    double score;         /* binary classification: P(labels[1]); regression: the predicted
                             value; NaN otherwise (or no output) */
    const char *outputs;  /* a JSON object of every output of the row, or NULL (failed) */
    const char *review;   /* the name of the review rule that sends the row to review
                             (a review item is added with it), or NULL: none */
    uint64_t review_max;  /* with review: the queue's bound (waiting and leased items of the
                             model); past it the item is dropped and counted */
};

/*
 * Appends n rows (their ids ignored; at_ms 0: now) and, for each entry of a
 * row's key_list, an index entry (model, key name, value, row id) by which
 * feedback finds the row. MD_EINVAL for a row without request_id or model.
 */
int md_store_tx_predictions_add(struct md_store_tx *tx, const struct md_store_prediction *rows,
                                size_t n, struct md_err *err) MD_MUST_CHECK;

/* Which prediction rows to list: every field optional (NULL, "" or 0). */
struct md_store_prediction_filter {
    const char *model;
    int64_t version;        /* 0: any */
    const char *route;      /* the traffic route ("stable", "shadow", ...) */
    const char *key_name;   /* with key_value: rows whose key of that name has that value */
    const char *key_value;  /* (a model narrows the lookup to its index) */
    const char *request_id; /* the rows of one request */
    int64_t since_ms;       /* at_ms >= since_ms */
    int64_t until_ms;       /* at_ms < until_ms; 0: no bound */
    int feedback;           /* 1: only rows with current feedback; -1: only rows without;
                               0: either */
    int64_t after_id;       /* paging: ids above this one (the last id of the previous page) */
    size_t limit;           /* at most this many (0: 100; 10000 at most) */
};

/* Rows matching f, oldest (lowest id) first; strings borrowed for fn's call
 * (key_list is NULL: the keys are in keys' JSON text). */
int md_store_tx_predictions(struct md_store_tx *tx, const struct md_store_prediction_filter *f,
                            void (*fn)(void *ctx, const struct md_store_prediction *p), void *ctx,
                            struct md_err *err) MD_MUST_CHECK;

/*
 * Removes (with their key index entries) the oldest rows written before
 * before_ms, at most chunk of them and only among the chunk lowest ids (so
 * one call reads and changes a bounded part of the table: ids follow the
 * order of writing); how many into *removed.
 */
int md_store_tx_predictions_expire(struct md_store_tx *tx, int64_t before_ms, size_t chunk,
                                   int64_t *removed, struct md_err *err) MD_MUST_CHECK;

/*
 * Clears the features of rows written before before_ms (0: none by age) or
 * not among the newest keep_rows rows (0: none by count), looking at ids
 * from *cursor (raised to the lowest id stored) on, chunk ids at most;
 * *cursor moves past the rows done, to the first row that keeps its
 * features. How many were cleared into *trimmed.
 */
int md_store_tx_predictions_trim(struct md_store_tx *tx, int64_t before_ms, int64_t keep_rows,
                                 size_t chunk, int64_t *cursor, int64_t *trimmed,
                                 struct md_err *err) MD_MUST_CHECK;

/* Rows stored (of model; NULL: of every model), and of those, rows with features. */
int md_store_tx_predictions_count(struct md_store_tx *tx, const char *model, int64_t *rows,
                                  int64_t *with_features, struct md_err *err) MD_MUST_CHECK;

/*
 * A connection of its own for observations, for the one thread that writes
 * them (the log's writer), so that their inserts run on that thread (at its
 * priority) rather than the store thread's. Each md_store_obs_call runs
 * run in one transaction of its own (BEGIN IMMEDIATE: it waits, up to the
 * busy timeout, while the store thread commits, and the store thread waits
 * while it does), committed without a sync of its own (synchronous=NORMAL
 * in WAL mode: the next synced commit, or checkpoint, makes it durable; a
 * crash before may lose it, never corrupt the file). Errors as the store
 * thread's transactions have; on failure nothing of run is kept.
 * Threads: one thread at a time per connection; close it before the store.
 */
struct md_store_obs;
int md_store_obs_open(struct md_store *s, struct md_store_obs **out,
                      struct md_err *err) MD_MUST_CHECK;
int md_store_obs_call(struct md_store_obs *o,
                      int (*run)(struct md_store_tx *tx, void *ctx, struct md_err *err), void *ctx,
                      struct md_err *err) MD_MUST_CHECK;
void md_store_obs_close(struct md_store_obs *o); /* NULL ok */

/* ---- feedback ------------------------------------------------------------ */

/* What an outcome says of a prediction row. */
enum md_feedback_kind {
    MD_FEEDBACK_LABEL = 1, /* the true class (classification) */
    MD_FEEDBACK_VALUE,     /* the true value (regression) */
    MD_FEEDBACK_REWARD,    /* a reward the prediction earned */
    MD_FEEDBACK_RATING     /* a rating of the prediction */
};
/* "label", "value", "reward", "rating"; md_feedback_kind_parse: 0 if unknown. */
const char *md_feedback_kind_name(enum md_feedback_kind k);
enum md_feedback_kind md_feedback_kind_parse(const char *name);

/* Where an item stands: its row stored, waiting for it, or given up on. */
enum md_feedback_state { MD_FEEDBACK_ATTACHED = 1, MD_FEEDBACK_PENDING, MD_FEEDBACK_ORPHANED };
/* "attached", "pending", "orphaned". */
const char *md_feedback_state_name(enum md_feedback_state s);

/*
 * One feedback item, as received (checked above the store: a known kind, a
 * label among the model's classes, a finite value, a known source). It
 * names its row by request_id (and row; row < 0: the request's only row)
 * or, request_id NULL, by a key (key_name, key_value) the prediction log
 * indexed. Strings borrowed from the caller.
 */
struct md_store_feedback {
    const char *model;
    const char *request_id; /* or NULL: by key */
    int64_t row;            /* >= 0, or -1: not given */
    const char *key_name;   /* with key_value when request_id is NULL */
    const char *key_value;
    enum md_feedback_kind kind;
    const char *label;   /* MD_FEEDBACK_LABEL: the true class */
    double value;        /* the other kinds: the number */
    const char *source;  /* "user", "system", "expert" */
    const char *comment; /* or NULL */
    int64_t at_ms;       /* when received; 0: now */
};

/*
 * A change of an outcome on one stored prediction row (each version's row
 * of a request: the answer's and its shadows'), for statistics kept as
 * feedback flows: sign +1 when the outcome now counts, -1 when it no longer
 * does (a later item replaced it). Strings borrowed for the call.
 */
struct md_store_outcome {
    int sign;
    const char *model;
    int64_t version;
    const char *route;
    bool shadow;
    int64_t at_ms;         /* the prediction's time */
    const char *predicted; /* the predicted label, or NULL */
    double score;          /* P(labels[1]) or the predicted value; NaN when none */
    enum md_feedback_kind kind;
    const char *label; /* the true label (MD_FEEDBACK_LABEL) */
    double value;      /* the number (the other kinds) */
};
typedef void (*md_store_outcome_fn)(void *ctx, const struct md_store_outcome *o);

/*
 * Stores item f. When its row is stored (by request id, or the newest
 * answer, not a shadow's, whose key f names) it is attached at once: it
 * becomes the row's current outcome of its kind, the earlier one kept as
 * history (current 0), and fn (may be NULL) is told each change; else it
 * is kept pending (*state says which). Refused with MD_EINVAL naming the
 * field when the request id belongs to another model ("request_id: request
 * 'r' is a prediction of model 'a', not 'b'"), when row is left out of a
 * stored request of several rows ("row: request 'r' has 3 rows: say which
 * one") or names one it lacks ("row: request 'r' has no row 7 (rows 0 to
 * 2)"), or when the item names no row at all.
 */
int md_store_tx_feedback_add(struct md_store_tx *tx, const struct md_store_feedback *f,
                             md_store_outcome_fn fn, void *ctx, enum md_feedback_state *state,
                             struct md_err *err) MD_MUST_CHECK;

/* One round of the pending items' upkeep (md_store_tx_feedback_sweep). */
struct md_store_feedback_sweep {
    int64_t now_ms;        /* 0: now */
    int64_t horizon_ms;    /* a pending item older than this is orphaned */
    int64_t after_id;      /* in/out: predictions with a higher id are counted (fn_count); < 0:
                              the first round, which starts from since_ms */
    int64_t since_ms;      /* the first round: predictions made from then on are counted (a
                              round at a time), and the current outcomes of those already
                              attached told (fn, sign +1); 0: none, from the newest row on */
    size_t max_rows;       /* predictions counted in one round at most (0: 100000) */
    size_t max_items;      /* pending items looked at in one round at most (0: 10000) */
    int64_t pending_after; /* in/out: a round looks at the pending items after this id, the
                              next one after the last it saw (0 again once none are left), so
                              that every item gets its turn however many wait */
    uint64_t attached;     /* out: items attached this round */
    uint64_t orphaned;     /* out: items orphaned this round */
};

/*
 * The upkeep of feedback, for a periodic job: attaches the pending items
 * whose rows have been stored since (telling fn each change of outcome, as
 * md_store_tx_feedback_add), orphans those older than the horizon, counts
 * the predictions stored since s->after_id by model, version, route,
 * shadow and minute of prediction time (fn_count: minute_ms is the
 * minute's start), and tells fn_totals, for each model with any, how many
 * items wait and how many were orphaned in all. Any fn may be NULL.
 */
int md_store_tx_feedback_sweep(
    struct md_store_tx *tx, struct md_store_feedback_sweep *s, md_store_outcome_fn fn,
    void (*fn_count)(void *ctx, const char *model, int64_t version, const char *route, bool shadow,
                     int64_t minute_ms, uint64_t n),
    void (*fn_totals)(void *ctx, const char *model, uint64_t pending, uint64_t orphaned), void *ctx,
    struct md_err *err) MD_MUST_CHECK;

/* Which prediction rows a quality window holds. */
struct md_store_quality_filter {
    const char *model; /* required */
    int64_t version;   /* 0: every version */
    const char *route; /* NULL or "": every route */
    int64_t since_ms;  /* prediction time >= since_ms */
    int64_t until_ms;  /* prediction time < until_ms; 0: no bound */
    bool with_shadows; /* shadows' rows too (else the answers only) */
};

/* One stored prediction row with its current outcomes. Strings borrowed for the call. */
struct md_store_labelled {
    int64_t id; /* the prediction row's */
    const char *request_id;
    int64_t row;
    int64_t version;
    const char *route;
    bool shadow;
    int64_t at_ms;
    const char *predicted; /* the predicted label, or NULL */
    double score;          /* NaN when none */
    const char *label;     /* the current label, or NULL */
    double value;          /* the current value; NaN when none */
    double reward;         /* NaN when none */
    double rating;         /* NaN when none */
};

/*
 * The prediction rows of f that have a current outcome, newest prediction
 * first (time, then id); fn returns false to stop after the row it was
 * given. Then, when fn_total is not NULL, the number of prediction rows of
 * f, labelled or not, by version, route and shadow, from the prediction
 * time of the oldest row fn took when it stopped (else from f->since_ms).
 */
int md_store_tx_feedback_rows(struct md_store_tx *tx, const struct md_store_quality_filter *f,
                              bool (*fn)(void *ctx, const struct md_store_labelled *r),
                              void (*fn_total)(void *ctx, int64_t version, const char *route,
                                               bool shadow, uint64_t n),
                              void *ctx, struct md_err *err) MD_MUST_CHECK;

/* One stored feedback item, for listings (history included). */
struct md_store_feedback_item {
    int64_t id;
    struct md_store_feedback f; /* row -1 while pending by key */
    enum md_feedback_state state;
    bool current;
};
/* Every item of request_id (history included) by id, or of model's key when
 * request_id is NULL. */
int md_store_tx_feedback_items(struct md_store_tx *tx, const char *model, const char *request_id,
                               const char *key_name, const char *key_value,
                               void (*fn)(void *ctx, const struct md_store_feedback_item *it),
                               void *ctx, struct md_err *err) MD_MUST_CHECK;

/* ---- A/B outcomes ---------------------------------------------------------- */

/* The outcome an A/B analysis reads from a row's current feedback. */
enum md_store_ab_outcome {
    MD_STORE_AB_LABEL = 1, /* feedback of kind "label": 1 when it is the positive label, else 0 */
    MD_STORE_AB_REWARD,    /* feedback of kind "reward": its value */
    MD_STORE_AB_VALUE      /* feedback of kind "value": its value */
};

/* Which rows to read: the answered (not shadow, 2xx) prediction rows of model
 * with a current feedback item of the outcome's kind. */
struct md_store_ab_query {
    const char *model;
    enum md_store_ab_outcome outcome;
    const char *positive; /* MD_STORE_AB_LABEL: the label that counts as 1 */
    const char *unit_key; /* a `keys:` field: the rows of one route and one value of the key
                             form a group (rows without the key one group each); NULL: every
                             row is a group of its own */
    int64_t since_ms;     /* prediction time >= since_ms (0: no bound) */
    int64_t until_ms;     /* prediction time < until_ms (0: no bound) */
};

/* A group of rows: the unit that was randomised (one key) or one row. */
struct md_store_ab_group {
    const char *route;   /* the traffic route the rows took; borrowed for the call */
    int64_t version_min; /* the versions that answered them */
    int64_t version_max;
    uint64_t rows; /* >= 1 */
    double sum;    /* of the rows' outcomes */
};

/*
 * Every group of q, through fn, in no particular order: aggregated in the
 * database, so the caller keeps only its per-route sums. MD_EINVAL for a
 * query without model (or without positive for MD_STORE_AB_LABEL).
 */
int md_store_tx_ab_groups(struct md_store_tx *tx, const struct md_store_ab_query *q,
                          void (*fn)(void *ctx, const struct md_store_ab_group *g), void *ctx,
                          struct md_err *err) MD_MUST_CHECK;

/* ---- alert rules and alerts ---------------------------------------------- */

/* A stored alert rule (watch/alert_rule.h). */
struct md_store_alert_rule {
    const char *name;
    const char *rule;   /* its JSON, every default written out */
    const char *source; /* "file" (the configuration file's) or "api" */
    int64_t updated_ms; /* 0 on a put: now */
};
/* Adds or replaces the rule of r->name. MD_EINVAL for an empty name or rule. */
int md_store_tx_alert_rule_put(struct md_store_tx *tx, const struct md_store_alert_rule *r,
                               struct md_err *err) MD_MUST_CHECK;
/* Removes one; MD_ENOTFOUND if absent. */
int md_store_tx_alert_rule_delete(struct md_store_tx *tx, const char *name,
                                  struct md_err *err) MD_MUST_CHECK;
/* Every rule (name NULL) or one (MD_ENOTFOUND if absent), by name. */
int md_store_tx_alert_rules(struct md_store_tx *tx, const char *name,
                            void (*fn)(void *ctx, const struct md_store_alert_rule *r), void *ctx,
                            struct md_err *err) MD_MUST_CHECK;

/* A change of an alert's state, as the history keeps it. */
struct md_store_alert {
    int64_t id; /* allocated by add, increasing */
    const char *rule;
    const char *model;
    const char *state; /* "pending", "firing", "resolved", "inactive" */
    int64_t at_ms;     /* when it changed (0 on an add: now) */
    int64_t active_ms; /* when its condition began to hold */
    int64_t fired_ms;  /* when it fired, or 0 */
    double value;      /* NaN: no data (stored as NULL) */
    const char *fingerprint;
    const char *labels;      /* a JSON object */
    const char *annotations; /* a JSON object */
};
/* Appends a change; its id into *id (may be NULL). */
int md_store_tx_alert_add(struct md_store_tx *tx, const struct md_store_alert *a, int64_t *id,
                          struct md_err *err) MD_MUST_CHECK;
/* Which changes to list: every field optional (NULL, "" or 0). */
struct md_store_alert_filter {
    const char *rule;
    const char *model;
    const char *state;
    int64_t since_ms;  /* at_ms >= since_ms */
    int64_t before_id; /* paging: ids below this one; 0: from the newest */
    size_t limit;      /* at most this many (0: 100; 1000 at most) */
    bool last;         /* only the last change of each rule (the filter's other
                          fields then apply to those) */
};
/* Removes the changes older than before_ms but the last one of each rule
 * (its state, read back at start); how many into *n (may be NULL). */
int md_store_tx_alerts_prune(struct md_store_tx *tx, int64_t before_ms, int64_t *n,
                             struct md_err *err) MD_MUST_CHECK;
/* Changes matching f, newest first. */
int md_store_tx_alerts(struct md_store_tx *tx, const struct md_store_alert_filter *f,
                       void (*fn)(void *ctx, const struct md_store_alert *a), void *ctx,
                       struct md_err *err) MD_MUST_CHECK;

/* ---- history (per-minute rollups) ---------------------------------------- */

/* Latency buckets of a rollup: watch/metrics.h's MD_HIST_BUCKETS bounds, then +Inf. */
#define MD_STORE_LATENCY_BUCKETS 21

/*
 * The request counters of one (model, version, route) over one step (a
 * minute) that starts at at_ms. Observations: written in batches by the
 * history's task; a lost batch is lost. Strings borrowed.
 */
struct md_store_history_requests {
    const char *model;
    int64_t version;
    const char *route;
    int64_t at_ms;
    uint64_t requests; /* whatever their outcome */
    uint64_t success;  /* answered 200 */
    uint64_t errors;   /* failed on the server's side (5xx) */
    uint64_t rejected; /* refused for bad input (4xx) */
    uint64_t rows;     /* rows predicted */
    uint64_t latency_sum_ns;
    uint64_t latency[MD_STORE_LATENCY_BUCKETS]; /* successful requests, per bucket (not
                                                   cumulative) */
};

/* The value a named metric had over one step starting at at_ms, for a
 * model (version 0) or one of its versions. Strings borrowed. */
struct md_store_history_value {
    const char *model;
    int64_t version;    /* 0: the model as a whole */
    const char *metric; /* with its argument, if any */
    int64_t at_ms;
    double value; /* finite */
    uint64_t samples;
};

/* Appends n_req request rollups and n_val values (a value that is not
 * finite is skipped). MD_EINVAL for a row without model. */
int md_store_tx_history_add(struct md_store_tx *tx, const struct md_store_history_requests *req,
                            size_t n_req, const struct md_store_history_value *val, size_t n_val,
                            struct md_err *err) MD_MUST_CHECK;

/* Which rows to read: model required; since_ms <= at_ms < until_ms. */
struct md_store_history_filter {
    const char *model;
    int64_t version;    /* requests: 0 every version; values: the version (0: the model's) */
    const char *route;  /* requests: NULL every route */
    const char *metric; /* values: required */
    int64_t since_ms;
    int64_t until_ms;
};

/* The request rollups f selects, by at_ms, through fn. */
int md_store_tx_history_requests(struct md_store_tx *tx, const struct md_store_history_filter *f,
                                 void (*fn)(void *ctx, const struct md_store_history_requests *r),
                                 void *ctx, struct md_err *err) MD_MUST_CHECK;
/* The values f selects, by at_ms, through fn. */
int md_store_tx_history_values(struct md_store_tx *tx, const struct md_store_history_filter *f,
                               void (*fn)(void *ctx, const struct md_store_history_value *v),
                               void *ctx, struct md_err *err) MD_MUST_CHECK;

/* Removes every rollup and value of a step that started before before_ms;
 * how many rows went into *removed (may be NULL). */
int md_store_tx_history_expire(struct md_store_tx *tx, int64_t before_ms, uint64_t *removed,
                               struct md_err *err) MD_MUST_CHECK;

/* ---- training runs ------------------------------------------------------- */

/* One training run (the trainings table). Strings borrowed: from the caller
 * on add and update, from the store during a callback only. */
struct md_store_training {
    int64_t id; /* allocated by add */
    const char *model;
    const char *trigger; /* "manual", "schedule", "drift", "quality", "labels" */
    const char *state;   /* "queued", "running", "succeeded", "failed", "timed_out", "killed",
                            "refused" */
    int64_t requested_ms;
    int64_t started_ms;  /* 0 until it runs */
    int64_t finished_ms; /* 0 until it ends */
    int64_t since_ms;    /* the training set's window of prediction time (0: none) */
    int64_t until_ms;
    int64_t rows;       /* rows of the training set, holdout included */
    const char *spec;   /* JSON object: what was asked (trigger details, trainer, parameters) */
    const char *result; /* JSON object: what came out (summary, evaluation, decision, reason) */
    int64_t version;    /* the version it registered, 0 when none */
};
/* Adds a run (t->id ignored; requested_ms 0: now; spec, result NULL: "{}");
 * its id into *id. */
int md_store_tx_training_add(struct md_store_tx *tx, const struct md_store_training *t, int64_t *id,
                             struct md_err *err) MD_MUST_CHECK;
/* Replaces state, started_ms, finished_ms, since_ms, until_ms, rows, result
 * (NULL: kept) and version of run t->id. MD_ENOTFOUND if unknown. */
int md_store_tx_training_update(struct md_store_tx *tx, const struct md_store_training *t,
                                struct md_err *err) MD_MUST_CHECK;
/* Runs of model (NULL: every model), newest first, at most limit (0: no
 * limit). */
int md_store_tx_trainings(struct md_store_tx *tx, const char *model, size_t limit,
                          void (*fn)(void *ctx, const struct md_store_training *t), void *ctx,
                          struct md_err *err) MD_MUST_CHECK;
/* One run; MD_ENOTFOUND if unknown. */
int md_store_tx_training_get(struct md_store_tx *tx, int64_t id,
                             void (*fn)(void *ctx, const struct md_store_training *t), void *ctx,
                             struct md_err *err) MD_MUST_CHECK;
/* Every run still queued or running (left so by a daemon that stopped or
 * crashed) becomes "failed" with reason in its result, finished now; how
 * many into *n (may be NULL). */
int md_store_tx_trainings_abandon(struct md_store_tx *tx, const char *reason, size_t *n,
                                  struct md_err *err) MD_MUST_CHECK;
/* For each model with runs: when its last run was asked for. */
int md_store_tx_trainings_last(struct md_store_tx *tx,
                               void (*fn)(void *ctx, const char *model, int64_t requested_ms),
                               void *ctx, struct md_err *err) MD_MUST_CHECK;

/* ---- training sets (learn/dataset.h reads them) --------------------------- */

/* Which labelled rows a training set reads: the answered (2xx), not shadow
 * prediction rows of model with a current feedback item of the target's
 * kind (label, or value for regression), newest first (prediction time,
 * then id), one page at a time. */
struct md_store_training_filter {
    const char *model;    /* required */
    bool regression;      /* feedback of kind "value", else "label" */
    int64_t since_ms;     /* prediction time >= since_ms (0: no bound) */
    int64_t until_ms;     /* prediction time < until_ms (0: no bound) */
    int64_t before_at_ms; /* paging: rows before (before_at_ms, before_id) in the order; */
    int64_t before_id;    /* before_id 0: from the newest */
    size_t limit;         /* at most this many (0: 1000; 100000 at most) */
};

/* One labelled prediction row. Strings borrowed for the call. */
struct md_store_training_row {
    int64_t id; /* the prediction row's */
    const char *request_id;
    int64_t row;
    int64_t at_ms; /* prediction time */
    int64_t version;
    const char *features; /* a JSON object, or NULL: no longer kept (expired, sampled out) */
    const char *label;    /* classification: the current label (never NULL) */
    double value;         /* regression: the current value (NaN when not a number) */
    const char *source;   /* the feedback's: "user", "system", "expert" */
};

/* The rows of f, newest first, through fn (at most f->limit). */
int md_store_tx_training_rows(struct md_store_tx *tx, const struct md_store_training_filter *f,
                              void (*fn)(void *ctx, const struct md_store_training_row *r),
                              void *ctx, struct md_err *err) MD_MUST_CHECK;

/* A base dataset registered for a model: a CSV file in the artifact store. */
struct md_store_dataset {
    const char *model;
    const char *name;
    const char *sha256;  /* of the file, in the artifact store */
    int64_t size;        /* bytes */
    int64_t rows;        /* data rows (the header not counted) */
    const char *columns; /* a JSON array of the header's column names */
    int64_t created_ms;  /* 0 on a put: now */
};
/* Registers d, replacing a dataset of that model and name. MD_EINVAL for
 * an empty model or name, or a bad sha256. */
int md_store_tx_dataset_put(struct md_store_tx *tx, const struct md_store_dataset *d,
                            struct md_err *err) MD_MUST_CHECK;
/* The datasets of model (name NULL), by name, or one (MD_ENOTFOUND
 * "model 'm' has no dataset 'd'" when absent). */
int md_store_tx_datasets(struct md_store_tx *tx, const char *model, const char *name,
                         void (*fn)(void *ctx, const struct md_store_dataset *d), void *ctx,
                         struct md_err *err) MD_MUST_CHECK;
/* Removes one; MD_ENOTFOUND if absent (its file goes at the next sweep). */
int md_store_tx_dataset_delete(struct md_store_tx *tx, const char *model, const char *name,
                               struct md_err *err) MD_MUST_CHECK;
/* ---- review queues --------------------------------------------------------- */

/*
 * A prediction row that a review rule sent to review (serve/predrec.c
 * decides; md_store_tx_predictions_add adds the item with its row). Its
 * state: "queued" (waiting, or leased and the lease ran out), "leased"
 * (taken by a reviewer until lease_until_ms), "done" (answered: the verdict
 * became the row's expert feedback). Strings borrowed for the call.
 */
struct md_store_review_item {
    int64_t id;
    const char *model;
    int64_t prediction; /* the prediction row's id */
    const char *request_id;
    int64_t row;
    int64_t version;
    const char *reason; /* the rule's name */
    int64_t created_ms;
    const char *state;      /* "queued", "leased", "done" */
    int64_t lease_until_ms; /* leased: when the lease runs out */
    const char *lease;      /* the lease's token, or NULL */
    const char *reviewer;   /* who took it last, or NULL */
    const char *verdict;    /* done: the label, or the value as text */
    const char *comment;    /* or NULL */
    int64_t answered_ms;
    int agrees;            /* done: 1 the verdict is the predicted label, 0 it is not; -1
                              not known (regression, or not answered) */
    const char *features;  /* the prediction row's features (JSON), or NULL */
    const char *predicted; /* its predicted label, or NULL */
    double score;          /* its score, NaN when none */
    const char *outputs;   /* its outputs (JSON), or NULL */
};

/*
 * Takes the oldest waiting item of model (queued, or leased with its lease
 * run out at now_ms) for reviewer: leased until now_ms + lease_ms under a
 * new random token, then fn(ctx, item) with it. *found false (fn not
 * called) when none waits. Two calls never take the same item while its
 * lease holds (the store runs one job at a time).
 */
int md_store_tx_review_next(struct md_store_tx *tx, const char *model, const char *reviewer,
                            int64_t lease_ms, int64_t now_ms,
                            void (*fn)(void *ctx, const struct md_store_review_item *it), void *ctx,
                            bool *found, struct md_err *err) MD_MUST_CHECK;

/* A verdict on a review item (checked above the store against the model's contract). */
struct md_store_review_verdict {
    int64_t id;                 /* the item */
    const char *lease;          /* the token next gave */
    enum md_feedback_kind kind; /* MD_FEEDBACK_LABEL or MD_FEEDBACK_VALUE */
    const char *label;          /* LABEL: the class */
    double value;               /* VALUE: the number */
    const char *comment;        /* or NULL */
    int64_t now_ms;
};

/*
 * Answers item v->id: its row gets the verdict as expert feedback
 * (md_store_tx_feedback_add, source "expert": fn is told the changes of
 * outcome), and the item is done, with whether the verdict agrees with the
 * prediction; then fn_item (may be NULL) with the item as it is now.
 * MD_ENOTFOUND for no such item; MD_ECONFLICT naming the lease when the
 * item is answered already, not leased, leased under another token, or its
 * lease ran out (someone else may hold it now).
 */
int md_store_tx_review_answer(struct md_store_tx *tx, const struct md_store_review_verdict *v,
                              md_store_outcome_fn fn, void *ctx,
                              void (*fn_item)(void *ctx, const struct md_store_review_item *it),
                              struct md_err *err) MD_MUST_CHECK;

/* Items of model (NULL: every model) in state (NULL: any; "queued" counts expired leases
 * as queued), oldest first, at most limit (0: 100; 1000 at most), after_id on (paging). */
int md_store_tx_review_list(struct md_store_tx *tx, const char *model, const char *state,
                            int64_t now_ms, int64_t after_id, size_t limit,
                            void (*fn)(void *ctx, const struct md_store_review_item *it), void *ctx,
                            struct md_err *err) MD_MUST_CHECK;

/* One model's queue at now_ms. */
struct md_store_review_stats {
    const char *model;
    uint64_t waiting;  /* queued (expired leases included) */
    uint64_t leased;   /* leases holding */
    int64_t oldest_ms; /* created_ms of the oldest waiting or leased item; 0: none */
    uint64_t answered; /* done */
    uint64_t judged;   /* done with agrees known */
    uint64_t agreed;   /* of those, verdicts equal to the prediction */
};

/* Each model with review items, fn(ctx, stats) once each. */
int md_store_tx_review_stats(struct md_store_tx *tx, int64_t now_ms,
                             void (*fn)(void *ctx, const struct md_store_review_stats *s),
                             void *ctx, struct md_err *err) MD_MUST_CHECK;

/* Review items dropped since start because their model's queue was full (thread-safe). */
uint64_t md_store_review_dropped(void);
/* ---- training triggers --------------------------------------------------- */

/*
 * The labels a trigger counts (control/triggers.c): feedback items of kind
 * label or value for model received at since_ms or later, among the items
 * whose id is above after_id, into *n; *upto_id: the highest feedback id
 * when counted (the next count's after_id, so that each item is read once).
 */
int md_store_tx_labels_since(struct md_store_tx *tx, const char *model, int64_t since_ms,
                             int64_t after_id, int64_t *upto_id, uint64_t *n,
                             struct md_err *err) MD_MUST_CHECK;
/* ---- online learning ---------------------------------------------------- */

/* A label or value given for one answered (not shadow) prediction row, for the learner. */
struct md_store_online_label {
    int64_t feedback_id;   /* the feedback item's id (increasing) */
    bool ready;            /* attached to a stored answer and current: the fields below are
                              set; else waiting (pending) when still_pending, or gone */
    bool still_pending;    /* not ready: its row may still come (pending, current) */
    int64_t prediction_id; /* the prediction row's */
    int64_t version;       /* the version that answered */
    int64_t at_ms;         /* when the item was received */
    const char *features;  /* the row's features as a JSON object, or NULL when trimmed */
    const char *label;     /* the true class (kind label), or NULL */
    double value;          /* the true value (kind value); NaN when none */
};

/*
 * The label and value feedback items of model the learner has to look at,
 * fn told each (strings borrowed for the call): first those of ids[0..
 * n_ids) (items that were waiting for their row when it last looked), then
 * those with an id above after_id, by id, max_rows at most. *last_id: the
 * highest id of the second kind told (after_id when none).
 */
int md_store_tx_online_labels(struct md_store_tx *tx, const char *model, int64_t after_id,
                              size_t max_rows, const int64_t *ids, size_t n_ids,
                              void (*fn)(void *ctx, const struct md_store_online_label *l),
                              void *ctx, int64_t *last_id, struct md_err *err) MD_MUST_CHECK;

/* The highest feedback item id of model (0 when none) into *id. */
int md_store_tx_online_last_feedback(struct md_store_tx *tx, const char *model, int64_t *id,
                                     struct md_err *err) MD_MUST_CHECK;

/* ---- tokens (bearer tokens: store/sqlite_tokens.c) ---------------------- */

/* One token's record. Strings borrowed: from the caller on add, from the
 * store during a callback only. The secret is never stored: hash is the
 * hex SHA-256 of it. */
struct md_store_token {
    int64_t id;
    const char *name;       /* unique, as given at creation */
    const char *hash;       /* 64 lower-case hex: SHA-256 of the secret */
    const char *role;       /* an md_role name */
    const char *models;     /* JSON array of the model names it may use, or NULL: every model */
    double rate;            /* requests per second at most; 0: no limit */
    int64_t burst;          /* requests at once above the rate (with rate) */
    int64_t created_ms;     /* when made */
    const char *created_by; /* the principal that made it, or "offline" */
    int64_t expires_ms;     /* 0: never */
    int64_t revoked_ms;     /* 0: not revoked */
    int64_t last_used_ms;   /* 0: never used (written in batches, not per request) */
};

/* Adds token t (its id ignored; the new one into *id when id is not NULL).
 * MD_ECONFLICT when its name or hash is taken. */
int md_store_tx_token_add(struct md_store_tx *tx, const struct md_store_token *t, int64_t *id,
                          struct md_err *err) MD_MUST_CHECK;

/* Calls fn for every token, revoked and expired ones included, by id. */
int md_store_tx_tokens(struct md_store_tx *tx,
                       void (*fn)(void *ctx, const struct md_store_token *t), void *ctx,
                       struct md_err *err) MD_MUST_CHECK;

/* Revokes the token named name at now_ms. MD_ENOTFOUND when there is none;
 * a token revoked already keeps its first time (MD_OK). */
int md_store_tx_token_revoke(struct md_store_tx *tx, const char *name, int64_t now_ms,
                             struct md_err *err) MD_MUST_CHECK;

/* Raises token id's last use to at_ms (never lowers it); no token: MD_OK. */
int md_store_tx_token_used(struct md_store_tx *tx, int64_t id, int64_t at_ms,
                           struct md_err *err) MD_MUST_CHECK;

/* ---- artifacts ---------------------------------------------------------- */

/*
 * Moves the file at tmp_path (on the data directory's file system: see
 * md_store_artifact_tmp) into the artifact store under its sha256 (64
 * lower-case hex, computed by the caller while it was written), synced to
 * disk and read-only. A file already stored under that hash is kept and
 * tmp_path removed. MD_EINVAL for a bad sha256 or a tmp_path that is not a
 * regular file, MD_EIO naming the path when it cannot be moved or synced.
 */
int md_store_artifact_put(struct md_store *s, const char *tmp_path, const char *sha256,
                          struct md_err *err) MD_MUST_CHECK;
/* A new empty temporary file in the data directory, open for writing: its
 * path into path (size n) and its descriptor into *fd. */
int md_store_artifact_tmp(struct md_store *s, char *path, size_t n, int *fd,
                          struct md_err *err) MD_MUST_CHECK;
/* The path of the artifact with this sha256 (whether or not it exists). */
int md_store_artifact_path(struct md_store *s, const char *sha256, char *path, size_t n,
                           struct md_err *err) MD_MUST_CHECK;
/* Removes stored artifacts no version record (nor base dataset) names and temporary files
 * left by a crash; returns how many files it removed (each logged). At
 * start, before anything is uploaded: an artifact put but not yet named by
 * a version would go too. Not from the store thread. */
size_t md_store_artifact_sweep(struct md_store *s);

#endif
