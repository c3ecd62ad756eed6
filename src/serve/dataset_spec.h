/* SPDX-License-Identifier: MIT */
/*
 * dataset_spec.h: the training set a model's contract asks for
 * (learn/dataset.h's spec): its features, labels and task from model.yaml,
 * and from its `training:` section the window, the bound on rows, the
 * held-out share and the weights, with the defaults of docs/improve.md
 * when the section is absent. learn/ does not read contracts; this file
 * is where one becomes a spec.
 */
#ifndef MD_SERVE_DATASET_SPEC_H
#define MD_SERVE_DATASET_SPEC_H

#include "learn/dataset.h"
#include "serve/contract.h"

/* training.min_rows, holdout, expert_weight and base_weight when `training:` is absent. */
#define MD_TRAINING_MIN_ROWS      100
#define MD_TRAINING_HOLDOUT       0.2
#define MD_TRAINING_EXPERT_WEIGHT 1.0
#define MD_TRAINING_BASE_WEIGHT   1.0

/*
 * Fills spec for contract c: model, task, labels and features (pointers
 * into c, which must outlive spec), and its training section's window
 * (since_ms = now_ms - window_s, until_ms 0), max_rows, holdout and
 * weights. base_path is left NULL: the caller finds the file of
 * training.base_dataset. The arrays it allocates (md_xcalloc) are freed by
 * md_dataset_spec_release.
 */
void md_dataset_spec_from_contract(const struct md_contract *c, int64_t now_ms,
                                   struct md_dataset_spec *spec);
void md_dataset_spec_release(struct md_dataset_spec *spec);

/* training.min_rows of c (its default when the section is absent). */
uint64_t md_dataset_min_rows(const struct md_contract *c);

#endif
