/* SPDX-License-Identifier: MIT */
/*
 * trees_int.h: internals of the trees engine shared with its tests and fuzz
 * target.
 */
#ifndef MD_BACKEND_TREES_INT_H
#define MD_BACKEND_TREES_INT_H

#include "util/common.h"
#include "util/err.h"

/* Loads an XGBoost JSON model from memory; as md_backend_trees.load otherwise. */
int md_trees__load_buffer(const char *buf, size_t len, void **inst, struct md_err *err);

#endif
