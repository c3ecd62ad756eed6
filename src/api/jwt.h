/* SPDX-License-Identifier: MIT */
/*
 * jwt.h: JSON Web Tokens from an identity provider, verified against the
 * public keys of a JWKS file: the compact JWS form, RS256 (RSA PKCS#1 v1.5
 * with SHA-256) and ES256 (ECDSA on P-256 with SHA-256) only, the issuer
 * and the audience the configuration names, the expiry and the not-before
 * time with a clock skew, the roles from a configured claim and the models
 * from an optional one. Nothing is fetched from the network: the keys are
 * the file's, read at start.
 *
 * A verified token is kept in a bounded cache until it expires, keyed by a
 * keyed 128-bit hash of the whole token (SipHash-2-4 under a random key
 * made when the verifier is made), so that the next request with it costs
 * a hash and a lookup instead of a signature check (an ES256 check costs
 * more than a whole single-row request). The token itself is not kept.
 *
 * What a token's claims grant, and what is refused, is docs/security.md's
 * "JSON Web Tokens". This file leaves to api/auth.c which Bearer values are
 * tokens of this kind (md_jwt_is_jwt) and what a principal is.
 *
 * Threads: md_jwt_new and md_jwt_free by one thread; md_jwt_verify from any
 * number at once (the cache is locked by stripes of its sets).
 */
#ifndef MD_API_JWT_H
#define MD_API_JWT_H

#include "util/common.h"
#include "util/err.h"
#include "api/auth.h"

#define MD_JWT_MAX_TOKEN   8192      /* the longest token read, in bytes */
#define MD_JWT_MAX_JWKS    (1 << 20) /* the largest JWKS file read */
#define MD_JWT_MAX_KEYS    64        /* keys a JWKS may hold */
#define MD_JWT_NAME_MAX    128       /* a principal's name: "jwt:" and the subject, cut */
#define MD_JWT_MODELS_MAX  32        /* models a token's model claim may name */
#define MD_JWT_MODELS_TEXT 1024      /* their names' bytes, each with its NUL */
#define MD_JWT_SKEW_MAX_S  3600      /* the largest clock skew taken */

/* The verifier's settings, borrowed by md_jwt_new for the call only. */
struct md_jwt_config {
    const char *jwks_file;    /* the JWKS file's path (md_jwt_new) */
    const char *issuer;       /* required: the "iss" a token must carry, exactly */
    const char *audience;     /* required: a token's "aud" (a string, or an array of
                                 them) must hold it */
    const char *role_claim;   /* the claim naming roles, a dotted path into the
                                 payload ("realm_access.roles"); NULL: "roles" */
    const char *models_claim; /* the claim naming the models a token may use, a
                                 dotted path; NULL: no model scope */
    unsigned skew_s;          /* seconds of clock skew allowed on exp and nbf;
                                 at most MD_JWT_SKEW_MAX_S */
    unsigned cache_max;       /* verified tokens kept; 0: 4096 */
};

/* What a verified token grants: a value, copied out of the cache. */
struct md_jwt_identity {
    char name[MD_JWT_NAME_MAX];      /* "jwt:" and the "sub" claim (printable ASCII, others
                                        as '?', cut to fit); "jwt:" alone without one */
    enum md_role role;               /* the highest role named, or 0 when none is */
    unsigned perms;                  /* the union of the named roles' permissions */
    int64_t exp_s;                   /* the "exp" claim, Unix seconds */
    bool all_models;                 /* no model claim configured, or the token has none */
    uint32_t n_models;               /* with !all_models: how many names models holds */
    char models[MD_JWT_MODELS_TEXT]; /* n_models NUL-terminated names back to back */
};

struct md_jwt;

/*
 * Makes a verifier from cfg, reading the JWKS file at cfg->jwks_file. The
 * file holds public keys: anyone may read it, but it must be a regular
 * file that only its owner (this process's user or root) may write, since
 * whoever writes it can mint tokens. MD_EINVAL naming the file, the key and
 * the field for a file or a setting that is wrong; MD_ENOTFOUND when the
 * file does not exist. The caller frees *out with md_jwt_free.
 */
int md_jwt_new(const struct md_jwt_config *cfg, struct md_jwt **out,
               struct md_err *err) MD_MUST_CHECK;

/*
 * As md_jwt_new, the JWKS given as text (len bytes) instead of a file;
 * source names it in messages. For tests and the fuzz target.
 */
int md_jwt_new_jwks(const struct md_jwt_config *cfg, const char *text, size_t len,
                    const char *source, struct md_jwt **out, struct md_err *err) MD_MUST_CHECK;

/* Frees j and its keys and cache; NULL does nothing. */
void md_jwt_free(struct md_jwt *j);

/* How many keys j took from its JWKS (keys of other kinds are left out). */
size_t md_jwt_key_count(const struct md_jwt *j);

/*
 * Whether the Bearer value tok (len bytes) has a JWS's shape: three parts
 * separated by two dots. Opaque tokens have none. Reads nothing else.
 */
bool md_jwt_is_jwt(const char *tok, size_t len);

/*
 * Verifies the token tok (len bytes) at the time now_s (Unix seconds) and
 * fills *out with what it grants: from the cache when the same token was
 * verified before and has not expired, else by checking its signature and
 * claims, and then caching it. MD_EAUTH with the reason (never the token)
 * when it is malformed, unsigned, signed by no key of the JWKS or wrongly,
 * expired, not yet valid, or for another issuer or audience. A token
 * without a role that modeld knows is verified, with no permission.
 * Thread-safe; allocates only when the token is not in the cache.
 */
int md_jwt_verify(struct md_jwt *j, const char *tok, size_t len, int64_t now_s,
                  struct md_jwt_identity *out, struct md_err *err) MD_MUST_CHECK;

/* Cache lookups that found a token, and that did not, since j was made. */
void md_jwt_cache_stats(struct md_jwt *j, uint64_t *hits, uint64_t *misses);

/* Whether the identity id may use model: every model, or one its claim names. */
bool md_jwt_may_use(const struct md_jwt_identity *id, const char *model);

#endif
