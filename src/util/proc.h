/* SPDX-License-Identifier: MIT */
/*
 * proc.h: what the kernel says of this process (CPU time, memory, file
 * descriptors, start time), for the standard process_* metrics. Linux only:
 * read from /proc/self.
 */
#ifndef MD_UTIL_PROC_H
#define MD_UTIL_PROC_H

#include "util/common.h"
#include "util/err.h"

struct md_proc_stats {
    double cpu_s;         /* user plus system CPU time, seconds */
    uint64_t rss_bytes;   /* resident memory */
    uint64_t vsize_bytes; /* virtual memory */
    uint64_t open_fds;    /* file descriptors open now */
    uint64_t max_fds;     /* the soft limit on open file descriptors */
    double start_time_s;  /* process start, seconds since the epoch */
};

/*
 * Fills out from /proc/self/stat, /proc/stat, /proc/self/fd and
 * getrlimit. MD_EIO, with the file named, when /proc cannot be read (out is
 * then left zeroed). Thread-safe; a few syscalls, for a scrape, not the hot path.
 */
int md_proc_stats(struct md_proc_stats *out, struct md_err *err) MD_MUST_CHECK;

#endif
