/* SPDX-License-Identifier: MIT */
/*
 * contract_review.c: model.yaml's `review:` section, the rules that send
 * predictions to a human review queue (serve/improve.h). The decision
 * itself is made as the prediction log formats its rows
 * (serve/predrec.c); the queue is the store's (store/sqlite_review.c).
 *
 *   review:
 *     rules:                      # 1 .. MD_REVIEW_RULES, each one kind
 *       - band: [0.4, 0.6]        # P(labels[1]) within [a, b]: binary models only
 *         name: uncertain         # the item's reason (default: the kind)
 *       - label: fraud            # every prediction of a class of the model
 *       - sample: 0.01            # a share (0, 1] of the rows, by request id
 *       - data_quality: true      # a row answered with a missing value
 *     lease_s: 300                # 1 .. 86400
 *     max_queue: 10000            # 1 .. 1000000
 *
 * Runs after the labels are parsed (a label rule names one of them).
 */
#include "serve/contract.h"
#include "serve/contract_int.h"

#include <stdio.h>

#define LEASE_MAX_S ((int64_t)24 * 3600)
#define QUEUE_MAX   1000000

enum { R_RULES, R_LEASE, R_QUEUE, R_COUNT };
enum { U_BAND, U_LABEL, U_SAMPLE, U_DATA, U_NAME, U_COUNT };

static int int_in(struct md_contract__ctx *x, const yaml_node_t *n, const char *path, int64_t lo,
                  int64_t hi, uint64_t *out)
{
    int64_t i = 0;
    int rc = md_contract__want_int(x, n, path, &i);

    if (rc != MD_OK)
        return rc;
    if (i < lo || i > hi)
        return md_contract__fail(x, path, "%lld is not between %lld and %lld", (long long)i,
                                 (long long)lo, (long long)hi);
    *out = (uint64_t)i;
    return MD_OK;
}

static int parse_band(struct md_contract__ctx *x, const yaml_node_t *n, const char *at,
                      struct md_review_rule *r)
{
    const struct md_contract *c = x->c;
    char path[64];
    size_t count = 0;
    double v[2];
    int rc;

    (void)snprintf(path, sizeof(path), "%s.band", at);
    if (c->task != MD_TASK_CLASSIFICATION || c->n_labels != 2)
        return md_contract__fail(x, path,
                                 "a probability band needs a binary classification "
                                 "(2 labels)");
    rc = md_contract__want_seq(x, n, path, 2, 2, "bounds", &count);
    for (size_t i = 0; rc == MD_OK && i < 2; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, n, i);
        char ipath[80];

        (void)snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if (item == NULL)
            return md_contract__fail(x, ipath, "missing");
        rc = md_contract__want_number(x, item, ipath, &v[i]);
        if (rc == MD_OK && !(v[i] >= 0 && v[i] <= 1))
            rc = md_contract__fail(x, ipath, "%g is not a probability between 0 and 1", v[i]);
    }
    if (rc != MD_OK)
        return rc;
    if (v[0] > v[1])
        return md_contract__fail(x, path, "the lower bound %g is above the upper bound %g", v[0],
                                 v[1]);
    r->kind = MD_REVIEW_BAND;
    r->lo = v[0];
    r->hi = v[1];
    return MD_OK;
}

static int parse_label(struct md_contract__ctx *x, const yaml_node_t *n, const char *at,
                       struct md_review_rule *r)
{
    const struct md_contract *c = x->c;
    char path[64];
    const char *s;
    size_t len;
    int rc;

    (void)snprintf(path, sizeof(path), "%s.label", at);
    if (c->task != MD_TASK_CLASSIFICATION)
        return md_contract__fail(x, path, "a label rule needs a classification model");
    rc = md_contract__want_text(x, n, path, MD_CONTRACT_MAX_NAME, &s, &len);
    if (rc != MD_OK)
        return rc;
    for (size_t k = 0; k < c->n_labels; k++)
        if (strlen(c->labels[k]) == len && memcmp(c->labels[k], s, len) == 0) {
            r->kind = MD_REVIEW_LABEL;
            r->label = c->labels[k];
            return MD_OK;
        }
    return md_contract__fail(x, path, "'%.*s' is not among the model's labels", (int)len, s);
}

static int parse_rule(struct md_contract__ctx *x, const yaml_node_t *n, size_t i,
                      struct md_review_rule *r)
{
    static const char *const keys[] = {"band", "label", "sample", "data_quality", "name", NULL};
    static const char *const kinds[] = {"", "band", "label", "sample", "data_quality"};
    yaml_node_t *v[U_COUNT] = {0};
    char at[40];
    char path[64];
    int given = 0;
    int rc;

    (void)snprintf(at, sizeof(at), "review.rules[%zu]", i);
    rc = md_contract__map_collect(x, n, at, keys, v);
    if (rc != MD_OK)
        return rc;
    for (int k = U_BAND; k <= U_DATA; k++)
        given += v[k] != NULL;
    if (given != 1)
        return md_contract__fail(
            x, at, "a rule is one of band, label, sample or data_quality (%d given)", given);
    if (v[U_BAND] != NULL) {
        rc = parse_band(x, v[U_BAND], at, r);
    } else if (v[U_LABEL] != NULL) {
        rc = parse_label(x, v[U_LABEL], at, r);
    } else if (v[U_SAMPLE] != NULL) {
        (void)snprintf(path, sizeof(path), "%s.sample", at);
        rc = md_contract__want_number(x, v[U_SAMPLE], path, &r->rate);
        if (rc == MD_OK && !(r->rate > 0 && r->rate <= 1))
            rc = md_contract__fail(x, path, "%g is not a share above 0 and at most 1", r->rate);
        r->kind = MD_REVIEW_SAMPLE;
    } else {
        bool on = false;

        (void)snprintf(path, sizeof(path), "%s.data_quality", at);
        rc = md_contract__want_bool(x, v[U_DATA], path, &on);
        if (rc == MD_OK && !on)
            rc = md_contract__fail(x, path, "only true is meaningful (leave the rule out)");
        r->kind = MD_REVIEW_DATA;
    }
    if (rc != MD_OK)
        return rc;
    if (v[U_NAME] != NULL) {
        char *name = NULL;

        (void)snprintf(path, sizeof(path), "%s.name", at);
        rc = md_contract__want_name(x, v[U_NAME], path, &name);
        r->name = name;
        return rc;
    }
    r->name = kinds[r->kind];
    return MD_OK;
}

int md_contract__parse_review(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"rules", "lease_s", "max_queue", NULL};
    struct md_review_config *rv = &x->c->review;
    struct md_review_rule *rules;
    yaml_node_t *v[R_COUNT] = {0};
    size_t count = 0;
    int rc;

    memset(rv, 0, sizeof(*rv));
    rv->lease_s = 300;
    rv->max_queue = 10000;
    if (n == NULL)
        return MD_OK;
    rc = md_contract__map_collect(x, n, "review", keys, v);
    if (rc != MD_OK)
        return rc;
    if (v[R_RULES] == NULL)
        return md_contract__fail(x, "review.rules", "required: at least one rule");
    rc = md_contract__want_seq(x, v[R_RULES], "review.rules", 1, MD_REVIEW_RULES, "rules", &count);
    if (rc != MD_OK)
        return rc;
    rules = md_arena_calloc(&x->c->mem, count, sizeof(*rules));
    if (rules == NULL)
        return md_contract__oom(x);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = md_contract__seq_item(x, v[R_RULES], i);

        if (item == NULL)
            return md_contract__fail(x, "review.rules", "rule %zu is missing", i);
        rc = parse_rule(x, item, i, &rules[i]);
        if (rc != MD_OK)
            return rc;
    }
    if (v[R_LEASE] != NULL) {
        rc = int_in(x, v[R_LEASE], "review.lease_s", 1, LEASE_MAX_S, &rv->lease_s);
        if (rc != MD_OK)
            return rc;
    }
    if (v[R_QUEUE] != NULL) {
        rc = int_in(x, v[R_QUEUE], "review.max_queue", 1, QUEUE_MAX, &rv->max_queue);
        if (rc != MD_OK)
            return rc;
    }
    rv->rules = rules;
    rv->n_rules = count;
    rv->present = true;
    return MD_OK;
}
