/* SPDX-License-Identifier: MIT */
/*
 * sys.c: see sys.h.
 */
#include "util/sys.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
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

/*
 * md_run_parallel's helpers: threads started on first need (up to
 * MD_PARALLEL_MAX - 1, never more than a run has asked for) that live as long
 * as the process and wait for runs. Starting a thread for each run cost about
 * 35 µs a run here, six runs a large request. A run is queued until as many
 * helpers as it wants have joined it; its caller works on it too, then
 * takes it off the queue and waits for the helpers still inside it, so a run
 * never waits for a helper that is busy elsewhere, and a run started from
 * inside another run's item cannot deadlock.
 */
struct run {
    char *base;
    size_t n;
    size_t size;
    void (*fn)(void *item);
    _Atomic size_t next;  /* the next item not yet taken */
    unsigned want;        /* helpers still wanted; pool.lock */
    unsigned inside;      /* helpers working on it now; pool.lock */
    bool queued;          /* on pool.queue; pool.lock */
    struct run *next_run; /* pool.queue's order; pool.lock */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a run was queued */
    pthread_cond_t left; /* a helper left a run */
    struct run *queue;   /* runs wanting helpers, oldest first */
    struct run **tail;
    unsigned helpers; /* started */
} pool = {PTHREAD_MUTEX_INITIALIZER,
          PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER,
          NULL,
          &pool.queue,
          0};

static void take_items(struct run *r)
{
    size_t i;

    while ((i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->n)
        r->fn(r->base + i * r->size);
}

/* Takes r off the queue; pool.lock held. */
static void dequeue(struct run *r)
{
    struct run **pp = &pool.queue;

    while (*pp != r)
        pp = &(*pp)->next_run;
    *pp = r->next_run;
    if (pool.tail == &r->next_run)
        pool.tail = pp;
    r->queued = false;
}

static void *helper(void *arg)
{
    MD_UNUSED(arg);
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        struct run *r;

        while (pool.queue == NULL)
            pthread_cond_wait(&pool.work, &pool.lock);
        r = pool.queue;
        r->inside++;
        if (--r->want == 0)
            dequeue(r);
        pthread_mutex_unlock(&pool.lock);
        take_items(r);
        pthread_mutex_lock(&pool.lock);
        /* The last touch of r: its caller may return once it sees this. */
        if (--r->inside == 0)
            pthread_cond_broadcast(&pool.left);
    }
    return NULL;
}

/* Starts helpers until there are want of them (pool.lock held); fewer when the system refuses. */
static void start_helpers(unsigned want)
{
    pthread_attr_t attr;
    sigset_t all;
    sigset_t old;

    if (want > MD_PARALLEL_MAX - 1)
        want = MD_PARALLEL_MAX - 1;
    if (pool.helpers >= want || pthread_attr_init(&attr) != 0)
        return;
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Helpers take no signals: those are the main thread's to handle. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.helpers < want) {
        pthread_t tid;

        if (pthread_create(&tid, &attr, helper, NULL) != 0)
            break;
        pool.helpers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

void md_run_parallel(void *items, size_t n, size_t size, unsigned threads, void (*fn)(void *item))
{
    struct run r;

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
    if (threads < 2) {
        take_items(&r);
        return;
    }
    r.want = threads - 1;
    r.inside = 0;
    r.queued = true;
    r.next_run = NULL;
    pthread_mutex_lock(&pool.lock);
    start_helpers(threads - 1);
    *pool.tail = &r;
    pool.tail = &r.next_run;
    if (r.want == 1)
        pthread_cond_signal(&pool.work);
    else
        pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);
    take_items(&r);
    /* Every item is taken: no helper may join now, and those inside finish theirs. */
    pthread_mutex_lock(&pool.lock);
    if (r.queued)
        dequeue(&r);
    while (r.inside > 0)
        pthread_cond_wait(&pool.left, &pool.lock);
    /* The lock, taken after each helper's last unlock, makes their writes visible here. */
    pthread_mutex_unlock(&pool.lock);
}
