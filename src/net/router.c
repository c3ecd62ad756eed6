/* SPDX-License-Identifier: MIT */
/*
 * router.c: the path grammar of every API modeld speaks.
 *
 *   /v2, /v2/health/{live,ready}, /v2/models/stats,
 *   /v2/models/{m}[/versions/{v}][/ready|/infer|/config|/stats],
 *   /v2/repository/index, /v2/repository/models/{m}/{load,unload}
 *   /v1/models/{m}[/versions/{n}|/labels/{l}][:predict|:classify|:regress|/metadata]
 *   /metrics
 *   /api/v1/settings[/{name}]
 *
 * Names are [^/]+ after percent-decoding; V2 versions are [0-9]+ (anything
 * else cannot name a version, as in Triton: 404). TF Serving answers a
 * malformed /v1 path with 400 "Malformed request", as TF Serving does. The
 * statuses come from api/'s table: an unknown path is MD_ENOTFOUND, a
 * malformed /v1 one MD_EINVAL, a wrong method MD_EMETHOD.
 */
#include "net/router.h"
#include "api/handlers.h"

enum route {
    R_NONE = 0,
    R_METHOD = -1,
    R_V1_MALFORMED = -2,
    R_V1_NONAME = -3,
    R_SERVER_META = 1,
    R_LIVE,
    R_READY,
    R_MODEL_META,
    R_MODEL_READY,
    R_MODEL_INFER,
    R_MODEL_CONFIG,
    R_MODEL_STATS,
    R_ALL_STATS,
    R_REPO_INDEX,
    R_REPO_LOAD,
    R_REPO_UNLOAD,
    R_TFS_STATUS,
    R_TFS_META,
    R_TFS_PREDICT,
    R_TFS_CLASSIFY,
    R_TFS_REGRESS,
    R_METRICS,
    R_SETTINGS,
    R_SETTING,
    R_SETTING_PUT
};

#define MAX_SEGS 8

/* Splits path (after a prefix) on '/', into the arena. Empty segments are
 * refused (a "//" or a trailing "/" matches nothing). Returns the count or -1. */
static int split(const char *p, struct md_arena *a, const char **segs)
{
    int n = 0;

    if (*p == '\0')
        return 0;
    if (*p != '/')
        return -1;
    p++;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len == 0 || n == MAX_SEGS)
            return -1;
        segs[n] = md_arena_strndup(a, p, len);
        if (segs[n] == NULL)
            return -1;
        n++;
        if (end == NULL)
            return n;
        p = end + 1;
    }
}

static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int want(const char *method, const char *m, int route, const char **allow)
{
    if (strcmp(method, m) == 0)
        return route;
    *allow = m;
    return R_METHOD;
}

static int match_v2_model_tail(const char *method, const char *tail, const char **allow)
{
    if (tail == NULL)
        return want(method, "GET", R_MODEL_META, allow);
    if (strcmp(tail, "ready") == 0)
        return want(method, "GET", R_MODEL_READY, allow);
    if (strcmp(tail, "infer") == 0)
        return want(method, "POST", R_MODEL_INFER, allow);
    if (strcmp(tail, "config") == 0)
        return want(method, "GET", R_MODEL_CONFIG, allow);
    if (strcmp(tail, "stats") == 0)
        return want(method, "GET", R_MODEL_STATS, allow);
    return R_NONE;
}

static int match_v2(const char *method, const char *rest, struct md_arena *a, struct md_route *rt,
                    const char **allow)
{
    const char *s[MAX_SEGS];
    int n = split(rest, a, s);

    if (n < 0)
        return R_NONE;
    if (n == 0)
        return want(method, "GET", R_SERVER_META, allow);
    if (n == 2 && strcmp(s[0], "health") == 0) {
        if (strcmp(s[1], "live") == 0)
            return want(method, "GET", R_LIVE, allow);
        if (strcmp(s[1], "ready") == 0)
            return want(method, "GET", R_READY, allow);
        return R_NONE;
    }
    if (strcmp(s[0], "repository") == 0) {
        if (n == 2 && strcmp(s[1], "index") == 0)
            return want(method, "POST", R_REPO_INDEX, allow);
        if (n == 4 && strcmp(s[1], "models") == 0) {
            rt->model = s[2];
            if (strcmp(s[3], "load") == 0)
                return want(method, "POST", R_REPO_LOAD, allow);
            if (strcmp(s[3], "unload") == 0)
                return want(method, "POST", R_REPO_UNLOAD, allow);
        }
        return R_NONE;
    }
    if (strcmp(s[0], "models") != 0 || n < 2)
        return R_NONE;
    if (n == 2 && strcmp(s[1], "stats") == 0)
        return want(method, "GET", R_ALL_STATS, allow);
    rt->model = s[1];
    if (n == 2)
        return match_v2_model_tail(method, NULL, allow);
    if (n == 3)
        return match_v2_model_tail(method, s[2], allow);
    if (strcmp(s[2], "versions") != 0 || !all_digits(s[3]) || n > 5)
        return R_NONE;
    rt->version = s[3];
    return match_v2_model_tail(method, n == 5 ? s[4] : NULL, allow);
}

/* /v1/models/<rest>: TF Serving's grammar. */
static int match_v1(const char *method, const char *rest, struct md_arena *a, struct md_route *rt)
{
    char *path;
    char *verb = NULL;
    char *colon;
    const char *s[MAX_SEGS];
    size_t len = strlen(rest);
    int kind = R_TFS_STATUS;
    int n;
    bool post = strcmp(method, "POST") == 0;
    bool get = strcmp(method, "GET") == 0;

    if (len == 0)
        return R_V1_NONAME;
    path = md_arena_strndup(a, rest, len);
    if (path == NULL)
        return R_V1_MALFORMED;
    if (len > 9 && strcmp(path + len - 9, "/metadata") == 0) {
        path[len - 9] = '\0';
        kind = R_TFS_META;
    } else {
        colon = strrchr(path, ':');
        if (colon != NULL && strchr(colon, '/') == NULL) {
            *colon = '\0';
            verb = colon + 1;
            if (strcmp(verb, "predict") == 0)
                kind = R_TFS_PREDICT;
            else if (strcmp(verb, "classify") == 0)
                kind = R_TFS_CLASSIFY;
            else if (strcmp(verb, "regress") == 0)
                kind = R_TFS_REGRESS;
            else
                return R_V1_MALFORMED;
        }
    }
    /* Re-split "name[/versions/N|/labels/L]" with a leading '/'. */
    {
        char *p = md_arena_alloc(a, strlen(path) + 2);

        if (p == NULL)
            return R_V1_MALFORMED;
        p[0] = '/';
        memcpy(p + 1, path, strlen(path) + 1);
        n = split(p, a, s);
    }
    if (n != 1 && n != 3)
        return R_V1_MALFORMED;
    if (strchr(s[0], ':') != NULL)
        return R_V1_MALFORMED;
    rt->model = s[0];
    if (n == 3) {
        if (strcmp(s[1], "versions") == 0 && all_digits(s[2]))
            rt->version = s[2];
        else if (strcmp(s[1], "labels") == 0)
            rt->label = s[2];
        else
            return R_V1_MALFORMED;
    }
    if (kind == R_TFS_STATUS || kind == R_TFS_META)
        return get ? kind : R_V1_MALFORMED;
    return post ? kind : R_V1_MALFORMED;
}

/* /api/v1/<rest>: modeld's management API. */
static int match_api(const char *method, const char *rest, struct md_arena *a, struct md_route *rt,
                     const char **allow)
{
    const char *s[MAX_SEGS];
    int n = split(rest, a, s);

    if (n < 1 || n > 2 || strcmp(s[0], "settings") != 0)
        return R_NONE;
    if (n == 1)
        return want(method, "GET", R_SETTINGS, allow);
    rt->setting = s[1];
    /* PUT and PATCH are answered (409 or 405) by the handler, which knows why. */
    if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)
        return R_SETTING_PUT;
    return want(method, "GET", R_SETTING, allow);
}

int md_router_match(const char *method, const char *path, struct md_arena *a, int *route_id,
                    struct md_route *rt, enum md_api_family *family, const char **allow)
{
    memset(rt, 0, sizeof(*rt));
    *allow = NULL;
    *family = MD_API_OTHER;
    *route_id = R_NONE;
    if (strcmp(path, "/metrics") == 0) {
        *family = MD_API_METRICS;
        *route_id = want(method, "GET", R_METRICS, allow);
    } else if (strncmp(path, "/v2", 3) == 0 && (path[3] == '\0' || path[3] == '/')) {
        *family = strncmp(path, "/v2/repository/", 15) == 0 ? MD_API_REPOSITORY : MD_API_V2;
        *route_id = match_v2(method, path + 3, a, rt, allow);
    } else if (strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0) {
        *family = MD_API_V1;
        if (strncmp(path, "/v1/models/", 11) == 0)
            *route_id = match_v1(method, path + 11, a, rt);
        else if (strcmp(path, "/v1/models") == 0)
            *route_id = R_V1_NONAME;
        else
            *route_id = R_V1_MALFORMED;
    } else if (strncmp(path, "/api/v1/", 8) == 0) {
        *family = MD_API_MANAGEMENT;
        *route_id = match_api(method, path + 7, a, rt, allow);
    }
    return MD_OK;
}

void md_router_dispatch(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_route rt;
    const char *allow;
    int id;

    md_router_match(req->method, req->path, req->arena, &id, &rt, &resp->family, &allow);
    resp->model = rt.model;
    switch (id) {
    case R_SERVER_META:
        md_v2_server_metadata(api, req, resp);
        break;
    case R_LIVE:
        md_v2_live(api, req, resp);
        break;
    case R_READY:
        md_v2_ready(api, req, resp);
        break;
    case R_MODEL_META:
        md_v2_model_metadata(api, &rt, req, resp);
        break;
    case R_MODEL_READY:
        md_v2_model_ready(api, &rt, req, resp);
        break;
    case R_MODEL_INFER:
        md_v2_infer(api, &rt, req, resp);
        break;
    case R_MODEL_CONFIG:
        md_v2_model_config(api, &rt, req, resp);
        break;
    case R_MODEL_STATS:
    case R_ALL_STATS:
        md_v2_model_stats(api, &rt, req, resp);
        break;
    case R_REPO_INDEX:
        md_repo_api_index(api, req, resp);
        break;
    case R_REPO_LOAD:
        md_repo_api_load(api, &rt, req, resp);
        break;
    case R_REPO_UNLOAD:
        md_repo_api_unload(api, &rt, req, resp);
        break;
    case R_TFS_STATUS:
        md_tfs_status(api, &rt, req, resp);
        break;
    case R_TFS_META:
        md_tfs_metadata(api, &rt, req, resp);
        break;
    case R_TFS_PREDICT:
        md_tfs_predict(api, &rt, req, resp);
        break;
    case R_TFS_CLASSIFY:
    case R_TFS_REGRESS:
        md_api_error_msg(resp, MD_EUNSUPPORTED,
                         "classify and regress are not supported; use :predict");
        break;
    case R_METRICS:
        md_prom_metrics(api, req, resp);
        break;
    case R_SETTINGS:
        md_settings_api_list(api, req, resp);
        break;
    case R_SETTING:
        md_settings_api_get(api, &rt, req, resp);
        break;
    case R_SETTING_PUT:
        md_settings_api_put(api, &rt, req, resp);
        break;
    case R_V1_NONAME:
        md_api_error_msg(resp, MD_EINVAL, "Missing model name in request.");
        break;
    case R_V1_MALFORMED: {
        char msg[200];

        /* A long path is cut short: the message only shows it. */
        (void)snprintf(msg, sizeof(msg), "Malformed request: %s %s", req->method, req->path);
        md_api_error_msg(resp, MD_EINVAL, msg);
        break;
    }
    case R_METHOD:
        md_api_error_msg(resp, MD_EMETHOD, "Method Not Allowed");
        resp->allow = allow;
        break;
    default:
        md_api_error_msg(resp, MD_ENOTFOUND, "Not Found");
        break;
    }
}
