/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tfs_request.c: TF Serving :predict bodies, decoded for a contract with
 * every feature kind, then prepared as the engine would receive them.
 */
#include "api/tfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char yaml[] =
    "backend: trees\n"
    "task: classification\n"
    "labels: [a, b]\n"
    "features:\n"
    "  - {name: x, datatype: FP32, min: -10, max: 10}\n"
    "  - {name: n, datatype: INT32, required: false, missing: default, default: 3}\n"
    "  - {name: b, datatype: BOOL, required: false}\n"
    "  - {name: c, datatype: BYTES, categories: [u, v, w], required: false}\n"
    "  - {name: d, datatype: FP64, required: false, allow_nan: true}\n"
    "  - {name: k, datatype: INT64, categories: [1, 2], encoding: ordinal, required: false}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_contract *c;
    struct md_arena a;
    struct md_tensor *ts;
    size_t n;
    bool rows;
    float *x;
    size_t nrows;

    if (c == NULL && md_contract_parse(yaml, sizeof(yaml) - 1, "fuzz", &c, NULL) != MD_OK)
        abort();
    md_arena_init(&a, 64 << 20);
    if (md_tfs_decode_predict(c, (const char *)data, size, &a, &ts, &n, &rows, NULL) == MD_OK)
        (void)md_contract_prepare(c, ts, n, &a, &x, &nrows, NULL);
    md_arena_release(&a);
    return 0;
}
