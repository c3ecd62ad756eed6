/* SPDX-License-Identifier: MIT */
/*
 * router.h: the route table (every endpoint modeld answers, one entry each)
 * and the one function that dispatches a request through it: match the
 * method and path, take the request's principal, check the permission the
 * route needs and the model its path names, run the handler. A path that
 * matches no route gets 404 (TF Serving's /v1: 400 "Malformed request"); a
 * path whose route wants another method, 405 with Allow.
 */
#ifndef MD_NET_ROUTER_H
#define MD_NET_ROUTER_H

#include "api/api.h"

/* One endpoint: a row of the route table (router.c). */
struct md_endpoint {
    const char *method;        /* "GET", "POST", "PUT" or "PATCH" */
    const char *path;          /* its pattern: the grammar atop router.c */
    enum md_api_family family; /* where modeld_http_requests_total counts it */
    unsigned perm;             /* the enum md_perm bit a principal needs */
    enum md_scope scope;       /* where the models it touches come from */
    /* Writes the whole answer into resp; rt holds the names the path matched. */
    void (*handler)(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                    struct md_api_resp *resp);
    /* NULL: the body is gathered whole (up to --max-body-bytes) before the
     * handler runs; else it streams to this sink (api/api.h), up to
     * --max-upload-bytes, and the permission check runs at the head. */
    const struct md_api_sink *sink;
};

/*
 * A request's route, found once when its head arrives (md_router_find), so
 * that the HTTP layer knows before the body whether it streams, and run
 * when the body is in (md_router_run). Its names are in the arena given to
 * md_router_find.
 */
struct md_router_hit {
    const struct md_endpoint *endpoint; /* the matched row, or NULL */
    int id;                             /* md_router_match's route id */
    struct md_route rt;                 /* the names the path holds */
    enum md_api_family family;          /* the path's family */
    const char *allow;                  /* the Allow of a 405 */
};

/* Routes and runs one request; resp->status and body are set on return. */
void md_router_dispatch(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);

/* md_router_dispatch in two steps: the match alone, into hit (names in a). */
void md_router_find(const char *method, const char *path, struct md_arena *a,
                    struct md_router_hit *hit);

/*
 * The permission check of the route hit matched (which must be one:
 * hit->endpoint not NULL): the principal, its permission, the path's model.
 * MD_OK with req->principal set, or the refusal written into resp and its
 * code returned. A request whose principal is set already (the HTTP layer
 * keeps it from the first call) is admitted as it was. md_router_run makes
 * it too; the HTTP layer makes it at the head of a streaming route, before
 * any of its body is taken.
 */
int md_router_admit(struct md_api *api, const struct md_router_hit *hit, struct md_api_req *req,
                    struct md_api_resp *resp);

/* Runs the request hit matched: the answer to no route, or the check and the handler. */
void md_router_run(struct md_api *api, const struct md_router_hit *hit, struct md_api_req *req,
                   struct md_api_resp *resp);

/*
 * Matches a method and path (exposed for the fuzz target and tests): writes
 * into *route_id the endpoint's number (its index in md_router_endpoints
 * plus one), or 0 for no route, -1 for a route that wants another method
 * (*allow names it), -2 for a malformed TF Serving path, -3 for a TF
 * Serving path without a model name; the names the path holds into rt, in
 * arena a (for a route that matched, whatever the method); its family into
 * *family. Returns MD_OK.
 */
int md_router_match(const char *method, const char *path, struct md_arena *a, int *route_id,
                    struct md_route *rt, enum md_api_family *family, const char **allow);

/* The route table: *n entries, static. */
const struct md_endpoint *md_router_endpoints(size_t *n);

/* Writes the table, a line per endpoint: METHOD PATH PERMISSION SCOPE (modeld --routes). */
void md_router_print(FILE *out);

/*
 * Writes the role matrix, a Markdown table of every endpoint (METHOD, PATH,
 * PERMISSION) by role (viewer, predictor, reviewer, deployer, admin: "yes"
 * or "-"), from the route table and md_role_perms (modeld --role-matrix;
 * docs/security.md holds it, t5000 checks both against the server).
 */
void md_router_print_matrix(FILE *out);

/*
 * From now on, appends "METHOD PATH\n" (the route's pattern) to the file at
 * path the first time each route's handler runs: how the integration suite
 * checks that every route is called by some test (MODELD_ROUTE_LOG). A
 * NULL path stops it. Call before serving (not thread-safe); MD_EIO when
 * the file cannot be opened.
 */
int md_router_log_to(const char *path, struct md_err *err) MD_MUST_CHECK;

#endif
