/* SPDX-License-Identifier: MIT */
/*
 * upload_accept.c: md_upload_accept (upload.h), the registration of an
 * uploaded version. The staged upload becomes a command control applies
 * (md_repo_register_upload: the contract checked against the champion's,
 * the artifact loaded with its engine, moved into the artifact store, the
 * version numbered and stored with its event); the request parks until
 * then and answers 201 with the version, or the refusal's 4xx. The command
 * takes the temporary file: whatever the outcome, nothing is left behind.
 */
#include "api/upload.h"
#include "util/mem.h"

static char *copy_text(const char *p, size_t n)
{
    char *s;

    if (p == NULL)
        return NULL;
    s = md_xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

void md_upload_accept(struct md_api *api, const char *model, struct md_upload *u,
                      struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_upload_change *ch = NULL;

    if (resp->resume == NULL) {
        if (api->commands == NULL) {
            md_upload_discard(u);
            md_api_errorf(resp, MD_EUNAVAIL, "no control loop to register versions");
            return;
        }
        ch = md_xcalloc(1, sizeof(*ch));
        ch->path = md_upload_detach_path(u);
        (void)snprintf(ch->sha256, sizeof(ch->sha256), "%s", u->sha256);
        ch->size = u->size;
        ch->metadata = copy_text(u->metadata, u->metadata_len);
        ch->model_yaml = copy_text(u->model_yaml, u->model_yaml_len);
        ch->model_yaml_len = u->model_yaml_len;
        ch->profile = copy_text(u->profile, u->profile_len);
        ch->profile_len = u->profile_len;
    }
    md_api_command(api, MD_COMMAND_UPLOAD, model, ch, md_upload_change_free, 201, req, resp);
}
