/* SPDX-License-Identifier: MIT */
/*
 * sys.c: see sys.h.
 */
#include "util/sys.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
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

/* The message of each failure of md_read_file, and its code, from f. */
static int read_error(const char *path, size_t max, const struct md_read_fail *f,
                      struct md_err *err)
{
    char ebuf[128];

    switch (f->why) {
    case MD_READ_OPEN:
        return md_err_set(err, MD_EIO, "'%s': cannot open: %s", path,
                          strerror_r(f->errnum, ebuf, sizeof(ebuf)));
    case MD_READ_STAT:
    case MD_READ_IO:
        return md_err_set(err, MD_EIO, "'%s': cannot read: %s", path,
                          strerror_r(f->errnum, ebuf, sizeof(ebuf)));
    case MD_READ_DIR:
        return md_err_set(err, MD_EIO, "'%s': is a directory, not a file", path);
    case MD_READ_SPECIAL:
        return md_err_set(err, MD_EIO, "'%s': not a regular file", path);
    case MD_READ_TOO_BIG:
        return md_err_set(err, MD_ETOOBIG, "'%s': larger than %zu bytes", path, max);
    case MD_READ_NOMEM:
        break;
    }
    return md_err_set(err, MD_ENOMEM, "'%s': out of memory for %llu bytes", path,
                      (unsigned long long)f->size);
}

/* Reads up to want bytes of fd into buf; *got is how many came (fewer at the end of the file). */
static int read_all(int fd, char *buf, size_t want, size_t *got)
{
    *got = 0;
    while (*got < want) {
        ssize_t r = read(fd, buf + *got, want - *got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

int md_read_file(const char *path, size_t max, char **out, size_t *len, struct md_read_fail *fail,
                 struct md_err *err)
{
    struct md_read_fail f = {MD_READ_OPEN, 0, 0};
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int fd;

    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO is refused below instead of waiting for a writer. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        f.errnum = errno;
        goto fail;
    }
    f.why = MD_READ_STAT;
    if (fstat(fd, &st) != 0) {
        f.errnum = errno;
        goto fail;
    }
    f.why = S_ISDIR(st.st_mode) ? MD_READ_DIR : MD_READ_SPECIAL;
    if (!S_ISREG(st.st_mode))
        goto fail;
    f.why = MD_READ_TOO_BIG;
    f.size = (uint64_t)st.st_size;
    if (f.size > max)
        goto fail;
    f.why = MD_READ_NOMEM;
    buf = md_malloc((size_t)f.size + 2);
    if (buf == NULL)
        goto fail;
    /* One byte more than the size: a file that grew past max is caught too. */
    f.why = MD_READ_IO;
    f.errnum = read_all(fd, buf, (size_t)f.size + 1, &n);
    if (f.errnum != 0)
        goto fail;
    f.why = MD_READ_TOO_BIG;
    if (n > max) {
        f.size = n;
        goto fail;
    }
    (void)close(fd); /* opened for reading only: nothing to lose */
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MD_OK;
fail:
    if (fd >= 0)
        (void)close(fd);
    free(buf);
    if (fail != NULL)
        *fail = f;
    return read_error(path, max, &f, err);
}
