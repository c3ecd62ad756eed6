/* SPDX-License-Identifier: MIT */
/*
 * scrub.c: erased rows removed from the training sets on disk (scrub.h).
 */
#include "learn/scrub.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ZERO_CHUNK 65536

/* The needles: for each row, the end of its line ("request_id":"...","row":N}), NUL
 * separated in one buffer; offsets into at[]. */
struct needles {
    struct md_buf text;
    size_t *at;
    size_t n;
};

static int needles_make(const struct md_scrub_row *rows, size_t n, struct needles *nd)
{
    md_buf_init(&nd->text, (size_t)1 << 30);
    nd->at = md_xcalloc(n > 0 ? n : 1, sizeof(*nd->at));
    nd->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].request_id == NULL)
            continue;
        nd->at[nd->n++] = nd->text.len;
        (void)md_buf_puts(&nd->text, "\"request_id\":");
        (void)md_buf_json_str(&nd->text, rows[i].request_id, strlen(rows[i].request_id));
        (void)md_buf_printf(&nd->text, ",\"row\":%lld}", (long long)rows[i].row);
        (void)md_buf_putc(&nd->text, '\0');
    }
    return md_buf_error(&nd->text);
}

static void needles_free(struct needles *nd)
{
    md_buf_release(&nd->text);
    free(nd->at);
}

/* Whether the line p[0..len) (without its newline) ends with one of the needles. */
static bool line_hit(const struct needles *nd, const char *p, size_t len)
{
    for (size_t i = 0; i < nd->n; i++) {
        const char *s = nd->text.data + nd->at[i];
        size_t k = strlen(s);

        if (len >= k && memcmp(p + len - k, s, k) == 0)
            return true;
    }
    return false;
}

/* Writes n bytes of p at offset off, whole. */
static int write_at(int fd, const char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Overwrites the first len bytes of fd with zeros and syncs. */
static int zero_file(int fd, size_t len)
{
    static const char zeros[ZERO_CHUNK];
    size_t done = 0;

    while (done < len) {
        size_t k = len - done < sizeof(zeros) ? len - done : sizeof(zeros);

        if (write_at(fd, zeros, k, (off_t)done) != 0)
            return -1;
        done += k;
    }
    return fdatasync(fd);
}

/* Zeroes the file at path in place and removes it. */
static int remove_whole(const char *path, struct md_err *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    off_t len;
    int rc = 0;

    if (fd < 0)
        return md_err_set(err, MD_EIO, "%s: cannot open: %s", path, strerror(errno));
    len = lseek(fd, 0, SEEK_END);
    if (len < 0 || zero_file(fd, (size_t)len) != 0)
        rc = -1;
    (void)close(fd);
    if (unlink(path) != 0 || rc != 0)
        return md_err_set(err, MD_EIO, "%s: cannot be removed: %s", path, strerror(errno));
    return MD_OK;
}

/* Scrubs one file; counts into out. */
static int scrub_file(const char *path, const struct needles *nd, struct md_scrub_counts *out,
                      struct md_err *err)
{
    struct md_read_fail fail;
    struct md_buf keep;
    char *data = NULL;
    size_t len = 0;
    size_t removed = 0;
    size_t at = 0;
    int fd;
    int rc;

    rc = md_read_file(path, MD_SCRUB_FILE_MAX, &data, &len, &fail, err);
    if (rc == MD_ETOOBIG) {
        out->files++;
        out->changed++;
        return remove_whole(path, err);
    }
    if (rc != MD_OK)
        return rc;
    out->files++;
    md_buf_init(&keep, MD_SCRUB_FILE_MAX);
    while (at < len) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t end = nl != NULL ? (size_t)(nl - data) : len;
        size_t next = nl != NULL ? end + 1 : len;

        if (line_hit(nd, data + at, end - at))
            removed++;
        else
            (void)md_buf_append(&keep, data + at, next - at);
        at = next;
    }
    rc = MD_OK;
    if (removed > 0) {
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || md_buf_error(&keep) != MD_OK || zero_file(fd, len) != 0 ||
            write_at(fd, keep.data != NULL ? keep.data : "", keep.len, 0) != 0 ||
            ftruncate(fd, (off_t)keep.len) != 0 || fdatasync(fd) != 0)
            rc = md_err_set(err, MD_EIO, "%s: cannot be rewritten: %s", path, strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        out->changed++;
        out->lines += removed;
    }
    md_buf_release(&keep);
    /* The copy in memory held the rows too. */
    memset(data, 0, len);
    __asm__ __volatile__("" : : "r"(data) : "memory");
    free(data);
    return rc;
}

int md_scrub_training_sets(const char *dir, const struct md_scrub_row *rows, size_t n,
                           struct md_scrub_counts *out, struct md_err *err)
{
    static const char *const names[] = {"train.jsonl", "holdout.jsonl"};
    struct needles nd;
    char top[PATH_MAX];
    struct dirent *de;
    DIR *d;
    int first = MD_OK;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return MD_OK;
    if (snprintf(top, sizeof(top), "%s/trainings", dir) >= (int)sizeof(top))
        return md_err_set(err, MD_EINVAL, "the data directory's path is too long");
    d = opendir(top);
    if (d == NULL)
        return errno == ENOENT
                   ? MD_OK
                   : md_err_set(err, MD_EIO, "%s: cannot open: %s", top, strerror(errno));
    if (needles_make(rows, n, &nd) != MD_OK) {
        needles_free(&nd);
        (void)closedir(d);
        return md_err_set(err, MD_ENOMEM, "the rows to scrub do not fit in memory");
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        for (size_t i = 0; i < MD_ARRAY_LEN(names); i++) {
            char path[PATH_MAX + 300];
            struct md_err e;
            int rc;

            (void)snprintf(path, sizeof(path), "%s/%s/%s", top, de->d_name, names[i]);
            if (access(path, F_OK) != 0)
                continue;
            md_err_clear(&e);
            rc = scrub_file(path, &nd, out, &e);
            if (rc != MD_OK && first == MD_OK) {
                first = rc;
                if (err != NULL)
                    *err = e;
            }
        }
    }
    (void)closedir(d);
    needles_free(&nd);
    return first;
}
