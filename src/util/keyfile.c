/* SPDX-License-Identifier: MIT */
/*
 * keyfile.c: secrets read from files no one else may read (keyfile.h).
 */
#include "util/keyfile.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether gid is the process's group or one of its supplementary groups. */
static bool own_group(gid_t gid)
{
    gid_t groups[256];
    int n;

    if (gid == getegid())
        return true;
    n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return true;
    return false;
}

int md_keyfile_check(const char *path, struct md_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return md_err_set(err, errno == ENOENT ? MD_ENOTFOUND : MD_EINVAL, "key file %s: %s", path,
                          strerror(errno));
    if (!S_ISREG(st.st_mode))
        return md_err_set(err, MD_EINVAL, "key file %s: not a regular file", path);
    if ((st.st_mode & 0137) != 0)
        return md_err_set(err, MD_EINVAL,
                          "key file %s has mode %04o: other users may read or write it (allowed: "
                          "0600, or 0640 for a group); run chmod 600 %s",
                          path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_uid != geteuid() && st.st_uid != 0)
        return md_err_set(err, MD_EINVAL,
                          "key file %s belongs to user %u, not to this process's user %u or root",
                          path, (unsigned)st.st_uid, (unsigned)geteuid());
    if ((st.st_mode & 0040) != 0 && !own_group(st.st_gid))
        return md_err_set(err, MD_EINVAL,
                          "key file %s has mode %04o and group %u, not one of this process's "
                          "groups: its members may read it; run chmod 600 %s",
                          path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid, path);
    return MD_OK;
}

int md_keyfile_read(const char *path, size_t max, char **out, size_t *len, struct md_err *err)
{
    int rc = md_keyfile_check(path, err);
    int fd;
    char *buf;
    size_t n = 0;

    *out = NULL;
    *len = 0;
    if (rc != MD_OK)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return md_err_set(err, MD_EINVAL, "key file %s: %s", path, strerror(errno));
    buf = md_xmalloc(max + 1);
    for (;;) {
        ssize_t got = read(fd, buf + n, max + 1 - n);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = md_err_set(err, MD_EINVAL, "key file %s: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > max) {
            rc = md_err_set(err, MD_EINVAL, "key file %s: longer than %zu bytes", path, max);
            break;
        }
    }
    (void)close(fd);
    while (rc == MD_OK && n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    if (rc == MD_OK && n == 0)
        rc = md_err_set(err, MD_EINVAL, "key file %s is empty", path);
    if (rc != MD_OK) {
        md_keyfile_free(buf, max + 1);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MD_OK;
}

void md_keyfile_free(char *key, size_t len)
{
    if (key == NULL)
        return;
    OPENSSL_cleanse(key, len);
    free(key);
}

int md_keyfile_write(const char *path, const char *text, size_t len, struct md_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t done = 0;
    int rc = MD_OK;

    if (fd < 0)
        return md_err_set(err, errno == EEXIST ? MD_ECONFLICT : MD_EINVAL, "key file %s: %s", path,
                          strerror(errno));
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = md_err_set(err, MD_EINVAL, "key file %s: %s", path, strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    if (rc == MD_OK && fsync(fd) != 0)
        rc = md_err_set(err, MD_EINVAL, "key file %s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == MD_OK)
        rc = md_err_set(err, MD_EINVAL, "key file %s: %s", path, strerror(errno));
    if (rc != MD_OK)
        (void)unlink(path);
    return rc;
}
