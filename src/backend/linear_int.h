/* SPDX-License-Identifier: MIT */
/*
 * linear_int.h: internals of the linear engine (backend/linear.c) that its
 * unit tests and fuzz target reach. The daemon uses only md_backend_linear.
 */
#ifndef MD_BACKEND_LINEAR_INT_H
#define MD_BACKEND_LINEAR_INT_H

#include "backend/backend.h"

/* The one engine this file's module exports, also listed in registry.c. */
extern const struct md_backend_ops md_backend_linear;

/*
 * Loads a linear artifact from len bytes of JSON text at data (not
 * necessarily NUL-terminated), with engine options cfg (NULL = none). On
 * success *inst is a new instance for md_backend_linear's describe, predict,
 * learn and free. Returns MD_ECORRUPT (malformed), MD_EUNSUPPORTED (another
 * format, a newer format_version or an unknown kind), MD_EINVAL (bad engine
 * option) or MD_ENOMEM, with a message naming the key at fault; *inst is
 * then NULL.
 */
int md_linear__load_buffer(const char *data, size_t len, const struct md_backend_config *cfg,
                           void **inst, struct md_err *err) MD_MUST_CHECK;

/*
 * md_backend_linear's train (backend.h), in linear_train.c: fits the kind
 * d->kind calls for (linear, logistic, multinomial) with the parameters of
 * docs/linear.md ("Training") and writes the artifact at out_path.
 */
int md_linear__train(const struct md_backend_config *params, const struct md_train_data *d,
                     const char *parent, const char *out_path, struct md_err *err) MD_MUST_CHECK;

/* Rows learned by inst since it was loaded (for tests and metrics). */
uint64_t md_linear__rows_learned(void *inst);

#endif
