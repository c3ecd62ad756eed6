/* SPDX-License-Identifier: MIT */
/*
 * registry.c: the only list of engines. A new engine adds one line here.
 */
#include "backend/registry.h"

/* extern const struct md_backend_ops md_backend_trees; */
/* extern const struct md_backend_ops md_backend_xgboost; */
extern const struct md_backend_ops md_backend_linear;

static const struct md_backend_ops *const engines[] = {
    /* &md_backend_trees, */
    /* &md_backend_xgboost, */
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

const struct md_backend_ops *const *md_backend_list(void)
{
    return engines;
}
