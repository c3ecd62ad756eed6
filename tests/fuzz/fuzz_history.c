/* SPDX-License-Identifier: MIT */
/*
 * fuzz_history.c: what the history's readers parse and compute from a
 * request's numbers: durations (window, step, since), and points over any
 * range and step summing rows at any time, each value computed.
 */
#include "watch/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t take_i64(const uint8_t **p, size_t *n)
{
    uint64_t v = 0;

    for (int i = 0; i < 8 && *n > 0; i++, (*p)++, (*n)--)
        v = v << 8 | **p;
    return (int64_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_history_points pts;
    struct md_err err;
    int64_t ms;
    char text[64];
    size_t len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    const uint8_t *p = data;
    size_t n = size;
    int metric;
    int64_t since, until, step;

    /* The input as a duration, under two bounds. */
    memcpy(text, data, len);
    text[len] = '\0';
    (void)md_history_duration(text, INT64_MAX, &ms);
    (void)md_history_duration(text, 30LL * 86400 * 1000, &ms);
    if (n < 1)
        return 0;
    /* The input as numbers: a metric, a range, a step, then rows. */
    metric = (int)(*p % (MD_SERIES_METRICS + 1)) - 1;
    p++;
    n--;
    since = take_i64(&p, &n);
    until = take_i64(&p, &n);
    step = take_i64(&p, &n);
    if (md_history_points_init(&pts, metric, since, until, step, &err) != MD_OK)
        return 0;
    while (n > 0) {
        struct md_store_history_requests r;
        struct md_store_history_value v;

        memset(&r, 0, sizeof(r));
        r.at_ms = take_i64(&p, &n);
        r.requests = (uint64_t)take_i64(&p, &n);
        r.success = r.requests / 2;
        r.errors = r.requests / 3;
        r.latency[r.requests % MD_STORE_LATENCY_BUCKETS] = r.success;
        md_history_points_add_requests(&pts, &r);
        v.model = "m";
        v.version = 0;
        v.metric = "x";
        v.at_ms = r.at_ms;
        v.value = (double)(int64_t)r.requests / 1e6;
        v.samples = r.requests % 1000;
        md_history_points_add_value(&pts, &v);
    }
    for (size_t i = 0; i <= pts.n; i++) {
        struct md_signal_value out;

        md_history_points_value(&pts, i, &out);
    }
    md_history_points_release(&pts);
    return 0;
}
