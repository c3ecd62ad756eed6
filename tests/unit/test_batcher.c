/* SPDX-License-Identifier: MIT */
/*
 * test_batcher.c: the dynamic batcher against a fake engine that logs the
 * size of every call and can be held shut: gathering, splitting at
 * max_batch_size and at preferred sizes, the queue delay bound, a full
 * queue, deadlines, engine failures, draining at free, and many submitters
 * at once. Also the deadline and accounting helpers of infer.c. Every wait
 * is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "serve/batcher.h"
#include "serve/infer.h"

#define WIDTH     3 /* features per row */
#define OUTS      2 /* outputs per row */
#define MAX_CALLS 4096

/* ------------------------------------------------------------ fake engine */

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool shut;               /* predict waits while shut */
    bool fail;               /* predict fails */
    int in_engine;           /* calls inside predict now */
    size_t calls[MAX_CALLS]; /* rows of each call, in order */
    size_t n_calls;
    size_t rows; /* rows predicted in all */
};

static struct fake fk;

/* out[r] = {sum of row r, first value of row r}: each row's answer is its own. */
static int fake_predict(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    struct fake *f = inst;
    size_t r;

    pthread_mutex_lock(&f->mu);
    f->in_engine++;
    pthread_cond_broadcast(&f->cv);
    while (f->shut)
        pthread_cond_wait(&f->cv, &f->mu);
    if (f->n_calls < MAX_CALLS)
        f->calls[f->n_calls] = n_rows;
    f->n_calls++;
    f->rows += n_rows;
    f->in_engine--;
    if (f->fail) {
        pthread_mutex_unlock(&f->mu);
        return md_err_set(err, MD_EINTERNAL, "fake engine failed on %zu rows", n_rows);
    }
    pthread_mutex_unlock(&f->mu);
    for (r = 0; r < n_rows; r++) {
        out[r * OUTS] = x[r * WIDTH] + x[r * WIDTH + 1] + x[r * WIDTH + 2];
        out[r * OUTS + 1] = x[r * WIDTH];
    }
    return MD_OK;
}

static void fake_describe(const void *inst, struct md_backend_desc *out)
{
    (void)inst;
    memset(out, 0, sizeof(*out));
    out->n_features = WIDTH;
    out->n_outputs = OUTS;
    out->kind = MD_BACKEND_OUT_VALUE;
}

static void fake_free(void *inst)
{
    (void)inst;
}

static const struct md_backend_ops fake_ops = {
    .abi = MD_BACKEND_ABI,
    .name = "fake",
    .load = NULL,
    .describe = fake_describe,
    .predict = fake_predict,
    .learn = NULL,
    .train = NULL,
    .free = fake_free,
};

static void fake_reset(void)
{
    pthread_mutex_lock(&fk.mu);
    fk.shut = false;
    fk.fail = false;
    fk.n_calls = 0;
    fk.rows = 0;
    pthread_mutex_unlock(&fk.mu);
}

static void fake_shut(bool shut)
{
    pthread_mutex_lock(&fk.mu);
    fk.shut = shut;
    pthread_cond_broadcast(&fk.cv);
    pthread_mutex_unlock(&fk.mu);
}

static size_t fake_calls(size_t *copy, size_t max)
{
    size_t n;

    pthread_mutex_lock(&fk.mu);
    n = fk.n_calls;
    if (copy != NULL)
        memcpy(copy, fk.calls, (n < max ? n : max) * sizeof(*copy));
    pthread_mutex_unlock(&fk.mu);
    return n;
}

static int fake_in_engine(void)
{
    int n;

    pthread_mutex_lock(&fk.mu);
    n = fk.in_engine;
    pthread_mutex_unlock(&fk.mu);
    return n;
}

/* ------------------------------------------------------- a version by hand */

struct fixture {
    struct md_contract contract;
    struct md_version v;
    struct md_version_stats stats;
    size_t preferred[4];
};

static struct md_batcher *make(struct fixture *fx, size_t max_rows, uint64_t delay_us,
                               size_t max_queue, unsigned instances)
{
    struct md_err err;

    memset(fx, 0, sizeof(*fx));
    fx->contract.batching.enabled = true;
    fx->contract.batching.max_batch_size = max_rows;
    fx->contract.batching.max_queue_delay_us = delay_us;
    fx->contract.batching.max_queue_size = max_queue;
    fx->contract.batching.preferred = fx->preferred;
    fx->contract.instances = instances;
    fx->v.model = (char *)"m";
    fx->v.number = 1;
    fx->v.stats = &fx->stats;
    fx->v.contract = &fx->contract;
    fx->v.ops = &fake_ops;
    fx->v.engine = &fk;
    fake_describe(NULL, &fx->v.desc);
    fake_reset();
    if (md_batcher_new(&fx->v, &fx->v.batcher, &err) != MD_OK)
        fail_msg("md_batcher_new: %s", err.msg);
    return fx->v.batcher;
}

/* -------------------------------------------------------------- submitters */

struct sub {
    pthread_t t;
    struct md_batcher *b;
    size_t rows;
    float x[16 * WIDTH];
    float out[16 * OUTS];
    uint64_t deadline_ns;
    bool announced;
    int rc;
    struct md_batch_info info;
    struct md_err err;
    _Atomic bool finished;
};

static void sub_fill(struct sub *s, struct md_batcher *b, size_t rows, float base)
{
    size_t i;

    memset(s, 0, sizeof(*s));
    s->b = b;
    s->rows = rows;
    for (i = 0; i < rows * WIDTH; i++)
        s->x[i] = base + (float)i;
    for (i = 0; i < rows * OUTS; i++)
        s->out[i] = -1;
}

static void *sub_main(void *arg)
{
    struct sub *s = arg;

    s->rc = md_batcher_run(s->b, s->x, s->rows, s->out, s->deadline_ns, s->announced, &s->info,
                           &s->err);
    atomic_store(&s->finished, true);
    return NULL;
}

static void sub_start(struct sub *s)
{
    assert_int_equal(pthread_create(&s->t, NULL, sub_main, s), 0);
}

static void sub_join(struct sub *s)
{
    assert_int_equal(pthread_join(s->t, NULL), 0);
}

/* Each row's outputs are its own sum and first value. */
static void sub_check(const struct sub *s)
{
    size_t r;

    assert_int_equal(s->rc, MD_OK);
    for (r = 0; r < s->rows; r++) {
        const float *x = s->x + r * WIDTH;

        assert_true(s->out[r * OUTS] == x[0] + x[1] + x[2]);
        assert_true(s->out[r * OUTS + 1] == x[0]);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Polls until fn(arg) holds, for at most 10 s. */
static void wait_for(bool (*fn)(void *), void *arg, const char *what)
{
    int i;

    for (i = 0; i < 10000; i++) {
        if (fn(arg))
            return;
        sleep_ms(1);
    }
    fail_msg("timed out waiting for %s", what);
}

static bool engine_busy(void *arg)
{
    (void)arg;
    return fake_in_engine() > 0;
}

struct depth_arg {
    struct md_batcher *b;
    size_t n;
};

static bool depth_is(void *arg)
{
    struct depth_arg *d = arg;

    return md_batcher_depth(d->b) == d->n;
}

/*
 * Holds the engine shut with one request inside it (run by its own caller:
 * the engine was idle), then queues n more requests and waits until all of
 * them are queued.
 */
static void hold_and_queue(struct md_batcher *b, struct sub *first, struct sub *subs, size_t n,
                           size_t rows)
{
    struct depth_arg d = {b, n};
    size_t i;

    fake_shut(true);
    sub_fill(first, b, 1, 1000);
    sub_start(first);
    wait_for(engine_busy, NULL, "the first request in the engine");
    for (i = 0; i < n; i++) {
        sub_fill(&subs[i], b, rows, (float)(10 * i));
        sub_start(&subs[i]);
    }
    wait_for(depth_is, &d, "the queue to fill");
}

/* ------------------------------------------------------------------ tests */

static void test_alone_runs_inline(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 8, 1000000, 16, 1);
    struct sub s;

    (void)state;
    /* An idle engine and nobody else coming: no queue, no delay. */
    sub_fill(&s, b, 3, 5);
    sub_main(&s);
    sub_check(&s);
    assert_int_equal(s.info.queue_ns, 0);
    assert_int_equal(s.info.batch_rows, 3);
    assert_int_equal(fake_calls(NULL, 0), 1);
    assert_int_equal(atomic_load(&fx.stats.exec_count), 1);
    assert_int_equal(atomic_load(&fx.stats.batch.count), 1);
    assert_int_equal(atomic_load(&fx.stats.batch.buckets[2]), 1); /* 3 rows: le 4 */
    md_batcher_free(b);
}

static void test_gather(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 64, 1000000, 64, 1);
    struct sub first;
    struct sub subs[8];
    size_t calls[8];
    size_t i;

    (void)state;
    hold_and_queue(b, &first, subs, 8, 2);
    fake_shut(false);
    sub_join(&first);
    for (i = 0; i < 8; i++) {
        sub_join(&subs[i]);
        sub_check(&subs[i]);
        assert_int_equal(subs[i].info.batch_rows, 16);
    }
    sub_check(&first);
    /* The first request alone, then the eight queued ones in one call. */
    assert_int_equal(fake_calls(calls, 8), 2);
    assert_int_equal(calls[0], 1);
    assert_int_equal(calls[1], 16);
    assert_int_equal(md_batcher_depth(b), 0);
    assert_int_equal(atomic_load(&fx.stats.queue_depth), 0);
    assert_int_equal(atomic_load(&fx.stats.exec_count), 2);
    assert_int_equal(atomic_load(&fx.stats.batch.count), 2);
    assert_int_equal(atomic_load(&fx.stats.batch.sum), 17);
    assert_int_equal(atomic_load(&fx.stats.batch.buckets[4]), 1); /* 16 rows: le 16 */
    md_batcher_free(b);
}

static void check_size(void *ctx, size_t size, const struct md_batch_size_stats *s)
{
    size_t *seen = ctx;

    assert_true(size < 64);
    seen[size] = atomic_load(&s->count);
}

static void test_split_at_max(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 4, 1000000, 64, 1);
    struct sub first;
    struct sub subs[10];
    size_t calls[16];
    size_t seen[64] = {0};
    size_t n;
    size_t i;

    (void)state;
    hold_and_queue(b, &first, subs, 10, 1);
    fake_shut(false);
    sub_join(&first);
    for (i = 0; i < 10; i++) {
        sub_join(&subs[i]);
        sub_check(&subs[i]);
    }
    n = fake_calls(calls, 16);
    assert_int_equal(n, 4);
    assert_int_equal(calls[0], 1);
    assert_int_equal(calls[1], 4);
    assert_int_equal(calls[2], 4);
    assert_int_equal(calls[3], 2);
    md_batcher_foreach_size(b, check_size, seen);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 1);
    assert_int_equal(seen[4], 2);
    assert_int_equal(seen[3], 0);

    /* Requests of 3 rows: two never fit in 4, so each goes alone. */
    hold_and_queue(b, &first, subs, 3, 3);
    fake_shut(false);
    sub_join(&first);
    for (i = 0; i < 3; i++) {
        sub_join(&subs[i]);
        sub_check(&subs[i]);
        assert_int_equal(subs[i].info.batch_rows, 3);
    }

    /* A request larger than max_batch_size runs alone, whole. */
    fake_reset();
    sub_fill(&first, b, 10, 7);
    sub_main(&first);
    sub_check(&first);
    assert_int_equal(fake_calls(calls, 16), 1);
    assert_int_equal(calls[0], 10);
    memset(seen, 0, sizeof(seen));
    md_batcher_foreach_size(b, check_size, seen);
    assert_int_equal(seen[4], 2); /* sizes up to max only */
    md_batcher_free(b);
}

static void test_preferred_sizes(void **state)
{
    struct fixture fx;
    struct md_batcher *b;
    struct sub first;
    struct sub subs[7];
    size_t calls[8];
    size_t i;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    b = make(&fx, 64, 1000000, 64, 1);
    md_batcher_free(b);
    /* preferred [2, 4]: seven queued rows go as 4, then 2, then the last 1. */
    fx.preferred[0] = 2;
    fx.preferred[1] = 4;
    fx.contract.batching.n_preferred = 2;
    fake_reset();
    assert_int_equal(md_batcher_new(&fx.v, &fx.v.batcher, NULL), MD_OK);
    b = fx.v.batcher;
    hold_and_queue(b, &first, subs, 7, 1);
    fake_shut(false);
    sub_join(&first);
    for (i = 0; i < 7; i++) {
        sub_join(&subs[i]);
        sub_check(&subs[i]);
    }
    assert_int_equal(fake_calls(calls, 8), 4);
    assert_int_equal(calls[1], 4);
    assert_int_equal(calls[2], 2);
    assert_int_equal(calls[3], 1);
    md_batcher_free(b);
}

static uint64_t ms_since(uint64_t t0)
{
    return (md_now_ns() - t0) / 1000000u;
}

static void test_delay_bound(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 64, 50000, 64, 1); /* 50 ms */
    struct sub s;
    struct sub t;
    uint64_t t0;
    uint64_t waited;

    (void)state;
    /* Another request announced and never coming: the lone one waits the
     * whole delay for it, and no longer. */
    md_batcher_announce(b);
    sub_fill(&s, b, 1, 1);
    t0 = md_now_ns();
    sub_main(&s);
    waited = ms_since(t0);
    sub_check(&s);
    assert_true(waited >= 49);
    assert_true(waited < 5000);
    assert_true(s.info.queue_ns >= 49000000u);

    /* The announced request gives up: the waiting batch goes at once. */
    md_batcher_free(b);
    b = make(&fx, 64, 10000000, 64, 1); /* 10 s */
    md_batcher_announce(b);
    md_batcher_announce(b);
    sub_fill(&s, b, 1, 1);
    s.announced = true;
    t0 = md_now_ns();
    sub_start(&s);
    sleep_ms(20);
    assert_false(atomic_load(&s.finished));
    md_batcher_withdraw(b);
    sub_join(&s);
    sub_check(&s);
    assert_true(ms_since(t0) < 5000);

    /* A preferred size reached: no wait for the announced rest. */
    md_batcher_free(b);
    fx.preferred[0] = 2;
    fx.contract.batching.n_preferred = 1;
    fake_reset();
    assert_int_equal(md_batcher_new(&fx.v, &fx.v.batcher, NULL), MD_OK);
    b = fx.v.batcher;
    md_batcher_announce(b);
    md_batcher_announce(b);
    md_batcher_announce(b);
    sub_fill(&s, b, 1, 1);
    sub_fill(&t, b, 1, 2);
    s.announced = true;
    t.announced = true;
    t0 = md_now_ns();
    sub_start(&s);
    sub_start(&t);
    sub_join(&s);
    sub_join(&t);
    sub_check(&s);
    sub_check(&t);
    assert_true(ms_since(t0) < 5000);
    md_batcher_withdraw(b);
    md_batcher_free(b);
}

static void test_queue_full(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 64, 0, 2, 1);
    struct sub first;
    struct sub subs[2];
    struct sub extra;

    (void)state;
    hold_and_queue(b, &first, subs, 2, 1);
    sub_fill(&extra, b, 1, 3);
    sub_main(&extra);
    assert_int_equal(extra.rc, MD_EUNAVAIL);
    assert_int_equal(extra.err.code, MD_EUNAVAIL);
    assert_string_equal(extra.err.msg, "model 'm' queue is full (2 requests waiting)");
    assert_true(extra.out[0] == -1);
    fake_shut(false);
    sub_join(&first);
    sub_join(&subs[0]);
    sub_join(&subs[1]);
    sub_check(&subs[0]);
    sub_check(&subs[1]);
    /* Room again. */
    sub_main(&extra);
    sub_check(&extra);
    md_batcher_free(b);
}

static void test_deadline(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 64, 0, 64, 1);
    struct sub first;
    struct sub s;
    struct sub past;
    struct depth_arg d = {NULL, 0};
    uint64_t t0;

    (void)state;
    /* Queued behind a stuck engine: back with 504 at the deadline. */
    fake_shut(true);
    sub_fill(&first, b, 1, 1);
    sub_start(&first);
    wait_for(engine_busy, NULL, "the first request in the engine");
    sub_fill(&s, b, 2, 1);
    t0 = md_now_ns();
    s.deadline_ns = t0 + 30000000u; /* 30 ms */
    sub_main(&s);
    assert_int_equal(s.rc, MD_ETIMEDOUT);
    assert_int_equal(s.err.code, MD_ETIMEDOUT);
    assert_non_null(strstr(s.err.msg, "model 'm': deadline passed before the request ran ("));
    assert_true(ms_since(t0) >= 29);
    {
        /* The time it waited in the queue: at least the 30 ms, far from the host's uptime. */
        const char *p = strstr(s.err.msg, "ran (");
        unsigned long long us = strtoull(p + 5, NULL, 10);

        assert_non_null(strstr(s.err.msg, " us in the queue)"));
        assert_true(us >= 29000 && us < 60000000);
    }
    assert_true(s.out[0] == -1);
    d.b = b;
    wait_for(depth_is, &d, "the expired request to leave the queue");
    fake_shut(false);
    sub_join(&first);
    sub_check(&first);
    assert_int_equal(fake_calls(NULL, 0), 1); /* the expired rows never ran */

    /* Already past on arrival at an idle engine: not run either. */
    sub_fill(&past, b, 1, 1);
    past.deadline_ns = 1;
    sub_main(&past);
    assert_int_equal(past.rc, MD_ETIMEDOUT);
    /* It never queued: no queue time in its message (it once showed the host's uptime). */
    assert_string_equal(past.err.msg, "model 'm': deadline passed before the request ran");
    assert_int_equal(past.info.queue_ns, 0);
    assert_int_equal(fake_calls(NULL, 0), 1);

    /* A far deadline changes nothing. */
    sub_fill(&s, b, 2, 1);
    s.deadline_ns = md_now_ns() + 60000000000u;
    sub_main(&s);
    sub_check(&s);
    md_batcher_free(b);
}

static void test_engine_failure(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 64, 0, 64, 1);
    struct sub first;
    struct sub subs[3];
    size_t i;

    (void)state;
    hold_and_queue(b, &first, subs, 3, 1);
    pthread_mutex_lock(&fk.mu);
    fk.fail = true;
    pthread_mutex_unlock(&fk.mu);
    fake_shut(false);
    sub_join(&first);
    assert_int_equal(first.rc, MD_EINTERNAL);
    assert_string_equal(first.err.msg, "fake engine failed on 1 rows");
    for (i = 0; i < 3; i++) {
        sub_join(&subs[i]);
        assert_int_equal(subs[i].rc, MD_EINTERNAL);
        assert_string_equal(subs[i].err.msg, "fake engine failed on 3 rows");
    }
    md_batcher_free(b);
}

static void *free_main(void *arg)
{
    md_batcher_free(arg);
    return NULL;
}

static void test_free_drains(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 2, 1000000, 64, 1);
    struct sub first;
    struct sub subs[5];
    pthread_t t;
    size_t i;

    (void)state;
    hold_and_queue(b, &first, subs, 5, 1);
    /* Free while requests wait: they all run before the workers stop. */
    assert_int_equal(pthread_create(&t, NULL, free_main, b), 0);
    sleep_ms(10);
    fake_shut(false);
    sub_join(&first);
    for (i = 0; i < 5; i++) {
        sub_join(&subs[i]);
        sub_check(&subs[i]);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    md_batcher_free(NULL);
}

#define SUBMITTERS 8
#define ROUNDS     300

struct loop_arg {
    struct md_batcher *b;
    unsigned seed;
    size_t rows; /* out: rows sent */
    int bad;     /* out: wrong answers */
};

static void *loop_main(void *arg)
{
    struct loop_arg *l = arg;
    struct sub s;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        size_t rows = 1 + (size_t)(rand_r(&l->seed) % 5);
        size_t r;

        sub_fill(&s, l->b, rows, (float)(rand_r(&l->seed) % 1000));
        md_batcher_announce(l->b);
        s.announced = true;
        sub_main(&s);
        if (s.rc != MD_OK) {
            l->bad++;
            continue;
        }
        for (r = 0; r < rows; r++)
            if (s.out[r * OUTS] != s.x[r * WIDTH] + s.x[r * WIDTH + 1] + s.x[r * WIDTH + 2] ||
                s.out[r * OUTS + 1] != s.x[r * WIDTH])
                l->bad++;
        l->rows += rows;
    }
    return NULL;
}

static void test_concurrent_submitters(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 16, 200, 1024, 2);
    pthread_t t[SUBMITTERS];
    struct loop_arg l[SUBMITTERS];
    size_t total = 0;
    size_t i;

    (void)state;
    for (i = 0; i < SUBMITTERS; i++) {
        l[i].b = b;
        l[i].seed = (unsigned)(i + 1);
        l[i].rows = 0;
        l[i].bad = 0;
        assert_int_equal(pthread_create(&t[i], NULL, loop_main, &l[i]), 0);
    }
    for (i = 0; i < SUBMITTERS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(l[i].bad, 0);
        total += l[i].rows;
    }
    assert_int_equal(fk.rows, total);
    assert_int_equal(atomic_load(&fx.stats.batch.sum), total);
    assert_int_equal(atomic_load(&fx.stats.batch.count), fake_calls(NULL, 0));
    assert_int_equal(md_batcher_depth(b), 0);
    md_batcher_free(b);
}

/* ------------------------------------------------------------ submit */

struct waker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
};

static void on_done(void *ctx)
{
    struct waker *w = ctx;

    pthread_mutex_lock(&w->mu);
    w->calls++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void waker_init(struct waker *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->calls = 0;
}

/* Waits (bounded) until w has been called n times in all. */
static void waker_wait(struct waker *w, int n)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&w->mu);
    while (w->calls < n)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
            break;
    assert_int_equal(w->calls, n);
    pthread_mutex_unlock(&w->mu);
}

static void test_submit(void **state)
{
    struct fixture fx;
    struct md_batcher *b = make(&fx, 64, 0, 2, 1);
    struct md_batch_job jobs[4];
    struct sub in[4];
    struct md_batch_info info;
    struct md_err err;
    struct waker w;
    size_t calls[8];
    int i;

    (void)state;
    waker_init(&w);
    /* Even an idle engine gets the rows through the queue: the caller
     * asked not to block, so it never runs them itself. */
    sub_fill(&in[0], b, 2, 1);
    assert_int_equal(
        md_batcher_submit(b, &jobs[0], in[0].x, 2, in[0].out, 0, false, on_done, &w, &err),
        MD_EPENDING);
    waker_wait(&w, 1);
    assert_int_equal(md_batch_job_result(&jobs[0], &info, &err), MD_OK);
    in[0].rc = MD_OK;
    sub_check(&in[0]);
    assert_int_equal(info.batch_rows, 2);

    /* Behind a stuck engine: two queue, the third is refused at once with no
     * callback; one expires in the queue and comes back as a timeout. */
    fake_shut(true);
    sub_fill(&in[0], b, 1, 1);
    assert_int_equal(
        md_batcher_submit(b, &jobs[0], in[0].x, 1, in[0].out, 0, false, on_done, &w, &err),
        MD_EPENDING);
    wait_for(engine_busy, NULL, "the first job in the engine");
    for (i = 1; i < 4; i++)
        sub_fill(&in[i], b, 1, (float)(10 * i));
    assert_int_equal(
        md_batcher_submit(b, &jobs[1], in[1].x, 1, in[1].out, 0, false, on_done, &w, &err),
        MD_EPENDING);
    assert_int_equal(
        md_batcher_submit(b, &jobs[2], in[2].x, 1, in[2].out, 1, false, on_done, &w, &err),
        MD_EPENDING);
    assert_int_equal(
        md_batcher_submit(b, &jobs[3], in[3].x, 1, in[3].out, 0, false, on_done, &w, &err),
        MD_EUNAVAIL);
    assert_string_equal(err.msg, "model 'm' queue is full (2 requests waiting)");
    assert_int_equal(md_batch_job_result(&jobs[3], NULL, &err), MD_EUNAVAIL);
    fake_shut(false);
    waker_wait(&w, 4);
    assert_int_equal(md_batch_job_result(&jobs[0], NULL, NULL), MD_OK);
    assert_int_equal(md_batch_job_result(&jobs[1], &info, NULL), MD_OK);
    in[1].rc = MD_OK;
    sub_check(&in[1]);
    assert_int_equal(info.batch_rows, 1);
    assert_int_equal(md_batch_job_result(&jobs[2], NULL, &err), MD_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "deadline passed"));
    assert_true(in[2].out[0] == -1);
    assert_int_equal(fake_calls(calls, 8), 3);
    md_batcher_free(b);
}

/* ------------------------------------------------------------ infer.c bits */

static void test_infer_start(void **state)
{
    static const char yaml[] = "backend: trees\ntask: regression\n"
                               "features: [{name: a, datatype: FP32}, {name: b, datatype: FP32},"
                               " {name: c, datatype: FP32}]\n"
                               "dynamic_batching: {max_batch_size: 8, max_queue_delay_us: 0,"
                               " max_queue_size: 1}\n";
    struct md_contract *c = NULL;
    struct md_version v;
    struct md_version_stats stats;
    struct md_arena a;
    struct md_tensor t;
    struct md_prediction p;
    struct md_infer_call *call = NULL;
    struct md_err err;
    struct waker w;
    float data[6] = {1, 2, 3, 4, 5, 6};
    int rc;

    (void)state;
    assert_int_equal(md_contract_parse(yaml, strlen(yaml), "m", &c, &err), MD_OK);
    memset(&v, 0, sizeof(v));
    memset(&stats, 0, sizeof(stats));
    v.model = (char *)"m";
    v.stats = &stats;
    v.contract = c;
    v.ops = &fake_ops;
    v.engine = &fk;
    fake_describe(NULL, &v.desc);
    fake_reset();
    assert_int_equal(md_batcher_new(&v, &v.batcher, &err), MD_OK);
    md_arena_init(&a, 1 << 20);
    memset(&t, 0, sizeof(t));
    t.name = "features";
    t.dtype = MD_DT_FP32;
    t.ndim = 2;
    t.shape[0] = 2;
    t.shape[1] = 3;
    t.count = 6;
    t.data = data;
    waker_init(&w);

    /* Not blocking: pending, then the wake, then the outcome. */
    rc = md_infer_start(&v, &t, 1, 0, &a, on_done, &w, &p, &call, &err);
    assert_int_equal(rc, MD_EPENDING);
    assert_non_null(call);
    waker_wait(&w, 1);
    assert_int_equal(md_infer_finish(call, &p, &err), MD_OK);
    assert_int_equal(p.rows, 2);
    assert_int_equal(p.per_row, OUTS);
    assert_true(p.batched);
    assert_true(p.scores[0] == 6 && p.scores[1] == 1 && p.scores[2] == 15 && p.scores[3] == 4);

    /* Blocking: the same answer on return. */
    rc = md_infer_start(&v, &t, 1, 0, &a, NULL, NULL, &p, &call, &err);
    assert_int_equal(rc, MD_OK);
    assert_null(call);
    assert_true(p.scores[2] == 15);

    /* Bad input: rejected before any queue, the announcement taken back. */
    t.shape[1] = 2;
    t.count = 4;
    rc = md_infer_start(&v, &t, 1, 0, &a, on_done, &w, &p, &call, &err);
    assert_int_equal(rc, MD_EINVAL);
    assert_null(call);

    /* A full queue: refused at once, never an answer made of nothing. */
    t.shape[1] = 3;
    t.count = 6;
    {
        struct md_infer_call *c1 = NULL;
        struct md_infer_call *c2 = NULL;
        struct md_prediction p1;
        struct md_prediction p2;

        fake_shut(true);
        assert_int_equal(md_infer_start(&v, &t, 1, 0, &a, on_done, &w, &p1, &c1, &err),
                         MD_EPENDING);
        wait_for(engine_busy, NULL, "the first call in the engine");
        assert_int_equal(md_infer_start(&v, &t, 1, 0, &a, on_done, &w, &p2, &c2, &err),
                         MD_EPENDING);
        rc = md_infer_start(&v, &t, 1, 0, &a, on_done, &w, &p, &call, &err);
        assert_int_equal(rc, MD_EUNAVAIL);
        assert_null(call);
        assert_string_equal(err.msg, "model 'm' queue is full (1 requests waiting)");
        fake_shut(false);
        waker_wait(&w, 3);
        assert_int_equal(md_infer_finish(c1, &p1, &err), MD_OK);
        assert_int_equal(md_infer_finish(c2, &p2, &err), MD_OK);
        assert_true(p2.scores[2] == 15);
    }

    /* An engine failure carries the engine's name. */
    t.shape[1] = 3;
    t.count = 6;
    pthread_mutex_lock(&fk.mu);
    fk.fail = true;
    pthread_mutex_unlock(&fk.mu);
    rc = md_infer_start(&v, &t, 1, 0, &a, on_done, &w, &p, &call, &err);
    assert_int_equal(rc, MD_EPENDING);
    waker_wait(&w, 4);
    assert_int_equal(md_infer_finish(call, &p, &err), MD_EINTERNAL);
    assert_string_equal(err.msg, "engine 'fake': fake engine failed on 2 rows");
    fake_reset();

    md_batcher_free(v.batcher);
    md_arena_release(&a);
    md_contract_free(c);
}

static void test_infer_deadline_and_account(void **state)
{
    struct fixture fx;
    struct md_prediction p;
    uint64_t t0;
    uint64_t t1;
    int64_t wall;
    const struct md_route_stats *r;
    struct md_request_totals tot;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.v.contract = &fx.contract;
    fx.v.stats = &fx.stats;
    assert_int_equal(md_infer_deadline(&fx.v, 1000, 0), 0);
    assert_int_equal(md_infer_deadline(&fx.v, 1000, 5), 6000);
    fx.contract.timeout_us = 7;
    assert_int_equal(md_infer_deadline(&fx.v, 1000, 0), 8000);
    assert_int_equal(md_infer_deadline(&fx.v, 1000, 2), 3000);
    assert_true(md_infer_deadline(&fx.v, 1000, INT64_MAX) == UINT64_MAX);

    memset(&p, 0, sizeof(p));
    p.rows = 3;
    p.batched = true;
    p.queue_ns = 500;
    assert_int_equal(md_mono_to_wall_ms(atomic_load(&fx.stats.routes[0].last_inference)), 0);
    t0 = md_now_ns();
    md_infer_account(&fx.v, "canary", &p, MD_OK, t0 - 2000);
    md_infer_account(&fx.v, "canary", &p, MD_EUNAVAIL, t0 - 10);
    md_infer_account(&fx.v, "canary", &p, MD_ETIMEDOUT, t0 - 10);
    md_infer_account(&fx.v, "canary", &p, MD_ETIMEDOUT, t0 - 10);
    md_infer_account(&fx.v, "canary", &p, MD_EINTERNAL, t0 - 10);
    md_infer_account(&fx.v, "canary", &p, MD_EINVAL, t0 - 10);
    t1 = md_now_ns();
    /* One route so far, in the first slot. */
    assert_int_equal(atomic_load(&fx.stats.n_routes), 1);
    r = &fx.stats.routes[0];
    assert_string_equal(r->name, "canary");
    /* Durations run from the start given to the moment of the call. */
    assert_true(atomic_load(&r->request_ns) >= 2000);
    assert_true(atomic_load(&r->request_ns) <= 2000 + (t1 - t0));
    assert_true(atomic_load(&r->fail_ns) >= 50);
    assert_true(atomic_load(&r->fail_ns) <= 50 + 5 * (t1 - t0));
    /* The last success, on the monotonic clock, reads as wall-clock milliseconds. */
    assert_true(atomic_load(&r->last_inference) >= t0);
    assert_true(atomic_load(&r->last_inference) <= t1);
    wall = md_mono_to_wall_ms(atomic_load(&r->last_inference));
    assert_true(wall <= md_wall_ms() && wall >= md_wall_ms() - 1000);
    if (t0 > 60000000000ULL)
        assert_true(md_mono_to_wall_ms(t0 - 60000000000ULL) <= md_wall_ms() - 59000);
    assert_int_equal(atomic_load(&r->success), 1);
    assert_int_equal(atomic_load(&r->inference_count), 3);
    assert_int_equal(atomic_load(&r->queue_ns), 500);
    assert_int_equal(atomic_load(&r->queue.count), 1);
    assert_int_equal(atomic_load(&r->fail_overload), 1);
    assert_int_equal(atomic_load(&r->fail_timeout), 2);
    assert_int_equal(atomic_load(&r->fail_backend), 1);
    assert_int_equal(atomic_load(&r->fail_rejected), 1);
    /* Another route counts apart; no route is "default". */
    md_infer_account(&fx.v, "stable", &p, MD_OK, t0);
    md_infer_account(&fx.v, NULL, &p, MD_OK, t0);
    assert_int_equal(atomic_load(&fx.stats.n_routes), 3);
    assert_string_equal(fx.stats.routes[1].name, "stable");
    assert_string_equal(fx.stats.routes[2].name, "default");
    assert_int_equal(atomic_load(&fx.stats.routes[1].success), 1);
    assert_int_equal(atomic_load(&fx.stats.routes[2].success), 1);
    assert_int_equal(atomic_load(&r->success), 1);
    md_request_totals(&fx.stats, NULL, &tot);
    assert_int_equal(tot.success, 3);
    assert_int_equal(tot.inference_count, 9);
    assert_int_equal(tot.fail_timeout, 2);
}

static void test_rows_histogram(void **state)
{
    struct md_rows_histogram h;

    (void)state;
    memset(&h, 0, sizeof(h));
    md_rows_histogram_observe(&h, 1);
    md_rows_histogram_observe(&h, 2);
    md_rows_histogram_observe(&h, 3);
    md_rows_histogram_observe(&h, 1024);
    md_rows_histogram_observe(&h, 1025);
    assert_int_equal(atomic_load(&h.buckets[0]), 1);
    assert_int_equal(atomic_load(&h.buckets[1]), 1);
    assert_int_equal(atomic_load(&h.buckets[2]), 1);
    assert_int_equal(atomic_load(&h.buckets[10]), 1);
    assert_int_equal(atomic_load(&h.buckets[MD_ROWS_BUCKETS]), 1);
    assert_int_equal(atomic_load(&h.count), 5);
    assert_int_equal(atomic_load(&h.sum), 2055);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone_runs_inline),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_split_at_max),
        cmocka_unit_test(test_preferred_sizes),
        cmocka_unit_test(test_delay_bound),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_engine_failure),
        cmocka_unit_test(test_free_drains),
        cmocka_unit_test(test_concurrent_submitters),
        cmocka_unit_test(test_submit),
        cmocka_unit_test(test_infer_start),
        cmocka_unit_test(test_infer_deadline_and_account),
        cmocka_unit_test(test_rows_histogram),
    };

    pthread_mutex_init(&fk.mu, NULL);
    pthread_cond_init(&fk.cv, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
