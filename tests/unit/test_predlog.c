/* SPDX-License-Identifier: MIT */
/*
 * test_predlog.c: the prediction log's ring and writer (watch/predlog.c)
 * against a real store in a temporary directory: every record put is
 * written, a full ring drops and counts (the writer held in its format),
 * a clean free writes what is queued, the drops of a window, the keyed
 * hash against RFC 4231, the key file's checks; the store's listing,
 * expiry, feature trimming and counting (store/sqlite_log.c); model.yaml's
 * `pii:` and `logging:` and the recorder's check (serve/predrec.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "serve/contract.h"
#include "serve/predrec.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"
#include "watch/metrics.h"
#include "watch/predlog.h"

struct fx {
    char dir[64];
    struct md_store *s;
};

static void rm_rf(const char *dir)
{
    char cmd[128];

    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    struct fx *f = md_xcalloc(1, sizeof(*f));
    struct md_err err;

    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_predlog.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(md_store_open(f->dir, &f->s, &err), MD_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    md_store_close(f->s);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* ---- a producer of test entries -------------------------------------------------- */

struct item {
    struct md_predlog_entry head;
    char id[32];
    int64_t at_ms;
};

struct producer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool hold;       /* format waits while set */
    bool holding;    /* format is waiting */
    size_t released; /* entries released */
};

static void fmt_item(void *ctx, const struct md_predlog_entry *e, struct md_arena *a,
                     struct md_store_prediction *out, size_t *n)
{
    struct producer *p = ctx;
    const struct item *it = (const struct item *)(const void *)e;
    size_t r;

    MD_UNUSED(a);
    pthread_mutex_lock(&p->lock);
    while (p->hold) {
        p->holding = true;
        pthread_cond_broadcast(&p->cond);
        pthread_cond_wait(&p->cond, &p->lock);
    }
    p->holding = false;
    pthread_mutex_unlock(&p->lock);
    for (r = 0; r < e->rows; r++) {
        memset(&out[r], 0, sizeof(out[r]));
        out[r].request_id = it->id;
        out[r].row = (int64_t)r;
        out[r].at_ms = it->at_ms;
        out[r].model = "m";
        out[r].version = 1;
        out[r].route = "stable";
        out[r].status = 200;
        out[r].features = "{\"x\":1}";
        out[r].score = NAN;
    }
    *n = e->rows;
}

static void release_item(void *ctx, struct md_predlog_entry *e)
{
    struct producer *p = ctx;

    pthread_mutex_lock(&p->lock);
    p->released++;
    pthread_mutex_unlock(&p->lock);
    free(e);
}

static struct md_predlog_entry *item(size_t rows, const char *id, int64_t at_ms)
{
    struct item *it = md_xcalloc(1, sizeof(*it));

    it->head.rows = rows;
    (void)snprintf(it->id, sizeof(it->id), "%s", id);
    it->at_ms = at_ms;
    return &it->head;
}

static void producer_init(struct producer *p, struct md_predlog_ops *ops)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    ops->format = fmt_item;
    ops->release = release_item;
    ops->ctx = p;
}

struct counted {
    int64_t rows;
    int64_t with_features;
};

static int run_count(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct counted *c = ctx;

    return md_store_tx_predictions_count(tx, NULL, &c->rows, &c->with_features, err);
}

static int64_t stored(struct md_store *s)
{
    struct counted c = {0, 0};
    struct md_err err;

    assert_int_equal(md_store_call(s, run_count, &c, &err), MD_OK);
    return c.rows;
}

/* ---- the ring and the writer -------------------------------------------------------- */

static void test_every_record_written(void **state)
{
    struct fx *f = *state;
    struct md_predlog_config cfg;
    struct md_predlog_counts c;
    struct md_predlog_ops ops;
    struct producer p;
    struct md_predlog *l;
    struct md_err err;
    size_t rows = 0;
    char id[32];
    size_t i;

    producer_init(&p, &ops);
    md_predlog_config_init(&cfg);
    cfg.ring = 100000;
    assert_int_equal(md_predlog_new(&cfg, f->s, &ops, &l, &err), MD_OK);
    for (i = 0; i < 5000; i++) {
        (void)snprintf(id, sizeof(id), "r%zu", i);
        assert_true(md_predlog_put(l, item(1 + i % 3, id, 0)));
        rows += 1 + i % 3;
    }
    assert_true(md_predlog_flush(l, 20000));
    md_predlog_counts(l, &c);
    assert_int_equal(c.written, rows);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(c.depth, 0);
    assert_true(c.batches >= 1 && c.batches <= 5000);
    assert_int_equal((int64_t)c.written, stored(f->s));
    md_predlog_free(l);
    assert_int_equal(p.released, 5000);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A trickle of puts (one a millisecond) is written in a few large batches, not one batch
 * per put: the writer naps 20 ms after a batch well short of full, so it wakes at most
 * some 50 times a second under a moderate load. */
static void test_trickle_batched(void **state)
{
    struct fx *f = *state;
    struct md_predlog_config cfg;
    struct md_predlog_counts c;
    struct md_predlog_ops ops;
    struct producer p;
    struct md_predlog *l;
    struct md_err err;
    int64_t start;
    int64_t elapsed;
    char id[32];
    size_t i;

    producer_init(&p, &ops);
    md_predlog_config_init(&cfg);
    assert_int_equal(md_predlog_new(&cfg, f->s, &ops, &l, &err), MD_OK);
    start = mono_ms();
    for (i = 0; i < 200; i++) {
        (void)snprintf(id, sizeof(id), "t%zu", i);
        assert_true(md_predlog_put(l, item(1, id, 0)));
        usleep(1000);
    }
    elapsed = mono_ms() - start;
    assert_true(md_predlog_flush(l, 20000));
    md_predlog_counts(l, &c);
    assert_int_equal(c.written, 200);
    assert_int_equal(c.dropped, 0);
    assert_true(c.batches >= 1);
    /* One batch per 20 ms nap at most, plus the first and the flush's. */
    assert_true((int64_t)c.batches <= elapsed / 20 + 3);
    md_predlog_free(l);
    assert_int_equal(p.released, 200);
}

static void test_full_ring_drops_and_counts(void **state)
{
    struct fx *f = *state;
    struct md_predlog_config cfg;
    struct md_predlog_counts c;
    struct md_predlog_ops ops;
    struct producer p;
    struct md_signals *sig;
    struct md_signal_query q;
    struct md_signal_value v;
    struct md_predlog *l;
    struct md_err err;
    size_t i;
    size_t queued = 0;

    producer_init(&p, &ops);
    md_predlog_config_init(&cfg);
    cfg.ring = 8;
    assert_int_equal(md_predlog_new(&cfg, f->s, &ops, &l, &err), MD_OK);
    /* The writer takes the first entry and is held in its format. */
    p.hold = true;
    assert_true(md_predlog_put(l, item(1, "first", 0)));
    pthread_mutex_lock(&p.lock);
    while (!p.holding)
        pthread_cond_wait(&p.cond, &p.lock);
    pthread_mutex_unlock(&p.lock);
    /* The record being written has left the ring: 8 more fit. */
    for (i = 0; i < 20; i++)
        queued += md_predlog_put(l, item(1, "more", 0));
    assert_int_equal(queued, 8);
    assert_false(md_predlog_put(l, item(9, "too big", 0))); /* more rows than the ring */
    md_predlog_counts(l, &c);
    assert_int_equal(c.dropped, 12 + 9);
    assert_int_equal(c.depth, 8);
    assert_int_equal(c.capacity, 8);
    assert_int_equal(md_predlog_dropped_within(l, 60000), 21);
    sig = md_signals_new();
    assert_int_equal(md_predlog_signals(l, sig, &err), MD_OK);
    memset(&q, 0, sizeof(q));
    q.metric = "log_dropped";
    q.model = "m";
    q.window_ms = 60000;
    assert_int_equal(md_signals_value(sig, &q, &v, &err), MD_OK);
    assert_true(v.value == 21);
    md_signals_free(sig);
    pthread_mutex_lock(&p.lock);
    p.hold = false;
    pthread_cond_broadcast(&p.cond);
    pthread_mutex_unlock(&p.lock);
    /* A clean free writes what was queued. */
    md_predlog_free(l);
    assert_int_equal(stored(f->s), 9);
    assert_int_equal(p.released, 1 + 8 + 12 + 1);
}

static void *putter(void *arg)
{
    struct md_predlog *l = arg;
    size_t i;

    for (i = 0; i < 2000; i++)
        (void)md_predlog_put(l, item(1, "t", 0));
    return NULL;
}

static void test_threads_put_at_once(void **state)
{
    struct fx *f = *state;
    struct md_predlog_config cfg;
    struct md_predlog_counts c;
    struct md_predlog_ops ops;
    struct producer p;
    struct md_predlog *l;
    struct md_err err;
    pthread_t t[4];
    size_t i;

    producer_init(&p, &ops);
    md_predlog_config_init(&cfg);
    cfg.ring = 1000;
    assert_int_equal(md_predlog_new(&cfg, f->s, &ops, &l, &err), MD_OK);
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, putter, l), 0);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(md_predlog_flush(l, 20000));
    md_predlog_counts(l, &c);
    assert_int_equal(c.written + c.dropped, 8000);
    assert_int_equal((int64_t)c.written, stored(f->s));
    md_predlog_free(l);
    assert_int_equal(p.released, 8000);
}

static void test_config_checked(void **state)
{
    struct fx *f = *state;
    struct md_predlog_config cfg;
    struct md_predlog_ops ops;
    struct producer p;
    struct md_predlog *l;
    struct md_err err;

    producer_init(&p, &ops);
    md_predlog_config_init(&cfg);
    cfg.ring = 0;
    assert_int_equal(md_predlog_new(&cfg, f->s, &ops, &l, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "log ring"));
    cfg.ring = 10;
    cfg.batch = 11;
    assert_int_equal(md_predlog_new(&cfg, f->s, &ops, &l, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "log batch"));
    assert_null(l);
}

/* ---- keyed hashes ------------------------------------------------------------------------ */

static void test_hmac(void **state)
{
    unsigned char key[20];
    char out[65];

    (void)state;
    /* RFC 4231, test case 1. */
    memset(key, 0x0b, sizeof(key));
    md_predlog_hmac(key, sizeof(key), "Hi There", 8, out);
    assert_string_equal(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* RFC 4231, test case 2. */
    md_predlog_hmac((const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28, out);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_key_file(void **state)
{
    struct fx *f = *state;
    unsigned char key[MD_PREDLOG_KEY_MAX];
    char path[128];
    struct md_err err;
    size_t n;
    FILE *fp;

    (void)snprintf(path, sizeof(path), "%s/key", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("0123456789abcdef\n", fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(md_predlog_key_read(path, key, &n, &err), MD_OK);
    assert_int_equal(n, 16);
    assert_memory_equal(key, "0123456789abcdef", 16);
    fp = fopen(path, "w");
    fputs("short", fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(md_predlog_key_read(path, key, &n, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "at least 16"));
    fp = fopen(path, "w");
    for (n = 0; n < MD_PREDLOG_KEY_MAX + 1; n++)
        fputc('k', fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(md_predlog_key_read(path, key, &n, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "longer than"));
    (void)snprintf(path, sizeof(path), "%s/none", f->dir);
    assert_int_equal(md_predlog_key_read(path, key, &n, &err), MD_EIO);
    assert_non_null(strstr(err.msg, "none"));
}

/* ---- the store's side ---------------------------------------------------------------------- */

struct rows {
    struct md_store_prediction *v;
    size_t n;
};

static int run_add(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct rows *r = ctx;

    return md_store_tx_predictions_add(tx, r->v, r->n, err);
}

/* Adds n rows of model m, ids in order, at_ms from at (one ms apart), key txn = i. */
static void add_rows(struct md_store *s, const char *m, size_t n, int64_t at, const char *route)
{
    struct md_store_prediction *v = md_xcalloc(n, sizeof(*v));
    struct md_store_key *k = md_xcalloc(n, sizeof(*k));
    char(*val)[16] = md_xcalloc(n, sizeof(*val));
    struct rows r = {v, n};
    struct md_err err;
    size_t i;

    for (i = 0; i < n; i++) {
        (void)snprintf(val[i], sizeof(val[i]), "%zu", i);
        k[i].name = "txn";
        k[i].value = val[i];
        v[i].request_id = val[i];
        v[i].at_ms = at + (int64_t)i;
        v[i].model = m;
        v[i].version = 1 + (int64_t)(i % 2);
        v[i].route = route;
        v[i].status = 200;
        v[i].features = "{\"x\":1}";
        v[i].outputs = "{\"y\":1}";
        v[i].score = 0.5;
        v[i].key_list = &k[i];
        v[i].n_keys = 1;
    }
    assert_int_equal(md_store_call(s, run_add, &r, &err), MD_OK);
    free(val);
    free(k);
    free(v);
}

struct listed {
    const struct md_store_prediction_filter *f;
    int64_t ids[64];
    size_t n;
};

static void collect(void *ctx, const struct md_store_prediction *p)
{
    struct listed *l = ctx;

    if (l->n < 64)
        l->ids[l->n] = p->id;
    l->n++;
}

static int run_list(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct listed *l = ctx;

    return md_store_tx_predictions(tx, l->f, collect, l, err);
}

static size_t list(struct md_store *s, const struct md_store_prediction_filter *f,
                   struct listed *out)
{
    struct md_err err;

    memset(out, 0, sizeof(*out));
    out->f = f;
    assert_int_equal(md_store_call(s, run_list, out, &err), MD_OK);
    return out->n;
}

static void test_listing(void **state)
{
    struct fx *f = *state;
    struct md_store_prediction_filter q;
    struct listed l;

    add_rows(f->s, "a", 10, 1000, "stable");
    add_rows(f->s, "b", 10, 2000, "canary");
    memset(&q, 0, sizeof(q));
    assert_int_equal(list(f->s, &q, &l), 20);
    q.model = "a";
    assert_int_equal(list(f->s, &q, &l), 10);
    q.version = 2;
    assert_int_equal(list(f->s, &q, &l), 5);
    q.version = 0;
    q.model = NULL;
    q.route = "canary";
    assert_int_equal(list(f->s, &q, &l), 10);
    assert_int_equal(l.ids[0], 11);
    q.route = NULL;
    q.key_name = "txn";
    q.key_value = "3";
    assert_int_equal(list(f->s, &q, &l), 2);
    q.model = "b";
    assert_int_equal(list(f->s, &q, &l), 1);
    assert_int_equal(l.ids[0], 14);
    memset(&q, 0, sizeof(q));
    q.since_ms = 1005;
    q.until_ms = 2003;
    assert_int_equal(list(f->s, &q, &l), 8);
    memset(&q, 0, sizeof(q));
    q.after_id = 15;
    q.limit = 3;
    assert_int_equal(list(f->s, &q, &l), 3);
    assert_int_equal(l.ids[0], 16);
    memset(&q, 0, sizeof(q));
    q.request_id = "4";
    assert_int_equal(list(f->s, &q, &l), 2);
    q.feedback = 1;
    assert_int_equal(list(f->s, &q, &l), 0);
    q.feedback = -1;
    assert_int_equal(list(f->s, &q, &l), 2);
}

struct retain {
    int64_t before_ms;
    int64_t keep;
    size_t chunk;
    int64_t cursor;
    int64_t n;
};

static int run_expire(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct retain *r = ctx;

    return md_store_tx_predictions_expire(tx, r->before_ms, r->chunk, &r->n, err);
}

static int run_trim(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct retain *r = ctx;

    return md_store_tx_predictions_trim(tx, r->before_ms, r->keep, r->chunk, &r->cursor, &r->n,
                                        err);
}

static void test_expire_and_trim(void **state)
{
    struct fx *f = *state;
    struct md_store_prediction_filter q;
    struct retain r = {1050, 0, 20, 0, 0};
    struct counted c = {0, 0};
    struct md_err err;
    struct listed l;

    add_rows(f->s, "a", 100, 1000, "stable"); /* ids 1..100 at 1000..1099 */
    /* Expiry in bounded chunks: 20, 20, then the 10 left before 1050. */
    assert_int_equal(md_store_call(f->s, run_expire, &r, &err), MD_OK);
    assert_int_equal(r.n, 20);
    assert_int_equal(md_store_call(f->s, run_expire, &r, &err), MD_OK);
    assert_int_equal(r.n, 20);
    assert_int_equal(md_store_call(f->s, run_expire, &r, &err), MD_OK);
    assert_int_equal(r.n, 10);
    assert_int_equal(md_store_call(f->s, run_expire, &r, &err), MD_OK);
    assert_int_equal(r.n, 0);
    assert_int_equal(stored(f->s), 50);
    /* Their key index entries went with them. */
    memset(&q, 0, sizeof(q));
    q.key_name = "txn";
    q.key_value = "10";
    assert_int_equal(list(f->s, &q, &l), 0);
    q.key_value = "60";
    assert_int_equal(list(f->s, &q, &l), 1);
    /* Features by age (before 1070: ids 51..70) and count (the newest 10: 91..100). */
    r.before_ms = 1070;
    r.keep = 10;
    r.chunk = 15;
    assert_int_equal(md_store_call(f->s, run_trim, &r, &err), MD_OK);
    assert_int_equal(r.n, 15);
    assert_int_equal(r.cursor, 66);
    while (r.n > 0)
        assert_int_equal(md_store_call(f->s, run_trim, &r, &err), MD_OK);
    assert_int_equal(md_store_call(f->s, run_count, &c, &err), MD_OK);
    assert_int_equal(c.rows, 50);
    assert_int_equal(c.with_features, 10);
    assert_int_equal(r.cursor, 91);
}

static int run_add_then_fail(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    int rc = run_add(tx, ctx, err);

    return rc == MD_OK ? md_err_set(err, MD_EINVAL, "a failure after the rows") : rc;
}

static void test_obs_connection(void **state)
{
    struct fx *f = *state;
    struct md_store_prediction row;
    struct rows r = {&row, 1};
    struct md_store_obs *o;
    struct md_err err;

    memset(&row, 0, sizeof(row));
    row.request_id = "obs";
    row.model = "m";
    row.version = 1;
    row.status = 200;
    row.score = NAN;
    assert_int_equal(md_store_obs_open(f->s, &o, &err), MD_OK);
    assert_int_equal(md_store_obs_call(o, run_add_then_fail, &r, &err), MD_EINVAL);
    assert_int_equal(stored(f->s), 0); /* nothing of a failed run is kept */
    assert_int_equal(md_store_obs_call(o, run_add, &r, &err), MD_OK);
    assert_int_equal(stored(f->s), 1); /* the store thread's connection sees it */
    row.model = NULL;
    assert_int_equal(md_store_obs_call(o, run_add, &r, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "no model"));
    md_store_obs_close(o);
    md_store_obs_close(NULL);
}

static void test_retain_through_the_writer(void **state)
{
    struct fx *f = *state;
    struct md_predlog_retention ret = {86400000, 0, 0, 7};
    struct md_predlog_config cfg;
    struct md_predlog_counts c;
    struct md_predlog_ops ops;
    struct producer p;
    struct md_predlog *l;
    struct md_err err;
    int i;

    add_rows(f->s, "a", 20, 1000, "stable"); /* written in 1970: past any horizon */
    producer_init(&p, &ops);
    md_predlog_config_init(&cfg);
    assert_int_equal(md_predlog_new(&cfg, f->s, &ops, &l, &err), MD_OK);
    /* Steps of 7 rows: three of them, each asked for once the last has run. */
    for (i = 0; i < 2000; i++) {
        md_predlog_counts(l, &c);
        if (c.retained == 20)
            break;
        md_predlog_retain(l, &ret, md_wall_ms());
        usleep(1000);
    }
    md_predlog_counts(l, &c);
    assert_int_equal(c.retained, 20);
    assert_int_equal(stored(f->s), 0);
    md_predlog_free(l);
}

/* ---- model.yaml and the recorder's check ------------------------------------------------------
 */

static const char yaml_head[] = "name: m\nbackend: trees\ntask: regression\n";

static int parse(const char *features, const char *tail, struct md_contract **c, struct md_err *err)
{
    char text[2048];

    (void)snprintf(text, sizeof(text), "%sfeatures:\n%s%s", yaml_head, features, tail);
    return md_contract_parse(text, strlen(text), NULL, c, err);
}

static void test_contract_pii_and_logging(void **state)
{
    struct md_contract *c = NULL;
    struct md_err err;

    (void)state;
    assert_int_equal(parse("  - {name: a, datatype: FP32, pii: drop}\n"
                           "  - {name: b, datatype: FP32, pii: hash}\n"
                           "  - {name: c, datatype: FP32, pii: keep}\n"
                           "  - {name: d, datatype: FP32}\n",
                           "logging:\n  features: 0.25\n", &c, &err),
                     MD_OK);
    assert_int_equal(c->features[0].pii, MD_PII_DROP);
    assert_int_equal(c->features[1].pii, MD_PII_HASH);
    assert_int_equal(c->features[2].pii, MD_PII_KEEP);
    assert_int_equal(c->features[3].pii, MD_PII_NONE);
    assert_true(c->log_features == 0.25);
    /* Hashing needs a key. */
    assert_int_equal(md_predrec_check(c, false, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "features[1].pii"));
    assert_non_null(strstr(err.msg, "--pii-key-file"));
    assert_int_equal(md_predrec_check(c, true, &err), MD_OK);
    /* No model learns from its log yet: sampling is allowed. */
    assert_false(md_predrec_needs_every_row(c));
    md_contract_free(c);
    assert_int_equal(parse("  - {name: a, datatype: FP32}\n", "", &c, &err), MD_OK);
    assert_true(c->log_features == 1);
    md_contract_free(c);
    assert_int_equal(parse("  - {name: a, datatype: FP32, pii: secret}\n", "", &c, &err),
                     MD_EINVAL);
    assert_non_null(strstr(err.msg, "features[0].pii: 'secret' is not one of drop, hash, keep"));
    assert_int_equal(
        parse("  - {name: a, datatype: FP32}\n", "logging:\n  features: -0.1\n", &c, &err),
        MD_EINVAL);
    assert_non_null(strstr(err.msg, "logging.features"));
    assert_int_equal(
        parse("  - {name: a, datatype: FP32}\n", "logging:\n  features: x\n", &c, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "logging.features"));
    assert_int_equal(parse("  - {name: a, datatype: FP32}\n", "logging: 3\n", &c, &err), MD_EINVAL);
    assert_non_null(strstr(err.msg, "logging"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_record_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trickle_batched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_ring_drops_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_put_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_checked, setup, teardown),
        cmocka_unit_test(test_hmac),
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_and_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obs_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retain_through_the_writer, setup, teardown),
        cmocka_unit_test(test_contract_pii_and_logging),
    };

    md_log_set_level(MD_LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
