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

/* The most threads md_run_parallel runs at once. */
#define MD_PARALLEL_MAX 64

/*
 * Items per thread a caller of md_run_parallel should aim for: the threads
 * take the items one at a time, so a thread that is held up (another process,
 * or a virtual machine's host, taking its CPU) delays only the item it holds
 * while the others take the rest.
 */
#define MD_PARALLEL_SPLIT 8

/*
 * How many items to cut work of n units into for md_run_parallel on threads
 * threads (0: md_cpus()): items of at least min units, MD_PARALLEL_SPLIT
 * per thread and max in all at most. Below 2 (one thread, or too little
 * work), the caller had better do the work itself.
 */
size_t md_parallel_parts(size_t n, size_t min, unsigned threads, size_t max);

/*
 * Runs fn on each of the n items of size bytes at items, and returns when
 * every item is done. Up to threads threads work on them (0: md_cpus(); at
 * most MD_PARALLEL_MAX and n), the calling thread one of them; each takes the
 * next item not yet taken, so items start in order. The others are helpers
 * shared by every caller, started on first need and kept; a helper that is
 * busy elsewhere, or that could not be started, leaves its share to the
 * threads there are. Safe from several threads at once, and from inside an
 * item. For short-lived work that splits one large request.
 */
void md_run_parallel(void *items, size_t n, size_t size, unsigned threads, void (*fn)(void *item));

#endif
