/* SPDX-License-Identifier: MIT */
/*
 * audit.c: the audit log seen from the API: the entry of each request that
 * changes state, appended before its answer goes out (the router decides
 * which requests; this file records them), and the endpoints GET
 * /api/v1/audit (a listing with filters and paging) and GET
 * /api/v1/audit/verify (the chain checked from its first entry). The chain
 * itself, its MACs and its key are the store's (store/sqlite_audit.c).
 */
#include "api/audit.h"
#include "api/handlers.h"
#include "serve/registry.h"
#include "util/log.h"
#include "util/mem.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

/* A JSON string, or null. */
static void put_str(struct md_buf *b, const char *s)
{
    if (s == NULL)
        (void)md_buf_puts(b, "null");
    else
        (void)md_buf_json_str(b, s, strlen(s));
}

/* ---- recording a request ------------------------------------------------ */

#define OUTCOME_MAX 240 /* bytes of an outcome: the status and the error's text */

/* A request parked while its entry is appended, with its answer kept aside. */
struct audit_park {
    struct md_store_job job;
    struct md_store_audit e; /* points into the strings below */
    char *actor;
    char *action;
    char *target;  /* NULL, or set from subject on the store thread */
    char *subject; /* NULL, or the raw id: wiped once hashed */
    char address[64];
    char outcome[OUTCOME_MAX];
    char details[160];
    int code; /* the job's outcome */
    struct md_err err;
    void (*wake)(void *ctx);
    void *wake_ctx;
    /* The answer, as the handler left it. */
    int status;
    struct md_buf body;
    const char *content_type;
    char retry_after[16];
    const char *allow;
    enum md_api_family family;
    size_t json_len;
    const char *model;
    char version[24];
    char route[MD_POLICY_NAME_MAX];
    void (*after)(void *ctx, int status);
    void *after_ctx;
    /* The handler's own headers (a sign-in's Set-Cookie): request memory. */
    const char *headers[MD_API_RESP_HEADERS][2];
    unsigned n_headers;
};

static void free_park(struct audit_park *p)
{
    if (p->subject != NULL) {
        memset(p->subject, 0, strlen(p->subject));
        free(p->subject);
    }
    free(p->actor);
    free(p->action);
    free(p->target);
    md_buf_release(&p->body);
    free(p);
}

static void drop_park(void *state)
{
    free_park(state);
}

bool md_api_audit_parked(const struct md_api_resp *resp)
{
    return resp->resume != NULL && resp->drop == drop_park;
}

static int run_append(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct audit_park *p = ctx;

    if (p->subject != NULL) {
        char hashed[48];
        int rc = md_store_tx_audit_subject(tx, p->subject, hashed, sizeof(hashed), err);

        memset(p->subject, 0, strlen(p->subject));
        if (rc != MD_OK)
            return rc;
        free(p->target);
        p->target = md_xstrdup(hashed);
        p->e.target = p->target;
    }
    return md_store_tx_audit_add(tx, &p->e, NULL, err);
}

static void append_done(void *ctx, int code, const struct md_err *err)
{
    struct audit_park *p = ctx;
    void (*wake)(void *ctx) = p->wake;
    void *wake_ctx = p->wake_ctx;

    p->code = code;
    if (code != MD_OK && err != NULL)
        p->err = *err;
    if (wake != NULL)
        wake(wake_ctx); /* the request may be gone from here on */
}

/* "409 model 'm' has ...": the status and, for an error, the text of its {"error": ...}. */
static void outcome_of(const struct md_api_resp *resp, char *out, size_t n)
{
    json_t *root;
    const char *msg = NULL;

    (void)snprintf(out, n, "%d", resp->status);
    if (resp->status < 400 || resp->body == NULL || resp->body->len == 0 ||
        md_buf_error(resp->body) != MD_OK)
        return;
    root = json_loadb(resp->body->data, resp->body->len, 0, NULL);
    if (root != NULL)
        msg = json_string_value(json_object_get(root, "error"));
    if (msg != NULL)
        (void)snprintf(out, n, "%d %s", resp->status, msg); /* cut when long */
    json_decref(root);
}

/* Keeps resp's answer aside in p. */
static void keep_answer(struct audit_park *p, const struct md_api_resp *resp)
{
    p->status = resp->status;
    md_buf_init(&p->body, (size_t)64 << 20);
    if (resp->body != NULL && resp->body->len > 0)
        (void)md_buf_append(&p->body, resp->body->data, resp->body->len);
    p->content_type = resp->content_type;
    memcpy(p->retry_after, resp->retry_after, sizeof(p->retry_after));
    p->allow = resp->allow;
    p->family = resp->family;
    p->json_len = resp->json_len;
    p->model = resp->model;
    memcpy(p->version, resp->version, sizeof(p->version));
    memcpy(p->route, resp->route, sizeof(p->route));
    memcpy(p->headers, resp->headers, sizeof(p->headers));
    p->n_headers = resp->n_headers;
    p->after = resp->after;
    p->after_ctx = resp->after_ctx;
}

void md_api_audit_answer(struct md_api_resp *resp)
{
    struct audit_park *p = resp->resume;

    if (p->code != MD_OK)
        md_log_kv(MD_LOG_ERROR, "a change was made but its audit entry was not stored", "action",
                  p->action, "reason", p->err.msg, MD_KV_END);
    resp->status = p->status;
    md_buf_reset(resp->body);
    if (p->body.len > 0)
        (void)md_buf_append(resp->body, p->body.data, p->body.len);
    md_api_finish(resp, md_buf_error(&p->body) != MD_OK ? md_buf_error(&p->body)
                                                        : md_buf_error(resp->body));
    resp->content_type = p->content_type;
    memcpy(resp->retry_after, p->retry_after, sizeof(resp->retry_after));
    resp->allow = p->allow;
    resp->family = p->family;
    resp->json_len = p->json_len;
    resp->model = p->model;
    memcpy(resp->version, p->version, sizeof(resp->version));
    memcpy(resp->route, p->route, sizeof(resp->route));
    memcpy(resp->headers, p->headers, sizeof(resp->headers));
    resp->n_headers = p->n_headers;
    resp->after = p->after;
    resp->after_ctx = p->after_ctx;
    resp->resume = NULL;
    resp->drop = NULL;
    free_park(p);
}

/* A new entry of call by req's principal, its outcome unknown yet. */
static struct audit_park *new_park(struct md_api *api, const struct md_api_audit_call *call,
                                   struct md_api_req *req)
{
    const struct md_principal *who = req->principal != NULL ? req->principal : req->refused;
    struct audit_park *p;

    MD_UNUSED(api);
    p = md_xcalloc(1, sizeof(*p));
    p->actor = md_xstrdup(who != NULL && who->name != NULL ? who->name : "unauthenticated");
    p->action = md_xstrdup(call->action);
    p->target = call->target != NULL && call->target[0] != '\0' ? md_xstrdup(call->target) : NULL;
    p->subject = call->subject != NULL ? md_xstrdup(call->subject) : NULL;
    if (req->peer != NULL)
        req->peer(req->conn, p->address, sizeof(p->address));
    {
        struct md_buf d;

        md_buf_init(&d, sizeof(p->details) - 1);
        (void)md_buf_puts(&d, "{\"request_id\":");
        put_str(&d, req->request_id != NULL ? req->request_id : "");
        (void)md_buf_putc(&d, '}');
        if (md_buf_error(&d) == MD_OK)
            (void)snprintf(p->details, sizeof(p->details), "%.*s", (int)d.len, d.data);
        md_buf_release(&d);
    }
    p->e.actor = p->actor;
    p->e.action = p->action;
    p->e.target = p->target;
    p->e.address = p->address[0] != '\0' ? p->address : NULL;
    p->e.outcome = p->outcome;
    p->e.details = p->details;
    p->job.run = run_append;
    p->job.done = append_done;
    p->job.ctx = p;
    return p;
}

void md_api_audit_record(struct md_api *api, const struct md_api_audit_call *call,
                         struct md_api_req *req, struct md_api_resp *resp)
{
    struct audit_park *p;

    if (!api->audit || api->store == NULL)
        return;
    p = new_park(api, call, req);
    if (call->status_only)
        (void)snprintf(p->outcome, sizeof(p->outcome), "%d", resp->status);
    else
        outcome_of(resp, p->outcome, sizeof(p->outcome));
    keep_answer(p, resp);
    if (req->wake == NULL && req->want_wake != NULL)
        req->want_wake(req);
    if (req->wake != NULL) {
        p->wake = req->wake;
        p->wake_ctx = req->wake_ctx;
        md_api_park(resp, p, drop_park);
        resp->after = NULL;
        md_store_submit(api->store, &p->job);
        return;
    }
    p->code = md_store_call(api->store, run_append, p, &p->err);
    resp->resume = p;
    resp->drop = drop_park;
    md_api_audit_answer(resp);
}

/* ---- a handler's parked request -------------------------------------------------- */

/* What a handler parked with, and the entry to record should its client leave. */
struct audit_wrap {
    void *inner;                     /* the handler's state */
    void (*inner_drop)(void *state); /* and its drop */
    struct md_store *store;
    struct audit_park *entry; /* outcome unknown: set by the drop */
};

static void left_done(void *ctx, int code, const struct md_err *err)
{
    struct audit_park *p = ctx;

    if (code != MD_OK)
        md_log_kv(MD_LOG_ERROR, "a change was made but its audit entry was not stored", "action",
                  p->action, "reason", err->msg, MD_KV_END);
    free_park(p);
}

/* The client left before the answer: the handler's state goes, the entry is recorded. */
static void drop_wrap(void *state)
{
    struct audit_wrap *w = state;
    struct audit_park *p = w->entry;

    w->inner_drop(w->inner);
    (void)snprintf(p->outcome, sizeof(p->outcome), "unanswered: the client left");
    p->job.done = left_done;
    md_store_submit(w->store, &p->job);
    free(w);
}

bool md_api_audit_wrapped(const struct md_api_resp *resp)
{
    return resp->resume != NULL && resp->drop == drop_wrap;
}

void md_api_audit_wrap(struct md_api *api, const struct md_api_audit_call *call,
                       struct md_api_req *req, struct md_api_resp *resp)
{
    struct audit_wrap *w;

    if (!api->audit || api->store == NULL || !resp->parked)
        return;
    w = md_xcalloc(1, sizeof(*w));
    w->inner = resp->resume;
    w->inner_drop = resp->drop;
    w->store = api->store;
    w->entry = new_park(api, call, req);
    resp->resume = w;
    resp->drop = drop_wrap;
}

void md_api_audit_unwrap(struct md_api_resp *resp)
{
    struct audit_wrap *w = resp->resume;

    resp->resume = w->inner;
    resp->drop = w->inner_drop;
    free_park(w->entry);
    free(w);
}

/* ---- GET /api/v1/audit -------------------------------------------------------- */

struct audit_query {
    struct md_store_audit_filter f;
    struct md_buf *out; /* the job's */
    size_t n;
    int64_t first_id;
    int64_t last_id;
    char actor[MD_STORE_NAME_MAX];
    char action[MD_STORE_NAME_MAX];
    char target[MD_STORE_NAME_MAX];
};

static void put_entry(void *ctx, const struct md_store_audit *e)
{
    struct audit_query *q = ctx;
    struct md_buf *b = q->out;
    json_t *details = e->details != NULL ? json_loads(e->details, 0, NULL) : NULL;

    if (q->n > 0)
        (void)md_buf_putc(b, ',');
    if (q->n == 0)
        q->first_id = e->id;
    q->n++;
    q->last_id = e->id;
    (void)md_buf_printf(b, "{\"id\":%lld,\"time\":", (long long)e->id);
    md_buf_json_time_ms(b, e->at_ms);
    (void)md_buf_printf(b, ",\"at_ms\":%lld,\"actor\":", (long long)e->at_ms);
    put_str(b, e->actor);
    (void)md_buf_puts(b, ",\"action\":");
    put_str(b, e->action);
    (void)md_buf_puts(b, ",\"target\":");
    put_str(b, e->target);
    (void)md_buf_puts(b, ",\"address\":");
    put_str(b, e->address);
    (void)md_buf_puts(b, ",\"outcome\":");
    put_str(b, e->outcome);
    (void)md_buf_puts(b, ",\"details\":");
    if (json_is_object(details))
        (void)md_buf_puts(b, e->details); /* a JSON object as stored */
    else
        put_str(b, e->details); /* not an object: shown as text */
    json_decref(details);
    (void)md_buf_puts(b, ",\"key_id\":");
    put_str(b, e->key_id);
    (void)md_buf_puts(b, ",\"mac\":");
    put_str(b, e->mac);
    (void)md_buf_putc(b, '}');
}

static int run_list(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct audit_query *q = r->extra;
    int rc;

    q->out = &r->out;
    (void)md_buf_printf(&r->out, "{\"audit\":\"%s\",\"entries\":[",
                        md_store_tx_audit_on(tx) ? "on" : "off");
    rc = md_store_tx_audit_list(tx, &q->f, put_entry, q, err);
    (void)md_buf_puts(&r->out, "]");
    if (q->n == q->f.limit && q->f.oldest_first)
        (void)md_buf_printf(&r->out, ",\"next_after\":%lld", (long long)q->last_id);
    else if (q->n == q->f.limit && q->last_id > 1)
        (void)md_buf_printf(&r->out, ",\"next_before\":%lld", (long long)q->last_id);
    (void)md_buf_puts(&r->out, "}");
    return rc;
}

/* A text filter into buf (n bytes), *at pointing at it. */
static int text_arg(struct md_api_req *req, const char *name, char *buf, size_t n, const char **at,
                    struct md_err *err)
{
    const char *q = req->query(req->conn, name);

    if (q == NULL)
        return MD_OK;
    if (strlen(q) >= n)
        return md_err_set(err, MD_EINVAL, "%s: longer than %zu bytes", name, n - 1);
    memcpy(buf, q, strlen(q) + 1);
    *at = buf;
    return MD_OK;
}

/* An id argument (>= 1) into *out. */
static int id_arg(struct md_api_req *req, const char *name, int64_t *out, struct md_err *err)
{
    const char *q = req->query(req->conn, name);

    if (q == NULL)
        return MD_OK;
    *out = md_version_number(q);
    if (*out < 1 && strcmp(q, "0") != 0)
        return md_err_set(err, MD_EINVAL, "%s: '%.40s' is not an entry id", name, q);
    if (*out < 0)
        *out = 0;
    return MD_OK;
}

/* Reads the query's filters into q; MD_EINVAL naming the argument. */
static int read_filter(struct md_api_req *req, struct audit_query *q, struct md_err *err)
{
    static const char *const times[] = {"since", "until"};
    const char *s;
    int rc;

    if (req->query == NULL)
        return MD_OK;
    rc = text_arg(req, "actor", q->actor, sizeof(q->actor), &q->f.actor, err);
    if (rc == MD_OK)
        rc = text_arg(req, "action", q->action, sizeof(q->action), &q->f.action, err);
    if (rc == MD_OK)
        rc = text_arg(req, "target", q->target, sizeof(q->target), &q->f.target, err);
    for (size_t i = 0; i < 2 && rc == MD_OK; i++) {
        int64_t t;

        s = req->query(req->conn, times[i]);
        if (s == NULL)
            continue;
        t = md_time_parse_ms(s);
        if (t < 0)
            return md_err_set(err, MD_EINVAL,
                              "%s: '%.40s' is neither milliseconds since 1970 nor a UTC time such "
                              "as 2026-12-07T10:00:00Z",
                              times[i], s);
        if (i == 0)
            q->f.since_ms = t;
        else
            q->f.until_ms = t;
    }
    if (rc == MD_OK)
        rc = id_arg(req, "before", &q->f.before_id, err);
    if (rc == MD_OK)
        rc = id_arg(req, "after", &q->f.after_id, err);
    if (rc != MD_OK)
        return rc;
    if (q->f.before_id > 0 && req->query(req->conn, "after") != NULL)
        return md_err_set(err, MD_EINVAL, "before and after: give one or the other");
    s = req->query(req->conn, "limit");
    if (s != NULL) {
        int64_t n = md_version_number(s);

        if (n < 1 || n > 1000)
            return md_err_set(err, MD_EINVAL, "limit: '%.40s' is not a number from 1 to 1000", s);
        q->f.limit = (size_t)n;
    }
    return MD_OK;
}

void md_audit_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                       struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, free};
    struct audit_query *q;
    struct md_err err;

    MD_UNUSED(rt);
    if (resp->resume == NULL) {
        q = md_xcalloc(1, sizeof(*q));
        if (read_filter(req, q, &err) != MD_OK) {
            free(q);
            md_api_error(resp, &err);
            return;
        }
        if (q->f.limit == 0)
            q->f.limit = 100;
        /* after (0 from the first entry) lists the oldest first. */
        q->f.oldest_first = req->query != NULL && req->query(req->conn, "after") != NULL;
        args.extra = q;
    }
    md_api_store_job(api, req, resp, run_list, &args, 200);
}

/* ---- GET /api/v1/audit/verify --------------------------------------------------- */

static int run_verify(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct md_store_audit_check c;
    struct md_buf *b = &r->out;
    int rc = md_store_tx_audit_verify(tx, &c, err);

    if (rc != MD_OK)
        return rc;
    (void)md_buf_printf(b, "{\"ok\":%s,\"entries\":%lld,\"key_id\":", c.ok ? "true" : "false",
                        (long long)c.entries);
    put_str(b, c.key_id);
    if (c.head_id >= 0)
        (void)md_buf_printf(b, ",\"head\":%lld", (long long)c.head_id);
    else
        (void)md_buf_puts(b, ",\"head\":null");
    if (c.ok) {
        (void)md_buf_puts(b, ",\"first_bad\":null,\"reason\":null}");
        return MD_OK;
    }
    (void)md_buf_printf(b, ",\"first_bad\":%lld,\"reason\":", (long long)c.first_bad);
    put_str(b, c.reason);
    (void)md_buf_putc(b, '}');
    return MD_OK;
}

void md_audit_api_verify(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, NULL};

    MD_UNUSED(rt);
    md_api_store_job(api, req, resp, run_verify, &args, 200);
}
