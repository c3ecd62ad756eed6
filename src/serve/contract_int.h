/* SPDX-License-Identifier: MIT */
/*
 * contract_int.h: what contract.c (parsing), contract_yaml.c (loading YAML,
 * formatting) and contract_prepare.c (request preparation) share and nobody
 * else uses: the hash functions behind the name and category indexes,
 * category lookup, text and number formatting for error messages, and the
 * guarded libyaml load.
 */
#ifndef MD_SERVE_CONTRACT_INT_H
#define MD_SERVE_CONTRACT_INT_H

#include "serve/contract.h"

#include <yaml.h>

/* A feature with more categories than this gets a hash index at parse time. */
#define MD_CONTRACT_LINEAR_MAX 16

/* FNV-1a, 64 bits: names and categories are short. */
static inline uint64_t md_contract__hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 14695981039346656037ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The splitmix64 finaliser: spreads consecutive integers over the table. */
static inline uint64_t md_contract__hash_i64(int64_t v)
{
    uint64_t z = (uint64_t)v + 0x9e3779b97f4a7c15ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The index of the category spelled p[0..len) of f, or SIZE_MAX. */
static inline size_t md_contract__find_category(const struct md_feature *f, const char *p,
                                                size_t len)
{
    size_t i;

    if (f->cat_slots == NULL) {
        for (i = 0; i < f->n_categories; i++)
            if (f->cat_len[i] == len && memcmp(f->categories[i], p, len) == 0)
                return i;
        return SIZE_MAX;
    }
    for (i = md_contract__hash(p, len) & f->cat_mask; f->cat_slots[i] != 0;
         i = (i + 1) & f->cat_mask) {
        size_t k = f->cat_slots[i] - 1;

        if (f->cat_len[k] == len && memcmp(f->categories[k], p, len) == 0)
            return k;
    }
    return SIZE_MAX;
}

/* The index of the integer category v of f (INT32/INT64 with categories), or SIZE_MAX. */
static inline size_t md_contract__find_int_category(const struct md_feature *f, int64_t v)
{
    size_t i;

    if (f->cat_slots == NULL) {
        for (i = 0; i < f->n_categories; i++)
            if (f->cat_int[i] == v)
                return i;
        return SIZE_MAX;
    }
    for (i = md_contract__hash_i64(v) & f->cat_mask; f->cat_slots[i] != 0;
         i = (i + 1) & f->cat_mask) {
        size_t k = f->cat_slots[i] - 1;

        if (f->cat_int[k] == v)
            return k;
    }
    return SIZE_MAX;
}

/*
 * Writes v in the fewest significant digits that read back as the same
 * double (as_float: the same float), "%g" style: 1e+06, 0.1, -3, NaN, inf.
 */
void md_contract__fmt_num(double v, bool as_float, char *buf, size_t size);

/*
 * Copies at most max bytes of s[0..len) into buf for a message: printable
 * ASCII and well-formed UTF-8 kept, other bytes as '?', "..." when cut.
 */
void md_contract__fmt_text(const char *s, size_t len, size_t max, char *buf, size_t size);

/*
 * Loads the one YAML document of text[0..len) into doc (free it with
 * yaml_document_delete). MD_EINVAL with "model.yaml: ..." for a syntax
 * error (line and column), an empty stream, a second document, nesting
 * deeper than 32 levels or more than 1,000 anchors and aliases; MD_ENOMEM.
 */
int md_contract__load_document(const char *text, size_t len, yaml_document_t *doc,
                               struct md_err *err) MD_MUST_CHECK;

#endif
