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

size_t md_parallel_parts(size_t n, size_t min, unsigned threads, size_t max)
{
    size_t k = min > 0 ? n / min : n;

    if (threads == 0)
        threads = md_cpus();
    if (threads < 2)
        return 0;
    if (k > (size_t)MD_PARALLEL_SPLIT * threads)
        k = (size_t)MD_PARALLEL_SPLIT * threads;
    return k < max ? k : max;
}

/* One md_run_parallel call: the items, and the next one not yet taken. */
struct run {
    char *base;
    size_t n;
    size_t size;
    void (*fn)(void *item);
    _Atomic size_t next;
};

static void take_items(struct run *r)
{
    size_t i;

    while ((i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->n)
        r->fn(r->base + i * r->size);
}

static void *worker(void *arg)
{
    take_items(arg);
    return NULL;
}

void md_run_parallel(void *items, size_t n, size_t size, unsigned threads, void (*fn)(void *item))
{
    struct run r;
    pthread_t tid[MD_PARALLEL_MAX];
    bool started[MD_PARALLEL_MAX];
    size_t k;

    if (n == 0)
        return;
    if (threads == 0)
        threads = md_cpus();
    if (threads > MD_PARALLEL_MAX)
        threads = MD_PARALLEL_MAX;
    if (threads > n)
        threads = (unsigned)n;
    r.base = items;
    r.n = n;
    r.size = size;
    r.fn = fn;
    atomic_init(&r.next, 0);
    for (k = 1; k < threads; k++)
        started[k] = pthread_create(&tid[k], NULL, worker, &r) == 0;
    take_items(&r);
    /* Joining is also what makes the other threads' writes visible here. */
    for (k = 1; k < threads; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
    }
}
