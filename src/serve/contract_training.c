/* SPDX-License-Identifier: MIT */
/*
 * contract_training.c: model.yaml's `training:` section, how a new version
 * of the model is trained and what happens to it (serve/improve.h). Every
 * key is optional; md_contract__training_default sets the defaults first.
 *
 *   training:
 *     trainer: sklearn-fraud   # a trainer of the daemon's configuration; absent: native
 *     params: {eta: 0.1, max_depth: 4, num_round: 200}
 *     window: 30d              # labelled rows of the last 30 days (absent: all kept)
 *     max_rows: 100000         # the newest rows at most (0: no bound)
 *     min_rows: 100            # fewer: refused
 *     holdout: 0.2             # the newest share held out for evaluation, (0, 1)
 *     expert_weight: 2         # weight of an expert's label
 *     base_dataset: original   # a base dataset registered for the model
 *     base_weight: 0.5
 *     timeout: 30m             # the run's time limit
 *     memory_mb: 2048          # its resident-memory limit
 *     policy: register         # register | rollout
 *     alias: candidate         # register: moved to the new version
 *     strategy: safe-canary    # rollout: a stored or configured strategy (absent: a canary)
 *     metric: roc_auc          # what candidate and champion are compared on
 *     margin: 0.01             # worse than the champion by more: never rolled out
 *
 * A model.yaml holds no command: a trainer is only a name, whose command the
 * operator writes in the daemon's configuration file. Whether the name is
 * known is checked where that file is read (control/training.c), not here.
 */
#include "serve/contract.h"
#include "serve/contract_int.h"
#include "watch/history.h"

#include <math.h>

enum {
    T_TRAINER,
    T_PARAMS,
    T_WINDOW,
    T_MAX_ROWS,
    T_MIN_ROWS,
    T_HOLDOUT,
    T_EXPERT,
    T_BASE,
    T_BASE_WEIGHT,
    T_TIMEOUT,
    T_MEMORY,
    T_POLICY,
    T_ALIAS,
    T_STRATEGY,
    T_METRIC,
    T_MARGIN,
    T_COMMAND,
    T_COUNT
};

#define PARAMS_MAX    64
#define PARAM_MAX_LEN 256
#define TIMEOUT_MAX_S ((int64_t)7 * 86400)
#define MEMORY_MAX_MB ((int64_t)1024 * 1024)

/* The trainers the daemon's configuration names (md_contract_set_trainers):
 * set once before any thread parses a contract. */
static const char *const *known_trainers;
static size_t n_known_trainers;
static bool trainers_set;

void md_contract_set_trainers(const char *const *names, size_t n)
{
    known_trainers = names;
    n_known_trainers = n;
    trainers_set = true;
}

static bool trainer_known(const char *name)
{
    if (!trainers_set)
        return true;
    for (size_t i = 0; i < n_known_trainers; i++)
        if (strcmp(known_trainers[i], name) == 0)
            return true;
    return false;
}

void md_contract__training_default(struct md_training_config *t, bool regression, size_t n_labels)
{
    memset(t, 0, sizeof(*t));
    t->min_rows = 100;
    t->holdout = 0.2;
    t->expert_weight = 1;
    t->base_weight = 1;
    t->timeout_s = 1800;
    t->memory_mb = 2048;
    t->policy = MD_TRAINED_REGISTER;
    t->alias = "candidate";
    t->metric = regression ? "rmse" : n_labels == 2 ? "roc_auc" : "accuracy";
    t->margin = 0.01;
}

static int int_in(struct md_contract__ctx *x, const yaml_node_t *n, const char *path, int64_t lo,
                  int64_t hi, uint64_t *out)
{
    int64_t i;
    int rc = md_contract__want_int(x, n, path, &i);

    if (rc != MD_OK)
        return rc;
    if (i < lo || i > hi)
        return md_contract__fail(x, path, "%lld is not between %lld and %lld", (long long)i,
                                 (long long)lo, (long long)hi);
    *out = (uint64_t)i;
    return MD_OK;
}

static int weight(struct md_contract__ctx *x, const yaml_node_t *n, const char *path, double *out)
{
    int rc = md_contract__want_number(x, n, path, out);

    if (rc == MD_OK && !(*out > 0 && *out <= 1000))
        return md_contract__fail(x, path, "%g is not a weight above 0 and at most 1000", *out);
    return rc;
}

/* A duration in seconds: "30m", "7d", or a whole number of seconds. */
static int seconds(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                   int64_t max_s, int64_t *out)
{
    const char *s;
    size_t len;
    int64_t ms;
    int rc = md_contract__want_text(x, n, path, 32, &s, &len);

    if (rc != MD_OK)
        return rc;
    if (len > 0 && s[len - 1] >= '0' && s[len - 1] <= '9') {
        uint64_t u = 0;

        rc = int_in(x, n, path, 1, max_s, &u);
        *out = (int64_t)u;
        return rc;
    }
    if (!md_history_duration(s, max_s * 1000, &ms) || ms < 1000)
        return md_contract__fail(x, path,
                                 "'%s' is not a duration from 1s to %llds (digits and a unit: s, "
                                 "m, h or d)",
                                 s, (long long)max_s);
    *out = ms / 1000;
    return MD_OK;
}

static int parse_params(struct md_contract__ctx *x, const yaml_node_t *n,
                        struct md_training_config *t)
{
    struct md_kv *kv;
    size_t count;
    size_t i = 0;

    if (n->type != YAML_MAPPING_NODE)
        return md_contract__fail(x, "training.params", "must be a mapping of names to values");
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count > PARAMS_MAX)
        return md_contract__fail(x, "training.params", "%zu parameters; at most %d", count,
                                 PARAMS_MAX);
    kv = md_arena_alloc(&x->c->mem, (count > 0 ? count : 1) * sizeof(*kv));
    if (kv == NULL)
        return md_contract__oom(x);
    for (const yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++, i++) {
        const yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
        const char *ks;
        const char *vs;
        size_t klen;
        size_t vlen;
        char path[96];
        int rc = md_contract__want_text(x, k, "training.params", 64, &ks, &klen);

        if (rc != MD_OK)
            return rc;
        (void)snprintf(path, sizeof(path), "training.params.%.64s", ks);
        if (klen == 0)
            return md_contract__fail(x, "training.params", "a parameter has an empty name");
        for (size_t j = 0; j < i; j++)
            if (strcmp(kv[j].key, ks) == 0)
                return md_contract__fail(x, path, "given twice");
        if (v == NULL || v->type != YAML_SCALAR_NODE)
            return md_contract__fail(x, path, "must be a number, a word or a text");
        rc = md_contract__want_text(x, v, path, PARAM_MAX_LEN, &vs, &vlen);
        if (rc != MD_OK)
            return rc;
        kv[i].key = md_contract__dup_text(x, ks, klen);
        kv[i].value = md_contract__dup_text(x, vs, vlen);
        if (kv[i].key == NULL || kv[i].value == NULL)
            return md_contract__oom(x);
    }
    t->params = kv;
    t->n_params = count;
    return MD_OK;
}

static int parse_metric(struct md_contract__ctx *x, const yaml_node_t *n,
                        struct md_training_config *t)
{
    static const char *const cls[] = {"roc_auc", "accuracy", "f1", "log_loss", NULL};
    static const char *const reg[] = {"rmse", "mae", "r2", NULL};
    bool regression = x->c->task == MD_TASK_REGRESSION;
    int word;
    int rc = md_contract__want_word(
        x, n, "training.metric", regression ? reg : cls,
        regression ? "rmse, mae, r2" : "roc_auc, accuracy, f1, log_loss", &word);

    if (rc != MD_OK)
        return rc;
    t->metric = regression ? reg[word] : cls[word];
    if (!regression && x->c->n_labels != 2 && (word == 0 || word == 2))
        return md_contract__fail(x, "training.metric",
                                 "%s needs a binary model; this one has %zu labels", t->metric,
                                 x->c->n_labels);
    return MD_OK;
}

static int parse_text_fields(struct md_contract__ctx *x, yaml_node_t *const *v,
                             struct md_training_config *t)
{
    static const char *const policies[] = {"register", "rollout", NULL};
    char *s;
    int word;
    int rc = MD_OK;

    if (v[T_TRAINER] != NULL) {
        rc = md_contract__want_name(x, v[T_TRAINER], "training.trainer", &s);
        t->trainer = s;
        if (rc == MD_OK && !trainer_known(s))
            return md_contract__fail(x, "training.trainer",
                                     "'%s' is not a trainer of the daemon's configuration file "
                                     "(trainers:)",
                                     s);
    }
    if (rc == MD_OK && v[T_BASE] != NULL) {
        rc = md_contract__want_name(x, v[T_BASE], "training.base_dataset", &s);
        t->base_dataset = s;
    }
    if (rc == MD_OK && v[T_ALIAS] != NULL) {
        rc = md_contract__want_name(x, v[T_ALIAS], "training.alias", &s);
        t->alias = s;
        if (rc == MD_OK && (strcmp(s, "champion") == 0 || strcmp(s, "latest") == 0))
            return md_contract__fail(x, "training.alias",
                                     "'%s' is kept by modeld itself; name another alias", s);
    }
    if (rc == MD_OK && v[T_STRATEGY] != NULL) {
        rc = md_contract__want_name(x, v[T_STRATEGY], "training.strategy", &s);
        t->strategy = s;
    }
    if (rc == MD_OK && v[T_POLICY] != NULL) {
        rc = md_contract__want_word(x, v[T_POLICY], "training.policy", policies,
                                    "register, rollout", &word);
        t->policy = word == 1 ? MD_TRAINED_ROLLOUT : MD_TRAINED_REGISTER;
    }
    if (rc == MD_OK && v[T_METRIC] != NULL)
        rc = parse_metric(x, v[T_METRIC], t);
    if (rc == MD_OK && t->strategy != NULL && t->policy != MD_TRAINED_ROLLOUT)
        return md_contract__fail(x, "training.strategy", "needs policy: rollout");
    return rc;
}

int md_contract__parse_training(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {
        "trainer",       "params",       "window",      "max_rows", "min_rows",  "holdout",
        "expert_weight", "base_dataset", "base_weight", "timeout",  "memory_mb", "policy",
        "alias",         "strategy",     "metric",      "margin",   "command",   NULL};
    struct md_training_config *t = &x->c->training;
    yaml_node_t *v[T_COUNT] = {0};
    int rc = md_contract__map_collect(x, n, "training", keys, v);

    if (rc != MD_OK)
        return rc;
    if (v[T_COMMAND] != NULL)
        return md_contract__fail(x, "training.command",
                                 "a model.yaml never holds a command: name a trainer of the "
                                 "daemon's configuration file (trainers:) with training.trainer");
    t->present = true;
    rc = parse_text_fields(x, v, t);
    if (rc == MD_OK && v[T_PARAMS] != NULL)
        rc = parse_params(x, v[T_PARAMS], t);
    if (rc == MD_OK && v[T_WINDOW] != NULL)
        rc = seconds(x, v[T_WINDOW], "training.window", 3650LL * 86400, &t->window_s);
    if (rc == MD_OK && v[T_MAX_ROWS] != NULL)
        rc = int_in(x, v[T_MAX_ROWS], "training.max_rows", 0, 100000000, &t->max_rows);
    if (rc == MD_OK && v[T_MIN_ROWS] != NULL)
        rc = int_in(x, v[T_MIN_ROWS], "training.min_rows", 2, 100000000, &t->min_rows);
    if (rc == MD_OK && v[T_HOLDOUT] != NULL) {
        rc = md_contract__want_number(x, v[T_HOLDOUT], "training.holdout", &t->holdout);
        if (rc == MD_OK && !(t->holdout > 0 && t->holdout < 1))
            return md_contract__fail(x, "training.holdout",
                                     "%g is not a share between 0 and 1 (exclusive)", t->holdout);
    }
    if (rc == MD_OK && v[T_EXPERT] != NULL)
        rc = weight(x, v[T_EXPERT], "training.expert_weight", &t->expert_weight);
    if (rc == MD_OK && v[T_BASE_WEIGHT] != NULL)
        rc = weight(x, v[T_BASE_WEIGHT], "training.base_weight", &t->base_weight);
    if (rc == MD_OK && v[T_TIMEOUT] != NULL) {
        int64_t s = 0;

        rc = seconds(x, v[T_TIMEOUT], "training.timeout", TIMEOUT_MAX_S, &s);
        t->timeout_s = (uint64_t)s;
    }
    if (rc == MD_OK && v[T_MEMORY] != NULL)
        rc = int_in(x, v[T_MEMORY], "training.memory_mb", 16, MEMORY_MAX_MB, &t->memory_mb);
    if (rc == MD_OK && v[T_MARGIN] != NULL) {
        rc = md_contract__want_number(x, v[T_MARGIN], "training.margin", &t->margin);
        if (rc == MD_OK && !(t->margin >= 0 && t->margin <= 1))
            return md_contract__fail(x, "training.margin", "%g is not between 0 and 1", t->margin);
    }
    if (rc == MD_OK && t->max_rows != 0 && t->max_rows < t->min_rows)
        return md_contract__fail(x, "training.max_rows", "%llu is below min_rows (%llu)",
                                 (unsigned long long)t->max_rows, (unsigned long long)t->min_rows);
    return rc;
}
