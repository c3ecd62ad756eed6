/* SPDX-License-Identifier: MIT */
/*
 * traffic.c: the management API of versions, aliases, traffic policies and
 * events, under /api/v1/.
 *
 * Reads (versions, aliases, the policy) come from the model's snapshot,
 * with no lock and no disk. Changes (a policy, an alias, archiving) are
 * commands that control applies (serve/command.h): the request parks while
 * control checks the change, has the store commit it with its event, and
 * publishes it; the answer comes after the commit, so a 2xx means stored.
 * Events are read from the store on its own thread, the request parked
 * meanwhile: no HTTP thread waits on the disk.
 */
#include "api/handlers.h"
#include "serve/registry.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <jansson.h>
#include <time.h>

/* ---- formatting helpers -------------------------------------------------- */

static void put_str(struct md_buf *b, const char *s)
{
    (void)md_buf_json_str(b, s, strlen(s));
}

/* The share of traffic (percent) version v gets from policy p. */
static double share_of(const struct md_snapshot *s, int64_t v)
{
    uint64_t w = 0;
    size_t i;

    if (!s->has_policy || s->policy.total_weight == 0)
        return 0;
    for (i = 0; i < s->policy.n_routes; i++)
        if (s->policy.routes[i].version == v)
            w += s->policy.routes[i].weight;
    return 100.0 * (double)w / (double)s->policy.total_weight;
}

/* ---- GET /api/v1/models/{m}/versions --------------------------------------- */

static void put_version(struct md_buf *b, const struct md_snapshot *s,
                        const struct md_snapshot_row *row)
{
    const struct md_version_info *info = row->info;
    bool first = true;
    size_t i;

    (void)md_buf_printf(
        b, "{\"version\":\"%lld\",\"state\":\"%s\",\"reason\":", (long long)row->version,
        row->archived ? "ARCHIVED" : md_version_state_name(row->state));
    put_str(b, row->reason);
    (void)md_buf_printf(b, ",\"registered\":%s", info != NULL ? "true" : "false");
    if (info != NULL) {
        (void)md_buf_printf(b, ",\"sha256\":\"%s\",\"size\":%lld,\"created\":", info->sha256,
                            (long long)info->size);
        md_buf_json_time_ms(b, info->created_ms);
        (void)md_buf_printf(b, ",\"source\":\"%s\",\"engine\":",
                            md_store_source_name((enum md_store_source)info->source));
        put_str(b, info->engine);
        (void)md_buf_puts(b, ",\"artifact\":");
        put_str(b, info->artifact);
        (void)md_buf_printf(b, ",\"contract_sha256\":\"%s\",\"metadata\":%s", info->contract_sha256,
                            info->metadata);
    }
    (void)md_buf_puts(b, ",\"aliases\":[");
    for (i = 0; i < s->n_aliases; i++) {
        if (s->aliases[i].version != row->version)
            continue;
        if (!first)
            (void)md_buf_putc(b, ',');
        first = false;
        put_str(b, s->aliases[i].name);
    }
    (void)md_buf_puts(b, "],\"routes\":[");
    first = true;
    for (i = 0; s->has_policy && i < s->policy.n_routes; i++) {
        if (s->policy.routes[i].version != row->version)
            continue;
        if (!first)
            (void)md_buf_putc(b, ',');
        first = false;
        put_str(b, s->policy.routes[i].name);
    }
    (void)md_buf_printf(b, "],\"traffic_percent\":%.6g", share_of(s, row->version));
    for (i = 0; s->has_policy && i < s->policy.n_shadows; i++)
        if (s->policy.shadows[i].version == row->version)
            (void)md_buf_printf(b, ",\"shadow_fraction\":%.6g", s->policy.shadows[i].fraction);
    (void)md_buf_putc(b, '}');
}

static void list_versions(void *ctx, const struct md_snapshot *s)
{
    struct md_buf *b = ctx;
    /* A run trains from the newest version that serves (md_repo_acquire's). */
    bool training = s->n_ready > 0 && s->ready[s->n_ready - 1]->contract->training.present;
    size_t i;

    (void)md_buf_puts(b, "{\"model\":");
    put_str(b, s->model);
    if (s->champion > 0)
        (void)md_buf_printf(b, ",\"champion\":\"%lld\"", (long long)s->champion);
    else
        (void)md_buf_puts(b, ",\"champion\":null");
    (void)md_buf_printf(b, ",\"policy_revision\":%lld,\"training\":%s,\"versions\":[",
                        (long long)s->policy_revision, training ? "true" : "false");
    for (i = 0; i < s->n_rows; i++) {
        if (i > 0)
            (void)md_buf_putc(b, ',');
        put_version(b, s, &s->rows[i]);
    }
    (void)md_buf_puts(b, "]}");
}

void md_traffic_api_versions(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                             struct md_api_resp *resp)
{
    struct md_err err;

    MD_UNUSED(req);
    if (md_repo_with_snapshot(api->repo, rt->model, list_versions, resp->body, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    md_api_finish(resp, md_buf_error(resp->body));
}

/* ---- aliases and the policy, read ------------------------------------------ */

static void list_aliases(void *ctx, const struct md_snapshot *s)
{
    struct md_buf *b = ctx;
    size_t i;

    (void)md_buf_puts(b, "{\"model\":");
    put_str(b, s->model);
    (void)md_buf_puts(b, ",\"aliases\":{");
    for (i = 0; i < s->n_aliases; i++) {
        if (i > 0)
            (void)md_buf_putc(b, ',');
        put_str(b, s->aliases[i].name);
        (void)md_buf_printf(b, ":\"%lld\"", (long long)s->aliases[i].version);
    }
    (void)md_buf_puts(b, "}}");
}

void md_traffic_api_aliases(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct md_err err;

    MD_UNUSED(req);
    if (md_repo_with_snapshot(api->repo, rt->model, list_aliases, resp->body, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    md_api_finish(resp, md_buf_error(resp->body));
}

struct policy_read {
    struct md_buf *b;
    bool none;
};

static void read_policy(void *ctx, const struct md_snapshot *s)
{
    struct policy_read *pr = ctx;
    struct md_buf *b = pr->b;
    size_t i;

    if (!s->has_policy) {
        pr->none = true;
        return;
    }
    (void)md_buf_puts(b, "{\"model\":");
    put_str(b, s->model);
    (void)md_buf_printf(b, ",\"revision\":%lld,\"updated\":", (long long)s->policy_revision);
    md_buf_json_time_ms(b, s->policy_ms);
    (void)md_buf_puts(b, ",\"policy\":");
    if (md_policy_format(&s->policy, b) != MD_OK)
        return; /* the buffer's sticky error says so */
    (void)md_buf_puts(b, ",\"routes\":[");
    for (i = 0; i < s->policy.n_routes; i++) {
        const struct md_policy_route *r = &s->policy.routes[i];

        if (i > 0)
            (void)md_buf_putc(b, ',');
        (void)md_buf_puts(b, "{\"name\":");
        put_str(b, r->name);
        (void)md_buf_printf(b, ",\"version\":\"%lld\",\"percent\":%.6g,\"serving\":%s}",
                            (long long)r->version,
                            100.0 * (double)r->weight / (double)s->policy.total_weight,
                            s->route_live[i] != NULL ? "true" : "false");
    }
    (void)md_buf_puts(b, "]}");
}

void md_traffic_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct policy_read pr = {resp->body, false};
    struct md_err err;

    MD_UNUSED(req);
    if (md_repo_with_snapshot(api->repo, rt->model, read_policy, &pr, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    if (pr.none) {
        md_api_errorf(resp, MD_ENOTFOUND,
                      "model '%s' has no traffic policy yet: it gets one when a version serves",
                      rt->model);
        return;
    }
    md_api_finish(resp, md_buf_error(resp->body));
}

/* ---- changes: commands control applies --------------------------------------- */

/* The revision an If-Match header names ("7" or 7), -1 when absent; -2 when malformed. */
static int64_t if_match(struct md_api_req *req)
{
    const char *h = req->header != NULL ? req->header(req->conn, "If-Match") : NULL;
    char digits[24];
    size_t n = 0;

    if (h == NULL)
        return -1;
    while (*h == ' ')
        h++;
    if (*h == '"')
        h++;
    while (*h >= '0' && *h <= '9' && n < sizeof(digits) - 1)
        digits[n++] = *h++;
    digits[n] = '\0';
    if (*h == '"')
        h++;
    while (*h == ' ')
        h++;
    if (*h != '\0' || md_version_number(digits) < 1)
        return -2;
    return md_version_number(digits);
}

void md_traffic_api_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    struct md_traffic_change *t = NULL;

    if (resp->resume == NULL) {
        int64_t expect = if_match(req);

        if (expect == -2) {
            md_api_errorf(resp, MD_EINVAL,
                          "If-Match: must be the revision the change replaces, e.g. \"7\"");
            return;
        }
        t = md_xcalloc(1, sizeof(*t));
        t->json = md_xmalloc(req->body_len + 1);
        memcpy(t->json, req->body, req->body_len);
        t->json[req->body_len] = '\0';
        t->len = req->body_len;
        t->expect = expect;
    }
    md_api_command(api, MD_COMMAND_TRAFFIC, rt->model, t, md_traffic_change_free, 200, req, resp);
}

void md_traffic_api_model_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                              struct md_api_resp *resp)
{
    struct md_traffic_change *t = NULL;

    if (resp->resume == NULL) {
        t = md_xcalloc(1, sizeof(*t));
        t->json = md_xmalloc(req->body_len + 1);
        memcpy(t->json, req->body, req->body_len);
        t->json[req->body_len] = '\0';
        t->len = req->body_len;
        t->expect = -1;
    }
    md_api_command(api, MD_COMMAND_MODEL, rt->model, t, md_traffic_change_free, 200, req, resp);
}

void md_traffic_api_alias_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                              struct md_api_resp *resp)
{
    struct md_alias_change *a = NULL;

    if (resp->resume == NULL) {
        json_error_t jerr;
        json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        json_t *v = json_is_object(root) ? json_object_get(root, "version") : NULL;
        const char *key;
        json_t *val;
        char num[24];

        if (root == NULL) {
            md_api_errorf(resp, MD_EINVAL, "malformed JSON at line %d, column %d: %s", jerr.line,
                          jerr.column, jerr.text);
            return;
        }
        if (!json_is_object(root)) {
            json_decref(root);
            md_api_errorf(resp, MD_EINVAL, "the body must be a JSON object: {\"version\": \"3\"}");
            return;
        }
        json_object_foreach(root, key, val)
        {
            if (strcmp(key, "version") != 0) {
                md_api_errorf(resp, MD_EINVAL, "%.64s: unknown field", key);
                json_decref(root);
                return;
            }
        }
        if (json_is_integer(v) && json_integer_value(v) >= 1) {
            (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        } else if (json_is_string(v) && json_string_length(v) < sizeof(num) + 40) {
            (void)snprintf(num, sizeof(num), "%s", json_string_value(v));
        } else {
            json_decref(root);
            md_api_errorf(resp, MD_EINVAL,
                          "version: required, a version number (\"3\" or 3) or an alias");
            return;
        }
        a = md_xcalloc(1, sizeof(*a));
        a->alias = md_xstrdup(rt->alias);
        a->version = md_xstrdup(json_is_string(v) ? json_string_value(v) : num);
        json_decref(root);
    }
    md_api_command(api, MD_COMMAND_ALIAS, rt->model, a, md_alias_change_free, 200, req, resp);
}

void md_traffic_api_alias_delete(struct md_api *api, const struct md_route *rt,
                                 struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_alias_change *a = NULL;

    if (resp->resume == NULL) {
        a = md_xcalloc(1, sizeof(*a));
        a->alias = md_xstrdup(rt->alias);
    }
    md_api_command(api, MD_COMMAND_ALIAS, rt->model, a, md_alias_change_free, 200, req, resp);
}

struct alias_find {
    const char *alias;
    int64_t version;
};

static void find_alias(void *ctx, const struct md_snapshot *s)
{
    struct alias_find *f = ctx;

    f->version = md_snapshot_alias(s, f->alias);
}

void md_traffic_api_archive(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct md_archive_change *a = NULL;

    if (resp->resume == NULL) {
        int64_t v = md_version_number(rt->version);

        if (v < 1) {
            /* An alias: the version it names now. */
            struct alias_find f = {rt->version, 0};
            struct md_err err;

            if (md_repo_with_snapshot(api->repo, rt->model, find_alias, &f, &err) != MD_OK) {
                md_api_error(resp, &err);
                return;
            }
            if (f.version == 0) {
                md_api_errorf(resp, MD_ENOTFOUND, "model '%s' has no version or alias '%.64s'",
                              rt->model, rt->version);
                return;
            }
            v = f.version;
        }
        a = md_xcalloc(1, sizeof(*a));
        a->version = v;
        a->archived = strstr(req->path, "/archive") != NULL;
    }
    md_api_command(api, MD_COMMAND_ARCHIVE, rt->model, a, free, 200, req, resp);
}

/* ---- GET /api/v1/events --------------------------------------------------- */

/* What an events read filters on and counts, beside the store job. */
struct events_query {
    struct md_store_event_filter f;
    const struct md_principal *principal;
    struct md_buf *out; /* the job's */
    size_t n;
    int64_t last_id;
    char model[MD_STORE_NAME_MAX];
    char kind[MD_STORE_NAME_MAX];
};

static void put_event(void *ctx, const struct md_store_event *e)
{
    struct events_query *q = ctx;
    struct md_buf *b = q->out;

    if (e->model[0] != '\0' && !md_auth_may_use(q->principal, e->model))
        return;
    if (q->n > 0)
        (void)md_buf_putc(b, ',');
    q->n++;
    q->last_id = e->id;
    (void)md_buf_printf(b, "{\"id\":%lld,\"time\":", (long long)e->id);
    md_buf_json_time_ms(b, e->at_ms);
    (void)md_buf_printf(b, ",\"at_ms\":%lld,\"model\":", (long long)e->at_ms);
    put_str(b, e->model);
    (void)md_buf_puts(b, ",\"kind\":");
    put_str(b, e->kind);
    (void)md_buf_puts(b, ",\"message\":");
    put_str(b, e->message);
    (void)md_buf_printf(b, ",\"details\":%s}", e->details[0] != '\0' ? e->details : "{}");
}

static int run_events(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct events_query *q = r->extra;
    int rc;

    q->out = &r->out;
    (void)md_buf_puts(&r->out, "{\"events\":[");
    rc = md_store_tx_events(tx, &q->f, put_event, q, err);
    (void)md_buf_puts(&r->out, "]");
    if (q->n == q->f.limit && q->last_id > 1)
        (void)md_buf_printf(&r->out, ",\"next_before\":%lld", (long long)q->last_id);
    (void)md_buf_puts(&r->out, "}");
    return rc;
}

/* Reads the query's filters into r; MD_EINVAL naming the argument. */
static int read_filter(struct md_api_req *req, struct events_query *r, struct md_err *err)
{
    static const char *const times[] = {"since", "until"};
    const char *q;
    size_t i;

    if (req->query == NULL)
        return MD_OK;
    q = req->query(req->conn, "model");
    if (q != NULL) {
        if (strlen(q) >= sizeof(r->model))
            return md_err_set(err, MD_EINVAL, "model: too long");
        memcpy(r->model, q, strlen(q) + 1);
        r->f.model = r->model;
    }
    q = req->query(req->conn, "kind");
    if (q != NULL) {
        if (strlen(q) >= sizeof(r->kind))
            return md_err_set(err, MD_EINVAL, "kind: too long");
        memcpy(r->kind, q, strlen(q) + 1);
        r->f.kind = r->kind;
    }
    for (i = 0; i < 2; i++) {
        int64_t t;

        q = req->query(req->conn, times[i]);
        if (q == NULL)
            continue;
        t = md_time_parse_ms(q);
        if (t < 0)
            return md_err_set(err, MD_EINVAL,
                              "%s: '%.40s' is neither milliseconds since 1970 nor a UTC time such "
                              "as 2026-12-07T10:00:00Z",
                              times[i], q);
        if (i == 0)
            r->f.since_ms = t;
        else
            r->f.until_ms = t;
    }
    q = req->query(req->conn, "before");
    if (q != NULL && (r->f.before_id = md_version_number(q)) < 1)
        return md_err_set(err, MD_EINVAL, "before: '%.40s' is not an event id", q);
    q = req->query(req->conn, "limit");
    if (q != NULL) {
        int64_t n = md_version_number(q);

        if (n < 1 || n > 1000)
            return md_err_set(err, MD_EINVAL, "limit: '%.40s' is not a number from 1 to 1000", q);
        r->f.limit = (size_t)n;
    }
    return MD_OK;
}

void md_traffic_api_events(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, NULL, free};
    struct events_query *q;
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
        q->principal = req->principal;
        args.extra = q;
    }
    md_api_store_job(api, req, resp, run_events, &args, 200);
}

/* ---- GET /api/v1/store ----------------------------------------------------- */

void md_traffic_api_store(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp)
{
    struct md_store_info info;

    MD_UNUSED(rt);
    MD_UNUSED(req);
    if (api->store == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "no store");
        return;
    }
    md_store_get_info(api->store, &info);
    (void)md_buf_puts(resp->body, "{\"backend\":");
    put_str(resp->body, info.backend);
    (void)md_buf_puts(resp->body, ",\"location\":");
    put_str(resp->body, info.location);
    (void)md_buf_printf(resp->body,
                        ",\"schema\":%d,\"journal_mode\":\"%s\",\"synchronous\":\"%s\","
                        "\"commits\":%llu,\"jobs\":%llu,\"failed_commits\":%llu}",
                        info.schema, info.journal_mode, info.synchronous,
                        (unsigned long long)info.commits, (unsigned long long)info.jobs,
                        (unsigned long long)info.failed_commits);
    md_api_finish(resp, md_buf_error(resp->body));
}
