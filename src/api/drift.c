/* SPDX-License-Identifier: MIT */
/*
 * drift.c: GET /api/v1/models/{m}/drift?version=&window=&histograms=, a
 * version's live window compared with its reference profile (with the bins
 * compared when histograms is true). The figures and their JSON
 * are serve/drift_feed.c's and watch/drift.c's; this file reads the query
 * and answers.
 */
#include "api/handlers.h"
#include "serve/drift_feed.h"

#include <errno.h>

/* "300", "300s", "15m", "1h" -> milliseconds; false when it is none of these. */
static bool parse_window(const char *s, int64_t *ms)
{
    char *end;
    long long v;
    int64_t unit = 1000;

    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || v <= 0 || v > MD_DRIFT_WINDOW_MAX_S)
        return false;
    if (*end == 'm')
        unit = (int64_t)60 * 1000;
    else if (*end == 'h')
        unit = (int64_t)3600 * 1000;
    else if (*end != 's' && *end != '\0')
        return false;
    if (*end != '\0' && end[1] != '\0')
        return false;
    *ms = (int64_t)v * unit;
    return *ms <= (int64_t)MD_DRIFT_WINDOW_MAX_S * 1000;
}

void md_drift_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                      struct md_api_resp *resp)
{
    const char *version = req->query != NULL ? req->query(req->conn, "version") : NULL;
    const char *window = req->query != NULL ? req->query(req->conn, "window") : NULL;
    struct md_err err = {0};
    int64_t window_ms = 0;
    bool histograms = false;
    int rc;

    if (window != NULL && !parse_window(window, &window_ms)) {
        md_api_errorf(resp, MD_EINVAL,
                      "window: '%.40s' is not a duration of 1 s to 24 h (300s, 15m, 1h)", window);
        return;
    }
    if (version != NULL && version[0] == '\0') {
        md_api_errorf(resp, MD_EINVAL,
                      "version: empty (a version number, or leave it out for "
                      "the champion)");
        return;
    }
    if (md_api_query_bool(req, "histograms", &histograms, &err) != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    rc = md_drift_json(api->repo, rt->model, version, window_ms,
                       histograms ? MD_DRIFT_JSON_HISTOGRAMS : 0, resp->body, &err);
    if (rc != MD_OK && err.code != MD_OK) { /* refused: unknown model or version, ... */
        md_api_error(resp, &err);
        return;
    }
    md_api_finish(resp, rc); /* the body's own failure (too large) is a 500 */
}
