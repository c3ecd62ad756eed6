/* SPDX-License-Identifier: MIT */
/*
 * api.c: the error-code-to-status table (the only one), error bodies,
 * request counters, and the model metadata both protocols share.
 */
#include "api/api.h"
#include "util/mem.h"

#include <assert.h>
#include <stdarg.h>

const int md_api_codes[MD_API_CODES] = {200, 400, 401, 403, 404, 405, 409,
                                        413, 429, 431, 500, 501, 503, 504};

/*
 * Indexed by -code. retry: Retry-After: 1 comes with the answer (unavailable
 * now: a full queue, a version still loading, the connection limit).
 */
static const struct {
    short status;
    bool retry;
} status_table[1 - MD_ECODE_MIN] = {
    [-MD_OK] = {200, false},
    [-MD_EINVAL] = {400, false},
    [-MD_ENOTFOUND] = {404, false},
    [-MD_EUNAVAIL] = {503, true},
    [-MD_ENOMEM] = {500, false},
    [-MD_EIO] = {500, false},
    [-MD_ECORRUPT] = {400, false},
    [-MD_EAUTH] = {401, false},
    [-MD_EPERM] = {403, false},
    [-MD_EINTERNAL] = {500, false},
    [-MD_ETOOBIG] = {413, false},
    [-MD_EUNSUPPORTED] = {501, false},
    [-MD_ETIMEDOUT] = {504, false},
    /* Never an answer: a parked request answers when it is woken. */
    [-MD_EPENDING] = {500, false},
    [-MD_ECONFLICT] = {409, false},
    [-MD_EMETHOD] = {405, false},
    [-MD_EHEADTOOBIG] = {431, false},
    /* Its Retry-After is the rate limit's own (api/auth.c). */
    [-MD_ETOOMANY] = {429, false},
};

/* The row of code; -1 for a code outside the table or without a row. */
static int row(int code)
{
    if (code > MD_OK || code < MD_ECODE_MIN || status_table[-code].status == 0)
        return -1;
    return -code;
}

int md_api_status(int code)
{
    int i = row(code);

    return i < 0 ? 500 : status_table[i].status;
}

void md_api_error_msg(struct md_api_resp *resp, int code, const char *msg)
{
    int i = row(code);

    md_buf_reset(resp->body);
    resp->status = md_api_status(code);
    resp->content_type = "application/json";
    resp->json_len = 0;
    if (i >= 0 && status_table[i].retry)
        (void)snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
    md_buf_puts(resp->body, "{\"error\":");
    md_buf_json_str(resp->body, msg, strlen(msg));
    md_buf_putc(resp->body, '}');
    if (md_buf_error(resp->body) != MD_OK) {
        /* Not even room for the message: the status alone. */
        md_buf_reset(resp->body);
        resp->status = md_api_status(MD_EINTERNAL);
    }
}

void md_api_error(struct md_api_resp *resp, const struct md_err *err)
{
    md_api_error_msg(resp, err->code, err->msg);
}

void md_api_errorf(struct md_api_resp *resp, int code, const char *fmt, ...)
{
    struct md_err err;
    va_list ap;

    err.code = code;
    va_start(ap, fmt);
    (void)vsnprintf(err.msg, sizeof(err.msg), fmt, ap); /* a long message is cut short */
    va_end(ap);
    md_api_error(resp, &err);
}

void md_api_header(struct md_api_resp *resp, const char *name, const char *value)
{
    assert(resp->n_headers < MD_API_RESP_HEADERS);
    if (resp->n_headers >= MD_API_RESP_HEADERS)
        return;
    resp->headers[resp->n_headers][0] = name;
    resp->headers[resp->n_headers][1] = value;
    resp->n_headers++;
}

int md_api_query_time(struct md_api_req *req, const char *name, int64_t *out_ms, struct md_err *err)
{
    const char *q = req->query != NULL ? req->query(req->conn, name) : NULL;
    int64_t t;

    if (q == NULL)
        return MD_OK;
    t = md_time_parse_ms(q);
    if (t < 0)
        return md_err_set(err, MD_EINVAL,
                          "%s: '%.40s' is neither milliseconds since 1970 nor a UTC time such as "
                          "2026-12-07T10:00:00Z",
                          name, q);
    *out_ms = t;
    return MD_OK;
}

int md_api_query_text(struct md_api_req *req, const char *name, char *buf, size_t n,
                      const char **at, struct md_err *err)
{
    const char *q = req->query != NULL ? req->query(req->conn, name) : NULL;
    size_t len;

    if (q == NULL)
        return MD_OK;
    len = strlen(q);
    if (len >= n)
        return md_err_set(err, MD_EINVAL, "%s: longer than %zu bytes", name, n - 1);
    memcpy(buf, q, len + 1);
    *at = buf;
    return MD_OK;
}

int md_api_query_limit(struct md_api_req *req, size_t max, size_t *out, struct md_err *err)
{
    const char *q = req->query != NULL ? req->query(req->conn, "limit") : NULL;
    int64_t n;

    if (q == NULL)
        return MD_OK;
    n = md_version_number(q);
    if (n < 1 || (uint64_t)n > max)
        return md_err_set(err, MD_EINVAL, "limit: '%.40s' is not a number from 1 to %zu", q, max);
    *out = (size_t)n;
    return MD_OK;
}

int md_api_query_bool(struct md_api_req *req, const char *name, bool *out, struct md_err *err)
{
    const char *q = req->query != NULL ? req->query(req->conn, name) : NULL;

    if (q == NULL)
        return MD_OK;
    if (strcmp(q, "true") == 0 || strcmp(q, "1") == 0)
        *out = true;
    else if (strcmp(q, "false") == 0 || strcmp(q, "0") == 0)
        *out = false;
    else
        return md_err_set(err, MD_EINVAL, "%s: '%.16s' is not true or false", name, q);
    return MD_OK;
}

int md_api_finish(struct md_api_resp *resp, int code)
{
    if (code != MD_OK)
        md_api_error_msg(resp, MD_EINTERNAL, "response too large");
    return code;
}

int md_api_acquire(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp,
                   struct md_version **v)
{
    struct md_err err;

    if (md_repo_acquire(api->repo, rt->model, rt->version, v, &err) != MD_OK) {
        md_api_error(resp, &err);
        return err.code;
    }
    memcpy(resp->version, (*v)->version_str, sizeof(resp->version)); /* same size */
    return MD_OK;
}

void md_api_park(struct md_api_resp *resp, void *state, void (*drop)(void *state))
{
    resp->resume = state;
    resp->drop = drop;
    resp->parked = true;
}

void md_api_count(struct md_api *api, enum md_api_family family, int status)
{
    size_t i;

    for (i = 0; i < MD_API_CODES; i++)
        if (md_api_codes[i] == status)
            break;
    atomic_fetch_add_explicit(&api->http[family][i], 1, memory_order_relaxed);
}

void md_api_put_keys(struct md_buf *b, const struct md_contract *c)
{
    char num[24];
    size_t i;

    md_buf_putc(b, '[');
    for (i = 0; i < c->n_keys; i++) {
        const struct md_key *k = &c->keys[i];

        md_buf_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
        md_buf_json_str(b, k->name, strlen(k->name));
        md_buf_puts(b, k->type == MD_KEY_INT64 ? ",\"type\":\"int64\"" : ",\"type\":\"string\"");
        md_buf_puts(b, k->required ? ",\"required\":true" : ",\"required\":false");
        (void)snprintf(num, sizeof(num), "%zu", k->max_length); /* fits */
        md_buf_puts(b, ",\"max_length\":");
        md_buf_puts(b, num);
        if (k->header != NULL) {
            md_buf_puts(b, ",\"header\":");
            md_buf_json_str(b, k->header, strlen(k->header));
        }
        if (k->description != NULL) {
            md_buf_puts(b, ",\"description\":");
            md_buf_json_str(b, k->description, strlen(k->description));
        }
        if (k->subject)
            md_buf_puts(b, ",\"subject\":true");
        md_buf_putc(b, '}');
    }
    md_buf_putc(b, ']');
}

/* md_api_park's drop for md_api_command: the command runs on; its last
 * reference goes with whoever is last. */
static void drop_command(void *state)
{
    md_command_unref(state);
}

/*
 * Submits a command with its argument (owned from here) and parks until
 * control has applied it; on the call after the wake, answers with its
 * outcome: the result JSON with status ok_status, or the error.
 */
void md_api_command(struct md_api *api, enum md_command_kind kind, const char *model, void *arg,
                    void (*arg_free)(void *arg), int ok_status, struct md_api_req *req,
                    struct md_api_resp *resp)
{
    struct md_command *cmd = resp->resume;
    struct md_err err;
    const char *result;
    int rc;

    if (cmd == NULL) {
        if (api->commands == NULL) {
            if (arg_free != NULL)
                arg_free(arg);
            md_api_errorf(resp, MD_EUNAVAIL, "no control loop to apply changes");
            return;
        }
        if (req->wake == NULL && req->want_wake != NULL)
            req->want_wake(req);
        rc = md_commands_submit_arg(api->commands, kind, model, arg, arg_free, req->wake,
                                    req->wake_ctx, &cmd, &err);
        if (rc != MD_OK) {
            md_api_error(resp, &err);
            return;
        }
        if (req->wake != NULL) {
            md_api_park(resp, cmd, drop_command);
            return;
        }
        rc = md_command_wait(cmd, &err);
    } else {
        rc = md_command_outcome(cmd, &err);
    }
    if (rc != MD_OK) {
        md_api_error(resp, &err);
    } else {
        result = md_command_result(cmd);
        resp->status = ok_status;
        if (result != NULL)
            (void)md_buf_puts(resp->body, result);
        md_api_finish(resp, md_buf_error(resp->body));
    }
    md_command_unref(cmd);
}

/* ---- a store job a request parks on --------------------------------------- */

static int run_read(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    struct md_api_store_read *r = ctx;

    return r->run(tx, r, err);
}

static void read_done(void *ctx, int code, const struct md_err *err)
{
    struct md_api_store_read *r = ctx;
    void (*wake)(void *ctx) = r->wake;
    void *wake_ctx = r->wake_ctx;

    r->code = code;
    if (code != MD_OK && err != NULL)
        r->err = *err;
    if (code == MD_OK && r->committed != NULL)
        r->committed(r);
    if (wake != NULL)
        wake(wake_ctx); /* the request may be gone from here on */
}

static void drop_read(void *state)
{
    struct md_api_store_read *r = state;

    md_buf_release(&r->out);
    free(r->text);
    if (r->extra_free != NULL)
        r->extra_free(r->extra);
    free(r);
}

void md_api_store_job(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp,
                      int (*fn)(struct md_store_tx *tx, struct md_api_store_read *r,
                                struct md_err *err),
                      const struct md_api_store_args *args, int ok_status)
{
    md_api_store_write(api, req, resp, fn, args, NULL, ok_status);
}

void md_api_store_write(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp,
                        int (*fn)(struct md_store_tx *tx, struct md_api_store_read *r,
                                  struct md_err *err),
                        const struct md_api_store_args *args,
                        void (*committed)(struct md_api_store_read *r), int ok_status)
{
    struct md_api_store_read *r = resp->resume;

    if (r == NULL) {
        if (api->store == NULL) {
            free(args->text);
            if (args->extra_free != NULL)
                args->extra_free(args->extra);
            md_api_errorf(resp, MD_EUNAVAIL, "no store: this needs --data");
            return;
        }
        r = md_xcalloc(1, sizeof(*r));
        md_buf_init(&r->out, (size_t)64 << 20);
        r->run = fn;
        r->model = args->model;
        r->name = args->name;
        r->id = args->id;
        r->text = args->text;
        r->remove = args->remove;
        r->extra = args->extra;
        r->extra_free = args->extra_free;
        r->committed = committed;
        r->job.run = run_read;
        r->job.done = read_done;
        r->job.ctx = r;
        if (req->wake == NULL && req->want_wake != NULL)
            req->want_wake(req);
        if (req->wake != NULL) {
            r->wake = req->wake;
            r->wake_ctx = req->wake_ctx;
            md_api_park(resp, r, drop_read);
            md_store_submit(api->store, &r->job);
            return;
        }
        r->code = md_store_call(api->store, run_read, r, &r->err);
        if (r->code == MD_OK && r->committed != NULL)
            r->committed(r);
    }
    if (r->code != MD_OK) {
        md_api_error(resp, &r->err);
    } else {
        resp->status = ok_status;
        if (md_buf_error(&r->out) == MD_OK)
            (void)md_buf_append(resp->body, r->out.data, r->out.len);
        md_api_finish(resp, md_buf_error(&r->out) != MD_OK ? md_buf_error(&r->out)
                                                           : md_buf_error(resp->body));
    }
    drop_read(r);
}
