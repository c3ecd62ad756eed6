/* SPDX-License-Identifier: MIT */
/*
 * contract_rows.h: a training set's rows (JSON lines, the form of
 * learn/dataset.h: {"features": {...}, "label": "fraud" or "value": 3.2,
 * "weight": 1, ...}) turned into the matrix an engine learns from or
 * predicts on, through a model's contract with the same checks as a
 * request's (md_contract_prepare): a row a request could not send is
 * refused, naming the file's line.
 */
#ifndef MD_SERVE_CONTRACT_ROWS_H
#define MD_SERVE_CONTRACT_ROWS_H

#include "util/common.h"
#include "util/err.h"
#include "serve/contract.h"

/* Rows as an engine takes them; every array malloc'd. */
struct md_contract_rows {
    float *x;      /* n_rows * width, row-major: the prepared columns */
    float *y;      /* n_rows: the class index among the contract's labels, or the value */
    float *w;      /* n_rows: weights > 0 (1 when a row gives none) */
    size_t n_rows; /* rows read */
    size_t width;  /* c->width */
};

/*
 * Reads the JSON-lines file at path (at most max_rows rows; more is
 * MD_EINVAL) through contract c into *out (zeroed first). MD_EINVAL naming
 * the line and the reason ("train.jsonl line 12: feature 'amount': ..."),
 * MD_EIO when the file cannot be read, MD_ENOMEM. On failure *out holds
 * nothing.
 */
int md_contract_rows_read(const struct md_contract *c, const char *path, size_t max_rows,
                          struct md_contract_rows *out, struct md_err *err) MD_MUST_CHECK;

/* Frees what rows holds; rows is zeroed. */
void md_contract_rows_release(struct md_contract_rows *rows);

#endif
