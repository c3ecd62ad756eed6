/* SPDX-License-Identifier: MIT */
/*
 * session.c: the dashboard's sessions (session.h): the table in memory,
 * the parsers of a cookie request's headers, and the endpoints of
 * /api/v1/session. Checking a session's credential is auth.c's, which calls
 * md_sessions_find on its cookie path; this file never decides what a
 * credential may do.
 *
 * The table is an array kept compact (an ended session's slot takes the
 * last one), searched linearly under one mutex: a few hundred 32-byte
 * compares cost less than the credential's check that follows, and only
 * requests that come by cookie take the lock. The ids are never stored:
 * only their SHA-256, so that a dump of the process's memory does not hand
 * out sessions (the credentials it holds are another matter: they are in
 * memory as the token table's hashes are not).
 */
#include "api/session.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/jwt.h"
#include "api/token.h"
#include "util/buf.h"
#include "util/mem.h"
#include "watch/metrics.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One session. */
struct slot {
    unsigned char hash[32];             /* SHA-256 of the id */
    char *credential;                   /* owned, NUL-terminated; cleansed when freed */
    size_t n;                           /* its length */
    char csrf[MD_SESSION_CSRF_HEX + 1]; /* the CSRF token */
    int64_t created_ms;                 /* sign-in, wall ms */
    int64_t used_ms;                    /* the last request, wall ms */
    uint64_t used_seq;                  /* the table's use count then: the eviction's order */
};

struct md_sessions {
    pthread_mutex_t lock; /* guards n, cap, v */
    int64_t idle_ms;      /* read-only */
    int64_t max_age_ms;   /* read-only */
    size_t max;           /* read-only: sessions at most */
    size_t n, cap;
    struct slot *v; /* n used of cap */
    uint64_t seq;   /* sign-ins and uses so far: an order finer than a millisecond */
};

struct md_sessions *md_sessions_new(int64_t idle_ms, int64_t max_age_ms, size_t max)
{
    struct md_sessions *s = md_xcalloc(1, sizeof(*s));

    pthread_mutex_init(&s->lock, NULL);
    s->idle_ms = idle_ms > 0 ? idle_ms : 1;
    s->max_age_ms = max_age_ms > 0 ? max_age_ms : 1;
    s->max = max > 0 ? max : 1;
    return s;
}

static void clear_slot(struct slot *e)
{
    OPENSSL_cleanse(e->credential, e->n);
    free(e->credential);
    OPENSSL_cleanse(e, sizeof(*e));
}

void md_sessions_free(struct md_sessions *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        clear_slot(&s->v[i]);
    free(s->v);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int64_t md_sessions_max_age_ms(const struct md_sessions *s)
{
    return s->max_age_ms;
}

/* When e ends unless used again. */
static int64_t expiry(const struct md_sessions *s, const struct slot *e)
{
    int64_t idle = e->used_ms + s->idle_ms;
    int64_t age = e->created_ms + s->max_age_ms;

    return idle < age ? idle : age;
}

/* Ends slot i (under the lock): the last slot moves into its place. */
static void drop(struct md_sessions *s, size_t i)
{
    clear_slot(&s->v[i]);
    if (i != s->n - 1) {
        s->v[i] = s->v[s->n - 1];
        memset(&s->v[s->n - 1], 0, sizeof(s->v[0]));
    }
    s->n--;
}

/* The slot of hash (under the lock), or -1. */
static long find(const struct md_sessions *s, const unsigned char hash[32])
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].hash[0] == hash[0] && CRYPTO_memcmp(s->v[i].hash, hash, 32) == 0)
            return (long)i;
    return -1;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int md_sessions_create(struct md_sessions *s, const char *credential, size_t n, int64_t now_ms,
                       char id_hex[MD_SESSION_ID_HEX + 1], struct md_session_view *view,
                       struct md_err *err)
{
    unsigned char id[MD_SESSION_ID_BYTES];
    unsigned char csrf[MD_SESSION_CSRF_HEX / 2];
    struct slot e;

    if (n > MD_SESSION_CREDENTIAL_MAX)
        return md_err_set(err, MD_EINVAL, "token: too long (at most %d bytes)",
                          MD_SESSION_CREDENTIAL_MAX);
    memset(&e, 0, sizeof(e));
    if (RAND_bytes(id, sizeof(id)) != 1 || RAND_bytes(csrf, sizeof(csrf)) != 1)
        return md_err_set(err, MD_EINTERNAL, "session: no random bytes to be had");
    e.credential = md_malloc(n + 1);
    if (e.credential == NULL)
        return md_err_set(err, MD_ENOMEM, "session: out of memory");
    memcpy(e.credential, credential, n);
    e.credential[n] = '\0';
    e.n = n;
    md_token_hash(id, sizeof(id), e.hash);
    hex(id, sizeof(id), id_hex);
    hex(csrf, sizeof(csrf), e.csrf);
    OPENSSL_cleanse(id, sizeof(id));
    OPENSSL_cleanse(csrf, sizeof(csrf));
    e.created_ms = now_ms;
    e.used_ms = now_ms;
    memcpy(view->id_hash, e.hash, 32);
    memcpy(view->csrf, e.csrf, sizeof(view->csrf));

    pthread_mutex_lock(&s->lock);
    /* Expired sessions go first; then, when full, the one unused longest. */
    for (size_t i = s->n; i-- > 0;)
        if (now_ms >= expiry(s, &s->v[i]))
            drop(s, i);
    if (s->n >= s->max) {
        size_t oldest = 0;

        for (size_t i = 1; i < s->n; i++)
            if (s->v[i].used_seq < s->v[oldest].used_seq)
                oldest = i;
        drop(s, oldest);
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;

        s->cap = cap < s->max ? cap : s->max;
        s->v = md_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    e.used_seq = ++s->seq;
    s->v[s->n++] = e;
    view->expires_ms = expiry(s, &e);
    pthread_mutex_unlock(&s->lock);
    return MD_OK;
}

int md_sessions_find(struct md_sessions *s, const unsigned char id[MD_SESSION_ID_BYTES],
                     int64_t now_ms, struct md_arena *a, const char **credential, size_t *n,
                     struct md_session_view **view, struct md_err *err)
{
    unsigned char hash[32];
    struct md_session_view *v = md_arena_alloc(a, sizeof(*v));
    int rc = MD_OK;
    long i;

    if (v == NULL)
        return md_err_set(err, MD_ENOMEM, "request memory: full");
    md_token_hash(id, MD_SESSION_ID_BYTES, hash);
    pthread_mutex_lock(&s->lock);
    i = find(s, hash);
    if (i < 0) {
        rc = md_err_set(err, MD_EAUTH, "session: unknown or ended; sign in again");
    } else if (now_ms >= expiry(s, &s->v[i])) {
        drop(s, (size_t)i);
        rc = md_err_set(err, MD_EAUTH, "session: expired; sign in again");
    } else {
        struct slot *e = &s->v[i];

        e->used_ms = now_ms;
        e->used_seq = ++s->seq;
        *credential = md_arena_strndup(a, e->credential, e->n);
        *n = e->n;
        memcpy(v->id_hash, e->hash, 32);
        memcpy(v->csrf, e->csrf, sizeof(v->csrf));
        v->expires_ms = expiry(s, e);
        if (*credential == NULL)
            rc = md_err_set(err, MD_ENOMEM, "request memory: full");
    }
    pthread_mutex_unlock(&s->lock);
    *view = v;
    return rc;
}

bool md_sessions_end(struct md_sessions *s, const unsigned char id_hash[32])
{
    long i;

    pthread_mutex_lock(&s->lock);
    i = find(s, id_hash);
    if (i >= 0)
        drop(s, (size_t)i);
    pthread_mutex_unlock(&s->lock);
    return i >= 0;
}

size_t md_sessions_count(struct md_sessions *s)
{
    size_t n;

    pthread_mutex_lock(&s->lock);
    n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- a cookie request's headers ------------------------------------------------ */

/* Decodes v (n bytes) into id when it is MD_SESSION_ID_HEX hex digits. */
static bool id_of(const char *v, size_t n, unsigned char id[MD_SESSION_ID_BYTES])
{
    if (n != MD_SESSION_ID_HEX)
        return false;
    for (size_t i = 0; i < MD_SESSION_ID_BYTES; i++) {
        int hi = md_hex_digit(v[2 * i]);
        int lo = md_hex_digit(v[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        id[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

bool md_session_cookie(const char *header, unsigned char id[MD_SESSION_ID_BYTES])
{
    static const char name[] = MD_SESSION_COOKIE;
    const char *p = header;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ';');
        const char *stop = end != NULL ? end : p + strlen(p);
        const char *eq;
        const char *v;
        size_t nlen;

        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        eq = memchr(p, '=', (size_t)(stop - p));
        if (eq != NULL) {
            const char *nend = eq;
            const char *vend = stop;

            while (nend > p && (nend[-1] == ' ' || nend[-1] == '\t'))
                nend--;
            nlen = (size_t)(nend - p);
            v = eq + 1;
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            if (vend - v >= 2 && *v == '"' && vend[-1] == '"') {
                v++;
                vend--;
            }
            if (nlen == sizeof(name) - 1 && memcmp(p, name, nlen) == 0 &&
                id_of(v, (size_t)(vend - v), id))
                return true;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

bool md_session_csrf_ok(const char *csrf, const char *given)
{
    size_t n = strlen(csrf);

    if (given == NULL || n == 0 || strlen(given) != n)
        return false;
    return CRYPTO_memcmp(csrf, given, n) == 0;
}

bool md_session_origin_ok(const char *origin, const char *host)
{
    const char *at;
    size_t n;

    if (origin == NULL || host == NULL || host[0] == '\0')
        return false;
    at = strstr(origin, "://");
    if (at == NULL)
        return false;
    at += 3;
    n = strlen(host);
    /* An Origin is scheme "://" host [":" port], nothing after. */
    return strlen(at) == n && strncasecmp(at, host, n) == 0;
}

/* ---- the endpoints ------------------------------------------------------------ */

/* The session document of p (api.md "Session"). */
static int put_doc(struct md_buf *b, const struct md_api *api, const struct md_principal *p)
{
    bool first = true;

    (void)md_buf_printf(b, "{\"auth\":%s,\"principal\":", api->auth.enabled ? "true" : "false");
    (void)md_buf_json_str(b, p->name, strlen(p->name));
    (void)md_buf_puts(b, ",\"role\":");
    if (p->role != 0)
        (void)md_buf_printf(b, "\"%s\"", md_role_name(p->role));
    else
        (void)md_buf_puts(b, "null");
    (void)md_buf_puts(b, ",\"permissions\":[");
    for (unsigned bit = 1; bit <= MD_PERM_ADMIN; bit <<= 1)
        if (p->perms & bit) {
            (void)md_buf_printf(b, "%s\"%s\"", first ? "" : ",", md_perm_name(bit));
            first = false;
        }
    (void)md_buf_puts(b, "],\"models\":");
    if (p->all_models) {
        (void)md_buf_puts(b, "null");
    } else {
        (void)md_buf_putc(b, '[');
        for (size_t i = 0; i < p->n_models; i++) {
            if (i > 0)
                (void)md_buf_putc(b, ',');
            (void)md_buf_json_str(b, p->models[i], strlen(p->models[i]));
        }
        (void)md_buf_putc(b, ']');
    }
    (void)md_buf_printf(b, ",\"via\":\"%s\",\"csrf\":",
                        p->session != NULL  ? "cookie"
                        : api->auth.enabled ? "bearer"
                                            : "anonymous");
    if (p->session != NULL)
        (void)md_buf_printf(b, "\"%s\",\"expires_ms\":%lld}", p->session->csrf,
                            (long long)p->session->expires_ms);
    else
        (void)md_buf_puts(b, "null,\"expires_ms\":null}");
    return md_buf_error(b);
}

/* Set-Cookie for id_hex (NULL: the cookie cleared), in the request's arena. */
static void set_cookie(const struct md_api *api, const char *id_hex, struct md_api_req *req,
                       struct md_api_resp *resp)
{
    char line[256];
    long long age = id_hex != NULL && api->auth.sessions != NULL
                        ? (long long)(md_sessions_max_age_ms(api->auth.sessions) / 1000)
                        : 0;
    int n = snprintf(line, sizeof(line), "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                     MD_SESSION_COOKIE, id_hex != NULL ? id_hex : "", age,
                     api->auth.tls ? "; Secure" : "");
    char *v = n > 0 ? md_arena_strndup(req->arena, line, (size_t)n) : NULL;

    OPENSSL_cleanse(line, sizeof(line));
    if (v != NULL)
        md_api_header(resp, "Set-Cookie", v);
    md_api_header(resp, "Cache-Control", "no-store");
}

/* Whether a Content-Type header's value is JSON's: application/json, parameters allowed. */
static bool json_content(const char *ct)
{
    static const char want[] = "application/json";

    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    ct += sizeof(want) - 1;
    return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

void md_session_api_create(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    const struct md_principal *who = NULL;
    struct md_session_view *view;
    char id_hex[MD_SESSION_ID_HEX + 1];
    struct md_err err;
    json_error_t jerr;
    json_t *root;
    json_t *tok;
    const char *t;
    size_t n;
    int rc;

    MD_UNUSED(rt);
    if (!api->auth.enabled) {
        md_api_errorf(resp, MD_ECONFLICT,
                      "authentication is off (no --auth): there is nothing to sign in to; every "
                      "request may do anything");
        return;
    }
    if (api->auth.sessions == NULL) {
        md_api_errorf(resp, MD_EUNAVAIL, "sessions: not kept by this server");
        return;
    }
    if (!json_content(req->header != NULL ? req->header(req->conn, "Content-Type") : NULL)) {
        md_api_errorf(resp, MD_EINVAL, "Content-Type: must be application/json");
        return;
    }
    root = json_loadb(req->body != NULL ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES,
                      &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        md_api_errorf(resp, MD_EINVAL, "body: not a JSON object");
        return;
    }
    tok = json_object_get(root, "token");
    t = json_string_value(tok);
    n = t != NULL ? json_string_length(tok) : 0;
    if (tok == NULL)
        rc = md_err_set(&err, MD_EINVAL, "token: missing");
    else if (t == NULL)
        rc = md_err_set(&err, MD_EINVAL, "token: not a string");
    else if (n == 0)
        rc = md_err_set(&err, MD_EINVAL, "token: empty");
    else if (n > MD_SESSION_CREDENTIAL_MAX)
        rc = md_err_set(&err, MD_EINVAL, "token: too long (at most %d bytes)",
                        MD_SESSION_CREDENTIAL_MAX);
    else if (strlen(t) != n || (!md_jwt_is_jwt(t, n) && !md_token_secret_valid(t, n)))
        rc = md_err_set(&err, MD_EAUTH,
                        "token: malformed; expected 'mdt_' and 64 hex digits, or a JSON Web Token");
    else
        rc = md_auth_credential(&api->auth, req, t, n, true, &who, resp->retry_after, &err);
    view = rc == MD_OK ? md_arena_alloc(req->arena, sizeof(*view)) : NULL;
    if (rc == MD_OK && (view == NULL || t == NULL))
        rc = md_err_set(&err, MD_ENOMEM, "request memory: full");
    else if (rc == MD_OK && view != NULL && t != NULL)
        rc = md_sessions_create(api->auth.sessions, t, n, md_wall_ms(), id_hex, view, &err);
    if (t != NULL)
        OPENSSL_cleanse((char *)t, n); /* jansson's copy of the secret */
    json_decref(root);
    if (rc != MD_OK) {
        md_api_error(resp, &err);
        return;
    }
    /* Cast: who is the request's arena, made just now. */
    ((struct md_principal *)who)->session = view;
    req->principal = who; /* the audit log's actor: the token signed in */
    set_cookie(api, id_hex, req, resp);
    OPENSSL_cleanse(id_hex, sizeof(id_hex));
    resp->status = 201;
    md_api_finish(resp, put_doc(resp->body, api, who));
}

void md_session_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp)
{
    MD_UNUSED(rt);
    md_api_header(resp, "Cache-Control", "no-store");
    md_api_finish(resp, put_doc(resp->body, api, req->principal));
}

void md_session_api_delete(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp)
{
    const struct md_principal *p = req->principal;
    bool ended = false;

    MD_UNUSED(rt);
    if (p->session != NULL && api->auth.sessions != NULL)
        ended = md_sessions_end(api->auth.sessions, p->session->id_hash);
    set_cookie(api, NULL, req, resp);
    (void)md_buf_printf(resp->body, "{\"signed_out\":%s}", ended ? "true" : "false");
    md_api_finish(resp, md_buf_error(resp->body));
}
