/* SPDX-License-Identifier: MIT */
/*
 * aead.h: authenticated encryption of stored values (AES-256-GCM, OpenSSL
 * EVP) under data keys read from a key file, each known by a key id so
 * that keys can be rotated: the newest key seals, every key of the file
 * opens. A sealed value is a small header (a version byte, the 4-byte key
 * id, a 12-byte random nonce), the ciphertext, and the 16-byte GCM tag; the
 * caller names what the value is (its associated data, e.g. the column
 * "predictions.features"), so that a sealed value moved elsewhere does not
 * open. Also the keyed hash (HMAC-SHA256) of values that must still be
 * found by equality. The store decides what to seal; this file knows no
 * table.
 */
#ifndef MD_UTIL_AEAD_H
#define MD_UTIL_AEAD_H

#include "util/common.h"
#include "util/err.h"

#define MD_AEAD_KEY_BYTES 32 /* AES-256 */
#define MD_AEAD_MAX_KEYS  16 /* keys one file may hold */
#define MD_AEAD_VERSION   1  /* the first byte of a sealed value */
#define MD_AEAD_HEADER    17 /* version, key id (4, big-endian), nonce (12) */
#define MD_AEAD_TAG       16
#define MD_AEAD_OVERHEAD  (MD_AEAD_HEADER + MD_AEAD_TAG)

/* The data keys of a key file: immutable once parsed, shared by every thread. */
struct md_aead_keys;

/*
 * Parses a key file's text: one key per line as 64 hex digits (32 bytes,
 * e.g. `openssl rand -hex 32`), blank lines and lines starting with '#'
 * ignored; at most MD_AEAD_MAX_KEYS keys, none twice. The last key is the
 * current one (it seals). A key's id is the first 4 bytes of its SHA-256.
 * MD_EINVAL naming the line on bad input. *out is freed with
 * md_aead_keys_free, which wipes the keys.
 */
int md_aead_keys_parse(const char *text, size_t len, struct md_aead_keys **out,
                       struct md_err *err) MD_MUST_CHECK;

/* Reads the key file at path (md_keyfile_read: its mode and owner checked) and parses it. */
int md_aead_keys_load(const char *path, struct md_aead_keys **out,
                      struct md_err *err) MD_MUST_CHECK;

/* Wipes and frees; NULL does nothing. */
void md_aead_keys_free(struct md_aead_keys *k);

/* The id of the current key (the one that seals). */
uint32_t md_aead_keys_current(const struct md_aead_keys *k);

/* How many keys the file holds. */
size_t md_aead_keys_count(const struct md_aead_keys *k);

/* Whether the file holds the key with this id. */
bool md_aead_keys_has(const struct md_aead_keys *k, uint32_t id);

/* A key id as 8 lower-case hex digits. */
void md_aead_key_id_hex(uint32_t id, char out[9]);

/*
 * One thread's sealing context over keys (borrowed: they outlive it). Not
 * shared between threads; md_aead_new aborts on allocation failure.
 */
struct md_aead;
struct md_aead *md_aead_new(const struct md_aead_keys *keys);
void md_aead_free(struct md_aead *a);
const struct md_aead_keys *md_aead_keys_of(const struct md_aead *a);

/*
 * Seals n bytes at p under the current key with the associated data aad (a
 * NUL-terminated name), into out (cap bytes, at least n + MD_AEAD_OVERHEAD);
 * *olen the sealed length. MD_EINVAL when out is too small, MD_EINTERNAL
 * when OpenSSL fails.
 */
int md_aead_seal(struct md_aead *a, const char *aad, const void *p, size_t n, unsigned char *out,
                 size_t cap, size_t *olen, struct md_err *err) MD_MUST_CHECK;

/*
 * Opens a sealed value c (n bytes) with aad into out (cap bytes, at least n -
 * MD_AEAD_OVERHEAD); *olen the plain length. MD_ECORRUPT when c is not a
 * sealed value of this version or fails authentication (altered, or sealed
 * with another aad); MD_ENOTFOUND when its key is not in the file (the
 * message names the key id).
 */
int md_aead_open(struct md_aead *a, const char *aad, const unsigned char *c, size_t n,
                 unsigned char *out, size_t cap, size_t *olen, struct md_err *err) MD_MUST_CHECK;

/* Whether c (n bytes) has a sealed value's header; *key_id its key id (may be NULL). */
bool md_aead_sealed(const void *c, size_t n, uint32_t *key_id);

/* HMAC-SHA256 of p[0..n) under key (klen bytes) into mac[32]. */
void md_aead_hmac(const unsigned char *key, size_t klen, const void *p, size_t n,
                  unsigned char mac[32]);

/*
 * HMAC-SHA256 under one key, with the key's inner and outer blocks hashed
 * once at md_aead_hmac_new (the one-shot md_aead_hmac costs several times
 * more: it sets OpenSSL's MAC up on every call). One thread at a time;
 * md_aead_hmac_new aborts on allocation failure.
 */
struct md_aead_hmac;
struct md_aead_hmac *md_aead_hmac_new(const unsigned char *key, size_t klen);
void md_aead_hmac_free(struct md_aead_hmac *h);
void md_aead_hmac_run(struct md_aead_hmac *h, const void *p, size_t n, unsigned char mac[32]);

/* Fills p with n cryptographically random bytes: MD_EINTERNAL when none can be had. */
int md_aead_random(void *p, size_t n, struct md_err *err) MD_MUST_CHECK;

#endif
