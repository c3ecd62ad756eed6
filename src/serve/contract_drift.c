/* SPDX-License-Identifier: MIT */
/*
 * contract_drift.c: model.yaml's `drift:` section, the thresholds and window
 * of the drift report (watch/drift.h). Every key is optional; the defaults
 * are md_drift_config_default's, set before this runs.
 *
 *   drift:
 *     window_s: 3600        # 60..86400
 *     psi_warn: 0.1         # > 0
 *     psi_alert: 0.25       # >= psi_warn
 *     alpha: 0.05           # (0, 1)
 *     correction: holm      # holm | bonferroni
 *     min_rows: 200         # >= 1
 *     sample_rows: 256      # 0 (every row) .. 65536
 */
#include "serve/contract.h"
#include "serve/contract_int.h"

enum { D_WINDOW, D_WARN, D_ALERT, D_ALPHA, D_CORRECTION, D_MIN_ROWS, D_SAMPLE, D_COUNT };

static int int_in(struct md_contract__ctx *x, const yaml_node_t *n, const char *path, int64_t lo,
                  int64_t hi, int64_t *out)
{
    int rc = md_contract__want_int(x, n, path, out);

    if (rc != MD_OK)
        return rc;
    if (*out < lo || *out > hi)
        return md_contract__fail(x, path, "%lld is not between %lld and %lld", (long long)*out,
                                 (long long)lo, (long long)hi);
    return MD_OK;
}

static int number(struct md_contract__ctx *x, const yaml_node_t *n, const char *path, double *out)
{
    return n == NULL ? MD_OK : md_contract__want_number(x, n, path, out);
}

int md_contract__parse_drift(struct md_contract__ctx *x, const yaml_node_t *n)
{
    static const char *const keys[] = {"window_s",   "psi_warn", "psi_alert",   "alpha",
                                       "correction", "min_rows", "sample_rows", NULL};
    static const char *const corrections[] = {"holm", "bonferroni", NULL};
    struct md_drift_config *d = &x->c->drift;
    yaml_node_t *v[D_COUNT] = {0};
    int64_t i = 0;
    int word;
    int rc = md_contract__map_collect(x, n, "drift", keys, v);

    if (rc == MD_OK && v[D_WINDOW] != NULL) {
        rc = int_in(x, v[D_WINDOW], "drift.window_s", MD_DRIFT_WINDOW_MIN_S, MD_DRIFT_WINDOW_MAX_S,
                    &i);
        d->window_s = i;
    }
    if (rc == MD_OK)
        rc = number(x, v[D_WARN], "drift.psi_warn", &d->psi_warn);
    if (rc == MD_OK)
        rc = number(x, v[D_ALERT], "drift.psi_alert", &d->psi_alert);
    if (rc == MD_OK)
        rc = number(x, v[D_ALPHA], "drift.alpha", &d->alpha);
    if (rc != MD_OK)
        return rc;
    if (!(d->psi_warn > 0))
        return md_contract__fail(x, "drift.psi_warn", "%g is not above 0", d->psi_warn);
    if (!(d->psi_alert >= d->psi_warn))
        return md_contract__fail(x, "drift.psi_alert", "%g is below psi_warn (%g)", d->psi_alert,
                                 d->psi_warn);
    if (!(d->alpha > 0 && d->alpha < 1))
        return md_contract__fail(x, "drift.alpha", "%g is not between 0 and 1 (exclusive)",
                                 d->alpha);
    if (v[D_CORRECTION] != NULL) {
        rc = md_contract__want_word(x, v[D_CORRECTION], "drift.correction", corrections,
                                    "holm, bonferroni", &word);
        if (rc != MD_OK)
            return rc;
        d->bonferroni = word == 1;
    }
    if (v[D_MIN_ROWS] != NULL) {
        rc = int_in(x, v[D_MIN_ROWS], "drift.min_rows", 1, INT64_MAX, &i);
        if (rc != MD_OK)
            return rc;
        d->min_rows = (uint64_t)i;
    }
    if (v[D_SAMPLE] != NULL) {
        rc = int_in(x, v[D_SAMPLE], "drift.sample_rows", 0, MD_DRIFT_SAMPLE_MAX, &i);
        if (rc != MD_OK)
            return rc;
        d->sample_rows = (uint32_t)i;
    }
    return MD_OK;
}
