/* SPDX-License-Identifier: MIT */
/*
 * router.c: the route table and the one dispatch through it.
 *
 * A route's path is a pattern: literal text, placeholders that each match
 * one non-empty path segment, and at most one optional group:
 *
 *   {model}, {label}, {setting}   a segment (percent-decoded by then)
 *   {alias}, {name}               a segment
 *   {subject}                     a segment (a subject id), into the route's name
 *   {id}                          a segment of digits
 *   {version}                     a segment of digits, or outside TF Serving
 *                                 an alias ([A-Za-z][A-Za-z0-9_.-]*): anything
 *                                 else cannot name a version (no route)
 *   [/a/{x}|/b/{y}]               one of the alternatives, or nothing
 *   :verb                         TF Serving only (below)
 *
 * A path matches no route when a segment is empty ("//", a trailing "/")
 * or it has more than MAX_SEGS of them after its family's prefix. The first
 * route whose pattern and method match wins, so a literal path comes before
 * a pattern that would also match it (/v2/models/stats before
 * /v2/models/{model}); otherwise the order only decides how soon a path is
 * found, and the prediction routes come first in their families.
 *
 * Every path belongs to one family (families[], by prefix), which counts it
 * in /metrics and says what a path that matches no route gets: 404, or 405
 * with Allow when a route's pattern matches but wants another method (Allow
 * names the first such route's method). TF Serving's /v1 differs, as TF
 * Serving does: its verb is what follows the last ':' of the last segment
 * (/v1/models/m:predict); its model names hold no ':'; a path ending in
 * /metadata after a model's name asks for its metadata (a label cannot end
 * a path as "metadata"); and a path that matches no route, or matches one
 * with another method, is a malformed request (400 "Malformed request:
 * METHOD PATH"), or 400 "Missing model name in request." for /v1/models.
 *
 * To add an endpoint: one entry in routes[] and one handler (handlers.h);
 * docs/internals.md walks through it. The statuses come from api/'s table:
 * an unknown path is MD_ENOTFOUND, a malformed /v1 one MD_EINVAL, a wrong
 * method MD_EMETHOD.
 */
#include "net/router.h"
#include "api/audit.h"
#include "api/handlers.h"
#include "api/ab.h"
#include "api/session.h"
#include "api/upload.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define R_NONE         0
#define R_METHOD       (-1)
#define R_V1_MALFORMED (-2)
#define R_V1_NONAME    (-3)

/* ---- handlers of the router's own, and the adapters to one signature ---- */

/* The handlers that need no name from the path, called through the table's one signature. */
#define WITHOUT_ROUTE(fn)                                                                          \
    static void fn##_r(struct md_api *api, const struct md_route *rt, struct md_api_req *req,      \
                       struct md_api_resp *resp)                                                   \
    {                                                                                              \
        MD_UNUSED(rt);                                                                             \
        fn(api, req, resp);                                                                        \
    }
WITHOUT_ROUTE(md_v2_server_metadata)
WITHOUT_ROUTE(md_v2_live)
WITHOUT_ROUTE(md_v2_ready)
WITHOUT_ROUTE(md_repo_api_index)
WITHOUT_ROUTE(md_prom_metrics)
WITHOUT_ROUTE(md_settings_api_list)
WITHOUT_ROUTE(md_predictions_api_list)

/* TF Serving's :classify and :regress. */
static void tfs_unsupported(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    MD_UNUSED(api);
    MD_UNUSED(rt);
    MD_UNUSED(req);
    md_api_errorf(resp, MD_EUNSUPPORTED, "classify and regress are not supported; use :predict");
}

/* ---- the table ---------------------------------------------------------- */

#define V2_MODEL  "/v2/models/{model}[/versions/{version}]"
#define TFS_MODEL "/v1/models/{model}[/versions/{version}|/labels/{label}]"

#define STATUS   MD_PERM_STATUS
#define READ     MD_PERM_READ
#define PREDICT  MD_PERM_PREDICT
#define FEEDBACK MD_PERM_FEEDBACK
#define REVIEW   MD_PERM_REVIEW
#define DATA     MD_PERM_DATA
#define DEPLOY   MD_PERM_DEPLOY
#define ADMIN    MD_PERM_ADMIN

#define NONE       MD_SCOPE_NONE
#define PATH_MODEL MD_SCOPE_PATH_MODEL
#define LISTING    MD_SCOPE_LISTING
#define BODY_ITEMS MD_SCOPE_BODY_ITEMS

/*
 * A row names its sink (the last field) only when its body streams; the
 * others leave it out, so the compiler's warning for a field left out is off
 * for this table alone.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* clang-format off */
static const struct md_endpoint routes[] = {
    /* Open Inference Protocol (api/v2.c) */
    {"POST", V2_MODEL "/infer",    MD_API_V2, PREDICT, PATH_MODEL, md_v2_infer},
    {"GET",  "/v2",                MD_API_V2, STATUS,    NONE,       md_v2_server_metadata_r},
    {"GET",  "/v2/health/live",    MD_API_V2, STATUS,    NONE,       md_v2_live_r},
    {"GET",  "/v2/health/ready",   MD_API_V2, STATUS,    NONE,       md_v2_ready_r},
    {"GET",  "/v2/models/stats",   MD_API_V2, READ,    LISTING,    md_v2_model_stats},
    {"GET",  V2_MODEL,             MD_API_V2, STATUS,    PATH_MODEL, md_v2_model_metadata},
    {"GET",  V2_MODEL "/ready",    MD_API_V2, STATUS,    PATH_MODEL, md_v2_model_ready},
    {"GET",  V2_MODEL "/config",   MD_API_V2, STATUS,    PATH_MODEL, md_v2_model_config},
    {"GET",  V2_MODEL "/stats",    MD_API_V2, READ,    PATH_MODEL, md_v2_model_stats},
    /* Triton's model repository extension (api/repository.c); the index is a
     * POST that changes nothing */
    {"POST", "/v2/repository/index",                 MD_API_REPOSITORY, READ,   LISTING,
     md_repo_api_index_r},
    {"POST", "/v2/repository/models/{model}/load",   MD_API_REPOSITORY, DEPLOY, PATH_MODEL,
     md_repo_api_load},
    {"POST", "/v2/repository/models/{model}/unload", MD_API_REPOSITORY, DEPLOY, PATH_MODEL,
     md_repo_api_unload},
    /* TensorFlow Serving REST (api/tfs.c) */
    {"POST", TFS_MODEL ":predict",  MD_API_V1, PREDICT, PATH_MODEL, md_tfs_predict},
    {"GET",  TFS_MODEL,             MD_API_V1, STATUS,    PATH_MODEL, md_tfs_status},
    {"GET",  TFS_MODEL "/metadata", MD_API_V1, STATUS,    PATH_MODEL, md_tfs_metadata},
    {"POST", TFS_MODEL ":classify", MD_API_V1, PREDICT, PATH_MODEL, tfs_unsupported},
    {"POST", TFS_MODEL ":regress",  MD_API_V1, PREDICT, PATH_MODEL, tfs_unsupported},
    /* Prometheus (api/prom.c): every model's series, for whoever may read */
    {"GET",  "/metrics", MD_API_METRICS, READ, NONE, md_prom_metrics_r},
    /* modeld's management API (api/settings.c); a PUT or PATCH is answered
     * (409 or 405) by the handler, which knows why */
    {"GET",   "/api/v1/settings",           MD_API_MANAGEMENT, READ,   NONE,
     md_settings_api_list_r},
    {"GET",   "/api/v1/settings/{setting}", MD_API_MANAGEMENT, READ,   NONE, md_settings_api_get},
    {"PUT",   "/api/v1/settings/{setting}", MD_API_MANAGEMENT, ADMIN, NONE, md_settings_api_put},
    {"PATCH", "/api/v1/settings/{setting}", MD_API_MANAGEMENT, ADMIN, NONE, md_settings_api_put},
    /* Versions (api/upload.c): an upload's body streams to its sink */
    {"POST",  "/api/v1/models/{model}/versions", MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_upload_api_post, &md_upload_sink},
    /* models, versions, aliases, traffic and events (api/traffic.c) */
    {"PUT",    "/api/v1/models/{model}",                  MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_traffic_api_model_put},
    {"GET",    "/api/v1/models/{model}/versions",         MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_traffic_api_versions},
    {"POST",   "/api/v1/models/{model}/versions/{version}/archive", MD_API_MANAGEMENT, DEPLOY,
     PATH_MODEL, md_traffic_api_archive},
    {"POST",   "/api/v1/models/{model}/versions/{version}/restore", MD_API_MANAGEMENT, DEPLOY,
     PATH_MODEL, md_traffic_api_archive},
    {"GET",    "/api/v1/models/{model}/aliases",          MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_traffic_api_aliases},
    {"PUT",    "/api/v1/models/{model}/aliases/{alias}",  MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_traffic_api_alias_put},
    {"DELETE", "/api/v1/models/{model}/aliases/{alias}",  MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_traffic_api_alias_delete},
    {"GET",    "/api/v1/models/{model}/traffic",          MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_traffic_api_get},
    {"PUT",    "/api/v1/models/{model}/traffic",          MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_traffic_api_put},
    {"GET",    "/api/v1/events",                          MD_API_MANAGEMENT, READ,   LISTING,
     md_traffic_api_events},
    {"GET",    "/api/v1/store",                           MD_API_MANAGEMENT, READ,   NONE,
     md_traffic_api_store},
    /* progressive rollouts and their strategies (api/rollouts.c) */
    {"POST",   "/api/v1/models/{model}/rollouts",          MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_rollouts_api_start},
    {"GET",    "/api/v1/models/{model}/rollouts",          MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_rollouts_api_list},
    {"GET",    "/api/v1/models/{model}/rollouts/{id}",     MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_rollouts_api_get},
    {"POST",   "/api/v1/models/{model}/rollouts/{id}/pause",    MD_API_MANAGEMENT, DEPLOY,
     PATH_MODEL, md_rollouts_api_command},
    {"POST",   "/api/v1/models/{model}/rollouts/{id}/resume",   MD_API_MANAGEMENT, DEPLOY,
     PATH_MODEL, md_rollouts_api_command},
    {"POST",   "/api/v1/models/{model}/rollouts/{id}/promote",  MD_API_MANAGEMENT, DEPLOY,
     PATH_MODEL, md_rollouts_api_command},
    {"POST",   "/api/v1/models/{model}/rollouts/{id}/abort",    MD_API_MANAGEMENT, DEPLOY,
     PATH_MODEL, md_rollouts_api_command},
    {"POST",   "/api/v1/models/{model}/rollouts/{id}/rollback", MD_API_MANAGEMENT, DEPLOY,
     PATH_MODEL, md_rollouts_api_command},
    /* training runs (api/trainings.c) */
    {"POST",   "/api/v1/models/{model}/trainings",         MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_trainings_api_start},
    {"GET",    "/api/v1/models/{model}/trainings",         MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_trainings_api_list},
    {"GET",    "/api/v1/models/{model}/trainings/{id}",    MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_trainings_api_get},
    {"GET",    "/api/v1/strategies",                       MD_API_MANAGEMENT, READ,   NONE,
     md_strategies_api_get},
    {"GET",    "/api/v1/strategies/{name}",                MD_API_MANAGEMENT, READ,   NONE,
     md_strategies_api_get},
    {"PUT",    "/api/v1/strategies/{name}",                MD_API_MANAGEMENT, DEPLOY, NONE,
     md_strategies_api_put},
    {"DELETE", "/api/v1/strategies/{name}",                MD_API_MANAGEMENT, DEPLOY, NONE,
     md_strategies_api_delete},
    /* alert rules and alerts (api/alerts.c) */
    {"GET",    "/api/v1/alert-rules[/{name}]",             MD_API_MANAGEMENT, READ,   NONE,
     md_alert_rules_api_get},
    {"PUT",    "/api/v1/alert-rules/{name}",               MD_API_MANAGEMENT, DEPLOY, NONE,
     md_alert_rules_api_put},
    {"DELETE", "/api/v1/alert-rules/{name}",               MD_API_MANAGEMENT, DEPLOY, NONE,
     md_alert_rules_api_delete},
    {"GET",    "/api/v1/alerts",                           MD_API_MANAGEMENT, READ,   LISTING,
     md_alerts_api_get},
    /* comparisons of a model's versions (api/comparison.c) */
    {"GET",   "/api/v1/models/{model}/comparison", MD_API_MANAGEMENT, READ, PATH_MODEL,
     md_comparison_api_get},
    /* a model's named metrics now and per minute in the past (api/history.c) */
    {"GET",   "/api/v1/models/{model}/signals",    MD_API_MANAGEMENT, READ, PATH_MODEL,
     md_history_api_signals},
    {"GET",   "/api/v1/models/{model}/history",    MD_API_MANAGEMENT, READ, PATH_MODEL,
     md_history_api_get},
    /* drift against the reference profile (api/drift.c) */
    {"GET",   "/api/v1/models/{model}/drift",      MD_API_MANAGEMENT, READ, PATH_MODEL,
     md_drift_api_get},
    /* data quality (api/dataq.c) and the names of the named metrics (api/signals.c) */
    {"GET",   "/api/v1/models/{model}/data-quality", MD_API_MANAGEMENT, READ, PATH_MODEL,
     md_dataq_api_get},
    {"GET",   "/api/v1/signals",        MD_API_MANAGEMENT, READ, NONE,       md_signals_api_list},
    /* the prediction log (api/predictions.c) */
    {"GET",   "/api/v1/predictions", MD_API_MANAGEMENT, DATA, LISTING, md_predictions_api_list_r},
    /* feedback and quality (api/feedback.c) */
    {"POST",  "/api/v1/feedback",                  MD_API_MANAGEMENT, FEEDBACK, BODY_ITEMS,
     md_feedback_api_post},
    {"GET",   "/api/v1/models/{model}/quality",    MD_API_MANAGEMENT, READ, PATH_MODEL,
     md_feedback_api_quality},
    /* review queues (api/review.c) */
    {"GET",   "/api/v1/review/next", MD_API_MANAGEMENT, REVIEW,    LISTING, md_review_api_next},
    {"POST",  "/api/v1/review/{id}", MD_API_MANAGEMENT, REVIEW, LISTING, md_review_api_answer},
    {"GET",   "/api/v1/review",      MD_API_MANAGEMENT, READ,    LISTING, md_review_api_list},
    /* A/B comparisons of a model's routes (api/ab.c) */
    {"GET",   "/api/v1/models/{model}/ab", MD_API_MANAGEMENT, READ, PATH_MODEL,
     md_ab_api_get},
    /* training sets and base datasets (api/dataset.c) */
    {"GET",    "/api/v1/models/{model}/dataset",          MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_dataset_api_summary},
    {"GET",    "/api/v1/models/{model}/dataset/export",   MD_API_MANAGEMENT, DATA,   PATH_MODEL,
     md_dataset_api_export},
    {"GET",    "/api/v1/models/{model}/datasets",         MD_API_MANAGEMENT, READ,   PATH_MODEL,
     md_dataset_api_list},
    {"PUT",    "/api/v1/models/{model}/datasets/{name}",  MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_dataset_api_put},
    {"DELETE", "/api/v1/models/{model}/datasets/{name}",  MD_API_MANAGEMENT, DEPLOY, PATH_MODEL,
     md_dataset_api_delete},
    /* the audit log (api/audit.c) */
    {"GET",    "/api/v1/audit",                           MD_API_MANAGEMENT, ADMIN,  NONE,
     md_audit_api_list},
    {"GET",    "/api/v1/audit/verify",                    MD_API_MANAGEMENT, ADMIN,  NONE,
     md_audit_api_verify},
    /* erasure of a subject's data (api/subjects.c) */
    {"DELETE", "/api/v1/subjects/{subject}",              MD_API_MANAGEMENT, ADMIN,  NONE,
     md_subjects_api_erase},
    /* encryption at rest: rotating the data keys (api/keys.c) */
    {"POST",  "/api/v1/keys/rotate", MD_API_MANAGEMENT, ADMIN, NONE, md_keys_api_rotate},
    {"GET",   "/api/v1/keys/rotate", MD_API_MANAGEMENT, READ,  NONE, md_keys_api_progress},
    /* bearer tokens (api/token.c) */
    {"POST",   "/api/v1/tokens",        MD_API_MANAGEMENT, ADMIN, NONE, md_token_api_create},
    {"GET",    "/api/v1/tokens",        MD_API_MANAGEMENT, ADMIN, NONE, md_token_api_list},
    {"DELETE", "/api/v1/tokens/{name}", MD_API_MANAGEMENT, ADMIN, NONE, md_token_api_revoke},
    /* the dashboard's sign-in sessions (api/session.c): the POST is served
     * without a token (its body holds one), the others take a cookie too */
    {"POST",   "/api/v1/session", MD_API_MANAGEMENT, STATUS, NONE, md_session_api_create},
    {"GET",    "/api/v1/session", MD_API_MANAGEMENT, STATUS, NONE, md_session_api_get},
    {"DELETE", "/api/v1/session", MD_API_MANAGEMENT, STATUS, NONE, md_session_api_delete},
    /* the security self-assessment (api/security.c) */
    {"GET",    "/api/v1/security/report", MD_API_MANAGEMENT, ADMIN, NONE, md_security_api_report},
    /* the dashboard's files (api/ui.c): served without a token, they hold no data */
    {"GET",    "/ui",         MD_API_UI, STATUS, NONE, md_ui_api_asset},
    {"GET",    "/ui/{name}",  MD_API_UI, STATUS, NONE, md_ui_api_asset},
    /* the server's root sends a browser to the dashboard; counted as "other" */
    {"GET",    "/",           MD_API_OTHER, STATUS, NONE, md_ui_api_root},
};
/* clang-format on */
#pragma GCC diagnostic pop

#define N_ROUTES MD_ARRAY_LEN(routes)

/* The route log keeps one bit per route. */
#define LOG_WORDS ((size_t)2)
_Static_assert(N_ROUTES <= (size_t)64 * LOG_WORDS, "the route log's bit set holds 128 routes");

/* How a path's family is found: by its prefix, the path itself or a segment. */
enum prefix_kind {
    WHOLE,   /* the path is the prefix */
    SEGMENT, /* the path is the prefix, or goes on with '/' */
    PREFIX   /* the path starts with the prefix */
};

/* Every family's prefix; the first that fits a path is its family. */
static const struct family {
    const char *prefix;
    size_t len;
    enum prefix_kind kind;
    enum md_api_family family;
    bool tfs; /* TF Serving's grammar and answers (atop this file) */
} families[] = {
    {"/v2/repository/", 15, PREFIX, MD_API_REPOSITORY, false},
    {"/v2", 3, SEGMENT, MD_API_V2, false},
    {"/v1", 3, SEGMENT, MD_API_V1, true},
    {"/metrics", 8, WHOLE, MD_API_METRICS, false},
    {"/api/v1/", 8, PREFIX, MD_API_MANAGEMENT, false},
    {"/ui", 3, SEGMENT, MD_API_UI, false},
    {"/", 1, WHOLE, MD_API_OTHER, false},
};

/* ---- matching ----------------------------------------------------------- */

/*
 * Patterns are compiled once, at the first match, into forms: a route's
 * pattern with its group resolved one way (left out, or one alternative),
 * a row of segments. A path is split into segments once; a form is tried
 * only when its family, segment count and verb fit, then segment by
 * segment, so a request compares a few short strings.
 */
#define MAX_SEGS  8    /* a path of more segments after its family's prefix matches nothing */
#define MAX_FORMS 128  /* forms of all the routes */
#define POOL_SIZE 4096 /* the forms' text */

enum { P_LITERAL = -1, P_MODEL, P_VERSION, P_LABEL, P_SETTING, P_ALIAS, P_ID, P_NAME, N_PARAMS };

/* A piece of text: a segment of a path or a pattern. */
struct piece {
    const char *at;
    size_t len;
};

/* One segment of a form. */
struct seg {
    struct piece text; /* a literal's text */
    int param;         /* P_LITERAL, or the placeholder's P_* */
};

/* A route's pattern with its group resolved one way. */
struct form {
    size_t route;     /* its index in routes[] */
    size_t n;         /* segments after the family's prefix */
    const char *verb; /* TF Serving: the text after ':' (NUL-terminated), or NULL */
    struct seg seg[MAX_SEGS];
    size_t n_names;            /* placeholders */
    size_t name_seg[N_PARAMS]; /* the segment of each */
};

/*
 * Written once by compile(), read-only afterwards. A family's forms are
 * forms[family_first[f]] to forms[family_end[f] - 1]: routes[] holds each
 * family's routes together.
 */
static struct form forms[MAX_FORMS];
static size_t n_forms;
static size_t family_first[MD_API_FAMILIES];
static size_t family_end[MD_API_FAMILIES];
static char pool[POOL_SIZE];
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;
static _Atomic bool compiled; /* forms[] is ready: no call to pthread_once per request */

/* Whether s starts with the n bytes of prefix (inline: the prefixes are short). */
static bool starts_with(const char *s, const char *prefix, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != prefix[i])
            return false; /* also at s's end: prefix holds no NUL */
    return true;
}

/* The family a pattern or path belongs to, or NULL for none. */
static const struct family *family_of(const char *path)
{
    size_t i;

    for (i = 0; i < MD_ARRAY_LEN(families); i++) {
        const struct family *f = &families[i];

        if (!starts_with(path, f->prefix, f->len))
            continue;
        if (f->kind == PREFIX || path[f->len] == '\0' ||
            (f->kind == SEGMENT && path[f->len] == '/'))
            return f;
    }
    return NULL;
}

/*
 * Splits the rest of path after its family f's prefix into out (MAX_SEGS
 * at most) and, for TF Serving, takes the verb off the last segment: what
 * follows its last ':'. Returns the count, or -1 when a segment is empty or
 * there are too many.
 */
static int split(const struct family *f, const char *path, struct piece *out, const char **verb)
{
    const char *p = path + f->len;
    const char *start;
    int n = 0;

    *verb = NULL;
    if (*p == '\0')
        return 0;
    if (f->kind != PREFIX)
        p++; /* the '/' after the prefix */
    if (*p == '\0' && f->family == MD_API_UI)
        return 0; /* /ui/: the dashboard's page, as /ui */
    for (start = p;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (p == start || n == MAX_SEGS)
            return -1;
        out[n].at = start;
        out[n].len = (size_t)(p - start);
        n++;
        if (*p == '\0')
            break;
        start = p + 1;
    }
    if (f->tfs) {
        struct piece *last = &out[n - 1];
        size_t i;

        for (i = last->len; i > 0; i--)
            if (last->at[i - 1] == ':') {
                *verb = last->at + i;
                last->len = i - 1;
                return last->len > 0 ? n : -1;
            }
    }
    return n;
}

/* Adds the form of route r spelt by text (in pool, NUL-terminated). */
static void add_form(size_t r, const struct family *f, const char *text)
{
    struct form *fm;
    struct piece pieces[MAX_SEGS];
    int n;
    int k;

    if (n_forms == MAX_FORMS)
        MD_BUG("router: more route forms than MAX_FORMS");
    fm = &forms[n_forms++];
    n = split(f, text, pieces, &fm->verb);
    if (n < 0)
        MD_BUG("router: a route's pattern has an empty segment or too many");
    fm->route = r;
    fm->n = (size_t)n;
    for (k = 0; k < n; k++) {
        const struct piece *pc = &pieces[k];
        struct seg *g = &fm->seg[k];

        g->text = *pc;
        g->param = P_LITERAL;
        if (pc->at[0] != '{')
            continue;
        if (pc->at[pc->len - 1] != '}')
            MD_BUG("router: a placeholder is not a whole segment");
        if (pc->len == 7 && memcmp(pc->at, "{model}", 7) == 0)
            g->param = P_MODEL;
        else if (pc->len == 9 && memcmp(pc->at, "{version}", 9) == 0)
            g->param = P_VERSION;
        else if (pc->len == 7 && memcmp(pc->at, "{label}", 7) == 0)
            g->param = P_LABEL;
        else if (pc->len == 9 && memcmp(pc->at, "{setting}", 9) == 0)
            g->param = P_SETTING;
        else if (pc->len == 7 && memcmp(pc->at, "{alias}", 7) == 0)
            g->param = P_ALIAS;
        else if (pc->len == 4 && memcmp(pc->at, "{id}", 4) == 0)
            g->param = P_ID;
        else if ((pc->len == 6 && memcmp(pc->at, "{name}", 6) == 0) ||
                 (pc->len == 9 && memcmp(pc->at, "{subject}", 9) == 0))
            g->param = P_NAME; /* {subject}: a subject id, any segment, into rt->name too */
        else
            MD_BUG("router: unknown placeholder");
        if (fm->n_names == N_PARAMS)
            MD_BUG("router: a placeholder appears twice in a route");
        fm->name_seg[fm->n_names++] = (size_t)k;
    }
}

/* Writes head (head_len bytes), alt (alt_len bytes) and tail into the pool; returns the text. */
static const char *spell(size_t *used, const char *head, size_t head_len, const char *alt,
                         size_t alt_len, const char *tail)
{
    size_t tail_len = strlen(tail);
    char *at = pool + *used;

    if (*used + head_len + alt_len + tail_len + 1 > sizeof(pool))
        MD_BUG("router: the route forms' text passed POOL_SIZE");
    memcpy(at, head, head_len);
    memcpy(at + head_len, alt, alt_len);
    memcpy(at + head_len + alt_len, tail, tail_len + 1);
    *used += head_len + alt_len + tail_len + 1;
    return at;
}

/* Compiles every route into its forms (once, at the first match). */
static void compile(void)
{
    size_t used = 0;
    size_t r;

    for (r = 0; r < MD_API_FAMILIES; r++)
        family_first[r] = MAX_FORMS;
    for (r = 0; r < N_ROUTES; r++) {
        enum md_api_family fam = routes[r].family;
        const char *p = routes[r].path;
        const struct family *f = family_of(p);
        const char *open = strchr(p, '[');
        const char *close = open != NULL ? strchr(open, ']') : NULL;
        const char *alt;
        size_t alen;

        if (f == NULL || f->family != fam)
            MD_BUG("router: a route's pattern is not in its family");
        if (family_first[fam] == MAX_FORMS)
            family_first[fam] = n_forms;
        else if (family_end[fam] != n_forms)
            MD_BUG("router: a family's routes are not together in the table");
        if (open == NULL) {
            add_form(r, f, spell(&used, p, strlen(p), "", 0, ""));
            family_end[fam] = n_forms;
            continue;
        }
        if (close == NULL)
            MD_BUG("router: a route's group is not closed");
        /* Each alternative, then the group left out. */
        for (alt = open + 1;; alt += alen + 1) {
            alen = strcspn(alt, "|]");
            add_form(r, f, spell(&used, p, (size_t)(open - p), alt, alen, close + 1));
            if (alt[alen] == ']')
                break;
        }
        add_form(r, f, spell(&used, p, (size_t)(open - p), "", 0, close + 1));
        family_end[fam] = n_forms;
    }
    atomic_store_explicit(&compiled, true, memory_order_release);
}

/* Whether the path's segment pc may stand for placeholder param. */
static bool param_fits(int param, const struct piece *pc, bool ends_path, bool tfs)
{
    size_t i;

    switch (param) {
    case P_VERSION:
        if (!tfs && (unsigned char)((pc->at[0] | 0x20) - 'a') < 26) {
            /* An alias. */
            for (i = 1; i < pc->len; i++) {
                char ch = pc->at[i];

                if ((unsigned char)((ch | 0x20) - 'a') >= 26 && (unsigned char)(ch - '0') > 9 &&
                    ch != '_' && ch != '.' && ch != '-')
                    return false;
            }
            return true;
        }
        for (i = 0; i < pc->len; i++)
            if ((unsigned char)(pc->at[i] - '0') > 9)
                return false;
        return true;
    case P_ID:
        for (i = 0; i < pc->len; i++)
            if ((unsigned char)(pc->at[i] - '0') > 9)
                return false;
        return true;
    case P_MODEL:
        return !tfs || memchr(pc->at, ':', pc->len) == NULL;
    case P_LABEL:
        /* TF Serving: a path ending in /metadata asks for metadata. */
        return !(tfs && ends_path && pc->len == 8 && memcmp(pc->at, "metadata", 8) == 0);
    default:
        return true;
    }
}

/* Whether form fm matches the path's n segments and verb. */
static bool form_fits(const struct form *fm, const struct piece *pieces, size_t n, const char *verb,
                      bool tfs)
{
    size_t k;

    if (fm->n != n ||
        (fm->verb != NULL ? verb == NULL || strcmp(fm->verb, verb) != 0 : verb != NULL))
        return false;
    for (k = 0; k < n; k++) {
        const struct seg *g = &fm->seg[k];
        const struct piece *pc = &pieces[k];

        if (g->param == P_LITERAL) {
            if (g->text.len != pc->len || g->text.at[0] != pc->at[0] ||
                memcmp(g->text.at, pc->at, pc->len) != 0)
                return false;
        } else if (!param_fits(g->param, pc, k == n - 1 && verb == NULL, tfs)) {
            return false;
        }
    }
    return true;
}

/* rt's names from the path's segments that fm's placeholders stand for, in arena a. */
static bool take_names(const struct form *fm, const struct piece *pieces, struct md_arena *a,
                       struct md_route *rt)
{
    size_t i;

    for (i = 0; i < fm->n_names; i++) {
        size_t k = fm->name_seg[i];
        const char *name = md_arena_strndup(a, pieces[k].at, pieces[k].len);

        if (name == NULL)
            return false;
        switch (fm->seg[k].param) {
        case P_MODEL:
            rt->model = name;
            break;
        case P_VERSION:
            rt->version = name;
            break;
        case P_LABEL:
            rt->label = name;
            break;
        case P_ALIAS:
            rt->alias = name;
            break;
        case P_ID:
            rt->id = name;
            break;
        case P_NAME:
            rt->name = name;
            break;
        default:
            rt->setting = name;
            break;
        }
    }
    return true;
}

int md_router_match(const char *method, const char *path, struct md_arena *a, int *route_id,
                    struct md_route *rt, enum md_api_family *family, const char **allow)
{
    const struct family *f = family_of(path);
    const struct form *found = NULL;
    const struct form *other = NULL; /* the first that matched, for another method */
    struct piece pieces[MAX_SEGS];
    const char *verb;
    int n;
    size_t i;

    memset(rt, 0, sizeof(*rt));
    *allow = NULL;
    *route_id = R_NONE;
    *family = f != NULL ? f->family : MD_API_OTHER;
    if (f == NULL)
        return MD_OK;
    if (MD_UNLIKELY(!atomic_load_explicit(&compiled, memory_order_acquire)))
        pthread_once(&compile_once, compile);
    n = split(f, path, pieces, &verb);
    for (i = family_first[f->family]; n >= 0 && i < family_end[f->family]; i++) {
        const struct form *fm = &forms[i];
        const struct md_endpoint *e = &routes[fm->route];

        if (!form_fits(fm, pieces, (size_t)n, verb, f->tfs))
            continue;
        if (strcmp(method, e->method) == 0) {
            found = fm;
            break;
        }
        if (other == NULL)
            other = fm;
    }
    if (found != NULL) {
        if (!take_names(found, pieces, a, rt)) {
            memset(rt, 0, sizeof(*rt));
            return MD_OK; /* no room for the names: as if nothing matched */
        }
        *route_id = (int)found->route + 1;
    } else if (other != NULL) {
        if (!take_names(other, pieces, a, rt))
            memset(rt, 0, sizeof(*rt));
        *route_id = f->tfs ? R_V1_MALFORMED : R_METHOD;
        if (!f->tfs)
            *allow = routes[other->route].method;
    } else if (f->tfs) {
        *route_id = strcmp(path, "/v1/models") == 0 || strcmp(path, "/v1/models/") == 0
                        ? R_V1_NONAME
                        : R_V1_MALFORMED;
    }
    return MD_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

/* MODELD_ROUTE_LOG: the file, or -1; and the routes already written to it. */
static int log_fd = -1;
static _Atomic uint64_t log_seen[LOG_WORDS];

int md_router_log_to(const char *path, struct md_err *err)
{
    int fd = -1;

    if (path != NULL) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return md_err_set(err, MD_EIO, "route log '%s': %s", path, strerror(errno));
    }
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    for (size_t w = 0; w < LOG_WORDS; w++)
        atomic_store(&log_seen[w], 0);
    return MD_OK;
}

/* The first call of route i is written to the route log. */
static void log_route(size_t i)
{
    uint64_t bit = (uint64_t)1 << (i % 64);
    char line[256];
    int n;

    if (atomic_fetch_or(&log_seen[i / 64], bit) & bit)
        return;
    n = snprintf(line, sizeof(line), "%s %s\n", routes[i].method, routes[i].path);
    if (n > 0 && (size_t)n < sizeof(line) && write(log_fd, line, (size_t)n) != n)
        md_log_kv(MD_LOG_WARN, "cannot write the route log", "reason", strerror(errno), MD_KV_END);
}

/* The answer to a path that matched no route (id <= 0). */
static void answer_miss(int id, const char *allow, const struct md_api_req *req,
                        struct md_api_resp *resp)
{
    char msg[200];

    switch (id) {
    case R_V1_NONAME:
        md_api_error_msg(resp, MD_EINVAL, "Missing model name in request.");
        break;
    case R_V1_MALFORMED:
        /* A long path is cut short: the message only shows it. */
        (void)snprintf(msg, sizeof(msg), "Malformed request: %s %s", req->method, req->path);
        md_api_error_msg(resp, MD_EINVAL, msg);
        break;
    case R_METHOD:
        md_api_error_msg(resp, MD_EMETHOD, "Method Not Allowed");
        resp->allow = allow;
        break;
    default:
        md_api_error_msg(resp, MD_ENOTFOUND, "Not Found");
        break;
    }
}

void md_router_find(const char *method, const char *path, struct md_arena *a,
                    struct md_router_hit *hit)
{
    md_router_match(method, path, a, &hit->id, &hit->rt, &hit->family, &hit->allow);
    hit->endpoint = hit->id > 0 ? &routes[hit->id - 1] : NULL;
}

/* Whether e may be called without a token under a's rules: the health
 * endpoints and /metrics, when configured so; the dashboard's files and its
 * sign-in, always. */
static bool open_route(const struct md_auth *a, const struct md_endpoint *e)
{
    if (e->handler == md_ui_api_asset || e->handler == md_ui_api_root)
        return true; /* the dashboard's files: no data (api/ui.c) */
    if (e->handler == md_session_api_create)
        return true; /* sign-in: the token is in the body (api/session.c) */
    if (a->open_health && e->handler == md_v2_live_r)
        return true;
    if (a->open_health && e->handler == md_v2_ready_r)
        return true;
    return a->open_metrics && e->handler == md_prom_metrics_r;
}

int md_router_admit(struct md_api *api, const struct md_router_hit *hit, struct md_api_req *req,
                    struct md_api_resp *resp)
{
    const struct md_endpoint *e = hit->endpoint;
    const struct md_principal *who;
    struct md_err err;
    int rc;

    /* Admitted already (a parked request's second call, a streamed body's
     * handler): not authenticated nor charged again. */
    if (req->principal != NULL)
        return MD_OK;
    rc = md_auth_principal(&api->auth, req, api->auth.enabled && open_route(&api->auth, e), true,
                           &who, resp->retry_after, &err);
    if (rc == MD_OK) {
        rc = md_auth_check(&api->auth, who, e->perm, &err);
        if (rc != MD_OK)
            req->refused = who;
    }
    if (rc != MD_OK) {
        md_api_error(resp, &err);
        return err.code;
    }
    if (e->scope == MD_SCOPE_PATH_MODEL && !md_auth_may_use(who, hit->rt.model)) {
        req->refused = who;
        md_api_errorf(resp, MD_EPERM, "model '%s': not permitted to principal '%s'", hit->rt.model,
                      who->name);
        return MD_EPERM;
    }
    req->principal = who;
    return MD_OK;
}

/* ---- the audit log ------------------------------------------------------- */

/*
 * Whether a call of e changes state, and so is recorded in the audit log:
 * every method but GET, unless the route only reads or predicts (an
 * inference is a POST that changes nothing; so is the repository index).
 * A dashboard's sign-in and sign-out are recorded too, refusals included.
 */
static bool audited(const struct md_endpoint *e)
{
    if (e->handler == md_session_api_create || e->handler == md_session_api_delete)
        return true;
    return (e->perm & (MD_PERM_STATUS | MD_PERM_READ | MD_PERM_PREDICT)) == 0 &&
           strcmp(e->method, "GET") != 0;
}

/* A piece "name=value" of a target, when value is set. */
static void target_part(char *out, size_t n, const char *name, const char *value)
{
    size_t len = strlen(out);

    if (value != NULL && len < n)
        (void)snprintf(out + len, n - len, "%s%s=%s", len > 0 ? " " : "", name, value);
}

/*
 * Records the call hit matched, answered in resp (api/audit.h), or wraps
 * what its handler parked with until it answers: what is the method and
 * route pattern, the target the names the path holds. A subject
 * id (/api/v1/subjects/{subject}) is personal data: only its keyed hash is
 * recorded, made by the store.
 */
static void audit_call(struct md_api *api, const struct md_router_hit *hit, struct md_api_req *req,
                       struct md_api_resp *resp)
{
    static const char subjects[] = "/api/v1/subjects/";
    const struct md_endpoint *e = hit->endpoint;
    const struct md_route *rt = &hit->rt;
    struct md_api_audit_call call;
    char action[256];
    char target[512];

    (void)snprintf(action, sizeof(action), "%s %s", e->method, e->path); /* cut when long */
    target[0] = '\0';
    call.action = action;
    call.target = target;
    call.subject = NULL;
    /* The body of these is records, which an error may quote. */
    call.status_only = (e->perm & (MD_PERM_FEEDBACK | MD_PERM_REVIEW | MD_PERM_DATA)) != 0;
    if (strncmp(e->path, subjects, sizeof(subjects) - 1) == 0) {
        call.subject = rt->name != NULL ? rt->name : ""; /* the id, percent-decoded */
        call.status_only = true;                         /* an error may quote the id */
    } else {
        target_part(target, sizeof(target), "model", rt->model);
        target_part(target, sizeof(target), "version", rt->version);
        target_part(target, sizeof(target), "label", rt->label);
        target_part(target, sizeof(target), "alias", rt->alias);
        target_part(target, sizeof(target), "id", rt->id);
        target_part(target, sizeof(target), "name", rt->name);
        target_part(target, sizeof(target), "setting", rt->setting);
    }
    if (resp->parked)
        md_api_audit_wrap(api, &call, req, resp);
    else
        md_api_audit_record(api, &call, req, resp);
}

void md_router_run(struct md_api *api, const struct md_router_hit *hit, struct md_api_req *req,
                   struct md_api_resp *resp)
{
    bool audit;

    resp->family = hit->family;
    resp->model = hit->rt.model;
    if (hit->endpoint == NULL) {
        answer_miss(hit->id, hit->allow, req, resp);
        return;
    }
    audit = MD_UNLIKELY(api->audit) && audited(hit->endpoint);
    if (MD_UNLIKELY(audit && md_api_audit_parked(resp))) {
        /* The answer was given; its entry is now stored. */
        md_api_audit_answer(resp);
        return;
    }
    if (MD_UNLIKELY(audit && md_api_audit_wrapped(resp)))
        md_api_audit_unwrap(resp); /* the handler's call after its wake */
    if (md_router_admit(api, hit, req, resp) != MD_OK) {
        if (audit)
            audit_call(api, hit, req, resp);
        return;
    }
    if (MD_UNLIKELY(log_fd >= 0))
        log_route((size_t)(hit->endpoint - routes));
    hit->endpoint->handler(api, &hit->rt, req, resp);
    if (audit)
        audit_call(api, hit, req, resp); /* its entry now, or wrapped until it answers */
}

void md_router_dispatch(struct md_api *api, struct md_api_req *req, struct md_api_resp *resp)
{
    struct md_router_hit hit;

    md_router_find(req->method, req->path, req->arena, &hit);
    md_router_run(api, &hit, req, resp);
}

const struct md_endpoint *md_router_endpoints(size_t *n)
{
    *n = N_ROUTES;
    return routes;
}

void md_router_print(FILE *out)
{
    int mwidth = 0;
    int width = 0;
    size_t i;

    for (i = 0; i < N_ROUTES; i++) {
        if ((int)strlen(routes[i].method) > mwidth)
            mwidth = (int)strlen(routes[i].method);
        if ((int)strlen(routes[i].path) > width)
            width = (int)strlen(routes[i].path);
    }
    for (i = 0; i < N_ROUTES; i++)
        fprintf(out, "%-*s %-*s %-8s %s\n", mwidth, routes[i].method, width, routes[i].path,
                md_perm_name(routes[i].perm), md_scope_name(routes[i].scope));
}

void md_router_print_matrix(FILE *out)
{
    fputs("| method | path | permission | viewer | predictor | reviewer | deployer | admin |\n"
          "|---|---|---|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < N_ROUTES; i++) {
        /* A '|' of an optional group would end a cell: written as a Markdown escape. */
        fprintf(out, "| %s | `", routes[i].method);
        for (const char *c = routes[i].path; *c != '\0'; c++)
            fputs(*c == '|' ? "\\|" : (char[2]){*c, '\0'}, out);
        fprintf(out, "` | %s |", md_perm_name(routes[i].perm));
        for (int r = MD_ROLE_VIEWER; r <= MD_ROLE_ADMIN; r++)
            fputs((md_role_perms((enum md_role)r) & routes[i].perm) ? " yes |" : " - |", out);
        fputc('\n', out);
    }
}
