/* SPDX-License-Identifier: MIT */
/*
 * sys.c: see sys.h.
 */
#include "util/sys.h"

#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

unsigned md_cpus(void)
{
    static _Atomic unsigned cached;
    unsigned n = atomic_load_explicit(&cached, memory_order_relaxed);
    cpu_set_t set;
    long online;

    if (n != 0)
        return n;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
        n = (unsigned)CPU_COUNT(&set);
    } else {
        online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (unsigned)online : 1;
    }
    atomic_store_explicit(&cached, n, memory_order_relaxed);
    return n;
}
