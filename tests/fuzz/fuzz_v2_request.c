/* SPDX-License-Identifier: MIT */
/*
 * fuzz_v2_request.c: libFuzzer target for the Open Inference Protocol infer
 * request decoder, on arbitrary bytes with a 4 MiB arena. A decoded request
 * is checked for the invariants the serving layer relies on, and every
 * element is read so the sanitizers see any bad pointer; its parameters go
 * through the checks of a contract's keys, whose values must hold theirs.
 */
#include "api/v2_request.h"
#include "serve/keys.h"
#include "fuzz_v2_check.h"

/* Keys of every kind: a required string with a header, an int64, a short optional string. */
static const char keys_yaml[] = "backend: trees\n"
                                "task: regression\n"
                                "features: [{name: x, datatype: FP32}]\n"
                                "keys:\n"
                                "  - {name: user_id, required: true, header: X-User-Id}\n"
                                "  - {name: txn, type: int64}\n"
                                "  - {name: s, max_length: 4}\n";

/* X-User-Id is present on one call in two, empty on one in four. */
static const char *fuzz_header(void *conn, const char *name)
{
    size_t n = (size_t)conn;

    (void)name;
    return n % 2 ? NULL : n % 4 ? "u-h" : "";
}

/* Checks the request's keys against keys_yaml; traps on a broken invariant. */
static void check_keys(const struct md_infer_request *req, size_t size, struct md_arena *a)
{
    static struct md_contract *c;
    struct md_key_fields f = {req->params, NULL, NULL};
    struct md_key_values *kv = NULL;
    struct md_err err;
    size_t i;
    size_t len;
    int rc;

    if (c == NULL && md_contract_parse(keys_yaml, sizeof(keys_yaml) - 1, "k", &c, NULL) != MD_OK)
        abort();
    md_err_clear(&err);
    rc = md_keys_check(c, &f, fuzz_header, (void *)size, 1, a, &kv, &err);
    if (rc != MD_OK) {
        if ((rc != MD_EINVAL && rc != MD_ETOOBIG) || err.msg[0] == '\0' || kv != NULL)
            __builtin_trap();
        return;
    }
    for (i = 0; i < c->n_keys; i++) {
        const char *v = md_key_values_get(&kv[i], 0, &len);

        if (kv[i].key != &c->keys[i] || kv[i].n != 1)
            __builtin_trap();
        if (v == NULL) {
            if (c->keys[i].required)
                __builtin_trap();
            continue;
        }
        if (len == 0 || len > c->keys[i].max_length || memchr(v, '\0', len) != NULL)
            __builtin_trap();
    }
}

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
    if (req.params != NULL && req.params->type != MD_J_OBJECT)
        __builtin_trap();
    check_keys(&req, size, arena);
    return 0;
}
