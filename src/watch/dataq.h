/* SPDX-License-Identifier: MIT */
/*
 * dataq.h: data quality per model version, from the values as sent: how
 * often each feature is missing (null or absent) or outside the contract's
 * range, the requests refused by validation and why (a bounded set of
 * reason classes, per feature where the refusal names one, unseen
 * categories among them), and what the version predicted (rows per label,
 * a fixed histogram of P(labels[1]) or of the regression value).
 *
 * Every figure is kept twice: a total since the version's series was made
 * (counters for /metrics, which never go back), and in per-minute buckets
 * of the wall clock, the last MD_DATAQ_MINUTES of them, which a window sums
 * (the named metrics of watch/signals.h, the API's ?window=). Updates are
 * relaxed atomic additions, as watch/metrics.h's: a reader may see a
 * request in one figure and not yet in another, never a torn value. A
 * bucket is cleared by the first update of its minute (under the version's
 * own mutex, once a minute); an update racing with the turn of the minute
 * may land in the minute before.
 *
 * Series stay bounded. The first MD_DATAQ_FEATURES features of a version
 * have series of their own; the rest are summed into the feature "_other".
 * The first MD_DATAQ_LABELS labels likewise ("_other" for the rest). A
 * retired version (no loaded instance uses it) keeps its series for
 * MD_DATAQ_RETIRED_MS, at most MD_DATAQ_RETIRED_PER_MODEL retired versions
 * per model and MD_DATAQ_RETIRED_MAX in all (the longest retired go first),
 * or until md_dataq_forget (an archived version). A version's figures take
 * about 135 KiB (the buckets, 2 KiB each, and the totals).
 *
 * What this module does not know: contracts, requests and engines. The
 * caller (serve/) describes a version's features and labels at attach, and
 * says what it saw in each request; classifying a refusal's message is
 * this module's (md_dataq_classify), as the reasons are its vocabulary.
 */
#ifndef MD_WATCH_DATAQ_H
#define MD_WATCH_DATAQ_H

#include "util/common.h"
#include "util/err.h"
#include "util/buf.h"
#include "watch/signals.h"

#define MD_DATAQ_FEATURES          64       /* features with series of their own, per version */
#define MD_DATAQ_LABELS            32       /* labels with series of their own, per version */
#define MD_DATAQ_MINUTES           60       /* per-minute buckets: the longest window */
#define MD_DATAQ_RETIRED_MS        86400000 /* how long a retired version's series stay: 24 hours */
#define MD_DATAQ_RETIRED_PER_MODEL 4        /* retired versions kept per model */
#define MD_DATAQ_RETIRED_MAX       64       /* retired versions kept in all */
#define MD_DATAQ_SCORE_MAX         20       /* finite bounds of the score histogram, at most */
#define MD_DATAQ_OTHER             "_other" /* the feature or label that sums the ones past the cap */

/* Why validation refused a request: the classes of md_dataq_classify. */
enum md_dataq_reason {
    MD_DQ_MISSING = 0,      /* a required feature absent, null, or NaN */
    MD_DQ_OUT_OF_RANGE,     /* a value below min or above max, or infinite */
    MD_DQ_WRONG_TYPE,       /* a datatype the contract does not take, a non-integer, a bad bool */
    MD_DQ_UNKNOWN_CATEGORY, /* a category the contract does not list (an unseen category) */
    MD_DQ_BAD_SHAPE,        /* a shape, element count or row count that does not fit */
    MD_DQ_UNKNOWN_INPUT,    /* an input the contract does not name, or one given twice */
    MD_DQ_BAD_KEY,          /* a `keys:` field missing or malformed */
    MD_DQ_TOO_LARGE,        /* over a size limit */
    MD_DQ_MALFORMED,        /* the body does not parse for its protocol */
    MD_DQ_OTHER,            /* anything else */
    MD_DQ_REASONS
};

/* "missing", "out_of_range", ...: the label value of /metrics and the JSON key. */
const char *md_dataq_reason_name(enum md_dataq_reason r);

/* What a feature is, for the series it gets (flags of md_dataq_shape.kinds). */
enum md_dataq_kind {
    MD_DQ_RANGED = 1 << 0,     /* it has a min or a max: out-of-range series */
    MD_DQ_CATEGORICAL = 1 << 1 /* it lists categories: unseen-category series */
};

/* What a version looks like, for md_dataq_attach (everything borrowed for the call). */
struct md_dataq_shape {
    const char *model;
    int64_t version;
    const char *const *features; /* n_features names, in the contract's order */
    const uint8_t *kinds;        /* n_features sets of enum md_dataq_kind flags, or NULL */
    size_t n_features;
    const char *const *labels; /* n_labels class names (classification), or NULL */
    size_t n_labels;
    bool regression; /* the score is the predicted value, not P(labels[1]) */
};

struct md_dataq;         /* the registry */
struct md_dataq_version; /* one version's figures */

struct md_dataq *md_dataq_new(void);
/* Frees the registry and every version's figures; none may be attached. NULL ok. */
void md_dataq_free(struct md_dataq *dq);

/*
 * The figures of shape->model version shape->version for a loaded instance,
 * made zeroed the first time; the same figures again for an instance of the
 * same version with the same features and labels (a reload), fresh ones
 * when they differ (the old ones are then dropped once retired). Kept until
 * the matching md_dataq_detach. Takes the registry's mutex: not for the hot
 * path.
 */
struct md_dataq_version *md_dataq_attach(struct md_dataq *dq, const struct md_dataq_shape *shape);
/* The instance that attached v is gone; at the last, v is retired. NULL ok. */
void md_dataq_detach(struct md_dataq *dq, struct md_dataq_version *v);
/* An archived version: its series go now, or once retired when an instance still uses them. */
void md_dataq_forget(struct md_dataq *dq, const char *model, int64_t version);

/* ---- the hot path ----------------------------------------------------------- */

/*
 * One request's updates: md_dataq_begin finds the bucket of the minute now,
 * then the calls below add to it and to the totals. A stack value; every
 * call is thread-safe (relaxed atomics).
 */
struct md_dataq_update {
    struct md_dataq_version *v; /* private */
    void *bucket;               /* private */
};

void md_dataq_begin(struct md_dataq_version *v, struct md_dataq_update *u);
/* A request reached v with rows rows of values checked (0: none could be read). */
void md_dataq_request(const struct md_dataq_update *u, uint64_t rows);
/* Of those rows, n had feature f (its index in the shape) missing / out of range. */
void md_dataq_missing(const struct md_dataq_update *u, size_t f, uint64_t n);
void md_dataq_out_of_range(const struct md_dataq_update *u, size_t f, uint64_t n);
/* The request was refused for reason r, naming feature f (SIZE_MAX: none). */
void md_dataq_rejected(const struct md_dataq_update *u, enum md_dataq_reason r, size_t f);

/* What a request predicted: filled by the caller, then md_dataq_predicted. */
struct md_dataq_outputs {
    uint64_t rows;                          /* rows predicted */
    uint64_t labels[MD_DATAQ_LABELS + 1];   /* rows per label (index in the shape; the last
                                               for those past the cap) */
    uint64_t score[MD_DATAQ_SCORE_MAX + 1]; /* rows per score bucket (md_dataq_score_bucket) */
    double score_sum;                       /* of the scores of the rows, finite ones */
};

/* Clears o for a request (only the fields a version of v's shape uses). */
void md_dataq_outputs_clear(const struct md_dataq_version *v, struct md_dataq_outputs *o);
/* Counts a row of label `label` (ignored for a regression) and score x into o. */
void md_dataq_outputs_add(const struct md_dataq_version *v, struct md_dataq_outputs *o,
                          size_t label, double x);
void md_dataq_predicted(const struct md_dataq_update *u, const struct md_dataq_outputs *o);
/* The same for a request of one row: its label and score. */
void md_dataq_predicted_one(const struct md_dataq_update *u, size_t label, double x);

/*
 * The class of a refusal's message and the feature it names (its index in
 * v's shape, past MD_DATAQ_FEATURES the "_other" slot MD_DATAQ_FEATURES;
 * SIZE_MAX when it names none or one v does not have), from the messages
 * of serve/ ("feature 'age' row 2: 130 above max 120", "input 'age'
 * element 0: expected FP32, got string", "key 'txn': missing"). decode:
 * the body failed to decode (a message that names no input is then
 * MD_DQ_MALFORMED).
 */
enum md_dataq_reason md_dataq_classify(const struct md_dataq_version *v, const char *msg,
                                       bool decode, size_t *feature);

/* ---- readers -------------------------------------------------------------- */

/* Appends the data-quality families of /metrics (HELP, TYPE and series) to b. */
void md_dataq_prom(struct md_dataq *dq, struct md_buf *b);

/*
 * Appends the JSON document of GET /api/v1/models/{m}/data-quality for
 * model (version 0: every version kept; window_ms 0: the totals, else the
 * last window_ms, at most MD_DATAQ_MINUTES minutes, ending at now_ms).
 * MD_ENOTFOUND when version is given and has no series; a failed write
 * stays in b.
 */
int md_dataq_json(struct md_dataq *dq, const char *model, int64_t version, int64_t window_ms,
                  int64_t now_ms, struct md_buf *b, struct md_err *err) MD_MUST_CHECK;

/* Whether any version of model has series. */
bool md_dataq_has_model(struct md_dataq *dq, const char *model);

/*
 * Registers the named metrics of data quality with s (ctx dq):
 * missing_rate:<feature>, out_of_range_rate:<feature>, rejected_rate,
 * unseen_category_rate:<feature>, predicted_rate:<label>, score_mean.
 */
int md_dataq_signals(struct md_dataq *dq, struct md_signals *s, struct md_err *err) MD_MUST_CHECK;

#endif
