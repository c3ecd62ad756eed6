/* SPDX-License-Identifier: MIT */
/*
 * fuzz_model_yaml.c: libFuzzer target for model.yaml parsing. Arbitrary bytes
 * go to md_contract_parse; when they parse, the contract's invariants are
 * checked, an engine description built from it must pass
 * md_contract_check_engine, and small synthetic requests built from it (both
 * input forms, with nulls, in range and at odd values) go through
 * md_contract_prepare.
 */
#include "serve/contract.h"

#include <math.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define ROWS 3

/* A value for feature f in row r; variant 0 stays inside the contract. */
static double pick(const struct md_feature *f, size_t r, unsigned variant)
{
    double lo = f->has_min ? f->min : -5;
    double hi = f->has_max ? f->max : 5;
    double v = r == 0 ? lo : r == 1 ? hi : (lo + hi) / 2;

    if (variant == 1 && r == 2)
        return NAN;
    if (variant == 2 && r == 1)
        v = hi + 1;
    if (variant == 3 && r == 0)
        return 0.5;
    if (f->dtype == MD_DT_BOOL)
        return (double)(r & 1);
    if (f->dtype == MD_DT_INT32 || f->dtype == MD_DT_INT64)
        v = ceil(v);
    if (f->dtype == MD_DT_INT32 && (v < -2147483648.0 || v > 2147483647.0))
        v = 0;
    if (f->dtype == MD_DT_INT64 && !(v >= -9.2e18 && v <= 9.2e18))
        v = 0;
    return v;
}

static void fill_column(const struct md_feature *f, struct md_tensor *t, struct md_arena *a,
                        unsigned variant)
{
    size_t r;

    t->name = f->name;
    t->dtype = f->dtype;
    t->ndim = 1;
    t->shape[0] = ROWS;
    t->count = ROWS;
    t->missing = NULL;
    if (!f->required && variant == 1) {
        t->missing = md_arena_calloc(a, ROWS, 1);
        if (t->missing != NULL)
            t->missing[1] = 1;
    }
    switch (f->dtype) {
    case MD_DT_FP32: {
        float *d = md_arena_calloc(a, ROWS, sizeof(*d));
        for (r = 0; d != NULL && r < ROWS; r++)
            d[r] = (float)pick(f, r, variant);
        t->data = d;
        break;
    }
    case MD_DT_FP64: {
        double *d = md_arena_calloc(a, ROWS, sizeof(*d));
        for (r = 0; d != NULL && r < ROWS; r++)
            d[r] = pick(f, r, variant);
        t->data = d;
        break;
    }
    case MD_DT_INT32: {
        int32_t *d = md_arena_calloc(a, ROWS, sizeof(*d));
        for (r = 0; d != NULL && r < ROWS; r++)
            d[r] = f->cat_int ? (int32_t)f->cat_int[r % f->n_categories]
                              : (int32_t)pick(f, r, variant == 1 ? 0 : variant);
        t->data = d;
        break;
    }
    case MD_DT_INT64: {
        int64_t *d = md_arena_calloc(a, ROWS, sizeof(*d));
        for (r = 0; d != NULL && r < ROWS; r++)
            d[r] = f->cat_int ? f->cat_int[r % f->n_categories] + (variant == 2)
                              : (int64_t)pick(f, r, variant == 1 ? 0 : variant);
        t->data = d;
        break;
    }
    case MD_DT_BOOL: {
        uint8_t *d = md_arena_calloc(a, ROWS, 1);
        for (r = 0; d != NULL && r < ROWS; r++)
            d[r] = (uint8_t)(variant == 2 ? 2 : r & 1);
        t->data = d;
        break;
    }
    case MD_DT_BYTES: {
        struct md_bytes *d = md_arena_calloc(a, ROWS, sizeof(*d));
        for (r = 0; d != NULL && r < ROWS; r++) {
            size_t k = r % f->n_categories;
            d[r].p = f->categories[k];
            d[r].len = strlen(f->categories[k]);
            if (variant == 2 && d[r].len > 0)
                d[r].len--;
        }
        if (d != NULL && !f->required && variant == 1)
            d[2].p = NULL;
        t->data = d;
        break;
    }
    default:
        t->data = NULL;
        break;
    }
}

static void run_prepare(const struct md_contract *c, const struct md_tensor *in, size_t n,
                        struct md_arena *a)
{
    struct md_err err = {0};
    float *x = NULL;
    size_t rows = 0;
    int rc = md_contract_prepare(c, in, n, a, &x, &rows, &err);

    if (rc == MD_OK) {
        size_t i;
        volatile float sink = 0;

        CHECK(x != NULL && rows == ROWS);
        for (i = 0; i < rows * c->width; i++)
            sink += x[i];
        (void)sink;
    } else {
        CHECK(rc == MD_EINVAL || rc == MD_ETOOBIG);
        CHECK(err.msg[0] != '\0');
    }
}

static void exercise(const struct md_contract *c, unsigned variant)
{
    struct md_arena a;
    struct md_tensor *in;
    size_t j;
    size_t r;
    size_t n = 0;

    md_arena_init(&a, 64u << 20);
    in = md_arena_calloc(&a, c->n_features, sizeof(*in));
    if (in == NULL)
        goto out;
    for (j = 0; j < c->n_features; j++) {
        /* variant 3 leaves optional features out */
        if (variant == 3 && !c->features[j].required)
            continue;
        fill_column(&c->features[j], &in[n++], &a, variant);
    }
    if (n > 0)
        run_prepare(c, in, n, &a);
    if (c->bytes_feature == NULL) {
        struct md_tensor t;
        double *d = md_arena_calloc(&a, ROWS * c->n_features, sizeof(*d));
        float *f32 = md_arena_calloc(&a, ROWS * c->n_features, sizeof(*f32));

        if (d == NULL || f32 == NULL)
            goto out;
        memset(&t, 0, sizeof(t));
        for (r = 0; r < ROWS; r++) {
            for (j = 0; j < c->n_features; j++) {
                const struct md_feature *f = &c->features[j];
                double v =
                    f->cat_int ? (double)f->cat_int[r % f->n_categories] : pick(f, r, variant);

                d[r * c->n_features + j] = v;
                f32[r * c->n_features + j] = (float)v;
            }
        }
        t.name = c->input_tensor;
        t.dtype = MD_DT_FP32;
        t.ndim = 2;
        t.shape[0] = ROWS;
        t.shape[1] = (int64_t)c->n_features;
        t.count = ROWS * c->n_features;
        t.data = f32;
        run_prepare(c, &t, 1, &a);
        t.dtype = MD_DT_FP64;
        t.data = d;
        if (variant == 1) {
            t.missing = md_arena_calloc(&a, t.count, 1);
            if (t.missing != NULL)
                t.missing[t.count - 1] = 1;
        }
        run_prepare(c, &t, 1, &a);
    }
out:
    md_arena_release(&a);
}

static void check_invariants(const struct md_contract *c)
{
    struct md_backend_desc d;
    struct md_err err = {0};
    size_t col = 0;
    size_t j;

    CHECK(c->name && c->backend && c->artifact && c->input_tensor);
    CHECK(c->n_features >= 1 && c->n_outputs >= 1);
    for (j = 0; j < c->n_features; j++) {
        const struct md_feature *f = &c->features[j];

        CHECK(md_contract_feature(c, f->name) == f);
        CHECK(f->column == col);
        CHECK(f->required == (f->missing == MD_MISSING_REJECT));
        col += f->width;
    }
    CHECK(col == c->width);
    CHECK(c->n_keys <= MD_CONTRACT_MAX_KEYS && (c->n_keys == 0) == (c->keys == NULL));
    for (j = 0; j < c->n_keys; j++) {
        const struct md_key *k = &c->keys[j];

        /* A key is never an input: no feature and not the 2-D input has its name. */
        CHECK(md_contract_feature(c, k->name) == NULL);
        CHECK(strcmp(k->name, c->input_tensor) != 0);
        CHECK(md_contract_key(c, k->name, strlen(k->name)) == k);
        CHECK(k->type == MD_KEY_STRING ? k->max_length >= 1 && k->max_length <= MD_KEY_MAX_LENGTH
                                       : k->max_length == MD_KEY_INT64_LENGTH);
        CHECK(k->header == NULL || k->header[0] != '\0');
    }
    for (j = 0; j < c->width; j++)
        CHECK(c->column_names[j] != NULL);
    memset(&d, 0, sizeof(d));
    d.n_features = c->width;
    d.feature_names = (const char *const *)c->column_names;
    if (c->task == MD_TASK_REGRESSION) {
        d.kind = MD_BACKEND_OUT_VALUE;
        d.n_outputs = 1;
    } else if (c->n_labels == 2) {
        d.kind = MD_BACKEND_OUT_PROBABILITY;
        d.n_outputs = 1;
    } else {
        d.kind = MD_BACKEND_OUT_PROBABILITIES;
        d.n_outputs = c->n_labels;
    }
    CHECK(md_contract_check_engine(c, &d, &err) == MD_OK);
    /* A width that differs: fewer names than the contract's columns, then
     * more columns and no names (feature_names holds n_features names or is NULL). */
    d.n_features--;
    CHECK(md_contract_check_engine(c, &d, &err) == MD_EINVAL);
    d.n_features += 2;
    d.feature_names = NULL;
    CHECK(md_contract_check_engine(c, &d, &err) == MD_EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_contract *c = NULL;
    struct md_err err = {0};
    unsigned variant;
    int rc = md_contract_parse((const char *)data, size, size % 2 ? "m" : NULL, &c, &err);

    if (rc != MD_OK) {
        CHECK(c == NULL);
        CHECK(rc == MD_EINVAL || rc == MD_ENOMEM);
        CHECK(err.msg[0] != '\0');
        return 0;
    }
    check_invariants(c);
    for (variant = 0; variant < 4; variant++)
        exercise(c, variant);
    md_contract_free(c);
    return 0;
}
