/* SPDX-License-Identifier: MIT */
/*
 * test_loadcheck.c: loads through libxgboost tried in a helper process first
 * (backend/loadcheck): with the real helper (the modeld built beside this
 * test), and with stand-in helpers that crash, hang, eat memory or answer
 * oddly, each reported as the version's reason with its own code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <sys/stat.h>

#include "backend/loadcheck.h"
#include "engine_rows.h"

static char helper[PATH_MAX]; /* the modeld beside this test: build/modeld for build/tests/ */
static char dir[] = "/tmp/md-test-loadcheck-XXXXXX";

static int setup(void **state)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    (void)state;
    if (n <= 0)
        return -1;
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0'; /* .../build/tests */
    slash = strrchr(self, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    snprintf(helper, sizeof(helper), "%s/modeld", self);
    if (access(helper, X_OK) != 0) {
        fprintf(stderr, "test_loadcheck: no helper at %s (make all first)\n", helper);
        return -1;
    }
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    static const char *const names[] = {"segv", "hang",   "hog",  "args", "silent",
                                        "odd",  "status", "fine", "never"};
    char path[PATH_MAX];
    size_t i;

    (void)state;
    md_loadcheck_configure(&(struct md_loadcheck_config){NULL, 30000, (size_t)4096 << 20});
    for (i = 0; i < MD_ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static void use(const char *exe, unsigned timeout_ms, size_t memory_mb)
{
    md_loadcheck_configure(&(struct md_loadcheck_config){exe, timeout_ms, memory_mb << 20});
}

/* A stand-in helper: a shell script with body, in the test's directory; its path into path. */
static void script(const char *name, const char *body, char *path, size_t cap)
{
    FILE *f;

    snprintf(path, cap, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

/* Loads path through the xgboost engine: want the code and a message holding needle. */
static void load_is(const char *path, const struct md_kv *opts, size_t n_opt, int code,
                    const char *needle)
{
    struct md_err err;
    void *inst = NULL;
    int rc = engine_load("xgboost", path, opts, n_opt, &inst, &err);

    if (rc != code || (needle != NULL && strstr(err.msg, needle) == NULL))
        fail_msg("%s: want %s with '%s', got %s: '%s'", path, md_strerror(code),
                 needle != NULL ? needle : "", md_strerror(rc), err.msg);
    if (rc == MD_OK)
        engine_ops("xgboost")->free(inst);
    else
        assert_null(inst);
}

/* The real helper: a good model, either form, loads; its options reach the helper. */
static void test_real_helper(void **state)
{
    const struct md_kv opt = {"nthread", "2"};
    struct rows r;
    float *out;

    (void)state;
    use(helper, 30000, 4096);
    load_is(MODELS "binary.json", &opt, 1, MD_OK, NULL);
    load_is(MODELS "categorical.ubj", NULL, 0, MD_OK, NULL);
    load_is("tests/data/bench/bench_model.json", NULL, 0, MD_OK, NULL);
    /* The helper's own refusal comes back as the engine's: objective not mappable. */
    load_is(MODELS "softmax.json", NULL, 0, MD_EUNSUPPORTED,
            "objective 'multi:softmax': its output is not a probability");
    /* A bad option is refused by the daemon before any helper runs. */
    {
        const struct md_kv bad = {"nthread", "0"};

        load_is(MODELS "binary.json", &bad, 1, MD_EINVAL, "engine option 'nthread'");
    }
    engine_ops("xgboost")->free(engine_check_small("xgboost", &smalls[0], &r, &out));
    free(out);
    rows_release(&r);
    /* The trees engine runs none: it is modeld's own fuzzed code. */
    use("/nonexistent/helper", 30000, 4096);
    engine_ops("trees")->free(engine_load_ok("trees", MODELS "binary.json", NULL, 0));
    load_is(MODELS "binary.json", NULL, 0, MD_EINTERNAL,
            "xgboost load check: cannot start '/nonexistent/helper'");
}

static void test_crash_reported(void **state)
{
    char path[PATH_MAX];

    (void)state;
    script("segv", "kill -SEGV $$", path, sizeof(path));
    use(path, 30000, 4096);
    load_is(MODELS "binary.json", NULL, 0, MD_ECORRUPT,
            "xgboost load check: the helper process crashed with SIGSEGV (Segmentation fault)");
    unlink(path);
}

static void test_time_limit_reported(void **state)
{
    char path[PATH_MAX];

    (void)state;
    script("hang", "exec sleep 30", path, sizeof(path));
    use(path, 300, 4096);
    load_is(MODELS "binary.json", NULL, 0, MD_ETIMEDOUT,
            "xgboost load check: the helper process did not finish within 300 ms "
            "(--load-timeout)");
    unlink(path);
}

static void test_memory_limit_reported(void **state)
{
    char path[PATH_MAX];

    (void)state;
    script("hog", "exec dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null", path,
           sizeof(path));
    use(path, 60000, 32);
    load_is(MODELS "binary.json", NULL, 0, MD_ENOMEM,
            "xgboost load check: the helper process used more than 32 MiB of memory");
    load_is(MODELS "binary.json", NULL, 0, MD_ENOMEM, "(--load-memory-mb)");
    unlink(path);
}

/* What the helper is given (its arguments, the artifact on stdin) and how its answer is read. */
static void test_protocol(void **state)
{
    const struct md_kv opt = {"nthread", "3"};
    char path[PATH_MAX];

    (void)state;
    script("args", "echo \"error -6 args: $*; stdin: $(head -c 11)\"; exit 1", path, sizeof(path));
    use(path, 30000, 4096);
    load_is(MODELS "binary.json", &opt, 1, MD_ECORRUPT,
            "args: --load-check xgboost nthread=3; stdin: {\"learner\"");
    script("silent", "exit 0", path, sizeof(path));
    use(path, 30000, 4096);
    load_is(MODELS "binary.json", NULL, 0, MD_EINTERNAL,
            "xgboost load check: the helper process exited with status 0: no output");
    script("odd", "echo 'error 5 not a code'; exit 1", path, sizeof(path));
    use(path, 30000, 4096);
    load_is(MODELS "binary.json", NULL, 0, MD_EINTERNAL,
            "the helper process exited with status 1: error 5 not a code");
    script("status", "echo ok; exit 7", path, sizeof(path));
    use(path, 30000, 4096);
    load_is(MODELS "binary.json", NULL, 0, MD_EINTERNAL, "exited with status 7: ok");
    script("fine", "echo ok", path, sizeof(path));
    use(path, 30000, 4096);
    load_is(MODELS "binary.json", NULL, 0, MD_OK, NULL);
    unlink(path);
    /* Files refused by the checks never reach a helper. */
    script("never", "kill -SEGV $$", path, sizeof(path));
    use(path, 30000, 4096);
    load_is(MODELS "no-such.json", NULL, 0, MD_EIO, "cannot open");
    unlink(path);
}

/* Loads on several threads at once each run their own helper. */
static void *load_one(void *arg)
{
    struct md_err err;
    void *inst = NULL;

    *(int *)arg = engine_load("xgboost", MODELS "multiclass.ubj", NULL, 0, &inst, &err);
    if (inst != NULL)
        engine_ops("xgboost")->free(inst);
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t th[3];
    int rc[3];
    int i;

    (void)state;
    use(helper, 30000, 4096);
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_one, &rc[i]), 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(rc[i], MD_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_helper),
        cmocka_unit_test(test_crash_reported),
        cmocka_unit_test(test_time_limit_reported),
        cmocka_unit_test(test_memory_limit_reported),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
