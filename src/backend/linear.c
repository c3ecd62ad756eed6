/* SPDX-License-Identifier: MIT */
/*
 * linear.c: the "linear" engine. Runs linear regression, binary logistic
 * regression and multinomial (softmax) logistic regression read from the
 * modeld-linear JSON artifact (docs/linear.md), and updates the weights
 * online with plain stochastic gradient descent (learn).
 *
 * An instance's shape (kind, feature names, standardisation) never changes
 * after load; its weights do. Predictions read the weights under a
 * reader-writer lock. Learn calls are serialised by a mutex: the learner
 * copies the weights, runs its SGD steps on the copy with no lock that
 * predict waits on, and publishes the result by a short copy under the write
 * lock, so a prediction sees the weights before or after a learn call, never
 * a mix, and a learn call that fails leaves the weights as they were.
 *
 * Feature preparation (categories, defaults) is the contract's job; this file
 * sees dense float rows whose NaN cells are missing values, and fills them
 * from the artifact's `impute` values when it has them (an exporter carries
 * a scikit-learn SimpleImputer's statistics there).
 */
#include "backend/linear_int.h"
#include "util/common.h"
#include "util/mem.h"
#include "util/sys.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>

#include <jansson.h>

#define FORMAT_NAME           "modeld-linear"
#define FORMAT_VERSION        1
#define ARTIFACT_MAX_BYTES    ((size_t)256 << 20)
#define DEFAULT_LEARNING_RATE 0.01
#define STACK_CLASSES         32 /* predict's score buffer lives on the stack up to this */

enum kind {
    KIND_LINEAR = 0,     /* one output: the score */
    KIND_LOGISTIC = 1,   /* one output: sigmoid(score) */
    KIND_MULTINOMIAL = 2 /* n_classes outputs: softmax(scores) */
};

static const char *const kind_names[] = {"linear", "logistic", "multinomial"};
static const char *const objectives[] = {"linear:regression", "linear:logistic",
                                         "linear:multinomial"};

struct md_linear {
    /* Shape: written by load, read-only afterwards. */
    enum kind kind;
    size_t n_features;    /* columns per row, >= 1 */
    size_t n_classes;     /* weight rows: 1 (linear, logistic) or >= 2 (multinomial) */
    char **feature_names; /* n_features unique non-empty names */
    double *mean;         /* NULL, or n_features finite standardisation means */
    double *scale;        /* NULL (iff mean is), or n_features finite scales > 0 */
    double *fill_z;       /* NULL (no impute), or n_features standardised values a missing
                             cell stands for; NaN = no fill, a missing cell is refused */
    double learning_rate; /* SGD step size, finite and > 0 */

    /* Weights: read by predict under lock (read), replaced by learn under lock (write). */
    pthread_rwlock_t lock;
    double *w; /* n_classes * n_features, row-major by class; lock */
    double *b; /* n_classes intercepts; lock */

    /* Learner state: learn_mu serialises learn calls; the fields below are its. */
    pthread_mutex_t learn_mu;
    double *next_w;     /* n_classes * n_features: the copy learn updates */
    double *next_b;     /* n_classes */
    double *scores;     /* n_classes: per-row scores and gradients */
    uint64_t n_learned; /* rows learned since load */
    bool locks_ready;   /* lock and learn_mu were initialised (free destroys them) */
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
    free(m->w);
    free(m->b);
    free(m->next_w);
    free(m->next_b);
    free(m->scores);
    if (m->locks_ready) {
        pthread_rwlock_destroy(&m->lock);
        pthread_mutex_destroy(&m->learn_mu);
    }
    free(m);
}

static int parse_options(const struct md_backend_config *cfg, struct md_linear *m,
                         struct md_err *err)
{
    size_t i;

    m->learning_rate = DEFAULT_LEARNING_RATE;
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
        m->learning_rate = d;
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
    m->w = md_calloc(n, sizeof(double));
    m->next_w = md_calloc(n, sizeof(double));
    m->b = md_calloc(m->n_classes, sizeof(double));
    m->next_b = md_calloc(m->n_classes, sizeof(double));
    m->scores = md_calloc(m->n_classes, sizeof(double));
    if (m->w == NULL || m->next_w == NULL || m->b == NULL || m->next_b == NULL || m->scores == NULL)
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
                              m->w + k * m->n_features, err);
            if (rc != MD_OK)
                return rc;
        }
        if (b != NULL) {
            rc = read_numbers(b, "intercept", m->n_classes, "classes (rows of weights)", m->b, err);
            if (rc != MD_OK)
                return rc;
        }
    } else {
        rc = read_numbers(w, "weights", m->n_features, "feature_names", m->w, err);
        if (rc != MD_OK)
            return rc;
        if (b != NULL) {
            if (!json_is_number(b))
                return md_err_set(err, MD_ECORRUPT, "intercept: expected a number for kind '%s'",
                                  kind_names[m->kind]);
            m->b[0] = json_number_value(b);
            if (!isfinite(m->b[0]))
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
    if (m->fill_z == NULL)
        return md_err_set(err, MD_ENOMEM, "impute: out of memory");
    for (j = 0; j < m->n_features; j++) {
        const json_t *e = json_array_get(v, j);
        double x;

        if (json_is_null(e)) {
            m->fill_z[j] = NAN;
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
        m->fill_z[j] = m->mean != NULL ? (x - m->mean[j]) / m->scale[j] : x;
        if (!isfinite(m->fill_z[j]))
            return md_err_set(err, MD_ECORRUPT, "impute[%zu]: %g is too large to standardise", j,
                              x);
    }
    return MD_OK;
}

static int init_locks(struct md_linear *m, struct md_err *err)
{
    pthread_rwlockattr_t attr;
    int rc;

    if (pthread_rwlockattr_init(&attr) != 0)
        return md_err_set(err, MD_EINTERNAL, "linear: cannot initialise a lock");
    /* A steady stream of predictions must not starve learn's short commit. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&m->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0)
        return md_err_set(err, MD_EINTERNAL, "linear: cannot initialise a lock");
    if (pthread_mutex_init(&m->learn_mu, NULL) != 0) {
        pthread_rwlock_destroy(&m->lock);
        return md_err_set(err, MD_EINTERNAL, "linear: cannot initialise a lock");
    }
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

static int lin_predict(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    struct md_linear *m = inst;
    size_t n_out = m->kind == KIND_MULTINOMIAL ? m->n_classes : 1;
    double stack[STACK_CLASSES];
    double *s = stack;
    int rc = MD_OK;
    size_t r;

    if (m->n_classes > STACK_CLASSES) {
        s = md_malloc(m->n_classes * sizeof(*s));
        if (s == NULL)
            return md_err_set(err, MD_ENOMEM, "linear: out of memory for %zu scores", m->n_classes);
    }
    pthread_rwlock_rdlock(&m->lock);
    for (r = 0; r < n_rows && rc == MD_OK; r++) {
        rc = row_scores(m, m->w, m->b, x + r * m->n_features, r, s, err);
        if (rc == MD_OK)
            rc = row_outputs(m, s, r, out + r * n_out, err);
    }
    pthread_rwlock_unlock(&m->lock);
    if (s != stack)
        free(s);
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

/*
 * One SGD step on next_w/next_b for row r with label y: the gradient of the
 * squared error / 2 (linear) or the log loss (logistic, multinomial) with
 * respect to the scores is (prediction - target) per class.
 */
static int sgd_step(struct md_linear *m, const float *row, size_t r, double y, struct md_err *err)
{
    size_t nf = m->n_features;
    double *g = m->scores;
    double lr = m->learning_rate;
    size_t j;
    size_t k;
    int rc;

    rc = row_scores(m, m->next_w, m->next_b, row, r, g, err);
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
    for (j = 0; j < nf; j++) {
        double z = cell_z(m, row[j], j); /* not NaN: row_scores checked the row */

        for (k = 0; k < m->n_classes; k++)
            m->next_w[k * nf + j] -= lr * g[k] * z;
    }
    for (k = 0; k < m->n_classes; k++)
        m->next_b[k] -= lr * g[k];
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

static int lin_learn(void *inst, const float *x, const float *y, size_t n_rows, struct md_err *err)
{
    struct md_linear *m = inst;
    size_t nw = m->n_classes * m->n_features; /* no overflow: checked at load */
    int rc;
    size_t r;

    rc = check_labels(m, y, n_rows, err);
    if (rc != MD_OK || n_rows == 0)
        return rc;
    pthread_mutex_lock(&m->learn_mu);
    /* Only learners write w and b, and learn_mu makes this one the only learner. */
    memcpy(m->next_w, m->w, nw * sizeof(double));
    memcpy(m->next_b, m->b, m->n_classes * sizeof(double));
    for (r = 0; r < n_rows && rc == MD_OK; r++)
        rc = sgd_step(m, x + r * m->n_features, r, y[r], err);
    if (rc == MD_OK && !(all_finite(m->next_w, nw) && all_finite(m->next_b, m->n_classes)))
        rc = md_err_set(err, MD_EINVAL,
                        "learn: the update makes weights non-finite (lower learning_rate or check "
                        "the inputs)");
    if (rc == MD_OK) {
        pthread_rwlock_wrlock(&m->lock);
        memcpy(m->w, m->next_w, nw * sizeof(double));
        memcpy(m->b, m->next_b, m->n_classes * sizeof(double));
        pthread_rwlock_unlock(&m->lock);
        m->n_learned += n_rows;
    }
    pthread_mutex_unlock(&m->learn_mu);
    return rc;
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

const struct md_backend_ops md_backend_linear = {
    .abi = MD_BACKEND_ABI,
    .name = "linear",
    .load = lin_load,
    .describe = lin_describe,
    .predict = lin_predict,
    .learn = lin_learn,
    .train = md_linear__train,
    .free = lin_free,
};
