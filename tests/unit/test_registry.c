/* SPDX-License-Identifier: MIT */
/*
 * test_registry.c: the registry of serving versions and the epochs that
 * reclaim its snapshots (util/epoch.h). Versions here are fakes whose engine
 * counts its frees and checks it is freed once. Covers: what md_registry_
 * acquire answers from a snapshot, listings in name order, a republish that
 * changes nothing keeping the snapshot, a request's reference outliving the
 * snapshot it came from, a listing's snapshot kept whole while a writer
 * replaces it, readers acquiring and listing while another thread
 * republishes and adds and removes models (no version is freed early, none
 * twice, none leaked), and the grace period: md_epoch_wait waits for a
 * section begun before it (nested too), not for ones begun after, and an
 * exited thread's slot is reused. Every loop is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "serve/registry.h"
#include "util/epoch.h"
#include "util/mem.h"

/* ------------------------------------------------------------ fake versions */

#define LIVE 0x11feU
#define DEAD 0xdeadU

struct fake_engine {
    _Atomic unsigned magic;
};

static _Atomic long made;
static _Atomic long freed;

static void fake_free(void *inst)
{
    struct fake_engine *f = inst;

    assert_int_equal(atomic_exchange(&f->magic, DEAD), LIVE); /* freed once */
    free(f);
    atomic_fetch_add(&freed, 1);
}

static const struct md_backend_ops fake_ops = {
    .abi = MD_BACKEND_ABI,
    .name = "fake",
    .free = fake_free,
};

/* A version with one reference, as md_version_load gives it. */
static struct md_version *fake_version(const char *model, int64_t number)
{
    struct md_version *v = md_xcalloc(1, sizeof(*v));
    struct fake_engine *f = md_xcalloc(1, sizeof(*f));

    atomic_init(&f->magic, LIVE);
    atomic_init(&v->refs, 1);
    v->model = md_xstrdup(model);
    v->number = number;
    (void)snprintf(v->version_str, sizeof(v->version_str), "%lld", (long long)number);
    v->ops = &fake_ops;
    v->engine = f;
    v->stats = md_xcalloc(1, sizeof(*v->stats));
    atomic_fetch_add(&made, 1);
    return v;
}

static bool alive(const struct md_version *v)
{
    const struct fake_engine *f = v->engine;

    return atomic_load(&f->magic) == LIVE;
}

/* Adds a row to s (rows filled in order): live, when not NULL, gives its reference. */
static void put_row(struct md_snapshot *s, size_t i, int64_t number, struct md_version *live,
                    enum md_version_cause cause, const char *reason)
{
    s->rows[i].version = number;
    s->rows[i].state = live != NULL ? MD_VS_READY : MD_VS_UNAVAILABLE;
    s->rows[i].cause = cause;
    s->rows[i].live = live;
    (void)snprintf(s->rows[i].reason, sizeof(s->rows[i].reason), "%s", reason);
}

static void reset_counts(void)
{
    atomic_store(&made, 0);
    atomic_store(&freed, 0);
}

/* ------------------------------------------------------------ answers */

struct seen {
    char names[8][32];
    struct md_snapshot const *snaps[8];
    size_t n;
};

static void collect(void *ctx, const struct md_snapshot *s)
{
    struct seen *seen = ctx;

    assert_true(seen->n < MD_ARRAY_LEN(seen->names));
    (void)snprintf(seen->names[seen->n], sizeof(seen->names[0]), "%s", s->model);
    seen->snaps[seen->n++] = s;
}

static void test_acquire_answers(void **state)
{
    struct md_registry *g = md_registry_new();
    struct md_snapshot *s = md_snapshot_new("fraud", 3);
    struct md_version *v = NULL;
    struct md_err err;

    (void)state;
    reset_counts();
    put_row(s, 0, 1, fake_version("fraud", 1), MD_CAUSE_NONE, "");
    put_row(s, 1, 2, NULL, MD_CAUSE_LOAD_FAILED, "model.json: truncated");
    put_row(s, 2, 3, fake_version("fraud", 3), MD_CAUSE_NONE, "");
    md_registry_publish(g, s);

    assert_int_equal(md_registry_acquire(g, "fraud", NULL, &v, &err), MD_OK);
    assert_int_equal(v->number, 3);
    md_version_unref(v);
    assert_int_equal(md_registry_acquire(g, "fraud", "", &v, &err), MD_OK);
    assert_int_equal(v->number, 3);
    md_version_unref(v);
    assert_int_equal(md_registry_acquire(g, "fraud", "1", &v, &err), MD_OK);
    assert_int_equal(v->number, 1);
    md_version_unref(v);
    assert_int_equal(md_registry_acquire(g, "fraud", "2", &v, &err), MD_EUNAVAIL);
    assert_null(v);
    assert_string_equal(err.msg, "model 'fraud' version 2 is not ready: model.json: truncated");
    assert_int_equal(md_registry_acquire(g, "fraud", "4", &v, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'fraud' has no version '4'");
    assert_int_equal(md_registry_acquire(g, "fraud", "01", &v, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "model 'fraud' has no version '01'");
    assert_int_equal(md_registry_acquire(g, "churn", NULL, &v, &err), MD_ENOTFOUND);
    assert_string_equal(err.msg, "unknown model 'churn'");
    assert_int_equal(md_registry_ready_models(g), 1);

    /* A model with no ready version says why. */
    s = md_snapshot_new("churn", 1);
    s->cause = MD_CAUSE_MODEL_CONFIG;
    (void)snprintf(s->reason, sizeof(s->reason), "model.yaml: task: required");
    put_row(s, 0, 1, NULL, MD_CAUSE_POLICY, "not selected by the version policy");
    md_registry_publish(g, s);
    assert_int_equal(md_registry_acquire(g, "churn", NULL, &v, &err), MD_EUNAVAIL);
    assert_string_equal(err.msg, "model 'churn' has no ready version: model.yaml: task: required");
    assert_int_equal(md_registry_ready_models(g), 1);

    /* Unloaded: the rows do not matter. */
    s = md_snapshot_new("fraud", 1);
    s->unloaded = true;
    put_row(s, 0, 3, NULL, MD_CAUSE_UNLOADED, MD_REGISTRY_UNLOADED);
    md_registry_publish(g, s);
    assert_int_equal(atomic_load(&freed), 2); /* the old snapshot held the last references */
    assert_int_equal(md_registry_acquire(g, "fraud", "3", &v, &err), MD_EUNAVAIL);
    assert_string_equal(err.msg, "model 'fraud' was unloaded by an operator; load it again with "
                                 "POST /v2/repository/models/fraud/load (modelctl load fraud)");
    assert_int_equal(md_registry_ready_models(g), 0);

    assert_true(md_registry_remove(g, "churn"));
    assert_false(md_registry_remove(g, "churn"));
    assert_int_equal(md_registry_acquire(g, "churn", NULL, &v, &err), MD_ENOTFOUND);
    md_registry_free(g);
    assert_int_equal(atomic_load(&made), atomic_load(&freed));
}

static void test_listing_order_and_same_snapshot(void **state)
{
    static const char *const names[] = {"m", "b", "z", "a", "q"};
    static const char *const sorted[] = {"a", "b", "m", "q", "z"};
    struct md_registry *g = md_registry_new();
    struct md_version *v1;
    struct md_snapshot *s;
    struct seen seen = {.n = 0};
    struct seen again = {.n = 0};
    size_t i;

    (void)state;
    reset_counts();
    v1 = fake_version("b", 1);
    for (i = 0; i < MD_ARRAY_LEN(names); i++)
        md_registry_publish(g, md_snapshot_new(names[i], 0));
    s = md_snapshot_new("b", 1);
    put_row(s, 0, 1, v1, MD_CAUSE_NONE, "");
    md_registry_publish(g, s);
    md_registry_foreach(g, collect, &seen);
    assert_int_equal(seen.n, 5);
    for (i = 0; i < seen.n; i++)
        assert_string_equal(seen.names[i], sorted[i]);

    /* The same rows again: the published snapshot stays, the new one goes. */
    md_version_ref(v1);
    s = md_snapshot_new("b", 1);
    put_row(s, 0, 1, v1, MD_CAUSE_NONE, "");
    md_registry_publish(g, s);
    md_registry_foreach(g, collect, &again);
    assert_ptr_equal(again.snaps[1], seen.snaps[1]);
    assert_int_equal(atomic_load(&v1->refs), 1);

    /* A different reason is a new snapshot. */
    md_version_ref(v1);
    s = md_snapshot_new("b", 1);
    put_row(s, 0, 1, v1, MD_CAUSE_WARNING, "no feature names");
    md_registry_publish(g, s);
    again.n = 0;
    md_registry_foreach(g, collect, &again);
    assert_ptr_not_equal(again.snaps[1], seen.snaps[1]);
    assert_string_equal(again.snaps[1]->rows[0].reason, "no feature names");
    assert_int_equal(atomic_load(&v1->refs), 1);
    md_registry_free(g);
    assert_int_equal(atomic_load(&freed), 1);
}

/* A request's reference outlives the snapshot that gave it. */
static void test_reference_outlives_snapshot(void **state)
{
    struct md_registry *g = md_registry_new();
    struct md_snapshot *s = md_snapshot_new("m", 1);
    struct md_version *v = NULL;
    struct md_err err;

    (void)state;
    reset_counts();
    put_row(s, 0, 1, fake_version("m", 1), MD_CAUSE_NONE, "");
    md_registry_publish(g, s);
    assert_int_equal(md_registry_acquire(g, "m", NULL, &v, &err), MD_OK);
    s = md_snapshot_new("m", 1);
    put_row(s, 0, 2, fake_version("m", 2), MD_CAUSE_NONE, "");
    md_registry_publish(g, s); /* version 1 leaves */
    assert_int_equal(atomic_load(&freed), 0);
    assert_true(alive(v));
    assert_int_equal(v->number, 1);
    md_version_unref(v);
    assert_int_equal(atomic_load(&freed), 1);
    assert_true(md_registry_remove(g, "m"));
    assert_int_equal(atomic_load(&freed), 2);
    md_registry_free(g);
}

/* A listing's snapshot stays whole until the listing ends, though a writer
 * replaced it meanwhile: the writer's publish returns only after. */
struct slow_listing {
    struct md_registry *g;
    pthread_t writer;
    _Atomic bool published;
};

static void *publish_v2(void *arg)
{
    struct slow_listing *sl = arg;
    struct md_snapshot *s = md_snapshot_new("m", 1);

    put_row(s, 0, 2, fake_version("m", 2), MD_CAUSE_NONE, "");
    md_registry_publish(sl->g, s);
    atomic_store(&sl->published, true);
    return NULL;
}

static void slow_reader(void *ctx, const struct md_snapshot *s)
{
    struct slow_listing *sl = ctx;
    struct timespec ts = {0, 2000000L};
    int i;

    assert_int_equal(pthread_create(&sl->writer, NULL, publish_v2, sl), 0);
    for (i = 0; i < 20; i++) {
        (void)nanosleep(&ts, NULL); /* time for the writer to swap, and wrongly free */
        assert_false(atomic_load(&sl->published));
        assert_int_equal(s->n_ready, 1);
        assert_true(alive(s->ready[0]));
        assert_int_equal(s->ready[0]->number, 1);
    }
}

static void test_publish_waits_for_listing(void **state)
{
    struct slow_listing sl;
    struct md_snapshot *s = md_snapshot_new("m", 1);
    struct md_version *v = NULL;
    struct md_err err;

    (void)state;
    reset_counts();
    sl.g = md_registry_new();
    atomic_init(&sl.published, false);
    put_row(s, 0, 1, fake_version("m", 1), MD_CAUSE_NONE, "");
    md_registry_publish(sl.g, s);
    md_registry_foreach(sl.g, slow_reader, &sl);
    assert_int_equal(pthread_join(sl.writer, NULL), 0);
    assert_true(atomic_load(&sl.published));
    assert_int_equal(atomic_load(&freed), 1);
    assert_int_equal(md_registry_acquire(sl.g, "m", NULL, &v, &err), MD_OK);
    assert_int_equal(v->number, 2);
    md_version_unref(v);
    md_registry_free(sl.g);
    assert_int_equal(atomic_load(&freed), 2);
}

/* ------------------------------------------------------------ under republish */

#define PUBLISHES 1500
#define READERS   3

struct race {
    struct md_registry *g;
    _Atomic bool done;
    _Atomic long acquired;
};

static void check_listing(void *ctx, const struct md_snapshot *s)
{
    const char **last = ctx;
    size_t i;

    assert_true(*last == NULL || strcmp(*last, s->model) < 0);
    *last = s->model;
    for (i = 0; i < s->n_ready; i++)
        assert_true(alive(s->ready[i]));
}

static void *reader(void *arg)
{
    struct race *rc = arg;
    int64_t last = 0;
    long n;

    /* Bounded: the writer ends first in practice; the bound only stops a hang. */
    for (n = 0; n < 50000000 && !atomic_load(&rc->done); n++) {
        struct md_version *v = NULL;
        struct md_err err;
        const char *prev = NULL;
        int rc_b;

        assert_int_equal(md_registry_acquire(rc->g, "a", NULL, &v, &err), MD_OK);
        assert_true(alive(v));
        assert_true(v->number >= last); /* snapshots are seen in the order published */
        last = v->number;
        md_version_unref(v);
        v = NULL;
        rc_b = md_registry_acquire(rc->g, "b", NULL, &v, &err);
        assert_true(rc_b == MD_OK || rc_b == MD_ENOTFOUND);
        if (v != NULL) {
            assert_true(alive(v));
            md_version_unref(v);
        }
        if (n % 16 == 0)
            md_registry_foreach(rc->g, check_listing, &prev);
        atomic_fetch_add(&rc->acquired, 1);
    }
    return NULL;
}

/* Model "a" always has a ready version; "b" comes and goes. */
static void test_acquire_under_republish(void **state)
{
    struct race rc;
    pthread_t th[READERS];
    struct md_snapshot *s;
    bool b_published = false;
    int64_t i;

    (void)state;
    reset_counts();
    rc.g = md_registry_new();
    atomic_init(&rc.done, false);
    atomic_init(&rc.acquired, 0);
    s = md_snapshot_new("a", 1);
    put_row(s, 0, 1, fake_version("a", 1), MD_CAUSE_NONE, "");
    md_registry_publish(rc.g, s);
    for (i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &rc), 0);
    /* The readers under way before the first republish (on a busy machine the
     * writer could otherwise finish before they run); bounded at 10 s. */
    for (i = 0; i < 10000 && atomic_load(&rc.acquired) < READERS; i++) {
        struct timespec ms = {0, 1000000L};

        nanosleep(&ms, NULL);
    }
    for (i = 2; i < PUBLISHES; i++) {
        s = md_snapshot_new("a", 2);
        put_row(s, 0, i - 1, NULL, MD_CAUSE_POLICY, "not selected by the version policy");
        put_row(s, 1, i, fake_version("a", i), MD_CAUSE_NONE, "");
        md_registry_publish(rc.g, s);
        if (i % 3 == 0) {
            s = md_snapshot_new("b", 1);
            put_row(s, 0, 1, fake_version("b", 1), MD_CAUSE_NONE, "");
            md_registry_publish(rc.g, s);
            b_published = true;
        } else if (i % 3 == 1) {
            assert_int_equal(md_registry_remove(rc.g, "b"), b_published);
            b_published = false;
        }
    }
    atomic_store(&rc.done, true);
    for (i = 0; i < READERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_true(atomic_load(&rc.acquired) > 0);
    /* Every retired version is gone; what serves stays until the end. */
    assert_int_equal(atomic_load(&freed), atomic_load(&made) - 1 - b_published);
    md_registry_free(rc.g);
    assert_int_equal(atomic_load(&freed), atomic_load(&made));
}

/* ------------------------------------------------------------ grace periods */

struct waiter {
    _Atomic bool done;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;

    md_epoch_wait();
    atomic_store(&w->done, true);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};

    (void)nanosleep(&ts, NULL);
}

/* md_epoch_wait does not return while a section begun before it is open,
 * however deeply nested. */
static void test_wait_waits_for_sections(void **state)
{
    struct waiter w;
    pthread_t th;
    int i;

    (void)state;
    atomic_init(&w.done, false);
    md_epoch_enter();
    md_epoch_enter();
    assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
    md_epoch_exit(); /* still inside the outer section */
    for (i = 0; i < 20; i++) {
        sleep_ms(2); /* the waiter has had time to return, were it going to */
        assert_false(atomic_load(&w.done));
    }
    md_epoch_exit();
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(atomic_load(&w.done));
}

struct churn {
    _Atomic bool stop;
    _Atomic long sections;
};

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    long n;

    for (n = 0; n < 100000000 && !atomic_load(&c->stop); n++) {
        md_epoch_enter();
        atomic_fetch_add(&c->sections, 1);
        md_epoch_exit();
    }
    return NULL;
}

/* Sections that keep beginning after the wait began do not hold it up. */
static void test_wait_ignores_later_sections(void **state)
{
    struct churn c;
    pthread_t th;
    int i;

    (void)state;
    atomic_init(&c.stop, false);
    atomic_init(&c.sections, 0);
    assert_int_equal(pthread_create(&th, NULL, churn_thread, &c), 0);
    for (i = 0; i < 2000 && atomic_load(&c.sections) == 0; i++)
        sleep_ms(1);
    for (i = 0; i < 100; i++)
        md_epoch_wait();
    atomic_store(&c.stop, true);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(atomic_load(&c.sections) > 0);
}

static void *slot_of_thread(void *arg)
{
    struct md_epoch_slot **out = arg;

    md_epoch_enter();
    *out = md_epoch__self;
    md_epoch_exit();
    return NULL;
}

/* A thread's slot goes back at its exit and the next thread takes it. */
static void test_slot_reused(void **state)
{
    struct md_epoch_slot *first = NULL;
    struct md_epoch_slot *second = NULL;
    pthread_t th;

    (void)state;
    assert_int_equal(pthread_create(&th, NULL, slot_of_thread, &first), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pthread_create(&th, NULL, slot_of_thread, &second), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_non_null(first);
    assert_ptr_equal(first, second);
    assert_int_equal(atomic_load(&first->epoch), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acquire_answers),
        cmocka_unit_test(test_listing_order_and_same_snapshot),
        cmocka_unit_test(test_reference_outlives_snapshot),
        cmocka_unit_test(test_publish_waits_for_listing),
        cmocka_unit_test(test_acquire_under_republish),
        cmocka_unit_test(test_wait_waits_for_sections),
        cmocka_unit_test(test_wait_ignores_later_sections),
        cmocka_unit_test(test_slot_reused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
