/* SPDX-License-Identifier: MIT */
/*
 * drift_feed.c: a version's profile and live window, the observer that
 * fills the window, and the readers of drift (report, signals, /metrics).
 * The window's counting and statistics are watch/drift.c's.
 */
#include "serve/drift_feed.h"
#include "serve/predict.h"
#include "serve/repo.h"
#include "util/fmt.h"
#include "util/mem.h"

#include <limits.h>
#include <math.h>

/* A contract feature the profile describes. */
struct feed_feature {
    size_t feature;                      /* index in the contract */
    const struct md_feature *cf;         /* the contract's */
    const struct md_profile_feature *pf; /* the profile's */
    uint32_t *cat_bin;                   /* categorical: contract category -> profile bin */
};

struct md_drift_feed {
    struct md_drift_window *w;
    const struct md_contract *c;
    struct feed_feature *ff;
    size_t n;
    uint32_t *label_bin; /* contract label -> profile label bin; NULL without labels */
};

static void feed_free_maps(struct md_drift_feed *f)
{
    size_t i;

    for (i = 0; f->ff != NULL && i < f->n; i++)
        free(f->ff[i].cat_bin);
    free(f->ff);
    free(f->label_bin);
}

void md_drift_feed_free(struct md_drift_feed *f)
{
    if (f == NULL)
        return;
    feed_free_maps(f);
    md_drift_window_unref(f->w);
    free(f);
}

struct md_drift_window *md_drift_feed_window(const struct md_drift_feed *f)
{
    return f->w;
}

/* The contract seen as md_profile_check wants it. */
static int check(const struct md_profile *p, const struct md_contract *c, struct md_err *err)
{
    struct md_profile_field *fields = md_calloc(c->n_features + 1, sizeof(*fields));
    size_t i;
    int rc;

    if (fields == NULL)
        return md_err_set(err, MD_ENOMEM, "out of memory");
    for (i = 0; i < c->n_features; i++) {
        fields[i].name = c->features[i].name;
        fields[i].categorical = c->features[i].categories != NULL;
        fields[i].categories = (const char *const *)c->features[i].categories;
        fields[i].n_categories = c->features[i].n_categories;
    }
    rc = md_profile_check(p, fields, c->n_features, (const char *const *)c->labels, c->n_labels,
                          err);
    free(fields);
    if (rc == MD_OK && p->labels.n_bins > 0 && c->task != MD_TASK_CLASSIFICATION)
        rc = md_err_set(err, MD_EINVAL, "predictions.labels: the model is a regression");
    return rc;
}

static void build_maps(struct md_drift_feed *f, const struct md_profile *p)
{
    const struct md_contract *c = f->c;
    size_t i, j;

    f->ff = md_xcalloc(p->n_features + 1, sizeof(*f->ff));
    for (i = 0; i < c->n_features; i++) {
        const struct md_profile_feature *pf = md_profile_feature(p, c->features[i].name);
        struct feed_feature *x;

        if (pf == NULL)
            continue;
        x = &f->ff[f->n++];
        x->feature = i;
        x->cf = &c->features[i];
        x->pf = pf;
        if (pf->kind != MD_PROFILE_CATEGORICAL)
            continue;
        x->cat_bin = md_xcalloc(x->cf->n_categories + 1, sizeof(*x->cat_bin));
        for (j = 0; j < x->cf->n_categories; j++)
            x->cat_bin[j] = (uint32_t)md_profile_category(pf, x->cf->categories[j],
                                                          strlen(x->cf->categories[j]));
    }
    if (p->labels.n_bins > 0) {
        f->label_bin = md_xcalloc(c->n_labels + 1, sizeof(*f->label_bin));
        for (j = 0; j < c->n_labels; j++)
            f->label_bin[j] =
                (uint32_t)md_profile_category(&p->labels, c->labels[j], strlen(c->labels[j]));
    }
}

int md_drift_feed_load(const char *dir, const struct md_contract *c, struct md_drift_feed **out,
                       char *note, size_t note_size)
{
    struct md_profile *p = NULL;
    struct md_drift_feed *f;
    struct md_err err = {0};
    char path[PATH_MAX];
    int rc;

    *out = NULL;
    if ((size_t)snprintf(path, sizeof(path), "%s/profile.json", dir) >= sizeof(path)) {
        (void)snprintf(note, note_size, "profile.json: path too long");
        return MD_EINVAL;
    }
    rc = md_profile_load(path, &p, &err);
    if (rc == MD_ENOTFOUND) {
        (void)snprintf(note, note_size, "no profile.json beside the artifact");
        return rc;
    }
    if (rc == MD_OK)
        rc = check(p, c, &err);
    if (rc != MD_OK) {
        (void)snprintf(note, note_size, "profile.json: %s", err.msg);
        md_profile_unref(p);
        return rc;
    }
    f = md_xcalloc(1, sizeof(*f));
    f->c = c;
    build_maps(f, p);
    f->w = md_drift_window_new(p, &c->drift);
    md_profile_unref(p);
    note[0] = '\0';
    *out = f;
    return MD_OK;
}

/* ---------------------------------------------------------------- counting */

/* The bin of a categorical feature's row from its prepared columns; n_bins: missing. */
static size_t category_bin(const struct feed_feature *x, const float *col)
{
    size_t j;

    if (col == NULL || isnan(col[0]))
        return x->pf->n_bins;
    if (x->cf->encoding == MD_ENC_ORDINAL) {
        j = (size_t)col[0];
        return j < x->cf->n_categories ? x->cat_bin[j] : x->pf->n_bins - 1;
    }
    for (j = 0; j < x->cf->width; j++)
        if (col[j] == 1.0f)
            return x->cat_bin[j];
    return x->pf->n_bins;
}

static size_t feature_bin(const struct md_predict_story *s, const struct feed_feature *x,
                          const struct md_tensor *t, size_t index, size_t row)
{
    if (t == NULL || (t->missing != NULL && t->missing[index]))
        return x->pf->n_bins;
    if (x->pf->kind == MD_PROFILE_CATEGORICAL)
        return category_bin(x, md_predict_story_prepared(s, x->feature, row));
    return md_profile_bin(x->pf, md_tensor_get_f64(t, index));
}

/*
 * Where a request's counts go: straight into the window's slot (a relaxed
 * atomic add each), or, when the request makes more increments than the
 * profile has bins and the bins fit TALLY_LOCAL, into a plain array on the
 * stack first, added to the slot once per bin touched.
 */
#define TALLY_LOCAL 2048

struct tally {
    _Atomic uint32_t *slot;
    uint32_t *local; /* NULL: straight into slot */
};

static inline void tally_add(struct tally *t, size_t i)
{
    if (t->local != NULL)
        t->local[i]++;
    else
        md_drift_count(t->slot, i);
}

/* Where a feature's values are in a request: its tensor (NULL: not sent), row 0's index,
 * and how far apart rows are (1 in a column, the width in the 2-D form). */
struct where {
    const struct md_tensor *t;
    size_t first, stride;
};

#define FEED_BLOCK 64 /* features counted together, row by row */

/* The 2-D form's one tensor, as md_contract_prepare tells it apart, or NULL. */
static const struct md_tensor *two_d(const struct md_predict_story *s)
{
    const struct md_contract *c = s->version->contract;
    const struct md_tensor *in;

    if (s->inputs == NULL || s->n_inputs != 1)
        return NULL;
    in = &s->inputs[0];
    if (in->name == NULL || strcmp(in->name, c->input_tensor) != 0 || in->ndim != 2 ||
        in->shape[1] != (int64_t)c->n_features)
        return NULL;
    return in;
}

static void locate(const struct md_predict_story *s, const struct md_tensor *matrix,
                   const struct feed_feature *x, struct where *w)
{
    const struct md_tensor *t1 = NULL;
    size_t second = 0;

    if (matrix != NULL) { /* row r's feature f is element r * width + f */
        w->t = matrix;
        w->first = x->feature;
        w->stride = s->version->contract->n_features;
        return;
    }
    w->first = 0;
    w->stride = 0;
    if (!md_predict_story_input(s, x->feature, 0, &w->t, &w->first)) {
        w->t = NULL;
        return;
    }
    if (s->rows > 1 && md_predict_story_input(s, x->feature, 1, &t1, &second))
        w->stride = second - w->first;
}

/*
 * Counts the features over the sampled rows (row = i * rows / n for i < n),
 * rows in the outer loop and up to FEED_BLOCK features in the inner one, so
 * that a row-major 2-D tensor is read in order.
 */
static void count_features(const struct md_predict_story *s, const struct md_drift_feed *f,
                           struct tally *slot, size_t n)
{
    const struct md_tensor *matrix = two_d(s);
    struct where w[FEED_BLOCK];
    size_t base, i, j;

    for (base = 0; base < f->n; base += FEED_BLOCK) {
        size_t k = f->n - base < FEED_BLOCK ? f->n - base : FEED_BLOCK;

        for (j = 0; j < k; j++)
            locate(s, matrix, &f->ff[base + j], &w[j]);
        for (i = 0; i < n; i++) {
            size_t row = n == s->rows ? i : i * s->rows / n;

            for (j = 0; j < k; j++) {
                const struct feed_feature *x = &f->ff[base + j];

                tally_add(slot, 1 + x->pf->offset +
                                    feature_bin(s, x, w[j].t, w[j].first + row * w[j].stride, row));
            }
        }
    }
}

/* The predicted label's index and the score of a row (P(labels[1]) for a binary model,
 * the top class's probability for several, the value for a regression). */
static void prediction_of(const struct md_contract *c, const struct md_prediction *pr, size_t row,
                          size_t *label, double *score)
{
    const float *o = pr->scores + row * pr->per_row;
    size_t j, best = 0;

    if (c->task != MD_TASK_CLASSIFICATION || pr->per_row == 1) {
        *score = o[0];
        *label = c->task == MD_TASK_CLASSIFICATION && o[0] >= c->threshold ? 1 : 0;
        return;
    }
    for (j = 1; j < pr->per_row; j++)
        if (o[j] > o[best])
            best = j;
    *label = best;
    *score = o[best];
}

static void count_predictions(const struct md_predict_story *s, const struct md_drift_feed *f,
                              const struct md_profile *p, struct tally *slot, size_t n)
{
    size_t i;

    if (s->scores == NULL || s->scores->rows != s->rows || s->scores->scores == NULL)
        return;
    for (i = 0; i < n; i++) {
        size_t row = n == s->rows ? i : i * s->rows / n;
        size_t label;
        double score;

        prediction_of(f->c, s->scores, row, &label, &score);
        if (f->label_bin != NULL && label < f->c->n_labels)
            tally_add(slot, 1 + p->labels.offset + f->label_bin[label]);
        if (p->scores.n_bins > 0)
            tally_add(slot, 1 + p->scores.offset + md_profile_bin(&p->scores, score));
    }
}

static void told(void *ctx, const struct md_predict_story *s)
{
    const struct md_drift_feed *f;
    const struct md_profile *p;
    const struct md_drift_config *cfg;
    uint32_t local[TALLY_LOCAL];
    struct tally t;
    size_t n, i;

    MD_UNUSED(ctx);
    if (s->version == NULL || s->stage != MD_PREDICT_DONE || s->prepared == NULL || s->rows == 0)
        return;
    f = s->version->drift;
    if (f == NULL)
        return;
    p = md_drift_window_profile(f->w);
    cfg = md_drift_window_config(f->w);
    n = cfg->sample_rows > 0 && s->rows > cfg->sample_rows ? cfg->sample_rows : s->rows;
    t.slot = md_drift_window_slot(f->w, md_wall_ms());
    t.local = NULL;
    atomic_fetch_add_explicit(&t.slot[0], (uint32_t)n, memory_order_relaxed);
    if (p->width + 1 > TALLY_LOCAL || n * (f->n + 2) <= p->width + 1) {
        count_features(s, f, &t, n);
        count_predictions(s, f, p, &t, n);
        return;
    }
    memset(local, 0, sizeof(local));
    t.local = local;
    count_features(s, f, &t, n);
    count_predictions(s, f, p, &t, n);
    for (i = 1; i <= p->width; i++)
        if (local[i] != 0)
            atomic_fetch_add_explicit(&t.slot[i], local[i], memory_order_relaxed);
}

static const struct md_predict_observer observer = {told, NULL};

int md_drift_attach(struct md_err *err)
{
    return md_predict_attach(&observer, err);
}

void md_drift_detach(void)
{
    md_predict_detach(&observer);
}

/* ----------------------------------------------------------------- readers */

/* The version asked for (NULL or "": the champion), with a reference. */
static int acquire(struct md_repo *r, const char *model, const char *version, struct md_version **v,
                   struct md_err *err)
{
    char num[24];

    if (version == NULL || version[0] == '\0') {
        int64_t champion = md_repo_champion(r, model);

        if (champion > 0) {
            (void)snprintf(num, sizeof(num), "%lld", (long long)champion);
            version = num;
        } else {
            version = NULL;
        }
    }
    return md_repo_acquire(r, model, version, v, err);
}

int md_drift_json(struct md_repo *r, const char *model, const char *version, int64_t window_ms,
                  unsigned flags, struct md_buf *out, struct md_err *err)
{
    struct md_drift_report rep;
    struct md_version *v;
    int rc = acquire(r, model, version, &v, err);

    if (rc != MD_OK)
        return rc;
    md_buf_puts(out, "{\"model\":");
    md_buf_json_str(out, v->model, strlen(v->model));
    md_buf_printf(out, ",\"version\":%lld,", (long long)v->number);
    if (v->drift == NULL) {
        md_buf_puts(out, "\"verdict\":\"no_reference\",\"reason\":");
        md_buf_json_str(out, v->drift_note, strlen(v->drift_note));
        md_buf_puts(out, "}");
        md_version_unref(v);
        return md_buf_error(out);
    }
    rc = md_drift_report(v->drift->w, window_ms, md_wall_ms(), &rep, err);
    if (rc == MD_OK) {
        rc = md_drift_report_json(v->drift->w, &rep, flags, out);
        md_buf_puts(out, "}");
        rc = rc == MD_OK ? md_buf_error(out) : rc;
        md_drift_report_release(&rep);
    }
    md_version_unref(v);
    return rc;
}

/* ----------------------------------------------------------------- signals */

enum signal_kind { S_PSI, S_JS, S_SCORE, S_FEATURES, S_PREDICTION };

struct signal_ctx {
    struct md_repo *repo;
    enum signal_kind kind;
};

static struct signal_ctx signal_ctxs[5];

static int signal_value(void *vctx, const struct md_signal_query *q, struct md_signal_value *out,
                        struct md_err *err)
{
    const struct signal_ctx *sc = vctx;
    const struct md_drift_result *fr = NULL;
    struct md_drift_report rep;
    struct md_version *v;
    char num[24];
    int rc;

    out->value = NAN;
    out->samples = 0;
    (void)snprintf(num, sizeof(num), "%lld", (long long)q->version);
    rc = acquire(sc->repo, q->model, q->version > 0 ? num : NULL, &v, err);
    if (rc != MD_OK)
        return rc;
    if (v->drift == NULL) {
        md_version_unref(v);
        return MD_OK;
    }
    rc = md_drift_report(v->drift->w, q->window_ms, q->now_ms > 0 ? q->now_ms : md_wall_ms(), &rep,
                         err);
    if (rc != MD_OK) {
        md_version_unref(v);
        return rc;
    }
    out->samples = rep.rows;
    if (sc->kind == S_PSI || sc->kind == S_JS) {
        fr = md_drift_report_feature(&rep, q->arg);
        if (fr == NULL)
            rc = md_err_set(err, MD_ENOTFOUND,
                            "model '%s' version %lld has no feature '%s' in its profile", q->model,
                            (long long)v->number, q->arg);
        else
            out->value = sc->kind == S_PSI ? fr->psi : fr->js;
    } else if (sc->kind == S_SCORE) {
        out->value = rep.score;
    } else if (sc->kind == S_FEATURES) {
        out->value = rep.enough ? (double)rep.drifted : NAN;
    } else {
        out->value = rep.prediction_psi;
    }
    md_drift_report_release(&rep);
    md_version_unref(v);
    return rc;
}

int md_drift_signals_add(struct md_signals *s, struct md_repo *r, struct md_err *err)
{
    static const struct md_signal_info infos[5] = {
        {"drift_psi", "score", "feature",
         "population stability index of a feature's live window against its reference"},
        {"drift_js", "score", "feature",
         "Jensen-Shannon distance (base 2) of a feature's live window from its reference"},
        {"drift_score", "score", NULL, "the largest population stability index of any feature"},
        {"drift_features", "count", NULL,
         "features flagged as drifted (corrected p-value under alpha and PSI from psi_warn)"},
        {"prediction_drift_psi", "score", NULL,
         "population stability index of the predictions (scores, else labels)"},
    };
    size_t i;
    int rc = MD_OK;

    for (i = 0; i < 5 && rc == MD_OK; i++) {
        signal_ctxs[i].repo = r;
        signal_ctxs[i].kind = (enum signal_kind)i;
        rc = md_signals_add(s, &infos[i], signal_value, &signal_ctxs[i], err);
    }
    return rc;
}

/* ---------------------------------------------------------------- /metrics */

struct prom_item {
    char model[MD_CONTRACT_MAX_NAME + 1];
    int64_t version;
    struct md_drift_window *w; /* a reference */
};

struct prom_list {
    struct prom_item *items;
    size_t n, cap;
};

static void collect(void *vctx, const struct md_repo_row *row)
{
    struct prom_list *l = vctx;
    struct prom_item *it;

    if (row->live == NULL || row->live->drift == NULL)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 8 : l->cap * 2;
        struct prom_item *items = md_realloc(l->items, cap * sizeof(*items));

        if (items == NULL)
            return;
        l->items = items;
        l->cap = cap;
    }
    it = &l->items[l->n++];
    (void)snprintf(it->model, sizeof(it->model), "%s", row->model);
    it->version = row->version;
    it->w = row->live->drift->w;
    md_drift_window_ref(it->w);
}

static void gauge(struct md_buf *b, const char *name, const struct prom_item *it,
                  const char *feature, double v)
{
    if (isnan(v))
        return;
    md_buf_printf(b, "%s{model=\"%s\",version=\"%lld\"", name, it->model, (long long)it->version);
    if (feature != NULL) {
        const char *p;

        md_buf_puts(b, ",feature=\"");
        for (p = feature; *p != '\0'; p++) {
            if (*p == '\\' || *p == '"')
                md_buf_putc(b, '\\');
            if (*p == '\n')
                md_buf_putc(b, ' ');
            else
                md_buf_putc(b, *p);
        }
        md_buf_putc(b, '"');
    }
    md_buf_puts(b, "} ");
    md_buf_f64(b, v, "NaN");
    md_buf_putc(b, '\n');
}

static const char *const prom_help[][2] = {
    {"modeld_drift_rows", "Rows counted in the drift window of a version with a reference."},
    {"modeld_drift_score", "The largest population stability index of any feature (drift_score)."},
    {"modeld_drift_features", "Features flagged as drifted in the window (drift_features)."},
    {"modeld_prediction_drift_psi", "Population stability index of the predictions."},
    {"modeld_drift_psi",
     "Population stability index of a feature (the first 100 features of a version)."},
};

int md_drift_prom(struct md_repo *r, struct md_buf *b)
{
    struct prom_list l = {0};
    struct md_drift_report *reps;
    int64_t now = md_wall_ms();
    size_t i, j, k;

    md_repo_foreach(r, collect, &l);
    reps = md_calloc(l.n + 1, sizeof(*reps));
    for (i = 0; reps != NULL && i < l.n; i++)
        if (md_drift_report(l.items[i].w, 0, now, &reps[i], NULL) != MD_OK)
            reps[i].verdict = NULL;
    for (k = 0; reps != NULL && k < MD_ARRAY_LEN(prom_help); k++) {
        md_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", prom_help[k][0], prom_help[k][1],
                      prom_help[k][0]);
        for (i = 0; i < l.n; i++) {
            const struct md_drift_report *rep = &reps[i];

            if (rep->verdict == NULL)
                continue;
            if (k == 0)
                gauge(b, prom_help[k][0], &l.items[i], NULL, (double)rep->rows);
            else if (k == 1)
                gauge(b, prom_help[k][0], &l.items[i], NULL, rep->score);
            else if (k == 2)
                gauge(b, prom_help[k][0], &l.items[i], NULL, (double)rep->drifted);
            else if (k == 3)
                gauge(b, prom_help[k][0], &l.items[i], NULL, rep->prediction_psi);
            for (j = 0; k == 4 && j < rep->n_features && j < MD_DRIFT_PROM_FEATURES; j++)
                gauge(b, prom_help[k][0], &l.items[i], rep->features[j].name, rep->features[j].psi);
        }
    }
    for (i = 0; i < l.n; i++) {
        if (reps != NULL)
            md_drift_report_release(&reps[i]);
        md_drift_window_unref(l.items[i].w);
    }
    free(reps);
    free(l.items);
    return md_buf_error(b);
}
