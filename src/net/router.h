/* SPDX-License-Identifier: MIT */
/*
 * router.h: maps a method and path to its handler in api/, answering 404 for
 * an unknown path and 405 for a known path with the wrong method.
 */
#ifndef MD_NET_ROUTER_H
#define MD_NET_ROUTER_H

#include "api/api.h"

/* Routes and runs one request; resp->status and body are set on return. */
void md_router_dispatch(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp);

/*
 * Parses a path (exposed for the fuzz target and tests): writes the handler
 * number into *route_id (0 = not found, -1 = wrong method) and names into rt,
 * in arena a.
 */
int md_router_match(const char *method, const char *path, struct md_arena *a, int *route_id,
                    struct md_route *rt, enum md_api_family *family, const char **allow);

#endif
