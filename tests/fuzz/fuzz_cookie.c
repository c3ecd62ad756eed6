/* SPDX-License-Identifier: MIT */
/*
 * fuzz_cookie.c: a cookie request's headers (api/session.c): any Cookie
 * header parsed for the session id, which when found is the hex of the
 * bytes decoded, found again in the header; the same bytes read as an
 * Origin against a fixed Host and as an X-CSRF-Token against a fixed
 * token, which only that token itself matches.
 */
#include "api/session.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CSRF "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char id[MD_SESSION_ID_BYTES];
    char *h;

    if (size > 8192)
        return 0;
    h = malloc(size + 1);
    if (h == NULL)
        return 0;
    memcpy(h, data, size);
    h[size] = '\0';
    if (md_session_cookie(h, id)) {
        static const char digits[] = "0123456789abcdef";
        char hex[MD_SESSION_ID_HEX + 1];

        for (size_t i = 0; i < MD_SESSION_ID_BYTES; i++) {
            hex[2 * i] = digits[id[i] >> 4];
            hex[2 * i + 1] = digits[id[i] & 15];
        }
        hex[MD_SESSION_ID_HEX] = '\0';
        assert(strcasestr(h, hex) != NULL);
        assert(strstr(h, MD_SESSION_COOKIE) != NULL);
    }
    if (md_session_origin_ok(h, "127.0.0.1:8080"))
        assert(strcasestr(h, "://127.0.0.1:8080") != NULL);
    assert(md_session_csrf_ok(CSRF, h) == (strcmp(h, CSRF) == 0));
    free(h);
    return 0;
}
