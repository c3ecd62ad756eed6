/* SPDX-License-Identifier: MIT */
/*
 * auth.c: the anonymous principal and the permission check every routed
 * request passes. No credentials are read yet: what the anonymous principal
 * may do depends on the listener alone (auth.h). Deciding it from the
 * listening address rather than each peer's is deliberate: a proxy on the
 * same host makes every peer look local, while the listener is what the
 * operator chose to expose, and it is known once, at start, so a request
 * pays nothing for it.
 */
#include "api/auth.h"

#include <string.h>

/* Anonymous requests where everything is allowed (loopback, --insecure, tests). */
static const struct md_principal anyone_all = {"anonymous", MD_PERM_ALL, true};
/* Anonymous requests on a listener others can reach. */
static const struct md_principal anyone_limited = {
    "anonymous", MD_PERM_STATUS | MD_PERM_READ | MD_PERM_PREDICT | MD_PERM_FEEDBACK, true};

void md_auth_init(struct md_auth *a, bool loopback, bool insecure, const char *listen)
{
    a->read_only = !loopback && !insecure;
    a->listen = listen;
}

const struct md_principal *md_auth_principal(const struct md_auth *a, const struct md_api_req *req)
{
    MD_UNUSED(req);
    return a->read_only ? &anyone_limited : &anyone_all;
}

int md_auth_check(const struct md_auth *a, const struct md_principal *p, unsigned perm,
                  struct md_err *err)
{
    if (MD_LIKELY((p->perms & perm) == perm && perm != 0))
        return MD_OK;
    if (p == &anyone_limited)
        return md_err_set(err, MD_EPERM,
                          "anonymous requests may not change the server's state on a "
                          "non-loopback listener (%s): listen on a loopback address, or start "
                          "modeld with --insecure to allow them",
                          a->listen != NULL ? a->listen : "?");
    return md_err_set(err, MD_EPERM, "principal '%s' lacks the permission '%s'", p->name,
                      md_perm_name(perm));
}

bool md_auth_may_use(const struct md_principal *p, const char *model)
{
    MD_UNUSED(model);
    return p != NULL && p->all_models;
}

const char *md_perm_name(unsigned perm)
{
    static const char *const names[] = {"status", "read", "predict", "feedback",
                                        "review", "data", "deploy",  "admin"};

    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++)
        if (perm == 1u << i)
            return names[i];
    return "?";
}

/* Each role's permissions, by enum md_role; docs/security.md is this table. */
static const struct {
    const char *name;
    unsigned perms;
} roles[MD_ROLE_COUNT + 1] = {
    [MD_ROLE_VIEWER] = {"viewer", MD_PERM_STATUS | MD_PERM_READ},
    [MD_ROLE_PREDICTOR] = {"predictor", MD_PERM_STATUS | MD_PERM_PREDICT | MD_PERM_FEEDBACK},
    [MD_ROLE_REVIEWER] = {"reviewer",
                          MD_PERM_STATUS | MD_PERM_READ | MD_PERM_REVIEW | MD_PERM_FEEDBACK},
    [MD_ROLE_DEPLOYER] = {"deployer",
                          MD_PERM_STATUS | MD_PERM_READ | MD_PERM_DATA | MD_PERM_DEPLOY},
    [MD_ROLE_ADMIN] = {"admin", MD_PERM_ALL},
};

unsigned md_role_perms(enum md_role role)
{
    return role >= MD_ROLE_VIEWER && role <= MD_ROLE_ADMIN ? roles[role].perms : 0;
}

const char *md_role_name(enum md_role role)
{
    return role >= MD_ROLE_VIEWER && role <= MD_ROLE_ADMIN ? roles[role].name : "?";
}

enum md_role md_role_parse(const char *name)
{
    for (int r = MD_ROLE_VIEWER; name != NULL && r <= MD_ROLE_ADMIN; r++)
        if (strcmp(roles[r].name, name) == 0)
            return (enum md_role)r;
    return 0;
}

const char *md_scope_name(enum md_scope scope)
{
    switch (scope) {
    case MD_SCOPE_NONE:
        return "none";
    case MD_SCOPE_PATH_MODEL:
        return "path-model";
    case MD_SCOPE_BODY_ITEMS:
        return "body-items";
    case MD_SCOPE_LISTING:
        return "listing";
    default:
        return "?";
    }
}
