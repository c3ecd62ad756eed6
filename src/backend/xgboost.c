/* SPDX-License-Identifier: MIT */
/*
 * xgboost.c: XGBoost models through libxgboost's C API: the reference engine,
 * and the one that runs what the native trees engine refuses (categorical
 * splits, other objectives, dart).
 *
 * libxgboost's prediction on one booster is serialized by a mutex here: the
 * library keeps per-booster prediction caches, and Debian's 1.7 makes no
 * promise of concurrent use. Models that need throughput use `trees`.
 */
#include "backend/backend.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <xgboost/c_api.h>

struct xgb {
    BoosterHandle booster;
    pthread_mutex_t lock;    /* serializes predict calls */
    size_t n_features;
    size_t n_outputs;
    enum md_backend_out kind;
    char objective[48];
    char **feature_names;    /* NULL or n_features */
};

static int xgb_error(struct md_err *err, int code, const char *what)
{
    return md_err_set(err, code, "%s: %s", what, XGBGetLastError());
}

static void xgb_free(void *inst)
{
    struct xgb *m = inst;
    size_t i;

    if (m == NULL)
        return;
    if (m->booster != NULL)
        XGBoosterFree(m->booster);
    if (m->feature_names != NULL)
        for (i = 0; i < m->n_features; i++)
            free(m->feature_names[i]);
    free(m->feature_names);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Objective and class count from the booster's saved configuration. */
static int read_config(struct xgb *m, struct md_err *err)
{
    bst_ulong len = 0;
    const char *cfg = NULL;
    json_t *root;
    json_error_t je;
    const char *name;
    const char *ncls;
    long num_class = 0;

    if (XGBoosterSaveJsonConfig(m->booster, &len, &cfg) != 0)
        return xgb_error(err, MD_ECORRUPT, "reading the model configuration");
    root = json_loadb(cfg, len, 0, &je);
    if (root == NULL)
        return md_err_set(err, MD_ECORRUPT, "model configuration is not JSON");
    name = json_string_value(json_object_get(
        json_object_get(json_object_get(root, "learner"), "objective"), "name"));
    ncls = json_string_value(json_object_get(
        json_object_get(json_object_get(root, "learner"), "learner_model_param"), "num_class"));
    if (ncls != NULL)
        num_class = strtol(ncls, NULL, 10);
    snprintf(m->objective, sizeof(m->objective), "%s", name ? name : "");
    json_decref(root);
    if (strncmp(m->objective, "reg:", 4) == 0 || strcmp(m->objective, "count:poisson") == 0 ||
        strcmp(m->objective, "survival:aft") == 0 || strcmp(m->objective, "binary:logitraw") == 0) {
        m->kind = MD_BACKEND_OUT_VALUE;
        m->n_outputs = 1;
    } else if (strcmp(m->objective, "binary:logistic") == 0) {
        m->kind = MD_BACKEND_OUT_PROBABILITY;
        m->n_outputs = 1;
    } else if (strcmp(m->objective, "multi:softprob") == 0 && num_class >= 2) {
        m->kind = MD_BACKEND_OUT_PROBABILITIES;
        m->n_outputs = (size_t)num_class;
    } else {
        return md_err_set(err, MD_EUNSUPPORTED,
                          "objective '%s' has no output modeld can serve (regression, "
                          "binary:logistic or multi:softprob)", m->objective);
    }
    return MD_OK;
}

static int xgb_load(const char *path, const struct md_backend_config *cfg, void **inst,
                    struct md_err *err)
{
    struct xgb *m;
    const char *nthread = "1";
    bst_ulong nf = 0;
    bst_ulong nnames = 0;
    const char **names = NULL;
    FILE *f;
    size_t i;
    int rc;

    *inst = NULL;
    for (i = 0; cfg != NULL && i < cfg->n_options; i++) {
        if (strcmp(cfg->options[i].key, "nthread") == 0) {
            char *end;
            long v = strtol(cfg->options[i].value, &end, 10);

            if (*end != '\0' || v < 1 || v > 256)
                return md_err_set(err, MD_EINVAL, "engine option 'nthread': '%s' is not a "
                                  "thread count from 1 to 256", cfg->options[i].value);
            nthread = cfg->options[i].value;
        } else {
            return md_err_set(err, MD_EINVAL, "engine option '%s': unknown (the xgboost "
                              "backend takes nthread)", cfg->options[i].key);
        }
    }
    f = fopen(path, "rb");
    if (f == NULL)
        return md_err_set(err, MD_EIO, "cannot open: %s", strerror(errno));
    fclose(f);
    m = md_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    if (XGBoosterCreate(NULL, 0, &m->booster) != 0) {
        rc = xgb_error(err, MD_EINTERNAL, "creating a booster");
        goto fail;
    }
    if (XGBoosterLoadModel(m->booster, path) != 0) {
        rc = xgb_error(err, MD_ECORRUPT, "not a model libxgboost can load");
        goto fail;
    }
    if (XGBoosterSetParam(m->booster, "nthread", nthread) != 0) {
        rc = xgb_error(err, MD_EINVAL, "setting nthread");
        goto fail;
    }
    if (XGBoosterGetNumFeature(m->booster, &nf) != 0 || nf == 0) {
        rc = md_err_set(err, MD_ECORRUPT, "model has no features");
        goto fail;
    }
    m->n_features = (size_t)nf;
    rc = read_config(m, err);
    if (rc != MD_OK)
        goto fail;
    if (XGBoosterGetStrFeatureInfo(m->booster, "feature_name", &nnames, &names) == 0 &&
        nnames == nf) {
        m->feature_names = md_xcalloc(m->n_features, sizeof(char *));
        for (i = 0; i < m->n_features; i++)
            m->feature_names[i] = md_xstrdup(names[i]);
    }
    *inst = m;
    return MD_OK;
fail:
    xgb_free(m);
    return rc;
}

static void xgb_describe(const void *inst, struct md_backend_desc *out)
{
    const struct xgb *m = inst;

    out->n_features = m->n_features;
    out->n_outputs = m->n_outputs;
    out->kind = m->kind;
    out->feature_names = (const char *const *)m->feature_names;
    out->objective = m->objective;
}

static int xgb_predict(void *inst, const float *x, size_t n_rows, float *out, struct md_err *err)
{
    struct xgb *m = inst;
    char iface[256];
    static const char config[] =
        "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
        "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    const float *res = NULL;
    size_t want = n_rows * m->n_outputs;
    size_t got;
    size_t i;
    int rc = MD_OK;

    snprintf(iface, sizeof(iface),
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)x, n_rows, m->n_features);
    pthread_mutex_lock(&m->lock);
    if (XGBoosterPredictFromDense(m->booster, iface, config, NULL, &shape, &dim, &res) != 0) {
        rc = xgb_error(err, MD_EINTERNAL, "predict");
    } else {
        got = 1;
        for (i = 0; i < dim; i++)
            got *= (size_t)shape[i];
        if (got != want)
            rc = md_err_set(err, MD_EINTERNAL, "predict returned %zu values, expected %zu", got,
                            want);
        else
            memcpy(out, res, want * sizeof(float));
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

const struct md_backend_ops md_backend_xgboost = {
    .abi = MD_BACKEND_ABI,
    .name = "xgboost",
    .load = xgb_load,
    .describe = xgb_describe,
    .predict = xgb_predict,
    .learn = NULL,
    .train = NULL,
    .free = xgb_free,
};
