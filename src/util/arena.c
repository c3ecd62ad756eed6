/* SPDX-License-Identifier: MIT */
/*
 * arena.c: the bump allocator of arena.h.
 */
#include "util/arena.h"
#include "util/mem.h"

#define CHUNK_MIN ((size_t)16 << 10)

struct md_arena_chunk {
    struct md_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t off;  /* bytes used */
    _Alignas(16) unsigned char mem[];
};

void md_arena_init(struct md_arena *a, size_t max)
{
    a->head = NULL;
    a->used = 0;
    a->max = max;
}

void md_arena_release(struct md_arena *a)
{
    struct md_arena_chunk *c = a->head;

    while (c != NULL) {
        struct md_arena_chunk *next = c->next;

        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

void md_arena_reset(struct md_arena *a)
{
    struct md_arena_chunk *c;
    struct md_arena_chunk *keep = NULL;

    /* Keep the largest chunk, free the rest. */
    for (c = a->head; c != NULL; c = c->next)
        if (keep == NULL || c->size > keep->size)
            keep = c;
    c = a->head;
    while (c != NULL) {
        struct md_arena_chunk *next = c->next;

        if (c != keep)
            free(c);
        c = next;
    }
    a->head = keep;
    if (keep != NULL) {
        keep->next = NULL;
        keep->off = 0;
    }
    a->used = 0;
}

void *md_arena_alloc(struct md_arena *a, size_t n)
{
    struct md_arena_chunk *c = a->head;
    size_t need = (n + 15) & ~(size_t)15;
    size_t size;

    if (need < n || need > a->max || a->used > a->max - need)
        return NULL;
    if (c == NULL || c->size - c->off < need) {
        size = need > CHUNK_MIN ? need : CHUNK_MIN;
        if (c != NULL && c->size * 2 > size && c->size * 2 <= a->max)
            size = c->size * 2;
        c = md_malloc(sizeof(*c) + size);
        if (c == NULL)
            return NULL;
        c->size = size;
        c->off = 0;
        c->next = a->head;
        a->head = c;
    }
    a->used += need;
    c->off += need;
    return c->mem + c->off - need;
}

void *md_arena_grow(struct md_arena *a, void *p, size_t old_n, size_t new_n)
{
    struct md_arena_chunk *c = a->head;
    size_t old_need = (old_n + 15) & ~(size_t)15;
    size_t new_need = (new_n + 15) & ~(size_t)15;
    void *q;

    if (new_need < new_n || new_n < old_n)
        return NULL;
    if (c != NULL && p != NULL && (unsigned char *)p + old_need == c->mem + c->off &&
        c->size - (c->off - old_need) >= new_need) {
        size_t more = new_need - old_need;

        if (more > a->max || a->used > a->max - more)
            return NULL;
        c->off += more;
        a->used += more;
        return p;
    }
    q = md_arena_alloc(a, new_n);
    if (q != NULL && p != NULL && old_n > 0)
        memcpy(q, p, old_n);
    return q;
}

void *md_arena_calloc(struct md_arena *a, size_t nmemb, size_t size)
{
    size_t n;
    void *p;

    if (!md_mul_ok(nmemb, size, &n))
        return NULL;
    p = md_arena_alloc(a, n);
    if (p != NULL)
        memset(p, 0, n);
    return p;
}

char *md_arena_strndup(struct md_arena *a, const char *s, size_t n)
{
    char *p = md_arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
