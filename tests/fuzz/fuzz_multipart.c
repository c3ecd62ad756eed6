/* SPDX-License-Identifier: MIT */
/*
 * fuzz_multipart.c: libFuzzer target for the streaming multipart/form-data
 * parser (util/multipart.h). The input is a byte choosing how to cut the
 * body, a Content-Type header value up to the first '\n' (its boundary is
 * taken with md_multipart_boundary), then the body. The body is parsed
 * whole, then again in chunks of the sizes the first byte picks (a byte at
 * a time included): both parses must end alike (code and message) and
 * make the same calls with the same bytes, however they were cut. A part's
 * name is never empty, no more data arrives than the body holds, an error
 * always has a message and stays.
 */
#include "util/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one parse saw, independent of how its data was cut. */
struct seen {
    uint64_t hash;   /* FNV-1a over the calls and every data byte */
    size_t bytes;    /* data bytes */
    size_t parts;    /* begin calls */
    size_t ends;     /* end calls */
    bool in_part;    /* begun and not ended */
    size_t max_head; /* the limit, for the check of the names' length */
};

static void mix(struct seen *s, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        s->hash ^= b[i];
        s->hash *= 1099511628211u;
    }
}

static int on_begin(void *ctx, const struct md_multipart_part *part, struct md_err *err)
{
    struct seen *s = ctx;

    MD_UNUSED(err);
    if (part->name == NULL || part->name[0] == '\0' || strlen(part->name) > s->max_head ||
        s->in_part || part->index != s->parts + 1)
        abort();
    s->parts++;
    s->in_part = true;
    mix(s, "B", 1);
    mix(s, part->name, strlen(part->name) + 1);
    if (part->filename != NULL)
        mix(s, part->filename, strlen(part->filename) + 1);
    if (part->content_type != NULL)
        mix(s, part->content_type, strlen(part->content_type) + 1);
    /* A name that asks for it makes the handler refuse: the refusal must stick. */
    if (strcmp(part->name, "refuse") == 0)
        return md_err_set(err, MD_ETOOBIG, "refused");
    return MD_OK;
}

static int on_data(void *ctx, const char *p, size_t n, struct md_err *err)
{
    struct seen *s = ctx;

    MD_UNUSED(err);
    if (n == 0 || !s->in_part)
        abort();
    s->bytes += n;
    mix(s, p, n);
    return MD_OK;
}

static int on_end(void *ctx, struct md_err *err)
{
    struct seen *s = ctx;

    MD_UNUSED(err);
    if (!s->in_part)
        abort();
    s->in_part = false;
    s->ends++;
    mix(s, "E", 1);
    return MD_OK;
}

static const struct md_multipart_handler handler = {on_begin, on_data, on_end};

/* Parses body in chunks cut by pick (0: whole); the outcome's code, message and calls. */
static int parse(struct md_multipart *mp, const char *boundary, const char *body, size_t n,
                 uint8_t pick, struct seen *s, struct md_err *err)
{
    static const size_t sizes[] = {1, 2, 3, 7, 64, 4096};
    size_t head = 1 + (size_t)(pick >> 4) * 64;
    size_t at = 0;
    size_t k = 0;
    int rc;

    memset(s, 0, sizeof(*s));
    s->hash = 14695981039346656037u;
    s->max_head = head;
    if (md_multipart_init(mp, boundary, head, 1 + (pick & 7), &handler, s, err) != MD_OK)
        abort();
    rc = MD_OK;
    while (at < n && rc == MD_OK) {
        size_t c = pick & 8 ? sizes[k++ % MD_ARRAY_LEN(sizes)] : n - at;

        if (c > n - at)
            c = n - at;
        rc = md_multipart_feed(mp, body + at, c, err);
        at += c;
    }
    if (rc == MD_OK)
        rc = md_multipart_finish(mp, err);
    if (rc != MD_OK) {
        struct md_err again;

        if (err->msg[0] == '\0' || strlen(err->msg) >= sizeof(err->msg) ||
            md_multipart_feed(mp, "x", 1, &again) != rc || strcmp(again.msg, err->msg) != 0)
            abort();
    }
    if (s->bytes > n || s->parts > md_multipart_parts(mp))
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char boundary[MD_MULTIPART_BOUNDARY_MAX + 1];
    char ct[1100];
    struct md_multipart *mp;
    struct md_err e1;
    struct md_err e2;
    struct seen s1;
    struct seen s2;
    const char *body;
    const char *nl;
    size_t n;
    int r1;
    int r2;

    if (size < 2 || size > (1 << 20))
        return 0;
    nl = memchr(data + 1, '\n', size - 1);
    if (nl == NULL || (size_t)(nl - (const char *)data - 1) >= sizeof(ct))
        return 0;
    memcpy(ct, data + 1, (size_t)(nl - (const char *)data - 1));
    ct[nl - (const char *)data - 1] = '\0';
    if (md_multipart_boundary(ct, boundary, &e1) != MD_OK) {
        if (e1.msg[0] == '\0' || e1.code != MD_EINVAL)
            abort();
        return 0;
    }
    if (boundary[0] == '\0' || strlen(boundary) > MD_MULTIPART_BOUNDARY_MAX)
        abort();
    body = nl + 1;
    n = size - (size_t)(body - (const char *)data);
    mp = malloc(sizeof(*mp));
    if (mp == NULL)
        return 0;
    /* The same limits, cut whole and cut as the first byte says. */
    r1 = parse(mp, boundary, body, n, (uint8_t)(data[0] & ~8), &s1, &e1);
    r2 = parse(mp, boundary, body, n, (uint8_t)(data[0] | 8), &s2, &e2);
    if (r1 != r2 || s1.hash != s2.hash || s1.bytes != s2.bytes || s1.parts != s2.parts ||
        s1.ends != s2.ends || (r1 != MD_OK && strcmp(e1.msg, e2.msg) != 0))
        abort();
    /* A body that parses ended every part it began. */
    if (r1 == MD_OK && s1.in_part)
        abort();
    free(mp);
    return 0;
}
