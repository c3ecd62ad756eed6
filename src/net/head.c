/* SPDX-License-Identifier: MIT */
/*
 * head.c: the checks of head.h on one request's header fields. Each field
 * costs a pass over its name (token characters) and one memchr over its
 * value; the framing fields are compared by length first.
 */
#include "net/head.h"

#include <stdarg.h>
#include <strings.h>

#define NAME_SHOWN 64 /* characters of a field name quoted in a message */

/*
 * RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA: 1 for each, by byte value (a
 * table, as every byte of every name is looked up).
 */
static const unsigned char tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 */
    /* 0x80 to 0xff: 0 */
};

/* name[0..len) is want (lower case, want_len bytes), in any case. */
static bool named(const char *name, size_t len, const char *want, size_t want_len)
{
    return len == want_len && (name[0] | 0x20) == want[0] && strncasecmp(name, want, len) == 0;
}

/* Sets the refusal (the first one wins). */
static void refuse(struct md_head *hd, int code, const char *fmt, ...) MD_PRINTF(3, 4);

static void refuse(struct md_head *hd, int code, const char *fmt, ...)
{
    va_list ap;

    if (hd->code != MD_OK)
        return;
    hd->code = code;
    va_start(ap, fmt);
    (void)vsnprintf(hd->msg, sizeof(hd->msg), fmt, ap); /* a long message is cut short */
    va_end(ap);
}

/* s[0..len) for a message: printable ASCII kept, anything else as '?', cut at NAME_SHOWN. */
static const char *shown(char *out, const char *s, size_t len)
{
    size_t i;

    if (len > NAME_SHOWN)
        len = NAME_SHOWN;
    for (i = 0; i < len; i++) {
        out[i] = '?';
        if (s[i] >= 0x20 && s[i] < 0x7f)
            out[i] = s[i];
    }
    out[len] = '\0';
    return out;
}

void md_head_init(struct md_head *hd)
{
    /* Field by field: the message is written only on a refusal. */
    hd->next = NULL;
    hd->exact = false;
    hd->prev = NULL;
    hd->prev_len = 0;
    hd->n_length = 0;
    hd->n_coding = 0;
    hd->n_host = 0;
    hd->coding = NULL;
    hd->coding_len = 0;
    hd->code = MD_OK;
    hd->msg[0] = '\0';
}

/*
 * Where libmicrohttpd 0.9.75 keeps a field line "Name: value\r\n": Name, a
 * NUL for the colon, the spaces or tabs before the value, the value, a NUL
 * for the CR and one for the LF (a bare LF: one NUL), then the next line.
 * Anything else around a field means a byte the parser stopped at (a NUL in
 * the value), or a folded line it merged into the name somewhere else.
 */
static void check_layout(struct md_head *hd, const char *name, size_t name_len, const char *value,
                         size_t value_len)
{
    char a[NAME_SHOWN + 1];
    uintptr_t after_name = (uintptr_t)name + name_len;
    uintptr_t v = (uintptr_t)value;
    const char *p;

    /* Compared as numbers first: a folded field's name lies elsewhere in the pool. */
    if (v <= after_name || v - after_name - 1 > MD_HEAD_MAX_OWS || name[name_len] != '\0') {
        refuse(hd, MD_EINVAL,
               "a header line starts with a space or tab (obsolete line folding): "
               "not accepted");
        return;
    }
    for (p = name + name_len + 1; p < value; p++) {
        if (*p != ' ' && *p != '\t') {
            refuse(hd, MD_EINVAL, "header '%s': malformed line", shown(a, name, name_len));
            return;
        }
    }
    /* This line is whole: the previous one held more than its value. */
    if (hd->next != NULL && name != hd->next) {
        refuse(hd, MD_EINVAL, "header '%s': value contains a NUL byte",
               shown(a, hd->prev, hd->prev_len));
        return;
    }
    /* value[value_len] is the NUL that ended the value, and a terminator or
     * the empty line always follows it: both bytes are in the buffer. */
    if (value[value_len + 1] == '\0') {
        hd->next = value + value_len + 2; /* CRLF */
        hd->exact = false;
    } else {
        /* A bare LF, so the next field starts right here; or a NUL in the value
         * with the rest of the line after it, which no field will start at. */
        hd->next = value + value_len + 1;
        hd->exact = true;
    }
}

/* Refuses a field whose name is not a token (RFC 9110 5.1). */
static void check_name(struct md_head *hd, const char *name, size_t name_len)
{
    char a[NAME_SHOWN + 1];
    unsigned char ok = 1;
    size_t i;

    for (i = 0; i < name_len; i++)
        ok &= tchar[(unsigned char)name[i]];
    for (i = 0; !ok && i < name_len; i++) {
        if (!tchar[(unsigned char)name[i]]) {
            if (name[i] == ' ' || name[i] == '\t')
                refuse(hd, MD_EINVAL, "header '%s': whitespace in the name or before the colon",
                       shown(a, name, name_len));
            else
                refuse(hd, MD_EINVAL, "header '%s': a character not allowed in a field name",
                       shown(a, name, name_len));
            return;
        }
    }
    if (name_len == 0)
        refuse(hd, MD_EINVAL, "a header line has no field name");
}

void md_head_field(struct md_head *hd, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
    char a[NAME_SHOWN + 1];

    if (hd->code != MD_OK)
        return;
    /* The layout first: a folded line ends up in the name. */
    if (MD_HEAD_LAYOUT && value != NULL) {
        check_layout(hd, name, name_len, value, value_len);
        if (hd->code != MD_OK)
            return;
    }
    /* The framing fields by name (tokens, so their names need no check). */
    if (named(name, name_len, "content-length", 14)) {
        hd->n_length++;
    } else if (named(name, name_len, "transfer-encoding", 17)) {
        if (hd->n_coding++ == 0) {
            hd->coding = value != NULL ? value : "";
            hd->coding_len = value != NULL ? value_len : 0;
        }
    } else if (named(name, name_len, "host", 4)) {
        hd->n_host++;
    } else {
        check_name(hd, name, name_len);
        if (hd->code != MD_OK)
            return;
    }
    if (value != NULL && memchr(value, '\r', value_len) != NULL) {
        refuse(hd, MD_EINVAL, "header '%s': value contains a CR byte", shown(a, name, name_len));
        return;
    }
    hd->prev = name;
    hd->prev_len = name_len;
}

/* The next element of the list s[*pos..len) (RFC 9110 5.6.1: commas, optional
 * whitespace, empty elements skipped): false at the end. */
static bool next_element(const char *s, size_t len, size_t *pos, const char **el, size_t *el_len)
{
    size_t i = *pos;
    size_t start;
    size_t end;

    for (;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        if (i >= len)
            return false;
        start = i;
        while (i < len && s[i] != ',')
            i++;
        end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end > start)
            break;
    }
    *pos = i;
    *el = s + start;
    *el_len = end - start;
    return true;
}

/* Transfer-Encoding's value: a plain "chunked" (as libmicrohttpd reads it), or refused. */
static void check_coding(struct md_head *hd)
{
    const char *s = hd->coding;
    size_t len = hd->coding_len;
    const char *el;
    size_t el_len;
    const char *other = NULL; /* the first coding that is not chunked */
    size_t other_len = 0;
    size_t pos = 0;
    unsigned n = 0;
    unsigned chunked = 0;
    bool last_chunked = false;
    char a[NAME_SHOWN + 1];

    while (next_element(s, len, &pos, &el, &el_len)) {
        n++;
        last_chunked = named(el, el_len, "chunked", 7);
        if (last_chunked) {
            chunked++;
        } else if (other == NULL) {
            other = el;
            other_len = el_len;
        }
    }
    if (n == 0) {
        refuse(hd, MD_EINVAL, "header 'Transfer-Encoding' is empty");
    } else if (!last_chunked) {
        refuse(hd, MD_EINVAL,
               "header 'Transfer-Encoding': '%s' does not end in chunked, so the body's "
               "length cannot be known",
               shown(a, s, len));
    } else if (chunked > 1) {
        refuse(hd, MD_EINVAL, "header 'Transfer-Encoding': '%s' applies chunked more than once",
               shown(a, s, len));
    } else if (other != NULL) {
        refuse(hd, MD_EUNSUPPORTED,
               "header 'Transfer-Encoding': transfer coding '%s' is not supported",
               shown(a, other, other_len));
    } else if (!named(s, len, "chunked", 7)) {
        refuse(hd, MD_EINVAL, "header 'Transfer-Encoding': '%s': send exactly 'chunked'",
               shown(a, s, len));
    }
}

int md_head_finish(struct md_head *hd, bool http10)
{
    char a[NAME_SHOWN + 1];

    if (hd->code != MD_OK)
        return hd->code;
    if (hd->exact)
        refuse(hd, MD_EINVAL, "header '%s': value contains a NUL byte",
               shown(a, hd->prev, hd->prev_len));
    else if (hd->n_length > 1)
        refuse(hd, MD_EINVAL, "request has %u Content-Length headers; send one", hd->n_length);
    else if (hd->n_host > 1)
        refuse(hd, MD_EINVAL, "request has %u Host headers; send one", hd->n_host);
    else if (hd->n_coding > 0 && http10)
        refuse(hd, MD_EINVAL, "header 'Transfer-Encoding' in an HTTP/1.0 request");
    else if (hd->n_coding > 0 && hd->n_length > 0)
        refuse(hd, MD_EINVAL, "request has both Content-Length and Transfer-Encoding; send one");
    else if (hd->n_coding > 1)
        refuse(hd, MD_EINVAL, "request has %u Transfer-Encoding headers; send one", hd->n_coding);
    else if (hd->n_coding == 1)
        check_coding(hd);
    return hd->code;
}
