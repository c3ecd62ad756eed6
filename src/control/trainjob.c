/* SPDX-License-Identifier: MIT */
/*
 * trainjob.c: the training child (see trainjob.h). Everything here runs in
 * the child process, single-threaded but for what the engine's train uses.
 */
#include "control/trainjob.h"
#include "backend/registry.h"
#include "learn/profile_build.h"
#include "serve/contract.h"
#include "serve/contract_rows.h"
#include "util/buf.h"
#include "util/mem.h"
#include "watch/quality.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

#define ROWS_MAX   ((size_t)20000000) /* rows of a file at most */
#define PARAMS_MAX 64

/* What job.json asks for. */
struct job {
    json_t *root;
    const char *dir;
    const char *model;
    bool native;
    unsigned threads;
    const char *parent;            /* or NULL */
    const char *artifact;          /* the candidate's */
    const char *champion_artifact; /* or NULL */
    struct md_kv params[PARAMS_MAX];
    size_t n_params;
};

/* The figures of one model on the held-out rows. */
struct figures {
    size_t n;
    double roc_auc, accuracy, f1, log_loss; /* classification (NaN when not computed) */
    double rmse, mae, r2;                   /* regression */
};

static void path_in(char *buf, size_t n, const char *dir, const char *name)
{
    (void)snprintf(buf, n, "%s/%s", dir, name);
}

static int write_file(const char *path, const char *text, struct md_err *err)
{
    FILE *fp = fopen(path, "w");
    int rc = MD_OK;

    if (fp == NULL)
        return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    if (fputs(text, fp) == EOF)
        rc = md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    if (fclose(fp) != 0 && rc == MD_OK)
        rc = md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    return rc;
}

static int read_job(const char *dir, struct job *j, struct md_err *err)
{
    char path[4096];
    json_error_t je;
    json_t *params;
    const char *mode;
    const char *key;
    json_t *v;

    memset(j, 0, sizeof(*j));
    j->dir = dir;
    path_in(path, sizeof(path), dir, "job.json");
    j->root = json_load_file(path, 0, &je);
    if (!json_is_object(j->root))
        return md_err_set(err, MD_EINVAL, "job.json: %s", je.text);
    j->model = json_string_value(json_object_get(j->root, "model"));
    mode = json_string_value(json_object_get(j->root, "mode"));
    j->artifact = json_string_value(json_object_get(j->root, "artifact"));
    j->parent = json_string_value(json_object_get(j->root, "parent"));
    j->champion_artifact =
        json_string_value(json_object_get(json_object_get(j->root, "champion"), "artifact"));
    j->threads = (unsigned)json_integer_value(json_object_get(j->root, "threads"));
    if (j->threads == 0)
        j->threads = 1;
    if (j->model == NULL || mode == NULL || j->artifact == NULL)
        return md_err_set(err, MD_EINVAL, "job.json: model, mode or artifact missing");
    j->native = strcmp(mode, "native") == 0;
    params = json_object_get(j->root, "params");
    json_object_foreach(params, key, v)
    {
        if (j->n_params == PARAMS_MAX || !json_is_string(v))
            return md_err_set(err, MD_EINVAL, "job.json: params: too many or not text");
        j->params[j->n_params].key = key;
        j->params[j->n_params++].value = json_string_value(v);
    }
    return MD_OK;
}

/* ---- evaluation ------------------------------------------------------------------ */

static enum md_backend_out out_kind(const struct md_contract *c)
{
    if (c->task == MD_TASK_REGRESSION)
        return MD_BACKEND_OUT_VALUE;
    return c->n_labels == 2 ? MD_BACKEND_OUT_PROBABILITY : MD_BACKEND_OUT_PROBABILITIES;
}

/* The figures of predictions out (rows->n_rows * k) against rows' targets. */
static void score(const struct md_contract *c, const struct md_contract_rows *rows,
                  const float *out, size_t k, struct figures *fg)
{
    size_t n = rows->n_rows;

    fg->n = n;
    fg->roc_auc = fg->accuracy = fg->f1 = fg->log_loss = NAN;
    fg->rmse = fg->mae = fg->r2 = NAN;
    if (n == 0 || out == NULL)
        return;
    if (c->task == MD_TASK_REGRESSION) {
        double *y = md_xmalloc(n * sizeof(*y));
        double *yh = md_xmalloc(n * sizeof(*yh));
        struct md_quality_regression q;

        for (size_t i = 0; i < n; i++) {
            y[i] = rows->y[i];
            yh[i] = out[i];
        }
        md_quality_regression(y, yh, n, &q);
        fg->rmse = q.rmse;
        fg->mae = q.mae;
        fg->r2 = q.r2;
        free(y);
        free(yh);
        return;
    }
    {
        size_t nl = c->n_labels;
        uint64_t *cm = md_xcalloc(nl * nl, sizeof(*cm));
        double *f1 = md_xcalloc(nl, sizeof(*f1));
        struct md_quality_classes qc;
        double ll = 0;

        for (size_t i = 0; i < n; i++) {
            size_t t = (size_t)rows->y[i];
            size_t p = 0;
            double pt;

            if (k == 1) {
                p = out[i] >= c->threshold ? 1 : 0;
                pt = t == 1 ? out[i] : 1 - out[i];
            } else {
                for (size_t j = 1; j < k; j++)
                    if (out[i * k + j] > out[i * k + p])
                        p = j;
                pt = out[i * k + t];
            }
            if (pt < MD_QUALITY_EPS)
                pt = MD_QUALITY_EPS;
            if (pt > 1 - MD_QUALITY_EPS)
                pt = 1 - MD_QUALITY_EPS;
            ll -= log(pt);
            cm[t * nl + (p < nl ? p : 0)]++;
        }
        memset(&qc, 0, sizeof(qc));
        qc.k = nl;
        qc.f1 = f1;
        md_quality_classes(cm, nl, &qc);
        fg->accuracy = qc.accuracy;
        fg->f1 = nl == 2 ? f1[1] : qc.macro_f1;
        fg->log_loss = ll / (double)n;
        if (k == 1) {
            unsigned char *y = md_xmalloc(n);
            double *p = md_xmalloc(n * sizeof(*p));
            size_t *work = md_xmalloc(n * sizeof(*work));

            for (size_t i = 0; i < n; i++) {
                y[i] = rows->y[i] == 1;
                p[i] = out[i];
            }
            fg->roc_auc = md_quality_roc_auc(y, p, n, work);
            free(y);
            free(p);
            free(work);
        }
        free(cm);
        free(f1);
    }
}

static void put_fig(struct md_buf *b, const char *name, double v, bool *first)
{
    if (isnan(v))
        return;
    (void)md_buf_printf(b, "%s\"%s\":%.17g", *first ? "" : ",", name, v);
    *first = false;
}

static void put_figures(struct md_buf *b, const struct figures *fg)
{
    bool first = true;

    (void)md_buf_putc(b, '{');
    put_fig(b, "roc_auc", fg->roc_auc, &first);
    put_fig(b, "accuracy", fg->accuracy, &first);
    put_fig(b, "f1", fg->f1, &first);
    put_fig(b, "log_loss", fg->log_loss, &first);
    put_fig(b, "rmse", fg->rmse, &first);
    put_fig(b, "mae", fg->mae, &first);
    put_fig(b, "r2", fg->r2, &first);
    (void)md_buf_printf(b, "%s\"rows\":%zu}", first ? "" : ",", fg->n);
}

/* Loads the artifact at path with c's engine and predicts rows: *out
 * (malloc'd, rows->n_rows * *k). */
static int predict_all(const struct md_contract *c, const char *path,
                       const struct md_contract_rows *rows, float **out, size_t *k,
                       struct md_err *err)
{
    const struct md_backend_ops *ops = md_backend_find(c->backend);
    struct md_backend_config cfg = {c->engine, c->n_engine};
    struct md_backend_desc desc;
    void *inst = NULL;
    int rc;

    *out = NULL;
    if (ops == NULL)
        return md_err_set(err, MD_EINVAL, "backend '%s' is not built in", c->backend);
    rc = ops->load(path, &cfg, &inst, err);
    if (rc != MD_OK)
        return rc;
    ops->describe(inst, &desc);
    rc = md_contract_check_engine(c, &desc, err);
    if (rc == MD_OK) {
        *k = desc.n_outputs;
        *out = md_xmalloc((rows->n_rows > 0 ? rows->n_rows : 1) * desc.n_outputs * sizeof(float));
        if (rows->n_rows > 0)
            rc = ops->predict(inst, rows->x, rows->n_rows, *out, err);
    }
    ops->free(inst);
    if (rc != MD_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- the job ------------------------------------------------------------------------ */

static int train_native(const struct job *j, const struct md_contract *c,
                        const struct md_contract_rows *train, struct md_err *err)
{
    const struct md_backend_ops *ops = md_backend_find(c->backend);
    struct md_backend_config params = {j->params, j->n_params};
    struct md_train_data d;

    if (ops == NULL || ops->train == NULL)
        return md_err_set(err, MD_EINVAL,
                          "the %s engine cannot train: name an external trainer "
                          "(training.trainer)",
                          c->backend);
    memset(&d, 0, sizeof(d));
    d.x = train->x;
    d.y = train->y;
    d.w = train->w;
    d.n_rows = train->n_rows;
    d.n_features = c->width;
    d.feature_names = (const char *const *)c->column_names;
    d.kind = out_kind(c);
    d.n_classes = c->task == MD_TASK_REGRESSION ? 0 : c->n_labels;
    d.threads = j->threads;
    return ops->train(&params, &d, j->parent, j->artifact, err);
}

static char *profile_of(const struct md_contract *c, const struct md_contract_rows *train,
                        const float *scores, size_t k, const char *quality)
{
    struct md_profile_column *f = md_xcalloc(c->n_features + 1, sizeof(*f));
    struct md_profile_scores s = {scores, k, (const char *const *)c->labels,
                                  c->task == MD_TASK_REGRESSION ? 0 : c->n_labels, c->threshold};
    char *text;

    for (size_t i = 0; i < c->n_features; i++) {
        const struct md_feature *ft = &c->features[i];

        f[i].name = ft->name;
        f[i].column = ft->column;
        if (ft->categories != NULL && ft->encoding != MD_ENC_NONE) {
            f[i].categories = (const char *const *)ft->categories;
            f[i].n_categories = ft->n_categories;
            f[i].onehot = ft->encoding == MD_ENC_ONEHOT;
        }
    }
    text = md_profile_build(train->x, train->n_rows, c->width, f, c->n_features,
                            scores != NULL ? &s : NULL, quality);
    free(f);
    return text;
}

static int run_job(const struct job *j, struct md_err *err)
{
    struct md_contract *c = NULL;
    struct md_contract *cc = NULL;
    struct md_contract_rows train = {0};
    struct md_contract_rows hold = {0};
    struct md_contract_rows chold = {0};
    struct figures cand = {0};
    struct figures champ = {0};
    float *out = NULL;
    float *tout = NULL;
    size_t k = 0;
    char path[4096];
    struct md_buf b;
    char *text;
    int rc;

    path_in(path, sizeof(path), j->dir, "model.yaml");
    rc = md_contract_load(path, j->model, &c, err);
    if (rc != MD_OK)
        return rc;
    path_in(path, sizeof(path), j->dir, "train.jsonl");
    rc = md_contract_rows_read(c, path, ROWS_MAX, &train, err);
    if (rc == MD_OK) {
        path_in(path, sizeof(path), j->dir, "holdout.jsonl");
        rc = md_contract_rows_read(c, path, ROWS_MAX, &hold, err);
    }
    if (rc == MD_OK && j->native)
        rc = train_native(j, c, &train, err);
    if (rc == MD_OK) {
        rc = predict_all(c, j->artifact, &hold, &out, &k, err);
        if (rc != MD_OK)
            md_err_prefix(err, "the trained artifact: ");
    }
    if (rc == MD_OK)
        score(c, &hold, out, k, &cand);
    /* The champion on the same rows, through its own contract. A champion
     * that cannot be evaluated leaves the comparison out, not the run. */
    if (rc == MD_OK && j->champion_artifact != NULL) {
        struct md_err cerr;
        float *cout = NULL;
        size_t ck = 0;

        path_in(path, sizeof(path), j->dir, "champion.yaml");
        if (md_contract_load(path, j->model, &cc, &cerr) == MD_OK) {
            path_in(path, sizeof(path), j->dir, "holdout.jsonl");
            if (md_contract_rows_read(cc, path, ROWS_MAX, &chold, &cerr) == MD_OK &&
                predict_all(cc, j->champion_artifact, &chold, &cout, &ck, &cerr) == MD_OK)
                score(cc, &chold, cout, ck, &champ);
        }
        if (champ.n == 0 && hold.n_rows > 0)
            fprintf(stderr, "modeld --train: the champion is not evaluated: %s\n", cerr.msg);
        free(cout);
    }
    if (rc == MD_OK) {
        md_buf_init(&b, (size_t)1 << 20);
        (void)md_buf_puts(&b, "{\"candidate\":");
        put_figures(&b, &cand);
        (void)md_buf_puts(&b, ",\"champion\":");
        if (champ.n > 0)
            put_figures(&b, &champ);
        else
            (void)md_buf_puts(&b, "null");
        (void)md_buf_printf(&b, ",\"holdout_rows\":%zu,\"train_rows\":%zu}\n", hold.n_rows,
                            train.n_rows);
        (void)md_buf_putc(&b, '\0');
        path_in(path, sizeof(path), j->dir, "evaluation.json");
        rc = md_buf_error(&b) != MD_OK
                 ? md_err_set(err, MD_ENOMEM, "evaluation.json: out of memory")
                 : write_file(path, b.data, err);
        md_buf_release(&b);
    }
    if (rc == MD_OK) {
        /* The profile: the training rows and the candidate's predictions on them. */
        size_t tk = 0;
        struct md_buf q;

        md_buf_init(&q, 4096);
        put_figures(&q, &cand);
        (void)md_buf_putc(&q, '\0');
        if (predict_all(c, j->artifact, &train, &tout, &tk, err) != MD_OK)
            tout = NULL;
        text = profile_of(c, &train, tout, tk, md_buf_error(&q) == MD_OK ? q.data : NULL);
        md_buf_release(&q);
        path_in(path, sizeof(path), j->dir, "profile.json");
        rc = text != NULL ? write_file(path, text, err)
                          : md_err_set(err, MD_ENOMEM, "profile.json: out of memory");
        free(text);
    }
    free(out);
    free(tout);
    md_contract_rows_release(&train);
    md_contract_rows_release(&hold);
    md_contract_rows_release(&chold);
    md_contract_free(c);
    md_contract_free(cc);
    return rc;
}

int md_trainjob_main(int argc, char **argv)
{
    struct job j;
    struct md_err err;
    char path[4096];
    int rc;

    /* The daemon waits for the child; should the daemon die, so does the child. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (argc != 1) {
        fprintf(stderr, "usage: modeld --train DIR\n");
        return 2;
    }
    md_err_clear(&err);
    rc = read_job(argv[0], &j, &err);
    if (rc == MD_OK)
        rc = run_job(&j, &err);
    path_in(path, sizeof(path), argv[0], "result.json");
    {
        json_t *o = json_object();
        char *text;

        (void)json_object_set_new(o, "ok", json_boolean(rc == MD_OK));
        if (rc != MD_OK) {
            (void)json_object_set_new(o, "code", json_integer(rc));
            (void)json_object_set_new(o, "error", json_string(err.msg));
        }
        text = json_dumps(o, JSON_COMPACT);
        if (text == NULL || write_file(path, text, &err) != MD_OK)
            rc = rc == MD_OK ? MD_EIO : rc;
        free(text);
        json_decref(o);
    }
    if (rc != MD_OK)
        printf("%s\n", err.msg);
    json_decref(j.root);
    return rc == MD_OK ? 0 : 1;
}

int md_trainjob_exec(int argc, char **argv)
{
    char ebuf[128];

    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) /* the daemon died before the signal was set */
        return 127;
    if (argc < 1 || argv[0] == NULL || argv[0][0] != '/') {
        fprintf(stderr, "usage: modeld --exec-trainer /PROGRAM [ARG...]\n");
        return 127;
    }
    execv(argv[0], argv);
    fprintf(stderr, "modeld --exec-trainer: cannot run %s: %s\n", argv[0],
            strerror_r(errno, ebuf, sizeof(ebuf)));
    return 127;
}
