/* SPDX-License-Identifier: MIT */
/*
 * tfs.h: decoding a TensorFlow Serving :predict body into tensors for a
 * model contract (exposed for tests and the fuzz target; the handlers are in
 * handlers.h).
 */
#ifndef MD_API_TFS_H
#define MD_API_TFS_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "serve/contract.h"
#include "serve/keys.h"

/*
 * Parses body (NaN/Infinity tokens allowed) and builds one tensor per named
 * feature, or one 2-D tensor for rows given as lists. *rows is true for the
 * "instances" format, false for "inputs". A field of a row object, or a
 * column, named as one of c's keys is no input: *fields (when not NULL)
 * says where the body keeps such fields, for md_keys_check. MD_EINVAL with
 * TF Serving's messages where it has them. The :predict adapter runs the same two steps
 * with the version resolved between them: the parse and the checks that
 * need no contract, then the typing by c.
 */
int md_tfs_decode_predict(const struct md_contract *c, const char *body, size_t len,
                          struct md_arena *a, struct md_tensor **out, size_t *n_out, bool *rows,
                          struct md_key_fields *fields, struct md_err *err) MD_MUST_CHECK;

#endif
