/* SPDX-License-Identifier: MIT */
/*
 * trees.h: what other engines use of the native tree engine (trees.c) beside
 * md_backend_trees: its reading of XGBoost model files, as a check of a
 * file that libxgboost is to load (backend `xgboost`).
 */
#ifndef MD_BACKEND_TREES_H
#define MD_BACKEND_TREES_H

#include "backend/backend.h"

/*
 * Checks the XGBoost model in buf[0..len), JSON text or UBJSON (told apart
 * as libxgboost tells them: by the byte after the opening brace), with the
 * trees engine's own loader: every check that engine makes of a file, except
 * that any objective, dart and gblinear boosters, categorical splits and
 * num_target up to 65,536 pass (libxgboost runs them); and, beyond them, what
 * libxgboost 1.7 reads without checking: every parent a node, parents that
 * match the children the root reaches, categorical splits within their
 * arrays (categories below 2^24), a dart weight per tree, gblinear's
 * num_feature + 1 weights per output group, no UBJSON false in default_left
 * (libxgboost reads it as true), no key twice in an object, and the
 * objective's num_class equal to the model's.
 *
 * On MD_OK, *start is where the document starts after leading white space:
 * libxgboost must be given buf + *start. Otherwise MD_ECORRUPT or
 * MD_EUNSUPPORTED with the reason naming the field, or MD_ENOMEM. Safe on any
 * bytes; builds nothing that lasts.
 */
int md_trees_check(const char *buf, size_t len, size_t *start, struct md_err *err) MD_MUST_CHECK;

/* How to write an XGBoost model that the trees and xgboost engines read (for messages). */
#define MD_XGBOOST_EXPORT                                                                          \
    "save the booster with booster.save_model('model.json') (or 'model.ubj') instead"

#endif
