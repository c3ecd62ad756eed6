/* SPDX-License-Identifier: MIT */
/*
 * fuzz_linear.c: the linear artifact loader on arbitrary bytes; whatever loads
 * predicts rows of NaNs and of large values, and takes one learning step.
 */
#include "backend/linear_int.h"
#include "backend/registry.h"
#include "util/mem.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct md_backend_ops *ops = md_backend_find("linear");
    struct md_backend_desc d;
    struct md_err err;
    void *inst = NULL;
    float *x;
    float *out;
    float y[2] = {1.0f, 0.0f};
    size_t i;

    if (md_linear__load_buffer((const char *)data, size, NULL, &inst, &err) != MD_OK)
        return 0;
    ops->describe(inst, &d);
    x = md_xmalloc(2 * d.n_features * sizeof(float));
    out = md_xmalloc(2 * d.n_outputs * sizeof(float));
    for (i = 0; i < d.n_features; i++) {
        x[i] = NAN;
        x[d.n_features + i] = 1e30f;
    }
    (void)ops->predict(inst, x, 2, out, &err);
    (void)ops->learn(inst, x, y, 2, &err);
    ops->free(inst);
    free(x);
    free(out);
    return 0;
}
