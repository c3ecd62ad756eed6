/* SPDX-License-Identifier: MIT */
/*
 * epoch.h: epoch-based reclamation, so that readers follow pointers to shared
 * immutable objects with no lock and writers free what they replaced once no
 * reader can still hold it. The scheme is the "memory barrier" flavour of
 * userspace RCU (liburcu's urcu-memb, McKenney et al., "User-Level
 * Implementations of Read-Copy Update", IEEE TPDS 2012) with a 64-bit epoch
 * that never wraps.
 *
 * A reader brackets its use of published pointers with md_epoch_enter() and
 * md_epoch_exit() (a read section; sections nest). Inside, it loads pointers
 * with atomic_load (sequentially consistent) and may take references of its
 * own (a version's refcount) to keep something past the section. A section
 * must be short and must not wait for a writer: no md_epoch_wait(), no lock a
 * writer holds while it waits.
 *
 * A writer publishes a new object with a sequentially consistent store or
 * exchange of the pointer, then calls md_epoch_wait(): when it returns, every
 * section that could have loaded the old pointer has ended, and the old
 * object may be freed. Writers to one pointer serialize among themselves (a
 * mutex, or a single writer thread); md_epoch_wait itself may run in several
 * writer threads at once.
 *
 * Threads: one process-wide domain. Each thread that enters a section gets a
 * slot (a cache line of its own) on its first entry; the slot goes back to a
 * free list when the thread exits, for the next thread to reuse. Slots are
 * never freed: there are as many as threads were ever alive at once.
 */
#ifndef MD_UTIL_EPOCH_H
#define MD_UTIL_EPOCH_H

#include "util/common.h"

#include <stdatomic.h>

/* One thread's slot. Private: only md_epoch_* touch it. */
struct md_epoch_slot {
    _Atomic uint64_t epoch;     /* 0 outside a section; else the epoch it began in */
    unsigned depth;             /* sections entered and not left: the owner thread only */
    _Atomic bool used;          /* owned by a live thread */
    struct md_epoch_slot *next; /* the list of every slot: set before the slot is listed */
} __attribute__((aligned(64)));

/* Private: the calling thread's slot (NULL before its first section). */
extern _Thread_local struct md_epoch_slot *md_epoch__self;
/* Private: the current epoch, >= 1; md_epoch_wait advances it. */
extern _Atomic uint64_t md_epoch__now;
/* Private: gives the calling thread a slot. */
struct md_epoch_slot *md_epoch__register(void);

/* Begins a read section (or a nested one). Never blocks; the first call in a
 * thread allocates its slot. */
static inline void md_epoch_enter(void)
{
    struct md_epoch_slot *s = md_epoch__self;

    if (MD_UNLIKELY(s == NULL))
        s = md_epoch__register();
    if (s->depth++ == 0)
        atomic_store(&s->epoch, atomic_load(&md_epoch__now));
}

/* Ends the read section begun by the matching md_epoch_enter. */
static inline void md_epoch_exit(void)
{
    struct md_epoch_slot *s = md_epoch__self;

    if (--s->depth == 0)
        atomic_store_explicit(&s->epoch, 0, memory_order_release);
}

/*
 * Waits until every read section that began before the call has ended (a
 * grace period): a pointer unpublished before the call is then held by no
 * reader. Sleeps between looks; returns at once when no reader is inside.
 * Must not be called inside a read section (it would wait for itself):
 * MD_BUG.
 */
void md_epoch_wait(void);

#endif
