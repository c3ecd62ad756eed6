/* SPDX-License-Identifier: MIT */
/*
 * spawn.h: running a short-lived helper process under a time limit and a
 * resident-memory limit, and learning how it ended.
 *
 * The helper is a fresh program (posix_spawn, never a bare fork of the
 * threaded daemon), with the default signal mask and dispositions and no
 * open file but its stdin, stdout and stderr. Its resident memory is held by
 * a cgroup v2 `memory.max` when the process's own cgroup lets it make one
 * (a child cgroup, memory controller enabled, under /sys/fs/cgroup); the
 * size is also read from /proc/PID/status (VmRSS) every few milliseconds
 * while it runs, and the helper is killed (SIGKILL) as soon as either says
 * it is over the limit, or when its time is up. Address-space limits
 * (RLIMIT_AS) are not used: sanitizer builds reserve terabytes of address
 * space and would abort.
 */
#ifndef MD_UTIL_SPAWN_H
#define MD_UTIL_SPAWN_H

#include "util/common.h"
#include "util/err.h"

#include <stdatomic.h>

struct md_spawn_limits {
    unsigned timeout_ms;        /* killed after this long; 0 = no limit */
    size_t memory_bytes;        /* killed above this resident size; 0 = no limit */
    bool lowest;                /* runs at the lowest priority: nice 19 and, where the kernel
                                   allows it, the SCHED_IDLE class */
    const _Atomic bool *cancel; /* NULL, or killed as soon as *cancel is true (within a
                                   poll period) */
};

enum md_spawn_end {
    MD_SPAWN_EXITED = 1, /* it exited: status is its exit status */
    MD_SPAWN_SIGNALED,   /* a signal ended it: status is the signal */
    MD_SPAWN_TIMEOUT,    /* killed at the time limit */
    MD_SPAWN_MEMORY,     /* killed at the memory limit (by us, or by the cgroup) */
    MD_SPAWN_CANCELLED   /* killed because *lim->cancel became true */
};

struct md_spawn_result {
    enum md_spawn_end end;
    int status;         /* exit status or signal number, as end says */
    unsigned ms;        /* how long it ran */
    size_t peak_rss;    /* largest resident size seen, bytes (sampled) */
    bool cgroup;        /* a cgroup held its memory */
    char out[512];      /* the start of what it wrote to stdout, NUL-terminated */
    size_t out_len;     /* bytes in out */
    size_t out_dropped; /* bytes it wrote past out's room, read and dropped */
};

/*
 * Runs exe with argv (argv[0] first, NULL-terminated) and the process's
 * environment; its stdin reads stdin_fd (-1: /dev/null), its stdout is read
 * into res->out, its stderr is the caller's. Waits until it ends or a limit
 * kills it, and fills res. Returns MD_OK once it ran (however it ended), or
 * MD_EINTERNAL when it could not be started (a message says why). Blocks the
 * calling thread meanwhile; safe from several threads at once. The caller
 * ignores SIGPIPE (modeld does).
 */
int md_spawn_run(const char *exe, char *const argv[], int stdin_fd,
                 const struct md_spawn_limits *lim, struct md_spawn_result *res,
                 struct md_err *err) MD_MUST_CHECK;

/*
 * How res ended, in words, into buf: "exited with status 3", "crashed with
 * SIGSEGV (Segmentation fault)", "took longer than 30000 ms", "used more than
 * 2048 MiB of memory (resident)".
 */
void md_spawn_describe(const struct md_spawn_result *res, const struct md_spawn_limits *lim,
                       char *buf, size_t cap);

#endif
