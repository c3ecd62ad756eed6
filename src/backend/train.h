/* SPDX-License-Identifier: MIT */
/*
 * train.h: what the engines' train operations share (train.c): the checks of
 * a training set every engine makes before it learns anything, the reading
 * of numeric parameters, and the writing of the trained artifact.
 */
#ifndef MD_BACKEND_TRAIN_H
#define MD_BACKEND_TRAIN_H

#include "backend/backend.h"

/*
 * Checks d as every engine's train needs it: at least 2 rows and 1 feature,
 * no infinite feature value (NaN is a missing value), finite labels, for a
 * classifier (kind PROBABILITY with n_classes 2, or PROBABILITIES with
 * n_classes >= 2) whole class indices below n_classes and at least two
 * classes present, weights finite and > 0. MD_EINVAL naming what is wrong
 * (e.g. "labels: every row is class 1; training needs at least two classes").
 */
int md_train_check_data(const struct md_train_data *d, struct md_err *err) MD_MUST_CHECK;

/* The value of parameter key in params, or NULL. */
const char *md_train_param(const struct md_backend_config *params, const char *key);

/*
 * The number params gives key as, into *out (left alone when absent):
 * MD_EINVAL naming key when it is not a finite number within [lo, hi].
 */
int md_train_param_double(const struct md_backend_config *params, const char *key, double lo,
                          double hi, double *out, struct md_err *err) MD_MUST_CHECK;

/* The same for a whole number within [lo, hi]. */
int md_train_param_long(const struct md_backend_config *params, const char *key, long lo, long hi,
                        long *out, struct md_err *err) MD_MUST_CHECK;

/*
 * MD_EINVAL naming the first parameter of params that is not among known
 * (a NULL-terminated list), with engine in the message; MD_OK otherwise.
 */
int md_train_params_known(const struct md_backend_config *params, const char *engine,
                          const char *const *known, struct md_err *err) MD_MUST_CHECK;

/*
 * Writes len bytes at data to path (created or replaced, mode 0644), then
 * fsyncs it. MD_EIO naming the path.
 */
int md_train_write(const char *path, const char *data, size_t len,
                   struct md_err *err) MD_MUST_CHECK;

#endif
