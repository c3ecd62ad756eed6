/* SPDX-License-Identifier: MIT */
/*
 * dataset.h: training sets, built from the store: the prediction rows of a
 * model that have a feedback label (or value), over a window of prediction
 * time, optionally joined with a base dataset registered for the model
 * (the original training CSV), each row weighted by where its label came
 * from. The newest labelled rows are held out for evaluation; the rest is
 * what a training learns from.
 *
 * A set is written as JSON lines, one row per line, the form every trainer
 * reads (the training child, external trainers, `modelctl dataset export`):
 *
 *   {"features": {"amount": 12.5, "merchant_category": "online", ...},
 *    "label": "fraud",              (classification; "value": 3.2 for regression)
 *    "weight": 1, "source": "feedback" | "expert" | "base",
 *    "at_ms": 1765000000000, "request_id": "...", "row": 0}
 *
 * (base rows have at_ms 0 and no request_id). Features are as the
 * prediction log keeps them: as the caller sent them, a missing optional
 * feature absent. CSV export has a header row: the features in the
 * model's order, then label (or value), weight, source, at_ms.
 *
 * This layer does not read model.yaml: what it needs of the contract
 * (feature names and which are text, the labels) comes in the spec.
 *
 * Threads: the functions that read the store wait on it (md_store_call):
 * never on an HTTP thread nor the store's own.
 */
#ifndef MD_LEARN_DATASET_H
#define MD_LEARN_DATASET_H

#include "util/common.h"
#include "util/err.h"
#include "store/store.h"

#define MD_DATASET_LABELS 64 /* label counts a summary keeps (the rest summed as "other") */

/* What a training set is made of. */
struct md_dataset_spec {
    const char *model;
    bool regression;           /* the target is feedback's value, else its label */
    const char *const *labels; /* classification: the model's n_labels classes */
    size_t n_labels;
    const char *const *features; /* the model's n_features feature names, in order */
    const bool *text;            /* n_features: the feature's values are text (BYTES) */
    const bool *optional;        /* n_features: the feature may be absent (a base dataset's
                                    header may lack it, a cell may be empty); NULL: none is */
    size_t n_features;
    int64_t since_ms;      /* prediction time >= since_ms (0: no bound) */
    int64_t until_ms;      /* prediction time < until_ms (0: now) */
    uint64_t max_rows;     /* the newest max_rows labelled rows at most (0: no bound) */
    double holdout;        /* share of the newest labelled rows held out, [0, 1) */
    double expert_weight;  /* weight of a row labelled by an expert (source "expert") */
    const char *base_path; /* a base dataset's CSV file (stored), or NULL */
    double base_weight;    /* weight of its rows */
};

/* What a set holds, shown before any training and stored with it. */
struct md_dataset_summary {
    uint64_t rows; /* train_rows + holdout_rows */
    uint64_t train_rows;
    uint64_t holdout_rows;
    uint64_t feedback_rows;    /* labelled by callers (source user or system) */
    uint64_t expert_rows;      /* labelled by experts (reviews) */
    uint64_t base_rows;        /* from the base dataset */
    uint64_t skipped;          /* labelled rows left out: features no longer kept (expired,
                                  sampled out), or a label that is not one of the classes */
    int64_t first_ms, last_ms; /* prediction time of the oldest and newest store row (0: none) */
    int64_t holdout_from_ms;   /* prediction time of the oldest held-out row (0: none) */
    size_t n_labels;           /* classification: label counts of the whole set */
    char label[MD_DATASET_LABELS][MD_STORE_NAME_MAX];
    uint64_t label_rows[MD_DATASET_LABELS];
    double mean, stddev; /* regression: of the target */
};

/*
 * Builds the set spec names and writes it: the training rows to
 * train_path, the held-out rows to holdout_path (either may be NULL: not
 * written; holdout_path NULL puts every row in train_path), as JSON lines.
 * *sum says what it holds. With both paths NULL nothing is written and *sum
 * says what the set would hold, held-out rows apart (a summary before any
 * training). MD_EINVAL, with the reason, when the set cannot
 * be trained on: fewer than min_rows training rows ("training set: 42
 * labelled rows with features, fewer than the 100 min_rows asks for"), or
 * one class only ("training set: every row is labelled 'legit': a
 * classifier needs two classes"); the files are then removed. MD_EIO naming
 * a file that cannot be written.
 */
int md_dataset_build(struct md_store *s, const struct md_dataset_spec *spec, uint64_t min_rows,
                     const char *train_path, const char *holdout_path,
                     struct md_dataset_summary *sum, struct md_err *err) MD_MUST_CHECK;

/* The summary as a JSON object's text, malloc'd. */
char *md_dataset_summary_json(const struct md_dataset_summary *sum);

enum md_dataset_format { MD_DATASET_JSONL = 1, MD_DATASET_CSV };

/*
 * Writes the whole set spec names (held-out rows included, oldest first) to
 * fd in format, for export. Nothing is refused for its size or classes.
 */
int md_dataset_export(struct md_store *s, const struct md_dataset_spec *spec,
                      enum md_dataset_format format, int fd, struct md_dataset_summary *sum,
                      struct md_err *err) MD_MUST_CHECK;

/*
 * Checks a base dataset's CSV text against spec (a header naming every
 * required feature and the target column `label` or `value`, no unknown
 * column, each cell of its feature's kind, labels among the classes) and
 * counts its rows. MD_EINVAL naming the line and column at fault
 * ("line 7, column 'amount': 'abc' is not a number").
 */
int md_dataset_check_csv(const struct md_dataset_spec *spec, const char *text, size_t len,
                         uint64_t *rows, struct md_err *err) MD_MUST_CHECK;

/* The header row of a CSV text as a JSON array of its column names
 * (malloc'd), or NULL with err set (MD_EINVAL: no header, a malformed one). */
char *md_dataset_csv_columns(const char *text, size_t len, struct md_err *err);

#endif
