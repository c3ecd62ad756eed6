/* SPDX-License-Identifier: MIT */
/*
 * contract_compat.c: whether one contract accepts every request another
 * accepts, the rule a version must meet to take traffic beside (or after)
 * the champion: the same task and labels, every input of the old contract
 * with the same datatype and tensor name, ranges and categories at least as
 * wide, NaN allowed where it was, required only where it was; an input the
 * old contract does not have must be optional; every output the old
 * contract answers with, the same.
 */
#include "serve/contract.h"

#include <math.h>

static const struct md_feature *find_feature(const struct md_contract *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n_features; i++)
        if (strcmp(c->features[i].name, name) == 0)
            return &c->features[i];
    return NULL;
}

static bool has_category(const struct md_feature *f, const char *cat)
{
    size_t i;

    for (i = 0; i < f->n_categories; i++)
        if (strcmp(f->categories[i], cat) == 0)
            return true;
    return false;
}

/* Whether new feature n accepts every value old feature o accepts; else why. */
static int feature_accepts(const struct md_feature *n, const struct md_feature *o,
                           struct md_err *err)
{
    double olo = o->has_min ? o->min : -INFINITY;
    double ohi = o->has_max ? o->max : INFINITY;
    size_t i;

    if (n->dtype != o->dtype)
        return md_err_set(err, MD_EINVAL, "features.%s: datatype %s, the champion's is %s", n->name,
                          md_dtype_name(n->dtype), md_dtype_name(o->dtype));
    if (n->required && !o->required)
        return md_err_set(err, MD_EINVAL,
                          "features.%s: required, but optional for the champion: requests "
                          "without it would be refused",
                          n->name);
    if ((n->has_min && n->min > olo) || (n->has_max && n->max < ohi))
        return md_err_set(err, MD_EINVAL,
                          "features.%s: its range is narrower than the champion's: values the "
                          "champion accepts would be refused",
                          n->name);
    if (o->allow_nan && !n->allow_nan)
        return md_err_set(err, MD_EINVAL, "features.%s: the champion allows NaN, this does not",
                          n->name);
    if (n->categories != NULL) {
        if (o->categories == NULL)
            return md_err_set(err, MD_EINVAL,
                              "features.%s: categories, where the champion takes any value",
                              n->name);
        for (i = 0; i < o->n_categories; i++)
            if (!has_category(n, o->categories[i]))
                return md_err_set(err, MD_EINVAL,
                                  "features.%s: category '%s' of the champion is missing", n->name,
                                  o->categories[i]);
    }
    return MD_OK;
}

int md_contract_accepts(const struct md_contract *n, const struct md_contract *o,
                        struct md_err *err)
{
    size_t i;
    size_t j;
    int rc;

    if (n->task != o->task)
        return md_err_set(err, MD_EINVAL, "task: differs from the champion's");
    if (n->n_labels != o->n_labels)
        return md_err_set(err, MD_EINVAL, "labels: %zu, the champion has %zu", n->n_labels,
                          o->n_labels);
    for (i = 0; i < n->n_labels; i++)
        if (strcmp(n->labels[i], o->labels[i]) != 0)
            return md_err_set(err, MD_EINVAL, "labels[%zu]: '%s', the champion's is '%s'", i,
                              n->labels[i], o->labels[i]);
    if (strcmp(n->input_tensor, o->input_tensor) != 0)
        return md_err_set(err, MD_EINVAL, "input_tensor: '%s', the champion's is '%s'",
                          n->input_tensor, o->input_tensor);
    for (i = 0; i < o->n_features; i++) {
        const struct md_feature *f = find_feature(n, o->features[i].name);

        if (f == NULL)
            return md_err_set(err, MD_EINVAL, "features: '%s' of the champion is missing",
                              o->features[i].name);
        rc = feature_accepts(f, &o->features[i], err);
        if (rc != MD_OK)
            return rc;
    }
    for (i = 0; i < n->n_features; i++)
        if (n->features[i].required && find_feature(o, n->features[i].name) == NULL)
            return md_err_set(err, MD_EINVAL,
                              "features.%s: new and required: requests the champion accepts "
                              "do not have it (make it optional)",
                              n->features[i].name);
    for (i = 0; i < o->n_outputs; i++) {
        for (j = 0; j < n->n_outputs; j++)
            if (strcmp(n->outputs[j].name, o->outputs[i].name) == 0 &&
                n->outputs[j].kind == o->outputs[i].kind &&
                n->outputs[j].dtype == o->outputs[i].dtype)
                break;
        if (j == n->n_outputs)
            return md_err_set(err, MD_EINVAL, "outputs: '%s' of the champion is missing or differs",
                              o->outputs[i].name);
    }
    return MD_OK;
}
