/* SPDX-License-Identifier: MIT */
/*
 * jdom.h: a strict, allocation-light JSON parser for request bodies.
 *
 * General-purpose JSON (config, management bodies) stays with jansson; this
 * parser exists for the hot path. It builds a tree of nodes in the request's
 * arena in one pass and leaves numbers as text, so a decoder converts each
 * number once, straight into the datatype a tensor needs (exact for 64-bit
 * integers, never through double).
 *
 * Strict RFC 8259: no comments, no trailing commas, no leading zeros, no
 * control characters in strings, valid UTF-8 required in strings, one value
 * per document (whitespace around it allowed). Depth is limited to
 * MD_JDOM_MAX_DEPTH. With MD_JDOM_NANINF the bare tokens NaN, Infinity and
 * -Infinity are accepted as numbers (TensorFlow Serving's extension).
 */
#ifndef MD_UTIL_JDOM_H
#define MD_UTIL_JDOM_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"

#define MD_JDOM_MAX_DEPTH 100

enum md_jdom_flags {
    MD_JDOM_NANINF = 1 << 0,       /* accept NaN, Infinity, -Infinity */
    MD_JDOM_PACKED = 1 << 1,       /* keep arrays of numbers only as packed arrays (below) */
    MD_JDOM_PARALLEL = 1 << 2,     /* with MD_JDOM_PACKED: convert very large packed arrays on
                                      one thread per CPU (same result, less latency) */
    MD_JDOM_PACKED_NULL = 1 << 3,  /* with MD_JDOM_PACKED: packed arrays may hold null too */
    MD_JDOM_PACKED_NANINF = 1 << 4 /* with MD_JDOM_PACKED and MD_JDOM_NANINF: packed arrays may
                                      hold the NaN, Infinity and -Infinity tokens too */
};

enum md_jtype {
    MD_J_NULL = 0,
    MD_J_FALSE,
    MD_J_TRUE,
    MD_J_NUMBER,
    MD_J_STRING,
    MD_J_ARRAY,
    MD_J_OBJECT
};

struct md_jnode {
    enum md_jtype type;
    uint32_t key_len;       /* bytes at key (a key is shorter than 4 GiB) */
    const char *p;          /* NUMBER: its text; STRING: its decoded bytes (not
                               NUL-terminated; may point into the input) */
    size_t len;             /* bytes at p */
    const char *key;        /* member of an OBJECT: its decoded key; else NULL */
    struct md_jnode *child; /* ARRAY/OBJECT: first element or member value */
    struct md_jnode *next;  /* next sibling in the parent */
    size_t n;               /* ARRAY/OBJECT: number of children */
    const double *values;   /* packed ARRAY (below): its n numbers as doubles; else NULL */
    size_t n_null;          /* packed ARRAY: how many of its elements are null */
};

/*
 * Packed arrays. With MD_JDOM_PACKED, a non-empty array whose elements are
 * all numbers (not the NaN/Infinity tokens) becomes a single node: type
 * MD_J_ARRAY, n its element count, child NULL, p/len the text between its
 * brackets, and values its numbers converted to double while parsing, in
 * the same pass (correctly rounded, as md_jdom_f64; NaN marks a number
 * beyond the double range). A tensor's "data" of a million numbers then
 * costs no node per number and no second pass over the text. With
 * MD_JDOM_PACKED_NULL, null elements may appear among the numbers (n_null
 * counts them; their values are a NaN that md_jdom_packed_null tells apart).
 * With MD_JDOM_PACKED_NANINF (and MD_JDOM_NANINF), the NaN, Infinity and
 * -Infinity tokens may appear too: their values are infinities and a NaN
 * that md_jdom_packed_f32/f64 tell apart from a number beyond the range
 * (the tokens are only looked for where a number fails to start, so plain
 * numbers cost nothing more). Any other array (empty, nested, with a
 * string, or a null or token without its flag) is parsed as usual, and so
 * is one whose '[' is followed by a tab or a carriage return: only a digit,
 * '-', a space or a newline (or 'n' with MD_JDOM_PACKED_NULL, 'N' or 'I'
 * with MD_JDOM_PACKED_NANINF) there starts the packed scan. test_tfs and
 * fuzz_tfs_request rely on "[\t" to get the unpacked form of the same
 * numbers. The grammar of every element is checked as for any number.
 */

/* Packed arrays converted in parallel (MD_JDOM_PARALLEL) since the process started. */
unsigned long md_jdom_parallel_count(void);

/* Whether n is a packed array. */
bool md_jdom_is_packed(const struct md_jnode *n);

/* Whether element i of packed array arr is null. */
bool md_jdom_packed_null(const struct md_jnode *arr, size_t i);

/*
 * The elements of a packed array one by one, as NUMBER nodes (NULL nodes for
 * null elements; a token's NUMBER node holds its text): *cursor starts NULL;
 * each call fills *num (its p points into the text) and returns true, or
 * returns false after the last element.
 */
bool md_jdom_packed_next(const struct md_jnode *arr, const char **cursor, struct md_jnode *num);

/*
 * Every element of a packed array into out[0..arr->n), exactly as
 * md_jdom_f32 / md_jdom_f64 would convert them one by one (the tokens to NaN
 * and the infinities), null elements as NaN; with missing not NULL, missing[i] is also set to 1 for
 * each null element i (the others are left as they are). MD_EINVAL when an element does not fit the
 * type, with its index in *bad (out and missing are then partly written). A large array is
 * converted on several threads.
 */
int md_jdom_packed_f32(const struct md_jnode *arr, float *out, uint8_t *missing,
                       size_t *bad) MD_MUST_CHECK;
int md_jdom_packed_f64(const struct md_jnode *arr, double *out, uint8_t *missing,
                       size_t *bad) MD_MUST_CHECK;

/*
 * Parses text[0..len). On success *root points at the tree, all in arena a.
 * MD_EINVAL with "invalid JSON at byte N: <reason>" on a syntax error,
 * MD_ETOOBIG when the arena's maximum is reached.
 */
int md_jdom_parse(const char *text, size_t len, unsigned flags, struct md_arena *a,
                  struct md_jnode **root, struct md_err *err) MD_MUST_CHECK;

/* The member of object o whose key is the NUL-terminated key, or NULL. */
const struct md_jnode *md_jdom_get(const struct md_jnode *o, const char *key);

/*
 * Number conversions. Each returns MD_OK, or MD_EINVAL when the node is not a
 * NUMBER or does not fit: integers must be integral text (no fraction or
 * exponent) within the type's range; floats are correctly rounded from the
 * decimal text as a double would be, then to float for f32 (the rounding a
 * Python or JavaScript client applies). NaN/Infinity tokens convert to the
 * float functions only.
 */
int md_jdom_f32(const struct md_jnode *n, float *out) MD_MUST_CHECK;
int md_jdom_f64(const struct md_jnode *n, double *out) MD_MUST_CHECK;
int md_jdom_i64(const struct md_jnode *n, int64_t *out) MD_MUST_CHECK;
int md_jdom_u64(const struct md_jnode *n, uint64_t *out) MD_MUST_CHECK;

/* A NUL-terminated copy of a STRING node's bytes in the arena, or NULL. */
char *md_jdom_strdup(const struct md_jnode *n, struct md_arena *a);

#endif
