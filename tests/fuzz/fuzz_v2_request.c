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
    struct md_arena *arena;
    struct md_infer_request req;
    struct md_err err;
    size_t i;
    int rc;

    arena = fuzz_arena();
    md_err_clear(&err);
    rc = md_v2_decode_infer((const char *)data, size, arena, &req, &err);
    if (rc != MD_OK) {
        if (err.code != rc || err.msg[0] == '\0' ||
            (rc != MD_EINVAL && rc != MD_ETOOBIG && rc != MD_EUNSUPPORTED))
            __builtin_trap();
        return 0;
    }
    if (req.id != NULL && strlen(req.id) > size)
        __builtin_trap();
    /* A NaN that is not a null comes from a NaN token in the body. */
    check_request(&req, false, memmem(data, size, "NaN", 3) != NULL);
    for (i = 0; i < req.n_outputs; i++)
        if (req.outputs[i].classification < 0)
            __builtin_trap();
    return 0;
}
