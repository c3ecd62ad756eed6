/* SPDX-License-Identifier: MIT */
/*
 * test_examples.c: the example models in examples/repo against the reference
 * predictions their training scripts wrote to examples/data/<model>_check.csv
 * (scikit-learn's for churn, XGBoost's for the tree models). Each model is run
 * through the engine its model.yaml names, found in the registry; a model
 * whose engine is not built in is skipped. Runs from the repository root.
 *
 * A check file's header names the prepared columns, then one column per
 * reference output named "v<version>:<output>"; an empty cell is a missing
 * value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "backend/registry.h"
#include "util/common.h"
#include "util/mem.h"

#include <math.h>

#define MAX_COLS 64
#define MAX_ROWS 256

struct check {
    char *names[MAX_COLS]; /* header cells */
    size_t n_cols;
    size_t n_inputs;                 /* leading prepared columns */
    float cells[MAX_ROWS][MAX_COLS]; /* NaN = empty */
    size_t n_rows;
};

/* Splits line at commas in place; returns the number of cells. */
static size_t split(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *p = line;

    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        char *comma = strchr(p, ',');

        cells[n++] = p;
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static bool is_version_column(const char *name)
{
    return name[0] == 'v' && name[1] >= '0' && name[1] <= '9' && strchr(name, ':') != NULL;
}

static void read_check(const char *path, struct check *c)
{
    char *line = NULL;
    size_t cap = 0;
    char *cells[MAX_COLS];
    size_t i;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        fail_msg("cannot open %s", path);
    memset(c, 0, sizeof(*c));
    assert_true(getline(&line, &cap, f) > 0);
    c->n_cols = split(line, cells, MAX_COLS);
    for (i = 0; i < c->n_cols; i++) {
        c->names[i] = strdup(cells[i]);
        if (!is_version_column(cells[i]) && c->n_inputs == i)
            c->n_inputs = i + 1;
    }
    assert_true(c->n_inputs >= 1 && c->n_inputs < c->n_cols);
    while (getline(&line, &cap, f) > 0 && c->n_rows < MAX_ROWS) {
        size_t n = split(line, cells, MAX_COLS);

        if (n == 1 && cells[0][0] == '\0')
            continue;
        assert_int_equal(n, c->n_cols);
        for (i = 0; i < n; i++) {
            char *end = NULL;

            if (cells[i][0] == '\0') {
                c->cells[c->n_rows][i] = NAN;
                continue;
            }
            /* strtof: the text is the shortest spelling of an FP32 value */
            c->cells[c->n_rows][i] = strtof(cells[i], &end);
            if (*end != '\0')
                fail_msg("%s row %zu column %zu: '%s' is not a number", path, c->n_rows + 1, i,
                         cells[i]);
        }
        c->n_rows++;
    }
    free(line);
    fclose(f);
}

static void free_check(struct check *c)
{
    size_t i;

    for (i = 0; i < c->n_cols; i++)
        free(c->names[i]);
}

/* The `backend:` value of examples/repo/<model>/model.yaml, into out. */
static void read_backend(const char *model, char *out, size_t len)
{
    char path[256];
    char line[512];
    FILE *f;

    snprintf(path, sizeof(path), "examples/repo/%s/model.yaml", model);
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "backend:", 8) == 0) {
            char *p = line + 8;

            p += strspn(p, " ");
            p[strcspn(p, " #\r\n")] = '\0';
            snprintf(out, len, "%s", p);
        }
    fclose(f);
    assert_true(out[0] != '\0');
}

/*
 * Runs every version with reference columns in the check file through the
 * model's engine; returns how many versions were checked (0 when the engine
 * is not built in).
 */
static int check_model(const char *model, double tol)
{
    char path[256];
    char backend[64];
    struct check *c = md_xcalloc(1, sizeof(*c));
    const struct md_backend_ops *ops;
    int checked = 0;
    size_t col;

    read_backend(model, backend, sizeof(backend));
    ops = md_backend_find(backend);
    if (ops == NULL) {
        free(c);
        return 0;
    }
    snprintf(path, sizeof(path), "examples/data/%s_check.csv", model);
    read_check(path, c);
    assert_true(c->n_rows >= 20);
    for (col = c->n_inputs; col < c->n_cols;) {
        long version = strtol(c->names[col] + 1, NULL, 10);
        size_t first = col;
        size_t n_out;
        struct md_backend_desc d;
        struct md_err err;
        void *inst = NULL;
        float *x;
        float *out;
        size_t r;
        size_t j;
        int rc;

        while (col < c->n_cols && strtol(c->names[col] + 1, NULL, 10) == version)
            col++;
        n_out = col - first;
        snprintf(path, sizeof(path), "examples/repo/%s/%ld/model.json", model, version);
        md_err_clear(&err);
        rc = ops->load(path, NULL, &inst, &err);
        if (rc != MD_OK)
            fail_msg("%s: %s", path, err.msg);
        memset(&d, 0, sizeof(d));
        ops->describe(inst, &d);
        assert_int_equal(d.n_features, c->n_inputs);
        assert_int_equal(d.n_outputs, n_out);
        if (d.feature_names != NULL)
            for (j = 0; j < c->n_inputs; j++)
                assert_string_equal(d.feature_names[j], c->names[j]);
        x = md_xcalloc(c->n_rows * c->n_inputs, sizeof(float));
        out = md_xcalloc(c->n_rows * n_out, sizeof(float));
        for (r = 0; r < c->n_rows; r++)
            memcpy(x + r * c->n_inputs, c->cells[r], c->n_inputs * sizeof(float));
        rc = ops->predict(inst, x, c->n_rows, out, &err);
        if (rc != MD_OK)
            fail_msg("%s: predict: %s", path, err.msg);
        for (r = 0; r < c->n_rows; r++)
            for (j = 0; j < n_out; j++) {
                double want = c->cells[r][first + j];
                double got = out[r * n_out + j];

                if (!(fabs(got - want) <= tol * fmax(1.0, fabs(want))))
                    fail_msg("%s row %zu %s: got %.9g, want %.9g", model, r + 1,
                             c->names[first + j], got, want);
            }
        free(x);
        free(out);
        ops->free(inst);
        checked++;
    }
    free_check(c);
    free(c);
    return checked;
}

static void test_churn_linear(void **state)
{
    (void)state;
    /* the linear engine is always built in: this one never skips */
    assert_int_equal(check_model("churn", 1e-5), 1);
}

/* An example whose engine may be left out of the build: skipped when nothing ran. */
static void check_or_skip(const char *name, int want)
{
    int n = check_model(name, 1e-5);

    if (n == 0)
        skip();
    assert_int_equal(n, want);
}

static void test_fraud(void **state)
{
    (void)state;
    check_or_skip("fraud", 2);
}

static void test_housing(void **state)
{
    (void)state;
    check_or_skip("housing", 1);
}

static void test_iris(void **state)
{
    (void)state;
    check_or_skip("iris", 1);
}

/* The check file's inputs include missing values, so the NaN paths are compared too. */
static void test_check_files_have_missing_values(void **state)
{
    static const char *const models[] = {"churn", "fraud", "housing"};
    size_t m;

    (void)state;
    for (m = 0; m < MD_ARRAY_LEN(models); m++) {
        char path[256];
        struct check *c = md_xcalloc(1, sizeof(*c));
        size_t n_nan = 0;
        size_t r;
        size_t j;

        snprintf(path, sizeof(path), "examples/data/%s_check.csv", models[m]);
        read_check(path, c);
        for (r = 0; r < c->n_rows; r++)
            for (j = 0; j < c->n_inputs; j++)
                n_nan += isnan(c->cells[r][j]) ? 1 : 0;
        if (n_nan == 0)
            fail_msg("%s: no missing values", path);
        free_check(c);
        free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_churn_linear),
        cmocka_unit_test(test_fraud),
        cmocka_unit_test(test_housing),
        cmocka_unit_test(test_iris),
        cmocka_unit_test(test_check_files_have_missing_values),
    };

    return cmocka_run_group_tests_name("examples", tests, NULL, NULL);
}
