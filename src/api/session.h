/* SPDX-License-Identifier: MIT */
/*
 * session.h: the dashboard's sign-in sessions, kept in memory. A browser
 * signs in once with a token (POST /api/v1/session) and gets a cookie
 * holding a random session id; the session remembers the token (or JSON
 * Web Token) it was made with, so every later request with the cookie is
 * checked by the same code as an Authorization header (api/auth.c): a
 * revoked or expired token, a changed role or rate limit apply at once.
 *
 * The table stores each id only as its SHA-256, with the credential, a
 * CSRF token and the times of creation and last use. A session ends when
 * it has been idle too long, is older than its maximum age, is signed out,
 * is evicted (the table is full: the session unused longest goes), or its
 * credential stops verifying; the server's restart ends them all. Expired
 * sessions are pruned lazily: when one is looked up, and at each sign-in.
 *
 * This file also holds the three endpoints (GET, POST and DELETE
 * /api/v1/session) and the small parsers of a cookie request's headers
 * (Cookie, X-CSRF-Token, Origin), which auth.c's cookie path calls.
 */
#ifndef MD_API_SESSION_H
#define MD_API_SESSION_H

#include "util/common.h"
#include "util/err.h"
#include "util/arena.h"

#define MD_SESSION_COOKIE         "modeld_session" /* the cookie's name */
#define MD_SESSION_ID_BYTES       32               /* random bytes of an id: 256 bits */
#define MD_SESSION_ID_HEX         ((size_t)2 * MD_SESSION_ID_BYTES) /* its length in the cookie */
#define MD_SESSION_CSRF_HEX       64   /* hex digits of a CSRF token (256 random bits) */
#define MD_SESSION_CREDENTIAL_MAX 8192 /* bytes of the token a session may hold */

/* The sessions of a server: opaque, thread-safe (one mutex). */
struct md_sessions;

/* What a cookie request's principal knows of its session: request memory. */
struct md_session_view {
    unsigned char id_hash[32];          /* SHA-256 of the id: to end it */
    char csrf[MD_SESSION_CSRF_HEX + 1]; /* the session's CSRF token */
    int64_t expires_ms;                 /* when it ends unless used again (wall ms) */
};

/*
 * A table of at most max sessions, each ending after idle_ms without a
 * request or max_age_ms after its sign-in (both > 0). Free with
 * md_sessions_free.
 */
struct md_sessions *md_sessions_new(int64_t idle_ms, int64_t max_age_ms, size_t max);

/* Ends every session and frees s. NULL ok. */
void md_sessions_free(struct md_sessions *s);

/* The absolute lifetime of a session, in ms (the cookie's Max-Age). */
int64_t md_sessions_max_age_ms(const struct md_sessions *s);

/*
 * A new session holding credential (n bytes, at most
 * MD_SESSION_CREDENTIAL_MAX; copied), made at now_ms: its id as hex into
 * id_hex (for the cookie, never stored) and its view into *view. Expired
 * sessions are pruned first; when the table is full the session unused
 * longest is ended. MD_OK; MD_EINVAL for a credential too long; MD_ENOMEM;
 * MD_EINTERNAL when no random bytes could be had.
 */
int md_sessions_create(struct md_sessions *s, const char *credential, size_t n, int64_t now_ms,
                       char id_hex[MD_SESSION_ID_HEX + 1], struct md_session_view *view,
                       struct md_err *err) MD_MUST_CHECK;

/*
 * The session of id (its MD_SESSION_ID_BYTES raw bytes) at now_ms: notes its
 * use, then copies its credential (NUL-terminated, *n bytes) and a new view
 * of it into arena a. MD_OK; MD_EAUTH for no such session, or one expired
 * (then ended); MD_ENOMEM when the arena is full. The only lock of a cookie
 * request.
 */
int md_sessions_find(struct md_sessions *s, const unsigned char id[MD_SESSION_ID_BYTES],
                     int64_t now_ms, struct md_arena *a, const char **credential, size_t *n,
                     struct md_session_view **view, struct md_err *err) MD_MUST_CHECK;

/* Ends the session whose id hashes to id_hash: true when there was one. */
bool md_sessions_end(struct md_sessions *s, const unsigned char id_hash[32]);

/* Sessions in the table now (expired ones not yet pruned included). */
size_t md_sessions_count(struct md_sessions *s);

/*
 * The session id of a Cookie header's value: the first cookie named
 * MD_SESSION_COOKIE whose value (bare or in double quotes) is
 * MD_SESSION_ID_HEX hex digits, decoded into id. Cookies are separated by
 * ';' with optional spaces or tabs around; other cookies, empty pieces and
 * pieces without '=' are skipped. false when there is none.
 */
bool md_session_cookie(const char *header, unsigned char id[MD_SESSION_ID_BYTES]);

/* Whether given (an X-CSRF-Token header, or NULL) is csrf: a constant-time compare. */
bool md_session_csrf_ok(const char *csrf, const char *given);

/*
 * Whether an Origin header's value names the server the request was sent
 * to: its host[:port] after "scheme://" equals the Host header's value
 * (ASCII case ignored), with nothing after it. NULL host or a malformed or
 * "null" origin: false.
 */
bool md_session_origin_ok(const char *origin, const char *host);

struct md_api;
struct md_route;
struct md_api_req;
struct md_api_resp;

/* POST /api/v1/session: sign in with {"token": "..."}; 201 and the cookie. */
void md_session_api_create(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp);
/* GET /api/v1/session: who the request is and what it may do. */
void md_session_api_get(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                        struct md_api_resp *resp);
/* DELETE /api/v1/session: sign out (the cookie cleared). */
void md_session_api_delete(struct md_api *api, const struct md_route *rt, struct md_api_req *req,
                           struct md_api_resp *resp);

#endif
