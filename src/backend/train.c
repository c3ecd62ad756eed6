/* SPDX-License-Identifier: MIT */
/*
 * train.c: the checks and helpers the engines' train operations share
 * (train.h). The training itself is each engine's: xgboost_train.c,
 * linear_train.c.
 */
#include "backend/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

/* Checks the labels of a classifier: whole indices below n, two classes at least. */
static int check_classes(const struct md_train_data *d, struct md_err *err)
{
    size_t i;
    float first = d->y[0];
    bool two = false;

    for (i = 0; i < d->n_rows; i++) {
        float y = d->y[i];

        if (!(y >= 0) || y != floorf(y) || (size_t)y >= d->n_classes)
            return md_err_set(err, MD_EINVAL,
                              "labels: row %zu has %g, not a class index from 0 to %zu", i,
                              (double)y, d->n_classes - 1);
        if (y != first)
            two = true;
    }
    if (!two)
        return md_err_set(err, MD_EINVAL,
                          "labels: every row is class %g; training needs at least two classes",
                          (double)first);
    return MD_OK;
}

int md_train_check_data(const struct md_train_data *d, struct md_err *err)
{
    size_t i;
    size_t n;

    if (d->n_rows < 2)
        return md_err_set(err, MD_EINVAL, "training set: %zu rows; training needs at least 2",
                          d->n_rows);
    if (d->n_features < 1 || d->x == NULL || d->y == NULL)
        return md_err_set(err, MD_EINVAL, "training set: no features or no labels");
    if (d->n_rows > SIZE_MAX / sizeof(float) / d->n_features)
        return md_err_set(err, MD_EINVAL, "training set: %zu rows of %zu features is too large",
                          d->n_rows, d->n_features);
    n = d->n_rows * d->n_features;
    for (i = 0; i < n; i++)
        if (isinf(d->x[i]))
            return md_err_set(err, MD_EINVAL, "features: row %zu, column %zu is infinite",
                              i / d->n_features, i % d->n_features);
    for (i = 0; i < d->n_rows; i++) {
        if (!isfinite(d->y[i]))
            return md_err_set(err, MD_EINVAL, "labels: row %zu is not a finite number", i);
        if (d->w != NULL && !(isfinite(d->w[i]) && d->w[i] > 0))
            return md_err_set(err, MD_EINVAL, "weights: row %zu has %g, not a number above 0", i,
                              (double)d->w[i]);
    }
    switch (d->kind) {
    case MD_BACKEND_OUT_PROBABILITY:
        if (d->n_classes != 2)
            return md_err_set(err, MD_EINVAL, "classes: %zu for a binary model, expected 2",
                              d->n_classes);
        return check_classes(d, err);
    case MD_BACKEND_OUT_PROBABILITIES:
        if (d->n_classes < 2)
            return md_err_set(err, MD_EINVAL, "classes: %zu, a classifier needs at least 2",
                              d->n_classes);
        return check_classes(d, err);
    case MD_BACKEND_OUT_VALUE:
        return MD_OK;
    }
    return md_err_set(err, MD_EINVAL, "kind: %d is not an output kind", (int)d->kind);
}

const char *md_train_param(const struct md_backend_config *params, const char *key)
{
    size_t i;
    const char *v = NULL;

    /* The last of a key given twice wins, as in a YAML map read in order. */
    for (i = 0; params != NULL && i < params->n_options; i++)
        if (strcmp(params->options[i].key, key) == 0)
            v = params->options[i].value;
    return v;
}

int md_train_param_double(const struct md_backend_config *params, const char *key, double lo,
                          double hi, double *out, struct md_err *err)
{
    const char *v = md_train_param(params, key);
    char *end;
    double x;

    if (v == NULL)
        return MD_OK;
    errno = 0;
    x = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !isfinite(x) || x < lo || x > hi)
        return md_err_set(err, MD_EINVAL, "params.%s: '%.40s' is not a number from %g to %g", key,
                          v, lo, hi);
    *out = x;
    return MD_OK;
}

int md_train_param_long(const struct md_backend_config *params, const char *key, long lo, long hi,
                        long *out, struct md_err *err)
{
    const char *v = md_train_param(params, key);
    char *end;
    long x;

    if (v == NULL)
        return MD_OK;
    errno = 0;
    x = strtol(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || x < lo || x > hi)
        return md_err_set(err, MD_EINVAL,
                          "params.%s: '%.40s' is not a whole number from %ld to %ld", key, v, lo,
                          hi);
    *out = x;
    return MD_OK;
}

int md_train_params_known(const struct md_backend_config *params, const char *engine,
                          const char *const *known, struct md_err *err)
{
    size_t i;
    size_t k;

    for (i = 0; params != NULL && i < params->n_options; i++) {
        const char *key = params->options[i].key;

        for (k = 0; known[k] != NULL; k++)
            if (strcmp(known[k], key) == 0)
                break;
        if (known[k] == NULL)
            return md_err_set(err, MD_EINVAL,
                              "params.%.60s: not a training parameter of the %s engine", key,
                              engine);
        if (params->options[i].value == NULL)
            return md_err_set(err, MD_EINVAL, "params.%.60s: no value", key);
    }
    return MD_OK;
}

int md_train_write(const char *path, const char *data, size_t len, struct md_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t done = 0;

    if (fd < 0)
        return md_err_set(err, MD_EIO, "cannot create '%.120s': %s", path, strerror(errno));
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;

            close(fd);
            return md_err_set(err, MD_EIO, "cannot write '%.120s': %s", path, strerror(e));
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        int e = errno;

        close(fd);
        return md_err_set(err, MD_EIO, "cannot sync '%.120s': %s", path, strerror(e));
    }
    if (close(fd) != 0)
        return md_err_set(err, MD_EIO, "cannot close '%.120s': %s", path, strerror(errno));
    return MD_OK;
}
