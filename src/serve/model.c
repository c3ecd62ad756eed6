/* SPDX-License-Identifier: MIT */
/*
 * model.c: loading and releasing a model version.
 */
#include "serve/model.h"
#include "serve/batcher.h"
#include "serve/drift_feed.h"
#include "util/log.h"
#include "serve/predrec.h"
#include "backend/registry.h"
#include "util/mem.h"
#include "watch/dataq.h"

#include <limits.h>

/* The data-quality figures of v from its contract's features and labels. */
static struct md_dataq_version *attach_dataq(struct md_metrics *metrics, const struct md_version *v)
{
    const struct md_contract *c = v->contract;
    const char **names = md_xcalloc(c->n_features + 1, sizeof(*names));
    uint8_t *kinds = md_xcalloc(c->n_features + 1, 1);
    struct md_dataq_shape shape;
    struct md_dataq_version *dq;
    size_t i;

    for (i = 0; i < c->n_features; i++) {
        const struct md_feature *f = &c->features[i];

        names[i] = f->name;
        kinds[i] = (uint8_t)((f->has_min || f->has_max ? MD_DQ_RANGED : 0) |
                             (f->categories != NULL ? MD_DQ_CATEGORICAL : 0));
    }
    shape.model = v->model;
    shape.version = v->number;
    shape.features = names;
    shape.kinds = kinds;
    shape.n_features = c->n_features;
    shape.labels = (const char *const *)c->labels;
    shape.n_labels = c->n_labels;
    shape.regression = c->task == MD_TASK_REGRESSION;
    dq = md_dataq_attach(md_metrics_dataq(metrics), &shape);
    free(names);
    free(kinds);
    return dq;
}

int md_version_load(const char *dir, int64_t number, struct md_contract *contract,
                    struct md_metrics *metrics, struct md_version **out, struct md_err *err)
{
    const struct md_backend_ops *ops;
    struct md_backend_config cfg;
    struct md_version *v;
    char path[PATH_MAX];
    int rc;

    *out = NULL;
    rc = md_predrec_check(contract, md_predrec_key_given(), err);
    if (rc != MD_OK) {
        md_contract_free(contract);
        return rc;
    }
    ops = md_backend_find(contract->backend);
    if (ops == NULL) {
        rc =
            md_err_set(err, MD_EINVAL, "backend '%s' is not one this build has", contract->backend);
        md_contract_free(contract);
        return rc;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, contract->artifact) >= sizeof(path)) {
        md_contract_free(contract);
        return md_err_set(err, MD_EINVAL, "path of '%s' too long", dir);
    }
    v = md_xcalloc(1, sizeof(*v));
    atomic_init(&v->refs, 1);
    v->model = md_xstrdup(contract->name);
    v->number = number;
    (void)snprintf(v->version_str, sizeof(v->version_str), "%lld", (long long)number); /* fits */
    v->contract = contract;
    v->ops = ops;
    /* Backend names are short words of this build (registry.c): it fits. */
    (void)snprintf(v->platform, sizeof(v->platform), "modeld_%s", ops->name);
    cfg.options = contract->engine;
    cfg.n_options = contract->n_engine;
    rc = ops->load(path, &cfg, &v->engine, err);
    if (rc != MD_OK) {
        md_err_prefix(err, "%s: ", contract->artifact);
        v->engine = NULL;
        md_version_unref(v);
        return rc;
    }
    ops->describe(v->engine, &v->desc);
    rc = md_contract_check_engine(contract, &v->desc, err);
    if (rc != MD_OK) {
        md_err_prefix(err, "%s does not fit model.yaml: ", contract->artifact);
        md_version_unref(v);
        return rc;
    }
    if (v->desc.feature_names == NULL)
        (void)snprintf(v->warning, sizeof(v->warning),
                       "%s records no feature names: the order of its %zu columns cannot be "
                       "checked against model.yaml",
                       contract->artifact, v->desc.n_features); /* a warning: cut short if long */
    if (contract->batching.enabled) {
        rc = md_batcher_new(v, &v->batcher, err);
        if (rc != MD_OK) {
            md_version_unref(v);
            return rc;
        }
    }
    /* A profile that cannot be used leaves the version serving, without drift. */
    rc = md_drift_feed_load(dir, contract, &v->drift, v->drift_note, sizeof(v->drift_note));
    if (rc != MD_OK && rc != MD_ENOTFOUND && metrics != NULL)
        md_log_kv(MD_LOG_WARN, "reference profile not used: drift has no reference", "model",
                  v->model, "version", v->version_str, "reason", v->drift_note, MD_KV_END);
    /* Attached last: a version that fails to load leaves no series behind. */
    if (metrics != NULL) {
        v->stats = md_metrics_attach(metrics, contract->name, number, v->batcher != NULL);
        v->metrics = metrics;
        v->dq = attach_dataq(metrics, v);
    } else {
        v->stats = md_xcalloc(1, sizeof(*v->stats));
    }
    *out = v;
    return MD_OK;
}

void md_version_ref(struct md_version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void md_version_unref(struct md_version *v)
{
    if (v == NULL)
        return;
    if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    md_batcher_free(v->batcher);
    md_drift_feed_free(v->drift);
    if (v->engine != NULL)
        v->ops->free(v->engine);
    if (v->metrics != NULL) {
        md_dataq_detach(md_metrics_dataq(v->metrics), v->dq);
        md_metrics_detach(v->metrics, v->stats);
    } else
        free(v->stats);
    md_contract_free(v->contract);
    free(v->model);
    free(v);
}
