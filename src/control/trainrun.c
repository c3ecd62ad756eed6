/* SPDX-License-Identifier: MIT */
/*
 * trainrun.c: one training run on the runner's thread (see trainrun.h):
 * the run directory <data>/trainings/<id> is made and filled (the
 * training set, job.json, the contracts), the child runs under the limits
 * (the trainer's command and then `modeld --train DIR` to evaluate, or
 * `modeld --train DIR` alone to train natively), and what it produced is
 * registered through control's worker (MD_COMMAND_TRAINED), where the
 * model's policy moves an alias or starts a rollout. The run's row is
 * stored at each step; its end, with an event, in one transaction.
 */
#include "control/trainrun.h"
#include "control/rollouts.h"
#include "learn/dataset.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sha256.h"
#include "util/spawn.h"
#include "util/sys.h"
#include "watch/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEXT_MAX  ((size_t)16 << 20) /* evaluation.json, profile.json at most */
#define KEEP_DIRS 10                 /* run directories kept, the newest */

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

/* ---- the run's row and its end ------------------------------------------------ */

/* A run as it goes: its row and what the steps learn. */
struct run {
    struct md_trainrun *r;
    const struct md_training_setup *setup;
    struct md_training *t;
    const _Atomic bool *cancel;
    struct md_store_training row;
    char dir[PATH_MAX];
    char artifact[PATH_MAX];       /* the candidate's path */
    struct md_training_config cfg; /* the champion's contract's (strings borrowed from v) */
    struct md_version *v;          /* the champion serving now: one reference */
    int64_t champion;              /* its number, 0: none */
    struct md_repo_source src;
    const struct md_trainer *trainer; /* or NULL: native */
    struct md_dataset_summary sum;
    char *summary;    /* JSON */
    char *evaluation; /* JSON, evaluation.json's */
    char *profile;    /* profile.json's text */
    json_t *result;   /* the row's result, built as the run goes */
    char how[256];    /* how the child ended, when it failed */
    int64_t duration_ms;
};

struct finish_job {
    struct md_training *t;
    const struct md_store_training *row;
    const char *kind;
    const char *message;
    const char *details;
};

static int run_update(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_store_tx_training_update(tx, ctx, err);
}

static int run_finish(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct finish_job *j = ctx;
    struct md_store_event ev = {0, 0, j->row->model, j->kind, j->message, j->details};
    int rc = md_store_tx_training_update(tx, j->row, err);

    if (rc == MD_OK)
        rc = md_store_tx_event_add(tx, &ev, NULL, err);
    if (rc == MD_OK) {
        /* The end (and the version registered) in the audit log, in the same transaction. */
        char target[MD_STORE_NAME_MAX + 64];

        if (j->row->version > 0)
            (void)snprintf(target, sizeof(target), "model=%s training=%lld version=%lld",
                           j->row->model, (long long)j->row->id, (long long)j->row->version);
        else
            (void)snprintf(target, sizeof(target), "model=%s training=%lld", j->row->model,
                           (long long)j->row->id);
        rc = md_store_tx_audit_decision(tx, "control:training", "training.finished", target,
                                        j->row->state, NULL, err);
    }
    /* Free for another run before the end can be read: a client that sees
     * it and asks again at once is not refused. */
    if (rc == MD_OK)
        md_training_run_over(j->t, j->row->id);
    return rc;
}

static void prune_dirs(const struct md_training_setup *setup, int64_t newest);

static void store_row(struct run *x)
{
    struct md_err err;

    if (md_store_call(x->setup->store, run_update, &x->row, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "cannot store a training run's state", "model", x->row.model,
                  "reason", err.msg, MD_KV_END);
}

/* The run is over: state, the reason (NULL when it succeeded), the row and
 * an event stored together. */
static void finish(struct run *x, const char *state, const char *reason)
{
    struct finish_job j;
    char message[512];
    char *result;
    struct md_err err;

    x->row.state = state;
    x->row.finished_ms = md_wall_ms();
    if (reason != NULL)
        (void)json_object_set_new(x->result, "reason", json_string(reason));
    (void)json_object_set_new(x->result, "duration_ms",
                              json_integer(x->row.finished_ms - x->row.started_ms));
    result = json_dumps(x->result, JSON_COMPACT);
    x->row.result = result;
    if (reason != NULL)
        (void)snprintf(message, sizeof(message), "training %lld %s: %s", (long long)x->row.id,
                       state, reason);
    else
        (void)snprintf(message, sizeof(message), "training %lld succeeded: version %lld",
                       (long long)x->row.id, (long long)x->row.version);
    /* Only the newest run directories are kept: pruned before the end is
     * stored, so whoever reads the end finds them pruned. */
    prune_dirs(x->setup, x->row.id);
    j.t = x->t;
    j.row = &x->row;
    j.kind = "training_finished";
    j.message = message;
    j.details = result;
    if (md_store_call(x->setup->store, run_finish, &j, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "cannot store a training run's end", "model", x->row.model,
                  "reason", err.msg, MD_KV_END);
    md_log_kv(reason != NULL ? MD_LOG_WARN : MD_LOG_INFO, "training finished", "model",
              x->row.model, "state", state, "reason", reason != NULL ? reason : "", MD_KV_END);
    x->row.result = NULL;
    free(result);
}

/* ---- the run directory ------------------------------------------------------------- */

static int write_text(const char *dir, const char *name, const char *text, size_t len,
                      struct md_err *err)
{
    char path[PATH_MAX + 64];
    FILE *fp;
    int rc = MD_OK;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    if (fp == NULL)
        return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    if (len > 0 && fwrite(text, 1, len, fp) != len)
        rc = md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    if (fclose(fp) != 0 && rc == MD_OK)
        rc = md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    return rc;
}

static int make_dir(struct run *x, struct md_err *err)
{
    char top[PATH_MAX];
    char out[PATH_MAX + 8];

    (void)snprintf(top, sizeof(top), "%s/trainings", x->setup->data_dir);
    if ((size_t)snprintf(x->dir, sizeof(x->dir), "%s/%lld", top, (long long)x->row.id) >=
        sizeof(x->dir))
        return md_err_set(err, MD_EINVAL, "the run directory's path is too long");
    (void)snprintf(out, sizeof(out), "%s/out", x->dir);
    if ((mkdir(top, 0750) != 0 && errno != EEXIST) ||
        (mkdir(x->dir, 0750) != 0 && errno != EEXIST) || (mkdir(out, 0750) != 0 && errno != EEXIST))
        return md_err_set(err, MD_EIO, "%s: %s", x->dir, strerror(errno));
    return MD_OK;
}

/* The champion serving now, its contract and sources. */
static int find_champion(struct run *x, struct md_err *err)
{
    char num[24];
    int rc;

    x->champion = md_repo_champion(x->setup->repo, x->row.model);
    (void)snprintf(num, sizeof(num), "%lld", (long long)x->champion);
    rc = md_repo_acquire(x->setup->repo, x->row.model, x->champion > 0 ? num : NULL, &x->v, err);
    if (rc != MD_OK)
        return rc;
    x->champion = x->v->number;
    x->cfg = x->v->contract->training;
    if (!x->cfg.present)
        return md_err_set(err, MD_EINVAL, "model '%s' no longer has a training: section",
                          x->row.model);
    if (x->cfg.trainer != NULL) {
        x->trainer = md_training_trainer(x->t, x->cfg.trainer);
        if (x->trainer == NULL)
            return md_err_set(err, MD_EINVAL,
                              "training.trainer: '%s' is not a trainer of the daemon's "
                              "configuration file (trainers:)",
                              x->cfg.trainer);
    }
    return md_repo_training_source(x->setup->repo, x->row.model, x->champion,
                                   x->v->contract->artifact, &x->src, err);
}

struct base_job {
    const char *model;
    const char *name;
    char sha256[65];
    bool found;
};

static void got_base(void *ctx, const struct md_store_dataset *d)
{
    struct base_job *j = ctx;

    (void)snprintf(j->sha256, sizeof(j->sha256), "%s", d->sha256);
    j->found = true;
}

static int run_base(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct base_job *j = ctx;

    return md_store_tx_datasets(tx, j->model, j->name, got_base, j, err);
}

/* The training set, written as train.jsonl and holdout.jsonl. MD_EINVAL: refused. */
static int build_set(struct run *x, struct md_err *err)
{
    const struct md_contract *c = x->v->contract;
    struct md_dataset_spec spec;
    const char **names = md_xcalloc(c->n_features + 1, sizeof(*names));
    bool *text = md_xcalloc(c->n_features + 1, sizeof(*text));
    bool *optional = md_xcalloc(c->n_features + 1, sizeof(*optional));
    char train[PATH_MAX + 32];
    char hold[PATH_MAX + 32];
    char base[PATH_MAX];
    int rc = MD_OK;

    for (size_t i = 0; i < c->n_features; i++) {
        names[i] = c->features[i].name;
        text[i] = c->features[i].dtype == MD_DT_BYTES;
        optional[i] = !c->features[i].required;
    }
    memset(&spec, 0, sizeof(spec));
    spec.model = x->row.model;
    spec.regression = c->task == MD_TASK_REGRESSION;
    spec.labels = (const char *const *)c->labels;
    spec.n_labels = spec.regression ? 0 : c->n_labels;
    spec.features = names;
    spec.text = text;
    spec.optional = optional;
    spec.n_features = c->n_features;
    spec.since_ms = x->cfg.window_s > 0 ? x->row.started_ms - x->cfg.window_s * 1000 : 0;
    spec.until_ms = x->row.started_ms;
    spec.max_rows = x->cfg.max_rows;
    spec.holdout = x->cfg.holdout;
    spec.expert_weight = x->cfg.expert_weight;
    spec.base_weight = x->cfg.base_weight;
    if (x->cfg.base_dataset != NULL) {
        struct base_job bj = {x->row.model, x->cfg.base_dataset, "", false};

        rc = md_store_call(x->setup->store, run_base, &bj, err);
        if (rc == MD_OK)
            rc = md_store_artifact_path(x->setup->store, bj.sha256, base, sizeof(base), err);
        if (rc != MD_OK)
            md_err_prefix(err, "training.base_dataset: ");
        spec.base_path = base;
    }
    (void)snprintf(train, sizeof(train), "%s/train.jsonl", x->dir);
    (void)snprintf(hold, sizeof(hold), "%s/holdout.jsonl", x->dir);
    if (rc == MD_OK) {
        int64_t t0 = md_wall_ms();

        rc = md_dataset_build(x->setup->store, &spec, x->cfg.min_rows, train, hold, &x->sum, err);
        (void)json_object_set_new(x->result, "dataset_ms", json_integer(md_wall_ms() - t0));
    }
    free(names);
    free(text);
    free(optional);
    if (rc != MD_OK)
        return rc;
    x->summary = md_dataset_summary_json(&x->sum);
    x->row.since_ms = x->sum.first_ms;
    x->row.until_ms = x->sum.last_ms;
    x->row.rows = (int64_t)x->sum.rows;
    if (x->summary != NULL)
        (void)json_object_set_new(x->result, "dataset", json_loads(x->summary, 0, NULL));
    return MD_OK;
}

/* job.json, model.yaml, champion.yaml. */
static int write_job(struct run *x, struct md_err *err)
{
    json_t *job = json_object();
    json_t *params = json_object();
    json_t *champ = json_object();
    char path[PATH_MAX + 32];
    char *text;
    int rc;

    (void)snprintf(x->artifact, sizeof(x->artifact), "%s/out/%s", x->dir, x->v->contract->artifact);
    for (size_t i = 0; i < x->cfg.n_params; i++)
        (void)json_object_set_new(params, x->cfg.params[i].key,
                                  json_string(x->cfg.params[i].value));
    (void)json_object_set_new(job, "model", json_string(x->row.model));
    (void)json_object_set_new(job, "mode", json_string(x->trainer != NULL ? "evaluate" : "native"));
    (void)json_object_set_new(job, "threads", json_integer(x->setup->threads));
    (void)json_object_set_new(job, "params", params);
    (void)json_object_set_new(job, "parent", json_string(x->src.artifact));
    (void)json_object_set_new(job, "artifact", json_string(x->artifact));
    (void)snprintf(path, sizeof(path), "%s/champion.yaml", x->dir);
    (void)json_object_set_new(champ, "artifact", json_string(x->src.artifact));
    (void)json_object_set_new(champ, "yaml", json_string(path));
    (void)json_object_set_new(job, "champion", champ);
    text = json_dumps(job, JSON_INDENT(1));
    json_decref(job);
    rc = text != NULL ? write_text(x->dir, "job.json", text, strlen(text), err)
                      : md_err_set(err, MD_ENOMEM, "job.json: out of memory");
    free(text);
    if (rc == MD_OK)
        rc = write_text(x->dir, "model.yaml", x->src.yaml, x->src.yaml_len, err);
    if (rc == MD_OK)
        rc = write_text(x->dir, "champion.yaml", x->src.version_yaml, x->src.version_yaml_len, err);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    MD_UNUSED(st);
    MD_UNUSED(ftw);
    if (flag == FTW_DP)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

/*
 * Removes the run directories of runs older than the newest KEEP_DIRS (by
 * id), so that runs do not fill the disk with training sets; what a run
 * found is in the store. A directory that cannot be removed is logged.
 */
static void prune_dirs(const struct md_training_setup *setup, int64_t newest)
{
    char top[PATH_MAX];
    DIR *d;
    struct dirent *de;

    (void)snprintf(top, sizeof(top), "%s/trainings", setup->data_dir);
    d = opendir(top);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        char *end;
        long long id = strtoll(de->d_name, &end, 10);

        if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end != '\0' || id > newest - KEEP_DIRS)
            continue;
        (void)snprintf(path, sizeof(path), "%s/%s", top, de->d_name);
        if (nftw(path, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
            md_log_kv(MD_LOG_WARN, "cannot remove an old training run's directory", "dir", path,
                      "reason", strerror(errno), MD_KV_END);
    }
    closedir(d);
}

/* ---- the children ------------------------------------------------------------------ */

/* How a child ended, as the run's state; NULL when it succeeded. x->how says why. */
static const char *child_state(struct run *x, const struct md_spawn_result *res,
                               const struct md_spawn_limits *lim, const char *who)
{
    char how[200];

    if (res->end == MD_SPAWN_EXITED && res->status == 0)
        return NULL;
    md_spawn_describe(res, lim, how, sizeof(how));
    if (res->end == MD_SPAWN_EXITED && res->out_len > 0) {
        size_t n = res->out_len;

        while (n > 0 && (res->out[n - 1] == '\n' || res->out[n - 1] == '\r'))
            n--;
        (void)snprintf(x->how, sizeof(x->how), "%s %s: %.*s", who, how, (int)n, res->out);
    } else {
        (void)snprintf(x->how, sizeof(x->how), "%s %s", who, how);
    }
    switch (res->end) {
    case MD_SPAWN_TIMEOUT:
        return "timed_out";
    case MD_SPAWN_MEMORY:
    case MD_SPAWN_SIGNALED:
        return "killed";
    default:
        return "failed";
    }
}

/* Replaces {dir}, {train}, {holdout}, {model_yaml}, {output}, {artifact}
 * and {params} in an argument of a trainer's command. */
static char *expand(const struct run *x, const char *arg)
{
    struct md_buf b;
    char *out = NULL;
    char *params = NULL;

    md_buf_init(&b, 8192);
    for (const char *p = arg; *p != '\0'; p++) {
        const char *val = NULL;
        size_t skip = 0;
        char tmp[PATH_MAX + 32];

        if (*p == '{') {
            static const char *const names[] = {"{dir}",        "{train}",  "{holdout}",
                                                "{model_yaml}", "{output}", "{artifact}",
                                                "{params}",     NULL};
            for (size_t i = 0; names[i] != NULL && val == NULL; i++) {
                size_t n = strlen(names[i]);

                if (strncmp(p, names[i], n) != 0)
                    continue;
                skip = n;
                switch (i) {
                case 0:
                    val = x->dir;
                    break;
                case 1:
                case 2:
                case 3:
                    (void)snprintf(tmp, sizeof(tmp), "%s/%s", x->dir,
                                   i == 1   ? "train.jsonl"
                                   : i == 2 ? "holdout.jsonl"
                                            : "model.yaml");
                    val = tmp;
                    break;
                case 4:
                    (void)snprintf(tmp, sizeof(tmp), "%s/out", x->dir);
                    val = tmp;
                    break;
                case 5:
                    val = x->artifact;
                    break;
                default: {
                    json_t *o = json_object();

                    for (size_t k = 0; k < x->cfg.n_params; k++)
                        (void)json_object_set_new(o, x->cfg.params[k].key,
                                                  json_string(x->cfg.params[k].value));
                    free(params);
                    params = json_dumps(o, JSON_COMPACT);
                    json_decref(o);
                    val = params != NULL ? params : "{}";
                    break;
                }
                }
            }
        }
        if (val != NULL) {
            (void)md_buf_puts(&b, val);
            p += skip - 1;
        } else {
            (void)md_buf_putc(&b, *p);
        }
    }
    if (md_buf_putc(&b, '\0') == MD_OK)
        out = md_buf_detach(&b, NULL);
    md_buf_release(&b);
    free(params);
    return out;
}

/* Runs exe with argv under the run's limits; the state it ended in (NULL: done). */
static const char *run_child(struct run *x, const char *exe, char *const argv[], uint64_t timeout_s,
                             uint64_t memory_mb, const char *who)
{
    struct md_spawn_limits lim;
    struct md_spawn_result res;
    struct md_err err;

    memset(&lim, 0, sizeof(lim));
    lim.timeout_ms = timeout_s * 1000 > UINT_MAX ? UINT_MAX : (unsigned)(timeout_s * 1000);
    lim.memory_bytes = (size_t)memory_mb << 20;
    lim.lowest = true;
    lim.cancel = x->cancel;
    if (md_spawn_run(exe, argv, -1, &lim, &res, &err) != MD_OK) {
        (void)snprintf(x->how, sizeof(x->how), "%s could not start: %s", who, err.msg);
        return "failed";
    }
    x->duration_ms += res.ms;
    (void)json_object_set_new(x->result, "peak_rss_mb",
                              json_integer((json_int_t)(res.peak_rss >> 20)));
    return child_state(x, &res, &lim, who);
}

/* The external trainer, then the child that evaluates what it wrote. */
static const char *train_external(struct run *x)
{
    const struct md_trainer *tr = x->trainer;
    /* modeld --exec-trainer PROGRAM ARGS...: the trainer dies with the daemon. */
    char **argv = md_xcalloc(tr->argc + 3, sizeof(*argv));
    const char *state;
    json_t *tj = json_object();
    struct stat st;

    argv[0] = md_xstrdup("modeld");
    argv[1] = md_xstrdup("--exec-trainer");
    for (size_t i = 0; i < tr->argc; i++)
        argv[i + 2] = expand(x, tr->argv[i]);
    state = run_child(x, x->setup->exe, argv, tr->timeout_s > 0 ? tr->timeout_s : x->cfg.timeout_s,
                      tr->memory_mb > 0 ? tr->memory_mb : x->cfg.memory_mb, "the trainer");
    (void)json_object_set_new(tj, "name", json_string(tr->name));
    (void)json_object_set_new(tj, "outcome",
                              json_string(state == NULL ? "exited with status 0" : x->how));
    (void)json_object_set_new(x->result, "trainer", tj);
    for (size_t i = 0; i < tr->argc + 2; i++)
        free(argv[i]);
    free(argv);
    if (state != NULL)
        return state;
    if (stat(x->artifact, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)snprintf(x->how, sizeof(x->how),
                       "the trainer '%s' exited with status 0 but wrote no %s in its output "
                       "directory",
                       tr->name, x->v->contract->artifact);
        return "failed";
    }
    return NULL;
}

static const char *train_and_evaluate(struct run *x)
{
    char *argv[] = {(char *)"modeld", (char *)"--train", x->dir, NULL};
    const char *state = NULL;
    char path[PATH_MAX + 32];
    struct md_err err;
    size_t len;

    if (x->trainer != NULL)
        state = train_external(x);
    if (state == NULL)
        state = run_child(x, x->setup->exe, argv, x->cfg.timeout_s, x->cfg.memory_mb,
                          x->trainer != NULL ? "the evaluation" : "the training");
    if (state != NULL) {
        json_t *res;

        /* The child's own refusal (too few rows of a class, a bad parameter). */
        (void)snprintf(path, sizeof(path), "%s/result.json", x->dir);
        res = json_load_file(path, 0, NULL);
        if (json_integer_value(json_object_get(res, "code")) == MD_EINVAL) {
            (void)snprintf(x->how, sizeof(x->how), "%s",
                           json_string_value(json_object_get(res, "error")));
            state = "refused";
        }
        json_decref(res);
        return state;
    }
    (void)snprintf(path, sizeof(path), "%s/evaluation.json", x->dir);
    if (md_read_file(path, TEXT_MAX, &x->evaluation, &len, NULL, &err) != MD_OK) {
        (void)snprintf(x->how, sizeof(x->how), "%s", err.msg);
        return "failed";
    }
    (void)snprintf(path, sizeof(path), "%s/profile.json", x->dir);
    if (md_read_file(path, TEXT_MAX, &x->profile, &len, NULL, &err) != MD_OK)
        x->profile = NULL; /* no profile: no drift on the version, nothing else lost */
    return NULL;
}

/* ---- the decision -------------------------------------------------------------------- */

static bool lower_is_better(const char *metric)
{
    return strcmp(metric, "log_loss") == 0 || strcmp(metric, "rmse") == 0 ||
           strcmp(metric, "mae") == 0;
}

/*
 * The evaluation against the champion, into the result: {"metric",
 * "candidate", "champion", "margin", "verdict": "better" | "comparable" |
 * "worse" | "no_champion", ...}. *worse when the candidate is worse than
 * the champion by more than the margin (why says by how much).
 */
static json_t *judge(struct run *x, bool *worse, char *why, size_t n)
{
    json_t *ev = json_loads(x->evaluation, 0, NULL);
    json_t *out = json_object();
    const char *m = x->cfg.metric;
    double cand = json_number_value(json_object_get(json_object_get(ev, "candidate"), m));
    json_t *cj = json_object_get(json_object_get(ev, "champion"), m);
    const char *verdict;

    *worse = false;
    why[0] = '\0';
    (void)json_object_set_new(out, "metric", json_string(m));
    (void)json_object_set_new(out, "margin", json_real(x->cfg.margin));
    (void)json_object_set(out, "candidate", json_object_get(ev, "candidate"));
    (void)json_object_set(out, "champion", json_object_get(ev, "champion"));
    (void)json_object_set_new(out, "champion_version", json_integer(x->champion));
    (void)json_object_set(out, "holdout_rows", json_object_get(ev, "holdout_rows"));
    (void)json_object_set(out, "train_rows", json_object_get(ev, "train_rows"));
    if (!json_is_number(cj)) {
        verdict = "no_champion";
    } else {
        double champ = json_number_value(cj);
        double gain = lower_is_better(m) ? champ - cand : cand - champ;

        (void)json_object_set_new(out, "difference", json_real(gain));
        if (gain < -x->cfg.margin) {
            verdict = "worse";
            *worse = true;
            (void)snprintf(why, n,
                           "the candidate's %s (%.4f) is worse than the champion's (version "
                           "%lld: %.4f) by more than the margin %g",
                           m, cand, (long long)x->champion, champ, x->cfg.margin);
        } else {
            verdict = gain > x->cfg.margin ? "better" : "comparable";
        }
    }
    (void)json_object_set_new(out, "verdict", json_string(verdict));
    json_decref(ev);
    return out;
}

/* The lineage, the version's metadata. */
static char *lineage(struct run *x, json_t *evaluation, const char *sha256)
{
    json_t *o = json_object();
    json_t *lin = json_object();
    json_t *params = json_object();
    json_t *window = json_object();
    json_t *rows = json_object();
    char *text;

    for (size_t i = 0; i < x->cfg.n_params; i++)
        (void)json_object_set_new(params, x->cfg.params[i].key,
                                  json_string(x->cfg.params[i].value));
    (void)json_object_set_new(window, "since_ms", json_integer(x->sum.first_ms));
    (void)json_object_set_new(window, "until_ms", json_integer(x->sum.last_ms));
    (void)json_object_set_new(window, "holdout_from_ms", json_integer(x->sum.holdout_from_ms));
    (void)json_object_set_new(rows, "train", json_integer((json_int_t)x->sum.train_rows));
    (void)json_object_set_new(rows, "holdout", json_integer((json_int_t)x->sum.holdout_rows));
    (void)json_object_set_new(rows, "feedback", json_integer((json_int_t)x->sum.feedback_rows));
    (void)json_object_set_new(rows, "expert", json_integer((json_int_t)x->sum.expert_rows));
    (void)json_object_set_new(rows, "base", json_integer((json_int_t)x->sum.base_rows));
    (void)json_object_set_new(lin, "parent",
                              x->champion > 0 ? json_sprintf("%lld", (long long)x->champion)
                                              : json_null());
    (void)json_object_set_new(lin, "trigger",
                              json_string(md_trigger_kind_name((enum md_trigger_kind)x->r->kind)));
    (void)json_object_set_new(lin, "training", json_integer(x->row.id));
    (void)json_object_set_new(lin, "window", window);
    (void)json_object_set_new(lin, "rows", rows);
    (void)json_object_set_new(lin, "parameters", params);
    if (x->trainer != NULL)
        (void)json_object_set(lin, "trainer", json_object_get(x->result, "trainer"));
    else
        (void)json_object_set_new(lin, "trainer", json_null());
    (void)json_object_set(lin, "evaluation", evaluation);
    (void)json_object_set_new(lin, "sha256", json_string(sha256));
    (void)json_object_set_new(lin, "duration_ms", json_integer(md_wall_ms() - x->row.started_ms));
    (void)json_object_set_new(o, "lineage", lin);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* What the runner hands control's worker: the version to register and the
 * policy to apply (every field owned). */
struct trained {
    char *path; /* the artifact, in the run directory (moved into the store) */
    char sha256[65];
    uint64_t size;
    char *metadata;
    char *yaml;
    size_t yaml_len;
    char *profile;
    size_t profile_len;
    enum md_trained_policy policy;
    char *alias;     /* or NULL */
    char *strategy;  /* or NULL */
    bool hold;       /* evaluated worse: registered, never rolled out */
    int64_t version; /* out: the version registered */
    int64_t rollout; /* out: the rollout started, 0: none */
    char note[256];  /* out: what the policy did, or why it could not */
};

void md_training_arg_free(void *arg)
{
    struct trained *tr = arg;

    if (tr == NULL)
        return;
    free(tr->path);
    free(tr->metadata);
    free(tr->yaml);
    free(tr->profile);
    free(tr->alias);
    free(tr->strategy);
    free(tr);
}

/* Registers through control's worker and waits for it; the state it ends in. */
static const char *register_version(struct run *x, const char *metadata, bool hold, char *note,
                                    size_t n)
{
    struct trained *tr = md_xcalloc(1, sizeof(*tr));
    struct md_command *cmd = NULL;
    struct md_err err;
    char sha[MD_SHA256_HEX];
    int64_t size = 0;
    int rc;

    if (md_sha256_file(x->artifact, sha, &size, &err) != MD_OK) {
        free(tr);
        (void)snprintf(x->how, sizeof(x->how), "%s", err.msg);
        return "failed";
    }
    tr->path = md_xstrdup(x->artifact);
    (void)snprintf(tr->sha256, sizeof(tr->sha256), "%s", sha);
    tr->size = (uint64_t)size;
    tr->metadata = md_xstrdup(metadata);
    tr->yaml = md_xstrdup(x->src.yaml);
    tr->yaml_len = x->src.yaml_len;
    if (x->profile != NULL) {
        tr->profile = md_xstrdup(x->profile);
        tr->profile_len = strlen(x->profile);
    }
    tr->policy = x->cfg.policy;
    tr->alias = x->cfg.alias != NULL ? md_xstrdup(x->cfg.alias) : NULL;
    tr->strategy = x->cfg.strategy != NULL ? md_xstrdup(x->cfg.strategy) : NULL;
    tr->hold = hold;
    rc = md_commands_submit_arg(x->setup->commands, MD_COMMAND_TRAINED, x->row.model, tr, NULL,
                                NULL, NULL, &cmd, &err);
    if (rc != MD_OK) {
        md_training_arg_free(tr);
        (void)snprintf(x->how, sizeof(x->how), "cannot register the version: %s", err.msg);
        return "failed";
    }
    rc = md_command_wait(cmd, &err);
    if (rc == MD_OK) {
        x->row.version = tr->version;
        (void)snprintf(note, n, "%s", tr->note);
        if (tr->rollout > 0)
            (void)json_object_set_new(x->result, "rollout", json_integer(tr->rollout));
    }
    md_command_unref(cmd);
    md_training_arg_free(tr);
    if (rc != MD_OK) {
        (void)snprintf(x->how, sizeof(x->how), "cannot register the version: %s", err.msg);
        return "failed";
    }
    return NULL;
}

/* ---- the run ------------------------------------------------------------------------- */

static void release(struct run *x)
{
    md_version_unref(x->v);
    md_repo_source_release(&x->src);
    free(x->summary);
    free(x->evaluation);
    free(x->profile);
    json_decref(x->result);
}

static void run_all(struct run *x, struct md_trainrun *r);

void md_trainrun_execute(struct md_trainrun *r, const struct md_training_setup *setup,
                         const _Atomic bool *cancel, struct md_training *t)
{
    struct run x;

    memset(&x, 0, sizeof(x));
    x.r = r;
    x.setup = setup;
    x.t = t;
    x.cancel = cancel;
    x.result = json_object();
    run_all(&x, r);
    release(&x);
}

static void run_all(struct run *x, struct md_trainrun *r)
{
    struct md_err err;
    const char *state;
    json_t *evaluation;
    char why[512];
    char note[256];
    char sha[MD_SHA256_HEX];
    int64_t size;
    char *meta;
    bool worse;
    int rc;

    x->row.id = r->id;
    x->row.model = r->model;
    x->row.state = "running";
    x->row.started_ms = md_wall_ms();
    store_row(x);
    rc = find_champion(x, &err);
    if (rc == MD_OK)
        rc = make_dir(x, &err);
    if (rc != MD_OK) {
        finish(x, "failed", err.msg);
        return;
    }
    rc = build_set(x, &err);
    if (rc != MD_OK) {
        finish(x, rc == MD_EINVAL ? "refused" : "failed", err.msg);
        return;
    }
    store_row(x); /* the window and the rows, while it trains */
    rc = write_job(x, &err);
    if (rc != MD_OK) {
        finish(x, "failed", err.msg);
        return;
    }
    state = train_and_evaluate(x);
    if (state != NULL) {
        finish(x, state, x->how);
        return;
    }
    evaluation = judge(x, &worse, why, sizeof(why));
    (void)json_object_set(x->result, "evaluation", evaluation);
    if (md_sha256_file(x->artifact, sha, &size, &err) != MD_OK)
        sha[0] = '\0';
    meta = lineage(x, evaluation, sha);
    json_decref(evaluation);
    note[0] = '\0';
    state = register_version(x, meta != NULL ? meta : "{}", worse, note, sizeof(note));
    free(meta);
    if (state != NULL) {
        finish(x, state, x->how);
        return;
    }
    (void)json_object_set_new(x->result, "decision", json_string(note));
    if (worse)
        (void)json_object_set_new(x->result, "held_back", json_string(why));
    finish(x, "succeeded", NULL);
}

/* ---- registration (control's worker) ------------------------------------------ */

/* The version number of register_upload's answer. */
static int64_t answer_version(const char *answer)
{
    json_t *o = json_loads(answer, 0, NULL);
    int64_t v = md_version_number(json_string_value(json_object_get(o, "version")));

    json_decref(o);
    return v;
}

int md_trainrun_register(struct md_training *t, struct md_rollouts *rollouts, const char *model,
                         void *arg, char **answer, struct md_err *err)
{
    struct trained *tr = arg;
    struct md_repo_upload u = {tr->path,     tr->sha256,      tr->size,
                               tr->metadata, tr->yaml,        tr->yaml_len,
                               tr->profile,  tr->profile_len, MD_SOURCE_TRAINING};
    struct md_repo *repo = md_training_repo(t);
    char num[24];
    char *ans = NULL;
    int rc;

    *answer = NULL;
    rc = md_repo_register_upload(repo, model, &u, answer, err);
    if (rc != MD_OK)
        return rc;
    tr->version = answer_version(*answer);
    (void)snprintf(num, sizeof(num), "%lld", (long long)tr->version);
    if (tr->policy == MD_TRAINED_ROLLOUT && tr->hold) {
        (void)snprintf(tr->note, sizeof(tr->note),
                       "registered as version %s, not rolled out: it evaluated worse than the "
                       "champion",
                       num);
    } else if (tr->policy == MD_TRAINED_ROLLOUT) {
        struct md_buf b;
        struct md_err rerr;

        md_buf_init(&b, 4096);
        (void)md_buf_printf(&b, "{\"candidate\":\"%s\"", num);
        if (tr->strategy != NULL) {
            (void)md_buf_puts(&b, ",\"strategy\":");
            (void)md_buf_json_str(&b, tr->strategy, strlen(tr->strategy));
        }
        (void)md_buf_putc(&b, '}');
        if (rollouts == NULL) {
            (void)snprintf(tr->note, sizeof(tr->note),
                           "registered as version %s, not rolled out: no rollouts run here", num);
        } else if (md_buf_error(&b) == MD_OK &&
                   md_rollouts_start(rollouts, model, b.data, b.len, &ans, &rerr) == MD_OK) {
            json_t *o = json_loads(ans, 0, NULL);

            tr->rollout = json_integer_value(json_object_get(o, "id"));
            json_decref(o);
            (void)snprintf(tr->note, sizeof(tr->note),
                           "registered as version %s and rolled out (rollout %lld)", num,
                           (long long)tr->rollout);
        } else {
            (void)snprintf(tr->note, sizeof(tr->note),
                           "registered as version %s, not rolled out: %s", num, rerr.msg);
        }
        free(ans);
        md_buf_release(&b);
    } else if (tr->alias != NULL) {
        struct md_err aerr;

        if (md_repo_set_alias(repo, model, tr->alias, num, &ans, &aerr) == MD_OK)
            (void)snprintf(tr->note, sizeof(tr->note), "registered as version %s, alias '%s'", num,
                           tr->alias);
        else
            (void)snprintf(tr->note, sizeof(tr->note),
                           "registered as version %s; alias '%s' not moved: %s", num, tr->alias,
                           aerr.msg);
        free(ans);
    } else {
        (void)snprintf(tr->note, sizeof(tr->note), "registered as version %s", num);
    }
    md_err_clear(err);
    return MD_OK;
}
