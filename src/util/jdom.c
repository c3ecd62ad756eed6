/* SPDX-License-Identifier: MIT */
/*
 * jdom.c: the strict one-pass JSON parser of jdom.h and its number
 * conversions.
 *
 * The parser is a loop over an explicit stack of open containers (at most
 * MD_JDOM_MAX_DEPTH), so hostile nesting cannot exhaust the C stack. Nodes
 * come from the arena in batches; strings without escapes point into the
 * input, the others are decoded into the arena. Numbers stay text until a
 * caller converts them: integers exactly in 64 bits, floats with the
 * Clinger fast path (non-negative exponents), then Eisel-Lemire (128-bit
 * powers of five, see jdom_pow5.h), and strtod on a normalised copy for the
 * rare inputs neither settles. Error offsets in messages are 0-based byte positions.
 */
#include "util/jdom.h"

#include <math.h>
#include <stdatomic.h>

#include "util/jdom_pow5.h"
#include "util/sys.h"

/* ------------------------------------------------------------------------
 * Parser state and errors
 * ------------------------------------------------------------------------ */

#define NODE_BATCH_MIN 32
#define NODE_BATCH_MAX 1024

struct parser {
    const unsigned char *base; /* the text */
    const unsigned char *end;  /* one past its last byte */
    unsigned flags;            /* enum md_jdom_flags */
    struct md_arena *a;
    struct md_jnode *nodes; /* next free node of the current batch */
    struct md_jnode *nodes_end;
    size_t batch; /* nodes to ask for next time */
    struct md_err *err;
};

static int syntax_error(struct parser *ps, const unsigned char *at, const char *reason)
{
    return md_err_set(ps->err, MD_EINVAL, "invalid JSON at byte %zu: %s", (size_t)(at - ps->base),
                      reason);
}

/* "expected X, found 'c'", or "unexpected end of input, expected X" at the end. */
static int unexpected(struct parser *ps, const unsigned char *at, const char *expected)
{
    size_t off = (size_t)(at - ps->base);

    if (at >= ps->end)
        return md_err_set(ps->err, MD_EINVAL,
                          "invalid JSON at byte %zu: unexpected end of input, expected %s", off,
                          expected);
    if (*at >= 0x20 && *at < 0x7f)
        return md_err_set(ps->err, MD_EINVAL, "invalid JSON at byte %zu: expected %s, found '%c'",
                          off, expected, *at);
    return md_err_set(ps->err, MD_EINVAL,
                      "invalid JSON at byte %zu: expected %s, found byte 0x%02x", off, expected,
                      *at);
}

static int out_of_memory(struct parser *ps)
{
    return md_err_set(ps->err, MD_ETOOBIG,
                      "JSON document needs more memory than the request allows");
}

/*
 * A fresh node. Batches grow geometrically but never past what the rest of
 * the text could still hold (a value takes at least one byte plus a
 * separator), so a small document wastes little of the arena.
 */
static struct md_jnode *node_new(struct parser *ps, const unsigned char *at)
{
    size_t want;
    size_t left;

    if (MD_LIKELY(ps->nodes < ps->nodes_end))
        return ps->nodes++;
    left = (size_t)(ps->end - at) / 2 + 1;
    want = ps->batch < left ? ps->batch : left;
    /* Near the arena's limit, settle for smaller batches before giving up. */
    for (;;) {
        ps->nodes = md_arena_alloc(ps->a, want * sizeof(struct md_jnode));
        if (ps->nodes != NULL)
            break;
        ps->nodes_end = NULL;
        if (want == 1)
            return NULL;
        want /= 2;
        ps->batch = want;
    }
    ps->nodes_end = ps->nodes + want;
    if (ps->batch < NODE_BATCH_MAX)
        ps->batch *= 2;
    return ps->nodes++;
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* ------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------ */

/* Byte classes inside a string: 0 plain ASCII, 1 '"', 2 '\\', 3 control, 4 >= 0x80. */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/*
 * The length of the well-formed UTF-8 sequence at p (Unicode table 3-7: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0.
 */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t left = (size_t)(end - p);
    unsigned c = p[0];
    unsigned lo = 0x80;
    unsigned hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        if (left < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        if (left < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (end - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        unsigned c = p[i];

        if (c >= '0' && c <= '9')
            v = v * 16 + (c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v = v * 16 + ((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/*
 * Decodes the escapes of the raw string s[0..e) into the arena. UTF-8 was
 * checked by the scan; here every escape is checked. Decoded text is never
 * longer than raw text (an escape of 6 or 12 bytes yields at most 4).
 */
static int decode_escapes(struct parser *ps, const unsigned char *s, const unsigned char *e,
                          const char **out, size_t *out_len)
{
    char *dst = md_arena_alloc(ps->a, (size_t)(e - s));
    char *o = dst;
    const unsigned char *q = s;

    if (dst == NULL)
        return out_of_memory(ps);
    while (q < e) {
        const unsigned char *bs = memchr(q, '\\', (size_t)(e - q));
        unsigned cp;
        unsigned lo;

        if (bs == NULL)
            bs = e;
        memcpy(o, q, (size_t)(bs - q));
        o += bs - q;
        if (bs == e)
            break;
        /* The scan guarantees a byte after every backslash. */
        q = bs + 2;
        switch (bs[1]) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)bs[1];
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u':
            if (hex4(q, e, &cp) != 0)
                return syntax_error(ps, bs, "invalid \\u escape");
            q += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return syntax_error(ps, bs, "lone low surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (e - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, e, &lo) != 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return syntax_error(ps, bs, "lone high surrogate in \\u escape");
                q += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            o = put_utf8(o, cp);
            break;
        default:
            return syntax_error(ps, bs, "invalid escape in string");
        }
    }
    *out = dst;
    *out_len = (size_t)(o - dst);
    return MD_OK;
}

/*
 * Scans the string whose opening quote is at p[-1]: its text into
 * out and out_len, and the position after the closing quote into next.
 */
static int parse_string(struct parser *ps, const unsigned char *p, const char **out,
                        size_t *out_len, const unsigned char **next)
{
    const unsigned char *s = p;
    const unsigned char *end = ps->end;
    bool esc = false;
    size_t n;

    for (;;) {
        while (p < end && str_class[*p] == 0)
            p++;
        if (p >= end)
            return syntax_error(ps, p, "unterminated string");
        switch (str_class[*p]) {
        case 1:
            goto closed;
        case 2:
            if (end - p < 2)
                return syntax_error(ps, end, "unterminated string");
            esc = true;
            p += 2;
            break;
        case 3:
            return syntax_error(ps, p, "control character in string");
        default:
            n = utf8_len(p, end);
            if (n == 0)
                return syntax_error(ps, p, "invalid UTF-8 in string");
            p += n;
            break;
        }
    }
closed:
    *next = p + 1;
    if (!esc) {
        *out = (const char *)s;
        *out_len = (size_t)(p - s);
        return MD_OK;
    }
    return decode_escapes(ps, s, p, out, out_len);
}

/* ------------------------------------------------------------------------
 * Numbers and literals while parsing
 * ------------------------------------------------------------------------ */

static inline bool is_digit(unsigned c)
{
    return c - '0' < 10;
}

/* Eight bytes at p as a little-endian word (p has 8 bytes readable). */
static inline uint64_t read8(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/*
 * Bit 7 set in each byte of a read8 word that is not an ASCII digit. Exact up
 * to and including the first such byte (no carry or borrow crosses a digit),
 * which is all the callers look at.
 */
static inline uint64_t nondigit_mask(uint64_t v)
{
    return ((v + 0x4646464646464646ULL) | (v - 0x3030303030303030ULL)) & 0x8080808080808080ULL;
}

/* The value of eight ASCII digits in a read8 word, first digit most significant. */
static inline uint32_t parse8_digits(uint64_t v)
{
    const uint64_t mask = 0x000000ff000000ffULL;
    const uint64_t mul1 = 0x000f424000000064ULL; /* 100 + (1000000 << 32) */
    const uint64_t mul2 = 0x0000271000000001ULL; /* 1 + (10000 << 32) */

    v -= 0x3030303030303030ULL;
    v = v * 10 + (v >> 8);
    v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    return (uint32_t)v;
}

/* Past the run of digits at p, eight at a time. */
static inline const unsigned char *skip_digits(const unsigned char *p, const unsigned char *end)
{
    while (end - p >= 8) {
        uint64_t m = nondigit_mask(read8(p));

        if (m != 0)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
    while (p < end && is_digit(*p))
        p++;
    return p;
}

static bool has_word(const unsigned char *p, const unsigned char *end, const char *w, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0;
}

/* Where and why number_end found no number. */
struct num_fault {
    const unsigned char *at;
    const char *expected; /* what should have been at at, or NULL */
    const char *reason;   /* the whole message when expected is NULL */
};

static const unsigned char *num_fault(struct num_fault *f, const unsigned char *at,
                                      const char *expected, const char *reason)
{
    if (f != NULL) {
        f->at = at;
        f->expected = expected;
        f->reason = reason;
    }
    return NULL;
}

/*
 * Past the RFC 8259 number at p, or NULL when there is none, and then,
 * when f is not NULL, where and why.
 */
static const unsigned char *number_end(const unsigned char *p, const unsigned char *end,
                                       struct num_fault *f)
{
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return num_fault(f, p, NULL, "unexpected end of input in number");
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p))
            return num_fault(f, p - 1, NULL, "leading zero in number");
    } else if (is_digit(*p)) {
        p = skip_digits(p + 1, end);
    } else {
        return num_fault(f, p, "a digit", NULL);
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return num_fault(f, p, "a digit after '.'", NULL);
        p = skip_digits(p + 1, end);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return num_fault(f, p, "a digit in the exponent", NULL);
        p = skip_digits(p + 1, end);
    }
    return p;
}

/*
 * Checks the number grammar of RFC 8259 from p (or -Infinity with
 * MD_JDOM_NANINF); its end into *next.
 */
static int scan_number(struct parser *ps, const unsigned char *p, const unsigned char **next)
{
    struct num_fault f;
    const unsigned char *e;

    if ((ps->flags & MD_JDOM_NANINF) && *p == '-' && has_word(p + 1, ps->end, "Infinity", 8)) {
        *next = p + 9;
        return MD_OK;
    }
    e = number_end(p, ps->end, &f);
    if (e == NULL)
        return f.expected != NULL ? unexpected(ps, f.at, f.expected)
                                  : syntax_error(ps, f.at, f.reason);
    *next = e;
    return MD_OK;
}

static const unsigned char *scan_packed(struct parser *ps, const unsigned char *p,
                                        struct md_jnode *n, bool *no_memory);

/*
 * With MD_JDOM_PACKED, the array whose '[' is at p as a packed array when it
 * may be one (see scan_packed): the position after its ']', or NULL.
 */
static const unsigned char *try_packed(struct parser *ps, const unsigned char *p,
                                       struct md_jnode *n, bool *no_memory)
{
    unsigned c = p + 1 < ps->end ? p[1] : 0;

    if (c == '-' || is_digit(c) || c == ' ' || c == '\n' ||
        (c == 'n' && (ps->flags & MD_JDOM_PACKED_NULL)) ||
        ((c == 'N' || c == 'I') && (ps->flags & MD_JDOM_PACKED_NANINF) &&
         (ps->flags & MD_JDOM_NANINF)))
        return scan_packed(ps, p + 1, n, no_memory);
    return NULL;
}

/* The word (true, false or null) at p into n as type; the byte after it into *after. */
static int literal(struct parser *ps, const unsigned char *p, const char *word, enum md_jtype type,
                   struct md_jnode *n, const unsigned char **after)
{
    size_t len = strlen(word);

    if (!has_word(p, ps->end, word, len))
        return syntax_error(ps, p, "invalid literal");
    n->type = type;
    *after = p + len;
    return MD_OK;
}

/*
 * The scalar at p (true, false, null, a number, or with MD_JDOM_NANINF NaN or
 * Infinity) into n, and the byte after it into *after. Strings, arrays and
 * objects are md_jdom_parse's (its only caller: the compiler inlines it
 * there).
 */
static int parse_scalar(struct parser *ps, const unsigned char *p, struct md_jnode *n,
                        const unsigned char **after)
{
    const unsigned char *end = ps->end;
    int rc;

    switch (*p) {
    case 't':
        return literal(ps, p, "true", MD_J_TRUE, n, after);
    case 'f':
        return literal(ps, p, "false", MD_J_FALSE, n, after);
    case 'n':
        return literal(ps, p, "null", MD_J_NULL, n, after);
    case 'N':
    case 'I':
        if (!(ps->flags & MD_JDOM_NANINF))
            return syntax_error(ps, p, "NaN and Infinity are not JSON");
        if (!has_word(p, end, "NaN", 3) && !has_word(p, end, "Infinity", 8))
            return syntax_error(ps, p, "invalid literal");
        n->type = MD_J_NUMBER;
        n->p = (const char *)p;
        n->len = *p == 'N' ? 3 : 8;
        p += n->len;
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        n->type = MD_J_NUMBER;
        n->p = (const char *)p;
        rc = scan_number(ps, p, &p);
        if (rc != MD_OK)
            return rc;
        n->len = (size_t)((const char *)p - n->p);
        break;
    default:
        return unexpected(ps, p, "a value");
    }
    *after = p;
    return MD_OK;
}

int md_jdom_parse(const char *text, size_t len, unsigned flags, struct md_arena *a,
                  struct md_jnode **root, struct md_err *err)
{
    struct frame {
        struct md_jnode *node; /* the open ARRAY or OBJECT */
        struct md_jnode *last; /* its last child so far */
    } stack[MD_JDOM_MAX_DEPTH];
    struct parser ps;
    const unsigned char *p;
    const unsigned char *end;
    const char *key = NULL;
    size_t key_len = 0;
    struct md_jnode *top = NULL;
    struct md_jnode *n;
    struct frame *f;
    int depth = 0;
    int rc;

    *root = NULL;
    if (text == NULL)
        return md_err_set(err, MD_EINVAL, "invalid JSON at byte 0: no text");
    p = (const unsigned char *)text;
    end = p + len;
    ps.base = p;
    ps.end = end;
    ps.flags = flags;
    ps.a = a;
    ps.nodes = NULL;
    ps.nodes_end = NULL;
    ps.batch = NODE_BATCH_MIN;
    ps.err = err;
    p = skip_ws(p, end);

value:
    /* p is at the first byte of a value (whitespace skipped). */
    if (p >= end)
        return unexpected(&ps, p, "a value");
    n = node_new(&ps, p);
    if (n == NULL)
        return out_of_memory(&ps);
    n->p = NULL;
    n->len = 0;
    n->key = key;
    n->key_len = (uint32_t)key_len;
    n->child = NULL;
    n->next = NULL;
    n->n = 0;
    n->values = NULL;
    n->n_null = 0;
    key = NULL;
    key_len = 0;
    if (depth > 0) {
        f = &stack[depth - 1];
        if (f->last != NULL)
            f->last->next = n;
        else
            f->node->child = n;
        f->last = n;
        f->node->n++;
    } else {
        top = n;
    }
    switch (*p) {
    case '{':
    case '[':
        if (depth == MD_JDOM_MAX_DEPTH)
            return syntax_error(&ps, p, "nesting deeper than 100 levels");
        if (*p == '[' && (flags & MD_JDOM_PACKED)) {
            bool no_memory = false;
            const unsigned char *after = try_packed(&ps, p, n, &no_memory);

            if (no_memory)
                return out_of_memory(&ps);
            if (after != NULL) {
                p = after;
                goto after_value;
            }
        }
        n->type = *p == '{' ? MD_J_OBJECT : MD_J_ARRAY;
        stack[depth].node = n;
        stack[depth].last = NULL;
        depth++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (n->type == MD_J_OBJECT ? '}' : ']')) {
            p++;
            depth--;
            goto after_value;
        }
        if (n->type == MD_J_OBJECT)
            goto member_key;
        goto value;
    case '"':
        n->type = MD_J_STRING;
        rc = parse_string(&ps, p + 1, &n->p, &n->len, &p);
        if (rc != MD_OK)
            return rc;
        goto after_value;
    default:
        rc = parse_scalar(&ps, p, n, &p);
        if (rc != MD_OK)
            return rc;
        goto after_value;
    }

member_key:
    /* p is where an object's next key must start (whitespace skipped). */
    if (p >= end || *p != '"')
        return unexpected(&ps, p, "a string key");
    rc = parse_string(&ps, p + 1, &key, &key_len, &p);
    if (rc != MD_OK)
        return rc;
    if (key_len > UINT32_MAX)
        return syntax_error(&ps, p, "object key longer than 4 GiB");
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return unexpected(&ps, p, "':'");
    p = skip_ws(p + 1, end);
    goto value;

after_value:
    if (depth == 0)
        goto done;
    p = skip_ws(p, end);
    f = &stack[depth - 1];
    if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        if (f->node->type == MD_J_OBJECT) {
            if (p < end && *p == '}')
                return syntax_error(&ps, p, "trailing comma");
            goto member_key;
        }
        if (p < end && *p == ']')
            return syntax_error(&ps, p, "trailing comma");
        goto value;
    }
    if (f->node->type == MD_J_OBJECT) {
        if (p >= end || *p != '}')
            return unexpected(&ps, p, "',' or '}'");
    } else if (p >= end || *p != ']') {
        return unexpected(&ps, p, "',' or ']'");
    }
    p++;
    depth--;
    goto after_value;

done:
    p = skip_ws(p, end);
    if (p != end)
        return syntax_error(&ps, p, "unexpected data after the value");
    *root = top;
    return MD_OK;
}

const struct md_jnode *md_jdom_get(const struct md_jnode *o, const char *key)
{
    const struct md_jnode *m;
    size_t klen;

    if (o == NULL || o->type != MD_J_OBJECT)
        return NULL;
    klen = strlen(key);
    for (m = o->child; m != NULL; m = m->next)
        if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
            return m;
    return NULL;
}

char *md_jdom_strdup(const struct md_jnode *n, struct md_arena *a)
{
    if (n == NULL || n->type != MD_J_STRING)
        return NULL;
    return md_arena_strndup(a, n->p, n->len);
}

/* ------------------------------------------------------------------------
 * Integer conversions: exact, never through double
 * ------------------------------------------------------------------------ */

/* The magnitude of an integral NUMBER into *v and its sign into *neg. */
static int scan_integer(const struct md_jnode *n, uint64_t *v, bool *neg)
{
    const unsigned char *p;
    const unsigned char *end;
    uint64_t acc = 0;

    if (n == NULL || n->type != MD_J_NUMBER || n->len == 0)
        return MD_EINVAL;
    p = (const unsigned char *)n->p;
    end = p + n->len;
    *neg = *p == '-';
    if (*neg)
        p++;
    if (p >= end || (*p == '0' && end - p > 1))
        return MD_EINVAL;
    for (; p < end; p++) {
        unsigned d = (unsigned)*p - '0';

        if (d > 9)
            return MD_EINVAL;
        if (acc > (UINT64_MAX - d) / 10)
            return MD_EINVAL;
        acc = acc * 10 + d;
    }
    *v = acc;
    return MD_OK;
}

int md_jdom_i64(const struct md_jnode *n, int64_t *out)
{
    uint64_t v;
    bool neg;

    if (scan_integer(n, &v, &neg) != MD_OK)
        return MD_EINVAL;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return MD_EINVAL;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return MD_EINVAL;
        *out = (int64_t)v;
    }
    return MD_OK;
}

int md_jdom_u64(const struct md_jnode *n, uint64_t *out)
{
    uint64_t v;
    bool neg;

    if (scan_integer(n, &v, &neg) != MD_OK)
        return MD_EINVAL;
    if (neg && v != 0)
        return MD_EINVAL;
    *out = v;
    return MD_OK;
}

/* ------------------------------------------------------------------------
 * Float conversions: correctly rounded to double
 * ------------------------------------------------------------------------ */

#define MAX_SIG_DIGITS 19        /* decimal digits that always fit a uint64_t */
#define EXP_CLAMP      100000000 /* exponents beyond this give 0 or infinity anyway */
#define SLOW_DIGITS    800       /* more than the 767 a double halfway point can need */
#define DBL_INF_BITS   0x7ff0000000000000ULL

/* A decimal number: w * 10^q, up to a dropped tail of digits when truncated. */
struct decimal {
    uint64_t w; /* the first up to 19 significant digits */
    int64_t q;  /* decimal exponent */
    bool neg;
    bool truncated; /* nonzero digits were dropped after w */
};

static const uint64_t pow10_u64[9] = {1,      10,      100,      1000,     10000,
                                      100000, 1000000, 10000000, 100000000};

/*
 * Appends the digits at p to *w while it holds at most MAX_SIG_DIGITS
 * (*nd so far), eight at a time; returns the end of the digits taken.
 */
static inline const unsigned char *take_digits(const unsigned char *p, const unsigned char *end,
                                               uint64_t *w, int *nd)
{
    uint64_t acc = *w;
    int n = *nd;

    while (end - p >= 8 && n < MAX_SIG_DIGITS) {
        uint64_t v = read8(p);
        uint64_t m = nondigit_mask(v);
        int k = m != 0 ? (__builtin_ctzll(m) >> 3) & 7 : 8;

        if (k > MAX_SIG_DIGITS - n)
            k = MAX_SIG_DIGITS - n;
        if (k == 0)
            break;
        if (k < 8) {
            /* Move the k digits to the low end, '0'-padded in front. */
            v = (v << (8 * (8 - k))) | (0x3030303030303030ULL >> (8 * k));
        }
        acc = acc * pow10_u64[k] + parse8_digits(v);
        n += k;
        p += k;
        if (k < 8)
            break;
    }
    while (p < end && n < MAX_SIG_DIGITS && is_digit(*p)) {
        acc = acc * 10 + (*p - '0');
        n++;
        p++;
    }
    *w = acc;
    *nd = n;
    return p;
}

/* Splits number text into a struct decimal; -1 when it is not a JSON number. */
static int scan_decimal(const unsigned char *p, const unsigned char *end, struct decimal *d)
{
    const unsigned char *s;
    uint64_t w = 0;
    int64_t q = 0;
    int64_t e = 0;
    int nd = 0;
    bool eneg = false;
    bool trunc = false;

    d->neg = p < end && *p == '-';
    if (d->neg)
        p++;
    if (p >= end || !is_digit(*p))
        return -1;
    if (*p == '0') {
        p++;
    } else {
        /* No leading zeros here: every digit is significant. */
        p = take_digits(p, end, &w, &nd);
        for (; p < end && is_digit(*p); p++) {
            q++;
            trunc |= *p != '0';
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return -1;
        if (nd == 0) {
            for (s = p; p < end && *p == '0';)
                p++;
            q -= p - s;
        }
        s = p;
        p = take_digits(p, end, &w, &nd);
        q -= p - s;
        for (; p < end && is_digit(*p); p++)
            trunc |= *p != '0';
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || !is_digit(*p))
            return -1;
        for (; p < end && is_digit(*p); p++)
            if (e < EXP_CLAMP)
                e = e * 10 + (*p - '0');
    }
    if (p != end)
        return -1;
    d->w = w;
    d->q = q + (eneg ? -e : e);
    d->truncated = trunc;
    return 0;
}

/*
 * The common case of scan_decimal in one tight pass: a plain number with at
 * most MAX_SIG_DIGITS significant digits and an exponent of at most 9
 * digits, starting at p. Returns where the number stops (the caller checks
 * what follows) with the same decimal scan_decimal would give, or NULL for
 * anything else (longer numbers, odd or invalid text), which scan_decimal
 * then settles.
 */
static inline __attribute__((always_inline)) const unsigned char *
fast_decimal(const unsigned char *p, const unsigned char *end, struct decimal *d)
{
    const unsigned char *start;
    const unsigned char *mant_end;
    const unsigned char *s;
    uint64_t w = 0;
    int64_t q = 0;
    size_t nd;
    bool dot = false;
    unsigned c;

    if (MD_UNLIKELY(p >= end))
        return NULL;
    d->neg = *p == '-';
    p += d->neg;
    start = p;
    if (MD_LIKELY(end - p >= 2) && is_digit(p[0]) && !is_digit(p[1])) {
        /*
         * One digit ("0.xxx", "1.xxx", mostly): no branch on which, as a
         * test for '0' would be, which random data mispredicts.
         */
        w = p[0] - '0';
        p++;
        goto int_done;
    }
    c = p < end ? *p : 0;
    if (c == '0') {
        /* "01" is not JSON. */
        p++;
        if (p < end && is_digit(*p))
            return NULL;
    } else if (is_digit(c)) {
        do {
            w = w * 10 + (c - '0');
            p++;
        } while (p < end && is_digit(c = *p));
    } else {
        return NULL;
    }
int_done:
    if (p < end && *p == '.') {
        const unsigned char *frac = ++p;

        dot = true;
        while (end - p >= 8) {
            uint64_t v = read8(p);
            uint64_t m = nondigit_mask(v);
            int k;

            if (m == 0) {
                w = w * 100000000 + parse8_digits(v);
                p += 8;
                continue;
            }
            /*
             * k < 8 digits, then the end of the number: all of them at
             * once, '0'-padded in front, without a branch on k (the shift
             * in two steps so that k = 0 shifts all of v out).
             */
            k = __builtin_ctzll(m) >> 3;
            v = ((v << (8 * (7 - k))) << 8) | (0x3030303030303030ULL >> (8 * k));
            w = w * pow10_u64[k] + parse8_digits(v);
            p += k;
            goto frac_done;
        }
        while (p < end && is_digit(*p)) {
            w = w * 10 + (uint64_t)(*p - '0');
            p++;
        }
    frac_done:
        if (p == frac)
            return NULL;
        q = -(int64_t)(p - frac);
    }
    mant_end = p;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int64_t e = 0;
        bool eneg;
        const unsigned char *es;

        p++;
        eneg = p < end && *p == '-';
        if (p < end && (*p == '-' || *p == '+'))
            p++;
        es = p;
        while (p < end && is_digit(*p) && p - es < 9) {
            e = e * 10 + (*p - '0');
            p++;
        }
        if (p == es || (p < end && is_digit(*p)))
            return NULL;
        q += eneg ? -e : e;
    }
    nd = (size_t)(mant_end - start) - dot;
    if (nd > MAX_SIG_DIGITS) {
        /* Leading zeros ("0.000123") are not significant: w did not grow on them. */
        for (s = start; s < mant_end && (*s == '0' || *s == '.'); s++)
            nd -= *s == '0';
        if (nd > MAX_SIG_DIGITS)
            return NULL;
    }
    d->w = w;
    d->q = q;
    d->truncated = false;
    return p;
}

/*
 * Eisel-Lemire: the double nearest w * 10^q (w != 0) as bits, without sign.
 * False in the rare case the 128-bit product cannot decide the rounding.
 * The algorithm and constants follow the fast_float library.
 */
static inline __attribute__((always_inline)) bool eisel_lemire(uint64_t w, int64_t q,
                                                               uint64_t *bits)
{
    const uint64_t *p5;
    unsigned __int128 prod;
    uint64_t hi;
    uint64_t lo;
    uint64_t m;
    int lz;
    int upper;
    int32_t power2;

    if (q < POW5_MIN_Q) {
        *bits = 0;
        return true;
    }
    if (q > POW5_MAX_Q) {
        *bits = DBL_INF_BITS;
        return true;
    }
    lz = __builtin_clzll(w);
    w <<= lz;
    p5 = pow5_128[q - POW5_MIN_Q];
    prod = (unsigned __int128)w * p5[0];
    hi = (uint64_t)(prod >> 64);
    lo = (uint64_t)prod;
    if ((hi & 0x1ff) == 0x1ff) {
        unsigned __int128 prod2 = (unsigned __int128)w * p5[1];
        uint64_t hi2 = (uint64_t)(prod2 >> 64);

        lo += hi2;
        if (hi2 > lo)
            hi++;
    }
    if (lo == UINT64_MAX && (q < -27 || q > 55))
        return false;
    upper = (int)(hi >> 63);
    m = hi >> (upper + 64 - 52 - 3);
    /*
     * floor(q * log2(10)) as fast_float computes it, (217706 * q) >> 16, kept
     * non-negative before the shift; then + 63 and the bias of 1023.
     */
    power2 = ((217706 * (int32_t)q + (2048 << 16)) >> 16) - 2048 + 63 + upper - lz + 1023;
    if (power2 <= 0) {
        /* Subnormal (or zero): no halfway case can reach here. */
        if (-power2 + 1 >= 64) {
            *bits = 0;
            return true;
        }
        m >>= -power2 + 1;
        m += m & 1;
        m >>= 1;
        power2 = m < (1ULL << 52) ? 0 : 1;
        *bits = m | ((uint64_t)power2 << 52);
        return true;
    }
    /* An exact halfway case rounds to even; it can only occur for small q. */
    if (lo <= 1 && q >= -4 && q <= 23 && (m & 3) == 1 && (m << (upper + 64 - 52 - 3)) == hi)
        m &= ~(uint64_t)1;
    m += m & 1;
    m >>= 1;
    if (m >= (2ULL << 52)) {
        m = 1ULL << 52;
        power2++;
    }
    m &= ~(1ULL << 52);
    if (power2 >= 0x7ff) {
        *bits = DBL_INF_BITS;
        return true;
    }
    *bits = m | ((uint64_t)power2 << 52);
    return true;
}

/*
 * strtod on a normalised copy: significant digits (at most SLOW_DIGITS, then
 * a sticky 1 standing for any nonzero tail, which cannot change the
 * rounding), no decimal point (so no locale), and a clamped exponent.
 */
static double slow_f64(const unsigned char *p, const unsigned char *end)
{
    char buf[SLOW_DIGITS + 32];
    size_t nd = 0;
    int64_t q = 0;
    int64_t e = 0;
    bool neg = false;
    bool eneg = false;
    bool frac = false;
    bool sticky = false;
    double v;

    if (p < end && *p == '-') {
        neg = true;
        buf[nd++] = '-';
        p++;
    }
    for (; p < end && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            frac = true;
        } else if (nd == (size_t)neg && *p == '0') {
            q -= frac;
        } else if (nd < SLOW_DIGITS + (size_t)neg) {
            buf[nd++] = (char)*p;
            q -= frac;
        } else {
            q += !frac;
            sticky |= *p != '0';
        }
    }
    if (nd == (size_t)neg)
        return neg ? -0.0 : 0.0;
    if (sticky) {
        buf[nd++] = '1';
        q--;
    }
    if (p < end) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        for (; p < end; p++)
            if (e < EXP_CLAMP)
                e = e * 10 + (*p - '0');
    }
    q += eneg ? -e : e;
    if (q > EXP_CLAMP)
        q = EXP_CLAMP;
    if (q < -EXP_CLAMP)
        q = -EXP_CLAMP;
    /* At most SLOW_DIGITS + 2 bytes used, and q has at most 9 digits: it fits. */
    (void)snprintf(buf + nd, sizeof(buf) - nd, "e%lld", (long long)q);
    v = strtod(buf, NULL);
    return v;
}

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * The double nearest the decimal d scanned from the number text p..end
 * (which the rare slow path reads again); MD_EINVAL when out of range.
 */
static inline __attribute__((always_inline)) int decimal_to_f64(const struct decimal *d,
                                                                const unsigned char *p,
                                                                const unsigned char *end,
                                                                double *out)
{
    uint64_t bits;
    uint64_t bits2;
    double v;

    if (d->w == 0) {
        /* All digits kept were zero, so the dropped ones were too. */
        *out = d->neg ? -0.0 : 0.0;
        return MD_OK;
    }
    if (!d->truncated) {
        /*
         * Clinger: both operands exact doubles, one correctly rounded
         * multiplication. Negative exponents go to Eisel-Lemire, which is
         * faster than a division. The exponent is tested first: it is mostly
         * negative, where the mantissa's size varies at random.
         */
        if (d->q >= 0 && d->q <= 22 && d->w <= (1ULL << 53)) {
            v = (double)d->w * exact_pow10[d->q];
            *out = d->neg ? -v : v;
            return MD_OK;
        }
        if (eisel_lemire(d->w, d->q, &bits))
            goto have_bits;
    } else if (eisel_lemire(d->w, d->q, &bits) && eisel_lemire(d->w + 1, d->q, &bits2) &&
               bits == bits2) {
        /* The true value lies in [w, w+1) * 10^q and both ends round alike. */
        goto have_bits;
    }
    v = slow_f64(p, end);
    if (isinf(v))
        return MD_EINVAL;
    *out = v;
    return MD_OK;

have_bits:
    if (bits == DBL_INF_BITS)
        return MD_EINVAL;
    bits |= (uint64_t)d->neg << 63;
    memcpy(&v, &bits, sizeof(v));
    *out = v;
    return MD_OK;
}

/* The double nearest the number text; MD_EINVAL when not a number. */
static int text_to_f64(const char *s, size_t len, double *out)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + len;
    struct decimal d;

    if (len == 0)
        return MD_EINVAL;
    if (*p == 'N' || *p == 'I' || (len > 1 && p[0] == '-' && p[1] == 'I')) {
        if (len == 3 && memcmp(s, "NaN", 3) == 0)
            *out = NAN;
        else if (len == 8 && memcmp(s, "Infinity", 8) == 0)
            *out = INFINITY;
        else if (len == 9 && memcmp(s, "-Infinity", 9) == 0)
            *out = -INFINITY;
        else
            return MD_EINVAL;
        return MD_OK;
    }
    if (fast_decimal(p, end, &d) != end && scan_decimal(p, end, &d) != 0)
        return MD_EINVAL;
    return decimal_to_f64(&d, p, end, out);
}

/* A double as a float; MD_EINVAL when a finite double overflows the float range. */
static inline int narrow_f32(double v, float *out)
{
    float f = (float)v;

    if (MD_UNLIKELY(isinf(f) && !isinf(v)))
        return MD_EINVAL;
    *out = f;
    return MD_OK;
}

int md_jdom_f64(const struct md_jnode *n, double *out)
{
    if (n == NULL || n->type != MD_J_NUMBER)
        return MD_EINVAL;
    return text_to_f64(n->p, n->len, out);
}

int md_jdom_f32(const struct md_jnode *n, float *out)
{
    double v;
    float f;

    if (n == NULL || n->type != MD_J_NUMBER)
        return MD_EINVAL;
    if (text_to_f64(n->p, n->len, &v) != MD_OK || narrow_f32(v, &f) != MD_OK)
        return MD_EINVAL;
    *out = f;
    return MD_OK;
}

/* ------------------------------------------------------------------------
 * Packed arrays
 * ------------------------------------------------------------------------ */

/*
 * A null element's value: a quiet NaN with a payload no conversion makes (a
 * number beyond the double range is the plain NaN).
 */
#define NULL_NAN_BITS 0x7ff800000000600dULL

static inline double null_nan(void)
{
    uint64_t b = NULL_NAN_BITS;
    double d;

    memcpy(&d, &b, sizeof(d));
    return d;
}

static inline bool is_null_nan(double d)
{
    uint64_t b;

    memcpy(&b, &d, sizeof(b));
    return b == NULL_NAN_BITS;
}

/*
 * A NaN token's value in a packed array (MD_JDOM_PACKED_NANINF): a quiet NaN
 * with another payload, so that it is told apart from a number beyond the
 * double range (the plain NaN) and from a null. The Infinity tokens are the
 * infinities, which no number converts to.
 */
#define TOKEN_NAN_BITS 0x7ff800000000a0a0ULL

/* Whether the packed value d came from a NaN, Infinity or -Infinity token. */
static inline bool is_token_value(double d)
{
    uint64_t b;

    memcpy(&b, &d, sizeof(b));
    return b == TOKEN_NAN_BITS || (b & ~(1ULL << 63)) == DBL_INF_BITS;
}

/*
 * The NaN, Infinity or -Infinity token at p: its value into *x, returns its
 * end, or NULL when there is none. Inlined into packed_elem's rare branch:
 * a call there made the packed scan's loops spend more on every plain number
 * (callgrind: about one instruction in 240), the inlined code does not.
 */
static inline __attribute__((always_inline)) const unsigned char *
nan_inf_token(const unsigned char *p, const unsigned char *end, double *x)
{
    uint64_t b = TOKEN_NAN_BITS;

    if (has_word(p, end, "NaN", 3)) {
        memcpy(x, &b, sizeof(*x));
        return p + 3;
    }
    if (has_word(p, end, "Infinity", 8)) {
        *x = INFINITY;
        return p + 8;
    }
    if (has_word(p, end, "-Infinity", 9)) {
        *x = -INFINITY;
        return p + 9;
    }
    return NULL;
}

/* Whether the parser's flags let packed arrays hold the NaN and Infinity tokens. */
static inline bool packed_naninf(unsigned flags)
{
    return (flags & MD_JDOM_PACKED_NANINF) && (flags & MD_JDOM_NANINF);
}

/*
 * One element of a packed array at p: a number, null when *flags has
 * MD_JDOM_PACKED_NULL (and then counted in *n_null), or a NaN or Infinity
 * token when it has MD_JDOM_PACKED_NANINF and MD_JDOM_NANINF. Its value into
 * *x, returns its end, or NULL when it is none of these. Only what is not a
 * plain number reads *flags (the parser's), and a token is looked for only
 * where no number starts.
 */
static inline __attribute__((always_inline)) const unsigned char *
packed_elem(const unsigned char *p, const unsigned char *end, const unsigned *flags, double *x,
            size_t *n_null)
{
    struct decimal d;
    const unsigned char *e = fast_decimal(p, end, &d);

    if (MD_UNLIKELY(e == NULL)) {
        if ((*flags & MD_JDOM_PACKED_NULL) && has_word(p, end, "null", 4)) {
            *x = null_nan();
            ++*n_null;
            return p + 4;
        }
        e = number_end(p, end, NULL);
        if (e == NULL)
            return packed_naninf(*flags) ? nan_inf_token(p, end, x) : NULL;
        if (scan_decimal(p, e, &d) != 0)
            return NULL;
    }
    if (MD_UNLIKELY(decimal_to_f64(&d, p, e, x) != MD_OK))
        *x = NAN; /* beyond the double range */
    return e;
}

/* The first packed array gets room for this many numbers; the room doubles as needed. */
#define PACKED_MIN 16

/*
 * Large packed arrays in parallel (MD_JDOM_PARALLEL). Once an array has run
 * past PAR_SERIAL_BYTES, the rest of the document is cut into pieces at
 * commas, MD_PARALLEL_SPLIT per CPU, which md_run_parallel's threads take in
 * turn; each piece is converted into a buffer of its own. A piece ends at its cut (a comma), or at
 * the ']' that closes the array; a piece that meets anything but numbers, commas and whitespace
 * first fails. The array is the pieces up to the one that closed it, when none of them failed:
 * their concatenation is then exactly the numbers the serial scan would have read. Otherwise (a
 * string, a nested array, a syntax error, a piece cut inside a string) the parallel result is
 * dropped and the serial scan goes on from where it was, so the outcome and
 * every error message are the serial ones. Pieces past the closing one are
 * stopped early.
 */
#define PAR_SERIAL_BYTES ((size_t)64 << 10)  /* scanned on the caller's thread first */
#define PAR_PIECE_BYTES  ((size_t)256 << 10) /* the smallest piece worth cutting */
#define PAR_MAX_PIECES   64
#define PAR_CHECK_EVERY  4096 /* numbers between looks at whether to stop */

enum piece_state { PIECE_FAILED, PIECE_CUT, PIECE_CLOSED, PIECE_STOPPED };

struct piece {
    const unsigned char *start;
    const unsigned char *cut;   /* the comma ending the piece, or NULL for the last */
    const unsigned char *end;   /* the document's end */
    const unsigned char *close; /* PIECE_CLOSED: the ']' */
    _Atomic size_t *stop_after; /* lowest piece that closed or failed so far */
    size_t k;                   /* this piece's number */
    double *v;
    double *dst; /* where v goes in the array, once all pieces have run */
    size_t n;
    size_t n_null;
    enum piece_state state;
    unsigned flags; /* the parser's flags, for packed_elem */
};

static void piece_run(void *arg)
{
    struct piece *pc = arg;
    const unsigned char *p = pc->start;
    const unsigned char *end = pc->end;
    const unsigned char *cut = pc->cut;

    size_t room = (size_t)((cut != NULL ? cut : end) - p) / 2 + 2;
    size_t n = 0;
    size_t n_null = 0;
    double *v;

    /* The loop keeps its counts in locals: pieces lie side by side in one
     * array, and a store per number into this one would contend for the
     * cache line with the thread converting the next. */
    pc->state = PIECE_FAILED;
    if (atomic_load_explicit(pc->stop_after, memory_order_relaxed) < pc->k) {
        pc->state = PIECE_STOPPED; /* an earlier piece closed the array, or failed */
        goto done;
    }
    /* Room for the most numbers the piece could hold; untouched pages cost nothing. */
    v = malloc(room * sizeof(double));
    pc->v = v;
    if (v == NULL)
        goto out;
    for (;;) {
        const unsigned char *e;
        double x;

        if (p < end && *p <= ' ') {
            p += *p == ' '; /* ", " */
            if (p < end && *p <= ' ')
                p = skip_ws(p, end);
        }
        e = packed_elem(p, end, &pc->flags, &x, &n_null);
        if (e == NULL)
            goto out;
        if (MD_UNLIKELY(n == room))
            goto out; /* cannot happen: a number takes two bytes with its comma */
        v[n++] = x;
        /* Mostly a comma right after the number; else whitespace first, or the end. */
        if (MD_UNLIKELY(e >= end || *e != ',')) {
            e = skip_ws(e, end);
            if (e < end && *e == ']') {
                pc->close = e;
                pc->state = PIECE_CLOSED;
                goto out;
            }
            if (e >= end || *e != ',')
                goto out;
        }
        if (e == cut) {
            pc->state = PIECE_CUT;
            goto done;
        }
        p = e + 1;
        if (MD_UNLIKELY(n % PAR_CHECK_EVERY == 0) &&
            atomic_load_explicit(pc->stop_after, memory_order_relaxed) < pc->k) {
            pc->state = PIECE_STOPPED;
            goto done;
        }
    }
out : {
    /* Later pieces are no longer needed, whichever way this one ended. */
    size_t seen = atomic_load_explicit(pc->stop_after, memory_order_relaxed);

    while (pc->k < seen && !atomic_compare_exchange_weak(pc->stop_after, &seen, pc->k))
        ;
}
done:
    pc->n = n;
    pc->n_null = n_null;
}

/* The second pass: a piece's numbers into their place in the array. */
static void piece_copy(void *arg)
{
    struct piece *pc = arg;

    memcpy(pc->dst, pc->v, pc->n * sizeof(double));
}

enum par_result { PAR_NONE, PAR_DONE, PAR_NO_MEMORY };

static _Atomic unsigned long parallel_arrays;

unsigned long md_jdom_parallel_count(void)
{
    return atomic_load_explicit(&parallel_arrays, memory_order_relaxed);
}

/*
 * Continues the packed array being scanned from p, the start of its next
 * number after a comma, on several threads. *v (*cap doubles of room,
 * *count used) grows in the arena. PAR_DONE: the array is complete and
 * *close is its ']'. PAR_NONE: nothing changed; scan on serially.
 */
static enum par_result packed_parallel(struct parser *ps, const unsigned char *p, double **v,
                                       size_t *count, size_t *cap, size_t *n_null,
                                       const unsigned char **close)
{
    struct piece pc[PAR_MAX_PIECES];
    _Atomic size_t stop_after = SIZE_MAX;
    const unsigned char *end = ps->end;
    const size_t rest = (size_t)(end - p);
    const unsigned char *s = p;
    size_t pieces = md_parallel_parts(rest, PAR_PIECE_BYTES, 0, PAR_MAX_PIECES);
    size_t total = *count;
    size_t closed = SIZE_MAX;
    enum par_result res = PAR_NONE;
    double *grown;
    size_t k;

    if (pieces < 2)
        return PAR_NONE;
    for (k = 0; k < pieces; k++) {
        const unsigned char *at = p + (k + 1) * (rest / pieces);

        pc[k].start = s;
        pc[k].end = end;
        pc[k].cut = NULL;
        pc[k].close = NULL;
        pc[k].stop_after = &stop_after;
        pc[k].k = k;
        pc[k].flags = ps->flags;
        pc[k].v = NULL;
        if (k + 1 == pieces)
            break;
        pc[k].cut = at > s ? memchr(at, ',', (size_t)(end - at)) : NULL;
        if (pc[k].cut == NULL) {
            pieces = k + 1;
            break;
        }
        s = pc[k].cut + 1;
    }
    md_run_parallel(pc, pieces, sizeof(pc[0]), 0, piece_run);
    for (k = 0; k < pieces && closed == SIZE_MAX; k++) {
        if (pc[k].state == PIECE_CLOSED)
            closed = k;
        else if (pc[k].state != PIECE_CUT)
            break;
        total += pc[k].n;
    }
    if (closed != SIZE_MAX) {
        grown = md_arena_grow(ps->a, *v, *cap * sizeof(double), total * sizeof(double));
        if (grown == NULL) {
            res = PAR_NO_MEMORY;
        } else {
            *v = grown;
            for (k = 0; k <= closed; k++) {
                pc[k].dst = grown + *count;
                *count += pc[k].n;
                *n_null += pc[k].n_null;
            }
            md_run_parallel(pc, closed + 1, sizeof(pc[0]), 0, piece_copy);
            *cap = total;
            *close = pc[closed].close;
            res = PAR_DONE;
            atomic_fetch_add_explicit(&parallel_arrays, 1, memory_order_relaxed);
        }
    }
    for (k = 0; k < pieces; k++)
        free(pc[k].v);
    return res;
}

/*
 * With MD_JDOM_PACKED: when the array whose '[' is just before p holds valid
 * numbers only, makes n that packed array, converting each number as it is
 * scanned, and returns the position after its ']'; else NULL, and the caller
 * parses the array the usual way (and reports any syntax error there). An
 * array is looked at this way once, so a document costs at most twice its
 * plain parse. *no_memory is set when the arena's limit is reached.
 */
static const unsigned char *scan_packed(struct parser *ps, const unsigned char *p,
                                        struct md_jnode *n, bool *no_memory)
{
    const unsigned char *end = ps->end;
    const unsigned char *first = p;
    double *v = NULL;
    size_t cap = 0;
    size_t count = 0;
    size_t n_null = 0;

    bool try_parallel = (ps->flags & MD_JDOM_PARALLEL) &&
                        (size_t)(end - p) >= PAR_SERIAL_BYTES + 2 * PAR_PIECE_BYTES;

    p = skip_ws(p, end);
    for (;;) {
        double x;
        const unsigned char *e = packed_elem(p, end, &ps->flags, &x, &n_null);

        if (e == NULL)
            return NULL;
        if (MD_UNLIKELY(count == cap)) {
            /* A number takes 2 bytes at least, with its separator. */
            size_t want = cap == 0 ? PACKED_MIN : cap * 2;
            size_t most = count + (size_t)(end - e) / 2 + 1;
            double *grown;

            if (want > most)
                want = most;
            /* In place while the arena's chunk has room: no copy. */
            grown = md_arena_grow(ps->a, v, cap * sizeof(*v), want * sizeof(*grown));
            if (grown == NULL) {
                *no_memory = true;
                return NULL;
            }
            v = grown;
            cap = want;
        }
        v[count++] = x;
        p = skip_ws(e, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            if (MD_UNLIKELY(try_parallel) && (size_t)(p - first) >= PAR_SERIAL_BYTES) {
                const unsigned char *close = NULL;
                enum par_result r = packed_parallel(ps, p, &v, &count, &cap, &n_null, &close);

                try_parallel = false;
                if (r == PAR_NO_MEMORY) {
                    *no_memory = true;
                    return NULL;
                }
                if (r == PAR_DONE) {
                    p = close;
                    break;
                }
            }
            continue;
        }
        if (p < end && *p == ']')
            break;
        return NULL;
    }
    n->type = MD_J_ARRAY;
    n->p = (const char *)first;
    n->len = (size_t)(p - first);
    n->n = count;
    n->values = v;
    n->n_null = n_null;
    return p + 1;
}

bool md_jdom_is_packed(const struct md_jnode *n)
{
    return n != NULL && n->type == MD_J_ARRAY && n->values != NULL;
}

bool md_jdom_packed_next(const struct md_jnode *arr, const char **cursor, struct md_jnode *num)
{
    const unsigned char *end;
    const unsigned char *p;
    const unsigned char *e;

    if (!md_jdom_is_packed(arr))
        return false;
    end = (const unsigned char *)arr->p + arr->len;
    p = (const unsigned char *)(*cursor != NULL ? *cursor : arr->p);
    while (p < end && (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    if (p >= end)
        return false;
    memset(num, 0, sizeof(*num));
    if (arr->n_null > 0 && has_word(p, end, "null", 4)) {
        num->type = MD_J_NULL;
        *cursor = (const char *)p + 4;
        return true;
    }
    if (*p == 'N' || *p == 'I' || (*p == '-' && p + 1 < end && p[1] == 'I')) {
        double x;

        /* Only an array scanned with MD_JDOM_PACKED_NANINF holds one. */
        e = nan_inf_token(p, end, &x);
    } else {
        e = number_end(p, end, NULL);
    }
    if (e == NULL)
        return false;
    num->type = MD_J_NUMBER;
    num->p = (const char *)p;
    num->len = (size_t)(e - p);
    *cursor = (const char *)e;
    return true;
}

/*
 * md_jdom_packed_f32 splits arrays of F32_PARALLEL elements or more into parts
 * of at least F32_PART; smaller ones run on the caller's thread.
 */
#define F32_PARALLEL 65536
#define F32_PART     16384

/* One run of md_jdom_packed_f32's elements. */
struct f32_part {
    const double *v;
    float *out;
    uint8_t *missing;
    size_t n;
    bool odd; /* a NaN or infinity that is not a null came out: a failure to find */
};

/* to_f32's one element: its float into out[i]; whether it is odd (see below). */
static inline unsigned to_f32_one(const double *v, float *out, uint8_t *missing, size_t i)
{
    float f = (float)v[i];
    uint32_t b;
    uint64_t d;
    unsigned null;

    memcpy(&b, &f, sizeof(b));
    memcpy(&d, &v[i], sizeof(d));
    null = d == NULL_NAN_BITS;
    out[i] = f;
    if (missing != NULL)
        missing[i] |= (uint8_t)null;
    return ((b & 0x7f800000u) == 0x7f800000u) & !null;
}

/*
 * v[0..n) as floats into out, nulls into missing when not NULL; returns
 * whether a NaN or infinity came out that is not a null (a token, or a
 * number beyond the double or the float range), which the caller then
 * looks into. Eight
 * at a time: when none of the eight floats is a NaN or an infinity (no null,
 * nothing odd), they are stored as they are; else the eight go one by one.
 */
static bool to_f32(const double *v, float *out, uint8_t *missing, size_t n)
{
    const md_u32x4 exp_mask = {0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u};
    unsigned odd = 0;
    size_t i = 0;
    size_t k;

    for (; i + 8 <= n; i += 8) {
        md_f64x4 d0;
        md_f64x4 d1;
        md_f32x4 f0;
        md_f32x4 f1;
        md_u32x4 e;
        uint64_t any[2];

        memcpy(&d0, v + i, sizeof(d0));
        memcpy(&d1, v + i + 4, sizeof(d1));
        f0 = __builtin_convertvector(d0, md_f32x4);
        f1 = __builtin_convertvector(d1, md_f32x4);
        e = (((md_u32x4)f0 & exp_mask) == exp_mask) | (((md_u32x4)f1 & exp_mask) == exp_mask);
        memcpy(any, &e, sizeof(any));
        if (MD_LIKELY((any[0] | any[1]) == 0)) {
            memcpy(out + i, &f0, sizeof(f0));
            memcpy(out + i + 4, &f1, sizeof(f1));
            continue;
        }
        for (k = i; k < i + 8; k++)
            odd |= to_f32_one(v, out, missing, k);
    }
    for (; i < n; i++)
        odd |= to_f32_one(v, out, missing, i);
    return odd != 0;
}

static void f32_part_run(void *arg)
{
    struct f32_part *p = arg;

    p->odd = to_f32(p->v, p->out, p->missing, p->n);
}

int md_jdom_packed_f32(const struct md_jnode *arr, float *out, uint8_t *missing, size_t *bad)
{
    struct f32_part parts[64];
    const double *v;
    size_t k = 0;
    bool odd = false;
    size_t i;

    *bad = 0;
    if (!md_jdom_is_packed(arr))
        return MD_EINVAL;
    v = arr->values;
    if (arr->n_null == 0)
        missing = NULL;
    if (arr->n >= F32_PARALLEL)
        k = md_parallel_parts(arr->n, F32_PART, 0, MD_ARRAY_LEN(parts));
    if (k >= 2) {
        size_t per = arr->n / k;

        for (i = 0; i < k; i++) {
            parts[i].v = v + i * per;
            parts[i].out = out + i * per;
            parts[i].missing = missing != NULL ? missing + i * per : NULL;
            parts[i].n = i + 1 == k ? arr->n - i * per : per;
        }
        md_run_parallel(parts, k, sizeof(parts[0]), 0, f32_part_run);
        for (i = 0; i < k; i++)
            odd |= parts[i].odd;
    } else {
        odd = to_f32(v, out, missing, arr->n);
    }
    if (MD_LIKELY(!odd))
        return MD_OK;
    /* Tokens are right; else NaN: beyond the double range; infinite: beyond the float range. */
    for (i = 0; i < arr->n && (isfinite(out[i]) || is_null_nan(v[i]) || is_token_value(v[i])); i++)
        continue;
    if (i == arr->n)
        return MD_OK;
    *bad = i;
    return MD_EINVAL;
}

int md_jdom_packed_f64(const struct md_jnode *arr, double *out, uint8_t *missing, size_t *bad)
{
    size_t i;

    *bad = 0;
    if (!md_jdom_is_packed(arr))
        return MD_EINVAL;
    for (i = 0; i < arr->n; i++) {
        if (MD_UNLIKELY(isnan(arr->values[i]))) {
            bool null = is_null_nan(arr->values[i]);

            if (!null && !is_token_value(arr->values[i])) {
                *bad = i;
                return MD_EINVAL;
            }
            if (missing != NULL && null)
                missing[i] = 1;
        }
        out[i] = arr->values[i];
    }
    return MD_OK;
}

bool md_jdom_packed_null(const struct md_jnode *arr, size_t i)
{
    return md_jdom_is_packed(arr) && i < arr->n && arr->n_null > 0 && is_null_nan(arr->values[i]);
}
