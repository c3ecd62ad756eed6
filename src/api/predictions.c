/* SPDX-License-Identifier: MIT */
/*
 * predictions.c: the prediction log seen from outside: its figures in
 * /metrics and GET /api/v1/predictions, the listing of stored rows with
 * filters and paging, as JSON or JSON lines. The rows are written by the
 * log's writer (watch/predlog.h, serve/predrec.h); this file only reads.
 */
#include "api/handlers.h"
#include "util/fmt.h"
#include "util/mem.h"

#include <errno.h>
#include <time.h>

/* ---- /metrics ----------------------------------------------------------------- */

static void family(struct md_buf *b, const char *name, const char *type, const char *help,
                   unsigned long long v)
{
    (void)md_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                        v);
}

void md_predictions_prom(struct md_api *api, struct md_buf *b)
{
    struct md_predlog_counts c;

    if (api->predlog == NULL)
        return;
    md_predlog_counts(api->predlog, &c);
    family(b, "modeld_predlog_records_written_total", "counter",
           "Prediction records committed to the store.", (unsigned long long)c.written);
    family(b, "modeld_predlog_records_dropped_total", "counter",
           "Prediction records dropped because the log's ring was full (never waited for).",
           (unsigned long long)c.dropped);
    family(b, "modeld_predlog_records_failed_total", "counter",
           "Prediction records lost because their batch's commit failed.",
           (unsigned long long)c.failed);
    family(b, "modeld_predlog_batches_total", "counter",
           "Batches the log's writer committed (one transaction each).",
           (unsigned long long)c.batches);
    family(b, "modeld_predlog_ring_depth", "gauge",
           "Prediction records waiting for the log's writer now.", (unsigned long long)c.depth);
    family(b, "modeld_predlog_ring_capacity", "gauge",
           "Prediction records the ring holds at most (--log-ring).",
           (unsigned long long)c.capacity);
    (void)md_buf_printf(b,
                        "# HELP modeld_predlog_writer_lag_seconds The last batch: from its oldest "
                        "record's arrival in the ring to its commit.\n"
                        "# TYPE modeld_predlog_writer_lag_seconds gauge\n"
                        "modeld_predlog_writer_lag_seconds %.3f\n",
                        (double)c.lag_ms / 1000.0);
    family(b, "modeld_predlog_batch_records_max", "gauge",
           "The largest batch committed so far, in records.", (unsigned long long)c.largest);
    family(b, "modeld_predlog_writer_idle", "gauge",
           "1 while the log's writer waits in the idle scheduling class, 0 while it runs at "
           "nice 10.",
           c.idle ? 1ull : 0ull);
    family(b, "modeld_predlog_writer_promotions_total", "counter",
           "Times the writer left the idle class because records waited and none was written "
           "for a second.",
           (unsigned long long)c.promotions);
    family(b, "modeld_predlog_records_expired_total", "counter",
           "Prediction records removed past the horizon (--log-horizon-days).",
           (unsigned long long)c.retained);
    family(b, "modeld_predlog_features_removed_total", "counter",
           "Prediction records whose features were removed by age or count "
           "(--log-features-days, --log-features-rows).",
           (unsigned long long)c.trimmed);
    family(b, "modeld_predlog_feedback_expired_total", "counter",
           "Feedback items removed past the horizon (--log-horizon-days).",
           (unsigned long long)c.fb_expired);
    family(b, "modeld_predlog_review_items_expired_total", "counter",
           "Review items removed past the horizon (--log-horizon-days).",
           (unsigned long long)c.rv_expired);
}

/* ---- GET /api/v1/predictions ------------------------------------------------------ */

#define PAGE_DEFAULT 100
#define PAGE_MAX     10000

/* What a listing filters on and how it writes, beside the store job. */
struct query {
    struct md_store_prediction_filter f;
    const struct md_principal *principal;
    bool lines;         /* JSON lines: a row a line, no envelope */
    struct md_buf *out; /* the job's */
    size_t n;           /* rows seen (written or left out for the principal) */
    size_t written;
    int64_t last_id;
    char model[MD_STORE_NAME_MAX + 1];
    char route[MD_STORE_NAME_MAX + 1];
    char key_name[MD_STORE_NAME_MAX + 1];
    char key_value[4097];
    char request_id[257];
};

static void put_text(struct md_buf *b, const char *s)
{
    if (s == NULL)
        (void)md_buf_puts(b, "null");
    else
        (void)md_buf_json_str(b, s, strlen(s));
}

/* A stored JSON text as it is (the log wrote it), or null. */
static void put_json(struct md_buf *b, const char *s)
{
    (void)md_buf_puts(b, s != NULL && s[0] != '\0' ? s : "null");
}

static void put_row(void *ctx, const struct md_store_prediction *p)
{
    struct query *q = ctx;
    struct md_buf *b = q->out;

    q->n++;
    q->last_id = p->id;
    if (p->model == NULL || !md_auth_may_use(q->principal, p->model))
        return;
    if (q->written > 0 && !q->lines)
        (void)md_buf_putc(b, ',');
    q->written++;
    (void)md_buf_printf(b, "{\"id\":%lld,\"request_id\":", (long long)p->id);
    put_text(b, p->request_id);
    (void)md_buf_printf(b, ",\"row\":%lld,\"time\":", (long long)p->row);
    md_buf_json_time_ms(b, p->at_ms);
    (void)md_buf_printf(b, ",\"at_ms\":%lld,\"model\":", (long long)p->at_ms);
    put_text(b, p->model);
    (void)md_buf_printf(b, ",\"version\":%lld,\"route\":", (long long)p->version);
    put_text(b, p->route);
    (void)md_buf_printf(b, ",\"shadow\":%s,\"status\":%d,\"latency_us\":%lld,\"keys\":",
                        p->shadow ? "true" : "false", p->status, (long long)p->latency_us);
    put_json(b, p->keys);
    (void)md_buf_puts(b, ",\"features\":");
    put_json(b, p->features);
    (void)md_buf_puts(b, ",\"label\":");
    put_text(b, p->label);
    (void)md_buf_puts(b, ",\"score\":");
    (void)md_buf_f64(b, p->score, "null");
    (void)md_buf_puts(b, ",\"outputs\":");
    put_json(b, p->outputs);
    (void)md_buf_puts(b, q->lines ? "}\n" : "}");
}

static int run_list(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct query *q = r->extra;
    int rc;

    q->out = &r->out;
    if (!q->lines)
        (void)md_buf_puts(&r->out, "{\"predictions\":[");
    rc = md_store_tx_predictions(tx, &q->f, put_row, q, err);
    if (!q->lines) {
        (void)md_buf_puts(&r->out, "]");
        /* A full page may have more after it: the cursor of the next one. */
        if (q->n == q->f.limit)
            (void)md_buf_printf(&r->out, ",\"next_after\":%lld", (long long)q->last_id);
        (void)md_buf_puts(&r->out, "}");
    }
    return rc;
}

/* A text argument into out (size n): MD_EINVAL naming it when empty or too long. */
static int text_arg(const char *name, const char *v, char *out, size_t n, struct md_err *err)
{
    size_t len = strlen(v);

    if (len == 0)
        return md_err_set(err, MD_EINVAL, "%s: empty", name);
    if (len >= n)
        return md_err_set(err, MD_EINVAL, "%s: longer than %zu bytes", name, n - 1);
    memcpy(out, v, len + 1);
    return MD_OK;
}

/* A whole number from lo to hi, or -1. */
static int64_t whole(const char *s, int64_t lo, int64_t hi)
{
    char *e = NULL;
    long long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &e, 10);
    if (*e != '\0' || errno != 0 || v < lo || v > hi)
        return -1;
    return (int64_t)v;
}

static int read_times(struct md_api_req *req, struct query *q, struct md_err *err)
{
    int rc = md_api_query_time(req, "since", &q->f.since_ms, err);

    if (rc == MD_OK)
        rc = md_api_query_time(req, "until", &q->f.until_ms, err);
    if (rc == MD_OK && q->f.until_ms > 0 && q->f.until_ms <= q->f.since_ms)
        rc = md_err_set(err, MD_EINVAL, "until: not after since");
    return rc;
}

/* key=NAME=VALUE into q. */
static int read_key(const char *v, struct query *q, struct md_err *err)
{
    const char *eq = strchr(v, '=');
    size_t n;

    if (eq == NULL || eq == v)
        return md_err_set(err, MD_EINVAL, "key: '%.40s' is not NAME=VALUE", v);
    n = (size_t)(eq - v);
    if (n >= sizeof(q->key_name))
        return md_err_set(err, MD_EINVAL, "key: the name is longer than %d bytes",
                          MD_STORE_NAME_MAX);
    if (strlen(eq + 1) >= sizeof(q->key_value))
        return md_err_set(err, MD_EINVAL, "key: the value is longer than %zu bytes",
                          sizeof(q->key_value) - 1);
    memcpy(q->key_name, v, n);
    q->key_name[n] = '\0';
    memcpy(q->key_value, eq + 1, strlen(eq + 1) + 1);
    q->f.key_name = q->key_name;
    q->f.key_value = q->key_value;
    return MD_OK;
}

/* Reads the query into q; MD_EINVAL naming the argument and the reason. */
static int read_query(struct md_api_req *req, struct query *q, struct md_err *err)
{
    const char *v;
    int rc = MD_OK;

    q->f.limit = PAGE_DEFAULT;
    if (req->query == NULL)
        return MD_OK;
    if ((v = req->query(req->conn, "model")) != NULL) {
        rc = text_arg("model", v, q->model, sizeof(q->model), err);
        q->f.model = q->model;
    }
    if (rc == MD_OK && (v = req->query(req->conn, "version")) != NULL &&
        (q->f.version = whole(v, 1, INT64_MAX)) < 1)
        rc = md_err_set(err, MD_EINVAL, "version: '%.40s' is not a version number", v);
    if (rc == MD_OK && (v = req->query(req->conn, "route")) != NULL) {
        rc = text_arg("route", v, q->route, sizeof(q->route), err);
        q->f.route = q->route;
    }
    if (rc == MD_OK && (v = req->query(req->conn, "request_id")) != NULL) {
        rc = text_arg("request_id", v, q->request_id, sizeof(q->request_id), err);
        q->f.request_id = q->request_id;
    }
    if (rc == MD_OK && (v = req->query(req->conn, "key")) != NULL)
        rc = read_key(v, q, err);
    if (rc == MD_OK)
        rc = read_times(req, q, err);
    if (rc == MD_OK && (v = req->query(req->conn, "feedback")) != NULL) {
        if (strcmp(v, "with") == 0)
            q->f.feedback = 1;
        else if (strcmp(v, "without") == 0)
            q->f.feedback = -1;
        else if (strcmp(v, "any") != 0)
            rc =
                md_err_set(err, MD_EINVAL, "feedback: '%.40s' is not one of with, without, any", v);
    }
    if (rc == MD_OK && (v = req->query(req->conn, "after")) != NULL &&
        (q->f.after_id = whole(v, 0, INT64_MAX)) < 0)
        rc = md_err_set(err, MD_EINVAL, "after: '%.40s' is not a row id (a whole number)", v);
    if (rc == MD_OK)
        rc = md_api_query_limit(req, PAGE_MAX, &q->f.limit, err);
    if (rc == MD_OK && (v = req->query(req->conn, "format")) != NULL) {
        if (strcmp(v, "jsonl") == 0)
            q->lines = true;
        else if (strcmp(v, "json") != 0)
            rc = md_err_set(err, MD_EINVAL, "format: '%.40s' is not one of json, jsonl", v);
    }
    return rc;
}

void md_predictions_api_list(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, free};
    struct md_err err;
    bool lines = false;

    if (resp->resume == NULL) {
        struct query *q = md_xcalloc(1, sizeof(*q));

        if (read_query(req, q, &err) != MD_OK) {
            free(q);
            md_api_error(resp, &err);
            return;
        }
        q->principal = req->principal;
        lines = q->lines;
        args.extra = q;
    } else {
        const struct md_api_store_read *r = resp->resume;

        lines = ((const struct query *)r->extra)->lines;
    }
    md_api_store_job(api, req, resp, run_list, &args, 200);
    if (lines && !resp->parked && resp->status == 200)
        resp->content_type = "application/x-ndjson";
}
