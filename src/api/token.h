/* SPDX-License-Identifier: MIT */
/*
 * token.h: bearer tokens. A token is a random 256-bit secret shown once at
 * creation, "mdt_" and 64 lower-case hex digits; the store keeps only its
 * SHA-256 (store.h, table tokens) with its name, role, model scope, rate
 * limit, expiry, revocation and last use. Made offline by `modeld token
 * create` (the first admin token) or by POST /api/v1/tokens; listed by GET,
 * revoked by DELETE /api/v1/tokens/{name}. Checking a request's token is
 * api/auth.c's.
 */
#ifndef MD_API_TOKEN_H
#define MD_API_TOKEN_H

#include "util/common.h"
#include "util/err.h"

#define MD_TOKEN_PREFIX     "mdt_"
#define MD_TOKEN_PREFIX_LEN 4
#define MD_TOKEN_SECRET_LEN (MD_TOKEN_PREFIX_LEN + 64) /* without the NUL */
#define MD_TOKEN_NAME_MAX   64                         /* bytes of a name */
#define MD_TOKEN_MODELS_MAX 64                         /* models a token may be limited to */

/* A new secret from getrandom into out. MD_EIO when no randomness is to be had. */
int md_token_secret_new(char out[MD_TOKEN_SECRET_LEN + 1], struct md_err *err) MD_MUST_CHECK;

/* Whether p[0..n) has a secret's form: the prefix and 64 lower-case hex digits. */
bool md_token_secret_valid(const char *p, size_t n);

/* SHA-256 of p[0..n) into out: no allocation, no lock (OpenSSL's EVP
 * allocates a context per digest; a request's token is hashed here). */
void md_token_hash(const void *p, size_t n, unsigned char out[32]);

struct md_store_tx;

/* What a new token is. */
struct md_token_spec {
    const char *name;       /* [A-Za-z0-9_.-], 1 to MD_TOKEN_NAME_MAX bytes; NULL: made up */
    const char *role;       /* an md_role name */
    const char *models;     /* model names separated by commas, or NULL: every model */
    double rate;            /* requests per second; 0: no limit */
    int64_t burst;          /* with rate: requests at once (default: the rate, at least 1) */
    int64_t expires_ms;     /* when it expires; 0: never */
    const char *created_by; /* who makes it */
};

/*
 * Checks spec and makes the token: its secret into secret (shown once),
 * its name into name (spec's, or without one "<role>-" and the first 8 hex
 * digits of the secret's hash), its record added in tx (its id into *id). MD_EINVAL naming the
 * field for a bad name, role, model list, rate or expiry; MD_ECONFLICT for a name taken. Inside a
 * store job's run.
 */
int md_token_create(struct md_store_tx *tx, const struct md_token_spec *spec,
                    char secret[MD_TOKEN_SECRET_LEN + 1], char name[MD_TOKEN_NAME_MAX + 1],
                    int64_t *id, struct md_err *err) MD_MUST_CHECK;

struct md_auth;

/* Writes the last uses of auth's tokens not yet in the store (inside a store job's run). */
int md_token_write_used(struct md_store_tx *tx, struct md_auth *auth,
                        struct md_err *err) MD_MUST_CHECK;

/*
 * A duration such as "30d", "12h", "90m", "3600s" (or plain seconds) into
 * *ms. MD_EINVAL naming field otherwise (zero and over ten years refused).
 */
int md_token_duration(const char *s, const char *field, int64_t *ms,
                      struct md_err *err) MD_MUST_CHECK;

/*
 * `modeld token create --role R [--name N] [--models a,b] [--expires 30d]
 * [--rate N [--burst N]] [--data DIR]`: makes a token in the store of the
 * data directory (the daemon's, running or not) and prints its secret once
 * on stdout. Returns the exit status: 0, 1 refused, 2 usage.
 */
int md_token_main(int argc, char **argv);

#endif
