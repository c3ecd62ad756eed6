/* SPDX-License-Identifier: MIT */
/*
 * ubjson.c: UBJSON into util/jdom's node tree (see ubjson.h).
 *
 * A recursive descent over the bytes, one function per construct, depth
 * bounded by MD_JDOM_MAX_DEPTH so that hostile nesting cannot exhaust the C
 * stack. Every length and count is checked against the bytes left before
 * anything is allocated for it, so a file can make the parser allocate at
 * most a bounded multiple of its own size (and no more than the arena's
 * maximum).
 */
#include "util/ubjson.h"

#include <inttypes.h>
#include <math.h>

struct ub {
    const unsigned char *start; /* the document */
    const unsigned char *p;     /* next byte to read */
    const unsigned char *end;
    struct md_arena *a;
    struct md_err *err;
};

/* Both return their code as a constant, so that static analysis sees an error is not MD_OK. */
static int bad(struct ub *u, const char *what)
{
    md_err_set(u->err, MD_EINVAL, "invalid UBJSON at byte %zu: %s", (size_t)(u->p - u->start),
               what);
    return MD_EINVAL;
}

static int no_memory(struct ub *u)
{
    md_err_set(u->err, MD_ETOOBIG, "UBJSON document too large at byte %zu",
               (size_t)(u->p - u->start));
    return MD_ETOOBIG;
}

static size_t left(const struct ub *u)
{
    return (size_t)(u->end - u->p);
}

/* Bytes of a number of type marker m, or 0 when m is not a number. */
static size_t num_size(int m)
{
    switch (m) {
    case 'i':
    case 'U':
        return 1;
    case 'I':
        return 2;
    case 'l':
    case 'd':
        return 4;
    case 'L':
    case 'D':
        return 8;
    default:
        return 0;
    }
}

/* The big-endian unsigned integer of n bytes at p. */
static uint64_t be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The integer of type m (i, U, I, l or L; num_size(m) bytes at p). */
static int64_t int_value(int m, const unsigned char *p)
{
    uint64_t v = be(p, num_size(m));

    switch (m) {
    case 'i':
        return (int8_t)v;
    case 'U':
        return (uint8_t)v;
    case 'I':
        return (int16_t)v;
    case 'l':
        return (int32_t)v;
    default: /* 'L' */
        return (int64_t)v;
    }
}

/* The number of type m (num_size(m) bytes at p) as a double. */
static double num_value(int m, const unsigned char *p)
{
    uint64_t v = be(p, num_size(m));
    uint32_t w = (uint32_t)v;
    float f;
    double d;

    if (m == 'd') {
        memcpy(&f, &w, sizeof(f));
        return (double)f;
    }
    if (m == 'D') {
        memcpy(&d, &v, sizeof(d));
        return d;
    }
    return (double)int_value(m, p);
}

/* A length or a count (an integer, not negative) into *out; what says what is wrong otherwise. */
static int read_length(struct ub *u, const char *what, uint64_t *out)
{
    int m;
    size_t n;
    int64_t s;

    if (left(u) == 0)
        return bad(u, "the document ends before a length");
    m = *u->p;
    n = num_size(m);
    if (n == 0 || m == 'd' || m == 'D')
        return bad(u, what);
    if (left(u) < 1 + n)
        return bad(u, "the document ends inside a length");
    s = int_value(m, u->p + 1);
    if (s < 0)
        return bad(u, "a negative length or count");
    u->p += 1 + n;
    *out = (uint64_t)s;
    return MD_OK;
}

/* Whether buf[0..n) is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        unsigned lo = 0x80;
        unsigned hi = 0xbf;
        size_t k;
        size_t j;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 3;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 4;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return false;
        }
        if (n - i < k || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (j = 2; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        i += k;
    }
    return true;
}

/* A length and that many UTF-8 bytes: a string's or a key's. */
static int read_text(struct ub *u, const char *what, const char **p, size_t *len)
{
    uint64_t n;
    int rc = read_length(u, what, &n);

    if (rc != MD_OK)
        return rc;
    if (n > left(u))
        return bad(u, "a string longer than the bytes left");
    if (!utf8_ok(u->p, (size_t)n))
        return bad(u, "a string that is not UTF-8");
    *p = (const char *)u->p;
    *len = (size_t)n;
    u->p += n;
    return MD_OK;
}

static struct md_jnode *new_node(struct ub *u, enum md_jtype t)
{
    struct md_jnode *n = md_arena_calloc(u->a, 1, sizeof(*n));

    if (n != NULL)
        n->type = t;
    return n;
}

/* A NUMBER node for the number of marker m at at, with text that converts back to it exactly. */
static int number(struct ub *u, int m, const unsigned char *at, struct md_jnode **out)
{
    char text[32];
    int len;
    struct md_jnode *n;

    if (m == 'd' || m == 'D') {
        double v = num_value(m, at);

        if (isnan(v))
            len = snprintf(text, sizeof(text), "NaN");
        else if (isinf(v))
            len = snprintf(text, sizeof(text), "%sInfinity", v < 0 ? "-" : "");
        else
            len = snprintf(text, sizeof(text), "%.17g", v);
    } else {
        len = snprintf(text, sizeof(text), "%" PRId64, int_value(m, at));
    }
    n = new_node(u, MD_J_NUMBER);
    if (n == NULL || len <= 0 || (size_t)len >= sizeof(text))
        return no_memory(u);
    n->p = md_arena_strndup(u->a, text, (size_t)len);
    if (n->p == NULL)
        return no_memory(u);
    n->len = (size_t)len;
    *out = n;
    return MD_OK;
}

static int value(struct ub *u, int m, int depth, struct md_jnode **out);

/* Appends child to parent's list, whose last node is *last. */
static void append(struct md_jnode *parent, struct md_jnode **last, struct md_jnode *child)
{
    if (*last == NULL)
        parent->child = child;
    else
        (*last)->next = child;
    *last = child;
    parent->n++;
}

/* The values of a typed array of numbers of marker m, count n: a packed array. */
static int typed_numbers(struct ub *u, int m, uint64_t n, struct md_jnode *arr)
{
    size_t size = num_size(m);
    double *values;
    size_t i;

    if (n > left(u) / size)
        return bad(u, "a typed array longer than the bytes left");
    if (n == 0)
        return MD_OK; /* an empty array, as jdom leaves them */
    values = md_arena_alloc(u->a, (size_t)n * sizeof(*values));
    if (values == NULL)
        return no_memory(u);
    for (i = 0; i < (size_t)n; i++, u->p += size)
        values[i] = num_value(m, u->p);
    arr->values = values;
    arr->n = (size_t)n;
    return MD_OK;
}

/* An array, after its '['. */
static int array(struct ub *u, int depth, struct md_jnode **out)
{
    struct md_jnode *arr = new_node(u, MD_J_ARRAY);
    struct md_jnode *last = NULL;
    uint64_t count;
    uint64_t i;
    int rc;

    if (arr == NULL)
        return no_memory(u);
    *out = arr;
    if (left(u) >= 2 && u->p[0] == '$') {
        int m = u->p[1];

        if (num_size(m) == 0)
            return bad(u, "a typed array of something other than numbers");
        u->p += 2;
        if (left(u) == 0 || *u->p != '#')
            return bad(u, "a typed array without a count");
        u->p++;
        rc = read_length(u, "a count that is not an integer", &count);
        return rc != MD_OK ? rc : typed_numbers(u, m, count, arr);
    }
    if (left(u) >= 1 && u->p[0] == '#') {
        u->p++;
        rc = read_length(u, "a count that is not an integer", &count);
        if (rc != MD_OK)
            return rc;
        /* Every value takes a byte at least. */
        if (count > left(u))
            return bad(u, "an array count beyond the bytes left");
        for (i = 0; i < count; i++) {
            struct md_jnode *v;

            if (left(u) == 0)
                return bad(u, "the document ends inside an array");
            u->p++;
            rc = value(u, u->p[-1], depth + 1, &v);
            if (rc != MD_OK)
                return rc;
            append(arr, &last, v);
        }
        return MD_OK;
    }
    for (;;) {
        struct md_jnode *v;

        if (left(u) == 0)
            return bad(u, "the document ends inside an array");
        u->p++;
        if (u->p[-1] == ']')
            return MD_OK;
        rc = value(u, u->p[-1], depth + 1, &v);
        if (rc != MD_OK)
            return rc;
        append(arr, &last, v);
    }
}

/* An object, after its '{'. */
static int object(struct ub *u, int depth, struct md_jnode **out)
{
    struct md_jnode *obj = new_node(u, MD_J_OBJECT);
    struct md_jnode *last = NULL;

    if (obj == NULL)
        return no_memory(u);
    *out = obj;
    if (left(u) >= 1 && (u->p[0] == '$' || u->p[0] == '#'))
        return bad(u, "an optimized object ($ or # after {)");
    for (;;) {
        struct md_jnode *v;
        const char *key;
        size_t klen;
        int rc;

        if (left(u) == 0)
            return bad(u, "the document ends inside an object");
        if (*u->p == '}') {
            u->p++;
            return MD_OK;
        }
        rc = read_text(u, "a key length that is not an integer", &key, &klen);
        if (rc != MD_OK)
            return rc;
        if (klen > UINT32_MAX)
            return bad(u, "a key of 4 GiB or more");
        if (left(u) == 0)
            return bad(u, "the document ends before a value");
        u->p++;
        rc = value(u, u->p[-1], depth + 1, &v);
        if (rc != MD_OK)
            return rc;
        v->key = key;
        v->key_len = (uint32_t)klen;
        append(obj, &last, v);
    }
}

/* The value of marker m, whose marker byte is read. */
static int value(struct ub *u, int m, int depth, struct md_jnode **out)
{
    size_t size = num_size(m);
    struct md_jnode *n;

    if (size > 0) {
        if (left(u) < size)
            return bad(u, "the document ends inside a number");
        u->p += size;
        return number(u, m, u->p - size, out);
    }
    switch (m) {
    case 'Z':
    case 'T':
    case 'F':
        n = new_node(u, m == 'Z' ? MD_J_NULL : m == 'T' ? MD_J_TRUE : MD_J_FALSE);
        if (n == NULL)
            return no_memory(u);
        *out = n;
        return MD_OK;
    case 'S':
        n = new_node(u, MD_J_STRING);
        if (n == NULL)
            return no_memory(u);
        *out = n;
        return read_text(u, "a string length that is not an integer", &n->p, &n->len);
    case 'C':
        if (left(u) == 0 || *u->p >= 0x80)
            return bad(u, "a character that is not ASCII");
        n = new_node(u, MD_J_STRING);
        if (n == NULL)
            return no_memory(u);
        n->p = (const char *)u->p++;
        n->len = 1;
        *out = n;
        return MD_OK;
    case '[':
    case '{':
        if (depth >= MD_JDOM_MAX_DEPTH)
            return bad(u, "nesting deeper than 100");
        return m == '[' ? array(u, depth, out) : object(u, depth, out);
    case 'N':
        u->p--;
        return bad(u, "the no-op marker N is not supported");
    case 'H':
        u->p--;
        return bad(u, "high-precision numbers (H) are not supported");
    default:
        u->p--;
        return bad(u, "not a UBJSON type marker");
    }
}

int md_ubjson_parse(const char *buf, size_t len, struct md_arena *a, struct md_jnode **root,
                    struct md_err *err)
{
    struct ub u;
    int rc;

    u.start = (const unsigned char *)buf;
    u.p = u.start;
    u.end = u.start + len;
    u.a = a;
    u.err = err;
    *root = NULL;
    if (len == 0)
        return bad(&u, "empty");
    u.p++;
    rc = value(&u, buf[0] & 0xff, 0, root);
    if (rc != MD_OK) {
        *root = NULL;
        return rc;
    }
    if (u.p != u.end) {
        *root = NULL;
        return bad(&u, "bytes after the document");
    }
    return MD_OK;
}
