/* SPDX-License-Identifier: MIT */
/*
 * sys.h: facts about the machine the process runs on (md_cpus), and running
 * one request's work on several threads (md_run_parallel).
 */
#ifndef MD_UTIL_SYS_H
#define MD_UTIL_SYS_H

#include "util/common.h"

/*
 * The CPUs this process may run on (its affinity mask, else the online
 * count), at least 1; read once, then cached.
 */
unsigned md_cpus(void);

/* Items of md_run_parallel past this many run one after another on the caller's thread. */
#define MD_PARALLEL_MAX 64

/*
 * Runs fn on each of the n items of size bytes at items: item 0 on the
 * calling thread, the others on threads of their own (an item whose thread
 * cannot start runs on the calling thread after item 0), and returns when
 * every item is done. For short-lived work that splits one large request.
 */
void md_run_parallel(void *items, size_t n, size_t size, void (*fn)(void *item));

#endif
