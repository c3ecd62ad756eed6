/* SPDX-License-Identifier: MIT */
/*
 * security.c: GET /api/v1/security/report: a self-assessment of what the
 * daemon runs with, computed at the call: TLS and mutual TLS, authentication,
 * the tokens by role with those near expiry, unused or without expiry, the
 * JSON Web Token checks, which endpoints answer without a token, every key
 * file given re-checked now (util/keyfile.h), the audit log, encryption at
 * rest, retention, the process's user and the data directory's mode. Each
 * finding has an id, an area, a severity (high, medium, low, info), a status
 * (ok, warn, fail), what was found and the fix; ok findings are info. The
 * tokens are read in a store job (after the last uses are written), so the
 * report sees what GET /api/v1/tokens would.
 */
#include "api/handlers.h"
#include "api/token.h"
#include "store/store.h"
#include "util/config.h"
#include "util/keyfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_MS         ((int64_t)86400000)
#define EXPIRY_SOON_MS (7 * DAY_MS)  /* a token expiring sooner is reported */
#define UNUSED_MS      (90 * DAY_MS) /* a token unused this long is reported */
#define SKEW_MAX_S     300           /* a larger JWT clock skew is reported */
#define HORIZON_MAX    365           /* a longer --log-horizon-days is reported */

/* The report being written. */
struct report {
    struct md_buf *b;
    size_t n;
    size_t sev[4]; /* findings by severity: high, medium, low, info */
};

static const char *const sev_names[] = {"high", "medium", "low", "info"};
enum { HIGH, MEDIUM, LOW, INFO };

/* Appends one finding; fix may be NULL (nothing to do). token names the token it is about. */
MD_PRINTF(7, 8)
static void finding(struct report *r, const char *id, const char *area, int sev, const char *fix,
                    const char *token, const char *fmt, ...)
{
    char text[768];
    va_list ap;
    const char *status = sev == INFO ? "ok" : sev == HIGH ? "fail" : "warn";

    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    (void)md_buf_puts(r->b, r->n++ > 0 ? ",{\"id\":" : "{\"id\":");
    (void)md_buf_json_str(r->b, id, strlen(id));
    (void)md_buf_puts(r->b, ",\"area\":");
    (void)md_buf_json_str(r->b, area, strlen(area));
    (void)md_buf_printf(r->b, ",\"severity\":\"%s\",\"status\":\"%s\"", sev_names[sev], status);
    if (token != NULL) {
        (void)md_buf_puts(r->b, ",\"token\":");
        (void)md_buf_json_str(r->b, token, strlen(token));
    }
    (void)md_buf_puts(r->b, ",\"finding\":");
    (void)md_buf_json_str(r->b, text, strlen(text));
    (void)md_buf_puts(r->b, ",\"fix\":");
    if (fix != NULL)
        (void)md_buf_json_str(r->b, fix, strlen(fix));
    else
        (void)md_buf_puts(r->b, "null");
    (void)md_buf_putc(r->b, '}');
    r->sev[sev]++;
}

/* ---- tokens --------------------------------------------------------------- */

struct tokens {
    struct report *r;
    int64_t now_ms;
    size_t active[MD_ROLE_COUNT + 1]; /* by enum md_role */
    size_t flagged;                   /* tokens with a finding */
};

static void token_row(void *ctx, const struct md_store_token *t)
{
    struct tokens *k = ctx;
    char fix[256];
    int64_t idle;

    if (t->revoked_ms != 0 || (t->expires_ms != 0 && k->now_ms >= t->expires_ms))
        return; /* no longer lets anyone in */
    k->active[md_role_parse(t->role)]++;
    if (t->expires_ms != 0 && t->expires_ms - k->now_ms <= EXPIRY_SOON_MS) {
        (void)snprintf(fix, sizeof(fix),
                       "modelctl token create --role %s --expires 30d, hand it out, then "
                       "modelctl token revoke %s",
                       t->role, t->name);
        finding(k->r, "tokens.expiring", "tokens", MEDIUM, fix, t->name,
                "token '%s' (%s) expires in %.1f days", t->name, t->role,
                (double)(t->expires_ms - k->now_ms) / (double)DAY_MS);
        k->flagged++;
    }
    idle = k->now_ms - (t->last_used_ms != 0 ? t->last_used_ms : t->created_ms);
    if (idle >= UNUSED_MS) {
        (void)snprintf(fix, sizeof(fix), "modelctl token revoke %s", t->name);
        if (t->last_used_ms != 0)
            finding(k->r, "tokens.unused", "tokens", MEDIUM, fix, t->name,
                    "token '%s' (%s) last used %lld days ago", t->name, t->role,
                    (long long)(idle / DAY_MS));
        else
            finding(k->r, "tokens.unused", "tokens", MEDIUM, fix, t->name,
                    "token '%s' (%s) never used, made %lld days ago", t->name, t->role,
                    (long long)(idle / DAY_MS));
        k->flagged++;
    }
    if (t->expires_ms == 0) {
        (void)snprintf(fix, sizeof(fix),
                       "modelctl token create --role %s --expires 90d, hand it out, then "
                       "modelctl token revoke %s",
                       t->role, t->name);
        finding(k->r, "tokens.no-expiry", "tokens", LOW, fix, t->name,
                "token '%s' (%s) never expires", t->name, t->role);
        k->flagged++;
    }
}

/* The tokens' findings, and each role's count of active tokens; tx NULL: no store. */
static int tokens(struct report *r, struct md_store_tx *tx, bool auth, struct md_err *err)
{
    struct tokens k;
    int rc = MD_OK;

    memset(&k, 0, sizeof(k));
    k.r = r;
    k.now_ms = md_wall_ms();
    if (tx != NULL)
        rc = md_store_tx_tokens(tx, token_row, &k, err);
    if (rc != MD_OK)
        return rc;
    for (int role = MD_ROLE_ADMIN; role >= MD_ROLE_VIEWER; role--) {
        char id[32];

        (void)snprintf(id, sizeof(id), "roles.%s", md_role_name((enum md_role)role));
        finding(r, id, "roles", INFO, NULL, NULL, "role %s: %zu active tokens%s",
                md_role_name((enum md_role)role), k.active[role],
                auth ? "" : " (authentication off: not asked for)");
    }
    if (tx == NULL)
        finding(r, "tokens", "tokens", INFO, NULL, NULL, "no store: no tokens (--data)");
    else if (k.flagged == 0)
        finding(r, "tokens", "tokens", INFO, NULL, NULL,
                "no active token expires within 7 days, is unused for 90 days or never expires");
    return MD_OK;
}

/* ---- the rest ------------------------------------------------------------- */

static void transport(struct report *r, const struct md_config *c, const struct md_auth *a)
{
    const char *listen = a->listen != NULL ? a->listen : "?";
    const char *cert = md_config_text(c, "tls_cert");

    if (cert != NULL)
        finding(r, "tls", "transport", INFO, NULL, NULL, "TLS on the listener %s, plain HTTP off",
                listen);
    else if (a->loopback)
        finding(r, "tls", "transport", LOW, "--tls-cert FILE --tls-key FILE", NULL,
                "plain HTTP on the loopback address %s: local processes can read requests "
                "and tokens",
                listen);
    else
        finding(r, "tls", "transport", HIGH, "--tls-cert FILE --tls-key FILE", NULL,
                "plain HTTP on %s, not a loopback address: requests, answers and tokens cross "
                "the network in clear",
                listen);
    if (md_config_text(c, "tls_client_ca") != NULL)
        finding(r, "tls.client", "transport", INFO, NULL, NULL,
                "mutual TLS: clients need a certificate from the configured CAs");
    else
        finding(r, "tls.client", "transport", LOW,
                cert != NULL ? "--tls-client-ca FILE" : "--tls-cert, --tls-key and --tls-client-ca",
                NULL, "no client certificates asked for (no mutual TLS)");
}

static void who(struct report *r, const struct md_config *c, const struct md_auth *a)
{
    const char *jwks = md_config_text(c, "jwt_jwks_file");

    if (a->enabled)
        finding(r, "auth", "access", INFO, NULL, NULL, "authentication on: requests need a token");
    else if (a->loopback)
        finding(r, "auth", "access", MEDIUM,
                "--auth (first token: modeld token create --role admin)", NULL,
                "authentication off: any local user or process may do anything, tokens and "
                "keys included");
    else
        finding(r, "auth", "access", HIGH, "--auth (first token: modeld token create --role admin)",
                NULL,
                "authentication off on %s, not a loopback address (--insecure): anyone who "
                "reaches it may do anything",
                a->listen != NULL ? a->listen : "?");
    if (a->enabled) {
        if (a->open_metrics)
            finding(r, "auth.metrics", "access", LOW, "--auth-metrics", NULL,
                    "/metrics answers without a token (model names, request counts)");
        else
            finding(r, "auth.metrics", "access", INFO, NULL, NULL, "/metrics needs a token");
        if (a->open_health)
            finding(r, "auth.health", "access", INFO, NULL, NULL,
                    "the health endpoints answer without a token (probes); --auth-health "
                    "asks one");
        else
            finding(r, "auth.health", "access", INFO, NULL, NULL,
                    "the health endpoints need a token");
    }
    if (jwks == NULL) {
        finding(r, "jwt", "access", INFO, NULL, NULL, "no JSON Web Tokens taken");
        return;
    }
    finding(r, "jwt", "access", INFO, NULL, NULL, "JSON Web Tokens taken, keys from %s", jwks);
    if (md_config_text(c, "jwt_issuer") == NULL)
        finding(r, "jwt.issuer", "access", MEDIUM, "--jwt-issuer ISSUER", NULL,
                "no issuer required: a token signed by any key of the JWKS file is taken");
    if (md_config_text(c, "jwt_audience") == NULL)
        finding(r, "jwt.audience", "access", MEDIUM, "--jwt-audience AUDIENCE", NULL,
                "no audience required: a token the provider made for another service is taken");
    if (md_config_number(c, "jwt_skew") > SKEW_MAX_S)
        finding(r, "jwt.skew", "access", LOW, "--jwt-skew 60", NULL,
                "clock skew of %llu s: expired tokens are taken that long",
                (unsigned long long)md_config_number(c, "jwt_skew"));
}

static void keyfiles(struct report *r, const struct md_config *c)
{
    static const char *const keys[][2] = {
        {"tls_key", "tls-key"},
        {"audit_key_file", "audit-key-file"},
        {"data_key_file", "data-key-file"},
        {"subject_key_file", "subject-key-file"},
        {"pii_key_file", "pii-key-file"},
    };

    for (size_t i = 0; i < MD_ARRAY_LEN(keys); i++) {
        const char *path = md_config_text(c, keys[i][0]);
        char id[48];
        char fix[300];
        struct md_err err;

        if (path == NULL)
            continue;
        (void)snprintf(id, sizeof(id), "keyfile.%s", keys[i][1]);
        if (md_keyfile_check(path, &err) == MD_OK) {
            finding(r, id, "keys", INFO, NULL, NULL, "--%s %s: private (checked now)", keys[i][1],
                    path);
            continue;
        }
        (void)snprintf(fix, sizeof(fix), "chmod 600 %s", path);
        finding(r, id, "keys", HIGH, fix, NULL, "--%s: %s", keys[i][1], err.msg);
    }
}

static void data(struct report *r, const struct md_api *api, const struct md_config *c)
{
    const char *dir = md_config_text(c, "data");
    const char *hist = md_config_text(c, "history_retention");
    uint64_t horizon = md_config_number(c, "log_horizon_days");
    uint64_t features = md_config_number(c, "log_features_days");
    struct stat st;

    if (api->store == NULL) {
        finding(r, "store", "data", INFO, NULL, NULL, "no store: nothing is kept on disk");
        return;
    }
    if (api->audit)
        finding(r, "audit", "audit", INFO, NULL, NULL, "the audit log is on (a keyed chain)");
    else
        finding(r, "audit", "audit", MEDIUM, "--audit-key-file FILE", NULL,
                "the audit log is off: who changed what is not recorded");
    if (md_config_text(c, "data_key_file") != NULL)
        finding(r, "encryption", "data", INFO, NULL, NULL,
                "features, outputs, feedback comments and review notes are encrypted "
                "(AES-256-GCM)");
    else
        finding(r, "encryption", "data", MEDIUM, "--data-key-file FILE", NULL,
                "no data key: features, outputs, feedback comments and review notes are stored "
                "in clear");
    if (horizon > HORIZON_MAX)
        finding(r, "retention.log", "retention", LOW, "--log-horizon-days 90", NULL,
                "prediction records, feedback and review items kept %llu days",
                (unsigned long long)horizon);
    else
        finding(r, "retention.log", "retention", INFO, NULL, NULL,
                "prediction records, feedback and review items kept %llu days, features %llu",
                (unsigned long long)horizon,
                (unsigned long long)(features != 0 && features < horizon ? features : horizon));
    finding(r, "retention.history", "retention", INFO, NULL, NULL,
            "per-minute history of the named metrics kept %s", hist != NULL ? hist : "?");
    if (dir == NULL || stat(dir, &st) != 0)
        finding(r, "data.dir", "host", MEDIUM, NULL, NULL, "the data directory %s cannot be read",
                dir != NULL ? dir : "?");
    else if ((st.st_mode & 077) != 0) {
        char fix[300];

        (void)snprintf(fix, sizeof(fix), "chmod 700 %s", dir);
        finding(r, "data.dir", "host", MEDIUM, fix, NULL,
                "the data directory %s has mode %04o: other users may reach the store", dir,
                (unsigned)(st.st_mode & 07777));
    } else {
        finding(r, "data.dir", "host", INFO, NULL, NULL, "the data directory %s has mode %04o", dir,
                (unsigned)(st.st_mode & 07777));
    }
}

static void host(struct report *r)
{
    if (geteuid() == 0)
        finding(r, "user", "host", HIGH, "--user NAME", NULL,
                "running as root: a flaw in modeld would own the machine");
    else
        finding(r, "user", "host", INFO, NULL, NULL, "running as uid %u, not root",
                (unsigned)geteuid());
}

/* Writes the whole report into b; tx NULL: no store. */
static int write_report(struct md_api *api, struct md_store_tx *tx, struct md_buf *b,
                        struct md_err *err)
{
    struct report r;
    const struct md_config *c = api->config;
    int rc;

    memset(&r, 0, sizeof(r));
    r.b = b;
    (void)md_buf_printf(b, "{\"generated_ms\":%lld,\"findings\":[", (long long)md_wall_ms());
    transport(&r, c, &api->auth);
    who(&r, c, &api->auth);
    rc = tokens(&r, tx, api->auth.enabled, err);
    if (rc != MD_OK)
        return rc;
    keyfiles(&r, c);
    data(&r, api, c);
    host(&r);
    (void)md_buf_printf(b, "],\"summary\":{\"high\":%zu,\"medium\":%zu,\"low\":%zu,\"info\":%zu}}",
                        r.sev[HIGH], r.sev[MEDIUM], r.sev[LOW], r.sev[INFO]);
    return md_buf_error(b);
}

static int run_report(struct md_store_tx *tx, struct md_api_store_read *r, struct md_err *err)
{
    struct md_api *api = r->extra;
    int rc = md_token_write_used(tx, &api->auth, err);

    return rc == MD_OK ? write_report(api, tx, &r->out, err) : rc;
}

void md_security_api_report(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                            struct md_api_resp *resp)
{
    struct md_api_store_args args = {NULL, NULL, 0, NULL, false, api, NULL};
    struct md_err err;

    MD_UNUSED(rt);
    if (api->config == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "no settings: the report needs the daemon's settings");
        return;
    }
    if (api->store != NULL) {
        md_api_store_job(api, req, resp, run_report, &args, 200);
        return;
    }
    if (write_report(api, NULL, resp->body, &err) != MD_OK)
        md_api_error(resp, &err);
    else
        md_api_finish(resp, md_buf_error(resp->body));
}
