/* SPDX-License-Identifier: MIT */
/*
 * sys.c: see sys.h.
 */
#include "util/sys.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

unsigned md_cpus(void)
{
    static _Atomic unsigned cached;
    unsigned n = atomic_load_explicit(&cached, memory_order_relaxed);
    cpu_set_t set;
    long online;

    if (n != 0)
        return n;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
        n = (unsigned)CPU_COUNT(&set);
    } else {
        online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (unsigned)online : 1;
    }
    atomic_store_explicit(&cached, n, memory_order_relaxed);
    return n;
}

struct trampoline {
    void (*fn)(void *item);
    void *item;
};

static void *trampoline_run(void *arg)
{
    struct trampoline *t = arg;

    t->fn(t->item);
    return NULL;
}

void md_run_parallel(void *items, size_t n, size_t size, void (*fn)(void *item))
{
    struct trampoline tr[MD_PARALLEL_MAX];
    pthread_t tid[MD_PARALLEL_MAX];
    bool started[MD_PARALLEL_MAX];
    char *base = items;
    size_t threads = n < MD_PARALLEL_MAX ? n : MD_PARALLEL_MAX;
    size_t k;

    if (n == 0)
        return;
    for (k = 1; k < threads; k++) {
        tr[k].fn = fn;
        tr[k].item = base + k * size;
        started[k] = pthread_create(&tid[k], NULL, trampoline_run, &tr[k]) == 0;
    }
    fn(base);
    for (k = 1; k < threads; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            fn(base + k * size);
    }
    for (k = threads; k < n; k++)
        fn(base + k * size);
}
