/* SPDX-License-Identifier: MIT */
/*
 * settings.h: the daemon's settings: the one table that lists them (flag,
 * file key, kind and limits, default, --help text, field below), the
 * command line and the --config file read through it, and --help. A new
 * setting is a field here and an entry in settings.c's table; its flag, its
 * key in the file, its checks, its --help line and its row in GET
 * /api/v1/settings follow. Reading tables and files is util/config.c's;
 * using the values is main's.
 */
#ifndef MD_CONTROL_SETTINGS_H
#define MD_CONTROL_SETTINGS_H

#include "util/common.h"
#include "util/err.h"
#include "util/config.h"
#include "control/alerting.h"
#include "control/strategies.h"
#include "control/trainers.h"

/* Written by md_settings_parse; read-only afterwards. */
struct md_settings {
    const char *repo;              /* --repo: the model repository */
    const char *listen;            /* --listen: HOST:PORT to serve on */
    bool insecure;                 /* --insecure: serve without --auth on any listener */
    bool auth;                     /* --auth: requests need a bearer token (api/auth.h) */
    bool auth_health;              /* --auth-health: with --auth, health endpoints need one too */
    bool auth_metrics;             /* --auth-metrics: with --auth, /metrics needs one too */
    const char *session_idle;      /* --session-idle: a dashboard session's idle life ("1h") */
    int64_t session_idle_ms;       /* the same, read by md_settings_parse */
    const char *session_max_age;   /* --session-max-age: its whole life ("12h") */
    int64_t session_max_age_ms;    /* the same, read by md_settings_parse */
    uint64_t sessions_max;         /* --sessions-max: sessions kept at most */
    const char *data;              /* --data: the daemon's own data directory */
    uint64_t poll_s;               /* --poll: seconds between repository scans; 0 = none */
    uint64_t threads;              /* --threads: HTTP worker threads; 0 = one per core */
    uint64_t max_body_bytes;       /* --max-body-bytes */
    uint64_t max_upload_bytes;     /* --max-upload-bytes */
    uint64_t max_connections;      /* --max-connections */
    uint64_t idle_timeout_s;       /* --idle-timeout */
    uint64_t max_header_bytes;     /* --max-header-bytes */
    uint64_t conn_buffer_bytes;    /* --conn-buffer-bytes */
    uint64_t shutdown_delay_s;     /* --shutdown-delay */
    uint64_t drain_timeout_s;      /* --drain-timeout */
    uint64_t load_timeout_s;       /* --load-timeout */
    uint64_t load_memory_mb;       /* --load-memory-mb */
    uint64_t shadow_queue;         /* --shadow-queue: shadow copies waiting at most */
    uint64_t shadow_threads;       /* --shadow-threads: workers running shadow copies */
    int log_level;                 /* --log-level: an enum md_log_level */
    const char *access_log;        /* --access-log FILE or "-", or NULL */
    const char *history_retention; /* --history-retention: a duration ("30d") */
    int64_t history_retention_ms;  /* the same, read by md_settings_parse */
    const char *history_metrics;   /* --history-metrics: names with an argument, or NULL */
    const char *tls_cert;          /* --tls-cert FILE, or NULL: plain HTTP */
    const char *tls_key;           /* --tls-key FILE, or NULL */
    const char *tls_client_ca;     /* --tls-client-ca FILE, or NULL: no client certificates */
    const char *config_file;       /* --config FILE, or NULL */
    struct md_config config;       /* the table, each value's source, the file read */
    uint64_t log_ring;             /* --log-ring: prediction records queued for the log at most */
    uint64_t log_horizon_days;     /* --log-horizon-days: prediction records kept this long */
    uint64_t log_features_days;    /* --log-features-days: their features this long (0: horizon) */
    uint64_t log_features_rows;  /* --log-features-rows: only the newest N keep features (0: all) */
    const char *pii_key_file;    /* --pii-key-file: the key of `pii: hash` features, or NULL */
    const char *audit_key_file;  /* --audit-key-file: the audit chain's MAC key, or NULL: off */
    const char *data_key_file;   /* --data-key-file: the data keys of encryption at rest, or NULL */
    uint64_t feedback_horizon_s; /* --feedback-horizon: feedback waits this long for its row */
    struct md_strategies strategies; /* the file's `strategies:`, stored at start */
    /* The file's `alert_rules:` and `receivers:`. */
    struct md_alerting_config alerting;
    struct md_trainers trainers; /* the file's `trainers:` (control/trainers.h) */
    const char *user;            /* --user: the user to run as after binding, or NULL */
    /* --subject-key-file: the key of subject hashes (watch/subject.h), or NULL */
    const char *subject_key_file;
    /* JSON Web Tokens: --jwt-*, read into api/jwt.h's struct md_jwt_config by main. */
    const char *jwt_jwks_file;    /* the JWKS file, or NULL: no JSON Web Tokens */
    const char *jwt_issuer;       /* the "iss" required, or NULL */
    const char *jwt_audience;     /* the "aud" required, or NULL */
    const char *jwt_role_claim;   /* the roles' claim ("roles") */
    const char *jwt_models_claim; /* the models' claim, or NULL: no model scope */
    uint64_t jwt_skew_s;          /* clock skew on exp and nbf, seconds */
};

/* What the command line asks for. */
enum md_settings_action {
    MD_SETTINGS_SERVE = 0, /* run the daemon */
    MD_SETTINGS_CHECK,     /* --check: check the repository and exit */
    MD_SETTINGS_HELP,      /* --help: print md_settings_usage on stdout, exit 0 */
    MD_SETTINGS_VERSION,   /* --version */
    MD_SETTINGS_ROUTES,    /* --routes: print the route table on stdout, exit 0 */
    MD_SETTINGS_ROLES,     /* --role-matrix: print the role matrix on stdout, exit 0 */
    MD_SETTINGS_USAGE,     /* an unknown flag, a missing value, an extra argument: print
                              the message and the usage on stderr, exit 2 */
    MD_SETTINGS_BAD        /* a bad value in a flag or the file, an unreadable file:
                              print the message on stderr, exit 2 */
};

/* Every setting at its default. Release with md_settings_release. */
void md_settings_init(struct md_settings *s);

/* Frees what s holds (text read from the file goes with it). */
void md_settings_release(struct md_settings *s);

/*
 * Reads the command line, then the --config file if one was given (a flag
 * overrides the file, whichever comes first), into s (from md_settings_init)
 * and says what to do. err is set for MD_SETTINGS_USAGE and MD_SETTINGS_BAD:
 * "--poll: 'x' is not a whole number from 0 to 86400", "FILE:3: pol: unknown
 * key". --help, --version and --routes stop the reading where they stand.
 */
enum md_settings_action md_settings_parse(struct md_settings *s, int argc, char **argv,
                                          struct md_err *err);

/* The --help text. */
void md_settings_usage(FILE *out);

/* The setting named key (the file's spelling) was given, by a flag or the file. */
bool md_settings_given(const struct md_settings *s, const char *key);

#endif
