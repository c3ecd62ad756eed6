/* SPDX-License-Identifier: MIT */
/*
 * fuzz_head.c: the header-field checks (net/head.h) on arbitrary header
 * blocks, split as libmicrohttpd 0.9.75 splits them. The first byte picks
 * HTTP/1.0 or 1.1.
 */
#include "net/head.h"
#include "../unit/mhd_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mhd_field f[256];
    struct md_head hd;
    size_t len;
    size_t cap;
    char *buf;
    int n;
    int i;

    if (size == 0 || size > 65536)
        return 0;
    /* The block, an empty line to end it, then room for moved names. */
    len = size - 1 + 4;
    cap = 2 * len + 16;
    buf = malloc(cap);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    memcpy(buf + size - 1, "\r\n\r\n", 4);
    n = mhd_split(buf, len, cap, f, 256);
    md_head_init(&hd);
    for (i = 0; i < n; i++)
        md_head_field(&hd, f[i].name, f[i].name_len, f[i].value, f[i].value_len);
    if (md_head_finish(&hd, data[0] & 1) != MD_OK && hd.code != MD_EINVAL &&
        hd.code != MD_EUNSUPPORTED)
        abort();
    if (hd.code != MD_OK && (hd.msg[0] == '\0' || strlen(hd.msg) >= sizeof(hd.msg)))
        abort();
    free(buf);
    return 0;
}
