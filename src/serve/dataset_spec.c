/* SPDX-License-Identifier: MIT */
/*
 * dataset_spec.c: a contract's training set spec (serve/dataset_spec.h).
 */
#include "serve/dataset_spec.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void md_dataset_spec_from_contract(const struct md_contract *c, int64_t now_ms,
                                   struct md_dataset_spec *spec)
{
    const struct md_training_config *t = &c->training;
    const char **names = md_xcalloc(c->n_features + 1, sizeof(*names));
    bool *text = md_xcalloc(c->n_features + 1, sizeof(*text));
    bool *optional = md_xcalloc(c->n_features + 1, sizeof(*optional));
    size_t i;

    memset(spec, 0, sizeof(*spec));
    spec->model = c->name;
    spec->regression = c->task == MD_TASK_REGRESSION;
    if (!spec->regression) {
        spec->labels = (const char *const *)c->labels;
        spec->n_labels = c->n_labels;
    }
    for (i = 0; i < c->n_features; i++) {
        names[i] = c->features[i].name;
        text[i] = c->features[i].dtype == MD_DT_BYTES;
        optional[i] = !c->features[i].required;
    }
    spec->features = names;
    spec->text = text;
    spec->optional = optional;
    spec->n_features = c->n_features;
    spec->holdout = MD_TRAINING_HOLDOUT;
    spec->expert_weight = MD_TRAINING_EXPERT_WEIGHT;
    spec->base_weight = MD_TRAINING_BASE_WEIGHT;
    if (!t->present)
        return;
    if (t->window_s > 0)
        spec->since_ms = now_ms - t->window_s * 1000;
    spec->max_rows = t->max_rows;
    spec->holdout = t->holdout;
    spec->expert_weight = t->expert_weight;
    spec->base_weight = t->base_weight;
}

void md_dataset_spec_release(struct md_dataset_spec *spec)
{
    free((void *)spec->features);
    free((void *)spec->text);
    free((void *)spec->optional);
    spec->features = NULL;
    spec->text = NULL;
    spec->optional = NULL;
}

uint64_t md_dataset_min_rows(const struct md_contract *c)
{
    return c->training.present ? c->training.min_rows : MD_TRAINING_MIN_ROWS;
}
