/* SPDX-License-Identifier: MIT */
/*
 * main.c: only main: flags, start, signals, stop.
 */
#include "util/common.h"
#include "util/err.h"
#include "util/log.h"
#include "api/api.h"
#include "backend/loadcheck.h"
#include "net/http.h"
#include "serve/repo.h"
#include "control/check.h"
#include "control/control.h"
#include "watch/accesslog.h"
#include "watch/metrics.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "usage: modeld [options]\n"
    "       modeld --check [--repo DIR]\n"
    "\n"
    "Serves the models of a model repository over HTTP: the Open Inference\n"
    "Protocol (KServe V2) under /v2, TensorFlow Serving's REST API under /v1,\n"
    "Prometheus metrics at /metrics.\n"
    "\n"
    "options:\n"
    "  --repo DIR            model repository (default: models)\n"
    "  --check               load the repository once as the server would (every\n"
    "                        model.yaml, every version its policy selects, each\n"
    "                        engine checked against the contract), print a table\n"
    "                        MODEL VERSION STATE REASON and exit: 0 when all load,\n"
    "                        1 when any fails or there is no model, 2 on bad flags.\n"
    "                        Opens no port and writes nothing; logs are off unless\n"
    "                        --log-level is given\n"
    "  --listen HOST:PORT    address to serve on (default: 127.0.0.1:8080)\n"
    "  --data DIR            directory for the daemon's own data (default: var)\n"
    "  --poll SECONDS        re-scan the repository this often; 0 = only on SIGHUP\n"
    "                        and repository API calls (default: 0)\n"
    "  --threads N           HTTP worker threads; 0 = one per core (default: 0)\n"
    "  --max-body-bytes N    largest request body accepted (default: 67108864)\n"
    "  --max-connections N   concurrent connections; when all are taken, those that\n"
    "                        have waited longest for a request make room\n"
    "                        (default: 4096)\n"
    "  --idle-timeout S      close idle keep-alive connections after S seconds (default: 60)\n"
    "  --max-header-bytes N  largest request line plus headers; larger get 431 or 414\n"
    "                        (default: 8192)\n"
    "  --conn-buffer-bytes N\n"
    "                        memory per connection for the request line, headers\n"
    "                        and reading the body, half of it a read; 4096 to\n"
    "                        1048576, raised to twice --max-header-bytes\n"
    "                        (default: 24576)\n"
    "  --shutdown-delay S    on SIGTERM, answer readiness 503 and keep serving for\n"
    "                        S seconds before closing the listener, so a load\n"
    "                        balancer stops sending first (default: 0)\n"
    "  --drain-timeout S     then wait up to S seconds for requests already\n"
    "                        received (default: 10)\n"
    "  --load-timeout S      loads through a foreign library (backend xgboost) are\n"
    "                        tried first in a helper process, killed after S\n"
    "                        seconds; 1 to 3600 (default: 30)\n"
    "  --load-memory-mb MB   or once its resident memory passes MB MiB; 16 to\n"
    "                        1048576 (default: 4096)\n"
    "  --log-level LEVEL     debug, info, warn, error or off (default: info)\n"
    "  --access-log FILE     append one JSON line per request to FILE ('-' for\n"
    "                        standard output); reopened on SIGHUP (default: none)\n"
    "  --version             print the version and exit\n"
    "  --help                print this help and exit\n"
    "\n"
    "signals: SIGTERM/SIGINT stop gracefully (a second one during --shutdown-delay\n"
    "ends the delay); SIGHUP re-scans the repository and reopens the access log.\n";

struct opts {
    const char *repo;
    const char *listen;
    const char *data;
    const char *access_log;
    unsigned long poll_s;
    unsigned long threads;
    unsigned long max_body;
    unsigned long max_conn;
    unsigned long idle_s;
    unsigned long max_header;
    unsigned long conn_buffer;
    unsigned long drain_s;
    unsigned long load_timeout_s;
    unsigned long load_memory_mb;
    bool check;     /* --check: validate the repository and exit */
    bool log_level; /* --log-level was given */
    unsigned long shutdown_delay_s;
};

/* A whole number from min to max for flag, or -1 with a message. */
static int parse_ulong_in(const char *flag, const char *s, unsigned long min, unsigned long max,
                          unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "modeld: %s: '%s' is not a whole number from %lu to %lu\n", flag, s, min,
                max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_ulong(const char *flag, const char *s, unsigned long max, unsigned long *out)
{
    return parse_ulong_in(flag, s, 0, max, out);
}

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

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum {
        O_REPO = 256,
        O_LISTEN,
        O_DATA,
        O_POLL,
        O_THREADS,
        O_BODY,
        O_CONN,
        O_IDLE,
        O_HEADER,
        O_CONN_BUFFER,
        O_DRAIN,
        O_LOAD_TIMEOUT,
        O_LOAD_MEMORY,
        O_DELAY,
        O_LOG,
        O_CHECK,
        O_ACCESS_LOG,
        O_VERSION,
        O_HELP
    };
    static const struct option longopts[] = {
        {"repo", required_argument, NULL, O_REPO},
        {"listen", required_argument, NULL, O_LISTEN},
        {"data", required_argument, NULL, O_DATA},
        {"poll", required_argument, NULL, O_POLL},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-body-bytes", required_argument, NULL, O_BODY},
        {"max-connections", required_argument, NULL, O_CONN},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"max-header-bytes", required_argument, NULL, O_HEADER},
        {"conn-buffer-bytes", required_argument, NULL, O_CONN_BUFFER},
        {"drain-timeout", required_argument, NULL, O_DRAIN},
        {"load-timeout", required_argument, NULL, O_LOAD_TIMEOUT},
        {"load-memory-mb", required_argument, NULL, O_LOAD_MEMORY},
        {"shutdown-delay", required_argument, NULL, O_DELAY},
        {"log-level", required_argument, NULL, O_LOG},
        {"check", no_argument, NULL, O_CHECK},
        {"access-log", required_argument, NULL, O_ACCESS_LOG},
        {"version", no_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int ch;
    int level;

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int bad = 0;

        switch (ch) {
        case O_REPO:
            o->repo = optarg;
            break;
        case O_LISTEN:
            o->listen = optarg;
            break;
        case O_DATA:
            o->data = optarg;
            break;
        case O_POLL:
            bad = parse_ulong("--poll", optarg, 86400, &o->poll_s);
            break;
        case O_THREADS:
            bad = parse_ulong("--threads", optarg, 1024, &o->threads);
            break;
        case O_BODY:
            bad = parse_ulong_in("--max-body-bytes", optarg, 1, 1ul << 31, &o->max_body);
            break;
        case O_CONN:
            bad = parse_ulong("--max-connections", optarg, 1000000, &o->max_conn);
            break;
        case O_IDLE:
            bad = parse_ulong("--idle-timeout", optarg, 86400, &o->idle_s);
            break;
        case O_HEADER:
            bad = parse_ulong_in("--max-header-bytes", optarg, 1024, 1ul << 20, &o->max_header);
            break;
        case O_CONN_BUFFER:
            bad = parse_ulong_in("--conn-buffer-bytes", optarg, 4096, MD_HTTP_CONN_BUFFER_MAX,
                                 &o->conn_buffer);
            break;
        case O_DRAIN:
            bad = parse_ulong("--drain-timeout", optarg, 3600, &o->drain_s);
            break;
        case O_LOAD_TIMEOUT:
            bad = parse_ulong_in("--load-timeout", optarg, 1, 3600, &o->load_timeout_s);
            break;
        case O_LOAD_MEMORY:
            bad = parse_ulong_in("--load-memory-mb", optarg, 16, 1ul << 20, &o->load_memory_mb);
            break;
        case O_DELAY:
            bad = parse_ulong("--shutdown-delay", optarg, 3600, &o->shutdown_delay_s);
            break;
        case O_LOG:
            level = md_log_parse_level(optarg);
            if (level < 0) {
                fprintf(stderr,
                        "modeld: --log-level: '%s' is not one of debug, info, warn, error, off\n",
                        optarg);
                bad = -1;
            } else {
                md_log_set_level((enum md_log_level)level);
                o->log_level = true;
            }
            break;
        case O_CHECK:
            o->check = true;
            break;
        case O_ACCESS_LOG:
            if (optarg[0] == '\0') {
                fprintf(stderr, "modeld: --access-log: expected a file name or '-'\n");
                bad = -1;
            }
            o->access_log = optarg;
            break;
        case O_VERSION:
            printf("modeld %s\n", MD_VERSION);
            exit_after_output();
        case O_HELP:
            fputs(usage, stdout);
            exit_after_output();
        default:
            fputs(usage, stderr);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "modeld: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    return 0;
}

/*
 * Raises the soft limit on open files to the hard one: each connection
 * holds a descriptor, and the usual soft limit (1024) is below the
 * default --max-connections. Warns when the limit stays below what
 * max_conn connections (and the refusals past them) need.
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

int main(int argc, char **argv)
{
    struct opts o = {.repo = "models",
                     .listen = "127.0.0.1:8080",
                     .data = "var",
                     .max_body = 64ul << 20,
                     .max_conn = 4096,
                     .idle_s = 60,
                     .max_header = MD_HTTP_MAX_HEADER,
                     .conn_buffer = MD_HTTP_CONN_BUFFER,
                     .drain_s = 10,
                     .load_timeout_s = MD_LOADCHECK_TIMEOUT_S,
                     .load_memory_mb = MD_LOADCHECK_MEMORY_MB};
    struct md_http_config hc;
    struct md_repo *repo = NULL;
    struct md_http *http = NULL;
    struct md_control *ctl = NULL;
    struct md_access_log *alog = NULL;
    struct md_err err;
    struct md_api *api;
    sigset_t sigs;
    int failed;
    int sig;
    char port[16];

    /* The load-check helper (see backend/loadcheck.h): before any thread starts. */
    if (argc >= 2 && strcmp(argv[1], "--load-check") == 0)
        return md_loadcheck_main(argc - 2, argv + 2);
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    md_loadcheck_configure(&(struct md_loadcheck_config){
        .exe = "/proc/self/exe",
        .timeout_ms = (unsigned)o.load_timeout_s * 1000,
        .memory_bytes = (size_t)o.load_memory_mb << 20,
    });
    if (o.check) {
        int rc;

        if (!o.log_level)
            md_log_set_level(MD_LOG_OFF);
        rc = md_check_repo(o.repo, stdout, stderr);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "modeld: cannot write output: %s\n", strerror(errno));
            return 1;
        }
        return rc;
    }
    raise_fd_limit(o.max_conn ? o.max_conn : 4096);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        md_log_kv(MD_LOG_ERROR, "cannot ignore SIGPIPE", "reason", strerror(errno), MD_KV_END);
        return 1;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (mkdir(o.data, 0750) != 0 && errno != EEXIST) {
        md_log_kv(MD_LOG_ERROR, "cannot create the data directory", "dir", o.data, "reason",
                  strerror(errno), MD_KV_END);
        return 1;
    }
    if (md_repo_open(o.repo, &repo, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot open the model repository", "reason", err.msg, MD_KV_END);
        return 1;
    }
    if (o.access_log != NULL && md_access_log_open(o.access_log, &alog, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot open the access log", "reason", err.msg, MD_KV_END);
        md_repo_free(repo);
        return 1;
    }
    api = calloc(1, sizeof(*api));
    if (api == NULL)
        return 1;
    api->access_log = alog;
    api->repo = repo;
    api->name = "modeld";
    api->version = MD_VERSION;
    api->started_ms = md_wall_ms();
    hc.listen = o.listen;
    hc.threads = (unsigned)o.threads;
    hc.max_body_bytes = o.max_body;
    hc.max_connections = (unsigned)o.max_conn;
    hc.idle_timeout_s = (unsigned)o.idle_s;
    hc.max_header_bytes = o.max_header;
    hc.conn_buffer_bytes = o.conn_buffer;
    hc.access_log = alog;
    if (md_http_start(&hc, api, &http, &err) != MD_OK) {
        md_log_kv(MD_LOG_ERROR, "cannot start the HTTP server", "reason", err.msg, MD_KV_END);
        md_access_log_close(alog);
        md_repo_free(repo);
        free(api);
        return 1;
    }
    (void)snprintf(port, sizeof(port), "%u", md_http_port(http)); /* 5 digits at most */
    md_log_kv(MD_LOG_INFO, "listening", "address", o.listen, "port", port, "version", MD_VERSION,
              MD_KV_END);
    failed = md_repo_scan(repo);
    atomic_store(&api->ready, true);
    {
        char nmodels[24];
        char nfailed[24];

        /* Any size_t or int fits in 24 bytes. */
        (void)snprintf(nmodels, sizeof(nmodels), "%zu", md_repo_ready_models(repo));
        (void)snprintf(nfailed, sizeof(nfailed), "%d", failed);
        md_log_kv(MD_LOG_INFO, "ready", "models_ready", nmodels, "versions_failed", nfailed, "repo",
                  o.repo, MD_KV_END);
    }
    if (md_control_start(repo, (unsigned)o.poll_s, &ctl, &err) != MD_OK)
        md_log_kv(MD_LOG_ERROR, "control loop not started", "reason", err.msg, MD_KV_END);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (ctl != NULL)
                md_control_request_scan(ctl);
            if (alog != NULL)
                md_access_log_reopen(alog);
            continue;
        }
        break;
    }
    md_log_kv(MD_LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
              MD_KV_END);
    atomic_store(&api->draining, true);
    shutdown_delay(&sigs, o.shutdown_delay_s);
    md_control_stop(ctl);
    md_http_stop(http, (unsigned)o.drain_s * 1000);
    md_access_log_close(alog);
    md_repo_free(repo);
    free(api);
    md_log(MD_LOG_INFO, "stopped");
    return 0;
}
