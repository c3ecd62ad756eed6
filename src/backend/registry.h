/* SPDX-License-Identifier: MIT */
/*
 * registry.h: the list of engines, by name, and its check.
 */
#ifndef MD_BACKEND_REGISTRY_H
#define MD_BACKEND_REGISTRY_H

#include "backend/backend.h"

/* The engine called name, or NULL. */
const struct md_backend_ops *md_backend_find(const char *name);

/*
 * Checks that ops can be registered: it has a name, its abi is this build's
 * MD_BACKEND_ABI (an engine built against another backend.h would be called
 * through a table of another shape), and it has load, describe, predict and
 * free (learn and train may be NULL). MD_OK, or MD_EINTERNAL with a message
 * naming the engine and what is wrong.
 */
int md_backend_check(const struct md_backend_ops *ops, struct md_err *err) MD_MUST_CHECK;

/*
 * Checks every listed engine with md_backend_check, and that no two share a
 * name. Called once at start-up: modeld refuses to start when it fails.
 */
int md_backend_check_all(struct md_err *err) MD_MUST_CHECK;

#endif
