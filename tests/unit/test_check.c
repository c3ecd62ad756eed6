/* SPDX-License-Identifier: MIT */
/*
 * test_check.c: what a repository scan reports beyond its versions: each row's
 * fault flag (a failed load, a listed version with no directory and a broken
 * model.yaml are faults; a version the policy leaves out is not), the entries
 * it passed over with why (md_repo_foreach_skipped), and md_check_repo's
 * table, summary and exit status over the same kinds of repository. Each
 * test builds its repository in a temporary directory from the benchmark
 * model of tests/data/bench (tests run from the repository root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_files.h"

#include "control/check.h"
#include "serve/repo.h"
#include "util/common.h"
#include "util/log.h"
#include "util/mem.h"

#include <sys/stat.h>
#include <unistd.h>

#define BENCH "tests/data/bench/"
/* The benchmark model records no feature names: each READY version of it
 * carries this warning as its reason. */
#define NO_NAMES                                                                                   \
    "model.json records no feature names: the order of its 30 columns cannot be checked against "  \
    "model.yaml"

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    file_put(path, text);
}

static void sub(char *out, size_t n, const char *dir, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
    assert_int_equal(mkdir(out, 0755), 0);
}

/* DIR/<name>/model.yaml (the bench contract plus extra) and the versions listed. */
static void add_model(const char *repo, const char *name, const char *extra, const int *versions,
                      size_t n)
{
    char mdir[512];
    char vdir[600];
    char *yaml = file_slurp(BENCH "model.yaml");
    char *model = file_slurp(BENCH "bench_model.json");
    char *text = md_xmalloc(strlen(yaml) + strlen(extra) + 1);
    size_t i;

    snprintf(text, strlen(yaml) + strlen(extra) + 1, "%s%s", yaml, extra);
    sub(mdir, sizeof(mdir), repo, name);
    put(mdir, "model.yaml", text);
    for (i = 0; i < n; i++) {
        char num[16];

        snprintf(num, sizeof(num), "%d", versions[i]);
        sub(vdir, sizeof(vdir), mdir, num);
        put(vdir, "model.json", model);
    }
    free(text);
    free(yaml);
    free(model);
}

static void rm_rf(const char *dir)
{
    char cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A repository with one of each kind of row and skipped entry. */
static void mixed_repo(char *dir, size_t n)
{
    static const int two[] = {1, 2};
    static const int one[] = {1};
    char path[600];

    snprintf(dir, n, "/tmp/md-test-repo-XXXXXX");
    assert_non_null(mkdtemp(dir));
    add_model(dir, "latest", "", two, 2); /* 1 left out, 2 READY */
    add_model(dir, "pinned", "version_policy:\n  specific: [1, 5]\n", one, 1); /* 5 missing */
    add_model(dir, "broken", "", one, 1);
    put(dir, "broken/1/model.json", "{\"learner\": ");
    sub(path, sizeof(path), dir, "noyaml");
    put(dir, "README.md", "not a model\n");
    sub(path, sizeof(path), dir, "latest/v1");
    put(dir, "latest/.keep", "");
}

struct seen {
    char text[2048];
};

static void on_row(void *ctx, const struct md_repo_row *row)
{
    struct seen *s = ctx;
    size_t len = strlen(s->text);

    snprintf(s->text + len, sizeof(s->text) - len, "%s/%lld %s fault=%d %s\n", row->model,
             (long long)row->version, md_version_state_name(row->state), row->fault ? 1 : 0,
             row->reason);
}

static void on_skip(void *ctx, const struct md_repo_skip *skip)
{
    struct seen *s = ctx;
    size_t len = strlen(s->text);

    snprintf(s->text + len, sizeof(s->text) - len, "%s/%s: %s\n",
             skip->model != NULL ? skip->model : "", skip->name, skip->reason);
}

static void test_rows_fault_and_skipped(void **state)
{
    char dir[64];
    struct md_repo *repo = NULL;
    struct md_err err;
    struct seen rows = {""};
    struct seen skips = {""};

    (void)state;
    mixed_repo(dir, sizeof(dir));
    assert_int_equal(md_repo_open(dir, &repo, &err), MD_OK);
    md_repo_scan(repo);
    md_repo_foreach(repo, on_row, &rows);
    md_repo_foreach_skipped(repo, on_skip, &skips);
    md_repo_free(repo);
    assert_non_null(strstr(rows.text, "broken/1 UNAVAILABLE fault=1 model.json: "));
    assert_non_null(strstr(rows.text, "latest/1 UNAVAILABLE fault=0 not selected by the version "
                                      "policy\nlatest/2 READY fault=0 " NO_NAMES "\n"));
    assert_non_null(strstr(rows.text, "noyaml/0 UNAVAILABLE fault=1 model.yaml: No such file"));
    assert_non_null(strstr(rows.text,
                           "pinned/1 READY fault=0 " NO_NAMES "\npinned/5 UNAVAILABLE fault=1 "
                           "listed by the version policy but no such directory\n"));
    assert_string_equal(skips.text, "/README.md: not a directory: a model is a directory\n"
                                    "latest/v1: not a version number: version directories are "
                                    "named 1, 2, 3, ...\n");
    rm_rf(dir);
}

static void test_open_refuses_what_is_not_a_directory(void **state)
{
    struct md_repo *repo = NULL;
    struct md_err err;

    (void)state;
    assert_int_equal(md_repo_open("/nonexistent-md-repo", &repo, &err), MD_EIO);
    assert_string_equal(err.msg, "repository '/nonexistent-md-repo': No such file or directory");
    assert_null(repo);
    assert_int_equal(md_repo_open(BENCH "model.yaml", &repo, &err), MD_EINVAL);
    assert_string_equal(err.msg, "repository '" BENCH "model.yaml': not a directory");
}

/* md_check_repo's output for dir into out (NUL-terminated), and its status. */
static int run_check(const char *dir, char *out, size_t n, char *errout, size_t en)
{
    FILE *o = fmemopen(out, n, "w");
    FILE *e = fmemopen(errout, en, "w");
    int rc;

    assert_non_null(o);
    assert_non_null(e);
    memset(out, 0, n);
    memset(errout, 0, en);
    rc = md_check_repo(dir, o, e);
    fclose(o);
    fclose(e);
    return rc;
}

static void test_check_table(void **state)
{
    static const int one[] = {1};
    char dir[64];
    char out[4096];
    char errout[512];

    (void)state;
    mixed_repo(dir, sizeof(dir));
    assert_int_equal(run_check(dir, out, sizeof(out), errout, sizeof(errout)), 1);
    assert_string_equal(errout, "");
    assert_non_null(strstr(out, "MODEL      VERSION  STATE        REASON\n"
                                "README.md           IGNORED      not a directory: a model is a "
                                "directory\n"
                                "broken     1        FAILED       model.json: "));
    assert_non_null(strstr(out, "latest     1        UNAVAILABLE  not selected by the version "
                                "policy\n"
                                "latest     2        READY        " NO_NAMES "\n"
                                "latest     v1       IGNORED      not a version number: "));
    assert_non_null(strstr(out, "noyaml              FAILED       model.yaml: No such file or "
                                "directory\n"
                                "pinned     1        READY        " NO_NAMES "\n"
                                "pinned     5        FAILED       listed by the version policy "
                                "but no such directory\n\n"
                                "check failed: 4 models, 2 versions ready, 1 not selected by a "
                                "version policy, 3 failed, 2 entries ignored\n"));
    rm_rf(dir);

    snprintf(dir, sizeof(dir), "/tmp/md-test-repo-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(run_check(dir, out, sizeof(out), errout, sizeof(errout)), 1);
    assert_non_null(strstr(errout, "holds no model directory"));
    add_model(dir, "only", "", one, 1);
    assert_int_equal(run_check(dir, out, sizeof(out), errout, sizeof(errout)), 0);
    assert_string_equal(out, "MODEL  VERSION  STATE  REASON\n"
                             "only   1        READY  " NO_NAMES "\n\n"
                             "check passed: 1 model, 1 version ready, 0 not selected by a version "
                             "policy, 0 failed, 0 entries ignored\n");
    rm_rf(dir);
    assert_int_equal(run_check(dir, out, sizeof(out), errout, sizeof(errout)), 1);
    assert_non_null(strstr(errout, "cannot open the model repository: repository '"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_fault_and_skipped),
        cmocka_unit_test(test_open_refuses_what_is_not_a_directory),
        cmocka_unit_test(test_check_table),
    };

    md_log_set_level(MD_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
