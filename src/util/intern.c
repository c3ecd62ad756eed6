/* SPDX-License-Identifier: MIT */
/*
 * intern.c: the interned names, a list under one mutex. Names are few (the
 * routes of traffic policies): a list is enough, and every node stays
 * reachable from the head until exit.
 */
#include "util/intern.h"
#include "util/mem.h"

#include <pthread.h>

struct name {
    struct name *next;
    char text[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct name *names;

const char *md_intern(const char *s)
{
    size_t len = strlen(s);
    struct name *n;

    pthread_mutex_lock(&lock);
    for (n = names; n != NULL; n = n->next)
        if (strcmp(n->text, s) == 0)
            break;
    if (n == NULL) {
        n = md_xmalloc(sizeof(*n) + len + 1);
        memcpy(n->text, s, len + 1);
        n->next = names;
        names = n;
    }
    pthread_mutex_unlock(&lock);
    return n->text;
}
