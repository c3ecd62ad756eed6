/* SPDX-License-Identifier: MIT */
/*
 * fuzz_v2_check.h: the invariants a decoded Open Inference Protocol request
 * and its tensors must hold, shared by the JSON and binary request fuzz targets
 * (fuzz_v2_request.c, fuzz_v2_binary.c). Every element is read so the
 * sanitizers see any bad pointer; a broken invariant traps.
 */
#ifndef MD_TESTS_FUZZ_V2_CHECK_H
#define MD_TESTS_FUZZ_V2_CHECK_H

#include <math.h>

#include "api/v2_request.h"

/* The target's 4 MiB arena, made on the first call and emptied on each. */
static struct md_arena *fuzz_arena(void)
{
    static struct md_arena arena;
    static bool ready;

    if (!ready) {
        md_arena_init(&arena, (size_t)4 << 20);
        ready = true;
    }
    md_arena_reset(&arena);
    return &arena;
}

/*
 * Traps unless t is well formed: named, a known dtype, shape matching count,
 * data aligned for its dtype, BOOL values 0 or 1, BYTES elements readable,
 * missing flags 0 or 1. With raw false the data came from JSON only, which
 * narrows it further: no FP16/BF16 tensor, and NaN only where missing is set
 * unless nan_ok (the body holds a NaN token). With raw true the data may be
 * raw bytes, where FP16/BF16 and NaN may appear.
 */
static void check_tensor(const struct md_tensor *t, bool raw, bool nan_ok)
{
    size_t count = 1;
    volatile double sink = 0;
    size_t i;
    int d;

    if (t->name == NULL || t->name[0] == '\0' || t->dtype <= MD_DT_INVALID ||
        t->dtype >= MD_DT_COUNT || t->ndim < 0 || t->ndim > MD_TENSOR_MAX_DIMS || t->data == NULL)
        __builtin_trap();
    if (!raw && (t->dtype == MD_DT_FP16 || t->dtype == MD_DT_BF16))
        __builtin_trap();
    for (d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            __builtin_trap();
        count *= (size_t)t->shape[d];
    }
    if (count != t->count)
        __builtin_trap();
    if (t->dtype != MD_DT_BYTES && md_dtype_size(t->dtype) > 1 &&
        (uintptr_t)t->data % md_dtype_size(t->dtype) != 0)
        __builtin_trap(); /* misaligned data would be undefined behaviour downstream */
    for (i = 0; i < t->count; i++) {
        if (t->dtype == MD_DT_BYTES) {
            const struct md_bytes *b = (const struct md_bytes *)t->data + i;

            if (b->p == NULL && (t->missing == NULL || !t->missing[i] || b->len != 0))
                __builtin_trap();
            if (b->len > 0)
                sink += (unsigned char)b->p[0] + (unsigned char)b->p[b->len - 1];
        } else if (t->dtype == MD_DT_FP16 || t->dtype == MD_DT_BF16) {
            sink += ((const uint16_t *)t->data)[i];
        } else {
            double v = md_tensor_get_f64(t, i);

            if (t->dtype == MD_DT_BOOL && v != 0 && v != 1)
                __builtin_trap();
            if (!raw && !nan_ok && isnan(v) && (t->missing == NULL || !t->missing[i]))
                __builtin_trap();
            sink += v;
        }
        if (t->missing != NULL && t->missing[i] > 1)
            __builtin_trap();
    }
    (void)sink;
}

/*
 * Traps unless req is well formed: at least one input, a timeout not below
 * 0, every input as check_tensor(raw, nan_ok) wants it, input names and
 * output names non-empty and distinct.
 */
static void check_request(const struct md_infer_request *req, bool raw, bool nan_ok)
{
    size_t i;
    size_t j;

    if (req->n_inputs == 0 || req->timeout_us < 0)
        __builtin_trap();
    for (i = 0; i < req->n_inputs; i++) {
        check_tensor(&req->inputs[i], raw, nan_ok);
        for (j = 0; j < i; j++)
            if (strcmp(req->inputs[i].name, req->inputs[j].name) == 0)
                __builtin_trap();
    }
    for (i = 0; i < req->n_outputs; i++) {
        if (req->outputs[i].name == NULL || req->outputs[i].name[0] == '\0')
            __builtin_trap();
        for (j = 0; j < i; j++)
            if (strcmp(req->outputs[i].name, req->outputs[j].name) == 0)
                __builtin_trap();
    }
}

#endif
