/* SPDX-License-Identifier: MIT */
/*
 * multipart.c: the streaming multipart/form-data parser of multipart.h.
 *
 * The body is read as if a CRLF came before it, so that the first
 * boundary line, at the very start or after a preamble, is found like every
 * other: as the delimiter CRLF "--" boundary. Preamble and part data are
 * scanned for the delimiter the same way (KMP over a chunk's bytes while a
 * match carried over from the previous chunk lasts, then memmem), and only
 * the state says whether what lies before it is dropped (preamble) or
 * handed to the data callback. Bytes that might begin a delimiter at the
 * end of a chunk are held back; they are always the delimiter's first k
 * bytes, so holding them costs a count, not a copy.
 *
 *   preamble  DELIM after  ( "--" epilogue  |  pad* CRLF head data DELIM after ... )
 */
#include "util/multipart.h"

#include <strings.h>

enum {
    S_PREAMBLE = 0, /* before the first delimiter: dropped */
    S_AFTER,        /* a delimiter matched: "--", padding or CRLF next */
    S_DASH,         /* one '-' of the final "--" */
    S_PAD,          /* transport padding after the boundary */
    S_CR,           /* the CR ending the boundary line */
    S_HEAD,         /* a part's header block */
    S_DATA,         /* a part's data */
    S_EPILOGUE      /* after the final boundary: dropped */
};

#define MAX_PARAMS 16   /* parameters of one header value */
#define CT_MAX     1024 /* the longest Content-Type header value read for its boundary */

/* ---- header values: a type, then ';' key=value parameters -------------- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* One parameter: its key and its value, unquoted (in the text it was read from). */
struct param {
    const char *key;
    size_t key_len;
    char *val;
    size_t val_len;
};

/*
 * Parses s[0..n), NUL-terminated at n, as `type *(OWS ";" OWS key OWS "="
 * OWS value) OWS`, value a token or a quoted string (its quotes dropped and
 * its escapes \" and \\ undone in place; any other backslash is kept). what names the header for
 * messages. The type may hold '/' (a media type).
 */
static int parse_value(char *s, size_t n, const char *what, const char **type, size_t *type_len,
                       struct param *par, size_t *n_par, struct md_err *err)
{
    size_t i = 0;

    *n_par = 0;
    while (i < n && is_ws(s[i]))
        i++;
    *type = s + i;
    while (i < n && (is_tchar((unsigned char)s[i]) || s[i] == '/'))
        i++;
    *type_len = (size_t)(s + i - *type);
    if (*type_len == 0)
        return md_err_set(err, MD_EINVAL, "%s: no type before its parameters", what);
    for (;;) {
        struct param *pm;

        while (i < n && is_ws(s[i]))
            i++;
        if (i == n)
            return MD_OK;
        if (s[i] != ';')
            return md_err_set(err, MD_EINVAL, "%s: expected ';' at character %zu", what, i + 1);
        i++;
        while (i < n && is_ws(s[i]))
            i++;
        if (*n_par == MAX_PARAMS)
            return md_err_set(err, MD_EINVAL, "%s: more than %d parameters", what, MAX_PARAMS);
        pm = &par[*n_par];
        pm->key = s + i;
        while (i < n && is_tchar((unsigned char)s[i]))
            i++;
        pm->key_len = (size_t)(s + i - pm->key);
        if (pm->key_len == 0)
            return md_err_set(err, MD_EINVAL, "%s: expected a parameter at character %zu", what,
                              i + 1);
        while (i < n && is_ws(s[i]))
            i++;
        if (i == n || s[i] != '=')
            return md_err_set(err, MD_EINVAL, "%s: parameter '%.*s' has no '=' and value", what,
                              (int)pm->key_len, pm->key);
        i++;
        while (i < n && is_ws(s[i]))
            i++;
        if (i < n && s[i] == '"') {
            /* Unquoted in place: the text shrinks, so writing never passes reading. */
            char *w = s + i;

            pm->val = w;
            for (i++;; i++) {
                if (i == n)
                    return md_err_set(err, MD_EINVAL,
                                      "%s: parameter '%.*s': unterminated quoted "
                                      "string",
                                      what, (int)pm->key_len, pm->key);
                if (s[i] == '"')
                    break;
                /* A backslash escapes a quote or a backslash; before anything
                 * else it is itself (browsers send Windows paths unescaped). */
                if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
                    i++;
                *w++ = s[i];
            }
            i++;
            pm->val_len = (size_t)(w - pm->val);
        } else {
            pm->val = s + i;
            while (i < n && is_tchar((unsigned char)s[i]))
                i++;
            pm->val_len = (size_t)(s + i - pm->val);
            if (pm->val_len == 0)
                return md_err_set(err, MD_EINVAL, "%s: parameter '%.*s' has no value", what,
                                  (int)pm->key_len, pm->key);
        }
        (*n_par)++;
    }
}

/* The parameter named key (any case) among par[0..n), or NULL; MD_EINVAL when it appears twice. */
static int find_param(struct param *par, size_t n, const char *key, const char *what,
                      struct param **out, struct md_err *err)
{
    size_t klen = strlen(key);
    size_t i;

    *out = NULL;
    for (i = 0; i < n; i++) {
        if (par[i].key_len != klen || strncasecmp(par[i].key, key, klen) != 0)
            continue;
        if (*out != NULL)
            return md_err_set(err, MD_EINVAL, "%s: parameter '%s' given twice", what, key);
        *out = &par[i];
    }
    return MD_OK;
}

/* RFC 2046's bchars. */
static bool is_bchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

/* Whether b (n bytes) is a boundary RFC 2046 allows: 1 to 70 bchars, no final space. */
static bool good_boundary(const char *b, size_t n)
{
    size_t i;

    if (n == 0 || n > MD_MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ')
        return false;
    for (i = 0; i < n; i++)
        if (!is_bchar((unsigned char)b[i]))
            return false;
    return true;
}

int md_multipart_boundary(const char *content_type, char out[MD_MULTIPART_BOUNDARY_MAX + 1],
                          struct md_err *err)
{
    char s[CT_MAX + 1];
    struct param par[MAX_PARAMS];
    struct param *b;
    const char *type;
    size_t type_len;
    size_t n_par;
    size_t n;
    int rc;

    out[0] = '\0';
    if (content_type == NULL || content_type[0] == '\0')
        return md_err_set(err, MD_EINVAL,
                          "header 'Content-Type': missing; send multipart/form-data");
    n = strlen(content_type);
    if (n > CT_MAX)
        return md_err_set(err, MD_EINVAL, "header 'Content-Type': longer than %d bytes", CT_MAX);
    memcpy(s, content_type, n + 1);
    rc = parse_value(s, n, "header 'Content-Type'", &type, &type_len, par, &n_par, err);
    if (rc != MD_OK)
        return rc;
    if (type_len != 19 || strncasecmp(type, "multipart/form-data", 19) != 0)
        return md_err_set(err, MD_EINVAL,
                          "header 'Content-Type': '%.*s' is not multipart/form-data",
                          (int)(type_len > 60 ? 60 : type_len), type);
    rc = find_param(par, n_par, "boundary", "header 'Content-Type'", &b, err);
    if (rc != MD_OK)
        return rc;
    if (b == NULL)
        return md_err_set(err, MD_EINVAL,
                          "header 'Content-Type': multipart/form-data without a "
                          "boundary "
                          "parameter");
    if (!good_boundary(b->val, b->val_len))
        return md_err_set(err, MD_EINVAL,
                          "header 'Content-Type': the boundary is not 1 to %d of the "
                          "characters RFC 2046 allows (letters, digits, '()+_,-./:=? and inner "
                          "spaces)",
                          MD_MULTIPART_BOUNDARY_MAX);
    memcpy(out, b->val, b->val_len);
    out[b->val_len] = '\0';
    return MD_OK;
}

/* ---- a part's header block --------------------------------------------- */

/* Takes the disposition's name and filename into part; what names the header. */
static int take_disposition(char *v, const char *what, struct md_multipart_part *part,
                            struct md_err *err)
{
    struct param par[MAX_PARAMS];
    struct param *name;
    struct param *file;
    const char *type;
    size_t type_len;
    size_t n_par;
    int rc;

    rc = parse_value(v, strlen(v), what, &type, &type_len, par, &n_par, err);
    if (rc != MD_OK)
        return rc;
    if (type_len != 9 || strncasecmp(type, "form-data", 9) != 0)
        return md_err_set(err, MD_EINVAL, "%s: type '%.*s' is not form-data", what,
                          (int)(type_len > 40 ? 40 : type_len), type);
    rc = find_param(par, n_par, "name", what, &name, err);
    if (rc == MD_OK)
        rc = find_param(par, n_par, "filename", what, &file, err);
    if (rc != MD_OK)
        return rc;
    if (name == NULL || name->val_len == 0)
        return md_err_set(err, MD_EINVAL, "%s: the part has no name", what);
    /* Each value ends at or before the byte after it in the text, which no
     * other value holds: terminated only now that all are read. */
    name->val[name->val_len] = '\0';
    part->name = name->val;
    if (file != NULL) {
        file->val[file->val_len] = '\0';
        part->filename = file->val;
    }
    return MD_OK;
}

/*
 * Parses the header block mp->head[0..head_len), which ends with an empty
 * line, into part (pointing into the block).
 */
static int parse_head(struct md_multipart *mp, struct md_multipart_part *part)
{
    char *h = mp->head;
    size_t n = mp->head_len - 2; /* without the empty line's CRLF: lines that end in CRLF */
    char *disposition = NULL;
    char what[64];
    size_t i;
    size_t line = 0;

    memset(part, 0, sizeof(*part));
    part->index = mp->parts;
    /* Folded lines joined: a CRLF before a space or tab is whitespace. */
    for (i = 0; i + 2 < n; i++)
        if (h[i] == '\r' && h[i + 1] == '\n' && is_ws(h[i + 2])) {
            h[i] = ' ';
            h[i + 1] = ' ';
        }
    if (n > 0 && is_ws(h[0]))
        return md_err_set(&mp->err, MD_EINVAL, "part %zu: its first header line is folded",
                          mp->parts);
    for (i = 0; i < n;) {
        char *start = h + i;
        char *end = memchr(start, '\r', n - i); /* the line's CR: every line ends in CRLF */
        char *colon;
        char *v;
        char *ve;

        line++;
        if (end == NULL || end[1] != '\n' || memchr(start, '\n', (size_t)(end - start)) != NULL)
            return md_err_set(&mp->err, MD_EINVAL,
                              "part %zu: header line %zu holds a bare CR or "
                              "LF",
                              mp->parts, line);
        if (memchr(start, '\0', (size_t)(end - start)) != NULL)
            return md_err_set(&mp->err, MD_EINVAL, "part %zu: header line %zu holds a NUL byte",
                              mp->parts, line);
        i = (size_t)(end - h) + 2;
        *end = '\0';
        colon = strchr(start, ':');
        if (colon == NULL || colon == start)
            return md_err_set(&mp->err, MD_EINVAL,
                              "part %zu: header line %zu has no name and "
                              "colon",
                              mp->parts, line);
        for (v = start; v < colon; v++)
            if (!is_tchar((unsigned char)*v))
                return md_err_set(&mp->err, MD_EINVAL,
                                  "part %zu: header line %zu: its name "
                                  "holds a character a header name may not",
                                  mp->parts, line);
        for (v = colon + 1; is_ws(*v); v++)
            ;
        for (ve = end; ve > v && is_ws(ve[-1]); ve--)
            ;
        *ve = '\0';
        if ((size_t)(colon - start) == 19 && strncasecmp(start, "Content-Disposition", 19) == 0) {
            if (disposition != NULL)
                return md_err_set(&mp->err, MD_EINVAL,
                                  "part %zu: Content-Disposition given "
                                  "twice",
                                  mp->parts);
            disposition = v;
        } else if ((size_t)(colon - start) == 12 && strncasecmp(start, "Content-Type", 12) == 0) {
            if (part->content_type != NULL)
                return md_err_set(&mp->err, MD_EINVAL, "part %zu: Content-Type given twice",
                                  mp->parts);
            part->content_type = v;
        }
    }
    if (disposition == NULL)
        return md_err_set(&mp->err, MD_EINVAL,
                          "part %zu: no Content-Disposition header (a "
                          "form-data part needs one, with a name)",
                          mp->parts);
    (void)snprintf(what, sizeof(what), "part %zu: Content-Disposition", mp->parts);
    return take_disposition(disposition, what, part, &mp->err);
}

/* ---- the body ---------------------------------------------------------- */

/* A handler's failure as the parser's: its code, and a message if it set none. */
static int handler_failed(struct md_multipart *mp, int rc)
{
    if (rc >= 0)
        rc = MD_EINTERNAL;
    if (mp->err.code == MD_OK || mp->err.msg[0] == '\0')
        return md_err_set(&mp->err, rc, "part %zu: refused by its handler", mp->parts);
    mp->err.code = rc;
    return rc;
}

/* Hands n bytes of part data to the handler (preamble bytes are dropped). */
static int emit(struct md_multipart *mp, const char *p, size_t n)
{
    int rc;

    if (n == 0 || mp->state != S_DATA)
        return MD_OK;
    rc = mp->h->data(mp->ctx, p, n, &mp->err);
    return rc == MD_OK ? MD_OK : handler_failed(mp, rc);
}

/*
 * Scans p[0..n) for the delimiter, emitting what comes before it. *used is
 * the bytes consumed: through the delimiter when *found, else all of them
 * (the last mp->k of them held back as the delimiter's first k bytes).
 */
static int scan(struct md_multipart *mp, const char *p, size_t n, size_t *used, bool *found)
{
    const char *hit;
    size_t i = 0;
    size_t rest;
    size_t t;
    int rc;

    *found = false;
    /* A match carried over: byte by byte until it completes or falls back to nothing. */
    while (mp->k > 0 && i < n) {
        size_t k2;

        if (p[i] == mp->delim[mp->k]) {
            i++;
            if (++mp->k == mp->dlen) {
                mp->k = 0;
                *found = true;
                *used = i;
                return MD_OK;
            }
            continue;
        }
        /* The held bytes delim[0..k) keep only their longest border as a match. */
        k2 = mp->fail[mp->k];
        rc = emit(mp, mp->delim, mp->k - k2);
        if (rc != MD_OK)
            return rc;
        mp->k = k2;
    }
    *used = n;
    if (i == n)
        return MD_OK;
    rest = n - i;
    hit = memmem(p + i, rest, mp->delim, mp->dlen);
    if (hit != NULL) {
        *found = true;
        *used = (size_t)(hit - p) + mp->dlen;
        return emit(mp, p + i, (size_t)(hit - (p + i)));
    }
    /* No delimiter: hold back the longest tail that begins one. */
    for (t = rest < mp->dlen - 1 ? rest : mp->dlen - 1; t > 0; t--)
        if (p[n - t] == '\r' && memcmp(p + n - t, mp->delim, t) == 0)
            break;
    mp->k = t;
    return emit(mp, p + i, rest - t);
}

static int fail_byte(struct md_multipart *mp, char c)
{
    unsigned char u = (unsigned char)c;

    if (u > 0x20 && u < 0x7f)
        return md_err_set(&mp->err, MD_EINVAL,
                          "a boundary line: the boundary is followed by "
                          "'%c', not CRLF or '--'",
                          c);
    return md_err_set(&mp->err, MD_EINVAL,
                      "a boundary line: the boundary is followed by byte "
                      "0x%02x, not CRLF or '--'",
                      u);
}

/* Adds c to the header block; when it completes, parses it and begins the part. */
static int head_byte(struct md_multipart *mp, char c)
{
    struct md_multipart_part part;
    const char *h = mp->head;
    size_t n;
    int rc;

    if (mp->head_len == mp->max_head)
        return md_err_set(&mp->err, MD_EINVAL,
                          "part %zu: header block larger than the limit "
                          "of %zu bytes",
                          mp->parts, mp->max_head);
    mp->head[mp->head_len++] = c;
    n = mp->head_len;
    if (c != '\n' || !((n == 2 && h[0] == '\r') ||
                       (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r')))
        return MD_OK;
    rc = parse_head(mp, &part);
    if (rc != MD_OK)
        return rc;
    rc = mp->h->begin(mp->ctx, &part, &mp->err);
    if (rc != MD_OK)
        return handler_failed(mp, rc);
    mp->state = S_DATA;
    return MD_OK;
}

/* The byte after a delimiter, or in its line: the grammar's small states. */
static int line_byte(struct md_multipart *mp, char c)
{
    switch (mp->state) {
    case S_AFTER:
        if (c == '-')
            mp->state = S_DASH;
        else if (is_ws(c))
            mp->state = S_PAD;
        else if (c == '\r')
            mp->state = S_CR;
        else
            return fail_byte(mp, c);
        return MD_OK;
    case S_DASH:
        if (c != '-')
            return md_err_set(&mp->err, MD_EINVAL,
                              "a boundary line: the boundary is followed "
                              "by '-' and not a second one");
        mp->state = S_EPILOGUE;
        return MD_OK;
    case S_PAD:
        if (c == '\r')
            mp->state = S_CR;
        else if (!is_ws(c))
            return fail_byte(mp, c);
        return MD_OK;
    default: /* S_CR */
        if (c != '\n')
            return md_err_set(&mp->err, MD_EINVAL, "a boundary line ends in CR without LF");
        if (mp->parts == mp->max_parts)
            return md_err_set(&mp->err, MD_EINVAL, "the body has more parts than the limit of %zu",
                              mp->max_parts);
        mp->parts++;
        mp->head_len = 0;
        mp->state = S_HEAD;
        return MD_OK;
    }
}

/* Copies the parser's error into err; returns its code. */
static int failed(const struct md_multipart *mp, struct md_err *err)
{
    if (err != NULL)
        *err = mp->err;
    return mp->err.code;
}

int md_multipart_init(struct md_multipart *mp, const char *boundary, size_t max_head_bytes,
                      size_t max_parts, const struct md_multipart_handler *h, void *ctx,
                      struct md_err *err)
{
    size_t blen = strlen(boundary);
    size_t k;
    size_t b;

    memset(mp, 0, offsetof(struct md_multipart, head));
    mp->head[0] = '\0';
    /* A parser that failed to start fails every call. */
    if (!good_boundary(boundary, blen)) {
        md_err_set(&mp->err, MD_EINVAL,
                   "multipart boundary: not 1 to %d of RFC 2046's "
                   "characters",
                   MD_MULTIPART_BOUNDARY_MAX);
        return failed(mp, err);
    }
    if (max_head_bytes < 1 || max_head_bytes > MD_MULTIPART_HEAD_MAX || max_parts < 1) {
        md_err_set(&mp->err, MD_EINVAL,
                   "multipart limits: header block 1 to %d bytes, at "
                   "least 1 part",
                   MD_MULTIPART_HEAD_MAX);
        return failed(mp, err);
    }
    mp->h = h;
    mp->ctx = ctx;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, blen);
    mp->dlen = 4 + blen;
    /* KMP's failure function: fail[k] is the longest proper border of delim[0..k). */
    mp->fail[0] = 0;
    mp->fail[1] = 0;
    for (k = 2, b = 0; k <= mp->dlen; k++) {
        while (b > 0 && mp->delim[k - 1] != mp->delim[b])
            b = mp->fail[b];
        if (mp->delim[k - 1] == mp->delim[b])
            b++;
        mp->fail[k] = (uint8_t)b;
    }
    mp->max_head = max_head_bytes;
    mp->max_parts = max_parts;
    mp->state = S_PREAMBLE;
    mp->k = 2; /* the CRLF taken to come before the body */
    return MD_OK;
}

int md_multipart_feed(struct md_multipart *mp, const char *p, size_t n, struct md_err *err)
{
    size_t i = 0;
    int rc = MD_OK;

    if (mp->err.code != MD_OK)
        return failed(mp, err);
    while (i < n && rc == MD_OK) {
        size_t used = 0;
        bool found = false;

        switch (mp->state) {
        case S_PREAMBLE:
        case S_DATA:
            rc = scan(mp, p + i, n - i, &used, &found);
            i += used;
            if (rc != MD_OK || !found)
                break;
            if (mp->state == S_DATA) {
                rc = mp->h->end(mp->ctx, &mp->err);
                if (rc != MD_OK)
                    rc = handler_failed(mp, rc);
            }
            mp->state = S_AFTER;
            break;
        case S_HEAD:
            while (i < n && mp->state == S_HEAD && rc == MD_OK)
                rc = head_byte(mp, p[i++]);
            break;
        case S_EPILOGUE:
            i = n;
            break;
        default:
            rc = line_byte(mp, p[i++]);
            break;
        }
    }
    if (rc != MD_OK) {
        if (mp->err.code == MD_OK)
            md_err_set(&mp->err, rc, "multipart parse failed");
        return failed(mp, err);
    }
    return MD_OK;
}

int md_multipart_finish(struct md_multipart *mp, struct md_err *err)
{
    if (mp->err.code != MD_OK)
        return failed(mp, err);
    switch (mp->state) {
    case S_EPILOGUE:
        return MD_OK;
    case S_PREAMBLE:
        md_err_set(&mp->err, MD_EINVAL, "no boundary line '--%.*s' in the body",
                   (int)(mp->dlen - 4), mp->delim + 4);
        break;
    case S_HEAD:
    case S_DATA:
        md_err_set(&mp->err, MD_EINVAL,
                   "missing the final boundary: the body ends inside part "
                   "%zu",
                   mp->parts);
        break;
    default:
        md_err_set(&mp->err, MD_EINVAL,
                   "missing the final boundary: the body ends in a "
                   "boundary line");
        break;
    }
    return failed(mp, err);
}

size_t md_multipart_parts(const struct md_multipart *mp)
{
    return mp->parts;
}
