/* SPDX-License-Identifier: MIT */
/*
 * linear.c: the "linear" engine. Runs linear regression, binary logistic
 * regression and multinomial (softmax) logistic regression read from the
 * modeld-linear JSON artifact (docs/linear.md), updates the weights online
 * (learn: stochastic gradient descent, or FTRL-Proximal for logistic models,
 * as learn_config says), writes them back as an artifact (save), takes
 * another instance's weights (assign) and explains a score as its terms
 * (explain).
 *
 * An instance's shape (kind, feature names, standardisation) never changes
 * after load; its weights do. The weights a prediction uses are an immutable
 * block published through an atomic pointer: predict reads it inside an
 * epoch read section (util/epoch.h), with no lock, so it never waits for a
 * learner and never sees a half-written update. Learn calls are serialised
 * by a mutex: the learner keeps its own working copy of the weights (and
 * FTRL's per-coordinate state), updates it, copies it into the spare block
 * and swaps that in; once a grace period has passed the block it replaced
 * is the next spare. A learn call that fails leaves the weights, and the
 * learner's state, as they were.
 *
 * Feature preparation (categories, defaults) is the contract's job; this file
 * sees dense float rows whose NaN cells are missing values, and fills them
 * from the artifact's `impute` values when it has them (an exporter carries
 * a scikit-learn SimpleImputer's statistics there).
 */
#include "backend/linear_int.h"
#include "util/common.h"
#include "util/epoch.h"
#include "util/mem.h"
#include "util/sys.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#define FORMAT_NAME           "modeld-linear"
#define FORMAT_VERSION        1
#define ARTIFACT_MAX_BYTES    ((size_t)256 << 20)
#define DEFAULT_LEARNING_RATE 0.01
#define STACK_CLASSES         32 /* predict's score buffer lives on the stack up to this */
#define ALGO_SGD              1  /* struct md_learn_config's algo values */
#define ALGO_FTRL             2

enum kind {
    KIND_LINEAR = 0,     /* one output: the score */
    KIND_LOGISTIC = 1,   /* one output: sigmoid(score) */
    KIND_MULTINOMIAL = 2 /* n_classes outputs: softmax(scores) */
};

static const char *const kind_names[] = {"linear", "logistic", "multinomial"};
static const char *const objectives[] = {"linear:regression", "linear:logistic",
                                         "linear:multinomial"};

/*
 * A block of weights: n_classes * n_features weights, row-major by class,
 * then n_classes intercepts (nw + n_classes doubles in all). Immutable while
 * published.
 */

struct md_linear {
    /* Shape: written by load, read-only afterwards. */
    enum kind kind;
    size_t n_features;    /* columns per row, >= 1 */
    size_t n_classes;     /* weight rows: 1 (linear, logistic) or >= 2 (multinomial) */
    size_t nw;            /* n_classes * n_features */
    char **feature_names; /* n_features unique non-empty names */
    double *mean;         /* NULL, or n_features finite standardisation means */
    double *scale;        /* NULL (iff mean is), or n_features finite scales > 0 */
    double *fill_z;       /* NULL (no impute), or n_features standardised values a missing
                             cell stands for; NaN = no fill, a missing cell is refused */
    double *impute;       /* NULL, or the artifact's n_features impute values (NaN: null), as
                             save writes them back */
    json_t *metadata;     /* NULL, or the artifact's metadata object (save copies it) */

    /* The published weights: predict loads the pointer inside an epoch section. */
    _Atomic(double *) cur; /* nw + n_classes doubles, immutable while published */

    /* Learner state: learn_mu serialises learn, learn_config, save and assign. */
    pthread_mutex_t learn_mu;
    struct md_learn_config cfg; /* the update rule (SGD at learning_rate until learn_config) */
    double *spare;              /* the block the next publication fills */
    double *lw;                 /* the learner's working weights: equal to *cur between calls */
    double *undo;               /* lw (and FTRL's state) before a learn call, to go back */
    double *ftrl_z, *ftrl_n;    /* FTRL-Proximal's per-coordinate state, nw + n_classes each;
                                   NULL unless cfg.algo is FTRL */
    double *scores;             /* n_classes: per-row scores and gradients */
    uint64_t n_learned;         /* rows learned since load */
    bool locks_ready;           /* learn_mu was initialised (free destroys it) */
};

/* ------------------------------------------------------------------------ */
/* Numerics                                                                  */
/* ------------------------------------------------------------------------ */

/* The logistic function, without overflow for large |s|. */
static double sigmoid(double s)
{
    double e;

    if (s >= 0)
        return 1.0 / (1.0 + exp(-s));
    e = exp(s);
    return e / (1.0 + e);
}

/* Replaces s[0..n) by softmax(s), subtracting the maximum first so exp never overflows. */
static void softmax(double *s, size_t n)
{
    double mx = s[0];
    double sum = 0;
    size_t k;

    for (k = 1; k < n; k++)
        if (s[k] > mx)
            mx = s[k];
    for (k = 0; k < n; k++) {
        s[k] = exp(s[k] - mx);
        sum += s[k];
    }
    for (k = 0; k < n; k++)
        s[k] /= sum;
}

/*
 * The value the weights apply to for cell x of column j: (x - mean) / scale,
 * or x without standardisation. A NaN cell is a missing value: it takes the
 * column's fill_z when the artifact has `impute`, else 0 (it stands for the
 * standardisation mean, or for 0 without standardisation). NaN only when the
 * column's impute is null; the caller refuses the row then.
 */
static inline double cell_z(const struct md_linear *m, double x, size_t j)
{
    if (isnan(x))
        return m->fill_z != NULL ? m->fill_z[j] : 0.0;
    if (m->mean != NULL)
        return (x - m->mean[j]) / m->scale[j];
    return x;
}

/*
 * Scores of one row with weights w, b into s[0..n_classes), missing cells
 * filled as cell_z says. MD_EINVAL for an infinite cell, a missing cell in a
 * column without a fill, or a score that overflows.
 */
static int row_scores(const struct md_linear *m, const double *w, const double *b, const float *row,
                      size_t r, double *s, struct md_err *err)
{
    size_t nf = m->n_features;
    size_t j;
    size_t k;

    for (k = 0; k < m->n_classes; k++)
        s[k] = b[k];
    for (j = 0; j < nf; j++) {
        double z = row[j];

        /* cell_z() spelled out, so a sent value costs what it did before impute */
        if (isnan(z)) {
            if (m->fill_z == NULL)
                continue;
            z = m->fill_z[j];
            if (isnan(z))
                return md_err_set(err, MD_EINVAL,
                                  "row %zu, column %zu ('%.64s'): missing value, and the model "
                                  "has no fill for it (impute is null)",
                                  r, j, m->feature_names[j]);
        } else if (isinf(z)) {
            return md_err_set(err, MD_EINVAL, "row %zu, column %zu ('%.64s'): infinite value", r, j,
                              m->feature_names[j]);
        } else if (m->mean != NULL) {
            z = (z - m->mean[j]) / m->scale[j];
        }
        for (k = 0; k < m->n_classes; k++)
            s[k] += w[k * nf + j] * z;
    }
    for (k = 0; k < m->n_classes; k++)
        if (!isfinite(s[k]))
            return md_err_set(err, MD_EINVAL,
                              "row %zu: score is not finite (input values too large for the model)",
                              r);
    return MD_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */
/* ------------------------------------------------------------------------ */

static void lin_free(void *inst)
{
    struct md_linear *m = inst;
    size_t j;

    if (m == NULL)
        return;
    if (m->feature_names != NULL)
        for (j = 0; j < m->n_features; j++)
            free(m->feature_names[j]);
    free(m->feature_names);
    free(m->mean);
    free(m->scale);
    free(m->fill_z);
    free(m->impute);
    if (m->metadata != NULL)
        json_decref(m->metadata);
    free(atomic_load(&m->cur));
    free(m->spare);
    free(m->lw);
    free(m->undo);
    free(m->ftrl_z);
    free(m->ftrl_n);
    free(m->scores);
    if (m->locks_ready)
        pthread_mutex_destroy(&m->learn_mu);
    free(m);
}

static int parse_options(const struct md_backend_config *cfg, struct md_linear *m,
                         struct md_err *err)
{
    size_t i;

    m->cfg.algo = ALGO_SGD;
    m->cfg.learning_rate = DEFAULT_LEARNING_RATE;
    if (cfg == NULL)
        return MD_OK;
    for (i = 0; i < cfg->n_options; i++) {
        const char *key = cfg->options[i].key;
        const char *val = cfg->options[i].value;
        char *end = NULL;
        double d;

        if (key == NULL || strcmp(key, "learning_rate") != 0)
            return md_err_set(err, MD_EINVAL,
                              "engine option '%.64s': unknown (known: learning_rate)",
                              key != NULL ? key : "");
        if (val == NULL || val[0] == '\0')
            return md_err_set(err, MD_EINVAL, "engine option 'learning_rate': empty value");
        errno = 0;
        d = strtod(val, &end);
        if (errno != 0 || *end != '\0' || !isfinite(d) || d <= 0)
            return md_err_set(err, MD_EINVAL,
                              "engine option 'learning_rate': '%.64s' is not a positive number",
                              val);
        m->cfg.learning_rate = d;
    }
    return MD_OK;
}

/*
 * Reads a JSON array of exactly n finite numbers at v into out. field names
 * it in messages; what says what n counts ("feature_names", "classes").
 */
static int read_numbers(const json_t *v, const char *field, size_t n, const char *what, double *out,
                        struct md_err *err)
{
    size_t i;

    if (!json_is_array(v))
        return md_err_set(err, MD_ECORRUPT, "%s: expected an array of %zu numbers", field, n);
    if (json_array_size(v) != n)
        return md_err_set(err, MD_ECORRUPT, "%s: %zu values for %zu %s", field, json_array_size(v),
                          n, what);
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);

        if (!json_is_number(e))
            return md_err_set(err, MD_ECORRUPT, "%s[%zu]: expected a number", field, i);
        out[i] = json_number_value(e);
        if (!isfinite(out[i]))
            return md_err_set(err, MD_ECORRUPT, "%s[%zu]: not a finite number", field, i);
    }
    return MD_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* feature_names: a non-empty array of unique non-empty strings; sets n_features. */
static int read_feature_names(const json_t *v, struct md_linear *m, struct md_err *err)
{
    char **sorted;
    size_t n;
    size_t j;

    if (v == NULL)
        return md_err_set(err, MD_ECORRUPT, "feature_names: missing");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return md_err_set(err, MD_ECORRUPT, "feature_names: expected a non-empty array of strings");
    n = json_array_size(v);
    m->feature_names = md_calloc(n, sizeof(*m->feature_names));
    if (m->feature_names == NULL)
        return md_err_set(err, MD_ENOMEM, "feature_names: out of memory for %zu names", n);
    m->n_features = n;
    for (j = 0; j < n; j++) {
        const json_t *e = json_array_get(v, j);

        /* jansson refuses \u0000 in strings, so a name is one C string */
        if (!json_is_string(e) || json_string_length(e) == 0)
            return md_err_set(err, MD_ECORRUPT, "feature_names[%zu]: expected a non-empty string",
                              j);
        m->feature_names[j] = strdup(json_string_value(e));
        if (m->feature_names[j] == NULL)
            return md_err_set(err, MD_ENOMEM, "feature_names: out of memory");
    }
    sorted = md_malloc(n * sizeof(*sorted));
    if (sorted == NULL)
        return md_err_set(err, MD_ENOMEM, "feature_names: out of memory for %zu names", n);
    memcpy(sorted, m->feature_names, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_names);
    for (j = 1; j < n; j++)
        if (strcmp(sorted[j - 1], sorted[j]) == 0) {
            md_err_set(err, MD_ECORRUPT, "feature_names: '%.64s' appears more than once",
                       sorted[j]);
            free(sorted);
            return MD_ECORRUPT;
        }
    free(sorted);
    return MD_OK;
}

/* format, format_version and kind: the keys that say whether this engine can read the rest. */
static int read_header(const json_t *root, struct md_linear *m, struct md_err *err)
{
    const json_t *v;
    const char *s;
    size_t i;

    v = json_object_get(root, "format");
    if (v == NULL)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "format: missing; not a '" FORMAT_NAME "' artifact");
    if (!json_is_string(v) || strcmp(json_string_value(v), FORMAT_NAME) != 0)
        return md_err_set(err, MD_EUNSUPPORTED, "format: '%.64s' is not '" FORMAT_NAME "'",
                          json_is_string(v) ? json_string_value(v) : "(not a string)");
    v = json_object_get(root, "format_version");
    if (v == NULL)
        return md_err_set(err, MD_ECORRUPT, "format_version: missing");
    if (!json_is_integer(v))
        return md_err_set(err, MD_ECORRUPT, "format_version: expected an integer");
    if (json_integer_value(v) != FORMAT_VERSION)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "format_version: %lld is not supported (this engine reads %d)",
                          (long long)json_integer_value(v), FORMAT_VERSION);
    v = json_object_get(root, "kind");
    if (v == NULL)
        return md_err_set(err, MD_ECORRUPT, "kind: missing (one of linear, logistic, multinomial)");
    if (!json_is_string(v))
        return md_err_set(err, MD_ECORRUPT, "kind: expected a string");
    s = json_string_value(v);
    for (i = 0; i < MD_ARRAY_LEN(kind_names); i++)
        if (strcmp(s, kind_names[i]) == 0) {
            m->kind = (enum kind)i;
            return MD_OK;
        }
    return md_err_set(err, MD_EUNSUPPORTED,
                      "kind: '%.64s' is not one of linear, logistic, multinomial", s);
}

static int check_keys(const json_t *obj, const char *where, const char *const *known, size_t n,
                      const char *known_text, struct md_err *err)
{
    const char *key;
    const json_t *v;
    size_t i;

    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;

        for (i = 0; i < n && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok)
            return md_err_set(err, MD_ECORRUPT, "%s'%.64s': unknown key (known: %s)", where, key,
                              known_text);
    }
    return MD_OK;
}

/* Allocates the weight blocks once n_features and n_classes are known. */
static int alloc_weights(struct md_linear *m, struct md_err *err)
{
    size_t n;

    if (!md_mul_ok(m->n_classes, m->n_features, &n))
        return md_err_set(err, MD_ECORRUPT, "weights: too many");
    m->nw = n;
    n += m->n_classes; /* no overflow: n_classes <= the weights' JSON array's size */
    atomic_store(&m->cur, md_calloc(n, sizeof(double)));
    m->spare = md_calloc(n, sizeof(double));
    m->lw = md_calloc(n, sizeof(double));
    m->undo = md_calloc(3 * n, sizeof(double)); /* lw, ftrl_z, ftrl_n */
    m->scores = md_calloc(m->n_classes, sizeof(double));
    if (atomic_load(&m->cur) == NULL || m->spare == NULL || m->lw == NULL || m->undo == NULL ||
        m->scores == NULL)
        return md_err_set(err, MD_ENOMEM, "weights: out of memory for %zu weights", n);
    return MD_OK;
}

/* weights, intercept and classes, once kind and n_features are known. */
static int read_weights(const json_t *root, struct md_linear *m, struct md_err *err)
{
    const json_t *w = json_object_get(root, "weights");
    const json_t *b = json_object_get(root, "intercept");
    const json_t *c = json_object_get(root, "classes");
    char field[48];
    size_t k;
    int rc;

    if (w == NULL)
        return md_err_set(err, MD_ECORRUPT, "weights: missing");
    if (m->kind == KIND_MULTINOMIAL) {
        if (!json_is_array(w) || json_array_size(w) < 2)
            return md_err_set(err, MD_ECORRUPT,
                              "weights: expected an array of at least 2 class rows for kind "
                              "'multinomial'");
        m->n_classes = json_array_size(w);
    } else {
        m->n_classes = 1;
    }
    rc = alloc_weights(m, err);
    if (rc != MD_OK)
        return rc;
    if (m->kind == KIND_MULTINOMIAL) {
        for (k = 0; k < m->n_classes; k++) {
            (void)snprintf(field, sizeof(field), "weights[%zu]", k); /* any size_t fits */
            rc = read_numbers(json_array_get(w, k), field, m->n_features, "feature_names",
                              m->lw + k * m->n_features, err);
            if (rc != MD_OK)
                return rc;
        }
        if (b != NULL) {
            rc = read_numbers(b, "intercept", m->n_classes, "classes (rows of weights)",
                              m->lw + m->nw, err);
            if (rc != MD_OK)
                return rc;
        }
    } else {
        rc = read_numbers(w, "weights", m->n_features, "feature_names", m->lw, err);
        if (rc != MD_OK)
            return rc;
        if (b != NULL) {
            if (!json_is_number(b))
                return md_err_set(err, MD_ECORRUPT, "intercept: expected a number for kind '%s'",
                                  kind_names[m->kind]);
            m->lw[m->nw] = json_number_value(b);
            if (!isfinite(m->lw[m->nw]))
                return md_err_set(err, MD_ECORRUPT, "intercept: not a finite number");
        }
    }
    if (c != NULL) {
        json_int_t want = m->kind == KIND_MULTINOMIAL ? (json_int_t)m->n_classes : 2;

        if (m->kind == KIND_LINEAR)
            return md_err_set(err, MD_ECORRUPT, "classes: not allowed for kind 'linear'");
        if (!json_is_integer(c))
            return md_err_set(err, MD_ECORRUPT, "classes: expected an integer");
        if (json_integer_value(c) != want)
            return md_err_set(err, MD_ECORRUPT, "classes: %lld, but the weights give %lld",
                              (long long)json_integer_value(c), (long long)want);
    }
    return MD_OK;
}

static int read_standardize(const json_t *root, struct md_linear *m, struct md_err *err)
{
    static const char *const known[] = {"mean", "scale"};
    const json_t *st = json_object_get(root, "standardize");
    size_t j;
    int rc;

    if (st == NULL || json_is_null(st))
        return MD_OK;
    if (!json_is_object(st))
        return md_err_set(err, MD_ECORRUPT, "standardize: expected an object with mean and scale");
    rc = check_keys(st, "standardize.", known, MD_ARRAY_LEN(known), "mean, scale", err);
    if (rc != MD_OK)
        return rc;
    if (json_object_get(st, "mean") == NULL)
        return md_err_set(err, MD_ECORRUPT, "standardize.mean: missing");
    if (json_object_get(st, "scale") == NULL)
        return md_err_set(err, MD_ECORRUPT, "standardize.scale: missing");
    m->mean = md_calloc(m->n_features, sizeof(double));
    m->scale = md_calloc(m->n_features, sizeof(double));
    if (m->mean == NULL || m->scale == NULL)
        return md_err_set(err, MD_ENOMEM, "standardize: out of memory");
    rc = read_numbers(json_object_get(st, "mean"), "standardize.mean", m->n_features,
                      "feature_names", m->mean, err);
    if (rc != MD_OK)
        return rc;
    rc = read_numbers(json_object_get(st, "scale"), "standardize.scale", m->n_features,
                      "feature_names", m->scale, err);
    if (rc != MD_OK)
        return rc;
    for (j = 0; j < m->n_features; j++)
        if (!(m->scale[j] > 0))
            return md_err_set(err, MD_ECORRUPT, "standardize.scale[%zu]: %g is not positive", j,
                              m->scale[j]);
    return MD_OK;
}

/*
 * impute: null or absent, or an array of n_features entries, each a finite
 * number (the value a missing cell stands for, before standardisation) or
 * null (no fill: a missing cell is refused). Stored standardised in fill_z,
 * so read after standardize.
 */
static int read_impute(const json_t *root, struct md_linear *m, struct md_err *err)
{
    const json_t *v = json_object_get(root, "impute");
    size_t j;

    if (v == NULL || json_is_null(v))
        return MD_OK;
    if (!json_is_array(v))
        return md_err_set(err, MD_ECORRUPT, "impute: expected an array of %zu numbers or nulls",
                          m->n_features);
    if (json_array_size(v) != m->n_features)
        return md_err_set(err, MD_ECORRUPT, "impute: %zu values for %zu feature_names",
                          json_array_size(v), m->n_features);
    m->fill_z = md_calloc(m->n_features, sizeof(double));
    m->impute = md_calloc(m->n_features, sizeof(double));
    if (m->fill_z == NULL || m->impute == NULL)
        return md_err_set(err, MD_ENOMEM, "impute: out of memory");
    for (j = 0; j < m->n_features; j++) {
        const json_t *e = json_array_get(v, j);
        double x;

        if (json_is_null(e)) {
            m->fill_z[j] = NAN;
            m->impute[j] = NAN;
            continue;
        }
        if (!json_is_number(e))
            return md_err_set(err, MD_ECORRUPT, "impute[%zu]: expected a number or null", j);
        x = json_number_value(e);
        if (!isfinite(x))
            return md_err_set(err, MD_ECORRUPT, "impute[%zu]: not a finite number", j);
        /*
         * In double precision, as scikit-learn's StandardScaler transforms an
         * imputed value, so a filled cell scores as the trained pipeline does.
         */
        m->impute[j] = x;
        m->fill_z[j] = m->mean != NULL ? (x - m->mean[j]) / m->scale[j] : x;
        if (!isfinite(m->fill_z[j]))
            return md_err_set(err, MD_ECORRUPT, "impute[%zu]: %g is too large to standardise", j,
                              x);
    }
    return MD_OK;
}

static int init_locks(struct md_linear *m, struct md_err *err)
{
    if (pthread_mutex_init(&m->learn_mu, NULL) != 0)
        return md_err_set(err, MD_EINTERNAL, "linear: cannot initialise a lock");
    m->locks_ready = true;
    return MD_OK;
}

static int parse_artifact(const json_t *root, struct md_linear *m, struct md_err *err)
{
    static const char *const known[] = {"format",  "format_version", "kind",    "feature_names",
                                        "weights", "intercept",      "classes", "standardize",
                                        "impute",  "metadata"};
    const json_t *meta;
    int rc;

    if (!json_is_object(root))
        return md_err_set(err, MD_ECORRUPT, "artifact: expected a JSON object");
    rc = read_header(root, m, err);
    if (rc != MD_OK)
        return rc;
    rc = check_keys(root, "", known, MD_ARRAY_LEN(known),
                    "format, format_version, kind, feature_names, weights, intercept, classes, "
                    "standardize, impute, metadata",
                    err);
    if (rc != MD_OK)
        return rc;
    meta = json_object_get(root, "metadata");
    if (meta != NULL && !json_is_object(meta))
        return md_err_set(err, MD_ECORRUPT, "metadata: expected an object");
    if (meta != NULL) {
        m->metadata = json_deep_copy(meta);
        if (m->metadata == NULL)
            return md_err_set(err, MD_ENOMEM, "metadata: out of memory");
    }
    rc = read_feature_names(json_object_get(root, "feature_names"), m, err);
    if (rc != MD_OK)
        return rc;
    rc = read_weights(root, m, err);
    if (rc != MD_OK)
        return rc;
    rc = read_standardize(root, m, err);
    if (rc != MD_OK)
        return rc;
    return read_impute(root, m, err);
}

int md_linear__load_buffer(const char *data, size_t len, const struct md_backend_config *cfg,
                           void **inst, struct md_err *err)
{
    struct md_linear *m;
    json_error_t jerr;
    json_t *root;
    int rc;

    *inst = NULL;
    m = md_xcalloc(1, sizeof(*m));
    rc = parse_options(cfg, m, err);
    if (rc != MD_OK)
        goto fail;
    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rc = md_err_set(err, MD_ECORRUPT, "artifact: invalid JSON at line %d, column %d: %s",
                        jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    rc = parse_artifact(root, m, err);
    json_decref(root);
    if (rc != MD_OK)
        goto fail;
    rc = init_locks(m, err);
    if (rc != MD_OK)
        goto fail;
    /* published by the caller's taking *inst (a pointer handed over after this store) */
    memcpy(atomic_load(&m->cur), m->lw, (m->nw + m->n_classes) * sizeof(double));
    *inst = m;
    return MD_OK;
fail:
    lin_free(m);
    return rc;
}

/* Reads the whole regular file at path into a new buffer (free with free()). */
static int read_file(const char *path, char **out, size_t *out_len, struct md_err *err)
{
    char ebuf[128];
    struct md_read_fail f;

    if (md_read_file(path, ARTIFACT_MAX_BYTES, out, out_len, &f, err) == MD_OK)
        return MD_OK;
    switch (f.why) {
    case MD_READ_OPEN:
        return md_err_set(err, MD_EIO, "artifact '%s': cannot open: %s", path,
                          strerror_r(f.errnum, ebuf, sizeof(ebuf)));
    case MD_READ_STAT:
    case MD_READ_DIR:
    case MD_READ_SPECIAL:
        return md_err_set(err, MD_EIO, "artifact '%s': not a regular file", path);
    case MD_READ_TOO_BIG:
        return md_err_set(err, MD_ECORRUPT, "artifact '%s': %llu bytes is over the %zu MiB limit",
                          path, (unsigned long long)f.size, ARTIFACT_MAX_BYTES >> 20);
    case MD_READ_NOMEM:
        return md_err_set(err, MD_ENOMEM, "artifact '%s': out of memory for %llu bytes", path,
                          (unsigned long long)f.size);
    case MD_READ_IO:
        break;
    }
    return md_err_set(err, MD_EIO, "artifact '%s': cannot read: %s", path,
                      strerror_r(f.errnum, ebuf, sizeof(ebuf)));
}

static int lin_load(const char *path, const struct md_backend_config *cfg, void **inst,
                    struct md_err *err)
{
    size_t len = 0;
    char *buf;
    int rc;

    *inst = NULL;
    rc = read_file(path, &buf, &len, err);
    if (rc != MD_OK)
        return rc;
    rc = md_backend_refuse_pickle(path, buf, len,
                                  "write modeld's linear artifact from the fitted estimator "
                                  "instead (docs/linear.md, producing an artifact)",
                                  err);
    if (rc == MD_OK)
        rc = md_linear__load_buffer(buf, len, cfg, inst, err);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Serving                                                                   */
/* ------------------------------------------------------------------------ */

static void lin_describe(const void *inst, struct md_backend_desc *out)
{
    const struct md_linear *m = inst;

    out->n_features = m->n_features;
    out->n_outputs = m->kind == KIND_MULTINOMIAL ? m->n_classes : 1;
    out->kind = m->kind == KIND_LINEAR     ? MD_BACKEND_OUT_VALUE
                : m->kind == KIND_LOGISTIC ? MD_BACKEND_OUT_PROBABILITY
                                           : MD_BACKEND_OUT_PROBABILITIES;
    out->feature_names = (const char *const *)m->feature_names;
    out->objective = objectives[m->kind];
}

/* Turns one row's scores s into its outputs. */
static int row_outputs(const struct md_linear *m, double *s, size_t r, float *out,
                       struct md_err *err)
{
    size_t k;

    switch (m->kind) {
    case KIND_LINEAR:
        if (fabs(s[0]) > FLT_MAX)
            return md_err_set(err, MD_EINVAL, "row %zu: prediction %g is out of FP32 range", r,
                              s[0]);
        out[0] = (float)s[0];
        break;
    case KIND_LOGISTIC:
        out[0] = (float)sigmoid(s[0]);
        break;
    case KIND_MULTINOMIAL:
        softmax(s, m->n_classes);
        for (k = 0; k < m->n_classes; k++)
            out[k] = (float)s[k];
        break;
    }
    return MD_OK;
}

/*
 * The standardised value of cell j of row r for scoring, or an explanation:
 * cell_z's value, with the same refusals as row_scores (an infinite cell, a
 * missing one without a fill).
 */
static int cell_checked(const struct md_linear *m, const float *row, size_t r, size_t j, double *z,
                        struct md_err *err)
{
    double x = row[j];

    if (isinf(x))
        return md_err_set(err, MD_EINVAL, "row %zu, column %zu ('%.64s'): infinite value", r, j,
                          m->feature_names[j]);
    *z = cell_z(m, x, j);
    if (isnan(*z))
        return md_err_set(err, MD_EINVAL,
                          "row %zu, column %zu ('%.64s'): missing value, and the model has no "
                          "fill for it (impute is null)",
                          r, j, m->feature_names[j]);
    return MD_OK;
}

static int lin_predict(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    struct md_linear *m = inst;
    size_t n_out = m->kind == KIND_MULTINOMIAL ? m->n_classes : 1;
    double stack[STACK_CLASSES];
    double *s = stack;
    const double *blk;
    int rc = MD_OK;
    size_t r;

    if (m->n_classes > STACK_CLASSES) {
        s = md_malloc(m->n_classes * sizeof(*s));
        if (s == NULL)
            return md_err_set(err, MD_ENOMEM, "linear: out of memory for %zu scores", m->n_classes);
    }
    /* No lock: the block stays whole and allocated until this section ends. */
    md_epoch_enter();
    blk = atomic_load(&m->cur);
    for (r = 0; r < n_rows && rc == MD_OK; r++) {
        rc = row_scores(m, blk, blk + m->nw, x + r * m->n_features, r, s, err);
        if (rc == MD_OK)
            rc = row_outputs(m, s, r, out + r * n_out, err);
    }
    md_epoch_exit();
    if (s != stack)
        free(s);
    return rc;
}

/*
 * Each row's terms: per class k (one for linear and logistic models), the
 * n_features products w[k][j] * z_j (z_j the standardised, imputed cell)
 * and the intercept b[k]; they sum to the row's score (the margin).
 */
static int lin_explain(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    struct md_linear *m = inst;
    size_t nf = m->n_features;
    size_t stride = m->n_classes * (nf + 1);
    const double *blk;
    int rc = MD_OK;
    size_t r;

    md_epoch_enter();
    blk = atomic_load(&m->cur);
    for (r = 0; r < n_rows && rc == MD_OK; r++) {
        const float *row = x + r * nf;
        float *o = out + r * stride;
        size_t j;
        size_t k;

        for (j = 0; j < nf && rc == MD_OK; j++) {
            double z = 0;

            rc = cell_checked(m, row, r, j, &z, err);
            for (k = 0; k < m->n_classes && rc == MD_OK; k++)
                o[k * (nf + 1) + j] = (float)(blk[k * nf + j] * z);
        }
        for (k = 0; k < m->n_classes && rc == MD_OK; k++)
            o[k * (nf + 1) + nf] = (float)blk[m->nw + k];
    }
    md_epoch_exit();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Online learning                                                           */
/* ------------------------------------------------------------------------ */

/* Checks every label before any weight moves, so a bad batch changes nothing. */
static int check_labels(const struct md_linear *m, const float *y, size_t n_rows,
                        struct md_err *err)
{
    size_t r;

    for (r = 0; r < n_rows; r++) {
        double v = y[r];

        if (!isfinite(v))
            return md_err_set(err, MD_EINVAL, "y[%zu]: not a finite number", r);
        if (m->kind == KIND_LOGISTIC && (v < 0 || v > 1))
            return md_err_set(err, MD_EINVAL, "y[%zu]: %g is not a probability in [0, 1]", r, v);
        if (m->kind == KIND_MULTINOMIAL && (v < 0 || v != floor(v) || v >= (double)m->n_classes))
            return md_err_set(err, MD_EINVAL, "y[%zu]: %g is not a class index in [0, %zu]", r, v,
                              m->n_classes - 1);
    }
    return MD_OK;
}

static double clip(double g, double c)
{
    if (c > 0) {
        if (g > c)
            return c;
        if (g < -c)
            return -c;
    }
    return g;
}

/* FTRL-Proximal's weight for a coordinate with state z, n and L1 strength l1. */
static double ftrl_weight(const struct md_learn_config *c, double z, double n, double l1)
{
    if (fabs(z) <= l1)
        return 0;
    return clip(-(z - copysign(l1, z)) / ((c->beta + sqrt(n)) / c->alpha + c->l2), c->max_weight);
}

/*
 * Starts FTRL's state from the working weights: n = 0 and the z for which
 * ftrl_weight gives each weight back (the intercept has no L1), so learning
 * continues from the artifact's (or an assigned snapshot's) weights.
 */
static void ftrl_init(struct md_linear *m)
{
    const struct md_learn_config *c = &m->cfg;
    double d = c->beta / c->alpha + c->l2; /* > 0: learn_config checked */
    size_t i;

    for (i = 0; i < m->nw + m->n_classes; i++) {
        double w = m->lw[i];
        double l1 = i < m->nw ? c->l1 : 0;

        m->ftrl_n[i] = 0;
        m->ftrl_z[i] = w > 0 ? -w * d - l1 : w < 0 ? -w * d + l1 : 0;
    }
}

/* One FTRL-Proximal update of coordinate i with gradient g. */
static void ftrl_coord(struct md_linear *m, size_t i, double g, double l1)
{
    const struct md_learn_config *c = &m->cfg;
    double n = m->ftrl_n[i];
    double sigma = (sqrt(n + g * g) - sqrt(n)) / c->alpha;

    m->ftrl_z[i] += g - sigma * m->lw[i];
    m->ftrl_n[i] = n + g * g;
    m->lw[i] = ftrl_weight(c, m->ftrl_z[i], m->ftrl_n[i], l1);
}

/*
 * One update of the working weights lw for row r with label y. The gradient
 * of the squared error / 2 (linear) or the log loss (logistic, multinomial)
 * with respect to the scores is (prediction - target) per class; a weight's
 * gradient is that times the standardised cell, clipped to [-clip, clip].
 * SGD: w -= rate * (g + l2 * w), then shrunk towards 0 by rate * l1 (not the
 * intercepts, which have no regularisation); FTRL-Proximal: McMahan et al.'s
 * per-coordinate rule. Weights and intercepts stay within max_weight.
 */
static int learn_step(struct md_linear *m, const float *row, size_t r, double y, struct md_err *err)
{
    const struct md_learn_config *c = &m->cfg;
    size_t nf = m->n_features;
    double *g = m->scores;
    size_t j;
    size_t k;
    int rc;

    rc = row_scores(m, m->lw, m->lw + m->nw, row, r, g, err);
    if (rc != MD_OK)
        return rc;
    switch (m->kind) {
    case KIND_LINEAR:
        g[0] -= y;
        break;
    case KIND_LOGISTIC:
        g[0] = sigmoid(g[0]) - y;
        break;
    case KIND_MULTINOMIAL:
        softmax(g, m->n_classes);
        g[(size_t)y] -= 1.0;
        break;
    }
    if (m->ftrl_z != NULL) { /* allocated exactly when the rule is FTRL */
        for (j = 0; j < nf; j++) {
            double gj = clip(g[0] * cell_z(m, row[j], j), c->clip);

            if (gj != 0)
                ftrl_coord(m, j, gj, c->l1);
        }
        ftrl_coord(m, m->nw, clip(g[0], c->clip), 0);
        return MD_OK;
    }
    for (j = 0; j < nf; j++) {
        double z = cell_z(m, row[j], j); /* not NaN: row_scores checked the row */

        for (k = 0; k < m->n_classes; k++) {
            double *w = &m->lw[k * nf + j];
            double v = *w - c->learning_rate * (clip(g[k] * z, c->clip) + c->l2 * *w);

            if (c->l1 > 0)
                v = copysign(fmax(fabs(v) - c->learning_rate * c->l1, 0), v);
            *w = clip(v, c->max_weight);
        }
    }
    for (k = 0; k < m->n_classes; k++) {
        double *b = &m->lw[m->nw + k];

        *b = clip(*b - c->learning_rate * clip(g[k], c->clip), c->max_weight);
    }
    return MD_OK;
}

static bool all_finite(const double *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

/*
 * Publishes lw: copies it into the spare block, swaps that in, and once no
 * prediction can still read the block it replaced, keeps that as the spare.
 * Under learn_mu, outside any epoch section.
 */
static void publish(struct md_linear *m)
{
    double *old;

    memcpy(m->spare, m->lw, (m->nw + m->n_classes) * sizeof(double));
    old = atomic_exchange(&m->cur, m->spare);
    md_epoch_wait();
    m->spare = old;
}

static int lin_learn(void *inst, const float *x, const float *y, size_t n_rows, struct md_err *err)
{
    struct md_linear *m = inst;
    size_t nb = m->nw + m->n_classes;
    int rc;
    size_t r;

    rc = check_labels(m, y, n_rows, err);
    if (rc != MD_OK || n_rows == 0)
        return rc;
    pthread_mutex_lock(&m->learn_mu);
    memcpy(m->undo, m->lw, nb * sizeof(double));
    if (m->ftrl_z != NULL) {
        memcpy(m->undo + nb, m->ftrl_z, nb * sizeof(double));
        memcpy(m->undo + 2 * nb, m->ftrl_n, nb * sizeof(double));
    }
    for (r = 0; r < n_rows && rc == MD_OK; r++)
        rc = learn_step(m, x + r * m->n_features, r, y[r], err);
    if (rc == MD_OK && !all_finite(m->lw, nb))
        rc = md_err_set(err, MD_EINVAL,
                        "learn: the update makes weights non-finite (lower the learning rate, "
                        "set clip or max_weight, or check the inputs)");
    if (rc == MD_OK) {
        publish(m);
        m->n_learned += n_rows;
    } else {
        memcpy(m->lw, m->undo, nb * sizeof(double));
        if (m->ftrl_z != NULL) {
            memcpy(m->ftrl_z, m->undo + nb, nb * sizeof(double));
            memcpy(m->ftrl_n, m->undo + 2 * nb, nb * sizeof(double));
        }
    }
    pthread_mutex_unlock(&m->learn_mu);
    return rc;
}

/* A setting of learn_config: finite and >= 0 (> 0 when positive). */
static int check_setting(const char *name, double v, bool positive, struct md_err *err)
{
    if (!isfinite(v) || v < 0 || (positive && v == 0))
        return md_err_set(err, MD_EINVAL, "%s: %g is not a %s number", name, v,
                          positive ? "positive" : "non-negative");
    return MD_OK;
}

static int lin_learn_config(void *inst, const struct md_learn_config *c, struct md_err *err)
{
    struct md_linear *m = inst;
    size_t nb = m->nw + m->n_classes;
    int rc;

    if (c->algo != ALGO_SGD && c->algo != ALGO_FTRL)
        return md_err_set(err, MD_EINVAL, "algo: %d is not 1 (sgd) or 2 (ftrl)", c->algo);
    if (c->algo == ALGO_FTRL && m->kind != KIND_LOGISTIC)
        return md_err_set(err, MD_EINVAL,
                          "algo: ftrl needs a logistic model, and this one is '%s' (use sgd)",
                          kind_names[m->kind]);
    rc = c->algo == ALGO_SGD ? check_setting("learning_rate", c->learning_rate, true, err)
                             : check_setting("alpha", c->alpha, true, err);
    if (rc == MD_OK && c->algo == ALGO_FTRL)
        rc = check_setting("beta", c->beta, false, err);
    if (rc == MD_OK)
        rc = check_setting("l1", c->l1, false, err);
    if (rc == MD_OK)
        rc = check_setting("l2", c->l2, false, err);
    if (rc == MD_OK)
        rc = check_setting("clip", c->clip, false, err);
    if (rc == MD_OK)
        rc = check_setting("max_weight", c->max_weight, false, err);
    if (rc != MD_OK)
        return rc;
    if (c->algo == ALGO_FTRL && c->beta == 0 && c->l2 == 0)
        return md_err_set(err, MD_EINVAL,
                          "beta: 0 with l2 0 cannot start from the model's weights (set beta > 0)");
    pthread_mutex_lock(&m->learn_mu);
    if (c->algo == ALGO_FTRL && m->ftrl_z == NULL) {
        m->ftrl_z = md_calloc(nb, sizeof(double));
        m->ftrl_n = md_calloc(nb, sizeof(double));
        if (m->ftrl_z == NULL || m->ftrl_n == NULL) {
            free(m->ftrl_z);
            free(m->ftrl_n);
            m->ftrl_z = m->ftrl_n = NULL;
            pthread_mutex_unlock(&m->learn_mu);
            return md_err_set(err, MD_ENOMEM, "learn: out of memory for %zu weights", nb);
        }
    } else if (c->algo == ALGO_SGD) {
        free(m->ftrl_z);
        free(m->ftrl_n);
        m->ftrl_z = m->ftrl_n = NULL;
    }
    m->cfg = *c;
    if (c->algo == ALGO_FTRL)
        ftrl_init(m);
    pthread_mutex_unlock(&m->learn_mu);
    return MD_OK;
}

uint64_t md_linear__rows_learned(void *inst)
{
    struct md_linear *m = inst;
    uint64_t n;

    pthread_mutex_lock(&m->learn_mu);
    n = m->n_learned;
    pthread_mutex_unlock(&m->learn_mu);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Saving and assigning                                                      */
/* ------------------------------------------------------------------------ */

/* n doubles as a JSON array (nan_null: NaN as null); NULL when out of memory. */
static json_t *number_array(const double *v, size_t n, bool nan_null)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++) {
        json_t *e = nan_null && isnan(v[i]) ? json_null() : json_real(v[i]);

        if (e == NULL || json_array_append_new(a, e) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

/* Sets key of o to v (taking it); false when v is NULL or out of memory. */
static bool set_new(json_t *o, const char *key, json_t *v)
{
    return v != NULL && json_object_set_new(o, key, v) == 0;
}

/* The artifact of lw's weights with the instance's shape; NULL when out of memory. */
static json_t *artifact_json(const struct md_linear *m)
{
    json_t *root = json_object();
    json_t *names = json_array();
    bool ok = root != NULL && names != NULL;
    size_t j;
    size_t k;

    for (j = 0; ok && j < m->n_features; j++)
        ok = json_array_append_new(names, json_string(m->feature_names[j])) == 0;
    ok = ok && set_new(root, "format", json_string(FORMAT_NAME)) &&
         set_new(root, "format_version", json_integer(FORMAT_VERSION)) &&
         set_new(root, "kind", json_string(kind_names[m->kind])) &&
         set_new(root, "feature_names", names);
    names = NULL;
    if (ok && m->kind == KIND_MULTINOMIAL) {
        json_t *rows = json_array();

        for (k = 0; rows != NULL && k < m->n_classes; k++) {
            json_t *row = number_array(m->lw + k * m->n_features, m->n_features, false);

            if (row == NULL || json_array_append_new(rows, row) != 0) {
                json_decref(rows);
                rows = NULL;
            }
        }
        ok = set_new(root, "weights", rows) &&
             set_new(root, "intercept", number_array(m->lw + m->nw, m->n_classes, false)) &&
             set_new(root, "classes", json_integer((json_int_t)m->n_classes));
    } else if (ok) {
        ok = set_new(root, "weights", number_array(m->lw, m->n_features, false)) &&
             set_new(root, "intercept", json_real(m->lw[m->nw]));
        if (ok && m->kind == KIND_LOGISTIC)
            ok = set_new(root, "classes", json_integer(2));
    }
    if (ok && m->mean != NULL) {
        json_t *st = json_object();

        ok = st != NULL && set_new(st, "mean", number_array(m->mean, m->n_features, false)) &&
             set_new(st, "scale", number_array(m->scale, m->n_features, false));
        ok = ok ? set_new(root, "standardize", st) : (json_decref(st), false);
    }
    if (ok && m->impute != NULL)
        ok = set_new(root, "impute", number_array(m->impute, m->n_features, true));
    if (ok && m->metadata != NULL)
        ok = set_new(root, "metadata", json_deep_copy(m->metadata));
    if (!ok) {
        json_decref(names);
        json_decref(root);
        return NULL;
    }
    return root;
}

static int lin_save(void *inst, const char *out_path, struct md_err *err)
{
    struct md_linear *m = inst;
    char tmp[4096];
    char ebuf[128];
    json_t *root;
    int n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return md_err_set(err, MD_EINVAL, "save: path '%.64s...' is too long", out_path);
    pthread_mutex_lock(&m->learn_mu);
    root = artifact_json(m);
    pthread_mutex_unlock(&m->learn_mu);
    if (root == NULL)
        return md_err_set(err, MD_ENOMEM, "save: out of memory");
    /* 17 significant digits: every double reads back as itself */
    if (json_dump_file(root, tmp, JSON_REAL_PRECISION(17)) != 0) {
        json_decref(root);
        (void)unlink(tmp); /* may not exist */
        return md_err_set(err, MD_EIO, "save: cannot write '%s'", tmp);
    }
    json_decref(root);
    if (rename(tmp, out_path) != 0) {
        int e = errno;

        (void)unlink(tmp); /* best effort: the error below is what matters */
        return md_err_set(err, MD_EIO, "save: cannot rename '%s' to '%s': %s", tmp, out_path,
                          strerror_r(e, ebuf, sizeof(ebuf)));
    }
    return MD_OK;
}

/* Whether a and b (n doubles each, or NULL) are equal. */
static bool same_numbers(const double *a, const double *b, size_t n)
{
    if (a == NULL || b == NULL)
        return a == b;
    return memcmp(a, b, n * sizeof(double)) == 0;
}

static int lin_assign(void *inst, const void *src_inst, struct md_err *err)
{
    struct md_linear *m = inst;
    struct md_linear *src = (struct md_linear *)src_inst; /* only its published block is read */
    size_t nb = m->nw + m->n_classes;
    const double *blk;
    size_t j;

    if (src->kind != m->kind || src->n_features != m->n_features || src->n_classes != m->n_classes)
        return md_err_set(err, MD_EINVAL,
                          "assign: shapes differ (%s with %zu features and %zu weight rows, "
                          "%s with %zu and %zu)",
                          kind_names[src->kind], src->n_features, src->n_classes,
                          kind_names[m->kind], m->n_features, m->n_classes);
    for (j = 0; j < m->n_features; j++)
        if (strcmp(src->feature_names[j], m->feature_names[j]) != 0)
            return md_err_set(err, MD_EINVAL, "assign: feature %zu is '%.64s', not '%.64s'", j,
                              src->feature_names[j], m->feature_names[j]);
    if (!same_numbers(src->mean, m->mean, m->n_features) ||
        !same_numbers(src->scale, m->scale, m->n_features))
        return md_err_set(err, MD_EINVAL, "assign: the standardisation differs");
    pthread_mutex_lock(&m->learn_mu);
    md_epoch_enter();
    blk = atomic_load(&src->cur);
    memcpy(m->lw, blk, nb * sizeof(double));
    md_epoch_exit();
    if (m->ftrl_z != NULL)
        ftrl_init(m);
    publish(m);
    pthread_mutex_unlock(&m->learn_mu);
    return MD_OK;
}

const struct md_backend_ops md_backend_linear = {
    .abi = MD_BACKEND_ABI,
    .name = "linear",
    .load = lin_load,
    .describe = lin_describe,
    .predict = lin_predict,
    .learn = lin_learn,
    .learn_config = lin_learn_config,
    .save = lin_save,
    .assign = lin_assign,
    .explain = lin_explain,
    .train = md_linear__train,
    .free = lin_free,
};
