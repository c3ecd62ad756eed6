/* SPDX-License-Identifier: MIT */
/*
 * ab.h: A/B comparisons through the API (api/ab.c): the handler of GET
 * /api/v1/models/{m}/ab, and how a model's A/B design (its control route,
 * the key its routes were sticky by) is read from its traffic policy, for
 * the handler and for the signals of watch/ab.h.
 */
#ifndef MD_API_AB_H
#define MD_API_AB_H

#include "api/api.h"
#include "watch/ab.h"

/*
 * model's design from its published traffic policy (repo is a struct
 * md_repo, the void of md_ab_design_fn): control "stable" when a route has
 * that name, else the first route; unit_key the `keys:` field a sticky
 * policy hashes, header the header of one sticky by header; all empty
 * without a policy. MD_ENOTFOUND "unknown model 'm'". Lock-free.
 */
int md_ab_api_design(void *repo, const char *model, struct md_ab_design *out,
                     struct md_err *err) MD_MUST_CHECK;

/* GET /api/v1/models/{m}/ab?metric=&positive=&min_effect=&window= (docs/api.md). */
void md_ab_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                   struct md_api_resp *resp);

#endif
