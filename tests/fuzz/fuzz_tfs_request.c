/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tfs_request.c: TF Serving :predict bodies, decoded for a contract with
 * every feature kind, then prepared as the engine would receive them. A body
 * that parses is decoded again with a tab after each '[' outside strings,
 * where the parser packs no array (the same document): the outcome, the
 * message and the tensors must be the same as with packed arrays. The
 * contract has keys: the fields the body keeps go through their checks,
 * and the values that pass must hold their rules.
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
    "  - {name: k, datatype: INT64, categories: [1, 2], encoding: ordinal, required: false}\n"
    "keys:\n"
    "  - {name: uid, max_length: 8, header: X-Uid}\n"
    "  - {name: txn, type: int64, required: true}\n";

/* X-Uid is present on one call in two. */
static const char *fuzz_header(void *conn, const char *name)
{
    (void)name;
    return (size_t)conn % 2 ? NULL : "h";
}

/* The fields' keys checked for rows rows; traps on a broken invariant. */
static void check_keys(const struct md_contract *c, const struct md_key_fields *f, size_t rows,
                       size_t size, struct md_arena *a)
{
    struct md_key_values *kv = NULL;
    struct md_err err;
    size_t i;
    size_t r;
    size_t len;
    int rc;

    md_err_clear(&err);
    rc = md_keys_check(c, f, fuzz_header, (void *)size, rows, a, &kv, &err);
    if (rc != MD_OK) {
        if ((rc != MD_EINVAL && rc != MD_ETOOBIG) || err.msg[0] == '\0' || kv != NULL)
            __builtin_trap();
        return;
    }
    for (i = 0; i < c->n_keys; i++) {
        if (kv[i].key != &c->keys[i] || kv[i].n == 0 ||
            (rows > 0 && kv[i].n > 1 && kv[i].n != rows))
            __builtin_trap();
        for (r = 0; r < kv[i].n; r++) {
            const char *v = md_key_values_get(&kv[i], r, &len);

            if (v == NULL) {
                if (c->keys[i].required)
                    __builtin_trap();
                continue;
            }
            if (len == 0 || len > c->keys[i].max_length || memchr(v, '\0', len) != NULL)
                __builtin_trap();
        }
    }
}

/* data with a tab after every '[' outside strings, into a new buffer (*len bytes). */
static char *unpacked(const uint8_t *data, size_t size, size_t *len)
{
    char *out = malloc(2 * size + 1);
    bool in_string = false;
    size_t i;
    size_t k = 0;

    if (out == NULL)
        abort();
    for (i = 0; i < size; i++) {
        out[k++] = (char)data[i];
        if (in_string && data[i] == '\\' && i + 1 < size)
            out[k++] = (char)data[++i];
        else if (data[i] == '"')
            in_string = !in_string;
        else if (!in_string && data[i] == '[')
            out[k++] = '\t';
    }
    *len = k;
    return out;
}

static void same_tensor(const struct md_tensor *x, const struct md_tensor *y)
{
    size_t i;

    if (strcmp(x->name, y->name) != 0 || x->dtype != y->dtype || x->ndim != y->ndim ||
        memcmp(x->shape, y->shape, sizeof(x->shape)) != 0 || x->count != y->count ||
        (x->missing == NULL) != (y->missing == NULL))
        __builtin_trap();
    if (x->missing != NULL && memcmp(x->missing, y->missing, x->count) != 0)
        __builtin_trap();
    if (x->dtype != MD_DT_BYTES) {
        if (memcmp(x->data, y->data, x->count * md_dtype_size(x->dtype)) != 0)
            __builtin_trap();
        return;
    }
    for (i = 0; i < x->count; i++) {
        const struct md_bytes *a = &((const struct md_bytes *)x->data)[i];
        const struct md_bytes *b = &((const struct md_bytes *)y->data)[i];

        if (a->len != b->len || (a->len > 0 && memcmp(a->p, b->p, a->len) != 0))
            __builtin_trap();
    }
}

/* The packed decoding (rc, err, ts, n, rows) against the unpacked one. */
static void cross_check(const struct md_contract *c, const uint8_t *data, size_t size, int rc,
                        const struct md_err *err, const struct md_tensor *ts, size_t n, bool rows)
{
    struct md_arena a;
    struct md_err uerr;
    struct md_tensor *uts;
    size_t un;
    bool urows;
    size_t len;
    char *body;
    int urc;
    size_t i;

    if (rc == MD_ETOOBIG || (rc != MD_OK && strncmp(err->msg, "invalid JSON", 12) == 0))
        return; /* not a document, or too large: nothing to compare */
    body = unpacked(data, size, &len);
    md_arena_init(&a, 64 << 20);
    md_err_clear(&uerr);
    urc = md_tfs_decode_predict(c, body, len, &a, &uts, &un, &urows, NULL, &uerr);
    if (urc != MD_ETOOBIG) {
        if (urc != rc || strcmp(uerr.msg, err->msg) != 0)
            __builtin_trap();
        if (rc == MD_OK) {
            if (un != n || urows != rows)
                __builtin_trap();
            for (i = 0; i < n; i++)
                same_tensor(&ts[i], &uts[i]);
        }
    }
    md_arena_release(&a);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_contract *c;
    struct md_arena a;
    struct md_err err;
    struct md_tensor *ts;
    struct md_key_fields f;
    size_t n;
    bool rows;
    float *x;
    size_t nrows;
    int rc;

    if (c == NULL && md_contract_parse(yaml, sizeof(yaml) - 1, "fuzz", &c, NULL) != MD_OK)
        abort();
    md_arena_init(&a, 64 << 20);
    md_err_clear(&err);
    rc = md_tfs_decode_predict(c, (const char *)data, size, &a, &ts, &n, &rows, &f, &err);
    cross_check(c, data, size, rc, &err, ts, n, rows);
    if (rc == MD_OK) {
        check_keys(c, &f, n > 0 && ts[0].ndim > 0 ? (size_t)ts[0].shape[0] : 0, size, &a);
        (void)md_contract_prepare(c, ts, n, &a, &x, &nrows, NULL);
    }
    md_arena_release(&a);
    return 0;
}
