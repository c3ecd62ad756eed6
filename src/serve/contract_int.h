/* SPDX-License-Identifier: MIT */
/*
 * contract_int.h: what the files of the contract module share and nobody
 * else uses: contract.c reads model.yaml, contract_feature.c the features'
 * rules in it, contract_key.c its keys, contract_prepare.c applies a
 * contract to requests. Here are
 * the parsing state and the reading helpers (each failure an MD_EINVAL whose
 * message starts with the key path), the hash functions behind the name and
 * category indexes, category lookup and number formatting for messages.
 */
#ifndef MD_SERVE_CONTRACT_INT_H
#define MD_SERVE_CONTRACT_INT_H

#include "serve/contract.h"
#include "util/yaml.h"

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

/* ------------------------------------------------------------- parsing */

/* Parsing state: the document, the contract being built, where errors go. */
struct md_contract__ctx {
    yaml_document_t *doc;
    struct md_contract *c;
    struct md_err *err;
    size_t n_categories; /* categories so far, all features together */
};

/* MD_EINVAL with "<path>: <message>" (the message cut short past 223 bytes). */
int md_contract__fail(struct md_contract__ctx *x, const char *path, const char *fmt, ...)
    MD_PRINTF(3, 4);

/* MD_ENOMEM with "model.yaml: out of memory". */
int md_contract__oom(struct md_contract__ctx *x);

/* A copy of s[0..len), NUL-terminated, in the contract's arena; NULL when out of memory. */
char *md_contract__dup_text(struct md_contract__ctx *x, const char *s, size_t len);

/* A non-null scalar as text (not copied), at most max bytes, without NUL bytes. */
int md_contract__want_text(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           size_t max, const char **s, size_t *len);

/* A name: [A-Za-z0-9_.-]+, at most MD_CONTRACT_MAX_NAME bytes, copied. */
int md_contract__want_name(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           char **out);

/* A finite number (a plain integer or float). */
int md_contract__want_number(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                             double *out);

/* A plain decimal integer within int64_t. */
int md_contract__want_int(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                          int64_t *out);

/* true or false (the core schema's spellings). */
int md_contract__want_bool(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           bool *out);

/* A text that must be one of words (NULL-terminated): its index; the message lists them as list. */
int md_contract__want_word(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                           const char *const *words, const char *list, int *out);

/*
 * Checks that map is a mapping whose keys are all in keys (NULL-terminated),
 * each at most once, and points vals[k] (zeroed by the caller) at the value
 * of keys[k]. path "" is the top level.
 */
int md_contract__map_collect(struct md_contract__ctx *x, const yaml_node_t *map, const char *path,
                             const char *const *keys, yaml_node_t **vals);

/* A sequence of min..max items (what_items names them in messages); *count is its length. */
int md_contract__want_seq(struct md_contract__ctx *x, const yaml_node_t *n, const char *path,
                          size_t min, size_t max, const char *what_items, size_t *count);

/* Item i of sequence seq, or NULL. */
yaml_node_t *md_contract__seq_item(struct md_contract__ctx *x, const yaml_node_t *seq, size_t i);

/*
 * Builds a hash index of n texts (strs, with lens, or NUL-terminated when
 * lens is NULL) in the contract's arena: *slots of *mask + 1 entries, each 0
 * or 1 + a text's index. *dup is the index of the first text equal to an
 * earlier one (*dup_of), or SIZE_MAX. MD_OK or MD_ENOMEM.
 */
int md_contract__index_texts(struct md_contract__ctx *x, char *const *strs, const size_t *lens,
                             size_t n, uint32_t **slots, size_t *mask, size_t *dup, size_t *dup_of);

/* As md_contract__index_texts, for integers (no *dup_of). */
int md_contract__index_ints(struct md_contract__ctx *x, const int64_t *v, size_t n,
                            uint32_t **slots, size_t *mask, size_t *dup);

/*
 * features: (contract_feature.c) into x->c: each feature's rules, the name
 * index, the prepared columns and their names, and the lookup data
 * md_contract_prepare uses.
 */
int md_contract__parse_features(struct md_contract__ctx *x, const yaml_node_t *n);

/*
 * keys: (contract_key.c) into x->c, after the features (a key may not take
 * a feature's name) and input_tensor.
 */
int md_contract__parse_keys(struct md_contract__ctx *x, const yaml_node_t *n);

/* drift: thresholds of the drift report into c->drift (contract_drift.c). */
int md_contract__parse_drift(struct md_contract__ctx *x, const yaml_node_t *n);

/* training: into c->training (contract_training.c), after task and labels;
 * the defaults first, whether or not model.yaml has the section. */
void md_contract__training_default(struct md_training_config *t, bool regression, size_t n_labels);
int md_contract__parse_training(struct md_contract__ctx *x, const yaml_node_t *n);
/* review: rules of the review queue into c->review (contract_review.c), after the
 * labels; n NULL (absent) sets the defaults. */
int md_contract__parse_review(struct md_contract__ctx *x, const yaml_node_t *n);
/* online: (contract_online.c) into c->online, after backend, task and labels; n NULL: the
 * defaults, present false. */
int md_contract__parse_online(struct md_contract__ctx *x, const yaml_node_t *n);
/* triggers: into c->triggers (contract_triggers.c), after labels and task;
 * n NULL (no section): the defaults, present false. */
int md_contract__parse_triggers(struct md_contract__ctx *x, const yaml_node_t *n);

#endif
