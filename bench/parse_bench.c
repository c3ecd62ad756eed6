/* SPDX-License-Identifier: MIT */
/*
 * parse_bench.c: the cost of decoding one Open Inference Protocol infer
 * body (JSON parse plus tensor conversion), as the hot path pays it: one
 * arena reused and reset between requests.
 *
 * Usage: parse_bench BODY.json [ITERATIONS]. Prints the median, 10th and
 * 90th percentile of ns per md_v2_decode_infer over batches of calls.
 */
#include "api/v2_request.h"

#include <time.h>

#define BATCHES 101

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

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv)
{
    struct md_arena arena;
    struct md_infer_request req;
    struct md_err err;
    double per[BATCHES];
    size_t len;
    size_t iters;
    size_t b;
    size_t i;
    char *body;
    double sink = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: parse_bench BODY.json [ITERATIONS]\n");
        return 2;
    }
    body = read_file(argv[1], &len);
    if (body == NULL) {
        fprintf(stderr, "parse_bench: cannot read '%s'\n", argv[1]);
        return 1;
    }
    md_arena_init(&arena, (size_t)256 << 20);
    if (md_v2_decode_infer(body, len, &arena, &req, &err) != MD_OK) {
        fprintf(stderr, "parse_bench: %s\n", err.msg);
        return 1;
    }
    /* Aim at ~20 ms per batch unless told. */
    iters = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    if (iters == 0) {
        double t0 = now_ns();

        for (i = 0; i < 100; i++) {
            md_arena_reset(&arena);
            if (md_v2_decode_infer(body, len, &arena, &req, &err) != MD_OK)
                return 1;
        }
        iters = (size_t)(20e6 / ((now_ns() - t0) / 100)) + 1;
    }
    for (b = 0; b < BATCHES; b++) {
        double t0 = now_ns();

        for (i = 0; i < iters; i++) {
            md_arena_reset(&arena);
            if (md_v2_decode_infer(body, len, &arena, &req, &err) != MD_OK) {
                fprintf(stderr, "parse_bench: %s\n", err.msg);
                return 1;
            }
            sink += md_tensor_get_f64(&req.inputs[0], 0);
        }
        per[b] = (now_ns() - t0) / (double)iters;
    }
    qsort(per, BATCHES, sizeof(per[0]), cmp_double);
    printf("%s: %zu bytes, %zu elements: median %.0f ns (p10 %.0f, p90 %.0f) per decode, "
           "%.0f MB/s\n",
           argv[1], len, req.inputs[0].count, per[BATCHES / 2], per[BATCHES / 10],
           per[BATCHES * 9 / 10], (double)len / per[BATCHES / 2] * 1e3);
    if (sink == 12345.678)
        printf("\n");
    md_arena_release(&arena);
    free(body);
    return 0;
}
