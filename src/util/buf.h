/* SPDX-License-Identifier: MIT */
/*
 * buf.h: a growable byte buffer with a maximum and a sticky error.
 *
 * Invariants, after init and after any call, failed or not:
 *   - data is NULL (nothing appended yet; then cap and len are 0) or points
 *     at cap bytes;
 *   - len < cap when data is not NULL, and data[len] == '\0';
 *   - len <= max: an append that would pass max fails with MD_ETOOBIG;
 *   - the first call that fails (past max: MD_ETOOBIG; out of memory:
 *     MD_ENOMEM; md_buf_printf's formatting: MD_EINTERNAL) leaves the
 *     contents as they were before it and is remembered: every later append,
 *     grow or printf does nothing and returns that same code, until
 *     md_buf_reset, md_buf_release or md_buf_detach;
 *   - md_buf_reserve is only a hint: its failure is not remembered.
 *
 * So a writer appends without checking each call and checks once at the
 * end, before the contents are used: the error it gets is the first one,
 * whatever followed (two failures are never merged into a third code):
 *
 *     md_buf_puts(b, "{\"name\":");
 *     md_buf_json_str(b, name, strlen(name));
 *     md_buf_putc(b, '}');
 *     if (md_buf_error(b) != MD_OK)
 *         ... the answer is incomplete: discard it ...
 *
 * Every append still returns the buffer's error after the call (MD_OK or the
 * first failure's code), for a caller that stops at once. md_buf_release
 * frees data; md_buf_reset keeps the memory for reuse.
 */
#ifndef MD_UTIL_BUF_H
#define MD_UTIL_BUF_H

#include "util/common.h"
#include "util/err.h"

struct md_buf {
    char *data; /* read-only: NUL-terminated contents, or NULL */
    size_t len; /* read-only: bytes used, not counting the NUL */
    size_t cap; /* private: bytes allocated; 0 when data is NULL */
    size_t max; /* private: the most len may reach */
    /* private: an inline append of n bytes fits when n < end - len; end is
     * min(cap, max + 1), or len once err is set, so that the inline append's
     * one comparison also stops every append after a failure */
    size_t end;
    int err; /* private: MD_OK, or the code of the first failed call (md_buf_error) */
};

void md_buf_init(struct md_buf *b, size_t max);
void md_buf_release(struct md_buf *b);
/* Empties the contents and clears the error; keeps the memory. */
void md_buf_reset(struct md_buf *b);

/* MD_OK, or the code of the first call that failed since init or reset. */
/* The value of the hex digit c (either case), or -1. */
static inline int md_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline MD_MUST_CHECK int md_buf_error(const struct md_buf *b)
{
    return b->err;
}

/* Makes room for n more bytes; MD_ETOOBIG past max, MD_ENOMEM (remembered, as an append's). */
int md_buf_grow(struct md_buf *b, size_t n) MD_MUST_CHECK;
/* Makes room for n more bytes when it can, ahead of the appends that will
 * use it; a failure is returned but not remembered: those appends decide. */
int md_buf_reserve(struct md_buf *b, size_t n);
int md_buf_append_slow(struct md_buf *b, const void *p, size_t n);

/*
 * Appends n bytes. Inline for the common case, an append that fits the
 * memory already there (the answers of the hot path, in a reply buffer
 * reused across requests): one comparison, which a failed buffer never
 * passes; md_buf_append_slow grows the buffer and keeps the error.
 */
static inline int md_buf_append(struct md_buf *b, const void *p, size_t n)
{
    if (MD_LIKELY(n < b->end - b->len)) {
        if (n > 0)
            memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return MD_OK;
    }
    return md_buf_append_slow(b, p, n);
}

/* Appends the NUL-terminated s; inline, so a literal's length is a constant. */
static inline int md_buf_puts(struct md_buf *b, const char *s)
{
    return md_buf_append(b, s, strlen(s));
}

static inline int md_buf_putc(struct md_buf *b, char c)
{
    return md_buf_append(b, &c, 1);
}
int md_buf_printf(struct md_buf *b, const char *fmt, ...) MD_PRINTF(2, 3);

/*
 * Writing in place: after md_buf_grow(b, n) succeeds, up to n bytes may be
 * written at md_buf_tail(b) (the end of the contents); md_buf_commit(b, k)
 * then makes the k <= n bytes written part of the contents.
 */
char *md_buf_tail(struct md_buf *b);
void md_buf_commit(struct md_buf *b, size_t k);

/* Appends s (n bytes) as a JSON string literal, quotes included. */
int md_buf_json_str(struct md_buf *b, const char *s, size_t n);

/* Appends ms since the epoch as a quoted JSON string in UTC to the
 * millisecond: "2026-12-07T10:11:12.345Z". */
int md_buf_json_time_ms(struct md_buf *b, int64_t ms);

/*
 * A time as a query gives it: digits alone for ms since the epoch, or an
 * RFC 3339 UTC time with or without a fraction ("2026-12-07T10:11:12Z",
 * md_buf_json_time_ms's text unquoted, "...+00:00"); -1 when malformed.
 */
int64_t md_time_parse_ms(const char *s);

/* Hands out data (caller frees) and leaves b empty, its error cleared; NULL
 * if nothing appended. */
char *md_buf_detach(struct md_buf *b, size_t *len);

#endif
