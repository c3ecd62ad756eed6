/* SPDX-License-Identifier: MIT */
/*
 * test_repo.c: the repository's rows and their causes (a warning for an
 * artifact without feature names, unloaded by an operator, a broken
 * model.yaml said once "model.yaml:"), the answer for an unloaded model, and
 * the statistics that outlive a version in the repository's registry; the
 * snapshots the scanner publishes: a scan that changes nothing keeps the
 * published one, a request's version outlives an unload, and listings and
 * requests run while another thread scans, unloads and loads. Runs from the
 * top of the source tree (it reads tests/data/bench).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_files.h"

#include "serve/repo.h"
#include "watch/metrics.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void path_of(char *buf, size_t size, const char *rel)
{
    (void)snprintf(buf, size, "%s/%s", dir, rel);
}

static int make_repo(void **state)
{
    char p[160];

    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/modeld-repo-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    file_bench_model(dir, "bench", NULL);
    path_of(p, sizeof(p), "broken");
    mkdir(p, 0700);
    path_of(p, sizeof(p), "broken/model.yaml");
    file_put(p, "backend: trees\nfeatures: [a, b\n");
    return 0;
}

static int remove_repo(void **state)
{
    static const char *const files[] = {"bench/1/model.json", "bench/1",
                                        "bench/model.yaml",   "bench",
                                        "broken/model.yaml",  "broken"};
    char p[160];
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(files); i++) {
        path_of(p, sizeof(p), files[i]);
        (void)remove(p);
    }
    return rmdir(dir);
}

struct rows {
    char text[8][300]; /* "model/version STATE cause: reason" */
    size_t n;
};

static void collect(void *ctx, const struct md_repo_row *row)
{
    struct rows *r = ctx;

    assert_true(r->n < MD_ARRAY_LEN(r->text));
    (void)snprintf(r->text[r->n++], sizeof(r->text[0]), "%s/%lld %s %s: %s", row->model,
                   (long long)row->version, md_version_state_name(row->state),
                   md_version_cause_name(row->cause), row->reason);
}

static void count_series(void *ctx, const struct md_metrics_row *row)
{
    int *n = ctx;

    if (strcmp(row->model, "bench") == 0 && strcmp(row->version, "1") == 0)
        *n += row->live ? 10 : 1;
}

static void test_rows_causes_and_series(void **state)
{
    struct md_repo *r = NULL;
    struct md_version *v = NULL;
    struct md_err err;
    struct rows rows = {.n = 0};
    int series = 0;

    (void)state;
    assert_int_equal(md_repo_open(dir, &r, &err), MD_OK);
    assert_int_equal(md_repo_scan(r), 1); /* broken */
    md_repo_foreach(r, collect, &rows);
    assert_int_equal(rows.n, 2);
    assert_string_equal(rows.text[0],
                        "bench/1 READY warning: model.json records no feature names: the order of "
                        "its 30 columns cannot be checked against model.yaml");
    assert_non_null(strstr(rows.text[1], "broken/0 UNAVAILABLE model_config: model.yaml: syntax"));
    assert_null(strstr(rows.text[1], "model.yaml: model.yaml"));

    assert_int_equal(md_repo_acquire(r, "bench", NULL, &v, &err), MD_OK);
    atomic_fetch_add(&md_route_stats(v->stats, "stable")->success, 3);
    md_version_unref(v);
    md_metrics_foreach(md_repo_metrics(r), count_series, &series);
    assert_int_equal(series, 10); /* live */
    assert_int_equal(md_metrics_scan_errors(md_repo_metrics(r)), 1);

    assert_int_equal(md_repo_unload_model(r, "bench", &err), MD_OK);
    assert_int_equal(md_repo_acquire(r, "bench", NULL, &v, &err), MD_EUNAVAIL);
    assert_null(v);
    assert_string_equal(err.msg, "model 'bench' was unloaded by an operator; load it again with "
                                 "POST /v2/repository/models/bench/load (modelctl load bench)");
    assert_int_equal(md_repo_acquire(r, "bench", "1", &v, &err), MD_EUNAVAIL);
    assert_int_equal(md_repo_acquire(r, "nosuch", NULL, &v, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "unknown model 'nosuch'");
    assert_int_equal(md_repo_load_model(r, "nosuch", &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "unknown model 'nosuch'");
    rows.n = 0;
    md_repo_foreach(r, collect, &rows);
    assert_string_equal(rows.text[0], "bench/1 UNAVAILABLE unloaded: unloaded by an operator");
    series = 0;
    md_metrics_foreach(md_repo_metrics(r), count_series, &series);
    assert_int_equal(series, 1); /* retired, kept */

    /* Loaded again: the same series counts on. */
    assert_int_equal(md_repo_load_model(r, "bench", &err), MD_OK);
    assert_int_equal(md_repo_acquire(r, "bench", NULL, &v, &err), MD_OK);
    assert_int_equal(atomic_load(&md_route_stats(v->stats, "stable")->success), 3);
    md_version_unref(v);
    md_repo_free(r);
}

/* The reason text of bench/1's row: where it lives tells the snapshot apart. */
static void bench_reason(void *ctx, const struct md_repo_row *row)
{
    const char **out = ctx;

    if (strcmp(row->model, "bench") == 0 && row->version == 1)
        *out = row->reason;
}

static void test_snapshot_kept_and_reference_outlives_unload(void **state)
{
    struct md_repo *r = NULL;
    struct md_version *v = NULL;
    struct md_err err;
    const char *first = NULL;
    const char *again = NULL;

    (void)state;
    assert_int_equal(md_repo_open(dir, &r, &err), MD_OK);
    assert_int_equal(md_repo_scan(r), 1);
    md_repo_foreach(r, bench_reason, &first);
    assert_non_null(first);
    /* Nothing changed on disk: the published snapshot stays. */
    assert_int_equal(md_repo_scan(r), 1);
    md_repo_foreach(r, bench_reason, &again);
    assert_ptr_equal(again, first);

    assert_int_equal(md_repo_acquire(r, "bench", "1", &v, &err), MD_OK);
    assert_int_equal(md_repo_unload_model(r, "bench", &err), MD_OK);
    md_repo_foreach(r, bench_reason, &again);
    assert_string_equal(again, "unloaded by an operator");
    /* Still whole: the request's reference keeps engine, contract and statistics. */
    assert_non_null(v->engine);
    assert_string_equal(v->contract->name, "bench");
    atomic_fetch_add(&md_route_stats(v->stats, "stable")->success, 1);
    md_version_unref(v);
    assert_int_equal(md_repo_ready_models(r), 0);
    md_repo_free(r);
}

struct churn {
    struct md_repo *r;
    _Atomic bool stop;
    _Atomic long rows;
};

static void count_rows(void *ctx, const struct md_repo_row *row)
{
    struct churn *c = ctx;

    assert_non_null(row->model);
    if (row->live != NULL)
        assert_int_equal(row->live->number, row->version);
    atomic_fetch_add(&c->rows, 1);
}

/* Requests and listings on one thread while this one rescans, unloads and loads. */
static void *reader(void *arg)
{
    struct churn *c = arg;
    long n;

    for (n = 0; n < 10000000 && !atomic_load(&c->stop); n++) {
        struct md_version *v = NULL;
        struct md_err err;
        int rc = md_repo_acquire(c->r, "bench", NULL, &v, &err);

        assert_true(rc == MD_OK || rc == MD_EUNAVAIL);
        if (v != NULL) {
            assert_int_equal(v->number, 1);
            md_version_unref(v);
        }
        md_repo_foreach(c->r, count_rows, c);
        (void)md_repo_ready_models(c->r);
    }
    return NULL;
}

static void test_readers_while_scanning(void **state)
{
    struct churn c;
    struct md_err err;
    pthread_t th;
    int i;

    (void)state;
    assert_int_equal(md_repo_open(dir, &c.r, &err), MD_OK);
    atomic_init(&c.stop, false);
    atomic_init(&c.rows, 0);
    assert_int_equal(md_repo_scan(c.r), 1); /* before the reader: bench is known from now on */
    assert_int_equal(pthread_create(&th, NULL, reader, &c), 0);
    for (i = 0; i < 6; i++) {
        (void)md_repo_scan(c.r); /* broken stays broken */
        assert_int_equal(md_repo_unload_model(c.r, "bench", &err), MD_OK);
        assert_int_equal(md_repo_load_model(c.r, "bench", &err), MD_OK);
    }
    atomic_store(&c.stop, true);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(atomic_load(&c.rows) > 0);
    md_repo_free(c.r);
}

static void test_cause_names(void **state)
{
    static const char *const names[] = {"",         "warning",      "reload_failed",
                                        "policy",   "load_failed",  "missing",
                                        "unloaded", "model_config", "no_versions"};
    size_t i;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(names); i++)
        assert_string_equal(md_version_cause_name((enum md_version_cause)i), names[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_causes_and_series),
        cmocka_unit_test(test_snapshot_kept_and_reference_outlives_unload),
        cmocka_unit_test(test_readers_while_scanning),
        cmocka_unit_test(test_cause_names),
    };

    return cmocka_run_group_tests(tests, make_repo, remove_repo);
}
