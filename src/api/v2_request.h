/* SPDX-License-Identifier: MIT */
/*
 * v2_request.h: decoding an Open Inference Protocol (KServe V2) infer request
 * body into tensors, strictly, before any model sees it.
 */
#ifndef MD_API_V2_REQUEST_H
#define MD_API_V2_REQUEST_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "serve/tensor.h"

struct md_output_req {
    const char *name;   /* NUL-terminated */
    bool binary;        /* parameters.binary_data */
    int64_t classification; /* parameters.classification: top-k; 0 = none */
};

struct md_infer_request {
    const char *id;               /* the client's "id", NUL-terminated; NULL when absent */
    struct md_tensor *inputs;     /* n_inputs decoded tensors */
    size_t n_inputs;
    struct md_output_req *outputs;/* requested outputs; n_outputs 0 = all */
    size_t n_outputs;
    bool binary_output;           /* request parameters.binary_data_output */
    int64_t timeout_us;           /* request parameters.timeout (µs); 0 = none */
};

/*
 * Decodes body[0..len) into req, all memory from arena a.
 * MD_EINVAL with a message naming the field and the reason ("inputs[1].shape:
 * expected an array of non-negative integers", "input 'age': data has 3
 * elements but shape [2,2] needs 4", ...) for anything malformed;
 * MD_ETOOBIG when the arena's limit is reached.
 */
int md_v2_decode_infer(const char *body, size_t len, struct md_arena *a,
                       struct md_infer_request *req, struct md_err *err) MD_MUST_CHECK;

#endif
