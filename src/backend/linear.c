/* SPDX-License-Identifier: MIT */
/*
 * linear.c: linear regression, logistic regression and multinomial logistic
 * regression from modeld's linear artifact (docs/linear.md), with online
 * updates by stochastic gradient descent.
 *
 * Weights live in one block guarded by a read-write lock: predictions share
 * it, an online update takes it for writing for the length of one step. A
 * missing value (NaN) stands for the feature's training mean: with
 * standardisation it contributes nothing, without it the value 0 is used.
 */
#include "backend/backend.h"
#include "backend/linear_int.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>

#define MAX_FEATURES 1000000
#define MAX_CLASSES 10000
#define MAX_FILE_BYTES ((size_t)1 << 30)

enum kind {
    K_LINEAR = 1,
    K_LOGISTIC = 2,
    K_MULTINOMIAL = 3
};

struct linear {
    enum kind kind;
    size_t n_features;
    size_t n_classes;      /* rows of weights: 1, or the classes of a multinomial */
    double *w;             /* n_classes * n_features, guarded by lock */
    double *b;             /* n_classes intercepts, guarded by lock */
    double *mean;          /* n_features, or NULL: no standardisation */
    double *scale;         /* n_features, or NULL */
    double learning_rate;  /* for learn() */
    pthread_rwlock_t lock; /* writers: learn(); readers: predict() */
    char **feature_names;  /* n_features */
    char objective[32];
};

static void linear_free(void *inst)
{
    struct linear *m = inst;
    size_t i;

    if (m == NULL)
        return;
    if (m->feature_names != NULL)
        for (i = 0; i < m->n_features; i++)
            free(m->feature_names[i]);
    free(m->feature_names);
    free(m->w);
    free(m->b);
    free(m->mean);
    free(m->scale);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

/* An array of n finite numbers into out. */
static int read_vector(const json_t *a, size_t n, double *out, const char *what,
                       struct md_err *err)
{
    size_t i;

    if (!json_is_array(a) || json_array_size(a) != n)
        return md_err_set(err, MD_ECORRUPT, "%s: expected an array of %zu numbers", what, n);
    for (i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);

        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return md_err_set(err, MD_ECORRUPT, "%s[%zu]: expected a finite number", what, i);
        out[i] = json_number_value(v);
    }
    return MD_OK;
}

static int parse_options(struct linear *m, const struct md_backend_config *cfg,
                         struct md_err *err)
{
    size_t i;

    m->learning_rate = 0.01;
    for (i = 0; cfg != NULL && i < cfg->n_options; i++) {
        const char *v = cfg->options[i].value;
        char *end;

        if (strcmp(cfg->options[i].key, "learning_rate") != 0)
            return md_err_set(err, MD_EINVAL, "engine option '%s': unknown (the linear backend "
                              "takes learning_rate)", cfg->options[i].key);
        errno = 0;
        m->learning_rate = strtod(v, &end);
        if (*end != '\0' || errno != 0 || !(m->learning_rate > 0) || m->learning_rate > 10)
            return md_err_set(err, MD_EINVAL, "engine option 'learning_rate': '%s' is not a "
                              "number in (0, 10]", v);
    }
    return MD_OK;
}

static int parse_kind(struct linear *m, const json_t *root, struct md_err *err)
{
    const char *fmt = json_string_value(json_object_get(root, "format"));
    const json_t *ver = json_object_get(root, "format_version");
    const char *kind = json_string_value(json_object_get(root, "kind"));

    if (fmt == NULL || strcmp(fmt, "modeld-linear") != 0)
        return md_err_set(err, MD_EUNSUPPORTED, "format: expected \"modeld-linear\"");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1)
        return md_err_set(err, MD_EUNSUPPORTED, "format_version: only version 1 is known");
    if (kind == NULL)
        return md_err_set(err, MD_ECORRUPT, "kind: expected linear, logistic or multinomial");
    if (strcmp(kind, "linear") == 0)
        m->kind = K_LINEAR;
    else if (strcmp(kind, "logistic") == 0)
        m->kind = K_LOGISTIC;
    else if (strcmp(kind, "multinomial") == 0)
        m->kind = K_MULTINOMIAL;
    else
        return md_err_set(err, MD_EUNSUPPORTED, "kind: '%s' is not linear, logistic or "
                          "multinomial", kind);
    snprintf(m->objective, sizeof(m->objective), "%s", kind);
    return MD_OK;
}

static int parse_model(struct linear *m, const json_t *root, struct md_err *err)
{
    const json_t *names = json_object_get(root, "feature_names");
    const json_t *w = json_object_get(root, "weights");
    const json_t *b = json_object_get(root, "intercept");
    const json_t *st = json_object_get(root, "standardize");
    size_t c;
    size_t i;
    int rc;

    if (!json_is_object(root))
        return md_err_set(err, MD_ECORRUPT, "expected a JSON object");
    rc = parse_kind(m, root, err);
    if (rc != MD_OK)
        return rc;
    if (!json_is_array(names) || json_array_size(names) == 0 ||
        json_array_size(names) > MAX_FEATURES)
        return md_err_set(err, MD_ECORRUPT, "feature_names: expected 1 to %d names",
                          MAX_FEATURES);
    m->n_features = json_array_size(names);
    m->feature_names = md_xcalloc(m->n_features, sizeof(char *));
    for (i = 0; i < m->n_features; i++) {
        const char *s = json_string_value(json_array_get(names, i));

        if (s == NULL)
            return md_err_set(err, MD_ECORRUPT, "feature_names[%zu]: expected a string", i);
        m->feature_names[i] = md_xstrdup(s);
    }
    if (m->kind == K_MULTINOMIAL) {
        if (!json_is_array(w) || json_array_size(w) < 2 || json_array_size(w) > MAX_CLASSES)
            return md_err_set(err, MD_ECORRUPT, "weights: a multinomial model needs one array "
                              "of weights per class, at least 2");
        m->n_classes = json_array_size(w);
    } else {
        m->n_classes = 1;
    }
    m->w = md_xcalloc(m->n_classes * m->n_features, sizeof(double));
    m->b = md_xcalloc(m->n_classes, sizeof(double));
    if (m->kind == K_MULTINOMIAL) {
        for (c = 0; c < m->n_classes; c++) {
            char what[32];

            snprintf(what, sizeof(what), "weights[%zu]", c);
            rc = read_vector(json_array_get(w, c), m->n_features, m->w + c * m->n_features, what,
                             err);
            if (rc != MD_OK)
                return rc;
        }
        rc = read_vector(b, m->n_classes, m->b, "intercept", err);
    } else {
        rc = read_vector(w, m->n_features, m->w, "weights", err);
        if (rc == MD_OK && (!json_is_number(b) || !isfinite(json_number_value(b))))
            rc = md_err_set(err, MD_ECORRUPT, "intercept: expected a finite number");
        if (rc == MD_OK)
            m->b[0] = json_number_value(b);
    }
    if (rc != MD_OK)
        return rc;
    if (json_object_get(root, "classes") != NULL &&
        (!json_is_integer(json_object_get(root, "classes")) ||
         (size_t)json_integer_value(json_object_get(root, "classes")) !=
             (m->kind == K_LOGISTIC ? 2 : m->kind == K_MULTINOMIAL ? m->n_classes : 0)))
        return md_err_set(err, MD_ECORRUPT, "classes: does not match the weights");
    if (st != NULL && !json_is_null(st)) {
        m->mean = md_xcalloc(m->n_features, sizeof(double));
        m->scale = md_xcalloc(m->n_features, sizeof(double));
        rc = read_vector(json_object_get(st, "mean"), m->n_features, m->mean,
                         "standardize.mean", err);
        if (rc == MD_OK)
            rc = read_vector(json_object_get(st, "scale"), m->n_features, m->scale,
                             "standardize.scale", err);
        for (i = 0; rc == MD_OK && i < m->n_features; i++)
            if (!(m->scale[i] > 0))
                rc = md_err_set(err, MD_ECORRUPT, "standardize.scale[%zu]: must be positive", i);
    }
    return rc;
}

int md_linear__load_buffer(const char *buf, size_t len, const struct md_backend_config *cfg,
                           void **inst, struct md_err *err)
{
    struct linear *m;
    json_error_t je;
    json_t *root;
    int rc;

    *inst = NULL;
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return md_err_set(err, MD_ECORRUPT, "not valid JSON (line %d: %s)", je.line, je.text);
    m = md_xcalloc(1, sizeof(*m));
    pthread_rwlock_init(&m->lock, NULL);
    rc = parse_options(m, cfg, err);
    if (rc == MD_OK)
        rc = parse_model(m, root, err);
    json_decref(root);
    if (rc != MD_OK) {
        linear_free(m);
        return rc;
    }
    *inst = m;
    return MD_OK;
}

static int linear_load(const char *path, const struct md_backend_config *cfg, void **inst,
                       struct md_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;
    size_t got;
    int rc;

    *inst = NULL;
    if (f == NULL)
        return md_err_set(err, MD_EIO, "cannot open: %s", strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (size_t)size > MAX_FILE_BYTES) {
        fclose(f);
        return md_err_set(err, MD_EIO, "cannot read, or larger than %zu bytes", MAX_FILE_BYTES);
    }
    buf = md_xmalloc((size_t)size + 1);
    got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buf);
        return md_err_set(err, MD_EIO, "short read");
    }
    rc = md_linear__load_buffer(buf, got, cfg, inst, err);
    free(buf);
    return rc;
}

static void linear_describe(const void *inst, struct md_backend_desc *out)
{
    const struct linear *m = inst;

    out->n_features = m->n_features;
    out->n_outputs = m->kind == K_MULTINOMIAL ? m->n_classes : 1;
    out->kind = m->kind == K_LINEAR       ? MD_BACKEND_OUT_VALUE
                : m->kind == K_LOGISTIC   ? MD_BACKEND_OUT_PROBABILITY
                                          : MD_BACKEND_OUT_PROBABILITIES;
    out->feature_names = (const char *const *)m->feature_names;
    out->objective = m->objective;
}

/* The value of feature j after standardisation; NaN is the mean. */
static inline double feature(const struct linear *m, const float *x, size_t j)
{
    double v = x[j];

    if (v != v)
        return 0.0; /* the mean: 0 after standardising, 0 without */
    if (m->mean != NULL)
        v = (v - m->mean[j]) / m->scale[j];
    return v;
}

static double margin(const struct linear *m, const float *x, size_t c)
{
    const double *w = m->w + c * m->n_features;
    double z = m->b[c];
    size_t j;

    for (j = 0; j < m->n_features; j++)
        z += w[j] * feature(m, x, j);
    return z;
}

static int linear_predict(void *inst, const float *x, size_t n_rows, float *out,
                          struct md_err *err)
{
    struct linear *m = inst;
    size_t r;
    size_t c;

    MD_UNUSED(err);
    pthread_rwlock_rdlock(&m->lock);
    for (r = 0; r < n_rows; r++) {
        const float *row = x + r * m->n_features;

        if (m->kind == K_LINEAR) {
            out[r] = (float)margin(m, row, 0);
        } else if (m->kind == K_LOGISTIC) {
            out[r] = (float)(1.0 / (1.0 + exp(-margin(m, row, 0))));
        } else {
            float *o = out + r * m->n_classes;
            double z[64];
            double *zs = m->n_classes <= 64 ? z : NULL;
            double mx = -INFINITY;
            double sum = 0.0;

            for (c = 0; c < m->n_classes; c++) {
                double v = margin(m, row, c);

                if (zs != NULL)
                    zs[c] = v;
                mx = v > mx ? v : mx;
            }
            for (c = 0; c < m->n_classes; c++) {
                double e = exp((zs != NULL ? zs[c] : margin(m, row, c)) - mx);

                o[c] = (float)e;
                sum += e;
            }
            for (c = 0; c < m->n_classes; c++)
                o[c] = (float)((double)o[c] / sum);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return MD_OK;
}

/*
 * One pass of stochastic gradient descent over the rows, in order: for the
 * logistic model y is 0 or 1 and the loss is the log loss; for the linear one
 * the squared error. Multinomial models do not learn online yet.
 */
static int linear_learn(void *inst, const float *x, const float *y, size_t n_rows,
                        struct md_err *err)
{
    struct linear *m = inst;
    size_t r;
    size_t j;

    if (m->kind == K_MULTINOMIAL)
        return md_err_set(err, MD_EUNSUPPORTED, "online learning of multinomial models");
    for (r = 0; r < n_rows; r++)
        if (!isfinite(y[r]) || (m->kind == K_LOGISTIC && y[r] != 0.0f && y[r] != 1.0f))
            return md_err_set(err, MD_EINVAL, "label %zu: %g is not %s", r, (double)y[r],
                              m->kind == K_LOGISTIC ? "0 or 1" : "a finite number");
    pthread_rwlock_wrlock(&m->lock);
    for (r = 0; r < n_rows; r++) {
        const float *row = x + r * m->n_features;
        double z = margin(m, row, 0);
        double p = m->kind == K_LOGISTIC ? 1.0 / (1.0 + exp(-z)) : z;
        double g = (p - (double)y[r]) * m->learning_rate;

        for (j = 0; j < m->n_features; j++)
            m->w[j] -= g * feature(m, row, j);
        m->b[0] -= g;
    }
    pthread_rwlock_unlock(&m->lock);
    return MD_OK;
}

const struct md_backend_ops md_backend_linear = {
    .abi = MD_BACKEND_ABI,
    .name = "linear",
    .load = linear_load,
    .describe = linear_describe,
    .predict = linear_predict,
    .learn = linear_learn,
    .train = NULL,
    .free = linear_free,
};
