/* SPDX-License-Identifier: MIT */
/*
 * test_control.c: control's scheduler (periods kept on a clock of the test's
 * own, kicks, a late step, jobs in order one at a time, a long job that does
 * not hold up the tick, stopping with jobs waiting), the command queue
 * (submit, take, complete, wake, a submitter that leaves before the outcome,
 * closing with commands pending, the notify hook), and control itself over a
 * real repository in a temporary directory. A load that lasts is a version
 * of backend xgboost, whose load first runs a helper process
 * (backend/loadcheck): here a stand-in script that waits until the test
 * creates a file and then runs the real helper (the modeld built beside this
 * test), so the load lasts until the test says and then succeeds. Every
 * wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_files.h"

#include "backend/loadcheck.h"
#include "control/control.h"
#include "control/sched.h"
#include "serve/command.h"
#include "serve/repo.h"
#include "util/common.h"
#include "util/log.h"
#include "util/mem.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH   "tests/data/bench/"
#define WAIT_MS 10000 /* the longest any wait below lasts */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Polls cond(ctx) every millisecond for up to WAIT_MS; its last answer. */
static bool eventually(bool (*cond)(void *ctx), void *ctx)
{
    int i;

    for (i = 0; i < WAIT_MS; i++) {
        if (cond(ctx))
            return true;
        sleep_ms(1);
    }
    return cond(ctx);
}

/* ------------------------------------------------------------ scheduler */

struct counter {
    _Atomic int n;
    uint64_t last_ms; /* now_ms of the last run */
};

static void count_task(void *ctx, uint64_t now_ms)
{
    struct counter *c = ctx;

    c->last_ms = now_ms;
    atomic_fetch_add(&c->n, 1);
}

/* Periods on the test's clock: each task at its own period, from the first step. */
static void test_sched_periods(void **state)
{
    struct md_sched *s = md_sched_new();
    struct counter a = {0};
    struct counter b = {0};
    struct counter k = {0};
    int ta = md_sched_add(s, "a", 10, count_task, &a);
    int tb = md_sched_add(s, "b", 25, count_task, &b);
    int tk = md_sched_add(s, "kicked", 0, count_task, &k);
    uint64_t t;

    (void)state;
    assert_true(ta == 0 && tb == 1 && tk == 2);
    assert_int_equal(md_sched_step(s, 1000), 10); /* plans only */
    assert_int_equal(atomic_load(&a.n), 0);
    for (t = 1001; t <= 1100; t++)
        md_sched_step(s, t);
    assert_int_equal(atomic_load(&a.n), 10); /* 1010, 1020, ..., 1100 */
    assert_int_equal(atomic_load(&b.n), 4);  /* 1025, 1050, 1075, 1100 */
    assert_int_equal(atomic_load(&k.n), 0);
    assert_int_equal(md_sched_runs(s, ta), 10);
    /* A kick runs its task at the next step and leaves the others' plans. */
    md_sched_kick(s, tk);
    assert_int_equal(md_sched_step(s, 1101), 9);
    assert_int_equal(atomic_load(&k.n), 1);
    assert_int_equal(atomic_load(&a.n), 10);
    md_sched_kick(s, ta);
    md_sched_step(s, 1102);
    assert_int_equal(atomic_load(&a.n), 11);
    md_sched_step(s, 1110);
    assert_int_equal(atomic_load(&a.n), 12); /* still on its plan */
    /* A step that comes late runs each task once, and plans from then. */
    assert_int_equal(md_sched_step(s, 1500), 10);
    assert_int_equal(atomic_load(&a.n), 13);
    assert_int_equal(atomic_load(&b.n), 5);
    md_sched_step(s, 1509);
    assert_int_equal(atomic_load(&a.n), 13);
    md_sched_step(s, 1510);
    assert_int_equal(atomic_load(&a.n), 14);
    assert_int_equal(a.last_ms, 1510);
    md_sched_free(s);
}

struct order {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int seq[16];
    int n;
    int inside;   /* jobs running now */
    int most;     /* the most running at once */
    bool hold;    /* a holding job waits while this is set */
    bool holding; /* a holding job has started */
    int cancelled;
    int cancelled_here; /* cancelled on the thread that posted */
    pthread_t poster;
};

static struct order ord = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void order_reset(void)
{
    pthread_mutex_lock(&ord.mu);
    ord.n = 0;
    ord.inside = 0;
    ord.most = 0;
    ord.hold = false;
    ord.holding = false;
    ord.cancelled = 0;
    ord.cancelled_here = 0;
    pthread_mutex_unlock(&ord.mu);
}

static void job_run(void *arg)
{
    pthread_mutex_lock(&ord.mu);
    if (++ord.inside > ord.most)
        ord.most = ord.inside;
    pthread_mutex_unlock(&ord.mu);
    sleep_ms(2); /* a second job running now would be seen */
    pthread_mutex_lock(&ord.mu);
    ord.seq[ord.n++] = (int)(intptr_t)arg;
    ord.inside--;
    pthread_mutex_unlock(&ord.mu);
}

static void job_cancel(void *arg)
{
    MD_UNUSED(arg);
    pthread_mutex_lock(&ord.mu);
    ord.cancelled++;
    if (pthread_equal(pthread_self(), ord.poster))
        ord.cancelled_here++;
    pthread_mutex_unlock(&ord.mu);
}

/* A job that runs until the test lets it go. */
static void job_hold(void *arg)
{
    MD_UNUSED(arg);
    pthread_mutex_lock(&ord.mu);
    ord.holding = true;
    pthread_cond_broadcast(&ord.cv);
    while (ord.hold)
        pthread_cond_wait(&ord.cv, &ord.mu);
    ord.seq[ord.n++] = 0;
    pthread_mutex_unlock(&ord.mu);
}

static void release_hold(void)
{
    pthread_mutex_lock(&ord.mu);
    ord.hold = false;
    pthread_cond_broadcast(&ord.cv);
    pthread_mutex_unlock(&ord.mu);
}

static bool holding(void *ctx)
{
    bool h;

    MD_UNUSED(ctx);
    pthread_mutex_lock(&ord.mu);
    h = ord.holding;
    pthread_mutex_unlock(&ord.mu);
    return h;
}

static bool no_jobs(void *ctx)
{
    return md_sched_jobs(ctx) == 0;
}

/* Jobs run on the worker in the order handed, one at a time. */
static void test_sched_jobs_in_order(void **state)
{
    struct md_sched *s = md_sched_new();
    struct md_err err;
    intptr_t i;

    (void)state;
    order_reset();
    for (i = 1; i <= 5; i++)
        md_sched_post(s, job_run, job_cancel, (void *)i);
    assert_int_equal(md_sched_jobs(s), 5);
    assert_int_equal(md_sched_start(s, &err), MD_OK);
    assert_true(eventually(no_jobs, s));
    for (i = 0; i < 5; i++)
        assert_int_equal(ord.seq[i], i + 1);
    assert_int_equal(ord.most, 1);
    assert_int_equal(ord.cancelled, 0);
    md_sched_free(s);
}

struct ticking {
    struct counter *c;
    int from;
};

static bool ticked_five(void *ctx)
{
    struct ticking *t = ctx;

    return atomic_load(&t->c->n) >= t->from + 5;
}

/* A task that hands the worker a job which lasts until the test says. */
static void task_post_hold(void *ctx, uint64_t now_ms)
{
    MD_UNUSED(now_ms);
    md_sched_post(ctx, job_hold, job_cancel, NULL);
}

/* A long job on the worker holds up no task: a 5 ms task keeps ticking. */
static void test_sched_long_job_delays_no_task(void **state)
{
    struct md_sched *s = md_sched_new();
    struct counter fast = {0};
    struct ticking t = {&fast, 0};
    struct md_err err;
    int tl;

    (void)state;
    order_reset();
    ord.hold = true;
    md_sched_add(s, "fast", 5, count_task, &fast);
    tl = md_sched_add(s, "long", 0, task_post_hold, s);
    assert_int_equal(md_sched_start(s, &err), MD_OK);
    md_sched_kick(s, tl);
    assert_true(eventually(holding, NULL));
    t.from = atomic_load(&fast.n);
    assert_true(eventually(ticked_five, &t));
    assert_int_equal(md_sched_jobs(s), 1); /* the long job still runs */
    release_hold();
    assert_true(eventually(no_jobs, s));
    md_sched_free(s);
}

struct stopper {
    struct md_sched *s;
    pthread_t th;
};

static void *stop_main(void *arg)
{
    md_sched_stop(((struct stopper *)arg)->s);
    return NULL;
}

/*
 * Stopping lets the running job finish and cancels the ones waiting, and a
 * job handed once the stop has begun is cancelled at once, on the thread
 * that handed it. A scheduler never started cancels what it holds.
 */
static void test_sched_stop_cancels_waiting_jobs(void **state)
{
    struct md_sched *s = md_sched_new();
    struct stopper st;
    struct md_err err;
    int probes = 0;

    (void)state;
    order_reset();
    ord.poster = pthread_self();
    ord.hold = true;
    assert_int_equal(md_sched_start(s, &err), MD_OK);
    md_sched_post(s, job_hold, job_cancel, NULL);
    assert_true(eventually(holding, NULL));
    md_sched_post(s, job_run, job_cancel, (void *)7);
    st.s = s;
    assert_int_equal(pthread_create(&st.th, NULL, stop_main, &st), 0);
    /* Probes until one is cancelled at once: the stop has begun. */
    while (probes < WAIT_MS) {
        int here;

        md_sched_post(s, job_run, job_cancel, (void *)8);
        probes++;
        pthread_mutex_lock(&ord.mu);
        here = ord.cancelled_here;
        pthread_mutex_unlock(&ord.mu);
        if (here > 0)
            break;
        sleep_ms(1);
    }
    release_hold();
    assert_int_equal(pthread_join(st.th, NULL), 0);
    assert_int_equal(ord.n, 1); /* the held job only */
    assert_int_equal(ord.seq[0], 0);
    assert_int_equal(ord.cancelled, 1 + probes);
    assert_int_equal(ord.cancelled_here, 1);
    assert_int_equal(md_sched_jobs(s), 0);
    md_sched_free(s);

    order_reset();
    s = md_sched_new();
    md_sched_post(s, job_run, job_cancel, (void *)1);
    md_sched_post(s, job_run, NULL, (void *)2);
    md_sched_free(s);
    assert_int_equal(ord.n, 0);
    assert_int_equal(ord.cancelled, 1);
}

/* ------------------------------------------------------------ commands */

static _Atomic int wakes;

static void count_wake(void *ctx)
{
    atomic_fetch_add((_Atomic int *)ctx, 1);
}

static void test_command_submit_take_complete(void **state)
{
    struct md_commands *q = md_commands_new();
    struct md_command *mine[3];
    struct md_command *taken;
    struct md_err err;
    struct md_err out;
    int i;

    (void)state;
    atomic_store(&wakes, 0);
    assert_int_equal(
        md_commands_submit(q, MD_COMMAND_LOAD, "m1", count_wake, &wakes, &mine[0], &err), MD_OK);
    assert_int_equal(md_commands_submit(q, MD_COMMAND_UNLOAD, "m2", NULL, NULL, &mine[1], &err),
                     MD_OK);
    assert_int_equal(md_commands_submit(q, MD_COMMAND_LOAD, "m3", NULL, NULL, &mine[2], &err),
                     MD_OK);
    assert_int_equal(md_commands_pending(q), 3);
    /* First in, first out. */
    for (i = 0; i < 3; i++) {
        taken = md_commands_take(q);
        assert_ptr_equal(taken, mine[i]);
        assert_false(md_command_done(taken));
        assert_int_equal(md_command_outcome(taken, &out), MD_EPENDING);
        if (i == 0) {
            assert_int_equal(md_command_kind(taken), MD_COMMAND_LOAD);
            assert_string_equal(md_command_model(taken), "m1");
            md_err_set(&err, MD_EINVAL, "model 'm1': version 1: bad");
            md_command_complete(taken, &err);
            assert_int_equal(atomic_load(&wakes), 1);
        } else {
            assert_int_equal(md_command_kind(taken), i == 1 ? MD_COMMAND_UNLOAD : MD_COMMAND_LOAD);
            md_command_complete(taken, NULL);
        }
        md_command_unref(taken); /* the queue's reference */
    }
    assert_null(md_commands_take(q));
    assert_int_equal(md_commands_pending(q), 0);
    assert_true(md_command_done(mine[0]));
    assert_int_equal(md_command_outcome(mine[0], &out), MD_EINVAL);
    assert_string_equal(out.msg, "model 'm1': version 1: bad");
    assert_int_equal(md_command_outcome(mine[1], &out), MD_OK);
    assert_string_equal(out.msg, "");
    assert_int_equal(md_command_wait(mine[2], &out), MD_OK);
    for (i = 0; i < 3; i++)
        md_command_unref(mine[i]);
    md_command_unref(NULL);
    md_commands_free(q);
}

/*
 * The submitter leaves before the outcome (a client that hung up): the
 * command still completes and wakes, and is freed by the last unref, whoever
 * holds it (the leak checker of the sanitizer build sees the rest).
 */
static void test_command_submitter_leaves_first(void **state)
{
    struct md_commands *q = md_commands_new();
    struct md_command *mine;
    struct md_command *taken;
    struct md_err err;

    (void)state;
    atomic_store(&wakes, 0);
    assert_int_equal(
        md_commands_submit(q, MD_COMMAND_LOAD, "gone", count_wake, &wakes, &mine, &err), MD_OK);
    md_command_unref(mine); /* the submitter's reference, before the outcome */
    taken = md_commands_take(q);
    assert_non_null(taken);
    assert_string_equal(md_command_model(taken), "gone");
    md_command_complete(taken, NULL);
    assert_int_equal(atomic_load(&wakes), 1);
    md_command_unref(taken);

    /* And the other way round: completed, then the submitter drops it. */
    assert_int_equal(
        md_commands_submit(q, MD_COMMAND_LOAD, "late", count_wake, &wakes, &mine, &err), MD_OK);
    taken = md_commands_take(q);
    md_command_complete(taken, NULL);
    md_command_unref(taken);
    assert_int_equal(atomic_load(&wakes), 2);
    assert_int_equal(md_command_outcome(mine, NULL), MD_OK);
    md_command_unref(mine);
    md_commands_free(q);
}

static void *complete_later(void *arg)
{
    struct md_commands *q = arg;
    struct md_command *c = NULL;
    struct md_err err;
    int i;

    for (i = 0; i < WAIT_MS && c == NULL; i++) {
        c = md_commands_take(q);
        if (c == NULL)
            sleep_ms(1);
    }
    if (c == NULL)
        return NULL;
    sleep_ms(20); /* the waiter is (most likely) asleep by now */
    md_err_set(&err, MD_ENOTFOUND, "no model '%s' in the repository", md_command_model(c));
    md_command_complete(c, &err);
    md_command_unref(c);
    return NULL;
}

/* md_command_wait blocks until another thread completes the command. */
static void test_command_wait(void **state)
{
    struct md_commands *q = md_commands_new();
    struct md_command *mine;
    struct md_err err;
    pthread_t th;

    (void)state;
    assert_int_equal(pthread_create(&th, NULL, complete_later, q), 0);
    assert_int_equal(md_commands_submit(q, MD_COMMAND_LOAD, "x", NULL, NULL, &mine, &err), MD_OK);
    assert_int_equal(md_command_wait(mine, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "no model 'x' in the repository");
    assert_int_equal(pthread_join(th, NULL), 0);
    md_command_unref(mine);
    md_commands_free(q);
}

/* Closing completes what is pending with the reason and refuses new submits. */
static void test_command_close_with_pending(void **state)
{
    struct md_commands *q = md_commands_new();
    struct md_command *a;
    struct md_command *b;
    struct md_command *c;
    struct md_err err;
    _Atomic int notified = 0;

    (void)state;
    atomic_store(&wakes, 0);
    md_commands_set_notify(q, count_wake, &notified);
    assert_int_equal(md_commands_submit(q, MD_COMMAND_LOAD, "a", count_wake, &wakes, &a, &err),
                     MD_OK);
    assert_int_equal(atomic_load(&notified), 1);
    md_commands_set_notify(q, NULL, NULL);
    assert_int_equal(md_commands_submit(q, MD_COMMAND_UNLOAD, "b", count_wake, &wakes, &b, &err),
                     MD_OK);
    assert_int_equal(atomic_load(&notified), 1);
    md_commands_close(q, NULL);
    assert_int_equal(atomic_load(&wakes), 2);
    assert_int_equal(md_command_outcome(a, &err), MD_EUNAVAIL);
    assert_string_equal(err.msg, "server shutting down");
    assert_int_equal(md_command_wait(b, &err), MD_EUNAVAIL);
    assert_int_equal(md_commands_pending(q), 0);
    c = a; /* not NULL: the refused submit must clear it */
    assert_int_equal(md_commands_submit(q, MD_COMMAND_LOAD, "c", count_wake, &wakes, &c, &err),
                     MD_EUNAVAIL);
    assert_null(c);
    assert_string_equal(err.msg, "server shutting down");
    assert_int_equal(atomic_load(&wakes), 2);
    md_command_unref(a);
    md_command_unref(b);
    md_commands_free(q);

    /* A reason of one's own; freeing the queue completes what it holds. */
    q = md_commands_new();
    assert_int_equal(md_commands_submit(q, MD_COMMAND_LOAD, "a", NULL, NULL, &a, &err), MD_OK);
    md_commands_free(q);
    assert_int_equal(md_command_outcome(a, &err), MD_EUNAVAIL);
    md_command_unref(a);
    q = md_commands_new();
    md_commands_close(q, "no control loop");
    assert_int_equal(md_commands_submit(q, MD_COMMAND_LOAD, "a", NULL, NULL, &a, &err),
                     MD_EUNAVAIL);
    assert_string_equal(err.msg, "no control loop");
    md_commands_free(q);
}

/* ------------------------------------------------------------ control */

/*
 * DIR/<name>/model.yaml (the bench contract) and version 1, the bench model;
 * with xgboost the contract names backend xgboost instead of trees, so each
 * load of the version runs a load-check helper first.
 */
static void add_model(const char *repo, const char *name, bool xgboost)
{
    static const char trees[] = "\nbackend: trees\n";
    char path[512];
    char *text;
    char *at;

    snprintf(path, sizeof(path), "%s/%s", repo, name);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/%s/1", repo, name);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/%s/model.yaml", repo, name);
    text = file_slurp(BENCH "model.yaml");
    at = strstr(text, trees);
    assert_non_null(at);
    if (xgboost) {
        FILE *f = fopen(path, "wb");

        assert_non_null(f);
        assert_true(fprintf(f, "%.*s\nbackend: xgboost\n%s", (int)(at - text), text,
                            at + strlen(trees)) > 0);
        assert_int_equal(fclose(f), 0);
    } else {
        file_put(path, text);
    }
    free(text);
    snprintf(path, sizeof(path), "%s/%s/1/model.json", repo, name);
    text = file_slurp(BENCH "bench_model.json");
    file_put(path, text);
    free(text);
}

struct repo_fixture {
    char dir[64];
    char gate[64]; /* the held helper's directory ("" when none): the script, "started", "go" */
    struct md_repo *repo;
    struct md_commands *q;
    struct md_control *ctl;
};

static bool exists(void *path)
{
    return access(path, F_OK) == 0;
}

/*
 * Makes every xgboost load of the fixture last until release_helper: the
 * load-check helper becomes a script in a directory of its own that creates
 * "started", waits until "go" appears (30 s at most, so a failed test leaves
 * nothing behind for long) and then runs the real helper, the modeld built
 * beside this test (build/modeld for build/tests/test_control), on one
 * OpenMP thread (starting more takes over a second in the ThreadSanitizer
 * build).
 */
static void hold_helper(struct repo_fixture *f)
{
    char self[PATH_MAX];
    char modeld[PATH_MAX + 8];
    char script[128];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;
    FILE *out;
    int i;

    assert_true(n > 0);
    self[n] = '\0';
    for (i = 0; i < 2; i++) { /* .../build/tests/test_control -> .../build */
        slash = strrchr(self, '/');
        assert_non_null(slash);
        *slash = '\0';
    }
    snprintf(modeld, sizeof(modeld), "%s/modeld", self);
    if (access(modeld, X_OK) != 0)
        fail_msg("test_control: no helper at %s (make all first)", modeld);
    snprintf(f->gate, sizeof(f->gate), "/tmp/md-test-control-gate-XXXXXX");
    assert_non_null(mkdtemp(f->gate));
    snprintf(script, sizeof(script), "%s/helper", f->gate);
    out = fopen(script, "w");
    assert_non_null(out);
    fprintf(out,
            "#!/bin/sh\n"
            ": > '%s/started'\n"
            "i=0\n"
            "while [ ! -e '%s/go' ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done\n"
            "OMP_NUM_THREADS=1 exec '%s' \"$@\"\n",
            f->gate, f->gate, modeld);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(script, 0755), 0);
    md_loadcheck_configure(&(struct md_loadcheck_config){script, 60000, (size_t)4096 << 20});
}

/* Waits until the held helper has started: the load is under way. */
static void helper_started(struct repo_fixture *f)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/started", f->gate);
    assert_true(eventually(exists, path));
}

/* Lets the held helper go on: the load it holds ends (and succeeds). */
static void release_helper(struct repo_fixture *f)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/go", f->gate);
    file_put(path, "");
}

static void fixture_open(struct repo_fixture *f, unsigned poll_s)
{
    struct md_err err;

    f->gate[0] = '\0';
    snprintf(f->dir, sizeof(f->dir), "/tmp/md-test-control-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    add_model(f->dir, "bench", false);
    assert_int_equal(md_repo_open(f->dir, &f->repo, &err), MD_OK);
    assert_int_equal(md_repo_scan(f->repo), 0);
    f->q = md_commands_new();
    assert_int_equal(md_control_start(f->repo, f->q, poll_s, NULL, NULL, NULL, 0, &f->ctl, &err),
                     MD_OK);
}

static void fixture_close(struct repo_fixture *f)
{
    char cmd[128];

    md_control_stop(f->ctl);
    md_commands_free(f->q);
    md_repo_free(f->repo);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    if (f->gate[0] != '\0') {
        md_loadcheck_configure(&(struct md_loadcheck_config){NULL, 30000, (size_t)4096 << 20});
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->gate);
        assert_int_equal(system(cmd), 0);
    }
}

static int run(struct md_commands *q, enum md_command_kind kind, const char *model,
               struct md_err *out)
{
    struct md_command *c;
    int rc = md_commands_submit(q, kind, model, NULL, NULL, &c, out);

    if (rc != MD_OK)
        return rc;
    rc = md_command_wait(c, out);
    md_command_unref(c);
    return rc;
}

struct find {
    const char *model;
    bool ready;
    bool seen;
};

static void find_row(void *ctx, const struct md_repo_row *row)
{
    struct find *f = ctx;

    if (strcmp(row->model, f->model) != 0)
        return;
    f->seen = true;
    if (row->state == MD_VS_READY)
        f->ready = true;
}

struct probe {
    struct md_repo *repo;
    const char *model;
    bool ready; /* wait for READY, not only for the model's row */
};

static bool model_shows(void *ctx)
{
    struct probe *p = ctx;
    struct find f = {p->model, false, false};

    md_repo_foreach(p->repo, find_row, &f);
    return p->ready ? f.ready : f.seen;
}

/* Load and unload through control answer what the repository answers. */
static void test_control_applies_commands(void **state)
{
    struct repo_fixture f;
    struct md_err err;
    struct probe p;

    (void)state;
    fixture_open(&f, 0);
    assert_int_equal(run(f.q, MD_COMMAND_UNLOAD, "bench", &err), MD_OK);
    assert_int_equal(md_repo_ready_models(f.repo), 0);
    assert_int_equal(run(f.q, MD_COMMAND_LOAD, "bench", &err), MD_OK);
    assert_int_equal(md_repo_ready_models(f.repo), 1);
    assert_int_equal(run(f.q, MD_COMMAND_LOAD, "nosuch", &err), MD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'nosuch'"));
    assert_int_equal(run(f.q, MD_COMMAND_UNLOAD, "nosuch", &err), MD_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'nosuch'"));
    /* A re-scan asked for (SIGHUP) picks up a new model. */
    add_model(f.dir, "later", false);
    md_control_request_scan(f.ctl);
    p.repo = f.repo;
    p.model = "later";
    p.ready = true;
    assert_true(eventually(model_shows, &p));
    fixture_close(&f);
}

/* --poll: a scan every period picks up a new model without being asked. */
static void test_control_polls(void **state)
{
    struct repo_fixture f;
    struct probe p;

    (void)state;
    fixture_open(&f, 1);
    add_model(f.dir, "polled", false);
    p.repo = f.repo;
    p.model = "polled";
    p.ready = true;
    assert_true(eventually(model_shows, &p));
    fixture_close(&f);
}

static bool queue_empty(void *ctx)
{
    return md_commands_pending(ctx) == 0;
}

/*
 * A load that lasts (its helper held): the tick goes on taking commands
 * meanwhile, which wait their turn on the worker and then run in order; the
 * slow load, once its helper goes on, succeeds.
 */
static void test_control_slow_load(void **state)
{
    struct repo_fixture f;
    struct md_command *slow;
    struct md_command *next;
    struct md_err err;
    struct probe p;
    struct find found = {"slow", false, false};

    (void)state;
    fixture_open(&f, 0);
    hold_helper(&f);
    add_model(f.dir, "slow", true);
    assert_int_equal(md_commands_submit(f.q, MD_COMMAND_LOAD, "slow", NULL, NULL, &slow, &err),
                     MD_OK);
    p.repo = f.repo;
    p.model = "slow";
    p.ready = false;
    assert_true(eventually(model_shows, &p)); /* the load has begun */
    helper_started(&f);
    assert_int_equal(md_commands_submit(f.q, MD_COMMAND_UNLOAD, "bench", NULL, NULL, &next, &err),
                     MD_OK);
    assert_true(eventually(queue_empty, f.q)); /* taken while the load lasts */
    assert_false(md_command_done(slow));
    assert_false(md_command_done(next));
    assert_int_equal(md_repo_ready_models(f.repo), 1);
    release_helper(&f);
    assert_int_equal(md_command_wait(slow, &err), MD_OK);
    assert_string_equal(err.msg, "");
    assert_int_equal(md_command_wait(next, &err), MD_OK);
    /* In order: slow loaded, then bench unloaded. */
    assert_int_equal(md_repo_ready_models(f.repo), 1);
    md_repo_foreach(f.repo, find_row, &found);
    assert_true(found.ready);
    md_command_unref(slow);
    md_command_unref(next);
    fixture_close(&f);
}

struct stop_ctl {
    struct md_control *ctl;
};

static void *stop_control(void *arg)
{
    md_control_stop(((struct stop_ctl *)arg)->ctl);
    return NULL;
}

/*
 * Stopping with commands pending: the running load finishes with its own
 * outcome, the one waiting gets "server shutting down", and so does a submit
 * after the stop has begun.
 */
static void test_control_stop_with_pending(void **state)
{
    struct repo_fixture f;
    struct md_command *slow;
    struct md_command *waiting;
    struct md_command *after[64];
    size_t n_after = 0;
    struct md_err err;
    struct stop_ctl sc;
    struct probe p;
    pthread_t th;
    int rc = MD_OK;
    size_t i;

    (void)state;
    fixture_open(&f, 0);
    hold_helper(&f);
    add_model(f.dir, "slow", true);
    assert_int_equal(md_commands_submit(f.q, MD_COMMAND_LOAD, "slow", NULL, NULL, &slow, &err),
                     MD_OK);
    p.repo = f.repo;
    p.model = "slow";
    p.ready = false;
    assert_true(eventually(model_shows, &p));
    helper_started(&f);
    assert_int_equal(md_commands_submit(f.q, MD_COMMAND_LOAD, "bench", NULL, NULL, &waiting, &err),
                     MD_OK);
    sc.ctl = f.ctl;
    assert_int_equal(pthread_create(&th, NULL, stop_control, &sc), 0);
    /* Submits until the stop has closed the queue; those it took before are
     * pending too. */
    while (rc == MD_OK) {
        struct md_command *c = NULL;

        rc = md_commands_submit(f.q, MD_COMMAND_LOAD, "bench", NULL, NULL, &c, &err);
        if (rc == MD_OK) {
            if (n_after == MD_ARRAY_LEN(after))
                fail_msg("the stop never closed the queue");
            after[n_after++] = c;
            sleep_ms(10);
        } else {
            assert_null(c);
        }
    }
    assert_int_equal(rc, MD_EUNAVAIL);
    assert_string_equal(err.msg, "server shutting down");
    assert_false(md_command_done(slow));
    release_helper(&f);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(md_command_outcome(slow, &err), MD_OK);
    assert_int_equal(md_command_outcome(waiting, &err), MD_EUNAVAIL);
    assert_string_equal(err.msg, "server shutting down");
    for (i = 0; i < n_after; i++) {
        assert_int_equal(md_command_outcome(after[i], &err), MD_EUNAVAIL);
        md_command_unref(after[i]);
    }
    md_command_unref(slow);
    md_command_unref(waiting);
    f.ctl = NULL; /* stopped above */
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_periods),
        cmocka_unit_test(test_sched_jobs_in_order),
        cmocka_unit_test(test_sched_long_job_delays_no_task),
        cmocka_unit_test(test_sched_stop_cancels_waiting_jobs),
        cmocka_unit_test(test_command_submit_take_complete),
        cmocka_unit_test(test_command_submitter_leaves_first),
        cmocka_unit_test(test_command_wait),
        cmocka_unit_test(test_command_close_with_pending),
        cmocka_unit_test(test_control_applies_commands),
        cmocka_unit_test(test_control_polls),
        cmocka_unit_test(test_control_slow_load),
        cmocka_unit_test(test_control_stop_with_pending),
    };

    md_log_set_level(MD_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
