/* SPDX-License-Identifier: MIT */
/*
 * artifact.c: reading an artifact, and what every engine checks of one
 * before reading it in its own format: a Python pickle (or a joblib file,
 * pickles inside) is refused, never loaded, since unpickling runs whatever
 * code the file names.
 */
#include "backend/backend.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest artifact read whole. */
#define MAX_FILE_BYTES ((off_t)1 << 30)

/* Whether name ends with suffix, letters in any case. */
static bool ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name);
    size_t k = strlen(suffix);

    return n >= k && strcasecmp(name + n - k, suffix) == 0;
}

bool md_backend_is_pickle(const char *path, const char *head, size_t len)
{
    /* Protocols 2 to 5 open with PROTO (0x80) and the protocol number. */
    if (len >= 2 && (unsigned char)head[0] == 0x80 && head[1] >= 2 && head[1] <= 5)
        return true;
    return ends_with(path, ".pkl") || ends_with(path, ".pickle") || ends_with(path, ".joblib");
}

int md_backend_refuse_pickle(const char *path, const char *head, size_t len, const char *export,
                             struct md_err *err)
{
    const char *base = strrchr(path, '/');

    if (!md_backend_is_pickle(path, head, len))
        return MD_OK;
    return md_err_set(err, MD_EUNSUPPORTED,
                      "'%.60s' is a Python pickle: pickles are never loaded (loading one runs "
                      "code); %s",
                      base != NULL ? base + 1 : path, export);
}

int md_backend_read_artifact(const char *path, char **out, size_t *len, struct md_err *err)
{
    char ebuf[128];
    struct stat st;
    char *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return md_err_set(err, MD_EIO, "cannot open '%s': %s", path,
                          strerror_r(errno, ebuf, sizeof(ebuf)));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return md_err_set(err, MD_EIO, "cannot read '%s': not a regular file", path);
    }
    if (st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return md_err_set(err, MD_EUNSUPPORTED, "'%s': %lld bytes is above the 1 GiB limit", path,
                          (long long)st.st_size);
    }
    buf = md_malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return md_err_set(err, MD_ENOMEM, "no memory to read '%s'", path);
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            free(buf);
            return md_err_set(err, MD_EIO, "cannot read '%s': %s", path,
                              strerror_r(e, ebuf, sizeof(ebuf)));
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return MD_OK;
}
