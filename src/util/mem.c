/* SPDX-License-Identifier: MIT */
/*
 * mem.c: the two allocation families of mem.h.
 */
#include "util/mem.h"

static void oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory allocating %zu bytes\"}\n", n);
    abort();
}

void *md_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *md_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        oom(nmemb * size);
    return p;
}

void *md_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *md_xstrdup(const char *s)
{
    return md_xstrndup(s, strlen(s));
}

char *md_xstrndup(const char *s, size_t n)
{
    char *p = md_xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *md_malloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *md_calloc(size_t nmemb, size_t size)
{
    return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *md_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}
