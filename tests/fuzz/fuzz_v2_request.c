/* SPDX-License-Identifier: MIT */
/*
 * fuzz_v2_request.c: libFuzzer target for the Open Inference Protocol infer
 * request decoder, on arbitrary bytes with a 4 MiB arena. A decoded request
 * is checked for the invariants the serving layer relies on, and every
 * element is read so the sanitizers see any bad pointer.
 */
#include "api/v2_request.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tensor(const struct md_tensor *t)
{
    size_t count = 1;
    volatile double sink = 0;
    size_t i;
    int d;

    if (t->name == NULL || t->name[0] == '\0' || t->dtype <= MD_DT_INVALID ||
        t->dtype >= MD_DT_COUNT || t->dtype == MD_DT_FP16 || t->dtype == MD_DT_BF16 ||
        t->ndim < 0 || t->ndim > MD_TENSOR_MAX_DIMS || t->data == NULL)
        __builtin_trap();
    for (d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            __builtin_trap();
        count *= (size_t)t->shape[d];
    }
    if (count != t->count)
        __builtin_trap();
    for (i = 0; i < t->count; i++) {
        if (t->dtype == MD_DT_BYTES) {
            const struct md_bytes *b = (const struct md_bytes *)t->data + i;

            if (b->p == NULL && (t->missing == NULL || !t->missing[i] || b->len != 0))
                __builtin_trap();
            if (b->len > 0)
                sink += (unsigned char)b->p[0] + (unsigned char)b->p[b->len - 1];
        } else {
            double v = md_tensor_get_f64(t, i);

            if (isnan(v) && (t->missing == NULL || !t->missing[i]))
                __builtin_trap();
            sink += v;
        }
        if (t->missing != NULL && t->missing[i] > 1)
            __builtin_trap();
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_arena arena;
    static bool ready;
    struct md_infer_request req;
    struct md_err err;
    size_t i;
    size_t j;
    int rc;

    if (!ready) {
        md_arena_init(&arena, (size_t)4 << 20);
        ready = true;
    }
    md_arena_reset(&arena);
    md_err_clear(&err);
    rc = md_v2_decode_infer((const char *)data, size, &arena, &req, &err);
    if (rc != MD_OK) {
        if (err.code != rc || err.msg[0] == '\0' ||
            (rc != MD_EINVAL && rc != MD_ETOOBIG && rc != MD_EUNSUPPORTED))
            __builtin_trap();
        return 0;
    }
    if (req.n_inputs == 0 || req.timeout_us < 0 || (req.id != NULL && strlen(req.id) > size))
        __builtin_trap();
    for (i = 0; i < req.n_inputs; i++) {
        check_tensor(&req.inputs[i]);
        for (j = 0; j < i; j++)
            if (strcmp(req.inputs[i].name, req.inputs[j].name) == 0)
                __builtin_trap();
    }
    for (i = 0; i < req.n_outputs; i++) {
        if (req.outputs[i].name == NULL || req.outputs[i].name[0] == '\0' ||
            req.outputs[i].classification < 0)
            __builtin_trap();
        for (j = 0; j < i; j++)
            if (strcmp(req.outputs[i].name, req.outputs[j].name) == 0)
                __builtin_trap();
    }
    return 0;
}
