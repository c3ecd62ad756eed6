/* SPDX-License-Identifier: MIT */
/*
 * fuzz_v2_binary.c: libFuzzer target for the binary tensor data extension of
 * the Open Inference Protocol decoder. The first 4 bytes of the input (little
 * endian) choose the Inference-Header-Content-Length value, taken modulo the
 * body length + 1, and the body's alignment; the rest is the body. A value
 * of 0 decodes the body as a raw binary request, with a datatype and row
 * width also drawn from those 4 bytes. The body sits at the very end of its
 * allocation, so any read past it is caught; every element of a decoded
 * tensor is read.
 */
#include "api/v2_request.h"
#include "fuzz_v2_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_arena *arena;
    struct md_infer_request req;
    struct md_err err;
    uint32_t sel;
    size_t len;
    size_t json_len;
    size_t shift;
    size_t got;
    char text[16];
    char *buf;
    const char *body;
    size_t i;
    int rc;

    if (size < 4)
        return 0;
    sel = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
          (uint32_t)data[3] << 24;
    len = size - 4;
    json_len = sel % (len + 1);
    shift = (sel >> 28) & 7;
    buf = malloc(shift + len + 1);
    if (buf == NULL)
        return 0;
    body = buf + shift;
    memcpy(buf + shift, data + 4, len);
    /* The header value as text goes through the header parser first. */
    snprintf(text, sizeof(text), "%zu", json_len);
    if (md_v2_header_length(text, len, &got, &err) != MD_OK || got != json_len)
        __builtin_trap();
    arena = fuzz_arena();
    md_err_clear(&err);
    if (json_len == 0) {
        enum md_dtype dt = (enum md_dtype)(1 + (sel >> 8) % (MD_DT_COUNT - 1));
        size_t width = dt == MD_DT_BYTES ? 1 : 1 + (sel >> 16) % 31;

        rc = md_v2_decode_raw(body, len, "features", dt, width, arena, &req, &err);
        if (rc == MD_OK && (!req.binary_output || req.n_inputs != 1))
            __builtin_trap();
    } else {
        rc = md_v2_decode_infer_binary(body, len, json_len, "m", arena, &req, &err);
    }
    if (rc != MD_OK) {
        if (err.code != rc || err.msg[0] == '\0' || (rc != MD_EINVAL && rc != MD_ETOOBIG))
            __builtin_trap();
        free(buf);
        return 0;
    }
    check_request(&req, true, true);
    for (i = 0; i < req.n_outputs; i++)
        if (req.outputs[i].binary && !req.outputs[i].binary_given)
            __builtin_trap();
    free(buf);
    return 0;
}
