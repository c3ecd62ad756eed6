/* SPDX-License-Identifier: MIT */
/*
 * v2_request.h: decoding an Open Inference Protocol (KServe V2) infer request
 * body into tensors, strictly, before any model sees it: a JSON body, a JSON
 * header followed by binary tensor data (the binary tensor data extension,
 * whose JSON length comes in the Inference-Header-Content-Length header), or
 * a raw binary body holding one input's bytes.
 */
#ifndef MD_API_V2_REQUEST_H
#define MD_API_V2_REQUEST_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "serve/tensor.h"
#include "util/jdom.h"

struct md_output_req {
    const char *name;       /* NUL-terminated */
    bool binary;            /* parameters.binary_data */
    bool binary_given;      /* parameters.binary_data was present (it overrides the
                               request's binary_data_output) */
    int64_t classification; /* parameters.classification: top-k; 0 = none */
};

struct md_infer_request {
    const char *id;           /* the client's "id", NUL-terminated; NULL when absent */
    struct md_tensor *inputs; /* n_inputs decoded tensors */
    size_t n_inputs;
    struct md_output_req *outputs; /* requested outputs; n_outputs 0 = all */
    size_t n_outputs;
    bool binary_output;            /* request parameters.binary_data_output */
    int64_t timeout_us;            /* request parameters.timeout (µs); 0 = none */
    const struct md_jnode *params; /* the request-level "parameters" object (each member a
                                      string, number or boolean), or NULL: where a model's
                                      keys are read (serve/keys.h) */
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

/*
 * The value of an Inference-Header-Content-Length header into *json_len:
 * decimal digits, 0 .. INT32_MAX, at most body_len. MD_EINVAL naming the
 * header and the reason (not an integer, negative, out of range, larger than
 * the body) otherwise.
 */
int md_v2_header_length(const char *value, size_t body_len, size_t *json_len,
                        struct md_err *err) MD_MUST_CHECK;

/*
 * Decodes a body of JSON header body[0..json_len) followed by binary tensor
 * data body[json_len..len) (json_len >= 1). An input whose parameters carry
 * binary_data_size = N and no "data" takes the next N bytes, in input order:
 * little-endian, row-major; BOOL one byte 0 or 1; each BYTES element a 4-byte
 * little-endian length then its bytes. FP16 and BF16 are accepted in binary
 * form (as raw bits). Tensor data points into body where the bytes are
 * aligned for their type (body must outlive req) and is copied into the
 * arena where they are not. model names the model in messages. MD_EINVAL
 * (400) for everything md_v2_decode_infer refuses and: N not a non-negative
 * integer, N not the byte size of the shape and datatype, fewer than N bytes
 * left ("unexpected size for input 'x', expecting N additional bytes ..."),
 * malformed BYTES or BOOL data, bytes left after the last input
 * ("unexpected additional input data for model 'm' ...").
 */
int md_v2_decode_infer_binary(const char *body, size_t len, size_t json_len, const char *model,
                              struct md_arena *a, struct md_infer_request *req,
                              struct md_err *err) MD_MUST_CHECK;

/*
 * A raw binary request (Inference-Header-Content-Length: 0): the whole body
 * is the data of one input called name, of datatype dt. A numeric or BOOL
 * input gets shape [len / (width * size), width] and must hold a whole number
 * of rows, at least one; a BYTES input (width must be 1) is one element
 * holding the whole body, shape [1]. The request asks for every output in
 * binary form. Data points into body when aligned, as above. MD_EINVAL for
 * an empty body or a length that is not a whole number of rows.
 */
int md_v2_decode_raw(const char *body, size_t len, const char *name, enum md_dtype dt, size_t width,
                     struct md_arena *a, struct md_infer_request *req,
                     struct md_err *err) MD_MUST_CHECK;

#endif
