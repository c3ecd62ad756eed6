/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xgbjson.c: libFuzzer target for the `trees` engine's XGBoost model
 * loader (JSON text or UBJSON) and its check of a file for libxgboost
 * (md_trees_check). Any bytes either load or fail with a code and a message;
 * a model that loads is described and predicts a row of NaNs, a row of
 * zeros, and a 17-row batch (one lock-step block of rows plus a tail) of
 * both. What the trees engine loads, the check passes too.
 */
#include "backend/trees.h"
#include "backend/trees_int.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rows of width nf beyond this are not predicted (memory, not correctness). */
#define MAX_PREDICT_FEATURES (1u << 16)

static void predict_all(void *inst)
{
    struct md_backend_desc d;
    struct md_err err;
    float *x;
    float *out;
    size_t i;

    md_backend_trees.describe(inst, &d);
    if (d.n_features == 0 || d.n_outputs == 0 || d.objective == NULL)
        __builtin_trap();
    if (d.n_features > MAX_PREDICT_FEATURES)
        return;
    x = malloc(17 * d.n_features * sizeof(*x));
    out = malloc(17 * d.n_outputs * sizeof(*out));
    if (x == NULL || out == NULL)
        __builtin_trap();
    for (i = 0; i < 17 * d.n_features; i++)
        x[i] = (i / d.n_features) % 2 == 0 ? NAN : 0.0f;
    if (md_backend_trees.predict(inst, x, 1, out, &err) != MD_OK ||
        md_backend_trees.predict(inst, x + d.n_features, 1, out, &err) != MD_OK ||
        md_backend_trees.predict(inst, x, 17, out, &err) != MD_OK)
        __builtin_trap();
    /* A probability is in [0, 1] unless a leaf is NaN. */
    if (d.kind != MD_BACKEND_OUT_VALUE)
        for (i = 0; i < 17 * d.n_outputs; i++)
            if (out[i] < 0.0f || out[i] > 1.0f)
                __builtin_trap();
    free(x);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_err err = {MD_OK, ""};
    struct md_err cerr = {MD_OK, ""};
    void *inst = NULL;
    size_t start = size + 1;
    int rc = md_trees__load_buffer((const char *)data, size, &inst, &err);
    int crc = md_trees_check((const char *)data, size, &start, &cerr);

    if (crc == MD_OK ? start > size : cerr.code != crc || cerr.msg[0] == '\0')
        __builtin_trap();
    /* The check is looser than the trees engine except where libxgboost needs more (parents). */
    if (rc == MD_OK && crc != MD_OK && strstr(cerr.msg, "parents") == NULL &&
        strstr(cerr.msg, "categories") == NULL && strstr(cerr.msg, "UBJSON false") == NULL &&
        strstr(cerr.msg, "num_class") == NULL && strstr(cerr.msg, "no memory") == NULL)
        __builtin_trap();
    if (rc == MD_OK) {
        if (inst == NULL)
            __builtin_trap();
        predict_all(inst);
        md_backend_trees.free(inst);
    } else if (inst != NULL || err.code != rc || err.msg[0] == '\0') {
        __builtin_trap();
    }
    return 0;
}
