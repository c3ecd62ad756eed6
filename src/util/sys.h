/* SPDX-License-Identifier: MIT */
/*
 * sys.h: facts about the machine the process runs on (md_cpus), running one
 * request's work on several threads (md_run_parallel), and reading a file
 * whole (md_read_file).
 */
#ifndef MD_UTIL_SYS_H
#define MD_UTIL_SYS_H

#include "util/common.h"
#include "util/err.h"

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

/* Why md_read_file failed, for a caller that words the message itself. */
enum md_read_why {
    MD_READ_OPEN = 1, /* open(2) failed: errnum */
    MD_READ_STAT,     /* fstat(2) failed: errnum */
    MD_READ_DIR,      /* path is a directory */
    MD_READ_SPECIAL,  /* path is a FIFO, a device or a socket */
    MD_READ_TOO_BIG,  /* more than max bytes: size */
    MD_READ_NOMEM,    /* no memory for the file's size bytes */
    MD_READ_IO        /* read(2) failed: errnum */
};

struct md_read_fail {
    enum md_read_why why;
    int errnum;    /* errno, for OPEN, STAT and IO; else 0 */
    uint64_t size; /* the file's size in bytes (TOO_BIG: at least max + 1); 0 before fstat */
};

/*
 * Reads the regular file at path whole into *out (malloc'd, free with
 * free(); NUL-terminated after its *len bytes). A file larger than max bytes
 * is refused before any memory is taken for it, and one that grows past max
 * while it is read is refused too; one that shrinks gives what is left. A
 * FIFO is refused without waiting for a writer. Returns MD_OK; MD_EIO with
 * "'PATH': cannot open: REASON", "'PATH': cannot read: REASON", "'PATH': is
 * a directory, not a file" or "'PATH': not a regular file"; MD_ETOOBIG with
 * "'PATH': larger than MAX bytes"; MD_ENOMEM with "'PATH': out of memory for
 * N bytes". When fail is not NULL, *fail says why, for a caller that words
 * its own message. *out is NULL and *len 0 on failure. Thread-safe.
 */
int md_read_file(const char *path, size_t max, char **out, size_t *len, struct md_read_fail *fail,
                 struct md_err *err) MD_MUST_CHECK;

#endif
