/* SPDX-License-Identifier: MIT */
/*
 * command.h: commands, the way a higher layer asks `control` for work that
 * control alone applies (load model m, unload model m; later a traffic
 * policy change, a retraining, a rollout step), and the queue they wait in.
 *
 * The API never calls control: a handler submits a command and either parks
 * its request until the command's wake, or (when it cannot park) waits for
 * the outcome. Control takes commands from the queue in order, applies them
 * off its tick, and completes each with an outcome (a code and a message).
 * A command whose submitter has gone still runs to its end: nothing is
 * cancelled once taken.
 *
 * Ownership: a command is refcounted. Submitting returns one reference to
 * the submitter and gives one to the queue; md_commands_take hands the
 * queue's reference to the taker, who completes the command and then drops
 * it. The command is freed at its last unref, whichever side that is.
 *
 * Threads: every function is safe from any thread, except that a command is
 * completed exactly once, by whoever holds the queue's reference.
 */
#ifndef MD_SERVE_COMMAND_H
#define MD_SERVE_COMMAND_H

#include "util/common.h"
#include "util/err.h"

enum md_command_kind {
    MD_COMMAND_LOAD = 1,  /* (re)load a model from the repository (md_repo_load_model) */
    MD_COMMAND_UNLOAD,    /* unload a model until an explicit load (md_repo_unload_model) */
    MD_COMMAND_TRAFFIC,   /* store and apply a traffic policy (arg: struct md_traffic_change) */
    MD_COMMAND_ALIAS,     /* move or remove an alias (arg: struct md_alias_change) */
    MD_COMMAND_ARCHIVE,   /* archive or restore a version (arg: struct md_archive_change) */
    MD_COMMAND_UPLOAD,    /* register an uploaded version (arg: struct md_upload_change) */
    MD_COMMAND_ROLLOUT,   /* start a rollout, or command one (arg: struct md_rollout_change) */
    MD_COMMAND_MODEL,     /* create a model from model.yaml (arg: struct md_traffic_change, its
                             json the model.yaml text) */
    MD_COMMAND_RETRAIN,   /* ask for a training run by hand (arg: struct md_retrain_change) */
    MD_COMMAND_TRAINED,   /* register what a training run produced (arg: the runner's own,
                             control/training.h) */
    MD_COMMAND_TRIGGERED, /* ask for a training run a trigger fired for (arg: struct
                             md_triggered_change, control/triggers.h) */
    MD_COMMAND_SNAPSHOT   /* register an online model's snapshot (arg: struct md_upload_change) */
};

struct md_command;
struct md_commands;

/* The arguments of the traffic commands (freed with md_command_arg_free). */
struct md_traffic_change {
    char *json; /* the policy's JSON text */
    size_t len;
    int64_t expect; /* the revision it replaces (If-Match), or -1 */
};
struct md_alias_change {
    char *alias;
    char *version; /* a number or an alias; NULL: remove the alias */
};
struct md_archive_change {
    int64_t version;
    bool archived; /* false: restore */
};
/* An uploaded version to register: every field owned (md_upload_change_free
 * also removes the file at path if it is still there). */
struct md_upload_change {
    char *path; /* the artifact's temporary file */
    char sha256[65];
    uint64_t size;
    char *metadata;
    char *model_yaml; /* or NULL */
    size_t model_yaml_len;
    char *profile; /* or NULL */
    size_t profile_len;
};
void md_upload_change_free(void *arg);
/* A rollout to start (cmd 0: body is its request) or a command on rollout id. */
struct md_rollout_change {
    int cmd;    /* 0: start; else enum md_rollout_cmd */
    int64_t id; /* the rollout a command is for */
    char *body; /* start: the request body; a command: its note, or NULL */
    size_t len;
};
void md_rollout_change_free(void *arg);
/* A training run asked for by hand: details is the request's JSON object
 * (a note), or NULL. Freed with md_retrain_change_free. */
struct md_retrain_change {
    char *details;
};
void md_retrain_change_free(void *arg);
/* A training run a trigger fired for (control/triggers.c): kind an enum
 * md_trigger_kind, details what it measured (a JSON object), ctx the
 * triggers' state. Freed with md_triggered_change_free. */
struct md_triggered_change {
    int kind;
    char *details;
    void *ctx;
};
void md_triggered_change_free(void *arg);
/* Free a traffic or an alias change (an archive change is freed with free()). */
void md_traffic_change_free(void *arg);
void md_alias_change_free(void *arg);

/* A new, open queue with no notify hook. */
struct md_commands *md_commands_new(void);

/*
 * Frees the queue: closes it first (md_commands_close with "server shutting
 * down"). Commands still referenced elsewhere stay valid until their last
 * unref. NULL ok.
 */
void md_commands_free(struct md_commands *q);

/*
 * Sets the hook called after each submit (on the submitting thread, under
 * the queue's lock), so the applier need not poll: fn must be quick and must
 * not call back into the queue. NULL fn removes it; once this returns, the
 * old hook is not running and will not run again.
 */
void md_commands_set_notify(struct md_commands *q, void (*fn)(void *ctx), void *ctx);

/*
 * Records a command on model (copied). wake, when not NULL, is called once
 * with wake_ctx, from the completing thread, after the outcome is set; the
 * submitter must keep wake_ctx valid until then. On MD_OK, *out is the
 * submitter's reference (drop it with md_command_unref). MD_EUNAVAIL when the
 * queue is closed ("server shutting down", or the reason given to close),
 * MD_ENOMEM when the name cannot be copied; *out is then NULL and wake is
 * never called.
 */
int md_commands_submit(struct md_commands *q, enum md_command_kind kind, const char *model,
                       void (*wake)(void *ctx), void *wake_ctx, struct md_command **out,
                       struct md_err *err) MD_MUST_CHECK;

/*
 * As md_commands_submit, with an argument the applier reads
 * (md_command_arg): arg is owned by the command from the call on, whatever
 * its outcome, and freed with arg_free (may be NULL) with the command.
 */
int md_commands_submit_arg(struct md_commands *q, enum md_command_kind kind, const char *model,
                           void *arg, void (*arg_free)(void *arg), void (*wake)(void *ctx),
                           void *wake_ctx, struct md_command **out,
                           struct md_err *err) MD_MUST_CHECK;

/*
 * The oldest command not yet taken, or NULL. The caller gets the queue's
 * reference: it must complete the command (md_command_complete), then drop
 * it.
 */
struct md_command *md_commands_take(struct md_commands *q);

/* Commands submitted and not yet taken. */
size_t md_commands_pending(struct md_commands *q);

/*
 * Refuses submits from now on, with MD_EUNAVAIL and why (copied; NULL: "server
 * shutting down"), and completes every command not yet taken with that
 * outcome. Commands already taken complete as their taker decides. Closing a
 * closed queue only completes what is pending (nothing).
 */
void md_commands_close(struct md_commands *q, const char *why);

/* What the command asks for; fixed at submit. */
enum md_command_kind md_command_kind(const struct md_command *c);
const char *md_command_model(const struct md_command *c);
/* The argument given at submit, or NULL. */
void *md_command_arg(const struct md_command *c);

/*
 * Sets what a successful command answers with (a JSON document the
 * submitter returns): text is copied. Before md_command_complete, by the
 * applier only.
 */
void md_command_set_result(struct md_command *c, const char *text);
/* The result once done, or NULL: valid while the caller holds a reference. */
const char *md_command_result(struct md_command *c);

/*
 * Sets the outcome (code MD_OK, or an error with its message; outcome NULL
 * means MD_OK), then calls the submitter's wake if any and wakes
 * md_command_wait. Exactly once per command (a second call is a bug).
 */
void md_command_complete(struct md_command *c, const struct md_err *outcome);

/* Whether the outcome is set. */
bool md_command_done(struct md_command *c);

/* The outcome once done: its code, and the message into out (may be NULL). A
 * command not yet done gives MD_EPENDING. */
int md_command_outcome(struct md_command *c, struct md_err *out);

/* Blocks until the command is done; then as md_command_outcome. */
int md_command_wait(struct md_command *c, struct md_err *out);

void md_command_ref(struct md_command *c);
/* Drops a reference; the last frees the command. NULL ok. */
void md_command_unref(struct md_command *c);

#endif
