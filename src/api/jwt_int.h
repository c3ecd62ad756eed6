/* SPDX-License-Identifier: MIT */
/*
 * jwt_int.h: the pieces of api/jwt.c that its unit test checks alone: the
 * keyed hash that names a token in the cache and the strict base64url
 * decoder. Nothing outside jwt.c and its tests includes this.
 */
#ifndef MD_API_JWT_INT_H
#define MD_API_JWT_INT_H

#include "util/common.h"

/*
 * SipHash-2-4 of p[0..n) under the key k (k[0], k[1]: the key's 16 bytes
 * as two little-endian words), its 128-bit output as two words: out[0] is
 * the first eight bytes of the reference implementation's output read
 * little-endian, out[1] the next eight.
 */
void md_jwt__siphash128(const uint64_t k[2], const void *p, size_t n, uint64_t out[2]);

/*
 * Decodes base64url text s[0..n) without padding (RFC 7515) into out (at
 * most max bytes), *got bytes. Strict: no '=', no other character, no
 * length that leaves a lone character, no set bit past the last byte (so
 * one byte string has one spelling). false when any of those is broken or
 * the bytes do not fit.
 */
bool md_jwt__b64url_decode(const char *s, size_t n, unsigned char *out, size_t max, size_t *got);

#endif
