/* SPDX-License-Identifier: MIT */
/*
 * contract.h: a model's contract, read from REPO/<model>/model.yaml, and the
 * feature preparation that turns request tensors into the engine's matrix.
 *
 * The contract names the features a caller sends (datatype, required or
 * optional with a missing-value policy, range, allowed categories and their
 * encoding), the outputs, the task and the backend. Preparation checks every
 * value against it before any engine sees a row, and writes one float row per
 * example in "prepared column" order:
 *   - features in declared order;
 *   - a numeric or BOOL feature is one column named as the feature;
 *   - a categorical feature with encoding onehot is one column per category,
 *     in declared order, named "<feature>=<category>", 1 for the category
 *     sent and 0 for the others;
 *   - a categorical feature with encoding ordinal is one column named as the
 *     feature holding the category's index (0-based);
 *   - a missing value (JSON null, an absent optional feature, or a NaN sent
 *     for a feature without allow_nan) is NaN with the `nan` policy (every
 *     column of a one-hot feature NaN), or the feature's default with the
 *     `default` policy; a feature with allow_nan takes NaN as a value.
 * A contract is immutable once parsed and owned by whoever parsed it.
 */
#ifndef MD_SERVE_CONTRACT_H
#define MD_SERVE_CONTRACT_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"
#include "serve/tensor.h"
#include "backend/backend.h"
#include "watch/drift.h"
#include "serve/improve.h"

/* Limits on a model.yaml, so that no file can make parsing unbounded. */
#define MD_CONTRACT_MAX_BYTES      (4u << 20) /* model.yaml text */
#define MD_CONTRACT_MAX_FEATURES   10000      /* features */
#define MD_CONTRACT_MAX_CATEGORIES 100000     /* categories of all features together */
#define MD_CONTRACT_MAX_NAME       128        /* bytes of a name (feature, output, key) */
#define MD_CONTRACT_MAX_TEXT       256        /* bytes of a category, label or option */
#define MD_CONTRACT_MAX_KEYS       64         /* keys */
#define MD_KEY_MAX_LENGTH          4096       /* a string key's max_length, at most */
#define MD_KEY_DEFAULT_LENGTH      256        /* a string key's max_length when not given */
#define MD_KEY_INT64_LENGTH        20 /* bytes of the longest int64 key: -9223372036854775808 */

enum md_task {
    MD_TASK_CLASSIFICATION = 1,
    MD_TASK_REGRESSION = 2,
};

enum md_encoding {
    MD_ENC_NONE = 0,   /* numeric value as is */
    MD_ENC_ONEHOT = 1, /* one column per category */
    MD_ENC_ORDINAL = 2 /* the category's index */
};

enum md_missing {
    MD_MISSING_REJECT = 0, /* required: a missing value is a 400 */
    MD_MISSING_NAN = 1,    /* pass NaN; tree engines follow default directions */
    MD_MISSING_DEFAULT = 2 /* use the feature's default */
};

/* What the prediction log keeps of a feature (model.yaml `pii:`). */
enum md_pii {
    MD_PII_NONE = 0, /* not personal data: logged as sent */
    MD_PII_DROP = 1, /* left out of the log */
    MD_PII_HASH = 2, /* logged as HMAC-SHA256 of its text, keyed by --pii-key-file */
    MD_PII_KEEP = 3  /* logged as sent, marked personal (encrypted at rest once the store is) */
};

enum md_output_kind {
    MD_OUT_PROBABILITY = 1, /* classification: [N,1] P(labels[1]) if binary, else [N,C] */
    MD_OUT_LABEL = 2,       /* classification: [N,1] BYTES, the predicted label */
    MD_OUT_PREDICTION = 3   /* regression: [N,1] the predicted value */
};

struct md_feature {
    char *name;                /* unique within the contract */
    enum md_dtype dtype;       /* FP32, FP64, INT32, INT64, BOOL or BYTES */
    bool required;             /* default true */
    enum md_missing missing;   /* REJECT iff required */
    bool has_min, has_max;     /* range checks on numeric values (inclusive) */
    double min, max;           /* valid when has_min / has_max */
    bool allow_nan;            /* FP only: NaN/Inf values accepted (default false) */
    char **categories;         /* NULL, or n_categories allowed values as text; required
                                  for BYTES, optional for INT32/INT64 */
    size_t n_categories;       /* >= 1 when categories != NULL */
    enum md_encoding encoding; /* NONE unless categories; default ONEHOT for categories */
    double default_number;     /* MD_MISSING_DEFAULT on a numeric/BOOL feature */
    size_t default_category;   /* MD_MISSING_DEFAULT on a categorical feature: its index */
    size_t column;             /* first prepared column */
    size_t width;              /* prepared columns: n_categories for ONEHOT, else 1 */
    enum md_pii pii;           /* `pii:`: what the prediction log keeps; NONE when absent */

    /* private: lookup data built at parse time for md_contract_prepare */
    size_t *cat_len;     /* private: byte length of each category */
    int64_t *cat_int;    /* private: INT32/INT64 categories as integers, else NULL */
    uint32_t *cat_slots; /* private: NULL (16 categories or fewer: linear scan), or a
                            hash index of cat_mask + 1 slots, 0 or 1 + category index */
    size_t cat_mask;     /* private */
    double lo, hi;       /* private: accepted numeric range: [min, max] narrowed to
                            the datatype's range and to finite floats */
    bool integral;       /* private: INT and BOOL features take whole values only */
};

enum md_key_type {
    MD_KEY_STRING = 0, /* a JSON string (a header's text) */
    MD_KEY_INT64 = 1   /* a JSON integer (a header's plain decimal), within int64 */
};

/*
 * A request field that is checked and logged but never sent to an engine
 * (model.yaml `keys:`). Its name is no feature's and not input_tensor, so
 * a field of a request is a feature or a key, never both.
 */
struct md_key {
    char *name;            /* [A-Za-z0-9_.-]+, unique among keys */
    enum md_key_type type; /* default STRING */
    bool required;         /* default false */
    size_t max_length;     /* bytes of a value: STRING 1..MD_KEY_MAX_LENGTH (default
                              MD_KEY_DEFAULT_LENGTH); INT64 MD_KEY_INT64_LENGTH */
    char *header;          /* the HTTP header that may carry it, or NULL; an HTTP token */
    char *description;     /* or NULL */
    bool subject;          /* `subject: true`: the id of the person the row is about (at
                              most one key of a contract); the log keeps a keyed hash of it
                              by which erasure finds the subject's rows */
};

struct md_output {
    char *name;               /* as callers see it */
    enum md_output_kind kind; /* what it carries */
    enum md_dtype dtype;      /* FP32 or FP64 for numbers, BYTES for labels */
};

enum md_policy_kind {
    MD_POLICY_LATEST = 0,  /* the newest `latest` loadable versions (default 1) */
    MD_POLICY_ALL = 1,     /* every version on disk */
    MD_POLICY_SPECIFIC = 2 /* only the listed versions */
};

struct md_version_policy {
    enum md_policy_kind kind;
    unsigned latest;   /* LATEST: how many, >= 1 */
    int64_t *versions; /* SPECIFIC: sorted ascending, unique, each >= 1 */
    size_t n_versions;
};

/* Limits on the batching keys. */
#define MD_BATCH_MAX_ROWS          65536       /* max_batch_size */
#define MD_BATCH_MAX_DELAY_US      10000000u   /* max_queue_delay_us: 10 s */
#define MD_BATCH_MAX_QUEUE         1000000u    /* max_queue_size */
#define MD_BATCH_MAX_PREFERRED     16          /* preferred_batch_sizes entries */
#define MD_BATCH_MAX_INSTANCES     64          /* instances */
#define MD_CONTRACT_MAX_TIMEOUT_US 3600000000u /* timeout_us: an hour */

/* model.yaml's dynamic_batching: requests queue and run in shared engine calls. */
struct md_batching {
    bool enabled;                /* the key is present; false: requests run inline */
    size_t max_batch_size;       /* rows per engine call, 1..MD_BATCH_MAX_ROWS; default 64 */
    uint64_t max_queue_delay_us; /* longest wait of a batch's first request; default 500 */
    size_t *preferred;           /* n_preferred sizes, ascending, unique, <= max_batch_size */
    size_t n_preferred;
    size_t max_queue_size; /* requests waiting before refusals; default 1024 */
};

struct md_contract {
    char *name;        /* the model's name (its directory) */
    char *description; /* may be NULL */
    char *backend;     /* engine name, as in backend/registry.c */
    char *artifact;    /* file name inside a version dir; default "model.json" */
    enum md_task task;
    char **labels; /* classification: n_labels >= 2 class names, engine order */
    size_t n_labels;
    double threshold;   /* binary classification: P >= threshold -> labels[1]; 0.5 */
    char *input_tensor; /* name of the 2-D input alternative; default "features" */
    struct md_feature *features;
    size_t n_features;
    size_t width;              /* prepared columns in all */
    char **column_names;       /* width names, as described above */
    struct md_output *outputs; /* default: probability + label, or prediction */
    size_t n_outputs;
    struct md_version_policy policy;
    struct md_kv *engine; /* `engine:` options, keys and values as text */
    size_t n_engine;
    struct md_batching batching;        /* dynamic_batching; enabled false when absent */
    unsigned instances;                 /* batch workers, 1..MD_BATCH_MAX_INSTANCES; default 1 */
    uint64_t timeout_us;                /* default request deadline in µs; 0 = none */
    bool serve_new;                     /* new_versions: serve (true, the default) or register: a
                                           version found in the directory takes the traffic */
    struct md_key *keys;                /* n_keys keys, in model.yaml order; NULL when none */
    size_t n_keys;                      /* 0..MD_CONTRACT_MAX_KEYS */
    struct md_drift_config drift;       /* `drift:`, with the defaults of md_drift_config_default */
    double log_features;                /* `logging: {features: F}`: the share of requests whose
                                           features the prediction log keeps, 0..1; default 1 */
    struct md_training_config training; /* `training:` (serve/improve.h) */
    struct md_trigger_config triggers;  /* `triggers:` */
    struct md_online_config online;     /* `online:` */
    struct md_review_config review;     /* `review:` */

    /* private: memory and lookup data for md_contract_prepare */
    struct md_arena mem;  /* private: holds every allocation of the contract */
    uint32_t *name_slots; /* private: hash index of feature names, name_mask + 1
                             slots, each 0 or 1 + feature index */
    size_t name_mask;     /* private */
    float *lo32, *hi32;   /* private: n_features bounds as floats (the 2-D fast path) */
    uint8_t *integral;    /* private: n_features flags, f->integral */
    float *fill32;        /* private: n_features values of a missing entry (NaN or the default) */
    uint8_t *miss_ok;     /* private: n_features flags, a missing entry takes fill32 */
    bool plain;           /* private: no categorical feature, so width == n_features */
    bool any_integral;    /* private: some feature is INT or BOOL */
    const struct md_feature *bytes_feature; /* private: the first BYTES feature, or NULL */
};

/*
 * Parses model.yaml text for the model in directory `name`. On success *out
 * is a new contract (free with md_contract_free). MD_EINVAL with a message
 * naming the key (e.g. "features[2].datatype: 'FLOAT' is not one of FP32,
 * FP64, INT32, INT64, BOOL, BYTES") for anything malformed or inconsistent,
 * over the MD_CONTRACT_MAX_* limits included; MD_ENOMEM. name may be NULL
 * when the directory is not known: the `name:` key is then required.
 */
int md_contract_parse(const char *text, size_t len, const char *name, struct md_contract **out,
                      struct md_err *err) MD_MUST_CHECK;

/* Reads and parses a model.yaml file; MD_EIO if unreadable. */
int md_contract_load(const char *path, const char *name, struct md_contract **out,
                     struct md_err *err) MD_MUST_CHECK;

void md_contract_free(struct md_contract *c);

/* The feature called name, or NULL. */
const struct md_feature *md_contract_feature(const struct md_contract *c, const char *name);

/* The key called name (len bytes, not NUL-terminated), or NULL. */
const struct md_key *md_contract_key(const struct md_contract *c, const char *name, size_t len);

/*
 * Checks that an engine fits the contract: prepared width equals
 * desc->n_features; classification with 2 labels needs PROBABILITY with 1
 * output, with C > 2 labels PROBABILITIES with C outputs; regression needs
 * VALUE; when the artifact names its features they must equal column_names.
 * MD_EINVAL with a message saying what differs: for a width mismatch of an
 * artifact that names its features, the first column where the names part.
 */
int md_contract_check_engine(const struct md_contract *c, const struct md_backend_desc *desc,
                             struct md_err *err) MD_MUST_CHECK;

/*
 * Validates request inputs and writes the engine matrix.
 *
 * Two forms are accepted:
 *   - columnar: one tensor per feature, named as the feature, datatype equal
 *     to the feature's, shape [N] or [N,1]; every tensor has the same N; an
 *     absent optional feature counts as missing in every row;
 *   - 2-D: exactly one tensor named c->input_tensor, shape [N, n_features],
 *     any numeric datatype, columns in declared feature order; only when no
 *     feature is BYTES.
 * Checks (each a MD_EINVAL naming the input or feature, the row when it
 * applies, and the reason): unknown input name, duplicate input, wrong
 * datatype, wrong shape, differing row counts, missing required feature or
 * null or NaN value for it, Inf where not allowed, value outside [min,max],
 * unknown category, non-integer value for an integer feature in 2-D form.
 * On success *x is arena memory holding *n_rows * c->width floats.
 */
int md_contract_prepare(const struct md_contract *c, const struct md_tensor *inputs,
                        size_t n_inputs, struct md_arena *a, float **x, size_t *n_rows,
                        struct md_err *err) MD_MUST_CHECK;

/*
 * The external trainers the daemon's configuration file names (names
 * borrowed: they must outlive every parse). From then on a model.yaml
 * whose training.trainer names another is refused ("training.trainer:
 * 'x' is not a trainer of the daemon's configuration file"). Until it is
 * called (tools that read model.yaml without the daemon's configuration)
 * any name is accepted. Call before the threads that parse contracts start.
 */
void md_contract_set_trainers(const char *const *names, size_t n);

/*
 * Whether contract n accepts every request contract o (the champion's)
 * accepts: MD_OK, or MD_EINVAL naming the first field that would refuse
 * one (contract_compat.c).
 */
int md_contract_accepts(const struct md_contract *n, const struct md_contract *o,
                        struct md_err *err) MD_MUST_CHECK;

#endif
