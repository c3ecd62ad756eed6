/* SPDX-License-Identifier: MIT */
/*
 * test_dataset.c: training sets (learn/dataset.c) and what they read of
 * the store (store/sqlite_dataset.c): labelled rows only (answered, not
 * shadow, with a current label among the classes and features still kept;
 * the others counted as skipped), the newest share held out, weights by
 * source, windows and max_rows, paging past one store job, base datasets
 * (the CSV check and its errors, the join, the registration, kept by the
 * artifact sweep), refusals (too few rows, one class) that leave no file,
 * export as JSON lines and CSV, regression targets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "learn/dataset.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/sha256.h"
#include "util/sys.h"
#include "store_fixture.h"

struct fx {
    char dir[64];
    char train[96];
    char hold[96];
    char base[96];
    struct md_store *s;
};

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));

    store_fx_make("dataset", f->dir, NULL, &f->s);
    snprintf(f->train, sizeof(f->train), "%s/train.jsonl", f->dir);
    snprintf(f->hold, sizeof(f->hold), "%s/holdout.jsonl", f->dir);
    snprintf(f->base, sizeof(f->base), "%s/base.csv", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    store_fx_drop(f->dir, f->s);
    free(f);
    return 0;
}

static const char *const labels[] = {"legit", "fraud"};
static const char *const features[] = {"amount", "merchant", "distance"};
static const bool text[] = {false, true, false};
static const bool optional[] = {false, false, true};

static struct md_dataset_spec spec_of(void)
{
    struct md_dataset_spec s;

    memset(&s, 0, sizeof(s));
    s.model = "m";
    s.labels = labels;
    s.n_labels = 2;
    s.features = features;
    s.text = text;
    s.optional = optional;
    s.n_features = 3;
    s.expert_weight = 3;
    s.base_weight = 0.5;
    return s;
}

/* One prediction row to add, and its feedback (label NULL: none). */
struct prow {
    const char *rid;
    int64_t at_ms;
    bool shadow;
    int status;
    const char *features;
    const char *label;
    const char *source;
    double value; /* regression feedback when label is NULL and value is not NaN */
};

struct add_job {
    const struct prow *rows;
    size_t n;
    const char *model;
};

static int run_add(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct add_job *a = ctx;
    size_t i;
    int rc;

    for (i = 0; i < a->n; i++) {
        const struct prow *p = &a->rows[i];
        struct md_store_prediction r = {.request_id = p->rid,
                                        .row = 0,
                                        .at_ms = p->at_ms,
                                        .model = a->model,
                                        .version = 1,
                                        .route = p->shadow ? "shadow" : "stable",
                                        .shadow = p->shadow,
                                        .status = p->status != 0 ? p->status : 200,
                                        .features = p->features,
                                        .label = "legit",
                                        .score = 0.5};

        rc = md_store_tx_predictions_add(tx, &r, 1, err);
        if (rc != MD_OK)
            return rc;
    }
    for (i = 0; i < a->n; i++) {
        const struct prow *p = &a->rows[i];
        struct md_store_feedback fb;
        enum md_feedback_state st;

        memset(&fb, 0, sizeof(fb));
        fb.model = a->model;
        fb.request_id = p->rid;
        fb.row = 0;
        fb.source = p->source != NULL ? p->source : "user";
        if (p->label != NULL) {
            fb.kind = MD_FEEDBACK_LABEL;
            fb.label = p->label;
        } else if (!isnan(p->value)) {
            fb.kind = MD_FEEDBACK_VALUE;
            fb.value = p->value;
        } else {
            continue;
        }
        rc = md_store_tx_feedback_add(tx, &fb, NULL, NULL, &st, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

static void add_rows(struct fx *f, const char *model, const struct prow *rows, size_t n)
{
    struct add_job a = {rows, n, model};
    struct md_err err;

    assert_int_equal(md_store_call(f->s, run_add, &a, &err), MD_OK);
}

/* The file's text (malloc'd) and its number of lines. */
static char *slurp(const char *path, size_t *lines)
{
    char *text;
    size_t len, i;
    struct md_err err;

    assert_int_equal(md_read_file(path, 1 << 26, &text, &len, NULL, &err), MD_OK);
    *lines = 0;
    for (i = 0; i < len; i++)
        *lines += text[i] == '\n';
    return text;
}

static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static const char f_a[] = "{\"amount\":10,\"merchant\":\"online\",\"distance\":1.5}";
static const char f_b[] = "{\"amount\":20,\"merchant\":\"travel\"}";

/* Ten labelled rows r0..r9 (1000 ms apart), r7 by an expert; around them,
 * rows that never count or are skipped. */
static void add_story(struct fx *f)
{
    static const struct prow rows[] = {
        {"r0", 1000, false, 0, f_a, "legit", NULL, NAN},
        {"r1", 2000, false, 0, f_b, "fraud", NULL, NAN},
        {"r2", 3000, false, 0, f_a, "legit", NULL, NAN},
        {"r3", 4000, false, 0, f_b, "legit", NULL, NAN},
        {"r4", 5000, false, 0, f_a, "fraud", NULL, NAN},
        {"r5", 6000, false, 0, f_b, "legit", NULL, NAN},
        {"r6", 7000, false, 0, f_a, "legit", NULL, NAN},
        {"r7", 8000, false, 0, f_b, "fraud", "expert", NAN},
        {"r8", 9000, false, 0, f_a, "legit", NULL, NAN},
        {"r9", 10000, false, 0, f_b, "fraud", NULL, NAN},
        /* never in a set: a shadow's row, a failed request, no feedback */
        {"s0", 5500, true, 0, f_a, "fraud", NULL, NAN},
        {"e0", 5600, false, 500, f_a, "fraud", NULL, NAN},
        {"n0", 5700, false, 0, f_a, NULL, NULL, NAN},
        /* skipped: features no longer kept, a label that is not a class */
        {"k0", 5800, false, 0, NULL, "fraud", NULL, NAN},
        {"k1", 5900, false, 0, f_a, "maybe", NULL, NAN},
    };

    add_rows(f, "m", rows, MD_ARRAY_LEN(rows));
}

static void test_build_holdout_weights_skipped(void **state)
{
    struct fx *f = *state;
    struct md_dataset_spec spec = spec_of();
    struct md_dataset_summary sum;
    struct md_err err;
    size_t lines;
    char *text, *json;

    add_story(f);
    spec.holdout = 0.3;
    assert_int_equal(md_dataset_build(f->s, &spec, 5, f->train, f->hold, &sum, &err), MD_OK);
    assert_int_equal(sum.rows, 10);
    assert_int_equal(sum.train_rows, 7);
    assert_int_equal(sum.holdout_rows, 3);
    assert_int_equal(sum.expert_rows, 1);
    assert_int_equal(sum.feedback_rows, 9);
    assert_int_equal(sum.skipped, 2);
    assert_int_equal(sum.first_ms, 1000);
    assert_int_equal(sum.last_ms, 10000);
    assert_int_equal(sum.holdout_from_ms, 8000);
    assert_int_equal(sum.n_labels, 2);
    assert_string_equal(sum.label[1], "fraud");
    assert_int_equal(sum.label_rows[0], 6);
    assert_int_equal(sum.label_rows[1], 4);

    /* The holdout: the newest three, oldest first; r7's weight is the expert's. */
    text = slurp(f->hold, &lines);
    assert_int_equal(lines, 3);
    assert_non_null(strstr(text, "{\"features\":{\"amount\":20,\"merchant\":\"travel\"},"
                                 "\"label\":\"fraud\",\"weight\":3,\"source\":\"expert\","
                                 "\"at_ms\":8000,\"request_id\":\"r7\",\"row\":0}\n"));
    assert_true(strstr(text, "\"r7\"") < strstr(text, "\"r8\""));
    assert_true(strstr(text, "\"r8\"") < strstr(text, "\"r9\""));
    free(text);
    /* Training: r0..r6, oldest first, weight 1, none of the others. */
    text = slurp(f->train, &lines);
    assert_int_equal(lines, 7);
    assert_true(strncmp(text, "{\"features\":{\"amount\":10,", 25) == 0);
    assert_non_null(strstr(text, "\"weight\":1,\"source\":\"feedback\",\"at_ms\":1000,"));
    assert_null(strstr(text, "\"r7\""));
    assert_null(strstr(text, "\"s0\""));
    assert_null(strstr(text, "\"e0\""));
    assert_null(strstr(text, "\"n0\""));
    assert_null(strstr(text, "\"k0\""));
    assert_null(strstr(text, "\"k1\""));
    free(text);

    json = md_dataset_summary_json(&sum);
    assert_non_null(strstr(json, "\"rows\":10,\"train_rows\":7,\"holdout_rows\":3"));
    assert_non_null(strstr(json, "\"sources\":{\"feedback\":9,\"expert\":1,\"base\":0}"));
    assert_non_null(strstr(json, "\"labels\":{\"legit\":6,\"fraud\":4}"));
    free(json);

    /* No holdout path: every row trains. Both NULL: a summary with the split. */
    assert_int_equal(md_dataset_build(f->s, &spec, 5, f->train, NULL, &sum, &err), MD_OK);
    assert_int_equal(sum.train_rows, 10);
    assert_int_equal(sum.holdout_rows, 0);
    assert_int_equal(md_dataset_build(f->s, &spec, 5, NULL, NULL, &sum, &err), MD_OK);
    assert_int_equal(sum.train_rows, 7);
    assert_int_equal(sum.holdout_rows, 3);
}

static void test_window_and_max_rows(void **state)
{
    struct fx *f = *state;
    struct md_dataset_spec spec = spec_of();
    struct md_dataset_summary sum;
    struct md_err err;
    size_t lines;
    char *text;

    add_story(f);
    spec.since_ms = 3000;
    spec.until_ms = 9000; /* r2..r7, and k0, k1 skipped */
    assert_int_equal(md_dataset_build(f->s, &spec, 1, f->train, NULL, &sum, &err), MD_OK);
    assert_int_equal(sum.rows, 6);
    assert_int_equal(sum.first_ms, 3000);
    assert_int_equal(sum.last_ms, 8000);
    spec.since_ms = 0;
    spec.until_ms = 0;
    spec.max_rows = 4; /* the newest four: r6..r9 */
    assert_int_equal(md_dataset_build(f->s, &spec, 1, f->train, NULL, &sum, &err), MD_OK);
    assert_int_equal(sum.rows, 4);
    assert_int_equal(sum.first_ms, 7000);
    text = slurp(f->train, &lines);
    assert_int_equal(lines, 4);
    assert_null(strstr(text, "\"r5\""));
    assert_non_null(strstr(text, "\"r6\""));
    free(text);
}

static void test_refusals_leave_no_file(void **state)
{
    struct fx *f = *state;
    struct md_dataset_spec spec = spec_of();
    struct md_dataset_summary sum;
    struct md_err err;
    static const struct prow one_class[] = {
        {"a0", 1000, false, 0, f_a, "legit", NULL, NAN},
        {"a1", 2000, false, 0, f_b, "legit", NULL, NAN},
        {"a2", 3000, false, 0, f_b, "legit", NULL, NAN},
    };

    /* No rows at all. */
    assert_int_equal(md_dataset_build(f->s, &spec, 0, f->train, f->hold, &sum, &err), MD_EINVAL);
    assert_string_equal(err.msg, "training set: 0 labelled rows with features, fewer than the 1 "
                                 "min_rows asks for");
    add_rows(f, "m", one_class, MD_ARRAY_LEN(one_class));
    assert_int_equal(md_dataset_build(f->s, &spec, 100, f->train, f->hold, &sum, &err), MD_EINVAL);
    assert_string_equal(err.msg, "training set: 3 labelled rows with features, fewer than the "
                                 "100 min_rows asks for");
    assert_int_equal(sum.rows, 3); /* the summary still says what there was */
    assert_int_equal(access(f->train, F_OK), -1);
    assert_int_equal(md_dataset_build(f->s, &spec, 2, f->train, f->hold, &sum, &err), MD_EINVAL);
    assert_string_equal(err.msg,
                        "training set: every row is labelled 'legit': a classifier needs two "
                        "classes");
    assert_int_equal(access(f->train, F_OK), -1);
    assert_int_equal(access(f->hold, F_OK), -1);
    /* An unwritable path is named. */
    spec.labels = labels;
    {
        static const struct prow other[] = {{"a3", 4000, false, 0, f_b, "fraud", NULL, NAN}};

        add_rows(f, "m", other, 1);
    }
    assert_int_equal(
        md_dataset_build(f->s, &spec, 2, "/nonexistent-dir/train.jsonl", NULL, &sum, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/train.jsonl: cannot create"));
}

/* The CSV check: what passes, and each error naming its line and column. */
static void test_check_csv(void **state)
{
    struct md_dataset_spec spec = spec_of();
    struct md_err err;
    uint64_t rows;
    static const struct {
        const char *csv;
        const char *msg; /* NULL: accepted */
        uint64_t rows;
    } cases[] = {
        {"amount,merchant,distance,label\n1.5,online,2,legit\n3,\"a, \"\"b\"\"\",,fraud\n", NULL,
         2},
        {"merchant,amount,label,weight,source,at_ms\r\nx,1,1,2,base,0\r\n\r\n", NULL, 1},
        {"amount,merchant,label\n1,\"two\nlines\",legit\n", NULL, 1},
        {"\xEF\xBB\xBF"
         "amount,merchant,label\n1,x,fraud\n",
         NULL, 1},
        {"", "the file is empty: a header row is needed", 0},
        {"amount,merchant,label\n", "the file has a header and no rows", 0},
        {"amount,label\n1,legit\n", "line 1: no column for the required feature 'merchant'", 0},
        {"amount,merchant\n1,x\n", "line 1: no column 'label' (the target)", 0},
        {"amount,merchant,label,colour\n",
         "line 1, column 'colour': not a feature of the model, "
         "nor label, weight, source or at_ms",
         0},
        {"amount,merchant,label,value\n",
         "line 1, column 'value': the target of a "
         "classification model is 'label'",
         0},
        {"amount,merchant,label,amount\n", "line 1: column 'amount' appears twice", 0},
        {"amount,merchant,label\n1,x,legit\nabc,x,legit\n",
         "line 3, column 'amount': 'abc' is not a number", 0},
        {"amount,merchant,label\n,x,legit\n",
         "line 2, column 'amount': empty, and the feature is required", 0},
        {"amount,merchant,label\n1,x,maybe\n",
         "line 2, column 'label': 'maybe' is not one of the model's labels (nor a label's index "
         "from 0)",
         0},
        {"amount,merchant,label\n1,x,2\n",
         "line 2, column 'label': '2' is not one of the model's labels (nor a label's index from "
         "0)",
         0},
        {"amount,merchant,label\n1,x\n", "line 2: 2 cells, the header has 3", 0},
        {"amount,merchant,label\n1,\"x\"y,legit\n",
         "line 2: text after a quoted cell's closing quote", 0},
        {"amount,merchant,label\n1,\"x,legit\n", "line 2: a quoted cell is not closed", 0},
        {"amount,merchant,label,weight\n1,x,legit,-2\n",
         "line 2, column 'weight': '-2' is not a weight (a number >= 0)", 0},
        {"amount,merchant,label\n1,x,legit\nnan,x,legit\n",
         "line 3, column 'amount': 'nan' is not a number", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(cases); i++) {
        int rc = md_dataset_check_csv(&spec, cases[i].csv, strlen(cases[i].csv), &rows, &err);

        if (cases[i].msg == NULL) {
            if (rc != MD_OK)
                fail_msg("case %zu: %s", i, err.msg);
            assert_int_equal(rows, cases[i].rows);
        } else {
            assert_int_equal(rc, MD_EINVAL);
            if (strcmp(err.msg, cases[i].msg) != 0)
                fail_msg("case %zu: '%s', not '%s'", i, err.msg, cases[i].msg);
        }
    }
    /* A NUL byte inside a cell. */
    assert_int_equal(
        md_dataset_check_csv(&spec, "amount,merchant,label\n1,a\0b,legit\n", 33, &rows, &err),
        MD_EINVAL);
    assert_string_equal(err.msg, "line 2: a NUL byte");
    /* Regression: the target is value. */
    spec.regression = true;
    spec.labels = NULL;
    spec.n_labels = 0;
    assert_int_equal(
        md_dataset_check_csv(&spec, "amount,merchant,value\n1,x,2.5\n", 30, &rows, &err), MD_OK);
    assert_int_equal(
        md_dataset_check_csv(&spec, "amount,merchant,value\n1,x,big\n", 30, &rows, &err),
        MD_EINVAL);
    assert_string_equal(err.msg, "line 2, column 'value': 'big' is not a number");
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* A base dataset's rows train (weighted), never hold out; a bad one is named. */
static void test_base_joined(void **state)
{
    struct fx *f = *state;
    struct md_dataset_spec spec = spec_of();
    struct md_dataset_summary sum;
    struct md_err err;
    size_t lines;
    char *text;

    add_story(f);
    write_text(f->base, "amount,merchant,distance,label,weight\n"
                        "7,grocery,,1,2\n"
                        "8,\"a \"\"quoted\"\" shop\",0.25,legit,\n");
    spec.base_path = f->base;
    spec.holdout = 0.2;
    assert_int_equal(md_dataset_build(f->s, &spec, 5, f->train, f->hold, &sum, &err), MD_OK);
    assert_int_equal(sum.rows, 12);
    assert_int_equal(sum.base_rows, 2);
    assert_int_equal(sum.train_rows, 10);
    assert_int_equal(sum.holdout_rows, 2);
    assert_int_equal(sum.label_rows[1], 5);
    text = slurp(f->train, &lines);
    assert_int_equal(lines, 10);
    assert_true(starts_with(
        text, "{\"features\":{\"amount\":7,\"merchant\":\"grocery\"},\"label\":\"fraud\","
              "\"weight\":1,\"source\":\"base\",\"at_ms\":0}\n"
              "{\"features\":{\"amount\":8,\"merchant\":\"a \\\"quoted\\\" shop\","
              "\"distance\":0.25},\"label\":\"legit\",\"weight\":0.5,\"source\":\"base\","
              "\"at_ms\":0}\n"));
    free(text);
    text = slurp(f->hold, &lines);
    assert_null(strstr(text, "\"base\""));
    free(text);

    write_text(f->base, "amount,merchant,label\n1,x,nope\n");
    assert_int_equal(md_dataset_build(f->s, &spec, 5, f->train, f->hold, &sum, &err), MD_EINVAL);
    assert_string_equal(err.msg, "base dataset: line 2, column 'label': 'nope' is not one of the "
                                 "model's labels (nor a label's index from 0)");
    spec.base_path = "/nonexistent/base.csv";
    assert_int_equal(md_dataset_build(f->s, &spec, 5, f->train, f->hold, &sum, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "base dataset: "));
}

static void test_export(void **state)
{
    struct fx *f = *state;
    struct md_dataset_spec spec = spec_of();
    struct md_dataset_summary sum;
    struct md_err err;
    char path[128];
    size_t lines;
    char *text;
    int fd;

    add_story(f);
    spec.holdout = 0.5;
    snprintf(path, sizeof(path), "%s/export.csv", f->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(md_dataset_export(f->s, &spec, MD_DATASET_CSV, fd, &sum, &err), MD_OK);
    close(fd);
    assert_int_equal(sum.rows, 10);
    text = slurp(path, &lines);
    assert_int_equal(lines, 11); /* held-out rows included */
    assert_true(starts_with(text, "amount,merchant,distance,label,weight,source,at_ms\n"
                                  "10,online,1.5,legit,1,feedback,1000\n"
                                  "20,travel,,fraud,1,feedback,2000\n"));
    assert_non_null(strstr(text, "20,travel,,fraud,3,expert,8000\n"));
    {
        uint64_t rows;

        /* An export reads back as a base dataset. */
        assert_int_equal(md_dataset_check_csv(&spec, text, strlen(text), &rows, &err), MD_OK);
        assert_int_equal(rows, 10);
    }
    free(text);

    snprintf(path, sizeof(path), "%s/export.jsonl", f->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(md_dataset_export(f->s, &spec, MD_DATASET_JSONL, fd, &sum, &err), MD_OK);
    close(fd);
    text = slurp(path, &lines);
    assert_int_equal(lines, 10);
    assert_true(strstr(text, "\"r0\"") < strstr(text, "\"r9\""));
    free(text);
    assert_int_equal(md_dataset_export(f->s, &spec, (enum md_dataset_format)7, 1, &sum, &err),
                     MD_EINVAL);
}

static void test_regression(void **state)
{
    struct fx *f = *state;
    struct md_dataset_spec spec = spec_of();
    struct md_dataset_summary sum;
    struct md_err err;
    size_t lines;
    char *text;
    static const struct prow rows[] = {
        {"v0", 1000, false, 0, f_a, NULL, NULL, 1.0},
        {"v1", 2000, false, 0, f_b, NULL, NULL, 3.0},
        {"v2", 3000, false, 0, f_a, "legit", NULL, NAN}, /* a label: not a regression target */
    };

    add_rows(f, "h", rows, MD_ARRAY_LEN(rows));
    spec.model = "h";
    spec.regression = true;
    spec.labels = NULL;
    spec.n_labels = 0;
    assert_int_equal(md_dataset_build(f->s, &spec, 2, f->train, NULL, &sum, &err), MD_OK);
    assert_int_equal(sum.rows, 2);
    assert_true(fabs(sum.mean - 2.0) < 1e-12);
    assert_true(fabs(sum.stddev - 1.0) < 1e-12);
    text = slurp(f->train, &lines);
    assert_int_equal(lines, 2);
    assert_non_null(strstr(text, "\"value\":3,\"weight\":1,"));
    free(text);
    text = md_dataset_summary_json(&sum);
    assert_non_null(strstr(text, "\"mean\":2.0"));
    assert_null(strstr(text, "\"labels\""));
    free(text);
}

/* More rows than one store job reads: every one, and max_rows the newest. */
static void test_paging(void **state)
{
    struct fx *f = *state;
    struct md_dataset_spec spec = spec_of();
    struct md_dataset_summary sum;
    struct md_err err;
    enum { N = 12001 };
    struct prow *rows = md_xcalloc(N, sizeof(*rows));
    char(*rid)[16] = md_xcalloc(N, sizeof(*rid));
    size_t i;

    for (i = 0; i < N; i++) {
        snprintf(rid[i], sizeof(rid[i]), "p%zu", i);
        rows[i].rid = rid[i];
        rows[i].at_ms = 1000 + (int64_t)(i / 3); /* ties in time: ordered by id */
        rows[i].features = i % 1000 == 7 ? NULL : f_a;
        rows[i].label = i % 2 == 0 ? "legit" : "fraud";
        rows[i].value = NAN;
    }
    add_rows(f, "m", rows, N);
    assert_int_equal(md_dataset_build(f->s, &spec, 1, NULL, NULL, &sum, &err), MD_OK);
    assert_int_equal(sum.rows, N - 12);
    assert_int_equal(sum.skipped, 12);
    assert_int_equal(sum.label_rows[0] + sum.label_rows[1], N - 12);
    spec.max_rows = 5001;
    assert_int_equal(md_dataset_build(f->s, &spec, 1, NULL, NULL, &sum, &err), MD_OK);
    assert_int_equal(sum.rows, 5001);
    assert_int_equal(sum.last_ms, 1000 + (N - 1) / 3);
    free(rows);
    free(rid);
}

/* ------------------------------------------------------------ registry */

struct listing {
    int n;
    char name[8][32];
    int64_t rows[8];
    char sha[65];
};

static void on_dataset(void *ctx, const struct md_store_dataset *d)
{
    struct listing *l = ctx;

    if (l->n < 8) {
        snprintf(l->name[l->n], sizeof(l->name[0]), "%s", d->name);
        l->rows[l->n] = d->rows;
    }
    snprintf(l->sha, sizeof(l->sha), "%s", d->sha256);
    l->n++;
}

struct ds_job {
    struct md_store_dataset d;
    const char *name; /* list: one, or NULL */
    int op;           /* 0 put, 1 list, 2 delete */
    struct listing l;
};

static int run_ds(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct ds_job *j = ctx;

    if (j->op == 0)
        return md_store_tx_dataset_put(tx, &j->d, err);
    if (j->op == 1)
        return md_store_tx_datasets(tx, j->d.model, j->name, on_dataset, &j->l, err);
    return md_store_tx_dataset_delete(tx, j->d.model, j->name, err);
}

static void test_registry_and_sweep(void **state)
{
    struct fx *f = *state;
    static const char body[] = "amount,merchant,label\n1,x,legit\n";
    struct ds_job j;
    struct md_err err;
    char tmp[256], path[256], sha[65];
    int fd;

    md_sha256_hex(body, strlen(body), sha);
    assert_int_equal(md_store_artifact_tmp(f->s, tmp, sizeof(tmp), &fd, &err), MD_OK);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    assert_int_equal(md_store_artifact_put(f->s, tmp, sha, &err), MD_OK);

    memset(&j, 0, sizeof(j));
    j.d = (struct md_store_dataset){.model = "m",
                                    .name = "original",
                                    .sha256 = sha,
                                    .size = 32,
                                    .rows = 1,
                                    .columns = "[\"amount\",\"merchant\",\"label\"]"};
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_OK);
    j.d.name = "b2";
    j.d.rows = 9;
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_OK);
    j.d.rows = 5; /* replaces */
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_OK);
    j.op = 1;
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_OK);
    assert_int_equal(j.l.n, 2);
    assert_string_equal(j.l.name[0], "b2");
    assert_int_equal(j.l.rows[0], 5);
    assert_string_equal(j.l.sha, sha);
    memset(&j.l, 0, sizeof(j.l));
    j.name = "nope";
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'm' has no dataset 'nope'");
    j.op = 0;
    j.d.sha256 = "abc";
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_EINVAL);
    j.d.sha256 = sha;
    j.d.name = "";
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_EINVAL);

    /* The sweep keeps a file a dataset names, and takes it once none does. */
    assert_int_equal(md_store_artifact_path(f->s, sha, path, sizeof(path), &err), MD_OK);
    assert_int_equal(md_store_artifact_sweep(f->s), 0);
    assert_int_equal(access(path, F_OK), 0);
    j.op = 2;
    j.d.name = "original";
    j.name = "original";
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_OK);
    j.name = "b2";
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_OK);
    assert_int_equal(md_store_call(f->s, run_ds, &j, &err), MD_ENOTFOUND);
    assert_int_equal(md_store_artifact_sweep(f->s), 1);
    assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build_holdout_weights_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_and_max_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_leave_no_file, setup, teardown),
        cmocka_unit_test(test_check_csv),
        cmocka_unit_test_setup_teardown(test_base_joined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_regression, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_and_sweep, setup, teardown),
    };

    md_log_set_level(MD_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
