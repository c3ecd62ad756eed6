/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jdom.c: libFuzzer target for the strict JSON parser, with the
 * NaN/Infinity extension on. When a document parses, the tree is checked
 * (child counts, keys only on object members) and every number is
 * converted four ways and compared with the C library: f64 with strtod bit
 * for bit, f32 with (float)strtod, i64 and u64 with strtoll and strtoull.
 * The document is parsed again with packed numeric arrays (with nulls, and
 * with the NaN/Infinity tokens among the numbers): the outcome must be the
 * same (the same message for a syntax error), and each packed element's
 * value must equal its text's conversion.
 */
#include "util/jdom.h"

#include <errno.h>
#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_number(const struct md_jnode *n)
{
    char buf[512];
    double d = 0;
    float f = 0;
    int64_t i = 0;
    uint64_t u = 0;
    int rd = md_jdom_f64(n, &d);
    int rf = md_jdom_f32(n, &f);
    int ri = md_jdom_i64(n, &i);
    int ru = md_jdom_u64(n, &u);
    double want;
    char *end;
    bool integral;

    if (n->len == 0 || n->len >= sizeof(buf))
        return;
    memcpy(buf, n->p, n->len);
    buf[n->len] = '\0';
    if (buf[0] == 'N' || buf[0] == 'I' || (buf[0] == '-' && buf[1] == 'I')) {
        if (rd != MD_OK || rf != MD_OK || ri == MD_OK || ru == MD_OK)
            __builtin_trap();
        if ((buf[0] == 'N') != (bool)isnan(d) || (buf[0] == 'N') != (bool)isnan(f))
            __builtin_trap();
        return;
    }
    want = strtod(buf, &end);
    if (*end != '\0')
        __builtin_trap();
    if (isinf(want) ? rd != MD_EINVAL : (rd != MD_OK || memcmp(&d, &want, sizeof(d)) != 0))
        __builtin_trap();
    if (!isinf(want)) {
        float wf = (float)want;

        if (isinf(wf) ? rf != MD_EINVAL : (rf != MD_OK || memcmp(&f, &wf, sizeof(f)) != 0))
            __builtin_trap();
    }
    integral = strpbrk(buf, ".eE") == NULL;
    if (integral) {
        long long ll;
        unsigned long long ull;

        errno = 0;
        ll = strtoll(buf, &end, 10);
        if ((errno == 0) != (ri == MD_OK) || (ri == MD_OK && ll != i))
            __builtin_trap();
        errno = 0;
        ull = strtoull(buf, &end, 10);
        /* strtoull takes "-5" as a huge number; md_jdom_u64 refuses negatives but "-0". */
        if (buf[0] == '-') {
            if ((ru == MD_OK) != (ll == 0 && ri == MD_OK))
                __builtin_trap();
        } else if ((errno == 0) != (ru == MD_OK) || (ru == MD_OK && ull != u)) {
            __builtin_trap();
        }
    } else if (ri == MD_OK || ru == MD_OK) {
        __builtin_trap();
    }
}

/* A packed array: its elements' text, count and converted values agree. */
static void check_packed(const struct md_jnode *n)
{
    const char *cursor = NULL;
    struct md_jnode num;
    size_t i = 0;
    size_t nulls = 0;
    double d;

    if (n->child != NULL || n->n == 0)
        __builtin_trap();

    while (md_jdom_packed_next(n, &cursor, &num)) {
        if (i >= n->n)
            __builtin_trap();
        if (num.type == MD_J_NULL) {
            if (!md_jdom_packed_null(n, i) || !isnan(n->values[i]))
                __builtin_trap();
            nulls++;
            i++;
            continue;
        }
        if (md_jdom_packed_null(n, i))
            __builtin_trap();
        check_number(&num);
        if (md_jdom_f64(&num, &d) != MD_OK) {
            if (!isnan(n->values[i]))
                __builtin_trap();
        } else if (isnan(d)) {
            /* A NaN token: a NaN of its own, which is not a null. */
            if (num.p[0] != 'N' || !isnan(n->values[i]))
                __builtin_trap();
        } else if (memcmp(&d, &n->values[i], sizeof(d)) != 0) {
            __builtin_trap();
        }
        i++;
    }
    if (i != n->n || nulls != n->n_null)
        __builtin_trap();
}

/* Walks the tree; recursion is bounded by the parser's depth limit. */
static void walk(const struct md_jnode *n, int depth)
{
    const struct md_jnode *c;
    size_t count = 0;

    if (depth > MD_JDOM_MAX_DEPTH)
        __builtin_trap();
    if (md_jdom_is_packed(n)) {
        check_packed(n);
        return;
    }
    switch (n->type) {
    case MD_J_NUMBER:
        check_number(n);
        break;
    case MD_J_STRING:
        if (n->p == NULL && n->len > 0)
            __builtin_trap();
        break;
    case MD_J_ARRAY:
    case MD_J_OBJECT:
        for (c = n->child; c != NULL; c = c->next, count++) {
            if ((n->type == MD_J_OBJECT) != (c->key != NULL))
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

/* Parses again with flags and traps unless the outcome matches rc and err (or one ran out of
 * memory). */
static void same_outcome(const uint8_t *data, size_t size, unsigned flags, struct md_arena *arena,
                         int rc, const struct md_err *err)
{
    struct md_jnode *root;
    struct md_err err2;
    int rc2;

    md_arena_reset(arena);
    rc2 = md_jdom_parse((const char *)data, size, flags, arena, &root, &err2);
    if (rc2 == MD_OK)
        walk(root, 0);
    if (rc != rc2 && rc != MD_ETOOBIG && rc2 != MD_ETOOBIG)
        __builtin_trap();
    if (rc == MD_EINVAL && rc2 == MD_EINVAL && strcmp(err->msg, err2.msg) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_arena arena;
    static bool ready;
    struct md_jnode *root;
    struct md_err err;
    int rc;

    if (!ready) {
        md_arena_init(&arena, (size_t)4 << 20);
        ready = true;
    }
    md_arena_reset(&arena);
    rc = md_jdom_parse((const char *)data, size, MD_JDOM_NANINF, &arena, &root, &err);
    if (rc == MD_OK) {
        walk(root, 0);
    } else {
        if (root != NULL || (rc != MD_EINVAL && rc != MD_ETOOBIG) || err.code != rc)
            __builtin_trap();
        if (rc == MD_EINVAL && strncmp(err.msg, "invalid JSON at byte ", 21) != 0)
            __builtin_trap();
    }
    /* Packed, and packed with nulls as request bodies are parsed: the same outcome, but for
     * the arena's limit (the modes use memory differently). */
    same_outcome(data, size, MD_JDOM_NANINF | MD_JDOM_PACKED, &arena, rc, &err);
    same_outcome(data, size,
                 MD_JDOM_NANINF | MD_JDOM_PACKED | MD_JDOM_PACKED_NULL | MD_JDOM_PARALLEL, &arena,
                 rc, &err);
    /* And with the tokens packed too, as V2 request bodies are parsed. */
    same_outcome(data, size,
                 MD_JDOM_NANINF | MD_JDOM_PACKED | MD_JDOM_PACKED_NULL | MD_JDOM_PACKED_NANINF |
                     MD_JDOM_PARALLEL,
                 &arena, rc, &err);
    return 0;
}
