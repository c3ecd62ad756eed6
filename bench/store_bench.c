/* SPDX-License-Identifier: MIT */
/*
 * store_bench.c: durable changes per second through the store (one event
 * appended per md_store_call, each acknowledged after its commit's sync),
 * and how many changes shared a commit, for 1, 4 and 16 calling threads.
 * Usage: store_bench [CALLS_PER_THREAD [THREADS...]] (200; 1 4 16). The
 * store lives in a new directory under /tmp (removed after); the disk's
 * sync time sets the figures.
 */
#include "store/store.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

static struct md_store *store;
static long calls;

static int add_event(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_store_event e = {0, 0, "bench", "bench", "one change", "{}"};

    (void)ctx;
    return md_store_tx_event_add(tx, &e, NULL, err);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *caller(void *arg)
{
    struct md_err err;

    (void)arg;
    for (long i = 0; i < calls; i++) {
        if (md_store_call(store, add_event, NULL, &err) != MD_OK) {
            fprintf(stderr, "store_bench: %s\n", err.msg);
            exit(1);
        }
    }
    return NULL;
}

static void round_of(long threads)
{
    struct md_store_info before, after;
    pthread_t th[64];
    double t0, secs;
    uint64_t commits;

    md_store_get_info(store, &before);
    t0 = now_s();
    for (long i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, caller, NULL) != 0)
            exit(1);
    for (long i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    secs = now_s() - t0;
    md_store_get_info(store, &after);
    commits = after.commits - before.commits;
    printf("%3ld threads: %6ld changes in %.2f s: %7.0f/s, %.3f ms per call, "
           "%.1f changes per commit\n",
           threads, threads * calls, secs, (double)(threads * calls) / secs,
           secs * 1000.0 / (double)calls, (double)(after.jobs - before.jobs) / (double)commits);
}

int main(int argc, char **argv)
{
    static const long defaults[] = {1, 4, 16};
    char dir[] = "/tmp/md-store-bench-XXXXXX";
    char cmd[64];
    struct md_err err;

    calls = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
    if (calls < 1 || mkdtemp(dir) == NULL)
        return 2;
    if (md_store_open(dir, &store, &err) != MD_OK) {
        fprintf(stderr, "store_bench: %s\n", err.msg);
        return 1;
    }
    if (argc > 2) {
        for (int i = 2; i < argc; i++) {
            long t = strtol(argv[i], NULL, 10);

            if (t >= 1 && t <= 64)
                round_of(t);
        }
    } else {
        for (size_t i = 0; i < MD_ARRAY_LEN(defaults); i++)
            round_of(defaults[i]);
    }
    md_store_close(store);
    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
