/* SPDX-License-Identifier: MIT */
/*
 * profile.h: a version's reference profile, profile.json beside its
 * artifact: the distribution of its training data per feature and of its
 * predictions, and its training-time quality; what live traffic is compared
 * with for drift (watch/drift.h). docs/repository.md gives the format:
 *
 *   {"format": "modeld-profile", "format_version": 1, "rows": 10000,
 *    "features": {
 *      "amount": {"kind": "numeric", "edges": [12.5, 40, 99.9],
 *                 "counts": [2500, 2500, 2500, 2450], "missing": 50},
 *      "country": {"kind": "categorical", "counts": {"FR": 6000, "DE": 3000},
 *                  "other": 900, "missing": 100}},
 *    "predictions": {"labels": {"ok": 9700, "fraud": 300},
 *                    "scores": {"edges": [0.1, 0.5], "counts": [9000, 700, 300]}},
 *    "quality": {"accuracy": 0.97, "roc_auc": 0.91}}
 *
 * A numeric feature's k - 1 inner edges, strictly ascending, cut the line
 * into k bins: bin 0 is (-inf, e[0]], bin i is (e[i-1], e[i]], bin k-1 is
 * (e[k-2], +inf); a value goes to the number of edges below it. A
 * categorical feature's bins are its categories in the file's order, then
 * "other" (a value the profile does not list). Every feature also has a
 * missing bin (null, absent, or NaN), last. A profile is immutable once
 * parsed and refcounted: a version and its drift window share it.
 */
#ifndef MD_WATCH_PROFILE_H
#define MD_WATCH_PROFILE_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"

#define MD_PROFILE_MAX_BYTES      ((size_t)16 << 20) /* profile.json text */
#define MD_PROFILE_MAX_FEATURES   10000              /* features */
#define MD_PROFILE_MAX_EDGES      255                /* inner edges of a numeric feature */
#define MD_PROFILE_MAX_CATEGORIES 1000               /* categories of a categorical feature */
#define MD_PROFILE_MAX_BINS       65536              /* bins of all features together */
#define MD_PROFILE_MAX_QUALITY    64                 /* figures under "quality" */

enum md_profile_kind {
    MD_PROFILE_NUMERIC = 1,    /* ordered bins between edges */
    MD_PROFILE_CATEGORICAL = 2 /* one bin per category, then "other" */
};

struct md_profile_feature {
    const char *name;
    enum md_profile_kind kind;
    size_t n_bins;           /* value bins: edges + 1, or categories + 1 ("other") */
    const double *edges;     /* NUMERIC: n_bins - 1, strictly ascending and finite */
    const char **categories; /* CATEGORICAL: n_bins - 1 names, unique */
    const size_t *cat_len;   /* CATEGORICAL: their byte lengths */
    const uint64_t *counts;  /* n_bins + 1 training counts: the value bins, then missing */
    size_t offset;           /* where its n_bins + 1 counts start in a window's vector */
};

struct md_profile_quality {
    const char *name;
    double value;
};

struct md_profile {
    _Atomic long refs; /* private */
    uint64_t rows;     /* training rows: each feature's counts sum to it */
    struct md_profile_feature *features;
    size_t n_features;
    struct md_profile_feature labels;   /* predicted labels (CATEGORICAL), n_bins 0 if absent */
    struct md_profile_feature scores;   /* scores or predicted values (NUMERIC), n_bins 0 if
                                           absent */
    struct md_profile_quality *quality; /* the training-time figures, in the file's order */
    size_t n_quality;
    size_t width;        /* counts in a window's vector: every feature's, labels', scores' */
    struct md_arena mem; /* private: every allocation */
};

/*
 * Parses profile.json text. On success *out is a new profile with one
 * reference. MD_EINVAL naming the field and the reason ("features.age.edges[3]:
 * 2.5 is not above the edge before it") for anything malformed or over the
 * limits above; MD_ETOOBIG for text over MD_PROFILE_MAX_BYTES; MD_ENOMEM.
 */
int md_profile_parse(const char *text, size_t len, struct md_profile **out,
                     struct md_err *err) MD_MUST_CHECK;

/* Reads and parses a file: MD_ENOTFOUND when it does not exist, MD_EIO when
 * it cannot be read, else as md_profile_parse. */
int md_profile_load(const char *path, struct md_profile **out, struct md_err *err) MD_MUST_CHECK;

void md_profile_ref(struct md_profile *p);
void md_profile_unref(struct md_profile *p); /* NULL ok */

/* What the version's contract says of a feature, for md_profile_check. */
struct md_profile_field {
    const char *name;
    bool categorical;              /* the contract lists its categories */
    const char *const *categories; /* n_categories of them, when categorical */
    size_t n_categories;
};

/*
 * Checks p against the contract: every feature of p is a field of the same
 * kind (a categorical field's listed categories, a numeric one's not), every
 * category one of the field's, every label one of labels. Fields p does not
 * mention are allowed (nothing to compare them with). MD_EINVAL naming the
 * first that differs ("features.plan.counts: 'gold' is not a category of
 * the contract").
 */
int md_profile_check(const struct md_profile *p, const struct md_profile_field *fields,
                     size_t n_fields, const char *const *labels, size_t n_labels,
                     struct md_err *err) MD_MUST_CHECK;

/* The feature called name, or NULL. */
const struct md_profile_feature *md_profile_feature(const struct md_profile *p, const char *name);

/*
 * The bin of numeric value x: the number of edges below it; NaN goes to the
 * missing bin (n_bins). Without branches on the data (random values would
 * mispredict every other branch): up to 32 edges, every edge compared and the
 * results summed (independent compares, no chain of loads); past that a
 * binary search by conditional moves.
 */
static inline size_t md_profile_bin(const struct md_profile_feature *f, double x)
{
    const double *base = f->edges;
    size_t n = f->n_bins - 1;

    if (x != x)
        return f->n_bins;
    if (n <= 32) {
        size_t i, below = 0;

        for (i = 0; i < n; i++)
            below += base[i] < x;
        return below;
    }
    while (n > 1) {
        size_t half = n / 2;

        base = base[half] < x ? base + half : base;
        n -= half;
    }
    return (size_t)(base - f->edges) + (*base < x);
}

/* The bin of category s (len bytes): its index, or the "other" bin (n_bins - 1). */
size_t md_profile_category(const struct md_profile_feature *f, const char *s, size_t len);

#endif
