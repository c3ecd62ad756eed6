/* SPDX-License-Identifier: MIT */
/*
 * api_call.h: one request through md_router_dispatch with no HTTP server,
 * for the tests of the route table and of the status table.
 */
#ifndef MD_TESTS_API_CALL_H
#define MD_TESTS_API_CALL_H

#include "api/api.h"
#include "net/router.h"
#include "util/arena.h"
#include "util/buf.h"

#include <string.h>

/* Dispatches method path with api into body (of its own maximum); the
 * answer's status, and its Allow header in *allow. */
static inline int call(struct md_api *api, const char *method, const char *path,
                       struct md_buf *body, const char **allow)
{
    struct md_arena a;
    struct md_api_req req;
    struct md_api_resp resp;

    md_arena_init(&a, 1 << 16);
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = method;
    req.path = path;
    req.body = "";
    req.arena = &a;
    md_buf_reset(body);
    resp.body = body;
    resp.status = 200;
    md_router_dispatch(api, &req, &resp);
    md_arena_release(&a);
    *allow = resp.allow;
    return resp.status;
}

#endif
