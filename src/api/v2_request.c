/* SPDX-License-Identifier: MIT */
/*
 * v2_request.c: an Open Inference Protocol infer request body, parsed with
 * jdom and decoded into tensors in the request's arena.
 *
 * Each object is read in two steps: its members are found first (JSON
 * objects are unordered, so "data" may come before "shape"), then checked
 * and converted. Structural errors name the JSON path ("inputs[1].shape:
 * ..."); data errors name the input and the element. Matching the inputs
 * against a model's contract is left to serve/; binary tensor data (the
 * Inference-Header-Content-Length extension) is not decoded here yet.
 */
#include "api/v2_request.h"

#include <assert.h>
#include <math.h>

#include "util/jdom.h"

/* The most elements one input may declare: far above any JSON body we accept. */
#define MAX_ELEMENTS ((uint64_t)1 << 31)
/* How much of a client's name or number text goes into a message. */
#define QUOTE_MAX 64

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

/* "[2,3]" into buf. */
static const char *shape_str(const struct md_tensor *t, char *buf, size_t size)
{
    size_t off = 0;
    int i;

    off += (size_t)snprintf(buf, size, "[");
    for (i = 0; i < t->ndim && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%lld", i > 0 ? "," : "",
                                (long long)t->shape[i]);
    if (off < size)
        snprintf(buf + off, size - off, "]");
    return buf;
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

static bool is_integral_text(const struct md_jnode *v)
{
    return memchr(v->p, '.', v->len) == NULL && memchr(v->p, 'e', v->len) == NULL &&
           memchr(v->p, 'E', v->len) == NULL;
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

/* Converts the leaves of a nested array; depth is bounded by the parser's limit. */
static int put_nested(struct conv *cv, const struct md_jnode *arr)
{
    const struct md_jnode *c;
    int rc;

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
    char buf[MD_TENSOR_MAX_DIMS * 21 + 4];

    return md_err_set(err, MD_EINVAL, "input '%.*s': data has %zu elements but shape %s needs %zu",
                      quote_len(strlen(t->name)), t->name, leaves, shape_str(t, buf, sizeof(buf)),
                      t->count);
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

static int decode_shape(const struct md_jnode *shape, size_t idx, struct md_tensor *t,
                        struct md_err *err)
{
    const struct md_jnode *d;
    uint64_t count = 1;
    bool zero = false;
    bool big = false;
    char buf[MD_TENSOR_MAX_DIMS * 21 + 4];

    if (shape->type != MD_J_ARRAY)
        return md_err_set(err, MD_EINVAL,
                          "inputs[%zu].shape: expected an array of non-negative integers", idx);
    if (shape->n > MD_TENSOR_MAX_DIMS)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].shape: %zu dimensions, at most %d allowed",
                          idx, shape->n, MD_TENSOR_MAX_DIMS);
    t->ndim = 0;
    for (d = shape->child; d != NULL; d = d->next) {
        int64_t v;

        if (d->type != MD_J_NUMBER || md_jdom_i64(d, &v) != MD_OK || v < 0)
            return md_err_set(err, MD_EINVAL,
                              "inputs[%zu].shape: expected an array of non-negative integers", idx);
        t->shape[t->ndim++] = v;
        if (v == 0)
            zero = true;
        else if (__builtin_mul_overflow(count, (uint64_t)v, &count) || count > MAX_ELEMENTS)
            big = true;
    }
    if (zero) {
        count = 0;
    } else if (big) {
        return md_err_set(err, MD_EINVAL, "inputs[%zu].shape: %s is more than %llu elements", idx,
                          shape_str(t, buf, sizeof(buf)), (unsigned long long)MAX_ELEMENTS);
    }
    t->count = (size_t)count;
    return MD_OK;
}

static int decode_input_params(const struct md_jnode *params, size_t idx, struct md_tensor *t,
                               struct md_err *err)
{
    const struct md_jnode *m;

    if (params->type != MD_J_OBJECT)
        return md_err_set(err, MD_EINVAL, "inputs[%zu].parameters: expected an object, got %s", idx,
                          jtype_name(params->type));
    for (m = params->child; m != NULL; m = m->next) {
        if (KEY_IS(m, "binary_data_size"))
            return md_err_set(err, MD_EUNSUPPORTED,
                              "input '%.*s': binary tensor data needs the "
                              "Inference-Header-Content-Length header",
                              quote_len(strlen(t->name)), t->name);
        if (!is_scalar(m))
            return bad_param("inputs", idx, m, "a string, number or boolean", err);
    }
    return MD_OK;
}

static int decode_input(const struct md_jnode *in, size_t idx, struct md_tensor *t,
                        struct md_arena *a, struct md_err *err)
{
    struct input_members im;
    struct conv cv;
    size_t esize;
    size_t bytes;
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
        rc = decode_input_params(im.params, idx, t, err);
        if (rc != MD_OK)
            return rc;
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
    esize = t->dtype == MD_DT_BYTES ? sizeof(struct md_bytes) : md_dtype_size(t->dtype);
    bytes = t->count * esize; /* count <= 2^31, esize <= 16: no overflow */
    t->data = md_arena_alloc(a, bytes > 0 ? bytes : 1);
    if (t->data == NULL)
        return no_memory(err);
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
                         struct md_arena *a, struct md_err *err)
{
    const struct md_jnode *in;
    const char **names;
    const char *dup;
    size_t i = 0;
    int rc;

    if (inputs->type != MD_J_ARRAY || inputs->n == 0)
        return md_err_set(err, MD_EINVAL, "inputs: expected a non-empty array, got %s",
                          inputs->type == MD_J_ARRAY ? "[]" : jtype_name(inputs->type));
    req->inputs = md_arena_calloc(a, inputs->n, sizeof(*req->inputs));
    if (req->inputs == NULL)
        return no_memory(err);
    for (in = inputs->child; in != NULL; in = in->next, i++) {
        rc = decode_input(in, i, &req->inputs[i], a, err);
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

int md_v2_decode_infer(const char *body, size_t len, struct md_arena *a,
                       struct md_infer_request *req, struct md_err *err)
{
    struct md_jnode *root;
    const struct md_jnode *id = NULL;
    const struct md_jnode *params = NULL;
    const struct md_jnode *inputs = NULL;
    const struct md_jnode *outputs = NULL;
    const struct md_jnode *m;
    int rc;

    memset(req, 0, sizeof(*req));
    rc = md_jdom_parse(body, len, 0, a, &root, err);
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
    }
    if (inputs == NULL)
        return md_err_set(err, MD_EINVAL, "inputs: missing");
    rc = decode_inputs(inputs, req, a, err);
    if (rc != MD_OK)
        return rc;
    if (outputs != NULL)
        return decode_outputs(outputs, req, a, err);
    return MD_OK;
}
