/* SPDX-License-Identifier: MIT */
/*
 * engine_bench.c: prediction cost of the `trees` and `xgboost` engines on the
 * reference model and rows.
 *
 *   build/bench/engine_bench [MODEL.json [ROWS.csv]]
 *
 * Defaults: tests/data/bench/bench_model.json and bench_rows.csv (run from the repository root).
 * ROWS.csv: the model's features (empty = missing) then one reference output.
 * Prints, per engine, the median over several runs of ns per single-row
 * predict call and ns per row of one predict call over all rows, and the
 * largest difference from the reference column.
 */
#include "backend/registry.h"

#include <math.h>
#include <time.h>

#define MAX_ROWS 100000
#define RUNS     15

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* Reads up to MAX_ROWS rows of nf features plus one reference value. */
static size_t read_rows(const char *path, size_t nf, float *x, float *ref)
{
    FILE *f = fopen(path, "r");
    char line[1 << 16];
    size_t n = 0;

    if (f == NULL) {
        fprintf(stderr, "cannot open '%s'\n", path);
        exit(1);
    }
    while (n < MAX_ROWS && fgets(line, sizeof(line), f) != NULL) {
        char *p = line;
        size_t j;

        for (j = 0; j <= nf; j++) {
            char *end;
            float v = strtof(p, &end);

            if (end == p)
                v = NAN;
            if (j < nf)
                x[n * nf + j] = v;
            else
                ref[n] = v;
            p = strchr(end, ',');
            if (p == NULL && j < nf) {
                fprintf(stderr, "'%s' line %zu: fewer than %zu columns\n", path, n + 1, nf + 1);
                exit(1);
            }
            if (p != NULL)
                p++;
        }
        n++;
    }
    fclose(f);
    return n;
}

static void fail(const char *engine, const struct md_err *err)
{
    fprintf(stderr, "%s: %s\n", engine, err->msg);
    exit(1);
}

static void bench(const char *engine, const char *model, const char *rows_path)
{
    const struct md_backend_ops *ops = md_backend_find(engine);
    struct md_kv opt = {"nthread", "1"};
    struct md_backend_config cfg = {&opt, strcmp(engine, "xgboost") == 0 ? 1 : 0};
    struct md_backend_desc d;
    struct md_err err = {0, ""};
    double single[RUNS];
    double batch[RUNS];
    double maxdiff = 0;
    void *inst;
    float *x;
    float *ref;
    float *out;
    size_t n;
    size_t i;
    int run;

    if (ops == NULL || ops->load(model, &cfg, &inst, &err) != MD_OK) {
        fprintf(stderr, "%s: %s\n", engine, ops == NULL ? "no such engine" : err.msg);
        exit(1);
    }
    ops->describe(inst, &d);
    x = malloc(sizeof(float) * MAX_ROWS * d.n_features);
    ref = malloc(sizeof(float) * MAX_ROWS);
    out = malloc(sizeof(float) * MAX_ROWS * d.n_outputs);
    if (x == NULL || ref == NULL || out == NULL)
        exit(1);
    n = read_rows(rows_path, d.n_features, x, ref);
    for (run = 0; run < RUNS; run++) {
        double t0 = now_ns();

        for (i = 0; i < n; i++)
            if (ops->predict(inst, x + i * d.n_features, 1, out + i * d.n_outputs, &err) != MD_OK)
                fail(engine, &err);
        single[run] = (now_ns() - t0) / (double)n;
        t0 = now_ns();
        if (ops->predict(inst, x, n, out, &err) != MD_OK)
            fail(engine, &err);
        batch[run] = (now_ns() - t0) / (double)n;
    }
    for (i = 0; i < n; i++)
        if (fabs((double)out[i * d.n_outputs] - (double)ref[i]) > maxdiff)
            maxdiff = fabs((double)out[i * d.n_outputs] - (double)ref[i]);
    printf("%-8s single-row %8.0f ns/call   batch of %zu %7.1f ns/row   max |diff| %.2g\n", engine,
           median(single, RUNS), n, median(batch, RUNS), maxdiff);
    ops->free(inst);
    free(x);
    free(ref);
    free(out);
}

int main(int argc, char **argv)
{
    const char *dir = "tests/data/bench";
    char model[4096];
    char rows[4096];

    snprintf(model, sizeof(model), "%s/bench_model.json", dir);
    snprintf(rows, sizeof(rows), "%s/bench_rows.csv", dir);
    if (argc > 1)
        snprintf(model, sizeof(model), "%s", argv[1]);
    if (argc > 2)
        snprintf(rows, sizeof(rows), "%s", argv[2]);
    bench("trees", model, rows);
    bench("xgboost", model, rows);
    return 0;
}
