/* SPDX-License-Identifier: MIT */
/*
 * sha256.c: SHA-256 through OpenSSL's EVP interface, in hex.
 */
#include "util/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

static void to_hex(const unsigned char *d, unsigned n, char hex[MD_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n && i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * i] = '\0';
}

int md_sha256_init(struct md_sha256 *h, struct md_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    h->ctx = NULL;
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return md_err_set(err, MD_EINTERNAL, "cannot start a SHA-256 digest");
    }
    h->ctx = ctx;
    return MD_OK;
}

void md_sha256_update(struct md_sha256 *h, const void *p, size_t n)
{
    (void)EVP_DigestUpdate(h->ctx, p, n); /* cannot fail for SHA-256 in memory */
}

void md_sha256_final(struct md_sha256 *h, char hex[MD_SHA256_HEX])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    if (EVP_DigestFinal_ex(h->ctx, d, &n) != 1)
        n = 0;
    to_hex(d, n, hex);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void md_sha256_abort(struct md_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void md_sha256_hex(const void *p, size_t n, char hex[MD_SHA256_HEX])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dn = 0;

    if (EVP_Digest(p, n, d, &dn, EVP_sha256(), NULL) != 1)
        dn = 0;
    to_hex(d, dn, hex);
}

int md_sha256_file(const char *path, char hex[MD_SHA256_HEX], int64_t *size, struct md_err *err)
{
    unsigned char buf[65536];
    struct md_sha256 h;
    int64_t total = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
    rc = md_sha256_init(&h, err);
    if (rc != MD_OK) {
        close(fd);
        return rc;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = md_err_set(err, MD_EIO, "%s: %s", path, strerror(errno));
            md_sha256_abort(&h);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        md_sha256_update(&h, buf, (size_t)n);
        total += n;
    }
    close(fd);
    md_sha256_final(&h, hex);
    if (size != NULL)
        *size = total;
    return MD_OK;
}
