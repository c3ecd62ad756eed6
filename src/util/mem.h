/* SPDX-License-Identifier: MIT */
/*
 * mem.h: allocation. md_x* are for fixed-size internal objects: they log and
 * abort on failure. md_malloc/md_calloc are for sizes that come from a request
 * or a file (bounded first by the caller): they return NULL, which the caller
 * turns into MD_ENOMEM.
 */
#ifndef MD_UTIL_MEM_H
#define MD_UTIL_MEM_H

#include "util/common.h"

void *md_xmalloc(size_t n);
void *md_xcalloc(size_t nmemb, size_t size);
void *md_xrealloc(void *p, size_t n);
char *md_xstrdup(const char *s);
char *md_xstrndup(const char *s, size_t n);

void *md_malloc(size_t n);
void *md_calloc(size_t nmemb, size_t size);
void *md_realloc(void *p, size_t n);

/* nmemb * size into *out unless it overflows (then returns false). */
static inline bool md_mul_ok(size_t nmemb, size_t size, size_t *out)
{
    return !__builtin_mul_overflow(nmemb, size, out);
}

#endif
