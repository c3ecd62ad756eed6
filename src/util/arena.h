/* SPDX-License-Identifier: MIT */
/*
 * arena.h: request-scoped memory. Allocations are bump-pointer from chunks;
 * nothing is freed one by one: md_arena_reset drops everything at once and
 * keeps the first chunk for the next request, so a steady stream of requests
 * does not call malloc. Not thread-safe: one arena belongs to one request.
 */
#ifndef MD_UTIL_ARENA_H
#define MD_UTIL_ARENA_H

#include "util/common.h"

struct md_arena_chunk;

struct md_arena {
    struct md_arena_chunk *head; /* private: newest chunk first */
    size_t used;                 /* read-only: bytes handed out since the last reset */
    size_t max;                  /* private: the most that may be handed out */
};

void md_arena_init(struct md_arena *a, size_t max);
void md_arena_release(struct md_arena *a);
/* Frees all but one chunk and makes all memory reusable. */
void md_arena_reset(struct md_arena *a);

/* n bytes aligned to 16, or NULL past max or on allocation failure. */
void *md_arena_alloc(struct md_arena *a, size_t n);
void *md_arena_calloc(struct md_arena *a, size_t nmemb, size_t size);
/*
 * Grows block p of old_n bytes to new_n >= old_n bytes: in place when p is
 * the arena's most recent allocation and its chunk has room (no copy), else
 * into a new block holding a copy of the old_n bytes. NULL past max or on
 * allocation failure, with p still valid.
 */
void *md_arena_grow(struct md_arena *a, void *p, size_t old_n, size_t new_n);
char *md_arena_strndup(struct md_arena *a, const char *s, size_t n);

#endif
