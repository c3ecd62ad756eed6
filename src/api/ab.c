/* SPDX-License-Identifier: MIT */
/*
 * ab.c: GET /api/v1/models/{m}/ab, the A/B comparison of a model's routes
 * on outcomes from feedback, and the design (control route, sticky key)
 * read from the model's traffic policy, which the signals share. The
 * analysis and its JSON are watch/ab.c's; this file reads the query, the
 * policy, and runs the analysis as a store job.
 */
#include "api/ab.h"
#include "api/handlers.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <math.h>

#define WINDOW_MAX_S (400LL * 86400) /* the longest window: 400 days */

static void design_of(void *ctx, const struct md_snapshot *s)
{
    struct md_ab_design *d = ctx;
    const struct md_policy *p = &s->policy;

    memset(d, 0, sizeof(*d));
    if (!s->has_policy || p->n_routes == 0)
        return;
    (void)snprintf(d->control, sizeof(d->control), "%s", p->routes[0].name);
    for (size_t i = 0; i < p->n_routes; i++)
        if (strcmp(p->routes[i].name, "stable") == 0)
            (void)snprintf(d->control, sizeof(d->control), "%s", "stable");
    if (p->sticky == MD_STICKY_KEY)
        (void)snprintf(d->unit_key, sizeof(d->unit_key), "%s", p->sticky_name);
    else if (p->sticky == MD_STICKY_HEADER)
        (void)snprintf(d->header, sizeof(d->header), "%s", p->sticky_name);
}

int md_ab_api_design(void *repo, const char *model, struct md_ab_design *out, struct md_err *err)
{
    memset(out, 0, sizeof(*out));
    return md_repo_with_snapshot(repo, model, design_of, out, err);
}

/* "90", "90s", "15m", "24h", "7d": seconds into *s; false when malformed or too long. */
static bool parse_window(const char *text, int64_t *s)
{
    char *end = NULL;
    long long v;
    long long unit = 1;

    if (text[0] < '0' || text[0] > '9')
        return false;
    v = strtoll(text, &end, 10);
    if (strcmp(end, "m") == 0)
        unit = 60;
    else if (strcmp(end, "h") == 0)
        unit = 3600;
    else if (strcmp(end, "d") == 0)
        unit = 86400;
    else if (strcmp(end, "s") != 0 && end[0] != '\0')
        return false;
    if (v <= 0 || v > WINDOW_MAX_S / unit)
        return false;
    *s = (int64_t)(v * unit);
    return true;
}

/* What the job reads: the parameters and the names they borrow. */
struct ab_query {
    struct md_ab_params p;
    char positive[MD_AB_NAME_MAX];
    int64_t window_s; /* 0: every stored row */
};

/* The query's arguments into q; MD_EINVAL naming the argument. */
static int read_query(struct md_api_req *req, struct ab_query *q, struct md_err *err)
{
    const char *v = req->query != NULL ? req->query(req->conn, "metric") : NULL;

    q->p.metric = v == NULL ? MD_AB_CONVERSION : md_ab_metric_parse(v);
    if (q->p.metric == 0)
        return md_err_set(err, MD_EINVAL, "metric: '%.40s' is not one of conversion, reward, value",
                          v);
    v = req->query != NULL ? req->query(req->conn, "positive") : NULL;
    if (v != NULL) {
        if (v[0] == '\0' || strlen(v) >= sizeof(q->positive))
            return md_err_set(err, MD_EINVAL, "positive: must be a label of 1 to %d bytes",
                              MD_AB_NAME_MAX - 1);
        if (q->p.metric != MD_AB_CONVERSION)
            return md_err_set(err, MD_EINVAL, "positive: only for metric conversion");
        memcpy(q->positive, v, strlen(v) + 1);
        q->p.positive = q->positive;
    } else if (q->p.metric == MD_AB_CONVERSION) {
        return md_err_set(err, MD_EINVAL,
                          "positive: required for metric conversion (the label that counts as "
                          "converted)");
    }
    q->p.min_effect = NAN;
    v = req->query != NULL ? req->query(req->conn, "min_effect") : NULL;
    if (v != NULL) {
        char *end = NULL;
        double x = strtod(v, &end);

        if (end == v || *end != '\0' || !isfinite(x) || x <= 0)
            return md_err_set(err, MD_EINVAL, "min_effect: '%.40s' is not a number above 0", v);
        q->p.min_effect = x;
    }
    v = req->query != NULL ? req->query(req->conn, "window") : NULL;
    if (v != NULL && !parse_window(v, &q->window_s))
        return md_err_set(err, MD_EINVAL,
                          "window: '%.40s' is not a duration such as 3600, 90s, 15m, 24h or 7d "
                          "(at most 400d)",
                          v);
    return MD_OK;
}

/*
 * The query against the model's contract, when a version serves: a
 * conversion needs a classification and a positive label among its
 * classes; a value, a regression. A model with no version serving is not
 * checked (its stored rows may still be analysed).
 */
static int check_contract(struct md_api *api, const char *model, const struct ab_query *q,
                          struct md_err *err)
{
    const struct md_contract *c;
    struct md_version *v;
    struct md_err why;
    bool known = false;
    int rc = MD_OK;

    if (md_repo_acquire(api->repo, model, NULL, &v, &why) != MD_OK)
        return MD_OK;
    c = v->contract;
    if (q->p.metric == MD_AB_CONVERSION && c->task == MD_TASK_REGRESSION) {
        rc = md_err_set(err, MD_EINVAL,
                        "metric: model '%s' is a regression: its outcome is a value (metric "
                        "value), not a label",
                        model);
    } else if (q->p.metric == MD_AB_VALUE && c->task == MD_TASK_CLASSIFICATION) {
        rc = md_err_set(err, MD_EINVAL,
                        "metric: model '%s' is a classification: its outcome is a label (metric "
                        "conversion), not a value",
                        model);
    } else if (q->p.metric == MD_AB_CONVERSION && c->n_labels > 0) {
        for (size_t k = 0; k < c->n_labels; k++)
            known = known || strcmp(c->labels[k], q->p.positive) == 0;
        if (!known)
            rc = md_err_set(err, MD_EINVAL, "positive: '%s' is not a class of model '%s'",
                            q->p.positive, model);
    }
    md_version_unref(v);
    return rc;
}

static int run_ab(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct ab_query *q = r->extra;
    struct md_ab_result *res = md_xcalloc(1, sizeof(*res));
    int rc = md_ab_run(tx, &q->p, res, err);

    if (rc == MD_OK) {
        (void)md_buf_puts(&r->out, "{\"model\":");
        (void)md_buf_json_str(&r->out, q->p.model, strlen(q->p.model));
        (void)md_buf_puts(&r->out, ",\"positive\":");
        if (q->p.positive != NULL)
            (void)md_buf_json_str(&r->out, q->p.positive, strlen(q->p.positive));
        else
            (void)md_buf_puts(&r->out, "null");
        (void)md_buf_puts(&r->out, ",\"key\":");
        if (q->p.design.unit_key[0] != '\0')
            (void)md_buf_json_str(&r->out, q->p.design.unit_key, strlen(q->p.design.unit_key));
        else
            (void)md_buf_puts(&r->out, "null");
        (void)md_buf_puts(&r->out, ",\"sticky_header\":");
        if (q->p.design.header[0] != '\0')
            (void)md_buf_json_str(&r->out, q->p.design.header, strlen(q->p.design.header));
        else
            (void)md_buf_puts(&r->out, "null");
        if (q->window_s > 0)
            (void)md_buf_printf(&r->out, ",\"window_s\":%lld", (long long)q->window_s);
        else
            (void)md_buf_puts(&r->out, ",\"window_s\":null");
        (void)md_buf_puts(&r->out, ",\"analysis\":");
        rc = md_ab_format(res, &r->out);
        (void)md_buf_puts(&r->out, "}");
        if (rc == MD_OK)
            rc = md_buf_error(&r->out);
    }
    free(res);
    return rc;
}

void md_ab_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                   struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, free};
    struct md_err err;

    if (resp->resume == NULL) {
        struct ab_query *q;

        if (api->store == NULL) {
            md_api_errorf(resp, MD_EUNAVAIL,
                          "no store: A/B outcomes come from the feedback kept "
                          "there");
            return;
        }
        q = md_xcalloc(1, sizeof(*q));
        if (read_query(req, q, &err) != MD_OK ||
            md_ab_api_design(api->repo, rt->model, &q->p.design, &err) != MD_OK ||
            check_contract(api, rt->model, q, &err) != MD_OK) {
            free(q);
            md_api_error(resp, &err);
            return;
        }
        /* The job outlives the request's arena only until its answer: the
         * model's name is request memory, as args.model's. */
        q->p.model = rt->model;
        if (q->window_s > 0)
            q->p.since_ms = md_wall_ms() - q->window_s * 1000;
        args.model = rt->model;
        args.extra = q;
    }
    md_api_store_job(api, req, resp, run_ab, &args, 200);
}
