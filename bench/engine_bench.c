/* SPDX-License-Identifier: MIT */
/*
 * engine_bench.c: nanoseconds per prediction of each tree engine on the
 * benchmark model and rows: single-row calls and one batch of every row.
 * Usage: engine_bench [MODEL.json [ROWS.csv]] (defaults: ../shared/peers/).
 */
#include "backend/registry.h"
#include "util/mem.h"

#include <math.h>
#include <time.h>

#define MAX_ROWS 20000
#define NF 30

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

    return x < y ? -1 : x > y;
}

static size_t read_rows(const char *path, float *x)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    size_t n = 0;

    if (f == NULL) {
        perror(path);
        exit(1);
    }
    while (n < MAX_ROWS && fgets(line, sizeof(line), f) != NULL) {
        char *p = line;
        int j;

        for (j = 0; j < NF; j++) {
            char *end;

            x[n * NF + j] = *p == ',' ? NAN : strtof(p, &end);
            if (*p != ',')
                p = end;
            p++;
        }
        n++;
    }
    fclose(f);
    return n;
}

static void bench(const char *engine, const char *model, const float *x, size_t n)
{
    const struct md_backend_ops *ops = md_backend_find(engine);
    struct md_backend_config cfg = {NULL, 0};
    struct md_err err;
    void *inst;
    float *out = md_xmalloc(n * sizeof(float) * 4);
    double samples[31];
    double t0;
    size_t i;
    int s;

    if (ops->load(model, &cfg, &inst, &err) != MD_OK) {
        fprintf(stderr, "%s: %s\n", engine, err.msg);
        exit(1);
    }
    for (s = 0; s < 31; s++) {
        t0 = now_ns();
        for (i = 0; i < n; i++)
            if (ops->predict(inst, x + i * NF, 1, out, &err) != MD_OK) {
                fprintf(stderr, "%s: %s\n", engine, err.msg);
                exit(1);
            }
        samples[s] = (now_ns() - t0) / (double)n;
    }
    qsort(samples, 31, sizeof(double), cmp_double);
    printf("%-8s single row: median %8.0f ns per predict (p10 %.0f, p90 %.0f)\n", engine,
           samples[15], samples[3], samples[27]);
    for (s = 0; s < 31; s++) {
        t0 = now_ns();
        if (ops->predict(inst, x, n, out, &err) != MD_OK) {
            fprintf(stderr, "%s: %s\n", engine, err.msg);
            exit(1);
        }
        samples[s] = (now_ns() - t0) / (double)n;
    }
    qsort(samples, 31, sizeof(double), cmp_double);
    printf("%-8s batch of %zu: median %8.0f ns per row (p10 %.0f, p90 %.0f)\n", engine, n,
           samples[15], samples[3], samples[27]);
    ops->free(inst);
    free(out);
}

int main(int argc, char **argv)
{
    const char *model = argc > 1 ? argv[1] : "../shared/peers/bench_model.json";
    const char *rows = argc > 2 ? argv[2] : "../shared/peers/bench_rows.csv";
    float *x = md_xmalloc(sizeof(float) * MAX_ROWS * NF);
    size_t n = read_rows(rows, x);

    bench("trees", model, x, n);
    bench("xgboost", model, x, n);
    free(x);
    return 0;
}
