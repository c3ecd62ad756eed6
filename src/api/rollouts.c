/* SPDX-License-Identifier: MIT */
/*
 * rollouts.c: the management API of progressive rollouts and of stored
 * rollout strategies, under /api/v1/.
 *
 * Starting a rollout and commanding one are commands control applies (the
 * request parks until the decision is stored and the traffic moved);
 * reading rollouts, their decisions and the strategies, and storing a
 * strategy, are store jobs on the store's thread, the request parked
 * meanwhile: no HTTP thread waits on the disk.
 */
#include "api/handlers.h"
#include "serve/rollout.h"
#include "store/store.h"
#include "util/mem.h"

#include <jansson.h>

/* False, with the 404 answered, when the path's model is not one the repository lists. */
static bool model_known(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp)
{
    if (resp->resume != NULL || md_repo_has_model(api->repo, rt->model))
        return true;
    md_api_errorf(resp, MD_ENOTFOUND, "unknown model '%s'", rt->model);
    return false;
}

/* md_api_store_job with the fields these handlers use. */
static void
store_job(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp,
          int (*fn)(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err),
          const char *model, const char *name, int64_t id, char *text, bool remove, int ok_status)
{
    struct md_api_store_args args = {model, name, id, text, remove, NULL, NULL};

    md_api_store_job(api, req, resp, fn, &args, ok_status);
}

/* ---- reading rollouts ------------------------------------------------------ */

/*
 * A stored rollout as its JSON (the object left open): the fields of the
 * answer to a start or a command (champion, stage, step, the weights of its
 * state), then what the store keeps.
 */
static void put_rollout(struct md_buf *b, const struct md_store_rollout *r)
{
    struct md_rollout_spec spec;
    struct md_rollout_state st;
    struct md_rollout_weights w;
    struct md_err err;

    (void)md_buf_printf(b, "{\"id\":%lld,\"model\":", (long long)r->id);
    (void)md_buf_json_str(b, r->model, strlen(r->model));
    (void)md_buf_printf(b, ",\"candidate\":\"%lld\"", (long long)r->candidate);
    if (md_rollout_spec_parse(r->spec, strlen(r->spec), &spec, &err) == MD_OK &&
        md_rollout_state_parse(&spec, r->state, strlen(r->state), &st, &err) == MD_OK) {
        md_rollout_weights(&spec, &st, &w);
        (void)md_buf_printf(b, ",\"champion\":\"%lld\",\"stage\":\"%s\",\"step\":%u,\"weights\":",
                            (long long)spec.champion, md_rollout_stage_name(st.stage), st.step);
        if (md_rollout_weights_format(&w, b) != MD_OK)
            return; /* b keeps the error: the answer says so */
    }
    (void)md_buf_printf(
        b,
        ",\"phase\":\"%s\",\"active\":%s,\"created_ms\":%lld,\"updated_ms\":%lld,\"spec\":%s,"
        "\"state\":%s",
        r->phase, r->active ? "true" : "false", (long long)r->created_ms, (long long)r->updated_ms,
        r->spec, r->state);
}

struct listing {
    struct md_api_store_read *r;
    size_t n;
};

static void list_one(void *ctx, const struct md_store_rollout *ro)
{
    struct listing *l = ctx;

    if (l->n++ > 0)
        (void)md_buf_putc(&l->r->out, ',');
    put_rollout(&l->r->out, ro);
    (void)md_buf_putc(&l->r->out, '}');
}

static int run_list(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct listing l = {r, 0};
    int rc;

    (void)md_buf_puts(&r->out, "{\"model\":");
    (void)md_buf_json_str(&r->out, r->model, strlen(r->model));
    (void)md_buf_puts(&r->out, ",\"rollouts\":[");
    rc = md_store_tx_rollouts(tx, r->model, false, 100, list_one, &l, err);
    (void)md_buf_puts(&r->out, "]}");
    return rc;
}

void md_rollouts_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp)
{
    if (!model_known(api, rt, resp))
        return;
    store_job(api, req, resp, run_list, rt->model, NULL, 0, NULL, false, 200);
}

struct one {
    struct md_api_store_read *r;
    bool found;
    bool other_model;
    size_t n;
};

static void got_one(void *ctx, const struct md_store_rollout *ro)
{
    struct one *o = ctx;

    if (strcmp(ro->model, o->r->model) != 0) {
        o->other_model = true;
        return;
    }
    o->found = true;
    put_rollout(&o->r->out, ro);
}

static void got_decision(void *ctx, int64_t at_ms, const char *decision)
{
    struct one *o = ctx;

    MD_UNUSED(at_ms);
    if (o->n++ > 0)
        (void)md_buf_putc(&o->r->out, ',');
    (void)md_buf_puts(&o->r->out, decision);
}

static int run_one(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct one o = {r, false, false, 0};
    int rc = md_store_tx_rollout_get(tx, r->id, got_one, &o, err);

    if (rc == MD_ENOTFOUND || o.other_model)
        return md_err_set(err, MD_ENOTFOUND, "model '%s' has no rollout %lld", r->model,
                          (long long)r->id);
    if (rc != MD_OK)
        return rc;
    (void)md_buf_puts(&r->out, ",\"decisions\":[");
    rc = md_store_tx_decisions(tx, r->id, got_decision, &o, err);
    (void)md_buf_puts(&r->out, "]}");
    return rc;
}

void md_rollouts_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                         struct md_api_resp *resp)
{
    int64_t id = md_version_number(rt->id);

    if (!model_known(api, rt, resp))
        return;
    if (resp->resume == NULL && id < 1) {
        md_api_errorf(resp, MD_ENOTFOUND, "model '%s' has no rollout '%.32s'", rt->model, rt->id);
        return;
    }
    store_job(api, req, resp, run_one, rt->model, NULL, id, NULL, false, 200);
}

/* ---- starting and commanding ------------------------------------------------ */

void md_rollouts_api_start(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    struct md_rollout_change *ch = NULL;

    if (!model_known(api, rt, resp))
        return;
    if (resp->resume == NULL) {
        ch = md_xcalloc(1, sizeof(*ch));
        ch->body = md_xmalloc(req->body_len + 1);
        memcpy(ch->body, req->body, req->body_len);
        ch->body[req->body_len] = '\0';
        ch->len = req->body_len;
    }
    md_api_command(api, MD_COMMAND_ROLLOUT, rt->model, ch, md_rollout_change_free, 201, req, resp);
}

void md_rollouts_api_command(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                             struct md_api_resp *resp)
{
    struct md_rollout_change *ch = NULL;

    if (!model_known(api, rt, resp))
        return;
    if (resp->resume == NULL) {
        const char *slash = strrchr(req->path, '/');
        enum md_rollout_cmd cmd = md_rollout_cmd_parse(slash != NULL ? slash + 1 : "");
        int64_t id = md_version_number(rt->id);
        const char *note = NULL;
        json_t *root = NULL;

        if (cmd == 0 || id < 1) {
            md_api_errorf(resp, MD_ENOTFOUND, "no such rollout command");
            return;
        }
        if (req->body_len > 0) {
            json_error_t jerr;
            json_t *n;

            root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
            if (root == NULL || !json_is_object(root)) {
                json_decref(root);
                md_api_errorf(resp, MD_EINVAL,
                              "the body must be a JSON object: {\"note\": \"why\"}");
                return;
            }
            n = json_object_get(root, "note");
            if (json_object_size(root) > (n != NULL ? 1u : 0u) ||
                (n != NULL && !json_is_string(n))) {
                json_decref(root);
                md_api_errorf(resp, MD_EINVAL, "note: a string, the only field");
                return;
            }
            note = n != NULL ? json_string_value(n) : NULL;
        }
        ch = md_xcalloc(1, sizeof(*ch));
        ch->cmd = (int)cmd;
        ch->id = id;
        ch->body = note != NULL ? md_xstrdup(note) : NULL;
        json_decref(root);
    }
    md_api_command(api, MD_COMMAND_ROLLOUT, rt->model, ch, md_rollout_change_free, 200, req, resp);
}

/* ---- strategies --------------------------------------------------------------- */

struct strategies {
    struct md_api_store_read *r;
    size_t n;
};

static void put_strategy(void *ctx, const char *name, const char *strategy)
{
    struct strategies *s = ctx;

    if (s->n++ > 0)
        (void)md_buf_putc(&s->r->out, ',');
    (void)md_buf_puts(&s->r->out, "{\"name\":");
    (void)md_buf_json_str(&s->r->out, name, strlen(name));
    (void)md_buf_printf(&s->r->out, ",\"strategy\":%s}", strategy);
}

static int run_strategies(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct strategies s = {r, 0};
    int rc;

    if (r->name != NULL) {
        rc = md_store_tx_strategies(tx, r->name, put_strategy, &s, err);
        if (rc == MD_ENOTFOUND)
            return md_err_set(err, MD_ENOTFOUND, "no strategy named '%s'", r->name);
        return rc;
    }
    (void)md_buf_puts(&r->out, "{\"strategies\":[");
    rc = md_store_tx_strategies(tx, NULL, put_strategy, &s, err);
    (void)md_buf_puts(&r->out, "]}");
    return rc;
}

void md_strategies_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    store_job(api, req, resp, run_strategies, NULL, rt->name, 0, NULL, false, 200);
}

static int run_strategy_put(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct md_store_event ev = {0, md_wall_ms(), "", "strategy_stored", "", "{}"};
    char message[200];
    int rc;

    if (r->remove) {
        rc = md_store_tx_strategy_delete(tx, r->name, err);
        if (rc == MD_ENOTFOUND)
            return md_err_set(err, MD_ENOTFOUND, "no strategy named '%s'", r->name);
        ev.kind = "strategy_removed";
    } else {
        rc = md_store_tx_strategy_put(tx, r->name, r->text, err);
    }
    if (rc != MD_OK)
        return rc;
    (void)snprintf(message, sizeof(message), "rollout strategy '%.100s' %s", r->name,
                   r->remove ? "removed" : "stored");
    ev.message = message;
    rc = md_store_tx_event_add(tx, &ev, NULL, err);
    (void)md_buf_puts(&r->out, "{\"name\":");
    (void)md_buf_json_str(&r->out, r->name, strlen(r->name));
    if (r->remove)
        (void)md_buf_puts(&r->out, ",\"removed\":true}");
    else
        (void)md_buf_printf(&r->out, ",\"strategy\":%s}", r->text);
    return rc;
}

/* [A-Za-z][A-Za-z0-9_.-]*, at most 63. */
static bool name_ok(const char *s)
{
    size_t i;

    if (!((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return false;
    for (i = 1; s[i] != '\0'; i++) {
        char c = s[i];

        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return i < 64;
}

void md_strategies_api_put(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    char *text = NULL;

    if (resp->resume == NULL) {
        struct md_rollout_strategy s;
        struct md_buf b;
        struct md_err err;

        if (!name_ok(rt->name)) {
            md_api_errorf(resp, MD_EINVAL,
                          "name: '%.64s' is not a strategy name ([A-Za-z][A-Za-z0-9_.-]*, at "
                          "most 63 characters)",
                          rt->name);
            return;
        }
        if (md_rollout_strategy_parse(req->body, req->body_len, &s, &err) != MD_OK ||
            md_rollout_strategy_check_signals(&s, api->signals, "", &err) != MD_OK) {
            md_api_error(resp, &err);
            return;
        }
        md_buf_init(&b, (size_t)1 << 20);
        if (md_rollout_strategy_format(&s, &b) != MD_OK || md_buf_putc(&b, '\0') != MD_OK) {
            md_buf_release(&b);
            md_api_errorf(resp, MD_EINTERNAL, "strategy too long");
            return;
        }
        text = md_buf_detach(&b, NULL);
        md_buf_release(&b);
    }
    store_job(api, req, resp, run_strategy_put, NULL, rt->name, 0, text, false, 200);
}

void md_strategies_api_delete(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                              struct md_api_resp *resp)
{
    store_job(api, req, resp, run_strategy_put, NULL, rt->name, 0, NULL, true, 200);
}
