/* SPDX-License-Identifier: MIT */
/*
 * err.c: error messages carried in caller-owned buffers, and md_bug().
 */
#include "util/err.h"

#include <stdarg.h>

int md_err_set(struct md_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    /* A message longer than msg is cut short: better than none. */
    (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void md_err_prefix(struct md_err *err, const char *fmt, ...)
{
    char head[sizeof(err->msg)];
    char old[sizeof(err->msg)];
    va_list ap;
    size_t hl;
    size_t ol;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    /* Cut short like the message itself, which has no more room. */
    (void)vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    old[sizeof(old) - 1] = '\0';
    hl = strlen(head);
    ol = strlen(old);
    if (hl > sizeof(err->msg) - 1)
        hl = sizeof(err->msg) - 1;
    if (ol > sizeof(err->msg) - 1 - hl)
        ol = sizeof(err->msg) - 1 - hl;
    memcpy(err->msg, head, hl);
    memcpy(err->msg + hl, old, ol);
    err->msg[hl + ol] = '\0';
}

void md_err_clear(struct md_err *err)
{
    if (err == NULL)
        return;
    err->code = MD_OK;
    err->msg[0] = '\0';
}

const char *md_strerror(int code)
{
    switch (code) {
    case MD_OK:
        return "success";
    case MD_EINVAL:
        return "invalid argument";
    case MD_ENOTFOUND:
        return "not found";
    case MD_EUNAVAIL:
        return "unavailable";
    case MD_ENOMEM:
        return "out of memory";
    case MD_EIO:
        return "i/o error";
    case MD_ECORRUPT:
        return "corrupt data";
    case MD_EAUTH:
        return "unauthenticated";
    case MD_EPERM:
        return "permission denied";
    case MD_EINTERNAL:
        return "internal error";
    case MD_ETOOBIG:
        return "too large";
    case MD_EUNSUPPORTED:
        return "unsupported";
    case MD_ETIMEDOUT:
        return "timed out";
    case MD_EPENDING:
        return "pending";
    case MD_ECONFLICT:
        return "conflict";
    case MD_EMETHOD:
        return "method not allowed";
    case MD_EHEADTOOBIG:
        return "request head too large";
    case MD_ETOOMANY:
        return "too many requests";
    default:
        return "unknown error";
    }
}

void md_bug(const char *file, int line, const char *msg)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"BUG at %s:%d: %s\"}\n", file, line, msg);
    abort();
}
