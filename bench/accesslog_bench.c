/* SPDX-License-Identifier: MIT */
/*
 * accesslog_bench.c: nanoseconds per access-log line as an HTTP thread pays
 * them (format on the stack, copy into the buffer under the mutex), with the
 * writer thread writing to FILE meanwhile. Usage: accesslog_bench FILE
 * [LINES [THREADS]]; prints the median of 5 rounds and the lines dropped.
 */
#include "watch/accesslog.h"
#include "watch/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>

struct job {
    struct md_access_log *log;
    size_t lines;
};

static void *run(void *arg)
{
    const struct job *j = arg;
    struct sockaddr_in in4;
    struct md_access_rec r;
    size_t i;

    memset(&in4, 0, sizeof(in4));
    in4.sin_family = AF_INET;
    in4.sin_port = htons(51234);
    in4.sin_addr.s_addr = htonl(0x7f000001);
    r.id = "01a24ece9c0f3f6a6000fd6fea5de0b3";
    r.peer = (const struct sockaddr *)&in4;
    r.method = "POST";
    r.path = "/v2/models/bench/infer";
    r.model = "bench";
    r.version = "1";
    r.status = 200;
    for (i = 0; i < j->lines; i++) {
        r.latency_us = 100 + i % 50;
        md_access_log_write(j->log, &r);
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct md_access_log *log;
    struct md_err err;
    size_t lines = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
    unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1;
    double ns[5];
    pthread_t th[16];
    struct job j;
    size_t r;
    unsigned t;

    if (argc < 2 || threads < 1 || threads > 16) {
        fprintf(stderr, "usage: accesslog_bench FILE [LINES [THREADS]]\n");
        return 2;
    }
    if (md_access_log_open(argv[1], &log, &err) != MD_OK) {
        fprintf(stderr, "accesslog_bench: %s\n", err.msg);
        return 1;
    }
    j.log = log;
    j.lines = lines;
    for (r = 0; r < MD_ARRAY_LEN(ns); r++) {
        uint64_t t0 = md_now_ns();

        for (t = 0; t < threads; t++)
            pthread_create(&th[t], NULL, run, &j);
        for (t = 0; t < threads; t++)
            pthread_join(th[t], NULL);
        ns[r] = (double)(md_now_ns() - t0) / (double)lines; /* per line of one thread */
    }
    qsort(ns, MD_ARRAY_LEN(ns), sizeof(ns[0]), cmp_d);
    printf("%.0f ns per line (median of %zu rounds of %zu lines on %u thread(s)), %llu dropped\n",
           ns[MD_ARRAY_LEN(ns) / 2], MD_ARRAY_LEN(ns), lines, threads,
           (unsigned long long)md_access_log_dropped(log));
    md_access_log_close(log);
    return 0;
}
