/* SPDX-License-Identifier: MIT */
/*
 * infer.h: one prediction from validated inputs to engine scores, with the
 * version's statistics kept, and the per-row views the protocol encoders
 * need (probabilities, label, value).
 */
#ifndef MD_SERVE_INFER_H
#define MD_SERVE_INFER_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "serve/model.h"

struct md_prediction {
    size_t rows;           /* examples predicted */
    const float *scores;   /* rows * per_row engine outputs, arena memory */
    size_t per_row;        /* the engine's n_outputs */
    uint64_t engine_ns;    /* time inside the engine */
};

/*
 * Validates inputs against v's contract, prepares the matrix and runs the
 * engine. MD_EINVAL (bad input, counted as rejected) or MD_EINTERNAL (engine
 * failure, counted as a backend failure), each with a message.
 */
int md_infer_run(struct md_version *v, const struct md_tensor *inputs, size_t n_inputs,
                 struct md_arena *a, struct md_prediction *out, struct md_err *err) MD_MUST_CHECK;

/* Records a finished request in v's statistics: rc MD_OK is a success,
 * MD_EINTERNAL a backend failure, anything else a rejected request. */
void md_infer_account(struct md_version *v, const struct md_prediction *p, int rc,
                      uint64_t request_ns);

/* The predicted class index of a row (classification). */
size_t md_infer_label(const struct md_version *v, const struct md_prediction *p, size_t row);

/* Columns of an output of this kind for this version: C for multi-class
 * probabilities, else 1. */
size_t md_infer_output_width(const struct md_version *v, enum md_output_kind kind);

/* The contract output called name, or NULL. */
const struct md_output *md_infer_find_output(const struct md_version *v, const char *name);

#endif
