/* SPDX-License-Identifier: MIT */
/*
 * head.h: the checks on a request's header fields that libmicrohttpd 0.9.75
 * leaves undone, for requests that a proxy in front and this server could
 * frame differently (request smuggling; RFC 9112 sections 2.2, 5, 6.1 and
 * 6.3, RFC 9110 section 5.5). A request is refused when it has
 *
 *   - more than one Content-Length field, even with equal values (RFC 9110
 *     8.6 allows either refusing or merging; libmicrohttpd already refuses
 *     the list form "5, 5", so refusing both forms keeps them alike);
 *   - Content-Length together with Transfer-Encoding;
 *   - more than one Transfer-Encoding or Host field;
 *   - a Transfer-Encoding other than a plain "chunked" (MD_EINVAL, a 400,
 *     when chunked is not its last coding, so the body's end cannot be found;
 *     MD_EUNSUPPORTED, a 501, for a coding before chunked that this server
 *     does not implement);
 *   - Transfer-Encoding in an HTTP/1.0 request;
 *   - a field name that is not a token (whitespace before the colon);
 *   - a NUL or CR byte in a field value, or obsolete line folding (a line
 *     that starts with a space or tab).
 *
 * A refusal is an error code (util/err.h), which api/'s table turns into the
 * status; every one but the coding not implemented is MD_EINVAL.
 *
 * libmicrohttpd cuts a value at a NUL byte and hands over the rest of the
 * line as nothing, and merges a folded line into the field's name, so these
 * two are found from where it keeps the fields: each name and value points
 * into the request's read buffer, where the colon and each line's CR and LF
 * were overwritten with NUL bytes in place. md_head_field therefore expects
 * the fields in the order they arrived, as pointers into one buffer laid
 * out that way; with another libmicrohttpd version (MD_HEAD_LAYOUT 0) those
 * two checks are left out until it is checked.
 *
 * Not thread-safe: one struct per request, on the thread that reads it.
 */
#ifndef MD_NET_HEAD_H
#define MD_NET_HEAD_H

#include "util/common.h"
#include "util/err.h"

#include <microhttpd.h>

/* 1 when libmicrohttpd keeps the fields as md_head_field expects: checked with 0.9.75. */
#define MD_HEAD_LAYOUT (MHD_VERSION >= 0x00097500 && MHD_VERSION < 0x00097600)

/* The longest run of spaces and tabs accepted between a colon and its value. */
#define MD_HEAD_MAX_OWS 256

struct md_head {
    const char *next; /* private: where the next field's name must begin, or NULL */
    bool exact;       /* private: a next field is owed (see head.c) */
    const char *prev; /* private: the previous field's name and its length */
    size_t prev_len;
    unsigned n_length;  /* private: Content-Length fields seen */
    unsigned n_coding;  /* private: Transfer-Encoding fields seen */
    unsigned n_host;    /* private: Host fields seen */
    const char *coding; /* private: the first Transfer-Encoding value */
    size_t coding_len;
    int code;      /* read-only: MD_OK, or MD_EINVAL or MD_EUNSUPPORTED once refused */
    char msg[192]; /* read-only: why, when code is set */
};

/* Starts the checks of one request's fields. */
void md_head_init(struct md_head *hd);

/*
 * Checks one field, name[name_len] and value[value_len], as libmicrohttpd
 * hands it over (in arrival order, pointing into its read buffer). The first
 * problem found sets hd->code and hd->msg; later fields are then skipped.
 */
void md_head_field(struct md_head *hd, const char *name, size_t name_len, const char *value,
                   size_t value_len);

/*
 * After the last field: the checks that need them all (framing). http10:
 * the request is HTTP/1.0. Returns hd->code: MD_OK when the request may be
 * served, else MD_EINVAL or MD_EUNSUPPORTED with hd->msg saying why (the
 * connection is then to be closed after the answer).
 */
int md_head_finish(struct md_head *hd, bool http10);

#endif
