/* SPDX-License-Identifier: MIT */
/*
 * model.c: loading and releasing a model version.
 */
#include "serve/model.h"
#include "serve/batcher.h"
#include "serve/predrec.h"
#include "backend/registry.h"
#include "util/mem.h"

#include <limits.h>

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
    /* Attached last: a version that fails to load leaves no series behind. */
    if (metrics != NULL) {
        v->stats = md_metrics_attach(metrics, contract->name, number, v->batcher != NULL);
        v->metrics = metrics;
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
    if (v->engine != NULL)
        v->ops->free(v->engine);
    if (v->metrics != NULL)
        md_metrics_detach(v->metrics, v->stats);
    else
        free(v->stats);
    md_contract_free(v->contract);
    free(v->model);
    free(v);
}
