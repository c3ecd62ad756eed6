/* SPDX-License-Identifier: MIT */
/*
 * artifact.c: reading an artifact, and what every engine checks of one
 * before reading it in its own format: a Python pickle (or a joblib file,
 * pickles inside) is refused, never loaded, since unpickling runs whatever
 * code the file names.
 */
#include "backend/backend.h"
#include "util/sys.h"

#include <strings.h>

/* The largest artifact read whole. */
#define MAX_FILE_BYTES ((size_t)1 << 30)

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
    struct md_read_fail f;

    if (md_read_file(path, MAX_FILE_BYTES, out, len, &f, err) == MD_OK)
        return MD_OK;
    switch (f.why) {
    case MD_READ_OPEN:
        return md_err_set(err, MD_EIO, "cannot open '%s': %s", path,
                          strerror_r(f.errnum, ebuf, sizeof(ebuf)));
    case MD_READ_STAT:
    case MD_READ_DIR:
    case MD_READ_SPECIAL:
        return md_err_set(err, MD_EIO, "cannot read '%s': not a regular file", path);
    case MD_READ_TOO_BIG:
        return md_err_set(err, MD_EUNSUPPORTED, "'%s': %llu bytes is above the 1 GiB limit", path,
                          (unsigned long long)f.size);
    case MD_READ_NOMEM:
        return md_err_set(err, MD_ENOMEM, "no memory to read '%s'", path);
    case MD_READ_IO:
        break;
    }
    return md_err_set(err, MD_EIO, "cannot read '%s': %s", path,
                      strerror_r(f.errnum, ebuf, sizeof(ebuf)));
}
