/* SPDX-License-Identifier: MIT */
/*
 * test_shadow.c: the shadow executor (serve/shadow.c) with real versions
 * loaded from tests/data/models and examples/repo: copies compared with the
 * answer (same artifact: every row agrees; another: the differences
 * counted; a regression: |difference| only), a mirror recorded as
 * (champion, canary), the copy independent of the story's memory (BYTES and
 * missing values included), a failing shadow counted, the queue full or over
 * its bytes dropping and counting, a slow shadow (50 ms a copy) that never
 * holds up the offer, at least 99% of copies compared at 10 a second with
 * that shadow, copies still queued at the stop dropped and released; then
 * the whole path as the integrator will wire it: a completion observer
 * offering each answered V2 request, and the figures in /metrics (checked by
 * promtool) and GET /api/v1/models/{m}/comparison. Multi-threaded (offers,
 * workers): in the ThreadSanitizer tier with every unit test. Runs from the
 * top of the source tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_files.h"

#include "api/pipeline.h"
#include "net/router.h"
#include "serve/shadow.h"
#include "util/log.h"

#include <math.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODELS "tests/data/models/"
#define ROWS   40

static char dir[64]; /* the repository: cls (1, 2, 3), reg (1, 2), strict (1) */

static const char cls_yaml[] = "backend: trees\n"
                               "task: classification\n"
                               "labels: [no, yes]\n"
                               "version_policy: {all: true}\n"
                               "features:\n"
                               "  - {name: amount, datatype: FP32, required: false}\n"
                               "  - {name: age, datatype: FP32, required: false}\n"
                               "  - {name: score, datatype: FP32, required: false}\n"
                               "  - {name: days, datatype: FP32, required: false}\n"
                               "  - {name: ratio, datatype: FP32, required: false}\n";

/* The same features, every one required: a row with a null is refused. */
static const char strict_yaml[] = "backend: trees\n"
                                  "task: classification\n"
                                  "labels: [no, yes]\n"
                                  "features:\n"
                                  "  - {name: amount, datatype: FP32}\n"
                                  "  - {name: age, datatype: FP32}\n"
                                  "  - {name: score, datatype: FP32}\n"
                                  "  - {name: days, datatype: FP32}\n"
                                  "  - {name: ratio, datatype: FP32}\n";

static const char reg_yaml[] = "backend: trees\n"
                               "task: regression\n"
                               "version_policy: {all: true}\n"
                               "features:\n"
                               "  - {name: amount, datatype: FP32, required: false}\n"
                               "  - {name: age, datatype: FP32, required: false}\n"
                               "  - {name: score, datatype: FP32, required: false}\n"
                               "  - {name: days, datatype: FP32, required: false}\n"
                               "  - {name: ratio, datatype: FP32, required: false}\n";

static const struct {
    const char *model;
    const char *yaml;
    const char *artifacts[3]; /* versions 1, 2, 3 */
} models[] = {
    {"cls", cls_yaml, {"binary.json", "forest.json", "binary.json"}},
    {"reg", reg_yaml, {"regression.json", "stump.json", NULL}},
    {"strict", strict_yaml, {"binary.json", NULL, NULL}},
};

static int make_repo(void **state)
{
    char p[256];
    size_t i;
    size_t k;

    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/modeld-shadow-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    for (i = 0; i < MD_ARRAY_LEN(models); i++) {
        (void)snprintf(p, sizeof(p), "%s/%s", dir, models[i].model);
        assert_int_equal(mkdir(p, 0700), 0);
        (void)snprintf(p, sizeof(p), "%s/%s/model.yaml", dir, models[i].model);
        file_put(p, models[i].yaml);
        for (k = 0; k < 3 && models[i].artifacts[k] != NULL; k++) {
            char from[128];

            (void)snprintf(p, sizeof(p), "%s/%s/%zu", dir, models[i].model, k + 1);
            assert_int_equal(mkdir(p, 0700), 0);
            (void)snprintf(p, sizeof(p), "%s/%s/%zu/model.json", dir, models[i].model, k + 1);
            (void)snprintf(from, sizeof(from), MODELS "%s", models[i].artifacts[k]);
            file_copy(from, p, NULL);
        }
    }
    md_log_set_level(MD_LOG_OFF);
    return 0;
}

static int remove_repo(void **state)
{
    char p[256];
    size_t i;
    size_t k;

    (void)state;
    for (i = 0; i < MD_ARRAY_LEN(models); i++) {
        for (k = 0; k < 3 && models[i].artifacts[k] != NULL; k++) {
            (void)snprintf(p, sizeof(p), "%s/%s/%zu/model.json", dir, models[i].model, k + 1);
            (void)remove(p);
            (void)snprintf(p, sizeof(p), "%s/%s/%zu", dir, models[i].model, k + 1);
            (void)rmdir(p);
        }
        (void)snprintf(p, sizeof(p), "%s/%s/model.yaml", dir, models[i].model);
        (void)remove(p);
        (void)snprintf(p, sizeof(p), "%s/%s", dir, models[i].model);
        (void)rmdir(p);
    }
    return rmdir(dir);
}

/* ---- fixtures -------------------------------------------------------------- */

struct fx {
    struct md_repo *repo;
    struct md_compare *cmp;
    struct md_shadow *x;
};

static void fx_open(struct fx *f, const char *repo_dir, size_t queue, unsigned delay_ms,
                    size_t max_bytes)
{
    struct md_shadow_config cfg;
    struct md_err err;

    assert_int_equal(md_repo_open(repo_dir, &f->repo, &err), MD_OK);
    (void)md_repo_scan(f->repo);
    f->cmp = md_compare_new();
    md_shadow_config_init(&cfg);
    cfg.queue = queue;
    cfg.delay_ms = delay_ms;
    cfg.max_bytes = max_bytes;
    assert_int_equal(md_shadow_new(&cfg, f->cmp, &f->x, &err), MD_OK);
}

static void fx_close(struct fx *f)
{
    md_shadow_free(f->x);
    md_compare_free(f->cmp);
    md_repo_free(f->repo);
}

static struct md_version *version(struct fx *f, const char *model, const char *number)
{
    struct md_version *v = NULL;
    struct md_err err;

    assert_int_equal(md_repo_acquire(f->repo, model, number, &v, &err), MD_OK);
    return v;
}

/* The one pair of model (a, b), which must exist. */
static struct md_compare_pair pair(struct fx *f, const char *model, int64_t a, int64_t b)
{
    struct md_compare_pair p[8];
    size_t n = md_compare_snapshot(f->cmp, model, p, 8);
    size_t i;

    for (i = 0; i < n && i < 8; i++)
        if (p[i].a == a && p[i].b == b)
            return p[i];
    fail_msg("no pair %s (%lld, %lld)", model, (long long)a, (long long)b);
    return p[0];
}

/* A prediction of rows rows over the five features of cls, reg and strict, answered by v. */
struct story {
    struct md_tensor t[5];
    float data[5][ROWS];
    uint8_t missing[5][ROWS];
    struct md_arena a;
    struct md_prediction pred;
    struct md_predict_story s;
};

static const char *const names[5] = {"amount", "age", "score", "days", "ratio"};

static void story_make(struct story *b, struct md_version *v, size_t rows, bool with_null)
{
    struct md_infer_call *call = NULL;
    struct md_err err;
    size_t i;
    size_t r;

    memset(b, 0, sizeof(*b));
    md_arena_init(&b->a, 1 << 20);
    for (i = 0; i < 5; i++) {
        for (r = 0; r < rows; r++)
            b->data[i][r] = (float)sin((double)(r * 5 + i) * 1.7) * 2;
        b->t[i].name = names[i];
        b->t[i].dtype = MD_DT_FP32;
        b->t[i].ndim = 1;
        b->t[i].shape[0] = (int64_t)rows;
        b->t[i].count = rows;
        b->t[i].data = b->data[i];
    }
    if (with_null) {
        b->missing[2][0] = 1;
        b->data[2][0] = NAN;
        b->t[2].missing = b->missing[2];
    }
    assert_int_equal(md_infer_start(v, b->t, 5, 0, &b->a, NULL, NULL, &b->pred, &call, &err),
                     MD_OK);
    b->s.request_id = "req";
    b->s.model = v->model;
    b->s.version = v;
    b->s.route = "v2 infer";
    b->s.route_name = "stable";
    b->s.status = 200;
    b->s.code = MD_OK;
    b->s.stage = MD_PREDICT_DONE;
    b->s.error = "";
    b->s.inputs = b->t;
    b->s.n_inputs = 5;
    b->s.scores = &b->pred;
    b->s.latency_ns = 300000;
}

static void story_free(struct story *b)
{
    md_arena_release(&b->a);
}

/* ---- tests ------------------------------------------------------------------ */

/* Copies compared: the same artifact agrees on every row, another differs on some. */
static void test_copies_compared(void **state)
{
    struct fx f;
    struct md_version *v1;
    struct md_version *v2;
    struct md_version *v3;
    struct md_shadow_counts c;
    struct md_compare_pair p;
    struct md_request_totals t;
    struct story b;

    (void)state;
    fx_open(&f, dir, 16, 0, 0);
    v1 = version(&f, "cls", "1");
    v2 = version(&f, "cls", "2");
    v3 = version(&f, "cls", "3");
    story_make(&b, v1, ROWS, true);
    assert_int_equal(md_shadow_offer(f.x, &b.s, v3, MD_SHADOW_COPY), MD_OK);
    assert_int_equal(md_shadow_offer(f.x, &b.s, v2, MD_SHADOW_COPY), MD_OK);
    assert_true(md_shadow_drain(f.x, 10000));
    md_shadow_counts(f.x, &c);
    assert_int_equal(c.submitted, 2);
    assert_int_equal(c.run, 2);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.depth, 0);
    assert_int_equal(c.capacity, 16);
    /* Version 3 is version 1's artifact: the same outputs on every row. */
    p = pair(&f, "cls", 1, 3);
    assert_true(p.labels);
    assert_int_equal(p.requests, 1);
    assert_int_equal(p.compared, 1);
    assert_int_equal(p.rows, ROWS);
    assert_int_equal(p.agree, ROWS);
    assert_int_equal(p.diff.count, ROWS);
    assert_int_equal(p.diff.bins[0], ROWS);
    assert_int_equal(p.side[0].errors + p.side[1].errors, 0);
    /* The answer's latency is the caller's (300 µs); the copy's is its run. */
    assert_int_equal(p.side[0].latency_sum_ns, 300000);
    assert_true(p.side[1].latency_sum_ns > 0);
    /* Version 2 is another model: its outputs differ. */
    p = pair(&f, "cls", 1, 2);
    assert_int_equal(p.rows, ROWS);
    assert_true(p.diff.bins[0] < ROWS);
    assert_true(p.diff.max > 0 && p.diff.max < 1);
    assert_true(p.agree <= ROWS);
    /* The copies count under route "shadow" of the shadows, in their statistics. */
    md_request_totals(v3->stats, md_route_stats(v3->stats, MD_SHADOW_ROUTE), &t);
    assert_int_equal(t.success, 1);
    assert_int_equal(t.inference_count, ROWS);
    assert_int_equal(atomic_load(&v3->stats->shadow.submitted), 1);
    assert_int_equal(atomic_load(&v3->stats->shadow.run), 1);
    assert_int_equal(atomic_load(&v1->stats->shadow.run), 0);
    story_free(&b);
    md_version_unref(v1);
    md_version_unref(v2);
    md_version_unref(v3);
    fx_close(&f);
}

/* A regression pair: no labels, |difference| of the values; a mirror is (champion, canary). */
static void test_regression_and_mirror(void **state)
{
    struct fx f;
    struct md_version *r1;
    struct md_version *r2;
    struct md_compare_pair p;
    struct story b;
    double want = 0;
    size_t i;

    (void)state;
    fx_open(&f, dir, 16, 0, 0);
    r1 = version(&f, "reg", "1");
    r2 = version(&f, "reg", "2");
    /* Version 2 answered (a canary); its request is mirrored to version 1 (the champion). */
    story_make(&b, r2, ROWS, false);
    assert_int_equal(md_shadow_offer(f.x, &b.s, r1, MD_SHADOW_MIRROR), MD_OK);
    assert_true(md_shadow_drain(f.x, 10000));
    p = pair(&f, "reg", 1, 2);
    assert_false(p.labels);
    assert_int_equal(p.rows, ROWS);
    assert_int_equal(p.agree, 0);
    /* Side a is the champion, which ran the copy; side b the canary, which answered. */
    assert_int_equal(p.side[1].latency_sum_ns, 300000);
    /* The mean |difference| is the mean of |v1 - v2| over the rows. */
    {
        struct story one;

        story_make(&one, r1, ROWS, false);
        for (i = 0; i < ROWS; i++)
            want += fabs((double)one.pred.scores[i] - (double)b.pred.scores[i]);
        want /= ROWS;
        story_free(&one);
    }
    assert_true(want > 0);
    assert_true(fabs(md_diff_hist_mean(&p.diff) - want) < 1e-6);
    story_free(&b);
    md_version_unref(r1);
    md_version_unref(r2);
    fx_close(&f);
}

/* The copy owns its memory: BYTES values and missing flags survive the story's end. */
static void test_copy_is_independent(void **state)
{
    struct fx f;
    struct md_version *v;
    struct md_infer_call *call = NULL;
    struct md_prediction pred;
    struct md_predict_story s;
    struct md_tensor t[6];
    struct md_compare_pair p;
    struct md_arena a;
    struct md_err err;
    float amount = 12.5f;
    float distance = NAN;
    uint8_t distance_missing = 1;
    int32_t hour = 13;
    int32_t age = 400;
    uint8_t international = 0;
    char category[16];
    struct md_bytes cat;

    (void)state;
    fx_open(&f, "examples/repo", 4, 0, 0);
    v = version(&f, "fraud", "2");
    md_arena_init(&a, 1 << 20);
    memset(t, 0, sizeof(t));
    (void)snprintf(category, sizeof(category), "travel");
    cat.p = category;
    cat.len = 6;
    t[0] = (struct md_tensor){"amount", MD_DT_FP32, 1, {1}, 1, &amount, NULL};
    t[1] = (struct md_tensor){"hour", MD_DT_INT32, 1, {1}, 1, &hour, NULL};
    t[2] = (struct md_tensor){"account_age_days", MD_DT_INT32, 1, {1}, 1, &age, NULL};
    t[3] = (struct md_tensor){"distance_km", MD_DT_FP32, 1, {1}, 1, &distance, &distance_missing};
    t[4] = (struct md_tensor){"merchant_category", MD_DT_BYTES, 1, {1}, 1, &cat, NULL};
    t[5] = (struct md_tensor){"is_international", MD_DT_BOOL, 1, {1}, 1, &international, NULL};
    assert_int_equal(md_infer_start(v, t, 6, 0, &a, NULL, NULL, &pred, &call, &err), MD_OK);
    memset(&s, 0, sizeof(s));
    s.model = "fraud";
    s.version = v;
    s.stage = MD_PREDICT_DONE;
    s.code = MD_OK;
    s.inputs = t;
    s.n_inputs = 6;
    s.scores = &pred;
    /* Held on its worker, the copy is still queued when the story's memory changes. */
    md_shadow_free(f.x);
    {
        struct md_shadow_config cfg;

        md_shadow_config_init(&cfg);
        cfg.delay_ms = 100;
        assert_int_equal(md_shadow_new(&cfg, f.cmp, &f.x, &err), MD_OK);
    }
    assert_int_equal(md_shadow_offer(f.x, &s, v, MD_SHADOW_COPY), MD_OK);
    memset(category, 'x', sizeof(category));
    distance_missing = 0;
    distance = -5; /* below its min: refused if the copy read it */
    t[4].name = "gone";
    assert_true(md_shadow_drain(f.x, 10000));
    p = pair(&f, "fraud", 2, 2);
    assert_int_equal(p.side[1].errors, 0);
    assert_int_equal(p.rows, 1);
    assert_int_equal(p.agree, 1);
    assert_int_equal(p.diff.bins[0], 1);
    md_arena_release(&a);
    md_version_unref(v);
    fx_close(&f);
}

/* A shadow whose contract refuses the copy: counted as failed, side b's error; nothing to copy
 * in a story that never ran. */
static void test_failed_and_not_offered(void **state)
{
    struct fx f;
    struct md_version *v1;
    struct md_version *strict;
    struct md_shadow_counts c;
    struct md_compare_pair p;
    struct md_request_totals t;
    struct story b;

    (void)state;
    fx_open(&f, dir, 16, 0, 0);
    v1 = version(&f, "cls", "1");
    strict = version(&f, "strict", "1");
    story_make(&b, v1, 3, true); /* a null: strict refuses it */
    assert_int_equal(md_shadow_offer(f.x, &b.s, strict, MD_SHADOW_COPY), MD_OK);
    assert_true(md_shadow_drain(f.x, 10000));
    md_shadow_counts(f.x, &c);
    assert_int_equal(c.run, 1);
    assert_int_equal(c.failed, 1);
    assert_int_equal(atomic_load(&strict->stats->shadow.failed), 1);
    md_request_totals(strict->stats, md_route_stats(strict->stats, MD_SHADOW_ROUTE), &t);
    assert_int_equal(t.fail_rejected, 1);
    p = pair(&f, "cls", 1, 1); /* strict's version 1, under the answering model */
    assert_int_equal(p.requests, 1);
    assert_int_equal(p.compared, 0);
    assert_int_equal(p.side[1].errors, 1);
    /* An answer that failed in its engine is copied, its error recorded on side a. */
    b.s.stage = MD_PREDICT_INFER;
    b.s.code = MD_EINTERNAL;
    assert_int_equal(md_shadow_offer(f.x, &b.s, v1, MD_SHADOW_COPY), MD_OK);
    assert_true(md_shadow_drain(f.x, 10000));
    p = pair(&f, "cls", 1, 1);
    assert_int_equal(p.side[0].errors, 1);
    /* Nothing to copy: refused input, unresolved version, no inputs. Counted nowhere. */
    b.s.stage = MD_PREDICT_VALIDATE;
    b.s.code = MD_EINVAL;
    assert_int_equal(md_shadow_offer(f.x, &b.s, v1, MD_SHADOW_COPY), MD_EINVAL);
    b.s.stage = MD_PREDICT_DONE;
    b.s.code = MD_OK;
    b.s.n_inputs = 0;
    assert_int_equal(md_shadow_offer(f.x, &b.s, v1, MD_SHADOW_COPY), MD_EINVAL);
    b.s.n_inputs = 5;
    b.s.version = NULL;
    assert_int_equal(md_shadow_offer(f.x, &b.s, v1, MD_SHADOW_COPY), MD_EINVAL);
    md_shadow_counts(f.x, &c);
    assert_int_equal(c.submitted, 2);
    assert_int_equal(c.dropped, 0);
    story_free(&b);
    md_version_unref(v1);
    md_version_unref(strict);
    fx_close(&f);
}

static double ms_since(uint64_t t0)
{
    return (double)(md_now_ns() - t0) / 1e6;
}

/* A slow shadow (50 ms a copy) never holds up an offer; a full queue drops and counts. */
static void test_slow_shadow_never_delays(void **state)
{
    struct fx f;
    struct md_version *v1;
    struct md_version *v2;
    struct md_shadow_counts c;
    struct story b;
    double worst = 0;
    uint64_t t0;
    int queued = 0;
    int dropped = 0;
    int i;

    (void)state;
    fx_open(&f, dir, 8, 50, 0);
    v1 = version(&f, "cls", "1");
    v2 = version(&f, "cls", "2");
    story_make(&b, v1, 4, false);
    t0 = md_now_ns();
    for (i = 0; i < 100; i++) {
        uint64_t t = md_now_ns();
        int rc = md_shadow_offer(f.x, &b.s, v2, MD_SHADOW_COPY);
        double ms = ms_since(t);

        if (ms > worst)
            worst = ms;
        assert_true(rc == MD_OK || rc == MD_EUNAVAIL);
        queued += rc == MD_OK;
        dropped += rc == MD_EUNAVAIL;
    }
    /* Never a wait for the shadow: an offer that waited would take 50 ms. */
    assert_true(worst < 25);
    assert_true(ms_since(t0) < 500);
    /* The queue holds 8 (one more may have been taken by the worker meanwhile). */
    assert_true(queued >= 8 && queued <= 10);
    md_shadow_counts(f.x, &c);
    assert_int_equal(c.submitted, (uint64_t)queued);
    assert_int_equal(c.dropped, (uint64_t)dropped);
    assert_int_equal(atomic_load(&v2->stats->shadow.dropped), (uint64_t)dropped);
    assert_true(md_shadow_drain(f.x, 10000));
    md_shadow_counts(f.x, &c);
    assert_int_equal(c.run, (uint64_t)queued);
    assert_int_equal(pair(&f, "cls", 1, 2).requests, (uint64_t)queued);
    story_free(&b);
    md_version_unref(v1);
    md_version_unref(v2);
    fx_close(&f);
}

/* Over the bytes the queue may hold: dropped, counted, as for a full queue. */
static void test_byte_bound(void **state)
{
    struct fx f;
    struct md_version *v1;
    struct md_shadow_counts c;
    struct story b;

    (void)state;
    fx_open(&f, dir, 8, 0, 256); /* less than one copy of 40 rows */
    v1 = version(&f, "cls", "1");
    story_make(&b, v1, ROWS, false);
    assert_int_equal(md_shadow_offer(f.x, &b.s, v1, MD_SHADOW_COPY), MD_EUNAVAIL);
    md_shadow_counts(f.x, &c);
    assert_int_equal(c.dropped, 1);
    assert_int_equal(c.submitted, 0);
    assert_int_equal(atomic_load(&v1->stats->shadow.dropped), 1);
    story_free(&b);
    md_version_unref(v1);
    fx_close(&f);
}

/* At 10 copies a second, a shadow that takes 50 ms a copy compares at least 99% of them. */
static void test_ten_a_second(void **state)
{
    struct fx f;
    struct md_version *v1;
    struct md_version *v3;
    struct md_shadow_counts c;
    struct md_compare_pair p;
    struct story b;
    struct timespec next;
    const int n = 20;
    int i;

    (void)state;
    fx_open(&f, dir, MD_SHADOW_QUEUE_DEFAULT, 50, 0);
    v1 = version(&f, "cls", "1");
    v3 = version(&f, "cls", "3");
    story_make(&b, v1, 2, false);
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (i = 0; i < n; i++) {
        assert_int_equal(md_shadow_offer(f.x, &b.s, v3, MD_SHADOW_COPY), MD_OK);
        /* paced: the next copy 100 ms after this one's turn */
        next.tv_nsec += 100000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) != 0)
            ;
    }
    assert_true(md_shadow_drain(f.x, 10000));
    md_shadow_counts(f.x, &c);
    p = pair(&f, "cls", 1, 3);
    assert_int_equal(c.dropped, 0);
    assert_true(p.compared * 100 >= (uint64_t)n * 99);
    assert_int_equal(p.agree, p.rows);
    story_free(&b);
    md_version_unref(v1);
    md_version_unref(v3);
    fx_close(&f);
}

/* At the stop, a copy being run finishes; those still queued are dropped and released. */
static void test_stop_drops_queued(void **state)
{
    struct fx f;
    struct md_version *v1;
    struct md_shadow_counts c;
    struct story b;
    int i;

    (void)state;
    fx_open(&f, dir, 8, 100, 0);
    v1 = version(&f, "cls", "1");
    story_make(&b, v1, 2, false);
    for (i = 0; i < 8; i++)
        assert_int_equal(md_shadow_offer(f.x, &b.s, v1, MD_SHADOW_COPY), MD_OK);
    md_shadow_counts(f.x, &c);
    assert_int_equal(c.depth, 8);
    md_shadow_free(f.x);
    f.x = NULL;
    /* Every copy either ran or was dropped: its references gone (the repository frees
     * below with none left, and ASan finds no leak). */
    assert_int_equal(atomic_load(&v1->stats->shadow.run) + atomic_load(&v1->stats->shadow.dropped),
                     8);
    assert_true(atomic_load(&v1->stats->shadow.dropped) >= 6);
    story_free(&b);
    md_version_unref(v1);
    fx_close(&f);
}

/* ---- the whole path: an observer offers, /metrics and the endpoint show it ---- */

struct offerer {
    struct md_shadow *x;
    struct md_version *from; /* copies of what this version answered */
    struct md_version *to;
    int offered;
};

static void told(void *ctx, const struct md_predict_story *s)
{
    struct offerer *o = ctx;

    if (s->version == o->from && md_shadow_offer(o->x, s, o->to, MD_SHADOW_COPY) == MD_OK)
        o->offered++;
}

static int request(struct md_api *api, const char *method, const char *path, const char *body,
                   struct md_buf *reply, struct md_arena *a)
{
    struct md_api_req req;
    struct md_api_resp resp;

    md_arena_reset(a);
    md_buf_reset(reply);
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = method;
    req.path = path;
    req.body = body;
    req.body_len = strlen(body);
    req.arena = a;
    req.request_id = "req-1";
    req.start_ns = md_now_ns();
    resp.status = 200;
    resp.body = reply;
    md_router_dispatch(api, &req, &resp);
    if (resp.after != NULL)
        resp.after(resp.after_ctx, resp.status); /* what the HTTP layer does once it is sent */
    return resp.status;
}

/* The value of the series line that starts with series, or -1. */
static double series(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);

    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

/* promtool check metrics on text: its exit status. */
static int promtool(const char *text)
{
    FILE *p = popen("promtool check metrics >/dev/null 2>&1", "w");

    assert_non_null(p);
    assert_true(fputs(text, p) >= 0);
    return pclose(p);
}

static void test_observer_metrics_and_endpoint(void **state)
{
    static const char body[] =
        "{\"inputs\":[{\"name\":\"features\",\"datatype\":\"FP32\",\"shape\":[2,5],"
        "\"data\":[0.1,0.2,0.3,0.4,0.5,-1,0.5,null,2,0.25]}]}";
    struct fx f;
    struct md_api api;
    struct offerer o;
    struct md_predict_observer obs = {told, &o};
    struct md_buf reply;
    struct md_arena a;
    int i;

    (void)state;
    fx_open(&f, dir, 16, 0, 0);
    memset(&api, 0, sizeof(api));
    api.repo = f.repo;
    api.name = "modeld";
    api.version = "test";
    api.compare = f.cmp;
    api.shadow = f.x;
    o.x = f.x;
    o.from = version(&f, "cls", "1");
    o.to = version(&f, "cls", "3");
    o.offered = 0;
    md_buf_init(&reply, 1 << 22);
    md_arena_init(&a, 1 << 20);
    assert_int_equal(md_predict_attach(&obs, NULL), MD_OK);
    for (i = 0; i < 3; i++)
        assert_int_equal(request(&api, "POST", "/v2/models/cls/versions/1/infer", body, &reply, &a),
                         200);
    assert_int_equal(request(&api, "POST", "/v2/models/cls/infer", body, &reply, &a), 200);
    md_predict_detach(&obs);
    assert_int_equal(o.offered, 3); /* version 3 answered the fourth: not copied */
    assert_true(md_shadow_drain(f.x, 10000));

    assert_int_equal(request(&api, "GET", "/metrics", "", &reply, &a), 200);
    assert_true(
        series(reply.data, "modeld_comparison_requests_total{model=\"cls\",a=\"1\",b=\"3\"}") == 3);
    assert_true(series(reply.data, "modeld_comparison_total{model=\"cls\",a=\"1\",b=\"3\"}") == 6);
    assert_true(
        series(reply.data, "modeld_comparison_agree_total{model=\"cls\",a=\"1\",b=\"3\"}") == 6);
    assert_true(
        series(reply.data,
               "modeld_comparison_abs_diff_bucket{model=\"cls\",a=\"1\",b=\"3\",le=\"0\"}") == 6);
    assert_true(series(reply.data, "modeld_comparison_errors_total{model=\"cls\",a=\"1\",b=\"3\","
                                   "side=\"b\"}") == 0);
    assert_true(series(reply.data, "modeld_comparison_duration_seconds_count{model=\"cls\",a=\"1\","
                                   "b=\"3\",side=\"b\"}") == 3);
    assert_true(series(reply.data, "modeld_shadow_submitted_total{model=\"cls\",version=\"3\"}") ==
                3);
    assert_true(series(reply.data, "modeld_shadow_run_total{model=\"cls\",version=\"3\"}") == 3);
    assert_true(series(reply.data, "modeld_shadow_dropped_total{model=\"cls\",version=\"3\"}") ==
                0);
    assert_true(series(reply.data, "modeld_shadow_queue_capacity") == 16);
    assert_true(series(reply.data, "modeld_shadow_queue_depth") == 0);
    /* The routes: the requests that named version 1, the default one, and the copies. */
    assert_true(series(reply.data, "modeld_inference_requests_total{model=\"cls\",version=\"1\","
                                   "route=\"direct\"}") == 3);
    assert_true(series(reply.data, "modeld_inference_requests_total{model=\"cls\",version=\"3\","
                                   "route=\"default\"}") == 1);
    assert_true(series(reply.data, "modeld_inference_requests_total{model=\"cls\",version=\"3\","
                                   "route=\"shadow\"}") == 3);
    assert_true(series(reply.data, "modeld_inference_rows_total{model=\"cls\",version=\"3\","
                                   "route=\"shadow\"}") == 6);
    assert_int_equal(promtool(reply.data), 0);

    assert_int_equal(request(&api, "GET", "/api/v1/models/cls/comparison", "", &reply, &a), 200);
    assert_non_null(strstr(reply.data, "{\"model\":\"cls\",\"pairs\":[{\"a\":\"1\",\"b\":\"3\","
                                       "\"requests\":3,\"compared\":3,\"rows\":6,\"agree\":6,"
                                       "\"agreement\":1,\"abs_diff\":{\"count\":6,\"mean\":0,"
                                       "\"p50\":0,\"p99\":0,\"max\":0},"));
    assert_int_equal(request(&api, "GET", "/api/v1/models/reg/comparison", "", &reply, &a), 200);
    assert_string_equal(reply.data, "{\"model\":\"reg\",\"pairs\":[]}");
    assert_int_equal(request(&api, "GET", "/api/v1/models/nosuch/comparison", "", &reply, &a), 404);
    assert_non_null(strstr(reply.data, "unknown model 'nosuch'"));
    assert_int_equal(request(&api, "POST", "/api/v1/models/cls/comparison", "", &reply, &a), 405);
    /* Without a registry (a daemon that keeps none): an empty list. */
    api.compare = NULL;
    assert_int_equal(request(&api, "GET", "/api/v1/models/cls/comparison", "", &reply, &a), 200);
    assert_string_equal(reply.data, "{\"model\":\"cls\",\"pairs\":[]}");

    md_predict_detach_all();
    md_arena_release(&a);
    md_buf_release(&reply);
    md_version_unref(o.from);
    md_version_unref(o.to);
    fx_close(&f);
}

static void test_config_checked(void **state)
{
    struct md_shadow_config cfg;
    struct md_shadow *x = NULL;
    struct md_err err;

    (void)state;
    md_shadow_config_init(&cfg);
    cfg.queue = 0;
    assert_int_equal(md_shadow_new(&cfg, NULL, &x, &err), MD_EINVAL);
    assert_string_equal(err.msg, "shadow queue: 0 is not from 1 to 1000000");
    md_shadow_config_init(&cfg);
    cfg.threads = MD_SHADOW_THREADS_MAX + 1;
    assert_int_equal(md_shadow_new(&cfg, NULL, &x, &err), MD_EINVAL);
    assert_string_equal(err.msg, "shadow threads: 9 is not from 1 to 8");
    md_shadow_config_init(&cfg);
    cfg.nice = 20;
    assert_int_equal(md_shadow_new(&cfg, NULL, &x, &err), MD_EINVAL);
    assert_null(x);
    md_shadow_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_compared),
        cmocka_unit_test(test_regression_and_mirror),
        cmocka_unit_test(test_copy_is_independent),
        cmocka_unit_test(test_failed_and_not_offered),
        cmocka_unit_test(test_slow_shadow_never_delays),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_ten_a_second),
        cmocka_unit_test(test_stop_drops_queued),
        cmocka_unit_test(test_observer_metrics_and_endpoint),
        cmocka_unit_test(test_config_checked),
    };

    return cmocka_run_group_tests(tests, make_repo, remove_repo);
}
