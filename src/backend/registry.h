/* SPDX-License-Identifier: MIT */
/*
 * registry.h: the list of engines, by name.
 */
#ifndef MD_BACKEND_REGISTRY_H
#define MD_BACKEND_REGISTRY_H

#include "backend/backend.h"

/* The engine called name, or NULL. */
const struct md_backend_ops *md_backend_find(const char *name);

/* NULL-terminated list of every engine, for help texts and metadata. */
const struct md_backend_ops *const *md_backend_list(void);

#endif
