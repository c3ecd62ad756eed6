/* SPDX-License-Identifier: MIT */
/*
 * fuzz_v2_request.c: libFuzzer target for the Open Inference Protocol infer
 * request decoder, on arbitrary bytes with a 4 MiB arena. A decoded request
 * is checked for the invariants the serving layer relies on, and every
 * element is read so the sanitizers see any bad pointer.
 */
#include "api/v2_request.h"
#include "fuzz_v2_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        check_tensor(&req.inputs[i], false);
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
