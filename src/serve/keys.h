/* SPDX-License-Identifier: MIT */
/*
 * keys.h: a request's keys (model.yaml `keys:`, serve/contract.h), the
 * named fields that are checked and logged but never sent to an engine.
 *
 * A protocol's decoder says where its body keeps named fields (struct
 * md_key_fields: V2's request "parameters", TF Serving's row objects or
 * columnar "inputs"), without knowing any contract: which of those fields
 * are keys is the version's contract's to say. Until a version is chosen, a
 * field's raw value can be read by name (md_key_fields_find: what a traffic
 * policy routes by). Once it is, md_keys_check takes each of the contract's
 * keys from the body, or from its header when the body has none, and checks
 * it: its type, its length, whether it is required.
 */
#ifndef MD_SERVE_KEYS_H
#define MD_SERVE_KEYS_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "util/jdom.h"
#include "serve/contract.h"

/*
 * Where a request body keeps named fields, as its decoder found them: JSON
 * nodes of the body, in the request's memory. At most one is set (all NULL:
 * the body has none, as a raw binary V2 body or TF Serving rows of lists).
 */
struct md_key_fields {
    const struct md_jnode *shared;  /* an object whose members are fields of every row (V2's
                                       request-level "parameters"), or NULL */
    const struct md_jnode *rows;    /* an array whose element r, when an object, holds row r's
                                       fields (TF Serving's "instances"), or NULL */
    const struct md_jnode *columns; /* an object whose member is a list of one value per row,
                                       or one value for every row (TF Serving's columnar
                                       "inputs"), or NULL */
};

/* A key's value as text: a string's bytes, an integer in plain decimal. */
struct md_key_value {
    const char *p; /* not NUL-terminated; NULL: the request has no value */
    size_t len;
};

/* One key of a request, checked. */
struct md_key_values {
    const struct md_key *key;     /* the contract's declaration */
    const struct md_key_value *v; /* n values */
    size_t n;                     /* 1: one value for every row; else one per row */
};

/*
 * The raw value of field `name` in row `row` of the body, before any
 * contract has checked it, into *len: a string's bytes, a number's text as
 * sent, "true" or "false"; NULL when the body has no such field there, or
 * it is null, a list or an object. A field of every row (V2 parameters, a
 * lone columnar value) is the value of any row. O(row) for rows and lists.
 */
const char *md_key_fields_find(const struct md_key_fields *f, const char *name, size_t row,
                               size_t *len);

/*
 * Takes each of c's keys from the body (f), or, when the body has no value
 * for it, from its header (header(conn, name), when the key names one and
 * header is not NULL), and checks it: a string key takes a JSON string
 * (or the header's text), not empty, without NUL, at most max_length bytes;
 * an int64 key a JSON integer within int64 (or the header's plain decimal,
 * as JSON writes it: no sign but '-', no leading zero); a required key must
 * have a value in every row. JSON null is no value. rows is the request's
 * row count when known, else 0: a columnar list must hold one value per
 * row. On success *out is c->n_keys entries in c's order (arena memory,
 * values pointing into the body or the arena; NULL when c has no keys).
 * MD_EINVAL naming the key, the row when it applies and the reason
 * ("key 'user_id' row 2: missing required key"); MD_ETOOBIG when the arena
 * is full.
 */
int md_keys_check(const struct md_contract *c, const struct md_key_fields *f,
                  const char *(*header)(void *conn, const char *name), void *conn, size_t rows,
                  struct md_arena *a, struct md_key_values **out, struct md_err *err) MD_MUST_CHECK;

/*
 * The value of a checked key in row `row` into *len, or NULL when the
 * request has none there (an optional key not sent, or a row past the
 * values). A value given once is the value of every row.
 */
const char *md_key_values_get(const struct md_key_values *kv, size_t row, size_t *len);

#endif
