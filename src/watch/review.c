/* SPDX-License-Identifier: MIT */
/*
 * review.c: the review queues' figures (review.h): a table of models
 * refreshed by a store job each second, read by the named metrics and
 * /metrics.
 */
#include "watch/review.h"
#include "watch/metrics.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#define MODELS_MAX 4096 /* models with review items the table keeps */

struct row {
    char model[MD_STORE_NAME_MAX + 1];
    struct md_review_figures f;
    bool seen; /* by the round running now */
};

struct md_review_stats {
    struct md_store *store;
    pthread_mutex_t lock; /* guards rows, n */
    struct row *rows;
    size_t n, cap;
    struct md_store_job job;
    _Atomic bool busy; /* a round is queued or running */
    int64_t now_ms;    /* the round's (store thread) */
};

struct md_review_stats *md_review_stats_new(struct md_store *store)
{
    struct md_review_stats *s = md_xcalloc(1, sizeof(*s));

    s->store = store;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void md_review_stats_free(struct md_review_stats *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->rows);
    free(s);
}

/* The row of model, added when absent (NULL when the table is full). Under the lock. */
static struct row *find(struct md_review_stats *s, const char *model, bool add)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->rows[i].model, model) == 0)
            return &s->rows[i];
    if (!add || s->n == MODELS_MAX || strlen(model) > MD_STORE_NAME_MAX)
        return NULL;
    if (s->n == s->cap) {
        s->cap = s->cap == 0 ? 8 : s->cap * 2;
        s->rows = md_xrealloc(s->rows, s->cap * sizeof(*s->rows));
    }
    memset(&s->rows[s->n], 0, sizeof(s->rows[s->n]));
    memcpy(s->rows[s->n].model, model, strlen(model) + 1);
    return &s->rows[s->n++];
}

void md_review_stats_set(struct md_review_stats *s, const char *model,
                         const struct md_review_figures *f)
{
    struct row *r;

    pthread_mutex_lock(&s->lock);
    r = find(s, model, true);
    if (r != NULL) {
        r->f = *f;
        r->seen = true;
    }
    pthread_mutex_unlock(&s->lock);
}

bool md_review_stats_get(struct md_review_stats *s, const char *model,
                         struct md_review_figures *out)
{
    const struct row *r;

    pthread_mutex_lock(&s->lock);
    r = find(s, model, false);
    if (r != NULL)
        *out = r->f;
    pthread_mutex_unlock(&s->lock);
    return r != NULL;
}

/* ---- the counting round (store thread) ------------------------------------ */

static void on_stats(void *ctx, const struct md_store_review_stats *st)
{
    struct md_review_stats *s = ctx;
    struct md_review_figures f = {
        .waiting = st->waiting,
        .leased = st->leased,
        .oldest_ms = st->oldest_ms,
        .answered = st->answered,
        .judged = st->judged,
        .agreed = st->agreed,
        .at_ms = s->now_ms,
    };

    md_review_stats_set(s, st->model, &f);
}

static int run_round(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_review_stats *s = ctx;
    int rc;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        s->rows[i].seen = false;
    pthread_mutex_unlock(&s->lock);
    s->now_ms = md_wall_ms();
    rc = md_store_tx_review_stats(tx, s->now_ms, on_stats, s, err);
    if (rc != MD_OK)
        return rc;
    /* A model whose items are all gone (the store reopened elsewhere) reads empty. */
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        if (!s->rows[i].seen) {
            memset(&s->rows[i].f, 0, sizeof(s->rows[i].f));
            s->rows[i].f.at_ms = s->now_ms;
        }
    pthread_mutex_unlock(&s->lock);
    return MD_OK;
}

static void round_done(void *ctx, int code, const struct md_err *err)
{
    struct md_review_stats *s = ctx;

    MD_UNUSED(code);
    MD_UNUSED(err);
    atomic_store(&s->busy, false);
}

void md_review_stats_tick(void *ctx, uint64_t now_ms)
{
    struct md_review_stats *s = ctx;

    MD_UNUSED(now_ms);
    if (s->store == NULL || atomic_exchange(&s->busy, true))
        return;
    s->job.run = run_round;
    s->job.done = round_done;
    s->job.ctx = s;
    md_store_submit(s->store, &s->job);
}

/* ---- named metrics ---------------------------------------------------------- */

enum which { LENGTH, AGE, AGREEMENT };

struct provider {
    struct md_review_stats *s;
    enum which w;
};

static int answer(const struct provider *p, const struct md_signal_query *q,
                  struct md_signal_value *out)
{
    struct md_review_figures f;
    int64_t now = q->now_ms != 0 ? q->now_ms : md_wall_ms();

    out->value = NAN;
    out->samples = 0;
    if (!md_review_stats_get(p->s, q->model, &f))
        memset(&f, 0, sizeof(f));
    switch (p->w) {
    case LENGTH:
        out->value = (double)(f.waiting + f.leased);
        out->samples = 1;
        break;
    case AGE:
        out->value =
            f.oldest_ms > 0 && now > f.oldest_ms ? (double)(now - f.oldest_ms) / 1000.0 : 0.0;
        out->samples = 1;
        break;
    case AGREEMENT:
        if (f.judged > 0)
            out->value = (double)f.agreed / (double)f.judged;
        out->samples = f.judged;
        break;
    }
    return MD_OK;
}

static struct provider providers[3];

static int length_fn(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                     struct md_err *err)
{
    MD_UNUSED(err);
    return answer(ctx, q, out);
}

int md_review_stats_signals(struct md_review_stats *s, struct md_signals *sig, struct md_err *err)
{
    static const struct md_signal_info infos[3] = {
        {"review_queue_length", "count", NULL,
         "review items waiting or leased now (the window is not used)"},
        {"review_queue_age_s", "seconds", NULL,
         "age of the oldest review item not answered, 0 when none"},
        {"review_agreement", "ratio", NULL,
         "share of answered review items whose verdict is the predicted label"},
    };
    int rc = MD_OK;

    for (int i = 0; rc == MD_OK && i < 3; i++) {
        providers[i].s = s;
        providers[i].w = (enum which)i;
        rc = md_signals_add(sig, &infos[i], length_fn, &providers[i], err);
    }
    return rc;
}

/* ---- /metrics ---------------------------------------------------------------- */

static void put_family(struct md_buf *b, const char *name, const char *type, const char *help)
{
    (void)md_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_model(struct md_buf *b, const char *name, const char *model)
{
    (void)md_buf_puts(b, name);
    (void)md_buf_puts(b, "{model=");
    (void)md_buf_json_str(b, model, strlen(model));
    (void)md_buf_puts(b, "} ");
}

void md_review_stats_prom(struct md_review_stats *s, struct md_buf *b)
{
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"modeld_review_queue_length", "gauge", "Review items waiting or leased."},
        {"modeld_review_queue_leased", "gauge", "Review items leased to a reviewer now."},
        {"modeld_review_queue_age_seconds", "gauge",
         "Age of the oldest review item not answered (0: none)."},
        {"modeld_review_answered_total", "counter", "Review items answered with a verdict."},
        {"modeld_review_agreement", "gauge",
         "Share of verdicts equal to the predicted label (classification)."},
    };
    int64_t now = md_wall_ms();

    pthread_mutex_lock(&s->lock);
    for (size_t k = 0; k < MD_ARRAY_LEN(fams); k++) {
        put_family(b, fams[k].name, fams[k].type, fams[k].help);
        for (size_t i = 0; i < s->n; i++) {
            const struct md_review_figures *f = &s->rows[i].f;

            put_model(b, fams[k].name, s->rows[i].model);
            switch (k) {
            case 0:
                (void)md_buf_printf(b, "%llu\n", (unsigned long long)f->waiting + f->leased);
                break;
            case 1:
                (void)md_buf_printf(b, "%llu\n", (unsigned long long)f->leased);
                break;
            case 2:
                (void)md_buf_printf(b, "%.3f\n",
                                    f->oldest_ms > 0 && now > f->oldest_ms
                                        ? (double)(now - f->oldest_ms) / 1000.0
                                        : 0.0);
                break;
            case 3:
                (void)md_buf_printf(b, "%llu\n", (unsigned long long)f->answered);
                break;
            default:
                if (f->judged > 0)
                    (void)md_buf_printf(b, "%.6f\n", (double)f->agreed / (double)f->judged);
                else
                    (void)md_buf_puts(b, "NaN\n");
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    put_family(b, "modeld_review_dropped_total", "counter",
               "Review items dropped: their model's queue was full.");
    (void)md_buf_printf(b, "modeld_review_dropped_total %llu\n",
                        (unsigned long long)md_store_review_dropped());
}
