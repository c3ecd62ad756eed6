/* SPDX-License-Identifier: MIT */
/*
 * epoch.c: the slots of the reader threads and the writers' grace period.
 *
 * Why it is correct. Every operation named here is sequentially consistent
 * (C11 memory_order_seq_cst), so they all fall into one total order S that
 * agrees with each thread's program order. A reader does
 *
 *     R: e = load(now)     S1: store(slot, e)     L: p = load(ptr) ...
 *     X: store(slot, 0)  (release)
 *
 * and a writer that replaces p does
 *
 *     W1: store(ptr, p')     W2: target = fetch_add(now, 1) + 1
 *     W3: load(slot) until it reads 0 or a value >= target     free(p)
 *
 * Suppose the reader's L read the old p. A seq_cst load reads the last
 * seq_cst store before it in S, so L comes before W1 in S, and with program
 * order S1 < L < W1 < W2 < W3. Then W3 cannot read a value of the slot older
 * than S1's (the stores before S1 happen before it), so it reads S1's e, or
 * X's 0, or a later section's epoch. R precedes W2 in S, so it read a value
 * below target: e < target and nonzero (now starts at 1), and the writer
 * keeps waiting. It stops on X's 0: X is a release store and W3 an acquire
 * load, so all of the reader's uses of p happen before the free. It stops on
 * a later section's epoch e' >= target only if that section's R' read W2's
 * value or a later one, and that section began after X. Had L instead read
 * the new p, the section does not hold the old one. A slot listed after W3
 * looked at the list belongs to a thread whose R comes after W2 in S (its
 * listing, a seq_cst exchange, precedes its R), so its L reads p' or later.
 *
 * ThreadSanitizer sees the same happens-before edges (release X, acquire W3),
 * so a free after md_epoch_wait is never reported against a reader.
 */
#include "util/epoch.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

_Thread_local struct md_epoch_slot *md_epoch__self;
_Atomic uint64_t md_epoch__now = 1;

/* Every slot ever made, newest first; a slot is listed once and never removed. */
static _Atomic(struct md_epoch_slot *) slots;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;

/* At a thread's exit: its slot (outside any section) goes back for reuse. */
static void release_slot(void *arg)
{
    struct md_epoch_slot *s = arg;

    s->depth = 0;
    atomic_store(&s->epoch, 0);
    md_epoch__self = NULL;
    atomic_store_explicit(&s->used, false, memory_order_release);
}

static void make_key(void)
{
    if (pthread_key_create(&key, release_slot) != 0)
        MD_BUG("no thread-specific key for the epoch slots");
}

struct md_epoch_slot *md_epoch__register(void)
{
    struct md_epoch_slot *s;

    (void)pthread_once(&key_once, make_key); /* always 0 on Linux */
    /* A slot a thread gave back, if any. */
    for (s = atomic_load(&slots); s != NULL; s = s->next) {
        bool free_slot = false;

        if (atomic_compare_exchange_strong(&s->used, &free_slot, true))
            break;
    }
    if (s == NULL) {
        /* Aligned to its cache line: md_xcalloc's 16 bytes are not enough. */
        s = aligned_alloc(_Alignof(struct md_epoch_slot), sizeof(*s));
        if (s == NULL)
            MD_BUG("out of memory for an epoch slot"); /* a 64-byte object: abort as md_x* do */
        memset(s, 0, sizeof(*s));
        atomic_init(&s->epoch, 0);
        atomic_init(&s->used, true);
        s->next = atomic_load(&slots);
        while (!atomic_compare_exchange_weak(&slots, &s->next, s))
            ;
    }
    s->depth = 0;
    if (pthread_setspecific(key, s) != 0)
        MD_BUG("cannot record the thread's epoch slot");
    md_epoch__self = s;
    return s;
}

/* Lets a reader that is inside a section run: yield, then sleep longer. */
static void backoff(unsigned *tries)
{
    struct timespec ts = {0, 0};

    if (*tries < 64) {
        (*tries)++;
        (void)sched_yield(); /* nothing to handle: only a hint */
        return;
    }
    ts.tv_nsec = 50000L; /* 50 us: sections are short, waiting is rare */
    (void)nanosleep(&ts, NULL);
}

void md_epoch_wait(void)
{
    struct md_epoch_slot *self = md_epoch__self;
    struct md_epoch_slot *s;
    uint64_t target;

    if (self != NULL && self->depth > 0)
        MD_BUG("md_epoch_wait inside a read section");
    target = atomic_fetch_add(&md_epoch__now, 1) + 1;
    for (s = atomic_load(&slots); s != NULL; s = s->next) {
        unsigned tries = 0;

        for (;;) {
            uint64_t e = atomic_load(&s->epoch);

            if (e == 0 || e >= target)
                break;
            backoff(&tries);
        }
    }
}
