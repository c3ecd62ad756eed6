/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ubjson.c: libFuzzer target for the UBJSON reader (util/ubjson). Any
 * bytes parse or fail with a code and a message; a tree that parses holds
 * only what the reader promises (counts that match the children, packed
 * arrays with their values, strings inside the input, numbers whose text
 * converts), checked by a walk that touches every node.
 */
#include "util/ubjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lo;
static const char *hi;

static void walk(const struct md_jnode *n, int depth)
{
    const struct md_jnode *c;
    size_t count = 0;
    double d;
    int64_t i;

    if (depth > MD_JDOM_MAX_DEPTH + 1)
        __builtin_trap();
    switch (n->type) {
    case MD_J_NUMBER:
        /* Text the reader wrote: a float's converts as a double, an integer's as an int64. */
        if (md_jdom_f64(n, &d) != MD_OK && md_jdom_i64(n, &i) != MD_OK)
            __builtin_trap();
        break;
    case MD_J_STRING:
        if (n->len > 0 && (n->p < lo || n->p + n->len > hi))
            __builtin_trap();
        break;
    case MD_J_ARRAY:
    case MD_J_OBJECT:
        if (md_jdom_is_packed(n)) {
            if (n->child != NULL || n->n == 0 || n->p != NULL)
                __builtin_trap();
            for (count = 0; count < n->n; count++)
                d = n->values[count]; /* every value readable */
            (void)d;
            break;
        }
        for (c = n->child; c != NULL; c = c->next, count++) {
            if ((n->type == MD_J_OBJECT) != (c->key != NULL))
                __builtin_trap();
            if (c->key != NULL && c->key_len > 0 && (c->key < lo || c->key + c->key_len > hi))
                __builtin_trap();
            walk(c, depth + 1);
        }
        if (count != n->n)
            __builtin_trap();
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_err err = {MD_OK, ""};
    struct md_arena arena;
    struct md_jnode *root = (struct md_jnode *)1;
    int rc;

    lo = (const char *)data;
    hi = lo + size;
    md_arena_init(&arena, size * 48 + 4096);
    rc = md_ubjson_parse((const char *)data, size, &arena, &root, &err);
    if (rc == MD_OK) {
        if (root == NULL)
            __builtin_trap();
        walk(root, 0);
    } else if (root != NULL || err.code != rc || err.msg[0] == '\0' ||
               (rc != MD_EINVAL && rc != MD_ETOOBIG)) {
        __builtin_trap();
    }
    md_arena_release(&arena);
    return 0;
}
