/* SPDX-License-Identifier: MIT */
/*
 * ctl.c: the helpers of ctl.h: global options, the HTTP exchange over one
 * reused curl handle, and the tool's error and value printing. What each
 * command sends and shows stays in its cmd_<verb>.c.
 */
#include "ctl.h"
#include "util/mem.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

void ctl_set_url(struct ctl *ctl, const char *url, const char *origin)
{
    size_t n = strlen(url);

    /* Paths are appended as "/v2/...", so a trailing '/' would double. */
    while (n > 0 && url[n - 1] == '/')
        n--;
    free(ctl->url);
    ctl->url = md_xstrndup(url, n);
    ctl->url_origin = origin;
}

void ctl_init(struct ctl *ctl)
{
    const char *env = getenv("MODELD_URL");

    memset(ctl, 0, sizeof(*ctl));
    ctl->timeout_ms = CTL_DEFAULT_TIMEOUT_S * 1000L;
    ctl->format = CTL_FORMAT_TEXT;
    if (env != NULL && env[0] != '\0')
        ctl_set_url(ctl, env, "MODELD_URL");
    else
        ctl_set_url(ctl, CTL_DEFAULT_URL, "the default URL");
}

void ctl_release(struct ctl *ctl)
{
    if (ctl->curl != NULL)
        curl_easy_cleanup(ctl->curl);
    free(ctl->url);
    ctl->curl = NULL;
    ctl->url = NULL;
}

bool ctl_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int ctl_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
        return 0;
    if (a[2 + n] == '=') {
        *value = a + 2 + n + 1;
        return 1;
    }
    if (a[2 + n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        ctl_usagef(cmd, "option '--%s' needs a value", name);
        return -1;
    }
    *i += 1;
    *value = argv[*i];
    return 1;
}

/* "--timeout" takes seconds, fractions allowed, up to a day. */
static int parse_timeout(struct ctl *ctl, const char *cmd, const char *s)
{
    char *end = NULL;
    double secs;

    errno = 0;
    secs = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(secs > 0) || secs > 86400) {
        ctl_usagef(cmd, "--timeout: '%s' is not a number of seconds between 0 and 86400", s);
        return -1;
    }
    ctl->timeout_ms = (long)ceil(secs * 1000);
    ctl->timeout_set = true;
    return 1;
}

int ctl_global_option(struct ctl *ctl, const char *cmd, int argc, char **argv, int *i)
{
    const char *v = NULL;
    int r;

    if (strcmp(argv[*i], "--json") == 0) {
        ctl->format = CTL_FORMAT_JSON;
        return 1;
    }
    r = ctl_opt(cmd, argc, argv, i, "url", &v);
    if (r > 0) {
        ctl_set_url(ctl, v, "--url");
        return 1;
    }
    if (r < 0)
        return -1;
    r = ctl_opt(cmd, argc, argv, i, "timeout", &v);
    if (r > 0)
        return parse_timeout(ctl, cmd, v);
    return r;
}

void ctl_args_init(struct ctl_args *a, const char *cmd, const char *help, int argc, char **argv)
{
    a->cmd = cmd;
    a->help = help;
    a->argc = argc;
    a->argv = argv;
    a->i = 0; /* argv[0] is the command's name */
    a->exit_code = CTL_EXIT_OK;
    a->words_only = false;
}

enum ctl_arg ctl_args_next(struct ctl *ctl, struct ctl_args *a)
{
    const char *arg;
    int g;

    for (a->i++; a->i < a->argc; a->i++) {
        arg = a->argv[a->i];
        if (a->words_only || arg[0] != '-' || arg[1] == '\0')
            return CTL_ARG_WORD;
        if (strcmp(arg, "--") == 0) {
            a->words_only = true;
            continue;
        }
        if (ctl_is_help(arg)) {
            fputs(a->help, stdout);
            a->exit_code = CTL_EXIT_OK;
            return CTL_ARG_EXIT;
        }
        g = ctl_global_option(ctl, a->cmd, a->argc, a->argv, &a->i);
        if (g < 0) {
            a->exit_code = CTL_EXIT_USAGE;
            return CTL_ARG_EXIT;
        }
        if (g == 0)
            return CTL_ARG_OPTION;
    }
    return CTL_ARG_END;
}

int ctl_args_unknown(const struct ctl_args *a)
{
    return ctl_usagef(a->cmd, "unknown option '%s'", a->argv[a->i]);
}

/* ------------------------------------------------------------------ */
/* Messages                                                           */
/* ------------------------------------------------------------------ */

int ctl_errorf(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("modelctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int ctl_usagef(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    if (cmd != NULL)
        fprintf(stderr, "modelctl: %s: ", cmd);
    else
        fputs("modelctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd != NULL)
        fprintf(stderr, " (see 'modelctl %s --help')\n", cmd);
    else
        fputs(" (see 'modelctl --help')\n", stderr);
    return CTL_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                               */
/* ------------------------------------------------------------------ */

int ctl_path_segment(struct md_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = MD_OK;

    for (; *s != '\0' && rc == MD_OK; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[3];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = md_buf_putc(b, (char)c);
            continue;
        }
        esc[0] = '%';
        esc[1] = hex[c >> 4];
        esc[2] = hex[c & 15];
        rc = md_buf_append(b, esc, 3);
    }
    return rc;
}

void ctl_resp_init(struct ctl_resp *resp)
{
    resp->status = 0;
    md_buf_init(&resp->body, CTL_MAX_BODY);
    resp->request_id[0] = '\0';
}

void ctl_resp_release(struct ctl_resp *resp)
{
    md_buf_release(&resp->body);
    resp->status = 0;
    resp->request_id[0] = '\0';
}

bool ctl_resp_ok(const struct ctl_resp *resp)
{
    return resp->status >= 200 && resp->status < 300;
}

/* Where curl's write callback puts the body, and why it stopped when it did. */
struct sink {
    struct md_buf *body;
    int rc; /* MD_OK, or md_buf_append's MD_ETOOBIG / MD_ENOMEM */
};

/* curl's write callback: a short count ends the transfer with CURLE_WRITE_ERROR. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sink *sink = arg;
    size_t n = size * nmemb;

    sink->rc = md_buf_append(sink->body, p, n);
    return sink->rc == MD_OK ? n : 0;
}

static void take_request_id(struct ctl *ctl, struct ctl_resp *resp)
{
    struct curl_header *h = NULL;
    size_t n;

    if (curl_easy_header(ctl->curl, "X-Request-Id", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return;
    n = strlen(h->value);
    if (n >= sizeof(resp->request_id))
        n = sizeof(resp->request_id) - 1;
    memcpy(resp->request_id, h->value, n);
    resp->request_id[n] = '\0';
}

/* Turns a failed transfer into the one line the user sees. */
static int transfer_failed(struct ctl *ctl, const char *what, CURLcode rc, const struct sink *sink)
{
    long os_errno = 0;

    curl_easy_getinfo(ctl->curl, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
    case CURLE_WRITE_ERROR:
        if (sink->rc == MD_ETOOBIG)
            return ctl_errorf(CTL_EXIT_FAIL, "%s: response larger than %zu MiB", what,
                              CTL_MAX_BODY >> 20);
        return ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory reading the response", what);
    case CURLE_OPERATION_TIMEDOUT:
        return ctl_errorf(CTL_EXIT_FAIL, "%s: no answer from %s within %.3g s", what, ctl->url,
                          (double)ctl->timeout_ms / 1000.0);
    case CURLE_COULDNT_CONNECT:
        if (os_errno != 0)
            return ctl_errorf(CTL_EXIT_FAIL, "cannot reach %s: %s", ctl->url,
                              strerror((int)os_errno));
        break;
    default:
        break;
    }
    return ctl_errorf(CTL_EXIT_FAIL, "cannot reach %s: %s", ctl->url,
                      ctl->errbuf[0] != '\0' ? ctl->errbuf : curl_easy_strerror(rc));
}

/* Sets what stays the same across requests on a fresh or reused handle. */
static int prepare_handle(struct ctl *ctl)
{
    if (ctl->curl == NULL) {
        ctl->curl = curl_easy_init();
        if (ctl->curl == NULL)
            return ctl_errorf(CTL_EXIT_FAIL, "cannot start libcurl");
    } else {
        curl_easy_reset(ctl->curl);
    }
    ctl->errbuf[0] = '\0';
    curl_easy_setopt(ctl->curl, CURLOPT_ERRORBUFFER, ctl->errbuf);
    curl_easy_setopt(ctl->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ctl->curl, CURLOPT_TIMEOUT_MS, ctl->timeout_ms);
    curl_easy_setopt(ctl->curl, CURLOPT_CONNECTTIMEOUT_MS, ctl->timeout_ms);
    curl_easy_setopt(ctl->curl, CURLOPT_USERAGENT, "modelctl/" MD_VERSION);
    curl_easy_setopt(ctl->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A daemon with --auth wants a bearer token: $MODELD_TOKEN (never in argv,
     * where other users of the machine could read it). */
    {
        const char *token = getenv("MODELD_TOKEN");

        if (token != NULL && token[0] != '\0') {
            curl_easy_setopt(ctl->curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
            curl_easy_setopt(ctl->curl, CURLOPT_XOAUTH2_BEARER, token);
        }
    }
    return CTL_EXIT_OK;
}

int ctl_model_path(struct md_buf *b, const char *model, const char *tail)
{
    if (md_buf_puts(b, "/api/v1/models/") != MD_OK || ctl_path_segment(b, model) != MD_OK)
        return md_buf_error(b);
    return md_buf_puts(b, tail);
}

/*
 * Writes ctl->url + path into url (initialised here, released by the
 * caller whatever happens): CTL_EXIT_OK, or the exit status with the
 * message printed when the URL is not http(s) or does not fit.
 */
static int make_url(struct ctl *ctl, const char *what, const char *path, struct md_buf *url)
{
    md_buf_init(url, CTL_MAX_BODY);
    if (strncmp(ctl->url, "http://", 7) != 0 && strncmp(ctl->url, "https://", 8) != 0)
        return ctl_errorf(CTL_EXIT_USAGE, "%s: '%s' is not an http:// or https:// URL",
                          ctl->url_origin, ctl->url);
    if (md_buf_puts(url, ctl->url) != MD_OK || md_buf_puts(url, path) != MD_OK)
        return ctl_errorf(CTL_EXIT_FAIL, "%s: out of memory", what);
    return CTL_EXIT_OK;
}

/* Sends the request the handle holds (method and body set) to url, with hdrs; fills resp. */
static int exchange(struct ctl *ctl, const char *what, const struct md_buf *url,
                    struct curl_slist *hdrs, bool stall_limit, struct ctl_resp *resp)
{
    struct sink sink = {&resp->body, MD_OK};
    CURLcode rc;
    int ret;

    curl_easy_setopt(ctl->curl, CURLOPT_URL, url->data);
    curl_easy_setopt(ctl->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(ctl->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(ctl->curl, CURLOPT_WRITEDATA, &sink);
    rc = curl_easy_perform(ctl->curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(ctl->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        take_request_id(ctl, resp);
        ret = CTL_EXIT_OK;
    } else if (rc == CURLE_OPERATION_TIMEDOUT && stall_limit) {
        ret = ctl_errorf(CTL_EXIT_FAIL, "%s: nothing sent to or received from %s for %.3g s", what,
                         ctl->url, (double)ctl->timeout_ms / 1000.0);
    } else {
        ret = transfer_failed(ctl, what, rc, &sink);
    }
    /* The handle keeps pointers to these until the next setopt; drop them from it first. */
    curl_easy_setopt(ctl->curl, CURLOPT_HTTPHEADER, NULL);
    return ret;
}

int ctl_http(struct ctl *ctl, const char *what, const char *method, const char *path,
             const char *body, size_t len, struct ctl_resp *resp)
{
    return ctl_http_header(ctl, what, method, path, NULL, body, len, resp);
}

int ctl_http_header(struct ctl *ctl, const char *what, const char *method, const char *path,
                    const char *header, const char *body, size_t len, struct ctl_resp *resp)
{
    struct md_buf url;
    struct curl_slist *hdrs = NULL;
    struct curl_slist *h;
    int ret;

    ctl_resp_release(resp);
    ret = make_url(ctl, what, path, &url);
    if (ret == CTL_EXIT_OK)
        ret = prepare_handle(ctl);
    if (ret != CTL_EXIT_OK) {
        md_buf_release(&url);
        return ret;
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (header != NULL) {
        h = curl_slist_append(hdrs, header);
        if (h != NULL)
            hdrs = h;
    }
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        h = curl_slist_append(hdrs, "Content-Type: application/json");
        if (h != NULL)
            hdrs = h;
        /* Without this curl waits up to a second for "100 Continue" on bodies over 1 KiB. */
        h = curl_slist_append(hdrs, "Expect:");
        if (h != NULL)
            hdrs = h;
        curl_easy_setopt(ctl->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(ctl->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(ctl->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(ctl->curl, CURLOPT_HTTPGET, 1L);
    }
    /* A PUT is a POST's transfer under another name; a DELETE a GET's. */
    if (strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0)
        curl_easy_setopt(ctl->curl, CURLOPT_CUSTOMREQUEST, method);
    ret = exchange(ctl, what, &url, hdrs, false, resp);
    curl_slist_free_all(hdrs);
    md_buf_release(&url);
    return ret;
}

curl_mime *ctl_form_new(struct ctl *ctl)
{
    if (ctl->curl == NULL)
        ctl->curl = curl_easy_init();
    return ctl->curl != NULL ? curl_mime_init(ctl->curl) : NULL;
}

int ctl_http_form(struct ctl *ctl, const char *what, const char *path, curl_mime *form,
                  struct ctl_resp *resp)
{
    struct md_buf url;
    struct curl_slist *hdrs = NULL;
    int ret;

    ctl_resp_release(resp);
    ret = make_url(ctl, what, path, &url);
    if (ret == CTL_EXIT_OK)
        ret = prepare_handle(ctl);
    if (ret != CTL_EXIT_OK) {
        md_buf_release(&url);
        curl_mime_free(form);
        return ret;
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    /* An upload takes as long as it takes; --timeout bounds a stall instead. */
    curl_easy_setopt(ctl->curl, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(ctl->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(ctl->curl, CURLOPT_LOW_SPEED_TIME, (long)((ctl->timeout_ms + 999) / 1000));
    curl_easy_setopt(ctl->curl, CURLOPT_MIMEPOST, form);
    ret = exchange(ctl, what, &url, hdrs, true, resp);
    curl_easy_setopt(ctl->curl, CURLOPT_MIMEPOST, NULL);
    curl_mime_free(form);
    curl_slist_free_all(hdrs);
    md_buf_release(&url);
    return ret;
}

int ctl_call_json(struct ctl *ctl, const char *what, const char *method, const char *path,
                  const char *header, const char *body, size_t len, struct ctl_resp *resp,
                  json_t **out)
{
    int rc;

    *out = NULL;
    rc = ctl_http_header(ctl, what, method, path, header, body, len, resp);
    if (rc != CTL_EXIT_OK)
        return rc;
    if (!ctl_resp_ok(resp))
        return ctl_fail_resp(what, resp);
    return ctl_resp_json(what, resp, out);
}

int ctl_model_json(struct ctl *ctl, const char *what, const char *method, const char *model,
                   const char *tail, const char *header, const char *body, struct ctl_resp *resp,
                   json_t **out)
{
    struct md_buf path;
    int rc;

    *out = NULL;
    md_buf_init(&path, 4096);
    if (ctl_model_path(&path, model, tail) != MD_OK) {
        md_buf_release(&path);
        return ctl_errorf(CTL_EXIT_USAGE, "%s: model name too long", what);
    }
    rc = ctl_call_json(ctl, what, method, path.data, header, body != NULL ? body : "",
                       body != NULL ? strlen(body) : 0, resp, out);
    md_buf_release(&path);
    if (rc == CTL_EXIT_OK && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: not a JSON object", what);
    }
    return rc;
}

int ctl_args_model(struct ctl *ctl, const char *cmd, const char *help, int argc, char **argv,
                   const char **model)
{
    struct ctl_args args;
    enum ctl_arg k;

    *model = NULL;
    ctl_args_init(&args, cmd, help, argc, argv);
    while ((k = ctl_args_next(ctl, &args)) != CTL_ARG_END) {
        if (k == CTL_ARG_EXIT)
            return args.exit_code;
        if (k == CTL_ARG_OPTION)
            return ctl_args_unknown(&args);
        if (*model != NULL)
            return ctl_usagef(cmd, "unexpected argument '%s'", argv[args.i]);
        *model = argv[args.i];
    }
    if (*model == NULL)
        return ctl_usagef(cmd, "missing MODEL");
    return CTL_CONTINUE;
}

/* Copies the first line of a text body, at most n - 1 bytes, skipping control bytes. */
static void copy_line(char *out, size_t n, const char *s, size_t len)
{
    size_t o = 0;
    size_t i;

    for (i = 0; i < len && o + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\n' || c == '\r' || c == '\0')
            break;
        if (c < 0x20)
            c = ' ';
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

void ctl_resp_reason(const struct ctl_resp *resp, char *out, size_t n)
{
    json_t *root;
    const json_t *msg = NULL;
    char line[200];

    if (n == 0)
        return;
    out[0] = '\0';
    root = resp->body.len > 0 ? json_loadb(resp->body.data, resp->body.len, 0, NULL) : NULL;
    if (json_is_object(root)) {
        msg = json_object_get(root, "error");
        if (!json_is_string(msg))
            msg = json_object_get(root, "detail");
    }
    if (json_is_string(msg) && json_string_length(msg) > 0) {
        copy_line(out, n, json_string_value(msg), json_string_length(msg));
        json_decref(root);
        return;
    }
    json_decref(root);
    copy_line(line, sizeof(line), resp->body.data != NULL ? resp->body.data : "", resp->body.len);
    /* A message: cut short at n bytes. */
    if (line[0] != '\0')
        (void)snprintf(out, n, "HTTP %ld: %s", resp->status, line);
    else
        (void)snprintf(out, n, "HTTP %ld", resp->status);
}

int ctl_fail_resp(const char *what, const struct ctl_resp *resp)
{
    char reason[512];

    ctl_resp_reason(resp, reason, sizeof(reason));
    return ctl_errorf(CTL_EXIT_FAIL, "%s: %s", what, reason);
}

int ctl_resp_json(const char *what, const struct ctl_resp *resp, json_t **out)
{
    json_error_t jerr;

    *out = NULL;
    if (resp->body.len == 0)
        return ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: empty body", what);
    *out = json_loadb(resp->body.data, resp->body.len, 0, &jerr);
    if (*out == NULL)
        return ctl_errorf(CTL_EXIT_FAIL, "%s: bad response from server: %s at byte %d", what,
                          jerr.text, jerr.position);
    return CTL_EXIT_OK;
}

void ctl_print_body(const struct ctl_resp *resp)
{
    if (resp->body.len == 0)
        return;
    /* A failed write to stdout is caught once, in main. */
    (void)fwrite(resp->body.data, 1, resp->body.len, stdout);
    if (resp->body.data[resp->body.len - 1] != '\n')
        fputc('\n', stdout);
}

/* ------------------------------------------------------------------ */
/* Files and tables                                                   */
/* ------------------------------------------------------------------ */

int ctl_read_file(const char *opt, const char *path, struct md_buf *b)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char chunk[65536];
    size_t n;
    int rc = MD_OK;
    int read_errno = 0;

    if (f == NULL)
        return ctl_errorf(CTL_EXIT_USAGE, "%s: cannot open '%s': %s", opt, path, strerror(errno));
    for (;;) {
        n = fread(chunk, 1, sizeof(chunk), f);
        if (n == 0)
            break;
        rc = md_buf_append(b, chunk, n);
        if (rc != MD_OK)
            break;
    }
    if (rc == MD_OK && ferror(f)) {
        rc = MD_EIO;
        read_errno = errno;
    }
    if (f != stdin)
        (void)fclose(f); /* opened for reading only: nothing to lose */
    if (rc == MD_ETOOBIG)
        return ctl_errorf(CTL_EXIT_USAGE, "%s: '%s' is larger than %zu MiB", opt, path,
                          CTL_MAX_BODY >> 20);
    if (rc != MD_OK)
        return ctl_errorf(CTL_EXIT_USAGE, "%s: cannot read '%s': %s", opt, path,
                          rc == MD_EIO ? strerror(read_errno) : md_strerror(rc));
    return CTL_EXIT_OK;
}

void ctl_table_init(struct ctl_table *t, const char *const *header, size_t n_cols)
{
    assert(n_cols >= 1);
    t->n_cols = n_cols;
    t->header = header;
    t->cells = NULL;
    t->n_cells = 0;
    t->cap = 0;
}

void ctl_table_release(struct ctl_table *t)
{
    size_t i;

    for (i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->n_cells = 0;
    t->cap = 0;
}

void ctl_table_cell(struct ctl_table *t, const char *s)
{
    char *c;
    size_t i;

    if (t->n_cells == t->cap) {
        t->cap = t->cap == 0 ? 32 : t->cap * 2;
        t->cells = md_xrealloc(t->cells, t->cap * sizeof(*t->cells));
    }
    c = md_xstrdup(s);
    for (i = 0; c[i] != '\0'; i++)
        if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
            c[i] = ' ';
    t->cells[t->n_cells++] = c;
}

void ctl_table_cellf(struct ctl_table *t, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    /* A cell cut short at 511 bytes is still a cell. */
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    ctl_table_cell(t, text);
}

size_t ctl_table_rows(const struct ctl_table *t)
{
    return (t->n_cells + t->n_cols - 1) / t->n_cols;
}

/* One line: cells padded to their column's width, two spaces apart, trailing blanks dropped. */
static void table_line(FILE *f, const char *const *cells, size_t n, const size_t *width)
{
    size_t end = n;
    size_t c;

    /* Trailing empty cells print nothing; the last printed one is not padded. */
    while (end > 0 && cells[end - 1][0] == '\0')
        end--;
    for (c = 0; c < end; c++) {
        if (c + 1 < end)
            fprintf(f, "%-*s  ", (int)width[c], cells[c]);
        else
            fputs(cells[c], f);
    }
    fputc('\n', f);
}

void ctl_table_print(const struct ctl_table *t, FILE *f)
{
    size_t *width = md_xcalloc(t->n_cols, sizeof(*width));
    const char **row = md_xcalloc(t->n_cols, sizeof(*row));
    size_t rows = ctl_table_rows(t);
    size_t r;
    size_t c;

    for (c = 0; c < t->n_cols; c++)
        width[c] = strlen(t->header[c]);
    for (r = 0; r < t->n_cells; r++) {
        size_t w = strlen(t->cells[r]);

        if (w > width[r % t->n_cols])
            width[r % t->n_cols] = w;
    }
    table_line(f, t->header, t->n_cols, width);
    for (r = 0; r < rows; r++) {
        for (c = 0; c < t->n_cols; c++) {
            size_t i = r * t->n_cols + c;

            row[c] = i < t->n_cells ? t->cells[i] : "";
        }
        table_line(f, row, t->n_cols, width);
    }
    free(row);
    free(width);
}

void ctl_format_real(double d, char *out, size_t n)
{
    int prec;

    /* n >= CTL_REAL_MAX (ctl.h): no form is cut short. */
    assert(n >= CTL_REAL_MAX);
    if (!isfinite(d)) {
        (void)snprintf(out, n, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        return;
    }
    for (prec = 1; prec < 17; prec++) {
        (void)snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
    (void)snprintf(out, n, "%.17g", d);
}

void ctl_format_percent(double pct, char *out, size_t n)
{
    size_t len;

    assert(n >= CTL_PERCENT_MAX);
    if (!isfinite(pct)) {
        (void)snprintf(out, n, "?");
        return;
    }
    if (pct > 0 && pct < 0.005) {
        (void)snprintf(out, n, "<0.01%%");
        return;
    }
    (void)snprintf(out, n, "%.2f", pct); /* |pct| <= 100 in any sane answer; cut short if not */
    len = strlen(out);
    while (len > 0 && out[len - 1] == '0')
        out[--len] = '\0';
    if (len > 0 && out[len - 1] == '.')
        out[--len] = '\0';
    if (len + 2 <= n) {
        out[len] = '%';
        out[len + 1] = '\0';
    }
}

void ctl_print_value(FILE *f, const json_t *v)
{
    char num[CTL_REAL_MAX];
    size_t i;
    char *s;

    switch (json_typeof(v)) {
    case JSON_STRING:
        /* A failed write is caught once, in main (f is stdout). */
        (void)fwrite(json_string_value(v), 1, json_string_length(v), f);
        break;
    case JSON_INTEGER:
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        ctl_format_real(json_real_value(v), num, sizeof(num));
        fputs(num, f);
        break;
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    case JSON_NULL:
        fputs("null", f);
        break;
    case JSON_ARRAY:
        for (i = 0; i < json_array_size(v); i++) {
            if (i > 0)
                fputs(", ", f);
            ctl_print_value(f, json_array_get(v, i));
        }
        break;
    case JSON_OBJECT:
        s = json_dumps(v, JSON_COMPACT);
        if (s != NULL)
            fputs(s, f);
        free(s);
        break;
    }
}
