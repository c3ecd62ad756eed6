/* SPDX-License-Identifier: MIT */
/*
 * backend.h: the one seam between serving and engines.
 *
 * An engine exports one `const struct md_backend_ops md_backend_<name>` and is
 * listed in registry.c. The serving layer hands an engine a dense row-major
 * float matrix (NaN = missing value) whose columns follow the model contract's
 * prepared columns, and gets n_outputs floats per row back.
 */
#ifndef MD_BACKEND_BACKEND_H
#define MD_BACKEND_BACKEND_H

#include "util/common.h"
#include "util/err.h"

#define MD_BACKEND_ABI 2

/* What the per-row outputs of an engine mean. */
enum md_backend_out {
    MD_BACKEND_OUT_PROBABILITY = 1,   /* binary classifier: 1 value, P(class 1) */
    MD_BACKEND_OUT_PROBABILITIES = 2, /* multi-class: n_outputs values summing to 1 */
    MD_BACKEND_OUT_VALUE = 3          /* regression: 1 value */
};

/* A backend-specific option from model.yaml's `engine:` map, as text. */
struct md_kv {
    const char *key;
    const char *value;
};

struct md_backend_config {
    const struct md_kv *options; /* engine options, borrowed for the load call */
    size_t n_options;
};

struct md_backend_desc {
    size_t n_features;                /* columns per input row */
    size_t n_outputs;                 /* values per output row */
    enum md_backend_out kind;         /* meaning of the outputs */
    const char *const *feature_names; /* NULL, or n_features names recorded in the artifact;
                                         owned by the instance */
    const char *objective;            /* e.g. "binary:logistic"; owned by the instance */
};

/* How learn updates weights (serve/improve.h's `online:` section). */
struct md_learn_config {
    int algo;             /* 1: SGD, 2: FTRL-Proximal (logistic models only) */
    double learning_rate; /* SGD's step, > 0 */
    double alpha, beta;   /* FTRL's rate parameters, > 0 and >= 0 */
    double l1, l2;        /* regularisation, >= 0 */
    double clip;          /* a gradient's entries within [-clip, clip]; 0: none */
    double max_weight;    /* weights within [-max_weight, max_weight]; 0: none */
};

/* What a native training learns from (train). */
struct md_train_data {
    const float *x;                   /* n_rows * n_features, row-major, NaN = missing */
    const float *y;                   /* n_rows: a class index (0 .. n_classes - 1) or a value */
    const float *w;                   /* n_rows weights > 0, or NULL: every row 1 */
    size_t n_rows;                    /* >= 1 */
    size_t n_features;                /* >= 1 */
    const char *const *feature_names; /* n_features column names (the contract's prepared
                                         columns), recorded in the artifact */
    enum md_backend_out kind;         /* what the trained model outputs */
    size_t n_classes;                 /* classification: >= 2; regression: 0 */
    unsigned threads;                 /* threads it may use, >= 1 */
};

struct md_backend_ops {
    int abi;          /* MD_BACKEND_ABI when the engine was built */
    const char *name; /* "trees", "xgboost", "linear": the model.yaml `backend:` value */

    /*
     * Loads the artifact at path. On success *inst is the engine's instance;
     * on failure returns MD_EIO (unreadable), MD_ECORRUPT (malformed or
     * truncated), MD_EUNSUPPORTED (valid but not something this engine runs;
     * a pickle, see md_backend_refuse_pickle) or MD_EINVAL (bad option), with
     * a message naming what is wrong.
     */
    int (*load)(const char *path, const struct md_backend_config *cfg, void **inst,
                struct md_err *err);

    /* Fills out; pointers in it live as long as inst. */
    void (*describe)(const void *inst, struct md_backend_desc *out);

    /*
     * x: n_rows * n_features floats, row-major, NaN = missing.
     * out: n_rows * n_outputs floats. Safe to call from many threads at once
     * on one instance.
     */
    int (*predict)(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err);

    /* Optional (NULL): online update from labelled rows (y: the class index, or the value),
     * by the rule learn_config set (plain SGD until then). */
    int (*learn)(void *inst, const float *x, const float *y, size_t n_rows, struct md_err *err);

    /* Optional (NULL): how learn updates inst from now on. MD_EINVAL naming the setting
     * the engine cannot use (FTRL on a model that is not logistic). */
    int (*learn_config)(void *inst, const struct md_learn_config *cfg, struct md_err *err);

    /* Optional (NULL): writes inst as it is now (learned weights included) as an artifact
     * at out_path that load reads back. */
    int (*save)(void *inst, const char *out_path, struct md_err *err);

    /* Optional (NULL): replaces what inst has learned by src's (an instance of the same
     * engine and shape; MD_EINVAL otherwise), as one change predictions see whole. */
    int (*assign)(void *inst, const void *src, struct md_err *err);

    /* Optional (NULL): each column's contribution to each row's raw score (the margin,
     * before the link function), then the bias: n_groups * (n_features + 1) floats per
     * row, n_groups = n_outputs for a multi-class model, else 1; as libxgboost's
     * pred_contribs gives them for trees (SHAP values: a row's entries sum to its margin). */
    int (*explain)(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err);

    /* Optional (NULL): trains a new artifact from d with parameters params (the training
     * section's `params:`; those absent are taken from the artifact at parent, when not
     * NULL, else the engine's defaults) and writes it to out_path. MD_EINVAL naming a bad
     * parameter or what the data lacks. Runs in a helper process, never in the daemon. */
    int (*train)(const struct md_backend_config *params, const struct md_train_data *d,
                 const char *parent, const char *out_path, struct md_err *err);

    void (*free)(void *inst);
};

/*
 * Reads the whole regular file at path (at most 1 GiB) into *out (malloc'd,
 * NUL-terminated; the caller frees it) and its length into *len. MD_EIO when
 * it cannot be opened or read or is not a regular file, MD_EUNSUPPORTED when
 * it is too large, MD_ENOMEM; the message names the path.
 */
int md_backend_read_artifact(const char *path, char **out, size_t *len,
                             struct md_err *err) MD_MUST_CHECK;

/*
 * Whether the artifact at path, whose first len bytes are head, is a Python
 * pickle: it opens with a pickle's protocol 2 to 5 marker (0x80, then the
 * protocol), or its name ends in .pkl, .pickle or .joblib (any case).
 */
bool md_backend_is_pickle(const char *path, const char *head, size_t len);

/*
 * Every engine's load calls this on its artifact before anything else reads
 * it: MD_OK when it is not a pickle, else MD_EUNSUPPORTED with a message
 * saying that pickles are never loaded (they run code) and then export, the
 * engine's way to write its own format instead (e.g. "save the booster with
 * booster.save_model('model.json')").
 */
int md_backend_refuse_pickle(const char *path, const char *head, size_t len, const char *export,
                             struct md_err *err) MD_MUST_CHECK;

/*
 * For engines whose only option is `nthread`: its value (1..max) into
 * *nthread, left as it is when the option is absent; any other key, or a
 * value out of range, is MD_EINVAL naming it (engine names the backend).
 */
int md_backend_nthread_option(const struct md_backend_config *cfg, const char *engine, long max,
                              long *nthread, struct md_err *err) MD_MUST_CHECK;

#endif
