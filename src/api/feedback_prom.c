/* SPDX-License-Identifier: MIT */
/*
 * feedback_prom.c: the quality families of /metrics, from the sums kept as
 * feedback flows (watch/outcomes.h) over the last hour of prediction time,
 * per model, version and route; and the feedback waiting or orphaned per
 * model. The sums themselves are there too (labelled rows, predictions,
 * the confusion counts), so that replicas' figures can be added up.
 */
#include "api/feedback.h"
#include "api/api.h"
#include "util/fmt.h"
#include "util/mem.h"

#include <math.h>

#define PROM_WINDOW_MS ((int64_t)3600000) /* the window of every quality gauge */

struct series {
    char *model;
    int64_t version;
    char *route;
    struct md_outcomes_sum sum;
};

struct walk {
    struct md_outcomes *o;
    int64_t now_ms;
    struct series *s;
    size_t n;
};

static void take_series(void *ctx, const char *model, int64_t version, const char *route,
                        bool shadow)
{
    struct walk *w = ctx;
    struct series *s;

    MD_UNUSED(shadow);
    w->s = md_xrealloc(w->s, (w->n + 1) * sizeof(*w->s));
    s = &w->s[w->n++];
    s->model = md_xstrdup(model);
    s->version = version;
    s->route = md_xstrdup(route);
    (void)md_outcomes_window(w->o, model, version, route, PROM_WINDOW_MS, w->now_ms, &s->sum);
}

/* A label value with \, " and line feeds escaped. */
static void put_value(struct md_buf *b, const char *v)
{
    for (const char *p = v; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            md_buf_putc(b, '\\');
        if (*p == '\n')
            md_buf_puts(b, "\\n");
        else
            md_buf_putc(b, *p);
    }
}

static void put_labels(struct md_buf *b, const struct series *s)
{
    md_buf_puts(b, "{model=\"");
    put_value(b, s->model);
    md_buf_printf(b, "\",version=\"%lld\",route=\"", (long long)s->version);
    put_value(b, s->route);
    md_buf_putc(b, '"');
}

static void put_family(struct md_buf *b, const char *name, const char *help)
{
    md_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* The gauges that are one signal's value per series. */
static const struct {
    const char *family;
    const char *signal;
    const char *help;
} gauges[] = {
    {"modeld_quality_accuracy", "accuracy", "Share of labelled rows predicted right (last hour)."},
    {"modeld_quality_f1_macro", "f1", "Macro F1 over the classes met (last hour)."},
    {"modeld_quality_log_loss", "log_loss", "Binary: mean log loss of P(labels[1]) (last hour)."},
    {"modeld_quality_roc_auc", "roc_auc",
     "Binary: ROC AUC of P(labels[1]) from 100-bin histograms (last hour)."},
    {"modeld_quality_brier", "brier", "Binary: Brier score of P(labels[1]) (last hour)."},
    {"modeld_quality_mae", "mae", "Regression: mean absolute error (last hour)."},
    {"modeld_quality_rmse", "rmse", "Regression: root mean squared error (last hour)."},
    {"modeld_quality_r2", "r2", "Regression: coefficient of determination (last hour)."},
    {"modeld_quality_mean_reward", "mean_reward", "Mean reward of the rows rewarded (last hour)."},
    {"modeld_quality_mean_rating", "mean_rating", "Mean rating of the rows rated (last hour)."},
    {"modeld_quality_label_coverage", "label_coverage",
     "Share of predictions with a label or value (last hour)."},
};

static void put_gauges(struct md_buf *b, const struct walk *w)
{
    struct md_signal_value v;
    struct md_err err;

    for (size_t g = 0; g < MD_ARRAY_LEN(gauges); g++) {
        put_family(b, gauges[g].family, gauges[g].help);
        for (size_t i = 0; i < w->n; i++) {
            if (md_outcomes_metric(&w->s[i].sum, gauges[g].signal, NULL, &v, &err) != MD_OK ||
                isnan(v.value))
                continue;
            md_buf_puts(b, gauges[g].family);
            put_labels(b, &w->s[i]);
            md_buf_puts(b, "} ");
            md_buf_f64(b, v.value, "NaN");
            md_buf_putc(b, '\n');
        }
    }
}

/* Per class: precision, recall, F1. */
static void put_classes(struct md_buf *b, const struct walk *w)
{
    static const char *const names[] = {"precision", "recall", "f1"};
    struct md_signal_value v;
    struct md_err err;
    char family[64];

    for (size_t m = 0; m < MD_ARRAY_LEN(names); m++) {
        (void)snprintf(family, sizeof(family), "modeld_quality_%s", names[m]);
        put_family(b, family,
                   m == 0   ? "Per class: of the rows predicted it, the share right "
                              "(last hour)."
                   : m == 1 ? "Per class: of its rows, the share predicted so (last hour)."
                            : "Per class: F1 (last hour).");
        for (size_t i = 0; i < w->n; i++)
            for (size_t c = 0; c < w->s[i].sum.k; c++) {
                if (md_outcomes_metric(&w->s[i].sum, names[m], w->s[i].sum.classes[c], &v, &err) !=
                        MD_OK ||
                    isnan(v.value))
                    continue;
                md_buf_puts(b, family);
                put_labels(b, &w->s[i]);
                md_buf_puts(b, ",class=\"");
                put_value(b, w->s[i].sum.classes[c]);
                md_buf_puts(b, "\"} ");
                md_buf_f64(b, v.value, "NaN");
                md_buf_putc(b, '\n');
            }
    }
}

/* The sums: rows labelled, predictions, and the confusion counts. */
static void put_sums(struct md_buf *b, const struct walk *w)
{
    put_family(b, "modeld_quality_labelled_rows",
               "Predictions with a label or value, by prediction time (last hour).");
    for (size_t i = 0; i < w->n; i++) {
        md_buf_puts(b, "modeld_quality_labelled_rows");
        put_labels(b, &w->s[i]);
        md_buf_printf(b, "} %llu\n", (unsigned long long)w->s[i].sum.labelled);
    }
    put_family(b, "modeld_quality_predictions",
               "Predictions stored in the prediction log (last hour; counted once a second).");
    for (size_t i = 0; i < w->n; i++) {
        md_buf_puts(b, "modeld_quality_predictions");
        put_labels(b, &w->s[i]);
        md_buf_printf(b, "} %llu\n", (unsigned long long)w->s[i].sum.predictions);
    }
    put_family(b, "modeld_quality_confusion",
               "Labelled rows by true and predicted class (last hour).");
    for (size_t i = 0; i < w->n; i++) {
        const struct md_outcomes_sum *s = &w->s[i].sum;

        for (size_t t = 0; t < s->k; t++)
            for (size_t p = 0; p < s->k; p++) {
                uint64_t n = s->cm[t * MD_OUTCOMES_CLASSES + p];

                if (n == 0)
                    continue;
                md_buf_puts(b, "modeld_quality_confusion");
                put_labels(b, &w->s[i]);
                md_buf_puts(b, ",true=\"");
                put_value(b, s->classes[t]);
                md_buf_puts(b, "\",predicted=\"");
                put_value(b, s->classes[p]);
                md_buf_printf(b, "\"} %llu\n", (unsigned long long)n);
            }
    }
}

struct waiting_walk {
    struct md_outcomes *o;
    struct md_buf *b;
    int pass;
};

static void put_waiting(void *ctx, const char *model)
{
    struct waiting_walk *w = ctx;
    struct md_outcomes_sum *s = md_xcalloc(1, sizeof(*s));

    if (md_outcomes_window(w->o, model, 0, NULL, 60000, md_wall_ms(), s)) {
        md_buf_puts(w->b, w->pass == 0 ? "modeld_feedback_pending{model=\""
                                       : "modeld_feedback_orphaned{model=\"");
        put_value(w->b, model);
        md_buf_printf(w->b, "\"} %llu\n",
                      (unsigned long long)(w->pass == 0 ? s->pending : s->orphaned));
    }
    free(s);
}

void md_feedback_prom(struct md_api *api, struct md_buf *b)
{
    struct walk w = {api->outcomes, md_wall_ms(), NULL, 0};
    struct waiting_walk ww = {api->outcomes, b, 0};

    if (api->outcomes == NULL)
        return;
    md_outcomes_foreach(api->outcomes, take_series, &w);
    put_gauges(b, &w);
    put_classes(b, &w);
    put_sums(b, &w);
    put_family(b, "modeld_feedback_pending",
               "Feedback items waiting for their prediction row to be stored.");
    md_outcomes_models(api->outcomes, put_waiting, &ww);
    put_family(b, "modeld_feedback_orphaned",
               "Feedback items whose prediction row never came within --feedback-horizon.");
    ww.pass = 1;
    md_outcomes_models(api->outcomes, put_waiting, &ww);
    for (size_t i = 0; i < w.n; i++) {
        free(w.s[i].model);
        free(w.s[i].route);
    }
    free(w.s);
}
