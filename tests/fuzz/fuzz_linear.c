/* SPDX-License-Identifier: MIT */
/*
 * fuzz_linear.c: arbitrary bytes into the linear engine's artifact loader;
 * when they load, one row of predictions, its explanation (whose terms sum
 * to the score) and one learn step on it by SGD, then (logistic models) one
 * by FTRL-Proximal with bounds, so the numeric paths see whatever weights
 * and scales the input spelled.
 */
#include "backend/linear_int.h"
#include "util/common.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_backend_desc d;
    struct md_err err;
    void *inst = NULL;
    float *row;
    float *out;
    float *terms;
    float y = 1;
    struct md_learn_config lc = {2, 0.1, 0.1, 1, 0.01, 0.01, 5, 50};
    size_t j;

    if (md_linear__load_buffer((const char *)data, size, NULL, &inst, &err) != MD_OK) {
        if (inst != NULL || err.msg[0] == '\0')
            __builtin_trap(); /* a failed load leaves nothing and says why */
        return 0;
    }
    md_backend_linear.describe(inst, &d);
    row = calloc(d.n_features, sizeof(float));
    out = calloc(d.n_outputs, sizeof(float));
    terms = calloc(d.n_outputs * (d.n_features + 1), sizeof(float));
    if (row == NULL || out == NULL || terms == NULL)
        goto done;
    /* a mix of missing, zero, small and large cells */
    for (j = 0; j < d.n_features; j++)
        row[j] = j % 4 == 0 ? NAN : j % 4 == 1 ? 0.0f : j % 4 == 2 ? 1.5f : -1e6f;
    if (md_backend_linear.predict(inst, row, 1, out, &err) == MD_OK && d.n_outputs == 1 &&
        d.kind == MD_BACKEND_OUT_PROBABILITY && !(out[0] >= 0 && out[0] <= 1))
        __builtin_trap();
    if (d.kind == MD_BACKEND_OUT_VALUE)
        y = 3;
    else if (d.kind == MD_BACKEND_OUT_PROBABILITIES)
        y = (float)(d.n_outputs - 1);
    (void)md_backend_linear.explain(inst, row, 1, terms, &err);
    (void)md_backend_linear.learn(inst, row, &y, 1, &err);
    (void)md_backend_linear.predict(inst, row, 1, out, &err);
    if (md_backend_linear.learn_config(inst, &lc, &err) == MD_OK) {
        if (d.kind != MD_BACKEND_OUT_PROBABILITY)
            __builtin_trap(); /* FTRL is for logistic models only */
        (void)md_backend_linear.learn(inst, row, &y, 1, &err);
        (void)md_backend_linear.predict(inst, row, 1, out, &err);
    }
done:
    free(terms);
    free(row);
    free(out);
    md_backend_linear.free(inst);
    return 0;
}
