/* SPDX-License-Identifier: MIT */
/*
 * contract_rows.c: JSON-lines rows through a contract (see contract_rows.h).
 * Rows are gathered a chunk at a time into columnar tensors, one per
 * feature (an absent or null value flagged missing), and each chunk goes
 * through md_contract_prepare as a request's would.
 */
#include "serve/contract_rows.h"
#include "serve/tensor.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>

#define CHUNK      1024       /* rows prepared at once */
#define LINE_MAX_B (1u << 20) /* bytes of one line at most */
#define ARENA_MAX  ((size_t)256 << 20)

/* One chunk's columns: values as the tensors hold them, and the JSON they came from. */
struct chunk {
    struct md_tensor *t; /* one per feature */
    json_t *rows[CHUNK]; /* the parsed lines (references) */
    size_t lines[CHUNK]; /* their line numbers */
    size_t n;
};

static size_t dtype_size(enum md_dtype dt)
{
    return dt == MD_DT_BYTES ? sizeof(struct md_bytes) : md_dtype_size(dt);
}

/* Fills element i of t from the JSON value v (NULL or null: missing). MD_EINVAL
 * when v is not of the feature's kind. */
static int put_value(struct md_tensor *t, size_t i, const json_t *v, size_t line,
                     struct md_err *err)
{
    t->missing[i] = 0;
    if (v == NULL || json_is_null(v)) {
        t->missing[i] = 1;
        memset((char *)t->data + i * dtype_size(t->dtype), 0, dtype_size(t->dtype));
        return MD_OK;
    }
    switch (t->dtype) {
    case MD_DT_BYTES:
        if (!json_is_string(v))
            break;
        ((struct md_bytes *)t->data)[i] =
            (struct md_bytes){json_string_value(v), json_string_length(v)};
        return MD_OK;
    case MD_DT_BOOL:
        if (!json_is_boolean(v) && !json_is_integer(v))
            break;
        ((uint8_t *)t->data)[i] = json_is_boolean(v) ? json_is_true(v) : json_integer_value(v) != 0;
        return MD_OK;
    case MD_DT_INT32:
    case MD_DT_INT64: {
        double d = json_number_value(v);

        if (!json_is_number(v) || d != floor(d))
            break;
        if (t->dtype == MD_DT_INT32 && (d < INT32_MIN || d > INT32_MAX))
            return md_err_set(err, MD_EINVAL, "line %zu: feature '%s': %.0f is outside INT32", line,
                              t->name, d);
        if (t->dtype == MD_DT_INT32 && json_is_integer(v))
            ((int32_t *)t->data)[i] = (int32_t)json_integer_value(v);
        else if (t->dtype == MD_DT_INT32)
            ((int32_t *)t->data)[i] = (int32_t)d;
        else
            ((int64_t *)t->data)[i] = json_is_integer(v) ? json_integer_value(v) : (int64_t)d;
        return MD_OK;
    }
    case MD_DT_FP64:
        if (!json_is_number(v))
            break;
        ((double *)t->data)[i] = json_number_value(v);
        return MD_OK;
    default:
        if (!json_is_number(v))
            break;
        ((float *)t->data)[i] = (float)json_number_value(v);
        return MD_OK;
    }
    return md_err_set(err, MD_EINVAL, "line %zu: feature '%s': not a %s value", line, t->name,
                      md_dtype_name(t->dtype));
}

/* The target and weight of one row into y, w. */
static int put_target(const struct md_contract *c, const json_t *row, size_t line, float *y,
                      float *w, struct md_err *err)
{
    const json_t *wt = json_object_get(row, "weight");

    if (c->task == MD_TASK_REGRESSION) {
        const json_t *v = json_object_get(row, "value");

        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return md_err_set(err, MD_EINVAL, "line %zu: value: missing or not a finite number",
                              line);
        *y = (float)json_number_value(v);
    } else {
        const char *label = json_string_value(json_object_get(row, "label"));
        size_t k;

        if (label == NULL)
            return md_err_set(err, MD_EINVAL, "line %zu: label: missing or not a text", line);
        for (k = 0; k < c->n_labels; k++)
            if (strcmp(c->labels[k], label) == 0)
                break;
        if (k == c->n_labels)
            return md_err_set(err, MD_EINVAL,
                              "line %zu: label: '%.64s' is not a class of model "
                              "'%s'",
                              line, label, c->name);
        *y = (float)k;
    }
    *w = 1;
    if (wt != NULL) {
        double d = json_number_value(wt);

        if (!json_is_number(wt) || !(d > 0) || !isfinite(d))
            return md_err_set(err, MD_EINVAL, "line %zu: weight: not a number above 0", line);
        *w = (float)d;
    }
    return MD_OK;
}

static void chunk_clear(struct chunk *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        json_decref(ch->rows[i]);
    ch->n = 0;
}

/* Prepares the chunk's rows and appends them to out. */
static int flush(const struct md_contract *c, struct chunk *ch, struct md_contract_rows *out,
                 size_t *cap, struct md_err *err)
{
    struct md_arena a;
    float *x = NULL;
    size_t n = 0;
    int rc = MD_OK;

    if (ch->n == 0)
        return MD_OK;
    for (size_t f = 0; f < c->n_features && rc == MD_OK; f++) {
        ch->t[f].shape[0] = (int64_t)ch->n;
        ch->t[f].count = ch->n;
        for (size_t i = 0; i < ch->n && rc == MD_OK; i++)
            rc = put_value(
                &ch->t[f], i,
                json_object_get(json_object_get(ch->rows[i], "features"), c->features[f].name),
                ch->lines[i], err);
    }
    if (rc != MD_OK)
        return rc;
    if (out->n_rows + ch->n > *cap) {
        size_t ncap = *cap == 0 ? CHUNK : *cap;

        while (ncap < out->n_rows + ch->n)
            ncap *= 2;
        out->x = md_xrealloc(out->x, ncap * (c->width > 0 ? c->width : 1) * sizeof(float));
        out->y = md_xrealloc(out->y, ncap * sizeof(float));
        out->w = md_xrealloc(out->w, ncap * sizeof(float));
        *cap = ncap;
    }
    for (size_t i = 0; i < ch->n && rc == MD_OK; i++)
        rc = put_target(c, ch->rows[i], ch->lines[i], &out->y[out->n_rows + i],
                        &out->w[out->n_rows + i], err);
    if (rc != MD_OK)
        return rc;
    md_arena_init(&a, ARENA_MAX);
    rc = md_contract_prepare(c, ch->t, c->n_features, &a, &x, &n, err);
    if (rc != MD_OK) {
        /* The message names the row within the chunk: say which line that is. */
        md_err_prefix(err, "lines %zu-%zu: ", ch->lines[0], ch->lines[ch->n - 1]);
    } else {
        memcpy(out->x + out->n_rows * c->width, x, n * c->width * sizeof(float));
        out->n_rows += n;
    }
    md_arena_release(&a);
    chunk_clear(ch);
    return rc;
}

static int read_lines(const struct md_contract *c, FILE *fp, size_t max_rows, struct chunk *ch,
                      struct md_contract_rows *out, struct md_err *err)
{
    char *line = NULL;
    size_t cap_line = 0;
    size_t cap = 0;
    size_t lineno = 0;
    ssize_t len;
    int rc = MD_OK;

    while (rc == MD_OK && (len = getline(&line, &cap_line, fp)) >= 0) {
        json_error_t je;
        json_t *row;

        lineno++;
        if (len == 0 || (len == 1 && line[0] == '\n'))
            continue;
        if ((size_t)len > LINE_MAX_B) {
            rc = md_err_set(err, MD_EINVAL, "line %zu: longer than %u bytes", lineno, LINE_MAX_B);
            break;
        }
        if (out->n_rows + ch->n >= max_rows) {
            rc = md_err_set(err, MD_EINVAL, "more than %zu rows", max_rows);
            break;
        }
        row = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(row) || !json_is_object(json_object_get(row, "features"))) {
            json_decref(row);
            rc =
                md_err_set(err, MD_EINVAL, "line %zu: not a JSON object with \"features\"", lineno);
            break;
        }
        ch->rows[ch->n] = row;
        ch->lines[ch->n++] = lineno;
        if (ch->n == CHUNK)
            rc = flush(c, ch, out, &cap, err);
    }
    if (rc == MD_OK && ferror(fp))
        rc = md_err_set(err, MD_EIO, "cannot read: %s", strerror(errno));
    if (rc == MD_OK)
        rc = flush(c, ch, out, &cap, err);
    free(line);
    return rc;
}

int md_contract_rows_read(const struct md_contract *c, const char *path, size_t max_rows,
                          struct md_contract_rows *out, struct md_err *err)
{
    struct chunk *ch;
    FILE *fp;
    int rc;

    memset(out, 0, sizeof(*out));
    out->width = c->width;
    fp = fopen(path, "r");
    if (fp == NULL)
        return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    ch = md_xcalloc(1, sizeof(*ch));
    ch->t = md_xcalloc(c->n_features > 0 ? c->n_features : 1, sizeof(*ch->t));
    for (size_t f = 0; f < c->n_features; f++) {
        ch->t[f].name = c->features[f].name;
        ch->t[f].dtype = c->features[f].dtype;
        ch->t[f].ndim = 1;
        ch->t[f].data = md_xcalloc(CHUNK, dtype_size(c->features[f].dtype));
        ch->t[f].missing = md_xcalloc(CHUNK, 1);
    }
    rc = read_lines(c, fp, max_rows, ch, out, err);
    chunk_clear(ch);
    for (size_t f = 0; f < c->n_features; f++) {
        free(ch->t[f].data);
        free(ch->t[f].missing);
    }
    free(ch->t);
    free(ch);
    (void)fclose(fp);
    if (rc != MD_OK) {
        {
            const char *base = strrchr(path, '/');

            md_err_prefix(err, "%s: ", base != NULL ? base + 1 : path);
        }
        md_contract_rows_release(out);
    }
    return rc;
}

void md_contract_rows_release(struct md_contract_rows *rows)
{
    free(rows->x);
    free(rows->y);
    free(rows->w);
    memset(rows, 0, sizeof(*rows));
}
