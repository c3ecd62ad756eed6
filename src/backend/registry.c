/* SPDX-License-Identifier: MIT */
/*
 * registry.c: the only list of engines. A new engine adds one line here.
 * The list is checked once at start-up (md_backend_check_all): an engine
 * built against another backend.h, or missing a method it must have, stops
 * the daemon before it serves anything.
 */
#include "backend/registry.h"

extern const struct md_backend_ops md_backend_trees;
extern const struct md_backend_ops md_backend_xgboost;
extern const struct md_backend_ops md_backend_linear;

static const struct md_backend_ops *const engines[] = {
    &md_backend_trees,
    &md_backend_xgboost,
    &md_backend_linear,
    NULL,
};

const struct md_backend_ops *md_backend_find(const char *name)
{
    size_t i;

    for (i = 0; engines[i] != NULL; i++)
        if (strcmp(engines[i]->name, name) == 0)
            return engines[i];
    return NULL;
}

int md_backend_check(const struct md_backend_ops *ops, struct md_err *err)
{
    const char *missing = NULL;

    if (ops->name == NULL || ops->name[0] == '\0')
        return md_err_set(err, MD_EINTERNAL, "an engine has no name");
    if (ops->abi != MD_BACKEND_ABI)
        return md_err_set(err, MD_EINTERNAL,
                          "engine '%s': built for backend ABI %d, but this modeld has ABI %d "
                          "(rebuild the engine against this backend/backend.h)",
                          ops->name, ops->abi, MD_BACKEND_ABI);
    if (ops->free == NULL)
        missing = "free";
    if (ops->predict == NULL)
        missing = "predict";
    if (ops->describe == NULL)
        missing = "describe";
    if (ops->load == NULL)
        missing = "load";
    if (missing != NULL)
        return md_err_set(err, MD_EINTERNAL, "engine '%s': no %s method", ops->name, missing);
    return MD_OK;
}

int md_backend_check_all(struct md_err *err)
{
    size_t i;
    size_t k;
    int rc;

    for (i = 0; engines[i] != NULL; i++) {
        rc = md_backend_check(engines[i], err);
        if (rc != MD_OK)
            return rc;
        for (k = 0; k < i; k++)
            if (strcmp(engines[k]->name, engines[i]->name) == 0)
                return md_err_set(err, MD_EINTERNAL, "engine '%s' is listed twice",
                                  engines[i]->name);
    }
    return MD_OK;
}
