/* SPDX-License-Identifier: MIT */
/*
 * outcomes.c: the quality statistics kept as feedback flows (outcomes.h):
 * a table of models, each with its class names and its series (version,
 * route, shadow), each series two rings of buckets of sums, and the
 * quality signals read from them.
 */
#include "watch/outcomes.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define MINUTE_MS ((int64_t)60000)
#define HOUR_MS   ((int64_t)3600000)
#define K         ((size_t)MD_OUTCOMES_CLASSES)

/* One bucket: sums over the rows predicted in one minute or hour. */
struct bucket {
    int64_t start; /* index of the minute or hour (ms / its length) + 1; 0: empty */
    uint64_t predictions;
    uint64_t labelled;
    uint64_t cm[K * K];
    uint64_t binary_n;
    double log_loss;
    double brier;
    uint64_t pos[MD_QUALITY_AUC_BINS];
    uint64_t neg[MD_QUALITY_AUC_BINS];
    struct md_quality_sums reg;
    uint64_t reward_n;
    double reward;
    uint64_t rating_n;
    double rating;
};

struct series {
    int64_t version;
    char *route;
    bool shadow;
    struct bucket minutes[MD_OUTCOMES_MINUTES];
    struct bucket hours[MD_OUTCOMES_HOURS];
};

struct model {
    char *name;
    size_t k;
    char classes[K][MD_OUTCOMES_CLASS_MAX];
    struct series **series;
    size_t n_series;
    uint64_t pending;
    uint64_t orphaned;
};

struct md_outcomes {
    pthread_mutex_t mu;
    struct model **models;
    size_t n_models;
};

struct md_outcomes *md_outcomes_new(void)
{
    struct md_outcomes *o = md_xcalloc(1, sizeof(*o));

    pthread_mutex_init(&o->mu, NULL);
    return o;
}

void md_outcomes_free(struct md_outcomes *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n_models; i++) {
        struct model *m = o->models[i];

        for (size_t j = 0; j < m->n_series; j++) {
            free(m->series[j]->route);
            free(m->series[j]);
        }
        free(m->series);
        free(m->name);
        free(m);
    }
    free(o->models);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

/* ---------------------------------------------------------------- lookups */

static struct model *find_model(struct md_outcomes *o, const char *name, bool create)
{
    struct model *m;

    for (size_t i = 0; i < o->n_models; i++)
        if (strcmp(o->models[i]->name, name) == 0)
            return o->models[i];
    if (!create)
        return NULL;
    m = md_xcalloc(1, sizeof(*m));
    m->name = md_xstrdup(name);
    o->models = md_xrealloc(o->models, (o->n_models + 1) * sizeof(struct model *));
    o->models[o->n_models++] = m;
    return m;
}

static struct series *find_series(struct model *m, int64_t version, const char *route, bool shadow)
{
    struct series *s;

    for (size_t i = 0; i < m->n_series; i++) {
        s = m->series[i];
        if (s->version == version && s->shadow == shadow && strcmp(s->route, route) == 0)
            return s;
    }
    s = md_xcalloc(1, sizeof(*s));
    s->version = version;
    s->route = md_xstrdup(route);
    s->shadow = shadow;
    m->series = md_xrealloc(m->series, (m->n_series + 1) * sizeof(struct series *));
    m->series[m->n_series++] = s;
    return s;
}

/* The index of a class name, added when new; -1 past MD_OUTCOMES_CLASSES. */
static int class_of(struct model *m, const char *name)
{
    for (size_t i = 0; i < m->k; i++)
        if (strncmp(m->classes[i], name, MD_OUTCOMES_CLASS_MAX - 1) == 0)
            return (int)i;
    if (m->k == K)
        return -1;
    (void)snprintf(m->classes[m->k], MD_OUTCOMES_CLASS_MAX, "%s", name);
    return (int)m->k++;
}

/* The bucket of ring (n buckets of len_ms) for time at_ms, reset when it held an older
 * one; NULL when at_ms is older than the ring or ahead of now. */
static struct bucket *bucket_at(struct bucket *ring, size_t n, int64_t len_ms, int64_t at_ms,
                                int64_t now_ms)
{
    int64_t idx = at_ms / len_ms + 1;
    int64_t now_idx = now_ms / len_ms + 1;
    struct bucket *b;

    if (at_ms < 0 || idx > now_idx + 1 || idx <= now_idx - (int64_t)n)
        return NULL;
    b = &ring[(size_t)idx % n];
    if (b->start != idx) {
        if (b->start > idx)
            return NULL;
        memset(b, 0, sizeof(*b));
        b->start = idx;
    }
    return b;
}

/* ------------------------------------------------------------------ adding */

/* Adds (sign 1) or takes back (sign -1) an outcome: the counts are unsigned and
 * wrap, so adding (uint64_t)-1 takes one back. */
static void add_outcome(struct bucket *b, const struct md_store_outcome *c, int tc, int pc,
                        int bin_y, double sign)
{
    int64_t s = (int64_t)sign;

    if (c->kind == MD_FEEDBACK_LABEL) {
        b->labelled += (uint64_t)s;
        if (tc >= 0 && pc >= 0)
            b->cm[tc * K + pc] += (uint64_t)s;
        if (bin_y >= 0 && isfinite(c->score)) {
            double p = c->score < MD_QUALITY_EPS         ? MD_QUALITY_EPS
                       : c->score > 1.0 - MD_QUALITY_EPS ? 1.0 - MD_QUALITY_EPS
                                                         : c->score;
            double d = c->score - bin_y;

            b->binary_n += (uint64_t)s;
            b->log_loss += sign * (bin_y ? -log(p) : -log(1.0 - p));
            b->brier += sign * d * d;
            if (bin_y)
                b->pos[md_quality_auc_bin(c->score)] += (uint64_t)s;
            else
                b->neg[md_quality_auc_bin(c->score)] += (uint64_t)s;
        }
    } else if (c->kind == MD_FEEDBACK_VALUE) {
        b->labelled += (uint64_t)s;
        if (isfinite(c->score) && isfinite(c->value)) {
            double e = c->score - c->value;

            b->reg.n += (uint64_t)s;
            b->reg.abs_err += sign * fabs(e);
            b->reg.sq_err += sign * e * e;
            b->reg.y += sign * c->value;
            b->reg.y2 += sign * c->value * c->value;
        }
    } else if (c->kind == MD_FEEDBACK_REWARD) {
        b->reward_n += (uint64_t)s;
        b->reward += sign * c->value;
    } else if (c->kind == MD_FEEDBACK_RATING) {
        b->rating_n += (uint64_t)s;
        b->rating += sign * c->value;
    }
}

void md_outcomes_apply(struct md_outcomes *o, const struct md_store_outcome *c,
                       const char *positive, int64_t now_ms)
{
    struct model *m;
    struct series *s;
    struct bucket *b;
    int tc = -1;
    int pc = -1;
    int bin_y = -1;
    double sign = c->sign < 0 ? -1.0 : 1.0;

    if (c->model == NULL)
        return;
    pthread_mutex_lock(&o->mu);
    m = find_model(o, c->model, true);
    s = find_series(m, c->version, c->route != NULL ? c->route : "", c->shadow);
    if (c->kind == MD_FEEDBACK_LABEL && c->label != NULL) {
        tc = class_of(m, c->label);
        pc = c->predicted != NULL ? class_of(m, c->predicted) : -1;
        if (positive != NULL)
            bin_y = strcmp(c->label, positive) == 0 ? 1 : 0;
    }
    b = bucket_at(s->minutes, MD_OUTCOMES_MINUTES, MINUTE_MS, c->at_ms, now_ms);
    if (b != NULL)
        add_outcome(b, c, tc, pc, bin_y, sign);
    b = bucket_at(s->hours, MD_OUTCOMES_HOURS, HOUR_MS, c->at_ms, now_ms);
    if (b != NULL)
        add_outcome(b, c, tc, pc, bin_y, sign);
    pthread_mutex_unlock(&o->mu);
}

/* ------------------------------------------------------------------ batches */

struct md_outcomes_batch {
    struct md_store_outcome *items; /* strings owned (cast back to free them) */
    size_t n;
    size_t cap;
};

struct md_outcomes_batch *md_outcomes_batch_new(void)
{
    return md_xcalloc(1, sizeof(struct md_outcomes_batch));
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? md_xstrdup(s) : NULL;
}

static void batch_clear(struct md_outcomes_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free((char *)b->items[i].model);
        free((char *)b->items[i].route);
        free((char *)b->items[i].predicted);
        free((char *)b->items[i].label);
    }
    b->n = 0;
}

void md_outcomes_batch_reset(struct md_outcomes_batch *b)
{
    batch_clear(b);
}

void md_outcomes_batch_free(struct md_outcomes_batch *b)
{
    if (b == NULL)
        return;
    batch_clear(b);
    free(b->items);
    free(b);
}

void md_outcomes_batch_add(void *batch, const struct md_store_outcome *c)
{
    struct md_outcomes_batch *b = batch;
    struct md_store_outcome *x;

    if (b->n == b->cap) {
        b->cap = b->cap == 0 ? 16 : b->cap * 2;
        b->items = md_xrealloc(b->items, b->cap * sizeof(*b->items));
    }
    x = &b->items[b->n++];
    *x = *c;
    x->model = dup_or_null(c->model);
    x->route = dup_or_null(c->route);
    x->predicted = dup_or_null(c->predicted);
    x->label = dup_or_null(c->label);
}

void md_outcomes_batch_apply(struct md_outcomes *o, struct md_outcomes_batch *b,
                             bool (*positive)(void *ctx, const char *model, char *buf, size_t n),
                             void *ctx, int64_t now_ms)
{
    char pos[MD_OUTCOMES_CLASS_MAX];
    const char *last = NULL; /* the model pos was asked for */
    bool binary = false;

    for (size_t i = 0; i < b->n; i++) {
        const struct md_store_outcome *c = &b->items[i];

        if (c->model == NULL)
            continue;
        if (last == NULL || strcmp(last, c->model) != 0) {
            binary = positive != NULL && positive(ctx, c->model, pos, sizeof(pos));
            last = c->model;
        }
        md_outcomes_apply(o, c, binary ? pos : NULL, now_ms);
    }
    batch_clear(b);
}

void md_outcomes_count(struct md_outcomes *o, const char *model, int64_t version, const char *route,
                       bool shadow, int64_t minute_ms, uint64_t n, int64_t now_ms)
{
    struct series *s;
    struct bucket *b;

    pthread_mutex_lock(&o->mu);
    s = find_series(find_model(o, model, true), version, route != NULL ? route : "", shadow);
    b = bucket_at(s->minutes, MD_OUTCOMES_MINUTES, MINUTE_MS, minute_ms, now_ms);
    if (b != NULL)
        b->predictions += n;
    b = bucket_at(s->hours, MD_OUTCOMES_HOURS, HOUR_MS, minute_ms, now_ms);
    if (b != NULL)
        b->predictions += n;
    pthread_mutex_unlock(&o->mu);
}

void md_outcomes_waiting(struct md_outcomes *o, const char *model, uint64_t pending,
                         uint64_t orphaned)
{
    struct model *m;

    pthread_mutex_lock(&o->mu);
    m = find_model(o, model, true);
    m->pending = pending;
    m->orphaned = orphaned;
    pthread_mutex_unlock(&o->mu);
}

/* ----------------------------------------------------------------- windows */

static void sum_bucket(struct md_outcomes_sum *out, const struct bucket *b)
{
    out->predictions += b->predictions;
    out->labelled += b->labelled;
    for (size_t i = 0; i < K * K; i++)
        out->cm[i] += b->cm[i];
    out->binary_n += b->binary_n;
    out->log_loss += b->log_loss;
    out->brier += b->brier;
    for (size_t i = 0; i < MD_QUALITY_AUC_BINS; i++) {
        out->pos[i] += b->pos[i];
        out->neg[i] += b->neg[i];
    }
    out->reg.n += b->reg.n;
    out->reg.abs_err += b->reg.abs_err;
    out->reg.sq_err += b->reg.sq_err;
    out->reg.y += b->reg.y;
    out->reg.y2 += b->reg.y2;
    out->reward_n += b->reward_n;
    out->reward += b->reward;
    out->rating_n += b->rating_n;
    out->rating += b->rating;
}

static void sum_ring(struct md_outcomes_sum *out, const struct bucket *ring, size_t n,
                     int64_t len_ms, int64_t window_ms, int64_t now_ms)
{
    int64_t now_idx = now_ms / len_ms + 1;
    int64_t first = (now_ms - window_ms) / len_ms + 1; /* the bucket the window starts in */

    if (first < now_idx - (int64_t)n + 1)
        first = now_idx - (int64_t)n + 1;
    for (size_t i = 0; i < n; i++) {
        const struct bucket *b = &ring[i];

        if (b->start != 0 && b->start >= first && b->start <= now_idx + 1)
            sum_bucket(out, b);
    }
}

bool md_outcomes_window(struct md_outcomes *o, const char *model, int64_t version,
                        const char *route, int64_t window_ms, int64_t now_ms,
                        struct md_outcomes_sum *out)
{
    struct model *m;
    bool any_route = route == NULL || route[0] == '\0';
    bool shadows = version != 0 || (!any_route && strcmp(route, "shadow") == 0);

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&o->mu);
    m = find_model(o, model, false);
    if (m == NULL) {
        pthread_mutex_unlock(&o->mu);
        return false;
    }
    out->k = m->k;
    memcpy(out->classes, m->classes, sizeof(out->classes));
    out->pending = m->pending;
    out->orphaned = m->orphaned;
    for (size_t i = 0; i < m->n_series; i++) {
        const struct series *s = m->series[i];

        if ((version != 0 && s->version != version) ||
            (!any_route && strcmp(s->route, route) != 0) || (s->shadow && !shadows))
            continue;
        if (window_ms <= MD_OUTCOMES_MINUTES * MINUTE_MS)
            sum_ring(out, s->minutes, MD_OUTCOMES_MINUTES, MINUTE_MS, window_ms, now_ms);
        else
            sum_ring(out, s->hours, MD_OUTCOMES_HOURS, HOUR_MS, window_ms, now_ms);
    }
    pthread_mutex_unlock(&o->mu);
    return true;
}

void md_outcomes_foreach(struct md_outcomes *o,
                         void (*fn)(void *ctx, const char *model, int64_t version,
                                    const char *route, bool shadow),
                         void *ctx)
{
    /* Copied out first: fn may call md_outcomes_window. */
    struct entry {
        char *model;
        int64_t version;
        char *route;
        bool shadow;
    } *list = NULL;
    size_t n = 0;

    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < o->n_models; i++)
        for (size_t j = 0; j < o->models[i]->n_series; j++) {
            const struct series *s = o->models[i]->series[j];

            list = md_xrealloc(list, (n + 1) * sizeof(*list));
            list[n].model = md_xstrdup(o->models[i]->name);
            list[n].version = s->version;
            list[n].route = md_xstrdup(s->route);
            list[n].shadow = s->shadow;
            n++;
        }
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; i < n; i++) {
        fn(ctx, list[i].model, list[i].version, list[i].route, list[i].shadow);
        free(list[i].model);
        free(list[i].route);
    }
    free(list);
}

void md_outcomes_models(struct md_outcomes *o, void (*fn)(void *ctx, const char *model), void *ctx)
{
    char **names = NULL;
    size_t n;

    pthread_mutex_lock(&o->mu);
    n = o->n_models;
    if (n > 0)
        names = md_xcalloc(n, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = md_xstrdup(o->models[i]->name);
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; i < n; i++) {
        fn(ctx, names[i]);
        free(names[i]);
    }
    free(names);
}

/* ----------------------------------------------------------------- metrics */

static int class_index(const struct md_outcomes_sum *s, const char *name)
{
    for (size_t i = 0; i < s->k; i++)
        if (strcmp(s->classes[i], name) == 0)
            return (int)i;
    return -1;
}

/* Per-class figures (precision, recall or f1) of class arg, or the macro F1 without one. */
static void class_metric(const struct md_outcomes_sum *s, char which, const char *arg,
                         struct md_signal_value *out)
{
    uint64_t cm[K * K];
    double p[K], r[K], f[K];
    uint64_t sup[K];
    struct md_quality_classes q = {.precision = p, .recall = r, .f1 = f, .support = sup};
    int c;

    /* The sums keep rows of K; the arithmetic wants s->k by s->k. */
    for (size_t t = 0; t < s->k; t++)
        for (size_t j = 0; j < s->k; j++)
            cm[t * s->k + j] = s->cm[t * K + j];
    md_quality_classes(cm, s->k, &q);
    out->samples = q.n;
    if (q.n == 0)
        return;
    if (arg == NULL) {
        out->value = which == 'a' ? q.accuracy : q.macro_f1;
        return;
    }
    c = class_index(s, arg);
    if (c < 0)
        return;
    out->value = which == 'p' ? p[c] : which == 'r' ? r[c] : f[c];
}

static double mean_of(double sum, uint64_t n)
{
    return n > 0 ? sum / (double)n : NAN;
}

int md_outcomes_metric(const struct md_outcomes_sum *s, const char *name, const char *arg,
                       struct md_signal_value *out, struct md_err *err)
{
    struct md_quality_regression reg;

    out->value = NAN;
    out->samples = 0;
    if (arg != NULL && arg[0] == '\0')
        arg = NULL;
    if (strcmp(name, "accuracy") == 0) {
        class_metric(s, 'a', NULL, out);
    } else if (strcmp(name, "precision") == 0 || strcmp(name, "recall") == 0 ||
               strcmp(name, "f1") == 0) {
        if (arg == NULL && name[0] != 'f')
            return md_err_set(err, MD_EINVAL, "metric '%s' needs a class", name);
        class_metric(s, name[0], arg, out);
    } else if (strcmp(name, "log_loss") == 0 || strcmp(name, "brier") == 0) {
        out->samples = s->binary_n;
        out->value = mean_of(name[0] == 'l' ? s->log_loss : s->brier, s->binary_n);
    } else if (strcmp(name, "roc_auc") == 0) {
        out->samples = s->binary_n;
        out->value = md_quality_roc_auc_hist(s->pos, s->neg, MD_QUALITY_AUC_BINS);
    } else if (strcmp(name, "mae") == 0 || strcmp(name, "rmse") == 0 || strcmp(name, "r2") == 0) {
        md_quality_regression_sums(&s->reg, &reg);
        out->samples = reg.n;
        out->value = name[0] == 'm' ? reg.mae : name[1] == 'm' ? reg.rmse : reg.r2;
    } else if (strcmp(name, "mean_reward") == 0) {
        out->samples = s->reward_n;
        out->value = mean_of(s->reward, s->reward_n);
    } else if (strcmp(name, "mean_rating") == 0) {
        out->samples = s->rating_n;
        out->value = mean_of(s->rating, s->rating_n);
    } else if (strcmp(name, "label_coverage") == 0) {
        out->samples = s->predictions;
        out->value = s->predictions > 0 ? (double)s->labelled / (double)s->predictions : NAN;
    } else if (strcmp(name, "feedback_orphaned") == 0) {
        out->samples = s->orphaned;
        out->value = (double)s->orphaned;
    } else {
        return md_err_set(err, MD_EINVAL, "metric '%s' is not a quality metric", name);
    }
    return MD_OK;
}

/* ----------------------------------------------------------------- signals */

static int signal_fn(void *ctx, const struct md_signal_query *q, struct md_signal_value *out,
                     struct md_err *err)
{
    struct md_outcomes *o = ctx;
    struct md_outcomes_sum *s = md_xcalloc(1, sizeof(*s)); /* large for a stack */
    char name[MD_SIGNAL_NAME_MAX];
    const char *colon = strchr(q->metric, ':');
    int rc = MD_OK;

    (void)snprintf(name, sizeof(name), "%.*s",
                   (int)(colon != NULL ? (size_t)(colon - q->metric) : strlen(q->metric)),
                   q->metric);
    out->value = NAN;
    out->samples = 0;
    if (md_outcomes_window(o, q->model, q->version, q->route, q->window_ms, q->now_ms, s))
        rc = md_outcomes_metric(s, name, q->arg, out, err);
    free(s);
    return rc;
}

static const struct md_signal_info quality_signals[] = {
    {"accuracy", "ratio", NULL, "share of labelled rows predicted right"},
    {"precision", "ratio", "class", "of the rows predicted the class, the share right"},
    {"recall", "ratio", "class", "of the rows of the class, the share predicted so"},
    {"f1", "ratio", "class?", "F1 of the class; without one, the macro F1 over the classes"},
    {"log_loss", "score", NULL, "binary: mean log loss of P(labels[1])"},
    {"roc_auc", "ratio", NULL, "binary: ROC AUC of P(labels[1]), from 100-bin histograms"},
    {"brier", "score", NULL, "binary: mean squared error of P(labels[1])"},
    {"mae", "score", NULL, "regression: mean absolute error"},
    {"rmse", "score", NULL, "regression: root mean squared error"},
    {"r2", "score", NULL, "regression: coefficient of determination"},
    {"mean_reward", "score", NULL, "mean reward of the rows rewarded"},
    {"mean_rating", "score", NULL, "mean rating of the rows rated"},
    {"label_coverage", "ratio", NULL, "share of predictions with a label or value"},
    {"feedback_orphaned", "count", NULL,
     "feedback items whose row never came within the horizon (in all)"},
};

int md_outcomes_register(struct md_outcomes *o, struct md_signals *s, struct md_err *err)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(quality_signals); i++) {
        int rc = md_signals_add(s, &quality_signals[i], signal_fn, o, err);

        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}
