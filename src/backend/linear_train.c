/* SPDX-License-Identifier: MIT */
/*
 * linear_train.c: the linear engine's train operation. Fits a linear
 * (ridge), logistic or multinomial (softmax) model, L2-regularised, on
 * standardised columns with missing cells filled by their column's mean,
 * and writes the modeld-linear artifact (docs/linear.md) that linear.c
 * loads: the fill in `impute`, the standardisation in `standardize`, the
 * parameters used in `metadata.modeld_params`.
 *
 * Methods (docs/linear.md, "Training"): ridge in closed form by a Cholesky
 * factorisation of the regularised normal equations; logistic and
 * multinomial by L-BFGS on the weighted log loss plus the L2 term. The
 * intercepts are never penalised. Everything is in double precision.
 */
#include "backend/linear_int.h"
#include "backend/train.h"

#include <jansson.h>
#include <math.h>

#include "util/mem.h"

#define DEFAULT_L2       1.0
#define DEFAULT_MAX_ITER 1000
#define DEFAULT_TOL      1e-8
#define LBFGS_M          10
#define MAX_PARAMS_DIM   ((size_t)1 << 24)

enum lkind { LK_LINEAR, LK_LOGISTIC, LK_MULTINOMIAL };

static const char *const lkind_names[] = {"linear", "logistic", "multinomial"};

static const char *const known[] = {"l2", "max_iter", "tol", "kind", NULL};

struct fit {
    enum lkind kind;
    size_t n, p, k;       /* rows, columns, weight rows (classes, or 1) */
    double *z;            /* n * p standardised cells */
    const float *y;       /* n labels */
    double *w;            /* n weights */
    double wsum;          /* their sum */
    double l2, tol;       /* parameters */
    long max_iter;        /* L-BFGS iterations at most */
    double *mean, *scale; /* p: standardisation (mean = the fill) */
    double *theta;        /* k * (p + 1): per class p weights then the intercept */
    long iterations;      /* what the fit took */
    bool converged;
};

/* ------------------------------------------------------------------------ */
/* Data                                                                     */
/* ------------------------------------------------------------------------ */

/* Means of the cells present (0 for a column with none), population scales, standardised z. */
static void standardise(struct fit *f, const struct md_train_data *d)
{
    size_t i;
    size_t j;

    for (j = 0; j < f->p; j++) {
        double sum = 0;
        double ss = 0;
        size_t seen = 0;

        for (i = 0; i < f->n; i++) {
            float v = d->x[i * f->p + j];

            if (!isnan(v)) {
                sum += v;
                seen++;
            }
        }
        f->mean[j] = seen > 0 ? sum / (double)seen : 0.0;
        for (i = 0; i < f->n; i++) {
            float v = d->x[i * f->p + j];
            double c = isnan(v) ? 0.0 : (double)v - f->mean[j];

            ss += c * c;
        }
        f->scale[j] = sqrt(ss / (double)f->n);
        if (!(f->scale[j] > 0) || !isfinite(f->scale[j]))
            f->scale[j] = 1.0; /* a constant column: as scikit-learn's StandardScaler */
        for (i = 0; i < f->n; i++) {
            float v = d->x[i * f->p + j];

            f->z[i * f->p + j] = isnan(v) ? 0.0 : ((double)v - f->mean[j]) / f->scale[j];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Ridge                                                                    */
/* ------------------------------------------------------------------------ */

/* Solves a x = b for a symmetric positive definite (m x m, overwritten); false when it is not. */
static bool cholesky_solve(double *a, double *b, size_t m)
{
    size_t i;
    size_t j;
    size_t c;

    for (j = 0; j < m; j++) {
        double s = a[j * m + j];

        for (c = 0; c < j; c++)
            s -= a[j * m + c] * a[j * m + c];
        if (!(s > 0))
            return false;
        a[j * m + j] = sqrt(s);
        for (i = j + 1; i < m; i++) {
            double t = a[i * m + j];

            for (c = 0; c < j; c++)
                t -= a[i * m + c] * a[j * m + c];
            a[i * m + j] = t / a[j * m + j];
        }
    }
    for (i = 0; i < m; i++) { /* L u = b */
        double t = b[i];

        for (c = 0; c < i; c++)
            t -= a[i * m + c] * b[c];
        b[i] = t / a[i * m + i];
    }
    for (i = m; i-- > 0;) { /* L^T x = u */
        double t = b[i];

        for (c = i + 1; c < m; c++)
            t -= a[c * m + i] * b[c];
        b[i] = t / a[i * m + i];
    }
    return true;
}

/*
 * Minimises sum_i w_i (y_i - b - z_i . beta)^2 + l2 |beta|^2: beta from the
 * centred normal equations (Zc' W Zc + l2 I) beta = Zc' W yc, then
 * b = ybar - zbar . beta (weighted means).
 */
static int fit_ridge(struct fit *f, struct md_err *err)
{
    size_t p = f->p;
    double *zbar = md_calloc(p, sizeof(double));
    double *a = md_calloc(p * p, sizeof(double));
    double *b = md_calloc(p, sizeof(double));
    double ybar = 0;
    size_t i;
    size_t j;
    size_t c;
    int rc = MD_OK;

    if (zbar == NULL || a == NULL || b == NULL) {
        rc = md_err_set(err, MD_ENOMEM, "linear: no memory for %zu columns", p);
        goto out;
    }
    for (i = 0; i < f->n; i++) {
        ybar += f->w[i] * f->y[i];
        for (j = 0; j < p; j++)
            zbar[j] += f->w[i] * f->z[i * p + j];
    }
    ybar /= f->wsum;
    for (j = 0; j < p; j++)
        zbar[j] /= f->wsum;
    for (i = 0; i < f->n; i++) {
        const double *zi = f->z + i * p;
        double yc = f->y[i] - ybar;

        for (j = 0; j < p; j++) {
            double u = f->w[i] * (zi[j] - zbar[j]);

            b[j] += u * yc;
            for (c = 0; c <= j; c++)
                a[j * p + c] += u * (zi[c] - zbar[c]);
        }
    }
    for (j = 0; j < p; j++) {
        for (c = 0; c < j; c++)
            a[c * p + j] = a[j * p + c];
        a[j * p + j] += f->l2;
    }
    if (!cholesky_solve(a, b, p)) {
        rc = md_err_set(err, MD_EINVAL,
                        "params.l2: %g leaves the columns collinear (no unique fit); raise it",
                        f->l2);
        goto out;
    }
    f->theta[p] = ybar;
    for (j = 0; j < p; j++) {
        f->theta[j] = b[j];
        f->theta[p] -= zbar[j] * b[j];
    }
    f->iterations = 1;
    f->converged = true;
out:
    free(zbar);
    free(a);
    free(b);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Log loss and L-BFGS                                                      */
/* ------------------------------------------------------------------------ */

/*
 * The objective divided by the weight sum W, (sum_i w_i loss_i + l2/2 |beta|^2) / W,
 * at theta, and its gradient into g. s: k scores of scratch.
 */
static double objective(const struct fit *f, const double *theta, double *g, double *s)
{
    size_t p = f->p;
    size_t q = p + 1;
    size_t dim = f->k * q;
    double total = 0;
    size_t i;
    size_t j;
    size_t c;

    memset(g, 0, dim * sizeof(double));
    for (i = 0; i < f->n; i++) {
        const double *zi = f->z + i * p;
        double wi = f->w[i];

        for (c = 0; c < f->k; c++) {
            const double *t = theta + c * q;
            double v = t[p];

            for (j = 0; j < p; j++)
                v += t[j] * zi[j];
            s[c] = v;
        }
        if (f->kind == LK_LOGISTIC) {
            double v = s[0];
            double yv = f->y[i];
            /* log(1 + e^v) - y v, and its derivative sigmoid(v) - y, without overflow */
            double lse = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
            double pr = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));

            total += wi * (lse - yv * v);
            s[0] = wi * (pr - yv);
        } else {
            double mx = s[0];
            double sum = 1.0; /* exp(0), for the largest score */
            size_t top = 0;
            size_t yc = (size_t)f->y[i];

            for (c = 1; c < f->k; c++)
                if (s[c] > mx) {
                    mx = s[c];
                    top = c;
                }
            for (c = 0; c < f->k; c++)
                if (c != top)
                    sum += exp(s[c] - mx);
            total += wi * (mx + log(sum) - s[yc]);
            for (c = 0; c < f->k; c++)
                s[c] = wi * (exp(s[c] - mx) / sum - (c == yc ? 1.0 : 0.0));
        }
        for (c = 0; c < f->k; c++) {
            double *gc = g + c * q;

            for (j = 0; j < p; j++)
                gc[j] += s[c] * zi[j];
            gc[p] += s[c];
        }
    }
    for (c = 0; c < f->k; c++)
        for (j = 0; j < p; j++) {
            double t = theta[c * q + j];

            total += 0.5 * f->l2 * t * t;
            g[c * q + j] += f->l2 * t;
        }
    for (i = 0; i < dim; i++)
        g[i] /= f->wsum;
    return total / f->wsum;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    size_t i;

    for (i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

/*
 * L-BFGS (the last LBFGS_M steps) from theta = 0 with a backtracking line
 * search (Armijo, c1 = 1e-4), until the largest entry of the gradient is at
 * most tol, or max_iter iterations, or no step lowers the objective.
 */
static int fit_lbfgs(struct fit *f, struct md_err *err)
{
    size_t dim = f->k * (f->p + 1);
    double *g = md_calloc(dim, sizeof(double));
    double *gn = md_calloc(dim, sizeof(double));
    double *dir = md_calloc(dim, sizeof(double));
    double *tn = md_calloc(dim, sizeof(double));
    double *sv = md_calloc(LBFGS_M * dim, sizeof(double));
    double *yv = md_calloc(LBFGS_M * dim, sizeof(double));
    double *scr = md_calloc(f->k, sizeof(double));
    double rho[LBFGS_M];
    double alpha[LBFGS_M];
    size_t used = 0;
    size_t head = 0;
    double fx;
    long it;
    int rc = MD_OK;

    if (g == NULL || gn == NULL || dir == NULL || tn == NULL || sv == NULL || yv == NULL ||
        scr == NULL) {
        rc = md_err_set(err, MD_ENOMEM, "linear: no memory for %zu parameters", dim);
        goto out;
    }
    fx = objective(f, f->theta, g, scr);
    for (it = 0; it < f->max_iter; it++) {
        double step = 1.0;
        double slope;
        double fn = 0;
        size_t i;
        size_t m;
        int tries;

        if (max_abs(g, dim) <= f->tol) {
            f->converged = true;
            break;
        }
        /* dir = -H g by the two-loop recursion over the stored pairs, newest first. */
        for (i = 0; i < dim; i++)
            dir[i] = -g[i];
        for (m = 0; m < used; m++) {
            size_t at = (head + LBFGS_M - 1 - m) % LBFGS_M;

            alpha[at] = rho[at] * dot(sv + at * dim, dir, dim);
            for (i = 0; i < dim; i++)
                dir[i] -= alpha[at] * yv[at * dim + i];
        }
        if (used > 0) {
            size_t at = (head + LBFGS_M - 1) % LBFGS_M;
            double gamma =
                dot(sv + at * dim, yv + at * dim, dim) / dot(yv + at * dim, yv + at * dim, dim);

            for (i = 0; i < dim; i++)
                dir[i] *= gamma;
        } else {
            step = 1.0 / fmax(1.0, sqrt(dot(g, g, dim)));
        }
        for (m = used; m-- > 0;) {
            size_t at = (head + LBFGS_M - 1 - m) % LBFGS_M;
            double beta = rho[at] * dot(yv + at * dim, dir, dim);

            for (i = 0; i < dim; i++)
                dir[i] += (alpha[at] - beta) * sv[at * dim + i];
        }
        slope = dot(g, dir, dim);
        if (!(slope < 0)) { /* not a descent direction: start again from the gradient */
            used = 0;
            for (i = 0; i < dim; i++)
                dir[i] = -g[i];
            slope = -dot(g, g, dim);
            step = 1.0 / fmax(1.0, sqrt(-slope));
        }
        for (tries = 0; tries < 60; tries++) {
            for (i = 0; i < dim; i++)
                tn[i] = f->theta[i] + step * dir[i];
            fn = objective(f, tn, gn, scr);
            if (isfinite(fn) && fn <= fx + 1e-4 * step * slope)
                break;
            step *= 0.5;
        }
        if (tries == 60 || !(fn < fx)) {
            /* No step lowers the objective: as close as double precision gets. */
            f->converged = max_abs(g, dim) <= f->tol * 1e3;
            break;
        }
        /* Keep the pair (s, y) when it has curvature. */
        {
            double *s = sv + head * dim;
            double *y = yv + head * dim;
            double sy;

            for (i = 0; i < dim; i++) {
                s[i] = tn[i] - f->theta[i];
                y[i] = gn[i] - g[i];
            }
            sy = dot(s, y, dim);
            if (sy > 1e-300) {
                rho[head] = 1.0 / sy;
                head = (head + 1) % LBFGS_M;
                if (used < LBFGS_M)
                    used++;
            }
        }
        memcpy(f->theta, tn, dim * sizeof(double));
        memcpy(g, gn, dim * sizeof(double));
        fx = fn;
    }
    f->iterations = it;
    if (it == f->max_iter && max_abs(g, dim) <= f->tol)
        f->converged = true;
out:
    free(g);
    free(gn);
    free(dir);
    free(tn);
    free(sv);
    free(yv);
    free(scr);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Parameters and the artifact                                              */
/* ------------------------------------------------------------------------ */

static enum lkind kind_of(enum md_backend_out out)
{
    switch (out) {
    case MD_BACKEND_OUT_PROBABILITY:
        return LK_LOGISTIC;
    case MD_BACKEND_OUT_PROBABILITIES:
        return LK_MULTINOMIAL;
    case MD_BACKEND_OUT_VALUE:
        break;
    }
    return LK_LINEAR;
}

/* Values the parent recorded (metadata.modeld_params) as a config over kv[0..*n). */
static int parent_params(const char *path, struct md_kv *kv, size_t cap, size_t *n, json_t **keep,
                         struct md_err *err)
{
    char *buf;
    size_t len;
    void *inst = NULL;
    json_t *root;
    json_t *saved;
    const char *k;
    json_t *v;
    int rc = md_backend_read_artifact(path, &buf, &len, err);

    *n = 0;
    *keep = NULL;
    if (rc == MD_OK)
        rc = md_backend_refuse_pickle(path, buf, len, "write modeld's linear artifact", err);
    if (rc == MD_OK)
        rc = md_linear__load_buffer(buf, len, NULL, &inst, err);
    if (rc != MD_OK) {
        free(buf);
        md_err_prefix(err, "parent '%.100s': ", path);
        return rc;
    }
    md_backend_linear.free(inst);
    root = json_loadb(buf, len, 0, NULL);
    free(buf);
    saved = json_object_get(json_object_get(root, "metadata"), "modeld_params");
    json_object_foreach(saved, k, v)
    {
        size_t i;

        if (!json_is_string(v) || *n == cap)
            continue;
        for (i = 0; known[i] != NULL; i++)
            if (strcmp(known[i], k) == 0)
                break;
        /* The kind is the outputs', never the parent's: a contract may have changed. */
        if (known[i] == NULL || strcmp(k, "kind") == 0)
            continue;
        kv[*n].key = known[i];
        kv[*n].value = json_string_value(v);
        (*n)++;
    }
    *keep = root; /* the values point into it */
    return MD_OK;
}

static int read_params(const struct md_backend_config *cfg, struct fit *f, struct md_err *err)
{
    const char *kind = md_train_param(cfg, "kind");
    int rc;

    if ((rc = md_train_param_double(cfg, "l2", 0, 1e12, &f->l2, err)) != MD_OK ||
        (rc = md_train_param_long(cfg, "max_iter", 1, 1000000, &f->max_iter, err)) != MD_OK ||
        (rc = md_train_param_double(cfg, "tol", 1e-15, 1, &f->tol, err)) != MD_OK)
        return rc;
    if (kind != NULL && strcmp(kind, lkind_names[f->kind]) != 0)
        return md_err_set(err, MD_EINVAL,
                          "params.kind: '%.40s' does not fit the model's outputs, which a %s "
                          "model gives",
                          kind, lkind_names[f->kind]);
    return MD_OK;
}

static json_t *doubles(const double *v, size_t n, size_t stride)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i * stride]));
    return a;
}

/* The artifact: format of docs/linear.md, with the parameters in metadata. */
static char *artifact(const struct fit *f, const struct md_train_data *d)
{
    json_t *o = json_object();
    json_t *names = json_array();
    json_t *meta = json_object();
    json_t *pm = json_object();
    size_t q = f->p + 1;
    size_t j;
    size_t c;
    char num[40];
    char *s;

    for (j = 0; j < f->p; j++)
        json_array_append_new(names, json_string(d->feature_names[j]));
    json_object_set_new(o, "format", json_string("modeld-linear"));
    json_object_set_new(o, "format_version", json_integer(1));
    json_object_set_new(o, "kind", json_string(lkind_names[f->kind]));
    json_object_set_new(o, "feature_names", names);
    if (f->kind != LK_MULTINOMIAL) {
        json_object_set_new(o, "weights", doubles(f->theta, f->p, 1));
        json_object_set_new(o, "intercept", json_real(f->theta[f->p]));
    } else {
        json_t *w = json_array();
        json_t *b = json_array();

        for (c = 0; c < f->k; c++) {
            json_array_append_new(w, doubles(f->theta + c * q, f->p, 1));
            json_array_append_new(b, json_real(f->theta[c * q + f->p]));
        }
        json_object_set_new(o, "weights", w);
        json_object_set_new(o, "intercept", b);
    }
    if (f->kind != LK_LINEAR)
        json_object_set_new(o, "classes", json_integer((json_int_t)(f->k == 1 ? 2 : f->k)));
    json_object_set_new(o, "standardize",
                        json_pack("{s:o, s:o}", "mean", doubles(f->mean, f->p, 1), "scale",
                                  doubles(f->scale, f->p, 1)));
    json_object_set_new(o, "impute", doubles(f->mean, f->p, 1));
    (void)snprintf(num, sizeof(num), "%.17g", f->l2);
    json_object_set_new(pm, "l2", json_string(num));
    (void)snprintf(num, sizeof(num), "%ld", f->max_iter);
    json_object_set_new(pm, "max_iter", json_string(num));
    (void)snprintf(num, sizeof(num), "%.17g", f->tol);
    json_object_set_new(pm, "tol", json_string(num));
    json_object_set_new(pm, "kind", json_string(lkind_names[f->kind]));
    json_object_set_new(meta, "trained_by", json_string("modeld"));
    json_object_set_new(meta, "modeld_params", pm);
    json_object_set_new(meta, "rows", json_integer((json_int_t)f->n));
    json_object_set_new(meta, "iterations", json_integer((json_int_t)f->iterations));
    json_object_set_new(meta, "converged", json_boolean(f->converged));
    json_object_set_new(o, "metadata", meta);
    s = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(o);
    return s;
}

static void fit_release(struct fit *f)
{
    free(f->z);
    free(f->w);
    free(f->mean);
    free(f->scale);
    free(f->theta);
}

int md_linear__train(const struct md_backend_config *params, const struct md_train_data *d,
                     const char *parent, const char *out_path, struct md_err *err)
{
    struct fit f = {0};
    struct md_kv pkv[8];
    size_t n_pkv = 0;
    json_t *keep = NULL;
    char *text = NULL;
    void *check = NULL;
    size_t i;
    int rc = md_train_check_data(d, err);

    if (rc == MD_OK)
        rc = md_train_params_known(params, "linear", known, err);
    if (rc != MD_OK)
        return rc;
    if (d->feature_names == NULL)
        return md_err_set(err, MD_EINVAL, "training set: no feature names for the artifact");
    f.kind = kind_of(d->kind);
    f.n = d->n_rows;
    f.p = d->n_features;
    f.k = f.kind == LK_MULTINOMIAL ? d->n_classes : 1;
    f.y = d->y;
    f.l2 = DEFAULT_L2;
    f.max_iter = DEFAULT_MAX_ITER;
    f.tol = DEFAULT_TOL;
    if (f.k * (f.p + 1) > MAX_PARAMS_DIM)
        return md_err_set(err, MD_EINVAL, "training set: %zu classes of %zu columns is too many",
                          f.k, f.p);
    if (parent != NULL) {
        struct md_backend_config pc;

        rc = parent_params(parent, pkv, MD_ARRAY_LEN(pkv), &n_pkv, &keep, err);
        pc = (struct md_backend_config){pkv, n_pkv};
        if (rc == MD_OK)
            rc = read_params(&pc, &f, err);
        if (rc != MD_OK) {
            json_decref(keep);
            return rc;
        }
    }
    rc = read_params(params, &f, err);
    json_decref(keep);
    if (rc != MD_OK)
        return rc;
    f.z = md_calloc(f.n * f.p, sizeof(double));
    f.w = md_calloc(f.n, sizeof(double));
    f.mean = md_calloc(f.p, sizeof(double));
    f.scale = md_calloc(f.p, sizeof(double));
    f.theta = md_calloc(f.k * (f.p + 1), sizeof(double));
    if (f.z == NULL || f.w == NULL || f.mean == NULL || f.scale == NULL || f.theta == NULL) {
        fit_release(&f);
        return md_err_set(err, MD_ENOMEM, "linear: no memory for %zu rows of %zu columns", f.n,
                          f.p);
    }
    for (i = 0; i < f.n; i++) {
        f.w[i] = d->w != NULL ? d->w[i] : 1.0;
        f.wsum += f.w[i];
    }
    standardise(&f, d);
    rc = f.kind == LK_LINEAR ? fit_ridge(&f, err) : fit_lbfgs(&f, err);
    if (rc == MD_OK) {
        text = artifact(&f, d);
        if (text == NULL)
            rc = md_err_set(err, MD_ENOMEM, "linear: no memory for the artifact");
    }
    /* What is written must load: checked by the engine's own loader first. */
    if (rc == MD_OK) {
        rc = md_linear__load_buffer(text, strlen(text), NULL, &check, err);
        if (rc != MD_OK)
            md_err_prefix(err, "trained model: ");
        else
            md_backend_linear.free(check);
    }
    if (rc == MD_OK)
        rc = md_train_write(out_path, text, strlen(text), err);
    free(text);
    fit_release(&f);
    return rc;
}
