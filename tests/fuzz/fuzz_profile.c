/* SPDX-License-Identifier: MIT */
/*
 * fuzz_profile.c: libFuzzer target for the reference profile (profile.json,
 * watch/profile.c). Arbitrary bytes go to md_profile_parse. A refused
 * document must say why and leave no profile; an accepted one must hold its
 * invariants (edges strictly ascending, counts adding up to its rows, bins
 * within the limits and laid out without overlap), find every value's bin
 * in range, pass md_profile_check against a contract made of its own
 * features, and give a drift report, from a window fed with every bin, whose
 * figures are numbers or NaN where the format says.
 */
#include "watch/drift.h"
#include "watch/profile.h"

#include <math.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void check_feature(const struct md_profile *p, const struct md_profile_feature *f,
                          size_t *next)
{
    uint64_t sum = 0;
    size_t i;

    CHECK(f->n_bins >= 1);
    CHECK(f->offset == *next);
    *next += f->n_bins + 1;
    for (i = 0; i <= f->n_bins; i++)
        sum += f->counts[i];
    if (f->kind == MD_PROFILE_NUMERIC) {
        for (i = 0; i + 1 < f->n_bins; i++) {
            CHECK(isfinite(f->edges[i]));
            CHECK(i == 0 || f->edges[i] > f->edges[i - 1]);
            CHECK(md_profile_bin(f, f->edges[i]) == i);
        }
        CHECK(md_profile_bin(f, INFINITY) == f->n_bins - 1);
        CHECK(md_profile_bin(f, -INFINITY) == 0);
        CHECK(md_profile_bin(f, NAN) == f->n_bins);
    } else {
        for (i = 0; i + 1 < f->n_bins; i++)
            CHECK(md_profile_category(f, f->categories[i], f->cat_len[i]) == i);
    }
    if (f != &p->labels && f != &p->scores)
        CHECK(sum == p->rows);
}

static void check_profile(struct md_profile *p)
{
    struct md_profile_field *fields = calloc(p->n_features + 1, sizeof(*fields));
    const char **labels = calloc(p->labels.n_bins + 1, sizeof(*labels));
    struct md_drift_config cfg;
    struct md_drift_window *w;
    struct md_drift_report rep;
    struct md_buf b;
    struct md_err err;
    size_t i, j, next = 0;

    CHECK(fields != NULL && labels != NULL);
    CHECK(p->rows > 0 && p->n_features <= MD_PROFILE_MAX_FEATURES);
    for (i = 0; i < p->n_features; i++) {
        const struct md_profile_feature *f = &p->features[i];

        check_feature(p, f, &next);
        fields[i].name = f->name;
        fields[i].categorical = f->kind == MD_PROFILE_CATEGORICAL;
        fields[i].categories = f->categories;
        fields[i].n_categories = f->kind == MD_PROFILE_CATEGORICAL ? f->n_bins - 1 : 0;
    }
    if (p->labels.n_bins > 0)
        check_feature(p, &p->labels, &next);
    if (p->scores.n_bins > 0)
        check_feature(p, &p->scores, &next);
    CHECK(next == p->width && p->width <= MD_PROFILE_MAX_BINS);
    for (j = 0; j + 1 < p->labels.n_bins; j++)
        labels[j] = p->labels.categories[j];
    CHECK(md_profile_check(p, fields, p->n_features, labels,
                           p->labels.n_bins > 0 ? p->labels.n_bins - 1 : 0, &err) == MD_OK);

    md_drift_config_default(&cfg);
    cfg.min_rows = 1;
    w = md_drift_window_new(p, &cfg);
    for (i = 0; i <= p->width; i++)
        md_drift_count(md_drift_window_slot(w, 0), i);
    CHECK(md_drift_report(w, 0, 0, &rep, &err) == MD_OK);
    CHECK(rep.rows == 1 && rep.n_features == p->n_features);
    for (i = 0; i < rep.n_features; i++) {
        const struct md_drift_result *r = &rep.features[i];

        CHECK(!(r->psi < 0) && !(r->js < 0) && !(r->js > 1 + 1e-12));
        CHECK(isnan(r->p_value) || (r->p_value >= 0 && r->p_value <= 1 + 1e-12));
        CHECK(isnan(r->p_adjusted) || r->p_adjusted >= r->p_value || isnan(r->p_value));
    }
    md_buf_init(&b, (size_t)1 << 26);
    CHECK(md_drift_report_json(w, &rep, MD_DRIFT_JSON_HISTOGRAMS, &b) == MD_OK);
    md_buf_release(&b);
    md_drift_report_release(&rep);
    md_drift_window_unref(w);
    free(fields);
    free(labels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct md_profile *p = NULL;
    struct md_err err = {0};
    int rc = md_profile_parse((const char *)data, size, &p, &err);

    if (rc != MD_OK) {
        CHECK(p == NULL);
        CHECK(err.msg[0] != '\0');
        return 0;
    }
    check_profile(p);
    md_profile_unref(p);
    return 0;
}
