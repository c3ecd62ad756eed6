/* SPDX-License-Identifier: MIT */
/*
 * drift.c: a version's live window over its profile's bins (a ring of
 * per-slot count vectors) and the report that compares it with the profile.
 */
#include "watch/drift.h"
#include "watch/drift_stats.h"
#include "util/fmt.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>

struct md_drift_window {
    _Atomic long refs;
    struct md_profile *profile; /* a reference */
    struct md_drift_config cfg;
    int64_t slot_ms;                       /* window_s * 1000 / MD_DRIFT_SLOTS */
    size_t width;                          /* counters of a slot: 1 + profile->width */
    _Atomic int64_t stamp[MD_DRIFT_SLOTS]; /* the slot number each holds (now_ms / slot_ms) */
    _Atomic uint32_t *counts;              /* MD_DRIFT_SLOTS * width */
    pthread_mutex_t lock;                  /* taken only to clear a slot for a new number */
};

void md_drift_config_default(struct md_drift_config *c)
{
    c->window_s = 3600;
    c->psi_warn = 0.1;
    c->psi_alert = 0.25;
    c->alpha = 0.05;
    c->bonferroni = false;
    c->min_rows = 200;
    c->sample_rows = 256;
}

struct md_drift_window *md_drift_window_new(struct md_profile *p, const struct md_drift_config *cfg)
{
    struct md_drift_window *w = md_xcalloc(1, sizeof(*w));
    size_t i;

    atomic_init(&w->refs, 1);
    md_profile_ref(p);
    w->profile = p;
    w->cfg = *cfg;
    w->slot_ms = cfg->window_s * 1000 / MD_DRIFT_SLOTS;
    w->width = 1 + p->width;
    w->counts = md_xcalloc(MD_DRIFT_SLOTS * w->width, sizeof(*w->counts));
    for (i = 0; i < MD_DRIFT_SLOTS; i++)
        atomic_init(&w->stamp[i], -1);
    pthread_mutex_init(&w->lock, NULL);
    return w;
}

void md_drift_window_ref(struct md_drift_window *w)
{
    atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
}

void md_drift_window_unref(struct md_drift_window *w)
{
    if (w == NULL || atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&w->lock);
    md_profile_unref(w->profile);
    free(w->counts);
    free(w);
}

const struct md_profile *md_drift_window_profile(const struct md_drift_window *w)
{
    return w->profile;
}

const struct md_drift_config *md_drift_window_config(const struct md_drift_window *w)
{
    return &w->cfg;
}

_Atomic uint32_t *md_drift_window_slot(struct md_drift_window *w, int64_t now_ms)
{
    int64_t n = now_ms / w->slot_ms;
    size_t i = (size_t)(n % MD_DRIFT_SLOTS);
    _Atomic uint32_t *v = w->counts + i * w->width;

    if (MD_LIKELY(atomic_load_explicit(&w->stamp[i], memory_order_acquire) == n))
        return v;
    pthread_mutex_lock(&w->lock);
    /* A slot only moves forward: an older clock reading counts in the newer slot. */
    if (atomic_load_explicit(&w->stamp[i], memory_order_relaxed) < n) {
        size_t j;

        for (j = 0; j < w->width; j++)
            atomic_store_explicit(&v[j], 0, memory_order_relaxed);
        atomic_store_explicit(&w->stamp[i], n, memory_order_release);
    }
    pthread_mutex_unlock(&w->lock);
    return v;
}

/* ------------------------------------------------------------------ report */

static void compare(const struct md_profile_feature *f, const uint64_t *live,
                    struct md_drift_result *r)
{
    size_t k = f->n_bins + 1, i;
    uint64_t ref_rows = 0;

    r->name = f->name;
    r->kind = f->kind;
    r->live = live;
    r->rows = 0;
    for (i = 0; i < k; i++) {
        r->rows += live[i];
        ref_rows += f->counts[i];
    }
    r->missing_share = r->rows > 0 ? (double)live[f->n_bins] / (double)r->rows : NAN;
    r->ref_missing_share = ref_rows > 0 ? (double)f->counts[f->n_bins] / (double)ref_rows : NAN;
    r->psi = md_drift_psi(f->counts, live, k);
    r->js = md_drift_js(f->counts, live, k);
    if (f->kind == MD_PROFILE_NUMERIC) {
        md_drift_ks(f->counts, live, f->n_bins, &r->statistic, &r->p_value);
        r->df = 0;
    } else {
        md_drift_chi2(f->counts, live, k, &r->statistic, &r->df, &r->p_value);
    }
    r->p_adjusted = r->p_value;
    r->drifted = false;
    r->major = false;
}

/* The ordering of p-values for Holm's step-down correction. */
struct rank {
    double p;
    size_t i;
};

static int by_p(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;

    return x->p < y->p ? -1 : x->p > y->p ? 1 : (x->i > y->i) - (x->i < y->i);
}

/* p_adjusted of every feature whose test ran: Holm's step-down (each p times the tests
 * not yet passed, kept monotone) or Bonferroni's (each p times the tests). */
static int correct(struct md_drift_report *rep, bool bonferroni, struct md_err *err)
{
    struct rank *rk = md_malloc((rep->n_features + 1) * sizeof(*rk));
    double run = 0;
    size_t i, m = 0;

    if (rk == NULL)
        return md_err_set(err, MD_ENOMEM, "drift: out of memory");
    for (i = 0; i < rep->n_features; i++)
        if (!isnan(rep->features[i].p_value))
            rk[m++] = (struct rank){rep->features[i].p_value, i};
    rep->tests = m;
    qsort(rk, m, sizeof(*rk), by_p);
    for (i = 0; i < m; i++) {
        double adj = bonferroni ? (double)m * rk[i].p : (double)(m - i) * rk[i].p;

        if (adj > 1)
            adj = 1;
        if (!bonferroni && adj < run)
            adj = run;
        run = adj;
        rep->features[rk[i].i].p_adjusted = adj;
    }
    free(rk);
    return MD_OK;
}

static void judge(struct md_drift_result *r, const struct md_drift_config *cfg, bool enough)
{
    r->drifted =
        enough && !isnan(r->p_adjusted) && r->p_adjusted < cfg->alpha && r->psi >= cfg->psi_warn;
    r->major = r->drifted && r->psi >= cfg->psi_alert;
}

int md_drift_report(struct md_drift_window *w, int64_t window_ms, int64_t now_ms,
                    struct md_drift_report *rep, struct md_err *err)
{
    const struct md_profile *p = w->profile;
    int64_t n = now_ms / w->slot_ms, slots;
    uint64_t *sum;
    size_t i, j;
    int rc;

    memset(rep, 0, sizeof(*rep));
    if (window_ms <= 0 || window_ms > w->cfg.window_s * 1000)
        window_ms = w->cfg.window_s * 1000;
    slots = (window_ms + w->slot_ms - 1) / w->slot_ms;
    rep->window_ms = slots * w->slot_ms;
    sum = md_calloc(w->width, sizeof(*sum));
    rep->features = md_calloc(p->n_features + 1, sizeof(*rep->features));
    if (sum == NULL || rep->features == NULL) {
        free(sum);
        md_drift_report_release(rep);
        return md_err_set(err, MD_ENOMEM, "drift: out of memory");
    }
    for (i = 0; i < MD_DRIFT_SLOTS; i++) {
        int64_t s = atomic_load_explicit(&w->stamp[i], memory_order_acquire);
        const _Atomic uint32_t *v = w->counts + i * w->width;

        if (s < 0 || s > n || s <= n - slots)
            continue;
        for (j = 0; j < w->width; j++)
            sum[j] += atomic_load_explicit(&v[j], memory_order_relaxed);
    }
    rep->rows = sum[0];
    rep->enough = rep->rows >= w->cfg.min_rows && rep->rows > 0;
    rep->n_features = p->n_features;
    for (i = 0; i < p->n_features; i++)
        compare(&p->features[i], sum + 1 + p->features[i].offset, &rep->features[i]);
    rep->sums = sum; /* the results point into it: freed with the report */
    rc = correct(rep, w->cfg.bonferroni, err);
    if (rc != MD_OK) {
        md_drift_report_release(rep);
        return rc;
    }
    rep->score = NAN;
    for (i = 0; i < p->n_features; i++) {
        struct md_drift_result *r = &rep->features[i];

        judge(r, &w->cfg, rep->enough);
        if (!isnan(r->psi) && (isnan(rep->score) || r->psi > rep->score))
            rep->score = r->psi;
        rep->drifted += r->drifted;
    }
    rep->prediction_psi = NAN;
    rep->has_labels = p->labels.n_bins > 0;
    rep->has_scores = p->scores.n_bins > 0;
    if (rep->has_labels) {
        compare(&p->labels, sum + 1 + p->labels.offset, &rep->labels);
        rep->labels.name = "labels";
        judge(&rep->labels, &w->cfg, rep->enough);
        rep->prediction_psi = rep->labels.psi;
        rep->prediction_drifted = rep->labels.drifted;
    }
    if (rep->has_scores) {
        compare(&p->scores, sum + 1 + p->scores.offset, &rep->scores);
        rep->scores.name = "scores";
        judge(&rep->scores, &w->cfg, rep->enough);
        rep->prediction_psi = rep->scores.psi;
        rep->prediction_drifted = rep->prediction_drifted || rep->scores.drifted;
    }
    rep->verdict = !rep->enough ? "insufficient_data" : rep->drifted > 0 ? "drift" : "ok";
    return MD_OK;
}

void md_drift_report_release(struct md_drift_report *rep)
{
    free(rep->features);
    free(rep->sums);
    rep->features = NULL;
    rep->sums = NULL;
    rep->labels.live = NULL;
    rep->scores.live = NULL;
    rep->n_features = 0;
}

const struct md_drift_result *md_drift_report_feature(const struct md_drift_report *rep,
                                                      const char *name)
{
    size_t i;

    for (i = 0; i < rep->n_features; i++)
        if (strcmp(rep->features[i].name, name) == 0)
            return &rep->features[i];
    return NULL;
}

/* ------------------------------------------------------------------- JSON */

static void num(struct md_buf *b, const char *key, double v)
{
    md_buf_printf(b, ",\"%s\":", key);
    md_buf_f64(b, v, "null");
}

static void counts_json(struct md_buf *b, const char *key, const uint64_t *c, size_t k)
{
    size_t i;

    md_buf_printf(b, ",\"%s\":[", key);
    for (i = 0; i < k; i++)
        md_buf_printf(b, "%s%llu", i > 0 ? "," : "", (unsigned long long)c[i]);
    md_buf_putc(b, ']');
}

/* Each count's share of total; null throughout when total is 0. */
static void shares_json(struct md_buf *b, const char *key, const uint64_t *c, size_t k,
                        uint64_t total)
{
    size_t i;

    md_buf_printf(b, ",\"%s\":[", key);
    for (i = 0; i < k; i++) {
        if (i > 0)
            md_buf_putc(b, ',');
        md_buf_f64(b, total > 0 ? (double)c[i] / (double)total : NAN, "null");
    }
    md_buf_putc(b, ']');
}

/* The bins the result's statistics compare: the feature's value bins, then missing, with the
 * reference's counts and the window's, and their shares. */
static void histogram_json(struct md_buf *b, const struct md_drift_result *r,
                           const struct md_profile_feature *f)
{
    size_t k = f->n_bins + 1, i;
    uint64_t ref_rows = 0;

    for (i = 0; i < k; i++)
        ref_rows += f->counts[i];
    md_buf_puts(b, ",\"histogram\":{");
    if (f->kind == MD_PROFILE_NUMERIC) {
        md_buf_puts(b, "\"edges\":[");
        for (i = 0; i + 1 < f->n_bins; i++) {
            if (i > 0)
                md_buf_putc(b, ',');
            md_buf_f64(b, f->edges[i], "null");
        }
    } else {
        md_buf_puts(b, "\"categories\":[");
        for (i = 0; i + 1 < f->n_bins; i++) {
            if (i > 0)
                md_buf_putc(b, ',');
            md_buf_json_str(b, f->categories[i], f->cat_len[i]);
        }
    }
    md_buf_printf(b, "],\"reference_rows\":%llu", (unsigned long long)ref_rows);
    counts_json(b, "reference_counts", f->counts, k);
    counts_json(b, "live_counts", r->live, k);
    shares_json(b, "reference", f->counts, k, ref_rows);
    shares_json(b, "live", r->live, k, r->rows);
    md_buf_putc(b, '}');
}

static void result_json(struct md_buf *b, const struct md_drift_result *r,
                        const struct md_profile_feature *f, unsigned flags)
{
    md_buf_puts(b, "{\"name\":");
    md_buf_json_str(b, r->name, strlen(r->name));
    md_buf_printf(b, ",\"kind\":\"%s\",\"test\":\"%s\",\"bins\":%zu,\"rows\":%llu",
                  r->kind == MD_PROFILE_NUMERIC ? "numeric" : "categorical",
                  r->kind == MD_PROFILE_NUMERIC ? "ks" : "chi2", f->n_bins,
                  (unsigned long long)r->rows);
    num(b, "missing_share", r->missing_share);
    num(b, "reference_missing_share", r->ref_missing_share);
    num(b, "psi", r->psi);
    num(b, "js", r->js);
    num(b, "statistic", r->statistic);
    if (r->kind == MD_PROFILE_CATEGORICAL)
        num(b, "df", r->df);
    num(b, "p_value", r->p_value);
    num(b, "p_adjusted", r->p_adjusted);
    md_buf_printf(b, ",\"drifted\":%s,\"severity\":\"%s\"", r->drifted ? "true" : "false",
                  r->major     ? "major"
                  : r->drifted ? "moderate"
                               : "none");
    if ((flags & MD_DRIFT_JSON_HISTOGRAMS) != 0 && r->live != NULL)
        histogram_json(b, r, f);
    md_buf_putc(b, '}');
}

int md_drift_report_json(const struct md_drift_window *w, const struct md_drift_report *rep,
                         unsigned flags, struct md_buf *b)
{
    const struct md_profile *p = w->profile;
    const struct md_drift_config *c = &w->cfg;
    size_t i;

    md_buf_printf(b, "\"window_s\":%lld,\"rows\":%llu,\"verdict\":\"%s\"",
                  (long long)(rep->window_ms / 1000), (unsigned long long)rep->rows, rep->verdict);
    num(b, "drift_score", rep->score);
    md_buf_printf(b, ",\"drift_features\":%zu,\"tests\":%zu,\"correction\":\"%s\"", rep->drifted,
                  rep->tests, c->bonferroni ? "bonferroni" : "holm");
    num(b, "alpha", c->alpha);
    num(b, "psi_warn", c->psi_warn);
    num(b, "psi_alert", c->psi_alert);
    md_buf_printf(b, ",\"min_rows\":%llu,\"sample_rows\":%u", (unsigned long long)c->min_rows,
                  c->sample_rows);
    md_buf_printf(b, ",\"reference\":{\"rows\":%llu,\"quality\":{", (unsigned long long)p->rows);
    for (i = 0; i < p->n_quality; i++) {
        if (i > 0)
            md_buf_putc(b, ',');
        md_buf_json_str(b, p->quality[i].name, strlen(p->quality[i].name));
        md_buf_putc(b, ':');
        md_buf_f64(b, p->quality[i].value, "null");
    }
    md_buf_puts(b, "}},\"features\":[");
    for (i = 0; i < rep->n_features; i++) {
        if (i > 0)
            md_buf_putc(b, ',');
        result_json(b, &rep->features[i], &p->features[i], flags);
    }
    md_buf_puts(b, "],\"predictions\":{\"psi\":");
    md_buf_f64(b, rep->prediction_psi, "null");
    md_buf_printf(b, ",\"drifted\":%s", rep->prediction_drifted ? "true" : "false");
    if (rep->has_labels) {
        md_buf_puts(b, ",\"labels\":");
        result_json(b, &rep->labels, &p->labels, flags);
    }
    if (rep->has_scores) {
        md_buf_puts(b, ",\"scores\":");
        result_json(b, &rep->scores, &p->scores, flags);
    }
    md_buf_puts(b, "}");
    return md_buf_error(b);
}
