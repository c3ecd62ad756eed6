/* SPDX-License-Identifier: MIT */
/*
 * dataq.c: the figures of data quality, their per-minute buckets, the
 * registry of versions that holds them, the classes of refusals, and the
 * readers: /metrics, the API's JSON and the named metrics. The registry is
 * an array sorted by model and version under one mutex, taken when a
 * version loads or goes and when a reader reads, never per request.
 */
#include "watch/dataq.h"

#include "util/mem.h"
#include "watch/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define NF (MD_DATAQ_FEATURES + 1) /* feature slots: the tracked ones, then "_other" */
#define NL (MD_DATAQ_LABELS + 1)   /* label slots likewise */
#define NS (MD_DATAQ_SCORE_MAX + 1)

#define LOAD(x)   atomic_load_explicit(&(x), memory_order_relaxed)
#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)

/* The score histogram's upper bounds: P(labels[1]) in steps of 0.05. */
static const double prob_bounds[] = {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                                     0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0};
/* A regression's value: signed decades. */
static const double value_bounds[] = {-1e4, -1e3, -100, -10, -1, 0, 1, 10, 100, 1e3, 1e4, 1e5, 1e6};

_Static_assert(MD_ARRAY_LEN(prob_bounds) <= MD_DATAQ_SCORE_MAX, "bounds fit");
_Static_assert(MD_ARRAY_LEN(value_bounds) <= MD_DATAQ_SCORE_MAX, "bounds fit");

static const char *const reason_names[MD_DQ_REASONS] = {
    "missing",       "out_of_range", "wrong_type", "unknown_category", "bad_shape",
    "unknown_input", "bad_key",      "too_large",  "malformed",        "other",
};

const char *md_dataq_reason_name(enum md_dataq_reason r)
{
    return (unsigned)r < MD_DQ_REASONS ? reason_names[r] : "other";
}

/* One minute's figures, or the totals: every field a relaxed atomic. */
struct counts {
    _Atomic int64_t minute; /* a bucket: the wall-clock minute it counts (0: none yet) */
    _Atomic uint64_t requests;
    _Atomic uint64_t rejected;
    _Atomic uint64_t reasons[MD_DQ_REASONS];
    _Atomic uint64_t rows;
    _Atomic uint64_t missing[NF];
    _Atomic uint64_t out_of_range[NF];
    _Atomic uint64_t unseen[NF];
    _Atomic uint64_t predicted;
    _Atomic uint64_t labels[NL];
    _Atomic uint64_t score[NS];
    _Atomic uint64_t score_sum; /* a double's bits, added by compare-and-swap */
};

/* The same figures as plain numbers, for a reader: totals or a window's sum. */
struct view {
    uint64_t requests;
    uint64_t rejected;
    uint64_t reasons[MD_DQ_REASONS];
    uint64_t rows;
    uint64_t missing[NF];
    uint64_t out_of_range[NF];
    uint64_t unseen[NF];
    uint64_t predicted;
    uint64_t labels[NL];
    uint64_t score[NS];
    double score_sum;
};

struct md_dataq_version {
    struct counts total;
    struct counts minutes[MD_DATAQ_MINUTES];
    _Atomic uint64_t feature_reasons[NF][MD_DQ_REASONS]; /* totals: refusals naming a feature */
    _Atomic int64_t current; /* the minute of the bucket updates go to */
    pthread_mutex_t turn;    /* taken to clear the bucket of a new minute */

    /* read-only once made */
    char *model;
    int64_t number;
    size_t n_features; /* the contract's */
    size_t n_tracked;  /* min(n_features, MD_DATAQ_FEATURES) */
    char *features[MD_DATAQ_FEATURES];
    uint8_t flags[NF]; /* F_* of each tracked feature; of "_other": any of the rest's */
    size_t n_labels;   /* the contract's (0: regression) */
    size_t n_labels_tracked;
    char *labels[MD_DATAQ_LABELS];
    bool regression;
    const double *bounds; /* the score histogram's */
    size_t n_bounds;

    /* the registry's lock */
    unsigned attached;    /* loaded instances using it; 0: retired */
    int64_t retired_ms;   /* wall clock when it was retired */
    uint64_t retired_seq; /* when it was retired, in order: a lower one went earlier */
    bool superseded;      /* a reload with other features made fresh figures for the version */
    bool forget;          /* archived: dropped once retired */
};

struct md_dataq {
    pthread_mutex_t lock; /* guards the array and the entries' registry fields */
    struct md_dataq_version **v;
    size_t n;
    uint64_t seq; /* the last retired_seq given */
};

/* ---- clock and buckets ------------------------------------------------------ */

static int64_t now_minute(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec / 60;
}

static void counts_clear(struct counts *c)
{
    size_t i;

    atomic_store_explicit(&c->requests, 0, memory_order_relaxed);
    atomic_store_explicit(&c->rejected, 0, memory_order_relaxed);
    for (i = 0; i < MD_DQ_REASONS; i++)
        atomic_store_explicit(&c->reasons[i], 0, memory_order_relaxed);
    atomic_store_explicit(&c->rows, 0, memory_order_relaxed);
    for (i = 0; i < NF; i++) {
        atomic_store_explicit(&c->missing[i], 0, memory_order_relaxed);
        atomic_store_explicit(&c->out_of_range[i], 0, memory_order_relaxed);
        atomic_store_explicit(&c->unseen[i], 0, memory_order_relaxed);
    }
    atomic_store_explicit(&c->predicted, 0, memory_order_relaxed);
    for (i = 0; i < NL; i++)
        atomic_store_explicit(&c->labels[i], 0, memory_order_relaxed);
    for (i = 0; i < NS; i++)
        atomic_store_explicit(&c->score[i], 0, memory_order_relaxed);
    atomic_store_explicit(&c->score_sum, 0, memory_order_relaxed); /* the bits of 0.0 */
}

/* The bucket of minute m, cleared when it counted an older minute: once a minute. */
static struct counts *turn(struct md_dataq_version *v, int64_t m)
{
    struct counts *b = &v->minutes[m % MD_DATAQ_MINUTES];
    int64_t cur;

    pthread_mutex_lock(&v->turn);
    cur = atomic_load_explicit(&v->current, memory_order_relaxed);
    if (m > cur) {
        if (atomic_load_explicit(&b->minute, memory_order_relaxed) != m) {
            counts_clear(b);
            atomic_store_explicit(&b->minute, m, memory_order_release);
        }
        atomic_store_explicit(&v->current, m, memory_order_release);
    } else if (atomic_load_explicit(&b->minute, memory_order_relaxed) != m) {
        /* A clock a little behind another thread's: the current minute's bucket. */
        b = &v->minutes[cur % MD_DATAQ_MINUTES];
    }
    pthread_mutex_unlock(&v->turn);
    return b;
}

void md_dataq_begin(struct md_dataq_version *v, struct md_dataq_update *u)
{
    int64_t m = now_minute();

    u->v = v;
    if (MD_LIKELY(m == atomic_load_explicit(&v->current, memory_order_acquire)))
        u->bucket = &v->minutes[m % MD_DATAQ_MINUTES];
    else
        u->bucket = turn(v, m);
}

/* ---- updates ------------------------------------------------------------------ */

void md_dataq_request(const struct md_dataq_update *u, uint64_t rows)
{
    struct counts *b = u->bucket;

    ADD(u->v->total.requests, 1);
    ADD(b->requests, 1);
    if (rows > 0) {
        ADD(u->v->total.rows, rows);
        ADD(b->rows, rows);
    }
}

/* The slot of feature f: its own, or "_other". */
static size_t slot(size_t f)
{
    return f < MD_DATAQ_FEATURES ? f : MD_DATAQ_FEATURES;
}

void md_dataq_missing(const struct md_dataq_update *u, size_t f, uint64_t n)
{
    struct counts *b = u->bucket;

    ADD(u->v->total.missing[slot(f)], n);
    ADD(b->missing[slot(f)], n);
}

void md_dataq_out_of_range(const struct md_dataq_update *u, size_t f, uint64_t n)
{
    struct counts *b = u->bucket;

    ADD(u->v->total.out_of_range[slot(f)], n);
    ADD(b->out_of_range[slot(f)], n);
}

void md_dataq_rejected(const struct md_dataq_update *u, enum md_dataq_reason r, size_t f)
{
    struct counts *b = u->bucket;

    if ((unsigned)r >= MD_DQ_REASONS)
        r = MD_DQ_OTHER;
    ADD(u->v->total.rejected, 1);
    ADD(b->rejected, 1);
    ADD(u->v->total.reasons[r], 1);
    ADD(b->reasons[r], 1);
    if (f == SIZE_MAX)
        return;
    ADD(u->v->feature_reasons[slot(f)][r], 1);
    if (r == MD_DQ_UNKNOWN_CATEGORY) {
        ADD(u->v->total.unseen[slot(f)], 1);
        ADD(b->unseen[slot(f)], 1);
    }
}

void md_dataq_outputs_clear(const struct md_dataq_version *v, struct md_dataq_outputs *o)
{
    o->rows = 0;
    memset(o->labels, 0, sizeof(o->labels[0]) * (v->n_labels_tracked + 1));
    memset(o->score, 0, sizeof(o->score[0]) * (v->n_bounds + 1));
    o->score_sum = 0;
}

/* The score bucket of x; NaN passes no bound: the +Inf bucket. */
static size_t score_bucket(const struct md_dataq_version *v, double x)
{
    size_t i = 0;

    while (i < v->n_bounds && !(x <= v->bounds[i]))
        i++;
    return i;
}

static size_t label_slot(const struct md_dataq_version *v, size_t label)
{
    return label < v->n_labels_tracked ? label : v->n_labels_tracked;
}

void md_dataq_outputs_add(const struct md_dataq_version *v, struct md_dataq_outputs *o,
                          size_t label, double x)
{
    o->rows++;
    if (!v->regression)
        o->labels[label_slot(v, label)]++;
    o->score[score_bucket(v, x)]++;
    if (isfinite(x))
        o->score_sum += x;
}

static void add_double(_Atomic uint64_t *bits, double x)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    uint64_t want;
    double d;

    do {
        memcpy(&d, &old, sizeof(d));
        d += x;
        memcpy(&want, &d, sizeof(want));
    } while (!atomic_compare_exchange_weak_explicit(bits, &old, want, memory_order_relaxed,
                                                    memory_order_relaxed));
}

static double load_double(const _Atomic uint64_t *bits)
{
    uint64_t u = atomic_load_explicit(bits, memory_order_relaxed);
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

void md_dataq_predicted(const struct md_dataq_update *u, const struct md_dataq_outputs *o)
{
    struct md_dataq_version *v = u->v;
    struct counts *b = u->bucket;
    size_t i;

    if (o->rows == 0)
        return;
    ADD(v->total.predicted, o->rows);
    ADD(b->predicted, o->rows);
    if (!v->regression) {
        for (i = 0; i <= v->n_labels_tracked; i++) {
            if (o->labels[i] != 0) {
                ADD(v->total.labels[i], o->labels[i]);
                ADD(b->labels[i], o->labels[i]);
            }
        }
    }
    for (i = 0; i <= v->n_bounds; i++) {
        if (o->score[i] != 0) {
            ADD(v->total.score[i], o->score[i]);
            ADD(b->score[i], o->score[i]);
        }
    }
    if (o->score_sum != 0) {
        add_double(&v->total.score_sum, o->score_sum);
        add_double(&b->score_sum, o->score_sum);
    }
}

void md_dataq_predicted_one(const struct md_dataq_update *u, size_t label, double x)
{
    struct md_dataq_version *v = u->v;
    struct counts *b = u->bucket;
    size_t i = score_bucket(v, x);

    ADD(v->total.predicted, 1);
    ADD(b->predicted, 1);
    if (!v->regression) {
        ADD(v->total.labels[label_slot(v, label)], 1);
        ADD(b->labels[label_slot(v, label)], 1);
    }
    ADD(v->total.score[i], 1);
    ADD(b->score[i], 1);
    if (isfinite(x) && x != 0) {
        add_double(&v->total.score_sum, x);
        add_double(&b->score_sum, x);
    }
}

/* ---- classes of refusals -------------------------------------------------- */

/* The index of the feature named name[0..len) in v, its slot past the cap; SIZE_MAX: none. */
static size_t feature_index(const struct md_dataq_version *v, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < v->n_tracked; i++)
        if (strlen(v->features[i]) == len && memcmp(v->features[i], name, len) == 0)
            return i;
    /* Past the cap the name may be one of the untracked features: "_other". */
    return v->n_features > MD_DATAQ_FEATURES ? MD_DATAQ_FEATURES : SIZE_MAX;
}

/* The quoted name after prefix at the start of msg ("feature 'x'"), into *name and *len. */
static bool quoted_after(const char *msg, const char *prefix, const char **name, size_t *len)
{
    size_t n = strlen(prefix);
    const char *end;

    if (strncmp(msg, prefix, n) != 0)
        return false;
    end = strchr(msg + n, '\'');
    if (end == NULL)
        return false;
    *name = msg + n;
    *len = (size_t)(end - *name);
    return true;
}

static bool has(const char *msg, const char *part)
{
    return strstr(msg, part) != NULL;
}

/* The class of what follows a feature's or an input's name. */
static enum md_dataq_reason value_class(const char *what)
{
    if (has(what, "unknown category"))
        return MD_DQ_UNKNOWN_CATEGORY;
    if (has(what, "unknown input") || has(what, "duplicate") || has(what, "already exists"))
        return MD_DQ_UNKNOWN_INPUT;
    if (has(what, "for required feature") || has(what, "missing required"))
        return MD_DQ_MISSING;
    if (has(what, "below min") || has(what, "above max") || has(what, "outside the") ||
        has(what, "out of range") || has(what, "not allowed (allow_nan"))
        return MD_DQ_OUT_OF_RANGE;
    if (has(what, "shape") || has(what, "rows") || has(what, "elements") || has(what, "values for"))
        return MD_DQ_BAD_SHAPE;
    if (has(what, "not 0 or 1") || has(what, "not an integer") || has(what, "datatype") ||
        has(what, "expected ") || has(what, "invalid number") || has(what, "expected type"))
        return MD_DQ_WRONG_TYPE;
    return MD_DQ_OTHER;
}

enum md_dataq_reason md_dataq_classify(const struct md_dataq_version *v, const char *msg,
                                       bool decode, size_t *feature)
{
    const char *name;
    size_t len;
    enum md_dataq_reason r;

    *feature = SIZE_MAX;
    if (msg == NULL)
        return decode ? MD_DQ_MALFORMED : MD_DQ_OTHER;
    if (has(msg, "too large"))
        return MD_DQ_TOO_LARGE;
    if (has(msg, "unknown feature '"))
        return MD_DQ_UNKNOWN_INPUT; /* TF Serving's row naming no feature of the contract */
    if (quoted_after(msg, "feature '", &name, &len) || quoted_after(msg, "input '", &name, &len) ||
        quoted_after(msg, "inputs '", &name, &len) ||
        (strstr(msg, " feature '") != NULL &&
         quoted_after(strstr(msg, " feature '") + 1, "feature '", &name, &len))) {
        r = value_class(name + len);
        if (r == MD_DQ_UNKNOWN_INPUT && has(name + len, "unknown input"))
            return r; /* it names no feature of the contract */
        *feature = feature_index(v, name, len);
        return r == MD_DQ_OTHER && decode ? MD_DQ_MALFORMED : r;
    }
    if (strncmp(msg, "key '", 5) == 0)
        return MD_DQ_BAD_KEY;
    if (has(msg, "; expected features"))
        return has(msg, "no inputs") ? MD_DQ_MISSING : MD_DQ_UNKNOWN_INPUT;
    return decode ? MD_DQ_MALFORMED : MD_DQ_OTHER;
}

/* ---- the registry --------------------------------------------------------------- */

struct md_dataq *md_dataq_new(void)
{
    struct md_dataq *dq = md_xcalloc(1, sizeof(*dq));

    pthread_mutex_init(&dq->lock, NULL);
    return dq;
}

static void version_free(struct md_dataq_version *v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < v->n_tracked; i++)
        free(v->features[i]);
    for (i = 0; i < v->n_labels_tracked; i++)
        free(v->labels[i]);
    free(v->model);
    pthread_mutex_destroy(&v->turn);
    free(v);
}

void md_dataq_free(struct md_dataq *dq)
{
    size_t i;

    if (dq == NULL)
        return;
    for (i = 0; i < dq->n; i++)
        version_free(dq->v[i]);
    free(dq->v);
    pthread_mutex_destroy(&dq->lock);
    free(dq);
}

/* Whether v was made for the same features and labels as shape. */
static bool same_shape(const struct md_dataq_version *v, const struct md_dataq_shape *s,
                       const uint8_t *flags)
{
    size_t i;

    if (v->n_features != s->n_features || v->regression != s->regression ||
        v->n_labels != (s->regression ? 0 : s->n_labels))
        return false;
    for (i = 0; i < v->n_tracked; i++)
        if (strcmp(v->features[i], s->features[i]) != 0 || v->flags[i] != flags[i])
            return false;
    for (i = 0; i < v->n_labels_tracked; i++)
        if (strcmp(v->labels[i], s->labels[i]) != 0)
            return false;
    return true;
}

static struct md_dataq_version *version_new(const struct md_dataq_shape *s, const uint8_t *flags)
{
    struct md_dataq_version *v = md_xcalloc(1, sizeof(*v));
    size_t i;

    /* Zeroed: every bucket counts no minute yet (minute 0 is in 1970). */
    pthread_mutex_init(&v->turn, NULL);
    v->model = md_xstrdup(s->model);
    v->number = s->version;
    v->n_features = s->n_features;
    v->n_tracked = s->n_features < MD_DATAQ_FEATURES ? s->n_features : MD_DATAQ_FEATURES;
    for (i = 0; i < v->n_tracked; i++)
        v->features[i] = md_xstrdup(s->features[i]);
    memcpy(v->flags, flags, NF);
    v->regression = s->regression;
    v->n_labels = s->regression ? 0 : s->n_labels;
    v->n_labels_tracked = v->n_labels < MD_DATAQ_LABELS ? v->n_labels : MD_DATAQ_LABELS;
    for (i = 0; i < v->n_labels_tracked; i++)
        v->labels[i] = md_xstrdup(s->labels[i]);
    v->bounds = s->regression ? value_bounds : prob_bounds;
    v->n_bounds = s->regression ? MD_ARRAY_LEN(value_bounds) : MD_ARRAY_LEN(prob_bounds);
    v->attached = 1;
    return v;
}

static void remove_at(struct md_dataq *dq, size_t i)
{
    version_free(dq->v[i]);
    memmove(dq->v + i, dq->v + i + 1, (dq->n - i - 1) * sizeof(struct md_dataq_version *));
    dq->n--;
}

/* The retired figures retired longest ago, of model (NULL: of any); dq->n when none. */
static size_t oldest_retired(const struct md_dataq *dq, const char *model, size_t *count)
{
    size_t best = dq->n;
    size_t i;

    *count = 0;
    for (i = 0; i < dq->n; i++) {
        const struct md_dataq_version *v = dq->v[i];

        if (v->attached > 0 || (model != NULL && strcmp(v->model, model) != 0))
            continue;
        (*count)++;
        if (best == dq->n || v->retired_seq < dq->v[best]->retired_seq)
            best = i;
    }
    return best;
}

/* Drops the retired figures past their time or their counts (under the lock). */
static void sweep(struct md_dataq *dq, int64_t now_ms)
{
    size_t count;
    size_t i;

    for (i = dq->n; i-- > 0;) {
        const struct md_dataq_version *v = dq->v[i];

        if (v->attached == 0 &&
            (v->superseded || v->forget || now_ms - v->retired_ms >= (int64_t)MD_DATAQ_RETIRED_MS))
            remove_at(dq, i);
    }
    for (i = oldest_retired(dq, NULL, &count); count > MD_DATAQ_RETIRED_MAX;
         i = oldest_retired(dq, NULL, &count))
        remove_at(dq, i);
}

struct md_dataq_version *md_dataq_attach(struct md_dataq *dq, const struct md_dataq_shape *shape)
{
    uint8_t flags[NF];
    struct md_dataq_version *v;
    size_t i;

    memset(flags, 0, sizeof(flags));
    for (i = 0; i < shape->n_features && shape->kinds != NULL; i++)
        flags[slot(i)] |= shape->kinds[i];
    pthread_mutex_lock(&dq->lock);
    sweep(dq, md_wall_ms());
    for (i = 0; i < dq->n; i++) {
        v = dq->v[i];
        if (v->superseded || v->number != shape->version || strcmp(v->model, shape->model) != 0)
            continue;
        if (same_shape(v, shape, flags)) {
            v->attached++;
            v->forget = false;
            pthread_mutex_unlock(&dq->lock);
            return v;
        }
        v->superseded = true;
    }
    v = version_new(shape, flags);
    /* Kept in order of model, then version: readers list them so. */
    for (i = 0; i < dq->n; i++) {
        int c = strcmp(dq->v[i]->model, shape->model);

        if (c > 0 || (c == 0 && dq->v[i]->number > shape->version))
            break;
    }
    dq->v = md_xrealloc(dq->v, (dq->n + 1) * sizeof(struct md_dataq_version *));
    memmove(dq->v + i + 1, dq->v + i, (dq->n - i) * sizeof(struct md_dataq_version *));
    dq->v[i] = v;
    dq->n++;
    pthread_mutex_unlock(&dq->lock);
    return v;
}

void md_dataq_detach(struct md_dataq *dq, struct md_dataq_version *v)
{
    if (v == NULL)
        return;
    pthread_mutex_lock(&dq->lock);
    if (v->attached > 0 && --v->attached == 0) {
        /* v may go below: keep its model's name for the count. */
        char *model = md_xstrdup(v->model);
        size_t count;
        size_t i;

        v->retired_ms = md_wall_ms();
        v->retired_seq = ++dq->seq;
        for (i = oldest_retired(dq, model, &count); count > MD_DATAQ_RETIRED_PER_MODEL;
             i = oldest_retired(dq, model, &count))
            remove_at(dq, i);
        free(model);
    }
    sweep(dq, md_wall_ms());
    pthread_mutex_unlock(&dq->lock);
}

void md_dataq_forget(struct md_dataq *dq, const char *model, int64_t version)
{
    size_t i;

    pthread_mutex_lock(&dq->lock);
    for (i = dq->n; i-- > 0;) {
        if (dq->v[i]->number != version || strcmp(dq->v[i]->model, model) != 0)
            continue;
        if (dq->v[i]->attached == 0)
            remove_at(dq, i);
        else
            dq->v[i]->forget = true;
    }
    pthread_mutex_unlock(&dq->lock);
}

bool md_dataq_has_model(struct md_dataq *dq, const char *model)
{
    bool found = false;
    size_t i;

    pthread_mutex_lock(&dq->lock);
    for (i = 0; i < dq->n && !found; i++)
        found = strcmp(dq->v[i]->model, model) == 0;
    pthread_mutex_unlock(&dq->lock);
    return found;
}

/* ---- views ---------------------------------------------------------------------- */

static void view_add(struct view *o, const struct counts *c)
{
    size_t i;

    o->requests += LOAD(c->requests);
    o->rejected += LOAD(c->rejected);
    for (i = 0; i < MD_DQ_REASONS; i++)
        o->reasons[i] += LOAD(c->reasons[i]);
    o->rows += LOAD(c->rows);
    for (i = 0; i < NF; i++) {
        o->missing[i] += LOAD(c->missing[i]);
        o->out_of_range[i] += LOAD(c->out_of_range[i]);
        o->unseen[i] += LOAD(c->unseen[i]);
    }
    o->predicted += LOAD(c->predicted);
    for (i = 0; i < NL; i++)
        o->labels[i] += LOAD(c->labels[i]);
    for (i = 0; i < NS; i++)
        o->score[i] += LOAD(c->score[i]);
    o->score_sum += load_double(&c->score_sum);
}

/* The minutes a window of window_ms covers: the current one and those before it. */
static int64_t window_minutes(int64_t window_ms)
{
    return (window_ms + 59999) / 60000;
}

/* v's totals (window_ms 0) or the sum of the buckets of the window ending at now_ms. */
static void view_of(const struct md_dataq_version *v, int64_t window_ms, int64_t now_ms,
                    struct view *o)
{
    int64_t now = now_ms / 60000;
    int64_t k;

    if (window_ms <= 0) {
        view_add(o, &v->total);
        return;
    }
    for (k = 0; k < window_minutes(window_ms) && k < MD_DATAQ_MINUTES && now - k >= 0; k++) {
        const struct counts *b = &v->minutes[(now - k) % MD_DATAQ_MINUTES];

        if (atomic_load_explicit(&b->minute, memory_order_acquire) == now - k)
            view_add(o, b);
    }
}

/* ---- /metrics --------------------------------------------------------------------- */

static void put_label_value(struct md_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            md_buf_putc(b, '\\');
        if (*s == '\n')
            md_buf_puts(b, "\\n");
        else
            md_buf_putc(b, *s);
    }
}

/* name{model="..",version=".."[,key="value"]...: the caller closes with "} v\n". */
static void put_head(struct md_buf *b, const char *name, const struct md_dataq_version *v)
{
    md_buf_puts(b, name);
    md_buf_puts(b, "{model=\"");
    put_label_value(b, v->model);
    md_buf_printf(b, "\",version=\"%lld\"", (long long)v->number);
}

static void put_label(struct md_buf *b, const char *key, const char *value)
{
    md_buf_printf(b, ",%s=\"", key);
    put_label_value(b, value);
    md_buf_putc(b, '"');
}

static void put_end(struct md_buf *b, uint64_t n)
{
    md_buf_printf(b, "} %llu\n", (unsigned long long)n);
}

static const char *feature_name(const struct md_dataq_version *v, size_t i)
{
    return i < v->n_tracked ? v->features[i] : MD_DATAQ_OTHER;
}

/* Whether slot i stands for any feature (the tracked ones, "_other" past the cap). */
static bool slot_used(const struct md_dataq_version *v, size_t i)
{
    return i < v->n_tracked || (i == MD_DATAQ_FEATURES && v->n_features > MD_DATAQ_FEATURES);
}

static void put_feature_family(struct md_buf *b, const struct md_dataq_version *v, const char *name,
                               const _Atomic uint64_t *c, uint8_t need)
{
    size_t i;

    for (i = 0; i < NF; i++) {
        if (!slot_used(v, i) || (need != 0 && (v->flags[i] & need) == 0))
            continue;
        put_head(b, name, v);
        put_label(b, "feature", feature_name(v, i));
        put_end(b, LOAD(c[i]));
    }
}

static void put_score(struct md_buf *b, const struct md_dataq_version *v)
{
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= v->n_bounds; i++) {
        cum += LOAD(v->total.score[i]);
        put_head(b, "modeld_prediction_score_bucket", v);
        if (i < v->n_bounds)
            md_buf_printf(b, ",le=\"%g\"", v->bounds[i]);
        else
            md_buf_puts(b, ",le=\"+Inf\"");
        put_end(b, cum);
    }
    put_head(b, "modeld_prediction_score_sum", v);
    md_buf_printf(b, "} %.17g\n", load_double(&v->total.score_sum));
    put_head(b, "modeld_prediction_score_count", v);
    put_end(b, cum);
}

static const struct {
    const char *name;
    const char *type;
    const char *help;
} families[] = {
    {"modeld_data_requests_total", "counter",
     "Inference requests that reached a model version, whatever their outcome (data quality)."},
    {"modeld_data_rows_total", "counter", "Rows whose values as sent were checked."},
    {"modeld_data_missing_total", "counter",
     "Rows in which a feature was missing: null, absent, or NaN where not allowed."},
    {"modeld_data_out_of_range_total", "counter",
     "Rows in which a feature's value lay outside the contract's min and max."},
    {"modeld_data_unseen_category_total", "counter",
     "Requests refused for a category the contract does not list, by feature."},
    {"modeld_data_rejected_total", "counter",
     "Requests refused by validation, by reason (missing, out_of_range, wrong_type, "
     "unknown_category, bad_shape, unknown_input, bad_key, too_large, malformed, other)."},
    {"modeld_data_feature_rejected_total", "counter",
     "Requests refused by validation whose reason names a feature, by feature and reason."},
    {"modeld_predicted_label_total", "counter", "Rows predicted, by predicted label."},
    {"modeld_prediction_score", "histogram",
     "Per row predicted: P(labels[1]) for a classification, the value for a regression."},
};

static void put_version(struct md_buf *b, const struct md_dataq_version *v, size_t fam)
{
    size_t i;
    size_t r;

    switch (fam) {
    case 0:
        put_head(b, families[0].name, v);
        put_end(b, LOAD(v->total.requests));
        break;
    case 1:
        put_head(b, families[1].name, v);
        put_end(b, LOAD(v->total.rows));
        break;
    case 2:
        put_feature_family(b, v, families[2].name, v->total.missing, 0);
        break;
    case 3:
        put_feature_family(b, v, families[3].name, v->total.out_of_range, MD_DQ_RANGED);
        break;
    case 4:
        put_feature_family(b, v, families[4].name, v->total.unseen, MD_DQ_CATEGORICAL);
        break;
    case 5:
        for (r = 0; r < MD_DQ_REASONS; r++) {
            put_head(b, families[5].name, v);
            put_label(b, "reason", reason_names[r]);
            put_end(b, LOAD(v->total.reasons[r]));
        }
        break;
    case 6:
        for (i = 0; i < NF; i++) {
            for (r = 0; r < MD_DQ_REASONS; r++) {
                uint64_t n = LOAD(v->feature_reasons[i][r]);

                if (n == 0)
                    continue;
                put_head(b, families[6].name, v);
                put_label(b, "feature", feature_name(v, i));
                put_label(b, "reason", reason_names[r]);
                put_end(b, n);
            }
        }
        break;
    case 7:
        for (i = 0; i < v->n_labels_tracked; i++) {
            put_head(b, families[7].name, v);
            put_label(b, "label", v->labels[i]);
            put_end(b, LOAD(v->total.labels[i]));
        }
        if (v->n_labels > MD_DATAQ_LABELS) {
            put_head(b, families[7].name, v);
            put_label(b, "label", MD_DATAQ_OTHER);
            put_end(b, LOAD(v->total.labels[MD_DATAQ_LABELS]));
        }
        break;
    case 8:
        put_score(b, v);
        break;
    default:
        break;
    }
}

void md_dataq_prom(struct md_dataq *dq, struct md_buf *b)
{
    size_t f;
    size_t i;

    pthread_mutex_lock(&dq->lock);
    sweep(dq, md_wall_ms());
    for (f = 0; f < MD_ARRAY_LEN(families); f++) {
        md_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                      families[f].name, families[f].type);
        for (i = 0; i < dq->n; i++)
            if (!dq->v[i]->superseded)
                put_version(b, dq->v[i], f);
    }
    pthread_mutex_unlock(&dq->lock);
}

/* ---- JSON ------------------------------------------------------------------------- */

static void put_rate(struct md_buf *b, uint64_t n, uint64_t of)
{
    if (of == 0)
        md_buf_puts(b, "null");
    else
        md_buf_printf(b, "%.17g", (double)n / (double)of);
}

static void put_str(struct md_buf *b, const char *s)
{
    md_buf_json_str(b, s, strlen(s));
}

static void json_features(struct md_buf *b, const struct md_dataq_version *v, const struct view *w,
                          bool totals)
{
    bool first = true;
    size_t i;
    size_t r;

    md_buf_puts(b, ",\"features\":[");
    for (i = 0; i < NF; i++) {
        /* The rows of values a slot stands for: one per row, more for "_other". */
        uint64_t values;

        if (!slot_used(v, i))
            continue;
        values = w->rows * (i < MD_DATAQ_FEATURES ? 1 : v->n_features - MD_DATAQ_FEATURES);
        md_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
        first = false;
        put_str(b, feature_name(v, i));
        if (i == MD_DATAQ_FEATURES)
            md_buf_printf(b, ",\"features\":%zu", v->n_features - MD_DATAQ_FEATURES);
        md_buf_printf(b, ",\"missing\":%llu,\"missing_rate\":", (unsigned long long)w->missing[i]);
        put_rate(b, w->missing[i], values);
        if (v->flags[i] & MD_DQ_RANGED) {
            md_buf_printf(b, ",\"out_of_range\":%llu,\"out_of_range_rate\":",
                          (unsigned long long)w->out_of_range[i]);
            put_rate(b, w->out_of_range[i], values);
        }
        if (v->flags[i] & MD_DQ_CATEGORICAL) {
            md_buf_printf(b, ",\"unseen_categories\":%llu,\"unseen_category_rate\":",
                          (unsigned long long)w->unseen[i]);
            put_rate(b, w->unseen[i], w->requests);
        }
        if (totals) {
            bool any = false;

            md_buf_puts(b, ",\"rejected\":{");
            for (r = 0; r < MD_DQ_REASONS; r++) {
                uint64_t n = LOAD(v->feature_reasons[i][r]);

                if (n == 0)
                    continue;
                md_buf_printf(b, "%s\"%s\":%llu", any ? "," : "", reason_names[r],
                              (unsigned long long)n);
                any = true;
            }
            md_buf_putc(b, '}');
        }
        md_buf_putc(b, '}');
    }
    md_buf_putc(b, ']');
}

static void json_predictions(struct md_buf *b, const struct md_dataq_version *v,
                             const struct view *w)
{
    size_t i;

    md_buf_printf(b, ",\"predictions\":{\"rows\":%llu", (unsigned long long)w->predicted);
    if (!v->regression) {
        md_buf_puts(b, ",\"labels\":{");
        for (i = 0; i < v->n_labels_tracked; i++) {
            if (i > 0)
                md_buf_putc(b, ',');
            put_str(b, v->labels[i]);
            md_buf_printf(b, ":%llu", (unsigned long long)w->labels[i]);
        }
        if (v->n_labels > MD_DATAQ_LABELS)
            md_buf_printf(b, ",\"%s\":%llu", MD_DATAQ_OTHER,
                          (unsigned long long)w->labels[MD_DATAQ_LABELS]);
        md_buf_puts(b, "},\"rates\":{");
        for (i = 0; i < v->n_labels_tracked; i++) {
            if (i > 0)
                md_buf_putc(b, ',');
            put_str(b, v->labels[i]);
            md_buf_putc(b, ':');
            put_rate(b, w->labels[i], w->predicted);
        }
        md_buf_putc(b, '}');
    }
    md_buf_puts(b, ",\"score\":{\"of\":");
    if (v->regression || v->n_labels_tracked < 2) {
        put_str(b, "prediction");
    } else {
        char of[MD_SIGNAL_NAME_MAX + 300];

        (void)snprintf(of, sizeof(of), "P(%s)", v->labels[1]); /* a long label is cut short */
        put_str(b, of);
    }
    md_buf_puts(b, ",\"mean\":");
    if (w->predicted == 0)
        md_buf_puts(b, "null");
    else
        md_buf_printf(b, "%.17g", w->score_sum / (double)w->predicted);
    md_buf_puts(b, ",\"histogram\":[");
    for (i = 0; i <= v->n_bounds; i++) {
        if (i < v->n_bounds)
            md_buf_printf(b, "%s{\"le\":%g,", i ? "," : "", v->bounds[i]);
        else
            md_buf_puts(b, ",{\"le\":\"+Inf\",");
        md_buf_printf(b, "\"count\":%llu}", (unsigned long long)w->score[i]);
    }
    md_buf_puts(b, "]}}");
}

static void json_version(struct md_buf *b, const struct md_dataq_version *v, int64_t window_ms,
                         int64_t now_ms)
{
    struct view w;
    size_t r;

    memset(&w, 0, sizeof(w));
    view_of(v, window_ms, now_ms, &w);
    md_buf_printf(b, "{\"version\":%lld,\"live\":%s,\"requests\":%llu,\"rejected\":%llu,",
                  (long long)v->number, v->attached > 0 ? "true" : "false",
                  (unsigned long long)w.requests, (unsigned long long)w.rejected);
    md_buf_puts(b, "\"rejected_rate\":");
    put_rate(b, w.rejected, w.requests);
    md_buf_puts(b, ",\"rejected_by_reason\":{");
    for (r = 0; r < MD_DQ_REASONS; r++)
        md_buf_printf(b, "%s\"%s\":%llu", r ? "," : "", reason_names[r],
                      (unsigned long long)w.reasons[r]);
    md_buf_printf(b, "},\"rows\":%llu,\"features_tracked\":%zu,\"features_untracked\":%zu",
                  (unsigned long long)w.rows, v->n_tracked, v->n_features - v->n_tracked);
    json_features(b, v, &w, window_ms <= 0);
    json_predictions(b, v, &w);
    md_buf_putc(b, '}');
}

int md_dataq_json(struct md_dataq *dq, const char *model, int64_t version, int64_t window_ms,
                  int64_t now_ms, struct md_buf *b, struct md_err *err)
{
    bool first = true;
    size_t i;

    if (window_ms > (int64_t)MD_DATAQ_MINUTES * 60000)
        return md_err_set(err, MD_EINVAL, "window: data quality keeps %d minutes",
                          MD_DATAQ_MINUTES);
    pthread_mutex_lock(&dq->lock);
    sweep(dq, now_ms);
    if (version > 0) {
        for (i = 0; i < dq->n; i++)
            if (!dq->v[i]->superseded && dq->v[i]->number == version &&
                strcmp(dq->v[i]->model, model) == 0)
                break;
        if (i == dq->n) {
            pthread_mutex_unlock(&dq->lock);
            return md_err_set(err, MD_ENOTFOUND, "model '%s' has no data quality for version %lld",
                              model, (long long)version);
        }
    }
    md_buf_puts(b, "{\"model\":");
    put_str(b, model);
    if (window_ms > 0)
        md_buf_printf(b, ",\"window_s\":%lld", (long long)(window_ms / 1000));
    md_buf_printf(b, ",\"features_max\":%d,\"versions\":[", MD_DATAQ_FEATURES);
    for (i = 0; i < dq->n; i++) {
        const struct md_dataq_version *v = dq->v[i];

        if (v->superseded || strcmp(v->model, model) != 0 || (version > 0 && v->number != version))
            continue;
        if (!first)
            md_buf_putc(b, ',');
        first = false;
        json_version(b, v, window_ms, now_ms);
    }
    pthread_mutex_unlock(&dq->lock);
    md_buf_puts(b, "]}");
    return md_buf_error(b);
}

/* ---- named metrics ---------------------------------------------------------------- */

enum sig_kind { S_MISSING, S_OUT_OF_RANGE, S_UNSEEN, S_REJECTED, S_PREDICTED, S_SCORE };

static const struct md_signal_info sig_infos[] = {
    {"missing_rate", "ratio", "feature",
     "rows in which the feature was missing (null, absent, NaN where not allowed), of rows"},
    {"out_of_range_rate", "ratio", "feature",
     "rows in which the feature lay outside the contract's range, of rows"},
    {"unseen_category_rate", "ratio", "feature",
     "requests refused for a category of the feature the contract does not list, of requests"},
    {"rejected_rate", "ratio", NULL, "requests refused by validation, of requests"},
    {"predicted_rate", "ratio", "label", "rows predicted as the label, of rows predicted"},
    {"score_mean", "score", NULL,
     "mean P(labels[1]) of the rows predicted (the predicted value for a regression)"},
};

static size_t label_index(const struct md_dataq_version *v, const char *name)
{
    size_t i;

    for (i = 0; i < v->n_labels_tracked; i++)
        if (strcmp(v->labels[i], name) == 0)
            return i;
    return SIZE_MAX;
}

static size_t tracked_feature(const struct md_dataq_version *v, const char *name)
{
    size_t i;

    for (i = 0; i < v->n_tracked; i++)
        if (strcmp(v->features[i], name) == 0)
            return i;
    return SIZE_MAX;
}

static int signal_value(struct md_dataq *dq, enum sig_kind kind, const struct md_signal_query *q,
                        struct md_signal_value *out, struct md_err *err)
{
    uint64_t n = 0;
    uint64_t of = 0;
    double sum = 0;
    bool model = false;
    bool arg = q->arg == NULL;
    size_t i;

    if (q->route != NULL && q->route[0] != '\0')
        return md_err_set(err, MD_EINVAL, "route: data quality is kept per version, not per route");
    if (q->window_ms > (int64_t)MD_DATAQ_MINUTES * 60000)
        return md_err_set(err, MD_EINVAL, "window: data quality keeps %d minutes",
                          MD_DATAQ_MINUTES);
    pthread_mutex_lock(&dq->lock);
    for (i = 0; i < dq->n; i++) {
        const struct md_dataq_version *v = dq->v[i];
        struct view w;
        size_t k = SIZE_MAX;

        if (v->superseded || strcmp(v->model, q->model) != 0 ||
            (q->version > 0 && v->number != q->version))
            continue;
        model = true;
        if (kind == S_MISSING || kind == S_OUT_OF_RANGE || kind == S_UNSEEN)
            k = tracked_feature(v, q->arg);
        else if (kind == S_PREDICTED)
            k = label_index(v, q->arg);
        if (q->arg != NULL && k == SIZE_MAX)
            continue;
        arg = true;
        memset(&w, 0, sizeof(w));
        view_of(v, q->window_ms, q->now_ms, &w);
        switch (kind) {
        case S_MISSING:
            n += w.missing[k];
            of += w.rows;
            break;
        case S_OUT_OF_RANGE:
            n += w.out_of_range[k];
            of += w.rows;
            break;
        case S_UNSEEN:
            n += w.unseen[k];
            of += w.requests;
            break;
        case S_REJECTED:
            n += w.rejected;
            of += w.requests;
            break;
        case S_PREDICTED:
            n += w.labels[k];
            of += w.predicted;
            break;
        case S_SCORE:
            sum += w.score_sum;
            of += w.predicted;
            break;
        }
    }
    pthread_mutex_unlock(&dq->lock);
    if (!model)
        return md_err_set(err, MD_ENOTFOUND, "model '%s'%s has no data quality", q->model,
                          q->version > 0 ? " at that version" : "");
    if (!arg)
        return md_err_set(err, MD_ENOTFOUND, "model '%s' has no %s '%s' that data quality tracks",
                          q->model, kind == S_PREDICTED ? "label" : "feature", q->arg);
    out->samples = of;
    if (of > 0)
        out->value = kind == S_SCORE ? sum / (double)of : (double)n / (double)of;
    return MD_OK;
}

#define SIGNAL_FN(fname, kind)                                                                     \
    static int fname(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,      \
                     struct md_err *err)                                                           \
    {                                                                                              \
        return signal_value(ctx, kind, q, out, err);                                               \
    }
SIGNAL_FN(sig_missing, S_MISSING)
SIGNAL_FN(sig_out_of_range, S_OUT_OF_RANGE)
SIGNAL_FN(sig_unseen, S_UNSEEN)
SIGNAL_FN(sig_rejected, S_REJECTED)
SIGNAL_FN(sig_predicted, S_PREDICTED)
SIGNAL_FN(sig_score, S_SCORE)

int md_dataq_signals(struct md_dataq *dq, struct md_signals *s, struct md_err *err)
{
    static const md_signal_fn fns[] = {sig_missing,  sig_out_of_range, sig_unseen,
                                       sig_rejected, sig_predicted,    sig_score};
    size_t i;
    int rc;

    _Static_assert(MD_ARRAY_LEN(fns) == MD_ARRAY_LEN(sig_infos), "one function per signal");
    for (i = 0; i < MD_ARRAY_LEN(sig_infos); i++) {
        rc = md_signals_add(s, &sig_infos[i], fns[i], dq, err);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}
