/* SPDX-License-Identifier: MIT */
/*
 * test_spawn.c: helper processes under limits (util/spawn): how each ends
 * (exit status, crash, time limit, memory limit), its stdin and stdout, the
 * signals and files it does not inherit, and the words for each end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util/spawn.h"

static const struct md_spawn_limits no_limits = {0, 0, false, NULL};

/* Runs /bin/sh -c script; the test fails unless it ran. */
static void sh(const char *script, int stdin_fd, const struct md_spawn_limits *lim,
               struct md_spawn_result *res)
{
    char a0[] = "sh";
    char a1[] = "-c";
    char *argv[] = {a0, a1, (char *)script, NULL};
    struct md_err err;

    md_err_clear(&err);
    if (md_spawn_run("/bin/sh", argv, stdin_fd, lim, res, &err) != MD_OK)
        fail_msg("%s: %s", script, err.msg);
}

static void describe_is(const struct md_spawn_result *res, const struct md_spawn_limits *lim,
                        const char *want)
{
    char buf[128];

    md_spawn_describe(res, lim, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_exit_status_and_output(void **state)
{
    struct md_spawn_result res;

    (void)state;
    sh("echo hello; exit 3", -1, &no_limits, &res);
    assert_int_equal(res.end, MD_SPAWN_EXITED);
    assert_int_equal(res.status, 3);
    assert_string_equal(res.out, "hello\n");
    assert_int_equal(res.out_len, 6);
    assert_int_equal(res.out_dropped, 0);
    describe_is(&res, &no_limits, "exited with status 3");
    /* What does not fit is read and dropped: the helper never blocks on a full pipe. */
    sh("head -c 100000 /dev/zero | tr '\\0' x", -1, &no_limits, &res);
    assert_int_equal(res.end, MD_SPAWN_EXITED);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.out_len, sizeof(res.out) - 1);
    assert_int_equal(res.out_len + res.out_dropped, 100000);
    assert_int_equal(strlen(res.out), res.out_len);
}

static void test_crash(void **state)
{
    struct md_spawn_result res;

    (void)state;
    sh("echo before; kill -SEGV $$; echo after", -1, &no_limits, &res);
    assert_int_equal(res.end, MD_SPAWN_SIGNALED);
    assert_int_equal(res.status, SIGSEGV);
    assert_string_equal(res.out, "before\n");
    describe_is(&res, &no_limits, "crashed with SIGSEGV (Segmentation fault)");
}

static void test_time_limit(void **state)
{
    const struct md_spawn_limits lim = {200, 0, false, NULL};
    const struct md_spawn_limits whole = {2000, 0, false, NULL};
    struct md_spawn_result res;

    (void)state;
    sh("exec sleep 30", -1, &lim, &res);
    assert_int_equal(res.end, MD_SPAWN_TIMEOUT);
    assert_true(res.ms >= 200 && res.ms < 10000);
    describe_is(&res, &lim, "did not finish within 200 ms");
    describe_is(&res, &whole, "did not finish within 2 s");
    /* A quick one is not held up by the limit. */
    sh("exit 0", -1, &whole, &res);
    assert_int_equal(res.end, MD_SPAWN_EXITED);
    assert_true(res.ms < 2000);
}

static void test_memory_limit(void **state)
{
    const struct md_spawn_limits lim = {60000, 32 << 20, false, NULL};
    struct md_spawn_result res;

    (void)state;
    /* dd fills a 256 MiB buffer from /dev/zero: resident as it goes. */
    sh("exec dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null", -1, &lim, &res);
    assert_int_equal(res.end, MD_SPAWN_MEMORY);
    assert_true(res.cgroup || res.peak_rss > (size_t)32 << 20);
    describe_is(&res, &lim,
                res.cgroup ? "used more than 32 MiB of memory"
                           : "used more than 32 MiB of memory (resident)");
    /* Under the limit: runs to the end. */
    sh("exec dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null", -1, &lim, &res);
    assert_int_equal(res.end, MD_SPAWN_EXITED);
    assert_int_equal(res.status, 0);
}

static void test_stdin(void **state)
{
    struct md_spawn_result res;
    int fd = memfd_create("test", MFD_CLOEXEC);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "artifact bytes", 14), 14);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    sh("cat", fd, &no_limits, &res);
    assert_string_equal(res.out, "artifact bytes");
    /* A fresh open of its stdin starts at the first byte again. */
    sh("head -c 8 /proc/self/fd/0", fd, &no_limits, &res);
    assert_string_equal(res.out, "artifact");
    close(fd);
    sh("cat; echo end", -1, &no_limits, &res);
    assert_string_equal(res.out, "end\n");
}

/* Blocked and ignored signals of the daemon, and its open files, stay behind. */
static void test_inherits_nothing(void **state)
{
    struct md_spawn_result res;
    struct sigaction ign;
    struct sigaction old;
    sigset_t term;
    sigset_t saved;
    char script[128];
    int p[2];

    (void)state;
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    assert_int_equal(sigaction(SIGTERM, &ign, &old), 0);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &term, &saved), 0);
    assert_int_equal(pipe(p), 0); /* not close-on-exec */
    snprintf(script, sizeof(script), "test -e /proc/self/fd/%d && echo open || echo closed", p[1]);
    sh(script, -1, &no_limits, &res);
    assert_string_equal(res.out, "closed\n");
    {
        const struct md_spawn_limits lim = {10000, 0, false, NULL};

        sh("kill -TERM $$; sleep 20", -1, &lim, &res);
        assert_int_equal(res.end, MD_SPAWN_SIGNALED);
        assert_int_equal(res.status, SIGTERM);
    }
    close(p[0]);
    close(p[1]);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &saved, NULL), 0);
    assert_int_equal(sigaction(SIGTERM, &old, NULL), 0);
}

static void test_cannot_start(void **state)
{
    char a0[] = "nope";
    char *argv[] = {a0, NULL};
    struct md_spawn_result res;
    struct md_err err;

    (void)state;
    md_err_clear(&err);
    assert_int_equal(md_spawn_run("/nonexistent/helper", argv, -1, &no_limits, &res, &err),
                     MD_EINTERNAL);
    assert_string_equal(err.msg, "cannot start '/nonexistent/helper': No such file or directory");
}

/* Several helpers at once, from several threads, each gets its own result. */
static void *one(void *arg)
{
    struct md_spawn_result *res = arg;
    char script[64];

    snprintf(script, sizeof(script), "echo %d; exit %d", (int)res->status, (int)res->status);
    sh(script, -1, &no_limits, res);
    return NULL;
}

static void test_threads(void **state)
{
    struct md_spawn_result res[4];
    pthread_t th[4];
    char want[16];
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        res[i].status = 10 + i;
        assert_int_equal(pthread_create(&th[i], NULL, one, &res[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(res[i].end, MD_SPAWN_EXITED);
        assert_int_equal(res[i].status, 10 + i);
        snprintf(want, sizeof(want), "%d\n", 10 + i);
        assert_string_equal(res[i].out, want);
    }
}

/* lowest: the helper runs at nice 19 (SCHED_IDLE too where allowed: not required here). */
static void test_lowest_priority(void **state)
{
    const struct md_spawn_limits lim = {10000, 0, true, NULL};
    struct md_spawn_result res;

    (void)state;
    /* The priority is set just after the spawn: read it a moment later. */
    sh("sleep 0.2; cut -d' ' -f19 /proc/$$/stat", -1, &lim, &res);
    assert_int_equal(res.end, MD_SPAWN_EXITED);
    assert_string_equal(res.out, "19\n");
    sh("sleep 0.2; cut -d' ' -f19 /proc/$$/stat", -1, &no_limits, &res);
    assert_string_not_equal(res.out, "19\n");
}

static _Atomic bool cancel_flag;

static void *set_cancel(void *arg)
{
    struct timespec ts = {0, 100 * 1000000L};

    (void)arg;
    nanosleep(&ts, NULL);
    atomic_store(&cancel_flag, true);
    return NULL;
}

/* cancel: the helper is killed as soon as the flag is set, and says so. */
static void test_cancel(void **state)
{
    const struct md_spawn_limits lim = {60000, 0, false, &cancel_flag};
    struct md_spawn_result res;
    pthread_t th;

    (void)state;
    atomic_store(&cancel_flag, false);
    assert_int_equal(pthread_create(&th, NULL, set_cancel, NULL), 0);
    sh("sleep 30", -1, &lim, &res);
    pthread_join(th, NULL);
    assert_int_equal(res.end, MD_SPAWN_CANCELLED);
    assert_true(res.ms < 10000);
    describe_is(&res, &lim, "was stopped: the daemon is shutting down");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status_and_output),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_inherits_nothing),
        cmocka_unit_test(test_cannot_start),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_lowest_priority),
        cmocka_unit_test(test_cancel),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
