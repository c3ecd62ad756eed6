/* SPDX-License-Identifier: MIT */
/*
 * ctl.h: what every modelctl command shares. struct ctl holds the global
 * options (server URL, timeout, output format) and the one curl handle; the
 * helpers below parse options, speak HTTP to the daemon and print errors in
 * the one form the tool uses: "modelctl: <what>: <reason>" on stderr.
 *
 * Commands live in cmd_<verb>.c, one entry point each, listed once in
 * modelctl.c's commands[]. A command returns its exit status: CTL_EXIT_OK,
 * CTL_EXIT_FAIL (the server refused, could not be reached or answered
 * nonsense) or CTL_EXIT_USAGE (the command line is wrong; nothing was sent
 * that depended on the mistake).
 */
#ifndef MD_CLI_CTL_H
#define MD_CLI_CTL_H

#include "util/common.h"
#include "util/buf.h"
#include "util/err.h"

#include <curl/curl.h>
#include <jansson.h>

enum ctl_exit {
    CTL_EXIT_OK = 0,   /* done */
    CTL_EXIT_FAIL = 1, /* refused or failed: server error, unreachable, bad response */
    CTL_EXIT_USAGE = 2 /* bad command line */
};

enum ctl_format {
    CTL_FORMAT_TEXT = 0, /* tables and "name: value" lines */
    CTL_FORMAT_JSON = 1  /* the server's JSON, as received */
};

#define CTL_DEFAULT_URL       "http://127.0.0.1:8080"
#define CTL_DEFAULT_TIMEOUT_S 10
#define CTL_MAX_BODY          ((size_t)64 << 20) /* largest response or --file accepted */

/* The paragraph every command's --help ends its options with. */
#define CTL_HELP_GLOBAL                                                                            \
    "       --url URL, --timeout SECONDS, --json, --cacert FILE, --cert FILE, --key FILE\n"        \
    "              the global options; see 'modelctl --help'\n"                                    \
    "       -h, --help\n"                                                                          \
    "              print this help and exit\n"

struct ctl {
    char *url;              /* base URL, owned, no trailing '/'; never NULL after ctl_init */
    const char *url_origin; /* static: where url came from, for messages ("--url", "MODELD_URL") */
    long timeout_ms;        /* whole-request limit in ms, > 0 */
    bool timeout_set;       /* --timeout was given (a follow is then bounded by it too) */
    enum ctl_format format; /* --json sets CTL_FORMAT_JSON */
    const char *cacert;     /* --cacert or $MODELD_CACERT: CAs that verify an https server, or
                               NULL (the system's) */
    const char *cert;       /* --cert or $MODELD_CERT: client certificate (mutual TLS), or NULL */
    const char *key;        /* --key or $MODELD_KEY: its private key, or NULL (in cert's file) */
    CURL *curl;             /* created by the first request, reused by the next; may be NULL */
    char errbuf[CURL_ERROR_SIZE]; /* curl's message for the last transfer */
};

/* One HTTP exchange's answer. status is 0 until a response arrives. */
struct ctl_resp {
    long status;          /* HTTP status code */
    struct md_buf body;   /* response body, NUL-terminated, at most CTL_MAX_BODY */
    char request_id[128]; /* X-Request-Id response header, "" when absent */
};

/*
 * Sets defaults: URL from $MODELD_URL when set and not empty, else
 * CTL_DEFAULT_URL; TLS files from $MODELD_CACERT, $MODELD_CERT and
 * $MODELD_KEY when set and not empty; timeout CTL_DEFAULT_TIMEOUT_S; text
 * output; no curl handle yet. ctl_release frees the URL and the curl handle.
 */
void ctl_init(struct ctl *ctl);
void ctl_release(struct ctl *ctl);

/*
 * Replaces the base URL (trailing '/' dropped); origin is a static string
 * naming where it came from. The scheme is checked when a request is made,
 * so a bad $MODELD_URL does not stop --help or an overriding --url.
 */
void ctl_set_url(struct ctl *ctl, const char *url, const char *origin);

/*
 * Option parsing shared by modelctl.c and every command. ctl_opt matches
 * argv[*i] against "--name VALUE" or "--name=VALUE": it returns 1 and sets
 * *value (moving *i past a separate value), 0 when argv[*i] is something
 * else, or -1 after printing "modelctl: <cmd>: option '--name' needs a value".
 *
 * cmd is the command's name for messages, NULL before the command.
 *
 * ctl_global_option applies --url, --timeout, --json, --cacert, --cert and
 * --key when argv[*i] is one of them, so they may follow the command too
 * ("modelctl status --json"). Returns 1 when it took the argument(s), 0 when
 * argv[*i] is not a global option, -1 after printing a usage error.
 */
int ctl_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value);
int ctl_global_option(struct ctl *ctl, const char *cmd, int argc, char **argv, int *i);

/* True when arg is "--help" or "-h". */
bool ctl_is_help(const char *arg);

/*
 * A command's argument walk. Each ctl_args_next moves to the next argument
 * the command itself must handle, applying global options and answering
 * --help on the way, and returns:
 *   CTL_ARG_WORD    argv[i] is an operand (anything after "--" is one);
 *   CTL_ARG_OPTION  argv[i] starts with '-': the command's own option, or
 *                   ctl_args_unknown's business;
 *   CTL_ARG_END     no arguments left;
 *   CTL_ARG_EXIT    help was printed or a usage error reported: return
 *                   args.exit_code from the command.
 */
enum ctl_arg { CTL_ARG_END, CTL_ARG_WORD, CTL_ARG_OPTION, CTL_ARG_EXIT };

struct ctl_args {
    const char *cmd;  /* the command's name, for messages */
    const char *help; /* its --help text */
    int argc;
    char **argv;
    int i;           /* read-only: index of the current argument in argv */
    int exit_code;   /* out: the exit status, after CTL_ARG_EXIT */
    bool words_only; /* private: "--" was seen */
    bool own_key;    /* the command has a --key of its own, which then is not the global one
                        (the client key is given before the command) */
};

void ctl_args_init(struct ctl_args *a, const char *cmd, const char *help, int argc, char **argv);
enum ctl_arg ctl_args_next(struct ctl *ctl, struct ctl_args *a);

/* Reports argv[i] as an unknown option; returns CTL_EXIT_USAGE. */
int ctl_args_unknown(const struct ctl_args *a);

/* What ctl_args_model returns when the command goes on. */
#define CTL_CONTINUE (-1)

/*
 * The whole argument walk of a command that takes one MODEL and no option
 * of its own: CTL_CONTINUE with *model set, or the exit status to return
 * (help printed, or a usage error reported).
 */
int ctl_args_model(struct ctl *ctl, const char *cmd, const char *help, int argc, char **argv,
                   const char **model);

/*
 * Prints "modelctl: " + the formatted text + "\n" on stderr and returns
 * code, so that a command can `return ctl_errorf(CTL_EXIT_FAIL, ...)`.
 * ctl_usagef does the same for cmd's usage errors, pointing at --help, and
 * returns CTL_EXIT_USAGE.
 */
int ctl_errorf(int code, const char *fmt, ...) MD_PRINTF(2, 3);
int ctl_usagef(const char *cmd, const char *fmt, ...) MD_PRINTF(2, 3);

/*
 * Appends s to b percent-encoded as one URL path segment (unreserved
 * characters kept). Returns MD_OK or buf.h's codes.
 */
int ctl_path_segment(struct md_buf *b, const char *s) MD_MUST_CHECK;

void ctl_resp_init(struct ctl_resp *resp);
void ctl_resp_release(struct ctl_resp *resp);

/*
 * Appends "/api/v1/models/" + model (one encoded segment) + tail (already
 * encoded: "/versions", "" for none) to b. Returns MD_OK or buf.h's codes.
 */
int ctl_model_path(struct md_buf *b, const char *model, const char *tail) MD_MUST_CHECK;

/*
 * Sends one request to ctl->url + path (path starts with '/', segments
 * already encoded). method is "GET", "POST", "PUT" or "DELETE"; a POST or
 * PUT sends body (len bytes, may be empty) as application/json. Any HTTP
 * status counts as an answer: returns CTL_EXIT_OK with resp filled (status,
 * body, request_id). When no answer came (cannot connect, timed out,
 * response too large) prints "modelctl: cannot reach <url>: <reason>" or
 * "modelctl: <what>: <reason>" and returns CTL_EXIT_FAIL; a URL that is not
 * http(s) is CTL_EXIT_USAGE. resp must be initialised; it is reset first.
 *
 * ctl_http_header sends one more request header, a whole "Name: value" line
 * (NULL for none), such as "If-Match: \"7\"".
 */
int ctl_http(struct ctl *ctl, const char *what, const char *method, const char *path,
             const char *body, size_t len, struct ctl_resp *resp);
int ctl_http_header(struct ctl *ctl, const char *what, const char *method, const char *path,
                    const char *header, const char *body, size_t len, struct ctl_resp *resp);

/*
 * The exchange most management commands make: ctl_http_header, then a
 * non-2xx answer printed as ctl_fail_resp does, then the body parsed as
 * JSON into *out (a new reference the caller json_decref's; NULL on any
 * failure). Returns CTL_EXIT_OK or the exit status of the failure, already
 * reported on stderr.
 */
int ctl_call_json(struct ctl *ctl, const char *what, const char *method, const char *path,
                  const char *header, const char *body, size_t len, struct ctl_resp *resp,
                  json_t **out);

/*
 * ctl_call_json on /api/v1/models/{model}<tail> (the model's name escaped),
 * with body (NULL: none) and header (may be NULL); the answer must be a
 * JSON object. Returns CTL_EXIT_OK or the failure's exit status, reported.
 */
int ctl_model_json(struct ctl *ctl, const char *what, const char *method, const char *model,
                   const char *tail, const char *header, const char *body, struct ctl_resp *resp,
                   json_t **out);

/*
 * A multipart/form-data body for ctl_http_form, made on ctl's curl handle
 * (created if needed); NULL when libcurl cannot start. Parts are added with
 * libcurl's curl_mime_addpart and friends.
 */
curl_mime *ctl_form_new(struct ctl *ctl);

/*
 * POSTs form (from ctl_form_new; taken and freed) to ctl->url + path as
 * multipart/form-data. libcurl reads a file part as it sends it, so a
 * large file is never held in memory. The transfer as a whole has no time
 * limit: --timeout bounds how long it may go without sending or receiving
 * a byte. Otherwise as ctl_http.
 */
int ctl_http_form(struct ctl *ctl, const char *what, const char *path, curl_mime *form,
                  struct ctl_resp *resp);

/* True for a 2xx status. */
bool ctl_resp_ok(const struct ctl_resp *resp);

/*
 * Writes the reason a non-2xx response gives into out (n bytes, always
 * NUL-terminated): the body's "error" string (or "detail", as FastAPI-based
 * servers send), else "HTTP <status>" plus the start of a text body.
 */
void ctl_resp_reason(const struct ctl_resp *resp, char *out, size_t n);

/* Prints "modelctl: <what>: <reason>" for a non-2xx resp; returns CTL_EXIT_FAIL. */
int ctl_fail_resp(const char *what, const struct ctl_resp *resp);

/*
 * Parses resp's body as JSON into *out (a new reference the caller
 * json_decref's). On a parse error prints "modelctl: <what>: bad response
 * from server: <reason>" and returns CTL_EXIT_FAIL.
 */
int ctl_resp_json(const char *what, const struct ctl_resp *resp, json_t **out);

/* Writes resp's body to stdout as received, with a final newline when it lacks one. */
void ctl_print_body(const struct ctl_resp *resp);

/*
 * Reads all of path ("-": standard input) into b, at most CTL_MAX_BODY
 * bytes. On failure prints "modelctl: <opt>: cannot open|read '<path>':
 * <reason>" (or "... is larger than 64 MiB") and returns CTL_EXIT_USAGE.
 */
int ctl_read_file(const char *opt, const char *path, struct md_buf *b);

/*
 * A table printed as the commands print theirs: a header line of column
 * names, then rows, each cell padded to its column's width with two spaces
 * between columns and trailing blanks dropped. Control characters in a cell
 * print as spaces, so a row is one line whatever the server sent.
 *
 *     struct ctl_table t;
 *     ctl_table_init(&t, (const char *const[]){"ALIAS", "VERSION"}, 2);
 *     ctl_table_cell(&t, "champion");
 *     ctl_table_cellf(&t, "%d", 3);
 *     ctl_table_print(&t, stdout);
 *     ctl_table_release(&t);
 *
 * Cells fill rows left to right; a row left short prints empty cells. The
 * header strings are borrowed for the table's life; cells are copied.
 */
struct ctl_table {
    size_t n_cols;             /* read-only: columns, >= 1 */
    const char *const *header; /* borrowed: n_cols names */
    char **cells;              /* private: row-major, n_cells of them, owned */
    size_t n_cells;            /* private */
    size_t cap;                /* private: cells allocated */
};

void ctl_table_init(struct ctl_table *t, const char *const *header, size_t n_cols);
void ctl_table_cell(struct ctl_table *t, const char *s);
void ctl_table_cellf(struct ctl_table *t, const char *fmt, ...) MD_PRINTF(2, 3);
/* Rows so far (a partly filled last row counts). */
size_t ctl_table_rows(const struct ctl_table *t);
void ctl_table_print(const struct ctl_table *t, FILE *f);
void ctl_table_release(struct ctl_table *t);

/* Bytes ctl_format_real needs: any %.17g and its NUL fit. */
#define CTL_REAL_MAX 32

/*
 * Writes d into out (n bytes, n >= CTL_REAL_MAX) in the shortest %g form that
 * reads back as d.
 */
void ctl_format_real(double d, char *out, size_t n);

/* Bytes ctl_format_percent needs. */
#define CTL_PERCENT_MAX 32

/*
 * Writes a share in percent (0..100) into out (n >= CTL_PERCENT_MAX) as
 * people read it: at most two decimals, no trailing zeros, a '%' sign
 * ("90%", "33.33%", "0.5%"); a share above 0 too small for two decimals is
 * "<0.01%".
 */
void ctl_format_percent(double pct, char *out, size_t n);

/*
 * Prints one JSON value as plain text on f: strings unquoted, numbers in
 * their shortest round-trip form, arrays flattened with ", ", objects as
 * compact JSON.
 */
void ctl_print_value(FILE *f, const json_t *v);

/*
 * The commands, one per cmd_<verb>.c (load and unload share cmd_load.c,
 * alias and aliases cmd_alias.c, archive and restore cmd_archive.c,
 * rollout and rollouts cmd_rollout.c, strategy cmd_strategy.c).
 * argv[0] is the command's name; the return value is the exit status.
 */
int cmd_status(int argc, char **argv, struct ctl *ctl);
int cmd_predict(int argc, char **argv, struct ctl *ctl);
int cmd_load(int argc, char **argv, struct ctl *ctl);
int cmd_unload(int argc, char **argv, struct ctl *ctl);
int cmd_health(int argc, char **argv, struct ctl *ctl);
int cmd_register(int argc, char **argv, struct ctl *ctl);
int cmd_versions(int argc, char **argv, struct ctl *ctl);
int cmd_alias(int argc, char **argv, struct ctl *ctl);
int cmd_aliases(int argc, char **argv, struct ctl *ctl);
int cmd_traffic(int argc, char **argv, struct ctl *ctl);
int cmd_archive(int argc, char **argv, struct ctl *ctl);
int cmd_restore(int argc, char **argv, struct ctl *ctl);
int cmd_events(int argc, char **argv, struct ctl *ctl);
int cmd_audit(int argc, char **argv, struct ctl *ctl);
int cmd_predictions(int argc, char **argv, struct ctl *ctl);
int cmd_rollout(int argc, char **argv, struct ctl *ctl);
int cmd_rollouts(int argc, char **argv, struct ctl *ctl);
int cmd_strategy(int argc, char **argv, struct ctl *ctl);
int cmd_history(int argc, char **argv, struct ctl *ctl);
int cmd_profile(int argc, char **argv, struct ctl *ctl);
int cmd_drift(int argc, char **argv, struct ctl *ctl);
int cmd_alerts(int argc, char **argv, struct ctl *ctl);
int cmd_alert_rule(int argc, char **argv, struct ctl *ctl);
int cmd_feedback(int argc, char **argv, struct ctl *ctl);
int cmd_retrain(int argc, char **argv, struct ctl *ctl);
int cmd_trainings(int argc, char **argv, struct ctl *ctl);
int cmd_quality(int argc, char **argv, struct ctl *ctl);
int cmd_ab(int argc, char **argv, struct ctl *ctl);
int cmd_review(int argc, char **argv, struct ctl *ctl);
int cmd_dataset(int argc, char **argv, struct ctl *ctl);
int cmd_erase(int argc, char **argv, struct ctl *ctl);
int cmd_keys(int argc, char **argv, struct ctl *ctl);
/* Bearer tokens (cmd_token.c). */
int cmd_token(int argc, char **argv, struct ctl *ctl);
/* The security self-assessment (cmd_security.c). */
int cmd_security_report(int argc, char **argv, struct ctl *ctl);

#endif
