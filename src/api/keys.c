/* SPDX-License-Identifier: MIT */
/*
 * keys.c: the data keys of encryption at rest through the API. POST
 * /api/v1/keys/rotate starts resealing every stored value under the current
 * key of --data-key-file (the store does it in the background, a small batch
 * at a time); GET /api/v1/keys/rotate says how far it is.
 */
#include "api/api.h"
#include "api/handlers.h"
#include "util/buf.h"

static const char *state_name(enum md_rotation_state s)
{
    switch (s) {
    case MD_ROTATION_RUNNING:
        return "running";
    case MD_ROTATION_DONE:
        return "done";
    case MD_ROTATION_FAILED:
        return "failed";
    case MD_ROTATION_NONE:
        break;
    }
    return "none";
}

static void put_rotation(struct md_buf *b, const struct md_store_rotation *r)
{
    md_buf_printf(b,
                  "{\"state\":\"%s\",\"key_id\":\"%s\",\"rows_total\":%lld,\"rows_done\":%lld,"
                  "\"values_resealed\":%lld,\"started_ms\":%lld,\"ended_ms\":%lld,\"error\":",
                  state_name(r->state), r->key_id, (long long)r->rows_total,
                  (long long)r->rows_done, (long long)r->values_resealed, (long long)r->started_ms,
                  (long long)r->ended_ms);
    if (r->state == MD_ROTATION_FAILED)
        md_buf_json_str(b, r->error, strlen(r->error));
    else
        md_buf_puts(b, "null");
    md_buf_putc(b, '}');
}

/* Answers with the rotation fn starts or reads (status ok_status), or its error. */
static void answer_rotation(struct md_api *api, struct md_api_resp *resp,
                            int (*fn)(struct md_store *store, struct md_store_rotation *r,
                                      struct md_err *err),
                            int ok_status)
{
    struct md_store_rotation r;
    struct md_err err;

    md_err_clear(&err);
    if (api->store == NULL) {
        md_api_error_msg(resp, MD_EUNAVAIL, "modeld runs without a store (--data)");
        return;
    }
    if (fn(api->store, &r, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    resp->status = ok_status;
    put_rotation(resp->body, &r);
    md_api_finish(resp, md_buf_error(resp->body));
}

void md_keys_api_rotate(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    MD_UNUSED(rt);
    MD_UNUSED(req);
    answer_rotation(api, resp, md_store_rotate_start, 202);
}

void md_keys_api_progress(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                          struct md_api_resp *resp)
{
    MD_UNUSED(rt);
    MD_UNUSED(req);
    answer_rotation(api, resp, md_store_rotate_progress, 200);
}
