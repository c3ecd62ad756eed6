/* SPDX-License-Identifier: MIT */
/*
 * sha256.h: SHA-256 of bytes and of files (OpenSSL's EVP), as 64 lower-case
 * hex digits: how artifacts and contracts are addressed.
 */
#ifndef MD_UTIL_SHA256_H
#define MD_UTIL_SHA256_H

#include "util/common.h"
#include "util/err.h"

#define MD_SHA256_HEX 65 /* 64 digits and the NUL */

/* A running hash: md_sha256_init, any number of md_sha256_update, md_sha256_final. */
struct md_sha256 {
    void *ctx; /* EVP_MD_CTX */
};
int md_sha256_init(struct md_sha256 *h, struct md_err *err) MD_MUST_CHECK;
void md_sha256_update(struct md_sha256 *h, const void *p, size_t n);
/* Writes the digest's hex into hex and frees the context. */
void md_sha256_final(struct md_sha256 *h, char hex[MD_SHA256_HEX]);
/* Frees a context not finalised. NULL ctx ok. */
void md_sha256_abort(struct md_sha256 *h);

/* The hash of n bytes at p. */
void md_sha256_hex(const void *p, size_t n, char hex[MD_SHA256_HEX]);
/* The hash of the file at path, and its size; MD_EIO naming the path when it cannot be read. */
int md_sha256_file(const char *path, char hex[MD_SHA256_HEX], int64_t *size,
                   struct md_err *err) MD_MUST_CHECK;

#endif
