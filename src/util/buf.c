/* SPDX-License-Identifier: MIT */
/*
 * buf.c: the growable buffer of buf.h, and its sticky error.
 */
#include "util/buf.h"
#include "util/mem.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* end for a buffer without an error: room for the NUL, and len at most max. */
static void set_end(struct md_buf *b)
{
    b->end = b->max < b->cap ? b->max + 1 : b->cap;
}

/* Remembers the first failure: from now on no append passes end. */
static int fail(struct md_buf *b, int code)
{
    b->err = code;
    b->end = b->len;
    return code;
}

/* A call that failed part way: the contents go back to their first len0 bytes. */
static int undo(struct md_buf *b, size_t len0)
{
    if (b->data != NULL) {
        b->len = len0;
        b->data[len0] = '\0';
    }
    b->end = b->len;
    return b->err;
}

void md_buf_init(struct md_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->end = 0;
    b->err = MD_OK;
}

void md_buf_release(struct md_buf *b)
{
    free(b->data);
    md_buf_init(b, b->max);
}

void md_buf_reset(struct md_buf *b)
{
    b->len = 0;
    b->err = MD_OK;
    if (b->data != NULL)
        b->data[0] = '\0';
    set_end(b);
}

/* Room for n more bytes; a failure is remembered when keep is set. */
static int room(struct md_buf *b, size_t n, bool keep)
{
    size_t need;
    size_t cap;
    char *p;

    if (b->err != MD_OK)
        return b->err;
    if (n > b->max || b->len > b->max - n)
        return keep ? fail(b, MD_ETOOBIG) : MD_ETOOBIG;
    need = b->len + n + 1;
    if (need <= b->cap)
        return MD_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = md_realloc(b->data, cap);
    if (p == NULL)
        return keep ? fail(b, MD_ENOMEM) : MD_ENOMEM;
    if (b->data == NULL)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    set_end(b);
    return MD_OK;
}

int md_buf_grow(struct md_buf *b, size_t n)
{
    return room(b, n, true);
}

int md_buf_reserve(struct md_buf *b, size_t n)
{
    return room(b, n, false);
}

int md_buf_append_slow(struct md_buf *b, const void *p, size_t n)
{
    int rc = md_buf_grow(b, n);

    if (rc != MD_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MD_OK;
}

char *md_buf_tail(struct md_buf *b)
{
    return b->data + b->len;
}

void md_buf_commit(struct md_buf *b, size_t k)
{
    assert(b->err == MD_OK && b->data != NULL && b->len + k < b->cap && b->len + k <= b->max);
    b->len += k;
    b->data[b->len] = '\0';
}

int md_buf_printf(struct md_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    int m;
    int rc;

    if (b->err != MD_OK)
        return b->err;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(b, MD_EINTERNAL);
    rc = md_buf_grow(b, (size_t)n);
    if (rc != MD_OK)
        return rc;
    va_start(ap, fmt);
    m = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (m != n) {
        /* The second pass came out different: keep the contents as they were. */
        b->data[b->len] = '\0';
        return fail(b, MD_EINTERNAL);
    }
    b->len += (size_t)n;
    return MD_OK;
}

/* Bit 7 set in each byte of v that a JSON string must escape: below 0x20, '"' or '\\'. */
static inline uint64_t escape_mask(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t high = 0x8080808080808080ULL;
    uint64_t q = v ^ (ones * '"');
    uint64_t bs = v ^ (ones * '\\');

    /* The usual "has a byte below k" tests, exact for bytes below 0x80. */
    return ((v - ones * 0x20) | (q - ones) | (bs - ones)) & ~v & high;
}

/* Whether s[0..n) needs no escape: the common case, names and ids. */
static bool plain_json(const char *s, size_t n)
{
    size_t i = 0;

    for (; n - i >= 8; i += 8) {
        uint64_t v;

        memcpy(&v, s + i, sizeof(v));
        if (escape_mask(v) != 0)
            return false;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

int md_buf_json_str(struct md_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t len0 = b->len;
    size_t i;
    size_t start;
    int rc;

    if (plain_json(s, n)) {
        /* Room for all of it first: past the limit, the buffer stays as it was. */
        rc = md_buf_grow(b, n + 2);
        if (rc != MD_OK)
            return rc;
        b->data[b->len] = '"';
        memcpy(b->data + b->len + 1, s, n);
        b->len += n + 2;
        b->data[b->len - 1] = '"';
        b->data[b->len] = '\0';
        return MD_OK;
    }
    md_buf_putc(b, '"');
    start = 0;
    for (i = 0; i < n && b->err == MD_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        size_t elen = 0;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        md_buf_append(b, s + start, i - start);
        start = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            elen = 2;
            break;
        case '\\':
            esc[1] = '\\';
            elen = 2;
            break;
        case '\n':
            esc[1] = 'n';
            elen = 2;
            break;
        case '\r':
            esc[1] = 'r';
            elen = 2;
            break;
        case '\t':
            esc[1] = 't';
            elen = 2;
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        md_buf_append(b, esc, elen);
    }
    md_buf_append(b, s + start, n - start);
    md_buf_putc(b, '"');
    /* Failed part way: nothing of s stays. */
    return b->err == MD_OK ? MD_OK : undo(b, len0);
}

char *md_buf_detach(struct md_buf *b, size_t *len)
{
    char *p = b->data;

    if (len != NULL)
        *len = b->len;
    md_buf_init(b, b->max);
    return p;
}

int md_buf_json_time_ms(struct md_buf *b, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char text[40];

    gmtime_r(&t, &tm);
    (void)strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
    return md_buf_printf(b, "\"%s.%03dZ\"", text, (int)(ms % 1000));
}

int64_t md_time_parse_ms(const char *s)
{
    struct tm tm;
    const char *end;
    int64_t ms = 0;
    char *e = NULL;
    long long v;

    if (s[0] >= '0' && s[0] <= '9' && strchr(s, '-') == NULL) {
        errno = 0;
        v = strtoll(s, &e, 10);
        return *e == '\0' && v >= 0 && errno == 0 ? (int64_t)v : -1;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    if (*end == '.') {
        int k = 0;

        for (end++; *end >= '0' && *end <= '9'; end++, k++)
            if (k < 3)
                ms = ms * 10 + (*end - '0');
        while (k++ < 3)
            ms *= 10;
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return -1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}
