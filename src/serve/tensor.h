/* SPDX-License-Identifier: MIT */
/*
 * tensor.h: datatypes and the tensor value type that carries request inputs
 * from a protocol decoder to the contract, and outputs back to an encoder.
 * Tensors are value types on the hot path: fields are public, and the memory
 * they point at belongs to the request's arena.
 */
#ifndef MD_SERVE_TENSOR_H
#define MD_SERVE_TENSOR_H

#include "util/common.h"

enum md_dtype {
    MD_DT_INVALID = 0,
    MD_DT_BOOL,
    MD_DT_UINT8,
    MD_DT_UINT16,
    MD_DT_UINT32,
    MD_DT_UINT64,
    MD_DT_INT8,
    MD_DT_INT16,
    MD_DT_INT32,
    MD_DT_INT64,
    MD_DT_FP16,
    MD_DT_FP32,
    MD_DT_FP64,
    MD_DT_BYTES,
    MD_DT_BF16,
    MD_DT_COUNT
};

#define MD_TENSOR_MAX_DIMS 8

/* One BYTES element. p == NULL marks a missing value (JSON null). */
struct md_bytes {
    const char *p;
    size_t len;
};

struct md_tensor {
    const char *name;                  /* NUL-terminated */
    enum md_dtype dtype;               /* never MD_DT_INVALID once decoded */
    int ndim;                          /* 0 (scalar) .. MD_TENSOR_MAX_DIMS */
    int64_t shape[MD_TENSOR_MAX_DIMS]; /* each >= 0 */
    size_t count;                      /* elements: the product of shape */
    void *data;                        /* count elements: BOOL as uint8_t 0/1, BYTES as
                                          struct md_bytes, others native little-endian */
    uint8_t *missing;                  /* NULL, or count flags: 1 where the value was null */
};

/* "FP32" -> MD_DT_FP32; MD_DT_INVALID for anything else (case-sensitive). */
enum md_dtype md_dtype_parse(const char *s, size_t len);
/* MD_DT_FP32 -> "FP32"; "INVALID" for out-of-range values. */
const char *md_dtype_name(enum md_dtype dt);
/* Bytes per element in binary form; 0 for BYTES (variable) and INVALID. */
size_t md_dtype_size(enum md_dtype dt);

/* Element i of a numeric or BOOL tensor as a double (exact for |v| < 2^53). */
double md_tensor_get_f64(const struct md_tensor *t, size_t i);

#endif
