/* SPDX-License-Identifier: MIT */
/*
 * trainings.c: the management API of training runs, under /api/v1/.
 *
 * Asking for a run is a command control applies (the request parks until
 * the run is stored as queued); reading runs is a store job on the store's
 * thread, the request parked meanwhile: no HTTP thread waits on the disk.
 */
#include "api/handlers.h"
#include "store/store.h"
#include "util/mem.h"

#include <jansson.h>

#define LIST_MAX 1000 /* runs one listing answers at most */

/* False, with the 404 answered, when the path's model is not one the repository lists. */
static bool model_known(struct md_api *api, const struct md_route *rt, struct md_api_resp *resp)
{
    if (resp->resume != NULL || md_repo_has_model(api->repo, rt->model))
        return true;
    md_api_errorf(resp, MD_ENOTFOUND, "unknown model '%s'", rt->model);
    return false;
}

/* A stored run as JSON: its row, the duration, spec and result as objects. */
static void put_run(struct md_buf *b, const struct md_store_training *t)
{
    int64_t end = t->finished_ms;

    (void)md_buf_printf(b, "{\"id\":%lld,\"model\":", (long long)t->id);
    (void)md_buf_json_str(b, t->model, strlen(t->model));
    (void)md_buf_puts(b, ",\"trigger\":");
    (void)md_buf_json_str(b, t->trigger, strlen(t->trigger));
    (void)md_buf_puts(b, ",\"state\":");
    (void)md_buf_json_str(b, t->state, strlen(t->state));
    (void)md_buf_printf(
        b,
        ",\"requested_ms\":%lld,\"started_ms\":%lld,\"finished_ms\":%lld,"
        "\"duration_ms\":%lld,\"window\":{\"since_ms\":%lld,\"until_ms\":%lld},"
        "\"rows\":%lld,\"version\":",
        (long long)t->requested_ms, (long long)t->started_ms, (long long)end,
        (long long)(t->started_ms > 0 && end >= t->started_ms ? end - t->started_ms : 0),
        (long long)t->since_ms, (long long)t->until_ms, (long long)t->rows);
    if (t->version > 0)
        (void)md_buf_printf(b, "\"%lld\"", (long long)t->version);
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_printf(b, ",\"spec\":%s,\"result\":%s}", t->spec[0] != '\0' ? t->spec : "{}",
                        t->result[0] != '\0' ? t->result : "{}");
}

struct listing {
    struct md_api_store_read *r;
    size_t n;
    bool other_model;
};

static void list_one(void *ctx, const struct md_store_training *t)
{
    struct listing *l = ctx;

    if (l->n++ > 0)
        (void)md_buf_putc(&l->r->out, ',');
    put_run(&l->r->out, t);
}

static int run_list(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct listing l = {r, 0, false};
    int rc;

    (void)md_buf_puts(&r->out, "{\"model\":");
    (void)md_buf_json_str(&r->out, r->model, strlen(r->model));
    (void)md_buf_puts(&r->out, ",\"trainings\":[");
    rc = md_store_tx_trainings(tx, r->model, (size_t)r->id, list_one, &l, err);
    (void)md_buf_puts(&r->out, "]}");
    return rc;
}

void md_trainings_api_list(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    struct md_api_store_args args = {rt->model, NULL, 100, NULL, false, NULL, NULL};

    if (!model_known(api, rt, resp))
        return;
    if (resp->resume == NULL && req->query != NULL) {
        const char *limit = req->query(req->conn, "limit");

        if (limit != NULL) {
            int64_t n = md_version_number(limit);

            if (n < 1 || n > LIST_MAX) {
                md_api_errorf(resp, MD_EINVAL, "limit: '%.32s' is not a whole number from 1 to %d",
                              limit, LIST_MAX);
                return;
            }
            args.id = n;
        }
    }
    md_api_store_job(api, req, resp, run_list, &args, 200);
}

static void got_one(void *ctx, const struct md_store_training *t)
{
    struct listing *l = ctx;

    if (strcmp(t->model, l->r->model) != 0) {
        l->other_model = true;
        return;
    }
    l->n++;
    put_run(&l->r->out, t);
}

static int run_one(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct listing l = {r, 0, false};
    int rc = md_store_tx_training_get(tx, r->id, got_one, &l, err);

    if (rc == MD_ENOTFOUND || l.other_model)
        return md_err_set(err, MD_ENOTFOUND, "model '%s' has no training %lld", r->model,
                          (long long)r->id);
    return rc;
}

void md_trainings_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp)
{
    int64_t id = md_version_number(rt->id);
    struct md_api_store_args args = {rt->model, NULL, id, NULL, false, NULL, NULL};

    if (!model_known(api, rt, resp))
        return;
    if (resp->resume == NULL && id < 1) {
        md_api_errorf(resp, MD_ENOTFOUND, "model '%s' has no training '%.32s'", rt->model, rt->id);
        return;
    }
    md_api_store_job(api, req, resp, run_one, &args, 200);
}

#define NOTE_MAX 1000 /* bytes of a run's note */

/* The body's fields: only "note", a text of at most NOTE_MAX bytes; else a 400 naming it. */
static bool body_fields_ok(json_t *root, struct md_api_resp *resp)
{
    const char *key;
    json_t *v;

    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "note") != 0) {
            md_api_errorf(resp, MD_EINVAL, "%.64s: unknown field (the body takes \"note\" only)",
                          key);
            return false;
        }
        if (!json_is_string(v) || json_string_length(v) > NOTE_MAX) {
            md_api_errorf(resp, MD_EINVAL, "note: a text of at most %d bytes", NOTE_MAX);
            return false;
        }
    }
    return true;
}

/*
 * POST: a run asked for by hand. The body is empty or a JSON object (a
 * note: {"note": "after the March relabelling"}), kept as the run's
 * details.
 */
void md_trainings_api_start(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct md_retrain_change *ch = NULL;

    if (!model_known(api, rt, resp))
        return;
    if (resp->resume == NULL) {
        ch = md_xcalloc(1, sizeof(*ch));
        if (req->body_len > 0) {
            json_error_t je;
            json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);

            if (!json_is_object(root)) {
                json_decref(root);
                md_retrain_change_free(ch);
                md_api_errorf(resp, MD_EINVAL,
                              "body: not a JSON object (empty, or {\"note\": \"...\"})");
                return;
            }
            if (!body_fields_ok(root, resp)) {
                json_decref(root);
                md_retrain_change_free(ch);
                return;
            }
            ch->details = json_dumps(root, JSON_COMPACT);
            json_decref(root);
        }
    }
    md_api_command(api, MD_COMMAND_RETRAIN, rt->model, ch, md_retrain_change_free, 202, req, resp);
}
