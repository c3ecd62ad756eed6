/* SPDX-License-Identifier: MIT */
/*
 * profile_build.h: a reference profile (watch/profile.h's profile.json)
 * computed from a training set's prepared rows, as examples/train/common.py
 * and `modelctl profile` write it: a numeric feature in ten quantile bins,
 * a categorical one counted per category, the predictions' labels and
 * scores, and quality figures. A trained version gets one, so drift is
 * watched on it as on any version.
 *
 * This layer does not read model.yaml: what it needs of the contract comes
 * in struct md_profile_column.
 */
#ifndef MD_LEARN_PROFILE_BUILD_H
#define MD_LEARN_PROFILE_BUILD_H

#include "util/common.h"
#include "util/err.h"

/* A feature as its prepared columns hold it. */
struct md_profile_column {
    const char *name;
    size_t column;                 /* its first prepared column */
    const char *const *categories; /* NULL: numeric; else n_categories names */
    size_t n_categories;
    bool onehot; /* categories in n_categories columns (else one column
                    holding the index) */
};

/* The predictions of the profiled rows (may be absent: scores NULL). */
struct md_profile_scores {
    const float *scores;       /* n_rows * n_outputs */
    size_t n_outputs;          /* 1 (binary: P(labels[1]); regression: the value) or classes */
    const char *const *labels; /* classification: n_labels, else NULL */
    size_t n_labels;
    double threshold; /* binary */
};

/*
 * profile.json's text (malloc'd) for x (n_rows * width, NaN missing):
 * features f, predictions s (NULL: none), quality the text of a JSON
 * object of figures (NULL: none). NULL when out of memory.
 */
char *md_profile_build(const float *x, size_t n_rows, size_t width,
                       const struct md_profile_column *f, size_t n_features,
                       const struct md_profile_scores *s, const char *quality);

#endif
