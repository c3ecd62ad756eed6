/* SPDX-License-Identifier: MIT */
/*
 * settings.c: the table of the daemon's settings, its flag-only actions
 * (--config, --check, --version, --help) and the --help text around them.
 *
 * To add a setting: a field in struct md_settings (settings.h) and one entry
 * below; main reads the field. Its flag, its key in the --config file, its
 * checks, its --help line and its row in GET /api/v1/settings come from the
 * entry. The limits are the ones main's users rely on (a thread count a
 * machine can start, a body size an int can count).
 */
#include "control/settings.h"
#include "backend/loadcheck.h"
#include "net/http.h"
#include "serve/shadow.h"
#include "watch/predlog.h"
#include "util/log.h"
#include "watch/history.h"

/* A macro holding a number, as text for --help. */
#define STR_(x)         #x
#define STR(x)          STR_(x)
#define CONN_BUFFER_MAX STR(MD_HTTP_CONN_BUFFER_MAX)

#define HISTORY_RETENTION_MAX_MS (3650LL * 86400 * 1000)
#define SESSION_MAX_MS           (30LL * 86400 * 1000)
#define STRING_AT(f)             MD_CONFIG_STRING_AT(struct md_settings, f)
#define UINT_AT(f)               MD_CONFIG_UINT_AT(struct md_settings, f)
#define ENUM_AT(f)               MD_CONFIG_ENUM_AT(struct md_settings, f)
#define BOOL_AT(f)               MD_CONFIG_BOOL_AT(struct md_settings, f)

static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};

static int parse_log_level(const char *s)
{
    return md_log_parse_level(s);
}

/* Every setting, in --help's order. */
static const struct md_config_setting table[] = {
    {.flag = "repo",
     .key = "repo",
     .kind = MD_CONFIG_STRING,
     .metavar = "DIR",
     .help = "model repository",
     .offset = STRING_AT(repo),
     .def_text = "models"},
    {.flag = "listen",
     .key = "listen",
     .kind = MD_CONFIG_STRING,
     .metavar = "HOST:PORT",
     .help = "address to serve on",
     .offset = STRING_AT(listen),
     .def_text = "127.0.0.1:8080"},
    {.flag = "insecure",
     .key = "insecure",
     .kind = MD_CONFIG_BOOL,
     .help = "serve without --auth on a --listen address that is not loopback, where anyone who "
             "can reach it may do anything; without it modeld refuses to start there",
     .offset = BOOL_AT(insecure),
     .def_num = 0},
    {.flag = "auth",
     .key = "auth",
     .kind = MD_CONFIG_BOOL,
     .help = "requests need a bearer token (Authorization: Bearer mdt_...), whose role and "
             "models decide what they may do; make the first with 'modeld token create --role "
             "admin'",
     .offset = BOOL_AT(auth),
     .def_num = 0},
    {.flag = "auth-health",
     .key = "auth_health",
     .kind = MD_CONFIG_BOOL,
     .help = "with --auth, /v2/health/live and /v2/health/ready need a token too (off: probes "
             "need none)",
     .offset = BOOL_AT(auth_health),
     .def_num = 0},
    {.flag = "auth-metrics",
     .key = "auth_metrics",
     .kind = MD_CONFIG_BOOL,
     .help = "with --auth, /metrics needs a token too (a viewer's); --auth-metrics=false leaves "
             "it open",
     .offset = BOOL_AT(auth_metrics),
     .def_num = 1},
    {.flag = "session-idle",
     .key = "session_idle",
     .kind = MD_CONFIG_STRING,
     .metavar = "DURATION",
     .help = "with --auth, a dashboard session (POST /api/v1/session) ends after this long "
             "without a request: digits and a unit, s, m, h or d; at most 30d",
     .offset = STRING_AT(session_idle),
     .def_text = "1h"},
    {.flag = "session-max-age",
     .key = "session_max_age",
     .kind = MD_CONFIG_STRING,
     .metavar = "DURATION",
     .help = "with --auth, a dashboard session ends this long after its sign-in, used or not "
             "(the cookie's Max-Age); at most 30d",
     .offset = STRING_AT(session_max_age),
     .def_text = "12h"},
    {.flag = "sessions-max",
     .key = "sessions_max",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "with --auth, dashboard sessions kept in memory at most; a sign-in past it ends "
             "the session unused longest",
     .offset = UINT_AT(sessions_max),
     .def_num = 1024,
     .min = 1,
     .max = 1000000},
    {.flag = "data",
     .key = "data",
     .kind = MD_CONFIG_STRING,
     .metavar = "DIR",
     .help = "directory for the daemon's own data",
     .offset = STRING_AT(data),
     .def_text = "var"},
    {.flag = "poll",
     .key = "poll",
     .kind = MD_CONFIG_UINT,
     .metavar = "SECONDS",
     .help = "re-scan the repository this often; 0 = only on SIGHUP and repository API calls",
     .offset = UINT_AT(poll_s),
     .def_num = 0,
     .min = 0,
     .max = 86400},
    {.flag = "threads",
     .key = "threads",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "HTTP worker threads; 0 = one per core",
     .offset = UINT_AT(threads),
     .def_num = 0,
     .min = 0,
     .max = 1024},
    {.flag = "max-body-bytes",
     .key = "max_body_bytes",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "largest request body accepted",
     .offset = UINT_AT(max_body_bytes),
     .def_num = 64ul << 20,
     .min = 1,
     .max = 1ul << 31},
    {.flag = "max-upload-bytes",
     .key = "max_upload_bytes",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "largest upload of a version (POST /api/v1/models/{m}/versions, streamed to a "
             "temporary file under --data): the whole multipart body",
     .offset = UINT_AT(max_upload_bytes),
     .def_num = 1ul << 30,
     .min = 1,
     .max = 1ull << 40},
    {.flag = "max-connections",
     .key = "max_connections",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "concurrent connections",
     .offset = UINT_AT(max_connections),
     .def_num = 4096,
     .min = 0,
     .max = 1000000},
    {.flag = "idle-timeout",
     .key = "idle_timeout",
     .kind = MD_CONFIG_UINT,
     .metavar = "S",
     .help = "close idle keep-alive connections after S seconds",
     .offset = UINT_AT(idle_timeout_s),
     .def_num = 60,
     .min = 0,
     .max = 86400},
    {.flag = "max-header-bytes",
     .key = "max_header_bytes",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "largest request line plus headers; larger get 431 or 414",
     .offset = UINT_AT(max_header_bytes),
     .def_num = MD_HTTP_MAX_HEADER,
     .min = 1024,
     .max = 1ul << 20},
    {.flag = "conn-buffer-bytes",
     .key = "conn_buffer_bytes",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "memory per connection for the request line, headers and reading the body, half of "
             "it a read; 4096 to " CONN_BUFFER_MAX ", raised to twice --max-header-bytes",
     .offset = UINT_AT(conn_buffer_bytes),
     .def_num = MD_HTTP_CONN_BUFFER,
     .min = 4096,
     .max = MD_HTTP_CONN_BUFFER_MAX},
    {.flag = "shutdown-delay",
     .key = "shutdown_delay",
     .kind = MD_CONFIG_UINT,
     .metavar = "S",
     .help = "on SIGTERM, answer readiness 503 and keep serving for S seconds before closing "
             "the listener, so a load balancer stops sending first",
     .offset = UINT_AT(shutdown_delay_s),
     .def_num = 0,
     .min = 0,
     .max = 3600},
    {.flag = "drain-timeout",
     .key = "drain_timeout",
     .kind = MD_CONFIG_UINT,
     .metavar = "S",
     .help = "then wait up to S seconds for requests already received",
     .offset = UINT_AT(drain_timeout_s),
     .def_num = 10,
     .min = 0,
     .max = 3600},
    {.flag = "load-timeout",
     .key = "load_timeout",
     .kind = MD_CONFIG_UINT,
     .metavar = "S",
     .help = "loads through a foreign library (backend xgboost) are tried first in a helper "
             "process, killed after S seconds",
     .offset = UINT_AT(load_timeout_s),
     .def_num = MD_LOADCHECK_TIMEOUT_S,
     .min = 1,
     .max = 3600},
    {.flag = "load-memory-mb",
     .key = "load_memory_mb",
     .kind = MD_CONFIG_UINT,
     .metavar = "MB",
     .help = "or once its resident memory passes MB MiB",
     .offset = UINT_AT(load_memory_mb),
     .def_num = MD_LOADCHECK_MEMORY_MB,
     .min = 16,
     .max = 1ul << 20},
    {.flag = "shadow-queue",
     .key = "shadow_queue",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "copies of answered requests waiting for shadow versions at most; past it they are "
             "dropped and counted",
     .offset = UINT_AT(shadow_queue),
     .def_num = MD_SHADOW_QUEUE_DEFAULT,
     .min = 1,
     .max = MD_SHADOW_QUEUE_MAX},
    {.flag = "shadow-threads",
     .key = "shadow_threads",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "threads that run shadow copies, at a lower priority (nice 10)",
     .offset = UINT_AT(shadow_threads),
     .def_num = MD_SHADOW_THREADS_DEFAULT,
     .min = 1,
     .max = MD_SHADOW_THREADS_MAX},
    {.flag = "log-ring",
     .key = "log_ring",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "prediction records waiting for the log's writer at most; past it they are dropped "
             "and counted, never waited for. 0 turns the prediction log off",
     .offset = UINT_AT(log_ring),
     .def_num = MD_PREDLOG_RING_DEFAULT,
     .min = 0,
     .max = MD_PREDLOG_RING_MAX},
    {.flag = "log-horizon-days",
     .key = "log_horizon_days",
     .kind = MD_CONFIG_UINT,
     .metavar = "D",
     .help = "prediction records (ids, time, version, route, outputs: what feedback needs) are "
             "kept D days",
     .offset = UINT_AT(log_horizon_days),
     .def_num = MD_PREDLOG_HORIZON_DAYS,
     .min = 1,
     .max = 36500},
    {.flag = "log-features-days",
     .key = "log_features_days",
     .kind = MD_CONFIG_UINT,
     .metavar = "D",
     .help = "their features are kept D days (0: as long as the record)",
     .offset = UINT_AT(log_features_days),
     .def_num = 0,
     .min = 0,
     .max = 36500},
    {.flag = "log-features-rows",
     .key = "log_features_rows",
     .kind = MD_CONFIG_UINT,
     .metavar = "N",
     .help = "only the newest N records keep their features (0: no limit)",
     .offset = UINT_AT(log_features_rows),
     .def_num = 0,
     .min = 0,
     .max = 1ull << 40},
    {.flag = "pii-key-file",
     .key = "pii_key_file",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "the key (16 to 1024 bytes) of the HMAC-SHA256 that replaces features marked "
             "`pii: hash` in the prediction log; never stored nor logged. A model that hashes "
             "a feature does not load without it",
     .offset = STRING_AT(pii_key_file),
     .def_text = NULL},
    {.flag = "audit-key-file",
     .key = "audit_key_file",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "the key (16 to 1024 bytes; mode 0600 or 0640) of the audit log's HMAC-SHA256 "
             "chain, kept outside the data directory; never stored nor logged. Without it the "
             "audit log is off",
     .offset = STRING_AT(audit_key_file),
     .def_text = NULL},
    {.flag = "subject-key-file",
     .key = "subject_key_file",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "the key (16 to 1024 bytes, a file only its owner may read) of the HMAC-SHA256 "
             "that stores a row's subject id (a key marked `subject: true`) as a hash by which "
             "erasure finds it; without it, DATA/subject.key, made at the first start",
     .offset = STRING_AT(subject_key_file),
     .def_text = NULL},
    {.flag = "data-key-file",
     .key = "data_key_file",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "the data keys (one per line, 64 hex digits; the last encrypts, all decrypt) of "
             "encryption at rest: prediction-log keys, features, labels and outputs, feedback and "
             "review comments are stored AES-256-GCM encrypted; without it they are stored in "
             "clear",
     .offset = STRING_AT(data_key_file),
     .def_text = NULL},
    {.flag = "feedback-horizon",
     .key = "feedback_horizon",
     .kind = MD_CONFIG_UINT,
     .metavar = "SECONDS",
     .help = "feedback whose prediction row is not stored within SECONDS of its arrival is "
             "counted as orphaned (default 30 days)",
     .offset = UINT_AT(feedback_horizon_s),
     .def_num = 30ull * 24 * 3600,
     .min = 1,
     .max = 10ull * 365 * 24 * 3600},
    {.flag = "log-level",
     .key = "log_level",
     .kind = MD_CONFIG_ENUM,
     .metavar = "LEVEL",
     .help = "debug, info, warn, error or off",
     .offset = ENUM_AT(log_level),
     .def_num = MD_LOG_INFO,
     .words = log_levels,
     .parse_word = parse_log_level},
    {.flag = "access-log",
     .key = "access_log",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "append one JSON line per request to FILE ('-' for standard output); reopened on "
             "SIGHUP",
     .offset = STRING_AT(access_log),
     .def_text = NULL},
    {.flag = "history-retention",
     .key = "history_retention",
     .kind = MD_CONFIG_STRING,
     .metavar = "DURATION",
     .help = "keep the per-minute history of the named metrics this long: digits and a unit, s, "
             "m, h or d (90m, 12h, 30d); at most 3650d",
     .offset = STRING_AT(history_retention),
     .def_text = "30d"},
    {.flag = "history-metrics",
     .key = "history_metrics",
     .kind = MD_CONFIG_STRING,
     .metavar = "LIST",
     .help = "names with an argument whose per-minute history is kept too, separated by commas "
             "(missing_rate:age,f1:fraud); every name without one is kept anyway",
     .offset = STRING_AT(history_metrics),
     .def_text = NULL},
    /* TLS on the listener (net/tls.h) */
    {.flag = "tls-cert",
     .key = "tls_cert",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "PEM certificate (then any intermediates) of the listener: with --tls-key, "
             "--listen speaks TLS only, no plain HTTP; re-read on SIGHUP",
     .offset = STRING_AT(tls_cert),
     .def_text = NULL},
    {.flag = "tls-key",
     .key = "tls_key",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "PEM private key of --tls-cert, a file only its owner (and group) may read; "
             "re-read on SIGHUP",
     .offset = STRING_AT(tls_key),
     .def_text = NULL},
    {.flag = "tls-client-ca",
     .key = "tls_client_ca",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "PEM CA certificates: every client must present a certificate they issued "
             "(mutual TLS), or the handshake fails; re-read on SIGHUP",
     .offset = STRING_AT(tls_client_ca),
     .def_text = NULL},
    /* part harden: drop root after binding */
    {.flag = "user",
     .key = "user",
     .kind = MD_CONFIG_STRING,
     .metavar = "NAME",
     .help = "when started as root: bind the listener, then run as user NAME (its group, no "
             "supplementary groups) before opening anything else; the data directory, the "
             "repository and key files must be that user's to read",
     .offset = STRING_AT(user),
     .def_text = NULL},
    /* JSON Web Tokens (api/jwt.h): on when a JWKS file is given. */
    {.flag = "jwt-jwks-file",
     .key = "jwt_jwks_file",
     .kind = MD_CONFIG_STRING,
     .metavar = "FILE",
     .help = "accept JSON Web Tokens (RS256, ES256) signed by the keys of this JWKS file, read at "
             "start; nothing is fetched from the network. Needs --jwt-issuer and --jwt-audience",
     .offset = STRING_AT(jwt_jwks_file),
     .def_text = NULL},
    {.flag = "jwt-issuer",
     .key = "jwt_issuer",
     .kind = MD_CONFIG_STRING,
     .metavar = "TEXT",
     .help = "the issuer (\"iss\") a JSON Web Token must name, exactly",
     .offset = STRING_AT(jwt_issuer),
     .def_text = NULL},
    {.flag = "jwt-audience",
     .key = "jwt_audience",
     .kind = MD_CONFIG_STRING,
     .metavar = "TEXT",
     .help = "the audience a JSON Web Token's \"aud\" must hold",
     .offset = STRING_AT(jwt_audience),
     .def_text = NULL},
    {.flag = "jwt-role-claim",
     .key = "jwt_role_claim",
     .kind = MD_CONFIG_STRING,
     .metavar = "PATH",
     .help = "the claim naming a token's roles (a string or an array; names joined by dots reach "
             "into objects, as realm_access.roles): each of viewer, predictor, reviewer, deployer "
             "and admin it names grants its permissions, other names nothing",
     .offset = STRING_AT(jwt_role_claim),
     .def_text = "roles"},
    {.flag = "jwt-models-claim",
     .key = "jwt_models_claim",
     .kind = MD_CONFIG_STRING,
     .metavar = "PATH",
     .help = "the claim naming the models a token may use (a string or an array); a token "
             "without it may use every model. Unset: every token may use every model",
     .offset = STRING_AT(jwt_models_claim),
     .def_text = NULL},
    {.flag = "jwt-skew",
     .key = "jwt_skew",
     .kind = MD_CONFIG_UINT,
     .metavar = "SECONDS",
     .help = "clock skew allowed on a JSON Web Token's exp and nbf",
     .offset = UINT_AT(jwt_skew_s),
     .def_num = 60,
     .min = 0,
     .max = 3600},
};

enum { A_CONFIG, A_CHECK, A_ROUTES, A_VERSION, A_HELP, A_ROLE_MATRIX };

/* Flags that are not settings: never in the file, never in the API. */
static const struct md_config_action actions[] = {
    {"config", "FILE",
     "read settings from this YAML file: each under its flag's name with '_' for '-' "
     "(max_body_bytes: 1048576); a flag given too overrides the file",
     A_CONFIG},
    {"check", NULL,
     "load the repository once as the server would (every model.yaml, every version its "
     "policy selects, each engine checked against the contract), print a table MODEL "
     "VERSION STATE REASON and exit: 0 when all load, 1 when any fails or there is no "
     "model, 2 on bad flags or a bad --config file. Opens no port and writes nothing; logs "
     "are off unless a log level is set",
     A_CHECK},
    {"routes", NULL,
     "print the route table, METHOD PATH PERMISSION SCOPE an endpoint a line, and exit", A_ROUTES},
    {"role-matrix", NULL,
     "print which role may call each endpoint, a Markdown table (docs/security.md), and exit",
     A_ROLE_MATRIX},
    {"version", NULL, "print the version and exit", A_VERSION},
    {"help", NULL, "print this help and exit", A_HELP},
};

static const char usage_head[] =
    "usage: modeld [options]\n"
    "       modeld --check [--repo DIR] [--config FILE]\n"
    "       modeld audit verify --data DIR --audit-key-file FILE\n"
    "       modeld token create --role ROLE [--name N] [--models a,b] [--expires 30d]\n"
    "                           [--rate N [--burst N]] [--data DIR]\n"
    "\n"
    "Serves the models of a model repository over HTTP: the Open Inference\n"
    "Protocol (KServe V2) under /v2, TensorFlow Serving's REST API under /v1,\n"
    "Prometheus metrics at /metrics.\n"
    "\n"
    "options:\n";

static const char usage_tail[] =
    "\n"
    "signals: SIGTERM/SIGINT stop gracefully (a second one during --shutdown-delay\n"
    "ends the delay); SIGHUP re-scans the repository, reopens the access log and\n"
    "reads the tokens again (those made offline meanwhile).\n";

struct parse_ctx {
    struct md_settings *s;
    enum md_settings_action action;
};

static int on_action(void *vctx, int id, const char *value, struct md_err *err)
{
    struct parse_ctx *x = vctx;

    switch (id) {
    case A_CONFIG:
        if (x->s->config_file != NULL)
            return md_err_set(err, MD_EINVAL, "--config: given more than once");
        x->s->config_file = value;
        return MD_OK;
    case A_CHECK:
        x->action = MD_SETTINGS_CHECK;
        return MD_OK;
    case A_ROUTES:
        x->action = MD_SETTINGS_ROUTES;
        return 1;
    case A_ROLE_MATRIX:
        x->action = MD_SETTINGS_ROLES;
        return 1;
    case A_VERSION:
        x->action = MD_SETTINGS_VERSION;
        return 1;
    case A_HELP:
        x->action = MD_SETTINGS_HELP;
        return 1;
    default:
        return md_err_set(err, MD_EINVAL, "unknown action %d", id);
    }
}

void md_settings_init(struct md_settings *s)
{
    memset(s, 0, sizeof(*s));
    md_config_init(&s->config, table, MD_ARRAY_LEN(table), s);
    md_alerting_config_init(&s->alerting);
}

void md_settings_release(struct md_settings *s)
{
    md_config_release(&s->config);
    md_strategies_release(&s->strategies);
    md_alerting_config_release(&s->alerting);
    md_trainers_release(&s->trainers);
}

enum md_settings_action md_settings_parse(struct md_settings *s, int argc, char **argv,
                                          struct md_err *err)
{
    struct parse_ctx x = {.s = s, .action = MD_SETTINGS_SERVE};
    int rc =
        md_config_args(&s->config, actions, MD_ARRAY_LEN(actions), argc, argv, on_action, &x, err);

    if (rc == MD_ENOTFOUND)
        return MD_SETTINGS_USAGE;
    if (rc != MD_OK)
        return MD_SETTINGS_BAD;
    if (x.action == MD_SETTINGS_HELP || x.action == MD_SETTINGS_VERSION ||
        x.action == MD_SETTINGS_ROUTES || x.action == MD_SETTINGS_ROLES)
        return x.action;
    if (s->config_file != NULL) {
        /* Sections of the file: rollout strategies, alert rules and their receivers,
         * external trainers. */
        const struct md_config_section sections[] = {
            {"strategies", md_strategies_parse, &s->strategies},
            {"alert_rules", md_alert_rules_parse, &s->alerting},
            {"receivers", md_receivers_parse, &s->alerting},
            {"trainers", md_trainers_parse, &s->trainers},
        };

        rc = md_config_load(&s->config, s->config_file, sections, MD_ARRAY_LEN(sections), err);
        if (rc == MD_EIO || rc == MD_ETOOBIG)
            md_err_prefix(err, "--config: ");
        if (rc != MD_OK)
            return MD_SETTINGS_BAD;
    }
    if (!md_history_duration(s->history_retention, HISTORY_RETENTION_MAX_MS,
                             &s->history_retention_ms)) {
        md_err_set(err, MD_EINVAL,
                   "history_retention: '%.40s' is not a duration from 1s to 3650d (90m, 12h, 30d)",
                   s->history_retention);
        return MD_SETTINGS_BAD;
    }
    if (!md_history_duration(s->session_idle, SESSION_MAX_MS, &s->session_idle_ms)) {
        md_err_set(err, MD_EINVAL,
                   "session_idle: '%.40s' is not a duration from 1s to 30d (90s, 30m, 1h)",
                   s->session_idle);
        return MD_SETTINGS_BAD;
    }
    if (!md_history_duration(s->session_max_age, SESSION_MAX_MS, &s->session_max_age_ms)) {
        md_err_set(err, MD_EINVAL,
                   "session_max_age: '%.40s' is not a duration from 1s to 30d (90m, 12h, 7d)",
                   s->session_max_age);
        return MD_SETTINGS_BAD;
    }
    /* TLS: an empty path is none (--tls-cert= undoes the file's); the
     * certificate and its key go together; a client CA needs them. */
    if (s->tls_cert != NULL && s->tls_cert[0] == '\0')
        s->tls_cert = NULL;
    if (s->tls_key != NULL && s->tls_key[0] == '\0')
        s->tls_key = NULL;
    if (s->tls_client_ca != NULL && s->tls_client_ca[0] == '\0')
        s->tls_client_ca = NULL;
    if ((s->tls_cert != NULL) != (s->tls_key != NULL)) {
        md_err_set(err, MD_EINVAL, "%s: TLS needs both --tls-cert and --tls-key",
                   s->tls_cert != NULL ? "tls_cert without tls_key" : "tls_key without tls_cert");
        return MD_SETTINGS_BAD;
    }
    if (s->tls_client_ca != NULL && s->tls_cert == NULL) {
        md_err_set(err, MD_EINVAL,
                   "tls_client_ca: client certificates need TLS (--tls-cert and --tls-key)");
        return MD_SETTINGS_BAD;
    }
    return x.action;
}

void md_settings_usage(FILE *out)
{
    fputs(usage_head, out);
    md_config_usage(table, MD_ARRAY_LEN(table), actions, MD_ARRAY_LEN(actions), out);
    fputs(usage_tail, out);
}

bool md_settings_given(const struct md_settings *s, const char *key)
{
    int i = md_config_find(&s->config, key);

    return i >= 0 && md_config_source_of(&s->config, (size_t)i) != MD_CONFIG_DEFAULT;
}
