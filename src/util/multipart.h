/* SPDX-License-Identifier: MIT */
/*
 * multipart.h: a streaming multipart/form-data parser (RFC 7578 over RFC
 * 2046's multipart grammar). The body is fed in chunks of any size, down to
 * one byte, and each part reaches its handler as it arrives: its headers
 * (Content-Disposition's name and filename, Content-Type) once, then its
 * data in pieces, then its end. Nothing is buffered but a part's header
 * block and at most the delimiter's length of held-back bytes, so a part of
 * any size costs no memory here. The same body gives the same calls (the
 * same bytes, possibly in other pieces) whatever its chunks.
 *
 * Accepted: a preamble before the first boundary line and an epilogue after
 * the last, both ignored; transport padding (spaces, tabs) after a
 * boundary; folded part header lines; a body whose first boundary is the
 * final one (no parts). Refused with a message naming the reason: a
 * boundary line followed by anything but padding and CRLF or "--", a body
 * that ends before the final boundary, a part header block past its limit,
 * more parts than allowed, a part without Content-Disposition, one whose
 * type is not form-data, one without a name, a malformed parameter list,
 * a header line without a colon or holding a NUL, CR or LF of its own.
 * Other part headers are ignored. Content-Transfer-Encoding is not applied
 * (RFC 7578 4.7: senders do not use it).
 */
#ifndef MD_UTIL_MULTIPART_H
#define MD_UTIL_MULTIPART_H

#include "util/common.h"
#include "util/err.h"

#define MD_MULTIPART_BOUNDARY_MAX 70    /* RFC 2046: 1 to 70 characters */
#define MD_MULTIPART_HEAD_MAX     16384 /* the largest per-part header limit one may ask for */

/* One part's headers, for the begin callback: valid during that call only. */
struct md_multipart_part {
    size_t index;             /* 1 for the first part */
    const char *name;         /* Content-Disposition's name: NUL-terminated, not empty */
    const char *filename;     /* its filename as sent (quotes and escapes undone), or NULL */
    const char *content_type; /* the part's Content-Type, trimmed, or NULL */
};

/*
 * What a parser calls. Each returns MD_OK to go on, or a negative MD_E*
 * code with err set to stop the parse: that error becomes the parser's
 * (sticky, as its own). data gets a part's bytes in order, in pieces of
 * any size (never 0 bytes); end follows the last of them. A part cut short
 * by the end of the body or by an error gets no end call.
 */
struct md_multipart_handler {
    int (*begin)(void *ctx, const struct md_multipart_part *part, struct md_err *err);
    int (*data)(void *ctx, const char *p, size_t n, struct md_err *err);
    int (*end)(void *ctx, struct md_err *err);
};

/*
 * A parser: caller-allocated (about 16 KiB, most of it the header block's
 * room), set up by md_multipart_init, no release needed. Every field is
 * private.
 */
struct md_multipart {
    const struct md_multipart_handler *h;
    void *ctx;
    char delim[4 + MD_MULTIPART_BOUNDARY_MAX];   /* CRLF "--" boundary */
    size_t dlen;                                 /* bytes of delim */
    uint8_t fail[5 + MD_MULTIPART_BOUNDARY_MAX]; /* KMP: the longest proper border of
                                                    delim[0..k), for each k */
    int state;                                   /* where in the grammar the next byte is */
    size_t k;                                    /* bytes of delim matched and held back */
    size_t max_head;                             /* a part's header block, in bytes */
    size_t max_parts;
    size_t parts; /* parts begun */
    size_t head_len;
    struct md_err err; /* MD_OK, or the first failure: every later call returns it */
    char head[MD_MULTIPART_HEAD_MAX + 1];
};

/*
 * The boundary of a request's Content-Type header value: it must be
 * multipart/form-data (any case) with a boundary parameter, quoted or not,
 * of 1 to 70 of RFC 2046's characters, not ending in a space. Writes it
 * NUL-terminated into out. MD_EINVAL naming what is wrong otherwise
 * ("header 'Content-Type': 'application/json' is not multipart/form-data").
 */
int md_multipart_boundary(const char *content_type, char out[MD_MULTIPART_BOUNDARY_MAX + 1],
                          struct md_err *err) MD_MUST_CHECK;

/*
 * Sets mp up for a body with this boundary (as md_multipart_boundary gives
 * it), calling h with ctx. max_head_bytes bounds each part's header block
 * (1 to MD_MULTIPART_HEAD_MAX), max_parts the number of parts (at least 1).
 * MD_EINVAL for a bad boundary or limit.
 */
int md_multipart_init(struct md_multipart *mp, const char *boundary, size_t max_head_bytes,
                      size_t max_parts, const struct md_multipart_handler *h, void *ctx,
                      struct md_err *err) MD_MUST_CHECK;

/*
 * Parses the next n bytes of the body, calling the handler for what they
 * complete. MD_OK, or the first error (the parser's, MD_EINVAL, or a
 * handler's code), which every later call returns too.
 */
int md_multipart_feed(struct md_multipart *mp, const char *p, size_t n,
                      struct md_err *err) MD_MUST_CHECK;

/*
 * The body has ended: MD_OK when its final boundary was seen, else
 * MD_EINVAL ("missing the final boundary ..."), or the earlier error.
 */
int md_multipart_finish(struct md_multipart *mp, struct md_err *err) MD_MUST_CHECK;

/* Parts begun so far (the one being read included). */
size_t md_multipart_parts(const struct md_multipart *mp);

#endif
