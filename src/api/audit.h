/* SPDX-License-Identifier: MIT */
/*
 * audit.h: recording a request that changes state in the store's audit
 * chain (store/store.h) before its answer goes out. The router calls it
 * once the handler has answered (or the permission check refused); the
 * answer is kept aside while a store job appends the entry, the request
 * parked meanwhile, and then goes out as it was. The endpoints that list
 * and check the chain are in handlers.h.
 */
#ifndef MD_API_AUDIT_H
#define MD_API_AUDIT_H

#include "api/api.h"

/* What the router knows of a call to record. Borrowed for the call. */
struct md_api_audit_call {
    const char *action;  /* "PUT /api/v1/models/{model}/traffic": method and route pattern */
    const char *target;  /* "model=fraud alias=prod", or NULL */
    const char *subject; /* a subject id from the path, recorded only as its keyed hash */
    bool status_only;    /* the outcome without the error's text, which may quote the
                            body's records (feedback, review answers) */
};

/*
 * Records call with the answer now in resp (its status and error text) and
 * who sent req (req->principal, else the principal the request would have):
 * appends the entry through a store job and parks the request until it is
 * committed (or waits, when the request cannot park); the call after the
 * wake must go to md_api_audit_answer. The answer is not changed: an entry
 * that cannot be stored is logged as an error. Does nothing unless
 * api->audit.
 */
void md_api_audit_record(struct md_api *api, const struct md_api_audit_call *call,
                         struct md_api_req *req, struct md_api_resp *resp);

/*
 * The handler of call parked req (resp->parked): wraps the state it parked
 * with, so that the entry is recorded even when the client leaves before
 * the answer (then with the outcome "unanswered: the client left", from the
 * drop). The call after the wake must go to md_api_audit_unwrap before the
 * handler. Does nothing unless api->audit.
 */
void md_api_audit_wrap(struct md_api *api, const struct md_api_audit_call *call,
                       struct md_api_req *req, struct md_api_resp *resp);

/* Whether resp->resume is a state md_api_audit_wrap wrapped. */
bool md_api_audit_wrapped(const struct md_api_resp *resp);

/* Puts the handler's own state back into resp->resume and resp->drop. */
void md_api_audit_unwrap(struct md_api_resp *resp);

/* Whether resp->resume is the state md_api_audit_record parked with. */
bool md_api_audit_parked(const struct md_api_resp *resp);

/* The call after the wake of a request md_api_audit_record parked: puts the
 * answer kept aside back into resp. */
void md_api_audit_answer(struct md_api_resp *resp);

#endif
