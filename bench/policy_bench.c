/* SPDX-License-Identifier: MIT */
/*
 * policy_bench.c: the cost of md_policy_pick, the traffic policy's choice
 * of a route per request: a 90/10 policy sticky by a header (16-byte salt
 * made by md_policy_settle, 16-byte keys), and the same policy picking at
 * random.
 *
 *   build/bench/policy_bench [ITERATIONS [sticky|random]]
 *
 * Prints the median over 31 batches of ITERATIONS picks (1,000,000) of ns
 * per pick, for both or the one named. For the instructions per pick, run
 * one under callgrind and divide the instructions collected inside
 * md_policy_pick by its calls, 31 * ITERATIONS (docs/traffic.md):
 *
 *   valgrind --tool=callgrind --toggle-collect=md_policy_pick \
 *       build/bench/policy_bench 10000 sticky
 */
#include "serve/policy.h"

#include <time.h>

#define BATCHES 31
#define KEYS    1024 /* distinct keys "user-0000000000".."user-0000001023", 16 bytes each */

static char keys[KEYS][17];

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

/* Median ns per pick over BATCHES batches of iters picks; *canary counts route 1. */
static double run(const struct md_policy *p, bool sticky, size_t iters, size_t *canary)
{
    double per[BATCHES];
    uint64_t r = 88172645463325252ULL;
    size_t b;
    size_t i;

    *canary = 0;
    for (b = 0; b < BATCHES; b++) {
        double t0 = now_ns();

        for (i = 0; i < iters; i++) {
            const char *key = keys[i % KEYS];

            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            *canary += md_policy_pick(p, sticky ? key : NULL, sticky ? 16 : 0, r);
        }
        per[b] = (now_ns() - t0) / (double)iters;
    }
    qsort(per, BATCHES, sizeof(per[0]), cmp_double);
    return per[BATCHES / 2];
}

int main(int argc, char **argv)
{
    static const char doc[] = "{\"routes\":[{\"name\":\"stable\",\"version\":\"3\",\"weight\":90},"
                              "{\"name\":\"canary\",\"version\":\"4\",\"weight\":10}],"
                              "\"sticky\":{\"header\":\"X-User-Id\"}}";
    struct md_policy p;
    struct md_err err;
    size_t iters = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    const char *mode = argc > 2 ? argv[2] : NULL;
    size_t canary;
    double ns;

    if (iters == 0)
        iters = 1;
    for (canary = 0; canary < KEYS; canary++)
        (void)snprintf(keys[canary], sizeof(keys[canary]), "user-%011zu", canary);
    if (md_policy_parse(doc, sizeof(doc) - 1, &p, &err) != MD_OK) {
        fprintf(stderr, "policy_bench: %s\n", err.msg);
        return 1;
    }
    md_policy_settle(&p, NULL, 1);
    if (mode == NULL || strcmp(mode, "sticky") == 0) {
        ns = run(&p, true, iters, &canary);
        printf("sticky 90/10, 16-byte salt and key: %.1f ns per pick (%.1f%% canary)\n", ns,
               100.0 * (double)canary / (double)(iters * BATCHES));
    }
    if (mode == NULL || strcmp(mode, "random") == 0) {
        ns = run(&p, false, iters, &canary);
        printf("random 90/10:                       %.1f ns per pick (%.1f%% canary)\n", ns,
               100.0 * (double)canary / (double)(iters * BATCHES));
    }
    return 0;
}
