/* SPDX-License-Identifier: MIT */
/*
 * linear_int.h: internals of the linear engine shared with its tests and fuzz
 * target.
 */
#ifndef MD_BACKEND_LINEAR_INT_H
#define MD_BACKEND_LINEAR_INT_H

#include "util/common.h"
#include "util/err.h"
#include "backend/backend.h"

/* Loads a linear artifact from memory; as md_backend_linear.load otherwise. */
int md_linear__load_buffer(const char *buf, size_t len, const struct md_backend_config *cfg,
                           void **inst, struct md_err *err);

#endif
