/* SPDX-License-Identifier: MIT */
/*
 * buf.h: a growable byte buffer with a maximum.
 *
 * Invariants, after init and after any call, failed or not:
 *   - data is NULL (nothing appended yet) or points at cap bytes;
 *   - len < cap when data is not NULL, and data[len] == '\0';
 *   - len <= max: an append that would pass max fails with MD_ETOOBIG and
 *     leaves the buffer as it was.
 * md_buf_release frees data; md_buf_reset keeps the memory for reuse.
 */
#ifndef MD_UTIL_BUF_H
#define MD_UTIL_BUF_H

#include "util/common.h"
#include "util/err.h"

struct md_buf {
    char *data; /* read-only: NUL-terminated contents, or NULL */
    size_t len; /* read-only: bytes used, not counting the NUL */
    size_t cap; /* private: bytes allocated */
    size_t max; /* private: the most len may reach */
};

void md_buf_init(struct md_buf *b, size_t max);
void md_buf_release(struct md_buf *b);
void md_buf_reset(struct md_buf *b);

/* Makes room for n more bytes; MD_ETOOBIG past max, MD_ENOMEM. */
int md_buf_grow(struct md_buf *b, size_t n) MD_MUST_CHECK;
int md_buf_append_slow(struct md_buf *b, const void *p, size_t n) MD_MUST_CHECK;

/*
 * Appends n bytes. Inline for the common case, an append that fits the
 * memory already there (the answers of the hot path, in a reply buffer
 * reused across requests); md_buf_append_slow grows the buffer.
 */
static inline MD_MUST_CHECK int md_buf_append(struct md_buf *b, const void *p, size_t n)
{
    if (MD_LIKELY(b->data != NULL && n < b->cap - b->len && b->len + n <= b->max)) {
        if (n > 0)
            memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return MD_OK;
    }
    return md_buf_append_slow(b, p, n);
}

/* Appends the NUL-terminated s; inline, so a literal's length is a constant. */
static inline MD_MUST_CHECK int md_buf_puts(struct md_buf *b, const char *s)
{
    return md_buf_append(b, s, strlen(s));
}

static inline MD_MUST_CHECK int md_buf_putc(struct md_buf *b, char c)
{
    return md_buf_append(b, &c, 1);
}
int md_buf_printf(struct md_buf *b, const char *fmt, ...) MD_PRINTF(2, 3) MD_MUST_CHECK;

/*
 * Writing in place: after md_buf_grow(b, n) succeeds, up to n bytes may be
 * written at md_buf_tail(b) (the end of the contents); md_buf_commit(b, k)
 * then makes the k <= n bytes written part of the contents.
 */
char *md_buf_tail(struct md_buf *b);
void md_buf_commit(struct md_buf *b, size_t k);

/* Appends s (n bytes) as a JSON string literal, quotes included. */
int md_buf_json_str(struct md_buf *b, const char *s, size_t n) MD_MUST_CHECK;

/* Hands out data (caller frees) and leaves b empty; NULL if nothing appended. */
char *md_buf_detach(struct md_buf *b, size_t *len);

#endif
