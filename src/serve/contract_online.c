/* SPDX-License-Identifier: MIT */
/*
 * contract_online.c: model.yaml's `online:` section, a linear model that
 * learns from each feedback label as it arrives (serve/improve.h's struct
 * md_online_config). Every key is optional; absent ones take the defaults
 * below, and without the section `present` is false with the same
 * defaults. The update rules are the linear engine's (docs/linear.md); the
 * learner that feeds it and takes snapshots is not here.
 *
 *   online:
 *     algo: sgd               # sgd | ftrl (ftrl: binary classifiers only)
 *     learning_rate: 0.01     # sgd's step, > 0
 *     alpha: 0.1              # ftrl's rate, > 0
 *     beta: 1                 # ftrl's, >= 0 (> 0 when l2 is 0)
 *     l1: 0                   # >= 0
 *     l2: 0                   # >= 0
 *     clip: 0                 # gradient entries within [-clip, clip]; 0: none
 *     max_weight: 0           # weights within [-max_weight, max_weight]; 0: none
 *     snapshot_updates: 1000  # a snapshot every N updates; 0: not by count
 *     snapshot_s: 600         # and every T seconds; 0: not by time
 *     window: 500             # labels the fallback compares on, 10..100000
 *     fallback_margin: 0.05   # 0..1
 */
#include "serve/contract.h"
#include "serve/contract_int.h"

#include <math.h>

#define WINDOW_MIN 10
#define WINDOW_MAX 100000

enum {
    O_ALGO,
    O_RATE,
    O_ALPHA,
    O_BETA,
    O_L1,
    O_L2,
    O_CLIP,
    O_MAX_WEIGHT,
    O_SNAP_UPDATES,
    O_SNAP_S,
    O_WINDOW,
    O_MARGIN,
    O_COUNT
};

void md_online_config_default(struct md_online_config *o)
{
    memset(o, 0, sizeof(*o));
    o->algo = MD_ONLINE_SGD;
    o->learning_rate = 0.01;
    o->alpha = 0.1;
    o->beta = 1;
    o->snapshot_updates = 1000;
    o->snapshot_s = 600;
    o->window = 500;
    o->fallback_margin = 0.05;
}

/* An optional number at n, at least lo (above lo when strict). */
static int number_from(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                       double lo, bool strict, double *out)
{
    int rc;

    if (n == NULL)
        return MD_OK;
    rc = md_contract__want_number(x, n, path, out);
    if (rc != MD_OK)
        return rc;
    if (strict ? !(*out > lo) : !(*out >= lo))
        return md_contract__fail(x, path, "%g is not %s %g", *out, strict ? "above" : "at least",
                                 lo);
    return MD_OK;
}

/* An optional integer at n within [lo, hi]. */
static int count_in(struct md_contract__ctx *x, const yaml_node_t *n, const char *path, int64_t lo,
                    int64_t hi, uint64_t *out)
{
    int64_t v = 0;
    int rc;

    if (n == NULL)
        return MD_OK;
    rc = md_contract__want_int(x, n, path, &v);
    if (rc != MD_OK)
        return rc;
    if (v < lo || v > hi)
        return md_contract__fail(x, path, "%lld is not between %lld and %lld", (long long)v,
                                 (long long)lo, (long long)hi);
    *out = (uint64_t)v;
    return MD_OK;
}

int md_contract__parse_online(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"algo",
                                       "learning_rate",
                                       "alpha",
                                       "beta",
                                       "l1",
                                       "l2",
                                       "clip",
                                       "max_weight",
                                       "snapshot_updates",
                                       "snapshot_s",
                                       "window",
                                       "fallback_margin",
                                       NULL};
    static const char *const algos[] = {"sgd", "ftrl", NULL};
    struct md_contract *c = x->c;
    struct md_online_config *o = &c->online;
    yaml_node_t *v[O_COUNT] = {0};
    int word = 0;
    int rc;

    md_online_config_default(o);
    if (n == NULL)
        return MD_OK;
    rc = md_contract__map_collect(x, n, "online", keys, v);
    if (rc != MD_OK)
        return rc;
    o->present = true;
    if (strcmp(c->backend, "linear") != 0)
        return md_contract__fail(
            x, "online", "learning online needs backend linear (this model's is '%s')", c->backend);
    if (v[O_ALGO] != NULL) {
        rc = md_contract__want_word(x, v[O_ALGO], "online.algo", algos, "sgd, ftrl", &word);
        if (rc != MD_OK)
            return rc;
        o->algo = word == 0 ? MD_ONLINE_SGD : MD_ONLINE_FTRL;
    }
    if (o->algo == MD_ONLINE_FTRL && (c->task != MD_TASK_CLASSIFICATION || c->n_labels != 2))
        return md_contract__fail(x, "online.algo",
                                 "ftrl is for logistic models: this model is not a binary "
                                 "classifier (use sgd)");
    rc = number_from(x, v[O_RATE], "online.learning_rate", 0, true, &o->learning_rate);
    if (rc == MD_OK)
        rc = number_from(x, v[O_ALPHA], "online.alpha", 0, true, &o->alpha);
    if (rc == MD_OK)
        rc = number_from(x, v[O_BETA], "online.beta", 0, false, &o->beta);
    if (rc == MD_OK)
        rc = number_from(x, v[O_L1], "online.l1", 0, false, &o->l1);
    if (rc == MD_OK)
        rc = number_from(x, v[O_L2], "online.l2", 0, false, &o->l2);
    if (rc == MD_OK)
        rc = number_from(x, v[O_CLIP], "online.clip", 0, false, &o->clip);
    if (rc == MD_OK)
        rc = number_from(x, v[O_MAX_WEIGHT], "online.max_weight", 0, false, &o->max_weight);
    if (rc == MD_OK)
        rc = number_from(x, v[O_MARGIN], "online.fallback_margin", 0, false, &o->fallback_margin);
    if (rc == MD_OK)
        rc = count_in(x, v[O_SNAP_UPDATES], "online.snapshot_updates", 0, INT64_MAX,
                      &o->snapshot_updates);
    if (rc == MD_OK)
        rc = count_in(x, v[O_SNAP_S], "online.snapshot_s", 0, (int64_t)31 * 86400, &o->snapshot_s);
    if (rc == MD_OK)
        rc = count_in(x, v[O_WINDOW], "online.window", WINDOW_MIN, WINDOW_MAX, &o->window);
    if (rc != MD_OK)
        return rc;
    if (o->fallback_margin > 1)
        return md_contract__fail(x, "online.fallback_margin", "%g is above 1", o->fallback_margin);
    if (o->algo == MD_ONLINE_FTRL && o->beta == 0 && o->l2 == 0)
        return md_contract__fail(x, "online.beta",
                                 "0 with l2 0 cannot start from the artifact's weights (set beta "
                                 "above 0)");
    return MD_OK;
}

void md_online_learn_config(const struct md_online_config *o, struct md_learn_config *out)
{
    memset(out, 0, sizeof(*out));
    out->algo = o->algo == MD_ONLINE_FTRL ? 2 : 1;
    out->learning_rate = o->learning_rate;
    out->alpha = o->alpha;
    out->beta = o->beta;
    out->l1 = o->l1;
    out->l2 = o->l2;
    out->clip = o->clip;
    out->max_weight = o->max_weight;
}
