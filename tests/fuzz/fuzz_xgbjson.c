/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xgbjson.c: the trees engine's XGBoost JSON loader on arbitrary bytes;
 * whatever loads is asked to predict rows of NaNs, zeros and large values.
 */
#include "backend/registry.h"
#include "backend/trees_int.h"
#include "util/mem.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct md_backend_ops *ops = md_backend_find("trees");
    struct md_backend_desc d;
    struct md_err err;
    void *inst = NULL;
    float *x;
    float *out;
    size_t i;

    if (md_trees__load_buffer((const char *)data, size, &inst, &err) != MD_OK)
        return 0;
    ops->describe(inst, &d);
    x = md_xmalloc(3 * d.n_features * sizeof(float));
    out = md_xmalloc(3 * d.n_outputs * sizeof(float));
    for (i = 0; i < d.n_features; i++) {
        x[i] = NAN;
        x[d.n_features + i] = 0.0f;
        x[2 * d.n_features + i] = 1e30f;
    }
    (void)ops->predict(inst, x, 3, out, &err);
    (void)ops->predict(inst, x, 1, out, &err);
    ops->free(inst);
    free(x);
    free(out);
    return 0;
}
