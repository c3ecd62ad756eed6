/* SPDX-License-Identifier: MIT */
/*
 * mhd_fields.h: a request's header block split into fields as
 * libmicrohttpd 0.9.75 does it (connection.c: get_next_header_line,
 * process_header_line, process_broken_line), for test_head.c and
 * fuzz_head.c: lines end at CRLF or a bare LF, both overwritten with NUL
 * bytes in place; the colon becomes a NUL; the value starts after spaces and
 * tabs; names and values are taken as C strings (so a NUL cuts them); a line
 * that starts with a space or tab is appended to the previous field's name
 * in a new place in the pool; the first empty line (or one starting with a
 * NUL) ends the block.
 */
#ifndef MD_TESTS_MHD_FIELDS_H
#define MD_TESTS_MHD_FIELDS_H

#include <string.h>

struct mhd_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/*
 * Splits buf[0..len) in place. The pool is buf[len..cap): moved names go
 * there, as in libmicrohttpd's connection pool (after the block's bytes).
 * Returns the number of fields (at most max), or -1 where libmicrohttpd
 * answers 400 itself (a line without a colon) or the block has no end.
 */
static int mhd_split(char *buf, size_t len, size_t cap, struct mhd_field *out, int max)
{
    size_t pos = 0;
    size_t pool = len;
    char *name = NULL; /* the field waiting for its next line (a fold may extend it) */
    char *value = NULL;
    int n = 0;

    for (;;) {
        size_t i = pos;
        char *line;

        while (i < len && buf[i] != '\n' && !(buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n'))
            i++;
        if (i >= len)
            return -1;
        line = buf + pos;
        if (buf[i] == '\r') {
            buf[i] = '\0';
            buf[i + 1] = '\0';
            pos = i + 2;
        } else {
            buf[i] = '\0';
            pos = i + 1;
        }
        if (name != NULL && (line[0] == ' ' || line[0] == '\t')) {
            /* A folded line: the name, then the line without its leading blanks. */
            size_t nl = strlen(name);
            const char *tmp = line;
            size_t tl;

            while (*tmp == ' ' || *tmp == '\t')
                tmp++;
            tl = strlen(tmp);
            if (pool + nl + tl + 1 > cap)
                return -1;
            memcpy(buf + pool, name, nl);
            memcpy(buf + pool + nl, tmp, tl + 1);
            name = buf + pool;
            pool += nl + tl + 1;
            continue;
        }
        if (name != NULL) {
            if (n >= max)
                return n;
            out[n].name = name;
            out[n].name_len = strlen(name);
            out[n].value = value;
            out[n].value_len = strlen(value);
            n++;
            name = NULL;
        }
        if (line[0] == '\0')
            return n;
        value = strchr(line, ':');
        if (value == NULL)
            return -1;
        *value++ = '\0';
        while (*value == ' ' || *value == '\t')
            value++;
        name = line;
    }
}

#endif
