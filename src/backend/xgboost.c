/* SPDX-License-Identifier: MIT */
/*
 * xgboost.c: the reference engine (backend `xgboost`): XGBoost models run by
 * libxgboost itself through its C API.
 *
 * libxgboost trusts the structure of a model file: a child index out of
 * range, a cycle or a missing tree crashes it, hangs it or makes it answer
 * wrongly. So a load reads the file once, checks those bytes with the trees
 * engine's own fuzzed loader (md_trees_check: JSON text or UBJSON), tries
 * them in a helper process under time and memory limits (loadcheck.h), and
 * only then gives the same bytes to libxgboost in the daemon. Pickles are
 * refused, and so is XGBoost's old binary format (it cannot be checked).
 *
 * It runs what libxgboost loads (gbtree, dart, gblinear; categorical splits;
 * any objective) as long as the output maps onto backend.h's kinds: reg:*,
 * count:* and survival:* give one VALUE, binary:logistic one PROBABILITY,
 * multi:softprob num_class PROBABILITIES; the rest (multi:softmax,
 * binary:logitraw, binary:hinge, rank:*, multi-target models) is refused.
 *
 * Threads: predict calls on one instance are serialized by a mutex (libxgboost
 * keeps its result buffer in the booster), so concurrent callers queue; the
 * `trees` engine is the lock-free one. Engine option `nthread` (default 1) is
 * passed to libxgboost. libxgboost's errors are copied into struct md_err.
 */
#include "backend/backend.h"
#include "backend/loadcheck.h"
#include "backend/trees.h"
#include "backend/xgboost_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <xgboost/c_api.h>

#include "util/mem.h"

#define MAX_NTHREAD 1024

struct xgb {
    BoosterHandle h;      /* owned; used under lock after load */
    pthread_mutex_t lock; /* serializes predict calls */
    bool dmatrix;         /* the booster has no in-place predict (gblinear): use a DMatrix */
    size_t nf;            /* features per row */
    size_t n_out;         /* outputs per row */
    enum md_backend_out kind;
    char *objective;      /* objective name */
    char **feature_names; /* NULL or nf names */
};

/*
 * Sets err from XGBGetLastError(): the first line, without libxgboost's
 * "[12:00:00] src/file.cc:123: " prefix.
 */
int md_xgboost__error(struct md_err *err, int code, const char *what)
{
    const char *e = XGBGetLastError();
    const char *p;
    size_t n;

    if (e == NULL)
        e = "";
    if (e[0] == '[' && (p = strstr(e, "] ")) != NULL)
        e = p + 2;
    p = strstr(e, ": ");
    if (p != NULL && (size_t)(p - e) < 120 && memchr(e, ' ', (size_t)(p - e)) == NULL &&
        memchr(e, ':', (size_t)(p - e)) != NULL)
        e = p + 2; /* "file.cc:123: " */
    n = strcspn(e, "\n");
    if (n > 180)
        n = 180;
    md_err_set(err, code, "%s: libxgboost: %.*s", what, (int)n, e);
    /* libxgboost may quote bytes of the file: keep the message printable ASCII. */
    for (p = err != NULL ? err->msg : ""; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            err->msg[p - err->msg] = '?';
    return code;
}

static void xgb_free(void *inst)
{
    struct xgb *m = inst;
    size_t i;

    if (m == NULL)
        return;
    if (m->h != NULL)
        XGBoosterFree(m->h);
    if (m->feature_names != NULL) {
        for (i = 0; i < m->nf; i++)
            free(m->feature_names[i]);
        free(m->feature_names);
    }
    free(m->objective);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int parse_options(const struct md_backend_config *cfg, char *nthread, size_t cap,
                         struct md_err *err)
{
    long n = 1;
    int rc = md_backend_nthread_option(cfg, "xgboost", MAX_NTHREAD, &n, err);
    int len;

    if (rc != MD_OK)
        return rc;
    len = snprintf(nthread, cap, "%ld", n);
    if (len < 0 || (size_t)len >= cap)
        return md_err_set(err, MD_EINTERNAL, "xgboost: nthread %ld does not fit in %zu bytes", n,
                          cap);
    return MD_OK;
}

/* Output kind and width for an objective; MD_EUNSUPPORTED when there is none. */
static int map_objective(struct xgb *m, const char *name, long num_class, long num_target,
                         struct md_err *err)
{
    if (num_target > 1)
        return md_err_set(err, MD_EUNSUPPORTED,
                          "num_target: %ld targets per row are not supported; one output or one "
                          "per class",
                          num_target);
    m->n_out = 1;
    if (strcmp(name, "binary:logistic") == 0) {
        m->kind = MD_BACKEND_OUT_PROBABILITY;
    } else if (strcmp(name, "multi:softprob") == 0) {
        if (num_class < 2)
            return md_err_set(err, MD_ECORRUPT, "num_class: %ld is below 2 for multi:softprob",
                              num_class);
        m->kind = MD_BACKEND_OUT_PROBABILITIES;
        m->n_out = (size_t)num_class;
    } else if (strncmp(name, "reg:", 4) == 0 || strncmp(name, "count:", 6) == 0 ||
               strncmp(name, "survival:", 9) == 0) {
        m->kind = MD_BACKEND_OUT_VALUE;
    } else {
        return md_err_set(err, MD_EUNSUPPORTED,
                          "objective '%.60s': its output is not a probability, class "
                          "probabilities or a value (use binary:logistic, multi:softprob, reg:*, "
                          "count:* or survival:*)",
                          name);
    }
    return MD_OK;
}

/* An integer that libxgboost's JSON config stores as a string. */
static long config_int(json_t *obj, const char *key, long dflt)
{
    json_t *v = json_object_get(obj, key);
    char *end;
    long n;

    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (!json_is_string(v))
        return dflt;
    errno = 0;
    n = strtol(json_string_value(v), &end, 10);
    if (errno != 0 || *end != '\0' || end == json_string_value(v))
        return dflt;
    return n;
}

/* Objective, classes, features and feature names, from the booster. */
static int describe_booster(struct xgb *m, struct md_err *err)
{
    bst_ulong nf;
    bst_ulong len;
    const char *cfg;
    const char **names;
    json_error_t jerr;
    json_t *root;
    json_t *learner;
    json_t *lmp;
    const char *obj;
    size_t i;
    int rc;

    if (XGBoosterGetNumFeature(m->h, &nf) != 0)
        return md_xgboost__error(err, MD_EINTERNAL, "number of features");
    if (nf == 0)
        return md_err_set(err, MD_ECORRUPT, "num_feature: 0, a model needs features");
    m->nf = (size_t)nf;
    if (XGBoosterSaveJsonConfig(m->h, &len, &cfg) != 0)
        return md_xgboost__error(err, MD_EINTERNAL, "configuration");
    root = json_loadb(cfg, (size_t)len, 0, &jerr);
    if (root == NULL)
        return md_err_set(err, MD_EINTERNAL, "libxgboost configuration: not valid JSON: %s",
                          jerr.text);
    learner = json_object_get(root, "learner");
    lmp = json_object_get(learner, "learner_model_param");
    obj = json_string_value(json_object_get(json_object_get(learner, "objective"), "name"));
    if (obj == NULL) {
        json_decref(root);
        return md_err_set(err, MD_EINTERNAL, "libxgboost configuration: no objective name");
    }
    rc = map_objective(m, obj, config_int(lmp, "num_class", 0), config_int(lmp, "num_target", 1),
                       err);
    if (rc == MD_OK) {
        m->objective = md_xstrdup(obj);
    }
    json_decref(root);
    if (rc != MD_OK)
        return rc;
    if (XGBoosterGetStrFeatureInfo(m->h, "feature_name", &len, &names) != 0)
        return md_xgboost__error(err, MD_EINTERNAL, "feature names");
    if (len == 0)
        return MD_OK;
    if ((size_t)len != m->nf)
        return md_err_set(err, MD_ECORRUPT, "feature_names: %zu names, num_feature says %zu",
                          (size_t)len, m->nf);
    m->feature_names = md_calloc(m->nf, sizeof(*m->feature_names));
    if (m->feature_names == NULL)
        return md_err_set(err, MD_ENOMEM, "xgboost: no memory for %zu feature names", m->nf);
    for (i = 0; i < m->nf; i++)
        m->feature_names[i] = md_xstrdup(names[i]);
    return MD_OK;
}

/* One libxgboost prediction of n_rows rows at x; *res lives until the next call. Under lock. */
static int run_predict(struct xgb *m, const float *x, size_t n_rows, const bst_ulong **shape,
                       bst_ulong *dim, const float **res)
{
    static const char inplace[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                  "\"iteration_end\": 0, \"strict_shape\": true, "
                                  "\"cache_id\": 0, \"missing\": NaN}";
    static const char config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": true}";
    char array[160];
    DMatrixHandle dm;
    int rc;

    if (!m->dmatrix) {
        /* The array interface: a pointer to the row-major float32 matrix, read-only. */
        rc = snprintf(array, sizeof(array),
                      "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], \"typestr\": "
                      "\"<f4\", \"version\": 3}",
                      (uintptr_t)x, n_rows, m->nf);
        /* At most 126 bytes; were it ever cut short, the DMatrix path needs no text. */
        if (rc > 0 && (size_t)rc < sizeof(array))
            return XGBoosterPredictFromDense(m->h, array, inplace, NULL, shape, dim, res);
    }
    if (XGDMatrixCreateFromMat(x, (bst_ulong)n_rows, (bst_ulong)m->nf, NAN, &dm) != 0)
        return -1;
    rc = XGBoosterPredictFromDMatrix(m->h, dm, config, shape, dim, res);
    XGDMatrixFree(dm);
    return rc;
}

/* Whether in-place prediction works for this booster (gblinear has none); sets m->dmatrix. */
static int probe_inplace(struct xgb *m, struct md_err *err)
{
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    float *row = md_malloc(m->nf * sizeof(*row));
    size_t i;
    int rc = MD_OK;

    if (row == NULL)
        return md_err_set(err, MD_ENOMEM, "xgboost: no memory for a row of %zu features", m->nf);
    for (i = 0; i < m->nf; i++)
        row[i] = NAN;
    if (run_predict(m, row, 1, &shape, &dim, &res) != 0) {
        m->dmatrix = true;
        if (run_predict(m, row, 1, &shape, &dim, &res) != 0)
            rc = md_xgboost__error(err, MD_EUNSUPPORTED, "predict");
    }
    free(row);
    return rc;
}

/*
 * The file at path, read once, checked (pickles, the trees engine's checks)
 * and tried in a helper: *buf (the caller frees it) and where the document
 * starts in it.
 */
static int read_checked(const char *path, const struct md_backend_config *cfg, char **buf,
                        size_t *len, size_t *start, struct md_err *err)
{
    int rc = md_backend_read_artifact(path, buf, len, err);

    if (rc != MD_OK)
        return rc;
    rc = md_backend_refuse_pickle(path, *buf, *len, MD_XGBOOST_EXPORT, err);
    if (rc == MD_OK)
        rc = md_trees_check(*buf, *len, start, err);
    if (rc == MD_OK)
        rc = md_loadcheck_run("xgboost", *buf + *start, *len - *start, cfg, err);
    if (rc != MD_OK) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

static int xgb_load(const char *path, const struct md_backend_config *cfg, void **inst,
                    struct md_err *err)
{
    char nthread[16];
    struct xgb *m;
    char *buf;
    size_t len;
    size_t start = 0;
    int rc;

    *inst = NULL;
    rc = parse_options(cfg, nthread, sizeof(nthread), err);
    if (rc == MD_OK)
        rc = read_checked(path, cfg, &buf, &len, &start, err);
    if (rc != MD_OK)
        return rc;
    m = md_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    if (XGBoosterCreate(NULL, 0, &m->h) != 0) {
        rc = md_xgboost__error(err, MD_EINTERNAL, "booster");
        m->h = NULL;
    } else if (XGBoosterLoadModelFromBuffer(m->h, buf + start, (bst_ulong)(len - start)) != 0) {
        /* The same bytes that were checked, JSON or UBJSON told apart as the check did. */
        rc = md_xgboost__error(err, MD_ECORRUPT, "model");
    } else if (XGBoosterSetParam(m->h, "nthread", nthread) != 0) {
        rc = md_xgboost__error(err, MD_EINVAL, "engine option 'nthread'");
    } else {
        rc = describe_booster(m, err);
    }
    free(buf);
    if (rc == MD_OK)
        rc = probe_inplace(m, err);
    if (rc != MD_OK) {
        xgb_free(m);
        return rc;
    }
    *inst = m;
    return MD_OK;
}

static void xgb_describe(const void *inst, struct md_backend_desc *out)
{
    const struct xgb *m = inst;

    out->n_features = m->nf;
    out->n_outputs = m->n_out;
    out->kind = m->kind;
    out->feature_names = (const char *const *)m->feature_names;
    out->objective = m->objective;
}

static int xgb_predict(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    struct xgb *m = inst;
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    size_t total = 1;
    bst_ulong i;
    int rc = MD_OK;

    if (n_rows == 0)
        return MD_OK;
    pthread_mutex_lock(&m->lock);
    if (run_predict(m, x, n_rows, &shape, &dim, &res) != 0) {
        rc = md_xgboost__error(err, MD_EINTERNAL, "predict");
    } else {
        for (i = 0; i < dim; i++)
            total *= (size_t)shape[i];
        if (total != n_rows * m->n_out)
            rc = md_err_set(err, MD_EINTERNAL,
                            "predict: libxgboost returned %zu values for %zu rows of %zu", total,
                            n_rows, m->n_out);
        else
            memcpy(out, res, total * sizeof(*out));
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/*
 * libxgboost's pred_contribs (prediction type 2, exact TreeSHAP for trees) through a DMatrix:
 * in-place prediction gives values and margins only.
 */
static int xgb_explain(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    static const char config[] = "{\"type\": 2, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": true}";
    struct xgb *m = inst;
    size_t groups = m->kind == MD_BACKEND_OUT_PROBABILITIES ? m->n_out : 1;
    size_t want = n_rows * groups * (m->nf + 1);
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    DMatrixHandle dm;
    size_t total = 1;
    bst_ulong i;
    int rc = MD_OK;

    if (n_rows == 0)
        return MD_OK;
    if (XGDMatrixCreateFromMat(x, (bst_ulong)n_rows, (bst_ulong)m->nf, NAN, &dm) != 0)
        return md_xgboost__error(err, MD_EINVAL, "explain");
    pthread_mutex_lock(&m->lock);
    if (XGBoosterPredictFromDMatrix(m->h, dm, config, &shape, &dim, &res) != 0) {
        rc = md_xgboost__error(err, MD_EINTERNAL, "explain");
    } else {
        for (i = 0; i < dim; i++)
            total *= (size_t)shape[i];
        if (total != want)
            rc = md_err_set(err, MD_EINTERNAL,
                            "explain: libxgboost returned %zu values for %zu rows of %zu", total,
                            n_rows, want / n_rows);
        else
            memcpy(out, res, total * sizeof(*out));
    }
    pthread_mutex_unlock(&m->lock);
    XGDMatrixFree(dm);
    return rc;
}

const struct md_backend_ops md_backend_xgboost = {
    .abi = MD_BACKEND_ABI,
    .name = "xgboost",
    .load = xgb_load,
    .describe = xgb_describe,
    .predict = xgb_predict,
    .learn = NULL,
    .explain = xgb_explain,
    .train = md_xgboost__train,
    .free = xgb_free,
};
