/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c: md_api_predict, the one driver of every inference endpoint:
 * the protocol's decode, the pipeline of serve/predict.c, parking and
 * resuming for the batcher, the error answer, the statistics, the
 * protocol's encode and the completion hook. The protocols' adapters (api/
 * v2.c, api/tfs.c) only decode and encode.
 */
#include "api/pipeline.h"

/* One request's prediction and its protocol state: what survives a park. */
struct call {
    struct md_predict p;
    bool observed; /* an observer was attached when the request began: tell it */
    bool retried;  /* a candidate failed it: the champion answers */
    union {
        max_align_t align;
        unsigned char bytes[MD_API_PREDICT_STATE];
    } state;
};

/* resp->after: the story, once the answer is queued, then the version goes. */
static void after(void *ctx, int status)
{
    struct call *c = ctx;

    md_predict_tell(&c->p, status);
    md_predict_release(&c->p);
}

/* Offers copies of an answered prediction to its shadows and its mirror:
 * queued for the shadow executor, never waited for (serve/shadow.h). */
static void offer_copies(struct md_api *api, const struct md_predict *p, int status)
{
    struct md_predict_story s;
    size_t i;

    if (api->shadow == NULL)
        return;
    md_predict_story_of(p, status, &s);
    for (i = 0; i < p->copies.n_shadows; i++)
        (void)md_shadow_offer(api->shadow, &s, p->copies.shadows[i], MD_SHADOW_COPY);
    if (p->copies.mirror != NULL)
        (void)md_shadow_offer(api->shadow, &s, p->copies.mirror, MD_SHADOW_MIRROR);
}

/* md_api_park's drop: the client left before its parked answer. */
static void drop(void *state)
{
    struct call *c = state;
    int st = md_predict_finish(&c->p);

    md_predict_account(&c->p, st);
    if (c->observed)
        md_predict_tell(&c->p, 0);
    md_predict_release(&c->p);
}

/* Decodes and runs the request: the first call's half. */
static int start(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                 struct call *c, const struct md_api_predictor *pr)
{
    bool to_champion = c->retried;

    struct md_predict *p = &c->p;
    int decoded;

    p->model = rt->model;
    p->version = rt->version;
    p->label = rt->label;
    p->route = pr->route;
    p->request_id = req->request_id;
    p->start_ns = req->start_ns;
    p->timeout_us = 0;
    p->header = req->header;
    p->conn = req->conn;
    p->inputs = NULL;
    p->n_inputs = 0;
    p->fields.shared = NULL;
    p->fields.rows = NULL;
    p->fields.columns = NULL;
    p->bind = NULL;
    p->bind_ctx = NULL;
    p->to_champion = to_champion;
    md_predict_init(p);
    decoded = pr->decode(c->state.bytes, p, req, &p->err);
    return md_predict_run(p, api->repo, decoded, req->arena, req->wake, req->wake_ctx);
}

/*
 * Whether a failure of c is retried on the champion: a 5xx of the engine
 * step (an engine failure, a full queue, a deadline) on a policy route that
 * is not the champion's, once. The candidate is counted with its failure.
 */
static bool retry_on_champion(struct md_api *api, struct call *c, int st)
{
    struct md_version *champion = NULL;
    struct md_err err;
    bool retry;

    if (c->retried || st == MD_OK || c->p.stage != MD_PREDICT_INFER || c->p.v == NULL ||
        md_api_status(st) < 500 || strcmp(c->p.route_name, MD_ROUTE_DIRECT) == 0 ||
        strcmp(c->p.route_name, MD_ROUTE_DEFAULT) == 0)
        return false;
    if (md_repo_acquire(api->repo, c->p.model, NULL, &champion, &err) != MD_OK)
        return false;
    retry = champion != c->p.v;
    md_version_unref(champion);
    return retry;
}

void md_api_predict(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                    struct md_api_resp *resp, const struct md_api_predictor *pr)
{
    struct call local;
    struct call *c = resp->resume;
    int st;

    if (c != NULL) {
        /* Called again after the wake: the batch has run. */
        st = md_predict_finish(&c->p);
    } else {
        bool observed = md_predict_observed();

        /* What may park, or be told after the answer, lives in the arena;
         * the rest on the stack. */
        c = &local;
        if (req->wake != NULL || observed) {
            c = md_arena_alloc(req->arena, sizeof(*c));
            if (c == NULL) {
                md_api_errorf(resp, MD_ETOOBIG, "request too large");
                return;
            }
        }
        c->observed = observed;
        c->retried = false;
        st = start(api, rt, req, c, pr);
        if (st == MD_EPENDING) {
            md_api_park(resp, c, drop);
            return; /* called again when its batch has run */
        }
    }
    if (retry_on_champion(api, c, st)) {
        md_predict_account(&c->p, st);
        md_predict_release(&c->p);
        c->retried = true;
        st = start(api, rt, req, c, pr);
        if (st == MD_EPENDING) {
            md_api_park(resp, c, drop);
            return;
        }
    }
    if (c->p.v != NULL) {
        /* A route's name is shorter than the buffer (MD_POLICY_NAME_MAX). */
        size_t n = strlen(c->p.route_name);

        if (n >= sizeof(resp->route))
            n = sizeof(resp->route) - 1;
        memcpy(resp->version, c->p.v->version_str, sizeof(resp->version)); /* same size */
        memcpy(resp->route, c->p.route_name, n);
        resp->route[n] = '\0';
    }
    if (st == MD_OK && pr->encode(c->state.bytes, &c->p, req, resp) != MD_OK) {
        st = md_err_set(&c->p.err, MD_EINTERNAL, "response too large");
        md_api_error(resp, &c->p.err);
    } else if (st != MD_OK) {
        md_api_error(resp, &c->p.err);
    }
    md_predict_account(&c->p, st);
    if (MD_UNLIKELY(c->p.copies.n_shadows > 0 || c->p.copies.mirror != NULL))
        offer_copies(api, &c->p, resp->status);
    if (c->observed) {
        resp->after = after;
        resp->after_ctx = c;
        return;
    }
    md_predict_release(&c->p);
}
