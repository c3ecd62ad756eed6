/* SPDX-License-Identifier: MIT */
/*
 * accesslog.h: the access log, one JSON object per HTTP request and line:
 *
 *   {"ts":"2026-12-07T04:34:09.910Z","id":"0193a1b2c3d4e5f60718293a4b5c6d7e",
 *    "client":"127.0.0.1:51234","method":"POST","path":"/v2/models/fraud/infer",
 *    "model":"fraud","version":"2","status":200,"latency_us":412}
 *
 * HTTP threads format their line on the stack and copy it into a bounded
 * buffer under a mutex; a writer thread of the log's own writes the buffer
 * out every 100 ms or when it is half full. When the buffer is full (the disk
 * is slower than the requests) the line is dropped and counted: a request
 * never waits for the disk. This file owns the file and the thread; net/
 * fills the records.
 */
#ifndef MD_WATCH_ACCESSLOG_H
#define MD_WATCH_ACCESSLOG_H

#include "util/common.h"
#include "util/err.h"

#include <sys/socket.h>

/* Bytes the buffer holds before lines are dropped (twice this is allocated). */
#define MD_ACCESS_LOG_BUFFER ((size_t)4 << 20)

struct md_access_log;

/* One request, for md_access_log_write. Strings are borrowed for the call. */
struct md_access_rec {
    const char *id;              /* the request id */
    const struct sockaddr *peer; /* the client's address, or NULL */
    const char *method;
    const char *path;
    const char *model;   /* NULL when the path names none */
    const char *version; /* NULL or "" when no version answered */
    int status;
    uint64_t latency_us; /* from the request's arrival to its answer being queued */
};

/*
 * Opens path for appending (created 0640 if missing), or standard output for
 * "-", and starts the writer thread. MD_EIO naming the file when it cannot be
 * opened.
 */
int md_access_log_open(const char *path, struct md_access_log **out,
                       struct md_err *err) MD_MUST_CHECK;

/*
 * Appends one line for rec. Thread-safe; never blocks on I/O. false when the
 * buffer was full and the line was dropped.
 */
bool md_access_log_write(struct md_access_log *l, const struct md_access_rec *rec);

/* Asks the writer to reopen the file (after a rotation) before its next write. */
void md_access_log_reopen(struct md_access_log *l);

/* Lines dropped so far for a full buffer. */
uint64_t md_access_log_dropped(const struct md_access_log *l);

/* Writes out what is buffered, stops the writer and closes the file. NULL ok. */
void md_access_log_close(struct md_access_log *l);

#endif
