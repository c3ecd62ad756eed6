/* SPDX-License-Identifier: MIT */
/*
 * rollout.h: the progressive-rollout controller's logic, as pure functions:
 * a strategy (how to move traffic to a candidate version and which gates
 * must hold), a rollout's spec (strategy, model, candidate, champion) and
 * state (where it is), the step that judges a stage from the measurements
 * of that stage, the operator's commands, and the weights a state puts on
 * the candidate and the champion. No threads, no clock, no I/O: `control`
 * calls these once a second with the time and what it measured, stores the
 * state and the decision, and turns the weights into a traffic policy; unit
 * tests drive every path with made-up numbers.
 *
 * Stages. A canary moves the candidate's share through steps (5, 25, 50,
 * 100 percent by default): each step lasts at least interval_s and is
 * judged; when it holds, the next step's weight is applied, and reaching
 * the last step (100) is the promotion. A shadow_canary first runs the
 * candidate as a shadow (no answers, copies of a fraction of the requests)
 * for at least shadow_s, judged like a step, then the canary steps. A
 * bluegreen keeps the candidate as the idle colour (weight 0, shadow
 * copies) for at least shadow_s, judged, then switches all the traffic at
 * once. A promotion puts 100% on the candidate (and the caller moves the
 * champion alias); a rollback or an abort puts 100% back on the champion.
 *
 * Judging. The caller hands the measurements of the current stage only:
 * for each metric it knows (by name: error_rate, latency_p99, agreement,
 * success_rate, and any signal of the registry a gate names: accuracy,
 * ab_p_value:conversion=yes, ...) the candidate's and the champion's value
 * over the stage and the samples behind each. Each gate of the strategy
 * compares one metric, absolutely or relative to the champion, and is held,
 * failed, or inconclusive (too few samples on a side it needs, a value that
 * is not a finite number, a metric not measured). A failed gate rolls back
 * at once, whether or not the interval is over; the stage passes when its
 * time is over, the candidate served min_requests and every gate held; else
 * it is inconclusive and waits (measurements go on accumulating), and after
 * the strategy's inconclusive.after_s the rollout pauses or rolls back, as
 * configured. Inconclusive is never a pass.
 *
 * Measurements are deltas, not counters: the caller measures from the
 * moment state.step_started_ms last changed (a new window whenever it
 * changes: at the start, an advance, a resume). A caller that lost its
 * window (a restart: counters held in memory start from zero) says since
 * when its numbers run (md_rollout_measure.since_ms); the stage's time then
 * counts from there, so a stage is never judged on less than its interval
 * of data, and the rollout still continues from the stage it was in.
 *
 * Memory: every struct here is plain data (no pointers but the borrowed
 * measurement table), fixed in size, copied by assignment.
 */
#ifndef MD_SERVE_ROLLOUT_H
#define MD_SERVE_ROLLOUT_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "watch/signals.h"

#define MD_ROLLOUT_STEPS      16         /* canary steps a strategy holds */
#define MD_ROLLOUT_GATES      16         /* gates a strategy holds */
#define MD_ROLLOUT_METRIC_MAX 64         /* a metric's name, NUL included */
#define MD_ROLLOUT_NAME_MAX   128        /* a model's or a strategy's name, NUL included */
#define MD_ROLLOUT_REASON_MAX 256        /* a state's or decision's reason, NUL included */
#define MD_ROLLOUT_SECONDS    2592000    /* the most any duration may be: 30 days */
#define MD_ROLLOUT_SAMPLES    1000000000 /* the most min_requests or min_samples may be */

enum md_rollout_kind {
    MD_ROLLOUT_KIND_CANARY = 1,   /* "canary": weighted steps */
    MD_ROLLOUT_KIND_BLUEGREEN,    /* "bluegreen": check the idle colour, then switch */
    MD_ROLLOUT_KIND_SHADOW_CANARY /* "shadow_canary": a shadow stage, then the steps */
};

/* How a gate compares the candidate's value c with its threshold t. */
enum md_gate_cmp {
    MD_GATE_MIN = 1,   /* "min": c >= t */
    MD_GATE_MAX,       /* "max": c <= t */
    MD_GATE_MIN_DELTA, /* "min_delta": c >= champion + t */
    MD_GATE_MAX_DELTA, /* "max_delta": c <= champion + t */
    MD_GATE_MIN_RATIO, /* "min_ratio": c >= champion * t (t > 0) */
    MD_GATE_MAX_RATIO  /* "max_ratio": c <= champion * t (t > 0) */
};

struct md_rollout_gate {
    char metric[MD_ROLLOUT_METRIC_MAX]; /* [A-Za-z][A-Za-z0-9_.-]*, then optionally ':' and a
                                           signal's argument (printable ASCII) */
    enum md_gate_cmp cmp;
    double threshold;     /* finite; > 0 for the ratios */
    uint64_t min_samples; /* 1 .. MD_ROLLOUT_SAMPLES, per side the gate reads */
};

enum md_rollout_on_inconclusive {
    MD_INCONCLUSIVE_PAUSE = 1, /* "pause": phase paused, traffic held where it is */
    MD_INCONCLUSIVE_ROLLBACK   /* "rollback": all the traffic back to the champion */
};

/*
 * A strategy. Fields that do not apply to the kind are 0 (and refused in
 * the JSON): steps, interval_s and mirror are the canary steps'; shadow_s
 * and shadow_fraction the shadow stage's and the blue/green check's.
 */
struct md_rollout_strategy {
    enum md_rollout_kind kind;
    size_t n_steps;                   /* 2 .. MD_ROLLOUT_STEPS; 0 for bluegreen */
    uint32_t steps[MD_ROLLOUT_STEPS]; /* percent, 1 .. 100, increasing, the last 100 */
    uint32_t interval_s;              /* 1 .. MD_ROLLOUT_SECONDS: a step's least time */
    uint64_t min_requests;  /* 1 .. MD_ROLLOUT_SAMPLES: candidate requests a stage needs */
    uint32_t shadow_s;      /* 1 .. MD_ROLLOUT_SECONDS: the shadow stage's least time */
    double shadow_fraction; /* (0, 1]: requests copied to the shadow candidate */
    double mirror;          /* [0, 1]: candidate requests mirrored to the champion */
    size_t n_gates;         /* 1 .. MD_ROLLOUT_GATES */
    struct md_rollout_gate gates[MD_ROLLOUT_GATES];
    uint32_t inconclusive_after_s; /* 0 .. MD_ROLLOUT_SECONDS */
    enum md_rollout_on_inconclusive inconclusive_action;
};

/*
 * Parses and checks a strategy's JSON text (see docs/rollouts.md): duplicate
 * keys, unknown fields and fields that do not apply to the kind refused;
 * defaults for what is absent (steps 5, 25, 50, 100; interval_s 60;
 * min_requests 100; shadow_s 60; shadow_fraction 1; mirror 0.1; gates
 * error_rate max_delta 0.01 and latency_p99 max_ratio 1.2; inconclusive
 * after 600 s: pause). MD_EINVAL naming the field and the reason
 * ("steps[2]: 25 is not above steps[1] (50): steps increase"); *out is then
 * unspecified.
 */
int md_rollout_strategy_parse(const char *json, size_t len, struct md_rollout_strategy *out,
                              struct md_err *err) MD_MUST_CHECK;

/*
 * The same from a parsed JSON value (jansson's json_t: a caller that read a
 * strategy inside a larger body). where is the value's path in that body
 * ("strategy"), put before each field the errors name
 * ("strategy.gates[1].max_ratio: must be above 0"); "" for none.
 */
struct json_t;
int md_rollout_strategy_from_json(const struct json_t *v, const char *where,
                                  struct md_rollout_strategy *out,
                                  struct md_err *err) MD_MUST_CHECK;

/* Whether name is a metric control measures itself for every rollout
 * (error_rate, latency_p99, agreement, success_rate); any other metric a
 * gate names is a signal of the registry (watch/signals.h). */
bool md_rollout_metric_builtin(const char *name);

/*
 * Whether every gate of st names a built-in metric or a signal of signals
 * (md_signals_check: known, with an argument exactly when it takes one);
 * how a strategy is checked when it is written (NULL signals: not checked).
 * MD_EINVAL naming the gate: "strategy.gates[2].metric: unknown metric
 * 'acuracy'" (where as md_rollout_strategy_from_json's).
 */
int md_rollout_strategy_check_signals(const struct md_rollout_strategy *st,
                                      const struct md_signals *signals, const char *where,
                                      struct md_err *err) MD_MUST_CHECK;

/* The strategy of kind with every default (what "{"kind": ...}" parses to). */
void md_rollout_strategy_default(struct md_rollout_strategy *s, enum md_rollout_kind kind);

/* Appends s's JSON, every field that applies written out, to b; returns b's error. */
int md_rollout_strategy_format(const struct md_rollout_strategy *s, struct md_buf *b) MD_MUST_CHECK;

/* ---- a rollout: spec and state ------------------------------------------ */

/* What was asked: stored once, when the rollout starts. */
struct md_rollout_spec {
    int64_t id;                              /* the store's id, 0 before; not in the JSON */
    char model[MD_ROLLOUT_NAME_MAX];         /* non-empty */
    int64_t candidate;                       /* >= 1 */
    int64_t champion;                        /* >= 1, not the candidate */
    int64_t created_ms;                      /* >= 0 */
    char strategy_name[MD_ROLLOUT_NAME_MAX]; /* the stored strategy it came from, "" if inline */
    struct md_rollout_strategy strategy;     /* a copy: a later change of the named one does
                                                not touch a rollout that runs */
};

/* Checks a spec the caller filled in (the strategy as the parser would).
 * MD_EINVAL naming the field ("candidate: version 3 is the champion"). */
int md_rollout_spec_check(const struct md_rollout_spec *spec, struct md_err *err) MD_MUST_CHECK;

/*
 * {"model": "m", "candidate": 4, "champion": 3, "created_ms": 1700000000000,
 *  "strategy_name": "safe", "strategy": {...}}: parses and checks (as
 * md_rollout_spec_check), strictly; out->id is set to 0.
 */
int md_rollout_spec_parse(const char *json, size_t len, struct md_rollout_spec *out,
                          struct md_err *err) MD_MUST_CHECK;
int md_rollout_spec_format(const struct md_rollout_spec *spec, struct md_buf *b) MD_MUST_CHECK;

enum md_rollout_phase {
    MD_ROLLOUT_RUNNING = 1, /* "running": stepped by control */
    MD_ROLLOUT_PAUSED,      /* "paused": traffic held, gates shown, no step taken */
    MD_ROLLOUT_PROMOTED,    /* "promoted": all traffic on the candidate; final */
    MD_ROLLOUT_ROLLED_BACK, /* "rolled_back": all traffic on the champion; final */
    MD_ROLLOUT_ABORTED      /* "aborted": all traffic on the champion, by command; final */
};

enum md_rollout_stage {
    MD_ROLLOUT_STAGE_SHADOW = 1, /* "shadow": shadow_canary's first stage */
    MD_ROLLOUT_STAGE_CANARY,     /* "canary": a weighted step */
    MD_ROLLOUT_STAGE_CHECK       /* "check": bluegreen's checks on the idle colour */
};

/* Where a rollout is: stored after each decision that changes it. */
struct md_rollout_state {
    enum md_rollout_phase phase;
    enum md_rollout_stage stage;
    /* The canary step (index into steps), 0 in the other stages. While the
     * rollout is active, below n_steps - 1: the last step is the promotion. */
    uint32_t step;
    int64_t step_started_ms;            /* when the stage or step began (or resumed) */
    int64_t inconclusive_since_ms;      /* the stage's first inconclusive verdict; 0: none */
    int64_t ended_ms;                   /* when it reached a final phase; 0 while active */
    char reason[MD_ROLLOUT_REASON_MAX]; /* why paused or why it ended; "" while running */
};

/*
 * {"phase": "running", "stage": "canary", "step": 1, "step_started_ms": ...,
 *  "inconclusive_since_ms": 0, "ended_ms": 0, "reason": ""}: parses strictly
 * (every field present, no other) and checks it against spec (stage of its
 * kind, step in range, ended_ms set exactly in final phases). MD_EINVAL
 * naming the field.
 */
int md_rollout_state_parse(const struct md_rollout_spec *spec, const char *json, size_t len,
                           struct md_rollout_state *out, struct md_err *err) MD_MUST_CHECK;
int md_rollout_state_format(const struct md_rollout_state *st, struct md_buf *b) MD_MUST_CHECK;

/* The checks of md_rollout_state_parse, on a state the caller holds. */
int md_rollout_state_check(const struct md_rollout_spec *spec, const struct md_rollout_state *st,
                           struct md_err *err) MD_MUST_CHECK;

/* Running or paused: control steps it (the store's "active"). */
bool md_rollout_active(const struct md_rollout_state *st);

/* ---- measurements -------------------------------------------------------- */

/* One metric over the current stage. A value that is not a finite number
 * (NaN: nothing measured) never holds a gate. */
struct md_rollout_metric {
    const char *name; /* borrowed; NULL entries are skipped */
    double candidate;
    double champion;
    uint64_t candidate_samples;
    uint64_t champion_samples;
};

/*
 * What the caller measured since the stage began. In the shadow and check
 * stages the candidate's side is its shadow copies, the champion's the same
 * requests as it answered them; in a canary step, each side's own requests
 * (and mirrored ones for agreement). Metrics are found by name, the first
 * entry of a name wins.
 */
struct md_rollout_measure {
    int64_t since_ms;            /* when these numbers start (0: at step_started_ms) */
    uint64_t candidate_requests; /* answered (shadow copies run) by the candidate */
    uint64_t champion_requests;  /* answered by the champion */
    size_t n_metrics;
    const struct md_rollout_metric *metrics; /* borrowed, n_metrics entries; NULL if none */
};

/* ---- decisions ------------------------------------------------------------ */

enum md_rollout_action {
    MD_DECISION_START = 1,    /* "start": the first stage's weights */
    MD_DECISION_WAIT,         /* "wait": the stage's time is not over (or paused) */
    MD_DECISION_INCONCLUSIVE, /* "inconclusive": over, but too little to judge; waits */
    MD_DECISION_ADVANCE,      /* "advance": every gate held; the next stage's weights */
    MD_DECISION_PROMOTE,      /* "promote": 100% to the candidate; the champion alias moves */
    MD_DECISION_ROLLBACK,     /* "rollback": 100% to the champion */
    MD_DECISION_PAUSE,        /* "pause": traffic held where it is */
    MD_DECISION_RESUME,       /* "resume": the stage starts its time again */
    MD_DECISION_ABORT         /* "abort": 100% to the champion, by command */
};

/* What brought a decision about. */
enum md_rollout_cause {
    MD_ROLLOUT_CAUSE_START = 1,    /* "start" */
    MD_ROLLOUT_CAUSE_TIME,         /* "interval": the stage's time is not over */
    MD_ROLLOUT_CAUSE_GATES,        /* "gates": a verdict of the gates (held or failed) */
    MD_ROLLOUT_CAUSE_INCONCLUSIVE, /* "inconclusive": too little to judge (and, after the limit,
                              what the strategy says) */
    MD_ROLLOUT_CAUSE_PAUSED,       /* "paused": the rollout is paused; nothing is done */
    MD_ROLLOUT_CAUSE_COMMAND       /* "command": an operator's command */
};

enum md_gate_result {
    MD_GATE_HELD = 1,    /* "held" */
    MD_GATE_FAILED,      /* "failed" */
    MD_GATE_INCONCLUSIVE /* "inconclusive" */
};

/* One gate as it was judged. */
struct md_rollout_gate_record {
    struct md_rollout_gate gate; /* metric, comparison, threshold, min_samples */
    double candidate;            /* NaN when not measured */
    double champion;             /* NaN when not measured */
    uint64_t candidate_samples;
    uint64_t champion_samples;
    double limit; /* the value the candidate's is compared with; NaN if none */
    enum md_gate_result result;
    char note[96]; /* why inconclusive or failed; "" when held */
};

/* The weights a state puts on each side (percent of the routes' weight). */
struct md_rollout_weights {
    uint32_t candidate; /* 0 .. 100 */
    uint32_t champion;  /* 100 - candidate */
    double shadow;      /* fraction of requests copied to the candidate as a shadow; 0: none */
    double mirror;      /* share of the candidate's requests mirrored to the champion */
};

struct md_rollout_decision {
    enum md_rollout_action action;
    enum md_rollout_cause cause;
    int64_t at_ms;
    enum md_rollout_stage stage; /* the stage judged (before the decision) */
    uint32_t step;               /* its step */
    int64_t elapsed_ms;          /* of the stage's time, counted from its start (or since_ms) */
    int64_t duration_ms;         /* the stage's least time */
    bool measured;               /* the gates below were judged (a measure was given) */
    uint64_t candidate_requests;
    uint64_t champion_requests;
    size_t n_gates;
    struct md_rollout_gate_record gates[MD_ROLLOUT_GATES];
    int failed;                         /* index of the first failed gate, or -1 */
    struct md_rollout_weights weights;  /* to apply after the decision */
    bool traffic;                       /* the weights differ from the state's before */
    bool changed;                       /* the state changed: store it and the decision */
    char command[16];                   /* the command's name, "" for the loop's decisions */
    char reason[MD_ROLLOUT_REASON_MAX]; /* one line for people */
};

/* Appends d's JSON to b (non-finite numbers as null); returns b's error. */
int md_rollout_decision_format(const struct md_rollout_decision *d, struct md_buf *b) MD_MUST_CHECK;

/* ---- the controller ------------------------------------------------------- */

/* The first state of a rollout of spec started at now_ms, and its START
 * decision (the first stage's weights). */
void md_rollout_begin(const struct md_rollout_spec *spec, int64_t now_ms,
                      struct md_rollout_state *out, struct md_rollout_decision *d);

/*
 * One tick: judges cur's stage at now_ms on m (NULL: nothing measured) and
 * writes the decision into d and the state after it into next (which may be
 * cur). Running: WAIT, INCONCLUSIVE, ADVANCE, PROMOTE, ROLLBACK or PAUSE, as
 * the header comment says. Paused: WAIT with the gates judged, nothing
 * changed. MD_ECONFLICT for a rollout that ended ("rollout 3 is promoted;
 * there is nothing to step"), with next and d untouched.
 */
int md_rollout_step(const struct md_rollout_spec *spec, const struct md_rollout_state *cur,
                    int64_t now_ms, const struct md_rollout_measure *m,
                    struct md_rollout_decision *d, struct md_rollout_state *next,
                    struct md_err *err) MD_MUST_CHECK;

enum md_rollout_cmd {
    MD_ROLLOUT_CMD_PAUSE = 1, /* "pause": running -> paused, traffic held */
    MD_ROLLOUT_CMD_RESUME,    /* "resume": paused -> running, the stage's time restarts */
    MD_ROLLOUT_CMD_PROMOTE,   /* "promote": now, from running or paused */
    MD_ROLLOUT_CMD_ABORT,     /* "abort": back to the champion, phase aborted */
    MD_ROLLOUT_CMD_ROLLBACK   /* "rollback": back to the champion, phase rolled_back */
};

/* "pause", ... ; md_rollout_cmd_parse returns 0 for an unknown name. */
const char *md_rollout_cmd_name(enum md_rollout_cmd c);
enum md_rollout_cmd md_rollout_cmd_parse(const char *name);

/*
 * Applies an operator's command to cur at now_ms: the decision into d, the
 * state after it into next (which may be cur). note (NULL or "": a default
 * text) becomes the state's and the decision's reason, cut to fit at a
 * UTF-8 boundary. m, when not NULL, is judged into the decision's gate
 * records for the record only: a command is never refused for the gates.
 * MD_ECONFLICT when the command makes no sense in cur's phase ("rollout 3
 * is promoted; nothing to resume"), MD_EINVAL for an unknown command; next
 * and d are then untouched.
 */
int md_rollout_command(const struct md_rollout_spec *spec, const struct md_rollout_state *cur,
                       enum md_rollout_cmd cmd, int64_t now_ms, const char *note,
                       const struct md_rollout_measure *m, struct md_rollout_decision *d,
                       struct md_rollout_state *next, struct md_err *err) MD_MUST_CHECK;

/*
 * The weights st puts on the candidate and the champion: a shadow or check
 * stage 0/100 with shadow copies at shadow_fraction; canary step i
 * steps[i]/(100 - steps[i]) with the mirror; paused as it was; promoted
 * 100/0; rolled back or aborted 0/100, no shadow, no mirror. The integrator
 * makes the policy: route "stable" the champion, "canary" the candidate, a
 * shadow of the candidate when shadow > 0.
 */
void md_rollout_weights(const struct md_rollout_spec *spec, const struct md_rollout_state *st,
                        struct md_rollout_weights *out);

/* {"candidate": 25, "champion": 75, "shadow": 0, "mirror": 0.1} appended to b; b's error. */
int md_rollout_weights_format(const struct md_rollout_weights *w, struct md_buf *b) MD_MUST_CHECK;

/* Names of the enums, as in the JSON; "?" for a value out of range. The
 * parse functions return 0 for an unknown name. */
const char *md_rollout_kind_name(enum md_rollout_kind k);
const char *md_rollout_phase_name(enum md_rollout_phase p);
const char *md_rollout_stage_name(enum md_rollout_stage s);
const char *md_rollout_action_name(enum md_rollout_action a);
const char *md_rollout_cause_name(enum md_rollout_cause c);
const char *md_gate_cmp_name(enum md_gate_cmp c);
const char *md_gate_result_name(enum md_gate_result r);
enum md_rollout_kind md_rollout_kind_parse(const char *name);
enum md_rollout_phase md_rollout_phase_parse(const char *name);
enum md_rollout_stage md_rollout_stage_parse(const char *name);
enum md_gate_cmp md_gate_cmp_parse(const char *name);

/* "<=" for the comparisons the candidate must stay under (max, max_delta,
 * max_ratio), ">=" for the others. */
const char *md_gate_op(enum md_gate_cmp c);

#endif
