/* SPDX-License-Identifier: MIT */
/*
 * compare.c: the |difference| histogram and the registry of version pairs.
 * The registry is a sorted array of pairs under one mutex, which its
 * writers (the shadow executor's threads) and readers (/metrics, the
 * comparison endpoint, control) take briefly; no request of a caller ever
 * waits on it.
 */
#include "watch/compare.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>

/* ---- the |difference| histogram ---------------------------------------- */

/* The bin of a |difference|. */
static size_t diff_bin(double d)
{
    double k;

    if (d == 0)
        return 0;
    if (!(d <= 1e9)) /* NaN too */
        return MD_DIFF_BINS - 1;
    if (d <= 1e-9)
        return 1;
    /* d in (10^(-9 + j/4), 10^(-9 + (j + 1)/4)]: j = ceil(4 (log10 d + 9)) - 1. */
    k = ceil((log10(d) - MD_DIFF_MIN_EXP) * MD_DIFF_PER_DEC) - 1;
    if (k < 0)
        k = 0;
    if (k > MD_DIFF_DECADES * MD_DIFF_PER_DEC - 1)
        k = MD_DIFF_DECADES * MD_DIFF_PER_DEC - 1;
    return 2 + (size_t)k;
}

double md_diff_hist_bound(size_t i)
{
    if (i == 0)
        return 0;
    if (i >= MD_DIFF_BINS - 1)
        return INFINITY;
    return pow(10.0, MD_DIFF_MIN_EXP + (double)(i - 1) / MD_DIFF_PER_DEC);
}

void md_diff_hist_add(struct md_diff_hist *h, double diff)
{
    double d = fabs(diff);

    h->bins[diff_bin(d)]++;
    h->count++;
    if (!isfinite(d)) {
        h->nonfinite++;
        return;
    }
    h->sum += d;
    if (d > h->max)
        h->max = d;
}

void md_diff_hist_merge(struct md_diff_hist *into, const struct md_diff_hist *h)
{
    size_t i;

    for (i = 0; i < MD_DIFF_BINS; i++)
        into->bins[i] += h->bins[i];
    into->count += h->count;
    into->nonfinite += h->nonfinite;
    into->sum += h->sum;
    if (h->max > into->max)
        into->max = h->max;
}

double md_diff_hist_quantile(const struct md_diff_hist *h, double q)
{
    double rank;
    double cum = 0;
    size_t i;

    if (h->count == 0 || !(q >= 0 && q <= 1))
        return NAN;
    rank = q * (double)h->count;
    for (i = 0; i < MD_DIFF_BINS; i++) {
        double n = (double)h->bins[i];
        double lo;
        double hi;
        double v;

        if (n == 0 || cum + n < rank) {
            cum += n;
            continue;
        }
        if (i == 0)
            return 0;
        if (i == MD_DIFF_BINS - 1)
            return h->max > 1e9 ? h->max : INFINITY;
        hi = md_diff_hist_bound(i);
        lo = i == 1 ? hi / 10.0 : md_diff_hist_bound(i - 1);
        v = lo * pow(hi / lo, (rank - cum) / n);
        return v < h->max ? v : h->max;
    }
    return h->max;
}

double md_diff_hist_mean(const struct md_diff_hist *h)
{
    uint64_t finite = h->count - h->nonfinite;

    return finite > 0 ? h->sum / (double)finite : NAN;
}

/* ---- the registry -------------------------------------------------------- */

struct entry {
    struct md_compare_pair p;
    uint64_t touched; /* the registry's seq at the last record: the lowest goes first */
};

struct md_compare {
    pthread_mutex_t lock; /* guards everything below */
    struct entry **e;     /* sorted by model, a, b */
    size_t n;
    uint64_t seq;
};

struct md_compare *md_compare_new(void)
{
    struct md_compare *c = md_xcalloc(1, sizeof(*c));

    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void md_compare_free(struct md_compare *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->n; i++)
        free(c->e[i]);
    free(c->e);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int cmp_key(const struct md_compare_pair *p, const char *model, int64_t a, int64_t b)
{
    int d = strcmp(p->model, model);

    if (d != 0)
        return d;
    if (p->a != a)
        return p->a < a ? -1 : 1;
    if (p->b != b)
        return p->b < b ? -1 : 1;
    return 0;
}

/* Where (model, a, b) is or would go. */
static size_t lower_bound(const struct md_compare *c, const char *model, int64_t a, int64_t b)
{
    size_t lo = 0;
    size_t hi = c->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (cmp_key(&c->e[mid]->p, model, a, b) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Drops the pair updated longest ago (under lock; c->n > 0). */
static void evict(struct md_compare *c)
{
    size_t old = 0;
    size_t i;

    for (i = 1; i < c->n; i++)
        if (c->e[i]->touched < c->e[old]->touched)
            old = i;
    free(c->e[old]);
    memmove(c->e + old, c->e + old + 1, (c->n - old - 1) * sizeof(struct entry *));
    c->n--;
}

/* The pair of s, made when new (under lock); NULL for a model name too long to keep. */
static struct entry *pair_of(struct md_compare *c, const struct md_compare_sample *s)
{
    struct entry *e;
    size_t pos;

    if (strlen(s->model) >= sizeof(e->p.model))
        return NULL;
    pos = lower_bound(c, s->model, s->a, s->b);
    if (pos < c->n && cmp_key(&c->e[pos]->p, s->model, s->a, s->b) == 0)
        return c->e[pos];
    if (c->n == MD_COMPARE_PAIRS_MAX) {
        evict(c);
        pos = lower_bound(c, s->model, s->a, s->b);
    }
    e = md_xcalloc(1, sizeof(*e));
    (void)snprintf(e->p.model, sizeof(e->p.model), "%s", s->model); /* fits: checked */
    e->p.a = s->a;
    e->p.b = s->b;
    c->e = md_xrealloc(c->e, (c->n + 1) * sizeof(struct entry *));
    memmove(c->e + pos + 1, c->e + pos, (c->n - pos) * sizeof(struct entry *));
    c->e[pos] = e;
    c->n++;
    return e;
}

/* The bucket of md_hist_bounds_s that holds ns. */
static size_t latency_bucket(uint64_t ns)
{
    double s = (double)ns / 1e9;
    size_t i = 0;

    while (i < MD_HIST_BUCKETS && s > md_hist_bounds_s[i])
        i++;
    return i;
}

static void record_side(struct md_compare_side *side, int code, uint64_t ns)
{
    side->requests++;
    if (code != MD_OK) {
        side->errors++;
        return;
    }
    side->latency[latency_bucket(ns)]++;
    side->latency_sum_ns += ns;
}

void md_compare_record(struct md_compare *c, const struct md_compare_sample *s)
{
    struct entry *e;

    pthread_mutex_lock(&c->lock);
    e = pair_of(c, s);
    if (e == NULL) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    e->touched = ++c->seq;
    e->p.labels = s->labels;
    e->p.requests++;
    record_side(&e->p.side[0], s->code_a, s->ns_a);
    record_side(&e->p.side[1], s->code_b, s->ns_b);
    if (s->code_a == MD_OK && s->code_b == MD_OK) {
        e->p.compared++;
        e->p.rows += s->rows;
        if (s->labels)
            e->p.agree += s->agree;
        if (s->diff != NULL)
            md_diff_hist_merge(&e->p.diff, s->diff);
    }
    pthread_mutex_unlock(&c->lock);
}

size_t md_compare_snapshot(struct md_compare *c, const char *model, struct md_compare_pair *out,
                           size_t max)
{
    size_t n = 0;
    size_t i;

    pthread_mutex_lock(&c->lock);
    for (i = model != NULL ? lower_bound(c, model, INT64_MIN, INT64_MIN) : 0; i < c->n; i++) {
        if (model != NULL && strcmp(c->e[i]->p.model, model) != 0)
            break;
        if (n < max)
            out[n] = c->e[i]->p;
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* a - b, or a when the count went back. */
static uint64_t since(uint64_t a, uint64_t b)
{
    return a >= b ? a - b : a;
}

static void side_delta(const struct md_compare_side *a, const struct md_compare_side *b,
                       struct md_compare_side *out)
{
    size_t i;

    out->requests = since(a->requests, b->requests);
    out->errors = since(a->errors, b->errors);
    for (i = 0; i <= MD_HIST_BUCKETS; i++)
        out->latency[i] = since(a->latency[i], b->latency[i]);
    out->latency_sum_ns = since(a->latency_sum_ns, b->latency_sum_ns);
}

void md_compare_pair_delta(const struct md_compare_pair *after,
                           const struct md_compare_pair *before, struct md_compare_pair *out)
{
    struct md_compare_pair d = *after;
    size_t i;

    if (before != NULL) {
        d.requests = since(after->requests, before->requests);
        d.compared = since(after->compared, before->compared);
        d.rows = since(after->rows, before->rows);
        d.agree = since(after->agree, before->agree);
        for (i = 0; i < MD_DIFF_BINS; i++)
            d.diff.bins[i] = since(after->diff.bins[i], before->diff.bins[i]);
        d.diff.count = since(after->diff.count, before->diff.count);
        d.diff.nonfinite = since(after->diff.nonfinite, before->diff.nonfinite);
        d.diff.sum = after->diff.sum >= before->diff.sum ? after->diff.sum - before->diff.sum
                                                         : after->diff.sum;
        side_delta(&after->side[0], &before->side[0], &d.side[0]);
        side_delta(&after->side[1], &before->side[1], &d.side[1]);
    }
    *out = d;
}

void md_compare_foreach(struct md_compare *c,
                        void (*fn)(void *ctx, const struct md_compare_pair *p), void *ctx)
{
    size_t i;

    pthread_mutex_lock(&c->lock);
    for (i = 0; i < c->n; i++)
        fn(ctx, &c->e[i]->p);
    pthread_mutex_unlock(&c->lock);
}

/* ---- JSON ----------------------------------------------------------------- */

/* "name":v to six significant digits (statistics, not data), or null when v is not finite. */
static void put_num(struct md_buf *b, const char *name, double v)
{
    if (isfinite(v))
        md_buf_printf(b, "\"%s\":%.6g", name, v);
    else
        md_buf_printf(b, "\"%s\":null", name);
}

static void put_side(struct md_buf *b, const char *name, const struct md_compare_side *s)
{
    md_buf_printf(b, "\"%s\":{\"requests\":%llu,\"errors\":%llu,", name,
                  (unsigned long long)s->requests, (unsigned long long)s->errors);
    put_num(b, "error_rate", s->requests > 0 ? (double)s->errors / (double)s->requests : NAN);
    md_buf_putc(b, ',');
    put_num(b, "latency_p50_s", md_hist_quantile(s->latency, 0.5));
    md_buf_putc(b, ',');
    put_num(b, "latency_p99_s", md_hist_quantile(s->latency, 0.99));
    md_buf_putc(b, '}');
}

static void put_pair(struct md_buf *b, const struct md_compare_pair *p)
{
    const struct md_diff_hist *d = &p->diff;

    md_buf_printf(b,
                  "{\"a\":\"%lld\",\"b\":\"%lld\",\"requests\":%llu,\"compared\":%llu,"
                  "\"rows\":%llu,\"agree\":%llu,",
                  (long long)p->a, (long long)p->b, (unsigned long long)p->requests,
                  (unsigned long long)p->compared, (unsigned long long)p->rows,
                  (unsigned long long)p->agree);
    put_num(b, "agreement", p->labels && p->rows > 0 ? (double)p->agree / (double)p->rows : NAN);
    md_buf_printf(b, ",\"abs_diff\":{\"count\":%llu,", (unsigned long long)d->count);
    put_num(b, "mean", md_diff_hist_mean(d));
    md_buf_putc(b, ',');
    put_num(b, "p50", md_diff_hist_quantile(d, 0.5));
    md_buf_putc(b, ',');
    put_num(b, "p99", md_diff_hist_quantile(d, 0.99));
    md_buf_putc(b, ',');
    put_num(b, "max", d->count > 0 ? d->max : NAN);
    md_buf_puts(b, "},\"sides\":{");
    put_side(b, "a", &p->side[0]);
    md_buf_putc(b, ',');
    put_side(b, "b", &p->side[1]);
    md_buf_puts(b, "}}");
}

int md_compare_json(struct md_compare *c, const char *model, struct md_buf *b)
{
    size_t i;
    size_t k = 0;

    md_buf_puts(b, "{\"model\":");
    md_buf_json_str(b, model, strlen(model));
    md_buf_puts(b, ",\"pairs\":[");
    pthread_mutex_lock(&c->lock);
    for (i = lower_bound(c, model, INT64_MIN, INT64_MIN); i < c->n; i++) {
        if (strcmp(c->e[i]->p.model, model) != 0)
            break;
        if (k++ > 0)
            md_buf_putc(b, ',');
        put_pair(b, &c->e[i]->p);
    }
    pthread_mutex_unlock(&c->lock);
    md_buf_puts(b, "]}");
    return md_buf_error(b);
}
