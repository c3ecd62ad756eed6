/* SPDX-License-Identifier: MIT */
/*
 * alerts.c: the management API of alert rules and alerts, under /api/v1/:
 *
 *   GET    /api/v1/alert-rules[/{name}]   the stored rules
 *   PUT    /api/v1/alert-rules/{name}     stores a rule (200 once committed)
 *   DELETE /api/v1/alert-rules/{name}     removes one
 *   GET    /api/v1/alerts                 pending and firing alerts now, or
 *                                         their history (?history=true)
 *
 * Writes and the history are store jobs on the store's thread, the request
 * parked meanwhile; a write bumps the evaluator's generation so that
 * control's alert task reads the rules back once the write is committed.
 * Rules from the configuration file cannot be changed or removed here
 * (409): the file is where they live.
 */
#include "api/handlers.h"
#include "store/store.h"
#include "util/fmt.h"
#include "util/mem.h"
#include "watch/alert_rule.h"
#include "watch/alerts.h"
#include "watch/notify.h"

#include <math.h>
#include <time.h>

static void put_str(struct md_buf *b, const char *s)
{
    (void)md_buf_json_str(b, s, strlen(s));
}

/* A rule's model, read from its stored JSON, for the permission filter. */
static bool rule_model(const char *json, char *out, size_t size)
{
    const char *p = strstr(json, "\"model\":\"");
    const char *e;

    if (p == NULL)
        return false;
    p += 9;
    e = strchr(p, '"');
    if (e == NULL || (size_t)(e - p) >= size)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

/* ---- rules ---------------------------------------------------------------- */

struct rules_read {
    struct md_api_store_read *r;
    const struct md_principal *principal;
    size_t n;
};

static void put_rule(void *ctx, const struct md_store_alert_rule *sr)
{
    struct rules_read *q = ctx;
    struct md_buf *b = &q->r->out;
    char model[MD_ALERT_MODEL_MAX];

    if (q->r->name == NULL && rule_model(sr->rule, model, sizeof(model)) &&
        !md_auth_may_use(q->principal, model))
        return;
    if (q->n++ > 0)
        (void)md_buf_putc(b, ',');
    (void)md_buf_puts(b, "{\"name\":");
    put_str(b, sr->name);
    (void)md_buf_puts(b, ",\"source\":");
    put_str(b, sr->source);
    (void)md_buf_puts(b, ",\"updated_at\":");
    md_buf_json_time_ms(b, sr->updated_ms);
    (void)md_buf_printf(b, ",\"rule\":%s}", sr->rule);
}

static int run_rules(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct rules_read q = {r, r->extra, 0};
    int rc;

    if (r->name != NULL) {
        rc = md_store_tx_alert_rules(tx, r->name, put_rule, &q, err);
        if (rc == MD_ENOTFOUND)
            return md_err_set(err, MD_ENOTFOUND, "no alert rule named '%s'", r->name);
        return rc;
    }
    (void)md_buf_puts(&r->out, "{\"alert_rules\":[");
    rc = md_store_tx_alert_rules(tx, NULL, put_rule, &q, err);
    (void)md_buf_puts(&r->out, "]}");
    return rc;
}

void md_alert_rules_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, rt->name, 0, NULL, false, (void *)req->principal, NULL};

    md_api_store_job(api, req, resp, run_rules, &args, 200);
}

/* What a write needs on the store's thread. */
struct rule_write {
    struct md_alerts *alerts; /* touched once the write is in */
    char model[MD_ALERT_MODEL_MAX];
};

struct existing {
    bool found;
    bool from_file;
    char model[MD_ALERT_MODEL_MAX];
};

static void read_existing(void *ctx, const struct md_store_alert_rule *sr)
{
    struct existing *e = ctx;

    e->found = true;
    e->from_file = strcmp(sr->source, "file") == 0;
    if (!rule_model(sr->rule, e->model, sizeof(e->model)))
        e->model[0] = '\0';
}

static int run_rule_write(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct rule_write *w = r->extra;
    struct md_store_event ev = {0, 0, "", "alert_rule_stored", "", "{}"};
    struct existing old = {false, false, ""};
    char message[200];
    int rc = md_store_tx_alert_rules(tx, r->name, read_existing, &old, err);

    if (rc != MD_OK && rc != MD_ENOTFOUND)
        return rc;
    if (r->remove && !old.found)
        return md_err_set(err, MD_ENOTFOUND, "no alert rule named '%s'", r->name);
    if (old.from_file)
        return md_err_set(err, MD_ECONFLICT,
                          "alert rule '%s' comes from the configuration file: change or remove "
                          "it there",
                          r->name);
    if (r->remove) {
        rc = md_store_tx_alert_rule_delete(tx, r->name, err);
        ev.kind = "alert_rule_removed";
        ev.model = old.model;
    } else {
        struct md_store_alert_rule sr = {r->name, r->text, "api", 0};

        rc = md_store_tx_alert_rule_put(tx, &sr, err);
        ev.model = w->model;
    }
    if (rc != MD_OK)
        return rc;
    (void)snprintf(message, sizeof(message), "alert rule '%.100s' %s", r->name,
                   r->remove ? "removed" : "stored");
    ev.message = message;
    rc = md_store_tx_event_add(tx, &ev, NULL, err);
    if (rc != MD_OK)
        return rc;
    if (w->alerts != NULL)
        md_alerts_touch(w->alerts);
    (void)md_buf_puts(&r->out, "{\"name\":");
    put_str(&r->out, r->name);
    if (r->remove)
        (void)md_buf_puts(&r->out, ",\"removed\":true}");
    else
        (void)md_buf_printf(&r->out, ",\"source\":\"api\",\"rule\":%s}", r->text);
    return MD_OK;
}

/* The rule of a PUT's body, checked as it will be evaluated; NULL with the
 * answer written. */
static char *checked_rule(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp, struct rule_write *w)
{
    struct md_alert_rule *rule;
    struct md_buf b;
    struct md_err err;
    char *text;

    if (md_alert_rule_parse(rt->name, req->body, req->body_len, api->signals, &rule, &err) !=
        MD_OK) {
        md_api_error(resp, &err);
        return NULL;
    }
    for (size_t i = 0; i < rule->n_receivers; i++) {
        if (api->notify == NULL || !md_notify_has_receiver(api->notify, rule->receivers[i])) {
            md_api_errorf(resp, MD_EINVAL,
                          "receivers[%zu]: no receiver named '%s' in the configuration file", i,
                          rule->receivers[i]);
            md_alert_rule_free(rule);
            return NULL;
        }
    }
    if (!md_auth_may_use(req->principal, rule->model)) {
        md_api_errorf(resp, MD_EPERM, "model: '%s' is not one this token may use", rule->model);
        md_alert_rule_free(rule);
        return NULL;
    }
    memcpy(w->model, rule->model, sizeof(w->model));
    md_buf_init(&b, (size_t)1 << 20);
    if (md_alert_rule_format(rule, &b) != MD_OK || md_buf_putc(&b, '\0') != MD_OK) {
        md_buf_release(&b);
        md_alert_rule_free(rule);
        md_api_errorf(resp, MD_EINTERNAL, "rule too long");
        return NULL;
    }
    text = md_buf_detach(&b, NULL);
    md_buf_release(&b);
    md_alert_rule_free(rule);
    return text;
}

static void rule_write(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp, bool remove)
{
    struct md_api_store_args args = {NULL, rt->name, 0, NULL, remove, NULL, free};

    if (resp->resume == NULL) {
        struct rule_write *w;

        if (!md_alert_name_ok(rt->name)) {
            md_api_errorf(resp, MD_EINVAL,
                          "name: '%.64s' is not a rule name ([A-Za-z][A-Za-z0-9_.-]*, at most 63 "
                          "characters)",
                          rt->name);
            return;
        }
        w = md_xcalloc(1, sizeof(*w));
        w->alerts = api->alerts;
        if (!remove) {
            args.text = checked_rule(api, rt, req, resp, w);
            if (args.text == NULL) {
                free(w);
                return;
            }
        }
        args.extra = w;
    }
    md_api_store_job(api, req, resp, run_rule_write, &args, 200);
}

void md_alert_rules_api_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    rule_write(api, rt, req, resp, false);
}

void md_alert_rules_api_delete(struct md_api *api, const struct md_route *rt,
                               struct md_api_req *req, struct md_api_resp *resp)
{
    rule_write(api, rt, req, resp, true);
}

/* ---- alerts --------------------------------------------------------------- */

struct alerts_query {
    struct md_store_alert_filter f;
    const struct md_principal *principal;
    struct md_buf *out;
    size_t n;
    int64_t last_id;
    char rule[MD_ALERT_NAME_MAX];
    char model[MD_ALERT_MODEL_MAX];
    char state[16];
};

static void put_change(void *ctx, const struct md_store_alert *a)
{
    struct alerts_query *q = ctx;
    struct md_buf *b = q->out;

    if (!md_auth_may_use(q->principal, a->model))
        return;
    if (q->n++ > 0)
        (void)md_buf_putc(b, ',');
    q->last_id = a->id;
    (void)md_buf_printf(b, "{\"id\":%lld,\"rule\":", (long long)a->id);
    put_str(b, a->rule);
    (void)md_buf_puts(b, ",\"model\":");
    put_str(b, a->model);
    (void)md_buf_puts(b, ",\"state\":");
    put_str(b, a->state);
    (void)md_buf_puts(b, ",\"time\":");
    md_buf_json_time_ms(b, a->at_ms);
    (void)md_buf_printf(b, ",\"at_ms\":%lld,\"active_at\":", (long long)a->at_ms);
    md_buf_json_time_ms(b, a->active_ms);
    if (a->fired_ms != 0) {
        (void)md_buf_puts(b, ",\"fired_at\":");
        md_buf_json_time_ms(b, a->fired_ms);
    }
    (void)md_buf_puts(b, ",\"value\":");
    (void)md_buf_f64(b, a->value, "null");
    (void)md_buf_printf(b, ",\"fingerprint\":\"%s\",\"labels\":%s,\"annotations\":%s}",
                        a->fingerprint, a->labels, a->annotations);
}

static int run_history(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct alerts_query *q = r->extra;
    int rc;

    q->out = &r->out;
    (void)md_buf_puts(&r->out, "{\"history\":[");
    rc = md_store_tx_alerts(tx, &q->f, put_change, q, err);
    (void)md_buf_puts(&r->out, "]");
    if (q->n == q->f.limit && q->last_id > 1)
        (void)md_buf_printf(&r->out, ",\"next_before\":%lld", (long long)q->last_id);
    (void)md_buf_puts(&r->out, "}");
    return rc;
}

/* A query argument copied into out; MD_EINVAL when too long. */
static int64_t query_number(struct md_api_req *req, const char *name)
{
    const char *q = req->query != NULL ? req->query(req->conn, name) : NULL;
    char *end;
    long long v;

    if (q == NULL)
        return 0;
    if (q[0] < '0' || q[0] > '9')
        return -1;
    v = strtoll(q, &end, 10);
    return *end == '\0' && v >= 0 ? (int64_t)v : -1;
}

static int read_query(struct md_api_req *req, struct alerts_query *q, bool *history,
                      struct md_err *err)
{
    int64_t n;
    int rc;

    *history = false;
    rc = md_api_query_bool(req, "history", history, err);
    if (rc == MD_OK)
        rc = md_api_query_text(req, "rule", q->rule, sizeof(q->rule), &q->f.rule, err);
    if (rc == MD_OK)
        rc = md_api_query_text(req, "model", q->model, sizeof(q->model), &q->f.model, err);
    if (rc == MD_OK)
        rc = md_api_query_text(req, "state", q->state, sizeof(q->state), &q->f.state, err);
    if (rc != MD_OK)
        return rc;
    if (q->f.state != NULL) {
        int st = md_alert_state_parse(q->f.state);

        if (st < 0 || (!*history && st != MD_ALERT_PENDING && st != MD_ALERT_FIRING))
            return md_err_set(err, MD_EINVAL, "state: '%s' is not %s", q->state,
                              *history ? "pending, firing, resolved or inactive"
                                       : "pending or firing (add history=true for the others)");
    }
    n = query_number(req, "before");
    if (n < 0 || (n == 0 && req->query != NULL && req->query(req->conn, "before") != NULL))
        return md_err_set(err, MD_EINVAL, "before: not an id of the history");
    q->f.before_id = n;
    n = query_number(req, "since");
    if (n < 0)
        return md_err_set(err, MD_EINVAL, "since: not milliseconds since 1970");
    q->f.since_ms = n;
    n = query_number(req, "limit");
    if (n < 0 || n > 1000 || (n == 0 && req->query != NULL && req->query(req->conn, "limit")))
        return md_err_set(err, MD_EINVAL, "limit: not a number from 1 to 1000");
    q->f.limit = n > 0 ? (size_t)n : 100;
    return MD_OK;
}

/* The current alerts' filter: the principal may use the model, and the
 * query's model and rule match. */
static bool current_ok(const void *ctx, const char *rule, const char *model)
{
    const struct alerts_query *q = ctx;

    return md_auth_may_use(q->principal, model) &&
           (q->f.model == NULL || strcmp(q->f.model, model) == 0) &&
           (q->f.rule == NULL || strcmp(q->f.rule, rule) == 0);
}

void md_alerts_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, free};
    struct alerts_query *q = NULL;
    bool history = true;

    MD_UNUSED(rt);
    if (resp->resume == NULL) {
        struct md_err err;

        q = md_xcalloc(1, sizeof(*q));
        q->principal = req->principal;
        if (read_query(req, q, &history, &err) != MD_OK) {
            free(q);
            md_api_error(resp, &err);
            return;
        }
        if (!history) {
            int st = q->f.state != NULL ? md_alert_state_parse(q->f.state) : -1;

            if (api->alerts == NULL) {
                free(q);
                md_api_errorf(resp, MD_EUNAVAIL, "alerting is not running");
                return;
            }
            (void)md_buf_puts(resp->body, "{\"alerts\":");
            (void)md_alerts_json(api->alerts, st, current_ok, q, resp->body);
            (void)md_buf_puts(resp->body, "}");
            free(q);
            md_api_finish(resp, md_buf_error(resp->body));
            return;
        }
        args.extra = q;
    }
    md_api_store_job(api, req, resp, run_history, &args, 200);
}

void md_alerts_api_prom(struct md_api *api, struct md_buf *b)
{
    if (api->alerts != NULL)
        md_alerts_prom(api->alerts, b);
    if (api->notify != NULL)
        md_notify_prom(api->notify, b);
}
