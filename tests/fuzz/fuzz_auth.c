/* SPDX-License-Identifier: MIT */
/*
 * fuzz_auth.c: an arbitrary Authorization header against a table of one
 * admin token (api/auth.c): it is admitted only when it is that token's
 * secret after "Bearer", else refused with 401 and one of the fixed
 * messages, which hold nothing of the header.
 */
#include "api/auth.h"
#include "api/api.h"
#include "api/token.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/sha256.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "mdt_00000000000000000000000000000000000000000000000000000000000000ff"

static const char *header(void *conn, const char *name)
{
    return strcmp(name, "Authorization") == 0 ? conn : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_auth auth;
    static bool ready;
    static struct md_arena arena;
    struct md_api_req req;
    const struct md_principal *p = NULL;
    struct md_err err;
    char retry[16] = "";
    char *h;
    int rc;

    if (!ready) {
        char hex[MD_SHA256_HEX];
        struct md_store_token row = {1, "root", hex, "admin", NULL, 0, 0, 1, "fuzz", 0, 0, 0};
        struct md_token_table *t = NULL;

        md_sha256_hex(SECRET, strlen(SECRET), hex);
        if (md_auth_tokens_make(&row, 1, &t, &err) != MD_OK)
            abort();
        auth.enabled = true;
        md_auth_tokens_publish(&auth, t);
        md_arena_init(&arena, 1 << 16);
        ready = true;
    }
    if (size > 4096)
        return 0;
    h = malloc(size + 1);
    if (h == NULL)
        return 0;
    memcpy(h, data, size);
    h[size] = '\0';
    memset(&req, 0, sizeof(req));
    req.header = header;
    req.conn = h;
    req.arena = &arena;
    rc = md_auth_principal(&auth, &req, false, true, &p, retry, &err);
    if (rc == MD_OK) {
        /* Only the secret itself: "Bearer", blanks, the secret, blanks. */
        if (strstr(h, SECRET) == NULL || strcmp(p->name, "root") != 0)
            abort();
    } else if (rc != MD_EAUTH || (strncmp(err.msg, "authorization: ", 15) != 0 &&
                                  strcmp(err.msg, "bearer token: unknown") != 0)) {
        /* A refusal is one of the fixed messages: nothing of the header in it. */
        abort();
    }
    md_arena_reset(&arena);
    free(h);
    return 0;
}
