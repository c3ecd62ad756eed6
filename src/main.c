/* SPDX-License-Identifier: MIT */
/*
 * main.c: only main: flags, start, signals, stop.
 */
#include "util/aead.h"
#include "util/common.h"
#include "util/err.h"
#include "util/log.h"
#include "util/mem.h"
#include "api/ab.h"
#include "api/api.h"
#include "api/jwt.h"
#include "api/session.h"
#include "api/token.h"
#include "api/upload.h"
#include "backend/loadcheck.h"
#include "backend/registry.h"
#include "net/http.h"
#include "net/router.h"
#include "serve/repo.h"
#include "store/store.h"
#include "serve/predrec.h"
#include "serve/shadow.h"
#include "serve/dataq_feed.h"
#include "control/online.h"
#include "control/alerting.h"
#include "control/audit.h"
#include "control/check.h"
#include "control/control.h"
#include "control/feedback.h"
#include "control/rollouts.h"
#include "control/settings.h"
#include "control/trainjob.h"
#include "control/training.h"
#include "control/triggers.h"
#include "watch/ab.h"
#include "watch/accesslog.h"
#include "watch/compare.h"
#include "watch/subject.h"
#include "watch/dataq.h"
#include "watch/metrics.h"
#include "watch/history.h"
#include "watch/series.h"
#include "watch/outcomes.h"
#include "watch/review.h"
#include "watch/predlog.h"
#include "watch/signals.h"
#include "serve/drift_feed.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Ends the process after --help or --version: 0, or 1 when stdout did not
 * take the text (a full disk, a closed pipe).
 */
static _Noreturn void exit_after_output(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "modeld: cannot write output: %s\n", strerror(errno));
        exit(1);
    }
    exit(0);
}

/* Loads through a foreign library are tried first in a fresh run of this binary. */
static void configure_loadcheck(const struct md_settings *o)
{
    md_loadcheck_configure(&(struct md_loadcheck_config){
        .exe = "/proc/self/exe",
        .timeout_ms = (unsigned)o->load_timeout_s * 1000,
        .memory_bytes = (size_t)o->load_memory_mb << 20,
    });
}

/* Part runner: the external trainers a model.yaml may name, from the file's
 * `trainers:`; their names live as long as the settings. */
static void configure_trainers(const struct md_settings *o)
{
    static const char *names[64];
    size_t n = o->trainers.n < 64 ? o->trainers.n : 64;

    for (size_t i = 0; i < n; i++)
        names[i] = o->trainers.v[i].name;
    md_contract_set_trainers(names, n);
}

/*
 * Whether every engine this build lists fits its backend seam (abi, methods:
 * registry.h); if not, says which and why. A misfit is a build's bug, found
 * at the first start: the daemon refuses to run rather than call an engine
 * through a table of another shape.
 */
static bool engines_fit(void)
{
    struct md_err err;

    if (md_backend_check_all(&err) == MD_OK)
        return true;
    fprintf(stderr, "modeld: %s\n", err.msg);
    return false;
}

/* The stored text of a strategy, for store_strategies. */
static void stored_text(void *ctx, const char *name, const char *strategy)
{
    char **out = ctx;

    MD_UNUSED(name);
    free(*out);
    *out = md_xstrdup(strategy);
}

/* Stores the configuration file's strategies, with an event for each that
 * is new or changed (a store job). */
static int store_strategies(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    const struct md_strategies *s = ctx;
    size_t i;
    int rc = MD_OK;

    for (i = 0; i < s->n && rc == MD_OK; i++) {
        struct md_store_event ev = {0, md_wall_ms(), "", "strategy_stored", "", "{}"};
        char message[160];
        char *old = NULL;

        rc = md_store_tx_strategies(tx, s->v[i].name, stored_text, &old, err);
        if (rc == MD_ENOTFOUND)
            rc = MD_OK;
        if (rc == MD_OK && (old == NULL || strcmp(old, s->v[i].json) != 0)) {
            rc = md_store_tx_strategy_put(tx, s->v[i].name, s->v[i].json, err);
            (void)snprintf(message, sizeof(message),
                           "rollout strategy '%s' stored from the configuration file",
                           s->v[i].name);
            ev.message = message;
            if (rc == MD_OK)
                rc = md_store_tx_event_add(tx, &ev, NULL, err);
            if (rc == MD_OK) {
                /* In the audit log too (actor "config"), in the same transaction. */
                char target[MD_STORE_NAME_MAX + 8];

                (void)snprintf(target, sizeof(target), "name=%s", s->v[i].name);
                rc = md_store_tx_audit_decision(tx, "config", "strategy.stored", target, "ok", NULL,
                                                err);
            }
        }
        free(old);
    }
    return rc;
}

/* --check: the repository loaded once and reported; logs off unless a level was set. */
static int check(const struct md_settings *o)
{
    int rc;

    md_log_set_level(md_settings_given(o, "log_level") ? (enum md_log_level)o->log_level
                                                       : MD_LOG_OFF);
    if (o->pii_key_file != NULL) {
        unsigned char key[MD_PREDLOG_KEY_MAX];
        struct md_err err;
        size_t klen;

        if (md_predlog_key_read(o->pii_key_file, key, &klen, &err) != MD_OK) {
            fprintf(stderr, "modeld: %s\n", err.msg);
            return 1;
        }
        memset(key, 0, sizeof(key));
        md_predrec_set_key_given(true);
    }
    rc = md_check_repo(o->repo, stdout, stderr);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "modeld: cannot write output: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}

/*
 * Raises the soft limit of open files to the hard one: every connection is a
 * descriptor. Warns when even that is below what --max-connections needs.
 */
static void raise_fd_limit(unsigned long max_conn)
{
    struct rlimit rl;
    unsigned long want = max_conn + max_conn / 4 + 16 + 256; /* + files, models, logs */

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
            return;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        char have[24];
        char need[24];

        (void)snprintf(have, sizeof(have), "%llu", (unsigned long long)rl.rlim_cur);
        (void)snprintf(need, sizeof(need), "%lu", want);
        md_log_kv(MD_LOG_WARN, "the open file limit is below what --max-connections needs", "limit",
                  have, "needed", need, MD_KV_END);
    }
}

/*
 * --shutdown-delay: readiness already answers 503; keep serving for
 * delay_s seconds so that load balancers take the server out first. A
 * second SIGTERM or SIGINT ends the wait.
 */
static void shutdown_delay(const sigset_t *sigs, unsigned long delay_s)
{
    struct timespec end;
    struct timespec now;
    struct timespec left;
    siginfo_t si;
    int sig;

    if (delay_s == 0)
        return;
    md_log_kv(MD_LOG_INFO, "readiness is 503; serving until the shutdown delay ends", MD_KV_END);
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)delay_s;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            return;
        left.tv_sec = end.tv_sec - now.tv_sec;
        left.tv_nsec = end.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        sig = sigtimedwait(sigs, &si, &left);
        if (sig == SIGTERM || sig == SIGINT) {
            md_log(MD_LOG_INFO, "second signal: shutdown delay cut short");
            return;
        }
    }
}

/*
 * MODELD_ROUTE_LOG=FILE: each route's first call is appended to FILE, so
 * that the integration suite can tell which routes its tests call
 * (docs/testing.md).
 */
static int route_log(struct md_err *err)
{
    const char *path = getenv("MODELD_ROUTE_LOG");

    return path != NULL && path[0] != '\0' ? md_router_log_to(path, err) : MD_OK;
}

/*
 * The shadow executor, from --shadow-queue and --shadow-threads. A test may
 * set MODELD_SHADOW_DELAY_MS=N to hold every shadow copy N ms before it runs
 * (a slow shadow with any engine: docs/testing.md).
 */
static int start_shadows(const struct md_settings *o, struct md_compare *cmp,
                         struct md_predrec *rec, struct md_shadow **out, struct md_err *err)
{
    struct md_shadow_config cfg;
    const char *delay = getenv("MODELD_SHADOW_DELAY_MS");

    md_shadow_config_init(&cfg);
    if (rec != NULL)
        cfg.observer = md_predrec_observer(rec);
    cfg.queue = (size_t)o->shadow_queue;
    cfg.threads = (unsigned)o->shadow_threads;
    if (delay != NULL && delay[0] != '\0') {
        char *end;
        unsigned long ms = strtoul(delay, &end, 10);

        if (*end != '\0' || ms > 60000)
            return md_err_set(err, MD_EINVAL,
                              "MODELD_SHADOW_DELAY_MS: '%s' is not a whole number from 0 to 60000",
                              delay);
        cfg.delay_ms = (unsigned)ms;
    }
    return md_shadow_new(&cfg, cmp, out, err);
}

/*
 * A test may set MODELD_SIGNALS_DELAY_MS=N to hold every evaluation of a
 * signal that waits on the store N ms before its provider runs (a slow
 * store: docs/testing.md).
 */
static int signals_delay(struct md_signals *s, struct md_err *err)
{
    const char *delay = getenv("MODELD_SIGNALS_DELAY_MS");
    unsigned long ms;
    char *end;

    if (delay == NULL || delay[0] == '\0')
        return MD_OK;
    ms = strtoul(delay, &end, 10);
    if (*end != '\0' || ms > 60000)
        return md_err_set(err, MD_EINVAL,
                          "MODELD_SIGNALS_DELAY_MS: '%s' is not a whole number from 0 to 60000",
                          delay);
    md_signals_set_delay(s, (unsigned)ms);
    return MD_OK;
}

/* The data keys of encryption at rest (--data-key-file): they outlive the store. */
static struct md_aead_keys *data_keys;

/*
 * Encryption at rest: on with --data-key-file, before anything else uses the
 * store; without, said plainly. 0, or 1 with the reason logged.
 */
static int open_crypt(const struct md_settings *o, struct md_store *store)
{
    struct md_err err;
    bool sealed = false;
    char id[9];
    char n[24];

    if (o->data_key_file == NULL) {
        md_log_kv(MD_LOG_WARN,
                  "data is stored in clear: prediction-log keys, features and outputs, feedback "
                  "and review comments are readable by anyone who can read the data directory "
                  "(encrypt them with --data-key-file)",
                  "dir", o->data, MD_KV_END);
        if (md_store_crypt_sealed(store, &sealed, &err) == MD_OK && sealed)
            md_log_kv(MD_LOG_WARN,
                      "the store holds encrypted data that cannot be read without "
                      "--data-key-file",
                      "dir", o->data, MD_KV_END);
        return 0;
    }
    if (md_aead_keys_load(o->data_key_file, &data_keys, &err) != MD_OK ||
        md_store_crypt_enable(store, data_keys, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot turn encryption at rest on", "reason", err.msg, MD_KV_END);
        md_aead_keys_free(data_keys);
        data_keys = NULL;
        return 1;
    }
    md_aead_key_id_hex(md_aead_keys_current(data_keys), id);
    (void)snprintf(n, sizeof(n), "%zu", md_aead_keys_count(data_keys));
    md_log_kv(MD_LOG_INFO, "encryption at rest on (AES-256-GCM)", "key_id", id, "keys", n,
              MD_KV_END);
    return 0;
}

/* Serves until SIGTERM or SIGINT: 0 after a clean stop, 1 when start-up fails. */
/*
 * The data directory: made if absent, its store opened (what a crash left
 * swept), its audit log's key given (*audit set when it is on), the
 * configuration file's strategies stored, the upload directory made. 0, or
 * 1 with the reason logged and nothing left open.
 */
static int open_data(const struct md_settings *o, struct md_store **out, char **out_upload,
                     bool *audit)
{
    struct md_store *store = NULL;
    struct md_err err;
    char *upload_dir;
    struct stat st;

    if (mkdir(o->data, 0700) != 0 && errno != EEXIST) {
        md_log_kv(MD_LOG_ERROR, "cannot create the data directory", "dir", o->data, "reason",
                  strerror(errno), MD_KV_END);
        return 1;
    }
    /* Part harden: made private; one made by hand may be wider. */
    if (stat(o->data, &st) == 0 && (st.st_mode & 0077) != 0) {
        char mode[8];

        (void)snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
        md_log_kv(MD_LOG_WARN, "the data directory may be read by other users; run chmod 700 on it",
                  "dir", o->data, "mode", mode, MD_KV_END);
    }
    if (md_store_open(o->data, &store, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot open the store", "dir", o->data, "reason", err.msg,
                  MD_KV_END);
        return 1;
    }
    if (open_crypt(o, store) != 0) {
        md_store_close(store);
        return 1;
    }
    {
        size_t swept = md_store_artifact_sweep(store);

        if (swept > 0) {
            char n[24];

            (void)snprintf(n, sizeof(n), "%zu", swept); /* any size_t fits */
            md_log_kv(MD_LOG_INFO, "removed files a crash left in the artifact store", "files", n,
                      MD_KV_END);
        }
    }
    if (md_audit_start(store, o->audit_key_file, audit, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the audit log", "reason", err.msg, MD_KV_END);
        md_store_close(store);
        return 1;
    }
    if (o->strategies.n > 0 &&
        md_store_call(store, store_strategies, (void *)&o->strategies, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot store the configuration file's strategies", "reason",
                  err.msg, MD_KV_END);
        md_store_close(store);
        return 1;
    }
    /* Uploads arrive in <data>/artifacts/tmp, on the artifact store's file
     * system (moved in by a rename); what a crash left there goes now. */
    upload_dir = md_xmalloc(strlen(o->data) + sizeof("/artifacts/tmp"));
    memcpy(upload_dir, o->data, strlen(o->data));
    memcpy(upload_dir + strlen(o->data), "/artifacts/tmp", sizeof("/artifacts/tmp"));
    if (md_upload_dir_prepare(upload_dir, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot prepare the upload directory", "reason", err.msg,
                  MD_KV_END);
        free(upload_dir);
        md_store_close(store);
        return 1;
    }
    *out = store;
    *out_upload = upload_dir;
    return 0;
}

/* SIGHUP: the listener's certificate, key and client CA read again. */
static void reload_tls(const struct md_settings *o, struct md_http *http)
{
    struct md_err err;

    if (http == NULL || !md_http_tls(http))
        return;
    if (md_http_reload_tls(http, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "TLS files not reloaded: the ones read before are still served",
                  "reason", err.msg, MD_KV_END);
    else
        md_log_kv(MD_LOG_INFO, "TLS files reloaded: new connections use them", "cert", o->tls_cert,
                  MD_KV_END);
}

/* Says where the server listens, and whether requests need a token. */
static void log_listening(const struct md_settings *o, struct md_http *http)
{
    char port[16];

    (void)snprintf(port, sizeof(port), "%u", md_http_port(http)); /* 5 digits at most */
    md_log_kv(MD_LOG_INFO, "listening", "address", o->listen, "port", port, "version", MD_VERSION,
              "scheme",
              md_http_tls(http) ? (o->tls_client_ca != NULL ? "https+client-cert" : "https")
                                : "http",
              "auth", o->auth ? "on" : "off", MD_KV_END);
    if (!md_http_loopback(http) && !o->auth)
        md_log_kv(MD_LOG_WARN,
                  "--insecure on a non-loopback address without --auth: anyone who can reach it "
                  "may load and unload models, change settings and read the data",
                  "address", o->listen, MD_KV_END);
}

/*
 * What serve() starts. Each part is NULL until started; stop_daemon stops
 * and frees those that are, in the reverse order, so a failure half-way
 * through start-up and a shutdown share one path.
 */
struct daemon {
    struct md_store *store;
    char *upload_dir;
    struct md_repo *repo;
    struct md_access_log *alog;
    struct md_compare *compare;
    struct md_predrec *predrec; /* the prediction log */
    bool predrec_attached;
    struct md_subject_key *subject_key; /* the key of subject hashes (watch/subject.h) */
    struct md_predlog_retention retention;
    struct md_shadow *shadow;
    struct md_signals *signals; /* named metrics: alert rules, history, gates read them */
    struct md_series *series;   /* request signals over windows (watch/series.h) */
    struct md_history *history; /* per-minute rollups into the store (watch/history.h) */
    bool dataq_fed;             /* data quality observes the predictions (serve/dataq_feed.h) */
    /* Alert rules, their states, notifications. */
    struct md_alerting *alerting;
    struct md_outcomes *outcomes;         /* quality sums kept as feedback flows */
    struct md_review_stats *review;       /* review queues' figures (part review) */
    struct md_feedback_upkeep *fb_upkeep; /* attaches pending feedback, counts predictions */
    struct md_ab_signals *ab;             /* the A/B signals' state */
    struct md_commands *commands;
    struct md_api *api;
    struct md_http *http;
    struct md_rollouts *rollouts;
    struct md_training *training; /* training runs (control/training.h), with --data */
    bool audit;                   /* the store's audit chain is on (control/audit.h) */
    uint64_t audit_retained;      /* the prediction log's retained and trimmed counts */
    uint64_t audit_trimmed;       /* last recorded in the audit log (control task) */
    struct md_triggers *triggers; /* when runs start by themselves (control/triggers.h) */
    struct md_control *ctl;
    struct md_online *online; /* online learning's learner (part online) */
    bool bound;               /* listen_fd was bound before dropping root (--user) */
    int listen_fd;            /* with bound; the HTTP server's once it started */
    /* Other modules' periodic tasks, run by the control loop. */
    struct md_control_task tasks[MD_CONTROL_TASKS];
    size_t n_tasks;
};

/* Adds a periodic task for the control loop (at most MD_CONTROL_TASKS: a
 * programming error past that, reported at start). */
static inline void add_task(struct daemon *d, const struct md_control_task *t)
{
    if (d->n_tasks < MD_CONTROL_TASKS)
        d->tasks[d->n_tasks] = *t;
    d->n_tasks++;
}

/* The history task: a sample of every request counter each second (the
 * request signals' windows) and, at each step's end, its rollups. */
static void history_tick(void *ctx, uint64_t now_ms)
{
    MD_UNUSED(now_ms);
    md_history_tick(ctx, md_wall_ms());
}

/*
 * The request signals (rings sampled by control, answered through the
 * registry) and the history. A test may set MODELD_HISTORY_STEP_MS=N to
 * roll up every N ms instead of every minute (docs/testing.md).
 */
static int start_series(const struct md_settings *o, struct daemon *d, struct md_err *err)
{
    struct md_history_config cfg = {MD_HISTORY_STEP_MS, o->history_retention_ms,
                                    o->history_metrics};
    const char *step = getenv("MODELD_HISTORY_STEP_MS");
    int rc;

    if (step != NULL && step[0] != '\0') {
        char *end;
        unsigned long ms = strtoul(step, &end, 10);

        if (*end != '\0' || ms < 100 || ms > 3600000)
            return md_err_set(err, MD_EINVAL,
                              "MODELD_HISTORY_STEP_MS: '%s' is not a whole number from 100 to "
                              "3600000",
                              step);
        cfg.step_ms = (int64_t)ms;
    }
    d->series = md_series_new(md_repo_metrics(d->repo));
    rc = md_series_register(d->series, d->signals, err);
    if (rc == MD_OK)
        rc = md_history_new(&cfg, d->series, d->signals, d->store, &d->history, err);
    if (rc == MD_OK)
        add_task(d, &(struct md_control_task){"history",
                                              cfg.step_ms < 1000 ? (uint64_t)cfg.step_ms : 1000,
                                              history_tick, d->history});
    return rc;
}

/* Tokens (part tokens): the table read from the store, published. */
static int read_tokens(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_auth_tokens_read(tx, (struct md_token_table **)ctx, err);
}

/* Reads the tokens from the store and publishes them: 0, or 1 logged. */
static int load_tokens(struct daemon *d)
{
    struct md_token_table *t = NULL;
    struct md_err err;
    char n[24];

    if (md_store_call(d->store, read_tokens, &t, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot read the tokens", "reason", err.msg, MD_KV_END);
        return 1;
    }
    md_auth_tokens_publish(&d->api->auth, t);
    (void)snprintf(n, sizeof(n), "%zu", md_auth_tokens_count(&d->api->auth));
    md_log_kv(MD_LOG_INFO, "tokens read", "tokens", n, MD_KV_END);
    return 0;
}

static int write_used(struct md_store_tx *tx, void *ctx, struct md_err *err)
{
    return md_token_write_used(tx, ctx, err);
}

/* The tokens' last uses into the store (a control task, and at stop). */
static void tokens_flush(void *ctx, uint64_t now_ms)
{
    struct daemon *d = ctx;
    struct md_err err;

    MD_UNUSED(now_ms);
    if (md_store_call(d->store, write_used, &d->api->auth, &err) != MD_OK)
        md_log_kv(MD_LOG_WARN, "cannot write the tokens' last uses", "reason", err.msg, MD_KV_END);
}

/*
 * Authentication (part tokens): with --auth, the tokens read from the
 * store and a task writing their last uses. 0, or 1 logged.
 */
static int start_auth(const struct md_settings *o, struct daemon *d)
{
    struct md_auth *a = &d->api->auth;

    a->enabled = o->auth;
    a->open_health = !o->auth_health;
    a->open_metrics = !o->auth_metrics;
    if (!a->enabled)
        return 0;
    if (d->store == NULL) {
        md_log_kv(MD_LOG_ERROR, "--auth needs the store, where the tokens are", MD_KV_END);
        return 1;
    }
    if (load_tokens(d) != 0)
        return 1;
    add_task(d, &(struct md_control_task){"token last uses", 10000, tokens_flush, d});
    /* The dashboard's sessions (api/session.h), in memory only. */
    a->sessions = md_sessions_new(o->session_idle_ms, o->session_max_age_ms, o->sessions_max);
    return 0;
}

/*
 * JSON Web Tokens (part jwt): a verifier of the --jwt-* settings, its JWKS
 * file read now, published for requests. 0, or 1 logged (the old verifier,
 * if any, stays).
 */
static int load_jwt(const struct md_settings *o, struct daemon *d)
{
    struct md_jwt_config cfg = {o->jwt_jwks_file,
                                o->jwt_issuer,
                                o->jwt_audience,
                                o->jwt_role_claim,
                                o->jwt_models_claim,
                                (unsigned)o->jwt_skew_s,
                                0};
    struct md_jwt *j = NULL;
    struct md_err err;
    char n[24];

    if (md_jwt_new(&cfg, &j, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot take JSON Web Tokens", "reason", err.msg, MD_KV_END);
        return 1;
    }
    (void)snprintf(n, sizeof(n), "%zu", md_jwt_key_count(j));
    md_auth_jwt_publish(&d->api->auth, j);
    md_log_kv(MD_LOG_INFO, "JSON Web Token keys read", "file", o->jwt_jwks_file, "keys", n,
              "issuer", o->jwt_issuer, "audience", o->jwt_audience, MD_KV_END);
    return 0;
}

/*
 * With --jwt-jwks-file, the verifier: read and checked even without --auth
 * (a file that is wrong stops the start either way), then asked for only
 * with it. 0, or 1 logged.
 */
static int start_jwt(const struct md_settings *o, struct daemon *d)
{
    if (o->jwt_jwks_file == NULL) {
        if (o->jwt_issuer != NULL || o->jwt_audience != NULL || o->jwt_models_claim != NULL) {
            md_log_kv(MD_LOG_ERROR,
                      "--jwt-issuer, --jwt-audience and --jwt-models-claim need --jwt-jwks-file",
                      MD_KV_END);
            return 1;
        }
        return 0;
    }
    if (!o->auth)
        md_log_kv(MD_LOG_WARN,
                  "--jwt-jwks-file without --auth: requests need no token, so no JSON Web Token "
                  "is asked for",
                  MD_KV_END);
    return load_jwt(o, d);
}

static void stop_daemon(struct daemon *d, const struct md_settings *o)
{
    /* online learning (part online): before control, whose worker registers its snapshots */
    md_online_stop(d->online);
    md_control_stop(d->ctl);
    /* Training runs: after control (no command asks for one any more); a
     * running child is killed, its run marked failed. */
    md_training_free(d->training);
    md_rollouts_free(d->rollouts);
    if (d->http != NULL)
        md_http_stop(d->http, (unsigned)o->drain_timeout_s * 1000);
    else if (d->bound)
        (void)close(d->listen_fd);
    if (d->dataq_fed)
        md_dataq_feed_detach();
    /* No request offers a copy any more: the copies still queued are dropped. */
    md_shadow_free(d->shadow);
    /* Nothing tells the log any more: what it holds is written before it stops. */
    if (d->predrec_attached) {
        struct md_predict_observer ob = md_predrec_observer(d->predrec);

        md_predict_detach(&ob);
    }
    md_predrec_free(d->predrec);
    md_compare_free(d->compare);
    md_access_log_close(d->alog);
    md_commands_free(d->commands);
    /* The running step's request counts: every request and shadow copy has
     * been answered, the counters are still there (the repository's). */
    md_history_flush(d->history, md_wall_ms());
    md_drift_detach();
    md_repo_free(d->repo);
    md_alerting_free(d->alerting);
    md_signals_free(d->signals);
    md_ab_signals_free(d->ab);
    /* Tokens (part tokens): their last uses, then the table; no request reads it now. */
    if (d->api != NULL && d->store != NULL && d->api->auth.enabled)
        tokens_flush(d, 0);
    if (d->api != NULL)
        md_auth_tokens_publish(&d->api->auth, NULL);
    if (d->api != NULL) /* JSON Web Tokens (part jwt) */
        md_auth_jwt_publish(&d->api->auth, NULL);
    if (d->api != NULL) { /* the dashboard's sessions: no request reads them now */
        md_sessions_free(d->api->auth.sessions);
        d->api->auth.sessions = NULL;
    }
    md_store_close(d->store);
    md_aead_keys_free(data_keys); /* after the store, which borrowed them */
    data_keys = NULL;
    /* After the store: its last batches' done calls ran at its close. */
    md_history_free(d->history);
    md_series_free(d->series);
    /* After control and the store: a label count may have been queued there. */
    md_triggers_free(d->triggers);
    /* After the store: a round of the upkeep may have been queued there. */
    md_feedback_upkeep_free(d->fb_upkeep);
    md_outcomes_free(d->outcomes);
    md_review_stats_free(d->review); /* after the store: a round may have been queued */
    free(d->api);
    free(d->upload_dir);
    md_subject_key_free(d->subject_key); /* after the log and the API, its readers */
}

/*
 * Alert rules, after every part has registered its signals: the file's
 * rules checked and stored, the stored ones read, the notifier started,
 * the evaluator's control task added. 0, or 1 with the reason logged.
 */
static int start_alerting(const struct md_settings *o, struct daemon *d)
{
    struct md_control_task task;
    struct md_err err;
    char url[300];

    (void)snprintf(url, sizeof(url), "http://%s", o->listen);
    if (md_alerting_start(&o->alerting, url, d->store, d->signals, &d->alerting, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start alerting", "reason", err.msg, MD_KV_END);
        return 1;
    }
    md_alerting_task(d->alerting, &task);
    add_task(d, &task);
    return 0;
}

/* Whether every gate of the configuration file's strategies names a
 * built-in metric or a registered signal: 0, or 1 with the reason logged. */
static int check_strategies(const struct md_settings *o, const struct md_signals *signals)
{
    for (size_t i = 0; i < o->strategies.n; i++) {
        struct md_rollout_strategy st;
        struct md_err err;
        char where[160];

        (void)snprintf(where, sizeof(where), "strategies.%s", o->strategies.v[i].name);
        if (md_rollout_strategy_parse(o->strategies.v[i].json, strlen(o->strategies.v[i].json), &st,
                                      &err) != MD_OK ||
            md_rollout_strategy_check_signals(&st, signals, where, &err) != MD_OK) {
            md_log_kv(MD_LOG_ERROR, "a strategy of the configuration file is refused", "reason",
                      err.msg, MD_KV_END);
            return 1;
        }
    }
    return 0;
}

/* The control loop's task: the writer's scheduling class, a step of the prediction log's
 * retention. */
static void retain_log(void *ctx, uint64_t now_ms)
{
    struct daemon *d = ctx;

    struct md_predlog_counts c;

    MD_UNUSED(now_ms);
    md_predlog_tick(md_predrec_log(d->predrec));
    /* What the last steps removed, in the audit log. */
    md_predlog_counts(md_predrec_log(d->predrec), &c);
    if (d->audit)
        md_audit_retention(d->store, "retention.predictions", c.retained - d->audit_retained,
                           c.trimmed - d->audit_trimmed);
    d->audit_retained = c.retained;
    d->audit_trimmed = c.trimmed;
    md_predlog_retain(md_predrec_log(d->predrec), &d->retention, md_wall_ms());
}

/*
 * The prediction log: its key read (--pii-key-file), its writer started,
 * its observer attached, its retention a control task. 0, or 1 with the
 * reason logged.
 */
static int start_log(const struct md_settings *o, struct daemon *d)
{
    struct md_predlog_config cfg;
    unsigned char key[MD_PREDLOG_KEY_MAX];
    size_t klen = 0;
    struct md_err err;
    int rc;

    if (o->log_ring == 0) {
        /* The log is off: nothing is logged, so nothing needs hashing. */
        md_predrec_set_key_given(true);
        md_log(MD_LOG_INFO, "the prediction log is off (--log-ring 0)");
        return 0;
    }
    if (o->pii_key_file != NULL &&
        md_predlog_key_read(o->pii_key_file, key, &klen, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot read the PII key", "reason", err.msg, MD_KV_END);
        return 1;
    }
    md_predlog_config_init(&cfg);
    cfg.ring = (size_t)o->log_ring;
    cfg.idle = true; /* a request never waits for the writer while it keeps up */
    rc = md_predrec_new(&cfg, d->store, klen > 0 ? key : NULL, klen, &d->predrec, &err);
    memset(key, 0, sizeof(key));
    __asm__ __volatile__("" : : "r"(key) : "memory");
    if (rc == MD_OK) {
        md_predrec_set_subject_key(d->predrec, d->subject_key);
        struct md_predict_observer ob = md_predrec_observer(d->predrec);

        rc = md_predict_attach(&ob, &err);
        d->predrec_attached = rc == MD_OK;
    }
    if (rc != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the prediction log", "reason", err.msg, MD_KV_END);
        return 1;
    }
    d->retention.horizon_ms = (int64_t)o->log_horizon_days * 86400000;
    d->retention.features_ms = (int64_t)o->log_features_days * 86400000;
    d->retention.features_rows = (int64_t)o->log_features_rows;
    d->retention.chunk = 10000;
    add_task(d, &(struct md_control_task){"prediction log retention", 1000, retain_log, d});
    return 0;
}

/* The quality sums kept as feedback flows, their signals, and the upkeep of
 * feedback (a control task) when there is a store. 0, or 1 logged. */
static int start_feedback(const struct md_settings *o, struct daemon *d)
{
    struct md_control_task task;
    struct md_err err;

    d->outcomes = md_outcomes_new();
    if (md_outcomes_register(d->outcomes, d->signals, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot register the quality signals", "reason", err.msg,
                  MD_KV_END);
        return 1;
    }
    if (d->store == NULL)
        return 0;
    d->fb_upkeep = md_feedback_upkeep_new(d->store, d->repo, d->outcomes,
                                          (int64_t)o->feedback_horizon_s * 1000);
    md_feedback_upkeep_task(d->fb_upkeep, &task);
    add_task(d, &task);
    return 0;
}

/* The subject key (--subject-key-file, or made in the data directory): 0, or 1 logged. */
static int start_subjects(const struct md_settings *o, struct daemon *d)
{
    struct md_err err;
    bool created = false;

    if (md_subject_key_load(o->subject_key_file, o->data, &d->subject_key, &created, &err) !=
        MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot read the subject key", "reason", err.msg, MD_KV_END);
        return 1;
    }
    if (created)
        md_log_kv(MD_LOG_INFO,
                  "made a subject key (subject ids are stored as hashes under it; keep a copy "
                  "outside the data directory, or give --subject-key-file)",
                  "dir", o->data, MD_KV_END);
    return 0;
}

/* Starts everything before the HTTP server: 0, or 1 with the reason logged. */
static int start_parts(const struct md_settings *o, struct daemon *d)
{
    struct md_err err;

    if (open_data(o, &d->store, &d->upload_dir, &d->audit) != 0)
        return 1;
    if (start_subjects(o, d) != 0)
        return 1;
    if (md_repo_open_store(o->repo, d->store, o->data, &d->repo, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot open the model repository", "reason", err.msg, MD_KV_END);
        return 1;
    }
    if (o->access_log != NULL && md_access_log_open(o->access_log, &d->alog, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot open the access log", "reason", err.msg, MD_KV_END);
        return 1;
    }
    if (start_log(o, d) != 0)
        return 1;
    d->compare = md_compare_new();
    if (start_shadows(o, d->compare, d->predrec, &d->shadow, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the shadow executor", "reason", err.msg, MD_KV_END);
        return 1;
    }
    d->signals = md_signals_new();
    if (signals_delay(d->signals, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start", "reason", err.msg, MD_KV_END);
        return 1;
    }
    /* Drift: the named metrics it answers, and the observer that fills its windows. */
    if (md_drift_signals_add(d->signals, d->repo, &err) != MD_OK ||
        md_drift_attach(&err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start drift", "reason", err.msg, MD_KV_END);
        return 1;
    }
    if (md_dataq_signals(md_metrics_dataq(md_repo_metrics(d->repo)), d->signals, &err) != MD_OK ||
        md_dataq_feed_attach(&err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start data quality", "reason", err.msg, MD_KV_END);
        return 1;
    }
    d->dataq_fed = true;
    if (d->predrec != NULL &&
        md_predlog_signals(md_predrec_log(d->predrec), d->signals, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot register the prediction log's signals", "reason", err.msg,
                  MD_KV_END);
        return 1;
    }
    if (start_feedback(o, d) != 0)
        return 1;
    /* Review queues (part review): their figures, named metrics and counting task. */
    d->review = md_review_stats_new(d->store);
    if (md_review_stats_signals(d->review, d->signals, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot register the review signals", "reason", err.msg, MD_KV_END);
        return 1;
    }
    if (d->store != NULL)
        add_task(d, &(struct md_control_task){"review queues", MD_REVIEW_STATS_MS,
                                              md_review_stats_tick, d->review});
    if (md_ab_signals_add(d->signals, d->store, md_ab_api_design, d->repo, &d->ab, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot register the A/B signals", "reason", err.msg, MD_KV_END);
        return 1;
    }
    /* Last of the named metrics' providers: the history rolls up every name
     * registered by then. */
    if (start_series(o, d, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the request signals", "reason", err.msg, MD_KV_END);
        return 1;
    }
    d->commands = md_commands_new();
    /* After every signal is registered: rules and gates may name any. */
    if (start_alerting(o, d) != 0)
        return 1;
    return check_strategies(o, d->signals);
}

static struct md_api *new_api(const struct md_settings *o, struct daemon *d)
{
    struct md_api *api = md_xcalloc(1, sizeof(*api));

    api->access_log = d->alog;
    api->compare = d->compare;
    api->shadow = d->shadow;
    api->predlog = md_predrec_log(d->predrec);
    api->subject_key = d->subject_key;
    api->upload_dir = d->upload_dir;
    api->repo = d->repo;
    api->store = d->store;
    api->commands = d->commands;
    api->signals = d->signals;
    api->history = d->history;
    api->alerts = md_alerting_alerts(d->alerting);
    api->notify = md_alerting_notify(d->alerting);
    api->outcomes = d->outcomes;
    api->review = d->review;
    api->name = "modeld";
    api->version = MD_VERSION;
    api->started_ms = md_wall_ms();
    api->config = &o->config;
    api->audit = d->audit;
    return api;
}

static int start_http(const struct md_settings *o, struct daemon *d)
{
    struct md_http_config hc;
    struct md_err err;

    hc.listen = o->listen;
    hc.threads = (unsigned)o->threads;
    hc.max_body_bytes = o->max_body_bytes;
    hc.max_upload_bytes = o->max_upload_bytes;
    hc.max_connections = (unsigned)o->max_connections;
    hc.idle_timeout_s = (unsigned)o->idle_timeout_s;
    hc.max_header_bytes = o->max_header_bytes;
    hc.conn_buffer_bytes = o->conn_buffer_bytes;
    hc.access_log = d->alog;
    hc.insecure = o->insecure;
    hc.tls_cert = o->tls_cert;
    hc.tls_key = o->tls_key;
    hc.tls_client_ca = o->tls_client_ca;
    hc.bound = d->bound;
    hc.listen_fd = d->listen_fd;
    if (md_http_start(&hc, d->api, &d->http, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the HTTP server", "reason", err.msg, MD_KV_END);
        return 1;
    }
    return 0;
}

/* The first scan, then the loops that act on what it found. */
static void start_control(const struct md_settings *o, struct daemon *d)
{
    struct md_err err;
    int failed = md_repo_scan(d->repo);
    char nmodels[24];
    char nfailed[24];

    atomic_store(&d->api->ready, true);
    /* Any size_t or int fits in 24 bytes. */
    (void)snprintf(nmodels, sizeof(nmodels), "%zu", md_repo_ready_models(d->repo));
    (void)snprintf(nfailed, sizeof(nfailed), "%d", failed);
    md_log_kv(MD_LOG_INFO, "ready", "models_ready", nmodels, "versions_failed", nfailed, "repo",
              o->repo, MD_KV_END);
    if (md_rollouts_open(d->repo, d->store, d->compare, d->signals, &d->rollouts, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "rollouts not read back from the store; none runs", "reason",
                  err.msg, MD_KV_END);
    /* Training runs (part runner): a runner thread when there is a store. */
    if (d->store != NULL) {
        struct md_training_setup ts = {d->store,         d->repo,       d->commands,   o->data,
                                       "/proc/self/exe", o->trainers.v, o->trainers.n, 1};

        if (md_training_new(&ts, &d->training, &err) != MD_OK)
            md_log_kv(MD_LOG_ERROR, "training runner not started; retraining is refused", "reason",
                      err.msg, MD_KV_END);
    }
    /* Triggers (part triggers): a task that asks for runs by itself, with a runner. */
    if (d->training != NULL) {
        struct md_control_task task;

        d->triggers = md_triggers_new(d->repo, d->store, d->signals, d->training, d->commands);
        md_triggers_task(d->triggers, &task);
        add_task(d, &task);
    }
    if (md_control_start(d->repo, d->commands, (unsigned)o->poll_s, d->rollouts, d->training,
                         d->tasks, d->n_tasks, &d->ctl, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "control loop not started", "reason", err.msg, MD_KV_END);
        md_commands_close(d->commands, "no control loop: loads and unloads are refused");
    }
    /* online learning (part online): needs the store for labels and features */
    if (d->ctl != NULL && d->store != NULL &&
        md_online_start(d->repo, d->store, d->commands, 100, &d->online, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "online learning not started", "reason", err.msg, MD_KV_END);
}

/*
 * --user NAME (part harden): started as root, binds the listener (a port
 * below 1024 needs root), makes the data directory NAME's if it has to
 * create it, then becomes NAME for good (its group, no supplementary
 * groups) before any thread starts or anything else is opened, and checks
 * that root cannot be had back. NAME may be the process's own user
 * (nothing to drop); any other needs root. 0, or 1 with the reason logged.
 */
static int become_user(const struct md_settings *o, struct daemon *d)
{
    const struct passwd *pw = getpwnam(o->user);
    struct md_err err;
    struct stat st;
    char uid[24];

    if (pw == NULL) {
        md_log_kv(MD_LOG_ERROR, "--user: no such user", "user", o->user, MD_KV_END);
        return 1;
    }
    (void)snprintf(uid, sizeof(uid), "%u", (unsigned)pw->pw_uid);
    if (pw->pw_uid == geteuid())
        return 0; /* already that user: nothing to drop */
    if (geteuid() != 0) {
        md_log_kv(MD_LOG_ERROR, "--user: only a daemon started as root can change its user", "user",
                  o->user, MD_KV_END);
        return 1;
    }
    if (mkdir(o->data, 0700) == 0) {
        if (chown(o->data, pw->pw_uid, pw->pw_gid) != 0) {
            md_log_kv(MD_LOG_ERROR, "--user: cannot give the data directory to the user", "dir",
                      o->data, "reason", strerror(errno), MD_KV_END);
            return 1;
        }
    } else if (errno != EEXIST || stat(o->data, &st) != 0) {
        md_log_kv(MD_LOG_ERROR, "cannot create the data directory", "dir", o->data, "reason",
                  strerror(errno), MD_KV_END);
        return 1;
    } else if (st.st_uid != pw->pw_uid) {
        md_log_kv(MD_LOG_ERROR,
                  "--user: the data directory belongs to another user; chown -R it to the user",
                  "dir", o->data, "user", o->user, MD_KV_END);
        return 1;
    }
    if (md_http_bind(o->listen, &d->listen_fd, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the HTTP server", "reason", err.msg, MD_KV_END);
        return 1;
    }
    d->bound = true;
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        md_log_kv(MD_LOG_ERROR, "--user: cannot change user", "user", o->user, "reason",
                  strerror(errno), MD_KV_END);
        return 1;
    }
    /* Dropped for good: neither root's uid nor its gid comes back. */
    if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0 || setuid(0) == 0 ||
        setgid(0) == 0) {
        md_log_kv(MD_LOG_ERROR, "--user: still root after changing user; not serving", "user",
                  o->user, MD_KV_END);
        return 1;
    }
    md_log_kv(MD_LOG_INFO, "listener bound; running as an unprivileged user", "user", o->user,
              "uid", uid, MD_KV_END);
    return 0;
}

static int serve(const struct md_settings *o)
{
    struct daemon d;
    struct md_err err;
    sigset_t sigs;
    int sig;

    memset(&d, 0, sizeof(d));
    md_log_set_level((enum md_log_level)o->log_level);
    raise_fd_limit(o->max_connections ? o->max_connections : 4096);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        md_log_kv(MD_LOG_ERROR, "cannot ignore SIGPIPE", "reason", strerror(errno), MD_KV_END);
        return 1;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* The test suite's route log: opened before --user drops root (the
     * file is the suite's). */
    if (route_log(&err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the HTTP server", "reason", err.msg, MD_KV_END);
        return 1;
    }
    if (o->user != NULL && become_user(o, &d) != 0) {
        stop_daemon(&d, o);
        return 1;
    }
    if (start_parts(o, &d) != 0) {
        stop_daemon(&d, o);
        return 1;
    }
    d.api = new_api(o, &d);
    if (start_auth(o, &d) != 0 || start_jwt(o, &d) != 0 || start_http(o, &d) != 0) {
        stop_daemon(&d, o);
        return 1;
    }
    log_listening(o, d.http);
    start_control(o, &d);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (d.ctl != NULL)
                md_control_request_scan(d.ctl);
            if (d.alog != NULL)
                md_access_log_reopen(d.alog);
            reload_tls(o, d.http);
            if (d.api->auth.enabled)
                (void)load_tokens(&d); /* tokens made offline meanwhile */
            if (o->jwt_jwks_file != NULL)
                (void)load_jwt(o, &d); /* JSON Web Tokens (part jwt): keys rotated */
            continue;
        }
        break;
    }
    md_log_kv(MD_LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
              MD_KV_END);
    atomic_store(&d.api->draining, true);
    shutdown_delay(&sigs, (unsigned long)o->shutdown_delay_s);
    stop_daemon(&d, o);
    md_log(MD_LOG_INFO, "stopped");
    return 0;
}

int main(int argc, char **argv)
{
    struct md_settings o;
    struct md_err err;
    int rc = 2;

    /* Part harden: what modeld creates (data directory, store, artifacts,
     * logs, key files) is its user's alone: directories 0700, files 0600. */
    (void)umask(077);
    /* The load-check helper (see backend/loadcheck.h): before any thread starts. */
    if (argc >= 2 && strcmp(argv[1], "--load-check") == 0)
        return md_loadcheck_main(argc - 2, argv + 2);
    /* The training child (see control/trainjob.h; part runner): likewise. */
    if (argc >= 2 && strcmp(argv[1], "--train") == 0)
        return md_trainjob_main(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "--exec-trainer") == 0)
        return md_trainjob_exec(argc - 2, argv + 2);
    /* The offline check of a store's audit chain (control/audit.h). */
    if (argc >= 2 && strcmp(argv[1], "audit") == 0)
        return md_audit_main(argc - 2, argv + 2);
    /* Tokens made offline (part tokens): `modeld token create ...`. */
    if (argc >= 2 && strcmp(argv[1], "token") == 0)
        return md_token_main(argc - 2, argv + 2);
    md_settings_init(&o);
    switch (md_settings_parse(&o, argc, argv, &err)) {
    case MD_SETTINGS_HELP:
        md_settings_usage(stdout);
        md_settings_release(&o);
        exit_after_output();
    case MD_SETTINGS_ROUTES:
        md_router_print(stdout);
        md_settings_release(&o);
        exit_after_output();
    case MD_SETTINGS_ROLES:
        md_router_print_matrix(stdout);
        md_settings_release(&o);
        exit_after_output();
    case MD_SETTINGS_VERSION:
        printf("modeld %s\n", MD_VERSION);
        md_settings_release(&o);
        exit_after_output();
    case MD_SETTINGS_USAGE:
        fprintf(stderr, "modeld: %s\n", err.msg);
        md_settings_usage(stderr);
        break;
    case MD_SETTINGS_BAD:
        fprintf(stderr, "modeld: %s\n", err.msg);
        break;
    case MD_SETTINGS_CHECK:
        configure_loadcheck(&o);
        configure_trainers(&o);
        rc = engines_fit() ? check(&o) : 1;
        break;
    case MD_SETTINGS_SERVE:
        configure_loadcheck(&o);
        configure_trainers(&o);
        rc = engines_fit() ? serve(&o) : 1;
        break;
    }
    md_settings_release(&o);
    return rc;
}
