/* SPDX-License-Identifier: MIT */
/*
 * trees_int.h: internals of the native tree engine (trees.c) that its tests,
 * its fuzz target and its benchmark reach. The serving layer uses only
 * md_backend_trees, through backend.h and the registry.
 */
#ifndef MD_BACKEND_TREES_INT_H
#define MD_BACKEND_TREES_INT_H

#include "backend/backend.h"

extern const struct md_backend_ops md_backend_trees;

/*
 * Loads an XGBoost 1.7 JSON model from buf[0..len) (need not be
 * NUL-terminated) as md_backend_trees.load does from a file, without engine
 * options. On success *inst is an instance for md_backend_trees' describe,
 * predict and free. Returns MD_OK, MD_ECORRUPT, MD_EUNSUPPORTED or MD_ENOMEM
 * with a message in err. Safe on any bytes.
 */
int md_trees__load_buffer(const char *buf, size_t len, void **inst, struct md_err *err);

#endif
