/* SPDX-License-Identifier: MIT */
/*
 * xgboost_int.h: what the xgboost engine's files share (xgboost.c runs
 * models, xgboost_train.c trains them) and what the trees engine takes from
 * them: trees models retrain through libxgboost.
 */
#ifndef MD_BACKEND_XGBOOST_INT_H
#define MD_BACKEND_XGBOOST_INT_H

#include "backend/backend.h"

/*
 * Sets err to code with "what: libxgboost: " and the first line of
 * XGBGetLastError() (without its time and source prefix, printable ASCII
 * only); returns code.
 */
int md_xgboost__error(struct md_err *err, int code, const char *what);

/*
 * md_backend_xgboost's train (backend.h): a gradient-boosted model trained
 * by libxgboost from d, written as XGBoost JSON at out_path, which the
 * xgboost engine loads. The parameters, their defaults and what is taken
 * from the parent are in docs/engines.md ("Training").
 */
int md_xgboost__train(const struct md_backend_config *params, const struct md_train_data *d,
                      const char *parent, const char *out_path, struct md_err *err) MD_MUST_CHECK;

/*
 * md_backend_trees' train: the same, limited to what the trees engine
 * serves (booster gbtree; objective binary:logistic, multi:softprob or
 * reg:squarederror), and the result is loaded by the trees engine before
 * it is written.
 */
int md_xgboost__train_trees(const struct md_backend_config *params, const struct md_train_data *d,
                            const char *parent, const char *out_path,
                            struct md_err *err) MD_MUST_CHECK;

#endif
