/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: histogram updates and clocks.
 */
#include "watch/metrics.h"

#include <time.h>

const double md_hist_bounds_s[MD_HIST_BUCKETS] = {
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,     0.025,   0.05,     0.1,     0.25,   0.5,     1.0,    2.5,   5.0,    10.0,
};

/* The same bounds in nanoseconds, for a compare loop without floating point. */
static const uint64_t bounds_ns[MD_HIST_BUCKETS] = {
    5000,      10000,     25000,      50000,      100000,     250000,      500000,
    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,    100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

void md_histogram_observe(struct md_histogram *h, uint64_t ns)
{
    size_t i = 0;

    while (i < MD_HIST_BUCKETS && ns > bounds_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void md_rows_histogram_observe(struct md_rows_histogram *h, uint64_t rows)
{
    size_t i = 0;

    while (i < MD_ROWS_BUCKETS && rows > ((uint64_t)1 << i))
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, rows, memory_order_relaxed);
}

uint64_t md_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t md_mono_to_wall_ms(uint64_t mono_ns)
{
    uint64_t now;
    int64_t wall;

    if (mono_ns == 0)
        return 0;
    wall = md_wall_ms();
    now = md_now_ns();
    return mono_ns >= now ? wall : wall - (int64_t)((now - mono_ns) / 1000000u);
}

int64_t md_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
