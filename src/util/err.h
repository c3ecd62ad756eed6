/* SPDX-License-Identifier: MIT */
/*
 * err.h: error codes and the caller-owned error message.
 *
 * Fallible functions return MD_OK (0) or a negative MD_E* code and, when the
 * caller passed a struct md_err, a message saying what is wrong, subject
 * first. The error path never allocates. Only api/ maps codes to HTTP
 * statuses, in one table (api/api.c), which has a row for every code.
 */
#ifndef MD_UTIL_ERR_H
#define MD_UTIL_ERR_H

#include "util/common.h"

enum md_errcode {
    MD_OK = 0,
    MD_EINVAL = -1,        /* the input is wrong: a 400 */
    MD_ENOTFOUND = -2,     /* no such model, version, file or route */
    MD_EUNAVAIL = -3,      /* exists but cannot serve now: a 503 */
    MD_ENOMEM = -4,        /* an allocation sized by input failed */
    MD_EIO = -5,           /* a read or write failed */
    MD_ECORRUPT = -6,      /* a file is malformed or truncated */
    MD_EAUTH = -7,         /* no or bad credentials */
    MD_EPERM = -8,         /* authenticated but not allowed */
    MD_EINTERNAL = -9,     /* an engine or invariant failed: a 500 */
    MD_ETOOBIG = -10,      /* a body or size over its limit: a 413 */
    MD_EUNSUPPORTED = -11, /* valid but not implemented: a 501 */
    MD_ETIMEDOUT = -12,    /* a deadline passed before the work ran: a 504 */
    MD_EPENDING = -13,     /* not a failure: the work goes on in another thread, which
                              reports back (see api/api.h, serve/batcher.h) */
    MD_ECONFLICT = -14,    /* the request conflicts with the current state: a 409 */
    MD_EMETHOD = -15,      /* the resource does not take this method: a 405 */
    MD_EHEADTOOBIG = -16,  /* the request line and headers over their limit: a 431 */
    MD_ETOOMANY = -17      /* a client over its request rate: a 429 with Retry-After */
};

/* The lowest code: every code lies from MD_ECODE_MIN to MD_OK. */
#define MD_ECODE_MIN MD_ETOOMANY

struct md_err {
    int code;      /* an enum md_errcode; MD_OK when no error was set */
    char msg[256]; /* NUL-terminated, lower-case, no final full stop */
};

/* Sets code and message (printf-style) in err, when err is not NULL; returns code. */
int md_err_set(struct md_err *err, int code, const char *fmt, ...) MD_PRINTF(3, 4);

/* Prepends context to an already-set message ("model 'm' v2: " + msg). */
void md_err_prefix(struct md_err *err, const char *fmt, ...) MD_PRINTF(2, 3);

/* Clears err to MD_OK and an empty message. */
void md_err_clear(struct md_err *err);

/* The name of a code, e.g. "invalid argument"; never NULL. */
const char *md_strerror(int code);

#endif
