/* SPDX-License-Identifier: MIT */
/*
 * upload_accept.c: md_upload_accept (upload.h), the registration of an
 * uploaded version: loading it with its engine, checking its contract,
 * storing it. NOT AVAILABLE YET: until registration lands, this file
 * refuses every upload that passed the intake with 501, after removing its
 * temporary file. Registration replaces this whole file; the intake
 * (upload.c) and its tests stay as they are.
 */
#include "api/upload.h"

void md_upload_accept(struct md_api *api, const char *model, struct md_upload *u,
                      struct md_api_req *req, struct md_api_resp *resp)
{
    MD_UNUSED(api);
    MD_UNUSED(model);
    MD_UNUSED(req);
    md_upload_discard(u);
    md_api_errorf(resp, MD_EUNSUPPORTED, "registration of uploaded versions is not available yet");
}
