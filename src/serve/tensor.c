/* SPDX-License-Identifier: MIT */
/*
 * tensor.c: datatype names and sizes, and element access.
 */
#include "serve/tensor.h"

/* A name with its length, so that parsing compares lengths before bytes. */
#define DT(name, size)                                                                             \
    {                                                                                              \
        name, sizeof(name) - 1, size                                                               \
    }

static const struct {
    const char *name;
    size_t len;
    size_t size;
} dtypes[MD_DT_COUNT] = {
    [MD_DT_INVALID] = DT("INVALID", 0), [MD_DT_BOOL] = DT("BOOL", 1),
    [MD_DT_UINT8] = DT("UINT8", 1),     [MD_DT_UINT16] = DT("UINT16", 2),
    [MD_DT_UINT32] = DT("UINT32", 4),   [MD_DT_UINT64] = DT("UINT64", 8),
    [MD_DT_INT8] = DT("INT8", 1),       [MD_DT_INT16] = DT("INT16", 2),
    [MD_DT_INT32] = DT("INT32", 4),     [MD_DT_INT64] = DT("INT64", 8),
    [MD_DT_FP16] = DT("FP16", 2),       [MD_DT_FP32] = DT("FP32", 4),
    [MD_DT_FP64] = DT("FP64", 8),       [MD_DT_BYTES] = DT("BYTES", 0),
    [MD_DT_BF16] = DT("BF16", 2),
};

enum md_dtype md_dtype_parse(const char *s, size_t len)
{
    int i;

    for (i = 1; i < MD_DT_COUNT; i++)
        if (dtypes[i].len == len && memcmp(dtypes[i].name, s, len) == 0)
            return (enum md_dtype)i;
    return MD_DT_INVALID;
}

const char *md_dtype_name(enum md_dtype dt)
{
    if ((int)dt <= 0 || dt >= MD_DT_COUNT)
        return "INVALID";
    return dtypes[dt].name;
}

size_t md_dtype_size(enum md_dtype dt)
{
    if ((int)dt <= 0 || dt >= MD_DT_COUNT)
        return 0;
    return dtypes[dt].size;
}

double md_tensor_get_f64(const struct md_tensor *t, size_t i)
{
    switch (t->dtype) {
    case MD_DT_BOOL:
    case MD_DT_UINT8:
        return ((const uint8_t *)t->data)[i];
    case MD_DT_UINT16:
        return ((const uint16_t *)t->data)[i];
    case MD_DT_UINT32:
        return ((const uint32_t *)t->data)[i];
    case MD_DT_UINT64:
        return (double)((const uint64_t *)t->data)[i];
    case MD_DT_INT8:
        return ((const int8_t *)t->data)[i];
    case MD_DT_INT16:
        return ((const int16_t *)t->data)[i];
    case MD_DT_INT32:
        return ((const int32_t *)t->data)[i];
    case MD_DT_INT64:
        return (double)((const int64_t *)t->data)[i];
    case MD_DT_FP32:
        return ((const float *)t->data)[i];
    case MD_DT_FP64:
        return ((const double *)t->data)[i];
    default:
        return 0.0;
    }
}
