/* SPDX-License-Identifier: MIT */
/*
 * v2_request.c: an Open Inference Protocol infer request body, parsed with
 * jdom and decoded into tensors in the request's arena.
 *
 * Each object is read in two steps: its members are found first (JSON
 * objects are unordered, so "data" may come before "shape"), then checked
 * and converted. Structural errors name the JSON path ("inputs[1].shape:
 * ..."); data errors name the input and the element. Matching the inputs
 * against a model's contract is left to serve/.
 *
 * Binary tensor data (the Inference-Header-Content-Length extension) is not
 * copied where it need not be: a tensor's data points into the body when the
 * bytes sit at an address aligned for the datatype on a little-endian host,
 * and BYTES elements always point into the body; only misaligned (or, on a
 * big-endian host, every multi-byte) numeric data is copied into the arena.
 */
#include "api/v2_request.h"

#include <assert.h>
#include <math.h>

#include "util/jdom.h"

/* The most elements one input may declare: far above any JSON body we accept. */
#define MAX_ELEMENTS ((uint64_t)1 << 31)
/* How much of a client's name or number text goes into a message. */
#define QUOTE_MAX 64

/* Where binary tensor data comes from: the bytes after the JSON header. */
struct bin_src {
    const unsigned char *p; /* next unread byte */
    size_t left;            /* bytes from p to the end of the body */
    bool header;            /* the request had Inference-Header-Content-Length */
};

static int no_memory(struct md_err *err)
{
    return md_err_set(err, MD_ETOOBIG, "request: decoding needs more memory than allowed");
}

static const char *jtype_name(enum md_jtype t)
{
    switch (t) {
    case MD_J_NULL:
        return "null";
    case MD_J_FALSE:
    case MD_J_TRUE:
        return "a boolean";
    case MD_J_NUMBER:
        return "a number";
    case MD_J_STRING:
        return "a string";
    case MD_J_ARRAY:
        return "an array";
    default:
        return "an object";
    }
}

static bool key_is(const struct md_jnode *m, const char *k, size_t klen)
{
    return m->key_len == klen && memcmp(m->key, k, klen) == 0;
}

#define KEY_IS(m, lit) key_is((m), (lit), sizeof(lit) - 1)

static int quote_len(size_t len)
{
    return len > QUOTE_MAX ? QUOTE_MAX : (int)len;
}

static bool is_scalar(const struct md_jnode *v)
{
    return v->type == MD_J_STRING || v->type == MD_J_NUMBER || v->type == MD_J_TRUE ||
           v->type == MD_J_FALSE;
}

/*
 * A NUL-terminated copy of a name or id string into *out. A string holding a
 * NUL byte (sent as \u0000) would be cut short, so it is refused. Messages
 * name "<list>[idx].name", or "id" when list is NULL.
 */
static int take_name(const struct md_jnode *v, struct md_arena *a, const char *list, size_t idx,
                     const char **out, struct md_err *err)
{
    const char *what = list != NULL ? ".name" : "id";
    const char *problem = NULL;

    if (v->type != MD_J_STRING)
        problem = "expected a string, got ";
    else if (list != NULL && v->len == 0)
        problem = "expected a non-empty string";
    else if (memchr(v->p, '\0', v->len) != NULL)
        problem = "contains a NUL character";
    if (problem != NULL) {
        if (list == NULL)
            return md_err_set(err, MD_EINVAL, "%s: %s%s", what, problem,
                              v->type != MD_J_STRING ? jtype_name(v->type) : "");
        return md_err_set(err, MD_EINVAL, "%s[%zu]%s: %s%s", list, idx, what, problem,
                          v->type != MD_J_STRING ? jtype_name(v->type) : "");
    }
    *out = md_jdom_strdup(v, a);
    if (*out == NULL)
        return no_memory(err);
    return MD_OK;
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/*
 * A name that appears twice in names[0..n) into *dup (NULL when none). A
 * short list is compared pairwise and reports the first repeat; a long one
 * (a hostile request may list a million outputs) is sorted in place, so the
 * cost stays O(n log n) whatever the names are.
 */
static void find_repeat(const char **names, size_t n, const char **dup)
{
    size_t i;
    size_t j;

    *dup = NULL;
    if (n <= 8) {
        for (i = 1; i < n; i++)
            for (j = 0; j < i; j++)
                if (strcmp(names[i], names[j]) == 0) {
                    *dup = names[i];
                    return;
                }
        return;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    for (i = 1; i < n; i++)
        if (strcmp(names[i], names[i - 1]) == 0) {
            *dup = names[i];
            return;
        }
}

/* ------------------------------------------------------------------------
 * Shapes and sizes, shared by the JSON, binary and raw decoders
 * ------------------------------------------------------------------------ */

/* Room for a shape as text: MD_TENSOR_MAX_DIMS numbers of up to 20 characters. */
struct shape_text {
    char s[MD_TENSOR_MAX_DIMS * 21 + 4];
};

/* t's shape as "[2,3]", in buf (room for any shape; for messages). */
static const char *shape_str(const struct md_tensor *t, struct shape_text *buf)
{
    size_t size = sizeof(buf->s);
    size_t off = 0;
    int i;

    off += (size_t)snprintf(buf->s, size, "[");
    for (i = 0; i < t->ndim && off < size; i++)
        off += (size_t)snprintf(buf->s + off, size - off, "%s%lld", i > 0 ? "," : "",
                                (long long)t->shape[i]);
    if (off < size)
        (void)snprintf(buf->s + off, size - off, "]");
    return buf->s;
}

/*
 * t->count from t->shape[0..ndim) (each >= 0): 0 when a dimension is 0,
 * else their product. False, t->count untouched, when that product is above
 * MAX_ELEMENTS.
 */
static bool count_elements(struct md_tensor *t)
{
    uint64_t count = 1;
    bool big = false;
    int i;

    for (i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 0) {
            t->count = 0;
            return true;
        }
        if (__builtin_mul_overflow(count, (uint64_t)t->shape[i], &count) || count > MAX_ELEMENTS)
            big = true;
    }
    if (big)
        return false;
    t->count = (size_t)count;
    return true;
}

/* Bytes one element of dt takes as tensor data: a struct md_bytes for BYTES. */
static size_t elem_size(enum md_dtype dt)
{
    return dt == MD_DT_BYTES ? sizeof(struct md_bytes) : md_dtype_size(dt);
}

/*
 * Room in the arena for t->count elements of t's data, into t->data (one
 * byte at least, so an empty tensor's data is not NULL).
 */
static int alloc_data(struct md_tensor *t, struct md_arena *a, struct md_err *err)
{
    size_t bytes = t->count * elem_size(t->dtype); /* count <= 2^31, size <= 16: no overflow */

    t->data = md_arena_alloc(a, bytes > 0 ? bytes : 1);
    if (t->data == NULL)
        return no_memory(err);
    return MD_OK;
}

/* ------------------------------------------------------------------------
 * Parameters
 * ------------------------------------------------------------------------ */

/* "<list>[idx].parameters.<key>: expected ...", or "parameters.<key>: ..." when list is NULL. */
static int bad_param(const char *list, size_t idx, const struct md_jnode *m, const char *expected,
                     struct md_err *err)
{
    if (list == NULL)
        return md_err_set(err, MD_EINVAL, "parameters.%.*s: expected %s, got %s",
                          quote_len(m->key_len), m->key, expected, jtype_name(m->type));
    return md_err_set(err, MD_EINVAL, "%s[%zu].parameters.%.*s: expected %s, got %s", list, idx,
                      quote_len(m->key_len), m->key, expected, jtype_name(m->type));
}

static int decode_request_params(const struct md_jnode *params, struct md_infer_request *req,
                                 struct md_err *err)
{
    const struct md_jnode *m;
    int64_t v;

    if (params->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "parameters: expected an object, got %s",
                          jtype_name(params->type));
    for (m = params->child; m != NULL; m = m->next) {
        if (KEY_IS(m, "binary_data_output")) {
            if (m->type != MD_J_TRUE && m->type != MD_J_FALSE)
                return bad_param(NULL, 0, m, "a boolean", err);
            req->binary_output = m->type == MD_J_TRUE;
        } else if (KEY_IS(m, "timeout")) {
            if (m->type != MD_J_NUMBER || md_jdom_i64(m, &v) != MD_OK || v < 0)
                return md_err_set(err, MD_EINVAL,
                                  "parameters.timeout: expected a non-negative integer of "
                                  "microseconds");
            req->timeout_us = v;
        } else if (!is_scalar(m)) {
            return bad_param(NULL, 0, m, "a string, number or boolean", err);
        }
    }
    return MD_OK;
}

/* ------------------------------------------------------------------------
 * Inputs
 * ------------------------------------------------------------------------ */

/* One input's members, found before any is converted. */
struct input_members {
    const struct md_jnode *name;
    const struct md_jnode *shape;
    const struct md_jnode *datatype;
    const struct md_jnode *data;
    const struct md_jnode *params;
};

/* The walk over an input's data leaves, in row-major order. */
struct conv {
    struct md_tensor *t;
    struct md_arena *a;
    size_t i; /* index of the next element */
    struct md_err *err;
};

static int elem_error(struct conv *cv, const char *fmt_expected, const struct md_jnode *v)
{
    return md_err_set(cv->err, MD_EINVAL, "input '%.*s' element %zu: expected %s, got %s",
                      quote_len(strlen(cv->t->name)), cv->t->name, cv->i, fmt_expected,
                      jtype_name(v->type));
}

static int elem_range(struct conv *cv, const struct md_jnode *v)
{
    return md_err_set(cv->err, MD_EINVAL, "input '%.*s' element %zu: %.*s is out of range for %s",
                      quote_len(strlen(cv->t->name)), cv->t->name, cv->i, quote_len(v->len), v->p,
                      md_dtype_name(cv->t->dtype));
}

/* Integer text: no fraction, no exponent, not a NaN or Infinity token. */
static bool is_integral_text(const struct md_jnode *v)
{
    return memchr(v->p, '.', v->len) == NULL && memchr(v->p, 'e', v->len) == NULL &&
           memchr(v->p, 'E', v->len) == NULL && memchr(v->p, 'N', v->len) == NULL &&
           memchr(v->p, 'I', v->len) == NULL;
}

static int put_null(struct conv *cv)
{
    struct md_tensor *t = cv->t;
    size_t i = cv->i;

    if (t->missing == NULL) {
        t->missing = md_arena_calloc(cv->a, t->count, 1);
        if (t->missing == NULL)
            return no_memory(cv->err);
    }
    t->missing[i] = 1;
    switch (t->dtype) {
    case MD_DT_FP32:
        ((float *)t->data)[i] = NAN;
        break;
    case MD_DT_FP64:
        ((double *)t->data)[i] = NAN;
        break;
    case MD_DT_BYTES:
        ((struct md_bytes *)t->data)[i].p = NULL;
        ((struct md_bytes *)t->data)[i].len = 0;
        break;
    default:
        memset((char *)t->data + i * md_dtype_size(t->dtype), 0, md_dtype_size(t->dtype));
        break;
    }
    return MD_OK;
}

static int put_int(struct conv *cv, const struct md_jnode *v)
{
    struct md_tensor *t = cv->t;
    size_t i = cv->i;
    int64_t s = 0;
    uint64_t u = 0;
    int rc;

    if (v->type != MD_J_NUMBER)
        return elem_error(cv, "an integer", v);
    if (!is_integral_text(v))
        return md_err_set(cv->err, MD_EINVAL,
                          "input '%.*s' element %zu: expected an integer, got %.*s",
                          quote_len(strlen(t->name)), t->name, i, quote_len(v->len), v->p);
    if (t->dtype >= MD_DT_UINT8 && t->dtype <= MD_DT_UINT64)
        rc = md_jdom_u64(v, &u);
    else
        rc = md_jdom_i64(v, &s);
    if (rc != MD_OK)
        return elem_range(cv, v);
    switch (t->dtype) {
    case MD_DT_UINT8:
        if (u > UINT8_MAX)
            return elem_range(cv, v);
        ((uint8_t *)t->data)[i] = (uint8_t)u;
        break;
    case MD_DT_UINT16:
        if (u > UINT16_MAX)
            return elem_range(cv, v);
        ((uint16_t *)t->data)[i] = (uint16_t)u;
        break;
    case MD_DT_UINT32:
        if (u > UINT32_MAX)
            return elem_range(cv, v);
        ((uint32_t *)t->data)[i] = (uint32_t)u;
        break;
    case MD_DT_UINT64:
        ((uint64_t *)t->data)[i] = u;
        break;
    case MD_DT_INT8:
        if (s < INT8_MIN || s > INT8_MAX)
            return elem_range(cv, v);
        ((int8_t *)t->data)[i] = (int8_t)s;
        break;
    case MD_DT_INT16:
        if (s < INT16_MIN || s > INT16_MAX)
            return elem_range(cv, v);
        ((int16_t *)t->data)[i] = (int16_t)s;
        break;
    case MD_DT_INT32:
        if (s < INT32_MIN || s > INT32_MAX)
            return elem_range(cv, v);
        ((int32_t *)t->data)[i] = (int32_t)s;
        break;
    default:
        ((int64_t *)t->data)[i] = s;
        break;
    }
    return MD_OK;
}

/* Converts one leaf into element cv->i of the tensor. */
static int put_leaf(struct conv *cv, const struct md_jnode *v)
{
    struct md_tensor *t = cv->t;

    if (v->type == MD_J_NULL)
        return put_null(cv);
    switch (t->dtype) {
    case MD_DT_FP32:
        if (v->type != MD_J_NUMBER)
            return elem_error(cv, "a number", v);
        if (md_jdom_f32(v, (float *)t->data + cv->i) != MD_OK)
            return elem_range(cv, v);
        return MD_OK;
    case MD_DT_FP64:
        if (v->type != MD_J_NUMBER)
            return elem_error(cv, "a number", v);
        if (md_jdom_f64(v, (double *)t->data + cv->i) != MD_OK)
            return elem_range(cv, v);
        return MD_OK;
    case MD_DT_BOOL:
        if (v->type != MD_J_TRUE && v->type != MD_J_FALSE)
            return elem_error(cv, "true or false", v);
        ((uint8_t *)t->data)[cv->i] = v->type == MD_J_TRUE;
        return MD_OK;
    case MD_DT_BYTES:
        if (v->type != MD_J_STRING)
            return elem_error(cv, "a string", v);
        ((struct md_bytes *)t->data)[cv->i].p = v->p;
        ((struct md_bytes *)t->data)[cv->i].len = v->len;
        return MD_OK;
    default:
        return put_int(cv, v);
    }
}

/*
 * The bad element of a packed array, found again for its message: element i
 * of arr (at tensor index first + i) did not convert.
 */
static int packed_error(struct conv *cv, const struct md_jnode *arr, size_t first, size_t i)
{
    struct md_jnode num;
    const char *cursor = NULL;
    size_t k;

    for (k = 0; k <= i; k++)
        if (!md_jdom_packed_next(arr, &cursor, &num))
            return md_err_set(cv->err, MD_EINVAL, "input '%.*s' element %zu: invalid number",
                              quote_len(strlen(cv->t->name)), cv->t->name, first + i);
    cv->i = first + i;
    return elem_range(cv, &num);
}

/*
 * The elements of a packed array (numbers only, converted while parsing)
 * into the tensor from element cv->i on: a tight loop for FP32 and FP64,
 * element by element for the other types (exact integers come from the
 * text).
 */
static int put_packed(struct conv *cv, const struct md_jnode *arr)
{
    struct md_tensor *t = cv->t;
    size_t first = cv->i;
    size_t bad;
    int rc;

    if (t->dtype == MD_DT_FP32 || t->dtype == MD_DT_FP64) {
        uint8_t *missing = NULL;

        /* Null elements come out NaN, and marked missing as put_null marks them. */
        if (arr->n_null > 0) {
            if (t->missing == NULL)
                t->missing = md_arena_calloc(cv->a, t->count, 1);
            if (t->missing == NULL)
                return no_memory(cv->err);
            missing = t->missing + first;
        }
        if (t->dtype == MD_DT_FP32)
            rc = md_jdom_packed_f32(arr, (float *)t->data + first, missing, &bad);
        else
            rc = md_jdom_packed_f64(arr, (double *)t->data + first, missing, &bad);
        if (rc != MD_OK)
            return packed_error(cv, arr, first, bad);
        cv->i = first + arr->n;
        return MD_OK;
    }
    {
        struct md_jnode num;
        const char *cursor = NULL;

        while (md_jdom_packed_next(arr, &cursor, &num)) {
            rc = put_leaf(cv, &num);
            if (rc != MD_OK)
                return rc;
            cv->i++;
        }
    }
    return MD_OK;
}

/* Converts the leaves of a nested array; depth is bounded by the parser's limit. */
static int put_nested(struct conv *cv, const struct md_jnode *arr)
{
    const struct md_jnode *c;
    int rc;

    if (md_jdom_is_packed(arr))
        return put_packed(cv, arr);
    for (c = arr->child; c != NULL; c = c->next) {
        if (c->type == MD_J_ARRAY) {
            rc = put_nested(cv, c);
        } else {
            rc = put_leaf(cv, c);
            cv->i++;
        }
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* Leaves of a nested array; depth is bounded by the parser's limit. */
static size_t count_leaves(const struct md_jnode *arr)
{
    const struct md_jnode *c;
    size_t n = 0;

    if (md_jdom_is_packed(arr))
        return arr->n;
    for (c = arr->child; c != NULL; c = c->next)
        n += c->type == MD_J_ARRAY ? count_leaves(c) : 1;
    return n;
}

#define NOT_FLAT 1

/*
 * Converts the elements of an array expected to be flat, the common case,
 * with a tight loop for FP32; NOT_FLAT at the first nested array.
 */
static int put_flat(struct conv *cv, const struct md_jnode *arr)
{
    const struct md_jnode *c;
    int rc;

    if (md_jdom_is_packed(arr))
        return put_packed(cv, arr);

    if (cv->t->dtype == MD_DT_FP32) {
        float *f = cv->t->data;

        for (c = arr->child; c != NULL; c = c->next, cv->i++) {
            if (c->type == MD_J_NUMBER && md_jdom_f32(c, f + cv->i) == MD_OK)
                continue;
            if (c->type == MD_J_ARRAY)
                return NOT_FLAT;
            rc = put_leaf(cv, c);
            if (rc != MD_OK)
                return rc;
        }
        return MD_OK;
    }
    for (c = arr->child; c != NULL; c = c->next, cv->i++) {
        if (c->type == MD_J_ARRAY)
            return NOT_FLAT;
        rc = put_leaf(cv, c);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

static int count_error(const struct md_tensor *t, size_t leaves, struct md_err *err)
{
    struct shape_text buf;

    return md_err_set(err, MD_EINVAL, "input '%.*s': data has %zu elements but shape %s needs %zu",
                      quote_len(strlen(t->name)), t->name, leaves, shape_str(t, &buf), t->count);
}

static int find_input_members(const struct md_jnode *in, size_t idx, struct input_members *im,
                              struct md_err *err)
{
    const struct md_jnode *m;
    const struct md_jnode **slot;

    memset(im, 0, sizeof(*im));
    if (in->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "inputs[%zu]: expected an object, got %s", idx,
                          jtype_name(in->type));
    for (m = in->child; m != NULL; m = m->next) {
        if (KEY_IS(m, "name"))
            slot = &im->name;
        else if (KEY_IS(m, "shape"))
            slot = &im->shape;
        else if (KEY_IS(m, "datatype"))
            slot = &im->datatype;
        else if (KEY_IS(m, "data"))
            slot = &im->data;
        else if (KEY_IS(m, "parameters"))
            slot = &im->params;
        else
            continue;
        if (*slot != NULL)
            return md_err_set(err, MD_EINVAL, "inputs[%zu]: duplicate key '%.*s'", idx,
                              (int)m->key_len, m->key);
        *slot = m;
    }
    if (im->name == NULL)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].name: missing", idx);
    if (im->datatype == NULL)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].datatype: missing", idx);
    if (im->shape == NULL)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].shape: missing", idx);
    return MD_OK;
}

/* The dimension after d: the next child, or the next number of a packed shape. */
static const struct md_jnode *next_dim(const struct md_jnode *shape, const struct md_jnode *d,
                                       const char **cursor, struct md_jnode *num)
{
    if (!md_jdom_is_packed(shape))
        return d->next;
    return md_jdom_packed_next(shape, cursor, num) ? num : NULL;
}

static int decode_shape(const struct md_jnode *shape, size_t idx, struct md_tensor *t,
                        struct md_err *err)
{
    const struct md_jnode *d;
    struct md_jnode num;
    const char *cursor = NULL;
    struct shape_text buf;

    if (shape->type != MD_J_ARRAY)
        return md_err_set(err, MD_EINVAL,
                          "inputs[%zu].shape: expected an array of non-negative integers", idx);
    if (shape->n > MD_TENSOR_MAX_DIMS)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].shape: %zu dimensions, at most %d allowed",
                          idx, shape->n, MD_TENSOR_MAX_DIMS);
    t->ndim = 0;
    d = shape->child;
    if (md_jdom_is_packed(shape)) {
        /* Numbers only: read them one by one from the text, exactly. */
        cursor = NULL;
        d = md_jdom_packed_next(shape, &cursor, &num) ? &num : NULL;
    }
    for (; d != NULL; d = next_dim(shape, d, &cursor, &num)) {
        int64_t v;

        if (d->type != MD_J_NUMBER || md_jdom_i64(d, &v) != MD_OK || v < 0)
            return md_err_set(err, MD_EINVAL,
                              "inputs[%zu].shape: expected an array of non-negative integers", idx);
        t->shape[t->ndim++] = v;
    }
    if (!count_elements(t))
        return md_err_set(err, MD_EINVAL, "inputs[%zu].shape: %s is more than %llu elements", idx,
                          shape_str(t, &buf), (unsigned long long)MAX_ELEMENTS);
    return MD_OK;
}

/* The input's parameters; *bin_size is binary_data_size, or -1 when absent. */
static int decode_input_params(const struct md_jnode *params, size_t idx, int64_t *bin_size,
                               struct md_err *err)
{
    const struct md_jnode *m;
    int64_t v;

    *bin_size = -1;
    if (params->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].parameters: expected an object, got %s", idx,
                          jtype_name(params->type));
    for (m = params->child; m != NULL; m = m->next) {
        if (KEY_IS(m, "binary_data_size")) {
            if (m->type != MD_J_NUMBER || md_jdom_i64(m, &v) != MD_OK || v < 0)
                return md_err_set(err, MD_EINVAL,
                                  "inputs[%zu].parameters.binary_data_size: expected a "
                                  "non-negative integer",
                                  idx);
            *bin_size = v;
        } else if (!is_scalar(m)) {
            return bad_param("inputs", idx, m, "a string, number or boolean", err);
        }
    }
    return MD_OK;
}

/* ------------------------------------------------------------------------
 * Binary tensor data
 * ------------------------------------------------------------------------ */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * size bytes of little-endian elements of esize bytes at p as tensor data:
 * p itself when the host is little-endian and p is aligned for the type,
 * else an aligned copy in the arena (byte-swapped on a big-endian host).
 * NULL when the arena is exhausted.
 */
static void *place_fixed(const unsigned char *p, size_t size, size_t esize, struct md_arena *a)
{
    unsigned char *d;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (((uintptr_t)p & (esize - 1)) == 0)
        return (void *)p; /* read-only from here on: see v2_request.h */
#endif
    d = md_arena_alloc(a, size > 0 ? size : 1);
    if (d == NULL)
        return NULL;
    if (size > 0)
        memcpy(d, p, size);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; i + esize <= size; i += esize)
        for (size_t j = 0; j < esize / 2; j++) {
            unsigned char c = d[i + j];

            d[i + j] = d[i + esize - 1 - j];
            d[i + esize - 1 - j] = c;
        }
#endif
    return d;
}

/* BOOL data must be bytes 0 or 1, as JSON's true and false would be. */
static int check_bool(const struct md_tensor *t, const unsigned char *p, struct md_err *err)
{
    size_t i;

    for (i = 0; i < t->count; i++)
        if (MD_UNLIKELY(p[i] > 1))
            return md_err_set(err, MD_EINVAL,
                              "input '%.*s' element %zu: BOOL byte %u is not 0 or 1",
                              quote_len(strlen(t->name)), t->name, i, p[i]);
    return MD_OK;
}

/*
 * t's data from size bytes of a fixed-size datatype at p (size is t->count
 * elements' worth): BOOL bytes checked, then placed as place_fixed does.
 */
static int take_fixed(struct md_tensor *t, const unsigned char *p, size_t size, struct md_arena *a,
                      struct md_err *err)
{
    if (t->dtype == MD_DT_BOOL && check_bool(t, p, err) != MD_OK)
        return MD_EINVAL;
    t->data = place_fixed(p, size, md_dtype_size(t->dtype), a);
    if (t->data == NULL)
        return no_memory(err);
    return MD_OK;
}

/* BYTES elements from size bytes at p: each a 4-byte length, then its bytes. */
static int take_bytes(struct md_tensor *t, const unsigned char *p, size_t size, struct md_arena *a,
                      struct md_err *err)
{
    int nl = quote_len(strlen(t->name));
    struct md_bytes *v;
    size_t off = 0;
    size_t i;
    struct shape_text buf;
    int rc;

    /* Each element takes 4 bytes at least: this bounds the allocation by the body. */
    if (t->count > size / 4)
        return md_err_set(err, MD_EINVAL,
                          "input '%.*s': binary_data_size %zu is too small for the %zu BYTES "
                          "elements of shape %s (4 bytes of length each)",
                          nl, t->name, size, t->count, shape_str(t, &buf));
    rc = alloc_data(t, a, err);
    if (rc != MD_OK)
        return rc;
    v = t->data;
    for (i = 0; i < t->count; i++) {
        uint32_t n;

        if (size - off < 4)
            return md_err_set(err, MD_EINVAL,
                              "input '%.*s' element %zu: its 4-byte length runs past "
                              "binary_data_size %zu",
                              nl, t->name, i, size);
        n = le32(p + off);
        off += 4;
        if (n > size - off)
            return md_err_set(err, MD_EINVAL,
                              "input '%.*s' element %zu: length %u runs past binary_data_size %zu",
                              nl, t->name, i, n, size);
        v[i].p = (const char *)p + off;
        v[i].len = n;
        off += n;
    }
    if (off != size)
        return md_err_set(err, MD_EINVAL,
                          "input '%.*s': binary_data_size %zu holds more than the %zu BYTES "
                          "elements of shape %s (%zu bytes left over)",
                          nl, t->name, size, t->count, shape_str(t, &buf), size - off);
    return MD_OK;
}

/* The next size bytes of the binary part as t's data. */
static int take_binary(struct md_tensor *t, uint64_t size, struct bin_src *src, struct md_arena *a,
                       struct md_err *err)
{
    int nl = quote_len(strlen(t->name));
    const unsigned char *p = src->p;
    size_t need;
    struct shape_text buf;

    if (!src->header)
        return md_err_set(err, MD_EINVAL,
                          "input '%.*s': binary_data_size needs a valid "
                          "Inference-Header-Content-Length header",
                          nl, t->name);
    if (size > src->left)
        return md_err_set(err, MD_EINVAL,
                          "unexpected size for input '%.*s', expecting %llu additional bytes, "
                          "%zu left in the body",
                          nl, t->name, (unsigned long long)size, src->left);
    src->p += size;
    src->left -= (size_t)size;
    if (t->dtype == MD_DT_BYTES)
        return take_bytes(t, p, (size_t)size, a, err);
    need = t->count * elem_size(t->dtype); /* count <= 2^31, size <= 8: no overflow */
    if (size != need)
        return md_err_set(err, MD_EINVAL,
                          "input byte size mismatch for input '%.*s': shape %s of %s needs %zu "
                          "bytes, binary_data_size is %llu",
                          nl, t->name, shape_str(t, &buf), md_dtype_name(t->dtype), need,
                          (unsigned long long)size);
    return take_fixed(t, p, need, a, err);
}

static int decode_input(const struct md_jnode *in, size_t idx, struct md_tensor *t,
                        struct bin_src *src, struct md_arena *a, struct md_err *err)
{
    struct input_members im;
    struct conv cv;
    int64_t bin_size = -1;
    size_t leaves;
    bool flat;
    int rc;

    rc = find_input_members(in, idx, &im, err);
    if (rc != MD_OK)
        return rc;
    assert(im.name != NULL && im.datatype != NULL && im.shape != NULL);
    rc = take_name(im.name, a, "inputs", idx, &t->name, err);
    if (rc != MD_OK)
        return rc;
    if (im.datatype->type != MD_J_STRING)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].datatype: expected a string, got %s", idx,
                          jtype_name(im.datatype->type));
    t->dtype = md_dtype_parse(im.datatype->p, im.datatype->len);
    if (t->dtype == MD_DT_INVALID)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].datatype: '%.*s' is not a known datatype",
                          idx, quote_len(im.datatype->len), im.datatype->p);
    rc = decode_shape(im.shape, idx, t, err);
    if (rc != MD_OK)
        return rc;
    if (im.params != NULL) {
        rc = decode_input_params(im.params, idx, &bin_size, err);
        if (rc != MD_OK)
            return rc;
    }
    if (bin_size >= 0) {
        if (im.data != NULL)
            return md_err_set(err, MD_EINVAL,
                              "input '%.*s': both data and parameters.binary_data_size given",
                              quote_len(strlen(t->name)), t->name);
        return take_binary(t, (uint64_t)bin_size, src, a, err);
    }
    if (im.data == NULL)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].data: missing", idx);
    if (im.data->type != MD_J_ARRAY)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].data: expected an array, got %s", idx,
                          jtype_name(im.data->type));
    if (t->dtype == MD_DT_FP16 || t->dtype == MD_DT_BF16)
        return md_err_set(err, MD_EINVAL, "input '%.*s': %s data via JSON is not supported",
                          quote_len(strlen(t->name)), t->name, md_dtype_name(t->dtype));
    /*
     * Count before allocating, so the allocation is bounded by the body: the
     * top level holds exactly count elements (checked on the way), or the
     * leaves do.
     */
    flat = im.data->n == t->count;
    if (!flat && (leaves = count_leaves(im.data)) != t->count)
        return count_error(t, leaves, err);
    rc = alloc_data(t, a, err);
    if (rc != MD_OK)
        return rc;
    cv.t = t;
    cv.a = a;
    cv.i = 0;
    cv.err = err;
    if (flat) {
        rc = put_flat(&cv, im.data);
        if (rc != NOT_FLAT)
            return rc;
        /* It nests after all: count the leaves and start over. */
        leaves = count_leaves(im.data);
        if (leaves != t->count)
            return count_error(t, leaves, err);
        cv.i = 0;
        if (t->missing != NULL)
            memset(t->missing, 0, t->count);
    }
    return put_nested(&cv, im.data);
}

static int decode_inputs(const struct md_jnode *inputs, struct md_infer_request *req,
                         struct bin_src *src, struct md_arena *a, struct md_err *err)
{
    const struct md_jnode *in;
    const char **names;
    const char *dup;
    size_t i = 0;
    int rc;

    if (inputs->type != MD_J_ARRAY || inputs->n == 0)
        return md_err_set(err, MD_EINVAL, "inputs: expected a non-empty array, got %s",
                          inputs->type == MD_J_ARRAY ? "[]" : jtype_name(inputs->type));
    if (md_jdom_is_packed(inputs))
        return md_err_set(err, MD_EINVAL, "inputs[0]: expected an object, got %s",
                          md_jdom_packed_null(inputs, 0) ? "null" : "a number");
    req->inputs = md_arena_calloc(a, inputs->n, sizeof(*req->inputs));
    if (req->inputs == NULL)
        return no_memory(err);
    for (in = inputs->child; in != NULL; in = in->next, i++) {
        rc = decode_input(in, i, &req->inputs[i], src, a, err);
        if (rc != MD_OK)
            return rc;
    }
    req->n_inputs = inputs->n;
    if (inputs->n == 1)
        return MD_OK;
    names = md_arena_alloc(a, inputs->n * sizeof(*names));
    if (names == NULL)
        return no_memory(err);
    for (i = 0; i < inputs->n; i++)
        names[i] = req->inputs[i].name;
    find_repeat(names, inputs->n, &dup);
    if (dup != NULL)
        return md_err_set(err, MD_EINVAL, "input '%.*s' already exists in request",
                          quote_len(strlen(dup)), dup);
    return MD_OK;
}

/* ------------------------------------------------------------------------
 * Outputs
 * ------------------------------------------------------------------------ */

static int decode_output(const struct md_jnode *out, size_t idx, struct md_output_req *o,
                         struct md_arena *a, struct md_err *err)
{
    const struct md_jnode *name = NULL;
    const struct md_jnode *params = NULL;
    const struct md_jnode *m;
    int rc;

    if (out->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "outputs[%zu]: expected an object, got %s", idx,
                          jtype_name(out->type));
    for (m = out->child; m != NULL; m = m->next) {
        const struct md_jnode **slot;

        if (KEY_IS(m, "name"))
            slot = &name;
        else if (KEY_IS(m, "parameters"))
            slot = &params;
        else
            continue;
        if (*slot != NULL)
            return md_err_set(err, MD_EINVAL, "outputs[%zu]: duplicate key '%.*s'", idx,
                              (int)m->key_len, m->key);
        *slot = m;
    }
    if (name == NULL)
        return md_err_set(err, MD_EINVAL, "outputs[%zu].name: missing", idx);
    rc = take_name(name, a, "outputs", idx, &o->name, err);
    if (rc != MD_OK)
        return rc;
    if (params == NULL)
        return MD_OK;
    if (params->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "outputs[%zu].parameters: expected an object, got %s",
                          idx, jtype_name(params->type));
    for (m = params->child; m != NULL; m = m->next) {
        if (KEY_IS(m, "binary_data")) {
            if (m->type != MD_J_TRUE && m->type != MD_J_FALSE)
                return bad_param("outputs", idx, m, "a boolean", err);
            o->binary = m->type == MD_J_TRUE;
            o->binary_given = true;
        } else if (KEY_IS(m, "classification")) {
            if (m->type != MD_J_NUMBER || md_jdom_i64(m, &o->classification) != MD_OK ||
                o->classification < 0)
                return md_err_set(err, MD_EINVAL,
                                  "outputs[%zu].parameters.classification: expected a "
                                  "non-negative integer",
                                  idx);
        } else if (!is_scalar(m)) {
            return bad_param("outputs", idx, m, "a string, number or boolean", err);
        }
    }
    return MD_OK;
}

static int decode_outputs(const struct md_jnode *outputs, struct md_infer_request *req,
                          struct md_arena *a, struct md_err *err)
{
    const struct md_jnode *out;
    const char **names;
    const char *dup;
    size_t i = 0;
    int rc;

    if (outputs->type != MD_J_ARRAY)
        return md_err_set(err, MD_EINVAL, "outputs: expected an array, got %s",
                          jtype_name(outputs->type));
    if (outputs->n == 0)
        return MD_OK;
    if (md_jdom_is_packed(outputs))
        return md_err_set(err, MD_EINVAL, "outputs[0]: expected an object, got %s",
                          md_jdom_packed_null(outputs, 0) ? "null" : "a number");
    req->outputs = md_arena_calloc(a, outputs->n, sizeof(*req->outputs));
    names = md_arena_alloc(a, outputs->n * sizeof(*names));
    if (req->outputs == NULL || names == NULL)
        return no_memory(err);
    for (out = outputs->child; out != NULL; out = out->next, i++) {
        rc = decode_output(out, i, &req->outputs[i], a, err);
        if (rc != MD_OK)
            return rc;
        names[i] = req->outputs[i].name;
    }
    req->n_outputs = outputs->n;
    find_repeat(names, outputs->n, &dup);
    if (dup != NULL)
        return md_err_set(err, MD_EINVAL, "output '%.*s' already exists in request",
                          quote_len(strlen(dup)), dup);
    return MD_OK;
}

/* ------------------------------------------------------------------------
 * The request
 * ------------------------------------------------------------------------ */

/* The JSON document body[0..json_len), binary tensor data from src. */
static int decode_request(const char *body, size_t json_len, struct bin_src *src, const char *model,
                          struct md_arena *a, struct md_infer_request *req, struct md_err *err)
{
    struct md_jnode *root;
    const struct md_jnode *id = NULL;
    const struct md_jnode *params = NULL;
    const struct md_jnode *inputs = NULL;
    const struct md_jnode *outputs = NULL;
    const struct md_jnode *m;
    int rc;

    memset(req, 0, sizeof(*req));
    rc = md_jdom_parse(body, json_len,
                       MD_JDOM_NANINF | MD_JDOM_PACKED | MD_JDOM_PACKED_NULL |
                           MD_JDOM_PACKED_NANINF | MD_JDOM_PARALLEL,
                       a, &root, err);
    if (rc != MD_OK)
        return rc;
    if (root->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "request: expected a JSON object, got %s",
                          jtype_name(root->type));
    for (m = root->child; m != NULL; m = m->next) {
        const struct md_jnode **slot;

        if (KEY_IS(m, "id"))
            slot = &id;
        else if (KEY_IS(m, "parameters"))
            slot = &params;
        else if (KEY_IS(m, "inputs"))
            slot = &inputs;
        else if (KEY_IS(m, "outputs"))
            slot = &outputs;
        else
            continue;
        if (*slot != NULL)
            return md_err_set(err, MD_EINVAL, "request: duplicate key '%.*s'", (int)m->key_len,
                              m->key);
        *slot = m;
    }
    if (id != NULL) {
        if (id->type != MD_J_STRING)
            return md_err_set(err, MD_EINVAL, "id: expected a string, got %s",
                              jtype_name(id->type));
        rc = take_name(id, a, NULL, 0, &req->id, err);
        if (rc != MD_OK)
            return rc;
    }
    if (params != NULL) {
        rc = decode_request_params(params, req, err);
        if (rc != MD_OK)
            return rc;
        req->params = params;
    }
    if (inputs == NULL)
        return md_err_set(err, MD_EINVAL, "inputs: missing");
    rc = decode_inputs(inputs, req, src, a, err);
    if (rc != MD_OK)
        return rc;
    if (src->left > 0)
        return md_err_set(err, MD_EINVAL,
                          "unexpected additional input data for model '%.*s': %zu bytes after "
                          "the last input",
                          quote_len(strlen(model)), model, src->left);
    if (outputs != NULL)
        return decode_outputs(outputs, req, a, err);
    return MD_OK;
}

int md_v2_decode_infer(const char *body, size_t len, struct md_arena *a,
                       struct md_infer_request *req, struct md_err *err)
{
    struct bin_src src = {NULL, 0, false};

    return decode_request(body, len, &src, "", a, req, err);
}

int md_v2_header_length(const char *value, size_t body_len, size_t *json_len, struct md_err *err)
{
    const char *h = "Inference-Header-Content-Length";
    const char *p = value;
    uint64_t v = 0;
    bool neg = false;

    *json_len = 0;
    if (value == NULL)
        return md_err_set(err, MD_EINVAL, "%s: missing", h);
    if (*p == '-') {
        neg = true;
        p++;
    } else if (*p == '+') {
        p++;
    }
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
        return md_err_set(err, MD_EINVAL, "%s: '%.*s' is not an integer", h,
                          quote_len(strlen(value)), value);
    for (; *p != '\0'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > INT32_MAX)
            return md_err_set(err, MD_EINVAL, "%s: '%.*s' is out of range", h,
                              quote_len(strlen(value)), value);
    }
    if (neg && v > 0)
        return md_err_set(err, MD_EINVAL, "%s: '%s' is negative", h, value);
    if (v > body_len)
        return md_err_set(err, MD_EINVAL, "%s: %llu is larger than the body of %zu bytes", h,
                          (unsigned long long)v, body_len);
    *json_len = (size_t)v;
    return MD_OK;
}

int md_v2_decode_infer_binary(const char *body, size_t len, size_t json_len, const char *model,
                              struct md_arena *a, struct md_infer_request *req, struct md_err *err)
{
    struct bin_src src;

    if (json_len > len)
        return md_err_set(err, MD_EINVAL,
                          "Inference-Header-Content-Length: %zu is larger than the body of %zu "
                          "bytes",
                          json_len, len);
    src.p = (const unsigned char *)body + json_len;
    src.left = len - json_len;
    src.header = true;
    return decode_request(body, json_len, &src, model != NULL ? model : "", a, req, err);
}

int md_v2_decode_raw(const char *body, size_t len, const char *name, enum md_dtype dt, size_t width,
                     struct md_arena *a, struct md_infer_request *req, struct md_err *err)
{
    struct md_tensor *t;
    size_t esize = md_dtype_size(dt);
    size_t row;
    int rc;

    memset(req, 0, sizeof(*req));
    req->binary_output = true;
    t = md_arena_calloc(a, 1, sizeof(*t));
    if (t == NULL)
        return no_memory(err);
    t->name = md_arena_strndup(a, name, strlen(name));
    if (t->name == NULL)
        return no_memory(err);
    t->dtype = dt;
    if (dt == MD_DT_BYTES) {
        struct md_bytes *v;

        if (width != 1)
            return md_err_set(err, MD_EINVAL,
                              "raw binary request: a BYTES input is one element, not rows of %zu",
                              width);
        t->ndim = 1;
        t->shape[0] = 1;
        t->count = 1;
        rc = alloc_data(t, a, err);
        if (rc != MD_OK)
            return rc;
        v = t->data;
        v->p = body;
        v->len = len;
    } else {
        if (esize == 0 || width == 0 || width > MAX_ELEMENTS)
            return md_err_set(err, MD_EINVAL, "raw binary request: cannot take %s rows of %zu",
                              md_dtype_name(dt), width);
        row = width * esize;
        if (len == 0 || len % row != 0)
            return md_err_set(err, MD_EINVAL,
                              "raw binary request: %zu bytes is not a whole, non-zero number of "
                              "rows of %zu %s values (%zu bytes each)",
                              len, width, md_dtype_name(dt), row);
        t->ndim = 2;
        t->shape[0] = (int64_t)(len / row);
        t->shape[1] = (int64_t)width;
        if (!count_elements(t))
            return md_err_set(err, MD_EINVAL,
                              "raw binary request: %zu rows is more than %llu elements", len / row,
                              (unsigned long long)MAX_ELEMENTS);
        rc = take_fixed(t, (const unsigned char *)body, len, a, err);
        if (rc != MD_OK)
            return rc;
    }
    req->inputs = t;
    req->n_inputs = 1;
    return MD_OK;
}
