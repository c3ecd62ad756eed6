/* SPDX-License-Identifier: MIT */
/*
 * dataset.c: training sets (learn/dataset.h). Reads a model's labelled
 * prediction rows from the store a page at a time (newest first, so a
 * bound on rows keeps the newest), joins the rows of a base dataset (a CSV
 * file checked here against what the spec says of the model), splits off
 * the newest rows as the holdout, and writes JSON lines or CSV. The store
 * layer does the SQL; what a row means (its weight, whether its label is
 * one of the classes, whether its features are still kept) is decided
 * here. Which model and window a set covers is the caller's business.
 */
#include "learn/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/sys.h"

#define PAGE_ROWS     5000              /* store rows read by one store job */
#define CSV_MAX_COLS  10000             /* columns a base dataset may have */
#define BASE_MAX_SIZE ((size_t)4 << 30) /* bytes of a base dataset's file read at most */
#define OUT_FLUSH     (1 << 16)         /* bytes an output buffers before a write */

/* One row of a set: from the store (request_id not NULL) or the base dataset. */
struct row {
    int64_t at_ms;    /* prediction time; 0 for base rows */
    int64_t row;      /* the row in its request */
    char *request_id; /* NULL for base rows */
    char *features;   /* a JSON object's text */
    double value;     /* regression: the target */
    double weight;
    int label; /* classification: index in spec->labels */
    enum { SRC_FEEDBACK, SRC_EXPERT, SRC_BASE } source;
};

struct rows {
    struct row *v;
    size_t n, cap;
};

/* A set as read: store rows newest first, then base rows in file order. */
struct set {
    struct rows store;
    struct rows base;
    uint64_t skipped;
};

static const char *const source_names[] = {"feedback", "expert", "base"};

static void rows_free(struct rows *r)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        free(r->v[i].request_id);
        free(r->v[i].features);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static void set_free(struct set *s)
{
    rows_free(&s->store);
    rows_free(&s->base);
}

/* Appends a copy of *x (its strings copied); MD_ENOMEM when memory runs out. */
static int rows_push(struct rows *r, const struct row *x, const char *features, size_t flen,
                     const char *request_id)
{
    struct row *e;

    if (r->n == r->cap) {
        size_t cap = r->cap == 0 ? 256 : r->cap * 2;
        struct row *v = md_realloc(r->v, cap * sizeof(*v));

        if (v == NULL)
            return MD_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    e = &r->v[r->n];
    *e = *x;
    e->request_id = NULL;
    e->features = md_malloc(flen + 1);
    if (e->features == NULL)
        return MD_ENOMEM;
    memcpy(e->features, features, flen);
    e->features[flen] = '\0';
    if (request_id != NULL) {
        e->request_id = md_malloc(strlen(request_id) + 1);
        if (e->request_id == NULL) {
            free(e->features);
            return MD_ENOMEM;
        }
        memcpy(e->request_id, request_id, strlen(request_id) + 1);
    }
    r->n++;
    return MD_OK;
}

/* The index of label text among the spec's classes, or -1. */
static int label_index(const struct md_dataset_spec *spec, const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < spec->n_labels; i++)
        if (strlen(spec->labels[i]) == len && memcmp(spec->labels[i], text, len) == 0)
            return (int)i;
    return -1;
}

/* Appends d as the shortest of 15 and 17 significant digits that reads back as d. */
static void put_double(struct md_buf *b, double d)
{
    char text[40];
    int n;

    if (!isfinite(d)) {
        (void)md_buf_puts(b, "null");
        return;
    }
    n = snprintf(text, sizeof(text), "%.15g", d);
    if (strtod(text, NULL) != d)
        n = snprintf(text, sizeof(text), "%.17g", d);
    (void)md_buf_append(b, text, (size_t)n);
}

/* ------------------------------------------------------------ store rows */

struct collect {
    const struct md_dataset_spec *spec;
    struct md_store_training_filter f;
    struct set *set;
    size_t seen; /* rows the page held */
    int code;    /* MD_ENOMEM once memory ran out */
};

static void on_row(void *ctx, const struct md_store_training_row *r)
{
    struct collect *c = ctx;
    const struct md_dataset_spec *spec = c->spec;
    struct row x;

    c->seen++;
    c->f.before_at_ms = r->at_ms;
    c->f.before_id = r->id;
    if (c->code != MD_OK || (spec->max_rows > 0 && c->set->store.n >= spec->max_rows))
        return;
    memset(&x, 0, sizeof(x));
    x.at_ms = r->at_ms;
    x.row = r->row;
    x.source = strcmp(r->source, "expert") == 0 ? SRC_EXPERT : SRC_FEEDBACK;
    x.weight = x.source == SRC_EXPERT ? spec->expert_weight : 1.0;
    x.value = NAN;
    x.label = -1;
    if (r->features == NULL || r->features[0] != '{') {
        c->set->skipped++;
        return;
    }
    if (spec->regression) {
        if (!isfinite(r->value)) {
            c->set->skipped++;
            return;
        }
        x.value = r->value;
    } else {
        x.label = label_index(spec, r->label, strlen(r->label));
        if (x.label < 0) {
            c->set->skipped++;
            return;
        }
    }
    if (rows_push(&c->set->store, &x, r->features, strlen(r->features), r->request_id) != MD_OK)
        c->code = MD_ENOMEM;
}

static int run_page(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct collect *c = ctx;

    c->seen = 0;
    return md_store_tx_training_rows(tx, &c->f, on_row, c, err);
}

/* The labelled rows of spec's window, newest first, a store job per page. */
static int read_store(struct md_store *s, const struct md_dataset_spec *spec, struct set *set,
                      struct md_err *err)
{
    struct collect c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.spec = spec;
    c.set = set;
    c.f.model = spec->model;
    c.f.regression = spec->regression;
    c.f.since_ms = spec->since_ms;
    c.f.until_ms = spec->until_ms;
    c.f.limit = PAGE_ROWS;
    do {
        rc = md_store_call(s, run_page, &c, err);
        if (rc != MD_OK)
            return rc;
        if (c.code != MD_OK)
            return md_err_set(err, MD_ENOMEM, "training set: out of memory after %zu rows",
                              set->store.n);
    } while (c.seen == PAGE_ROWS && (spec->max_rows == 0 || set->store.n < spec->max_rows));
    return MD_OK;
}

/* ----------------------------------------------------------- CSV reading */

/* A CSV text read record by record (RFC 4180: quoted cells may hold commas,
 * doubled quotes and line breaks; lines end in LF or CRLF). */
struct csv {
    const char *p;
    size_t len;
    size_t pos;
    size_t line;     /* the physical line pos is on, from 1 */
    struct md_buf b; /* the record's cells, each NUL-terminated */
    size_t off[CSV_MAX_COLS];
    size_t n; /* cells of the record */
};

/* Starts reading text; a UTF-8 byte order mark (as spreadsheets write) is skipped. */
static void csv_start(struct csv *c, const char *text, size_t len)
{
    c->p = text;
    c->len = len;
    c->pos = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    c->line = 1;
    md_buf_init(&c->b, (size_t)1 << 30);
}

static const char *cell(const struct csv *c, size_t i)
{
    return c->b.data + c->off[i];
}

/* Reads the next record: 1, or 0 at the end, or MD_EINVAL naming its line.
 * Blank lines are skipped. *line is the line the record starts on. */
static int csv_next(struct csv *c, size_t *line, struct md_err *err)
{
    for (;;) {
        if (c->pos >= c->len)
            return 0;
        if (c->p[c->pos] == '\n') {
            c->pos++;
            c->line++;
            continue;
        }
        if (c->p[c->pos] == '\r' && c->pos + 1 < c->len && c->p[c->pos + 1] == '\n') {
            c->pos += 2;
            c->line++;
            continue;
        }
        break;
    }
    *line = c->line;
    md_buf_reset(&c->b);
    c->n = 0;
    for (;;) {
        if (c->n == CSV_MAX_COLS)
            return md_err_set(err, MD_EINVAL, "line %zu: more than %d columns", *line,
                              CSV_MAX_COLS);
        c->off[c->n++] = c->b.len;
        if (c->pos < c->len && c->p[c->pos] == '"') {
            c->pos++;
            for (;;) {
                char ch;

                if (c->pos >= c->len)
                    return md_err_set(err, MD_EINVAL, "line %zu: a quoted cell is not closed",
                                      *line);
                ch = c->p[c->pos];
                if (ch == '"') {
                    if (c->pos + 1 < c->len && c->p[c->pos + 1] == '"') {
                        (void)md_buf_putc(&c->b, '"');
                        c->pos += 2;
                        continue;
                    }
                    c->pos++;
                    break;
                }
                if (ch == '\0')
                    return md_err_set(err, MD_EINVAL, "line %zu: a NUL byte", c->line);
                if (ch == '\n')
                    c->line++;
                (void)md_buf_putc(&c->b, ch);
                c->pos++;
            }
            if (c->pos < c->len && c->p[c->pos] != ',' && c->p[c->pos] != '\n' &&
                !(c->p[c->pos] == '\r' && c->pos + 1 < c->len && c->p[c->pos + 1] == '\n'))
                return md_err_set(err, MD_EINVAL,
                                  "line %zu: text after a quoted cell's closing quote", c->line);
        } else {
            while (c->pos < c->len) {
                char ch = c->p[c->pos];

                if (ch == ',' || ch == '\n' ||
                    (ch == '\r' && c->pos + 1 < c->len && c->p[c->pos + 1] == '\n'))
                    break;
                if (ch == '\0')
                    return md_err_set(err, MD_EINVAL, "line %zu: a NUL byte", c->line);
                (void)md_buf_putc(&c->b, ch);
                c->pos++;
            }
        }
        (void)md_buf_putc(&c->b, '\0');
        if (md_buf_error(&c->b) != MD_OK)
            return md_err_set(err, MD_ENOMEM, "line %zu: out of memory", *line);
        if (c->pos < c->len && c->p[c->pos] == ',') {
            c->pos++;
            continue;
        }
        if (c->pos < c->len) {
            c->pos += c->p[c->pos] == '\r' ? 2 : 1;
            c->line++;
        }
        return 1;
    }
}

/* What a column of a base dataset is. */
enum col_role { COL_FEATURE = 1, COL_TARGET, COL_WEIGHT, COL_IGNORED };

struct col {
    enum col_role role;
    size_t feature; /* COL_FEATURE: its index in the spec */
};

/* Told each data row of a base dataset: its features as a JSON object's
 * text, its target (label index or value) and the weight its cell gave. */
typedef int (*csv_row_fn)(void *ctx, const char *features, size_t len, int label, double value,
                          double weight);

/* Whether text is a number with nothing around it; its value into *out. */
static bool parse_number(const char *text, double *out)
{
    char *end;

    if (text[0] == '\0' || text[0] == ' ' || text[0] == '\t')
        return false;
    errno = 0;
    *out = strtod(text, &end);
    return *end == '\0' && errno == 0 && isfinite(*out);
}

/* Reads the header: each column's role; MD_EINVAL naming the column at fault. */
static int csv_header(const struct md_dataset_spec *spec, const struct csv *c, struct col *cols,
                      struct md_err *err)
{
    const char *target = spec->regression ? "value" : "label";
    bool has_target = false;
    size_t i, j;

    for (i = 0; i < c->n; i++) {
        const char *name = cell(c, i);

        for (j = 0; j < i; j++)
            if (strcmp(cell(c, j), name) == 0)
                return md_err_set(err, MD_EINVAL, "line 1: column '%.64s' appears twice", name);
        cols[i].role = 0;
        for (j = 0; j < spec->n_features; j++)
            if (strcmp(spec->features[j], name) == 0) {
                cols[i].role = COL_FEATURE;
                cols[i].feature = j;
            }
        if (cols[i].role != 0)
            continue;
        if (strcmp(name, target) == 0) {
            cols[i].role = COL_TARGET;
            has_target = true;
        } else if (strcmp(name, "weight") == 0) {
            cols[i].role = COL_WEIGHT;
        } else if (strcmp(name, "source") == 0 || strcmp(name, "at_ms") == 0) {
            cols[i].role = COL_IGNORED;
        } else if (strcmp(name, spec->regression ? "label" : "value") == 0) {
            return md_err_set(err, MD_EINVAL,
                              "line 1, column '%s': the target of a %s model is '%s'", name,
                              spec->regression ? "regression" : "classification", target);
        } else {
            return md_err_set(err, MD_EINVAL,
                              "line 1, column '%.64s': not a feature of the model, nor %s, "
                              "weight, source or at_ms",
                              name, target);
        }
    }
    for (j = 0; j < spec->n_features; j++) {
        bool found = false;

        if (spec->optional != NULL && spec->optional[j])
            continue;
        for (i = 0; i < c->n && !found; i++)
            found = cols[i].role == COL_FEATURE && cols[i].feature == j;
        if (!found)
            return md_err_set(err, MD_EINVAL, "line 1: no column for the required feature '%s'",
                              spec->features[j]);
    }
    if (!has_target)
        return md_err_set(err, MD_EINVAL, "line 1: no column '%s' (the target)", target);
    return MD_OK;
}

/* Checks one data row and turns it into a JSON object in *json. */
static int csv_row(const struct md_dataset_spec *spec, const struct csv *c, const struct col *cols,
                   size_t line, struct md_buf *json, int *label, double *value, double *weight,
                   struct md_err *err)
{
    bool first = true;
    size_t i;

    *label = -1;
    *value = NAN;
    *weight = 1.0;
    md_buf_reset(json);
    (void)md_buf_putc(json, '{');
    for (i = 0; i < c->n; i++) {
        const char *t = cell(c, i);
        double d;

        switch (cols[i].role) {
        case COL_FEATURE: {
            size_t f = cols[i].feature;
            const char *name = spec->features[f];

            if (t[0] == '\0') {
                if (spec->optional != NULL && spec->optional[f])
                    continue;
                return md_err_set(err, MD_EINVAL,
                                  "line %zu, column '%s': empty, and the feature is required", line,
                                  name);
            }
            if (!first)
                (void)md_buf_putc(json, ',');
            first = false;
            (void)md_buf_json_str(json, name, strlen(name));
            (void)md_buf_putc(json, ':');
            if (spec->text != NULL && spec->text[f]) {
                (void)md_buf_json_str(json, t, strlen(t));
            } else if (strcasecmp(t, "true") == 0 || strcasecmp(t, "false") == 0) {
                (void)md_buf_puts(json, (t[0] == 't' || t[0] == 'T') ? "true" : "false");
            } else if (parse_number(t, &d)) {
                put_double(json, d);
            } else {
                return md_err_set(err, MD_EINVAL, "line %zu, column '%s': '%.40s' is not a number",
                                  line, name, t);
            }
            break;
        }
        case COL_TARGET:
            if (spec->regression) {
                if (!parse_number(t, value))
                    return md_err_set(err, MD_EINVAL,
                                      "line %zu, column 'value': '%.40s' is not a number", line, t);
            } else {
                *label = label_index(spec, t, strlen(t));
                if (*label < 0 && parse_number(t, &d) && d >= 0 && d < (double)spec->n_labels &&
                    d == floor(d))
                    *label = (int)d;
                if (*label < 0)
                    return md_err_set(err, MD_EINVAL,
                                      "line %zu, column 'label': '%.40s' is not one of the model's "
                                      "labels (nor a label's index from 0)",
                                      line, t);
            }
            break;
        case COL_WEIGHT:
            if (t[0] != '\0' && (!parse_number(t, weight) || *weight < 0))
                return md_err_set(err, MD_EINVAL,
                                  "line %zu, column 'weight': '%.40s' is not a weight (a number "
                                  ">= 0)",
                                  line, t);
            break;
        default:
            break;
        }
    }
    (void)md_buf_putc(json, '}');
    if (md_buf_error(json) != MD_OK)
        return md_err_set(err, MD_ENOMEM, "line %zu: out of memory", line);
    return MD_OK;
}

/* Reads a whole base dataset, checking it, and tells fn (may be NULL) each row. */
static int csv_walk(const struct md_dataset_spec *spec, const char *text, size_t len, csv_row_fn fn,
                    void *ctx, uint64_t *rows, struct md_err *err)
{
    struct csv *c = md_calloc(1, sizeof(*c));
    struct col *cols = NULL;
    struct md_buf json;
    size_t line = 1;
    int rc;

    *rows = 0;
    if (c == NULL)
        return md_err_set(err, MD_ENOMEM, "out of memory");
    md_buf_init(&json, (size_t)1 << 30);
    csv_start(c, text, len);
    rc = csv_next(c, &line, err);
    if (rc == 0) {
        rc = md_err_set(err, MD_EINVAL, "the file is empty: a header row is needed");
        goto out;
    }
    if (rc < 0)
        goto out;
    if (line != 1) {
        rc = md_err_set(err, MD_EINVAL, "line 1: empty: the header row comes first");
        goto out;
    }
    cols = md_calloc(c->n, sizeof(*cols));
    if (cols == NULL) {
        rc = md_err_set(err, MD_ENOMEM, "out of memory");
        goto out;
    }
    {
        size_t n_cols = c->n;

        rc = csv_header(spec, c, cols, err);
        if (rc != MD_OK)
            goto out;
        while ((rc = csv_next(c, &line, err)) == 1) {
            int label;
            double value, weight;

            if (c->n != n_cols) {
                rc = md_err_set(err, MD_EINVAL, "line %zu: %zu cells, the header has %zu", line,
                                c->n, n_cols);
                goto out;
            }
            rc = csv_row(spec, c, cols, line, &json, &label, &value, &weight, err);
            if (rc != MD_OK)
                goto out;
            if (fn != NULL) {
                rc = fn(ctx, json.data, json.len, label, value, weight);
                if (rc != MD_OK) {
                    rc = md_err_set(err, rc, "line %zu: out of memory", line);
                    goto out;
                }
            }
            (*rows)++;
        }
        if (rc < 0)
            goto out;
    }
    rc = *rows > 0 ? MD_OK : md_err_set(err, MD_EINVAL, "the file has a header and no rows");
out:
    if (rc != MD_OK)
        *rows = 0;
    free(cols);
    md_buf_release(&json);
    md_buf_release(&c->b);
    free(c);
    return rc;
}

int md_dataset_check_csv(const struct md_dataset_spec *spec, const char *text, size_t len,
                         uint64_t *rows, struct md_err *err)
{
    return csv_walk(spec, text, len, NULL, NULL, rows, err);
}

char *md_dataset_csv_columns(const char *text, size_t len, struct md_err *err)
{
    struct csv *c = md_calloc(1, sizeof(*c));
    json_t *a;
    char *out = NULL;
    size_t line, i;
    int rc;

    if (c == NULL) {
        (void)md_err_set(err, MD_ENOMEM, "out of memory");
        return NULL;
    }
    csv_start(c, text, len);
    rc = csv_next(c, &line, err);
    if (rc == 0)
        (void)md_err_set(err, MD_EINVAL, "the file is empty: a header row is needed");
    if (rc == 1) {
        a = json_array();
        for (i = 0; i < c->n; i++)
            json_array_append_new(a, json_string(cell(c, i)));
        out = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        if (out == NULL)
            (void)md_err_set(err, MD_EINVAL, "line 1: a column's name is not UTF-8");
    }
    md_buf_release(&c->b);
    free(c);
    return out;
}

struct base_ctx {
    const struct md_dataset_spec *spec;
    struct rows *rows;
};

static int on_base_row(void *ctx, const char *features, size_t len, int label, double value,
                       double weight)
{
    struct base_ctx *b = ctx;
    struct row x;

    memset(&x, 0, sizeof(x));
    x.source = SRC_BASE;
    x.label = label;
    x.value = value;
    x.weight = weight * b->spec->base_weight;
    return rows_push(b->rows, &x, features, len, NULL);
}

/* The base dataset's rows, when the spec names one. */
static int read_base(const struct md_dataset_spec *spec, struct set *set, struct md_err *err)
{
    struct base_ctx b = {spec, &set->base};
    uint64_t n;
    char *text;
    size_t len;
    int rc;

    if (spec->base_path == NULL)
        return MD_OK;
    rc = md_read_file(spec->base_path, BASE_MAX_SIZE, &text, &len, NULL, err);
    if (rc == MD_OK) {
        rc = csv_walk(spec, text, len, on_base_row, &b, &n, err);
        free(text);
    }
    if (rc != MD_OK)
        md_err_prefix(err, "base dataset: ");
    return rc;
}

/* --------------------------------------------------------------- summary */

static void count_row(const struct md_dataset_spec *spec, struct md_dataset_summary *sum,
                      const struct row *r, double *s1, double *s2)
{
    sum->rows++;
    if (r->source == SRC_BASE)
        sum->base_rows++;
    else if (r->source == SRC_EXPERT)
        sum->expert_rows++;
    else
        sum->feedback_rows++;
    if (spec->regression) {
        *s1 += r->value;
        *s2 += r->value * r->value;
    } else if (r->label >= 0) {
        size_t k = (size_t)r->label < MD_DATASET_LABELS ? (size_t)r->label : MD_DATASET_LABELS - 1;

        sum->label_rows[k]++;
    }
}

/* Fills *sum for set, the newest n_hold store rows held out. */
static void summarise(const struct md_dataset_spec *spec, const struct set *set, size_t n_hold,
                      struct md_dataset_summary *sum)
{
    double s1 = 0, s2 = 0;
    size_t i;

    memset(sum, 0, sizeof(*sum));
    for (i = 0; i < set->store.n; i++)
        count_row(spec, sum, &set->store.v[i], &s1, &s2);
    for (i = 0; i < set->base.n; i++)
        count_row(spec, sum, &set->base.v[i], &s1, &s2);
    sum->holdout_rows = n_hold;
    sum->train_rows = sum->rows - n_hold;
    sum->skipped = set->skipped;
    if (set->store.n > 0) {
        sum->last_ms = set->store.v[0].at_ms;
        sum->first_ms = set->store.v[set->store.n - 1].at_ms;
    }
    if (n_hold > 0 && n_hold <= set->store.n)
        sum->holdout_from_ms = set->store.v[n_hold - 1].at_ms;
    if (spec->regression) {
        if (sum->rows > 0) {
            double m = s1 / (double)sum->rows;
            double v = s2 / (double)sum->rows - m * m;

            sum->mean = m;
            sum->stddev = v > 0 ? sqrt(v) : 0;
        }
        return;
    }
    sum->n_labels = spec->n_labels < MD_DATASET_LABELS ? spec->n_labels : MD_DATASET_LABELS;
    for (i = 0; i < sum->n_labels; i++)
        (void)snprintf(sum->label[i], sizeof(sum->label[i]), "%s",
                       spec->n_labels > MD_DATASET_LABELS && i == MD_DATASET_LABELS - 1
                           ? "other"
                           : spec->labels[i]);
}

char *md_dataset_summary_json(const struct md_dataset_summary *sum)
{
    json_t *o = json_object();
    json_t *src = json_object();
    char *text;
    size_t i;

    json_object_set_new(o, "rows", json_integer((json_int_t)sum->rows));
    json_object_set_new(o, "train_rows", json_integer((json_int_t)sum->train_rows));
    json_object_set_new(o, "holdout_rows", json_integer((json_int_t)sum->holdout_rows));
    json_object_set_new(src, "feedback", json_integer((json_int_t)sum->feedback_rows));
    json_object_set_new(src, "expert", json_integer((json_int_t)sum->expert_rows));
    json_object_set_new(src, "base", json_integer((json_int_t)sum->base_rows));
    json_object_set_new(o, "sources", src);
    json_object_set_new(o, "skipped", json_integer((json_int_t)sum->skipped));
    json_object_set_new(o, "first_ms", json_integer(sum->first_ms));
    json_object_set_new(o, "last_ms", json_integer(sum->last_ms));
    json_object_set_new(o, "holdout_from_ms", json_integer(sum->holdout_from_ms));
    if (sum->n_labels > 0) {
        json_t *labels = json_object();

        for (i = 0; i < sum->n_labels; i++)
            json_object_set_new(labels, sum->label[i],
                                json_integer((json_int_t)sum->label_rows[i]));
        json_object_set_new(o, "labels", labels);
    } else {
        json_object_set_new(o, "mean", json_real(sum->mean));
        json_object_set_new(o, "stddev", json_real(sum->stddev));
    }
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        MD_BUG("a dataset summary cannot be written as JSON");
    return text;
}

/* ---------------------------------------------------------------- output */

/* A buffered writer on a descriptor. */
struct out {
    int fd;
    const char *path; /* for messages */
    struct md_buf b;
};

static int out_flush(struct out *o, struct md_err *err)
{
    size_t done = 0;

    if (md_buf_error(&o->b) != MD_OK)
        return md_err_set(err, MD_ENOMEM, "%s: out of memory", o->path);
    while (done < o->b.len) {
        ssize_t w = write(o->fd, o->b.data + done, o->b.len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return md_err_set(err, MD_EIO, "%s: cannot write: %s", o->path,
                              w < 0 ? strerror(errno) : "nothing written");
        done += (size_t)w;
    }
    md_buf_reset(&o->b);
    return MD_OK;
}

static void put_csv_cell(struct md_buf *b, const char *t, size_t n)
{
    size_t i;
    bool quote = n > 0 && (t[0] == ' ' || t[n - 1] == ' ');

    for (i = 0; i < n && !quote; i++)
        quote = t[i] == ',' || t[i] == '"' || t[i] == '\n' || t[i] == '\r';
    if (!quote) {
        (void)md_buf_append(b, t, n);
        return;
    }
    (void)md_buf_putc(b, '"');
    for (i = 0; i < n; i++) {
        if (t[i] == '"')
            (void)md_buf_putc(b, '"');
        (void)md_buf_putc(b, t[i]);
    }
    (void)md_buf_putc(b, '"');
}

static void put_jsonl(const struct md_dataset_spec *spec, struct md_buf *b, const struct row *r)
{
    (void)md_buf_puts(b, "{\"features\":");
    (void)md_buf_puts(b, r->features);
    if (spec->regression) {
        (void)md_buf_puts(b, ",\"value\":");
        put_double(b, r->value);
    } else {
        const char *l = spec->labels[r->label];

        (void)md_buf_puts(b, ",\"label\":");
        (void)md_buf_json_str(b, l, strlen(l));
    }
    (void)md_buf_puts(b, ",\"weight\":");
    put_double(b, r->weight);
    (void)md_buf_printf(b, ",\"source\":\"%s\",\"at_ms\":%lld", source_names[r->source],
                        (long long)r->at_ms);
    if (r->request_id != NULL) {
        (void)md_buf_puts(b, ",\"request_id\":");
        (void)md_buf_json_str(b, r->request_id, strlen(r->request_id));
        (void)md_buf_printf(b, ",\"row\":%lld", (long long)r->row);
    }
    (void)md_buf_puts(b, "}\n");
}

static void put_csv_header(const struct md_dataset_spec *spec, struct md_buf *b)
{
    size_t i;

    for (i = 0; i < spec->n_features; i++) {
        put_csv_cell(b, spec->features[i], strlen(spec->features[i]));
        (void)md_buf_putc(b, ',');
    }
    (void)md_buf_puts(b, spec->regression ? "value" : "label");
    (void)md_buf_puts(b, ",weight,source,at_ms\n");
}

static void put_csv_row(const struct md_dataset_spec *spec, struct md_buf *b, const struct row *r)
{
    json_t *o = json_loads(r->features, 0, NULL);
    size_t i;

    for (i = 0; i < spec->n_features; i++) {
        json_t *v = json_is_object(o) ? json_object_get(o, spec->features[i]) : NULL;

        if (json_is_string(v))
            put_csv_cell(b, json_string_value(v), json_string_length(v));
        else if (json_is_integer(v))
            (void)md_buf_printf(b, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            put_double(b, json_real_value(v));
        else if (json_is_boolean(v))
            (void)md_buf_puts(b, json_is_true(v) ? "true" : "false");
        (void)md_buf_putc(b, ',');
    }
    json_decref(o);
    if (spec->regression) {
        put_double(b, r->value);
    } else {
        const char *l = spec->labels[r->label];

        put_csv_cell(b, l, strlen(l));
    }
    (void)md_buf_putc(b, ',');
    put_double(b, r->weight);
    (void)md_buf_printf(b, ",%s,%lld\n", source_names[r->source], (long long)r->at_ms);
}

static int put_row(const struct md_dataset_spec *spec, struct out *o, enum md_dataset_format format,
                   const struct row *r, struct md_err *err)
{
    if (format == MD_DATASET_CSV)
        put_csv_row(spec, &o->b, r);
    else
        put_jsonl(spec, &o->b, r);
    return o->b.len >= OUT_FLUSH || md_buf_error(&o->b) != MD_OK ? out_flush(o, err) : MD_OK;
}

/* Writes base rows (when with_base), then store rows [lo, hi) oldest first. */
static int write_rows(const struct md_dataset_spec *spec, const struct set *set, bool with_base,
                      size_t lo, size_t hi, enum md_dataset_format format, struct out *o,
                      struct md_err *err)
{
    size_t i;
    int rc;

    if (format == MD_DATASET_CSV)
        put_csv_header(spec, &o->b);
    for (i = 0; with_base && i < set->base.n; i++) {
        rc = put_row(spec, o, format, &set->base.v[i], err);
        if (rc != MD_OK)
            return rc;
    }
    for (i = hi; i > lo; i--) {
        rc = put_row(spec, o, format, &set->store.v[i - 1], err);
        if (rc != MD_OK)
            return rc;
    }
    return out_flush(o, err);
}

/* Writes a JSON-lines file at path; removed again when it cannot be written whole. */
static int write_file(const struct md_dataset_spec *spec, const struct set *set, bool with_base,
                      size_t lo, size_t hi, const char *path, struct md_err *err)
{
    struct out o;
    int rc;

    o.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (o.fd < 0)
        return md_err_set(err, MD_EIO, "%s: cannot create: %s", path, strerror(errno));
    o.path = path;
    md_buf_init(&o.b, (size_t)1 << 30);
    rc = write_rows(spec, set, with_base, lo, hi, MD_DATASET_JSONL, &o, err);
    md_buf_release(&o.b);
    if (close(o.fd) != 0 && rc == MD_OK)
        rc = md_err_set(err, MD_EIO, "%s: cannot write: %s", path, strerror(errno));
    if (rc != MD_OK)
        (void)unlink(path);
    return rc;
}

/* ------------------------------------------------------------------ sets */

static int read_set(struct md_store *s, const struct md_dataset_spec *spec, struct set *set,
                    struct md_err *err)
{
    int rc;

    memset(set, 0, sizeof(*set));
    if (spec->model == NULL || (!spec->regression && spec->n_labels == 0))
        return md_err_set(err, MD_EINVAL, "training set: the model has no labels");
    rc = read_store(s, spec, set, err);
    if (rc == MD_OK)
        rc = read_base(spec, set, err);
    if (rc != MD_OK)
        set_free(set);
    return rc;
}

/* The held-out share of n rows. */
static size_t holdout_rows(const struct md_dataset_spec *spec, size_t n)
{
    double h = spec->holdout;

    if (!(h > 0) || h >= 1)
        return 0;
    return (size_t)floor(h * (double)n);
}

/* Why set cannot be trained on, into err; MD_OK when it can. */
static int refusal(const struct md_dataset_spec *spec, const struct set *set, size_t n_hold,
                   uint64_t min_rows, struct md_err *err)
{
    uint64_t train = set->store.n - n_hold + set->base.n;
    int first = -1;
    size_t i;

    if (train == 0 || train < min_rows)
        return md_err_set(err, MD_EINVAL,
                          "training set: %llu labelled rows with features, fewer than the %llu "
                          "min_rows asks for",
                          (unsigned long long)train,
                          (unsigned long long)(min_rows > 0 ? min_rows : 1));
    if (spec->regression)
        return MD_OK;
    for (i = n_hold; i < set->store.n + set->base.n; i++) {
        const struct row *r = i < set->store.n ? &set->store.v[i] : &set->base.v[i - set->store.n];

        if (first < 0)
            first = r->label;
        else if (r->label != first)
            return MD_OK;
    }
    return md_err_set(err, MD_EINVAL,
                      "training set: every row is labelled '%s': a classifier needs two classes",
                      spec->labels[first]);
}

int md_dataset_build(struct md_store *s, const struct md_dataset_spec *spec, uint64_t min_rows,
                     const char *train_path, const char *holdout_path,
                     struct md_dataset_summary *sum, struct md_err *err)
{
    struct set set;
    size_t n_hold;
    int rc;

    memset(sum, 0, sizeof(*sum));
    rc = read_set(s, spec, &set, err);
    if (rc != MD_OK)
        return rc;
    n_hold = holdout_path != NULL || train_path == NULL ? holdout_rows(spec, set.store.n) : 0;
    summarise(spec, &set, n_hold, sum);
    rc = refusal(spec, &set, n_hold, min_rows, err);
    if (rc == MD_OK && train_path != NULL)
        rc = write_file(spec, &set, true, n_hold, set.store.n, train_path, err);
    if (rc == MD_OK && holdout_path != NULL) {
        rc = write_file(spec, &set, false, 0, n_hold, holdout_path, err);
        if (rc != MD_OK && train_path != NULL)
            (void)unlink(train_path);
    }
    if (rc == MD_EINVAL) {
        if (train_path != NULL)
            (void)unlink(train_path);
        if (holdout_path != NULL)
            (void)unlink(holdout_path);
    }
    set_free(&set);
    return rc;
}

int md_dataset_export(struct md_store *s, const struct md_dataset_spec *spec,
                      enum md_dataset_format format, int fd, struct md_dataset_summary *sum,
                      struct md_err *err)
{
    struct set set;
    struct out o;
    int rc;

    memset(sum, 0, sizeof(*sum));
    if (format != MD_DATASET_JSONL && format != MD_DATASET_CSV)
        return md_err_set(err, MD_EINVAL, "format: not jsonl nor csv");
    rc = read_set(s, spec, &set, err);
    if (rc != MD_OK)
        return rc;
    summarise(spec, &set, holdout_rows(spec, set.store.n), sum);
    o.fd = fd;
    o.path = "the export";
    md_buf_init(&o.b, (size_t)1 << 30);
    rc = write_rows(spec, &set, true, 0, set.store.n, format, &o, err);
    md_buf_release(&o.b);
    set_free(&set);
    return rc;
}
